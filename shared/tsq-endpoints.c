/* tsq-endpoints.c: API endpoint discovery from the page model. */
#define G_LOG_DOMAIN "tsq-endpoints"

#include "tsq-endpoints.h"
#include "tsq-url-util.h"

#include <string.h>

/* A JavaScript string literal: groups +0, +1, +2 (single, double, back quotes). */
#define JS_STR "(?:'([^'\\\\\\n]{1,2048})'|\"([^\"\\\\\\n]{1,2048})\"|`([^`\\\\]{1,2048})`)"
/* A literal that starts like a URL or an absolute path. */
#define JS_URL_STR                                                                                 \
  "(?:'((?:/|https?://|wss?://)[^'\\\\\\s]{1,1024})'|\"((?:/|https?://|wss?://"                    \
  ")[^\"\\\\\\s]{1,1024})\"|"                                                                      \
  "`((?:/|https?://|wss?://)[^`\\\\\\s]{1,1024})`)"

typedef enum
{
  CALL_FETCH,
  CALL_AXIOS,
  CALL_AXIOS_CONFIG,
  CALL_JQUERY,
  CALL_JQUERY_AJAX,
  CALL_XHR,
  CALL_WEBSOCKET,
  CALL_EVENTSOURCE,
  N_CALLS
} CallKind;

/* Group 1 is the method-ish word where the call has one, the string groups follow it. */
static const struct
{
  const char *pattern;
  gboolean has_method_group;
} call_specs[N_CALLS] = {
  [CALL_FETCH] = { "\\bfetch\\s*\\(\\s*" JS_STR, FALSE },
  [CALL_AXIOS]
  = { "\\baxios\\s*\\.\\s*(get|post|put|patch|delete|head|options)\\s*\\(\\s*" JS_STR, TRUE },
  [CALL_AXIOS_CONFIG]
  = { "\\baxios(?:\\s*\\.\\s*request)?\\s*\\(\\s*(\\{[^}]{0,500}?\\burl\\s*:\\s*)" JS_STR, TRUE },
  [CALL_JQUERY]
  = { "(?:\\$|\\bjQuery)\\s*\\.\\s*(get|post|getJSON|ajax|load)\\s*\\(\\s*" JS_STR, TRUE },
  [CALL_JQUERY_AJAX]
  = { "(?:\\$|\\bjQuery)\\s*\\.\\s*ajax\\s*\\(\\s*(\\{[^}]{0,500}?\\burl\\s*:\\s*)" JS_STR, TRUE },
  [CALL_XHR] = { "\\.open\\s*\\(\\s*['\"]([A-Za-z]{3,7})['\"]\\s*,\\s*" JS_STR, TRUE },
  [CALL_WEBSOCKET] = { "\\bnew\\s+WebSocket\\s*\\(\\s*" JS_STR, FALSE },
  [CALL_EVENTSOURCE] = { "\\bnew\\s+EventSource\\s*\\(\\s*" JS_STR, FALSE },
};

typedef struct
{
  GRegex *calls[N_CALLS];
  GRegex *literal;
  GRegex *method_option; /* method: 'POST' / type: "post" */
  GRegex *template_expr; /* ${...} */
  GRegex *version_segment;
  GRegex *uuid;
} Patterns;

static gpointer
compile_patterns (gpointer data)
{
  Patterns *p = g_new0 (Patterns, 1);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < N_CALLS; i++)
    {
      p->calls[i] = g_regex_new (call_specs[i].pattern, G_REGEX_OPTIMIZE, 0, &error);
      if (p->calls[i] == NULL)
        g_error ("endpoint pattern %u: %s", i, error->message);
    }
  p->literal = g_regex_new (JS_URL_STR, G_REGEX_OPTIMIZE, 0, &error);
  if (p->literal == NULL)
    g_error ("literal pattern: %s", error->message);
  p->method_option
    = g_regex_new ("\\b(?:method|type)\\s*:\\s*['\"]([A-Za-z]{3,7})['\"]", 0, 0, NULL);
  p->template_expr = g_regex_new ("\\$\\{[^}]*\\}", 0, 0, NULL);
  p->version_segment = g_regex_new ("^v[0-9]+(?:\\.[0-9]+)*$", G_REGEX_CASELESS, 0, NULL);
  p->uuid = g_regex_new ("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                         G_REGEX_CASELESS, 0, NULL);
  g_assert (p->method_option && p->template_expr && p->version_segment && p->uuid);
  return p;
}

static const Patterns *
get_patterns (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, compile_patterns, NULL);
}

/* --- normalization ------------------------------------------------------------------------- */

static gboolean
segment_is_id (const Patterns *p, const char *seg)
{
  gsize len = strlen (seg);
  guint digits = 0, hex = 0, alnum = 0, upper = 0, lower = 0;

  if (len == 0)
    return FALSE;
  if (seg[0] == '{' && seg[len - 1] == '}')
    return TRUE;
  if (g_regex_match (p->uuid, seg, 0, NULL))
    return TRUE;
  for (const char *c = seg; *c; c++)
    {
      if (g_ascii_isdigit (*c))
        digits++;
      if (g_ascii_isxdigit (*c))
        hex++;
      if (g_ascii_isalnum (*c))
        alnum++;
      if (g_ascii_isupper (*c))
        upper++;
      if (g_ascii_islower (*c))
        lower++;
    }
  if (digits == len)
    return TRUE;
  /* Hex ids (object ids, hashes) with at least one digit. */
  if (hex == len && len >= 8 && digits > 0)
    return TRUE;
  /* Random-looking tokens: long, alphanumeric, digits and letters mixed. */
  if (alnum == len && len >= 16 && digits > 0 && (upper > 0 || digits * 4 >= len) && lower > 0)
    return TRUE;
  return FALSE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

char *
tsq_endpoints_normalize_url (const char *base, const char *url)
{
  const Patterns *p = get_patterns ();
  g_autofree char *abs = NULL;
  g_autoptr (GUri) uri = NULL;
  g_auto (GStrv) segments = NULL;
  GString *out;
  const char *scheme;
  const char *query;
  const char *host;
  int port;

  if (url == NULL)
    return NULL;
  abs = tsq_url_resolve (base, url);
  if (abs == NULL)
    return NULL;
  uri = g_uri_parse (abs, G_URI_FLAGS_PARSE_RELAXED | G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return NULL;
  scheme = g_uri_get_scheme (uri);
  if (!g_str_equal (scheme, "http") && !g_str_equal (scheme, "https") && !g_str_equal (scheme, "ws")
      && !g_str_equal (scheme, "wss"))
    return NULL;
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    return NULL;

  out = g_string_new (scheme);
  g_string_append (out, "://");
  if (strchr (host, ':') != NULL)
    g_string_append_printf (out, "[%s]", host);
  else
    g_string_append (out, host);
  port = g_uri_get_port (uri);
  if (port > 0)
    g_string_append_printf (out, ":%d", port);

  segments = g_strsplit (g_uri_get_path (uri), "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, '/');
      if (segment_is_id (p, segments[i]))
        g_string_append (out, "{id}");
      else
        g_string_append (out, segments[i]);
    }
  if (out->str[out->len - 1] != '/' && strchr (out->str + strlen (scheme) + 3, '/') == NULL)
    g_string_append_c (out, '/');

  query = g_uri_get_query (uri);
  if (query != NULL && *query)
    {
      g_auto (GStrv) pairs = g_strsplit (query, "&", -1);
      g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; pairs[i] != NULL; i++)
        {
          char *eq = strchr (pairs[i], '=');
          g_autofree char *key
            = eq != NULL ? g_strndup (pairs[i], eq - pairs[i]) : g_strdup (pairs[i]);
          gboolean dup = FALSE;

          if (*key == '\0')
            continue;
          for (guint j = 0; j < keys->len && !dup; j++)
            dup = g_str_equal (g_ptr_array_index (keys, j), key);
          if (!dup)
            g_ptr_array_add (keys, g_steal_pointer (&key));
        }
      g_ptr_array_sort (keys, compare_strings);
      for (guint i = 0; i < keys->len; i++)
        g_string_append_printf (out, "%c%s=:", i == 0 ? '?' : '&',
                                (const char *)g_ptr_array_index (keys, i));
    }
  return g_string_free (out, FALSE);
}

/* --- classification ------------------------------------------------------------------------ */

static const char *
classify_path (const Patterns *p, const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_PARSE_RELAXED | G_URI_FLAGS_ENCODED, NULL);
  g_autofree char *path = NULL;
  g_auto (GStrv) segments = NULL;
  gboolean api = FALSE, versioned = FALSE, graphql = FALSE;

  if (uri == NULL)
    return NULL;
  path = g_ascii_strdown (g_uri_get_path (uri), -1);

  if (g_str_has_suffix (path, "/swagger.json") || g_str_has_suffix (path, "/openapi.json")
      || g_str_has_suffix (path, "/openapi.yaml") || g_str_has_suffix (path, "/openapi.yml")
      || g_str_has_suffix (path, "/swagger.yaml") || g_str_has_suffix (path, "/swagger.yml")
      || strstr (path, "/swagger-ui") != NULL || strstr (path, "/api-docs") != NULL
      || strstr (path, "/redoc") != NULL)
    return "openapi";

  segments = g_strsplit (path, "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    {
      const char *seg = segments[i];

      if (g_str_has_prefix (seg, "graphql") || g_str_has_prefix (seg, "graphiql"))
        graphql = TRUE;
      else if (g_str_equal (seg, "api") || g_str_has_prefix (seg, "api.")
               || g_str_equal (seg, "wp-json"))
        api = TRUE;
      else if (g_regex_match (p->version_segment, seg, 0, NULL))
        versioned = TRUE;
    }
  if (graphql)
    return "graphql";
  if (api)
    return "api";
  if (versioned)
    return "versioned";
  return NULL;
}

static gboolean
host_is_api (const char *url)
{
  g_autofree char *host = tsq_url_get_host (url);

  return host != NULL && g_str_has_prefix (host, "api")
         && (host[3] == '.' || host[3] == '-' || g_ascii_isdigit (host[3]));
}

typedef struct
{
  TsqPage *page;
  const Patterns *patterns;
  GHashTable *seen; /* "url\tkind\tmethod" */
  GPtrArray *entries;
} Collector;

typedef struct
{
  char *url;
  char *kind;
  char *method;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->url);
  g_free (e->kind);
  g_free (e->method);
  g_free (e);
}

static void
add_entry (Collector *col, const char *url, const char *kind, const char *method)
{
  g_autofree char *upper = method != NULL ? g_ascii_strup (method, -1) : NULL;
  char *key = g_strdup_printf ("%s\t%s\t%s", url, kind, upper != NULL ? upper : "");
  Entry *e;

  if (!g_hash_table_add (col->seen, key))
    return;
  e = g_new0 (Entry, 1);
  e->url = g_strdup (url);
  e->kind = g_strdup (kind);
  e->method = g_steal_pointer (&upper);
  g_ptr_array_add (col->entries, e);
}

/* Normalizes @ref and applies the origin rule; returns the URL to record or NULL. @kind_out gets
 * the path kind (NULL if none). */
static char *
accept_url (Collector *col, const char *ref, const char **kind_out)
{
  g_autofree char *url = tsq_endpoints_normalize_url (col->page->base_url, ref);
  const char *kind;

  *kind_out = NULL;
  if (url == NULL)
    return NULL;
  kind = classify_path (col->patterns, url);
  *kind_out = kind;
  if (kind != NULL && g_str_equal (kind, "openapi"))
    return g_steal_pointer (&url);
  if (tsq_url_same_origin (url, col->page->url))
    return g_steal_pointer (&url);
  if (host_is_api (url) && tsq_url_same_site (url, col->page->url))
    {
      if (kind == NULL)
        *kind_out = "api";
      return g_steal_pointer (&url);
    }
  return NULL;
}

/* Cheap test before URL parsing: only a reference containing one of these can classify (or sit
 * on an api host). Pages carry thousands of anchors; almost none are endpoints. */
static gboolean
might_be_endpoint (const char *ref)
{
  for (const char *p = ref; *p; p++)
    {
      switch (g_ascii_tolower (*p))
        {
        case 'a':
          if (g_ascii_strncasecmp (p, "api", 3) == 0)
            return TRUE;
          break;
        case 'g':
          if (g_ascii_strncasecmp (p, "graph", 5) == 0)
            return TRUE;
          break;
        case 's':
          if (g_ascii_strncasecmp (p, "swagger", 7) == 0)
            return TRUE;
          break;
        case 'r':
          if (g_ascii_strncasecmp (p, "redoc", 5) == 0)
            return TRUE;
          break;
        case 'w':
          if (g_ascii_strncasecmp (p, "wp-json", 7) == 0)
            return TRUE;
          break;
        case 'v':
          if ((p == ref || p[-1] == '/') && g_ascii_isdigit (p[1]))
            return TRUE;
          break;
        default:
          break;
        }
    }
  return FALSE;
}

static void
add_classified (Collector *col, const char *ref)
{
  const char *kind;
  g_autofree char *url = might_be_endpoint (ref) ? accept_url (col, ref, &kind) : NULL;

  if (url != NULL && kind != NULL)
    add_entry (col, url, kind, NULL);
}

static char *
fetch_string (GMatchInfo *info, int first_group)
{
  for (int g = first_group; g < first_group + 3; g++)
    {
      char *s = g_match_info_fetch (info, g);
      if (s != NULL && *s)
        return s;
      g_free (s);
    }
  return NULL;
}

/* Template literals: `${base}/x` has an unknown origin; `/api/items/${id}` has an id. */
static char *
expand_template (const Patterns *p, const char *literal)
{
  if (g_str_has_prefix (literal, "${"))
    return NULL;
  if (strstr (literal, "${") == NULL)
    return g_strdup (literal);
  return g_regex_replace_literal (p->template_expr, literal, -1, 0, "{id}", 0, NULL);
}

static char *
method_after (const Patterns *p, const char *script, gint pos, gint script_len)
{
  g_autoptr (GMatchInfo) info = NULL;
  g_autofree char *window = g_strndup (script + pos, MIN (300, script_len - pos));
  char *stop;

  /* Do not look into the next call. */
  stop = strstr (window, "fetch(");
  if (stop != NULL)
    *stop = '\0';
  stop = strstr (window, "ajax(");
  if (stop != NULL)
    *stop = '\0';
  if (g_regex_match (p->method_option, window, 0, &info))
    return g_match_info_fetch (info, 1);
  return NULL;
}

static void
scan_calls (Collector *col, const char *script, gint len)
{
  const Patterns *p = col->patterns;

  for (guint c = 0; c < N_CALLS; c++)
    {
      g_autoptr (GMatchInfo) info = NULL;

      g_regex_match_full (p->calls[c], script, len, 0, 0, &info, NULL);
      while (g_match_info_matches (info))
        {
          int first = call_specs[c].has_method_group ? 2 : 1;
          g_autofree char *literal = fetch_string (info, first);
          g_autofree char *word
            = call_specs[c].has_method_group ? g_match_info_fetch (info, 1) : NULL;
          g_autofree char *ref = literal != NULL ? expand_template (p, literal) : NULL;
          g_autofree char *method = NULL;
          const char *kind;
          g_autofree char *url = NULL;
          gint start, end;

          g_match_info_fetch_pos (info, 0, &start, &end);
          switch ((CallKind)c)
            {
              case CALL_FETCH:
                method = method_after (p, script, end, len);
                if (method == NULL)
                  method = g_strdup ("GET");
                break;
              case CALL_AXIOS:
                method = g_strdup (word);
                break;
              case CALL_AXIOS_CONFIG:
              case CALL_JQUERY_AJAX:
                {
                  g_autoptr (GMatchInfo) m = NULL;
                  if (g_regex_match (p->method_option, word, 0, &m))
                    method = g_match_info_fetch (m, 1);
                  else
                    method = method_after (p, script, end, len);
                  if (method == NULL)
                    method = g_strdup ("GET");
                }
                break;
              case CALL_JQUERY:
                if (g_ascii_strcasecmp (word, "post") == 0)
                  method = g_strdup ("POST");
                else if (g_ascii_strcasecmp (word, "ajax") == 0)
                  {
                    method = method_after (p, script, end, len);
                    if (method == NULL)
                      method = g_strdup ("GET");
                  }
                else
                  method = g_strdup ("GET");
                break;
              case CALL_XHR:
                method = g_strdup (word);
                break;
              case CALL_WEBSOCKET:
                break;
              case CALL_EVENTSOURCE:
                method = g_strdup ("GET");
                break;
              case N_CALLS:
              default:
                break;
            }

          if (ref != NULL && (url = accept_url (col, ref, &kind)) != NULL)
            add_entry (col, url, "script-fetch", method);
          g_match_info_next (info, NULL);
        }
    }
}

static void
scan_literals (Collector *col, const char *script, gint len)
{
  g_autoptr (GMatchInfo) info = NULL;

  g_regex_match_full (col->patterns->literal, script, len, 0, 0, &info, NULL);
  while (g_match_info_matches (info))
    {
      g_autofree char *literal = fetch_string (info, 1);
      g_autofree char *ref = literal != NULL ? expand_template (col->patterns, literal) : NULL;

      if (ref != NULL)
        add_classified (col, ref);
      g_match_info_next (info, NULL);
    }
}

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *ea = *(const Entry *const *)a;
  const Entry *eb = *(const Entry *const *)b;
  int r = strcmp (ea->url, eb->url);

  if (r == 0)
    r = strcmp (ea->kind, eb->kind);
  if (r == 0)
    r = g_strcmp0 (ea->method, eb->method);
  return r;
}

JsonArray *
tsq_endpoints_extract (TsqPage *page)
{
  Collector col = { 0 };
  JsonArray *array = json_array_new ();

  g_return_val_if_fail (page != NULL, array);

  col.page = page;
  col.patterns = get_patterns ();
  col.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  col.entries = g_ptr_array_new_with_free_func (entry_free);

  for (guint i = 0; i < page->anchors->len; i++)
    add_classified (&col, g_ptr_array_index (page->anchors, i));
  for (guint i = 0; i < page->links->len; i++)
    {
      TsqPageLink *link = g_ptr_array_index (page->links, i);
      if (link->href != NULL)
        add_classified (&col, link->href);
    }
  for (guint i = 0; i < page->forms->len; i++)
    {
      TsqPageForm *form = g_ptr_array_index (page->forms, i);
      const char *kind;
      g_autofree char *url = accept_url (&col, form->action, &kind);

      if (url != NULL)
        add_entry (&col, url, "form", form->method);
    }
  for (guint i = 0; i < page->inline_scripts->len; i++)
    {
      const char *raw = g_ptr_array_index (page->inline_scripts, i);
      g_autofree char *script = NULL;
      gsize script_len;

      /* JSON-escaped slashes ("\/api\/v1") are common in inline configuration. */
      if (strstr (raw, "\\/") != NULL)
        {
          GString *s = g_string_new (raw);
          g_string_replace (s, "\\/", "/", 0);
          script = g_string_free (s, FALSE);
        }
      else
        script = g_strdup (raw);
      script_len = strlen (script);
      if (script_len > G_MAXINT)
        continue;
      scan_calls (&col, script, (gint)script_len);
      scan_literals (&col, script, (gint)script_len);
    }

  g_ptr_array_sort (col.entries, compare_entries);
  for (guint i = 0; i < col.entries->len; i++)
    {
      Entry *e = g_ptr_array_index (col.entries, i);
      JsonObject *obj = json_object_new ();

      json_object_set_string_member (obj, "url", e->url);
      json_object_set_string_member (obj, "kind", e->kind);
      if (e->method != NULL)
        json_object_set_string_member (obj, "method", e->method);
      json_array_add_object_element (array, obj);
    }

  g_hash_table_unref (col.seen);
  g_ptr_array_unref (col.entries);
  return array;
}
