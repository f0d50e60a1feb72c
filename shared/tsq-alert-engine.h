/* tsq-alert-engine.h: turns changes into alerts and decides who is told what, when.
 *
 * Pure decision logic: no I/O, no storage, no network, no clock of its own. Every call takes
 * the current time (unix µs) and returns ACTIONS (JSON objects) for the caller to persist and
 * execute; the caller calls tsq_alert_engine_tick() regularly (every second is plenty) for the
 * timed ones. All timers derive from timestamps stored in the alerts (triggered_at,
 * last_notified_at, escalated_at, ...), so an engine rebuilt from stored alert rows
 * (tsq_alert_engine_load_alert) continues where the old one stopped. docs/alerts.md describes
 * the model (lifecycle, dedupe, grouping, silences, maintenance, flapping, inhibition,
 * escalation) and every action.
 *
 * Not thread-safe: use an engine from one thread (or guard it).
 */
#pragma once

#include <json-glib/json-glib.h>

#include "tsq-alert-rule.h"
#include "tsq-monitor.h"

G_BEGIN_DECLS

#define TSQ_ALERT_ENGINE_ERROR (tsq_alert_engine_error_quark ())

typedef enum
{
  TSQ_ALERT_ENGINE_ERROR_INVALID,   /* bad change, silence, window, policy or alert row */
  TSQ_ALERT_ENGINE_ERROR_NOT_FOUND, /* no open alert / silence / window with that id */
  TSQ_ALERT_ENGINE_ERROR_STATE,     /* e.g. acknowledging an acknowledged alert */
} TsqAlertEngineError;

GQuark tsq_alert_engine_error_quark (void);

typedef struct
{
  gint64 group_wait_us;      /* 30 s: how long a new group collects alerts */
  gint64 group_interval_us;  /* 5 min: minimum time between two notifications of a group */
  gint64 repeat_interval_us; /* 4 h: re-notification of a still-open, unacknowledged alert */
  guint flap_scans;          /* 3: a change reverting within this many scans is flapping */
  TsqAlertGroupBy group_by;  /* TSQ_ALERT_GROUP_BY_MONITOR */
  gboolean default_rules;    /* TRUE: the default rules follow the monitor and global rules */
} TsqAlertEngineConfig;

void tsq_alert_engine_config_init (TsqAlertEngineConfig *config);

typedef struct _TsqAlertEngine TsqAlertEngine;

/* Returns a new unique alert id (g_free'd by the engine). Default: a random UUID. */
typedef char *(*TsqAlertIdFunc) (gpointer user_data);

TsqAlertEngine *tsq_alert_engine_new (const TsqAlertEngineConfig *config /* NULL = defaults */);
void tsq_alert_engine_free (TsqAlertEngine *engine);
void tsq_alert_engine_set_id_func (TsqAlertEngine *engine, TsqAlertIdFunc func, gpointer user_data);

/* Global rules (config), consulted after a monitor's own rules. rules: TsqAlertRule*s. */
void tsq_alert_engine_set_global_rules (TsqAlertEngine *engine, GPtrArray *rules);
/* Adds or replaces (by name). */
void tsq_alert_engine_add_escalation_policy (TsqAlertEngine *engine,
                                             TsqAlertEscalationPolicy *policy);
/* INVALID naming the rule if a rule refers to an escalation policy the engine does not know. */
gboolean tsq_alert_engine_check_rules (TsqAlertEngine *engine,
                                       GPtrArray *rules,
                                       const char *path,
                                       GError **error);

/* ---- changes ----
 * Both return a new array of action JsonObjects (json_object_unref), possibly empty, or NULL
 * with an error for an invalid change (no string "type"). A monitor whose alert_rules do not
 * parse is handled with the global and default rules only (and logged). */

/* One completed scan of the monitor with its changes (changes may be NULL or empty): counts
 * the scan (flapping is measured in scans), then processes every change in order. Call it
 * after every scan, also those without changes. */
GPtrArray *tsq_alert_engine_process_scan (
  TsqAlertEngine *engine, TsqMonitor *monitor, JsonArray *changes, gint64 now_us, GError **error);
/* One change, as part of the monitor's current scan (does not count a scan). */
GPtrArray *tsq_alert_engine_process_change (
  TsqAlertEngine *engine, TsqMonitor *monitor, JsonObject *change, gint64 now_us, GError **error);
/* Due actions: group flushes, released suppressions, escalation steps, reminders. Never NULL. */
GPtrArray *tsq_alert_engine_tick (TsqAlertEngine *engine, gint64 now_us);
/* The earliest time tick() has something to do (G_MAXINT64 if nothing is scheduled; alerts
 * waiting for a silence or window to end are re-checked on every tick and not counted). */
gint64 tsq_alert_engine_next_due (TsqAlertEngine *engine);

/* ---- lifecycle ---- */
GPtrArray *tsq_alert_engine_ack (
  TsqAlertEngine *engine, const char *alert_id, const char *who, gint64 now_us, GError **error);
GPtrArray *tsq_alert_engine_resolve (
  TsqAlertEngine *engine, const char *alert_id, const char *who, gint64 now_us, GError **error);

/* Open (triggered or acknowledged) alerts, oldest first, as snapshots (the form of "alert" in
 * actions and of tsq_alert_engine_load_alert). */
GPtrArray *tsq_alert_engine_list_alerts (TsqAlertEngine *engine);
JsonObject *tsq_alert_engine_get_alert (TsqAlertEngine *engine, const char *alert_id);

/* Rebuilds one open alert at startup from its snapshot, or from a monitoring_alerts row
 * {id, monitor_id, rule_id, severity, state, triggered_at, acknowledged_at, resolved_at,
 * payload: snapshot} (times as unix µs or ISO 8601). Resolved alerts are ignored (TRUE). */
gboolean tsq_alert_engine_load_alert (TsqAlertEngine *engine, JsonObject *alert, GError **error);

/* The whole in-memory state (alerts, silences, windows, group timers, scan counters, flap
 * memory) and back; restore() adds to the current state. */
JsonNode *tsq_alert_engine_save (TsqAlertEngine *engine);
gboolean tsq_alert_engine_restore (TsqAlertEngine *engine, JsonNode *state, GError **error);

/* ---- silences ----
 * {"id": "s1" (generated when absent), "matchers": {"monitor_id", "monitor_name", "rule",
 *  "type" (glob), "subject_regex", "severity"}, "starts_at", "ends_at" (unix µs or ISO 8601),
 *  "created_by", "comment"}. At least one matcher; ends_at > starts_at. */
typedef struct _TsqAlertSilence TsqAlertSilence;

TsqAlertSilence *tsq_alert_silence_from_json (JsonObject *obj, GError **error);
JsonObject *tsq_alert_silence_to_json (TsqAlertSilence *silence);
void tsq_alert_silence_free (TsqAlertSilence *silence);
const char *tsq_alert_silence_get_id (TsqAlertSilence *silence);
gboolean tsq_alert_silence_is_active (TsqAlertSilence *silence, gint64 now_us);
/* Does the silence's matcher set match this alert snapshot (ignoring time)? */
gboolean tsq_alert_silence_matches (TsqAlertSilence *silence, JsonObject *alert);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqAlertSilence, tsq_alert_silence_free)

/* Takes ownership; replaces a silence with the same id. Returns the silence's id. */
const char *tsq_alert_engine_add_silence (TsqAlertEngine *engine, TsqAlertSilence *silence);
/* JsonObjects, ordered by starts_at then id; expired ones only with include_expired. */
GPtrArray *
tsq_alert_engine_list_silences (TsqAlertEngine *engine, gboolean include_expired, gint64 now_us);
/* Ends the silence now (ends_at = now_us); NOT_FOUND if unknown, STATE if already expired. */
gboolean tsq_alert_engine_expire_silence (TsqAlertEngine *engine,
                                          const char *silence_id,
                                          gint64 now_us,
                                          GError **error);

/* ---- maintenance windows (per monitor) ----
 * {"id", "monitor_id", "cron": "0 2 * * SUN", "duration_s": 7200, "timezone": "Europe/Berlin"}
 * or {"id", "monitor_id", "starts_at", "ends_at"}: [start, end). */
typedef struct _TsqAlertMaintenance TsqAlertMaintenance;

TsqAlertMaintenance *tsq_alert_maintenance_from_json (JsonObject *obj, GError **error);
JsonObject *tsq_alert_maintenance_to_json (TsqAlertMaintenance *window);
void tsq_alert_maintenance_free (TsqAlertMaintenance *window);
const char *tsq_alert_maintenance_get_id (TsqAlertMaintenance *window);
const char *tsq_alert_maintenance_get_monitor_id (TsqAlertMaintenance *window);
/* TRUE when now_us is inside an occurrence; *ends_us (may be NULL) = that occurrence's end. */
gboolean
tsq_alert_maintenance_is_active (TsqAlertMaintenance *window, gint64 now_us, gint64 *ends_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqAlertMaintenance, tsq_alert_maintenance_free)

/* Takes ownership; replaces a window with the same id. */
void tsq_alert_engine_add_maintenance (TsqAlertEngine *engine, TsqAlertMaintenance *window);
gboolean tsq_alert_engine_remove_maintenance (TsqAlertEngine *engine, const char *window_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqAlertEngine, tsq_alert_engine_free)

G_END_DECLS
