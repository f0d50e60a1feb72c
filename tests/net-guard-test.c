/* net-guard-test.c: CIDR parsing and SSRF guard decisions. */
#include "tsq-net-guard.h"

static gboolean
allowed (TsqNetGuard *guard, const char *address, char **message)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr (GError) error = NULL;
  gboolean ok;

  g_assert_nonnull (inet);
  ok = tsq_net_guard_check (guard, inet, &error);
  if (ok)
    g_assert_no_error (error);
  else
    g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  if (message != NULL)
    *message = error ? g_strdup (error->message) : NULL;
  return ok;
}

static void
test_cidr_parsing (void)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_empty ();
  const char *good[] = {
    "10.0.0.0/8", "192.168.1.0/24", "1.2.3.4", "1.2.3.4/32", "0.0.0.0/0",          "::1/128",
    "::/0",       "2001:db8::/32",  "fe80::1", "10.1.2.3/8", "::ffff:1.2.3.4/128",
  };
  const char *bad[] = {
    "",         "10.0.0.0/", "10.0.0.0/33",   "::1/129",      "10.0.0.0/-1", "10.0.0.0/8/8",
    "10.0.0/8", "256.1.1.1", "example.com/8", "10.0.0.0/abc", "10.0.0.0/ 8", " 10.0.0.0/8",
    "/8",       "[::1]/128", "1.2.3.4/0008",  "::1/1000",     "10.0.0.0/8x",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("good: %s", good[i]);
      g_assert_true (tsq_net_guard_add_blocked (guard, good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("bad: “%s”", bad[i]);
      g_assert_false (tsq_net_guard_add_blocked (guard, bad[i], &error));
      g_assert_error (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR);
      g_assert_false (tsq_net_guard_add_allowed (guard, bad[i], NULL));
    }
  g_assert_false (tsq_net_guard_add_blocked (guard, NULL, NULL));
}

static void
test_defaults (void)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_default ();
  g_autofree char *message = NULL;
  const char *refused[] = {
    "169.254.169.254",
    "169.254.0.1",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "fe80::1",
    "febf::1",
    "fd00:ec2::254",
    "ff02::1",
    "::",
    /* IPv6 forms of refused IPv4 addresses */
    "::ffff:169.254.169.254",
    "::169.254.169.254",
    "64:ff9b::169.254.169.254",
    "::ffff:0.0.0.0",
    "::ffff:224.0.0.1",
  };
  const char *allowed_by_default[] = {
    "127.0.0.1",       "10.1.2.3",    "172.16.0.1",       "192.168.0.10",
    "8.8.8.8",         "::1",         "fd00::1",          "fd00:ec2::253",
    "fec0::1",         "2001:db8::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8",
    "169.253.255.255", "169.255.0.0", "223.255.255.255",
  };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_test_message ("refused: %s", refused[i]);
      g_assert_false (allowed (guard, refused[i], NULL));
    }
  for (guint i = 0; i < G_N_ELEMENTS (allowed_by_default); i++)
    {
      g_test_message ("allowed: %s", allowed_by_default[i]);
      g_assert_true (allowed (guard, allowed_by_default[i], NULL));
    }

  /* The message names the address and the rule. */
  g_assert_false (allowed (guard, "169.254.169.254", &message));
  g_assert_nonnull (strstr (message, "169.254.169.254"));
  g_assert_nonnull (strstr (message, "169.254.0.0/16"));
  g_clear_pointer (&message, g_free);
  g_assert_false (allowed (guard, "::ffff:169.254.169.254", &message));
  g_assert_nonnull (strstr (message, "::ffff:169.254.169.254"));
  g_assert_nonnull (strstr (message, "169.254.0.0/16"));
}

static void
test_blocked_and_allowed (void)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_default ();
  g_autofree char *message = NULL;

  g_assert_true (tsq_net_guard_add_blocked (guard, "10.0.0.0/8", NULL));
  g_assert_true (tsq_net_guard_add_blocked (guard, "127.0.0.0/8", NULL));
  g_assert_true (tsq_net_guard_add_blocked (guard, "::1/128", NULL));
  g_assert_true (tsq_net_guard_add_blocked (guard, "2001:db8:1::/48", NULL));
  g_assert_true (tsq_net_guard_add_blocked (guard, "192.168.1.128/25", NULL));
  g_assert_true (tsq_net_guard_add_allowed (guard, "10.1.0.0/16", NULL));
  g_assert_true (tsq_net_guard_add_allowed (guard, "169.254.169.254/32", NULL));

  g_assert_false (allowed (guard, "10.0.0.1", &message));
  g_assert_nonnull (strstr (message, "blocked range 10.0.0.0/8"));
  g_assert_false (allowed (guard, "10.255.255.255", NULL));
  g_assert_true (allowed (guard, "10.1.2.3", NULL)); /* allowed wins */
  g_assert_true (allowed (guard, "11.0.0.0", NULL));
  g_assert_true (allowed (guard, "9.255.255.255", NULL));
  g_assert_false (allowed (guard, "127.0.0.1", NULL));
  g_assert_false (allowed (guard, "127.255.0.1", NULL));
  g_assert_false (allowed (guard, "::1", NULL));
  g_assert_false (allowed (guard, "::ffff:127.0.0.1", NULL));
  g_assert_false (allowed (guard, "::ffff:10.9.9.9", NULL));
  g_assert_true (allowed (guard, "::ffff:10.1.9.9", NULL));
  g_assert_false (allowed (guard, "2001:db8:1:ffff::1", NULL));
  g_assert_true (allowed (guard, "2001:db8:2::1", NULL));
  /* /25 boundary */
  g_assert_true (allowed (guard, "192.168.1.127", NULL));
  g_assert_false (allowed (guard, "192.168.1.128", NULL));
  g_assert_false (allowed (guard, "192.168.1.255", NULL));
  /* explicit allow overrides a default refusal, in both forms, but only that address */
  g_assert_true (allowed (guard, "169.254.169.254", NULL));
  g_assert_true (allowed (guard, "::ffff:169.254.169.254", NULL));
  g_assert_false (allowed (guard, "169.254.169.253", NULL));
}

static void
test_host_bits_and_prefix_zero (void)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_empty ();

  /* Empty guard allows everything, even the usual refusals. */
  g_assert_true (allowed (guard, "169.254.169.254", NULL));
  g_assert_true (allowed (guard, "fe80::1", NULL));

  /* Host bits are cleared: 10.1.2.3/8 is 10.0.0.0/8. */
  g_assert_true (tsq_net_guard_add_blocked (guard, "10.1.2.3/8", NULL));
  g_assert_false (allowed (guard, "10.200.0.1", NULL));

  /* /0 of one family does not touch the other. */
  g_assert_true (tsq_net_guard_add_blocked (guard, "::/0", NULL));
  g_assert_false (allowed (guard, "2001:db8::1", NULL));
  g_assert_true (allowed (guard, "8.8.8.8", NULL));
  /* ...except through the IPv4-embedding forms, judged as IPv6 first. */
  g_assert_false (allowed (guard, "::ffff:8.8.8.8", NULL));
}

static void
test_check_string_and_refs (void)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_default ();
  TsqNetGuard *extra = tsq_net_guard_ref (guard);
  g_autoptr (GError) error = NULL;

  g_assert_true (extra == guard);
  tsq_net_guard_unref (extra);
  g_assert_false (tsq_net_guard_check_string (guard, "169.254.1.1", &error));
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  g_assert_true (tsq_net_guard_check_string (guard, "example.com", NULL));
  g_assert_true (tsq_net_guard_check_string (guard, "127.0.0.1", NULL));
}

typedef struct
{
  TsqNetGuard *guard;
  guint refused;
} ThreadData;

static gpointer
check_many (gpointer pointer)
{
  ThreadData *data = pointer;

  for (guint i = 0; i < 20000; i++)
    {
      guint8 bytes[4] = { 169, 254, (guint8)(i >> 8), (guint8)i };
      g_autoptr (GInetAddress) inet = g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV4);

      if (!tsq_net_guard_check (data->guard, inet, NULL))
        data->refused++;
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_default ();
  ThreadData data[4];
  GThread *threads[4];

  for (guint i = 0; i < 4; i++)
    {
      data[i].guard = guard;
      data[i].refused = 0;
      threads[i] = g_thread_new ("guard", check_many, &data[i]);
    }
  for (guint i = 0; i < 4; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (data[i].refused, ==, 20000);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/net-guard/cidr-parsing", test_cidr_parsing);
  g_test_add_func ("/tsq/net-guard/defaults", test_defaults);
  g_test_add_func ("/tsq/net-guard/blocked-and-allowed", test_blocked_and_allowed);
  g_test_add_func ("/tsq/net-guard/host-bits-and-prefix-zero", test_host_bits_and_prefix_zero);
  g_test_add_func ("/tsq/net-guard/check-string-and-refs", test_check_string_and_refs);
  g_test_add_func ("/tsq/net-guard/threads", test_threads);
  return g_test_run ();
}
