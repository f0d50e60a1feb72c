/* tsq-agent-config.h: the agent's settings: built-in defaults < config file < command line. */
#pragma once

#include <glib.h>

#include "tsq-change-detector.h"
#include "tsq-scanner.h"

G_BEGIN_DECLS

#define TSQ_AGENT_CONFIG_ERROR (tsq_agent_config_error_quark ())
GQuark tsq_agent_config_error_quark (void);

typedef enum
{
  TSQ_AGENT_CONFIG_ERROR_INVALID,
} TsqAgentConfigError;

typedef struct
{
  char *path;     /* the file loaded, NULL when running on defaults */
  char *database; /* SQLite file */
  char *data_dir; /* our data/: fingerprints, vulnerabilities, demo */
  gboolean builtin_fingerprints;
  GStrv fingerprints; /* extra sets (Wappalyzer format) */
  char *vulnerabilities;
  char *log_format; /* "human" or "json" */
  guint max_in_flight;
  double domain_rate; /* scan starts per second per registrable domain */
  double domain_burst;
  guint misfire_grace_s;
  guint spread_window_s;
  char *user_agent;
  GStrv blocked_networks;
  GStrv allowed_networks;
  TsqScannerOptions scanner;
  TsqChangeThresholds thresholds;
  guint raw_results_days;
  guint metrics_days;
  /* The whole file, kept for the alert service: its [alerts], [channel NAME] and
   * [escalation NAME] groups (validated at load, docs/alerts.md). NULL on defaults. */
  GKeyFile *keyfile;
} TsqAgentConfig;

TsqAgentConfig *tsq_agent_config_new_default (void);
/* Loads path over the defaults; a missing key keeps its default, a bad value is an error that
 * names the group and key. */
gboolean tsq_agent_config_load (TsqAgentConfig *config, const char *path, GError **error);
/* Applies "group.key=value" overrides from the command line. */
gboolean tsq_agent_config_set (TsqAgentConfig *config, const char *assignment, GError **error);
/* Builds the network guard and fills config->scanner.fetch.guard (owned by the config). */
gboolean tsq_agent_config_prepare (TsqAgentConfig *config, GError **error);
void tsq_agent_config_free (TsqAgentConfig *config);

/* Where our data/ lives: $TSQ_DATA_DIR, the source tree of an uninstalled build, or the
 * installed package data directory. */
const char *tsq_agent_find_data_dir (void);
/* $STATE_DIRECTORY (systemd) or $XDG_STATE_HOME/techscaniq, created 0700. */
char *tsq_agent_default_state_dir (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqAgentConfig, tsq_agent_config_free)

G_END_DECLS
