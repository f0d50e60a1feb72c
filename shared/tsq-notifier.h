/* tsq-notifier.h: notification channels (webhook, Slack, Twilio SMS, email) behind one API.
 *
 * A TsqNotifier delivers one already-rendered TsqNotification (templates are another module)
 * and classifies the outcome so that the outbox can decide what to do:
 *   TSQ_DELIVERY_DELIVERED  the receiver accepted it: mark the outbox row done;
 *   TSQ_DELIVERY_RETRYABLE  network error, timeout, HTTP 408/429/5xx, SMTP 4xx, our own rate
 *                           limit: back off (honouring TsqDeliveryInfo.retry_after_s if >= 0);
 *   TSQ_DELIVERY_PERMANENT  HTTP 4xx, authentication refused, bad address, SMTP 5xx, blocked
 *                           destination: retrying cannot help, dead-letter it.
 * Every attempt for one notification carries the same idempotency id (the outbox row id), so
 * receivers can drop duplicates: X-TechScanIQ-Delivery and Idempotency-Key headers for HTTP
 * channels, the Message-ID for email.
 *
 * Channels come from config groups `[channel NAME]` (docs/notifications.md lists every key);
 * all values, secrets included, are validated when the channel is loaded.
 *
 * Threading: a notifier is used from the thread (main context) that first delivers with it
 * (libsoup 3 sessions are bound to one context); the callback runs in that context. Email runs
 * libcurl in a GTask worker thread, invisibly. tsq_notifier_describe () and the getters are
 * thread-safe.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tsq-net-guard.h"

G_BEGIN_DECLS

/* Prefix of config groups that define channels: "[channel slack-ops]". */
#define TSQ_NOTIFIER_GROUP_PREFIX "channel "
#define TSQ_NOTIFIER_DEFAULT_RATE_PER_MINUTE 60.0
#define TSQ_NOTIFIER_DEFAULT_TIMEOUT_S 30.0
#define TSQ_DELIVERY_HEADER "X-TechScanIQ-Delivery"

typedef enum
{
  TSQ_NOTIFIER_ERROR_INVALID_CONFIG,       /* at load time: the message names group and key */
  TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION, /* no id, header injection, unusable payload */
  TSQ_NOTIFIER_ERROR_RATE_LIMITED,         /* this channel's own token bucket is empty */
  TSQ_NOTIFIER_ERROR_NETWORK,              /* connect/DNS/read/write failure */
  TSQ_NOTIFIER_ERROR_TIMEOUT,
  TSQ_NOTIFIER_ERROR_TLS,             /* handshake or certificate failure */
  TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS, /* the SSRF guard refused the destination */
  TSQ_NOTIFIER_ERROR_HTTP,            /* the receiver answered with an error status */
  TSQ_NOTIFIER_ERROR_AUTH,            /* credentials refused (HTTP 401/403, SMTP 535) */
  TSQ_NOTIFIER_ERROR_REJECTED,        /* the provider refused the message (bad number,
                                         SMTP 5xx on a recipient, Twilio error code) */
  TSQ_NOTIFIER_ERROR_CANCELLED,       /* the caller's GCancellable fired */
} TsqNotifierError;

#define TSQ_NOTIFIER_ERROR (tsq_notifier_error_quark ())
GQuark tsq_notifier_error_quark (void);

typedef enum
{
  TSQ_DELIVERY_DELIVERED = 0,
  TSQ_DELIVERY_RETRYABLE,
  TSQ_DELIVERY_PERMANENT,
} TsqDeliveryStatus;

const char *tsq_delivery_status_to_string (TsqDeliveryStatus status);

/* What happened on the wire: for the outbox row and the dead-letter view. */
typedef struct
{
  TsqDeliveryStatus status;
  guint http_status;    /* HTTP status, or the last SMTP reply code; 0 if none */
  gint64 retry_after_s; /* >= 0: retry no earlier than this many seconds from now (the
                           receiver's Retry-After or our rate limit); -1: not said */
  char *provider_id;    /* Twilio message SID, email Message-ID; NULL if none */
  char *response;       /* start of the receiver's answer (<= 1 KiB, valid UTF-8); or NULL */
} TsqDeliveryInfo;

void tsq_delivery_info_free (TsqDeliveryInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqDeliveryInfo, tsq_delivery_info_free)

/* One rendered notification. Plain struct: fill the fields, the notifier copies what it needs
 * when deliver_async is called (the caller may free it right after). */
typedef struct
{
  char *id;          /* idempotency id, e.g. the outbox row's UUID: required, <= 200 chars of
                        [A-Za-z0-9._-] (it becomes a header and a Message-ID) */
  char *channel;     /* channel name, informational (may be NULL) */
  char *subject;     /* one line; NULL or "" allowed */
  char *body;        /* plain text */
  char *html;        /* optional HTML alternative (email only) */
  JsonNode *json;    /* optional rendered payload: the webhook body / the Slack message */
  GStrv headers;     /* optional extra "Name: value" lines for webhooks */
  gint64 created_at; /* unix seconds; 0 = now (webhook JSON, email Date) */
} TsqNotification;

TsqNotification *tsq_notification_new (const char *id, const char *subject, const char *body);
TsqNotification *tsq_notification_copy (const TsqNotification *notification);
void tsq_notification_free (TsqNotification *notification);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqNotification, tsq_notification_free)

#define TSQ_TYPE_NOTIFIER (tsq_notifier_get_type ())
G_DECLARE_DERIVABLE_TYPE (TsqNotifier, tsq_notifier, TSQ, NOTIFIER, GObject)

struct _TsqNotifierClass
{
  GObjectClass parent_class;

  const char *kind; /* "webhook", ... */
  /* Starts one attempt; completes task with tsq_notifier_return () (tsq-notifier-private.h).
   * notification is a private copy that stays alive until the task completes. */
  void (*deliver) (TsqNotifier *self,
                   TsqNotification *notification,
                   GCancellable *cancellable,
                   GTask *task);
  /* Appends the channel's settings, secrets as TSQ_SECRET_REDACTED. */
  void (*describe) (TsqNotifier *self, GString *out);

  gpointer padding[8];
};

/* Reads the group "channel NAME" (the whole group name is passed) of config and builds the
 * channel its `type=` names: webhook, slack, twilio or email. Unknown keys, bad values and
 * unresolvable secrets fail with TSQ_NOTIFIER_ERROR_INVALID_CONFIG naming group and key. */
TsqNotifier *
tsq_notifier_new_from_config (GKeyFile *config, const char *channel_group, GError **error);
/* Every "[channel ...]" group of config, in file order: an array of TsqNotifier (owned). */
GPtrArray *tsq_notifier_load_all (GKeyFile *config, GError **error);

const char *tsq_notifier_get_name (TsqNotifier *self);
/* "webhook", "slack", "twilio", "email". */
const char *tsq_notifier_get_kind (TsqNotifier *self);
/* One line for logs and `notify list`: kind, name, destination, settings. Never a secret. */
char *tsq_notifier_describe (TsqNotifier *self);

/* Token bucket: per_minute <= 0 disables the limit; burst < 1 becomes 1. */
void tsq_notifier_set_rate_limit (TsqNotifier *self, double per_minute, double burst);
/* Whole-attempt timeout (connect + send + answer), default 30 s. */
void tsq_notifier_set_timeout_ms (TsqNotifier *self, guint timeout_ms);
/* Destination filter (default: tsq_net_guard_new_default (), private networks allowed,
 * link-local and cloud metadata refused). */
void tsq_notifier_set_net_guard (TsqNotifier *self, TsqNetGuard *guard);

/* One delivery attempt. Never fails synchronously: bad input completes with PERMANENT. */
void tsq_notifier_deliver_async (TsqNotifier *self,
                                 const TsqNotification *notification,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
/* The classification. error (optional) is set unless DELIVERED; info_out (optional) receives
 * the details in every case. */
TsqDeliveryStatus tsq_notifier_deliver_finish (TsqNotifier *self,
                                               GAsyncResult *result,
                                               TsqDeliveryInfo **info_out,
                                               GError **error);

G_END_DECLS
