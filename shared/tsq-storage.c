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
  TsqStorageInterface *iface;

  g_return_val_if_fail (TSQ_IS_STORAGE (s), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  iface = TSQ_STORAGE_GET_IFACE (s);
  if (iface->list_alerts == NULL)
    {
      not_supported (s, "list_alerts", error);
      return NULL;
    }
  return iface->list_alerts (s, monitor_id, limit, error);
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
