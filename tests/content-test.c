/* content-test.c: the noise filter must keep hashes stable across volatile changes and move them
 * (and the SimHash) on real ones. */
#include <string.h>

#include "tsq-content.h"

static TsqContent *
extract (const char *html, const TsqContentRules *rules)
{
  g_autoptr (GBytes) body = g_bytes_new (html, strlen (html));
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqPage) page
    = tsq_page_parse (body, "text/html; charset=utf-8", "https://news.example.com/story", &error);

  g_assert_no_error (error);
  return tsq_content_extract (page, rules);
}

/* A realistic article whose volatile parts are filled in from @v (token, nonce, timestamp, views,
 * ad text, attribute order). */
typedef struct
{
  const char *csrf;
  const char *nonce;
  const char *iso;
  const char *long_date;
  const char *clock;
  const char *ago;
  const char *views;
  const char *comments;
  const char *ad;
  gboolean swap_attrs;
  const char *paragraph;
} Variant;

static const char *const base_paragraph
  = "The city council approved the new budget after a long debate about public transport, "
    "schools and the maintenance of old bridges across the river.";

static char *
render (const Variant *v)
{
  return g_strdup_printf (
    "<!DOCTYPE html><html><head><title>City approves budget</title>"
    "<meta name=\"csrf-token\" content=\"%s\">"
    "<script nonce=\"%s\">window.__t = '%s';</script>"
    "<style nonce=\"%s\">p { margin: 0 }</style></head>"
    "<body><header><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav></header>"
    "<article>%s"
    "<h1>City approves budget</h1>"
    "<p class=\"meta\">Published <time>%s</time> &middot; %s at %s &middot; updated %s</p>"
    "<p>%s views &middot; Comments (%s)</p>"
    "<p>%s</p>"
    "<div class=\"ad-slot top\"><a href=\"https://ads.example.net/c\">%s</a></div>"
    "<ins class=\"adsbygoogle\" data-ad-client=\"ca-pub-1\">%s</ins>"
    "<div id=\"div-gpt-ad-1234567-0\">%s</div>"
    "<p>Opponents said the plan leaves too little for housing. The vote was 7 to 4.</p>"
    "<form action=\"/comment\" method=\"post\"><input type=\"hidden\" name=\"authenticity_token\" "
    "value=\"%s\"><input type=\"hidden\" name=\"nonce\" value=\"%s\"><textarea "
    "name=\"c\"></textarea>"
    "<input type=\"submit\" value=\"Post comment\"></form>"
    "<p class=\"debug\">request %s / %s</p>"
    "</article><footer>&copy; 2025 Example News</footer></body></html>",
    v->csrf, v->nonce, v->csrf, v->nonce,
    v->swap_attrs ? "<p id=\"lead\" class=\"lead\" data-x=\"1\">Lead</p>"
                  : "<p data-x=\"1\" class=\"lead\" id=\"lead\">Lead</p>",
    v->iso, v->long_date, v->clock, v->ago, v->views, v->comments,
    v->paragraph != NULL ? v->paragraph : base_paragraph, v->ad, v->ad, v->ad, v->csrf, v->nonce,
    v->csrf, v->nonce);
}

static const Variant variant_a = {
  "q8Zk2LmP4xR7tY1wVb9nS3cD6fG0hJ5e",
  "r4nd0mN0nce",
  "2026-12-03T12:34:56Z",
  "December 3, 2026",
  "9:15 pm",
  "5 minutes ago",
  "1,234",
  "12",
  "Buy shoes now",
  FALSE,
  NULL,
};

static const Variant variant_b = {
  "Xy7Wv3Ut5Sr1Qp9On2Ml8Kj4Ih6Gf0Ed",
  "n3wN0nceZZ",
  "2026-12-04T08:01:02+01:00",
  "Dec 4, 2026",
  "08:01",
  "2 hours ago",
  "13,807",
  "15",
  "Cheap flights to Rome",
  TRUE,
  NULL,
};

static void
test_volatile_changes_same_hash (void)
{
  g_autofree char *html_a = render (&variant_a);
  g_autofree char *html_b = render (&variant_b);
  g_autoptr (TsqContent) a = extract (html_a, NULL);
  g_autoptr (TsqContent) b = extract (html_b, NULL);

  /* The pages differ byte-wise in tokens, nonces, dates, counters, ads and attribute order. */
  g_assert_cmpstr (html_a, !=, html_b);
  g_assert_cmpstr (a->text, ==, b->text);
  g_assert_cmpstr (a->hash_hex, ==, b->hash_hex);
  g_assert_cmpuint (a->simhash, ==, b->simhash);
  g_assert_cmpfloat (tsq_simhash_similarity (a->simhash, b->simhash), ==, 1.0);

  /* ... because the volatile values are gone, while the content is there. */
  g_assert_null (strstr (a->text, variant_a.csrf));
  /* The nonce is too short for the generic token mask: it goes because it is a known nonce. */
  g_assert_null (strstr (a->text, variant_a.nonce));
  g_assert_null (strstr (a->text, "Buy shoes"));
  g_assert_null (strstr (a->text, "1,234"));
  g_assert_null (strstr (a->text, "2026"));
  g_assert_nonnull (strstr (a->text, "City approves budget"));
  g_assert_nonnull (strstr (a->text, "council approved the new budget"));
  g_assert_nonnull (strstr (a->text, "<date>"));
  g_assert_nonnull (strstr (a->text, "<time>"));
  g_assert_nonnull (strstr (a->text, "<ago>"));
  g_assert_nonnull (strstr (a->text, "<n> views"));
  g_assert_nonnull (strstr (a->text, "Comments <n>"));
  g_assert_nonnull (strstr (a->text, "Post comment"));
  /* The copyright year is kept: a year change is a real change of the page. */
  g_assert_nonnull (strstr (a->text, "© 2025 Example News"));
  g_assert_cmpstr (a->title, ==, "City approves budget");
  g_assert_cmpuint (strlen (a->hash_hex), ==, 64);
}

static void
test_each_volatile_change (void)
{
  /* One change at a time, so a regression names the mask that broke. */
  g_autofree char *html_a = render (&variant_a);
  g_autoptr (TsqContent) a = extract (html_a, NULL);
  const char *labels[] = { "csrf", "nonce", "timestamp", "counter", "ad", "attributes" };

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      Variant v = variant_a;
      g_autofree char *html = NULL;
      g_autoptr (TsqContent) c = NULL;

      switch (i)
        {
          case 0:
            v.csrf = variant_b.csrf;
            break;
          case 1:
            v.nonce = variant_b.nonce;
            break;
          case 2:
            v.iso = variant_b.iso, v.long_date = variant_b.long_date;
            v.clock = variant_b.clock, v.ago = variant_b.ago;
            break;
          case 3:
            v.views = variant_b.views, v.comments = variant_b.comments;
            break;
          case 4:
            v.ad = variant_b.ad;
            break;
          case 5:
            v.swap_attrs = TRUE;
            break;
          default:
            g_assert_not_reached ();
        }
      html = render (&v);
      g_assert_cmpstr (html, !=, html_a);
      c = extract (html, NULL);
      g_test_message ("change: %s", labels[i]);
      g_assert_cmpstr (c->hash_hex, ==, a->hash_hex);
    }
}

/* Deterministic pseudo-random prose: @seed picks the words. */
static char *
prose (guint seed, guint words)
{
  static const char *const vocabulary[] = {
    "river",     "budget",     "council",  "school",    "bridge",      "train",     "market",
    "storm",     "harbor",     "garden",   "museum",    "library",     "election",  "festival",
    "factory",   "hospital",   "forest",   "tunnel",    "airport",     "stadium",   "village",
    "mountain",  "station",    "theatre",  "castle",    "bakery",      "orchestra", "laboratory",
    "satellite", "island",     "glacier",  "desert",    "canal",       "tower",     "meadow",
    "quarry",    "lighthouse", "vineyard", "monastery", "observatory",
  };
  GString *out = g_string_new (NULL);
  guint32 state = seed * 2654435761u + 1;

  for (guint i = 0; i < words; i++)
    {
      state = state * 1664525u + 1013904223u;
      if (i > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, vocabulary[(state >> 8) % G_N_ELEMENTS (vocabulary)]);
    }
  return g_string_free (out, FALSE);
}

static char *
article (guint first_seed, guint changed_index, guint changed_seed)
{
  GString *html = g_string_new ("<html><head><title>Long read</title></head><body><article>");

  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *p = prose (i == changed_index ? changed_seed : first_seed + i, 45);
      g_string_append_printf (html, "<p>%s.</p>\n", p);
    }
  g_string_append (html, "</article></body></html>");
  return g_string_free (html, FALSE);
}

static void
test_changed_paragraph (void)
{
  g_autofree char *html_a = article (100, G_MAXUINT, 0);
  g_autofree char *html_b = article (100, 5, 999);
  g_autofree char *html_c = article (500, G_MAXUINT, 0);
  g_autoptr (TsqContent) a = extract (html_a, NULL);
  g_autoptr (TsqContent) b = extract (html_b, NULL);
  g_autoptr (TsqContent) c = extract (html_c, NULL);
  double near = tsq_simhash_similarity (a->simhash, b->simhash);
  double far = tsq_simhash_similarity (a->simhash, c->simhash);

  g_test_message ("one paragraph of 12 changed: %.3f; page rewritten: %.3f", near, far);
  g_assert_cmpstr (a->hash_hex, !=, b->hash_hex);
  g_assert_cmpfloat (near, <, 1.0);
  g_assert_cmpfloat (near, >, 0.8);
  g_assert_cmpstr (a->hash_hex, !=, c->hash_hex);
  g_assert_cmpfloat (far, <, 0.75);
}

static void
test_normalize_masks (void)
{
  const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    /* dates */
    { "on 2026-12-03 and", "on <date> and" },
    { "at 2026-12-03T12:34:56.123Z.", "at <date>." },
    { "Thu, 03 Dec 2026 12:34:56 GMT", "<date>" },
    { "posted 3 Dec 2026 by", "posted <date> by" },
    { "Thursday, December 3rd, 2026", "<date>" },
    { "December 3, 2026", "<date>" },
    { "Dec. 3, 2026", "<date>" },
    { "12/03/2026 or 12/3/26", "<date> or <date>" },
    { "03.12.2026", "<date>" },
    { "2026/12/03", "<date>" },
    /* times */
    { "at 12:34 today", "at <time> today" },
    { "12:34:56 UTC", "<time>" },
    { "9:05 pm EST", "<time>" },
    { "doors at 7pm", "doors at <time>" },
    { "14:00 CEST", "<time>" },
    /* relative times */
    { "5 minutes ago", "<ago>" },
    { "an hour ago", "<ago>" },
    { "3h ago", "<ago>" },
    { "updated just now", "updated <ago>" },
    /* tokens */
    { "id 550e8400-e29b-41d4-a716-446655440000 x", "id <uuid> x" },
    { "sha 9f86d081884c7d659a2feaa0c55ad015 end", "sha <hex> end" },
    { "t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
      "t <jwt>" },
    { "k q8Zk2LmP4xR7tY1wVb9nS3cD6fG0hJ5e==", "k <token>" },
    { "at 1733230496 or 1733230496123", "at <timestamp> or <timestamp>" },
    { "/app.js?v=20261203&x=1", "/app.js?v=<n>&x=1" },
    /* counters */
    { "1,234 views", "<n> views" },
    { "Generated today, 1017 views", "Generated today, <n> views" },
    { "Downloads: 25317", "Downloads <n>" },
    { "12.5K likes and 3 comments", "<n> likes and <n> comments" },
    { "Followers: 10 542", "Followers <n>" },
    /* whitespace */
    { "  a \t b\n\n\n  c\u00a0 d  ", "a b\nc d" },
    /* kept: versions, years, scores, long words, ordinary numbers */
    { "jQuery 3.6.0 and 2.10.4", "jQuery 3.6.0 and 2.10.4" },
    { "© 2025 Example", "© 2025 Example" },
    { "won 4:1 at home", "won 4:1 at home" },
    { "internationalization", "internationalization" },
    { "Chapter 12 has 300 pages", "Chapter 12 has 300 pages" },
    { "the May 2026 issue", "the May 2026 issue" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = tsq_content_normalize_text (cases[i].in);
      g_assert_cmpstr (got, ==, cases[i].out);
    }
}

static void
test_dom_filter (void)
{
  g_autoptr (TsqContent) c = extract (
    "<html><head><title>T</title><style>.x{}</style></head><body>"
    "<p>visible</p><script>var hidden = 1;</script><noscript>enable js</noscript>"
    "<template><p>tpl</p></template><svg><text>svg text</text><title>svg title</title></svg>"
    "<!-- a comment --><div hidden>hidden attr</div>"
    "<div style=\"color: red; display: none\">display none</div>"
    "<div class=\"pdfpreview\">not an ad</div><iframe>frame fallback</iframe>"
    "<img src=\"x.png\" alt=\"A chart\"><p>a<br>b</p>"
    "<table><tr><td>c1</td><td>c2</td></tr></table></body></html>",
    NULL);

  g_assert_cmpstr (c->text, ==, "T\nvisible\nnot an ad\nA chart\na\nb\nc1 c2");
  g_assert_cmpuint (c->text_length, ==, g_utf8_strlen (c->text, -1));
}

static gboolean
skip_sidebar (xmlNode *node, gpointer user_data)
{
  guint *calls = user_data;
  xmlChar *id = xmlGetProp (node, (const xmlChar *)"id");
  gboolean skip = id != NULL && g_str_equal ((const char *)id, "sidebar");

  (*calls)++;
  xmlFree (id);
  return skip;
}

static void
test_rules (void)
{
  TsqContentRules rules = { 0 };
  g_autoptr (GError) error = NULL;
  guint calls = 0;
  const char *html_a = "<body><p>Article</p><p>Weather: 21°C sunny</p>"
                       "<div id=\"sidebar\">Trending: cats</div></body>";
  const char *html_b = "<body><p>Article</p><p>Weather: 14°C rain</p>"
                       "<div id=\"sidebar\">Trending: dogs</div></body>";
  g_autoptr (TsqContent) plain_a = extract (html_a, NULL);
  g_autoptr (TsqContent) plain_b = extract (html_b, NULL);
  g_autoptr (TsqContent) a = NULL;
  g_autoptr (TsqContent) b = NULL;

  g_assert_false (tsq_content_rules_add_regex (&rules, "([unclosed", &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_REGEX_ERROR);
  g_clear_error (&error);
  g_assert_true (tsq_content_rules_add_regex (&rules, "Weather: [^\\n]*", &error));
  g_assert_no_error (error);
  rules.skip_node = skip_sidebar;
  rules.skip_data = &calls;

  g_assert_cmpstr (plain_a->hash_hex, !=, plain_b->hash_hex);
  a = extract (html_a, &rules);
  b = extract (html_b, &rules);
  g_assert_cmpuint (calls, >, 0);
  g_assert_cmpstr (a->text, ==, "Article");
  g_assert_cmpstr (a->hash_hex, ==, b->hash_hex);
  tsq_content_rules_clear (&rules);
}

static void
test_simhash (void)
{
  guint64 h1 = tsq_simhash_compute ("the quick brown fox jumps over the lazy dog");
  guint64 h2 = tsq_simhash_compute ("The  Quick brown fox jumps over the lazy dog");

  g_assert_cmpuint (tsq_simhash_compute (""), ==, 0);
  g_assert_cmpuint (tsq_simhash_compute (NULL), ==, 0);
  g_assert_cmpuint (tsq_simhash_compute ("one"), !=, 0);
  /* Case and spacing do not matter. */
  g_assert_cmpuint (h1, ==, h2);
  /* Stored simhashes are compared across agent versions: the function must never change.
   * Golden value computed independently with a Python transcription of the documented algorithm
   * (FNV-1a 64 of "w1 w2 w3", SplitMix64 finalizer, per-bit majority). */
  g_assert_cmpuint (h1, ==, G_GUINT64_CONSTANT (0x0d2dbd6989073266));
  g_assert_cmpfloat (tsq_simhash_similarity (0, G_MAXUINT64), ==, 0.0);
  g_assert_cmpfloat (tsq_simhash_similarity (h1, h1), ==, 1.0);
  g_assert_cmpuint (tsq_simhash_distance (0xF0, 0x0F), ==, 8);
}

static void
test_to_json (void)
{
  GString *big = g_string_new ("<body><p>");
  g_autoptr (TsqContent) small = extract ("<title>Hi</title><p>Hello</p>", NULL);
  g_autoptr (TsqContent) large = NULL;
  g_autoptr (JsonObject) obj = tsq_content_to_json (small);
  g_autoptr (JsonObject) large_obj = NULL;
  const char *simhash = json_object_get_string_member (obj, "simhash");
  g_autofree char *expected_simhash
    = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", small->simhash);
  const char *capped;

  g_assert_cmpstr (json_object_get_string_member (obj, "hash"), ==, small->hash_hex);
  g_assert_cmpuint (strlen (simhash), ==, 16);
  g_assert_cmpstr (simhash, ==, expected_simhash);
  g_assert_cmpstr (json_object_get_string_member (obj, "title"), ==, "Hi");
  g_assert_cmpint (json_object_get_int_member (obj, "text_length"), ==, 8); /* "Hi\nHello" */
  g_assert_cmpstr (json_object_get_string_member (obj, "text"), ==, "Hi\nHello");

  /* 300 KiB of two-byte characters: capped at 256 KiB on a character boundary. */
  while (big->len < 300 * 1024)
    g_string_append (big, "éé ");
  g_string_append (big, "</p></body>");
  large = extract (big->str, NULL);
  large_obj = tsq_content_to_json (large);
  capped = json_object_get_string_member (large_obj, "text");
  g_assert_cmpuint (strlen (capped), <=, 256 * 1024);
  g_assert_cmpuint (strlen (capped), >, 256 * 1024 - 4);
  g_assert_true (g_utf8_validate (capped, -1, NULL));
  g_assert_cmpint (json_object_get_int_member (large_obj, "text_length"), ==, large->text_length);
  g_assert_true (json_object_has_member (large_obj, "title"));
  g_assert_true (json_object_get_null_member (large_obj, "title"));
  g_string_free (big, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tsq/content/volatile-changes-same-hash", test_volatile_changes_same_hash);
  g_test_add_func ("/tsq/content/each-volatile-change", test_each_volatile_change);
  g_test_add_func ("/tsq/content/changed-paragraph", test_changed_paragraph);
  g_test_add_func ("/tsq/content/normalize-masks", test_normalize_masks);
  g_test_add_func ("/tsq/content/dom-filter", test_dom_filter);
  g_test_add_func ("/tsq/content/rules", test_rules);
  g_test_add_func ("/tsq/content/simhash", test_simhash);
  g_test_add_func ("/tsq/content/to-json", test_to_json);

  return g_test_run ();
}
