/* tsq-notifier-slack.c: Slack incoming webhooks. */
#define G_LOG_DOMAIN "tsq-notifier-slack"

#include <string.h>

#include "tsq-json-util.h"
#include "tsq-notifier-private.h"
#include "tsq-notifier-slack.h"

struct _TsqNotifierSlack
{
  TsqNotifier parent_instance;

  TsqSecret *url;
};

G_DEFINE_FINAL_TYPE (TsqNotifierSlack, tsq_notifier_slack, TSQ_TYPE_NOTIFIER)

char *
tsq_notifier_slack_escape (const char *text)
{
  GString *out = g_string_sized_new (strlen (text) + 16);

  for (const char *p = text; *p; p++)
    {
      switch (*p)
        {
          case '&':
            g_string_append (out, "&amp;");
            break;
          case '<':
            g_string_append (out, "&lt;");
            break;
          case '>':
            g_string_append (out, "&gt;");
            break;
          default:
            g_string_append_c (out, *p);
        }
    }
  return g_string_free (out, FALSE);
}

GBytes *
tsq_notifier_slack_build_body (const TsqNotification *notification)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *body = NULL;
  g_autofree char *message = NULL;
  char *text;

  if (notification->json != NULL && JSON_NODE_HOLDS_OBJECT (notification->json))
    {
      text = tsq_json_to_string (notification->json, FALSE);
      return g_bytes_new_take (text, strlen (text));
    }

  subject = tsq_notifier_slack_escape (notification->subject ? notification->subject : "");
  body = tsq_notifier_slack_escape (notification->body ? notification->body : "");
  if (*subject != '\0' && *body != '\0')
    message = g_strdup_printf ("*%s*\n%s", subject, body);
  else
    message = g_strdup (*subject != '\0' ? subject : body);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = tsq_json_to_string (root, FALSE);
  return g_bytes_new_take (text, strlen (text));
}

static TsqDeliveryStatus
classify_slack (
  TsqNotifier *self, SoupMessage *msg, GBytes *response, TsqDeliveryInfo *info, GError **error)
{
  TsqDeliveryStatus status = tsq_notifier_classify_http (self, msg, response, info, error);

  /* Slack answers "ok"; anything else on a 2xx is kept in info for the operator to see. */
  if (status == TSQ_DELIVERY_DELIVERED && g_strcmp0 (info->response, "ok") != 0)
    g_debug ("channel %s: Slack answered %u without “ok”", tsq_notifier_get_name (self),
             info->http_status);
  return status;
}

static void
tsq_notifier_slack_deliver (TsqNotifier *notifier,
                            TsqNotification *notification,
                            GCancellable *cancellable,
                            GTask *task)
{
  TsqNotifierSlack *self = TSQ_NOTIFIER_SLACK (notifier);
  g_autoptr (GBytes) body = tsq_notifier_slack_build_body (notification);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", tsq_secret_get_value (self->url));

  if (msg == NULL)
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_PERMANENT, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                                 "channel %s: invalid URL", tsq_notifier_get_name (notifier));
      g_object_unref (task);
      return;
    }
  soup_message_headers_replace (soup_message_get_request_headers (msg), TSQ_DELIVERY_HEADER,
                                notification->id);
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  tsq_notifier_http_send (notifier, g_steal_pointer (&msg), cancellable, task, classify_slack);
}

static void
tsq_notifier_slack_describe (TsqNotifier *notifier, GString *out)
{
  TsqNotifierSlack *self = TSQ_NOTIFIER_SLACK (notifier);
  g_autofree char *url = tsq_notifier_redact_url (tsq_secret_get_value (self->url));
  g_autofree char *source = tsq_secret_describe (self->url);

  g_string_append_printf (out, " url=%s (%s)", url, source);
}

static void
tsq_notifier_slack_finalize (GObject *object)
{
  TsqNotifierSlack *self = TSQ_NOTIFIER_SLACK (object);

  g_clear_pointer (&self->url, tsq_secret_free);
  G_OBJECT_CLASS (tsq_notifier_slack_parent_class)->finalize (object);
}

static void
tsq_notifier_slack_class_init (TsqNotifierSlackClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TsqNotifierClass *notifier_class = TSQ_NOTIFIER_CLASS (klass);

  object_class->finalize = tsq_notifier_slack_finalize;
  notifier_class->kind = "slack";
  notifier_class->deliver = tsq_notifier_slack_deliver;
  notifier_class->describe = tsq_notifier_slack_describe;
}

static void
tsq_notifier_slack_init (TsqNotifierSlack *self)
{
}

TsqNotifier *
tsq_notifier_slack_new_from_config (GKeyFile *config,
                                    const char *group,
                                    const char *name,
                                    GError **error)
{
  g_autoptr (TsqNotifierSlack) self = NULL;
  g_autoptr (GUri) uri = NULL;

  self = g_object_new (TSQ_TYPE_NOTIFIER_SLACK, "name", name, NULL);
  self->url = tsq_notifier_config_get_secret (config, group, "url", TRUE, error);
  if (self->url == NULL)
    return NULL;
  uri = tsq_notifier_config_parse_http_url (tsq_secret_get_value (self->url), group, "url", error);
  if (uri == NULL)
    return NULL;
  return TSQ_NOTIFIER (g_steal_pointer (&self));
}
