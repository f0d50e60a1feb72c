/* tsq-css-select.c: CSS selectors (Selectors Level 3 subset) evaluated over libxml2 trees.
 *
 * Used for Wappalyzer `dom` patterns. Selectors are matched right to left: the subject compound
 * first, then combinators walk to parents or previous siblings, backtracking for the descendant
 * and general sibling combinators. */
#define G_LOG_DOMAIN "tsq-css-select"

#include "tsq-css-select.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (tsq-css-selector-error-quark, tsq_css_selector_error)
/* clang-format on */

typedef enum
{
  SIMPLE_TAG,
  SIMPLE_ID,
  SIMPLE_CLASS,
  SIMPLE_ATTR,
  SIMPLE_NOT,
  SIMPLE_FIRST_CHILD,
  SIMPLE_LAST_CHILD,
  SIMPLE_ONLY_CHILD,
  SIMPLE_ROOT,
  SIMPLE_EMPTY,
} SimpleType;

typedef enum
{
  ATTR_EXISTS,
  ATTR_EQUALS,    /* = */
  ATTR_PREFIX,    /* ^= */
  ATTR_SUFFIX,    /* $= */
  ATTR_SUBSTRING, /* *= */
  ATTR_WORD,      /* ~= */
  ATTR_DASH,      /* |= */
} AttrOp;

typedef struct _Compound Compound;

typedef struct
{
  SimpleType type;
  AttrOp op;
  gboolean icase;
  char *name;      /* tag (lower-case), id, class, attribute name (lower-case) */
  char *value;     /* attribute value */
  Compound *inner; /* :not() argument */
} Simple;

struct _Compound
{
  GPtrArray *simples; /* Simple* */
  char combinator;    /* how it relates to the compound on its left: ' ', '>', '+', '~' */
};

typedef struct
{
  GPtrArray *compounds; /* Compound*, left to right */
} Complex;

struct _TsqCssSelector
{
  GPtrArray *alternatives; /* Complex* */
};

static void compound_free (Compound *c);

static void
simple_free (Simple *s)
{
  g_free (s->name);
  g_free (s->value);
  if (s->inner != NULL)
    compound_free (s->inner);
  g_free (s);
}

static void
compound_free (Compound *c)
{
  g_ptr_array_unref (c->simples);
  g_free (c);
}

static Compound *
compound_new (void)
{
  Compound *c = g_new0 (Compound, 1);

  c->simples = g_ptr_array_new_with_free_func ((GDestroyNotify)simple_free);
  return c;
}

static void
complex_free (Complex *c)
{
  g_ptr_array_unref (c->compounds);
  g_free (c);
}

void
tsq_css_selector_free (TsqCssSelector *sel)
{
  if (sel == NULL)
    return;
  g_ptr_array_unref (sel->alternatives);
  g_free (sel);
}

/* ---- parser ------------------------------------------------------------------------------- */

typedef struct
{
  const char *p;
  GError **error;
} Parser;

static gboolean
fail (Parser *ps, int code, const char *what)
{
  g_set_error (ps->error, TSQ_CSS_SELECTOR_ERROR, code, "%s at \"%.20s\"", what, ps->p);
  return FALSE;
}

static void
skip_ws (Parser *ps)
{
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\f')
    ps->p++;
}

static gboolean
is_ident_char (const char *p)
{
  return g_ascii_isalnum (*p) || *p == '-' || *p == '_' || (guchar)*p >= 0x80 || *p == '\\';
}

/* CSS identifier, with simple escapes (`\:` and hex escapes). */
static char *
parse_ident (Parser *ps)
{
  GString *s = g_string_new (NULL);

  if (*ps->p == '-' && (ps->p[1] == '\0' || g_ascii_isdigit (ps->p[1])))
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  if (g_ascii_isdigit (*ps->p))
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  while (*ps->p != '\0' && is_ident_char (ps->p))
    {
      if (*ps->p == '\\')
        {
          ps->p++;
          if (*ps->p == '\0')
            break;
          if (g_ascii_isxdigit (*ps->p))
            {
              gunichar cp = 0;
              int n = 0;

              while (n < 6 && g_ascii_isxdigit (*ps->p))
                {
                  cp = cp * 16 + (gunichar)g_ascii_xdigit_value (*ps->p++);
                  n++;
                }
              if (*ps->p == ' ')
                ps->p++;
              if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                cp = 0xFFFD;
              g_string_append_unichar (s, cp);
              continue;
            }
        }
      g_string_append_c (s, *ps->p++);
    }
  if (s->len == 0)
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  return g_string_free (s, FALSE);
}

static char *
parse_string (Parser *ps)
{
  char quote = *ps->p++;
  GString *s = g_string_new (NULL);

  while (*ps->p != quote)
    {
      if (*ps->p == '\0' || *ps->p == '\n')
        {
          g_string_free (s, TRUE);
          return NULL;
        }
      if (*ps->p == '\\' && ps->p[1] != '\0')
        ps->p++;
      g_string_append_c (s, *ps->p++);
    }
  ps->p++;
  return g_string_free (s, FALSE);
}

static gboolean parse_compound (Parser *ps, Compound *c, gboolean inside_not);

static gboolean
parse_attr (Parser *ps, Simple *s)
{
  /* after '[' */
  skip_ws (ps);
  s->name = parse_ident (ps);
  if (s->name == NULL)
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected attribute name");
  if (*ps->p == '|' && ps->p[1] != '=')
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "attribute namespaces are not supported");
  {
    char *lower = g_ascii_strdown (s->name, -1);

    g_free (s->name);
    s->name = lower;
  }
  skip_ws (ps);
  s->op = ATTR_EXISTS;
  if (*ps->p == ']')
    {
      ps->p++;
      return TRUE;
    }
  switch (*ps->p)
    {
      case '=':
        s->op = ATTR_EQUALS;
        ps->p++;
        break;
      case '^':
        s->op = ATTR_PREFIX;
        break;
      case '$':
        s->op = ATTR_SUFFIX;
        break;
      case '*':
        s->op = ATTR_SUBSTRING;
        break;
      case '~':
        s->op = ATTR_WORD;
        break;
      case '|':
        s->op = ATTR_DASH;
        break;
      default:
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected attribute operator");
    }
  if (s->op != ATTR_EQUALS)
    {
      if (ps->p[1] != '=')
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected '='");
      ps->p += 2;
    }
  skip_ws (ps);
  if (*ps->p == '"' || *ps->p == '\'')
    s->value = parse_string (ps);
  else
    s->value = parse_ident (ps);
  if (s->value == NULL)
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected attribute value");
  skip_ws (ps);
  if ((*ps->p == 'i' || *ps->p == 'I' || *ps->p == 's' || *ps->p == 'S')
      && (ps->p[1] == ']' || ps->p[1] == ' '))
    {
      s->icase = (*ps->p == 'i' || *ps->p == 'I');
      ps->p++;
      skip_ws (ps);
    }
  if (*ps->p != ']')
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected ']'");
  ps->p++;
  return TRUE;
}

static gboolean
parse_pseudo (Parser *ps, Simple *s, gboolean inside_not)
{
  g_autofree char *name = NULL;

  /* after ':' */
  if (*ps->p == ':')
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "pseudo-elements are not supported");
  name = parse_ident (ps);
  if (name == NULL)
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected pseudo-class name");
  if (g_ascii_strcasecmp (name, "first-child") == 0)
    s->type = SIMPLE_FIRST_CHILD;
  else if (g_ascii_strcasecmp (name, "last-child") == 0)
    s->type = SIMPLE_LAST_CHILD;
  else if (g_ascii_strcasecmp (name, "only-child") == 0)
    s->type = SIMPLE_ONLY_CHILD;
  else if (g_ascii_strcasecmp (name, "root") == 0)
    s->type = SIMPLE_ROOT;
  else if (g_ascii_strcasecmp (name, "empty") == 0)
    s->type = SIMPLE_EMPTY;
  else if (g_ascii_strcasecmp (name, "not") == 0 && *ps->p == '(')
    {
      if (inside_not)
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "nested :not() is not supported");
      ps->p++;
      skip_ws (ps);
      s->type = SIMPLE_NOT;
      s->inner = compound_new ();
      if (!parse_compound (ps, s->inner, TRUE))
        return FALSE;
      if (s->inner->simples->len == 0)
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "empty :not()");
      skip_ws (ps);
      if (*ps->p != ')')
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, ":not() takes one compound selector");
      ps->p++;
    }
  else
    return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "unsupported pseudo-class");
  return TRUE;
}

/* A compound selector: [type|*] then #id .class [attr] :pseudo in any order. Empty is allowed
 * here (the caller checks). */
static gboolean
parse_compound (Parser *ps, Compound *c, gboolean inside_not)
{
  if (*ps->p == '*')
    {
      ps->p++;
      if (*ps->p == '|')
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "namespaces are not supported");
    }
  else if (is_ident_char (ps->p) && !g_ascii_isdigit (*ps->p))
    {
      Simple *s = g_new0 (Simple, 1);
      char *name = parse_ident (ps);

      if (name == NULL)
        {
          g_free (s);
          return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "invalid element name");
        }
      if (*ps->p == '|')
        {
          g_free (s);
          g_free (name);
          return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "namespaces are not supported");
        }
      s->type = SIMPLE_TAG;
      s->name = g_ascii_strdown (name, -1);
      g_free (name);
      g_ptr_array_add (c->simples, s);
    }

  while (TRUE)
    {
      Simple *s;

      if (*ps->p != '#' && *ps->p != '.' && *ps->p != '[' && *ps->p != ':')
        return TRUE;
      s = g_new0 (Simple, 1);
      g_ptr_array_add (c->simples, s);
      switch (*ps->p++)
        {
          case '#':
            s->type = SIMPLE_ID;
            s->name = parse_ident (ps);
            if (s->name == NULL)
              return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected id");
            break;
          case '.':
            s->type = SIMPLE_CLASS;
            s->name = parse_ident (ps);
            if (s->name == NULL)
              return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected class name");
            break;
          case '[':
            s->type = SIMPLE_ATTR;
            if (!parse_attr (ps, s))
              return FALSE;
            break;
          default:
            if (!parse_pseudo (ps, s, inside_not))
              return FALSE;
            break;
        }
    }
}

static gboolean
parse_complex (Parser *ps, Complex *cx)
{
  char combinator = 0;

  while (TRUE)
    {
      Compound *c = compound_new ();
      const char *start = ps->p;
      gboolean had_ws;

      c->combinator = combinator;
      g_ptr_array_add (cx->compounds, c);
      if (!parse_compound (ps, c, FALSE))
        return FALSE;
      if (ps->p == start)
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_SYNTAX, "expected a selector");
      had_ws
        = (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\f');
      skip_ws (ps);
      if (*ps->p == '>' || *ps->p == '+' || *ps->p == '~')
        {
          combinator = *ps->p++;
          skip_ws (ps);
        }
      else if (*ps->p == ',' || *ps->p == '\0')
        return TRUE;
      else if (had_ws)
        combinator = ' ';
      else
        return fail (ps, TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, "unexpected character");
    }
}

TsqCssSelector *
tsq_css_selector_parse (const char *text, GError **error)
{
  g_autoptr (TsqCssSelector) sel = g_new0 (TsqCssSelector, 1);
  Parser ps = { text, error };

  g_return_val_if_fail (text != NULL, NULL);

  sel->alternatives = g_ptr_array_new_with_free_func ((GDestroyNotify)complex_free);
  skip_ws (&ps);
  while (TRUE)
    {
      Complex *cx = g_new0 (Complex, 1);

      cx->compounds = g_ptr_array_new_with_free_func ((GDestroyNotify)compound_free);
      g_ptr_array_add (sel->alternatives, cx);
      if (!parse_complex (&ps, cx))
        return NULL;
      if (*ps.p == '\0')
        break;
      /* ',' */
      ps.p++;
      skip_ws (&ps);
    }
  return g_steal_pointer (&sel);
}

/* ---- matching ----------------------------------------------------------------------------- */

const char *
tsq_css_node_get_attribute (xmlNode *node, const char *name, xmlChar **to_free)
{
  xmlAttr *attr;

  *to_free = NULL;
  for (attr = node->properties; attr != NULL; attr = attr->next)
    {
      if (attr->name == NULL || g_ascii_strcasecmp ((const char *)attr->name, name) != 0)
        continue;
      if (attr->children == NULL)
        return "";
      if (attr->children->next == NULL && attr->children->type == XML_TEXT_NODE)
        return attr->children->content ? (const char *)attr->children->content : "";
      *to_free = xmlNodeListGetString (node->doc, attr->children, 1);
      return *to_free ? (const char *)*to_free : "";
    }
  return NULL;
}

static gboolean
is_element (xmlNode *n)
{
  return n != NULL && n->type == XML_ELEMENT_NODE;
}

static xmlNode *
prev_element (xmlNode *n)
{
  for (n = n->prev; n != NULL; n = n->prev)
    if (is_element (n))
      return n;
  return NULL;
}

static xmlNode *
next_element (xmlNode *n)
{
  for (n = n->next; n != NULL; n = n->next)
    if (is_element (n))
      return n;
  return NULL;
}

static gboolean
is_css_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Is word one of the whitespace-separated tokens of list? */
static gboolean
has_token (const char *list, const char *word, gboolean icase)
{
  gsize wlen = strlen (word);
  const char *p = list;

  if (wlen == 0)
    return FALSE;
  while (*p != '\0')
    {
      const char *start;

      while (is_css_space (*p))
        p++;
      start = p;
      while (*p != '\0' && !is_css_space (*p))
        p++;
      if ((gsize)(p - start) == wlen
          && (icase ? g_ascii_strncasecmp (start, word, wlen) : strncmp (start, word, wlen)) == 0)
        return TRUE;
    }
  return FALSE;
}

static const char *
find_substring (const char *hay, const char *needle, gboolean icase)
{
  gsize nlen = strlen (needle);

  if (!icase)
    return strstr (hay, needle);
  for (; *hay != '\0'; hay++)
    if (g_ascii_strncasecmp (hay, needle, nlen) == 0)
      return hay;
  return NULL;
}

static gboolean
attr_value_matches (const Simple *s, const char *v)
{
  gsize vlen, slen;
  int (*ncmp) (const char *, const char *, gsize) = s->icase ? g_ascii_strncasecmp : NULL;

  if (s->op == ATTR_EXISTS)
    return TRUE;
  vlen = strlen (v);
  slen = strlen (s->value);

  switch (s->op)
    {
      case ATTR_EXISTS:
        return TRUE;
      case ATTR_EQUALS:
        return s->icase ? g_ascii_strcasecmp (v, s->value) == 0 : strcmp (v, s->value) == 0;
      case ATTR_PREFIX:
        return slen > 0 && vlen >= slen
               && (ncmp ? ncmp (v, s->value, slen) : strncmp (v, s->value, slen)) == 0;
      case ATTR_SUFFIX:
        return slen > 0 && vlen >= slen
               && (ncmp ? ncmp (v + vlen - slen, s->value, slen)
                        : strncmp (v + vlen - slen, s->value, slen))
                    == 0;
      case ATTR_SUBSTRING:
        return slen > 0 && find_substring (v, s->value, s->icase) != NULL;
      case ATTR_WORD:
        {
          const char *q;

          for (q = s->value; *q; q++)
            if (is_css_space (*q))
              return FALSE;
          return has_token (v, s->value, s->icase);
        }
      case ATTR_DASH:
        if (s->icase ? g_ascii_strcasecmp (v, s->value) == 0 : strcmp (v, s->value) == 0)
          return TRUE;
        return vlen > slen && v[slen] == '-'
               && (ncmp ? ncmp (v, s->value, slen) : strncmp (v, s->value, slen)) == 0;
      default:
        return FALSE;
    }
}

static gboolean compound_matches (const Compound *c, xmlNode *node);

static gboolean
simple_matches (const Simple *s, xmlNode *node)
{
  switch (s->type)
    {
      case SIMPLE_TAG:
        return node->name != NULL && g_ascii_strcasecmp ((const char *)node->name, s->name) == 0;
      case SIMPLE_ID:
      case SIMPLE_CLASS:
      case SIMPLE_ATTR:
        {
          xmlChar *to_free = NULL;
          const char *v = tsq_css_node_get_attribute (node,
                                                      s->type == SIMPLE_ID      ? "id"
                                                      : s->type == SIMPLE_CLASS ? "class"
                                                                                : s->name,
                                                      &to_free);
          gboolean ok;

          if (v == NULL)
            return FALSE;
          if (s->type == SIMPLE_ID)
            ok = strcmp (v, s->name) == 0;
          else if (s->type == SIMPLE_CLASS)
            ok = has_token (v, s->name, FALSE);
          else
            ok = attr_value_matches (s, v);
          if (to_free != NULL)
            xmlFree (to_free);
          return ok;
        }
      case SIMPLE_NOT:
        return !compound_matches (s->inner, node);
      case SIMPLE_FIRST_CHILD:
        return prev_element (node) == NULL;
      case SIMPLE_LAST_CHILD:
        return next_element (node) == NULL;
      case SIMPLE_ONLY_CHILD:
        return prev_element (node) == NULL && next_element (node) == NULL;
      case SIMPLE_ROOT:
        return node->parent != NULL && !is_element (node->parent);
      case SIMPLE_EMPTY:
        {
          xmlNode *child;

          for (child = node->children; child != NULL; child = child->next)
            if (is_element (child)
                || ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
                    && child->content != NULL && *child->content != '\0'))
              return FALSE;
          return TRUE;
        }
      default:
        return FALSE;
    }
}

static gboolean
compound_matches (const Compound *c, xmlNode *node)
{
  guint i;

  for (i = 0; i < c->simples->len; i++)
    if (!simple_matches (g_ptr_array_index (c->simples, i), node))
      return FALSE;
  return TRUE;
}

static gboolean
complex_matches_at (const Complex *cx, guint idx, xmlNode *node)
{
  const Compound *c = g_ptr_array_index (cx->compounds, idx);
  xmlNode *n;

  if (!compound_matches (c, node))
    return FALSE;
  if (idx == 0)
    return TRUE;
  switch (c->combinator)
    {
      case '>':
        return is_element (node->parent) && complex_matches_at (cx, idx - 1, node->parent);
      case '+':
        n = prev_element (node);
        return n != NULL && complex_matches_at (cx, idx - 1, n);
      case '~':
        for (n = prev_element (node); n != NULL; n = prev_element (n))
          if (complex_matches_at (cx, idx - 1, n))
            return TRUE;
        return FALSE;
      default:
        for (n = node->parent; is_element (n); n = n->parent)
          if (complex_matches_at (cx, idx - 1, n))
            return TRUE;
        return FALSE;
    }
}

gboolean
tsq_css_selector_matches (const TsqCssSelector *sel, xmlNode *node)
{
  guint i;

  g_return_val_if_fail (sel != NULL, FALSE);
  if (!is_element (node))
    return FALSE;
  for (i = 0; i < sel->alternatives->len; i++)
    {
      const Complex *cx = g_ptr_array_index (sel->alternatives, i);

      if (complex_matches_at (cx, cx->compounds->len - 1, node))
        return TRUE;
    }
  return FALSE;
}

GPtrArray *
tsq_css_selector_select_all (const TsqCssSelector *sel, xmlNode *root)
{
  GPtrArray *out = g_ptr_array_new ();
  xmlNode *n;

  g_return_val_if_fail (sel != NULL, out);
  if (root == NULL)
    return out;
  /* iterative pre-order walk of root's descendants */
  n = root->children;
  while (n != NULL && n != root)
    {
      if (is_element (n) && tsq_css_selector_matches (sel, n))
        g_ptr_array_add (out, n);
      if (is_element (n) && n->children != NULL)
        {
          n = n->children;
          continue;
        }
      while (n != NULL && n != root && n->next == NULL)
        n = n->parent;
      if (n == NULL || n == root)
        break;
      n = n->next;
    }
  return out;
}

guint
tsq_css_selector_get_n_alternatives (const TsqCssSelector *sel)
{
  return sel->alternatives->len;
}

TsqCssKeyKind
tsq_css_selector_get_key (const TsqCssSelector *sel,
                          guint alternative,
                          const char **value,
                          const char **attr)
{
  const Complex *cx = g_ptr_array_index (sel->alternatives, alternative);
  const Compound *c = g_ptr_array_index (cx->compounds, cx->compounds->len - 1);
  TsqCssKeyKind best = TSQ_CSS_KEY_ANY;
  guint i;

  *value = NULL;
  *attr = NULL;
  /* most selective first: id, class, attribute value, attribute, tag */
  for (i = 0; i < c->simples->len; i++)
    {
      const Simple *s = g_ptr_array_index (c->simples, i);
      TsqCssKeyKind k;

      switch (s->type)
        {
          case SIMPLE_ID:
            k = TSQ_CSS_KEY_ID;
            break;
          case SIMPLE_CLASS:
            k = TSQ_CSS_KEY_CLASS;
            break;
          case SIMPLE_ATTR:
            /* every operator but "exists" needs the value as a substring (=, ~=, |= too) */
            k = (s->op != ATTR_EXISTS && s->value[0] != '\0') ? TSQ_CSS_KEY_ATTR_VALUE
                                                              : TSQ_CSS_KEY_ATTR;
            break;
          case SIMPLE_TAG:
            k = TSQ_CSS_KEY_TAG;
            break;
          default:
            continue;
        }
      if (best == TSQ_CSS_KEY_ANY || k < best)
        {
          best = k;
          *value = k == TSQ_CSS_KEY_ATTR_VALUE ? s->value : s->name;
          *attr = k == TSQ_CSS_KEY_ATTR_VALUE ? s->name : NULL;
        }
    }
  return best;
}
