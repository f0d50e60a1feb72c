/* fetcher-test.c: the fetcher, SSRF guard and resource cache against real loopback servers.
 *
 * Three kinds of servers: TsqTestServer (well-behaved SoupServer in its own thread), RawServer
 * below (hand-written HTTP over GSocket, for pre-compressed bodies, oversized headers, truncated
 * bodies, conditional requests and counting raw connections) and a TLS SoupServer in the test's
 * own main context. A test resolver maps a few *.test names to chosen addresses, so the guard
 * can be proven to act on the address DNS returned, not only on literal IPs.
 */
#include <string.h>

#include "tsq-fetcher.h"
#include "tsq-resource-cache.h"
#include "tsq-test-server.h"

/* ------------------------------------------------------------------------------------------ */
/* RawServer: one thread accepting, one thread per connection, "Connection: close" always.    */

typedef struct _RawServer RawServer;
typedef void (*RawHandler) (RawServer *server,
                            GSocket *socket,
                            SoupMessageHeaders *request_headers,
                            gpointer user_data);

typedef struct
{
  RawHandler handler;
  gpointer user_data;
  GDestroyNotify destroy;
} RawRoute;

struct _RawServer
{
  GSocket *listener;
  guint16 port;
  char *host;
  GThread *thread;
  GCancellable *cancellable;
  GMutex lock;
  GCond cond;
  guint active;
  guint accepted;
  GHashTable *routes; /* path -> RawRoute */
  GHashTable *hits;   /* path -> count */
  char *last_request;
  const char *instant_reply; /* if set: answer the first bytes with this, whatever they are */
};

static void
raw_route_free (gpointer pointer)
{
  RawRoute *route = pointer;

  if (route->destroy)
    route->destroy (route->user_data);
  g_free (route);
}

static void
send_all (GSocket *socket, const void *data, gsize len)
{
  const char *p = data;

  while (len > 0)
    {
      gssize n = g_socket_send (socket, p, len, NULL, NULL);

      if (n <= 0)
        return;
      p += n;
      len -= n;
    }
}

static void
send_string (GSocket *socket, const char *text)
{
  send_all (socket, text, strlen (text));
}

/* Sleeps up to ms, returning early (FALSE) when the server is shutting down. */
static gboolean
raw_server_wait (RawServer *self, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;
  gboolean stopping;

  g_mutex_lock (&self->lock);
  while (!g_cancellable_is_cancelled (self->cancellable))
    if (!g_cond_wait_until (&self->cond, &self->lock, end))
      break;
  stopping = g_cancellable_is_cancelled (self->cancellable);
  g_mutex_unlock (&self->lock);
  return !stopping;
}

typedef struct
{
  RawServer *server;
  GSocket *socket;
} Connection;

static gpointer
connection_thread (gpointer pointer)
{
  Connection *conn = pointer;
  RawServer *self = conn->server;
  GString *head = g_string_new (NULL);
  char buffer[4096];
  char *end = NULL;
  g_autoptr (SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree char *method = NULL;
  g_autofree char *path = NULL;
  RawRoute route = { 0 };
  gboolean found = FALSE;

  g_socket_set_timeout (conn->socket, 10);
  if (self->instant_reply != NULL)
    {
      /* Like nginx on a plain port: whatever came (a TLS ClientHello), answer 400 at once. */
      if (g_socket_receive (conn->socket, buffer, sizeof buffer, NULL, NULL) > 0)
        send_string (conn->socket, self->instant_reply);
    }
  while (self->instant_reply == NULL && head->len < 256 * 1024
         && (end = strstr (head->str, "\r\n\r\n")) == NULL)
    {
      gssize n = g_socket_receive (conn->socket, buffer, sizeof buffer, NULL, NULL);

      if (n <= 0)
        break;
      g_string_append_len (head, buffer, n);
    }

  if (end != NULL
      && soup_headers_parse_request (head->str, end + 4 - head->str, headers, &method, &path, NULL)
           == SOUP_STATUS_OK)
    {
      char *query = strchr (path, '?');

      if (query != NULL)
        *query = '\0';
      g_mutex_lock (&self->lock);
      g_hash_table_insert (
        self->hits, g_strdup (path),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->hits, path)) + 1));
      g_free (self->last_request);
      self->last_request = g_strndup (head->str, end - head->str);
      if (g_hash_table_lookup (self->routes, path))
        {
          route = *(RawRoute *)g_hash_table_lookup (self->routes, path);
          found = TRUE;
        }
      g_mutex_unlock (&self->lock);

      /* Handlers get a snapshot of the route; routes are only replaced between fetches. */
      if (found)
        route.handler (self, conn->socket, headers, route.user_data);
      else
        send_string (conn->socket, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n");
    }

  g_socket_shutdown (conn->socket, FALSE, TRUE, NULL);
  /* Let the client read what was sent before the socket disappears. */
  while (g_socket_receive (conn->socket, buffer, sizeof buffer, NULL, NULL) > 0)
    ;
  g_socket_close (conn->socket, NULL);
  g_object_unref (conn->socket);
  g_string_free (head, TRUE);

  g_mutex_lock (&self->lock);
  self->active--;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_free (conn);
  return NULL;
}

static gpointer
accept_thread (gpointer pointer)
{
  RawServer *self = pointer;

  for (;;)
    {
      GSocket *socket = g_socket_accept (self->listener, self->cancellable, NULL);
      Connection *conn;

      if (socket == NULL)
        break;
      conn = g_new0 (Connection, 1);
      conn->server = self;
      conn->socket = socket;
      g_mutex_lock (&self->lock);
      self->accepted++;
      self->active++;
      g_mutex_unlock (&self->lock);
      g_thread_unref (g_thread_new ("raw-conn", connection_thread, conn));
    }
  return NULL;
}

static RawServer *
raw_server_new_on (const char *host)
{
  RawServer *self = g_new0 (RawServer, 1);
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (inet, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->host = g_strdup (host);
  self->cancellable = g_cancellable_new ();
  self->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, raw_route_free);
  self->hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->listener
    = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (self->listener, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (self->listener, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (self->listener, &error);
  g_assert_no_error (error);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  self->thread = g_thread_new ("raw-accept", accept_thread, self);
  return self;
}

static RawServer *
raw_server_new (void)
{
  return raw_server_new_on ("127.0.0.1");
}

static void
raw_server_free (RawServer *self)
{
  g_mutex_lock (&self->lock);
  g_cancellable_cancel (self->cancellable);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_thread_join (self->thread);

  g_mutex_lock (&self->lock);
  while (self->active > 0)
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);

  g_socket_close (self->listener, NULL);
  g_object_unref (self->listener);
  g_object_unref (self->cancellable);
  g_hash_table_unref (self->routes);
  g_hash_table_unref (self->hits);
  g_free (self->last_request);
  g_free (self->host);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RawServer, raw_server_free)

static void
raw_server_route (
  RawServer *self, const char *path, RawHandler handler, gpointer user_data, GDestroyNotify destroy)
{
  RawRoute *route = g_new0 (RawRoute, 1);

  route->handler = handler;
  route->user_data = user_data;
  route->destroy = destroy;
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->routes, g_strdup (path), route);
  g_mutex_unlock (&self->lock);
}

static char *
raw_server_url (RawServer *self, const char *path)
{
  return g_strdup_printf ("http://%s:%u%s", self->host, self->port, path);
}

static guint
raw_server_hits (RawServer *self, const char *path)
{
  guint hits;

  g_mutex_lock (&self->lock);
  hits = GPOINTER_TO_UINT (g_hash_table_lookup (self->hits, path));
  g_mutex_unlock (&self->lock);
  return hits;
}

static guint
raw_server_accepted (RawServer *self)
{
  guint accepted;

  g_mutex_lock (&self->lock);
  accepted = self->accepted;
  g_mutex_unlock (&self->lock);
  return accepted;
}

static char *
raw_server_last_request (RawServer *self)
{
  char *copy;

  g_mutex_lock (&self->lock);
  copy = g_strdup (self->last_request);
  g_mutex_unlock (&self->lock);
  return copy;
}

/* Handler: sends user_data (GBytes) verbatim. */
static void
handle_canned (RawServer *server,
               GSocket *socket,
               SoupMessageHeaders *request_headers,
               gpointer user_data)
{
  gsize len;
  const void *data = g_bytes_get_data (user_data, &len);

  send_all (socket, data, len);
}

static void
raw_server_canned (RawServer *self,
                   const char *path,
                   const char *head, /* status line and headers, without the blank line */
                   GBytes *body)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *full_head
    = g_strdup_printf ("%s\r\nContent-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n",
                       head, body ? g_bytes_get_size (body) : 0);

  g_byte_array_append (out, (const guint8 *)full_head, strlen (full_head));
  if (body != NULL)
    g_byte_array_append (out, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  raw_server_route (self, path, handle_canned, g_byte_array_free_to_bytes (g_steal_pointer (&out)),
                    (GDestroyNotify)g_bytes_unref);
}

/* Handler: a cacheable resource answering conditional requests like a real server. */
typedef struct
{
  char *body;
  char *etag;
  char *last_modified;
  char *cache_control;
} Resource;

static void
resource_free (gpointer pointer)
{
  Resource *resource = pointer;

  g_free (resource->body);
  g_free (resource->etag);
  g_free (resource->last_modified);
  g_free (resource->cache_control);
  g_free (resource);
}

static void
handle_resource (RawServer *server,
                 GSocket *socket,
                 SoupMessageHeaders *request_headers,
                 gpointer user_data)
{
  Resource *resource = user_data;
  const char *if_none_match = soup_message_headers_get_one (request_headers, "If-None-Match");
  const char *if_modified_since
    = soup_message_headers_get_one (request_headers, "If-Modified-Since");
  g_autoptr (GString) head = g_string_new (NULL);
  gboolean not_modified = FALSE;

  if (if_none_match != NULL)
    not_modified = resource->etag && strcmp (if_none_match, resource->etag) == 0;
  else if (if_modified_since != NULL)
    not_modified
      = resource->last_modified && strcmp (if_modified_since, resource->last_modified) == 0;

  g_string_append (head, not_modified ? "HTTP/1.1 304 Not Modified\r\n" : "HTTP/1.1 200 OK\r\n");
  g_string_append (head, "Content-Type: application/javascript\r\nConnection: close\r\n");
  if (resource->etag)
    g_string_append_printf (head, "ETag: %s\r\n", resource->etag);
  if (resource->last_modified)
    g_string_append_printf (head, "Last-Modified: %s\r\n", resource->last_modified);
  if (resource->cache_control)
    g_string_append_printf (head, "Cache-Control: %s\r\n", resource->cache_control);
  if (not_modified)
    {
      g_string_append (head, "\r\n");
      send_string (socket, head->str);
      return;
    }
  g_string_append_printf (head, "Content-Length: %zu\r\n\r\n", strlen (resource->body));
  send_string (socket, head->str);
  send_string (socket, resource->body);
}

static void
raw_server_resource (RawServer *self,
                     const char *path,
                     const char *body,
                     const char *etag,
                     const char *last_modified,
                     const char *cache_control)
{
  Resource *resource = g_new0 (Resource, 1);

  resource->body = g_strdup (body);
  resource->etag = g_strdup (etag);
  resource->last_modified = g_strdup (last_modified);
  resource->cache_control = g_strdup (cache_control);
  raw_server_route (self, path, handle_resource, resource, resource_free);
}

/* ------------------------------------------------------------------------------------------ */
/* TestResolver: *.test names to fixed addresses, everything else to the system resolver.     */

typedef struct
{
  GResolver parent_instance;
  GResolver *fallback;
  GHashTable *names; /* name -> address string */
} TestResolver;

typedef struct
{
  GResolverClass parent_class;
} TestResolverClass;

static GType test_resolver_get_type (void);
G_DEFINE_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER)

static GList *
test_resolver_lookup_with_flags (GResolver *resolver,
                                 const char *hostname,
                                 GResolverNameLookupFlags flags,
                                 GCancellable *cancellable,
                                 GError **error)
{
  TestResolver *self = (TestResolver *)resolver;
  const char *address = g_hash_table_lookup (self->names, hostname);
  GInetAddress *inet;

  if (address == NULL)
    return g_resolver_lookup_by_name_with_flags (self->fallback, hostname, flags, cancellable,
                                                 error);
  inet = g_inet_address_new_from_string (address);
  if ((flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY
       && g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV4)
      || (flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY
          && g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV6))
    {
      g_object_unref (inet);
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                   "no address of that family");
      return NULL;
    }
  return g_list_append (NULL, inet);
}

static GList *
test_resolver_lookup (GResolver *resolver,
                      const char *hostname,
                      GCancellable *cancellable,
                      GError **error)
{
  return test_resolver_lookup_with_flags (resolver, hostname, G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT,
                                          cancellable, error);
}

static void
free_address_list (gpointer list)
{
  g_resolver_free_addresses (list);
}

static void
on_fallback_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  GList *list = g_resolver_lookup_by_name_with_flags_finish (G_RESOLVER (source), result, &error);

  if (list == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, list, free_address_list);
  g_object_unref (task);
}

static void
test_resolver_lookup_with_flags_async (GResolver *resolver,
                                       const char *hostname,
                                       GResolverNameLookupFlags flags,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  TestResolver *self = (TestResolver *)resolver;
  GTask *task = g_task_new (resolver, cancellable, callback, user_data);
  GError *error = NULL;
  GList *list;

  if (!g_hash_table_contains (self->names, hostname))
    {
      g_resolver_lookup_by_name_with_flags_async (self->fallback, hostname, flags, cancellable,
                                                  on_fallback_done, task);
      return;
    }
  list = test_resolver_lookup_with_flags (resolver, hostname, flags, cancellable, &error);
  if (list == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, list, free_address_list);
  g_object_unref (task);
}

static GList *
test_resolver_lookup_finish (GResolver *resolver, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_resolver_lookup_async (GResolver *resolver,
                            const char *hostname,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  test_resolver_lookup_with_flags_async (resolver, hostname, G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT,
                                         cancellable, callback, user_data);
}

static void
test_resolver_class_init (TestResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  resolver_class->lookup_by_name = test_resolver_lookup;
  resolver_class->lookup_by_name_async = test_resolver_lookup_async;
  resolver_class->lookup_by_name_finish = test_resolver_lookup_finish;
  resolver_class->lookup_by_name_with_flags = test_resolver_lookup_with_flags;
  resolver_class->lookup_by_name_with_flags_async = test_resolver_lookup_with_flags_async;
  resolver_class->lookup_by_name_with_flags_finish = test_resolver_lookup_finish;
}

static void
test_resolver_init (TestResolver *self)
{
  self->names = g_hash_table_new (g_str_hash, g_str_equal);
}

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                    */

typedef struct
{
  GMainLoop *loop;
  GAsyncResult *result;
} Waiter;

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Waiter *waiter = user_data;

  waiter->result = g_object_ref (result);
  g_main_loop_quit (waiter->loop);
}

static GAsyncResult *
wait_for (Waiter *waiter)
{
  g_main_loop_run (waiter->loop);
  g_main_loop_unref (waiter->loop);
  return waiter->result;
}

static TsqFetchResponse *
fetch_full (TsqFetcher *fetcher,
            const char *url,
            const TsqFetchRequest *request,
            GCancellable *cancellable,
            TsqFetchResponse **partial,
            GError **error)
{
  Waiter waiter = { g_main_loop_new (g_main_context_get_thread_default (), FALSE), NULL };
  g_autoptr (GAsyncResult) result = NULL;

  tsq_fetcher_fetch_async (fetcher, url, request, cancellable, on_done, &waiter);
  result = wait_for (&waiter);
  return tsq_fetcher_fetch_finish_full (fetcher, result, partial, error);
}

static TsqFetchResponse *
fetch (TsqFetcher *fetcher, const char *url, GError **error)
{
  return fetch_full (fetcher, url, NULL, NULL, NULL, error);
}

static TsqFetcher *
fetcher_with (TsqNetGuard *guard, guint timeout_s)
{
  TsqFetcherOptions options;

  tsq_fetcher_options_init (&options);
  options.guard = guard;
  if (timeout_s > 0)
    options.timeout_s = timeout_s;
  return tsq_fetcher_new (&options);
}

static void
assert_fetch_error (TsqFetcher *fetcher, const char *url, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetchResponse) response = fetch (fetcher, url, &error);

  g_test_message ("%s -> %s", url, error ? error->message : "(no error)");
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, code);
}

static GBytes *
compress (GBytes *input, GZlibCompressorFormat format)
{
  g_autoptr (GZlibCompressor) compressor = g_zlib_compressor_new (format, 9);
  g_autoptr (GInputStream) source = g_memory_input_stream_new_from_bytes (input);
  g_autoptr (GInputStream) converted
    = g_converter_input_stream_new (source, G_CONVERTER (compressor));
  g_autoptr (GOutputStream) sink = g_memory_output_stream_new_resizable ();
  g_autoptr (GError) error = NULL;

  g_output_stream_splice (sink, converted,
                          G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                          NULL, &error);
  g_assert_no_error (error);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (sink));
}

/* A valid brotli stream made of uncompressed meta-blocks (RFC 7932 section 9.2): no encoder
 * library is needed, and the decoder libsoup links still has to parse the format. */
static GBytes *
brotli_stored (GBytes *input)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gsize len;
  const guint8 *data = g_bytes_get_data (input, &len);
  gboolean first = TRUE;
  gsize offset = 0;

  while (offset < len)
    {
      gsize chunk = MIN (len - offset, (gsize)65536);
      guint32 bits = 0;
      guint nbits = 0;
      guint8 bytes[4];

      if (first)
        nbits++; /* WBITS: a single 0 bit means a 16-bit window */
      /* ISLAST = 0, MNIBBLES = 0 (4 nibbles) */
      nbits += 1 + 2;
      bits |= (guint32)(chunk - 1) << nbits; /* MLEN - 1, 16 bits */
      nbits += 16;
      bits |= 1u << nbits; /* ISUNCOMPRESSED */
      nbits += 1;
      for (guint i = 0; i < (nbits + 7) / 8; i++)
        bytes[i] = (bits >> (8 * i)) & 0xff;
      g_byte_array_append (out, bytes, (nbits + 7) / 8);
      g_byte_array_append (out, data + offset, chunk);
      offset += chunk;
      first = FALSE;
    }
  {
    /* ISLAST = 1, ISLASTEMPTY = 1 (after the WBITS bit if the stream had no data) */
    guint8 last = first ? 0x06 : 0x03;

    g_byte_array_append (out, &last, 1);
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static GBytes *
text_body (gsize size)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; text->len < size; i++)
    g_string_append_printf (text, "<p>line %u of a fairly repetitive page</p>\n", i);
  g_string_truncate (text, size);
  return g_string_free_to_bytes (text);
}

static TestResolver *test_resolver;

/* ------------------------------------------------------------------------------------------ */
/* fetch basics                                                                               */

static void
test_fetch_ok (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GBytes) body = g_bytes_new_static ("<html><title>hi</title></html>", 30);
  const char *headers[] = { "X-Test: yes", "Set-Cookie: a=1; HttpOnly", NULL };
  TsqTestRoute route = { .body = body, .headers = headers };
  g_autofree char *url = tsq_test_server_get_url (server, "/page");
  g_autofree char *expected_remote
    = g_strdup_printf ("127.0.0.1:%u", tsq_test_server_get_port (server));
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;

  tsq_test_server_set_route (server, "/page", &route);
  response = fetch (fetcher, url, &error);
  g_assert_no_error (error);
  g_assert_nonnull (response);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (response->url, ==, url);
  g_assert_cmpstr (response->final_url, ==, url);
  g_assert_cmpstr (response->http_version, ==, "HTTP/1.1");
  g_assert_cmpstr (response->content_type, ==, "text/html; charset=utf-8");
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "X-Test"), ==, "yes");
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "Set-Cookie"), ==,
                   "a=1; HttpOnly");
  g_assert_true (g_bytes_equal (response->body, body));
  /* A NUL follows the data, outside the counted size. */
  g_assert_cmpint (((const char *) g_bytes_get_data (response->body, NULL))[30], ==, '\0');
  g_assert_false (response->truncated);
  g_assert_cmpuint (response->decoded_bytes, ==, 30);
  g_assert_cmpuint (response->wire_bytes, ==, 30);
  g_assert_cmpuint (response->header_bytes, >, 50);
  g_assert_cmpuint (response->redirects->len, ==, 0);
  g_assert_cmpstr (response->remote_address, ==, expected_remote);
  g_assert_null (response->tls_subject);
  g_assert_cmpint (response->tls_days_left, ==, -1);
  g_assert_cmpfloat (response->tls_ms, ==, 0.0);
  g_assert_cmpfloat (response->total_ms, >=, response->ttfb_ms);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/page"), ==, 1);

  /* 404 is a response, not a fetch error. */
  g_clear_pointer (&response, tsq_fetch_response_free);
  g_free (url);
  url = tsq_test_server_get_url (server, "/missing");
  response = fetch (fetcher, url, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 404);
}

static void
test_request_headers (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GBytes) body = g_bytes_new_static ("ok", 2);
  g_autofree char *url = raw_server_url (raw, "/h");
  g_autofree char *request = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  TsqFetchRequest conditional
    = { .if_none_match = "\"abc\"", .if_modified_since = "Wed, 21 Oct 2015 07:28:00 GMT" };

  raw_server_canned (raw, "/h", "HTTP/1.1 200 OK\r\nContent-Type: text/plain", body);
  response = fetch_full (fetcher, url, &conditional, NULL, NULL, &error);
  g_assert_no_error (error);
  request = raw_server_last_request (raw);
  g_test_message ("%s", request);
  g_assert_nonnull (strstr (request, "GET /h HTTP/1.1\r\n"));
  g_assert_nonnull (strstr (request, "\r\nUser-Agent: TechScanIQ-Monitor/"));
  g_assert_nonnull (strstr (request, "(+https://techscaniq.example/bot)"));
  g_assert_nonnull (strstr (request, "\r\nAccept: text/html"));
  g_assert_nonnull (strstr (request, "\r\nIf-None-Match: \"abc\""));
  g_assert_nonnull (strstr (request, "\r\nIf-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT"));
  g_assert_nonnull (strstr (request, "gzip"));
  g_assert_nonnull (strstr (request, "deflate"));
}

static void
check_encoded (const char *encoding, GBytes *original, GBytes *encoded)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autofree char *url = raw_server_url (raw, "/enc");
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                           "Content-Encoding: %s",
                                           encoding);
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  raw_server_canned (raw, "/enc", head, encoded);
  response = fetch (fetcher, url, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, g_bytes_get_size (original));
  g_assert_true (g_bytes_equal (response->body, original));
  g_assert_cmpuint (response->decoded_bytes, ==, g_bytes_get_size (original));
  g_assert_cmpuint (response->wire_bytes, ==, g_bytes_get_size (encoded));
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "Content-Encoding"), ==,
                   encoding);
}

static void
test_gzip (void)
{
  g_autoptr (GBytes) original = text_body (200 * 1024);
  g_autoptr (GBytes) gzipped = compress (original, G_ZLIB_COMPRESSOR_FORMAT_GZIP);

  g_assert_cmpuint (g_bytes_get_size (gzipped), <, g_bytes_get_size (original) / 4);
  check_encoded ("gzip", original, gzipped);
}

static void
test_deflate (void)
{
  g_autoptr (GBytes) original = text_body (50 * 1024);
  g_autoptr (GBytes) zlibbed = compress (original, G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
  g_autoptr (GBytes) raw_deflate = compress (original, G_ZLIB_COMPRESSOR_FORMAT_RAW);

  check_encoded ("deflate", original, zlibbed);
  /* Some servers send raw deflate under "deflate"; libsoup accepts both. */
  check_encoded ("deflate", original, raw_deflate);
}

static void
test_brotli (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GBytes) body = g_bytes_new_static ("x", 1);
  g_autofree char *url = raw_server_url (raw, "/probe");
  g_autofree char *request = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GBytes) original = text_body (150 * 1024);
  g_autoptr (GBytes) brotli = brotli_stored (original);

  raw_server_canned (raw, "/probe", "HTTP/1.1 200 OK", body);
  response = fetch (fetcher, url, NULL);
  g_assert_nonnull (response);
  request = raw_server_last_request (raw);
  if (strstr (request, "br") == NULL)
    {
      g_test_skip ("this libsoup does not offer brotli (Accept-Encoding without br)");
      return;
    }
  check_encoded ("br", original, brotli);
}

static void
test_bad_encoding (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GBytes) garbage = g_bytes_new_static ("this is not gzip at all, not even close", 39);
  g_autofree char *url = raw_server_url (raw, "/bad");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  raw_server_canned (raw, "/bad", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip", garbage);
  response = fetch (fetcher, url, &error);
  g_test_message ("bad gzip: %s", error ? error->message : "(no error)");
  /* Either a clean error or (libsoup passing the bytes through) a response: never a crash. */
  if (response == NULL)
    g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP);
}

/* ------------------------------------------------------------------------------------------ */
/* redirects                                                                                  */

static void
set_redirect (TsqTestServer *server, const char *path, guint status, const char *location)
{
  g_autofree char *header = g_strdup_printf ("Location: %s", location);
  const char *headers[] = { header, NULL };
  TsqTestRoute route = { .status = status, .headers = headers };

  tsq_test_server_set_route (server, path, &route);
}

static void
test_redirect_chain (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autofree char *start = tsq_test_server_get_url (server, "/r1");
  g_autofree char *r2 = tsq_test_server_get_url (server, "/dir/r2");
  g_autofree char *r3 = tsq_test_server_get_url (server, "/r3");
  g_autofree char *final = tsq_test_server_get_url (server, "/dir/final?x=1");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) raw3xx = NULL;
  g_autoptr (GError) error = NULL;
  TsqFetchRequest no_redirects = { .no_redirects = TRUE };
  TsqRedirect *hop;

  set_redirect (server, "/r1", 301, "/dir/r2");            /* absolute path */
  set_redirect (server, "/dir/r2", 302, r3);               /* absolute URL */
  set_redirect (server, "/r3", 307, "dir/final?x=1#frag"); /* relative, fragment dropped */
  tsq_test_server_set_html (server, "/dir/final", "<p>done</p>");

  response = fetch (fetcher, start, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (response->url, ==, start);
  g_assert_cmpstr (response->final_url, ==, final);
  g_assert_cmpuint (response->redirects->len, ==, 3);
  hop = g_ptr_array_index (response->redirects, 0);
  g_assert_cmpstr (hop->url, ==, start);
  g_assert_cmpuint (hop->status, ==, 301);
  hop = g_ptr_array_index (response->redirects, 1);
  g_assert_cmpstr (hop->url, ==, r2);
  g_assert_cmpuint (hop->status, ==, 302);
  hop = g_ptr_array_index (response->redirects, 2);
  g_assert_cmpstr (hop->url, ==, r3);
  g_assert_cmpuint (hop->status, ==, 307);
  g_assert_cmpmem (g_bytes_get_data (response->body, NULL), g_bytes_get_size (response->body),
                   "<p>done</p>", 11);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/dir/final"), ==, 1);

  /* no_redirects returns the 3xx itself. */
  raw3xx = fetch_full (fetcher, start, &no_redirects, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (raw3xx->status, ==, 301);
  g_assert_cmpstr (soup_message_headers_get_one (raw3xx->headers, "Location"), ==, "/dir/r2");
  g_assert_cmpuint (raw3xx->redirects->len, ==, 0);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/dir/r2"), ==, 1);
}

static void
test_redirect_loop (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autofree char *start = tsq_test_server_get_url (server, "/a");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GError) error = NULL;

  set_redirect (server, "/a", 302, "/b");
  set_redirect (server, "/b", 302, "/c");
  set_redirect (server, "/c", 302, "/a");
  response = fetch_full (fetcher, start, NULL, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_REDIRECT_LOOP);
  g_assert_cmpstr (tsq_fetch_error_kind (error->code), ==, "redirect_loop");
  g_assert_nonnull (partial);
  g_assert_cmpuint (partial->redirects->len, ==, 3);
  g_assert_cmpuint (partial->status, ==, 302);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/a"), ==, 1);

  /* A self-redirect is a loop too. */
  g_clear_error (&error);
  set_redirect (server, "/self", 301, "/self");
  g_free (start);
  start = tsq_test_server_get_url (server, "/self");
  assert_fetch_error (fetcher, start, TSQ_FETCH_ERROR_REDIRECT_LOOP);
}

static void
test_too_many_redirects (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  TsqFetcherOptions options;
  g_autoptr (TsqFetcher) fetcher = NULL;
  g_autofree char *start = tsq_test_server_get_url (server, "/hop/0");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *path = g_strdup_printf ("/hop/%u", i);
      g_autofree char *next = g_strdup_printf ("/hop/%u", i + 1);

      set_redirect (server, path, 302, next);
    }
  tsq_fetcher_options_init (&options);
  options.max_redirects = 3;
  fetcher = tsq_fetcher_new (&options);

  response = fetch_full (fetcher, start, NULL, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TOO_MANY_REDIRECTS);
  /* Three followed, the fourth refused (listed, not requested). */
  g_assert_cmpuint (partial->redirects->len, ==, 4);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/hop/3"), ==, 1);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/hop/4"), ==, 0);

  /* Exactly max_redirects hops is fine. */
  g_clear_pointer (&partial, tsq_fetch_response_free);
  g_clear_error (&error);
  tsq_test_server_set_html (server, "/hop/3", "end");
  response = fetch (fetcher, start, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->redirects->len, ==, 3);
}

static void
test_redirect_bad_targets (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autofree char *to_file = tsq_test_server_get_url (server, "/to-file");
  g_autofree char *no_location = tsq_test_server_get_url (server, "/no-location");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  TsqTestRoute bare_302 = { .status = 302 };

  set_redirect (server, "/to-file", 302, "file:///etc/passwd");
  assert_fetch_error (fetcher, to_file, TSQ_FETCH_ERROR_UNSUPPORTED_SCHEME);

  /* A 3xx without Location is the final answer. */
  tsq_test_server_set_route (server, "/no-location", &bare_302);
  response = fetch (fetcher, no_location, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 302);
}

/* ------------------------------------------------------------------------------------------ */
/* errors                                                                                     */

static void
handle_slow_headers (RawServer *server,
                     GSocket *socket,
                     SoupMessageHeaders *request_headers,
                     gpointer user_data)
{
  if (raw_server_wait (server, 5000))
    send_string (socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

/* Data keeps flowing, so libsoup's idle timeout never fires: only the whole-request timer can
 * stop this one. */
static void
handle_trickle (RawServer *server,
                GSocket *socket,
                SoupMessageHeaders *request_headers,
                gpointer user_data)
{
  send_string (socket, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");
  for (guint i = 0; i < 100 && raw_server_wait (server, 100); i++)
    send_string (socket, "0123456789");
}

static void
test_timeout (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = fetcher_with (NULL, 1);
  g_autofree char *slow = raw_server_url (raw, "/slow");
  g_autofree char *trickle = raw_server_url (raw, "/trickle");
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  raw_server_route (raw, "/slow", handle_slow_headers, NULL, NULL);
  raw_server_route (raw, "/trickle", handle_trickle, NULL, NULL);
  assert_fetch_error (fetcher, slow, TSQ_FETCH_ERROR_TIMEOUT);

  response = fetch_full (fetcher, trickle, NULL, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TIMEOUT);
  g_assert_cmpstr (tsq_fetch_error_kind (error->code), ==, "timeout");
  /* The headers had come: the partial response says so. */
  g_assert_cmpuint (partial->status, ==, 200);
}

static gboolean
cancel_soon (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

static gpointer
cancel_from_thread (gpointer cancellable)
{
  g_usleep (50 * 1000);
  g_cancellable_cancel (cancellable);
  return NULL;
}

/* Never answers (until the server shuts down): only a cancel ends the fetch early. */
static void
handle_hang (RawServer *server,
             GSocket *socket,
             SoupMessageHeaders *request_headers,
             gpointer user_data)
{
  raw_server_wait (server, 60 * 1000);
}

static void
test_cancel (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GCancellable) already = g_cancellable_new ();
  g_autoptr (GCancellable) threaded = g_cancellable_new ();
  g_autofree char *hang = raw_server_url (raw, "/hang");
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;
  Waiter waiter = { g_main_loop_new (NULL, FALSE), NULL };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GSource) source = g_timeout_source_new (100);
  GThread *thread;

  raw_server_route (raw, "/hang", handle_hang, NULL, NULL);
  tsq_fetcher_fetch_async (fetcher, hang, NULL, cancellable, on_done, &waiter);
  g_source_set_callback (source, cancel_soon, cancellable, NULL);
  g_source_attach (source, NULL);
  result = wait_for (&waiter);
  response = tsq_fetcher_fetch_finish (fetcher, result, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CANCELLED);

  g_clear_error (&error);
  g_cancellable_cancel (already);
  response = fetch_full (fetcher, hang, NULL, already, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CANCELLED);

  /* Cancelled from another thread: forwarded to the fetch's context. */
  g_clear_error (&error);
  thread = g_thread_new ("cancel", cancel_from_thread, threaded);
  response = fetch_full (fetcher, hang, NULL, threaded, NULL, &error);
  g_thread_join (thread);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CANCELLED);
}

static void
test_connection_refused (void)
{
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GSocket) socket
    = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;

  /* A port that was free a moment ago and has no listener. */
  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  url = g_strdup_printf ("http://127.0.0.1:%u/",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);
  assert_fetch_error (fetcher, url, TSQ_FETCH_ERROR_CONNECTION_REFUSED);
}

static void
test_dns_failure (void)
{
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);

  assert_fetch_error (fetcher, "http://no-such-host.invalid/", TSQ_FETCH_ERROR_DNS);
}

static void
test_invalid_urls (void)
{
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  const char *invalid[] = {
    "",
    "not a url",
    "example.com/page",
    "localhost:8080/x",
    "http://",
    "http:///path",
    "https://exa mple.com/",
    "http://[::1/",
    "http://host:99999999/",
    "//example.com/",
    "http://%zz/",
  };
  const char *unsupported[] = {
    "ftp://example.com/file", "file:///etc/passwd",    "data:text/html,<p>hi</p>",
    "javascript:alert(1)",    "gopher://example.com/", "ws://example.com/",
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    assert_fetch_error (fetcher, invalid[i], TSQ_FETCH_ERROR_INVALID_URL);
  for (guint i = 0; i < G_N_ELEMENTS (unsupported); i++)
    assert_fetch_error (fetcher, unsupported[i], TSQ_FETCH_ERROR_UNSUPPORTED_SCHEME);

  response = fetch (fetcher, NULL, &error);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL);

  for (int code = TSQ_FETCH_ERROR_INVALID_URL; code <= TSQ_FETCH_ERROR_INTERNAL; code++)
    g_assert_cmpstr (tsq_fetch_error_kind (code), !=, "");
  g_assert_cmpstr (tsq_fetch_error_kind (TSQ_FETCH_ERROR_BLOCKED_ADDRESS), ==, "blocked_address");
  g_assert_cmpstr (tsq_fetch_error_kind (TSQ_FETCH_ERROR_CONNECTION_REFUSED), ==,
                   "connection_refused");
  g_assert_cmpstr (tsq_fetch_error_kind (999), ==, "internal");
  g_assert_cmpstr (tsq_fetch_error_kind (-1), ==, "internal");
}

static void
handle_huge_header (RawServer *server,
                    GSocket *socket,
                    SoupMessageHeaders *request_headers,
                    gpointer user_data)
{
  g_autofree char *filler = g_strnfill (200 * 1024, 'a');

  send_string (socket, "HTTP/1.1 200 OK\r\nX-Huge: ");
  send_string (socket, filler);
  send_string (socket, "\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

static void
handle_many_headers (RawServer *server,
                     GSocket *socket,
                     SoupMessageHeaders *request_headers,
                     gpointer user_data)
{
  send_string (socket, "HTTP/1.1 200 OK\r\n");
  for (guint i = 0; i < 20000; i++)
    {
      g_autofree char *line = g_strdup_printf ("X-Header-%u: value\r\n", i);

      send_string (socket, line);
    }
  send_string (socket, "Content-Length: 2\r\nConnection: close\r\n\r\nok");
}

static void
test_huge_headers (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  const char *paths[] = { "/huge", "/many" };

  raw_server_route (raw, "/huge", handle_huge_header, NULL, NULL);
  raw_server_route (raw, "/many", handle_many_headers, NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *url = raw_server_url (raw, paths[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqFetchResponse) response = fetch (fetcher, url, &error);

      g_test_message ("%s: %s", paths[i], error ? error->message : "(no error)");
      g_assert_null (response);
      g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HEADERS_TOO_LARGE);
      g_assert_nonnull (strstr (error->message, "too large"));
    }
}

static void
handle_close_mid_body (RawServer *server,
                       GSocket *socket,
                       SoupMessageHeaders *request_headers,
                       gpointer user_data)
{
  g_autofree char *part = g_strnfill (1000, 'z');

  send_string (socket, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");
  send_string (socket, part);
}

static void
handle_close_mid_body_keepalive (RawServer *server,
                                 GSocket *socket,
                                 SoupMessageHeaders *request_headers,
                                 gpointer user_data)
{
  g_autofree char *part = g_strnfill (1000, 'z');

  send_string (socket, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
  send_string (socket, part);
}

static void
handle_garbage (RawServer *server,
                GSocket *socket,
                SoupMessageHeaders *request_headers,
                gpointer user_data)
{
  send_string (socket, "SSH-2.0-OpenSSH_9.0\r\nthis is not http\r\n\r\n");
}

static void
handle_close_immediately (RawServer *server,
                          GSocket *socket,
                          SoupMessageHeaders *request_headers,
                          gpointer user_data)
{
}

static void
test_broken_responses (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autofree char *mid = raw_server_url (raw, "/mid");
  g_autofree char *mid_keepalive = raw_server_url (raw, "/mid2");
  g_autofree char *garbage = raw_server_url (raw, "/garbage");
  g_autofree char *empty = raw_server_url (raw, "/empty");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GError) error = NULL;

  raw_server_route (raw, "/mid", handle_close_mid_body, NULL, NULL);
  raw_server_route (raw, "/mid2", handle_close_mid_body_keepalive, NULL, NULL);
  raw_server_route (raw, "/garbage", handle_garbage, NULL, NULL);
  raw_server_route (raw, "/empty", handle_close_immediately, NULL, NULL);

  response = fetch_full (fetcher, mid, NULL, NULL, &partial, &error);
  g_test_message ("mid-body: %s", error ? error->message : "(no error)");
  g_assert_null (response);
  g_assert_true (g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION)
                 || g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP));
  g_assert_cmpuint (partial->status, ==, 200);
  g_clear_error (&error);
  g_clear_pointer (&partial, tsq_fetch_response_free);

  response = fetch_full (fetcher, mid_keepalive, NULL, NULL, &partial, &error);
  g_test_message ("mid-body (keep-alive): %s", error ? error->message : "(no error)");
  g_assert_null (response);
  g_assert_true (g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION)
                 || g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP));
  g_assert_cmpuint (partial->status, ==, 200);
  g_clear_error (&error);
  g_clear_pointer (&partial, tsq_fetch_response_free);

  response = fetch_full (fetcher, garbage, NULL, NULL, &partial, &error);
  g_test_message ("garbage: %s", error ? error->message : "(no error)");
  g_assert_null (response);
  g_assert_true (g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP)
                 || g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION));
  g_clear_error (&error);

  response = fetch (fetcher, empty, &error);
  g_test_message ("empty: %s", error ? error->message : "(no error)");
  g_assert_null (response);
  g_assert_true (g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CONNECTION)
                 || g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_HTTP));
}

static void
test_body_cap (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GBytes) big = text_body (300 * 1024);
  TsqTestRoute route = { .body = big };
  g_autofree char *url = tsq_test_server_get_url (server, "/big");
  TsqFetchRequest capped = { .max_body_bytes = 100000 };
  TsqFetchRequest exact = { .max_body_bytes = 300 * 1024 };
  TsqFetchRequest strict = { .max_body_bytes = 1000, .fail_if_truncated = TRUE };
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GError) error = NULL;

  tsq_test_server_set_route (server, "/big", &route);
  response = fetch_full (fetcher, url, &capped, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (response->truncated);
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, 100000);
  g_assert_cmpuint (response->decoded_bytes, ==, 100000);
  g_assert_cmpmem (g_bytes_get_data (response->body, NULL), 100000, g_bytes_get_data (big, NULL),
                   100000);
  g_clear_pointer (&response, tsq_fetch_response_free);

  response = fetch_full (fetcher, url, &exact, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (response->truncated);
  g_assert_true (g_bytes_equal (response->body, big));
  g_clear_pointer (&response, tsq_fetch_response_free);

  response = fetch_full (fetcher, url, &strict, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BODY_TOO_LARGE);
  g_assert_true (partial->truncated);
  g_assert_cmpuint (partial->status, ==, 200);
}

/* Sends chunks until the client goes away (or the server stops): an endless body. */
static void
handle_endless (RawServer *server,
                GSocket *socket,
                SoupMessageHeaders *request_headers,
                gpointer user_data)
{
  g_autofree char *chunk = g_strnfill (8192, 'e');
  g_autofree char *framed = g_strdup_printf ("2000\r\n%s\r\n", chunk);
  gsize len = strlen (framed);

  send_string (socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Type: text/html\r\n\r\n");
  g_socket_set_timeout (socket, 2);
  for (guint i = 0; i < 100000 && !g_cancellable_is_cancelled (server->cancellable); i++)
    if (g_socket_send (socket, framed, len, NULL, NULL) != (gssize)len)
      break;
}

/* Once the cap is reached nothing more is downloaded: closing a libsoup body stream would read
 * the rest, so the fetcher must abort the message instead. An endless body proves it. */
static void
test_truncation_stops_download (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = fetcher_with (NULL, 20);
  g_autofree char *url = raw_server_url (raw, "/endless");
  TsqFetchRequest capped = { .max_body_bytes = 50000 };
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  raw_server_route (raw, "/endless", handle_endless, NULL, NULL);
  response = fetch_full (fetcher, url, &capped, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (response->truncated);
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, 50000);
  g_test_message ("wire bytes read for a 50000-byte cap: %" G_GUINT64_FORMAT, response->wire_bytes);
  g_assert_cmpuint (response->wire_bytes, <, 4 * 1024 * 1024);
}

static void
test_binary_body (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  guint8 *data = g_malloc (256 * 1024);
  g_autoptr (GBytes) body = NULL;
  g_autofree char *url = tsq_test_server_get_url (server, "/bin");
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  TsqTestRoute route = { .content_type = "application/octet-stream" };

  for (guint i = 0; i < 256 * 1024; i++)
    data[i] = g_rand_int_range (rand, 0, 256);
  data[0] = 0;
  body = g_bytes_new_take (data, 256 * 1024);
  route.body = body;
  tsq_test_server_set_route (server, "/bin", &route);
  response = fetch (fetcher, url, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (response->content_type, ==, "application/octet-stream");
  g_assert_true (g_bytes_equal (response->body, body));
}

/* ------------------------------------------------------------------------------------------ */
/* TLS                                                                                        */

static GTlsCertificate *
test_certificate (void)
{
  g_autofree char *cert = g_test_build_filename (G_TEST_DIST, "data", "server.pem", NULL);
  g_autofree char *key = g_test_build_filename (G_TEST_DIST, "data", "server-key.pem", NULL);
  g_autoptr (GError) error = NULL;
  GTlsCertificate *certificate = g_tls_certificate_new_from_files (cert, key, &error);

  g_assert_no_error (error);
  return certificate;
}

static void
tls_handler (SoupServer *server,
             SoupServerMessage *msg,
             const char *path,
             GHashTable *query,
             gpointer user_data)
{
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "<p>secure</p>", 13);
}

static void
test_tls (void)
{
  g_autoptr (GTlsBackend) backend = g_object_ref (g_tls_backend_get_default ());
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (SoupServer) server = NULL;
  g_autoptr (GSList) uris = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetcher) lenient = NULL;
  g_autoptr (TsqFetcher) strict = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GDateTime) now = NULL;
  g_autoptr (GDateTime) not_after = NULL;
  g_autofree char *url = NULL;
  TsqFetcherOptions options;
  int expected_days;

  if (!g_tls_backend_supports_tls (backend))
    {
      g_error ("no TLS backend: install the Debian package glib-networking (tools/install-deps.sh does)");
    }
  certificate = test_certificate ();
  server = soup_server_new ("tls-certificate", certificate, NULL);
  soup_server_add_handler (server, NULL, tls_handler, NULL, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY | SOUP_SERVER_LISTEN_HTTPS,
                            &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("https://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify)g_uri_unref);

  tsq_fetcher_options_init (&options);
  options.tls_verify = FALSE;
  lenient = tsq_fetcher_new (&options);
  response = fetch (lenient, url, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_test_message ("subject %s, issuer %s, days left %d", response->tls_subject,
                  response->tls_issuer, response->tls_days_left);
  g_assert_nonnull (strstr (response->tls_subject, "CN=localhost"));
  g_assert_nonnull (strstr (response->tls_subject, "O=TechScanIQ Tests"));
  g_assert_nonnull (strstr (response->tls_issuer, "CN=TSQ Test CA"));
  g_assert_nonnull (response->tls_not_before);
  g_assert_nonnull (response->tls_not_after);
  g_assert_true (response->tls_errors & G_TLS_CERTIFICATE_UNKNOWN_CA);
  g_assert_cmpfloat (response->tls_ms, >, 0.0);
  g_assert_cmpfloat (response->connect_ms, >=, response->tls_ms);

  /* days_left against the certificate file itself (expected to be ~9000 days). */
  not_after = g_tls_certificate_get_not_valid_after (certificate);
  now = g_date_time_new_now_utc ();
  expected_days = g_date_time_difference (not_after, now) / G_TIME_SPAN_DAY;
  g_assert_cmpint (g_date_time_compare (not_after, response->tls_not_after), ==, 0);
  g_assert_cmpint (ABS (response->tls_days_left - expected_days), <=, 1);
  g_assert_cmpint (response->tls_days_left, >, 1000);

  tsq_fetcher_options_init (&options);
  strict = tsq_fetcher_new (&options);
  g_clear_pointer (&response, tsq_fetch_response_free);
  response = fetch_full (strict, url, NULL, NULL, &partial, &error);
  g_test_message ("strict: %s", error ? error->message : "(no error)");
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_TLS);
  g_assert_nonnull (strstr (error->message, "unknown-ca"));
  g_assert_true (partial->tls_errors & G_TLS_CERTIFICATE_UNKNOWN_CA);

  soup_server_disconnect (server);
}

static void
test_https_to_plain_port (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autofree char *url = g_strdup_printf ("https://127.0.0.1:%u/", raw->port);

  raw->instant_reply = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                       "Content-Length: 11\r\nConnection: close\r\n\r\nbad request";
  assert_fetch_error (fetcher, url, TSQ_FETCH_ERROR_TLS);
  g_assert_cmpuint (raw_server_accepted (raw), ==, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* SSRF guard in the fetcher                                                                  */

static TsqNetGuard *
guard_blocking (const char *first, ...)
{
  TsqNetGuard *guard = tsq_net_guard_new_default ();
  va_list args;

  va_start (args, first);
  for (const char *cidr = first; cidr != NULL; cidr = va_arg (args, const char *))
    g_assert_true (tsq_net_guard_add_blocked (guard, cidr, NULL));
  va_end (args);
  return guard;
}

static void
test_guard_after_dns (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqNetGuard) guard = guard_blocking ("127.0.0.0/8", "::1/128", NULL);
  g_autoptr (TsqFetcher) fetcher = fetcher_with (guard, 5);
  g_autofree char *by_name
    = g_strdup_printf ("http://internal.test:%u/page", tsq_test_server_get_port (server));
  g_autofree char *raw_by_name = g_strdup_printf ("http://internal.test:%u/page", raw->port);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (TsqFetcher) open_fetcher = tsq_fetcher_new (NULL);

  tsq_test_server_set_html (server, "/page", "<p>internal</p>");
  raw_server_canned (raw, "/page", "HTTP/1.1 200 OK", NULL);

  /* The name is not an IP: only the address DNS gives can be judged, at connect time. */
  response = fetch_full (fetcher, by_name, NULL, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "127.0.0.0/8"));
  g_assert_cmpuint (partial->status, ==, 0);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/page"), ==, 0);
  g_clear_error (&error);

  /* The raw server counts connections: not even a TCP connection was made. */
  assert_fetch_error (fetcher, raw_by_name, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  g_assert_cmpuint (raw_server_accepted (raw), ==, 0);
  g_assert_cmpuint (raw_server_hits (raw, "/page"), ==, 0);

  /* The same URLs with the default guard go through (loopback is allowed by default). */
  g_clear_pointer (&response, tsq_fetch_response_free);
  response = fetch (open_fetcher, by_name, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/page"), ==, 1);
  g_clear_pointer (&response, tsq_fetch_response_free);
  response = fetch (open_fetcher, raw_by_name, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (raw_server_accepted (raw), ==, 1);

  /* A name resolving to the metadata address, default guard. */
  assert_fetch_error (open_fetcher, "http://metadata.test/latest/meta-data/",
                      TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
}

static void
test_guard_literals (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqNetGuard) guard = guard_blocking ("127.0.0.0/8", NULL);
  g_autoptr (TsqFetcher) fetcher = fetcher_with (guard, 5);
  g_autoptr (TsqFetcher) open_fetcher = tsq_fetcher_new (NULL);
  g_autofree char *literal = tsq_test_server_get_url (server, "/page");
  g_autofree char *mapped
    = g_strdup_printf ("http://[::ffff:127.0.0.1]:%u/page", tsq_test_server_get_port (server));

  tsq_test_server_set_html (server, "/page", "<p>x</p>");
  assert_fetch_error (fetcher, literal, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  assert_fetch_error (fetcher, mapped, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/page"), ==, 0);

  assert_fetch_error (open_fetcher, "http://169.254.169.254/latest/meta-data/",
                      TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  assert_fetch_error (open_fetcher, "http://[::ffff:169.254.169.254]/latest/meta-data/",
                      TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  assert_fetch_error (open_fetcher, "http://[::ffff:a9fe:a9fe]/", TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  assert_fetch_error (open_fetcher, "http://[fd00:ec2::254]/", TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  assert_fetch_error (open_fetcher, "http://0.0.0.0:1/", TSQ_FETCH_ERROR_BLOCKED_ADDRESS);

  /* Legacy numeric forms (2130706433 == 127.0.0.1, 0x7f.1) are not IP literals to GUri; whether
   * the resolver turns them into 127.0.0.1 or refuses them, no connection may come of it. */
  {
    g_autoptr (RawServer) raw = raw_server_new ();
    const char *forms[] = { "2130706433", "0x7f.1", "017700000001", "127.1" };

    for (guint i = 0; i < G_N_ELEMENTS (forms); i++)
      {
        g_autofree char *url = g_strdup_printf ("http://%s:%u/", forms[i], raw->port);
        g_autoptr (GError) error = NULL;
        g_autoptr (TsqFetchResponse) response = fetch (fetcher, url, &error);

        g_test_message ("%s -> %s", url, error ? error->message : "(no error)");
        g_assert_null (response);
        g_assert_true (g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS)
                       || g_error_matches (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_DNS));
      }
    g_assert_cmpuint (raw_server_accepted (raw), ==, 0);
  }
}

static void
test_guard_redirects (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (RawServer) second = raw_server_new_on ("127.0.0.2");
  g_autoptr (TsqNetGuard) guard = guard_blocking ("127.0.0.2/32", NULL);
  g_autoptr (TsqFetcher) fetcher = fetcher_with (guard, 5);
  g_autofree char *to_meta = tsq_test_server_get_url (server, "/to-meta");
  g_autofree char *to_second = tsq_test_server_get_url (server, "/to-second");
  g_autofree char *second_url = g_strdup_printf ("http://second.test:%u/inside", second->port);
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetcher) open_fetcher = tsq_fetcher_new (NULL);

  set_redirect (server, "/to-meta", 302, "http://169.254.169.254/latest/meta-data/");
  set_redirect (server, "/to-second", 301, second_url);
  raw_server_canned (second, "/inside", "HTTP/1.1 200 OK", NULL);

  response = fetch_full (fetcher, to_meta, NULL, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  g_assert_cmpuint (partial->redirects->len, ==, 1);
  g_assert_cmpuint (((TsqRedirect *)g_ptr_array_index (partial->redirects, 0))->status, ==, 302);
  g_assert_cmpstr (partial->final_url, ==, "http://169.254.169.254/latest/meta-data/");
  g_clear_error (&error);
  g_clear_pointer (&partial, tsq_fetch_response_free);

  /* Redirect to a name that resolves to a blocked address: refused at connect, no connection. */
  response = fetch_full (fetcher, to_second, NULL, NULL, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS);
  g_assert_nonnull (strstr (error->message, "127.0.0.2"));
  g_assert_cmpuint (partial->redirects->len, ==, 1);
  g_assert_cmpuint (tsq_test_server_get_hits (server, "/to-second"), ==, 1);
  g_assert_cmpuint (raw_server_accepted (second), ==, 0);

  /* Control: without the rule the same redirect is followed to the second server. */
  g_clear_error (&error);
  response = fetch (open_fetcher, to_second, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpuint (raw_server_hits (second, "/inside"), ==, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* concurrency                                                                                */

typedef struct
{
  GMainLoop *loop;
  guint pending;
  guint ok;
  guint index;
} Concurrent;

typedef struct
{
  Concurrent *state;
  guint index;
} ConcurrentItem;

static void
on_concurrent_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ConcurrentItem *item = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqFetchResponse) response
    = tsq_fetcher_fetch_finish (TSQ_FETCHER (source), result, &error);
  g_autofree char *expected = g_strdup_printf ("<p>page %u</p>", item->index);

  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpmem (g_bytes_get_data (response->body, NULL), g_bytes_get_size (response->body),
                   expected, strlen (expected));
  item->state->ok++;
  if (--item->state->pending == 0)
    g_main_loop_quit (item->state->loop);
  g_free (item);
}

static void
test_concurrent (void)
{
  g_autoptr (TsqTestServer) server = tsq_test_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  Concurrent state = { g_main_loop_new (NULL, FALSE), 0, 0 };
  const guint count = 120;

  for (guint i = 0; i < count; i++)
    {
      g_autofree char *path = g_strdup_printf ("/c/%u", i);
      g_autofree char *html = g_strdup_printf ("<p>page %u</p>", i);

      tsq_test_server_set_html (server, path, html);
    }
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *path = g_strdup_printf ("/c/%u", i);
      g_autofree char *url = tsq_test_server_get_url (server, path);
      ConcurrentItem *item = g_new0 (ConcurrentItem, 1);

      item->state = &state;
      item->index = i;
      state.pending++;
      tsq_fetcher_fetch_async (fetcher, url, NULL, NULL, on_concurrent_done, item);
    }
  g_main_loop_run (state.loop);
  g_main_loop_unref (state.loop);
  g_assert_cmpuint (state.ok, ==, count);
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *path = g_strdup_printf ("/c/%u", i);

      g_assert_cmpuint (tsq_test_server_get_hits (server, path), ==, 1);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* resource cache                                                                             */

static GPtrArray *
fetch_resources (TsqResourceCache *cache,
                 TsqFetcher *fetcher,
                 const char *page_url,
                 GPtrArray *urls,
                 const TsqResourceLimits *limits,
                 TsqResourceStats *stats)
{
  Waiter waiter = { g_main_loop_new (g_main_context_get_thread_default (), FALSE), NULL };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *resources;

  tsq_resource_cache_fetch_async (cache, fetcher, page_url, urls, limits, NULL, on_done, &waiter);
  result = wait_for (&waiter);
  resources = tsq_resource_cache_fetch_finish (cache, result, stats, &error);
  g_assert_no_error (error);
  return resources;
}

static GPtrArray *
url_list (RawServer *raw, const char *first, ...)
{
  GPtrArray *urls = g_ptr_array_new_with_free_func (g_free);
  va_list args;

  va_start (args, first);
  for (const char *path = first; path != NULL; path = va_arg (args, const char *))
    g_ptr_array_add (urls, path[0] == '/' ? raw_server_url (raw, path) : g_strdup (path));
  va_end (args);
  return urls;
}

static TsqResource *
resource_at (GPtrArray *resources, guint index)
{
  return g_ptr_array_index (resources, index);
}

static void
assert_body (TsqResource *resource, const char *expected)
{
  g_assert_nonnull (resource->body);
  g_assert_cmpmem (g_bytes_get_data (resource->body, NULL), g_bytes_get_size (resource->body),
                   expected, strlen (expected));
}

static void
test_resources_revalidation (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (TsqResourceCache) cache = tsq_resource_cache_new (0);
  g_autofree char *page = raw_server_url (raw, "/index.html");
  g_autofree char *other_origin = g_strdup_printf ("http://internal.test:%u/app.js", raw->port);
  g_autofree char *app_fragment = raw_server_url (raw, "/app.js#main");
  g_autoptr (GPtrArray) urls
    = url_list (raw, "/app.js", "/style.css", "/fresh.js", "/gone.js", other_origin, app_fragment,
                "/app.js", "data:text/javascript,1", "not a url", NULL);
  g_autoptr (GPtrArray) first = NULL;
  g_autoptr (GPtrArray) second = NULL;
  g_autoptr (GPtrArray) third = NULL;
  TsqResourceStats stats;
  const char *lm = "Wed, 21 Oct 2015 07:28:00 GMT";

  raw_server_resource (raw, "/app.js", "var app = 1;", "\"app-v1\"", NULL, "no-cache");
  raw_server_resource (raw, "/style.css", "body{color:red}", NULL, lm, NULL);
  raw_server_resource (raw, "/fresh.js", "var fresh = 1;", "\"f1\"", NULL, "public, max-age=3600");

  /* Scan 1: everything downloaded. */
  first = fetch_resources (cache, fetcher, page, urls, NULL, &stats);
  g_assert_cmpuint (first->len, ==, 4);
  g_assert_cmpstr (resource_at (first, 0)->url, ==, urls->pdata[0]);
  assert_body (resource_at (first, 0), "var app = 1;");
  assert_body (resource_at (first, 1), "body{color:red}");
  assert_body (resource_at (first, 2), "var fresh = 1;");
  g_assert_null (resource_at (first, 3)->body);
  g_assert_cmpuint (resource_at (first, 3)->status, ==, 404);
  g_assert_cmpstr (resource_at (first, 3)->error_kind, ==, "http");
  for (guint i = 0; i < 3; i++)
    {
      g_assert_false (resource_at (first, i)->from_cache);
      g_assert_cmpuint (resource_at (first, i)->status, ==, 200);
      g_assert_null (resource_at (first, i)->error);
    }
  g_assert_cmpuint (stats.fetched, ==, 3);
  g_assert_cmpuint (stats.failed, ==, 1);
  g_assert_cmpuint (stats.filtered, ==, 3); /* other origin, data:, garbage */
  g_assert_cmpuint (stats.not_modified, ==, 0);
  g_assert_cmpuint (stats.cached, ==, 0);
  g_assert_cmpuint (stats.skipped, ==, 0);
  g_assert_cmpuint (stats.bytes, ==, strlen ("var app = 1;body{color:red}var fresh = 1;"));
  g_assert_cmpuint (tsq_resource_cache_get_count (cache), ==, 3);
  g_assert_cmpuint (raw_server_hits (raw, "/app.js"), ==, 1);

  /* Scan 2, nothing changed: no body is downloaded again. */
  second = fetch_resources (cache, fetcher, page, urls, NULL, &stats);
  g_assert_cmpuint (second->len, ==, 4);
  assert_body (resource_at (second, 0), "var app = 1;");
  assert_body (resource_at (second, 1), "body{color:red}");
  assert_body (resource_at (second, 2), "var fresh = 1;");
  g_assert_true (resource_at (second, 0)->not_modified);
  g_assert_true (resource_at (second, 0)->from_cache);
  g_assert_cmpuint (resource_at (second, 0)->status, ==, 304);
  g_assert_true (resource_at (second, 1)->not_modified);
  g_assert_false (resource_at (second, 2)->not_modified);
  g_assert_true (resource_at (second, 2)->from_cache);
  g_assert_cmpuint (stats.fetched, ==, 0);
  g_assert_cmpuint (stats.not_modified, ==, 2);
  g_assert_cmpuint (stats.cached, ==, 1);
  g_assert_cmpuint (stats.failed, ==, 1);
  g_assert_cmpuint (stats.downloaded_bytes, ==, 0);              /* 304s and an empty 404 */
  g_assert_cmpuint (raw_server_hits (raw, "/app.js"), ==, 2);    /* revalidated */
  g_assert_cmpuint (raw_server_hits (raw, "/style.css"), ==, 2); /* revalidated */
  g_assert_cmpuint (raw_server_hits (raw, "/fresh.js"), ==, 1);  /* within max-age: no request */

  /* Scan 3: app.js changed on the server. */
  raw_server_resource (raw, "/app.js", "var app = 2;", "\"app-v2\"", NULL, "no-cache");
  third = fetch_resources (cache, fetcher, page, urls, NULL, &stats);
  assert_body (resource_at (third, 0), "var app = 2;");
  g_assert_false (resource_at (third, 0)->from_cache);
  g_assert_cmpuint (stats.fetched, ==, 1);
  g_assert_cmpuint (stats.not_modified, ==, 1);
  g_assert_cmpuint (stats.cached, ==, 1);
  g_assert_cmpuint (raw_server_hits (raw, "/app.js"), ==, 3);
}

static void
test_resources_limits (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (TsqResourceCache) cache = tsq_resource_cache_new (0);
  g_autofree char *page = raw_server_url (raw, "/");
  g_autofree char *big = g_strnfill (3000, 'b');
  g_autoptr (GPtrArray) urls = url_list (raw, "/1.js", "/2.js", "/3.js", "/4.js", NULL);
  g_autoptr (GPtrArray) resources = NULL;
  TsqResourceLimits limits;
  TsqResourceStats stats;

  for (guint i = 1; i <= 4; i++)
    {
      g_autofree char *path = g_strdup_printf ("/%u.js", i);
      g_autofree char *etag = g_strdup_printf ("\"e%u\"", i);

      raw_server_resource (raw, path, big, etag, NULL, NULL);
    }

  /* max_count */
  tsq_resource_limits_init (&limits);
  limits.max_count = 2;
  resources = fetch_resources (cache, fetcher, page, urls, &limits, &stats);
  g_assert_cmpuint (resources->len, ==, 2);
  g_assert_cmpuint (stats.fetched, ==, 2);
  g_assert_cmpuint (stats.skipped, ==, 2);
  g_assert_cmpuint (raw_server_hits (raw, "/3.js"), ==, 0);
  g_clear_pointer (&resources, g_ptr_array_unref);

  /* max_bytes_total: two of 3000 fit in 7000, the rest are skipped in input order. */
  tsq_resource_limits_init (&limits);
  limits.max_bytes_total = 7000;
  resources = fetch_resources (cache, fetcher, page, urls, &limits, &stats);
  g_assert_cmpuint (resources->len, ==, 4);
  g_assert_nonnull (resource_at (resources, 1)->body);
  g_assert_null (resource_at (resources, 2)->body);
  g_assert_cmpstr (resource_at (resources, 2)->error_kind, ==, "skipped");
  g_assert_cmpuint (stats.skipped, ==, 2);
  g_assert_cmpuint (stats.bytes, ==, 6000);
  g_clear_pointer (&resources, g_ptr_array_unref);

  /* max_bytes_each: truncated, and a truncated body is not cached. */
  tsq_resource_cache_clear (cache);
  g_assert_cmpuint (tsq_resource_cache_get_count (cache), ==, 0);
  g_assert_cmpuint (tsq_resource_cache_get_size (cache), ==, 0);
  tsq_resource_limits_init (&limits);
  limits.max_bytes_each = 1000;
  resources = fetch_resources (cache, fetcher, page, urls, &limits, &stats);
  g_assert_cmpuint (resources->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (resource_at (resources, i)->truncated);
      g_assert_cmpuint (g_bytes_get_size (resource_at (resources, i)->body), ==, 1000);
    }
  g_assert_cmpuint (tsq_resource_cache_get_count (cache), ==, 0);
  g_clear_pointer (&resources, g_ptr_array_unref);

  /* third_party */
  {
    g_autofree char *elsewhere = g_strdup_printf ("http://internal.test:%u/1.js", raw->port);
    g_autoptr (GPtrArray) foreign = g_ptr_array_new_with_free_func (g_free);

    g_ptr_array_add (foreign, g_strdup (elsewhere));
    tsq_resource_limits_init (&limits);
    resources = fetch_resources (cache, fetcher, page, foreign, &limits, &stats);
    g_assert_cmpuint (resources->len, ==, 0);
    g_assert_cmpuint (stats.filtered, ==, 1);
    g_clear_pointer (&resources, g_ptr_array_unref);
    limits.third_party = TRUE;
    resources = fetch_resources (cache, fetcher, page, foreign, &limits, &stats);
    g_assert_cmpuint (resources->len, ==, 1);
    g_assert_cmpuint (stats.fetched, ==, 1);
    assert_body (resource_at (resources, 0), big);
  }
}

static void
test_resources_lru (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqFetcher) fetcher = tsq_fetcher_new (NULL);
  g_autoptr (TsqResourceCache) cache = tsq_resource_cache_new (8000);
  g_autofree char *page = raw_server_url (raw, "/");
  g_autofree char *body = g_strnfill (2000, 'l');

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *path = g_strdup_printf ("/lru%u.js", i);
      g_autofree char *etag = g_strdup_printf ("\"l%u\"", i);
      g_autoptr (GPtrArray) urls = url_list (raw, path, NULL);
      g_autoptr (GPtrArray) resources = NULL;
      TsqResourceStats stats;

      raw_server_resource (raw, path, body, etag, NULL, NULL);
      resources = fetch_resources (cache, fetcher, page, urls, NULL, &stats);
      g_assert_cmpuint (stats.fetched, ==, 1);
      g_assert_cmpuint (tsq_resource_cache_get_size (cache), <=, 8000);
    }
  /* Entries of ~2300 accounted bytes: three fit in 8000. */
  g_assert_cmpuint (tsq_resource_cache_get_count (cache), ==, 3);

  /* The most recent one is still cached (304), the oldest was evicted (200). */
  {
    g_autoptr (GPtrArray) urls = url_list (raw, "/lru9.js", "/lru0.js", NULL);
    g_autoptr (GPtrArray) resources = NULL;
    TsqResourceStats stats;

    resources = fetch_resources (cache, fetcher, page, urls, NULL, &stats);
    g_assert_true (resource_at (resources, 0)->not_modified);
    g_assert_false (resource_at (resources, 1)->not_modified);
    g_assert_cmpuint (resource_at (resources, 1)->status, ==, 200);
  }
}

typedef struct
{
  TsqResourceCache *cache;
  RawServer *raw;
  guint ok;
} SharedCache;

static gpointer
scan_thread (gpointer pointer)
{
  SharedCache *shared = pointer;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (TsqFetcher) fetcher = NULL;
  g_autofree char *page = raw_server_url (shared->raw, "/");

  g_main_context_push_thread_default (context);
  fetcher = tsq_fetcher_new (NULL);
  for (guint round = 0; round < 5; round++)
    {
      g_autoptr (GPtrArray) urls = url_list (shared->raw, "/t1.js", "/t2.js", "/t3.js", NULL);
      g_autoptr (GPtrArray) resources = NULL;
      TsqResourceStats stats;

      resources = fetch_resources (shared->cache, fetcher, page, urls, NULL, &stats);
      g_assert_cmpuint (resources->len, ==, 3);
      assert_body (resource_at (resources, 0), "t1");
      assert_body (resource_at (resources, 1), "t2");
      assert_body (resource_at (resources, 2), "t3");
      g_assert_cmpuint (stats.failed, ==, 0);
      shared->ok++;
    }
  g_clear_object (&fetcher);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  return NULL;
}

static void
test_resources_threads (void)
{
  g_autoptr (RawServer) raw = raw_server_new ();
  g_autoptr (TsqResourceCache) cache = tsq_resource_cache_new (0);
  SharedCache shared[3];
  GThread *threads[3];

  raw_server_resource (raw, "/t1.js", "t1", "\"1\"", NULL, NULL);
  raw_server_resource (raw, "/t2.js", "t2", NULL, "Wed, 21 Oct 2015 07:28:00 GMT", NULL);
  raw_server_resource (raw, "/t3.js", "t3", "\"3\"", NULL, "max-age=60");
  for (guint i = 0; i < 3; i++)
    {
      shared[i].cache = cache;
      shared[i].raw = raw;
      shared[i].ok = 0;
      threads[i] = g_thread_new ("scan", scan_thread, &shared[i]);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (shared[i].ok, ==, 5);
    }
  g_assert_cmpuint (tsq_resource_cache_get_count (cache), ==, 3);
  /* max-age=60 resource: at most one download per thread that raced the first store. */
  g_assert_cmpuint (raw_server_hits (raw, "/t3.js"), <=, 3);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  test_resolver = g_object_new (test_resolver_get_type (), NULL);
  test_resolver->fallback = g_resolver_get_default ();
  g_hash_table_insert (test_resolver->names, "internal.test", "127.0.0.1");
  g_hash_table_insert (test_resolver->names, "second.test", "127.0.0.2");
  g_hash_table_insert (test_resolver->names, "metadata.test", "169.254.169.254");
  g_resolver_set_default (G_RESOLVER (test_resolver));

  g_test_add_func ("/tsq/fetcher/ok", test_fetch_ok);
  g_test_add_func ("/tsq/fetcher/request-headers", test_request_headers);
  g_test_add_func ("/tsq/fetcher/gzip", test_gzip);
  g_test_add_func ("/tsq/fetcher/deflate", test_deflate);
  g_test_add_func ("/tsq/fetcher/brotli", test_brotli);
  g_test_add_func ("/tsq/fetcher/bad-encoding", test_bad_encoding);
  g_test_add_func ("/tsq/fetcher/redirect-chain", test_redirect_chain);
  g_test_add_func ("/tsq/fetcher/redirect-loop", test_redirect_loop);
  g_test_add_func ("/tsq/fetcher/too-many-redirects", test_too_many_redirects);
  g_test_add_func ("/tsq/fetcher/redirect-bad-targets", test_redirect_bad_targets);
  g_test_add_func ("/tsq/fetcher/timeout", test_timeout);
  g_test_add_func ("/tsq/fetcher/cancel", test_cancel);
  g_test_add_func ("/tsq/fetcher/connection-refused", test_connection_refused);
  g_test_add_func ("/tsq/fetcher/dns-failure", test_dns_failure);
  g_test_add_func ("/tsq/fetcher/invalid-urls", test_invalid_urls);
  g_test_add_func ("/tsq/fetcher/huge-headers", test_huge_headers);
  g_test_add_func ("/tsq/fetcher/broken-responses", test_broken_responses);
  g_test_add_func ("/tsq/fetcher/body-cap", test_body_cap);
  g_test_add_func ("/tsq/fetcher/truncation-stops-download", test_truncation_stops_download);
  g_test_add_func ("/tsq/fetcher/binary-body", test_binary_body);
  g_test_add_func ("/tsq/fetcher/tls", test_tls);
  g_test_add_func ("/tsq/fetcher/https-to-plain-port", test_https_to_plain_port);
  g_test_add_func ("/tsq/fetcher/guard-after-dns", test_guard_after_dns);
  g_test_add_func ("/tsq/fetcher/guard-literals", test_guard_literals);
  g_test_add_func ("/tsq/fetcher/guard-redirects", test_guard_redirects);
  g_test_add_func ("/tsq/fetcher/concurrent", test_concurrent);
  g_test_add_func ("/tsq/resource-cache/revalidation", test_resources_revalidation);
  g_test_add_func ("/tsq/resource-cache/limits", test_resources_limits);
  g_test_add_func ("/tsq/resource-cache/lru", test_resources_lru);
  g_test_add_func ("/tsq/resource-cache/threads", test_resources_threads);

  return g_test_run ();
}
