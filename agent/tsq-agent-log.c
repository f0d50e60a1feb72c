/* tsq-agent-log.c: log lines for people (default) or for log collectors (--log-format=json).
 *
 * Logs go to stderr so that stdout stays clean for data (scan results, changes). Debug messages
 * are shown with --verbose or G_MESSAGES_DEBUG, as GLib users expect.
 */
#define G_LOG_DOMAIN "tsq-agent-log"

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "tsq-agent-log.h"
#include "tsq-json-util.h"

static gboolean log_json;
static gboolean log_verbose;

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR) return "error";
  if (level & G_LOG_LEVEL_CRITICAL) return "critical";
  if (level & G_LOG_LEVEL_WARNING) return "warning";
  if (level & G_LOG_LEVEL_MESSAGE) return "notice";
  if (level & G_LOG_LEVEL_INFO) return "info";
  return "debug";
}

static GLogWriterOutput
writer (GLogLevelFlags   level,
        const GLogField *fields,
        gsize            n_fields,
        gpointer         user_data)
{
  const char *message = NULL;
  const char *domain = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S.%fZ");

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
      else if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
    }
  if ((level & G_LOG_LEVEL_DEBUG) && !log_verbose
      && g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  /* Microseconds are noise in a log line: keep milliseconds. */
  if (strlen (stamp) > 24)
    {
      stamp[23] = 'Z';
      stamp[24] = '\0';
    }

  if (log_json)
    {
      g_autoptr (JsonObject) o = json_object_new ();
      g_autoptr (JsonNode) node = NULL;
      g_autofree char *line = NULL;

      json_object_set_string_member (o, "ts", stamp);
      json_object_set_string_member (o, "level", level_name (level));
      json_object_set_string_member (o, "domain", domain ? domain : "");
      json_object_set_string_member (o, "message", message ? message : "");
      node = json_node_init_object (json_node_alloc (), o);
      line = tsq_json_to_string (node, FALSE);
      fprintf (stderr, "%s\n", line);
    }
  else
    fprintf (stderr, "%s %-7s %s\n", stamp, level_name (level), message ? message : "");
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
tsq_agent_log_init (gboolean json,
                    gboolean verbose)
{
  static gboolean installed;

  log_json = json;
  log_verbose = verbose;
  if (!installed)
    {
      g_log_set_writer_func (writer, NULL, NULL);
      installed = TRUE;
    }
}
