/* tsq-agent-main.c: entry point of techscaniq-agent: picks the subcommand. */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <locale.h>
#include <stdio.h>

#include "tsq-commands.h"

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "run", tsq_cmd_run,
    "Run the agent: scan monitors on their schedules and record changes (default)" },
  { "scan", tsq_cmd_scan, "Scan URLs once and print the results" },
  { "monitor", tsq_cmd_monitor,
    "Manage monitors: add, list, show, edit, remove, enable, disable, import, export" },
  { "changes", tsq_cmd_changes, "List recorded changes (--follow to watch)" },
  { "scans", tsq_cmd_scans, "List recorded scans, or show one" },
  { "alerts", tsq_cmd_alerts, "Alerts: list, show, ack, resolve; the outbox: outbox, requeue" },
  { "silence", tsq_cmd_silence, "Silence alerts: add, list, expire" },
  { "notify", tsq_cmd_notify, "Send a test notification: notify test CHANNEL" },
  { "maintenance", tsq_cmd_maintenance, "Maintenance windows per monitor: add, list, remove" },
};

int
tsq_cmd_fail (int status, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "techscaniq-agent: %s\n", message);
  return status;
}

static void
usage (FILE *out)
{
  fprintf (out, "Usage: techscaniq-agent [COMMAND] [OPTION…]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun “techscaniq-agent COMMAND --help” for a command's options.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");

  if (argc >= 2
      && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")
          || g_str_equal (argv[1], "help")))
    {
      usage (stdout);
      return TSQ_EXIT_OK;
    }
  if (argc >= 2 && g_str_equal (argv[1], "--version"))
    {
      printf ("techscaniq-agent %s\n", PACKAGE_VERSION);
      return TSQ_EXIT_OK;
    }
  /* No command, or options only: the default command is run. */
  if (argc < 2 || argv[1][0] == '-')
    return tsq_cmd_run (argc, argv);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].run (argc - 1, argv + 1);

  fprintf (stderr, "techscaniq-agent: unknown command “%s”\n\n", argv[1]);
  usage (stderr);
  return TSQ_EXIT_USAGE;
}
