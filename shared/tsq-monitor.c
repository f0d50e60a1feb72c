/* tsq-monitor.c: the monitor model, its JSON form and its validation.
 *
 * JSON from users (CLI files, API) is parsed strictly: a typo in a member name must be an error,
 * not a silently ignored option.
 */
#define G_LOG_DOMAIN "tsq-monitor"

#include "tsq-css-select.h"
#include "tsq-monitor.h"

G_DEFINE_QUARK (tsq - monitor - error - quark, tsq_monitor_error)

G_DEFINE_BOXED_TYPE (TsqMonitor, tsq_monitor, tsq_monitor_ref, tsq_monitor_unref)

static TsqScheduleValidator schedule_validator;
static GMutex schedule_validator_lock;

TsqMonitor *
tsq_monitor_new (const char *name, const char *url, const char *schedule)
{
  TsqMonitor *m = g_atomic_rc_box_new0 (TsqMonitor);

  m->id = g_uuid_string_random ();
  m->organization_id = g_strdup (TSQ_MONITOR_DEFAULT_ORGANIZATION);
  m->name = g_strdup (name);
  m->url = g_strdup (url);
  m->schedule = g_strdup (schedule);
  m->scan_config = json_object_new ();
  m->alert_rules = json_array_new ();
  m->enabled = TRUE;
  m->created_at = m->updated_at = g_get_real_time ();
  return m;
}

TsqMonitor *
tsq_monitor_ref (TsqMonitor *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  return g_atomic_rc_box_acquire (m);
}

static void
tsq_monitor_clear (gpointer data)
{
  TsqMonitor *m = data;

  g_free (m->id);
  g_free (m->organization_id);
  g_free (m->name);
  g_free (m->url);
  g_free (m->schedule);
  g_clear_pointer (&m->scan_config, json_object_unref);
  g_clear_pointer (&m->alert_rules, json_array_unref);
}

void
tsq_monitor_unref (TsqMonitor *m)
{
  g_return_if_fail (m != NULL);
  g_atomic_rc_box_release_full (m, tsq_monitor_clear);
}

/* json_node_copy() is shallow (it shares objects and arrays), so copy through the serializer. */
static JsonNode *
deep_copy_node (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  return json_from_string (text, NULL);
}

static JsonObject *
deep_copy_object (JsonObject *obj)
{
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (JsonNode) copy = NULL;

  if (obj == NULL)
    return json_object_new ();
  node = json_node_init_object (json_node_alloc (), obj);
  copy = deep_copy_node (node);
  return json_object_ref (json_node_get_object (copy));
}

static JsonArray *
deep_copy_array (JsonArray *array)
{
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (JsonNode) copy = NULL;

  if (array == NULL)
    return json_array_new ();
  node = json_node_init_array (json_node_alloc (), array);
  copy = deep_copy_node (node);
  return json_array_ref (json_node_get_array (copy));
}

TsqMonitor *
tsq_monitor_copy (TsqMonitor *m)
{
  TsqMonitor *copy;

  g_return_val_if_fail (m != NULL, NULL);

  copy = g_atomic_rc_box_new0 (TsqMonitor);
  copy->id = g_strdup (m->id);
  copy->organization_id = g_strdup (m->organization_id);
  copy->name = g_strdup (m->name);
  copy->url = g_strdup (m->url);
  copy->schedule = g_strdup (m->schedule);
  copy->scan_config = deep_copy_object (m->scan_config);
  copy->alert_rules = deep_copy_array (m->alert_rules);
  copy->enabled = m->enabled;
  copy->created_at = m->created_at;
  copy->updated_at = m->updated_at;
  copy->last_run_us = m->last_run_us;
  copy->next_run_us = m->next_run_us;
  return copy;
}

char *
tsq_monitor_time_to_iso8601 (gint64 unix_us)
{
  gint64 secs = unix_us / G_USEC_PER_SEC;
  gint64 frac = unix_us % G_USEC_PER_SEC;
  g_autoptr (GDateTime) base = NULL;
  g_autoptr (GDateTime) dt = NULL;

  if (frac < 0)
    {
      secs -= 1;
      frac += G_USEC_PER_SEC;
    }
  base = g_date_time_new_from_unix_utc (secs);
  if (base == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  dt = g_date_time_add (base, frac);
  return g_date_time_format_iso8601 (dt);
}

gboolean
tsq_monitor_time_from_iso8601 (const char *text, gint64 *unix_us)
{
  g_autoptr (GDateTime) dt = NULL;

  if (text == NULL)
    return FALSE;
  dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return FALSE;
  *unix_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

static void
add_time (JsonBuilder *b, const char *member, gint64 us, gboolean zero_is_null)
{
  g_autofree char *iso = NULL;

  json_builder_set_member_name (b, member);
  if (zero_is_null && us == 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  iso = tsq_monitor_time_to_iso8601 (us);
  json_builder_add_string_value (b, iso);
}

static void
add_string_or_null (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

JsonNode *
tsq_monitor_to_json (TsqMonitor *m)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (m != NULL, NULL);

  json_builder_begin_object (b);
  add_string_or_null (b, "id", m->id);
  add_string_or_null (b, "organization_id", m->organization_id);
  add_string_or_null (b, "name", m->name);
  add_string_or_null (b, "url", m->url);
  add_string_or_null (b, "schedule", m->schedule);
  json_builder_set_member_name (b, "scan_config");
  if (m->scan_config)
    json_builder_add_value (b, json_node_init_object (json_node_alloc (), m->scan_config));
  else
    {
      json_builder_begin_object (b);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "alert_rules");
  if (m->alert_rules)
    json_builder_add_value (b, json_node_init_array (json_node_alloc (), m->alert_rules));
  else
    {
      json_builder_begin_array (b);
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "enabled");
  json_builder_add_boolean_value (b, m->enabled);
  add_time (b, "created_at", m->created_at, FALSE);
  add_time (b, "updated_at", m->updated_at, FALSE);
  add_time (b, "last_run_at", m->last_run_us, TRUE);
  add_time (b, "next_run_at", m->next_run_us, TRUE);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, TSQ_MONITOR_ERROR, TSQ_MONITOR_ERROR_INVALID, msg);
  return FALSE;
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

/* "member": string -> *out (owned). */
static gboolean
take_string (JsonNode *node, const char *member, char **out, GError **error)
{
  if (!node_is_string (node))
    return invalid (error, "monitor member “%s” must be a string", member);
  g_free (*out);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
take_time (JsonNode *node, const char *member, gboolean nullable, gint64 *out, GError **error)
{
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    {
      *out = 0;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (node_is_string (node) && tsq_monitor_time_from_iso8601 (json_node_get_string (node), out))
    return TRUE;
  return invalid (error, "monitor member “%s” must be an ISO 8601 time%s", member,
                  nullable ? " or null" : "");
}

TsqMonitor *
tsq_monitor_from_json (JsonNode *node, GError **error)
{
  g_autoptr (TsqMonitor) m = NULL;
  JsonObject *obj;
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;
  gboolean have_url = FALSE;
  gboolean have_schedule = FALSE;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, "a monitor must be a JSON object");
      return NULL;
    }
  obj = json_node_get_object (node);

  m = tsq_monitor_new (NULL, NULL, NULL);
  g_clear_pointer (&m->id, g_free);

  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &member, &value))
    {
      gboolean ok;

      if (g_str_equal (member, "id"))
        ok = take_string (value, member, &m->id, error);
      else if (g_str_equal (member, "organization_id"))
        ok = take_string (value, member, &m->organization_id, error);
      else if (g_str_equal (member, "name"))
        ok = take_string (value, member, &m->name, error);
      else if (g_str_equal (member, "url"))
        ok = have_url = take_string (value, member, &m->url, error);
      else if (g_str_equal (member, "schedule"))
        ok = have_schedule = take_string (value, member, &m->schedule, error);
      else if (g_str_equal (member, "scan_config"))
        {
          ok = JSON_NODE_HOLDS_OBJECT (value);
          if (ok)
            {
              json_object_unref (m->scan_config);
              m->scan_config = json_object_ref (json_node_get_object (value));
            }
          else
            invalid (error, "monitor member “%s” must be an object", member);
        }
      else if (g_str_equal (member, "alert_rules"))
        {
          ok = JSON_NODE_HOLDS_ARRAY (value);
          if (ok)
            {
              json_array_unref (m->alert_rules);
              m->alert_rules = json_array_ref (json_node_get_array (value));
            }
          else
            invalid (error, "monitor member “%s” must be an array", member);
        }
      else if (g_str_equal (member, "enabled"))
        {
          ok = JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_BOOLEAN;
          if (ok)
            m->enabled = json_node_get_boolean (value);
          else
            invalid (error, "monitor member “%s” must be a boolean", member);
        }
      else if (g_str_equal (member, "created_at"))
        ok = take_time (value, member, FALSE, &m->created_at, error);
      else if (g_str_equal (member, "updated_at"))
        ok = take_time (value, member, FALSE, &m->updated_at, error);
      else if (g_str_equal (member, "last_run_at"))
        ok = take_time (value, member, TRUE, &m->last_run_us, error);
      else if (g_str_equal (member, "next_run_at"))
        ok = take_time (value, member, TRUE, &m->next_run_us, error);
      else
        ok = invalid (error, "unknown monitor member “%s”", member);

      if (!ok)
        return NULL;
    }

  if (!have_url)
    {
      invalid (error, "monitor member “url” is missing");
      return NULL;
    }
  if (m->id == NULL)
    m->id = g_uuid_string_random ();
  if (m->name == NULL)
    m->name = g_strdup (m->url);
  if (!have_schedule)
    m->schedule = g_strdup (TSQ_MONITOR_DEFAULT_SCHEDULE);

  return g_steal_pointer (&m);
}

static gboolean
validate_string_array (
  JsonObject *obj, const char *member, const char *path, gboolean regex, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  JsonArray *array;
  guint i;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "scan_config member “%s” must be an array of strings", path);
  array = json_node_get_array (node);
  for (i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *elem = json_array_get_element (array, i);
      g_autoptr (GError) local = NULL;
      g_autoptr (GRegex) re = NULL;

      if (!node_is_string (elem))
        return invalid (error, "scan_config member “%s” must be an array of strings", path);
      if (!regex)
        {
          g_autoptr (TsqCssSelector) selector = tsq_css_selector_parse (json_node_get_string (elem), &local);

          if (selector == NULL)
            return invalid (error, "scan_config member “%s”[%u] is not a supported CSS selector: %s",
                            path, i, local->message);
          continue;
        }
      re = g_regex_new (json_node_get_string (elem), 0, 0, &local);
      if (re == NULL)
        return invalid (error, "scan_config member “%s”[%u] is not a valid regular expression: %s",
                        path, i, local->message);
    }
  return TRUE;
}

static gboolean
validate_bool_member (JsonObject *obj, const char *member, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return TRUE;
  return invalid (error, "scan_config member “%s” must be a boolean", member);
}

static gboolean
validate_scan_config (JsonObject *config, GError **error)
{
  JsonNode *node;

  if (config == NULL)
    return TRUE;

  node = json_object_get_member (config, "timeout_s");
  if (node != NULL)
    {
      GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;

      if ((type != G_TYPE_INT64 && type != G_TYPE_DOUBLE) || json_node_get_double (node) <= 0)
        return invalid (error, "scan_config member “timeout_s” must be a positive number");
    }
  if (!validate_bool_member (config, "third_party_resources", error)
      || !validate_bool_member (config, "fetch_resources", error)
      || !validate_bool_member (config, "insecure_tls", error))
    return FALSE;

  node = json_object_get_member (config, "ignore");
  if (node != NULL)
    {
      JsonObject *ignore;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return invalid (error, "scan_config member “ignore” must be an object");
      ignore = json_node_get_object (node);
      if (!validate_string_array (ignore, "regex", "ignore.regex", TRUE, error)
          || !validate_string_array (ignore, "selectors", "ignore.selectors", FALSE, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
tsq_monitor_validate (TsqMonitor *m, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;
  TsqScheduleValidator validator;
  const char *scheme;

  g_return_val_if_fail (m != NULL, FALSE);

  if (m->id == NULL || *m->id == '\0')
    return invalid (error, "monitor id must not be empty");
  {
    g_autofree char *stripped = g_strstrip (g_strdup (m->name ? m->name : ""));

    if (*stripped == '\0')
      return invalid (error, "monitor name must not be empty");
    if (strlen (m->name) > 200)
      return invalid (error, "monitor name is longer than 200 bytes");
  }
  if (m->url != NULL && strlen (m->url) > 8192)
    return invalid (error, "monitor url is longer than 8192 bytes");
  if (m->url == NULL || *m->url == '\0')
    return invalid (error, "monitor url must not be empty");
  uri = g_uri_parse (m->url, G_URI_FLAGS_NONE, &local);
  if (uri == NULL)
    return invalid (error, "monitor url “%s” is not a valid absolute URL: %s", m->url,
                    local->message);
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return invalid (error, "monitor url “%s” must use http or https", m->url);
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return invalid (error, "monitor url “%s” has no host", m->url);
  if (m->schedule == NULL || *m->schedule == '\0')
    return invalid (error, "monitor schedule must not be empty");
  if (!validate_scan_config (m->scan_config, error))
    return FALSE;

  g_mutex_lock (&schedule_validator_lock);
  validator = schedule_validator;
  g_mutex_unlock (&schedule_validator_lock);
  if (validator != NULL && !validator (m->schedule, &local))
    {
      if (local != NULL)
        return invalid (error, "monitor schedule “%s” is invalid: %s", m->schedule, local->message);
      return invalid (error, "monitor schedule “%s” is invalid", m->schedule);
    }
  return TRUE;
}

void
tsq_monitor_set_schedule_validator (TsqScheduleValidator validate)
{
  g_mutex_lock (&schedule_validator_lock);
  schedule_validator = validate;
  g_mutex_unlock (&schedule_validator_lock);
}
