/* tsq-storage.c: the storage interface's dispatch wrappers. */
#define G_LOG_DOMAIN "tsq-storage"

#include "tsq-storage.h"

G_DEFINE_QUARK (tsq - storage - error - quark, tsq_storage_error)

G_DEFINE_INTERFACE (TsqStorage, tsq_storage, G_TYPE_OBJECT)

static void
tsq_storage_default_init (TsqStorageInterface *iface)
{
}

static gboolean
not_supported (TsqStorage *s, const char *what, GError **error)
{
  g_set_error (error, TSQ_STORAGE_ERROR, TSQ_STORAGE_ERROR_FAILED, "%s does not support %s",
               G_OBJECT_TYPE_NAME (s), what);
  return FALSE;
}

gboolean
tsq_storage_put_monitor (TsqStorage *s, TsqMonitor *m, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (m != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->put_monitor == NULL)
    {
      not_supported (s, "put_monitor", error);
      return FALSE;
    }
  return iface->put_monitor (s, m, error);
}

TsqMonitor *
tsq_storage_get_monitor (TsqStorage *s, const char *id_or_unique_prefix_or_name, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (id_or_unique_prefix_or_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->get_monitor == NULL)
    {
      not_supported (s, "get_monitor", error);
      return NULL;
    }
  return iface->get_monitor (s, id_or_unique_prefix_or_name, error);
}

GPtrArray *
tsq_storage_list_monitors (TsqStorage *s, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->list_monitors == NULL)
    {
      not_supported (s, "list_monitors", error);
      return NULL;
    }
  return iface->list_monitors (s, error);
}

gboolean
tsq_storage_delete_monitor (TsqStorage *s, const char *id, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->delete_monitor == NULL)
    {
      not_supported (s, "delete_monitor", error);
      return FALSE;
    }
  return iface->delete_monitor (s, id, error);
}

gboolean
tsq_storage_set_monitor_run_state (
  TsqStorage *s, const char *id, gint64 last_run_us, gint64 next_run_us, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->set_monitor_run_state == NULL)
    {
      not_supported (s, "set_monitor_run_state", error);
      return FALSE;
    }
  return iface->set_monitor_run_state (s, id, last_run_us, next_run_us, error);
}

gint64
tsq_storage_begin_scan (TsqStorage *s, const char *monitor_id, gint64 started_us, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), -1);
  g_return_val_if_fail (monitor_id != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->begin_scan == NULL)
    {
      not_supported (s, "begin_scan", error);
      return -1;
    }
  return iface->begin_scan (s, monitor_id, started_us, error);
}

gboolean
tsq_storage_finish_scan (TsqStorage *s, gint64 scan_id, JsonObject *result, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->finish_scan == NULL)
    {
      not_supported (s, "finish_scan", error);
      return FALSE;
    }
  return iface->finish_scan (s, scan_id, result, error);
}

gint64
tsq_storage_mark_interrupted_scans (TsqStorage *s, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->mark_interrupted_scans == NULL)
    {
      not_supported (s, "mark_interrupted_scans", error);
      return -1;
    }
  return iface->mark_interrupted_scans (s, error);
}

JsonObject *
tsq_storage_get_last_result (TsqStorage *s, const char *monitor_id, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (monitor_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->get_last_result == NULL)
    {
      not_supported (s, "get_last_result", error);
      return NULL;
    }
  return iface->get_last_result (s, monitor_id, error);
}

GPtrArray *
tsq_storage_list_scans (
  TsqStorage *s, const char *monitor_id, gint64 since_us, guint limit, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->list_scans == NULL)
    {
      not_supported (s, "list_scans", error);
      return NULL;
    }
  return iface->list_scans (s, monitor_id, since_us, limit, error);
}

JsonObject *
tsq_storage_get_scan (TsqStorage *s, gint64 scan_id, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->get_scan == NULL)
    {
      not_supported (s, "get_scan", error);
      return NULL;
    }
  return iface->get_scan (s, scan_id, error);
}

GArray *
tsq_storage_recent_metric (
  TsqStorage *s, const char *monitor_id, const char *metric, guint n, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (monitor_id != NULL, NULL);
  g_return_val_if_fail (metric != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->recent_metric == NULL)
    {
      not_supported (s, "recent_metric", error);
      return NULL;
    }
  return iface->recent_metric (s, monitor_id, metric, n, error);
}

gboolean
tsq_storage_put_monitor_state (TsqStorage *s,
                               const char *monitor_id,
                               JsonObject *state,
                               GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (monitor_id != NULL, FALSE);
  g_return_val_if_fail (state != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->put_monitor_state == NULL)
    {
      not_supported (s, "put_monitor_state", error);
      return FALSE;
    }
  return iface->put_monitor_state (s, monitor_id, state, error);
}

JsonObject *
tsq_storage_get_monitor_state (TsqStorage *s, const char *monitor_id, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (monitor_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->get_monitor_state == NULL)
    {
      not_supported (s, "get_monitor_state", error);
      return NULL;
    }
  return iface->get_monitor_state (s, monitor_id, error);
}

gboolean
tsq_storage_add_changes (
  TsqStorage *s, const char *monitor_id, gint64 scan_id, JsonArray *changes, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (monitor_id != NULL, FALSE);
  g_return_val_if_fail (changes != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->add_changes == NULL)
    {
      not_supported (s, "add_changes", error);
      return FALSE;
    }
  return iface->add_changes (s, monitor_id, scan_id, changes, error);
}

GPtrArray *
tsq_storage_list_changes (TsqStorage *s,
                          const char *monitor_id,
                          gint64 since_us,
                          gint64 after_id,
                          guint limit,
                          GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->list_changes == NULL)
    {
      not_supported (s, "list_changes", error);
      return NULL;
    }
  return iface->list_changes (s, monitor_id, since_us, after_id, limit, error);
}

gint64
tsq_storage_add_alert (TsqStorage *s, JsonObject *alert, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), -1);
  g_return_val_if_fail (alert != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->add_alert == NULL)
    {
      not_supported (s, "add_alert", error);
      return -1;
    }
  return iface->add_alert (s, alert, error);
}

GPtrArray *
tsq_storage_list_alerts (TsqStorage *s, const char *monitor_id, guint limit, GError **error)
{
  TsqAlertFilter filter = { 0 };

  filter.monitor_id = monitor_id;
  filter.limit = limit;
  return tsq_storage_query_alerts (s, &filter, error);
}

/* Every "now" argument: <= 0 means the real clock (tests pass a fake one). */
static gint64
now_or_real (gint64 us)
{
  return us > 0 ? us : g_get_real_time ();
}

/* The rest of the wrappers all look alike: check, find the vfunc, report a backend that lacks
 * it, call. */
#define DISPATCH(s, vfunc, failed, ...)                                                            \
  G_STMT_START                                                                                     \
  {                                                                                                \
    TsqStorageInterface *iface_;                                                                   \
                                                                                                   \
    g_return_val_if_fail (TSQ_IS_STORAGE (s), failed);                                             \
    g_return_val_if_fail (error == NULL || *error == NULL, failed);                                \
    iface_ = TSQ_STORAGE_GET_IFACE (s);                                                            \
    if (iface_->vfunc == NULL)                                                                     \
      {                                                                                            \
        not_supported (s, #vfunc, error);                                                          \
        return failed;                                                                             \
      }                                                                                            \
    return iface_->vfunc (s, __VA_ARGS__);                                                         \
  }                                                                                                \
  G_STMT_END

gboolean
tsq_storage_transaction_begin (TsqStorage *s, GError **error)
{
  DISPATCH (s, transaction_begin, FALSE, error);
}

gboolean
tsq_storage_transaction_commit (TsqStorage *s, GError **error)
{
  DISPATCH (s, transaction_commit, FALSE, error);
}

void
tsq_storage_transaction_rollback (TsqStorage *s)
{
  TsqStorageInterface *iface;

  g_return_if_fail (TSQ_IS_STORAGE (s));
  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->transaction_rollback != NULL)
    iface->transaction_rollback (s);
}

gint64
tsq_storage_upsert_open_alert (TsqStorage *s,
                               JsonObject *alert,
                               gboolean *out_created,
                               GError **error)
{
  gboolean created_dummy;

  g_return_val_if_fail (alert != NULL, -1);
  if (out_created == NULL)
    out_created = &created_dummy;
  *out_created = FALSE;
  DISPATCH (s, upsert_open_alert, -1, alert, out_created, error);
}

JsonObject *
tsq_storage_get_alert (TsqStorage *s, gint64 id, GError **error)
{
  DISPATCH (s, get_alert, NULL, id, error);
}

GPtrArray *
tsq_storage_query_alerts (TsqStorage *s, const TsqAlertFilter *filter, GError **error)
{
  TsqAlertFilter all = { 0 };

  if (filter == NULL)
    filter = &all;
  DISPATCH (s, query_alerts, NULL, filter, error);
}

GPtrArray *
tsq_storage_list_open_alerts (TsqStorage *s, GError **error)
{
  DISPATCH (s, list_open_alerts, NULL, error);
}

gboolean
tsq_storage_ack_alert (TsqStorage *s, gint64 id, const char *by, gint64 at_us, GError **error)
{
  DISPATCH (s, ack_alert, FALSE, id, by, now_or_real (at_us), error);
}

gboolean
tsq_storage_resolve_alert (
  TsqStorage *s, gint64 id, const char *reason, gint64 at_us, GError **error)
{
  DISPATCH (s, resolve_alert, FALSE, id, reason, now_or_real (at_us), error);
}

gboolean
tsq_storage_set_alert_escalation (TsqStorage *s,
                                  gint64 id,
                                  const char *policy,
                                  gint level,
                                  gint64 last_notified_us,
                                  gint64 next_action_us,
                                  GError **error)
{
  DISPATCH (s, set_alert_escalation, FALSE, id, policy, level, last_notified_us, next_action_us,
            error);
}

gint64
tsq_storage_add_silence (TsqStorage *s, JsonObject *silence, GError **error)
{
  g_return_val_if_fail (silence != NULL, -1);
  DISPATCH (s, add_silence, -1, silence, error);
}

GPtrArray *
tsq_storage_list_silences (TsqStorage *s, gboolean include_expired, gint64 now_us, GError **error)
{
  DISPATCH (s, list_silences, NULL, include_expired, now_or_real (now_us), error);
}

gboolean
tsq_storage_expire_silence (TsqStorage *s, gint64 id, gint64 now_us, GError **error)
{
  DISPATCH (s, expire_silence, FALSE, id, now_or_real (now_us), error);
}

gint64
tsq_storage_add_maintenance (TsqStorage *s, JsonObject *window, GError **error)
{
  g_return_val_if_fail (window != NULL, -1);
  DISPATCH (s, add_maintenance, -1, window, error);
}

GPtrArray *
tsq_storage_list_maintenance (TsqStorage *s, const char *monitor_id, GError **error)
{
  DISPATCH (s, list_maintenance, NULL, monitor_id, error);
}

gboolean
tsq_storage_remove_maintenance (TsqStorage *s, gint64 id, GError **error)
{
  DISPATCH (s, remove_maintenance, FALSE, id, error);
}

char *
tsq_storage_outbox_enqueue (TsqStorage *s, JsonObject *notification, GError **error)
{
  g_return_val_if_fail (notification != NULL, NULL);
  DISPATCH (s, outbox_enqueue, NULL, notification, error);
}

GPtrArray *
tsq_storage_outbox_claim_due (
  TsqStorage *s, gint64 now_us, guint limit, gint64 lease_us, GError **error)
{
  g_return_val_if_fail (lease_us > 0, NULL);
  DISPATCH (s, outbox_claim_due, NULL, now_or_real (now_us), limit, lease_us, error);
}

gboolean
tsq_storage_outbox_mark_delivered (TsqStorage *s, const char *id, gint64 now_us, GError **error)
{
  g_return_val_if_fail (id != NULL, FALSE);
  DISPATCH (s, outbox_mark_delivered, FALSE, id, now_or_real (now_us), error);
}

gboolean
tsq_storage_outbox_mark_failed (TsqStorage *s,
                                const char *id,
                                const char *message,
                                gint64 retry_after_s,
                                const TsqBackoff *backoff,
                                gint64 now_us,
                                gboolean *out_dead,
                                GError **error)
{
  TsqBackoff defaults;
  gboolean dead_dummy;

  g_return_val_if_fail (id != NULL, FALSE);
  if (backoff == NULL)
    {
      tsq_backoff_init_default (&defaults);
      backoff = &defaults;
    }
  if (out_dead == NULL)
    out_dead = &dead_dummy;
  *out_dead = FALSE;
  DISPATCH (s, outbox_mark_failed, FALSE, id, message, retry_after_s, backoff, now_or_real (now_us),
            out_dead, error);
}

gboolean
tsq_storage_outbox_mark_dead (
  TsqStorage *s, const char *id, const char *message, gint64 now_us, GError **error)
{
  g_return_val_if_fail (id != NULL, FALSE);
  DISPATCH (s, outbox_mark_dead, FALSE, id, message, now_or_real (now_us), error);
}

gboolean
tsq_storage_outbox_requeue (TsqStorage *s, const char *id, gint64 now_us, GError **error)
{
  g_return_val_if_fail (id != NULL, FALSE);
  DISPATCH (s, outbox_requeue, FALSE, id, now_or_real (now_us), error);
}

JsonObject *
tsq_storage_outbox_get (TsqStorage *s, const char *id, GError **error)
{
  g_return_val_if_fail (id != NULL, NULL);
  DISPATCH (s, outbox_get, NULL, id, error);
}

GPtrArray *
tsq_storage_outbox_list (TsqStorage *s, const char *state, guint limit, GError **error)
{
  DISPATCH (s, outbox_list, NULL, state, limit, error);
}

gint64
tsq_storage_outbox_next_due (TsqStorage *s, GError **error)
{
  DISPATCH (s, outbox_next_due, -1, error);
}

gint64
tsq_storage_outbox_prune (TsqStorage *s, gint64 delivered_before_us, GError **error)
{
  DISPATCH (s, outbox_prune, -1, delivered_before_us, error);
}

gboolean
tsq_storage_add_system_metrics (TsqStorage *s, JsonObject *metrics, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (metrics != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->add_system_metrics == NULL)
    {
      not_supported (s, "add_system_metrics", error);
      return FALSE;
    }
  return iface->add_system_metrics (s, metrics, error);
}

GPtrArray *
tsq_storage_list_system_metrics (TsqStorage *s, gint64 since_us, guint limit, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->list_system_metrics == NULL)
    {
      not_supported (s, "list_system_metrics", error);
      return NULL;
    }
  return iface->list_system_metrics (s, since_us, limit, error);
}

gboolean
tsq_storage_flush (TsqStorage *s, GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->flush == NULL)
    {
      not_supported (s, "flush", error);
      return FALSE;
    }
  return iface->flush (s, error);
}

gboolean
tsq_storage_prune (TsqStorage *s,
                   gint64 raw_results_before_us,
                   gint64 metrics_before_us,
                   GError **error)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->prune == NULL)
    {
      not_supported (s, "prune", error);
      return FALSE;
    }
  return iface->prune (s, raw_results_before_us, metrics_before_us, error);
}

gint64
tsq_storage_get_monitors_revision (TsqStorage *s)
{
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), -1);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->get_monitors_revision == NULL)
    return -1;
  return iface->get_monitors_revision (s);
}
