/* tsq-complexity.c: how heavy and how entangled a page is. */
#define G_LOG_DOMAIN "tsq-complexity"

#include "tsq-complexity.h"
#include "tsq-url-util.h"

#include <string.h>

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

JsonObject *
tsq_complexity_measure (TsqPage *page, guint64 document_bytes, guint64 resources_bytes)
{
  JsonObject *obj = json_object_new ();
  JsonArray *domain_list = json_array_new ();
  g_autoptr (GHashTable) domains = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) sorted = NULL;
  g_autofree char *page_host = NULL;
  g_autofree char *page_domain = NULL;
  gint64 elements = 0, max_depth = 0, depth = 0, images = 0, iframes = 0, forms = 0;
  gint64 inline_bytes = 0;
  xmlNode *root;
  xmlNode *node;

  g_return_val_if_fail (page != NULL, obj);

  /* Iterative walk tracking the element depth through the parent links. */
  root = (xmlNode *)page->doc;
  node = root != NULL ? root->children : NULL;
  while (node != NULL)
    {
      gboolean element = node->type == XML_ELEMENT_NODE;

      if (element)
        {
          depth++;
          elements++;
          max_depth = MAX (max_depth, depth);
          if (tsq_page_node_is (node, "img"))
            images++;
          else if (tsq_page_node_is (node, "iframe"))
            iframes++;
          else if (tsq_page_node_is (node, "form"))
            forms++;
        }
      if (element && node->children != NULL)
        {
          node = node->children;
          continue;
        }
      if (element)
        depth--;
      while (node != NULL && node != root)
        {
          if (node->next != NULL)
            {
              node = node->next;
              break;
            }
          node = node->parent;
          if (node != NULL && node->type == XML_ELEMENT_NODE)
            depth--;
        }
      if (node == root)
        node = NULL;
    }

  for (guint i = 0; i < page->inline_scripts->len; i++)
    inline_bytes += strlen (g_ptr_array_index (page->inline_scripts, i));

  page_host = tsq_url_get_host (page->url);
  page_domain = tsq_url_registrable_domain (page_host);
  for (guint i = 0; i < page->subresource_urls->len; i++)
    {
      g_autofree char *host = tsq_url_get_host (g_ptr_array_index (page->subresource_urls, i));
      char *domain = tsq_url_registrable_domain (host);

      if (domain == NULL || (page_domain != NULL && g_str_equal (domain, page_domain)))
        g_free (domain);
      else
        g_hash_table_add (domains, domain);
    }
  sorted = g_ptr_array_new ();
  {
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init (&iter, domains);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      g_ptr_array_add (sorted, key);
  }
  g_ptr_array_sort (sorted, compare_strings);
  for (guint i = 0; i < sorted->len; i++)
    json_array_add_string_element (domain_list, g_ptr_array_index (sorted, i));

  json_object_set_int_member (obj, "dom_nodes", elements);
  json_object_set_int_member (obj, "max_depth", max_depth);
  json_object_set_int_member (obj, "scripts_external", page->script_urls->len);
  json_object_set_int_member (obj, "scripts_inline", page->inline_scripts->len);
  json_object_set_int_member (obj, "inline_script_bytes", inline_bytes);
  json_object_set_int_member (obj, "stylesheets",
                              page->stylesheet_urls->len + page->inline_styles->len);
  json_object_set_int_member (obj, "third_party_domains", sorted->len);
  json_object_set_array_member (obj, "third_party_domain_list", domain_list);
  json_object_set_int_member (obj, "page_weight_bytes",
                              (gint64)MIN (document_bytes + resources_bytes, (guint64)G_MAXINT64));
  json_object_set_int_member (obj, "images", images);
  json_object_set_int_member (obj, "iframes", iframes);
  json_object_set_int_member (obj, "forms", forms);
  return obj;
}
