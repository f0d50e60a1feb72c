/* notifier-email-test.c: the email channel against a real SMTP server on loopback.
 *
 * The server is tests/smtp-receiver.py (Debian's python3-aiosmtpd): STARTTLS required + AUTH,
 * implicit TLS + AUTH, and a plain listener, with the test certificate of tests/data. It
 * writes each accepted message as .eml plus a .json of what Python's email package parsed,
 * so headers, MIME structure and encodings are checked by an independent implementation.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "tsq-json-util.h"
#include "tsq-notifier-email.h"
#include "tsq-notifier.h"
#include "tsq-test-agent.h"

#define SMTP_USER "alerts"
#define SMTP_PASSWORD "smtp-p4ss-n0t-f0r-l0gs"
#define MESSAGE_ID_BASE "3b7f1c2e-9a4d-4e6b-8c1f-0d2e3f4a5b6c"

typedef struct
{
  GSubprocess *process;
  char *dir;
  char *outdir;
  guint16 port_starttls;
  guint16 port_implicit;
  guint16 port_plain;
  guint seen; /* messages already looked at */
} Smtp;

static Smtp *smtp;

static guint16
free_port (void)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* A Python that can import aiosmtpd: $TSQ_PYTHON, Debian's /usr/bin/python3, then PATH's. */
static char *
find_python (void)
{
  const char *candidates[] = { g_getenv ("TSQ_PYTHON"), "/usr/bin/python3", NULL };
  g_autofree char *in_path = g_find_program_in_path ("python3");

  candidates[2] = in_path;
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      int status = -1;
      const char *argv[] = { candidates[i], "-c", "import aiosmtpd", NULL };

      if (candidates[i] == NULL || !g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
        continue;
      if (g_spawn_sync (NULL, (char **)argv, NULL,
                        G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL,
                        NULL, &status, NULL)
          && g_spawn_check_wait_status (status, NULL))
        return g_strdup (candidates[i]);
    }
  return NULL;
}

/* Starts the receiver once for all cases; FALSE (and the case fails) if it cannot run. */
static gboolean
smtp_start (void)
{
  g_autofree char *python = NULL;
  g_autofree char *script = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;

  if (smtp != NULL)
    return TRUE;
  python = find_python ();
  if (python == NULL)
    {
      g_test_fail_printf ("python3-aiosmtpd is not installed: the SMTP test server needs it "
                          "(apt-get install python3-aiosmtpd, or tools/install-deps.sh --tests)");
      return FALSE;
    }
  script = g_test_build_filename (G_TEST_DIST, "smtp-receiver.py", NULL);
  cert = g_test_build_filename (G_TEST_DIST, "data", "server.pem", NULL);
  key = g_test_build_filename (G_TEST_DIST, "data", "server-key.pem", NULL);

  /* A port picked free may be taken before Python binds it: try a few sets. */
  for (guint attempt = 0; attempt < 5; attempt++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GDataInputStream) out = NULL;
      g_autofree char *line = NULL;
      g_autofree char *p1 = NULL;
      g_autofree char *p2 = NULL;
      g_autofree char *p3 = NULL;
      Smtp *candidate = g_new0 (Smtp, 1);

      candidate->dir = tsq_test_make_tmpdir ();
      candidate->outdir = g_build_filename (candidate->dir, "mail", NULL);
      g_mkdir (candidate->outdir, 0700);
      candidate->port_starttls = free_port ();
      candidate->port_implicit = free_port ();
      candidate->port_plain = free_port ();
      p1 = g_strdup_printf ("%u", candidate->port_starttls);
      p2 = g_strdup_printf ("%u", candidate->port_implicit);
      p3 = g_strdup_printf ("%u", candidate->port_plain);
      /* stdin is a pipe the receiver watches: when this process dies, the server goes too. */
      candidate->process = g_subprocess_new (
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, python, script,
        "--dir", candidate->outdir, "--cert", cert, "--key", key, "--user", SMTP_USER, "--password",
        SMTP_PASSWORD, "--port-starttls", p1, "--port-implicit", p2, "--port-plain", p3, NULL);
      g_assert_no_error (error);
      out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (candidate->process));
      line = g_data_input_stream_read_line (out, NULL, NULL, &error);
      if (g_strcmp0 (line, "READY") == 0)
        {
          smtp = candidate;
          return TRUE;
        }
      g_subprocess_wait (candidate->process, NULL, NULL);
      g_object_unref (candidate->process);
      tsq_test_rm_rf (candidate->dir);
      g_free (candidate->dir);
      g_free (candidate->outdir);
      g_free (candidate);
    }
  g_test_fail_printf ("the SMTP test server (%s) did not start", script);
  return FALSE;
}

static void
smtp_stop (void)
{
  if (smtp == NULL)
    return;
  g_output_stream_close (g_subprocess_get_stdin_pipe (smtp->process), NULL, NULL);
  g_subprocess_wait (smtp->process, NULL, NULL);
  g_object_unref (smtp->process);
  tsq_test_rm_rf (smtp->dir);
  g_free (smtp->dir);
  g_free (smtp->outdir);
  g_clear_pointer (&smtp, g_free);
}

static guint
count_messages (void)
{
  g_autoptr (GDir) dir = g_dir_open (smtp->outdir, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".json"))
      n++;
  return n;
}

/* The parsed summary of message number n (1-based) and, optionally, its raw bytes. */
static JsonNode *
read_summary (guint n, GBytes **raw)
{
  g_autofree char *name = g_strdup_printf ("%04u.json", n);
  g_autofree char *path = g_build_filename (smtp->outdir, name, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  if (raw != NULL)
    {
      g_autofree char *eml = g_strdup_printf ("%04u.eml", n);
      g_autofree char *eml_path = g_build_filename (smtp->outdir, eml, NULL);
      char *data = NULL;
      gsize len = 0;

      g_file_get_contents (eml_path, &data, &len, &error);
      g_assert_no_error (error);
      *raw = g_bytes_new_take (data, len);
    }
  return tsq_json_from_string (text, NULL);
}

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
         TsqDeliveryInfo **info,
         GError **error)
{
  Delivery delivery = { g_main_loop_new (NULL, FALSE), 0, NULL, NULL };

  tsq_notifier_deliver_async (notifier, notification, NULL, on_delivered, &delivery);
  g_main_loop_run (delivery.loop);
  g_main_loop_unref (delivery.loop);
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

/* An email channel; extra is appended to the group (starttls=..., to=..., ...). */
static TsqNotifier *
email_channel (const char *url, const char *extra)
{
  g_autofree char *ca = g_test_build_filename (G_TEST_DIST, "data", "ca.pem", NULL);
  /* The test CA, unless the case brings its own ca_file. */
  g_autofree char *ca_line
    = strstr (extra, "ca_file=") ? g_strdup ("") : g_strdup_printf ("ca_file=%s\n", ca);
  g_autofree char *ini = g_strdup_printf ("[channel mail]\ntype=email\nsmtp_url=%s\n"
                                          "from=alerts@techscaniq.test\ntimeout_s=20\n%s%s",
                                          url, ca_line, extra);
  g_autoptr (GKeyFile) config = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  TsqNotifier *notifier;

  g_key_file_load_from_data (config, ini, -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  notifier = tsq_notifier_new_from_config (config, "channel mail", &error);
  g_assert_no_error (error);
  return notifier;
}

static char *
url_for (const char *scheme, guint16 port)
{
  return g_strdup_printf ("%s://127.0.0.1:%u", scheme, port);
}

/* Python returns text with the line ends it found; compare without CRs and the final one. */
static char *
normalise (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    if (*p != '\r')
      g_string_append_c (out, *p);
  if (out->len > 0 && out->str[out->len - 1] == '\n')
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}

static void
test_starttls_auth_multipart (void)
{
  g_autofree char *url = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqNotification) notification = NULL;
  g_autoptr (JsonNode) first = NULL;
  g_autoptr (JsonNode) second = NULL;
  g_autoptr (GBytes) first_raw = NULL;
  g_autoptr (GBytes) second_raw = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *long_line = NULL;
  g_autofree char *body = NULL;
  TsqDeliveryInfo *info = NULL;
  JsonObject *summary;
  JsonArray *parts;
  const char *subject = "\xc3\x84nderung erkannt: caf\xc3\xa9.example \xe2\x80\x94 "
                        "\xe8\xa8\xbc\xe6\x98\x8e\xe6\x9b\xb8 expires in 13 days, renew the "
                        "certificate before it is too late";
  guint before;

  if (!smtp_start ())
    return;
  before = count_messages ();
  g_setenv ("TSQ_TEST_SMTP_PASS", SMTP_PASSWORD, TRUE);
  url = url_for ("smtp", smtp->port_starttls);
  notifier = email_channel (url, "starttls=required\nusername=" SMTP_USER
                                 "\npassword_env=TSQ_TEST_SMTP_PASS\n"
                                 "from_name=TechScanIQ Monitor\n"
                                 "to=ops@example.com, oncall@example.com\n");

  long_line = g_strnfill (200, 'x');
  body = g_strdup_printf ("Certificate of caf\xc3\xa9.example expires on 2026-01-14.\n"
                          ".a line starting with a dot\n%s\nend with = sign and trailing space \n",
                          long_line);
  notification = tsq_notification_new (MESSAGE_ID_BASE, subject, body);
  notification->html = g_strdup ("<p>Certificate of <b>caf\xc3\xa9.example</b> expires "
                                 "soon.</p>\n<p>=3D is not an escape here</p>");
  notification->created_at = 1767225600;

  g_assert_cmpint (deliver (notifier, notification, &info, &error), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_no_error (error);
  g_assert_cmpuint (info->http_status, ==, 250);
  g_assert_cmpstr (info->provider_id, ==, "<" MESSAGE_ID_BASE "@techscaniq.test>");
  g_clear_pointer (&info, tsq_delivery_info_free);
  g_assert_cmpuint (count_messages (), ==, before + 1);

  first = read_summary (before + 1, &first_raw);
  summary = json_node_get_object (first);
  g_assert_cmpstr (tsq_json_get_string (summary, "mode", NULL), ==, "starttls");
  g_assert_true (tsq_json_get_boolean (summary, "tls", FALSE));
  g_assert_cmpstr (tsq_json_get_string (summary, "login", NULL), ==, SMTP_USER);
  g_assert_cmpstr (tsq_json_get_string (summary, "mail_from", NULL), ==, "alerts@techscaniq.test");
  g_assert_cmpuint (json_array_get_length (tsq_json_get_array (summary, "rcpt_tos")), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (tsq_json_get_array (summary, "rcpt_tos"), 0), ==,
                   "ops@example.com");
  g_assert_cmpstr (json_array_get_string_element (tsq_json_get_array (summary, "rcpt_tos"), 1), ==,
                   "oncall@example.com");
  g_assert_cmpstr (json_array_get_string_element (tsq_json_get_array (summary, "to"), 1), ==,
                   "oncall@example.com");
  /* Headers, as decoded by Python: the UTF-8 subject survives RFC 2047 intact. */
  g_assert_cmpstr (tsq_json_get_string (summary, "subject", NULL), ==, subject);
  g_assert_cmpstr (tsq_json_get_string (summary, "from_name", NULL), ==, "TechScanIQ Monitor");
  g_assert_cmpstr (tsq_json_get_string (summary, "from_address", NULL), ==,
                   "alerts@techscaniq.test");
  g_assert_cmpstr (tsq_json_get_string (summary, "message_id", NULL), ==,
                   "<" MESSAGE_ID_BASE "@techscaniq.test>");
  g_assert_cmpstr (tsq_json_get_string (summary, "delivery", NULL), ==, MESSAGE_ID_BASE);
  g_assert_cmpstr (tsq_json_get_string (summary, "auto_submitted", NULL), ==, "auto-generated");
  g_assert_cmpstr (tsq_json_get_string (summary, "mime_version", NULL), ==, "1.0");
  g_assert_cmpint (tsq_json_get_int (summary, "date_unix", 0), ==, 1767225600);
  g_assert_cmpstr (tsq_json_get_string (summary, "content_type", NULL), ==,
                   "multipart/alternative");
  /* RFC 5322: CRLF only, no line over 78 characters; no MIME defects found. */
  g_assert_false (tsq_json_get_boolean (summary, "bare_lf", TRUE));
  g_assert_cmpint (tsq_json_get_int (summary, "max_line_length", 999), <=, 78);
  g_assert_cmpuint (json_array_get_length (tsq_json_get_array (summary, "defects")), ==, 0);

  parts = tsq_json_get_array (summary, "parts");
  g_assert_cmpuint (json_array_get_length (parts), ==, 2);
  {
    JsonObject *text = json_array_get_object_element (parts, 0);
    JsonObject *html = json_array_get_object_element (parts, 1);
    g_autofree char *text_body = normalise (tsq_json_get_string (text, "text", ""));
    g_autofree char *html_body = normalise (tsq_json_get_string (html, "text", ""));
    g_autofree char *expected_text = normalise (body);

    g_assert_cmpstr (tsq_json_get_string (text, "content_type", NULL), ==, "text/plain");
    g_assert_cmpstr (tsq_json_get_string (text, "charset", NULL), ==, "utf-8");
    g_assert_cmpstr (tsq_json_get_string (text, "transfer_encoding", NULL), ==, "quoted-printable");
    g_assert_cmpstr (text_body, ==, expected_text);
    g_assert_cmpstr (tsq_json_get_string (html, "content_type", NULL), ==, "text/html");
    g_assert_cmpstr (html_body, ==, notification->html);
  }

  /* A retry (the outbox re-sends after a lost confirmation): byte-identical message, same
   * Message-ID, so the receiving side can drop the duplicate. */
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_cmpuint (count_messages (), ==, before + 2);
  second = read_summary (before + 2, &second_raw);
  g_assert_cmpstr (tsq_json_get_string (json_node_get_object (second), "message_id", NULL), ==,
                   "<" MESSAGE_ID_BASE "@techscaniq.test>");
  g_assert_true (g_bytes_equal (first_raw, second_raw));
  g_unsetenv ("TSQ_TEST_SMTP_PASS");
}

static void
test_implicit_tls_text_only (void)
{
  g_autofree char *url = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqNotification) notification = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *summary;
  JsonArray *parts;
  guint before;

  if (!smtp_start ())
    return;
  before = count_messages ();
  url = url_for ("smtps", smtp->port_implicit);
  notifier = email_channel (url, "username=" SMTP_USER "\npassword=" SMTP_PASSWORD
                                 "\nto=ops@example.com\n");
  notification = tsq_notification_new ("text-only-1", "Site up: example.com",
                                       "example.com is back (HTTP 200 after 3 failures).");
  g_assert_cmpint (deliver (notifier, notification, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_cmpuint (count_messages (), ==, before + 1);
  root = read_summary (before + 1, NULL);
  summary = json_node_get_object (root);
  g_assert_cmpstr (tsq_json_get_string (summary, "mode", NULL), ==, "implicit");
  g_assert_cmpstr (tsq_json_get_string (summary, "login", NULL), ==, SMTP_USER);
  g_assert_cmpstr (tsq_json_get_string (summary, "subject", NULL), ==, "Site up: example.com");
  g_assert_cmpstr (tsq_json_get_string (summary, "content_type", NULL), ==, "text/plain");
  g_assert_cmpstr (tsq_json_get_string (summary, "message_id", NULL), ==,
                   "<text-only-1@techscaniq.test>");
  parts = tsq_json_get_array (summary, "parts");
  g_assert_cmpuint (json_array_get_length (parts), ==, 1);
  {
    g_autofree char *text
      = normalise (tsq_json_get_string (json_array_get_object_element (parts, 0), "text", ""));

    g_assert_cmpstr (text, ==, notification->body);
  }
}

static void
test_wrong_password (void)
{
  g_autofree char *url = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqNotification) notification = tsq_notification_new ("wrong-pw", "s", "b");
  g_autoptr (GError) error = NULL;
  TsqDeliveryInfo *info = NULL;
  guint before;

  if (!smtp_start ())
    return;
  before = count_messages ();
  url = url_for ("smtp", smtp->port_starttls);
  notifier = email_channel (url, "username=" SMTP_USER "\npassword=not-the-password\n"
                                 "to=ops@example.com\n");
  g_assert_cmpint (deliver (notifier, notification, &info, &error), ==, TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_AUTH);
  g_assert_cmpuint (info->http_status, ==, 535);
  g_assert_null (strstr (error->message, "not-the-password"));
  g_assert_cmpuint (count_messages (), ==, before);
  tsq_delivery_info_free (info);
}

static void
test_rejected_recipient (void)
{
  g_autofree char *url = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqNotification) notification = tsq_notification_new ("rejected-1", "s", "b");
  g_autoptr (GError) error = NULL;
  TsqDeliveryInfo *info = NULL;
  guint before;

  if (!smtp_start ())
    return;
  before = count_messages ();
  url = url_for ("smtp", smtp->port_starttls);
  /* One refused recipient fails the whole message (no half-delivered notification). */
  notifier = email_channel (url, "username=" SMTP_USER "\npassword=" SMTP_PASSWORD
                                 "\nto=ops@example.com,rejected@example.com\n");
  g_assert_cmpint (deliver (notifier, notification, &info, &error), ==, TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_REJECTED);
  g_assert_cmpuint (info->http_status, ==, 550);
  g_assert_cmpuint (count_messages (), ==, before);
  tsq_delivery_info_free (info);
}

static void
test_starttls_policy (void)
{
  g_autofree char *url = NULL;
  g_autoptr (TsqNotifier) required = NULL;
  g_autoptr (TsqNotifier) none = NULL;
  g_autoptr (TsqNotification) notification = tsq_notification_new ("plain-1", "s", "b");
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  guint before;

  if (!smtp_start ())
    return;
  before = count_messages ();
  url = url_for ("smtp", smtp->port_plain);
  /* The server offers no STARTTLS: required refuses to send (permanent: a configuration
   * problem), none sends in clear. */
  required = email_channel (url, "starttls=required\nto=ops@example.com\n");
  g_assert_cmpint (deliver (required, notification, NULL, &error), ==, TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_TLS);
  g_assert_cmpuint (count_messages (), ==, before);

  none = email_channel (url, "starttls=none\nto=ops@example.com\n");
  g_assert_cmpint (deliver (none, notification, NULL, NULL), ==, TSQ_DELIVERY_DELIVERED);
  g_assert_cmpuint (count_messages (), ==, before + 1);
  root = read_summary (before + 1, NULL);
  g_assert_false (tsq_json_get_boolean (json_node_get_object (root), "tls", TRUE));
}

static void
test_untrusted_certificate (void)
{
  g_autofree char *url = NULL;
  g_autofree char *bundle = NULL;
  g_autofree char *extra = NULL;
  g_autoptr (TsqNotifier) notifier = NULL;
  g_autoptr (TsqNotification) notification = tsq_notification_new ("untrusted-1", "s", "b");
  g_autoptr (GError) error = NULL;
  guint before;

  if (!smtp_start ())
    return;
  before = count_messages ();
  url = url_for ("smtp", smtp->port_starttls);
  /* The system's CAs do not know the test CA: verification must fail, and nothing is sent. */
  bundle = g_strdup ("/etc/ssl/certs/ca-certificates.crt");
  if (!g_file_test (bundle, G_FILE_TEST_IS_REGULAR))
    {
      g_error ("no system CA bundle: install the Debian package ca-certificates (tools/install-deps.sh does)");
    }
  extra = g_strdup_printf (
    "ca_file=%s\nusername=" SMTP_USER "\npassword=" SMTP_PASSWORD "\nto=ops@example.com\n", bundle);
  notifier = email_channel (url, extra);
  g_assert_cmpint (deliver (notifier, notification, NULL, &error), ==, TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_TLS);
  g_assert_cmpuint (count_messages (), ==, before);
}

static void
test_server_down (void)
{
  g_autofree char *url = g_strdup_printf ("smtp://127.0.0.1:%u", free_port ());
  g_autoptr (TsqNotifier) notifier = email_channel (url, "to=ops@example.com\n");
  g_autoptr (TsqNotification) notification = tsq_notification_new ("down-1", "s", "b");
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (deliver (notifier, notification, NULL, &error), ==, TSQ_DELIVERY_RETRYABLE);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_NETWORK);
}

static void
test_blocked_address (void)
{
  g_autoptr (TsqNotifier) notifier
    = email_channel ("smtp://169.254.169.254:25", "to=ops@example.com\n");
  g_autoptr (TsqNotification) notification = tsq_notification_new ("blocked-1", "s", "b");
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (deliver (notifier, notification, NULL, &error), ==, TSQ_DELIVERY_PERMANENT);
  g_assert_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS);
}

/* -- message building, without a server -- */

static void
test_encodings (void)
{
  g_autofree char *hundred = g_strnfill (100, 'a');
  g_autofree char *expected_soft = NULL;
  g_autofree char *soft = NULL;
  g_autofree char *id = NULL;
  g_autofree char *hashed = NULL;
  static const struct
  {
    const char *in;
    const char *out;
  } qp[] = {
    { "a=b", "a=3Db\r\n" },
    { "caf\xc3\xa9", "caf=C3=A9\r\n" },
    { "trailing space \nx\t", "trailing space=20\r\nx=09\r\n" },
    { ".dot\n..", "=2Edot\r\n=2E.\r\n" },
    { "a\r\nb\rc\n", "a\r\nb\r\nc\r\n" },
    { "", "\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (qp); i++)
    {
      g_autofree char *out = tsq_email_quoted_printable (qp[i].in);

      g_assert_cmpstr (out, ==, qp[i].out);
    }
  /* 100 characters: 75 + "=" soft break, then 25. */
  soft = tsq_email_quoted_printable (hundred);
  expected_soft = g_strdup_printf ("%.75s=\r\n%.25s\r\n", hundred, hundred);
  g_assert_cmpstr (soft, ==, expected_soft);
  /* An escape is never split by a soft break. */
  {
    g_autofree char *prefix = g_strnfill (74, 'b');
    g_autofree char *input = g_strconcat (prefix, "\xc3\xa9", NULL);
    g_autofree char *out = tsq_email_quoted_printable (input);
    g_autofree char *expected = g_strdup_printf ("%s=\r\n=C3=A9\r\n", prefix);

    g_assert_cmpstr (out, ==, expected);
  }

  {
    g_autofree char *plain = tsq_email_encode_header ("Site down: example.com");
    g_autofree char *injected = tsq_email_encode_header ("a\r\nBcc: victim@example.com");
    g_autofree char *utf8 = tsq_email_encode_header ("caf\xc3\xa9");
    g_autofree char *long_utf8 = tsq_email_encode_header (
      "\xe8\xa8\xbc\xe6\x98\x8e\xe6\x9b\xb8\xe8\xa8\xbc\xe6\x98\x8e\xe6\x9b\xb8\xe8\xa8\xbc\xe6"
      "\x98\x8e\xe6\x9b\xb8\xe8\xa8\xbc\xe6\x98\x8e\xe6\x9b\xb8\xe8\xa8\xbc\xe6\x98\x8e\xe6\x9b"
      "\xb8");
    g_auto (GStrv) words = NULL;

    g_assert_cmpstr (plain, ==, "Site down: example.com");
    /* CR/LF cannot start a new header. */
    g_assert_null (strchr (injected, '\n'));
    g_assert_cmpstr (injected, ==, "a  Bcc: victim@example.com");
    /* base64 of "café" is "Y2Fmw6k=". */
    g_assert_cmpstr (utf8, ==, "=?UTF-8?B?Y2Fmw6k=?=");
    /* 45 bytes of 3-byte characters: 13 characters (39 bytes) in the first word, 2 after. */
    words = g_strsplit (long_utf8, "\r\n ", -1);
    g_assert_cmpuint (g_strv_length (words), ==, 2);
    g_assert_cmpuint (strlen (words[0]), <=, 75);
    g_assert_true (g_str_has_prefix (words[1], "=?UTF-8?B?"));
  }

  id = tsq_email_message_id (MESSAGE_ID_BASE, "alerts@example.com");
  g_assert_cmpstr (id, ==, "<" MESSAGE_ID_BASE "@example.com>");
  hashed = tsq_email_message_id ("..bad", "alerts@example.com");
  g_assert_true (g_str_has_prefix (hashed, "<tsq."));
  g_assert_true (g_str_has_suffix (hashed, "@example.com>"));
  {
    g_autofree char *again = tsq_email_message_id ("..bad", "alerts@example.com");

    g_assert_cmpstr (hashed, ==, again);
  }

  g_assert_true (tsq_email_address_is_valid ("ops+alerts@example.co.uk"));
  g_assert_false (tsq_email_address_is_valid ("ops@"));
  g_assert_false (tsq_email_address_is_valid ("@example.com"));
  g_assert_false (tsq_email_address_is_valid ("a b@example.com"));
  g_assert_false (tsq_email_address_is_valid ("a@b@example.com"));
  g_assert_false (tsq_email_address_is_valid ("a@example..com"));
  g_assert_false (tsq_email_address_is_valid ("<a@example.com>"));
  g_assert_false (tsq_email_address_is_valid ("a@example.com\r\nRCPT TO:<x@y.z>"));
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/notifier-email/encodings", test_encodings);
  g_test_add_func ("/tsq/notifier-email/starttls-auth-multipart", test_starttls_auth_multipart);
  g_test_add_func ("/tsq/notifier-email/implicit-tls-text-only", test_implicit_tls_text_only);
  g_test_add_func ("/tsq/notifier-email/wrong-password", test_wrong_password);
  g_test_add_func ("/tsq/notifier-email/rejected-recipient", test_rejected_recipient);
  g_test_add_func ("/tsq/notifier-email/starttls-policy", test_starttls_policy);
  g_test_add_func ("/tsq/notifier-email/untrusted-certificate", test_untrusted_certificate);
  g_test_add_func ("/tsq/notifier-email/server-down", test_server_down);
  g_test_add_func ("/tsq/notifier-email/blocked-address", test_blocked_address);
  status = g_test_run ();
  smtp_stop ();
  return status;
}
