/* tsq-local-bus.h: the in-process TsqEventBus. */
#pragma once

#include "tsq-event-bus.h"

G_BEGIN_DECLS

#define TSQ_TYPE_LOCAL_BUS (tsq_local_bus_get_type ())
G_DECLARE_FINAL_TYPE (TsqLocalBus, tsq_local_bus, TSQ, LOCAL_BUS, GObject)

/* Handlers run on the thread-default main context of the thread that creates the bus, one event
 * at a time, in publishing order (globally, hence also per key). publish(), subscribe() and
 * unsubscribe() are thread-safe. Events still queued when the bus is finalized are dropped. */
TsqEventBus *tsq_local_bus_new (void);
/* Events published but not yet delivered. */
guint tsq_local_bus_get_queued (TsqLocalBus *self);

G_END_DECLS
