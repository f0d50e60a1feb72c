/* scheduler-test.c: the scheduler loop on a fake clock (plus one short real-clock run). */
#include "tsq-scheduler.h"

#define SEC ((gint64)G_USEC_PER_SEC)
/* 2026-06-01T12:00:00Z, on a minute boundary. */
#define T0 ((gint64)1780315200 * SEC)

typedef struct
{
  char *id;
  gint64 due;
  gboolean catch_up;
  gint64 at;
} Fire;

typedef struct
{
  gint64 now;
  GArray *fires;
  gboolean finish_immediately;
  gboolean remove_in_callback;
} Fixture;

static gint64
fake_clock (gpointer data)
{
  return ((Fixture *)data)->now;
}

static void
fire_clear (gpointer data)
{
  g_free (((Fire *)data)->id);
}

static void
on_fire (TsqScheduler *s, const char *id, gint64 due_us, gboolean catch_up, gpointer user_data)
{
  Fixture *fx = user_data;
  Fire f = { g_strdup (id), due_us, catch_up, fx->now };

  g_array_append_val (fx->fires, f);
  if (fx->finish_immediately)
    tsq_scheduler_finished (s, id);
  if (fx->remove_in_callback)
    tsq_scheduler_remove (s, id);
}

static TsqScheduler *
new_scheduler (Fixture *fx)
{
  TsqScheduler *s;

  fx->now = T0 + 1;
  fx->fires = g_array_new (FALSE, TRUE, sizeof (Fire));
  g_array_set_clear_func (fx->fires, fire_clear);
  s = tsq_scheduler_new (on_fire, fx, NULL);
  tsq_scheduler_set_clock (s, fake_clock, fx);
  return s;
}

static void
test_due_order (void)
{
  Fixture fx = { 0 };
  g_autoptr (TsqScheduler) s = new_scheduler (&fx);
  g_autoptr (TsqSchedule) hourly = tsq_schedule_parse ("every 1h", NULL);

  fx.finish_immediately = TRUE;
  tsq_scheduler_set (s, "m1", hourly, 0, T0 + 30 * SEC);
  tsq_scheduler_set (s, "m2", hourly, 0, T0 + 10 * SEC);
  tsq_scheduler_set (s, "m3", hourly, 0, T0 + 20 * SEC);
  g_assert_cmpuint (tsq_scheduler_get_size (s), ==, 3);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "m2"), ==, T0 + 10 * SEC);
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "m1"), ==, T0 + 30 * SEC);

  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 0);
  fx.now = T0 + 15 * SEC;
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  fx.now = T0 + 60 * SEC;
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 2);
  g_assert_cmpuint (fx.fires->len, ==, 3);
  g_assert_cmpstr (g_array_index (fx.fires, Fire, 0).id, ==, "m2");
  g_assert_cmpstr (g_array_index (fx.fires, Fire, 1).id, ==, "m3");
  g_assert_cmpstr (g_array_index (fx.fires, Fire, 2).id, ==, "m1");
  g_assert_cmpint (g_array_index (fx.fires, Fire, 0).due, ==, T0 + 10 * SEC);
  g_assert_cmpint (g_array_index (fx.fires, Fire, 2).due, ==, T0 + 30 * SEC);
  g_assert_false (g_array_index (fx.fires, Fire, 0).catch_up);
  /* The next regular run follows the schedule (epoch + the monitor's phase). */
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "m2"), ==,
                   tsq_schedule_next (hourly, T0 + 10 * SEC, tsq_schedule_seed_for_id ("m2")));
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "m2"), >, fx.now);
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "nope"), ==, 0);
  g_array_unref (fx.fires);
}

static void
test_never_concurrent (void)
{
  Fixture fx = { 0 };
  g_autoptr (TsqScheduler) s = new_scheduler (&fx);
  g_autoptr (TsqSchedule) minute = tsq_schedule_parse ("every 1m", NULL);
  gint64 missed;

  tsq_scheduler_set (s, "m", minute, 0, T0 + 10 * SEC);
  fx.now = T0 + 10 * SEC;
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  g_assert_true (tsq_scheduler_is_running (s, "m"));
  missed = tsq_scheduler_get_next_run (s, "m");
  g_assert_cmpint (missed, >, T0 + 10 * SEC);
  g_assert_cmpint (missed, <=, T0 + 70 * SEC);

  /* Three minutes pass while the scan runs: nothing fires. */
  for (int i = 1; i <= 18; i++)
    {
      fx.now = T0 + 10 * SEC + i * 10 * SEC;
      g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 0);
    }
  g_assert_cmpuint (fx.fires->len, ==, 1);

  /* It finishes: the missed due time (within the 5 min grace) coalesces into one catch-up
   * run right away. */
  tsq_scheduler_finished (s, "m");
  g_assert_false (tsq_scheduler_is_running (s, "m"));
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "m"), ==, fx.now);
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  g_assert_cmpuint (fx.fires->len, ==, 2);
  g_assert_true (g_array_index (fx.fires, Fire, 1).catch_up);
  g_assert_cmpint (g_array_index (fx.fires, Fire, 1).due, ==, missed);
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 0);

  /* This time it runs for 20 minutes: the missed due time is older than the grace, so it is
   * skipped and the monitor waits for its next regular time. */
  fx.now += 20 * 60 * SEC;
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 0);
  tsq_scheduler_finished (s, "m");
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 0);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "m"), >, fx.now);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "m"), <=, fx.now + 60 * SEC);
  fx.now = tsq_scheduler_get_fire_time (s, "m");
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  g_assert_false (g_array_index (fx.fires, Fire, 2).catch_up);
  /* finished() twice or for unknown monitors is harmless. */
  tsq_scheduler_finished (s, "m");
  tsq_scheduler_finished (s, "m");
  tsq_scheduler_finished (s, "unknown");
  g_array_unref (fx.fires);
}

static void
test_spread_window (void)
{
  Fixture fx = { 0 };
  g_autoptr (TsqScheduler) s = new_scheduler (&fx);
  g_autoptr (TsqSchedule) every_minute = tsq_schedule_parse ("* * * * *", NULL);
  const gint64 minute = T0 + 60 * SEC;
  gint64 lo = G_MAXINT64, hi = 0, prev = 0;
  g_autoptr (GHashTable) distinct = g_hash_table_new (g_int64_hash, g_int64_equal);
  gint64 *offsets = g_new (gint64, 1000);

  fx.finish_immediately = TRUE;
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *id = g_strdup_printf ("monitor-%u", i);
      gint64 t;

      tsq_scheduler_set (s, id, every_minute, 0, 0);
      t = tsq_scheduler_get_fire_time (s, id);
      /* Default window for a one-minute period: min(10 s, 60 s / 10) = 6 s. */
      g_assert_cmpint (t, >=, minute);
      g_assert_cmpint (t, <, minute + 6 * SEC);
      g_assert_cmpint (tsq_scheduler_get_next_run (s, id), ==, minute);
      lo = MIN (lo, t - minute);
      hi = MAX (hi, t - minute);
      offsets[i] = t - minute;
      g_hash_table_add (distinct, &offsets[i]);
    }
  g_assert_cmpint (lo, <, SEC / 2);
  g_assert_cmpint (hi, >, 5 * SEC + SEC / 2);
  g_assert_cmpuint (g_hash_table_size (distinct), >, 990);

  /* Half-way through the window about half of them have fired, in order. */
  fx.now = minute + 3 * SEC;
  tsq_scheduler_run_due (s);
  g_assert_cmpuint (fx.fires->len, >, 400);
  g_assert_cmpuint (fx.fires->len, <, 600);
  fx.now = minute + 6 * SEC;
  tsq_scheduler_run_due (s);
  g_assert_cmpuint (fx.fires->len, ==, 1000);
  for (guint i = 0; i < fx.fires->len; i++)
    {
      const Fire *f = &g_array_index (fx.fires, Fire, i);

      g_assert_cmpint (f->due, >=, prev);
      g_assert_cmpint (f->due, >=, minute);
      g_assert_cmpint (f->due, <, minute + 6 * SEC);
      prev = f->due;
    }
  /* The same monitor keeps its offset the next minute (stable). */
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "monitor-7"), ==,
                   minute + 60 * SEC + offsets[7]);

  /* Explicit windows: 0 disables spreading, 30 s widens it. */
  tsq_scheduler_set_spread_window (s, 0);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "monitor-7"), ==, minute + 60 * SEC);
  tsq_scheduler_set_spread_window (s, 30 * SEC);
  lo = G_MAXINT64;
  hi = 0;
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *id = g_strdup_printf ("monitor-%u", i);
      gint64 off = tsq_scheduler_get_fire_time (s, id) - (minute + 60 * SEC);

      g_assert_cmpint (off, >=, 0);
      g_assert_cmpint (off, <, 30 * SEC);
      lo = MIN (lo, off);
      hi = MAX (hi, off);
    }
  g_assert_cmpint (hi, >, 25 * SEC);
  g_free (offsets);
  g_array_unref (fx.fires);
}

static void
test_remove_replace (void)
{
  Fixture fx = { 0 };
  g_autoptr (TsqScheduler) s = new_scheduler (&fx);
  g_autoptr (TsqSchedule) hourly = tsq_schedule_parse ("every 1h", NULL);
  g_autoptr (TsqSchedule) daily = tsq_schedule_parse ("cron 0 0 * * *", NULL);

  fx.finish_immediately = TRUE;
  tsq_scheduler_set (s, "a", hourly, 0, T0 + 10 * SEC);
  tsq_scheduler_set (s, "b", hourly, 0, T0 + 20 * SEC);
  tsq_scheduler_set (s, "c", hourly, 0, T0 + 30 * SEC);
  tsq_scheduler_remove (s, "a");
  tsq_scheduler_remove (s, "a");
  tsq_scheduler_remove (s, "never-added");
  g_assert_cmpuint (tsq_scheduler_get_size (s), ==, 2);
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "a"), ==, 0);

  /* Replace b: a new schedule and a later persisted next run. */
  tsq_scheduler_set (s, "b", daily, 0, T0 + 45 * SEC);
  g_assert_cmpuint (tsq_scheduler_get_size (s), ==, 2);
  fx.now = T0 + 40 * SEC;
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  g_assert_cmpstr (g_array_index (fx.fires, Fire, 0).id, ==, "c");
  fx.now = T0 + 60 * SEC; /* 45 s + a spread offset below 10 s */
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  g_assert_cmpstr (g_array_index (fx.fires, Fire, 1).id, ==, "b");
  /* b now follows the daily cron: next midnight UTC (2026-06-02), plus its spread offset
   * (default window for a one-day period: 10 s). */
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "b"), ==, (gint64)1780358400 * SEC);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "b"), >=, (gint64)1780358400 * SEC);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "b"), <, (gint64)1780358410 * SEC);

  /* Removing from inside the callback. */
  fx.remove_in_callback = TRUE;
  fx.now = tsq_scheduler_get_fire_time (s, "c");
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 1);
  g_assert_cmpuint (tsq_scheduler_get_size (s), ==, 1);
  g_array_unref (fx.fires);
}

static void
test_misfire_on_set (void)
{
  Fixture fx = { 0 };
  g_autoptr (TsqScheduler) s = new_scheduler (&fx);
  g_autoptr (TsqSchedule) minute = tsq_schedule_parse ("every 1m", NULL);
  gint64 fire;

  fx.finish_immediately = TRUE;
  /* Persisted next run 2 minutes ago (agent was down), grace 5 min: one catch-up run, spread
   * over min(10 s, 60 s / 10) = 6 s after now. */
  tsq_scheduler_set (s, "recent", minute, 0, fx.now - 120 * SEC);
  fire = tsq_scheduler_get_fire_time (s, "recent");
  g_assert_cmpint (fire, >=, fx.now);
  g_assert_cmpint (fire, <, fx.now + 6 * SEC);
  /* Persisted next run an hour ago: skipped, the next regular time after now. */
  tsq_scheduler_set (s, "old", minute, 0, fx.now - 3600 * SEC);
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "old"), ==,
                   tsq_schedule_next (minute, fx.now, tsq_schedule_seed_for_id ("old")));
  /* Only the last run known: the next is computed from it (maybe already due: a catch-up). */
  tsq_scheduler_set (s, "last", minute, fx.now - 30 * SEC, 0);
  g_assert_cmpint (
    tsq_scheduler_get_next_run (s, "last"), ==,
    tsq_schedule_next (minute, fx.now - 30 * SEC, tsq_schedule_seed_for_id ("last")));

  fx.now += 6 * SEC;
  tsq_scheduler_run_due (s);
  {
    guint recent = 0;

    for (guint i = 0; i < fx.fires->len; i++)
      {
        const Fire *f = &g_array_index (fx.fires, Fire, i);

        if (g_str_equal (f->id, "recent"))
          {
            recent++;
            g_assert_true (f->catch_up);
            g_assert_cmpint (f->due, ==, T0 + 1 - 120 * SEC);
          }
        else if (g_str_equal (f->id, "old"))
          g_assert_false (f->catch_up); /* only if its regular time fell in these 6 s */
      }
    g_assert_cmpuint (recent, ==, 1);
  }

  /* The loop itself woke up far too late (suspend): a misfire, skipped. */
  tsq_scheduler_set_grace (s, 60 * SEC);
  g_array_set_size (fx.fires, 0);
  fx.now += 3600 * SEC;
  g_assert_cmpuint (tsq_scheduler_run_due (s), ==, 0);
  g_assert_cmpint (tsq_scheduler_get_fire_time (s, "recent"), >, fx.now);
  g_array_unref (fx.fires);
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
real_fire (TsqScheduler *s, const char *id, gint64 due_us, gboolean catch_up, gpointer user_data)
{
  gint64 *lag = user_data;

  *lag = g_get_real_time () - due_us;
  tsq_scheduler_finished (s, id);
}

static void
test_main_loop (void)
{
  g_autoptr (TsqSchedule) minute = tsq_schedule_parse ("every 1m", NULL);
  gint64 lag = -1;
  gboolean timed_out = FALSE;
  g_autoptr (TsqScheduler) s = tsq_scheduler_new (real_fire, &lag, NULL);
  guint timeout;

  /* Driven by the GSource on the thread-default context and the real clock: due in 50 ms. */
  tsq_scheduler_set (s, "m", minute, 0, g_get_real_time () + 50000);
  timeout = g_timeout_add (1000, timeout_cb, &timed_out);
  while (lag < 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout);
  g_assert_cmpint (lag, >=, 0);
  g_assert_false (tsq_scheduler_is_running (s, "m"));
  g_assert_cmpint (tsq_scheduler_get_next_run (s, "m"), >, g_get_real_time ());
}

static void
notify_cb (gpointer data)
{
  *(gboolean *)data = TRUE;
}

static void
test_finalize (void)
{
  gboolean notified = FALSE;
  gint64 lag = -1;
  TsqScheduler *s = tsq_scheduler_new (real_fire, &lag, NULL);
  g_autoptr (TsqSchedule) minute = tsq_schedule_parse ("every 1m", NULL);

  g_object_unref (s);
  s = tsq_scheduler_new (real_fire, &notified, notify_cb);
  tsq_scheduler_set (s, "m", minute, 0, 0);
  g_object_unref (s);
  g_assert_true (notified);
  /* The source went away with it. */
  g_assert_false (g_main_context_iteration (NULL, FALSE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/scheduler/due-order", test_due_order);
  g_test_add_func ("/tsq/scheduler/never-concurrent", test_never_concurrent);
  g_test_add_func ("/tsq/scheduler/spread-window", test_spread_window);
  g_test_add_func ("/tsq/scheduler/remove-replace", test_remove_replace);
  g_test_add_func ("/tsq/scheduler/misfire-on-set", test_misfire_on_set);
  g_test_add_func ("/tsq/scheduler/main-loop", test_main_loop);
  g_test_add_func ("/tsq/scheduler/finalize", test_finalize);
  return g_test_run ();
}
