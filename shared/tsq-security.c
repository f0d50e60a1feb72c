/* tsq-security.c: security facts of one scanned page and a simple grade.
 *
 * Everything here reads data that came from the network (headers, URLs, cookie strings), so all
 * strings put into the JSON are made valid UTF-8 and bounded in length, and every list is capped:
 * a hostile page cannot make the result huge or invalid.
 */
#define G_LOG_DOMAIN "tsq-security"

#include "tsq-security.h"

#include <string.h>

#include "tsq-json-util.h"

/* Bounds on what one page may put into the result. */
#define MAX_HEADER_VALUE 8192
#define MAX_URL_LENGTH 2048
#define MAX_COOKIE_NAME 256
#define MAX_LIST_ITEMS 200
#define MAX_VULNERABILITIES 500

typedef struct
{
  const char *member;
  const char *header;
} SecurityHeader;

static const SecurityHeader security_headers[] = {
  { "hsts", "Strict-Transport-Security" },  { "csp", "Content-Security-Policy" },
  { "x_frame_options", "X-Frame-Options" }, { "x_content_type_options", "X-Content-Type-Options" },
  { "referrer_policy", "Referrer-Policy" }, { "permissions_policy", "Permissions-Policy" },
};

/* Grade deductions; docs/security.md documents the same table. */
#define PENALTY_NO_HTTPS 30
#define PENALTY_NO_HSTS 10
#define PENALTY_NO_CSP 15
#define PENALTY_NO_FRAME_PROTECTION 10
#define PENALTY_NO_NOSNIFF 5
#define PENALTY_NO_REFERRER_POLICY 5
#define PENALTY_NO_PERMISSIONS_POLICY 5
#define PENALTY_PER_INSECURE_COOKIE 5
#define PENALTY_INSECURE_COOKIES_MAX 15
#define PENALTY_MIXED_CONTENT 15
#define PENALTY_INSECURE_FORMS 15
#define PENALTY_TLS_EXPIRED 40
#define PENALTY_TLS_EXPIRING 10
#define TLS_EXPIRING_DAYS 14
#define PENALTY_VULNERABILITIES_MAX 40

static const int vulnerability_penalty[]
  = { 3 /* low */, 8 /* medium */, 15 /* high */, 25 /* critical */ };

/* Valid UTF-8, at most @max bytes, cut on a character boundary. */
static char *
safe_string (const char *s, gsize max)
{
  g_autofree char *valid = g_utf8_make_valid (s, strnlen (s, max * 4 + 4));
  const char *end;

  if (strlen (valid) <= max)
    return g_steal_pointer (&valid);
  end = valid + max;
  while (end > valid && (*end & 0xc0) == 0x80)
    end--;
  return g_strndup (valid, end - valid);
}

static void
add_string_or_null (JsonObject *obj, const char *member, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (obj, member, value);
  else
    json_object_set_null_member (obj, member);
}

static gboolean
has_scheme (const char *url, const char *scheme)
{
  gsize n = strlen (scheme);

  return url != NULL && g_ascii_strncasecmp (url, scheme, n) == 0 && url[n] == ':';
}

/* The header's value, repeated headers joined with ", ", trimmed; NULL when absent or blank. */
static char *
header_value (SoupMessageHeaders *headers, const char *name)
{
  const char *raw;
  g_autofree char *trimmed = NULL;

  if (headers == NULL)
    return NULL;
  raw = soup_message_headers_get_list (headers, name);
  if (raw == NULL)
    return NULL;
  trimmed = g_strstrip (safe_string (raw, MAX_HEADER_VALUE));
  if (*trimmed == '\0')
    return NULL;
  return g_steal_pointer (&trimmed);
}

static gboolean
csp_has_frame_ancestors (const char *csp)
{
  g_autofree char *lower = NULL;

  if (csp == NULL)
    return FALSE;
  lower = g_ascii_strdown (csp, -1);
  return strstr (lower, "frame-ancestors") != NULL;
}

/* ---- cookies ---- */

typedef struct
{
  char *name;
  gboolean missing_secure;
  gboolean missing_httponly;
  gboolean missing_samesite;
} CookieReport;

static void
cookie_report_free (gpointer data)
{
  CookieReport *c = data;

  g_free (c->name);
  g_free (c);
}

typedef struct
{
  gboolean https;
  GPtrArray *reports;  /* CookieReport*, in order of first appearance */
  GHashTable *by_name; /* borrowed name -> CookieReport* */
} CookieScan;

static char *
trim_dup (const char *start, gsize len)
{
  return g_strstrip (g_strndup (start, len));
}

/* A cookie being deleted (Max-Age <= 0, or Expires in the past without Max-Age) is not a cookie
 * the browser keeps, so its attributes do not matter. */
static gboolean
is_deletion (gboolean has_max_age, gint64 max_age, const char *expires)
{
  g_autoptr (GDateTime) when = NULL;
  g_autoptr (GDateTime) now = NULL;

  if (has_max_age)
    return max_age <= 0;
  if (expires == NULL)
    return FALSE;
  when = soup_date_time_new_from_http_string (expires);
  if (when == NULL)
    return FALSE;
  now = g_date_time_new_now_utc ();
  return g_date_time_compare (when, now) < 0;
}

static void
scan_one_cookie (CookieScan *scan, const char *line)
{
  g_auto (GStrv) parts = g_strsplit (line, ";", 64);
  g_autofree char *name = NULL;
  g_autofree char *expires = NULL;
  const char *eq;
  gboolean secure = FALSE, httponly = FALSE, samesite = FALSE, has_max_age = FALSE;
  gint64 max_age = 0;
  CookieReport *report;

  if (parts[0] == NULL)
    return;
  /* RFC 6265 5.2: a name-value pair without '=' or with an empty name is ignored. */
  eq = strchr (parts[0], '=');
  if (eq == NULL)
    return;
  name = trim_dup (parts[0], eq - parts[0]);
  if (*name == '\0')
    return;

  for (guint i = 1; parts[i] != NULL; i++)
    {
      const char *attr_eq = strchr (parts[i], '=');
      g_autofree char *attr = NULL;
      g_autofree char *value = NULL;

      if (attr_eq != NULL)
        {
          attr = trim_dup (parts[i], attr_eq - parts[i]);
          value = trim_dup (attr_eq + 1, strlen (attr_eq + 1));
        }
      else
        attr = trim_dup (parts[i], strlen (parts[i]));

      if (g_ascii_strcasecmp (attr, "secure") == 0)
        secure = TRUE;
      else if (g_ascii_strcasecmp (attr, "httponly") == 0)
        httponly = TRUE;
      else if (g_ascii_strcasecmp (attr, "samesite") == 0)
        /* An unknown SameSite value is ignored by browsers, so it does not count. */
        samesite
          = value != NULL
            && (g_ascii_strcasecmp (value, "strict") == 0 || g_ascii_strcasecmp (value, "lax") == 0
                || g_ascii_strcasecmp (value, "none") == 0);
      else if (g_ascii_strcasecmp (attr, "max-age") == 0 && value != NULL)
        {
          char *end = NULL;
          gint64 v = g_ascii_strtoll (value, &end, 10);

          /* Invalid Max-Age values are ignored (RFC 6265 5.2.2). */
          if (end != value && *end == '\0')
            has_max_age = TRUE, max_age = v;
        }
      else if (g_ascii_strcasecmp (attr, "expires") == 0 && value != NULL)
        {
          g_free (expires);
          expires = g_strdup (value);
        }
    }

  if (is_deletion (has_max_age, max_age, expires))
    return;
  /* On an http page the cookie has already crossed the network in clear, whatever it says, and
   * browsers refuse Secure cookies from insecure origins: Secure is always flagged there. */
  if (scan->https && secure && httponly && samesite)
    return;

  report = g_hash_table_lookup (scan->by_name, name);
  if (report == NULL)
    {
      if (scan->reports->len >= MAX_LIST_ITEMS)
        return;
      report = g_new0 (CookieReport, 1);
      report->name = safe_string (name, MAX_COOKIE_NAME);
      g_ptr_array_add (scan->reports, report);
      g_hash_table_insert (scan->by_name, report->name, report);
    }
  /* Set twice with different attributes: report the union of what is missing. */
  report->missing_secure |= !scan->https || !secure;
  report->missing_httponly |= !httponly;
  report->missing_samesite |= !samesite;
}

static void
foreach_header (const char *name, const char *value, gpointer user_data)
{
  CookieScan *scan = user_data;

  /* soup_message_headers_foreach gives each Set-Cookie header separately (get_list would
   * join them with ", ", which cannot be split back since Expires contains commas). */
  if (g_ascii_strcasecmp (name, "Set-Cookie") == 0)
    scan_one_cookie (scan, value);
}

static JsonArray *
insecure_cookies (SoupMessageHeaders *headers, gboolean https)
{
  g_autoptr (GPtrArray) reports = g_ptr_array_new_with_free_func (cookie_report_free);
  g_autoptr (GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  CookieScan scan = { https, reports, by_name };
  JsonArray *result = json_array_new ();

  if (headers != NULL)
    soup_message_headers_foreach (headers, foreach_header, &scan);
  for (guint i = 0; i < reports->len; i++)
    {
      CookieReport *c = g_ptr_array_index (reports, i);
      JsonObject *obj;
      JsonArray *missing;

      if (!c->missing_secure && !c->missing_httponly && !c->missing_samesite)
        continue;
      obj = json_object_new ();
      missing = json_array_new ();
      json_object_set_string_member (obj, "name", c->name);
      if (c->missing_secure)
        json_array_add_string_element (missing, "Secure");
      if (c->missing_httponly)
        json_array_add_string_element (missing, "HttpOnly");
      if (c->missing_samesite)
        json_array_add_string_element (missing, "SameSite");
      json_object_set_array_member (obj, "missing", missing);
      json_array_add_object_element (result, obj);
    }
  return result;
}

/* ---- URLs ---- */

static JsonArray *
http_urls (GPtrArray *urls)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonArray *result = json_array_new ();

  for (guint i = 0; urls != NULL && i < urls->len; i++)
    {
      const char *url = g_ptr_array_index (urls, i);
      g_autofree char *safe = NULL;

      if (!has_scheme (url, "http"))
        continue;
      if (json_array_get_length (result) >= MAX_LIST_ITEMS)
        break;
      safe = safe_string (url, MAX_URL_LENGTH);
      if (g_hash_table_contains (seen, safe))
        continue;
      json_array_add_string_element (result, safe);
      g_hash_table_add (seen, g_steal_pointer (&safe));
    }
  return result;
}

/* ---- vulnerabilities ---- */

typedef struct
{
  const TsqVulnerability *vuln;
  char *technology; /* as the page's technology list spells it */
  char *version;
  int rank;
} Finding;

static void
finding_free (gpointer data)
{
  Finding *f = data;

  g_free (f->technology);
  g_free (f->version);
  g_free (f);
}

static int
finding_compare (gconstpointer a, gconstpointer b)
{
  const Finding *fa = *(const Finding *const *)a;
  const Finding *fb = *(const Finding *const *)b;
  int c;

  if (fa->rank != fb->rank)
    return fb->rank - fa->rank;
  c = g_ascii_strcasecmp (fa->technology, fb->technology);
  if (c != 0)
    return c;
  return strcmp (fa->vuln->advisory, fb->vuln->advisory);
}

static GPtrArray *
find_vulnerabilities (JsonArray *technologies, TsqVulnDb *db)
{
  GPtrArray *findings = g_ptr_array_new_with_free_func (finding_free);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (technologies == NULL || db == NULL)
    return findings;
  for (guint i = 0; i < json_array_get_length (technologies); i++)
    {
      JsonNode *node = json_array_get_element (technologies, i);
      g_autoptr (GPtrArray) matches = NULL;
      const char *name, *version;
      JsonObject *tech;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      tech = json_node_get_object (node);
      name = tsq_json_get_string (tech, "name", NULL);
      version = tsq_json_get_string (tech, "version", NULL);
      if (name == NULL || version == NULL || *version == '\0')
        continue;
      matches = tsq_vuln_db_match (db, name, version);
      for (guint m = 0; m < matches->len && findings->len < MAX_VULNERABILITIES; m++)
        {
          const TsqVulnerability *v = g_ptr_array_index (matches, m);
          g_autofree char *folded = g_utf8_casefold (name, -1);
          char *key = g_strconcat (folded, "\n", v->advisory, NULL);
          Finding *f;

          /* The same technology listed twice (two detections) yields one finding. */
          if (!g_hash_table_add (seen, key))
            continue;
          f = g_new0 (Finding, 1);
          f->vuln = v;
          f->technology = safe_string (name, 256);
          f->version = safe_string (version, 256);
          f->rank = tsq_vuln_severity_rank (v->severity);
          g_ptr_array_add (findings, f);
        }
    }
  g_ptr_array_sort (findings, finding_compare);
  return findings;
}

static JsonArray *
findings_to_json (GPtrArray *findings)
{
  JsonArray *result = json_array_new ();

  for (guint i = 0; i < findings->len; i++)
    {
      const Finding *f = g_ptr_array_index (findings, i);
      JsonObject *obj = json_object_new ();

      json_object_set_string_member (obj, "technology", f->technology);
      json_object_set_string_member (obj, "version", f->version);
      json_object_set_string_member (obj, "advisory", f->vuln->advisory);
      add_string_or_null (obj, "ghsa", f->vuln->ghsa);
      json_object_set_string_member (obj, "severity", f->vuln->severity);
      json_object_set_string_member (obj, "summary", f->vuln->summary);
      json_object_set_string_member (obj, "affected", f->vuln->affected);
      add_string_or_null (obj, "fixed_in", f->vuln->fixed_in);
      json_object_set_string_member (obj, "reference_url", f->vuln->reference_url);
      json_array_add_object_element (result, obj);
    }
  return result;
}

/* ---- grade ---- */

const char *
tsq_security_grade_for_score (int score)
{
  if (score >= 90)
    return "A";
  if (score >= 80)
    return "B";
  if (score >= 70)
    return "C";
  if (score >= 60)
    return "D";
  return "F";
}

static void
deduct (int *score, JsonArray *reasons, int points, const char *why)
{
  g_autofree char *text = NULL;

  if (points <= 0)
    return;
  *score -= points;
  text = g_strdup_printf ("%s (-%d)", why, points);
  json_array_add_string_element (reasons, text);
}

JsonObject *
tsq_security_assess (const TsqSecurityInput *input)
{
  JsonObject *result;
  JsonArray *missing, *cookies, *mixed, *forms, *reasons;
  g_autoptr (GPtrArray) findings = NULL;
  g_autofree char *csp = NULL;
  g_autofree char *xfo = NULL;
  g_autofree char *nosniff = NULL;
  gboolean https;
  int score = 100, vuln_points = 0;
  guint n_cookies;

  g_return_val_if_fail (input != NULL, NULL);

  result = json_object_new ();
  https = has_scheme (input->final_url, "https");
  json_object_set_boolean_member (result, "https", https);

  missing = json_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (security_headers); i++)
    {
      g_autofree char *value = header_value (input->headers, security_headers[i].header);

      add_string_or_null (result, security_headers[i].member, value);
      if (value == NULL)
        json_array_add_string_element (missing, security_headers[i].header);
    }
  json_object_set_array_member (result, "missing_headers", missing);

  cookies = insecure_cookies (input->headers, https);
  json_object_set_array_member (result, "insecure_cookies", cookies);

  if (https && input->tls_days_left != -1)
    json_object_set_int_member (result, "tls_days_left", input->tls_days_left);
  else
    json_object_set_null_member (result, "tls_days_left");

  /* Mixed content only exists on https pages: on http everything is already in clear. */
  mixed = https ? http_urls (input->subresource_urls) : json_array_new ();
  json_object_set_array_member (result, "mixed_content", mixed);
  /* A form posting to http sends its fields in clear, whatever page it sits on. */
  forms = http_urls (input->form_actions);
  json_object_set_array_member (result, "insecure_forms", forms);

  findings = find_vulnerabilities (input->technologies, input->vulns);
  json_object_set_array_member (result, "vulnerabilities", findings_to_json (findings));

  /* Score: see docs/security.md. */
  reasons = json_array_new ();
  csp = header_value (input->headers, "Content-Security-Policy");
  xfo = header_value (input->headers, "X-Frame-Options");
  nosniff = header_value (input->headers, "X-Content-Type-Options");
  if (!https)
    deduct (&score, reasons, PENALTY_NO_HTTPS, "not served over HTTPS");
  else if (!json_object_get_string_member_with_default (result, "hsts", NULL))
    deduct (&score, reasons, PENALTY_NO_HSTS, "no Strict-Transport-Security");
  if (csp == NULL)
    deduct (&score, reasons, PENALTY_NO_CSP, "no Content-Security-Policy");
  if (xfo == NULL && !csp_has_frame_ancestors (csp))
    deduct (&score, reasons, PENALTY_NO_FRAME_PROTECTION,
            "no X-Frame-Options or CSP frame-ancestors");
  if (nosniff == NULL || g_ascii_strcasecmp (nosniff, "nosniff") != 0)
    deduct (&score, reasons, PENALTY_NO_NOSNIFF, "no X-Content-Type-Options: nosniff");
  if (!json_object_get_string_member_with_default (result, "referrer_policy", NULL))
    deduct (&score, reasons, PENALTY_NO_REFERRER_POLICY, "no Referrer-Policy");
  if (!json_object_get_string_member_with_default (result, "permissions_policy", NULL))
    deduct (&score, reasons, PENALTY_NO_PERMISSIONS_POLICY, "no Permissions-Policy");
  n_cookies = json_array_get_length (cookies);
  if (n_cookies > 0)
    {
      g_autofree char *why = g_strdup_printf ("%u insecure cookie(s)", n_cookies);

      deduct (
        &score, reasons,
        MIN ((int)MIN (n_cookies, 100) * PENALTY_PER_INSECURE_COOKIE, PENALTY_INSECURE_COOKIES_MAX),
        why);
    }
  if (json_array_get_length (mixed) > 0)
    deduct (&score, reasons, PENALTY_MIXED_CONTENT, "mixed content");
  if (json_array_get_length (forms) > 0)
    deduct (&score, reasons, PENALTY_INSECURE_FORMS, "form submitted over http");
  if (https && input->tls_days_left != -1)
    {
      if (input->tls_days_left < 0)
        deduct (&score, reasons, PENALTY_TLS_EXPIRED, "TLS certificate expired");
      else if (input->tls_days_left < TLS_EXPIRING_DAYS)
        deduct (&score, reasons, PENALTY_TLS_EXPIRING, "TLS certificate expires within 14 days");
    }
  for (guint i = 0; i < findings->len; i++)
    {
      const Finding *f = g_ptr_array_index (findings, i);

      if (f->rank >= 0)
        vuln_points += vulnerability_penalty[f->rank];
      if (vuln_points >= PENALTY_VULNERABILITIES_MAX)
        break;
    }
  if (vuln_points > 0)
    {
      g_autofree char *why = g_strdup_printf ("%u known vulnerabilit%s", findings->len,
                                              findings->len == 1 ? "y" : "ies");

      deduct (&score, reasons, MIN (vuln_points, PENALTY_VULNERABILITIES_MAX), why);
    }

  score = CLAMP (score, 0, 100);
  json_object_set_int_member (result, "score", score);
  json_object_set_string_member (result, "grade", tsq_security_grade_for_score (score));
  json_object_set_array_member (result, "grade_reasons", reasons);
  return result;
}
