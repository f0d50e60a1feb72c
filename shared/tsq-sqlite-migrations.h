/* tsq-sqlite-migrations.h: the SQLite schema as numbered migration steps (internal to the SQLite
 * storage; nothing outside tsq-sqlite-*.c includes this). */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* The schema version this build writes (PRAGMA user_version after migrating). */
guint tsq_sqlite_migrations_latest (void);
/* Applies the missing steps, each in its own IMMEDIATE transaction, re-checking user_version inside
 * the transaction so two processes opening a fresh database at once do not both apply a step.
 * A database with a newer user_version -> TSQ_STORAGE_ERROR_TOO_NEW. */
gboolean tsq_sqlite_migrate (sqlite3 *db, GError **error);
/* Applies the steps up to schema version target only (<= latest). For tests that build a database
 * as an older release left it and then open it with the current code. */
gboolean tsq_sqlite_migrate_to (sqlite3 *db, guint target, GError **error);
/* Reads PRAGMA user_version; -1 with error on failure. */
gint64 tsq_sqlite_schema_version (sqlite3 *db, GError **error);
/* Sets a TSQ_STORAGE_ERROR from an SQLite result code (maps FULL, READONLY, CORRUPT/NOTADB, BUSY,
 * CONSTRAINT) with "context: sqlite message". */
void tsq_sqlite_set_error (GError **error, sqlite3 *db, int rc, const char *context);

G_END_DECLS
