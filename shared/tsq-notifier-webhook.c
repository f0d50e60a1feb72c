/* tsq-notifier-webhook.c: signed JSON POSTs to any HTTP endpoint. */
#define G_LOG_DOMAIN "tsq-notifier-webhook"

#include <string.h>

#include "tsq-json-util.h"
#include "tsq-notifier-private.h"
#include "tsq-notifier-webhook.h"
#include "tsq-signature.h"

struct _TsqNotifierWebhook
{
  TsqNotifier parent_instance;

  TsqSecret *url; /* a URL may embed a token: kept as a secret, printed redacted */
  TsqSecret *secret;
  GPtrArray *header_names;
  GPtrArray *header_values;
};

G_DEFINE_FINAL_TYPE (TsqNotifierWebhook, tsq_notifier_webhook, TSQ_TYPE_NOTIFIER)

static const char *const reserved_headers[] = {
  "content-type",
  "content-length",
  "host",
  "transfer-encoding",
  "connection",
  "x-techscaniq-delivery",
  "idempotency-key",
  "x-techscaniq-signature",
  NULL,
};

static gboolean
is_reserved (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);

  return g_strv_contains (reserved_headers, lower);
}

GBytes *
tsq_notifier_webhook_build_body (const TsqNotification *notification)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GDateTime) created = NULL;
  g_autofree char *iso = NULL;
  char *text;

  if (notification->json != NULL)
    {
      text = tsq_json_to_string (notification->json, FALSE);
      return g_bytes_new_take (text, strlen (text));
    }

  created = g_date_time_new_from_unix_utc (notification->created_at);
  iso = created ? g_date_time_format_iso8601 (created) : NULL;
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, notification->id);
  json_builder_set_member_name (builder, "channel");
  json_builder_add_string_value (builder, notification->channel ? notification->channel : "");
  json_builder_set_member_name (builder, "subject");
  json_builder_add_string_value (builder, notification->subject ? notification->subject : "");
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, notification->body ? notification->body : "");
  if (notification->html != NULL)
    {
      json_builder_set_member_name (builder, "html");
      json_builder_add_string_value (builder, notification->html);
    }
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_string_value (builder, iso ? iso : "");
  json_builder_set_member_name (builder, "created_at_unix");
  json_builder_add_int_value (builder, notification->created_at);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = tsq_json_to_string (root, FALSE);
  return g_bytes_new_take (text, strlen (text));
}

static void
tsq_notifier_webhook_deliver (TsqNotifier *notifier,
                              TsqNotification *notification,
                              GCancellable *cancellable,
                              GTask *task)
{
  TsqNotifierWebhook *self = TSQ_NOTIFIER_WEBHOOK (notifier);
  g_autoptr (GBytes) body = tsq_notifier_webhook_build_body (notification);
  g_autoptr (SoupMessage) msg = NULL;
  SoupMessageHeaders *headers;

  msg = soup_message_new ("POST", tsq_secret_get_value (self->url));
  if (msg == NULL)
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_PERMANENT, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                                 "channel %s: invalid URL", tsq_notifier_get_name (notifier));
      g_object_unref (task);
      return;
    }
  headers = soup_message_get_request_headers (msg);
  for (guint i = 0; i < self->header_names->len; i++)
    soup_message_headers_append (headers, self->header_names->pdata[i],
                                 self->header_values->pdata[i]);
  for (guint i = 0; notification->headers && notification->headers[i]; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      if (!tsq_notifier_parse_header_line (notification->headers[i], &name, &value, &error)
          || is_reserved (name))
        {
          tsq_notifier_return_error (
            task, TSQ_DELIVERY_PERMANENT, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION,
            "channel %s: notification header %u: %s", tsq_notifier_get_name (notifier), i + 1,
            error ? error->message : "reserved header");
          g_object_unref (task);
          return;
        }
      soup_message_headers_replace (headers, name, value);
    }
  soup_message_headers_replace (headers, TSQ_DELIVERY_HEADER, notification->id);
  soup_message_headers_replace (headers, "Idempotency-Key", notification->id);
  if (self->secret != NULL)
    {
      /* Signed at each attempt: a retry an hour later must still pass a 5-minute window. */
      g_autofree char *signature = tsq_signature_header (tsq_secret_get_value (self->secret),
                                                         g_get_real_time () / G_USEC_PER_SEC, body);

      soup_message_headers_replace (headers, TSQ_SIGNATURE_HEADER, signature);
    }
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  tsq_notifier_http_send (notifier, g_steal_pointer (&msg), cancellable, task, NULL);
}

static void
tsq_notifier_webhook_describe (TsqNotifier *notifier, GString *out)
{
  TsqNotifierWebhook *self = TSQ_NOTIFIER_WEBHOOK (notifier);
  g_autofree char *url = tsq_notifier_redact_url (tsq_secret_get_value (self->url));

  g_string_append_printf (out, " url=%s", url);
  if (self->secret != NULL)
    {
      g_autofree char *secret = tsq_secret_describe (self->secret);

      g_string_append_printf (out, " secret=%s", secret);
    }
  else
    g_string_append (out, " unsigned");
  /* Header values often carry tokens (Authorization): names only. */
  for (guint i = 0; i < self->header_names->len; i++)
    g_string_append_printf (out, " header=%s: " TSQ_SECRET_REDACTED,
                            (const char *)self->header_names->pdata[i]);
}

static void
tsq_notifier_webhook_finalize (GObject *object)
{
  TsqNotifierWebhook *self = TSQ_NOTIFIER_WEBHOOK (object);

  g_clear_pointer (&self->url, tsq_secret_free);
  g_clear_pointer (&self->secret, tsq_secret_free);
  g_clear_pointer (&self->header_names, g_ptr_array_unref);
  g_clear_pointer (&self->header_values, g_ptr_array_unref);
  G_OBJECT_CLASS (tsq_notifier_webhook_parent_class)->finalize (object);
}

static void
tsq_notifier_webhook_class_init (TsqNotifierWebhookClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TsqNotifierClass *notifier_class = TSQ_NOTIFIER_CLASS (klass);

  object_class->finalize = tsq_notifier_webhook_finalize;
  notifier_class->kind = "webhook";
  notifier_class->deliver = tsq_notifier_webhook_deliver;
  notifier_class->describe = tsq_notifier_webhook_describe;
}

static void
tsq_notifier_webhook_init (TsqNotifierWebhook *self)
{
  self->header_names = g_ptr_array_new_with_free_func (g_free);
  self->header_values = g_ptr_array_new_with_free_func (g_free);
}

TsqNotifier *
tsq_notifier_webhook_new_from_config (GKeyFile *config,
                                      const char *group,
                                      const char *name,
                                      GError **error)
{
  g_autoptr (TsqNotifierWebhook) self = NULL;
  g_autoptr (GUri) uri = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) local_error = NULL;

  self = g_object_new (TSQ_TYPE_NOTIFIER_WEBHOOK, "name", name, NULL);
  self->url = tsq_notifier_config_get_secret (config, group, "url", TRUE, error);
  if (self->url == NULL)
    return NULL;
  uri = tsq_notifier_config_parse_http_url (tsq_secret_get_value (self->url), group, "url", error);
  if (uri == NULL)
    return NULL;
  self->secret = tsq_notifier_config_get_secret (config, group, "secret", FALSE, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  lines = g_key_file_has_key (config, group, "header", NULL)
            ? g_key_file_get_string_list (config, group, "header", NULL, NULL)
            : NULL;
  for (guint i = 0; lines && lines[i]; i++)
    {
      g_autofree char *header_name = NULL;
      g_autofree char *value = NULL;

      if (*g_strstrip (lines[i]) == '\0')
        continue;
      if (!tsq_notifier_parse_header_line (lines[i], &header_name, &value, &local_error))
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] header: item %u: %s", group, i + 1, local_error->message);
          return NULL;
        }
      if (is_reserved (header_name))
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] header: “%s” is set by the channel itself", group, header_name);
          return NULL;
        }
      g_ptr_array_add (self->header_names, g_steal_pointer (&header_name));
      g_ptr_array_add (self->header_values, g_steal_pointer (&value));
    }
  return TSQ_NOTIFIER (g_steal_pointer (&self));
}
