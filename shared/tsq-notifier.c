/* tsq-notifier.c: the channel base class: rate limit, timeouts, HTTP plumbing, the factory. */
#define G_LOG_DOMAIN "tsq-notifier"

#include <math.h>
#include <string.h>

#include "tsq-notifier-private.h"
#include "tsq-notifier-email.h"
#include "tsq-notifier-slack.h"
#include "tsq-notifier-twilio.h"
#include "tsq-notifier-webhook.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-notifier-error-quark, tsq_notifier_error)
/* clang-format on */

#define MAX_ID_LEN 200
#define EXCERPT_LEN 1024
#define MAX_RETRY_AFTER_S (24 * 3600)

typedef struct
{
  char *name;
  char *ca_file;
  TsqNetGuard *guard;
  guint timeout_ms;

  GMutex lock; /* guards the bucket */
  double rate_per_minute;
  double burst;
  double tokens;
  gint64 refilled_us;

  SoupSession *session; /* created on first use, in the deliverer's context */
} TsqNotifierPrivate;

enum
{
  PROP_0,
  PROP_NAME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TsqNotifier, tsq_notifier, G_TYPE_OBJECT)

/* -- TsqDeliveryInfo, TsqNotification -- */

const char *
tsq_delivery_status_to_string (TsqDeliveryStatus status)
{
  switch (status)
    {
      case TSQ_DELIVERY_DELIVERED:
        return "delivered";
      case TSQ_DELIVERY_RETRYABLE:
        return "retryable";
      case TSQ_DELIVERY_PERMANENT:
        return "permanent";
      default:
        return "unknown";
    }
}

TsqDeliveryInfo *
tsq_delivery_info_new (void)
{
  TsqDeliveryInfo *info = g_new0 (TsqDeliveryInfo, 1);

  info->retry_after_s = -1;
  return info;
}

void
tsq_delivery_info_free (TsqDeliveryInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->provider_id);
  g_free (info->response);
  g_free (info);
}

TsqNotification *
tsq_notification_new (const char *id, const char *subject, const char *body)
{
  TsqNotification *notification = g_new0 (TsqNotification, 1);

  notification->id = g_strdup (id);
  notification->subject = g_strdup (subject);
  notification->body = g_strdup (body);
  return notification;
}

TsqNotification *
tsq_notification_copy (const TsqNotification *notification)
{
  TsqNotification *copy;

  g_return_val_if_fail (notification != NULL, NULL);

  copy = tsq_notification_new (notification->id, notification->subject, notification->body);
  copy->channel = g_strdup (notification->channel);
  copy->html = g_strdup (notification->html);
  copy->json = notification->json ? json_node_copy (notification->json) : NULL;
  copy->headers = g_strdupv (notification->headers);
  copy->created_at = notification->created_at;
  return copy;
}

void
tsq_notification_free (TsqNotification *notification)
{
  if (notification == NULL)
    return;
  g_free (notification->id);
  g_free (notification->channel);
  g_free (notification->subject);
  g_free (notification->body);
  g_free (notification->html);
  g_clear_pointer (&notification->json, json_node_unref);
  g_strfreev (notification->headers);
  g_free (notification);
}

/* -- GObject -- */

static void
tsq_notifier_finalize (GObject *object)
{
  TsqNotifier *self = TSQ_NOTIFIER (object);
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_free (priv->name);
  g_free (priv->ca_file);
  g_clear_pointer (&priv->guard, tsq_net_guard_unref);
  g_clear_object (&priv->session);
  g_mutex_clear (&priv->lock);
  G_OBJECT_CLASS (tsq_notifier_parent_class)->finalize (object);
}

static void
tsq_notifier_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (TSQ_NOTIFIER (object));

  switch (prop_id)
    {
      case PROP_NAME:
        g_value_set_string (value, priv->name);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tsq_notifier_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (TSQ_NOTIFIER (object));

  switch (prop_id)
    {
      case PROP_NAME:
        g_free (priv->name);
        priv->name = g_value_dup_string (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tsq_notifier_class_init (TsqNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tsq_notifier_finalize;
  object_class->get_property = tsq_notifier_get_property;
  object_class->set_property = tsq_notifier_set_property;

  properties[PROP_NAME] = g_param_spec_string (
    "name", NULL, NULL, NULL, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tsq_notifier_init (TsqNotifier *self)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_mutex_init (&priv->lock);
  priv->guard = tsq_net_guard_new_default ();
  priv->timeout_ms = (guint)(TSQ_NOTIFIER_DEFAULT_TIMEOUT_S * 1000);
  priv->rate_per_minute = TSQ_NOTIFIER_DEFAULT_RATE_PER_MINUTE;
  priv->burst = MIN (10.0, TSQ_NOTIFIER_DEFAULT_RATE_PER_MINUTE);
  priv->tokens = priv->burst;
  priv->refilled_us = g_get_monotonic_time ();
}

/* -- getters and settings -- */

const char *
tsq_notifier_get_name (TsqNotifier *self)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_return_val_if_fail (TSQ_IS_NOTIFIER (self), NULL);
  return priv->name ? priv->name : "";
}

const char *
tsq_notifier_get_kind (TsqNotifier *self)
{
  g_return_val_if_fail (TSQ_IS_NOTIFIER (self), NULL);
  return TSQ_NOTIFIER_GET_CLASS (self)->kind;
}

void
tsq_notifier_set_rate_limit (TsqNotifier *self, double per_minute, double burst)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_return_if_fail (TSQ_IS_NOTIFIER (self));

  g_mutex_lock (&priv->lock);
  priv->rate_per_minute = isfinite (per_minute) && per_minute > 0 ? per_minute : 0;
  priv->burst = isfinite (burst) && burst >= 1 ? burst : 1;
  priv->tokens = priv->burst;
  priv->refilled_us = g_get_monotonic_time ();
  g_mutex_unlock (&priv->lock);
}

void
tsq_notifier_set_timeout_ms (TsqNotifier *self, guint timeout_ms)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_return_if_fail (TSQ_IS_NOTIFIER (self));
  priv->timeout_ms = MAX (timeout_ms, 1);
}

guint
tsq_notifier_get_timeout_ms (TsqNotifier *self)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  return priv->timeout_ms;
}

void
tsq_notifier_set_net_guard (TsqNotifier *self, TsqNetGuard *guard)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_return_if_fail (TSQ_IS_NOTIFIER (self));
  g_return_if_fail (guard != NULL);

  tsq_net_guard_ref (guard);
  g_clear_pointer (&priv->guard, tsq_net_guard_unref);
  priv->guard = guard;
}

TsqNetGuard *
tsq_notifier_get_net_guard (TsqNotifier *self)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  return priv->guard;
}

const char *
tsq_notifier_get_ca_file (TsqNotifier *self)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  return priv->ca_file;
}

void
tsq_notifier_set_ca_file (TsqNotifier *self, const char *ca_file)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  g_free (priv->ca_file);
  priv->ca_file = g_strdup (ca_file);
}

char *
tsq_notifier_describe (TsqNotifier *self)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);
  TsqNotifierClass *klass;
  GString *out;

  g_return_val_if_fail (TSQ_IS_NOTIFIER (self), NULL);

  klass = TSQ_NOTIFIER_GET_CLASS (self);
  out = g_string_new (NULL);
  g_string_append_printf (out, "%s “%s”:", klass->kind, tsq_notifier_get_name (self));
  if (klass->describe != NULL)
    klass->describe (self, out);
  g_mutex_lock (&priv->lock);
  if (priv->rate_per_minute > 0)
    g_string_append_printf (out, " rate=%g/min burst=%g", priv->rate_per_minute, priv->burst);
  else
    g_string_append (out, " rate=unlimited");
  g_mutex_unlock (&priv->lock);
  g_string_append_printf (out, " timeout=%gs", priv->timeout_ms / 1000.0);
  if (priv->ca_file != NULL)
    g_string_append_printf (out, " ca_file=%s", priv->ca_file);
  return g_string_free (out, FALSE);
}

/* -- completion -- */

typedef struct
{
  TsqDeliveryInfo *info;
  GError *error;
} Outcome;

static void
outcome_free (gpointer data)
{
  Outcome *outcome = data;

  tsq_delivery_info_free (outcome->info);
  g_clear_error (&outcome->error);
  g_free (outcome);
}

void
tsq_notifier_return (GTask *task, TsqDeliveryStatus status, TsqDeliveryInfo *info, GError *error)
{
  TsqNotifier *self = g_task_get_source_object (task);
  const TsqNotification *notification = g_task_get_task_data (task);
  Outcome *outcome = g_new0 (Outcome, 1);

  outcome->info = info ? info : tsq_delivery_info_new ();
  outcome->info->status = status;
  if (status != TSQ_DELIVERY_DELIVERED && error == NULL)
    error = g_error_new_literal (TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_NETWORK, "failed");
  if (status == TSQ_DELIVERY_DELIVERED)
    g_clear_error (&error);
  outcome->error = error;

  /* Log lines carry the channel, the id and the outcome: never content or secrets. */
  if (error != NULL)
    g_debug ("channel %s: notification %s: %s: %s", tsq_notifier_get_name (self),
             notification ? notification->id : "?", tsq_delivery_status_to_string (status),
             error->message);
  else
    g_debug ("channel %s: notification %s delivered", tsq_notifier_get_name (self),
             notification ? notification->id : "?");
  g_task_return_pointer (task, outcome, outcome_free);
}

void
tsq_notifier_return_error (
  GTask *task, TsqDeliveryStatus status, TsqNotifierError code, const char *format, ...)
{
  GError *error;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (TSQ_NOTIFIER_ERROR, code, format, args);
  va_end (args);
  tsq_notifier_return (task, status, NULL, error);
}

/* -- rate limit -- */

/* Takes a token; FALSE with *retry_after_s (>= 1) when the bucket is empty. */
static gboolean
take_token (TsqNotifier *self, gint64 *retry_after_s)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);
  gint64 now = g_get_monotonic_time ();
  gboolean ok = TRUE;

  g_mutex_lock (&priv->lock);
  if (priv->rate_per_minute > 0)
    {
      double per_us = priv->rate_per_minute / 60e6;

      priv->tokens = MIN (priv->burst, priv->tokens + (now - priv->refilled_us) * per_us);
      priv->refilled_us = now;
      if (priv->tokens >= 1.0)
        priv->tokens -= 1.0;
      else
        {
          ok = FALSE;
          *retry_after_s = MAX (1, (gint64)ceil ((1.0 - priv->tokens) / per_us / 1e6));
        }
    }
  g_mutex_unlock (&priv->lock);
  return ok;
}

/* -- deliver -- */

static gboolean
check_notification (const TsqNotification *notification, GError **error)
{
  gsize len;

  if (notification->id == NULL || *notification->id == '\0')
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                           "the notification has no idempotency id");
      return FALSE;
    }
  len = strlen (notification->id);
  if (len > MAX_ID_LEN)
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                           "the idempotency id is longer than 200 characters");
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      char c = notification->id[i];

      if (!g_ascii_isalnum (c) && c != '-' && c != '_' && c != '.')
        {
          g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                               "the idempotency id may only contain letters, digits, “.”, “_” "
                               "and “-”");
          return FALSE;
        }
    }
  if ((notification->subject && !g_utf8_validate (notification->subject, -1, NULL))
      || (notification->body && !g_utf8_validate (notification->body, -1, NULL))
      || (notification->html && !g_utf8_validate (notification->html, -1, NULL)))
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                           "the notification is not valid UTF-8");
      return FALSE;
    }
  return TRUE;
}

void
tsq_notifier_deliver_async (TsqNotifier *self,
                            const TsqNotification *notification,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  TsqNotification *copy;
  gint64 retry_after = -1;

  g_return_if_fail (TSQ_IS_NOTIFIER (self));
  g_return_if_fail (notification != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tsq_notifier_deliver_async);
  /* The outcome is returned even when cancelled: the caller needs the classification. */
  g_task_set_check_cancellable (task, FALSE);

  copy = tsq_notification_copy (notification);
  if (copy->created_at == 0)
    copy->created_at = g_get_real_time () / G_USEC_PER_SEC;
  if (copy->channel == NULL)
    copy->channel = g_strdup (tsq_notifier_get_name (self));
  g_task_set_task_data (task, copy, (GDestroyNotify)tsq_notification_free);

  if (!check_notification (copy, &error))
    {
      tsq_notifier_return (task, TSQ_DELIVERY_PERMANENT, NULL, g_steal_pointer (&error));
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_RETRYABLE, TSQ_NOTIFIER_ERROR_CANCELLED,
                                 "channel %s: cancelled", tsq_notifier_get_name (self));
      return;
    }
  if (!take_token (self, &retry_after))
    {
      TsqDeliveryInfo *info = tsq_delivery_info_new ();

      info->retry_after_s = retry_after;
      tsq_notifier_return (task, TSQ_DELIVERY_RETRYABLE, info,
                           g_error_new (TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_RATE_LIMITED,
                                        "channel %s: rate limit reached, retry in %" G_GINT64_FORMAT
                                        " s",
                                        tsq_notifier_get_name (self), retry_after));
      return;
    }
  TSQ_NOTIFIER_GET_CLASS (self)->deliver (self, copy, cancellable, g_steal_pointer (&task));
}

TsqDeliveryStatus
tsq_notifier_deliver_finish (TsqNotifier *self,
                             GAsyncResult *result,
                             TsqDeliveryInfo **info_out,
                             GError **error)
{
  Outcome *outcome;
  TsqDeliveryStatus status;

  g_return_val_if_fail (TSQ_IS_NOTIFIER (self), TSQ_DELIVERY_PERMANENT);
  g_return_val_if_fail (g_task_is_valid (result, self), TSQ_DELIVERY_PERMANENT);

  outcome = g_task_propagate_pointer (G_TASK (result), NULL);
  if (outcome == NULL)
    {
      /* Not reached: every path returns an outcome. */
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_NETWORK, "no outcome");
      if (info_out != NULL)
        *info_out = tsq_delivery_info_new ();
      return TSQ_DELIVERY_RETRYABLE;
    }
  status = outcome->info->status;
  if (outcome->error != NULL)
    g_propagate_error (error, g_steal_pointer (&outcome->error));
  if (info_out != NULL)
    *info_out = g_steal_pointer (&outcome->info);
  outcome_free (outcome);
  return status;
}

/* -- HTTP plumbing -- */

gint64
tsq_notifier_parse_retry_after (const char *value, gint64 now)
{
  g_autoptr (GDateTime) date = NULL;
  gint64 seconds;
  char *end = NULL;

  if (value == NULL)
    return -1;
  while (g_ascii_isspace (*value))
    value++;
  if (g_ascii_isdigit (*value))
    {
      seconds = g_ascii_strtoll (value, &end, 10);
      while (end && g_ascii_isspace (*end))
        end++;
      if (end == NULL || *end != '\0' || seconds < 0)
        return -1;
      return MIN (seconds, MAX_RETRY_AFTER_S);
    }
  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return -1;
  seconds = g_date_time_to_unix (date) - now;
  return CLAMP (seconds, 0, MAX_RETRY_AFTER_S);
}

char *
tsq_notifier_response_excerpt (GBytes *bytes)
{
  gsize len = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &len) : NULL;

  if (len == 0)
    return NULL;
  return g_utf8_make_valid (data, MIN (len, EXCERPT_LEN));
}

char *
tsq_notifier_redact_url (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup (TSQ_SECRET_REDACTED);
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s://%s:%d/" TSQ_SECRET_REDACTED, g_uri_get_scheme (uri),
                            g_uri_get_host (uri), g_uri_get_port (uri));
  return g_strdup_printf ("%s://%s/" TSQ_SECRET_REDACTED, g_uri_get_scheme (uri),
                          g_uri_get_host (uri));
}

gboolean
tsq_notifier_parse_header_line (const char *line, char **name, char **value, GError **error)
{
  const char *colon = strchr (line, ':');
  g_autofree char *n = NULL;
  g_autofree char *v = NULL;

  if (colon == NULL)
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                           "header without “:” (expected “Name: value”)");
      return FALSE;
    }
  n = g_strstrip (g_strndup (line, colon - line));
  v = g_strstrip (g_strdup (colon + 1));
  if (*n == '\0' || strlen (n) > 256)
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                           "empty or too long header name");
      return FALSE;
    }
  for (const char *p = n; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("!#$%&'*+-.^_`|~", *p) == NULL)
      {
        g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                     "invalid character in header name “%s”", n);
        return FALSE;
      }
  for (const char *p = v; *p; p++)
    if (((guchar)*p < 0x20 && *p != '\t') || *p == 0x7f)
      {
        /* CR/LF would let a value add headers or split the request. */
        g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                     "control character in the value of header “%s”", n);
        return FALSE;
      }
  *name = g_steal_pointer (&n);
  *value = g_steal_pointer (&v);
  return TRUE;
}

TsqDeliveryStatus
tsq_notifier_classify_http (
  TsqNotifier *self, SoupMessage *msg, GBytes *response, TsqDeliveryInfo *info, GError **error)
{
  guint status = soup_message_get_status (msg);
  const char *reason = soup_message_get_reason_phrase (msg);
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  const char *name = tsq_notifier_get_name (self);
  g_autofree char *excerpt = NULL;

  info->http_status = status;
  g_free (info->response);
  info->response = tsq_notifier_response_excerpt (response);
  info->retry_after_s = tsq_notifier_parse_retry_after (
    soup_message_headers_get_one (headers, "Retry-After"), g_get_real_time () / G_USEC_PER_SEC);
  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    return TSQ_DELIVERY_DELIVERED;

  /* A short, single-line excerpt for the message; the full one is in info. */
  if (info->response != NULL)
    {
      excerpt = g_utf8_substring (info->response, 0, MIN (200, g_utf8_strlen (info->response, -1)));
      g_strdelimit (excerpt, "\r\n\t", ' ');
    }
  if (status == SOUP_STATUS_REQUEST_TIMEOUT || status == 429
      || SOUP_STATUS_IS_SERVER_ERROR (status))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_HTTP, "channel %s: HTTP %u %s%s%s",
                   name, status, reason ? reason : "", excerpt ? ": " : "", excerpt ? excerpt : "");
      return TSQ_DELIVERY_RETRYABLE;
    }
  if (SOUP_STATUS_IS_REDIRECTION (status))
    {
      const char *location = soup_message_headers_get_one (headers, "Location");

      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_HTTP,
                   "channel %s: HTTP %u redirect%s%s (redirects are not followed: configure the "
                   "final URL)",
                   name, status, location ? " to " : "", location ? location : "");
      return TSQ_DELIVERY_PERMANENT;
    }
  g_set_error (error, TSQ_NOTIFIER_ERROR,
               status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN
                 ? TSQ_NOTIFIER_ERROR_AUTH
                 : TSQ_NOTIFIER_ERROR_HTTP,
               "channel %s: HTTP %u %s%s%s", name, status, reason ? reason : "",
               excerpt ? ": " : "", excerpt ? excerpt : "");
  return TSQ_DELIVERY_PERMANENT;
}

typedef struct
{
  TsqNotifier *self;
  GTask *task;
  SoupMessage *msg;
  GInputStream *stream;
  guint8 *buffer;
  GCancellable *inner; /* cancels the HTTP exchange: timeout, guard or caller */
  GCancellable *outer; /* the caller's */
  gulong outer_handler;
  GSource *timeout_source;
  gboolean timed_out;
  GError *guard_error;
  TsqHttpClassifyFunc classify;
} HttpCall;

static void
http_call_free (HttpCall *call)
{
  if (call->timeout_source != NULL)
    {
      g_source_destroy (call->timeout_source);
      g_source_unref (call->timeout_source);
    }
  if (call->outer != NULL)
    g_cancellable_disconnect (call->outer, call->outer_handler);
  g_clear_object (&call->outer);
  g_clear_object (&call->inner);
  g_clear_object (&call->stream);
  g_clear_object (&call->msg);
  g_clear_error (&call->guard_error);
  g_free (call->buffer);
  g_object_unref (call->task);
  g_free (call);
}

static void
on_outer_cancelled (GCancellable *outer, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
on_http_timeout (gpointer user_data)
{
  HttpCall *call = user_data;

  call->timed_out = TRUE;
  g_cancellable_cancel (call->inner);
  return G_SOURCE_REMOVE;
}

/* Same rule as the fetcher: judge the address DNS gave before connect(2). */
static void
on_network_event (SoupMessage *msg, GSocketClientEvent event, GIOStream *connection, gpointer data)
{
  HttpCall *call = data;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GError) error = NULL;

  if (event != G_SOCKET_CLIENT_CONNECTING || !G_IS_SOCKET_CONNECTION (connection))
    return;
  remote = g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (connection), NULL);
  if (G_IS_INET_SOCKET_ADDRESS (remote)
      && tsq_net_guard_check (tsq_notifier_get_net_guard (call->self),
                              g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)),
                              &error))
    return;
  if (error == NULL)
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                 "cannot determine the remote address to check it");
  if (call->guard_error == NULL)
    call->guard_error = g_steal_pointer (&error);
  g_socket_close (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)), NULL);
  g_cancellable_cancel (call->inner);
}

static void
http_fail (HttpCall *call, GError *error)
{
  const char *name = tsq_notifier_get_name (call->self);

  if (call->guard_error != NULL)
    tsq_notifier_return_error (call->task, TSQ_DELIVERY_PERMANENT,
                               TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS, "channel %s: %s", name,
                               call->guard_error->message);
  else if (call->timed_out)
    tsq_notifier_return_error (call->task, TSQ_DELIVERY_RETRYABLE, TSQ_NOTIFIER_ERROR_TIMEOUT,
                               "channel %s: no answer within %u ms", name,
                               tsq_notifier_get_timeout_ms (call->self));
  else if (g_cancellable_is_cancelled (call->outer))
    tsq_notifier_return_error (call->task, TSQ_DELIVERY_RETRYABLE, TSQ_NOTIFIER_ERROR_CANCELLED,
                               "channel %s: cancelled", name);
  else if (error->domain == G_TLS_ERROR)
    tsq_notifier_return_error (call->task, TSQ_DELIVERY_RETRYABLE, TSQ_NOTIFIER_ERROR_TLS,
                               "channel %s: TLS: %s", name, error->message);
  else
    tsq_notifier_return_error (call->task, TSQ_DELIVERY_RETRYABLE, TSQ_NOTIFIER_ERROR_NETWORK,
                               "channel %s: %s", name, error->message);
  http_call_free (call);
}

static void
on_http_closed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_input_stream_close_finish (G_INPUT_STREAM (source), result, NULL);
}

static void
on_http_read (GObject *source, GAsyncResult *result, gpointer data)
{
  HttpCall *call = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  TsqDeliveryInfo *info;
  TsqDeliveryStatus status;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, &error))
    {
      http_fail (call, error);
      return;
    }
  /* Closing without reading the rest drops an over-long answer with its connection. */
  g_input_stream_close_async (call->stream, G_PRIORITY_DEFAULT, NULL, on_http_closed, NULL);
  body = g_bytes_new (call->buffer, n);
  info = tsq_delivery_info_new ();
  status = call->classify (call->self, call->msg, body, info, &error);
  tsq_notifier_return (call->task, status, info, g_steal_pointer (&error));
  http_call_free (call);
}

static void
on_http_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  HttpCall *call = data;
  g_autoptr (GError) error = NULL;

  call->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (call->stream == NULL)
    {
      http_fail (call, error);
      return;
    }
  call->buffer = g_malloc (TSQ_NOTIFIER_MAX_RESPONSE);
  g_input_stream_read_all_async (call->stream, call->buffer, TSQ_NOTIFIER_MAX_RESPONSE,
                                 G_PRIORITY_DEFAULT, call->inner, on_http_read, call);
}

static SoupSession *
get_session (TsqNotifier *self, GError **error)
{
  TsqNotifierPrivate *priv = tsq_notifier_get_instance_private (self);

  if (priv->session == NULL)
    {
      g_autoptr (SoupSession) session = soup_session_new_with_options (
        "user-agent", TSQ_NOTIFIER_USER_AGENT, "max-conns-per-host", 4, NULL);

      if (priv->ca_file != NULL)
        {
          g_autoptr (GTlsDatabase) database = g_tls_file_database_new (priv->ca_file, error);

          if (database == NULL)
            return NULL;
          soup_session_set_tls_database (session, database);
        }
      priv->session = g_steal_pointer (&session);
    }
  return priv->session;
}

void
tsq_notifier_http_send (TsqNotifier *self,
                        SoupMessage *msg,
                        GCancellable *cancellable,
                        GTask *task,
                        TsqHttpClassifyFunc classify)
{
  g_autoptr (GError) error = NULL;
  const char *host = g_uri_get_host (soup_message_get_uri (msg));
  SoupSession *session;
  HttpCall *call;

  if (host != NULL && g_hostname_is_ip_address (host)
      && !tsq_net_guard_check_string (tsq_notifier_get_net_guard (self), host, &error))
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_PERMANENT, TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS,
                                 "channel %s: %s", tsq_notifier_get_name (self), error->message);
      g_object_unref (msg);
      g_object_unref (task);
      return;
    }
  session = get_session (self, &error);
  if (session == NULL)
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_PERMANENT, TSQ_NOTIFIER_ERROR_TLS,
                                 "channel %s: ca_file: %s", tsq_notifier_get_name (self),
                                 error->message);
      g_object_unref (msg);
      g_object_unref (task);
      return;
    }

  call = g_new0 (HttpCall, 1);
  call->self = self; /* kept alive by the task (its source object) */
  call->task = task;
  call->msg = msg;
  call->classify = classify ? classify : tsq_notifier_classify_http;
  call->inner = g_cancellable_new ();
  if (cancellable != NULL)
    {
      call->outer = g_object_ref (cancellable);
      call->outer_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled),
                                                   g_object_ref (call->inner), g_object_unref);
    }
  call->timeout_source = g_timeout_source_new (tsq_notifier_get_timeout_ms (self));
  g_source_set_callback (call->timeout_source, on_http_timeout, call, NULL);
  g_source_attach (call->timeout_source, g_main_context_get_thread_default ());

  /* A POST answered with a redirect must not become a GET elsewhere; idempotency is ours to
   * provide, not the session's cache. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept",
                                "application/json, text/plain, */*");
  g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), call);
  soup_session_send_async (session, msg, G_PRIORITY_DEFAULT, call->inner, on_http_sent, call);
}

/* -- config helpers -- */

char *
tsq_notifier_config_get (
  GKeyFile *config, const char *group, const char *key, gboolean required, GError **error)
{
  g_autofree char *value = NULL;

  if (!g_key_file_has_key (config, group, key, NULL))
    {
      if (required)
        g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                     "[%s] %s: missing", group, key);
      return NULL;
    }
  value = g_key_file_get_string (config, group, key, NULL);
  if (value == NULL || *g_strstrip (value) == '\0')
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] %s: empty value", group, key);
      return NULL;
    }
  return g_steal_pointer (&value);
}

GUri *
tsq_notifier_config_parse_http_url (const char *url,
                                    const char *group,
                                    const char *key,
                                    GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL)
    {
      /* The URL may hold a credential (Slack): never echo it. */
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] %s: not a valid URL", group, key);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] %s: only http:// and https:// URLs are supported", group, key);
      return NULL;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] %s: the URL has no host", group, key);
      return NULL;
    }
  if (g_uri_get_user (uri) != NULL || g_uri_get_password (uri) != NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] %s: credentials in the URL are not supported", group, key);
      return NULL;
    }
  return g_steal_pointer (&uri);
}

TsqSecret *
tsq_notifier_config_get_secret (
  GKeyFile *config, const char *group, const char *name, gboolean required, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  TsqSecret *secret;

  secret = tsq_secret_new_from_key_file (config, group, name, required, &local_error);
  if (local_error != NULL)
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                           local_error->message);
      return NULL;
    }
  return secret;
}

/* -- factory -- */

typedef TsqNotifier *(*NewFunc) (GKeyFile *config,
                                 const char *group,
                                 const char *name,
                                 GError **error);

static const char *const common_keys[]
  = { "type", "rate_per_minute", "burst", "timeout_s", "ca_file", NULL };

static const struct
{
  const char *type;
  NewFunc create;
  const char *keys[12];   /* plain keys */
  const char *secrets[4]; /* secret names: NAME, NAME_env, NAME_file all accepted */
} kinds[] = {
  { "webhook",
    tsq_notifier_webhook_new_from_config,
    { "header", NULL },
    { "url", "secret", NULL } },
  { "slack", tsq_notifier_slack_new_from_config, { NULL }, { "url", NULL } },
  { "twilio",
    tsq_notifier_twilio_new_from_config,
    { "account_sid", "from", "to", "base_url", NULL },
    { "auth_token", NULL } },
  { "email",
    tsq_notifier_email_new_from_config,
    { "smtp_url", "starttls", "username", "from", "from_name", "to", "allow_insecure_auth", NULL },
    { "password", NULL } },
};

static gboolean
get_number (GKeyFile *config,
            const char *group,
            const char *key,
            double min,
            double max,
            double *out,
            GError **error)
{
  g_autofree char *text = NULL;
  char *end = NULL;
  double value;

  if (!g_key_file_has_key (config, group, key, NULL))
    return TRUE;
  text = tsq_notifier_config_get (config, group, key, TRUE, error);
  if (text == NULL)
    return FALSE;
  value = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !isfinite (value) || value < min || value > max)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] %s: expected a number from %g to %g, got “%s”", group, key, min, max,
                   text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
check_keys (GKeyFile *config, const char *group, guint kind, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (config, group, NULL, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; keys && keys[i]; i++)
    {
      gboolean known
        = g_strv_contains (common_keys, keys[i]) || g_strv_contains (kinds[kind].keys, keys[i]);

      for (guint s = 0; !known && kinds[kind].secrets[s]; s++)
        known = tsq_secret_is_key_for (keys[i], kinds[kind].secrets[s]);
      if (!known)
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] %s: unknown key for a %s channel", group, keys[i], kinds[kind].type);
          return FALSE;
        }
      /* GKeyFile keeps only the last of repeated keys: say so instead of dropping values. */
      if (!g_hash_table_add (seen, keys[i]))
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] %s: repeated key (give several values as one list separated by "
                       "“;”)",
                       group, keys[i]);
          return FALSE;
        }
    }
  return TRUE;
}

TsqNotifier *
tsq_notifier_new_from_config (GKeyFile *config, const char *channel_group, GError **error)
{
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autofree char *type = NULL;
  g_autofree char *ca_file = NULL;
  const char *name;
  double rate = TSQ_NOTIFIER_DEFAULT_RATE_PER_MINUTE;
  double burst = -1;
  double timeout_s = TSQ_NOTIFIER_DEFAULT_TIMEOUT_S;
  guint kind;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (channel_group != NULL, NULL);

  if (!g_str_has_prefix (channel_group, TSQ_NOTIFIER_GROUP_PREFIX))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s]: a channel group is named “[channel NAME]”", channel_group);
      return NULL;
    }
  name = channel_group + strlen (TSQ_NOTIFIER_GROUP_PREFIX);
  if (*name == '\0' || strlen (name) > 100 || !g_utf8_validate (name, -1, NULL)
      || strpbrk (name, " \t\r\n/") != NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s]: the channel name must be 1-100 characters without spaces or “/”",
                   channel_group);
      return NULL;
    }
  if (!g_key_file_has_group (config, channel_group))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s]: no such group", channel_group);
      return NULL;
    }
  type = tsq_notifier_config_get (config, channel_group, "type", TRUE, error);
  if (type == NULL)
    return NULL;
  for (kind = 0; kind < G_N_ELEMENTS (kinds); kind++)
    if (strcmp (kinds[kind].type, type) == 0)
      break;
  if (kind == G_N_ELEMENTS (kinds))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] type: unknown channel type “%s” (webhook, slack, twilio or email)",
                   channel_group, type);
      return NULL;
    }
  if (!check_keys (config, channel_group, kind, error)
      || !get_number (config, channel_group, "rate_per_minute", 0, 1e6, &rate, error)
      || !get_number (config, channel_group, "burst", 1, 1e6, &burst, error)
      || !get_number (config, channel_group, "timeout_s", 0.001, 3600, &timeout_s, error))
    return NULL;
  if (g_key_file_has_key (config, channel_group, "ca_file", NULL))
    {
      ca_file = tsq_notifier_config_get (config, channel_group, "ca_file", TRUE, error);
      if (ca_file == NULL)
        return NULL;
      if (!g_file_test (ca_file, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] ca_file: %s is not a readable file", channel_group, ca_file);
          return NULL;
        }
    }

  notifier = kinds[kind].create (config, channel_group, name, error);
  if (notifier == NULL)
    return NULL;
  tsq_notifier_set_rate_limit (notifier, rate, burst > 0 ? burst : MIN (10.0, MAX (rate, 1.0)));
  tsq_notifier_set_timeout_ms (notifier, (guint)ceil (timeout_s * 1000));
  tsq_notifier_set_ca_file (notifier, ca_file);
  return g_steal_pointer (&notifier);
}

GPtrArray *
tsq_notifier_load_all (GKeyFile *config, GError **error)
{
  g_autoptr (GPtrArray) notifiers = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto (GStrv) groups = g_key_file_get_groups (config, NULL);

  for (guint i = 0; groups && groups[i]; i++)
    {
      TsqNotifier *notifier;

      if (!g_str_has_prefix (groups[i], TSQ_NOTIFIER_GROUP_PREFIX))
        continue;
      notifier = tsq_notifier_new_from_config (config, groups[i], error);
      if (notifier == NULL)
        return NULL;
      g_ptr_array_add (notifiers, notifier);
    }
  return g_steal_pointer (&notifiers);
}
