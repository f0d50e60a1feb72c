/* tsq-test-server.h: a real HTTP server on 127.0.0.1 for tests.
 *
 * It runs SoupServer in its own thread and main context, so a test may drive it from synchronous
 * code or from its own main loop. Routes can change between requests (pages that change between
 * scans) and can misbehave on purpose (slow, huge, redirect loops).
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _TsqTestServer TsqTestServer;

typedef struct
{
  guint status;               /* 0 means 200 */
  const char *content_type;   /* NULL means text/html; charset=utf-8 */
  const char *const *headers; /* NULL-terminated "Name: value" lines */
  GBytes *body;               /* NULL means empty */
  guint delay_ms;             /* wait before answering */
} TsqTestRoute;

TsqTestServer *tsq_test_server_new (void);
void tsq_test_server_free (TsqTestServer *server);
guint16 tsq_test_server_get_port (TsqTestServer *server);
/* Returns "http://127.0.0.1:PORT" + path; path must start with '/'. */
char *tsq_test_server_get_url (TsqTestServer *server, const char *path);
/* Sets (or replaces) the answer for an exact path; thread-safe. */
void tsq_test_server_set_route (TsqTestServer *server, const char *path, const TsqTestRoute *route);
/* Convenience: 200 text/html with the given body. */
void tsq_test_server_set_html (TsqTestServer *server, const char *path, const char *html);
/* Serves every file of dir under prefix ("/pages/" + file name). */
void tsq_test_server_serve_dir (TsqTestServer *server, const char *prefix, const char *dir);
/* Routes requests under path to callback, run in the server's own thread (receivers that need
 * to look at each request: webhooks, APIs). Thread-safe; returns once installed. */
void tsq_test_server_add_handler (TsqTestServer *server,
                                  const char *path,
                                  SoupServerCallback callback,
                                  gpointer user_data);
/* Number of requests received for path so far (any method). */
guint tsq_test_server_get_hits (TsqTestServer *server, const char *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqTestServer, tsq_test_server_free)

G_END_DECLS
