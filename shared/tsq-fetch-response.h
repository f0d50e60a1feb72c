/* tsq-fetch-response.h: fetch error kinds and the response record of one page fetch. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef enum
{
  TSQ_FETCH_ERROR_INVALID_URL,
  TSQ_FETCH_ERROR_UNSUPPORTED_SCHEME,
  TSQ_FETCH_ERROR_DNS,
  TSQ_FETCH_ERROR_CONNECTION_REFUSED,
  TSQ_FETCH_ERROR_CONNECTION,
  TSQ_FETCH_ERROR_TLS,
  TSQ_FETCH_ERROR_TIMEOUT,
  TSQ_FETCH_ERROR_TOO_MANY_REDIRECTS,
  TSQ_FETCH_ERROR_REDIRECT_LOOP,
  TSQ_FETCH_ERROR_BLOCKED_ADDRESS,
  TSQ_FETCH_ERROR_BODY_TOO_LARGE,
  TSQ_FETCH_ERROR_HEADERS_TOO_LARGE,
  TSQ_FETCH_ERROR_HTTP,
  TSQ_FETCH_ERROR_CANCELLED,
  TSQ_FETCH_ERROR_INTERNAL,
} TsqFetchError;

#define TSQ_FETCH_ERROR (tsq_fetch_error_quark ())
GQuark tsq_fetch_error_quark (void);
/* Stable snake_case name of a TsqFetchError code ("dns", "tls", ...); "internal" if unknown. */
const char *tsq_fetch_error_kind (int code);

typedef struct
{
  char *url;    /* the URL that answered with a redirect */
  guint status; /* its 3xx status */
} TsqRedirect;

void tsq_redirect_free (TsqRedirect *redirect);

typedef struct
{
  char *url;                   /* requested */
  char *final_url;             /* after redirects (== url without redirects) */
  guint status;                /* 0 when no response came */
  char *http_version;          /* "HTTP/1.0", "HTTP/1.1", "HTTP/2" */
  SoupMessageHeaders *headers; /* final response headers (ref), NULL if none */
  char *content_type;
  GBytes *body;          /* decoded (gzip/deflate/br), capped; never NULL on success; a NUL
                          * byte follows the data (not counted), so it may be read as a string */
  gboolean truncated;    /* body cap reached */
  guint64 wire_bytes;    /* body bytes received on the wire (compressed) */
  guint64 decoded_bytes; /* decoded body bytes kept (== body size, <= the cap) */
  guint64 header_bytes;  /* response header bytes of the final response */
  /* Milliseconds. dns/connect/tls/ttfb/download are from the final hop's SoupMessageMetrics
   * (0 when not applicable, e.g. a reused connection); total_ms covers the whole fetch,
   * redirects included. connect_ms includes the TLS handshake, tls_ms is that handshake alone;
   * ttfb_ms runs from the request start to the first response byte. */
  double dns_ms, connect_ms, tls_ms, ttfb_ms, download_ms, total_ms;
  GPtrArray *redirects; /* TsqRedirect*, each hop followed, in order */
  /* TLS facts of the final hop; tls_subject is NULL when not https. */
  char *tls_subject;
  char *tls_issuer;
  GDateTime *tls_not_before;
  GDateTime *tls_not_after;
  int tls_days_left;               /* -1 if n/a */
  GTlsCertificateFlags tls_errors; /* certificate problems seen (also when accepted) */
  char *remote_address;            /* "ip:port" actually connected, if known */
} TsqFetchResponse;

TsqFetchResponse *tsq_fetch_response_new (const char *url);
void tsq_fetch_response_free (TsqFetchResponse *response);
/* Comma-separated names of the set flags ("unknown-ca, expired"); "" when none. */
char *tsq_tls_flags_to_string (GTlsCertificateFlags flags);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqFetchResponse, tsq_fetch_response_free)

G_END_DECLS
