/* tsq-event-bus.h: publish/subscribe between the agent's parts (scheduler, scanner, change
 * detection, alerting, metrics). A GInterface so that an in-process bus (tsq-local-bus.h) and a
 * later Kafka bus are interchangeable. Payloads are JSON, documented in docs/events.md. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TSQ_TOPIC_SCAN_SCHEDULED "scan.scheduled"
#define TSQ_TOPIC_SCAN_COMPLETED "scan.completed"
#define TSQ_TOPIC_CHANGE_DETECTED "change.detected"
#define TSQ_TOPIC_ALERT_TRIGGERED "alert.triggered"
#define TSQ_TOPIC_METRICS_COLLECTED "metrics.collected"
/* Subscribe to every topic. */
#define TSQ_TOPIC_ALL "*"

/* payload is owned by the bus and shared between subscribers: do not modify it; ref it to keep
 * it. key is the partitioning key (the monitor id) and may be NULL. */
typedef void (*TsqEventHandler) (const char *topic,
                                 const char *key,
                                 JsonNode *payload,
                                 gpointer user_data);

#define TSQ_TYPE_EVENT_BUS (tsq_event_bus_get_type ())
G_DECLARE_INTERFACE (TsqEventBus, tsq_event_bus, TSQ, EVENT_BUS, GObject)

struct _TsqEventBusInterface
{
  GTypeInterface parent_iface;

  void (*publish) (TsqEventBus *bus, const char *topic, const char *key, JsonNode *payload);
  guint (*subscribe) (TsqEventBus *bus,
                      const char *topic,
                      TsqEventHandler handler,
                      gpointer user_data,
                      GDestroyNotify notify);
  void (*unsubscribe) (TsqEventBus *bus, guint id);

  gpointer padding[8];
};

/* Delivers asynchronously; events with the same key arrive in publishing order. The bus takes a
 * reference on payload (which may be NULL): the publisher must not modify it afterwards. */
void
tsq_event_bus_publish (TsqEventBus *bus, const char *topic, const char *key, JsonNode *payload);
/* topic: one topic or TSQ_TOPIC_ALL. Returns an id > 0 for unsubscribe(); notify(user_data)
 * runs when the subscription is removed (or the bus is finalized). */
guint tsq_event_bus_subscribe (TsqEventBus *bus,
                               const char *topic,
                               TsqEventHandler handler,
                               gpointer user_data,
                               GDestroyNotify notify);
/* Safe from inside a handler (also for the running handler's own subscription): the removed
 * subscription receives no further events, including those already queued. */
void tsq_event_bus_unsubscribe (TsqEventBus *bus, guint id);

G_END_DECLS
