/* tsq-security.h: the `security` object of a scan result (docs/scan-result.md, docs/security.md).
 *
 * Pure function of its input: no I/O, thread-safe as long as the input is not modified meanwhile.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "tsq-vuln-db.h"

G_BEGIN_DECLS

typedef struct
{
  const char *final_url;
  SoupMessageHeaders *headers; /* final response headers (may be NULL) */
  int tls_days_left;           /* -1 if not https / unknown */
  GPtrArray *subresource_urls; /* char* absolute URLs loaded by the page (scripts, styles,
                                * images, iframes, media); may be NULL */
  GPtrArray *form_actions;     /* char* absolute form actions; may be NULL */
  JsonArray *technologies;     /* [{name, version}] as in docs/scan-result.md; may be NULL */
  TsqVulnDb *vulns;            /* may be NULL */
} TsqSecurityInput;

/* Members: https, hsts, csp, x_frame_options, x_content_type_options, referrer_policy,
 * permissions_policy, missing_headers, insecure_cookies, tls_days_left, mixed_content,
 * insecure_forms, vulnerabilities, score (0-100), grade ("A".."F"), grade_reasons.
 * Returns a new object (json_object_unref it). */
JsonObject *tsq_security_assess (const TsqSecurityInput *input);

/* The grade letter of a 0-100 score: >=90 A, >=80 B, >=70 C, >=60 D, else F. */
const char *tsq_security_grade_for_score (int score);

G_END_DECLS
