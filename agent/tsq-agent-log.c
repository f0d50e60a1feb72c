/* tsq-agent-log.c: log lines for people (default) or for log collectors (--log-format=json).
 *
 * Logs go to stderr so that stdout stays clean for data (scan results, changes). Debug messages
 * are shown with --verbose or G_MESSAGES_DEBUG, as GLib users expect.
 */
#define G_LOG_DOMAIN "tsq-agent-log"

#include <stdio.h>
#include <time.h>

#include <json-glib/json-glib.h>

#include "tsq-agent-log.h"
#include "tsq-json-util.h"

static gboolean log_json;
static gboolean log_verbose;

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "notice";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

/* No GDateTime here: GLib may log while it holds its time-zone lock, and GDateTime takes that
 * lock too. */
static void
format_stamp (char *out, gsize size)
{
  gint64 now = g_get_real_time ();
  time_t seconds = now / G_USEC_PER_SEC;
  struct tm tm;
  char date[32];

  gmtime_r (&seconds, &tm);
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  g_snprintf (out, size, "%s.%03dZ", date, (int)(now % G_USEC_PER_SEC / 1000));
}

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = NULL;
  const char *domain = NULL;
  char stamp[40];

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
  format_stamp (stamp, sizeof stamp);

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
tsq_agent_log_init (gboolean json, gboolean verbose)
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
