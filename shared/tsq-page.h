/* tsq-page.h: the page model, parsed once with libxml2's tolerant HTML parser.
 *
 * tsq_page_parse() is a pure function of its arguments and thread-safe.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

#define TSQ_PAGE_ERROR (tsq_page_error_quark ())

typedef enum
{
  TSQ_PAGE_ERROR_NOT_HTML, /* binary body or binary content type */
} TsqPageError;

GQuark tsq_page_error_quark (void);

typedef struct
{
  char *rel;  /* lower-case, as written otherwise ("" if absent) */
  char *href; /* absolute URL, NULL if missing or unresolvable */
  char *type; /* NULL if absent */
  char *as;   /* NULL if absent */
} TsqPageLink;

typedef struct
{
  char *action; /* absolute; an absent/empty action is the page URL (HTML spec) */
  char *method; /* "GET", "POST" or "DIALOG"; absent/invalid -> "GET" (HTML spec) */
} TsqPageForm;

typedef struct _TsqPage
{
  xmlDoc *doc; /* owned; never NULL (an empty body gives an empty <html>) */
  char *html;  /* the document as valid UTF-8 (decoded with @charset) */
  gsize html_len;
  char *charset;              /* lower-case canonical name, e.g. "utf-8", "windows-1252" */
  char *base_url;             /* page URL, or <base href> resolved against it */
  char *title;                /* first <title>, trimmed, whitespace collapsed; NULL if none/empty */
  GPtrArray *script_src;      /* char*: raw src attribute values as written */
  GPtrArray *script_urls;     /* char*: absolute URLs of external scripts (document order) */
  GPtrArray *inline_scripts;  /* char*: inline JavaScript only (classic and module scripts) */
  GPtrArray *inline_styles;   /* char*: <style> texts */
  GPtrArray *stylesheet_urls; /* char*: absolute hrefs of <link rel=stylesheet> */
  GHashTable *meta;   /* lower-case name|property|http-equiv -> GPtrArray of char* content */
  GPtrArray *links;   /* TsqPageLink*: every <link> */
  GPtrArray *forms;   /* TsqPageForm* */
  GPtrArray *anchors; /* char*: absolute http(s) hrefs of <a>/<area>, de-duplicated */
  GPtrArray *subresource_urls; /* char*: absolute http(s) URLs the page loads, de-duplicated */
  /* Additions beyond the integration contract: */
  GPtrArray *json_ld;      /* char*: texts of <script type=application/ld+json> */
  GPtrArray *data_scripts; /* char*: other inline non-JS script blocks (JSON, templates) */
  char *url;               /* the URL given to tsq_page_parse() (normalized) */
} TsqPage;

/* @body: raw bytes; @content_type: the Content-Type header value or NULL; @url: the final URL.
 * Never fails on garbage markup. Fails with TSQ_PAGE_ERROR_NOT_HTML only when the body is not
 * text (NUL bytes or many control bytes at the start, a known binary magic number) or the content
 * type is a binary one (image/, audio/, video/, font/, application/octet-stream, pdf, zip...). */
TsqPage *tsq_page_parse (GBytes *body, const char *content_type, const char *url, GError **error);
void tsq_page_free (TsqPage *page);

/* Charset detection alone (exposed for tests and the fetcher): BOM, then the Content-Type
 * charset, then <meta charset> / <meta http-equiv=Content-Type> in the first 8 KiB, then
 * "utf-8" if the bytes are valid UTF-8, else "windows-1252". Returns the canonical lower-case
 * name. */
char *tsq_page_detect_charset (const guint8 *data, gsize len, const char *content_type);

/* Lower-case attribute value helper used by the other page modules: TRUE if the element @node is
 * named @name (case-insensitive). */
gboolean tsq_page_node_is (xmlNode *node, const char *name);

/* The next node of a depth-first, document-order walk below @root; with @skip_children the
 * children of @node are skipped. Iterative: safe for any depth. */
xmlNode *tsq_page_walk_next (xmlNode *node, xmlNode *root, gboolean skip_children);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqPage, tsq_page_free)

G_END_DECLS
