/* tsq-content.h: noise-filtered page text, its SHA-256 and its SimHash (see docs/content.md).
 *
 * All functions are thread-safe; rules are read-only during extraction.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libxml/tree.h>

#include "tsq-page.h"
#include "tsq-simhash.h"

G_BEGIN_DECLS

/* Return TRUE to drop @node (an element) and everything below it from the text. */
typedef gboolean (*TsqContentSkipFunc) (xmlNode *node, gpointer user_data);

typedef struct
{
  GPtrArray *ignore_regexes; /* GRegex*: matching spans are removed before masking */
  TsqContentSkipFunc skip_node;
  gpointer skip_data;
} TsqContentRules;

typedef struct
{
  char *text;        /* normalized text: one line per block, masks as <date>, <time>... */
  char *hash_hex;    /* SHA-256 hex of @text */
  guint64 simhash;   /* tsq_simhash_compute (@text) */
  char *title;       /* normalized <title>, NULL if none */
  gsize text_length; /* characters (not bytes) of @text */
} TsqContent;

/* Compiles @pattern (PCRE, case-sensitive unless it says (?i)) and appends it to
 * @rules->ignore_regexes, creating the array if needed. FALSE with a GRegexError on bad
 * patterns. */
gboolean tsq_content_rules_add_regex (TsqContentRules *rules, const char *pattern, GError **error);
/* Frees the regex array of @rules (not @rules itself, which is usually on the stack). */
void tsq_content_rules_clear (TsqContentRules *rules);

TsqContent *tsq_content_extract (TsqPage *page, const TsqContentRules *rules);
void tsq_content_free (TsqContent *c);

/* The masking step alone: volatile tokens replaced by placeholders, whitespace collapsed within
 * lines, blank lines dropped. */
char *tsq_content_normalize_text (const char *text);

/* {hash, simhash (16 lower-case hex digits), title (string or null), text_length, text (capped at
 * 256 KiB on a UTF-8 character boundary)} */
JsonObject *tsq_content_to_json (TsqContent *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqContent, tsq_content_free)

G_END_DECLS
