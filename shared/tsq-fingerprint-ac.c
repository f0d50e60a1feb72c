/* tsq-fingerprint-ac.c: Aho-Corasick automaton compiled to a dense DFA over byte classes.
 *
 * The alphabet is compressed to the bytes that occur in literals (upper- and lower-case letters
 * share a class) plus one class for every other byte, which keeps the transition table small
 * enough to stay mostly in cache. Each transition holds the target row's offset; the top bit
 * flags target states that end a literal, so the scan loop is one load and one test per byte. */
#define G_LOG_DOMAIN "tsq-fingerprint"

#include "tsq-fingerprint-ac.h"

#include <string.h>

#define OUT_FLAG 0x80000000u

struct _TsqFpAc
{
  guint8 cls[256];
  guint n_classes;
  guint32 *delta; /* n_states * n_classes, values: row offset | OUT_FLAG */
  guint n_states;
  guint cap_states;
  int *out;            /* per state: literal index ending here, -1 */
  guint *dict;         /* per state: next state on the failure chain with an output, 0 none */
  GPtrArray *literals; /* char* (lower-case), index = literal id */
  GArray *lit_values;  /* per literal: first index into values_flat (guint) */
  GArray *lit_nvalues; /* per literal: count */
  GArray *pending;     /* (literal id, value) pairs before compile */
  guint *values_flat;
  GHashTable *lit_ids; /* literal -> id + 1 */
  gboolean compiled;
};

TsqFpAc *
tsq_fp_ac_new (void)
{
  TsqFpAc *ac = g_new0 (TsqFpAc, 1);

  ac->literals = g_ptr_array_new_with_free_func (g_free);
  ac->pending = g_array_new (FALSE, FALSE, sizeof (guint) * 2);
  ac->lit_ids = g_hash_table_new (g_str_hash, g_str_equal);
  ac->lit_values = g_array_new (FALSE, TRUE, sizeof (guint));
  ac->lit_nvalues = g_array_new (FALSE, TRUE, sizeof (guint));
  return ac;
}

void
tsq_fp_ac_free (TsqFpAc *ac)
{
  if (ac == NULL)
    return;
  g_free (ac->delta);
  g_free (ac->out);
  g_free (ac->dict);
  g_hash_table_unref (ac->lit_ids);
  g_ptr_array_unref (ac->literals);
  g_array_unref (ac->pending);
  g_array_unref (ac->lit_values);
  g_array_unref (ac->lit_nvalues);
  g_free (ac->values_flat);
  g_free (ac);
}

void
tsq_fp_ac_add (TsqFpAc *ac, const char *literal, guint value)
{
  gpointer idp;
  guint id;
  guint pair[2];

  g_return_if_fail (!ac->compiled);
  if (literal == NULL || *literal == '\0')
    return;
  idp = g_hash_table_lookup (ac->lit_ids, literal);
  if (idp == NULL)
    {
      char *copy = g_ascii_strdown (literal, -1);

      g_ptr_array_add (ac->literals, copy);
      id = ac->literals->len - 1;
      g_hash_table_insert (ac->lit_ids, copy, GUINT_TO_POINTER (id + 1));
    }
  else
    id = GPOINTER_TO_UINT (idp) - 1;
  pair[0] = id;
  pair[1] = value;
  g_array_append_val (ac->pending, pair);
}

static guint
new_state (TsqFpAc *ac)
{
  if (ac->n_states == ac->cap_states)
    {
      ac->cap_states = MAX (64, ac->cap_states * 2);
      ac->delta = g_renew (guint32, ac->delta, (gsize)ac->cap_states * ac->n_classes);
      ac->out = g_renew (int, ac->out, ac->cap_states);
      ac->dict = g_renew (guint, ac->dict, ac->cap_states);
    }
  memset (ac->delta + (gsize)ac->n_states * ac->n_classes, 0, sizeof (guint32) * ac->n_classes);
  ac->out[ac->n_states] = -1;
  ac->dict[ac->n_states] = 0;
  return ac->n_states++;
}

static int
compare_pairs (gconstpointer a, gconstpointer b)
{
  const guint *pa = a, *pb = b;

  if (pa[0] != pb[0])
    return pa[0] < pb[0] ? -1 : 1;
  return pa[1] < pb[1] ? -1 : pa[1] > pb[1];
}

void
tsq_fp_ac_compile (TsqFpAc *ac)
{
  guint i, c, n_lit = ac->literals->len;
  guint *queue, *fail, head = 0, tail = 0;
  guint K;

  g_return_if_fail (!ac->compiled);
  ac->compiled = TRUE;

  /* byte classes: 0 = bytes in no literal */
  memset (ac->cls, 0, sizeof ac->cls);
  ac->n_classes = 1;
  for (i = 0; i < n_lit; i++)
    {
      const guchar *p;

      for (p = g_ptr_array_index (ac->literals, i); *p; p++)
        if (ac->cls[*p] == 0)
          {
            ac->cls[*p] = (guint8)MIN (ac->n_classes, 255);
            if (g_ascii_isalpha (*p))
              ac->cls[(guchar)g_ascii_toupper (*p)] = ac->cls[*p];
            if (ac->n_classes < 255)
              ac->n_classes++;
          }
    }
  K = ac->n_classes;

  /* values per literal, flattened */
  g_array_sort (ac->pending, compare_pairs);
  g_array_set_size (ac->lit_values, n_lit);
  g_array_set_size (ac->lit_nvalues, n_lit);
  ac->values_flat = g_new (guint, MAX (1, ac->pending->len));
  for (i = 0; i < ac->pending->len; i++)
    {
      const guint *pair = &g_array_index (ac->pending, guint, i * 2);

      if (g_array_index (ac->lit_nvalues, guint, pair[0]) == 0)
        g_array_index (ac->lit_values, guint, pair[0]) = i;
      g_array_index (ac->lit_nvalues, guint, pair[0])++;
      ac->values_flat[i] = pair[1];
    }

  /* trie: delta holds state indexes (0 = no edge) while building */
  new_state (ac);
  for (i = 0; i < n_lit; i++)
    {
      const guchar *p;
      guint s = 0;

      for (p = g_ptr_array_index (ac->literals, i); *p; p++)
        {
          guint k = ac->cls[*p];
          guint next = ac->delta[(gsize)s * K + k];

          if (next == 0)
            {
              next = new_state (ac);
              ac->delta[(gsize)s * K + k] = next;
            }
          s = next;
        }
      ac->out[s] = (int)i;
    }

  /* failure links by BFS; missing edges become DFA transitions */
  queue = g_new (guint, ac->n_states);
  fail = g_new0 (guint, ac->n_states);
  for (c = 0; c < K; c++)
    {
      guint t = ac->delta[c];

      if (t != 0)
        {
          fail[t] = 0;
          queue[tail++] = t;
        }
    }
  while (head < tail)
    {
      guint s = queue[head++];

      for (c = 0; c < K; c++)
        {
          guint32 *slot = &ac->delta[(gsize)s * K + c];
          guint via_fail = ac->delta[(gsize)fail[s] * K + c];

          if (*slot != 0)
            {
              guint t = *slot;

              fail[t] = via_fail;
              ac->dict[t] = ac->out[via_fail] >= 0 ? via_fail : ac->dict[via_fail];
              queue[tail++] = t;
            }
          else
            *slot = via_fail;
        }
    }
  g_free (queue);
  g_free (fail);

  /* state indexes -> row offsets with the output flag */
  for (i = 0; i < (guint)ac->n_states * K; i++)
    {
      guint t = ac->delta[i];
      guint32 v = (guint32)t * K;

      if (ac->out[t] >= 0 || ac->dict[t] != 0)
        v |= OUT_FLAG;
      ac->delta[i] = v;
    }
  g_array_set_size (ac->pending, 0);
}

guint
tsq_fp_ac_get_n_states (const TsqFpAc *ac)
{
  return ac->n_states;
}

gsize
tsq_fp_ac_get_memory_size (const TsqFpAc *ac)
{
  return (gsize)ac->n_states * ac->n_classes * sizeof (guint32)
         + ac->n_states * (sizeof (int) + sizeof (guint));
}

static void
report (const TsqFpAc *ac, guint state, gsize end, guint64 *values, int *first_start, guint8 *seen)
{
  do
    {
      int lit = ac->out[state];

      if (lit >= 0 && !(seen[lit >> 3] & (1u << (lit & 7))))
        {
          guint first = g_array_index (ac->lit_values, guint, lit);
          guint n = g_array_index (ac->lit_nvalues, guint, lit);
          int start
            = (int)MIN (end + 1 - strlen (g_ptr_array_index (ac->literals, lit)), (gsize)G_MAXINT);
          guint j;

          seen[lit >> 3] |= (guint8)(1u << (lit & 7));
          for (j = 0; j < n; j++)
            {
              guint v = ac->values_flat[first + j];

              values[v >> 6] |= G_GUINT64_CONSTANT (1) << (v & 63);
              if (first_start != NULL && start < first_start[v])
                first_start[v] = start;
            }
        }
      state = ac->dict[state];
    }
  while (state != 0);
}

void
tsq_fp_ac_scan (const TsqFpAc *ac, const char *text, gsize len, guint64 *values, int *first_start)
{
  const guchar *p = (const guchar *)text;
  const guint32 *delta = ac->delta;
  guint32 s = 0;
  guint8 *seen;
  gsize i;

  g_return_if_fail (ac->compiled);
  if (ac->literals->len == 0 || len == 0)
    return;
  seen = g_malloc0 ((ac->literals->len + 7) / 8);
  for (i = 0; i < len; i++)
    {
      s = delta[(s & ~OUT_FLAG) + ac->cls[p[i]]];
      if (G_UNLIKELY (s & OUT_FLAG))
        report (ac, (s & ~OUT_FLAG) / ac->n_classes, i, values, first_start, seen);
    }
  g_free (seen);
}

void
tsq_fp_ac_scan_func (
  const TsqFpAc *ac, const char *text, gsize len, TsqFpAcFunc func, gpointer user_data)
{
  const guchar *p = (const guchar *)text;
  guint32 s = 0;
  gsize i;

  g_return_if_fail (ac->compiled);
  if (ac->literals->len == 0)
    return;
  for (i = 0; i < len; i++)
    {
      s = ac->delta[(s & ~OUT_FLAG) + ac->cls[p[i]]];
      if (G_UNLIKELY (s & OUT_FLAG))
        {
          guint state = (s & ~OUT_FLAG) / ac->n_classes;

          do
            {
              int lit = ac->out[state];

              if (lit >= 0)
                {
                  guint first = g_array_index (ac->lit_values, guint, lit);
                  guint n = g_array_index (ac->lit_nvalues, guint, lit);
                  guint j;

                  for (j = 0; j < n; j++)
                    func (ac->values_flat[first + j], user_data);
                }
              state = ac->dict[state];
            }
          while (state != 0);
        }
    }
}
