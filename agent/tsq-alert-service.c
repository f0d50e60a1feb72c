/* tsq-alert-service.c: the alert engine wired into the running agent (tsq-alert-service.h). */
#define G_LOG_DOMAIN "tsq-alerts"

#include "tsq-config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "tsq-alert-engine.h"
#include "tsq-alert-rule.h"
#include "tsq-alert-service.h"
#include "tsq-backoff.h"
#include "tsq-json-util.h"
#include "tsq-monitor.h"
#include "tsq-scan-format.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-alert-service-error-quark, tsq_alert_service_error)
/* clang-format on */

#define ALERTS_GROUP "alerts"
#define ESCALATION_PREFIX "escalation "
#define TIMER_MS 250
#define MAX_IN_FLIGHT 16
#define MAX_LISTED_ALERTS 40

/* [alerts] and [escalation NAME], parsed. */
typedef struct
{
  gboolean enabled;
  TsqAlertEngineConfig engine;
  GPtrArray *rules;    /* TsqAlertRule*: global rules */
  GPtrArray *policies; /* TsqAlertEscalationPolicy* */
  GStrv default_channels;
  char *templates;
  TsqBackoff backoff;
  gint64 lease_us;
  gint64 poll_us;
} Settings;

static void
settings_clear (Settings *s)
{
  g_clear_pointer (&s->rules, g_ptr_array_unref);
  g_clear_pointer (&s->policies, g_ptr_array_unref);
  g_clear_pointer (&s->default_channels, g_strfreev);
  g_clear_pointer (&s->templates, g_free);
}

static const char *const alerts_keys[]
  = { "enabled",    "group_wait",       "group_interval", "repeat_interval",
      "flap_scans", "group_by",         "default_rules",  "rules",
      "rules_file", "default_channels", "templates",      "retry_base",
      "retry_cap",  "retry_max_age",    "lease",          "poll_interval",
      NULL };

static gboolean
invalid (GError **error, const char *group, const char *key, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

static gboolean
invalid (GError **error, const char *group, const char *key, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, TSQ_ALERT_SERVICE_ERROR, TSQ_ALERT_SERVICE_ERROR_INVALID, "[%s] %s: %s",
               group, key, message);
  return FALSE;
}

/* Seconds (fractions allowed) in [min, max] into µs; absent keeps *out. */
static gboolean
get_seconds (GKeyFile *kf,
             const char *group,
             const char *key,
             double min,
             double max,
             gint64 *out,
             GError **error)
{
  g_autofree char *text = g_key_file_get_string (kf, group, key, NULL);
  char *end = NULL;
  double v;

  if (text == NULL)
    return TRUE;
  g_strstrip (text);
  errno = 0;
  v = g_ascii_strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite (v) || v < min || v > max)
    return invalid (error, group, key, "expected seconds between %g and %g, got “%s”", min, max,
                    text);
  *out = (gint64)(v * G_USEC_PER_SEC);
  return TRUE;
}

static gboolean
get_bool (GKeyFile *kf, const char *group, const char *key, gboolean *out, GError **error)
{
  g_autofree char *text = g_key_file_get_string (kf, group, key, NULL);

  if (text == NULL)
    return TRUE;
  g_strstrip (text);
  if (g_ascii_strcasecmp (text, "true") == 0 || g_str_equal (text, "1"))
    *out = TRUE;
  else if (g_ascii_strcasecmp (text, "false") == 0 || g_str_equal (text, "0"))
    *out = FALSE;
  else
    return invalid (error, group, key, "expected true or false, got “%s”", text);
  return TRUE;
}

static GStrv
split_list (const char *text)
{
  g_auto (GStrv) parts = g_strsplit_set (text, ",;", -1);
  GStrvBuilder *b = g_strv_builder_new ();
  GStrv out;

  for (guint i = 0; parts[i]; i++)
    {
      g_strstrip (parts[i]);
      if (*parts[i])
        g_strv_builder_add (b, parts[i]);
    }
  out = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return out;
}

/* "[escalation NAME]" levels=chan1,chan2@300; chan3@600 and repeat=N, as the engine's JSON. */
static TsqAlertEscalationPolicy *
parse_policy (GKeyFile *kf, const char *group, GError **error)
{
  const char *name = group + strlen (ESCALATION_PREFIX);
  g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);
  g_autofree char *levels = g_key_file_get_string (kf, group, "levels", NULL);
  g_autofree char *repeat = g_key_file_get_string (kf, group, "repeat", NULL);
  g_auto (GStrv) items = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) local_error = NULL;
  TsqAlertEscalationPolicy *policy;

  for (guint i = 0; keys && keys[i]; i++)
    if (!g_str_equal (keys[i], "levels") && !g_str_equal (keys[i], "repeat"))
      return invalid (error, group, keys[i], "unknown key (levels, repeat)"), NULL;
  if (levels == NULL)
    return invalid (error, group, "levels", "missing (e.g. levels=slack@300; pager@600)"), NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "levels");
  json_builder_begin_array (b);
  items = g_strsplit (levels, ";", -1);
  for (guint i = 0; items[i]; i++)
    {
      char *at;
      char *end = NULL;
      double delay;
      g_auto (GStrv) channels = NULL;

      g_strstrip (items[i]);
      if (*items[i] == '\0')
        continue;
      at = strrchr (items[i], '@');
      if (at == NULL)
        return invalid (error, group, "levels", "level “%s”: expected CHANNELS@SECONDS", items[i]),
               NULL;
      *at = '\0';
      delay = g_ascii_strtod (at + 1, &end);
      if (end == at + 1 || *end != '\0' || !isfinite (delay))
        return invalid (error, group, "levels", "level %u: bad delay “%s”", i + 1, at + 1), NULL;
      channels = split_list (items[i]);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "channels");
      json_builder_begin_array (b);
      for (guint c = 0; channels[c]; c++)
        json_builder_add_string_value (b, channels[c]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "delay_s");
      json_builder_add_double_value (b, delay);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (repeat)
    {
      char *end = NULL;
      gint64 r = g_ascii_strtoll (repeat, &end, 10);

      if (end == repeat || *end != '\0')
        return invalid (error, group, "repeat", "expected a whole number, got “%s”", repeat), NULL;
      json_builder_set_member_name (b, "repeat");
      json_builder_add_int_value (b, r);
    }
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  policy = tsq_alert_escalation_policy_from_json (node, group, &local_error);
  if (policy == NULL)
    return invalid (error, group, "levels", "%s", local_error->message), NULL;
  return policy;
}

static gboolean
settings_load (GKeyFile *kf, Settings *s, GError **error)
{
  g_auto (GStrv) groups = NULL;
  g_autofree char *rules_text = NULL;
  g_autofree char *rules_file = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64 flap = 3;
  gint64 base, cap, max_age;

  memset (s, 0, sizeof *s);
  s->enabled = TRUE;
  tsq_alert_engine_config_init (&s->engine);
  tsq_backoff_init_default (&s->backoff);
  s->lease_us = TSQ_OUTBOX_DEFAULT_LEASE_US;
  s->poll_us = 2 * G_USEC_PER_SEC;
  s->policies = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_alert_escalation_policy_unref);
  s->rules = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_alert_rule_unref);
  if (kf == NULL)
    return TRUE;

  if (g_key_file_has_group (kf, ALERTS_GROUP))
    {
      g_auto (GStrv) keys = g_key_file_get_keys (kf, ALERTS_GROUP, NULL, NULL);

      for (guint i = 0; keys && keys[i]; i++)
        if (!g_strv_contains (alerts_keys, keys[i]))
          return invalid (error, ALERTS_GROUP, keys[i], "unknown key");
    }
  base = s->backoff.base_us;
  cap = s->backoff.cap_us;
  max_age = s->backoff.max_age_us;
  flap *= G_USEC_PER_SEC;
  if (!get_bool (kf, ALERTS_GROUP, "enabled", &s->enabled, error)
      || !get_bool (kf, ALERTS_GROUP, "default_rules", &s->engine.default_rules, error)
      || !get_seconds (kf, ALERTS_GROUP, "group_wait", 0, 86400, &s->engine.group_wait_us, error)
      || !get_seconds (kf, ALERTS_GROUP, "group_interval", 0, 86400 * 7,
                       &s->engine.group_interval_us, error)
      || !get_seconds (kf, ALERTS_GROUP, "repeat_interval", 1, 86400 * 365,
                       &s->engine.repeat_interval_us, error)
      || !get_seconds (kf, ALERTS_GROUP, "flap_scans", 0, 1000, &flap, error)
      || !get_seconds (kf, ALERTS_GROUP, "retry_base", 0.01, 86400, &base, error)
      || !get_seconds (kf, ALERTS_GROUP, "retry_cap", 0.01, 86400 * 7, &cap, error)
      || !get_seconds (kf, ALERTS_GROUP, "retry_max_age", 1, 86400 * 30, &max_age, error)
      || !get_seconds (kf, ALERTS_GROUP, "lease", 1, 86400, &s->lease_us, error)
      || !get_seconds (kf, ALERTS_GROUP, "poll_interval", 0.1, 3600, &s->poll_us, error))
    return FALSE;
  s->engine.flap_scans = (guint)(flap / G_USEC_PER_SEC);
  s->backoff.base_us = base;
  s->backoff.cap_us = cap;
  s->backoff.max_age_us = max_age;

  text = g_key_file_get_string (kf, ALERTS_GROUP, "group_by", NULL);
  if (text && g_str_equal (g_strstrip (text), "rule"))
    s->engine.group_by = TSQ_ALERT_GROUP_BY_RULE;
  else if (text && !g_str_equal (text, "monitor"))
    return invalid (error, ALERTS_GROUP, "group_by", "expected monitor or rule, got “%s”", text);

  s->templates = g_key_file_get_string (kf, ALERTS_GROUP, "templates", NULL);
  if (s->templates)
    g_strstrip (s->templates);
  g_free (text);
  text = g_key_file_get_string (kf, ALERTS_GROUP, "default_channels", NULL);
  if (text)
    s->default_channels = split_list (text);

  rules_text = g_key_file_get_string (kf, ALERTS_GROUP, "rules", NULL);
  rules_file = g_key_file_get_string (kf, ALERTS_GROUP, "rules_file", NULL);
  if (rules_text && rules_file)
    return invalid (error, ALERTS_GROUP, "rules", "rules and rules_file are exclusive");
  if (rules_file)
    {
      g_strstrip (rules_file);
      if (!g_file_get_contents (rules_file, &rules_text, NULL, &local_error))
        return invalid (error, ALERTS_GROUP, "rules_file", "%s", local_error->message);
    }
  if (rules_text)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonNode *root;
      GPtrArray *rules;

      if (!json_parser_load_from_data (parser, rules_text, -1, &local_error))
        return invalid (error, ALERTS_GROUP, rules_file ? "rules_file" : "rules", "%s",
                        local_error->message);
      root = json_parser_get_root (parser);
      if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
        return invalid (error, ALERTS_GROUP, "rules", "expected a JSON array of rules");
      rules = tsq_alert_rules_from_json (json_node_get_array (root), "rules", &local_error);
      if (rules == NULL)
        return invalid (error, ALERTS_GROUP, "rules", "%s", local_error->message);
      g_ptr_array_extend_and_steal (s->rules, rules);
    }

  groups = g_key_file_get_groups (kf, NULL);
  for (guint g = 0; groups[g]; g++)
    if (g_str_has_prefix (groups[g], ESCALATION_PREFIX))
      {
        TsqAlertEscalationPolicy *p = parse_policy (kf, groups[g], error);

        if (p == NULL)
          return FALSE;
        g_ptr_array_add (s->policies, p);
      }
  return TRUE;
}

gboolean
tsq_alert_service_is_config_group (const char *group)
{
  return g_str_equal (group, ALERTS_GROUP) || g_str_has_prefix (group, ESCALATION_PREFIX)
         || g_str_has_prefix (group, TSQ_NOTIFIER_GROUP_PREFIX);
}

/* Channels named by rules and policies must exist ("default" may stand for default_channels). */
static gboolean
check_channel_names (const Settings *s, GPtrArray *notifiers, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; i < notifiers->len; i++)
    g_ptr_array_add (names, (gpointer)tsq_notifier_get_name (g_ptr_array_index (notifiers, i)));
  for (guint i = 0; s->default_channels && s->default_channels[i]; i++)
    if (!g_ptr_array_find_with_equal_func (names, s->default_channels[i], g_str_equal, NULL))
      return invalid (error, ALERTS_GROUP, "default_channels", "no [channel %s]",
                      s->default_channels[i]);
  for (guint i = 0; i < s->rules->len; i++)
    {
      const char *const *chans = tsq_alert_rule_get_channels (g_ptr_array_index (s->rules, i));

      for (guint c = 0; chans && chans[c]; c++)
        if (!g_str_equal (chans[c], "default")
            && !g_ptr_array_find_with_equal_func (names, chans[c], g_str_equal, NULL))
          return invalid (error, ALERTS_GROUP, "rules", "rule “%s”: no [channel %s]",
                          tsq_alert_rule_get_id (g_ptr_array_index (s->rules, i)), chans[c]);
    }
  return TRUE;
}

TsqTemplateSet *
tsq_alert_load_templates (GKeyFile *keyfile, GError **error)
{
  g_autofree char *dir
    = keyfile ? g_key_file_get_string (keyfile, ALERTS_GROUP, "templates", NULL) : NULL;
  g_autoptr (TsqTemplateSet) defaults = NULL;
  g_autofree char *data = NULL;

  if (dir == NULL)
    return tsq_template_set_load_default (error);
  g_strstrip (dir);
  data = g_build_filename (
    g_getenv ("TSQ_DATA_DIR") ? g_getenv ("TSQ_DATA_DIR") : TSQ_SOURCE_DATADIR, "templates", NULL);
  if (g_file_test (data, G_FILE_TEST_IS_DIR))
    {
      const char *dirs[] = { data, dir, NULL };

      return tsq_template_set_load_dirs (dirs, error);
    }
  return tsq_template_set_load (dir, error);
}

gboolean
tsq_alert_service_check_config (GKeyFile *keyfile, GError **error)
{
  Settings s;
  g_autoptr (GPtrArray) notifiers = NULL;
  g_autoptr (TsqAlertEngine) engine = NULL;
  g_autoptr (TsqTemplateSet) templates = NULL;
  gboolean ok;

  if (!settings_load (keyfile, &s, error))
    {
      settings_clear (&s);
      return FALSE;
    }
  notifiers = tsq_notifier_load_all (keyfile, error);
  ok = notifiers != NULL && check_channel_names (&s, notifiers, error);
  if (ok)
    {
      engine = tsq_alert_engine_new (&s.engine);
      for (guint i = 0; i < s.policies->len; i++)
        tsq_alert_engine_add_escalation_policy (engine, g_ptr_array_index (s.policies, i));
      ok = tsq_alert_engine_check_rules (engine, s.rules, "[alerts] rules", error);
    }
  if (ok && s.templates)
    ok = (templates = tsq_alert_load_templates (keyfile, error)) != NULL;
  settings_clear (&s);
  return ok;
}

/* ---- rendering ---- */

const char *
tsq_alert_template_channel (const char *notifier_kind)
{
  if (g_strcmp0 (notifier_kind, "twilio") == 0)
    return "sms";
  return notifier_kind;
}

static char *
display_value (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType t = json_node_get_value_type (node);

      if (t == G_TYPE_STRING)
        return g_strdup (json_node_get_string (node));
      if (t == G_TYPE_BOOLEAN)
        return g_strdup (json_node_get_boolean (node) ? "true" : "false");
      if (t == G_TYPE_INT64)
        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      if (t == G_TYPE_DOUBLE)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          return g_strdup (g_ascii_formatd (buf, sizeof buf, "%g", json_node_get_double (node)));
        }
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      GString *out = g_string_new (NULL);

      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          g_autofree char *v = display_value (json_array_get_element (a, i));

          if (i > 0)
            g_string_append (out, ", ");
          g_string_append (out, v ? v : "");
        }
      return g_string_free (out, FALSE);
    }
  return tsq_json_to_string (node, FALSE);
}

static void
set_time (JsonObject *o, const char *member, JsonObject *snapshot, const char *from)
{
  gint64 us = tsq_json_get_int (snapshot, from, 0);
  g_autofree char *iso = NULL;

  if (us <= 0)
    return;
  iso = tsq_monitor_time_to_iso8601 (us);
  json_object_set_string_member (o, member, iso);
}

static void
set_string_if (JsonObject *o, const char *member, const char *value)
{
  if (value && *value)
    json_object_set_string_member (o, member, value);
}

/* An alert of the template context (docs/templates.md) from an engine snapshot. */
static JsonObject *
context_alert (JsonObject *snapshot)
{
  JsonObject *o = json_object_new ();
  JsonObject *monitor = json_object_new ();
  JsonObject *change = tsq_json_get_object (snapshot, "change");
  const char *url = tsq_json_get_string (snapshot, "monitor_url", NULL);
  const char *name = tsq_json_get_string (snapshot, "monitor_name", "");
  g_autofree char *line = change ? tsq_change_format_line (change) : NULL;
  g_autofree char *summary = NULL;
  g_autofree char *old_text = NULL;
  g_autofree char *new_text = NULL;

  set_string_if (o, "id", tsq_json_get_string (snapshot, "id", NULL));
  json_object_set_string_member (o, "severity",
                                 tsq_json_get_string (snapshot, "severity", "warning"));
  json_object_set_string_member (o, "state", tsq_json_get_string (snapshot, "state", "triggered"));
  json_object_set_string_member (o, "rule", tsq_json_get_string (snapshot, "rule_id", ""));
  json_object_set_string_member (o, "type", tsq_json_get_string (snapshot, "type", ""));
  json_object_set_string_member (o, "subject", tsq_json_get_string (snapshot, "subject", ""));
  if (change)
    {
      old_text = display_value (json_object_get_member (change, "old"));
      new_text = display_value (json_object_get_member (change, "new"));
    }
  set_string_if (o, "old", old_text);
  set_string_if (o, "new", new_text);
  summary = g_strdup_printf ("%s: %s", name,
                             line ? line : tsq_json_get_string (snapshot, "type", "alert"));
  if (g_utf8_strlen (summary, -1) > 300)
    *g_utf8_offset_to_pointer (summary, 300) = '\0';
  json_object_set_string_member (o, "summary", summary);
  set_time (o, "triggered_at", snapshot, "triggered_at");
  if (url && (g_str_has_prefix (url, "http://") || g_str_has_prefix (url, "https://")))
    json_object_set_string_member (o, "url", url);
  set_time (o, "acknowledged_at", snapshot, "acknowledged_at");
  set_string_if (o, "acknowledged_by", tsq_json_get_string (snapshot, "acknowledged_by", NULL));
  set_time (o, "resolved_at", snapshot, "resolved_at");
  set_string_if (o, "resolution", tsq_json_get_string (snapshot, "resolved_by", NULL));
  json_object_set_string_member (monitor, "id", tsq_json_get_string (snapshot, "monitor_id", ""));
  json_object_set_string_member (monitor, "name", name);
  if (url && (g_str_has_prefix (url, "http://") || g_str_has_prefix (url, "https://")))
    json_object_set_string_member (monitor, "url", url);
  json_object_set_object_member (o, "monitor", monitor);
  return o;
}

static JsonObject *
build_context (const char *id, const char *type, JsonObject *notify, gint64 now_us)
{
  JsonObject *ctx = json_object_new ();
  JsonObject *n = json_object_new ();
  JsonObject *agent = json_object_new ();
  JsonArray *list = json_array_new ();
  JsonArray *alerts = notify ? tsq_json_get_array (notify, "alerts") : NULL;
  g_autofree char *now = tsq_monitor_time_to_iso8601 (now_us);
  guint total = alerts ? json_array_get_length (alerts) : 0;

  json_object_set_string_member (n, "id", id);
  json_object_set_string_member (n, "type", type);
  json_object_set_string_member (n, "created_at", now);
  json_object_set_object_member (ctx, "notification", n);
  for (guint i = 0; i < total && i < MAX_LISTED_ALERTS; i++)
    {
      JsonObject *snap = json_array_get_object_element (alerts, i);

      if (snap)
        json_array_add_object_element (list, context_alert (snap));
    }
  if (json_array_get_length (list) > 0)
    json_object_set_object_member (ctx, "alert",
                                   json_object_ref (json_array_get_object_element (list, 0)));
  json_object_set_array_member (ctx, "alerts", list);
  json_object_set_int_member (ctx, "count", total);
  if (total > MAX_LISTED_ALERTS)
    json_object_set_int_member (ctx, "omitted", total - MAX_LISTED_ALERTS);
  if (notify && json_object_has_member (notify, "escalation_level"))
    {
      JsonObject *esc = json_object_new ();
      JsonObject *first = alerts && total ? json_array_get_object_element (alerts, 0) : NULL;

      json_object_set_int_member (esc, "level", tsq_json_get_int (notify, "escalation_level", 1));
      set_string_if (esc, "policy", first ? tsq_json_get_string (first, "escalation", NULL) : NULL);
      json_object_set_object_member (ctx, "escalation", esc);
    }
  json_object_set_string_member (agent, "name", "techscaniq-agent");
  json_object_set_string_member (agent, "version", PACKAGE_VERSION);
  json_object_set_object_member (ctx, "agent", agent);
  return ctx;
}

JsonObject *
tsq_alert_render_payload (const TsqTemplateSet *templates,
                          const char *notifier_kind,
                          const char *type,
                          JsonObject *context)
{
  const char *tchannel = tsq_alert_template_channel (notifier_kind);
  JsonObject *payload = json_object_new ();
  g_autofree char *subject
    = tsq_template_set_render (templates, tchannel, type, "subject", context);
  g_autofree char *body = tsq_template_set_render (templates, tchannel, type, "body", context);
  g_autofree char *html = tsq_template_set_render (templates, tchannel, type, "html", context);

  set_string_if (payload, "subject", subject);
  if (body)
    json_object_set_string_member (payload, "body", body);
  set_string_if (payload, "html", html);
  /* Webhook and Slack bodies are JSON documents: send them as such. */
  if (body && (g_strcmp0 (tchannel, "webhook") == 0 || g_strcmp0 (tchannel, "slack") == 0))
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_data (parser, body, -1, NULL) && json_parser_get_root (parser))
        json_object_set_member (payload, "json", json_node_copy (json_parser_get_root (parser)));
      else
        g_warning ("template %s/%s: the rendered body is not JSON; sending it as text", tchannel,
                   type);
    }
  return payload;
}

TsqNotification *
tsq_alert_notification_from_row (JsonObject *row)
{
  JsonObject *payload = tsq_json_get_object (row, "payload");
  TsqNotification *n = tsq_notification_new (tsq_json_get_string (row, "id", ""),
                                             tsq_json_get_string (payload, "subject", NULL),
                                             tsq_json_get_string (payload, "body", NULL));
  gint64 created = 0;
  JsonNode *json = payload ? json_object_get_member (payload, "json") : NULL;

  n->channel = g_strdup (tsq_json_get_string (row, "channel", NULL));
  n->html = g_strdup (tsq_json_get_string (payload, "html", NULL));
  if (json && !JSON_NODE_HOLDS_NULL (json))
    n->json = json_node_copy (json);
  /* The same created_at on every attempt: retries are byte-identical. */
  if (tsq_monitor_time_from_iso8601 (tsq_json_get_string (row, "created_at", ""), &created))
    n->created_at = created / G_USEC_PER_SEC;
  return n;
}

/* ---- the service ---- */

struct _TsqAlertService
{
  GObject parent_instance;

  TsqStorage *storage;
  TsqEventBus *bus;
  GKeyFile *keyfile;
  Settings settings;
  TsqAlertEngine *engine;
  TsqTemplateSet *templates;
  GHashTable *notifiers; /* name -> TsqNotifier */
  GHashTable *ids;       /* engine alert id -> gint64* storage id */
  GHashTable *silences;  /* engine silence id ("db-N") of active silences */
  GHashTable *windows;   /* engine maintenance window id ("mw-N") of stored windows */
  GCancellable *cancellable;
  guint subscription;
  TsqAgent *attached; /* not owned: scans come from this agent's hook, not the bus */
  guint timer;
  gint64 last_poll_us;
  guint in_flight;
};

G_DEFINE_FINAL_TYPE (TsqAlertService, tsq_alert_service, G_TYPE_OBJECT)

static void
tsq_alert_service_finalize (GObject *object)
{
  TsqAlertService *self = TSQ_ALERT_SERVICE (object);

  tsq_alert_service_stop (self);
  g_clear_object (&self->storage);
  g_clear_object (&self->bus);
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  settings_clear (&self->settings);
  g_clear_pointer (&self->engine, tsq_alert_engine_free);
  g_clear_pointer (&self->templates, tsq_template_set_free);
  g_clear_pointer (&self->notifiers, g_hash_table_unref);
  g_clear_pointer (&self->ids, g_hash_table_unref);
  g_clear_pointer (&self->silences, g_hash_table_unref);
  g_clear_pointer (&self->windows, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (tsq_alert_service_parent_class)->finalize (object);
}

static void
tsq_alert_service_class_init (TsqAlertServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_alert_service_finalize;
}

static void
tsq_alert_service_init (TsqAlertService *self)
{
  self->notifiers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->silences = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->windows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
}

TsqAlertService *
tsq_alert_service_new (TsqAgentConfig *config,
                       TsqStorage *storage,
                       TsqEventBus *bus,
                       GError **error)
{
  g_autoptr (TsqAlertService) self = g_object_new (TSQ_TYPE_ALERT_SERVICE, NULL);
  g_autoptr (GPtrArray) notifiers = NULL;

  self->storage = g_object_ref (storage);
  self->bus = g_object_ref (bus);
  if (config->keyfile)
    self->keyfile = g_key_file_ref (config->keyfile);
  if (!settings_load (self->keyfile, &self->settings, error))
    return NULL;
  if (self->keyfile)
    {
      notifiers = tsq_notifier_load_all (self->keyfile, error);
      if (notifiers == NULL || !check_channel_names (&self->settings, notifiers, error))
        return NULL;
      for (guint i = 0; i < notifiers->len; i++)
        {
          TsqNotifier *n = g_ptr_array_index (notifiers, i);

          g_hash_table_replace (self->notifiers, g_strdup (tsq_notifier_get_name (n)),
                                g_object_ref (n));
        }
    }
  self->templates = tsq_alert_load_templates (self->keyfile, error);
  if (self->templates == NULL)
    return NULL;
  self->engine = tsq_alert_engine_new (&self->settings.engine);
  for (guint i = 0; i < self->settings.policies->len; i++)
    tsq_alert_engine_add_escalation_policy (self->engine,
                                            g_ptr_array_index (self->settings.policies, i));
  if (!tsq_alert_engine_check_rules (self->engine, self->settings.rules, "[alerts] rules", error))
    return NULL;
  tsq_alert_engine_set_global_rules (self->engine, self->settings.rules);
  return g_steal_pointer (&self);
}

/* "default" stands for [alerts] default_channels, else every configured channel. */
static void
expand_channels (TsqAlertService *self, JsonArray *channels, GPtrArray *out)
{
  for (guint i = 0; channels && i < json_array_get_length (channels); i++)
    {
      const char *name = json_array_get_string_element (channels, i);

      if (name == NULL)
        continue;
      if (g_hash_table_contains (self->notifiers, name))
        {
          if (!g_ptr_array_find_with_equal_func (out, name, g_str_equal, NULL))
            g_ptr_array_add (out, g_strdup (name));
        }
      else if (g_str_equal (name, "default"))
        {
          if (self->settings.default_channels)
            {
              for (guint c = 0; self->settings.default_channels[c]; c++)
                if (!g_ptr_array_find_with_equal_func (out, self->settings.default_channels[c],
                                                       g_str_equal, NULL))
                  g_ptr_array_add (out, g_strdup (self->settings.default_channels[c]));
            }
          else
            {
              GHashTableIter iter;
              gpointer key;

              g_hash_table_iter_init (&iter, self->notifiers);
              while (g_hash_table_iter_next (&iter, &key, NULL))
                if (!g_ptr_array_find_with_equal_func (out, key, g_str_equal, NULL))
                  g_ptr_array_add (out, g_strdup (key));
            }
        }
      else
        g_warning ("notification for unknown channel “%s” dropped", name);
    }
}

static gint64
storage_id_of (TsqAlertService *self, const char *engine_id)
{
  gint64 *sid = engine_id ? g_hash_table_lookup (self->ids, engine_id) : NULL;

  return sid ? *sid : 0;
}

static const char *
stored_state (TsqAlertService *self, gint64 sid)
{
  g_autoptr (JsonObject) row = NULL;
  static const char *const states[] = { "triggered", "acknowledged", "resolved", NULL };
  const char *state;

  if (sid <= 0 || (row = tsq_storage_get_alert (self->storage, sid, NULL)) == NULL)
    return NULL;
  state = tsq_json_get_string (row, "state", "");
  for (guint i = 0; states[i]; i++)
    if (g_str_equal (state, states[i]))
      return states[i];
  return NULL;
}

/* Writes the latest snapshot of an alert (upsert on the dedupe key). */
static gboolean
store_snapshot (TsqAlertService *self, JsonObject *snap, GError **error)
{
  g_autoptr (JsonObject) row = json_object_new ();
  const char *eid = tsq_json_get_string (snap, "id", NULL);
  JsonNode *change_id = json_object_get_member (snap, "change_id");
  JsonNode *suppressed = json_object_get_member (snap, "suppressed");
  gint64 sid;
  gboolean created = FALSE;

  if (eid == NULL)
    return TRUE;
  sid = storage_id_of (self, eid);
  /* Resolved by the CLI and not yet seen by the poll: never reopen it with an upsert. */
  if (sid > 0 && g_strcmp0 (stored_state (self, sid), "resolved") == 0)
    return TRUE;
  json_object_set_string_member (row, "monitor_id", tsq_json_get_string (snap, "monitor_id", ""));
  json_object_set_string_member (row, "rule_id", tsq_json_get_string (snap, "rule_id", ""));
  json_object_set_string_member (row, "subject", tsq_json_get_string (snap, "subject", ""));
  set_string_if (row, "group_key", tsq_json_get_string (snap, "group_key", NULL));
  set_string_if (row, "change_type", tsq_json_get_string (snap, "type", NULL));
  set_string_if (row, "severity", tsq_json_get_string (snap, "severity", NULL));
  if (change_id && JSON_NODE_HOLDS_VALUE (change_id)
      && json_node_get_value_type (change_id) == G_TYPE_INT64)
    json_object_set_int_member (row, "change_id", json_node_get_int (change_id));
  if (suppressed && JSON_NODE_HOLDS_VALUE (suppressed)
      && json_node_get_value_type (suppressed) == G_TYPE_STRING)
    json_object_set_string_member (row, "suppression_reason", json_node_get_string (suppressed));
  set_string_if (row, "escalation_policy", tsq_json_get_string (snap, "escalation", NULL));
  if (tsq_json_get_int (snap, "last_seen_at", 0) > 0)
    json_object_set_int_member (row, "seen_at", tsq_json_get_int (snap, "last_seen_at", 0));
  json_object_set_object_member (row, "payload", json_object_ref (snap));
  sid = tsq_storage_upsert_open_alert (self->storage, row, &created, error);
  if (sid < 0)
    return FALSE;
  g_hash_table_replace (self->ids, g_strdup (eid), g_memdup2 (&sid, sizeof sid));
  return TRUE;
}

/* The alert.triggered event of one notify decision (docs/events.md): the alert snapshots, the
 * kind, the channels and the outbox rows (their ids are the idempotency ids). */
static JsonNode *
build_event (TsqAlertService *self, JsonObject *action, GPtrArray *channels, GPtrArray *outbox_ids)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  JsonArray *alerts = tsq_json_get_array (action, "alerts");
  JsonArray *alert_ids = tsq_json_get_array (action, "alert_ids");
  guint n = alerts ? json_array_get_length (alerts) : 0;
  JsonObject *first = n > 0 ? json_array_get_object_element (alerts, 0) : NULL;
  g_autofree char *now = tsq_monitor_time_to_iso8601 (g_get_real_time ());

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, TSQ_TOPIC_ALERT_TRIGGERED);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, tsq_json_get_string (action, "kind", "triggered"));
  json_builder_set_member_name (b, "monitor_id");
  json_builder_add_string_value (b, first ? tsq_json_get_string (first, "monitor_id", "") : "");
  json_builder_set_member_name (b, "at");
  json_builder_add_string_value (b, now);
  if (json_object_has_member (action, "escalation_level"))
    {
      json_builder_set_member_name (b, "escalation_level");
      json_builder_add_int_value (b, tsq_json_get_int (action, "escalation_level", 1));
    }
  json_builder_set_member_name (b, "alert_ids");
  json_builder_begin_array (b);
  for (guint i = 0; alert_ids && i < json_array_get_length (alert_ids); i++)
    {
      gint64 sid = storage_id_of (self, json_array_get_string_element (alert_ids, i));

      if (sid > 0)
        json_builder_add_int_value (b, sid);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "channels");
  json_builder_begin_array (b);
  for (guint i = 0; i < channels->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (channels, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "notifications");
  json_builder_begin_array (b);
  for (guint i = 0; i < outbox_ids->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (outbox_ids, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "alerts");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (alerts, i);

      json_builder_add_value (b, json_node_copy (node));
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
enqueue_notify (
  TsqAlertService *self, JsonObject *action, gint64 now_us, GPtrArray *events, GError **error)
{
  g_autoptr (GPtrArray) outbox_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_free);
  JsonArray *alert_ids = tsq_json_get_array (action, "alert_ids");
  const char *kind = tsq_json_get_string (action, "kind", "triggered");
  guint n = alert_ids ? json_array_get_length (alert_ids) : 0;
  const char *type = kind;

  if (g_str_equal (kind, "triggered") && n > 1)
    type = "grouped";
  expand_channels (self, tsq_json_get_array (action, "channels"), channels);
  for (guint c = 0; c < channels->len; c++)
    {
      const char *channel = g_ptr_array_index (channels, c);
      TsqNotifier *notifier = g_hash_table_lookup (self->notifiers, channel);
      g_autofree char *id = g_uuid_string_random ();
      g_autoptr (JsonObject) context = build_context (id, type, action, now_us);
      g_autoptr (JsonObject) row = json_object_new ();
      JsonArray *sids = json_array_new ();
      g_autofree char *stored = NULL;

      for (guint i = 0; i < n; i++)
        {
          gint64 sid = storage_id_of (self, json_array_get_string_element (alert_ids, i));

          if (sid > 0)
            json_array_add_int_element (sids, sid);
        }
      json_object_set_string_member (row, "id", id);
      json_object_set_array_member (row, "alert_ids", sids);
      json_object_set_string_member (row, "channel", channel);
      json_object_set_string_member (row, "kind", kind);
      json_object_set_object_member (row, "payload",
                                     tsq_alert_render_payload (self->templates,
                                                               tsq_notifier_get_kind (notifier),
                                                               type, context));
      json_object_set_int_member (row, "created_at", now_us);
      stored = tsq_storage_outbox_enqueue (self->storage, row, error);
      if (stored == NULL)
        return FALSE;
      g_debug ("notification %s (%s, %u alerts) queued for %s", id, kind, n, channel);
      g_ptr_array_add (outbox_ids, g_steal_pointer (&stored));
    }
  g_ptr_array_add (events, build_event (self, action, channels, outbox_ids));
  return TRUE;
}

static void dispatch (TsqAlertService *self);

/* Persists one batch of engine actions atomically: alert rows and the notifications they cause
 * are committed together or not at all. */
static void
persist_actions (TsqAlertService *self, GPtrArray *actions, gint64 now_us)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) latest = NULL;
  g_autoptr (GPtrArray) order = NULL;
  g_autoptr (GPtrArray) resolved = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);
  gboolean ok = TRUE;
  gboolean notified = FALSE;

  if (actions == NULL || actions->len == 0)
    return;
  latest = g_hash_table_new (g_str_hash, g_str_equal);
  order = g_ptr_array_new ();
  for (guint i = 0; i < actions->len; i++)
    {
      JsonObject *a = g_ptr_array_index (actions, i);
      JsonObject *snap = tsq_json_get_object (a, "alert");
      JsonArray *list = tsq_json_get_array (a, "alerts");

      for (guint j = 0; j <= (list ? json_array_get_length (list) : 0); j++)
        {
          JsonObject *s = j == 0 ? snap : json_array_get_object_element (list, j - 1);
          const char *eid = s ? tsq_json_get_string (s, "id", NULL) : NULL;

          if (eid == NULL)
            continue;
          if (!g_hash_table_contains (latest, eid))
            g_ptr_array_add (order, (gpointer)eid);
          g_hash_table_insert (latest, (gpointer)eid, s);
        }
    }

  if (!tsq_storage_transaction_begin (self->storage, &error))
    {
      g_warning ("alerts: cannot start a storage group: %s", error->message);
      return;
    }
  for (guint i = 0; ok && i < order->len; i++)
    {
      JsonObject *snap = g_hash_table_lookup (latest, order->pdata[i]);
      const char *state = tsq_json_get_string (snap, "state", "triggered");

      if (!g_str_equal (state, "resolved"))
        ok = store_snapshot (self, snap, &error);
      else
        {
          gint64 sid = storage_id_of (self, order->pdata[i]);

          /* Opened and resolved within one batch: the row is written first. */
          if (sid <= 0 && (ok = store_snapshot (self, snap, &error)))
            sid = storage_id_of (self, order->pdata[i]);
          if (ok && sid > 0 && g_strcmp0 (stored_state (self, sid), "resolved") != 0)
            ok = tsq_storage_resolve_alert (self->storage, sid,
                                            tsq_json_get_string (snap, "resolved_by", NULL),
                                            tsq_json_get_int (snap, "resolved_at", now_us), &error);
          g_ptr_array_add (resolved, g_strdup (order->pdata[i]));
        }
    }
  for (guint i = 0; ok && i < actions->len; i++)
    {
      JsonObject *a = g_ptr_array_index (actions, i);
      const char *what = tsq_json_get_string (a, "action", "");

      if (g_str_equal (what, "ack"))
        {
          gint64 sid = storage_id_of (self, tsq_json_get_string (a, "alert_id", NULL));

          if (sid > 0 && g_strcmp0 (stored_state (self, sid), "triggered") == 0)
            ok = tsq_storage_ack_alert (self->storage, sid,
                                        tsq_json_get_string (a, "acknowledged_by", NULL),
                                        tsq_json_get_int (a, "acknowledged_at", now_us), &error);
        }
      else if (g_str_equal (what, "notify"))
        {
          ok = enqueue_notify (self, a, now_us, events, &error);
          notified = TRUE;
        }
    }
  if (!ok)
    {
      g_warning ("alerts: cannot store %u actions: %s", actions->len, error->message);
      g_clear_error (&error);
    }
  if (!tsq_storage_transaction_commit (self->storage, &error))
    {
      g_warning ("alerts: the storage group was rolled back: %s", error->message);
      g_ptr_array_set_size (events, 0);
    }
  else if (!ok)
    g_ptr_array_set_size (events, 0);
  /* Only decisions that are durable are announced (WebSocket API, Kafka). */
  for (guint i = 0; i < events->len; i++)
    {
      JsonNode *event = g_ptr_array_index (events, i);

      tsq_event_bus_publish (self->bus, TSQ_TOPIC_ALERT_TRIGGERED,
                             tsq_json_get_string (json_node_get_object (event), "monitor_id", NULL),
                             event);
    }
  for (guint i = 0; i < resolved->len; i++)
    g_hash_table_remove (self->ids, g_ptr_array_index (resolved, i));
  if (notified)
    dispatch (self);
}

static void
on_scan_completed (const char *topic, const char *key, JsonNode *payload, gpointer user_data)
{
  TsqAlertService *self = user_data;
  JsonObject *o = json_node_get_object (payload);
  const char *monitor_id = tsq_json_get_string (o, "monitor_id", NULL);
  g_autoptr (TsqMonitor) monitor = NULL;
  g_autoptr (GPtrArray) actions = NULL;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();

  if (monitor_id == NULL)
    return;
  monitor = tsq_storage_get_monitor (self->storage, monitor_id, &error);
  if (monitor == NULL)
    {
      g_debug ("alerts: monitor %s is gone: %s", monitor_id, error->message);
      return;
    }
  actions = tsq_alert_engine_process_scan (self->engine, monitor, tsq_json_get_array (o, "changes"),
                                           now, &error);
  if (actions == NULL)
    {
      g_warning ("alerts: monitor %s: %s", monitor->name, error->message);
      return;
    }
  persist_actions (self, actions, now);
}

static void
on_agent_scan (JsonObject *scan_completed, gpointer user_data)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), scan_completed);

  on_scan_completed (TSQ_TOPIC_SCAN_COMPLETED, NULL, node, user_data);
}

void
tsq_alert_service_attach_agent (TsqAlertService *self, TsqAgent *agent)
{
  /* Take the scans from the agent directly, in the same storage transaction as the changes,
   * instead of from the bus a main-loop turn later (when the batch may already have committed
   * the changes: a crash in between would keep the change and lose its alert). */
  if (self->subscription == 0)
    return;
  tsq_event_bus_unsubscribe (self->bus, self->subscription);
  self->subscription = 0;
  self->attached = agent;
  tsq_agent_set_scan_hook (agent, on_agent_scan, self);
}

/* ---- sender ---- */

typedef struct
{
  TsqAlertService *self;
  TsqNotifier *notifier;
  char *id;
} Delivery;

static void
delivery_free (Delivery *d)
{
  g_object_unref (d->self);
  g_object_unref (d->notifier);
  g_free (d->id);
  g_free (d);
}

static void
on_delivered (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Delivery *d = user_data;
  TsqAlertService *self = d->self;
  g_autoptr (TsqDeliveryInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) store_error = NULL;
  TsqDeliveryStatus status
    = tsq_notifier_deliver_finish (TSQ_NOTIFIER (source), result, &info, &error);
  gint64 now = g_get_real_time ();
  gboolean dead = FALSE;
  gboolean ok = TRUE;

  self->in_flight--;
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      /* Shutting down: the lease brings the row back after a restart. */
      delivery_free (d);
      return;
    }
  switch (status)
    {
      case TSQ_DELIVERY_DELIVERED:
        ok = tsq_storage_outbox_mark_delivered (self->storage, d->id, now, &store_error);
        g_message ("notification %s delivered to %s", d->id, tsq_notifier_get_name (d->notifier));
        break;
      case TSQ_DELIVERY_RETRYABLE:
        ok = tsq_storage_outbox_mark_failed (
          self->storage, d->id, error ? error->message : "failed",
          info && info->retry_after_s > 0 ? info->retry_after_s : 0, &self->settings.backoff, now,
          &dead, &store_error);
        g_message ("notification %s to %s failed (%s)%s", d->id,
                   tsq_notifier_get_name (d->notifier), error ? error->message : "?",
                   dead ? ": dead-lettered" : ", will retry");
        break;
      case TSQ_DELIVERY_PERMANENT:
      default:
        ok = tsq_storage_outbox_mark_dead (self->storage, d->id, error ? error->message : "failed",
                                           now, &store_error);
        g_warning ("notification %s to %s failed permanently: %s", d->id,
                   tsq_notifier_get_name (d->notifier), error ? error->message : "?");
        break;
    }
  if (!ok)
    g_warning ("outbox %s: %s", d->id, store_error->message);
  delivery_free (d);
  dispatch (self);
}

static void
dispatch (TsqAlertService *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  gint64 now = g_get_real_time ();
  gint64 next;

  if (self->timer == 0 || self->in_flight >= MAX_IN_FLIGHT)
    return;
  next = tsq_storage_outbox_next_due (self->storage, &error);
  if (next <= 0 || next > now)
    return;
  rows = tsq_storage_outbox_claim_due (self->storage, now, MAX_IN_FLIGHT - self->in_flight,
                                       self->settings.lease_us, &error);
  if (rows == NULL)
    {
      g_warning ("outbox: cannot claim: %s", error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      JsonObject *row = g_ptr_array_index (rows, i);
      const char *id = tsq_json_get_string (row, "id", "");
      const char *channel = tsq_json_get_string (row, "channel", "");
      TsqNotifier *notifier = g_hash_table_lookup (self->notifiers, channel);
      g_autoptr (TsqNotification) n = NULL;
      Delivery *d;

      if (notifier == NULL)
        {
          g_autoptr (GError) dead_error = NULL;
          g_autofree char *why = g_strdup_printf ("channel “%s” is not configured", channel);

          if (!tsq_storage_outbox_mark_dead (self->storage, id, why, now, &dead_error))
            g_warning ("outbox %s: %s", id, dead_error->message);
          continue;
        }
      n = tsq_alert_notification_from_row (row);
      d = g_new0 (Delivery, 1);
      d->self = g_object_ref (self);
      d->notifier = g_object_ref (notifier);
      d->id = g_strdup (id);
      self->in_flight++;
      tsq_notifier_deliver_async (notifier, n, self->cancellable, on_delivered, d);
    }
}

/* ---- CLI changes (acks, resolutions, silences written by another process) ---- */

static TsqAlertSilence *
silence_from_row (JsonObject *row, GError **error)
{
  g_autoptr (JsonObject) obj = json_object_new ();
  JsonObject *matchers = json_object_new ();
  JsonArray *list = tsq_json_get_array (row, "matchers");
  g_autofree char *id = g_strdup_printf ("db-%" G_GINT64_FORMAT, tsq_json_get_int (row, "id", 0));

  /* Storage keeps an array of matcher objects; the engine ANDs the members of one object. */
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    {
      JsonObject *m = json_array_get_object_element (list, i);
      g_autoptr (GList) members = m ? json_object_get_members (m) : NULL;

      for (GList *l = members; l; l = l->next)
        json_object_set_member (matchers, l->data,
                                json_node_copy (json_object_get_member (m, l->data)));
    }
  json_object_set_string_member (obj, "id", id);
  json_object_set_object_member (obj, "matchers", matchers);
  json_object_set_string_member (obj, "starts_at", tsq_json_get_string (row, "starts_at", ""));
  json_object_set_string_member (obj, "ends_at", tsq_json_get_string (row, "ends_at", ""));
  set_string_if (obj, "created_by", tsq_json_get_string (row, "created_by", NULL));
  set_string_if (obj, "comment", tsq_json_get_string (row, "comment", NULL));
  return tsq_alert_silence_from_json (obj, error);
}

static void
poll_silences (TsqAlertService *self, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tsq_storage_list_silences (self->storage, FALSE, now, &error);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  if (rows == NULL)
    {
      g_warning ("alerts: cannot read silences: %s", error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      JsonObject *row = g_ptr_array_index (rows, i);
      g_autofree char *id
        = g_strdup_printf ("db-%" G_GINT64_FORMAT, tsq_json_get_int (row, "id", 0));

      if (!g_hash_table_contains (self->silences, id))
        {
          g_autoptr (GError) local_error = NULL;
          TsqAlertSilence *s = silence_from_row (row, &local_error);

          if (s == NULL)
            g_warning ("alerts: silence %s ignored: %s", id, local_error->message);
          else
            {
              tsq_alert_engine_add_silence (self->engine, s);
              g_message ("silence %s active", id);
            }
          g_hash_table_add (self->silences, g_strdup (id));
        }
      g_hash_table_add (seen, g_steal_pointer (&id));
    }
  g_hash_table_iter_init (&iter, self->silences);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (seen, key))
      g_ptr_array_add (gone, key);
  for (guint i = 0; i < gone->len; i++)
    {
      /* Expired by hand (or ended): end it in the engine too; an ended one is a no-op. */
      tsq_alert_engine_expire_silence (self->engine, gone->pdata[i], now, NULL);
      g_hash_table_remove (self->silences, gone->pdata[i]);
    }
}

/* Maintenance windows written by the CLI (rows never change: added or removed). */
static void
poll_maintenance (TsqAlertService *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tsq_storage_list_maintenance (self->storage, NULL, &error);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  if (rows == NULL)
    {
      g_warning ("alerts: cannot read maintenance windows: %s", error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      JsonObject *row = g_ptr_array_index (rows, i);
      g_autofree char *id
        = g_strdup_printf ("mw-%" G_GINT64_FORMAT, tsq_json_get_int (row, "id", 0));

      if (!g_hash_table_contains (self->windows, id))
        {
          g_autoptr (JsonObject) obj = json_object_new ();
          g_autoptr (GError) local_error = NULL;
          JsonObject *def = tsq_json_get_object (row, "definition");
          g_autoptr (GList) members = def ? json_object_get_members (def) : NULL;
          TsqAlertMaintenance *w;

          for (GList *l = members; l; l = l->next)
            json_object_set_member (obj, l->data,
                                    json_node_copy (json_object_get_member (def, l->data)));
          json_object_set_string_member (obj, "id", id);
          json_object_set_string_member (obj, "monitor_id",
                                         tsq_json_get_string (row, "monitor_id", ""));
          w = tsq_alert_maintenance_from_json (obj, &local_error);
          if (w == NULL)
            g_warning ("alerts: maintenance window %s ignored: %s", id, local_error->message);
          else
            {
              tsq_alert_engine_add_maintenance (self->engine, w);
              g_message ("maintenance window %s loaded", id);
            }
          g_hash_table_add (self->windows, g_strdup (id));
        }
      g_hash_table_add (seen, g_steal_pointer (&id));
    }
  g_hash_table_iter_init (&iter, self->windows);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (seen, key))
      g_ptr_array_add (gone, key);
  for (guint i = 0; i < gone->len; i++)
    {
      /* Removed by hand: alerts it held back are released by the next tick. */
      tsq_alert_engine_remove_maintenance (self->engine, gone->pdata[i]);
      g_message ("maintenance window %s removed", (char *)gone->pdata[i]);
      g_hash_table_remove (self->windows, gone->pdata[i]);
    }
}

static void
poll_alerts (TsqAlertService *self, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tsq_storage_list_open_alerts (self->storage, &error);
  g_autoptr (GHashTable) open = NULL;
  g_autoptr (GPtrArray) actions
    = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  if (rows == NULL)
    {
      g_warning ("alerts: cannot read open alerts: %s", error->message);
      return;
    }
  open = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < rows->len; i++)
    {
      JsonObject *row = g_ptr_array_index (rows, i);
      gint64 sid = tsq_json_get_int (row, "id", 0);

      g_hash_table_insert (open, g_memdup2 (&sid, sizeof sid), row);
    }
  /* Collect first: persisting changes self->ids. */
  g_hash_table_iter_init (&iter, self->ids);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_ptr_array_add (pairs, g_strdup (key));
  for (guint i = 0; i < pairs->len; i++)
    {
      const char *eid = g_ptr_array_index (pairs, i);
      gint64 sid = storage_id_of (self, eid);
      g_autoptr (JsonObject) snap = tsq_alert_engine_get_alert (self->engine, eid);
      JsonObject *row;
      GPtrArray *more = NULL;
      g_autoptr (GError) local_error = NULL;

      if (snap == NULL)
        continue;
      row = g_hash_table_lookup (open, &sid);
      if (row == NULL)
        {
          g_autoptr (JsonObject) stored = tsq_storage_get_alert (self->storage, sid, NULL);
          const char *reason = stored ? tsq_json_get_string (stored, "resolve_reason", NULL) : NULL;

          if (stored == NULL
              || g_strcmp0 (tsq_json_get_string (stored, "state", ""), "resolved") != 0)
            continue;
          more = tsq_alert_engine_resolve (self->engine, eid, reason ? reason : "cli", now,
                                           &local_error);
        }
      else if (g_str_equal (tsq_json_get_string (row, "state", ""), "acknowledged")
               && g_str_equal (tsq_json_get_string (snap, "state", ""), "triggered"))
        more = tsq_alert_engine_ack (self->engine, eid,
                                     tsq_json_get_string (row, "acknowledged_by", "cli"), now,
                                     &local_error);
      if (local_error)
        g_warning ("alerts: %s: %s", eid, local_error->message);
      if (more)
        {
          g_message ("alert %" G_GINT64_FORMAT " %s by the command line", sid,
                     row ? "acknowledged" : "resolved");
          g_ptr_array_extend_and_steal (actions, more);
        }
    }
  persist_actions (self, actions, now);
}

static gboolean
on_timer (gpointer user_data)
{
  TsqAlertService *self = user_data;
  gint64 now = g_get_real_time ();

  if (now - self->last_poll_us >= self->settings.poll_us)
    {
      self->last_poll_us = now;
      poll_silences (self, now);
      poll_maintenance (self);
      poll_alerts (self, now);
    }
  /* Every timer, not only at next_due: alerts waiting for a silence or a maintenance window to
   * end are only re-checked by ticks (tsq_alert_engine_next_due does not count them). */
  {
    g_autoptr (GPtrArray) actions = tsq_alert_engine_tick (self->engine, now);

    persist_actions (self, actions, now);
  }
  dispatch (self);
  return G_SOURCE_CONTINUE;
}

static void
load_state (TsqAlertService *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tsq_storage_list_open_alerts (self->storage, &error);
  guint loaded = 0;

  if (rows == NULL)
    {
      g_warning ("alerts: cannot load open alerts: %s", error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      JsonObject *row = g_ptr_array_index (rows, i);
      JsonObject *payload = tsq_json_get_object (row, "payload");
      const char *eid = payload ? tsq_json_get_string (payload, "id", NULL) : NULL;
      g_autoptr (JsonObject) merged = NULL;
      g_autoptr (GError) local_error = NULL;
      gint64 sid = tsq_json_get_int (row, "id", 0);

      if (eid == NULL)
        continue;
      /* The snapshot is the truth except for what another process may have changed: the
       * state and its acknowledgment (the CLI's ack). */
      merged = json_object_new ();
      json_object_set_object_member (merged, "payload", json_object_ref (payload));
      json_object_set_string_member (merged, "state", tsq_json_get_string (row, "state", ""));
      if (tsq_json_get_string (row, "acknowledged_at", NULL))
        json_object_set_string_member (merged, "acknowledged_at",
                                       tsq_json_get_string (row, "acknowledged_at", NULL));
      set_string_if (merged, "acknowledged_by", tsq_json_get_string (row, "acknowledged_by", NULL));
      if (!tsq_alert_engine_load_alert (self->engine, merged, &local_error))
        {
          g_warning ("alerts: cannot reload alert %" G_GINT64_FORMAT ": %s", sid,
                     local_error->message);
          continue;
        }
      g_hash_table_replace (self->ids, g_strdup (eid), g_memdup2 (&sid, sizeof sid));
      loaded++;
    }
  if (loaded > 0)
    g_message ("alerts: %u open alerts reloaded", loaded);
}

gboolean
tsq_alert_service_start (TsqAlertService *self, GError **error)
{
  g_return_val_if_fail (TSQ_IS_ALERT_SERVICE (self), FALSE);

  if (!self->settings.enabled)
    {
      g_message ("alerts disabled ([alerts] enabled=false)");
      return TRUE;
    }
  load_state (self);
  poll_silences (self, g_get_real_time ());
  poll_maintenance (self);
  self->last_poll_us = g_get_real_time ();
  self->subscription
    = tsq_event_bus_subscribe (self->bus, TSQ_TOPIC_SCAN_COMPLETED, on_scan_completed, self, NULL);
  self->timer = g_timeout_add (TIMER_MS, on_timer, self);
  g_message ("alerts: %u channel%s", g_hash_table_size (self->notifiers),
             g_hash_table_size (self->notifiers) == 1 ? "" : "s");
  dispatch (self);
  return TRUE;
}

gboolean
tsq_alert_service_reload (TsqAlertService *self, TsqAgentConfig *config, GError **error)
{
  Settings s;
  g_autoptr (GPtrArray) notifiers = NULL;
  g_autoptr (TsqTemplateSet) templates = NULL;
  g_autoptr (TsqAlertEngine) engine = NULL;
  g_autoptr (JsonNode) state = NULL;
  GKeyFile *kf = config->keyfile;

  g_return_val_if_fail (TSQ_IS_ALERT_SERVICE (self), FALSE);

  /* Everything is built aside first: any failure keeps the running configuration. */
  if (!settings_load (kf, &s, error))
    {
      settings_clear (&s);
      return FALSE;
    }
  notifiers
    = kf ? tsq_notifier_load_all (kf, error) : g_ptr_array_new_with_free_func (g_object_unref);
  if (notifiers == NULL || !check_channel_names (&s, notifiers, error)
      || (templates = tsq_alert_load_templates (kf, error)) == NULL)
    {
      settings_clear (&s);
      return FALSE;
    }
  engine = tsq_alert_engine_new (&s.engine);
  for (guint i = 0; i < s.policies->len; i++)
    tsq_alert_engine_add_escalation_policy (engine, g_ptr_array_index (s.policies, i));
  if (!tsq_alert_engine_check_rules (engine, s.rules, "[alerts] rules", error))
    {
      settings_clear (&s);
      return FALSE;
    }
  tsq_alert_engine_set_global_rules (engine, s.rules);
  /* The new engine takes over the whole state: open alerts, silences, maintenance windows, group
   * timers, escalations, flap memory. An escalation whose policy is gone fails here. */
  state = tsq_alert_engine_save (self->engine);
  if (!tsq_alert_engine_restore (engine, state, error))
    {
      settings_clear (&s);
      return FALSE;
    }
  if (s.enabled != self->settings.enabled)
    {
      g_warning ("alerts: [alerts] enabled changes on the next start, not on reload");
      s.enabled = self->settings.enabled;
    }

  settings_clear (&self->settings);
  self->settings = s;
  tsq_alert_engine_free (self->engine);
  self->engine = g_steal_pointer (&engine);
  tsq_template_set_free (self->templates);
  self->templates = g_steal_pointer (&templates);
  /* Deliveries in flight keep their own notifier reference. */
  g_hash_table_remove_all (self->notifiers);
  for (guint i = 0; i < notifiers->len; i++)
    {
      TsqNotifier *n = g_ptr_array_index (notifiers, i);

      g_hash_table_replace (self->notifiers, g_strdup (tsq_notifier_get_name (n)),
                            g_object_ref (n));
    }
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  if (kf)
    self->keyfile = g_key_file_ref (kf);
  g_message ("alerts: configuration reloaded (%u channels, %u rules, %u escalation policies)",
             g_hash_table_size (self->notifiers), self->settings.rules->len,
             self->settings.policies->len);
  return TRUE;
}

void
tsq_alert_service_stop (TsqAlertService *self)
{
  if (self->subscription)
    tsq_event_bus_unsubscribe (self->bus, self->subscription);
  self->subscription = 0;
  if (self->attached)
    tsq_agent_set_scan_hook (self->attached, NULL, NULL);
  self->attached = NULL;
  g_clear_handle_id (&self->timer, g_source_remove);
  g_cancellable_cancel (self->cancellable);
}
