/* tsq-scanner.c: one scan of one URL, from the first byte fetched to the result JSON.
 *
 * Steps: fetch the page (main context) -> parse and analyse the document (worker thread) ->
 * fetch linked scripts and stylesheets through the cross-scan cache (main context) ->
 * fingerprint, security and complexity (worker thread) -> result. Every failure still yields a
 * result object with "error" {kind, message} and whatever was learnt before the failure.
 */
#define G_LOG_DOMAIN "tsq-scanner"

#include "tsq-config.h"

#include "tsq-complexity.h"
#include "tsq-content.h"
#include "tsq-css-select.h"
#include "tsq-endpoints.h"
#include "tsq-json-util.h"
#include "tsq-page.h"
#include "tsq-scanner.h"
#include "tsq-security.h"

struct _TsqScanner
{
  GObject parent_instance;
  TsqFingerprintDb *fingerprints;
  TsqVulnDb *vulnerabilities;
  TsqScannerOptions options;
  char *user_agent;
  TsqFetcher *fetcher;
  TsqFetcher *insecure_fetcher; /* tls_verify off, for monitors that ask for it */
  TsqResourceCache *cache;
  /* Unchanged-page reuse (see the comment above ReuseEntry). Main context only. */
  GHashTable *reuse; /* key -> ReuseEntry */
  GQueue reuse_lru;  /* ReuseEntry*, most recent first */
  gsize reuse_bytes;
};

/* A page whose bytes (and stable headers, and linked files) are exactly those of its previous
 * scan yields exactly the previous analysis: reuse it instead of parsing and matching again.
 * Most scans of a monitored site find it unchanged, so this is the agent's common case. Pages
 * that differ at all (a nonce, a rotating token) take the full path, so nothing is ever missed:
 * the digest decides, not a guess. */
typedef struct
{
  gatomicrefcount ref;
  char *key;
  guint64 page_digest;
  guint64 resources_digest;
  GPtrArray *resource_urls; /* char*: the page's scripts and stylesheets */
  JsonObject *analysis;     /* result members that follow from the bytes alone */
  GBytes *text_z;           /* content.text, zlib-compressed: most of an entry's weight */
  gsize size;
  GList *link; /* in reuse_lru */
} ReuseEntry;

static ReuseEntry *
reuse_entry_ref (ReuseEntry *entry)
{
  g_atomic_ref_count_inc (&entry->ref);
  return entry;
}

static void
reuse_entry_unref (ReuseEntry *entry)
{
  if (!g_atomic_ref_count_dec (&entry->ref))
    return;
  g_free (entry->key);
  g_clear_pointer (&entry->resource_urls, g_ptr_array_unref);
  g_clear_pointer (&entry->analysis, json_object_unref);
  g_clear_pointer (&entry->text_z, g_bytes_unref);
  g_free (entry);
}

G_DEFINE_FINAL_TYPE (TsqScanner, tsq_scanner, G_TYPE_OBJECT)

typedef struct
{
  char *url;
  JsonObject *scan_config;
  TsqFetcher *fetcher;
  TsqFetchResponse *response;
  TsqPage *page;
  TsqContent *content;
  GPtrArray *resources;
  TsqResourceStats resource_stats;
  GPtrArray *ignore_selectors; /* TsqCssSelector* */
  JsonObject *result;
  gint64 started_us;
  char *reuse_key;
  guint64 page_digest;
  guint64 resources_digest;
  ReuseEntry *reuse;        /* the previous analysis, while its bytes still match */
  GPtrArray *resource_urls; /* what this scan asked the resource cache for */
  gboolean have_resources;  /* resources fetched before the page was parsed */
} ScanJob;

static void
scan_job_free (ScanJob *job)
{
  g_free (job->url);
  g_clear_pointer (&job->scan_config, json_object_unref);
  g_clear_object (&job->fetcher);
  g_clear_pointer (&job->response, tsq_fetch_response_free);
  g_clear_pointer (&job->page, tsq_page_free);
  g_clear_pointer (&job->content, tsq_content_free);
  g_clear_pointer (&job->resources, g_ptr_array_unref);
  g_clear_pointer (&job->ignore_selectors, g_ptr_array_unref);
  g_clear_pointer (&job->result, json_object_unref);
  g_free (job->reuse_key);
  g_clear_pointer (&job->reuse, reuse_entry_unref);
  g_clear_pointer (&job->resource_urls, g_ptr_array_unref);
  g_free (job);
}

void
tsq_scanner_options_init (TsqScannerOptions *options)
{
  memset (options, 0, sizeof *options);
  tsq_fetcher_options_init (&options->fetch);
  options->resources.max_count = 20;
  options->resources.max_bytes_each = 1024 * 1024;
  options->resources.max_bytes_total = 4 * 1024 * 1024;
  options->resources.timeout_s = 10;
  options->resources.third_party = FALSE;
  options->fetch_resources = TRUE;
  options->dom_patterns = TRUE;
  options->resource_cache_bytes = 128 * 1024 * 1024;
  options->reuse_unchanged = TRUE;
  options->reuse_cache_bytes = 64 * 1024 * 1024;
}

static void
tsq_scanner_finalize (GObject *object)
{
  TsqScanner *self = TSQ_SCANNER (object);

  g_clear_object (&self->fingerprints);
  g_clear_pointer (&self->vulnerabilities, tsq_vuln_db_unref);
  g_clear_object (&self->fetcher);
  g_clear_object (&self->insecure_fetcher);
  g_clear_object (&self->cache);
  g_queue_clear (&self->reuse_lru);
  g_clear_pointer (&self->reuse, g_hash_table_unref);
  g_free (self->user_agent);
  G_OBJECT_CLASS (tsq_scanner_parent_class)->finalize (object);
}

static void
tsq_scanner_class_init (TsqScannerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_scanner_finalize;
}

static void
tsq_scanner_init (TsqScanner *self)
{
  self->reuse
    = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)reuse_entry_unref);
  g_queue_init (&self->reuse_lru);
}

TsqScanner *
tsq_scanner_new (TsqFingerprintDb *fingerprints,
                 TsqVulnDb *vulnerabilities,
                 const TsqScannerOptions *options)
{
  TsqScanner *self = g_object_new (TSQ_TYPE_SCANNER, NULL);
  TsqFetcherOptions insecure;

  self->fingerprints = fingerprints ? g_object_ref (fingerprints) : NULL;
  self->vulnerabilities = vulnerabilities ? tsq_vuln_db_ref (vulnerabilities) : NULL;
  if (options)
    self->options = *options;
  else
    tsq_scanner_options_init (&self->options);
  self->user_agent = g_strdup (self->options.fetch.user_agent);
  self->options.fetch.user_agent = self->user_agent;

  self->fetcher = tsq_fetcher_new (&self->options.fetch);
  insecure = self->options.fetch;
  insecure.tls_verify = FALSE;
  self->insecure_fetcher = tsq_fetcher_new (&insecure);
  self->cache = tsq_resource_cache_new (
    self->options.resource_cache_bytes ? self->options.resource_cache_bytes : 128 * 1024 * 1024);
  /* The options struct now borrows nothing the caller owns. */
  self->options.fetch.guard = NULL;
  return self;
}

/* ---- result building ---------------------------------------------------------------------- */

static char *
iso8601_from_us (gint64 us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);

  return dt ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("");
}

static void
set_error (JsonObject *result, const char *kind, const char *message)
{
  JsonObject *error = json_object_new ();

  json_object_set_string_member (error, "kind", kind);
  json_object_set_string_member (error, "message", message);
  json_object_set_object_member (result, "error", error);
}

static JsonObject *
new_result (const char *url, gint64 started_us)
{
  JsonObject *result = json_object_new ();
  g_autofree char *scanned_at = iso8601_from_us (started_us);
  JsonObject *timings = json_object_new ();
  JsonObject *size = json_object_new ();

  json_object_set_string_member (result, "url", url);
  json_object_set_string_member (result, "final_url", url);
  json_object_set_string_member (result, "scanned_at", scanned_at);
  json_object_set_array_member (result, "redirects", json_array_new ());
  for (const char *const *k = (const char *const[]){ "dns_ms", "connect_ms", "tls_ms", "ttfb_ms",
                                                     "download_ms", "total_ms", NULL };
       *k; k++)
    json_object_set_double_member (timings, *k, 0);
  json_object_set_object_member (result, "timings", timings);
  json_object_set_int_member (size, "bytes", 0);
  json_object_set_int_member (size, "decoded_bytes", 0);
  json_object_set_int_member (size, "header_bytes", 0);
  json_object_set_int_member (size, "resources_bytes", 0);
  json_object_set_boolean_member (size, "truncated", FALSE);
  json_object_set_object_member (result, "size", size);
  json_object_set_array_member (result, "technologies", json_array_new ());
  return result;
}

static void
headers_to_json (SoupMessageHeaders *headers, JsonObject *out)
{
  SoupMessageHeadersIter iter;
  const char *name, *value;

  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      g_autofree char *lower = g_ascii_strdown (name, -1);
      const char *prev = tsq_json_get_string (out, lower, NULL);
      const char *sep = g_str_equal (lower, "set-cookie") ? "\n" : ", ";

      if (prev)
        {
          g_autofree char *joined = g_strconcat (prev, sep, value, NULL);
          json_object_set_string_member (out, lower, joined);
        }
      else
        json_object_set_string_member (out, lower, value);
    }
}

static void
fill_from_response (JsonObject *result, TsqFetchResponse *response)
{
  JsonObject *timings = tsq_json_get_object (result, "timings");
  JsonObject *size = tsq_json_get_object (result, "size");
  JsonArray *redirects = json_array_new ();

  if (response->final_url)
    json_object_set_string_member (result, "final_url", response->final_url);
  if (response->status)
    json_object_set_int_member (result, "status", response->status);
  for (guint i = 0; response->redirects && i < response->redirects->len; i++)
    {
      TsqRedirect *hop = g_ptr_array_index (response->redirects, i);
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "url", hop->url);
      json_object_set_int_member (o, "status", hop->status);
      json_array_add_object_element (redirects, o);
    }
  json_object_set_array_member (result, "redirects", redirects);
  if (response->http_version)
    json_object_set_string_member (result, "http_version", response->http_version);

  json_object_set_double_member (timings, "dns_ms", response->dns_ms);
  json_object_set_double_member (timings, "connect_ms", response->connect_ms);
  json_object_set_double_member (timings, "tls_ms", response->tls_ms);
  json_object_set_double_member (timings, "ttfb_ms", response->ttfb_ms);
  json_object_set_double_member (timings, "download_ms", response->download_ms);
  json_object_set_double_member (timings, "total_ms", response->total_ms);

  if (response->truncated)
    {
      /* Not a failure: the page answered and its first bytes are analysed; but say so. */
      JsonArray *warnings = json_array_new ();
      JsonObject *w = json_object_new ();
      g_autofree char *message
        = g_strdup_printf ("the body was cut at %" G_GUINT64_FORMAT
                           " bytes (scanner max_body); only that part was analysed",
                           response->decoded_bytes);

      json_object_set_string_member (w, "kind", "body_too_large");
      json_object_set_string_member (w, "message", message);
      json_array_add_object_element (warnings, w);
      json_object_set_array_member (result, "warnings", warnings);
    }
  json_object_set_int_member (size, "bytes", response->wire_bytes);
  json_object_set_int_member (size, "decoded_bytes", response->decoded_bytes);
  json_object_set_int_member (size, "header_bytes", response->header_bytes);
  json_object_set_boolean_member (size, "truncated", response->truncated);

  if (response->content_type)
    json_object_set_string_member (result, "content_type", response->content_type);
  if (response->remote_address)
    json_object_set_string_member (result, "remote_address", response->remote_address);
  if (response->headers)
    {
      JsonObject *headers = json_object_new ();

      headers_to_json (response->headers, headers);
      json_object_set_object_member (result, "headers", headers);
    }

  if (response->tls_subject)
    {
      JsonObject *tls = json_object_new ();
      g_autofree char *not_before
        = response->tls_not_before ? g_date_time_format_iso8601 (response->tls_not_before) : NULL;
      g_autofree char *not_after
        = response->tls_not_after ? g_date_time_format_iso8601 (response->tls_not_after) : NULL;

      json_object_set_string_member (tls, "subject", response->tls_subject);
      json_object_set_string_member (tls, "issuer", response->tls_issuer);
      json_object_set_string_member (tls, "not_before", not_before);
      json_object_set_string_member (tls, "not_after", not_after);
      json_object_set_int_member (tls, "days_left", response->tls_days_left);
      json_object_set_boolean_member (tls, "valid", response->tls_errors == 0);
      json_object_set_object_member (result, "tls", tls);
    }
  else
    json_object_set_null_member (result, "tls");
}

/* ---- per-monitor content rules -------------------------------------------------------------- */

static gboolean
skip_ignored_node (xmlNode *node, gpointer user_data)
{
  GPtrArray *selectors = user_data;

  for (guint i = 0; i < selectors->len; i++)
    if (tsq_css_selector_matches (g_ptr_array_index (selectors, i), node))
      return TRUE;
  return FALSE;
}

/* Invalid rules were rejected when the monitor was saved; here a bad one is skipped with a
 * warning rather than failing the scan. */
static void
content_rules_init (TsqContentRules *rules, ScanJob *job)
{
  JsonObject *ignore = tsq_json_get_object (job->scan_config, "ignore");
  JsonArray *regexes = tsq_json_get_array (ignore, "regex");
  JsonArray *selectors = tsq_json_get_array (ignore, "selectors");

  memset (rules, 0, sizeof *rules);
  for (guint i = 0; regexes && i < json_array_get_length (regexes); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *pattern = json_array_get_string_element (regexes, i);

      if (pattern && !tsq_content_rules_add_regex (rules, pattern, &error))
        g_warning ("%s: ignoring content rule: %s", job->url, error->message);
    }
  for (guint i = 0; selectors && i < json_array_get_length (selectors); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *text = json_array_get_string_element (selectors, i);
      TsqCssSelector *selector = text ? tsq_css_selector_parse (text, &error) : NULL;

      if (selector == NULL)
        {
          g_warning ("%s: ignoring content selector: %s", job->url,
                     error ? error->message : "not a string");
          continue;
        }
      if (job->ignore_selectors == NULL)
        job->ignore_selectors
          = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_css_selector_free);
      g_ptr_array_add (job->ignore_selectors, selector);
    }
  if (job->ignore_selectors)
    {
      rules->skip_node = skip_ignored_node;
      rules->skip_data = job->ignore_selectors;
    }
}

/* ---- step 2: parse (worker thread) ------------------------------------------------------------
 */

static void
parse_in_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  ScanJob *job = task_data;
  g_autoptr (GError) error = NULL;
  TsqContentRules rules;

  job->page = tsq_page_parse (job->response->body, job->response->content_type,
                              job->response->final_url, &error);
  if (job->page == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  content_rules_init (&rules, job);
  job->content = tsq_content_extract (job->page, &rules);
  tsq_content_rules_clear (&rules);
  g_task_return_boolean (task, TRUE);
}

/* ---- step 4: fingerprint, security, complexity (worker thread) ------------------------------- */

static GHashTable *
headers_table (SoupMessageHeaders *headers, GHashTable *cookies)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (headers == NULL)
    return table;
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      char *lower = g_ascii_strdown (name, -1);
      const char *prev = g_hash_table_lookup (table, lower);

      if (g_str_equal (lower, "set-cookie"))
        {
          const char *eq = strchr (value, '=');
          const char *end = strchr (value, ';');

          if (eq && (end == NULL || eq < end))
            {
              g_autofree char *cname = g_strstrip (g_strndup (value, eq - value));
              char *cvalue = g_strndup (eq + 1, end ? (gsize)(end - eq - 1) : strlen (eq + 1));

              g_hash_table_insert (cookies, g_steal_pointer (&cname), cvalue);
            }
        }
      g_hash_table_insert (table, lower,
                           prev ? g_strconcat (prev, ", ", value, NULL) : g_strdup (value));
    }
  return table;
}

static JsonArray *
detections_to_json (GPtrArray *detections)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < detections->len; i++)
    {
      TsqDetection *d = g_ptr_array_index (detections, i);
      JsonObject *o = json_object_new ();
      JsonArray *categories = json_array_new ();

      json_object_set_string_member (o, "name", d->name);
      if (d->version && *d->version)
        json_object_set_string_member (o, "version", d->version);
      else
        json_object_set_null_member (o, "version");
      json_object_set_int_member (o, "confidence", d->confidence);
      for (guint c = 0; d->categories && d->categories[c]; c++)
        json_array_add_string_element (categories, d->categories[c]);
      json_object_set_array_member (o, "categories", categories);
      if (d->website)
        json_object_set_string_member (o, "website", d->website);
      json_array_add_object_element (array, o);
    }
  return array;
}

static void
stats_to_json (JsonObject *result, TsqFingerprintStats *stats)
{
  JsonObject *o = json_object_new ();
  JsonObject *skipped = json_object_new ();
  GHashTableIter iter;
  gpointer key, value;

  json_object_set_int_member (o, "technologies_loaded", stats->technologies_loaded);
  if (stats->skipped)
    {
      g_hash_table_iter_init (&iter, stats->skipped);
      while (g_hash_table_iter_next (&iter, &key, &value))
        json_object_set_int_member (skipped, key, GPOINTER_TO_UINT (value));
    }
  json_object_set_object_member (o, "skipped_patterns", skipped);
  json_object_set_object_member (result, "fingerprints", o);
}

static gboolean
str_in_array (GPtrArray *array, const char *s)
{
  for (guint i = 0; array && i < array->len; i++)
    if (g_str_equal (g_ptr_array_index (array, i), s))
      return TRUE;
  return FALSE;
}

static void
analyze_in_thread (GTask *task,
                   gpointer source_object,
                   gpointer task_data,
                   GCancellable *cancellable)
{
  TsqScanner *self = source_object;
  ScanJob *job = task_data;
  TsqPage *page = job->page;
  g_autoptr (GHashTable) cookies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) headers = headers_table (job->response->headers, cookies);
  g_autoptr (GPtrArray) scripts = g_ptr_array_new ();
  g_autoptr (GPtrArray) css = g_ptr_array_new ();
  g_autoptr (GPtrArray) form_actions = g_ptr_array_new ();
  TsqFingerprintInput input = { 0 };
  TsqFingerprintStats stats = { 0 };
  TsqSecurityInput security = { 0 };
  JsonArray *technologies;
  guint64 resources_bytes = 0;

  g_ptr_array_extend (scripts, page->inline_scripts, NULL, NULL);
  g_ptr_array_extend (css, page->inline_styles, NULL, NULL);
  for (guint i = 0; job->resources && i < job->resources->len; i++)
    {
      TsqResource *res = g_ptr_array_index (job->resources, i);
      gsize len = 0;
      const char *data;

      if (res->body == NULL)
        continue;
      data = g_bytes_get_data (res->body, &len);
      resources_bytes += len;
      /* The fetcher keeps a NUL after every body; only text is of use here. */
      if (data == NULL || memchr (data, '\0', len) != NULL)
        continue;
      if (str_in_array (page->script_urls, res->url))
        g_ptr_array_add (scripts, (gpointer)data);
      else
        g_ptr_array_add (css, (gpointer)data);
    }

  input.url = job->response->final_url;
  input.headers = headers;
  input.cookies = cookies;
  input.meta = page->meta;
  input.html = page->html;
  input.script_src = page->script_src;
  input.scripts = scripts;
  input.css = css;
  input.dom = self->options.dom_patterns ? page->doc : NULL;

  if (self->fingerprints)
    {
      g_autoptr (GPtrArray) detections
        = tsq_fingerprint_db_analyze (self->fingerprints, &input, &stats);

      technologies = detections_to_json (detections);
      stats_to_json (job->result, &stats);
      tsq_fingerprint_stats_clear (&stats);
    }
  else
    technologies = json_array_new ();
  json_object_set_array_member (job->result, "technologies", technologies);

  for (guint i = 0; i < page->forms->len; i++)
    {
      TsqPageForm *form = g_ptr_array_index (page->forms, i);

      if (form->action)
        g_ptr_array_add (form_actions, form->action);
    }
  security.final_url = job->response->final_url;
  security.headers = job->response->headers;
  security.tls_days_left = job->response->tls_subject ? job->response->tls_days_left : -1;
  security.subresource_urls = page->subresource_urls;
  security.form_actions = form_actions;
  security.technologies = technologies;
  security.vulns = self->vulnerabilities;
  json_object_set_object_member (job->result, "security", tsq_security_assess (&security));

  json_object_set_object_member (job->result, "content", tsq_content_to_json (job->content));
  json_object_set_array_member (job->result, "endpoints", tsq_endpoints_extract (page));
  json_object_set_object_member (
    job->result, "complexity",
    tsq_complexity_measure (page, job->response->decoded_bytes, resources_bytes));
  json_object_set_int_member (tsq_json_get_object (job->result, "size"), "resources_bytes",
                              resources_bytes);
  /* Free the document here, on the worker, rather than on the main loop that drives I/O. */
  g_clear_pointer (&job->page, tsq_page_free);
  g_clear_pointer (&job->content, tsq_content_free);
  g_clear_pointer (&job->resources, g_ptr_array_unref);
  g_task_return_boolean (task, TRUE);
}

/* ---- unchanged-page reuse ------------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static guint64
fnv1a (guint64 hash, const void *data, gsize len)
{
  const guchar *p = data;

  for (gsize i = 0; i < len; i++)
    hash = (hash ^ p[i]) * FNV_PRIME;
  return hash;
}

static guint64
fnv1a_str (guint64 hash, const char *s)
{
  /* The terminator too, so that "ab"+"c" and "a"+"bc" differ. */
  return s ? fnv1a (hash, s, strlen (s) + 1) : fnv1a (hash, "\xff", 1);
}

/* Headers that change on every response without saying anything about the page. */
static const char *const volatile_headers[] = {
  "date",
  "expires",
  "age",
  "last-modified",
  "etag",
  "content-length",
  "connection",
  "keep-alive",
  "via",
  "x-request-id",
  "x-amz-request-id",
  "x-amz-cf-id",
  "x-amz-cf-pop",
  "cf-ray",
  "x-served-by",
  "x-cache",
  "x-cache-hits",
  "x-timer",
  "server-timing",
  "x-runtime",
  "request-id",
  "x-trace-id",
  "traceparent",
  "x-varnish",
  "x-request-time",
  "report-to",
  "nel",
  NULL,
};

static guint64
page_digest (TsqFetchResponse *response)
{
  guint64 hash = FNV_OFFSET;
  SoupMessageHeadersIter iter;
  const char *name, *value;
  gsize len = 0;
  const char *body = response->body ? g_bytes_get_data (response->body, &len) : NULL;

  hash = fnv1a (hash, &response->status, sizeof response->status);
  hash = fnv1a_str (hash, response->final_url);
  hash = fnv1a (hash, &response->truncated, sizeof response->truncated);
  if (body)
    hash = fnv1a (hash, body, len);
  if (response->headers == NULL)
    return hash;
  soup_message_headers_iter_init (&iter, response->headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      gboolean skip = FALSE;

      for (guint i = 0; volatile_headers[i] && !skip; i++)
        skip = g_ascii_strcasecmp (name, volatile_headers[i]) == 0;
      if (skip)
        continue;
      hash = fnv1a_str (hash, name);
      if (g_ascii_strcasecmp (name, "set-cookie") == 0)
        {
          /* A fresh session id each time is noise; the cookie's name and flags are not. */
          const char *eq = strchr (value, '=');
          const char *semi = strchr (value, ';');

          hash = fnv1a (hash, value, eq ? (gsize)(eq - value) : strlen (value));
          hash = fnv1a_str (hash, semi ? semi : "");
        }
      else
        hash = fnv1a_str (hash, value);
    }
  return hash;
}

static guint64
resources_digest (GPtrArray *resources)
{
  guint64 hash = FNV_OFFSET;

  for (guint i = 0; resources && i < resources->len; i++)
    {
      TsqResource *res = g_ptr_array_index (resources, i);
      gsize len = 0;
      const void *data = res->body ? g_bytes_get_data (res->body, &len) : NULL;

      hash = fnv1a_str (hash, res->url);
      hash = fnv1a (hash, &res->status, sizeof res->status);
      if (data)
        hash = fnv1a (hash, data, len);
    }
  return hash;
}

/* Page text compresses 4-8x; keeping it compressed lets the reuse cache hold every monitored page
 * of a large installation. */
static GBytes *
convert_bytes (GConverter *converter,
               const void *data,
               gsize       len)
{
  g_autoptr (GByteArray) out = g_byte_array_sized_new (len / 2 + 64);
  const guint8 *in = data;
  gsize in_left = len;
  guint8 buffer[16384];

  for (;;)
    {
      gsize read = 0, written = 0;
      g_autoptr (GError) error = NULL;
      GConverterResult res = g_converter_convert (converter, in, in_left, buffer, sizeof buffer,
                                                  G_CONVERTER_INPUT_AT_END, &read, &written, &error);

      if (res == G_CONVERTER_ERROR)
        return NULL;
      g_byte_array_append (out, buffer, written);
      in += read;
      in_left -= read;
      if (res == G_CONVERTER_FINISHED)
        break;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static GBytes *
compress_text (const char *text)
{
  g_autoptr (GZlibCompressor) z = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW, 1);

  return convert_bytes (G_CONVERTER (z), text, strlen (text));
}

static char *
decompress_text (GBytes *bytes)
{
  g_autoptr (GZlibDecompressor) z = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW);
  gsize len = 0;
  const void *data = g_bytes_get_data (bytes, &len);
  g_autoptr (GBytes) plain = convert_bytes (G_CONVERTER (z), data, len);

  return plain ? g_strndup (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain)) : NULL;
}

/* The members of a result that follow from the page's bytes, headers and linked files. */
static const char *const reused_members[] = {
  "technologies", "fingerprints", "security", "content", "endpoints", "complexity", NULL,
};

static void
reuse_store (TsqScanner *self, ScanJob *job)
{
  ReuseEntry *entry;
  ReuseEntry *old;
  JsonObject *content = tsq_json_get_object (job->result, "content");

  if (!self->options.reuse_unchanged || job->reuse_key == NULL
      || json_object_has_member (job->result, "error"))
    return;

  entry = g_new0 (ReuseEntry, 1);
  g_atomic_ref_count_init (&entry->ref);
  entry->key = g_strdup (job->reuse_key);
  entry->page_digest = job->page_digest;
  entry->resources_digest = job->resources_digest;
  entry->resource_urls = job->resource_urls ? g_ptr_array_ref (job->resource_urls) : NULL;
  entry->analysis = json_object_new ();
  for (guint i = 0; reused_members[i]; i++)
    {
      JsonNode *node = json_object_get_member (job->result, reused_members[i]);

      if (node)
        json_object_set_member (entry->analysis, reused_members[i], tsq_json_node_deep_copy (node));
    }
  json_object_set_int_member (
    entry->analysis, "resources_bytes",
    tsq_json_get_int (tsq_json_get_object (job->result, "size"), "resources_bytes", 0));
  content = tsq_json_get_object (entry->analysis, "content");
  if (content && tsq_json_get_string (content, "text", NULL))
    {
      entry->text_z = compress_text (tsq_json_get_string (content, "text", ""));
      if (entry->text_z)
        json_object_remove_member (content, "text");
    }
  entry->size = 4096 + (entry->text_z ? g_bytes_get_size (entry->text_z) : 0) + strlen (entry->key);

  old = g_hash_table_lookup (self->reuse, entry->key);
  if (old)
    {
      g_queue_delete_link (&self->reuse_lru, old->link);
      self->reuse_bytes -= old->size;
      g_hash_table_remove (self->reuse, old->key);
    }
  g_queue_push_head (&self->reuse_lru, entry);
  entry->link = self->reuse_lru.head;
  g_hash_table_insert (self->reuse, entry->key, entry);
  self->reuse_bytes += entry->size;

  while (self->reuse_bytes > self->options.reuse_cache_bytes && self->reuse_lru.length > 1)
    {
      ReuseEntry *victim = g_queue_pop_tail (&self->reuse_lru);

      self->reuse_bytes -= victim->size;
      g_hash_table_remove (self->reuse, victim->key);
    }
}

static ReuseEntry *
reuse_lookup (TsqScanner *self, ScanJob *job)
{
  ReuseEntry *entry = g_hash_table_lookup (self->reuse, job->reuse_key);

  if (entry == NULL || entry->page_digest != job->page_digest)
    return NULL;
  g_queue_unlink (&self->reuse_lru, entry->link);
  g_queue_push_head_link (&self->reuse_lru, entry->link);
  return reuse_entry_ref (entry);
}

static void
reuse_apply (ScanJob *job, ReuseEntry *entry)
{
  JsonObject *security;

  for (guint i = 0; reused_members[i]; i++)
    {
      JsonNode *node = json_object_get_member (entry->analysis, reused_members[i]);

      if (node)
        json_object_set_member (job->result, reused_members[i], tsq_json_node_deep_copy (node));
    }
  json_object_set_int_member (tsq_json_get_object (job->result, "size"), "resources_bytes",
                              tsq_json_get_int (entry->analysis, "resources_bytes", 0));
  if (entry->text_z)
    {
      g_autofree char *text = decompress_text (entry->text_z);
      JsonObject *content = tsq_json_get_object (job->result, "content");

      if (text && content)
        json_object_set_string_member (content, "text", text);
    }
  /* The one security fact that moves while the bytes stay: time. */
  security = tsq_json_get_object (job->result, "security");
  if (security && job->response->tls_subject)
    json_object_set_int_member (security, "tls_days_left", job->response->tls_days_left);
  json_object_set_boolean_member (job->result, "analysis_reused", TRUE);
}

/* ---- the chain ------------------------------------------------------------------------------ */

static void parse (GTask *task);
static void fetch_resources (GTask *task, GPtrArray *urls);

static void
finish_scan (GTask *task)
{
  ScanJob *job = g_task_get_task_data (task);
  JsonObject *timings = tsq_json_get_object (job->result, "timings");

  json_object_set_double_member (timings, "scan_ms",
                                 (g_get_monotonic_time () - job->started_us) / 1000.0);
  g_task_return_pointer (task, json_object_ref (job->result), (GDestroyNotify)json_object_unref);
  g_object_unref (task);
}

static void
resources_json (JsonObject *result, TsqResourceStats *stats)
{
  JsonObject *o = json_object_new ();

  json_object_set_int_member (o, "fetched", stats->fetched);
  json_object_set_int_member (o, "not_modified", stats->not_modified);
  json_object_set_int_member (o, "cached", stats->cached);
  json_object_set_int_member (o, "failed", stats->failed);
  json_object_set_int_member (o, "skipped", stats->skipped);
  json_object_set_int_member (o, "bytes", stats->bytes);
  json_object_set_object_member (result, "resources", o);
}

static void
on_analyzed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  ScanJob *job = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    set_error (job->result, "internal", error->message);
  else
    reuse_store (g_task_get_source_object (task), job);
  finish_scan (task);
}

static void
analyze (GTask *task)
{
  TsqScanner *self = g_task_get_source_object (task);
  ScanJob *job = g_task_get_task_data (task);
  g_autoptr (GTask) sub = g_task_new (self, NULL, on_analyzed, task);

  job->resources_digest = resources_digest (job->resources);

  g_task_set_task_data (sub, job, NULL);
  g_task_run_in_thread (sub, analyze_in_thread);
}

static void
on_resources (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  ScanJob *job = g_task_get_task_data (task);
  TsqScanner *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;

  job->resources
    = tsq_resource_cache_fetch_finish (self->cache, result, &job->resource_stats, &error);
  if (job->resources == NULL && error)
    g_debug ("%s: linked resources: %s", job->url, error->message);
  resources_json (job->result, &job->resource_stats);

  if (job->reuse != NULL)
    {
      /* The page is unchanged; are its linked files too? */
      if (resources_digest (job->resources) == job->reuse->resources_digest)
        {
          reuse_apply (job, job->reuse);
          finish_scan (task);
          return;
        }
      g_clear_pointer (&job->reuse, reuse_entry_unref);
      job->have_resources = TRUE;
      parse (task);
      return;
    }
  analyze (task);
}

static gpointer
copy_string (gconstpointer string, gpointer unused)
{
  return g_strdup (string);
}

static gboolean
want_resources (TsqScanner *self, ScanJob *job)
{
  return tsq_json_get_boolean (job->scan_config, "fetch_resources", self->options.fetch_resources);
}

static void
on_parsed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  TsqScanner *self = g_task_get_source_object (task);
  ScanJob *job = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) urls = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Not a document (an image, a binary download): status, timings, headers stay. */
      set_error (job->result,
                 g_error_matches (error, TSQ_PAGE_ERROR, TSQ_PAGE_ERROR_NOT_HTML) ? "not_html"
                                                                                  : "internal",
                 error->message);
      finish_scan (task);
      return;
    }

  if (job->have_resources || !want_resources (self, job))
    {
      analyze (task);
      return;
    }
  urls = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_extend (urls, job->page->script_urls, copy_string, NULL);
  g_ptr_array_extend (urls, job->page->stylesheet_urls, copy_string, NULL);
  job->resource_urls = g_ptr_array_ref (urls);
  fetch_resources (task, urls);
}

static void
fetch_resources (GTask *task, GPtrArray *urls)
{
  TsqScanner *self = g_task_get_source_object (task);
  ScanJob *job = g_task_get_task_data (task);
  TsqResourceLimits limits;

  limits = self->options.resources;
  limits.third_party
    = tsq_json_get_boolean (job->scan_config, "third_party_resources", limits.third_party);
  tsq_resource_cache_fetch_async (self->cache, job->fetcher, job->response->final_url, urls,
                                  &limits, g_task_get_cancellable (task), on_resources, task);
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  TsqScanner *self = g_task_get_source_object (task);
  ScanJob *job = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  TsqFetchResponse *partial = NULL;

  job->response = tsq_fetcher_fetch_finish_full (TSQ_FETCHER (source), result, &partial, &error);
  if (job->response == NULL)
    {
      if (partial)
        {
          fill_from_response (job->result, partial);
          tsq_fetch_response_free (partial);
        }
      set_error (job->result,
                 error->domain == TSQ_FETCH_ERROR ? tsq_fetch_error_kind (error->code) : "internal",
                 error->message);
      finish_scan (task);
      return;
    }
  g_clear_pointer (&partial, tsq_fetch_response_free);
  fill_from_response (job->result, job->response);

  if (self->options.reuse_unchanged)
    {
      g_autofree char *config = NULL;

      if (job->scan_config)
        {
          g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), job->scan_config);
          config = tsq_json_to_string (node, FALSE);
        }
      job->reuse_key = g_strconcat (job->url, "\n", config ? config : "", NULL);
      job->page_digest = page_digest (job->response);
      job->reuse = reuse_lookup (self, job);
    }
  if (job->reuse != NULL)
    {
      if (want_resources (self, job) && job->reuse->resource_urls && job->reuse->resource_urls->len)
        {
          job->resource_urls = g_ptr_array_ref (job->reuse->resource_urls);
          fetch_resources (task, job->resource_urls);
          return;
        }
      if (resources_digest (NULL) == job->reuse->resources_digest)
        {
          reuse_apply (job, job->reuse);
          finish_scan (task);
          return;
        }
      g_clear_pointer (&job->reuse, reuse_entry_unref);
    }
  parse (task);
}

static void
parse (GTask *task)
{
  g_autoptr (GTask) sub = g_task_new (g_task_get_source_object (task), NULL, on_parsed, task);

  g_task_set_task_data (sub, g_task_get_task_data (task), NULL);
  g_task_run_in_thread (sub, parse_in_thread);
}

void
tsq_scanner_scan_async (TsqScanner *self,
                        const char *url,
                        JsonObject *scan_config,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  ScanJob *job = g_new0 (ScanJob, 1);
  TsqFetchRequest request = { 0 };

  g_task_set_source_tag (task, tsq_scanner_scan_async);
  /* A cancelled scan still returns its result (with error kind "cancelled"): the caller stores
   * it as interrupted rather than losing it. */
  g_task_set_check_cancellable (task, FALSE);
  job->url = g_strdup (url);
  job->scan_config = scan_config ? json_object_ref (scan_config) : NULL;
  job->started_us = g_get_monotonic_time ();
  job->result = new_result (url, g_get_real_time ());
  job->fetcher = g_object_ref (tsq_json_get_boolean (scan_config, "insecure_tls", FALSE)
                                 ? self->insecure_fetcher
                                 : self->fetcher);
  g_task_set_task_data (task, job, (GDestroyNotify)scan_job_free);

  /* A monitor may set its own timeout ("timeout_s" in its scan config, validated when saved). */
  request.timeout_s = (guint) CLAMP (tsq_json_get_double (scan_config, "timeout_s", 0), 0, 3600);
  tsq_fetcher_fetch_async (job->fetcher, url, &request, cancellable, on_fetched, task);
}

JsonObject *
tsq_scanner_scan_finish (TsqScanner *self, GAsyncResult *result)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

static void
on_sync_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  JsonObject **out = user_data;

  *out = tsq_scanner_scan_finish (TSQ_SCANNER (source), result);
}

JsonObject *
tsq_scanner_scan_sync (TsqScanner *self, const char *url, JsonObject *scan_config)
{
  /* The HTTP session belongs to the context the scanner was created in: iterate that one. */
  GMainContext *context = g_main_context_ref_thread_default ();
  JsonObject *out = NULL;

  tsq_scanner_scan_async (self, url, scan_config, NULL, on_sync_done, &out);
  while (out == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_unref (context);
  return out;
}
