/* tsq-event-bus.c: the event bus interface's dispatch wrappers. */
#define G_LOG_DOMAIN "tsq-event-bus"

#include "tsq-event-bus.h"

G_DEFINE_INTERFACE (TsqEventBus, tsq_event_bus, G_TYPE_OBJECT)

static void
tsq_event_bus_default_init (TsqEventBusInterface *iface)
{
}

void
tsq_event_bus_publish (TsqEventBus *bus, const char *topic, const char *key, JsonNode *payload)
{
  g_return_if_fail (TSQ_IS_EVENT_BUS (bus));
  g_return_if_fail (topic != NULL && *topic != '\0');
  g_return_if_fail (!g_str_equal (topic, TSQ_TOPIC_ALL));

  TSQ_EVENT_BUS_GET_IFACE (bus)->publish (bus, topic, key, payload);
}

guint
tsq_event_bus_subscribe (TsqEventBus *bus,
                         const char *topic,
                         TsqEventHandler handler,
                         gpointer user_data,
                         GDestroyNotify notify)
{
  g_return_val_if_fail (TSQ_IS_EVENT_BUS (bus), 0);
  g_return_val_if_fail (topic != NULL && *topic != '\0', 0);
  g_return_val_if_fail (handler != NULL, 0);

  return TSQ_EVENT_BUS_GET_IFACE (bus)->subscribe (bus, topic, handler, user_data, notify);
}

void
tsq_event_bus_unsubscribe (TsqEventBus *bus, guint id)
{
  g_return_if_fail (TSQ_IS_EVENT_BUS (bus));

  if (id == 0)
    return;
  TSQ_EVENT_BUS_GET_IFACE (bus)->unsubscribe (bus, id);
}
