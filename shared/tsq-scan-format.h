/* tsq-scan-format.h: scan results and changes as text for people (CLI, TUI). */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A multi-line summary of one scan result (docs/scan-result.md). */
char *tsq_scan_format_text (JsonObject *result);
/* One line for one change: "technology.version_changed  jQuery: 3.4.1 → 3.7.1". */
char *tsq_change_format_line (JsonObject *change);
/* A JSON value (string, number, null, object) as short text. */
char *tsq_format_value (JsonNode *node);

G_END_DECLS
