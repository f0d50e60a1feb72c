/* tsq-agent-setup.c: what every command builds from the configuration. */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include "tsq-agent-log.h"
#include "tsq-agent-setup.h"
#include "tsq-monitor.h"
#include "tsq-schedule.h"
#include "tsq-sqlite-storage.h"

GOptionGroup *
tsq_common_option_group (TsqCommonOptions *options)
{
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options->config_path,
      "Configuration file (INI, see data/agent.conf)", "FILE" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &options->database,
      "SQLite database (default $XDG_STATE_HOME/techscaniq/agent.db)", "FILE" },
    { "fingerprints", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->fingerprints,
      "Load a fingerprint set in the Wappalyzer format besides ours (repeatable)", "PATH" },
    { "no-builtin-fingerprints", 0, 0, G_OPTION_ARG_NONE, &options->no_builtin,
      "Do not load our own fingerprint set", NULL },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->overrides,
      "Override a configuration key (repeatable)", "GROUP.KEY=VALUE" },
    { "log-format", 0, 0, G_OPTION_ARG_STRING, &options->log_format,
      "Log format: human (default) or json", "FORMAT" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Show debug messages", NULL },
    { NULL },
  };
  GOptionGroup *group
    = g_option_group_new ("common", "Common options:", "Show common options", NULL, NULL);

  g_option_group_add_entries (group, entries);
  return group;
}

void
tsq_common_options_clear (TsqCommonOptions *options)
{
  g_clear_pointer (&options->config_path, g_free);
  g_clear_pointer (&options->database, g_free);
  g_clear_pointer (&options->fingerprints, g_strfreev);
  g_clear_pointer (&options->overrides, g_strfreev);
  g_clear_pointer (&options->log_format, g_free);
}

static gboolean
validate_schedule (const char *text, GError **error)
{
  g_autoptr (TsqSchedule) schedule = tsq_schedule_parse (text, error);

  return schedule != NULL;
}

TsqAgentConfig *
tsq_agent_setup_config (TsqCommonOptions *options, GError **error)
{
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();

  tsq_monitor_set_schedule_validator (validate_schedule);
  if (options->config_path && !tsq_agent_config_load (config, options->config_path, error))
    return NULL;
  if (options->database)
    {
      g_free (config->database);
      config->database = g_strdup (options->database);
    }
  for (guint i = 0; options->fingerprints && options->fingerprints[i]; i++)
    {
      GStrvBuilder *builder = g_strv_builder_new ();

      g_strv_builder_addv (builder, (const char **)config->fingerprints);
      g_strv_builder_add (builder, options->fingerprints[i]);
      g_strfreev (config->fingerprints);
      config->fingerprints = g_strv_builder_end (builder);
      g_strv_builder_unref (builder);
    }
  if (options->no_builtin)
    config->builtin_fingerprints = FALSE;
  for (guint i = 0; options->overrides && options->overrides[i]; i++)
    if (!tsq_agent_config_set (config, options->overrides[i], error))
      return NULL;
  if (options->log_format)
    {
      g_autofree char *assignment = g_strconcat ("agent.log_format=", options->log_format, NULL);

      if (!tsq_agent_config_set (config, assignment, error))
        return NULL;
    }
  if (!tsq_agent_config_prepare (config, error))
    return NULL;
  tsq_agent_log_init (g_str_equal (config->log_format, "json"), options->verbose);
  return g_steal_pointer (&config);
}

TsqFingerprintDb *
tsq_agent_setup_fingerprints (TsqAgentConfig *config, GError **error)
{
  g_autoptr (TsqFingerprintDb) db = tsq_fingerprint_db_new ();

  if (config->builtin_fingerprints)
    {
      g_autofree char *ours = g_build_filename (config->data_dir, "fingerprints", NULL);

      if (!tsq_fingerprint_db_load (db, ours, error))
        return NULL;
    }
  for (guint i = 0; config->fingerprints[i]; i++)
    if (!tsq_fingerprint_db_load (db, config->fingerprints[i], error))
      return NULL;
  g_debug ("%u technologies loaded", tsq_fingerprint_db_get_size (db));
  return g_steal_pointer (&db);
}

TsqScanner *
tsq_agent_setup_scanner (TsqAgentConfig *config, GError **error)
{
  g_autoptr (TsqFingerprintDb) db = tsq_agent_setup_fingerprints (config, error);
  g_autoptr (TsqVulnDb) vulns = NULL;
  g_autofree char *vuln_path = NULL;

  if (db == NULL)
    return NULL;
  vuln_path = config->vulnerabilities
                ? g_strdup (config->vulnerabilities)
                : g_build_filename (config->data_dir, "vulnerabilities.json", NULL);
  vulns = tsq_vuln_db_load (vuln_path, error);
  if (vulns == NULL)
    return NULL;
  return tsq_scanner_new (db, vulns, &config->scanner);
}

TsqStorage *
tsq_agent_setup_storage (TsqAgentConfig *config, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (config->database);

  if (!g_str_equal (config->database, ":memory:") && g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s", dir,
                   g_strerror (errno));
      return NULL;
    }
  return tsq_sqlite_storage_open (config->database, error);
}

gboolean
tsq_parse_since (const char *text, gint64 *out_us, GError **error)
{
  g_autoptr (GDateTime) dt = NULL;
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  char *end = NULL;
  double amount;

  amount = g_ascii_strtod (text, &end);
  /* At most a century back: beyond that the arithmetic would overflow. */
  if (end != text && end[0] != '\0' && end[1] == '\0' && amount >= 0 && amount <= 36500.0 * 86400)
    {
      gint64 unit = 0;

      switch (end[0])
        {
          case 's':
            unit = 1;
            break;
          case 'm':
            unit = 60;
            break;
          case 'h':
            unit = 3600;
            break;
          case 'd':
            unit = 86400;
            break;
          default:
            break;
        }
      if (unit && amount * unit <= 36500.0 * 86400)
        {
          *out_us = g_get_real_time () - (gint64)(amount * unit * G_USEC_PER_SEC);
          return TRUE;
        }
    }
  dt = g_date_time_new_from_iso8601 (text, utc);
  if (dt == NULL && strlen (text) == 10)
    {
      g_autofree char *midnight = g_strconcat (text, "T00:00:00Z", NULL);
      dt = g_date_time_new_from_iso8601 (midnight, NULL);
    }
  if (dt == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--since %s: expected an ISO 8601 time (2026-12-03T10:00:00Z), a date "
                   "(2026-12-03) or a span back from now (90s, 15m, 2h, 7d)",
                   text);
      return FALSE;
    }
  *out_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC;
  return TRUE;
}
