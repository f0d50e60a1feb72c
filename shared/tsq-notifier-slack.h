/* tsq-notifier-slack.h: Slack incoming webhooks.
 *
 * POSTs the notification's json when it is a JSON object (a message rendered by the Slack
 * templates: "text", "blocks", ...), else {"text": "*subject*\nbody"} with Slack's escaping
 * (& < >). Slack answers 200 "ok"; errors are 4xx (permanent: invalid_payload,
 * channel_is_archived, no_service, ...), 429 with Retry-After and 5xx (retryable). The webhook
 * URL is itself the credential: it is read like a secret (url, url_env or url_file) and never
 * printed past the host. Also sends X-TechScanIQ-Delivery (Slack ignores it; proxies may log
 * it).
 */
#pragma once

#include "tsq-notifier.h"

G_BEGIN_DECLS

#define TSQ_TYPE_NOTIFIER_SLACK (tsq_notifier_slack_get_type ())
G_DECLARE_FINAL_TYPE (TsqNotifierSlack, tsq_notifier_slack, TSQ, NOTIFIER_SLACK, TsqNotifier)

TsqNotifier *tsq_notifier_slack_new_from_config (GKeyFile *config,
                                                 const char *group,
                                                 const char *name,
                                                 GError **error);
/* The JSON a delivery of notification POSTs. */
GBytes *tsq_notifier_slack_build_body (const TsqNotification *notification);
/* Slack's mrkdwn escaping: & < > become &amp; &lt; &gt;. */
char *tsq_notifier_slack_escape (const char *text);

G_END_DECLS
