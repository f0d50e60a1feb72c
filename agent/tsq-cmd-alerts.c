/* tsq-cmd-alerts.c: `techscaniq-agent alerts ...`, `silence ...` and `notify test CHANNEL`.
 *
 * alerts and silence read and write storage directly; a running agent notices acks,
 * resolutions and silences within [alerts] poll_interval (2 s) and tells its engine (which then
 * stops escalating, or sends the resolution). notify test sends through the channel directly,
 * not through the outbox. */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tsq-agent-setup.h"
#include "tsq-alert-engine.h"
#include "tsq-alert-service.h"
#include "tsq-commands.h"
#include "tsq-json-util.h"
#include "tsq-monitor.h"

typedef struct
{
  TsqCommonOptions common;
  char *state;
  char *monitor;
  char *by;
  char *duration;
  char *comment;
  char **matches;
  char *cron;
  char *tz;
  char *from;
  char *until;
  gboolean json;
  gboolean all;
  int limit;
} AlertOptions;

static void
alert_options_clear (AlertOptions *o)
{
  tsq_common_options_clear (&o->common);
  g_free (o->state);
  g_free (o->monitor);
  g_free (o->by);
  g_free (o->duration);
  g_free (o->comment);
  g_strfreev (o->matches);
  g_free (o->cron);
  g_free (o->tz);
  g_free (o->from);
  g_free (o->until);
}

/* Parses the options of every subcommand (unused ones are simply ignored); returns FALSE with
 * *status set on bad usage. argv[1] is then the subcommand. */
static gboolean
parse_options (AlertOptions *o, const char *summary, int *argc, char ***argv, int *status)
{
  GOptionEntry entries[] = {
    { "state", 's', 0, G_OPTION_ARG_STRING, &o->state,
      "alerts list: triggered, acknowledged, resolved or open; alerts outbox: pending, sending, "
      "delivered or dead",
      "STATE" },
    { "monitor", 'm', 0, G_OPTION_ARG_STRING, &o->monitor,
      "alerts list: only this monitor (id, prefix or name)", "ID" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &o->json, "One JSON object per line", NULL },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &o->limit, "At most this many rows", "N" },
    { "by", 0, 0, G_OPTION_ARG_STRING, &o->by, "ack/resolve/silence add: who (default $USER)",
      "WHO" },
    { "match", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->matches,
      "silence add: matcher (monitor, monitor_id, monitor_name, rule, type, subject_regex, "
      "severity; repeatable, ANDed)",
      "KEY=VALUE" },
    { "duration", 0, 0, G_OPTION_ARG_STRING, &o->duration,
      "silence add, maintenance add: how long (90s, 15m, 2h, 7d)", "SPAN" },
    { "comment", 0, 0, G_OPTION_ARG_STRING, &o->comment, "silence add, maintenance add: why",
      "TEXT" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &o->all, "silence list: also expired silences", NULL },
    { "cron", 0, 0, G_OPTION_ARG_STRING, &o->cron,
      "maintenance add: when each window starts (5-field cron), with --duration", "EXPR" },
    { "tz", 0, 0, G_OPTION_ARG_STRING, &o->tz, "maintenance add: time zone of --cron", "ZONE" },
    { "from", 0, 0, G_OPTION_ARG_STRING, &o->from, "maintenance add: start of a fixed window",
      "ISO8601" },
    { "until", 0, 0, G_OPTION_ARG_STRING, &o->until, "maintenance add: end of a fixed window",
      "ISO8601" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (summary);
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, tsq_common_option_group (&o->common));
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      return FALSE;
    }
  if (o->limit < 0)
    {
      *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "--limit %d: must not be negative", o->limit);
      return FALSE;
    }
  return TRUE;
}

static TsqStorage *
open_storage (AlertOptions *o, TsqAgentConfig **config_out, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAgentConfig) config = tsq_agent_setup_config (&o->common, &error);
  TsqStorage *storage;

  if (config == NULL)
    {
      *status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      return NULL;
    }
  storage = tsq_agent_setup_storage (config, &error);
  if (storage == NULL)
    {
      *status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s: %s", config->database, error->message);
      return NULL;
    }
  if (config_out)
    *config_out = g_steal_pointer (&config);
  return storage;
}

static gboolean
parse_id (const char *text, gint64 *out)
{
  char *end = NULL;
  gint64 v;

  errno = 0;
  v = g_ascii_strtoll (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v <= 0)
    return FALSE;
  *out = v;
  return TRUE;
}

static int
storage_status (GError *error)
{
  if (g_error_matches (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND)
      || g_error_matches (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT)
      || g_error_matches (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID))
    return TSQ_EXIT_USAGE;
  return TSQ_EXIT_FAILURE;
}

static void
print_json (JsonObject *o)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  g_autofree char *line = tsq_json_to_string (node, FALSE);

  printf ("%s\n", line);
}

static void
print_alert_line (JsonObject *a)
{
  JsonObject *p = tsq_json_get_object (a, "payload");

  printf ("%-6" G_GINT64_FORMAT " %-12s %-8s %-24s %-24s %s  %s\n", tsq_json_get_int (a, "id", 0),
          tsq_json_get_string (a, "state", ""), tsq_json_get_string (a, "severity", ""),
          p ? tsq_json_get_string (p, "monitor_name", "")
            : tsq_json_get_string (a, "monitor_id", ""),
          tsq_json_get_string (a, "change_type", ""), tsq_json_get_string (a, "subject", ""),
          tsq_json_get_string (a, "triggered_at", ""));
}

static const char *
default_who (const char *by)
{
  return by ? by : g_get_user_name ();
}

/* One outbox row on a line: never the rendered body (it may quote page content at length), and
 * no secret ever reaches a row. */
static void
print_outbox_line (JsonObject *row)
{
  g_autofree char *error = g_strdup (tsq_json_get_string (row, "last_error", ""));
  const char *next = tsq_json_get_string (row, "next_attempt_at", NULL);
  const char *state = tsq_json_get_string (row, "state", "");

  if (g_utf8_strlen (error, -1) > 100)
    *g_utf8_offset_to_pointer (error, 100) = '\0';
  for (char *c = error; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t')
      *c = ' ';
  printf ("%-36s %-9s %-12s %-10s %2" G_GINT64_FORMAT " %-20s %s\n",
          tsq_json_get_string (row, "id", ""), state, tsq_json_get_string (row, "channel", ""),
          tsq_json_get_string (row, "kind", ""), tsq_json_get_int (row, "attempts", 0),
          next && (g_str_equal (state, "pending") || g_str_equal (state, "sending")) ? next : "-",
          error);
}

static int
outbox_list (AlertOptions *o, int argc)
{
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) error = NULL;
  int status = TSQ_EXIT_OK;

  if (argc != 2)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "alerts outbox: no arguments expected");
  if (o->state
      && !g_strv_contains ((const char *const[]){ TSQ_OUTBOX_PENDING, TSQ_OUTBOX_SENDING,
                                                  TSQ_OUTBOX_DELIVERED, TSQ_OUTBOX_DEAD, NULL },
                           o->state))
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "--state %s: expected pending, sending, delivered or dead",
                         o->state);
  if ((storage = open_storage (o, NULL, &status)) == NULL)
    return status;
  rows = tsq_storage_outbox_list (storage, o->state, o->limit, &error);
  if (rows == NULL)
    return tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
  if (!o->json && rows->len > 0)
    printf ("%-36s %-9s %-12s %-10s %2s %-20s %s\n", "ID", "STATE", "CHANNEL", "KIND", "N",
            "NEXT ATTEMPT", "LAST ERROR");
  for (guint i = 0; i < rows->len; i++)
    if (o->json)
      print_json (g_ptr_array_index (rows, i));
    else
      print_outbox_line (g_ptr_array_index (rows, i));
  if (!o->json && rows->len == 0)
    printf ("No notifications.\n");
  return TSQ_EXIT_OK;
}

static int
outbox_requeue (AlertOptions *o, int argc, char **argv)
{
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GError) error = NULL;
  int status = TSQ_EXIT_OK;

  if (argc != 3)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "alerts requeue: expected one notification id");
  if ((storage = open_storage (o, NULL, &status)) == NULL)
    return status;
  if (!tsq_storage_outbox_requeue (storage, argv[2], 0, &error))
    return tsq_cmd_fail (storage_status (error), "alerts requeue %s: %s", argv[2], error->message);
  printf ("Notification %s requeued.\n", argv[2]);
  return TSQ_EXIT_OK;
}

int
tsq_cmd_alerts (int argc, char **argv)
{
  AlertOptions o = { 0 };
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GError) error = NULL;
  const char *sub;
  int status = TSQ_EXIT_OK;

  if (!parse_options (&o, "list|show ID|ack ID|resolve ID|outbox|requeue NOTIFICATION_ID — alerts",
                      &argc, &argv, &status))
    goto out;
  sub = argc > 1 ? argv[1] : "list";
  if (!g_strv_contains (
        (const char *const[]){ "list", "show", "ack", "resolve", "outbox", "requeue", NULL }, sub))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "alerts: unknown subcommand “%s”", sub);
      goto out;
    }
  if (g_str_equal (sub, "outbox") || g_str_equal (sub, "requeue"))
    {
      status
        = g_str_equal (sub, "outbox") ? outbox_list (&o, argc) : outbox_requeue (&o, argc, argv);
      goto out;
    }
  if (!g_str_equal (sub, "list") && argc != 3)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "alerts %s: expected one alert ID", sub);
      goto out;
    }
  if ((storage = open_storage (&o, NULL, &status)) == NULL)
    goto out;

  if (g_str_equal (sub, "list"))
    {
      TsqAlertFilter filter = { 0 };
      g_autoptr (GPtrArray) rows = NULL;
      g_autoptr (TsqMonitor) m = NULL;

      if (o.state
          && !g_strv_contains (
            (const char *const[]){ "triggered", "acknowledged", "resolved", "open", NULL },
            o.state))
        {
          status = tsq_cmd_fail (TSQ_EXIT_USAGE,
                                 "--state %s: expected triggered, acknowledged, resolved or open",
                                 o.state);
          goto out;
        }
      if (o.monitor && (m = tsq_storage_get_monitor (storage, o.monitor, &error)) == NULL)
        {
          status = tsq_cmd_fail (TSQ_EXIT_USAGE, "--monitor %s: %s", o.monitor, error->message);
          goto out;
        }
      filter.monitor_id = m ? m->id : NULL;
      filter.state = o.state;
      filter.limit = o.limit;
      if ((rows = tsq_storage_query_alerts (storage, &filter, &error)) == NULL)
        {
          status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
      for (guint i = 0; i < rows->len; i++)
        if (o.json)
          print_json (g_ptr_array_index (rows, i));
        else
          print_alert_line (g_ptr_array_index (rows, i));
      if (!o.json && rows->len == 0)
        printf ("No alerts.\n");
    }
  else
    {
      gint64 id;

      if (!parse_id (argv[2], &id))
        {
          status
            = tsq_cmd_fail (TSQ_EXIT_USAGE, "alerts %s: “%s” is not an alert id", sub, argv[2]);
          goto out;
        }
      if (g_str_equal (sub, "show"))
        {
          g_autoptr (JsonObject) row = tsq_storage_get_alert (storage, id, &error);
          g_autoptr (JsonNode) node = NULL;
          g_autofree char *text = NULL;

          if (row == NULL)
            {
              status = tsq_cmd_fail (storage_status (error), "alerts show %s: %s", argv[2],
                                     error->message);
              goto out;
            }
          node = json_node_init_object (json_node_alloc (), row);
          text = tsq_json_to_string (node, !o.json);
          printf ("%s\n", text);
        }
      else if (g_str_equal (sub, "ack"))
        {
          if (!tsq_storage_ack_alert (storage, id, default_who (o.by), 0, &error))
            {
              status = tsq_cmd_fail (storage_status (error), "alerts ack %s: %s", argv[2],
                                     error->message);
              goto out;
            }
          printf ("Alert %" G_GINT64_FORMAT " acknowledged.\n", id);
        }
      else
        {
          g_autofree char *reason = g_strdup_printf ("user:%s", default_who (o.by));

          if (!tsq_storage_resolve_alert (storage, id, reason, 0, &error))
            {
              status = tsq_cmd_fail (storage_status (error), "alerts resolve %s: %s", argv[2],
                                     error->message);
              goto out;
            }
          printf ("Alert %" G_GINT64_FORMAT " resolved.\n", id);
        }
    }

out:
  alert_options_clear (&o);
  return status;
}

/* "90s", "15m", "2h", "7d", "1h30m" -> µs; FALSE if malformed or not positive. */
static gboolean
parse_span (const char *text, gint64 *out)
{
  const char *p = text;
  gint64 total = 0;

  if (text == NULL || *text == '\0')
    return FALSE;
  while (*p)
    {
      char *end = NULL;
      gint64 unit;
      gint64 v = g_ascii_strtoll (p, &end, 10);

      if (end == p || v < 0 || v > 100000000)
        return FALSE;
      switch (*end)
        {
          case 's':
            unit = 1;
            break;
          case 'm':
            unit = 60;
            break;
          case 'h':
            unit = 3600;
            break;
          case 'd':
            unit = 86400;
            break;
          default:
            return FALSE;
        }
      total += v * unit;
      if (total > (gint64)3650 * 86400)
        return FALSE;
      p = end + 1;
    }
  *out = total * G_USEC_PER_SEC;
  return total > 0;
}

static const char *const matcher_keys[]
  = { "monitor_id", "monitor_name", "rule", "type", "subject_regex", "severity", NULL };

static int
silence_add (AlertOptions *o, TsqStorage *storage)
{
  g_autoptr (JsonObject) matchers = json_object_new ();
  g_autoptr (JsonObject) check = json_object_new ();
  g_autoptr (JsonObject) row = json_object_new ();
  g_autoptr (TsqAlertSilence) silence = NULL;
  g_autoptr (GError) error = NULL;
  JsonArray *list;
  gint64 span, now = g_get_real_time ();
  gint64 id;

  if (o->matches == NULL || o->matches[0] == NULL)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "silence add: at least one --match KEY=VALUE");
  if (!parse_span (o->duration, &span))
    return tsq_cmd_fail (TSQ_EXIT_USAGE,
                         "silence add: --duration: expected a span like 2h, got “%s”",
                         o->duration ? o->duration : "");
  for (guint i = 0; o->matches[i]; i++)
    {
      const char *eq = strchr (o->matches[i], '=');
      g_autofree char *key = eq ? g_strndup (o->matches[i], eq - o->matches[i]) : NULL;

      if (key == NULL || eq[1] == '\0')
        return tsq_cmd_fail (TSQ_EXIT_USAGE, "--match %s: expected KEY=VALUE", o->matches[i]);
      /* Matchers are ANDed per key: a second value for one key would silently replace the first. */
      if (json_object_has_member (matchers, g_str_equal (key, "monitor") ? "monitor_id" : key))
        return tsq_cmd_fail (TSQ_EXIT_USAGE,
                             "--match %s: “%s” is given twice (one value per key; use a "
                             "glob such as type=technology.* or one silence each)",
                             o->matches[i], key);
      if (g_str_equal (key, "monitor"))
        {
          g_autoptr (TsqMonitor) m = tsq_storage_get_monitor (storage, eq + 1, &error);

          if (m == NULL)
            return tsq_cmd_fail (TSQ_EXIT_USAGE, "--match %s: %s", o->matches[i], error->message);
          json_object_set_string_member (matchers, "monitor_id", m->id);
        }
      else if (g_strv_contains (matcher_keys, key))
        json_object_set_string_member (matchers, key, eq + 1);
      else
        return tsq_cmd_fail (TSQ_EXIT_USAGE,
                             "--match %s: unknown key (monitor, monitor_id, monitor_name, rule, "
                             "type, subject_regex, severity)",
                             o->matches[i]);
    }
  /* Validated by the engine's parser, so the agent will accept it. */
  json_object_set_object_member (check, "matchers", json_object_ref (matchers));
  json_object_set_int_member (check, "starts_at", now);
  json_object_set_int_member (check, "ends_at", now + span);
  if ((silence = tsq_alert_silence_from_json (check, &error)) == NULL)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "silence add: %s", error->message);

  list = json_array_new ();
  json_array_add_object_element (list, json_object_ref (matchers));
  json_object_set_array_member (row, "matchers", list);
  json_object_set_int_member (row, "starts_at", now);
  json_object_set_int_member (row, "ends_at", now + span);
  json_object_set_string_member (row, "created_by", default_who (o->by));
  if (o->comment)
    json_object_set_string_member (row, "comment", o->comment);
  if ((id = tsq_storage_add_silence (storage, row, &error)) < 0)
    return tsq_cmd_fail (storage_status (error), "silence add: %s", error->message);
  printf ("%" G_GINT64_FORMAT "\n", id);
  return TSQ_EXIT_OK;
}

int
tsq_cmd_silence (int argc, char **argv)
{
  AlertOptions o = { 0 };
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GError) error = NULL;
  const char *sub;
  int status = TSQ_EXIT_OK;

  if (!parse_options (&o, "add|list|expire ID — silences", &argc, &argv, &status))
    goto out;
  sub = argc > 1 ? argv[1] : "list";
  if (!g_strv_contains ((const char *const[]){ "add", "list", "expire", NULL }, sub))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "silence: unknown subcommand “%s”", sub);
      goto out;
    }
  if ((g_str_equal (sub, "expire") && argc != 3) || (!g_str_equal (sub, "expire") && argc > 2))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "silence %s: wrong number of arguments", sub);
      goto out;
    }
  if ((storage = open_storage (&o, NULL, &status)) == NULL)
    goto out;
  if (g_str_equal (sub, "add"))
    status = silence_add (&o, storage);
  else if (g_str_equal (sub, "list"))
    {
      g_autoptr (GPtrArray) rows = tsq_storage_list_silences (storage, o.all, 0, &error);

      if (rows == NULL)
        {
          status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
      for (guint i = 0; i < rows->len; i++)
        {
          JsonObject *s = g_ptr_array_index (rows, i);
          JsonNode *m = json_object_get_member (s, "matchers");
          g_autofree char *mt = m ? tsq_json_to_string (m, FALSE) : g_strdup ("");

          if (o.json)
            print_json (s);
          else
            printf ("%-6" G_GINT64_FORMAT " %-8s %s .. %s  %s  %s\n", tsq_json_get_int (s, "id", 0),
                    tsq_json_get_string (s, "state", ""), tsq_json_get_string (s, "starts_at", ""),
                    tsq_json_get_string (s, "ends_at", ""), mt,
                    tsq_json_get_string (s, "comment", ""));
        }
      if (!o.json && rows->len == 0)
        printf ("No silences.\n");
    }
  else
    {
      gint64 id;

      if (!parse_id (argv[2], &id))
        {
          status
            = tsq_cmd_fail (TSQ_EXIT_USAGE, "silence expire: “%s” is not a silence id", argv[2]);
          goto out;
        }
      if (!tsq_storage_expire_silence (storage, id, 0, &error))
        {
          status = tsq_cmd_fail (storage_status (error), "silence expire %s: %s", argv[2],
                                 error->message);
          goto out;
        }
      printf ("Silence %" G_GINT64_FORMAT " expired.\n", id);
    }

out:
  alert_options_clear (&o);
  return status;
}

typedef struct
{
  GMainLoop *loop;
  TsqDeliveryStatus status;
  TsqDeliveryInfo *info;
  GError *error;
} TestWait;

static void
on_test_delivered (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TestWait *w = user_data;

  w->status = tsq_notifier_deliver_finish (TSQ_NOTIFIER (source), result, &w->info, &w->error);
  g_main_loop_quit (w->loop);
}

int
tsq_cmd_notify (int argc, char **argv)
{
  AlertOptions o = { 0 };
  g_autoptr (TsqAgentConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqTemplateSet) templates = NULL;
  g_autoptr (JsonObject) ctx = NULL;
  g_autoptr (JsonObject) row = NULL;
  g_autoptr (TsqNotification) n = NULL;
  g_autofree char *group = NULL;
  g_autofree char *id = NULL;
  g_autofree char *now_iso = NULL;
  JsonObject *obj;
  TestWait w = { 0 };
  int status = TSQ_EXIT_OK;

  if (!parse_options (&o, "test CHANNEL — send a test notification", &argc, &argv, &status))
    goto out;
  if (argc != 3 || !g_str_equal (argv[1], "test"))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "notify: usage: notify test CHANNEL");
      goto out;
    }
  config = tsq_agent_setup_config (&o.common, &error);
  if (config == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
      goto out;
    }
  group = g_strconcat (TSQ_NOTIFIER_GROUP_PREFIX, argv[2], NULL);
  if (config->keyfile == NULL || !g_key_file_has_group (config->keyfile, group))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "notify test: no [channel %s] in the configuration%s",
                             argv[2], config->keyfile ? "" : " (use --config FILE)");
      goto out;
    }
  if ((notifier = tsq_notifier_new_from_config (config->keyfile, group, &error)) == NULL
      || (templates = tsq_alert_load_templates (config->keyfile, &error)) == NULL)
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "notify test: %s", error->message);
      goto out;
    }
  id = g_uuid_string_random ();
  now_iso = tsq_monitor_time_to_iso8601 (g_get_real_time ());
  ctx = json_object_new ();
  obj = json_object_new ();
  json_object_set_string_member (obj, "id", id);
  json_object_set_string_member (obj, "type", "test");
  json_object_set_string_member (obj, "created_at", now_iso);
  json_object_set_object_member (ctx, "notification", obj);
  obj = json_object_new ();
  json_object_set_string_member (obj, "name", "techscaniq-agent");
  json_object_set_string_member (obj, "version", PACKAGE_VERSION);
  json_object_set_object_member (ctx, "agent", obj);
  json_object_set_array_member (ctx, "alerts", json_array_new ());
  json_object_set_int_member (ctx, "count", 0);
  row = json_object_new ();
  json_object_set_string_member (row, "id", id);
  json_object_set_string_member (row, "channel", argv[2]);
  json_object_set_string_member (row, "created_at", now_iso);
  json_object_set_object_member (
    row, "payload",
    tsq_alert_render_payload (templates, tsq_notifier_get_kind (notifier), "test", ctx));
  n = tsq_alert_notification_from_row (row);

  w.loop = g_main_loop_new (NULL, FALSE);
  tsq_notifier_deliver_async (notifier, n, NULL, on_test_delivered, &w);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  if (w.status == TSQ_DELIVERY_DELIVERED)
    printf ("delivered to %s (%s, id %s, status %u)\n", argv[2], tsq_notifier_get_kind (notifier),
            id, w.info ? w.info->http_status : 0);
  else
    status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "notify test %s: failed (%s): %s", argv[2],
                           tsq_delivery_status_to_string (w.status),
                           w.error ? w.error->message : "unknown error");
  g_clear_pointer (&w.info, tsq_delivery_info_free);
  g_clear_error (&w.error);

out:
  alert_options_clear (&o);
  return status;
}

/* ---- maintenance windows (stored per monitor; the running agent polls them) ---- */

static int
maintenance_add (AlertOptions *o, TsqStorage *storage, const char *monitor_ref)
{
  g_autoptr (TsqMonitor) m = NULL;
  g_autoptr (JsonObject) def = json_object_new ();
  g_autoptr (JsonObject) check = NULL;
  g_autoptr (JsonObject) row = json_object_new ();
  g_autoptr (TsqAlertMaintenance) window = NULL;
  g_autoptr (GError) error = NULL;
  gint64 id;

  if ((m = tsq_storage_get_monitor (storage, monitor_ref, &error)) == NULL)
    return tsq_cmd_fail (storage_status (error), "maintenance add %s: %s", monitor_ref,
                         error->message);
  if (o->cron && (o->from || o->until))
    return tsq_cmd_fail (TSQ_EXIT_USAGE,
                         "maintenance add: --cron and --from/--until are exclusive");
  if (o->cron)
    {
      gint64 span;

      if (!parse_span (o->duration, &span))
        return tsq_cmd_fail (TSQ_EXIT_USAGE,
                             "maintenance add: --cron needs --duration SPAN (like 2h), got “%s”",
                             o->duration ? o->duration : "");
      json_object_set_string_member (def, "cron", o->cron);
      json_object_set_int_member (def, "duration_s", span / G_USEC_PER_SEC);
      if (o->tz)
        json_object_set_string_member (def, "timezone", o->tz);
    }
  else if (o->from && o->until)
    {
      gint64 from_us, until_us;

      if (o->tz || o->duration)
        return tsq_cmd_fail (TSQ_EXIT_USAGE,
                             "maintenance add: --tz and --duration go with --cron only");
      /* A time without a zone would be read as UTC by one part and refused by another: ask. */
      if (!tsq_monitor_time_from_iso8601 (o->from, &from_us)
          || !tsq_monitor_time_from_iso8601 (o->until, &until_us))
        return tsq_cmd_fail (TSQ_EXIT_USAGE,
                             "maintenance add: --from and --until need ISO 8601 times with a zone, "
                             "e.g. 2026-12-24T20:00:00Z or 2026-12-24T21:00:00+01:00");
      if (from_us >= until_us)
        return tsq_cmd_fail (TSQ_EXIT_USAGE, "maintenance add: --from must be earlier than --until");
      json_object_set_string_member (def, "starts_at", o->from);
      json_object_set_string_member (def, "ends_at", o->until);
    }
  else
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "maintenance add: expected --cron EXPR --duration SPAN "
                                         "[--tz ZONE], or --from ISO8601 --until ISO8601");
  /* Validated by the engine's parser, so the agent will accept it. */
  check = json_object_ref (def);
  json_object_set_string_member (check, "monitor_id", m->id);
  window = tsq_alert_maintenance_from_json (check, &error);
  json_object_remove_member (check, "monitor_id");
  if (window == NULL)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "maintenance add: %s", error->message);
  json_object_set_string_member (row, "monitor_id", m->id);
  json_object_set_object_member (row, "definition", json_object_ref (def));
  json_object_set_string_member (row, "created_by", default_who (o->by));
  if (o->comment)
    json_object_set_string_member (row, "comment", o->comment);
  if ((id = tsq_storage_add_maintenance (storage, row, &error)) < 0)
    return tsq_cmd_fail (storage_status (error), "maintenance add: %s", error->message);
  printf ("%" G_GINT64_FORMAT "\n", id);
  return TSQ_EXIT_OK;
}

/* "active until …", "next …" or "ended", from the engine's reading of the window. */
static char *
maintenance_state (JsonObject *row, gint64 now)
{
  g_autoptr (JsonObject) def = json_object_new ();
  g_autoptr (TsqAlertMaintenance) window = NULL;
  g_autofree char *iso = NULL;
  JsonObject *stored = tsq_json_get_object (row, "definition");
  g_autoptr (GList) members = stored ? json_object_get_members (stored) : NULL;
  gint64 ends = 0;

  for (GList *l = members; l; l = l->next)
    json_object_set_member (def, l->data,
                            json_node_copy (json_object_get_member (stored, l->data)));
  json_object_set_string_member (def, "monitor_id", tsq_json_get_string (row, "monitor_id", ""));
  if ((window = tsq_alert_maintenance_from_json (def, NULL)) == NULL)
    return g_strdup ("invalid");
  if (tsq_alert_maintenance_is_active (window, now, &ends))
    {
      iso = tsq_monitor_time_to_iso8601 (ends);
      return g_strdup_printf ("active until %s", iso);
    }
  if (json_object_has_member (def, "ends_at"))
    {
      gint64 end = 0;

      if (tsq_monitor_time_from_iso8601 (tsq_json_get_string (def, "ends_at", ""), &end)
          && end <= now)
        return g_strdup ("ended");
    }
  return g_strdup ("inactive");
}

int
tsq_cmd_maintenance (int argc, char **argv)
{
  AlertOptions o = { 0 };
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GError) error = NULL;
  const char *sub;
  int status = TSQ_EXIT_OK;

  if (!parse_options (&o, "add MONITOR|list|remove ID — maintenance windows per monitor", &argc,
                      &argv, &status))
    goto out;
  sub = argc > 1 ? argv[1] : "list";
  if (!g_strv_contains ((const char *const[]){ "add", "list", "remove", NULL }, sub))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "maintenance: unknown subcommand “%s”", sub);
      goto out;
    }
  if ((!g_str_equal (sub, "list") && argc != 3) || (g_str_equal (sub, "list") && argc > 2))
    {
      status = tsq_cmd_fail (TSQ_EXIT_USAGE, "maintenance %s: wrong number of arguments", sub);
      goto out;
    }
  if ((storage = open_storage (&o, NULL, &status)) == NULL)
    goto out;
  if (g_str_equal (sub, "add"))
    status = maintenance_add (&o, storage, argv[2]);
  else if (g_str_equal (sub, "list"))
    {
      g_autoptr (TsqMonitor) m = NULL;
      g_autoptr (GPtrArray) rows = NULL;
      gint64 now = g_get_real_time ();

      if (o.monitor && (m = tsq_storage_get_monitor (storage, o.monitor, &error)) == NULL)
        {
          status = tsq_cmd_fail (TSQ_EXIT_USAGE, "--monitor %s: %s", o.monitor, error->message);
          goto out;
        }
      if ((rows = tsq_storage_list_maintenance (storage, m ? m->id : NULL, &error)) == NULL)
        {
          status = tsq_cmd_fail (TSQ_EXIT_FAILURE, "%s", error->message);
          goto out;
        }
      for (guint i = 0; i < rows->len; i++)
        {
          JsonObject *row = g_ptr_array_index (rows, i);
          g_autofree char *state = maintenance_state (row, now);
          JsonNode *def = json_object_get_member (row, "definition");
          g_autofree char *text = def ? tsq_json_to_string (def, FALSE) : g_strdup ("");
          g_autoptr (TsqMonitor) mon
            = tsq_storage_get_monitor (storage, tsq_json_get_string (row, "monitor_id", ""), NULL);

          json_object_set_string_member (row, "state", state);
          if (o.json)
            print_json (row);
          else
            printf ("%-6" G_GINT64_FORMAT " %-20s %s  %s  %s\n", tsq_json_get_int (row, "id", 0),
                    mon ? mon->name : tsq_json_get_string (row, "monitor_id", ""), text, state,
                    tsq_json_get_string (row, "comment", ""));
        }
      if (!o.json && rows->len == 0)
        printf ("No maintenance windows.\n");
    }
  else
    {
      gint64 id;

      if (!parse_id (argv[2], &id))
        {
          status = tsq_cmd_fail (
            TSQ_EXIT_USAGE, "maintenance remove: “%s” is not a maintenance window id", argv[2]);
          goto out;
        }
      if (!tsq_storage_remove_maintenance (storage, id, &error))
        {
          status = tsq_cmd_fail (storage_status (error), "maintenance remove %s: %s", argv[2],
                                 error->message);
          goto out;
        }
      printf ("Maintenance window %" G_GINT64_FORMAT " removed.\n", id);
    }

out:
  alert_options_clear (&o);
  return status;
}
