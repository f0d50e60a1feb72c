/* tsq-agent-main.c: entry point of techscaniq-agent. */
#define G_LOG_DOMAIN "tsq-agent"

#include "tsq-config.h"

#include <glib.h>

int
main (int argc, char **argv)
{
  g_print ("techscaniq-agent %s\n", PACKAGE_VERSION);
  return 0;
}
