/* heap-test.c: the intrusive min-heap against a sorted reference, with removals. */
#include "tsq-heap.h"

typedef struct
{
  int key;
  guint index;
} Item;

static gboolean
item_less (gconstpointer a, gconstpointer b)
{
  return ((const Item *)a)->key < ((const Item *)b)->key;
}

static void
test_order_and_removal (void)
{
  g_autoptr (TsqHeap) heap = tsq_heap_new (item_less, G_STRUCT_OFFSET (Item, index));
  Item items[1000];
  GRand *rand = g_rand_new_with_seed (42);
  int last = G_MININT;
  guint removed = 0;

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    {
      items[i].key = g_rand_int_range (rand, 0, 500);
      items[i].index = TSQ_HEAP_NOT_IN;
      tsq_heap_push (heap, &items[i]);
    }
  g_assert_cmpuint (tsq_heap_get_size (heap), ==, 1000);
  /* Remove every third item from anywhere in the heap; removing twice is harmless. */
  for (guint i = 0; i < G_N_ELEMENTS (items); i += 3)
    {
      tsq_heap_remove (heap, &items[i]);
      tsq_heap_remove (heap, &items[i]);
      g_assert_false (tsq_heap_contains (heap, &items[i]));
      removed++;
    }
  g_assert_cmpuint (tsq_heap_get_size (heap), ==, 1000 - removed);
  while (tsq_heap_get_size (heap) > 0)
    {
      Item *top = tsq_heap_peek (heap);

      g_assert_cmpint (top->key, >=, last);
      last = top->key;
      tsq_heap_remove (heap, top);
    }
  g_assert_null (tsq_heap_peek (heap));
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/heap/order-and-removal", test_order_and_removal);
  return g_test_run ();
}
