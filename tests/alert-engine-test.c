/* alert-engine-test.c: the alert engine with a fake clock: defaults and auto-resolve, dedupe,
 * grouping, silences, maintenance windows, flapping, inhibition, escalation, restarts.
 *
 * Actions are compared as one-line summaries ("open:a1 | notify:triggered:monitor:m1:default:a1")
 * built from the real action objects, so every assertion is on the whole list of actions. */
#include "tsq-alert-engine.h"
#include "tsq-json-util.h"

#include <string.h>

#define SEC G_GINT64_CONSTANT (1000000)
/* 2023-11-14T22:13:20Z */
#define T0 (G_GINT64_CONSTANT (1700000000) * SEC)

typedef struct
{
  TsqAlertEngine *engine;
  TsqMonitor *monitor;
  TsqMonitor *monitor2;
  guint next_id;
} Fixture;

static char *
counter_id (gpointer user_data)
{
  Fixture *f = user_data;

  return g_strdup_printf ("a%u", ++f->next_id);
}

static TsqMonitor *
monitor_new (const char *id, const char *name)
{
  TsqMonitor *m = tsq_monitor_new (name, "https://shop.example/", "every 1m");

  g_free (m->id);
  m->id = g_strdup (id);
  return m;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  TsqAlertEngineConfig config;

  tsq_alert_engine_config_init (&config);
  f->engine = tsq_alert_engine_new (&config);
  f->next_id = 0;
  tsq_alert_engine_set_id_func (f->engine, counter_id, f);
  f->monitor = monitor_new ("m1", "Shop");
  f->monitor2 = monitor_new ("m2", "Blog");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tsq_alert_engine_free (f->engine);
  tsq_monitor_unref (f->monitor);
  tsq_monitor_unref (f->monitor2);
}

static JsonNode *
parse (const char *json)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = tsq_json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

static void
set_rules (TsqMonitor *m, const char *json)
{
  g_autoptr (JsonNode) node = parse (json);

  json_array_unref (m->alert_rules);
  m->alert_rules = json_array_ref (json_node_get_array (node));
}

static void
add_policy (TsqAlertEngine *engine, const char *json)
{
  g_autoptr (JsonNode) node = parse (json);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAlertEscalationPolicy) p
    = tsq_alert_escalation_policy_from_json (node, NULL, &error);

  g_assert_no_error (error);
  tsq_alert_engine_add_escalation_policy (engine, p);
}

static char *
join_array (JsonArray *arr)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    g_string_append_printf (s, "%s%s", i ? "," : "", json_array_get_string_element (arr, i));
  return g_strdup (s->str);
}

static char *
summarize (GPtrArray *actions)
{
  g_autoptr (GString) s = g_string_new (NULL);

  g_assert_nonnull (actions);
  for (guint i = 0; i < actions->len; i++)
    {
      JsonObject *o = g_ptr_array_index (actions, i);
      const char *kind = tsq_json_get_string (o, "action", "?");
      const char *id = tsq_json_get_string (o, "alert_id", "?");

      if (s->len > 0)
        g_string_append (s, " | ");
      if (g_str_equal (kind, "open"))
        g_string_append_printf (s, "open:%s", id);
      else if (g_str_equal (kind, "update"))
        g_string_append_printf (s, "update:%s#%" G_GINT64_FORMAT, id,
                                tsq_json_get_int (o, "count", -1));
      else if (g_str_equal (kind, "notify"))
        {
          g_autofree char *channels = join_array (tsq_json_get_array (o, "channels"));
          g_autofree char *ids = join_array (tsq_json_get_array (o, "alert_ids"));

          g_string_append_printf (s, "notify:%s:%s:%s:%s", tsq_json_get_string (o, "kind", "?"),
                                  tsq_json_get_string (o, "group_key", "?"), channels, ids);
          if (json_object_has_member (o, "escalation_level"))
            g_string_append_printf (s, ":L%" G_GINT64_FORMAT,
                                    tsq_json_get_int (o, "escalation_level", 0));
          g_assert_cmpuint (json_array_get_length (tsq_json_get_array (o, "alerts")), ==,
                            json_array_get_length (tsq_json_get_array (o, "alert_ids")));
        }
      else if (g_str_equal (kind, "resolve"))
        g_string_append_printf (s, "resolve:%s:%s", id,
                                tsq_json_get_string (o, "resolved_by", "?"));
      else if (g_str_equal (kind, "suppressed"))
        {
          const char *detail = tsq_json_get_string (o, "silence_id", NULL);

          if (detail == NULL)
            detail = tsq_json_get_string (o, "window_id", NULL);
          if (detail == NULL)
            detail = tsq_json_get_string (o, "inhibited_by", NULL);
          g_string_append_printf (s, "suppressed:%s:%s", id,
                                  tsq_json_get_string (o, "reason", "?"));
          if (detail != NULL)
            g_string_append_printf (s, ":%s", detail);
        }
      else if (g_str_equal (kind, "ack"))
        g_string_append_printf (s, "ack:%s:%s", id,
                                tsq_json_get_string (o, "acknowledged_by", "?"));
      else
        g_string_append (s, kind);
      /* Every action about one alert carries its snapshot. */
      if (!g_str_equal (kind, "notify"))
        g_assert_cmpstr (tsq_json_get_string (tsq_json_get_object (o, "alert"), "id", NULL), ==,
                         id);
    }
  return g_strdup (s->str);
}

#define assert_actions(expr, expected)                                                             \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autoptr (GPtrArray) _acts = (expr);                                                          \
    g_autofree char *_sum = summarize (_acts);                                                     \
    g_assert_cmpstr (_sum, ==, (expected));                                                        \
  }                                                                                                \
  G_STMT_END

static JsonObject *
change (const char *json)
{
  g_autoptr (JsonNode) node = parse (json);

  return json_object_ref (json_node_get_object (node));
}

/* One scan of `m` with the given changes (a JSON array text). */
static GPtrArray *
scan (Fixture *f, TsqMonitor *m, const char *changes_json, gint64 now)
{
  g_autoptr (JsonNode) node = parse (changes_json);
  g_autoptr (GError) error = NULL;
  GPtrArray *actions
    = tsq_alert_engine_process_scan (f->engine, m, json_node_get_array (node), now, &error);

  g_assert_no_error (error);
  return actions;
}

#define DOWN                                                                                       \
  "{\"type\":\"availability.down\",\"subject\":\"https://shop.example/"                            \
  "\",\"old\":200,\"new\":\"timeout\",\"confidence\":100,\"evidence\":{},\"severity\":"            \
  "\"critical\"}"
#define UP                                                                                         \
  "{\"type\":\"availability.up\",\"subject\":\"https://shop.example/"                              \
  "\",\"old\":\"timeout\",\"new\":200,\"confidence\":100,\"evidence\":{},\"severity\":\"info\"}"
#define TECH(name)                                                                                 \
  "{\"type\":\"technology.added\",\"subject\":\"" name                                             \
  "\",\"old\":null,\"new\":\"1.0\",\"confidence\":100,\"evidence\":{\"categories\":[\"CMS\"]},"    \
  "\"severity\":\"info\"}"

static JsonObject *
get_alert (Fixture *f, const char *id)
{
  JsonObject *a = tsq_alert_engine_get_alert (f->engine, id);

  g_assert_nonnull (a);
  return a;
}

/* ---- defaults, auto-resolve ---- */

static void
test_defaults_and_auto_resolve (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) a1 = NULL;

  /* No rules at all: technology changes do not alert, down does (critical). */
  assert_actions (scan (f, f->monitor, "[" TECH ("jQuery") "]", T0 - 60 * SEC), "");
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  a1 = get_alert (f, "a1");
  g_assert_cmpstr (tsq_json_get_string (a1, "rule_id", NULL), ==, "default.availability");
  g_assert_cmpstr (tsq_json_get_string (a1, "severity", NULL), ==, "critical");
  g_assert_cmpstr (tsq_json_get_string (a1, "state", NULL), ==, "triggered");
  g_assert_cmpstr (tsq_json_get_string (a1, "monitor_name", NULL), ==, "Shop");
  g_assert_cmpstr (tsq_json_get_string (a1, "subject", NULL), ==, "https://shop.example/");
  g_assert_cmpint (tsq_json_get_int (a1, "triggered_at", 0), ==, T0);
  g_assert_true (json_object_get_null_member (a1, "last_notified_at"));
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 30 * SEC);

  /* group_wait 30 s */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 29 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:default:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 31 * SEC), "");
  {
    g_autoptr (JsonObject) a = get_alert (f, "a1");

    g_assert_cmpint (tsq_json_get_int (a, "last_notified_at", 0), ==, T0 + 30 * SEC);
    g_assert_cmpint (tsq_json_get_int (a, "notify_count", 0), ==, 1);
  }
  /* The reminder is the next thing due: 4 h after the notification. */
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 30 * SEC + 4 * 3600 * SEC);

  /* Back up: resolved, and the resolution is notified where the alert went. */
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 120 * SEC),
                  "resolve:a1:change:availability.up | notify:resolved:monitor:m1:default:a1");
  g_assert_null (tsq_alert_engine_get_alert (f->engine, "a1"));
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, G_MAXINT64);

  /* Critical security changes alert by default; a medium vulnerability does not. */
  assert_actions (
    scan (
      f, f->monitor,
      "[{\"type\":\"security.vulnerability_found\",\"subject\":\"CVE-1\",\"severity\":\"critical\"}"
      ","
      "{\"type\":\"security.vulnerability_found\",\"subject\":\"CVE-2\",\"severity\":\"warning\"},"
      "{\"type\":\"security.certificate_expiring\",\"subject\":\"shop.example\",\"old\":4,\"new\":"
      "2,"
      "\"severity\":\"critical\"}]",
      T0 + 200 * SEC),
    "open:a2 | open:a3");
  /* The group was flushed at T0+30 s: these wait for group_interval, until T0+330 s. */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 329 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 330 * SEC),
                  "notify:triggered:monitor:m1:default:a2,a3");
  /* A renewed certificate resolves its alert. */
  assert_actions (scan (f, f->monitor,
                        "[{\"type\":\"security.certificate_renewed\",\"subject\":\"shop.example\","
                        "\"old\":2,\"new\":90,\"severity\":\"info\"}]",
                        T0 + 400 * SEC),
                  "resolve:a3:change:security.certificate_renewed | "
                  "notify:resolved:monitor:m1:default:a3");
}

static void
test_invalid_input (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) bad = change ("{\"subject\":\"x\"}");
  g_autoptr (GPtrArray) actions
    = tsq_alert_engine_process_change (f->engine, f->monitor, bad, T0, &error);
  g_autoptr (JsonNode) arr = parse ("[" DOWN ", 5]");
  g_autoptr (GPtrArray) actions2 = NULL;

  g_assert_null (actions);
  g_assert_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "change.type: expected a string");
  g_clear_error (&error);

  /* A bad scan applies nothing. */
  actions2
    = tsq_alert_engine_process_scan (f->engine, f->monitor, json_node_get_array (arr), T0, &error);
  g_assert_null (actions2);
  g_assert_cmpstr (error->message, ==, "changes[1]: expected an object");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, G_MAXINT64);

  /* Rules that do not parse: the defaults still alert on down. */
  set_rules (f->monitor, "[{\"id\":\"x\",\"match\":{\"type\":\"tech.added\"}}]");
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  {
    g_autoptr (JsonObject) a = get_alert (f, "a1");

    g_assert_cmpstr (tsq_json_get_string (a, "rule_id", NULL), ==, "default.availability");
  }
}

static void
test_rule_order (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) global = NULL;
  g_autoptr (JsonNode) gnode
    = parse ("[{\"id\":\"g-tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"ops\"]}]");
  g_autoptr (GError) error = NULL;

  /* The monitor's rule drops down alerts; a continue rule lets the global rule alert too. */
  set_rules (f->monitor,
             "[{\"id\":\"quiet\",\"match\":{\"type\":\"availability.down\"},\"drop\":true},"
             "{\"id\":\"cms\",\"match\":{\"category\":\"CMS\"},\"channels\":[\"web\"],"
             "\"severity\":\"warning\",\"continue\":true}]");
  global = tsq_alert_rules_from_json (json_node_get_array (gnode), "global_rules", &error);
  g_assert_no_error (error);
  tsq_alert_engine_set_global_rules (f->engine, global);

  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "");
  assert_actions (scan (f, f->monitor, "[" TECH ("WordPress") "]", T0), "open:a1 | open:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:ops:a2 | notify:triggered:monitor:m1:web:a1");
  {
    g_autoptr (JsonObject) a1 = get_alert (f, "a1");
    g_autoptr (JsonObject) a2 = get_alert (f, "a2");

    g_assert_cmpstr (tsq_json_get_string (a1, "rule_id", NULL), ==, "cms");
    g_assert_cmpstr (tsq_json_get_string (a1, "severity", NULL), ==, "warning");
    g_assert_cmpstr (tsq_json_get_string (a2, "rule_id", NULL), ==, "g-tech");
    /* The global rule has no severity: the change's. */
    g_assert_cmpstr (tsq_json_get_string (a2, "severity", NULL), ==, "info");
  }
  /* The other monitor has no rules of its own: down alerts through the defaults. */
  assert_actions (scan (f, f->monitor2, "[" DOWN "]", T0), "open:a3");
}

/* ---- dedupe ---- */

static void
test_dedupe (Fixture *f, gconstpointer data)
{
  const char *content = "[{\"type\":\"content.changed\",\"subject\":\"https://shop.example/\","
                        "\"old\":\"aaa\",\"new\":\"bbb\",\"severity\":\"warning\"}]";

  set_rules (f->monitor,
             "[{\"id\":\"content\",\"match\":{\"type\":\"content.*\"},\"channels\":[\"slack\"]}]");
  assert_actions (scan (f, f->monitor, content, T0), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1");
  /* A repeat updates the alert and is not notified again... */
  assert_actions (scan (f, f->monitor, content, T0 + 60 * SEC),
                  "update:a1#2 | suppressed:a1:dedupe");
  /* ...until the repeat interval (4 h) since the last notification has passed. */
  assert_actions (scan (f, f->monitor, content, T0 + 30 * SEC + 4 * 3600 * SEC - 1),
                  "update:a1#3 | suppressed:a1:dedupe");
  assert_actions (scan (f, f->monitor, content, T0 + 30 * SEC + 4 * 3600 * SEC),
                  "update:a1#4 | notify:reminder:monitor:m1:slack:a1");
  {
    g_autoptr (JsonObject) a = get_alert (f, "a1");

    g_assert_cmpint (tsq_json_get_int (a, "count", 0), ==, 4);
    g_assert_cmpint (tsq_json_get_int (a, "last_seen_at", 0), ==, T0 + 30 * SEC + 4 * 3600 * SEC);
    g_assert_cmpint (tsq_json_get_int (a, "notify_count", 0), ==, 2);
  }
  /* Events (no resolve_on) get no timed reminders. */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * 3600 * SEC), "");
  /* Another subject is another alert. */
  assert_actions (
    scan (f, f->monitor,
          "[{\"type\":\"content.title_changed\",\"subject\":\"https://shop.example/x\"}]",
          T0 + 31 * 3600 * SEC),
    "open:a2");
  /* Another monitor too. */
  set_rules (f->monitor2,
             "[{\"id\":\"content\",\"match\":{\"type\":\"content.*\"},\"channels\":[\"slack\"]}]");
  assert_actions (scan (f, f->monitor2, content, T0 + 31 * 3600 * SEC), "open:a3");
}

static void
test_condition_reminders (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:default:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC + 4 * 3600 * SEC - 1), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC + 4 * 3600 * SEC),
                  "notify:reminder:monitor:m1:default:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC + 8 * 3600 * SEC),
                  "notify:reminder:monitor:m1:default:a1");
  /* Acknowledged: no more reminders; a second ack is an error. */
  assert_actions (tsq_alert_engine_ack (f->engine, "a1", "bob", T0 + 9 * 3600 * SEC, &error),
                  "ack:a1:bob");
  g_assert_null (tsq_alert_engine_ack (f->engine, "a1", "bob", T0 + 9 * 3600 * SEC, &error));
  g_assert_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_STATE);
  g_clear_error (&error);
  {
    g_autoptr (JsonObject) a = get_alert (f, "a1");

    g_assert_cmpstr (tsq_json_get_string (a, "state", NULL), ==, "acknowledged");
    g_assert_cmpstr (tsq_json_get_string (a, "acknowledged_by", NULL), ==, "bob");
    g_assert_cmpint (tsq_json_get_int (a, "acknowledged_at", 0), ==, T0 + 9 * 3600 * SEC);
  }
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 20 * 3600 * SEC), "");
  /* Acknowledged then resolved by the change: the resolution is still notified. */
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 21 * 3600 * SEC),
                  "resolve:a1:change:availability.up | notify:resolved:monitor:m1:default:a1");
  g_assert_null (tsq_alert_engine_ack (f->engine, "a1", "bob", T0, &error));
  g_assert_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_NOT_FOUND);
}

static void
test_manual_resolve (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  set_rules (f->monitor,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "," TECH ("B") "]", T0), "open:a1 | open:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1,a2");
  assert_actions (tsq_alert_engine_resolve (f->engine, "a1", "bob", T0 + 60 * SEC, &error),
                  "resolve:a1:user:bob | notify:resolved:monitor:m1:slack:a1");
  g_assert_null (tsq_alert_engine_resolve (f->engine, "a1", "bob", T0 + 60 * SEC, &error));
  g_assert_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_NOT_FOUND);
  /* Resolved: the same change opens a new alert. */
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0 + 90 * SEC), "open:a3");
  /* Acknowledged before its notification went out: nobody is told. */
  assert_actions (tsq_alert_engine_ack (f->engine, "a3", "eve", T0 + 91 * SEC, NULL), "ack:a3:eve");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 400 * SEC), "");
  /* Resolving a never-notified alert notifies nobody. */
  assert_actions (tsq_alert_engine_resolve (f->engine, "a3", "eve", T0 + 401 * SEC, NULL),
                  "resolve:a3:user:eve");
}

/* ---- grouping ---- */

static void
test_grouping (Fixture *f, gconstpointer data)
{
  set_rules (f->monitor,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0), "open:a1");
  assert_actions (scan (f, f->monitor, "[" TECH ("B") "]", T0 + 10 * SEC), "open:a2");
  assert_actions (scan (f, f->monitor, "[" TECH ("C") "]", T0 + 20 * SEC), "open:a3");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 29 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1,a2,a3");

  /* One more after the flush: waits for group_interval (5 min) after the last flush. */
  assert_actions (scan (f, f->monitor, "[" TECH ("D") "]", T0 + 60 * SEC), "open:a4");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 330 * SEC);
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 329 * SEC), "");
  assert_actions (scan (f, f->monitor, "[" TECH ("E") "]", T0 + 300 * SEC), "open:a5");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 330 * SEC),
                  "notify:triggered:monitor:m1:slack:a4,a5");

  /* Long after the last flush a new alert waits group_wait again, not group_interval. */
  assert_actions (scan (f, f->monitor, "[" TECH ("F") "]", T0 + 1000 * SEC), "open:a6");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 1030 * SEC);
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 1030 * SEC),
                  "notify:triggered:monitor:m1:slack:a6");

  /* Other monitors are other groups. */
  set_rules (f->monitor2,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  assert_actions (scan (f, f->monitor2, "[" TECH ("A") "]", T0 + 1100 * SEC), "open:a7");
  assert_actions (scan (f, f->monitor, "[" TECH ("G") "]", T0 + 1100 * SEC), "open:a8");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 1400 * SEC),
                  "notify:triggered:monitor:m2:slack:a7 | notify:triggered:monitor:m1:slack:a8");
}

static void
test_grouping_by_rule (Fixture *f, gconstpointer data)
{
  const char *rules
    = "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"],"
      "\"group_by\":\"rule\"}]";

  set_rules (f->monitor, rules);
  set_rules (f->monitor2, rules);
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0), "open:a1");
  assert_actions (scan (f, f->monitor2, "[" TECH ("A") "]", T0 + 5 * SEC), "open:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:rule:tech:slack:a1,a2");
}

/* ---- silences ---- */

static TsqAlertSilence *
silence_new (const char *json)
{
  g_autoptr (JsonNode) node = parse (json);
  g_autoptr (GError) error = NULL;
  TsqAlertSilence *s = tsq_alert_silence_from_json (json_node_get_object (node), &error);

  g_assert_no_error (error);
  return s;
}

static void
test_silences (Fixture *f, gconstpointer data)
{
  g_autofree char *json = g_strdup_printf (
    "{\"id\":\"s1\",\"matchers\":{\"monitor_id\":\"m1\",\"type\":\"technology.*\"},"
    "\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT ",\"created_by\":\"bob\","
    "\"comment\":\"deploy\"}",
    T0 + 100 * SEC, T0 + 200 * SEC);
  g_autoptr (GError) error = NULL;

  set_rules (f->monitor,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  set_rules (f->monitor2,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  g_assert_cmpstr (tsq_alert_engine_add_silence (f->engine, silence_new (json)), ==, "s1");

  /* Before the silence */
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1");
  /* During: recorded, not notified; the other monitor is not silenced; down is not a tech */
  assert_actions (scan (f, f->monitor, "[" TECH ("B") "]", T0 + 100 * SEC),
                  "open:a2 | suppressed:a2:silence:s1");
  assert_actions (scan (f, f->monitor2, "[" TECH ("B") "]", T0 + 150 * SEC), "open:a3");
  assert_actions (scan (f, f->monitor, "[" TECH ("C") "]", T0 + 199 * SEC),
                  "open:a4 | suppressed:a4:silence:s1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 199 * SEC),
                  "notify:triggered:monitor:m2:slack:a3");
  /* After (ends_at is exclusive) */
  assert_actions (scan (f, f->monitor, "[" TECH ("D") "]", T0 + 200 * SEC), "open:a5");
  /* An event silenced at its trigger stays silent after the silence ends. */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 1000 * SEC),
                  "notify:triggered:monitor:m1:slack:a5");
  {
    g_autoptr (JsonObject) a2 = get_alert (f, "a2");

    g_assert_cmpstr (tsq_json_get_string (a2, "suppressed", NULL), ==, "silence");
    g_assert_true (json_object_get_null_member (a2, "last_notified_at"));
  }
  /* ...but its repeat after the silence is notified (group_interval after the last flush). */
  assert_actions (scan (f, f->monitor, "[" TECH ("B") "]", T0 + 1100 * SEC), "update:a2#2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 1299 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 1300 * SEC),
                  "notify:triggered:monitor:m1:slack:a2");

  /* Expire, list */
  {
    g_autoptr (GPtrArray) active = NULL;
    g_autoptr (GPtrArray) all = NULL;
    g_autofree char *j2 = g_strdup_printf (
      "{\"id\":\"s2\",\"matchers\":{\"severity\":\"critical\",\"subject_regex\":\"^https://shop\"},"
      "\"starts_at\":\"2023-11-14T22:00:00Z\",\"ends_at\":%" G_GINT64_FORMAT "}",
      T0 + 5000 * SEC);

    tsq_alert_engine_add_silence (f->engine, silence_new (j2));
    active = tsq_alert_engine_list_silences (f->engine, FALSE, T0 + 2000 * SEC);
    g_assert_cmpuint (active->len, ==, 1);
    g_assert_cmpstr (tsq_json_get_string (g_ptr_array_index (active, 0), "id", NULL), ==, "s2");
    /* ISO 8601 input, µs output */
    g_assert_cmpint (tsq_json_get_int (g_ptr_array_index (active, 0), "starts_at", 0), ==,
                     T0 - 800 * SEC);

    /* s2 silences the down alert (critical, subject matches) */
    assert_actions (scan (f, f->monitor, "[" DOWN "]", T0 + 2000 * SEC),
                    "open:a6 | suppressed:a6:silence:s2");
    g_assert_true (tsq_alert_engine_expire_silence (f->engine, "s2", T0 + 2100 * SEC, &error));
    g_assert_false (tsq_alert_engine_expire_silence (f->engine, "s2", T0 + 2100 * SEC, &error));
    g_assert_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_STATE);
    g_clear_error (&error);
    g_assert_false (tsq_alert_engine_expire_silence (f->engine, "nope", T0, &error));
    g_assert_error (error, TSQ_ALERT_ENGINE_ERROR, TSQ_ALERT_ENGINE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    all = tsq_alert_engine_list_silences (f->engine, TRUE, T0 + 2100 * SEC);
    g_assert_cmpuint (all->len, ==, 2);
    g_assert_cmpstr (tsq_json_get_string (g_ptr_array_index (all, 0), "id", NULL), ==, "s2");
    g_assert_cmpint (tsq_json_get_int (g_ptr_array_index (all, 0), "ends_at", 0), ==,
                     T0 + 2100 * SEC);
    g_assert_cmpstr (tsq_json_get_string (g_ptr_array_index (all, 1), "id", NULL), ==, "s1");
  }
  /* A condition (down) silenced at its trigger is notified once the silence is over. */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 2100 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 2130 * SEC),
                  "notify:triggered:monitor:m1:default:a6");
}

static void
test_silence_at_flush_and_json (Fixture *f, gconstpointer data)
{
  g_autofree char *json = g_strdup_printf (
    "{\"id\":\"s1\",\"matchers\":{\"monitor_name\":\"Shop\",\"rule\":\"default.availability\"},"
    "\"starts_at\":%" G_GINT64_FORMAT ",\"ends_at\":%" G_GINT64_FORMAT "}",
    T0 + 10 * SEC, T0 + 100 * SEC);
  g_autoptr (TsqAlertSilence) s = silence_new (json);
  g_autoptr (JsonObject) back = tsq_alert_silence_to_json (s);
  g_autoptr (TsqAlertSilence) s2 = tsq_alert_silence_from_json (back, NULL);
  g_autoptr (JsonObject) back2 = tsq_alert_silence_to_json (s2);
  g_autoptr (JsonNode) n1 = json_node_init_object (json_node_alloc (), back);
  g_autoptr (JsonNode) n2 = json_node_init_object (json_node_alloc (), back2);
  static const struct
  {
    const char *json;
    const char *message;
  } bad[] = {
    { "{\"matchers\":{},\"starts_at\":1,\"ends_at\":2}",
      "silence.matchers: at least one matcher is required" },
    { "{\"matchers\":{\"monitor\":\"x\"},\"starts_at\":1,\"ends_at\":2}",
      "silence.matchers.monitor: unknown matcher" },
    { "{\"matchers\":{\"rule\":\"x\"},\"starts_at\":5,\"ends_at\":2}",
      "silence.ends_at: must be after starts_at" },
    { "{\"matchers\":{\"rule\":\"x\"},\"starts_at\":\"yesterday\",\"ends_at\":2}",
      "starts_at: expected a time (unix µs or ISO 8601)" },
    { "{\"matchers\":{\"severity\":\"high\"},\"starts_at\":1,\"ends_at\":2}",
      "silence.matchers.severity: unknown severity \"high\"" },
    { "{\"starts_at\":1,\"ends_at\":2}", "silence.matchers: expected an object" },
  };

  g_assert_true (json_node_equal (n1, n2));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) node = parse (bad[i].json);
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqAlertSilence) b
        = tsq_alert_silence_from_json (json_node_get_object (node), &error);

      g_assert_null (b);
      g_assert_cmpstr (error->message, ==, bad[i].message);
    }

  /* Triggered before the silence, flushed during it: suppressed at the flush. */
  tsq_alert_engine_add_silence (f->engine, g_steal_pointer (&s));
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC), "suppressed:a1:silence:s1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 99 * SEC), "");
  /* Still down when the silence ends: notified (a new group wait). */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 100 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 130 * SEC),
                  "notify:triggered:monitor:m1:default:a1");
}

/* ---- maintenance windows ---- */

static gint64
iso (const char *text)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (text, NULL);

  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt) * SEC;
}

static TsqAlertMaintenance *
window_new (const char *json)
{
  g_autoptr (JsonNode) node = parse (json);
  g_autoptr (GError) error = NULL;
  TsqAlertMaintenance *w = tsq_alert_maintenance_from_json (json_node_get_object (node), &error);

  g_assert_no_error (error);
  return w;
}

static void
test_maintenance_windows (Fixture *f, gconstpointer data)
{
  g_autoptr (TsqAlertMaintenance) nightly = window_new (
    "{\"id\":\"w1\",\"monitor_id\":\"m1\",\"cron\":\"0 23 * * *\",\"duration_s\":7200}");
  g_autoptr (TsqAlertMaintenance) berlin = window_new (
    "{\"id\":\"w2\",\"monitor_id\":\"m1\",\"cron\":\"30 1 * * *\",\"duration_s\":7200,"
    "\"timezone\":\"Europe/Berlin\"}");
  g_autoptr (TsqAlertMaintenance) fixed
    = window_new ("{\"id\":\"w3\",\"monitor_id\":\"m1\",\"starts_at\":\"2024-05-01T10:00:00Z\","
                  "\"ends_at\":\"2024-05-01T12:00:00Z\"}");
  gint64 end = 0;
  static const struct
  {
    const char *json;
    const char *message;
  } bad[] = {
    { "{\"monitor_id\":\"m1\",\"cron\":\"0 25 * * *\",\"duration_s\":60}",
      "maintenance.cron: hour: 25 out of range 0-23" },
    { "{\"monitor_id\":\"m1\",\"cron\":\"0 2 * * *\"}",
      "maintenance.duration_s: expected seconds in [1, 2678400]" },
    { "{\"cron\":\"0 2 * * *\",\"duration_s\":60}", "maintenance.monitor_id: missing" },
    { "{\"monitor_id\":\"m1\",\"starts_at\":5}",
      "maintenance: needs \"cron\" + \"duration_s\", or \"starts_at\" < \"ends_at\"" },
    { "{\"monitor_id\":\"m1\",\"starts_at\":5,\"ends_at\":9,\"timezone\":\"UTC\"}",
      "maintenance.timezone: only with \"cron\"" },
  };

  /* 23:00-01:00 UTC, across midnight; [start, end) */
  g_assert_false (tsq_alert_maintenance_is_active (nightly, iso ("2024-05-01T22:59:59Z"), NULL));
  g_assert_true (tsq_alert_maintenance_is_active (nightly, iso ("2024-05-01T23:00:00Z"), &end));
  g_assert_cmpint (end, ==, iso ("2024-05-02T01:00:00Z"));
  g_assert_true (tsq_alert_maintenance_is_active (nightly, iso ("2024-05-02T00:30:00Z"), &end));
  g_assert_cmpint (end, ==, iso ("2024-05-02T01:00:00Z"));
  g_assert_true (tsq_alert_maintenance_is_active (nightly, iso ("2024-05-02T00:59:59Z"), NULL));
  g_assert_false (tsq_alert_maintenance_is_active (nightly, iso ("2024-05-02T01:00:00Z"), NULL));
  g_assert_false (tsq_alert_maintenance_is_active (nightly, iso ("2024-05-02T12:00:00Z"), NULL));

  /* 01:30 Berlin for 2 h (real time). Winter: 01:30 CET = 00:30Z .. 02:30Z. */
  g_assert_true (tsq_alert_maintenance_is_active (berlin, iso ("2024-01-10T00:30:00Z"), &end));
  g_assert_cmpint (end, ==, iso ("2024-01-10T02:30:00Z"));
  g_assert_false (tsq_alert_maintenance_is_active (berlin, iso ("2024-01-10T00:29:59Z"), NULL));
  /* Summer: 01:30 CEST = 23:30Z the day before. */
  g_assert_true (tsq_alert_maintenance_is_active (berlin, iso ("2024-07-09T23:30:00Z"), &end));
  g_assert_cmpint (end, ==, iso ("2024-07-10T01:30:00Z"));
  g_assert_false (
    tsq_alert_maintenance_is_active (berlin, iso ("2024-07-10T00:30:00Z") + 3600 * SEC, NULL));
  /* The night of the spring-forward jump (2024-03-31, 02:00 CET -> 03:00 CEST): 01:30 CET
   * exists, so the window is 00:30Z .. 02:30Z = 01:30 CET .. 04:30 CEST. */
  g_assert_true (tsq_alert_maintenance_is_active (berlin, iso ("2024-03-31T02:29:59Z"), &end));
  g_assert_cmpint (end, ==, iso ("2024-03-31T02:30:00Z"));
  g_assert_false (tsq_alert_maintenance_is_active (berlin, iso ("2024-03-31T02:30:00Z"), NULL));

  g_assert_true (tsq_alert_maintenance_is_active (fixed, iso ("2024-05-01T10:00:00Z"), &end));
  g_assert_cmpint (end, ==, iso ("2024-05-01T12:00:00Z"));
  g_assert_false (tsq_alert_maintenance_is_active (fixed, iso ("2024-05-01T12:00:00Z"), NULL));
  g_assert_false (tsq_alert_maintenance_is_active (fixed, iso ("2024-05-01T09:59:59Z"), NULL));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) node = parse (bad[i].json);
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqAlertMaintenance) w
        = tsq_alert_maintenance_from_json (json_node_get_object (node), &error);

      g_assert_null (w);
      g_assert_cmpstr (error->message, ==, bad[i].message);
    }
  {
    g_autoptr (JsonNode) node
      = parse ("{\"monitor_id\":\"m1\",\"cron\":\"0 2 * * *\",\"duration_s\":60,"
               "\"timezone\":\"Mars/Olympus\"}");
    g_autoptr (GError) error = NULL;
    g_autoptr (TsqAlertMaintenance) w
      = tsq_alert_maintenance_from_json (json_node_get_object (node), &error);

    g_assert_null (w);
    g_assert_true (g_str_has_prefix (error->message, "maintenance.cron: "));
  }

  /* In the engine: the nightly window suppresses m1's alerts, not m2's. */
  tsq_alert_engine_add_maintenance (f->engine, g_steal_pointer (&nightly));
  assert_actions (scan (f, f->monitor, "[" DOWN "]", iso ("2024-05-01T23:30:00Z")),
                  "open:a1 | suppressed:a1:maintenance:w1");
  assert_actions (scan (f, f->monitor2, "[" DOWN "]", iso ("2024-05-01T23:30:00Z")), "open:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, iso ("2024-05-01T23:30:30Z")),
                  "notify:triggered:monitor:m2:default:a2");
  /* Back up inside the window: resolved silently (it was never notified). */
  assert_actions (scan (f, f->monitor, "[" UP "]", iso ("2024-05-02T00:10:00Z")),
                  "resolve:a1:change:availability.up");
  /* Still down when the window ends: notified then (a few scans later, so not flapping). */
  for (int i = 1; i <= 4; i++)
    assert_actions (scan (f, f->monitor, "[]", iso ("2024-05-02T00:10:00Z") + i * 60 * SEC), "");
  assert_actions (scan (f, f->monitor, "[" DOWN "]", iso ("2024-05-02T00:20:00Z")),
                  "open:a3 | suppressed:a3:maintenance:w1");
  assert_actions (tsq_alert_engine_tick (f->engine, iso ("2024-05-02T00:59:59Z")), "");
  assert_actions (tsq_alert_engine_tick (f->engine, iso ("2024-05-02T01:00:00Z")), "");
  assert_actions (tsq_alert_engine_tick (f->engine, iso ("2024-05-02T01:00:30Z")),
                  "notify:triggered:monitor:m1:default:a3");
  g_assert_true (tsq_alert_engine_remove_maintenance (f->engine, "w1"));
  g_assert_false (tsq_alert_engine_remove_maintenance (f->engine, "w1"));
}

/* ---- flapping ---- */

static void
test_flapping (Fixture *f, gconstpointer data)
{
  /* Scans 10 min apart (longer than group_wait). flap_scans = 3. */
  gint64 t = T0;
  const gint64 step = 600 * SEC;

  assert_actions (scan (f, f->monitor, "[" DOWN "]", t), "open:a1"); /* scan 1 */
  assert_actions (tsq_alert_engine_tick (f->engine, t + 30 * SEC),
                  "notify:triggered:monitor:m1:default:a1");
  t += step;
  assert_actions (scan (f, f->monitor, "[" UP "]", t), /* scan 2 */
                  "resolve:a1:change:availability.up | notify:resolved:monitor:m1:default:a1");
  t += step;
  /* Down again one scan after the revert: flapping, recorded but not notified. */
  assert_actions (scan (f, f->monitor, "[" DOWN "]", t),
                  "open:a2 | suppressed:a2:flapping"); /* 3 */
  assert_actions (tsq_alert_engine_tick (f->engine, t + 30 * SEC), "");
  t += step;
  assert_actions (scan (f, f->monitor, "[" UP "]", t), /* scan 4 */
                  "resolve:a2:change:availability.up | suppressed:a2:flapping");
  t += step;
  assert_actions (scan (f, f->monitor, "[" DOWN "]", t),
                  "open:a3 | suppressed:a3:flapping"); /* 5 */
  t += step;
  assert_actions (scan (f, f->monitor, "[]", t), ""); /* scan 6 */
  t += step;
  assert_actions (scan (f, f->monitor, "[]", t), ""); /* scan 7 */
  t += step;
  /* Down for flap_scans scans: it settled, notified as a new alert (after group_wait). */
  assert_actions (scan (f, f->monitor, "[]", t), ""); /* scan 8 */
  {
    g_autoptr (JsonObject) a3 = get_alert (f, "a3");

    g_assert_false (tsq_json_get_boolean (a3, "flapping", TRUE));
    g_assert_true (json_object_get_null_member (a3, "suppressed"));
  }
  assert_actions (tsq_alert_engine_tick (f->engine, t + 30 * SEC),
                  "notify:triggered:monitor:m1:default:a3");
  t += step;
  assert_actions (scan (f, f->monitor, "[" UP "]", t), /* scan 9 */
                  "resolve:a3:change:availability.up | notify:resolved:monitor:m1:default:a3");
  /* Quiet for more than flap_scans scans: the memory is gone, the next down is normal. */
  for (int i = 0; i < 4; i++)
    assert_actions (scan (f, f->monitor, "[]", t += step), "");
  assert_actions (scan (f, f->monitor, "[" DOWN "]", t += step), "open:a4");
}

static void
test_flapping_within_group_wait (Fixture *f, gconstpointer data)
{
  /* Down and up again before the group wait ended: nobody is told, the reason is recorded. */
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 10 * SEC),
                  "resolve:a1:change:availability.up | suppressed:a1:flapping");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC), "");
  /* Revert after more than flap_scans scans: a normal resolution. */
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0 + 3600 * SEC),
                  "open:a2 | suppressed:a2:flapping");
  assert_actions (scan (f, f->monitor, "[]", T0 + 3700 * SEC), "");
  assert_actions (scan (f, f->monitor, "[]", T0 + 3800 * SEC), "");
  assert_actions (scan (f, f->monitor, "[]", T0 + 3900 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 3930 * SEC),
                  "notify:triggered:monitor:m1:default:a2");
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 4000 * SEC),
                  "resolve:a2:change:availability.up | notify:resolved:monitor:m1:default:a2");
}

/* ---- inhibition ---- */

static void
test_inhibition (Fixture *f, gconstpointer data)
{
  set_rules (
    f->monitor,
    "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]},"
    "{\"id\":\"status\",\"match\":{\"type\":\"status.changed\"},\"channels\":[\"slack\"]}]");
  set_rules (f->monitor2,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0 - 600 * SEC), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 - 570 * SEC),
                  "notify:triggered:monitor:m1:slack:a1");

  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a2");
  /* While m1 is down its other alerts are recorded as inhibited; m2 is not affected. */
  assert_actions (scan (f, f->monitor, "[" TECH ("B") "]", T0 + 5 * SEC),
                  "open:a3 | suppressed:a3:inhibited:a2");
  assert_actions (scan (f, f->monitor2, "[" TECH ("B") "]", T0 + 5 * SEC), "open:a4");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 35 * SEC),
                  "notify:triggered:monitor:m1:default:a2 | notify:triggered:monitor:m2:slack:a4");
  /* Repeats while inhibited stay inhibited. */
  assert_actions (scan (f, f->monitor, "[" TECH ("B") "]", T0 + 60 * SEC),
                  "update:a3#2 | suppressed:a3:inhibited:a2");
  /* Already-notified alerts get no reminder while inhibited. */
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0 + 5 * 3600 * SEC),
                  "update:a1#2 | suppressed:a1:inhibited:a2");
  {
    g_autoptr (JsonObject) a3 = get_alert (f, "a3");

    g_assert_cmpstr (tsq_json_get_string (a3, "inhibited_by", NULL), ==, "a2");
  }
  /* Up: the down alert resolves and the inhibited one still open is notified. */
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 6 * 3600 * SEC),
                  "resolve:a2:change:availability.up | notify:resolved:monitor:m1:default:a2");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 6 * 3600 * SEC + 30 * SEC);
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 6 * 3600 * SEC + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a3");
  /* An inhibited alert resolved (here by hand) before the release is never notified. */
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0 + 7 * 3600 * SEC), "open:a5");
  assert_actions (scan (f, f->monitor, "[" TECH ("C") "]", T0 + 7 * 3600 * SEC),
                  "open:a6 | suppressed:a6:inhibited:a5");
  assert_actions (
    tsq_alert_engine_resolve (f->engine, "a6", "bob", T0 + 7 * 3600 * SEC + SEC, NULL),
    "resolve:a6:user:bob");
  /* Resolving the down alert by hand releases as well. */
  assert_actions (scan (f, f->monitor,
                        "[{\"type\":\"status.changed\",\"subject\":\"https://shop.example/"
                        "\",\"old\":200,\"new\":404}]",
                        T0 + 7 * 3600 * SEC + 2 * SEC),
                  "open:a7 | suppressed:a7:inhibited:a5");
  assert_actions (
    tsq_alert_engine_resolve (f->engine, "a5", "bob", T0 + 7 * 3600 * SEC + 3 * SEC, NULL),
    "resolve:a5:user:bob");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 7 * 3600 * SEC + 33 * SEC),
                  "notify:triggered:monitor:m1:slack:a7");
}

/* ---- escalation ---- */

#define ONCALL                                                                                     \
  "{\"name\":\"oncall\",\"levels\":[{\"channels\":[\"slack\"],\"delay_s\":300},{\"channels\":["    \
  "\"sms\"],\"delay_s\":600}],\"repeat\":1}"
#define ESC_RULES                                                                                  \
  "[{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},\"escalation\":\"oncall\"}]"

static void
test_escalation (Fixture *f, gconstpointer data)
{
  add_policy (f->engine, ONCALL);
  set_rules (f->monitor, ESC_RULES);
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  /* Level 1 with the group flush */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 330 * SEC);
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 329 * SEC), "");
  /* Not acknowledged within level 1's delay: level 2 */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 330 * SEC),
                  "notify:escalated:monitor:m1:sms:a1:L2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 929 * SEC), "");
  /* After the last level's delay the policy repeats once */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 930 * SEC),
                  "notify:escalated:monitor:m1:slack:a1:L1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 1230 * SEC),
                  "notify:escalated:monitor:m1:sms:a1:L2");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, G_MAXINT64);
  /* ...and then stops (no reminders for escalated alerts either). */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 100000 * SEC), "");
  {
    g_autoptr (JsonObject) a = get_alert (f, "a1");
    const char *const notified[] = { "slack", "sms", NULL };
    g_auto (GStrv) got = NULL;
    JsonArray *arr = tsq_json_get_array (a, "notified_channels");

    g_assert_cmpint (tsq_json_get_int (a, "escalation_level", 0), ==, 2);
    g_assert_cmpint (tsq_json_get_int (a, "escalation_round", 0), ==, 1);
    g_assert_cmpint (tsq_json_get_int (a, "escalated_at", 0), ==, T0 + 1230 * SEC);
    g_assert_cmpint (tsq_json_get_int (a, "notify_count", 0), ==, 4);
    got = g_new0 (char *, json_array_get_length (arr) + 1);
    for (guint i = 0; i < json_array_get_length (arr); i++)
      got[i] = g_strdup (json_array_get_string_element (arr, i));
    g_assert_true (g_strv_equal ((const char *const *)got, notified));
  }
  /* The resolution goes to every channel that was told. */
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 100001 * SEC),
                  "resolve:a1:change:availability.up | notify:resolved:monitor:m1:slack,sms:a1");
}

static void
test_escalation_ack (Fixture *f, gconstpointer data)
{
  add_policy (f->engine, ONCALL);
  set_rules (f->monitor, ESC_RULES);
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 330 * SEC),
                  "notify:escalated:monitor:m1:sms:a1:L2");
  /* Acknowledged at level 2: no further step */
  assert_actions (tsq_alert_engine_ack (f->engine, "a1", "ann", T0 + 400 * SEC, NULL),
                  "ack:a1:ann");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, G_MAXINT64);
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 930 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 100000 * SEC), "");

  /* An unknown policy still tells the default channel (and does not escalate). */
  set_rules (
    f->monitor2,
    "[{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},\"escalation\":\"nobody\"}]");
  assert_actions (scan (f, f->monitor2, "[" DOWN "]", T0), "open:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 100030 * SEC),
                  "notify:triggered:monitor:m2:default:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 200000 * SEC), "");
  {
    g_autoptr (GPtrArray) rules = NULL;
    g_autoptr (JsonNode) node = parse ("[{\"id\":\"a\"},{\"id\":\"b\",\"escalation\":\"nobody\"}]");
    g_autoptr (GError) error = NULL;

    rules = tsq_alert_rules_from_json (json_node_get_array (node), NULL, NULL);
    g_assert_false (tsq_alert_engine_check_rules (f->engine, rules, "global_rules", &error));
    g_assert_cmpstr (error->message, ==,
                     "global_rules[1].escalation: unknown escalation policy \"nobody\"");
  }
}

/* ---- restarts ---- */

/* What storage keeps: a monitoring_alerts row with the snapshot as payload. */
static JsonObject *
as_row (JsonObject *snapshot, gint64 row_id)
{
  JsonObject *row = json_object_new ();
  g_autoptr (GDateTime) dt
    = g_date_time_new_from_unix_utc (tsq_json_get_int (snapshot, "triggered_at", 0) / SEC);
  g_autofree char *triggered = g_date_time_format_iso8601 (dt);

  json_object_set_int_member (row, "id", row_id);
  json_object_set_string_member (row, "monitor_id",
                                 tsq_json_get_string (snapshot, "monitor_id", NULL));
  json_object_set_string_member (row, "rule_id", tsq_json_get_string (snapshot, "rule_id", NULL));
  json_object_set_string_member (row, "severity", tsq_json_get_string (snapshot, "severity", NULL));
  json_object_set_string_member (row, "state", tsq_json_get_string (snapshot, "state", NULL));
  json_object_set_string_member (row, "triggered_at", triggered);
  json_object_set_null_member (row, "acknowledged_at");
  json_object_set_null_member (row, "resolved_at");
  json_object_set_object_member (row, "payload", json_object_ref (snapshot));
  return row;
}

static TsqAlertEngine *
restart (Fixture *f)
{
  g_autoptr (GPtrArray) snaps = tsq_alert_engine_list_alerts (f->engine);
  TsqAlertEngine *e2 = tsq_alert_engine_new (NULL);

  tsq_alert_engine_set_id_func (e2, counter_id, f);
  add_policy (e2, ONCALL);
  for (guint i = 0; i < snaps->len; i++)
    {
      g_autoptr (JsonObject) row = as_row (g_ptr_array_index (snaps, i), 100 + i);
      g_autoptr (GError) error = NULL;

      g_assert_true (tsq_alert_engine_load_alert (e2, row, &error));
      g_assert_no_error (error);
    }
  tsq_alert_engine_free (f->engine);
  f->engine = e2;
  return e2;
}

static void
test_restart_mid_escalation (Fixture *f, gconstpointer data)
{
  add_policy (f->engine, ONCALL);
  set_rules (f->monitor, ESC_RULES);
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 30 * SEC),
                  "notify:triggered:monitor:m1:slack:a1");
  /* Pending in its group when the agent stops: a2 */
  assert_actions (scan (f, f->monitor2, "[" DOWN "]", T0 + 100 * SEC), "open:a2");

  restart (f);
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 130 * SEC);
  /* The pending alert is flushed when its group wait ends, derived from triggered_at */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 130 * SEC),
                  "notify:triggered:monitor:m2:default:a2");
  /* The escalation continues at the right time: 300 s after level 1 */
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 329 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 330 * SEC),
                  "notify:escalated:monitor:m1:sms:a1:L2");

  /* Restart again at level 2, then later than the next step: it happens at the first tick. */
  restart (f);
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 2000 * SEC),
                  "notify:escalated:monitor:m1:slack:a1:L1");
  /* Dedupe survives the restart: the same key is an update. */
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0 + 2001 * SEC),
                  "update:a1#2 | suppressed:a1:dedupe");
  /* ack after the restart stops it */
  assert_actions (tsq_alert_engine_ack (f->engine, "a1", "ann", T0 + 2002 * SEC, NULL),
                  "ack:a1:ann");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 14529 * SEC), "");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 + 14530 * SEC),
                  "notify:reminder:monitor:m2:default:a2");
  /* Resolution after the restart (by the change) */
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 + 14531 * SEC),
                  "resolve:a1:change:availability.up | notify:resolved:monitor:m1:slack,sms:a1");
  {
    g_autoptr (JsonNode) row
      = parse ("{\"id\":7,\"monitor_id\":\"m1\",\"rule_id\":\"r\",\"state\":\"resolved\","
               "\"triggered_at\":1}");
    g_autoptr (JsonNode) bad
      = parse ("{\"id\":8,\"monitor_id\":\"m1\",\"state\":\"triggered\",\"triggered_at\":1,"
               "\"payload\":{\"type\":\"availability.down\"}}");
    g_autoptr (GError) error = NULL;

    /* Resolved rows are skipped; incomplete rows are refused. */
    g_assert_true (tsq_alert_engine_load_alert (f->engine, json_node_get_object (row), &error));
    g_assert_false (tsq_alert_engine_load_alert (f->engine, json_node_get_object (bad), &error));
    g_assert_cmpstr (error->message, ==, "alert.rule_id: missing or invalid");
  }
}

static void
test_save_restore (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonNode) state = NULL;
  g_autoptr (JsonNode) state2 = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *silence = g_strdup_printf (
    "{\"id\":\"s1\",\"matchers\":{\"type\":\"technology.*\"},\"starts_at\":%" G_GINT64_FORMAT
    ",\"ends_at\":%" G_GINT64_FORMAT "}",
    T0, T0 + 3600 * SEC);
  TsqAlertEngine *e2;

  add_policy (f->engine, ONCALL);
  set_rules (f->monitor,
             "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]");
  tsq_alert_engine_add_silence (f->engine, silence_new (silence));
  tsq_alert_engine_add_maintenance (
    f->engine, window_new ("{\"id\":\"w1\",\"monitor_id\":\"m2\",\"cron\":\"0 3 * * *\","
                           "\"duration_s\":600,\"timezone\":\"Europe/Berlin\"}"));
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0 - 100 * SEC), "open:a1");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 - 70 * SEC),
                  "notify:triggered:monitor:m1:default:a1");
  assert_actions (scan (f, f->monitor, "[" UP "]", T0 - 60 * SEC),
                  "resolve:a1:change:availability.up | notify:resolved:monitor:m1:default:a1");
  assert_actions (scan (f, f->monitor2, "[" DOWN "]", T0 - 50 * SEC), "open:a2");
  assert_actions (tsq_alert_engine_tick (f->engine, T0 - 20 * SEC),
                  "notify:triggered:monitor:m2:default:a2");
  assert_actions (scan (f, f->monitor, "[" TECH ("A") "]", T0),
                  "open:a3 | suppressed:a3:silence:s1");

  state = tsq_alert_engine_save (f->engine);
  e2 = tsq_alert_engine_new (NULL);
  tsq_alert_engine_set_id_func (e2, counter_id, f);
  g_assert_true (tsq_alert_engine_restore (e2, state, &error));
  g_assert_no_error (error);
  state2 = tsq_alert_engine_save (e2);
  {
    g_autofree char *t1 = tsq_json_to_string (state, TRUE);
    g_autofree char *t2 = tsq_json_to_string (state2, TRUE);

    g_assert_cmpstr (t1, ==, t2);
  }
  tsq_alert_engine_free (f->engine);
  f->engine = e2;
  /* Flap memory survived: m1 down again one scan after its revert is flapping. */
  assert_actions (scan (f, f->monitor, "[" DOWN "]", T0 + 10 * SEC),
                  "open:a4 | suppressed:a4:flapping");
  /* The silence survived. */
  assert_actions (scan (f, f->monitor, "[" TECH ("B") "]", T0 + 20 * SEC),
                  "open:a5 | suppressed:a5:silence:s1");
  assert_actions (scan (f, f->monitor2, "[" UP "]", T0 + 30 * SEC),
                  "resolve:a2:change:availability.up | notify:resolved:monitor:m2:default:a2");
  /* The group timer survived: m2's group flushed at T0-20 s, so a new alert in it waits until
   * T0-20 s + 5 min. */
  assert_actions (scan (f, f->monitor2,
                        "[{\"type\":\"security.vulnerability_found\",\"subject\":\"CVE-9\","
                        "\"severity\":\"critical\"}]",
                        T0 + 40 * SEC),
                  "open:a6");
  g_assert_cmpint (tsq_alert_engine_next_due (f->engine), ==, T0 + 280 * SEC);
  g_assert_false (tsq_alert_engine_restore (e2, NULL, &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
  g_test_add ("/tsq/alert-engine/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("defaults-and-auto-resolve", test_defaults_and_auto_resolve);
  ADD ("invalid-input", test_invalid_input);
  ADD ("rule-order", test_rule_order);
  ADD ("dedupe", test_dedupe);
  ADD ("condition-reminders", test_condition_reminders);
  ADD ("manual-resolve", test_manual_resolve);
  ADD ("grouping", test_grouping);
  ADD ("grouping-by-rule", test_grouping_by_rule);
  ADD ("silences", test_silences);
  ADD ("silence-at-flush-and-json", test_silence_at_flush_and_json);
  ADD ("maintenance-windows", test_maintenance_windows);
  ADD ("flapping", test_flapping);
  ADD ("flapping-within-group-wait", test_flapping_within_group_wait);
  ADD ("inhibition", test_inhibition);
  ADD ("escalation", test_escalation);
  ADD ("escalation-ack", test_escalation_ack);
  ADD ("restart-mid-escalation", test_restart_mid_escalation);
  ADD ("save-restore", test_save_restore);
#undef ADD
  return g_test_run ();
}
