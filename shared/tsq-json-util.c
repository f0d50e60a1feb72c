/* tsq-json-util.c: small json-glib helpers shared by every module.
 *
 * The getters never warn on a missing or mistyped member: payloads come from the network, the
 * database and other agents, so a wrong type is data to tolerate, not a programming error.
 */
#define G_LOG_DOMAIN "tsq-json"

#include "tsq-json-util.h"

char *
tsq_json_to_string (JsonNode *node, gboolean pretty)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();

  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

/* json-glib parses recursively: a hostile document of a million '[' would overflow the stack. */
static gboolean
nesting_too_deep (const char *text)
{
  gboolean in_string = FALSE;
  int depth = 0;

  for (const char *p = text; *p; p++)
    {
      if (in_string)
        {
          if (*p == '\\' && p[1] != '\0')
            p++;
          else if (*p == '"')
            in_string = FALSE;
        }
      else if (*p == '"')
        in_string = TRUE;
      else if (*p == '[' || *p == '{')
        {
          if (++depth > TSQ_JSON_MAX_DEPTH)
            return TRUE;
        }
      else if (*p == ']' || *p == '}')
        depth--;
    }
  return FALSE;
}

JsonNode *
tsq_json_from_string (const char *text, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();

  if (nesting_too_deep (text))
    {
      g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                   "JSON nested deeper than %d levels", TSQ_JSON_MAX_DEPTH);
      return NULL;
    }

  if (!json_parser_load_from_data (parser, text, -1, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           "empty JSON document");
      return NULL;
    }
  return json_parser_steal_root (parser);
}

static JsonNode *
member_of_type (JsonObject *object, const char *member, JsonNodeType type)
{
  JsonNode *node;

  if (object == NULL || member == NULL)
    return NULL;
  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_TYPE (node) != type)
    return NULL;
  return node;
}

const char *
tsq_json_get_string (JsonObject *object, const char *member, const char *fallback)
{
  JsonNode *node = member_of_type (object, member, JSON_NODE_VALUE);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return fallback;
  return json_node_get_string (node);
}

gint64
tsq_json_get_int (JsonObject *object, const char *member, gint64 fallback)
{
  JsonNode *node = member_of_type (object, member, JSON_NODE_VALUE);

  if (node == NULL)
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return (gint64)json_node_get_double (node);
  return fallback;
}

double
tsq_json_get_double (JsonObject *object, const char *member, double fallback)
{
  JsonNode *node = member_of_type (object, member, JSON_NODE_VALUE);

  if (node == NULL)
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return json_node_get_double (node);
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return (double)json_node_get_int (node);
  return fallback;
}

gboolean
tsq_json_get_boolean (JsonObject *object, const char *member, gboolean fallback)
{
  JsonNode *node = member_of_type (object, member, JSON_NODE_VALUE);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean (node);
}

JsonObject *
tsq_json_get_object (JsonObject *object, const char *member)
{
  JsonNode *node = member_of_type (object, member, JSON_NODE_OBJECT);

  return node ? json_node_get_object (node) : NULL;
}

JsonArray *
tsq_json_get_array (JsonObject *object, const char *member)
{
  JsonNode *node = member_of_type (object, member, JSON_NODE_ARRAY);

  return node ? json_node_get_array (node) : NULL;
}

JsonArray *
tsq_json_array_deep_copy (JsonArray *array)
{
  JsonArray *copy = json_array_sized_new (json_array_get_length (array));

  for (guint i = 0; i < json_array_get_length (array); i++)
    json_array_add_element (copy, tsq_json_node_deep_copy (json_array_get_element (array, i)));
  return copy;
}

JsonObject *
tsq_json_object_deep_copy (JsonObject *object)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    json_object_set_member (copy, name, tsq_json_node_deep_copy (member));
  return copy;
}

JsonNode *
tsq_json_node_deep_copy (JsonNode *node)
{
  JsonNode *copy;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      copy = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (copy, tsq_json_object_deep_copy (json_node_get_object (node)));
      return copy;
    case JSON_NODE_ARRAY:
      copy = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (copy, tsq_json_array_deep_copy (json_node_get_array (node)));
      return copy;
    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}
