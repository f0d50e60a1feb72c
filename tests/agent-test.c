/* agent-test.c: the agent end to end, as a real process against a real HTTP server whose pages
 * change between scans. The agent must record exactly the expected changes, nothing for noise,
 * survive kill -9 without corruption, and never run two scans of one monitor at once. */
#include <signal.h>
#include <sqlite3.h>

#include "tsq-json-util.h"
#include "tsq-monitor.h"
#include "tsq-sqlite-storage.h"
#include "tsq-test-agent.h"
#include "tsq-test-server.h"

#define WAIT_TIMEOUT_S 60

typedef struct
{
  TsqTestServer *server;
  char *tmpdir;
  char *database;
  GSubprocess *agent;
  gint64 last_change_id;
  guint step;
} Fixture;

static const char *jquery_341 = "/*! jQuery v3.4.1 | (c) JS Foundation and other contributors | "
                                "jquery.org/license */\n!function(){}();\n";
static const char *jquery_371 = "/*! jQuery v3.7.1 | (c) OpenJS Foundation and other contributors "
                                "| jquery.org/license */\n!function(){}();\n";

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) old_js = g_bytes_new_static (jquery_341, strlen (jquery_341));
  g_autoptr (GBytes) new_js = g_bytes_new_static (jquery_371, strlen (jquery_371));
  TsqTestRoute route = { .content_type = "application/javascript" };

  f->server = tsq_test_server_new ();
  f->tmpdir = tsq_test_make_tmpdir ();
  f->database = g_build_filename (f->tmpdir, "agent.db", NULL);
  route.body = old_js;
  tsq_test_server_set_route (f->server, "/js/jquery-3.4.1.min.js", &route);
  route.body = new_js;
  tsq_test_server_set_route (f->server, "/js/jquery-3.7.1.min.js", &route);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->agent)
    {
      g_subprocess_force_exit (f->agent);
      g_subprocess_wait (f->agent, NULL, NULL);
      g_clear_object (&f->agent);
    }
  tsq_test_server_free (f->server);
  if (g_test_failed ())
    g_test_message ("kept %s for inspection", f->tmpdir);
  else
    tsq_test_rm_rf (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->database);
}

/* The page as the site serves it at one step of the story; the noise differs on every call. */
static void
serve_site (
  Fixture *f, const char *jquery, gboolean analytics, gboolean frame_options, guint delay_ms)
{
  const char *with_xfo[] = { "X-Frame-Options: DENY", "X-Content-Type-Options: nosniff", NULL };
  const char *without_xfo[] = { "X-Content-Type-Options: nosniff", NULL };
  g_autofree char *token = g_uuid_string_random ();
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *clock = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  guint step = ++f->step;
  g_autofree char *html = g_strdup_printf (
    "<!DOCTYPE html><html><head><title>Shop</title>"
    "<meta name=\"csrf-token\" content=\"%s\">"
    "<script src=\"/js/jquery-%s.min.js\"></script>%s</head>"
    "<body><h1>Our shop</h1><p>Fresh bread every morning.</p>"
    "<p class=\"stamp\">Generated %s, %u views</p>"
    "<form method=\"post\" action=\"/cart\"><input type=\"hidden\" name=\"authenticity_token\" "
    "value=\"%s%u\"></form>"
    "</body></html>",
    token, jquery,
    analytics
      ? "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-TEST123\"></script>"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('js',new Date());gtag('config','G-TEST123');</script>"
      : "",
    clock, 1000 + step * 17, token, step);
  g_autoptr (GBytes) body = g_bytes_new (html, strlen (html));
  TsqTestRoute route = {
    .headers = frame_options ? with_xfo : without_xfo,
    .body = body,
    .delay_ms = delay_ms,
  };

  tsq_test_server_set_route (f->server, "/site", &route);
}

static guint
completed_scans (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) storage = tsq_sqlite_storage_open (f->database, &error);
  g_autoptr (GPtrArray) scans = NULL;
  guint n = 0;

  g_assert_no_error (error);
  scans = tsq_storage_list_scans (storage, NULL, 0, 100000, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < scans->len; i++)
    if (g_strcmp0 (tsq_json_get_string (g_ptr_array_index (scans, i), "state", NULL), "completed")
        == 0)
      n++;
  return n;
}

static void
wait_for_scans (Fixture *f, guint more)
{
  guint target = completed_scans (f) + more;
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_S * G_USEC_PER_SEC;

  while (completed_scans (f) < target)
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *log = NULL;
          g_autofree char *path = g_build_filename (f->tmpdir, "agent.err", NULL);

          g_file_get_contents (path, &log, NULL, NULL);
          g_error ("the agent did not complete %u more scans in %d s; its log:\n%s", more,
                   WAIT_TIMEOUT_S, log);
        }
      g_usleep (50 * 1000);
    }
}

/* Changes recorded since the last call. */
static GPtrArray *
new_changes (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) storage = tsq_sqlite_storage_open (f->database, &error);
  GPtrArray *changes;

  g_assert_no_error (error);
  changes = tsq_storage_list_changes (storage, NULL, 0, f->last_change_id, 100000, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < changes->len; i++)
    {
      JsonObject *c = g_ptr_array_index (changes, i);
      g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), c);
      g_autofree char *text = tsq_json_to_string (node, FALSE);

      g_test_message ("change: %s", text);
      f->last_change_id = MAX (f->last_change_id, tsq_json_get_int (c, "id", 0));
    }
  return changes;
}

static guint
count_type (GPtrArray *changes, const char *type, const char *subject)
{
  guint n = 0;

  for (guint i = 0; i < changes->len; i++)
    {
      JsonObject *c = g_ptr_array_index (changes, i);

      if (g_strcmp0 (tsq_json_get_string (c, "type", NULL), type) == 0
          && (subject == NULL
              || g_strcmp0 (tsq_json_get_string (c, "subject", NULL), subject) == 0))
        n++;
    }
  return n;
}

static JsonObject *
find_change (GPtrArray *changes, const char *type, const char *subject)
{
  for (guint i = 0; i < changes->len; i++)
    {
      JsonObject *c = g_ptr_array_index (changes, i);

      if (g_strcmp0 (tsq_json_get_string (c, "type", NULL), type) == 0
          && g_strcmp0 (tsq_json_get_string (c, "subject", NULL), subject) == 0)
        return c;
    }
  return NULL;
}

static void
add_monitor (Fixture *f, const char *name, const char *path, const char *schedule)
{
  g_autofree char *url = tsq_test_server_get_url (f->server, path);
  g_autofree char *err = NULL;

  if (tsq_test_agent_run (NULL, &err, "monitor", "add", url, "--name", name, "--schedule", schedule,
                          "--database", f->database, NULL)
      != 0)
    g_error ("monitor add: %s", err);
}

static const char *const agent_args[] = {
  "--set", "agent.domain_rate=1000",
  "--set", "agent.domain_burst=1000",
  "--set", "changes.perf_consecutive=2",
  "--set", "changes.min_baseline_scans=3",
  "--set", "changes.perf_absolute_ms=150",
  "--set", "changes.perf_relative=0.5",
  "-v",    NULL,
};

/* Waits for two more completed scans: at least one of them started after the page changed. */
static GPtrArray *
changes_after_edit (Fixture *f)
{
  wait_for_scans (f, 2);
  return new_changes (f);
}

static void
test_changes_story (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) changes = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *c;

  serve_site (f, "3.4.1", FALSE, TRUE, 0);
  add_monitor (f, "shop", "/site", "every 1s");
  f->agent = tsq_test_agent_spawn (f->database, agent_args);

  /* Baseline, then the same page with fresh noise on every request: nothing to report. */
  wait_for_scans (f, 3);
  serve_site (f, "3.4.1", FALSE, TRUE, 0);
  changes = changes_after_edit (f);
  g_assert_cmpuint (changes->len, ==, 0);
  g_clear_pointer (&changes, g_ptr_array_unref);

  /* jQuery upgraded: one version change, and the advisories fixed by 3.5.0 are resolved. */
  serve_site (f, "3.7.1", FALSE, TRUE, 0);
  changes = changes_after_edit (f);
  c = find_change (changes, "technology.version_changed", "jQuery");
  g_assert_nonnull (c);
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "3.4.1");
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "3.7.1");
  g_assert_cmpuint (count_type (changes, "technology.version_changed", NULL), ==, 1);
  g_assert_cmpuint (count_type (changes, "security.vulnerability_resolved", NULL), >=, 1);
  g_assert_cmpuint (changes->len, ==,
                    1 + count_type (changes, "security.vulnerability_resolved", NULL));
  g_clear_pointer (&changes, g_ptr_array_unref);

  /* An analytics tag appears: technologies added, nothing else. */
  serve_site (f, "3.7.1", TRUE, TRUE, 0);
  changes = changes_after_edit (f);
  g_assert_nonnull (find_change (changes, "technology.added", "Google Analytics"));
  g_assert_cmpuint (count_type (changes, "technology.added", NULL), ==, changes->len);
  g_clear_pointer (&changes, g_ptr_array_unref);

  /* A security header disappears. */
  serve_site (f, "3.7.1", TRUE, FALSE, 0);
  changes = changes_after_edit (f);
  g_assert_cmpuint (count_type (changes, "security.header_removed", "X-Frame-Options"), ==, 1);
  g_assert_cmpuint (changes->len, ==, 1);
  g_clear_pointer (&changes, g_ptr_array_unref);

  /* The site turns slow and stays slow: one degradation per metric, not one per scan. */
  serve_site (f, "3.7.1", TRUE, FALSE, 400);
  wait_for_scans (f, 4);
  changes = new_changes (f);
  g_assert_cmpuint (count_type (changes, "performance.degraded", NULL), >=, 1);
  g_assert_cmpuint (count_type (changes, "performance.degraded", NULL), ==, changes->len);
  g_assert_cmpuint (count_type (changes, "performance.degraded", "ttfb_ms"), <=, 1);
  g_assert_cmpuint (count_type (changes, "performance.degraded", "total_ms"), <=, 1);
  g_clear_pointer (&changes, g_ptr_array_unref);
  wait_for_scans (f, 3);
  changes = new_changes (f);
  g_assert_cmpuint (changes->len, ==, 0);
  g_clear_pointer (&changes, g_ptr_array_unref);

  /* SIGTERM: a clean stop. */
  g_subprocess_send_signal (f->agent, SIGTERM);
  g_subprocess_wait (f->agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (f->agent));
  g_assert_cmpint (g_subprocess_get_exit_status (f->agent), ==, 0);
  g_clear_object (&f->agent);
}

static void
assert_database_sound (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==,
                   SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *)sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

/* Per monitor, no two scans' [started, finished] intervals overlap. */
static void
assert_no_overlap (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  g_autofree char *previous_monitor = NULL;
  gint64 previous_end = 0;
  guint rows = 0;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (
    sqlite3_prepare_v2 (db,
                        "SELECT monitor_id, started_at, finished_at FROM scan_results "
                        "WHERE finished_at IS NOT NULL ORDER BY monitor_id, started_at",
                        -1, &stmt, NULL),
    ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *monitor = (const char *)sqlite3_column_text (stmt, 0);
      gint64 start = sqlite3_column_int64 (stmt, 1);
      gint64 end = sqlite3_column_int64 (stmt, 2);

      if (g_strcmp0 (monitor, previous_monitor) == 0)
        g_assert_cmpint (start, >=, previous_end);
      g_free (previous_monitor);
      previous_monitor = g_strdup (monitor);
      previous_end = end;
      rows++;
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpuint (rows, >, 0);
}

static void
test_kill_and_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) storage = NULL;
  g_autoptr (GPtrArray) scans = NULL;
  guint interrupted = 0, running = 0;

  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *path = g_strdup_printf ("/slow/%u", i);
      g_autofree char *name = g_strdup_printf ("slow %u", i);
      TsqTestRoute route = { .delay_ms = 300 + 100 * i };

      tsq_test_server_set_route (f->server, path, &route);
      add_monitor (f, name, path, "every 1s");
    }

  for (guint round = 0; round < 3; round++)
    {
      f->agent = tsq_test_agent_spawn (f->database, agent_args);
      wait_for_scans (f, 6);
      /* Mid-run, scans in flight: no goodbye. */
      g_subprocess_force_exit (f->agent);
      g_subprocess_wait (f->agent, NULL, NULL);
      g_clear_object (&f->agent);
      assert_database_sound (f->database);
    }

  /* A last start marks the leftovers interrupted and the schedule carries on. */
  f->agent = tsq_test_agent_spawn (f->database, agent_args);
  wait_for_scans (f, 8);
  g_subprocess_send_signal (f->agent, SIGTERM);
  g_subprocess_wait (f->agent, NULL, NULL);
  g_assert_cmpint (g_subprocess_get_exit_status (f->agent), ==, 0);
  g_clear_object (&f->agent);

  assert_database_sound (f->database);
  assert_no_overlap (f->database);
  storage = tsq_sqlite_storage_open (f->database, &error);
  g_assert_no_error (error);
  scans = tsq_storage_list_scans (storage, NULL, 0, 100000, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < scans->len; i++)
    {
      const char *state = tsq_json_get_string (g_ptr_array_index (scans, i), "state", "");

      interrupted += g_str_equal (state, "interrupted");
      running += g_str_equal (state, "running");
    }
  g_test_message ("%u scans, %u interrupted by kill -9", scans->len, interrupted);
  g_assert_cmpuint (running, ==, 0);
  g_assert_cmpuint (interrupted, >=, 1);
}

static guint
scans_of_monitor (Fixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) storage = tsq_sqlite_storage_open (f->database, &error);
  g_autoptr (TsqMonitor) monitor = NULL;
  g_autoptr (GPtrArray) scans = NULL;

  g_assert_no_error (error);
  monitor = tsq_storage_get_monitor (storage, name, &error);
  g_assert_no_error (error);
  scans = tsq_storage_list_scans (storage, monitor->id, 0, 100000, &error);
  g_assert_no_error (error);
  return scans->len;
}

/* Monitors edited from another process reach the running agent; SIGHUP reloads; JSON logs. */
static void
test_live_edits (Fixture *f, gconstpointer data)
{
  const char *json_args[] = {
    "--set", "agent.domain_rate=1000", "--set", "agent.domain_burst=1000", "--log-format=json",
    NULL,
  };
  g_autofree char *log_path = g_build_filename (f->tmpdir, "agent.err", NULL);
  g_autofree char *log = NULL;
  g_autofree char *err = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;
  gint64 added_at;
  guint before, after;
  gboolean reloaded = FALSE;

  serve_site (f, "3.7.1", FALSE, TRUE, 0);
  f->agent = tsq_test_agent_spawn (f->database, json_args);
  g_usleep (500 * 1000);

  /* Added while the agent runs: scanned without a restart. */
  added_at = g_get_monotonic_time ();
  add_monitor (f, "live", "/site", "every 1s");
  wait_for_scans (f, 1);
  g_test_message ("first scan of a monitor added to a running agent completed after %.2f s",
                  (g_get_monotonic_time () - added_at) / 1e6);

  /* Disabled while the agent runs: no more scans once it has noticed. */
  if (tsq_test_agent_run (NULL, &err, "monitor", "disable", "live", "--database", f->database, NULL)
      != 0)
    g_error ("monitor disable: %s", err);
  /* The agent polls every 0.5 s; a scan already in flight may still complete. */
  g_usleep (4000 * 1000);
  before = scans_of_monitor (f, "live");
  g_usleep (3000 * 1000);
  after = scans_of_monitor (f, "live");
  g_assert_cmpuint (after, ==, before);

  g_subprocess_send_signal (f->agent, SIGHUP);
  g_usleep (500 * 1000);
  g_subprocess_send_signal (f->agent, SIGTERM);
  g_subprocess_wait (f->agent, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (f->agent), ==, 0);
  g_clear_object (&f->agent);

  /* Every log line is a JSON object; the reload was logged. */
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  lines = g_strsplit (log, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr (JsonNode) node = NULL;

      if (*lines[i] == '\0')
        continue;
      node = tsq_json_from_string (lines[i], &error);
      g_assert_no_error (error);
      g_assert_nonnull (tsq_json_get_string (json_node_get_object (node), "level", NULL));
      if (g_strcmp0 (tsq_json_get_string (json_node_get_object (node), "message", NULL),
                     "configuration reloaded")
          == 0)
        reloaded = TRUE;
    }
  g_assert_true (reloaded);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/tsq/agent/changes-story", Fixture, NULL, fixture_setup, test_changes_story,
              fixture_teardown);
  g_test_add ("/tsq/agent/live-edits", Fixture, NULL, fixture_setup, test_live_edits,
              fixture_teardown);
  g_test_add ("/tsq/agent/kill-and-restart", Fixture, NULL, fixture_setup, test_kill_and_restart,
              fixture_teardown);
  return g_test_run ();
}
