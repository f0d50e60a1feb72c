/* storage-test.c: TsqStorage on SQLite, on temporary database files. */
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "tsq-json-util.h"
#include "tsq-sqlite-migrations.h"
#include "tsq-sqlite-storage.h"

typedef struct
{
  char *dir;
  char *path;
  TsqStorage *s;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("tsq-storage-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "tsq.db", NULL);
  f->s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->s);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_clear_object (&f->s);
  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (f->dir, name, NULL);

      g_chmod (file, 0644);
      g_unlink (file);
    }
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* Raw SQL on a separate connection: what another process would see. */
static gint64
query_int (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value = -1;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

/* Returns a string that lives until the next call. */
static const char *
query_text (const char *path, const char *sql)
{
  static char *value;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_clear_pointer (&value, g_free);
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static TsqMonitor *
add_monitor (TsqStorage *s, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = g_strdup_printf ("https://%s.example/", name);
  TsqMonitor *m = tsq_monitor_new (name, url, "every 5m");

  g_assert_true (tsq_storage_put_monitor (s, m, &error));
  g_assert_no_error (error);
  return m;
}

static JsonObject *
make_result (gint status, double ttfb, double total, const char *error_kind)
{
  g_autofree char *json = NULL;
  g_autofree char *status_member
    = status > 0 ? g_strdup_printf ("\"status\":%d,", status) : g_strdup ("");
  g_autoptr (JsonNode) node = NULL;

  json = g_strdup_printf (
    "{\"url\":\"https://a.example/\",\"final_url\":\"https://a.example/\","
    "\"scanned_at\":\"2024-05-01T12:00:00Z\",%s \"redirects\":[],"
    "\"timings\":{\"dns_ms\":1.5,\"connect_ms\":2,\"tls_ms\":3,\"ttfb_ms\":%g,\"download_ms\":1,"
    "\"total_ms\":%g},\"size\":{\"bytes\":1234,\"decoded_bytes\":2000},"
    "\"technologies\":[{\"name\":\"Nginx\",\"version\":\"1.25\",\"confidence\":100,"
    "\"categories\":[\"Web servers\"]},{\"name\":\"React\",\"version\":null,\"confidence\":100,"
    "\"categories\":[]}],\"content\":{\"hash\":\"abc123\",\"title\":\"A\"}%s%s%s}",
    status_member, ttfb, total, error_kind ? ",\"error\":{\"kind\":\"" : "",
    error_kind ? error_kind : "", error_kind ? "\",\"message\":\"boom\"}" : "");
  node = tsq_json_from_string (json, NULL);
  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static gint64
run_scan (TsqStorage *s, const char *monitor_id, gint64 started, JsonObject *result)
{
  g_autoptr (GError) error = NULL;
  gint64 id = tsq_storage_begin_scan (s, monitor_id, started, &error);

  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  g_assert_true (tsq_storage_finish_scan (s, id, result, &error));
  g_assert_no_error (error);
  return id;
}

/* ---- schema ---- */

static void
test_migrations (Fixture *f, gconstpointer data)
{
  static const char *const tables[] = {
    "monitoring_configs",  "scan_results",   "technology_changes", "monitoring_alerts",
    "performance_metrics", "system_metrics", "monitor_state",      "monitors_revision",
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "kept");
  g_autoptr (TsqMonitor) got = NULL;
  guint i;

  g_assert_cmpint (query_int (f->path, "PRAGMA user_version"), ==, tsq_sqlite_migrations_latest ());
  g_assert_cmpstr (query_text (f->path, "PRAGMA journal_mode"), ==, "wal");
  for (i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *sql = g_strdup_printf (
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", tables[i]);

      g_assert_cmpint (query_int (f->path, sql), ==, 1);
    }

  /* Re-opening applies nothing and keeps the data. */
  g_clear_object (&f->s);
  f->s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
  g_clear_object (&f->s);
  f->s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (query_int (f->path, "PRAGMA user_version"), ==, tsq_sqlite_migrations_latest ());
  got = tsq_storage_get_monitor (f->s, m->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->name, ==, "kept");
}

static void
test_memory (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) s = tsq_sqlite_storage_open (":memory:", &error);
  g_autoptr (TsqMonitor) m = NULL;
  g_autoptr (GPtrArray) list = NULL;

  g_assert_no_error (error);
  m = add_monitor (s, "mem");
  list = tsq_storage_list_monitors (s, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
}

static void
test_too_new (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) s = NULL;
  sqlite3 *db = NULL;
  g_autofree char *sql
    = g_strdup_printf ("PRAGMA user_version = %u", tsq_sqlite_migrations_latest () + 1);

  g_clear_object (&f->s);
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_null (s);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_TOO_NEW);
  g_assert_nonnull (strstr (error->message, "upgrade"));
}

static void
test_corrupt (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) s = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  g_autofree char *garbage_path = g_build_filename (f->dir, "garbage.db", NULL);
  g_autofree char *header_path = g_build_filename (f->dir, "header.db", NULL);
  guint8 bytes[8192];
  guint i;

  for (i = 0; i < sizeof bytes; i++)
    bytes[i] = g_rand_int_range (rand, 0, 256);
  g_assert_true (g_file_set_contents (garbage_path, (char *)bytes, sizeof bytes, NULL));
  s = tsq_sqlite_storage_open (garbage_path, &error);
  g_assert_null (s);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, garbage_path));
  g_clear_error (&error);

  /* A valid header followed by garbage pages. */
  memcpy (bytes, "SQLite format 3", 16);
  bytes[16] = 0x10; /* page size 4096 */
  bytes[17] = 0x00;
  g_assert_true (g_file_set_contents (header_path, (char *)bytes, sizeof bytes, NULL));
  s = tsq_sqlite_storage_open (header_path, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_assert_true (error->domain == TSQ_STORAGE_ERROR);
  g_test_message ("header + garbage: %s", error->message);
}

static void
test_read_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "ro");
  g_autoptr (TsqMonitor) m2 = tsq_monitor_new ("new", "https://new.example/", "every 1m");
  g_autoptr (TsqStorage) ro = NULL;
  g_autoptr (GPtrArray) list = NULL;

  g_clear_object (&f->s);
  g_assert_cmpint (g_chmod (f->path, 0444), ==, 0);

  ro = tsq_sqlite_storage_open_full (f->path, TSQ_SQLITE_STORAGE_FLAGS_READ_ONLY, &error);
  g_assert_no_error (error);
  list = tsq_storage_list_monitors (ro, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);

  g_assert_false (tsq_storage_put_monitor (ro, m2, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_cmpint (tsq_storage_begin_scan (ro, m->id, 1, &error), ==, -1);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_true (tsq_storage_flush (ro, &error));
  g_assert_no_error (error);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_monitors (ro, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_clear_object (&ro);

  /* A read-only open of a file that was never migrated is a clean error, not a crash. */
  {
    g_autofree char *empty = g_build_filename (f->dir, "empty.db", NULL);

    g_assert_true (g_file_set_contents (empty, "", 0, NULL));
    ro = tsq_sqlite_storage_open_full (empty, TSQ_SQLITE_STORAGE_FLAGS_READ_ONLY, &error);
    g_assert_null (ro);
    g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_READ_ONLY);
  }
}

/* ---- monitors ---- */

static void
test_monitors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) a = tsq_monitor_new ("bravo", "https://b.example/", "every 5m");
  g_autoptr (TsqMonitor) b = NULL;
  g_autoptr (TsqMonitor) got = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *prefix = NULL;
  gint64 created;

  json_object_set_int_member (a->scan_config, "timeout_s", 12);
  json_array_add_string_element (a->alert_rules, "rule-1");
  a->enabled = FALSE;
  created = a->created_at;
  g_assert_true (tsq_storage_put_monitor (f->s, a, &error));
  g_assert_no_error (error);
  b = add_monitor (f->s, "alpha");

  got = tsq_storage_get_monitor (f->s, a->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->name, ==, "bravo");
  g_assert_cmpstr (got->url, ==, "https://b.example/");
  g_assert_cmpstr (got->schedule, ==, "every 5m");
  g_assert_cmpstr (got->organization_id, ==, "default");
  g_assert_false (got->enabled);
  g_assert_cmpint (tsq_json_get_int (got->scan_config, "timeout_s", 0), ==, 12);
  g_assert_cmpstr (json_array_get_string_element (got->alert_rules, 0), ==, "rule-1");
  g_assert_cmpint (got->created_at, ==, created);
  g_assert_cmpint (got->updated_at, ==, a->updated_at);
  g_clear_pointer (&got, tsq_monitor_unref);

  /* by name and by unique prefix */
  got = tsq_storage_get_monitor (f->s, "alpha", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->id, ==, b->id);
  g_clear_pointer (&got, tsq_monitor_unref);
  prefix = g_strndup (a->id, 8);
  got = tsq_storage_get_monitor (f->s, prefix, &error);
  if (g_str_has_prefix (b->id, prefix))
    g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS);
  else
    g_assert_cmpstr (got->id, ==, a->id);
  g_clear_error (&error);
  g_clear_pointer (&got, tsq_monitor_unref);

  g_assert_null (tsq_storage_get_monitor (f->s, "nope", &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (tsq_storage_get_monitor (f->s, "", &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* list: sorted by name */
  list = tsq_storage_list_monitors (f->s, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((TsqMonitor *)list->pdata[0])->name, ==, "alpha");
  g_assert_cmpstr (((TsqMonitor *)list->pdata[1])->name, ==, "bravo");

  /* update */
  g_free (a->url);
  a->url = g_strdup ("https://b2.example/");
  a->enabled = TRUE;
  g_assert_true (tsq_storage_put_monitor (f->s, a, &error));
  got = tsq_storage_get_monitor (f->s, "bravo", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->url, ==, "https://b2.example/");
  g_assert_true (got->enabled);
  g_assert_cmpint (got->created_at, ==, created);
  g_assert_cmpint (got->updated_at, >=, created);
  g_clear_pointer (&got, tsq_monitor_unref);

  /* run state: batched */
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, a->id, 1000, 2000, &error));
  g_assert_no_error (error);
  g_assert_true (tsq_storage_flush (f->s, &error));
  got = tsq_storage_get_monitor (f->s, a->id, &error);
  g_assert_cmpint (got->last_run_us, ==, 1000);
  g_assert_cmpint (got->next_run_us, ==, 2000);
  g_clear_pointer (&got, tsq_monitor_unref);
  g_assert_false (tsq_storage_set_monitor_run_state (f->s, "missing", 1, 2, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* an incomplete monitor is refused */
  g_free (b->schedule);
  b->schedule = NULL;
  g_assert_false (tsq_storage_put_monitor (f->s, b, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);

  /* delete */
  g_assert_true (tsq_storage_delete_monitor (f->s, b->id, &error));
  g_assert_no_error (error);
  g_assert_false (tsq_storage_delete_monitor (f->s, b->id, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_monitors (f->s, &error);
  g_assert_cmpuint (list->len, ==, 1);
}

static void
test_ambiguous (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) a = tsq_monitor_new ("same", "https://a.example/", "every 5m");
  g_autoptr (TsqMonitor) b = tsq_monitor_new ("same", "https://b.example/", "every 5m");
  g_autoptr (TsqMonitor) got = NULL;

  g_free (a->id);
  a->id = g_strdup ("abcd0000-0000-4000-8000-000000000001");
  g_free (b->id);
  b->id = g_strdup ("abcd0000-0000-4000-8000-000000000002");
  g_assert_true (tsq_storage_put_monitor (f->s, a, NULL));
  g_assert_true (tsq_storage_put_monitor (f->s, b, NULL));

  g_assert_null (tsq_storage_get_monitor (f->s, "abcd", &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS);
  g_clear_error (&error);
  g_assert_null (tsq_storage_get_monitor (f->s, "same", &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS);
  g_clear_error (&error);
  got = tsq_storage_get_monitor (f->s, "abcd0000-0000-4000-8000-000000000002", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->url, ==, "https://b.example/");
  g_clear_pointer (&got, tsq_monitor_unref);
  got = tsq_storage_get_monitor (f->s, "abcd0000-0000-4000-8000-0000000000", &error);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS);
  g_clear_error (&error);
  got = tsq_storage_get_monitor (f->s, "abcd0000-0000-4000-8000-00000000000", &error);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS);
  g_clear_error (&error);
}

static void
test_concurrent_revision (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqStorage) cli = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "shared");
  g_autoptr (TsqMonitor) edit = NULL;
  g_autoptr (TsqMonitor) seen = NULL;
  g_autoptr (TsqMonitor) added = NULL;
  gint64 rev0, rev1, rev2, rev3;

  rev0 = tsq_storage_get_monitors_revision (f->s);
  g_assert_cmpint (rev0, >, 0);
  g_assert_cmpint (tsq_storage_get_monitors_revision (f->s), ==, rev0);

  /* A second connection (as the CLI in another process) edits the monitor. */
  cli = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tsq_storage_get_monitors_revision (cli), ==, rev0);
  edit = tsq_storage_get_monitor (cli, "shared", &error);
  g_assert_no_error (error);
  g_free (edit->schedule);
  edit->schedule = g_strdup ("every 1m");
  g_assert_true (tsq_storage_put_monitor (cli, edit, &error));
  g_assert_no_error (error);

  rev1 = tsq_storage_get_monitors_revision (f->s);
  g_assert_cmpint (rev1, !=, rev0);
  seen = tsq_storage_get_monitor (f->s, m->id, &error);
  g_assert_cmpstr (seen->schedule, ==, "every 1m");

  /* Run-state updates are not configuration edits. */
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, m->id, 5, 6, &error));
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_cmpint (tsq_storage_get_monitors_revision (f->s), ==, rev1);
  g_assert_cmpint (tsq_storage_get_monitors_revision (cli), ==, rev1);

  /* Own edits and the other side's deletes count too. */
  added = add_monitor (f->s, "another");
  rev2 = tsq_storage_get_monitors_revision (f->s);
  g_assert_cmpint (rev2, !=, rev1);
  g_assert_cmpint (tsq_storage_get_monitors_revision (cli), ==, rev2);
  g_assert_true (tsq_storage_delete_monitor (cli, added->id, &error));
  rev3 = tsq_storage_get_monitors_revision (f->s);
  g_assert_cmpint (rev3, !=, rev2);
}

/* ---- scans ---- */

static void
test_scans (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "scanned");
  g_autoptr (TsqMonitor) other = add_monitor (f->s, "other");
  g_autoptr (JsonObject) good1 = make_result (200, 100, 300, NULL);
  g_autoptr (JsonObject) good2 = make_result (200, 120, 320, NULL);
  g_autoptr (JsonObject) http_error = make_result (503, 5, 6, NULL);
  g_autoptr (JsonObject) failed = make_result (0, 0, 10000, "timeout");
  g_autoptr (JsonObject) last = NULL;
  g_autoptr (JsonObject) scan = NULL;
  g_autoptr (GPtrArray) scans = NULL;
  g_autoptr (GArray) ttfb = NULL;
  g_autoptr (GArray) bytes = NULL;
  gint64 id1, id2, id3, id4;
  JsonObject *summary;

  last = tsq_storage_get_last_result (f->s, m->id, &error);
  g_assert_no_error (error);
  g_assert_null (last);

  id1 = run_scan (f->s, m->id, 1000000, good1);
  id2 = run_scan (f->s, m->id, 2000000, good2);
  id3 = run_scan (f->s, m->id, 3000000, http_error);
  id4 = run_scan (f->s, m->id, 4000000, failed);
  run_scan (f->s, other->id, 5000000, good1);
  g_assert_cmpint (id1, <, id2);

  scans = tsq_storage_list_scans (f->s, m->id, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (scans->len, ==, 4);
  summary = scans->pdata[0]; /* newest first */
  g_assert_cmpint (tsq_json_get_int (summary, "id", 0), ==, id4);
  g_assert_cmpstr (tsq_json_get_string (summary, "state", NULL), ==, "failed");
  g_assert_cmpstr (tsq_json_get_string (summary, "error_kind", NULL), ==, "timeout");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (summary, "status")));
  summary = scans->pdata[2];
  g_assert_cmpint (tsq_json_get_int (summary, "id", 0), ==, id2);
  g_assert_cmpstr (tsq_json_get_string (summary, "monitor_id", NULL), ==, m->id);
  g_assert_cmpstr (tsq_json_get_string (summary, "state", NULL), ==, "completed");
  g_assert_cmpstr (tsq_json_get_string (summary, "started_at", NULL), ==, "1970-01-01T00:00:02Z");
  g_assert_nonnull (tsq_json_get_string (summary, "finished_at", NULL));
  g_assert_cmpint (tsq_json_get_int (summary, "status", 0), ==, 200);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (summary, "error_kind")));
  g_assert_cmpfloat (tsq_json_get_double (summary, "ttfb_ms", 0), ==, 120);
  g_assert_cmpfloat (tsq_json_get_double (summary, "total_ms", 0), ==, 320);
  g_assert_cmpint (tsq_json_get_int (summary, "bytes", 0), ==, 1234);
  g_assert_cmpint (tsq_json_get_int (summary, "technologies", 0), ==, 2);
  g_assert_cmpstr (tsq_json_get_string (summary, "content_hash", NULL), ==, "abc123");
  g_clear_pointer (&scans, g_ptr_array_unref);

  /* all monitors, since, limit */
  scans = tsq_storage_list_scans (f->s, NULL, 0, 0, &error);
  g_assert_cmpuint (scans->len, ==, 5);
  g_clear_pointer (&scans, g_ptr_array_unref);
  scans = tsq_storage_list_scans (f->s, m->id, 2500000, 0, &error);
  g_assert_cmpuint (scans->len, ==, 2);
  g_clear_pointer (&scans, g_ptr_array_unref);
  scans = tsq_storage_list_scans (f->s, NULL, 0, 2, &error);
  g_assert_cmpuint (scans->len, ==, 2);
  g_assert_cmpstr (tsq_json_get_string (scans->pdata[0], "monitor_id", NULL), ==, other->id);

  /* the last completed (error-free) result, not the failed one */
  last = tsq_storage_get_last_result (f->s, m->id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (last);
  g_assert_cmpint (tsq_json_get_int (last, "status", 0), ==, 503);
  json_object_set_int_member (last, "mutable", 1); /* callers may edit what they get */

  scan = tsq_storage_get_scan (f->s, id1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tsq_json_get_int (scan, "id", 0), ==, id1);
  g_assert_cmpfloat (
    tsq_json_get_double (tsq_json_get_object (tsq_json_get_object (scan, "result"), "timings"),
                         "ttfb_ms", 0),
    ==, 100);
  g_clear_pointer (&scan, json_object_unref);
  g_assert_null (tsq_storage_get_scan (f->s, 999999, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* metrics: good scans only (not 503, not failed), oldest first */
  ttfb = tsq_storage_recent_metric (f->s, m->id, "ttfb_ms", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ttfb->len, ==, 2);
  g_assert_cmpfloat (g_array_index (ttfb, double, 0), ==, 100);
  g_assert_cmpfloat (g_array_index (ttfb, double, 1), ==, 120);
  g_clear_pointer (&ttfb, g_array_unref);
  ttfb = tsq_storage_recent_metric (f->s, m->id, "ttfb_ms", 1, &error);
  g_assert_cmpuint (ttfb->len, ==, 1);
  g_assert_cmpfloat (g_array_index (ttfb, double, 0), ==, 120);
  bytes = tsq_storage_recent_metric (f->s, m->id, "bytes", 10, &error);
  g_assert_cmpfloat (g_array_index (bytes, double, 0), ==, 1234);
  g_assert_null (tsq_storage_recent_metric (f->s, m->id, "ttfb_ms; DROP TABLE x", 3, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);

  /* errors */
  g_assert_cmpint (tsq_storage_begin_scan (f->s, "no-such-monitor", 1, &error), ==, -1);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tsq_storage_finish_scan (f->s, 424242, good1, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* failed writes did not disturb the pending batch */
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM scan_results"), ==, 5);
  g_assert_cmpint (id3, >, 0);
}

static void
test_interrupted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "crashy");
  g_autoptr (JsonObject) result = make_result (200, 1, 2, NULL);
  g_autoptr (GPtrArray) scans = NULL;
  g_autoptr (JsonObject) scan = NULL;
  gint64 done, running1, running2;

  done = run_scan (f->s, m->id, 1, result);
  running1 = tsq_storage_begin_scan (f->s, m->id, 2, &error);
  running2 = tsq_storage_begin_scan (f->s, m->id, 3, &error);
  g_assert_no_error (error);
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM scan_results WHERE state = 'running'"),
                   ==, 2);

  /* "restart" */
  g_clear_object (&f->s);
  f->s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tsq_storage_mark_interrupted_scans (f->s, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpint (tsq_storage_mark_interrupted_scans (f->s, &error), ==, 0);

  scan = tsq_storage_get_scan (f->s, running2, &error);
  g_assert_cmpstr (tsq_json_get_string (scan, "state", NULL), ==, "interrupted");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (scan, "result")));
  g_clear_pointer (&scan, json_object_unref);
  scan = tsq_storage_get_scan (f->s, done, &error);
  g_assert_cmpstr (tsq_json_get_string (scan, "state", NULL), ==, "completed");
  g_assert_cmpint (running1, >, done);
}

static void
test_monitor_state (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "stateful");
  g_autoptr (JsonObject) state = json_object_new ();
  g_autoptr (JsonObject) got = NULL;

  got = tsq_storage_get_monitor_state (f->s, m->id, &error);
  g_assert_no_error (error);
  g_assert_null (got);

  json_object_set_int_member (state, "n", 3);
  json_object_set_double_member (state, "mean", 12.5);
  g_assert_true (tsq_storage_put_monitor_state (f->s, m->id, state, &error));
  got = tsq_storage_get_monitor_state (f->s, m->id, &error);
  g_assert_cmpint (tsq_json_get_int (got, "n", 0), ==, 3);
  g_assert_cmpfloat (tsq_json_get_double (got, "mean", 0), ==, 12.5);
  g_clear_pointer (&got, json_object_unref);

  json_object_set_int_member (state, "n", 4);
  g_assert_true (tsq_storage_put_monitor_state (f->s, m->id, state, &error));
  g_assert_true (tsq_storage_flush (f->s, &error));
  got = tsq_storage_get_monitor_state (f->s, m->id, &error);
  g_assert_cmpint (tsq_json_get_int (got, "n", 0), ==, 4);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitor_state"), ==, 1);

  g_assert_false (tsq_storage_put_monitor_state (f->s, "ghost", state, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
}

/* ---- changes, alerts, system metrics ---- */

static JsonArray *
make_changes (const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  return json_array_ref (json_node_get_array (json_parser_get_root (parser)));
}

static void
test_changes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "changing");
  g_autoptr (TsqMonitor) other = add_monitor (f->s, "quiet");
  g_autoptr (JsonObject) result = make_result (200, 1, 2, NULL);
  g_autoptr (JsonArray) changes = make_changes (
    "[{\"type\":\"technology_added\",\"subject\":\"React\",\"old\":null,\"new\":\"18.2\","
    "\"confidence\":0.9,\"evidence\":{\"pattern\":\"react.js\"},\"severity\":\"info\"},"
    "{\"type\":\"technology_version\",\"subject\":\"Nginx\",\"old\":\"1.24\",\"new\":\"1.25\"},"
    "{\"type\":\"performance\",\"subject\":\"ttfb_ms\",\"old\":{\"mean\":100},\"new\":400.5,"
    "\"severity\":\"warning\"}]");
  g_autoptr (JsonArray) bad = make_changes ("[{\"type\":\"ok\"},{\"subject\":\"no type\"}]");
  g_autoptr (JsonArray) more = make_changes ("[{\"type\":\"content\"}]");
  g_autoptr (GPtrArray) list = NULL;
  JsonObject *c;
  gint64 scan_id, first_id;

  scan_id = run_scan (f->s, m->id, 10, result);
  g_assert_true (tsq_storage_add_changes (f->s, m->id, scan_id, changes, &error));
  g_assert_no_error (error);
  first_id = tsq_json_get_int (json_array_get_object_element (changes, 0), "id", 0);
  g_assert_cmpint (first_id, >, 0);
  g_assert_cmpint (tsq_json_get_int (json_array_get_object_element (changes, 2), "id", 0), ==,
                   first_id + 2);

  g_assert_false (tsq_storage_add_changes (f->s, m->id, scan_id, bad, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tsq_storage_add_changes (f->s, "ghost", scan_id, more, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (tsq_storage_add_changes (f->s, other->id, 0, more, &error));

  list = tsq_storage_list_changes (f->s, m->id, 0, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  c = list->pdata[0];
  g_assert_cmpint (tsq_json_get_int (c, "id", 0), ==, first_id);
  g_assert_cmpstr (tsq_json_get_string (c, "monitor_id", NULL), ==, m->id);
  g_assert_cmpstr (tsq_json_get_string (c, "monitor_name", NULL), ==, "changing");
  g_assert_cmpint (tsq_json_get_int (c, "scan_id", 0), ==, scan_id);
  g_assert_nonnull (tsq_json_get_string (c, "detected_at", NULL));
  g_assert_cmpstr (tsq_json_get_string (c, "type", NULL), ==, "technology_added");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "React");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (c, "old")));
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "18.2");
  g_assert_cmpfloat (tsq_json_get_double (c, "confidence", 0), ==, 0.9);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "pattern", NULL), ==,
                   "react.js");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "info");
  c = list->pdata[1];
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (c, "severity")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (c, "confidence")));
  c = list->pdata[2];
  g_assert_cmpint (tsq_json_get_int (tsq_json_get_object (c, "old"), "mean", 0), ==, 100);
  g_assert_cmpfloat (tsq_json_get_double (c, "new", 0), ==, 400.5);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* all monitors; latest 2 (oldest first); follow after an id */
  list = tsq_storage_list_changes (f->s, NULL, 0, 0, 0, &error);
  g_assert_cmpuint (list->len, ==, 4);
  g_assert_cmpstr (tsq_json_get_string (list->pdata[3], "monitor_name", NULL), ==, "quiet");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (list->pdata[3], "scan_id")));
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_changes (f->s, NULL, 0, 0, 2, &error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (tsq_json_get_int (list->pdata[0], "id", 0), ==, first_id + 2);
  g_assert_cmpint (tsq_json_get_int (list->pdata[1], "id", 0), ==, first_id + 3);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_changes (f->s, NULL, 0, first_id, 2, &error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (tsq_json_get_int (list->pdata[0], "id", 0), ==, first_id + 1);
  g_assert_cmpint (tsq_json_get_int (list->pdata[1], "id", 0), ==, first_id + 2);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_changes (f->s, NULL, g_get_real_time () + (gint64)G_USEC_PER_SEC * 3600,
                                   0, 0, &error);
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_alerts_and_metrics (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "alerting");
  g_autoptr (JsonArray) changes = make_changes ("[{\"type\":\"technology_removed\"}]");
  g_autoptr (JsonNode) alert_node = NULL;
  g_autoptr (JsonNode) bad_alert = tsq_json_from_string ("{\"rule_id\":\"r\"}", NULL);
  g_autoptr (GPtrArray) alerts = NULL;
  g_autoptr (GPtrArray) metrics = NULL;
  g_autoptr (JsonObject) sys1 = json_object_new ();
  g_autoptr (JsonObject) sys2 = json_object_new ();
  g_autofree char *alert_json = NULL;
  gint64 change_id, alert_id;
  JsonObject *a;

  g_assert_true (tsq_storage_add_changes (f->s, m->id, 0, changes, &error));
  change_id = tsq_json_get_int (json_array_get_object_element (changes, 0), "id", 0);
  alert_json = g_strdup_printf ("{\"monitor_id\":\"%s\",\"change_id\":%" G_GINT64_FORMAT
                                ",\"rule_id\":\"tech-removed\",\"severity\":\"high\","
                                "\"triggered_at\":1000000,\"payload\":{\"text\":\"gone\"}}",
                                m->id, change_id);
  alert_node = tsq_json_from_string (alert_json, NULL);
  alert_id = tsq_storage_add_alert (f->s, json_node_get_object (alert_node), &error);
  g_assert_no_error (error);
  g_assert_cmpint (alert_id, >, 0);
  g_assert_cmpint (tsq_storage_add_alert (f->s, json_node_get_object (bad_alert), &error), ==, -1);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);

  alerts = tsq_storage_list_alerts (f->s, m->id, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (alerts->len, ==, 1);
  a = alerts->pdata[0];
  g_assert_cmpint (tsq_json_get_int (a, "id", 0), ==, alert_id);
  g_assert_cmpint (tsq_json_get_int (a, "change_id", 0), ==, change_id);
  g_assert_cmpstr (tsq_json_get_string (a, "rule_id", NULL), ==, "tech-removed");
  g_assert_cmpstr (tsq_json_get_string (a, "state", NULL), ==, "triggered");
  g_assert_cmpstr (tsq_json_get_string (a, "triggered_at", NULL), ==, "1970-01-01T00:00:01Z");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (a, "resolved_at")));
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (a, "payload"), "text", NULL), ==,
                   "gone");
  g_clear_pointer (&alerts, g_ptr_array_unref);
  alerts = tsq_storage_list_alerts (f->s, NULL, 0, &error);
  g_assert_cmpuint (alerts->len, ==, 1);

  json_object_set_int_member (sys1, "ts", 2000000);
  json_object_set_double_member (sys1, "scans_per_s", 1.5);
  json_object_set_int_member (sys2, "ts", 3000000);
  json_object_set_int_member (sys2, "rss_bytes", 123456);
  g_assert_true (tsq_storage_add_system_metrics (f->s, sys2, &error));
  g_assert_true (tsq_storage_add_system_metrics (f->s, sys1, &error));
  g_assert_no_error (error);
  metrics = tsq_storage_list_system_metrics (f->s, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (metrics->len, ==, 2);
  g_assert_cmpstr (tsq_json_get_string (metrics->pdata[0], "ts", NULL), ==, "1970-01-01T00:00:02Z");
  g_assert_cmpfloat (tsq_json_get_double (metrics->pdata[0], "scans_per_s", 0), ==, 1.5);
  g_assert_cmpint (tsq_json_get_int (metrics->pdata[1], "rss_bytes", 0), ==, 123456);
  g_clear_pointer (&metrics, g_ptr_array_unref);
  metrics = tsq_storage_list_system_metrics (f->s, 2500000, 0, &error);
  g_assert_cmpuint (metrics->len, ==, 1);
}

/* ---- batching ---- */

static void
test_batching (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "batched");
  g_autoptr (JsonObject) result = make_result (200, 1, 2, NULL);
  TsqSqliteStorage *sqlite = TSQ_SQLITE_STORAGE (f->s);
  gint64 scan_id;
  guint i;

  /* Pending writes are visible on this connection, not to another one, until flush. */
  scan_id = run_scan (f->s, m->id, 1, result);
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 2);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM scan_results"), ==, 0);
  {
    g_autoptr (JsonObject) last = tsq_storage_get_last_result (f->s, m->id, &error);

    g_assert_nonnull (last);
  }
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 0);
  g_assert_cmpint (
    query_int (f->path, "SELECT count(*) FROM scan_results WHERE state = 'completed'"), ==, 1);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM performance_metrics"), ==, 1);

  /* Automatic commit after the delay: run the main context until the timer has fired. */
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, m->id, 7, 8, &error));
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 1);
  g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 0);
  while (tsq_sqlite_storage_get_pending (sqlite) > 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 7);

  /* Automatic commit after TSQ_SQLITE_STORAGE_BATCH_MAX_OPS writes. */
  for (i = 1; i < TSQ_SQLITE_STORAGE_BATCH_MAX_OPS; i++)
    g_assert_true (tsq_storage_set_monitor_run_state (f->s, m->id, 100 + i, 0, &error));
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==,
                    TSQ_SQLITE_STORAGE_BATCH_MAX_OPS - 1);
  g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 7);
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, m->id, 5000, 0, &error));
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 0);
  g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 5000);

  /* A non-batched write commits the pending batch with it. */
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, m->id, 6000, 0, &error));
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 1);
  {
    g_autoptr (TsqMonitor) n = add_monitor (f->s, "unbatched");
  }
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 0);
  g_assert_cmpint (query_int (f->path, "SELECT max(last_run_us) FROM monitoring_configs"), ==,
                   6000);

  /* Dispose commits too. */
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, m->id, 7000, 0, &error));
  g_clear_object (&f->s);
  g_assert_cmpint (query_int (f->path, "SELECT max(last_run_us) FROM monitoring_configs"), ==,
                   7000);
  g_assert_cmpint (scan_id, >, 0);
}

/* ---- deletion, retention ---- */

static void
test_delete_cascades (Fixture *f, gconstpointer data)
{
  static const char *const tables[] = {
    "scan_results",        "technology_changes", "monitoring_alerts",
    "performance_metrics", "monitor_state",
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) doomed = add_monitor (f->s, "doomed");
  g_autoptr (TsqMonitor) kept = add_monitor (f->s, "kept");
  g_autoptr (JsonObject) result = make_result (200, 1, 2, NULL);
  g_autoptr (JsonObject) state = json_object_new ();
  g_autoptr (JsonNode) alert = NULL;
  g_autofree char *alert_json = NULL;
  TsqMonitor *both[] = { doomed, kept };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (both); i++)
    {
      g_autoptr (JsonArray) changes = make_changes ("[{\"type\":\"a\"},{\"type\":\"b\"}]");
      gint64 scan_id = run_scan (f->s, both[i]->id, 1, result);

      g_assert_true (tsq_storage_add_changes (f->s, both[i]->id, scan_id, changes, &error));
      g_assert_true (tsq_storage_put_monitor_state (f->s, both[i]->id, state, &error));
      g_clear_pointer (&alert_json, g_free);
      g_clear_pointer (&alert, json_node_unref);
      alert_json = g_strdup_printf (
        "{\"monitor_id\":\"%s\",\"change_id\":%" G_GINT64_FORMAT "}", both[i]->id,
        tsq_json_get_int (json_array_get_object_element (changes, 0), "id", 0));
      alert = tsq_json_from_string (alert_json, NULL);
      g_assert_cmpint (tsq_storage_add_alert (f->s, json_node_get_object (alert), &error), >, 0);
      g_assert_no_error (error);
    }
  g_assert_true (tsq_storage_flush (f->s, &error));

  g_assert_true (tsq_storage_delete_monitor (f->s, doomed->id, &error));
  g_assert_no_error (error);
  for (j = 0; j < G_N_ELEMENTS (tables); j++)
    {
      g_autofree char *doomed_sql = g_strdup_printf (
        "SELECT count(*) FROM %s WHERE monitor_id = '%s'", tables[j], doomed->id);
      g_autofree char *kept_sql
        = g_strdup_printf ("SELECT count(*) FROM %s WHERE monitor_id = '%s'", tables[j], kept->id);

      g_assert_cmpint (query_int (f->path, doomed_sql), ==, 0);
      g_assert_cmpint (query_int (f->path, kept_sql), >, 0);
    }
}

static void
test_prune (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "old");
  g_autoptr (TsqMonitor) rare = add_monitor (f->s, "rare");
  g_autoptr (JsonObject) result = make_result (200, 10, 20, NULL);
  g_autoptr (JsonObject) sys = json_object_new ();
  g_autoptr (GPtrArray) scans = NULL;
  g_autoptr (GArray) values = NULL;
  g_autoptr (JsonObject) last = NULL;
  gint64 ids[3];
  guint i;

  for (i = 0; i < 3; i++)
    ids[i] = run_scan (f->s, m->id, (i + 1) * G_USEC_PER_SEC, result);
  run_scan (f->s, rare->id, 1, result); /* its only result, and old */
  json_object_set_int_member (sys, "ts", 1);
  g_assert_true (tsq_storage_add_system_metrics (f->s, sys, &error));

  /* drop raw results before t=2.5s (ids[0], ids[1]) and metrics before t=1.5s */
  g_assert_true (tsq_storage_prune (f->s, 2500000, 1500000, &error));
  g_assert_no_error (error);

  scans = tsq_storage_list_scans (f->s, m->id, 0, 0, &error);
  g_assert_cmpuint (scans->len, ==, 3);
  for (i = 0; i < 3; i++)
    {
      g_autoptr (JsonObject) scan = tsq_storage_get_scan (f->s, ids[i], &error);

      g_assert_no_error (error);
      /* summaries stay */
      g_assert_cmpint (tsq_json_get_int (scan, "status", 0), ==, 200);
      g_assert_cmpfloat (tsq_json_get_double (scan, "ttfb_ms", 0), ==, 10);
      if (i < 2)
        g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (scan, "result")));
      else
        g_assert_nonnull (tsq_json_get_object (scan, "result"));
    }
  /* The latest good result of a monitor survives as its change baseline. */
  last = tsq_storage_get_last_result (f->s, rare->id, &error);
  g_assert_nonnull (last);

  values = tsq_storage_recent_metric (f->s, m->id, "ttfb_ms", 10, &error);
  g_assert_cmpuint (values->len, ==, 2);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM system_metrics"), ==, 0);
}

static void
test_disk_full (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = add_monitor (f->s, "full");
  g_autoptr (JsonObject) result = make_result (200, 1, 2, NULL);
  g_autoptr (GString) big = g_string_new (NULL);
  TsqSqliteStorage *sqlite = TSQ_SQLITE_STORAGE (f->s);
  gint64 committed, scan_id;
  guint i;

  committed = run_scan (f->s, m->id, 1, result);
  g_assert_true (tsq_storage_flush (f->s, &error));

  /* 2 MiB of text that does not fit in the capped database. */
  for (i = 0; i < 2 * 1024 * 1024 / 16; i++)
    g_string_append_printf (big, "%015u ", g_random_int ());
  json_object_set_string_member (tsq_json_get_object (result, "content"), "text", big->str);
  g_assert_true (tsq_sqlite_storage_set_size_limit (sqlite, 256 * 1024, &error));
  g_assert_no_error (error);

  scan_id = tsq_storage_begin_scan (f->s, m->id, 2, &error);
  g_assert_no_error (error);
  g_assert_false (tsq_storage_finish_scan (f->s, scan_id, result, &error)
                  && tsq_storage_flush (f->s, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FULL);
  g_test_message ("disk full: %s", error->message);
  g_clear_error (&error);
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_no_error (error);

  /* Committed data is intact; after lifting the cap, writing works again. */
  {
    g_autoptr (JsonObject) scan = tsq_storage_get_scan (f->s, committed, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (tsq_json_get_string (scan, "state", NULL), ==, "completed");
  }
  g_assert_cmpstr (query_text (f->path, "PRAGMA integrity_check"), ==, "ok");
  g_assert_true (tsq_sqlite_storage_set_size_limit (sqlite, 0, &error));
  scan_id = run_scan (f->s, m->id, 3, result);
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_no_error (error);
  g_assert_cmpint (scan_id, >, committed);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
  g_test_add ("/tsq/storage/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("migrations", test_migrations);
  g_test_add_func ("/tsq/storage/memory", test_memory);
  ADD ("too-new", test_too_new);
  ADD ("corrupt", test_corrupt);
  ADD ("read-only", test_read_only);
  ADD ("monitors", test_monitors);
  ADD ("ambiguous", test_ambiguous);
  ADD ("concurrent-revision", test_concurrent_revision);
  ADD ("scans", test_scans);
  ADD ("interrupted", test_interrupted);
  ADD ("monitor-state", test_monitor_state);
  ADD ("changes", test_changes);
  ADD ("alerts-and-metrics", test_alerts_and_metrics);
  ADD ("batching", test_batching);
  ADD ("delete-cascades", test_delete_cascades);
  ADD ("prune", test_prune);
  ADD ("disk-full", test_disk_full);
#undef ADD
  return g_test_run ();
}
