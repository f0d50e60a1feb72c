/* schedule-test.c: schedule text/JSON forms, interval phase and jitter, misfire policy. */
#include "tsq-json-util.h"
#include "tsq-schedule.h"

#define SEC ((gint64)G_USEC_PER_SEC)

static gint64
iso_us (const char *iso)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);

  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt) * SEC;
}

static void
test_parse_text (void)
{
  static const struct
  {
    const char *text;
    const char *canonical;
    TsqScheduleKind kind;
    gint64 every_s, jitter_s;
    const char *tz;
  } cases[] = {
    { "every 5m", "every 5m", TSQ_SCHEDULE_INTERVAL, 300, 0, NULL },
    { "every 30s jitter 10s", "every 30s jitter 10s", TSQ_SCHEDULE_INTERVAL, 30, 10, NULL },
    { "every 1h30m", "every 1h30m", TSQ_SCHEDULE_INTERVAL, 5400, 0, NULL },
    { "every 1h 30m", "every 1h30m", TSQ_SCHEDULE_INTERVAL, 5400, 0, NULL },
    { "  EVERY 90s  JITTER 1m ", "every 1m30s jitter 1m", TSQ_SCHEDULE_INTERVAL, 90, 60, NULL },
    { "every 2d", "every 2d", TSQ_SCHEDULE_INTERVAL, 172800, 0, NULL },
    { "every 1d12h", "every 1d12h", TSQ_SCHEDULE_INTERVAL, 129600, 0, NULL },
    { "every 1s", "every 1s", TSQ_SCHEDULE_INTERVAL, 1, 0, NULL },
    { "every 45", "every 45s", TSQ_SCHEDULE_INTERVAL, 45, 0, NULL },
    { "cron */5 * * * *", "cron */5 * * * *", TSQ_SCHEDULE_CRON, 0, 0, "UTC" },
    { "cron 0 9 * * MON-FRI tz Europe/Berlin", "cron 0 9 * * MON-FRI tz Europe/Berlin",
      TSQ_SCHEDULE_CRON, 0, 0, "Europe/Berlin" },
    { "@hourly", "cron @hourly", TSQ_SCHEDULE_CRON, 0, 0, "UTC" },
    { "@daily tz America/New_York", "cron @daily tz America/New_York", TSQ_SCHEDULE_CRON, 0, 0,
      "America/New_York" },
    { "0 9 * * *", "cron 0 9 * * *", TSQ_SCHEDULE_CRON, 0, 0, "UTC" },
    { "*/10 * * * * * TZ Asia/Tokyo", "cron */10 * * * * * tz Asia/Tokyo", TSQ_SCHEDULE_CRON, 0, 0,
      "Asia/Tokyo" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqSchedule) s = tsq_schedule_parse (cases[i].text, &error);
      g_autoptr (TsqSchedule) again = NULL;
      g_autofree char *str = NULL;
      g_autofree char *str2 = NULL;

      g_assert_no_error (error);
      str = tsq_schedule_to_string (s);
      g_assert_cmpstr (str, ==, cases[i].canonical);
      g_assert_cmpint (tsq_schedule_get_kind (s), ==, cases[i].kind);
      g_assert_cmpint (tsq_schedule_get_interval_us (s), ==, cases[i].every_s * SEC);
      g_assert_cmpint (tsq_schedule_get_jitter_us (s), ==, cases[i].jitter_s * SEC);
      if (cases[i].tz != NULL)
        g_assert_cmpstr (tsq_schedule_get_timezone (s), ==, cases[i].tz);
      /* The canonical form parses back to itself. */
      again = tsq_schedule_parse (str, &error);
      g_assert_no_error (error);
      str2 = tsq_schedule_to_string (again);
      g_assert_cmpstr (str2, ==, str);
    }
}

static void
test_parse_errors (void)
{
  static const struct
  {
    const char *text;
    GQuark (*domain) (void);
    int code;
    const char *message;
  } cases[] = {
    { "", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID, "empty schedule" },
    { "every 0s", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "interval must be at least 1s" },
    { "every", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "every: invalid duration '' (expected e.g. 30s, 5m, 1h30m, 1d)" },
    { "every 500ms", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "every: invalid duration '500ms' (expected e.g. 30s, 5m, 1h30m, 1d)" },
    { "every 5x", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "every: invalid duration '5x' (expected e.g. 30s, 5m, 1h30m, 1d)" },
    { "every 10s jitter 20s", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "jitter must be between 0 and the interval" },
    { "every 10s jitter", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "jitter: invalid duration '' (expected e.g. 30s, 5m, 1h30m, 1d)" },
    { "every 99999999999999d", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "every: duration '99999999999999d' is longer than 10 years" },
    { "every 4000d", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID,
      "every: duration '4000d' is longer than 10 years" },
    { "cron 0 9 * * * tz Mars/Olympus", tsq_schedule_error_quark,
      TSQ_SCHEDULE_ERROR_UNKNOWN_TIMEZONE, "unknown time zone 'Mars/Olympus'" },
    /* File paths are not time zones (GLib would open them). */
    { "cron 0 9 * * * tz /etc/passwd", tsq_schedule_error_quark,
      TSQ_SCHEDULE_ERROR_UNKNOWN_TIMEZONE, "unknown time zone '/etc/passwd'" },
    { "cron 0 9 * * * tz Europe/../../../../etc/hostname", tsq_schedule_error_quark,
      TSQ_SCHEDULE_ERROR_UNKNOWN_TIMEZONE, "unknown time zone 'Europe/../../../../etc/hostname'" },
    { "cron", tsq_schedule_error_quark, TSQ_SCHEDULE_ERROR_INVALID, "missing cron expression" },
    { "cron 0 24 * * *", tsq_cron_error_quark, TSQ_CRON_ERROR_INVALID,
      "hour: 24 out of range 0-23" },
    { "@every 5m", tsq_cron_error_quark, TSQ_CRON_ERROR_INVALID, "unknown macro @every" },
    { "sometimes", tsq_cron_error_quark, TSQ_CRON_ERROR_INVALID, "expected 5 or 6 fields, got 1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqSchedule) s = tsq_schedule_parse (cases[i].text, &error);

      g_assert_null (s);
      g_assert_error (error, cases[i].domain (), cases[i].code);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_json (void)
{
  static const struct
  {
    const char *json;
    const char *canonical; /* NULL = error */
  } cases[] = {
    { "{\"type\":\"interval\",\"every_s\":300,\"jitter_s\":10}", "every 5m jitter 10s" },
    { "{\"type\":\"interval\",\"every_s\":60}", "every 1m" },
    { "{\"type\":\"cron\",\"expr\":\"0 9 * * MON-FRI\",\"timezone\":\"Europe/Berlin\"}",
      "cron 0 9 * * MON-FRI tz Europe/Berlin" },
    { "{\"type\":\"cron\",\"expr\":\"@hourly\"}", "cron @hourly" },
    { "\"every 30s\"", "every 30s" },
    { "{\"type\":\"interval\",\"every_s\":0.5}", NULL },
    { "{\"type\":\"interval\",\"every_s\":\"300\"}", NULL },
    { "{\"type\":\"interval\",\"every_s\":{}}", NULL },
    { "{\"type\":\"interval\",\"every_s\":1e300}", NULL },
    { "{\"type\":\"interval\",\"every_s\":10,\"jitter_s\":-1}", NULL },
    { "{\"type\":\"cron\",\"expr\":\"0 9 * * *\",\"timezone\":\"Nowhere/Land\"}", NULL },
    { "{\"type\":\"cron\"}", NULL },
    { "{\"type\":\"cron\",\"expr\":[1]}", NULL },
    { "{\"type\":\"weekly\"}", NULL },
    { "[1,2]", NULL },
    { "42", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = tsq_json_from_string (cases[i].json, &error);
      g_autoptr (TsqSchedule) s = NULL;

      g_assert_no_error (error);
      s = tsq_schedule_from_json (node, &error);
      if (cases[i].canonical == NULL)
        {
          g_assert_null (s);
          g_assert_nonnull (error);
          continue;
        }
      g_assert_no_error (error);
      {
        g_autofree char *str = tsq_schedule_to_string (s);
        g_autoptr (JsonNode) out = tsq_schedule_to_json (s);
        g_autoptr (TsqSchedule) back = tsq_schedule_from_json (out, &error);
        g_autofree char *str2 = NULL;

        g_assert_cmpstr (str, ==, cases[i].canonical);
        g_assert_no_error (error);
        str2 = tsq_schedule_to_string (back);
        g_assert_cmpstr (str2, ==, str);
      }
    }
  {
    g_autoptr (TsqSchedule) s = tsq_schedule_parse ("every 5m jitter 10s", NULL);
    g_autoptr (JsonNode) out = tsq_schedule_to_json (s);
    g_autofree char *text = tsq_json_to_string (out, FALSE);

    g_assert_cmpstr (text, ==, "{\"type\":\"interval\",\"every_s\":300,\"jitter_s\":10}");
  }
}

static void
test_jitter_bounds (void)
{
  g_autoptr (TsqSchedule) s = tsq_schedule_parse ("every 60s jitter 10s", NULL);
  gint64 jmin = G_MAXINT64, jmax = 0;
  g_autoptr (GHashTable) distinct = g_hash_table_new (g_int64_hash, g_int64_equal);
  gint64 *values = g_new (gint64, 10000);
  gint64 after = iso_us ("2026-06-01T12:00:00Z");

  for (guint32 seed = 0; seed < 10000; seed++)
    {
      for (gint64 index = 29000000; index < 29000003; index++)
        {
          gint64 j = tsq_schedule_get_jitter (s, seed, index);

          g_assert_cmpint (j, >=, 0);
          g_assert_cmpint (j, <=, 10 * SEC);
          /* Stable for the same (seed, index). */
          g_assert_cmpint (j, ==, tsq_schedule_get_jitter (s, seed, index));
          jmin = MIN (jmin, j);
          jmax = MAX (jmax, j);
        }
      values[seed] = tsq_schedule_get_jitter (s, seed, 7);
      g_hash_table_add (distinct, &values[seed]);

      /* Through next(): the fire is phase + k * every + jitter(k) with jitter within bounds. */
      {
        gint64 n = tsq_schedule_next (s, after, seed);
        gint64 phase = tsq_schedule_get_phase (s, seed);
        gint64 k = (n - phase) / (60 * SEC);
        gint64 jitter = n - phase - k * 60 * SEC;

        g_assert_cmpint (n, >, after);
        g_assert_cmpint (phase, >=, 0);
        g_assert_cmpint (phase, <, 60 * SEC);
        g_assert_cmpint (jitter, >=, 0);
        g_assert_cmpint (jitter, <=, 10 * SEC);
        g_assert_cmpint (jitter, ==, tsq_schedule_get_jitter (s, seed, k));
        g_assert_cmpint (tsq_schedule_next (s, after, seed), ==, n);
        /* Strictly after. */
        g_assert_cmpint (tsq_schedule_next (s, n - 1, seed), ==, n);
        g_assert_cmpint (tsq_schedule_next (s, n, seed), >, n);
      }
    }
  /* Spread over the whole range, not stuck at a few values. */
  g_assert_cmpint (jmin, <, SEC);
  g_assert_cmpint (jmax, >, 9 * SEC);
  g_assert_cmpuint (g_hash_table_size (distinct), >, 9000);
  g_free (values);
}

static void
test_interval_sequence (void)
{
  g_autoptr (TsqSchedule) plain = tsq_schedule_parse ("every 5m", NULL);
  g_autoptr (TsqSchedule) jittered = tsq_schedule_parse ("every 5m jitter 1m", NULL);
  guint32 seed = tsq_schedule_seed_for_id ("monitor-42");
  gint64 t = iso_us ("2026-06-01T00:00:00Z");
  gint64 p = t, j = t;
  guint buckets[60] = { 0 };

  /* Without jitter: exactly every 5 minutes, at the seed's phase. */
  for (int i = 0; i < 100; i++)
    {
      gint64 n = tsq_schedule_next (plain, p, seed);

      if (i > 0)
        g_assert_cmpint (n - p, ==, 300 * SEC);
      g_assert_cmpint (((n % (300 * SEC)) + 300 * SEC) % (300 * SEC), ==,
                       tsq_schedule_get_phase (plain, seed));
      p = n;
    }
  /* With jitter: gaps in [every - jitter, every + jitter]. */
  for (int i = 0; i < 1000; i++)
    {
      gint64 n = tsq_schedule_next (jittered, j, seed);

      if (i > 0)
        {
          g_assert_cmpint (n - j, >=, 240 * SEC);
          g_assert_cmpint (n - j, <=, 360 * SEC);
        }
      j = n;
    }
  /* Phases of 10,000 monitors on "every 1m" cover the minute evenly. */
  {
    g_autoptr (TsqSchedule) minute = tsq_schedule_parse ("every 1m", NULL);

    for (guint i = 0; i < 10000; i++)
      {
        g_autofree char *id = g_strdup_printf ("monitor-%u", i);

        buckets[tsq_schedule_get_phase (minute, tsq_schedule_seed_for_id (id)) / SEC]++;
      }
    for (guint i = 0; i < 60; i++)
      {
        g_assert_cmpuint (buckets[i], >, 100);
        g_assert_cmpuint (buckets[i], <, 250);
      }
  }
  g_assert_cmpuint (tsq_schedule_seed_for_id ("a"), !=, tsq_schedule_seed_for_id ("b"));
  g_assert_cmpuint (tsq_schedule_seed_for_id ("a"), ==, tsq_schedule_seed_for_id ("a"));
}

static void
test_cron_next (void)
{
  g_autoptr (TsqSchedule) s = tsq_schedule_parse ("cron 0 9 * * MON-FRI tz Europe/Berlin", NULL);
  g_autoptr (TsqSchedule) never = tsq_schedule_parse ("0 0 30 2 *", NULL);

  /* Friday 2026-06-05 09:00 CEST = 07:00Z; next is Monday 2026-06-08 07:00Z. The seed does
   * not move cron times (spreading is the scheduler's job). */
  g_assert_cmpint (tsq_schedule_next (s, iso_us ("2026-06-05T07:00:00Z"), 1), ==,
                   iso_us ("2026-06-08T07:00:00Z"));
  g_assert_cmpint (tsq_schedule_next (s, iso_us ("2026-06-05T07:00:00Z") - 1, 99), ==,
                   iso_us ("2026-06-05T07:00:00Z"));
  /* Winter: 09:00 CET = 08:00Z. */
  g_assert_cmpint (tsq_schedule_next (s, iso_us ("2026-12-01T00:00:00Z"), 1), ==,
                   iso_us ("2026-12-01T08:00:00Z"));
  g_assert_cmpint (tsq_schedule_next (never, iso_us ("2026-01-01T00:00:00Z"), 1), ==, G_MAXINT64);
}

static void
test_misfire (void)
{
  g_autoptr (TsqSchedule) s = tsq_schedule_parse ("*/5 * * * *", NULL);
  gint64 due = iso_us ("2026-06-01T10:00:00Z");
  gint64 grace = 300 * SEC;
  gboolean catch_up = TRUE;

  /* Not yet due: no misfire. */
  g_assert_cmpint (tsq_schedule_resolve_misfire (s, due, due - SEC, grace, 0, &catch_up), ==, due);
  g_assert_false (catch_up);
  /* 2 minutes late, grace 5 minutes: run once now. */
  g_assert_cmpint (tsq_schedule_resolve_misfire (s, due, due + 120 * SEC, grace, 0, &catch_up), ==,
                   due + 120 * SEC);
  g_assert_true (catch_up);
  /* Exactly at the grace limit still runs. */
  g_assert_cmpint (tsq_schedule_resolve_misfire (s, due, due + grace, grace, 0, &catch_up), ==,
                   due + grace);
  g_assert_true (catch_up);
  /* 3 hours late: the 36 missed runs are skipped; the next regular time after now. */
  g_assert_cmpint (
    tsq_schedule_resolve_misfire (s, due, due + 3 * 3600 * SEC + 7 * SEC, grace, 0, &catch_up), ==,
    iso_us ("2026-06-01T13:05:00Z"));
  g_assert_false (catch_up);
  /* Interval schedule: next regular time after now keeps the seed's phase. */
  {
    g_autoptr (TsqSchedule) iv = tsq_schedule_parse ("every 10m", NULL);
    gint64 now = due + 3600 * SEC;
    gint64 r = tsq_schedule_resolve_misfire (iv, due, now, grace, 77, &catch_up);

    g_assert_false (catch_up);
    g_assert_cmpint (r, ==, tsq_schedule_next (iv, now, 77));
    g_assert_cmpint (r, >, now);
    g_assert_cmpint (r, <=, now + 600 * SEC);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/schedule/parse-text", test_parse_text);
  g_test_add_func ("/tsq/schedule/parse-errors", test_parse_errors);
  g_test_add_func ("/tsq/schedule/json", test_json);
  g_test_add_func ("/tsq/schedule/jitter-bounds", test_jitter_bounds);
  g_test_add_func ("/tsq/schedule/interval-sequence", test_interval_sequence);
  g_test_add_func ("/tsq/schedule/cron-next", test_cron_next);
  g_test_add_func ("/tsq/schedule/misfire", test_misfire);
  return g_test_run ();
}
