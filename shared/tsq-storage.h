/* tsq-storage.h: where monitors, scans, changes, alerts and metrics live.
 *
 * A GInterface so that the agent does not care whether SQLite (tsq-sqlite-storage.h) or a later
 * PostgreSQL backend is behind it. All calls are synchronous and made from the agent's main thread;
 * an implementation may batch writes (see tsq_storage_flush()). Times are unix µs in arguments and
 * ISO 8601 UTC strings in returned JSON. See docs/storage.md.
 */
#pragma once

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
} TsqStorageError;

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
  GPtrArray *(*list_alerts) (TsqStorage *s, const char *monitor_id, guint limit, GError **error);

  gboolean (*add_system_metrics) (TsqStorage *s, JsonObject *metrics, GError **error);
  GPtrArray *(*list_system_metrics) (TsqStorage *s, gint64 since_us, guint limit, GError **error);

  gboolean (*flush) (TsqStorage *s, GError **error);
  gboolean (*prune) (TsqStorage *s,
                     gint64 raw_results_before_us,
                     gint64 metrics_before_us,
                     GError **error);

  gpointer padding[8];
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

/* ---- alerts (minimal; the alerting issue extends this) ---- */

/* alert {monitor_id (required), change_id?, rule_id?, severity?, state? ("triggered"),
 * triggered_at? (µs, default now), payload? (any JSON)}. Written at once. Returns id or -1. */
gint64 tsq_storage_add_alert (TsqStorage *s, JsonObject *alert, GError **error);
/* JsonObject* {id, monitor_id, change_id, rule_id, severity, state, triggered_at,
 * acknowledged_at, resolved_at, payload}, newest first. */
GPtrArray *
tsq_storage_list_alerts (TsqStorage *s, const char *monitor_id, guint limit, GError **error);

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
