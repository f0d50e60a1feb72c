/* tsq-notifier-webhook.h: generic webhooks: a signed JSON POST.
 *
 * Body: the notification's json if set, else {"id", "channel", "subject", "text", "html",
 * "created_at" (ISO 8601 UTC), "created_at_unix"}. Headers: Content-Type: application/json,
 * X-TechScanIQ-Delivery and Idempotency-Key (the notification id, the same on every attempt),
 * X-TechScanIQ-Signature (tsq-signature.h, timestamped at each attempt) when a secret is set,
 * then the channel's `header` list and the notification's headers. Reserved headers cannot be
 * overridden.
 */
#pragma once

#include "tsq-notifier.h"

G_BEGIN_DECLS

#define TSQ_TYPE_NOTIFIER_WEBHOOK (tsq_notifier_webhook_get_type ())
G_DECLARE_FINAL_TYPE (TsqNotifierWebhook, tsq_notifier_webhook, TSQ, NOTIFIER_WEBHOOK, TsqNotifier)

/* Keys: url (or url_env/url_file), secret (or secret_env/secret_file, optional),
 * header=Name: value;Name2: value2 (optional). */
TsqNotifier *tsq_notifier_webhook_new_from_config (GKeyFile *config,
                                                   const char *group,
                                                   const char *name,
                                                   GError **error);
/* The exact bytes a delivery of notification would POST (for tests and `notify test`). */
GBytes *tsq_notifier_webhook_build_body (const TsqNotification *notification);

G_END_DECLS
