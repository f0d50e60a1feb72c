/* tsq-json-util.h: small json-glib helpers shared by every module. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Documents nested deeper than this are refused by tsq_json_from_string. */
#define TSQ_JSON_MAX_DEPTH 256

char *tsq_json_to_string (JsonNode *node, gboolean pretty);
JsonNode *tsq_json_from_string (const char *text, GError **error);
const char *tsq_json_get_string (JsonObject *object, const char *member, const char *fallback);
gint64 tsq_json_get_int (JsonObject *object, const char *member, gint64 fallback);
double tsq_json_get_double (JsonObject *object, const char *member, double fallback);
gboolean tsq_json_get_boolean (JsonObject *object, const char *member, gboolean fallback);
JsonObject *tsq_json_get_object (JsonObject *object, const char *member);
JsonArray *tsq_json_get_array (JsonObject *object, const char *member);
/* json_node_copy () shares objects and arrays with the original; these share nothing. */
JsonNode *tsq_json_node_deep_copy (JsonNode *node);
JsonObject *tsq_json_object_deep_copy (JsonObject *object);
JsonArray *tsq_json_array_deep_copy (JsonArray *array);

G_END_DECLS
