/* tsq-cmd-run.c: `techscaniq-agent run`: the agent, until SIGTERM/SIGINT.
 *
 * Changes are printed on stdout as they are recorded (one line each, or one JSON object each
 * with --log-format=json); logs go to stderr. SIGHUP re-reads the configuration file and rebuilds
 * the scanner (fingerprints, limits) and the change thresholds for scans that start afterwards.
 */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <glib-unix.h>
#include <stdio.h>

#include "tsq-agent-setup.h"
#include "tsq-agent.h"
#include "tsq-alert-service.h"
#include "tsq-commands.h"
#include "tsq-demo-server.h"
#include "tsq-json-util.h"
#include "tsq-local-bus.h"
#include "tsq-monitor.h"
#include "tsq-scan-format.h"

#define STOP_GRACE_MS 10000

typedef struct
{
  GMainLoop *loop;
  TsqAgent *agent;
  TsqAgentConfig *config;
  TsqCommonOptions *common;
  TsqAlertService *alerts;
  gboolean json;
} RunState;

static void
on_change (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  RunState *state = user_data;
  JsonObject *o = json_node_get_object (payload);

  if (state->json)
    {
      g_autofree char *line = tsq_json_to_string (payload, FALSE);

      printf ("%s\n", line);
    }
  else
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");
      g_autofree char *line = tsq_change_format_line (tsq_json_get_object (o, "change"));

      printf ("%s  %-28s %s\n", clock, tsq_json_get_string (o, "monitor_name", "?"), line);
    }
  fflush (stdout);
}

/* Alert notifications decided by the alert service (docs/events.md, alert.triggered). */
static void
on_alert (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  RunState *state = user_data;
  JsonObject *o = json_node_get_object (payload);

  if (state->json)
    {
      g_autofree char *line = tsq_json_to_string (payload, FALSE);

      printf ("%s\n", line);
    }
  else
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");
      JsonArray *alerts = tsq_json_get_array (o, "alerts");
      JsonObject *first = alerts && json_array_get_length (alerts) > 0
                            ? json_array_get_object_element (alerts, 0)
                            : NULL;

      printf ("%s  %-28s ALERT %s: %s %s (%u alerts)\n", clock,
              first ? tsq_json_get_string (first, "monitor_name", "?") : "?",
              tsq_json_get_string (o, "kind", "?"),
              first ? tsq_json_get_string (first, "type", "") : "",
              first ? tsq_json_get_string (first, "subject", "") : "",
              alerts ? json_array_get_length (alerts) : 0);
    }
  fflush (stdout);
}

static void
on_scan_completed (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  JsonObject *o = json_node_get_object (payload);
  JsonObject *summary = tsq_json_get_object (o, "summary");
  const char *error_kind = tsq_json_get_string (summary, "error_kind", NULL);

  if (error_kind)
    g_debug ("scanned %s: error %s", tsq_json_get_string (o, "monitor_name", "?"), error_kind);
  else
    g_debug ("scanned %s: %" G_GINT64_FORMAT ", %.0f ms, %" G_GINT64_FORMAT " technologies",
            tsq_json_get_string (o, "monitor_name", "?"), tsq_json_get_int (summary, "status", 0),
            tsq_json_get_double (summary, "total_ms", 0),
            tsq_json_get_int (summary, "technologies", 0));
}

static gboolean
on_stop_signal (gpointer data)
{
  RunState *state = data;

  g_message ("stopping (signal received; a second one stops at once)");
  tsq_agent_stop (state->agent, STOP_GRACE_MS);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload_signal (gpointer data)
{
  RunState *state = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAgentConfig) fresh = tsq_agent_setup_config (state->common, &error);
  g_autoptr (TsqScanner) scanner = NULL;

  if (fresh == NULL || (scanner = tsq_agent_setup_scanner (fresh, &error)) == NULL)
    {
      g_warning ("reload failed, keeping the running configuration: %s", error->message);
      return G_SOURCE_CONTINUE;
    }
  tsq_agent_replace_scanner (state->agent, scanner, &fresh->thresholds);
  if (state->alerts && !tsq_alert_service_reload (state->alerts, fresh, &error))
    g_warning ("alerts: reload failed, keeping the running alert configuration: %s",
               error->message);
  g_message ("configuration reloaded");
  return G_SOURCE_CONTINUE;
}

static void
on_stopped (TsqAgent *agent, gpointer user_data)
{
  g_main_loop_quit (((RunState *)user_data)->loop);
}

/* The shared fixture pages beside the checkout, if this is one. */
static char *
find_demo_pages (void)
{
  const char *shared = g_getenv ("TSQ_SHARED_DIR");
  g_autofree char *candidate = NULL;

  if (shared && *shared)
    candidate = g_build_filename (shared, "fixtures", "pages", NULL);
  else
    candidate
      = g_build_filename (TSQ_SOURCE_DATADIR, "..", "..", "shared", "fixtures", "pages", NULL);
  if (g_file_test (candidate, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&candidate);
  return NULL;
}

/* Adds the demo monitors, or points existing ones (same name) at this run's server. */
static gboolean
ensure_demo_monitor (TsqStorage *storage,
                     GPtrArray *existing,
                     const char *name,
                     const char *url,
                     const char *schedule,
                     GError **error)
{
  g_autoptr (TsqMonitor) monitor = NULL;

  for (guint i = 0; i < existing->len; i++)
    {
      TsqMonitor *m = g_ptr_array_index (existing, i);

      if (g_str_equal (m->name, name))
        {
          if (g_str_equal (m->url, url))
            return TRUE;
          monitor = tsq_monitor_ref (m);
          g_free (monitor->url);
          monitor->url = g_strdup (url);
          return tsq_storage_put_monitor (storage, monitor, error);
        }
    }
  monitor = tsq_monitor_new (name, url, schedule);
  g_free (monitor->organization_id);
  monitor->organization_id = g_strdup ("demo");
  return tsq_storage_put_monitor (storage, monitor, error);
}

static TsqDemoServer *
start_demo (TsqStorage *storage, guint16 port, GError **error)
{
  g_autofree char *pages_dir = find_demo_pages ();
  g_autoptr (GError) local_error = NULL;
  g_autoptr (TsqDemoServer) server = tsq_demo_server_new (pages_dir, port, &local_error);
  g_autoptr (GPtrArray) existing = NULL;
  g_autoptr (GPtrArray) pages = NULL;
  g_autofree char *changing = NULL;
  g_autofree char *noise = NULL;

  if (server == NULL && port != 0)
    {
      g_message ("demo port %u is busy (%s); using a free one", port, local_error->message);
      g_clear_error (&local_error);
      server = tsq_demo_server_new (pages_dir, 0, &local_error);
    }
  if (server == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  existing = tsq_storage_list_monitors (storage, error);
  if (existing == NULL)
    return NULL;

  changing = tsq_demo_server_get_url (server, "/demo/changing");
  noise = tsq_demo_server_get_url (server, "/demo/noise");
  if (!ensure_demo_monitor (storage, existing, "demo: changing page", changing, "every 20s", error)
      || !ensure_demo_monitor (storage, existing, "demo: noise only", noise, "every 30s", error))
    return NULL;

  pages = tsq_demo_server_list_pages (server);
  for (guint i = 0; i < pages->len; i++)
    {
      g_autofree char *path = g_strconcat ("/pages/", (char *)g_ptr_array_index (pages, i), NULL);
      g_autofree char *url = tsq_demo_server_get_url (server, path);
      g_autofree char *name = g_strconcat ("page: ", (char *)g_ptr_array_index (pages, i), NULL);

      /* A cron schedule, so the demo shows both kinds. */
      if (!ensure_demo_monitor (storage, existing, name, url, "cron */2 * * * *", error))
        return NULL;
    }
  g_message ("demo pages served at %s (%u saved real pages%s)", changing, pages->len,
             pages_dir ? "" : ": ../shared/fixtures/pages not found");
  return g_steal_pointer (&server);
}

int
tsq_cmd_run (int argc, char **argv)
{
  TsqCommonOptions common = { 0 };
  gboolean demo = FALSE;
  int demo_port = 8737;
  GOptionEntry entries[] = {
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo,
      "Also serve demo pages on 127.0.0.1 and monitor them (database demo.db unless --database)",
      NULL },
    { "demo-port", 0, 0, G_OPTION_ARG_INT, &demo_port, "Port of the demo pages (default 8737)",
      "PORT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context
    = g_option_context_new ("— monitor web sites on their schedules");
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAgentConfig) config = NULL;
  g_autoptr (TsqScanner) scanner = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (TsqEventBus) bus = NULL;
  g_autoptr (TsqAgent) agent = NULL;
  g_autoptr (TsqAlertService) alerts = NULL;
  g_autoptr (TsqDemoServer) demo_server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  RunState state = { 0 };
  int status = TSQ_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, tsq_common_option_group (&common));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if (argc > 1 && !g_str_equal (argv[1], "run"))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "run: unexpected argument “%s”", argv[1]);
      goto out;
    }
  if (demo_port < 0 || demo_port > 65535)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "--demo-port %d: not a port", demo_port);
      goto out;
    }
  if (demo && common.database == NULL && common.config_path == NULL)
    {
      g_autofree char *dir = tsq_agent_default_state_dir ();
      common.database = g_build_filename (dir, "demo.db", NULL);
    }

  config = tsq_agent_setup_config (&common, &error);
  if (config == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if ((scanner = tsq_agent_setup_scanner (config, &error)) == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if ((storage = tsq_agent_setup_storage (config, &error)) == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s: %s", config->database, error->message);
      goto out;
    }
  if (demo && (demo_server = start_demo (storage, demo_port, &error)) == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "demo: %s", error->message);
      goto out;
    }

  loop = g_main_loop_new (NULL, FALSE);
  bus = tsq_local_bus_new ();
  agent = tsq_agent_new (config, storage, bus, scanner);
  if (demo)
    /* Every demo page lives on 127.0.0.1: one "domain" that must not be throttled to 1/10 s. */
    tsq_agent_set_domain_rate (agent, "127.0.0.1", 50, 50);

  state.loop = loop;
  state.agent = agent;
  state.config = config;
  state.common = &common;
  state.json = g_str_equal (config->log_format, "json");
  tsq_event_bus_subscribe (bus, TSQ_TOPIC_CHANGE_DETECTED, on_change, &state, NULL);
  tsq_event_bus_subscribe (bus, TSQ_TOPIC_SCAN_COMPLETED, on_scan_completed, &state, NULL);
  tsq_event_bus_subscribe (bus, TSQ_TOPIC_ALERT_TRIGGERED, on_alert, &state, NULL);
  g_signal_connect (agent, "stopped", G_CALLBACK (on_stopped), &state);
  g_unix_signal_add (SIGTERM, on_stop_signal, &state);
  g_unix_signal_add (SIGINT, on_stop_signal, &state);
  g_unix_signal_add (SIGHUP, on_reload_signal, &state);

  /* Alerts: rules, outbox and delivery (docs/alerts.md, "Running alerts in the agent"). */
  alerts = tsq_alert_service_new (config, storage, bus, &error);
  if (alerts == NULL || !tsq_alert_service_start (alerts, &error))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "alerts: %s", error->message);
      goto out;
    }
  tsq_alert_service_attach_agent (alerts, agent);
  state.alerts = alerts;
  if (!tsq_agent_start (agent, &error))
    {
      status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  if (!state.json)
    printf ("Watching for changes (Ctrl+C to stop). Changes appear here as they are recorded.\n");
  fflush (stdout);
  g_main_loop_run (loop);
  tsq_alert_service_stop (alerts);
  g_message ("stopped");

out:
  tsq_common_options_clear (&common);
  return status;
}
