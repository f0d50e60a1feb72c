/* tsq-commands.h: the subcommands of techscaniq-agent. Each returns the process exit status. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit statuses (docs/cli.md). */
enum
{
  TSQ_EXIT_OK = 0,
  TSQ_EXIT_SCAN_FAILED = 1, /* scan: at least one URL gave an error result */
  TSQ_EXIT_USAGE = 2,       /* bad command line, config, or input file */
  TSQ_EXIT_FAILURE = 3,     /* storage or other runtime failure */
};

int tsq_cmd_scan (int argc, char **argv);
int tsq_cmd_run (int argc, char **argv);
int tsq_cmd_monitor (int argc, char **argv);
int tsq_cmd_changes (int argc, char **argv);
int tsq_cmd_scans (int argc, char **argv);
int tsq_cmd_alerts (int argc, char **argv);
int tsq_cmd_silence (int argc, char **argv);
int tsq_cmd_notify (int argc, char **argv);
int tsq_cmd_maintenance (int argc, char **argv);

/* Prints "techscaniq-agent: message" to stderr and returns status. */
int tsq_cmd_fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
