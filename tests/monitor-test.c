/* monitor-test.c: the monitor model, its JSON form and validation. */
#include "tsq-json-util.h"
#include "tsq-monitor.h"

static TsqMonitor *
parse_monitor (const char *json, GError **error)
{
  g_autoptr (JsonNode) node = tsq_json_from_string (json, NULL);

  g_assert_nonnull (node);
  return tsq_monitor_from_json (node, error);
}

static void
test_new_defaults (void)
{
  g_autoptr (TsqMonitor) m = tsq_monitor_new ("Example", "https://example.com/", "every 5m");
  g_autoptr (TsqMonitor) other = tsq_monitor_new ("Example", "https://example.com/", "every 5m");

  g_assert_true (g_uuid_string_is_valid (m->id));
  g_assert_cmpstr (m->id, !=, other->id);
  g_assert_cmpstr (m->organization_id, ==, "default");
  g_assert_true (m->enabled);
  g_assert_nonnull (m->scan_config);
  g_assert_cmpuint (json_object_get_size (m->scan_config), ==, 0);
  g_assert_cmpuint (json_array_get_length (m->alert_rules), ==, 0);
  g_assert_cmpint (m->created_at, >, 0);
  g_assert_cmpint (m->created_at, ==, m->updated_at);
  g_assert_cmpint (m->last_run_us, ==, 0);
  g_assert_true (tsq_monitor_validate (m, NULL));
}

static void
test_round_trip (void)
{
  g_autoptr (TsqMonitor) m
    = tsq_monitor_new ("Shop", "https://shop.example/", "cron */5 * * * * tz Europe/Berlin");
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (JsonNode) reparsed = NULL;
  g_autoptr (TsqMonitor) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) rule = NULL;
  g_autofree char *text = NULL;
  g_autofree char *config_text = NULL;
  JsonObject *obj;

  json_object_set_int_member (m->scan_config, "timeout_s", 30);
  json_object_set_boolean_member (m->scan_config, "third_party_resources", FALSE);
  rule = tsq_json_from_string ("{\"type\":\"technology\",\"severity\":\"high\"}", NULL);
  json_array_add_element (m->alert_rules, g_steal_pointer (&rule));
  m->organization_id = (g_free (m->organization_id), g_strdup ("acme"));
  m->enabled = FALSE;
  m->created_at = 1714564800123456; /* 2024-05-01T12:00:00.123456Z */
  m->updated_at = 1714564900000000;
  m->last_run_us = 1714565000000001;
  m->next_run_us = 0;

  node = tsq_monitor_to_json (m);
  obj = json_node_get_object (node);
  g_assert_cmpstr (tsq_json_get_string (obj, "created_at", NULL), ==,
                   "2024-05-01T12:00:00.123456Z");
  g_assert_cmpstr (tsq_json_get_string (obj, "updated_at", NULL), ==, "2024-05-01T12:01:40Z");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "next_run_at")));

  text = tsq_json_to_string (node, FALSE);
  reparsed = tsq_json_from_string (text, &error);
  g_assert_no_error (error);
  back = tsq_monitor_from_json (reparsed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->id, ==, m->id);
  g_assert_cmpstr (back->organization_id, ==, "acme");
  g_assert_cmpstr (back->name, ==, "Shop");
  g_assert_cmpstr (back->url, ==, "https://shop.example/");
  g_assert_cmpstr (back->schedule, ==, "cron */5 * * * * tz Europe/Berlin");
  g_assert_false (back->enabled);
  g_assert_cmpint (back->created_at, ==, m->created_at);
  g_assert_cmpint (back->updated_at, ==, m->updated_at);
  g_assert_cmpint (back->last_run_us, ==, m->last_run_us);
  g_assert_cmpint (back->next_run_us, ==, 0);
  g_assert_cmpint (tsq_json_get_int (back->scan_config, "timeout_s", 0), ==, 30);
  g_assert_cmpuint (json_array_get_length (back->alert_rules), ==, 1);
  g_assert_cmpstr (
    tsq_json_get_string (json_array_get_object_element (back->alert_rules, 0), "severity", NULL),
    ==, "high");
  {
    g_autoptr (JsonNode) again = tsq_monitor_to_json (back);

    config_text = tsq_json_to_string (again, FALSE);
    g_assert_cmpstr (config_text, ==, text);
  }
}

static void
test_from_json_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqMonitor) m = parse_monitor ("{\"url\":\"http://a.example/\"}", &error);

  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (m->id));
  g_assert_cmpstr (m->name, ==, "http://a.example/");
  g_assert_cmpstr (m->schedule, ==, TSQ_MONITOR_DEFAULT_SCHEDULE);
  g_assert_cmpstr (m->organization_id, ==, "default");
  g_assert_true (m->enabled);
  g_assert_cmpint (m->created_at, >, 0);
  /* integer times are accepted as unix µs */
  g_clear_pointer (&m, tsq_monitor_unref);
  m = parse_monitor ("{\"url\":\"http://a.example/\",\"created_at\":42,\"last_run_at\":null}",
                     &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->created_at, ==, 42);
}

static void
test_from_json_strict (void)
{
  static const struct
  {
    const char *json;
    const char *member;
  } cases[] = {
    { "{\"url\":\"http://a/\",\"nmae\":\"x\"}", "nmae" },
    { "{\"url\":\"http://a/\",\"enabled\":\"yes\"}", "enabled" },
    { "{\"url\":\"http://a/\",\"enabled\":1}", "enabled" },
    { "{\"url\":42}", "url" },
    { "{\"name\":\"no url\"}", "url" },
    { "{\"url\":\"http://a/\",\"scan_config\":[]}", "scan_config" },
    { "{\"url\":\"http://a/\",\"alert_rules\":{}}", "alert_rules" },
    { "{\"url\":\"http://a/\",\"schedule\":null}", "schedule" },
    { "{\"url\":\"http://a/\",\"created_at\":\"yesterday\"}", "created_at" },
    { "{\"url\":\"http://a/\",\"created_at\":null}", "created_at" },
    { "{\"url\":\"http://a/\",\"next_run_at\":true}", "next_run_at" },
    { "{\"url\":\"http://a/\",\"id\":7}", "id" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqMonitor) m = parse_monitor (cases[i].json, &error);

      g_assert_null (m);
      g_assert_error (error, TSQ_MONITOR_ERROR, TSQ_MONITOR_ERROR_INVALID);
      if (strstr (error->message, cases[i].member) == NULL)
        g_error ("%s: message “%s” does not name “%s”", cases[i].json, error->message,
                 cases[i].member);
    }

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) array = tsq_json_from_string ("[1]", NULL);

    g_assert_null (tsq_monitor_from_json (array, &error));
    g_assert_error (error, TSQ_MONITOR_ERROR, TSQ_MONITOR_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_null (tsq_monitor_from_json (NULL, &error));
    g_assert_error (error, TSQ_MONITOR_ERROR, TSQ_MONITOR_ERROR_INVALID);
  }
}

static gboolean
only_every (const char *schedule, GError **error)
{
  if (g_str_has_prefix (schedule, "every "))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "expected “every …”");
  return FALSE;
}

static void
expect_invalid (TsqMonitor *m, const char *fragment)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (tsq_monitor_validate (m, &error));
  g_assert_error (error, TSQ_MONITOR_ERROR, TSQ_MONITOR_ERROR_INVALID);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message “%s” lacks “%s”", error->message, fragment);
}

static void
test_validate (void)
{
  g_autoptr (TsqMonitor) m = tsq_monitor_new ("x", "https://example.com/a?b=c", "every 5m");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) ignore = NULL;

  g_assert_true (tsq_monitor_validate (m, &error));
  g_assert_no_error (error);

#define WITH_URL(u)                                                                                \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_free (m->url);                                                                               \
    m->url = g_strdup (u);                                                                         \
  }                                                                                                \
  G_STMT_END
  WITH_URL ("ftp://example.com/");
  expect_invalid (m, "http");
  WITH_URL ("/relative/path");
  expect_invalid (m, "/relative/path");
  WITH_URL ("example.com");
  expect_invalid (m, "example.com");
  WITH_URL ("");
  expect_invalid (m, "url");
  WITH_URL ("http://127.0.0.1:8080/x");
  g_assert_true (tsq_monitor_validate (m, NULL));

  g_free (m->name);
  m->name = g_strdup ("  ");
  expect_invalid (m, "name");
  g_free (m->name);
  m->name = g_strdup ("ok");

  g_free (m->schedule);
  m->schedule = g_strdup ("");
  expect_invalid (m, "schedule");
  g_free (m->schedule);
  m->schedule = g_strdup ("cron * * * * *");
  g_assert_true (tsq_monitor_validate (m, NULL));

  tsq_monitor_set_schedule_validator (only_every);
  expect_invalid (m, "expected “every …”");
  g_free (m->schedule);
  m->schedule = g_strdup ("every 10m");
  g_assert_true (tsq_monitor_validate (m, NULL));
  tsq_monitor_set_schedule_validator (NULL);

  json_object_set_int_member (m->scan_config, "timeout_s", 0);
  expect_invalid (m, "timeout_s");
  json_object_set_double_member (m->scan_config, "timeout_s", 2.5);
  g_assert_true (tsq_monitor_validate (m, NULL));
  json_object_set_string_member (m->scan_config, "insecure_tls", "no");
  expect_invalid (m, "insecure_tls");
  json_object_set_boolean_member (m->scan_config, "insecure_tls", TRUE);
  ignore
    = tsq_json_from_string ("{\"regex\":[\"ok\",\"(unclosed\"],\"selectors\":[\".ad\"]}", NULL);
  json_object_set_member (m->scan_config, "ignore", json_node_copy (ignore));
  expect_invalid (m, "ignore.regex");
  g_clear_pointer (&ignore, json_node_unref);
  ignore = tsq_json_from_string ("{\"regex\":[\"\\\\d+\"],\"selectors\":[3]}", NULL);
  json_object_set_member (m->scan_config, "ignore", json_node_copy (ignore));
  expect_invalid (m, "ignore.selectors");
  g_clear_pointer (&ignore, json_node_unref);
  ignore = tsq_json_from_string ("{\"regex\":[\"\\\\d+\"],\"selectors\":[\"#clock\"]}", NULL);
  json_object_set_member (m->scan_config, "ignore", json_node_copy (ignore));
  g_assert_true (tsq_monitor_validate (m, NULL));
#undef WITH_URL
}

static void
test_copy_is_deep (void)
{
  g_autoptr (TsqMonitor) m = tsq_monitor_new ("a", "https://a.example/", "every 1h");
  g_autoptr (TsqMonitor) copy = NULL;

  json_object_set_int_member (m->scan_config, "timeout_s", 10);
  copy = tsq_monitor_copy (m);
  json_object_set_int_member (copy->scan_config, "timeout_s", 99);
  json_array_add_int_element (copy->alert_rules, 1);
  g_assert_cmpint (tsq_json_get_int (m->scan_config, "timeout_s", 0), ==, 10);
  g_assert_cmpuint (json_array_get_length (m->alert_rules), ==, 0);
  g_assert_cmpstr (copy->id, ==, m->id);
  g_assert_true (tsq_monitor_ref (copy) == copy);
  tsq_monitor_unref (copy);
}

static void
test_time_helpers (void)
{
  static const gint64 values[] = { 0, 1, 999999, 1714564800000000, -1, -1500000 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *iso = tsq_monitor_time_to_iso8601 (values[i]);
      gint64 back = G_MININT64;

      g_assert_true (tsq_monitor_time_from_iso8601 (iso, &back));
      g_assert_cmpint (back, ==, values[i]);
    }
  {
    g_autofree char *iso = tsq_monitor_time_to_iso8601 (-1500000);
    gint64 t;

    g_assert_cmpstr (iso, ==, "1969-12-31T23:59:58.500000Z");
    g_assert_false (tsq_monitor_time_from_iso8601 ("not a time", &t));
    g_assert_true (tsq_monitor_time_from_iso8601 ("2024-05-01T14:00:00+02:00", &t));
    g_assert_cmpint (t, ==, 1714564800000000);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/monitor/new-defaults", test_new_defaults);
  g_test_add_func ("/tsq/monitor/round-trip", test_round_trip);
  g_test_add_func ("/tsq/monitor/from-json-defaults", test_from_json_defaults);
  g_test_add_func ("/tsq/monitor/from-json-strict", test_from_json_strict);
  g_test_add_func ("/tsq/monitor/validate", test_validate);
  g_test_add_func ("/tsq/monitor/copy-is-deep", test_copy_is_deep);
  g_test_add_func ("/tsq/monitor/time-helpers", test_time_helpers);
  return g_test_run ();
}
