/* tsq-scan-format.c: scan results and changes as text for people (CLI, TUI). */
#define G_LOG_DOMAIN "tsq-format"

#include "tsq-json-util.h"
#include "tsq-scan-format.h"

char *
tsq_format_value (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("—");
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);

      if (type == G_TYPE_STRING)
        return g_strdup (json_node_get_string (node));
      if (type == G_TYPE_INT64)
        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      if (type == G_TYPE_DOUBLE)
        return g_strdup_printf ("%.1f", json_node_get_double (node));
      if (type == G_TYPE_BOOLEAN)
        return g_strdup (json_node_get_boolean (node) ? "true" : "false");
    }
  return tsq_json_to_string (node, FALSE);
}

char *
tsq_change_format_line (JsonObject *change)
{
  const char *type = tsq_json_get_string (change, "type", "?");
  gboolean presence = g_str_has_prefix (type, "security.header_");
  /* Header changes carry presence booleans: say it in words. */
  g_autofree char *old_text = presence
                                ? g_strdup (g_str_has_suffix (type, "added") ? "absent" : "present")
                                : tsq_format_value (json_object_get_member (change, "old"));
  g_autofree char *new_text = presence
                                ? g_strdup (g_str_has_suffix (type, "added") ? "present" : "absent")
                                : tsq_format_value (json_object_get_member (change, "new"));
  const char *subject = tsq_json_get_string (change, "subject", "");
  const char *severity = tsq_json_get_string (change, "severity", "info");

  return g_strdup_printf ("%-8s %-32s %s: %s → %s", severity, type, subject, old_text, new_text);
}

static void
append_list (GString *out, const char *label, JsonArray *array, const char *member)
{
  guint n = array ? json_array_get_length (array) : 0;

  if (n == 0)
    return;
  g_string_append_printf (out, "  %-14s", label);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *text = NULL;

      if (JSON_NODE_HOLDS_OBJECT (node))
        text = tsq_json_get_string (json_node_get_object (node), member, "?");
      else if (JSON_NODE_HOLDS_VALUE (node))
        text = json_node_get_string (node);
      g_string_append_printf (out, "%s%s", i ? ", " : "", text ? text : "?");
    }
  g_string_append_c (out, '\n');
}

char *
tsq_scan_format_text (JsonObject *result)
{
  GString *out = g_string_new (NULL);
  JsonObject *error = tsq_json_get_object (result, "error");
  JsonObject *timings = tsq_json_get_object (result, "timings");
  JsonObject *size = tsq_json_get_object (result, "size");
  JsonObject *security = tsq_json_get_object (result, "security");
  JsonObject *content = tsq_json_get_object (result, "content");
  JsonObject *complexity = tsq_json_get_object (result, "complexity");
  JsonObject *tls = tsq_json_get_object (result, "tls");
  JsonArray *techs = tsq_json_get_array (result, "technologies");
  JsonArray *endpoints = tsq_json_get_array (result, "endpoints");
  const char *url = tsq_json_get_string (result, "url", "");
  const char *final_url = tsq_json_get_string (result, "final_url", url);

  g_string_append_printf (out, "%s\n", url);
  if (g_strcmp0 (url, final_url) != 0)
    g_string_append_printf (out, "  %-14s%s\n", "final URL", final_url);
  if (json_object_has_member (result, "status"))
    g_string_append_printf (out, "  %-14s%" G_GINT64_FORMAT "\n", "status",
                            tsq_json_get_int (result, "status", 0));
  if (error)
    g_string_append_printf (out, "  %-14s%s: %s\n", "error",
                            tsq_json_get_string (error, "kind", "?"),
                            tsq_json_get_string (error, "message", ""));
  g_string_append_printf (
    out, "  %-14sdns %.1f  connect %.1f  tls %.1f  ttfb %.1f  total %.1f ms\n", "timings",
    tsq_json_get_double (timings, "dns_ms", 0), tsq_json_get_double (timings, "connect_ms", 0),
    tsq_json_get_double (timings, "tls_ms", 0), tsq_json_get_double (timings, "ttfb_ms", 0),
    tsq_json_get_double (timings, "total_ms", 0));
  g_string_append_printf (
    out,
    "  %-14s%" G_GINT64_FORMAT " bytes on the wire, %" G_GINT64_FORMAT " decoded, %" G_GINT64_FORMAT
    " in linked resources%s\n",
    "size", tsq_json_get_int (size, "bytes", 0), tsq_json_get_int (size, "decoded_bytes", 0),
    tsq_json_get_int (size, "resources_bytes", 0),
    tsq_json_get_boolean (size, "truncated", FALSE) ? " (body cut at max_body)" : "");
  if (tls)
    g_string_append_printf (out, "  %-14s%s, issuer %s, %" G_GINT64_FORMAT " days left\n",
                            "certificate", tsq_json_get_string (tls, "subject", "?"),
                            tsq_json_get_string (tls, "issuer", "?"),
                            tsq_json_get_int (tls, "days_left", 0));

  if (techs && json_array_get_length (techs) > 0)
    {
      g_string_append_printf (out, "  %-14s", "technologies");
      for (guint i = 0; i < json_array_get_length (techs); i++)
        {
          JsonObject *t = json_array_get_object_element (techs, i);
          const char *version = tsq_json_get_string (t, "version", NULL);

          g_string_append_printf (out, "%s%s%s%s", i ? ", " : "",
                                  tsq_json_get_string (t, "name", "?"), version ? " " : "",
                                  version ? version : "");
        }
      g_string_append_c (out, '\n');
    }
  if (security)
    {
      append_list (out, "missing", tsq_json_get_array (security, "missing_headers"), NULL);
      append_list (out, "vulnerable", tsq_json_get_array (security, "vulnerabilities"), "advisory");
      append_list (out, "weak cookies", tsq_json_get_array (security, "insecure_cookies"), "name");
      append_list (out, "mixed content", tsq_json_get_array (security, "mixed_content"), NULL);
    }
  if (content)
    {
      const char *title = tsq_json_get_string (content, "title", NULL);
      const char *hash = tsq_json_get_string (content, "hash", "");

      if (title)
        g_string_append_printf (out, "  %-14s%s\n", "title", title);
      g_string_append_printf (out, "  %-14s%.12s…  simhash %s  %" G_GINT64_FORMAT " chars\n",
                              "content", hash, tsq_json_get_string (content, "simhash", ""),
                              tsq_json_get_int (content, "text_length", 0));
    }
  append_list (out, "endpoints", endpoints, "url");
  if (complexity)
    g_string_append_printf (out,
                            "  %-14s%" G_GINT64_FORMAT " nodes, depth %" G_GINT64_FORMAT
                            ", %" G_GINT64_FORMAT " external + %" G_GINT64_FORMAT
                            " inline scripts, %" G_GINT64_FORMAT " third-party domains\n",
                            "complexity", tsq_json_get_int (complexity, "dom_nodes", 0),
                            tsq_json_get_int (complexity, "max_depth", 0),
                            tsq_json_get_int (complexity, "scripts_external", 0),
                            tsq_json_get_int (complexity, "scripts_inline", 0),
                            tsq_json_get_int (complexity, "third_party_domains", 0));
  return g_string_free (out, FALSE);
}
