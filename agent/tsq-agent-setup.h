/* tsq-agent-setup.h: what every command builds from the configuration. */
#pragma once

#include "tsq-agent-config.h"
#include "tsq-fingerprint-db.h"
#include "tsq-scanner.h"
#include "tsq-storage.h"
#include "tsq-vuln-db.h"

G_BEGIN_DECLS

/* Options every command accepts. */
typedef struct
{
  char *config_path;
  char *database;
  char **fingerprints;
  gboolean no_builtin;
  char **overrides;
  char *log_format;
  gboolean verbose;
} TsqCommonOptions;

GOptionGroup *tsq_common_option_group (TsqCommonOptions *options);
void tsq_common_options_clear (TsqCommonOptions *options);
/* Defaults < --config file < --database/--fingerprints/--set; also sets up logging. */
TsqAgentConfig *tsq_agent_setup_config (TsqCommonOptions *options, GError **error);
TsqFingerprintDb *tsq_agent_setup_fingerprints (TsqAgentConfig *config, GError **error);
TsqScanner *tsq_agent_setup_scanner (TsqAgentConfig *config, GError **error);
TsqStorage *tsq_agent_setup_storage (TsqAgentConfig *config, GError **error);
/* "2026-12-03T10:00:00Z", "2026-12-03", or a span back from now: "90s", "15m", "2h", "7d". */
gboolean tsq_parse_since (const char *text, gint64 *out_us, GError **error);

G_END_DECLS
