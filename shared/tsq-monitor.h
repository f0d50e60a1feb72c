/* tsq-monitor.h: a monitor (the design's monitoring_configs row): what to scan, how often, how. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TSQ_MONITOR_ERROR (tsq_monitor_error_quark ())
GQuark tsq_monitor_error_quark (void);

typedef enum
{
  TSQ_MONITOR_ERROR_INVALID, /* a member is missing, mistyped, unknown or has a bad value */
} TsqMonitorError;

#define TSQ_MONITOR_DEFAULT_ORGANIZATION "default"
/* Used by tsq_monitor_from_json() when "schedule" is absent. */
#define TSQ_MONITOR_DEFAULT_SCHEDULE "every 5m"

/* Refcounted boxed type. Fields are public and may be changed by the owner of the only
 * reference; share a monitor read-only (or tsq_monitor_copy() it) once it is shared. */
typedef struct
{
  char *id;              /* UUID v4 */
  char *organization_id; /* "default" unless set */
  char *name;
  char *url;
  char *schedule;          /* as accepted by the schedule parser: "every 5m", "cron ... tz ..." */
  JsonObject *scan_config; /* never NULL: {timeout_s, third_party_resources, ignore, ...} */
  JsonArray *alert_rules;  /* never NULL */
  gboolean enabled;
  gint64 created_at;  /* unix µs */
  gint64 updated_at;  /* unix µs */
  gint64 last_run_us; /* unix µs, 0 = never */
  gint64 next_run_us; /* unix µs, 0 = not scheduled yet */
} TsqMonitor;

typedef gboolean (*TsqScheduleValidator) (const char *schedule, GError **error);

#define TSQ_TYPE_MONITOR (tsq_monitor_get_type ())
GType tsq_monitor_get_type (void) G_GNUC_CONST;

/* New monitor with a fresh UUID, enabled, empty scan_config and alert_rules, created_at =
 * updated_at = now. Arguments may be NULL (then the field is NULL and validate() fails). */
TsqMonitor *tsq_monitor_new (const char *name, const char *url, const char *schedule);
TsqMonitor *tsq_monitor_ref (TsqMonitor *m);
void tsq_monitor_unref (TsqMonitor *m);
/* Deep copy (scan_config and alert_rules are copied too). */
TsqMonitor *tsq_monitor_copy (TsqMonitor *m);

/* {id, organization_id, name, url, schedule, scan_config, alert_rules, enabled, created_at,
 * updated_at, last_run_at, next_run_at}; times ISO 8601 UTC, run times null when 0. */
JsonNode *tsq_monitor_to_json (TsqMonitor *m);
/* Strict: unknown members, wrong types, missing "url" -> TSQ_MONITOR_ERROR_INVALID naming the
 * member. Missing id -> new UUID; missing name -> the url; missing schedule ->
 * TSQ_MONITOR_DEFAULT_SCHEDULE; missing times -> now (created/updated) or 0 (run times).
 * Times are ISO 8601 strings (or integers, unix µs). Does not call tsq_monitor_validate(). */
TsqMonitor *tsq_monitor_from_json (JsonNode *node, GError **error);
/* url absolute http(s) with a host, name and schedule non-empty, the known scan_config members
 * well-typed (timeout_s > 0, ignore.regex compiles), then the registered schedule validator. */
gboolean tsq_monitor_validate (TsqMonitor *m, GError **error);
/* Registers the schedule parser's validator (NULL to remove). Thread-safe. */
void tsq_monitor_set_schedule_validator (TsqScheduleValidator validate);

/* Time helpers used by the monitor and storage JSON: unix µs <-> ISO 8601 UTC
 * ("2024-05-01T12:00:00.250000Z"; no fraction when whole seconds). */
char *tsq_monitor_time_to_iso8601 (gint64 unix_us);
gboolean tsq_monitor_time_from_iso8601 (const char *text, gint64 *unix_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqMonitor, tsq_monitor_unref)

G_END_DECLS
