/* alert-engine-bench.c: how many changes per second the alert engine decides, with N alerts
 * already open (each measured scan carries one change that opens an alert, followed by a
 * tick one fake second later). Prints medians of 5 runs. */
#include "tsq-alert-engine.h"
#include "tsq-json-util.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define MONITORS 200
#define MEASURED 2000
#define RUNS 5

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static JsonArray *
tech_change (guint n)
{
  g_autofree char *json = g_strdup_printf (
    "[{\"type\":\"technology.added\",\"subject\":\"Tech %u\",\"old\":null,\"new\":\"1.0\","
    "\"confidence\":100,\"evidence\":{\"categories\":[\"CMS\"]},\"severity\":\"info\"}]",
    n);
  g_autoptr (JsonNode) node = tsq_json_from_string (json, NULL);

  return json_array_ref (json_node_get_array (node));
}

static double
run (guint n_open)
{
  g_autoptr (TsqAlertEngine) engine = tsq_alert_engine_new (NULL);
  g_autoptr (GPtrArray) monitors
    = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_monitor_unref);
  g_autoptr (JsonNode) rules = tsq_json_from_string (
    "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},\"channels\":[\"slack\"]}]", NULL);
  gint64 now = G_GINT64_CONSTANT (1700000000) * SEC;
  gint64 start, elapsed;
  guint n = 0;

  for (guint i = 0; i < MONITORS; i++)
    {
      g_autofree char *name = g_strdup_printf ("site %u", i);
      TsqMonitor *m = tsq_monitor_new (name, "https://example.com/", "every 1m");

      json_array_unref (m->alert_rules);
      m->alert_rules = json_array_ref (json_node_get_array (rules));
      g_ptr_array_add (monitors, m);
    }
  for (; n < n_open; n++)
    {
      g_autoptr (JsonArray) c = tech_change (n);
      g_autoptr (GPtrArray) a = tsq_alert_engine_process_scan (
        engine, g_ptr_array_index (monitors, n % MONITORS), c, now, NULL);
    }
  now += 3600 * SEC;
  g_ptr_array_unref (tsq_alert_engine_tick (engine, now));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < MEASURED; i++, n++)
    {
      g_autoptr (JsonArray) c = tech_change (n);
      g_autoptr (GPtrArray) a = tsq_alert_engine_process_scan (
        engine, g_ptr_array_index (monitors, n % MONITORS), c, now, NULL);
      g_autoptr (GPtrArray) t = NULL;

      now += SEC;
      t = tsq_alert_engine_tick (engine, now);
    }
  elapsed = g_get_monotonic_time () - start;
  return (double)elapsed / MEASURED;
}

int
main (int argc, char **argv)
{
  const guint sizes[] = { 100, 1000, 10000 };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      double t[RUNS];

      for (guint r = 0; r < RUNS; r++)
        t[r] = run (sizes[s]);
      qsort (t, RUNS, sizeof (double), (int (*) (const void *, const void *))cmp_double);
      g_print ("open alerts %6u: median %.1f µs per change + tick (%.0f changes/s)\n", sizes[s],
               t[RUNS / 2], 1e6 / t[RUNS / 2]);
    }
  return 0;
}
