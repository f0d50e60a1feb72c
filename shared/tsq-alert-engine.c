/* tsq-alert-engine.c: the alert decision logic (docs/alerts.md).
 *
 * The engine owns the OPEN alerts (triggered or acknowledged); a resolved alert is reported in
 * a "resolve" action and forgotten. Every decision is an action object that names the alert and
 * carries a snapshot of it, so the caller can persist the snapshot as is and explain every
 * notification that was or was not sent. Nothing here reads a clock: times come in as
 * arguments and every timer is a stored timestamp plus a configured delay.
 */
#define G_LOG_DOMAIN "tsq-alert-engine"

#include "tsq-alert-engine.h"

#include <string.h>

#include "tsq-json-util.h"
#include "tsq-schedule.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-alert-engine-error-quark, tsq_alert_engine_error)
/* clang-format on */

#define SNAPSHOT_VERSION 1

typedef struct
{
  guint64 seq; /* creation order: actions list alerts oldest first */
  char *id;
  char *monitor_id;
  char *monitor_name;
  char *monitor_url;
  char *rule_id;
  char *type;
  char *subject;
  TsqAlertSeverity severity;
  gboolean acked;
  gboolean resolved; /* only between resolution and removal */
  gint64 triggered_at;
  gint64 last_seen_at;
  gint64 acknowledged_at;
  char *acknowledged_by;
  gint64 resolved_at;
  char *resolved_by;
  guint count;
  gint64 last_notified_at; /* 0 = never notified */
  guint notify_count;
  char **channels; /* NULL with an escalation policy */
  char *escalation;
  guint escalation_level;    /* 0 = not started; else the level notified last (1-based) */
  guint escalation_round;    /* 0 = first pass through the levels */
  gint64 escalated_at;       /* when escalation_level was notified (or suppressed) */
  char **resolve_on;         /* never NULL */
  gint64 repeat_interval_us; /* 0 = the engine's */
  char *group_key;
  GPtrArray *notified_channels; /* sorted, unique */
  JsonObject *change;           /* the latest change */
  gint64 change_id;
  char *inhibited_by;
  gboolean flapping;
  gint64 open_scan;
  char *suppressed; /* reason of the suppression that kept it from being notified */
  gint64 reminder_checked_at;
  gboolean pending; /* waiting in a group for its first notification */
} Alert;

typedef struct
{
  char *key; /* group_key \x1f channels */
  char *group_key;
  char **channels;
  gint64 last_flush_at;
  gint64 due_at;
  GPtrArray *pending; /* alert ids */
} Group;

typedef struct
{
  char *monitor_id;
  gint64 resolved_scan;
} FlapRecord;

typedef struct
{
  char *text;
  GPtrArray *rules;
} RuleCache;

struct _TsqAlertSilence
{
  char *id;
  char *monitor_id;
  char *monitor_name;
  char *rule;
  char *type;
  GPatternSpec *type_spec;
  char *subject_regex_text;
  GRegex *subject_regex;
  gboolean has_severity;
  TsqAlertSeverity severity;
  gint64 starts_at;
  gint64 ends_at;
  char *created_by;
  char *comment;
};

struct _TsqAlertMaintenance
{
  char *id;
  char *monitor_id;
  TsqSchedule *schedule; /* cron windows */
  char *cron;
  char *timezone;
  gint64 duration_us;
  gint64 starts_at; /* fixed windows */
  gint64 ends_at;
};

struct _TsqAlertEngine
{
  TsqAlertEngineConfig config;
  GHashTable *alerts;     /* id -> Alert */
  GHashTable *by_key;     /* monitor\x1frule\x1fsubject -> Alert (borrowed) */
  GHashTable *groups;     /* key -> Group */
  GHashTable *silences;   /* id -> TsqAlertSilence */
  GHashTable *windows;    /* id -> TsqAlertMaintenance */
  GHashTable *policies;   /* name -> TsqAlertEscalationPolicy */
  GHashTable *rule_cache; /* monitor id -> RuleCache */
  GHashTable *scans;      /* monitor id -> gint64* scan counter */
  GHashTable *flaps;      /* key -> FlapRecord */
  GHashTable *by_monitor; /* monitor id -> GPtrArray of Alert* (borrowed), creation order */
  GPtrArray *order;       /* every open Alert* (borrowed), creation order */
  GPtrArray *global_rules;
  GPtrArray *default_rules;
  TsqAlertIdFunc id_func;
  gpointer id_data;
  guint64 seq;
};

/* ---- small helpers ---- */

static void
alert_free (gpointer p)
{
  Alert *a = p;

  g_free (a->id);
  g_free (a->monitor_id);
  g_free (a->monitor_name);
  g_free (a->monitor_url);
  g_free (a->rule_id);
  g_free (a->type);
  g_free (a->subject);
  g_free (a->acknowledged_by);
  g_free (a->resolved_by);
  g_strfreev (a->channels);
  g_free (a->escalation);
  g_strfreev (a->resolve_on);
  g_free (a->group_key);
  g_clear_pointer (&a->notified_channels, g_ptr_array_unref);
  g_clear_pointer (&a->change, json_object_unref);
  g_free (a->inhibited_by);
  g_free (a->suppressed);
  g_free (a);
}

static void
group_free (gpointer p)
{
  Group *g = p;

  g_free (g->key);
  g_free (g->group_key);
  g_strfreev (g->channels);
  g_ptr_array_unref (g->pending);
  g_free (g);
}

static void
flap_free (gpointer p)
{
  FlapRecord *f = p;

  g_free (f->monitor_id);
  g_free (f);
}

static void
rule_cache_free (gpointer p)
{
  RuleCache *c = p;

  g_free (c->text);
  g_ptr_array_unref (c->rules);
  g_free (c);
}

static char *
alert_key (const char *monitor_id, const char *rule_id, const char *subject)
{
  return g_strdup_printf ("%s\x1f%s\x1f%s", monitor_id, rule_id, subject);
}

static char *
default_id (gpointer user_data)
{
  return g_uuid_string_random ();
}

static JsonNode *
strv_node (const char *const *strv)
{
  JsonArray *arr = json_array_new ();

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_array_add_string_element (arr, strv[i]);
  return json_node_init_array (json_node_alloc (), arr);
}

static void
set_strv (JsonObject *obj, const char *member, const char *const *strv)
{
  JsonNode *n = strv_node (strv);

  json_object_set_member (obj, member, n);
  json_array_unref (json_node_get_array (n));
}

static void
set_str_or_null (JsonObject *obj, const char *member, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (obj, member, value);
  else
    json_object_set_null_member (obj, member);
}

static void
set_time_or_null (JsonObject *obj, const char *member, gint64 value)
{
  if (value != 0)
    json_object_set_int_member (obj, member, value);
  else
    json_object_set_null_member (obj, member);
}

/* Unix µs from an integer (µs) or an ISO 8601 string; a missing or null member is 0. */
static gboolean
parse_time (JsonObject *obj, const char *member, gint64 *out, GError **error)
{
  JsonNode *n = obj != NULL ? json_object_get_member (obj, member) : NULL;

  *out = 0;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    {
      *out = json_node_get_int (n);
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    {
      g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
      g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (json_node_get_string (n), utc);

      if (dt != NULL)
        {
          *out = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
          return TRUE;
        }
    }
  g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
               "%s: expected a time (unix µs or ISO 8601)", member);
  return FALSE;
}

static char **
get_strv (JsonObject *obj, const char *member)
{
  JsonArray *arr = tsq_json_get_array (obj, member);
  g_autoptr (GPtrArray) out = NULL;

  if (arr == NULL)
    return NULL;
  out = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *e = json_array_get_element (arr, i);

      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        g_ptr_array_add (out, g_strdup (json_node_get_string (e)));
    }
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static char *
strv_join (const char *const *strv)
{
  return g_strjoinv (",", (char **)strv);
}

static int
compare_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

static void
notified_add (Alert *a, const char *const *channels)
{
  for (guint i = 0; channels != NULL && channels[i] != NULL; i++)
    {
      gboolean have = FALSE;

      for (guint k = 0; k < a->notified_channels->len && !have; k++)
        have = g_str_equal (g_ptr_array_index (a->notified_channels, k), channels[i]);
      if (!have)
        g_ptr_array_add (a->notified_channels, g_strdup (channels[i]));
    }
  g_ptr_array_sort (a->notified_channels, compare_str);
}

static gboolean
is_condition (Alert *a)
{
  return a->resolve_on[0] != NULL;
}

static gint64
repeat_interval (TsqAlertEngine *self, Alert *a)
{
  return a->repeat_interval_us > 0 ? a->repeat_interval_us : self->config.repeat_interval_us;
}

static gint64 *
scan_counter (TsqAlertEngine *self, const char *monitor_id)
{
  gint64 *c = g_hash_table_lookup (self->scans, monitor_id);

  if (c == NULL)
    {
      c = g_new0 (gint64, 1);
      g_hash_table_insert (self->scans, g_strdup (monitor_id), c);
    }
  return c;
}

static TsqAlertEscalationPolicy *
alert_policy (TsqAlertEngine *self, Alert *a)
{
  return a->escalation != NULL ? g_hash_table_lookup (self->policies, a->escalation) : NULL;
}

/* The channels of an alert's first notification. */
static const char *const *
first_channels (TsqAlertEngine *self, Alert *a)
{
  static const char *const fallback[] = { "default", NULL };
  TsqAlertEscalationPolicy *p;

  if (a->escalation == NULL)
    return (const char *const *)a->channels;
  p = alert_policy (self, a);
  if (p == NULL)
    return fallback; /* unknown policy: still tell someone */
  return tsq_alert_escalation_policy_get_channels (p, 1);
}

static int
compare_alert_seq (gconstpointer a, gconstpointer b)
{
  const Alert *x = *(Alert *const *)a;
  const Alert *y = *(Alert *const *)b;

  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Open alerts (of one monitor, or all), oldest first (deterministic action order). A copy:
 * callers may resolve alerts while walking it. The index lists are kept in creation order, so
 * nothing is sorted on the hot path. */
static GPtrArray *
sorted_alerts (TsqAlertEngine *self, const char *monitor_id)
{
  GPtrArray *list
    = monitor_id != NULL ? g_hash_table_lookup (self->by_monitor, monitor_id) : self->order;

  if (list == NULL)
    return g_ptr_array_new ();
  return g_ptr_array_copy (list, NULL, NULL);
}

/* Appends keeping creation order (seq increases with every insertion). */
static void
index_add (TsqAlertEngine *self, Alert *a)
{
  GPtrArray *list = g_hash_table_lookup (self->by_monitor, a->monitor_id);

  if (list == NULL)
    {
      list = g_ptr_array_new ();
      g_hash_table_insert (self->by_monitor, g_strdup (a->monitor_id), list);
    }
  g_ptr_array_add (list, a);
  g_ptr_array_add (self->order, a);
}

static void
index_remove (TsqAlertEngine *self, Alert *a)
{
  GPtrArray *list = g_hash_table_lookup (self->by_monitor, a->monitor_id);

  if (list != NULL)
    {
      g_ptr_array_remove (list, a);
      if (list->len == 0)
        g_hash_table_remove (self->by_monitor, a->monitor_id);
    }
  g_ptr_array_remove (self->order, a);
}

/* ---- snapshots and actions ---- */

static JsonObject *
alert_snapshot (Alert *a)
{
  JsonObject *o = json_object_new ();
  const char *state = a->resolved ? "resolved" : a->acked ? "acknowledged" : "triggered";

  json_object_set_int_member (o, "version", SNAPSHOT_VERSION);
  json_object_set_string_member (o, "id", a->id);
  json_object_set_string_member (o, "monitor_id", a->monitor_id);
  set_str_or_null (o, "monitor_name", a->monitor_name);
  set_str_or_null (o, "monitor_url", a->monitor_url);
  json_object_set_string_member (o, "rule_id", a->rule_id);
  json_object_set_string_member (o, "type", a->type);
  json_object_set_string_member (o, "subject", a->subject);
  json_object_set_string_member (o, "severity", tsq_alert_severity_to_string (a->severity));
  json_object_set_string_member (o, "state", state);
  json_object_set_int_member (o, "triggered_at", a->triggered_at);
  json_object_set_int_member (o, "last_seen_at", a->last_seen_at);
  json_object_set_int_member (o, "count", a->count);
  set_time_or_null (o, "acknowledged_at", a->acknowledged_at);
  set_str_or_null (o, "acknowledged_by", a->acknowledged_by);
  set_time_or_null (o, "resolved_at", a->resolved_at);
  set_str_or_null (o, "resolved_by", a->resolved_by);
  set_time_or_null (o, "last_notified_at", a->last_notified_at);
  json_object_set_int_member (o, "notify_count", a->notify_count);
  if (a->channels != NULL)
    set_strv (o, "channels", (const char *const *)a->channels);
  else
    json_object_set_null_member (o, "channels");
  set_str_or_null (o, "escalation", a->escalation);
  json_object_set_int_member (o, "escalation_level", a->escalation_level);
  json_object_set_int_member (o, "escalation_round", a->escalation_round);
  set_time_or_null (o, "escalated_at", a->escalated_at);
  set_strv (o, "resolve_on", (const char *const *)a->resolve_on);
  if (a->repeat_interval_us > 0)
    json_object_set_int_member (o, "repeat_interval_us", a->repeat_interval_us);
  else
    json_object_set_null_member (o, "repeat_interval_us");
  json_object_set_string_member (o, "group_key", a->group_key);
  g_ptr_array_add (a->notified_channels, NULL);
  set_strv (o, "notified_channels", (const char *const *)a->notified_channels->pdata);
  g_ptr_array_remove_index (a->notified_channels, a->notified_channels->len - 1);
  if (a->change != NULL)
    json_object_set_object_member (o, "change", json_object_ref (a->change));
  else
    json_object_set_null_member (o, "change");
  if (a->change_id > 0)
    json_object_set_int_member (o, "change_id", a->change_id);
  else
    json_object_set_null_member (o, "change_id");
  set_str_or_null (o, "inhibited_by", a->inhibited_by);
  json_object_set_boolean_member (o, "flapping", a->flapping);
  json_object_set_int_member (o, "open_scan", a->open_scan);
  set_str_or_null (o, "suppressed", a->suppressed);
  set_time_or_null (o, "reminder_checked_at", a->reminder_checked_at);
  return o;
}

static JsonObject *
action_for (const char *kind, Alert *a)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "action", kind);
  if (a != NULL)
    {
      json_object_set_string_member (o, "alert_id", a->id);
      json_object_set_object_member (o, "alert", alert_snapshot (a));
    }
  return o;
}

static void
emit_suppressed (GPtrArray *actions,
                 Alert *a,
                 const char *reason,
                 const char *during,
                 const char *detail_member,
                 const char *detail)
{
  JsonObject *o;

  if (during != NULL && (g_str_equal (during, "trigger") || g_str_equal (during, "flush")))
    {
      g_free (a->suppressed);
      a->suppressed = g_strdup (reason);
    }
  o = action_for ("suppressed", a);
  json_object_set_string_member (o, "reason", reason);
  json_object_set_string_member (o, "during", during);
  if (detail_member != NULL)
    set_str_or_null (o, detail_member, detail);
  g_ptr_array_add (actions, o);
}

/* One notify action for several alerts (same group key and channels). */
typedef struct
{
  char *kind;
  char *group_key;
  char **channels;
  guint escalation_level;
  GPtrArray *alerts; /* Alert*, borrowed */
} Batch;

static void
batch_free (gpointer p)
{
  Batch *b = p;

  g_free (b->kind);
  g_free (b->group_key);
  g_strfreev (b->channels);
  g_ptr_array_unref (b->alerts);
  g_free (b);
}

static void
batch_add (GPtrArray *batches,
           const char *kind,
           const char *group_key,
           const char *const *channels,
           guint level,
           Alert *a)
{
  Batch *b;

  for (guint i = 0; i < batches->len; i++)
    {
      b = g_ptr_array_index (batches, i);
      if (g_str_equal (b->kind, kind) && g_str_equal (b->group_key, group_key)
          && b->escalation_level == level
          && g_strv_equal ((const char *const *)b->channels, channels))
        {
          g_ptr_array_add (b->alerts, a);
          return;
        }
    }
  b = g_new0 (Batch, 1);
  b->kind = g_strdup (kind);
  b->group_key = g_strdup (group_key);
  b->channels = g_strdupv ((char **)channels);
  b->escalation_level = level;
  b->alerts = g_ptr_array_new ();
  g_ptr_array_add (b->alerts, a);
  g_ptr_array_add (batches, b);
}

static JsonObject *
notify_action (const char *kind,
               const char *group_key,
               const char *const *channels,
               guint escalation_level,
               GPtrArray *alerts)
{
  JsonObject *o = json_object_new ();
  JsonArray *ids = json_array_new ();
  JsonArray *snaps = json_array_new ();

  json_object_set_string_member (o, "action", "notify");
  json_object_set_string_member (o, "kind", kind);
  json_object_set_string_member (o, "group_key", group_key);
  set_strv (o, "channels", channels);
  if (escalation_level > 0)
    json_object_set_int_member (o, "escalation_level", escalation_level);
  for (guint i = 0; i < alerts->len; i++)
    {
      Alert *a = g_ptr_array_index (alerts, i);

      json_array_add_string_element (ids, a->id);
      json_array_add_object_element (snaps, alert_snapshot (a));
    }
  json_object_set_array_member (o, "alert_ids", ids);
  json_object_set_array_member (o, "alerts", snaps);
  return o;
}

static void
emit_batches (GPtrArray *actions, GPtrArray *batches)
{
  for (guint i = 0; i < batches->len; i++)
    {
      Batch *b = g_ptr_array_index (batches, i);

      g_ptr_array_add (actions,
                       notify_action (b->kind, b->group_key, (const char *const *)b->channels,
                                      b->escalation_level, b->alerts));
    }
}

/* ---- silences ---- */

void
tsq_alert_silence_free (TsqAlertSilence *s)
{
  if (s == NULL)
    return;
  g_free (s->id);
  g_free (s->monitor_id);
  g_free (s->monitor_name);
  g_free (s->rule);
  g_free (s->type);
  g_clear_pointer (&s->type_spec, g_pattern_spec_free);
  g_free (s->subject_regex_text);
  g_clear_pointer (&s->subject_regex, g_regex_unref);
  g_free (s->created_by);
  g_free (s->comment);
  g_free (s);
}

static gboolean
silence_string (JsonObject *obj, const char *member, char **out, GError **error)
{
  JsonNode *n = json_object_get_member (obj, member);

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING
      || strlen (json_node_get_string (n)) > 4096)
    {
      g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                   "silence.%s: expected a string", member);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

TsqAlertSilence *
tsq_alert_silence_from_json (JsonObject *obj, GError **error)
{
  g_autoptr (TsqAlertSilence) s = g_new0 (TsqAlertSilence, 1);
  g_autofree char *severity = NULL;
  JsonObject *m;

  if (obj == NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "silence: expected an object");
      return NULL;
    }
  if (!silence_string (obj, "id", &s->id, error)
      || !silence_string (obj, "created_by", &s->created_by, error)
      || !silence_string (obj, "comment", &s->comment, error))
    return NULL;
  if (s->id == NULL)
    s->id = g_uuid_string_random ();
  m = tsq_json_get_object (obj, "matchers");
  if (m == NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "silence.matchers: expected an object");
      return NULL;
    }
  {
    g_autoptr (GList) members = json_object_get_members (m);
    static const char *const allowed[]
      = { "monitor_id", "monitor_name", "rule", "type", "subject_regex", "severity", NULL };

    for (GList *l = members; l != NULL; l = l->next)
      if (!g_strv_contains (allowed, l->data))
        {
          g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                       "silence.matchers.%s: unknown matcher", (const char *)l->data);
          return NULL;
        }
  }
  if (!silence_string (m, "monitor_id", &s->monitor_id, error)
      || !silence_string (m, "monitor_name", &s->monitor_name, error)
      || !silence_string (m, "rule", &s->rule, error)
      || !silence_string (m, "type", &s->type, error)
      || !silence_string (m, "subject_regex", &s->subject_regex_text, error)
      || !silence_string (m, "severity", &severity, error))
    return NULL;
  if (s->monitor_id == NULL && s->monitor_name == NULL && s->rule == NULL && s->type == NULL
      && s->subject_regex_text == NULL && severity == NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "silence.matchers: at least one matcher is required");
      return NULL;
    }
  if (s->type != NULL)
    s->type_spec = g_pattern_spec_new (s->type);
  if (s->subject_regex_text != NULL)
    {
      g_autoptr (GError) local = NULL;

      s->subject_regex = g_regex_new (s->subject_regex_text, 0, 0, &local);
      if (s->subject_regex == NULL)
        {
          g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                       "silence.matchers.subject_regex: %s", local->message);
          return NULL;
        }
    }
  if (severity != NULL)
    {
      if (!tsq_alert_severity_from_string (severity, &s->severity))
        {
          g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                       "silence.matchers.severity: unknown severity \"%s\"", severity);
          return NULL;
        }
      s->has_severity = TRUE;
    }
  if (!parse_time (obj, "starts_at", &s->starts_at, error)
      || !parse_time (obj, "ends_at", &s->ends_at, error))
    return NULL;
  if (s->ends_at == 0 || s->ends_at <= s->starts_at)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "silence.ends_at: must be after starts_at");
      return NULL;
    }
  return g_steal_pointer (&s);
}

JsonObject *
tsq_alert_silence_to_json (TsqAlertSilence *s)
{
  JsonObject *o = json_object_new ();
  JsonObject *m = json_object_new ();

  json_object_set_string_member (o, "id", s->id);
  if (s->monitor_id != NULL)
    json_object_set_string_member (m, "monitor_id", s->monitor_id);
  if (s->monitor_name != NULL)
    json_object_set_string_member (m, "monitor_name", s->monitor_name);
  if (s->rule != NULL)
    json_object_set_string_member (m, "rule", s->rule);
  if (s->type != NULL)
    json_object_set_string_member (m, "type", s->type);
  if (s->subject_regex_text != NULL)
    json_object_set_string_member (m, "subject_regex", s->subject_regex_text);
  if (s->has_severity)
    json_object_set_string_member (m, "severity", tsq_alert_severity_to_string (s->severity));
  json_object_set_object_member (o, "matchers", m);
  json_object_set_int_member (o, "starts_at", s->starts_at);
  json_object_set_int_member (o, "ends_at", s->ends_at);
  set_str_or_null (o, "created_by", s->created_by);
  set_str_or_null (o, "comment", s->comment);
  return o;
}

const char *
tsq_alert_silence_get_id (TsqAlertSilence *s)
{
  return s->id;
}

gboolean
tsq_alert_silence_is_active (TsqAlertSilence *s, gint64 now_us)
{
  return s->starts_at <= now_us && now_us < s->ends_at;
}

static gboolean
silence_matches_fields (TsqAlertSilence *s,
                        const char *monitor_id,
                        const char *monitor_name,
                        const char *rule,
                        const char *type,
                        const char *subject,
                        TsqAlertSeverity severity)
{
  if (s->monitor_id != NULL && g_strcmp0 (s->monitor_id, monitor_id) != 0)
    return FALSE;
  if (s->monitor_name != NULL && g_strcmp0 (s->monitor_name, monitor_name) != 0)
    return FALSE;
  if (s->rule != NULL && g_strcmp0 (s->rule, rule) != 0)
    return FALSE;
  if (s->type_spec != NULL && (type == NULL || !g_pattern_spec_match_string (s->type_spec, type)))
    return FALSE;
  if (s->subject_regex != NULL
      && (subject == NULL || !g_regex_match (s->subject_regex, subject, 0, NULL)))
    return FALSE;
  if (s->has_severity && s->severity != severity)
    return FALSE;
  return TRUE;
}

gboolean
tsq_alert_silence_matches (TsqAlertSilence *s, JsonObject *alert)
{
  TsqAlertSeverity sev = TSQ_ALERT_SEVERITY_WARNING;

  tsq_alert_severity_from_string (tsq_json_get_string (alert, "severity", NULL), &sev);
  return silence_matches_fields (
    s, tsq_json_get_string (alert, "monitor_id", NULL),
    tsq_json_get_string (alert, "monitor_name", NULL), tsq_json_get_string (alert, "rule_id", NULL),
    tsq_json_get_string (alert, "type", NULL), tsq_json_get_string (alert, "subject", NULL), sev);
}

/* ---- maintenance windows ---- */

void
tsq_alert_maintenance_free (TsqAlertMaintenance *w)
{
  if (w == NULL)
    return;
  g_free (w->id);
  g_free (w->monitor_id);
  g_clear_pointer (&w->schedule, tsq_schedule_unref);
  g_free (w->cron);
  g_free (w->timezone);
  g_free (w);
}

TsqAlertMaintenance *
tsq_alert_maintenance_from_json (JsonObject *obj, GError **error)
{
  g_autoptr (TsqAlertMaintenance) w = g_new0 (TsqAlertMaintenance, 1);
  const char *cron;

  if (obj == NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "maintenance: expected an object");
      return NULL;
    }
  if (!silence_string (obj, "id", &w->id, error)
      || !silence_string (obj, "monitor_id", &w->monitor_id, error)
      || !silence_string (obj, "timezone", &w->timezone, error))
    return NULL;
  if (w->monitor_id == NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "maintenance.monitor_id: missing");
      return NULL;
    }
  if (w->id == NULL)
    w->id = g_uuid_string_random ();
  cron = tsq_json_get_string (obj, "cron", NULL);
  if (cron != NULL)
    {
      g_autoptr (GError) local = NULL;
      JsonNode *d = json_object_get_member (obj, "duration_s");
      double dur = -1;

      if (json_object_has_member (obj, "starts_at") || json_object_has_member (obj, "ends_at"))
        {
          g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                               "maintenance: \"cron\" and \"starts_at\"/\"ends_at\" are exclusive");
          return NULL;
        }
      w->schedule = tsq_schedule_new_cron (cron, w->timezone, &local);
      if (w->schedule == NULL)
        {
          g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                       "maintenance.cron: %s", local->message);
          return NULL;
        }
      w->cron = g_strdup (cron);
      if (d != NULL && JSON_NODE_HOLDS_VALUE (d)
          && (json_node_get_value_type (d) == G_TYPE_INT64
              || json_node_get_value_type (d) == G_TYPE_DOUBLE))
        dur = json_node_get_double (d);
      if (!(dur >= 1 && dur <= 31.0 * 86400))
        {
          g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                               "maintenance.duration_s: expected seconds in [1, 2678400]");
          return NULL;
        }
      w->duration_us = (gint64)(dur * G_USEC_PER_SEC);
      return g_steal_pointer (&w);
    }
  if (w->timezone != NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "maintenance.timezone: only with \"cron\"");
      return NULL;
    }
  if (!parse_time (obj, "starts_at", &w->starts_at, error)
      || !parse_time (obj, "ends_at", &w->ends_at, error))
    return NULL;
  if (w->starts_at == 0 || w->ends_at <= w->starts_at)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "maintenance: needs \"cron\" + \"duration_s\", or \"starts_at\" < "
                           "\"ends_at\"");
      return NULL;
    }
  return g_steal_pointer (&w);
}

JsonObject *
tsq_alert_maintenance_to_json (TsqAlertMaintenance *w)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "id", w->id);
  json_object_set_string_member (o, "monitor_id", w->monitor_id);
  if (w->schedule != NULL)
    {
      json_object_set_string_member (o, "cron", w->cron);
      json_object_set_int_member (o, "duration_s", w->duration_us / G_USEC_PER_SEC);
      set_str_or_null (o, "timezone", w->timezone);
    }
  else
    {
      json_object_set_int_member (o, "starts_at", w->starts_at);
      json_object_set_int_member (o, "ends_at", w->ends_at);
    }
  return o;
}

const char *
tsq_alert_maintenance_get_id (TsqAlertMaintenance *w)
{
  return w->id;
}

const char *
tsq_alert_maintenance_get_monitor_id (TsqAlertMaintenance *w)
{
  return w->monitor_id;
}

gboolean
tsq_alert_maintenance_is_active (TsqAlertMaintenance *w, gint64 now_us, gint64 *ends_us)
{
  gint64 start, end;

  if (w->schedule == NULL)
    {
      start = w->starts_at;
      end = w->ends_at;
    }
  else
    {
      /* now is inside [f, f + d) for an occurrence f exactly when the first occurrence
       * strictly after now - d is at or before now. */
      start = tsq_schedule_next (w->schedule, now_us - w->duration_us, 0);
      if (start == G_MAXINT64)
        return FALSE;
      end = start + w->duration_us;
    }
  if (start <= now_us && now_us < end)
    {
      if (ends_us != NULL)
        *ends_us = end;
      return TRUE;
    }
  return FALSE;
}

/* ---- engine ---- */

void
tsq_alert_engine_config_init (TsqAlertEngineConfig *config)
{
  g_return_if_fail (config != NULL);
  config->group_wait_us = 30 * G_USEC_PER_SEC;
  config->group_interval_us = 5 * 60 * G_USEC_PER_SEC;
  config->repeat_interval_us = G_GINT64_CONSTANT (4) * 3600 * G_USEC_PER_SEC;
  config->flap_scans = 3;
  config->group_by = TSQ_ALERT_GROUP_BY_MONITOR;
  config->default_rules = TRUE;
}

TsqAlertEngine *
tsq_alert_engine_new (const TsqAlertEngineConfig *config)
{
  TsqAlertEngine *self = g_new0 (TsqAlertEngine, 1);

  if (config != NULL)
    self->config = *config;
  else
    tsq_alert_engine_config_init (&self->config);
  if (self->config.group_wait_us < 0)
    self->config.group_wait_us = 0;
  if (self->config.group_interval_us < 0)
    self->config.group_interval_us = 0;
  if (self->config.repeat_interval_us < G_USEC_PER_SEC)
    self->config.repeat_interval_us = G_USEC_PER_SEC;
  if (self->config.group_by == TSQ_ALERT_GROUP_BY_DEFAULT)
    self->config.group_by = TSQ_ALERT_GROUP_BY_MONITOR;
  self->alerts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, alert_free);
  self->by_monitor
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  self->order = g_ptr_array_new ();
  self->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, group_free);
  self->silences
    = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)tsq_alert_silence_free);
  self->windows = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)tsq_alert_maintenance_free);
  self->policies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)tsq_alert_escalation_policy_unref);
  self->rule_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, rule_cache_free);
  self->scans = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->flaps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, flap_free);
  self->global_rules = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_alert_rule_unref);
  self->default_rules = tsq_alert_rules_get_defaults ();
  self->id_func = default_id;
  return self;
}

void
tsq_alert_engine_free (TsqAlertEngine *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->by_key);
  g_hash_table_unref (self->by_monitor);
  g_ptr_array_unref (self->order);
  g_hash_table_unref (self->alerts);
  g_hash_table_unref (self->groups);
  g_hash_table_unref (self->silences);
  g_hash_table_unref (self->windows);
  g_hash_table_unref (self->policies);
  g_hash_table_unref (self->rule_cache);
  g_hash_table_unref (self->scans);
  g_hash_table_unref (self->flaps);
  g_ptr_array_unref (self->global_rules);
  g_ptr_array_unref (self->default_rules);
  g_free (self);
}

void
tsq_alert_engine_set_id_func (TsqAlertEngine *self, TsqAlertIdFunc func, gpointer user_data)
{
  self->id_func = func != NULL ? func : default_id;
  self->id_data = user_data;
}

void
tsq_alert_engine_set_global_rules (TsqAlertEngine *self, GPtrArray *rules)
{
  g_ptr_array_set_size (self->global_rules, 0);
  for (guint i = 0; rules != NULL && i < rules->len; i++)
    g_ptr_array_add (self->global_rules, tsq_alert_rule_ref (g_ptr_array_index (rules, i)));
}

void
tsq_alert_engine_add_escalation_policy (TsqAlertEngine *self, TsqAlertEscalationPolicy *policy)
{
  g_hash_table_replace (self->policies, g_strdup (tsq_alert_escalation_policy_get_name (policy)),
                        tsq_alert_escalation_policy_ref (policy));
}

gboolean
tsq_alert_engine_check_rules (TsqAlertEngine *self,
                              GPtrArray *rules,
                              const char *path,
                              GError **error)
{
  for (guint i = 0; rules != NULL && i < rules->len; i++)
    {
      TsqAlertRule *r = g_ptr_array_index (rules, i);
      const char *esc = tsq_alert_rule_get_escalation (r);

      if (esc != NULL && !g_hash_table_contains (self->policies, esc))
        {
          g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                       "%s[%u].escalation: unknown escalation policy \"%s\"",
                       path != NULL ? path : "rules", i, esc);
          return FALSE;
        }
    }
  return TRUE;
}

static GPtrArray *
monitor_rules (TsqAlertEngine *self, TsqMonitor *monitor)
{
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;
  RuleCache *c;

  if (monitor->alert_rules == NULL || json_array_get_length (monitor->alert_rules) == 0)
    return NULL;
  node = json_node_init_array (json_node_alloc (), monitor->alert_rules);
  text = tsq_json_to_string (node, FALSE);
  c = g_hash_table_lookup (self->rule_cache, monitor->id);
  if (c == NULL || !g_str_equal (c->text, text))
    {
      g_autoptr (GError) error = NULL;
      GPtrArray *rules = tsq_alert_rules_from_json (monitor->alert_rules, "alert_rules", &error);

      if (rules == NULL)
        {
          g_message ("monitor %s: alert rules ignored: %s", monitor->id, error->message);
          rules = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_alert_rule_unref);
        }
      c = g_new0 (RuleCache, 1);
      c->text = g_steal_pointer (&text);
      c->rules = rules;
      g_hash_table_replace (self->rule_cache, g_strdup (monitor->id), c);
    }
  return c->rules;
}

/* ---- suppression ---- */

static Alert *
find_inhibitor (TsqAlertEngine *self, Alert *a)
{
  GPtrArray *list = g_hash_table_lookup (self->by_monitor, a->monitor_id);

  if (g_str_has_prefix (a->type, "availability.") || list == NULL)
    return NULL;
  /* The oldest open down alert of the monitor. */
  for (guint i = 0; i < list->len; i++)
    {
      Alert *d = g_ptr_array_index (list, i);

      if (d != a && !d->resolved && g_str_equal (d->type, "availability.down"))
        return d;
    }
  return NULL;
}

/* Maintenance, then silences, then inhibition. Returns the reason or NULL; *detail_member /
 * *detail name the window, silence or inhibiting alert. */
static const char *
suppression (
  TsqAlertEngine *self, Alert *a, gint64 now, const char **detail_member, const char **detail)
{
  GHashTableIter it;
  gpointer v;
  const char *best = NULL;
  Alert *inhibitor;

  g_hash_table_iter_init (&it, self->windows);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      TsqAlertMaintenance *w = v;

      if (g_str_equal (w->monitor_id, a->monitor_id)
          && tsq_alert_maintenance_is_active (w, now, NULL)
          && (best == NULL || strcmp (w->id, best) < 0))
        best = w->id;
    }
  if (best != NULL)
    {
      *detail_member = "window_id";
      *detail = best;
      return "maintenance";
    }
  g_hash_table_iter_init (&it, self->silences);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      TsqAlertSilence *s = v;

      if (tsq_alert_silence_is_active (s, now)
          && silence_matches_fields (s, a->monitor_id, a->monitor_name, a->rule_id, a->type,
                                     a->subject, a->severity)
          && (best == NULL || strcmp (s->id, best) < 0))
        best = s->id;
    }
  if (best != NULL)
    {
      *detail_member = "silence_id";
      *detail = best;
      return "silence";
    }
  inhibitor = find_inhibitor (self, a);
  if (inhibitor != NULL)
    {
      *detail_member = "inhibited_by";
      *detail = inhibitor->id;
      return "inhibited";
    }
  *detail_member = NULL;
  *detail = NULL;
  return NULL;
}

/* Checks suppression; emits a "suppressed" action and returns TRUE when suppressed. */
static gboolean
check_suppressed (
  TsqAlertEngine *self, Alert *a, gint64 now, const char *during, GPtrArray *actions)
{
  const char *member, *detail;
  const char *reason = suppression (self, a, now, &member, &detail);

  if (reason == NULL)
    return FALSE;
  if (g_str_equal (reason, "inhibited"))
    {
      g_free (a->inhibited_by);
      a->inhibited_by = g_strdup (detail);
    }
  emit_suppressed (actions, a, reason, during, member, detail);
  return TRUE;
}

/* ---- groups ---- */

static Group *
group_for (TsqAlertEngine *self, const char *group_key, const char *const *channels)
{
  g_autofree char *joined = strv_join (channels);
  g_autofree char *key = g_strdup_printf ("%s\x1f%s", group_key, joined);
  Group *g = g_hash_table_lookup (self->groups, key);

  if (g == NULL)
    {
      g = g_new0 (Group, 1);
      g->key = g_steal_pointer (&key);
      g->group_key = g_strdup (group_key);
      g->channels = g_strdupv ((char **)channels);
      g->pending = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (self->groups, g->key, g);
    }
  return g;
}

/* Queues the alert's first notification in its group (Alertmanager's group_wait /
 * group_interval). */
static void
queue_notify (TsqAlertEngine *self, Alert *a, gint64 now)
{
  Group *g = group_for (self, a->group_key, first_channels (self, a));

  if (a->pending)
    return;
  if (g->pending->len == 0)
    {
      if (g->last_flush_at == 0 || now - g->last_flush_at >= self->config.group_interval_us)
        g->due_at = now + self->config.group_wait_us;
      else
        g->due_at = g->last_flush_at + self->config.group_interval_us;
    }
  g_ptr_array_add (g->pending, g_strdup (a->id));
  a->pending = TRUE;
  g_clear_pointer (&a->suppressed, g_free);
  g_clear_pointer (&a->inhibited_by, g_free);
}

static void
unqueue (TsqAlertEngine *self, Alert *a)
{
  GHashTableIter it;
  gpointer v;

  if (!a->pending)
    return;
  g_hash_table_iter_init (&it, self->groups);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      Group *g = v;

      for (guint i = 0; i < g->pending->len; i++)
        if (g_str_equal (g_ptr_array_index (g->pending, i), a->id))
          {
            g_ptr_array_remove_index (g->pending, i);
            break;
          }
    }
  a->pending = FALSE;
}

static void
mark_notified (Alert *a, const char *const *channels, gint64 now)
{
  a->last_notified_at = now;
  a->notify_count++;
  notified_add (a, channels);
}

static int
compare_group_due (gconstpointer a, gconstpointer b)
{
  const Group *x = *(Group *const *)a;
  const Group *y = *(Group *const *)b;

  if (x->due_at != y->due_at)
    return x->due_at < y->due_at ? -1 : 1;
  return strcmp (x->key, y->key);
}

static void
flush_groups (TsqAlertEngine *self, gint64 now, GPtrArray *actions)
{
  g_autoptr (GPtrArray) due = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, self->groups);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      Group *g = v;

      if (g->pending->len > 0 && g->due_at <= now)
        g_ptr_array_add (due, g);
    }
  g_ptr_array_sort (due, compare_group_due);
  for (guint i = 0; i < due->len; i++)
    {
      Group *g = g_ptr_array_index (due, i);
      g_autoptr (GPtrArray) send = g_ptr_array_new ();
      g_autoptr (GPtrArray) ids = g_steal_pointer (&g->pending);

      g->pending = g_ptr_array_new_with_free_func (g_free);
      for (guint k = 0; k < ids->len; k++)
        {
          Alert *a = g_hash_table_lookup (self->alerts, g_ptr_array_index (ids, k));

          if (a == NULL || !a->pending)
            continue;
          a->pending = FALSE;
          if (a->acked || a->last_notified_at != 0)
            continue;
          if (check_suppressed (self, a, now, "flush", actions))
            continue;
          mark_notified (a, (const char *const *)g->channels, now);
          if (a->escalation != NULL && alert_policy (self, a) != NULL)
            {
              a->escalation_level = 1;
              a->escalation_round = 0;
              a->escalated_at = now;
            }
          g_ptr_array_add (send, a);
        }
      if (send->len == 0)
        continue;
      g_ptr_array_sort (send, compare_alert_seq);
      g->last_flush_at = now;
      g_ptr_array_add (actions, notify_action ("triggered", g->group_key,
                                               (const char *const *)g->channels, 0, send));
    }
}

/* ---- resolution ---- */

static void
remove_alert (TsqAlertEngine *self, Alert *a)
{
  g_autofree char *key = alert_key (a->monitor_id, a->rule_id, a->subject);

  unqueue (self, a);
  if (g_hash_table_lookup (self->by_key, key) == a)
    g_hash_table_remove (self->by_key, key);
  index_remove (self, a);
  g_hash_table_remove (self->alerts, a->id);
}

/* Inhibited alerts of the monitor that are still open are notified (through their group)
 * once the inhibiting down alert is gone. */
static void
release_inhibited (TsqAlertEngine *self, Alert *down, gint64 now)
{
  g_autoptr (GPtrArray) list = sorted_alerts (self, down->monitor_id);

  for (guint i = 0; i < list->len; i++)
    {
      Alert *a = g_ptr_array_index (list, i);

      if (a == down || a->resolved || g_strcmp0 (a->inhibited_by, down->id) != 0)
        continue;
      g_clear_pointer (&a->inhibited_by, g_free);
      if (!a->acked && a->last_notified_at == 0 && !a->flapping)
        queue_notify (self, a, now);
    }
}

/* Resolves `a` (auto or by hand) and forgets it; `batches` collects resolved notifications. */
static void
resolve_alert (TsqAlertEngine *self,
               Alert *a,
               const char *by,
               gint64 now,
               gboolean by_change,
               GPtrArray *actions,
               GPtrArray *batches)
{
  gboolean was_pending = a->pending && a->last_notified_at == 0;
  gint64 scan = *scan_counter (self, a->monitor_id);
  JsonObject *o;

  unqueue (self, a);
  a->resolved = TRUE;
  a->resolved_at = now;
  g_free (a->resolved_by);
  a->resolved_by = g_strdup (by);
  o = action_for ("resolve", a);
  json_object_set_int_member (o, "resolved_at", now);
  json_object_set_string_member (o, "resolved_by", by);
  g_ptr_array_add (actions, o);

  if (by_change && (was_pending || a->flapping) && a->last_notified_at == 0)
    emit_suppressed (actions, a, "flapping", "resolve", NULL, NULL);
  else if (a->notified_channels->len > 0)
    {
      g_ptr_array_add (a->notified_channels, NULL);
      batch_add (batches, "resolved", a->group_key,
                 (const char *const *)a->notified_channels->pdata, 0, a);
      g_ptr_array_remove_index (a->notified_channels, a->notified_channels->len - 1);
    }

  if (by_change)
    {
      g_autofree char *key = alert_key (a->monitor_id, a->rule_id, a->subject);

      if (scan - a->open_scan <= (gint64)self->config.flap_scans)
        {
          FlapRecord *f = g_new0 (FlapRecord, 1);

          f->monitor_id = g_strdup (a->monitor_id);
          f->resolved_scan = scan;
          g_hash_table_replace (self->flaps, g_steal_pointer (&key), f);
        }
      else
        g_hash_table_remove (self->flaps, key);
    }
  if (g_str_equal (a->type, "availability.down"))
    release_inhibited (self, a, now);
}

/* Emits batched notifications and frees the resolved alerts they reference. */
static void
finish_resolutions (TsqAlertEngine *self,
                    GPtrArray *resolved,
                    GPtrArray *batches,
                    GPtrArray *actions)
{
  emit_batches (actions, batches);
  for (guint i = 0; i < resolved->len; i++)
    remove_alert (self, g_ptr_array_index (resolved, i));
}

static void
resolve_by_change (TsqAlertEngine *self,
                   const char *monitor_id,
                   const char *type,
                   const char *subject,
                   gint64 now,
                   GPtrArray *actions)
{
  g_autoptr (GPtrArray) list = sorted_alerts (self, monitor_id);
  g_autoptr (GPtrArray) resolved = g_ptr_array_new ();
  g_autoptr (GPtrArray) batches = g_ptr_array_new_with_free_func (batch_free);
  g_autofree char *by = g_strdup_printf ("change:%s", type);

  for (guint i = 0; i < list->len; i++)
    {
      Alert *a = g_ptr_array_index (list, i);

      if (!g_str_equal (a->subject, subject)
          || !g_strv_contains ((const char *const *)a->resolve_on, type))
        continue;
      resolve_alert (self, a, by, now, TRUE, actions, batches);
      g_ptr_array_add (resolved, a);
    }
  finish_resolutions (self, resolved, batches, actions);
}

/* ---- triggering ---- */

/* A repeat of an open alert: update it; re-notify (reminder) only after the repeat interval. */
static void
repeat_alert (TsqAlertEngine *self, Alert *a, JsonObject *change, gint64 now, GPtrArray *actions)
{
  JsonObject *o;

  a->count++;
  a->last_seen_at = now;
  g_clear_pointer (&a->change, json_object_unref);
  a->change = json_object_ref (change);
  if (tsq_json_get_int (change, "id", 0) > 0)
    a->change_id = tsq_json_get_int (change, "id", 0);
  o = action_for ("update", a);
  json_object_set_int_member (o, "count", a->count);
  json_object_set_int_member (o, "last_seen_at", now);
  g_ptr_array_add (actions, o);

  if (a->flapping)
    {
      emit_suppressed (actions, a, "flapping", "repeat", NULL, NULL);
      return;
    }
  if (a->acked || a->pending)
    {
      emit_suppressed (actions, a, "dedupe", "repeat", NULL, NULL);
      return;
    }
  if (a->last_notified_at == 0)
    {
      /* Kept from its first notification by a silence, a window or an inhibition: the new
       * occurrence is notified if nothing suppresses it any more. */
      if (a->inhibited_by == NULL && !check_suppressed (self, a, now, "repeat", actions))
        queue_notify (self, a, now);
      else if (a->inhibited_by != NULL)
        emit_suppressed (actions, a, "inhibited", "repeat", "inhibited_by", a->inhibited_by);
      return;
    }
  if (a->escalation != NULL || now - a->last_notified_at < repeat_interval (self, a))
    {
      emit_suppressed (actions, a, "dedupe", "repeat", NULL, NULL);
      return;
    }
  if (check_suppressed (self, a, now, "repeat", actions))
    return;
  {
    g_autoptr (GPtrArray) one = g_ptr_array_new ();

    mark_notified (a, (const char *const *)a->channels, now);
    g_ptr_array_add (one, a);
    g_ptr_array_add (
      actions, notify_action ("reminder", a->group_key, (const char *const *)a->channels, 0, one));
  }
}

static void
trigger (TsqAlertEngine *self,
         TsqMonitor *monitor,
         TsqAlertRule *rule,
         JsonObject *change,
         const char *type,
         const char *subject,
         gint64 now,
         GPtrArray *actions)
{
  g_autofree char *key = alert_key (monitor->id, tsq_alert_rule_get_id (rule), subject);
  Alert *a = g_hash_table_lookup (self->by_key, key);
  TsqAlertGroupBy group_by;
  gint64 scan = *scan_counter (self, monitor->id);
  FlapRecord *flap;
  const char *const *channels;

  if (a != NULL)
    {
      repeat_alert (self, a, change, now, actions);
      return;
    }

  a = g_new0 (Alert, 1);
  a->seq = ++self->seq;
  a->id = self->id_func (self->id_data);
  a->monitor_id = g_strdup (monitor->id);
  a->monitor_name = g_strdup (monitor->name);
  a->monitor_url = g_strdup (monitor->url);
  a->rule_id = g_strdup (tsq_alert_rule_get_id (rule));
  a->type = g_strdup (type);
  a->subject = g_strdup (subject);
  a->severity = tsq_alert_rule_get_severity_for (rule, change);
  a->triggered_at = now;
  a->last_seen_at = now;
  a->count = 1;
  channels = tsq_alert_rule_get_channels (rule);
  a->channels = channels != NULL ? g_strdupv ((char **)channels) : NULL;
  a->escalation = g_strdup (tsq_alert_rule_get_escalation (rule));
  a->resolve_on = g_strdupv ((char **)tsq_alert_rule_get_resolve_on_for (rule, type));
  a->repeat_interval_us = tsq_alert_rule_get_repeat_interval_us (rule);
  group_by = tsq_alert_rule_get_group_by (rule);
  if (group_by == TSQ_ALERT_GROUP_BY_DEFAULT)
    group_by = self->config.group_by;
  a->group_key = group_by == TSQ_ALERT_GROUP_BY_RULE
                   ? g_strdup_printf ("rule:%s", a->rule_id)
                   : g_strdup_printf ("monitor:%s", a->monitor_id);
  a->notified_channels = g_ptr_array_new_with_free_func (g_free);
  a->change = json_object_ref (change);
  a->change_id = tsq_json_get_int (change, "id", 0);
  a->open_scan = scan;
  if (a->escalation != NULL && !g_hash_table_contains (self->policies, a->escalation))
    g_message ("alert rule %s: unknown escalation policy %s, notifying channel \"default\"",
               a->rule_id, a->escalation);

  g_hash_table_insert (self->alerts, a->id, a);
  index_add (self, a);
  g_hash_table_insert (self->by_key, g_steal_pointer (&key), a);
  g_ptr_array_add (actions, action_for ("open", a));

  {
    g_autofree char *k2 = alert_key (a->monitor_id, a->rule_id, a->subject);

    flap = g_hash_table_lookup (self->flaps, k2);
  }
  /* Re-triggered within flap_scans scans of its revert: flapping (docs/alerts.md). */
  if (flap != NULL && scan - flap->resolved_scan <= (gint64)self->config.flap_scans)
    a->flapping = TRUE;
  if (check_suppressed (self, a, now, "trigger", actions))
    return;
  if (a->flapping)
    {
      emit_suppressed (actions, a, "flapping", "trigger", NULL, NULL);
      return;
    }
  queue_notify (self, a, now);
}

static gboolean
validate_change (JsonObject *change, GError **error)
{
  JsonNode *t = change != NULL ? json_object_get_member (change, "type") : NULL;
  JsonNode *s = change != NULL ? json_object_get_member (change, "subject") : NULL;

  if (t == NULL || !JSON_NODE_HOLDS_VALUE (t) || json_node_get_value_type (t) != G_TYPE_STRING)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "change.type: expected a string");
      return FALSE;
    }
  if (s != NULL && !JSON_NODE_HOLDS_NULL (s)
      && (!JSON_NODE_HOLDS_VALUE (s) || json_node_get_value_type (s) != G_TYPE_STRING))
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "change.subject: expected a string or null");
      return FALSE;
    }
  return TRUE;
}

static gboolean
process_one (TsqAlertEngine *self,
             TsqMonitor *monitor,
             JsonObject *change,
             gint64 now,
             GPtrArray *actions,
             GError **error)
{
  GPtrArray *lists[3];
  const char *type;
  const char *subject;

  if (!validate_change (change, error))
    return FALSE;
  type = tsq_json_get_string (change, "type", NULL);
  subject = tsq_json_get_string (change, "subject", "");
  if (subject == NULL)
    subject = "";

  resolve_by_change (self, monitor->id, type, subject, now, actions);

  lists[0] = monitor_rules (self, monitor);
  lists[1] = self->global_rules;
  lists[2] = self->config.default_rules ? self->default_rules : NULL;
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
      {
        TsqAlertRule *rule = g_ptr_array_index (lists[l], i);

        if (!tsq_alert_rule_matches (rule, change))
          continue;
        if (tsq_alert_rule_get_drop (rule))
          return TRUE;
        trigger (self, monitor, rule, change, type, subject, now, actions);
        if (!tsq_alert_rule_get_continue (rule))
          return TRUE;
      }
  return TRUE;
}

static gboolean
check_monitor (TsqMonitor *monitor, GError **error)
{
  if (monitor == NULL || monitor->id == NULL)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "a monitor with an id is required");
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
tsq_alert_engine_process_change (
  TsqAlertEngine *self, TsqMonitor *monitor, JsonObject *change, gint64 now_us, GError **error)
{
  g_autoptr (GPtrArray) actions
    = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);

  g_return_val_if_fail (self != NULL, NULL);
  if (!check_monitor (monitor, error)
      || !process_one (self, monitor, change, now_us, actions, error))
    return NULL;
  return g_steal_pointer (&actions);
}

GPtrArray *
tsq_alert_engine_process_scan (
  TsqAlertEngine *self, TsqMonitor *monitor, JsonArray *changes, gint64 now_us, GError **error)
{
  g_autoptr (GPtrArray) actions
    = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  g_autoptr (GPtrArray) list = NULL;
  GHashTableIter it;
  gpointer k, v;
  gint64 scan;

  g_return_val_if_fail (self != NULL, NULL);
  if (!check_monitor (monitor, error))
    return NULL;
  /* Validate everything first so that a bad change does not leave half a scan applied. */
  for (guint i = 0; changes != NULL && i < json_array_get_length (changes); i++)
    {
      JsonNode *n = json_array_get_element (changes, i);

      if (!JSON_NODE_HOLDS_OBJECT (n) || !validate_change (json_node_get_object (n), error))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                         "changes[%u]: expected an object", i);
          return NULL;
        }
    }
  scan = ++*scan_counter (self, monitor->id);
  for (guint i = 0; changes != NULL && i < json_array_get_length (changes); i++)
    process_one (self, monitor, json_array_get_object_element (changes, i), now_us, actions, NULL);

  /* A flapping alert that stayed open for flap_scans scans has settled: notify it. */
  list = sorted_alerts (self, monitor->id);
  for (guint i = 0; i < list->len; i++)
    {
      Alert *a = g_ptr_array_index (list, i);

      if (!a->flapping || scan - a->open_scan < (gint64)self->config.flap_scans)
        continue;
      a->flapping = FALSE;
      g_clear_pointer (&a->suppressed, g_free);
      if (!a->acked && a->last_notified_at == 0
          && !check_suppressed (self, a, now_us, "trigger", actions))
        queue_notify (self, a, now_us);
    }
  /* Flap memory older than flap_scans scans is forgotten. */
  g_hash_table_iter_init (&it, self->flaps);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      FlapRecord *f = v;

      if (g_str_equal (f->monitor_id, monitor->id)
          && scan - f->resolved_scan > (gint64)self->config.flap_scans)
        g_hash_table_iter_remove (&it);
    }
  return g_steal_pointer (&actions);
}

/* ---- tick ---- */

static void
release_suppressed (TsqAlertEngine *self, gint64 now, GPtrArray *actions)
{
  GPtrArray *list = self->order; /* nothing is removed while walking it */

  for (guint i = 0; i < list->len; i++)
    {
      Alert *a = g_ptr_array_index (list, i);
      const char *member, *detail;

      /* Only conditions (alerts that a change can clear) outlive a silence or a window: an
       * event seen during maintenance was expected. */
      if (a->acked || a->pending || a->last_notified_at != 0 || a->flapping
          || a->inhibited_by != NULL || !is_condition (a))
        continue;
      if (suppression (self, a, now, &member, &detail) == NULL)
        queue_notify (self, a, now);
    }
}

static void
escalate (TsqAlertEngine *self, gint64 now, GPtrArray *actions)
{
  GPtrArray *list = self->order; /* nothing is removed while walking it */
  g_autoptr (GPtrArray) batches = g_ptr_array_new_with_free_func (batch_free);

  for (guint i = 0; i < list->len; i++)
    {
      Alert *a = g_ptr_array_index (list, i);
      TsqAlertEscalationPolicy *p = alert_policy (self, a);
      guint n, level, round;
      const char *const *channels;

      if (p == NULL || a->acked || a->escalation_level == 0)
        continue;
      n = tsq_alert_escalation_policy_get_n_levels (p);
      level = MIN (a->escalation_level, n);
      if (now < a->escalated_at + tsq_alert_escalation_policy_get_delay_us (p, level))
        continue;
      round = a->escalation_round;
      if (level < n)
        level++;
      else if (round < tsq_alert_escalation_policy_get_repeat (p))
        level = 1, round++;
      else
        continue; /* exhausted */
      a->escalation_level = level;
      a->escalation_round = round;
      a->escalated_at = now;
      if (check_suppressed (self, a, now, "escalation", actions))
        continue;
      channels = tsq_alert_escalation_policy_get_channels (p, level);
      mark_notified (a, channels, now);
      batch_add (batches, "escalated", a->group_key, channels, level, a);
    }
  emit_batches (actions, batches);
}

static gint64
reminder_due (TsqAlertEngine *self, Alert *a)
{
  if (a->acked || a->escalation != NULL || a->last_notified_at == 0 || !is_condition (a))
    return G_MAXINT64;
  return MAX (a->last_notified_at, a->reminder_checked_at) + repeat_interval (self, a);
}

static void
remind (TsqAlertEngine *self, gint64 now, GPtrArray *actions)
{
  GPtrArray *list = self->order; /* nothing is removed while walking it */
  g_autoptr (GPtrArray) batches = g_ptr_array_new_with_free_func (batch_free);

  for (guint i = 0; i < list->len; i++)
    {
      Alert *a = g_ptr_array_index (list, i);

      if (reminder_due (self, a) > now)
        continue;
      a->reminder_checked_at = now;
      if (check_suppressed (self, a, now, "reminder", actions))
        continue;
      mark_notified (a, (const char *const *)a->channels, now);
      batch_add (batches, "reminder", a->group_key, (const char *const *)a->channels, 0, a);
    }
  emit_batches (actions, batches);
}

GPtrArray *
tsq_alert_engine_tick (TsqAlertEngine *self, gint64 now_us)
{
  GPtrArray *actions = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);

  g_return_val_if_fail (self != NULL, actions);
  release_suppressed (self, now_us, actions);
  flush_groups (self, now_us, actions);
  escalate (self, now_us, actions);
  remind (self, now_us, actions);
  return actions;
}

gint64
tsq_alert_engine_next_due (TsqAlertEngine *self)
{
  gint64 next = G_MAXINT64;
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, self->groups);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      Group *g = v;

      if (g->pending->len > 0)
        next = MIN (next, g->due_at);
    }
  g_hash_table_iter_init (&it, self->alerts);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      Alert *a = v;
      TsqAlertEscalationPolicy *p = alert_policy (self, a);

      next = MIN (next, reminder_due (self, a));
      if (p != NULL && !a->acked && a->escalation_level > 0)
        {
          guint n = tsq_alert_escalation_policy_get_n_levels (p);
          guint level = MIN (a->escalation_level, n);

          if (level < n || a->escalation_round < tsq_alert_escalation_policy_get_repeat (p))
            next
              = MIN (next, a->escalated_at + tsq_alert_escalation_policy_get_delay_us (p, level));
        }
    }
  return next;
}

/* ---- ack / resolve ---- */

static Alert *
lookup_open (TsqAlertEngine *self, const char *alert_id, GError **error)
{
  Alert *a = alert_id != NULL ? g_hash_table_lookup (self->alerts, alert_id) : NULL;

  if (a == NULL)
    g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_NOT_FOUND,
                 "no open alert with id %s", alert_id != NULL ? alert_id : "(null)");
  return a;
}

GPtrArray *
tsq_alert_engine_ack (
  TsqAlertEngine *self, const char *alert_id, const char *who, gint64 now_us, GError **error)
{
  GPtrArray *actions;
  Alert *a = lookup_open (self, alert_id, error);
  JsonObject *o;

  if (a == NULL)
    return NULL;
  if (a->acked)
    {
      g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_STATE,
                   "alert %s is already acknowledged", alert_id);
      return NULL;
    }
  unqueue (self, a); /* acknowledged before anyone was told: nobody needs to be */
  a->acked = TRUE;
  a->acknowledged_at = now_us;
  g_free (a->acknowledged_by);
  a->acknowledged_by = g_strdup (who);
  actions = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  o = action_for ("ack", a);
  set_str_or_null (o, "acknowledged_by", who);
  json_object_set_int_member (o, "acknowledged_at", now_us);
  g_ptr_array_add (actions, o);
  return actions;
}

GPtrArray *
tsq_alert_engine_resolve (
  TsqAlertEngine *self, const char *alert_id, const char *who, gint64 now_us, GError **error)
{
  g_autoptr (GPtrArray) resolved = g_ptr_array_new ();
  g_autoptr (GPtrArray) batches = g_ptr_array_new_with_free_func (batch_free);
  g_autofree char *by = g_strdup_printf ("user:%s", who != NULL ? who : "unknown");
  GPtrArray *actions;
  Alert *a = lookup_open (self, alert_id, error);

  if (a == NULL)
    return NULL;
  actions = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  resolve_alert (self, a, by, now_us, FALSE, actions, batches);
  g_ptr_array_add (resolved, a);
  finish_resolutions (self, resolved, batches, actions);
  return actions;
}

GPtrArray *
tsq_alert_engine_list_alerts (TsqAlertEngine *self)
{
  g_autoptr (GPtrArray) list = sorted_alerts (self, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);

  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (out, alert_snapshot (g_ptr_array_index (list, i)));
  return out;
}

JsonObject *
tsq_alert_engine_get_alert (TsqAlertEngine *self, const char *alert_id)
{
  Alert *a = alert_id != NULL ? g_hash_table_lookup (self->alerts, alert_id) : NULL;

  return a != NULL ? alert_snapshot (a) : NULL;
}

/* ---- loading ---- */

static gboolean
invalid_row (GError **error, const char *member)
{
  g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
               "alert.%s: missing or invalid", member);
  return FALSE;
}

gboolean
tsq_alert_engine_load_alert (TsqAlertEngine *self, JsonObject *row, GError **error)
{
  g_autoptr (JsonObject) merged = NULL;
  JsonObject *payload;
  const char *state, *s;
  g_autofree char *id = NULL;
  Alert *a;
  JsonNode *n;
  g_autofree char *key = NULL;
  Alert *old;

  if (row == NULL)
    return invalid_row (error, "(object)");
  /* A monitoring_alerts row: the snapshot is the payload; the columns win. */
  payload = tsq_json_get_object (row, "payload");
  merged = json_object_new ();
  if (payload != NULL)
    {
      g_autoptr (GList) members = json_object_get_members (payload);

      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (merged, l->data,
                                json_node_copy (json_object_get_member (payload, l->data)));
    }
  {
    g_autoptr (GList) members = json_object_get_members (row);

    for (GList *l = members; l != NULL; l = l->next)
      {
        JsonNode *v = json_object_get_member (row, l->data);

        if (g_str_equal (l->data, "payload"))
          continue;
        /* The row's integer id is the storage's; the engine's id is the payload's. */
        if (g_str_equal (l->data, "id") && payload != NULL
            && json_object_has_member (payload, "id"))
          continue;
        if (JSON_NODE_HOLDS_NULL (v) && json_object_has_member (merged, l->data))
          continue;
        json_object_set_member (merged, l->data, json_node_copy (v));
      }
  }

  state = tsq_json_get_string (merged, "state", "triggered");
  if (g_strcmp0 (state, "resolved") == 0)
    return TRUE;
  if (!g_str_equal (state, "triggered") && !g_str_equal (state, "acknowledged"))
    return invalid_row (error, "state");

  n = json_object_get_member (merged, "id");
  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    id = g_strdup (json_node_get_string (n));
  else if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
  if (id == NULL || *id == '\0')
    return invalid_row (error, "id");

  a = g_new0 (Alert, 1);
  a->id = g_steal_pointer (&id);
  a->notified_channels = g_ptr_array_new_with_free_func (g_free);
  a->acked = g_str_equal (state, "acknowledged");
  a->monitor_id = g_strdup (tsq_json_get_string (merged, "monitor_id", NULL));
  a->monitor_name = g_strdup (tsq_json_get_string (merged, "monitor_name", NULL));
  a->monitor_url = g_strdup (tsq_json_get_string (merged, "monitor_url", NULL));
  a->rule_id = g_strdup (tsq_json_get_string (merged, "rule_id", NULL));
  if (tsq_json_get_object (merged, "change") != NULL)
    a->change = json_object_ref (tsq_json_get_object (merged, "change"));
  s = tsq_json_get_string (merged, "type", NULL);
  if (s == NULL && a->change != NULL)
    s = tsq_json_get_string (a->change, "type", NULL);
  a->type = g_strdup (s);
  s = tsq_json_get_string (merged, "subject", NULL);
  if (s == NULL && a->change != NULL)
    s = tsq_json_get_string (a->change, "subject", NULL);
  a->subject = g_strdup (s != NULL ? s : "");
  if (a->monitor_id == NULL || a->rule_id == NULL || a->type == NULL)
    {
      const char *what = a->monitor_id == NULL ? "monitor_id"
                         : a->rule_id == NULL  ? "rule_id"
                                               : "type";

      alert_free (a);
      return invalid_row (error, what);
    }
  a->severity = TSQ_ALERT_SEVERITY_WARNING;
  tsq_alert_severity_from_string (tsq_json_get_string (merged, "severity", NULL), &a->severity);
  if (!parse_time (merged, "triggered_at", &a->triggered_at, error)
      || !parse_time (merged, "last_seen_at", &a->last_seen_at, error)
      || !parse_time (merged, "acknowledged_at", &a->acknowledged_at, error)
      || !parse_time (merged, "last_notified_at", &a->last_notified_at, error)
      || !parse_time (merged, "escalated_at", &a->escalated_at, error)
      || !parse_time (merged, "reminder_checked_at", &a->reminder_checked_at, error))
    {
      alert_free (a);
      return FALSE;
    }
  if (a->triggered_at == 0)
    {
      alert_free (a);
      return invalid_row (error, "triggered_at");
    }
  if (a->last_seen_at == 0)
    a->last_seen_at = a->triggered_at;
  a->acknowledged_by = g_strdup (tsq_json_get_string (merged, "acknowledged_by", NULL));
  a->count = (guint)CLAMP (tsq_json_get_int (merged, "count", 1), 1, G_MAXUINT);
  a->notify_count = (guint)CLAMP (
    tsq_json_get_int (merged, "notify_count", a->last_notified_at != 0 ? 1 : 0), 0, G_MAXUINT);
  a->escalation = g_strdup (tsq_json_get_string (merged, "escalation", NULL));
  a->channels = get_strv (merged, "channels");
  if (a->channels == NULL && a->escalation == NULL)
    {
      const char *def[] = { "default", NULL };

      a->channels = g_strdupv ((char **)def);
    }
  a->escalation_level = (guint)CLAMP (tsq_json_get_int (merged, "escalation_level", 0), 0, 1000);
  a->escalation_round = (guint)CLAMP (tsq_json_get_int (merged, "escalation_round", 0), 0, 1000);
  if (a->escalation_level > 0 && a->escalated_at == 0)
    a->escalated_at = a->last_notified_at != 0 ? a->last_notified_at : a->triggered_at;
  a->resolve_on = get_strv (merged, "resolve_on");
  if (a->resolve_on == NULL)
    a->resolve_on = g_strdupv ((char **)tsq_alert_default_resolve_on (a->type));
  a->repeat_interval_us = MAX (0, tsq_json_get_int (merged, "repeat_interval_us", 0));
  s = tsq_json_get_string (merged, "group_key", NULL);
  a->group_key = s != NULL ? g_strdup (s) : g_strdup_printf ("monitor:%s", a->monitor_id);
  {
    g_auto (GStrv) nc = get_strv (merged, "notified_channels");

    if (nc != NULL)
      notified_add (a, (const char *const *)nc);
    else if (a->last_notified_at != 0)
      notified_add (a, first_channels (self, a));
  }
  a->change_id = tsq_json_get_int (merged, "change_id", 0);
  a->inhibited_by = g_strdup (tsq_json_get_string (merged, "inhibited_by", NULL));
  a->flapping = tsq_json_get_boolean (merged, "flapping", FALSE);
  a->open_scan = tsq_json_get_int (merged, "open_scan", 0);
  a->suppressed = g_strdup (tsq_json_get_string (merged, "suppressed", NULL));

  old = g_hash_table_lookup (self->alerts, a->id);
  if (old != NULL)
    remove_alert (self, old);
  a->seq = ++self->seq;
  key = alert_key (a->monitor_id, a->rule_id, a->subject);
  old = g_hash_table_lookup (self->by_key, key);
  if (old != NULL)
    {
      /* Two open rows for one key (should not happen): keep the newer one for dedupe. */
      g_hash_table_remove (self->by_key, key);
    }
  g_hash_table_insert (self->alerts, a->id, a);
  index_add (self, a);
  g_hash_table_insert (self->by_key, g_steal_pointer (&key), a);
  {
    gint64 *scan = scan_counter (self, a->monitor_id);

    *scan = MAX (*scan, a->open_scan);
  }

  /* Its first notification was still waiting in a group: wait again, from when it triggered
   * (a due time in the past is flushed at the next tick). */
  if (!a->acked && a->last_notified_at == 0 && a->suppressed == NULL && a->inhibited_by == NULL
      && !a->flapping)
    queue_notify (self, a, a->triggered_at);
  return TRUE;
}

/* ---- save / restore ---- */

/* Keys in a stable order, so that saving the same state twice gives the same text. */
static GPtrArray *
sorted_keys (GHashTable *table)
{
  GPtrArray *keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;

  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (keys, k);
  g_ptr_array_sort (keys, compare_str);
  return keys;
}

JsonNode *
tsq_alert_engine_save (TsqAlertEngine *self)
{
  JsonObject *root = json_object_new ();
  JsonArray *alerts = json_array_new ();
  JsonArray *silences = json_array_new ();
  JsonArray *windows = json_array_new ();
  JsonArray *groups = json_array_new ();
  JsonObject *scans = json_object_new ();
  JsonArray *flaps = json_array_new ();
  g_autoptr (GPtrArray) list = sorted_alerts (self, NULL);
  GPtrArray *keys;

  json_object_set_int_member (root, "version", SNAPSHOT_VERSION);
  for (guint i = 0; i < list->len; i++)
    json_array_add_object_element (alerts, alert_snapshot (g_ptr_array_index (list, i)));
  keys = sorted_keys (self->silences);
  for (guint i = 0; i < keys->len; i++)
    json_array_add_object_element (
      silences, tsq_alert_silence_to_json (g_hash_table_lookup (self->silences, keys->pdata[i])));
  g_ptr_array_unref (keys);
  keys = sorted_keys (self->windows);
  for (guint i = 0; i < keys->len; i++)
    json_array_add_object_element (
      windows, tsq_alert_maintenance_to_json (g_hash_table_lookup (self->windows, keys->pdata[i])));
  g_ptr_array_unref (keys);
  keys = sorted_keys (self->groups);
  for (guint i = 0; i < keys->len; i++)
    {
      Group *g = g_hash_table_lookup (self->groups, keys->pdata[i]);
      JsonObject *o;

      if (g->last_flush_at == 0)
        continue;
      o = json_object_new ();
      json_object_set_string_member (o, "group_key", g->group_key);
      set_strv (o, "channels", (const char *const *)g->channels);
      json_object_set_int_member (o, "last_flush_at", g->last_flush_at);
      json_array_add_object_element (groups, o);
    }
  g_ptr_array_unref (keys);
  keys = sorted_keys (self->scans);
  for (guint i = 0; i < keys->len; i++)
    json_object_set_int_member (scans, keys->pdata[i],
                                *(gint64 *)g_hash_table_lookup (self->scans, keys->pdata[i]));
  g_ptr_array_unref (keys);
  keys = sorted_keys (self->flaps);
  for (guint i = 0; i < keys->len; i++)
    {
      FlapRecord *f = g_hash_table_lookup (self->flaps, keys->pdata[i]);
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "key", keys->pdata[i]);
      json_object_set_string_member (o, "monitor_id", f->monitor_id);
      json_object_set_int_member (o, "resolved_scan", f->resolved_scan);
      json_array_add_object_element (flaps, o);
    }
  g_ptr_array_unref (keys);
  json_object_set_array_member (root, "alerts", alerts);
  json_object_set_array_member (root, "silences", silences);
  json_object_set_array_member (root, "maintenance", windows);
  json_object_set_array_member (root, "groups", groups);
  json_object_set_object_member (root, "scans", scans);
  json_object_set_array_member (root, "flaps", flaps);
  return json_node_init_object (json_node_alloc (), root);
}

gboolean
tsq_alert_engine_restore (TsqAlertEngine *self, JsonNode *state, GError **error)
{
  JsonObject *root;
  JsonArray *arr;
  JsonObject *scans;

  if (state == NULL || !JSON_NODE_HOLDS_OBJECT (state)
      || tsq_json_get_int (json_node_get_object (state), "version", 0) != SNAPSHOT_VERSION)
    {
      g_set_error_literal (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID,
                           "engine state: expected an object of version 1");
      return FALSE;
    }
  root = json_node_get_object (state);
  /* Counters and group timers first: loading alerts re-queues them against these. */
  scans = tsq_json_get_object (root, "scans");
  if (scans != NULL)
    {
      g_autoptr (GList) members = json_object_get_members (scans);

      for (GList *l = members; l != NULL; l = l->next)
        *scan_counter (self, l->data) = tsq_json_get_int (scans, l->data, 0);
    }
  arr = tsq_json_get_array (root, "groups");
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonObject *o = json_array_get_object_element (arr, i);
      g_auto (GStrv) channels = o != NULL ? get_strv (o, "channels") : NULL;
      const char *gk = o != NULL ? tsq_json_get_string (o, "group_key", NULL) : NULL;

      if (gk != NULL && channels != NULL)
        group_for (self, gk, (const char *const *)channels)->last_flush_at
          = tsq_json_get_int (o, "last_flush_at", 0);
    }
  arr = tsq_json_get_array (root, "flaps");
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonObject *o = json_array_get_object_element (arr, i);
      const char *key = o != NULL ? tsq_json_get_string (o, "key", NULL) : NULL;
      const char *mon = o != NULL ? tsq_json_get_string (o, "monitor_id", NULL) : NULL;
      FlapRecord *f;

      if (key == NULL || mon == NULL)
        continue;
      f = g_new0 (FlapRecord, 1);
      f->monitor_id = g_strdup (mon);
      f->resolved_scan = tsq_json_get_int (o, "resolved_scan", 0);
      g_hash_table_replace (self->flaps, g_strdup (key), f);
    }
  arr = tsq_json_get_array (root, "silences");
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      TsqAlertSilence *s
        = tsq_alert_silence_from_json (json_array_get_object_element (arr, i), error);

      if (s == NULL)
        return FALSE;
      tsq_alert_engine_add_silence (self, s);
    }
  arr = tsq_json_get_array (root, "maintenance");
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      TsqAlertMaintenance *w
        = tsq_alert_maintenance_from_json (json_array_get_object_element (arr, i), error);

      if (w == NULL)
        return FALSE;
      tsq_alert_engine_add_maintenance (self, w);
    }
  arr = tsq_json_get_array (root, "alerts");
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    if (!tsq_alert_engine_load_alert (self, json_array_get_object_element (arr, i), error))
      return FALSE;
  return TRUE;
}

/* ---- silences / windows in the engine ---- */

const char *
tsq_alert_engine_add_silence (TsqAlertEngine *self, TsqAlertSilence *silence)
{
  g_hash_table_replace (self->silences, silence->id, silence);
  return silence->id;
}

static int
compare_silence_json (gconstpointer a, gconstpointer b)
{
  JsonObject *x = *(JsonObject *const *)a;
  JsonObject *y = *(JsonObject *const *)b;
  gint64 sx = tsq_json_get_int (x, "starts_at", 0), sy = tsq_json_get_int (y, "starts_at", 0);

  if (sx != sy)
    return sx < sy ? -1 : 1;
  return g_strcmp0 (tsq_json_get_string (x, "id", NULL), tsq_json_get_string (y, "id", NULL));
}

GPtrArray *
tsq_alert_engine_list_silences (TsqAlertEngine *self, gboolean include_expired, gint64 now_us)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, self->silences);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      TsqAlertSilence *s = v;

      if (include_expired || now_us < s->ends_at)
        g_ptr_array_add (out, tsq_alert_silence_to_json (s));
    }
  g_ptr_array_sort (out, compare_silence_json);
  return out;
}

gboolean
tsq_alert_engine_expire_silence (TsqAlertEngine *self,
                                 const char *silence_id,
                                 gint64 now_us,
                                 GError **error)
{
  TsqAlertSilence *s = silence_id != NULL ? g_hash_table_lookup (self->silences, silence_id) : NULL;

  if (s == NULL)
    {
      g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_NOT_FOUND,
                   "no silence with id %s", silence_id != NULL ? silence_id : "(null)");
      return FALSE;
    }
  if (s->ends_at <= now_us)
    {
      g_set_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_STATE,
                   "silence %s has already expired", silence_id);
      return FALSE;
    }
  s->ends_at = now_us;
  if (s->starts_at > now_us)
    s->starts_at = now_us; /* a future silence expired before it began */
  return TRUE;
}

void
tsq_alert_engine_add_maintenance (TsqAlertEngine *self, TsqAlertMaintenance *window)
{
  g_hash_table_replace (self->windows, window->id, window);
}

gboolean
tsq_alert_engine_remove_maintenance (TsqAlertEngine *self, const char *window_id)
{
  return window_id != NULL && g_hash_table_remove (self->windows, window_id);
}
