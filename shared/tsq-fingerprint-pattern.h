/* tsq-fingerprint-pattern.h: one Wappalyzer pattern ("regex\;version:\1\;confidence:50").
 *
 * Internal to the fingerprint engine (tsq-fingerprint-db.c), exposed for its unit tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_FP_PATTERN_ERROR (tsq_fp_pattern_error_quark ())

typedef enum
{
  TSQ_FP_PATTERN_ERROR_SYNTAX,      /* the JS regex cannot be parsed */
  TSQ_FP_PATTERN_ERROR_UNSUPPORTED, /* valid JS, but PCRE2 cannot express it */
} TsqFpPatternError;

GQuark tsq_fp_pattern_error_quark (void);

/* Wappalyzer's parsePattern() quantifier rewrite: `/` escaped, `+` -> {1,250}, `*` -> {0,250}. */
char *tsq_fp_wappalyzer_preprocess (const char *regex);

/* Translates a (preprocessed) JavaScript regex (non-unicode mode, Annex B syntax) into PCRE2
 * syntax with the same meaning. literals_out (nullable) receives a NULL-terminated any-of set of
 * lower-case ASCII strings such that every match contains at least one of them, or NULL when no
 * useful set exists. max_bytes_out (nullable) receives an upper bound of a match's length in UTF-8
 * bytes, or G_MAXINT when unbounded. */
char *
tsq_fp_js_regex_to_pcre (const char *js, GStrv *literals_out, int *max_bytes_out, GError **error);

/* JS parseInt (s, 10): leading integer, 0 when there is none (NaN). */
gint64 tsq_fp_js_parse_int (const char *s);

typedef struct _TsqFpPattern TsqFpPattern;

struct _TsqFpPattern
{
  char *source;   /* the regex part as written (before `\;`) */
  char *pcre;     /* translated regex */
  GStrv literals; /* any-of prefilter (lower-case), NULL = always run */
  int max_bytes;  /* bound of a match's length, G_MAXINT when unbounded */
  int confidence; /* \;confidence:N, default 100 */
  char *version;  /* \;version: template, NULL when absent */
  GRegex *regex;  /* compiled at load without JIT */
  GRegex *jit;    /* JIT-compiled lazily, set atomically (see tsq_fp_pattern_match) */
};

/* Parses a full pattern string. is_regex FALSE compiles the empty regex (Wappalyzer's dom
 * selectors), still honouring tags. */
TsqFpPattern *tsq_fp_pattern_new (const char *text, gboolean is_regex, GError **error);
void tsq_fp_pattern_free (TsqFpPattern *pattern);

/* Does any literal of the prefilter occur in lower (an ASCII-lower-cased copy of the value)? */
gboolean tsq_fp_pattern_prefilter (const TsqFpPattern *pattern, const char *lower, gsize len);

/* Runs the regex over value (valid UTF-8) from start_offset on; on a match returns TRUE and, when
 * version_out is non-NULL, the resolved version (Wappalyzer's resolveVersion; "" when none).
 * use_jit: use (and lazily create) the JIT-compiled regex; thread-safe. */
gboolean tsq_fp_pattern_match (TsqFpPattern *pattern,
                               const char *value,
                               gssize len,
                               int start_offset,
                               gboolean use_jit,
                               char **version_out);

/* Wappalyzer's resolveVersion on the groups of a match: groups[0] is the whole match, NULL stands
 * for an unset group (JS undefined). */
char *tsq_fp_resolve_version (const char *tmpl, const char *const *groups, guint n_groups);

/* Splits "text\;key:value\;..." into the first part and a table of tags (key -> value). */
char *tsq_fp_split_tags (const char *text, GHashTable **tags_out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqFpPattern, tsq_fp_pattern_free)

G_END_DECLS
