/* tsq-notifier-email.h: email over SMTP with libcurl.
 *
 * libcurl's easy interface runs in a GTask worker thread (one blocking transfer per delivery;
 * alerts are few, and a thread is simpler and as robust as integrating curl_multi with the
 * GLib main loop). The caller's GCancellable aborts the transfer from curl's progress
 * callback; the SSRF guard judges every address before curl's socket is opened.
 *
 * TLS: smtps:// is implicit TLS (port 465); smtp:// uses STARTTLS per `starttls`: required
 * (the default; no TLS, no mail), try (opportunistic) or none. Certificates are always
 * verified (ca_file replaces the system CAs). AUTH (curl picks PLAIN/LOGIN/...) when username
 * and password are set; sending them without TLS needs allow_insecure_auth=true.
 *
 * The message: Date (the notification's created_at, so retries are byte-identical),
 * From, To, Subject (RFC 2047 encoded when not plain ASCII or long), Message-ID
 * (<id@from-domain>, derived from the idempotency id so receivers can dedupe),
 * X-TechScanIQ-Delivery, Auto-Submitted: auto-generated (RFC 3834: no vacation replies),
 * MIME-Version; text/plain, or multipart/alternative text + HTML when html is set; bodies in
 * quoted-printable UTF-8 (lines <= 76 characters, RFC 5322's 78 respected everywhere).
 * All recipients get one message in one SMTP transaction; any refused recipient fails it.
 */
#pragma once

#include "tsq-notifier.h"

G_BEGIN_DECLS

#define TSQ_TYPE_NOTIFIER_EMAIL (tsq_notifier_email_get_type ())
G_DECLARE_FINAL_TYPE (TsqNotifierEmail, tsq_notifier_email, TSQ, NOTIFIER_EMAIL, TsqNotifier)

TsqNotifier *tsq_notifier_email_new_from_config (GKeyFile *config,
                                                 const char *group,
                                                 const char *name,
                                                 GError **error);

/* -- message building, public for tests -- */

/* local@domain, printable ASCII without spaces or <>()[],;:"\ , <= 254 characters. */
gboolean tsq_email_address_is_valid (const char *address);
/* The whole RFC 5322 message with CRLF line ends. from_name may be NULL. */
GBytes *tsq_email_build_message (const char *from,
                                 const char *from_name,
                                 const char *const *to,
                                 const TsqNotification *notification,
                                 GError **error);
/* "<id@domain-of-from>"; ids that are not a valid dot-atom are hashed (still deterministic). */
char *tsq_email_message_id (const char *id, const char *from);
/* text as is when it is short printable ASCII, else RFC 2047 "=?UTF-8?B?...?=" words of at most
 * 75 characters joined by CRLF SP (folded). Never contains CR or LF otherwise. */
char *tsq_email_encode_header (const char *text);
/* Quoted-printable (RFC 2045) with CRLF line ends, lines <= 76 characters. */
char *tsq_email_quoted_printable (const char *text);

G_END_DECLS
