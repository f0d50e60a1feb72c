/* tsq-vuln-db.h: known-vulnerable version ranges of web technologies (data/vulnerabilities.json).
 *
 * A loaded database is immutable and reference counted: share it between threads freely.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_VULN_DB_ERROR (tsq_vuln_db_error_quark ())

typedef enum
{
  TSQ_VULN_DB_ERROR_IO,      /* the file cannot be read */
  TSQ_VULN_DB_ERROR_PARSE,   /* not JSON, or not the expected top-level shape */
  TSQ_VULN_DB_ERROR_INVALID, /* an entry fails validation; the message names its index and field */
} TsqVulnDbError;

GQuark tsq_vuln_db_error_quark (void);

typedef struct
{
  char *technology; /* as Wappalyzer spells it: "jQuery", "Apache HTTP Server" */
  char *affected;   /* version range, tsq-version.h syntax: ">=1.2.0 <3.5.0" */
  char *advisory;   /* "CVE-2020-11022" (or GHSA-..., SA-CORE-...) */
  char *severity;   /* low | medium | high | critical */
  char *summary;
  char *fixed_in; /* first fixed version(s), may be NULL when no fix exists */
  char *reference_url;
  char *ghsa; /* GitHub advisory id, may be NULL */
} TsqVulnerability;

typedef struct _TsqVulnDb TsqVulnDb;

TsqVulnDb *tsq_vuln_db_load (const char *path, GError **error);
TsqVulnDb *tsq_vuln_db_load_from_data (const char *data, gssize length, GError **error);
/* data/vulnerabilities.json from $TSQ_DATA_DIR, the source tree or the installed data dir. */
TsqVulnDb *tsq_vuln_db_load_default (GError **error);

TsqVulnDb *tsq_vuln_db_ref (TsqVulnDb *db);
void tsq_vuln_db_unref (TsqVulnDb *db);

/* New array (free it with g_ptr_array_unref) of borrowed TsqVulnerability* whose range contains
 * @version, in file order. @technology is compared case-insensitively. A NULL, empty or
 * unparseable version never matches. Never returns NULL. */
GPtrArray *tsq_vuln_db_match (TsqVulnDb *db, const char *technology, const char *version);
guint tsq_vuln_db_get_size (TsqVulnDb *db);
/* Entry @index in file order (borrowed), NULL when out of range. */
const TsqVulnerability *tsq_vuln_db_get (TsqVulnDb *db, guint index);

/* 0 low, 1 medium, 2 high, 3 critical, -1 for anything else. */
int tsq_vuln_severity_rank (const char *severity);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqVulnDb, tsq_vuln_db_unref)

G_END_DECLS
