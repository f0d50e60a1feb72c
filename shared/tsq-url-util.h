/* tsq-url-util.h: URL resolution, normalization, origin and same-site helpers.
 *
 * All functions are pure and thread-safe. URLs are handled as strings; invalid input gives NULL
 * (or FALSE), never a warning.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Resolves @ref (an attribute value as written) against the absolute URL @base, the way a browser
 * does: strips leading/trailing ASCII whitespace, drops tabs and newlines, percent-encodes
 * spaces and non-ASCII bytes. Returns the absolute URL normalized by tsq_url_normalize() (fragment
 * kept), or NULL if @ref is empty or cannot be resolved. @base may be NULL if @ref is absolute. */
char *tsq_url_resolve (const char *base, const char *ref);

/* Lower-cases scheme and host (IDN hosts become punycode), drops the default port (80 for
 * http/ws, 443 for https/wss), turns an empty path of http(s)/ws(s) into "/", and optionally drops
 * the fragment. NULL if @url is not an absolute URL. */
char *tsq_url_normalize (const char *url, gboolean drop_fragment);

/* TRUE for absolute http:// and https:// URLs (case-insensitive scheme). */
gboolean tsq_url_is_http (const char *url);

/* The lower-case host of an absolute URL (without brackets for IPv6), or NULL. */
char *tsq_url_get_host (const char *url);

/* "scheme://host[:port]" with the default port omitted, or NULL. ws/wss are mapped to
 * http/https so that a WebSocket to the page's own host is same-origin. */
char *tsq_url_get_origin (const char *url);

gboolean tsq_url_same_origin (const char *a, const char *b);

/* The registrable domain ("eTLD+1", public suffix list via libpsl) of @host, e.g.
 * "www.bbc.co.uk" -> "bbc.co.uk". For IP addresses, single-label hosts and hosts that are a
 * public suffix themselves, the host itself. NULL only for NULL/empty input. */
char *tsq_url_registrable_domain (const char *host);

/* Same registrable domain (scheme and port ignored). */
gboolean tsq_url_same_site (const char *a, const char *b);

G_END_DECLS
