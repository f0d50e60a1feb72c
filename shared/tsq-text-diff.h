/* tsq-text-diff.h: a short, bounded line/sentence diff of two normalized texts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Default number of changed lines shown when max_lines is 0. */
#define TSQ_TEXT_DIFF_DEFAULT_LINES 20
/* Each shown line is cut to this many bytes (UTF-8 safe) followed by "...". */
#define TSQ_TEXT_DIFF_LINE_MAX 240

/* Splits both texts into units (lines; long lines are further split into sentences and then into
 * content-defined word chunks), diffs the unit sequences (Myers O(ND) with a bound on D and on the
 * work, falling back to a coarse set difference beyond it) and renders the changed units only:
 *
 *   -old unit\n
 *   +new unit\n
 *   ... (+N more changed lines)\n      <- only when more than max_lines changed units
 *
 * Within a run of changes the removed units come first, then the added ones.  NULL inputs count as
 * empty texts.  Returns NULL when the texts have no unit-level difference (equal, or differing in
 * whitespace only).  Thread-safe (no shared state). */
char *tsq_text_diff (const char *old_text, const char *new_text, guint max_lines);

G_END_DECLS
