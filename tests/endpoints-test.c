/* endpoints-test.c: endpoint discovery per kind, the origin rule and URL normalization. */
#include <string.h>

#include "tsq-endpoints.h"
#include "tsq-json-util.h"

static JsonArray *
endpoints_of (const char *html)
{
  g_autoptr (GBytes) body = g_bytes_new (html, strlen (html));
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqPage) page
    = tsq_page_parse (body, "text/html", "https://www.example.com/app/index.html", &error);

  g_assert_no_error (error);
  return tsq_endpoints_extract (page);
}

/* "kind url [method]" lines, in array order. */
static char *
describe (JsonArray *array)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *obj = json_array_get_object_element (array, i);

      g_string_append_printf (out, "%s %s", json_object_get_string_member (obj, "kind"),
                              json_object_get_string_member (obj, "url"));
      if (json_object_has_member (obj, "method"))
        g_string_append_printf (out, " %s", json_object_get_string_member (obj, "method"));
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

static void
assert_endpoints (const char *html, const char *expected)
{
  g_autoptr (JsonArray) array = endpoints_of (html);
  g_autofree char *got = describe (array);

  g_assert_cmpstr (got, ==, expected);
}

static void
test_api (void)
{
  assert_endpoints ("<a href=\"/api/items?id=5&b=2&id=7#top\">x</a>"
                    "<a href=\"/api/items?b=9&id=1\">same after normalization</a>"
                    "<a href=\"/api.php?action=query\">php</a>"
                    "<a href=\"https://api.example.com/users/42\">api host</a>"
                    "<a href=\"https://api.other.com/users\">other site</a>"
                    "<a href=\"https://www.other.com/api/x\">other origin</a>"
                    "<a href=\"http://www.example.com/api/x\">other scheme</a>"
                    "<a href=\"/wp-json/wp/v2/posts\">wordpress</a>"
                    "<a href=\"/apiary/\">not api</a><a href=\"/about\">plain</a>",
                    "api https://api.example.com/users/{id}\n"
                    "api https://www.example.com/api.php?action=:\n"
                    "api https://www.example.com/api/items?b=:&id=:\n"
                    "api https://www.example.com/wp-json/wp/v2/posts\n");
}

static void
test_graphql (void)
{
  assert_endpoints ("<link rel=\"preconnect\" href=\"/graphql\">"
                    "<a href=\"/api/graphql?query=abc\">g</a>"
                    "<a href=\"https://cdn.other.com/graphql\">x</a>",
                    "graphql https://www.example.com/api/graphql?query=:\n"
                    "graphql https://www.example.com/graphql\n");
}

static void
test_versioned (void)
{
  assert_endpoints ("<a href=\"/v2.1/users/123/orders/550e8400-e29b-41d4-a716-446655440000\">o</a>"
                    "<a href=\"/v1/objects/5f2b6c3e9a1d4e0012ab34cd/\">hex id</a>"
                    "<a href=\"/vintage/cars\">not a version</a>"
                    "<a href=\"/blog/v8-release\">not a version</a>",
                    "versioned https://www.example.com/v1/objects/{id}/\n"
                    "versioned https://www.example.com/v2.1/users/{id}/orders/{id}\n");
}

static void
test_forms (void)
{
  assert_endpoints ("<form action=\"/login\" method=\"post\"></form>"
                    "<form action=\"search\"></form>"
                    "<form></form>"
                    "<form action=\"https://pay.other.com/checkout\" method=\"post\"></form>",
                    "form https://www.example.com/app/index.html GET\n"
                    "form https://www.example.com/app/search GET\n"
                    "form https://www.example.com/login POST\n");
}

static void
test_openapi (void)
{
  assert_endpoints ("<a href=\"https://docs.other.com/v3/swagger.json\">spec</a>"
                    "<a href=\"/openapi.yaml\">yaml</a>"
                    "<a href=\"/api-docs/\">docs</a>"
                    "<link rel=\"help\" href=\"/swagger-ui/index.html\">"
                    "<a href=\"https://redocly.other.com/redoc\">redoc</a>",
                    "openapi https://docs.other.com/v3/swagger.json\n"
                    "openapi https://redocly.other.com/redoc\n"
                    "openapi https://www.example.com/api-docs/\n"
                    "openapi https://www.example.com/openapi.yaml\n"
                    "openapi https://www.example.com/swagger-ui/index.html\n");
}

static void
test_script_fetch (void)
{
  assert_endpoints ("<script>\n"
                    "fetch('/cart/add', { method: 'POST', body: data });\n"
                    "fetch(`/items/${item.id}/reviews?page=${n}`).then(r => r.json());\n"
                    "fetch(`${API_BASE}/unknown`);\n"
                    "fetch(\"https://cdn.other.com/track\");\n"
                    "axios.get('/data/list?limit=10');\n"
                    "axios.delete(\"/data/7\");\n"
                    "$.ajax({ url: '/rpc/call', type: 'PUT', data: x });\n"
                    "$.post(\"/comments/save\", payload);\n"
                    "jQuery.getJSON('/feed.json');\n"
                    "var xhr = new XMLHttpRequest(); xhr.open('GET', '/status/poll', true);\n"
                    "var ws = new WebSocket('wss://www.example.com/live');\n"
                    "var es = new EventSource('/events');\n"
                    "</script>"
                    "<script type=\"application/json\">{\"x\": \"fetch('/not/js')\"}</script>",
                    "script-fetch https://www.example.com/cart/add POST\n"
                    "script-fetch https://www.example.com/comments/save POST\n"
                    "script-fetch https://www.example.com/data/list?limit=: GET\n"
                    "script-fetch https://www.example.com/data/{id} DELETE\n"
                    "script-fetch https://www.example.com/events GET\n"
                    "script-fetch https://www.example.com/feed.json GET\n"
                    "script-fetch https://www.example.com/items/{id}/reviews?page=: GET\n"
                    "script-fetch https://www.example.com/rpc/call PUT\n"
                    "script-fetch https://www.example.com/status/poll GET\n"
                    "script-fetch wss://www.example.com/live\n");
}

static void
test_script_literals (void)
{
  /* API-looking string literals in inline scripts, also JSON-escaped, also not in a call. */
  assert_endpoints ("<script>window.cfg = {\"endpoint\":\"\\/api\\/v1\\/config\", "
                    "graph: '/graphql', other: '/static/app.css', ext: 'https://x.io/api/'};"
                    "fetch('/api/v1/config');</script>",
                    "api https://www.example.com/api/v1/config\n"
                    "script-fetch https://www.example.com/api/v1/config GET\n"
                    "graphql https://www.example.com/graphql\n");
}

static void
test_normalize (void)
{
  const struct
  {
    const char *in, *out;
  } cases[] = {
    { "HTTPS://WWW.Example.COM:443/API/Items/12?Z=1&a=2#f",
      "https://www.example.com/API/Items/{id}?Z=:&a=:" },
    { "/x/DEADBEEF12/y", "https://www.example.com/x/{id}/y" },
    { "/x/deadbeef/y", "https://www.example.com/x/deadbeef/y" },
    { "/x/aZ9kLmN0pQrStUvW/y", "https://www.example.com/x/{id}/y" },
    { "/x/2024-annual-report", "https://www.example.com/x/2024-annual-report" },
    { "?flag", "https://www.example.com/app/index.html?flag=:" },
    { "mailto:a@b.c", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got
        = tsq_endpoints_normalize_url ("https://www.example.com/app/index.html", cases[i].in);
      g_assert_cmpstr (got, ==, cases[i].out);
    }
}

static void
test_empty_and_garbage (void)
{
  g_autoptr (JsonArray) empty = endpoints_of ("");
  g_autoptr (JsonArray) garbage
    = endpoints_of ("<script>fetch(fetch(fetch('/api/'+</script><a href=\"http://[bad\">x</a>"
                    "<script>$.ajax({url: </script><script>axios.get(`</script>");

  g_assert_cmpuint (json_array_get_length (empty), ==, 0);
  /* Only the unterminated literals' neighbours; must not crash or invent URLs. */
  for (guint i = 0; i < json_array_get_length (garbage); i++)
    {
      JsonObject *obj = json_array_get_object_element (garbage, i);
      g_assert_true (
        g_str_has_prefix (json_object_get_string_member (obj, "url"), "https://www.example.com/"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tsq/endpoints/api", test_api);
  g_test_add_func ("/tsq/endpoints/graphql", test_graphql);
  g_test_add_func ("/tsq/endpoints/versioned", test_versioned);
  g_test_add_func ("/tsq/endpoints/form", test_forms);
  g_test_add_func ("/tsq/endpoints/openapi", test_openapi);
  g_test_add_func ("/tsq/endpoints/script-fetch", test_script_fetch);
  g_test_add_func ("/tsq/endpoints/script-literals", test_script_literals);
  g_test_add_func ("/tsq/endpoints/normalize", test_normalize);
  g_test_add_func ("/tsq/endpoints/empty-and-garbage", test_empty_and_garbage);

  return g_test_run ();
}
