/* tsq-version.c: version ordering and ranges.
 *
 * A version is: optional 'v', a release of dot-separated numbers ("1.10.2"), then an optional
 * suffix ("-rc1", "k-fips", ".M1", "-1ubuntu2"), then optional build metadata after '+' that is
 * ignored. Release numbers compare numerically, missing ones count as 0 ("3.4" == "3.4.0").
 * The suffix makes a pre-release when it starts with a pre-release word (dev, snapshot, alpha,
 * beta, pre, preview, milestone, rc; a single a/b/m/c only when a number follows, as in "1.0b2")
 * and sorts before the bare release; any other suffix is a post-release tag (OpenSSL's "1.0.2k",
 * distro revisions) and sorts after it. Suffixes of the same kind compare token by token:
 * numbers numerically, known pre-release words by rank (dev < alpha < beta < pre < rc), other
 * words case-insensitively, a number before a word, fewer tokens first.
 * Strings without a leading number ("garbage") sort before every valid version and among
 * themselves by strcmp, so the order stays total.
 *
 * Nothing here allocates while comparing and numbers are compared as digit strings, so huge or
 * hostile inputs cannot overflow; everything is pure and thread-safe.
 */
#define G_LOG_DOMAIN "tsq-version"

#include "tsq-version.h"

#include <string.h>

G_DEFINE_QUARK (tsq - version - error - quark, tsq_version_error)

/* Ranges longer than this are data errors, not something to parse. */
#define MAX_RANGE_LENGTH 4096

typedef enum
{
  SUFFIX_PRE = -1,
  SUFFIX_NONE = 0,
  SUFFIX_POST = 1,
} SuffixKind;

typedef struct
{
  gboolean valid;
  const char *rel;
  const char *rel_end;
  const char *suf;
  const char *suf_end;
  SuffixKind kind;
} Parsed;

typedef enum
{
  TOKEN_NUMBER,
  TOKEN_WORD,
} TokenType;

typedef struct
{
  TokenType type;
  const char *p;
  gsize len;
} Token;

static gboolean
next_token (const char **cursor, const char *end, Token *token)
{
  const char *p = *cursor;

  while (p < end && !g_ascii_isalnum (*p))
    p++;
  if (p >= end)
    {
      *cursor = p;
      return FALSE;
    }
  if (g_ascii_isdigit (*p))
    {
      token->type = TOKEN_NUMBER;
      while (p < end && *p == '0' && p + 1 < end && g_ascii_isdigit (p[1]))
        p++;
      token->p = p;
      while (p < end && g_ascii_isdigit (*p))
        p++;
    }
  else
    {
      token->type = TOKEN_WORD;
      token->p = p;
      while (p < end && g_ascii_isalpha (*p))
        p++;
    }
  token->len = p - token->p;
  *cursor = p;
  return TRUE;
}

/* Digit strings without leading zeros: longer is bigger, else lexical. */
static int
compare_numbers (const char *a, gsize alen, const char *b, gsize blen)
{
  int c;

  if (alen != blen)
    return alen < blen ? -1 : 1;
  c = memcmp (a, b, alen);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

static gboolean
word_is (const Token *t, const char *word)
{
  return t->len == strlen (word) && g_ascii_strncasecmp (t->p, word, t->len) == 0;
}

/* Rank of a pre-release word, -1 when it is not one. Single letters count only before a number. */
static int
pre_release_rank (const Token *t, gboolean number_follows)
{
  static const struct
  {
    const char *word;
    int rank;
    gboolean needs_number;
  } words[] = {
    { "dev", 0, FALSE }, { "snapshot", 0, FALSE }, { "alpha", 1, FALSE },
    { "a", 1, TRUE },    { "beta", 2, FALSE },     { "b", 2, TRUE },
    { "pre", 3, FALSE }, { "preview", 3, FALSE },  { "milestone", 3, FALSE },
    { "m", 3, TRUE },    { "rc", 4, FALSE },       { "cr", 4, FALSE },
    { "c", 4, TRUE },
  };

  if (t->type != TOKEN_WORD)
    return -1;
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (word_is (t, words[i].word) && (!words[i].needs_number || number_follows))
      return words[i].rank;
  return -1;
}

static SuffixKind
classify_suffix (const char *suf, const char *end)
{
  const char *cursor = suf;
  Token first, second;
  gboolean has_second;

  if (!next_token (&cursor, end, &first))
    return SUFFIX_NONE;
  has_second = next_token (&cursor, end, &second);
  if (pre_release_rank (&first, has_second && second.type == TOKEN_NUMBER) >= 0)
    return SUFFIX_PRE;
  return SUFFIX_POST;
}

static Parsed
parse_version (const char *s)
{
  Parsed v = { 0 };
  const char *p;

  if (s == NULL)
    return v;
  p = s;
  while (g_ascii_isspace (*p))
    p++;
  if ((*p == 'v' || *p == 'V') && g_ascii_isdigit (p[1]))
    p++;
  if (!g_ascii_isdigit (*p))
    return v;

  v.valid = TRUE;
  v.rel = p;
  while (g_ascii_isdigit (*p))
    p++;
  while (*p == '.' && g_ascii_isdigit (p[1]))
    {
      p++;
      while (g_ascii_isdigit (*p))
        p++;
    }
  v.rel_end = p;
  v.suf = p;
  v.suf_end = strchr (p, '+');
  if (v.suf_end == NULL)
    v.suf_end = p + strlen (p);
  v.kind = classify_suffix (v.suf, v.suf_end);
  return v;
}

static int
compare_release (const Parsed *a, const Parsed *b)
{
  const char *pa = a->rel, *pb = b->rel;

  while (pa < a->rel_end || pb < b->rel_end)
    {
      Token ta = { TOKEN_NUMBER, "0", 1 }, tb = { TOKEN_NUMBER, "0", 1 };
      int c;

      if (pa < a->rel_end)
        next_token (&pa, a->rel_end, &ta);
      if (pb < b->rel_end)
        next_token (&pb, b->rel_end, &tb);
      c = compare_numbers (ta.p, ta.len, tb.p, tb.len);
      if (c != 0)
        return c;
    }
  return 0;
}

static int
compare_suffix (const Parsed *a, const Parsed *b)
{
  const char *pa = a->suf, *pb = b->suf;
  Token ta, tb;

  for (;;)
    {
      gboolean has_a = next_token (&pa, a->suf_end, &ta);
      gboolean has_b = next_token (&pb, b->suf_end, &tb);
      int c;

      if (!has_a || !has_b)
        return has_a == has_b ? 0 : (has_a ? 1 : -1);
      if (ta.type != tb.type)
        return ta.type == TOKEN_NUMBER ? -1 : 1;
      if (ta.type == TOKEN_NUMBER)
        c = compare_numbers (ta.p, ta.len, tb.p, tb.len);
      else
        {
          /* In pre-releases, known words go by rank ("beta" < "rc") and before unknown words,
           * which keeps the order transitive; a following number does not matter here. */
          int ra = a->kind == SUFFIX_PRE ? pre_release_rank (&ta, TRUE) : -1;
          int rb = a->kind == SUFFIX_PRE ? pre_release_rank (&tb, TRUE) : -1;

          if (ra >= 0 || rb >= 0)
            c = (ra >= 0 && rb >= 0) ? ra - rb : (ra >= 0 ? -1 : 1);
          else
            {
              gsize n = MIN (ta.len, tb.len);

              c = g_ascii_strncasecmp (ta.p, tb.p, n);
              if (c == 0)
                c = ta.len == tb.len ? 0 : (ta.len < tb.len ? -1 : 1);
            }
        }
      if (c != 0)
        return c < 0 ? -1 : 1;
    }
}

static int
compare_parsed (const char *sa, const Parsed *a, const char *sb, const Parsed *b)
{
  int c;

  if (!a->valid || !b->valid)
    {
      if (a->valid != b->valid)
        return a->valid ? 1 : -1;
      c = g_strcmp0 (sa ? sa : "", sb ? sb : "");
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  c = compare_release (a, b);
  if (c != 0)
    return c;
  if (a->kind != b->kind)
    return a->kind < b->kind ? -1 : 1;
  if (a->kind == SUFFIX_NONE)
    return 0;
  return compare_suffix (a, b);
}

int
tsq_version_compare (const char *a, const char *b)
{
  Parsed pa = parse_version (a);
  Parsed pb = parse_version (b);

  return compare_parsed (a, &pa, b, &pb);
}

gboolean
tsq_version_is_valid (const char *version)
{
  return parse_version (version).valid;
}

/* ---- ranges ---- */

typedef enum
{
  OP_ANY,
  OP_EQ,
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
} Op;

typedef struct
{
  Op op;
  char *version;
  /* Marks the last comparator of an AND group; the next one starts a new "||" alternative. */
  gboolean ends_group;
} Comparator;

struct _TsqVersionRange
{
  GArray *comparators; /* Comparator */
};

static void
comparator_clear (gpointer data)
{
  Comparator *c = data;

  g_free (c->version);
}

void
tsq_version_range_free (TsqVersionRange *range)
{
  if (range == NULL)
    return;
  g_array_unref (range->comparators);
  g_free (range);
}

static gboolean
range_error (GError **error, const char *range, const char *reason, const char *token)
{
  g_autofree char *shown = g_strndup (range, 200);

  if (token != NULL)
    g_set_error (error, TSQ_VERSION_ERROR, TSQ_VERSION_ERROR_INVALID_RANGE,
                 "invalid version range \"%s\": %s \"%s\"", shown, reason, token);
  else
    g_set_error (error, TSQ_VERSION_ERROR, TSQ_VERSION_ERROR_INVALID_RANGE,
                 "invalid version range \"%s\": %s", shown, reason);
  return FALSE;
}

/* Parses one comparator token such as ">=1.2.0", "*" or "2.0.1" (operator already joined). */
static gboolean
parse_comparator (const char *range, const char *token, Comparator *out, GError **error)
{
  const char *p = token;
  Parsed v;

  if (strcmp (token, "*") == 0 || g_ascii_strcasecmp (token, "x") == 0)
    {
      out->op = OP_ANY;
      return TRUE;
    }
  if (g_str_has_prefix (p, ">="))
    out->op = OP_GE, p += 2;
  else if (g_str_has_prefix (p, "<="))
    out->op = OP_LE, p += 2;
  else if (g_str_has_prefix (p, "=="))
    out->op = OP_EQ, p += 2;
  else if (*p == '>')
    out->op = OP_GT, p++;
  else if (*p == '<')
    out->op = OP_LT, p++;
  else if (*p == '=')
    out->op = OP_EQ, p++;
  else if (*p == '^' || *p == '~' || *p == '!')
    return range_error (error, range, "unsupported operator in", token);
  else
    out->op = OP_EQ;

  if (*p == '\0')
    return range_error (error, range, "operator without a version:", token);
  v = parse_version (p);
  if (!v.valid)
    return range_error (error, range, "not a version:", token);
  /* "1.2.x" would otherwise read as 1.2 with a post-release tag "x": refuse, do not guess. */
  if (v.suf < v.suf_end && v.suf[0] == '.' && strchr ("xX*", v.suf[1]) != NULL)
    return range_error (error, range, "wildcard segments are not supported:", token);
  if (strpbrk (p, "<>=|") != NULL)
    return range_error (error, range, "missing space between comparators in", token);
  out->version = g_strdup (p);
  return TRUE;
}

static gboolean
is_operator_only (const char *token)
{
  return strspn (token, "<>=") == strlen (token);
}

TsqVersionRange *
tsq_version_range_parse (const char *range, GError **error)
{
  g_autoptr (GArray) comparators = NULL;
  g_auto (GStrv) groups = NULL;
  TsqVersionRange *result;

  if (range == NULL || range[strspn (range, " \t\r\n")] == '\0')
    {
      range_error (error, range ? range : "", "empty range", NULL);
      return NULL;
    }
  if (strnlen (range, MAX_RANGE_LENGTH + 1) > MAX_RANGE_LENGTH)
    {
      range_error (error, range, "longer than 4096 bytes", NULL);
      return NULL;
    }

  comparators = g_array_new (FALSE, TRUE, sizeof (Comparator));
  g_array_set_clear_func (comparators, comparator_clear);
  groups = g_strsplit (range, "||", -1);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) tokens = g_strsplit_set (groups[g], " \t\r\n", -1);
      g_autofree char *pending_op = NULL;
      guint group_start = comparators->len;

      for (guint t = 0; tokens[t] != NULL; t++)
        {
          g_autofree char *joined = NULL;
          Comparator c = { 0 };

          if (tokens[t][0] == '\0')
            continue;
          if (pending_op != NULL)
            {
              joined = g_strconcat (pending_op, tokens[t], NULL);
              g_clear_pointer (&pending_op, g_free);
            }
          else if (is_operator_only (tokens[t]))
            {
              pending_op = g_strdup (tokens[t]);
              continue;
            }
          else
            joined = g_strdup (tokens[t]);

          if (!parse_comparator (range, joined, &c, error))
            return NULL;
          g_array_append_val (comparators, c);
        }
      if (pending_op != NULL)
        {
          range_error (error, range, "operator without a version:", pending_op);
          return NULL;
        }
      if (comparators->len == group_start)
        {
          range_error (error, range, "empty alternative around \"||\"", NULL);
          return NULL;
        }
      g_array_index (comparators, Comparator, comparators->len - 1).ends_group = TRUE;
    }

  result = g_new0 (TsqVersionRange, 1);
  result->comparators = g_steal_pointer (&comparators);
  return result;
}

static gboolean
comparator_matches (const Comparator *c, const char *version, const Parsed *parsed)
{
  Parsed other;
  int cmp;

  if (c->op == OP_ANY)
    return TRUE;
  other = parse_version (c->version);
  cmp = compare_parsed (version, parsed, c->version, &other);
  switch (c->op)
    {
      case OP_EQ:
        return cmp == 0;
      case OP_LT:
        return cmp < 0;
      case OP_LE:
        return cmp <= 0;
      case OP_GT:
        return cmp > 0;
      case OP_GE:
        return cmp >= 0;
      case OP_ANY:
      default:
        return TRUE;
    }
}

gboolean
tsq_version_range_contains (const TsqVersionRange *range, const char *version)
{
  Parsed parsed;
  gboolean group_ok = TRUE;

  g_return_val_if_fail (range != NULL, FALSE);

  parsed = parse_version (version);
  if (!parsed.valid)
    return FALSE;
  for (guint i = 0; i < range->comparators->len; i++)
    {
      const Comparator *c = &g_array_index (range->comparators, Comparator, i);

      if (group_ok && !comparator_matches (c, version, &parsed))
        group_ok = FALSE;
      if (c->ends_group)
        {
          if (group_ok)
            return TRUE;
          group_ok = TRUE;
        }
    }
  return FALSE;
}

gboolean
tsq_version_in_range (const char *version, const char *range, GError **error)
{
  g_autoptr (TsqVersionRange) parsed = tsq_version_range_parse (range, error);

  if (parsed == NULL)
    return FALSE;
  return tsq_version_range_contains (parsed, version);
}
