/* rate-limiter-test.c: token refill with a fake clock, isolation, in-flight cap, fairness, psl. */
#include "tsq-rate-limiter.h"

#define SEC ((gint64)G_USEC_PER_SEC)
#define T0 ((gint64)1780000000 * SEC)

static void
test_refill (void)
{
  g_autoptr (TsqRateLimiter) rl = tsq_rate_limiter_new (0.1, 1, 100);
  gpointer jobs[8];
  gint64 next = 0;

  tsq_rate_limiter_enqueue (rl, "a.com", GINT_TO_POINTER (1));
  tsq_rate_limiter_enqueue (rl, "a.com", GINT_TO_POINTER (2));
  tsq_rate_limiter_enqueue (rl, "a.com", GINT_TO_POINTER (3));
  g_assert_cmpuint (tsq_rate_limiter_get_queued (rl), ==, 3);

  /* A fresh bucket holds one token: the first job starts now, the next one 10 s later. */
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 8, &next), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (jobs[0]), ==, 1);
  g_assert_cmpint (next, ==, T0 + 10 * SEC);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 10 * SEC - 1, jobs, 8, &next), ==, 0);
  g_assert_cmpint (next, ==, T0 + 10 * SEC);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 10 * SEC, jobs, 8, &next), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (jobs[0]), ==, 2);
  g_assert_cmpint (next, ==, T0 + 20 * SEC);
  /* 25 s later the bucket is capped at burst = 1: one job, not two. */
  tsq_rate_limiter_enqueue (rl, "a.com", GINT_TO_POINTER (4));
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 45 * SEC, jobs, 8, &next), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (jobs[0]), ==, 3);
  g_assert_cmpint (next, ==, T0 + 55 * SEC);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 55 * SEC, jobs, 8, &next), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (jobs[0]), ==, 4);
  g_assert_cmpint (next, ==, G_MAXINT64);
  g_assert_cmpuint (tsq_rate_limiter_get_queued (rl), ==, 0);
  g_assert_cmpuint (tsq_rate_limiter_get_in_flight (rl), ==, 4);
}

static void
test_burst_and_override (void)
{
  g_autoptr (TsqRateLimiter) rl = tsq_rate_limiter_new (0.1, 1, 0);
  gpointer jobs[16];
  gint64 next;

  tsq_rate_limiter_set_domain_rate (rl, "fast.com", 1.0, 3);
  for (int i = 0; i < 6; i++)
    tsq_rate_limiter_enqueue (rl, "fast.com", GINT_TO_POINTER (i + 1));
  /* Burst 3 at once, then one per second. */
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 16, &next), ==, 3);
  g_assert_cmpint (next, ==, T0 + SEC);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 500000, jobs, 16, &next), ==, 0);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + SEC, jobs, 16, &next), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (jobs[0]), ==, 4);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 3 * SEC, jobs, 16, &next), ==, 2);
  g_assert_cmpint (next, ==, G_MAXINT64);

  /* Unlimited domain (rate <= 0). */
  tsq_rate_limiter_set_domain_rate (rl, "internal", 0, 1);
  for (int i = 0; i < 50; i++)
    tsq_rate_limiter_enqueue (rl, "internal", GINT_TO_POINTER (i + 1));
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 16, &next), ==, 16);
  g_assert_cmpint (next, ==, T0); /* more ready, max reached */
}

static void
test_domain_isolation (void)
{
  g_autoptr (TsqRateLimiter) rl = tsq_rate_limiter_new (0.1, 1, 100);
  gpointer jobs[8];
  gint64 next;

  tsq_rate_limiter_enqueue (rl, "a.com", "a1");
  tsq_rate_limiter_enqueue (rl, "a.com", "a2");
  tsq_rate_limiter_enqueue (rl, "b.com", "b1");
  tsq_rate_limiter_enqueue (rl, "b.com", "b2");
  /* One each now: a.com's wait does not delay b.com. */
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 8, &next), ==, 2);
  g_assert_cmpstr (jobs[0], ==, "a1");
  g_assert_cmpstr (jobs[1], ==, "b1");
  g_assert_cmpint (next, ==, T0 + 10 * SEC);
  /* c.com arriving later is served immediately. */
  tsq_rate_limiter_enqueue (rl, "c.com", "c1");
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + SEC, jobs, 8, &next), ==, 1);
  g_assert_cmpstr (jobs[0], ==, "c1");
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 10 * SEC, jobs, 8, &next), ==, 2);
  g_assert_cmpuint (tsq_rate_limiter_get_queued (rl), ==, 0);

  /* Cancel removes a waiting job. */
  tsq_rate_limiter_enqueue (rl, "a.com", "a3");
  tsq_rate_limiter_enqueue (rl, "a.com", "a4");
  g_assert_cmpuint (tsq_rate_limiter_cancel (rl, "a.com", "a3"), ==, 1);
  g_assert_cmpuint (tsq_rate_limiter_cancel (rl, "nope.com", "a3"), ==, 0);
  g_assert_cmpuint (tsq_rate_limiter_get_queued (rl), ==, 1);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + 20 * SEC, jobs, 8, &next), ==, 1);
  g_assert_cmpstr (jobs[0], ==, "a4");
  g_assert_cmpuint (tsq_rate_limiter_cancel (rl, "a.com", "a4"), ==, 0);
}

static void
test_in_flight_cap (void)
{
  g_autoptr (TsqRateLimiter) rl = tsq_rate_limiter_new (0.1, 1, 2);
  gpointer jobs[8];
  gint64 next;

  for (int i = 0; i < 5; i++)
    {
      g_autofree char *domain = g_strdup_printf ("d%d.com", i);

      tsq_rate_limiter_enqueue (rl, domain, GINT_TO_POINTER (i + 1));
    }
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 8, &next), ==, 2);
  g_assert_cmpint (next, ==, G_MAXINT64); /* blocked by the cap until a release */
  g_assert_cmpuint (tsq_rate_limiter_get_in_flight (rl), ==, 2);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + SEC, jobs, 8, &next), ==, 0);
  tsq_rate_limiter_release (rl);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + SEC, jobs, 8, &next), ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (jobs[0]), ==, 3);
  tsq_rate_limiter_release (rl);
  tsq_rate_limiter_release (rl);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0 + SEC, jobs, 8, &next), ==, 2);
  g_assert_cmpuint (tsq_rate_limiter_get_in_flight (rl), ==, 2);
  g_assert_cmpuint (tsq_rate_limiter_get_queued (rl), ==, 0);
}

static void
test_fairness (void)
{
  g_autoptr (TsqRateLimiter) rl = tsq_rate_limiter_new (0.1, 1, 1);
  gpointer jobs[4];
  gint64 next;
  guint served_big = 0;

  /* big.com may start 1000/s and has 1000 jobs queued before small.com's one job; with one
   * in-flight slot, small.com is served second, not 1001st. */
  tsq_rate_limiter_set_domain_rate (rl, "big.com", 1000, 1000);
  for (int i = 0; i < 1000; i++)
    tsq_rate_limiter_enqueue (rl, "big.com", "big");
  tsq_rate_limiter_enqueue (rl, "small.com", "small");

  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 4, &next), ==, 1);
  g_assert_cmpstr (jobs[0], ==, "big");
  tsq_rate_limiter_release (rl);
  g_assert_cmpuint (tsq_rate_limiter_take_ready (rl, T0, jobs, 4, &next), ==, 1);
  g_assert_cmpstr (jobs[0], ==, "small");
  tsq_rate_limiter_release (rl);
  while (tsq_rate_limiter_take_ready (rl, T0 + SEC, jobs, 1, &next) == 1)
    {
      g_assert_cmpstr (jobs[0], ==, "big");
      served_big++;
      tsq_rate_limiter_release (rl);
    }
  g_assert_cmpuint (served_big, ==, 999);

  /* Round robin among three unlimited domains. */
  {
    g_autoptr (TsqRateLimiter) rr = tsq_rate_limiter_new (0, 1, 0);
    gpointer out[9];
    g_autoptr (GString) order = g_string_new (NULL);

    for (int i = 0; i < 3; i++)
      {
        tsq_rate_limiter_enqueue (rr, "a", "a");
        tsq_rate_limiter_enqueue (rr, "b", "b");
        tsq_rate_limiter_enqueue (rr, "c", "c");
      }
    g_assert_cmpuint (tsq_rate_limiter_take_ready (rr, T0, out, 9, NULL), ==, 9);
    for (int i = 0; i < 9; i++)
      g_string_append (order, out[i]);
    g_assert_cmpstr (order->str, ==, "abcabcabc");
  }
}

static void
test_domain_for_url (void)
{
  static const struct
  {
    const char *url;
    const char *domain;
  } cases[] = {
    { "https://www.bbc.co.uk/news", "bbc.co.uk" },
    { "http://a.b.example.com/x?y=1", "example.com" },
    { "http://127.0.0.1:8080/", "127.0.0.1" },
    { "http://localhost/", "localhost" },
    { "http://[::1]:8080/", "::1" },
    { "https://WWW.Example.COM./", "example.com" },
    { "https://user:pw@shop.example.org:8443/", "example.org" },
    { "https://foo.github.io/", "foo.github.io" }, /* github.io is a public suffix */
    { "https://co.uk/", "co.uk" },                 /* a public suffix itself */
    { "news.ycombinator.com", "ycombinator.com" }, /* bare host */
    { "", NULL },
    { "http://", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *d = tsq_rate_limiter_domain_for_url (cases[i].url);

      g_assert_cmpstr (d, ==, cases[i].domain);
    }
  g_assert_null (tsq_rate_limiter_domain_for_url (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/rate-limiter/refill", test_refill);
  g_test_add_func ("/tsq/rate-limiter/burst-and-override", test_burst_and_override);
  g_test_add_func ("/tsq/rate-limiter/domain-isolation", test_domain_isolation);
  g_test_add_func ("/tsq/rate-limiter/in-flight-cap", test_in_flight_cap);
  g_test_add_func ("/tsq/rate-limiter/fairness", test_fairness);
  g_test_add_func ("/tsq/rate-limiter/domain-for-url", test_domain_for_url);
  return g_test_run ();
}
