/* backoff-test.c: the outbox retry schedule (exponential backoff with full jitter). */
#include <math.h>

#include "tsq-backoff.h"

#define S ((gint64)G_USEC_PER_SEC)

static double
fixed_random (gpointer user_data)
{
  return *(double *)user_data;
}

static double
grand_random (gpointer user_data)
{
  return g_rand_double (user_data);
}

static void
test_ceiling (void)
{
  TsqBackoff b;
  static const gint64 expected[] = { 5, 10, 20, 40, 80, 160, 320, 640, 900, 900 };
  guint i;

  tsq_backoff_init_default (&b);
  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (tsq_backoff_ceiling (&b, i + 1), ==, expected[i] * S);
  /* attempt 0 is the first retry too; absurd attempts stay at the cap (no overflow). */
  g_assert_cmpint (tsq_backoff_ceiling (&b, 0), ==, 5 * S);
  g_assert_cmpint (tsq_backoff_ceiling (&b, 5000), ==, 900 * S);
  g_assert_cmpint (tsq_backoff_ceiling (&b, G_MAXUINT), ==, 900 * S);
  /* NULL = defaults */
  g_assert_cmpint (tsq_backoff_ceiling (NULL, 3), ==, 20 * S);

  b.base_us = 2 * S;
  b.factor = 3;
  b.cap_us = 100 * S;
  g_assert_cmpint (tsq_backoff_ceiling (&b, 1), ==, 2 * S);
  g_assert_cmpint (tsq_backoff_ceiling (&b, 3), ==, 18 * S);
  g_assert_cmpint (tsq_backoff_ceiling (&b, 5), ==, 100 * S);
  /* a factor below 1 would shrink the delays; it is treated as 1 */
  b.factor = 0.1;
  g_assert_cmpint (tsq_backoff_ceiling (&b, 10), ==, 2 * S);
}

static void
test_jitter_bounds (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  TsqBackoff b;
  double r;
  guint attempt, i;

  tsq_backoff_init_default (&b);
  b.random = fixed_random;
  b.random_data = &r;

  /* Deterministic with an injected source: the delay is r * ceiling. */
  r = 0.0;
  g_assert_cmpint (tsq_backoff_next (&b, 1, 0), ==, 0);
  r = 0.5;
  g_assert_cmpint (tsq_backoff_next (&b, 1, 0), ==, 2500000);
  g_assert_cmpint (tsq_backoff_next (&b, 4, 0), ==, 20 * S);
  g_assert_cmpint (tsq_backoff_next (&b, 30, 0), ==, 450 * S);
  r = 0.999999;
  g_assert_cmpint (tsq_backoff_next (&b, 2, 0), <, 10 * S);
  /* A broken source cannot leave [0, ceiling]. */
  r = 7.0;
  g_assert_cmpint (tsq_backoff_next (&b, 1, 0), ==, 5 * S);
  r = -3.0;
  g_assert_cmpint (tsq_backoff_next (&b, 1, 0), ==, 0);
  r = NAN;
  g_assert_cmpint (tsq_backoff_next (&b, 1, 0), ==, 0);

  /* Full jitter over a seeded source: every delay in bounds, and they really spread (the mean of
   * many draws is near half the ceiling). */
  b.random = grand_random;
  b.random_data = rand;
  for (attempt = 1; attempt <= 12; attempt++)
    {
      gint64 ceiling = tsq_backoff_ceiling (&b, attempt);
      double sum = 0;

      for (i = 0; i < 2000; i++)
        {
          gint64 d = tsq_backoff_next (&b, attempt, 0);

          g_assert_cmpint (d, >=, 0);
          g_assert_cmpint (d, <=, ceiling);
          sum += d;
        }
      g_assert_cmpfloat (sum / 2000 / ceiling, >, 0.4);
      g_assert_cmpfloat (sum / 2000 / ceiling, <, 0.6);
    }
}

static void
test_retry_after (void)
{
  TsqBackoff b;
  double r = 0.9;

  tsq_backoff_init_default (&b);
  b.random = fixed_random;
  b.random_data = &r;
  /* The server's Retry-After wins over the schedule, even above the cap ... */
  g_assert_cmpint (tsq_backoff_next (&b, 1, 30), ==, 30 * S);
  g_assert_cmpint (tsq_backoff_next (&b, 9, 3600), ==, 3600 * S);
  /* ... but a hostile value is clamped. */
  g_assert_cmpint (tsq_backoff_next (&b, 1, G_MAXINT64), ==, TSQ_BACKOFF_MAX_RETRY_AFTER_S * S);
  /* 0 or negative = none */
  g_assert_cmpint (tsq_backoff_next (&b, 1, 0), ==, 4500000);
  g_assert_cmpint (tsq_backoff_next (&b, 1, -1), ==, 4500000);
}

static void
test_schedule_max_age (void)
{
  TsqBackoff b;
  double r = 1.0;
  gint64 t0 = 1700000000 * S;
  gint64 deadline, now, next = 0;
  guint attempt;

  tsq_backoff_init_default (&b);
  b.random = fixed_random;
  b.random_data = &r;
  deadline = t0 + b.max_age_us;

  g_assert_true (tsq_backoff_schedule (&b, 1, 0, t0, t0, &next));
  g_assert_cmpint (next, ==, t0 + 5 * S);

  /* Failing at every retry with the largest delays: the retries stay before the deadline, the last
   * one is pulled in to the deadline exactly, and a failure at the deadline is final. */
  now = t0;
  for (attempt = 1; attempt < 1000; attempt++)
    {
      if (!tsq_backoff_schedule (&b, attempt, 0, t0, now, &next))
        break;
      g_assert_cmpint (next, >, now);
      g_assert_cmpint (next, <=, deadline);
      now = next;
    }
  g_assert_cmpint (now, ==, deadline);
  /* 5+10+...+640 s = 1275 s, then 900 s steps: 1 + 8 + ceil((86400-1275)/900) tries */
  g_assert_cmpuint (attempt, ==, 1 + 8 + (86400 - 1275 + 899) / 900);

  /* Retry-After that points past the deadline cannot be honoured: dead now. */
  g_assert_false (tsq_backoff_schedule (&b, 3, 7200, t0, deadline - 3600 * S, &next));
  g_assert_true (tsq_backoff_schedule (&b, 3, 1800, t0, deadline - 3600 * S, &next));
  g_assert_cmpint (next, ==, deadline - 1800 * S);
  /* A shorter max age. */
  b.max_age_us = 60 * S;
  g_assert_true (tsq_backoff_schedule (&b, 9, 0, t0, t0 + 10 * S, &next));
  g_assert_cmpint (next, ==, t0 + 60 * S);
  g_assert_false (tsq_backoff_schedule (&b, 10, 0, t0, t0 + 60 * S, &next));
}

static void
test_parse_retry_after (void)
{
  /* Wed, 21 Oct 2015 07:28:00 GMT */
  gint64 now = G_GINT64_CONSTANT (1445412480) * S;

  g_assert_cmpint (tsq_backoff_parse_retry_after ("120", now), ==, 120);
  g_assert_cmpint (tsq_backoff_parse_retry_after (" 7 ", now), ==, 7);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("0", now), ==, 0);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("99999999999999999999999", now), ==,
                   TSQ_BACKOFF_MAX_RETRY_AFTER_S);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("Wed, 21 Oct 2015 07:30:00 GMT", now), ==, 120);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("Wed, 21 Oct 2015 07:00:00 GMT", now), ==, 0);
  g_assert_cmpint (tsq_backoff_parse_retry_after (NULL, now), ==, -1);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("", now), ==, -1);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("-5", now), ==, -1);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("12abc", now), ==, -1);
  g_assert_cmpint (tsq_backoff_parse_retry_after ("soon", now), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/backoff/ceiling", test_ceiling);
  g_test_add_func ("/tsq/backoff/jitter-bounds", test_jitter_bounds);
  g_test_add_func ("/tsq/backoff/retry-after", test_retry_after);
  g_test_add_func ("/tsq/backoff/schedule-max-age", test_schedule_max_age);
  g_test_add_func ("/tsq/backoff/parse-retry-after", test_parse_retry_after);
  return g_test_run ();
}
