/* tsq-fingerprint-ac.h: Aho-Corasick multi-literal search (ASCII case-insensitive).
 *
 * Internal to the fingerprint engine: finds, in one pass over a text, which of thousands of
 * literals occur in it. Literals are matched ASCII-case-insensitively without lower-casing the
 * text (the byte classes fold case). Immutable after tsq_fp_ac_compile(), so scans may run
 * concurrently. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TsqFpAc TsqFpAc;

TsqFpAc *tsq_fp_ac_new (void);
void tsq_fp_ac_free (TsqFpAc *ac);

/* Registers literal (non-empty) for value: scans report value when literal occurs. */
void tsq_fp_ac_add (TsqFpAc *ac, const char *literal, guint value);
void tsq_fp_ac_compile (TsqFpAc *ac);

guint tsq_fp_ac_get_n_states (const TsqFpAc *ac);
gsize tsq_fp_ac_get_memory_size (const TsqFpAc *ac);

/* Sets bit `value` in the bitmap `values` (bit v is values[v / 64] & (1 << v % 64)) for every
 * literal found in text. first_start (nullable, indexed by value, caller initializes to G_MAXINT)
 * receives the smallest start offset of a literal occurrence reported for the value. */
void
tsq_fp_ac_scan (const TsqFpAc *ac, const char *text, gsize len, guint64 *values, int *first_start);

/* Calls func for each value of each literal occurrence (a value may be reported repeatedly). */
typedef void (*TsqFpAcFunc) (guint value, gpointer user_data);
void tsq_fp_ac_scan_func (
  const TsqFpAc *ac, const char *text, gsize len, TsqFpAcFunc func, gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqFpAc, tsq_fp_ac_free)

G_END_DECLS
