/* security-test.c: the security object computed from crafted headers, URLs and technologies. */
#include <string.h>

#include "tsq-json-util.h"
#include "tsq-security.h"

static SoupMessageHeaders *
all_headers (void)
{
  SoupMessageHeaders *h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);

  soup_message_headers_append (h, "Strict-Transport-Security", "max-age=63072000");
  soup_message_headers_append (h, "Content-Security-Policy", "default-src 'self'");
  soup_message_headers_append (h, "X-Frame-Options", "DENY");
  soup_message_headers_append (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_append (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_append (h, "Permissions-Policy", "geolocation=()");
  return h;
}

static JsonArray *
string_array (JsonObject *obj, const char *member)
{
  JsonArray *a = tsq_json_get_array (obj, member);

  g_assert_nonnull (a);
  return a;
}

static gboolean
array_has_string (JsonArray *a, const char *s)
{
  for (guint i = 0; i < json_array_get_length (a); i++)
    if (g_strcmp0 (json_array_get_string_element (a, i), s) == 0)
      return TRUE;
  return FALSE;
}

static JsonObject *
find_cookie (JsonObject *result, const char *name)
{
  JsonArray *cookies = string_array (result, "insecure_cookies");

  for (guint i = 0; i < json_array_get_length (cookies); i++)
    {
      JsonObject *c = json_array_get_object_element (cookies, i);

      if (g_strcmp0 (json_object_get_string_member (c, "name"), name) == 0)
        return c;
    }
  return NULL;
}

static void
test_all_headers_present (void)
{
  g_autoptr (SoupMessageHeaders) h = all_headers ();
  TsqSecurityInput in = { .final_url = "https://example.com/", .headers = h, .tls_days_left = 80 };
  g_autoptr (JsonObject) r = tsq_security_assess (&in);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), r);
  g_autofree char *text = tsq_json_to_string (node, FALSE);

  g_assert_true (json_object_get_boolean_member (r, "https"));
  g_assert_cmpstr (json_object_get_string_member (r, "hsts"), ==, "max-age=63072000");
  g_assert_cmpstr (json_object_get_string_member (r, "csp"), ==, "default-src 'self'");
  g_assert_cmpstr (json_object_get_string_member (r, "x_frame_options"), ==, "DENY");
  g_assert_cmpstr (json_object_get_string_member (r, "x_content_type_options"), ==, "nosniff");
  g_assert_cmpstr (json_object_get_string_member (r, "referrer_policy"), ==, "no-referrer");
  g_assert_cmpstr (json_object_get_string_member (r, "permissions_policy"), ==, "geolocation=()");
  g_assert_cmpuint (json_array_get_length (string_array (r, "missing_headers")), ==, 0);
  g_assert_cmpuint (json_array_get_length (string_array (r, "insecure_cookies")), ==, 0);
  g_assert_cmpuint (json_array_get_length (string_array (r, "mixed_content")), ==, 0);
  g_assert_cmpuint (json_array_get_length (string_array (r, "insecure_forms")), ==, 0);
  g_assert_cmpuint (json_array_get_length (string_array (r, "vulnerabilities")), ==, 0);
  g_assert_cmpint (json_object_get_int_member (r, "tls_days_left"), ==, 80);
  g_assert_cmpint (json_object_get_int_member (r, "score"), ==, 100);
  g_assert_cmpstr (json_object_get_string_member (r, "grade"), ==, "A");
  g_assert_cmpuint (json_array_get_length (string_array (r, "grade_reasons")), ==, 0);
  g_assert_nonnull (text);
}

static void
test_no_headers (void)
{
  static const char *const names[] = {
    "Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options",
    "X-Content-Type-Options",    "Referrer-Policy",         "Permissions-Policy",
  };
  static const char *const members[] = {
    "hsts",
    "csp",
    "x_frame_options",
    "x_content_type_options",
    "referrer_policy",
    "permissions_policy",
  };
  TsqSecurityInput in
    = { .final_url = "https://example.com/", .headers = NULL, .tls_days_left = -1 };
  g_autoptr (JsonObject) r = tsq_security_assess (&in);
  JsonArray *missing = string_array (r, "missing_headers");

  g_assert_cmpuint (json_array_get_length (missing), ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_true (array_has_string (missing, names[i]));
      g_assert_true (json_object_has_member (r, members[i]));
      g_assert_true (json_object_get_null_member (r, members[i]));
    }
  g_assert_true (json_object_get_null_member (r, "tls_days_left"));
  /* 100 - 10 HSTS - 15 CSP - 10 framing - 5 nosniff - 5 referrer - 5 permissions */
  g_assert_cmpint (json_object_get_int_member (r, "score"), ==, 50);
  g_assert_cmpstr (json_object_get_string_member (r, "grade"), ==, "F");
  g_assert_cmpuint (json_array_get_length (string_array (r, "grade_reasons")), ==, 6);
}

static void
test_header_details (void)
{
  g_autoptr (SoupMessageHeaders) h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  TsqSecurityInput in = { .final_url = "HTTPS://Example.com/", .headers = h, .tls_days_left = -1 };
  g_autoptr (JsonObject) r = NULL;
  JsonArray *missing;

  /* Blank values count as missing; header names are case-insensitive; repeats are joined. */
  soup_message_headers_append (h, "x-frame-options", "   ");
  soup_message_headers_append (h, "content-security-policy", "frame-ancestors 'none'");
  soup_message_headers_append (h, "Content-Security-Policy", "script-src 'self'");
  soup_message_headers_append (h, "X-Content-Type-Options", "sniff-away");
  r = tsq_security_assess (&in);
  missing = string_array (r, "missing_headers");

  g_assert_true (json_object_get_boolean_member (r, "https"));
  g_assert_true (json_object_get_null_member (r, "x_frame_options"));
  g_assert_true (array_has_string (missing, "X-Frame-Options"));
  g_assert_false (array_has_string (missing, "Content-Security-Policy"));
  g_assert_cmpstr (json_object_get_string_member (r, "csp"), ==,
                   "frame-ancestors 'none', script-src 'self'");
  /* CSP frame-ancestors replaces X-Frame-Options; a wrong nosniff value still costs points:
   * 100 - 10 HSTS - 5 nosniff - 5 referrer - 5 permissions */
  g_assert_cmpint (json_object_get_int_member (r, "score"), ==, 75);
  g_assert_cmpstr (json_object_get_string_member (r, "grade"), ==, "C");
}

static void
test_cookies_https (void)
{
  g_autoptr (SoupMessageHeaders) h = all_headers ();
  TsqSecurityInput in = { .final_url = "https://example.com/", .headers = h, .tls_days_left = 30 };
  g_autoptr (JsonObject) r = NULL;
  JsonObject *c;
  JsonArray *missing;

  soup_message_headers_append (h, "Set-Cookie", "good=1; Secure; HttpOnly; SameSite=Lax; Path=/");
  soup_message_headers_append (h, "set-cookie", "nosecure=1; HttpOnly; SameSite=Strict");
  soup_message_headers_append (h, "Set-Cookie", "nohttponly=1; secure; samesite=none");
  soup_message_headers_append (h, "Set-Cookie", "nosamesite=1; SECURE; HTTPONLY");
  soup_message_headers_append (h, "Set-Cookie", "badsamesite=1; Secure; HttpOnly; SameSite=Maybe");
  soup_message_headers_append (h, "Set-Cookie", "bare=1");
  soup_message_headers_append (h, "Set-Cookie", "deleted=; Max-Age=0");
  soup_message_headers_append (h, "Set-Cookie", "expired=; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  soup_message_headers_append (h, "Set-Cookie", "noequals; Secure");
  soup_message_headers_append (h, "Set-Cookie", " =nameless; Secure");
  soup_message_headers_append (h, "Set-Cookie", "a=1; Secure; HttpOnly; SameSite=Lax");
  soup_message_headers_append (h, "Set-Cookie", "b=2; Secure; HttpOnly; SameSite=Lax");
  soup_message_headers_append (h, "Set-Cookie", "b=3; Secure; SameSite=Lax");
  r = tsq_security_assess (&in);

  g_assert_null (find_cookie (r, "good"));
  g_assert_null (find_cookie (r, "deleted"));
  g_assert_null (find_cookie (r, "expired"));
  g_assert_null (find_cookie (r, "noequals"));
  g_assert_null (find_cookie (r, "a"));

  c = find_cookie (r, "nosecure");
  g_assert_nonnull (c);
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_true (array_has_string (missing, "Secure"));

  c = find_cookie (r, "nohttponly");
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_true (array_has_string (missing, "HttpOnly"));

  c = find_cookie (r, "nosamesite");
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_true (array_has_string (missing, "SameSite"));

  c = find_cookie (r, "badsamesite");
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_true (array_has_string (missing, "SameSite"));

  c = find_cookie (r, "bare");
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 3);
  g_assert_cmpstr (json_array_get_string_element (missing, 0), ==, "Secure");
  g_assert_cmpstr (json_array_get_string_element (missing, 1), ==, "HttpOnly");
  g_assert_cmpstr (json_array_get_string_element (missing, 2), ==, "SameSite");

  /* b set twice, once without HttpOnly: reported once, with what either setting lacks. */
  c = find_cookie (r, "b");
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_true (array_has_string (missing, "HttpOnly"));
  g_assert_cmpuint (json_array_get_length (string_array (r, "insecure_cookies")), ==, 6);
  /* Six insecure cookies cost the capped 15 points. */
  g_assert_cmpint (json_object_get_int_member (r, "score"), ==, 85);
}

static void
test_cookies_http (void)
{
  g_autoptr (SoupMessageHeaders) h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  TsqSecurityInput in = { .final_url = "http://example.com/", .headers = h, .tls_days_left = 20 };
  g_autoptr (JsonObject) r = NULL;
  JsonObject *c;
  JsonArray *missing;

  soup_message_headers_append (h, "Set-Cookie", "sid=1; Secure; HttpOnly; SameSite=Lax");
  soup_message_headers_append (h, "Set-Cookie", "sid=2; HttpOnly; SameSite=Lax");
  r = tsq_security_assess (&in);

  g_assert_false (json_object_get_boolean_member (r, "https"));
  /* Not https: TLS facts are not reported even if the caller passed a number. */
  g_assert_true (json_object_get_null_member (r, "tls_days_left"));
  /* On http every cookie travels in clear: Secure is flagged even when the attribute is set. */
  g_assert_cmpuint (json_array_get_length (string_array (r, "insecure_cookies")), ==, 1);
  c = find_cookie (r, "sid");
  missing = json_object_get_array_member (c, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_true (array_has_string (missing, "Secure"));
}

static void
test_mixed_content (void)
{
  g_autoptr (SoupMessageHeaders) h = all_headers ();
  g_autoptr (GPtrArray) urls = g_ptr_array_new ();
  g_autoptr (GPtrArray) forms = g_ptr_array_new ();
  TsqSecurityInput in = { .final_url = "https://example.com/",
                          .headers = h,
                          .tls_days_left = 90,
                          .subresource_urls = urls,
                          .form_actions = forms };
  g_autoptr (JsonObject) https_result = NULL;
  g_autoptr (JsonObject) http_result = NULL;
  JsonArray *mixed;

  g_ptr_array_add (urls, "https://cdn.example.com/app.js");
  g_ptr_array_add (urls, "http://cdn.example.com/jquery.js");
  g_ptr_array_add (urls, "HTTP://img.example.com/a.png");
  g_ptr_array_add (urls, "http://cdn.example.com/jquery.js");
  g_ptr_array_add (urls, "httpx://odd.example.com/");
  g_ptr_array_add (urls, "data:image/png;base64,AAAA");
  g_ptr_array_add (forms, "https://example.com/login");
  g_ptr_array_add (forms, "http://example.com/search");

  https_result = tsq_security_assess (&in);
  mixed = string_array (https_result, "mixed_content");
  g_assert_cmpuint (json_array_get_length (mixed), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (mixed, 0), ==,
                   "http://cdn.example.com/jquery.js");
  g_assert_cmpstr (json_array_get_string_element (mixed, 1), ==, "HTTP://img.example.com/a.png");
  g_assert_cmpuint (json_array_get_length (string_array (https_result, "insecure_forms")), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (string_array (https_result, "insecure_forms"), 0),
                   ==, "http://example.com/search");
  /* 100 - 15 mixed content - 15 insecure form */
  g_assert_cmpint (json_object_get_int_member (https_result, "score"), ==, 70);

  in.final_url = "http://example.com/";
  http_result = tsq_security_assess (&in);
  g_assert_cmpuint (json_array_get_length (string_array (http_result, "mixed_content")), ==, 0);
  g_assert_cmpuint (json_array_get_length (string_array (http_result, "insecure_forms")), ==, 1);
}

static void
test_tls_days_left (void)
{
  g_autoptr (SoupMessageHeaders) h = all_headers ();
  TsqSecurityInput in = { .final_url = "https://example.com/", .headers = h };
  const struct
  {
    int days;
    int score;
  } cases[] = { { 365, 100 }, { 14, 100 }, { 13, 90 }, { 0, 90 }, { -5, 60 }, { -1, 100 } };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (JsonObject) r = NULL;

      in.tls_days_left = cases[i].days;
      r = tsq_security_assess (&in);
      if (cases[i].days == -1)
        g_assert_true (json_object_get_null_member (r, "tls_days_left"));
      else
        g_assert_cmpint (json_object_get_int_member (r, "tls_days_left"), ==, cases[i].days);
      g_assert_cmpint (json_object_get_int_member (r, "score"), ==, cases[i].score);
    }
}

static JsonArray *
technologies (const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = tsq_json_from_string (json, &error);

  g_assert_no_error (error);
  return json_array_ref (json_node_get_array (node));
}

static void
test_vulnerabilities (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupMessageHeaders) h = all_headers ();
  g_autofree char *path
    = g_build_filename (g_getenv ("TSQ_DATA_DIR"), "vulnerabilities.json", NULL);
  g_autoptr (TsqVulnDb) db = tsq_vuln_db_load (path, &error);
  g_autoptr (JsonArray) techs
    = technologies ("[{\"name\":\"jQuery\",\"version\":\"3.4.1\",\"confidence\":100},"
                    " {\"name\":\"jQuery\",\"version\":\"3.4.1\"},"
                    " {\"name\":\"Nginx\",\"version\":null},"
                    " {\"name\":\"Lodash\",\"version\":\"4.17.20\"},"
                    " {\"name\":\"React\",\"version\":\"18.2.0\"},"
                    " 42, {\"version\":\"1.0\"}]");
  TsqSecurityInput in = { .final_url = "https://example.com/",
                          .headers = h,
                          .tls_days_left = 100,
                          .technologies = techs,
                          .vulns = db };
  g_autoptr (JsonObject) r = NULL;
  JsonArray *vulns;
  JsonObject *first;

  g_assert_no_error (error);
  r = tsq_security_assess (&in);
  vulns = string_array (r, "vulnerabilities");
  /* jQuery listed twice still yields each advisory once; Lodash 4.17.20 has two. */
  g_assert_cmpuint (json_array_get_length (vulns), ==, 4);
  /* Most severe first. */
  first = json_array_get_object_element (vulns, 0);
  g_assert_cmpstr (json_object_get_string_member (first, "technology"), ==, "Lodash");
  g_assert_cmpstr (json_object_get_string_member (first, "advisory"), ==, "CVE-2021-23337");
  g_assert_cmpstr (json_object_get_string_member (first, "severity"), ==, "high");
  g_assert_cmpstr (json_object_get_string_member (first, "version"), ==, "4.17.20");
  g_assert_cmpstr (json_object_get_string_member (first, "fixed_in"), ==, "4.17.21");
  g_assert_cmpstr (json_object_get_string_member (first, "affected"), ==, "<4.17.21");
  g_assert_nonnull (json_object_get_string_member (first, "summary"));
  g_assert_true (
    g_str_has_prefix (json_object_get_string_member (first, "reference_url"), "https://"));
  for (guint i = 1; i < json_array_get_length (vulns); i++)
    {
      JsonObject *prev = json_array_get_object_element (vulns, i - 1);
      JsonObject *cur = json_array_get_object_element (vulns, i);

      g_assert_cmpint (tsq_vuln_severity_rank (json_object_get_string_member (prev, "severity")),
                       >=,
                       tsq_vuln_severity_rank (json_object_get_string_member (cur, "severity")));
    }
  /* high 15 + medium 8 + medium 8 + medium 8 = 39 */
  g_assert_cmpint (json_object_get_int_member (r, "score"), ==, 61);
  g_assert_cmpstr (json_object_get_string_member (r, "grade"), ==, "D");

  /* Without a database there is nothing to report. */
  in.vulns = NULL;
  {
    g_autoptr (JsonObject) r2 = tsq_security_assess (&in);

    g_assert_cmpuint (json_array_get_length (string_array (r2, "vulnerabilities")), ==, 0);
  }
}

static void
test_http_page_grade (void)
{
  TsqSecurityInput in = { .final_url = "http://example.com/", .tls_days_left = -1 };
  g_autoptr (JsonObject) r = tsq_security_assess (&in);

  /* 100 - 30 no https - 15 - 10 - 5 - 5 - 5 (no HSTS penalty on top of no HTTPS) */
  g_assert_cmpint (json_object_get_int_member (r, "score"), ==, 30);
  g_assert_cmpstr (json_object_get_string_member (r, "grade"), ==, "F");
  g_assert_cmpstr (tsq_security_grade_for_score (90), ==, "A");
  g_assert_cmpstr (tsq_security_grade_for_score (89), ==, "B");
  g_assert_cmpstr (tsq_security_grade_for_score (70), ==, "C");
  g_assert_cmpstr (tsq_security_grade_for_score (60), ==, "D");
  g_assert_cmpstr (tsq_security_grade_for_score (59), ==, "F");
}

static void
test_hostile_input (void)
{
  g_autoptr (SoupMessageHeaders) h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr (GPtrArray) urls = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *long_value = g_strnfill (100000, 'a');
  TsqSecurityInput in
    = { .final_url = NULL, .headers = h, .tls_days_left = 5, .subresource_urls = urls };
  g_autoptr (JsonObject) r = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;
  const char *csp;

  soup_message_headers_append (h, "Content-Security-Policy", long_value);
  soup_message_headers_append (h, "Set-Cookie", "\xff\xfe=1");
  soup_message_headers_append (h, "Set-Cookie", ";;;;");
  soup_message_headers_append (h, "Set-Cookie", "");
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *cookie = g_strdup_printf ("c%u=1", i);

      soup_message_headers_append (h, "Set-Cookie", cookie);
      g_ptr_array_add (urls, g_strdup_printf ("http://x.example/%u.js", i));
    }
  r = tsq_security_assess (&in);
  g_assert_false (json_object_get_boolean_member (r, "https"));
  csp = json_object_get_string_member (r, "csp");
  g_assert_cmpuint (strlen (csp), <=, 8192);
  g_assert_cmpuint (json_array_get_length (string_array (r, "insecure_cookies")), <=, 200);
  node = json_node_init_object (json_node_alloc (), r);
  text = tsq_json_to_string (node, FALSE);
  g_assert_true (g_utf8_validate (text, -1, NULL));

  /* Https page: the mixed content list is capped too. */
  in.final_url = "https://example.com/";
  {
    g_autoptr (JsonObject) r2 = tsq_security_assess (&in);

    g_assert_cmpuint (json_array_get_length (string_array (r2, "mixed_content")), ==, 200);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/security/all-headers", test_all_headers_present);
  g_test_add_func ("/tsq/security/no-headers", test_no_headers);
  g_test_add_func ("/tsq/security/header-details", test_header_details);
  g_test_add_func ("/tsq/security/cookies-https", test_cookies_https);
  g_test_add_func ("/tsq/security/cookies-http", test_cookies_http);
  g_test_add_func ("/tsq/security/mixed-content", test_mixed_content);
  g_test_add_func ("/tsq/security/tls-days-left", test_tls_days_left);
  g_test_add_func ("/tsq/security/vulnerabilities", test_vulnerabilities);
  g_test_add_func ("/tsq/security/http-page-grade", test_http_page_grade);
  g_test_add_func ("/tsq/security/hostile-input", test_hostile_input);
  return g_test_run ();
}
