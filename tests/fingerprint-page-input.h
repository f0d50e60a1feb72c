/* fingerprint-page-input.h: builds a TsqFingerprintInput from an HTML page the way
 * shared/tools/wappalyzer-reference/reference.js does (used by the differential test and the
 * benchmark; the scanner builds its inputs its own way):
 *   url        "http://127.0.0.1/<file>"
 *   html       the page text
 *   scriptSrc  the raw src attribute of every <script src> (non-empty)
 *   scripts    the text of every <script> without src, joined with "\n" by the engine
 *   meta       lower-cased name || property -> contents
 * no headers, cookies, css or dom. */
#pragma once

#include "tsq-fingerprint-db.h"

#include <libxml/HTMLparser.h>
#include <string.h>

typedef struct
{
  TsqFingerprintInput input;
  char *url;
  char *html;
  xmlDoc *doc;
} TsqTestPage;

static inline void
tsq_test_page_walk (TsqTestPage *page, xmlNode *node)
{
  for (; node != NULL; node = node->next)
    {
      if (node->type != XML_ELEMENT_NODE)
        continue;
      if (g_ascii_strcasecmp ((const char *)node->name, "script") == 0)
        {
          xmlChar *src = xmlGetProp (node, (const xmlChar *)"src");

          if (src == NULL)
            {
              xmlChar *text = xmlNodeGetContent (node);

              g_ptr_array_add (page->input.scripts, g_strdup (text ? (const char *)text : ""));
              xmlFree (text);
            }
          else if (*src != '\0')
            g_ptr_array_add (page->input.script_src, g_strdup ((const char *)src));
          xmlFree (src);
        }
      else if (g_ascii_strcasecmp ((const char *)node->name, "meta") == 0)
        {
          xmlChar *name = xmlGetProp (node, (const xmlChar *)"name");
          xmlChar *content;

          if (name == NULL || *name == '\0')
            {
              xmlFree (name);
              name = xmlGetProp (node, (const xmlChar *)"property");
            }
          if (name != NULL && *name != '\0')
            {
              char *key = g_ascii_strdown ((const char *)name, -1);
              GPtrArray *values = g_hash_table_lookup (page->input.meta, key);

              if (values == NULL)
                {
                  values = g_ptr_array_new_with_free_func (g_free);
                  g_hash_table_insert (page->input.meta, key, values);
                }
              else
                g_free (key);
              content = xmlGetProp (node, (const xmlChar *)"content");
              g_ptr_array_add (values, g_strdup (content ? (const char *)content : ""));
              xmlFree (content);
            }
          xmlFree (name);
        }
      tsq_test_page_walk (page, node->children);
    }
}

/* keep_dom: also hand the parsed document to the engine (for `dom` patterns). */
static inline TsqTestPage *
tsq_test_page_new (const char *path, gboolean keep_dom, GError **error)
{
  TsqTestPage *page;
  g_autofree char *base = g_path_get_basename (path);
  char *html = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &html, &len, error))
    return NULL;
  page = g_new0 (TsqTestPage, 1);
  page->html = html;
  page->url = g_strdup_printf ("http://127.0.0.1/%s", base);
  page->input.url = page->url;
  page->input.html = page->html;
  page->input.script_src = g_ptr_array_new_with_free_func (g_free);
  page->input.scripts = g_ptr_array_new_with_free_func (g_free);
  page->input.meta
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  page->doc = htmlReadMemory (html, (int)MIN (len, (gsize)G_MAXINT), page->url, "UTF-8",
                              HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                                | HTML_PARSE_NONET | HTML_PARSE_COMPACT);
  if (page->doc != NULL)
    tsq_test_page_walk (page, xmlDocGetRootElement (page->doc));
  if (keep_dom)
    page->input.dom = page->doc;
  return page;
}

static inline void
tsq_test_page_free (TsqTestPage *page)
{
  if (page == NULL)
    return;
  g_ptr_array_unref (page->input.script_src);
  g_ptr_array_unref (page->input.scripts);
  g_hash_table_unref (page->input.meta);
  if (page->doc != NULL)
    xmlFreeDoc (page->doc);
  g_free (page->html);
  g_free (page->url);
  g_free (page);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqTestPage, tsq_test_page_free)
