/* bench-pipeline.c: the whole agent pipeline (schedule -> rate limit -> fetch -> parse ->
 * fingerprint -> detect -> store -> publish) against loopback sites with ~100 KB pages.
 *
 *   bench-pipeline [--monitors N] [--seconds S] [--pages DIR] [--full-set PATH]
 *
 * Pages are served by nginx when it is installed (a separate process, as a real site would be),
 * else by an in-process server. Prints sustained scans/s (median of 1-second windows after a
 * warm-up), scheduling-to-completion latency, and the agent's memory.
 */
#define G_LOG_DOMAIN "bench-pipeline"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/resource.h>

#include "tsq-agent-config.h"
#include "tsq-agent-setup.h"
#include "tsq-agent.h"
#include "tsq-local-bus.h"
#include "tsq-monitor.h"
#include "tsq-sqlite-storage.h"

typedef struct
{
  GArray *per_second;
  guint this_second;
  guint total;
  gint64 window_start;
  gint64 warmup_end;
  GMainLoop *loop;
} Counter;

static void
on_completed (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  Counter *c = user_data;
  gint64 now = g_get_monotonic_time ();

  c->total++;
  if (now < c->warmup_end)
    return;
  if (c->window_start == 0)
    c->window_start = now;
  while (now - c->window_start >= G_USEC_PER_SEC)
    {
      g_array_append_val (c->per_second, c->this_second);
      c->this_second = 0;
      c->window_start += G_USEC_PER_SEC;
    }
  c->this_second++;
}

static int
compare_uint (gconstpointer a, gconstpointer b)
{
  return (int)*(const guint *)a - (int)*(const guint *)b;
}

static gboolean
quit (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static guint64
rss_bytes (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%lu %lu", &size, &resident);
  return (guint64)resident * 4096;
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec
         + usage.ru_stime.tv_usec / 1e6;
}

static GSubprocess *
start_nginx (const char *root, const char *tmpdir, guint16 port)
{
  g_autofree char *conf = g_build_filename (tmpdir, "nginx.conf", NULL);
  g_autofree char *text = g_strdup_printf (
    "daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/error.log;\n"
    "events { worker_connections 4096; }\n"
    "http { access_log off; client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
    "  uwsgi_temp_path %s; scgi_temp_path %s; types { text/html html; }\n"
    "  keepalive_requests 100000;\n"
    "  server { listen 127.0.0.1:%u; root %s; } }\n",
    tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, port, root);
  GSubprocess *proc;

  if (!g_file_test ("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE))
    return NULL;
  g_file_set_contents (conf, text, -1, NULL);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL, "/usr/sbin/nginx", "-c", conf,
                           "-p", tmpdir, NULL);
  g_usleep (300 * 1000);
  return proc;
}

int
main (int argc, char **argv)
{
  int monitors = 600;
  int seconds = 20;
  char *pages = NULL;
  gboolean no_reuse = FALSE;
  GOptionEntry entries[] = {
    { "no-reuse", 0, 0, G_OPTION_ARG_NONE, &no_reuse,
      "Analyse every page in full, as if every scan found it changed", NULL },
    { "monitors", 'm', 0, G_OPTION_ARG_INT, &monitors, "Monitors, each scanned every second", "N" },
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Measured duration", "S" },
    { "pages", 'p', 0, G_OPTION_ARG_FILENAME, &pages, "Directory of .html pages to serve", "DIR" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— agent pipeline throughput");
  g_autoptr (GError) error = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("tsq-bench-XXXXXX", NULL);
  g_autofree char *database = g_build_filename (tmpdir, "bench.db", NULL);
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();
  g_autoptr (TsqScanner) scanner = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (TsqEventBus) bus = NULL;
  g_autoptr (TsqAgent) agent = NULL;
  g_autoptr (GSubprocess) nginx = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = NULL;
  Counter counter = { 0 };
  guint16 port = 18000 + g_random_int_range (0, 2000);
  guint64 rss_before;
  double cpu_before;
  const char *name;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_error ("%s", error->message);
  if (pages == NULL)
    pages = g_build_filename (g_getenv ("TSQ_SHARED_DIR") ? g_getenv ("TSQ_SHARED_DIR")
                                                          : TSQ_BENCH_SHARED_DIR,
                              "fixtures", "pages", NULL);

  /* Pages of 60-200 KB: the "~100 KB page" of the target. */
  dir = g_dir_open (pages, 0, &error);
  if (dir == NULL)
    g_error ("%s", error->message);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (pages, name, NULL);
      GStatBuf st;

      if (g_str_has_suffix (name, ".html") && g_stat (path, &st) == 0 && st.st_size >= 60000
          && st.st_size <= 200000)
        g_ptr_array_add (names, g_strdup (name));
    }
  if (names->len == 0)
    g_error ("no 60-200 KB pages in %s", pages);

  nginx = start_nginx (pages, tmpdir, port);
  if (nginx == NULL)
    g_error ("this benchmark needs nginx (apt-get install nginx-light)");

  g_free (config->database);
  config->database = g_strdup (database);
  config->max_in_flight = 100;
  config->scanner.reuse_unchanged = !no_reuse;
  config->domain_rate = 100000;
  config->domain_burst = 100000;
  if (!tsq_agent_config_prepare (config, &error)
      || (scanner = tsq_agent_setup_scanner (config, &error)) == NULL
      || (storage = tsq_agent_setup_storage (config, &error)) == NULL)
    g_error ("%s", error->message);

  for (int i = 0; i < monitors; i++)
    {
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/%s?m=%d", port,
                                              (char *)g_ptr_array_index (names, i % names->len), i);
      g_autofree char *mname = g_strdup_printf ("bench %d", i);
      g_autoptr (TsqMonitor) m = tsq_monitor_new (mname, url, "every 1s");

      if (!tsq_storage_put_monitor (storage, m, &error))
        g_error ("%s", error->message);
    }

  bus = tsq_local_bus_new ();
  agent = tsq_agent_new (config, storage, bus, scanner);
  counter.per_second = g_array_new (FALSE, FALSE, sizeof (guint));
  counter.loop = g_main_loop_new (NULL, FALSE);
  counter.warmup_end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  tsq_event_bus_subscribe (bus, TSQ_TOPIC_SCAN_COMPLETED, on_completed, &counter, NULL);
  rss_before = rss_bytes ();
  cpu_before = cpu_seconds ();
  if (!tsq_agent_start (agent, &error))
    g_error ("%s", error->message);
  g_timeout_add_seconds (5 + seconds, quit, counter.loop);
  g_main_loop_run (counter.loop);

  g_array_sort (counter.per_second, compare_uint);
  printf ("pipeline: %d monitors every 1 s, %u pages of 60-200 KB, nginx on loopback, %d s "
          "measured, %s\n",
          monitors, names->len, seconds,
          no_reuse ? "full analysis of every scan (--no-reuse)"
                   : "unchanged pages reuse their analysis");
  if (counter.per_second->len)
    printf ("scans/s: median %u, min %u, max %u (1-s windows after 5 s warm-up); %u scans in all\n",
            g_array_index (counter.per_second, guint, counter.per_second->len / 2),
            g_array_index (counter.per_second, guint, 0),
            g_array_index (counter.per_second, guint, counter.per_second->len - 1), counter.total);
  printf ("CPU: %.2f ms per scan (user + system, all threads of the agent; nginx not counted)\n",
          counter.total ? (cpu_seconds () - cpu_before) * 1000 / counter.total : 0);
  printf ("memory: RSS %.1f MiB (%.1f MiB after set-up, before the first scan)\n",
          rss_bytes () / 1048576.0, rss_before / 1048576.0);

  g_subprocess_send_signal (nginx, SIGTERM);
  g_subprocess_wait (nginx, NULL, NULL);
  g_array_unref (counter.per_second);
  g_main_loop_unref (counter.loop);
  g_free (pages);
  return 0;
}
