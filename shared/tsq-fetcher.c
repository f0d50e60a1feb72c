/* tsq-fetcher.c: page fetches over one SoupSession, guarded, with manual redirects. */
#define G_LOG_DOMAIN "tsq-fetcher"
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include <dlfcn.h>
#include <string.h>

#include "tsq-config.h"
#include "tsq-fetcher.h"

#define DEFAULT_USER_AGENT                                                                         \
  "TechScanIQ-Monitor/" PACKAGE_VERSION " (+https://techscaniq.example/bot)"
#define DEFAULT_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#define READ_CHUNK (64 * 1024)

struct _TsqFetcher
{
  GObject parent_instance;

  SoupSession *session;
  TsqNetGuard *guard;
  char *user_agent;
  guint max_redirects;
  gsize max_body_bytes;
  guint timeout_s;
  gboolean tls_verify;
};

G_DEFINE_FINAL_TYPE (TsqFetcher, tsq_fetcher, G_TYPE_OBJECT)

typedef struct
{
  TsqFetcher *fetcher;        /* ref */
  TsqFetchResponse *response; /* built as we go; the partial result on error */
  GUri *uri;                  /* current hop */
  GHashTable *visited;        /* URL strings requested so far */
  SoupMessage *msg;           /* current hop */
  GInputStream *stream;       /* final response body */
  GByteArray *body;
  guint8 *buffer;
  GCancellable *cancellable; /* ours: cancelled by timeout, guard or the caller's */
  GCancellable *user_cancellable;
  gulong user_handler;
  GSource *timeout_source;
  GError *guard_error;   /* set when the guard refused a connection */
  GError *pending_error; /* returned once the stream is closed */
  GTlsCertificateFlags tls_flags_seen;
  gint64 start_us;
  gint64 body_end_us;
  gsize cap;
  guint timeout_s;
  gboolean timed_out;
  gboolean no_redirects;
  gboolean fail_if_truncated;
  char *if_none_match;
  char *if_modified_since;
  char *accept;
} FetchData;

static void send_hop (GTask *task);

/* SoupContentDecoder decodes br when libsoup was built with brotli, but offers it only over
 * https (as browsers do, for old middleboxes). A scanner wants the smallest transfer and the
 * same answer a browser gets on https, so it offers br on http too when it can decode it:
 * libsoup links libbrotlidec exactly when it has the br decoder. */
static const char *
accept_encoding (void)
{
  static gsize brotli = 0; /* 0 = not probed, 1 = no, 2 = yes */

  if (g_once_init_enter (&brotli))
    g_once_init_leave (&brotli,
                       dlsym (RTLD_DEFAULT, "BrotliDecoderDecompressStream") != NULL ? 2 : 1);
  return brotli == 2 ? "gzip, deflate, br" : "gzip, deflate";
}

void
tsq_fetcher_options_init (TsqFetcherOptions *options)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->max_redirects = 10;
  options->max_body_bytes = 5 * 1024 * 1024;
  options->timeout_s = 30;
  options->user_agent = DEFAULT_USER_AGENT;
  options->tls_verify = TRUE;
  options->max_conns = 256;
  options->max_conns_per_host = 8;
  options->guard = NULL;
}

static void
tsq_fetcher_finalize (GObject *object)
{
  TsqFetcher *self = TSQ_FETCHER (object);

  soup_session_abort (self->session);
  g_clear_object (&self->session);
  g_clear_pointer (&self->guard, tsq_net_guard_unref);
  g_free (self->user_agent);

  G_OBJECT_CLASS (tsq_fetcher_parent_class)->finalize (object);
}

static void
tsq_fetcher_class_init (TsqFetcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_fetcher_finalize;
}

static void
tsq_fetcher_init (TsqFetcher *self)
{
}

TsqFetcher *
tsq_fetcher_new (const TsqFetcherOptions *options)
{
  TsqFetcherOptions defaults;
  TsqFetcher *self;

  tsq_fetcher_options_init (&defaults);
  if (options == NULL)
    options = &defaults;

  self = g_object_new (TSQ_TYPE_FETCHER, NULL);
  self->max_redirects = options->max_redirects;
  self->max_body_bytes
    = options->max_body_bytes ? options->max_body_bytes : defaults.max_body_bytes;
  self->timeout_s = options->timeout_s ? options->timeout_s : defaults.timeout_s;
  self->tls_verify = options->tls_verify;
  self->user_agent = g_strdup (options->user_agent ? options->user_agent : DEFAULT_USER_AGENT);
  self->guard = options->guard ? tsq_net_guard_ref (options->guard) : tsq_net_guard_new_default ();

  /* No proxy: the guard must judge the real destination, and a scanner should see the site as
   * it is. The idle I/O timeout is a backstop; the whole-request timer is ours. */
  self->session = g_object_new (SOUP_TYPE_SESSION, "max-conns",
                                options->max_conns ? options->max_conns : 256, "max-conns-per-host",
                                options->max_conns_per_host ? options->max_conns_per_host : 8,
                                "user-agent", self->user_agent, "timeout", self->timeout_s + 1,
                                "idle-timeout", 60, "proxy-resolver", NULL, NULL);
  if (soup_session_get_feature (self->session, SOUP_TYPE_CONTENT_DECODER) == NULL)
    soup_session_add_feature_by_type (self->session, SOUP_TYPE_CONTENT_DECODER);
  return self;
}

TsqNetGuard *
tsq_fetcher_get_guard (TsqFetcher *self)
{
  g_return_val_if_fail (TSQ_IS_FETCHER (self), NULL);

  return self->guard;
}

SoupSession *
tsq_fetcher_get_session (TsqFetcher *self)
{
  g_return_val_if_fail (TSQ_IS_FETCHER (self), NULL);

  return self->session;
}

/* -- URL validation -- */

static gboolean
scheme_is_http (const char *scheme)
{
  return scheme != NULL
         && (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0);
}

/* GUri takes almost anything as a host ("exa mple.com"); DNS names are letters, digits, '-',
 * '_' and dots once converted to ASCII (IDNA). */
static gboolean
host_is_valid (const char *host)
{
  g_autofree char *ascii = NULL;

  if (g_hostname_is_ip_address (host))
    return TRUE;
  ascii = g_hostname_to_ascii (host);
  if (ascii == NULL || *ascii == '\0' || strlen (ascii) > 253)
    return FALSE;
  for (const char *p = ascii; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

/* Parses an absolute http(s) URL; the fragment is dropped (never sent). */
static GUri *
parse_http_url (const char *url, GError **error)
{
  g_autofree char *scheme = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GUri) uri = NULL;
  const char *host;

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL, "empty URL");
      return NULL;
    }
  if (strlen (url) > 64 * 1024)
    {
      g_set_error_literal (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL,
                           "URL longer than 64 KiB");
      return NULL;
    }

  scheme = g_uri_parse_scheme (url);
  if (scheme == NULL)
    {
      g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL,
                   "invalid URL “%s”: no scheme (expected http:// or https://)", url);
      return NULL;
    }
  if (!scheme_is_http (scheme))
    {
      const char *rest = url + strlen (scheme) + 1;

      /* "example.com:8080/x" or "localhost:80" parse as a scheme; they are schemeless URLs. */
      if (strchr (scheme, '.') != NULL || g_ascii_isdigit (*rest))
        g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL,
                     "invalid URL “%s”: no scheme (expected http:// or https://)", url);
      else
        g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_UNSUPPORTED_SCHEME,
                     "unsupported URL scheme “%s” (only http and https)", scheme);
      return NULL;
    }

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL, "invalid URL “%s”: %s", url,
                   local_error->message);
      return NULL;
    }
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL, "invalid URL “%s”: no host",
                   url);
      return NULL;
    }
  if (!host_is_valid (host))
    {
      g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL,
                   "invalid URL “%s”: bad host name", url);
      return NULL;
    }
  if (g_uri_get_fragment (uri) != NULL)
    {
      GUri *stripped = soup_uri_copy (uri, SOUP_URI_FRAGMENT, NULL, SOUP_URI_NONE);

      g_uri_unref (uri);
      uri = stripped;
    }
  return g_steal_pointer (&uri);
}

/* Literal IP hosts are judged before anything is sent (DNS names are judged on connect). */
static gboolean
guard_literal_host (TsqNetGuard *guard, GUri *uri, GError **error)
{
  const char *host = g_uri_get_host (uri);

  if (host == NULL || !g_hostname_is_ip_address (host))
    return TRUE;
  return tsq_net_guard_check_string (guard, host, error);
}

/* -- per-fetch state -- */

static void
fetch_data_free (gpointer pointer)
{
  FetchData *data = pointer;

  g_assert (data->timeout_source == NULL);
  g_assert (data->user_handler == 0);
  g_clear_object (&data->msg);
  g_clear_object (&data->stream);
  g_clear_pointer (&data->response, tsq_fetch_response_free);
  g_clear_pointer (&data->uri, g_uri_unref);
  g_clear_pointer (&data->visited, g_hash_table_unref);
  g_clear_pointer (&data->body, g_byte_array_unref);
  g_free (data->buffer);
  g_clear_object (&data->cancellable);
  g_clear_object (&data->user_cancellable);
  g_clear_error (&data->guard_error);
  g_clear_error (&data->pending_error);
  g_free (data->if_none_match);
  g_free (data->if_modified_since);
  g_free (data->accept);
  g_clear_object (&data->fetcher);
  g_free (data);
}

typedef struct
{
  GMainContext *context;
  GCancellable *internal;
} CancelForward;

static void
cancel_forward_free (gpointer pointer)
{
  CancelForward *forward = pointer;

  g_main_context_unref (forward->context);
  g_object_unref (forward->internal);
  g_free (forward);
}

static gboolean
cancel_internal (gpointer internal)
{
  g_cancellable_cancel (internal);
  return G_SOURCE_REMOVE;
}

static void
on_user_cancelled (GCancellable *user_cancellable, gpointer user_data)
{
  CancelForward *forward = user_data;

  /* Only the internal cancellable is handed to libsoup, so that timeout and guard cancels can
   * be told apart from the caller's. The caller may cancel from any thread; libsoup reacts to
   * a cancel in the cancelling thread, so it is forwarded to the fetch's own context (directly
   * when that is the current one). Cancelling after the fetch ended is harmless. */
  g_main_context_invoke_full (forward->context, G_PRIORITY_DEFAULT, cancel_internal,
                              g_object_ref (forward->internal), g_object_unref);
}

static gboolean
on_timeout (gpointer user_data)
{
  FetchData *data = user_data;

  data->timed_out = TRUE;
  g_cancellable_cancel (data->cancellable);
  g_clear_pointer (&data->timeout_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static double
span_ms (guint64 from, guint64 to)
{
  if (from == 0 || to == 0 || to < from)
    return 0.0;
  return (double)(to - from) / 1000.0;
}

static char *
format_socket_address (GSocketAddress *address)
{
  g_autofree char *ip = NULL;
  GInetAddress *inet;
  guint16 port;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  ip = g_inet_address_to_string (inet);
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

static void
on_network_event (SoupMessage *msg,
                  GSocketClientEvent event,
                  GIOStream *connection,
                  gpointer user_data)
{
  FetchData *data = user_data;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GError) error = NULL;
  gboolean allowed;

  if (event != G_SOCKET_CLIENT_CONNECTING && event != G_SOCKET_CLIENT_CONNECTED)
    return;
  if (!G_IS_SOCKET_CONNECTION (connection))
    return;

  /* GSocketClient caches the destination on the connection before emitting CONNECTING, so this
   * is the address DNS gave, judged before connect(2) and long before any request byte. */
  remote = g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (connection), NULL);
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetAddress *inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));

      allowed = tsq_net_guard_check (data->fetcher->guard, inet, &error);
      g_free (data->response->remote_address);
      data->response->remote_address = format_socket_address (remote);
    }
  else
    {
      /* Fail closed: what cannot be checked is not connected to. */
      allowed = FALSE;
      g_set_error_literal (&error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS,
                           "cannot determine the remote address to check it");
    }

  if (allowed)
    return;

  g_debug ("guard: %s", error->message);
  if (data->guard_error == NULL)
    data->guard_error = g_steal_pointer (&error);
  /* Closing the socket makes the pending connect(2) fail without sending a packet, and the
   * cancel stops GSocketClient from trying the host's other addresses. */
  g_socket_close (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)), NULL);
  g_cancellable_cancel (data->cancellable);
}

static gboolean
on_accept_certificate (SoupMessage *msg,
                       GTlsCertificate *certificate,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  FetchData *data = user_data;

  data->tls_flags_seen |= errors;
  return !data->fetcher->tls_verify;
}

static const char *
http_version_string (SoupHTTPVersion version)
{
  switch (version)
    {
      case SOUP_HTTP_1_0:
        return "HTTP/1.0";
      case SOUP_HTTP_1_1:
        return "HTTP/1.1";
      case SOUP_HTTP_2_0:
        return "HTTP/2";
      default:
        return "HTTP/1.1";
    }
}

/* Copies what the current message knows into the response: status, headers, TLS, timings. */
static void
collect_message (FetchData *data)
{
  TsqFetchResponse *response = data->response;
  SoupMessage *msg = data->msg;
  SoupMessageMetrics *metrics;
  GTlsCertificate *certificate;
  GSocketAddress *remote;
  guint status;

  if (msg == NULL)
    return;

  status = soup_message_get_status (msg);
  if (status >= 100)
    {
      const char *content_type;

      response->status = status;
      g_free (response->http_version);
      response->http_version = g_strdup (http_version_string (soup_message_get_http_version (msg)));
      g_clear_pointer (&response->headers, soup_message_headers_unref);
      response->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
      content_type = soup_message_headers_get_one (response->headers, "Content-Type");
      g_free (response->content_type);
      response->content_type = g_strdup (content_type);
    }

  remote = soup_message_get_remote_address (msg);
  if (remote != NULL)
    {
      g_free (response->remote_address);
      response->remote_address = format_socket_address (remote);
    }

  response->tls_errors = soup_message_get_tls_peer_certificate_errors (msg) | data->tls_flags_seen;
  certificate = soup_message_get_tls_peer_certificate (msg);
  g_clear_pointer (&response->tls_subject, g_free);
  g_clear_pointer (&response->tls_issuer, g_free);
  g_clear_pointer (&response->tls_not_before, g_date_time_unref);
  g_clear_pointer (&response->tls_not_after, g_date_time_unref);
  response->tls_days_left = -1;
  if (certificate != NULL)
    {
      response->tls_subject = g_tls_certificate_get_subject_name (certificate);
      response->tls_issuer = g_tls_certificate_get_issuer_name (certificate);
      response->tls_not_before = g_tls_certificate_get_not_valid_before (certificate);
      response->tls_not_after = g_tls_certificate_get_not_valid_after (certificate);
      if (response->tls_subject == NULL)
        response->tls_subject = g_strdup ("");
      if (response->tls_not_after != NULL)
        {
          g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
          GTimeSpan left = g_date_time_difference (response->tls_not_after, now);

          /* Whole days, rounded down; negative once expired. */
          response->tls_days_left
            = (int)(left >= 0 ? left / G_TIME_SPAN_DAY
                              : -((-left + G_TIME_SPAN_DAY - 1) / G_TIME_SPAN_DAY));
        }
    }

  metrics = soup_message_get_metrics (msg);
  if (metrics != NULL)
    {
      guint64 response_start = soup_message_metrics_get_response_start (metrics);
      guint64 response_end = soup_message_metrics_get_response_end (metrics);

      response->dns_ms = span_ms (soup_message_metrics_get_dns_start (metrics),
                                  soup_message_metrics_get_dns_end (metrics));
      response->connect_ms = span_ms (soup_message_metrics_get_connect_start (metrics),
                                      soup_message_metrics_get_connect_end (metrics));
      response->tls_ms = span_ms (soup_message_metrics_get_tls_start (metrics),
                                  soup_message_metrics_get_connect_end (metrics));
      response->ttfb_ms
        = span_ms (soup_message_metrics_get_request_start (metrics), response_start);
      /* We may stop reading at the cap before libsoup sees the end: then our clock says. */
      if (data->body_end_us > 0 && (response_end == 0 || response_end < response_start))
        response_end = data->body_end_us;
      response->download_ms = span_ms (response_start, response_end);
      response->header_bytes = soup_message_metrics_get_response_header_bytes_received (metrics);
      response->wire_bytes = soup_message_metrics_get_response_body_bytes_received (metrics);
    }
}

static void
disconnect_message (FetchData *data)
{
  if (data->msg != NULL)
    g_signal_handlers_disconnect_by_data (data->msg, data);
}

static void
complete (GTask *task)
{
  FetchData *data = g_task_get_task_data (task);

  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_clear_pointer (&data->timeout_source, g_source_unref);
    }
  if (data->user_handler != 0)
    {
      g_cancellable_disconnect (data->user_cancellable, data->user_handler);
      data->user_handler = 0;
    }

  collect_message (data);
  disconnect_message (data);
  data->response->total_ms = (double)(g_get_monotonic_time () - data->start_us) / 1000.0;

  if (data->pending_error != NULL)
    g_task_return_error (task, g_steal_pointer (&data->pending_error));
  else
    {
      if (data->body != NULL)
        {
          guint len = data->body->len;
          g_autoptr (GBytes) terminated = NULL;

          /* Bodies are text more often than not: keep a NUL after the data (not counted in the
           * size) so consumers may treat them as C strings without copying. */
          data->response->decoded_bytes = len;
          g_byte_array_append (data->body, (const guint8 *) "", 1);
          terminated = g_byte_array_free_to_bytes (g_steal_pointer (&data->body));
          data->response->body = g_bytes_new_from_bytes (terminated, 0, len);
        }
      if (data->response->body == NULL)
        data->response->body = g_bytes_new_static ("", 0);
      g_task_return_pointer (task, g_steal_pointer (&data->response),
                             (GDestroyNotify)tsq_fetch_response_free);
    }
  g_object_unref (task);
}

static void
on_stream_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;

  g_input_stream_close_finish (G_INPUT_STREAM (source), result, NULL);
  complete (task);
}

/* Ends the fetch: closes the body stream if there is one (a body left unread makes libsoup
 * drop that connection instead of reusing it), then returns. error: (transfer full) or NULL. */
static void
finish (GTask *task, GError *error)
{
  FetchData *data = g_task_get_task_data (task);

  if (error != NULL && data->pending_error == NULL)
    data->pending_error = error;
  else if (error != NULL)
    g_error_free (error);

  if (data->stream != NULL)
    {
      g_autoptr (GInputStream) stream = g_steal_pointer (&data->stream);

      g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, on_stream_closed, task);
      return;
    }
  complete (task);
}

static gboolean
is_header_overflow (const GError *error)
{
  g_autofree char *lower = NULL;

  /* libsoup's HTTP/1 reader refuses a header block over its limit (64 KiB in 3.2) with
   * G_IO_ERROR_PARTIAL_INPUT "Header too big"; the message text is the only way to tell. */
  if (error->message == NULL)
    return FALSE;
  lower = g_ascii_strdown (error->message, -1);
  return strstr (lower, "header") != NULL
         && (strstr (lower, "too big") != NULL || strstr (lower, "too large") != NULL
             || strstr (lower, "too long") != NULL);
}

/* Turns a GIO/TLS/libsoup error into a TSQ_FETCH_ERROR. (transfer full) */
static GError *
map_error (FetchData *data, const GError *error)
{
  const char *host = data->uri ? g_uri_get_host (data->uri) : "";

  if (data->guard_error != NULL)
    return g_error_copy (data->guard_error);
  if (data->timed_out)
    return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TIMEOUT,
                        "no complete response within %u s", data->timeout_s);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_new_literal (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CANCELLED, "fetch cancelled");

  if (error->domain == G_RESOLVER_ERROR)
    return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_DNS, "cannot resolve “%s”: %s", host,
                        error->message);

  if (error->domain == G_TLS_ERROR)
    {
      if (data->tls_flags_seen != 0)
        {
          g_autofree char *flags = tsq_tls_flags_to_string (data->tls_flags_seen);

          return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TLS,
                              "TLS certificate of “%s” rejected (%s): %s", host, flags,
                              error->message);
        }
      return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TLS, "TLS error with “%s”: %s", host,
                          error->message);
    }

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
          case G_IO_ERROR_CONNECTION_REFUSED:
            return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION_REFUSED,
                                "connection to “%s” refused: %s", host, error->message);
          case G_IO_ERROR_TIMED_OUT:
            return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TIMEOUT, "timed out: %s",
                                error->message);
          case G_IO_ERROR_HOST_NOT_FOUND:
            return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_DNS, "cannot resolve “%s”: %s",
                                host, error->message);
          case G_IO_ERROR_INVALID_DATA:
            return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP, "invalid response data: %s",
                                error->message);
          case G_IO_ERROR_NO_SPACE:
          case G_IO_ERROR_MESSAGE_TOO_LARGE:
            return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HEADERS_TOO_LARGE,
                                "response headers too large: %s", error->message);
          default:
            if (is_header_overflow (error))
              return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HEADERS_TOO_LARGE,
                                  "response headers too large: %s", error->message);
            return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION,
                                "connection to “%s” failed: %s", host, error->message);
        }
    }

  if (error->domain == SOUP_SESSION_ERROR)
    {
      if (is_header_overflow (error))
        return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HEADERS_TOO_LARGE,
                            "response headers too large: %s", error->message);
      return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP, "HTTP protocol error: %s",
                          error->message);
    }

  return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INTERNAL, "%s (%s %d)", error->message,
                      g_quark_to_string (error->domain), error->code);
}

static void read_more (GTask *task);

/* libsoup 3.2 reads a response with "Connection: close" to EOF even when it has a
 * Content-Length, so a server dying mid-body looks like a short, complete body. Compare the
 * bytes that arrived with the announced length. (transfer full) error or NULL. */
static GError *
check_body_complete (FetchData *data)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (data->msg);
  SoupMessageMetrics *metrics = soup_message_get_metrics (data->msg);
  goffset expected;
  guint64 received;

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CHUNKED || metrics == NULL)
    return NULL;
  expected = soup_message_headers_get_content_length (headers);
  if (expected <= 0 || soup_message_headers_get_one (headers, "Content-Length") == NULL)
    return NULL;
  received = soup_message_metrics_get_response_body_bytes_received (metrics);
  if (received >= (guint64)expected)
    return NULL;
  return g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION,
                      "connection closed after %" G_GUINT64_FORMAT " of %" G_GOFFSET_FORMAT
                      " body bytes",
                      received, expected);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  FetchData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      data->body_end_us = g_get_monotonic_time ();
      finish (task, map_error (data, error));
      return;
    }
  if (n == 0)
    {
      data->body_end_us = g_get_monotonic_time ();
      finish (task, check_body_complete (data));
      return;
    }
  if (data->body->len + (gsize)n > data->cap)
    {
      /* One byte past the cap was asked for only to learn that there is more. */
      g_byte_array_append (data->body, data->buffer, data->cap - data->body->len);
      data->response->truncated = TRUE;
      data->body_end_us = g_get_monotonic_time ();
      if (data->fail_if_truncated)
        finish (task,
                g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BODY_TOO_LARGE,
                             "response body larger than %" G_GSIZE_FORMAT " bytes", data->cap));
      else
        finish (task, NULL);
      return;
    }
  g_byte_array_append (data->body, data->buffer, n);
  read_more (task);
}

static void
read_more (GTask *task)
{
  FetchData *data = g_task_get_task_data (task);
  gsize want = MIN ((gsize)READ_CHUNK, data->cap - data->body->len + 1);

  g_input_stream_read_async (data->stream, data->buffer, want, G_PRIORITY_DEFAULT,
                             data->cancellable, on_read, task);
}

static gboolean
is_redirect (guint status)
{
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Returns TRUE when a redirect was followed (a new hop is in flight) or the fetch ended. */
static gboolean
maybe_follow_redirect (GTask *task, GInputStream *stream)
{
  FetchData *data = g_task_get_task_data (task);
  TsqFetcher *self = data->fetcher;
  guint status = soup_message_get_status (data->msg);
  const char *location;
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) target = NULL;
  g_autofree char *target_string = NULL;
  TsqRedirect *redirect;

  if (data->no_redirects || !is_redirect (status))
    return FALSE;
  location
    = soup_message_headers_get_one (soup_message_get_response_headers (data->msg), "Location");
  if (location == NULL || *location == '\0')
    return FALSE; /* a 3xx without Location is a final answer */

  collect_message (data);
  redirect = g_new0 (TsqRedirect, 1);
  redirect->url = g_uri_to_string (data->uri);
  redirect->status = status;
  g_ptr_array_add (data->response->redirects, redirect);

  /* The rest of this hop is not needed; closing drops its connection, which is fine. */
  g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);

  target = g_uri_parse_relative (data->uri, location, SOUP_HTTP_URI_FLAGS, &error);
  if (target == NULL)
    {
      finish (task,
              g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL,
                           "redirect to an invalid Location “%s”: %s", location, error->message));
      return TRUE;
    }
  target_string = g_uri_to_string (target);
  g_clear_pointer (&target, g_uri_unref);
  target = parse_http_url (target_string, &error);
  if (target == NULL)
    {
      g_prefix_error (&error, "redirect from %s: ", redirect->url);
      finish (task, g_steal_pointer (&error));
      return TRUE;
    }
  g_free (target_string);
  target_string = g_uri_to_string (target);

  if (g_hash_table_contains (data->visited, target_string))
    {
      finish (task,
              g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_REDIRECT_LOOP,
                           "redirect loop: %s redirects back to %s", redirect->url, target_string));
      return TRUE;
    }
  if (data->response->redirects->len > self->max_redirects)
    {
      finish (task, g_error_new (TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TOO_MANY_REDIRECTS,
                                 "more than %u redirects (next: %s)", self->max_redirects,
                                 target_string));
      return TRUE;
    }
  if (!guard_literal_host (self->guard, target, &error))
    {
      g_free (data->response->final_url);
      data->response->final_url = g_strdup (target_string);
      finish (task, g_steal_pointer (&error));
      return TRUE;
    }

  g_hash_table_add (data->visited, g_strdup (target_string));
  g_clear_pointer (&data->uri, g_uri_unref);
  data->uri = g_steal_pointer (&target);
  g_free (data->response->final_url);
  data->response->final_url = g_steal_pointer (&target_string);
  send_hop (task);
  return TRUE;
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  FetchData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (stream == NULL)
    {
      finish (task, map_error (data, error));
      return;
    }
  if (maybe_follow_redirect (task, stream))
    return;

  data->stream = g_steal_pointer (&stream);
  data->body = g_byte_array_new ();
  data->buffer = g_malloc (READ_CHUNK);
  read_more (task);
}

static void
send_hop (GTask *task)
{
  FetchData *data = g_task_get_task_data (task);
  SoupMessageHeaders *headers;

  disconnect_message (data);
  g_clear_object (&data->msg);

  data->msg = soup_message_new_from_uri (SOUP_METHOD_GET, data->uri);
  soup_message_set_flags (data->msg, SOUP_MESSAGE_NO_REDIRECT | SOUP_MESSAGE_COLLECT_METRICS);
  headers = soup_message_get_request_headers (data->msg);
  soup_message_headers_replace (headers, "Accept", data->accept ? data->accept : DEFAULT_ACCEPT);
  /* SoupContentDecoder offers br only over https; we want it everywhere it can be decoded. */
  soup_message_headers_replace (headers, "Accept-Encoding", accept_encoding ());
  if (data->if_none_match != NULL)
    soup_message_headers_replace (headers, "If-None-Match", data->if_none_match);
  if (data->if_modified_since != NULL)
    soup_message_headers_replace (headers, "If-Modified-Since", data->if_modified_since);

  g_signal_connect (data->msg, "network-event", G_CALLBACK (on_network_event), data);
  g_signal_connect (data->msg, "accept-certificate", G_CALLBACK (on_accept_certificate), data);

  soup_session_send_async (data->fetcher->session, data->msg, G_PRIORITY_DEFAULT, data->cancellable,
                           on_sent, task);
}

void
tsq_fetcher_fetch_async (TsqFetcher *self,
                         const char *url,
                         const TsqFetchRequest *request,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  FetchData *data;
  g_autoptr (GUri) uri = NULL;
  g_autofree char *uri_string = NULL;

  g_return_if_fail (TSQ_IS_FETCHER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  /* No cancellable on the task: its errors are ours (TSQ_FETCH_ERROR_CANCELLED). */
  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, tsq_fetcher_fetch_async);

  data = g_new0 (FetchData, 1);
  data->fetcher = g_object_ref (self);
  data->response = tsq_fetch_response_new (url ? url : "");
  data->visited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  data->cancellable = g_cancellable_new ();
  data->start_us = g_get_monotonic_time ();
  data->cap = self->max_body_bytes;
  data->timeout_s = self->timeout_s;
  if (request != NULL)
    {
      if (request->max_body_bytes > 0)
        data->cap = request->max_body_bytes;
      if (request->timeout_s > 0)
        data->timeout_s = request->timeout_s;
      data->no_redirects = request->no_redirects;
      data->fail_if_truncated = request->fail_if_truncated;
      data->if_none_match = g_strdup (request->if_none_match);
      data->if_modified_since = g_strdup (request->if_modified_since);
      data->accept = g_strdup (request->accept);
    }
  g_task_set_task_data (task, data, fetch_data_free);

  uri = parse_http_url (url, &error);
  if (uri == NULL || !guard_literal_host (self->guard, uri, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  uri_string = g_uri_to_string (uri);
  g_hash_table_add (data->visited, g_strdup (uri_string));
  g_free (data->response->final_url);
  data->response->final_url = g_steal_pointer (&uri_string);
  data->uri = g_steal_pointer (&uri);

  if (cancellable != NULL)
    {
      CancelForward *forward = g_new0 (CancelForward, 1);

      forward->context = g_main_context_ref (g_task_get_context (task));
      forward->internal = g_object_ref (data->cancellable);
      data->user_cancellable = g_object_ref (cancellable);
      data->user_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_user_cancelled),
                                                  forward, cancel_forward_free);
    }

  data->timeout_source = g_timeout_source_new_seconds (data->timeout_s);
  g_source_set_callback (data->timeout_source, on_timeout, data, NULL);
  g_source_set_name (data->timeout_source, "[tsq] fetch timeout");
  g_source_attach (data->timeout_source, g_task_get_context (task));

  send_hop (g_steal_pointer (&task));
}

TsqFetchResponse *
tsq_fetcher_fetch_finish_full (TsqFetcher *self,
                               GAsyncResult *result,
                               TsqFetchResponse **partial_out,
                               GError **error)
{
  TsqFetchResponse *response;

  g_return_val_if_fail (TSQ_IS_FETCHER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  response = g_task_propagate_pointer (G_TASK (result), error);
  if (partial_out != NULL)
    {
      *partial_out = NULL;
      if (response == NULL)
        {
          FetchData *data = g_task_get_task_data (G_TASK (result));

          *partial_out = g_steal_pointer (&data->response);
        }
    }
  return response;
}

TsqFetchResponse *
tsq_fetcher_fetch_finish (TsqFetcher *self, GAsyncResult *result, GError **error)
{
  return tsq_fetcher_fetch_finish_full (self, result, NULL, error);
}
