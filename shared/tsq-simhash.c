/* tsq-simhash.c: SimHash (Charikar 2002) over word shingles, as used for near-duplicate pages. */
#define G_LOG_DOMAIN "tsq-simhash"

#include "tsq-simhash.h"

#include <string.h>

#define SHINGLE_WORDS 3

static guint64
fnv1a64 (guint64 hash, const char *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      hash ^= (guchar)data[i];
      hash *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  return hash;
}

/* FNV's high bits mix poorly for short inputs; SplitMix64's finalizer spreads every input bit. */
static guint64
mix64 (guint64 z)
{
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static guint64
hash_words (char **words, guint first, guint count)
{
  guint64 hash = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (guint i = 0; i < count; i++)
    {
      if (i > 0)
        hash = fnv1a64 (hash, " ", 1);
      hash = fnv1a64 (hash, words[first + i], strlen (words[first + i]));
    }
  return mix64 (hash);
}

guint64
tsq_simhash_compute (const char *normalized_text)
{
  g_autofree char *folded = NULL;
  g_autoptr (GPtrArray) words = NULL;
  gint64 votes[64] = { 0 };
  guint64 result = 0;
  guint n_shingles;
  char *p;

  if (normalized_text == NULL || *normalized_text == '\0')
    return 0;
  if (!g_utf8_validate (normalized_text, -1, NULL))
    {
      folded = g_utf8_make_valid (normalized_text, -1);
      p = g_utf8_casefold (folded, -1);
      g_free (folded);
      folded = p;
    }
  else
    folded = g_utf8_casefold (normalized_text, -1);

  words = g_ptr_array_new ();
  p = folded;
  while (*p)
    {
      while (*p && g_ascii_isspace (*p))
        p++;
      if (!*p)
        break;
      g_ptr_array_add (words, p);
      while (*p && !g_ascii_isspace (*p))
        p++;
      if (*p)
        *p++ = '\0';
    }
  if (words->len == 0)
    return 0;

  n_shingles = words->len >= SHINGLE_WORDS ? words->len - SHINGLE_WORDS + 1 : 1;
  for (guint i = 0; i < n_shingles; i++)
    {
      guint64 h = hash_words ((char **)words->pdata, i, MIN (SHINGLE_WORDS, words->len));

      for (guint bit = 0; bit < 64; bit++)
        votes[bit] += (h >> bit) & 1 ? 1 : -1;
    }
  for (guint bit = 0; bit < 64; bit++)
    if (votes[bit] > 0)
      result |= G_GUINT64_CONSTANT (1) << bit;
  return result;
}

guint
tsq_simhash_distance (guint64 a, guint64 b)
{
  return (guint)__builtin_popcountll (a ^ b);
}

double
tsq_simhash_similarity (guint64 a, guint64 b)
{
  return 1.0 - tsq_simhash_distance (a, b) / 64.0;
}
