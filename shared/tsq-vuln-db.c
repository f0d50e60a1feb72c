/* tsq-vuln-db.c: loads and queries data/vulnerabilities.json.
 *
 * The file is validated whole at load time (a typo in a range must fail the test suite, not
 * silently hide a vulnerability at scan time) and then never changes, which is what makes the
 * database safe to share between scanner threads without locks.
 */
#define G_LOG_DOMAIN "tsq-vuln-db"

#include "tsq-vuln-db.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "tsq-config.h"
#include "tsq-json-util.h"
#include "tsq-version.h"

G_DEFINE_QUARK (tsq - vuln - db - error - quark, tsq_vuln_db_error)

/* The real file is a few dozen KiB; anything this big is not a vulnerability list. */
#define MAX_FILE_SIZE (32 * 1024 * 1024)

typedef struct
{
  TsqVulnerability pub; /* first, so a TsqVulnerability* is an Entry* */
  TsqVersionRange *range;
} Entry;

struct _TsqVulnDb
{
  GPtrArray *entries;  /* Entry*, owned, file order */
  GHashTable *by_tech; /* casefolded technology -> GPtrArray of borrowed Entry* */
};

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->pub.technology);
  g_free (e->pub.affected);
  g_free (e->pub.advisory);
  g_free (e->pub.severity);
  g_free (e->pub.summary);
  g_free (e->pub.fixed_in);
  g_free (e->pub.reference_url);
  g_free (e->pub.ghsa);
  tsq_version_range_free (e->range);
  g_free (e);
}

static void
db_clear (gpointer data)
{
  TsqVulnDb *db = data;

  g_clear_pointer (&db->by_tech, g_hash_table_unref);
  g_clear_pointer (&db->entries, g_ptr_array_unref);
}

TsqVulnDb *
tsq_vuln_db_ref (TsqVulnDb *db)
{
  g_return_val_if_fail (db != NULL, NULL);
  return g_atomic_rc_box_acquire (db);
}

void
tsq_vuln_db_unref (TsqVulnDb *db)
{
  if (db != NULL)
    g_atomic_rc_box_release_full (db, db_clear);
}

int
tsq_vuln_severity_rank (const char *severity)
{
  static const char *const names[] = { "low", "medium", "high", "critical" };

  for (guint i = 0; severity != NULL && i < G_N_ELEMENTS (names); i++)
    if (strcmp (severity, names[i]) == 0)
      return i;
  return -1;
}

static gboolean entry_error (GError **error, guint index, const char *field, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

static gboolean
entry_error (GError **error, guint index, const char *field, const char *fmt, ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, fmt);
  reason = g_strdup_vprintf (fmt, args);
  va_end (args);
  if (field != NULL)
    g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_INVALID,
                 "vulnerabilities[%u]: field \"%s\": %s", index, field, reason);
  else
    g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_INVALID, "vulnerabilities[%u]: %s",
                 index, reason);
  return FALSE;
}

/* A required (or, with @optional, nullable) string member. */
static gboolean
get_string_field (
  JsonObject *obj, guint index, const char *field, gboolean optional, char **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, field);
  const char *value;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (optional)
        return TRUE;
      return entry_error (error, index, field, "missing");
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return entry_error (error, index, field, "must be a string");
  value = json_node_get_string (node);
  if (value == NULL || *value == '\0')
    return entry_error (error, index, field, "must not be empty");
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
load_entry (JsonNode *node, guint index, Entry **out, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  JsonObject *obj;
  Entry *e;

  *out = NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return entry_error (error, index, NULL, "not an object");
  obj = json_node_get_object (node);

  e = g_new0 (Entry, 1);
  if (!get_string_field (obj, index, "technology", FALSE, &e->pub.technology, error)
      || !get_string_field (obj, index, "affected", FALSE, &e->pub.affected, error)
      || !get_string_field (obj, index, "advisory", FALSE, &e->pub.advisory, error)
      || !get_string_field (obj, index, "severity", FALSE, &e->pub.severity, error)
      || !get_string_field (obj, index, "summary", FALSE, &e->pub.summary, error)
      || !get_string_field (obj, index, "reference_url", FALSE, &e->pub.reference_url, error)
      || !get_string_field (obj, index, "fixed_in", TRUE, &e->pub.fixed_in, error)
      || !get_string_field (obj, index, "ghsa", TRUE, &e->pub.ghsa, error))
    goto fail;

  e->range = tsq_version_range_parse (e->pub.affected, &local_error);
  if (e->range == NULL)
    {
      entry_error (error, index, "affected", "%s", local_error->message);
      goto fail;
    }
  if (tsq_vuln_severity_rank (e->pub.severity) < 0)
    {
      entry_error (error, index, "severity", "\"%s\" is not one of low, medium, high, critical",
                   e->pub.severity);
      goto fail;
    }
  if (!g_str_has_prefix (e->pub.reference_url, "https://")
      && !g_str_has_prefix (e->pub.reference_url, "http://"))
    {
      entry_error (error, index, "reference_url", "\"%s\" is not an http(s) URL",
                   e->pub.reference_url);
      goto fail;
    }
  if (e->pub.ghsa != NULL && !g_str_has_prefix (e->pub.ghsa, "GHSA-"))
    {
      entry_error (error, index, "ghsa", "\"%s\" does not start with GHSA-", e->pub.ghsa);
      goto fail;
    }
  if (e->pub.fixed_in != NULL)
    {
      /* One first-fixed version per affected branch: "3.4.1, 4.3.1". */
      g_auto (GStrv) fixed = g_strsplit (e->pub.fixed_in, ",", -1);

      for (guint f = 0; fixed[f] != NULL; f++)
        if (!tsq_version_is_valid (g_strstrip (fixed[f])))
          {
            entry_error (error, index, "fixed_in", "\"%s\" is not a version list", e->pub.fixed_in);
            goto fail;
          }
    }
  *out = e;
  return TRUE;

fail:
  entry_free (e);
  return FALSE;
}

TsqVulnDb *
tsq_vuln_db_load_from_data (const char *data, gssize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (entry_free);
  g_autoptr (GHashTable) by_tech = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonNode *root;
  JsonArray *list;
  TsqVulnDb *db;

  g_return_val_if_fail (data != NULL, NULL);

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_PARSE, "not valid JSON: %s",
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_PARSE,
                           "top level must be an object with a \"vulnerabilities\" array");
      return NULL;
    }
  list = tsq_json_get_array (json_node_get_object (root), "vulnerabilities");
  if (list == NULL)
    {
      g_set_error_literal (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_PARSE,
                           "missing \"vulnerabilities\" array");
      return NULL;
    }

  by_tech
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      Entry *e;
      g_autofree char *key = NULL;
      g_autofree char *dup_key = NULL;
      GPtrArray *bucket;
      gpointer first;

      if (!load_entry (json_array_get_element (list, i), i, &e, error))
        return NULL;
      g_ptr_array_add (entries, e);

      key = g_utf8_casefold (e->pub.technology, -1);
      /* The same advisory twice for one technology is a copy-paste slip: merge ranges with ||. */
      dup_key = g_strconcat (key, "\n", e->pub.advisory, NULL);
      if (g_hash_table_lookup_extended (seen, dup_key, NULL, &first))
        {
          entry_error (error, i, "advisory", "%s is already listed for %s in vulnerabilities[%u]",
                       e->pub.advisory, e->pub.technology, GPOINTER_TO_UINT (first));
          return NULL;
        }
      g_hash_table_insert (seen, g_steal_pointer (&dup_key), GUINT_TO_POINTER (i));

      bucket = g_hash_table_lookup (by_tech, key);
      if (bucket == NULL)
        {
          bucket = g_ptr_array_new ();
          g_hash_table_insert (by_tech, g_steal_pointer (&key), bucket);
        }
      g_ptr_array_add (bucket, e);
    }

  db = g_atomic_rc_box_new0 (TsqVulnDb);
  db->entries = g_steal_pointer (&entries);
  db->by_tech = g_steal_pointer (&by_tech);
  return db;
}

TsqVulnDb *
tsq_vuln_db_load (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileInfo) info = NULL;
  TsqVulnDb *db;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);

  /* Check the size first: g_file_get_contents would happily read a multi-GiB file. */
  file = g_file_new_for_path (path);
  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE, NULL,
                            &local_error);
  if (info == NULL)
    {
      g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_IO, "%s", local_error->message);
      return NULL;
    }
  if (g_file_info_get_size (info) > MAX_FILE_SIZE)
    {
      g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_IO,
                   "%s: larger than %d bytes, refusing to load", path, MAX_FILE_SIZE);
      return NULL;
    }
  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_IO, "%s", local_error->message);
      return NULL;
    }
  db = tsq_vuln_db_load_from_data (contents, length, &local_error);
  if (db == NULL)
    {
      g_set_error (error, TSQ_VULN_DB_ERROR, local_error->code, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  return db;
}

TsqVulnDb *
tsq_vuln_db_load_default (GError **error)
{
  const char *env = g_getenv ("TSQ_DATA_DIR");
  const char *dirs[] = { env, TSQ_SOURCE_DATADIR, TSQ_PKGDATADIR };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = NULL;

      if (dirs[i] == NULL || *dirs[i] == '\0')
        continue;
      path = g_build_filename (dirs[i], "vulnerabilities.json", NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return tsq_vuln_db_load (path, error);
    }
  g_set_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_IO,
               "vulnerabilities.json not found in $TSQ_DATA_DIR, %s or %s", TSQ_SOURCE_DATADIR,
               TSQ_PKGDATADIR);
  return NULL;
}

GPtrArray *
tsq_vuln_db_match (TsqVulnDb *db, const char *technology, const char *version)
{
  GPtrArray *result = g_ptr_array_new ();
  g_autofree char *key = NULL;
  GPtrArray *bucket;

  g_return_val_if_fail (db != NULL, result);

  if (technology == NULL || version == NULL || *version == '\0'
      || !g_utf8_validate (technology, -1, NULL))
    return result;
  key = g_utf8_casefold (technology, -1);
  bucket = g_hash_table_lookup (db->by_tech, key);
  for (guint i = 0; bucket != NULL && i < bucket->len; i++)
    {
      Entry *e = g_ptr_array_index (bucket, i);

      if (tsq_version_range_contains (e->range, version))
        g_ptr_array_add (result, &e->pub);
    }
  return result;
}

guint
tsq_vuln_db_get_size (TsqVulnDb *db)
{
  g_return_val_if_fail (db != NULL, 0);
  return db->entries->len;
}

const TsqVulnerability *
tsq_vuln_db_get (TsqVulnDb *db, guint index)
{
  g_return_val_if_fail (db != NULL, NULL);
  if (index >= db->entries->len)
    return NULL;
  return &((Entry *)g_ptr_array_index (db->entries, index))->pub;
}
