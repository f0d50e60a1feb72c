/* tsq-sqlite-storage.h: TsqStorage on a local SQLite file (WAL; a CLI may open it concurrently). */
#pragma once

#include "tsq-storage.h"

G_BEGIN_DECLS

/* Batched writes are committed when this many are pending ... */
#define TSQ_SQLITE_STORAGE_BATCH_MAX_OPS 200
/* ... or this long after the first pending one (timer on the thread-default main context). */
#define TSQ_SQLITE_STORAGE_BATCH_MAX_DELAY_MS 100

typedef enum
{
  TSQ_SQLITE_STORAGE_FLAGS_NONE = 0,
  /* Open read-only (for reporting tools); every write fails with TSQ_STORAGE_ERROR_READ_ONLY.
   * The schema must already be current. */
  TSQ_SQLITE_STORAGE_FLAGS_READ_ONLY = 1 << 0,
} TsqSqliteStorageFlags;

#define TSQ_TYPE_SQLITE_STORAGE (tsq_sqlite_storage_get_type ())
G_DECLARE_FINAL_TYPE (TsqSqliteStorage, tsq_sqlite_storage, TSQ, SQLITE_STORAGE, GObject)

/* Opens (creating if needed) and migrates the database; path ":memory:" for a private in-memory
 * database. Errors: TSQ_STORAGE_ERROR_CORRUPT (not a database), _TOO_NEW, _READ_ONLY, ... */
TsqStorage *tsq_sqlite_storage_open (const char *path, GError **error);
TsqStorage *
tsq_sqlite_storage_open_full (const char *path, TsqSqliteStorageFlags flags, GError **error);
const char *tsq_sqlite_storage_get_path (TsqSqliteStorage *self);
/* Number of batched writes not yet committed. */
guint tsq_sqlite_storage_get_pending (TsqSqliteStorage *self);
/* Caps the database size (0 = SQLite's default cap); writes beyond it fail with
 * TSQ_STORAGE_ERROR_FULL exactly as on a full disk. */
gboolean
tsq_sqlite_storage_set_size_limit (TsqSqliteStorage *self, gint64 max_bytes, GError **error);

G_END_DECLS
