/* bench-scheduler.c: start lag, CPU and memory of the real scheduler with 10,000 monitors.
 *
 * Usage: bench-scheduler [--duration SECONDS] [--monitors N] [--variant interval|cron|both]
 * Each variant runs the scheduler on a GMainLoop for SECONDS of real time (default 70). The fire
 * callback records lag = now - planned fire time and finishes the "scan" at once.
 *   interval: every monitor on "every 1m" (spread over the minute by its phase);
 *   cron:     every monitor on "* * * * *" (spread over the default window, 6 s).
 */
#include "tsq-scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct
{
  GArray *lags; /* gint64 µs */
  guint catch_ups;
} Stats;

static void
on_fire (TsqScheduler *s, const char *id, gint64 due_us, gboolean catch_up, gpointer user_data)
{
  Stats *st = user_data;
  gint64 lag = g_get_real_time () - due_us;

  if (catch_up)
    st->catch_ups++;
  else
    g_array_append_val (st->lags, lag);
  tsq_scheduler_finished (s, id);
}

static gint64
rss_bytes (void)
{
  g_autofree char *text = NULL;
  long pages_total = 0, pages_res = 0;

  if (!g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    return 0;
  if (sscanf (text, "%ld %ld", &pages_total, &pages_res) != 2)
    return 0;
  return (gint64)pages_res * sysconf (_SC_PAGESIZE);
}

static gint64
cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec
         + ru.ru_stime.tv_usec;
}

static int
cmp_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

  return x < y ? -1 : x > y;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
run_variant (const char *variant, const char *schedule_text, guint monitors, guint duration_s)
{
  g_autoptr (TsqSchedule) schedule = tsq_schedule_parse (schedule_text, NULL);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Stats st = { g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
  TsqScheduler *s;
  gint64 rss0, rss1, rss2, cpu0, cpu1, t0, t_add, wall0, wall1;
  gint64 *v;
  guint n;
  double minutes;

  g_assert (schedule != NULL);
  rss0 = rss_bytes ();
  t0 = g_get_monotonic_time ();
  s = tsq_scheduler_new (on_fire, &st, NULL);
  for (guint i = 0; i < monitors; i++)
    {
      char id[32];

      g_snprintf (id, sizeof id, "monitor-%05u", i);
      tsq_scheduler_set (s, id, schedule, 0, 0);
    }
  t_add = g_get_monotonic_time () - t0;
  rss1 = rss_bytes ();

  cpu0 = cpu_us ();
  wall0 = g_get_monotonic_time ();
  g_timeout_add_seconds (duration_s, quit_cb, loop);
  g_main_loop_run (loop);
  wall1 = g_get_monotonic_time ();
  cpu1 = cpu_us ();
  rss2 = rss_bytes ();

  n = st.lags->len;
  v = (gint64 *)(gpointer)st.lags->data;
  qsort (v, n, sizeof (gint64), cmp_gint64);
  minutes = (double)(wall1 - wall0) / (60.0 * G_USEC_PER_SEC);

  printf ("variant %s (\"%s\"), %u monitors, %.1f s of real time\n", variant, schedule_text,
          monitors, (double)(wall1 - wall0) / G_USEC_PER_SEC);
  printf ("  add all monitors: %.1f ms (%.2f us each)\n", t_add / 1000.0, (double)t_add / monitors);
  printf ("  fires: %u (%.0f per minute), catch-ups: %u\n", n, n / minutes, st.catch_ups);
  if (n > 0)
    printf ("  start lag: median %.3f ms, p99 %.3f ms, max %.3f ms, min %.3f ms\n",
            v[n / 2] / 1000.0, v[(gsize)((n - 1) * 0.99)] / 1000.0, v[n - 1] / 1000.0,
            v[0] / 1000.0);
  printf ("  CPU (user+sys) while running: %.3f s = %.2f us per monitor per minute\n",
          (cpu1 - cpu0) / 1e6, (double)(cpu1 - cpu0) / (monitors * minutes));
  printf ("  RSS: +%.1f KiB after adding (%.0f bytes per monitor), +%.1f KiB after running\n",
          (rss1 - rss0) / 1024.0, (double)(rss1 - rss0) / monitors, (rss2 - rss1) / 1024.0);
  fflush (stdout);

  g_object_unref (s);
  g_array_unref (st.lags);
}

int
main (int argc, char **argv)
{
  int duration = 70;
  int monitors = 10000;
  g_autofree char *variant = NULL;
  GOptionEntry entries[] = {
    { "duration", 'd', 0, G_OPTION_ARG_INT, &duration, "Seconds per variant (default 70)", "S" },
    { "monitors", 'n', 0, G_OPTION_ARG_INT, &monitors, "Monitors (default 10000)", "N" },
    { "variant", 'v', 0, G_OPTION_ARG_STRING, &variant, "interval, cron or both (default)", "V" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- scheduler benchmark");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || duration < 1 || monitors < 1)
    {
      fprintf (stderr, "%s\n", error ? error->message : "invalid arguments");
      return 2;
    }
  if (variant == NULL || g_str_equal (variant, "both") || g_str_equal (variant, "interval"))
    run_variant ("interval", "every 1m", (guint)monitors, (guint)duration);
  if (variant == NULL || g_str_equal (variant, "both") || g_str_equal (variant, "cron"))
    run_variant ("cron", "* * * * *", (guint)monitors, (guint)duration);
  return 0;
}
