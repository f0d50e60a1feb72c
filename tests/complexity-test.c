/* complexity-test.c: exact counts on a handcrafted page, and every analysis over the real pages
 * in $TSQ_SHARED_DIR/fixtures/pages (no crash, consistent values). */
#include <string.h>

#include "tsq-complexity.h"
#include "tsq-content.h"
#include "tsq-endpoints.h"
#include "tsq-url-util.h"

static const char handcrafted[]
  = "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "  <title>C</title>\n"
    "  <link rel=\"stylesheet\" href=\"/a.css\">\n"
    "  <link rel=\"stylesheet\" href=\"https://fonts.googleapis.com/css?family=X\">\n"
    "  <link rel=\"dns-prefetch\" href=\"https://hint.example.org/\">\n"
    "  <style>p { color: red }</style>\n"
    "  <script src=\"/app.js\"></script>\n"
    "  <script async src=\"https://www.googletagmanager.com/gtm.js?id=GTM-1\"></script>\n"
    "  <script>var a = 1;</script>\n"
    "  <script type=\"application/ld+json\">{\"@type\": \"Thing\"}</script>\n"
    "</head>\n"
    "<body>\n"
    "  <!-- comments and text are not elements -->\n"
    "  <div><div><div><p>deep</p></div></div></div>\n"
    "  <img src=\"https://cdn.example.com/x.png\">\n"
    "  <img src=\"https://i.ytimg.com/a.jpg\" srcset=\"https://i.ytimg.com/a2.jpg 2x\">\n"
    "  <iframe src=\"https://www.youtube.com/embed/x\"></iframe>\n"
    "  <form action=\"/s\"><input name=\"q\"></form>\n"
    "  <a href=\"https://twitter.com/x\">a link is not a subresource</a>\n"
    "</body>\n"
    "</html>\n";

static void
test_handcrafted (void)
{
  g_autoptr (GBytes) body = g_bytes_new_static (handcrafted, sizeof handcrafted - 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqPage) page = tsq_page_parse (body, "text/html", "https://www.example.com/", &error);
  g_autoptr (JsonObject) obj = NULL;
  JsonArray *list;

  g_assert_no_error (error);
  obj = tsq_complexity_measure (page, 1000, 2345);

  /* html head title link*3 style script*4 (11) + body div*3 p img*2 iframe form input a (11) */
  g_assert_cmpint (json_object_get_int_member (obj, "dom_nodes"), ==, 22);
  /* html > body > div > div > div > p */
  g_assert_cmpint (json_object_get_int_member (obj, "max_depth"), ==, 6);
  g_assert_cmpint (json_object_get_int_member (obj, "scripts_external"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (obj, "scripts_inline"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (obj, "inline_script_bytes"), ==,
                   strlen ("var a = 1;"));
  g_assert_cmpint (json_object_get_int_member (obj, "stylesheets"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (obj, "images"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (obj, "iframes"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (obj, "forms"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (obj, "page_weight_bytes"), ==, 3345);

  /* cdn.example.com is the page's own site; hints and links are not loads. googleapis.com is a
   * public suffix (private section of the list, like browsers use it): fonts.googleapis.com is a
   * site of its own. */
  g_assert_cmpint (json_object_get_int_member (obj, "third_party_domains"), ==, 4);
  list = json_object_get_array_member (obj, "third_party_domain_list");
  g_assert_cmpuint (json_array_get_length (list), ==, 4);
  g_assert_cmpstr (json_array_get_string_element (list, 0), ==, "fonts.googleapis.com");
  g_assert_cmpstr (json_array_get_string_element (list, 1), ==, "googletagmanager.com");
  g_assert_cmpstr (json_array_get_string_element (list, 2), ==, "youtube.com");
  g_assert_cmpstr (json_array_get_string_element (list, 3), ==, "ytimg.com");
}

static void
test_empty_page (void)
{
  g_autoptr (GBytes) body = g_bytes_new (NULL, 0);
  g_autoptr (TsqPage) page = tsq_page_parse (body, NULL, "https://e.com/", NULL);
  g_autoptr (JsonObject) obj = tsq_complexity_measure (page, 0, 0);

  g_assert_cmpint (json_object_get_int_member (obj, "dom_nodes"), >=, 1);
  g_assert_cmpint (json_object_get_int_member (obj, "third_party_domains"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (obj, "page_weight_bytes"), ==, 0);
}

static void
check_fixture (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (TsqPage) page = NULL;
  g_autoptr (TsqPage) again = NULL;
  g_autoptr (JsonObject) cx = NULL;
  g_autoptr (JsonArray) endpoints = NULL;
  g_autoptr (TsqContent) content = NULL;
  g_autoptr (TsqContent) content_again = NULL;
  g_autofree char *page_domain = NULL;
  g_autofree char *page_host = NULL;
  JsonArray *list;
  gint64 dom_nodes, max_depth;

  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  body = g_bytes_new (data, len);
  page = tsq_page_parse (body, "text/html", "https://www.example.com/article/1", &error);
  g_assert_no_error (error);
  g_assert_nonnull (page);
  g_assert_true (g_utf8_validate (page->html, page->html_len, NULL));

  cx = tsq_complexity_measure (page, len, 0);
  dom_nodes = json_object_get_int_member (cx, "dom_nodes");
  max_depth = json_object_get_int_member (cx, "max_depth");
  g_assert_cmpint (dom_nodes, >=, 3);
  g_assert_cmpint (max_depth, >=, 2);
  g_assert_cmpint (max_depth, <=, dom_nodes);
  g_assert_cmpint (max_depth, <=, 260); /* libxml2's depth cap */
  g_assert_cmpint (json_object_get_int_member (cx, "scripts_external"), ==, page->script_urls->len);
  g_assert_cmpint (json_object_get_int_member (cx, "scripts_inline"), ==,
                   page->inline_scripts->len);
  g_assert_cmpint (json_object_get_int_member (cx, "inline_script_bytes"), <=, (gint64)len * 4);
  g_assert_cmpint (json_object_get_int_member (cx, "images")
                     + json_object_get_int_member (cx, "iframes")
                     + json_object_get_int_member (cx, "forms"),
                   <=, dom_nodes);
  g_assert_cmpint (json_object_get_int_member (cx, "page_weight_bytes"), ==, (gint64)len);

  list = json_object_get_array_member (cx, "third_party_domain_list");
  g_assert_cmpint (json_object_get_int_member (cx, "third_party_domains"), ==,
                   json_array_get_length (list));
  page_host = tsq_url_get_host (page->url);
  page_domain = tsq_url_registrable_domain (page_host);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      const char *d = json_array_get_string_element (list, i);
      g_assert_cmpstr (d, !=, page_domain);
      if (i > 0)
        g_assert_cmpint (strcmp (json_array_get_string_element (list, i - 1), d), <, 0);
    }

  endpoints = tsq_endpoints_extract (page);
  for (guint i = 0; i < json_array_get_length (endpoints); i++)
    {
      JsonObject *e = json_array_get_object_element (endpoints, i);
      const char *url = json_object_get_string_member (e, "url");
      const char *kind = json_object_get_string_member (e, "kind");

      g_assert_nonnull (url);
      g_assert_nonnull (kind);
      g_assert_null (strchr (url, '#'));
      if (!g_str_equal (kind, "openapi") && !g_str_has_prefix (url, "https://api"))
        g_assert_true (tsq_url_same_origin (url, page->url));
    }

  content = tsq_content_extract (page, NULL);
  g_assert_cmpuint (strlen (content->hash_hex), ==, 64);
  g_assert_true (g_utf8_validate (content->text, -1, NULL));
  g_assert_cmpuint (content->text_length, ==, g_utf8_strlen (content->text, -1));
  g_assert_null (strstr (content->text, "\n\n"));

  /* Deterministic: parsing and extracting again gives the same hashes. */
  again = tsq_page_parse (body, "text/html", "https://www.example.com/article/1", &error);
  g_assert_no_error (error);
  content_again = tsq_content_extract (again, NULL);
  g_assert_cmpstr (content->hash_hex, ==, content_again->hash_hex);
  g_assert_cmpuint (content->simhash, ==, content_again->simhash);

  g_test_message ("%s: %" G_GINT64_FORMAT " elements, depth %" G_GINT64_FORMAT
                  ", %u third parties, %u endpoints, %" G_GSIZE_FORMAT " chars of text",
                  path, dom_nodes, max_depth, json_array_get_length (list),
                  json_array_get_length (endpoints), content->text_length);
}

static void
test_fixture_pages (void)
{
  const char *shared = g_getenv ("TSQ_SHARED_DIR");
  g_autofree char *dir_path = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (shared == NULL)
    {
      g_error ("TSQ_SHARED_DIR is not set: run the tests through meson (tools/test)");
    }
  dir_path = g_build_filename (shared, "fixtures", "pages", NULL);
  dir = g_dir_open (dir_path, 0, NULL);
  if (dir == NULL)
    {
      g_error ("no fixtures/pages directory in TSQ_SHARED_DIR (../shared beside the checkout)");
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".html"))
      g_ptr_array_add (names, g_build_filename (dir_path, name, NULL));

  g_assert_cmpuint (names->len, >, 0);
  for (guint i = 0; i < names->len; i++)
    check_fixture (g_ptr_array_index (names, i));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tsq/complexity/handcrafted", test_handcrafted);
  g_test_add_func ("/tsq/complexity/empty-page", test_empty_page);
  g_test_add_func ("/tsq/complexity/fixture-pages", test_fixture_pages);

  return g_test_run ();
}
