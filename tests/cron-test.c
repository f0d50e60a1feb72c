/* cron-test.c: cron parsing, next-fire tables, DST rules and a brute-force cross-check. */
#include "tsq-cron.h"

#include <string.h>

static gint64
iso_to_unix (const char *iso)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);

  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt);
}

static char *
unix_to_iso (gint64 t)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (t);

  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

static void
test_parse_ok (void)
{
  static const struct
  {
    const char *expr;
    const char *normalised;
  } cases[] = {
    { "*/5 * * * *", "*/5 * * * *" },
    { "  0   9 * *   MON-FRI ", "0 9 * * MON-FRI" },
    { "0 0 1,15 * ?", "0 0 1,15 * ?" },
    { "1-30/2 * * jan-dec sun-sat", "1-30/2 * * jan-dec sun-sat" },
    { "0 0 * * 7", "0 0 * * 7" },
    { "5/15 * * * *", "5/15 * * * *" },
    { "*/10 * * * * *", "*/10 * * * * *" },
    { "@DAILY", "@daily" },
    { "@annually", "@annually" },
    { "@midnight", "@midnight" },
    { "0 0\t1 1 *", "0 0 1 1 *" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqCron) cron = tsq_cron_parse (cases[i].expr, &error);
      g_autofree char *str = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (cron);
      str = tsq_cron_to_string (cron);
      g_assert_cmpstr (str, ==, cases[i].normalised);
    }
}

static void
test_parse_errors (void)
{
  static const struct
  {
    const char *expr;
    const char *message;
  } cases[] = {
    { "0 24 * * *", "hour: 24 out of range 0-23" },
    { "60 * * * *", "minute: 60 out of range 0-59" },
    { "0 0 0 * *", "day-of-month: 0 out of range 1-31" },
    { "0 0 32 * *", "day-of-month: 32 out of range 1-31" },
    { "0 0 * 13 *", "month: 13 out of range 1-12" },
    { "0 0 * * 8", "day-of-week: 8 out of range 0-7" },
    { "61 0 0 * * *", "second: 61 out of range 0-59" },
    { "@every 5m", "unknown macro @every" },
    { "@daily extra", "unexpected text after @daily" },
    { "* * * *", "expected 5 or 6 fields, got 4" },
    { "* * * * * * *", "expected 5 or 6 fields, got 7" },
    { "", "expected 5 or 6 fields, got 0" },
    { "*/0 * * * *", "minute: step 0 out of range 1-59" },
    { "30-10 * * * *", "minute: range '30-10' goes backwards" },
    { "0 0 * FOO *", "month: invalid value 'FOO'" },
    { "0 0 * * MONDAY", "day-of-week: invalid value 'MONDAY'" },
    { "1x * * * *", "minute: invalid token '1x'" },
    { "1,,2 * * * *", "minute: empty list item" },
    { "? * * * *", "minute: '?' is only allowed in day-of-month and day-of-week" },
    { "*/ * * * *", "minute: invalid step in '*/'" },
    { "99999999999999999999 * * * *", "minute: 99999999999999999999 out of range 0-59" },
    { "0 0 L * *", "day-of-month: invalid value 'L'" },
    { "0 0 * * 1#2", "day-of-week: invalid token '1#2'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqCron) cron = tsq_cron_parse (cases[i].expr, &error);

      g_assert_null (cron);
      g_assert_error (error, TSQ_CRON_ERROR, TSQ_CRON_ERROR_INVALID);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

typedef struct
{
  const char *expr;
  const char *tz;
  const char *after;
  const char *expected[6]; /* successive fires in UTC; NULL-terminated */
} NextCase;

static void
run_next_cases (const NextCase *cases, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqCron) cron = tsq_cron_parse (cases[i].expr, &error);
      g_autoptr (GTimeZone) tz = NULL;
      g_autoptr (GDateTime) cur = NULL;

      g_assert_no_error (error);
      if (cases[i].tz != NULL)
        {
          tz = g_time_zone_new_identifier (cases[i].tz);
          g_assert_nonnull (tz);
        }
      cur = g_date_time_new_from_iso8601 (cases[i].after, NULL);
      g_assert_nonnull (cur);
      for (guint j = 0; j < G_N_ELEMENTS (cases[i].expected); j++)
        {
          g_autoptr (GDateTime) next = tsq_cron_next (cron, cur, tz);
          g_autofree char *got = NULL;

          if (cases[i].expected[j] == NULL)
            break;
          if (g_str_equal (cases[i].expected[j], "none"))
            {
              g_assert_null (next);
              break;
            }
          g_assert_nonnull (next);
          got = unix_to_iso (g_date_time_to_unix (next));
          if (g_strcmp0 (got, cases[i].expected[j]) != 0)
            g_error ("%s (%s) after %s, fire %u: got %s, expected %s", cases[i].expr,
                     cases[i].tz ? cases[i].tz : "UTC", cases[i].after, j, got,
                     cases[i].expected[j]);
          /* The result is expressed in the requested zone. */
          if (tz != NULL)
            g_assert_cmpstr (g_date_time_get_timezone_abbreviation (next), !=, "");
          g_clear_pointer (&cur, g_date_time_unref);
          cur = g_steal_pointer (&next);
        }
    }
}

static void
test_next_utc (void)
{
  static const NextCase cases[] = {
    /* Feb 29 only exists in leap years: the next one after March 2026 is 2028. */
    { "0 0 29 2 *",
      NULL,
      "2026-03-01T00:00:00Z",
      { "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z" } },
    /* Day 31 skips February, April, June, September, November. */
    { "0 0 31 * *",
      NULL,
      "2026-01-31T00:00:00Z",
      { "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
        "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z" } },
    /* Vixie: both day fields restricted -> the 1st OR any Monday. 2026-01-01 is a Thursday. */
    { "0 0 1 * MON",
      NULL,
      "2026-01-01T00:00:00Z",
      { "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z",
        "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z" } },
    /* dom starts with '*': AND. Odd days that are Mondays: Jan 5, Jan 19, Feb 2 (2 is even:
     * skipped), Feb 9 (odd)... */
    { "0 0 */2 * MON",
      NULL,
      "2026-01-01T00:00:00Z",
      { "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z" } },
    { "0 0 * * MON",
      NULL,
      "2026-01-01T00:00:00Z",
      { "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z" } },
    { "0 0 * * 7", NULL, "2026-06-01T00:00:00Z", { "2026-06-07T00:00:00Z" } },
    { "0 0 * * 0", NULL, "2026-06-01T00:00:00Z", { "2026-06-07T00:00:00Z" } },
    { "0 0 1 JAN,JUL *",
      NULL,
      "2026-02-01T00:00:00Z",
      { "2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z" } },
    { "0 9 * * MON-FRI",
      NULL,
      "2026-06-05T09:00:00Z",
      { "2026-06-08T09:00:00Z", "2026-06-09T09:00:00Z" } },
    { "*/5 * * * *",
      NULL,
      "2026-06-01T10:02:59Z",
      { "2026-06-01T10:05:00Z", "2026-06-01T10:10:00Z" } },
    { "5/20 * * * *",
      NULL,
      "2026-06-01T10:46:00Z",
      { "2026-06-01T11:05:00Z", "2026-06-01T11:25:00Z" } },
    { "1-30/10 3 * * *",
      NULL,
      "2026-06-01T03:21:00Z",
      { "2026-06-02T03:01:00Z", "2026-06-02T03:11:00Z" } },
    { "59 23 31 12 *", NULL, "2026-12-31T23:59:00Z", { "2027-12-31T23:59:00Z" } },
    { "@yearly", NULL, "2026-06-01T00:00:00Z", { "2027-01-01T00:00:00Z" } },
    { "@annually", NULL, "2026-12-31T23:59:59Z", { "2027-01-01T00:00:00Z" } },
    { "@monthly", NULL, "2026-06-01T00:00:00Z", { "2026-07-01T00:00:00Z" } },
    { "@weekly", NULL, "2026-06-01T00:00:00Z", { "2026-06-07T00:00:00Z", "2026-06-14T00:00:00Z" } },
    { "@daily", NULL, "2026-06-01T00:00:00Z", { "2026-06-02T00:00:00Z" } },
    { "@midnight", NULL, "2026-06-01T23:59:59Z", { "2026-06-02T00:00:00Z" } },
    { "@hourly", NULL, "2026-06-01T10:15:00Z", { "2026-06-01T11:00:00Z", "2026-06-01T12:00:00Z" } },
    /* Six fields: seconds. */
    { "*/15 * * * * *",
      NULL,
      "2026-06-01T10:00:07Z",
      { "2026-06-01T10:00:15Z", "2026-06-01T10:00:30Z", "2026-06-01T10:00:45Z",
        "2026-06-01T10:01:00Z" } },
    { "30 0 0 1 1 *", NULL, "2026-06-01T00:00:00Z", { "2027-01-01T00:00:30Z" } },
    /* Strictly after: a fractional second still moves to the next whole second. */
    { "* * * * * *",
      NULL,
      "2026-06-01T10:00:00.5Z",
      { "2026-06-01T10:00:01Z", "2026-06-01T10:00:02Z" } },
    { "* * * * *", NULL, "2026-06-01T10:00:00Z", { "2026-06-01T10:01:00Z" } },
    /* Never: February 30. */
    { "0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", { "none" } },
    /* Next Feb 29 after 2097 is 2104 (2100 is not leap): beyond the 5-year horizon. */
    { "0 0 29 2 *", NULL, "2097-03-01T00:00:00Z", { "none" } },
    /* A non-UTC fixed offset zone. */
    { "0 9 * * *", "Asia/Kolkata", "2026-06-01T00:00:00Z", { "2026-06-01T03:30:00Z" } },
  };

  run_next_cases (cases, G_N_ELEMENTS (cases));
}

static void
test_next_dst (void)
{
  /* America/New_York 2026: spring forward 2026-03-08 at 02:00 EST (07:00Z) to 03:00 EDT;
   * fall back 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST, so 01:00-01:59 local happens
   * twice: first as EDT (05:00Z-05:59Z), then as EST (06:00Z-06:59Z).
   * Europe/Berlin 2026: spring 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST; fall
   * 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET, so 02:00-02:59 happens twice
   * (00:00Z-00:59Z as CEST, then 01:00Z-01:59Z as CET). */
  static const NextCase cases[] = {
    /* Daily 02:30 on the spring day does not exist: fires once at the jump, 03:00 EDT = 07:00Z;
     * the next day 02:30 EDT = 06:30Z. */
    { "30 2 * * *",
      "America/New_York",
      "2026-03-07T12:00:00-05:00",
      { "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z" } },
    /* Daily 02:30 on the fall day is not ambiguous in New York (the repeat is 01:xx):
     * 02:30 EST = 07:30Z. */
    { "30 2 * * *",
      "America/New_York",
      "2026-10-31T12:00:00-04:00",
      { "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z" } },
    /* Daily 01:30 happens twice on 2026-11-01: only the first (01:30 EDT = 05:30Z) fires;
     * the next is 01:30 EST on 11-02 = 06:30Z. */
    { "30 1 * * *",
      "America/New_York",
      "2026-10-31T12:00:00-04:00",
      { "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z" } },
    /* Starting inside the repeat (01:00 EST = 06:00Z): 01:30 EST is a second occurrence,
     * skipped. */
    { "30 1 * * *", "America/New_York", "2026-11-01T06:00:00Z", { "2026-11-02T06:30:00Z" } },
    /* Hourly is a wildcard job: it follows real time through the repeat: 01:00 EDT (05:00Z),
     * 01:00 EST (06:00Z), 02:00 EST (07:00Z). */
    { "0 * * * *",
      "America/New_York",
      "2026-11-01T04:30:00Z",
      { "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z",
        "2026-11-01T08:00:00Z" } },
    /* Hourly on the spring day: 01:00 EST (06:00Z); 02:00 does not exist and coalesces with
     * 03:00 EDT (07:00Z); then 04:00 EDT (08:00Z). */
    { "0 * * * *",
      "America/New_York",
      "2026-03-08T05:30:00Z",
      { "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z" } },
    /* Every 15 minutes through the fall repeat: every 15 real minutes, 8 fires in 2 hours. */
    { "*/15 * * * *",
      "America/New_York",
      "2026-11-01T05:40:00Z",
      { "2026-11-01T05:45:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z",
        "2026-11-01T06:30:00Z", "2026-11-01T06:45:00Z", "2026-11-01T07:00:00Z" } },
    /* Every 15 minutes through the spring gap: 01:45 EST (06:45Z), then 02:00-02:45 do not
     * exist and fire once at the jump, 03:00 EDT (07:00Z), then 03:15 EDT (07:15Z). */
    { "*/15 * * * *",
      "America/New_York",
      "2026-03-08T06:40:00Z",
      { "2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z" } },
    /* Berlin daily 02:30: spring day -> at the jump 03:00 CEST = 01:00Z, next day 02:30 CEST
     * = 00:30Z. */
    { "30 2 * * *",
      "Europe/Berlin",
      "2026-03-28T12:00:00+01:00",
      { "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z" } },
    /* Berlin daily 02:30 on the fall day: first occurrence only, 02:30 CEST = 00:30Z; next
     * day 02:30 CET = 01:30Z. */
    { "30 2 * * *",
      "Europe/Berlin",
      "2026-10-24T12:00:00+02:00",
      { "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z" } },
    /* Berlin hourly through the repeat: 02:00 CEST (00:00Z), 02:00 CET (01:00Z), 03:00 CET
     * (02:00Z). */
    { "0 * * * *",
      "Europe/Berlin",
      "2026-10-24T23:30:00Z",
      { "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z" } },
    /* Berlin every 15 minutes through the spring gap: 01:45 CET (00:45Z), jump 03:00 CEST
     * (01:00Z), 03:15 CEST (01:15Z). */
    { "*/15 * * * *",
      "Europe/Berlin",
      "2026-03-29T00:40:00Z",
      { "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z" } },
    /* Berlin every 15 minutes from 02:50 CEST (00:50Z) into the repeat: 02:00 CET (01:00Z). */
    { "*/15 * * * *",
      "Europe/Berlin",
      "2026-10-25T00:50:00Z",
      { "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z" } },
    /* A minute-wildcard job restricted to the repeated hour fires in both passes. */
    { "*/30 1 * * *",
      "America/New_York",
      "2026-11-01T04:59:00Z",
      { "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z" } },
    /* Seconds field through the spring jump: 01:59:50 EST .. then 03:00:00 EDT. */
    { "*/20 * * * * *",
      "America/New_York",
      "2026-03-08T06:59:30Z",
      { "2026-03-08T06:59:40Z", "2026-03-08T07:00:00Z", "2026-03-08T07:00:20Z" } },
  };

  run_next_cases (cases, G_N_ELEMENTS (cases));
}

/* ---- brute-force cross-check in UTC ---- */

typedef struct
{
  gboolean min[60], hour[24], dom[32], mon[13], dow[7];
  gboolean dom_star, dow_star;
} Oracle;

static void
random_field (
  GRand *rand, GString *expr, gboolean *set, int lo, int hi, gboolean *star, int star_percent)
{
  if (g_rand_int_range (rand, 0, 100) < star_percent)
    {
      int step = g_rand_boolean (rand) ? 1 : g_rand_int_range (rand, 2, 8);

      if (step == 1)
        g_string_append (expr, "*");
      else
        g_string_append_printf (expr, "*/%d", step);
      for (int v = lo; v <= hi; v += step)
        set[v] = TRUE;
      *star = TRUE;
      return;
    }
  *star = FALSE;
  for (int k = g_rand_int_range (rand, 1, 4); k > 0; k--)
    {
      int a = g_rand_int_range (rand, lo, hi + 1);

      set[a] = TRUE;
      g_string_append_printf (expr, "%d%s", a, k > 1 ? "," : "");
    }
}

static gboolean
oracle_day (const Oracle *o, GDateTime *day)
{
  gboolean dom_ok = o->dom[g_date_time_get_day_of_month (day)];
  gboolean dow_ok = o->dow[g_date_time_get_day_of_week (day) % 7];

  if (!o->mon[g_date_time_get_month (day)])
    return FALSE;
  if (!o->dom_star && !o->dow_star)
    return dom_ok || dow_ok;
  return dom_ok && dow_ok;
}

/* Walks day by day (GLib's calendar), then hours and minutes, from after + 1 minute. */
static gint64
oracle_next (const Oracle *o, gint64 after)
{
  gint64 start = (after / 60 + 1) * 60;
  g_autoptr (GDateTime) t0 = g_date_time_new_from_unix_utc (start);
  g_autoptr (GDateTime) day
    = g_date_time_new_utc (g_date_time_get_year (t0), g_date_time_get_month (t0),
                           g_date_time_get_day_of_month (t0), 0, 0, 0);

  for (int i = 0; i < 5 * 366; i++)
    {
      g_autoptr (GDateTime) next_day = g_date_time_add_days (day, 1);

      if (oracle_day (o, day))
        for (int h = 0; h < 24; h++)
          for (int m = 0; m < 60; m++)
            {
              gint64 t = g_date_time_to_unix (day) + h * 3600 + m * 60;

              if (o->hour[h] && o->min[m] && t >= start)
                return t;
            }
      g_date_time_unref (day);
      day = g_steal_pointer (&next_day);
    }
  return -1;
}

static void
test_bruteforce (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20260308);

  for (int i = 0; i < 300; i++)
    {
      Oracle o = { 0 };
      g_autoptr (GString) expr = g_string_new (NULL);
      g_autoptr (TsqCron) cron = NULL;
      g_autoptr (GError) error = NULL;
      gboolean star;
      gint64 t = 1767225600 + g_rand_int_range (rand, 0, 4 * 365) * (gint64)86400
                 + g_rand_int_range (rand, 0, 86400);

      random_field (rand, expr, o.min, 0, 59, &star, 40);
      g_string_append_c (expr, ' ');
      random_field (rand, expr, o.hour, 0, 23, &star, 40);
      g_string_append_c (expr, ' ');
      random_field (rand, expr, o.dom, 1, 31, &o.dom_star, 60);
      g_string_append_c (expr, ' ');
      random_field (rand, expr, o.mon, 1, 12, &star, 70);
      g_string_append_c (expr, ' ');
      random_field (rand, expr, o.dow, 0, 6, &o.dow_star, 60);

      cron = tsq_cron_parse (expr->str, &error);
      g_assert_no_error (error);
      for (int k = 0; k < 4; k++)
        {
          gint64 want = oracle_next (&o, t), got = 0;
          gboolean found = tsq_cron_next_unix (cron, t, NULL, &got);

          if (want < 0)
            {
              /* The oracle gives up after 5*366 days, the engine after 5*366 days too. */
              g_assert_false (found);
              break;
            }
          if (!found || got != want)
            g_error ("'%s' after %" G_GINT64_FORMAT ": got %" G_GINT64_FORMAT
                     " (found %d), expected %" G_GINT64_FORMAT,
                     expr->str, t, got, found, want);
          t = got;
        }
    }
}

/* The search skips by fields: a year of every-second fires is not scanned second by second,
 * and an impossible expression returns after at most a few thousand steps. This only checks
 * results; speed is measured in bench/. */
static void
test_far_and_dense (void)
{
  g_autoptr (TsqCron) leap = tsq_cron_parse ("0 0 0 29 2 *", NULL);
  g_autoptr (TsqCron) dense = tsq_cron_parse ("* * * * * *", NULL);
  gint64 next;

  g_assert_true (tsq_cron_next_unix (leap, iso_to_unix ("2028-03-01T00:00:00Z"), NULL, &next));
  g_assert_cmpint (next, ==, iso_to_unix ("2032-02-29T00:00:00Z"));
  g_assert_true (tsq_cron_next_unix (dense, 1700000000, NULL, &next));
  g_assert_cmpint (next, ==, 1700000001);
  /* Out-of-range inputs are refused rather than overflowing. */
  g_assert_false (tsq_cron_next_unix (dense, G_MAXINT64 - 5, NULL, &next));
  g_assert_false (tsq_cron_next_unix (dense, G_MININT64, NULL, &next));
}

static void
test_wildcard_flag (void)
{
  static const struct
  {
    const char *expr;
    gboolean wildcard;
  } cases[] = {
    { "30 2 * * *", FALSE },  { "0 * * * *", TRUE },
    { "*/15 * * * *", TRUE }, { "@hourly", TRUE },
    { "@daily", FALSE },      { "*/10 0 0 * * *", TRUE },
    { "0 0 0 * * *", FALSE }, { "0,15,30,45 1 * * *", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TsqCron) cron = tsq_cron_parse (cases[i].expr, NULL);

      g_assert_nonnull (cron);
      g_assert_cmpint (tsq_cron_is_wildcard (cron), ==, cases[i].wildcard);
    }
}

/* Garbage never crashes: it parses (then evaluates) or gives an error. */
static void
test_garbage (void)
{
  static const char alphabet[] = "0123456789*/,-?@ \tJANMONSUNLW#xyz";
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier ("Europe/Berlin");
  guint parsed = 0;

  for (int i = 0; i < 20000; i++)
    {
      char buf[48];
      int len = g_rand_int_range (rand, 0, sizeof buf - 1);

      g_autoptr (GError) error = NULL;
      g_autoptr (TsqCron) cron = NULL;

      if (i % 2 == 0)
        {
          /* Field-shaped: 4-7 fields from plausible (valid or not) tokens. */
          static const char *const tokens[]
            = { "*",   "*/5", "1",      "1-5", "0,30", "2/3", "7", "?",     "5-1",
                "*/0", "MON", "1-31/7", "12",  "0",    "29",  "L", "3,4,5", "6-7" };
          int fields = g_rand_int_range (rand, 4, 8), pos = 0;

          for (int f = 0; f < fields; f++)
            {
              const char *tok = tokens[g_rand_int_range (rand, 0, G_N_ELEMENTS (tokens))];

              if (pos + strlen (tok) + 1 >= sizeof buf)
                break;
              memcpy (buf + pos, tok, strlen (tok));
              pos += strlen (tok);
              buf[pos++] = ' ';
            }
          len = pos;
        }
      else
        for (int k = 0; k < len; k++)
          buf[k] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
      buf[len] = '\0';
      cron = tsq_cron_parse (buf, &error);
      if (cron != NULL)
        {
          g_autofree char *str = tsq_cron_to_string (cron);
          gint64 next;

          parsed++;
          g_assert_no_error (error);
          g_assert_nonnull (str);
          if (tsq_cron_next_unix (cron, 1780000000, tz, &next))
            g_assert_cmpint (next, >, 1780000000);
        }
      else
        g_assert_nonnull (error);
    }
  g_test_message ("%u of 20000 random strings parsed", parsed);
  /* A very long expression is refused, not scanned. */
  {
    g_autofree char *huge = g_strnfill (100000, '1');
    g_autoptr (GError) error = NULL;

    g_assert_null (tsq_cron_parse (huge, &error));
    g_assert_cmpstr (error->message, ==, "expression too long");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/cron/parse-ok", test_parse_ok);
  g_test_add_func ("/tsq/cron/parse-errors", test_parse_errors);
  g_test_add_func ("/tsq/cron/next-utc", test_next_utc);
  g_test_add_func ("/tsq/cron/next-dst", test_next_dst);
  g_test_add_func ("/tsq/cron/bruteforce", test_bruteforce);
  g_test_add_func ("/tsq/cron/far-and-dense", test_far_and_dense);
  g_test_add_func ("/tsq/cron/wildcard-flag", test_wildcard_flag);
  g_test_add_func ("/tsq/cron/garbage", test_garbage);
  return g_test_run ();
}
