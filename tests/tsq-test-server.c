/* tsq-test-server.c: a real HTTP server on 127.0.0.1 for tests, in its own thread. */
#define G_LOG_DOMAIN "tsq-test-server"

#include "tsq-test-server.h"

typedef struct
{
  guint status;
  char *content_type;
  GStrv headers;
  GBytes *body;
  guint delay_ms;
} Route;

struct _TsqTestServer
{
  GMutex lock;
  GCond cond;
  GHashTable *routes; /* path -> Route */
  GHashTable *hits;   /* path -> count */
  char *dir_prefix;
  char *dir;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;
  guint16 port;
};

static void
route_free (gpointer data)
{
  Route *route = data;

  g_free (route->content_type);
  g_strfreev (route->headers);
  g_clear_pointer (&route->body, g_bytes_unref);
  g_free (route);
}

static Route *
route_copy (const Route *route)
{
  Route *copy = g_new0 (Route, 1);

  copy->status = route->status;
  copy->content_type = g_strdup (route->content_type);
  copy->headers = g_strdupv (route->headers);
  copy->body = route->body ? g_bytes_ref (route->body) : NULL;
  copy->delay_ms = route->delay_ms;
  return copy;
}

static void
answer (SoupServerMessage *msg, const Route *route)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize len = 0;
  const char *data = route->body ? g_bytes_get_data (route->body, &len) : "";

  soup_server_message_set_status (msg, route->status ? route->status : 200, NULL);
  for (guint i = 0; route->headers && route->headers[i]; i++)
    {
      g_auto (GStrv) kv = g_strsplit (route->headers[i], ":", 2);

      if (kv[0] && kv[1])
        soup_message_headers_append (headers, g_strstrip (kv[0]), g_strstrip (kv[1]));
    }
  soup_server_message_set_response (
    msg, route->content_type ? route->content_type : "text/html; charset=utf-8", SOUP_MEMORY_COPY,
    data, len);
}

typedef struct
{
  SoupServer *server;
  SoupServerMessage *msg;
  Route *route;
} Delayed;

static gboolean
answer_later (gpointer data)
{
  Delayed *delayed = data;

  answer (delayed->msg, delayed->route);
  soup_server_message_unpause (delayed->msg);
  return G_SOURCE_REMOVE;
}

/* Also runs when the server stops with the answer still pending. */
static void
delayed_free (gpointer data)
{
  Delayed *delayed = data;

  g_object_unref (delayed->msg);
  route_free (delayed->route);
  g_free (delayed);
}

static void
handle (SoupServer *soup_server,
        SoupServerMessage *msg,
        const char *path,
        GHashTable *query,
        gpointer user_data)
{
  TsqTestServer *self = user_data;
  Route *route = NULL;
  g_autofree char *file = NULL;

  g_mutex_lock (&self->lock);
  g_hash_table_insert (
    self->hits, g_strdup (path),
    GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->hits, path)) + 1));
  if (g_hash_table_lookup (self->routes, path))
    route = route_copy (g_hash_table_lookup (self->routes, path));
  else if (self->dir_prefix && g_str_has_prefix (path, self->dir_prefix))
    {
      const char *name = path + strlen (self->dir_prefix);

      if (*name && !strstr (name, "..") && !strchr (name, '/'))
        file = g_build_filename (self->dir, name, NULL);
    }
  g_mutex_unlock (&self->lock);

  if (route == NULL && file != NULL)
    {
      char *contents = NULL;
      gsize len = 0;

      if (g_file_get_contents (file, &contents, &len, NULL))
        {
          Route file_route = { 200, NULL, NULL, g_bytes_new_take (contents, len), 0 };

          answer (msg, &file_route);
          g_bytes_unref (file_route.body);
          return;
        }
    }

  if (route == NULL)
    {
      soup_server_message_set_status (msg, 404, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "not found", 9);
      return;
    }

  if (route->delay_ms > 0)
    {
      Delayed *delayed = g_new0 (Delayed, 1);
      g_autoptr (GSource) source = g_timeout_source_new (route->delay_ms);

      delayed->msg = g_object_ref (msg);
      delayed->route = route;
      soup_server_message_pause (msg);
      g_source_set_callback (source, answer_later, delayed, delayed_free);
      g_source_attach (source, self->context);
      return;
    }

  answer (msg, route);
  route_free (route);
}

static gpointer
server_thread (gpointer data)
{
  TsqTestServer *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

TsqTestServer *
tsq_test_server_new (void)
{
  TsqTestServer *self = g_new0 (TsqTestServer, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSList) uris = NULL;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, route_free);
  self->hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);

  /* The listening socket must be created with the server thread's context as thread-default. */
  g_main_context_push_thread_default (self->context);
  self->server = soup_server_new ("server-header", "tsq-test-server ", NULL);
  soup_server_add_handler (self->server, NULL, handle, self, NULL);
  if (!soup_server_listen_local (self->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("test server: cannot listen: %s", error->message);
  g_main_context_pop_thread_default (self->context);

  uris = soup_server_get_uris (self->server);
  self->port = g_uri_get_port (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify)g_uri_unref);

  self->thread = g_thread_new ("tsq-test-server", server_thread, self);
  return self;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
tsq_test_server_free (TsqTestServer *self)
{
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_callback (source, quit_loop, self->loop, NULL);
  g_source_attach (source, self->context);
  g_thread_join (self->thread);

  g_main_context_push_thread_default (self->context);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);

  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_hash_table_unref (self->routes);
  g_hash_table_unref (self->hits);
  g_free (self->dir_prefix);
  g_free (self->dir);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_free (self);
}

guint16
tsq_test_server_get_port (TsqTestServer *self)
{
  return self->port;
}

char *
tsq_test_server_get_url (TsqTestServer *self, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", self->port, path);
}

void
tsq_test_server_set_route (TsqTestServer *self, const char *path, const TsqTestRoute *route)
{
  Route copy = {
    route->status, (char *)route->content_type, (GStrv)route->headers, route->body, route->delay_ms,
  };

  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->routes, g_strdup (path), route_copy (&copy));
  g_mutex_unlock (&self->lock);
}

void
tsq_test_server_set_html (TsqTestServer *self, const char *path, const char *html)
{
  g_autoptr (GBytes) body = g_bytes_new (html, strlen (html));
  TsqTestRoute route = { .body = body };

  tsq_test_server_set_route (self, path, &route);
}

void
tsq_test_server_serve_dir (TsqTestServer *self, const char *prefix, const char *dir)
{
  g_mutex_lock (&self->lock);
  g_free (self->dir_prefix);
  g_free (self->dir);
  self->dir_prefix = g_strdup (prefix);
  self->dir = g_strdup (dir);
  g_mutex_unlock (&self->lock);
}

typedef struct
{
  TsqTestServer *server;
  const char *path;
  SoupServerCallback callback;
  gpointer user_data;
  gboolean done;
} AddHandler;

/* SoupServer is not thread-safe: install the handler from the server's own thread. */
static gboolean
add_handler_in_thread (gpointer data)
{
  AddHandler *add = data;

  soup_server_add_handler (add->server->server, add->path, add->callback, add->user_data, NULL);
  g_mutex_lock (&add->server->lock);
  add->done = TRUE;
  g_cond_broadcast (&add->server->cond);
  g_mutex_unlock (&add->server->lock);
  return G_SOURCE_REMOVE;
}

void
tsq_test_server_add_handler (TsqTestServer *self,
                             const char *path,
                             SoupServerCallback callback,
                             gpointer user_data)
{
  AddHandler add = { self, path, callback, user_data, FALSE };

  g_main_context_invoke (self->context, add_handler_in_thread, &add);
  g_mutex_lock (&self->lock);
  while (!add.done)
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);
}

guint
tsq_test_server_get_hits (TsqTestServer *self, const char *path)
{
  guint hits;

  g_mutex_lock (&self->lock);
  hits = GPOINTER_TO_UINT (g_hash_table_lookup (self->hits, path));
  g_mutex_unlock (&self->lock);
  return hits;
}
