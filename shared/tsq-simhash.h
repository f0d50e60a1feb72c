/* tsq-simhash.h: 64-bit SimHash over word 3-shingles. Pure and thread-safe. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* SimHash of @normalized_text: words are split on whitespace and case-folded, every run of three
 * consecutive words (a shingle; the whole text when it has fewer than three words) is hashed with
 * 64-bit FNV-1a followed by a SplitMix64 finalizer, and each bit of the result is the majority vote
 * of that bit over all shingles. Deterministic across runs and machines. 0 for empty text. */
guint64 tsq_simhash_compute (const char *normalized_text);

/* 1 - hamming (a, b) / 64: 1.0 for identical hashes, about 0.5 for unrelated texts. */
double tsq_simhash_similarity (guint64 a, guint64 b);

/* The hamming distance between two hashes (0..64). */
guint tsq_simhash_distance (guint64 a, guint64 b);

G_END_DECLS
