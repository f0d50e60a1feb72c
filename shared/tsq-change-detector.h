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
  guint baseline_scans;     /* N: rolling baseline = median of the last N good scans (default 10) */
  guint min_baseline_scans; /* no perf verdict before this many good scans (default 3) */
  double
    perf_relative; /* a perf change must exceed the baseline by this ratio (default 0.5 = +50%) */
  double perf_absolute_ms;    /* ...and by at least this many ms (default 200) */
  guint perf_consecutive;     /* ...for k consecutive scans (default 3) */
  double content_min_change;  /* report content change when similarity < 1 - this (default 0.0: any
                                 hash change of the normalized text) */
  int cert_expiry_days;       /* default 14 */
  double complexity_relative; /* dom_nodes/scripts/third-party/page weight change beyond this ratio
                                 (default 0.25) */
  guint complexity_min_abs;   /* and at least this absolute delta (default 5 for counts; bytes use
                                 complexity_min_bytes) */
  guint diff_max_lines;       /* content diff excerpt lines (default 20) */
  /* Additions (see docs/changes.md). */
  int tech_min_confidence;  /* technologies below this confidence need confirmation (default 50) */
  guint tech_confirm_scans; /* ...in this many consecutive good scans (default 2) */
  guint complexity_min_bytes; /* absolute delta for the byte metrics (default 50 KiB) */
} TsqChangeThresholds;

void tsq_change_thresholds_init (TsqChangeThresholds *t);

/* previous: the last stored result (NULL for the first scan: the first scan is the baseline and
 *   yields NO changes, only state initialised).  It may be an error result.
 * current: the new result (NULL gives no changes and an unchanged state).
 * state: per-monitor JSON state (NULL if none yet); when present it is authoritative (it holds the
 *   last GOOD result's facts) and previous only supplies the full old content text.
 * t: NULL for the defaults.
 * state_out: (optional) the updated state (a new mutable object, free with json_object_unref).
 * Inputs are never modified (they may be sealed/immutable).
 * Returns a JsonArray (never NULL) of change objects:
 *   {type, subject, old, new, confidence (0-100), evidence (object), severity
 * ("info"|"warning"|"critical")}. Thread-safe (no shared state). */
JsonArray *tsq_detect_changes (JsonObject *previous,
                               JsonObject *current,
                               JsonObject *state,
                               const TsqChangeThresholds *t,
                               JsonObject **state_out);

G_END_DECLS
