/* scanner-test.c: the scanner end to end over real HTTP, and its reuse of unchanged pages: the
 * same bytes give the same analysis without parsing again, and any change at all (the page, a
 * linked file, a header) gives a full analysis. */
#include "tsq-json-util.h"
#include "tsq-scanner.h"
#include "tsq-test-server.h"

static TsqScanner *
make_scanner (gboolean reuse)
{
  g_autofree char *ours = g_build_filename (g_getenv ("TSQ_DATA_DIR"), "fingerprints", NULL);
  g_autofree char *vulns_path
    = g_build_filename (g_getenv ("TSQ_DATA_DIR"), "vulnerabilities.json", NULL);
  g_autoptr (TsqFingerprintDb) db = tsq_fingerprint_db_new ();
  g_autoptr (TsqVulnDb) vulns = NULL;
  g_autoptr (GError) error = NULL;
  TsqScannerOptions options;

  tsq_fingerprint_db_load (db, ours, &error);
  g_assert_no_error (error);
  vulns = tsq_vuln_db_load (vulns_path, &error);
  g_assert_no_error (error);
  tsq_scanner_options_init (&options);
  options.reuse_unchanged = reuse;
  return tsq_scanner_new (db, vulns, &options);
}

static void
serve (TsqTestServer *server,
       const char *path,
       const char *content_type,
       const char *body,
       const char **headers)
{
  g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));
  TsqTestRoute route = { .content_type = content_type, .body = bytes, .headers = headers };

  tsq_test_server_set_route (server, path, &route);
}

static const char *
version_of (JsonObject *result, const char *name)
{
  JsonArray *techs = tsq_json_get_array (result, "technologies");

  for (guint i = 0; techs && i < json_array_get_length (techs); i++)
    {
      JsonObject *t = json_array_get_object_element (techs, i);

      if (g_strcmp0 (tsq_json_get_string (t, "name", NULL), name) == 0)
        return tsq_json_get_string (t, "version", "");
    }
  return NULL;
}

static gboolean
lists_header (JsonArray *array, const char *header)
{
  for (guint i = 0; array && i < json_array_get_length (array); i++)
    if (g_ascii_strcasecmp (json_array_get_string_element (array, i), header) == 0)
      return TRUE;
  return FALSE;
}

static const char page[]
  = "<!DOCTYPE html><html><head><title>Reuse</title><script src=\"/app.js\"></script></head>"
    "<body><p>Hello, world.</p><form action=\"/api/v1/subscribe\" "
    "method=\"post\"></form></body></html>";
static const char js_old[] = "/*! jQuery v3.4.1 | (c) JS Foundation */\n!function(){}();\n";
static const char js_new[] = "/*! jQuery v3.7.1 | (c) OpenJS Foundation */\n!function(){}();\n";

static void
test_reuse_unchanged (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqScanner) scanner = make_scanner (TRUE);
  g_autofree char *url = tsq_test_server_get_url (server, "/");
  const char *cookie_a[]
    = { "Set-Cookie: session=aaaa1111; HttpOnly", "X-Frame-Options: DENY", NULL };
  const char *cookie_b[]
    = { "Set-Cookie: session=bbbb2222; HttpOnly", "X-Frame-Options: DENY", NULL };
  const char *no_xfo[] = { "Set-Cookie: session=cccc3333; HttpOnly", NULL };
  g_autoptr (JsonObject) first = NULL;
  g_autoptr (JsonObject) second = NULL;
  g_autoptr (JsonObject) third = NULL;
  g_autoptr (JsonObject) fourth = NULL;
  g_autoptr (JsonObject) fifth = NULL;
  g_autoptr (JsonObject) sixth = NULL;
  JsonObject *content1, *content2;

  serve (server, "/", NULL, page, cookie_a);
  serve (server, "/app.js", "application/javascript", js_old, NULL);

  first = tsq_scanner_scan_sync (scanner, url, NULL);
  g_assert_false (json_object_has_member (first, "error"));
  g_assert_false (tsq_json_get_boolean (first, "analysis_reused", FALSE));
  g_assert_cmpstr (version_of (first, "jQuery"), ==, "3.4.1");
  g_assert_cmpuint (json_array_get_length (tsq_json_get_array (
                      tsq_json_get_object (first, "security"), "vulnerabilities")),
                    >, 0);

  /* Same bytes, only the session cookie's value differs: the analysis is reused, whole. */
  serve (server, "/", NULL, page, cookie_b);
  second = tsq_scanner_scan_sync (scanner, url, NULL);
  g_assert_true (tsq_json_get_boolean (second, "analysis_reused", FALSE));
  g_assert_cmpstr (version_of (second, "jQuery"), ==, "3.4.1");
  content1 = tsq_json_get_object (first, "content");
  content2 = tsq_json_get_object (second, "content");
  g_assert_cmpstr (tsq_json_get_string (content1, "hash", NULL), ==,
                   tsq_json_get_string (content2, "hash", NULL));
  g_assert_cmpstr (tsq_json_get_string (content1, "text", NULL), ==,
                   tsq_json_get_string (content2, "text", NULL));
  g_assert_cmpuint (json_array_get_length (tsq_json_get_array (second, "endpoints")), ==,
                    json_array_get_length (tsq_json_get_array (first, "endpoints")));
  /* The scan itself is still fresh: its own timings and headers. */
  g_assert_cmpstr (
    tsq_json_get_string (tsq_json_get_object (second, "headers"), "set-cookie", NULL), ==,
    "session=bbbb2222; HttpOnly");

  /* The page stays, its linked file changes: full analysis, new version. */
  serve (server, "/app.js", "application/javascript", js_new, NULL);
  third = tsq_scanner_scan_sync (scanner, url, NULL);
  g_assert_false (tsq_json_get_boolean (third, "analysis_reused", FALSE));
  g_assert_cmpstr (version_of (third, "jQuery"), ==, "3.7.1");

  /* A header that matters changes: full analysis. */
  serve (server, "/", NULL, page, no_xfo);
  fourth = tsq_scanner_scan_sync (scanner, url, NULL);
  g_assert_false (tsq_json_get_boolean (fourth, "analysis_reused", FALSE));
  g_assert_true (
    lists_header (tsq_json_get_array (tsq_json_get_object (fourth, "security"), "missing_headers"),
                  "X-Frame-Options"));
  g_assert_false (
    lists_header (tsq_json_get_array (tsq_json_get_object (first, "security"), "missing_headers"),
                  "X-Frame-Options"));

  /* One byte of the page changes: full analysis. */
  serve (server, "/", NULL,
         "<!DOCTYPE html><html><head><title>Reuse</title><script src=\"/app.js\"></script>"
         "</head><body><p>Hello, world!</p></body></html>",
         no_xfo);
  fifth = tsq_scanner_scan_sync (scanner, url, NULL);
  g_assert_false (tsq_json_get_boolean (fifth, "analysis_reused", FALSE));
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (fifth, "content"), "hash", NULL), !=,
                   tsq_json_get_string (content1, "hash", NULL));

  /* Another monitor's settings for the same URL are another analysis. */
  {
    g_autoptr (JsonNode) config
      = tsq_json_from_string ("{\"ignore\":{\"regex\":[\"Hello\"]}}", NULL);

    sixth = tsq_scanner_scan_sync (scanner, url, json_node_get_object (config));
    g_assert_false (tsq_json_get_boolean (sixth, "analysis_reused", FALSE));
    g_assert_null (
      strstr (tsq_json_get_string (tsq_json_get_object (sixth, "content"), "text", ""), "Hello"));
  }
}

/* Per-monitor ignore rules: regexes and element selectors; a huge body is cut with a warning. */
static void
test_ignore_rules_and_cap (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqScanner) scanner = make_scanner (TRUE);
  g_autofree char *url = tsq_test_server_get_url (server, "/");
  g_autofree char *big_url = tsq_test_server_get_url (server, "/big");
  g_autoptr (JsonNode) config = tsq_json_from_string (
    "{\"ignore\":{\"regex\":[\"Order #[0-9]+\"],\"selectors\":[\"#weather\", \"aside .ad\"]}}",
    NULL);
  g_autoptr (JsonObject) result = NULL;
  g_autoptr (JsonObject) big = NULL;
  GString *huge = g_string_new ("<html><body>");
  const char *text;
  JsonArray *warnings;

  serve (server, "/", NULL,
         "<html><body><h1>Shop</h1><p>Order #48151 placed.</p><div id=\"weather\">Sunny, 21 C</div>"
         "<aside><p class=\"ad\">Buy now</p><p>Opening hours</p></aside></body></html>",
         NULL);
  result = tsq_scanner_scan_sync (scanner, url, json_node_get_object (config));
  text = tsq_json_get_string (tsq_json_get_object (result, "content"), "text", "");
  g_assert_nonnull (strstr (text, "Shop"));
  g_assert_nonnull (strstr (text, "placed"));
  g_assert_nonnull (strstr (text, "Opening hours"));
  g_assert_null (strstr (text, "48151"));
  g_assert_null (strstr (text, "Sunny"));
  g_assert_null (strstr (text, "Buy now"));

  while (huge->len < 6 * 1024 * 1024)
    g_string_append (huge, "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n");
  serve (server, "/big", NULL, huge->str, NULL);
  g_string_free (huge, TRUE);
  big = tsq_scanner_scan_sync (scanner, big_url, NULL);
  g_assert_false (json_object_has_member (big, "error"));
  g_assert_true (tsq_json_get_boolean (tsq_json_get_object (big, "size"), "truncated", FALSE));
  warnings = tsq_json_get_array (big, "warnings");
  g_assert_nonnull (warnings);
  g_assert_cmpstr (tsq_json_get_string (json_array_get_object_element (warnings, 0), "kind", NULL),
                   ==, "body_too_large");
  g_assert_cmpint (tsq_json_get_int (tsq_json_get_object (big, "size"), "decoded_bytes", 0), ==,
                   5 * 1024 * 1024);
}

/* A monitor's own timeout wins over the scanner's (30 s here). */
static void
test_monitor_timeout (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqScanner) scanner = make_scanner (TRUE);
  g_autofree char *url = tsq_test_server_get_url (server, "/slow");
  g_autoptr (JsonNode) config = tsq_json_from_string ("{\"timeout_s\": 1}", NULL);
  g_autoptr (JsonObject) result = NULL;
  TsqTestRoute route = { .delay_ms = 3000 };

  tsq_test_server_set_route (server, "/slow", &route);
  result = tsq_scanner_scan_sync (scanner, url, json_node_get_object (config));
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (result, "error"), "kind", NULL), ==,
                   "timeout");
}

static void
test_reuse_disabled (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqScanner) scanner = make_scanner (FALSE);
  g_autofree char *url = tsq_test_server_get_url (server, "/");

  serve (server, "/", NULL, page, NULL);
  serve (server, "/app.js", "application/javascript", js_old, NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (JsonObject) result = tsq_scanner_scan_sync (scanner, url, NULL);

      g_assert_false (tsq_json_get_boolean (result, "analysis_reused", FALSE));
      g_assert_cmpstr (version_of (result, "jQuery"), ==, "3.4.1");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/scanner/reuse-unchanged", test_reuse_unchanged);
  g_test_add_func ("/tsq/scanner/reuse-disabled", test_reuse_disabled);
  g_test_add_func ("/tsq/scanner/ignore-rules-and-cap", test_ignore_rules_and_cap);
  g_test_add_func ("/tsq/scanner/monitor-timeout", test_monitor_timeout);
  return g_test_run ();
}
