/* tsq-cmd-monitor.c: `techscaniq-agent monitor
 * add|list|show|edit|remove|enable|disable|import|export`.
 *
 * Every write goes through the storage, whose revision the running agent polls: edits made here
 * reach a running agent within a second, without a restart. Input is validated in full before
 * anything is written: an import with one bad monitor writes none.
 */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <stdio.h>

#include <gio/gunixinputstream.h>

#include "tsq-agent-setup.h"
#include "tsq-commands.h"
#include "tsq-json-util.h"
#include "tsq-monitor.h"

typedef struct
{
  TsqCommonOptions common;
  gboolean json;
  char *name;
  char *url;
  char *schedule;
  char *scan_config;
  char *alert_rules;
  char *organization;
  gboolean disabled;
} MonitorOptions;

static void
monitor_options_clear (MonitorOptions *o)
{
  tsq_common_options_clear (&o->common);
  g_free (o->name);
  g_free (o->url);
  g_free (o->schedule);
  g_free (o->scan_config);
  g_free (o->alert_rules);
  g_free (o->organization);
}

static void
print_json (JsonNode *node)
{
  g_autofree char *text = tsq_json_to_string (node, TRUE);

  printf ("%s\n", text);
}

static char *
format_time (gint64 us)
{
  g_autoptr (GDateTime) dt = NULL;

  if (us <= 0)
    return g_strdup ("—");
  dt = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return g_date_time_format (dt, "%Y-%m-%d %H:%M:%S");
}

static void
print_monitor (TsqMonitor *m)
{
  g_autofree char *last = format_time (m->last_run_us);
  g_autofree char *next = format_time (m->next_run_us);
  g_autoptr (JsonNode) config = json_node_init_object (json_node_alloc (), m->scan_config);
  g_autoptr (JsonNode) rules = json_node_init_array (json_node_alloc (), m->alert_rules);
  g_autofree char *config_text = tsq_json_to_string (config, FALSE);
  g_autofree char *rules_text = tsq_json_to_string (rules, FALSE);

  printf ("id            %s\nname          %s\nurl           %s\nschedule      %s\n"
          "enabled       %s\norganization  %s\nscan config   %s\nalert rules   %s\n"
          "last run      %s\nnext run      %s\n",
          m->id, m->name, m->url, m->schedule, m->enabled ? "yes" : "no", m->organization_id,
          config_text, rules_text, last, next);
}

/* Parses --scan-config / --alert-rules: JSON text, or @FILE. */
static JsonNode *
parse_json_option (const char *option, const char *text, JsonNodeType expected, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) local_error = NULL;

  if (text[0] == '@')
    {
      if (!g_file_get_contents (text + 1, &contents, NULL, error))
        return NULL;
      text = contents;
    }
  node = tsq_json_from_string (text, &local_error);
  if (node == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: %s", option,
                   local_error->message);
      return NULL;
    }
  if (JSON_NODE_TYPE (node) != expected)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: expected a JSON %s",
                   option, expected == JSON_NODE_OBJECT ? "object" : "array");
      return NULL;
    }
  return g_steal_pointer (&node);
}

static void
replace_str (char **field, const char *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static gboolean
apply_options (TsqMonitor *m, MonitorOptions *o, GError **error)
{
  if (o->name)
    replace_str (&m->name, o->name);
  if (o->url)
    replace_str (&m->url, o->url);
  if (o->schedule)
    replace_str (&m->schedule, o->schedule);
  if (o->organization)
    replace_str (&m->organization_id, o->organization);
  if (o->scan_config)
    {
      g_autoptr (JsonNode) node
        = parse_json_option ("--scan-config", o->scan_config, JSON_NODE_OBJECT, error);

      if (node == NULL)
        return FALSE;
      g_clear_pointer (&m->scan_config, json_object_unref);
      m->scan_config = json_object_ref (json_node_get_object (node));
    }
  if (o->alert_rules)
    {
      g_autoptr (JsonNode) node
        = parse_json_option ("--alert-rules", o->alert_rules, JSON_NODE_ARRAY, error);

      if (node == NULL)
        return FALSE;
      g_clear_pointer (&m->alert_rules, json_array_unref);
      m->alert_rules = json_array_ref (json_node_get_array (node));
    }
  return tsq_monitor_validate (m, error);
}

static JsonNode *
monitors_to_json (GPtrArray *monitors)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < monitors->len; i++)
    json_array_add_element (array, tsq_monitor_to_json (g_ptr_array_index (monitors, i)));
  return json_node_init_array (json_node_alloc (), array);
}

static int
do_list (TsqStorage *storage, MonitorOptions *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) monitors = tsq_storage_list_monitors (storage, &error);

  if (monitors == NULL)
    return tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
  if (o->json)
    {
      g_autoptr (JsonNode) node = monitors_to_json (monitors);

      print_json (node);
      return TSQ_EXIT_OK;
    }
  if (monitors->len == 0)
    {
      printf ("No monitors yet. Add one: techscaniq-agent monitor add https://example.com/\n");
      return TSQ_EXIT_OK;
    }
  printf ("%-8s  %-3s  %-24s  %-22s  %s\n", "ID", "ON", "NAME", "SCHEDULE", "URL");
  for (guint i = 0; i < monitors->len; i++)
    {
      TsqMonitor *m = g_ptr_array_index (monitors, i);

      printf ("%.8s  %-3s  %-24.24s  %-22.22s  %s\n", m->id, m->enabled ? "yes" : "no", m->name,
              m->schedule, m->url);
    }
  return TSQ_EXIT_OK;
}

static GPtrArray *
read_import (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) monitors
    = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_monitor_unref);
  g_autoptr (GError) local_error = NULL;
  JsonArray *array = NULL;

  if (g_str_equal (path, "-"))
    {
      g_autoptr (GInputStream) in = g_unix_input_stream_new (0, FALSE);
      g_autoptr (GOutputStream) buffer = g_memory_output_stream_new_resizable ();

      if (g_output_stream_splice (buffer, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
        return NULL;
      g_output_stream_write (buffer, "", 1, NULL, NULL);
      contents = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (buffer));
    }
  else if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;

  root = tsq_json_from_string (contents, &local_error);
  if (root == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  if (JSON_NODE_HOLDS_ARRAY (root))
    array = json_node_get_array (root);
  else if (JSON_NODE_HOLDS_OBJECT (root))
    array = tsq_json_get_array (json_node_get_object (root), "monitors");
  if (array == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: expected a JSON array of monitors or {\"monitors\": [...]}", path);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      TsqMonitor *m = tsq_monitor_from_json (json_array_get_element (array, i), &local_error);

      if (m == NULL || !tsq_monitor_validate (m, &local_error))
        {
          g_clear_pointer (&m, tsq_monitor_unref);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: monitor #%u: %s", path,
                       i + 1, local_error->message);
          return NULL;
        }
      for (guint j = 0; j < monitors->len; j++)
        if (g_str_equal (((TsqMonitor *)g_ptr_array_index (monitors, j))->id, m->id))
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         "%s: monitors #%u and #%u have the same id %s", path, j + 1, i + 1, m->id);
            tsq_monitor_unref (m);
            return NULL;
          }
      g_ptr_array_add (monitors, m);
    }
  return g_steal_pointer (&monitors);
}

static int
do_export (TsqStorage *storage, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) monitors = tsq_storage_list_monitors (storage, &error);
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;

  if (monitors == NULL)
    return tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
  node = monitors_to_json (monitors);
  text = tsq_json_to_string (node, TRUE);
  if (g_str_equal (path, "-"))
    {
      printf ("%s\n", text);
      return TSQ_EXIT_OK;
    }
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    return tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
  fprintf (stderr, "exported %u monitor(s) to %s\n", monitors->len, path);
  return TSQ_EXIT_OK;
}

static const char *subcommands_help
  = "Subcommands:\n"
    "  add URL [--name N] [--schedule S] [--scan-config JSON] [--alert-rules JSON] [--disabled]\n"
    "  list [--json]            show ID [--json]\n"
    "  edit ID [--name N] [--url U] [--schedule S] [--scan-config JSON] [--alert-rules JSON]\n"
    "  remove ID                enable ID                disable ID\n"
    "  import FILE|-            export FILE|-\n"
    "ID: a monitor's id, a unique prefix of it, or its name.\n"
    "Schedules: \"every 5m\", \"every 30s jitter 10s\", \"cron */5 * * * *\",\n"
    "  \"cron 0 9 * * MON-FRI tz Europe/Berlin\", \"@hourly\" (docs/scheduling.md).";

int
tsq_cmd_monitor (int argc, char **argv)
{
  MonitorOptions o = { 0 };
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &o.json, "JSON output (list, show)", NULL },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &o.name, "Monitor name", "NAME" },
    { "url", 'u', 0, G_OPTION_ARG_STRING, &o.url, "URL (edit)", "URL" },
    { "schedule", 's', 0, G_OPTION_ARG_STRING, &o.schedule, "Schedule (default \"every 5m\")",
      "SCHEDULE" },
    { "scan-config", 0, 0, G_OPTION_ARG_STRING, &o.scan_config,
      "Scan settings, JSON object or @FILE", "JSON" },
    { "alert-rules", 0, 0, G_OPTION_ARG_STRING, &o.alert_rules, "Alert rules, JSON array or @FILE",
      "JSON" },
    { "organization", 0, 0, G_OPTION_ARG_STRING, &o.organization, "Organization id", "ID" },
    { "disabled", 0, 0, G_OPTION_ARG_NONE, &o.disabled, "Add the monitor disabled", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("SUBCOMMAND [ARG] — manage monitors");
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAgentConfig) config = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (TsqMonitor) m = NULL;
  const char *sub, *arg;
  int status = TSQ_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, tsq_common_option_group (&o.common));
  g_option_context_set_description (context, subcommands_help);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if (argc < 2)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor: missing subcommand\n%s", subcommands_help);
      goto out;
    }
  sub = argv[1];
  arg = argc > 2 ? argv[2] : NULL;
  if (argc > 3)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor %s: unexpected argument “%s”", sub, argv[3]);
      goto out;
    }
  if (!g_str_equal (sub, "list") && arg == NULL)
    {
      status
        = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor %s: missing argument\n%s", sub, subcommands_help);
      goto out;
    }

  if ((config = tsq_agent_setup_config (&o.common, &error)) == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  if ((storage = tsq_agent_setup_storage (config, &error)) == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s: %s", config->database, error->message);
      goto out;
    }

  if (g_str_equal (sub, "add"))
    {
      g_autofree char *name = NULL;

      if (o.name == NULL)
        {
          g_autoptr (GUri) uri = g_uri_parse (arg, G_URI_FLAGS_NONE, NULL);
          const char *host = uri ? g_uri_get_host (uri) : NULL;

          name = g_strdup (host && *host ? host : arg);
        }
      m = tsq_monitor_new (o.name ? o.name : name, arg,
                           o.schedule ? o.schedule : TSQ_MONITOR_DEFAULT_SCHEDULE);
      g_clear_pointer (&o.schedule, g_free);
      m->enabled = !o.disabled;
      if (!apply_options (m, &o, &error))
        status = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor add: %s", error->message);
      else if (!tsq_storage_put_monitor (storage, m, &error))
        status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "monitor add: %s", error->message);
      else
        printf ("%s\n", m->id);
    }
  else if (g_str_equal (sub, "list"))
    status = do_list (storage, &o);
  else if (g_str_equal (sub, "import"))
    {
      g_autoptr (GPtrArray) monitors = read_import (arg, &error);

      if (monitors == NULL)
        status = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor import: %s", error->message);
      else
        {
          /* All or nothing: one transaction for the whole file. */
          gboolean ok = tsq_storage_transaction_begin (storage, &error);

          for (guint i = 0; ok && i < monitors->len; i++)
            ok = tsq_storage_put_monitor (storage, g_ptr_array_index (monitors, i), &error);
          if (ok)
            ok = tsq_storage_transaction_commit (storage, &error);
          else
            tsq_storage_transaction_rollback (storage);
          if (!ok)
            status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "monitor import: nothing imported: %s",
                                   error->message);
          else
            fprintf (stderr, "imported %u monitor(s)\n", monitors->len);
        }
    }
  else if (g_str_equal (sub, "export"))
    status = do_export (storage, arg);
  else if (g_str_equal (sub, "show") || g_str_equal (sub, "edit") || g_str_equal (sub, "remove")
           || g_str_equal (sub, "enable") || g_str_equal (sub, "disable"))
    {
      m = tsq_storage_get_monitor (storage, arg, &error);
      if (m == NULL)
        status = tsq_cmd_fail (
          g_error_matches (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND)
              || g_error_matches (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS)
            ? TSQ_EXIT_USAGE
            : TSQ_EXIT_FAILURE,
          "monitor %s: %s", sub, error->message);
      else if (g_str_equal (sub, "show"))
        {
          if (o.json)
            {
              g_autoptr (JsonNode) node = tsq_monitor_to_json (m);
              print_json (node);
            }
          else
            print_monitor (m);
        }
      else if (g_str_equal (sub, "remove"))
        {
          if (!tsq_storage_delete_monitor (storage, m->id, &error))
            status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "monitor remove: %s", error->message);
          else
            fprintf (stderr, "removed monitor “%s” (%s) and its history\n", m->name, m->id);
        }
      else
        {
          if (g_str_equal (sub, "enable"))
            m->enabled = TRUE;
          else if (g_str_equal (sub, "disable"))
            m->enabled = FALSE;
          if (!apply_options (m, &o, &error))
            status = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor %s: %s", sub, error->message);
          else if (!tsq_storage_put_monitor (storage, m, &error))
            status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "monitor %s: %s", sub, error->message);
        }
    }
  else
    status = tsq_cmd_fail (TSQ_EXIT_USAGE, "monitor: unknown subcommand “%s”\n%s", sub,
                           subcommands_help);

out:
  monitor_options_clear (&o);
  return status;
}
