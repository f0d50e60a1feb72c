/* tsq-alert-rule.c: alert rules and escalation policies (docs/alerts.md).
 *
 * Everything a rule needs at match time is compiled when it is parsed (glob patterns, regexes,
 * numeric conditions), so matching is a few comparisons and a rule that would fail at match
 * time is refused at load time instead, with the field named.
 */
#define G_LOG_DOMAIN "tsq-alert-rule"

#include "tsq-alert-rule.h"

#include <math.h>
#include <string.h>

#include "tsq-json-util.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-alert-rule-error-quark, tsq_alert_rule_error)
/* clang-format on */

/* Bounds on what one rule may hold (rules come from users and API calls). */
#define LIST_MAX 64
#define CONDITIONS_MAX 16
#define STRING_MAX 1024
#define LEVELS_MAX 16

static const char *const known_types[] = {
  "availability.down",
  "availability.up",
  "status.changed",
  "redirect.changed",
  "performance.degraded",
  "performance.improved",
  "technology.added",
  "technology.removed",
  "technology.version_changed",
  "security.header_added",
  "security.header_removed",
  "security.cookie_flags_changed",
  "security.mixed_content",
  "security.certificate_expiring",
  "security.certificate_renewed",
  "security.vulnerability_found",
  "security.vulnerability_resolved",
  "content.changed",
  "content.title_changed",
  "endpoint.added",
  "endpoint.removed",
  "complexity.changed",
  NULL,
};

static const char *const resolve_none[] = { NULL };
static const char *const resolve_down[] = { "availability.up", NULL };
static const char *const resolve_degraded[] = { "performance.improved", NULL };
static const char *const resolve_cert[] = { "security.certificate_renewed", NULL };
static const char *const resolve_vuln[] = { "security.vulnerability_resolved", NULL };
static const char *const resolve_header[] = { "security.header_added", NULL };

const char *
tsq_alert_severity_to_string (TsqAlertSeverity severity)
{
  switch (severity)
    {
      case TSQ_ALERT_SEVERITY_INFO:
        return "info";
      case TSQ_ALERT_SEVERITY_WARNING:
        return "warning";
      case TSQ_ALERT_SEVERITY_CRITICAL:
        return "critical";
      default:
        return "warning";
    }
}

gboolean
tsq_alert_severity_from_string (const char *text, TsqAlertSeverity *severity)
{
  TsqAlertSeverity s;

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "info"))
    s = TSQ_ALERT_SEVERITY_INFO;
  else if (g_str_equal (text, "warning"))
    s = TSQ_ALERT_SEVERITY_WARNING;
  else if (g_str_equal (text, "critical"))
    s = TSQ_ALERT_SEVERITY_CRITICAL;
  else
    return FALSE;
  if (severity != NULL)
    *severity = s;
  return TRUE;
}

const char *const *
tsq_alert_known_change_types (void)
{
  return known_types;
}

gboolean
tsq_alert_is_known_change_type (const char *type)
{
  if (type == NULL)
    return FALSE;
  for (guint i = 0; known_types[i] != NULL; i++)
    if (g_str_equal (known_types[i], type))
      return TRUE;
  return FALSE;
}

const char *const *
tsq_alert_default_resolve_on (const char *type)
{
  if (type == NULL)
    return resolve_none;
  if (g_str_equal (type, "availability.down"))
    return resolve_down;
  if (g_str_equal (type, "performance.degraded"))
    return resolve_degraded;
  if (g_str_equal (type, "security.certificate_expiring"))
    return resolve_cert;
  if (g_str_equal (type, "security.vulnerability_found"))
    return resolve_vuln;
  if (g_str_equal (type, "security.header_removed"))
    return resolve_header;
  return resolve_none;
}

/* ---- numeric conditions ("when") ---- */

typedef enum
{
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
  OP_EQ,
  OP_NE,
} CondOp;

typedef struct
{
  char *field;
  CondOp op;
  double value;
} Condition;

static const char *const condition_fields[] = {
  "old",         "new",          "increase",  "increase_ms", "increase_pct", "decrease",
  "decrease_ms", "decrease_pct", "days_left", "status",      "confidence",   NULL,
};

struct _TsqAlertRule
{
  gint ref_count;
  char *id;
  gboolean enabled;
  gboolean drop;
  gboolean cont;
  /* match */
  GPtrArray *types;        /* GPatternSpec*, NULL = any */
  GPtrArray *technologies; /* GPatternSpec* on casefolded text */
  GPtrArray *categories;   /* GPatternSpec* on casefolded text */
  char *subject;
  GRegex *subject_regex;
  JsonNode *old_value; /* NULL = not matched; a JSON null node matches null */
  GRegex *old_regex;
  JsonNode *new_value;
  GRegex *new_regex;
  guint change_severity_mask; /* 0 = any */
  int status_class;           /* 0 = any, else 1..5 */
  GArray *conditions;         /* Condition; all must hold */
  /* outcome */
  gboolean has_severity;
  TsqAlertSeverity severity;
  char **channels;
  char *escalation;
  gboolean has_resolve_on;
  char **resolve_on;
  TsqAlertGroupBy group_by;
  gint64 repeat_interval_us;
  JsonObject *json;
};

static void
pattern_free (gpointer p)
{
  g_pattern_spec_free (p);
}

static void
condition_clear (gpointer p)
{
  Condition *c = p;

  g_free (c->field);
}

TsqAlertRule *
tsq_alert_rule_ref (TsqAlertRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);
  g_atomic_int_inc (&rule->ref_count);
  return rule;
}

void
tsq_alert_rule_unref (TsqAlertRule *rule)
{
  if (rule == NULL || !g_atomic_int_dec_and_test (&rule->ref_count))
    return;
  g_free (rule->id);
  g_clear_pointer (&rule->types, g_ptr_array_unref);
  g_clear_pointer (&rule->technologies, g_ptr_array_unref);
  g_clear_pointer (&rule->categories, g_ptr_array_unref);
  g_free (rule->subject);
  g_clear_pointer (&rule->subject_regex, g_regex_unref);
  g_clear_pointer (&rule->old_value, json_node_unref);
  g_clear_pointer (&rule->old_regex, g_regex_unref);
  g_clear_pointer (&rule->new_value, json_node_unref);
  g_clear_pointer (&rule->new_regex, g_regex_unref);
  g_clear_pointer (&rule->conditions, g_array_unref);
  g_strfreev (rule->channels);
  g_free (rule->escalation);
  g_strfreev (rule->resolve_on);
  g_clear_pointer (&rule->json, json_object_unref);
  g_free (rule);
}

/* ---- parsing helpers ---- */

static gboolean fail (GError **error, const char *path, const char *field, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError **error, const char *path, const char *field, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  if (field != NULL)
    g_set_error (error, TSQ_ALERT_RULE_ERROR, TSQ_ALERT_RULE_ERROR_INVALID, "%s.%s: %s", path,
                 field, msg);
  else
    g_set_error (error, TSQ_ALERT_RULE_ERROR, TSQ_ALERT_RULE_ERROR_INVALID, "%s: %s", path, msg);
  return FALSE;
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
node_get_number (JsonNode *node, double *out)
{
  GType t;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    *out = (double)json_node_get_int (node);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*out);
}

/* A string or an array of strings, each non-empty and at most STRING_MAX bytes. */
static char **
parse_string_list (JsonNode *node, const char *path, const char *field, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);

  if (node_is_string (node))
    {
      g_ptr_array_add (out, g_strdup (json_node_get_string (node)));
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *arr = json_node_get_array (node);
      guint n = json_array_get_length (arr);

      if (n == 0)
        {
          fail (error, path, field, "must not be empty");
          return NULL;
        }
      if (n > LIST_MAX)
        {
          fail (error, path, field, "at most %d entries", LIST_MAX);
          return NULL;
        }
      for (guint i = 0; i < n; i++)
        {
          JsonNode *e = json_array_get_element (arr, i);

          if (!node_is_string (e))
            {
              g_autofree char *f = g_strdup_printf ("%s[%u]", field, i);

              fail (error, path, f, "expected a string");
              return NULL;
            }
          g_ptr_array_add (out, g_strdup (json_node_get_string (e)));
        }
    }
  else
    {
      fail (error, path, field, "expected a string or an array of strings");
      return NULL;
    }

  for (guint i = 0; i < out->len; i++)
    {
      const char *s = g_ptr_array_index (out, i);

      if (*s == '\0')
        {
          fail (error, path, field, "empty string");
          return NULL;
        }
      if (strlen (s) > STRING_MAX || !g_utf8_validate (s, -1, NULL))
        {
          fail (error, path, field, "invalid or over-long string");
          return NULL;
        }
    }
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static GPtrArray *
compile_globs (char **list, gboolean casefold)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (pattern_free);

  for (guint i = 0; list[i] != NULL; i++)
    {
      g_autofree char *text = casefold ? g_utf8_casefold (list[i], -1) : g_strdup (list[i]);

      g_ptr_array_add (out, g_pattern_spec_new (text));
    }
  return out;
}

static GRegex *
compile_regex (JsonNode *node, const char *path, const char *field, GError **error)
{
  g_autoptr (GError) local = NULL;
  GRegex *re;
  const char *text;

  if (!node_is_string (node))
    {
      fail (error, path, field, "expected a string (a regular expression)");
      return NULL;
    }
  text = json_node_get_string (node);
  if (strlen (text) > STRING_MAX)
    {
      fail (error, path, field, "regular expression too long");
      return NULL;
    }
  re = g_regex_new (text, G_REGEX_OPTIMIZE, 0, &local);
  if (re == NULL)
    fail (error, path, field, "invalid regular expression: %s", local->message);
  return re;
}

static gboolean
parse_condition (const char *text, Condition *cond, const char *path, GError **error)
{
  const char *p = text;
  const char *start;
  char *end = NULL;
  gboolean known = FALSE;

  while (g_ascii_isspace (*p))
    p++;
  start = p;
  while (g_ascii_isalnum (*p) || *p == '_' || *p == '.')
    p++;
  if (p == start)
    return fail (error, path, NULL, "expected a field name in \"%s\"", text);
  cond->field = g_strndup (start, p - start);
  for (guint i = 0; condition_fields[i] != NULL; i++)
    if (g_str_equal (condition_fields[i], cond->field))
      known = TRUE;
  if (!known && (!g_str_has_prefix (cond->field, "evidence.") || cond->field[9] == '\0'))
    return fail (error, path, NULL, "unknown field \"%s\"", cond->field);
  while (g_ascii_isspace (*p))
    p++;
  if (g_str_has_prefix (p, ">="))
    cond->op = OP_GE, p += 2;
  else if (g_str_has_prefix (p, "<="))
    cond->op = OP_LE, p += 2;
  else if (g_str_has_prefix (p, "=="))
    cond->op = OP_EQ, p += 2;
  else if (g_str_has_prefix (p, "!="))
    cond->op = OP_NE, p += 2;
  else if (*p == '>')
    cond->op = OP_GT, p++;
  else if (*p == '<')
    cond->op = OP_LT, p++;
  else
    return fail (error, path, NULL, "expected one of < <= > >= == != after \"%s\"", cond->field);
  while (g_ascii_isspace (*p))
    p++;
  if (*p == '\0')
    return fail (error, path, NULL, "expected a number after the operator in \"%s\"", text);
  cond->value = g_ascii_strtod (p, &end);
  if (end == p || !isfinite (cond->value))
    return fail (error, path, NULL, "invalid number \"%s\"", p);
  while (g_ascii_isspace (*end))
    end++;
  if (*end != '\0')
    return fail (error, path, NULL, "unexpected text \"%s\"", end);
  return TRUE;
}

/* "a >= 1 && b < 2" (a string) or an array of such strings: all conditions must hold. */
static GArray *
parse_conditions (JsonNode *node, const char *path, GError **error)
{
  g_autoptr (GArray) conds = g_array_new (FALSE, TRUE, sizeof (Condition));
  g_auto (GStrv) list = NULL;
  g_autofree char *field_path = g_strdup_printf ("%s.when", path);

  g_array_set_clear_func (conds, condition_clear);
  list = parse_string_list (node, path, "when", error);
  if (list == NULL)
    return NULL;
  for (guint i = 0; list[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (list[i], "&&", -1);

      for (guint j = 0; parts[j] != NULL; j++)
        {
          Condition c = { 0 };

          if (conds->len >= CONDITIONS_MAX)
            {
              fail (error, field_path, NULL, "at most %d conditions", CONDITIONS_MAX);
              return NULL;
            }
          if (!parse_condition (parts[j], &c, field_path, error))
            {
              g_free (c.field);
              return NULL;
            }
          g_array_append_val (conds, c);
        }
    }
  return g_steal_pointer (&conds);
}

static gboolean
check_members (JsonObject *obj, const char *const *allowed, const char *path, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (obj);

  for (GList *l = members; l != NULL; l = l->next)
    {
      gboolean ok = FALSE;

      for (guint i = 0; allowed[i] != NULL; i++)
        if (g_str_equal (allowed[i], l->data))
          ok = TRUE;
      if (!ok)
        return fail (error, path, l->data, "unknown member");
    }
  return TRUE;
}

static gboolean
get_bool (JsonObject *obj,
          const char *member,
          gboolean fallback,
          gboolean *out,
          const char *path,
          GError **error)
{
  JsonNode *n = json_object_get_member (obj, member);

  *out = fallback;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fail (error, path, member, "expected true or false");
  *out = json_node_get_boolean (n);
  return TRUE;
}

static gboolean
parse_match (TsqAlertRule *rule, JsonNode *node, const char *path, GError **error)
{
  static const char *const allowed[]
    = { "type",         "technology", "category", "subject",   "subject_regex",
        "old",          "old_regex",  "new",      "new_regex", "change_severity",
        "status_class", "when",       NULL };
  g_autofree char *mpath = g_strdup_printf ("%s.match", path);
  JsonObject *m;
  JsonNode *n;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, path, "match", "expected an object");
  m = json_node_get_object (node);
  if (!check_members (m, allowed, mpath, error))
    return FALSE;

  if ((n = json_object_get_member (m, "type")) != NULL)
    {
      g_auto (GStrv) types = parse_string_list (n, mpath, "type", error);

      if (types == NULL)
        return FALSE;
      for (guint i = 0; types[i] != NULL; i++)
        {
          g_autoptr (GPatternSpec) spec = g_pattern_spec_new (types[i]);
          gboolean any = FALSE;

          for (guint k = 0; known_types[k] != NULL && !any; k++)
            any = g_pattern_spec_match_string (spec, known_types[k]);
          if (!any)
            return fail (error, mpath, "type", "unknown change type \"%s\"", types[i]);
        }
      rule->types = compile_globs (types, FALSE);
    }
  if ((n = json_object_get_member (m, "technology")) != NULL)
    {
      g_auto (GStrv) list = parse_string_list (n, mpath, "technology", error);

      if (list == NULL)
        return FALSE;
      rule->technologies = compile_globs (list, TRUE);
    }
  if ((n = json_object_get_member (m, "category")) != NULL)
    {
      g_auto (GStrv) list = parse_string_list (n, mpath, "category", error);

      if (list == NULL)
        return FALSE;
      rule->categories = compile_globs (list, TRUE);
    }
  if ((n = json_object_get_member (m, "subject")) != NULL)
    {
      if (!node_is_string (n))
        return fail (error, mpath, "subject", "expected a string");
      rule->subject = g_strdup (json_node_get_string (n));
    }
  if ((n = json_object_get_member (m, "subject_regex")) != NULL
      && (rule->subject_regex = compile_regex (n, mpath, "subject_regex", error)) == NULL)
    return FALSE;
  if ((n = json_object_get_member (m, "old")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (n) && !JSON_NODE_HOLDS_NULL (n))
        return fail (error, mpath, "old", "expected a string, number, boolean or null");
      rule->old_value = json_node_copy (n);
    }
  if ((n = json_object_get_member (m, "old_regex")) != NULL
      && (rule->old_regex = compile_regex (n, mpath, "old_regex", error)) == NULL)
    return FALSE;
  if ((n = json_object_get_member (m, "new")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (n) && !JSON_NODE_HOLDS_NULL (n))
        return fail (error, mpath, "new", "expected a string, number, boolean or null");
      rule->new_value = json_node_copy (n);
    }
  if ((n = json_object_get_member (m, "new_regex")) != NULL
      && (rule->new_regex = compile_regex (n, mpath, "new_regex", error)) == NULL)
    return FALSE;
  if ((n = json_object_get_member (m, "change_severity")) != NULL)
    {
      g_auto (GStrv) list = parse_string_list (n, mpath, "change_severity", error);

      if (list == NULL)
        return FALSE;
      for (guint i = 0; list[i] != NULL; i++)
        {
          TsqAlertSeverity s;

          if (!tsq_alert_severity_from_string (list[i], &s))
            return fail (error, mpath, "change_severity",
                         "unknown severity \"%s\" (info, warning or critical)", list[i]);
          rule->change_severity_mask |= 1u << s;
        }
    }
  if ((n = json_object_get_member (m, "status_class")) != NULL)
    {
      const char *s = node_is_string (n) ? json_node_get_string (n) : NULL;

      if (s == NULL || strlen (s) != 3 || s[0] < '1' || s[0] > '5' || g_ascii_tolower (s[1]) != 'x'
          || g_ascii_tolower (s[2]) != 'x')
        return fail (error, mpath, "status_class", "expected \"1xx\" .. \"5xx\"");
      rule->status_class = s[0] - '0';
    }
  if ((n = json_object_get_member (m, "when")) != NULL
      && (rule->conditions = parse_conditions (n, mpath, error)) == NULL)
    return FALSE;
  return TRUE;
}

static gboolean
valid_id (const char *id)
{
  if (*id == '\0' || strlen (id) > 128)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.' && *p != ':')
      return FALSE;
  return TRUE;
}

TsqAlertRule *
tsq_alert_rule_from_json (JsonNode *node, const char *path, GError **error)
{
  static const char *const allowed[]
    = { "id",       "description", "enabled",    "match",    "severity",
        "channels", "escalation",  "resolve_on", "group_by", "repeat_interval_s",
        "continue", "drop",        NULL };
  g_autoptr (TsqAlertRule) rule = NULL;
  JsonObject *obj;
  JsonNode *n;

  if (path == NULL)
    path = "rule";
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (error, path, NULL, "expected an object");
      return NULL;
    }
  obj = json_node_get_object (node);
  rule = g_new0 (TsqAlertRule, 1);
  rule->ref_count = 1;
  rule->json = json_object_ref (obj);
  if (!check_members (obj, allowed, path, error))
    return NULL;

  n = json_object_get_member (obj, "id");
  if (n == NULL)
    {
      fail (error, path, "id", "missing");
      return NULL;
    }
  if (!node_is_string (n) || !valid_id (json_node_get_string (n)))
    {
      fail (error, path, "id", "expected 1-128 characters of [A-Za-z0-9_.:-]");
      return NULL;
    }
  rule->id = g_strdup (json_node_get_string (n));

  if ((n = json_object_get_member (obj, "description")) != NULL && !node_is_string (n))
    {
      fail (error, path, "description", "expected a string");
      return NULL;
    }
  if (!get_bool (obj, "enabled", TRUE, &rule->enabled, path, error)
      || !get_bool (obj, "continue", FALSE, &rule->cont, path, error)
      || !get_bool (obj, "drop", FALSE, &rule->drop, path, error))
    return NULL;

  if ((n = json_object_get_member (obj, "match")) != NULL && !parse_match (rule, n, path, error))
    return NULL;

  if ((n = json_object_get_member (obj, "severity")) != NULL)
    {
      if (!node_is_string (n)
          || !tsq_alert_severity_from_string (json_node_get_string (n), &rule->severity))
        {
          fail (error, path, "severity", "expected \"info\", \"warning\" or \"critical\"");
          return NULL;
        }
      rule->has_severity = TRUE;
    }

  if ((n = json_object_get_member (obj, "channels")) != NULL
      && (rule->channels = parse_string_list (n, path, "channels", error)) == NULL)
    return NULL;
  if ((n = json_object_get_member (obj, "escalation")) != NULL)
    {
      if (!node_is_string (n) || *json_node_get_string (n) == '\0')
        {
          fail (error, path, "escalation", "expected the name of an escalation policy");
          return NULL;
        }
      if (rule->channels != NULL)
        {
          fail (error, path, "escalation", "\"channels\" and \"escalation\" are exclusive");
          return NULL;
        }
      rule->escalation = g_strdup (json_node_get_string (n));
    }
  if (rule->channels == NULL && rule->escalation == NULL)
    {
      const char *def[] = { "default", NULL };

      rule->channels = g_strdupv ((char **)def);
    }

  if ((n = json_object_get_member (obj, "resolve_on")) != NULL)
    {
      rule->has_resolve_on = TRUE;
      if (JSON_NODE_HOLDS_NULL (n)
          || (JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) == 0))
        {
          rule->resolve_on = g_new0 (char *, 1);
        }
      else
        {
          rule->resolve_on = parse_string_list (n, path, "resolve_on", error);
          if (rule->resolve_on == NULL)
            return NULL;
          for (guint i = 0; rule->resolve_on[i] != NULL; i++)
            if (!tsq_alert_is_known_change_type (rule->resolve_on[i]))
              {
                fail (error, path, "resolve_on", "unknown change type \"%s\"", rule->resolve_on[i]);
                return NULL;
              }
        }
    }

  if ((n = json_object_get_member (obj, "group_by")) != NULL)
    {
      const char *g = node_is_string (n) ? json_node_get_string (n) : "";

      if (g_str_equal (g, "monitor"))
        rule->group_by = TSQ_ALERT_GROUP_BY_MONITOR;
      else if (g_str_equal (g, "rule"))
        rule->group_by = TSQ_ALERT_GROUP_BY_RULE;
      else
        {
          fail (error, path, "group_by", "expected \"monitor\" or \"rule\"");
          return NULL;
        }
    }

  if ((n = json_object_get_member (obj, "repeat_interval_s")) != NULL)
    {
      double v;

      /* 1 s .. 1 year */
      if (!node_get_number (n, &v) || v < 1 || v > 366.0 * 86400)
        {
          fail (error, path, "repeat_interval_s", "expected a number of seconds in [1, 31622400]");
          return NULL;
        }
      rule->repeat_interval_us = (gint64)(v * G_USEC_PER_SEC);
    }
  return g_steal_pointer (&rule);
}

GPtrArray *
tsq_alert_rules_from_json (JsonArray *rules, const char *path, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_alert_rule_unref);
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);

  if (path == NULL)
    path = "rules";
  if (rules == NULL)
    return g_steal_pointer (&out);
  if (json_array_get_length (rules) > 1000)
    {
      fail (error, path, NULL, "at most 1000 rules");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      g_autofree char *p = g_strdup_printf ("%s[%u]", path, i);
      TsqAlertRule *rule = tsq_alert_rule_from_json (json_array_get_element (rules, i), p, error);

      if (rule == NULL)
        return NULL;
      g_ptr_array_add (out, rule);
      if (g_hash_table_contains (ids, rule->id))
        {
          fail (error, p, "id", "duplicate id \"%s\"", rule->id);
          return NULL;
        }
      g_hash_table_add (ids, rule->id);
    }
  return g_steal_pointer (&out);
}

GPtrArray *
tsq_alert_rules_get_defaults (void)
{
  /* Down is critical; critical security changes: a vulnerability whose change severity is
   * critical (advisory critical or high, docs/changes.md) and a certificate about to expire. */
  static const char defaults[]
    = "["
      "{\"id\":\"default.availability\",\"match\":{\"type\":\"availability.down\"},"
      "\"severity\":\"critical\"},"
      "{\"id\":\"default.vulnerability\",\"match\":{\"type\":\"security.vulnerability_found\","
      "\"change_severity\":\"critical\"},\"severity\":\"critical\"},"
      "{\"id\":\"default.certificate\",\"match\":{\"type\":\"security.certificate_expiring\","
      "\"when\":\"days_left < 3\"},\"severity\":\"critical\"}"
      "]";
  g_autoptr (JsonNode) node = tsq_json_from_string (defaults, NULL);
  GPtrArray *rules;

  g_assert (node != NULL);
  rules = tsq_alert_rules_from_json (json_node_get_array (node), "defaults", NULL);
  g_assert (rules != NULL);
  return rules;
}

JsonNode *
tsq_alert_rule_to_json (TsqAlertRule *rule)
{
  g_autoptr (JsonNode) node = NULL;

  g_return_val_if_fail (rule != NULL, NULL);
  node = json_node_init_object (json_node_alloc (), rule->json);
  return json_node_copy (node);
}

/* ---- matching ---- */

static gboolean
globs_match (GPtrArray *globs, const char *text, gboolean casefold)
{
  g_autofree char *folded = NULL;

  if (text == NULL)
    return FALSE;
  if (casefold)
    text = folded = g_utf8_casefold (text, -1);
  for (guint i = 0; i < globs->len; i++)
    if (g_pattern_spec_match_string (g_ptr_array_index (globs, i), text))
      return TRUE;
  return FALSE;
}

/* The text a regex sees for old/new: strings as they are, numbers and booleans printed. */
static char *
node_to_match_text (JsonNode *node)
{
  GType t;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  t = json_node_get_value_type (node);
  if (t == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  if (t == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (t == G_TYPE_DOUBLE)
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      return g_strdup (g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node)));
    }
  if (t == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (node) ? "true" : "false");
  return NULL;
}

static gboolean
value_equal (JsonNode *want, JsonNode *have)
{
  double a, b;

  if (have == NULL || JSON_NODE_HOLDS_NULL (have))
    return JSON_NODE_HOLDS_NULL (want);
  if (JSON_NODE_HOLDS_NULL (want))
    return FALSE;
  if (node_get_number (want, &a) && node_get_number (have, &b))
    return a == b;
  if (!JSON_NODE_HOLDS_VALUE (have))
    return FALSE;
  if (json_node_get_value_type (want) != json_node_get_value_type (have))
    return FALSE;
  if (node_is_string (want))
    return g_str_equal (json_node_get_string (want), json_node_get_string (have));
  return json_node_get_boolean (want) == json_node_get_boolean (have);
}

static gboolean
regex_match_node (GRegex *re, JsonNode *node)
{
  g_autofree char *text = node_to_match_text (node);

  return text != NULL && g_regex_match (re, text, 0, NULL);
}

/* The technology a change is about: the subject of technology.* changes, evidence.technology
 * of vulnerability changes. */
static const char *
change_technology (JsonObject *change, const char *type)
{
  if (g_str_has_prefix (type, "technology."))
    return tsq_json_get_string (change, "subject", NULL);
  if (g_str_has_prefix (type, "security.vulnerability_"))
    return tsq_json_get_string (tsq_json_get_object (change, "evidence"), "technology", NULL);
  return NULL;
}

static gboolean
evidence_number (JsonObject *evidence, const char *path, double *out)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonObject *obj = evidence;
  JsonNode *n = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (obj == NULL || !json_object_has_member (obj, parts[i]))
        return FALSE;
      n = json_object_get_member (obj, parts[i]);
      obj = (parts[i + 1] != NULL && JSON_NODE_HOLDS_OBJECT (n)) ? json_node_get_object (n) : NULL;
    }
  return node_get_number (n, out);
}

static gboolean
change_status (JsonObject *change, const char *type, double *out)
{
  if (g_str_has_prefix (type, "availability.") || g_str_equal (type, "status.changed"))
    {
      if (node_get_number (json_object_get_member (change, "new"), out))
        return TRUE;
    }
  return evidence_number (tsq_json_get_object (change, "evidence"), "status", out);
}

static gboolean
field_value (JsonObject *change, const char *type, const char *field, double *out)
{
  double o, n;
  gboolean has_o = node_get_number (json_object_get_member (change, "old"), &o);
  gboolean has_n = node_get_number (json_object_get_member (change, "new"), &n);

  if (g_str_equal (field, "old"))
    return has_o && (*out = o, TRUE);
  if (g_str_equal (field, "new"))
    return has_n && (*out = n, TRUE);
  if (g_str_equal (field, "increase") || g_str_equal (field, "increase_ms"))
    return has_o && has_n && (*out = n - o, TRUE);
  if (g_str_equal (field, "decrease") || g_str_equal (field, "decrease_ms"))
    return has_o && has_n && (*out = o - n, TRUE);
  if (g_str_equal (field, "increase_pct"))
    return has_o && has_n && o > 0 && (*out = (n - o) / o * 100.0, TRUE);
  if (g_str_equal (field, "decrease_pct"))
    return has_o && has_n && o > 0 && (*out = (o - n) / o * 100.0, TRUE);
  if (g_str_equal (field, "days_left"))
    {
      if (g_str_has_prefix (type, "security.certificate_"))
        return has_n && (*out = n, TRUE);
      return evidence_number (tsq_json_get_object (change, "evidence"), "days_left", out);
    }
  if (g_str_equal (field, "status"))
    return change_status (change, type, out);
  if (g_str_equal (field, "confidence"))
    return node_get_number (json_object_get_member (change, "confidence"), out);
  if (g_str_has_prefix (field, "evidence."))
    return evidence_number (tsq_json_get_object (change, "evidence"), field + 9, out);
  return FALSE;
}

static gboolean
condition_holds (const Condition *c, JsonObject *change, const char *type)
{
  double v;

  /* A value that does not exist for this change fails the condition. */
  if (!field_value (change, type, c->field, &v))
    return FALSE;
  switch (c->op)
    {
      case OP_LT:
        return v < c->value;
      case OP_LE:
        return v <= c->value;
      case OP_GT:
        return v > c->value;
      case OP_GE:
        return v >= c->value;
      case OP_EQ:
        return v == c->value;
      case OP_NE:
        return v != c->value;
      default:
        return FALSE;
    }
}

gboolean
tsq_alert_rule_matches (TsqAlertRule *rule, JsonObject *change)
{
  const char *type;
  const char *subject;

  g_return_val_if_fail (rule != NULL, FALSE);
  if (change == NULL || !rule->enabled)
    return FALSE;
  type = tsq_json_get_string (change, "type", NULL);
  if (type == NULL)
    return FALSE;
  subject = tsq_json_get_string (change, "subject", NULL);

  if (rule->types != NULL && !globs_match (rule->types, type, FALSE))
    return FALSE;
  if (rule->technologies != NULL
      && !globs_match (rule->technologies, change_technology (change, type), TRUE))
    return FALSE;
  if (rule->categories != NULL)
    {
      JsonArray *cats = tsq_json_get_array (tsq_json_get_object (change, "evidence"), "categories");
      gboolean any = FALSE;

      for (guint i = 0; cats != NULL && i < json_array_get_length (cats) && !any; i++)
        {
          JsonNode *e = json_array_get_element (cats, i);

          any
            = node_is_string (e) && globs_match (rule->categories, json_node_get_string (e), TRUE);
        }
      if (!any)
        return FALSE;
    }
  if (rule->subject != NULL && g_strcmp0 (rule->subject, subject) != 0)
    return FALSE;
  if (rule->subject_regex != NULL
      && (subject == NULL || !g_regex_match (rule->subject_regex, subject, 0, NULL)))
    return FALSE;
  if (rule->old_value != NULL
      && !value_equal (rule->old_value, json_object_get_member (change, "old")))
    return FALSE;
  if (rule->old_regex != NULL
      && !regex_match_node (rule->old_regex, json_object_get_member (change, "old")))
    return FALSE;
  if (rule->new_value != NULL
      && !value_equal (rule->new_value, json_object_get_member (change, "new")))
    return FALSE;
  if (rule->new_regex != NULL
      && !regex_match_node (rule->new_regex, json_object_get_member (change, "new")))
    return FALSE;
  if (rule->change_severity_mask != 0)
    {
      TsqAlertSeverity s;

      if (!tsq_alert_severity_from_string (tsq_json_get_string (change, "severity", NULL), &s)
          || (rule->change_severity_mask & (1u << s)) == 0)
        return FALSE;
    }
  if (rule->status_class != 0)
    {
      double status;

      if (!change_status (change, type, &status) || (int)status / 100 != rule->status_class)
        return FALSE;
    }
  for (guint i = 0; rule->conditions != NULL && i < rule->conditions->len; i++)
    if (!condition_holds (&g_array_index (rule->conditions, Condition, i), change, type))
      return FALSE;
  return TRUE;
}

const char *
tsq_alert_rule_get_id (TsqAlertRule *rule)
{
  return rule->id;
}

gboolean
tsq_alert_rule_get_enabled (TsqAlertRule *rule)
{
  return rule->enabled;
}

gboolean
tsq_alert_rule_get_drop (TsqAlertRule *rule)
{
  return rule->drop;
}

gboolean
tsq_alert_rule_get_continue (TsqAlertRule *rule)
{
  return rule->cont;
}

TsqAlertSeverity
tsq_alert_rule_get_severity_for (TsqAlertRule *rule, JsonObject *change)
{
  TsqAlertSeverity s = TSQ_ALERT_SEVERITY_WARNING;

  if (rule->has_severity)
    return rule->severity;
  if (change != NULL)
    tsq_alert_severity_from_string (tsq_json_get_string (change, "severity", NULL), &s);
  return s;
}

const char *const *
tsq_alert_rule_get_channels (TsqAlertRule *rule)
{
  return (const char *const *)rule->channels;
}

const char *
tsq_alert_rule_get_escalation (TsqAlertRule *rule)
{
  return rule->escalation;
}

const char *const *
tsq_alert_rule_get_resolve_on_for (TsqAlertRule *rule, const char *type)
{
  if (rule->has_resolve_on)
    return (const char *const *)rule->resolve_on;
  return tsq_alert_default_resolve_on (type);
}

TsqAlertGroupBy
tsq_alert_rule_get_group_by (TsqAlertRule *rule)
{
  return rule->group_by;
}

gint64
tsq_alert_rule_get_repeat_interval_us (TsqAlertRule *rule)
{
  return rule->repeat_interval_us;
}

/* ---- escalation policies ---- */

typedef struct
{
  char **channels;
  gint64 delay_us;
} Level;

struct _TsqAlertEscalationPolicy
{
  gint ref_count;
  char *name;
  GArray *levels; /* Level */
  guint repeat;
  JsonObject *json;
};

static void
level_clear (gpointer p)
{
  Level *l = p;

  g_strfreev (l->channels);
}

TsqAlertEscalationPolicy *
tsq_alert_escalation_policy_ref (TsqAlertEscalationPolicy *policy)
{
  g_return_val_if_fail (policy != NULL, NULL);
  g_atomic_int_inc (&policy->ref_count);
  return policy;
}

void
tsq_alert_escalation_policy_unref (TsqAlertEscalationPolicy *policy)
{
  if (policy == NULL || !g_atomic_int_dec_and_test (&policy->ref_count))
    return;
  g_free (policy->name);
  g_clear_pointer (&policy->levels, g_array_unref);
  g_clear_pointer (&policy->json, json_object_unref);
  g_free (policy);
}

TsqAlertEscalationPolicy *
tsq_alert_escalation_policy_from_json (JsonNode *node, const char *path, GError **error)
{
  static const char *const allowed[] = { "name", "levels", "repeat", "description", NULL };
  static const char *const level_allowed[] = { "channels", "delay_s", NULL };
  g_autoptr (TsqAlertEscalationPolicy) p = NULL;
  JsonObject *obj;
  JsonNode *n;
  JsonArray *levels;

  if (path == NULL)
    path = "policy";
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (error, path, NULL, "expected an object");
      return NULL;
    }
  obj = json_node_get_object (node);
  p = g_new0 (TsqAlertEscalationPolicy, 1);
  p->ref_count = 1;
  p->json = json_object_ref (obj);
  p->levels = g_array_new (FALSE, TRUE, sizeof (Level));
  g_array_set_clear_func (p->levels, level_clear);
  if (!check_members (obj, allowed, path, error))
    return NULL;
  n = json_object_get_member (obj, "name");
  if (n == NULL || !node_is_string (n) || !valid_id (json_node_get_string (n)))
    {
      fail (error, path, "name", "expected 1-128 characters of [A-Za-z0-9_.:-]");
      return NULL;
    }
  p->name = g_strdup (json_node_get_string (n));
  n = json_object_get_member (obj, "levels");
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (json_node_get_array (n)) == 0
      || json_array_get_length (json_node_get_array (n)) > LEVELS_MAX)
    {
      fail (error, path, "levels", "expected an array of 1 to %d levels", LEVELS_MAX);
      return NULL;
    }
  levels = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (levels); i++)
    {
      g_autofree char *lpath = g_strdup_printf ("%s.levels[%u]", path, i);
      JsonNode *ln = json_array_get_element (levels, i);
      Level level = { 0 };
      JsonObject *lo;
      double delay;

      if (!JSON_NODE_HOLDS_OBJECT (ln))
        {
          fail (error, lpath, NULL, "expected an object");
          return NULL;
        }
      lo = json_node_get_object (ln);
      if (!check_members (lo, level_allowed, lpath, error))
        return NULL;
      n = json_object_get_member (lo, "channels");
      if (n == NULL)
        {
          fail (error, lpath, "channels", "missing");
          return NULL;
        }
      level.channels = parse_string_list (n, lpath, "channels", error);
      if (level.channels == NULL)
        return NULL;
      n = json_object_get_member (lo, "delay_s");
      if (n == NULL || !node_get_number (n, &delay) || delay < 1 || delay > 30.0 * 86400)
        {
          g_strfreev (level.channels);
          fail (error, lpath, "delay_s", "expected a number of seconds in [1, 2592000]");
          return NULL;
        }
      level.delay_us = (gint64)(delay * G_USEC_PER_SEC);
      g_array_append_val (p->levels, level);
    }
  if ((n = json_object_get_member (obj, "repeat")) != NULL)
    {
      double r;

      if (!node_get_number (n, &r) || r < 0 || r > 100 || r != floor (r))
        {
          fail (error, path, "repeat", "expected an integer in [0, 100]");
          return NULL;
        }
      p->repeat = (guint)r;
    }
  return g_steal_pointer (&p);
}

JsonNode *
tsq_alert_escalation_policy_to_json (TsqAlertEscalationPolicy *policy)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), policy->json);

  return json_node_copy (node);
}

const char *
tsq_alert_escalation_policy_get_name (TsqAlertEscalationPolicy *policy)
{
  return policy->name;
}

guint
tsq_alert_escalation_policy_get_n_levels (TsqAlertEscalationPolicy *policy)
{
  return policy->levels->len;
}

const char *const *
tsq_alert_escalation_policy_get_channels (TsqAlertEscalationPolicy *policy, guint level)
{
  g_return_val_if_fail (level >= 1 && level <= policy->levels->len, NULL);
  return (const char *const *)g_array_index (policy->levels, Level, level - 1).channels;
}

gint64
tsq_alert_escalation_policy_get_delay_us (TsqAlertEscalationPolicy *policy, guint level)
{
  g_return_val_if_fail (level >= 1 && level <= policy->levels->len, 0);
  return g_array_index (policy->levels, Level, level - 1).delay_us;
}

guint
tsq_alert_escalation_policy_get_repeat (TsqAlertEscalationPolicy *policy)
{
  return policy->repeat;
}
