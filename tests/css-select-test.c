/* css-select-test.c: the CSS selector engine over libxml2 HTML trees. */
#include "tsq-css-select.h"

#include <libxml/HTMLparser.h>
#include <string.h>

static const char *page = "<!DOCTYPE html><html><head><title>t</title>"
                          "<link rel='stylesheet' href='/static/app.min.css'>"
                          "</head><body class='home page'>"
                          "<div id='main' class='container wide' data-role='main'>"
                          "  <h1 id='title'>Title</h1>"
                          "  <p class='lead intro'>one</p>"
                          "  <p lang='en-US'>two</p>"
                          "  <ul><li>a</li><li class='x'>b</li><li>c</li></ul>"
                          "  <a href='https://cdn.example.com/lib.js' TITLE='Link'>x</a>"
                          "  <span></span>"
                          "</div>"
                          "<footer><p>foot</p></footer>"
                          "</body></html>";

static htmlDocPtr
parse_page (void)
{
  return htmlReadMemory (page, (int)strlen (page), NULL, "UTF-8",
                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
}

/* "tag#id.class" summaries of the matches, space-separated. */
static char *
select_summary (htmlDocPtr doc, const char *selector)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqCssSelector) sel = tsq_css_selector_parse (selector, &error);
  g_autoptr (GPtrArray) nodes = NULL;
  GString *out = g_string_new (NULL);
  guint i;

  g_assert_no_error (error);
  g_assert_nonnull (sel);
  nodes = tsq_css_selector_select_all (sel, (xmlNode *)doc);
  for (i = 0; i < nodes->len; i++)
    {
      xmlNode *n = g_ptr_array_index (nodes, i);
      xmlChar *id = xmlGetProp (n, (const xmlChar *)"id");
      xmlChar *text = xmlNodeGetContent (n);

      if (out->len > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, (const char *)n->name);
      if (id != NULL)
        g_string_append_printf (out, "#%s", id);
      else if (text != NULL && *text != '\0' && strlen ((const char *)text) < 8)
        g_string_append_printf (out, "(%s)", text);
      xmlFree (id);
      xmlFree (text);
    }
  return g_string_free (out, FALSE);
}

#define assert_select(doc, selector, expected)                                                     \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autofree char *_got = select_summary (doc, selector);                                        \
    g_assert_cmpstr (_got, ==, expected);                                                          \
  }                                                                                                \
  G_STMT_END

static void
test_simple_selectors (void)
{
  htmlDocPtr doc = parse_page ();

  assert_select (doc, "h1", "h1#title");
  assert_select (doc, "H1", "h1#title");
  assert_select (doc, "#main", "div#main");
  assert_select (doc, "#MAIN", "");
  assert_select (doc, ".intro", "p(one)");
  assert_select (doc, "p.lead.intro", "p(one)");
  assert_select (doc, ".lead.missing", "");
  assert_select (doc, "[lang]", "p(two)");
  assert_select (doc, "[data-role=main]", "div#main");
  assert_select (doc, "[data-role=\"main\"]", "div#main");
  assert_select (doc, "[DATA-ROLE='main']", "div#main");
  assert_select (doc, "a[title]", "a(x)");
  assert_select (doc, "a[href^='https://cdn.']", "a(x)");
  assert_select (doc, "a[href$='.js']", "a(x)");
  assert_select (doc, "a[href*=example]", "a(x)");
  assert_select (doc, "a[href*='']", "");
  assert_select (doc, "div[class~=wide]", "div#main");
  assert_select (doc, "div[class~=wid]", "");
  assert_select (doc, "p[lang|=en]", "p(two)");
  assert_select (doc, "div[data-role=MAIN i]", "div#main");
  assert_select (doc, "link[href*='app.min']", "link");
  assert_select (doc, "*#title", "h1#title");
  xmlFreeDoc (doc);
}

static void
test_combinators (void)
{
  htmlDocPtr doc = parse_page ();

  assert_select (doc, "div p", "p(one) p(two)");
  assert_select (doc, "body p", "p(one) p(two) p(foot)");
  assert_select (doc, "div > p", "p(one) p(two)");
  assert_select (doc, "body > p", "");
  assert_select (doc, "footer>p", "p(foot)");
  assert_select (doc, "h1 + p", "p(one)");
  assert_select (doc, "h1 ~ p", "p(one) p(two)");
  assert_select (doc, "li + li", "li(b) li(c)");
  assert_select (doc, "li.x ~ li", "li(c)");
  assert_select (doc, "body.home div#main ul > li.x", "li(b)");
  assert_select (doc, "h1, footer p", "h1#title p(foot)");
  assert_select (doc, "footer p, h1", "h1#title p(foot)");
  xmlFreeDoc (doc);
}

static void
test_pseudo_classes (void)
{
  htmlDocPtr doc = parse_page ();

  assert_select (doc, "li:first-child", "li(a)");
  assert_select (doc, "li:last-child", "li(c)");
  assert_select (doc, "li:not(.x)", "li(a) li(c)");
  assert_select (doc, "p:not([lang])", "p(one) p(foot)");
  assert_select (doc, "span:empty", "span");
  assert_select (doc, "html:root", "html");
  assert_select (doc, "footer p:only-child", "p(foot)");
  xmlFreeDoc (doc);
}

static void
test_matches (void)
{
  htmlDocPtr doc = parse_page ();
  g_autoptr (TsqCssSelector) sel = tsq_css_selector_parse ("div#main", NULL);
  xmlNode *root = xmlDocGetRootElement (doc);

  g_assert_false (tsq_css_selector_matches (sel, root));
  g_assert_false (tsq_css_selector_matches (sel, (xmlNode *)doc));
  g_assert_false (tsq_css_selector_matches (sel, NULL));
  xmlFreeDoc (doc);
}

static void
test_errors (void)
{
  const char *bad[] = { "",
                        "  ",
                        "a[",
                        "a[href",
                        "a[href=]",
                        "a[href=x",
                        ">",
                        "a >",
                        "a,",
                        ",a",
                        "a:hover",
                        "a::before",
                        "a:nth-child(2)",
                        "svg|a",
                        "a[x|y]",
                        "a:not(b c)",
                        "a:not(:not(b))",
                        "#",
                        ".",
                        "a!",
                        "a[href%=x]" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqCssSelector) sel = tsq_css_selector_parse (bad[i], &error);

      if (sel != NULL)
        g_error ("\"%s\" should not parse", bad[i]);
      g_assert_nonnull (error);
      g_assert_true (error->domain == TSQ_CSS_SELECTOR_ERROR);
    }
}

static void
test_keys (void)
{
  g_autoptr (TsqCssSelector) sel
    = tsq_css_selector_parse ("div.a#b, link[href*='x'], ul li, p[lang], *", NULL);
  const char *value, *attr;

  g_assert_cmpuint (tsq_css_selector_get_n_alternatives (sel), ==, 5);
  g_assert_cmpint (tsq_css_selector_get_key (sel, 0, &value, &attr), ==, TSQ_CSS_KEY_ID);
  g_assert_cmpstr (value, ==, "b");
  g_assert_cmpint (tsq_css_selector_get_key (sel, 1, &value, &attr), ==, TSQ_CSS_KEY_ATTR_VALUE);
  g_assert_cmpstr (value, ==, "x");
  g_assert_cmpstr (attr, ==, "href");
  g_assert_cmpint (tsq_css_selector_get_key (sel, 2, &value, &attr), ==, TSQ_CSS_KEY_TAG);
  g_assert_cmpstr (value, ==, "li");
  g_assert_cmpint (tsq_css_selector_get_key (sel, 3, &value, &attr), ==, TSQ_CSS_KEY_ATTR);
  g_assert_cmpstr (value, ==, "lang");
  g_assert_cmpint (tsq_css_selector_get_key (sel, 4, &value, &attr), ==, TSQ_CSS_KEY_ANY);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/css-select/simple", test_simple_selectors);
  g_test_add_func ("/tsq/css-select/combinators", test_combinators);
  g_test_add_func ("/tsq/css-select/pseudo-classes", test_pseudo_classes);
  g_test_add_func ("/tsq/css-select/matches", test_matches);
  g_test_add_func ("/tsq/css-select/errors", test_errors);
  g_test_add_func ("/tsq/css-select/keys", test_keys);
  return g_test_run ();
}
