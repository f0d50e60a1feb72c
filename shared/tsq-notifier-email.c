/* tsq-notifier-email.c: email via libcurl SMTP in a worker thread. */
#define G_LOG_DOMAIN "tsq-notifier-email"

#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "tsq-notifier-email.h"
#include "tsq-notifier-private.h"

typedef enum
{
  STARTTLS_REQUIRED,
  STARTTLS_TRY,
  STARTTLS_NONE,
} Starttls;

static const char *const starttls_names[] = { "required", "try", "none" };

struct _TsqNotifierEmail
{
  TsqNotifier parent_instance;

  char *smtp_url;
  gboolean implicit_tls; /* smtps:// */
  Starttls starttls;
  char *username;
  TsqSecret *password;
  char *from;
  char *from_name;
  GStrv to;
};

G_DEFINE_FINAL_TYPE (TsqNotifierEmail, tsq_notifier_email, TSQ_TYPE_NOTIFIER)

/* -- message building -- */

#define QP_MAX_LINE 75            /* + the soft break "=" = 76, RFC 2045 */
#define HEADER_PLAIN_MAX 66       /* "Subject: " + 66 < 78 */
#define ENCODED_WORD_MAX_BYTES 39 /* 52 base64 characters + 12 = 64 per encoded word */

gboolean
tsq_email_address_is_valid (const char *address)
{
  const char *at;
  gsize len;

  if (address == NULL)
    return FALSE;
  len = strlen (address);
  if (len < 3 || len > 254)
    return FALSE;
  at = strrchr (address, '@');
  if (at == NULL || at == address || at[1] == '\0' || strchr (address, '@') != at)
    return FALSE;
  for (const char *p = address; *p; p++)
    if ((guchar)*p <= 0x20 || (guchar)*p >= 0x7f || strchr ("<>()[],;:\"\\", *p) != NULL)
      return FALSE;
  /* The domain: labels separated by single dots. */
  if (at[1] == '.' || g_str_has_suffix (address, ".") || strstr (at, "..") != NULL)
    return FALSE;
  return TRUE;
}

static gboolean
is_dot_atom (const char *text)
{
  if (*text == '\0' || *text == '.' || g_str_has_suffix (text, ".") || strstr (text, "..") != NULL)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("!#$%&'*+-/=?^_`{|}~.", *p) == NULL)
      return FALSE;
  return TRUE;
}

char *
tsq_email_message_id (const char *id, const char *from)
{
  const char *at = from ? strrchr (from, '@') : NULL;
  const char *domain = at && at[1] ? at + 1 : "techscaniq.invalid";

  if (is_dot_atom (id))
    return g_strdup_printf ("<%s@%s>", id, domain);
  /* Still a function of the id alone, so every attempt gets the same Message-ID. */
  {
    g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, id, -1);

    return g_strdup_printf ("<tsq.%.32s@%s>", hash, domain);
  }
}

static gboolean
needs_encoding (const char *text, gsize max_plain)
{
  if (strlen (text) > max_plain || strstr (text, "=?") != NULL)
    return TRUE;
  for (const char *p = text; *p; p++)
    if ((guchar)*p < 0x20 || (guchar)*p >= 0x7f)
      return TRUE;
  return FALSE;
}

char *
tsq_email_encode_header (const char *text)
{
  g_autofree char *clean = NULL;
  GString *out;
  const char *p;

  /* A header value is one line: newlines (header injection) become spaces. */
  clean = g_utf8_make_valid (text ? text : "", -1);
  g_strdelimit (clean, "\r\n", ' ');
  if (!needs_encoding (clean, HEADER_PLAIN_MAX))
    return g_steal_pointer (&clean);

  out = g_string_new (NULL);
  p = clean;
  while (*p != '\0')
    {
      const char *end = p;
      g_autofree char *b64 = NULL;

      /* Whole UTF-8 characters only: a word must decode on its own (RFC 2047 5.(3)). */
      while (*end != '\0')
        {
          const char *next = g_utf8_next_char (end);

          if (next - p > ENCODED_WORD_MAX_BYTES)
            break;
          end = next;
        }
      b64 = g_base64_encode ((const guchar *)p, end - p);
      if (out->len > 0)
        g_string_append (out, "\r\n ");
      g_string_append_printf (out, "=?UTF-8?B?%s?=", b64);
      p = end;
    }
  return g_string_free (out, FALSE);
}

static void
qp_token (guchar c, gboolean line_start, gboolean line_end, char token[4])
{
  /* '.' first on a line is encoded too: some relays mangle such lines. */
  if (((c == ' ' || c == '\t') && !line_end)
      || (c >= 33 && c <= 126 && c != '=' && !(c == '.' && line_start)))
    {
      token[0] = (char)c;
      token[1] = '\0';
    }
  else
    g_snprintf (token, 4, "=%02X", c);
}

char *
tsq_email_quoted_printable (const char *text)
{
  GString *out = g_string_sized_new (text ? strlen (text) * 11 / 10 + 8 : 8);
  const char *p = text ? text : "";

  while (TRUE)
    {
      gsize len = strcspn (p, "\r\n");
      gsize col = 0;

      for (gsize i = 0; i < len; i++)
        {
          char token[4];
          gsize token_len;

          qp_token ((guchar)p[i], col == 0, i + 1 == len, token);
          token_len = strlen (token);
          if (col + token_len > QP_MAX_LINE)
            {
              g_string_append (out, "=\r\n");
              col = 0;
              qp_token ((guchar)p[i], TRUE, i + 1 == len, token);
              token_len = strlen (token);
            }
          g_string_append (out, token);
          col += token_len;
        }
      g_string_append (out, "\r\n");
      p += len;
      if (*p == '\0')
        break;
      /* One line break: CRLF, LF or CR. */
      if (p[0] == '\r' && p[1] == '\n')
        p += 2;
      else
        p++;
      if (*p == '\0')
        break;
    }
  return g_string_free (out, FALSE);
}

/* RFC 5322 date, always in English whatever the locale. */
static char *
format_date (gint64 unix_time)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[]
    = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (unix_time);

  if (date == NULL)
    date = g_date_time_new_now_utc ();
  return g_strdup_printf (
    "%s, %02d %s %04d %02d:%02d:%02d +0000", days[g_date_time_get_day_of_week (date) - 1],
    g_date_time_get_day_of_month (date), months[g_date_time_get_month (date) - 1],
    g_date_time_get_year (date), g_date_time_get_hour (date), g_date_time_get_minute (date),
    g_date_time_get_second (date));
}

static char *
format_mailbox (const char *address, const char *name)
{
  g_autofree char *clean = NULL;
  gboolean atext = TRUE;
  gboolean printable = TRUE;

  if (name == NULL || *name == '\0')
    return g_strdup (address);
  clean = g_utf8_make_valid (name, -1);
  g_strdelimit (clean, "\r\n", ' ');
  for (const char *p = clean; *p; p++)
    {
      if ((guchar)*p < 0x20 || (guchar)*p >= 0x7f)
        printable = atext = FALSE;
      else if (!g_ascii_isalnum (*p) && strchr (" !#$%&'*+-/=?^_`{|}~", *p) == NULL)
        atext = FALSE;
    }
  if (atext && strlen (clean) <= 40)
    return g_strdup_printf ("%s <%s>", clean, address);
  if (printable && strlen (clean) <= 40 && strstr (clean, "=?") == NULL)
    {
      GString *quoted = g_string_new ("\"");

      for (const char *p = clean; *p; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (quoted, '\\');
          g_string_append_c (quoted, *p);
        }
      g_string_append_printf (quoted, "\" <%s>", address);
      return g_string_free (quoted, FALSE);
    }
  {
    g_autofree char *encoded = tsq_email_encode_header (clean);

    return g_strdup_printf ("%s\r\n <%s>", encoded, address);
  }
}

GBytes *
tsq_email_build_message (const char *from,
                         const char *from_name,
                         const char *const *to,
                         const TsqNotification *notification,
                         GError **error)
{
  g_autofree char *date = NULL;
  g_autofree char *mailbox = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *message_id = NULL;
  g_autofree char *text = NULL;
  GString *out;
  gsize len;

  if (!tsq_email_address_is_valid (from) || to == NULL || to[0] == NULL)
    {
      g_set_error_literal (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                           "invalid sender or no recipient");
      return NULL;
    }
  for (guint i = 0; to[i]; i++)
    if (!tsq_email_address_is_valid (to[i]))
      {
        g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                     "invalid recipient “%s”", to[i]);
        return NULL;
      }

  date = format_date (notification->created_at ? notification->created_at
                                               : g_get_real_time () / G_USEC_PER_SEC);
  mailbox = format_mailbox (from, from_name);
  subject = tsq_email_encode_header (notification->subject ? notification->subject : "");
  message_id = tsq_email_message_id (notification->id, from);
  text = tsq_email_quoted_printable (notification->body ? notification->body : "");

  out = g_string_new (NULL);
  g_string_append_printf (out, "Date: %s\r\n", date);
  g_string_append_printf (out, "From: %s\r\n", mailbox);
  g_string_append (out, "To: ");
  for (guint i = 0; to[i]; i++)
    g_string_append_printf (out, "%s%s", to[i], to[i + 1] ? ",\r\n " : "\r\n");
  g_string_append_printf (out, "Subject: %s\r\n", subject);
  g_string_append_printf (out, "Message-ID: %s\r\n", message_id);
  g_string_append_printf (out, "X-TechScanIQ-Delivery: %s\r\n", notification->id);
  g_string_append (out, "Auto-Submitted: auto-generated\r\n");
  g_string_append (out, "MIME-Version: 1.0\r\n");
  if (notification->html == NULL)
    {
      g_string_append (out, "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
      g_string_append (out, text);
    }
  else
    {
      g_autofree char *html = tsq_email_quoted_printable (notification->html);
      g_autofree char *hash
        = g_compute_checksum_for_string (G_CHECKSUM_SHA256, notification->id, -1);
      /* "=_" cannot occur in quoted-printable output, so the boundary never collides. */
      g_autofree char *boundary = g_strdup_printf ("=_tsq_%.24s", hash);

      g_string_append_printf (out,
                              "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
                              "This is a multi-part message in MIME format.\r\n\r\n",
                              boundary);
      g_string_append_printf (out,
                              "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s",
                              boundary, text);
      g_string_append_printf (out,
                              "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s",
                              boundary, html);
      g_string_append_printf (out, "--%s--\r\n", boundary);
    }
  len = out->len;
  return g_bytes_new_take (g_string_free (out, FALSE), len);
}

/* -- the transfer, in a worker thread -- */

typedef struct
{
  /* inputs: copies, so the thread never touches the notifier's fields */
  char *url;
  gboolean implicit_tls;
  Starttls starttls;
  char *username;
  TsqSecret *password;
  char *from;
  GStrv to;
  GBytes *message;
  gsize sent;
  char *message_id;
  char *ca_file;
  guint timeout_ms;
  TsqNetGuard *guard;
  GCancellable *cancellable;
  char *channel;

  /* outputs */
  TsqDeliveryStatus status;
  TsqDeliveryInfo *info;
  GError *error;
  GError *guard_error;
} EmailJob;

static void
email_job_free (gpointer data)
{
  EmailJob *job = data;

  g_free (job->url);
  g_free (job->username);
  tsq_secret_free (job->password);
  g_free (job->from);
  g_strfreev (job->to);
  g_clear_pointer (&job->message, g_bytes_unref);
  g_free (job->message_id);
  g_free (job->ca_file);
  g_clear_pointer (&job->guard, tsq_net_guard_unref);
  g_clear_object (&job->cancellable);
  g_free (job->channel);
  tsq_delivery_info_free (job->info);
  g_clear_error (&job->error);
  g_clear_error (&job->guard_error);
  g_free (job);
}

static size_t
read_message (char *buffer, size_t size, size_t nitems, void *data)
{
  EmailJob *job = data;
  gsize total = 0;
  const char *message = g_bytes_get_data (job->message, &total);
  gsize n = MIN (size * nitems, total - job->sent);

  memcpy (buffer, message + job->sent, n);
  job->sent += n;
  return n;
}

static int
on_progress (void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  EmailJob *job = data;

  return g_cancellable_is_cancelled (job->cancellable) ? 1 : 0;
}

/* Judges each address curl is about to connect to, like the HTTP channels do on connect. */
static curl_socket_t
open_socket (void *data, curlsocktype purpose, struct curl_sockaddr *address)
{
  EmailJob *job = data;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GError) error = NULL;

  remote = g_socket_address_new_from_native (&address->addr, address->addrlen);
  if (G_IS_INET_SOCKET_ADDRESS (remote)
      && tsq_net_guard_check (
        job->guard, g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)), &error))
    return socket (address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (job->guard_error == NULL)
    job->guard_error
      = error ? g_steal_pointer (&error)
              : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "not an internet address");
  return CURL_SOCKET_BAD;
}

static void
classify_curl (EmailJob *job, CURLcode code, long reply, const char *message)
{
  TsqNotifierError error_code = TSQ_NOTIFIER_ERROR_NETWORK;
  TsqDeliveryStatus status = TSQ_DELIVERY_RETRYABLE;
  char reply_text[32] = "";

  job->info->http_status = reply > 0 && reply < 1000 ? (guint)reply : 0;
  if (code == CURLE_OK)
    {
      job->status = TSQ_DELIVERY_DELIVERED;
      job->info->provider_id = g_strdup (job->message_id);
      return;
    }
  if (job->guard_error != NULL)
    {
      job->status = TSQ_DELIVERY_PERMANENT;
      job->error = g_error_new (TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_BLOCKED_ADDRESS,
                                "channel %s: %s", job->channel, job->guard_error->message);
      return;
    }
  switch (code)
    {
      case CURLE_ABORTED_BY_CALLBACK:
        error_code = TSQ_NOTIFIER_ERROR_CANCELLED;
        message = "cancelled";
        break;
      case CURLE_OPERATION_TIMEDOUT:
        error_code = TSQ_NOTIFIER_ERROR_TIMEOUT;
        break;
      case CURLE_LOGIN_DENIED:
        status = TSQ_DELIVERY_PERMANENT;
        error_code = TSQ_NOTIFIER_ERROR_AUTH;
        break;
      case CURLE_USE_SSL_FAILED:
        /* The server does not offer STARTTLS: a configuration matter, not a passing fault. */
        status = TSQ_DELIVERY_PERMANENT;
        error_code = TSQ_NOTIFIER_ERROR_TLS;
        break;
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        status = TSQ_DELIVERY_PERMANENT;
        error_code = TSQ_NOTIFIER_ERROR_INVALID_CONFIG;
        break;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_CACERT_BADFILE:
        /* A certificate may be fixed by the server's owner: retry until the outbox gives up. */
        error_code = TSQ_NOTIFIER_ERROR_TLS;
        break;
      default:
        /* The SMTP reply decides: 5xx is final (550 no such user, 530 auth required, 554),
         * 4xx is temporary (421, 450, 451, 452). */
        if (reply >= 500 && reply <= 599)
          {
            status = TSQ_DELIVERY_PERMANENT;
            error_code = TSQ_NOTIFIER_ERROR_REJECTED;
          }
        break;
    }
  if (reply > 0)
    g_snprintf (reply_text, sizeof reply_text, " (SMTP reply %ld)", reply);
  job->status = status;
  job->error = g_error_new (TSQ_NOTIFIER_ERROR, error_code, "channel %s: %s%s", job->channel,
                            message && *message ? message : curl_easy_strerror (code), reply_text);
}

static gpointer
curl_init_once (gpointer data)
{
  return GINT_TO_POINTER (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

static void
run_email_job (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  static GOnce once = G_ONCE_INIT;
  EmailJob *job = data;
  struct curl_slist *recipients = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  g_autofree char *mail_from = NULL;
  CURLcode code;
  long reply = 0;
  CURL *curl;

  job->info = tsq_delivery_info_new ();
  if (!GPOINTER_TO_INT (g_once (&once, curl_init_once, NULL)) || (curl = curl_easy_init ()) == NULL)
    {
      job->status = TSQ_DELIVERY_RETRYABLE;
      job->error = g_error_new (TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_NETWORK,
                                "channel %s: cannot initialise libcurl", job->channel);
      g_task_return_boolean (task, TRUE);
      return;
    }

  mail_from = g_strdup_printf ("<%s>", job->from);
  for (guint i = 0; job->to[i]; i++)
    {
      g_autofree char *rcpt = g_strdup_printf ("<%s>", job->to[i]);

      recipients = curl_slist_append (recipients, rcpt);
    }

  curl_easy_setopt (curl, CURLOPT_URL, job->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  /* Mail goes straight to the configured server: no proxy from the environment. */
  curl_easy_setopt (curl, CURLOPT_PROXY, "");
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long)job->timeout_ms);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, (long)job->timeout_ms);
  curl_easy_setopt (curl, CURLOPT_USE_SSL,
                    job->implicit_tls                    ? (long)CURLUSESSL_ALL
                    : job->starttls == STARTTLS_REQUIRED ? (long)CURLUSESSL_ALL
                    : job->starttls == STARTTLS_TRY      ? (long)CURLUSESSL_TRY
                                                         : (long)CURLUSESSL_NONE);
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (job->ca_file != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, job->ca_file);
  if (job->username != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_USERNAME, job->username);
      curl_easy_setopt (curl, CURLOPT_PASSWORD, tsq_secret_get_value (job->password));
    }
  curl_easy_setopt (curl, CURLOPT_MAIL_FROM, mail_from);
  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (curl, CURLOPT_READFUNCTION, read_message);
  curl_easy_setopt (curl, CURLOPT_READDATA, job);
  curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)g_bytes_get_size (job->message));
  curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt (curl, CURLOPT_XFERINFODATA, job);
  curl_easy_setopt (curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt (curl, CURLOPT_OPENSOCKETDATA, job);

  code = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &reply);
  classify_curl (job, code, reply, errbuf);

  curl_easy_cleanup (curl);
  curl_slist_free_all (recipients);
  g_task_return_boolean (task, TRUE);
}

static void
on_email_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *outer = data;
  EmailJob *job = g_task_get_task_data (G_TASK (result));

  tsq_notifier_return (outer, job->status, g_steal_pointer (&job->info),
                       g_steal_pointer (&job->error));
  g_object_unref (outer);
}

static void
tsq_notifier_email_deliver (TsqNotifier *notifier,
                            TsqNotification *notification,
                            GCancellable *cancellable,
                            GTask *task)
{
  TsqNotifierEmail *self = TSQ_NOTIFIER_EMAIL (notifier);
  g_autoptr (GError) error = NULL;
  g_autoptr (GTask) worker = NULL;
  EmailJob *job;
  GBytes *message;

  message = tsq_email_build_message (self->from, self->from_name, (const char *const *)self->to,
                                     notification, &error);
  if (message == NULL)
    {
      tsq_notifier_return_error (task, TSQ_DELIVERY_PERMANENT,
                                 TSQ_NOTIFIER_ERROR_INVALID_NOTIFICATION, "channel %s: %s",
                                 tsq_notifier_get_name (notifier), error->message);
      g_object_unref (task);
      return;
    }

  job = g_new0 (EmailJob, 1);
  job->url = g_strdup (self->smtp_url);
  job->implicit_tls = self->implicit_tls;
  job->starttls = self->starttls;
  job->username = g_strdup (self->username);
  job->password = tsq_secret_copy (self->password);
  job->from = g_strdup (self->from);
  job->to = g_strdupv (self->to);
  job->message = message;
  job->message_id = tsq_email_message_id (notification->id, self->from);
  job->ca_file = g_strdup (tsq_notifier_get_ca_file (notifier));
  job->timeout_ms = tsq_notifier_get_timeout_ms (notifier);
  job->guard = tsq_net_guard_ref (tsq_notifier_get_net_guard (notifier));
  job->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  job->channel = g_strdup (tsq_notifier_get_name (notifier));

  worker = g_task_new (notifier, cancellable, on_email_done, task);
  g_task_set_check_cancellable (worker, FALSE);
  g_task_set_task_data (worker, job, email_job_free);
  g_task_run_in_thread (worker, run_email_job);
}

static void
tsq_notifier_email_describe (TsqNotifier *notifier, GString *out)
{
  TsqNotifierEmail *self = TSQ_NOTIFIER_EMAIL (notifier);
  g_autofree char *to = g_strjoinv (",", self->to);

  g_string_append_printf (out, " smtp_url=%s", self->smtp_url);
  if (!self->implicit_tls)
    g_string_append_printf (out, " starttls=%s", starttls_names[self->starttls]);
  if (self->username != NULL)
    {
      g_autofree char *password = tsq_secret_describe (self->password);

      g_string_append_printf (out, " username=%s password=%s", self->username, password);
    }
  g_string_append_printf (out, " from=%s to=%s", self->from, to);
}

static void
tsq_notifier_email_finalize (GObject *object)
{
  TsqNotifierEmail *self = TSQ_NOTIFIER_EMAIL (object);

  g_free (self->smtp_url);
  g_free (self->username);
  g_clear_pointer (&self->password, tsq_secret_free);
  g_free (self->from);
  g_free (self->from_name);
  g_strfreev (self->to);
  G_OBJECT_CLASS (tsq_notifier_email_parent_class)->finalize (object);
}

static void
tsq_notifier_email_class_init (TsqNotifierEmailClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TsqNotifierClass *notifier_class = TSQ_NOTIFIER_CLASS (klass);

  object_class->finalize = tsq_notifier_email_finalize;
  notifier_class->kind = "email";
  notifier_class->deliver = tsq_notifier_email_deliver;
  notifier_class->describe = tsq_notifier_email_describe;
}

static void
tsq_notifier_email_init (TsqNotifierEmail *self)
{
}

static gboolean
parse_smtp_url (TsqNotifierEmail *self, const char *url, const char *group, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme;
  const char *path;

  if (uri == NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] smtp_url: not a valid URL", group);
      return FALSE;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "smtp") != 0 && g_ascii_strcasecmp (scheme, "smtps") != 0)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] smtp_url: expected smtp://host[:port] or smtps://host[:port]", group);
      return FALSE;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] smtp_url: no host", group);
      return FALSE;
    }
  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] smtp_url: put credentials in username and password*, not in the URL",
                   group);
      return FALSE;
    }
  path = g_uri_get_path (uri);
  if ((path != NULL && *path != '\0' && strcmp (path, "/") != 0) || g_uri_get_query (uri) != NULL
      || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] smtp_url: no path, query or fragment allowed", group);
      return FALSE;
    }
  self->implicit_tls = g_ascii_strcasecmp (scheme, "smtps") == 0;
  self->smtp_url = g_strdup (url);
  return TRUE;
}

TsqNotifier *
tsq_notifier_email_new_from_config (GKeyFile *config,
                                    const char *group,
                                    const char *name,
                                    GError **error)
{
  g_autoptr (TsqNotifierEmail) self = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *starttls = NULL;
  g_autofree char *to = NULL;
  g_autofree char *insecure = NULL;
  g_auto (GStrv) parts = NULL;
  g_autoptr (GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  gboolean allow_insecure_auth = FALSE;

  self = g_object_new (TSQ_TYPE_NOTIFIER_EMAIL, "name", name, NULL);
  url = tsq_notifier_config_get (config, group, "smtp_url", TRUE, error);
  if (url == NULL || !parse_smtp_url (self, url, group, error))
    return NULL;

  starttls = tsq_notifier_config_get (config, group, "starttls", FALSE, &local_error);
  if (local_error != NULL)
    goto fail;
  self->starttls = STARTTLS_REQUIRED;
  if (starttls != NULL)
    {
      guint i;

      for (i = 0; i < G_N_ELEMENTS (starttls_names); i++)
        if (strcmp (starttls, starttls_names[i]) == 0)
          break;
      if (i == G_N_ELEMENTS (starttls_names))
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] starttls: expected required, try or none, got “%s”", group, starttls);
          return NULL;
        }
      self->starttls = i;
      if (self->implicit_tls && self->starttls != STARTTLS_REQUIRED)
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] starttls: smtps:// is always TLS; remove starttls=%s", group,
                       starttls);
          return NULL;
        }
    }

  insecure = tsq_notifier_config_get (config, group, "allow_insecure_auth", FALSE, &local_error);
  if (local_error != NULL)
    goto fail;
  if (insecure != NULL)
    {
      if (strcmp (insecure, "true") == 0)
        allow_insecure_auth = TRUE;
      else if (strcmp (insecure, "false") != 0)
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] allow_insecure_auth: expected true or false", group);
          return NULL;
        }
    }

  self->username = tsq_notifier_config_get (config, group, "username", FALSE, &local_error);
  if (local_error != NULL)
    goto fail;
  self->password = tsq_notifier_config_get_secret (config, group, "password", FALSE, &local_error);
  if (local_error != NULL)
    goto fail;
  if ((self->username == NULL) != (self->password == NULL))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   self->username ? "[%s] password: missing (username is set)"
                                  : "[%s] username: missing (a password is set)",
                   group);
      return NULL;
    }
  if (self->username != NULL && !self->implicit_tls && self->starttls != STARTTLS_REQUIRED
      && !allow_insecure_auth)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] starttls: the password could travel unencrypted with starttls=%s; use "
                   "starttls=required or smtps://, or set allow_insecure_auth=true",
                   group, starttls_names[self->starttls]);
      return NULL;
    }
  if (self->username != NULL && strpbrk (self->username, "\r\n") != NULL)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] username: control characters", group);
      return NULL;
    }

  self->from = tsq_notifier_config_get (config, group, "from", TRUE, error);
  if (self->from == NULL)
    return NULL;
  if (!tsq_email_address_is_valid (self->from))
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] from: “%s” is not an email address (local@domain)", group, self->from);
      return NULL;
    }
  self->from_name = tsq_notifier_config_get (config, group, "from_name", FALSE, &local_error);
  if (local_error != NULL)
    goto fail;

  to = tsq_notifier_config_get (config, group, "to", TRUE, error);
  if (to == NULL)
    return NULL;
  parts = g_strsplit_set (to, ",;", -1);
  for (guint i = 0; parts[i]; i++)
    {
      char *address = g_strstrip (parts[i]);

      if (*address == '\0')
        continue;
      if (!tsq_email_address_is_valid (address))
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] to: “%s” is not an email address (local@domain)", group, address);
          return NULL;
        }
      if (recipients->len == 100)
        {
          g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                       "[%s] to: more than 100 recipients", group);
          return NULL;
        }
      g_ptr_array_add (recipients, g_strdup (address));
    }
  if (recipients->len == 0)
    {
      g_set_error (error, TSQ_NOTIFIER_ERROR, TSQ_NOTIFIER_ERROR_INVALID_CONFIG,
                   "[%s] to: no recipient", group);
      return NULL;
    }
  g_ptr_array_add (recipients, NULL);
  self->to = (GStrv)g_ptr_array_free (g_steal_pointer (&recipients), FALSE);
  return TSQ_NOTIFIER (g_steal_pointer (&self));

fail:
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}
