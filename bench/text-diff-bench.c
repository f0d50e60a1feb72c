/* text-diff-bench.c: tsq_text_diff on 256 KiB texts (the worst sizes a scan stores); prints
 * medians. */
#include "tsq-text-diff.h"

#include <stdlib.h>

#include <string.h>

#define RUNS 7

static char *
random_text (GRand *rand, gsize size, gboolean lines)
{
  static const char *words[] = { "alpha", "beta", "gamma", "delta",  "epsilon", "zeta",  "eta",
                                 "theta", "iota", "kappa", "lambda", "omicron", "sigma", "omega" };
  GString *s = g_string_new (NULL);

  while (s->len < size)
    {
      g_string_append (s, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      g_string_append_c (s, g_rand_int_range (rand, 0, 10) == 0 ? (lines ? '\n' : '.') : ' ');
      if (!lines && s->str[s->len - 1] == '.')
        g_string_append_c (s, ' ');
    }
  g_string_truncate (s, size);
  return g_string_free (s, FALSE);
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static void
bench (const char *name, const char *a, const char *b)
{
  double times[RUNS];

  for (int i = 0; i < RUNS; i++)
    {
      gint64 start = g_get_monotonic_time ();
      g_autofree char *diff = tsq_text_diff (a, b, 20);

      times[i] = (g_get_monotonic_time () - start) / 1000.0;
    }
  qsort (times, RUNS, sizeof (double), compare_doubles);
  g_print ("%-44s median %8.2f ms  (min %.2f, max %.2f)\n", name, times[RUNS / 2], times[0],
           times[RUNS - 1]);
}

int
main (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autofree char *a = random_text (rand, 256 * 1024, FALSE);
  g_autofree char *b = random_text (rand, 256 * 1024, FALSE);
  g_autofree char *la = random_text (rand, 256 * 1024, TRUE);
  g_autofree char *lb = random_text (rand, 256 * 1024, TRUE);
  g_autofree char *edited = g_strdup (a);
  g_autofree char *ledited = g_strdup (la);
  g_autofree char *many = g_strdup (la);

  /* 50 scattered one-character edits. */
  for (int i = 0; i < 50; i++)
    {
      edited[g_rand_int_range (rand, 0, 256 * 1024)] = 'Q';
      ledited[g_rand_int_range (rand, 0, 256 * 1024)] = 'Q';
    }
  /* 450 edits: D near the Myers bound of 1000 on ~40,000 units (the slowest exact case). */
  for (int i = 0; i < 450; i++)
    many[g_rand_int_range (rand, 0, 256 * 1024)] = 'Q';
  bench ("256 KiB one line, unrelated", a, b);
  bench ("256 KiB one line, 50 scattered edits", a, edited);
  bench ("256 KiB short lines, unrelated", la, lb);
  bench ("256 KiB short lines, 50 scattered edits", la, ledited);
  bench ("256 KiB short lines, 450 scattered edits", la, many);
  return 0;
}
