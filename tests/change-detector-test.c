/* change-detector-test.c: the changes between scan results, driven like the agent drives it
 * (state and results round-trip through JSON text between scans, parsed immutably). */
#include "tsq-change-detector.h"
#include "tsq-json-util.h"

#include <string.h>

#define DEFAULT_TEXT                                                                               \
  "Welcome to the Example Shop. We sell handmade furniture since 1998. "                           \
  "Free delivery on orders above 50 euros. Our workshop is open Monday to Friday. "                \
  "Contact us for custom designs. Every piece is made from local oak and walnut."

/* ---------------------------------------------------------------- result builders */

static guint64
test_simhash (const char *text)
{
  g_auto (GStrv) words = g_strsplit_set (text, " .,\n", -1);
  int v[64] = { 0 };
  guint64 out = 0;

  for (guint w = 0; words[w] != NULL; w++)
    {
      guint64 h = 14695981039346656037ULL;

      if (words[w][0] == '\0')
        continue;
      for (const char *p = words[w]; *p; p++)
        h = (h ^ (guchar)*p) * 1099511628211ULL;
      for (int i = 0; i < 64; i++)
        v[i] += (h >> i) & 1 ? 1 : -1;
    }
  for (int i = 0; i < 64; i++)
    if (v[i] > 0)
      out |= 1ULL << i;
  return out;
}

static void
set_content (JsonObject *r, const char *title, const char *text)
{
  JsonObject *c = json_object_new ();
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
  g_autofree char *simhash = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", test_simhash (text));

  json_object_set_string_member (c, "hash", hash);
  json_object_set_string_member (c, "simhash", simhash);
  json_object_set_string_member (c, "title", title);
  json_object_set_int_member (c, "text_length", strlen (text));
  json_object_set_string_member (c, "text", text);
  json_object_set_object_member (r, "content", c);
}

static JsonObject *
tech_object (const char *name, const char *version, int confidence, const char *category)
{
  JsonObject *t = json_object_new ();
  JsonArray *cats = json_array_new ();

  json_object_set_string_member (t, "name", name);
  if (version)
    json_object_set_string_member (t, "version", version);
  else
    json_object_set_null_member (t, "version");
  json_object_set_int_member (t, "confidence", confidence);
  json_array_add_string_element (cats, category);
  json_object_set_array_member (t, "categories", cats);
  return t;
}

static void
remove_tech (JsonObject *r, const char *name)
{
  JsonArray *techs = tsq_json_get_array (r, "technologies");

  for (guint i = 0; i < json_array_get_length (techs); i++)
    if (g_str_equal (tsq_json_get_string (json_array_get_object_element (techs, i), "name", ""),
                     name))
      {
        json_array_remove_element (techs, i);
        return;
      }
}

static void
set_tech (
  JsonObject *r, const char *name, const char *version, int confidence, const char *category)
{
  JsonArray *techs = tsq_json_get_array (r, "technologies");

  remove_tech (r, name);
  json_array_add_object_element (techs, tech_object (name, version, confidence, category));
}

static void
set_timings (JsonObject *r, double ttfb, double total)
{
  JsonObject *t = tsq_json_get_object (r, "timings");

  json_object_set_double_member (t, "ttfb_ms", ttfb);
  json_object_set_double_member (t, "total_ms", total);
}

static void
set_security_header (JsonObject *r, const char *member, const char *value)
{
  JsonObject *sec = tsq_json_get_object (r, "security");
  JsonArray *missing = tsq_json_get_array (sec, "missing_headers");
  g_autofree char *header = g_strdelimit (g_strdup (member), "_", '-');

  if (value)
    json_object_set_string_member (sec, member, value);
  else
    {
      json_object_set_null_member (sec, member);
      json_array_add_string_element (missing, header);
    }
}

static void
set_tls (JsonObject *r, int days_left, const char *not_after)
{
  JsonObject *tls = tsq_json_get_object (r, "tls");

  json_object_set_int_member (tls, "days_left", days_left);
  json_object_set_string_member (tls, "not_after", not_after);
  json_object_set_int_member (tsq_json_get_object (r, "security"), "tls_days_left", days_left);
}

static void
add_vulnerability (
  JsonObject *r, const char *tech, const char *version, const char *advisory, const char *severity)
{
  JsonArray *vulns = tsq_json_get_array (tsq_json_get_object (r, "security"), "vulnerabilities");
  JsonObject *v = json_object_new ();

  json_object_set_string_member (v, "technology", tech);
  json_object_set_string_member (v, "version", version);
  json_object_set_string_member (v, "advisory", advisory);
  json_object_set_string_member (v, "severity", severity);
  json_object_set_string_member (v, "summary", "XSS in htmlPrefilter");
  json_object_set_string_member (v, "affected", "<3.5.0");
  json_array_add_object_element (vulns, v);
}

static void
add_endpoint (JsonObject *r, const char *url, const char *kind, const char *method)
{
  JsonObject *e = json_object_new ();

  json_object_set_string_member (e, "url", url);
  json_object_set_string_member (e, "kind", kind);
  if (method)
    json_object_set_string_member (e, "method", method);
  json_array_add_object_element (tsq_json_get_array (r, "endpoints"), e);
}

static void
set_complexity (JsonObject *r, const char *metric, gint64 value)
{
  json_object_set_int_member (tsq_json_get_object (r, "complexity"), metric, value);
}

/* A good scan of https://shop.example/ as the scanner would report it. */
static JsonObject *
make_result (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = tsq_json_from_string (
    "{\"url\":\"https://shop.example/\",\"final_url\":\"https://shop.example/\","
    "\"scanned_at\":\"2024-05-01T10:00:00Z\",\"status\":200,\"redirects\":[],"
    "\"timings\":{\"dns_ms\":5,\"connect_ms\":10,\"tls_ms\":20,\"ttfb_ms\":100,\"download_ms\":50,"
    "\"total_ms\":300},"
    "\"size\":{\"bytes\":50000,\"decoded_bytes\":150000,\"header_bytes\":600,\"resources_bytes\":"
    "700000,\"truncated\":false},"
    "\"content_type\":\"text/html; charset=utf-8\","
    "\"headers\":{\"server\":\"nginx\",\"content-security-policy\":\"default-src 'self'\"},"
    "\"tls\":{\"subject\":\"CN=shop.example\",\"issuer\":\"R3\",\"not_before\":\"2024-04-01T00:00:"
    "00Z\","
    "\"not_after\":\"2024-06-30T00:00:00Z\",\"days_left\":60},"
    "\"technologies\":[],"
    "\"security\":{\"https\":true,\"hsts\":\"max-age=31536000\",\"csp\":\"default-src 'self'\","
    "\"x_frame_options\":\"DENY\",\"x_content_type_options\":\"nosniff\",\"referrer_policy\":null,"
    "\"permissions_policy\":null,\"missing_headers\":[\"referrer-policy\",\"permissions-policy\"],"
    "\"insecure_cookies\":[],\"tls_days_left\":60,\"mixed_content\":[],\"vulnerabilities\":[]},"
    "\"endpoints\":[],"
    "\"complexity\":{\"dom_nodes\":1000,\"max_depth\":12,\"scripts_external\":8,\"scripts_inline\":"
    "4,"
    "\"inline_script_bytes\":20000,\"stylesheets\":3,\"third_party_domains\":4,"
    "\"third_party_domain_list\":[\"cdn.a.example\",\"fonts.b.example\",\"stats.c.example\",\"x.d."
    "example\"],"
    "\"page_weight_bytes\":800000},"
    "\"resources\":{\"fetched\":10,\"not_modified\":0,\"cached\":0,\"failed\":0,\"skipped\":0,"
    "\"bytes\":700000}}",
    &error);
  /* tsq_json_from_string parses immutably: rebuild a mutable copy for the builders. */
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *text = tsq_json_to_string (node, FALSE);
  JsonObject *r;

  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  r = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  set_tech (r, "jQuery", "3.4.1", 100, "JavaScript libraries");
  set_tech (r, "Nginx", NULL, 100, "Web servers");
  set_content (r, "Example Shop", DEFAULT_TEXT);
  add_endpoint (r, "https://shop.example/api/v1/cart", "api", "GET");
  return r;
}

/* A failed scan: what the scanner reports on a timeout (no status, nothing analysed). */
static JsonObject *
make_error_result (const char *kind)
{
  JsonObject *r = json_object_new ();
  JsonObject *err = json_object_new ();
  JsonObject *timings = json_object_new ();

  json_object_set_string_member (r, "url", "https://shop.example/");
  json_object_set_string_member (r, "final_url", "https://shop.example/");
  json_object_set_string_member (r, "scanned_at", "2024-05-01T11:00:00Z");
  json_object_set_string_member (err, "kind", kind);
  json_object_set_string_member (err, "message", "operation timed out");
  json_object_set_object_member (r, "error", err);
  json_object_set_array_member (r, "redirects", json_array_new ());
  json_object_set_double_member (timings, "ttfb_ms", 0);
  json_object_set_double_member (timings, "total_ms", 30000);
  json_object_set_object_member (r, "timings", timings);
  json_object_set_array_member (r, "technologies", json_array_new ());
  return r;
}

/* ---------------------------------------------------------------- the monitor */

typedef struct
{
  JsonObject *previous;
  JsonObject *state;
  TsqChangeThresholds t;
} Monitor;

static void
monitor_init (Monitor *m)
{
  m->previous = NULL;
  m->state = NULL;
  tsq_change_thresholds_init (&m->t);
}

static void
monitor_clear (Monitor *m)
{
  g_clear_pointer (&m->previous, json_object_unref);
  g_clear_pointer (&m->state, json_object_unref);
}

static JsonObject *
roundtrip (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autofree char *text = tsq_json_to_string (node, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) parsed = tsq_json_from_string (text, &error);

  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (parsed));
}

/* Runs one scan: takes ownership of `result`; returns the changes (owned by the caller). */
static JsonArray *
monitor_scan (Monitor *m, JsonObject *result)
{
  g_autoptr (JsonObject) current = roundtrip (result);
  JsonObject *state_out = NULL;
  JsonArray *changes;

  json_object_unref (result);
  changes = tsq_detect_changes (m->previous, current, m->state, &m->t, &state_out);
  g_assert_nonnull (changes);
  g_assert_nonnull (state_out);
  g_assert_cmpint (tsq_json_get_int (state_out, "version", 0), ==, TSQ_CHANGE_STATE_VERSION);
  /* Every change is well-formed. */
  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *c = json_array_get_object_element (changes, i);
      const char *severity = tsq_json_get_string (c, "severity", "");
      gint64 confidence = tsq_json_get_int (c, "confidence", -1);

      g_assert_nonnull (tsq_json_get_string (c, "type", NULL));
      g_assert_nonnull (tsq_json_get_string (c, "subject", NULL));
      g_assert_true (json_object_has_member (c, "old"));
      g_assert_true (json_object_has_member (c, "new"));
      g_assert_nonnull (tsq_json_get_object (c, "evidence"));
      g_assert_cmpint (confidence, >=, 0);
      g_assert_cmpint (confidence, <=, 100);
      g_assert_true (g_str_equal (severity, "info") || g_str_equal (severity, "warning")
                     || g_str_equal (severity, "critical"));
    }
  g_clear_pointer (&m->previous, json_object_unref);
  m->previous = json_object_ref (current);
  g_clear_pointer (&m->state, json_object_unref);
  m->state = roundtrip (state_out);
  json_object_unref (state_out);
  return changes;
}

/* Runs a scan and asserts that it yields no change at all. */
static void
monitor_scan_quiet (Monitor *m, JsonObject *result)
{
  g_autoptr (JsonArray) changes = monitor_scan (m, result);

  if (json_array_get_length (changes) != 0)
    {
      g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), changes);
      g_autofree char *text = tsq_json_to_string (node, TRUE);

      g_error ("unexpected changes: %s", text);
    }
}

static guint
count_type (JsonArray *changes, const char *type)
{
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (changes); i++)
    if (g_str_equal (tsq_json_get_string (json_array_get_object_element (changes, i), "type", ""),
                     type))
      n++;
  return n;
}

/* The only change of the array, which must be of `type`. */
static JsonObject *
only_change (JsonArray *changes, const char *type)
{
  JsonObject *c;

  if (json_array_get_length (changes) != 1)
    {
      g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), changes);
      g_autofree char *text = tsq_json_to_string (node, TRUE);

      g_error ("expected exactly one %s, got: %s", type, text);
    }
  c = json_array_get_object_element (changes, 0);
  g_assert_cmpstr (tsq_json_get_string (c, "type", NULL), ==, type);
  return c;
}

static JsonObject *
find_change (JsonArray *changes, const char *type, const char *subject)
{
  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *c = json_array_get_object_element (changes, i);

      if (g_str_equal (tsq_json_get_string (c, "type", ""), type)
          && (subject == NULL || g_str_equal (tsq_json_get_string (c, "subject", ""), subject)))
        return c;
    }
  return NULL;
}

/* ---------------------------------------------------------------- tests */

static void
test_first_scan (void)
{
  Monitor m;
  JsonObject *last_good;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  last_good = tsq_json_get_object (m.state, "last_good");
  g_assert_nonnull (last_good);
  g_assert_cmpuint (json_array_get_length (tsq_json_get_array (last_good, "technologies")), ==, 2);
  g_assert_cmpint (tsq_json_get_int (m.state, "scans", 0), ==, 1);
  g_assert_cmpint (tsq_json_get_int (m.state, "good_scans", 0), ==, 1);
  monitor_clear (&m);
}

static void
test_identical (void)
{
  Monitor m;
  JsonObject *r;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  for (int i = 0; i < 5; i++)
    {
      r = make_result ();
      json_object_set_string_member (r, "scanned_at", "2024-05-02T10:00:00Z");
      set_timings (r, 100 + i * 10, 300 - i * 10);
      monitor_scan_quiet (&m, r);
    }
  monitor_clear (&m);
}

static void
test_version_changed (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  JsonArray *cats;
  g_autoptr (JsonArray) changes = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  set_tech (r, "jQuery", "3.7.1", 100, "JavaScript libraries");
  changes = monitor_scan (&m, r);
  c = only_change (changes, "technology.version_changed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "jQuery");
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "3.4.1");
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "3.7.1");
  g_assert_cmpint (tsq_json_get_int (c, "confidence", 0), ==, 100);
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "info");
  cats = tsq_json_get_array (tsq_json_get_object (c, "evidence"), "categories");
  g_assert_cmpstr (json_array_get_string_element (cats, 0), ==, "JavaScript libraries");

  /* The version not detected this time is not a change, nor is its return. */
  r = make_result ();
  set_tech (r, "jQuery", NULL, 100, "JavaScript libraries");
  monitor_scan_quiet (&m, r);
  r = make_result ();
  set_tech (r, "jQuery", "3.7.1", 100, "JavaScript libraries");
  monitor_scan_quiet (&m, r);
  monitor_clear (&m);
}

static void
test_technology_added_removed (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  g_autoptr (JsonArray) added = NULL;
  g_autoptr (JsonArray) removed = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  set_tech (r, "Google Analytics", "GA4", 100, "Analytics");
  added = monitor_scan (&m, r);
  c = only_change (added, "technology.added");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "Google Analytics");
  g_assert_true (json_object_get_null_member (c, "old"));
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "GA4");

  removed = monitor_scan (&m, make_result ());
  c = only_change (removed, "technology.removed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "Google Analytics");
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "GA4");
  g_assert_true (json_object_get_null_member (c, "new"));
  monitor_clear (&m);
}

static void
test_low_confidence_flicker (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  g_autoptr (JsonArray) added = NULL;
  g_autoptr (JsonArray) removed = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  /* Present, absent, present, absent: never reported. */
  for (int i = 0; i < 3; i++)
    {
      r = make_result ();
      set_tech (r, "Maybe CMS", NULL, 25, "CMS");
      monitor_scan_quiet (&m, r);
      monitor_scan_quiet (&m, make_result ());
    }
  /* Present in two consecutive good scans: confirmed, reported once. */
  r = make_result ();
  set_tech (r, "Maybe CMS", NULL, 25, "CMS");
  monitor_scan_quiet (&m, r);
  r = make_result ();
  set_tech (r, "Maybe CMS", NULL, 25, "CMS");
  added = monitor_scan (&m, r);
  c = only_change (added, "technology.added");
  g_assert_cmpint (tsq_json_get_int (c, "confidence", 0), ==, 25);
  g_assert_cmpint (
    tsq_json_get_int (tsq_json_get_object (c, "evidence"), "confirmed_after_scans", 0), ==, 2);
  r = make_result ();
  set_tech (r, "Maybe CMS", NULL, 25, "CMS");
  monitor_scan_quiet (&m, r);
  /* Absent once: nothing; absent twice: removed. */
  monitor_scan_quiet (&m, make_result ());
  removed = monitor_scan (&m, make_result ());
  c = only_change (removed, "technology.removed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "Maybe CMS");
  monitor_clear (&m);
}

static void
test_incomplete_scan_defers_removal (void)
{
  Monitor m;
  JsonObject *r;
  g_autoptr (JsonArray) removed = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  /* jQuery not seen because its script failed to load: not a removal yet. */
  r = make_result ();
  remove_tech (r, "jQuery");
  json_object_set_int_member (tsq_json_get_object (r, "resources"), "failed", 1);
  monitor_scan_quiet (&m, r);
  monitor_scan_quiet (&m, make_result ());
  /* Missing from two incomplete scans in a row: removed. */
  r = make_result ();
  remove_tech (r, "jQuery");
  json_object_set_boolean_member (tsq_json_get_object (r, "size"), "truncated", TRUE);
  monitor_scan_quiet (&m, r);
  r = make_result ();
  remove_tech (r, "jQuery");
  json_object_set_boolean_member (tsq_json_get_object (r, "size"), "truncated", TRUE);
  removed = monitor_scan (&m, r);
  only_change (removed, "technology.removed");
  monitor_clear (&m);
}

static void
test_header_removed_added (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  g_autoptr (JsonArray) removed = NULL;
  g_autoptr (JsonArray) added = NULL;
  g_autoptr (JsonArray) member_form = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  set_security_header (r, "csp", NULL);
  removed = monitor_scan (&m, r);
  c = only_change (removed, "security.header_removed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "Content-Security-Policy");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "warning");

  r = make_result ();
  set_security_header (r, "referrer_policy", "no-referrer");
  added = monitor_scan (&m, r);
  /* CSP is back and Referrer-Policy is new. */
  g_assert_cmpuint (json_array_get_length (added), ==, 2);
  c = find_change (added, "security.header_added", "Referrer-Policy");
  g_assert_nonnull (c);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "value", NULL), ==,
                   "no-referrer");
  g_assert_nonnull (find_change (added, "security.header_added", "Content-Security-Policy"));

  /* Header absent as a member, named only in missing_headers with the member spelling. */
  r = make_result ();
  set_security_header (r, "referrer_policy", "no-referrer");
  json_object_remove_member (tsq_json_get_object (r, "security"), "x_frame_options");
  json_array_add_string_element (
    tsq_json_get_array (tsq_json_get_object (r, "security"), "missing_headers"), "x_frame_options");
  member_form = monitor_scan (&m, r);
  c = only_change (member_form, "security.header_removed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "X-Frame-Options");
  monitor_clear (&m);
}

static JsonObject *
result_with_ttfb (double ttfb)
{
  JsonObject *r = make_result ();

  set_timings (r, ttfb, 300);
  return r;
}

static void
test_performance (void)
{
  Monitor m;
  g_autoptr (JsonArray) degraded = NULL;
  g_autoptr (JsonArray) improved = NULL;
  JsonObject *c;
  JsonObject *ev;
  JsonArray *samples;

  monitor_init (&m);
  monitor_scan_quiet (&m, result_with_ttfb (100));
  monitor_scan_quiet (&m, result_with_ttfb (110));
  monitor_scan_quiet (&m, result_with_ttfb (90));
  monitor_scan_quiet (&m, result_with_ttfb (100));
  /* One slow scan alone: nothing. */
  monitor_scan_quiet (&m, result_with_ttfb (900));
  monitor_scan_quiet (&m, result_with_ttfb (105));
  /* k = 3 slow scans: one degraded, on the third. */
  monitor_scan_quiet (&m, result_with_ttfb (400));
  monitor_scan_quiet (&m, result_with_ttfb (450));
  degraded = monitor_scan (&m, result_with_ttfb (420));
  c = only_change (degraded, "performance.degraded");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "ttfb_ms");
  g_assert_cmpfloat (tsq_json_get_double (c, "old", 0), ==, 100);
  g_assert_cmpfloat (tsq_json_get_double (c, "new", 0), ==, 420);
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "warning");
  ev = tsq_json_get_object (c, "evidence");
  g_assert_cmpfloat (tsq_json_get_double (ev, "baseline_ms", 0), ==, 100);
  g_assert_cmpuint (json_array_get_length (tsq_json_get_array (ev, "values_ms")), ==, 3);
  g_assert_cmpfloat (tsq_json_get_double (ev, "absolute_threshold_ms", 0), ==, 200);
  /* Staying slow: no repeat; a single normal scan in between does not recover. */
  for (int i = 0; i < 6; i++)
    monitor_scan_quiet (&m, result_with_ttfb (430 + i));
  monitor_scan_quiet (&m, result_with_ttfb (100));
  monitor_scan_quiet (&m, result_with_ttfb (440));
  /* The baseline was not poisoned by the slow samples. */
  samples = tsq_json_get_array (
    tsq_json_get_object (tsq_json_get_object (m.state, "perf"), "ttfb_ms"), "samples");
  for (guint i = 0; i < json_array_get_length (samples); i++)
    g_assert_cmpfloat (json_array_get_double_element (samples, i), <, 200);
  /* Recovery: k normal scans give one improved. */
  monitor_scan_quiet (&m, result_with_ttfb (100));
  monitor_scan_quiet (&m, result_with_ttfb (95));
  improved = monitor_scan (&m, result_with_ttfb (110));
  c = only_change (improved, "performance.improved");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "ttfb_ms");
  g_assert_cmpfloat (tsq_json_get_double (c, "new", 0), ==, 100);
  g_assert_cmpfloat (tsq_json_get_double (c, "old", 0), >=, 430);
  g_assert_true (tsq_json_get_boolean (tsq_json_get_object (c, "evidence"), "recovered", FALSE));
  monitor_scan_quiet (&m, result_with_ttfb (100));
  monitor_clear (&m);
}

static void
test_performance_thresholds (void)
{
  Monitor m;
  g_autoptr (JsonArray) changes = NULL;

  /* Exactly +200 ms (not more) never degrades, +50% alone (under 200 ms) neither. */
  monitor_init (&m);
  for (int i = 0; i < 10; i++)
    monitor_scan_quiet (&m, result_with_ttfb (100));
  /* In the band: these become baseline samples (the median stays 100). */
  monitor_scan_quiet (&m, result_with_ttfb (300));
  monitor_scan_quiet (&m, result_with_ttfb (250));
  /* Failed scans neither count nor break the run. */
  monitor_scan_quiet (&m, result_with_ttfb (301));
  {
    g_autoptr (JsonArray) down = monitor_scan (&m, make_error_result ("timeout"));

    only_change (down, "availability.down");
  }
  {
    g_autoptr (JsonArray) up = monitor_scan (&m, result_with_ttfb (302));

    only_change (up, "availability.up");
  }
  changes = monitor_scan (&m, result_with_ttfb (303));
  only_change (changes, "performance.degraded");
  monitor_clear (&m);

  /* No verdict before min_baseline_scans good scans. */
  monitor_init (&m);
  monitor_scan_quiet (&m, result_with_ttfb (100));
  monitor_scan_quiet (&m, result_with_ttfb (100));
  {
    g_autoptr (JsonArray) down = monitor_scan (&m, make_error_result ("dns"));

    only_change (down, "availability.down");
  }
  g_assert_cmpuint (
    json_array_get_length (tsq_json_get_array (
      tsq_json_get_object (tsq_json_get_object (m.state, "perf"), "ttfb_ms"), "samples")),
    ==, 2);
  monitor_clear (&m);
}

static void
test_content_noise (void)
{
  Monitor m;
  JsonObject *r;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  /* Same normalized text (same hash): headers, size and timing noise are not content changes. */
  r = make_result ();
  json_object_set_string_member (tsq_json_get_object (r, "headers"), "date",
                                 "Thu, 02 May 2024 10:00:00 GMT");
  json_object_set_int_member (tsq_json_get_object (r, "size"), "bytes", 50123);
  monitor_scan_quiet (&m, r);
  monitor_clear (&m);
}

static void
test_content_changed (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  JsonObject *ev;
  const char *diff;
  g_autoptr (JsonArray) changed = NULL;
  g_autoptr (JsonArray) titled = NULL;
  g_autofree char *new_hash = NULL;
  const char *new_text
    = "Welcome to the Example Shop. We sell handmade furniture since 1998. "
      "Free delivery on orders above 80 euros. Our workshop is open Monday to Friday. "
      "Contact us for custom designs. Every piece is made from local oak and walnut.";

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  set_content (r, "Example Shop", new_text);
  changed = monitor_scan (&m, r);
  c = only_change (changed, "content.changed");
  new_hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, new_text, -1);
  g_assert_cmpuint (strlen (tsq_json_get_string (c, "new", "")), ==, 12);
  g_assert_true (g_str_has_prefix (new_hash, tsq_json_get_string (c, "new", "")));
  ev = tsq_json_get_object (c, "evidence");
  g_assert_cmpint (tsq_json_get_int (ev, "similarity", -1), >, 0);
  g_assert_cmpint (tsq_json_get_int (ev, "similarity", -1), <=, 100);
  diff = tsq_json_get_string (ev, "diff", NULL);
  g_assert_cmpstr (diff, ==,
                   "-Free delivery on orders above 50 euros.\n"
                   "+Free delivery on orders above 80 euros.\n");
  g_assert_cmpstr (tsq_json_get_string (ev, "title_old", NULL), ==, "Example Shop");

  r = make_result ();
  set_content (r, "Example Shop - Sale", new_text);
  titled = monitor_scan (&m, r);
  c = only_change (titled, "content.title_changed");
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "Example Shop");
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "Example Shop - Sale");
  monitor_clear (&m);
}

static void
test_content_threshold_keeps_reference (void)
{
  Monitor m;
  JsonObject *r;
  g_autofree char *old_hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, DEFAULT_TEXT, -1);
  g_autoptr (JsonArray) changed = NULL;

  monitor_init (&m);
  m.t.content_min_change = 0.3; /* report only below 70% similarity */
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  set_content (r, "Example Shop", DEFAULT_TEXT " One more sentence.");
  monitor_scan_quiet (&m, r);
  /* The reference stays the last reported content. */
  g_assert_cmpstr (
    tsq_json_get_string (
      tsq_json_get_object (tsq_json_get_object (m.state, "last_good"), "content"), "hash", NULL),
    ==, old_hash);
  r = make_result ();
  set_content (r, "Example Shop",
               "Completely different page about gardening tools and seeds for spring planting");
  changed = monitor_scan (&m, r);
  only_change (changed, "content.changed");
  monitor_clear (&m);
}

static void
test_outage (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  g_autoptr (JsonArray) down = NULL;
  g_autoptr (JsonArray) up = NULL;
  g_autoptr (JsonArray) down2 = NULL;
  g_autoptr (JsonArray) after = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  down = monitor_scan (&m, make_error_result ("timeout"));
  c = only_change (down, "availability.down");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "https://shop.example/");
  g_assert_cmpint (tsq_json_get_int (c, "old", 0), ==, 200);
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "timeout");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "critical");
  /* Still down: nothing more (and the empty technology list is not a removal). */
  monitor_scan_quiet (&m, make_error_result ("connection_refused"));
  /* Back up with the same site: only the up change; previous is the failed result. */
  up = monitor_scan (&m, make_result ());
  c = only_change (up, "availability.up");
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "connection_refused");
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 200);
  g_assert_cmpint (tsq_json_get_int (tsq_json_get_object (c, "evidence"), "failed_scans", 0), ==,
                   2);

  /* 5xx without error is down too; the next good scan compares with the last good one (its
   * text kept in the state gives the diff although previous is the 503 page). */
  r = make_result ();
  json_object_set_int_member (r, "status", 503);
  set_content (r, "Service Unavailable", "Service Unavailable");
  json_object_set_array_member (r, "technologies", json_array_new ());
  down2 = monitor_scan (&m, r);
  c = only_change (down2, "availability.down");
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 503);
  r = make_result ();
  set_tech (r, "jQuery", "3.7.1", 100, "JavaScript libraries");
  set_content (r, "Example Shop", DEFAULT_TEXT " New opening hours from June.");
  after = monitor_scan (&m, r);
  g_assert_cmpuint (json_array_get_length (after), ==, 3);
  g_assert_nonnull (find_change (after, "availability.up", NULL));
  g_assert_nonnull (find_change (after, "technology.version_changed", "jQuery"));
  c = find_change (after, "content.changed", NULL);
  g_assert_nonnull (c);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "diff", NULL), ==,
                   "+New opening hours from June.\n");
  monitor_clear (&m);
}

static void
test_status_and_redirect (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  JsonObject *hop;
  g_autoptr (JsonArray) not_found = NULL;
  g_autoptr (JsonArray) back = NULL;
  g_autoptr (JsonArray) redirected = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  json_object_set_int_member (r, "status", 404);
  json_object_set_array_member (r, "technologies", json_array_new ());
  set_content (r, "Not Found", "Not Found");
  not_found = monitor_scan (&m, r);
  c = only_change (not_found, "status.changed");
  g_assert_cmpint (tsq_json_get_int (c, "old", 0), ==, 200);
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 404);
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "warning");
  back = monitor_scan (&m, make_result ());
  c = only_change (back, "status.changed");
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 200);

  /* Now redirected to another host. */
  r = make_result ();
  json_object_set_string_member (r, "final_url", "https://www.shop.example/?session=123");
  hop = json_object_new ();
  json_object_set_string_member (hop, "url", "https://shop.example/");
  json_object_set_int_member (hop, "status", 301);
  json_array_add_object_element (tsq_json_get_array (r, "redirects"), hop);
  redirected = monitor_scan (&m, r);
  c = only_change (redirected, "redirect.changed");
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "https://shop.example/");
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==,
                   "https://www.shop.example/?session=123");
  /* Another session id in the target is not a change. */
  r = make_result ();
  json_object_set_string_member (r, "final_url", "https://www.shop.example/?session=456");
  hop = json_object_new ();
  json_object_set_string_member (hop, "url", "https://shop.example/");
  json_object_set_int_member (hop, "status", 301);
  json_array_add_object_element (tsq_json_get_array (r, "redirects"), hop);
  monitor_scan_quiet (&m, r);
  monitor_clear (&m);
}

static JsonObject *
result_with_tls (int days, const char *not_after)
{
  JsonObject *r = make_result ();

  set_tls (r, days, not_after);
  return r;
}

static void
test_certificate (void)
{
  Monitor m;
  JsonObject *c;
  g_autoptr (JsonArray) expiring = NULL;
  g_autoptr (JsonArray) renewed = NULL;
  g_autoptr (JsonArray) again = NULL;
  g_autoptr (JsonArray) critical = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, result_with_tls (20, "2024-05-21T00:00:00Z"));
  monitor_scan_quiet (&m, result_with_tls (14, "2024-05-21T00:00:00Z"));
  expiring = monitor_scan (&m, result_with_tls (13, "2024-05-21T00:00:00Z"));
  c = only_change (expiring, "security.certificate_expiring");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "shop.example");
  g_assert_cmpint (tsq_json_get_int (c, "old", 0), ==, 14);
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 13);
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "warning");
  /* Once. */
  monitor_scan_quiet (&m, result_with_tls (12, "2024-05-21T00:00:00Z"));
  monitor_scan_quiet (&m, result_with_tls (2, "2024-05-21T00:00:00Z"));
  renewed = monitor_scan (&m, result_with_tls (89, "2024-08-18T00:00:00Z"));
  c = only_change (renewed, "security.certificate_renewed");
  g_assert_cmpint (tsq_json_get_int (c, "old", 0), ==, 2);
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 89);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "not_after_new", NULL),
                   ==, "2024-08-18T00:00:00Z");
  monitor_scan_quiet (&m, result_with_tls (88, "2024-08-18T00:00:00Z"));
  /* The new certificate gets its own warning, critical under 3 days. */
  again = monitor_scan (&m, result_with_tls (2, "2024-08-18T00:00:00Z"));
  c = only_change (again, "security.certificate_expiring");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "critical");
  monitor_clear (&m);

  /* Without not_after, a jump of days_left is a renewal. */
  monitor_init (&m);
  {
    JsonObject *r = make_result ();

    json_object_set_int_member (tsq_json_get_object (r, "security"), "tls_days_left", 5);
    json_object_set_null_member (r, "tls");
    monitor_scan_quiet (&m, r);
    r = make_result ();
    json_object_set_int_member (tsq_json_get_object (r, "security"), "tls_days_left", 4);
    json_object_set_null_member (r, "tls");
    critical = monitor_scan (&m, r);
    only_change (critical, "security.certificate_expiring");
    r = make_result ();
    json_object_set_int_member (tsq_json_get_object (r, "security"), "tls_days_left", 60);
    json_object_set_null_member (r, "tls");
    g_clear_pointer (&critical, json_array_unref);
    critical = monitor_scan (&m, r);
    only_change (critical, "security.certificate_renewed");
  }
  monitor_clear (&m);
}

static void
test_endpoints (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  g_autoptr (JsonArray) changes = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  json_array_remove_element (tsq_json_get_array (r, "endpoints"), 0);
  add_endpoint (r, "https://shop.example/graphql", "graphql", "POST");
  changes = monitor_scan (&m, r);
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  c = find_change (changes, "endpoint.added", "https://shop.example/graphql");
  g_assert_nonnull (c);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "kind", NULL), ==,
                   "graphql");
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "method", NULL), ==,
                   "POST");
  c = find_change (changes, "endpoint.removed", "https://shop.example/api/v1/cart");
  g_assert_nonnull (c);
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "method", NULL), ==,
                   "GET");
  monitor_clear (&m);
}

static JsonObject *
result_with_complexity (gint64 dom_nodes, gint64 scripts_external, gint64 inline_script_bytes)
{
  JsonObject *r = make_result ();

  set_complexity (r, "dom_nodes", dom_nodes);
  set_complexity (r, "scripts_external", scripts_external);
  set_complexity (r, "inline_script_bytes", inline_script_bytes);
  return r;
}

static void
test_complexity (void)
{
  Monitor m;
  JsonObject *c;
  g_autoptr (JsonArray) dom = NULL;
  g_autoptr (JsonArray) scripts = NULL;
  g_autoptr (JsonArray) bytes = NULL;
  g_autoptr (JsonArray) domains = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  /* Exactly +25%: not beyond the ratio. */
  monitor_scan_quiet (&m, result_with_complexity (1250, 8, 20000));
  /* +25.1% against the reference (1000, not the unreported 1250). */
  dom = monitor_scan (&m, result_with_complexity (1251, 8, 20000));
  c = only_change (dom, "complexity.changed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "dom_nodes");
  g_assert_cmpint (tsq_json_get_int (c, "old", 0), ==, 1000);
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 1251);
  /* The reference moved to 1251. */
  monitor_scan_quiet (&m, result_with_complexity (1251, 8, 20000));

  /* 8 -> 12: +50% but only 4 more (< 5); 8 -> 13: 5 more. */
  monitor_scan_quiet (&m, result_with_complexity (1251, 12, 20000));
  scripts = monitor_scan (&m, result_with_complexity (1251, 13, 20000));
  c = only_change (scripts, "complexity.changed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "scripts_external");

  /* Bytes use 50 KiB: +40,000 bytes (200%) is not enough, +60,000 is. */
  monitor_scan_quiet (&m, result_with_complexity (1251, 13, 60000));
  bytes = monitor_scan (&m, result_with_complexity (1251, 13, 80000));
  c = only_change (bytes, "complexity.changed");
  g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "inline_script_bytes");

  /* Third-party domains: evidence names the new ones. */
  {
    JsonObject *r = result_with_complexity (1251, 13, 80000);
    JsonArray *list
      = tsq_json_get_array (tsq_json_get_object (r, "complexity"), "third_party_domain_list");
    JsonArray *added;

    for (int i = 0; i < 6; i++)
      {
        g_autofree char *d = g_strdup_printf ("tracker%d.example", i);

        json_array_add_string_element (list, d);
      }
    set_complexity (r, "third_party_domains", 10);
    domains = monitor_scan (&m, r);
    c = only_change (domains, "complexity.changed");
    g_assert_cmpstr (tsq_json_get_string (c, "subject", NULL), ==, "third_party_domains");
    added = tsq_json_get_array (tsq_json_get_object (c, "evidence"), "domains_added");
    g_assert_cmpuint (json_array_get_length (added), ==, 6);
    g_assert_cmpstr (json_array_get_string_element (added, 0), ==, "tracker0.example");
  }
  monitor_clear (&m);
}

static void
test_vulnerabilities (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *c;
  g_autoptr (JsonArray) found = NULL;
  g_autoptr (JsonArray) resolved = NULL;

  monitor_init (&m);
  r = make_result ();
  remove_tech (r, "jQuery");
  monitor_scan_quiet (&m, r);
  r = make_result ();
  add_vulnerability (r, "jQuery", "3.4.1", "CVE-2020-11022", "medium");
  add_vulnerability (r, "jQuery", "3.4.1", "CVE-2020-11023", "high");
  found = monitor_scan (&m, r);
  g_assert_cmpuint (json_array_get_length (found), ==, 3);
  g_assert_nonnull (find_change (found, "technology.added", "jQuery"));
  c = find_change (found, "security.vulnerability_found", "CVE-2020-11022");
  g_assert_nonnull (c);
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "jQuery 3.4.1");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "warning");
  g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (c, "evidence"), "affected", NULL), ==,
                   "<3.5.0");
  c = find_change (found, "security.vulnerability_found", "CVE-2020-11023");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "critical");
  /* Same advisories again: nothing. */
  r = make_result ();
  add_vulnerability (r, "jQuery", "3.4.1", "CVE-2020-11022", "medium");
  add_vulnerability (r, "jQuery", "3.4.1", "CVE-2020-11023", "high");
  monitor_scan_quiet (&m, r);
  /* Upgrade: version change and both resolved. */
  r = make_result ();
  set_tech (r, "jQuery", "3.7.1", 100, "JavaScript libraries");
  resolved = monitor_scan (&m, r);
  g_assert_cmpuint (json_array_get_length (resolved), ==, 3);
  g_assert_cmpuint (count_type (resolved, "security.vulnerability_resolved"), ==, 2);
  c = find_change (resolved, "security.vulnerability_resolved", "CVE-2020-11022");
  g_assert_cmpstr (tsq_json_get_string (c, "old", NULL), ==, "jQuery 3.4.1");
  g_assert_cmpstr (tsq_json_get_string (c, "new", NULL), ==, "jQuery 3.7.1");
  monitor_clear (&m);
}

static void
test_vulnerability_waits_for_confirmation (void)
{
  Monitor m;
  JsonObject *r;
  g_autoptr (JsonArray) confirmed = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  /* A low-confidence detection with an advisory: neither reported on the first sighting... */
  r = make_result ();
  set_tech (r, "Old Widget", "1.0", 30, "Widgets");
  add_vulnerability (r, "Old Widget", "1.0", "GHSA-0000-1111", "low");
  monitor_scan_quiet (&m, r);
  /* ...and both reported once it is confirmed. */
  r = make_result ();
  set_tech (r, "Old Widget", "1.0", 30, "Widgets");
  add_vulnerability (r, "Old Widget", "1.0", "GHSA-0000-1111", "low");
  confirmed = monitor_scan (&m, r);
  g_assert_cmpuint (json_array_get_length (confirmed), ==, 2);
  g_assert_nonnull (find_change (confirmed, "technology.added", "Old Widget"));
  g_assert_cmpint (
    tsq_json_get_int (find_change (confirmed, "security.vulnerability_found", "GHSA-0000-1111"),
                      "confidence", 0),
    ==, 30);
  /* Missing once (pending removal): the advisory stays open, nothing reported. */
  monitor_scan_quiet (&m, make_result ());
  monitor_clear (&m);
}

static void
test_cookies_and_mixed_content (void)
{
  Monitor m;
  JsonObject *r;
  JsonObject *cookie;
  JsonArray *missing;
  JsonObject *c;
  g_autoptr (JsonArray) changes = NULL;

  monitor_init (&m);
  monitor_scan_quiet (&m, make_result ());
  r = make_result ();
  cookie = json_object_new ();
  missing = json_array_new ();
  json_object_set_string_member (cookie, "name", "session");
  json_array_add_string_element (missing, "Secure");
  json_array_add_string_element (missing, "HttpOnly");
  json_object_set_array_member (cookie, "missing", missing);
  json_array_add_object_element (
    tsq_json_get_array (tsq_json_get_object (r, "security"), "insecure_cookies"), cookie);
  json_array_add_string_element (
    tsq_json_get_array (tsq_json_get_object (r, "security"), "mixed_content"),
    "http://cdn.example/lib.js");
  changes = monitor_scan (&m, r);
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  c = find_change (changes, "security.cookie_flags_changed", "session");
  g_assert_nonnull (c);
  g_assert_true (json_object_get_null_member (c, "old"));
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (c, "new"), 0), ==,
                   "HttpOnly");
  g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "warning");
  c = find_change (changes, "security.mixed_content", NULL);
  g_assert_nonnull (c);
  g_assert_cmpint (tsq_json_get_int (c, "new", 0), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (
                     tsq_json_get_array (tsq_json_get_object (c, "evidence"), "added"), 0),
                   ==, "http://cdn.example/lib.js");
  monitor_clear (&m);
}

static void
test_previous_without_state (void)
{
  g_autoptr (JsonObject) previous = make_result ();
  g_autoptr (JsonObject) current = make_result ();
  g_autoptr (JsonArray) changes = NULL;
  g_autoptr (JsonArray) reseeded = NULL;
  g_autoptr (JsonObject) state_out = NULL;
  g_autoptr (JsonObject) stale = json_object_new ();
  g_autoptr (JsonObject) stale_out = NULL;
  g_autoptr (JsonArray) first = NULL;

  set_tech (current, "jQuery", "3.7.1", 100, "JavaScript libraries");
  changes = tsq_detect_changes (previous, current, NULL, NULL, &state_out);
  only_change (changes, "technology.version_changed");
  g_assert_cmpint (tsq_json_get_int (state_out, "scans", 0), ==, 2);

  /* A state of another version is ignored: re-seeded from previous. */
  json_object_set_int_member (stale, "version", 99);
  json_object_set_object_member (stale, "last_good", json_object_new ());
  reseeded = tsq_detect_changes (previous, current, stale, NULL, &stale_out);
  only_change (reseeded, "technology.version_changed");

  /* No previous and no state: the first scan, nothing; state_out is optional. */
  first = tsq_detect_changes (NULL, current, NULL, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (first), ==, 0);
}

static void
test_first_scan_failed (void)
{
  Monitor m;
  g_autoptr (JsonArray) up = NULL;

  monitor_init (&m);
  {
    /* A site down from the first scan is reported: a new monitor on a dead site must not stay
     * silent. Nothing else is compared. */
    g_autoptr (JsonArray) down = monitor_scan (&m, make_error_result ("dns"));
    JsonObject *c = only_change (down, "availability.down");

    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (c, "old")));
    g_assert_cmpstr (tsq_json_get_string (c, "severity", NULL), ==, "critical");
  }
  monitor_scan_quiet (&m, make_error_result ("dns"));
  g_assert_null (tsq_json_get_object (m.state, "last_good"));
  /* The first good scan after a failed first one: up, and no technology "added". */
  up = monitor_scan (&m, make_result ());
  only_change (up, "availability.up");
  monitor_clear (&m);
}

static void
test_garbage (void)
{
  const char *documents[] = {
    "{}",
    "{\"technologies\":5,\"status\":\"x\",\"error\":7,\"content\":[],\"security\":1}",
    "{\"status\":200,\"technologies\":[1,null,{\"name\":5},{\"name\":\"A\",\"confidence\":\"x\"}],"
    "\"content\":{\"hash\":1,\"simhash\":\"zz\",\"text\":5},\"security\":{\"missing_headers\":[1,"
    "null],"
    "\"vulnerabilities\":[{\"advisory\":null},5],\"insecure_cookies\":[{\"name\":\"a\",\"missing\":"
    "[1]}],"
    "\"mixed_content\":[null]},\"endpoints\":[{},{\"url\":3}],\"complexity\":{\"dom_nodes\":"
    "\"many\"},"
    "\"timings\":{\"ttfb_ms\":-5,\"total_ms\":1e308},\"tls\":{\"days_left\":\"soon\"},"
    "\"redirects\":[3]}",
  };
  const char *states[] = {
    NULL,
    "{\"version\":1}",
    "{\"version\":1,\"last_good\":{\"technologies\":\"x\",\"content\":3,\"security\":[]},"
    "\"perf\":{\"ttfb_ms\":{\"samples\":[\"a\",null,-1,1e300],\"regime\":\"degraded\"}},"
    "\"availability\":5}",
    "{\"version\":1,\"last_good\":{\"technologies\":[{\"name\":\"A\",\"version\":3}],"
    "\"content\":{\"hash\":\"ab\",\"simhash\":\"ffffffffffffffffff\",\"text_truncated\":true},"
    "\"complexity\":{\"dom_nodes\":0}},\"perf\":{\"ttfb_ms\":{\"samples\":[1,2,3],\"regime\":"
    "\"degraded\"}}}",
  };

  for (guint p = 0; p < G_N_ELEMENTS (documents); p++)
    for (guint c = 0; c < G_N_ELEMENTS (documents); c++)
      for (guint s = 0; s < G_N_ELEMENTS (states); s++)
        {
          g_autoptr (JsonNode) prev = tsq_json_from_string (documents[p], NULL);
          g_autoptr (JsonNode) cur = tsq_json_from_string (documents[c], NULL);
          g_autoptr (JsonNode) st = states[s] ? tsq_json_from_string (states[s], NULL) : NULL;
          JsonObject *state_out = NULL;
          g_autoptr (JsonArray) changes = NULL;

          changes = tsq_detect_changes (json_node_get_object (prev), json_node_get_object (cur),
                                        st ? json_node_get_object (st) : NULL, NULL, &state_out);
          g_assert_nonnull (changes);
          g_assert_nonnull (state_out);
          json_object_unref (state_out);
        }

  /* current NULL: no changes, state unchanged (or none). */
  {
    g_autoptr (JsonArray) none = tsq_detect_changes (NULL, NULL, NULL, NULL, NULL);
    JsonObject *out = (JsonObject *)0x1;
    g_autoptr (JsonArray) none2 = tsq_detect_changes (NULL, NULL, NULL, NULL, &out);

    g_assert_cmpuint (json_array_get_length (none), ==, 0);
    g_assert_cmpuint (json_array_get_length (none2), ==, 0);
    g_assert_null (out);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/change-detector/first-scan", test_first_scan);
  g_test_add_func ("/tsq/change-detector/identical", test_identical);
  g_test_add_func ("/tsq/change-detector/technology-version-changed", test_version_changed);
  g_test_add_func ("/tsq/change-detector/technology-added-removed", test_technology_added_removed);
  g_test_add_func ("/tsq/change-detector/technology-low-confidence", test_low_confidence_flicker);
  g_test_add_func ("/tsq/change-detector/technology-incomplete-scan",
                   test_incomplete_scan_defers_removal);
  g_test_add_func ("/tsq/change-detector/security-headers", test_header_removed_added);
  g_test_add_func ("/tsq/change-detector/performance", test_performance);
  g_test_add_func ("/tsq/change-detector/performance-thresholds", test_performance_thresholds);
  g_test_add_func ("/tsq/change-detector/content-noise", test_content_noise);
  g_test_add_func ("/tsq/change-detector/content-changed", test_content_changed);
  g_test_add_func ("/tsq/change-detector/content-threshold",
                   test_content_threshold_keeps_reference);
  g_test_add_func ("/tsq/change-detector/outage", test_outage);
  g_test_add_func ("/tsq/change-detector/status-redirect", test_status_and_redirect);
  g_test_add_func ("/tsq/change-detector/certificate", test_certificate);
  g_test_add_func ("/tsq/change-detector/endpoints", test_endpoints);
  g_test_add_func ("/tsq/change-detector/complexity", test_complexity);
  g_test_add_func ("/tsq/change-detector/vulnerabilities", test_vulnerabilities);
  g_test_add_func ("/tsq/change-detector/vulnerability-confirmation",
                   test_vulnerability_waits_for_confirmation);
  g_test_add_func ("/tsq/change-detector/cookies-mixed-content", test_cookies_and_mixed_content);
  g_test_add_func ("/tsq/change-detector/previous-without-state", test_previous_without_state);
  g_test_add_func ("/tsq/change-detector/first-scan-failed", test_first_scan_failed);
  g_test_add_func ("/tsq/change-detector/garbage", test_garbage);
  return g_test_run ();
}
