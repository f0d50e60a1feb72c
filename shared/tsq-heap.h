/* tsq-heap.h: a binary min-heap of pointers that know their own position (intrusive index), so
 * that any item can be removed or re-keyed in O(log n). The scheduler orders monitors by fire
 * time with it, the rate limiter domains by the time their next token is ready. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_HEAP_NOT_IN G_MAXUINT

/* TRUE when a must come out before b. */
typedef gboolean (*TsqHeapLessFunc) (gconstpointer a, gconstpointer b);

typedef struct _TsqHeap TsqHeap;

/* index_offset: G_STRUCT_OFFSET of a guint member of the items where the heap keeps their
 * position (TSQ_HEAP_NOT_IN when out of the heap; initialise it so). */
TsqHeap *tsq_heap_new (TsqHeapLessFunc less, gsize index_offset);
void tsq_heap_free (TsqHeap *heap);
guint tsq_heap_get_size (TsqHeap *heap);
/* The first item, NULL when empty. */
gpointer tsq_heap_peek (TsqHeap *heap);
void tsq_heap_push (TsqHeap *heap, gpointer item);
/* Does nothing for an item that is not in this heap. */
void tsq_heap_remove (TsqHeap *heap, gpointer item);
gboolean tsq_heap_contains (TsqHeap *heap, gpointer item);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqHeap, tsq_heap_free)

G_END_DECLS
