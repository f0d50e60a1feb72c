/* tsq-agent-config.c: the agent's settings: built-in defaults < config file < command line.
 *
 * The file is an INI file (GKeyFile); data/agent.conf documents every key. The same key table
 * serves the file and the `--set group.key=value` overrides, so both accept exactly the same
 * names and values.
 */
#define G_LOG_DOMAIN "tsq-agent-config"

#include "tsq-config.h"

#include <errno.h>
#include <math.h>
#include <glib/gstdio.h>

#include "tsq-agent-config.h"
#include "tsq-alert-service.h"
#include "tsq-net-guard.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-agent-config-error-quark, tsq_agent_config_error)
/* clang-format on */

typedef enum
{
  KEY_STRING,
  KEY_STRV,
  KEY_BOOL,
  KEY_UINT,
  KEY_DOUBLE,
  KEY_SIZE,
} KeyType;

typedef struct
{
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  double min;
  double max;
} KeySpec;

#define OFF(member) G_STRUCT_OFFSET (TsqAgentConfig, member)

static const KeySpec keys[] = {
  { "agent", "database", KEY_STRING, OFF (database), 0, 0 },
  { "agent", "data_dir", KEY_STRING, OFF (data_dir), 0, 0 },
  { "agent", "log_format", KEY_STRING, OFF (log_format), 0, 0 },
  { "agent", "max_in_flight", KEY_UINT, OFF (max_in_flight), 1, 100000 },
  { "agent", "domain_rate", KEY_DOUBLE, OFF (domain_rate), 0.0001, 100000 },
  { "agent", "domain_burst", KEY_DOUBLE, OFF (domain_burst), 1, 100000 },
  { "agent", "misfire_grace", KEY_UINT, OFF (misfire_grace_s), 0, 86400 * 7 },
  { "agent", "spread_window", KEY_UINT, OFF (spread_window_s), 0, 3600 },
  { "fingerprints", "builtin", KEY_BOOL, OFF (builtin_fingerprints), 0, 0 },
  { "fingerprints", "paths", KEY_STRV, OFF (fingerprints), 0, 0 },
  { "fingerprints", "dom", KEY_BOOL, OFF (scanner.dom_patterns), 0, 0 },
  { "fingerprints", "vulnerabilities", KEY_STRING, OFF (vulnerabilities), 0, 0 },
  { "scanner", "user_agent", KEY_STRING, OFF (user_agent), 0, 0 },
  { "scanner", "timeout", KEY_UINT, OFF (scanner.fetch.timeout_s), 1, 600 },
  { "scanner", "max_body", KEY_SIZE, OFF (scanner.fetch.max_body_bytes), 1024,
    1024.0 * 1024 * 1024 },
  { "scanner", "max_redirects", KEY_UINT, OFF (scanner.fetch.max_redirects), 0, 50 },
  { "scanner", "tls_verify", KEY_BOOL, OFF (scanner.fetch.tls_verify), 0, 0 },
  { "scanner", "max_connections", KEY_UINT, OFF (scanner.fetch.max_conns), 1, 100000 },
  { "scanner", "max_connections_per_host", KEY_UINT, OFF (scanner.fetch.max_conns_per_host), 1,
    1000 },
  { "scanner", "fetch_resources", KEY_BOOL, OFF (scanner.fetch_resources), 0, 0 },
  { "scanner", "third_party_resources", KEY_BOOL, OFF (scanner.resources.third_party), 0, 0 },
  { "scanner", "max_resources", KEY_UINT, OFF (scanner.resources.max_count), 0, 1000 },
  { "scanner", "max_resource_bytes", KEY_SIZE, OFF (scanner.resources.max_bytes_each), 0,
    1024.0 * 1024 * 1024 },
  { "scanner", "max_resources_total", KEY_SIZE, OFF (scanner.resources.max_bytes_total), 0,
    1024.0 * 1024 * 1024 },
  { "scanner", "resource_timeout", KEY_UINT, OFF (scanner.resources.timeout_s), 1, 600 },
  { "scanner", "resource_cache", KEY_SIZE, OFF (scanner.resource_cache_bytes), 0,
    64.0 * 1024 * 1024 * 1024 },
  { "scanner", "reuse_unchanged", KEY_BOOL, OFF (scanner.reuse_unchanged), 0, 0 },
  { "scanner", "reuse_cache", KEY_SIZE, OFF (scanner.reuse_cache_bytes), 0,
    64.0 * 1024 * 1024 * 1024 },
  { "network", "blocked_networks", KEY_STRV, OFF (blocked_networks), 0, 0 },
  { "network", "allowed_networks", KEY_STRV, OFF (allowed_networks), 0, 0 },
  { "changes", "baseline_scans", KEY_UINT, OFF (thresholds.baseline_scans), 1, 1000 },
  { "changes", "min_baseline_scans", KEY_UINT, OFF (thresholds.min_baseline_scans), 1, 1000 },
  { "changes", "perf_relative", KEY_DOUBLE, OFF (thresholds.perf_relative), 0, 1000 },
  { "changes", "perf_absolute_ms", KEY_DOUBLE, OFF (thresholds.perf_absolute_ms), 0, 1e7 },
  { "changes", "perf_consecutive", KEY_UINT, OFF (thresholds.perf_consecutive), 1, 1000 },
  { "changes", "content_min_change", KEY_DOUBLE, OFF (thresholds.content_min_change), 0, 1 },
  { "changes", "cert_expiry_days", KEY_UINT, OFF (thresholds.cert_expiry_days), 0, 3650 },
  { "changes", "complexity_relative", KEY_DOUBLE, OFF (thresholds.complexity_relative), 0, 1000 },
  { "changes", "complexity_min_abs", KEY_UINT, OFF (thresholds.complexity_min_abs), 0, 1000000 },
  { "changes", "diff_max_lines", KEY_UINT, OFF (thresholds.diff_max_lines), 1, 10000 },
  { "changes", "tech_min_confidence", KEY_UINT, OFF (thresholds.tech_min_confidence), 0, 100 },
  { "changes", "tech_confirm_scans", KEY_UINT, OFF (thresholds.tech_confirm_scans), 1, 100 },
  { "changes", "complexity_min_bytes", KEY_UINT, OFF (thresholds.complexity_min_bytes), 0,
    1u << 31 },
  { "retention", "raw_results_days", KEY_UINT, OFF (raw_results_days), 0, 36500 },
  { "retention", "metrics_days", KEY_UINT, OFF (metrics_days), 0, 36500 },
};

const char *
tsq_agent_find_data_dir (void)
{
  static char *found;
  static gsize once;

  if (g_once_init_enter (&once))
    {
      const char *env = g_getenv ("TSQ_DATA_DIR");
      g_autofree char *probe = g_build_filename (TSQ_SOURCE_DATADIR, "fingerprints", NULL);
      const char *dir;

      if (env && *env)
        dir = env;
      else if (g_file_test (probe, G_FILE_TEST_IS_DIR))
        dir = TSQ_SOURCE_DATADIR;
      else
        dir = TSQ_PKGDATADIR;
      found = g_strdup (dir);
      g_once_init_leave (&once, 1);
    }
  return found;
}

char *
tsq_agent_default_state_dir (void)
{
  const char *systemd = g_getenv ("STATE_DIRECTORY");
  g_autofree char *dir = NULL;

  if (systemd && *systemd)
    {
      /* systemd may pass several colon-separated directories; the first is ours. */
      g_auto (GStrv) parts = g_strsplit (systemd, ":", 2);
      dir = g_strdup (parts[0]);
    }
  else
    {
      const char *xdg = g_getenv ("XDG_STATE_HOME");

      if (xdg && g_path_is_absolute (xdg))
        dir = g_build_filename (xdg, "techscaniq", NULL);
      else
        dir = g_build_filename (g_get_home_dir (), ".local", "state", "techscaniq", NULL);
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    g_warning ("cannot create %s: %s", dir, g_strerror (errno));
  return g_steal_pointer (&dir);
}

TsqAgentConfig *
tsq_agent_config_new_default (void)
{
  TsqAgentConfig *config = g_new0 (TsqAgentConfig, 1);
  g_autofree char *state_dir = tsq_agent_default_state_dir ();

  config->database = g_build_filename (state_dir, "agent.db", NULL);
  config->data_dir = g_strdup (tsq_agent_find_data_dir ());
  config->builtin_fingerprints = TRUE;
  config->fingerprints = g_new0 (char *, 1);
  config->log_format = g_strdup ("human");
  config->max_in_flight = 100;
  config->domain_rate = 0.1;
  config->domain_burst = 1;
  config->misfire_grace_s = 300;
  config->spread_window_s = 10;
  config->blocked_networks = g_new0 (char *, 1);
  config->allowed_networks = g_new0 (char *, 1);
  tsq_scanner_options_init (&config->scanner);
  tsq_change_thresholds_init (&config->thresholds);
  config->raw_results_days = 30;
  config->metrics_days = 90;
  return config;
}

void
tsq_agent_config_free (TsqAgentConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->database);
  g_free (config->data_dir);
  g_strfreev (config->fingerprints);
  g_free (config->vulnerabilities);
  g_free (config->log_format);
  g_free (config->user_agent);
  g_strfreev (config->blocked_networks);
  g_strfreev (config->allowed_networks);
  g_clear_pointer (&config->scanner.fetch.guard, tsq_net_guard_unref);
  g_clear_pointer (&config->keyfile, g_key_file_unref);
  g_free (config);
}

static const KeySpec *
find_key (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return &keys[i];
  return NULL;
}

/* Sizes accept a plain byte count or a K/M/G suffix (powers of 1024). */
static gboolean
parse_size (const char *text, double *out)
{
  char *end = NULL;
  double value;

  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (errno != 0 || end == text || value < 0)
    return FALSE;
  while (*end == ' ')
    end++;
  switch (g_ascii_toupper (*end))
    {
      case 'K':
        value *= 1024;
        end++;
        break;
      case 'M':
        value *= 1024 * 1024;
        end++;
        break;
      case 'G':
        value *= 1024.0 * 1024 * 1024;
        end++;
        break;
      default:
        break;
    }
  if (g_ascii_toupper (*end) == 'B' || g_ascii_toupper (*end) == 'I')
    end++;
  if (*end == 'B')
    end++;
  *out = value;
  return *end == '\0';
}

static gboolean
set_value (TsqAgentConfig *config, const KeySpec *spec, const char *value, GError **error)
{
  gpointer field = G_STRUCT_MEMBER_P (config, spec->offset);
  g_autofree char *stripped = g_strstrip (g_strdup (value));
  double number = 0;
  char *end = NULL;

  switch (spec->type)
    {
      case KEY_STRING:
        g_free (*(char **)field);
        *(char **)field = g_strdup (stripped);
        break;

      case KEY_STRV:
        {
          g_auto (GStrv) parts = g_strsplit_set (stripped, ",;", -1);
          GPtrArray *list = g_ptr_array_new ();

          for (guint i = 0; parts[i]; i++)
            {
              g_strstrip (parts[i]);
              if (*parts[i])
                g_ptr_array_add (list, g_strdup (parts[i]));
            }
          g_ptr_array_add (list, NULL);
          g_strfreev (*(GStrv *)field);
          *(GStrv *)field = (GStrv)g_ptr_array_free (list, FALSE);
        }
        break;

      case KEY_BOOL:
        if (g_ascii_strcasecmp (stripped, "true") == 0 || g_str_equal (stripped, "1")
            || g_ascii_strcasecmp (stripped, "yes") == 0)
          *(gboolean *)field = TRUE;
        else if (g_ascii_strcasecmp (stripped, "false") == 0 || g_str_equal (stripped, "0")
                 || g_ascii_strcasecmp (stripped, "no") == 0)
          *(gboolean *)field = FALSE;
        else
          {
            g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                         "[%s] %s: expected true or false, got “%s”", spec->group, spec->key,
                         stripped);
            return FALSE;
          }
        break;

      case KEY_UINT:
      case KEY_DOUBLE:
      case KEY_SIZE:
        if (spec->type == KEY_SIZE)
          {
            if (!parse_size (stripped, &number))
              end = (char *)stripped;
            else
              end = (char *)"";
          }
        else
          {
            errno = 0;
            number = g_ascii_strtod (stripped, &end);
            if (errno != 0 || end == stripped)
              end = (char *)stripped;
            if (spec->type == KEY_UINT && number != (double)(guint64)number)
              end = (char *)stripped;
          }
        if (*stripped == '\0' || *end != '\0' || !isfinite (number) || number < spec->min
            || number > spec->max)
          {
            g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                         "[%s] %s: expected a %s between %g and %g, got “%s”", spec->group,
                         spec->key,
                         spec->type == KEY_DOUBLE ? "number"
                         : spec->type == KEY_SIZE ? "size"
                                                  : "whole number",
                         spec->min, spec->max, stripped);
            return FALSE;
          }
        if (spec->type == KEY_UINT)
          *(guint *)field = (guint)number;
        else if (spec->type == KEY_SIZE)
          *(gsize *)field = (gsize)number;
        else
          *(double *)field = number;
        break;
    }
  return TRUE;
}

static gboolean
check_semantics (TsqAgentConfig *config, GError **error)
{
  if (!g_str_equal (config->log_format, "human") && !g_str_equal (config->log_format, "json"))
    {
      g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                   "[agent] log_format: expected human or json, got “%s”", config->log_format);
      return FALSE;
    }
  if (config->database == NULL || *config->database == '\0')
    {
      g_set_error_literal (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                           "[agent] database: must not be empty");
      return FALSE;
    }
  return TRUE;
}

gboolean
tsq_agent_config_load (TsqAgentConfig *config, const char *path, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_auto (GStrv) groups = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID, "%s: %s", path,
                   local_error->message);
      return FALSE;
    }
  groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g]; g++)
    {
      g_auto (GStrv) names = NULL;

      /* The alert service's groups have their own validation (below). */
      if (tsq_alert_service_is_config_group (groups[g]))
        continue;
      names = g_key_file_get_keys (file, groups[g], NULL, NULL);

      for (guint k = 0; names && names[k]; k++)
        {
          const KeySpec *spec = find_key (groups[g], names[k]);
          g_autofree char *value = NULL;

          if (spec == NULL)
            {
              g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                           "%s: unknown key “%s” in group [%s]", path, names[k], groups[g]);
              return FALSE;
            }
          value = g_key_file_get_string (file, groups[g], names[k], &local_error);
          if (value == NULL || !set_value (config, spec, value, &local_error))
            {
              g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID, "%s: %s",
                           path, local_error->message);
              return FALSE;
            }
        }
    }
  if (!tsq_alert_service_check_config (file, &local_error))
    {
      g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID, "%s: %s", path,
                   local_error->message);
      return FALSE;
    }
  g_free (config->path);
  config->path = g_strdup (path);
  g_clear_pointer (&config->keyfile, g_key_file_unref);
  config->keyfile = g_key_file_ref (file);
  return check_semantics (config, error);
}

gboolean
tsq_agent_config_set (TsqAgentConfig *config, const char *assignment, GError **error)
{
  const char *eq = strchr (assignment, '=');
  const char *dot = strchr (assignment, '.');
  g_autofree char *group = NULL;
  g_autofree char *key = NULL;
  const KeySpec *spec;

  if (eq == NULL || dot == NULL || dot > eq)
    {
      g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                   "--set %s: expected group.key=value", assignment);
      return FALSE;
    }
  group = g_strndup (assignment, dot - assignment);
  key = g_strstrip (g_strndup (dot + 1, eq - dot - 1));
  spec = find_key (group, key);
  if (spec == NULL)
    {
      g_set_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID,
                   "--set: unknown key “%s.%s” (alert and channel settings come from --config only)",
                   group, key);
      return FALSE;
    }
  return set_value (config, spec, eq + 1, error) && check_semantics (config, error);
}

gboolean
tsq_agent_config_prepare (TsqAgentConfig *config, GError **error)
{
  g_autoptr (TsqNetGuard) guard = tsq_net_guard_new_default ();

  for (guint i = 0; config->blocked_networks[i]; i++)
    if (!tsq_net_guard_add_blocked (guard, config->blocked_networks[i], error))
      return FALSE;
  for (guint i = 0; config->allowed_networks[i]; i++)
    if (!tsq_net_guard_add_allowed (guard, config->allowed_networks[i], error))
      return FALSE;
  g_clear_pointer (&config->scanner.fetch.guard, tsq_net_guard_unref);
  config->scanner.fetch.guard = g_steal_pointer (&guard);
  config->scanner.fetch.user_agent = config->user_agent;
  return TRUE;
}
