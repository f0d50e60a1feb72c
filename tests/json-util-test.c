/* json-util-test.c: the tolerant JSON getters. */
#include "tsq-json-util.h"

static void
test_getters_tolerate_wrong_types (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = tsq_json_from_string ("{\"s\":\"x\",\"i\":3,\"d\":2.5,\"b\":true,"
                                                    "\"o\":{},\"a\":[1]}",
                                                    &error);
  JsonObject *obj;

  g_assert_no_error (error);
  obj = json_node_get_object (node);
  g_assert_cmpstr (tsq_json_get_string (obj, "s", NULL), ==, "x");
  g_assert_cmpstr (tsq_json_get_string (obj, "i", "fb"), ==, "fb");
  g_assert_cmpint (tsq_json_get_int (obj, "i", 0), ==, 3);
  g_assert_cmpint (tsq_json_get_int (obj, "d", 0), ==, 2);
  g_assert_cmpint (tsq_json_get_int (obj, "s", -1), ==, -1);
  g_assert_cmpfloat (tsq_json_get_double (obj, "i", 0), ==, 3.0);
  g_assert_true (tsq_json_get_boolean (obj, "b", FALSE));
  g_assert_nonnull (tsq_json_get_object (obj, "o"));
  g_assert_null (tsq_json_get_object (obj, "a"));
  g_assert_nonnull (tsq_json_get_array (obj, "a"));
  g_assert_null (tsq_json_get_array (NULL, "a"));
}

static void
test_parse_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = tsq_json_from_string ("{\"unterminated\": ", &error);

  g_assert_null (node);
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_null (tsq_json_from_string ("", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* Deep nesting is refused before json-glib recurses into it; brackets inside strings do not
   * count. */
  {
    g_autofree char *deep = g_strnfill (1000000, '[');
    g_autofree char *fine = g_strconcat ("{\"a\":\"", deep, "\"}", NULL);
    g_autoptr (JsonNode) ok = NULL;

    g_assert_null (tsq_json_from_string (deep, &error));
    g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
    g_clear_error (&error);
    ok = tsq_json_from_string (fine, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ok);
  }
}

static void
test_deep_copy (void)
{
  g_autoptr (JsonNode) node = tsq_json_from_string ("{\"a\":{\"b\":[1,{\"c\":\"d\"}]},\"e\":null}", NULL);
  g_autoptr (JsonNode) copy = tsq_json_node_deep_copy (node);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  JsonObject *inner;

  before = tsq_json_to_string (node, FALSE);
  /* Changing the copy, at any depth, leaves the original alone. */
  inner = json_array_get_object_element (
    json_object_get_array_member (json_object_get_object_member (json_node_get_object (copy), "a"), "b"), 1);
  json_object_set_string_member (inner, "c", "changed");
  json_object_remove_member (json_node_get_object (copy), "e");
  after = tsq_json_to_string (node, FALSE);
  g_assert_cmpstr (before, ==, after);
  g_assert_true (json_node_get_object (node) != json_node_get_object (copy));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/json-util/getters", test_getters_tolerate_wrong_types);
  g_test_add_func ("/tsq/json-util/parse-errors", test_parse_errors);
  g_test_add_func ("/tsq/json-util/deep-copy", test_deep_copy);
  return g_test_run ();
}
