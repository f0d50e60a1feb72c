/* version-test.c: version ordering and range parsing. */
#include <string.h>

#include "tsq-version.h"

typedef struct
{
  const char *a;
  const char *b;
  int expected; /* sign */
} CompareCase;

static int
sign (int v)
{
  return v < 0 ? -1 : (v > 0 ? 1 : 0);
}

static void
test_compare_table (void)
{
  static const CompareCase cases[] = {
    { "1.10", "1.9", 1 },
    { "1.9", "1.10", -1 },
    { "3.4.1", "3.4", 1 },
    { "3.4", "3.4.0", 0 },
    { "3.4.0.0", "3.4", 0 },
    { "1.0.0-rc1", "1.0.0", -1 },
    { "1.0.0", "1.0.0-rc1", 1 },
    { "1.0.0-alpha", "1.0.0-beta", -1 },
    { "1.0.0-beta", "1.0.0-rc1", -1 },
    { "1.0.0-beta.2", "1.0.0-beta.11", -1 },
    { "1.0.0-rc.1", "1.0.0-rc1", 0 },
    { "1.0.0-dev", "1.0.0-alpha", -1 },
    { "1.0.0-rc1", "0.9.9", 1 },
    { "v1.2.3", "1.2.3", 0 },
    { "V2.0", "1.99", 1 },
    { "2.4.49", "2.4.50", -1 },
    { "10.0.0", "9.99.99", 1 },
    { "007.1", "7.1", 0 },
    { "1.0.2k", "1.0.2", 1 }, /* OpenSSL letter releases come after the base release */
    { "1.0.2k", "1.0.2h", 1 },
    { "1.0.1f", "1.0.1g", -1 },
    { "1.0.2k-fips", "1.0.2k", 1 },
    { "1.0.2", "1.0.1g", 1 },
    { "3.9.0b1", "3.9.0", -1 }, /* a single letter followed by a number is a pre-release */
    { "9.0.0.M1", "9.0.0", -1 },
    { "9.0.0.M1", "9.0.0-M1", 0 },
    { "9.0.0.M3", "9.0.0.M10", -1 },
    { "7.4.3-1ubuntu2", "7.4.3", 1 },
    { "7.4.3-1ubuntu2", "7.4.4", -1 },
    { "1.2.3+build5", "1.2.3", 0 }, /* build metadata is ignored */
    { "1.13.0-2", "1.13.0-1", 1 },
    { "1.13.0-2", "1.13.0", 1 },
    { "99999999999999999999999.1", "99999999999999999999998.9", 1 }, /* no overflow */
    { "garbage", "0.0.1", -1 },
    { "0.0.1", "garbage", 1 },
    { "", "1", -1 },
    { NULL, "1", -1 },
    { NULL, NULL, 0 },
    { "abc", "abd", -1 },
    { "abc", "abc", 0 },
    { "v", "1", -1 },
    { " 1.2", "1.2", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int got = sign (tsq_version_compare (cases[i].a, cases[i].b));

      if (got != cases[i].expected)
        g_error ("compare(\"%s\", \"%s\") = %d, expected %d", cases[i].a ? cases[i].a : "(null)",
                 cases[i].b ? cases[i].b : "(null)", got, cases[i].expected);
      /* Antisymmetry: swapping the arguments flips the sign. */
      g_assert_cmpint (sign (tsq_version_compare (cases[i].b, cases[i].a)), ==, -got);
    }
}

static void
test_compare_is_total_order (void)
{
  static const char *const versions[] = {
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
    "1.0.0-rc.1",  "1.0.0",         "1.0.0a",     "1.0.1",        "1.10",
    "2",           "garbage",       "",           "v3",           "3.0.0+meta",
    "1.0.2k-fips", "9.0.0.M1",      "1.9",
  };

  /* Transitivity over every triple: a <= b and b <= c imply a <= c. */
  for (guint a = 0; a < G_N_ELEMENTS (versions); a++)
    for (guint b = 0; b < G_N_ELEMENTS (versions); b++)
      for (guint c = 0; c < G_N_ELEMENTS (versions); c++)
        {
          int ab = tsq_version_compare (versions[a], versions[b]);
          int bc = tsq_version_compare (versions[b], versions[c]);

          if (ab <= 0 && bc <= 0)
            g_assert_cmpint (tsq_version_compare (versions[a], versions[c]), <=, 0);
        }
}

static void
test_is_valid (void)
{
  g_assert_true (tsq_version_is_valid ("1"));
  g_assert_true (tsq_version_is_valid ("v1.2"));
  g_assert_true (tsq_version_is_valid ("1.0.2k"));
  g_assert_false (tsq_version_is_valid (""));
  g_assert_false (tsq_version_is_valid (NULL));
  g_assert_false (tsq_version_is_valid ("v"));
  g_assert_false (tsq_version_is_valid ("latest"));
  g_assert_false (tsq_version_is_valid (".1"));
}

typedef struct
{
  const char *version;
  const char *range;
  gboolean expected;
} RangeCase;

static void
test_in_range (void)
{
  static const RangeCase cases[] = {
    { "3.4.1", ">=1.2.0 <3.5.0", TRUE },
    { "3.5.0", ">=1.2.0 <3.5.0", FALSE },
    { "1.2.0", ">=1.2.0 <3.5.0", TRUE },
    { "1.1.9", ">=1.2.0 <3.5.0", FALSE },
    { "3.5.0-rc1", "<3.5.0", TRUE },
    { "1.11.3", "<1.12.0", TRUE },
    { "1.12.0", "<1.12.0", FALSE },
    { "2.0.1", "=2.0.1", TRUE },
    { "2.0.1", "==2.0.1", TRUE },
    { "2.0.1", "2.0.1", TRUE },
    { "2.0", "=2.0.0", TRUE },
    { "2.0.2", "=2.0.1", FALSE },
    { "0.0.1", "*", TRUE },
    { "v5", "*", TRUE },
    { "garbage", "*", FALSE },
    { "", "*", FALSE },
    { NULL, "*", FALSE },
    { "3.3.7", "<3.4.1 || >=4.0.0 <4.3.1", TRUE },
    { "3.4.1", "<3.4.1 || >=4.0.0 <4.3.1", FALSE },
    { "4.1.0", "<3.4.1 || >=4.0.0 <4.3.1", TRUE },
    { "4.3.1", "<3.4.1 || >=4.0.0 <4.3.1", FALSE },
    { "5.0.0", "<3.4.1 || >=4.0.0 <4.3.1", FALSE },
    { "1.2.0", ">= 1.2.0  <  2", TRUE }, /* operators may stand apart from the version */
    { "1.8.3", "<=1.8.3", TRUE },
    { "1.8.4", "<=1.8.3", FALSE },
    { "1.8.4", ">1.8.3", TRUE },
    { "1.8.3", ">1.8.3", FALSE },
    { "1.0.1f", ">=1.0.1 <1.0.1g", TRUE },
    { "1.0.1g", ">=1.0.1 <1.0.1g", FALSE },
    { "1.0.2k-fips", ">=1.0.1 <1.0.1t || >=1.0.2 <1.0.2h", FALSE },
    { "1.0.2g", ">=1.0.1 <1.0.1t || >=1.0.2 <1.0.2h", TRUE },
    { "9.0.0.M5", ">=9.0.0-M1 <9.0.31", TRUE },
    { "8.0.53", ">=7.0.0 <7.0.100 || >=8.5.0 <8.5.51", FALSE },
    { "1.13.0-1", ">=1.3.2 <1.12.1 || >=1.13.0-0 <1.13.0-2", TRUE },
    { "1.13.0", ">=1.3.2 <1.12.1 || >=1.13.0-0 <1.13.0-2", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      gboolean got = tsq_version_in_range (cases[i].version, cases[i].range, &error);

      g_assert_no_error (error);
      if (got != cases[i].expected)
        g_error ("in_range(\"%s\", \"%s\") = %d, expected %d",
                 cases[i].version ? cases[i].version : "(null)", cases[i].range, got,
                 cases[i].expected);
    }
}

static void
test_bad_ranges (void)
{
  static const char *const bad[] = {
    "",      "   ",    ">=",     ">= ",           "<1.2 >=", "abc",
    ">=abc", "1.2 ||", "|| 1.2", "1.2 || || 2.0", "^1.2.0",  "~1.2",
    "!=1.0", "1.2.x",  "1.*",    ">=1.2<2.0",     "<<1.0",   "1.0 | 2.0",
  };
  g_autofree char *huge = g_strnfill (10000, '1');

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (tsq_version_in_range ("1.2.0", bad[i], &error));
      if (error == NULL)
        g_error ("range \"%s\" was accepted", bad[i]);
      g_assert_error (error, TSQ_VERSION_ERROR, TSQ_VERSION_ERROR_INVALID_RANGE);
    }

  {
    g_autoptr (GError) error = NULL;

    g_assert_false (tsq_version_in_range ("1", NULL, &error));
    g_assert_error (error, TSQ_VERSION_ERROR, TSQ_VERSION_ERROR_INVALID_RANGE);
  }
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (tsq_version_in_range ("1", huge, &error));
    g_assert_error (error, TSQ_VERSION_ERROR, TSQ_VERSION_ERROR_INVALID_RANGE);
  }
  {
    g_autoptr (GError) error = NULL;

    /* The message quotes the offending token so a data file typo is easy to find. */
    g_assert_false (tsq_version_in_range ("1", ">=1.0 ^2.0", &error));
    g_assert_nonnull (strstr (error->message, "^2.0"));
  }
}

static void
test_parsed_range_reuse (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqVersionRange) range = tsq_version_range_parse (">=0.6.18 <1.20.1", &error);

  g_assert_no_error (error);
  g_assert_nonnull (range);
  g_assert_true (tsq_version_range_contains (range, "1.18.0"));
  g_assert_true (tsq_version_range_contains (range, "1.20.0"));
  g_assert_false (tsq_version_range_contains (range, "1.20.1"));
  g_assert_false (tsq_version_range_contains (range, "1.21.0"));
  g_assert_false (tsq_version_range_contains (range, "0.6.17"));
  g_assert_false (tsq_version_range_contains (range, NULL));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/version/compare-table", test_compare_table);
  g_test_add_func ("/tsq/version/total-order", test_compare_is_total_order);
  g_test_add_func ("/tsq/version/is-valid", test_is_valid);
  g_test_add_func ("/tsq/version/in-range", test_in_range);
  g_test_add_func ("/tsq/version/bad-ranges", test_bad_ranges);
  g_test_add_func ("/tsq/version/parsed-range", test_parsed_range_reuse);
  return g_test_run ();
}
