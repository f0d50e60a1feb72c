/* fingerprint-test.c: the Wappalyzer-format fingerprint engine on small inline sets. */
#include "tsq-fingerprint-db.h"
#include "tsq-fingerprint-pattern.h"

#include <glib/gstdio.h>
#include <libxml/HTMLparser.h>
#include <string.h>

static const char *categories_json
  = "{\"1\":{\"name\":\"CMS\",\"priority\":1},\"2\":{\"name\":\"Analytics\",\"priority\":5},"
    "\"3\":{\"name\":\"Programming languages\",\"priority\":4},\"4\":{\"name\":\"Databases\","
    "\"priority\":4},\"5\":{\"name\":\"Widgets\",\"priority\":9}}";

static char *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("tsq-fp-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_dir_close (dir);
    }
  g_remove (path);
}

/* A db loaded from a technologies.json text (with the categories above). */
static TsqFingerprintDb *
load_set (const char *technologies_json)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr (GError) error = NULL;
  TsqFingerprintDb *db = tsq_fingerprint_db_new ();

  write_file (dir, "categories.json", categories_json);
  write_file (dir, "technologies.json", technologies_json);
  g_assert_true (tsq_fingerprint_db_load (db, dir, &error));
  g_assert_no_error (error);
  remove_tree (dir);
  return db;
}

static GPtrArray *
strings (const char *first, ...)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  va_list args;
  const char *s;

  va_start (args, first);
  for (s = first; s != NULL; s = va_arg (args, const char *))
    g_ptr_array_add (a, g_strdup (s));
  va_end (args);
  return a;
}

static TsqDetection *
find (GPtrArray *found, const char *name)
{
  guint i;

  for (i = 0; i < found->len; i++)
    {
      TsqDetection *d = g_ptr_array_index (found, i);

      if (g_str_equal (d->name, name))
        return d;
    }
  return NULL;
}

static GPtrArray *
analyze_html (TsqFingerprintDb *db, const char *html)
{
  TsqFingerprintInput in = { 0 };

  in.html = html;
  return tsq_fingerprint_db_analyze (db, &in, NULL);
}

/* ---- kinds -------------------------------------------------------------------------------- */

static void
test_kinds (void)
{
  g_autoptr (TsqFingerprintDb) db
    = load_set ("{"
                "\"HeaderTech\":{\"cats\":[1],\"website\":\"https://h.example\","
                "  \"headers\":{\"X-Powered-By\":\"HeaderTech/([\\\\d.]+)\\\\;version:\\\\1\"}},"
                "\"CookieTech\":{\"cats\":[2],\"cookies\":{\"SESS_ID\":\"\"}},"
                "\"MetaTech\":{\"cats\":[1],\"meta\":{\"generator\":\"^MetaTech "
                "([\\\\d.]+)\\\\;version:\\\\1\"}},"
                "\"HtmlTech\":{\"cats\":[1],\"html\":\"<div id=\\\"html-tech\\\"\"},"
                "\"SrcTech\":{\"cats\":[5],\"scriptSrc\":[\"nomatch\\\\.js\",\"srctech[.-]([\\\\d.]"
                "+)\\\\.js\\\\;version:\\\\1\"]},"
                "\"ScriptTech\":{\"cats\":[2],\"scripts\":\"ScriptTech\\\\.init\\\\(\"},"
                "\"CssTech\":{\"cats\":[5],\"css\":\"\\\\.csstech-grid\\\\{\"},"
                "\"UrlTech\":{\"cats\":[1],\"url\":\"^https?://[^/]+/shop/\"},"
                "\"Absent\":{\"cats\":[1],\"html\":\"never-there\"}"
                "}");
  g_autoptr (GHashTable) headers = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) cookies = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) meta
    = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
  g_autoptr (GPtrArray) src
    = strings ("/js/jquery.js", "https://cdn.example/srctech-2.4.1.js", NULL);
  g_autoptr (GPtrArray) scripts = strings ("var a = 1;", "ScriptTech.init({});", NULL);
  g_autoptr (GPtrArray) css = strings ("body{}", ".CssTech-grid{display:grid}", NULL);
  g_autoptr (GPtrArray) found = NULL;
  TsqFingerprintInput in = { 0 };
  TsqDetection *d;

  g_hash_table_insert (headers, "x-powered-by", "HeaderTech/3.2");
  g_hash_table_insert (cookies, "sess_id", "abc");
  g_hash_table_insert (meta, "generator", strings ("MetaTech 7.1", NULL));
  in.url = "https://shop.example/shop/cart";
  in.headers = headers;
  in.cookies = cookies;
  in.meta = meta;
  in.html = "<html><body><DIV ID=\"html-tech\"></DIV></body></html>";
  in.script_src = src;
  in.scripts = scripts;
  in.css = css;
  found = tsq_fingerprint_db_analyze (db, &in, NULL);

  g_assert_cmpuint (found->len, ==, 8);
  d = find (found, "HeaderTech");
  g_assert_nonnull (d);
  g_assert_cmpstr (d->version, ==, "3.2");
  g_assert_cmpint (d->confidence, ==, 100);
  g_assert_cmpstr (d->website, ==, "https://h.example");
  g_assert_cmpstrv (d->categories, ((const char *const[]){ "CMS", NULL }));
  g_assert_nonnull (find (found, "CookieTech"));
  g_assert_cmpstr (find (found, "MetaTech")->version, ==, "7.1");
  /* case-insensitive: the pattern is lower-case, the page upper-case */
  g_assert_nonnull (find (found, "HtmlTech"));
  g_assert_cmpstr (find (found, "SrcTech")->version, ==, "2.4.1");
  g_assert_nonnull (find (found, "ScriptTech"));
  g_assert_nonnull (find (found, "CssTech"));
  g_assert_nonnull (find (found, "UrlTech"));
  g_assert_null (find (found, "Absent"));
  g_assert_null (find (found, "CookieTech")->version);

  /* sorted by name */
  g_assert_cmpstr (((TsqDetection *)g_ptr_array_index (found, 0))->name, ==, "CookieTech");
  g_assert_cmpstr (((TsqDetection *)g_ptr_array_index (found, 7))->name, ==, "UrlTech");
}

static void
test_dom (void)
{
  g_autoptr (TsqFingerprintDb) db = load_set (
    "{"
    "\"DomExists\":{\"cats\":[1],\"dom\":\"#app > .widget[data-v]\"},"
    "\"DomList\":{\"cats\":[1],\"dom\":[\"nav.nothing\",\"footer a[href*='example.org']\"]},"
    "\"DomText\":{\"cats\":[1],\"dom\":{\"p.powered\":{\"text\":\"Powered by DomText "
    "([\\\\d.]+)\\\\;version:\\\\1\"}}},"
    "\"DomAttr\":{\"cats\":[1],\"dom\":{\"[ng-version]\":{\"attributes\":{\"ng-version\":\"^(["
    "\\\\d.]+)\\\\;version:\\\\1\"}}}},"
    "\"DomProp\":{\"cats\":[1],\"dom\":{\"body\":{\"properties\":{\"_reactRootContainer\":\"\"}}}},"
    "\"DomBad\":{\"cats\":[1],\"dom\":\"a:hover\"},"
    "\"DomNo\":{\"cats\":[1],\"dom\":{\"p.powered\":{\"text\":\"Nothing here\"}}}"
    "}");
  const char *html = "<html><body><div id=app><div class='x widget' data-v=1></div></div>"
                     "<p class=powered>  Powered by DomText 2.0  </p>"
                     "<span ng-version='16.2.1'></span>"
                     "<footer><a href='https://www.example.org/x'>x</a></footer></body></html>";
  htmlDocPtr doc = htmlReadMemory (html, (int)strlen (html), NULL, "UTF-8",
                                   HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
  TsqFingerprintInput in = { 0 };
  TsqFingerprintStats stats = { 0 };
  g_autoptr (GPtrArray) found = NULL;
  g_autoptr (GPtrArray) without = NULL;

  in.html = html;
  in.dom = doc;
  found = tsq_fingerprint_db_analyze (db, &in, &stats);
  g_assert_nonnull (find (found, "DomExists"));
  g_assert_nonnull (find (found, "DomList"));
  g_assert_cmpstr (find (found, "DomText")->version, ==, "2.0");
  g_assert_cmpstr (find (found, "DomAttr")->version, ==, "16.2.1");
  g_assert_null (find (found, "DomProp"));
  g_assert_null (find (found, "DomBad"));
  g_assert_null (find (found, "DomNo"));
  g_assert_cmpuint (found->len, ==, 4);
  /* one property and one unsupported selector */
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "dom")), ==, 2);
  tsq_fingerprint_stats_clear (&stats);

  /* without a document the dom patterns are skipped and counted */
  in.dom = NULL;
  without = tsq_fingerprint_db_analyze (db, &in, &stats);
  g_assert_cmpuint (without->len, ==, 0);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "dom")), ==, 2 + 6);
  tsq_fingerprint_stats_clear (&stats);
  xmlFreeDoc (doc);
}

/* ---- tags and resolution ------------------------------------------------------------------ */

static void
test_tags (void)
{
  g_autoptr (TsqFingerprintDb) db = load_set (
    "{"
    "\"Ternary\":{\"cats\":[1],\"html\":\"ternary(-pro)?\\\\;version:\\\\1?Pro:Free\"},"
    "\"Conf\":{\"cats\":[1],\"html\":\"conf-a\\\\;confidence:30\"},"
    "\"Conf2\":{\"cats\":[1],\"html\":[\"conf-a\\\\;confidence:60\",\"conf-b\\\\;confidence:70\","
    "  \"conf-c\\\\;confidence:10\"]},"
    "\"Literal\":{\"cats\":[1],\"html\":\"literal-version\\\\;version:beta\"}"
    "}");
  g_autoptr (GPtrArray) a = analyze_html (db, "ternary-pro conf-a conf-b literal-version");
  g_autoptr (GPtrArray) b = analyze_html (db, "ternary conf-c");

  g_assert_cmpstr (find (a, "Ternary")->version, ==, "Pro");
  g_assert_cmpstr (find (b, "Ternary")->version, ==, "Free");
  g_assert_cmpint (find (a, "Conf")->confidence, ==, 30);
  /* confidences of the matching patterns add up, capped at 100 */
  g_assert_cmpint (find (a, "Conf2")->confidence, ==, 100);
  g_assert_cmpint (find (b, "Conf2")->confidence, ==, 10);
  g_assert_cmpstr (find (a, "Literal")->version, ==, "beta");
  g_assert_null (find (a, "Conf")->version);
}

static void
test_version_choice (void)
{
  g_autoptr (TsqFingerprintDb) db
    = load_set ("{\"V\":{\"cats\":[1],\"scriptSrc\":\"v-([\\\\w.]+)\\\\.js\\\\;version:\\\\1\"}}");
  TsqFingerprintInput in = { 0 };
  g_autoptr (GPtrArray) src1 = strings ("v-1.2.js", "v-1.2.10.js", "v-1.3.99.js", "v-20240101.js",
                                        "v-1.2.3.4.5.6.7.8.9.js", NULL);
  g_autoptr (GPtrArray) found = NULL;

  /* longest wins (the first of equal length), at most 15 chars, not >= 10000 as a number */
  in.script_src = src1;
  found = tsq_fingerprint_db_analyze (db, &in, NULL);
  g_assert_cmpstr (find (found, "V")->version, ==, "1.2.10");
}

static void
test_resolve_version (void)
{
  const char *g1[] = { "x-1.2", "1.2" };
  const char *gnull[] = { "x", NULL };
  const char *glongv[] = { "x", "12345678901" };
  const char *g2[] = { "ab", "a", "b" };
  g_autofree char *v1 = tsq_fp_resolve_version ("\\1", g1, 2);
  g_autofree char *v2 = tsq_fp_resolve_version ("\\1?yes:no", gnull, 2);
  g_autofree char *v3 = tsq_fp_resolve_version ("\\1?yes:no", g1, 2);
  g_autofree char *v4 = tsq_fp_resolve_version ("\\1", glongv, 2);
  g_autofree char *v5 = tsq_fp_resolve_version ("\\1.\\2", g2, 3);
  g_autofree char *v6 = tsq_fp_resolve_version ("v\\1", gnull, 2);
  g_autofree char *v7 = tsq_fp_resolve_version ("", g1, 2);

  g_assert_cmpstr (v1, ==, "1.2");
  g_assert_cmpstr (v2, ==, "no");
  g_assert_cmpstr (v3, ==, "yes");
  /* a group longer than 10 chars is not substituted; the left-over \1 is removed */
  g_assert_cmpstr (v4, ==, "");
  g_assert_cmpstr (v5, ==, "a.b");
  g_assert_cmpstr (v6, ==, "v");
  g_assert_cmpstr (v7, ==, "");
}

static void
test_implies_excludes (void)
{
  g_autoptr (TsqFingerprintDb) db
    = load_set ("{"
                "\"WordPress\":{\"cats\":[1],\"html\":\"wp-content\\\\;confidence:80\","
                "  \"implies\":[\"PHP\",\"MySQL\\\\;confidence:50\"]},"
                "\"PHP\":{\"cats\":[3],\"implies\":\"Zend\\\\;version:7\"},"
                "\"Zend\":{\"cats\":[3]},"
                "\"MySQL\":{\"cats\":[4]},"
                "\"Joomla\":{\"cats\":[1],\"html\":\"joomla\",\"excludes\":\"Drupal\"},"
                "\"Drupal\":{\"cats\":[1],\"html\":\"drupal\"},"
                "\"Dangling\":{\"cats\":[1],\"html\":\"dangling\",\"implies\":\"Ghost\"}"
                "}");
  g_autoptr (GPtrArray) found = analyze_html (db, "wp-content joomla drupal");
  g_autoptr (GPtrArray) dangling = analyze_html (db, "dangling");
  const char *const *warnings = tsq_fingerprint_db_get_warnings (db);
  TsqDetection *d;

  g_assert_cmpint (find (found, "WordPress")->confidence, ==, 80);
  /* implied: min (implier's confidence, the implies tag's) */
  g_assert_cmpint (find (found, "PHP")->confidence, ==, 80);
  g_assert_cmpint (find (found, "MySQL")->confidence, ==, 50);
  d = find (found, "Zend");
  g_assert_nonnull (d);
  g_assert_cmpstr (d->version, ==, "7");
  g_assert_cmpint (d->confidence, ==, 80);
  g_assert_nonnull (find (found, "Joomla"));
  g_assert_null (find (found, "Drupal"));
  g_assert_cmpuint (found->len, ==, 5);
  g_assert_cmpstrv (tsq_fingerprint_db_get_categories (db, "MySQL"),
                    ((const char *const[]){ "Databases", NULL }));
  g_assert_null (tsq_fingerprint_db_get_categories (db, "Nope"));
  /* an unknown implied technology is ignored and noted */
  g_assert_cmpuint (dangling->len, ==, 1);
  g_assert_nonnull (warnings[0]);
  g_assert_nonnull (strstr (warnings[0], "Ghost"));
}

static void
test_requires (void)
{
  g_autoptr (TsqFingerprintDb) db = load_set (
    "{"
    "\"WordPress\":{\"cats\":[1],\"meta\":{\"generator\":\"^WordPress\"},\"implies\":\"PHP\"},"
    "\"PHP\":{\"cats\":[3]},"
    "\"Yoast\":{\"cats\":[2],\"requires\":\"WordPress\",\"html\":\"yoast-seo\"},"
    "\"YoastAddon\":{\"cats\":[2],\"requires\":\"Yoast\",\"html\":\"yoast-addon\"},"
    "\"PhpThing\":{\"cats\":[5],\"requires\":\"PHP\",\"html\":\"php-thing\"},"
    "\"CmsWidget\":{\"cats\":[5],\"requiresCategory\":1,\"html\":\"cms-widget\"}"
    "}");
  g_autoptr (GHashTable) meta
    = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
  const char *html = "yoast-seo yoast-addon php-thing cms-widget";
  TsqFingerprintInput in = { 0 };
  g_autoptr (GPtrArray) with = NULL;
  g_autoptr (GPtrArray) without = NULL;

  in.html = html;
  /* nothing required is present: none of them */
  without = tsq_fingerprint_db_analyze (db, &in, NULL);
  g_assert_cmpuint (without->len, ==, 0);

  g_hash_table_insert (meta, "generator", strings ("WordPress 6.4", NULL));
  in.meta = meta;
  with = tsq_fingerprint_db_analyze (db, &in, NULL);
  g_assert_nonnull (find (with, "Yoast"));
  /* chains: YoastAddon requires Yoast, found in a later pass */
  g_assert_nonnull (find (with, "YoastAddon"));
  /* requires an implied technology */
  g_assert_nonnull (find (with, "PhpThing"));
  /* requiresCategory: WordPress is a CMS (category 1) */
  g_assert_nonnull (find (with, "CmsWidget"));
  g_assert_cmpuint (with->len, ==, 6);
}

/* ---- loading ------------------------------------------------------------------------------ */

static void
test_load_split_and_merge (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *split = g_build_filename (dir, "technologies", NULL);
  g_autofree char *single_dir = g_build_filename (dir, "own", NULL);
  g_autofree char *single = g_build_filename (single_dir, "mine.json", NULL);
  g_autoptr (TsqFingerprintDb) db = tsq_fingerprint_db_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) found = NULL;

  g_assert_cmpint (g_mkdir (split, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (single_dir, 0700), ==, 0);
  write_file (dir, "categories.json", categories_json);
  write_file (split, "a.json", "{\"Alpha\":{\"cats\":[1],\"html\":\"alpha-old\"}}");
  write_file (split, "b.json", "{\"Beta\":{\"cats\":[2],\"html\":\"beta\"}}");
  write_file (split, "_.json", "{\"_Under\":{\"cats\":[2],\"html\":\"under\"}}");
  write_file (split, "notes.txt", "not json");
  /* a single file, no categories.json beside it: known category ids still resolve */
  write_file (single_dir, "mine.json",
              "{\"Alpha\":{\"cats\":[5],\"html\":\"alpha-new\"},\"Gamma\":{\"cats\":[1],"
              "\"html\":\"gamma\"}}");

  g_assert_true (tsq_fingerprint_db_load (db, dir, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tsq_fingerprint_db_get_size (db), ==, 3);
  found = analyze_html (db, "alpha-old beta under");
  g_assert_cmpuint (found->len, ==, 3);
  g_clear_pointer (&found, g_ptr_array_unref);

  g_assert_true (tsq_fingerprint_db_load (db, single, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tsq_fingerprint_db_get_size (db), ==, 4);
  /* the later Alpha replaced the earlier one */
  found = analyze_html (db, "alpha-old gamma");
  g_assert_null (find (found, "Alpha"));
  g_assert_nonnull (find (found, "Gamma"));
  g_clear_pointer (&found, g_ptr_array_unref);
  found = analyze_html (db, "alpha-new");
  g_assert_cmpstrv (find (found, "Alpha")->categories, ((const char *const[]){ "Widgets", NULL }));

  remove_tree (dir);
}

static void
test_load_errors (void)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *missing = g_build_filename (dir, "nope", NULL);
  g_autoptr (TsqFingerprintDb) db = tsq_fingerprint_db_new ();
  g_autoptr (GError) error = NULL;
  TsqFingerprintStats stats = { 0 };
  TsqFingerprintInput in = { 0 };
  g_autoptr (GPtrArray) found = NULL;
  const char *const *warnings;

  /* missing path */
  g_assert_false (tsq_fingerprint_db_load (db, missing, &error));
  g_assert_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* directory without technologies */
  g_assert_false (tsq_fingerprint_db_load (db, dir, &error));
  g_assert_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* malformed JSON names the file */
  write_file (dir, "technologies.json", "{\"A\":{\"html\":\"x\"},");
  g_assert_false (tsq_fingerprint_db_load (db, dir, &error));
  g_assert_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "technologies.json"));
  g_clear_error (&error);

  /* a technology that is not an object names file and technology; nothing is committed */
  write_file (dir, "technologies.json", "{\"Good\":{\"html\":\"good\"},\"Broken\":[1,2]}");
  g_assert_false (tsq_fingerprint_db_load (db, dir, &error));
  g_assert_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "Broken"));
  g_assert_nonnull (strstr (error->message, "technologies.json"));
  g_assert_cmpuint (tsq_fingerprint_db_get_size (db), ==, 0);
  g_clear_error (&error);

  /* a bad regex is skipped, counted and described; the rest loads */
  write_file (
    dir, "technologies.json",
    "{\"Good\":{\"html\":\"good\"},\"BadRe\":{\"html\":[\"(unclosed\",\"fine\"],"
    "\"js\":{\"a\":\"\",\"b\":\"\"},\"xhr\":\"api\\\\.x\",\"dns\":{\"TXT\":[\"a\",\"b\"]},"
    "\"text\":\"t\",\"robots\":\"r\",\"probe\":{\"/x\":\"\"},\"certIssuer\":\"c\"}}");
  g_assert_true (tsq_fingerprint_db_load (db, dir, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tsq_fingerprint_db_get_size (db), ==, 2);
  warnings = tsq_fingerprint_db_get_warnings (db);
  g_assert_nonnull (warnings[0]);
  g_assert_nonnull (strstr (warnings[0], "BadRe"));
  g_assert_nonnull (strstr (warnings[0], "technologies.json"));
  in.html = "good fine";
  found = tsq_fingerprint_db_analyze (db, &in, &stats);
  g_assert_cmpuint (found->len, ==, 2);
  g_assert_cmpuint (stats.technologies_loaded, ==, 2);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "invalid-regex")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "js")), ==, 2);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "xhr")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "dns")), ==, 2);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "text")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "robots")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "probe")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (stats.skipped, "certIssuer")), ==, 1);
  tsq_fingerprint_stats_clear (&stats);

  /* strict mode: the bad regex fails the load, naming file and technology */
  {
    g_autoptr (TsqFingerprintDb) strict = tsq_fingerprint_db_new ();

    tsq_fingerprint_db_set_strict (strict, TRUE);
    g_assert_false (tsq_fingerprint_db_load (strict, dir, &error));
    g_assert_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PATTERN);
    g_assert_nonnull (strstr (error->message, "BadRe"));
    g_assert_nonnull (strstr (error->message, "technologies.json"));
    g_clear_error (&error);
  }
  remove_tree (dir);
}

/* ---- regex translation -------------------------------------------------------------------- */

static gboolean
js_matches (const char *js, const char *subject)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFpPattern) p = tsq_fp_pattern_new (js, TRUE, &error);
  g_autofree char *lower = g_ascii_strdown (subject, -1);

  g_assert_no_error (error);
  g_assert_nonnull (p);
  /* the prefilter must never reject a real match */
  if (tsq_fp_pattern_match (p, subject, -1, 0, FALSE, NULL))
    {
      g_assert_true (tsq_fp_pattern_prefilter (p, lower, strlen (lower)));
      return TRUE;
    }
  return FALSE;
}

static void
test_js_regex (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lits = NULL;
  g_autofree char *pre = tsq_fp_wappalyzer_preprocess ("a+b*c\\+/d");
  g_autofree char *pcre = NULL;
  int max = 0;

  /* Wappalyzer's parsePattern rewrites */
  g_assert_cmpstr (pre, ==, "a{1,250}b{0,250}c\\+\\/d");

  /* JS (Annex B) syntax PCRE2 rejects or reads differently */
  g_assert_true (js_matches ("a[^]b", "a\nb"));
  g_assert_false (js_matches ("a[]b", "ab"));
  g_assert_true (js_matches ("\\_x\\i", "_xi"));
  g_assert_true (js_matches ("v\\8", "v8"));
  g_assert_true (js_matches ("a\\1", "a\x01"));
  g_assert_true (js_matches ("(a)\\1", "aa"));
  g_assert_true (js_matches ("x]y", "x]y"));
  g_assert_true (js_matches ("x{y", "x{y"));
  g_assert_true (js_matches ("[\\d-z]", "-"));
  g_assert_true (js_matches ("[[:a]", ":"));
  g_assert_true (js_matches ("\\u00e9t\\u00E9", "\xc3\xa9t\xc3\xa9"));
  g_assert_true (js_matches ("\\x41", "a"));
  g_assert_true (js_matches ("(?<=foo)bar", "foobar"));
  g_assert_true (js_matches ("(?<v>\\d)-\\k<v>", "1-1"));
  /* $ is the end only (JS), not before a final newline (PCRE's default) */
  g_assert_false (js_matches ("end$", "the end\n"));
  g_assert_true (js_matches ("end$", "the end"));
  /* case-insensitive */
  g_assert_true (js_matches ("jquery", "JQuery"));
  g_assert_true (js_matches ("JQUERY", "jquery"));
  /* . does not match line terminators */
  g_assert_false (js_matches ("a.b", "a\nb"));
  g_assert_false (js_matches ("a.b", "a\rb"));

  /* syntax errors */
  g_assert_null (tsq_fp_js_regex_to_pcre ("(a", NULL, NULL, &error));
  g_assert_error (error, TSQ_FP_PATTERN_ERROR, TSQ_FP_PATTERN_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_null (tsq_fp_js_regex_to_pcre ("a)", NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_null (tsq_fp_js_regex_to_pcre ("{1,2}", NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_null (tsq_fp_js_regex_to_pcre ("a\\", NULL, NULL, &error));
  g_clear_error (&error);

  /* literal prefilters */
  pcre = tsq_fp_js_regex_to_pcre ("<script[^>]{1,250}src=\"[^\"]{0,250}Tilda(?:cdn|\\.ws)", &lits,
                                  &max, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (lits, ((const char *const[]){ "tildacdn", "tilda.ws", NULL }));
  g_assert_cmpint (max, <, 5000);
  g_clear_pointer (&lits, g_strfreev);
  g_clear_pointer (&pcre, g_free);
  pcre = tsq_fp_js_regex_to_pcre ("href=[\"']wss?://", &lits, &max, &error);
  g_assert_cmpuint (g_strv_length (lits), ==, 4);
  g_assert_true (g_strv_contains ((const char *const *)lits, "href='wss://"));
  g_clear_pointer (&lits, g_strfreev);
  g_clear_pointer (&pcre, g_free);
  pcre = tsq_fp_js_regex_to_pcre ("(?:foo|.{0,3})bar", &lits, &max, &error);
  g_assert_cmpstrv (lits, ((const char *const[]){ "bar", NULL }));
  g_clear_pointer (&lits, g_strfreev);
  g_clear_pointer (&pcre, g_free);
  pcre = tsq_fp_js_regex_to_pcre ("\\d{1,250}", &lits, &max, &error);
  g_assert_null (lits);
  g_assert_cmpint (max, ==, 1000);
  g_clear_pointer (&pcre, g_free);
  pcre = tsq_fp_js_regex_to_pcre ("a(b)\\1", &lits, &max, &error);
  g_assert_cmpint (max, ==, G_MAXINT);
  g_clear_pointer (&lits, g_strfreev);

  g_assert_cmpint (tsq_fp_js_parse_int (" 42abc"), ==, 42);
  g_assert_cmpint (tsq_fp_js_parse_int ("-3"), ==, -3);
  g_assert_cmpint (tsq_fp_js_parse_int ("v1"), ==, 0);
}

/* A match far into a long text, found through the literal prefilter and the start offset. */
static void
test_long_text (void)
{
  g_autoptr (TsqFingerprintDb) db = load_set (
    "{\"Far\":{\"cats\":[1],\"html\":\"<link[^>]+far-lib-([\\\\d.]+)\\\\.css\\\\;version:\\\\1\"},"
    "\"Behind\":{\"cats\":[1],\"html\":\"(?<=data-behind=)x([0-9])\\\\;version:\\\\1\"},"
    "\"Anchored\":{\"cats\":[1],\"html\":\"^<!doctype html>\\\\s*<html lang=\\\"zz\\\"\"}}");
  GString *html = g_string_new ("<!DOCTYPE html>\n<html lang=\"zz\">");
  g_autoptr (GPtrArray) found = NULL;
  guint i;

  for (i = 0; i < 20000; i++)
    g_string_append (html, "<div class=\"filler\">some text far-lib </div>\n");
  g_string_append (html, "<link rel=stylesheet href=\"/far-lib-1.4.2.css\">data-behind=x7");
  found = analyze_html (db, html->str);
  g_assert_cmpstr (find (found, "Far")->version, ==, "1.4.2");
  g_assert_cmpstr (find (found, "Behind")->version, ==, "7");
  g_assert_nonnull (find (found, "Anchored"));
  g_string_free (html, TRUE);
}

static void
test_invalid_utf8 (void)
{
  g_autoptr (TsqFingerprintDb) db
    = load_set ("{\"U\":{\"cats\":[1],\"html\":\"caf.-([\\\\d]+)\\\\;version:\\\\1\","
                "\"headers\":{\"server\":\"^U\"}}}");
  g_autoptr (GHashTable) headers = g_hash_table_new (g_str_hash, g_str_equal);
  TsqFingerprintInput in = { 0 };
  g_autoptr (GPtrArray) found = NULL;

  g_hash_table_insert (headers, "server", "U\xff\xfe");
  in.html = "caf\xe9-12 \xc3\x28";
  in.headers = headers;
  found = tsq_fingerprint_db_analyze (db, &in, NULL);
  g_assert_nonnull (find (found, "U"));
  g_assert_cmpstr (find (found, "U")->version, ==, "12");
}

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct
{
  TsqFingerprintDb *db;
  const char *html;
  guint found;
} ThreadData;

static gpointer
analyze_thread (gpointer data)
{
  ThreadData *td = data;
  guint i;

  for (i = 0; i < 200; i++)
    {
      g_autoptr (GPtrArray) found = analyze_html (td->db, td->html);

      if (i == 0)
        td->found = found->len;
      else
        g_assert_cmpuint (found->len, ==, td->found);
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (TsqFingerprintDb) db = load_set (
    "{\"A\":{\"cats\":[1],\"html\":[\"alpha-([\\\\d.]+)\\\\;version:\\\\1\",\"a\\\\d+z\"]},"
    "\"B\":{\"cats\":[1],\"html\":\"beta\",\"implies\":\"C\"},\"C\":{\"cats\":[1]}}");
  ThreadData td[4];
  GThread *threads[4];
  GString *html = g_string_new (NULL);
  guint i;

  /* long enough for the JIT-compiled regexes, which threads create lazily */
  for (i = 0; i < 200; i++)
    g_string_append (html, "<p>filler text a1 alpha</p>\n");
  g_string_append (html, "x alpha-1.0 a12z beta y");
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      td[i].db = db;
      td[i].html = html->str;
      td[i].found = 0;
      threads[i] = g_thread_new ("analyze", analyze_thread, &td[i]);
    }
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (td[i].found, ==, 3);
    }
  g_string_free (html, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/fingerprint/kinds", test_kinds);
  g_test_add_func ("/tsq/fingerprint/dom", test_dom);
  g_test_add_func ("/tsq/fingerprint/tags", test_tags);
  g_test_add_func ("/tsq/fingerprint/version-choice", test_version_choice);
  g_test_add_func ("/tsq/fingerprint/resolve-version", test_resolve_version);
  g_test_add_func ("/tsq/fingerprint/implies-excludes", test_implies_excludes);
  g_test_add_func ("/tsq/fingerprint/requires", test_requires);
  g_test_add_func ("/tsq/fingerprint/load-split-and-merge", test_load_split_and_merge);
  g_test_add_func ("/tsq/fingerprint/load-errors", test_load_errors);
  g_test_add_func ("/tsq/fingerprint/js-regex", test_js_regex);
  g_test_add_func ("/tsq/fingerprint/long-text", test_long_text);
  g_test_add_func ("/tsq/fingerprint/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/tsq/fingerprint/threads", test_threads);
  return g_test_run ();
}
