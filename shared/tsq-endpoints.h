/* tsq-endpoints.h: API endpoints a page reveals (links, forms, inline scripts). Thread-safe. */
#pragma once

#include <json-glib/json-glib.h>

#include "tsq-page.h"

G_BEGIN_DECLS

/* Sorted (by url, then kind, then method), de-duplicated [{url, kind, method?}].
 *
 * kinds:
 *  - "openapi": links to swagger.json / openapi.json|yaml / swagger.yaml, /swagger-ui, /api-docs,
 *    /redoc (any origin);
 *  - "graphql": a path segment graphql/graphiql;
 *  - "api": a path segment "api" or "api.<ext>", or a host whose first label starts with "api"
 *    on the page's site;
 *  - "versioned": a path segment v1, v2, v2.1 ...;
 *  - "form": every form action, with "method";
 *  - "script-fetch": URLs passed to fetch(), axios.*, $.ajax/$.get/$.post/$.getJSON,
 *    XMLHttpRequest.open(), new WebSocket(), new EventSource() in inline scripts, with "method"
 *    when known (WebSocket has none).
 * Anchors, <link> hrefs and string literals in inline scripts are classified as
 * openapi/graphql/api/versioned (in that priority).
 *
 * Only URLs on the page's origin (scheme, host, port; ws/wss count as http/https) are kept,
 * except openapi links (any origin) and api.* hosts of the same site.
 *
 * URLs are normalized by tsq_endpoints_normalize_url(). */
JsonArray *tsq_endpoints_extract (TsqPage *page);

/* Absolute, fragment dropped, scheme and host lower-case, default port dropped; query keys kept
 * (sorted, de-duplicated) with every value replaced by ':' ("?id=:&q=:"); path segments that are
 * numbers, UUIDs or hex/random ids (>= 8 chars with digits) become "{id}". NULL if @url does not
 * resolve to an http(s)/ws(s) URL. */
char *tsq_endpoints_normalize_url (const char *base, const char *url);

G_END_DECLS
