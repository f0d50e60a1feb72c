/* tsq-storage.h: where monitors, scans, changes, alerts and metrics live.
 *
 * A GInterface so that the agent does not care whether SQLite (tsq-sqlite-storage.h) or a later
 * PostgreSQL backend is behind it. All calls are synchronous and made from the agent's main thread;
 * an implementation may batch writes (see tsq_storage_flush()). Times are unix µs in arguments and
 * ISO 8601 UTC strings in returned JSON. See docs/storage.md.
 */
#pragma once

#include "tsq-backoff.h"
#include "tsq-monitor.h"

G_BEGIN_DECLS

#define TSQ_STORAGE_ERROR (tsq_storage_error_quark ())
GQuark tsq_storage_error_quark (void);

typedef enum
{
  TSQ_STORAGE_ERROR_FAILED,    /* anything else (I/O error, ...) */
  TSQ_STORAGE_ERROR_NOT_FOUND, /* no such monitor / scan */
  TSQ_STORAGE_ERROR_AMBIGUOUS, /* an id prefix or name matches several monitors */
  TSQ_STORAGE_ERROR_INVALID,   /* bad argument or constraint violation */
  TSQ_STORAGE_ERROR_CORRUPT,   /* not a database / malformed */
  TSQ_STORAGE_ERROR_READ_ONLY, /* database or file system is read-only */
  TSQ_STORAGE_ERROR_FULL,      /* disk (or configured size limit) full */
  TSQ_STORAGE_ERROR_BUSY,      /* locked by another process for too long */
  TSQ_STORAGE_ERROR_TOO_NEW,   /* schema written by a newer version of this program */
  TSQ_STORAGE_ERROR_CONFLICT,  /* the row's state does not allow this (ack of a resolved alert) */
} TsqStorageError;

/* Filters of tsq_storage_query_alerts(); zero-initialise and set what you need. */
typedef struct
{
  const char *monitor_id; /* NULL = every monitor */
  const char *state;      /* "triggered", "acknowledged", "resolved", "open" (not resolved), NULL */
  const char *severity;   /* "info", "warning", "critical" or NULL */
  gint64 since_us;        /* triggered at or after; 0 = any time */
  guint limit;            /* 0 = no limit */
} TsqAlertFilter;

/* Outbox row states (docs/outbox.md). */
#define TSQ_OUTBOX_PENDING "pending"
#define TSQ_OUTBOX_SENDING "sending"
#define TSQ_OUTBOX_DELIVERED "delivered"
#define TSQ_OUTBOX_DEAD "dead"
/* A claimed row that is neither delivered nor failed within this time is due again (the sender
 * crashed): must exceed the longest send attempt. */
#define TSQ_OUTBOX_DEFAULT_LEASE_US ((gint64)120 * G_USEC_PER_SEC)

#define TSQ_TYPE_STORAGE (tsq_storage_get_type ())
G_DECLARE_INTERFACE (TsqStorage, tsq_storage, TSQ, STORAGE, GObject)

struct _TsqStorageInterface
{
  GTypeInterface parent_iface;

  gboolean (*put_monitor) (TsqStorage *s, TsqMonitor *m, GError **error);
  TsqMonitor *(*get_monitor) (TsqStorage *s, const char *ref, GError **error);
  GPtrArray *(*list_monitors) (TsqStorage *s, GError **error);
  gboolean (*delete_monitor) (TsqStorage *s, const char *id, GError **error);
  gboolean (*set_monitor_run_state) (
    TsqStorage *s, const char *id, gint64 last_run_us, gint64 next_run_us, GError **error);
  gint64 (*get_monitors_revision) (TsqStorage *s);

  gint64 (*begin_scan) (TsqStorage *s, const char *monitor_id, gint64 started_us, GError **error);
  gboolean (*finish_scan) (TsqStorage *s, gint64 scan_id, JsonObject *result, GError **error);
  gint64 (*mark_interrupted_scans) (TsqStorage *s, GError **error);
  JsonObject *(*get_last_result) (TsqStorage *s, const char *monitor_id, GError **error);
  GPtrArray *(*list_scans) (
    TsqStorage *s, const char *monitor_id, gint64 since_us, guint limit, GError **error);
  JsonObject *(*get_scan) (TsqStorage *s, gint64 scan_id, GError **error);
  GArray *(*recent_metric) (
    TsqStorage *s, const char *monitor_id, const char *metric, guint n, GError **error);

  gboolean (*put_monitor_state) (TsqStorage *s,
                                 const char *monitor_id,
                                 JsonObject *state,
                                 GError **error);
  JsonObject *(*get_monitor_state) (TsqStorage *s, const char *monitor_id, GError **error);

  gboolean (*add_changes) (
    TsqStorage *s, const char *monitor_id, gint64 scan_id, JsonArray *changes, GError **error);
  GPtrArray *(*list_changes) (TsqStorage *s,
                              const char *monitor_id,
                              gint64 since_us,
                              gint64 after_id,
                              guint limit,
                              GError **error);

  gint64 (*add_alert) (TsqStorage *s, JsonObject *alert, GError **error);

  gboolean (*transaction_begin) (TsqStorage *s, GError **error);
  gboolean (*transaction_commit) (TsqStorage *s, GError **error);
  void (*transaction_rollback) (TsqStorage *s);

  gint64 (*upsert_open_alert) (TsqStorage *s,
                               JsonObject *alert,
                               gboolean *out_created,
                               GError **error);
  JsonObject *(*get_alert) (TsqStorage *s, gint64 id, GError **error);
  GPtrArray *(*query_alerts) (TsqStorage *s, const TsqAlertFilter *filter, GError **error);
  GPtrArray *(*list_open_alerts) (TsqStorage *s, GError **error);
  gboolean (*ack_alert) (TsqStorage *s, gint64 id, const char *by, gint64 at_us, GError **error);
  gboolean (*resolve_alert) (
    TsqStorage *s, gint64 id, const char *reason, gint64 at_us, GError **error);
  gboolean (*set_alert_escalation) (TsqStorage *s,
                                    gint64 id,
                                    const char *policy,
                                    gint level,
                                    gint64 last_notified_us,
                                    gint64 next_action_us,
                                    GError **error);

  gint64 (*add_silence) (TsqStorage *s, JsonObject *silence, GError **error);
  GPtrArray *(*list_silences) (TsqStorage *s,
                               gboolean include_expired,
                               gint64 now_us,
                               GError **error);
  gboolean (*expire_silence) (TsqStorage *s, gint64 id, gint64 now_us, GError **error);

  char *(*outbox_enqueue) (TsqStorage *s, JsonObject *notification, GError **error);
  GPtrArray *(*outbox_claim_due) (
    TsqStorage *s, gint64 now_us, guint limit, gint64 lease_us, GError **error);
  gboolean (*outbox_mark_delivered) (TsqStorage *s, const char *id, gint64 now_us, GError **error);
  gboolean (*outbox_mark_failed) (TsqStorage *s,
                                  const char *id,
                                  const char *message,
                                  gint64 retry_after_s,
                                  const TsqBackoff *backoff,
                                  gint64 now_us,
                                  gboolean *out_dead,
                                  GError **error);
  gboolean (*outbox_mark_dead) (
    TsqStorage *s, const char *id, const char *message, gint64 now_us, GError **error);
  gboolean (*outbox_requeue) (TsqStorage *s, const char *id, gint64 now_us, GError **error);
  JsonObject *(*outbox_get) (TsqStorage *s, const char *id, GError **error);
  GPtrArray *(*outbox_list) (TsqStorage *s, const char *state, guint limit, GError **error);
  gint64 (*outbox_next_due) (TsqStorage *s, GError **error);
  gint64 (*outbox_prune) (TsqStorage *s, gint64 delivered_before_us, GError **error);

  gboolean (*add_system_metrics) (TsqStorage *s, JsonObject *metrics, GError **error);
  GPtrArray *(*list_system_metrics) (TsqStorage *s, gint64 since_us, guint limit, GError **error);

  gboolean (*flush) (TsqStorage *s, GError **error);
  gboolean (*prune) (TsqStorage *s,
                     gint64 raw_results_before_us,
                     gint64 metrics_before_us,
                     GError **error);

  gint64 (*add_maintenance) (TsqStorage *s, JsonObject *window, GError **error);
  GPtrArray *(*list_maintenance) (TsqStorage *s, const char *monitor_id, GError **error);
  gboolean (*remove_maintenance) (TsqStorage *s, gint64 id, GError **error);

  gpointer padding[5];
};

/* ---- monitors ---- */

/* Inserts or updates (by id); sets m->updated_at to now. Does not validate: call
 * tsq_monitor_validate() first. Written at once (not batched). */
gboolean tsq_storage_put_monitor (TsqStorage *s, TsqMonitor *m, GError **error);
/* By exact id, else exact name, else unique id prefix. NOT_FOUND / AMBIGUOUS errors. */
TsqMonitor *
tsq_storage_get_monitor (TsqStorage *s, const char *id_or_unique_prefix_or_name, GError **error);
/* TsqMonitor* elements (the array owns them), sorted by name then created_at. */
GPtrArray *tsq_storage_list_monitors (TsqStorage *s, GError **error);
/* Deletes the monitor and its scans, changes, alerts, metrics and state. NOT_FOUND if absent. */
gboolean tsq_storage_delete_monitor (TsqStorage *s, const char *id, GError **error);
/* Batched. NOT_FOUND if the monitor does not exist. Does not change the monitors revision. */
gboolean tsq_storage_set_monitor_run_state (
  TsqStorage *s, const char *id, gint64 last_run_us, gint64 next_run_us, GError **error);
/* Cheap token that changes whenever any process changed the monitors' configuration (insert,
 * delete, update of anything but the run state). Poll it; -1 on error. */
gint64 tsq_storage_get_monitors_revision (TsqStorage *s);

/* ---- scans ---- */

/* Adds a scan in state "running"; returns its id (> 0) or -1 with error. */
gint64
tsq_storage_begin_scan (TsqStorage *s, const char *monitor_id, gint64 started_us, GError **error);
/* Batched. Stores the summary columns (from the scan result members status, error.kind,
 * timings.total_ms, timings.ttfb_ms, size.bytes, technologies, content.hash), the full result and a
 * performance_metrics row; state becomes "completed" ("failed" when result has "error"). */
gboolean
tsq_storage_finish_scan (TsqStorage *s, gint64 scan_id, JsonObject *result, GError **error);
/* At startup: "running" scans (left by a crash) become "interrupted". Returns how many, -1 on
 * error. */
gint64 tsq_storage_mark_interrupted_scans (TsqStorage *s, GError **error);
/* Full result of the monitor's latest "completed" (error-free) scan whose result is still stored
 * (prune keeps it); NULL without error when there is none. Failed scans are skipped so that change
 * detection compares against the last good page. */
JsonObject *tsq_storage_get_last_result (TsqStorage *s, const char *monitor_id, GError **error);
/* JsonObject* summaries {id, monitor_id, started_at, finished_at, state, status, error_kind,
 * total_ms, ttfb_ms, bytes, technologies (count), content_hash}, newest first. monitor_id NULL
 * = all monitors; since_us: started at or after; limit 0 = no limit. */
GPtrArray *tsq_storage_list_scans (
  TsqStorage *s, const char *monitor_id, gint64 since_us, guint limit, GError **error);
/* Summary plus "result" (object, or null once pruned). NOT_FOUND if absent. */
JsonObject *tsq_storage_get_scan (TsqStorage *s, gint64 scan_id, GError **error);
/* The last n values of metric ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms",
 * "bytes") of good scans (completed, HTTP status 200-399), oldest first; GArray of double. */
GArray *tsq_storage_recent_metric (
  TsqStorage *s, const char *monitor_id, const char *metric, guint n, GError **error);

/* ---- per-monitor detector state (opaque JSON) ---- */

/* Batched; replaces the previous state. */
gboolean tsq_storage_put_monitor_state (TsqStorage *s,
                                        const char *monitor_id,
                                        JsonObject *state,
                                        GError **error);
/* NULL without error when none was stored. */
JsonObject *tsq_storage_get_monitor_state (TsqStorage *s, const char *monitor_id, GError **error);

/* ---- changes ---- */

/* Batched. Each element an object {type, subject, old, new, confidence, evidence, severity?};
 * "type" is required (string), old/new/evidence any JSON. The assigned row id is set as member
 * "id" of each (mutable) change object. */
gboolean tsq_storage_add_changes (
  TsqStorage *s, const char *monitor_id, gint64 scan_id, JsonArray *changes, GError **error);
/* JsonObject* {id, monitor_id, monitor_name, scan_id, detected_at, type, subject, old, new,
 * confidence, evidence, severity}, oldest first. after_id > 0: the first `limit` changes with
 * id > after_id (for following); otherwise the latest `limit` changes. limit 0 = no limit. */
GPtrArray *tsq_storage_list_changes (TsqStorage *s,
                                     const char *monitor_id,
                                     gint64 since_us,
                                     gint64 after_id,
                                     guint limit,
                                     GError **error);

/* ---- alerts, raw (kept from the first schema; the alert engine uses the calls further down) ----
 */

/* Inserts without dedupe. alert {monitor_id (required), change_id?, rule_id?, subject?,
 * severity?, state? ("triggered"), triggered_at? (µs, default now), payload? (any JSON)}.
 * Written at once. Returns id or -1. */
gint64 tsq_storage_add_alert (TsqStorage *s, JsonObject *alert, GError **error);
/* tsq_storage_query_alerts() with only monitor_id and limit. */
GPtrArray *
tsq_storage_list_alerts (TsqStorage *s, const char *monitor_id, guint limit, GError **error);

/* ---- atomic groups of writes ---- */

/* Starts a group: every write until tsq_storage_transaction_commit() (batched or not) becomes
 * durable together or not at all. Use it for an alert change and the outbox rows it causes, so
 * that "alert stored, notification lost" cannot happen. Not nestable (INVALID). Earlier pending
 * batched writes are committed with the group. Make no main-loop iteration inside a group:
 * timers do not commit while one is open. */
gboolean tsq_storage_transaction_begin (TsqStorage *s, GError **error);
/* Commits the group (and everything pending) durably. A write that failed inside the group (any
 * error: invalid input, CONFLICT, disk full) dooms it: later writes are refused, and this rolls the
 * group back and returns the first failure's code, so an alert change can never be committed
 * without the notification that should go with it. */
gboolean tsq_storage_transaction_commit (TsqStorage *s, GError **error);
/* Undoes every write of the group; pending batched writes from before it stay. No-op without a
 * group. Disposing the storage with an open group rolls it back the same way. */
void tsq_storage_transaction_rollback (TsqStorage *s);

/* ---- alerts (the alert engine's state; docs/storage.md) ---- */

/* Dedupe: at most one open (not resolved) alert per (monitor_id, rule_id, subject).
 * alert {monitor_id, rule_id (required strings), subject? (string, default ""), group_key?,
 * change_type?, change_id?, severity? ("info" | "warning" | "critical", default "warning"),
 * payload? (any JSON), suppression_reason? (string or null), escalation_policy? (used only when
 * the alert is created), seen_at? (µs, default now)}.
 * No open alert with that key: inserts one (state "triggered", count 1, triggered_at =
 * first_seen_at = last_seen_at = seen_at), *out_created = TRUE. Otherwise updates it: count + 1,
 * last_seen_at, severity, payload, suppression_reason, and change_type/change_id/group_key when
 * given; the state (an acknowledged alert stays acknowledged) and escalation are kept; *out_created
 * = FALSE. Written at once (or with the open group). Returns the alert id, -1 with error. */
gint64 tsq_storage_upsert_open_alert (TsqStorage *s,
                                      JsonObject *alert,
                                      gboolean *out_created,
                                      GError **error);
/* {id, monitor_id, change_id, rule_id, group_key, subject, change_type, severity, state,
 * first_seen_at, last_seen_at, count, triggered_at, acknowledged_at, acknowledged_by,
 * resolved_at, resolve_reason, escalation_level, escalation_policy, last_notified_at,
 * next_action_at, payload, suppression_reason}; times ISO 8601 (null when unset; parse with
 * tsq_monitor_time_from_iso8601()). NOT_FOUND if absent. */
JsonObject *tsq_storage_get_alert (TsqStorage *s, gint64 id, GError **error);
/* Alerts as by tsq_storage_get_alert(), newest first. filter NULL = all. */
GPtrArray *tsq_storage_query_alerts (TsqStorage *s, const TsqAlertFilter *filter, GError **error);
/* Every alert that is not resolved, oldest first: what the engine reloads at startup to derive
 * its timers (next_action_at) from stored state. */
GPtrArray *tsq_storage_list_open_alerts (TsqStorage *s, GError **error);
/* triggered -> acknowledged; clears next_action_at (acknowledgment stops escalation). by may be
 * NULL. at_us <= 0 = now. NOT_FOUND; CONFLICT if already acknowledged or resolved. */
gboolean
tsq_storage_ack_alert (TsqStorage *s, gint64 id, const char *by, gint64 at_us, GError **error);
/* triggered|acknowledged -> resolved; clears next_action_at. reason may be NULL ("auto: site
 * back up", "manual", ...). at_us <= 0 = now. NOT_FOUND; CONFLICT if already resolved. */
gboolean tsq_storage_resolve_alert (
  TsqStorage *s, gint64 id, const char *reason, gint64 at_us, GError **error);
/* Stores the escalation state of an open alert. policy NULL = unchanged ("" = none); level < 0 =
 * unchanged; last_notified_us / next_action_us: -1 = unchanged, 0 = none (null), else the time.
 * NOT_FOUND; CONFLICT on a resolved alert. */
gboolean tsq_storage_set_alert_escalation (TsqStorage *s,
                                           gint64 id,
                                           const char *policy,
                                           gint level,
                                           gint64 last_notified_us,
                                           gint64 next_action_us,
                                           GError **error);

/* ---- silences ---- */

/* silence {matchers (array of objects, required; their meaning is the alert engine's),
 * starts_at? (µs, default now), ends_at (µs, required, > starts_at), created_by?, comment?}.
 * Written at once. Returns the id, -1 with error (INVALID names the member). */
gint64 tsq_storage_add_silence (TsqStorage *s, JsonObject *silence, GError **error);
/* {id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_at, state} with
 * state "pending" (starts later), "active" or "expired" (ended or expired by hand) at now_us
 * (<= 0 = now), ordered by starts_at. include_expired FALSE = only pending and active. */
GPtrArray *
tsq_storage_list_silences (TsqStorage *s, gboolean include_expired, gint64 now_us, GError **error);
/* Ends a silence now (expired_at = now_us, <= 0 = now). NOT_FOUND; CONFLICT if already
 * expired or ended. */
gboolean tsq_storage_expire_silence (TsqStorage *s, gint64 id, gint64 now_us, GError **error);

/* ---- maintenance windows (per monitor; docs/alerts.md) ---- */

/* window {monitor_id (required: an existing monitor), definition (object, required: the alert
 * engine's window without id and monitor_id: {cron, duration_s, timezone?} or {starts_at,
 * ends_at}), created_by?, comment?}. Storage checks only the shape: validate the definition with
 * tsq_alert_maintenance_from_json() first. Written at once. Returns the id, -1 with error
 * (INVALID names the member; NOT_FOUND for an unknown monitor). Deleting the monitor deletes its
 * windows. */
gint64 tsq_storage_add_maintenance (TsqStorage *s, JsonObject *window, GError **error);
/* {id, monitor_id, definition, created_by, comment, created_at} by id; monitor_id NULL = all. */
GPtrArray *tsq_storage_list_maintenance (TsqStorage *s, const char *monitor_id, GError **error);
/* Deletes a window. NOT_FOUND. */
gboolean tsq_storage_remove_maintenance (TsqStorage *s, gint64 id, GError **error);

/* ---- notification outbox (docs/outbox.md) ----
 * Every now_us / at_us argument (here and for alerts and silences): <= 0 means the real clock;
 * tests and the engine's fake clock pass their own. */

/* Stores a notification before it is sent. notification {id? (UUID; generated when absent: the
 * idempotency id receivers dedupe on), alert_ids? (array of integers), channel (string), kind
 * (string: "triggered", "resolved", "escalated", "repeat", "test", ...), payload (object:
 * subject/body/html/json as rendered), created_at? (µs, default now), next_attempt_at? (µs,
 * default created_at: when it becomes due)}. State "pending". Written at once (or with the open
 * group). Returns the id (free it), NULL with error; a duplicate id is INVALID. */
char *tsq_storage_outbox_enqueue (TsqStorage *s, JsonObject *notification, GError **error);
/* Claims up to limit (0 = no limit) due rows: pending with next_attempt_at <= now_us, or sending
 * with an expired lease (a sender died). They become "sending", attempts + 1, next_attempt_at =
 * now_us + lease_us (the lease: unless marked delivered/failed/dead by then they are due again).
 * Committed before it returns, together with anything pending: a row is only handed out once it
 * and its alert are durable. Two connections never get the same row within a lease. Outbox rows
 * as by tsq_storage_outbox_get(), oldest due first. Not allowed inside a group (INVALID). */
GPtrArray *tsq_storage_outbox_claim_due (
  TsqStorage *s, gint64 now_us, guint limit, gint64 lease_us, GError **error);
/* -> delivered (from pending, sending or dead: the receiver got it). Already delivered: TRUE
 * (idempotent). NOT_FOUND. Written at once. */
gboolean
tsq_storage_outbox_mark_delivered (TsqStorage *s, const char *id, gint64 now_us, GError **error);
/* A retryable failure of a sending row: last_error = message; back to pending with
 * next_attempt_at from backoff (tsq_backoff_schedule() with the row's attempts, retry_after_s
 * (> 0: the server's Retry-After) and the time it was enqueued or requeued), or "dead" when past
 * backoff->max_age_us; *out_dead (may be NULL) says which. backoff NULL = defaults.
 * NOT_FOUND; CONFLICT unless the row is sending. */
gboolean tsq_storage_outbox_mark_failed (TsqStorage *s,
                                         const char *id,
                                         const char *message,
                                         gint64 retry_after_s,
                                         const TsqBackoff *backoff,
                                         gint64 now_us,
                                         gboolean *out_dead,
                                         GError **error);
/* A permanent failure (e.g. HTTP 400, bad address): -> dead with last_error = message.
 * NOT_FOUND; CONFLICT if delivered. */
gboolean tsq_storage_outbox_mark_dead (
  TsqStorage *s, const char *id, const char *message, gint64 now_us, GError **error);
/* For an operator: dead -> pending, due now_us, attempts 0, and the max-age clock restarts.
 * NOT_FOUND; CONFLICT unless dead. */
gboolean tsq_storage_outbox_requeue (TsqStorage *s, const char *id, gint64 now_us, GError **error);
/* {id, alert_ids, channel, kind, payload, state, attempts, next_attempt_at, last_error,
 * created_at, retry_from_at, updated_at, delivered_at}; times ISO 8601 or null. For a sending
 * row next_attempt_at is when its lease expires. NOT_FOUND. */
JsonObject *tsq_storage_outbox_get (TsqStorage *s, const char *id, GError **error);
/* Rows in state (NULL = all), newest first; limit 0 = no limit. */
GPtrArray *tsq_storage_outbox_list (TsqStorage *s, const char *state, guint limit, GError **error);
/* The earliest next_attempt_at (µs) of pending and sending rows: when the dispatcher should next
 * look. 0 when none, -1 with error. */
gint64 tsq_storage_outbox_next_due (TsqStorage *s, GError **error);
/* Deletes delivered rows delivered before delivered_before_us; returns how many, -1 on error. */
gint64 tsq_storage_outbox_prune (TsqStorage *s, gint64 delivered_before_us, GError **error);

/* ---- system metrics ---- */

/* Batched. Any object; its time is member "ts" (unix µs integer) if present, else now. */
gboolean tsq_storage_add_system_metrics (TsqStorage *s, JsonObject *metrics, GError **error);
/* The stored objects with "ts" as ISO 8601 string, oldest first; limit 0 = no limit (latest
 * `limit` otherwise). */
GPtrArray *
tsq_storage_list_system_metrics (TsqStorage *s, gint64 since_us, guint limit, GError **error);

/* ---- batching and housekeeping ---- */

/* Commits every pending batched write in one transaction. Also reports a failed automatic
 * flush that happened since the last call. */
gboolean tsq_storage_flush (TsqStorage *s, GError **error);
/* Retention: drops the full result JSON of scans started before raw_results_before_us (keeps
 * their summaries) and metrics older than metrics_before_us. A value <= 0 skips that part. */
gboolean tsq_storage_prune (TsqStorage *s,
                            gint64 raw_results_before_us,
                            gint64 metrics_before_us,
                            GError **error);

G_END_DECLS
