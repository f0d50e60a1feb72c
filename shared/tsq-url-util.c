/* tsq-url-util.c: URL helpers on top of GUri and libpsl. */
#define G_LOG_DOMAIN "tsq-url-util"

#include "tsq-url-util.h"

#include <libpsl.h>
#include <string.h>

#define TSQ_URI_FLAGS (G_URI_FLAGS_PARSE_RELAXED | G_URI_FLAGS_ENCODED)

/* Browsers strip C0 controls and spaces at both ends and remove tabs and newlines anywhere. */
static char *
clean_ref (const char *ref)
{
  GString *out;
  const char *start = ref;
  const char *end = ref + strlen (ref);

  while (start < end && (guchar)*start <= 0x20)
    start++;
  while (end > start && (guchar)end[-1] <= 0x20)
    end--;

  out = g_string_sized_new (end - start);
  for (const char *p = start; p < end; p++)
    {
      if (*p == '\t' || *p == '\n' || *p == '\r')
        continue;
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static int
default_port (const char *scheme)
{
  if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "ws") == 0)
    return 80;
  if (g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    return 443;
  return -1;
}

static gboolean
is_special_scheme (const char *scheme)
{
  return default_port (scheme) > 0;
}

static char *
normalize_uri (GUri *uri, gboolean drop_fragment)
{
  g_autoptr (GUri) out = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  const char *path;
  int port;

  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  if (g_uri_get_host (uri) != NULL)
    {
      const char *h = g_uri_get_host (uri);

      if (!g_str_is_ascii (h))
        {
          g_autofree char *unescaped = g_uri_unescape_string (h, NULL);
          host = unescaped != NULL ? g_hostname_to_ascii (unescaped) : NULL;
          if (host == NULL)
            return NULL;
        }
      else if (strchr (h, '%') != NULL && !strchr (h, ':'))
        {
          /* Percent-encoded UTF-8 host, as GUri leaves it after resolution. */
          g_autofree char *unescaped = g_uri_unescape_string (h, NULL);
          host = unescaped != NULL && g_utf8_validate (unescaped, -1, NULL)
                   ? g_hostname_to_ascii (unescaped)
                   : NULL;
          if (host == NULL)
            return NULL;
        }
      else
        host = g_strdup (h);
      {
        char *lower = g_ascii_strdown (host, -1);
        g_free (host);
        host = lower;
      }
    }

  if (is_special_scheme (scheme) && (host == NULL || *host == '\0'))
    return NULL;

  port = g_uri_get_port (uri);
  if (port == default_port (scheme))
    port = -1;

  path = g_uri_get_path (uri);
  if (is_special_scheme (scheme) && (path == NULL || *path == '\0'))
    path = "/";

  out = g_uri_build (TSQ_URI_FLAGS, scheme, g_uri_get_userinfo (uri), host, port, path,
                     g_uri_get_query (uri), drop_fragment ? NULL : g_uri_get_fragment (uri));
  return g_uri_to_string (out);
}

char *
tsq_url_normalize (const char *url, gboolean drop_fragment)
{
  g_autoptr (GUri) uri = NULL;

  if (url == NULL || *url == '\0')
    return NULL;
  uri = g_uri_parse (url, TSQ_URI_FLAGS, NULL);
  if (uri == NULL)
    return NULL;
  return normalize_uri (uri, drop_fragment);
}

/* A page resolves hundreds of references against one base: keep the last parsed base per
 * thread instead of parsing it again for each. */
typedef struct
{
  char *text;
  GUri *uri;
} BaseCache;

static void
base_cache_free (gpointer data)
{
  BaseCache *cache = data;

  g_free (cache->text);
  g_clear_pointer (&cache->uri, g_uri_unref);
  g_free (cache);
}

static GPrivate base_cache_key = G_PRIVATE_INIT (base_cache_free);

static GUri *
parse_base (const char *base)
{
  BaseCache *cache = g_private_get (&base_cache_key);

  if (cache == NULL)
    {
      cache = g_new0 (BaseCache, 1);
      g_private_set (&base_cache_key, cache);
    }
  if (cache->text == NULL || !g_str_equal (cache->text, base))
    {
      g_free (cache->text);
      g_clear_pointer (&cache->uri, g_uri_unref);
      cache->text = g_strdup (base);
      cache->uri = g_uri_parse (base, TSQ_URI_FLAGS, NULL);
    }
  return cache->uri;
}

char *
tsq_url_resolve (const char *base, const char *ref)
{
  g_autofree char *clean = NULL;

  if (ref == NULL)
    return NULL;
  clean = clean_ref (ref);
  if (*clean == '\0')
    {
      /* An empty reference means the base itself. */
      return base != NULL ? tsq_url_normalize (base, FALSE) : NULL;
    }

  /* Browsers treat backslashes as slashes in http(s) URLs. */
  if (base == NULL || g_ascii_strncasecmp (base, "http", 4) == 0)
    {
      const char *colon = strchr (clean, ':');
      const char *slash = strpbrk (clean, "/\\?#");

      if (colon == NULL || (slash != NULL && slash < colon)
          || g_ascii_strncasecmp (clean, "http", 4) == 0)
        {
          for (char *p = clean; *p && *p != '?' && *p != '#'; p++)
            if (*p == '\\')
              *p = '/';
        }
    }

  if (base == NULL)
    {
      g_autoptr (GUri) absolute = g_uri_parse (clean, TSQ_URI_FLAGS, NULL);

      return absolute ? normalize_uri (absolute, FALSE) : NULL;
    }
  else
    {
      GUri *base_uri = parse_base (base);
      g_autoptr (GUri) uri = base_uri ? g_uri_parse_relative (base_uri, clean, TSQ_URI_FLAGS, NULL) : NULL;

      return uri ? normalize_uri (uri, FALSE) : NULL;
    }
}

gboolean
tsq_url_is_http (const char *url)
{
  if (url == NULL)
    return FALSE;
  return g_ascii_strncasecmp (url, "http://", 7) == 0
         || g_ascii_strncasecmp (url, "https://", 8) == 0;
}

char *
tsq_url_get_host (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *norm = tsq_url_normalize (url, TRUE);

  if (norm == NULL)
    return NULL;
  uri = g_uri_parse (norm, TSQ_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return NULL;
  return g_strdup (g_uri_get_host (uri));
}

char *
tsq_url_get_origin (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *norm = tsq_url_normalize (url, TRUE);
  const char *scheme;
  const char *host;
  int port;
  gboolean ipv6;

  if (norm == NULL)
    return NULL;
  uri = g_uri_parse (norm, TSQ_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return NULL;

  scheme = g_uri_get_scheme (uri);
  if (g_str_equal (scheme, "ws"))
    scheme = "http";
  else if (g_str_equal (scheme, "wss"))
    scheme = "https";
  host = g_uri_get_host (uri);
  port = g_uri_get_port (uri);
  if (port == default_port (scheme))
    port = -1;
  ipv6 = strchr (host, ':') != NULL;

  if (port > 0)
    return g_strdup_printf ("%s://%s%s%s:%d", scheme, ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
  return g_strdup_printf ("%s://%s%s%s", scheme, ipv6 ? "[" : "", host, ipv6 ? "]" : "");
}

gboolean
tsq_url_same_origin (const char *a, const char *b)
{
  g_autofree char *oa = tsq_url_get_origin (a);
  g_autofree char *ob = tsq_url_get_origin (b);

  return oa != NULL && ob != NULL && g_str_equal (oa, ob);
}

static gpointer
load_psl (gpointer data)
{
  /* The distribution's list (kept up to date by the publicsuffix package) if present, else the
   * copy built into libpsl. Loaded once, never freed: read-only afterwards, so thread-safe. */
  psl_ctx_t *latest = psl_latest (NULL);

  if (latest != NULL)
    return latest;
  return (gpointer)psl_builtin ();
}

char *
tsq_url_registrable_domain (const char *host)
{
  static GOnce psl_once = G_ONCE_INIT;
  const psl_ctx_t *psl;
  g_autofree char *lower = NULL;
  const char *domain;
  gsize len;

  if (host == NULL || *host == '\0')
    return NULL;

  lower = g_ascii_strdown (host, -1);
  len = strlen (lower);
  if (len > 0 && lower[len - 1] == '.')
    lower[len - 1] = '\0';
  if (g_hostname_is_ip_address (lower) || strchr (lower, ':') != NULL
      || strchr (lower, '.') == NULL)
    return g_steal_pointer (&lower);

  psl = g_once (&psl_once, load_psl, NULL);
  if (psl == NULL)
    return g_steal_pointer (&lower);
  domain = psl_registrable_domain (psl, lower);
  if (domain == NULL)
    return g_steal_pointer (&lower);
  return g_strdup (domain);
}

gboolean
tsq_url_same_site (const char *a, const char *b)
{
  g_autofree char *ha = tsq_url_get_host (a);
  g_autofree char *hb = tsq_url_get_host (b);
  g_autofree char *da = tsq_url_registrable_domain (ha);
  g_autofree char *db = tsq_url_registrable_domain (hb);

  return da != NULL && db != NULL && g_str_equal (da, db);
}
