/* tsq-sqlite-migrations.c: numbered schema steps for the SQLite storage.
 *
 * Steps are append-only: never edit a released step, add a new one. Step N brings user_version
 * from N-1 to N. Every table that belongs to a monitor references it with ON DELETE CASCADE so
 * deleting a monitor removes its history; child foreign-key columns are indexed so the cascade
 * does not scan whole tables.
 */
#define G_LOG_DOMAIN "tsq-sqlite"

#include "tsq-sqlite-migrations.h"
#include "tsq-storage.h"

static const char *const migrations[] = {
  /* 1: the initial schema */
  "CREATE TABLE monitoring_configs ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  organization_id TEXT NOT NULL DEFAULT 'default',"
  "  name TEXT NOT NULL,"
  "  url TEXT NOT NULL,"
  "  schedule TEXT NOT NULL,"
  "  scan_config TEXT NOT NULL DEFAULT '{}',"
  "  alert_rules TEXT NOT NULL DEFAULT '[]',"
  "  enabled INTEGER NOT NULL DEFAULT 1,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  last_run_us INTEGER NOT NULL DEFAULT 0,"
  "  next_run_us INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX monitoring_configs_name ON monitoring_configs (name);"
  /* One row; bumped by triggers on every configuration change (not on run-state updates) so
   * that another process can notice edits cheaply. */
  "CREATE TABLE monitors_revision (id INTEGER PRIMARY KEY CHECK (id = 1), rev INTEGER NOT NULL);"
  "INSERT INTO monitors_revision (id, rev) VALUES (1, 0);"
  "CREATE TRIGGER monitoring_configs_ins AFTER INSERT ON monitoring_configs BEGIN"
  "  UPDATE monitors_revision SET rev = rev + 1 WHERE id = 1; END;"
  "CREATE TRIGGER monitoring_configs_del AFTER DELETE ON monitoring_configs BEGIN"
  "  UPDATE monitors_revision SET rev = rev + 1 WHERE id = 1; END;"
  "CREATE TRIGGER monitoring_configs_upd AFTER UPDATE OF id, organization_id, name, url, schedule,"
  "  scan_config, alert_rules, enabled, created_at, updated_at ON monitoring_configs BEGIN"
  "  UPDATE monitors_revision SET rev = rev + 1 WHERE id = 1; END;"
  "CREATE TABLE scan_results ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  monitor_id TEXT NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  started_at INTEGER NOT NULL,"
  "  finished_at INTEGER,"
  "  state TEXT NOT NULL DEFAULT 'running',"
  "  status_code INTEGER,"
  "  error_kind TEXT,"
  "  total_ms REAL,"
  "  ttfb_ms REAL,"
  "  bytes INTEGER,"
  "  tech_count INTEGER,"
  "  content_hash TEXT,"
  "  result TEXT"
  ");"
  "CREATE INDEX scan_results_monitor ON scan_results (monitor_id, started_at);"
  "CREATE INDEX scan_results_started ON scan_results (started_at);"
  "CREATE INDEX scan_results_running ON scan_results (state) WHERE state = 'running';"
  "CREATE TABLE technology_changes ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  monitor_id TEXT NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  scan_id INTEGER REFERENCES scan_results (id) ON DELETE CASCADE,"
  "  detected_at INTEGER NOT NULL,"
  "  change_type TEXT NOT NULL,"
  "  subject TEXT,"
  "  old_value TEXT,"
  "  new_value TEXT,"
  "  confidence REAL,"
  "  evidence TEXT,"
  "  severity TEXT"
  ");"
  "CREATE INDEX technology_changes_monitor ON technology_changes (monitor_id, id);"
  "CREATE INDEX technology_changes_scan ON technology_changes (scan_id);"
  "CREATE INDEX technology_changes_detected ON technology_changes (detected_at);"
  "CREATE TABLE monitoring_alerts ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  monitor_id TEXT NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  change_id INTEGER REFERENCES technology_changes (id) ON DELETE CASCADE,"
  "  rule_id TEXT,"
  "  severity TEXT,"
  "  state TEXT NOT NULL DEFAULT 'triggered',"
  "  triggered_at INTEGER NOT NULL,"
  "  acknowledged_at INTEGER,"
  "  resolved_at INTEGER,"
  "  payload TEXT"
  ");"
  "CREATE INDEX monitoring_alerts_monitor ON monitoring_alerts (monitor_id, id);"
  "CREATE INDEX monitoring_alerts_change ON monitoring_alerts (change_id);"
  "CREATE TABLE performance_metrics ("
  "  id INTEGER PRIMARY KEY,"
  "  monitor_id TEXT NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  scan_id INTEGER NOT NULL REFERENCES scan_results (id) ON DELETE CASCADE,"
  "  ts INTEGER NOT NULL,"
  "  good INTEGER NOT NULL DEFAULT 0,"
  "  dns_ms REAL, connect_ms REAL, tls_ms REAL, ttfb_ms REAL, total_ms REAL, bytes INTEGER"
  ");"
  "CREATE INDEX performance_metrics_monitor ON performance_metrics (monitor_id, good, ts);"
  "CREATE INDEX performance_metrics_scan ON performance_metrics (scan_id);"
  "CREATE INDEX performance_metrics_ts ON performance_metrics (ts);"
  "CREATE TABLE system_metrics ("
  "  id INTEGER PRIMARY KEY,"
  "  ts INTEGER NOT NULL,"
  "  metrics TEXT NOT NULL"
  ");"
  "CREATE INDEX system_metrics_ts ON system_metrics (ts);"
  "CREATE TABLE monitor_state ("
  "  monitor_id TEXT PRIMARY KEY NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  state TEXT NOT NULL,"
  "  updated_at INTEGER NOT NULL"
  ");",

  /* 2: the alert engine. monitoring_alerts is rebuilt (SQLite cannot add CHECK constraints or
   * change a foreign key's action in place) with dedupe, acknowledgment, resolution, escalation
   * and suppression columns; the old rows are copied (first/last seen = triggered_at, subject
   * NULL: NULLs never collide in the open-alert key, so old duplicates stay legal). A change
   * being deleted no longer deletes its alert. Silences and the notification outbox are new. */
  "CREATE TABLE monitoring_alerts_v2 ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  monitor_id TEXT NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  change_id INTEGER REFERENCES technology_changes (id) ON DELETE SET NULL,"
  "  rule_id TEXT,"
  "  group_key TEXT,"
  "  subject TEXT,"
  "  change_type TEXT,"
  "  severity TEXT,"
  "  state TEXT NOT NULL DEFAULT 'triggered'"
  "    CHECK (state IN ('triggered', 'acknowledged', 'resolved')),"
  "  first_seen_at INTEGER NOT NULL,"
  "  last_seen_at INTEGER NOT NULL,"
  "  count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),"
  "  triggered_at INTEGER NOT NULL,"
  "  acknowledged_at INTEGER,"
  "  acknowledged_by TEXT,"
  "  resolved_at INTEGER,"
  "  resolve_reason TEXT,"
  "  escalation_level INTEGER NOT NULL DEFAULT 0,"
  "  escalation_policy TEXT,"
  "  last_notified_at INTEGER,"
  "  next_action_at INTEGER,"
  "  payload TEXT,"
  "  suppression_reason TEXT"
  ");"
  "INSERT INTO monitoring_alerts_v2 (id, monitor_id, change_id, rule_id, severity, state,"
  "  first_seen_at, last_seen_at, triggered_at, acknowledged_at, resolved_at, payload)"
  "  SELECT id, monitor_id, change_id, rule_id, severity,"
  "    CASE WHEN state IN ('triggered', 'acknowledged', 'resolved') THEN state"
  "      ELSE 'triggered' END,"
  "    triggered_at, triggered_at, triggered_at, acknowledged_at, resolved_at, payload"
  "  FROM monitoring_alerts;"
  "DROP TABLE monitoring_alerts;"
  "ALTER TABLE monitoring_alerts_v2 RENAME TO monitoring_alerts;"
  "CREATE INDEX monitoring_alerts_monitor ON monitoring_alerts (monitor_id, id);"
  "CREATE INDEX monitoring_alerts_change ON monitoring_alerts (change_id);"
  "CREATE INDEX monitoring_alerts_triggered ON monitoring_alerts (triggered_at);"
  /* Dedupe: one open alert per (monitor, rule, subject), enforced by the database. */
  "CREATE UNIQUE INDEX monitoring_alerts_open_key ON monitoring_alerts (monitor_id, rule_id,"
  "  subject) WHERE state != 'resolved';"
  "CREATE INDEX monitoring_alerts_open ON monitoring_alerts (id) WHERE state != 'resolved';"
  "CREATE TABLE alert_silences ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  matchers TEXT NOT NULL,"
  "  starts_at INTEGER NOT NULL,"
  "  ends_at INTEGER NOT NULL,"
  "  created_by TEXT,"
  "  comment TEXT,"
  "  created_at INTEGER NOT NULL,"
  "  expired_at INTEGER,"
  "  CHECK (ends_at > starts_at)"
  ");"
  "CREATE INDEX alert_silences_ends ON alert_silences (ends_at);"
  /* Every notification is written here before it is sent (docs/outbox.md). For a 'sending' row
   * next_attempt_at is the end of its lease; retry_from_at starts the max-age clock (created_at,
   * or the time an operator requeued it). alert_ids is a JSON array: a grouped notification
   * covers several alerts, and a notification outlives a deleted monitor's alerts. */
  "CREATE TABLE notification_outbox ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  alert_ids TEXT NOT NULL DEFAULT '[]',"
  "  channel TEXT NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  payload TEXT NOT NULL,"
  "  state TEXT NOT NULL DEFAULT 'pending'"
  "    CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  next_attempt_at INTEGER NOT NULL,"
  "  last_error TEXT,"
  "  created_at INTEGER NOT NULL,"
  "  retry_from_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  delivered_at INTEGER"
  ");"
  "CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at)"
  "  WHERE state IN ('pending', 'sending');"
  "CREATE INDEX notification_outbox_state ON notification_outbox (state, created_at);",
  /* 3: maintenance windows per monitor (docs/alerts.md). definition is the alert engine's window
   * JSON without id/monitor_id: {cron, duration_s, timezone?} or {starts_at, ends_at}. */
  "CREATE TABLE alert_maintenance ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  monitor_id TEXT NOT NULL REFERENCES monitoring_configs (id) ON DELETE CASCADE,"
  "  definition TEXT NOT NULL,"
  "  created_by TEXT,"
  "  comment TEXT,"
  "  created_at INTEGER NOT NULL"
  ");"
  "CREATE INDEX alert_maintenance_monitor ON alert_maintenance (monitor_id);",
};

guint
tsq_sqlite_migrations_latest (void)
{
  return G_N_ELEMENTS (migrations);
}

void
tsq_sqlite_set_error (GError **error, sqlite3 *db, int rc, const char *context)
{
  TsqStorageError code;
  const char *msg;

  switch (rc & 0xff)
    {
      case SQLITE_FULL:
        code = TSQ_STORAGE_ERROR_FULL;
        break;
      case SQLITE_READONLY:
      case SQLITE_PERM:
        code = TSQ_STORAGE_ERROR_READ_ONLY;
        break;
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        code = TSQ_STORAGE_ERROR_CORRUPT;
        break;
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        code = TSQ_STORAGE_ERROR_BUSY;
        break;
      case SQLITE_CONSTRAINT:
      case SQLITE_MISMATCH:
      case SQLITE_RANGE:
      case SQLITE_TOOBIG:
        code = TSQ_STORAGE_ERROR_INVALID;
        break;
      default:
        code = TSQ_STORAGE_ERROR_FAILED;
        break;
    }
  /* The connection's message describes the last failing call, which is this one unless the
   * caller passes a code from elsewhere; fall back to the generic text of the code. */
  msg = db != NULL && sqlite3_errcode (db) == rc ? sqlite3_errmsg (db) : sqlite3_errstr (rc);
  g_set_error (error, TSQ_STORAGE_ERROR, code, "%s: %s", context, msg);
}

gint64
tsq_sqlite_schema_version (sqlite3 *db, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gint64 version = -1;
  int rc;

  rc = sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    version = sqlite3_column_int64 (stmt, 0);
  else
    tsq_sqlite_set_error (error, db, rc, "cannot read the schema version");
  sqlite3_finalize (stmt);
  return version;
}

static gboolean
exec (sqlite3 *db, const char *sql, const char *context, GError **error)
{
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      tsq_sqlite_set_error (error, db, rc, context);
      return FALSE;
    }
  return TRUE;
}

static void
rollback (sqlite3 *db)
{
  if (!sqlite3_get_autocommit (db))
    sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean
check_not_newer (gint64 version, GError **error)
{
  if (version > (gint64)G_N_ELEMENTS (migrations))
    {
      g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_TOO_NEW,
                   "the database has schema version %" G_GINT64_FORMAT
                   " but this program knows only up to %u; upgrade TechScanIQ Monitor",
                   version, (guint)G_N_ELEMENTS (migrations));
      return FALSE;
    }
  return TRUE;
}

gboolean
tsq_sqlite_migrate (sqlite3 *db, GError **error)
{
  return tsq_sqlite_migrate_to (db, G_N_ELEMENTS (migrations), error);
}

gboolean
tsq_sqlite_migrate_to (sqlite3 *db, guint target, GError **error)
{
  gint64 version = tsq_sqlite_schema_version (db, error);

  g_return_val_if_fail (target <= G_N_ELEMENTS (migrations), FALSE);

  if (version < 0 || !check_not_newer (version, error))
    return FALSE;

  while (version < (gint64)target)
    {
      g_autofree char *context = NULL;
      g_autofree char *set_version = NULL;

      if (!exec (db, "BEGIN IMMEDIATE", "cannot start the schema migration", error))
        return FALSE;
      /* Another process may have migrated while we waited for the write lock. */
      version = tsq_sqlite_schema_version (db, error);
      if (version < 0 || !check_not_newer (version, error))
        {
          rollback (db);
          return FALSE;
        }
      if (version >= (gint64)target)
        {
          rollback (db);
          break;
        }

      context
        = g_strdup_printf ("schema migration to version %" G_GINT64_FORMAT " failed", version + 1);
      set_version = g_strdup_printf ("PRAGMA user_version = %" G_GINT64_FORMAT, version + 1);
      if (!exec (db, migrations[version], context, error) || !exec (db, set_version, context, error)
          || !exec (db, "COMMIT", context, error))
        {
          rollback (db);
          return FALSE;
        }
      g_debug ("migrated the database to schema version %" G_GINT64_FORMAT, version + 1);
      version++;
    }
  return TRUE;
}
