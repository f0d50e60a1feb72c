/* tsq-notifier-twilio.h: SMS through Twilio's Messages REST API.
 *
 * POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json, form-encoded To, From (or
 * MessagingServiceSid when `from` is an MG... SID) and Body, HTTP basic auth
 * account_sid:auth_token. The text is the notification's body (its subject if the body is
 * empty), cut to 1,600 characters (Twilio's limit). Twilio answers 201 with the message
 * resource ({"sid", "status", "error_code", ...}): the sid becomes TsqDeliveryInfo.provider_id;
 * a status of "failed"/"undelivered" is permanent. Errors are {"code", "message", "status"}:
 * 400 (e.g. 21211 invalid To number) and 401/403 are permanent, 429 and 5xx retryable.
 * base_url (default https://api.twilio.com) lets tests point the channel at a local server.
 * One recipient per channel: an SMS cannot be sent "half" with one idempotency id.
 */
#pragma once

#include "tsq-notifier.h"

G_BEGIN_DECLS

#define TSQ_TYPE_NOTIFIER_TWILIO (tsq_notifier_twilio_get_type ())
G_DECLARE_FINAL_TYPE (TsqNotifierTwilio, tsq_notifier_twilio, TSQ, NOTIFIER_TWILIO, TsqNotifier)

#define TSQ_TWILIO_DEFAULT_BASE_URL "https://api.twilio.com"
#define TSQ_TWILIO_MAX_BODY_CHARS 1600

TsqNotifier *tsq_notifier_twilio_new_from_config (GKeyFile *config,
                                                  const char *group,
                                                  const char *name,
                                                  GError **error);
/* TRUE for an E.164 number: "+" then 2 to 15 digits, the first not 0. */
gboolean tsq_twilio_is_e164 (const char *number);

G_END_DECLS
