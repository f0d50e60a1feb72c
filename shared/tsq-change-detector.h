/* tsq-change-detector.h: the changes between two scan results (docs/changes.md).
 *
 * Pure logic, no I/O: the caller passes the previous stored result, the new one and the
 * per-monitor state it persisted last time, and persists the returned state.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Version of the state JSON written by tsq_detect_changes(); a state with another version is
 * ignored (re-seeded from `previous`). */
#define TSQ_CHANGE_STATE_VERSION 1

typedef struct
{
  /* N: rolling baseline = median of the last N good scans (default 10). */
  guint baseline_scans;
  /* No perf verdict before this many good scans (default 3). */
  guint min_baseline_scans;
  /* A perf change must exceed the baseline by this ratio (default 0.5 = +50%)... */
  double perf_relative;
  /* ...and by at least this many ms (default 200)... */
  double perf_absolute_ms;
  /* ...for k consecutive scans (default 3). */
  guint perf_consecutive;
  /* Report a content change when similarity < 1 - this (default 0.0: any hash change of the
   * normalized text). */
  double content_min_change;
  /* Certificate expiring below this many days left (default 14). */
  int cert_expiry_days;
  /* dom_nodes/scripts/third-party/page weight change beyond this ratio (default 0.25)... */
  double complexity_relative;
  /* ...and at least this absolute delta for counts (default 5). */
  guint complexity_min_abs;
  /* Content diff excerpt lines (default 20). */
  guint diff_max_lines;
  /* Additions (docs/changes.md): technologies below this confidence (default 50)... */
  int tech_min_confidence;
  /* ...are added/removed only after this many consecutive good scans (default 2). */
  guint tech_confirm_scans;
  /* Absolute delta for the byte metrics of complexity (default 50 KiB). */
  guint complexity_min_bytes;
} TsqChangeThresholds;

void tsq_change_thresholds_init (TsqChangeThresholds *t);

/* previous: the last stored result (NULL for the first scan: the first scan is the baseline and
 *   yields NO changes, only state initialised).  It may be an error result.
 * current: the new result (NULL: no changes; *state_out is a copy of the state, or NULL).
 * state: per-monitor JSON state (NULL if none yet); when present (and of this version) it is
 *   authoritative: it holds the last GOOD result's facts, and previous only supplies the full old
 *   content text.  Without it, previous is taken as the baseline.
 * t: NULL for the defaults.
 * state_out: (optional) the updated state, a new mutable object (json_object_unref it).
 * Inputs are never modified (they may be sealed/immutable).
 * Returns a JsonArray (never NULL) of change objects: {type, subject, old, new,
 *   confidence (0-100), evidence (object), severity ("info"|"warning"|"critical")}.
 * Thread-safe (no shared state). */
JsonArray *tsq_detect_changes (JsonObject *previous,
                               JsonObject *current,
                               JsonObject *state,
                               const TsqChangeThresholds *t,
                               JsonObject **state_out);

G_END_DECLS
