/* tsq-signature.h: webhook signatures (HMAC-SHA256), as sent in X-TechScanIQ-Signature.
 *
 * The header value is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the scheme of
 * Stripe-style webhooks: the timestamp is signed with the body so a captured delivery cannot be
 * replayed later than the receiver's tolerance. A receiver may get several v1= entries (while
 * a secret is being rotated); any one matching is enough. Unknown keys (v0=, ...) are ignored.
 *
 * All functions are pure and thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_SIGNATURE_HEADER "X-TechScanIQ-Signature"
/* Default replay window for tsq_signature_verify (): five minutes either way. */
#define TSQ_SIGNATURE_DEFAULT_TOLERANCE_S 300

typedef enum
{
  TSQ_SIGNATURE_ERROR_MALFORMED, /* the header is not t=...,v1=... */
  TSQ_SIGNATURE_ERROR_MISMATCH,  /* no v1= matches (tampered body, wrong secret) */
  TSQ_SIGNATURE_ERROR_EXPIRED,   /* the timestamp is outside the tolerance (replay) */
} TsqSignatureError;

#define TSQ_SIGNATURE_ERROR (tsq_signature_error_quark ())
GQuark tsq_signature_error_quark (void);

/* Lower-case hex HMAC-SHA256 (64 characters) of "<timestamp>.<body>" keyed with secret. */
char *tsq_signature_compute (const char *secret, gint64 timestamp, GBytes *body);
/* The whole header value: "t=<timestamp>,v1=<hex>". */
char *tsq_signature_header (const char *secret, gint64 timestamp, GBytes *body);
/* Checks header_value against body. now: the receiver's clock in unix seconds; tolerance_s:
 * the largest accepted |now - t| (0 = the timestamp must equal now). Signatures are compared
 * in constant time. FALSE + TSQ_SIGNATURE_ERROR when refused. */
gboolean tsq_signature_verify (const char *secret,
                               const char *header_value,
                               GBytes *body,
                               gint64 now,
                               guint tolerance_s,
                               GError **error);
/* TRUE if the two buffers are equal. Time depends on the lengths only, never on the contents
 * (no early exit); lengths are not secret here (a SHA-256 is always 32 bytes). */
gboolean tsq_constant_time_equal (const void *a, gsize a_len, const void *b, gsize b_len);

G_END_DECLS
