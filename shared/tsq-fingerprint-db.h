/* tsq-fingerprint-db.h: technology fingerprints in the Wappalyzer / webappanalyzer format.
 *
 * Loads technologies.json (or webappanalyzer's split technologies/[a-z_].json) and
 * categories.json and evaluates them with the semantics of Wappalyzer's own engine
 * (wappalyzer-core 6.10: analyze + resolve, plus the driver's requires/requiresCategory passes
 * and `dom` patterns). See docs/fingerprints.md. */
#pragma once

#include <glib-object.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

#define TSQ_FINGERPRINT_ERROR (tsq_fingerprint_error_quark ())

typedef enum
{
  TSQ_FINGERPRINT_ERROR_IO,        /* cannot read a file or directory */
  TSQ_FINGERPRINT_ERROR_PARSE,     /* malformed JSON or a structure that is not a fingerprint set */
  TSQ_FINGERPRINT_ERROR_PATTERN,   /* a bad regex (only in strict mode, else skipped and counted) */
  TSQ_FINGERPRINT_ERROR_NOT_FOUND, /* no technologies.json / technologies dir at path */
} TsqFingerprintError;

GQuark tsq_fingerprint_error_quark (void);

typedef struct
{
  const char *url;
  GHashTable *headers; /* lower-case name -> char* value (may be NULL) */
  GHashTable *cookies; /* name -> char* value (may be NULL) */
  GHashTable *meta; /* lower-case meta name/property -> GPtrArray of char* contents (may be NULL) */
  const char *html; /* the document text, UTF-8 (may be NULL) */
  GPtrArray *script_src; /* char*: <script src> attribute values as written in the page */
  GPtrArray *scripts;    /* char*: inline script texts and fetched linked script bodies */
  GPtrArray *css;        /* char*: inline <style> texts and fetched stylesheet bodies */
  xmlDoc *dom;           /* parsed HTML document for `dom` patterns (may be NULL) */
} TsqFingerprintInput;

typedef struct
{
  char *name;
  char *version;    /* NULL if unknown */
  int confidence;   /* 0..100 */
  GStrv categories; /* category names */
  char *website;
} TsqDetection;

void tsq_detection_free (TsqDetection *detection);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqDetection, tsq_detection_free)

typedef struct
{
  guint technologies_loaded;
  GHashTable *skipped; /* kind name -> GUINT count of patterns not evaluated (js, xhr, dns, robots,
                        * probe, certIssuer, text, dom (unsupported selectors, properties, or all
                        * dom patterns when no document was given), invalid-regex) */
} TsqFingerprintStats;

void tsq_fingerprint_stats_clear (TsqFingerprintStats *stats);

#define TSQ_TYPE_FINGERPRINT_DB (tsq_fingerprint_db_get_type ())
G_DECLARE_FINAL_TYPE (TsqFingerprintDb, tsq_fingerprint_db, TSQ, FINGERPRINT_DB, GObject)

TsqFingerprintDb *tsq_fingerprint_db_new (void);

/* Strict mode: a regex that cannot be compiled fails the load (TSQ_FINGERPRINT_ERROR_PATTERN
 * naming the file and technology) instead of being skipped and counted. Default FALSE. */
void tsq_fingerprint_db_set_strict (TsqFingerprintDb *db, gboolean strict);

/* path: a directory holding categories.json and either technologies.json or technologies/ *.json
 * (webappanalyzer's split a.json..z.json, _.json), or a technologies.json file (categories.json
 * looked up beside it). May be called more than once: sets merge, a later definition of the same
 * name replaces the earlier one. Malformed JSON: GError naming the file (and technology). A bad
 * regex is skipped, counted (stats "invalid-regex") and described by get_warnings(), unless
 * strict. Not thread-safe: load before sharing the db between threads. */
gboolean tsq_fingerprint_db_load (TsqFingerprintDb *db, const char *path, GError **error);

guint tsq_fingerprint_db_get_size (TsqFingerprintDb *db);

/* Messages about skipped patterns and dangling references ("file: technology: ..."). */
const char *const *tsq_fingerprint_db_get_warnings (TsqFingerprintDb *db);

/* Thread-safe: may run concurrently from several threads on one db. Returns TsqDetection*,
 * sorted by name. */
GPtrArray *tsq_fingerprint_db_analyze (TsqFingerprintDb *db,
                                       const TsqFingerprintInput *input,
                                       TsqFingerprintStats *stats /* nullable out */);

/* A technology's category names, NULL if unknown. */
const char *const *tsq_fingerprint_db_get_categories (TsqFingerprintDb *db, const char *name);

G_END_DECLS
