/* tsq-fingerprint-pattern.c: Wappalyzer patterns: JS regex -> PCRE2, literal prefilters, versions.
 *
 * webappanalyzer patterns are JavaScript regexes compiled by wappalyzer.js's parsePattern() with
 * the 'i' flag and no 'u' flag, i.e. with the web-compatibility (Annex B) syntax that accepts
 * escapes such as `\_` or `\8`, literal `]` and `{`, `[^]`, etc. PCRE2 rejects or reads several of
 * these differently, so each pattern is parsed here with a small recursive-descent parser of the
 * JS grammar that re-emits it in PCRE2 syntax. The same walk computes a set of literals that every
 * match must contain (for the prefilter that keeps the engine fast) and a bound of a match's
 * length. */
#define G_LOG_DOMAIN "tsq-fingerprint"
#define _GNU_SOURCE /* memmem */

#include "tsq-fingerprint-pattern.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (tsq-fp-pattern-error-quark, tsq_fp_pattern_error)
/* clang-format on */

/* Any-of sets larger than this are not worth prefiltering with. */
#define MAX_SET_SIZE 32
#define UNBOUNDED G_MAXINT

char *
tsq_fp_wappalyzer_preprocess (const char *regex)
{
  GString *out = g_string_sized_new (strlen (regex) + 16);
  const char *p;

  /* The same string rewrites as parsePattern(), in the same order:
   *   .replace(/\//g, '\\/')   .replace(/\\\+/g, '__escapedPlus__')
   *   .replace(/\+/g, '{1,250}')   .replace(/\*\/g, '{0,250}')   .replace(/__escapedPlus__/g,
   * '\\+') Done in one pass: an escaped plus is a backslash (as produced by step one or written)
   * directly followed by '+'. Step one turns '/' into "\/", which cannot create a "\+" pair. */
  for (p = regex; *p; p++)
    {
      if (*p == '/')
        g_string_append (out, "\\/");
      else if (*p == '\\' && p[1] == '+')
        {
          g_string_append (out, "\\+");
          p++;
        }
      else if (*p == '+')
        g_string_append (out, "{1,250}");
      else if (*p == '*')
        g_string_append (out, "{0,250}");
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

gint64
tsq_fp_js_parse_int (const char *s)
{
  gint64 value = 0;
  gboolean negative = FALSE;
  gboolean any = FALSE;

  if (s == NULL)
    return 0;
  while (g_ascii_isspace (*s))
    s++;
  if (*s == '+' || *s == '-')
    negative = *s++ == '-';
  for (; g_ascii_isdigit (*s); s++)
    {
      any = TRUE;
      if (value < G_MAXINT64 / 10 - 10)
        value = value * 10 + (*s - '0');
    }
  if (!any)
    return 0;
  return negative ? -value : value;
}

char *
tsq_fp_split_tags (const char *text, GHashTable **tags_out)
{
  g_auto (GStrv) parts = g_strsplit (text, "\\;", -1);
  g_autoptr (GHashTable) tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint i;

  if (parts[0] == NULL)
    {
      /* g_strsplit ("") is empty */
      if (tags_out != NULL)
        *tags_out = g_steal_pointer (&tags);
      return g_strdup ("");
    }
  for (i = 1; parts[i] != NULL; i++)
    {
      const char *colon = strchr (parts[i], ':');

      /* attr.split(':') with length > 1: key before the first colon, the rest re-joined. */
      if (colon != NULL)
        g_hash_table_insert (tags, g_strndup (parts[i], colon - parts[i]), g_strdup (colon + 1));
    }
  if (tags_out != NULL)
    *tags_out = g_steal_pointer (&tags);
  return g_strdup (parts[0]);
}

/* ---- JS regex parser ---------------------------------------------------------------------- */

/* What the parser knows about a node. `variants` is the finite set of exact strings (lower-case
 * ASCII) the node can match, when small; `set` a set of literals one of which every match of the
 * node contains. */
typedef struct
{
  GPtrArray *variants; /* char*, NULL = not a small finite set */
  GPtrArray *set;      /* char*, NULL = none */
  int max;             /* bound of matched bytes, UNBOUNDED when none */
  gboolean assertion;  /* zero-width: ^ $ \b \B lookarounds */
  gboolean lookahead;  /* (?= or (?!: the only assertions JS lets a quantifier follow */
} Info;

#define MAX_VARIANTS 32

typedef struct
{
  const char *p;
  const char *end;
  GString *out;
  guint n_groups;
  gboolean has_named;
  GError **error;
  gboolean failed;
  guint depth;
} Parser;

static void
info_clear (Info *info)
{
  g_clear_pointer (&info->variants, g_ptr_array_unref);
  g_clear_pointer (&info->set, g_ptr_array_unref);
  memset (info, 0, sizeof *info);
}

static void
info_init_unknown (Info *info, int max)
{
  memset (info, 0, sizeof *info);
  info->max = max;
}

static GPtrArray *
strv_new (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

static void
info_init_chars (Info *info, const char *chars)
{
  const char *c;

  memset (info, 0, sizeof *info);
  info->variants = strv_new ();
  info->max = 1;
  for (c = chars; *c; c++)
    {
      char s[2] = { g_ascii_tolower (*c), 0 };

      g_ptr_array_add (info->variants, g_strdup (s));
      /* caseless UTF-8 matching lets k and s match KELVIN SIGN and LONG S (more bytes) */
      if (s[0] == 'k' || s[0] == 's')
        info->max = 3;
    }
}

static void
info_init_char (Info *info, char c)
{
  char s[2] = { c, 0 };

  info_init_chars (info, s);
}

static int
sat_add (int a, int b)
{
  if (a == UNBOUNDED || b == UNBOUNDED || a > G_MAXINT / 2 || b > G_MAXINT / 2)
    return UNBOUNDED;
  return a + b;
}

static int
sat_mul (int a, int b)
{
  if (a == 0 || b == 0)
    return 0;
  if (a == UNBOUNDED || b == UNBOUNDED || a > G_MAXINT / b)
    return UNBOUNDED;
  return a * b;
}

/* Substrings so frequent in HTML, scripts and URLs that a literal made of them hardly filters. */
static const char *const common_fragments[] = {
  "<script",    "</script>", "script",    "<link",     "<div",       "<span",
  "<meta",      "<img",      "<a ",       "<input",    "<form",      "<iframe",
  "<style",     "<body",     "<html",     "<head",     "<ul",        "<li",
  "<p ",        "<nav",      "<section",  "<button",   "<svg",       "href=",
  "src=",       "class=",    "rel=",      "type=",     "content=",   "name=",
  "id=",        "style=",    "data-",     "property=", "stylesheet", "text/javascript",
  "javascript", "text/css",  "https://",  "http://",   "https",      "http",
  "www.",       ".com",      ".min",      ".js",       ".css",       "function",
  "var ",       "window.",   "document.", "return",    "this.",      "true",
  "false",      "null",      "/static/",  "/assets/",  "/js/",       "/css/",
  "\"",         "'",         " ",         "/",         "=",          "<",
  ">",          ".",         "-",         "_",         ":",          ";",
  ",",          "(",         ")",         "{",         "}",
};

/* Characters of s not covered by a common fragment. */
static int
effective_length (const char *s)
{
  gsize len = strlen (s), i, f;
  g_autofree gboolean *covered = g_new0 (gboolean, len + 1);
  int n = 0;

  for (f = 0; f < G_N_ELEMENTS (common_fragments); f++)
    {
      const char *frag = common_fragments[f];
      gsize flen = strlen (frag);
      const char *hit = s;

      while ((hit = strstr (hit, frag)) != NULL)
        {
          for (i = 0; i < flen; i++)
            covered[hit - s + i] = TRUE;
          hit++;
        }
    }
  for (i = 0; i < len; i++)
    n += !covered[i];
  return n;
}

/* A set's worth as a prefilter: its weakest member decides (rare characters first, then
 * length); smaller sets break ties. */
static int
set_score (GPtrArray *set)
{
  int min = G_MAXINT;
  guint i;

  if (set == NULL || set->len == 0)
    return -1;
  for (i = 0; i < set->len; i++)
    {
      const char *m = g_ptr_array_index (set, i);
      int v = MIN (effective_length (m), 200) * 256 + (int)MIN (strlen (m), 255);

      min = MIN (min, v);
    }
  return min * 64 - (int)MIN (set->len, 63);
}

static GPtrArray *
strv_copy (GPtrArray *a)
{
  GPtrArray *out = strv_new ();
  guint i;

  for (i = 0; i < a->len; i++)
    g_ptr_array_add (out, g_strdup (g_ptr_array_index (a, i)));
  return out;
}

/* Every a + b, without duplicates; NULL when that is more than MAX_VARIANTS. */
static GPtrArray *
strv_product (GPtrArray *a, GPtrArray *b)
{
  GPtrArray *out;
  guint i, j;

  if ((gsize)a->len * b->len > MAX_VARIANTS)
    return NULL;
  out = strv_new ();
  for (i = 0; i < a->len; i++)
    for (j = 0; j < b->len; j++)
      {
        char *s = g_strconcat (g_ptr_array_index (a, i), g_ptr_array_index (b, j), NULL);

        if (g_ptr_array_find_with_equal_func (out, s, g_str_equal, NULL))
          g_free (s);
        else
          g_ptr_array_add (out, s);
      }
  return out;
}

/* Keeps the better of *best and candidate (which it takes). */
static void
consider (GPtrArray **best, GPtrArray *candidate)
{
  if (candidate == NULL)
    return;
  if (set_score (candidate) > set_score (*best))
    {
      g_clear_pointer (best, g_ptr_array_unref);
      *best = candidate;
    }
  else
    g_ptr_array_unref (candidate);
}

/* The run's variants are literals every match contains, unless one is empty. Resets the run. */
static void
flush_run (GPtrArray **run, GPtrArray **best)
{
  guint i;
  gboolean ok = TRUE;

  for (i = 0; i < (*run)->len; i++)
    if (*(const char *)g_ptr_array_index (*run, i) == '\0')
      ok = FALSE;
  if (ok)
    consider (best, *run);
  else
    g_ptr_array_unref (*run);
  *run = strv_new ();
  g_ptr_array_add (*run, g_strdup (""));
}

static gboolean
fail (Parser *ps, int code, const char *message)
{
  if (!ps->failed)
    g_set_error (ps->error, TSQ_FP_PATTERN_ERROR, code, "%s", message);
  ps->failed = TRUE;
  return FALSE;
}

static gboolean parse_disjunction (Parser *ps, Info *info);

static gboolean
is_hex (char c)
{
  return g_ascii_isxdigit (c);
}

static gunichar
hex_value (const char *p, int n)
{
  gunichar v = 0;
  int i;

  for (i = 0; i < n; i++)
    v = v * 16 + (gunichar)g_ascii_xdigit_value (p[i]);
  return v;
}

/* Reads a JS quantifier at ps->p. Returns FALSE when there is none (a `{` that is not a
 * quantifier is a literal in Annex B). */
static gboolean
read_quantifier (Parser *ps, int *min, int *max, const char **end_out)
{
  const char *p = ps->p;

  if (p >= ps->end)
    return FALSE;
  if (*p == '*' || *p == '+' || *p == '?')
    {
      *min = *p == '+' ? 1 : 0;
      *max = *p == '?' ? 1 : UNBOUNDED;
      p++;
    }
  else if (*p == '{')
    {
      gint64 a = 0, b;
      const char *q = p + 1;

      if (q >= ps->end || !g_ascii_isdigit (*q))
        return FALSE;
      for (; q < ps->end && g_ascii_isdigit (*q); q++)
        a = MIN (a * 10 + (*q - '0'), (gint64)G_MAXINT / 4);
      b = a;
      if (q < ps->end && *q == ',')
        {
          q++;
          if (q < ps->end && g_ascii_isdigit (*q))
            {
              b = 0;
              for (; q < ps->end && g_ascii_isdigit (*q); q++)
                b = MIN (b * 10 + (*q - '0'), (gint64)G_MAXINT / 4);
            }
          else
            b = UNBOUNDED;
        }
      if (q >= ps->end || *q != '}')
        return FALSE;
      p = q + 1;
      *min = (int)a;
      *max = (int)b;
    }
  else
    return FALSE;
  if (p < ps->end && *p == '?')
    p++;
  *end_out = p;
  return TRUE;
}

static void
emit_literal_char (GString *out, char c)
{
  if (strchr ("\\^$.|?*+()[]{}", c) != NULL)
    g_string_append_c (out, '\\');
  g_string_append_c (out, c);
}

static void
emit_code_point (GString *out, gunichar cp)
{
  g_string_append_printf (out, "\\x{%x}", cp);
}

/* \uXXXX (with surrogate pairs combined). Returns the code point, or G_MAXUINT32 for none. */
static gunichar
read_unicode_escape (Parser *ps)
{
  /* ps->p points after "\u" */
  gunichar hi;

  if (ps->end - ps->p < 4 || !is_hex (ps->p[0]) || !is_hex (ps->p[1]) || !is_hex (ps->p[2])
      || !is_hex (ps->p[3]))
    return G_MAXUINT32;
  hi = hex_value (ps->p, 4);
  ps->p += 4;
  if (hi >= 0xD800 && hi <= 0xDBFF && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u'
      && is_hex (ps->p[2]) && is_hex (ps->p[3]) && is_hex (ps->p[4]) && is_hex (ps->p[5]))
    {
      gunichar lo = hex_value (ps->p + 2, 4);

      if (lo >= 0xDC00 && lo <= 0xDFFF)
        {
          ps->p += 6;
          return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
  return hi;
}

/* Legacy octal escape (Annex B): up to three octal digits, value <= 0377. ps->p at first digit. */
static gunichar
read_octal (Parser *ps)
{
  gunichar v = 0;
  int n = 0;

  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7' && n < 3)
    {
      gunichar nv = v * 8 + (gunichar)(*ps->p - '0');

      if (nv > 0377)
        break;
      v = nv;
      ps->p++;
      n++;
    }
  return v;
}

/* Emits a single character given as code point (from an escape) outside or inside a class and
 * describes it. */
static void
char_cp (Parser *ps, gunichar cp, Info *info, gboolean in_class)
{
  if (cp >= 0xD800 && cp <= 0xDFFF)
    {
      fail (ps, TSQ_FP_PATTERN_ERROR_UNSUPPORTED, "lone UTF-16 surrogate escape");
      info_init_unknown (info, 4);
      return;
    }
  if (cp >= 0x20 && cp < 0x7f && (g_ascii_isalnum (cp) || cp == ' '))
    g_string_append_c (ps->out, (char)cp);
  else
    emit_code_point (ps->out, cp);
  if (cp > 0 && cp < 0x80)
    info_init_char (info, (char)cp);
  else
    info_init_unknown (info, 4);
  (void)in_class;
}

/* Parses an escape after the backslash (ps->p at the escaped char). in_class: inside [...].
 * *class_escape_out: it was \d \w \s or their negations (not usable as a range end). */
static gboolean
parse_escape (Parser *ps, Info *info, gboolean in_class, gboolean *class_escape_out)
{
  char c;

  *class_escape_out = FALSE;
  if (ps->p >= ps->end)
    return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "\\ at end of pattern");
  c = *ps->p++;
  switch (c)
    {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        g_string_append_c (ps->out, '\\');
        g_string_append_c (ps->out, c);
        info_init_unknown (info, 4);
        *class_escape_out = TRUE;
        return TRUE;
      case 'b':
      case 'B':
        if (in_class)
          {
            /* [\b] is backspace; [\B] an identity escape */
            if (c == 'b')
              g_string_append (ps->out, "\\x08");
            else
              g_string_append_c (ps->out, 'B');
            if (c == 'b')
              info_init_unknown (info, 1);
            else
              info_init_char (info, 'B');
            return TRUE;
          }
        g_string_append_c (ps->out, '\\');
        g_string_append_c (ps->out, c);
        info_init_unknown (info, 0);
        info->assertion = TRUE;
        return TRUE;
      case 'n':
      case 'r':
      case 't':
      case 'f':
        g_string_append_c (ps->out, '\\');
        g_string_append_c (ps->out, c);
        info_init_char (info, c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : '\f');
        return TRUE;
      case 'v':
        g_string_append (ps->out, "\\x0b");
        info_init_char (info, '\v');
        return TRUE;
      case 'c':
        if (ps->p < ps->end
            && (g_ascii_isalpha (*ps->p)
                || (in_class && (g_ascii_isdigit (*ps->p) || *ps->p == '_'))))
          {
            char ctl = (char)(*ps->p++ % 32);

            emit_code_point (ps->out, (gunichar)ctl);
            info_init_unknown (info, 1);
            return TRUE;
          }
        /* Annex B: a lone \c is a backslash followed by 'c' */
        g_string_append (ps->out, "\\\\c");
        info_init_unknown (info, 2);
        return TRUE;
      case 'x':
        if (ps->end - ps->p >= 2 && is_hex (ps->p[0]) && is_hex (ps->p[1]))
          {
            gunichar cp = hex_value (ps->p, 2);

            ps->p += 2;
            char_cp (ps, cp, info, in_class);
            return !ps->failed;
          }
        g_string_append_c (ps->out, 'x');
        info_init_char (info, 'x');
        return TRUE;
      case 'u':
        {
          gunichar cp = read_unicode_escape (ps);

          if (cp == G_MAXUINT32)
            {
              g_string_append_c (ps->out, 'u');
              info_init_char (info, 'u');
              return TRUE;
            }
          char_cp (ps, cp, info, in_class);
          return !ps->failed;
        }
      case 'k':
        if (!in_class && ps->has_named && ps->p < ps->end && *ps->p == '<')
          {
            const char *close = memchr (ps->p, '>', ps->end - ps->p);

            if (close == NULL)
              return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "invalid named reference");
            g_string_append (ps->out, "\\k");
            g_string_append_len (ps->out, ps->p, close + 1 - ps->p);
            ps->p = close + 1;
            info_init_unknown (info, UNBOUNDED);
            return TRUE;
          }
        g_string_append_c (ps->out, 'k');
        info_init_char (info, 'k');
        return TRUE;
      case '0':
        if (ps->p < ps->end && g_ascii_isdigit (*ps->p))
          {
            ps->p--;
            char_cp (ps, read_octal (ps), info, in_class);
            return !ps->failed;
          }
        g_string_append (ps->out, "\\x00");
        info_init_unknown (info, 1);
        return TRUE;
      default:
        break;
    }

  if (c >= '1' && c <= '9')
    {
      const char *start = ps->p - 1;
      gint64 n = 0;
      const char *q = start;

      for (; q < ps->end && g_ascii_isdigit (*q); q++)
        n = MIN (n * 10 + (*q - '0'), (gint64)G_MAXINT);
      if (!in_class && n <= ps->n_groups)
        {
          g_string_append_printf (ps->out, "\\g{%d}", (int)n);
          ps->p = q;
          info_init_unknown (info, UNBOUNDED);
          return TRUE;
        }
      ps->p = start;
      if (c >= '8')
        {
          ps->p++;
          g_string_append_c (ps->out, c);
          info_init_char (info, c);
          return TRUE;
        }
      char_cp (ps, read_octal (ps), info, in_class);
      return !ps->failed;
    }

  if (g_ascii_isalpha (c))
    {
      /* identity escape of a letter JS does not define: the letter itself */
      g_string_append_c (ps->out, c);
      info_init_char (info, c);
      return TRUE;
    }

  if ((guchar)c >= 0x80)
    {
      /* identity escape of a non-ASCII character: copy its UTF-8 sequence */
      const char *start = ps->p - 1;
      const char *next = g_utf8_find_next_char (start, ps->end);

      g_string_append_len (ps->out, start, (next ? next : ps->end) - start);
      ps->p = next ? next : ps->end;
      info_init_unknown (info, 4);
      return TRUE;
    }

  /* punctuation: literal */
  if (in_class)
    {
      g_string_append_c (ps->out, '\\');
      g_string_append_c (ps->out, c);
    }
  else
    emit_literal_char (ps->out, c);
  info_init_char (info, c);
  return TRUE;
}

/* One class atom. *single: the lower-case ASCII char when it is one (else 0); *cls: \d-like. */
static gboolean
parse_class_atom (Parser *ps, char *single, gboolean *cls)
{
  Info info = { 0 };
  char c = *ps->p;

  *single = 0;
  *cls = FALSE;
  if (c == '\\')
    {
      ps->p++;
      if (!parse_escape (ps, &info, TRUE, cls))
        {
          info_clear (&info);
          return FALSE;
        }
      if (info.variants != NULL && info.variants->len == 1)
        *single = *(const char *)g_ptr_array_index (info.variants, 0);
      info_clear (&info);
      return TRUE;
    }
  if ((guchar)c >= 0x80)
    {
      const char *next = g_utf8_find_next_char (ps->p, ps->end);

      next = next ? next : ps->end;
      g_string_append_len (ps->out, ps->p, next - ps->p);
      ps->p = next;
      return TRUE;
    }
  ps->p++;
  if (strchr ("\\]-[^", c) != NULL)
    g_string_append_c (ps->out, '\\');
  g_string_append_c (ps->out, c);
  *single = g_ascii_tolower (c);
  return TRUE;
}

static gboolean
parse_class (Parser *ps, Info *info)
{
  gboolean negated = FALSE;
  gboolean simple = TRUE;
  GString *chars = g_string_new (NULL);
  gsize out_start;

  /* ps->p after '[' */
  if (ps->p < ps->end && *ps->p == '^')
    {
      negated = TRUE;
      ps->p++;
    }
  if (ps->p < ps->end && *ps->p == ']')
    {
      ps->p++;
      /* JS: [] matches nothing, [^] matches any character */
      g_string_append (ps->out, negated ? "[\\s\\S]" : "(?!)");
      info_init_unknown (info, negated ? 4 : 0);
      return TRUE;
    }
  out_start = ps->out->len;
  g_string_append (ps->out, negated ? "[^" : "[");
  while (TRUE)
    {
      char a, b;
      gboolean a_cls, b_cls;
      gsize a_end;

      if (ps->p >= ps->end)
        {
          g_string_free (chars, TRUE);
          return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "unterminated character class");
        }
      if (*ps->p == ']')
        {
          ps->p++;
          break;
        }
      if (!parse_class_atom (ps, &a, &a_cls))
        {
          g_string_free (chars, TRUE);
          return FALSE;
        }
      a_end = ps->out->len;
      if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']')
        {
          ps->p++;
          /* the '-' emitted by parse_class_atom would be escaped; emit the range dash here */
          g_string_append_c (ps->out, '-');
          if (!parse_class_atom (ps, &b, &b_cls))
            {
              g_string_free (chars, TRUE);
              return FALSE;
            }
          if (a_cls || b_cls)
            {
              /* Annex B: [\d-z] is \d, '-' and 'z' */
              g_string_insert (ps->out, a_end, "\\");
            }
          simple = FALSE;
          continue;
        }
      if (a == 0 || a_cls)
        simple = FALSE;
      else if (strchr (chars->str, g_ascii_tolower (a)) == NULL)
        g_string_append_c (chars, g_ascii_tolower (a));
    }
  g_string_append_c (ps->out, ']');
  /* a few single characters, like ["'], are a small set of variants */
  if (!negated && simple && chars->len > 0 && chars->len <= 4)
    info_init_chars (info, chars->str);
  else
    info_init_unknown (info, 4);
  g_string_free (chars, TRUE);
  (void)out_start;
  return TRUE;
}

static gboolean
parse_group (Parser *ps, Info *info)
{
  gboolean lookaround = FALSE;
  gboolean lookahead = FALSE;
  Info inner = { 0 };

  /* ps->p after '(' */
  if (ps->p < ps->end && *ps->p == '?')
    {
      const char *q = ps->p + 1;

      if (q < ps->end && *q == ':')
        {
          g_string_append (ps->out, "(?:");
          ps->p = q + 1;
        }
      else if (q < ps->end && (*q == '=' || *q == '!'))
        {
          g_string_append_len (ps->out, ps->p - 1, 3);
          ps->p = q + 1;
          lookaround = TRUE;
          lookahead = TRUE;
        }
      else if (q + 1 < ps->end && *q == '<' && (q[1] == '=' || q[1] == '!'))
        {
          g_string_append_len (ps->out, ps->p - 1, 4);
          ps->p = q + 2;
          lookaround = TRUE;
        }
      else if (q < ps->end && *q == '<')
        {
          const char *close = memchr (q, '>', ps->end - q);
          const char *r;

          if (close == NULL || close == q + 1)
            return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "invalid group name");
          for (r = q + 1; r < close; r++)
            if (!(g_ascii_isalnum (*r) || *r == '_'))
              return fail (ps, TSQ_FP_PATTERN_ERROR_UNSUPPORTED, "unsupported group name");
          g_string_append (ps->out, "(?");
          g_string_append_len (ps->out, q, close + 1 - q);
          ps->p = close + 1;
        }
      else
        return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "invalid group");
    }
  else
    g_string_append_c (ps->out, '(');

  if (!parse_disjunction (ps, &inner))
    {
      info_clear (&inner);
      return FALSE;
    }
  if (ps->p >= ps->end || *ps->p != ')')
    {
      info_clear (&inner);
      return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "unterminated group");
    }
  ps->p++;
  g_string_append_c (ps->out, ')');
  if (lookaround)
    {
      info_clear (&inner);
      info_init_unknown (info, 0);
      info->assertion = TRUE;
      info->lookahead = lookahead;
      return TRUE;
    }
  *info = inner;
  return TRUE;
}

static gboolean
parse_atom (Parser *ps, Info *info)
{
  char c = *ps->p;

  switch (c)
    {
      case '^':
      case '$':
        ps->p++;
        g_string_append_c (ps->out, c);
        info_init_unknown (info, 0);
        info->assertion = TRUE;
        return TRUE;
      case '.':
        ps->p++;
        g_string_append_c (ps->out, '.');
        info_init_unknown (info, 4);
        return TRUE;
      case '\\':
        {
          gboolean cls;

          ps->p++;
          return parse_escape (ps, info, FALSE, &cls);
        }
      case '[':
        ps->p++;
        return parse_class (ps, info);
      case '(':
        ps->p++;
        if (++ps->depth > 200)
          return fail (ps, TSQ_FP_PATTERN_ERROR_UNSUPPORTED, "groups nested too deeply");
        if (!parse_group (ps, info))
          return FALSE;
        ps->depth--;
        return TRUE;
      case '*':
      case '+':
      case '?':
        return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "nothing to repeat");
      case '{':
        {
          int a, b;
          const char *e;

          if (read_quantifier (ps, &a, &b, &e))
            return fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "nothing to repeat");
          ps->p++;
          g_string_append (ps->out, "\\{");
          info_init_char (info, '{');
          return TRUE;
        }
      default:
        break;
    }

  if ((guchar)c >= 0x80)
    {
      const char *next = g_utf8_find_next_char (ps->p, ps->end);

      next = next ? next : ps->end;
      g_string_append_len (ps->out, ps->p, next - ps->p);
      ps->p = next;
      info_init_unknown (info, 4);
      return TRUE;
    }
  ps->p++;
  emit_literal_char (ps->out, c);
  info_init_char (info, c);
  return TRUE;
}

/* Alternative: Term* up to '|' or ')' or the end. */
static gboolean
parse_alternative (Parser *ps, Info *info)
{
  GPtrArray *run = strv_new ();
  GPtrArray *all = strv_new (); /* variants of the whole alternative, NULL once not finite */
  GPtrArray *best = NULL;
  int max = 0;

  g_ptr_array_add (run, g_strdup (""));
  g_ptr_array_add (all, g_strdup (""));
  while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')')
    {
      Info t = { 0 };
      int qmin = 1, qmax = 1;
      const char *qend;
      GPtrArray *tv = NULL; /* the term's variants with its quantifier */

      if (!parse_atom (ps, &t))
        goto failed_term;
      if (read_quantifier (ps, &qmin, &qmax, &qend))
        {
          if (t.assertion && !t.lookahead)
            {
              /* ^* and \b+ are syntax errors in JS; quantified lookaheads are allowed */
              fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "nothing to repeat");
              goto failed_term;
            }
          if (qmin > qmax)
            {
              fail (ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "numbers out of order in quantifier");
              goto failed_term;
            }
          g_string_append_len (ps->out, ps->p, qend - ps->p);
          ps->p = qend;
        }

      if (t.assertion)
        {
          /* zero-width: the text on both sides is contiguous, the run goes on */
          info_clear (&t);
          continue;
        }
      max = sat_add (max, sat_mul (t.max, qmax));
      if (t.variants != NULL && qmin == 1 && qmax == 1)
        tv = strv_copy (t.variants);
      else if (t.variants != NULL && qmin == 0 && qmax == 1 && t.variants->len < MAX_VARIANTS)
        {
          tv = strv_copy (t.variants);
          if (!g_ptr_array_find_with_equal_func (tv, "", g_str_equal, NULL))
            g_ptr_array_add (tv, g_strdup (""));
        }

      if (tv != NULL)
        {
          GPtrArray *next = strv_product (run, tv);

          if (next == NULL)
            {
              /* too many: what came before is one literal, the term starts the next */
              flush_run (&run, &best);
              g_ptr_array_unref (run);
              run = strv_copy (tv);
            }
          else
            {
              g_ptr_array_unref (run);
              run = next;
            }
          if (all != NULL)
            {
              GPtrArray *next_all = strv_product (all, tv);

              g_ptr_array_unref (all);
              all = next_all;
            }
          g_ptr_array_unref (tv);
        }
      else
        {
          g_clear_pointer (&all, g_ptr_array_unref);
          if (qmin >= 1 && t.variants != NULL)
            {
              /* at least one copy here; the last copy also starts the next run */
              GPtrArray *next = strv_product (run, t.variants);

              if (next != NULL)
                {
                  g_ptr_array_unref (run);
                  run = next;
                }
              flush_run (&run, &best);
              g_ptr_array_unref (run);
              run = strv_copy (t.variants);
            }
          else if (qmin >= 1)
            {
              flush_run (&run, &best);
              consider (&best, g_steal_pointer (&t.set));
            }
          else
            flush_run (&run, &best);
        }
      info_clear (&t);
      continue;

    failed_term:
      info_clear (&t);
      g_ptr_array_unref (run);
      g_clear_pointer (&all, g_ptr_array_unref);
      g_clear_pointer (&best, g_ptr_array_unref);
      return FALSE;
    }
  flush_run (&run, &best);
  g_ptr_array_unref (run);

  memset (info, 0, sizeof *info);
  info->max = max;
  info->set = best;
  info->variants = all;
  return TRUE;
}

static gboolean
parse_disjunction (Parser *ps, Info *info)
{
  Info first = { 0 };
  GPtrArray *union_set = NULL;
  GPtrArray *union_variants = NULL;
  gboolean union_ok = TRUE;
  int max;

  if (!parse_alternative (ps, &first))
    {
      info_clear (&first);
      return FALSE;
    }
  if (ps->p >= ps->end || *ps->p != '|')
    {
      *info = first;
      return TRUE;
    }

  max = first.max;
  union_set = g_ptr_array_new_with_free_func (g_free);
  if (first.set != NULL)
    {
      guint i;

      for (i = 0; i < first.set->len; i++)
        g_ptr_array_add (union_set, g_strdup (g_ptr_array_index (first.set, i)));
    }
  else
    union_ok = FALSE;
  if (first.variants != NULL)
    union_variants = strv_copy (first.variants);
  info_clear (&first);

  while (ps->p < ps->end && *ps->p == '|')
    {
      Info alt = { 0 };

      ps->p++;
      g_string_append_c (ps->out, '|');
      if (!parse_alternative (ps, &alt))
        {
          info_clear (&alt);
          g_ptr_array_unref (union_set);
          g_clear_pointer (&union_variants, g_ptr_array_unref);
          return FALSE;
        }
      max = MAX (max, alt.max);
      if (union_variants != NULL && alt.variants != NULL
          && union_variants->len + alt.variants->len <= MAX_VARIANTS)
        {
          guint i;

          for (i = 0; i < alt.variants->len; i++)
            if (!g_ptr_array_find_with_equal_func (
                  union_variants, g_ptr_array_index (alt.variants, i), g_str_equal, NULL))
              g_ptr_array_add (union_variants, g_strdup (g_ptr_array_index (alt.variants, i)));
        }
      else
        g_clear_pointer (&union_variants, g_ptr_array_unref);
      if (alt.set != NULL && union_ok)
        {
          guint i;

          for (i = 0; i < alt.set->len; i++)
            g_ptr_array_add (union_set, g_strdup (g_ptr_array_index (alt.set, i)));
        }
      else
        union_ok = FALSE;
      info_clear (&alt);
    }

  memset (info, 0, sizeof *info);
  info->max = max;
  info->variants = union_variants;
  if (union_ok && union_set->len <= MAX_SET_SIZE)
    info->set = union_set;
  else
    g_ptr_array_unref (union_set);
  return TRUE;
}

static void
count_groups (const char *s, const char *end, guint *n, gboolean *named)
{
  gboolean in_class = FALSE;

  *n = 0;
  *named = FALSE;
  for (; s < end; s++)
    {
      if (*s == '\\')
        {
          s++;
          continue;
        }
      if (in_class)
        {
          if (*s == ']')
            in_class = FALSE;
          continue;
        }
      if (*s == '[')
        in_class = TRUE;
      else if (*s == '(')
        {
          if (s + 1 >= end || s[1] != '?')
            (*n)++;
          else if (s + 2 < end && s[2] == '<' && s + 3 < end && s[3] != '=' && s[3] != '!')
            {
              (*n)++;
              *named = TRUE;
            }
        }
    }
}

char *
tsq_fp_js_regex_to_pcre (const char *js, GStrv *literals_out, int *max_bytes_out, GError **error)
{
  Parser ps = { 0 };
  Info info = { 0 };
  gboolean ok;

  ps.p = js;
  ps.end = js + strlen (js);
  ps.out = g_string_sized_new (ps.end - ps.p + 16);
  ps.error = error;
  count_groups (ps.p, ps.end, &ps.n_groups, &ps.has_named);

  ok = parse_disjunction (&ps, &info);
  if (ok && ps.p < ps.end)
    ok = fail (&ps, TSQ_FP_PATTERN_ERROR_SYNTAX, "unmatched ')'");
  if (!ok)
    {
      info_clear (&info);
      g_string_free (ps.out, TRUE);
      return NULL;
    }

  if (literals_out != NULL)
    {
      *literals_out = NULL;
      if (info.set != NULL && info.set->len > 0)
        {
          g_ptr_array_add (info.set, NULL);
          *literals_out = (GStrv)g_ptr_array_steal (info.set, NULL);
        }
    }
  if (max_bytes_out != NULL)
    *max_bytes_out = info.max;
  info_clear (&info);
  return g_string_free (ps.out, FALSE);
}

/* ---- patterns ----------------------------------------------------------------------------- */

#define COMPILE_FLAGS (G_REGEX_CASELESS | G_REGEX_DOLLAR_ENDONLY | G_REGEX_NEWLINE_ANYCRLF)

TsqFpPattern *
tsq_fp_pattern_new (const char *text, gboolean is_regex, GError **error)
{
  g_autoptr (TsqFpPattern) pattern = g_new0 (TsqFpPattern, 1);
  g_autoptr (GHashTable) tags = NULL;
  g_autofree char *prepped = NULL;
  const char *value;

  pattern->source = tsq_fp_split_tags (text, &tags);
  value = g_hash_table_lookup (tags, "confidence");
  /* parseInt(confidence || 100, 10): an empty value means the default */
  pattern->confidence = (value == NULL || *value == '\0')
                          ? 100
                          : (int)CLAMP (tsq_fp_js_parse_int (value), G_MININT / 2, G_MAXINT / 2);
  value = g_hash_table_lookup (tags, "version");
  pattern->version = (value != NULL && *value != '\0') ? g_strdup (value) : NULL;

  prepped = tsq_fp_wappalyzer_preprocess (is_regex ? pattern->source : "");
  pattern->pcre = tsq_fp_js_regex_to_pcre (prepped, &pattern->literals, &pattern->max_bytes, error);
  if (pattern->pcre == NULL)
    return NULL;
  pattern->regex = g_regex_new (pattern->pcre, COMPILE_FLAGS, 0, error);
  if (pattern->regex == NULL)
    return NULL;
  return g_steal_pointer (&pattern);
}

void
tsq_fp_pattern_free (TsqFpPattern *pattern)
{
  if (pattern == NULL)
    return;
  g_free (pattern->source);
  g_free (pattern->pcre);
  g_strfreev (pattern->literals);
  g_free (pattern->version);
  g_clear_pointer (&pattern->regex, g_regex_unref);
  g_clear_pointer (&pattern->jit, g_regex_unref);
  g_free (pattern);
}

gboolean
tsq_fp_pattern_prefilter (const TsqFpPattern *pattern, const char *lower, gsize len)
{
  guint i;

  if (pattern->literals == NULL)
    return TRUE;
  for (i = 0; pattern->literals[i] != NULL; i++)
    if (memmem (lower, len, pattern->literals[i], strlen (pattern->literals[i])) != NULL)
      return TRUE;
  return FALSE;
}

static GRegex *
get_jit (TsqFpPattern *pattern)
{
  GRegex *jit = g_atomic_pointer_get (&pattern->jit);

  if (jit == NULL)
    {
      GRegex *fresh = g_regex_new (pattern->pcre, COMPILE_FLAGS | G_REGEX_OPTIMIZE, 0, NULL);

      if (fresh == NULL)
        return pattern->regex;
      if (!g_atomic_pointer_compare_and_exchange (&pattern->jit, NULL, fresh))
        g_regex_unref (fresh);
      jit = g_atomic_pointer_get (&pattern->jit);
    }
  return jit;
}

gboolean
tsq_fp_pattern_match (TsqFpPattern *pattern,
                      const char *value,
                      gssize len,
                      int start_offset,
                      gboolean use_jit,
                      char **version_out)
{
  g_autoptr (GMatchInfo) mi = NULL;
  GRegex *regex = use_jit ? get_jit (pattern) : pattern->regex;

  if (!g_regex_match_full (regex, value, len, start_offset, 0, &mi, NULL))
    return FALSE;
  if (version_out != NULL)
    {
      if (pattern->version == NULL)
        *version_out = g_strdup ("");
      else
        {
          guint n = (guint)g_regex_get_capture_count (regex) + 1;
          g_autoptr (GPtrArray) groups = g_ptr_array_new_with_free_func (g_free);
          guint i;

          for (i = 0; i < n; i++)
            {
              int s = -1, e = -1;

              if (g_match_info_fetch_pos (mi, (int)i, &s, &e) && s >= 0)
                g_ptr_array_add (groups, g_strndup (value + s, e - s));
              else
                g_ptr_array_add (groups, NULL);
            }
          *version_out
            = tsq_fp_resolve_version (pattern->version, (const char *const *)groups->pdata, n);
        }
    }
  return TRUE;
}

/* String.prototype.replace (string, string) for a first occurrence, and the global form. */
static char *
replace_all (const char *s, const char *needle, const char *with)
{
  GString *out = g_string_new (NULL);
  gsize nlen = strlen (needle);
  const char *hit;

  while ((hit = strstr (s, needle)) != NULL)
    {
      g_string_append_len (out, s, hit - s);
      g_string_append (out, with);
      s = hit + nlen;
    }
  g_string_append (out, s);
  return g_string_free (out, FALSE);
}

/* new RegExp(`\\\\${index}\\?([^:]+):(.*)$`).exec(version): first position where it matches. */
static gboolean
find_ternary (const char *version, guint index, gsize *start, char **yes, char **no)
{
  g_autofree char *head = g_strdup_printf ("\\%u?", index);
  const char *p = version;
  const char *hit;

  while ((hit = strstr (p, head)) != NULL)
    {
      const char *a = hit + strlen (head);
      const char *colon = strchr (a, ':');

      /* [^:]+ takes everything up to the first colon (at least one char); (.*)$ the rest, which
       * must hold no line terminator since '.' does not match one */
      if (colon != NULL && colon > a && strpbrk (colon + 1, "\n\r") == NULL
          && strstr (colon + 1, "\xe2\x80\xa8") == NULL
          && strstr (colon + 1, "\xe2\x80\xa9") == NULL)
        {
          *start = hit - version;
          *yes = g_strndup (a, colon - a);
          *no = g_strdup (colon + 1);
          return TRUE;
        }
      p = hit + 1;
    }
  return FALSE;
}

char *
tsq_fp_resolve_version (const char *tmpl, const char *const *groups, guint n_groups)
{
  g_autofree char *resolved = NULL;
  guint i;

  if (tmpl == NULL || *tmpl == '\0')
    return g_strdup ("");
  resolved = g_strdup (tmpl);
  for (i = 0; i < n_groups; i++)
    {
      const char *m = groups[i];
      /* String(undefined) is "undefined" (9 chars): an unset group is not skipped */
      glong mlen = m != NULL ? g_utf8_strlen (m, -1) : 9;
      gsize tstart;
      char *yes = NULL, *no = NULL;
      g_autofree char *head = NULL;
      g_autofree char *stripped = NULL;

      if (mlen > 10)
        continue;
      if (find_ternary (tmpl, i, &tstart, &yes, &no))
        {
          /* version.replace(ternary[0], ...) starts again from the template */
          GString *s = g_string_new_len (tmpl, (gssize)tstart);

          g_string_append (s, (m != NULL && *m != '\0') ? yes : no);
          g_free (resolved);
          resolved = g_string_free (s, FALSE);
          g_free (yes);
          g_free (no);
        }
      stripped = g_strstrip (g_strdup (resolved));
      head = g_strdup_printf ("\\%u", i);
      g_free (resolved);
      resolved = replace_all (stripped, head, m != NULL ? m : "");
    }
  /* resolved.replace(/\\\d/, ''): the first left-over back reference */
  {
    char *p;

    for (p = resolved; *p != '\0'; p++)
      if (p[0] == '\\' && g_ascii_isdigit (p[1]))
        {
          memmove (p, p + 2, strlen (p + 2) + 1);
          break;
        }
  }
  return g_steal_pointer (&resolved);
}
