/* storage-bench.c: SQLite storage write throughput (begin + finish scan + 2 changes per scan,
 * batched) and list_changes latency on a temporary file. Prints medians of 5 rounds. */
#include <glib/gstdio.h>

#include "tsq-json-util.h"
#include "tsq-sqlite-storage.h"

#define SCANS 2000

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tsq-bench-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "bench.db", NULL);
  g_autoptr (JsonNode) result = tsq_json_from_string (
    "{\"url\":\"https://a.example/\",\"status\":200,\"timings\":{\"ttfb_ms\":80,\"total_ms\":200},"
    "\"size\":{\"bytes\":50000},\"technologies\":[{\"name\":\"Nginx\"},{\"name\":\"React\"}],"
    "\"content\":{\"hash\":\"abc\",\"text\":\"lorem ipsum dolor sit amet\"}}",
    NULL);
  double writes[5], lists[5];
  guint round;

  for (round = 0; round < 5; round++)
    {
      g_autoptr (TsqStorage) s = NULL;
      g_autoptr (TsqMonitor) m = tsq_monitor_new ("bench", "https://a.example/", "every 1m");
      gint64 t0;
      guint i;

      g_unlink (path);
      s = tsq_sqlite_storage_open (path, &error);
      g_assert_no_error (error);
      g_assert_true (tsq_storage_put_monitor (s, m, &error));
      t0 = g_get_monotonic_time ();
      for (i = 0; i < SCANS; i++)
        {
          g_autoptr (JsonNode) changes = tsq_json_from_string (
            "[{\"type\":\"technology_added\",\"subject\":\"X\",\"new\":\"1\"},"
            "{\"type\":\"content\",\"subject\":\"text\"}]",
            NULL);
          gint64 id = tsq_storage_begin_scan (s, m->id, i, &error);

          tsq_storage_finish_scan (s, id, json_node_get_object (result), &error);
          tsq_storage_add_changes (s, m->id, id, json_node_get_array (changes), &error);
          tsq_storage_set_monitor_run_state (s, m->id, i, i + 60, &error);
          g_assert_no_error (error);
        }
      g_assert_true (tsq_storage_flush (s, &error));
      writes[round] = SCANS / ((g_get_monotonic_time () - t0) / 1e6);

      t0 = g_get_monotonic_time ();
      for (i = 0; i < 100; i++)
        {
          g_autoptr (GPtrArray) list = tsq_storage_list_changes (s, NULL, 0, 0, 50, &error);

          g_assert_cmpuint (list->len, ==, 50);
        }
      lists[round] = (g_get_monotonic_time () - t0) / 100.0 / 1000.0;
    }
  qsort (writes, 5, sizeof (double), cmp_double);
  qsort (lists, 5, sizeof (double), cmp_double);
  g_print ("storage: %.0f scans/s stored (begin+finish+2 changes+run state, batched), median\n",
           writes[2]);
  g_print ("storage: list_changes(limit 50) %.3f ms, median\n", lists[2]);
  g_unlink (path);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (path, "-shm", NULL);

    g_unlink (wal);
    g_unlink (shm);
  }
  g_rmdir (dir);
  return 0;
}
