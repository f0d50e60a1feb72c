/* cli-test.c: the techscaniq-agent command line, run as a real process: bad input of every kind
 * gives a clear error and an exit status, never a crash, a hang or a half-written database. */
#include <json-glib/json-glib.h>

#include "tsq-json-util.h"
#include "tsq-test-agent.h"
#include "tsq-test-server.h"

typedef struct
{
  TsqTestServer *server;
  char *tmpdir;
  char *database;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->server = tsq_test_server_new ();
  f->tmpdir = tsq_test_make_tmpdir ();
  f->database = g_build_filename (f->tmpdir, "agent.db", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tsq_test_server_free (f->server);
  tsq_test_rm_rf (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->database);
}

static GPtrArray *
parse_lines (const char *out)
{
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  GPtrArray *results = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);

  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr (GError) error = NULL;
      JsonNode *node;

      if (*lines[i] == '\0')
        continue;
      node = tsq_json_from_string (lines[i], &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      g_ptr_array_add (results, node);
    }
  return results;
}

static const char *
error_kind (JsonNode *node)
{
  return tsq_json_get_string (tsq_json_get_object (json_node_get_object (node), "error"), "kind",
                              NULL);
}

static void
test_scan_bad_inputs (Fixture *f, gconstpointer data)
{
  g_autofree char *slow = tsq_test_server_get_url (f->server, "/slow");
  g_autofree char *loop = tsq_test_server_get_url (f->server, "/loop-a");
  g_autofree char *binary = tsq_test_server_get_url (f->server, "/image.png");
  g_autofree char *garbage = tsq_test_server_get_url (f->server, "/garbage");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GPtrArray) results = NULL;
  static const char png_magic[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
  g_autoptr (GBytes) png = g_bytes_new_static (png_magic, sizeof png_magic - 1);
  g_autoptr (GBytes) noise = NULL;
  const char *loop_a_headers[] = { "Location: /loop-b", NULL };
  const char *loop_b_headers[] = { "Location: /loop-a", NULL };
  TsqTestRoute route = { 0 };
  GString *junk = g_string_new ("<html><body><div><p><table><tr><td>");
  int status;

  route = (TsqTestRoute){ .body = NULL, .delay_ms = 4000 };
  tsq_test_server_set_route (f->server, "/slow", &route);
  route = (TsqTestRoute){ .status = 302, .headers = loop_a_headers };
  tsq_test_server_set_route (f->server, "/loop-a", &route);
  route = (TsqTestRoute){ .status = 302, .headers = loop_b_headers };
  tsq_test_server_set_route (f->server, "/loop-b", &route);
  route = (TsqTestRoute){ .content_type = "image/png", .body = png };
  tsq_test_server_set_route (f->server, "/image.png", &route);
  /* Unclosed tags, stray bytes, a runaway comment: the tolerant parser copes, no error. */
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (junk, "<%s x=\"%u\" \x01\x7f>&#%u;&bogus;</q>", i % 2 ? "span" : "b", i,
                            i * 37);
  g_string_append (junk, "<!-- never closed <script>alert(1)");
  noise = g_string_free_to_bytes (junk);
  route = (TsqTestRoute){ .body = noise };
  tsq_test_server_set_route (f->server, "/garbage", &route);

  status = tsq_test_agent_run (&out, &err, "scan", "--json", "--database", f->database, "--set",
                               "scanner.timeout=1", "not a url", "ftp://example.com/file",
                               "http://nonexistent.invalid/", "http://127.0.0.1:1/", slow, loop,
                               binary, garbage, NULL);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 1);
  results = parse_lines (out);
  /* (TLS failures are covered by fetcher-test, against a server that answers TLS with HTTP.) */
  g_assert_cmpuint (results->len, ==, 8);
  g_assert_cmpstr (error_kind (results->pdata[0]), ==, "invalid_url");
  g_assert_cmpstr (error_kind (results->pdata[1]), ==, "unsupported_scheme");
  g_assert_cmpstr (error_kind (results->pdata[2]), ==, "dns");
  g_assert_cmpstr (error_kind (results->pdata[3]), ==, "connection_refused");
  g_assert_cmpstr (error_kind (results->pdata[4]), ==, "timeout");
  g_assert_cmpstr (error_kind (results->pdata[5]), ==, "redirect_loop");
  g_assert_cmpstr (error_kind (results->pdata[6]), ==, "not_html");
  g_assert_null (error_kind (results->pdata[7]));
  for (guint i = 0; i < results->len; i++)
    {
      JsonObject *o = json_node_get_object (results->pdata[i]);
      JsonObject *e = tsq_json_get_object (o, "error");

      /* Every result carries the documented members, errors a message. */
      g_assert_nonnull (tsq_json_get_string (o, "url", NULL));
      g_assert_nonnull (tsq_json_get_object (o, "timings"));
      g_assert_nonnull (tsq_json_get_object (o, "size"));
      g_assert_nonnull (tsq_json_get_array (o, "technologies"));
      if (e)
        g_assert_cmpuint (strlen (tsq_json_get_string (e, "message", "")), >, 5);
    }
  /* The binary file still reports what the server said. */
  g_assert_cmpint (tsq_json_get_int (json_node_get_object (results->pdata[6]), "status", 0), ==,
                   200);
  /* The loop kept its chain. */
  g_assert_cmpuint (json_array_get_length (
                      tsq_json_get_array (json_node_get_object (results->pdata[5]), "redirects")),
                    >=, 2);
}

static void
test_scan_usage (Fixture *f, gconstpointer data)
{
  g_autofree char *err = NULL;

  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "scan", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "at least one URL"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "scan", "--fingerprints", "/nonexistent/set",
                                       "http://127.0.0.1:1/", NULL),
                   ==, 2);
  g_assert_nonnull (strstr (err, "/nonexistent/set"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "frobnicate", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "unknown command"));
}

static guint
count_monitors (Fixture *f)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (
    tsq_test_agent_run (&out, NULL, "monitor", "list", "--json", "--database", f->database, NULL),
    ==, 0);
  node = tsq_json_from_string (out, &error);
  g_assert_no_error (error);
  return json_array_get_length (json_node_get_array (node));
}

static void
test_monitor_commands (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *export_path = g_build_filename (f->tmpdir, "export.json", NULL);
  g_autofree char *bad_path = g_build_filename (f->tmpdir, "bad.json", NULL);
  g_autofree char *id = NULL;

  g_assert_cmpint (tsq_test_agent_run (&out, &err, "monitor", "add", "https://example.com/",
                                       "--name", "example", "--schedule",
                                       "cron */5 * * * * tz Europe/Berlin", "--database",
                                       f->database, NULL),
                   ==, 0);
  id = g_strstrip (g_strdup (out));
  g_assert_true (g_uuid_string_is_valid (id));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Bad input is refused with a message, and nothing is written. */
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "monitor", "add", "https://example.org/",
                                       "--schedule", "cron 61 * * * *", "--database", f->database,
                                       NULL),
                   ==, 2);
  g_assert_nonnull (strstr (err, "61"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "monitor", "add", "gopher://example.org/",
                                       "--database", f->database, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "monitor", "add", "https://example.org/",
                                       "--scan-config", "{not json", "--database", f->database,
                                       NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (count_monitors (f), ==, 1);

  /* show by name, edit, disable */
  g_assert_cmpint (
    tsq_test_agent_run (&out, NULL, "monitor", "show", "example", "--database", f->database, NULL),
    ==, 0);
  g_assert_nonnull (strstr (out, id));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, NULL, "monitor", "edit", id, "--schedule", "every 10m",
                                       "--database", f->database, NULL),
                   ==, 0);
  g_assert_cmpint (tsq_test_agent_run (NULL, NULL, "monitor", "disable", "example", "--database",
                                       f->database, NULL),
                   ==, 0);
  g_assert_cmpint (tsq_test_agent_run (&out, NULL, "monitor", "show", id, "--json", "--database",
                                       f->database, NULL),
                   ==, 0);
  g_assert_nonnull (strstr (out, "every 10m"));
  g_assert_nonnull (strstr (out, "\"enabled\" : false"));
  g_clear_pointer (&out, g_free);

  /* export, then import into a fresh database; a malformed import writes nothing */
  g_assert_cmpint (tsq_test_agent_run (NULL, NULL, "monitor", "export", export_path, "--database",
                                       f->database, NULL),
                   ==, 0);
  g_assert_true (g_file_set_contents (
    bad_path,
    "[{\"name\":\"ok\",\"url\":\"https://a.example/\",\"schedule\":\"every 1m\"},"
    " {\"name\":\"bad\",\"url\":\"https://b.example/\",\"schedule\":\"every never\"}]",
    -1, NULL));
  g_assert_cmpint (
    tsq_test_agent_run (NULL, &err, "monitor", "import", bad_path, "--database", f->database, NULL),
    ==, 2);
  g_assert_nonnull (strstr (err, "#2"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (count_monitors (f), ==, 1);
  g_assert_cmpint (
    tsq_test_agent_run (NULL, NULL, "monitor", "remove", id, "--database", f->database, NULL), ==,
    0);
  g_assert_cmpuint (count_monitors (f), ==, 0);
  g_assert_cmpint (tsq_test_agent_run (NULL, NULL, "monitor", "import", export_path, "--database",
                                       f->database, NULL),
                   ==, 0);
  g_assert_cmpuint (count_monitors (f), ==, 1);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "monitor", "show", "nosuchmonitor", "--database",
                                       f->database, NULL),
                   ==, 2);
}

static void
test_history_usage (Fixture *f, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;

  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "changes", "--since", "yesterday-ish",
                                       "--database", f->database, NULL),
                   ==, 2);
  g_assert_nonnull (strstr (err, "--since"));
  g_assert_cmpint (tsq_test_agent_run (&out, NULL, "changes", "--since", "2h", "--json",
                                       "--database", f->database, NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpint (
    tsq_test_agent_run (NULL, NULL, "scans", "show", "abc", "--database", f->database, NULL), ==,
    2);
  g_assert_cmpint (tsq_test_agent_run (NULL, NULL, "run", "--config", "/nonexistent.conf", NULL),
                   ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/tsq/cli/scan-bad-inputs", Fixture, NULL, fixture_setup, test_scan_bad_inputs,
              fixture_teardown);
  g_test_add ("/tsq/cli/scan-usage", Fixture, NULL, fixture_setup, test_scan_usage,
              fixture_teardown);
  g_test_add ("/tsq/cli/monitor-commands", Fixture, NULL, fixture_setup, test_monitor_commands,
              fixture_teardown);
  g_test_add ("/tsq/cli/history-usage", Fixture, NULL, fixture_setup, test_history_usage,
              fixture_teardown);
  return g_test_run ();
}
