/* tsq-alert-service.h: the alert engine wired into the running agent.
 *
 * Subscribes to `scan.completed` (which carries the scan's changes), feeds the pure
 * TsqAlertEngine, persists every resulting action in ONE atomic storage group together with the
 * outbox rows of its notifications (rendered with the template set, one row per channel; the row
 * id is the idempotency id), and delivers due outbox rows through the channels' notifiers with
 * retries (tsq-backoff) and dead letters. Acks, resolutions and silences written by the CLI are
 * picked up by polling storage. docs/alerts.md, "Running alerts in the agent".
 *
 * Engine alert ids (UUID strings) and storage alert ids (integers) are mapped through the
 * stored snapshot: the row's payload is the engine's snapshot, whose "id" is the engine id.
 *
 * Main-thread only.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tsq-agent-config.h"
#include "tsq-agent.h"
#include "tsq-event-bus.h"
#include "tsq-notifier.h"
#include "tsq-storage.h"
#include "tsq-template.h"

G_BEGIN_DECLS

#define TSQ_ALERT_SERVICE_ERROR (tsq_alert_service_error_quark ())
GQuark tsq_alert_service_error_quark (void);

typedef enum
{
  TSQ_ALERT_SERVICE_ERROR_INVALID, /* bad [alerts] / [escalation NAME] / [channel NAME] */
} TsqAlertServiceError;

/* TRUE for the config groups the alert service owns: "alerts", "channel NAME",
 * "escalation NAME". */
gboolean tsq_alert_service_is_config_group (const char *group);
/* Validates those groups (rules, policies, channels, templates); the message names group and
 * key. A key file without them is valid. */
gboolean tsq_alert_service_check_config (GKeyFile *keyfile, GError **error);

#define TSQ_TYPE_ALERT_SERVICE (tsq_alert_service_get_type ())
G_DECLARE_FINAL_TYPE (TsqAlertService, tsq_alert_service, TSQ, ALERT_SERVICE, GObject)

/* config->keyfile may be NULL (defaults: no channels, so nothing is delivered). */
TsqAlertService *tsq_alert_service_new (TsqAgentConfig *config,
                                        TsqStorage *storage,
                                        TsqEventBus *bus,
                                        GError **error);
/* Reloads open alerts and silences from storage into the engine, subscribes to the bus and
 * starts the timers (engine ticks, outbox sender, CLI poll) on the thread-default context. */
gboolean tsq_alert_service_start (TsqAlertService *self, GError **error);
/* After start: take scans from the agent synchronously (tsq_agent_set_scan_hook) rather than from
 * the bus, so that alerts and outbox rows commit with the changes that caused them. */
void tsq_alert_service_attach_agent (TsqAlertService *self, TsqAgent *agent);
/* SIGHUP: applies the [alerts], [channel NAME] and [escalation NAME] groups of config to the
 * running service (rules, policies, channels, templates, timings, retries). The engine's state
 * (open alerts, silences, maintenance windows, timers) carries over. On any error (bad config, a
 * policy an open escalation still needs) nothing changes and FALSE is returned. `enabled` only
 * takes effect on the next start. */
gboolean tsq_alert_service_reload (TsqAlertService *self, TsqAgentConfig *config, GError **error);
/* Unsubscribes, stops the timers and cancels deliveries in flight (their rows stay "sending"
 * and are claimed again after the lease). */
void tsq_alert_service_stop (TsqAlertService *self);

/* ---- helpers shared with the CLI ---- */

/* The template channel of a notifier kind: webhook -> webhook, slack -> slack, twilio -> sms,
 * email -> email. */
const char *tsq_alert_template_channel (const char *notifier_kind);
/* Renders one notification for a channel: the outbox payload {subject, body, html, json}. */
JsonObject *tsq_alert_render_payload (const TsqTemplateSet *templates,
                                      const char *notifier_kind,
                                      const char *type,
                                      JsonObject *context);
/* The TsqNotification of an outbox row (payload as rendered, id = the row id). */
TsqNotification *tsq_alert_notification_from_row (JsonObject *row);
/* Loads the template set: data/templates, overridden by [alerts] templates= when set. */
TsqTemplateSet *tsq_alert_load_templates (GKeyFile *keyfile, GError **error);

G_END_DECLS
