/* tsq-sqlite-storage.c: TsqStorage on SQLite.
 *
 * Batching: batched writes (begin/finish scan, changes, run state, detector state, system
 * metrics) run at once inside an open IMMEDIATE transaction, so reads on this connection see them
 * immediately, and the transaction commits after TSQ_SQLITE_STORAGE_BATCH_MAX_OPS writes, after
 * TSQ_SQLITE_STORAGE_BATCH_MAX_DELAY_MS, on flush() or on dispose. Every write runs inside a
 * SAVEPOINT so a failing write leaves the other pending writes intact. Other writes (monitors,
 * interrupted scans, alerts, silences, outbox, prune) commit together with whatever is pending.
 *
 * Atomic groups (transaction_begin/commit): a SAVEPOINT tsq_group inside the batch transaction;
 * while it is open no write commits (neither the timer nor the batch size nor non-batched writes),
 * and the group's end commits everything, or rolls back just the group.
 *
 * If SQLite rolls back the whole transaction (disk full, I/O error), the pending writes are lost
 * and the error says how many; committed data is never touched.
 */
#define G_LOG_DOMAIN "tsq-sqlite"

#include "tsq-sqlite-storage.h"

#include <sqlite3.h>

#include "tsq-json-util.h"
#include "tsq-sqlite-migrations.h"

struct _TsqSqliteStorage
{
  GObject parent_instance;

  sqlite3 *db;
  char *path;
  gboolean read_only;
  GHashTable *stmts; /* SQL text (owned) -> sqlite3_stmt* (finalized) */

  guint pending;          /* batched writes in the open transaction */
  GSource *flush_source;  /* commits the open transaction after the batch delay */
  GError *deferred_error; /* a failed automatic commit, reported by the next flush() */

  /* An atomic group (tsq_storage_transaction_begin): a savepoint inside the batch transaction.
   * Nothing commits while it is open. */
  gboolean in_group;
  gboolean group_failed;      /* a write in the group failed: the group can only roll back */
  GError *group_error;        /* ... the first such failure */
  guint pending_before_group; /* batched writes that were pending when the group started */

  gint64 data_version; /* PRAGMA data_version when cached_revision was read */
  gint64 cached_revision;
  gboolean revision_stale;
};

static void tsq_sqlite_storage_iface_init (TsqStorageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TsqSqliteStorage,
                               tsq_sqlite_storage,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TSQ_TYPE_STORAGE,
                                                      tsq_sqlite_storage_iface_init))

/* A statement from the cache; the autoptr resets it instead of finalizing it. */
typedef sqlite3_stmt TsqCachedStmt;

static void
cached_stmt_release (TsqCachedStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqCachedStmt, cached_stmt_release)

#define MONITOR_COLUMNS                                                                            \
  "id, organization_id, name, url, schedule, scan_config, alert_rules, enabled, created_at, "      \
  "updated_at, last_run_us, next_run_us"
#define SCAN_COLUMNS                                                                               \
  "id, monitor_id, started_at, finished_at, state, status_code, error_kind, total_ms, ttfb_ms, "   \
  "bytes, tech_count, content_hash"
#define CHANGE_COLUMNS                                                                             \
  "c.id, c.monitor_id, m.name, c.scan_id, c.detected_at, c.change_type, c.subject, c.old_value, "  \
  "c.new_value, c.confidence, c.evidence, c.severity"
#define ALERT_COLUMNS                                                                              \
  "id, monitor_id, change_id, rule_id, group_key, subject, change_type, severity, state, "         \
  "first_seen_at, last_seen_at, count, triggered_at, acknowledged_at, acknowledged_by, "           \
  "resolved_at, resolve_reason, escalation_level, escalation_policy, last_notified_at, "           \
  "next_action_at, payload, suppression_reason"
#define OUTBOX_COLUMNS                                                                             \
  "id, alert_ids, channel, kind, payload, state, attempts, next_attempt_at, last_error, "          \
  "created_at, retry_from_at, updated_at, delivered_at"

/* ---- low-level helpers ---- */

static void
set_error (TsqSqliteStorage *self, GError **error, int rc, const char *context)
{
  tsq_sqlite_set_error (error, self->db, rc, context);
}

static sqlite3_stmt *
prepare (TsqSqliteStorage *self, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->stmts, sql);
  int rc;

  if (stmt != NULL)
    return stmt;
  rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_error (self, error, rc, "cannot prepare a database statement");
      return NULL;
    }
  g_hash_table_insert (self->stmts, g_strdup (sql), stmt);
  return stmt;
}

static gboolean
exec (TsqSqliteStorage *self, const char *sql, const char *context, GError **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      set_error (self, error, rc, context);
      return FALSE;
    }
  return TRUE;
}

/* Steps a statement that returns no rows. */
static gboolean
step_done (TsqSqliteStorage *self, sqlite3_stmt *stmt, const char *context, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      set_error (self, error, rc, context);
      return FALSE;
    }
  return TRUE;
}

/* Steps a query: TRUE with *have_row, or FALSE with error. */
static gboolean
step_row (TsqSqliteStorage *self,
          sqlite3_stmt *stmt,
          gboolean *have_row,
          const char *context,
          GError **error)
{
  int rc = sqlite3_step (stmt);

  *have_row = rc == SQLITE_ROW;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      set_error (self, error, rc, context);
      return FALSE;
    }
  return TRUE;
}

static void
bind_text_or_null (sqlite3_stmt *stmt, int idx, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, idx, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, idx);
}

static char *
node_to_text (JsonNode *node)
{
  return node != NULL ? tsq_json_to_string (node, FALSE) : NULL;
}

static char *
object_to_text (JsonObject *obj)
{
  g_autoptr (JsonNode) node = NULL;

  if (obj == NULL)
    return NULL;
  node = json_node_init_object (json_node_alloc (), obj);
  return node_to_text (node);
}

static char *
array_to_text (JsonArray *array)
{
  g_autoptr (JsonNode) node = NULL;

  if (array == NULL)
    return NULL;
  node = json_node_init_array (json_node_alloc (), array);
  return node_to_text (node);
}

/* Parses stored JSON into mutable nodes (callers may edit what we return). NULL if absent or
 * unparsable; stored text is ours, so garbage means somebody edited the database by hand. */
static JsonNode *
column_json (sqlite3_stmt *stmt, int col)
{
  const char *text = (const char *)sqlite3_column_text (stmt, col);
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) error = NULL;

  if (text == NULL)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, -1, &error)
      || json_parser_get_root (parser) == NULL)
    {
      g_debug ("ignoring unparsable stored JSON: %s", error ? error->message : "empty");
      return NULL;
    }
  return json_parser_steal_root (parser);
}

static JsonObject *
column_json_object (sqlite3_stmt *stmt, int col)
{
  g_autoptr (JsonNode) node = column_json (stmt, col);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_ref (json_node_get_object (node));
}

/* Sets member to the stored JSON, or to null. */
static void
set_json_member (JsonObject *obj, const char *member, sqlite3_stmt *stmt, int col)
{
  JsonNode *node = column_json (stmt, col);

  if (node == NULL)
    node = json_node_new (JSON_NODE_NULL);
  json_object_set_member (obj, member, node);
}

static void
set_time_member (JsonObject *obj, const char *member, sqlite3_stmt *stmt, int col)
{
  g_autofree char *iso = NULL;

  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    {
      json_object_set_null_member (obj, member);
      return;
    }
  iso = tsq_monitor_time_to_iso8601 (sqlite3_column_int64 (stmt, col));
  json_object_set_string_member (obj, member, iso);
}

static void
set_text_member (JsonObject *obj, const char *member, sqlite3_stmt *stmt, int col)
{
  const char *text = (const char *)sqlite3_column_text (stmt, col);

  if (text != NULL)
    json_object_set_string_member (obj, member, text);
  else
    json_object_set_null_member (obj, member);
}

static void
set_int_member (JsonObject *obj, const char *member, sqlite3_stmt *stmt, int col)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    json_object_set_null_member (obj, member);
  else
    json_object_set_int_member (obj, member, sqlite3_column_int64 (stmt, col));
}

static void
set_double_member (JsonObject *obj, const char *member, sqlite3_stmt *stmt, int col)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    json_object_set_null_member (obj, member);
  else
    json_object_set_double_member (obj, member, sqlite3_column_double (stmt, col));
}

static gboolean
check_writable (TsqSqliteStorage *self, GError **error)
{
  if (self->read_only)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_READ_ONLY,
                   "the database %s is open read-only", self->path);
      return FALSE;
    }
  return TRUE;
}

/* ---- transactions and batching ---- */

static void
remove_flush_source (TsqSqliteStorage *self)
{
  if (self->flush_source != NULL)
    {
      g_source_destroy (self->flush_source);
      g_clear_pointer (&self->flush_source, g_source_unref);
    }
}

/* The transaction is gone (committed or rolled back): forget the batch. Returns how many pending
 * writes it held. */
static guint
batch_ended (TsqSqliteStorage *self)
{
  guint pending = self->pending;

  self->pending = 0;
  remove_flush_source (self);
  return pending;
}

static void
add_lost_writes (GError **error, guint lost)
{
  if (error != NULL && *error != NULL && lost > 0)
    g_prefix_error (error, "%u pending write(s) were rolled back: ", lost);
}

static gboolean
commit (TsqSqliteStorage *self, GError **error)
{
  guint lost;

  if (sqlite3_get_autocommit (self->db))
    {
      batch_ended (self);
      return TRUE;
    }
  if (exec (self, "COMMIT", "cannot commit to the database", error))
    {
      batch_ended (self);
      return TRUE;
    }
  /* A failed COMMIT may leave the transaction open (e.g. SQLITE_BUSY); do not keep holding the
   * write lock with an unknown outcome. */
  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  lost = batch_ended (self);
  add_lost_writes (error, lost);
  return FALSE;
}

static gboolean
flush_timeout_cb (gpointer user_data)
{
  TsqSqliteStorage *self = user_data;
  g_autoptr (GError) error = NULL;

  /* The source is being dispatched; dropping our reference is safe. */
  g_clear_pointer (&self->flush_source, g_source_unref);
  /* Half a group must never become durable: the group's commit takes the batch with it. */
  if (self->in_group)
    return G_SOURCE_REMOVE;
  if (!commit (self, &error))
    {
      g_warning ("automatic commit of %s failed: %s", self->path, error->message);
      g_clear_error (&self->deferred_error);
      self->deferred_error = g_steal_pointer (&error);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (TsqSqliteStorage *self)
{
  g_autoptr (GMainContext) context = NULL;

  if (self->flush_source != NULL)
    return;
  context = g_main_context_ref_thread_default ();
  self->flush_source = g_timeout_source_new (TSQ_SQLITE_STORAGE_BATCH_MAX_DELAY_MS);
  g_source_set_name (self->flush_source, "[tsq] sqlite batch commit");
  g_source_set_callback (self->flush_source, flush_timeout_cb, self, NULL);
  g_source_attach (self->flush_source, context);
}

/* A write inside an atomic group failed (or was refused): the group is doomed, so that a caller
 * who ignores the error cannot commit an alert without its notification. */
static void
fail_group (TsqSqliteStorage *self, GError **error)
{
  if (!self->in_group || self->group_failed)
    return;
  self->group_failed = TRUE;
  g_clear_error (&self->group_error);
  if (error != NULL && *error != NULL)
    self->group_error = g_error_copy (*error);
  else
    self->group_error = g_error_new_literal (TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FAILED,
                                             "a write in the transaction failed");
}

/* Starts one write: the batch transaction (if none is open) and a savepoint for this write. */
static gboolean
op_begin (TsqSqliteStorage *self, GError **error)
{
  if (!check_writable (self, error))
    return FALSE;
  if (self->in_group && (self->group_failed || sqlite3_get_autocommit (self->db)))
    {
      /* Starting a fresh transaction here would commit the rest of the group on its own. */
      fail_group (self, NULL);
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FAILED,
                   "an earlier write in this transaction failed (%s); roll it back",
                   self->group_error->message);
      return FALSE;
    }
  if (sqlite3_get_autocommit (self->db))
    {
      /* IMMEDIATE takes the write lock now (waiting up to busy_timeout), so a later write in
       * this transaction cannot fail with SQLITE_BUSY_SNAPSHOT. */
      if (!exec (self, "BEGIN IMMEDIATE", "cannot start a database transaction", error))
        return FALSE;
      self->pending = 0;
    }
  if (!exec (self, "SAVEPOINT tsq_op", "cannot start a database write", error))
    {
      if (sqlite3_get_autocommit (self->db) == 0 && self->pending == 0)
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  return TRUE;
}

/* Ends one write started by op_begin(): on failure undoes just this write; on success counts
 * it into the batch (batched) or commits everything now. */
static gboolean
op_end (TsqSqliteStorage *self, gboolean ok, gboolean batched, GError **error)
{
  if (!ok)
    {
      if (!sqlite3_get_autocommit (self->db))
        {
          sqlite3_exec (self->db, "ROLLBACK TO tsq_op", NULL, NULL, NULL);
          sqlite3_exec (self->db, "RELEASE tsq_op", NULL, NULL, NULL);
          if (self->in_group)
            fail_group (self, error);
          else if (self->pending == 0)
            {
              /* Nothing else in the transaction: do not hold the write lock for nothing. */
              sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
              batch_ended (self);
            }
          else if (!batched)
            {
              /* A non-batched write commits the batch either way; keep the promise that
               * pending writes are committed by the time this returns. */
              g_autoptr (GError) commit_error = NULL;

              if (!commit (self, &commit_error))
                g_warning ("commit of %s failed: %s", self->path, commit_error->message);
            }
        }
      else
        {
          /* SQLite rolled back the whole transaction (disk full, I/O error). */
          add_lost_writes (error, batch_ended (self));
          fail_group (self, error);
        }
      return FALSE;
    }

  if (!exec (self, "RELEASE tsq_op", "cannot finish a database write", error))
    {
      if (sqlite3_get_autocommit (self->db))
        {
          add_lost_writes (error, batch_ended (self));
          fail_group (self, error);
        }
      return FALSE;
    }
  if (self->in_group)
    {
      self->pending++;
      return TRUE;
    }
  if (!batched)
    return commit (self, error);
  self->pending++;
  if (self->pending >= TSQ_SQLITE_STORAGE_BATCH_MAX_OPS)
    return commit (self, error);
  schedule_flush (self);
  return TRUE;
}

/* ---- atomic groups ---- */

static gboolean
sqlite_transaction_begin (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (self->in_group)
    {
      g_set_error_literal (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                           "a storage transaction is already open (they do not nest)");
      return FALSE;
    }
  if (!check_writable (self, error))
    return FALSE;
  if (sqlite3_get_autocommit (self->db))
    {
      if (!exec (self, "BEGIN IMMEDIATE", "cannot start a database transaction", error))
        return FALSE;
      self->pending = 0;
    }
  if (!exec (self, "SAVEPOINT tsq_group", "cannot start a database transaction", error))
    {
      if (!sqlite3_get_autocommit (self->db) && self->pending == 0)
        {
          sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
          batch_ended (self);
        }
      return FALSE;
    }
  self->in_group = TRUE;
  self->group_failed = FALSE;
  g_clear_error (&self->group_error);
  self->pending_before_group = self->pending;
  return TRUE;
}

static void
sqlite_transaction_rollback (TsqStorage *s)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!self->in_group)
    return;
  self->in_group = FALSE;
  if (sqlite3_get_autocommit (self->db))
    {
      batch_ended (self);
      return;
    }
  sqlite3_exec (self->db, "ROLLBACK TO tsq_group", NULL, NULL, NULL);
  sqlite3_exec (self->db, "RELEASE tsq_group", NULL, NULL, NULL);
  self->pending = self->pending_before_group;
  if (self->pending == 0)
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      batch_ended (self);
    }
  else
    schedule_flush (self);
}

static gboolean
sqlite_transaction_commit (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!self->in_group)
    {
      g_set_error_literal (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                           "no storage transaction is open");
      return FALSE;
    }
  if (self->group_failed || sqlite3_get_autocommit (self->db))
    {
      fail_group (self, NULL);
      sqlite_transaction_rollback (s);
      /* Same code as the first failure (FULL stays FULL). */
      g_set_error (error, TSQ_STORAGE_ERROR, self->group_error->code,
                   "the transaction was rolled back, nothing of it was stored: %s",
                   self->group_error->message);
      g_clear_error (&self->group_error);
      return FALSE;
    }
  self->in_group = FALSE;
  if (!exec (self, "RELEASE tsq_group", "cannot commit to the database", error))
    {
      self->in_group = TRUE;
      sqlite_transaction_rollback (s);
      return FALSE;
    }
  return commit (self, error);
}

/* Claims and similar calls promise that what they return is committed. */
static gboolean
check_not_in_group (TsqSqliteStorage *self, const char *what, GError **error)
{
  if (self->in_group)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                   "%s is not allowed inside a storage transaction", what);
      return FALSE;
    }
  return TRUE;
}

/* ---- monitors ---- */

static TsqMonitor *
monitor_from_row (sqlite3_stmt *stmt)
{
  TsqMonitor *m = tsq_monitor_new (NULL, NULL, NULL);
  g_autoptr (JsonNode) config = NULL;
  g_autoptr (JsonNode) rules = NULL;

  g_free (m->id);
  g_free (m->organization_id);
  m->id = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  m->organization_id = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
  m->name = g_strdup ((const char *)sqlite3_column_text (stmt, 2));
  m->url = g_strdup ((const char *)sqlite3_column_text (stmt, 3));
  m->schedule = g_strdup ((const char *)sqlite3_column_text (stmt, 4));
  config = column_json (stmt, 5);
  if (config != NULL && JSON_NODE_HOLDS_OBJECT (config))
    {
      json_object_unref (m->scan_config);
      m->scan_config = json_object_ref (json_node_get_object (config));
    }
  rules = column_json (stmt, 6);
  if (rules != NULL && JSON_NODE_HOLDS_ARRAY (rules))
    {
      json_array_unref (m->alert_rules);
      m->alert_rules = json_array_ref (json_node_get_array (rules));
    }
  m->enabled = sqlite3_column_int (stmt, 7) != 0;
  m->created_at = sqlite3_column_int64 (stmt, 8);
  m->updated_at = sqlite3_column_int64 (stmt, 9);
  m->last_run_us = sqlite3_column_int64 (stmt, 10);
  m->next_run_us = sqlite3_column_int64 (stmt, 11);
  return m;
}

static gboolean
monitor_exists (TsqSqliteStorage *self, const char *id, GError **error)
{
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self, "SELECT 1 FROM monitoring_configs WHERE id = ?", error);
  gboolean found;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  if (!step_row (self, stmt, &found, "cannot look up a monitor", error))
    return FALSE;
  if (!found)
    g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND, "no monitor with id “%s”",
                 id);
  return found;
}

static gboolean
sqlite_put_monitor (TsqStorage *s, TsqMonitor *m, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autofree char *config = NULL;
  g_autofree char *rules = NULL;
  gboolean ok;

  if (m->id == NULL || m->name == NULL || m->url == NULL || m->schedule == NULL)
    {
      g_set_error_literal (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                           "a monitor needs an id, a name, a url and a schedule");
      return FALSE;
    }
  if (!op_begin (self, error))
    return FALSE;

  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self,
                 "INSERT INTO monitoring_configs (" MONITOR_COLUMNS ") "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
                 "ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, "
                 "name = excluded.name, url = excluded.url, schedule = excluded.schedule, "
                 "scan_config = excluded.scan_config, alert_rules = excluded.alert_rules, "
                 "enabled = excluded.enabled, updated_at = excluded.updated_at, "
                 "last_run_us = excluded.last_run_us, next_run_us = excluded.next_run_us",
                 error);

    ok = stmt != NULL;
    if (ok)
      {
        gint64 now = g_get_real_time ();

        config = object_to_text (m->scan_config);
        rules = array_to_text (m->alert_rules);
        sqlite3_bind_text (stmt, 1, m->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (
          stmt, 2, m->organization_id ? m->organization_id : TSQ_MONITOR_DEFAULT_ORGANIZATION, -1,
          SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 3, m->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 4, m->url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 5, m->schedule, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 6, config ? config : "{}", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 7, rules ? rules : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int (stmt, 8, m->enabled ? 1 : 0);
        sqlite3_bind_int64 (stmt, 9, m->created_at ? m->created_at : now);
        sqlite3_bind_int64 (stmt, 10, now);
        sqlite3_bind_int64 (stmt, 11, m->last_run_us);
        sqlite3_bind_int64 (stmt, 12, m->next_run_us);
        ok = step_done (self, stmt, "cannot store the monitor", error);
        if (ok)
          m->updated_at = now;
      }
  }
  self->revision_stale = TRUE;
  return op_end (self, ok, FALSE, error);
}

static TsqMonitor *
sqlite_get_monitor (TsqStorage *s, const char *ref, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  static const char *const queries[] = {
    "SELECT " MONITOR_COLUMNS " FROM monitoring_configs WHERE id = ?1",
    "SELECT " MONITOR_COLUMNS " FROM monitoring_configs WHERE name = ?1 LIMIT 2",
    "SELECT " MONITOR_COLUMNS " FROM monitoring_configs "
    "WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2",
  };
  guint i;

  if (*ref == '\0')
    {
      g_set_error_literal (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                           "no monitor with an empty name");
      return NULL;
    }
  for (i = 0; i < G_N_ELEMENTS (queries); i++)
    {
      g_autoptr (TsqCachedStmt) stmt = prepare (self, queries[i], error);
      g_autoptr (TsqMonitor) m = NULL;
      gboolean row;

      if (stmt == NULL)
        return NULL;
      sqlite3_bind_text (stmt, 1, ref, -1, SQLITE_TRANSIENT);
      if (!step_row (self, stmt, &row, "cannot look up the monitor", error))
        return NULL;
      if (!row)
        continue;
      m = monitor_from_row (stmt);
      if (!step_row (self, stmt, &row, "cannot look up the monitor", error))
        return NULL;
      if (row)
        {
          g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_AMBIGUOUS,
                       "“%s” matches several monitors; use more of the id", ref);
          return NULL;
        }
      return g_steal_pointer (&m);
    }
  g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
               "no monitor with id, id prefix or name “%s”", ref);
  return NULL;
}

static GPtrArray *
sqlite_list_monitors (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt = prepare (
    self, "SELECT " MONITOR_COLUMNS " FROM monitoring_configs ORDER BY name, created_at, id",
    error);
  g_autoptr (GPtrArray) list = NULL;
  gboolean row;

  if (stmt == NULL)
    return NULL;
  list = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_monitor_unref);
  for (;;)
    {
      if (!step_row (self, stmt, &row, "cannot list the monitors", error))
        return NULL;
      if (!row)
        break;
      g_ptr_array_add (list, monitor_from_row (stmt));
    }
  return g_steal_pointer (&list);
}

static gboolean
sqlite_delete_monitor (TsqStorage *s, const char *id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "DELETE FROM monitoring_configs WHERE id = ?", error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
        ok = step_done (self, stmt, "cannot delete the monitor", error);
      }
    if (ok && sqlite3_changes (self->db) == 0)
      {
        g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                     "no monitor with id “%s”", id);
        ok = FALSE;
      }
  }
  self->revision_stale = TRUE;
  return op_end (self, ok, FALSE, error);
}

static gboolean
sqlite_set_monitor_run_state (
  TsqStorage *s, const char *id, gint64 last_run_us, gint64 next_run_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self, "UPDATE monitoring_configs SET last_run_us = ?, next_run_us = ? WHERE id = ?", error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_int64 (stmt, 1, last_run_us);
        sqlite3_bind_int64 (stmt, 2, next_run_us);
        sqlite3_bind_text (stmt, 3, id, -1, SQLITE_TRANSIENT);
        ok = step_done (self, stmt, "cannot store the monitor's run state", error);
      }
    if (ok && sqlite3_changes (self->db) == 0)
      {
        g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                     "no monitor with id “%s”", id);
        ok = FALSE;
      }
  }
  return op_end (self, ok, TRUE, error);
}

static gint64
sqlite_get_monitors_revision (TsqStorage *s)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (GError) error = NULL;
  gint64 data_version;
  gboolean row;

  /* data_version changes when another connection commits anything; our own changes mark the
   * cache stale. Only then is the revision row read. */
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (self, "PRAGMA data_version", &error);

    if (stmt == NULL || !step_row (self, stmt, &row, "cannot read data_version", &error) || !row)
      goto fail;
    data_version = sqlite3_column_int64 (stmt, 0);
  }
  if (!self->revision_stale && data_version == self->data_version)
    return self->cached_revision;
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "SELECT rev FROM monitors_revision WHERE id = 1", &error);

    if (stmt == NULL || !step_row (self, stmt, &row, "cannot read the revision", &error) || !row)
      goto fail;
    self->cached_revision = sqlite3_column_int64 (stmt, 0);
  }
  self->data_version = data_version;
  self->revision_stale = FALSE;
  return self->cached_revision;

fail:
  g_debug ("monitors revision unavailable: %s", error ? error->message : "no row");
  return -1;
}

/* ---- scans ---- */

static gint64
sqlite_begin_scan (TsqStorage *s, const char *monitor_id, gint64 started_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gint64 id = -1;
  gboolean ok;

  if (!op_begin (self, error))
    return -1;
  ok = monitor_exists (self, monitor_id, error);
  if (ok)
    {
      g_autoptr (TsqCachedStmt) stmt = prepare (
        self, "INSERT INTO scan_results (monitor_id, started_at, state) VALUES (?, ?, 'running')",
        error);

      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
          sqlite3_bind_int64 (stmt, 2, started_us);
          ok = step_done (self, stmt, "cannot store the scan", error);
          id = sqlite3_last_insert_rowid (self->db);
        }
    }
  if (!op_end (self, ok, TRUE, error))
    return -1;
  return id;
}

static gboolean
json_has_error (JsonObject *result)
{
  return result != NULL && json_object_has_member (result, "error")
         && !JSON_NODE_HOLDS_NULL (json_object_get_member (result, "error"));
}

/* Binds member of obj as a double, or NULL when absent / not a number. */
static void
bind_json_double (sqlite3_stmt *stmt, int idx, JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && (json_node_get_value_type (node) == G_TYPE_DOUBLE
          || json_node_get_value_type (node) == G_TYPE_INT64))
    sqlite3_bind_double (stmt, idx, json_node_get_double (node));
  else
    sqlite3_bind_null (stmt, idx);
}

static void
bind_json_int (sqlite3_stmt *stmt, int idx, JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && (json_node_get_value_type (node) == G_TYPE_DOUBLE
          || json_node_get_value_type (node) == G_TYPE_INT64))
    sqlite3_bind_int64 (stmt, idx, json_node_get_int (node));
  else
    sqlite3_bind_null (stmt, idx);
}

static gboolean
finish_scan_rows (TsqSqliteStorage *self, gint64 scan_id, JsonObject *result, GError **error)
{
  g_autofree char *monitor_id = NULL;
  g_autofree char *text = NULL;
  JsonObject *timings = tsq_json_get_object (result, "timings");
  JsonObject *size = tsq_json_get_object (result, "size");
  JsonArray *techs = tsq_json_get_array (result, "technologies");
  gboolean failed = json_has_error (result);
  gint64 status = tsq_json_get_int (result, "status", -1);
  gint64 started_at;
  gboolean row;

  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "SELECT monitor_id, started_at FROM scan_results WHERE id = ?", error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, scan_id);
    if (!step_row (self, stmt, &row, "cannot look up the scan", error))
      return FALSE;
    if (!row)
      {
        g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                     "no scan with id %" G_GINT64_FORMAT, scan_id);
        return FALSE;
      }
    monitor_id = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
    started_at = sqlite3_column_int64 (stmt, 1);
  }

  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self,
      "UPDATE scan_results SET finished_at = ?1, state = ?2, status_code = ?3, error_kind = ?4, "
      "total_ms = ?5, ttfb_ms = ?6, bytes = ?7, tech_count = ?8, content_hash = ?9, result = ?10 "
      "WHERE id = ?11",
      error);

    if (stmt == NULL)
      return FALSE;
    text = object_to_text (result);
    sqlite3_bind_int64 (stmt, 1, g_get_real_time ());
    /* A scan cut short by shutdown is stored as interrupted: it says nothing about the site. */
    sqlite3_bind_text (stmt, 2,
                       tsq_json_get_boolean (result, "interrupted", FALSE) ? "interrupted"
                       : failed                                            ? "failed"
                                                                           : "completed",
                       -1, SQLITE_STATIC);
    if (status >= 0)
      sqlite3_bind_int64 (stmt, 3, status);
    bind_text_or_null (
      stmt, 4,
      failed ? tsq_json_get_string (tsq_json_get_object (result, "error"), "kind", "internal")
             : NULL);
    bind_json_double (stmt, 5, timings, "total_ms");
    bind_json_double (stmt, 6, timings, "ttfb_ms");
    bind_json_int (stmt, 7, size, "bytes");
    if (techs != NULL)
      sqlite3_bind_int64 (stmt, 8, json_array_get_length (techs));
    bind_text_or_null (stmt, 9,
                       tsq_json_get_string (tsq_json_get_object (result, "content"), "hash", NULL));
    sqlite3_bind_text (stmt, 10, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 11, scan_id);
    if (!step_done (self, stmt, "cannot store the scan result", error))
      return FALSE;
  }

  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "DELETE FROM performance_metrics WHERE scan_id = ?", error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, scan_id);
    if (!step_done (self, stmt, "cannot store the scan metrics", error))
      return FALSE;
  }
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self,
      "INSERT INTO performance_metrics (monitor_id, scan_id, ts, good, dns_ms, connect_ms, tls_ms,"
      " ttfb_ms, total_ms, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, scan_id);
    sqlite3_bind_int64 (stmt, 3, started_at);
    /* Only good scans feed performance baselines: errors and HTTP errors have meaningless
     * timings. */
    sqlite3_bind_int (stmt, 4, !failed && status >= 200 && status < 400);
    bind_json_double (stmt, 5, timings, "dns_ms");
    bind_json_double (stmt, 6, timings, "connect_ms");
    bind_json_double (stmt, 7, timings, "tls_ms");
    bind_json_double (stmt, 8, timings, "ttfb_ms");
    bind_json_double (stmt, 9, timings, "total_ms");
    bind_json_int (stmt, 10, size, "bytes");
    if (!step_done (self, stmt, "cannot store the scan metrics", error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
sqlite_finish_scan (TsqStorage *s, gint64 scan_id, JsonObject *result, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  ok = finish_scan_rows (self, scan_id, result, error);
  return op_end (self, ok, TRUE, error);
}

static gint64
sqlite_mark_interrupted_scans (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gint64 count = 0;
  gboolean ok;

  if (!op_begin (self, error))
    return -1;
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self,
      "UPDATE scan_results SET state = 'interrupted', finished_at = ? WHERE state = 'running'",
      error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_int64 (stmt, 1, g_get_real_time ());
        ok = step_done (self, stmt, "cannot mark interrupted scans", error);
        count = sqlite3_changes (self->db);
      }
  }
  if (!op_end (self, ok, FALSE, error))
    return -1;
  return count;
}

static JsonObject *
sqlite_get_last_result (TsqStorage *s, const char *monitor_id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self,
               "SELECT result FROM scan_results WHERE monitor_id = ? AND state = 'completed' "
               "AND result IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 1",
               error);
  gboolean row;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
  if (!step_row (self, stmt, &row, "cannot read the last scan result", error) || !row)
    return NULL;
  return column_json_object (stmt, 0);
}

static JsonObject *
scan_summary_from_row (sqlite3_stmt *stmt)
{
  JsonObject *obj = json_object_new ();

  json_object_set_int_member (obj, "id", sqlite3_column_int64 (stmt, 0));
  set_text_member (obj, "monitor_id", stmt, 1);
  set_time_member (obj, "started_at", stmt, 2);
  set_time_member (obj, "finished_at", stmt, 3);
  set_text_member (obj, "state", stmt, 4);
  set_int_member (obj, "status", stmt, 5);
  set_text_member (obj, "error_kind", stmt, 6);
  set_double_member (obj, "total_ms", stmt, 7);
  set_double_member (obj, "ttfb_ms", stmt, 8);
  set_int_member (obj, "bytes", stmt, 9);
  set_int_member (obj, "technologies", stmt, 10);
  set_text_member (obj, "content_hash", stmt, 11);
  return obj;
}

/* Runs a prepared query and collects one JsonObject per row. */
static GPtrArray *
collect_rows (TsqSqliteStorage *self,
              sqlite3_stmt *stmt,
              JsonObject *(*from_row) (sqlite3_stmt *),
              const char *context,
              GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  gboolean row;

  for (;;)
    {
      if (!step_row (self, stmt, &row, context, error))
        return NULL;
      if (!row)
        break;
      g_ptr_array_add (list, from_row (stmt));
    }
  return g_steal_pointer (&list);
}

static gint64
sql_limit (guint limit)
{
  return limit == 0 ? -1 : (gint64)limit;
}

static GPtrArray *
sqlite_list_scans (
  TsqStorage *s, const char *monitor_id, gint64 since_us, guint limit, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  /* Two statements rather than "?1 IS NULL OR monitor_id = ?1", which defeats the index. */
  g_autoptr (TsqCachedStmt) stmt = prepare (
    self,
    monitor_id != NULL ? "SELECT " SCAN_COLUMNS
                         " FROM scan_results WHERE monitor_id = ?3 AND started_at >= ?1 "
                         "ORDER BY started_at DESC, id DESC LIMIT ?2"
                       : "SELECT " SCAN_COLUMNS " FROM scan_results WHERE started_at >= ?1 "
                         "ORDER BY started_at DESC, id DESC LIMIT ?2",
    error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, since_us);
  sqlite3_bind_int64 (stmt, 2, sql_limit (limit));
  if (monitor_id != NULL)
    sqlite3_bind_text (stmt, 3, monitor_id, -1, SQLITE_TRANSIENT);
  return collect_rows (self, stmt, scan_summary_from_row, "cannot list scans", error);
}

static JsonObject *
sqlite_get_scan (TsqStorage *s, gint64 scan_id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self, "SELECT " SCAN_COLUMNS ", result FROM scan_results WHERE id = ?", error);
  JsonObject *obj;
  gboolean row;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, scan_id);
  if (!step_row (self, stmt, &row, "cannot read the scan", error))
    return NULL;
  if (!row)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                   "no scan with id %" G_GINT64_FORMAT, scan_id);
      return NULL;
    }
  obj = scan_summary_from_row (stmt);
  set_json_member (obj, "result", stmt, 12);
  return obj;
}

static GArray *
sqlite_recent_metric (
  TsqStorage *s, const char *monitor_id, const char *metric, guint n, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  static const char *const metrics[] = {
    "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms", "bytes",
  };
  g_autofree char *sql = NULL;
  g_autoptr (GArray) values = NULL;
  gboolean known = FALSE;
  gboolean row;
  guint i;

  /* The column name goes into the SQL text, so only known names are accepted. */
  for (i = 0; i < G_N_ELEMENTS (metrics); i++)
    known = known || g_str_equal (metric, metrics[i]);
  if (!known)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID, "unknown metric “%s”",
                   metric);
      return NULL;
    }
  sql = g_strdup_printf ("SELECT v FROM (SELECT %s AS v, ts, id FROM performance_metrics "
                         "WHERE monitor_id = ? AND good = 1 AND %s IS NOT NULL "
                         "ORDER BY ts DESC, id DESC LIMIT ?) ORDER BY ts, id",
                         metric, metric);
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (self, sql, error);

    if (stmt == NULL)
      return NULL;
    sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, n);
    values = g_array_new (FALSE, FALSE, sizeof (double));
    for (;;)
      {
        double v;

        if (!step_row (self, stmt, &row, "cannot read metrics", error))
          return NULL;
        if (!row)
          break;
        v = sqlite3_column_double (stmt, 0);
        g_array_append_val (values, v);
      }
  }
  return g_steal_pointer (&values);
}

/* ---- detector state ---- */

static gboolean
sqlite_put_monitor_state (TsqStorage *s, const char *monitor_id, JsonObject *state, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  ok = monitor_exists (self, monitor_id, error);
  if (ok)
    {
      g_autoptr (TsqCachedStmt) stmt
        = prepare (self,
                   "INSERT INTO monitor_state (monitor_id, state, updated_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (monitor_id) DO UPDATE SET state = excluded.state, "
                   "updated_at = excluded.updated_at",
                   error);
      g_autofree char *text = object_to_text (state);

      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
          sqlite3_bind_text (stmt, 2, text, -1, SQLITE_TRANSIENT);
          sqlite3_bind_int64 (stmt, 3, g_get_real_time ());
          ok = step_done (self, stmt, "cannot store the monitor state", error);
        }
    }
  return op_end (self, ok, TRUE, error);
}

static JsonObject *
sqlite_get_monitor_state (TsqStorage *s, const char *monitor_id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self, "SELECT state FROM monitor_state WHERE monitor_id = ?", error);
  gboolean row;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
  if (!step_row (self, stmt, &row, "cannot read the monitor state", error) || !row)
    return NULL;
  return column_json_object (stmt, 0);
}

/* ---- changes ---- */

static gboolean
check_change (JsonNode *node, guint index, GError **error)
{
  JsonObject *obj;
  JsonNode *member;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                   "change %u is not an object", index);
      return FALSE;
    }
  obj = json_node_get_object (node);
  if (tsq_json_get_string (obj, "type", NULL) == NULL)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                   "change %u has no string member “type”", index);
      return FALSE;
    }
  member = json_object_get_member (obj, "subject");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member)
      && tsq_json_get_string (obj, "subject", NULL) == NULL)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                   "change %u: member “subject” must be a string", index);
      return FALSE;
    }
  member = json_object_get_member (obj, "severity");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member)
      && tsq_json_get_string (obj, "severity", NULL) == NULL)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                   "change %u: member “severity” must be a string", index);
      return FALSE;
    }
  return TRUE;
}

static gboolean
insert_changes (TsqSqliteStorage *self,
                const char *monitor_id,
                gint64 scan_id,
                JsonArray *changes,
                GError **error)
{
  g_autoptr (TsqCachedStmt) stmt = NULL;
  gint64 now = g_get_real_time ();
  guint i;

  if (!monitor_exists (self, monitor_id, error))
    return FALSE;
  stmt = prepare (self,
                  "INSERT INTO technology_changes (monitor_id, scan_id, detected_at, change_type, "
                  "subject, old_value, new_value, confidence, evidence, severity) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  error);
  if (stmt == NULL)
    return FALSE;

  for (i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      g_autofree char *old_text = node_to_text (json_object_get_member (change, "old"));
      g_autofree char *new_text = node_to_text (json_object_get_member (change, "new"));
      g_autofree char *evidence = node_to_text (json_object_get_member (change, "evidence"));
      JsonNode *confidence = json_object_get_member (change, "confidence");

      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
      if (scan_id > 0)
        sqlite3_bind_int64 (stmt, 2, scan_id);
      sqlite3_bind_int64 (stmt, 3, now);
      sqlite3_bind_text (stmt, 4, tsq_json_get_string (change, "type", NULL), -1, SQLITE_TRANSIENT);
      bind_text_or_null (stmt, 5, tsq_json_get_string (change, "subject", NULL));
      bind_text_or_null (stmt, 6, old_text);
      bind_text_or_null (stmt, 7, new_text);
      if (confidence != NULL && JSON_NODE_HOLDS_VALUE (confidence))
        sqlite3_bind_double (stmt, 8, tsq_json_get_double (change, "confidence", 0));
      bind_text_or_null (stmt, 9, evidence);
      bind_text_or_null (stmt, 10, tsq_json_get_string (change, "severity", NULL));
      if (!step_done (self, stmt, "cannot store a change", error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
add_changes (
  TsqStorage *s, const char *monitor_id, gint64 scan_id, JsonArray *changes, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  guint n = json_array_get_length (changes);
  gint64 last_id;
  guint i;

  for (i = 0; i < n; i++)
    if (!check_change (json_array_get_element (changes, i), i, error))
      return FALSE;
  if (n == 0)
    return TRUE;
  if (!op_begin (self, error))
    return FALSE;
  if (!insert_changes (self, monitor_id, scan_id, changes, error))
    return op_end (self, FALSE, TRUE, error);

  /* Row ids were assigned consecutively inside this savepoint (we hold the write lock). */
  last_id = sqlite3_last_insert_rowid (self->db);
  for (i = 0; i < n; i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);

      if (!json_object_is_immutable (change))
        json_object_set_int_member (change, "id", last_id - (gint64)(n - 1 - i));
    }
  return op_end (self, TRUE, TRUE, error);
}

static JsonObject *
change_from_row (sqlite3_stmt *stmt)
{
  JsonObject *obj = json_object_new ();

  json_object_set_int_member (obj, "id", sqlite3_column_int64 (stmt, 0));
  set_text_member (obj, "monitor_id", stmt, 1);
  set_text_member (obj, "monitor_name", stmt, 2);
  set_int_member (obj, "scan_id", stmt, 3);
  set_time_member (obj, "detected_at", stmt, 4);
  set_text_member (obj, "type", stmt, 5);
  set_text_member (obj, "subject", stmt, 6);
  set_json_member (obj, "old", stmt, 7);
  set_json_member (obj, "new", stmt, 8);
  set_double_member (obj, "confidence", stmt, 9);
  set_json_member (obj, "evidence", stmt, 10);
  set_text_member (obj, "severity", stmt, 11);
  return obj;
}

static void
reverse_ptr_array (GPtrArray *array)
{
  guint i;

  for (i = 0; i < array->len / 2; i++)
    {
      gpointer tmp = array->pdata[i];

      array->pdata[i] = array->pdata[array->len - 1 - i];
      array->pdata[array->len - 1 - i] = tmp;
    }
}

static GPtrArray *
sqlite_list_changes (TsqStorage *s,
                     const char *monitor_id,
                     gint64 since_us,
                     gint64 after_id,
                     guint limit,
                     GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean follow = after_id > 0;
  g_autofree char *sql = NULL;
  GPtrArray *list;

  /* Following (after_id > 0) wants the next `limit` changes; otherwise the latest `limit`,
   * fetched newest first and reversed. */
  sql
    = g_strdup_printf ("SELECT " CHANGE_COLUMNS " FROM technology_changes c "
                       "JOIN monitoring_configs m ON m.id = c.monitor_id "
                       "WHERE %s c.detected_at >= ?1 AND c.id > ?2 ORDER BY c.id %s LIMIT ?3",
                       monitor_id != NULL ? "c.monitor_id = ?4 AND" : "", follow ? "ASC" : "DESC");
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (self, sql, error);

    if (stmt == NULL)
      return NULL;
    sqlite3_bind_int64 (stmt, 1, since_us);
    sqlite3_bind_int64 (stmt, 2, MAX (after_id, 0));
    sqlite3_bind_int64 (stmt, 3, sql_limit (limit));
    if (monitor_id != NULL)
      sqlite3_bind_text (stmt, 4, monitor_id, -1, SQLITE_TRANSIENT);
    list = collect_rows (self, stmt, change_from_row, "cannot list changes", error);
  }
  if (list != NULL && !follow)
    reverse_ptr_array (list);
  return list;
}

/* ---- alerts ---- */

static const char *const alert_states[] = { "triggered", "acknowledged", "resolved", NULL };
static const char *const severities[] = { "info", "warning", "critical", NULL };
static const char *const outbox_states[] = {
  TSQ_OUTBOX_PENDING, TSQ_OUTBOX_SENDING, TSQ_OUTBOX_DELIVERED, TSQ_OUTBOX_DEAD, NULL,
};

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (
    error, g_error_new_valist (TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID, format, args));
  va_end (args);
  return FALSE;
}

static gboolean
member_is_null (JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  return node == NULL || JSON_NODE_HOLDS_NULL (node);
}

/* *out = the string member, or NULL when absent or null; FALSE (INVALID naming the member and
 * what) for any other type. */
static gboolean
get_opt_string (
  JsonObject *obj, const char *what, const char *member, const char **out, GError **error)
{
  *out = NULL;
  if (member_is_null (obj, member))
    return TRUE;
  *out = tsq_json_get_string (obj, member, NULL);
  if (*out == NULL)
    return invalid (error, "%s member “%s” must be a string", what, member);
  return TRUE;
}

static gboolean
get_req_string (
  JsonObject *obj, const char *what, const char *member, const char **out, GError **error)
{
  if (!get_opt_string (obj, what, member, out, error))
    return FALSE;
  if (*out == NULL || **out == '\0')
    return invalid (error, "%s needs a non-empty string member “%s”", what, member);
  return TRUE;
}

/* Integer (µs) member, or fallback when absent or null. */
static gboolean
get_opt_time (JsonObject *obj,
              const char *what,
              const char *member,
              gint64 fallback,
              gint64 *out,
              GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *out = fallback;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < 0)
    return invalid (error, "%s member “%s” must be a time in unix µs (a non-negative integer)",
                    what, member);
  *out = json_node_get_int (node);
  return TRUE;
}

static gboolean
in_list (const char *value, const char *const *list)
{
  return value != NULL && g_strv_contains (list, value);
}

static gboolean
sqlite_add_alert_row (
  TsqSqliteStorage *self, JsonObject *alert, const char *monitor_id, gint64 *id, GError **error)
{
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self,
               "INSERT INTO monitoring_alerts (monitor_id, change_id, rule_id, subject, severity, "
               "state, first_seen_at, last_seen_at, triggered_at, payload) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7, ?8)",
               error);
  g_autofree char *payload = NULL;
  gint64 change_id = tsq_json_get_int (alert, "change_id", 0);

  if (stmt == NULL)
    return FALSE;
  payload = node_to_text (json_object_get_member (alert, "payload"));
  sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
  if (change_id > 0)
    sqlite3_bind_int64 (stmt, 2, change_id);
  bind_text_or_null (stmt, 3, tsq_json_get_string (alert, "rule_id", NULL));
  bind_text_or_null (stmt, 4, tsq_json_get_string (alert, "subject", NULL));
  bind_text_or_null (stmt, 5, tsq_json_get_string (alert, "severity", NULL));
  sqlite3_bind_text (stmt, 6, tsq_json_get_string (alert, "state", "triggered"), -1,
                     SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 7, tsq_json_get_int (alert, "triggered_at", g_get_real_time ()));
  bind_text_or_null (stmt, 8, payload);
  if (!step_done (self, stmt, "cannot store the alert", error))
    return FALSE;
  *id = sqlite3_last_insert_rowid (self->db);
  return TRUE;
}

static gint64
sqlite_add_alert (TsqStorage *s, JsonObject *alert, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  const char *monitor_id = tsq_json_get_string (alert, "monitor_id", NULL);
  gint64 id = -1;
  gboolean ok;

  if (monitor_id == NULL)
    {
      g_set_error_literal (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_INVALID,
                           "an alert needs a string member “monitor_id”");
      fail_group (self, error);
      return -1;
    }
  if (!op_begin (self, error))
    return -1;
  ok = monitor_exists (self, monitor_id, error)
       && sqlite_add_alert_row (self, alert, monitor_id, &id, error);
  if (!op_end (self, ok, FALSE, error))
    return -1;
  return id;
}

/* The validated members of an upsert. */
typedef struct
{
  const char *monitor_id, *rule_id, *subject, *group_key, *change_type, *severity;
  const char *suppression_reason, *escalation_policy;
  gint64 change_id, seen_at;
  char *payload;
} AlertUpsert;

static gboolean
parse_alert_upsert (JsonObject *alert, AlertUpsert *u, GError **error)
{
  const char *what = "an alert";
  JsonNode *change_id = json_object_get_member (alert, "change_id");

  if (!get_req_string (alert, what, "monitor_id", &u->monitor_id, error)
      || !get_req_string (alert, what, "rule_id", &u->rule_id, error)
      || !get_opt_string (alert, what, "subject", &u->subject, error)
      || !get_opt_string (alert, what, "group_key", &u->group_key, error)
      || !get_opt_string (alert, what, "change_type", &u->change_type, error)
      || !get_opt_string (alert, what, "severity", &u->severity, error)
      || !get_opt_string (alert, what, "suppression_reason", &u->suppression_reason, error)
      || !get_opt_string (alert, what, "escalation_policy", &u->escalation_policy, error)
      || !get_opt_time (alert, what, "seen_at", g_get_real_time (), &u->seen_at, error))
    return FALSE;
  if (u->subject == NULL)
    u->subject = "";
  if (u->severity != NULL && !in_list (u->severity, severities))
    return invalid (error, "alert member “severity” must be info, warning or critical, not “%s”",
                    u->severity);
  u->change_id = 0;
  if (change_id != NULL && !JSON_NODE_HOLDS_NULL (change_id))
    {
      if (!JSON_NODE_HOLDS_VALUE (change_id) || json_node_get_value_type (change_id) != G_TYPE_INT64
          || json_node_get_int (change_id) <= 0)
        return invalid (error, "alert member “change_id” must be a positive integer");
      u->change_id = json_node_get_int (change_id);
    }
  u->payload = node_to_text (json_object_get_member (alert, "payload"));
  return TRUE;
}

static void
bind_id_or_null (sqlite3_stmt *stmt, int idx, gint64 id)
{
  if (id > 0)
    sqlite3_bind_int64 (stmt, idx, id);
  else
    sqlite3_bind_null (stmt, idx);
}

/* Finds the open alert with the key; 0 if none, -1 on error. */
static gint64
find_open_alert (TsqSqliteStorage *self, const AlertUpsert *u, GError **error)
{
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self,
               "SELECT id FROM monitoring_alerts WHERE monitor_id = ? AND rule_id = ? "
               "AND subject = ? AND state != 'resolved'",
               error);
  gboolean row;

  if (stmt == NULL)
    return -1;
  sqlite3_bind_text (stmt, 1, u->monitor_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, u->rule_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, u->subject, -1, SQLITE_TRANSIENT);
  if (!step_row (self, stmt, &row, "cannot look up the open alert", error))
    return -1;
  return row ? sqlite3_column_int64 (stmt, 0) : 0;
}

static gboolean
upsert_alert_rows (
  TsqSqliteStorage *self, const AlertUpsert *u, gint64 *id, gboolean *created, GError **error)
{
  gint64 existing;

  if (!monitor_exists (self, u->monitor_id, error))
    return FALSE;
  /* Select then write: we hold the write lock (BEGIN IMMEDIATE), so nobody can insert the same
   * key in between; the unique index would refuse it anyway. */
  existing = find_open_alert (self, u, error);
  if (existing < 0)
    return FALSE;
  if (existing > 0)
    {
      g_autoptr (TsqCachedStmt) stmt = prepare (
        self,
        "UPDATE monitoring_alerts SET count = count + 1, last_seen_at = max(last_seen_at, ?1), "
        "severity = coalesce(?2, severity), payload = coalesce(?3, payload), "
        "suppression_reason = ?4, change_type = coalesce(?5, change_type), "
        "change_id = coalesce(?6, change_id), group_key = coalesce(?7, group_key) WHERE id = ?8",
        error);

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, u->seen_at);
      bind_text_or_null (stmt, 2, u->severity);
      bind_text_or_null (stmt, 3, u->payload);
      bind_text_or_null (stmt, 4, u->suppression_reason);
      bind_text_or_null (stmt, 5, u->change_type);
      bind_id_or_null (stmt, 6, u->change_id);
      bind_text_or_null (stmt, 7, u->group_key);
      sqlite3_bind_int64 (stmt, 8, existing);
      if (!step_done (self, stmt, "cannot update the alert", error))
        return FALSE;
      *id = existing;
      *created = FALSE;
      return TRUE;
    }
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self,
      "INSERT INTO monitoring_alerts (monitor_id, change_id, rule_id, group_key, subject, "
      "change_type, severity, state, first_seen_at, last_seen_at, count, triggered_at, "
      "escalation_policy, payload, suppression_reason) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'triggered', ?8, ?8, 1, ?8, ?9, ?10, ?11)",
      error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_text (stmt, 1, u->monitor_id, -1, SQLITE_TRANSIENT);
    bind_id_or_null (stmt, 2, u->change_id);
    sqlite3_bind_text (stmt, 3, u->rule_id, -1, SQLITE_TRANSIENT);
    bind_text_or_null (stmt, 4, u->group_key);
    sqlite3_bind_text (stmt, 5, u->subject, -1, SQLITE_TRANSIENT);
    bind_text_or_null (stmt, 6, u->change_type);
    sqlite3_bind_text (stmt, 7, u->severity != NULL ? u->severity : "warning", -1,
                       SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 8, u->seen_at);
    bind_text_or_null (stmt, 9, u->escalation_policy);
    bind_text_or_null (stmt, 10, u->payload);
    bind_text_or_null (stmt, 11, u->suppression_reason);
    if (!step_done (self, stmt, "cannot store the alert", error))
      return FALSE;
    *id = sqlite3_last_insert_rowid (self->db);
    *created = TRUE;
  }
  return TRUE;
}

static gint64
sqlite_upsert_open_alert (TsqStorage *s, JsonObject *alert, gboolean *out_created, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  AlertUpsert u = { 0 };
  gint64 id = -1;
  gboolean ok;

  if (!parse_alert_upsert (alert, &u, error))
    {
      g_free (u.payload);
      fail_group (self, error);
      return -1;
    }
  if (!op_begin (self, error))
    {
      g_free (u.payload);
      return -1;
    }
  ok = upsert_alert_rows (self, &u, &id, out_created, error);
  g_free (u.payload);
  if (!op_end (self, ok, FALSE, error))
    {
      *out_created = FALSE;
      return -1;
    }
  return id;
}

static JsonObject *
alert_from_row (sqlite3_stmt *stmt)
{
  JsonObject *obj = json_object_new ();

  json_object_set_int_member (obj, "id", sqlite3_column_int64 (stmt, 0));
  set_text_member (obj, "monitor_id", stmt, 1);
  set_int_member (obj, "change_id", stmt, 2);
  set_text_member (obj, "rule_id", stmt, 3);
  set_text_member (obj, "group_key", stmt, 4);
  set_text_member (obj, "subject", stmt, 5);
  set_text_member (obj, "change_type", stmt, 6);
  set_text_member (obj, "severity", stmt, 7);
  set_text_member (obj, "state", stmt, 8);
  set_time_member (obj, "first_seen_at", stmt, 9);
  set_time_member (obj, "last_seen_at", stmt, 10);
  set_int_member (obj, "count", stmt, 11);
  set_time_member (obj, "triggered_at", stmt, 12);
  set_time_member (obj, "acknowledged_at", stmt, 13);
  set_text_member (obj, "acknowledged_by", stmt, 14);
  set_time_member (obj, "resolved_at", stmt, 15);
  set_text_member (obj, "resolve_reason", stmt, 16);
  set_int_member (obj, "escalation_level", stmt, 17);
  set_text_member (obj, "escalation_policy", stmt, 18);
  set_time_member (obj, "last_notified_at", stmt, 19);
  set_time_member (obj, "next_action_at", stmt, 20);
  set_json_member (obj, "payload", stmt, 21);
  set_text_member (obj, "suppression_reason", stmt, 22);
  return obj;
}

static JsonObject *
sqlite_get_alert (TsqStorage *s, gint64 id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self, "SELECT " ALERT_COLUMNS " FROM monitoring_alerts WHERE id = ?", error);
  gboolean row;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  if (!step_row (self, stmt, &row, "cannot read the alert", error))
    return NULL;
  if (!row)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                   "no alert with id %" G_GINT64_FORMAT, id);
      return NULL;
    }
  return alert_from_row (stmt);
}

static GPtrArray *
sqlite_query_alerts (TsqStorage *s, const TsqAlertFilter *filter, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (GString) sql = g_string_new ("SELECT " ALERT_COLUMNS " FROM monitoring_alerts "
                                          "WHERE triggered_at >= ?1");
  gboolean open = g_strcmp0 (filter->state, "open") == 0;

  if (filter->state != NULL && !open && !in_list (filter->state, alert_states))
    {
      invalid (error, "unknown alert state “%s” (triggered, acknowledged, resolved or open)",
               filter->state);
      return NULL;
    }
  if (filter->severity != NULL && !in_list (filter->severity, severities))
    {
      invalid (error, "unknown severity “%s” (info, warning or critical)", filter->severity);
      return NULL;
    }
  /* Only the filters in use go into the SQL text (each variant is prepared once). */
  if (filter->monitor_id != NULL)
    g_string_append (sql, " AND monitor_id = ?3");
  if (open)
    g_string_append (sql, " AND state != 'resolved'");
  else if (filter->state != NULL)
    g_string_append (sql, " AND state = ?4");
  if (filter->severity != NULL)
    g_string_append (sql, " AND severity = ?5");
  g_string_append (sql, " ORDER BY id DESC LIMIT ?2");
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (self, sql->str, error);

    if (stmt == NULL)
      return NULL;
    sqlite3_bind_int64 (stmt, 1, MAX (filter->since_us, 0));
    sqlite3_bind_int64 (stmt, 2, sql_limit (filter->limit));
    if (filter->monitor_id != NULL)
      sqlite3_bind_text (stmt, 3, filter->monitor_id, -1, SQLITE_TRANSIENT);
    if (filter->state != NULL && !open)
      sqlite3_bind_text (stmt, 4, filter->state, -1, SQLITE_TRANSIENT);
    if (filter->severity != NULL)
      sqlite3_bind_text (stmt, 5, filter->severity, -1, SQLITE_TRANSIENT);
    return collect_rows (self, stmt, alert_from_row, "cannot list alerts", error);
  }
}

static GPtrArray *
sqlite_list_open_alerts (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt = prepare (
    self, "SELECT " ALERT_COLUMNS " FROM monitoring_alerts WHERE state != 'resolved' ORDER BY id",
    error);

  if (stmt == NULL)
    return NULL;
  return collect_rows (self, stmt, alert_from_row, "cannot list open alerts", error);
}

/* Reads an alert's state (and who acknowledged it) inside a write. */
static gboolean
alert_state (TsqSqliteStorage *self, gint64 id, char **state, char **by, GError **error)
{
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self, "SELECT state, acknowledged_by FROM monitoring_alerts WHERE id = ?", error);
  gboolean row;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  if (!step_row (self, stmt, &row, "cannot read the alert", error))
    return FALSE;
  if (!row)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                   "no alert with id %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  *state = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  if (by != NULL)
    *by = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
  return TRUE;
}

static gboolean conflict (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
conflict (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (
    error, g_error_new_valist (TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_CONFLICT, format, args));
  va_end (args);
  return FALSE;
}

static gboolean
ack_alert_row (TsqSqliteStorage *self, gint64 id, const char *by, gint64 at_us, GError **error)
{
  g_autofree char *state = NULL;
  g_autofree char *acked_by = NULL;

  if (!alert_state (self, id, &state, &acked_by, error))
    return FALSE;
  if (g_str_equal (state, "resolved"))
    return conflict (error,
                     "alert %" G_GINT64_FORMAT " is resolved; a resolved alert cannot be "
                     "acknowledged",
                     id);
  if (g_str_equal (state, "acknowledged"))
    return conflict (error, "alert %" G_GINT64_FORMAT " is already acknowledged%s%s", id,
                     acked_by ? " by " : "", acked_by ? acked_by : "");
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self,
                 "UPDATE monitoring_alerts SET state = 'acknowledged', acknowledged_at = ?, "
                 "acknowledged_by = ?, next_action_at = NULL WHERE id = ?",
                 error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, at_us);
    bind_text_or_null (stmt, 2, by);
    sqlite3_bind_int64 (stmt, 3, id);
    return step_done (self, stmt, "cannot acknowledge the alert", error);
  }
}

static gboolean
sqlite_ack_alert (TsqStorage *s, gint64 id, const char *by, gint64 at_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!op_begin (self, error))
    return FALSE;
  return op_end (self, ack_alert_row (self, id, by, at_us, error), FALSE, error);
}

static gboolean
resolve_alert_row (
  TsqSqliteStorage *self, gint64 id, const char *reason, gint64 at_us, GError **error)
{
  g_autofree char *state = NULL;

  if (!alert_state (self, id, &state, NULL, error))
    return FALSE;
  if (g_str_equal (state, "resolved"))
    return conflict (error, "alert %" G_GINT64_FORMAT " is already resolved", id);
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self,
                 "UPDATE monitoring_alerts SET state = 'resolved', resolved_at = ?, "
                 "resolve_reason = ?, next_action_at = NULL WHERE id = ?",
                 error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, at_us);
    bind_text_or_null (stmt, 2, reason);
    sqlite3_bind_int64 (stmt, 3, id);
    return step_done (self, stmt, "cannot resolve the alert", error);
  }
}

static gboolean
sqlite_resolve_alert (TsqStorage *s, gint64 id, const char *reason, gint64 at_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!op_begin (self, error))
    return FALSE;
  return op_end (self, resolve_alert_row (self, id, reason, at_us, error), FALSE, error);
}

static gboolean
escalation_rows (TsqSqliteStorage *self,
                 gint64 id,
                 const char *policy,
                 gint level,
                 gint64 last_notified_us,
                 gint64 next_action_us,
                 GError **error)
{
  g_autofree char *state = NULL;

  if (!alert_state (self, id, &state, NULL, error))
    return FALSE;
  if (g_str_equal (state, "resolved"))
    return conflict (error, "alert %" G_GINT64_FORMAT " is resolved; it has no escalation any more",
                     id);
  {
    /* -1 keeps a column, 0 clears it (NULL), anything else sets it. */
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self,
      "UPDATE monitoring_alerts SET "
      "escalation_policy = CASE WHEN ?1 IS NULL THEN escalation_policy WHEN ?1 = '' THEN NULL "
      "ELSE ?1 END, "
      "escalation_level = CASE WHEN ?2 < 0 THEN escalation_level ELSE ?2 END, "
      "last_notified_at = CASE WHEN ?3 < 0 THEN last_notified_at WHEN ?3 = 0 THEN NULL "
      "ELSE ?3 END, "
      "next_action_at = CASE WHEN ?4 < 0 THEN next_action_at WHEN ?4 = 0 THEN NULL ELSE ?4 END "
      "WHERE id = ?5",
      error);

    if (stmt == NULL)
      return FALSE;
    bind_text_or_null (stmt, 1, policy);
    sqlite3_bind_int (stmt, 2, level);
    sqlite3_bind_int64 (stmt, 3, last_notified_us);
    sqlite3_bind_int64 (stmt, 4, next_action_us);
    sqlite3_bind_int64 (stmt, 5, id);
    return step_done (self, stmt, "cannot store the alert's escalation", error);
  }
}

static gboolean
sqlite_set_alert_escalation (TsqStorage *s,
                             gint64 id,
                             const char *policy,
                             gint level,
                             gint64 last_notified_us,
                             gint64 next_action_us,
                             GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  ok = escalation_rows (self, id, policy, level, last_notified_us, next_action_us, error);
  return op_end (self, ok, FALSE, error);
}

/* ---- silences ---- */

static gint64
add_silence (TsqStorage *s, JsonObject *silence, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  const char *what = "a silence";
  const char *created_by, *comment;
  JsonArray *matchers = tsq_json_get_array (silence, "matchers");
  g_autofree char *matchers_text = NULL;
  gint64 now = g_get_real_time ();
  gint64 starts_at, ends_at, id = -1;
  gboolean ok;
  guint i;

  if (matchers == NULL)
    {
      invalid (error, "a silence needs an array member “matchers”");
      return -1;
    }
  for (i = 0; i < json_array_get_length (matchers); i++)
    if (!JSON_NODE_HOLDS_OBJECT (json_array_get_element (matchers, i)))
      {
        invalid (error, "silence member “matchers”: element %u is not an object", i);
        return -1;
      }
  if (!get_opt_time (silence, what, "starts_at", now, &starts_at, error)
      || !get_opt_time (silence, what, "ends_at", -1, &ends_at, error)
      || !get_opt_string (silence, what, "created_by", &created_by, error)
      || !get_opt_string (silence, what, "comment", &comment, error))
    return -1;
  if (ends_at < 0)
    {
      invalid (error, "a silence needs a member “ends_at” (unix µs)");
      return -1;
    }
  if (ends_at <= starts_at)
    {
      invalid (error, "silence member “ends_at” must be after “starts_at”");
      return -1;
    }
  matchers_text = array_to_text (matchers);
  if (!op_begin (self, error))
    return -1;
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self,
                 "INSERT INTO alert_silences (matchers, starts_at, ends_at, created_by, comment, "
                 "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                 error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_text (stmt, 1, matchers_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 2, starts_at);
        sqlite3_bind_int64 (stmt, 3, ends_at);
        bind_text_or_null (stmt, 4, created_by);
        bind_text_or_null (stmt, 5, comment);
        sqlite3_bind_int64 (stmt, 6, now);
        ok = step_done (self, stmt, "cannot store the silence", error);
        id = sqlite3_last_insert_rowid (self->db);
      }
  }
  if (!op_end (self, ok, FALSE, error))
    return -1;
  return id;
}

static GPtrArray *
sqlite_list_silences (TsqStorage *s, gboolean include_expired, gint64 now_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt = prepare (
    self,
    include_expired ? "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at, "
                      "expired_at FROM alert_silences ORDER BY starts_at, id"
                    : "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at, "
                      "expired_at FROM alert_silences WHERE expired_at IS NULL AND ends_at > ?1 "
                      "ORDER BY starts_at, id",
    error);
  g_autoptr (GPtrArray) list = NULL;
  gboolean row;

  if (stmt == NULL)
    return NULL;
  if (!include_expired)
    sqlite3_bind_int64 (stmt, 1, now_us);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  for (;;)
    {
      JsonObject *obj;
      const char *state;

      if (!step_row (self, stmt, &row, "cannot list silences", error))
        return NULL;
      if (!row)
        break;
      obj = json_object_new ();
      json_object_set_int_member (obj, "id", sqlite3_column_int64 (stmt, 0));
      set_json_member (obj, "matchers", stmt, 1);
      set_time_member (obj, "starts_at", stmt, 2);
      set_time_member (obj, "ends_at", stmt, 3);
      set_text_member (obj, "created_by", stmt, 4);
      set_text_member (obj, "comment", stmt, 5);
      set_time_member (obj, "created_at", stmt, 6);
      set_time_member (obj, "expired_at", stmt, 7);
      if (sqlite3_column_type (stmt, 7) != SQLITE_NULL || sqlite3_column_int64 (stmt, 3) <= now_us)
        state = "expired";
      else if (sqlite3_column_int64 (stmt, 2) > now_us)
        state = "pending";
      else
        state = "active";
      json_object_set_string_member (obj, "state", state);
      g_ptr_array_add (list, obj);
    }
  return g_steal_pointer (&list);
}

static gboolean
expire_silence_row (TsqSqliteStorage *self, gint64 id, gint64 now_us, GError **error)
{
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "SELECT expired_at, ends_at FROM alert_silences WHERE id = ?", error);
    gboolean row;

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, id);
    if (!step_row (self, stmt, &row, "cannot read the silence", error))
      return FALSE;
    if (!row)
      {
        g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                     "no silence with id %" G_GINT64_FORMAT, id);
        return FALSE;
      }
    if (sqlite3_column_type (stmt, 0) != SQLITE_NULL || sqlite3_column_int64 (stmt, 1) <= now_us)
      return conflict (error, "silence %" G_GINT64_FORMAT " has already expired", id);
  }
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "UPDATE alert_silences SET expired_at = ? WHERE id = ?", error);

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, now_us);
    sqlite3_bind_int64 (stmt, 2, id);
    return step_done (self, stmt, "cannot expire the silence", error);
  }
}

static gboolean
sqlite_expire_silence (TsqStorage *s, gint64 id, gint64 now_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!op_begin (self, error))
    return FALSE;
  return op_end (self, expire_silence_row (self, id, now_us, error), FALSE, error);
}

/* ---- maintenance windows ---- */

static gint64
add_maintenance (TsqStorage *s, JsonObject *window, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  const char *what = "a maintenance window";
  const char *monitor_id, *created_by, *comment;
  JsonNode *definition = json_object_get_member (window, "definition");
  g_autofree char *text = NULL;
  gint64 id = -1;
  gboolean ok;

  if (!get_opt_string (window, what, "monitor_id", &monitor_id, error)
      || !get_opt_string (window, what, "created_by", &created_by, error)
      || !get_opt_string (window, what, "comment", &comment, error))
    return -1;
  if (monitor_id == NULL)
    {
      invalid (error, "a maintenance window needs a string member “monitor_id”");
      return -1;
    }
  if (definition == NULL || !JSON_NODE_HOLDS_OBJECT (definition))
    {
      invalid (error, "a maintenance window needs an object member “definition”");
      return -1;
    }
  text = object_to_text (json_node_get_object (definition));
  if (!op_begin (self, error))
    return -1;
  ok = monitor_exists (self, monitor_id, error);
  if (ok)
    {
      g_autoptr (TsqCachedStmt) stmt
        = prepare (self,
                   "INSERT INTO alert_maintenance (monitor_id, definition, created_by, comment, "
                   "created_at) VALUES (?, ?, ?, ?, ?)",
                   error);

      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
          sqlite3_bind_text (stmt, 2, text, -1, SQLITE_TRANSIENT);
          bind_text_or_null (stmt, 3, created_by);
          bind_text_or_null (stmt, 4, comment);
          sqlite3_bind_int64 (stmt, 5, g_get_real_time ());
          ok = step_done (self, stmt, "cannot store the maintenance window", error);
          id = sqlite3_last_insert_rowid (self->db);
        }
    }
  if (!op_end (self, ok, FALSE, error))
    return -1;
  return id;
}

static gint64
sqlite_add_maintenance (TsqStorage *s, JsonObject *window, GError **error)
{
  gint64 id = add_maintenance (s, window, error);

  if (id < 0)
    fail_group (TSQ_SQLITE_STORAGE (s), error);
  return id;
}

static GPtrArray *
sqlite_list_maintenance (TsqStorage *s, const char *monitor_id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self,
               monitor_id ? "SELECT id, monitor_id, definition, created_by, comment, created_at "
                            "FROM alert_maintenance WHERE monitor_id = ?1 ORDER BY id"
                          : "SELECT id, monitor_id, definition, created_by, comment, created_at "
                            "FROM alert_maintenance ORDER BY id",
               error);
  g_autoptr (GPtrArray) list = NULL;
  gboolean row;

  if (stmt == NULL)
    return NULL;
  if (monitor_id)
    sqlite3_bind_text (stmt, 1, monitor_id, -1, SQLITE_TRANSIENT);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  for (;;)
    {
      JsonObject *obj;

      if (!step_row (self, stmt, &row, "cannot list maintenance windows", error))
        return NULL;
      if (!row)
        break;
      obj = json_object_new ();
      json_object_set_int_member (obj, "id", sqlite3_column_int64 (stmt, 0));
      set_text_member (obj, "monitor_id", stmt, 1);
      set_json_member (obj, "definition", stmt, 2);
      set_text_member (obj, "created_by", stmt, 3);
      set_text_member (obj, "comment", stmt, 4);
      set_time_member (obj, "created_at", stmt, 5);
      g_ptr_array_add (list, obj);
    }
  return g_steal_pointer (&list);
}

static gboolean
sqlite_remove_maintenance (TsqStorage *s, gint64 id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "DELETE FROM alert_maintenance WHERE id = ?", error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_int64 (stmt, 1, id);
        ok = step_done (self, stmt, "cannot remove the maintenance window", error);
      }
    if (ok && sqlite3_changes (self->db) == 0)
      {
        g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                     "no maintenance window with id %" G_GINT64_FORMAT, id);
        ok = FALSE;
      }
  }
  return op_end (self, ok, FALSE, error);
}

/* ---- notification outbox ---- */

static JsonObject *
outbox_from_row (sqlite3_stmt *stmt)
{
  JsonObject *obj = json_object_new ();

  set_text_member (obj, "id", stmt, 0);
  set_json_member (obj, "alert_ids", stmt, 1);
  set_text_member (obj, "channel", stmt, 2);
  set_text_member (obj, "kind", stmt, 3);
  set_json_member (obj, "payload", stmt, 4);
  set_text_member (obj, "state", stmt, 5);
  set_int_member (obj, "attempts", stmt, 6);
  set_time_member (obj, "next_attempt_at", stmt, 7);
  set_text_member (obj, "last_error", stmt, 8);
  set_time_member (obj, "created_at", stmt, 9);
  set_time_member (obj, "retry_from_at", stmt, 10);
  set_time_member (obj, "updated_at", stmt, 11);
  set_time_member (obj, "delivered_at", stmt, 12);
  return obj;
}

static gboolean
check_alert_ids (JsonObject *notification, GError **error)
{
  JsonNode *node = json_object_get_member (notification, "alert_ids");
  JsonArray *ids;
  guint i;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "notification member “alert_ids” must be an array of alert ids");
  ids = json_node_get_array (node);
  for (i = 0; i < json_array_get_length (ids); i++)
    {
      JsonNode *id = json_array_get_element (ids, i);

      if (!JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_INT64)
        return invalid (error, "notification member “alert_ids”: element %u is not an integer", i);
    }
  return TRUE;
}

static char *
outbox_enqueue (TsqStorage *s, JsonObject *notification, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  const char *what = "a notification";
  const char *given_id, *channel, *kind;
  g_autofree char *id = NULL;
  g_autofree char *alert_ids = NULL;
  g_autofree char *payload = NULL;
  gint64 created_at, next_attempt_at;
  gboolean ok;

  if (!get_opt_string (notification, what, "id", &given_id, error)
      || !get_req_string (notification, what, "channel", &channel, error)
      || !get_req_string (notification, what, "kind", &kind, error)
      || !check_alert_ids (notification, error)
      || !get_opt_time (notification, what, "created_at", g_get_real_time (), &created_at, error)
      || !get_opt_time (notification, what, "next_attempt_at", created_at, &next_attempt_at, error))
    return NULL;
  if (given_id != NULL && !g_uuid_string_is_valid (given_id))
    {
      invalid (error, "notification member “id” must be a UUID, not “%s”", given_id);
      return NULL;
    }
  if (tsq_json_get_object (notification, "payload") == NULL)
    {
      invalid (error, "a notification needs an object member “payload”");
      return NULL;
    }
  id = given_id != NULL ? g_strdup (given_id) : g_uuid_string_random ();
  alert_ids = member_is_null (notification, "alert_ids")
                ? g_strdup ("[]")
                : node_to_text (json_object_get_member (notification, "alert_ids"));
  payload = node_to_text (json_object_get_member (notification, "payload"));

  if (!op_begin (self, error))
    return NULL;
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self,
      "INSERT INTO notification_outbox (id, alert_ids, channel, kind, payload, state, attempts, "
      "next_attempt_at, created_at, retry_from_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7, ?7, ?7)",
      error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 2, alert_ids, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 3, channel, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 4, kind, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 5, payload, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 6, next_attempt_at);
        sqlite3_bind_int64 (stmt, 7, created_at);
        ok = step_done (self, stmt, "cannot store the notification", error);
      }
  }
  if (!op_end (self, ok, FALSE, error))
    return NULL;
  return g_steal_pointer (&id);
}

static gboolean
claim_rows (TsqSqliteStorage *self,
            gint64 now_us,
            guint limit,
            gint64 lease_until,
            GPtrArray *claimed,
            GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  guint i;

  /* Select, then update by id: both inside our IMMEDIATE transaction, so no other connection can
   * claim in between, and the rows come back in due order (RETURNING has no order). */
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self,
                 "SELECT id FROM notification_outbox WHERE state IN ('pending', 'sending') "
                 "AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?",
                 error);
    gboolean row;

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, now_us);
    sqlite3_bind_int64 (stmt, 2, sql_limit (limit));
    for (;;)
      {
        if (!step_row (self, stmt, &row, "cannot find due notifications", error))
          return FALSE;
        if (!row)
          break;
        g_ptr_array_add (ids, g_strdup ((const char *)sqlite3_column_text (stmt, 0)));
      }
  }
  for (i = 0; i < ids->len; i++)
    {
      g_autoptr (TsqCachedStmt) stmt
        = prepare (self,
                   "UPDATE notification_outbox SET state = 'sending', attempts = attempts + 1, "
                   "next_attempt_at = ?1, updated_at = ?2 WHERE id = ?3 RETURNING " OUTBOX_COLUMNS,
                   error);
      gboolean row;

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, lease_until);
      sqlite3_bind_int64 (stmt, 2, now_us);
      sqlite3_bind_text (stmt, 3, ids->pdata[i], -1, SQLITE_TRANSIENT);
      if (!step_row (self, stmt, &row, "cannot claim a notification", error))
        return FALSE;
      if (row)
        g_ptr_array_add (claimed, outbox_from_row (stmt));
      /* Run the statement to completion so the RETURNING clause is finished. */
      if (row && !step_row (self, stmt, &row, "cannot claim a notification", error))
        return FALSE;
    }
  return TRUE;
}

static GPtrArray *
sqlite_outbox_claim_due (TsqStorage *s, gint64 now_us, guint limit, gint64 lease_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (GPtrArray) claimed
    = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  gint64 lease_until;
  gboolean ok;

  if (!check_not_in_group (self, "claiming notifications", error))
    return NULL;
  lease_until = now_us > G_MAXINT64 - lease_us ? G_MAXINT64 : now_us + lease_us;
  if (!op_begin (self, error))
    return NULL;
  ok = claim_rows (self, now_us, limit, lease_until, claimed, error);
  /* Not batched: the claim, and everything pending with it (the rows' alerts included), is
   * committed before a single row is handed out. */
  if (!op_end (self, ok, FALSE, error))
    return NULL;
  return g_steal_pointer (&claimed);
}

typedef struct
{
  char *state;
  gint64 attempts;
  gint64 retry_from_at;
} OutboxRowState;

static void
outbox_row_state_clear (OutboxRowState *st)
{
  g_clear_pointer (&st->state, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (OutboxRowState, outbox_row_state_clear)

static gboolean
outbox_row_state (TsqSqliteStorage *self, const char *id, OutboxRowState *st, GError **error)
{
  g_autoptr (TsqCachedStmt) stmt = prepare (
    self, "SELECT state, attempts, retry_from_at FROM notification_outbox WHERE id = ?", error);
  gboolean row;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  if (!step_row (self, stmt, &row, "cannot read the notification", error))
    return FALSE;
  if (!row)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                   "no notification with id “%s”", id);
      return FALSE;
    }
  st->state = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  st->attempts = sqlite3_column_int64 (stmt, 1);
  st->retry_from_at = sqlite3_column_int64 (stmt, 2);
  return TRUE;
}

/* UPDATE notification_outbox SET <assignments> WHERE id = ?1, with ?2 = now and ?3, ?4 the
 * extra values (text or NULL, integer). */
static gboolean
outbox_update (TsqSqliteStorage *self,
               const char *assignments,
               const char *id,
               gint64 now_us,
               const char *text,
               gint64 number,
               const char *context,
               GError **error)
{
  g_autofree char *sql
    = g_strdup_printf ("UPDATE notification_outbox SET %s WHERE id = ?1", assignments);
  g_autoptr (TsqCachedStmt) stmt = prepare (self, sql, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, now_us);
  if (sqlite3_bind_parameter_count (stmt) >= 3)
    bind_text_or_null (stmt, 3, text);
  if (sqlite3_bind_parameter_count (stmt) >= 4)
    sqlite3_bind_int64 (stmt, 4, number);
  return step_done (self, stmt, context, error);
}

static gboolean
mark_delivered_row (TsqSqliteStorage *self, const char *id, gint64 now_us, GError **error)
{
  g_auto (OutboxRowState) st = { 0 };

  if (!outbox_row_state (self, id, &st, error))
    return FALSE;
  if (g_str_equal (st.state, TSQ_OUTBOX_DELIVERED))
    return TRUE; /* a duplicate confirmation (the row was re-sent after a lease expired) */
  return outbox_update (self,
                        "state = 'delivered', delivered_at = ?2, updated_at = ?2, "
                        "next_attempt_at = ?2",
                        id, now_us, NULL, 0, "cannot mark the notification delivered", error);
}

static gboolean
sqlite_outbox_mark_delivered (TsqStorage *s, const char *id, gint64 now_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!op_begin (self, error))
    return FALSE;
  return op_end (self, mark_delivered_row (self, id, now_us, error), FALSE, error);
}

static gboolean
mark_failed_row (TsqSqliteStorage *self,
                 const char *id,
                 const char *message,
                 gint64 retry_after_s,
                 const TsqBackoff *backoff,
                 gint64 now_us,
                 gboolean *out_dead,
                 GError **error)
{
  g_auto (OutboxRowState) st = { 0 };
  gint64 next = 0;

  if (!outbox_row_state (self, id, &st, error))
    return FALSE;
  if (!g_str_equal (st.state, TSQ_OUTBOX_SENDING))
    return conflict (error,
                     "notification %s is %s, not sending; only a claimed notification can fail", id,
                     st.state);
  if (message == NULL)
    message = "unknown error";
  if (!tsq_backoff_schedule (backoff, (guint)CLAMP (st.attempts, 1, G_MAXUINT), retry_after_s,
                             st.retry_from_at, now_us, &next))
    {
      *out_dead = TRUE;
      return outbox_update (self, "state = 'dead', last_error = ?3, updated_at = ?2", id, now_us,
                            message, 0, "cannot dead-letter the notification", error);
    }
  *out_dead = FALSE;
  return outbox_update (self,
                        "state = 'pending', last_error = ?3, updated_at = ?2, next_attempt_at = ?4",
                        id, now_us, message, next, "cannot reschedule the notification", error);
}

static gboolean
sqlite_outbox_mark_failed (TsqStorage *s,
                           const char *id,
                           const char *message,
                           gint64 retry_after_s,
                           const TsqBackoff *backoff,
                           gint64 now_us,
                           gboolean *out_dead,
                           GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  ok = mark_failed_row (self, id, message, retry_after_s, backoff, now_us, out_dead, error);
  if (!ok)
    *out_dead = FALSE;
  return op_end (self, ok, FALSE, error);
}

static gboolean
mark_dead_row (
  TsqSqliteStorage *self, const char *id, const char *message, gint64 now_us, GError **error)
{
  g_auto (OutboxRowState) st = { 0 };

  if (!outbox_row_state (self, id, &st, error))
    return FALSE;
  if (g_str_equal (st.state, TSQ_OUTBOX_DELIVERED))
    return conflict (error, "notification %s was delivered; it cannot be dead-lettered", id);
  return outbox_update (self, "state = 'dead', last_error = ?3, updated_at = ?2", id, now_us,
                        message != NULL ? message : "permanent failure", 0,
                        "cannot dead-letter the notification", error);
}

static gboolean
sqlite_outbox_mark_dead (
  TsqStorage *s, const char *id, const char *message, gint64 now_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!op_begin (self, error))
    return FALSE;
  return op_end (self, mark_dead_row (self, id, message, now_us, error), FALSE, error);
}

static gboolean
requeue_row (TsqSqliteStorage *self, const char *id, gint64 now_us, GError **error)
{
  g_auto (OutboxRowState) st = { 0 };

  if (!outbox_row_state (self, id, &st, error))
    return FALSE;
  if (!g_str_equal (st.state, TSQ_OUTBOX_DEAD))
    return conflict (error, "notification %s is %s; only dead notifications can be requeued", id,
                     st.state);
  return outbox_update (self,
                        "state = 'pending', attempts = 0, next_attempt_at = ?2, "
                        "retry_from_at = ?2, updated_at = ?2",
                        id, now_us, NULL, 0, "cannot requeue the notification", error);
}

static gboolean
sqlite_outbox_requeue (TsqStorage *s, const char *id, gint64 now_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!op_begin (self, error))
    return FALSE;
  return op_end (self, requeue_row (self, id, now_us, error), FALSE, error);
}

static JsonObject *
sqlite_outbox_get (TsqStorage *s, const char *id, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt
    = prepare (self, "SELECT " OUTBOX_COLUMNS " FROM notification_outbox WHERE id = ?", error);
  gboolean row;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  if (!step_row (self, stmt, &row, "cannot read the notification", error))
    return NULL;
  if (!row)
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_NOT_FOUND,
                   "no notification with id “%s”", id);
      return NULL;
    }
  return outbox_from_row (stmt);
}

static GPtrArray *
sqlite_outbox_list (TsqStorage *s, const char *state, guint limit, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt = NULL;

  if (state != NULL && !in_list (state, outbox_states))
    {
      invalid (error, "unknown notification state “%s” (pending, sending, delivered or dead)",
               state);
      return NULL;
    }
  stmt = prepare (self,
                  state != NULL ? "SELECT " OUTBOX_COLUMNS " FROM notification_outbox "
                                  "WHERE state = ?2 ORDER BY created_at DESC, id DESC LIMIT ?1"
                                : "SELECT " OUTBOX_COLUMNS " FROM notification_outbox "
                                  "ORDER BY created_at DESC, id DESC LIMIT ?1",
                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, sql_limit (limit));
  if (state != NULL)
    sqlite3_bind_text (stmt, 2, state, -1, SQLITE_TRANSIENT);
  return collect_rows (self, stmt, outbox_from_row, "cannot list notifications", error);
}

static gint64
sqlite_outbox_next_due (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt = prepare (self,
                                            "SELECT min(next_attempt_at) FROM notification_outbox "
                                            "WHERE state IN ('pending', 'sending')",
                                            error);
  gboolean row;

  if (stmt == NULL)
    return -1;
  if (!step_row (self, stmt, &row, "cannot read the outbox", error))
    return -1;
  if (!row || sqlite3_column_type (stmt, 0) == SQLITE_NULL)
    return 0;
  return sqlite3_column_int64 (stmt, 0);
}

static gint64
sqlite_outbox_prune (TsqStorage *s, gint64 delivered_before_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gint64 count = 0;
  gboolean ok;

  if (!op_begin (self, error))
    return -1;
  {
    g_autoptr (TsqCachedStmt) stmt = prepare (
      self, "DELETE FROM notification_outbox WHERE state = 'delivered' AND delivered_at < ?",
      error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_int64 (stmt, 1, delivered_before_us);
        ok = step_done (self, stmt, "cannot prune the outbox", error);
        count = sqlite3_changes (self->db);
      }
  }
  if (!op_end (self, ok, FALSE, error))
    return -1;
  return count;
}

/* ---- system metrics ---- */

static gboolean
sqlite_add_system_metrics (TsqStorage *s, JsonObject *metrics, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autofree char *text = object_to_text (metrics);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  {
    g_autoptr (TsqCachedStmt) stmt
      = prepare (self, "INSERT INTO system_metrics (ts, metrics) VALUES (?, ?)", error);

    ok = stmt != NULL;
    if (ok)
      {
        sqlite3_bind_int64 (stmt, 1, tsq_json_get_int (metrics, "ts", g_get_real_time ()));
        sqlite3_bind_text (stmt, 2, text, -1, SQLITE_TRANSIENT);
        ok = step_done (self, stmt, "cannot store system metrics", error);
      }
  }
  return op_end (self, ok, TRUE, error);
}

static JsonObject *
system_metrics_from_row (sqlite3_stmt *stmt)
{
  JsonObject *obj = column_json_object (stmt, 1);
  g_autofree char *iso = tsq_monitor_time_to_iso8601 (sqlite3_column_int64 (stmt, 0));

  if (obj == NULL)
    obj = json_object_new ();
  json_object_set_string_member (obj, "ts", iso);
  return obj;
}

static GPtrArray *
sqlite_list_system_metrics (TsqStorage *s, gint64 since_us, guint limit, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  g_autoptr (TsqCachedStmt) stmt = prepare (
    self, "SELECT ts, metrics FROM system_metrics WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
    error);
  GPtrArray *list;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, since_us);
  sqlite3_bind_int64 (stmt, 2, sql_limit (limit));
  list = collect_rows (self, stmt, system_metrics_from_row, "cannot list system metrics", error);
  if (list != NULL)
    reverse_ptr_array (list);
  return list;
}

/* ---- batching and housekeeping ---- */

static gboolean
sqlite_flush (TsqStorage *s, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);

  if (!check_not_in_group (self, "flush", error))
    return FALSE;
  if (!commit (self, error))
    {
      g_clear_error (&self->deferred_error);
      return FALSE;
    }
  if (self->deferred_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->deferred_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
prune_rows (TsqSqliteStorage *self,
            gint64 raw_results_before_us,
            gint64 metrics_before_us,
            GError **error)
{
  if (raw_results_before_us > 0)
    {
      /* The latest good result of each monitor is kept: it is the change detector's baseline,
       * however long ago a rarely scheduled monitor last ran. */
      g_autoptr (TsqCachedStmt) stmt = prepare (
        self,
        "UPDATE scan_results SET result = NULL WHERE started_at < ? AND result IS NOT NULL "
        "AND id NOT IN (SELECT max(id) FROM scan_results WHERE state = 'completed' "
        "AND result IS NOT NULL GROUP BY monitor_id)",
        error);

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, raw_results_before_us);
      if (!step_done (self, stmt, "cannot prune scan results", error))
        return FALSE;
    }
  if (metrics_before_us > 0)
    {
      static const char *const sql[] = {
        "DELETE FROM performance_metrics WHERE ts < ?",
        "DELETE FROM system_metrics WHERE ts < ?",
      };
      guint i;

      for (i = 0; i < G_N_ELEMENTS (sql); i++)
        {
          g_autoptr (TsqCachedStmt) stmt = prepare (self, sql[i], error);

          if (stmt == NULL)
            return FALSE;
          sqlite3_bind_int64 (stmt, 1, metrics_before_us);
          if (!step_done (self, stmt, "cannot prune metrics", error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
sqlite_prune (TsqStorage *s, gint64 raw_results_before_us, gint64 metrics_before_us, GError **error)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (s);
  gboolean ok;

  if (!op_begin (self, error))
    return FALSE;
  ok = prune_rows (self, raw_results_before_us, metrics_before_us, error);
  return op_end (self, ok, FALSE, error);
}

/* ---- writes refused before they reach the database also doom an open group ---- */

static gboolean
sqlite_add_changes (
  TsqStorage *s, const char *monitor_id, gint64 scan_id, JsonArray *changes, GError **error)
{
  gboolean ok = add_changes (s, monitor_id, scan_id, changes, error);

  if (!ok)
    fail_group (TSQ_SQLITE_STORAGE (s), error);
  return ok;
}

static gint64
sqlite_add_silence (TsqStorage *s, JsonObject *silence, GError **error)
{
  gint64 id = add_silence (s, silence, error);

  if (id < 0)
    fail_group (TSQ_SQLITE_STORAGE (s), error);
  return id;
}

static char *
sqlite_outbox_enqueue (TsqStorage *s, JsonObject *notification, GError **error)
{
  char *id = outbox_enqueue (s, notification, error);

  if (id == NULL)
    fail_group (TSQ_SQLITE_STORAGE (s), error);
  return id;
}

/* ---- object ---- */

static void
tsq_sqlite_storage_dispose (GObject *object)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (object);

  if (self->db != NULL && !self->read_only)
    {
      g_autoptr (GError) error = NULL;

      /* An unfinished group is undone, as a crash would; the batch before it is kept. */
      sqlite_transaction_rollback (TSQ_STORAGE (self));

      if (!commit (self, &error))
        g_warning ("final commit of %s failed: %s", self->path, error->message);
    }
  remove_flush_source (self);
  G_OBJECT_CLASS (tsq_sqlite_storage_parent_class)->dispose (object);
}

static void
tsq_sqlite_storage_finalize (GObject *object)
{
  TsqSqliteStorage *self = TSQ_SQLITE_STORAGE (object);

  g_clear_pointer (&self->stmts, g_hash_table_unref);
  if (self->db != NULL)
    sqlite3_close_v2 (self->db);
  g_clear_error (&self->deferred_error);
  g_clear_error (&self->group_error);
  g_free (self->path);
  G_OBJECT_CLASS (tsq_sqlite_storage_parent_class)->finalize (object);
}

static void
tsq_sqlite_storage_class_init (TsqSqliteStorageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tsq_sqlite_storage_dispose;
  object_class->finalize = tsq_sqlite_storage_finalize;
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
tsq_sqlite_storage_init (TsqSqliteStorage *self)
{
  self->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_stmt);
  self->revision_stale = TRUE;
}

static void
tsq_sqlite_storage_iface_init (TsqStorageInterface *iface)
{
  iface->put_monitor = sqlite_put_monitor;
  iface->get_monitor = sqlite_get_monitor;
  iface->list_monitors = sqlite_list_monitors;
  iface->delete_monitor = sqlite_delete_monitor;
  iface->set_monitor_run_state = sqlite_set_monitor_run_state;
  iface->get_monitors_revision = sqlite_get_monitors_revision;
  iface->begin_scan = sqlite_begin_scan;
  iface->finish_scan = sqlite_finish_scan;
  iface->mark_interrupted_scans = sqlite_mark_interrupted_scans;
  iface->get_last_result = sqlite_get_last_result;
  iface->list_scans = sqlite_list_scans;
  iface->get_scan = sqlite_get_scan;
  iface->recent_metric = sqlite_recent_metric;
  iface->put_monitor_state = sqlite_put_monitor_state;
  iface->get_monitor_state = sqlite_get_monitor_state;
  iface->add_changes = sqlite_add_changes;
  iface->list_changes = sqlite_list_changes;
  iface->add_alert = sqlite_add_alert;
  iface->transaction_begin = sqlite_transaction_begin;
  iface->transaction_commit = sqlite_transaction_commit;
  iface->transaction_rollback = sqlite_transaction_rollback;
  iface->upsert_open_alert = sqlite_upsert_open_alert;
  iface->get_alert = sqlite_get_alert;
  iface->query_alerts = sqlite_query_alerts;
  iface->list_open_alerts = sqlite_list_open_alerts;
  iface->ack_alert = sqlite_ack_alert;
  iface->resolve_alert = sqlite_resolve_alert;
  iface->set_alert_escalation = sqlite_set_alert_escalation;
  iface->add_silence = sqlite_add_silence;
  iface->list_silences = sqlite_list_silences;
  iface->expire_silence = sqlite_expire_silence;
  iface->add_maintenance = sqlite_add_maintenance;
  iface->list_maintenance = sqlite_list_maintenance;
  iface->remove_maintenance = sqlite_remove_maintenance;
  iface->outbox_enqueue = sqlite_outbox_enqueue;
  iface->outbox_claim_due = sqlite_outbox_claim_due;
  iface->outbox_mark_delivered = sqlite_outbox_mark_delivered;
  iface->outbox_mark_failed = sqlite_outbox_mark_failed;
  iface->outbox_mark_dead = sqlite_outbox_mark_dead;
  iface->outbox_requeue = sqlite_outbox_requeue;
  iface->outbox_get = sqlite_outbox_get;
  iface->outbox_list = sqlite_outbox_list;
  iface->outbox_next_due = sqlite_outbox_next_due;
  iface->outbox_prune = sqlite_outbox_prune;
  iface->add_system_metrics = sqlite_add_system_metrics;
  iface->list_system_metrics = sqlite_list_system_metrics;
  iface->flush = sqlite_flush;
  iface->prune = sqlite_prune;
}

static gboolean
configure (TsqSqliteStorage *self, GError **error)
{
  gboolean in_memory = g_str_equal (self->path, ":memory:") || *self->path == '\0';

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, 5000);
  /* Reading the schema first turns a garbage file into a clean SQLITE_NOTADB error. */
  if (!exec (self, "SELECT count(*) FROM sqlite_master", "cannot read the database", error))
    return FALSE;
  if (!self->read_only && !in_memory
      && !exec (self, "PRAGMA journal_mode = WAL", "cannot enable WAL mode", error))
    return FALSE;
  return exec (self, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
               "cannot configure the database", error);
}

static gboolean
check_schema_current (TsqSqliteStorage *self, GError **error)
{
  gint64 version = tsq_sqlite_schema_version (self->db, error);

  if (version < 0)
    return FALSE;
  if (version > (gint64)tsq_sqlite_migrations_latest ())
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_TOO_NEW,
                   "the database has schema version %" G_GINT64_FORMAT
                   " but this program knows only up to %u; upgrade TechScanIQ Monitor",
                   version, tsq_sqlite_migrations_latest ());
      return FALSE;
    }
  if (version < (gint64)tsq_sqlite_migrations_latest ())
    {
      g_set_error (
        error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_READ_ONLY,
        "the database %s is read-only and needs a schema upgrade (version %" G_GINT64_FORMAT
        " < %u); open it once with write access",
        self->path, version, tsq_sqlite_migrations_latest ());
      return FALSE;
    }
  return TRUE;
}

TsqStorage *
tsq_sqlite_storage_open_full (const char *path, TsqSqliteStorageFlags flags, GError **error)
{
  g_autoptr (TsqSqliteStorage) self = NULL;
  int open_flags;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (TSQ_TYPE_SQLITE_STORAGE, NULL);
  self->path = g_strdup (path);
  self->read_only = (flags & TSQ_SQLITE_STORAGE_FLAGS_READ_ONLY) != 0;
  open_flags = self->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  rc = sqlite3_open_v2 (path, &self->db, open_flags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_autofree char *context = g_strdup_printf ("cannot open the database %s", path);

      set_error (self, error, rc, context);
      return NULL;
    }
  /* SQLite silently opens a write-protected file read-only. */
  if (sqlite3_db_readonly (self->db, "main") == 1)
    self->read_only = TRUE;

  if (!configure (self, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  if (self->read_only ? !check_schema_current (self, error) : !tsq_sqlite_migrate (self->db, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  return TSQ_STORAGE (g_steal_pointer (&self));
}

TsqStorage *
tsq_sqlite_storage_open (const char *path, GError **error)
{
  return tsq_sqlite_storage_open_full (path, TSQ_SQLITE_STORAGE_FLAGS_NONE, error);
}

const char *
tsq_sqlite_storage_get_path (TsqSqliteStorage *self)
{
  g_return_val_if_fail (TSQ_IS_SQLITE_STORAGE (self), NULL);
  return self->path;
}

guint
tsq_sqlite_storage_get_pending (TsqSqliteStorage *self)
{
  g_return_val_if_fail (TSQ_IS_SQLITE_STORAGE (self), 0);
  return self->pending;
}

gboolean
tsq_sqlite_storage_set_size_limit (TsqSqliteStorage *self, gint64 max_bytes, GError **error)
{
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 page_size = 4096;
  int rc;

  g_return_val_if_fail (TSQ_IS_SQLITE_STORAGE (self), FALSE);

  rc = sqlite3_prepare_v2 (self->db, "PRAGMA page_size", -1, &stmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
    page_size = MAX (sqlite3_column_int64 (stmt, 0), 512);
  sqlite3_finalize (stmt);
  /* 1073741823 pages is SQLite's default maximum. */
  sql = g_strdup_printf ("PRAGMA max_page_count = %" G_GINT64_FORMAT,
                         max_bytes > 0 ? MAX (max_bytes / page_size, 1) : 1073741823);
  return exec (self, sql, "cannot set the database size limit", error);
}
