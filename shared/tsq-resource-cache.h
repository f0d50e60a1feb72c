/* tsq-resource-cache.h: fetches a page's linked scripts and stylesheets, cached across scans.
 *
 * Entries are keyed by URL (fragment dropped) and kept in an LRU bounded by total bytes. A
 * cached entry within its Cache-Control max-age (or Expires) is served without any request;
 * otherwise it is revalidated with If-None-Match / If-Modified-Since and a 304 serves the cached
 * body. Responses with Cache-Control: no-store, truncated bodies, non-200 answers and answers
 * with neither validators nor a freshness lifetime are not stored.
 *
 * The cache is thread-safe: several scanner threads, each with its own TsqFetcher, may share one.
 * A fetch runs in the thread-default main context of the caller (the fetcher's).
 */
#pragma once

#include "tsq-fetcher.h"

G_BEGIN_DECLS

typedef struct
{
  guint max_count;       /* default 20: URLs beyond it are skipped */
  gsize max_bytes_each;  /* default 1 MiB: bodies truncated at it (truncated = TRUE) */
  gsize max_bytes_total; /* default 4 MiB: resources past it (in input order) are skipped */
  guint timeout_s;       /* default 10, per resource */
  gboolean third_party;  /* default FALSE: same origin only (scheme + host + port) */
} TsqResourceLimits;

void tsq_resource_limits_init (TsqResourceLimits *limits);

typedef struct
{
  char *url;             /* normalized (fragment dropped) */
  guint status;          /* HTTP status (200, 304 on revalidation...); 0 if none */
  GBytes *body;          /* NULL on failure or when skipped */
  gboolean from_cache;   /* body came from the cache (fresh or revalidated) */
  gboolean not_modified; /* revalidated by a 304 */
  char *error;           /* NULL on success */
  /* Additions: */
  const char *error_kind; /* tsq_fetch_error_kind () name, "http" for a non-2xx status,
                           * "skipped" when over max_bytes_total; NULL on success */
  char *content_type;
  gboolean truncated; /* body cut at max_bytes_each */
} TsqResource;

void tsq_resource_free (TsqResource *resource);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqResource, tsq_resource_free)

typedef struct
{
  guint fetched;            /* downloaded with a 2xx (200 or after redirects) */
  guint not_modified;       /* revalidated: 304, cached body used */
  guint cached;             /* served from the cache without any request (still fresh) */
  guint failed;             /* error or non-2xx status */
  guint skipped;            /* over max_count or max_bytes_total */
  guint filtered;           /* not fetched: invalid, non-http(s) or (without third_party)
                             * another origin */
  guint64 bytes;            /* body bytes of the resources returned (cached ones included) */
  guint64 downloaded_bytes; /* body bytes that crossed the network this time (wire) */
} TsqResourceStats;

#define TSQ_TYPE_RESOURCE_CACHE (tsq_resource_cache_get_type ())
G_DECLARE_FINAL_TYPE (TsqResourceCache, tsq_resource_cache, TSQ, RESOURCE_CACHE, GObject)

/* max_total_bytes: LRU bound of the whole cache (e.g. 256 MiB); 0 = 256 MiB. */
TsqResourceCache *tsq_resource_cache_new (gsize max_total_bytes);
/* Number of entries and their accounted size (bodies plus a little per entry). */
guint tsq_resource_cache_get_count (TsqResourceCache *self);
gsize tsq_resource_cache_get_size (TsqResourceCache *self);
void tsq_resource_cache_clear (TsqResourceCache *self);

/* urls: absolute URLs (char*). limits: NULL = defaults. The result holds a TsqResource* per URL
 * processed (not filtered, not a duplicate, within max_count), in input order. */
void tsq_resource_cache_fetch_async (TsqResourceCache *self,
                                     TsqFetcher *fetcher,
                                     const char *page_url,
                                     GPtrArray *urls,
                                     const TsqResourceLimits *limits,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
/* Errors: TSQ_FETCH_ERROR_INVALID_URL for a bad page_url, TSQ_FETCH_ERROR_CANCELLED. Failures of
 * single resources are reported in their TsqResource, not here. */
GPtrArray *tsq_resource_cache_fetch_finish (TsqResourceCache *self,
                                            GAsyncResult *result,
                                            TsqResourceStats *stats_out,
                                            GError **error);

G_END_DECLS
