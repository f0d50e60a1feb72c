/* tsq-local-bus.c: the in-process event bus.
 *
 * One FIFO queue drained by one idle source on the bus's main context: a single queue keeps
 * every key's events in order without per-key bookkeeping. Subscriptions are refcounted so a
 * handler may unsubscribe itself (or others) while being dispatched: the dispatcher holds a
 * reference and checks the active flag before each call; the subscription's notify runs once the
 * last reference is gone, i.e. after the running handler returns.
 */
#define G_LOG_DOMAIN "tsq-local-bus"

#include "tsq-local-bus.h"

typedef struct
{
  gatomicrefcount ref;
  guint id;
  char *topic;
  TsqEventHandler handler;
  gpointer user_data;
  GDestroyNotify notify;
  gboolean active; /* guarded by the bus lock */
} Subscription;

typedef struct
{
  char *topic;
  char *key;
  JsonNode *payload;
} Event;

struct _TsqLocalBus
{
  GObject parent_instance;

  GMutex lock;
  GMainContext *context;
  GPtrArray *subscriptions; /* Subscription*, owning */
  GQueue events;            /* Event* */
  GSource *idle;            /* set while events are queued */
  guint next_id;
};

static void tsq_local_bus_iface_init (TsqEventBusInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TsqLocalBus,
                               tsq_local_bus,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TSQ_TYPE_EVENT_BUS, tsq_local_bus_iface_init))

static Subscription *
subscription_ref (Subscription *sub)
{
  g_atomic_ref_count_inc (&sub->ref);
  return sub;
}

static void
subscription_unref (Subscription *sub)
{
  if (!g_atomic_ref_count_dec (&sub->ref))
    return;
  if (sub->notify != NULL)
    sub->notify (sub->user_data);
  g_free (sub->topic);
  g_free (sub);
}

static void
event_free (Event *event)
{
  g_free (event->topic);
  g_free (event->key);
  if (event->payload != NULL)
    json_node_unref (event->payload);
  g_free (event);
}

static gboolean
topic_matches (const char *pattern, const char *topic)
{
  return g_str_equal (pattern, TSQ_TOPIC_ALL) || g_str_equal (pattern, topic);
}

static void
deliver (TsqLocalBus *self, Event *event)
{
  g_autoptr (GPtrArray) targets
    = g_ptr_array_new_with_free_func ((GDestroyNotify)subscription_unref);
  guint i;

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->subscriptions->len; i++)
    {
      Subscription *sub = g_ptr_array_index (self->subscriptions, i);

      if (topic_matches (sub->topic, event->topic))
        g_ptr_array_add (targets, subscription_ref (sub));
    }
  g_mutex_unlock (&self->lock);

  for (i = 0; i < targets->len; i++)
    {
      Subscription *sub = g_ptr_array_index (targets, i);
      gboolean active;

      g_mutex_lock (&self->lock);
      active = sub->active;
      g_mutex_unlock (&self->lock);
      if (active)
        sub->handler (event->topic, event->key, event->payload, sub->user_data);
    }
}

static gboolean
dispatch_cb (gpointer user_data)
{
  TsqLocalBus *self = g_object_ref (TSQ_LOCAL_BUS (user_data));
  GQueue batch = G_QUEUE_INIT;
  Event *event;
  gboolean again;

  /* Only the events queued so far: events published by handlers wait for the next round, so a
   * handler that keeps publishing cannot starve the main loop. */
  g_mutex_lock (&self->lock);
  batch = self->events;
  g_queue_init (&self->events);
  g_mutex_unlock (&self->lock);

  while ((event = g_queue_pop_head (&batch)) != NULL)
    {
      deliver (self, event);
      event_free (event);
    }

  g_mutex_lock (&self->lock);
  again = !g_queue_is_empty (&self->events);
  if (!again)
    g_clear_pointer (&self->idle, g_source_unref);
  g_mutex_unlock (&self->lock);

  g_object_unref (self);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
tsq_local_bus_publish (TsqEventBus *bus, const char *topic, const char *key, JsonNode *payload)
{
  TsqLocalBus *self = TSQ_LOCAL_BUS (bus);
  Event *event = g_new0 (Event, 1);

  event->topic = g_strdup (topic);
  event->key = g_strdup (key);
  event->payload = payload != NULL ? json_node_ref (payload) : NULL;

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->events, event);
  if (self->idle == NULL)
    {
      self->idle = g_idle_source_new ();
      g_source_set_priority (self->idle, G_PRIORITY_DEFAULT);
      g_source_set_name (self->idle, "[tsq] local bus dispatch");
      g_source_set_callback (self->idle, dispatch_cb, self, NULL);
      g_source_attach (self->idle, self->context);
    }
  g_mutex_unlock (&self->lock);
}

static guint
tsq_local_bus_subscribe (TsqEventBus *bus,
                         const char *topic,
                         TsqEventHandler handler,
                         gpointer user_data,
                         GDestroyNotify notify)
{
  TsqLocalBus *self = TSQ_LOCAL_BUS (bus);
  Subscription *sub = g_new0 (Subscription, 1);
  guint id;

  g_atomic_ref_count_init (&sub->ref);
  sub->topic = g_strdup (topic);
  sub->handler = handler;
  sub->user_data = user_data;
  sub->notify = notify;
  sub->active = TRUE;

  g_mutex_lock (&self->lock);
  id = sub->id = ++self->next_id;
  g_ptr_array_add (self->subscriptions, sub);
  g_mutex_unlock (&self->lock);
  return id;
}

static void
tsq_local_bus_unsubscribe (TsqEventBus *bus, guint id)
{
  TsqLocalBus *self = TSQ_LOCAL_BUS (bus);
  Subscription *removed = NULL;
  guint i;

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->subscriptions->len; i++)
    {
      Subscription *sub = g_ptr_array_index (self->subscriptions, i);

      if (sub->id == id)
        {
          sub->active = FALSE;
          removed = g_ptr_array_steal_index (self->subscriptions, i);
          break;
        }
    }
  g_mutex_unlock (&self->lock);

  /* Outside the lock: notify may call back into the bus. */
  if (removed != NULL)
    subscription_unref (removed);
  else
    g_debug ("unsubscribe: no subscription %u", id);
}

guint
tsq_local_bus_get_queued (TsqLocalBus *self)
{
  guint n;

  g_return_val_if_fail (TSQ_IS_LOCAL_BUS (self), 0);

  g_mutex_lock (&self->lock);
  n = g_queue_get_length (&self->events);
  g_mutex_unlock (&self->lock);
  return n;
}

static void
tsq_local_bus_dispose (GObject *object)
{
  TsqLocalBus *self = TSQ_LOCAL_BUS (object);
  g_autoptr (GPtrArray) subscriptions = NULL;
  GQueue events = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  if (self->idle != NULL)
    {
      g_source_destroy (self->idle);
      g_clear_pointer (&self->idle, g_source_unref);
    }
  events = self->events;
  g_queue_init (&self->events);
  subscriptions = g_steal_pointer (&self->subscriptions);
  self->subscriptions = g_ptr_array_new_with_free_func ((GDestroyNotify)subscription_unref);
  g_mutex_unlock (&self->lock);

  g_queue_clear_full (&events, (GDestroyNotify)event_free);
  if (subscriptions != NULL)
    {
      guint i;

      for (i = 0; i < subscriptions->len; i++)
        ((Subscription *)g_ptr_array_index (subscriptions, i))->active = FALSE;
    }
  /* subscriptions (and their notifies) go when the autoptr releases it. */
  G_OBJECT_CLASS (tsq_local_bus_parent_class)->dispose (object);
}

static void
tsq_local_bus_finalize (GObject *object)
{
  TsqLocalBus *self = TSQ_LOCAL_BUS (object);

  g_clear_pointer (&self->subscriptions, g_ptr_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (tsq_local_bus_parent_class)->finalize (object);
}

static void
tsq_local_bus_class_init (TsqLocalBusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tsq_local_bus_dispose;
  object_class->finalize = tsq_local_bus_finalize;
}

static void
tsq_local_bus_init (TsqLocalBus *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->subscriptions = g_ptr_array_new_with_free_func ((GDestroyNotify)subscription_unref);
}

static void
tsq_local_bus_iface_init (TsqEventBusInterface *iface)
{
  iface->publish = tsq_local_bus_publish;
  iface->subscribe = tsq_local_bus_subscribe;
  iface->unsubscribe = tsq_local_bus_unsubscribe;
}

TsqEventBus *
tsq_local_bus_new (void)
{
  return g_object_new (TSQ_TYPE_LOCAL_BUS, NULL);
}
