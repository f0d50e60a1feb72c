/* tsq-template.c: the logic-less notification template language (docs/templates.md).
 *
 * A template is parsed once into a tree of text, variable and section nodes; rendering walks the
 * tree with a small stack of scopes into a GString. Nothing is allocated per node at render time
 * except the text of non-string values, so rendering a notification costs microseconds.
 */
#define G_LOG_DOMAIN "tsq-template"

#include "tsq-template.h"

#include "tsq-config.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (tsq-template-error-quark, tsq_template_error)
/* clang-format on */

typedef enum
{
  NODE_TEXT,
  NODE_VAR,
  NODE_RAW,
  NODE_SECTION,
  NODE_INVERTED,
} NodeKind;

typedef enum
{
  SPECIAL_NONE,
  SPECIAL_INDEX,
  SPECIAL_NUMBER,
  SPECIAL_FIRST,
  SPECIAL_LAST,
} Special;

typedef struct
{
  NodeKind kind;
  char *text;          /* NODE_TEXT: the literal; other kinds: the name as written ("a.b") */
  gsize len;           /* NODE_TEXT: length of text */
  gsize alloc;         /* NODE_TEXT: allocated size of text while parsing */
  char **path;         /* segments of the name; NULL for "." */
  Special special;     /* @index, @number, @first, @last */
  GPtrArray *children; /* sections: the nodes inside */
} Node;

struct _TsqTemplate
{
  char *name;
  TsqTemplateEscape escape;
  GPtrArray *nodes;
};

static void
node_free (gpointer data)
{
  Node *node = data;

  g_free (node->text);
  g_strfreev (node->path);
  if (node->children != NULL)
    g_ptr_array_unref (node->children);
  g_free (node);
}

static const char *const escape_names[] = {
  [TSQ_TEMPLATE_ESCAPE_TEXT] = "text",
  [TSQ_TEMPLATE_ESCAPE_HTML] = "html",
  [TSQ_TEMPLATE_ESCAPE_JSON] = "json",
  [TSQ_TEMPLATE_ESCAPE_SLACK] = "slack",
  [TSQ_TEMPLATE_ESCAPE_SLACK_JSON] = "slack-json",
  [TSQ_TEMPLATE_ESCAPE_LINE] = "line",
};

const char *
tsq_template_escape_to_string (TsqTemplateEscape escape)
{
  if ((guint)escape >= G_N_ELEMENTS (escape_names))
    return "unknown";
  return escape_names[escape];
}

gboolean
tsq_template_escape_from_string (const char *str, TsqTemplateEscape *escape)
{
  if (str == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (escape_names); i++)
    if (g_strcmp0 (str, escape_names[i]) == 0)
      {
        if (escape != NULL)
          *escape = (TsqTemplateEscape)i;
        return TRUE;
      }
  return FALSE;
}

/* ---------------------------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------------------------- */

typedef struct
{
  const char *text;
  const char *name;
  GError **error;
} Parser;

/* Line and column (from 1, columns in characters) of byte offset POS. The text before POS is
 * valid UTF-8 (validated first), so stepping by characters is safe. */
static void
position_of (const char *text, const char *pos, guint *line, guint *column)
{
  guint l = 1, c = 1;

  for (const char *p = text; p < pos; p = g_utf8_next_char (p))
    {
      if (*p == '\n')
        {
          l++;
          c = 1;
        }
      else
        c++;
    }
  *line = l;
  *column = c;
}

static gboolean parse_fail (Parser *parser, const char *pos, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
parse_fail (Parser *parser, const char *pos, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;
  guint line, column;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  position_of (parser->text, pos, &line, &column);
  g_set_error (parser->error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_SYNTAX, "%s:%u:%u: %s",
               parser->name, line, column, what);
  return FALSE;
}

static gboolean
is_name_char (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '-';
}

/* Fills NODE's text/path/special from the tag content [start, end) with surrounding blanks. */
static gboolean
parse_name (Parser *parser, Node *node, const char *tag, const char *start, const char *end)
{
  static const struct
  {
    const char *name;
    Special special;
  } specials[] = {
    { "@index", SPECIAL_INDEX },
    { "@number", SPECIAL_NUMBER },
    { "@first", SPECIAL_FIRST },
    { "@last", SPECIAL_LAST },
  };

  while (start < end && (*start == ' ' || *start == '\t'))
    start++;
  while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  if (start == end)
    return parse_fail (parser, tag, "empty tag");
  node->text = g_strndup (start, end - start);
  if (strcmp (node->text, ".") == 0)
    return TRUE;
  if (node->text[0] == '@')
    {
      for (guint i = 0; i < G_N_ELEMENTS (specials); i++)
        if (strcmp (node->text, specials[i].name) == 0)
          {
            node->special = specials[i].special;
            return TRUE;
          }
      return parse_fail (parser, tag,
                         "unknown name '%s' (only @index, @number, @first and @last exist)",
                         node->text);
    }
  for (const char *p = node->text; *p; p++)
    if (!is_name_char (*p) && *p != '.')
      return parse_fail (parser, tag,
                         "invalid name '%s': names are letters, digits, '_' and '-' joined by '.'",
                         node->text);
  node->path = g_strsplit (node->text, ".", -1);
  for (guint i = 0; node->path[i] != NULL; i++)
    if (node->path[i][0] == '\0')
      return parse_fail (parser, tag, "invalid name '%s': empty part in a dotted name", node->text);
  return TRUE;
}

/* The first "cc" in S. Not strstr: sanitizers' strstr reads the whole haystack each call, which
 * makes a template with many tags quadratic under ASan. */
static const char *
find_double (const char *s, char c)
{
  for (s = strchr (s, c); s != NULL; s = strchr (s + 1, c))
    if (s[1] == c)
      return s;
  return NULL;
}

static void
append_text (GPtrArray *nodes, const char *start, const char *end)
{
  Node *node;

  if (end <= start)
    return;
  /* Merge with a preceding text node (a removed comment or standalone line splits text). */
  if (nodes->len > 0)
    {
      Node *last = g_ptr_array_index (nodes, nodes->len - 1);

      if (last->kind == NODE_TEXT)
        {
          /* Grow geometrically: a file of a million comments must not copy quadratically. */
          if (last->len + (end - start) + 1 > last->alloc)
            {
              last->alloc = MAX (last->alloc * 2, last->len + (end - start) + 1);
              last->text = g_realloc (last->text, last->alloc);
            }
          memcpy (last->text + last->len, start, end - start);
          last->len += end - start;
          last->text[last->len] = '\0';
          return;
        }
    }
  node = g_new0 (Node, 1);
  node->kind = NODE_TEXT;
  node->text = g_strndup (start, end - start);
  node->len = end - start;
  node->alloc = node->len + 1;
  g_ptr_array_add (nodes, node);
}

typedef struct
{
  Node *node;
  const char *tag; /* where its open tag starts, for errors */
} OpenSection;

static GPtrArray *
parse_nodes (Parser *parser)
{
  const char *text = parser->text;
  const char *p = text;
  g_autoptr (GPtrArray) root = g_ptr_array_new_with_free_func (node_free);
  OpenSection stack[TSQ_TEMPLATE_MAX_DEPTH];
  guint depth = 0;

  for (;;)
    {
      GPtrArray *nodes = depth > 0 ? stack[depth - 1].node->children : root;
      const char *tag = find_double (p, '{');
      const char *content, *content_end, *tag_end;
      const char *text_end;
      char sigil;
      gboolean triple = FALSE;

      if (tag == NULL)
        {
          append_text (nodes, p, p + strlen (p));
          break;
        }
      content = tag + 2;
      sigil = *content;
      if (sigil == '{')
        {
          triple = TRUE;
          content++;
        }
      else if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '&' || sigil == '!')
        content++;
      else if (sigil == '>' || sigil == '=')
        {
          parse_fail (parser, tag, "{{%c ...}} (%s) is not supported", sigil,
                      sigil == '>' ? "partials" : "delimiter changes");
          return NULL;
        }
      else
        sigil = '\0';

      if (sigil == '!')
        {
          /* Comments may span lines. */
          content_end = find_double (content, '}');
          if (content_end == NULL)
            {
              parse_fail (parser, tag, "unclosed comment: '{{!' without '}}'");
              return NULL;
            }
        }
      else
        {
          /* Other tags end on their line: a forgotten '}}' is reported where the tag starts
           * instead of swallowing text up to some later '}}'. */
          content_end = content;
          while (*content_end != '\0' && *content_end != '\n'
                 && !(content_end[0] == '}' && content_end[1] == '}'))
            content_end++;
          if (*content_end != '}')
            {
              parse_fail (parser, tag, "unclosed tag: '%s' without '%s'", triple ? "{{{" : "{{",
                          triple ? "}}}" : "}}");
              return NULL;
            }
        }
      tag_end = content_end + 2;
      if (triple)
        {
          if (*tag_end != '}')
            {
              parse_fail (parser, tag, "unclosed tag: '{{{' without '}}}'");
              return NULL;
            }
          tag_end++;
        }

      text_end = tag;
      /* Standalone lines: a section, inverted, close or comment tag alone on its line (blanks
       * around it) removes the whole line, so that text templates can put tags on lines of their
       * own without leaving blank lines in the output (as Mustache does). */
      if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!')
        {
          const char *ls = tag, *le = tag_end;

          while (ls > p && (ls[-1] == ' ' || ls[-1] == '\t'))
            ls--;
          while (*le == ' ' || *le == '\t')
            le++;
          if ((ls == text || ls[-1] == '\n')
              && (*le == '\0' || *le == '\n' || (le[0] == '\r' && le[1] == '\n')))
            {
              text_end = ls;
              if (*le == '\r')
                le++;
              if (*le == '\n')
                le++;
              tag_end = le;
            }
        }
      append_text (nodes, p, text_end);
      p = tag_end;

      if (sigil == '!')
        continue;

      if (sigil == '/')
        {
          g_autofree char *closing = NULL;
          const char *s = content, *e = content_end;

          while (s < e && (*s == ' ' || *s == '\t'))
            s++;
          while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
          if (s == e)
            {
              parse_fail (parser, tag, "empty tag");
              return NULL;
            }
          closing = g_strndup (s, e - s);
          if (depth == 0)
            {
              parse_fail (parser, tag, "'{{/%s}}' closes a section that is not open", closing);
              return NULL;
            }
          if (strcmp (closing, stack[depth - 1].node->text) != 0)
            {
              guint line, column;

              position_of (text, stack[depth - 1].tag, &line, &column);
              parse_fail (parser, tag,
                          "'{{/%s}}' does not match the open section '%s' (opened at %u:%u)",
                          closing, stack[depth - 1].node->text, line, column);
              return NULL;
            }
          depth--;
          continue;
        }

      {
        Node *node = g_new0 (Node, 1);

        g_ptr_array_add (nodes, node);
        if (sigil == '#' || sigil == '^')
          {
            node->kind = sigil == '#' ? NODE_SECTION : NODE_INVERTED;
            node->children = g_ptr_array_new_with_free_func (node_free);
          }
        else
          node->kind = triple || sigil == '&' ? NODE_RAW : NODE_VAR;
        if (!parse_name (parser, node, tag, content, content_end))
          return NULL;
        if (node->children != NULL)
          {
            if (depth == TSQ_TEMPLATE_MAX_DEPTH)
              {
                parse_fail (parser, tag, "sections nested deeper than %d levels",
                            TSQ_TEMPLATE_MAX_DEPTH);
                return NULL;
              }
            stack[depth].node = node;
            stack[depth].tag = tag;
            depth++;
          }
      }
    }

  if (depth > 0)
    {
      parse_fail (parser, stack[depth - 1].tag, "unclosed section '%s': no '{{/%s}}'",
                  stack[depth - 1].node->text, stack[depth - 1].node->text);
      return NULL;
    }
  return g_steal_pointer (&root);
}

TsqTemplate *
tsq_template_parse (const char *text, TsqTemplateEscape escape, const char *name, GError **error)
{
  Parser parser = { text, name != NULL ? name : "<template>", error };
  const char *invalid = NULL;
  GPtrArray *nodes;
  TsqTemplate *self;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((guint)escape >= G_N_ELEMENTS (escape_names))
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                   "%s: unknown escaping mode %d", parser.name, (int)escape);
      return NULL;
    }
  if (!g_utf8_validate (text, -1, &invalid))
    {
      parse_fail (&parser, invalid, "invalid UTF-8");
      return NULL;
    }
  nodes = parse_nodes (&parser);
  if (nodes == NULL)
    return NULL;
  self = g_new0 (TsqTemplate, 1);
  self->name = g_strdup (parser.name);
  self->escape = escape;
  self->nodes = nodes;
  return self;
}

void
tsq_template_free (TsqTemplate *self)
{
  if (self == NULL)
    return;
  g_free (self->name);
  g_ptr_array_unref (self->nodes);
  g_free (self);
}

const char *
tsq_template_get_name (const TsqTemplate *self)
{
  return self->name;
}

TsqTemplateEscape
tsq_template_get_escape (const TsqTemplate *self)
{
  return self->escape;
}

/* ---------------------------------------------------------------------------------------------
 * Rendering
 * ------------------------------------------------------------------------------------------- */

typedef struct
{
  JsonNode *node;
  gboolean iterating; /* an element of an array section: @index etc. refer to it */
  guint index;
  guint length;
} Scope;

typedef struct
{
  GString *out;
  TsqTemplateEscape escape;
  /* The root context plus one scope per nested section: the parser bounds the nesting. */
  Scope scopes[TSQ_TEMPLATE_MAX_DEPTH + 1];
  guint n_scopes;
} Renderer;

static JsonNode *
lookup (Renderer *r, const Node *node, JsonNode **owned)
{
  JsonNode *value = NULL;

  *owned = NULL;
  if (node->special != SPECIAL_NONE)
    {
      for (guint i = r->n_scopes; i > 0; i--)
        {
          const Scope *scope = &r->scopes[i - 1];

          if (!scope->iterating)
            continue;
          value = json_node_new (JSON_NODE_VALUE);
          switch (node->special)
            {
              case SPECIAL_INDEX:
                json_node_set_int (value, scope->index);
                break;
              case SPECIAL_NUMBER:
                json_node_set_int (value, scope->index + 1);
                break;
              case SPECIAL_FIRST:
                json_node_set_boolean (value, scope->index == 0);
                break;
              case SPECIAL_LAST:
              default:
                json_node_set_boolean (value, scope->index + 1 == scope->length);
                break;
            }
          *owned = value;
          return value;
        }
      return NULL;
    }
  if (node->path == NULL)
    return r->scopes[r->n_scopes - 1].node;

  /* The first part is looked up from the innermost scope outwards; the rest strictly inside. */
  for (guint i = r->n_scopes; i > 0; i--)
    {
      JsonNode *scope = r->scopes[i - 1].node;

      if (scope != NULL && JSON_NODE_HOLDS_OBJECT (scope)
          && json_object_has_member (json_node_get_object (scope), node->path[0]))
        {
          value = json_object_get_member (json_node_get_object (scope), node->path[0]);
          break;
        }
    }
  for (guint i = 1; value != NULL && node->path[i] != NULL; i++)
    {
      if (!JSON_NODE_HOLDS_OBJECT (value))
        return NULL;
      value = json_object_get_member (json_node_get_object (value), node->path[i]);
    }
  return value;
}

static gboolean
is_truthy (JsonNode *value)
{
  if (value == NULL)
    return FALSE;
  switch (json_node_get_node_type (value))
    {
      case JSON_NODE_NULL:
        return FALSE;
      case JSON_NODE_ARRAY:
        return json_array_get_length (json_node_get_array (value)) > 0;
      case JSON_NODE_OBJECT:
        return TRUE;
      case JSON_NODE_VALUE:
      default:
        break;
    }
  switch (json_node_get_value_type (value))
    {
      case G_TYPE_BOOLEAN:
        return json_node_get_boolean (value);
      case G_TYPE_INT64:
        return json_node_get_int (value) != 0;
      case G_TYPE_DOUBLE:
        return json_node_get_double (value) != 0.0;
      case G_TYPE_STRING:
        {
          const char *s = json_node_get_string (value);
          return s != NULL && *s != '\0';
        }
      default:
        return TRUE;
    }
}

/* The text of a value before escaping; *owned is set when it had to be allocated. */
static const char *
value_text (JsonNode *value, char **owned)
{
  *owned = NULL;
  if (value == NULL)
    return "";
  switch (json_node_get_node_type (value))
    {
      case JSON_NODE_NULL:
        return "";
      case JSON_NODE_ARRAY:
      case JSON_NODE_OBJECT:
        {
          g_autoptr (JsonGenerator) gen = json_generator_new ();

          json_generator_set_root (gen, value);
          *owned = json_generator_to_data (gen, NULL);
          return *owned;
        }
      case JSON_NODE_VALUE:
      default:
        break;
    }
  switch (json_node_get_value_type (value))
    {
      case G_TYPE_STRING:
        {
          const char *s = json_node_get_string (value);
          return s != NULL ? s : "";
        }
      case G_TYPE_BOOLEAN:
        return json_node_get_boolean (value) ? "true" : "false";
      case G_TYPE_INT64:
        *owned = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (value));
        return *owned;
      case G_TYPE_DOUBLE:
        {
          double d = json_node_get_double (value);
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          /* The shortest of %.15g and %.17g that reads back the same: 0.1, not 0.1000000000000001.
           */
          g_ascii_formatd (buf, sizeof buf, "%.15g", d);
          if (g_ascii_strtod (buf, NULL) != d)
            g_ascii_formatd (buf, sizeof buf, "%.17g", d);
          *owned = g_strdup (buf);
          return *owned;
        }
      default:
        return "";
    }
}

static void
append_escaped (GString *out, const char *s, TsqTemplateEscape escape)
{
  gboolean json = escape == TSQ_TEMPLATE_ESCAPE_JSON || escape == TSQ_TEMPLATE_ESCAPE_SLACK_JSON;
  gboolean slack = escape == TSQ_TEMPLATE_ESCAPE_SLACK || escape == TSQ_TEMPLATE_ESCAPE_SLACK_JSON;
  const char *run = s;

  if (escape == TSQ_TEMPLATE_ESCAPE_TEXT)
    {
      g_string_append (out, s);
      return;
    }
  for (const char *p = s; *p; p++)
    {
      guchar c = (guchar)*p;
      const char *rep = NULL;
      char buf[8];

      switch (escape)
        {
          case TSQ_TEMPLATE_ESCAPE_HTML:
            if (c == '&')
              rep = "&amp;";
            else if (c == '<')
              rep = "&lt;";
            else if (c == '>')
              rep = "&gt;";
            else if (c == '"')
              rep = "&quot;";
            else if (c == '\'')
              rep = "&#39;";
            break;
          case TSQ_TEMPLATE_ESCAPE_LINE:
            /* A value must not start a new header line in an email subject. */
            if (c < 0x20 || c == 0x7f)
              rep = " ";
            else if (c == 0xe2 && (guchar)p[1] == 0x80
                     && ((guchar)p[2] == 0xa8 || (guchar)p[2] == 0xa9))
              {
                g_string_append_len (out, run, p - run);
                g_string_append_c (out, ' ');
                p += 2;
                run = p + 1;
                continue;
              }
            break;
          default:
            if (slack && c == '&')
              rep = "&amp;";
            else if (slack && c == '<')
              rep = "&lt;";
            else if (slack && c == '>')
              rep = "&gt;";
            else if (json && (c == '"' || c == '\\'))
              {
                buf[0] = '\\';
                buf[1] = (char)c;
                buf[2] = '\0';
                rep = buf;
              }
            else if (json && c < 0x20)
              {
                g_snprintf (buf, sizeof buf, "\\u%04x", c);
                rep = buf;
              }
            else if (json && c == 0xe2 && (guchar)p[1] == 0x80
                     && ((guchar)p[2] == 0xa8 || (guchar)p[2] == 0xa9))
              {
                /* U+2028/U+2029 are valid in JSON but end a line in JavaScript. */
                g_string_append_len (out, run, p - run);
                g_string_append (out, (guchar)p[2] == 0xa8 ? "\\u2028" : "\\u2029");
                p += 2;
                run = p + 1;
                continue;
              }
            break;
        }
      if (rep != NULL)
        {
          g_string_append_len (out, run, p - run);
          g_string_append (out, rep);
          run = p + 1;
        }
    }
  g_string_append (out, run);
}

static void
render_value (Renderer *r, JsonNode *value, gboolean raw)
{
  g_autofree char *owned = NULL;
  g_autofree char *valid = NULL;
  const char *s = value_text (value, &owned);

  if (*s == '\0')
    return;
  if (!g_utf8_validate (s, -1, NULL))
    s = valid = g_utf8_make_valid (s, -1);
  append_escaped (r->out, s, raw ? TSQ_TEMPLATE_ESCAPE_TEXT : r->escape);
}

static void render_nodes (Renderer *r, GPtrArray *nodes);

static void
render_section (Renderer *r, const Node *node, JsonNode *value)
{
  Scope *scope;

  /* The parser bounds nesting; this guards the scope array regardless. */
  if (r->n_scopes >= G_N_ELEMENTS (r->scopes))
    return;
  scope = &r->scopes[r->n_scopes];
  if (JSON_NODE_HOLDS_ARRAY (value))
    {
      JsonArray *array = json_node_get_array (value);
      guint length = json_array_get_length (array);

      for (guint i = 0; i < length; i++)
        {
          scope->node = json_array_get_element (array, i);
          scope->iterating = TRUE;
          scope->index = i;
          scope->length = length;
          r->n_scopes++;
          render_nodes (r, node->children);
          r->n_scopes--;
        }
      return;
    }
  scope->node = value;
  scope->iterating = FALSE;
  scope->index = scope->length = 0;
  r->n_scopes++;
  render_nodes (r, node->children);
  r->n_scopes--;
}

static void
render_nodes (Renderer *r, GPtrArray *nodes)
{
  for (guint i = 0; i < nodes->len; i++)
    {
      const Node *node = g_ptr_array_index (nodes, i);
      g_autoptr (JsonNode) owned = NULL;
      JsonNode *value;

      if (node->kind == NODE_TEXT)
        {
          g_string_append_len (r->out, node->text, node->len);
          continue;
        }
      value = lookup (r, node, &owned);
      switch (node->kind)
        {
          case NODE_VAR:
          case NODE_RAW:
            render_value (r, value, node->kind == NODE_RAW);
            break;
          case NODE_SECTION:
            if (is_truthy (value))
              render_section (r, node, value);
            break;
          case NODE_INVERTED:
            if (!is_truthy (value))
              render_nodes (r, node->children);
            break;
          case NODE_TEXT:
          default:
            break;
        }
    }
}

/* json-glib's reference counts are not atomic, and rendering takes references on the context
 * (the root node, generator copies of nested values): renders that share a context must not
 * overlap. One lock keeps that simple; a render takes microseconds. */
static GMutex render_lock;

char *
tsq_template_render (const TsqTemplate *self, JsonObject *context)
{
  Renderer r = { 0 };
  JsonNode *root = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  g_mutex_lock (&render_lock);
  if (context != NULL)
    {
      root = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (root, context);
    }
  r.out = g_string_new (NULL);
  r.escape = self->escape;
  r.scopes[0].node = root;
  r.n_scopes = 1;
  render_nodes (&r, self->nodes);
  g_clear_pointer (&root, json_node_unref);
  g_mutex_unlock (&render_lock);
  return g_string_free (r.out, FALSE);
}

/* ---------------------------------------------------------------------------------------------
 * Template sets: DIR/<channel>/<alert-type>.<suffix>
 * ------------------------------------------------------------------------------------------- */

/* Larger files are certainly not notification templates. */
#define MAX_TEMPLATE_FILE_SIZE (1024 * 1024)

struct _TsqTemplateSet
{
  /* "channel/alert-type/part" -> TsqTemplate */
  GHashTable *templates;
};

/* Longest suffixes first: ".subject.txt" before ".txt", ".slack.json" before ".json". */
static const struct
{
  const char *suffix;
  const char *part;
  TsqTemplateEscape escape;
} suffixes[] = {
  { ".subject.txt", "subject", TSQ_TEMPLATE_ESCAPE_LINE },
  { ".slack.json", "body", TSQ_TEMPLATE_ESCAPE_SLACK_JSON },
  { ".txt", "body", TSQ_TEMPLATE_ESCAPE_TEXT },
  { ".html", "html", TSQ_TEMPLATE_ESCAPE_HTML },
  { ".json", "body", TSQ_TEMPLATE_ESCAPE_JSON },
  { ".slack", "body", TSQ_TEMPLATE_ESCAPE_SLACK },
};

static gboolean
is_identifier (const char *s, gssize len)
{
  if (len < 0)
    len = strlen (s);
  if (len == 0)
    return FALSE;
  for (gssize i = 0; i < len; i++)
    if (!is_name_char (s[i]))
      return FALSE;
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static gboolean
is_ignored_file (const char *name)
{
  return name[0] == '.' || g_str_has_suffix (name, "~") || g_str_has_suffix (name, ".md");
}

static TsqTemplate *
load_template_file (const char *path, TsqTemplateEscape escape, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_IO, "%s", local_error->message);
      return NULL;
    }
  if (length > MAX_TEMPLATE_FILE_SIZE)
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                   "%s: larger than %d bytes", path, MAX_TEMPLATE_FILE_SIZE);
      return NULL;
    }
  if (strlen (contents) != length)
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID, "%s: contains a NUL byte",
                   path);
      return NULL;
    }
  /* Editors end files with a newline; it must not end up in a subject or an SMS. */
  if (length > 0 && contents[length - 1] == '\n')
    {
      contents[--length] = '\0';
      if (length > 0 && contents[length - 1] == '\r')
        contents[--length] = '\0';
    }
  return tsq_template_parse (contents, escape, path, error);
}

static gboolean
load_channel (TsqTemplateSet *self, const char *dir, const char *channel, GError **error)
{
  g_autofree char *channel_dir = g_build_filename (dir, channel, NULL);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) gdir = g_dir_open (channel_dir, 0, &local_error);
  /* Keys loaded from this directory: two files for one key in one directory is an error, a file
   * overriding one from an earlier directory is not. */
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *file;

  if (gdir == NULL)
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  while ((file = g_dir_read_name (gdir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *key = NULL;
      TsqTemplate *template;
      gsize file_len = strlen (file);
      const char *other;
      guint s;

      if (is_ignored_file (file))
        continue;
      path = g_build_filename (channel_dir, file, NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                       "%s: not a regular file (templates are %s/<alert-type>.<suffix>)", path,
                       channel);
          return FALSE;
        }
      for (s = 0; s < G_N_ELEMENTS (suffixes); s++)
        if (g_str_has_suffix (file, suffixes[s].suffix)
            && is_identifier (file, file_len - strlen (suffixes[s].suffix)))
          break;
      if (s == G_N_ELEMENTS (suffixes))
        {
          g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                       "%s: not <alert-type>.<suffix> with a suffix among .subject.txt, .txt, "
                       ".html, .json, .slack.json, .slack",
                       path);
          return FALSE;
        }
      key = g_strdup_printf ("%s/%.*s/%s", channel, (int)(file_len - strlen (suffixes[s].suffix)),
                             file, suffixes[s].part);
      other = g_hash_table_lookup (seen, key);
      if (other != NULL)
        {
          g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                       "%s: %s/%s is the same template (%s); keep one", path, channel, other, key);
          return FALSE;
        }
      template = load_template_file (path, suffixes[s].escape, error);
      if (template == NULL)
        return FALSE;
      g_hash_table_insert (seen, g_strdup (key), g_strdup (file));
      g_hash_table_replace (self->templates, g_steal_pointer (&key), template);
    }
  return TRUE;
}

static gboolean
load_dir (TsqTemplateSet *self, const char *dir, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) gdir = g_dir_open (dir, 0, &local_error);
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (gdir == NULL)
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (gdir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      /* Top-level files (a README) are not templates. */
      if (is_ignored_file (name) || !g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      if (!is_identifier (name, -1))
        {
          g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                       "%s: channel directory names are letters, digits, '_' and '-'", path);
          return FALSE;
        }
      g_ptr_array_add (channels, g_strdup (name));
    }
  /* A fixed order makes the first error reported the same on every file system. */
  g_ptr_array_sort (channels, compare_strings);
  for (guint i = 0; i < channels->len; i++)
    if (!load_channel (self, dir, g_ptr_array_index (channels, i), error))
      return FALSE;
  return TRUE;
}

/* Every part a channel has needs a default, so that any alert type can be rendered. */
static gboolean
check_defaults (TsqTemplateSet *self, GError **error)
{
  g_autofree gpointer *keys = NULL;
  guint n = 0;

  keys = g_hash_table_get_keys_as_array (self->templates, &n);
  qsort (keys, n, sizeof (gpointer), compare_strings);
  for (guint i = 0; i < n; i++)
    {
      g_auto (GStrv) parts = g_strsplit (keys[i], "/", 3);
      g_autofree char *fallback = g_strdup_printf ("%s/default/%s", parts[0], parts[2]);

      if (!g_hash_table_contains (self->templates, fallback))
        {
          g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                       "channel '%s' has a '%s' template for '%s' but no default for it "
                       "(%s/default.<suffix>)",
                       parts[0], parts[2], parts[1], parts[0]);
          return FALSE;
        }
    }
  return TRUE;
}

TsqTemplateSet *
tsq_template_set_load_dirs (const char *const *dirs, GError **error)
{
  g_autoptr (TsqTemplateSet) self = g_new0 (TsqTemplateSet, 1);

  g_return_val_if_fail (dirs != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self->templates
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)tsq_template_free);
  for (guint i = 0; dirs[i] != NULL; i++)
    if (!load_dir (self, dirs[i], error))
      return NULL;
  if (g_hash_table_size (self->templates) == 0)
    {
      g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID,
                   "%s: no templates (expected <channel>/<alert-type>.<suffix>)",
                   dirs[0] != NULL ? dirs[0] : "(no directory)");
      return NULL;
    }
  if (!check_defaults (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

TsqTemplateSet *
tsq_template_set_load (const char *dir, GError **error)
{
  const char *dirs[] = { dir, NULL };

  g_return_val_if_fail (dir != NULL, NULL);
  return tsq_template_set_load_dirs (dirs, error);
}

TsqTemplateSet *
tsq_template_set_load_default (GError **error)
{
  const char *env = g_getenv ("TSQ_DATA_DIR");
  const char *dirs[] = { env, TSQ_SOURCE_DATADIR, TSQ_PKGDATADIR };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = NULL;

      if (dirs[i] == NULL || *dirs[i] == '\0')
        continue;
      path = g_build_filename (dirs[i], "templates", NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        return tsq_template_set_load (path, error);
    }
  g_set_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_IO,
               "templates/ not found in $TSQ_DATA_DIR, %s or %s", TSQ_SOURCE_DATADIR,
               TSQ_PKGDATADIR);
  return NULL;
}

const TsqTemplate *
tsq_template_set_lookup (const TsqTemplateSet *self,
                         const char *channel,
                         const char *alert_type,
                         const char *part)
{
  g_autofree char *key = NULL;
  const TsqTemplate *template;

  g_return_val_if_fail (self != NULL, NULL);
  if (channel == NULL || part == NULL)
    return NULL;
  if (alert_type != NULL)
    {
      key = g_strdup_printf ("%s/%s/%s", channel, alert_type, part);
      template = g_hash_table_lookup (self->templates, key);
      if (template != NULL)
        return template;
      g_clear_pointer (&key, g_free);
    }
  key = g_strdup_printf ("%s/default/%s", channel, part);
  return g_hash_table_lookup (self->templates, key);
}

char *
tsq_template_set_render (const TsqTemplateSet *self,
                         const char *channel,
                         const char *alert_type,
                         const char *part,
                         JsonObject *context)
{
  const TsqTemplate *template = tsq_template_set_lookup (self, channel, alert_type, part);

  return template != NULL ? tsq_template_render (template, context) : NULL;
}

char **
tsq_template_set_get_channels (const TsqTemplateSet *self)
{
  g_autoptr (GPtrArray) channels = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->templates);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const char *slash = strchr (key, '/');
      g_autofree char *channel = g_strndup (key, slash - (const char *)key);
      gboolean found = FALSE;

      for (guint i = 0; i < channels->len && !found; i++)
        found = strcmp (g_ptr_array_index (channels, i), channel) == 0;
      if (!found)
        g_ptr_array_add (channels, g_steal_pointer (&channel));
    }
  g_ptr_array_sort (channels, compare_strings);
  g_ptr_array_add (channels, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&channels), FALSE);
}

guint
tsq_template_set_get_size (const TsqTemplateSet *self)
{
  return g_hash_table_size (self->templates);
}

void
tsq_template_set_free (TsqTemplateSet *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->templates, g_hash_table_unref);
  g_free (self);
}
