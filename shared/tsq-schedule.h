/* tsq-schedule.h: when a monitor runs, an interval or a cron expression in a time zone.
 *
 * Text forms: "every 5m", "every 30s jitter 10s", "every 1h30m", "cron *\/5 * * * *",
 * "cron 0 9 * * MON-FRI tz Europe/Berlin", "@hourly", a bare 5/6-field cron (optionally followed
 * by "tz ZONE"). JSON: {"type":"interval","every_s":300,"jitter_s":10} or
 * {"type":"cron","expr":"...","timezone":"Europe/Berlin"}. Cron schedules without a zone use UTC.
 *
 * Interval schedules are anchored to the Unix epoch plus a stable per-monitor phase in
 * [0, every) derived from the seed, so monitors sharing one interval spread evenly over it and a
 * restart keeps the same fire times: fire k = k * every + phase(seed) + jitter(seed, k), with
 * jitter(seed, k) in [0, jitter].
 *
 * A TsqSchedule is immutable and refcounted; all functions are thread-safe.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "tsq-cron.h"

G_BEGIN_DECLS

#define TSQ_SCHEDULE_ERROR (tsq_schedule_error_quark ())

typedef enum
{
  TSQ_SCHEDULE_ERROR_INVALID,
  TSQ_SCHEDULE_ERROR_UNKNOWN_TIMEZONE,
} TsqScheduleError;

GQuark tsq_schedule_error_quark (void);

typedef enum
{
  TSQ_SCHEDULE_INTERVAL,
  TSQ_SCHEDULE_CRON,
} TsqScheduleKind;

typedef struct _TsqSchedule TsqSchedule;

#define TSQ_SCHEDULE_MIN_INTERVAL_US G_USEC_PER_SEC

TsqSchedule *tsq_schedule_parse (const char *text, GError **error);
TsqSchedule *tsq_schedule_from_json (JsonNode *node, GError **error);
TsqSchedule *tsq_schedule_new_interval (gint64 every_us, gint64 jitter_us, GError **error);
/* timezone: IANA name or NULL for UTC. */
TsqSchedule *tsq_schedule_new_cron (const char *expr, const char *timezone, GError **error);
TsqSchedule *tsq_schedule_ref (TsqSchedule *s);
void tsq_schedule_unref (TsqSchedule *s);
JsonNode *tsq_schedule_to_json (TsqSchedule *s);
/* Parses back with tsq_schedule_parse(). */
char *tsq_schedule_to_string (TsqSchedule *s);

TsqScheduleKind tsq_schedule_get_kind (TsqSchedule *s);
gint64 tsq_schedule_get_interval_us (TsqSchedule *s);   /* 0 for cron */
gint64 tsq_schedule_get_jitter_us (TsqSchedule *s);     /* 0 for cron */
TsqCron *tsq_schedule_get_cron (TsqSchedule *s);        /* NULL for interval */
const char *tsq_schedule_get_timezone (TsqSchedule *s); /* "UTC" by default */

/* A well-mixed 32-bit seed for a monitor id (stable across runs and platforms). */
guint32 tsq_schedule_seed_for_id (const char *monitor_id);
/* Interval schedules: the phase in [0, every) and the jitter of fire `index`, in [0, jitter]. */
gint64 tsq_schedule_get_phase (TsqSchedule *s, guint32 seed);
gint64 tsq_schedule_get_jitter (TsqSchedule *s, guint32 seed, gint64 index);

/* Next regular fire time (Unix µs) strictly after after_us; G_MAXINT64 if none (cron that
 * never matches within 5 years). */
gint64 tsq_schedule_next (TsqSchedule *s, gint64 after_us, guint32 seed);
/* Misfire policy (APScheduler coalesce=True): due_us >= now_us -> due_us (no misfire);
 * now - due <= grace -> now_us with *catch_up = TRUE (run once now); older -> the next regular
 * time after now_us, *catch_up = FALSE (missed runs skipped). */
gint64 tsq_schedule_resolve_misfire (
  TsqSchedule *s, gint64 due_us, gint64 now_us, gint64 grace_us, guint32 seed, gboolean *catch_up);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqSchedule, tsq_schedule_unref)

G_END_DECLS
