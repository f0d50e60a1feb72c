/* tsq-cmd-history.c: `techscaniq-agent changes ...` and `techscaniq-agent scans ...`: what the
 * agent recorded, read straight from storage (works while the agent runs: SQLite WAL). */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <stdio.h>

#include "tsq-agent-setup.h"
#include "tsq-commands.h"
#include "tsq-json-util.h"
#include "tsq-monitor.h"
#include "tsq-scan-format.h"

#define FOLLOW_POLL_MS 500

typedef struct
{
  TsqCommonOptions common;
  char *monitor;
  char *since;
  gboolean follow;
  gboolean json;
  int limit;
} HistoryOptions;

static void
history_options_clear (HistoryOptions *o)
{
  tsq_common_options_clear (&o->common);
  g_free (o->monitor);
  g_free (o->since);
}

static GOptionContext *
history_context (HistoryOptions *o, const char *summary, gboolean with_follow)
{
  GOptionEntry entries[] = {
    { "monitor", 'm', 0, G_OPTION_ARG_STRING, &o->monitor,
      "Only this monitor (id, id prefix or name)", "ID" },
    { "since", 0, 0, G_OPTION_ARG_STRING, &o->since,
      "From this time: ISO 8601, a date, or a span back (15m, 2h, 7d; default 7d)", "TIME" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &o->json, "One JSON object per line", NULL },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &o->limit, "At most this many rows", "N" },
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &o->follow,
      "Keep printing new changes as they are recorded", NULL },
    { NULL },
  };
  GOptionContext *context = g_option_context_new (summary);

  if (!with_follow)
    entries[4] = (GOptionEntry){ NULL };
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, tsq_common_option_group (&o->common));
  return context;
}

/* Opens storage and resolves --monitor and --since. */
static TsqStorage *
history_open (HistoryOptions *o, char **monitor_id, gint64 *since_us, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAgentConfig) config = tsq_agent_setup_config (&o->common, &error);
  g_autoptr (TsqStorage) storage = NULL;

  *monitor_id = NULL;
  *since_us = g_get_real_time () - (gint64)7 * 86400 * G_USEC_PER_SEC;
  if (config == NULL)
    {
      *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      return NULL;
    }
  if (o->since && !tsq_parse_since (o->since, since_us, &error))
    {
      *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      return NULL;
    }
  if (o->limit < 0)
    {
      *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "--limit %d: must not be negative", o->limit);
      return NULL;
    }
  storage = tsq_agent_setup_storage (config, &error);
  if (storage == NULL)
    {
      *status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s: %s", config->database, error->message);
      return NULL;
    }
  if (o->monitor)
    {
      g_autoptr (TsqMonitor) m = tsq_storage_get_monitor (storage, o->monitor, &error);

      if (m == NULL)
        {
          *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "--monitor %s: %s", o->monitor, error->message);
          return NULL;
        }
      *monitor_id = g_strdup (m->id);
    }
  return g_steal_pointer (&storage);
}

static void
print_change (JsonObject *change, gboolean json)
{
  if (json)
    {
      g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), change);
      g_autofree char *line = tsq_json_to_string (node, FALSE);

      printf ("%s\n", line);
    }
  else
    {
      g_autofree char *line = tsq_change_format_line (change);

      printf ("%s  %-28s %s\n", tsq_json_get_string (change, "detected_at", ""),
              tsq_json_get_string (change, "monitor_name", "?"), line);
    }
}

int
tsq_cmd_changes (int argc, char **argv)
{
  HistoryOptions o = { .limit = 1000 };
  g_autoptr (GOptionContext) context = history_context (&o, "— list recorded changes", TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autofree char *monitor_id = NULL;
  gint64 since_us = 0, last_id = 0;
  int status = TSQ_EXIT_OK;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if (argc > 1)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "changes: unexpected argument “%s”", argv[1]);
      goto out;
    }
  storage = history_open (&o, &monitor_id, &since_us, &status);
  if (storage == NULL)
    goto out;

  for (;;)
    {
      g_autoptr (GPtrArray) changes = tsq_storage_list_changes (
        storage, monitor_id, since_us, last_id, o.limit ? (guint)o.limit : G_MAXUINT, &error);

      if (changes == NULL)
        {
          status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
          break;
        }
      for (guint i = 0; i < changes->len; i++)
        {
          JsonObject *change = g_ptr_array_index (changes, i);

          print_change (change, o.json);
          last_id = MAX (last_id, tsq_json_get_int (change, "id", 0));
        }
      fflush (stdout);
      if (!o.follow)
        break;
      g_usleep (FOLLOW_POLL_MS * 1000);
    }

out:
  history_options_clear (&o);
  return status;
}

static int
show_scan (TsqStorage *storage, const char *id_text, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) scan = NULL;
  JsonObject *result;
  char *end = NULL;
  gint64 id = g_ascii_strtoll (id_text, &end, 10);

  if (end == id_text || *end != '\0' || id <= 0)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "scans show %s: expected a scan id (a number)", id_text);
  scan = tsq_storage_get_scan (storage, id, &error);
  if (scan == NULL)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "scans show %s: %s", id_text,
                         error ? error->message : "no such scan");
  result = tsq_json_get_object (scan, "result");
  if (json)
    {
      g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), scan);
      g_autofree char *text = tsq_json_to_string (node, FALSE);

      printf ("%s\n", text);
    }
  else if (result)
    {
      g_autofree char *text = tsq_scan_format_text (result);

      printf ("%s", text);
    }
  else
    printf ("scan %s: %s (the full result was removed by retention)\n", id_text,
            tsq_json_get_string (scan, "state", "?"));
  return TSQ_EXIT_OK;
}

int
tsq_cmd_scans (int argc, char **argv)
{
  HistoryOptions o = { .limit = 50 };
  g_autoptr (GOptionContext) context
    = history_context (&o, "[show ID] — list recorded scans", FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GPtrArray) scans = NULL;
  g_autoptr (GPtrArray) monitors = NULL;
  g_autoptr (GHashTable) names = NULL;
  g_autofree char *monitor_id = NULL;
  gint64 since_us = 0;
  int status = TSQ_EXIT_OK;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if (argc > 1 && !(g_str_equal (argv[1], "show") && argc == 3)
      && !(g_str_equal (argv[1], "list") && argc == 2))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "scans: expected “list” or “show ID”");
      goto out;
    }
  storage = history_open (&o, &monitor_id, &since_us, &status);
  if (storage == NULL)
    goto out;
  if (argc == 3 && g_str_equal (argv[1], "show"))
    {
      status = show_scan (storage, argv[2], o.json);
      goto out;
    }

  scans = tsq_storage_list_scans (storage, monitor_id, since_us,
                                  o.limit ? (guint)o.limit : G_MAXUINT, &error);
  if (scans == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
      goto out;
    }
  /* Scans name their monitor by id; people know monitors by name. */
  monitors = tsq_storage_list_monitors (storage, NULL);
  names = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; monitors && i < monitors->len; i++)
    {
      TsqMonitor *m = g_ptr_array_index (monitors, i);

      g_hash_table_insert (names, m->id, m->name);
    }
  if (!o.json)
    printf ("%-8s  %-20s  %-11s  %6s  %9s  %5s  %s\n", "SCAN", "STARTED", "STATE", "STATUS",
            "TOTAL ms", "TECH", "MONITOR");
  for (guint i = 0; i < scans->len; i++)
    {
      JsonObject *s = g_ptr_array_index (scans, i);
      const char *error_kind = tsq_json_get_string (s, "error_kind", NULL);
      g_autofree char *status_text = NULL;

      if (o.json)
        {
          g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), s);
          g_autofree char *line = tsq_json_to_string (node, FALSE);

          printf ("%s\n", line);
          continue;
        }
      status_text = error_kind ? g_strdup (error_kind)
                    : json_object_has_member (s, "status")
                      ? g_strdup_printf ("%" G_GINT64_FORMAT, tsq_json_get_int (s, "status", 0))
                      : g_strdup ("—");

      printf ("%-8" G_GINT64_FORMAT "  %-20.20s  %-11.11s  %6s  %9.1f  %5" G_GINT64_FORMAT "  %s\n",
              tsq_json_get_int (s, "id", 0), tsq_json_get_string (s, "started_at", ""),
              tsq_json_get_string (s, "state", ""), status_text,
              tsq_json_get_double (s, "total_ms", 0), tsq_json_get_int (s, "technologies", 0),
              (const char *)g_hash_table_lookup (names, tsq_json_get_string (s, "monitor_id", ""))
                ?: tsq_json_get_string (s, "monitor_id", ""));
    }

out:
  history_options_clear (&o);
  return status;
}
