/* notifier-test.c: webhook, Slack and Twilio channels against real receivers on loopback.
 *
 * The receiver is a SoupServer in its own thread. It verifies webhook signatures with
 * tsq_signature_verify (), fails the first N webhook deliveries with 503, checks Slack's JSON
 * shape and Twilio's path, basic auth and form fields, and records every request so the tests
 * can compare what arrived with what was sent.
 */
#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tsq-json-util.h"
#include "tsq-notifier-private.h"
#include "tsq-notifier-webhook.h"
#include "tsq-secret.h"
#include "tsq-signature.h"
#include "tsq-test-agent.h"

#define WEBHOOK_SECRET "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define TWILIO_SID "AC0123456789abcdef0123456789abcdef"
#define TWILIO_TOKEN "tw1l10-t0ken-d0-n0t-l0g"
#define TWILIO_INVALID_TO "+15005550001" /* Twilio's magic "invalid number" */
#define NOTIFICATION_ID "6f1c9a52-3d4e-4b7a-9c2d-81e0f5a6b7c8"

/* -- the receiver -- */

typedef struct
{
  char *path;
  char *method;
  SoupMessageHeaders *headers;
  GBytes *body;
  gboolean signature_ok;
  char *signature_error;
} Request;

typedef struct
{
  GMutex lock;
  GPtrArray *requests;  /* Request */
  GHashTable *accepted; /* delivery ids the webhook accepted: receivers dedupe on them */
  guint webhook_failures_left;
  GPtrArray *hanging; /* paused messages, never answered */
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;
  guint16 port;
} Receiver;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_free (request->path);
  g_free (request->method);
  soup_message_headers_unref (request->headers);
  g_bytes_unref (request->body);
  g_free (request->signature_error);
  g_free (request);
}

static void
respond (SoupServerMessage *msg, guint status, const char *type, const char *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body, strlen (body));
}

static Request *
record (Receiver *self, SoupServerMessage *msg, const char *path)
{
  Request *request = g_new0 (Request, 1);
  SoupMessageHeaders *in = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  SoupMessageHeadersIter iter;
  const char *name;
  const char *value;

  request->path = g_strdup (path);
  request->method = g_strdup (soup_server_message_get_method (msg));
  request->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_iter_init (&iter, in);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    soup_message_headers_append (request->headers, name, value);
  request->body = soup_message_body_flatten (body);
  return request;
}

static void
handle_webhook (Receiver *self, SoupServerMessage *msg, Request *request, const char *path)
{
  const char *signature = soup_message_headers_get_one (request->headers, TSQ_SIGNATURE_HEADER);
  const char *id = soup_message_headers_get_one (request->headers, TSQ_DELIVERY_HEADER);
  g_autoptr (GError) error = NULL;
  gboolean fail;

  if (strcmp (path, "/hook/bad") == 0)
    {
      respond (msg, 400, "application/json", "{\"error\":\"unknown event type\"}");
      return;
    }
  if (strcmp (path, "/hook/hang") == 0)
    {
      g_ptr_array_add (self->hanging, g_object_ref (msg));
      soup_server_message_pause (msg);
      return;
    }
  if (strcmp (path, "/hook/redirect") == 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location",
                                    "/hook");
      respond (msg, 301, "text/plain", "moved");
      return;
    }

  /* /hook: signed deliveries; /hook/plain: unsigned ones. */
  if (strcmp (path, "/hook") == 0)
    {
      request->signature_ok = tsq_signature_verify (WEBHOOK_SECRET, signature, request->body,
                                                    g_get_real_time () / G_USEC_PER_SEC,
                                                    TSQ_SIGNATURE_DEFAULT_TOLERANCE_S, &error);
      if (!request->signature_ok)
        {
          request->signature_error = g_strdup (error->message);
          respond (msg, 401, "text/plain", "bad signature");
          return;
        }
    }
  fail = self->webhook_failures_left > 0;
  if (fail)
    {
      self->webhook_failures_left--;
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    "7");
      respond (msg, 503, "text/plain", "try again later");
      return;
    }
  if (id != NULL)
    g_hash_table_add (self->accepted, g_strdup (id));
  respond (msg, 200, "application/json", "{\"received\":true}");
}

static void
handle_slack (Receiver *self, SoupServerMessage *msg, Request *request, const char *path)
{
  const char *type = soup_message_headers_get_content_type (request->headers, NULL);
  g_autoptr (JsonNode) root = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (request->body, &len);
  g_autofree char *text = g_strndup (data, len);
  JsonObject *object;

  if (strcmp (path, "/slack/limited") == 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    "30");
      respond (msg, 429, "text/plain", "rate_limited");
      return;
    }
  root = tsq_json_from_string (text, NULL);
  /* Slack's rules: a JSON object with a string "text" or an array "blocks". */
  if (g_strcmp0 (type, "application/json") != 0 || root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      respond (msg, 400, "text/plain", "invalid_payload");
      return;
    }
  object = json_node_get_object (root);
  if (!(json_object_has_member (object, "text")
        && JSON_NODE_HOLDS_VALUE (json_object_get_member (object, "text"))
        && json_node_get_value_type (json_object_get_member (object, "text")) == G_TYPE_STRING)
      && tsq_json_get_array (object, "blocks") == NULL)
    {
      respond (msg, 400, "text/plain", "no_text");
      return;
    }
  respond (msg, 200, "text/plain", "ok");
}

static void
twilio_error (SoupServerMessage *msg, guint status, int code, const char *message)
{
  g_autofree char *body = g_strdup_printf (
    "{\"code\": %d, \"message\": \"%s\", \"more_info\": \"https://www.twilio.com/docs/errors/%d\", "
    "\"status\": %u}",
    code, message, code, status);

  respond (msg, status, "application/json", body);
}

static void
handle_twilio (Receiver *self, SoupServerMessage *msg, Request *request, const char *path)
{
  const char *authorization = soup_message_headers_get_one (request->headers, "Authorization");
  g_autofree char *expected_auth = NULL;
  g_autofree char *credentials = g_base64_encode ((const guchar *)TWILIO_SID ":" TWILIO_TOKEN,
                                                  strlen (TWILIO_SID ":" TWILIO_TOKEN));
  g_autoptr (GHashTable) form = NULL;
  g_autofree char *form_text = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *sid_hash = NULL;
  const char *to;
  const char *from;
  const char *text;
  gsize len = 0;
  const char *data = g_bytes_get_data (request->body, &len);

  if (strcmp (request->method, "POST") != 0
      || strcmp (path, "/2010-04-01/Accounts/" TWILIO_SID "/Messages.json") != 0)
    {
      twilio_error (msg, 404, 20404, "The requested resource was not found");
      return;
    }
  expected_auth = g_strconcat ("Basic ", credentials, NULL);
  if (g_strcmp0 (authorization, expected_auth) != 0)
    {
      twilio_error (msg, 401, 20003, "Authenticate");
      return;
    }
  if (g_strcmp0 (soup_message_headers_get_content_type (request->headers, NULL),
                 "application/x-www-form-urlencoded")
      != 0)
    {
      twilio_error (msg, 400, 20001, "Unsupported content type");
      return;
    }
  form_text = g_strndup (data, len);
  form = soup_form_decode (form_text);
  to = g_hash_table_lookup (form, "To");
  from = g_hash_table_lookup (form, "From");
  text = g_hash_table_lookup (form, "Body");
  if (to == NULL || from == NULL || text == NULL || *text == '\0')
    {
      twilio_error (msg, 400, 21602, "Message body is required.");
      return;
    }
  if (strcmp (to, TWILIO_INVALID_TO) == 0)
    {
      twilio_error (msg, 400, 21211, "The 'To' number +15005550001 is not a valid phone number.");
      return;
    }
  sid_hash = g_compute_checksum_for_string (G_CHECKSUM_MD5, text, -1);
  answer = g_strdup_printf ("{\"sid\": \"SM%s\", \"account_sid\": \"%s\", \"to\": \"%s\", "
                            "\"from\": \"%s\", \"status\": \"queued\", \"error_code\": null, "
                            "\"error_message\": null, \"num_segments\": \"1\"}",
                            sid_hash, TWILIO_SID, to, from);
  respond (msg, 201, "application/json", answer);
}

static void
handle (SoupServer *server,
        SoupServerMessage *msg,
        const char *path,
        GHashTable *query,
        gpointer user_data)
{
  Receiver *self = user_data;
  Request *request = record (self, msg, path);

  g_mutex_lock (&self->lock);
  if (g_str_has_prefix (path, "/hook"))
    handle_webhook (self, msg, request, path);
  else if (g_str_has_prefix (path, "/slack"))
    handle_slack (self, msg, request, path);
  else if (g_str_has_prefix (path, "/2010-04-01/"))
    handle_twilio (self, msg, request, path);
  else
    respond (msg, 404, "text/plain", "not found");
  g_ptr_array_add (self->requests, request);
  g_mutex_unlock (&self->lock);
}

static gpointer
receiver_thread (gpointer data)
{
  Receiver *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static Receiver *
receiver_new (void)
{
  Receiver *self = g_new0 (Receiver, 1);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  g_mutex_init (&self->lock);
  self->requests = g_ptr_array_new_with_free_func (request_free);
  self->accepted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->hanging = g_ptr_array_new_with_free_func (g_object_unref);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  g_main_context_push_thread_default (self->context);
  self->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (self->server, NULL, handle, self, NULL);
  soup_server_listen_local (self->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  g_main_context_pop_thread_default (self->context);
  uris = soup_server_get_uris (self->server);
  self->port = (guint16)g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  self->thread = g_thread_new ("receiver", receiver_thread, self);
  return self;
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
receiver_free (Receiver *self)
{
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_callback (source, quit_loop, self->loop, NULL);
  g_source_attach (source, self->context);
  g_thread_join (self->thread);
  g_main_context_push_thread_default (self->context);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  g_ptr_array_unref (self->hanging);
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_ptr_array_unref (self->requests);
  g_hash_table_unref (self->accepted);
  g_mutex_clear (&self->lock);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Receiver, receiver_free)

static char *
receiver_url (Receiver *self, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", self->port, path);
}

static guint
receiver_count (Receiver *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->requests->len;
  g_mutex_unlock (&self->lock);
  return n;
}

/* The request at index (the receiver keeps them until it is freed). */
static Request *
receiver_request (Receiver *self, guint index)
{
  Request *request;

  g_mutex_lock (&self->lock);
  g_assert_cmpuint (index, <, self->requests->len);
  request = self->requests->pdata[index];
  g_mutex_unlock (&self->lock);
  return request;
}

static char *
request_body (Request *request)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (request->body, &len);

  return g_strndup (data, len);
}

/* -- log capture: every message of every level, for the secrets test -- */

static GMutex log_lock;
static GString *log_text;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  g_mutex_lock (&log_lock);
  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0)
      g_string_append_printf (log_text, "%s=%s\n", fields[i].key, (const char *)fields[i].value);
  g_mutex_unlock (&log_lock);
  /* Criticals stay fatal (G_DEBUG=fatal-criticals); the rest is only recorded. */
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    return g_log_writer_default (level, fields, n_fields, data);
  return G_LOG_WRITER_HANDLED;
}

/* Libraries that use the old g_log () API (GIO, libsoup) reach GTest's default handler, not the
 * writer: capture those too. */
static void
capture_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s: %s\n", domain ? domain : "", message);
  g_mutex_unlock (&log_lock);
}

static char *
captured_log (void)
{
  char *copy;

  g_mutex_lock (&log_lock);
  copy = g_strdup (log_text->str);
  g_mutex_unlock (&log_lock);
  return copy;
}

/* -- helpers -- */

typedef struct
{
  GMainLoop *loop;
  TsqDeliveryStatus status;
  TsqDeliveryInfo *info;
  GError *error;
} Delivery;

static void
on_delivered (GObject *source, GAsyncResult *result, gpointer data)
{
  Delivery *delivery = data;

  delivery->status = tsq_notifier_deliver_finish (TSQ_NOTIFIER (source), result, &delivery->info,
                                                  &delivery->error);
  g_main_loop_quit (delivery->loop);
}

static TsqDeliveryStatus
deliver (TsqNotifier *notifier,
         const TsqNotification *notification,
         GCancellable *cancellable,
         TsqDeliveryInfo **info,
         GError **error)
{
  Delivery delivery = { g_main_loop_new (NULL, FALSE), 0, NULL, NULL };

  tsq_notifier_deliver_async (notifier, notification, cancellable, on_delivered, &delivery);
  g_main_loop_run (delivery.loop);
  g_main_loop_unref (delivery.loop);
  g_assert_nonnull (delivery.info);
  g_assert_cmpint (delivery.info->status, ==, delivery.status);
  /* An error exactly when not delivered. */
  g_assert_true ((delivery.error == NULL) == (delivery.status == TSQ_DELIVERY_DELIVERED));
  if (info != NULL)
    *info = delivery.info;
  else
    tsq_delivery_info_free (delivery.info);
  if (error != NULL)
    *error = delivery.error;
  else
    g_clear_error (&delivery.error);
  return delivery.status;
}

static TsqNotifier *
load (const char *ini, const char *group)
{
  g_autoptr (GKeyFile) config = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  TsqNotifier *notifier;

  g_key_file_load_from_data (config, ini, -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  notifier = tsq_notifier_new_from_config (config, group, &error);
  g_assert_no_error (error);
  g_assert_nonnull (notifier);
  return notifier;
}

static TsqNotification *
alert (void)
{
  TsqNotification *notification = tsq_notification_new (
    NOTIFICATION_ID, "Site down: example.com", "example.com answered 502 <Bad Gateway> & failed");

  notification->created_at = 1767225600; /* 2026-01-01T00:00:00Z */
  return notification;
}

/* -- webhook -- */

static void
test_webhook_retry_then_deliver (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *dir = tsq_test_make_tmpdir ();
  g_autofree char *secret_path = g_build_filename (dir, "hook.secret", NULL);
  g_autofree char *url = receiver_url (receiver, "/hook");
  g_autofree char *ini = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GError) error = NULL;
  GError *failure = NULL;
  TsqDeliveryInfo *info = NULL;

  /* The secret file ends with a newline, as `echo secret > file` leaves it. */
  g_file_set_contents_full (secret_path, WEBHOOK_SECRET "\n", -1, G_FILE_SET_CONTENTS_CONSISTENT,
                            0600, &error);
  g_assert_no_error (error);
  ini = g_strdup_printf ("[channel hook]\ntype=webhook\nurl=%s\nsecret_file=%s\n"
                         "header=X-Team: ops;X-Env: prod\n",
                         url, secret_path);
  notifier = load (ini, "channel hook");
  g_assert_cmpstr (tsq_notifier_get_name (notifier), ==, "hook");
  g_assert_cmpstr (tsq_notifier_get_kind (notifier), ==, "webhook");

  receiver->webhook_failures_left = 2;
  for (guint attempt = 0; attempt < 2; attempt++)
    {
      g_assert_cmpint (deliver (notifier, notification, NULL, &info, &failure), ==,
                       TSQ_DELIVERY_RETRYABLE);
      g_assert_error (failure, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_HTTP);
      g_assert_nonnull (strstr (failure->message, "503"));
      g_assert_cmpuint (info->http_status, ==, 503);
      g_assert_cmpint (info->retry_after_s, ==, 7);
      g_assert_cmpstr (info->response, ==, "try again later");
      g_clear_error (&failure);
      g_clear_pointer (&info, tsq_delivery_info_free);
    }
  g_assert_cmpint (deliver (notifier, notification, NULL, &info, &failure), ==,
                   TSQ_DELIVERY_DELIVERED);
  g_assert_no_error (failure);
  g_assert_cmpuint (info->http_status, ==, 200);
  g_assert_cmpint (info->retry_after_s, ==, -1);
  g_clear_pointer (&info, tsq_delivery_info_free);

  /* Three attempts arrived, all validly signed, all with the same idempotency id; the receiver
   * accepted exactly one logical notification. */
  g_assert_cmpuint (receiver_count (receiver), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      Request *request = receiver_request (receiver, i);
      g_autofree char *body = request_body (request);
      g_autoptr (JsonNode) root = tsq_json_from_string (body, NULL);
      JsonObject *object;

      g_assert_cmpstr (request->method, ==, "POST");
      g_assert_true (request->signature_ok);
      g_assert_cmpstr (soup_message_headers_get_one (request->headers, "X-TechScanIQ-Delivery"), ==,
                       NOTIFICATION_ID);
      g_assert_cmpstr (soup_message_headers_get_one (request->headers, "Idempotency-Key"), ==,
                       NOTIFICATION_ID);
      g_assert_cmpstr (soup_message_headers_get_content_type (request->headers, NULL), ==,
                       "application/json");
      g_assert_cmpstr (soup_message_headers_get_one (request->headers, "X-Team"), ==, "ops");
      g_assert_cmpstr (soup_message_headers_get_one (request->headers, "X-Env"), ==, "prod");
      g_assert_nonnull (root);
      object = json_node_get_object (root);
      g_assert_cmpstr (tsq_json_get_string (object, "id", NULL), ==, NOTIFICATION_ID);
      g_assert_cmpstr (tsq_json_get_string (object, "channel", NULL), ==, "hook");
      g_assert_cmpstr (tsq_json_get_string (object, "subject", NULL), ==, "Site down: example.com");
      g_assert_cmpstr (tsq_json_get_string (object, "text", NULL), ==,
                       "example.com answered 502 <Bad Gateway> & failed");
      g_assert_cmpstr (tsq_json_get_string (object, "created_at", NULL), ==,
                       "2026-01-01T00:00:00Z");
      g_assert_cmpint (tsq_json_get_int (object, "created_at_unix", 0), ==, 1767225600);
    }
  g_assert_cmpuint (g_hash_table_size (receiver->accepted), ==, 1);
  g_assert_true (g_hash_table_contains (receiver->accepted, NOTIFICATION_ID));
  tsq_test_rm_rf (dir);
}

static void
test_webhook_json_payload (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/hook");
  g_autofree char *ini
    = g_strdup_printf ("[channel hook]\ntype=webhook\nurl=%s\nsecret=%s\n", url, WEBHOOK_SECRET);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel hook");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GBytes) expected = NULL;
  const char *payload = "{\"event\":\"tech_added\",\"tech\":\"caf\\u00e9 \\u2615\",\"n\":[1,2]}";
  Request *request;

  notification->json = tsq_json_from_string (payload, NULL);
  notification->headers = g_strsplit ("X-Event: tech_added", "\n", -1);
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  request = receiver_request (receiver, 0);
  g_assert_true (request->signature_ok);
  /* The body is exactly the rendered payload (re-serialised), and what was signed. */
  expected = tsq_notifier_webhook_build_body (notification);
  g_assert_true (g_bytes_equal (request->body, expected));
  {
    g_autofree char *body = request_body (request);
    g_autoptr (JsonNode) root = tsq_json_from_string (body, NULL);

    g_assert_cmpstr (tsq_json_get_string (json_node_get_object (root), "tech", NULL), ==,
                     "caf\xc3\xa9 \xe2\x98\x95");
  }
  g_assert_cmpstr (soup_message_headers_get_one (request->headers, "X-Event"), ==, "tech_added");
}

static void
test_webhook_unsigned (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/hook/plain");
  g_autofree char *ini = g_strdup_printf ("[channel plain]\ntype=webhook\nurl=%s\n", url);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel plain");
  g_autoptr (TsqNotification) notification = alert ();

  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_null (
    soup_message_headers_get_one (receiver_request (receiver, 0)->headers, TSQ_SIGNATURE_HEADER));
}

static void
test_webhook_signature_rejected (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/hook");
  g_autofree char *ini
    = g_strdup_printf ("[channel hook]\ntype=webhook\nurl=%s\nsecret=not-the-secret\n", url);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel hook");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GError) error = NULL;
  Request *request;

  /* The receiver refuses a wrong signature with 401: permanent, an authentication problem. */
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, &error), ==,
                   TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_AUTH);
  request = receiver_request (receiver, 0);
  g_assert_false (request->signature_ok);
  g_assert_nonnull (strstr (request->signature_error, "does not match"));
}

static void
test_webhook_permanent_and_redirect (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *bad = receiver_url (receiver, "/hook/bad");
  g_autofree char *moved = receiver_url (receiver, "/hook/redirect");
  g_autofree char *ini = g_strdup_printf (
    "[channel bad]\ntype=webhook\nurl=%s\n\n[channel moved]\ntype=webhook\nurl=%s\n", bad, moved);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel bad");
  g_autoptr (TsqNotifier) redirected = load (ini, "channel moved");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GError) error = NULL;
  TsqDeliveryInfo *info = NULL;

  g_assert_cmpint (deliver (notifier, notification, NULL, &info, &error), ==,
                   TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_HTTP);
  g_assert_cmpuint (info->http_status, ==, 400);
  g_assert_cmpstr (info->response, ==, "{\"error\":\"unknown event type\"}");
  g_assert_nonnull (strstr (error->message, "unknown event type"));
  g_clear_pointer (&info, tsq_delivery_info_free);
  g_clear_error (&error);

  /* A redirect is not followed (the POST would become a GET): one request, permanent. */
  g_assert_cmpint (deliver (redirected, notification, NULL, &info, &error), ==,
                   TSQ_DELIVERY_PERMANENT);
  g_assert_cmpuint (info->http_status, ==, 301);
  g_assert_nonnull (strstr (error->message, "/hook"));
  g_assert_cmpuint (receiver_count (receiver), ==, 2);
  tsq_delivery_info_free (info);
}

static gboolean
cancel_now (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_webhook_timeout_and_cancel (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/hook/hang");
  g_autofree char *ini
    = g_strdup_printf ("[channel slow]\ntype=webhook\nurl=%s\ntimeout_s=0.3\n", url);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel slow");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;

  /* The receiver never answers: the notifier's own timeout ends the attempt. */
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, &error), ==,
                   TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_TIMEOUT);
  g_clear_error (&error);

  /* The caller's cancellable: retryable too (the outbox keeps the row for the next run). */
  tsq_notifier_set_timeout_ms (notifier, 600 * 1000);
  g_cancellable_cancel (cancellable);
  g_assert_cmpint (deliver (notifier, notification, cancellable, NULL, &error), ==,
                   TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_CANCELLED);
  g_clear_error (&error);
  {
    g_autoptr (GCancellable) later = g_cancellable_new ();
    g_autoptr (GSource) source = g_timeout_source_new (100);

    /* Cancelled while the request hangs, not before it starts. */
    g_source_set_callback (source, cancel_now, later, NULL);
    g_source_attach (source, NULL);
    g_assert_cmpint (deliver (notifier, notification, later, NULL, &error), ==,
                     TSQ_DELIVERY_RETRYABLE);
    g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_CANCELLED);
    g_source_destroy (source);
  }
}

static void
test_webhook_network_errors (void)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (TsqNotifier) refused = NULL;
  g_autoptr (TsqNotifier) metadata = NULL;
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ini = NULL;
  guint port;

  /* A port that was just free: nothing listens there. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);

  ini = g_strdup_printf ("[channel down]\ntype=webhook\nurl=http://127.0.0.1:%u/hook\n\n"
                         "[channel metadata]\ntype=webhook\n"
                         "url=http://169.254.169.254/latest/meta-data/\n",
                         port);
  refused = load (ini, "channel down");
  g_assert_cmpint (deliver (refused, notification, NULL, NULL, &error), ==, TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_NETWORK);
  g_clear_error (&error);

  /* Cloud metadata is refused by the default guard, before anything is sent. */
  metadata = load (ini, "channel metadata");
  g_assert_cmpint (deliver (metadata, notification, NULL, NULL, &error), ==,
                   TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS);
}

static void
test_guard_on_connect (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *ini = g_strdup_printf (
    "[channel local]\ntype=webhook\nurl=http://localhost:%u/hook/plain\n", receiver->port);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel local");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_default ();
  g_autoptr (GError) error = NULL;

  /* A host name is judged on the address DNS gives, at connect time. */
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  tsq_net_guard_add_blocked (guard, "127.0.0.0/8", &error);
  g_assert_no_error (error);
  tsq_net_guard_add_blocked (guard, "::1/128", &error);
  g_assert_no_error (error);
  tsq_notifier_set_net_guard (notifier, guard);
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, &error), ==,
                   TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS);
  g_assert_cmpuint (receiver_count (receiver), ==, 1);
}

static void
test_invalid_notification (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/hook/plain");
  g_autofree char *ini = g_strdup_printf ("[channel hook]\ntype=webhook\nurl=%s\n", url);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel hook");
  g_autoptr (TsqNotification) bad_id = tsq_notification_new ("id with spaces", "s", "b");
  g_autoptr (TsqNotification) no_id = tsq_notification_new (NULL, "s", "b");
  g_autoptr (TsqNotification) injected = alert ();
  g_autoptr (TsqNotification) reserved = alert ();
  g_autoptr (TsqNotification) not_utf8 = tsq_notification_new ("x1", "s", "caf\xe9");
  TsqNotification *cases[] = { bad_id, no_id, injected, reserved, not_utf8 };

  injected->headers = g_strsplit ("X-A: b\r\nX-Injected: yes", "|", -1);
  reserved->headers = g_strsplit ("X-TechScanIQ-Delivery: forged", "|", -1);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (deliver (notifier, cases[i], NULL, NULL, &error), ==,
                       TSQ_DELIVERY_PERMANENT);
      g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION);
    }
  g_assert_cmpuint (receiver_count (receiver), ==, 0);
}

/* -- Slack -- */

static void
test_slack (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/slack/T000/B000/XXXXSECRETXXXX");
  g_autofree char *limited = receiver_url (receiver, "/slack/limited");
  g_autofree char *ini = g_strdup_printf (
    "[channel slack-ops]\ntype=slack\nurl=%s\n\n[channel slack-busy]\ntype=slack\nurl=%s\n", url,
    limited);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel slack-ops");
  g_autoptr (TsqNotifier) busy = load (ini, "channel slack-busy");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (TsqNotification) blocks = alert ();
  g_autoptr (TsqNotification) not_object = alert ();
  g_autoptr (GError) error = NULL;
  g_autofree char *description = tsq_notifier_describe (notifier);
  TsqDeliveryInfo *info = NULL;

  /* The webhook URL is the credential: only its host is ever shown. */
  g_assert_null (strstr (description, "XXXXSECRETXXXX"));
  g_assert_nonnull (strstr (description, "http://127.0.0.1:"));

  g_assert_cmpint (deliver (notifier, notification, NULL, &info, &error), ==,
                   TSQ_DELIVERY_DELIVERED);
  g_assert_no_error (error);
  g_assert_cmpstr (info->response, ==, "ok");
  g_clear_pointer (&info, tsq_delivery_info_free);
  {
    Request *request = receiver_request (receiver, 0);
    g_autofree char *body = request_body (request);
    g_autoptr (JsonNode) root = tsq_json_from_string (body, NULL);

    /* Slack's escaping of & < > and the bold subject line. */
    g_assert_cmpstr (tsq_json_get_string (json_node_get_object (root), "text", NULL), ==,
                     "*Site down: example.com*\nexample.com answered 502 &lt;Bad Gateway&gt; "
                     "&amp; failed");
    g_assert_cmpstr (request->path, ==, "/slack/T000/B000/XXXXSECRETXXXX");
  }

  /* A message rendered by the Slack templates (blocks) goes out as is. */
  blocks->json = tsq_json_from_string (
    "{\"text\":\"fallback\",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\","
    "\"text\":\"*down*\"}}]}",
    NULL);
  g_assert_cmpint (deliver (notifier, blocks, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  {
    g_autofree char *body = request_body (receiver_request (receiver, 1));
    g_autoptr (JsonNode) root = tsq_json_from_string (body, NULL);

    g_assert_cmpuint (
      json_array_get_length (tsq_json_get_array (json_node_get_object (root), "blocks")), ==, 1);
  }

  /* A non-object payload falls back to the text form; the receiver still accepts it. */
  not_object->json = json_node_init_int (json_node_alloc (), 5);
  g_assert_cmpint (deliver (notifier, not_object, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);

  /* 429 with Retry-After: retryable, and the delay is passed on. */
  g_assert_cmpint (deliver (busy, notification, NULL, &info, &error), ==, TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_HTTP);
  g_assert_cmpuint (info->http_status, ==, 429);
  g_assert_cmpint (info->retry_after_s, ==, 30);
  tsq_delivery_info_free (info);
}

/* -- Twilio -- */

static char *
twilio_ini (Receiver *receiver, const char *token, const char *to)
{
  g_autofree char *base = receiver_url (receiver, "/");

  return g_strdup_printf ("[channel pager]\ntype=twilio\nbase_url=%s\naccount_sid=" TWILIO_SID
                          "\nauth_token=%s\nfrom=+15551230000\nto=%s\n",
                          base, token, to);
}

static void
test_twilio (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *ini = twilio_ini (receiver, TWILIO_TOKEN, "+15557654321");
  g_autofree char *invalid_ini = twilio_ini (receiver, TWILIO_TOKEN, TWILIO_INVALID_TO);
  g_autofree char *wrong_ini = twilio_ini (receiver, "wrong-token", "+15557654321");
  g_autoptr (TsqNotifier) notifier = load (ini, "channel pager");
  g_autoptr (TsqNotifier) invalid = load (invalid_ini, "channel pager");
  g_autoptr (TsqNotifier) wrong = load (wrong_ini, "channel pager");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (TsqNotification) long_sms = alert ();
  g_autofree char *expected_sid = NULL;
  g_autofree char *body_md5 = NULL;
  g_autoptr (GError) error = NULL;
  TsqDeliveryInfo *info = NULL;

  g_assert_cmpint (deliver (notifier, notification, NULL, &info, &error), ==,
                   TSQ_DELIVERY_DELIVERED);
  g_assert_no_error (error);
  g_assert_cmpuint (info->http_status, ==, 201);
  /* The receiver derives the SID from the Body it decoded: equal only if the text arrived. */
  body_md5 = g_compute_checksum_for_string (G_CHECKSUM_MD5, notification->body, -1);
  expected_sid = g_strconcat ("SM", body_md5, NULL);
  g_assert_cmpstr (info->provider_id, ==, expected_sid);
  g_clear_pointer (&info, tsq_delivery_info_free);
  {
    Request *request = receiver_request (receiver, 0);
    g_autofree char *body = request_body (request);
    g_autoptr (GHashTable) form = soup_form_decode (body);

    g_assert_cmpstr (request->path, ==, "/2010-04-01/Accounts/" TWILIO_SID "/Messages.json");
    g_assert_cmpstr (g_hash_table_lookup (form, "To"), ==, "+15557654321");
    g_assert_cmpstr (g_hash_table_lookup (form, "From"), ==, "+15551230000");
    g_assert_cmpstr (g_hash_table_lookup (form, "Body"), ==, notification->body);
  }

  /* Twilio's 21211 (invalid To): permanent, and the code is in the message. */
  g_assert_cmpint (deliver (invalid, notification, NULL, &info, &error), ==,
                   TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_REJECTED);
  g_assert_nonnull (strstr (error->message, "21211"));
  g_assert_nonnull (strstr (error->message, "not a valid phone number"));
  g_assert_cmpuint (info->http_status, ==, 400);
  g_clear_pointer (&info, tsq_delivery_info_free);
  g_clear_error (&error);

  /* A wrong token: 401, permanent, an authentication error. */
  g_assert_cmpint (deliver (wrong, notification, NULL, NULL, &error), ==, TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "20003"));
  g_clear_error (&error);

  /* SMS text is cut to 1,600 characters (counted in characters, not bytes). */
  g_free (long_sms->body);
  {
    GString *text = g_string_new (NULL);

    for (guint i = 0; i < 2000; i++)
      g_string_append (text, "\xc3\xa9"); /* é */
    long_sms->body = g_string_free (text, FALSE);
  }
  g_assert_cmpint (deliver (notifier, long_sms, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  {
    g_autofree char *body = request_body (receiver_request (receiver, 3));
    g_autoptr (GHashTable) form = soup_form_decode (body);
    const char *sent = g_hash_table_lookup (form, "Body");

    g_assert_cmpint (g_utf8_strlen (sent, -1), ==, 1600);
    g_assert_true (g_str_has_suffix (sent, "\xc3\xa9\xe2\x80\xa6"));
  }
}

/* -- rate limit -- */

static void
test_rate_limit (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *url = receiver_url (receiver, "/hook/plain");
  g_autofree char *other_url = receiver_url (receiver, "/hook/plain");
  g_autofree char *ini
    = g_strdup_printf ("[channel slow]\ntype=webhook\nurl=%s\nrate_per_minute=2\nburst=2\n\n"
                       "[channel other]\ntype=webhook\nurl=%s\nrate_per_minute=2\nburst=1\n",
                       url, other_url);
  g_autoptr (TsqNotifier) notifier = load (ini, "channel slow");
  g_autoptr (TsqNotifier) other = load (ini, "channel other");
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GError) error = NULL;
  TsqDeliveryInfo *info = NULL;

  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  /* The third within the same minute: refused locally, with when to come back (a token per
   * 30 s; a little of it may already have refilled). */
  g_assert_cmpint (deliver (notifier, notification, NULL, &info, &error), ==,
                   TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_RATE_LIMITED);
  g_assert_cmpint (info->retry_after_s, >=, 1);
  g_assert_cmpint (info->retry_after_s, <=, 30);
  g_assert_cmpuint (info->http_status, ==, 0);
  g_clear_pointer (&info, tsq_delivery_info_free);
  g_assert_cmpuint (receiver_count (receiver), ==, 2);

  /* Buckets are per channel. */
  g_assert_cmpint (deliver (other, notification, NULL, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_cmpuint (receiver_count (receiver), ==, 3);

  /* 0 = unlimited. */
  tsq_notifier_set_rate_limit (notifier, 0, 1);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint (deliver (notifier, notification, NULL, NULL, NULL), ==,
                     TSQ_DELIVERY_DELIVERED);
  g_assert_cmpuint (receiver_count (receiver), ==, 8);
}

/* -- secrets -- */

static void
test_secrets_never_printed (void)
{
  g_autoptr (Receiver) receiver = receiver_new ();
  g_autofree char *dir = tsq_test_make_tmpdir ();
  g_autofree char *token_path = g_build_filename (dir, "twilio.token", NULL);
  g_autofree char *open_path = g_build_filename (dir, "world-readable.secret", NULL);
  g_autofree char *hook = receiver_url (receiver, "/hook");
  g_autofree char *base = receiver_url (receiver, "/");
  g_autofree char *ini = NULL;
  g_autoptr (GKeyFile) config = g_key_file_new ();
  g_autoptr (GPtrArray) notifiers = NULL;
  g_autoptr (TsqNotification) notification = alert ();
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;
  GString *outputs = g_string_new (NULL);
  const char *const secrets[]
    = { WEBHOOK_SECRET, TWILIO_TOKEN, "wr0ng-t0ken-in-env", "0pen-f1le-s3cret" };

  g_file_set_contents_full (token_path, "  " TWILIO_TOKEN "  \nsecond line ignored\n", -1,
                            G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
  g_assert_no_error (error);
  g_file_set_contents_full (open_path, "0pen-f1le-s3cret", -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                            &error);
  g_assert_no_error (error);
  g_setenv ("TSQ_TEST_HOOK_SECRET", WEBHOOK_SECRET, TRUE);
  g_setenv ("TSQ_TEST_WRONG_TOKEN", "wr0ng-t0ken-in-env", TRUE);
  ini = g_strdup_printf (
    "[agent]\nname=x\n\n"
    "[channel hook]\ntype=webhook\nurl=%s\nsecret_env=TSQ_TEST_HOOK_SECRET\n"
    "header=Authorization: Bearer " WEBHOOK_SECRET "\n\n"
    "[channel pager]\ntype=twilio\nbase_url=%s\naccount_sid=" TWILIO_SID
    "\nauth_token_file=%s\nfrom=+15551230000\nto=+15557654321\n\n"
    "[channel pager-wrong]\ntype=twilio\nbase_url=%s\naccount_sid=" TWILIO_SID
    "\nauth_token_env=TSQ_TEST_WRONG_TOKEN\nfrom=+15551230000\nto=+15557654321\n\n"
    "[channel open]\ntype=webhook\nurl=%s\nsecret_file=%s\n",
    hook, base, token_path, base, hook, open_path);
  g_key_file_load_from_data (config, ini, -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);

  g_mutex_lock (&log_lock);
  g_string_truncate (log_text, 0);
  g_mutex_unlock (&log_lock);

  notifiers = tsq_notifier_load_all (config, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (notifiers->len, ==, 4);
  for (guint i = 0; i < notifiers->len; i++)
    {
      TsqNotifier *notifier = notifiers->pdata[i];
      g_autofree char *description = tsq_notifier_describe (notifier);
      TsqDeliveryInfo *info = NULL;
      GError *failure = NULL;
      TsqDeliveryStatus status = deliver (notifier, notification, NULL, &info, &failure);

      g_string_append_printf (outputs, "%s\n%s\n%s\n", description, failure ? failure->message : "",
                              info->response ? info->response : "");
      /* The secrets really were used: the signed hook and the right token got through. */
      if (g_str_equal (tsq_notifier_get_name (notifier), "pager-wrong"))
        g_assert_cmpint (status, ==, TSQ_DELIVERY_PERMANENT);
      else if (g_str_equal (tsq_notifier_get_name (notifier), "open"))
        g_assert_cmpint (status, ==, TSQ_DELIVERY_PERMANENT); /* signed with the wrong secret */
      else
        g_assert_cmpint (status, ==, TSQ_DELIVERY_DELIVERED);
      g_clear_error (&failure);
      tsq_delivery_info_free (info);
    }
  /* The custom Authorization header arrived, with its value. */
  g_assert_cmpstr (
    soup_message_headers_get_one (receiver_request (receiver, 0)->headers, "Authorization"), ==,
    "Bearer " WEBHOOK_SECRET);

  log = captured_log ();
  /* The capture works: it saw the deliveries and the warning about the open file, which names
   * the file, not its content. */
  g_assert_nonnull (strstr (log, "notification " NOTIFICATION_ID " delivered"));
  g_assert_nonnull (strstr (log, "readable by every user"));
  g_assert_nonnull (strstr (log, open_path));
  g_assert_nonnull (strstr (outputs->str, "(from $TSQ_TEST_HOOK_SECRET)"));
  g_assert_nonnull (strstr (outputs->str, token_path));
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    {
      g_assert_null (strstr (log, secrets[i]));
      g_assert_null (strstr (outputs->str, secrets[i]));
    }

  /* tsq-secret itself. */
  {
    g_autoptr (TsqSecret) secret = tsq_secret_new ("hunter2");
    g_autoptr (TsqSecret) copy = tsq_secret_copy (secret);
    g_autofree char *described = tsq_secret_describe (copy);

    g_assert_cmpstr (tsq_secret_get_value (copy), ==, "hunter2");
    g_assert_cmpstr (described, ==, "*** (inline)");
    g_assert_cmpstr (tsq_secret_redact (secret), ==, "***");
    g_assert_true (tsq_secret_is_key_for ("password_env", "password"));
    g_assert_false (tsq_secret_is_key_for ("password_envx", "password"));
  }

  g_string_free (outputs, TRUE);
  g_unsetenv ("TSQ_TEST_HOOK_SECRET");
  g_unsetenv ("TSQ_TEST_WRONG_TOKEN");
  tsq_test_rm_rf (dir);
}

/* -- config validation -- */

static void
test_config_errors (void)
{
  static const struct
  {
    const char *ini;
    const char *expected; /* substring of the message: names the group and the key */
  } cases[] = {
    { "[channel x]\nurl=http://h/\n", "[channel x] type: missing" },
    { "[channel x]\ntype=pigeon\n", "[channel x] type: unknown channel type" },
    { "[channel x]\ntype=webhook\n", "[channel x] url: missing" },
    { "[channel x]\ntype=webhook\nurl=ftp://h/\n", "[channel x] url: only http" },
    { "[channel x]\ntype=webhook\nurl=not a url\n", "[channel x] url: not a valid URL" },
    { "[channel x]\ntype=webhook\nurl=http://u:p@h/\n", "[channel x] url: credentials" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nsecert=abc\n", "[channel x] secert: unknown key" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nsecret=a\nsecret_env=B\n",
      "[channel x] secret: give only one" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nsecret_env=TSQ_TEST_UNSET_VARIABLE\n",
      "[channel x] secret_env: environment variable TSQ_TEST_UNSET_VARIABLE is not set" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nsecret_file=/nonexistent/secret\n",
      "[channel x] secret_file: cannot open /nonexistent/secret" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nsecret_file=relative/path\n",
      "[channel x] secret_file: “relative/path” is not an absolute path" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nsecret_file=/tmp\n",
      "[channel x] secret_file: /tmp is not a regular file" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nheader=NoColon\n", "[channel x] header: item 1" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nheader=Content-Type: text/plain\n",
      "[channel x] header: “Content-Type” is set by the channel" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nheader=X-A: 1\nheader=X-B: 2\n",
      "[channel x] header: repeated key" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nrate_per_minute=fast\n",
      "[channel x] rate_per_minute: expected a number" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nrate_per_minute=-1\n",
      "[channel x] rate_per_minute: expected a number" },
    { "[channel x]\ntype=webhook\nurl=http://h/\ntimeout_s=0\n", "[channel x] timeout_s" },
    { "[channel x]\ntype=webhook\nurl=http://h/\nca_file=/nonexistent.pem\n",
      "[channel x] ca_file" },
    { "[channel x]\ntype=slack\n", "[channel x] url: missing" },
    { "[channel x]\ntype=slack\nurl=http://h/\nsecret=a\n", "[channel x] secret: unknown key" },
    { "[channel x]\ntype=twilio\nauth_token=t\nfrom=+15551230000\nto=+15551230001\n",
      "[channel x] account_sid: missing" },
    { "[channel x]\ntype=twilio\naccount_sid=AC123\nauth_token=t\nfrom=+15551230000\n"
      "to=+15551230001\n",
      "[channel x] account_sid: expected" },
    { "[channel x]\ntype=twilio\naccount_sid=" TWILIO_SID "\nfrom=+15551230000\nto=+15551230001\n",
      "[channel x] auth_token: missing" },
    { "[channel x]\ntype=twilio\naccount_sid=" TWILIO_SID
      "\nauth_token=t\nfrom=5551230000\nto=+15551230001\n",
      "[channel x] from: expected an E.164" },
    { "[channel x]\ntype=twilio\naccount_sid=" TWILIO_SID
      "\nauth_token=t\nfrom=+15551230000\nto=+1555,+1666\n",
      "[channel x] to: expected one E.164" },
    { "[channel x]\ntype=twilio\naccount_sid=" TWILIO_SID
      "\nauth_token=t\nfrom=+15551230000\nto=+15551230001\nbase_url=gopher://h\n",
      "[channel x] base_url: only http" },
    { "[channel x]\ntype=email\nfrom=a@b.c\nto=d@e.f\n", "[channel x] smtp_url: missing" },
    { "[channel x]\ntype=email\nsmtp_url=http://h\nfrom=a@b.c\nto=d@e.f\n",
      "[channel x] smtp_url: expected smtp://" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://u:p@h\nfrom=a@b.c\nto=d@e.f\n",
      "[channel x] smtp_url: put credentials" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nstarttls=maybe\nfrom=a@b.c\nto=d@e.f\n",
      "[channel x] starttls: expected required, try or none" },
    { "[channel x]\ntype=email\nsmtp_url=smtps://h\nstarttls=none\nfrom=a@b.c\nto=d@e.f\n",
      "[channel x] starttls: smtps:// is always TLS" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nusername=u\nfrom=a@b.c\nto=d@e.f\n",
      "[channel x] password: missing" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\npassword=p\nfrom=a@b.c\nto=d@e.f\n",
      "[channel x] username: missing" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nstarttls=try\nusername=u\npassword=p\n"
      "from=a@b.c\nto=d@e.f\n",
      "[channel x] starttls: the password could travel unencrypted" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nfrom=not-an-address\nto=d@e.f\n",
      "[channel x] from: “not-an-address” is not an email address" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nfrom=a@b.c\nto=d@e.f,bad address\n",
      "[channel x] to: “bad address” is not an email address" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nfrom=a@b.c\nto= , \n",
      "[channel x] to: no recipient" },
    { "[channel x]\ntype=email\nsmtp_url=smtp://h\nfrom=a@b.c\nto=d@e.f\nallow_insecure_auth=yes\n",
      "[channel x] allow_insecure_auth" },
    { "[channel]\ntype=webhook\nurl=http://h/\n", "[channel]: a channel group is named" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GKeyFile) config = g_key_file_new ();
      g_autoptr (GError) error = NULL;
      g_auto (GStrv) groups = NULL;
      g_autoptr (TsqNotifier) notifier = NULL;

      g_key_file_load_from_data (config, cases[i].ini, -1, G_KEY_FILE_NONE, &error);
      g_assert_no_error (error);
      groups = g_key_file_get_groups (config, NULL);
      notifier = tsq_notifier_new_from_config (config, groups[0], &error);
      if (notifier != NULL || error == NULL || strstr (error->message, cases[i].expected) == NULL)
        g_error ("case %u: expected an error with “%s”, got “%s”", i, cases[i].expected,
                 error ? error->message : "(success)");
      g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG);
    }

  /* And the good forms, with every optional key. */
  {
    g_autoptr (GKeyFile) config = g_key_file_new ();
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) all = NULL;
    g_autofree char *description = NULL;
    const char *ini
      = "[channel hook]\ntype=webhook\nurl=https://hooks.example.com/a?token=t0k3n\n"
        "rate_per_minute=10\nburst=3\ntimeout_s=2.5\n\n"
        "[channel mail]\ntype=email\nsmtp_url=smtps://mail.example.com:465\nusername=alerts\n"
        "password=pw\nfrom=alerts@example.com\nfrom_name=TechScanIQ\nto=a@example.com; "
        "b@example.com\n\n"
        "[channel sms]\ntype=twilio\naccount_sid=" TWILIO_SID "\nauth_token=t\n"
        "from=MG0123456789abcdef0123456789abcdef\nto=+447700900123\n";

    g_key_file_load_from_data (config, ini, -1, G_KEY_FILE_NONE, &error);
    g_assert_no_error (error);
    all = tsq_notifier_load_all (config, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (all->len, ==, 3);
    description = tsq_notifier_describe (all->pdata[0]);
    g_assert_cmpstr (description, ==,
                     "webhook “hook”: url=https://hooks.example.com/*** unsigned rate=10/min "
                     "burst=3 timeout=2.5s");
    g_clear_pointer (&description, g_free);
    description = tsq_notifier_describe (all->pdata[1]);
    g_assert_cmpstr (description, ==,
                     "email “mail”: smtp_url=smtps://mail.example.com:465 username=alerts "
                     "password=*** (inline) from=alerts@example.com "
                     "to=a@example.com,b@example.com rate=60/min burst=10 timeout=30s");
    g_clear_pointer (&description, g_free);
    description = tsq_notifier_describe (all->pdata[2]);
    g_assert_nonnull (strstr (description, "auth_token=*** (inline)"));
    g_assert_nonnull (strstr (description, "from=MG0123456789abcdef0123456789abcdef"));
  }
}

static void
test_retry_after_parsing (void)
{
  g_assert_cmpint (tsq_notifier_parse_retry_after (NULL, 0), ==, -1);
  g_assert_cmpint (tsq_notifier_parse_retry_after ("120", 0), ==, 120);
  g_assert_cmpint (tsq_notifier_parse_retry_after (" 0 ", 0), ==, 0);
  g_assert_cmpint (tsq_notifier_parse_retry_after ("99999999", 0), ==, 86400);
  g_assert_cmpint (tsq_notifier_parse_retry_after ("soon", 0), ==, -1);
  g_assert_cmpint (tsq_notifier_parse_retry_after ("12abc", 0), ==, -1);
  /* An HTTP date: 2026-01-01 00:01:40 GMT is 100 s after 1767225600. */
  g_assert_cmpint (tsq_notifier_parse_retry_after ("Thu, 01 Jan 2026 00:01:40 GMT", 1767225600), ==,
                   100);
  g_assert_cmpint (tsq_notifier_parse_retry_after ("Thu, 01 Jan 2026 00:01:40 GMT", 1767229999), ==,
                   0);
}

int
main (int argc, char **argv)
{
  int status;

  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_test_init (&argc, &argv, NULL);
  log_text = g_string_new (NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_log_set_default_handler (capture_handler, NULL);

  g_test_add_func ("/tsq/notifier/webhook/retry-then-deliver", test_webhook_retry_then_deliver);
  g_test_add_func ("/tsq/notifier/webhook/json-payload", test_webhook_json_payload);
  g_test_add_func ("/tsq/notifier/webhook/unsigned", test_webhook_unsigned);
  g_test_add_func ("/tsq/notifier/webhook/signature-rejected", test_webhook_signature_rejected);
  g_test_add_func ("/tsq/notifier/webhook/permanent-and-redirect",
                   test_webhook_permanent_and_redirect);
  g_test_add_func ("/tsq/notifier/webhook/timeout-and-cancel", test_webhook_timeout_and_cancel);
  g_test_add_func ("/tsq/notifier/webhook/network-errors", test_webhook_network_errors);
  g_test_add_func ("/tsq/notifier/webhook/guard-on-connect", test_guard_on_connect);
  g_test_add_func ("/tsq/notifier/invalid-notification", test_invalid_notification);
  g_test_add_func ("/tsq/notifier/slack", test_slack);
  g_test_add_func ("/tsq/notifier/twilio", test_twilio);
  g_test_add_func ("/tsq/notifier/rate-limit", test_rate_limit);
  g_test_add_func ("/tsq/notifier/secrets-never-printed", test_secrets_never_printed);
  g_test_add_func ("/tsq/notifier/config-errors", test_config_errors);
  g_test_add_func ("/tsq/notifier/retry-after", test_retry_after_parsing);
  status = g_test_run ();
  g_string_free (log_text, TRUE);
  return status;
}
