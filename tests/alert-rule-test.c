/* alert-rule-test.c: alert rule parsing (errors name the field), every match kind, defaults,
 * escalation policies. */
#include "tsq-alert-rule.h"
#include "tsq-json-util.h"

#include <string.h>

static JsonNode *
parse (const char *json)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = tsq_json_from_string (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static TsqAlertRule *
rule_new (const char *json)
{
  g_autoptr (JsonNode) node = parse (json);
  g_autoptr (GError) error = NULL;
  TsqAlertRule *rule = tsq_alert_rule_from_json (node, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rule);
  return rule;
}

static gboolean
matches (TsqAlertRule *rule, const char *change_json)
{
  g_autoptr (JsonNode) node = parse (change_json);

  return tsq_alert_rule_matches (rule, json_node_get_object (node));
}

static void
test_errors (void)
{
  static const struct
  {
    const char *json;
    const char *message;
  } cases[] = {
    { "[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\",\"match\":{\"type\":\"tech.added\"}}]",
      "rules[2].match.type: unknown change type \"tech.added\"" },
    { "[{\"match\":{}}]", "rules[0].id: missing" },
    { "[{\"id\":\"a b\"}]", "rules[0].id: expected 1-128 characters of [A-Za-z0-9_.:-]" },
    { "[{\"id\":\"a\"},{\"id\":\"a\"}]", "rules[1].id: duplicate id \"a\"" },
    { "[{\"id\":\"a\",\"colour\":1}]", "rules[0].colour: unknown member" },
    { "[{\"id\":\"a\",\"match\":{\"typ\":\"x\"}}]", "rules[0].match.typ: unknown member" },
    { "[{\"id\":\"a\",\"match\":[]}]", "rules[0].match: expected an object" },
    { "[{\"id\":\"a\",\"severity\":\"high\"}]",
      "rules[0].severity: expected \"info\", \"warning\" or \"critical\"" },
    { "[{\"id\":\"a\",\"channels\":[\"x\"],\"escalation\":\"p\"}]",
      "rules[0].escalation: \"channels\" and \"escalation\" are exclusive" },
    { "[{\"id\":\"a\",\"channels\":[]}]", "rules[0].channels: must not be empty" },
    { "[{\"id\":\"a\",\"channels\":[1]}]", "rules[0].channels[0]: expected a string" },
    { "[{\"id\":\"a\",\"channels\":\"\"}]", "rules[0].channels: empty string" },
    { "[{\"id\":\"a\",\"match\":{\"type\":[\"availability.down\",\"nope.*\"]}}]",
      "rules[0].match.type: unknown change type \"nope.*\"" },
    { "[{\"id\":\"a\",\"match\":{\"when\":\"foo > 1\"}}]",
      "rules[0].match.when: unknown field \"foo\"" },
    { "[{\"id\":\"a\",\"match\":{\"when\":\"increase_pct => 1\"}}]",
      "rules[0].match.when: expected one of < <= > >= == != after \"increase_pct\"" },
    { "[{\"id\":\"a\",\"match\":{\"when\":\"increase_pct >= fifty\"}}]",
      "rules[0].match.when: invalid number \"fifty\"" },
    { "[{\"id\":\"a\",\"match\":{\"when\":\"new > 1 && \"}}]",
      "rules[0].match.when: expected a field name in \" \"" },
    { "[{\"id\":\"a\",\"match\":{\"when\":\"new > 1 2\"}}]",
      "rules[0].match.when: unexpected text \"2\"" },
    { "[{\"id\":\"a\",\"match\":{\"when\":\"evidence. > 1\"}}]",
      "rules[0].match.when: unknown field \"evidence.\"" },
    { "[{\"id\":\"a\",\"match\":{\"status_class\":\"6xx\"}}]",
      "rules[0].match.status_class: expected \"1xx\" .. \"5xx\"" },
    { "[{\"id\":\"a\",\"match\":{\"change_severity\":\"high\"}}]",
      "rules[0].match.change_severity: unknown severity \"high\" (info, warning or critical)" },
    { "[{\"id\":\"a\",\"match\":{\"subject\":5}}]", "rules[0].match.subject: expected a string" },
    { "[{\"id\":\"a\",\"match\":{\"old\":[1]}}]",
      "rules[0].match.old: expected a string, number, boolean or null" },
    { "[{\"id\":\"a\",\"resolve_on\":\"availability.upp\"}]",
      "rules[0].resolve_on: unknown change type \"availability.upp\"" },
    { "[{\"id\":\"a\",\"group_by\":\"site\"}]",
      "rules[0].group_by: expected \"monitor\" or \"rule\"" },
    { "[{\"id\":\"a\",\"repeat_interval_s\":0}]",
      "rules[0].repeat_interval_s: expected a number of seconds in [1, 31622400]" },
    { "[{\"id\":\"a\",\"enabled\":\"yes\"}]", "rules[0].enabled: expected true or false" },
    { "[{\"id\":\"a\",\"escalation\":\"\"}]",
      "rules[0].escalation: expected the name of an escalation policy" },
    { "[5]", "rules[0]: expected an object" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (JsonNode) node = parse (cases[i].json);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) rules
        = tsq_alert_rules_from_json (json_node_get_array (node), NULL, &error);

      g_assert_null (rules);
      g_assert_error (error, TSQ_ALERT_RULE_ERROR, TSQ_ALERT_RULE_ERROR_INVALID);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }

  /* A regex error names the field and carries PCRE's reason. */
  {
    g_autoptr (JsonNode) node = parse ("[{\"id\":\"a\",\"match\":{\"subject_regex\":\"(\"}}]");
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) rules
      = tsq_alert_rules_from_json (json_node_get_array (node), "alert_rules", &error);

    g_assert_null (rules);
    g_assert_true (g_str_has_prefix (
      error->message, "alert_rules[0].match.subject_regex: invalid regular expression: "));
  }
}

static void
test_parse_ok (void)
{
  g_autoptr (JsonNode) node = parse (
    "[{\"id\":\"slow\",\"description\":\"TTFB\",\"match\":{\"type\":\"performance.degraded\","
    "\"subject\":\"ttfb_ms\",\"when\":[\"increase_pct >= 50 && increase_ms >= 300\"]},"
    "\"severity\":\"warning\",\"channels\":[\"slack\",\"mail\"],\"group_by\":\"rule\","
    "\"repeat_interval_s\":600},"
    "{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},\"escalation\":\"oncall\","
    "\"resolve_on\":[]}]");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rules
    = tsq_alert_rules_from_json (json_node_get_array (node), NULL, &error);
  TsqAlertRule *slow, *down;
  const char *const want_channels[] = { "slack", "mail", NULL };
  const char *const want_resolve[] = { "performance.improved", NULL };
  g_autoptr (JsonNode) back = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (rules->len, ==, 2);
  slow = g_ptr_array_index (rules, 0);
  down = g_ptr_array_index (rules, 1);
  g_assert_cmpstr (tsq_alert_rule_get_id (slow), ==, "slow");
  g_assert_true (g_strv_equal (tsq_alert_rule_get_channels (slow), want_channels));
  g_assert_null (tsq_alert_rule_get_escalation (slow));
  g_assert_cmpint (tsq_alert_rule_get_group_by (slow), ==, TSQ_ALERT_GROUP_BY_RULE);
  g_assert_cmpint (tsq_alert_rule_get_repeat_interval_us (slow), ==, 600 * G_USEC_PER_SEC);
  g_assert_true (
    g_strv_equal (tsq_alert_rule_get_resolve_on_for (slow, "performance.degraded"), want_resolve));
  g_assert_false (tsq_alert_rule_get_continue (slow));
  g_assert_false (tsq_alert_rule_get_drop (slow));

  g_assert_null (tsq_alert_rule_get_channels (down));
  g_assert_cmpstr (tsq_alert_rule_get_escalation (down), ==, "oncall");
  /* An explicit empty resolve_on disables the default availability.up. */
  g_assert_null (tsq_alert_rule_get_resolve_on_for (down, "availability.down")[0]);
  g_assert_cmpint (tsq_alert_rule_get_group_by (down), ==, TSQ_ALERT_GROUP_BY_DEFAULT);
  g_assert_cmpint (tsq_alert_rule_get_repeat_interval_us (down), ==, 0);

  back = tsq_alert_rule_to_json (slow);
  text = tsq_json_to_string (back, FALSE);
  g_assert_true (strstr (text, "\"repeat_interval_s\":600") != NULL);

  /* Without channels nor escalation: the channel "default". */
  {
    g_autoptr (TsqAlertRule) r = rule_new ("{\"id\":\"x\"}");
    const char *const def[] = { "default", NULL };

    g_assert_true (g_strv_equal (tsq_alert_rule_get_channels (r), def));
  }
}

static void
test_match_type (void)
{
  g_autoptr (TsqAlertRule) exact
    = rule_new ("{\"id\":\"r\",\"match\":{\"type\":\"technology.added\"}}");
  g_autoptr (TsqAlertRule) glob = rule_new ("{\"id\":\"r\",\"match\":{\"type\":\"technology.*\"}}");
  g_autoptr (TsqAlertRule) list
    = rule_new ("{\"id\":\"r\",\"match\":{\"type\":[\"availability.*\",\"status.changed\"]}}");
  g_autoptr (TsqAlertRule) any = rule_new ("{\"id\":\"r\"}");
  g_autoptr (TsqAlertRule) off = rule_new ("{\"id\":\"r\",\"enabled\":false}");
  const char *added = "{\"type\":\"technology.added\",\"subject\":\"jQuery\"}";
  const char *removed = "{\"type\":\"technology.removed\",\"subject\":\"jQuery\"}";
  const char *status = "{\"type\":\"status.changed\",\"subject\":\"u\"}";
  const char *up = "{\"type\":\"availability.up\",\"subject\":\"u\"}";

  g_assert_true (matches (exact, added));
  g_assert_false (matches (exact, removed));
  g_assert_true (matches (glob, added));
  g_assert_true (matches (glob, removed));
  g_assert_false (matches (glob, status));
  g_assert_true (matches (list, status));
  g_assert_true (matches (list, up));
  g_assert_false (matches (list, added));
  g_assert_true (matches (any, added));
  g_assert_false (matches (off, added));
  g_assert_false (matches (any, "{\"subject\":\"no type\"}"));
}

static void
test_match_technology_category (void)
{
  g_autoptr (TsqAlertRule) tech = rule_new ("{\"id\":\"r\",\"match\":{\"technology\":\"jquery\"}}");
  g_autoptr (TsqAlertRule) tglob
    = rule_new ("{\"id\":\"r\",\"match\":{\"technology\":[\"Word*\",\"Drupal\"]}}");
  g_autoptr (TsqAlertRule) cat = rule_new ("{\"id\":\"r\",\"match\":{\"category\":\"cms\"}}");
  const char *jq
    = "{\"type\":\"technology.version_changed\",\"subject\":\"jQuery\",\"old\":\"3.4.1\","
      "\"new\":\"3.7.1\",\"evidence\":{\"categories\":[\"JavaScript libraries\"]}}";
  const char *wp = "{\"type\":\"technology.added\",\"subject\":\"WordPress\",\"old\":null,"
                   "\"new\":\"6.1\",\"evidence\":{\"categories\":[\"CMS\",\"Blogs\"]}}";
  const char *vuln = "{\"type\":\"security.vulnerability_found\",\"subject\":\"CVE-2020-11022\","
                     "\"evidence\":{\"technology\":\"jQuery\",\"severity\":\"medium\"}}";
  const char *header = "{\"type\":\"security.header_removed\",\"subject\":\"jquery\"}";

  g_assert_true (matches (tech, jq));
  g_assert_false (matches (tech, wp));
  /* Vulnerabilities name their technology in the evidence. */
  g_assert_true (matches (tech, vuln));
  /* Only technology and vulnerability changes have a technology. */
  g_assert_false (matches (tech, header));
  g_assert_true (matches (tglob, wp));
  g_assert_false (matches (tglob, jq));
  g_assert_true (matches (cat, wp));
  g_assert_false (matches (cat, jq));
  g_assert_false (matches (cat, vuln));
}

static void
test_match_subject_values (void)
{
  g_autoptr (TsqAlertRule) subj = rule_new ("{\"id\":\"r\",\"match\":{\"subject\":\"ttfb_ms\"}}");
  g_autoptr (TsqAlertRule) subj_re
    = rule_new ("{\"id\":\"r\",\"match\":{\"subject_regex\":\"^/api/\"}}");
  g_autoptr (TsqAlertRule) old_eq = rule_new ("{\"id\":\"r\",\"match\":{\"old\":\"3.4.1\"}}");
  g_autoptr (TsqAlertRule) new_num = rule_new ("{\"id\":\"r\",\"match\":{\"new\":503}}");
  g_autoptr (TsqAlertRule) old_null = rule_new ("{\"id\":\"r\",\"match\":{\"old\":null}}");
  g_autoptr (TsqAlertRule) new_re
    = rule_new ("{\"id\":\"r\",\"match\":{\"new_regex\":\"^4\\\\.\"}}");
  g_autoptr (TsqAlertRule) old_re_num
    = rule_new ("{\"id\":\"r\",\"match\":{\"old_regex\":\"^20\\\\d$\"}}");
  g_autoptr (TsqAlertRule) sev
    = rule_new ("{\"id\":\"r\",\"match\":{\"change_severity\":[\"warning\",\"critical\"]}}");
  const char *perf = "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":100,"
                     "\"new\":400,\"severity\":\"warning\"}";
  const char *ep = "{\"type\":\"endpoint.added\",\"subject\":\"/api/users\",\"old\":null,"
                   "\"new\":\"api\",\"severity\":\"info\"}";
  const char *ver
    = "{\"type\":\"technology.version_changed\",\"subject\":\"jQuery\",\"old\":\"3.4.1\","
      "\"new\":\"4.0.0\",\"severity\":\"info\"}";
  const char *down = "{\"type\":\"availability.down\",\"subject\":\"https://x/\",\"old\":200,"
                     "\"new\":503,\"severity\":\"critical\"}";

  g_assert_true (matches (subj, perf));
  g_assert_false (matches (subj, ep));
  g_assert_true (matches (subj_re, ep));
  g_assert_false (matches (subj_re, perf));
  g_assert_true (matches (old_eq, ver));
  g_assert_false (matches (old_eq, ep));
  g_assert_true (matches (new_num, down));
  g_assert_false (matches (new_num, perf));
  g_assert_true (matches (old_null, ep));
  g_assert_false (matches (old_null, ver));
  g_assert_true (matches (new_re, ver));
  g_assert_false (matches (new_re, ep));
  /* Numbers are matched by their decimal text. */
  g_assert_true (matches (old_re_num, down));
  g_assert_false (matches (old_re_num, perf));
  g_assert_true (matches (sev, perf));
  g_assert_true (matches (sev, down));
  g_assert_false (matches (sev, ep));
}

static void
test_match_thresholds (void)
{
  g_autoptr (TsqAlertRule) perf
    = rule_new ("{\"id\":\"r\",\"match\":{\"type\":\"performance.degraded\","
                "\"when\":\"increase_pct >= 50 && increase_ms >= 300\"}}");
  g_autoptr (TsqAlertRule) cert = rule_new ("{\"id\":\"r\",\"match\":{\"type\":\"security."
                                            "certificate_expiring\",\"when\":\"days_left < 14\"}}");
  g_autoptr (TsqAlertRule) s5xx = rule_new ("{\"id\":\"r\",\"match\":{\"status_class\":\"5xx\"}}");
  g_autoptr (TsqAlertRule) ev = rule_new (
    "{\"id\":\"r\",\"match\":{\"when\":[\"evidence.similarity < 50\",\"confidence >= 75\"]}}");
  g_autoptr (TsqAlertRule) dec
    = rule_new ("{\"id\":\"r\",\"match\":{\"when\":\"decrease_pct > 10\"}}");

  /* 400 -> 700 ms: +75 %, +300 ms */
  g_assert_true (matches (
    perf, "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":400,\"new\":700}"));
  /* 400 -> 590: +47.5 % */
  g_assert_false (matches (
    perf, "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":400,\"new\":590}"));
  /* 100 -> 390: +290 % but only +290 ms */
  g_assert_false (matches (
    perf, "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":100,\"new\":390}"));
  /* doubles work too */
  g_assert_true (matches (
    perf,
    "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":600.5,\"new\":901.0}"));
  /* missing value: the condition fails */
  g_assert_false (matches (
    perf, "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":null,\"new\":900}"));
  /* old 0: no percentage */
  g_assert_false (matches (
    perf, "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":0,\"new\":900}"));

  g_assert_true (matches (
    cert, "{\"type\":\"security.certificate_expiring\",\"subject\":\"h\",\"old\":20,\"new\":13}"));
  g_assert_false (matches (
    cert, "{\"type\":\"security.certificate_expiring\",\"subject\":\"h\",\"old\":20,\"new\":14}"));

  g_assert_true (
    matches (s5xx, "{\"type\":\"status.changed\",\"subject\":\"u\",\"old\":200,\"new\":503}"));
  g_assert_false (
    matches (s5xx, "{\"type\":\"status.changed\",\"subject\":\"u\",\"old\":503,\"new\":404}"));
  g_assert_true (
    matches (s5xx, "{\"type\":\"availability.down\",\"subject\":\"u\",\"old\":200,\"new\":500}"));
  /* down by a timeout: no status in new, nor in the evidence */
  g_assert_false (matches (s5xx, "{\"type\":\"availability.down\",\"subject\":\"u\",\"old\":200,"
                                 "\"new\":\"timeout\",\"evidence\":{\"status\":null}}"));
  g_assert_true (matches (s5xx, "{\"type\":\"availability.down\",\"subject\":\"u\",\"old\":200,"
                                "\"new\":\"http_error\",\"evidence\":{\"status\":502}}"));

  g_assert_true (matches (ev, "{\"type\":\"content.changed\",\"subject\":\"u\",\"confidence\":80,"
                              "\"evidence\":{\"similarity\":40}}"));
  g_assert_false (matches (ev, "{\"type\":\"content.changed\",\"subject\":\"u\",\"confidence\":70,"
                               "\"evidence\":{\"similarity\":40}}"));
  g_assert_false (matches (ev, "{\"type\":\"content.changed\",\"subject\":\"u\",\"confidence\":80,"
                               "\"evidence\":{\"similarity\":60}}"));
  g_assert_true (matches (
    dec, "{\"type\":\"complexity.changed\",\"subject\":\"dom_nodes\",\"old\":1000,\"new\":800}"));
  g_assert_false (matches (
    dec, "{\"type\":\"complexity.changed\",\"subject\":\"dom_nodes\",\"old\":1000,\"new\":950}"));
}

static void
test_defaults (void)
{
  g_autoptr (GPtrArray) defaults = tsq_alert_rules_get_defaults ();
  const char *const down_resolve[] = { "availability.up", NULL };
  const char *const cert_resolve[] = { "security.certificate_renewed", NULL };
  static const struct
  {
    const char *change;
    const char *rule; /* NULL = none */
  } cases[] = {
    { "{\"type\":\"availability.down\",\"subject\":\"u\",\"old\":200,\"new\":\"timeout\","
      "\"severity\":\"critical\"}",
      "default.availability" },
    { "{\"type\":\"availability.up\",\"subject\":\"u\",\"severity\":\"info\"}", NULL },
    { "{\"type\":\"security.vulnerability_found\",\"subject\":\"CVE-1\",\"severity\":\"critical\"}",
      "default.vulnerability" },
    { "{\"type\":\"security.vulnerability_found\",\"subject\":\"CVE-2\",\"severity\":\"warning\"}",
      NULL },
    { "{\"type\":\"security.certificate_expiring\",\"subject\":\"h\",\"old\":5,\"new\":2,"
      "\"severity\":\"critical\"}",
      "default.certificate" },
    { "{\"type\":\"security.certificate_expiring\",\"subject\":\"h\",\"old\":15,\"new\":10,"
      "\"severity\":\"warning\"}",
      NULL },
    { "{\"type\":\"technology.added\",\"subject\":\"jQuery\",\"severity\":\"info\"}", NULL },
    { "{\"type\":\"performance.degraded\",\"subject\":\"ttfb_ms\",\"old\":100,\"new\":900,"
      "\"severity\":\"warning\"}",
      NULL },
  };

  g_assert_cmpuint (defaults->len, ==, 3);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *hit = NULL;

      for (guint k = 0; k < defaults->len && hit == NULL; k++)
        if (matches (g_ptr_array_index (defaults, k), cases[i].change))
          {
            TsqAlertRule *r = g_ptr_array_index (defaults, k);
            g_autoptr (JsonNode) c = parse (cases[i].change);

            hit = tsq_alert_rule_get_id (r);
            g_assert_cmpint (tsq_alert_rule_get_severity_for (r, json_node_get_object (c)), ==,
                             TSQ_ALERT_SEVERITY_CRITICAL);
          }
      g_assert_cmpstr (hit, ==, cases[i].rule);
    }
  g_assert_true (g_strv_equal (tsq_alert_default_resolve_on ("availability.down"), down_resolve));
  g_assert_true (
    g_strv_equal (tsq_alert_default_resolve_on ("security.certificate_expiring"), cert_resolve));
  g_assert_cmpstr (tsq_alert_default_resolve_on ("performance.degraded")[0], ==,
                   "performance.improved");
  g_assert_cmpstr (tsq_alert_default_resolve_on ("security.vulnerability_found")[0], ==,
                   "security.vulnerability_resolved");
  g_assert_null (tsq_alert_default_resolve_on ("technology.added")[0]);
  g_assert_true (tsq_alert_is_known_change_type ("complexity.changed"));
  g_assert_false (tsq_alert_is_known_change_type ("tech.added"));
  g_assert_cmpuint (g_strv_length ((char **)tsq_alert_known_change_types ()), ==, 22);
}

static void
test_severity_for (void)
{
  g_autoptr (TsqAlertRule) fixed = rule_new ("{\"id\":\"r\",\"severity\":\"info\"}");
  g_autoptr (TsqAlertRule) follow = rule_new ("{\"id\":\"r\"}");
  g_autoptr (JsonNode) crit = parse ("{\"type\":\"availability.down\",\"severity\":\"critical\"}");
  g_autoptr (JsonNode) none = parse ("{\"type\":\"availability.down\"}");

  g_assert_cmpint (tsq_alert_rule_get_severity_for (fixed, json_node_get_object (crit)), ==,
                   TSQ_ALERT_SEVERITY_INFO);
  g_assert_cmpint (tsq_alert_rule_get_severity_for (follow, json_node_get_object (crit)), ==,
                   TSQ_ALERT_SEVERITY_CRITICAL);
  g_assert_cmpint (tsq_alert_rule_get_severity_for (follow, json_node_get_object (none)), ==,
                   TSQ_ALERT_SEVERITY_WARNING);
}

static void
test_policy (void)
{
  g_autoptr (JsonNode) node
    = parse ("{\"name\":\"oncall\",\"levels\":[{\"channels\":[\"slack\"],\"delay_s\":300},"
             "{\"channels\":[\"sms\",\"mail\"],\"delay_s\":600}],\"repeat\":2}");
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAlertEscalationPolicy) p
    = tsq_alert_escalation_policy_from_json (node, NULL, &error);
  const char *const l2[] = { "sms", "mail", NULL };
  static const struct
  {
    const char *json;
    const char *message;
  } bad[] = {
    { "{\"levels\":[{\"channels\":[\"a\"],\"delay_s\":1}]}",
      "policies[0].name: expected 1-128 characters of [A-Za-z0-9_.:-]" },
    { "{\"name\":\"p\",\"levels\":[]}", "policies[0].levels: expected an array of 1 to 16 levels" },
    { "{\"name\":\"p\",\"levels\":[{\"channels\":[\"a\"],\"delay_s\":1},{\"channels\":[\"b\"]}]}",
      "policies[0].levels[1].delay_s: expected a number of seconds in [1, 2592000]" },
    { "{\"name\":\"p\",\"levels\":[{\"delay_s\":5}]}", "policies[0].levels[0].channels: missing" },
    { "{\"name\":\"p\",\"levels\":[{\"channels\":[\"a\"],\"delay_s\":5,\"x\":1}]}",
      "policies[0].levels[0].x: unknown member" },
    { "{\"name\":\"p\",\"levels\":[{\"channels\":[\"a\"],\"delay_s\":5}],\"repeat\":1.5}",
      "policies[0].repeat: expected an integer in [0, 100]" },
  };

  g_assert_no_error (error);
  g_assert_cmpstr (tsq_alert_escalation_policy_get_name (p), ==, "oncall");
  g_assert_cmpuint (tsq_alert_escalation_policy_get_n_levels (p), ==, 2);
  g_assert_cmpstr (tsq_alert_escalation_policy_get_channels (p, 1)[0], ==, "slack");
  g_assert_true (g_strv_equal (tsq_alert_escalation_policy_get_channels (p, 2), l2));
  g_assert_cmpint (tsq_alert_escalation_policy_get_delay_us (p, 1), ==, 300 * G_USEC_PER_SEC);
  g_assert_cmpint (tsq_alert_escalation_policy_get_delay_us (p, 2), ==, 600 * G_USEC_PER_SEC);
  g_assert_cmpuint (tsq_alert_escalation_policy_get_repeat (p), ==, 2);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) n = parse (bad[i].json);
      g_autoptr (GError) e = NULL;
      g_autoptr (TsqAlertEscalationPolicy) q
        = tsq_alert_escalation_policy_from_json (n, "policies[0]", &e);

      g_assert_null (q);
      g_assert_cmpstr (e->message, ==, bad[i].message);
    }
}

static void
test_hostile (void)
{
  /* Huge lists and garbage never crash: they are refused with a message. */
  g_autoptr (GString) s = g_string_new ("{\"id\":\"r\",\"channels\":[");
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqAlertRule) rule = NULL;

  for (int i = 0; i < 100; i++)
    g_string_append_printf (s, "%s\"c%d\"", i ? "," : "", i);
  g_string_append (s, "]}");
  node = parse (s->str);
  rule = tsq_alert_rule_from_json (node, NULL, &error);
  g_assert_null (rule);
  g_assert_cmpstr (error->message, ==, "rule.channels: at most 64 entries");
  g_assert_null (tsq_alert_rule_from_json (NULL, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/alert-rule/errors", test_errors);
  g_test_add_func ("/tsq/alert-rule/parse-ok", test_parse_ok);
  g_test_add_func ("/tsq/alert-rule/match-type", test_match_type);
  g_test_add_func ("/tsq/alert-rule/match-technology-category", test_match_technology_category);
  g_test_add_func ("/tsq/alert-rule/match-subject-values", test_match_subject_values);
  g_test_add_func ("/tsq/alert-rule/match-thresholds", test_match_thresholds);
  g_test_add_func ("/tsq/alert-rule/defaults", test_defaults);
  g_test_add_func ("/tsq/alert-rule/severity-for", test_severity_for);
  g_test_add_func ("/tsq/alert-rule/policy", test_policy);
  g_test_add_func ("/tsq/alert-rule/hostile", test_hostile);
  return g_test_run ();
}
