/* tsq-agent.c: the monitoring loop.
 *
 * The scheduler says when a monitor is due; the rate limiter says when its scan may start
 * (per registrable domain, and a global in-flight cap); the scanner scans; the change detector
 * compares with the last results; storage keeps everything; the event bus tells the rest of the
 * world (the CLI printing changes, later the WebSocket API, alerting and Kafka).
 *
 * Everything here runs on one main context; the scanner moves CPU work to worker threads.
 */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include "tsq-agent.h"
#include "tsq-change-detector.h"
#include "tsq-json-util.h"
#include "tsq-monitor.h"
#include "tsq-rate-limiter.h"
#include "tsq-schedule.h"
#include "tsq-scheduler.h"

#define MONITOR_POLL_MS 500
#define METRICS_PERIOD_S 10
#define PRUNE_PERIOD_S 3600

struct _TsqAgent
{
  GObject parent_instance;
  TsqAgentConfig *config;
  TsqStorage *storage;
  TsqEventBus *bus;
  TsqScanner *scanner;
  TsqChangeThresholds thresholds;
  TsqScheduler *scheduler;
  TsqRateLimiter *limiter;
  GHashTable *monitors; /* id -> TsqMonitor */
  GHashTable *running;  /* id -> Job (scans in flight) */
  gint64 revision;
  guint poll_source;
  guint pump_source;
  guint metrics_source;
  guint prune_source;
  guint stop_source;
  gboolean stopping;
  TsqAgentScanHook scan_hook;
  gpointer scan_hook_data;
  guint64 scans_done;
  guint64 scans_done_at_last_metrics;
  gint64 last_metrics_us;
};

G_DEFINE_FINAL_TYPE (TsqAgent, tsq_agent, G_TYPE_OBJECT)

enum
{
  SIGNAL_STOPPED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

typedef struct
{
  TsqAgent *agent;
  TsqMonitor *monitor;
  TsqScanner *scanner;
  GCancellable *cancellable;
  gint64 due_us;
  gint64 scan_id;
  gboolean catch_up;
  gboolean started;
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->monitor, tsq_monitor_unref);
  g_clear_object (&job->scanner);
  g_clear_object (&job->cancellable);
  g_free (job);
}

static void pump (TsqAgent *self);

/* ---- monitors ------------------------------------------------------------------------------ */

static void
schedule_monitor (TsqAgent *self, TsqMonitor *monitor)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqSchedule) schedule = tsq_schedule_parse (monitor->schedule, &error);

  if (schedule == NULL)
    {
      /* Rejected when saved; an older or hand-edited row can still be bad: skip it loudly. */
      g_warning ("monitor %s (%s): bad schedule “%s”: %s", monitor->name, monitor->id,
                 monitor->schedule, error->message);
      tsq_scheduler_remove (self->scheduler, monitor->id);
      return;
    }
  /* A monitor that never ran gets its baseline scan now rather than up to one period later;
   * after that it follows its schedule. */
  tsq_scheduler_set (self->scheduler, monitor->id, schedule, monitor->last_run_us,
                     monitor->last_run_us == 0 && monitor->next_run_us == 0 ? g_get_real_time ()
                                                                            : monitor->next_run_us);
}

/* Picks up monitors added, edited, enabled, disabled or removed by any process. */
static void
reload_monitors (TsqAgent *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tsq_storage_list_monitors (self->storage, &error);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  if (list == NULL)
    {
      g_warning ("cannot list monitors: %s", error->message);
      return;
    }
  for (guint i = 0; i < list->len; i++)
    {
      TsqMonitor *monitor = g_ptr_array_index (list, i);
      TsqMonitor *known = g_hash_table_lookup (self->monitors, monitor->id);

      if (!monitor->enabled)
        continue;
      g_hash_table_add (seen, monitor->id);
      if (known && known->updated_at == monitor->updated_at)
        continue;
      if (known && g_strcmp0 (known->schedule, monitor->schedule) == 0)
        {
          /* Same schedule: keep the scheduler's own next run. */
          g_hash_table_replace (self->monitors, g_strdup (monitor->id), tsq_monitor_ref (monitor));
          continue;
        }
      /* At start-up one summary line is enough; later edits are worth a line each. */
      g_log (G_LOG_DOMAIN, self->poll_source ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG,
             "%s monitor “%s” %s (%s)", known ? "updated" : "scheduling", monitor->name,
             monitor->url, monitor->schedule);
      g_hash_table_replace (self->monitors, g_strdup (monitor->id), tsq_monitor_ref (monitor));
      schedule_monitor (self, monitor);
    }

  g_hash_table_iter_init (&iter, self->monitors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (seen, key))
      {
        g_info ("unscheduling monitor “%s”", ((TsqMonitor *)value)->name);
        tsq_scheduler_remove (self->scheduler, key);
        g_hash_table_iter_remove (&iter);
      }
}

static gboolean
poll_monitors (gpointer data)
{
  TsqAgent *self = data;
  gint64 revision = tsq_storage_get_monitors_revision (self->storage);

  if (revision != self->revision)
    {
      self->revision = revision;
      reload_monitors (self);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- scans ------------------------------------------------------------------------------- */

static void
publish (TsqAgent *self, const char *topic, const char *key, JsonObject *payload)
{
  /* Takes ownership of payload. */
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, payload);
  tsq_event_bus_publish (self->bus, topic, key, node);
}

static JsonObject *
summary_of (JsonObject *result)
{
  JsonObject *summary = json_object_new ();
  JsonObject *timings = tsq_json_get_object (result, "timings");
  JsonObject *error = tsq_json_get_object (result, "error");
  JsonArray *techs = tsq_json_get_array (result, "technologies");

  json_object_set_string_member (summary, "url", tsq_json_get_string (result, "url", ""));
  json_object_set_string_member (summary, "final_url",
                                 tsq_json_get_string (result, "final_url", ""));
  if (json_object_has_member (result, "status"))
    json_object_set_int_member (summary, "status", tsq_json_get_int (result, "status", 0));
  if (error)
    json_object_set_string_member (summary, "error_kind",
                                   tsq_json_get_string (error, "kind", "internal"));
  json_object_set_double_member (summary, "ttfb_ms", tsq_json_get_double (timings, "ttfb_ms", 0));
  json_object_set_double_member (summary, "total_ms", tsq_json_get_double (timings, "total_ms", 0));
  json_object_set_int_member (summary, "technologies", techs ? json_array_get_length (techs) : 0);
  return summary;
}

static void
record_result (TsqAgent *self, Job *job, JsonObject *result)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) previous = NULL;
  g_autoptr (JsonObject) state = NULL;
  g_autoptr (JsonObject) new_state = NULL;
  g_autoptr (JsonArray) changes = NULL;
  JsonObject *payload;
  const char *id = job->monitor->id;

  state = tsq_storage_get_monitor_state (self->storage, id, &error);
  g_clear_error (&error);
  /* The detector's state carries everything it compares; the last full result (large) is only
   * read when there is no state yet, e.g. a database from before states were kept. */
  if (state == NULL)
    {
      previous = tsq_storage_get_last_result (self->storage, id, &error);
      if (error)
        {
          g_warning ("monitor %s: cannot read the last result: %s", job->monitor->name,
                     error->message);
          g_clear_error (&error);
        }
    }

  /* A scan cut short by shutdown says nothing about the site: store it, compare nothing. */
  if (!tsq_json_get_boolean (result, "interrupted", FALSE))
    changes = tsq_detect_changes (previous, result, state, &self->thresholds, &new_state);

  if (!tsq_storage_finish_scan (self->storage, job->scan_id, result, &error))
    {
      g_warning ("monitor %s: cannot store scan: %s", job->monitor->name,
                 error ? error->message : "unknown error");
      g_clear_error (&error);
    }
  if (new_state && !tsq_storage_put_monitor_state (self->storage, id, new_state, &error))
    {
      g_warning ("monitor %s: cannot store detector state: %s", job->monitor->name,
                 error ? error->message : "unknown error");
      g_clear_error (&error);
    }
  if (changes && json_array_get_length (changes) > 0
      && !tsq_storage_add_changes (self->storage, id, job->scan_id, changes, &error))
    {
      g_warning ("monitor %s: cannot store changes: %s", job->monitor->name,
                 error ? error->message : "unknown error");
      g_clear_error (&error);
    }

  payload = json_object_new ();
  json_object_set_string_member (payload, "monitor_id", id);
  json_object_set_string_member (payload, "monitor_name", job->monitor->name);
  json_object_set_int_member (payload, "scan_id", job->scan_id);
  json_object_set_object_member (payload, "summary", summary_of (result));
  /* The alert service needs one scan's changes at once (flapping is counted in scans). */
  json_object_set_array_member (payload, "changes",
                                changes ? json_array_ref (changes) : json_array_new ());
  if (self->scan_hook)
    self->scan_hook (payload, self->scan_hook_data);
  publish (self, TSQ_TOPIC_SCAN_COMPLETED, id, payload);

  for (guint i = 0; changes && i < json_array_get_length (changes); i++)
    {
      payload = json_object_new ();
      json_object_set_string_member (payload, "monitor_id", id);
      json_object_set_string_member (payload, "monitor_name", job->monitor->name);
      json_object_set_string_member (payload, "url", job->monitor->url);
      json_object_set_int_member (payload, "scan_id", job->scan_id);
      json_object_set_object_member (payload, "change",
                                     json_object_ref (json_array_get_object_element (changes, i)));
      publish (self, TSQ_TOPIC_CHANGE_DETECTED, id, payload);
    }
}

static void
on_scanned (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Job *job = user_data;
  TsqAgent *self = job->agent;
  g_autoptr (JsonObject) result = tsq_scanner_scan_finish (TSQ_SCANNER (source), res);
  g_autoptr (GError) error = NULL;
  const char *id = job->monitor->id;
  gint64 next_run;

  if (result == NULL)
    {
      /* The scanner always answers; should it not, record that rather than crash. */
      result = json_object_new ();
      json_object_set_string_member (result, "url", job->monitor->url);
    }

  if (g_cancellable_is_cancelled (job->cancellable))
    json_object_set_boolean_member (result, "interrupted", TRUE);
  record_result (self, job, result);

  self->scans_done++;
  tsq_rate_limiter_release (self->limiter);
  tsq_scheduler_finished (self->scheduler, id);
  next_run = tsq_scheduler_get_next_run (self->scheduler, id);
  if (!tsq_storage_set_monitor_run_state (self->storage, id, job->due_us, next_run, &error))
    g_warning ("monitor %s: cannot store run state: %s", job->monitor->name,
               error ? error->message : "unknown error");

  g_hash_table_remove (self->running, id); /* frees job */
  if (self->stopping && g_hash_table_size (self->running) == 0)
    {
      g_autoptr (GError) flush_error = NULL;

      if (!tsq_storage_flush (self->storage, &flush_error))
        g_warning ("flush: %s", flush_error->message);
      g_signal_emit (self, signals[SIGNAL_STOPPED], 0);
      return;
    }
  pump (self);
}

static void
start_scan (TsqAgent *self, Job *job)
{
  g_autoptr (GError) error = NULL;

  job->started = TRUE;
  job->scan_id
    = tsq_storage_begin_scan (self->storage, job->monitor->id, g_get_real_time (), &error);
  if (job->scan_id <= 0)
    g_warning ("monitor %s: cannot record scan start: %s", job->monitor->name,
               error ? error->message : "unknown error");
  job->scanner = g_object_ref (self->scanner);
  g_debug ("scanning %s (%s)", job->monitor->name, job->monitor->url);
  tsq_scanner_scan_async (job->scanner, job->monitor->url, job->monitor->scan_config,
                          job->cancellable, on_scanned, job);
}

static gboolean
pump_cb (gpointer data)
{
  TsqAgent *self = data;

  self->pump_source = 0;
  pump (self);
  return G_SOURCE_REMOVE;
}

/* Starts every job the rate limiter lets through now, and sleeps until the next one could be. */
static void
pump (TsqAgent *self)
{
  gpointer jobs[64];
  gint64 next_ready = G_MAXINT64;
  guint n;

  if (self->stopping)
    return;
  do
    {
      n = tsq_rate_limiter_take_ready (self->limiter, g_get_monotonic_time (), jobs,
                                       G_N_ELEMENTS (jobs), &next_ready);
      for (guint i = 0; i < n; i++)
        start_scan (self, jobs[i]);
    }
  while (n == G_N_ELEMENTS (jobs));

  g_clear_handle_id (&self->pump_source, g_source_remove);
  if (next_ready != G_MAXINT64)
    {
      gint64 wait_ms = MAX (0, (next_ready - g_get_monotonic_time () + 999) / 1000);

      self->pump_source = g_timeout_add ((guint)MIN (wait_ms, 60000), pump_cb, self);
    }
}

static void
on_fire (TsqScheduler *scheduler,
         const char *monitor_id,
         gint64 due_us,
         gboolean catch_up,
         gpointer user_data)
{
  TsqAgent *self = user_data;
  TsqMonitor *monitor = g_hash_table_lookup (self->monitors, monitor_id);
  g_autofree char *domain = NULL;
  g_autofree char *due = NULL;
  g_autoptr (GDateTime) due_dt = NULL;
  JsonObject *payload;
  Job *job;

  if (monitor == NULL || self->stopping)
    {
      tsq_scheduler_finished (scheduler, monitor_id);
      return;
    }
  if (g_hash_table_contains (self->running, monitor_id))
    {
      /* The scheduler already prevents this; belt and braces: never two scans of one monitor. */
      return;
    }

  job = g_new0 (Job, 1);
  job->agent = self;
  job->monitor = tsq_monitor_ref (monitor);
  job->cancellable = g_cancellable_new ();
  job->due_us = due_us;
  job->catch_up = catch_up;
  g_hash_table_insert (self->running, g_strdup (monitor_id), job);

  due_dt = g_date_time_new_from_unix_utc (due_us / G_USEC_PER_SEC);
  due = g_date_time_format_iso8601 (due_dt);
  payload = json_object_new ();
  json_object_set_string_member (payload, "monitor_id", monitor_id);
  json_object_set_string_member (payload, "url", monitor->url);
  json_object_set_string_member (payload, "due_at", due);
  json_object_set_boolean_member (payload, "catch_up", catch_up);
  publish (self, TSQ_TOPIC_SCAN_SCHEDULED, monitor_id, payload);

  domain = tsq_rate_limiter_domain_for_url (monitor->url);
  tsq_rate_limiter_enqueue (self->limiter, domain ? domain : "", job);
  if (self->pump_source == 0)
    self->pump_source = g_idle_add (pump_cb, self);
}

/* ---- metrics and housekeeping -----------------------------------------------------------------
 */

static guint64
current_rss_bytes (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      && sscanf (statm, "%lu %lu", &size, &resident) == 2)
    return (guint64)resident * 4096;
  return 0;
}

static gboolean
collect_metrics (gpointer data)
{
  TsqAgent *self = data;
  g_autoptr (GError) error = NULL;
  JsonObject *metrics = json_object_new ();
  gint64 now = g_get_monotonic_time ();
  double seconds = (now - self->last_metrics_us) / (double)G_USEC_PER_SEC;

  json_object_set_double_member (
    metrics, "scans_per_s",
    seconds > 0 ? (self->scans_done - self->scans_done_at_last_metrics) / seconds : 0);
  json_object_set_int_member (metrics, "scans_total", self->scans_done);
  json_object_set_int_member (metrics, "in_flight", tsq_rate_limiter_get_in_flight (self->limiter));
  json_object_set_int_member (metrics, "queued", tsq_rate_limiter_get_queued (self->limiter));
  json_object_set_int_member (metrics, "monitors", g_hash_table_size (self->monitors));
  json_object_set_int_member (metrics, "rss_bytes", current_rss_bytes ());
  self->scans_done_at_last_metrics = self->scans_done;
  self->last_metrics_us = now;

  if (!tsq_storage_add_system_metrics (self->storage, metrics, &error))
    g_warning ("cannot store metrics: %s", error->message);
  publish (self, TSQ_TOPIC_METRICS_COLLECTED, NULL, metrics);
  return G_SOURCE_CONTINUE;
}

static gboolean
prune (gpointer data)
{
  TsqAgent *self = data;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  gint64 day = G_USEC_PER_SEC * (gint64)86400;
  gint64 raw_before
    = self->config->raw_results_days ? now - self->config->raw_results_days * day : 0;
  gint64 metrics_before = self->config->metrics_days ? now - self->config->metrics_days * day : 0;

  if (!tsq_storage_prune (self->storage, raw_before, metrics_before, &error))
    g_warning ("retention: %s", error->message);
  g_clear_error (&error);
  /* Delivered notifications are kept as long as raw results; pending and dead ones stay. */
  if (raw_before > 0 && tsq_storage_outbox_prune (self->storage, raw_before, &error) < 0)
    g_warning ("retention (outbox): %s", error ? error->message : "unknown error");
  return G_SOURCE_CONTINUE;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static void
tsq_agent_dispose (GObject *object)
{
  TsqAgent *self = TSQ_AGENT (object);

  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->pump_source, g_source_remove);
  g_clear_handle_id (&self->metrics_source, g_source_remove);
  g_clear_handle_id (&self->prune_source, g_source_remove);
  g_clear_handle_id (&self->stop_source, g_source_remove);
  G_OBJECT_CLASS (tsq_agent_parent_class)->dispose (object);
}

static void
tsq_agent_finalize (GObject *object)
{
  TsqAgent *self = TSQ_AGENT (object);

  g_clear_pointer (&self->running, g_hash_table_unref);
  g_clear_pointer (&self->monitors, g_hash_table_unref);
  g_clear_object (&self->scheduler);
  g_clear_pointer (&self->limiter, tsq_rate_limiter_free);
  g_clear_object (&self->scanner);
  g_clear_object (&self->bus);
  g_clear_object (&self->storage);
  G_OBJECT_CLASS (tsq_agent_parent_class)->finalize (object);
}

static void
tsq_agent_class_init (TsqAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tsq_agent_dispose;
  object_class->finalize = tsq_agent_finalize;
  signals[SIGNAL_STOPPED] = g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tsq_agent_init (TsqAgent *self)
{
  self->monitors
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)tsq_monitor_unref);
  self->running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)job_free);
}

TsqAgent *
tsq_agent_new (TsqAgentConfig *config, TsqStorage *storage, TsqEventBus *bus, TsqScanner *scanner)
{
  TsqAgent *self = g_object_new (TSQ_TYPE_AGENT, NULL);

  self->config = config;
  self->storage = g_object_ref (storage);
  self->bus = g_object_ref (bus);
  self->scanner = g_object_ref (scanner);
  self->thresholds = config->thresholds;
  self->limiter
    = tsq_rate_limiter_new (config->domain_rate, config->domain_burst, config->max_in_flight);
  self->scheduler = tsq_scheduler_new (on_fire, self, NULL);
  tsq_scheduler_set_grace (self->scheduler, (gint64)config->misfire_grace_s * G_USEC_PER_SEC);
  tsq_scheduler_set_spread_window (self->scheduler,
                                   (gint64)config->spread_window_s * G_USEC_PER_SEC);
  return self;
}

void
tsq_agent_set_domain_rate (TsqAgent *self, const char *domain, double rate, double burst)
{
  tsq_rate_limiter_set_domain_rate (self->limiter, domain, rate, burst);
}

void
tsq_agent_replace_scanner (TsqAgent *self,
                           TsqScanner *scanner,
                           const TsqChangeThresholds *thresholds)
{
  g_set_object (&self->scanner, scanner);
  if (thresholds)
    self->thresholds = *thresholds;
}

gboolean
tsq_agent_start (TsqAgent *self, GError **error)
{
  gint64 interrupted = tsq_storage_mark_interrupted_scans (self->storage, error);

  if (interrupted < 0)
    return FALSE;
  if (interrupted > 0)
    g_message ("%" G_GINT64_FORMAT " scan(s) were interrupted by the previous shutdown",
               interrupted);

  self->revision = tsq_storage_get_monitors_revision (self->storage);
  reload_monitors (self);
  g_message ("monitoring %u monitor(s); database %s", g_hash_table_size (self->monitors),
             self->config->database);

  self->poll_source = g_timeout_add (MONITOR_POLL_MS, poll_monitors, self);
  self->last_metrics_us = g_get_monotonic_time ();
  self->metrics_source = g_timeout_add_seconds (METRICS_PERIOD_S, collect_metrics, self);
  self->prune_source = g_timeout_add_seconds (PRUNE_PERIOD_S, prune, self);
  prune (self);
  return TRUE;
}

static gboolean
cancel_in_flight (gpointer data)
{
  TsqAgent *self = data;
  GHashTableIter iter;
  gpointer value;

  self->stop_source = 0;
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_cancellable_cancel (((Job *)value)->cancellable);
  return G_SOURCE_REMOVE;
}

void
tsq_agent_stop (TsqAgent *self, guint grace_ms)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr (GError) error = NULL;

  if (self->stopping)
    {
      /* A second signal: do not wait any longer. */
      cancel_in_flight (self);
      return;
    }
  self->stopping = TRUE;
  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->pump_source, g_source_remove);

  /* Queued jobs that never started are simply dropped: their next_run stays due, so the next
   * start treats them as misfires. */
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!((Job *)value)->started)
      {
        Job *job = value;
        g_autofree char *domain = tsq_rate_limiter_domain_for_url (job->monitor->url);

        tsq_rate_limiter_cancel (self->limiter, domain ? domain : "", job);
        g_hash_table_iter_remove (&iter);
      }

  if (g_hash_table_size (self->running) == 0)
    {
      if (!tsq_storage_flush (self->storage, &error))
        g_warning ("flush: %s", error->message);
      g_signal_emit (self, signals[SIGNAL_STOPPED], 0);
      return;
    }
  g_message ("waiting up to %u ms for %u scan(s) in flight", grace_ms,
             g_hash_table_size (self->running));
  self->stop_source = g_timeout_add (grace_ms, cancel_in_flight, self);
}

void
tsq_agent_set_scan_hook (TsqAgent *self, TsqAgentScanHook hook, gpointer user_data)
{
  self->scan_hook = hook;
  self->scan_hook_data = user_data;
}

guint
tsq_agent_get_in_flight (TsqAgent *self)
{
  return tsq_rate_limiter_get_in_flight (self->limiter);
}
