/* tsq-demo-server.h: the pages the demo monitors watch, served on loopback by the agent itself. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define TSQ_TYPE_DEMO_SERVER (tsq_demo_server_get_type ())
G_DECLARE_FINAL_TYPE (TsqDemoServer, tsq_demo_server, TSQ, DEMO_SERVER, GObject)

/* pages_dir: real saved pages to serve under /pages/ (may be NULL); port 0 picks a free one. */
TsqDemoServer *tsq_demo_server_new (const char *pages_dir, guint16 port, GError **error);
char *tsq_demo_server_get_url (TsqDemoServer *self, const char *path);
/* File names served under /pages/, sorted. */
GPtrArray *tsq_demo_server_list_pages (TsqDemoServer *self);
/* The changing page as served at unix time now_s (exposed for tests). */
char *tsq_demo_changing_page (gint64 now_s);

G_END_DECLS
