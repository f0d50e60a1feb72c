/* tsq-demo-server.c: the pages the demo monitors watch, served on loopback by the agent itself.
 *
 * /pages/NAME       real sites' saved pages (the shared fixtures), unchanged between scans
 * /demo/changing    a page that changes every minute: the jQuery version flips between 3.4.1 and
 *                   3.7.1, an analytics tag comes and goes, a paragraph is rewritten, and
 *                   X-Frame-Options is dropped every other minute. It also carries noise that
 *                   must NOT be reported: a clock, a rotating CSRF token, a nonce, a view counter.
 * /demo/noise       the same noise alone: a monitor on it should never record a content change.
 * /demo/js/...      the linked scripts, with the banners that reveal their versions.
 */
#define G_LOG_DOMAIN "tsq-demo"

#include "tsq-config.h"

#include "tsq-demo-server.h"

struct _TsqDemoServer
{
  GObject parent_instance;
  SoupServer *server;
  char *pages_dir;
  guint16 port;
};

G_DEFINE_FINAL_TYPE (TsqDemoServer, tsq_demo_server, G_TYPE_OBJECT)

static const char *specials[] = {
  "Fresh bread and strong coffee",
  "A new release of our monitoring agent",
  "Winter opening hours",
  "Free shipping on every order this week",
};

static char *
noise_block (gint64 now_s)
{
  g_autoptr (GDateTime) now = g_date_time_new_from_unix_utc (now_s);
  g_autofree char *clock = g_date_time_format (now, "%Y-%m-%d %H:%M:%S UTC");
  g_autofree char *token = g_uuid_string_random ();
  guint32 nonce = g_random_int ();

  return g_strdup_printf ("<p class=\"updated\">Last updated %s</p>\n"
                          "<p class=\"views\">%u views</p>\n"
                          "<form action=\"/demo/subscribe\" method=\"post\">"
                          "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
                          "<input name=\"email\"><button>Subscribe</button></form>\n"
                          "<script nonce=\"%08x\">window.renderedAt = %" G_GINT64_FORMAT
                          ";</script>\n",
                          clock, 1000 + g_random_int_range (0, 100000), token, nonce, now_s);
}

char *
tsq_demo_changing_page (gint64 now_s)
{
  gint64 minute = now_s / 60;
  const char *jquery = minute % 2 == 0 ? "3.4.1" : "3.7.1";
  gboolean analytics = minute % 3 == 0;
  g_autofree char *noise = noise_block (now_s);

  return g_strdup_printf (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>TechScanIQ demo shop</title>\n"
    "<meta name=\"generator\" content=\"WordPress 6.1.1\">\n"
    "<link rel=\"stylesheet\" href=\"/demo/css/bootstrap.min.css\">\n"
    "<script src=\"/demo/js/jquery-%s.min.js\"></script>\n"
    "%s"
    "</head><body>\n<h1>Demo shop</h1>\n<p class=\"special\">Today: %s.</p>\n%s"
    "<script>fetch('/api/v1/cart').then(r => r.json());</script>\n"
    "</body></html>\n",
    jquery,
    analytics
      ? "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-DEMO1234\"></script>\n"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('js',new Date());gtag('config','G-DEMO1234');</script>\n"
      : "",
    specials[minute % G_N_ELEMENTS (specials)], noise);
}

static char *
noise_page (gint64 now_s)
{
  g_autofree char *noise = noise_block (now_s);

  return g_strdup_printf (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Noise only</title>"
    "</head><body><h1>Nothing really changes here</h1>\n%s</body></html>\n",
    noise);
}

static void
serve_static (SoupServerMessage *msg, const char *type, const char *body)
{
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "max-age=60");
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body, strlen (body));
}

static void
handle (SoupServer *server,
        SoupServerMessage *msg,
        const char *path,
        GHashTable *query,
        gpointer user_data)
{
  TsqDemoServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;

  soup_message_headers_replace (headers, "Server", "nginx/1.22.1");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");

  if (g_str_equal (path, "/demo/changing"))
    {
      g_autofree char *page = tsq_demo_changing_page (now_s);

      if ((now_s / 60) % 2 == 0)
        soup_message_headers_replace (headers, "X-Frame-Options", "SAMEORIGIN");
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE,
                                        g_steal_pointer (&page), strlen (page));
      return;
    }
  if (g_str_equal (path, "/demo/noise"))
    {
      g_autofree char *page = noise_page (now_s);

      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE,
                                        g_steal_pointer (&page), strlen (page));
      return;
    }
  if (g_str_equal (path, "/demo/js/jquery-3.4.1.min.js"))
    return serve_static (
      msg, "application/javascript",
      "/*! jQuery v3.4.1 | (c) JS Foundation and other contributors | jquery.org/license */\n"
      "!function(e,t){\"use strict\";}(window);\n");
  if (g_str_equal (path, "/demo/js/jquery-3.7.1.min.js"))
    return serve_static (
      msg, "application/javascript",
      "/*! jQuery v3.7.1 | (c) OpenJS Foundation and other contributors | jquery.org/license */\n"
      "!function(e,t){\"use strict\";}(window);\n");
  if (g_str_equal (path, "/demo/css/bootstrap.min.css"))
    return serve_static (
      msg, "text/css",
      "/*!\n * Bootstrap v4.6.1 (https://getbootstrap.com/)\n */\n:root{--blue:#007bff}\n");

  if (g_str_has_prefix (path, "/pages/") && self->pages_dir)
    {
      const char *name = path + strlen ("/pages/");
      g_autofree char *file = NULL;
      char *contents = NULL;
      gsize len = 0;

      if (*name && strchr (name, '/') == NULL && !g_str_has_prefix (name, "."))
        {
          file = g_build_filename (self->pages_dir, name, NULL);
          if (g_file_get_contents (file, &contents, &len, NULL))
            {
              soup_server_message_set_status (msg, 200, NULL);
              soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE,
                                                contents, len);
              return;
            }
        }
    }
  soup_server_message_set_status (msg, 404, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "not found\n", 10);
}

static void
tsq_demo_server_finalize (GObject *object)
{
  TsqDemoServer *self = TSQ_DEMO_SERVER (object);

  if (self->server)
    soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  g_free (self->pages_dir);
  G_OBJECT_CLASS (tsq_demo_server_parent_class)->finalize (object);
}

static void
tsq_demo_server_class_init (TsqDemoServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_demo_server_finalize;
}

static void
tsq_demo_server_init (TsqDemoServer *self)
{
}

TsqDemoServer *
tsq_demo_server_new (const char *pages_dir, guint16 port, GError **error)
{
  g_autoptr (TsqDemoServer) self = g_object_new (TSQ_TYPE_DEMO_SERVER, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = NULL;
  GSList *uris;

  self->pages_dir = g_strdup (pages_dir);
  self->server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (self->server, NULL, handle, self, NULL);
  address = g_inet_socket_address_new (loopback, port);
  if (!soup_server_listen (self->server, address, 0, error))
    return NULL;
  uris = soup_server_get_uris (self->server);
  self->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  return g_steal_pointer (&self);
}

char *
tsq_demo_server_get_url (TsqDemoServer *self, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", self->port, path);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

GPtrArray *
tsq_demo_server_list_pages (TsqDemoServer *self)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = self->pages_dir ? g_dir_open (self->pages_dir, 0, NULL) : NULL;
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    if (g_str_has_suffix (name, ".html"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}
