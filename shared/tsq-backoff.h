/* tsq-backoff.h: the retry schedule of the notification outbox.
 *
 * Exponential backoff with "full jitter" (the delay before retry n is uniform in
 * [0, min (cap, base * factor^(n-1))]): retries of many failed notifications spread out instead
 * of hammering a receiver that just came back. A server's Retry-After wins over the schedule.
 * Pure functions; thread-safe as long as the random source is.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns a uniformly distributed value in [0, 1). */
typedef double (*TsqBackoffRandomFunc) (gpointer user_data);

typedef struct
{
  gint64 base_us;    /* ceiling of the first retry's delay; default 5 s */
  double factor;     /* growth of the ceiling per attempt; default 2 */
  gint64 cap_us;     /* largest ceiling; default 15 min */
  gint64 max_age_us; /* give up (dead letter) this long after the first try; default 24 h */
  TsqBackoffRandomFunc random; /* NULL = g_random_double () */
  gpointer random_data;
} TsqBackoff;

#define TSQ_BACKOFF_DEFAULT_BASE_US (5 * G_USEC_PER_SEC)
#define TSQ_BACKOFF_DEFAULT_FACTOR 2.0
#define TSQ_BACKOFF_DEFAULT_CAP_US ((gint64)15 * 60 * G_USEC_PER_SEC)
#define TSQ_BACKOFF_DEFAULT_MAX_AGE_US ((gint64)24 * 3600 * G_USEC_PER_SEC)
/* Retry-After values beyond this are treated as this (a hostile or broken server must not
 * overflow our clock arithmetic). */
#define TSQ_BACKOFF_MAX_RETRY_AFTER_S ((gint64)7 * 24 * 3600)

/* Fills the defaults (5 s, x2, 15 min cap, 24 h max age, g_random_double). */
void tsq_backoff_init_default (TsqBackoff *backoff);

/* The ceiling (upper bound of the jittered delay) for retry number attempt (1 = the retry after
 * the first failure): min (cap, base * factor^(attempt-1)). attempt 0 is treated as 1. */
gint64 tsq_backoff_ceiling (const TsqBackoff *backoff, guint attempt);

/* Delay in µs before retry number attempt. retry_after_s > 0 (a server's Retry-After, already
 * parsed) is honoured exactly, clamped to TSQ_BACKOFF_MAX_RETRY_AFTER_S; otherwise the delay is
 * uniform in [0, tsq_backoff_ceiling ()], drawn from backoff->random. backoff NULL = defaults. */
gint64 tsq_backoff_next (const TsqBackoff *backoff, guint attempt, gint64 retry_after_s);

/* When to retry a notification first tried at retry_from_us that failed at now_us for the
 * attempt-th time: sets *next_us and returns TRUE, or returns FALSE when it must be dead-lettered
 * (now_us is past retry_from_us + max_age, or a Retry-After points past that deadline). Without
 * Retry-After the retry is pulled in to the deadline so the last try happens at max age. */
gboolean tsq_backoff_schedule (const TsqBackoff *backoff,
                               guint attempt,
                               gint64 retry_after_s,
                               gint64 retry_from_us,
                               gint64 now_us,
                               gint64 *next_us);

/* Parses an HTTP Retry-After header value: delta-seconds or an HTTP-date (relative to now_us).
 * Returns seconds (>= 0; a date in the past gives 0) or -1 when the value is absent or
 * unparsable. */
gint64 tsq_backoff_parse_retry_after (const char *value, gint64 now_us);

G_END_DECLS
