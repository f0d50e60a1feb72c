/* tsq-scheduler.h: fires monitors when their schedules say so, on a GMainContext.
 *
 * The scheduler keeps a binary min-heap of monitors keyed by their next fire time and one
 * GSource, attached to the thread-default GMainContext of the thread that created it, whose
 * ready time is the heap top. Due times are wall-clock (g_get_real_time); the source's ready
 * time is the monotonic equivalent, re-checked against the wall clock on every wake-up and at
 * least once a minute, so clock jumps and suspend are noticed. O(log n) per fire.
 *
 * Rules (docs/scheduling.md):
 *  - a monitor is never fired while its previous fire is not finished
 *    (tsq_scheduler_finished()). A due time that passes meanwhile coalesces into one catch-up
 *    run right after it finishes if that is within the grace time of the missed due time,
 *    otherwise it is skipped and the monitor waits for its next regular time;
 *  - a persisted next run in the past is a misfire: within grace it runs once (catch_up TRUE),
 *    older it is skipped (tsq_schedule_resolve_misfire());
 *  - cron monitors sharing one fire time are spread over the spread window by a stable
 *    per-monitor offset; catch-up runs after a restart are spread the same way. Interval
 *    monitors are already spread over their period by their phase (tsq-schedule.h).
 *
 * The fire callback receives due_us = the planned fire time (regular time plus spread offset)
 * for regular runs, and the missed regular due time for catch-up runs.
 *
 * Not thread-safe: use a scheduler from the thread whose main context it is attached to.
 */
#pragma once

#include <glib-object.h>

#include "tsq-schedule.h"

G_BEGIN_DECLS

#define TSQ_TYPE_SCHEDULER (tsq_scheduler_get_type ())

G_DECLARE_FINAL_TYPE (TsqScheduler, tsq_scheduler, TSQ, SCHEDULER, GObject)

typedef void (*TsqSchedulerFireFunc) (
  TsqScheduler *s, const char *monitor_id, gint64 due_us, gboolean catch_up, gpointer user_data);

/* For tests and benchmarks: a replacement for g_get_real_time(). */
typedef gint64 (*TsqSchedulerClockFunc) (gpointer user_data);

#define TSQ_SCHEDULER_DEFAULT_GRACE_US (5 * 60 * G_USEC_PER_SEC)
#define TSQ_SCHEDULER_MAX_SPREAD_US (10 * G_USEC_PER_SEC)

TsqScheduler *
tsq_scheduler_new (TsqSchedulerFireFunc fire, gpointer user_data, GDestroyNotify notify);
/* Adds or replaces a monitor. next_run_us: the persisted next run, or 0 to compute it (from
 * last_run_us if non-zero, else from now). */
void tsq_scheduler_set (TsqScheduler *s,
                        const char *monitor_id,
                        TsqSchedule *schedule,
                        gint64 last_run_us,
                        gint64 next_run_us);
void tsq_scheduler_remove (TsqScheduler *s, const char *monitor_id);
void tsq_scheduler_finished (TsqScheduler *s, const char *monitor_id);
/* The next regular due time (without spread offset), for persistence; 0 if unknown,
 * G_MAXINT64 if the schedule never fires again. */
gint64 tsq_scheduler_get_next_run (TsqScheduler *s, const char *monitor_id);
/* When the scheduler will actually fire the monitor next (spread/catch-up included). */
gint64 tsq_scheduler_get_fire_time (TsqScheduler *s, const char *monitor_id);
gboolean tsq_scheduler_is_running (TsqScheduler *s, const char *monitor_id);
void tsq_scheduler_set_grace (TsqScheduler *s, gint64 grace_us);
/* window_us < 0 restores the default: min(10 s, period / 10). Never more than the period. */
void tsq_scheduler_set_spread_window (TsqScheduler *s, gint64 window_us);
guint tsq_scheduler_get_size (TsqScheduler *s);
void tsq_scheduler_set_clock (TsqScheduler *s, TsqSchedulerClockFunc clock, gpointer user_data);
/* Fires every monitor due now (the GSource calls this); returns how many fired. */
guint tsq_scheduler_run_due (TsqScheduler *s);

G_END_DECLS
