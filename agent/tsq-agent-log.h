/* tsq-agent-log.h: log lines for people (default) or for log collectors (--log-format=json). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void tsq_agent_log_init (gboolean json, gboolean verbose);

G_END_DECLS
