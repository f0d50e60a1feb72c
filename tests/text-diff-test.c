/* text-diff-test.c: the bounded line/sentence diff. */
#include "tsq-text-diff.h"

#include <string.h>

static guint
count_lines_with_prefix (const char *diff, char prefix)
{
  g_auto (GStrv) lines = g_strsplit (diff, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] == prefix)
      n++;
  return n;
}

static void
test_equal (void)
{
  g_assert_null (tsq_text_diff ("a\nb\n", "a\nb\n", 10));
  g_assert_null (tsq_text_diff (NULL, NULL, 10));
  g_assert_null (tsq_text_diff ("", NULL, 10));
  /* Differences in whitespace only are not unit-level differences. */
  g_assert_null (tsq_text_diff ("a\n  b\n", "a\nb  \n\n", 10));
}

static void
test_changed_line (void)
{
  g_autofree char *diff = tsq_text_diff ("one\ntwo\nthree\n", "one\nTWO\nthree\n", 10);

  g_assert_cmpstr (diff, ==, "-two\n+TWO\n");
}

static void
test_insertions_and_deletions (void)
{
  g_autofree char *ins = tsq_text_diff ("a\nc\ne", "a\nb\nc\nd\ne", 10);
  g_autofree char *del = tsq_text_diff ("a\nb\nc\nd\ne", "a\nc\ne", 10);
  g_autofree char *from_empty = tsq_text_diff (NULL, "x\ny", 10);
  g_autofree char *to_empty = tsq_text_diff ("x\ny", "", 10);
  g_autofree char *mixed = tsq_text_diff ("a\nb\nc\nd", "a\nX\nY\nc\nd\nZ", 10);

  g_assert_cmpstr (ins, ==, "+b\n+d\n");
  g_assert_cmpstr (del, ==, "-b\n-d\n");
  g_assert_cmpstr (from_empty, ==, "+x\n+y\n");
  g_assert_cmpstr (to_empty, ==, "-x\n-y\n");
  /* Within a run of changes, removals come first. */
  g_assert_cmpstr (mixed, ==, "-b\n+X\n+Y\n+Z\n");
}

static void
test_sentences (void)
{
  const char *old_text
    = "Welcome to our little shop in the old town, where everything is on sale this week. "
      "Opening hours are nine to five on weekdays. "
      "Call us at any time! Do you need help? We ship worldwide, and returns are free.";
  const char *new_text
    = "Welcome to our little shop in the old town, where everything is on sale this week. "
      "Opening hours are ten to six on weekdays. "
      "Call us at any time! Do you need help? We ship worldwide, and returns are free.";
  g_autofree char *diff = tsq_text_diff (old_text, new_text, 10);

  g_assert_cmpuint (strlen (old_text), >, 200);
  g_assert_cmpstr (diff, ==,
                   "-Opening hours are nine to five on weekdays.\n"
                   "+Opening hours are ten to six on weekdays.\n");
}

static char *
random_words (GRand *rand, guint n_words, gboolean punctuation)
{
  static const char *words[] = { "alpha",       "beta",         "gamma",
                                 "delta",       "epsilon",      "zeta",
                                 "eta",         "theta",        "iota",
                                 "kappa",       "lambda",       "mu",
                                 "nu",          "xi",           "omicron",
                                 "pi",          "rho",          "sigma",
                                 "tau",         "upsilon",      "phi",
                                 "chi",         "psi",          "omega",
                                 "caf\xc3\xa9", "na\xc3\xafve", "\xe6\x97\xa5\xe6\x9c\xac" };
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n_words; i++)
    {
      g_string_append (s, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      if (punctuation && g_rand_int_range (rand, 0, 12) == 0)
        g_string_append_c (s, '.');
      g_string_append_c (s, ' ');
    }
  return g_string_free (s, FALSE);
}

static void
test_long_line_insertion_is_local (void)
{
  /* 2,000 words without any punctuation: content-defined chunks keep an insertion at the start
   * from shifting every later unit. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree char *old_text = random_words (rand, 2000, FALSE);
  g_autofree char *new_text = g_strconcat ("brand new words here ", old_text, NULL);
  g_autofree char *diff = tsq_text_diff (old_text, new_text, 100);

  g_assert_nonnull (diff);
  g_assert_true (g_utf8_validate (diff, -1, NULL));
  g_assert_cmpuint (count_lines_with_prefix (diff, '-') + count_lines_with_prefix (diff, '+'), <=,
                    4);
  g_assert_nonnull (strstr (diff, "brand new words here"));
}

static void
test_truncation (void)
{
  GString *a = g_string_new (NULL);
  GString *b = g_string_new (NULL);
  g_autofree char *diff = NULL;
  g_autofree char *long_diff = NULL;
  g_autofree char *old_line = g_strnfill (1000, 'x');

  for (guint i = 0; i < 50; i++)
    {
      g_string_append_printf (a, "old line %u\n", i);
      g_string_append_printf (b, "new line %u\n", i);
    }
  diff = tsq_text_diff (a->str, b->str, 5);
  g_assert_cmpuint (count_lines_with_prefix (diff, '-') + count_lines_with_prefix (diff, '+'), ==,
                    5);
  g_assert_true (g_str_has_suffix (diff, "... (+95 more changed lines)\n"));
  g_string_free (a, TRUE);
  g_string_free (b, TRUE);

  /* A 1,000-byte unit (no spaces: hard-cut chunks of 400) is shown cut to the line maximum. */
  long_diff = tsq_text_diff ("short", old_line, 10);
  g_assert_nonnull (long_diff);
  {
    g_auto (GStrv) lines = g_strsplit (long_diff, "\n", -1);

    g_assert_cmpstr (lines[0], ==, "-short");
    for (guint i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
      g_assert_cmpuint (strlen (lines[i]), <=, 1 + TSQ_TEXT_DIFF_LINE_MAX + 3);
  }
}

/* Length of the longest common subsequence, by dynamic programming (the reference). */
static guint
lcs_length (char **a, guint n, char **b, guint m)
{
  g_autofree guint *dp = g_new0 (guint, (n + 1) * (m + 1));

  for (guint i = 1; i <= n; i++)
    for (guint j = 1; j <= m; j++)
      {
        if (g_str_equal (a[i - 1], b[j - 1]))
          dp[i * (m + 1) + j] = dp[(i - 1) * (m + 1) + j - 1] + 1;
        else
          dp[i * (m + 1) + j] = MAX (dp[(i - 1) * (m + 1) + j], dp[i * (m + 1) + j - 1]);
      }
  return dp[n * (m + 1) + m];
}

static void
test_minimal_random (void)
{
  /* Property: Myers gives a minimal script, so #removed + #added == n + m - 2 LCS, and the removed
   * (added) units are a sub-multiset of the old (new) units. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);

  for (guint round = 0; round < 300; round++)
    {
      guint n = g_rand_int_range (rand, 0, 25);
      guint m = g_rand_int_range (rand, 0, 25);
      g_autoptr (GPtrArray) a = g_ptr_array_new_with_free_func (g_free);
      g_autoptr (GPtrArray) b = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *ta = NULL;
      g_autofree char *tb = NULL;
      g_autofree char *diff = NULL;
      guint lcs;

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (a, g_strdup_printf ("u%d", g_rand_int_range (rand, 0, 6)));
      for (guint j = 0; j < m; j++)
        g_ptr_array_add (b, g_strdup_printf ("u%d", g_rand_int_range (rand, 0, 6)));
      g_ptr_array_add (a, NULL);
      g_ptr_array_add (b, NULL);
      ta = g_strjoinv ("\n", (char **)a->pdata);
      tb = g_strjoinv ("\n", (char **)b->pdata);
      lcs = lcs_length ((char **)a->pdata, n, (char **)b->pdata, m);
      diff = tsq_text_diff (ta, tb, 1000);
      if (lcs == n && lcs == m)
        {
          g_assert_null (diff);
          continue;
        }
      g_assert_nonnull (diff);
      g_assert_cmpuint (count_lines_with_prefix (diff, '-'), ==, n - lcs);
      g_assert_cmpuint (count_lines_with_prefix (diff, '+'), ==, m - lcs);
      {
        g_auto (GStrv) lines = g_strsplit (diff, "\n", -1);
        g_autoptr (GHashTable) left_a
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr (GHashTable) left_b
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

        for (guint i = 0; i < n; i++)
          g_hash_table_insert (
            left_a, g_strdup (a->pdata[i]),
            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (left_a, a->pdata[i])) + 1));
        for (guint j = 0; j < m; j++)
          g_hash_table_insert (
            left_b, g_strdup (b->pdata[j]),
            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (left_b, b->pdata[j])) + 1));
        for (guint i = 0; lines[i] != NULL; i++)
          {
            GHashTable *side = lines[i][0] == '-' ? left_a : lines[i][0] == '+' ? left_b : NULL;
            guint left;

            if (side == NULL)
              continue;
            left = GPOINTER_TO_UINT (g_hash_table_lookup (side, lines[i] + 1));
            g_assert_cmpuint (left, >, 0);
            g_hash_table_insert (side, g_strdup (lines[i] + 1), GUINT_TO_POINTER (left - 1));
          }
      }
    }
}

static void
test_large_inputs_bounded (void)
{
  /* Two unrelated 256 KiB texts (Myers bound exceeded: coarse fallback), a 256 KiB text with a
   * small edit in the middle, and 256 KiB of one-character lines.  No timing assertion: these
   * must simply complete, with output bounded by max_lines. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  g_autofree char *a = random_words (rand, 60000, TRUE);
  g_autofree char *b = random_words (rand, 60000, TRUE);
  g_autofree char *diff = NULL;
  g_autofree char *edited = NULL;
  g_autofree char *edit_diff = NULL;
  GString *tiny_a = g_string_new (NULL);
  GString *tiny_b = g_string_new (NULL);
  g_autofree char *tiny_diff = NULL;
  gsize mid;

  /* Exactly 256 KiB, cut at a space so that the texts stay valid UTF-8. */
  g_assert_cmpuint (strlen (a), >, 256 * 1024);
  g_assert_cmpuint (strlen (b), >, 256 * 1024);
  a[256 * 1024 - 1] = '\0';
  b[256 * 1024 - 1] = '\0';
  for (gsize i = 256 * 1024 - 2; a[i] != ' '; i--)
    a[i] = 'x';
  for (gsize i = 256 * 1024 - 2; b[i] != ' '; i--)
    b[i] = 'x';
  diff = tsq_text_diff (a, b, 20);
  g_assert_nonnull (diff);
  g_assert_true (g_utf8_validate (diff, -1, NULL));
  g_assert_cmpuint (count_lines_with_prefix (diff, '-') + count_lines_with_prefix (diff, '+'), ==,
                    20);
  g_assert_true (g_str_has_prefix (strstr (diff, "\n..."), "\n... (+"));
  g_assert_cmpuint (strlen (diff), <, 21 * (TSQ_TEXT_DIFF_LINE_MAX + 8) + 64);

  /* A sentence inserted in the middle of 256 KiB shows up as exactly that sentence. */
  mid = strlen (a) / 2;
  while (a[mid] != '.' && a[mid] != '\0')
    mid++;
  g_assert_cmpint (a[mid], ==, '.');
  edited = g_strdup_printf ("%.*s. Totally new sentence inserted here%s", (int)mid, a, a + mid);
  edit_diff = tsq_text_diff (a, edited, 20);
  g_assert_cmpstr (edit_diff, ==, "+Totally new sentence inserted here.\n");

  for (guint i = 0; i < 128 * 1024; i++)
    {
      g_string_append_printf (tiny_a, "%c\n", 'a' + g_rand_int_range (rand, 0, 26));
      g_string_append_printf (tiny_b, "%c\n", 'a' + g_rand_int_range (rand, 0, 26));
    }
  tiny_diff = tsq_text_diff (tiny_a->str, tiny_b->str, 20);
  g_assert_nonnull (tiny_diff);
  g_assert_cmpuint (
    count_lines_with_prefix (tiny_diff, '-') + count_lines_with_prefix (tiny_diff, '+'), <=, 20);
  g_string_free (tiny_a, TRUE);
  g_string_free (tiny_b, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/text-diff/equal", test_equal);
  g_test_add_func ("/tsq/text-diff/changed-line", test_changed_line);
  g_test_add_func ("/tsq/text-diff/insertions-deletions", test_insertions_and_deletions);
  g_test_add_func ("/tsq/text-diff/sentences", test_sentences);
  g_test_add_func ("/tsq/text-diff/long-line-insertion", test_long_line_insertion_is_local);
  g_test_add_func ("/tsq/text-diff/truncation", test_truncation);
  g_test_add_func ("/tsq/text-diff/minimal-random", test_minimal_random);
  g_test_add_func ("/tsq/text-diff/large-inputs", test_large_inputs_bounded);
  return g_test_run ();
}
