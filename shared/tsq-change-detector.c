/* tsq-change-detector.c: the changes between two scan results (docs/changes.md).
 *
 * The state is what makes this more than a diff of two JSON objects: it keeps the facts of the
 * last GOOD scan (so an outage neither reports every technology as removed nor makes the next
 * good scan compare against the failed one), the rolling performance samples and regime
 * (so a persistent slowdown is one change, not one per scan) and the confirmation counters that
 * keep low-confidence detections from flickering.  Inputs are never modified: they may be sealed
 * objects from an immutable parser, and everything stored in the state is deep-copied.
 */
#define G_LOG_DOMAIN "tsq-changes"

#include "tsq-change-detector.h"

#include <math.h>
#include <string.h>

#include "tsq-json-util.h"
#include "tsq-text-diff.h"

/* Old content text kept in the state for diffs after an outage (the full text is in `previous`
 * in the common case). */
#define STATE_TEXT_MAX (64 * 1024)
#define SHORT_HASH_LEN 12
/* Bounds on lists read from a result (hostile pages can list anything). */
#define LIST_MAX 2000
#define COOKIES_MAX 200
#define REDIRECTS_MAX 20
#define MIXED_EVIDENCE_MAX 20
#define SUMMARY_MAX 500

void
tsq_change_thresholds_init (TsqChangeThresholds *t)
{
  g_return_if_fail (t != NULL);

  t->baseline_scans = 10;
  t->min_baseline_scans = 3;
  t->perf_relative = 0.5;
  t->perf_absolute_ms = 200;
  t->perf_consecutive = 3;
  t->content_min_change = 0.0;
  t->cert_expiry_days = 14;
  t->complexity_relative = 0.25;
  t->complexity_min_abs = 5;
  t->diff_max_lines = 20;
  t->tech_min_confidence = 50;
  t->tech_confirm_scans = 2;
  t->complexity_min_bytes = 50 * 1024;
}

typedef struct
{
  TsqChangeThresholds t;
  JsonArray *changes;
  JsonObject *current;
  const char *url;     /* subject for page-level changes */
  gboolean incomplete; /* body truncated or linked resources failed */
} Ctx;

/* ---------------------------------------------------------------- JSON helpers */

static JsonNode *
node_null (void)
{
  return json_node_new (JSON_NODE_NULL);
}

static JsonNode *
node_string (const char *s)
{
  return s != NULL ? json_node_init_string (json_node_alloc (), s) : node_null ();
}

static JsonNode *
node_int (gint64 v)
{
  return json_node_init_int (json_node_alloc (), v);
}

static JsonNode *
node_double (double v)
{
  return json_node_init_double (json_node_alloc (), v);
}

static JsonNode *
node_take_array (JsonArray *array)
{
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  json_node_take_array (node, array);
  return node;
}

/* Copies that share nothing with their source: json_node_copy() shares containers. */
static JsonNode *
deep_copy (JsonNode *node)
{
  return node ? tsq_json_node_deep_copy (node) : node_null ();
}

static JsonObject *
deep_copy_object (JsonObject *object)
{
  return object ? tsq_json_object_deep_copy (object) : json_object_new ();
}

static JsonArray *
deep_copy_array (JsonArray *array)
{
  return array ? tsq_json_array_deep_copy (array) : json_array_new ();
}

/* Copies member `name` of `from` (if any) into `to`. */
static void
copy_member (JsonObject *to, JsonObject *from, const char *name)
{
  JsonNode *node = from ? json_object_get_member (from, name) : NULL;

  if (node != NULL)
    json_object_set_member (to, name, deep_copy (node));
}

static gboolean
get_number (JsonObject *object, const char *member, double *out)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;
  GType type;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return FALSE;
  type = json_node_get_value_type (node);
  if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
    return FALSE;
  *out = tsq_json_get_double (object, member, 0);
  return isfinite (*out);
}

/* A non-empty string member, or NULL. */
static const char *
get_text (JsonObject *object, const char *member)
{
  const char *s = tsq_json_get_string (object, member, NULL);

  return s != NULL && *s != '\0' ? s : NULL;
}

static void
set_string_or_null (JsonObject *object, const char *member, const char *value)
{
  json_object_set_member (object, member, node_string (value));
}

static char *
cap_utf8 (const char *s, gsize max, gboolean *truncated)
{
  gsize len = strlen (s);

  if (truncated)
    *truncated = len > max;
  if (len <= max)
    return g_strdup (s);
  while (max > 0 && ((guchar)s[max] & 0xC0) == 0x80)
    max--;
  return g_strndup (s, max);
}

static double
round1 (double v)
{
  return round (v * 10.0) / 10.0;
}

/* Strings of a JSON array of strings, as a set (keys owned by the table). */
static GHashTable *
string_set (JsonArray *array, guint max)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint len = array ? json_array_get_length (array) : 0;

  for (guint i = 0; i < len && i < max; i++)
    {
      JsonNode *node = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        g_hash_table_add (set, g_strdup (json_node_get_string (node)));
    }
  return set;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

static JsonArray *
sorted_string_array (GHashTable *set)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  JsonArray *array = json_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, key);

  g_ptr_array_sort (keys, compare_strings);
  for (guint i = 0; i < keys->len; i++)
    json_array_add_string_element (array, keys->pdata[i]);
  return array;
}

/* ---------------------------------------------------------------- changes */

static void
add_change (Ctx *ctx,
            const char *type,
            const char *subject,
            JsonNode *old_value,
            JsonNode *new_value,
            int confidence,
            JsonObject *evidence,
            const char *severity)
{
  JsonObject *change = json_object_new ();

  json_object_set_string_member (change, "type", type);
  json_object_set_string_member (change, "subject", subject ? subject : "");
  json_object_set_member (change, "old", old_value ? old_value : node_null ());
  json_object_set_member (change, "new", new_value ? new_value : node_null ());
  json_object_set_int_member (change, "confidence", CLAMP (confidence, 0, 100));
  json_object_set_object_member (change, "evidence", evidence ? evidence : json_object_new ());
  json_object_set_string_member (change, "severity", severity);
  json_array_add_object_element (ctx->changes, change);
}

/* ---------------------------------------------------------------- result classification */

static const char *
result_error_kind (JsonObject *result)
{
  JsonNode *node = json_object_get_member (result, "error");

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      const char *kind = get_text (json_node_get_object (node), "kind");

      return kind ? kind : "unknown";
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  return "unknown";
}

static gint64
result_status (JsonObject *result)
{
  gint64 status = tsq_json_get_int (result, "status", -1);

  return status >= 100 && status <= 999 ? status : -1;
}

/* Up: the server answered with a status below 500.  not_html and body_too_large are errors for
 * the analysis but the site itself answered. */
static gboolean
result_is_up (JsonObject *result)
{
  const char *kind = result_error_kind (result);
  gint64 status = result_status (result);

  if (kind != NULL && g_strcmp0 (kind, "not_html") != 0 && g_strcmp0 (kind, "body_too_large") != 0)
    return FALSE;
  return status > 0 && status < 500;
}

/* Good: comparable content; feeds the last-good facts and the performance baseline. */
static gboolean
result_is_good (JsonObject *result)
{
  gint64 status = result_status (result);

  return result_error_kind (result) == NULL && status > 0 && status < 400;
}

static gboolean
result_is_incomplete (JsonObject *result)
{
  return tsq_json_get_boolean (tsq_json_get_object (result, "size"), "truncated", FALSE)
         || tsq_json_get_int (tsq_json_get_object (result, "resources"), "failed", 0) > 0;
}

/* ---------------------------------------------------------------- availability */

static char *
url_without_query (const char *url)
{
  return url ? g_strndup (url, strcspn (url, "?#")) : NULL;
}

static JsonObject *
availability_facts (JsonObject *result)
{
  JsonObject *av = json_object_new ();
  JsonArray *redirects = tsq_json_get_array (result, "redirects");
  JsonArray *hops = json_array_new ();
  gint64 status = result_status (result);
  JsonObject *error = tsq_json_get_object (result, "error");
  guint len = redirects ? json_array_get_length (redirects) : 0;

  json_object_set_boolean_member (av, "up", result_is_up (result));
  json_object_set_member (av, "status", status > 0 ? node_int (status) : node_null ());
  set_string_or_null (av, "error", result_error_kind (result));
  if (error != NULL && get_text (error, "message") != NULL)
    {
      g_autofree char *message = cap_utf8 (get_text (error, "message"), SUMMARY_MAX, NULL);

      json_object_set_string_member (av, "error_message", message);
    }
  set_string_or_null (av, "final_url", get_text (result, "final_url"));
  set_string_or_null (av, "scanned_at", get_text (result, "scanned_at"));
  for (guint i = 0; i < len && i < REDIRECTS_MAX; i++)
    {
      JsonNode *node = json_array_get_element (redirects, i);
      JsonObject *hop;
      JsonObject *copy;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      hop = json_node_get_object (node);
      copy = json_object_new ();
      set_string_or_null (copy, "url", get_text (hop, "url"));
      json_object_set_int_member (copy, "status", tsq_json_get_int (hop, "status", 0));
      json_array_add_object_element (hops, copy);
    }
  json_object_set_array_member (av, "redirects", hops);
  return av;
}

static gboolean
redirect_statuses_equal (JsonArray *a, JsonArray *b)
{
  guint len = a ? json_array_get_length (a) : 0;

  if (len != (b ? json_array_get_length (b) : 0))
    return FALSE;
  for (guint i = 0; i < len; i++)
    {
      JsonNode *na = json_array_get_element (a, i);
      JsonNode *nb = json_array_get_element (b, i);

      if (!JSON_NODE_HOLDS_OBJECT (na) || !JSON_NODE_HOLDS_OBJECT (nb))
        return FALSE;
      if (tsq_json_get_int (json_node_get_object (na), "status", 0)
          != tsq_json_get_int (json_node_get_object (nb), "status", 0))
        return FALSE;
    }
  return TRUE;
}

/* The down/up value of an availability record: the error kind, else the status. */
static JsonNode *
availability_value (JsonObject *av)
{
  const char *kind = get_text (av, "error");
  gint64 status = tsq_json_get_int (av, "status", -1);

  if (kind != NULL)
    return node_string (kind);
  if (status > 0)
    return node_int (status);
  return node_string ("no_response");
}

static JsonObject *
detect_availability (Ctx *ctx, JsonObject *base)
{
  JsonObject *av = availability_facts (ctx->current);
  gboolean up = tsq_json_get_boolean (av, "up", FALSE);
  gboolean was_up;

  if (base == NULL)
    {
      if (!up)
        {
          /* The first scan is the baseline, but a new monitor on a dead site must not stay
           * silent: there is no previous state to compare with, so "old" is null. */
          JsonObject *ev = json_object_new ();

          copy_member (ev, av, "error");
          copy_member (ev, av, "error_message");
          copy_member (ev, av, "status");
          copy_member (ev, av, "final_url");
          json_object_set_boolean_member (ev, "first_scan", TRUE);
          add_change (ctx, "availability.down", ctx->url, json_node_init_null (json_node_alloc ()),
                      availability_value (av), 100, ev, "critical");
          json_object_set_member (av, "down_since",
                                  deep_copy (json_object_get_member (av, "scanned_at")));
          json_object_set_int_member (av, "failed_scans", 1);
        }
      return av;
    }
  was_up = tsq_json_get_boolean (base, "up", TRUE);

  if (was_up && !up)
    {
      JsonObject *ev = json_object_new ();

      copy_member (ev, av, "error");
      copy_member (ev, av, "error_message");
      copy_member (ev, av, "status");
      copy_member (ev, av, "final_url");
      add_change (ctx, "availability.down", ctx->url,
                  deep_copy (json_object_get_member (base, "status")), availability_value (av), 100,
                  ev, "critical");
      json_object_set_member (av, "down_since",
                              deep_copy (json_object_get_member (av, "scanned_at")));
      json_object_set_int_member (av, "failed_scans", 1);
    }
  else if (!was_up && up)
    {
      JsonObject *ev = json_object_new ();

      copy_member (ev, base, "down_since");
      json_object_set_int_member (ev, "failed_scans", tsq_json_get_int (base, "failed_scans", 1));
      copy_member (ev, av, "final_url");
      add_change (ctx, "availability.up", ctx->url, availability_value (base),
                  deep_copy (json_object_get_member (av, "status")), 100, ev, "info");
    }
  else if (!was_up && !up)
    {
      copy_member (av, base, "down_since");
      json_object_set_int_member (av, "failed_scans",
                                  tsq_json_get_int (base, "failed_scans", 0) + 1);
    }
  else
    {
      gint64 old_status = tsq_json_get_int (base, "status", -1);
      gint64 new_status = tsq_json_get_int (av, "status", -1);
      const char *old_final = get_text (base, "final_url");
      const char *new_final = get_text (av, "final_url");
      g_autofree char *old_final_cmp = url_without_query (old_final);
      g_autofree char *new_final_cmp = url_without_query (new_final);

      if (old_status > 0 && new_status > 0 && old_status != new_status)
        {
          JsonObject *ev = json_object_new ();

          set_string_or_null (ev, "final_url_old", old_final);
          set_string_or_null (ev, "final_url_new", new_final);
          add_change (ctx, "status.changed", ctx->url, node_int (old_status), node_int (new_status),
                      100, ev, new_status >= 400 ? "warning" : "info");
        }
      /* The query and fragment are ignored: session ids and tracking parameters in a redirect
       * target would otherwise report a change on every scan. */
      if ((old_final_cmp != NULL && new_final_cmp != NULL
           && g_strcmp0 (old_final_cmp, new_final_cmp) != 0)
          || !redirect_statuses_equal (tsq_json_get_array (base, "redirects"),
                                       tsq_json_get_array (av, "redirects")))
        {
          JsonObject *ev = json_object_new ();

          json_object_set_member (ev, "redirects_old",
                                  deep_copy (json_object_get_member (base, "redirects")));
          json_object_set_member (ev, "redirects_new",
                                  deep_copy (json_object_get_member (av, "redirects")));
          add_change (ctx, "redirect.changed", ctx->url, node_string (old_final),
                      node_string (new_final), 100, ev, "info");
        }
    }
  return av;
}

/* ---------------------------------------------------------------- performance */

typedef struct
{
  GArray *samples;     /* baseline samples (normal regime only), oldest first */
  GArray *slow_run;    /* consecutive scans above the band (normal regime) */
  GArray *fast_run;    /* consecutive scans below the band (normal regime) */
  GArray *recover_run; /* consecutive scans back inside the band (degraded regime) */
  GArray *degraded;    /* recent values while degraded (for the improved change) */
  gboolean is_degraded;
} PerfState;

static GArray *
doubles_from (JsonObject *object, const char *member, guint max)
{
  GArray *values = g_array_new (FALSE, FALSE, sizeof (double));
  JsonArray *array = tsq_json_get_array (object, member);
  guint len = array ? json_array_get_length (array) : 0;

  for (guint i = len > max ? len - max : 0; i < len; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      double v;

      if (!JSON_NODE_HOLDS_VALUE (node))
        continue;
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        v = json_node_get_double (node);
      else if (json_node_get_value_type (node) == G_TYPE_INT64)
        v = (double)json_node_get_int (node);
      else
        continue;
      if (isfinite (v) && v >= 0)
        g_array_append_val (values, v);
    }
  return values;
}

static JsonNode *
doubles_node (GArray *values)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < values->len; i++)
    json_array_add_double_element (array, round1 (g_array_index (values, double, i)));
  return node_take_array (array);
}

static void
push_capped (GArray *values, double v, guint max)
{
  g_array_append_val (values, v);
  if (values->len > max)
    g_array_remove_range (values, 0, values->len - max);
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a;
  double y = *(const double *)b;

  return x < y ? -1 : x > y ? 1 : 0;
}

static double
median (GArray *values)
{
  g_autoptr (GArray) sorted = NULL;
  guint n = values->len;

  if (n == 0)
    return 0;
  sorted = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
  g_array_append_vals (sorted, values->data, n);
  g_array_sort (sorted, compare_doubles);
  if (n % 2 == 1)
    return g_array_index (sorted, double, n / 2);
  return (g_array_index (sorted, double, n / 2 - 1) + g_array_index (sorted, double, n / 2)) / 2;
}

static gboolean
is_slow (const TsqChangeThresholds *t, double baseline, double v)
{
  return v > baseline * (1 + t->perf_relative) && v - baseline > t->perf_absolute_ms;
}

static gboolean
is_fast (const TsqChangeThresholds *t, double baseline, double v)
{
  return v * (1 + t->perf_relative) < baseline && baseline - v > t->perf_absolute_ms;
}

static JsonObject *
perf_evidence (const TsqChangeThresholds *t, double baseline, GArray *samples, GArray *values)
{
  JsonObject *ev = json_object_new ();

  json_object_set_double_member (ev, "baseline_ms", round1 (baseline));
  json_object_set_int_member (ev, "baseline_samples", samples->len);
  json_object_set_member (ev, "values_ms", doubles_node (values));
  json_object_set_double_member (ev, "relative_threshold", t->perf_relative);
  json_object_set_double_member (ev, "absolute_threshold_ms", t->perf_absolute_ms);
  json_object_set_int_member (ev, "consecutive", t->perf_consecutive);
  return ev;
}

static int
perf_confidence (const TsqChangeThresholds *t, GArray *samples)
{
  /* More baseline samples, more trust: 50 + 50 * n / N. */
  return 50 + (int)(50.0 * MIN (samples->len, t->baseline_scans) / MAX (t->baseline_scans, 1));
}

static void
perf_step (Ctx *ctx, const char *metric, PerfState *ps, double v)
{
  const TsqChangeThresholds *t = &ctx->t;
  double baseline;

  if (!ps->is_degraded && ps->samples->len < t->min_baseline_scans)
    {
      push_capped (ps->samples, v, t->baseline_scans);
      return;
    }
  baseline = median (ps->samples);

  if (!ps->is_degraded)
    {
      if (is_slow (t, baseline, v))
        {
          g_array_set_size (ps->fast_run, 0);
          g_array_append_val (ps->slow_run, v);
          if (ps->slow_run->len >= t->perf_consecutive)
            {
              add_change (ctx, "performance.degraded", metric, node_double (round1 (baseline)),
                          node_double (round1 (median (ps->slow_run))),
                          perf_confidence (t, ps->samples),
                          perf_evidence (t, baseline, ps->samples, ps->slow_run), "warning");
              ps->is_degraded = TRUE;
              g_array_set_size (ps->degraded, 0);
              g_array_append_vals (ps->degraded, ps->slow_run->data, ps->slow_run->len);
              g_array_set_size (ps->slow_run, 0);
            }
        }
      else if (is_fast (t, baseline, v))
        {
          g_array_set_size (ps->slow_run, 0);
          g_array_append_val (ps->fast_run, v);
          if (ps->fast_run->len >= t->perf_consecutive)
            {
              JsonObject *ev = perf_evidence (t, baseline, ps->samples, ps->fast_run);

              json_object_set_boolean_member (ev, "recovered", FALSE);
              add_change (ctx, "performance.improved", metric, node_double (round1 (baseline)),
                          node_double (round1 (median (ps->fast_run))),
                          perf_confidence (t, ps->samples), ev, "info");
              /* The faster level is the new normal. */
              g_array_set_size (ps->samples, 0);
              g_array_append_vals (ps->samples, ps->fast_run->data, ps->fast_run->len);
              g_array_set_size (ps->fast_run, 0);
            }
        }
      else
        {
          /* A value inside the band breaks any pending run; the run's values are dropped so an
           * isolated spike never enters the baseline. */
          g_array_set_size (ps->slow_run, 0);
          g_array_set_size (ps->fast_run, 0);
          push_capped (ps->samples, v, t->baseline_scans);
        }
      return;
    }

  /* Degraded: the baseline is frozen (degraded samples must not make slow look normal). */
  if (is_slow (t, baseline, v))
    {
      g_array_set_size (ps->recover_run, 0);
      push_capped (ps->degraded, v, t->baseline_scans);
      return;
    }
  g_array_append_val (ps->recover_run, v);
  if (ps->recover_run->len >= t->perf_consecutive)
    {
      JsonObject *ev = perf_evidence (t, baseline, ps->samples, ps->recover_run);

      json_object_set_boolean_member (ev, "recovered", TRUE);
      json_object_set_member (ev, "degraded_values_ms", doubles_node (ps->degraded));
      add_change (ctx, "performance.improved", metric, node_double (round1 (median (ps->degraded))),
                  node_double (round1 (median (ps->recover_run))), perf_confidence (t, ps->samples),
                  ev, "info");
      ps->is_degraded = FALSE;
      for (guint i = 0; i < ps->recover_run->len; i++)
        push_capped (ps->samples, g_array_index (ps->recover_run, double, i), t->baseline_scans);
      g_array_set_size (ps->recover_run, 0);
      g_array_set_size (ps->degraded, 0);
    }
}

static JsonObject *
detect_performance (Ctx *ctx, JsonObject *base, gboolean good)
{
  static const char *const metrics[] = { "ttfb_ms", "total_ms" };
  JsonObject *perf = json_object_new ();
  JsonObject *timings = tsq_json_get_object (ctx->current, "timings");
  guint n = ctx->t.baseline_scans;

  for (guint i = 0; i < G_N_ELEMENTS (metrics); i++)
    {
      JsonObject *ms = tsq_json_get_object (base, metrics[i]);
      JsonObject *out = json_object_new ();
      PerfState ps;
      double v;

      ps.samples = doubles_from (ms, "samples", n);
      ps.slow_run = doubles_from (ms, "slow_run", n);
      ps.fast_run = doubles_from (ms, "fast_run", n);
      ps.recover_run = doubles_from (ms, "recover_run", n);
      ps.degraded = doubles_from (ms, "degraded_values", n);
      ps.is_degraded = g_strcmp0 (tsq_json_get_string (ms, "regime", NULL), "degraded") == 0
                       && ps.samples->len > 0;

      /* 0 means "not applicable" (docs/scan-result.md): not a sample. */
      if (good && get_number (timings, metrics[i], &v) && v > 0)
        perf_step (ctx, metrics[i], &ps, v);

      json_object_set_string_member (out, "regime", ps.is_degraded ? "degraded" : "normal");
      json_object_set_member (out, "samples", doubles_node (ps.samples));
      json_object_set_member (out, "slow_run", doubles_node (ps.slow_run));
      json_object_set_member (out, "fast_run", doubles_node (ps.fast_run));
      json_object_set_member (out, "recover_run", doubles_node (ps.recover_run));
      json_object_set_member (out, "degraded_values", doubles_node (ps.degraded));
      json_object_set_object_member (perf, metrics[i], out);
      g_array_unref (ps.samples);
      g_array_unref (ps.slow_run);
      g_array_unref (ps.fast_run);
      g_array_unref (ps.recover_run);
      g_array_unref (ps.degraded);
    }
  return perf;
}

/* ---------------------------------------------------------------- technologies */

static JsonObject *
tech_entry (JsonObject *tech)
{
  JsonObject *entry = json_object_new ();
  JsonArray *categories = tsq_json_get_array (tech, "categories");

  set_string_or_null (entry, "name", get_text (tech, "name"));
  set_string_or_null (entry, "version", get_text (tech, "version"));
  json_object_set_int_member (entry, "confidence",
                              CLAMP (tsq_json_get_int (tech, "confidence", 100), 0, 100));
  json_object_set_array_member (entry, "categories", deep_copy_array (categories));
  return entry;
}

/* name -> tech object (borrowed), first occurrence wins. */
static GHashTable *
tech_map (JsonArray *array)
{
  GHashTable *map = g_hash_table_new (g_str_hash, g_str_equal);
  guint len = array ? json_array_get_length (array) : 0;

  for (guint i = 0; i < len && g_hash_table_size (map) < LIST_MAX; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *name;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      name = get_text (json_node_get_object (node), "name");
      if (name != NULL && !g_hash_table_contains (map, name))
        g_hash_table_insert (map, (gpointer)name, json_node_get_object (node));
    }
  return map;
}

static GPtrArray *
sorted_union (GHashTable *a, GHashTable *b)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, key);
  g_hash_table_iter_init (&iter, b);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (a, key))
      g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_strings);
  return names;
}

static JsonObject *
tech_evidence (JsonObject *tech)
{
  JsonObject *ev = json_object_new ();

  json_object_set_array_member (ev, "categories",
                                deep_copy_array (tsq_json_get_array (tech, "categories")));
  json_object_set_int_member (ev, "confidence",
                              CLAMP (tsq_json_get_int (tech, "confidence", 100), 0, 100));
  return ev;
}

static void
detect_technologies (Ctx *ctx, JsonObject *base_good, JsonObject *good)
{
  JsonArray *cur_array = tsq_json_get_array (ctx->current, "technologies");
  JsonArray *base_array = tsq_json_get_array (base_good, "technologies");
  JsonObject *base_pending_add = tsq_json_get_object (base_good, "tech_pending_add");
  JsonObject *base_pending_remove = tsq_json_get_object (base_good, "tech_pending_remove");
  g_autoptr (GHashTable) cur = NULL;
  g_autoptr (GHashTable) base = NULL;
  g_autoptr (GPtrArray) names = NULL;
  JsonArray *confirmed;
  JsonObject *pending_add;
  JsonObject *pending_remove;
  guint confirm = ctx->t.tech_confirm_scans;

  if (cur_array == NULL)
    {
      /* Unknown in this result: keep what we knew. */
      copy_member (good, base_good, "technologies");
      copy_member (good, base_good, "tech_pending_add");
      copy_member (good, base_good, "tech_pending_remove");
      return;
    }
  cur = tech_map (cur_array);
  base = tech_map (base_array);
  names = sorted_union (base, cur);
  confirmed = json_array_new ();
  pending_add = json_object_new ();
  pending_remove = json_object_new ();

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      JsonObject *b = g_hash_table_lookup (base, name);
      JsonObject *c = g_hash_table_lookup (cur, name);

      if (base_array == NULL)
        {
          /* Baseline: everything detected is known, nothing reported. */
          json_array_add_object_element (confirmed, tech_entry (c));
        }
      else if (b != NULL && c != NULL)
        {
          const char *bv = get_text (b, "version");
          const char *cv = get_text (c, "version");
          JsonObject *entry = tech_entry (c);

          /* Only a known version replaced by another known version is a change: a version that
           * is sometimes detected and sometimes not (null) is not. */
          if (bv != NULL && cv != NULL && strcmp (bv, cv) != 0)
            add_change (ctx, "technology.version_changed", name, node_string (bv), node_string (cv),
                        (int)tsq_json_get_int (entry, "confidence", 100), tech_evidence (c),
                        "info");
          if (cv == NULL && bv != NULL)
            set_string_or_null (entry, "version", bv);
          json_array_add_object_element (confirmed, entry);
        }
      else if (c != NULL)
        {
          gint64 confidence = CLAMP (tsq_json_get_int (c, "confidence", 100), 0, 100);
          gint64 seen = tsq_json_get_int (base_pending_add, name, 0) + 1;

          if (confidence >= ctx->t.tech_min_confidence || seen >= confirm)
            {
              JsonObject *ev = tech_evidence (c);

              if (confidence < ctx->t.tech_min_confidence)
                json_object_set_int_member (ev, "confirmed_after_scans", seen);
              add_change (ctx, "technology.added", name, node_null (),
                          node_string (get_text (c, "version")), (int)confidence, ev, "info");
              json_array_add_object_element (confirmed, tech_entry (c));
            }
          else
            json_object_set_int_member (pending_add, name, seen);
        }
      else
        {
          gint64 confidence = CLAMP (tsq_json_get_int (b, "confidence", 100), 0, 100);
          gint64 missing = tsq_json_get_int (base_pending_remove, name, 0) + 1;
          gboolean needs_confirmation = confidence < ctx->t.tech_min_confidence || ctx->incomplete;

          if (!needs_confirmation || missing >= confirm)
            {
              JsonObject *ev = tech_evidence (b);

              if (needs_confirmation)
                json_object_set_int_member (ev, "confirmed_after_scans", missing);
              add_change (ctx, "technology.removed", name, node_string (get_text (b, "version")),
                          node_null (), (int)confidence, ev, "info");
            }
          else
            {
              json_object_set_int_member (pending_remove, name, missing);
              json_array_add_object_element (confirmed, tech_entry (b));
            }
        }
    }
  json_object_set_array_member (good, "technologies", confirmed);
  json_object_set_object_member (good, "tech_pending_add", pending_add);
  json_object_set_object_member (good, "tech_pending_remove", pending_remove);
}

/* ---------------------------------------------------------------- vulnerabilities */

static const char *
advisory_severity (const char *severity)
{
  if (severity == NULL)
    return "warning";
  if (g_ascii_strcasecmp (severity, "critical") == 0 || g_ascii_strcasecmp (severity, "high") == 0)
    return "critical";
  if (g_ascii_strcasecmp (severity, "low") == 0 || g_ascii_strcasecmp (severity, "info") == 0
      || g_ascii_strcasecmp (severity, "none") == 0)
    return "info";
  return "warning";
}

static char *
tech_label (const char *tech, const char *version)
{
  if (tech == NULL)
    return NULL;
  return version ? g_strdup_printf ("%s %s", tech, version) : g_strdup (tech);
}

/* advisory -> vulnerability object (borrowed). */
static GHashTable *
vulnerability_map (JsonArray *array)
{
  GHashTable *map = g_hash_table_new (g_str_hash, g_str_equal);
  guint len = array ? json_array_get_length (array) : 0;

  for (guint i = 0; i < len && g_hash_table_size (map) < LIST_MAX; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *advisory;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      advisory = get_text (json_node_get_object (node), "advisory");
      if (advisory != NULL && !g_hash_table_contains (map, advisory))
        g_hash_table_insert (map, (gpointer)advisory, json_node_get_object (node));
    }
  return map;
}

static JsonObject *
vulnerability_entry (JsonObject *v)
{
  JsonObject *entry = json_object_new ();
  const char *summary = get_text (v, "summary");

  set_string_or_null (entry, "advisory", get_text (v, "advisory"));
  set_string_or_null (entry, "technology", get_text (v, "technology"));
  set_string_or_null (entry, "version", get_text (v, "version"));
  set_string_or_null (entry, "severity", get_text (v, "severity"));
  if (summary != NULL)
    {
      g_autofree char *capped = cap_utf8 (summary, SUMMARY_MAX, NULL);

      json_object_set_string_member (entry, "summary", capped);
    }
  return entry;
}

static void
detect_vulnerabilities (Ctx *ctx, JsonObject *base_sec, JsonObject *sec, JsonArray *confirmed_array)
{
  JsonArray *cur_array
    = tsq_json_get_array (tsq_json_get_object (ctx->current, "security"), "vulnerabilities");
  JsonArray *base_array = tsq_json_get_array (base_sec, "vulnerabilities");
  g_autoptr (GHashTable) cur = NULL;
  g_autoptr (GHashTable) base = NULL;
  g_autoptr (GHashTable) confirmed = NULL;
  g_autoptr (GHashTable) detected = tech_map (tsq_json_get_array (ctx->current, "technologies"));
  g_autoptr (GPtrArray) advisories = NULL;
  JsonArray *open;

  if (cur_array == NULL)
    {
      copy_member (sec, base_sec, "vulnerabilities");
      return;
    }
  cur = vulnerability_map (cur_array);
  base = vulnerability_map (base_array);
  confirmed = tech_map (confirmed_array);
  advisories = sorted_union (base, cur);
  open = json_array_new ();

  for (guint i = 0; i < advisories->len; i++)
    {
      const char *advisory = advisories->pdata[i];
      JsonObject *b = g_hash_table_lookup (base, advisory);
      JsonObject *c = g_hash_table_lookup (cur, advisory);

      if (base_array == NULL)
        json_array_add_object_element (open, vulnerability_entry (c));
      else if (b != NULL && c != NULL)
        json_array_add_object_element (open, vulnerability_entry (c));
      else if (c != NULL)
        {
          const char *tech = get_text (c, "technology");
          JsonObject *detected_tech = tech ? g_hash_table_lookup (detected, tech) : NULL;
          g_autofree char *label = tech_label (tech, get_text (c, "version"));
          JsonObject *ev;

          /* A technology still waiting for confirmation (low confidence) does not open its
           * advisories yet: they are found when it is confirmed. */
          if (detected_tech != NULL && !g_hash_table_contains (confirmed, tech))
            continue;
          ev = vulnerability_entry (c);
          copy_member (ev, c, "affected");
          add_change (
            ctx, "security.vulnerability_found", advisory, node_null (), node_string (label),
            detected_tech ? (int)tsq_json_get_int (detected_tech, "confidence", 100) : 100, ev,
            advisory_severity (get_text (c, "severity")));
          json_array_add_object_element (open, vulnerability_entry (c));
        }
      else
        {
          const char *tech = get_text (b, "technology");
          JsonObject *detected_tech = tech ? g_hash_table_lookup (detected, tech) : NULL;
          JsonObject *confirmed_tech = tech ? g_hash_table_lookup (confirmed, tech) : NULL;
          g_autofree char *old_label = tech_label (tech, get_text (b, "version"));
          g_autofree char *new_label = NULL;
          JsonObject *ev;

          /* Technology not seen this time but still confirmed (pending removal): wait. */
          if (confirmed_tech != NULL && detected_tech == NULL)
            {
              json_array_add_object_element (open, vulnerability_entry (b));
              continue;
            }
          if (detected_tech != NULL)
            new_label = tech_label (tech, get_text (detected_tech, "version"));
          ev = vulnerability_entry (b);
          set_string_or_null (ev, "version_new",
                              detected_tech ? get_text (detected_tech, "version") : NULL);
          add_change (ctx, "security.vulnerability_resolved", advisory, node_string (old_label),
                      node_string (new_label), 100, ev, "info");
        }
    }
  json_object_set_array_member (sec, "vulnerabilities", open);
}

/* ---------------------------------------------------------------- security headers, cookies, mixed
 * content */

static const struct
{
  const char *member;
  const char *header;
  const char *display; /* the spelling people know, used as the change's subject */
} security_headers[] = {
  { "hsts", "strict-transport-security", "Strict-Transport-Security" },
  { "csp", "content-security-policy", "Content-Security-Policy" },
  { "x_frame_options", "x-frame-options", "X-Frame-Options" },
  { "x_content_type_options", "x-content-type-options", "X-Content-Type-Options" },
  { "referrer_policy", "referrer-policy", "Referrer-Policy" },
  { "permissions_policy", "permissions-policy", "Permissions-Policy" },
};

/* "HSTS", "csp", "x_frame_options", "X-Frame-Options" -> the lower-case HTTP header name. */
static char *
canonical_header (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);

  g_strdelimit (lower, "_", '-');
  for (guint i = 0; i < G_N_ELEMENTS (security_headers); i++)
    {
      g_autofree char *member = g_strdelimit (g_strdup (security_headers[i].member), "_", '-');

      if (g_str_equal (lower, member))
        return g_strdup (security_headers[i].header);
    }
  return g_steal_pointer (&lower);
}

/* {header: true|false} for the headers this result tells us about; NULL when it tells nothing. */
static JsonObject *
header_presence (JsonObject *result)
{
  JsonObject *sec = tsq_json_get_object (result, "security");
  JsonObject *headers = tsq_json_get_object (result, "headers");
  JsonObject *presence;

  if (sec == NULL && headers == NULL)
    return NULL;
  presence = json_object_new ();
  if (sec != NULL)
    {
      g_autoptr (GHashTable) missing
        = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      JsonArray *missing_array = tsq_json_get_array (sec, "missing_headers");
      guint len = missing_array ? json_array_get_length (missing_array) : 0;

      for (guint i = 0; i < len && i < LIST_MAX; i++)
        {
          JsonNode *node = json_array_get_element (missing_array, i);

          if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
            g_hash_table_add (missing, canonical_header (json_node_get_string (node)));
        }
      for (guint i = 0; i < G_N_ELEMENTS (security_headers); i++)
        {
          JsonNode *node = json_object_get_member (sec, security_headers[i].member);

          if (get_text (sec, security_headers[i].member) != NULL)
            json_object_set_boolean_member (presence, security_headers[i].header, TRUE);
          else if ((node != NULL && JSON_NODE_HOLDS_NULL (node))
                   || g_hash_table_contains (missing, security_headers[i].header))
            json_object_set_boolean_member (presence, security_headers[i].header, FALSE);
        }
    }
  else
    {
      for (guint i = 0; i < G_N_ELEMENTS (security_headers); i++)
        json_object_set_boolean_member (presence, security_headers[i].header,
                                        get_text (headers, security_headers[i].header) != NULL);
    }
  return presence;
}

static void
detect_headers (Ctx *ctx, JsonObject *base_sec, JsonObject *sec)
{
  JsonObject *base = tsq_json_get_object (base_sec, "headers");
  JsonObject *cur = header_presence (ctx->current);
  JsonObject *cur_sec = tsq_json_get_object (ctx->current, "security");
  JsonObject *cur_headers = tsq_json_get_object (ctx->current, "headers");

  if (cur == NULL)
    {
      copy_member (sec, base_sec, "headers");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (security_headers); i++)
    {
      const char *header = security_headers[i].header;
      JsonNode *old_node = base ? json_object_get_member (base, header) : NULL;
      JsonNode *new_node = json_object_get_member (cur, header);
      gboolean was;
      gboolean is;

      if (new_node == NULL)
        {
          /* Unknown now: keep the old knowledge. */
          if (old_node != NULL)
            json_object_set_member (cur, header, deep_copy (old_node));
          continue;
        }
      if (old_node == NULL || !JSON_NODE_HOLDS_VALUE (old_node)
          || json_node_get_value_type (old_node) != G_TYPE_BOOLEAN)
        continue;
      was = tsq_json_get_boolean (base, header, FALSE);
      is = tsq_json_get_boolean (cur, header, FALSE);
      if (!was && is)
        {
          JsonObject *ev = json_object_new ();
          const char *value = get_text (cur_sec, security_headers[i].member);
          g_autofree char *capped = NULL;

          if (value == NULL)
            value = get_text (cur_headers, header);
          capped = value ? cap_utf8 (value, SUMMARY_MAX, NULL) : NULL;
          set_string_or_null (ev, "value", capped);
          add_change (ctx, "security.header_added", security_headers[i].display,
                      json_node_init_boolean (json_node_alloc (), FALSE),
                      json_node_init_boolean (json_node_alloc (), TRUE), 100, ev, "info");
        }
      else if (was && !is)
        add_change (ctx, "security.header_removed", security_headers[i].display,
                    json_node_init_boolean (json_node_alloc (), TRUE),
                    json_node_init_boolean (json_node_alloc (), FALSE), 100, NULL, "warning");
    }
  json_object_set_object_member (sec, "headers", cur);
}

/* {cookie name: [missing flags, sorted]} */
static JsonObject *
cookie_map (JsonArray *array)
{
  JsonObject *map = json_object_new ();
  guint len = array ? json_array_get_length (array) : 0;

  for (guint i = 0; i < len && json_object_get_size (map) < COOKIES_MAX; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *name;
      g_autoptr (GHashTable) flags = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      name = get_text (json_node_get_object (node), "name");
      if (name == NULL || json_object_has_member (map, name))
        continue;
      flags = string_set (tsq_json_get_array (json_node_get_object (node), "missing"), 16);
      json_object_set_array_member (map, name, sorted_string_array (flags));
    }
  return map;
}

static gboolean
string_arrays_equal (JsonArray *a, JsonArray *b)
{
  guint len = a ? json_array_get_length (a) : 0;

  if (len != (b ? json_array_get_length (b) : 0))
    return FALSE;
  for (guint i = 0; i < len; i++)
    if (g_strcmp0 (json_array_get_string_element (a, i), json_array_get_string_element (b, i)) != 0)
      return FALSE;
  return TRUE;
}

static void
detect_cookies (Ctx *ctx, JsonObject *base_sec, JsonObject *sec)
{
  JsonArray *cur_array
    = tsq_json_get_array (tsq_json_get_object (ctx->current, "security"), "insecure_cookies");
  JsonObject *base = tsq_json_get_object (base_sec, "insecure_cookies");
  JsonObject *cur;
  g_autoptr (GHashTable) base_names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) cur_names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) names = NULL;
  GList *members;

  if (cur_array == NULL)
    {
      copy_member (sec, base_sec, "insecure_cookies");
      return;
    }
  cur = cookie_map (cur_array);
  json_object_set_object_member (sec, "insecure_cookies", cur);
  if (base == NULL)
    return;

  members = json_object_get_members (base);
  for (GList *l = members; l; l = l->next)
    g_hash_table_add (base_names, l->data);
  g_list_free (members);
  members = json_object_get_members (cur);
  for (GList *l = members; l; l = l->next)
    g_hash_table_add (cur_names, l->data);
  g_list_free (members);
  names = sorted_union (base_names, cur_names);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      JsonArray *old_flags = tsq_json_get_array (base, name);
      JsonArray *new_flags = tsq_json_get_array (cur, name);
      gboolean lost = FALSE;

      if (string_arrays_equal (old_flags, new_flags) && (old_flags != NULL) == (new_flags != NULL))
        continue;
      /* Warning when a flag went missing that was not missing before. */
      if (new_flags != NULL)
        {
          g_autoptr (GHashTable) old_set = string_set (old_flags, 16);

          for (guint j = 0; j < json_array_get_length (new_flags); j++)
            if (!g_hash_table_contains (old_set, json_array_get_string_element (new_flags, j)))
              lost = TRUE;
        }
      add_change (ctx, "security.cookie_flags_changed", name,
                  old_flags ? node_take_array (deep_copy_array (old_flags)) : node_null (),
                  new_flags ? node_take_array (deep_copy_array (new_flags)) : node_null (), 100,
                  NULL, lost ? "warning" : "info");
    }
}

static void
detect_mixed_content (Ctx *ctx, JsonObject *base_sec, JsonObject *sec)
{
  JsonArray *cur_array
    = tsq_json_get_array (tsq_json_get_object (ctx->current, "security"), "mixed_content");
  JsonArray *base_array = tsq_json_get_array (base_sec, "mixed_content");
  g_autoptr (GHashTable) cur = NULL;
  g_autoptr (GHashTable) base = NULL;
  g_autoptr (GHashTable) added = NULL;
  JsonArray *stored;
  GHashTableIter iter;
  gpointer key;

  if (cur_array == NULL)
    {
      copy_member (sec, base_sec, "mixed_content");
      return;
    }
  cur = string_set (cur_array, LIST_MAX);
  stored = sorted_string_array (cur);
  json_object_set_array_member (sec, "mixed_content", stored);
  if (base_array == NULL)
    return;
  base = string_set (base_array, LIST_MAX);
  added = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, cur);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (base, key))
      g_hash_table_add (added, key);
  if (g_hash_table_size (added) > 0)
    {
      JsonObject *ev = json_object_new ();
      JsonArray *list = sorted_string_array (added);

      while (json_array_get_length (list) > MIXED_EVIDENCE_MAX)
        json_array_remove_element (list, json_array_get_length (list) - 1);
      json_object_set_array_member (ev, "added", list);
      json_object_set_int_member (ev, "added_total", g_hash_table_size (added));
      add_change (ctx, "security.mixed_content", ctx->url, node_int (g_hash_table_size (base)),
                  node_int (g_hash_table_size (cur)), 100, ev, "warning");
    }
}

/* ---------------------------------------------------------------- certificate */

static gboolean
not_after_later (const char *old_na, const char *new_na)
{
  g_autoptr (GDateTime) a = g_date_time_new_from_iso8601 (old_na, NULL);
  g_autoptr (GDateTime) b = g_date_time_new_from_iso8601 (new_na, NULL);

  if (a != NULL && b != NULL)
    return g_date_time_compare (b, a) > 0;
  /* Same-format ISO 8601 strings sort chronologically. */
  return strlen (old_na) == strlen (new_na) && strcmp (new_na, old_na) > 0;
}

static char *
url_host (const char *url)
{
  g_autoptr (GUri) uri = url ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup (url ? url : "");
  return g_strdup (g_uri_get_host (uri));
}

static void
detect_certificate (Ctx *ctx, JsonObject *base_good, JsonObject *base_sec, JsonObject *sec)
{
  JsonObject *cur_sec = tsq_json_get_object (ctx->current, "security");
  JsonObject *tls = tsq_json_get_object (ctx->current, "tls");
  const char *not_after = get_text (tls, "not_after");
  const char *base_na = get_text (base_sec, "tls_not_after");
  double base_days_d = 0;
  gboolean base_has_days = get_number (base_sec, "tls_days_left", &base_days_d);
  gint64 base_days = (gint64)base_days_d;
  gboolean reported = tsq_json_get_boolean (base_sec, "cert_expiring_reported", FALSE);
  g_autofree char *host = url_host (
    get_text (ctx->current, "final_url") ? get_text (ctx->current, "final_url") : ctx->url);
  double days_d;
  gint64 days;

  if (!get_number (cur_sec, "tls_days_left", &days_d) && !get_number (tls, "days_left", &days_d))
    {
      /* No certificate facts this time (http, or not reported): keep the old ones. */
      copy_member (sec, base_sec, "tls_days_left");
      copy_member (sec, base_sec, "tls_not_after");
      copy_member (sec, base_sec, "cert_expiring_reported");
      return;
    }
  days = (gint64)floor (days_d);

  if (base_good != NULL)
    {
      gboolean renewed;

      if (base_na != NULL && not_after != NULL)
        renewed = not_after_later (base_na, not_after);
      else
        renewed = base_has_days && days > base_days + 1;
      if (renewed)
        {
          JsonObject *ev = json_object_new ();

          set_string_or_null (ev, "not_after_old", base_na);
          set_string_or_null (ev, "not_after_new", not_after);
          set_string_or_null (ev, "issuer", get_text (tls, "issuer"));
          add_change (ctx, "security.certificate_renewed", host,
                      base_has_days ? node_int (base_days) : node_null (), node_int (days), 100, ev,
                      "info");
          reported = FALSE;
        }
      else if (base_na != NULL && not_after != NULL && strcmp (base_na, not_after) != 0)
        reported = FALSE; /* another certificate (not later): its own expiry warning */

      if (days < ctx->t.cert_expiry_days && !reported)
        {
          JsonObject *ev = json_object_new ();

          set_string_or_null (ev, "not_after", not_after);
          set_string_or_null (ev, "issuer", get_text (tls, "issuer"));
          json_object_set_int_member (ev, "threshold_days", ctx->t.cert_expiry_days);
          add_change (ctx, "security.certificate_expiring", host,
                      base_has_days ? node_int (base_days) : node_null (), node_int (days), 100, ev,
                      days < 3 ? "critical" : "warning");
          reported = TRUE;
        }
    }
  json_object_set_int_member (sec, "tls_days_left", days);
  set_string_or_null (sec, "tls_not_after", not_after);
  json_object_set_boolean_member (sec, "cert_expiring_reported", reported);
}

static void
detect_security (Ctx *ctx, JsonObject *base_good, JsonObject *good)
{
  JsonObject *base_sec = tsq_json_get_object (base_good, "security");
  JsonObject *sec = json_object_new ();

  detect_headers (ctx, base_sec, sec);
  detect_cookies (ctx, base_sec, sec);
  detect_mixed_content (ctx, base_sec, sec);
  detect_certificate (ctx, base_good, base_sec, sec);
  /* The vulnerability rules look at the confirmed technologies computed just before. */
  detect_vulnerabilities (ctx, base_sec, sec, tsq_json_get_array (good, "technologies"));
  json_object_set_object_member (good, "security", sec);
}

/* ---------------------------------------------------------------- content */

static gboolean
parse_simhash (const char *hex, guint64 *out)
{
  char *end = NULL;

  if (hex == NULL || strlen (hex) == 0 || strlen (hex) > 16)
    return FALSE;
  *out = g_ascii_strtoull (hex, &end, 16);
  return end != NULL && *end == '\0';
}

static JsonObject *
content_facts (JsonObject *content)
{
  JsonObject *facts = json_object_new ();
  const char *text = tsq_json_get_string (content, "text", NULL);

  set_string_or_null (facts, "hash", get_text (content, "hash"));
  set_string_or_null (facts, "simhash", get_text (content, "simhash"));
  set_string_or_null (facts, "title", tsq_json_get_string (content, "title", NULL));
  json_object_set_int_member (
    facts, "text_length",
    tsq_json_get_int (content, "text_length", text ? (gint64)strlen (text) : 0));
  if (text != NULL)
    {
      gboolean truncated;
      g_autofree char *capped = cap_utf8 (text, STATE_TEXT_MAX, &truncated);

      json_object_set_string_member (facts, "text", capped);
      json_object_set_boolean_member (facts, "text_truncated", truncated);
    }
  return facts;
}

static char *
short_hash (const char *hash)
{
  return hash ? g_strndup (hash, SHORT_HASH_LEN) : NULL;
}

static void
detect_content (Ctx *ctx, JsonObject *base_good, JsonObject *previous, JsonObject *good)
{
  JsonObject *cur = tsq_json_get_object (ctx->current, "content");
  JsonObject *base = tsq_json_get_object (base_good, "content");
  JsonObject *facts;
  const char *old_hash;
  const char *new_hash;
  const char *old_title;
  const char *new_title;

  if (cur == NULL)
    {
      copy_member (good, base_good, "content");
      return;
    }
  facts = content_facts (cur);
  json_object_set_object_member (good, "content", facts);
  if (base == NULL)
    return;

  old_hash = get_text (base, "hash");
  new_hash = get_text (cur, "hash");
  old_title = tsq_json_get_string (base, "title", NULL);
  new_title = tsq_json_get_string (cur, "title", NULL);

  if (old_hash != NULL && new_hash != NULL && g_ascii_strcasecmp (old_hash, new_hash) != 0)
    {
      guint64 a;
      guint64 b;
      int similarity = -1;
      int distance = -1;
      gboolean report;

      if (parse_simhash (get_text (base, "simhash"), &a)
          && parse_simhash (get_text (cur, "simhash"), &b))
        {
          distance = __builtin_popcountll (a ^ b);
          similarity = (int)round (100.0 * (64 - distance) / 64.0);
        }
      report = ctx->t.content_min_change <= 0 || distance < 0
               || (64 - distance) / 64.0 < 1.0 - ctx->t.content_min_change;
      if (report)
        {
          JsonObject *content_prev = tsq_json_get_object (previous, "content");
          const char *old_text = NULL;
          const char *new_text = tsq_json_get_string (cur, "text", NULL);
          g_autofree char *new_cut = NULL;
          g_autofree char *diff = NULL;
          g_autofree char *old_short = short_hash (old_hash);
          g_autofree char *new_short = short_hash (new_hash);
          gboolean partial = FALSE;
          JsonObject *ev = json_object_new ();

          /* The full old text is in `previous` when it is the last good result itself. */
          if (previous != NULL && g_strcmp0 (get_text (content_prev, "hash"), old_hash) == 0)
            old_text = tsq_json_get_string (content_prev, "text", NULL);
          if (old_text == NULL)
            {
              old_text = tsq_json_get_string (base, "text", NULL);
              partial = tsq_json_get_boolean (base, "text_truncated", FALSE);
              /* Compare like with like: the stored text is a prefix. */
              if (partial && new_text != NULL && old_text != NULL)
                new_text = new_cut = cap_utf8 (new_text, strlen (old_text), NULL);
            }
          if (old_text != NULL || new_text != NULL)
            diff = tsq_text_diff (old_text, new_text, ctx->t.diff_max_lines);

          json_object_set_member (ev, "similarity",
                                  similarity >= 0 ? node_int (similarity) : node_null ());
          json_object_set_member (ev, "hamming_distance",
                                  distance >= 0 ? node_int (distance) : node_null ());
          set_string_or_null (ev, "diff", diff);
          json_object_set_boolean_member (ev, "diff_partial", partial);
          set_string_or_null (ev, "title_old", old_title);
          set_string_or_null (ev, "title_new", new_title);
          json_object_set_member (ev, "text_length_old",
                                  deep_copy (json_object_get_member (base, "text_length")));
          json_object_set_member (ev, "text_length_new",
                                  deep_copy (json_object_get_member (facts, "text_length")));
          add_change (ctx, "content.changed", ctx->url, node_string (old_short),
                      node_string (new_short),
                      similarity < 0 ? 100 : MAX (50, 100 - similarity / 2), ev,
                      similarity >= 0 && similarity < 50 ? "warning" : "info");
        }
      else
        {
          /* Below the threshold: keep the reference so that small changes add up. */
          JsonObject *kept = deep_copy_object (base);

          set_string_or_null (kept, "title", new_title);
          json_object_set_object_member (good, "content", kept);
        }
    }
  if (g_strcmp0 (old_title ? old_title : "", new_title ? new_title : "") != 0)
    add_change (ctx, "content.title_changed", ctx->url, node_string (old_title),
                node_string (new_title), 100, NULL, "info");
}

/* ---------------------------------------------------------------- endpoints */

static char *
endpoint_key (JsonObject *endpoint)
{
  const char *url = get_text (endpoint, "url");
  const char *method = get_text (endpoint, "method");
  g_autofree char *upper = method ? g_ascii_strup (method, -1) : NULL;

  if (url == NULL)
    return NULL;
  return g_strconcat (upper ? upper : "", " ", url, NULL);
}

/* key -> endpoint (borrowed), in input order in *order. */
static GHashTable *
endpoint_map (JsonArray *array, GPtrArray *order)
{
  GHashTable *map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint len = array ? json_array_get_length (array) : 0;

  for (guint i = 0; i < len && g_hash_table_size (map) < LIST_MAX; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      char *key;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      key = endpoint_key (json_node_get_object (node));
      if (key == NULL || g_hash_table_contains (map, key))
        {
          g_free (key);
          continue;
        }
      g_hash_table_insert (map, key, json_node_get_object (node));
      g_ptr_array_add (order, key);
    }
  return map;
}

static JsonObject *
endpoint_entry (JsonObject *endpoint)
{
  JsonObject *entry = json_object_new ();

  set_string_or_null (entry, "url", get_text (endpoint, "url"));
  set_string_or_null (entry, "kind", get_text (endpoint, "kind"));
  if (get_text (endpoint, "method") != NULL)
    json_object_set_string_member (entry, "method", get_text (endpoint, "method"));
  return entry;
}

static JsonObject *
endpoint_evidence (JsonObject *endpoint)
{
  JsonObject *ev = json_object_new ();

  set_string_or_null (ev, "kind", get_text (endpoint, "kind"));
  set_string_or_null (ev, "method", get_text (endpoint, "method"));
  return ev;
}

static void
detect_endpoints (Ctx *ctx, JsonObject *base_good, JsonObject *good)
{
  JsonArray *cur_array = tsq_json_get_array (ctx->current, "endpoints");
  JsonArray *base_array = tsq_json_get_array (base_good, "endpoints");
  g_autoptr (GPtrArray) cur_order = g_ptr_array_new ();
  g_autoptr (GPtrArray) base_order = g_ptr_array_new ();
  g_autoptr (GHashTable) cur = NULL;
  g_autoptr (GHashTable) base = NULL;
  JsonArray *stored;

  if (cur_array == NULL)
    {
      copy_member (good, base_good, "endpoints");
      return;
    }
  cur = endpoint_map (cur_array, cur_order);
  base = endpoint_map (base_array, base_order);
  stored = json_array_new ();
  for (guint i = 0; i < cur_order->len; i++)
    {
      JsonObject *c = g_hash_table_lookup (cur, cur_order->pdata[i]);

      json_array_add_object_element (stored, endpoint_entry (c));
      if (base_array != NULL && !g_hash_table_contains (base, cur_order->pdata[i]))
        add_change (ctx, "endpoint.added", get_text (c, "url"), node_null (),
                    node_string (get_text (c, "kind")), 100, endpoint_evidence (c), "info");
    }
  for (guint i = 0; i < base_order->len; i++)
    {
      JsonObject *b = g_hash_table_lookup (base, base_order->pdata[i]);

      if (g_hash_table_contains (cur, base_order->pdata[i]))
        continue;
      /* An incomplete scan (truncated body, failed scripts) may just have missed it: keep it and
       * decide on the next complete scan. */
      if (ctx->incomplete)
        json_array_add_object_element (stored, endpoint_entry (b));
      else
        add_change (ctx, "endpoint.removed", get_text (b, "url"),
                    node_string (get_text (b, "kind")), node_null (), 100, endpoint_evidence (b),
                    "info");
    }
  json_object_set_array_member (good, "endpoints", stored);
}

/* ---------------------------------------------------------------- complexity */

static const struct
{
  const char *name;
  gboolean bytes;
} complexity_metrics[] = {
  { "dom_nodes", FALSE },          { "max_depth", FALSE },        { "scripts_external", FALSE },
  { "scripts_inline", FALSE },     { "stylesheets", FALSE },      { "third_party_domains", FALSE },
  { "inline_script_bytes", TRUE }, { "page_weight_bytes", TRUE },
};

static void
domain_delta (JsonObject *ev, JsonArray *old_list, JsonArray *new_list)
{
  g_autoptr (GHashTable) old_set = string_set (old_list, LIST_MAX);
  g_autoptr (GHashTable) new_set = string_set (new_list, LIST_MAX);
  g_autoptr (GHashTable) added = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) removed = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, new_set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (old_set, key))
      g_hash_table_add (added, key);
  g_hash_table_iter_init (&iter, old_set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (new_set, key))
      g_hash_table_add (removed, key);
  json_object_set_array_member (ev, "domains_added", sorted_string_array (added));
  json_object_set_array_member (ev, "domains_removed", sorted_string_array (removed));
}

static void
detect_complexity (Ctx *ctx, JsonObject *base_good, JsonObject *good)
{
  JsonObject *cur = tsq_json_get_object (ctx->current, "complexity");
  JsonObject *base = tsq_json_get_object (base_good, "complexity");
  JsonObject *ref;

  if (cur == NULL)
    {
      copy_member (good, base_good, "complexity");
      return;
    }
  ref = json_object_new ();
  for (guint i = 0; i < G_N_ELEMENTS (complexity_metrics); i++)
    {
      const char *name = complexity_metrics[i].name;
      double old_v;
      double new_v;
      gboolean has_old = get_number (base, name, &old_v);
      gboolean is_domains = g_str_equal (name, "third_party_domains");

      if (!get_number (cur, name, &new_v))
        {
          copy_member (ref, base, name);
          if (is_domains)
            copy_member (ref, base, "third_party_domain_list");
          continue;
        }
      if (has_old)
        {
          double delta = new_v - old_v;
          double min_abs
            = complexity_metrics[i].bytes ? ctx->t.complexity_min_bytes : ctx->t.complexity_min_abs;
          gboolean beyond
            = old_v == 0 ? delta != 0 : fabs (delta) > ctx->t.complexity_relative * fabs (old_v);

          if (beyond && fabs (delta) >= min_abs)
            {
              JsonObject *ev = json_object_new ();

              json_object_set_member (ev, "relative_change",
                                      old_v != 0
                                        ? node_double (round (delta / fabs (old_v) * 1000) / 1000)
                                        : node_null ());
              json_object_set_double_member (ev, "threshold_relative", ctx->t.complexity_relative);
              json_object_set_double_member (ev, "threshold_absolute", min_abs);
              if (is_domains)
                domain_delta (ev, tsq_json_get_array (base, "third_party_domain_list"),
                              tsq_json_get_array (cur, "third_party_domain_list"));
              add_change (ctx, "complexity.changed", name, node_int ((gint64)old_v),
                          node_int ((gint64)new_v), 100, ev, "info");
            }
          else
            {
              /* Not reported: the reference stays, so a slow drift adds up to a change. */
              json_object_set_member (ref, name, node_double (old_v));
              if (is_domains)
                copy_member (ref, base, "third_party_domain_list");
              continue;
            }
        }
      json_object_set_member (ref, name, node_double (new_v));
      if (is_domains)
        {
          JsonArray *list = tsq_json_get_array (cur, "third_party_domain_list");

          if (list != NULL)
            {
              g_autoptr (GHashTable) set = string_set (list, LIST_MAX);

              json_object_set_array_member (ref, "third_party_domain_list",
                                            sorted_string_array (set));
            }
        }
    }
  json_object_set_object_member (good, "complexity", ref);
}

/* ---------------------------------------------------------------- driver */

static JsonObject *
process (JsonObject *state,
         JsonObject *current,
         JsonObject *previous,
         const TsqChangeThresholds *t,
         JsonArray *changes)
{
  JsonObject *out = json_object_new ();
  JsonObject *base_good = tsq_json_get_object (state, "last_good");
  gboolean good = result_is_good (current);
  Ctx ctx;

  ctx.t = *t;
  ctx.changes = changes;
  ctx.current = current;
  ctx.url = get_text (current, "url") ? get_text (current, "url") : "";
  ctx.incomplete = result_is_incomplete (current);

  json_object_set_int_member (out, "version", TSQ_CHANGE_STATE_VERSION);
  json_object_set_int_member (out, "scans", tsq_json_get_int (state, "scans", 0) + 1);
  json_object_set_int_member (out, "good_scans",
                              tsq_json_get_int (state, "good_scans", 0) + (good ? 1 : 0));
  set_string_or_null (out, "last_scanned_at", get_text (current, "scanned_at"));

  json_object_set_object_member (
    out, "availability", detect_availability (&ctx, tsq_json_get_object (state, "availability")));
  json_object_set_object_member (
    out, "perf", detect_performance (&ctx, tsq_json_get_object (state, "perf"), good));

  if (good)
    {
      JsonObject *facts = json_object_new ();

      set_string_or_null (facts, "scanned_at", get_text (current, "scanned_at"));
      set_string_or_null (facts, "final_url", get_text (current, "final_url"));
      /* Order matters: security reads the confirmed technologies. */
      detect_technologies (&ctx, base_good, facts);
      detect_security (&ctx, base_good, facts);
      detect_content (&ctx, base_good, previous, facts);
      detect_endpoints (&ctx, base_good, facts);
      detect_complexity (&ctx, base_good, facts);
      json_object_set_object_member (out, "last_good", facts);
    }
  else if (base_good != NULL)
    json_object_set_object_member (out, "last_good", deep_copy_object (base_good));
  return out;
}

static void
sanitize_thresholds (TsqChangeThresholds *t)
{
  t->baseline_scans = CLAMP (t->baseline_scans, 1, 1000);
  t->min_baseline_scans = CLAMP (t->min_baseline_scans, 1, t->baseline_scans);
  t->perf_consecutive = CLAMP (t->perf_consecutive, 1, 1000);
  t->tech_confirm_scans = MAX (t->tech_confirm_scans, 1);
  if (!isfinite (t->perf_relative) || t->perf_relative < 0)
    t->perf_relative = 0;
  if (!isfinite (t->perf_absolute_ms) || t->perf_absolute_ms < 0)
    t->perf_absolute_ms = 0;
  if (!isfinite (t->complexity_relative) || t->complexity_relative < 0)
    t->complexity_relative = 0;
  if (!isfinite (t->content_min_change))
    t->content_min_change = 0;
}

static gboolean
state_is_usable (JsonObject *state)
{
  return state != NULL && tsq_json_get_int (state, "version", 0) == TSQ_CHANGE_STATE_VERSION;
}

JsonArray *
tsq_detect_changes (JsonObject *previous,
                    JsonObject *current,
                    JsonObject *state,
                    const TsqChangeThresholds *t,
                    JsonObject **state_out)
{
  TsqChangeThresholds th;
  JsonArray *changes = json_array_new ();
  g_autoptr (JsonObject) seeded = NULL;
  JsonObject *base_state = NULL;
  JsonObject *new_state;

  if (t != NULL)
    th = *t;
  else
    tsq_change_thresholds_init (&th);
  sanitize_thresholds (&th);

  if (state_is_usable (state))
    base_state = state;
  else if (previous != NULL)
    {
      /* No (usable) state: the previous result is the baseline, as if it had been the first scan.
       */
      g_autoptr (JsonArray) scratch = json_array_new ();

      seeded = process (NULL, previous, NULL, &th, scratch);
      base_state = seeded;
    }

  if (current == NULL)
    new_state = base_state ? deep_copy_object (base_state) : NULL;
  else
    new_state = process (base_state, current, previous, &th, changes);

  if (state_out != NULL)
    *state_out = new_state;
  else if (new_state != NULL)
    json_object_unref (new_state);
  return changes;
}
