/* tsq-cmd-scan.c: `techscaniq-agent scan [--json] URL...`: one-shot scans.
 *
 * URLs are scanned concurrently (bounded) and printed in the order given, so that output can be
 * diffed and scripted; one JSON object per URL per line with --json.
 */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <stdio.h>

#include "tsq-agent-setup.h"
#include "tsq-commands.h"
#include "tsq-json-util.h"
#include "tsq-scan-format.h"

#define MAX_PARALLEL 32

typedef struct
{
  TsqScanner *scanner;
  char **urls;
  JsonObject **results;
  guint n_urls;
  guint next_to_start;
  guint next_to_print;
  guint in_flight;
  gboolean json;
  gboolean any_error;
  GMainLoop *loop;
} ScanRun;

static void start_more (ScanRun *run);

static void
print_ready (ScanRun *run)
{
  while (run->next_to_print < run->n_urls && run->results[run->next_to_print])
    {
      JsonObject *result = run->results[run->next_to_print];

      if (json_object_has_member (result, "error"))
        run->any_error = TRUE;
      if (run->json)
        {
          g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), result);
          g_autofree char *line = tsq_json_to_string (node, FALSE);

          printf ("%s\n", line);
        }
      else
        {
          g_autofree char *text = tsq_scan_format_text (result);

          printf ("%s\n", text);
        }
      fflush (stdout);
      run->next_to_print++;
    }
}

static void
on_scanned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ScanRun *run = user_data;
  JsonObject *res = tsq_scanner_scan_finish (TSQ_SCANNER (source), result);
  const char *url = tsq_json_get_string (res, "url", "");

  for (guint i = 0; i < run->n_urls; i++)
    if (run->results[i] == NULL && g_str_equal (run->urls[i], url))
      {
        run->results[i] = res;
        break;
      }
  run->in_flight--;
  print_ready (run);
  start_more (run);
  if (run->in_flight == 0 && run->next_to_start == run->n_urls)
    g_main_loop_quit (run->loop);
}

static void
start_more (ScanRun *run)
{
  while (run->in_flight < MAX_PARALLEL && run->next_to_start < run->n_urls)
    {
      run->in_flight++;
      tsq_scanner_scan_async (run->scanner, run->urls[run->next_to_start++], NULL, NULL, on_scanned,
                              run);
    }
}

int
tsq_cmd_scan (int argc, char **argv)
{
  TsqCommonOptions common = { 0 };
  gboolean json = FALSE;
  g_auto (GStrv) urls = NULL;
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per URL per line", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &urls, NULL, "URL…" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("URL… — scan web pages once");
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAgentConfig) config = NULL;
  g_autoptr (TsqScanner) scanner = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  ScanRun run = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, tsq_common_option_group (&common));
  g_option_context_set_description (
    context,
    "Exit status: 0 every URL scanned, 1 at least one scan failed (its result has \"error\"),\n"
    "2 bad usage or configuration, 3 runtime failure.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      tsq_common_options_clear (&common);
      return tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
    }
  if (urls == NULL || urls[0] == NULL)
    {
      tsq_common_options_clear (&common);
      return tsq_cmd_fail (TSQ_EXIT_USAGE, "scan: give at least one URL");
    }
  config = tsq_agent_setup_config (&common, &error);
  tsq_common_options_clear (&common);
  if (config == NULL)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);
  scanner = tsq_agent_setup_scanner (config, &error);
  if (scanner == NULL)
    return tsq_cmd_fail (TSQ_EXIT_USAGE, "%s", error->message);

  loop = g_main_loop_new (NULL, FALSE);
  run.scanner = scanner;
  run.urls = urls;
  run.n_urls = g_strv_length (urls);
  run.results = g_new0 (JsonObject *, run.n_urls);
  run.json = json;
  run.loop = loop;
  start_more (&run);
  g_main_loop_run (loop);

  status = run.any_error ? TSQ_EXIT_SCAN_FAILED : TSQ_EXIT_OK;
  for (guint i = 0; i < run.n_urls; i++)
    g_clear_pointer (&run.results[i], json_object_unref);
  g_free (run.results);
  return status;
}
