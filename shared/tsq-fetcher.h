/* tsq-fetcher.h: the scanner's HTTP client (libsoup 3) with an SSRF guard.
 *
 * One SoupSession per fetcher, shared by all its fetches (hundreds may be in flight). Redirects
 * are followed by hand so that every hop is guarded and recorded. The remote address is checked
 * by the TsqNetGuard after DNS resolution, before any byte of the request is written.
 *
 * A fetcher belongs to the thread-default main context it was created in: call it from there.
 */
#pragma once

#include <libsoup/soup.h>

#include "tsq-fetch-response.h"
#include "tsq-net-guard.h"

G_BEGIN_DECLS

typedef struct
{
  guint max_redirects;  /* default 10 */
  gsize max_body_bytes; /* default 5 MiB: body truncated at the cap, truncated = TRUE */
  guint timeout_s;      /* default 30: whole request incl. body and redirects */
  const char
    *user_agent; /* default "TechScanIQ-Monitor/<version> (+https://techscaniq.example/bot)" */
  gboolean tls_verify;      /* default TRUE; FALSE accepts invalid certs but still reports them */
  guint max_conns;          /* default 256 */
  guint max_conns_per_host; /* default 8 */
  TsqNetGuard *guard;       /* NULL = tsq_net_guard_new_default (); the fetcher takes a ref */
} TsqFetcherOptions;

void tsq_fetcher_options_init (TsqFetcherOptions *options);

typedef struct
{
  const char *if_none_match;
  const char *if_modified_since;
  gsize max_body_bytes;  /* 0 = the fetcher's */
  gboolean no_redirects; /* return the 3xx response itself */
  /* Additions (zero = default): */
  guint timeout_s;            /* 0 = the fetcher's */
  const char *accept;         /* NULL = "text/html,application/xhtml+xml,...;q=0.8" */
  gboolean fail_if_truncated; /* TRUE: a body over the cap is TSQ_FETCH_ERROR_BODY_TOO_LARGE */
} TsqFetchRequest;

#define TSQ_TYPE_FETCHER (tsq_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (TsqFetcher, tsq_fetcher, TSQ, FETCHER, GObject)

/* options: NULL = defaults. Copied; strings are duplicated. */
TsqFetcher *tsq_fetcher_new (const TsqFetcherOptions *options);
TsqNetGuard *tsq_fetcher_get_guard (TsqFetcher *self);
SoupSession *tsq_fetcher_get_session (TsqFetcher *self);

void tsq_fetcher_fetch_async (TsqFetcher *self,
                              const char *url,
                              const TsqFetchRequest *request,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
TsqFetchResponse *tsq_fetcher_fetch_finish (TsqFetcher *self, GAsyncResult *result, GError **error);
/* On error, *partial_out (if non-NULL) receives what was learnt: redirect chain, timings,
 * status and headers if a response came. On success *partial_out is set to NULL. */
TsqFetchResponse *tsq_fetcher_fetch_finish_full (TsqFetcher *self,
                                                 GAsyncResult *result,
                                                 TsqFetchResponse **partial_out,
                                                 GError **error);

G_END_DECLS
