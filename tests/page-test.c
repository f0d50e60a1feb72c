/* page-test.c: the page model (charsets, markup, URLs, binary rejection, size limits) and the URL
 * helpers it uses. */
#include <string.h>

#include "tsq-page.h"
#include "tsq-url-util.h"

static TsqPage *
parse_str (const char *html, const char *content_type, const char *url)
{
  g_autoptr (GBytes) body = g_bytes_new (html, strlen (html));
  g_autoptr (GError) error = NULL;
  TsqPage *page = tsq_page_parse (body, content_type, url, &error);

  g_assert_no_error (error);
  g_assert_nonnull (page);
  return page;
}

static TsqPage *
parse_str_len (const char *html, gsize len)
{
  g_autoptr (GBytes) body = g_bytes_new (html, len);
  g_autoptr (GError) error = NULL;
  TsqPage *page = tsq_page_parse (body, "text/html", "https://example.com/", &error);

  g_assert_no_error (error);
  g_assert_nonnull (page);
  return page;
}

static gboolean
array_has (GPtrArray *array, const char *value)
{
  for (guint i = 0; i < array->len; i++)
    if (g_strcmp0 (g_ptr_array_index (array, i), value) == 0)
      return TRUE;
  return FALSE;
}

static void
test_charset_meta_windows_1252 (void)
{
  /* "Café €" in windows-1252: 0xE9 is é, 0x80 is the euro sign. */
  g_autoptr (TsqPage) page
    = parse_str ("<html><head><meta charset=\"windows-1252\"><title>Caf\xe9 \x80</title></head>"
                 "<body>\x93quoted\x94</body></html>",
                 "text/html", "https://example.com/");

  g_assert_cmpstr (page->charset, ==, "windows-1252");
  g_assert_cmpstr (page->title, ==, "Café €");
  g_assert_true (g_utf8_validate (page->html, page->html_len, NULL));
  g_assert_nonnull (strstr (page->html, "\xe2\x80\x9cquoted\xe2\x80\x9d"));
}

static void
test_charset_meta_latin1_label (void)
{
  /* iso-8859-1 is decoded as windows-1252 (WHATWG), via <meta http-equiv>. */
  g_autoptr (TsqPage) page
    = parse_str ("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">"
                 "<title>na\xefve \x85</title>",
                 NULL, "https://example.com/");

  g_assert_cmpstr (page->charset, ==, "windows-1252");
  g_assert_cmpstr (page->title, ==, "naïve …");
}

static void
test_charset_content_type (void)
{
  g_autoptr (TsqPage) latin2 = NULL;
  g_autoptr (TsqPage) sjis = NULL;

  /* ISO-8859-2: 0xB1 is "ą", 0xBF is "ż"; the header wins over a contradicting <meta>. */
  latin2 = parse_str ("<meta charset=utf-8><title>Gda\xf1sk \xb1\xbf</title>",
                      "text/html; charset=ISO-8859-2", "https://example.pl/");
  g_assert_cmpstr (latin2->charset, ==, "iso-8859-2");
  g_assert_cmpstr (latin2->title, ==, "Gdańsk ąż");

  /* Shift_JIS: 日本語 */
  sjis = parse_str ("<title>\x93\xfa\x96\x7b\x8c\xea</title><p>\x83\x65\x83\x58\x83\x67</p>",
                    "text/html;charset=\"Shift_JIS\"", "https://example.jp/");
  g_assert_cmpstr (sjis->charset, ==, "shift_jis");
  g_assert_cmpstr (sjis->title, ==, "日本語");
  g_assert_nonnull (strstr (sjis->html, "テスト"));
}

static void
test_charset_bom (void)
{
  /* The BOM wins over the header and the meta. */
  g_autoptr (TsqPage) page
    = parse_str ("\xef\xbb\xbf<meta charset=windows-1252><title>\xc3\x9cn\xc3\xaf"
                 "code</title>",
                 "text/html; charset=windows-1252", "https://example.com/");
  g_autofree char *detected = NULL;
  static const guint8 utf16le[]
    = { 0xFF, 0xFE, '<', 0, 't', 0, 'i', 0, 't', 0, 'l', 0, 'e', 0, '>', 0, 'h', 0,
        0xE9, 0,    '<', 0, '/', 0, 't', 0, 'i', 0, 't', 0, 'l', 0, 'e', 0, '>', 0 };
  g_autoptr (GBytes) body = g_bytes_new_static (utf16le, sizeof utf16le);
  g_autoptr (TsqPage) page16 = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (page->charset, ==, "utf-8");
  g_assert_cmpstr (page->title, ==, "Ünïcode");
  g_assert_false (g_str_has_prefix (page->html, "\xef\xbb\xbf"));

  /* UTF-16 has NUL bytes but is text. */
  page16 = tsq_page_parse (body, "text/html", "https://example.com/", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (page16->charset, ==, "utf-16le");
  g_assert_cmpstr (page16->title, ==, "hé");

  detected = tsq_page_detect_charset ((const guint8 *)"\xfe\xff\x00<", 4, NULL);
  g_assert_cmpstr (detected, ==, "utf-16be");
}

static void
test_charset_sniff (void)
{
  g_autoptr (TsqPage) utf8 = parse_str ("<title>Zoë</title>", "text/html", "https://e.com/");
  g_autoptr (TsqPage) legacy = parse_str ("<title>Zo\xeb</title>", "text/html", "https://e.com/");
  g_autoptr (TsqPage) unknown
    = parse_str ("<title>x\xff</title>", "text/html; charset=x-bogus-cs", "https://e.com/");

  g_assert_cmpstr (utf8->charset, ==, "utf-8");
  g_assert_cmpstr (utf8->title, ==, "Zoë");
  g_assert_cmpstr (legacy->charset, ==, "windows-1252");
  g_assert_cmpstr (legacy->title, ==, "Zoë");
  /* A body truncated inside a multi-byte character is still UTF-8. */
  {
    g_autofree char *cut = tsq_page_detect_charset ((const guint8 *)"<p>Zo\xc3\xab \xc3", 9, NULL);
    g_autoptr (GString) late_nul = g_string_new ("<title>caf\xc3\xa9</title>");
    g_autoptr (TsqPage) page = NULL;
    static const char tail[] = "\0<p>\xc3\xa9</p>";

    g_assert_cmpstr (cut, ==, "utf-8");
    /* A NUL byte past the sniffed prefix neither makes it binary nor breaks UTF-8 detection. */
    while (late_nul->len < 5000)
      g_string_append (late_nul, "<p>filler</p>");
    g_string_append_len (late_nul, tail, sizeof tail - 1);
    page = parse_str_len (late_nul->str, late_nul->len);
    g_assert_cmpstr (page->charset, ==, "utf-8");
    g_assert_cmpstr (page->title, ==, "caf\xc3\xa9");
    g_assert_null (memchr (page->html, '\0', page->html_len));
  }
  /* An unknown label is ignored: falls back to sniffing. */
  g_assert_cmpstr (unknown->charset, ==, "windows-1252");
  g_assert_cmpstr (unknown->title, ==, "xÿ");
}

static void
test_broken_markup (void)
{
  g_autoptr (TsqPage) page
    = parse_str ("<html><head><title>  Broken\n\t page  </title><body><p>Hello <b>world</p>"
                 "<div><span>unclosed <table><tr><td>cell</div></td></span><a href=\"/x\"<p>"
                 "<!-- unterminated comment",
                 "text/html", "https://example.com/a/");
  xmlNode *root = xmlDocGetRootElement (page->doc);

  g_assert_nonnull (root);
  g_assert_cmpstr ((const char *)root->name, ==, "html");
  g_assert_cmpstr (page->title, ==, "Broken page");
  g_assert_nonnull (strstr (page->html, "Hello"));
}

static void
test_base_href (void)
{
  g_autoptr (TsqPage) page
    = parse_str ("<html><head><script src=\"js/app.js\"></script>"
                 "<base href=\"https://static.example.com/sub/dir/\"><base href=\"/ignored/\">"
                 "</head><body><a href=\"page.html\">p</a><a href=\"../up.html#frag\">u</a>"
                 "<form><input></form></body></html>",
                 "text/html", "https://www.example.com/index.html");

  g_assert_cmpstr (page->base_url, ==, "https://static.example.com/sub/dir/");
  /* The base applies document-wide, also to elements before it. */
  g_assert_cmpstr (g_ptr_array_index (page->script_src, 0), ==, "js/app.js");
  g_assert_cmpstr (g_ptr_array_index (page->script_urls, 0), ==,
                   "https://static.example.com/sub/dir/js/app.js");
  g_assert_true (array_has (page->anchors, "https://static.example.com/sub/dir/page.html"));
  g_assert_true (array_has (page->anchors, "https://static.example.com/sub/up.html#frag"));
  /* An empty form action is the document's URL, not the base. */
  g_assert_cmpuint (page->forms->len, ==, 1);
  g_assert_cmpstr (((TsqPageForm *)g_ptr_array_index (page->forms, 0))->action, ==,
                   "https://www.example.com/index.html");
}

static void
test_meta (void)
{
  g_autoptr (TsqPage) page = parse_str (
    "<head><meta name=\"Generator\" content=\"WordPress 6.4\">"
    "<meta property=\"og:title\" content=\"OG\">"
    "<meta property=\"og:image\" content=\"a.png\"><meta property=\"og:image\" content=\"b.png\">"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\">"
    "<meta name=\"empty\"></head>",
    "text/html", "https://example.com/");
  GPtrArray *values;

  values = g_hash_table_lookup (page->meta, "generator");
  g_assert_nonnull (values);
  g_assert_cmpuint (values->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (values, 0), ==, "WordPress 6.4");

  values = g_hash_table_lookup (page->meta, "og:image");
  g_assert_nonnull (values);
  g_assert_cmpuint (values->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (values, 1), ==, "b.png");

  values = g_hash_table_lookup (page->meta, "content-security-policy");
  g_assert_nonnull (values);
  g_assert_cmpstr (g_ptr_array_index (values, 0), ==, "default-src 'self'");

  values = g_hash_table_lookup (page->meta, "empty");
  g_assert_nonnull (values);
  g_assert_cmpstr (g_ptr_array_index (values, 0), ==, "");
  g_assert_null (g_hash_table_lookup (page->meta, "og:missing"));
}

static void
test_scripts (void)
{
  g_autoptr (TsqPage) page
    = parse_str ("<head><script src=\"//cdn.example.net/jquery-3.7.1.min.js?ver=3.7.1\"></script>"
                 "<script>var a = 1;</script>"
                 "<script type=\"module\">import x from './x.js';</script>"
                 "<script type=\"text/javascript; charset=utf-8\">var b = '</div>';</script>"
                 "<script type=\"application/ld+json\">{\"@type\": \"Organization\"}</script>"
                 "<script type=\"text/template\"><div>{{name}}</div></script>"
                 "<script type=\"application/json\" id=\"__NEXT_DATA__\">{\"a\":1}</script>"
                 "<script>   \n </script>"
                 "<style>body { color: red }</style>"
                 "<link rel=\"stylesheet\" href=\"/css/site.css\">"
                 "<link rel=\"alternate stylesheet\" href=\"/css/alt.css\">"
                 "<link rel=\"preload\" href=\"/font.woff2\" as=\"font\" type=\"font/woff2\">"
                 "</head>",
                 "text/html", "https://example.com/blog/");
  TsqPageLink *link;

  g_assert_cmpuint (page->script_src->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (page->script_src, 0), ==,
                   "//cdn.example.net/jquery-3.7.1.min.js?ver=3.7.1");
  g_assert_cmpstr (g_ptr_array_index (page->script_urls, 0), ==,
                   "https://cdn.example.net/jquery-3.7.1.min.js?ver=3.7.1");

  g_assert_cmpuint (page->inline_scripts->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (page->inline_scripts, 0), ==, "var a = 1;");
  g_assert_cmpstr (g_ptr_array_index (page->inline_scripts, 2), ==, "var b = '</div>';");
  g_assert_cmpuint (page->json_ld->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (page->json_ld, 0), "Organization"));
  g_assert_cmpuint (page->data_scripts->len, ==, 2);

  g_assert_cmpuint (page->inline_styles->len, ==, 1);
  g_assert_cmpuint (page->stylesheet_urls->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (page->stylesheet_urls, 0), ==,
                   "https://example.com/css/site.css");
  g_assert_cmpuint (page->links->len, ==, 3);
  link = g_ptr_array_index (page->links, 2);
  g_assert_cmpstr (link->rel, ==, "preload");
  g_assert_cmpstr (link->as, ==, "font");
  g_assert_cmpstr (link->type, ==, "font/woff2");
  g_assert_cmpstr (link->href, ==, "https://example.com/font.woff2");
}

static void
test_urls (void)
{
  g_autoptr (TsqPage) page
    = parse_str ("<body><a href=\"../up\">1</a><a href=\" spaced.html \">2</a>"
                 "<a href=\"?q=1\">3</a><a href=\"javascript:void(0)\">4</a>"
                 "<a href=\"mailto:a@b.c\">5</a><a href=\"HTTP://Other.EXAMPLE:80/x\">6</a>"
                 "<a href=\"../up\">dup</a><a href=\"/caf\xc3\xa9 menu\">7</a>"
                 "<img src=\"/i.png\" srcset=\"/i-2x.png 2x, https://img.cdn.com/i,3.png 3x\">"
                 "<picture><source srcset=\"/p.webp\"></picture>"
                 "<iframe src=\"https://www.youtube.com/embed/x\"></iframe>"
                 "<video src=\"/v.mp4\" poster=\"/poster.jpg\"><track src=\"/t.vtt\"></video>"
                 "<object data=\"/o.swf\"></object><embed src=\"/e.swf\">"
                 "<img src=\"data:image/png;base64,AAAA\"><img src=\"/i.png#again\">"
                 "<form action=\"/search\" method=\"post\"></form>"
                 "<form action=\"https://pay.example.org/go\" method=\"PUT\"></form>"
                 "</body>",
                 "text/html", "https://www.example.com/a/b/page.html");
  TsqPageForm *form;

  g_assert_cmpuint (page->anchors->len, ==, 5);
  g_assert_cmpstr (g_ptr_array_index (page->anchors, 0), ==, "https://www.example.com/a/up");
  g_assert_cmpstr (g_ptr_array_index (page->anchors, 1), ==,
                   "https://www.example.com/a/b/spaced.html");
  g_assert_cmpstr (g_ptr_array_index (page->anchors, 2), ==,
                   "https://www.example.com/a/b/page.html?q=1");
  g_assert_cmpstr (g_ptr_array_index (page->anchors, 3), ==, "http://other.example/x");
  g_assert_cmpstr (g_ptr_array_index (page->anchors, 4), ==,
                   "https://www.example.com/caf%C3%A9%20menu");

  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/i.png"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/i-2x.png"));
  g_assert_true (array_has (page->subresource_urls, "https://img.cdn.com/i,3.png"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/p.webp"));
  g_assert_true (array_has (page->subresource_urls, "https://www.youtube.com/embed/x"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/v.mp4"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/poster.jpg"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/t.vtt"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/o.swf"));
  g_assert_true (array_has (page->subresource_urls, "https://www.example.com/e.swf"));
  /* data: URLs are not loads; the fragment does not make a new one. */
  g_assert_cmpuint (page->subresource_urls->len, ==, 10);

  g_assert_cmpuint (page->forms->len, ==, 2);
  form = g_ptr_array_index (page->forms, 0);
  g_assert_cmpstr (form->action, ==, "https://www.example.com/search");
  g_assert_cmpstr (form->method, ==, "POST");
  form = g_ptr_array_index (page->forms, 1);
  g_assert_cmpstr (form->action, ==, "https://pay.example.org/go");
  g_assert_cmpstr (form->method, ==, "GET"); /* PUT is not a form method */
}

static void
assert_not_html (const guint8 *data, gsize len, const char *content_type)
{
  g_autoptr (GBytes) body = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqPage) page = tsq_page_parse (body, content_type, "https://example.com/", &error);

  g_assert_null (page);
  g_assert_error (error, TSQ_PAGE_ERROR, TSQ_PAGE_ERROR_NOT_HTML);
}

static void
test_binary_rejected (void)
{
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13 };
  static const guint8 nul[] = { '<', 'h', 't', 'm', 'l', '>', 0, 'x', 'y' };
  guint8 controls[512];

  for (gsize i = 0; i < sizeof controls; i++)
    controls[i] = (i % 3 == 0) ? (guint8)(i % 26 + 1) : 'a';

  assert_not_html (png, sizeof png, NULL);
  assert_not_html (png, sizeof png, "text/html");
  assert_not_html (nul, sizeof nul, "text/html");
  assert_not_html (controls, sizeof controls, NULL);
  assert_not_html ((const guint8 *)"<html></html>", 13, "image/png");
  assert_not_html ((const guint8 *)"<html></html>", 13, "application/octet-stream");
  assert_not_html ((const guint8 *)"%PDF-1.7\n", 9, NULL);
}

static void
test_empty_body (void)
{
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqPage) page = tsq_page_parse (empty, NULL, "https://example.com/", &error);
  g_autoptr (TsqPage) spaces = parse_str ("  \n\t ", "text/html", "https://example.com/");
  g_autoptr (TsqPage) text = parse_str ("just text, no tags", "text/plain", "https://example.com/");

  g_assert_no_error (error);
  g_assert_nonnull (page);
  g_assert_nonnull (page->doc);
  g_assert_nonnull (xmlDocGetRootElement (page->doc));
  g_assert_null (page->title);
  g_assert_cmpuint (page->html_len, ==, 0);
  g_assert_cmpuint (page->anchors->len, ==, 0);
  g_assert_nonnull (xmlDocGetRootElement (spaces->doc));
  g_assert_nonnull (xmlDocGetRootElement (text->doc));
}

static void
test_huge_page (void)
{
  GString *html = g_string_new ("<html><head><title>Huge</title></head><body>");
  g_autoptr (TsqPage) page = NULL;
  guint paragraphs = 0;

  while (html->len < 5 * 1024 * 1024)
    {
      g_string_append_printf (html,
                              "<p class=\"c%u\">Paragraph %u with <a href=\"/p/%u\">a link</a> and "
                              "some filler text to make it longer.</p>\n",
                              paragraphs % 7, paragraphs, paragraphs);
      paragraphs++;
    }
  g_string_append (html, "</body></html>");

  page = parse_str (html->str, "text/html", "https://example.com/");
  g_assert_cmpstr (page->title, ==, "Huge");
  g_assert_cmpuint (page->anchors->len, ==, paragraphs);
  g_assert_cmpuint (page->html_len, ==, html->len);
  g_string_free (html, TRUE);
}

static void
test_deep_nesting (void)
{
  GString *html = g_string_new ("<html><body>");
  g_autoptr (TsqPage) page = NULL;
  guint depth = 0;

  for (guint i = 0; i < 100000; i++)
    g_string_append (html, "<div><a href=\"/x\">");
  g_string_append (html, "bottom");
  page = parse_str (html->str, "text/html", "https://example.com/");
  g_assert_nonnull (page->doc);

  /* libxml2 caps the depth itself; what matters is that nothing overflowed. */
  for (xmlNode *n = xmlDocGetRootElement (page->doc); n != NULL;)
    {
      xmlNode *child = n->children;
      depth++;
      while (child != NULL && child->type != XML_ELEMENT_NODE)
        child = child->next;
      n = child;
    }
  g_assert_cmpuint (depth, >, 100);
  g_assert_cmpuint (page->anchors->len, ==, 1);
  g_string_free (html, TRUE);
}

static void
test_url_util (void)
{
  struct
  {
    const char *base, *ref, *expected;
  } cases[] = {
    { "https://a.com/x/y", "z", "https://a.com/x/z" },
    { "https://a.com/x/y", "../../../z", "https://a.com/z" },
    { "https://a.com/x/y", "//B.com", "https://b.com/" },
    { "https://a.com/x/y", "HTTPS://A.COM:443/p?q#f", "https://a.com/p?q#f" },
    { "http://a.com:8080/", "/p", "http://a.com:8080/p" },
    { "https://a.com/", " \t/p\n/q ", "https://a.com/p/q" },
    { "https://a.com/", "\\\\evil.com\\x", "https://evil.com/x" },
    { "https://a.com/", "http://exämple.com/", "http://xn--exmple-cua.com/" },
    { "https://a.com/", "", "https://a.com/" },
    { NULL, "relative", NULL },
    { "https://a.com/", "http://", NULL },
  };
  g_autofree char *origin = NULL;
  g_autofree char *host = NULL;
  g_autofree char *rd1 = tsq_url_registrable_domain ("www.bbc.co.uk");
  g_autofree char *rd2 = tsq_url_registrable_domain ("127.0.0.1");
  g_autofree char *rd3 = tsq_url_registrable_domain ("localhost");
  g_autofree char *rd4 = tsq_url_registrable_domain ("user.github.io");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = tsq_url_resolve (cases[i].base, cases[i].ref);
      g_assert_cmpstr (got, ==, cases[i].expected);
    }

  origin = tsq_url_get_origin ("wss://Example.com:443/socket");
  g_assert_cmpstr (origin, ==, "https://example.com");
  host = tsq_url_get_host ("http://[::1]:8080/x");
  g_assert_cmpstr (host, ==, "::1");

  g_assert_true (tsq_url_same_origin ("https://a.com/x", "https://A.com:443/y"));
  g_assert_false (tsq_url_same_origin ("https://a.com/", "http://a.com/"));
  g_assert_false (tsq_url_same_origin ("https://a.com/", "https://a.com:8443/"));
  g_assert_true (tsq_url_same_site ("https://www.bbc.co.uk/", "http://static.bbc.co.uk/"));
  g_assert_false (tsq_url_same_site ("https://a.github.io/", "https://b.github.io/"));
  g_assert_true (tsq_url_is_http ("HTTP://x"));
  g_assert_false (tsq_url_is_http ("ftp://x"));

  g_assert_cmpstr (rd1, ==, "bbc.co.uk");
  g_assert_cmpstr (rd2, ==, "127.0.0.1");
  g_assert_cmpstr (rd3, ==, "localhost");
  g_assert_cmpstr (rd4, ==, "user.github.io");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tsq/page/charset/meta-windows-1252", test_charset_meta_windows_1252);
  g_test_add_func ("/tsq/page/charset/meta-http-equiv-latin1", test_charset_meta_latin1_label);
  g_test_add_func ("/tsq/page/charset/content-type", test_charset_content_type);
  g_test_add_func ("/tsq/page/charset/bom", test_charset_bom);
  g_test_add_func ("/tsq/page/charset/sniff", test_charset_sniff);
  g_test_add_func ("/tsq/page/broken-markup", test_broken_markup);
  g_test_add_func ("/tsq/page/base-href", test_base_href);
  g_test_add_func ("/tsq/page/meta", test_meta);
  g_test_add_func ("/tsq/page/scripts", test_scripts);
  g_test_add_func ("/tsq/page/urls", test_urls);
  g_test_add_func ("/tsq/page/binary-rejected", test_binary_rejected);
  g_test_add_func ("/tsq/page/empty-body", test_empty_body);
  g_test_add_func ("/tsq/page/huge-page", test_huge_page);
  g_test_add_func ("/tsq/page/deep-nesting", test_deep_nesting);
  g_test_add_func ("/tsq/page/url-util", test_url_util);

  return g_test_run ();
}
