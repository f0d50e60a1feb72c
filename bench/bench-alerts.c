/* bench-alerts.c: alert latency from change detection to delivery at a local webhook, and the
 * alerts/s the agent sustains, with the REAL agent code in-process: TsqAgent (scheduler, fetcher,
 * change detector, SQLite storage in a temporary directory) + TsqAlertService (engine, outbox,
 * webhook notifier) on a local bus, exactly as `techscaniq-agent run` wires them.
 *
 *   bench-alerts [--latency-monitors N] [--burst-monitors N] [--stagger-ms MS] [--group-wait S]
 *                [--group-by monitor|rule]
 *
 * A SoupServer in its own thread serves the monitored pages (200, or 503 once "down") and the
 * webhook receiver, which timestamps each delivery (wall clock) and reads every alert of the
 * payload (alert.triggered_at, microseconds: the moment the engine processed the scan that
 * detected the change). Two phases, each with a fresh agent and database:
 *
 *   latency: N monitors scanned every 1 s go down one after another (--stagger-ms apart);
 *            latency = delivery time - alert.triggered_at (detection -> delivery). The time from
 *            the page flip is printed too (it adds up to one scan interval, 1 s).
 *   burst:   N monitors go down at the same instant; alerts/s = alerts received / (last - first
 *            delivery); the spread of their detection times shows whether scanning or delivery
 *            bounds the rate.
 */
#define G_LOG_DOMAIN "bench-alerts"

#include <glib/gstdio.h>
#include <stdio.h>

#include "tsq-agent-config.h"
#include "tsq-agent-setup.h"
#include "tsq-agent.h"
#include "tsq-alert-service.h"
#include "tsq-json-util.h"
#include "tsq-local-bus.h"
#include "tsq-monitor.h"

#define MAX_MONITORS 5000

typedef struct
{
  gint64 received;  /* wall clock, µs */
  gint64 triggered; /* alert.triggered_at, µs */
  guint monitor;
} Arrival;

typedef struct
{
  GMutex lock;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;
  guint16 port;
  int down[MAX_MONITORS];       /* atomic */
  int hits[MAX_MONITORS];       /* atomic */
  gint64 flipped[MAX_MONITORS]; /* wall clock of the flip to down */
  GArray *arrivals;             /* Arrival, triggered notifications only */
  guint requests;
  guint grouped;        /* grouped notifications of the current phase */
  guint grouped_alerts; /* their "count": listed (at most 40) + omitted alerts */
} Bench;

static const char page_html[]
  = "<html><head><title>Shop</title></head><body><h1>Shop</h1><p>Bread.</p></body></html>";

static void
on_page (SoupServer *server,
         SoupServerMessage *msg,
         const char *path,
         GHashTable *query,
         gpointer user_data)
{
  Bench *b = user_data;
  guint64 i = g_ascii_strtoull (path + strlen ("/m/"), NULL, 10);

  if (i >= MAX_MONITORS)
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }
  g_atomic_int_inc (&b->hits[i]);
  if (g_atomic_int_get (&b->down[i]))
    {
      soup_server_message_set_status (msg, 503, NULL);
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_STATIC, page_html,
                                    sizeof page_html - 1);
}

static void
record_alert (Bench *b, JsonObject *alert, gint64 now)
{
  JsonObject *m = alert ? tsq_json_get_object (alert, "monitor") : NULL;
  const char *name = m ? tsq_json_get_string (m, "name", "") : "";
  Arrival a = { .received = now };

  if (!g_str_has_prefix (name, "bench-")
      || !tsq_monitor_time_from_iso8601 (tsq_json_get_string (alert, "triggered_at", NULL),
                                         &a.triggered))
    return;
  a.monitor = (guint)g_ascii_strtoull (name + strlen ("bench-"), NULL, 10);
  g_array_append_val (b->arrivals, a);
}

static void
on_hook (SoupServer *server,
         SoupServerMessage *msg,
         const char *path,
         GHashTable *query,
         gpointer user_data)
{
  Bench *b = user_data;
  gint64 now = g_get_real_time ();
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root = NULL;

  if (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                  NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));
  g_mutex_lock (&b->lock);
  b->requests++;
  if (root && g_str_equal (tsq_json_get_string (root, "event", ""), "alert.grouped"))
    {
      b->grouped++;
      b->grouped_alerts += (guint)tsq_json_get_int (root, "count", 0);
    }
  if (root
      && (g_str_equal (tsq_json_get_string (root, "event", ""), "alert.triggered")
          || g_str_equal (tsq_json_get_string (root, "event", ""), "alert.grouped")))
    {
      JsonArray *list = tsq_json_get_array (root, "alerts");

      /* "alerts" lists every alert of the notification (a single one is also "alert"). */
      if (list == NULL || json_array_get_length (list) == 0)
        record_alert (b, tsq_json_get_object (root, "alert"), now);
      for (guint i = 0; list && i < json_array_get_length (list); i++)
        if (JSON_NODE_HOLDS_OBJECT (json_array_get_element (list, i)))
          record_alert (b, json_array_get_object_element (list, i), now);
    }
  g_mutex_unlock (&b->lock);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok", 2);
}

static gpointer
server_thread (gpointer data)
{
  Bench *b = data;

  g_main_context_push_thread_default (b->context);
  g_main_loop_run (b->loop);
  g_main_context_pop_thread_default (b->context);
  return NULL;
}

static void
bench_start_server (Bench *b)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;

  g_mutex_init (&b->lock);
  b->arrivals = g_array_new (FALSE, TRUE, sizeof (Arrival));
  b->context = g_main_context_new ();
  b->loop = g_main_loop_new (b->context, FALSE);
  g_main_context_push_thread_default (b->context);
  b->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (b->server, "/m/", on_page, b, NULL);
  soup_server_add_handler (b->server, "/hook", on_hook, b, NULL);
  if (!soup_server_listen_local (b->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("%s", error->message);
  g_main_context_pop_thread_default (b->context);
  uris = soup_server_get_uris (b->server);
  b->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  b->thread = g_thread_new ("bench-server", server_thread, b);
}

/* ---- one phase: a fresh agent + alert service + database ---- */

typedef struct
{
  Bench *b;
  guint first, count; /* monitors first .. first+count-1 */
  guint stagger_ms;
  guint next_flip;
  gint64 deadline;
  GMainLoop *loop;
} Phase;

static guint
arrived (Bench *b, guint first, guint count)
{
  guint n = 0;

  g_mutex_lock (&b->lock);
  for (guint i = 0; i < b->arrivals->len; i++)
    {
      Arrival *a = &g_array_index (b->arrivals, Arrival, i);

      if (a->monitor >= first && a->monitor < first + count)
        n++;
    }
  g_mutex_unlock (&b->lock);
  return n;
}

/* Alerts of this phase received: listed ones, or the count of grouped notifications (which list
 * at most 40 alerts each) when that is larger. */
static guint
phase_alerts (Bench *b, guint first, guint count)
{
  guint listed = arrived (b, first, count);
  guint grouped;

  g_mutex_lock (&b->lock);
  grouped = b->grouped_alerts;
  g_mutex_unlock (&b->lock);
  return MAX (listed, grouped);
}

static gboolean
all_scanned (Phase *p, int times)
{
  for (guint i = p->first; i < p->first + p->count; i++)
    if (g_atomic_int_get (&p->b->hits[i]) < times)
      return FALSE;
  return TRUE;
}

static void
flip (Phase *p, guint i)
{
  p->b->flipped[i] = g_get_real_time ();
  g_atomic_int_set (&p->b->down[i], 1);
}

static gboolean
on_poll (gpointer data)
{
  Phase *p = data;

  if (g_get_monotonic_time () > p->deadline
      || (p->next_flip == p->first + p->count
          && phase_alerts (p->b, p->first, p->count) >= p->count))
    {
      g_main_loop_quit (p->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_flip (gpointer data)
{
  Phase *p = data;

  if (p->next_flip == p->first && !all_scanned (p, 2))
    return G_SOURCE_CONTINUE; /* every monitor needs its "up" baseline first */
  if (p->stagger_ms == 0)
    {
      for (; p->next_flip < p->first + p->count; p->next_flip++)
        flip (p, p->next_flip);
    }
  else
    flip (p, p->next_flip++);
  if (p->next_flip < p->first + p->count)
    return G_SOURCE_CONTINUE;
  return G_SOURCE_REMOVE;
}

static void
on_stopped (TsqAgent *agent, gpointer data)
{
  gboolean *stopped = data;

  *stopped = TRUE;
}

static void
run_phase (
  Bench *b, guint first, guint count, guint stagger_ms, double group_wait, const char *group_by)
{
  g_autofree char *tmpdir = g_dir_make_tmp ("tsq-bench-alerts-XXXXXX", NULL);
  g_autofree char *database = g_build_filename (tmpdir, "bench.db", NULL);
  g_autofree char *conf = g_build_filename (tmpdir, "agent.conf", NULL);
  g_autofree char *wait_text = g_strdup_printf ("%g", group_wait);
  g_autofree char *text = NULL;
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();
  g_autoptr (TsqScanner) scanner = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (TsqEventBus) bus = NULL;
  g_autoptr (TsqAgent) agent = NULL;
  g_autoptr (TsqAlertService) alerts = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Phase p = { b, first, count, stagger_ms, first, 0, loop };
  gboolean stopped = FALSE;

  g_mutex_lock (&b->lock);
  b->grouped = 0;
  b->grouped_alerts = 0;
  g_mutex_unlock (&b->lock);

  text = g_strdup_printf ("[alerts]\n"
                          "group_wait=%s\n"
                          "group_interval=1\n"
                          "group_by=%s\n"
                          "retry_base=0.3\n"
                          "retry_cap=1\n"
                          "rules=[{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},"
                          "\"severity\":\"critical\",\"channels\":[\"hook\"]}]\n"
                          "[channel hook]\n"
                          "type=webhook\n"
                          "url=http://127.0.0.1:%u/hook\n"
                          "secret=bench-secret\n"
                          "rate_per_minute=0\n"
                          "timeout_s=10\n",
                          wait_text, group_by, b->port);
  if (!g_file_set_contents (conf, text, -1, &error)
      || !tsq_agent_config_load (config, conf, &error))
    g_error ("%s", error->message);
  g_free (config->database);
  config->database = g_strdup (database);
  config->max_in_flight = 100;
  config->domain_rate = 100000;
  config->domain_burst = 100000;
  config->spread_window_s = 0;
  if (!tsq_agent_config_prepare (config, &error)
      || (scanner = tsq_agent_setup_scanner (config, &error)) == NULL
      || (storage = tsq_agent_setup_storage (config, &error)) == NULL)
    g_error ("%s", error->message);
  for (guint i = first; i < first + count; i++)
    {
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/m/%u", b->port, i);
      g_autofree char *name = g_strdup_printf ("bench-%u", i);
      g_autoptr (TsqMonitor) m = tsq_monitor_new (name, url, "every 1s");

      if (!tsq_storage_put_monitor (storage, m, &error))
        g_error ("%s", error->message);
    }

  bus = tsq_local_bus_new ();
  agent = tsq_agent_new (config, storage, bus, scanner);
  alerts = tsq_alert_service_new (config, storage, bus, &error);
  if (alerts == NULL || !tsq_alert_service_start (alerts, &error))
    g_error ("%s", error->message);
  tsq_alert_service_attach_agent (alerts, agent);
  if (!tsq_agent_start (agent, &error))
    g_error ("%s", error->message);

  p.deadline = g_get_monotonic_time () + 180 * G_USEC_PER_SEC;
  g_timeout_add (stagger_ms ? stagger_ms : 50, on_flip, &p);
  g_timeout_add (50, on_poll, &p);
  g_main_loop_run (loop);
  g_source_remove_by_user_data (&p);
  if (phase_alerts (b, first, count) < count)
    g_printerr ("only %u of %u alerts arrived within 180 s\n", phase_alerts (b, first, count),
                count);

  tsq_alert_service_stop (alerts);
  /* "stopped" may be emitted inside tsq_agent_stop when no scan is in flight. */
  g_signal_connect (agent, "stopped", G_CALLBACK (on_stopped), &stopped);
  tsq_agent_stop (agent, 2000);
  while (!stopped)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&agent);
  g_clear_object (&alerts);
  g_clear_object (&storage);
  g_unlink (database);
  {
    g_autofree char *wal = g_strconcat (database, "-wal", NULL);
    g_autofree char *shm = g_strconcat (database, "-shm", NULL);

    g_unlink (wal);
    g_unlink (shm);
  }
  g_unlink (conf);
  g_rmdir (tmpdir);
}

/* ---- figures ---- */

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

  return x < y ? -1 : x > y;
}

static double
percentile_ms (GArray *sorted, double q)
{
  guint i;

  if (sorted->len == 0)
    return 0;
  i = (guint)(q * (sorted->len - 1) + 0.5);
  return g_array_index (sorted, gint64, i) / 1000.0;
}

/* The first arrival of each monitor's alert in [first, first + count). */
static GArray *
first_arrivals (Bench *b, guint first, guint count)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (Arrival));
  g_autofree gboolean *seen = g_new0 (gboolean, count);

  g_mutex_lock (&b->lock);
  for (guint i = 0; i < b->arrivals->len; i++)
    {
      Arrival *a = &g_array_index (b->arrivals, Arrival, i);

      if (a->monitor < first || a->monitor >= first + count || seen[a->monitor - first])
        continue;
      seen[a->monitor - first] = TRUE;
      g_array_append_val (out, *a);
    }
  g_mutex_unlock (&b->lock);
  return out;
}

static void
report_latency (Bench *b, guint first, guint count)
{
  g_autoptr (GArray) got = first_arrivals (b, first, count);
  g_autoptr (GArray) detect = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) from_flip = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < got->len; i++)
    {
      Arrival *a = &g_array_index (got, Arrival, i);
      gint64 d = a->received - a->triggered;
      gint64 f = a->received - b->flipped[a->monitor];

      g_array_append_val (detect, d);
      g_array_append_val (from_flip, f);
    }
  g_array_sort (detect, compare_int64);
  g_array_sort (from_flip, compare_int64);
  printf ("latency (%u alerts): detection -> delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
          got->len, percentile_ms (detect, 0.5), percentile_ms (detect, 0.99),
          percentile_ms (detect, 1.0));
  printf ("               page down -> delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms "
          "(includes waiting for the next 1-s scan)\n",
          percentile_ms (from_flip, 0.5), percentile_ms (from_flip, 0.99),
          percentile_ms (from_flip, 1.0));
}

static void
report_burst (Bench *b, guint first, guint count)
{
  g_autoptr (GArray) got = first_arrivals (b, first, count);
  gint64 first_rx = G_MAXINT64, last_rx = 0, first_det = G_MAXINT64, last_det = 0;

  for (guint i = 0; i < got->len; i++)
    {
      Arrival *a = &g_array_index (got, Arrival, i);

      first_rx = MIN (first_rx, a->received);
      last_rx = MAX (last_rx, a->received);
      first_det = MIN (first_det, a->triggered);
      last_det = MAX (last_det, a->triggered);
    }
  if (got->len < 2)
    return;
  printf ("burst (%u monitors down at once): %u alerts delivered; all in %.2f s from the flip\n",
          count, got->len, (last_rx - b->flipped[first]) / 1e6);
  printf ("  delivered: %.0f alerts/s (first -> last delivery, %.2f s)\n",
          (got->len - 1) / ((last_rx - first_rx) / 1e6), (last_rx - first_rx) / 1e6);
  printf ("  detected:  %.0f alerts/s (first -> last detection, %.2f s: the scan rate)\n",
          (got->len - 1) / MAX ((last_det - first_det) / 1e6, 1e-6), (last_det - first_det) / 1e6);
  printf ("  last detection -> last delivery: %.1f ms\n", (last_rx - last_det) / 1000.0);
  if (b->grouped)
    printf ("  grouped: %u notifications carried %u alerts (each lists at most 40; the figures "
            "above count listed alerts only)\n",
            b->grouped, b->grouped_alerts);
}

static void
quiet_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    g_log_default_handler (domain, level, message, data);
}

int
main (int argc, char **argv)
{
  int latency_monitors = 200;
  int burst_monitors = 1000;
  int stagger_ms = 25;
  double group_wait = 0;
  char *group_by = NULL;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
    { "latency-monitors", 'l', 0, G_OPTION_ARG_INT, &latency_monitors,
      "Monitors of the latency phase (one alert each)", "N" },
    { "burst-monitors", 'b', 0, G_OPTION_ARG_INT, &burst_monitors,
      "Monitors going down at once in the burst phase (0: skip)", "N" },
    { "stagger-ms", 's', 0, G_OPTION_ARG_INT, &stagger_ms,
      "Latency phase: time between two pages going down", "MS" },
    { "group-wait", 'w', 0, G_OPTION_ARG_DOUBLE, &group_wait, "[alerts] group_wait (s)", "S" },
    { "group-by", 'g', 0, G_OPTION_ARG_STRING, &group_by, "[alerts] group_by", "monitor|rule" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Keep the agent's log messages", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— alert latency and throughput");
  g_autoptr (GError) error = NULL;
  Bench *b = g_new0 (Bench, 1);

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_error ("%s", error->message);
  if (latency_monitors < 0 || burst_monitors < 0 || stagger_ms < 0
      || latency_monitors + burst_monitors > MAX_MONITORS || group_wait < 0)
    g_error ("bad arguments (at most %d monitors in all)", MAX_MONITORS);
  if (group_by == NULL)
    group_by = g_strdup ("monitor");

  /* The agent logs every delivery with g_message: keep the output to the figures. */
  if (!verbose)
    g_log_set_default_handler (quiet_log, NULL);
  bench_start_server (b);
  printf ("alerts: in-process TsqAgent + TsqAlertService, SQLite in a temp dir, webhook on "
          "loopback; scan every 1 s, group_wait %g s, group_by %s\n",
          group_wait, group_by);
  printf ("command: bench-alerts --latency-monitors %d --burst-monitors %d --stagger-ms %d "
          "--group-wait %g --group-by %s\n",
          latency_monitors, burst_monitors, stagger_ms, group_wait, group_by);
  fflush (stdout);
  if (latency_monitors > 0)
    {
      run_phase (b, 0, latency_monitors, MAX (stagger_ms, 1), group_wait, group_by);
      report_latency (b, 0, latency_monitors);
      fflush (stdout);
    }
  if (burst_monitors > 0)
    {
      run_phase (b, latency_monitors, burst_monitors, 0, group_wait, group_by);
      report_burst (b, latency_monitors, burst_monitors);
      report_latency (b, latency_monitors, burst_monitors);
    }
  printf ("webhook requests received: %u\n", b->requests);
  g_free (group_by);
  return 0;
}
