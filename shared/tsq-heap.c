/* tsq-heap.c: a binary min-heap of pointers with intrusive positions. */
#define G_LOG_DOMAIN "tsq-heap"

#include "tsq-heap.h"

struct _TsqHeap
{
  GPtrArray *items;
  TsqHeapLessFunc less;
  gsize index_offset;
};

#define INDEX(heap, item) G_STRUCT_MEMBER (guint, (item), (heap)->index_offset)

TsqHeap *
tsq_heap_new (TsqHeapLessFunc less, gsize index_offset)
{
  TsqHeap *heap = g_new0 (TsqHeap, 1);

  heap->items = g_ptr_array_new ();
  heap->less = less;
  heap->index_offset = index_offset;
  return heap;
}

void
tsq_heap_free (TsqHeap *heap)
{
  if (heap == NULL)
    return;
  for (guint i = 0; i < heap->items->len; i++)
    INDEX (heap, heap->items->pdata[i]) = TSQ_HEAP_NOT_IN;
  g_ptr_array_unref (heap->items);
  g_free (heap);
}

guint
tsq_heap_get_size (TsqHeap *heap)
{
  return heap->items->len;
}

gpointer
tsq_heap_peek (TsqHeap *heap)
{
  return heap->items->len ? heap->items->pdata[0] : NULL;
}

static void
swap (TsqHeap *heap, guint i, guint j)
{
  gpointer a = heap->items->pdata[i];
  gpointer b = heap->items->pdata[j];

  heap->items->pdata[i] = b;
  heap->items->pdata[j] = a;
  INDEX (heap, b) = i;
  INDEX (heap, a) = j;
}

static void
sift_up (TsqHeap *heap, guint i)
{
  gpointer *p = heap->items->pdata;

  while (i > 0 && heap->less (p[i], p[(i - 1) / 2]))
    {
      swap (heap, i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
}

static void
sift_down (TsqHeap *heap, guint i)
{
  gpointer *p = heap->items->pdata;
  guint len = heap->items->len;

  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;

      if (l < len && heap->less (p[l], p[m]))
        m = l;
      if (r < len && heap->less (p[r], p[m]))
        m = r;
      if (m == i)
        return;
      swap (heap, i, m);
      i = m;
    }
}

void
tsq_heap_push (TsqHeap *heap, gpointer item)
{
  g_return_if_fail (!tsq_heap_contains (heap, item));

  INDEX (heap, item) = heap->items->len;
  g_ptr_array_add (heap->items, item);
  sift_up (heap, heap->items->len - 1);
}

gboolean
tsq_heap_contains (TsqHeap *heap, gpointer item)
{
  guint i = INDEX (heap, item);

  return i < heap->items->len && heap->items->pdata[i] == item;
}

void
tsq_heap_remove (TsqHeap *heap, gpointer item)
{
  guint i, last;

  if (!tsq_heap_contains (heap, item))
    return;
  i = INDEX (heap, item);
  last = heap->items->len - 1;
  if (i != last)
    swap (heap, i, last);
  g_ptr_array_set_size (heap->items, last);
  INDEX (heap, item) = TSQ_HEAP_NOT_IN;
  if (i < heap->items->len)
    {
      sift_up (heap, i);
      sift_down (heap, i);
    }
}
