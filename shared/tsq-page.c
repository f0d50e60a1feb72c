/* tsq-page.c: decode, parse and index an HTML document once, for every other analysis. */
#define G_LOG_DOMAIN "tsq-page"

#include "tsq-page.h"
#include "tsq-url-util.h"

#include <errno.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <string.h>

G_DEFINE_QUARK (tsq - page - error - quark, tsq_page_error)

#define SNIFF_BYTES 4096
#define META_SCAN_BYTES 8192

/* --- charset ------------------------------------------------------------------------------ */

typedef struct
{
  const char *label;
  const char *canonical;
  const char *iconv_name;
} CharsetAlias;

/* WHATWG Encoding Standard labels for the encodings seen in practice. Labels not listed here
 * are tried with iconv as written. */
static const CharsetAlias charset_aliases[] = {
  { "utf-8", "utf-8", "UTF-8" },
  { "utf8", "utf-8", "UTF-8" },
  { "unicode-1-1-utf-8", "utf-8", "UTF-8" },
  { "utf-16", "utf-16le", "UTF-16LE" },
  { "utf-16le", "utf-16le", "UTF-16LE" },
  { "unicode", "utf-16le", "UTF-16LE" },
  { "utf-16be", "utf-16be", "UTF-16BE" },
  { "windows-1252", "windows-1252", NULL },
  { "cp1252", "windows-1252", NULL },
  { "x-cp1252", "windows-1252", NULL },
  { "iso-8859-1", "windows-1252", NULL },
  { "iso8859-1", "windows-1252", NULL },
  { "iso_8859-1", "windows-1252", NULL },
  { "latin1", "windows-1252", NULL },
  { "l1", "windows-1252", NULL },
  { "us-ascii", "windows-1252", NULL },
  { "ascii", "windows-1252", NULL },
  { "ansi_x3.4-1968", "windows-1252", NULL },
  { "cp819", "windows-1252", NULL },
  { "ibm819", "windows-1252", NULL },
  { "iso-ir-100", "windows-1252", NULL },
  { "shift_jis", "shift_jis", "CP932" },
  { "shift-jis", "shift_jis", "CP932" },
  { "sjis", "shift_jis", "CP932" },
  { "x-sjis", "shift_jis", "CP932" },
  { "ms_kanji", "shift_jis", "CP932" },
  { "ms932", "shift_jis", "CP932" },
  { "windows-31j", "shift_jis", "CP932" },
  { "csshiftjis", "shift_jis", "CP932" },
  { "euc-jp", "euc-jp", "EUC-JP" },
  { "x-euc-jp", "euc-jp", "EUC-JP" },
  { "iso-2022-jp", "iso-2022-jp", "ISO-2022-JP" },
  { "gb2312", "gbk", "GB18030" },
  { "gbk", "gbk", "GB18030" },
  { "x-gbk", "gbk", "GB18030" },
  { "chinese", "gbk", "GB18030" },
  { "gb18030", "gb18030", "GB18030" },
  { "big5", "big5", "BIG5-HKSCS" },
  { "big5-hkscs", "big5", "BIG5-HKSCS" },
  { "euc-kr", "euc-kr", "CP949" },
  { "ks_c_5601-1987", "euc-kr", "CP949" },
  { "windows-949", "euc-kr", "CP949" },
  { "iso-8859-9", "windows-1254", "WINDOWS-1254" },
  { "latin5", "windows-1254", "WINDOWS-1254" },
  { "tis-620", "windows-874", "CP874" },
  { "iso-8859-11", "windows-874", "CP874" },
  { "koi8-r", "koi8-r", "KOI8-R" },
  { "koi8-u", "koi8-u", "KOI8-U" },
};

/* windows-1252 0x80..0x9F; the five undefined bytes map to the C1 control (WHATWG). */
static const gunichar cp1252_high[32] = {
  0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
  0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
  0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Resolves a label to (canonical, iconv name); iconv name NULL means windows-1252 (own table).
 * Returns FALSE for unknown labels that iconv cannot open either. */
static gboolean
charset_lookup (const char *label, char **canonical, char **iconv_name)
{
  g_autofree char *lower = NULL;
  GIConv cd;

  if (label == NULL)
    return FALSE;
  lower = g_ascii_strdown (label, -1);
  g_strstrip (lower);
  if (*lower == '\0' || strlen (lower) > 40)
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (charset_aliases); i++)
    if (g_str_equal (lower, charset_aliases[i].label))
      {
        *canonical = g_strdup (charset_aliases[i].canonical);
        *iconv_name = g_strdup (charset_aliases[i].iconv_name);
        return TRUE;
      }

  for (const char *p = lower; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.' && *p != ':')
      return FALSE;

  cd = g_iconv_open ("UTF-8", lower);
  if (cd == (GIConv)-1)
    return FALSE;
  g_iconv_close (cd);
  *canonical = g_strdup (lower);
  *iconv_name = g_ascii_strup (lower, -1);
  return TRUE;
}

/* The charset parameter of a Content-Type value or of a meta content attribute. */
static char *
charset_from_content_type (const char *value, gsize len)
{
  const char *end = value + len;

  for (const char *p = value; p + 7 <= end; p++)
    {
      const char *q;
      const char *start;

      if (g_ascii_strncasecmp (p, "charset", 7) != 0)
        continue;
      q = p + 7;
      while (q < end && g_ascii_isspace (*q))
        q++;
      if (q >= end || *q != '=')
        continue;
      q++;
      while (q < end && g_ascii_isspace (*q))
        q++;
      if (q < end && (*q == '"' || *q == '\''))
        q++;
      start = q;
      while (q < end && *q != ';' && *q != '"' && *q != '\'' && !g_ascii_isspace (*q))
        q++;
      if (q > start)
        return g_strndup (start, q - start);
    }
  return NULL;
}

/* Minimal attribute tokenizer for the meta prescan: returns the position after the tag. */
static const char *
prescan_meta_tag (const char *p, const char *end, char **charset_out)
{
  g_autofree char *charset = NULL;
  g_autofree char *content = NULL;
  gboolean http_equiv_ct = FALSE;

  while (p < end && *p != '>')
    {
      const char *name;
      gsize name_len;
      const char *val = NULL;
      gsize val_len = 0;

      while (p < end && (g_ascii_isspace (*p) || *p == '/'))
        p++;
      if (p >= end || *p == '>')
        break;
      name = p;
      while (p < end && !g_ascii_isspace (*p) && *p != '=' && *p != '>' && *p != '/')
        p++;
      name_len = p - name;
      while (p < end && g_ascii_isspace (*p))
        p++;
      if (p < end && *p == '=')
        {
          p++;
          while (p < end && g_ascii_isspace (*p))
            p++;
          if (p < end && (*p == '"' || *p == '\''))
            {
              char quote = *p++;
              val = p;
              while (p < end && *p != quote)
                p++;
              val_len = p - val;
              if (p < end)
                p++;
            }
          else
            {
              val = p;
              while (p < end && !g_ascii_isspace (*p) && *p != '>')
                p++;
              val_len = p - val;
            }
        }
      if (name_len == 0)
        {
          p++;
          continue;
        }
      if (val == NULL)
        continue;
      if (name_len == 7 && g_ascii_strncasecmp (name, "charset", 7) == 0 && charset == NULL)
        charset = g_strndup (val, val_len);
      else if (name_len == 10 && g_ascii_strncasecmp (name, "http-equiv", 10) == 0)
        http_equiv_ct = val_len == 12 && g_ascii_strncasecmp (val, "content-type", 12) == 0;
      else if (name_len == 7 && g_ascii_strncasecmp (name, "content", 7) == 0 && content == NULL)
        content = g_strndup (val, val_len);
    }

  if (charset != NULL)
    *charset_out = g_steal_pointer (&charset);
  else if (http_equiv_ct && content != NULL)
    *charset_out = charset_from_content_type (content, strlen (content));
  return p;
}

static char *
prescan_meta_charset (const guint8 *data, gsize len)
{
  const char *p = (const char *)data;
  const char *end = p + MIN (len, META_SCAN_BYTES);

  while (p < end)
    {
      const char *lt = memchr (p, '<', end - p);

      if (lt == NULL)
        break;
      p = lt + 1;
      if (end - p >= 3 && strncmp (p, "!--", 3) == 0)
        {
          const char *q = g_strstr_len (p + 3, end - p - 3, "-->");
          if (q == NULL)
            break;
          p = q + 3;
          continue;
        }
      if (end - p >= 5 && g_ascii_strncasecmp (p, "meta", 4) == 0
          && (g_ascii_isspace (p[4]) || p[4] == '/'))
        {
          char *found = NULL;

          p = prescan_meta_tag (p + 4, end, &found);
          if (found != NULL)
            return found;
        }
    }
  return NULL;
}

/* Valid UTF-8, ignoring NUL bytes (which g_utf8_validate() rejects) and a multi-byte sequence cut
 * by the end of the buffer (a truncated body). */
static gboolean
looks_like_utf8 (const guint8 *data, gsize len)
{
  const char *p = (const char *)data;
  const char *end = p + len;

  while (p < end)
    {
      const char *nul = memchr (p, '\0', end - p);
      const char *chunk_end = nul != NULL ? nul : end;
      const char *bad = NULL;

      if (!g_utf8_validate (p, chunk_end - p, &bad))
        {
          if (nul == NULL && bad + 4 > end && ((guchar)*bad & 0xC0) == 0xC0)
            return TRUE;
          return FALSE;
        }
      p = chunk_end + 1;
    }
  return TRUE;
}

char *
tsq_page_detect_charset (const guint8 *data, gsize len, const char *content_type)
{
  g_autofree char *label = NULL;
  char *canonical = NULL;
  char *iconv_name = NULL;

  if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
    return g_strdup ("utf-8");
  if (len >= 2 && data[0] == 0xFF && data[1] == 0xFE)
    return g_strdup ("utf-16le");
  if (len >= 2 && data[0] == 0xFE && data[1] == 0xFF)
    return g_strdup ("utf-16be");

  if (content_type != NULL)
    {
      label = charset_from_content_type (content_type, strlen (content_type));
      if (charset_lookup (label, &canonical, &iconv_name))
        {
          g_free (iconv_name);
          return canonical;
        }
      g_clear_pointer (&label, g_free);
    }

  label = prescan_meta_charset (data, len);
  if (charset_lookup (label, &canonical, &iconv_name))
    {
      g_free (iconv_name);
      /* A document that says it is UTF-16 in ASCII bytes is not (HTML spec). */
      if (g_str_has_prefix (canonical, "utf-16"))
        {
          g_free (canonical);
          return g_strdup ("utf-8");
        }
      return canonical;
    }

  if (looks_like_utf8 (data, len))
    return g_strdup ("utf-8");
  return g_strdup ("windows-1252");
}

static GString *
decode_windows_1252 (const guint8 *data, gsize len)
{
  GString *out = g_string_sized_new (len + len / 8 + 1);

  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      if (c < 0x80)
        g_string_append_c (out, (char)c);
      else if (c < 0xA0)
        g_string_append_unichar (out, cp1252_high[c - 0x80]);
      else
        g_string_append_unichar (out, c);
    }
  return out;
}

/* iconv with U+FFFD for every undecodable byte (g_convert() gives up on the first one). */
static GString *
decode_iconv (const guint8 *data, gsize len, const char *from)
{
  GIConv cd = g_iconv_open ("UTF-8", from);
  GString *out;
  char *inbuf = (char *)data;
  gsize inleft = len;
  char chunk[8192];

  if (cd == (GIConv)-1)
    return NULL;
  out = g_string_sized_new (len * 2 + 1);

  while (TRUE)
    {
      char *outbuf = chunk;
      gsize outleft = sizeof chunk;
      gsize res
        = g_iconv (cd, inleft > 0 ? &inbuf : NULL, inleft > 0 ? &inleft : NULL, &outbuf, &outleft);
      int saved = errno;

      g_string_append_len (out, chunk, outbuf - chunk);
      if (res != (gsize)-1)
        {
          if (inleft == 0)
            break;
          continue;
        }
      if (saved == E2BIG)
        continue;
      /* EILSEQ or EINVAL (truncated sequence at the end): replace one byte and go on. */
      g_string_append (out, "\xEF\xBF\xBD");
      if (inleft == 0)
        break;
      inbuf++;
      inleft--;
      if (inleft == 0)
        {
          outbuf = chunk;
          outleft = sizeof chunk;
          g_iconv (cd, NULL, NULL, &outbuf, &outleft);
          g_string_append_len (out, chunk, outbuf - chunk);
          break;
        }
    }
  g_iconv_close (cd);
  return out;
}

static char *
decode_body (const guint8 *data, gsize len, const char *canonical, gsize *len_out)
{
  g_autofree char *canon = NULL;
  g_autofree char *iconv_name = NULL;
  GString *text = NULL;
  char *valid;

  /* Strip a BOM matching the charset. */
  if (g_str_equal (canonical, "utf-8") && len >= 3 && data[0] == 0xEF && data[1] == 0xBB
      && data[2] == 0xBF)
    data += 3, len -= 3;
  else if (g_str_equal (canonical, "utf-16le") && len >= 2 && data[0] == 0xFF && data[1] == 0xFE)
    data += 2, len -= 2;
  else if (g_str_equal (canonical, "utf-16be") && len >= 2 && data[0] == 0xFE && data[1] == 0xFF)
    data += 2, len -= 2;

  if (g_str_equal (canonical, "utf-8"))
    text = g_string_new_len ((const char *)data, len);
  else if (g_str_equal (canonical, "windows-1252"))
    text = decode_windows_1252 (data, len);
  else if (charset_lookup (canonical, &canon, &iconv_name) && iconv_name != NULL)
    text = decode_iconv (data, len, iconv_name);
  if (text == NULL)
    text = decode_windows_1252 (data, len);

  /* libxml2 and GLib string functions stop at NUL: make the text NUL-free valid UTF-8. */
  for (gsize i = 0; i < text->len; i++)
    if (text->str[i] == '\0')
      text->str[i] = ' ';
  valid = g_utf8_make_valid (text->str, text->len);
  g_string_free (text, TRUE);
  *len_out = strlen (valid);
  return valid;
}

/* --- binary detection ----------------------------------------------------------------------- */

static gboolean
content_type_is_binary (const char *content_type)
{
  static const char *const prefixes[] = {
    "image/",
    "audio/",
    "video/",
    "font/",
    "model/",
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-7z",
    "application/x-rar",
    "application/wasm",
    "application/vnd.ms-fontobject",
    "application/font-",
    "application/x-font",
    "application/x-shockwave-flash",
    "application/msword",
    "application/vnd.openxmlformats",
    "application/x-msdownload",
  };
  g_autofree char *lower = NULL;
  const char *p;

  if (content_type == NULL)
    return FALSE;
  p = content_type;
  while (g_ascii_isspace (*p))
    p++;
  lower = g_ascii_strdown (p, -1);
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (lower, prefixes[i]))
      return TRUE;
  return FALSE;
}

static gboolean
bytes_look_binary (const guint8 *data, gsize len)
{
  static const struct
  {
    const char *magic;
    gsize len;
  } magics[] = {
    { "\x89PNG", 4 },
    { "GIF87a", 6 },
    { "GIF89a", 6 },
    { "\xFF\xD8\xFF", 3 },
    { "%PDF-", 5 },
    { "PK\x03\x04", 4 },
    { "\x1F\x8B", 2 },
    { "\x7F"
      "ELF",
      4 },
    { "wOFF", 4 },
    { "wOF2", 4 },
    { "\0asm", 4 },
    { "BZh91AY", 7 },
    { "7z\xBC\xAF\x27\x1C", 6 },
    { "Rar!", 4 },
  };
  gsize n = MIN (len, SNIFF_BYTES);
  gsize controls = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (magics); i++)
    if (len >= magics[i].len && memcmp (data, magics[i].magic, magics[i].len) == 0)
      return TRUE;

  for (gsize i = 0; i < n; i++)
    {
      guint8 c = data[i];

      if (c == 0)
        return TRUE;
      /* Tab, LF, FF, CR and ESC (ISO-2022-JP) are text. */
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r' && c != 0x1B)
        controls++;
    }
  return n > 0 && controls * 20 > n; /* more than 5 % */
}

/* --- DOM helpers --------------------------------------------------------------------------- */

gboolean
tsq_page_node_is (xmlNode *node, const char *name)
{
  return node != NULL && node->type == XML_ELEMENT_NODE && node->name != NULL
         && g_ascii_strcasecmp ((const char *)node->name, name) == 0;
}

xmlNode *
tsq_page_walk_next (xmlNode *node, xmlNode *root, gboolean skip_children)
{
  if (!skip_children && node->children != NULL && node->type != XML_ENTITY_REF_NODE)
    return node->children;
  while (node != NULL && node != root)
    {
      if (node->next != NULL)
        return node->next;
      node = node->parent;
    }
  return NULL;
}

static char *
get_attr (xmlNode *node, const char *name)
{
  for (xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    {
      if (attr->name != NULL && g_ascii_strcasecmp ((const char *)attr->name, name) == 0)
        {
          xmlChar *value = xmlNodeListGetString (node->doc, attr->children, 1);
          char *copy = g_strdup (value != NULL ? (const char *)value : "");

          xmlFree (value);
          return copy;
        }
    }
  return NULL;
}

static char *
node_text (xmlNode *node)
{
  xmlChar *content = xmlNodeGetContent (node);
  char *copy = g_strdup (content != NULL ? (const char *)content : "");

  xmlFree (content);
  return copy;
}

static char *
collapse_whitespace (const char *text)
{
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || c == 0xA0)
        {
          space = out->len > 0;
          continue;
        }
      if (space)
        g_string_append_c (out, ' ');
      space = FALSE;
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

static gboolean
has_ancestor (xmlNode *node, const char *name)
{
  for (xmlNode *p = node->parent; p != NULL; p = p->parent)
    if (tsq_page_node_is (p, name))
      return TRUE;
  return FALSE;
}

static gboolean
rel_has_token (const char *rel, const char *token)
{
  g_auto (GStrv) tokens = NULL;

  if (rel == NULL)
    return FALSE;
  tokens = g_strsplit_set (rel, " \t\n\r\f", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    if (g_ascii_strcasecmp (tokens[i], token) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
script_type_is_js (const char *type)
{
  static const char *const js_types[] = {
    "module",
    "text/javascript",
    "application/javascript",
    "application/ecmascript",
    "application/x-ecmascript",
    "application/x-javascript",
    "text/ecmascript",
    "text/javascript1.0",
    "text/javascript1.1",
    "text/javascript1.2",
    "text/javascript1.3",
    "text/javascript1.4",
    "text/javascript1.5",
    "text/jscript",
    "text/livescript",
    "text/x-ecmascript",
    "text/x-javascript",
  };
  g_autofree char *lower = NULL;
  char *semi;

  if (type == NULL)
    return TRUE;
  lower = g_ascii_strdown (type, -1);
  semi = strchr (lower, ';');
  if (semi != NULL)
    *semi = '\0';
  g_strstrip (lower);
  if (*lower == '\0')
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (js_types); i++)
    if (g_str_equal (lower, js_types[i]))
      return TRUE;
  return FALSE;
}

/* --- page building ------------------------------------------------------------------------- */

typedef struct
{
  TsqPage *page;
  GHashTable *seen_anchors;
  GHashTable *seen_subresources;
} Builder;

static void
add_unique (GPtrArray *array, GHashTable *seen, char *url /* owned */)
{
  if (url == NULL)
    return;
  if (g_hash_table_contains (seen, url))
    {
      g_free (url);
      return;
    }
  g_hash_table_add (seen, url);
  g_ptr_array_add (array, g_strdup (url));
}

static void
add_subresource (Builder *b, const char *ref)
{
  char *abs = tsq_url_resolve (b->page->base_url, ref);

  if (abs == NULL || !tsq_url_is_http (abs))
    {
      g_free (abs);
      return;
    }
  {
    /* The fragment does not change what is loaded. */
    char *hash = strchr (abs, '#');
    if (hash != NULL)
      *hash = '\0';
  }
  add_unique (b->page->subresource_urls, b->seen_subresources, abs);
}

/* srcset: "url [descriptor], url [descriptor]" (HTML spec parsing, simplified: descriptors in
 * parentheses may contain commas). */
static void
add_srcset (Builder *b, const char *srcset)
{
  const char *p = srcset;

  while (*p)
    {
      const char *start;
      g_autofree char *url = NULL;
      int parens = 0;

      while (*p && (g_ascii_isspace (*p) || *p == ','))
        p++;
      if (!*p)
        break;
      start = p;
      while (*p && !g_ascii_isspace (*p))
        p++;
      url = g_strndup (start, p - start);
      /* A URL ending in commas ends the candidate. */
      {
        gsize l = strlen (url);
        gboolean had_comma = FALSE;
        while (l > 0 && url[l - 1] == ',')
          url[--l] = '\0', had_comma = TRUE;
        if (*url)
          add_subresource (b, url);
        if (had_comma)
          continue;
      }
      while (*p && (parens > 0 || *p != ','))
        {
          if (*p == '(')
            parens++;
          else if (*p == ')' && parens > 0)
            parens--;
          p++;
        }
    }
}

static void
page_link_free (gpointer data)
{
  TsqPageLink *link = data;

  g_free (link->rel);
  g_free (link->href);
  g_free (link->type);
  g_free (link->as);
  g_free (link);
}

static void
page_form_free (gpointer data)
{
  TsqPageForm *form = data;

  g_free (form->action);
  g_free (form->method);
  g_free (form);
}

static void
add_meta (TsqPage *page, const char *key, const char *content)
{
  g_autofree char *lower = NULL;
  GPtrArray *values;

  if (key == NULL)
    return;
  lower = g_ascii_strdown (key, -1);
  g_strstrip (lower);
  if (*lower == '\0')
    return;
  values = g_hash_table_lookup (page->meta, lower);
  if (values == NULL)
    {
      values = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (page->meta, g_strdup (lower), values);
    }
  g_ptr_array_add (values, g_strdup (content != NULL ? content : ""));
}

static void
visit_element (Builder *b, xmlNode *node)
{
  TsqPage *page = b->page;
  const char *name = (const char *)node->name;

  if (name == NULL)
    return;

  if (g_ascii_strcasecmp (name, "title") == 0)
    {
      if (page->title == NULL && !has_ancestor (node, "svg"))
        {
          g_autofree char *raw = node_text (node);
          char *collapsed = collapse_whitespace (raw);

          if (*collapsed)
            page->title = collapsed;
          else
            g_free (collapsed);
        }
    }
  else if (g_ascii_strcasecmp (name, "script") == 0)
    {
      g_autofree char *src = get_attr (node, "src");
      g_autofree char *type = get_attr (node, "type");

      if (src != NULL)
        {
          char *abs = tsq_url_resolve (page->base_url, src);

          g_ptr_array_add (page->script_src, g_strdup (src));
          if (abs != NULL)
            {
              g_ptr_array_add (page->script_urls, g_strdup (abs));
              add_subresource (b, abs);
            }
          g_free (abs);
        }
      else
        {
          g_autofree char *text = node_text (node);
          g_autofree char *lower_type = type != NULL ? g_ascii_strdown (type, -1) : NULL;

          if (lower_type != NULL)
            g_strstrip (lower_type);
          if (text[strspn (text, " \t\r\n\f")] == '\0')
            ; /* whitespace-only inline scripts are ignored */
          else if (script_type_is_js (type))
            g_ptr_array_add (page->inline_scripts, g_steal_pointer (&text));
          else if (lower_type != NULL && g_str_has_prefix (lower_type, "application/ld+json"))
            g_ptr_array_add (page->json_ld, g_steal_pointer (&text));
          else
            g_ptr_array_add (page->data_scripts, g_steal_pointer (&text));
        }
    }
  else if (g_ascii_strcasecmp (name, "style") == 0)
    {
      g_ptr_array_add (page->inline_styles, node_text (node));
    }
  else if (g_ascii_strcasecmp (name, "link") == 0)
    {
      TsqPageLink *link = g_new0 (TsqPageLink, 1);
      g_autofree char *href = get_attr (node, "href");
      g_autofree char *rel = get_attr (node, "rel");

      link->rel = rel != NULL ? g_strstrip (g_ascii_strdown (rel, -1)) : g_strdup ("");
      link->href = href != NULL ? tsq_url_resolve (page->base_url, href) : NULL;
      link->type = get_attr (node, "type");
      link->as = get_attr (node, "as");
      g_ptr_array_add (page->links, link);

      if (link->href != NULL)
        {
          if (rel_has_token (link->rel, "stylesheet"))
            g_ptr_array_add (page->stylesheet_urls, g_strdup (link->href));
          if (rel_has_token (link->rel, "stylesheet") || rel_has_token (link->rel, "preload")
              || rel_has_token (link->rel, "modulepreload") || rel_has_token (link->rel, "icon"))
            add_subresource (b, link->href);
        }
    }
  else if (g_ascii_strcasecmp (name, "meta") == 0)
    {
      g_autofree char *content = get_attr (node, "content");
      g_autofree char *meta_name = get_attr (node, "name");
      g_autofree char *property = get_attr (node, "property");
      g_autofree char *equiv = get_attr (node, "http-equiv");

      add_meta (page, meta_name, content);
      if (property != NULL && (meta_name == NULL || g_ascii_strcasecmp (property, meta_name) != 0))
        add_meta (page, property, content);
      add_meta (page, equiv, content);
    }
  else if (g_ascii_strcasecmp (name, "form") == 0)
    {
      TsqPageForm *form = g_new0 (TsqPageForm, 1);
      g_autofree char *action = get_attr (node, "action");
      g_autofree char *method = get_attr (node, "method");

      if (action != NULL)
        g_strstrip (action);
      if (action == NULL || *action == '\0')
        form->action = g_strdup (page->url);
      else
        form->action = tsq_url_resolve (page->base_url, action);
      if (form->action == NULL)
        form->action = g_strdup (page->url);

      if (method != NULL)
        g_strstrip (method);
      if (method != NULL
          && (g_ascii_strcasecmp (method, "post") == 0
              || g_ascii_strcasecmp (method, "dialog") == 0))
        form->method = g_ascii_strup (method, -1);
      else
        form->method = g_strdup ("GET");
      g_ptr_array_add (page->forms, form);
    }
  else if (g_ascii_strcasecmp (name, "a") == 0 || g_ascii_strcasecmp (name, "area") == 0)
    {
      g_autofree char *href = get_attr (node, "href");
      char *abs = href != NULL ? tsq_url_resolve (page->base_url, href) : NULL;

      if (abs != NULL && tsq_url_is_http (abs))
        add_unique (page->anchors, b->seen_anchors, abs);
      else
        g_free (abs);
    }
  else if (g_ascii_strcasecmp (name, "img") == 0 || g_ascii_strcasecmp (name, "source") == 0)
    {
      g_autofree char *src = get_attr (node, "src");
      g_autofree char *srcset = get_attr (node, "srcset");

      if (src != NULL)
        add_subresource (b, src);
      if (srcset != NULL)
        add_srcset (b, srcset);
    }
  else if (g_ascii_strcasecmp (name, "iframe") == 0 || g_ascii_strcasecmp (name, "frame") == 0
           || g_ascii_strcasecmp (name, "embed") == 0 || g_ascii_strcasecmp (name, "audio") == 0
           || g_ascii_strcasecmp (name, "track") == 0)
    {
      g_autofree char *src = get_attr (node, "src");

      if (src != NULL)
        add_subresource (b, src);
    }
  else if (g_ascii_strcasecmp (name, "video") == 0)
    {
      g_autofree char *src = get_attr (node, "src");
      g_autofree char *poster = get_attr (node, "poster");

      if (src != NULL)
        add_subresource (b, src);
      if (poster != NULL)
        add_subresource (b, poster);
    }
  else if (g_ascii_strcasecmp (name, "object") == 0)
    {
      g_autofree char *data = get_attr (node, "data");

      if (data != NULL)
        add_subresource (b, data);
    }
  else if (g_ascii_strcasecmp (name, "input") == 0)
    {
      g_autofree char *type = get_attr (node, "type");
      g_autofree char *src = NULL;

      if (type != NULL && g_ascii_strcasecmp (g_strstrip (type), "image") == 0
          && (src = get_attr (node, "src")) != NULL)
        add_subresource (b, src);
    }
}

static void
find_base (TsqPage *page)
{
  xmlNode *root = (xmlNode *)page->doc;

  for (xmlNode *n = root->children; n != NULL; n = tsq_page_walk_next (n, root, FALSE))
    {
      if (tsq_page_node_is (n, "base"))
        {
          g_autofree char *href = get_attr (n, "href");

          if (href != NULL)
            {
              char *abs = tsq_url_resolve (page->url, href);

              if (abs != NULL && tsq_url_is_http (abs))
                {
                  g_free (page->base_url);
                  page->base_url = abs;
                }
              else
                g_free (abs);
              return;
            }
        }
    }
}

static gpointer
init_libxml (gpointer data)
{
  xmlInitParser ();
  return NULL;
}

static xmlDoc *
parse_html (const char *html, gsize len, const char *url)
{
  static GOnce init_once = G_ONCE_INIT;
  const int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                      | HTML_PARSE_NONET | HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC;
  static const char empty[] = "<html><head></head><body></body></html>";
  xmlDoc *doc = NULL;

  /* libxml2 wants its global state set up once before threads use it. */
  g_once (&init_once, init_libxml, NULL);

  if (len > 0)
    doc = htmlReadMemory (html, (int)MIN (len, (gsize)G_MAXINT), url, "UTF-8", options);
  if (doc == NULL || xmlDocGetRootElement (doc) == NULL)
    {
      if (doc != NULL)
        xmlFreeDoc (doc);
      doc = htmlReadMemory (empty, sizeof empty - 1, url, "UTF-8", options);
    }
  return doc;
}

TsqPage *
tsq_page_parse (GBytes *body, const char *content_type, const char *url, GError **error)
{
  g_autoptr (TsqPage) page = NULL;
  const guint8 *data = NULL;
  gsize len = 0;
  gboolean utf16;
  Builder b = { 0 };
  xmlNode *root;

  if (body != NULL)
    data = g_bytes_get_data (body, &len);
  if (data == NULL)
    data = (const guint8 *)"", len = 0;

  if (content_type_is_binary (content_type))
    {
      g_set_error (error, TSQ_PAGE_ERROR, TSQ_PAGE_ERROR_NOT_HTML,
                   "Content type %s is not a text document", content_type);
      return NULL;
    }

  page = g_new0 (TsqPage, 1);
  page->charset = tsq_page_detect_charset (data, len, content_type);
  utf16 = g_str_has_prefix (page->charset, "utf-16");
  if (!utf16 && bytes_look_binary (data, len))
    {
      g_set_error_literal (error, TSQ_PAGE_ERROR, TSQ_PAGE_ERROR_NOT_HTML,
                           "Body is binary data, not an HTML document");
      return NULL;
    }

  page->html = decode_body (data, len, page->charset, &page->html_len);
  page->url = url != NULL ? tsq_url_normalize (url, FALSE) : NULL;
  if (page->url == NULL)
    page->url = g_strdup (url != NULL ? url : "");
  page->base_url = g_strdup (page->url);

  page->doc = parse_html (page->html, page->html_len, page->url);
  page->script_src = g_ptr_array_new_with_free_func (g_free);
  page->script_urls = g_ptr_array_new_with_free_func (g_free);
  page->inline_scripts = g_ptr_array_new_with_free_func (g_free);
  page->inline_styles = g_ptr_array_new_with_free_func (g_free);
  page->stylesheet_urls = g_ptr_array_new_with_free_func (g_free);
  page->meta
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  page->links = g_ptr_array_new_with_free_func (page_link_free);
  page->forms = g_ptr_array_new_with_free_func (page_form_free);
  page->anchors = g_ptr_array_new_with_free_func (g_free);
  page->subresource_urls = g_ptr_array_new_with_free_func (g_free);
  page->json_ld = g_ptr_array_new_with_free_func (g_free);
  page->data_scripts = g_ptr_array_new_with_free_func (g_free);

  if (page->doc == NULL)
    {
      /* Only on allocation failure inside libxml2. */
      g_set_error_literal (error, TSQ_PAGE_ERROR, TSQ_PAGE_ERROR_NOT_HTML,
                           "The HTML parser produced no document");
      return NULL;
    }

  find_base (page);

  b.page = page;
  b.seen_anchors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b.seen_subresources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  root = (xmlNode *)page->doc;
  for (xmlNode *n = root->children; n != NULL; n = tsq_page_walk_next (n, root, FALSE))
    if (n->type == XML_ELEMENT_NODE)
      visit_element (&b, n);
  g_hash_table_unref (b.seen_anchors);
  g_hash_table_unref (b.seen_subresources);

  return g_steal_pointer (&page);
}

void
tsq_page_free (TsqPage *page)
{
  if (page == NULL)
    return;
  if (page->doc != NULL)
    xmlFreeDoc (page->doc);
  g_free (page->html);
  g_free (page->charset);
  g_free (page->base_url);
  g_free (page->url);
  g_free (page->title);
  g_clear_pointer (&page->script_src, g_ptr_array_unref);
  g_clear_pointer (&page->script_urls, g_ptr_array_unref);
  g_clear_pointer (&page->inline_scripts, g_ptr_array_unref);
  g_clear_pointer (&page->inline_styles, g_ptr_array_unref);
  g_clear_pointer (&page->stylesheet_urls, g_ptr_array_unref);
  g_clear_pointer (&page->meta, g_hash_table_unref);
  g_clear_pointer (&page->links, g_ptr_array_unref);
  g_clear_pointer (&page->forms, g_ptr_array_unref);
  g_clear_pointer (&page->anchors, g_ptr_array_unref);
  g_clear_pointer (&page->subresource_urls, g_ptr_array_unref);
  g_clear_pointer (&page->json_ld, g_ptr_array_unref);
  g_clear_pointer (&page->data_scripts, g_ptr_array_unref);
  g_free (page);
}
