/* tsq-backoff.c: exponential backoff with full jitter (see tsq-backoff.h). */
#define G_LOG_DOMAIN "tsq-backoff"

#include "tsq-backoff.h"

#include <libsoup/soup.h>
#include <math.h>
#include <string.h>

void
tsq_backoff_init_default (TsqBackoff *backoff)
{
  g_return_if_fail (backoff != NULL);

  backoff->base_us = TSQ_BACKOFF_DEFAULT_BASE_US;
  backoff->factor = TSQ_BACKOFF_DEFAULT_FACTOR;
  backoff->cap_us = TSQ_BACKOFF_DEFAULT_CAP_US;
  backoff->max_age_us = TSQ_BACKOFF_DEFAULT_MAX_AGE_US;
  backoff->random = NULL;
  backoff->random_data = NULL;
}

static const TsqBackoff *
or_default (const TsqBackoff *backoff, TsqBackoff *storage)
{
  if (backoff != NULL)
    return backoff;
  tsq_backoff_init_default (storage);
  return storage;
}

gint64
tsq_backoff_ceiling (const TsqBackoff *backoff, guint attempt)
{
  TsqBackoff defaults;
  double ceiling;
  gint64 base, cap;

  backoff = or_default (backoff, &defaults);
  base = MAX (backoff->base_us, 0);
  cap = MAX (backoff->cap_us, 0);
  /* In doubles: base * factor^(attempt-1) overflows 64-bit integers after ~60 doublings, and
   * pow () of a huge exponent gives inf, which MIN () with the cap handles. */
  ceiling = (double)base * pow (MAX (backoff->factor, 1.0), (double)(MAX (attempt, 1) - 1));
  if (!(ceiling < (double)cap)) /* also catches NaN */
    return cap;
  return (gint64)ceiling;
}

gint64
tsq_backoff_next (const TsqBackoff *backoff, guint attempt, gint64 retry_after_s)
{
  TsqBackoff defaults;
  gint64 ceiling;
  double r;

  backoff = or_default (backoff, &defaults);
  if (retry_after_s > 0)
    return MIN (retry_after_s, TSQ_BACKOFF_MAX_RETRY_AFTER_S) * G_USEC_PER_SEC;

  ceiling = tsq_backoff_ceiling (backoff, attempt);
  r = backoff->random != NULL ? backoff->random (backoff->random_data) : g_random_double ();
  /* A broken random source must not push the delay outside [0, ceiling]. */
  if (!(r >= 0.0))
    r = 0.0;
  if (r > 1.0)
    r = 1.0;
  return (gint64)(r * (double)ceiling);
}

gboolean
tsq_backoff_schedule (const TsqBackoff *backoff,
                      guint attempt,
                      gint64 retry_after_s,
                      gint64 retry_from_us,
                      gint64 now_us,
                      gint64 *next_us)
{
  TsqBackoff defaults;
  gint64 deadline, next;

  g_return_val_if_fail (next_us != NULL, FALSE);

  backoff = or_default (backoff, &defaults);
  deadline = retry_from_us + MAX (backoff->max_age_us, 0);
  if (now_us >= deadline)
    return FALSE;
  next = now_us + tsq_backoff_next (backoff, attempt, retry_after_s);
  if (next > deadline)
    {
      /* The server asked us to wait past the deadline: we cannot honour it and still deliver
       * within max age. */
      if (retry_after_s > 0)
        return FALSE;
      next = deadline;
    }
  *next_us = next;
  return TRUE;
}

gint64
tsq_backoff_parse_retry_after (const char *value, gint64 now_us)
{
  g_autoptr (GDateTime) date = NULL;
  const char *p;
  guint64 seconds;
  char *end = NULL;

  if (value == NULL)
    return -1;
  value += strspn (value, " \t");
  if (g_ascii_isdigit (*value))
    {
      /* delta-seconds = 1*DIGIT */
      seconds = g_ascii_strtoull (value, &end, 10);
      for (p = end; *p == ' ' || *p == '\t'; p++)
        ;
      if (*p != '\0')
        return -1;
      return (gint64)MIN (seconds, (guint64)TSQ_BACKOFF_MAX_RETRY_AFTER_S);
    }
  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return -1;
  seconds = g_date_time_to_unix (date) > now_us / G_USEC_PER_SEC
              ? (guint64)(g_date_time_to_unix (date) - now_us / G_USEC_PER_SEC)
              : 0;
  return (gint64)MIN (seconds, (guint64)TSQ_BACKOFF_MAX_RETRY_AFTER_S);
}
