/* tsq-agent.h: the monitoring loop: schedule -> rate limit -> scan -> detect -> store -> publish.
 */
#pragma once

#include <gio/gio.h>

#include "tsq-agent-config.h"
#include "tsq-event-bus.h"
#include "tsq-scanner.h"
#include "tsq-storage.h"

G_BEGIN_DECLS

#define TSQ_TYPE_AGENT (tsq_agent_get_type ())
G_DECLARE_FINAL_TYPE (TsqAgent, tsq_agent, TSQ, AGENT, GObject)

TsqAgent *
tsq_agent_new (TsqAgentConfig *config, TsqStorage *storage, TsqEventBus *bus, TsqScanner *scanner);
/* Marks scans left running by a crash as interrupted, loads the monitors and starts the loop on
 * the thread-default main context. */
gboolean tsq_agent_start (TsqAgent *self, GError **error);
/* Per-domain rate override (the demo's loopback pages, tests). */
void tsq_agent_set_domain_rate (TsqAgent *self, const char *domain, double rate, double burst);
/* Takes effect for scans that start after the call (SIGHUP). */
void tsq_agent_replace_scanner (TsqAgent *self,
                                TsqScanner *scanner,
                                const TsqChangeThresholds *thresholds);
/* Stops starting scans, lets in-flight scans finish for up to grace_ms, then cancels them (they
 * are stored as interrupted), flushes storage and emits "stopped". */
void tsq_agent_stop (TsqAgent *self, guint grace_ms);
guint tsq_agent_get_in_flight (TsqAgent *self);

/* Called synchronously with each scan.completed payload (monitor_id, scan_id, summary, changes)
 * after the scan's result, detector state and changes are written and before the storage batch
 * can commit: what the hook writes commits atomically with them (the alert service uses it, so a
 * crash can never keep a change and lose its alert). */
typedef void (*TsqAgentScanHook) (JsonObject *scan_completed, gpointer user_data);
void tsq_agent_set_scan_hook (TsqAgent *self, TsqAgentScanHook hook, gpointer user_data);

G_END_DECLS
