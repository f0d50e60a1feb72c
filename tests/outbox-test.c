/* outbox-test.c: the alert engine's storage: alerts (dedupe, lifecycle, escalation), silences,
 * the notification outbox (lifecycle, backoff, dead letters), atomic groups, crash and
 * concurrency behaviour, and the schema upgrade from version 1. */
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsq-json-util.h"
#include "tsq-sqlite-migrations.h"
#include "tsq-sqlite-storage.h"
#include "tsq-test-agent.h"

#define S ((gint64)G_USEC_PER_SEC)
/* A fixed "now" (2023-11-14T22:13:20Z): every outbox call gets the fake clock explicitly. */
#define T0 (G_GINT64_CONSTANT (1700000000) * S)

typedef struct
{
  char *dir;
  char *path;
  TsqStorage *s;
  TsqMonitor *m;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = tsq_test_make_tmpdir ();
  f->path = g_build_filename (f->dir, "tsq.db", NULL);
  f->s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
  f->m = tsq_monitor_new ("shop", "https://shop.example/", "every 5m");
  g_assert_true (tsq_storage_put_monitor (f->s, f->m, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->s);
  g_clear_pointer (&f->m, tsq_monitor_unref);
  tsq_test_rm_rf (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
reopen (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_clear_object (&f->s);
  f->s = tsq_sqlite_storage_open (f->path, &error);
  g_assert_no_error (error);
}

static JsonObject *json (const char *format, ...) G_GNUC_PRINTF (1, 2);

static JsonObject *
json (const char *format, ...)
{
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  node = tsq_json_from_string (text, NULL);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

/* A time member in µs; -1 when null. */
static gint64
time_member (JsonObject *obj, const char *member)
{
  const char *text = tsq_json_get_string (obj, member, NULL);
  gint64 us = -1;

  if (text == NULL)
    {
      g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, member)));
      return -1;
    }
  g_assert_true (tsq_monitor_time_from_iso8601 (text, &us));
  return us;
}

/* Raw SQL on a separate connection: what another process sees. */
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

static gint64 upsert (TsqStorage *s, gboolean *created, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gint64
upsert (TsqStorage *s, gboolean *created, const char *format, ...)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonObject) alert = NULL;
  gint64 id;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  alert = json ("%s", text);
  id = tsq_storage_upsert_open_alert (s, alert, created, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static char *
enqueue (TsqStorage *s, gint64 created_at, const char *channel)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) n
    = json ("{\"alert_ids\":[1,2],\"channel\":\"%s\",\"kind\":\"triggered\","
            "\"payload\":{\"subject\":\"Shop down\",\"body\":\"b\",\"json\":{\"x\":1}},"
            "\"created_at\":%" G_GINT64_FORMAT "}",
            channel, created_at);
  char *id = tsq_storage_outbox_enqueue (s, n, &error);

  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static GPtrArray *
claim (TsqStorage *s, gint64 now, guint limit, gint64 lease)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *rows = tsq_storage_outbox_claim_due (s, now, limit, lease, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  return rows;
}

static const char *
row_id (GPtrArray *rows, guint i)
{
  return tsq_json_get_string (rows->pdata[i], "id", NULL);
}

static double
fixed_random (gpointer user_data)
{
  return *(double *)user_data;
}

/* ---- alerts ---- */

static void
test_alert_dedupe (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) a = NULL;
  gboolean created = FALSE;
  gint64 id, again, other;
  sqlite3 *db = NULL;
  g_autofree char *dup_sql = NULL;

  id = upsert (f->s, &created,
               "{\"monitor_id\":\"%s\",\"rule_id\":\"tech-removed\",\"subject\":\"jQuery\","
               "\"group_key\":\"shop\",\"change_type\":\"technology_removed\","
               "\"severity\":\"warning\",\"payload\":{\"n\":1},\"seen_at\":%" G_GINT64_FORMAT
               ",\"escalation_policy\":\"ops\"}",
               f->m->id, T0);
  g_assert_true (created);

  /* The same (monitor, rule, subject) again: the open alert is updated, not duplicated. */
  again = upsert (f->s, &created,
                  "{\"monitor_id\":\"%s\",\"rule_id\":\"tech-removed\",\"subject\":\"jQuery\","
                  "\"severity\":\"critical\",\"payload\":{\"n\":2},"
                  "\"suppression_reason\":\"silence 4\",\"seen_at\":%" G_GINT64_FORMAT "}",
                  f->m->id, T0 + 60 * S);
  g_assert_false (created);
  g_assert_cmpint (again, ==, id);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tsq_json_get_int (a, "count", 0), ==, 2);
  g_assert_cmpint (time_member (a, "first_seen_at"), ==, T0);
  g_assert_cmpint (time_member (a, "triggered_at"), ==, T0);
  g_assert_cmpint (time_member (a, "last_seen_at"), ==, T0 + 60 * S);
  g_assert_cmpstr (tsq_json_get_string (a, "severity", NULL), ==, "critical");
  g_assert_cmpint (tsq_json_get_int (tsq_json_get_object (a, "payload"), "n", 0), ==, 2);
  g_assert_cmpstr (tsq_json_get_string (a, "suppression_reason", NULL), ==, "silence 4");
  /* given only on creation / kept when absent */
  g_assert_cmpstr (tsq_json_get_string (a, "group_key", NULL), ==, "shop");
  g_assert_cmpstr (tsq_json_get_string (a, "change_type", NULL), ==, "technology_removed");
  g_assert_cmpstr (tsq_json_get_string (a, "escalation_policy", NULL), ==, "ops");
  g_assert_cmpstr (tsq_json_get_string (a, "state", NULL), ==, "triggered");
  g_clear_pointer (&a, json_object_unref);

  /* A repeat with an older time does not move last_seen_at back; no suppression clears it. */
  upsert (f->s, &created,
          "{\"monitor_id\":\"%s\",\"rule_id\":\"tech-removed\",\"subject\":\"jQuery\","
          "\"seen_at\":%" G_GINT64_FORMAT "}",
          f->m->id, T0 + 1 * S);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpint (tsq_json_get_int (a, "count", 0), ==, 3);
  g_assert_cmpint (time_member (a, "last_seen_at"), ==, T0 + 60 * S);
  g_assert_cmpstr (tsq_json_get_string (a, "severity", NULL), ==, "critical");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (a, "suppression_reason")));
  g_clear_pointer (&a, json_object_unref);

  /* Another subject or rule is another alert; a missing subject is "". */
  other = upsert (f->s, &created,
                  "{\"monitor_id\":\"%s\",\"rule_id\":\"tech-removed\",\"subject\":\"React\"}",
                  f->m->id);
  g_assert_true (created);
  g_assert_cmpint (other, !=, id);
  other = upsert (f->s, &created, "{\"monitor_id\":\"%s\",\"rule_id\":\"down\"}", f->m->id);
  g_assert_true (created);
  g_assert_cmpint (
    upsert (f->s, &created, "{\"monitor_id\":\"%s\",\"rule_id\":\"down\"}", f->m->id), ==, other);
  g_assert_false (created);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts"), ==, 3);

  /* The database itself refuses a second open alert with the key (the unique partial index). */
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  dup_sql = g_strdup_printf (
    "INSERT INTO monitoring_alerts (monitor_id, rule_id, subject, state, first_seen_at, "
    "last_seen_at, triggered_at) VALUES ('%s', 'tech-removed', 'jQuery', 'acknowledged', 1, 1, 1)",
    f->m->id);
  g_assert_cmpint (sqlite3_exec (db, dup_sql, NULL, NULL, NULL), ==, SQLITE_CONSTRAINT);
  sqlite3_close (db);

  /* Once resolved, the key is free: the next occurrence is a new alert. */
  g_assert_true (tsq_storage_resolve_alert (f->s, id, "auto: technology back", T0, &error));
  g_assert_no_error (error);
  again = upsert (f->s, &created,
                  "{\"monitor_id\":\"%s\",\"rule_id\":\"tech-removed\",\"subject\":\"jQuery\"}",
                  f->m->id);
  g_assert_true (created);
  g_assert_cmpint (again, >, id);
}

static void
test_alert_invalid (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *json;
    gint code;
    const char *needle;
  } cases[] = {
    { "{\"monitor_id\":\"MID\"}", TSQ_STORAGE_ERROR_INVALID, "rule_id" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":\"\"}", TSQ_STORAGE_ERROR_INVALID, "rule_id" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":7}", TSQ_STORAGE_ERROR_INVALID, "rule_id" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":\"r\",\"severity\":\"high\"}", TSQ_STORAGE_ERROR_INVALID,
      "severity" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":\"r\",\"subject\":[1]}", TSQ_STORAGE_ERROR_INVALID,
      "subject" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":\"r\",\"change_id\":-3}", TSQ_STORAGE_ERROR_INVALID,
      "change_id" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":\"r\",\"change_id\":999}", TSQ_STORAGE_ERROR_INVALID,
      "FOREIGN KEY" },
    { "{\"monitor_id\":\"MID\",\"rule_id\":\"r\",\"seen_at\":\"yesterday\"}",
      TSQ_STORAGE_ERROR_INVALID, "seen_at" },
    { "{\"monitor_id\":\"nope\",\"rule_id\":\"r\"}", TSQ_STORAGE_ERROR_NOT_FOUND, "nope" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonObject) alert = NULL;
      g_autofree char *text = NULL;
      gboolean created = TRUE;
      g_auto (GStrv) parts = g_strsplit (cases[i].json, "MID", -1);

      text = g_strjoinv (f->m->id, parts);
      alert = json ("%s", text);
      g_assert_cmpint (tsq_storage_upsert_open_alert (f->s, alert, &created, &error), ==, -1);
      g_assert_error (error, TSQ_STORAGE_ERROR, cases[i].code);
      g_assert_false (created);
      g_test_message ("%s -> %s", text, error->message);
      g_assert_nonnull (strstr (error->message, cases[i].needle));
    }
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts"), ==, 0);
}

static void
test_alert_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) a = NULL;
  gboolean created;
  gint64 id = upsert (f->s, &created, "{\"monitor_id\":\"%s\",\"rule_id\":\"cert\"}", f->m->id);

  /* Escalation state: set, keep (-1 / NULL), clear (0 / ""). */
  g_assert_true (tsq_storage_set_alert_escalation (f->s, id, "ops", 1, T0, T0 + 300 * S, &error));
  g_assert_no_error (error);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpstr (tsq_json_get_string (a, "escalation_policy", NULL), ==, "ops");
  g_assert_cmpint (tsq_json_get_int (a, "escalation_level", -1), ==, 1);
  g_assert_cmpint (time_member (a, "last_notified_at"), ==, T0);
  g_assert_cmpint (time_member (a, "next_action_at"), ==, T0 + 300 * S);
  g_clear_pointer (&a, json_object_unref);
  g_assert_true (tsq_storage_set_alert_escalation (f->s, id, NULL, 2, -1, -1, &error));
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpstr (tsq_json_get_string (a, "escalation_policy", NULL), ==, "ops");
  g_assert_cmpint (tsq_json_get_int (a, "escalation_level", -1), ==, 2);
  g_assert_cmpint (time_member (a, "next_action_at"), ==, T0 + 300 * S);
  g_clear_pointer (&a, json_object_unref);
  g_assert_true (tsq_storage_set_alert_escalation (f->s, id, "", -1, 0, T0 + 900 * S, &error));
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (a, "escalation_policy")));
  g_assert_cmpint (tsq_json_get_int (a, "escalation_level", -1), ==, 2);
  g_assert_cmpint (time_member (a, "last_notified_at"), ==, -1);
  g_assert_cmpint (time_member (a, "next_action_at"), ==, T0 + 900 * S);
  g_clear_pointer (&a, json_object_unref);

  /* Acknowledge: stops escalation; twice is a conflict naming who did it. */
  g_assert_true (tsq_storage_ack_alert (f->s, id, "alice", T0 + 10 * S, &error));
  g_assert_no_error (error);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpstr (tsq_json_get_string (a, "state", NULL), ==, "acknowledged");
  g_assert_cmpstr (tsq_json_get_string (a, "acknowledged_by", NULL), ==, "alice");
  g_assert_cmpint (time_member (a, "acknowledged_at"), ==, T0 + 10 * S);
  g_assert_cmpint (time_member (a, "next_action_at"), ==, -1);
  g_clear_pointer (&a, json_object_unref);
  g_assert_false (tsq_storage_ack_alert (f->s, id, "bob", 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "already acknowledged by alice"));
  g_clear_error (&error);

  /* A repeat keeps it acknowledged (no re-notification is the engine's call). */
  g_assert_cmpint (
    upsert (f->s, &created, "{\"monitor_id\":\"%s\",\"rule_id\":\"cert\"}", f->m->id), ==, id);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpstr (tsq_json_get_string (a, "state", NULL), ==, "acknowledged");
  g_assert_cmpint (tsq_json_get_int (a, "count", 0), ==, 2);
  g_clear_pointer (&a, json_object_unref);

  /* Resolve; then acknowledging, resolving or escalating is refused with a clear error. */
  g_assert_true (tsq_storage_resolve_alert (f->s, id, "certificate renewed", T0 + 20 * S, &error));
  g_assert_no_error (error);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpstr (tsq_json_get_string (a, "state", NULL), ==, "resolved");
  g_assert_cmpstr (tsq_json_get_string (a, "resolve_reason", NULL), ==, "certificate renewed");
  g_assert_cmpint (time_member (a, "resolved_at"), ==, T0 + 20 * S);
  g_clear_pointer (&a, json_object_unref);
  g_assert_false (tsq_storage_ack_alert (f->s, id, "carol", 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "resolved alert cannot be acknowledged"));
  g_clear_error (&error);
  g_assert_false (tsq_storage_resolve_alert (f->s, id, NULL, 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_false (tsq_storage_set_alert_escalation (f->s, id, NULL, 3, -1, 1, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);
  a = tsq_storage_get_alert (f->s, id, &error);
  g_assert_cmpint (tsq_json_get_int (a, "escalation_level", -1), ==, 2);
  g_clear_pointer (&a, json_object_unref);

  /* Unknown ids */
  g_assert_false (tsq_storage_ack_alert (f->s, 4242, NULL, 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tsq_storage_resolve_alert (f->s, 4242, NULL, 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (tsq_storage_get_alert (f->s, 4242, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* All of it was committed at once (another connection sees it). */
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts WHERE state = "
                                       "'resolved' AND acknowledged_by = 'alice'"),
                   ==, 1);
}

static void
test_alert_query (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m2 = tsq_monitor_new ("blog", "https://blog.example/", "every 5m");
  static const char *const sev[] = { "info", "warning", "critical" };
  TsqAlertFilter filter = { 0 };
  gint64 ids[6];
  gboolean created;
  guint i;

  g_assert_true (tsq_storage_put_monitor (f->s, m2, &error));
  for (i = 0; i < 6; i++)
    ids[i] = upsert (f->s, &created,
                     "{\"monitor_id\":\"%s\",\"rule_id\":\"r%u\",\"severity\":\"%s\","
                     "\"seen_at\":%" G_GINT64_FORMAT "}",
                     i % 2 ? m2->id : f->m->id, i, sev[i % 3], T0 + i * S);
  g_assert_true (tsq_storage_ack_alert (f->s, ids[1], NULL, 0, &error));
  g_assert_true (tsq_storage_resolve_alert (f->s, ids[2], NULL, 0, &error));
  g_assert_true (tsq_storage_resolve_alert (f->s, ids[3], NULL, 0, &error));
  g_assert_no_error (error);

#define CHECK_QUERY(...)                                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    static const guint want[] = { __VA_ARGS__ };                                                   \
    g_autoptr (GPtrArray) got = tsq_storage_query_alerts (f->s, &filter, &error);                  \
    guint k;                                                                                       \
                                                                                                   \
    g_assert_no_error (error);                                                                     \
    g_assert_cmpuint (got->len, ==, G_N_ELEMENTS (want));                                          \
    for (k = 0; k < got->len; k++)                                                                 \
      g_assert_cmpint (tsq_json_get_int (got->pdata[k], "id", 0), ==, ids[want[k]]);               \
  }                                                                                                \
  G_STMT_END

  CHECK_QUERY (5, 4, 3, 2, 1, 0); /* newest first */
  filter.monitor_id = m2->id;
  CHECK_QUERY (5, 3, 1);
  filter.state = "open";
  CHECK_QUERY (5, 1);
  filter.monitor_id = NULL;
  CHECK_QUERY (5, 4, 1, 0);
  filter.state = "resolved";
  CHECK_QUERY (3, 2);
  filter.state = "acknowledged";
  CHECK_QUERY (1);
  filter.state = "triggered";
  CHECK_QUERY (5, 4, 0);
  filter.state = NULL;
  filter.severity = "critical";
  CHECK_QUERY (5, 2);
  filter.severity = NULL;
  filter.since_us = T0 + 3 * S;
  CHECK_QUERY (5, 4, 3);
  filter.limit = 2;
  CHECK_QUERY (5, 4);
#undef CHECK_QUERY

  {
    g_autoptr (GPtrArray) open = tsq_storage_list_open_alerts (f->s, &error);
    g_autoptr (GPtrArray) compat = tsq_storage_list_alerts (f->s, f->m->id, 0, &error);
    g_autoptr (GPtrArray) all = tsq_storage_query_alerts (f->s, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (open->len, ==, 4); /* oldest first, for restart */
    g_assert_cmpint (tsq_json_get_int (open->pdata[0], "id", 0), ==, ids[0]);
    g_assert_cmpint (tsq_json_get_int (open->pdata[3], "id", 0), ==, ids[5]);
    g_assert_cmpuint (compat->len, ==, 3);
    g_assert_cmpuint (all->len, ==, 6);
  }

  filter.state = "closed";
  g_assert_null (tsq_storage_query_alerts (f->s, &filter, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  filter.state = NULL;
  filter.severity = "fatal";
  g_assert_null (tsq_storage_query_alerts (f->s, &filter, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
}

/* ---- silences ---- */

static void
test_silences (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) active = json (
    "{\"matchers\":[{\"name\":\"monitor\",\"value\":\"shop\"}],\"starts_at\":%" G_GINT64_FORMAT
    ",\"ends_at\":%" G_GINT64_FORMAT ",\"created_by\":\"alice\",\"comment\":\"deploy\"}",
    T0 - 60 * S, T0 + 3600 * S);
  g_autoptr (JsonObject) later
    = json ("{\"matchers\":[],\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT "}",
            T0 + 7200 * S, T0 + 9000 * S);
  g_autoptr (JsonObject) past
    = json ("{\"matchers\":[],\"starts_at\":1,\"ends_at\":%" G_GINT64_FORMAT "}", T0 - S);
  g_autoptr (GPtrArray) list = NULL;
  gint64 id_active, id_later, id_past;
  JsonObject *row;

  id_active = tsq_storage_add_silence (f->s, active, &error);
  id_later = tsq_storage_add_silence (f->s, later, &error);
  id_past = tsq_storage_add_silence (f->s, past, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id_active, >, 0);
  g_assert_cmpint (id_later, >, id_active);
  g_assert_cmpint (id_past, >, id_later);

  list = tsq_storage_list_silences (f->s, FALSE, T0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  row = list->pdata[0];
  g_assert_cmpint (tsq_json_get_int (row, "id", 0), ==, id_active);
  g_assert_cmpstr (tsq_json_get_string (row, "state", NULL), ==, "active");
  g_assert_cmpstr (tsq_json_get_string (row, "created_by", NULL), ==, "alice");
  g_assert_cmpstr (tsq_json_get_string (row, "comment", NULL), ==, "deploy");
  g_assert_cmpint (time_member (row, "starts_at"), ==, T0 - 60 * S);
  g_assert_cmpint (time_member (row, "ends_at"), ==, T0 + 3600 * S);
  g_assert_cmpint (time_member (row, "expired_at"), ==, -1);
  g_assert_cmpstr (
    tsq_json_get_string (json_array_get_object_element (tsq_json_get_array (row, "matchers"), 0),
                         "value", NULL),
    ==, "shop");
  g_assert_cmpstr (tsq_json_get_string (list->pdata[1], "state", NULL), ==, "pending");
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Expire by hand; twice is a conflict; an ended one cannot be expired either. */
  g_assert_true (tsq_storage_expire_silence (f->s, id_active, T0 + 5 * S, &error));
  g_assert_no_error (error);
  g_assert_false (tsq_storage_expire_silence (f->s, id_active, T0 + 6 * S, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_false (tsq_storage_expire_silence (f->s, id_past, T0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_false (tsq_storage_expire_silence (f->s, 999, T0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  list = tsq_storage_list_silences (f->s, FALSE, T0 + 10 * S, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpint (tsq_json_get_int (list->pdata[0], "id", 0), ==, id_later);
  g_clear_pointer (&list, g_ptr_array_unref);
  /* A pending silence runs out on its own. */
  list = tsq_storage_list_silences (f->s, FALSE, T0 + 9000 * S, &error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_silences (f->s, TRUE, T0 + 10 * S, &error);
  g_assert_cmpuint (list->len, ==, 3);
  g_assert_cmpint (tsq_json_get_int (list->pdata[0], "id", 0), ==, id_past); /* by starts_at */
  g_assert_cmpstr (tsq_json_get_string (list->pdata[0], "state", NULL), ==, "expired");
  g_assert_cmpstr (tsq_json_get_string (list->pdata[1], "state", NULL), ==, "expired");
  g_assert_cmpint (time_member (list->pdata[1], "expired_at"), ==, T0 + 5 * S);
  g_assert_cmpstr (tsq_json_get_string (list->pdata[2], "state", NULL), ==, "pending");
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Validation names the member. */
  {
    static const char *const bad[][2] = {
      { "{\"ends_at\":5}", "matchers" },
      { "{\"matchers\":[1],\"ends_at\":5}", "element 0" },
      { "{\"matchers\":[]}", "ends_at" },
      { "{\"matchers\":[],\"starts_at\":10,\"ends_at\":5}", "after" },
      { "{\"matchers\":[],\"ends_at\":\"tomorrow\"}", "ends_at" },
      { "{\"matchers\":[],\"ends_at\":99999999999999999,\"comment\":3}", "comment" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (JsonObject) obj = json ("%s", bad[i][0]);

        g_assert_cmpint (tsq_storage_add_silence (f->s, obj, &error), ==, -1);
        g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
        g_assert_nonnull (strstr (error->message, bad[i][1]));
        g_clear_error (&error);
      }
  }
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM alert_silences"), ==, 3);
}

/* ---- outbox ---- */

static void
test_outbox_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *a = enqueue (f->s, T0, "email");
  g_autofree char *b = enqueue (f->s, T0 + 1, "slack");
  g_autofree char *c = NULL;
  g_autofree char *given = g_uuid_string_random ();
  g_autoptr (JsonObject) later = NULL;
  g_autoptr (JsonObject) row = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GPtrArray) list = NULL;
  TsqBackoff backoff;
  double r = 0.5;
  gboolean dead = TRUE;

  tsq_backoff_init_default (&backoff);
  backoff.random = fixed_random;
  backoff.random_data = &r;

  g_assert_true (g_uuid_string_is_valid (a));
  g_assert_cmpstr (a, !=, b);
  /* A delayed notification (group wait) with the caller's idempotency id. */
  later = json ("{\"id\":\"%s\",\"channel\":\"webhook\",\"kind\":\"resolved\",\"payload\":{},"
                "\"created_at\":%" G_GINT64_FORMAT ",\"next_attempt_at\":%" G_GINT64_FORMAT "}",
                given, T0, T0 + 30 * S);
  c = tsq_storage_outbox_enqueue (f->s, later, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c, ==, given);
  /* Written before anything is sent: visible to another process at once. */
  g_assert_cmpint (
    query_int (f->path, "SELECT count(*) FROM notification_outbox WHERE state = 'pending'"), ==, 3);
  g_assert_cmpint (tsq_storage_outbox_next_due (f->s, &error), ==, T0);

  row = tsq_storage_outbox_get (f->s, a, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tsq_json_get_string (row, "channel", NULL), ==, "email");
  g_assert_cmpstr (tsq_json_get_string (row, "kind", NULL), ==, "triggered");
  g_assert_cmpstr (tsq_json_get_string (row, "state", NULL), ==, "pending");
  g_assert_cmpint (tsq_json_get_int (row, "attempts", -1), ==, 0);
  g_assert_cmpint (json_array_get_int_element (tsq_json_get_array (row, "alert_ids"), 1), ==, 2);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (row, "payload"), "subject", NULL), ==,
                   "Shop down");
  g_assert_cmpint (
    tsq_json_get_int (tsq_json_get_object (tsq_json_get_object (row, "payload"), "json"), "x", 0),
    ==, 1);
  g_assert_cmpint (time_member (row, "created_at"), ==, T0);
  g_assert_cmpint (time_member (row, "delivered_at"), ==, -1);
  g_clear_pointer (&row, json_object_unref);

  /* Claim: due rows only, oldest first, leased. */
  rows = claim (f->s, T0 + 10 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (row_id (rows, 0), ==, a);
  g_assert_cmpstr (row_id (rows, 1), ==, b);
  g_assert_cmpstr (tsq_json_get_string (rows->pdata[0], "state", NULL), ==, "sending");
  g_assert_cmpint (tsq_json_get_int (rows->pdata[0], "attempts", 0), ==, 1);
  g_assert_cmpint (time_member (rows->pdata[0], "next_attempt_at"), ==, T0 + 70 * S);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = claim (f->s, T0 + 10 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 0);
  g_clear_pointer (&rows, g_ptr_array_unref);

  /* a fails (retryable): back to pending after the jittered delay (0.5 * 5 s). */
  g_assert_true (
    tsq_storage_outbox_mark_failed (f->s, a, "HTTP 503", 0, &backoff, T0 + 11 * S, &dead, &error));
  g_assert_no_error (error);
  g_assert_false (dead);
  row = tsq_storage_outbox_get (f->s, a, &error);
  g_assert_cmpstr (tsq_json_get_string (row, "state", NULL), ==, "pending");
  g_assert_cmpstr (tsq_json_get_string (row, "last_error", NULL), ==, "HTTP 503");
  g_assert_cmpint (time_member (row, "next_attempt_at"), ==, T0 + 11 * S + 2500000);
  g_clear_pointer (&row, json_object_unref);
  /* Only a claimed row can fail. */
  g_assert_false (
    tsq_storage_outbox_mark_failed (f->s, a, "again", 0, &backoff, T0 + 12 * S, &dead, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);

  /* b is delivered: never claimed again, whatever the time. */
  g_assert_true (tsq_storage_outbox_mark_delivered (f->s, b, T0 + 12 * S, &error));
  g_assert_no_error (error);
  g_assert_true (tsq_storage_outbox_mark_delivered (f->s, b, T0 + 13 * S, &error));
  row = tsq_storage_outbox_get (f->s, b, &error);
  g_assert_cmpstr (tsq_json_get_string (row, "state", NULL), ==, "delivered");
  g_assert_cmpint (time_member (row, "delivered_at"), ==, T0 + 12 * S);
  g_clear_pointer (&row, json_object_unref);
  g_assert_false (tsq_storage_outbox_mark_dead (f->s, b, "x", 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);

  /* Next due: a's retry. Claim at that time gets a (attempt 2) and c. */
  g_assert_cmpint (tsq_storage_outbox_next_due (f->s, &error), ==, T0 + 11 * S + 2500000);
  rows = claim (f->s, T0 + 3600 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (row_id (rows, 0), ==, a);
  g_assert_cmpint (tsq_json_get_int (rows->pdata[0], "attempts", 0), ==, 2);
  g_assert_cmpstr (row_id (rows, 1), ==, c);
  g_clear_pointer (&rows, g_ptr_array_unref);

  /* Retry-After is honoured exactly. */
  g_assert_true (tsq_storage_outbox_mark_failed (f->s, c, "HTTP 429", 120, &backoff, T0 + 3601 * S,
                                                 &dead, &error));
  row = tsq_storage_outbox_get (f->s, c, &error);
  g_assert_cmpint (time_member (row, "next_attempt_at"), ==, T0 + 3721 * S);
  g_clear_pointer (&row, json_object_unref);

  /* a fails permanently: dead letter, visible, requeueable by an operator. */
  g_assert_true (tsq_storage_outbox_mark_dead (f->s, a, "HTTP 404", T0 + 3602 * S, &error));
  g_assert_no_error (error);
  list = tsq_storage_outbox_list (f->s, TSQ_OUTBOX_DEAD, 0, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (row_id (list, 0), ==, a);
  g_assert_cmpstr (tsq_json_get_string (list->pdata[0], "last_error", NULL), ==, "HTTP 404");
  g_clear_pointer (&list, g_ptr_array_unref);
  rows = claim (f->s, T0 + 9999 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 1); /* c only */
  g_assert_cmpstr (row_id (rows, 0), ==, c);
  g_clear_pointer (&rows, g_ptr_array_unref);
  g_assert_false (tsq_storage_outbox_requeue (f->s, c, T0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_true (tsq_storage_outbox_requeue (f->s, a, T0 + 10000 * S, &error));
  g_assert_no_error (error);
  row = tsq_storage_outbox_get (f->s, a, &error);
  g_assert_cmpstr (tsq_json_get_string (row, "state", NULL), ==, "pending");
  g_assert_cmpint (tsq_json_get_int (row, "attempts", -1), ==, 0);
  g_assert_cmpint (time_member (row, "retry_from_at"), ==, T0 + 10000 * S);
  g_assert_cmpint (time_member (row, "created_at"), ==, T0);
  g_clear_pointer (&row, json_object_unref);
  rows = claim (f->s, T0 + 10000 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (row_id (rows, 0), ==, a);
  g_clear_pointer (&rows, g_ptr_array_unref);
  g_assert_true (tsq_storage_outbox_mark_delivered (f->s, a, T0 + 10001 * S, &error));
  g_assert_true (tsq_storage_outbox_mark_delivered (f->s, c, T0 + 10002 * S, &error));
  g_assert_cmpint (tsq_storage_outbox_next_due (f->s, &error), ==, 0);

  /* Listing and pruning */
  list = tsq_storage_outbox_list (f->s, NULL, 0, &error);
  g_assert_cmpuint (list->len, ==, 3);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_outbox_list (f->s, TSQ_OUTBOX_DELIVERED, 2, &error);
  g_assert_cmpuint (list->len, ==, 2);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_null (tsq_storage_outbox_list (f->s, "lost", 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (tsq_storage_outbox_prune (f->s, T0 + 10001 * S + 1, &error), ==, 2);
  list = tsq_storage_outbox_list (f->s, NULL, 0, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (row_id (list, 0), ==, c);

  /* Unknown ids */
  g_assert_false (tsq_storage_outbox_mark_delivered (f->s, "nope", 0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (tsq_storage_outbox_get (f->s, "nope", &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
}

static void
test_outbox_invalid (Fixture *f, gconstpointer data)
{
  g_autofree char *id = enqueue (f->s, T0, "email");
  g_autofree char *dup
    = g_strdup_printf ("{\"id\":\"%s\",\"channel\":\"email\",\"kind\":\"k\",\"payload\":{}}", id);
  const char *const bad[][2] = {
    { "{\"kind\":\"k\",\"payload\":{}}", "channel" },
    { "{\"channel\":\"email\",\"payload\":{}}", "kind" },
    { "{\"channel\":\"email\",\"kind\":\"k\"}", "payload" },
    { "{\"channel\":\"email\",\"kind\":\"k\",\"payload\":\"text\"}", "payload" },
    { "{\"channel\":\"email\",\"kind\":\"k\",\"payload\":{},\"id\":\"1234\"}", "UUID" },
    { "{\"channel\":\"email\",\"kind\":\"k\",\"payload\":{},\"alert_ids\":[\"x\"]}", "alert_ids" },
    { "{\"channel\":\"email\",\"kind\":\"k\",\"payload\":{},\"alert_ids\":5}", "alert_ids" },
    { "{\"channel\":\"email\",\"kind\":\"k\",\"payload\":{},\"created_at\":-1}", "created_at" },
    { dup, "UNIQUE" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonObject) n = json ("%s", bad[i][0]);

      g_assert_null (tsq_storage_outbox_enqueue (f->s, n, &error));
      g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
      g_test_message ("%s -> %s", bad[i][0], error->message);
      g_assert_nonnull (strstr (error->message, bad[i][1]));
    }
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 1);
}

/* Failing every attempt with the largest delays: the notification retries until the max age,
 * the last try at the deadline exactly, then it is dead-lettered. */
static void
test_outbox_max_age (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = enqueue (f->s, T0, "webhook");
  g_autoptr (JsonObject) row = NULL;
  TsqBackoff backoff;
  double r = 1.0;
  gint64 now = T0, last_due = 0;
  gboolean dead = FALSE;
  guint tries = 0;

  tsq_backoff_init_default (&backoff);
  backoff.random = fixed_random;
  backoff.random_data = &r;
  backoff.max_age_us = 3600 * S; /* 1 h keeps the loop short */

  while (!dead)
    {
      g_autoptr (GPtrArray) rows = claim (f->s, now, 10, 60 * S);

      g_assert_cmpuint (rows->len, ==, 1);
      tries++;
      g_assert_cmpint (tsq_json_get_int (rows->pdata[0], "attempts", 0), ==, tries);
      g_assert_true (tsq_storage_outbox_mark_failed (f->s, id, "connection refused", 0, &backoff,
                                                     now, &dead, &error));
      g_assert_no_error (error);
      if (!dead)
        {
          g_clear_pointer (&row, json_object_unref);
          row = tsq_storage_outbox_get (f->s, id, &error);
          last_due = time_member (row, "next_attempt_at");
          g_assert_cmpint (last_due, >, now);
          g_assert_cmpint (last_due, <=, T0 + 3600 * S);
          /* nothing is due before then */
          {
            g_autoptr (GPtrArray) none = claim (f->s, last_due - 1, 10, 60 * S);

            g_assert_cmpuint (none->len, ==, 0);
          }
          now = last_due;
        }
      g_assert_cmpuint (tries, <, 100);
    }
  /* 5+10+...+640 = 1275 s in 8 retries, then 900 s steps up to 3600 s: 3 more, the last one pulled
   * in to the deadline; the failure at the deadline is final. */
  g_assert_cmpint (now, ==, T0 + 3600 * S);
  g_assert_cmpuint (tries, ==, 1 + 8 + 3);
  g_clear_pointer (&row, json_object_unref);
  row = tsq_storage_outbox_get (f->s, id, &error);
  g_assert_cmpstr (tsq_json_get_string (row, "state", NULL), ==, "dead");
  g_assert_cmpstr (tsq_json_get_string (row, "last_error", NULL), ==, "connection refused");
  {
    g_autoptr (GPtrArray) rows = claim (f->s, T0 + 999999 * S, 10, 60 * S);

    g_assert_cmpuint (rows->len, ==, 0);
  }
}

/* ---- atomic groups ---- */

static void
clear_flag (gpointer data)
{
  *(gboolean *)data = FALSE;
}

static void
test_transaction (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) alert = json ("{\"monitor_id\":\"%s\",\"rule_id\":\"down\"}", f->m->id);
  g_autoptr (JsonObject) bad = json ("{\"channel\":\"email\"}");
  TsqSqliteStorage *sqlite = TSQ_SQLITE_STORAGE (f->s);
  gboolean created;
  gint64 alert_id;
  g_autofree char *n1 = NULL;

  /* Alert and notification become visible together, at commit. */
  g_assert_true (tsq_storage_transaction_begin (f->s, &error));
  g_assert_no_error (error);
  alert_id = tsq_storage_upsert_open_alert (f->s, alert, &created, &error);
  g_assert_cmpint (alert_id, >, 0);
  n1 = enqueue (f->s, T0, "email");
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts"), ==, 0);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 0);
  /* Claims, flushes and nested groups are refused inside a group. */
  g_assert_null (tsq_storage_outbox_claim_due (f->s, T0, 0, 60 * S, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tsq_storage_flush (f->s, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tsq_storage_transaction_begin (f->s, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (tsq_storage_transaction_commit (f->s, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts"), ==, 1);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 1);
  g_assert_false (tsq_storage_transaction_commit (f->s, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);

  /* Rollback undoes the group only: a batched write from before it stays pending and commits. */
  g_assert_true (tsq_storage_set_monitor_run_state (f->s, f->m->id, 77, 0, &error));
  g_assert_true (tsq_storage_transaction_begin (f->s, &error));
  g_assert_true (tsq_storage_ack_alert (f->s, alert_id, "bob", T0, &error));
  g_free (enqueue (f->s, T0, "slack"));
  tsq_storage_transaction_rollback (f->s);
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 1);
  g_assert_true (tsq_storage_flush (f->s, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 77);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 1);
  g_assert_cmpint (
    query_int (f->path, "SELECT count(*) FROM monitoring_alerts WHERE state = 'triggered'"), ==, 1);

  /* A failed write dooms the group: a caller that ignores the error cannot commit an alert
   * change without its notification. */
  g_assert_true (tsq_storage_transaction_begin (f->s, &error));
  g_assert_true (tsq_storage_ack_alert (f->s, alert_id, "bob", T0, &error));
  g_assert_null (tsq_storage_outbox_enqueue (f->s, bad, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (tsq_storage_outbox_enqueue (f->s, bad, &error)); /* refused either way */
  g_clear_error (&error);
  g_assert_false (tsq_storage_resolve_alert (f->s, alert_id, NULL, T0, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (tsq_storage_transaction_commit (f->s, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID); /* the first failure's */
  g_assert_nonnull (strstr (error->message, "rolled back"));
  g_clear_error (&error);
  g_assert_cmpint (
    query_int (f->path, "SELECT count(*) FROM monitoring_alerts WHERE state = 'triggered'"), ==, 1);
  g_assert_cmpuint (tsq_sqlite_storage_get_pending (sqlite), ==, 0);

  /* The batch timer does not commit half a group. */
  {
    gboolean waited = FALSE;

    g_assert_true (tsq_storage_set_monitor_run_state (f->s, f->m->id, 88, 0, &error));
    g_assert_true (tsq_storage_transaction_begin (f->s, &error));
    g_free (enqueue (f->s, T0, "sms"));
    waited = TRUE;
    g_timeout_add_once (3 * TSQ_SQLITE_STORAGE_BATCH_MAX_DELAY_MS, clear_flag, &waited);
    while (waited)
      g_main_context_iteration (NULL, TRUE);
    g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 1);
    g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 77);
    g_assert_true (tsq_storage_transaction_commit (f->s, &error));
    g_assert_no_error (error);
    g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 2);
    g_assert_cmpint (query_int (f->path, "SELECT last_run_us FROM monitoring_configs"), ==, 88);
  }

  /* Disposing the storage with an open group undoes the group (like a crash would). */
  g_assert_true (tsq_storage_transaction_begin (f->s, &error));
  g_free (enqueue (f->s, T0, "sms"));
  reopen (f);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 2);
}

/* ---- crashes and concurrency ---- */

/* Runs fn in a child process that dies without any cleanup (no dispose, no close): a kill -9
 * right after fn. */
static void
in_crashing_child (void (*fn) (const char *path), const char *path)
{
  pid_t pid = fork ();
  int status = 0;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      fn (path);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
child_claims_three (const char *path)
{
  TsqStorage *s = tsq_sqlite_storage_open (path, NULL);
  GPtrArray *rows;

  if (s == NULL)
    _exit (2);
  rows = tsq_storage_outbox_claim_due (s, T0, 3, 60 * S, NULL);
  if (rows == NULL || rows->len != 3)
    _exit (3);
  /* "sending" ... and the process dies before any mark_delivered. */
}

static void
child_dies_in_group (const char *path)
{
  TsqStorage *s = tsq_sqlite_storage_open (path, NULL);
  g_autoptr (TsqMonitor) m = NULL;
  g_autoptr (JsonObject) alert = NULL;
  GPtrArray *monitors;

  if (s == NULL || (monitors = tsq_storage_list_monitors (s, NULL)) == NULL || monitors->len != 1)
    _exit (2);
  m = tsq_monitor_ref (monitors->pdata[0]);
  alert = json ("{\"monitor_id\":\"%s\",\"rule_id\":\"half\"}", m->id);
  if (!tsq_storage_transaction_begin (s, NULL)
      || tsq_storage_upsert_open_alert (s, alert, NULL, NULL) <= 0)
    _exit (3);
  g_free (enqueue (s, T0, "email"));
  /* dies before the commit */
}

static void
test_crash_lease (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  char *ids[5];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = enqueue (f->s, T0 - (gint64)(5 - i) * S, "webhook");
  g_clear_object (&f->s); /* no connection crosses the fork */

  /* A sender claims three rows and is killed while sending. */
  in_crashing_child (child_claims_three, f->path);
  g_assert_cmpint (
    query_int (f->path, "SELECT count(*) FROM notification_outbox WHERE state = 'sending'"), ==, 3);

  reopen (f);
  /* Within the lease only the two unclaimed rows are due ... */
  rows = claim (f->s, T0 + 59 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (row_id (rows, 0), ==, ids[3]);
  g_assert_cmpstr (row_id (rows, 1), ==, ids[4]);
  for (i = 0; i < rows->len; i++)
    g_assert_true (tsq_storage_outbox_mark_delivered (f->s, row_id (rows, i), T0 + 59 * S, &error));
  g_clear_pointer (&rows, g_ptr_array_unref);

  /* ... once it expires, the crashed sender's rows are due again (at-least-once), with the same
   * idempotency ids; delivered rows never come back. */
  rows = claim (f->s, T0 + 60 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 3);
  for (i = 0; i < rows->len; i++)
    {
      g_assert_cmpstr (row_id (rows, i), ==, ids[i]);
      g_assert_cmpint (tsq_json_get_int (rows->pdata[i], "attempts", 0), ==, 2);
    }
  g_assert_true (tsq_storage_outbox_mark_delivered (f->s, ids[0], T0 + 61 * S, &error));
  g_clear_pointer (&rows, g_ptr_array_unref);

  /* Crash again: drop the storage object without marking the other two, reopen the file. */
  reopen (f);
  rows = claim (f->s, T0 + 1000 * S, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (row_id (rows, 0), ==, ids[1]);
  g_assert_cmpstr (row_id (rows, 1), ==, ids[2]);
  for (i = 0; i < rows->len; i++)
    g_assert_true (tsq_storage_outbox_mark_delivered (f->s, row_id (rows, i), T0, &error));
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = claim (f->s, G_MAXINT64 / 2, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 0);
  g_clear_pointer (&rows, g_ptr_array_unref);

  /* A process killed inside a group leaves neither the alert nor its notification. */
  g_clear_object (&f->s);
  in_crashing_child (child_dies_in_group, f->path);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts"), ==, 0);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 5);
  reopen (f);
  rows = claim (f->s, G_MAXINT64 / 2, 0, 60 * S);
  g_assert_cmpuint (rows->len, ==, 0);

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    g_free (ids[i]);
}

#define CONCURRENT_ROWS 300

typedef struct
{
  const char *path;
  GPtrArray *claimed; /* ids */
  gint *ready;
  GError *error;
} Claimer;

static gpointer
claimer_thread (gpointer data)
{
  Claimer *c = data;
  g_autoptr (TsqStorage) s = tsq_sqlite_storage_open (c->path, &c->error);

  if (s == NULL)
    return NULL;
  /* Start together. */
  g_atomic_int_inc (c->ready);
  while (g_atomic_int_get (c->ready) < 2)
    g_thread_yield ();
  for (;;)
    {
      g_autoptr (GPtrArray) rows = tsq_storage_outbox_claim_due (s, T0, 7, 60 * S, &c->error);
      guint i;

      if (rows == NULL || rows->len == 0)
        break;
      /* "Send" (a pause that lets the other connection in), then confirm. */
      g_usleep (500);
      for (i = 0; i < rows->len; i++)
        {
          g_ptr_array_add (c->claimed, g_strdup (row_id (rows, i)));
          if (!tsq_storage_outbox_mark_delivered (s, row_id (rows, i), T0, &c->error))
            return NULL;
        }
    }
  return NULL;
}

static void
test_concurrent_claim (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Claimer c[2];
  GThread *threads[2];
  gint ready = 0;
  guint i, j;

  g_assert_true (tsq_storage_transaction_begin (f->s, &error));
  for (i = 0; i < CONCURRENT_ROWS; i++)
    g_hash_table_add (seen, enqueue (f->s, T0 - CONCURRENT_ROWS + i, "webhook"));
  g_assert_true (tsq_storage_transaction_commit (f->s, &error));
  g_assert_no_error (error);

  for (i = 0; i < 2; i++)
    {
      c[i].path = f->path;
      c[i].claimed = g_ptr_array_new_with_free_func (g_free);
      c[i].ready = &ready;
      c[i].error = NULL;
      threads[i] = g_thread_new ("claimer", claimer_thread, &c[i]);
    }
  for (i = 0; i < 2; i++)
    g_thread_join (threads[i]);

  /* Every row claimed exactly once, by one of the two connections. */
  for (i = 0; i < 2; i++)
    {
      g_assert_no_error (c[i].error);
      g_test_message ("connection %u claimed %u rows", i, c[i].claimed->len);
      for (j = 0; j < c[i].claimed->len; j++)
        g_assert_true (g_hash_table_remove (seen, c[i].claimed->pdata[j]));
      g_ptr_array_unref (c[i].claimed);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 0);
  g_assert_cmpint (query_int (f->path,
                              "SELECT count(*) FROM notification_outbox WHERE state = 'delivered' "
                              "AND attempts = 1"),
                   ==, CONCURRENT_ROWS);
}

/* ---- schema upgrade ---- */

static void
test_upgrade_from_v1 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "v1.db", NULL);
  g_autoptr (TsqStorage) s = NULL;
  g_autoptr (JsonObject) legacy = NULL;
  g_autoptr (GPtrArray) open = NULL;
  sqlite3 *db = NULL;
  gboolean created;
  gint64 id;

  /* A database as the previous release left it: schema version 1, with alerts in it (two with
   * the same rule and monitor, one in a state the new schema does not know). */
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_true (tsq_sqlite_migrate_to (db, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tsq_sqlite_schema_version (db, NULL), ==, 1);
  g_assert_cmpint (
    sqlite3_exec (
      db,
      "INSERT INTO monitoring_configs (id, name, url, schedule, created_at, updated_at) "
      "VALUES ('m1', 'old', 'https://old.example/', 'every 1h', 1, 1);"
      "INSERT INTO scan_results (id, monitor_id, started_at, state) VALUES (1, 'm1', 5, "
      "'completed');"
      "INSERT INTO technology_changes (id, monitor_id, scan_id, detected_at, change_type) "
      "VALUES (3, 'm1', 1, 6, 'technology_added');"
      "INSERT INTO monitoring_alerts (id, monitor_id, change_id, rule_id, severity, state, "
      "triggered_at, acknowledged_at, payload) VALUES "
      "(10, 'm1', 3, 'r', 'high', 'acknowledged', 7000000, 8000000, '{\"a\":1}'),"
      "(11, 'm1', NULL, 'r', NULL, 'triggered', 9000000, NULL, NULL),"
      "(12, 'm1', NULL, NULL, NULL, 'weird', 9500000, NULL, NULL);",
      NULL, NULL, NULL),
    ==, SQLITE_OK);
  sqlite3_close (db);

  /* The current code opens and upgrades it. */
  s = tsq_sqlite_storage_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (query_int (path, "PRAGMA user_version"), ==, tsq_sqlite_migrations_latest ());
  g_assert_cmpint (tsq_sqlite_migrations_latest (), ==, 3);
  g_assert_cmpint (query_int (path, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  g_assert_cmpint (query_int (path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                    "('alert_silences', 'notification_outbox', "
                                    "'monitoring_alerts_open_key', 'monitoring_alerts_v2')"),
                   ==, 3);

  legacy = tsq_storage_get_alert (s, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tsq_json_get_string (legacy, "state", NULL), ==, "acknowledged");
  g_assert_cmpstr (tsq_json_get_string (legacy, "severity", NULL), ==, "high");
  g_assert_cmpint (tsq_json_get_int (legacy, "change_id", 0), ==, 3);
  g_assert_cmpint (tsq_json_get_int (legacy, "count", 0), ==, 1);
  g_assert_cmpint (time_member (legacy, "first_seen_at"), ==, 7000000);
  g_assert_cmpint (time_member (legacy, "last_seen_at"), ==, 7000000);
  g_assert_cmpint (time_member (legacy, "acknowledged_at"), ==, 8000000);
  g_assert_cmpint (tsq_json_get_int (tsq_json_get_object (legacy, "payload"), "a", 0), ==, 1);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (legacy, "subject")));
  open = tsq_storage_list_open_alerts (s, &error);
  g_assert_cmpuint (open->len, ==, 3);
  g_assert_cmpstr (tsq_json_get_string (open->pdata[2], "state", NULL), ==, "triggered");

  /* New rows continue the id sequence; everything new works on the upgraded file. */
  id = upsert (s, &created, "{\"monitor_id\":\"m1\",\"rule_id\":\"r\"}");
  g_assert_true (created);
  g_assert_cmpint (id, ==, 13);
  g_free (enqueue (s, T0, "email"));
  {
    g_autoptr (GPtrArray) rows = claim (s, T0, 0, 60 * S);

    g_assert_cmpuint (rows->len, ==, 1);
  }
  /* Deleting a change keeps its alert now; deleting the monitor removes them all. */
  g_assert_true (tsq_storage_flush (s, &error));
  g_clear_object (&s);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (
    sqlite3_exec (db, "PRAGMA foreign_keys = ON; DELETE FROM technology_changes", NULL, NULL, NULL),
    ==, SQLITE_OK);
  sqlite3_close (db);
  g_assert_cmpint (query_int (path, "SELECT count(*) FROM monitoring_alerts WHERE id = 10 AND "
                                    "change_id IS NULL"),
                   ==, 1);
  s = tsq_sqlite_storage_open (path, &error);
  g_assert_true (tsq_storage_delete_monitor (s, "m1", &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (path, "SELECT count(*) FROM monitoring_alerts"), ==, 0);
  g_assert_cmpint (query_int (path, "SELECT count(*) FROM notification_outbox"), ==, 1);
}

/* ---- full disk ---- */

static void
test_disk_full (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) big = g_string_new (NULL);
  g_autoptr (JsonObject) huge = NULL;
  g_autoptr (JsonObject) alert = json ("{\"monitor_id\":\"%s\",\"rule_id\":\"down\"}", f->m->id);
  g_autofree char *kept = enqueue (f->s, T0, "email");
  TsqSqliteStorage *sqlite = TSQ_SQLITE_STORAGE (f->s);
  guint i;

  /* 2 MiB of payload that does not fit in the capped database. */
  for (i = 0; i < 2 * 1024 * 1024 / 16; i++)
    g_string_append_printf (big, "%015u ", g_random_int ());
  huge = json ("{\"channel\":\"email\",\"kind\":\"triggered\",\"payload\":{\"body\":\"%s\"}}",
               big->str);
  g_assert_true (tsq_sqlite_storage_set_size_limit (sqlite, 256 * 1024, &error));

  g_assert_null (tsq_storage_outbox_enqueue (f->s, huge, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FULL);
  g_test_message ("disk full: %s", error->message);
  g_clear_error (&error);

  /* In a group: the alert change is not stored without its notification. */
  g_assert_true (tsq_storage_transaction_begin (f->s, &error));
  g_assert_cmpint (tsq_storage_upsert_open_alert (f->s, alert, NULL, &error), >, 0);
  g_assert_null (tsq_storage_outbox_enqueue (f->s, huge, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FULL);
  g_clear_error (&error);
  g_assert_false (tsq_storage_transaction_commit (f->s, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FULL);
  g_clear_error (&error);
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM monitoring_alerts"), ==, 0);

  /* Committed rows are intact and the outbox works on; after lifting the cap, so does the big
   * notification. */
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 1);
  {
    g_autoptr (GPtrArray) rows = claim (f->s, T0, 0, 60 * S);

    g_assert_cmpuint (rows->len, ==, 1);
    g_assert_cmpstr (row_id (rows, 0), ==, kept);
    g_assert_true (tsq_storage_outbox_mark_delivered (f->s, kept, T0, &error));
    g_assert_no_error (error);
  }
  g_assert_true (tsq_sqlite_storage_set_size_limit (sqlite, 0, &error));
  {
    g_autofree char *id = tsq_storage_outbox_enqueue (f->s, huge, &error);

    g_assert_no_error (error);
    g_assert_nonnull (id);
  }
  g_assert_cmpint (query_int (f->path, "SELECT count(*) FROM notification_outbox"), ==, 2);
}

/* Maintenance windows: stored, listed per monitor, survive a reopen, removed, deleted with their
 * monitor; bad shapes are INVALID, an unknown monitor NOT_FOUND. */
static void
test_maintenance (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (JsonObject) w1 = NULL;
  g_autoptr (JsonObject) w2 = NULL;
  g_autoptr (JsonObject) bad = NULL;
  g_autoptr (TsqMonitor) other = tsq_monitor_new ("blog", "https://blog.example/", "every 5m");
  JsonObject *def;
  gint64 id1, id2;

  g_assert_true (tsq_storage_put_monitor (f->s, other, &error));
  w1 = json ("{\"monitor_id\": \"%s\", \"definition\": {\"cron\": \"0 2 * * SUN\", "
             "\"duration_s\": 7200, \"timezone\": \"Europe/Berlin\"}, \"comment\": \"backup\", "
             "\"created_by\": \"ops\"}",
             f->m->id);
  w2 = json ("{\"monitor_id\": \"%s\", \"definition\": {\"starts_at\": 1, \"ends_at\": 2}}",
             other->id);
  id1 = tsq_storage_add_maintenance (f->s, w1, &error);
  g_assert_no_error (error);
  id2 = tsq_storage_add_maintenance (f->s, w2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id2, >, id1);

  reopen (f);
  list = tsq_storage_list_maintenance (f->s, f->m->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpint (tsq_json_get_int (g_ptr_array_index (list, 0), "id", 0), ==, id1);
  g_assert_cmpstr (tsq_json_get_string (g_ptr_array_index (list, 0), "comment", ""), ==, "backup");
  g_assert_cmpstr (tsq_json_get_string (g_ptr_array_index (list, 0), "created_by", ""), ==, "ops");
  def = tsq_json_get_object (g_ptr_array_index (list, 0), "definition");
  g_assert_nonnull (def);
  g_assert_cmpstr (tsq_json_get_string (def, "cron", ""), ==, "0 2 * * SUN");
  g_assert_cmpint (tsq_json_get_int (def, "duration_s", 0), ==, 7200);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = tsq_storage_list_maintenance (f->s, NULL, &error);
  g_assert_cmpuint (list->len, ==, 2);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Bad shapes and unknown monitors. */
  bad = json ("{\"monitor_id\": \"%s\"}", f->m->id);
  g_assert_cmpint (tsq_storage_add_maintenance (f->s, bad, &error), ==, -1);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID);
  g_clear_error (&error);
  g_clear_pointer (&bad, json_object_unref);
  bad = json ("{\"monitor_id\": \"nope\", \"definition\": {}}");
  g_assert_cmpint (tsq_storage_add_maintenance (f->s, bad, &error), ==, -1);
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (tsq_storage_remove_maintenance (f->s, id1, &error));
  g_assert_no_error (error);
  g_assert_false (tsq_storage_remove_maintenance (f->s, id1, &error));
  g_assert_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Deleting the monitor deletes its windows. */
  g_assert_true (tsq_storage_delete_monitor (f->s, other->id, &error));
  g_assert_no_error (error);
  list = tsq_storage_list_maintenance (f->s, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
  g_test_add ("/tsq/outbox/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("alert-dedupe", test_alert_dedupe);
  ADD ("alert-invalid", test_alert_invalid);
  ADD ("alert-lifecycle", test_alert_lifecycle);
  ADD ("alert-query", test_alert_query);
  ADD ("silences", test_silences);
  ADD ("maintenance", test_maintenance);
  ADD ("lifecycle", test_outbox_lifecycle);
  ADD ("invalid", test_outbox_invalid);
  ADD ("max-age", test_outbox_max_age);
  ADD ("transaction", test_transaction);
  ADD ("crash-lease", test_crash_lease);
  ADD ("concurrent-claim", test_concurrent_claim);
  ADD ("upgrade-from-v1", test_upgrade_from_v1);
  ADD ("disk-full", test_disk_full);
#undef ADD
  return g_test_run ();
}
