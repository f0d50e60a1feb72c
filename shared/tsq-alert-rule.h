/* tsq-alert-rule.h: alert rules (which changes alert, how loudly, to whom) and escalation
 * policies: parsing with errors that name the field, and matching against change objects
 * (docs/changes.md). The JSON schema is documented in docs/alerts.md.
 *
 * A TsqAlertRule and a TsqAlertEscalationPolicy are immutable after parsing and refcounted
 * (atomically): they may be shared between threads and matched concurrently.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TSQ_ALERT_RULE_ERROR (tsq_alert_rule_error_quark ())

typedef enum
{
  TSQ_ALERT_RULE_ERROR_INVALID, /* the message names the field: rules[2].match.type: ... */
} TsqAlertRuleError;

GQuark tsq_alert_rule_error_quark (void);

typedef enum
{
  TSQ_ALERT_SEVERITY_INFO,
  TSQ_ALERT_SEVERITY_WARNING,
  TSQ_ALERT_SEVERITY_CRITICAL,
} TsqAlertSeverity;

typedef enum
{
  TSQ_ALERT_GROUP_BY_DEFAULT, /* the engine's setting */
  TSQ_ALERT_GROUP_BY_MONITOR,
  TSQ_ALERT_GROUP_BY_RULE,
} TsqAlertGroupBy;

const char *tsq_alert_severity_to_string (TsqAlertSeverity severity);
gboolean tsq_alert_severity_from_string (const char *text, TsqAlertSeverity *severity);

/* The change types of docs/changes.md, NULL-terminated. */
const char *const *tsq_alert_known_change_types (void);
gboolean tsq_alert_is_known_change_type (const char *type);
/* The change types that clear an alert opened by `type` by default (availability.down <-
 * availability.up, ...); an empty (never NULL) NULL-terminated list for event-like types. */
const char *const *tsq_alert_default_resolve_on (const char *type);

typedef struct _TsqAlertRule TsqAlertRule;

/* Parses one rule. `path` prefixes error messages ("rules[2]"); NULL = "rule". */
TsqAlertRule *tsq_alert_rule_from_json (JsonNode *node, const char *path, GError **error);
/* Parses an array of rules (a monitor's alert_rules, the config's global rules); ids must be
 * unique. Errors are prefixed "<path>[i]" (path NULL = "rules"). Returns TsqAlertRule*s. */
GPtrArray *tsq_alert_rules_from_json (JsonArray *rules, const char *path, GError **error);
/* The built-in rules (ids "default.*") appended after the monitor's and the global rules. */
GPtrArray *tsq_alert_rules_get_defaults (void);

TsqAlertRule *tsq_alert_rule_ref (TsqAlertRule *rule);
void tsq_alert_rule_unref (TsqAlertRule *rule);
/* The rule as given (a deep copy of the parsed object). */
JsonNode *tsq_alert_rule_to_json (TsqAlertRule *rule);

/* TRUE when the rule is enabled and every matcher of it accepts the change. */
gboolean tsq_alert_rule_matches (TsqAlertRule *rule, JsonObject *change);

const char *tsq_alert_rule_get_id (TsqAlertRule *rule);
gboolean tsq_alert_rule_get_enabled (TsqAlertRule *rule);
/* "drop": matching changes never alert and later rules are not consulted. */
gboolean tsq_alert_rule_get_drop (TsqAlertRule *rule);
/* "continue": later rules are consulted after this one matched. */
gboolean tsq_alert_rule_get_continue (TsqAlertRule *rule);
/* The alert severity for a change matched by this rule (the rule's, else the change's, else
 * warning). */
TsqAlertSeverity tsq_alert_rule_get_severity_for (TsqAlertRule *rule, JsonObject *change);
/* NULL-terminated; NULL when the rule uses an escalation policy. */
const char *const *tsq_alert_rule_get_channels (TsqAlertRule *rule);
const char *tsq_alert_rule_get_escalation (TsqAlertRule *rule);
/* The types clearing an alert of `type` opened by this rule: the rule's "resolve_on" or the
 * defaults for the type. Never NULL. */
const char *const *tsq_alert_rule_get_resolve_on_for (TsqAlertRule *rule, const char *type);
TsqAlertGroupBy tsq_alert_rule_get_group_by (TsqAlertRule *rule);
/* 0 = the engine's default. */
gint64 tsq_alert_rule_get_repeat_interval_us (TsqAlertRule *rule);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqAlertRule, tsq_alert_rule_unref)

/* ---- escalation policies ----
 * {"name": "oncall", "levels": [{"channels": ["slack"], "delay_s": 600}, ...], "repeat": 1}
 * Level 1 is notified when the alert is first notified; if the alert is not acknowledged
 * within a level's delay_s, the next level is notified. After the last level's delay the
 * policy starts again at level 1, `repeat` more times. */

typedef struct _TsqAlertEscalationPolicy TsqAlertEscalationPolicy;

TsqAlertEscalationPolicy *
tsq_alert_escalation_policy_from_json (JsonNode *node, const char *path, GError **error);
TsqAlertEscalationPolicy *tsq_alert_escalation_policy_ref (TsqAlertEscalationPolicy *policy);
void tsq_alert_escalation_policy_unref (TsqAlertEscalationPolicy *policy);
JsonNode *tsq_alert_escalation_policy_to_json (TsqAlertEscalationPolicy *policy);
const char *tsq_alert_escalation_policy_get_name (TsqAlertEscalationPolicy *policy);
guint tsq_alert_escalation_policy_get_n_levels (TsqAlertEscalationPolicy *policy);
/* level is 1-based; NULL-terminated channels. */
const char *const *tsq_alert_escalation_policy_get_channels (TsqAlertEscalationPolicy *policy,
                                                             guint level);
gint64 tsq_alert_escalation_policy_get_delay_us (TsqAlertEscalationPolicy *policy, guint level);
guint tsq_alert_escalation_policy_get_repeat (TsqAlertEscalationPolicy *policy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqAlertEscalationPolicy, tsq_alert_escalation_policy_unref)

G_END_DECLS
