/* tsq-scheduler.c: the monitor scheduler loop (min-heap + one GSource). */
#define G_LOG_DOMAIN "tsq-scheduler"

#include "tsq-heap.h"
#include "tsq-scheduler.h"

#include <string.h>

/* Fires handled per dispatch before returning to the main loop (other sources get a turn). */
#define FIRE_BATCH 1000
/* Longest sleep without re-reading the wall clock. */
#define MAX_SLEEP_US (60 * G_USEC_PER_SEC)
#define NOT_IN_HEAP TSQ_HEAP_NOT_IN

typedef struct
{
  char *id;
  TsqSchedule *schedule;
  guint32 seed;
  gint64 due_us;    /* next regular due time (what is persisted) */
  gint64 fire_us;   /* heap key: when to fire */
  gint64 period_us; /* approximate period, for the default spread window */
  guint heap_index;
  gboolean running;
  gboolean pending;  /* a fire time passed while running */
  gboolean catch_up; /* the planned fire is a catch-up run of due_us */
} Entry;

typedef struct
{
  GSource source;
  TsqScheduler *self;
} SchedSource;

struct _TsqScheduler
{
  GObject parent_instance;

  TsqSchedulerFireFunc fire;
  gpointer user_data;
  GDestroyNotify notify;

  GHashTable *entries; /* id -> Entry (rc box) */
  TsqHeap *heap;       /* of Entry, borrowed */
  GMainContext *context;
  GSource *source;
  gint64 armed_ready; /* last monotonic ready time given to the source */
  gboolean in_run;

  gint64 grace_us;
  gint64 spread_window_us; /* < 0: default */

  TsqSchedulerClockFunc clock;
  gpointer clock_data;
};

G_DEFINE_FINAL_TYPE (TsqScheduler, tsq_scheduler, G_TYPE_OBJECT)

static void rearm (TsqScheduler *self);

static gint64
now_us (TsqScheduler *self)
{
  return self->clock != NULL ? self->clock (self->clock_data) : g_get_real_time ();
}

static void
entry_clear (gpointer data)
{
  Entry *e = data;

  g_free (e->id);
  tsq_schedule_unref (e->schedule);
}

static void
entry_release (gpointer data)
{
  g_rc_box_release_full (data, entry_clear);
}

/* ---- heap order ---- */

static gboolean
entry_less (gconstpointer a,
            gconstpointer b)
{
  const Entry *x = a, *y = b;

  if (x->fire_us != y->fire_us)
    return x->fire_us < y->fire_us;
  return strcmp (x->id, y->id) < 0;
}

/* ---- planning ---- */

static guint64
mix64 (guint64 x)
{
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static gint64
spread_offset (TsqScheduler *self, Entry *e)
{
  gint64 w = self->spread_window_us >= 0 ? self->spread_window_us
                                         : MIN (TSQ_SCHEDULER_MAX_SPREAD_US, e->period_us / 10);

  w = MIN (w, e->period_us);
  if (w <= 0)
    return 0;
  return (gint64)(mix64 (e->seed ^ G_GUINT64_CONSTANT (0x5ca1ab1e00000000)) % (guint64)w);
}

static gint64
regular_offset (TsqScheduler *self, Entry *e)
{
  /* Interval monitors are spread by their phase already. */
  if (tsq_schedule_get_kind (e->schedule) != TSQ_SCHEDULE_CRON)
    return 0;
  return spread_offset (self, e);
}

static gint64
estimate_period (TsqSchedule *schedule, guint32 seed, gint64 now)
{
  gint64 n1, n2;

  if (tsq_schedule_get_kind (schedule) == TSQ_SCHEDULE_INTERVAL)
    return tsq_schedule_get_interval_us (schedule);
  n1 = tsq_schedule_next (schedule, now, seed);
  if (n1 == G_MAXINT64)
    return 0;
  n2 = tsq_schedule_next (schedule, n1, seed);
  return n2 == G_MAXINT64 ? 0 : n2 - n1;
}

/* Sets fire_us (and maybe due_us, catch_up) from due_us; queues the entry. immediate: a
 * catch-up runs at now (after a finished run) rather than now + spread (after a restart). */
static void
plan (TsqScheduler *self, Entry *e, gint64 now, gboolean immediate)
{
  gint64 off;

  tsq_heap_remove (self->heap, e);
  e->catch_up = FALSE;
  if (e->due_us == G_MAXINT64)
    return;
  off = regular_offset (self, e);
  if (e->due_us + off < now)
    {
      gboolean catch_up;
      gint64 t = tsq_schedule_resolve_misfire (e->schedule, e->due_us, now, self->grace_us, e->seed,
                                               &catch_up);

      if (catch_up)
        {
          e->catch_up = TRUE;
          e->fire_us = immediate ? now : now + spread_offset (self, e);
          tsq_heap_push (self->heap, e);
          return;
        }
      e->due_us = t;
      if (t == G_MAXINT64)
        return;
    }
  e->fire_us = e->due_us + off;
  tsq_heap_push (self->heap, e);
}

/* ---- the source ---- */

static gboolean
sched_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  TsqScheduler *self = ((SchedSource *)source)->self;

  g_source_set_ready_time (source, -1);
  self->armed_ready = -1;
  tsq_scheduler_run_due (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs sched_source_funcs = {
  .dispatch = sched_source_dispatch,
};

static void
set_ready (TsqScheduler *self, gint64 ready)
{
  if (self->source == NULL || ready == self->armed_ready)
    return;
  self->armed_ready = ready;
  g_source_set_ready_time (self->source, ready);
}

static void
rearm (TsqScheduler *self)
{
  Entry *top;
  gint64 delta;

  if (self->in_run)
    return;
  if (tsq_heap_get_size (self->heap) == 0)
    {
      set_ready (self, -1);
      return;
    }
  top = tsq_heap_peek (self->heap);
  delta = top->fire_us - now_us (self);
  delta = CLAMP (delta, 0, MAX_SLEEP_US);
  set_ready (self, g_get_monotonic_time () + delta);
}

guint
tsq_scheduler_run_due (TsqScheduler *self)
{
  g_autoptr (TsqScheduler) hold = NULL;
  gint64 now;
  guint fired = 0;

  g_return_val_if_fail (TSQ_IS_SCHEDULER (self), 0);

  if (self->in_run)
    return 0;
  hold = g_object_ref (self);
  self->in_run = TRUE;
  now = now_us (self);

  while (tsq_heap_get_size (self->heap) > 0 && fired < FIRE_BATCH)
    {
      Entry *e = tsq_heap_peek (self->heap);
      gint64 planned;
      gboolean catch_up;

      if (e->fire_us > now)
        break;
      tsq_heap_remove (self->heap, e);
      if (e->running)
        {
          /* Never concurrently: decided in tsq_scheduler_finished(). */
          e->pending = TRUE;
          continue;
        }
      if (!e->catch_up && now - e->fire_us > self->grace_us)
        {
          /* Woke up too late (suspend, clock jump): a misfire, skip to the next time. */
          plan (self, e, now, FALSE);
          continue;
        }

      catch_up = e->catch_up;
      planned = catch_up ? e->due_us : e->fire_us;
      e->running = TRUE;

      /* Queue the next regular run before calling out, so the callback sees a consistent
       * state. If that time is already past (we are late), coalesce into the next after now. */
      {
        gint64 off = regular_offset (self, e);
        gint64 next = tsq_schedule_next (e->schedule, e->due_us, e->seed);

        if (next != G_MAXINT64 && next + off <= now)
          next = tsq_schedule_next (e->schedule, now, e->seed);
        e->due_us = next;
        e->catch_up = FALSE;
        if (next != G_MAXINT64)
          {
            e->fire_us = next + off;
            tsq_heap_push (self->heap, e);
          }
      }

      fired++;
      g_rc_box_acquire (e);
      self->fire (self, e->id, planned, catch_up, self->user_data);
      entry_release (e);
    }

  self->in_run = FALSE;
  if (fired >= FIRE_BATCH && tsq_heap_get_size (self->heap) > 0 && ((Entry *) tsq_heap_peek (self->heap))->fire_us <= now)
    set_ready (self, 0);
  else
    rearm (self);
  return fired;
}

/* ---- public API ---- */

TsqScheduler *
tsq_scheduler_new (TsqSchedulerFireFunc fire, gpointer user_data, GDestroyNotify notify)
{
  TsqScheduler *self;

  g_return_val_if_fail (fire != NULL, NULL);

  self = g_object_new (TSQ_TYPE_SCHEDULER, NULL);
  self->fire = fire;
  self->user_data = user_data;
  self->notify = notify;
  return self;
}

void
tsq_scheduler_set (TsqScheduler *self,
                   const char *monitor_id,
                   TsqSchedule *schedule,
                   gint64 last_run_us,
                   gint64 next_run_us)
{
  Entry *e;
  gint64 now;

  g_return_if_fail (TSQ_IS_SCHEDULER (self));
  g_return_if_fail (monitor_id != NULL);
  g_return_if_fail (schedule != NULL);

  now = now_us (self);
  e = g_hash_table_lookup (self->entries, monitor_id);
  if (e == NULL)
    {
      e = g_rc_box_new0 (Entry);
      e->id = g_strdup (monitor_id);
      e->heap_index = NOT_IN_HEAP;
      e->seed = tsq_schedule_seed_for_id (monitor_id);
      g_hash_table_insert (self->entries, e->id, e);
    }
  else
    {
      tsq_heap_remove (self->heap, e);
      tsq_schedule_unref (e->schedule);
    }
  e->schedule = tsq_schedule_ref (schedule);
  e->pending = FALSE;
  e->period_us = estimate_period (schedule, e->seed, now);
  if (next_run_us > 0)
    e->due_us = next_run_us;
  else if (last_run_us > 0)
    e->due_us = tsq_schedule_next (schedule, last_run_us, e->seed);
  else
    e->due_us = tsq_schedule_next (schedule, now, e->seed);
  plan (self, e, now, FALSE);
  rearm (self);
}

void
tsq_scheduler_remove (TsqScheduler *self, const char *monitor_id)
{
  Entry *e;

  g_return_if_fail (TSQ_IS_SCHEDULER (self));
  g_return_if_fail (monitor_id != NULL);

  e = g_hash_table_lookup (self->entries, monitor_id);
  if (e == NULL)
    return;
  tsq_heap_remove (self->heap, e);
  g_hash_table_remove (self->entries, monitor_id);
  rearm (self);
}

void
tsq_scheduler_finished (TsqScheduler *self, const char *monitor_id)
{
  Entry *e;

  g_return_if_fail (TSQ_IS_SCHEDULER (self));
  g_return_if_fail (monitor_id != NULL);

  e = g_hash_table_lookup (self->entries, monitor_id);
  if (e == NULL || !e->running)
    return;
  e->running = FALSE;
  if (e->pending)
    {
      e->pending = FALSE;
      plan (self, e, now_us (self), TRUE);
      rearm (self);
    }
}

gint64
tsq_scheduler_get_next_run (TsqScheduler *self, const char *monitor_id)
{
  Entry *e;

  g_return_val_if_fail (TSQ_IS_SCHEDULER (self), 0);
  e = g_hash_table_lookup (self->entries, monitor_id);
  return e != NULL ? e->due_us : 0;
}

gint64
tsq_scheduler_get_fire_time (TsqScheduler *self, const char *monitor_id)
{
  Entry *e;

  g_return_val_if_fail (TSQ_IS_SCHEDULER (self), 0);
  e = g_hash_table_lookup (self->entries, monitor_id);
  if (e == NULL)
    return 0;
  return e->heap_index == NOT_IN_HEAP ? G_MAXINT64 : e->fire_us;
}

gboolean
tsq_scheduler_is_running (TsqScheduler *self, const char *monitor_id)
{
  Entry *e;

  g_return_val_if_fail (TSQ_IS_SCHEDULER (self), FALSE);
  e = g_hash_table_lookup (self->entries, monitor_id);
  return e != NULL && e->running;
}

void
tsq_scheduler_set_grace (TsqScheduler *self, gint64 grace_us)
{
  g_return_if_fail (TSQ_IS_SCHEDULER (self));
  self->grace_us = MAX (grace_us, 0);
}

void
tsq_scheduler_set_spread_window (TsqScheduler *self, gint64 window_us)
{
  GHashTableIter iter;
  gpointer value;
  gint64 now;

  g_return_if_fail (TSQ_IS_SCHEDULER (self));
  self->spread_window_us = window_us < 0 ? -1 : window_us;

  /* Re-plan queued regular fires with the new offsets. */
  now = now_us (self);
  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *e = value;

      if (e->heap_index != NOT_IN_HEAP && !e->catch_up)
        plan (self, e, now, FALSE);
    }
  rearm (self);
}

guint
tsq_scheduler_get_size (TsqScheduler *self)
{
  g_return_val_if_fail (TSQ_IS_SCHEDULER (self), 0);
  return g_hash_table_size (self->entries);
}

void
tsq_scheduler_set_clock (TsqScheduler *self, TsqSchedulerClockFunc clock, gpointer user_data)
{
  g_return_if_fail (TSQ_IS_SCHEDULER (self));
  self->clock = clock;
  self->clock_data = user_data;
  rearm (self);
}

static void
tsq_scheduler_finalize (GObject *object)
{
  TsqScheduler *self = TSQ_SCHEDULER (object);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->heap, tsq_heap_free);
  g_clear_pointer (&self->entries, g_hash_table_unref);
  if (self->notify != NULL)
    self->notify (self->user_data);

  G_OBJECT_CLASS (tsq_scheduler_parent_class)->finalize (object);
}

static void
tsq_scheduler_class_init (TsqSchedulerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_scheduler_finalize;
}

static void
tsq_scheduler_init (TsqScheduler *self)
{
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_release);
  self->heap = tsq_heap_new (entry_less, G_STRUCT_OFFSET (Entry, heap_index));
  self->grace_us = TSQ_SCHEDULER_DEFAULT_GRACE_US;
  self->spread_window_us = -1;
  self->armed_ready = -1;
  self->context = g_main_context_ref_thread_default ();
  self->source = g_source_new (&sched_source_funcs, sizeof (SchedSource));
  ((SchedSource *)self->source)->self = self;
  g_source_set_name (self->source, "TsqScheduler");
  g_source_attach (self->source, self->context);
}
