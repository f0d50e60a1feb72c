/* tsq-notifier-twilio.c: SMS via Twilio's Messages API. */
#define G_LOG_DOMAIN "tsq-notifier-twilio"

#include <string.h>

#include "tsq-json-util.h"
#include "tsq-notifier-private.h"
#include "tsq-notifier-twilio.h"

struct _TsqNotifierTwilio
{
  TsqNotifier parent_instance;

  char *base_url;
  char *account_sid;
  TsqSecret *auth_token;
  char *from; /* E.164 number, or NULL when messaging_service is set */
  char *messaging_service;
  char *to;
};

G_DEFINE_FINAL_TYPE (TsqNotifierTwilio, tsq_notifier_twilio, TSQ_TYPE_NOTIFIER)

gboolean
tsq_twilio_is_e164 (const char *number)
{
  gsize len;

  if (number == NULL || number[0] != '+' || number[1] < '1' || number[1] > '9')
    return FALSE;
  len = strlen (number + 1);
  if (len < 2 || len > 15)
    return FALSE;
  for (const char *p = number + 1; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

/* "AC"/"MG" followed by 32 hex digits: Twilio's SID format. */
static gboolean
is_sid (const char *text, const char *prefix)
{
  if (text == NULL || strlen (text) != 34 || strncmp (text, prefix, 2) != 0)
    return FALSE;
  for (const char *p = text + 2; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

static char *
sms_text (const TsqNotification *notification)
{
  const char *text
    = notification->body && *notification->body ? notification->body : notification->subject;
  glong len;

  if (text == NULL)
    return g_strdup ("");
  len = g_utf8_strlen (text, -1);
  if (len <= TSQ_TWILIO_MAX_BODY_CHARS)
    return g_strdup (text);
  {
    g_autofree char *cut = g_utf8_substring (text, 0, TSQ_TWILIO_MAX_BODY_CHARS - 1);

    return g_strconcat (cut, "…", NULL);
  }
}

static TsqDeliveryStatus
classify_twilio (
  TsqNotifier *self, SoupMessage *msg, GBytes *response, TsqDeliveryInfo *info, GError **error)
{
  g_autoptr (GError) http_error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object = NULL;
  TsqDeliveryStatus status;
  const char *name = tsq_notifier_get_name (self);

  status = tsq_notifier_classify_http (self, msg, response, info, &http_error);
  if (info->response != NULL)
    root = tsq_json_from_string (info->response, NULL);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    object = json_node_get_object (root);

  if (status == TSQ_DELIVERY_DELIVERED)
    {
      const char *state = object ? tsq_json_get_string (object, "status", NULL) : NULL;

      if (object != NULL)
        info->provider_id = g_strdup (tsq_json_get_string (object, "sid", NULL));
      if (g_strcmp0 (state, "failed") == 0 || g_strcmp0 (state, "undelivered") == 0)
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_REJECTED,
                       "channel %s: Twilio message %s %s: error %" G_GINT64_FORMAT " %s", name,
                       info->provider_id ? info->provider_id : "?", state,
                       tsq_json_get_int (object, "error_code", 0),
                       tsq_json_get_string (object, "error_message", ""));
          return TSQ_DELIVERY_PERMANENT;
        }
      return TSQ_DELIVERY_DELIVERED;
    }

  /* Twilio's error body names the cause better than the status line. */
  if (object != NULL && json_object_has_member (object, "code"))
    {
      gint64 code = tsq_json_get_int (object, "code", 0);
      const char *message = tsq_json_get_string (object, "message", "");

      g_set_error (error, TSQ_NOTIFIER_ERROR,
                   http_error->code == TSQ_NOTIFIER_ERROR_AUTH ? TSQ_NOTIFIER_ERROR_AUTH
                   : status == TSQ_DELIVERY_PERMANENT          ? TSQ_NOTIFIER_ERROR_REJECTED
                                                               : TSQ_NOTIFIER_ERROR_HTTP,
                   "channel %s: Twilio error %" G_GINT64_FORMAT " (HTTP %u): %s", name, code,
                   info->http_status, message);
      return status;
    }
  g_propagate_error (error, g_steal_pointer (&http_error));
  return status;
}

static void
tsq_notifier_twilio_deliver (TsqNotifier *notifier,
                             TsqNotification *notification,
                             GCancellable *cancellable,
                             GTask *task)
{
  TsqNotifierTwilio *self = TSQ_NOTIFIER_TWILIO (notifier);
  g_autofree char *url = NULL;
  g_autofree char *text = sms_text (notification);
  g_autofree char *form = NULL;
  g_autofree char *credentials = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *authorization = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  SoupMessageHeaders *headers;

  if (*text == '\0')
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_PERMANENT,
                                 TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
                                 "channel %s: empty SMS text", tsq_notifier_get_name (notifier));
      g_object_unref (task);
      return;
    }
  url = g_strdup_printf ("%s/2010-04-01/Accounts/%s/Messages.json", self->base_url,
                         self->account_sid);
  msg = soup_message_new ("POST", url);
  if (self->from != NULL)
    form = soup_form_encode ("To", self->to, "From", self->from, "Body", text, NULL);
  else
    form = soup_form_encode ("To", self->to, "MessagingServiceSid", self->messaging_service, "Body",
                             text, NULL);
  body = g_bytes_new_take (form, strlen (form));
  form = NULL;
  credentials
    = g_strdup_printf ("%s:%s", self->account_sid, tsq_secret_get_value (self->auth_token));
  encoded = g_base64_encode ((const guchar *)credentials, strlen (credentials));
  authorization = g_strconcat ("Basic ", encoded, NULL);
  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Authorization", authorization);
  soup_message_headers_replace (headers, TSQ_DELIVERY_HEADER, notification->id);
  soup_message_set_request_body_from_bytes (msg, "application/x-www-form-urlencoded", body);
  explicit_bzero (credentials, strlen (credentials));
  explicit_bzero (encoded, strlen (encoded));
  explicit_bzero (authorization, strlen (authorization));
  tsq_notifier_http_send (notifier, g_steal_pointer (&msg), cancellable, task, classify_twilio);
}

static void
tsq_notifier_twilio_describe (TsqNotifier *notifier, GString *out)
{
  TsqNotifierTwilio *self = TSQ_NOTIFIER_TWILIO (notifier);
  g_autofree char *token = tsq_secret_describe (self->auth_token);

  g_string_append_printf (out, " base_url=%s account_sid=%s auth_token=%s from=%s to=%s",
                          self->base_url, self->account_sid, token,
                          self->from ? self->from : self->messaging_service, self->to);
}

static void
tsq_notifier_twilio_finalize (GObject *object)
{
  TsqNotifierTwilio *self = TSQ_NOTIFIER_TWILIO (object);

  g_free (self->base_url);
  g_free (self->account_sid);
  g_clear_pointer (&self->auth_token, tsq_secret_free);
  g_free (self->from);
  g_free (self->messaging_service);
  g_free (self->to);
  G_OBJECT_CLASS (tsq_notifier_twilio_parent_class)->finalize (object);
}

static void
tsq_notifier_twilio_class_init (TsqNotifierTwilioClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TsqNotifierClass *notifier_class = TSQ_NOTIFIER_CLASS (klass);

  object_class->finalize = tsq_notifier_twilio_finalize;
  notifier_class->kind = "twilio";
  notifier_class->deliver = tsq_notifier_twilio_deliver;
  notifier_class->describe = tsq_notifier_twilio_describe;
}

static void
tsq_notifier_twilio_init (TsqNotifierTwilio *self)
{
}

TsqNotifier *
tsq_notifier_twilio_new_from_config (GKeyFile *config,
                                     const char *group,
                                     const char *name,
                                     GError **error)
{
  g_autoptr (TsqNotifierTwilio) self = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GUri) uri = NULL;
  g_autofree char *from = NULL;
  g_autofree char *base_url = NULL;

  self = g_object_new (TSQ_TYPE_NOTIFIER_TWILIO, "name", name, NULL);
  self->account_sid = tsq_notifier_config_get (config, group, "account_sid", TRUE, error);
  if (self->account_sid == NULL)
    return NULL;
  if (!is_sid (self->account_sid, "AC"))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] account_sid: expected “AC” and 32 hex digits", group);
      return NULL;
    }
  self->auth_token = tsq_notifier_config_get_secret (config, group, "auth_token", TRUE, error);
  if (self->auth_token == NULL)
    return NULL;

  from = tsq_notifier_config_get (config, group, "from", TRUE, error);
  if (from == NULL)
    return NULL;
  if (is_sid (from, "MG"))
    self->messaging_service = g_steal_pointer (&from);
  else if (tsq_twilio_is_e164 (from))
    self->from = g_steal_pointer (&from);
  else
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] from: expected an E.164 number (+15551234567) or a messaging service "
                   "SID (MG...), got “%s”",
                   group, from);
      return NULL;
    }
  self->to = tsq_notifier_config_get (config, group, "to", TRUE, error);
  if (self->to == NULL)
    return NULL;
  if (!tsq_twilio_is_e164 (self->to))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] to: expected one E.164 number (+15551234567), got “%s”", group, self->to);
      return NULL;
    }

  base_url = tsq_notifier_config_get (config, group, "base_url", FALSE, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (base_url == NULL)
    base_url = g_strdup (TSQ_TWILIO_DEFAULT_BASE_URL);
  uri = tsq_notifier_config_parse_http_url (base_url, group, "base_url", error);
  if (uri == NULL)
    return NULL;
  if (g_uri_get_query (uri) != NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] base_url: no query string allowed", group);
      return NULL;
    }
  while (g_str_has_suffix (base_url, "/"))
    base_url[strlen (base_url) - 1] = '\0';
  self->base_url = g_steal_pointer (&base_url);
  return TSQ_NOTIFIER (g_steal_pointer (&self));
}
