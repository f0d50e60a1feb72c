/* tsq-text-diff.c: a short, bounded line/sentence diff of two normalized texts.
 *
 * Texts come from scanned pages (up to 256 KiB each, often a single long line after
 * normalization), so the unit of comparison must be content-defined: lines, then sentences, then
 * word chunks whose boundaries depend on the words themselves (an insertion early in a paragraph
 * must not shift every later chunk).  The diff itself is Myers' O(ND) algorithm on interned unit
 * ids after stripping the common prefix and suffix; D and the total work are bounded so that two
 * unrelated 256 KiB texts cost milliseconds, and beyond the bound we fall back to a coarse set
 * difference (units only in the old text, then units only in the new one).
 */
#define G_LOG_DOMAIN "tsq-text-diff"

#include "tsq-text-diff.h"

#include <string.h>

/* A line longer than this is split into sentences. */
#define LONG_LINE 200
/* A sentence longer than this is split into word chunks. */
#define MAX_SENTENCE 300
/* Word chunks: cut after a word whose hash ends in 3 zero bits once the chunk has MIN_CHUNK
 * bytes (content-defined), always by MAX_CHUNK bytes at a word end, and hard-cut at HARD_CHUNK
 * bytes when there is no space at all. */
#define MIN_CHUNK 80
#define MAX_CHUNK 300
#define HARD_CHUNK 400
/* Myers bounds: the trace costs (D+1)^2 ints, so D <= 1000 keeps it under 4 MiB. */
#define MAX_D 1000
#define MAX_WORK 20000000

typedef enum
{
  OP_EQ,
  OP_DEL,
  OP_INS,
} OpKind;

typedef struct
{
  OpKind kind;
  guint idx; /* index into the old units (EQ, DEL) or the new units (INS) */
} Op;

static gboolean
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void
add_trimmed (GPtrArray *units, const char *s, gsize len)
{
  while (len > 0 && is_space (*s))
    {
      s++;
      len--;
    }
  while (len > 0 && is_space (s[len - 1]))
    len--;
  if (len > 0)
    g_ptr_array_add (units, g_strndup (s, len));
}

/* Moves a cut position back to a UTF-8 character start so that no unit holds half a character. */
static gsize
utf8_boundary (const char *s, gsize start, gsize pos)
{
  while (pos > start + 1 && ((guchar)s[pos] & 0xC0) == 0x80)
    pos--;
  return pos;
}

static void
add_chunked (GPtrArray *units, const char *s, gsize len)
{
  gsize cs = 0;
  gsize i = 0;
  gsize word_start = 0;
  guint32 h = 5381;

  if (len <= MAX_SENTENCE)
    {
      add_trimmed (units, s, len);
      return;
    }
  while (i < len)
    {
      if (is_space (s[i]))
        {
          if (i > word_start && ((i - cs >= MIN_CHUNK && (h & 7) == 0) || i - cs >= MAX_CHUNK))
            {
              add_trimmed (units, s + cs, i - cs);
              cs = i + 1;
            }
          h = 5381;
          word_start = i + 1;
          i++;
          continue;
        }
      h = h * 33 + (guchar)s[i];
      i++;
      if (i - cs >= HARD_CHUNK && i < len)
        {
          gsize cut = utf8_boundary (s, cs, i);

          add_trimmed (units, s + cs, cut - cs);
          cs = cut;
          i = cut;
          word_start = cut;
          h = 5381;
        }
    }
  if (cs < len)
    add_trimmed (units, s + cs, len - cs);
}

static gsize
sentence_end (const char *s, gsize len, gsize i)
{
  /* Returns the length of the terminator at i ("." "!" "?" followed by a space or the end, or
   * an ideographic full stop / fullwidth ! ?), 0 if none. */
  char c = s[i];

  if ((c == '.' || c == '!' || c == '?') && (i + 1 == len || is_space (s[i + 1])))
    return 1;
  if (i + 2 < len && (guchar)s[i] == 0xE3 && (guchar)s[i + 1] == 0x80 && (guchar)s[i + 2] == 0x82)
    return 3; /* U+3002 */
  if (i + 2 < len && (guchar)s[i] == 0xEF && (guchar)s[i + 1] == 0xBC
      && ((guchar)s[i + 2] == 0x81 || (guchar)s[i + 2] == 0x9F))
    return 3; /* U+FF01, U+FF1F */
  return 0;
}

static void
add_sentences (GPtrArray *units, const char *s, gsize len)
{
  gsize start = 0;
  gsize i = 0;

  while (i < len)
    {
      gsize term = sentence_end (s, len, i);

      if (term > 0)
        {
          add_chunked (units, s + start, i + term - start);
          i += term;
          start = i;
        }
      else
        i++;
    }
  if (start < len)
    add_chunked (units, s + start, len - start);
}

static GPtrArray *
split_units (const char *text)
{
  GPtrArray *units = g_ptr_array_new_with_free_func (g_free);
  const char *p = text;

  while (p != NULL && *p != '\0')
    {
      const char *nl = strchr (p, '\n');
      gsize len = nl ? (gsize)(nl - p) : strlen (p);

      if (len <= LONG_LINE)
        add_trimmed (units, p, len);
      else
        add_sentences (units, p, len);
      p = nl ? nl + 1 : NULL;
    }
  return units;
}

static guint *
intern_units (GPtrArray *units, GHashTable *ids)
{
  guint *out = g_new (guint, units->len + 1);

  for (guint i = 0; i < units->len; i++)
    {
      gpointer id = g_hash_table_lookup (ids, units->pdata[i]);

      if (id == NULL)
        {
          id = GUINT_TO_POINTER (g_hash_table_size (ids) + 1);
          g_hash_table_insert (ids, units->pdata[i], id);
        }
      out[i] = GPOINTER_TO_UINT (id);
    }
  return out;
}

static void
push_op (GArray *ops, OpKind kind, gsize idx)
{
  Op op = { kind, (guint)idx };

  g_array_append_val (ops, op);
}

/* Chooses how diagonal k is entered at step d >= 1 from the previous row (indexed by k, entries
 * -1 for unreachable diagonals): by an insertion from k+1 (down) or a deletion from k-1 (right),
 * whichever reaches further while staying inside the n x m grid.  The forward pass and the
 * backtrack share this function so they always agree.  Returns the x reached before the snake,
 * or -1 when the diagonal is unreachable. */
static gssize
pick (const gint32 *prev, gssize k, gssize d, gssize n, gssize m, gboolean *insert)
{
  gboolean can_ins = k + 1 <= d - 1 && prev[k + 1] >= 0 && prev[k + 1] - k <= m;
  gboolean can_del = k - 1 >= -(d - 1) && prev[k - 1] >= 0 && prev[k - 1] + 1 <= n;

  if (can_ins && (!can_del || prev[k + 1] >= prev[k - 1] + 1))
    {
      *insert = TRUE;
      return prev[k + 1];
    }
  if (can_del)
    {
      *insert = FALSE;
      return prev[k - 1] + 1;
    }
  return -1;
}

/* Myers' greedy forward algorithm keeping one row of furthest x per D for the backtrack.  Appends
 * the edit script of a[0..n) -> b[0..m) to ops in REVERSE order with indices relative to a and b.
 * Returns FALSE (ops untouched) when D would exceed max_d or the work max_work. */
static gboolean
myers (
  const guint *a, gssize n, const guint *b, gssize m, gssize max_d, gsize max_work, GArray *ops)
{
  g_autofree gint32 *trace = NULL;
  gssize d;
  gssize found = -1;
  gsize work = 0;
  guint ops_start;
  gssize x;
  gssize y;

  if (n >= G_MAXINT32 || m >= G_MAXINT32)
    return FALSE;
  max_d = MIN (max_d, n + m);
  /* Row d holds diagonals -d..d at trace + d*d + d. */
  trace = g_new (gint32, (gsize)(max_d + 1) * (gsize)(max_d + 1));

  for (d = 0; d <= max_d && found < 0; d++)
    {
      gint32 *row = trace + d * d + d;
      const gint32 *prev = d > 0 ? trace + (d - 1) * (d - 1) + (d - 1) : NULL;

      for (gssize k = -d; k <= d; k++)
        row[k] = -1;
      for (gssize k = -d; k <= d; k += 2)
        {
          gboolean insert;

          x = d == 0 ? 0 : pick (prev, k, d, n, m, &insert);
          if (x < 0)
            continue;
          y = x - k;
          while (x < n && y < m && a[x] == b[y])
            {
              x++;
              y++;
              work++;
            }
          row[k] = (gint32)x;
          if (x == n && y == m)
            found = d;
        }
      work += (gsize)d + 1;
      if (found < 0 && work > max_work)
        return FALSE;
    }
  if (found < 0)
    return FALSE;

  ops_start = ops->len;
  x = n;
  y = m;
  for (d = found; d > 0; d--)
    {
      const gint32 *prev = trace + (d - 1) * (d - 1) + (d - 1);
      gssize k = x - y;
      gboolean insert = FALSE;
      gssize mid_x = pick (prev, k, d, n, m, &insert);
      gssize mid_y = mid_x - k;

      if (G_UNLIKELY (mid_x < 0))
        {
          /* Cannot happen (row d-1 led here in the forward pass); be safe, not sorry. */
          g_array_set_size (ops, ops_start);
          return FALSE;
        }
      while (x > mid_x && y > mid_y)
        {
          push_op (ops, OP_EQ, x - 1);
          x--;
          y--;
        }
      if (insert)
        {
          push_op (ops, OP_INS, y - 1);
          y--;
        }
      else
        {
          push_op (ops, OP_DEL, x - 1);
          x--;
        }
    }
  while (x > 0 && y > 0)
    {
      push_op (ops, OP_EQ, x - 1);
      x--;
      y--;
    }
  return TRUE;
}

/* Beyond the Myers bound: a multiset difference (units of the old middle that the new one does not
 * have as often, then the converse), in order; when that finds nothing (a permutation), the whole
 * middle as replaced.  Coarse, but linear and never empty for different middles. */
static void
coarse_diff (const guint *a, gsize n, const guint *b, gsize m, gsize offset, GArray *ops)
{
  g_autoptr (GHashTable) count_a = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) count_b = g_hash_table_new (NULL, NULL);
  guint start = ops->len;
  gboolean changed = FALSE;

  for (gsize i = 0; i < n; i++)
    g_hash_table_insert (
      count_a, GUINT_TO_POINTER (a[i]),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (count_a, GUINT_TO_POINTER (a[i])))
                        + 1));
  for (gsize j = 0; j < m; j++)
    g_hash_table_insert (
      count_b, GUINT_TO_POINTER (b[j]),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (count_b, GUINT_TO_POINTER (b[j])))
                        + 1));
  for (gsize i = 0; i < n; i++)
    {
      guint left = GPOINTER_TO_UINT (g_hash_table_lookup (count_b, GUINT_TO_POINTER (a[i])));

      if (left > 0)
        g_hash_table_insert (count_b, GUINT_TO_POINTER (a[i]), GUINT_TO_POINTER (left - 1));
      changed |= left == 0;
      push_op (ops, left > 0 ? OP_EQ : OP_DEL, offset + i);
    }
  for (gsize j = 0; j < m; j++)
    {
      guint left = GPOINTER_TO_UINT (g_hash_table_lookup (count_a, GUINT_TO_POINTER (b[j])));

      if (left > 0)
        g_hash_table_insert (count_a, GUINT_TO_POINTER (b[j]), GUINT_TO_POINTER (left - 1));
      else
        {
          changed = TRUE;
          push_op (ops, OP_INS, offset + j);
        }
    }
  if (!changed)
    {
      g_array_set_size (ops, start);
      for (gsize i = 0; i < n; i++)
        push_op (ops, OP_DEL, offset + i);
      for (gsize j = 0; j < m; j++)
        push_op (ops, OP_INS, offset + j);
    }
}

static void
append_unit (GString *out, char prefix, const char *unit)
{
  gsize len = strlen (unit);

  g_string_append_c (out, prefix);
  if (len <= TSQ_TEXT_DIFF_LINE_MAX)
    g_string_append_len (out, unit, (gssize)len);
  else
    {
      gsize cut = utf8_boundary (unit, 0, TSQ_TEXT_DIFF_LINE_MAX);

      g_string_append_len (out, unit, (gssize)cut);
      g_string_append (out, "...");
    }
  g_string_append_c (out, '\n');
}

static char *
render (GArray *ops, GPtrArray *old_units, GPtrArray *new_units, guint max_lines)
{
  g_autoptr (GString) out = g_string_new (NULL);
  guint total = 0;
  guint shown = 0;
  guint i = 0;

  for (guint j = 0; j < ops->len; j++)
    if (g_array_index (ops, Op, j).kind != OP_EQ)
      total++;
  if (total == 0)
    return NULL;

  while (i < ops->len)
    {
      guint end = i;

      if (g_array_index (ops, Op, i).kind == OP_EQ)
        {
          i++;
          continue;
        }
      while (end < ops->len && g_array_index (ops, Op, end).kind != OP_EQ)
        end++;
      for (guint pass = 0; pass < 2; pass++)
        for (guint j = i; j < end && shown < max_lines; j++)
          {
            const Op *op = &g_array_index (ops, Op, j);

            if (pass == 0 && op->kind == OP_DEL)
              {
                append_unit (out, '-', old_units->pdata[op->idx]);
                shown++;
              }
            else if (pass == 1 && op->kind == OP_INS)
              {
                append_unit (out, '+', new_units->pdata[op->idx]);
                shown++;
              }
          }
      i = end;
    }
  if (shown < total)
    g_string_append_printf (out, "... (+%u more changed lines)\n", total - shown);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
tsq_text_diff (const char *old_text, const char *new_text, guint max_lines)
{
  g_autoptr (GPtrArray) old_units = NULL;
  g_autoptr (GPtrArray) new_units = NULL;
  g_autoptr (GHashTable) ids = NULL;
  g_autoptr (GArray) ops = NULL;
  g_autofree guint *a = NULL;
  g_autofree guint *b = NULL;
  gsize n;
  gsize m;
  gsize pre = 0;
  gsize suf = 0;

  if (old_text == NULL)
    old_text = "";
  if (new_text == NULL)
    new_text = "";
  if (strcmp (old_text, new_text) == 0)
    return NULL;
  if (max_lines == 0)
    max_lines = TSQ_TEXT_DIFF_DEFAULT_LINES;

  old_units = split_units (old_text);
  new_units = split_units (new_text);
  ids = g_hash_table_new (g_str_hash, g_str_equal);
  a = intern_units (old_units, ids);
  b = intern_units (new_units, ids);
  n = old_units->len;
  m = new_units->len;

  while (pre < n && pre < m && a[pre] == b[pre])
    pre++;
  while (suf < n - pre && suf < m - pre && a[n - 1 - suf] == b[m - 1 - suf])
    suf++;

  ops = g_array_new (FALSE, FALSE, sizeof (Op));
  for (gsize i = 0; i < pre; i++)
    push_op (ops, OP_EQ, i);
  {
    g_autoptr (GArray) mid = g_array_new (FALSE, FALSE, sizeof (Op));
    gsize mn = n - pre - suf;
    gsize mm = m - pre - suf;

    if (myers (a + pre, (gssize)mn, b + pre, (gssize)mm, MAX_D, MAX_WORK, mid))
      {
        /* mid is reversed and relative to the middle. */
        for (guint i = mid->len; i > 0; i--)
          {
            Op op = g_array_index (mid, Op, i - 1);

            op.idx += (guint)pre;
            g_array_append_val (ops, op);
          }
      }
    else
      coarse_diff (a + pre, mn, b + pre, mm, pre, ops);
  }
  for (gsize i = n - suf; i < n; i++)
    push_op (ops, OP_EQ, i);

  return render (ops, old_units, new_units, max_lines);
}
