/* event-bus-test.c: the in-process event bus. */
#include "tsq-json-util.h"
#include "tsq-local-bus.h"

typedef struct
{
  GPtrArray *log; /* "handler:topic:key:payload" */
  const char *name;
  TsqEventBus *bus;
  guint self_id;
  guint other_id;
  guint calls;
  gboolean freed;
} Recorder;

static void
record (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  Recorder *r = user_data;
  g_autofree char *text = payload ? tsq_json_to_string (payload, FALSE) : g_strdup ("NULL");

  r->calls++;
  g_ptr_array_add (r->log, g_strdup_printf ("%s:%s:%s:%s", r->name, topic, key ? key : "-", text));
}

static void
drain (TsqEventBus *bus)
{
  while (tsq_local_bus_get_queued (TSQ_LOCAL_BUS (bus)) > 0)
    g_main_context_iteration (NULL, TRUE);
  /* deliveries scheduled by handlers */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static JsonNode *
int_payload (gint64 value)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_int (node, value);
  return node;
}

static char *
join_log (GPtrArray *log)
{
  g_ptr_array_add (log, NULL);
  g_ptr_array_set_size (log, log->len - 1);
  return g_strjoinv ("|", (char **)log->pdata);
}

static void
publish_int (TsqEventBus *bus, const char *topic, const char *key, gint64 value)
{
  g_autoptr (JsonNode) payload = int_payload (value);

  tsq_event_bus_publish (bus, topic, key, payload);
}

static void
test_async_and_ordered (void)
{
  g_autoptr (TsqEventBus) bus = tsq_local_bus_new ();
  g_autoptr (GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  Recorder r = { log, "r" };
  g_autofree char *joined = NULL;
  guint i;

  g_assert_true (TSQ_IS_EVENT_BUS (bus));
  g_assert_cmpuint (tsq_event_bus_subscribe (bus, TSQ_TOPIC_SCAN_COMPLETED, record, &r, NULL), >,
                    0);
  for (i = 0; i < 5; i++)
    publish_int (bus, TSQ_TOPIC_SCAN_COMPLETED, i % 2 ? "m1" : "m2", i);
  /* asynchronous: nothing delivered before the main context runs */
  g_assert_cmpuint (r.calls, ==, 0);
  g_assert_cmpuint (tsq_local_bus_get_queued (TSQ_LOCAL_BUS (bus)), ==, 5);
  drain (bus);
  joined = join_log (log);
  g_assert_cmpstr (joined, ==,
                   "r:scan.completed:m2:0|r:scan.completed:m1:1|r:scan.completed:m2:2|"
                   "r:scan.completed:m1:3|r:scan.completed:m2:4");
}

static void
test_topics_and_wildcard (void)
{
  g_autoptr (TsqEventBus) bus = tsq_local_bus_new ();
  g_autoptr (GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  Recorder a = { log, "a" }, b = { log, "b" }, all = { log, "all" };
  g_autofree char *joined = NULL;

  tsq_event_bus_subscribe (bus, TSQ_TOPIC_CHANGE_DETECTED, record, &a, NULL);
  tsq_event_bus_subscribe (bus, TSQ_TOPIC_CHANGE_DETECTED, record, &b, NULL);
  tsq_event_bus_subscribe (bus, TSQ_TOPIC_ALL, record, &all, NULL);
  publish_int (bus, TSQ_TOPIC_CHANGE_DETECTED, "m", 1);
  publish_int (bus, TSQ_TOPIC_METRICS_COLLECTED, NULL, 2);
  tsq_event_bus_publish (bus, TSQ_TOPIC_SCAN_SCHEDULED, "m", NULL);
  drain (bus);
  joined = join_log (log);
  g_assert_cmpstr (joined, ==,
                   "a:change.detected:m:1|b:change.detected:m:1|all:change.detected:m:1|"
                   "all:metrics.collected:-:2|all:scan.scheduled:m:NULL");
}

static void
unsubscribe_self (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  Recorder *r = user_data;

  record (topic, key, payload, user_data);
  tsq_event_bus_unsubscribe (r->bus, r->self_id);
  /* the recorder is still alive: notify runs after this handler returns */
  g_assert_false (r->freed);
  if (r->other_id != 0)
    {
      tsq_event_bus_unsubscribe (r->bus, r->other_id);
      r->other_id = 0;
    }
}

static void
mark_freed (gpointer data)
{
  ((Recorder *)data)->freed = TRUE;
}

static void
test_unsubscribe_during_dispatch (void)
{
  g_autoptr (TsqEventBus) bus = tsq_local_bus_new ();
  g_autoptr (GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  Recorder first = { log, "first" }, second = { log, "second" }, third = { log, "third" };
  g_autofree char *joined = NULL;

  first.bus = bus;
  first.self_id = tsq_event_bus_subscribe (bus, "t", unsubscribe_self, &first, mark_freed);
  second.other_id = 0;
  second.self_id = tsq_event_bus_subscribe (bus, "t", record, &second, mark_freed);
  third.self_id = tsq_event_bus_subscribe (bus, "t", record, &third, mark_freed);
  /* first removes itself and the second subscription while the first event is dispatched */
  first.other_id = second.self_id;

  publish_int (bus, "t", "k", 1);
  publish_int (bus, "t", "k", 2);
  drain (bus);
  joined = join_log (log);
  /* second never runs: it was removed before its turn on event 1, and event 2 was queued */
  g_assert_cmpstr (joined, ==, "first:t:k:1|third:t:k:1|third:t:k:2");
  g_assert_true (first.freed);
  g_assert_true (second.freed);
  g_assert_false (third.freed);

  /* unknown and zero ids are ignored */
  tsq_event_bus_unsubscribe (bus, 9999);
  tsq_event_bus_unsubscribe (bus, 0);
  tsq_event_bus_unsubscribe (bus, third.self_id);
  g_assert_true (third.freed);
  publish_int (bus, "t", "k", 3);
  drain (bus);
  g_assert_cmpuint (third.calls, ==, 2);
}

static void
republish (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  Recorder *r = user_data;
  gint64 value = json_node_get_int (payload);

  record (topic, key, payload, user_data);
  if (value < 3)
    publish_int (r->bus, topic, key, value + 1);
}

static void
test_publish_from_handler (void)
{
  g_autoptr (TsqEventBus) bus = tsq_local_bus_new ();
  g_autoptr (GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  Recorder r = { log, "r" };
  g_autofree char *joined = NULL;

  r.bus = bus;
  tsq_event_bus_subscribe (bus, "chain", republish, &r, NULL);
  publish_int (bus, "chain", "a", 0);
  publish_int (bus, "chain", "b", 10);
  drain (bus);
  joined = join_log (log);
  /* republished events go behind what was already queued */
  g_assert_cmpstr (joined, ==, "r:chain:a:0|r:chain:b:10|r:chain:a:1|r:chain:a:2|r:chain:a:3");
}

static void
test_dispose_drops_queue (void)
{
  TsqEventBus *bus = tsq_local_bus_new ();
  g_autoptr (GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  Recorder r = { log, "r" };

  tsq_event_bus_subscribe (bus, "t", record, &r, mark_freed);
  publish_int (bus, "t", "k", 1);
  g_object_unref (bus);
  g_assert_true (r.freed);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (r.calls, ==, 0);
}

typedef struct
{
  TsqEventBus *bus;
  guint base;
} Publisher;

static gpointer
publisher_thread (gpointer data)
{
  Publisher *p = data;
  g_autofree char *key = g_strdup_printf ("k%u", p->base);
  guint i;

  for (i = 0; i < 200; i++)
    publish_int (p->bus, "t", key, p->base + i);
  return NULL;
}

static void
check_per_key_order (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  GHashTable *last = user_data;
  gint64 value = json_node_get_int (payload);
  gpointer prev;

  if (g_hash_table_lookup_extended (last, key, NULL, &prev))
    g_assert_cmpint (value, ==, GPOINTER_TO_SIZE (prev) + 1);
  g_hash_table_insert (last, g_strdup (key), GSIZE_TO_POINTER ((gsize)value));
}

static void
test_threads (void)
{
  g_autoptr (TsqEventBus) bus = tsq_local_bus_new ();
  g_autoptr (GHashTable) last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Publisher p1 = { bus, 1000 }, p2 = { bus, 5000 };
  GThread *t1, *t2;

  tsq_event_bus_subscribe (bus, TSQ_TOPIC_ALL, check_per_key_order, last, NULL);
  t1 = g_thread_new ("pub1", publisher_thread, &p1);
  t2 = g_thread_new ("pub2", publisher_thread, &p2);
  g_thread_join (t1);
  g_thread_join (t2);
  drain (bus);
  g_assert_cmpuint (g_hash_table_size (last), ==, 2);
  g_assert_cmpuint (GPOINTER_TO_SIZE (g_hash_table_lookup (last, "k1000")), ==, 1199);
  g_assert_cmpuint (GPOINTER_TO_SIZE (g_hash_table_lookup (last, "k5000")), ==, 5199);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/event-bus/async-and-ordered", test_async_and_ordered);
  g_test_add_func ("/tsq/event-bus/topics-and-wildcard", test_topics_and_wildcard);
  g_test_add_func ("/tsq/event-bus/unsubscribe-during-dispatch", test_unsubscribe_during_dispatch);
  g_test_add_func ("/tsq/event-bus/publish-from-handler", test_publish_from_handler);
  g_test_add_func ("/tsq/event-bus/dispose-drops-queue", test_dispose_drops_queue);
  g_test_add_func ("/tsq/event-bus/threads", test_threads);
  return g_test_run ();
}
