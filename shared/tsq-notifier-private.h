/* tsq-notifier-private.h: what channel implementations share (not for users of notifiers). */
#pragma once

#include "tsq-config.h"

#include <libsoup/soup.h>

#include "tsq-notifier.h"
#include "tsq-secret.h"

G_BEGIN_DECLS

/* Receivers' answers are read up to this size (a hostile endpoint cannot exhaust memory). */
#define TSQ_NOTIFIER_MAX_RESPONSE (64 * 1024)
#define TSQ_NOTIFIER_USER_AGENT "TechScanIQ-Monitor/" PACKAGE_VERSION

/* Completes a deliver task. Takes info (NULL: a fresh one) and error (must be set unless
 * DELIVERED). info->status is overwritten with status. */
void
tsq_notifier_return (GTask *task, TsqDeliveryStatus status, TsqDeliveryInfo *info, GError *error);
void tsq_notifier_return_error (GTask *task,
                                TsqDeliveryStatus status,
                                TsqNotifierError code,
                                const char *format,
                                ...) G_GNUC_PRINTF (4, 5);
TsqDeliveryInfo *tsq_delivery_info_new (void);

/* Decides from an HTTP answer. info is filled (status, Retry-After, response excerpt). */
typedef TsqDeliveryStatus (*TsqHttpClassifyFunc) (
  TsqNotifier *self, SoupMessage *msg, GBytes *response, TsqDeliveryInfo *info, GError **error);
/* The default rules: 2xx delivered; 408, 429, 5xx retryable; 401/403 permanent (AUTH);
 * 3xx (never followed: a POST must not turn into a GET) and other 4xx permanent. */
TsqDeliveryStatus tsq_notifier_classify_http (
  TsqNotifier *self, SoupMessage *msg, GBytes *response, TsqDeliveryInfo *info, GError **error);
/* Sends msg (its request body already set) on the notifier's session with the timeout, the
 * caller's cancellable and the SSRF guard, then completes task through classify (NULL: the
 * default). Takes ownership of msg and task. */
void tsq_notifier_http_send (TsqNotifier *self,
                             SoupMessage *msg,
                             GCancellable *cancellable,
                             GTask *task,
                             TsqHttpClassifyFunc classify);

/* Retry-After: delta seconds or an HTTP date; -1 if absent or unparsable; capped at 1 day. */
gint64 tsq_notifier_parse_retry_after (const char *value, gint64 now);
/* Up to 1 KiB of bytes as valid UTF-8 (invalid sequences replaced), or NULL if empty. */
char *tsq_notifier_response_excerpt (GBytes *bytes);
/* "https://hooks.slack.com/..." (then TSQ_SECRET_REDACTED): scheme, host and port only (paths and
 * queries of webhook URLs are often the credential itself). */
char *tsq_notifier_redact_url (const char *url);
/* Splits "Name: value", checking both (token name, no control characters in the value). */
gboolean
tsq_notifier_parse_header_line (const char *line, char **name, char **value, GError **error);

guint tsq_notifier_get_timeout_ms (TsqNotifier *self);
TsqNetGuard *tsq_notifier_get_net_guard (TsqNotifier *self);
/* CA bundle for TLS (config ca_file), NULL = the system's. */
const char *tsq_notifier_get_ca_file (TsqNotifier *self);
void tsq_notifier_set_ca_file (TsqNotifier *self, const char *ca_file);

/* -- config helpers: errors name "[group] key" -- */

/* NULL without error if absent and !required. Trimmed. */
char *tsq_notifier_config_get (
  GKeyFile *config, const char *group, const char *key, gboolean required, GError **error);
/* An http(s) URL with a host (no user:password@: credentials have their own keys). */
GUri *tsq_notifier_config_parse_http_url (const char *url,
                                          const char *group,
                                          const char *key,
                                          GError **error);
/* Resolves a secret, turning TSQ_SECRET_ERROR into TSQ_NOTIFIER_ERROR_INVALID_CONFIG. */
TsqSecret *tsq_notifier_config_get_secret (
  GKeyFile *config, const char *group, const char *name, gboolean required, GError **error);

G_END_DECLS
