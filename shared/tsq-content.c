/* tsq-content.c: the noise filter. Text of the DOM without the parts that change on every load
 * (tokens, dates, counters, ads), so that its hash only changes when the content does.
 * The rules are documented in docs/content.md; keep both in step. */
#define G_LOG_DOMAIN "tsq-content"

#include "tsq-content.h"

#include <string.h>

#define JSON_TEXT_CAP (256 * 1024)
#define MIN_TOKEN_LEN 8

/* --- masks --------------------------------------------------------------------------------- */

#define MONTH                                                                                      \
  "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"               \
  "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
#define WEEKDAY "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
#define COUNTER_WORDS                                                                              \
  "(views?|comments?|likes?|shares?|followers?|following|subscribers?|replies|reply|"              \
  "reactions?|retweets?|reposts?|votes?|upvotes?|points?|reads?|plays?|listens?|downloads?|"       \
  "installs?|stars?|forks?|watchers?|members?|visitors?|visits?|hits?|clicks?|responses?|"         \
  "answers?|ratings?|reviews?|pageviews?|impressions?|backers?|supporters?|signatures?)"
/* Grouped thousands ("1,234", "1 234") or a plain run of digits ("1017"). */
#define NUMBER "(?:[0-9]{1,3}(?:[,. \\x{A0}\\x{202F}'][0-9]{3})+|[0-9]+)(?:[.,][0-9]+)?"

typedef enum
{
  MASK_REPLACE,
  MASK_BASE64, /* replace only tokens that really look random */
} MaskKind;

typedef struct
{
  const char *pattern;
  const char *replacement;
  MaskKind kind;
} MaskSpec;

/* Order matters: composite tokens (JWT, UUID, full timestamps) before their parts. */
static const MaskSpec mask_specs[] = {
  /* JSON Web Tokens */
  { "\\beyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]*", "<jwt>", MASK_REPLACE },
  /* UUIDs */
  { "\\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\b", "<uuid>",
    MASK_REPLACE },
  /* ISO 8601 date and date-time */
  { "\\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    "(?:\\s?(?:Z|UTC|GMT|[+-][0-9]{2}:?[0-9]{2})(?![A-Za-z0-9]))?)?(?![0-9])",
    "<date>", MASK_REPLACE },
  /* RFC 1123 / RFC 850: "Thu, 03 Dec 2026 12:34:56 GMT" */
  { "(?i)\\b" WEEKDAY ",?\\s+[0-9]{1,2}[\\s-]" MONTH "[a-z]*\\.?[\\s-][0-9]{2,4}"
    "(?:\\s+[0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:\\s*(?:GMT|UTC|[+-][0-9]{4}))?)?\\b",
    "<date>", MASK_REPLACE },
  /* "3 Dec 2026", "3rd of December, 2026", "Thursday 3 December 2026" */
  { "(?i)\\b(?:" WEEKDAY ",?\\s+)?[0-9]{1,2}(?:st|nd|rd|th)?\\.?\\s+(?:of\\s+)?" MONTH
    "\\.?,?\\s+[0-9]{4}\\b",
    "<date>", MASK_REPLACE },
  /* "December 3, 2026", "Thu, Dec. 3rd 2026" */
  { "(?i)\\b(?:" WEEKDAY ",?\\s+)?" MONTH "\\.?\\s+[0-9]{1,2}(?:st|nd|rd|th)?,?\\s+[0-9]{4}\\b",
    "<date>", MASK_REPLACE },
  /* "12/03/2026", "12/03/26", "2026/12/03", "03.12.2026", "03-12-2026" */
  { "\\b[0-9]{1,2}/[0-9]{1,2}/(?:[0-9]{4}|[0-9]{2})(?![0-9/])", "<date>", MASK_REPLACE },
  { "\\b[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}\\b", "<date>", MASK_REPLACE },
  { "\\b[0-9]{1,2}[.-][0-9]{1,2}[.-][0-9]{4}\\b", "<date>", MASK_REPLACE },
  /* Times: "12:34", "12:34:56.789", "9:05 pm", "14:00 CEST", "12:34 +01:00" */
  { "(?<![0-9:])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]+)?)?(?![0-9])"
    "(?:\\s?[AaPp]\\.?[Mm]\\.?(?![A-Za-z]))?"
    "(?:\\s?(?:UTC|GMT|Z|[A-Z]{1,3}[SD]?T)(?![A-Za-z]))?(?:\\s?[+-][0-9]{2}:?[0-9]{2}(?![0-9]))?",
    "<time>", MASK_REPLACE },
  { "(?i)(?<![0-9.,])[0-9]{1,2}\\s?[ap]\\.?m\\.?(?![a-z])", "<time>", MASK_REPLACE },
  /* Relative times: "5 minutes ago", "an hour ago", "3h ago", "just now", "in 5 minutes" */
  { "(?i)\\b(?:[0-9]+|an?|one|a few|several)\\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|"
    "hours?|d|days?|w|wks?|weeks?|mo|mos|months?|y|yrs?|years?)\\s+ago\\b",
    "<ago>", MASK_REPLACE },
  { "(?i)\\b(?:just now|(?:a\\s+)?moments?\\s+ago)\\b", "<ago>", MASK_REPLACE },
  { "(?i)\\bin\\s+(?:[0-9]+|an?)\\s+(?:seconds?|minutes?|hours?|days?)\\b", "<ago>", MASK_REPLACE },
  /* Counters: "1,234 views", "12K likes", "Comments (12)", "Views: 1 234" */
  { "(?i)(?<![0-9.,])" NUMBER "\\s?[kmb]?\\+?\\s+" COUNTER_WORDS "\\b", "<n> \\1", MASK_REPLACE },
  { "(?i)\\b" COUNTER_WORDS "\\s*[:(]?\\s*" NUMBER "[kmb]?\\b", "\\1 <n>", MASK_REPLACE },
  /* Cache-busting parameters and Unix timestamps (2001..2033, seconds or milliseconds) */
  { "([?&](?:v|ver|version|_|cb|cachebust|cachebuster|cache|nocache|t|ts|timestamp|rnd|rand|r)=)"
    "[0-9A-Za-z._-]+",
    "\\1<n>", MASK_REPLACE },
  { "(?<![0-9.])1[0-9]{9}(?:[0-9]{3})?(?![0-9])", "<timestamp>", MASK_REPLACE },
  /* Long hex: hashes, ids, nonces */
  { "\\b[0-9a-fA-F]{16,}\\b", "<hex>", MASK_REPLACE },
  /* Random-looking base64/base64url tokens */
  { "(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/_=-])", "<token>", MASK_BASE64 },
};

typedef struct
{
  GRegex *regexes[G_N_ELEMENTS (mask_specs)];
  GRegex *space;
  GRegex *ad_name;
  GRegex *token_name;
  GRegex *hidden_style;
} Masks;

static gpointer
compile_masks (gpointer data)
{
  Masks *masks = g_new0 (Masks, 1);

  for (gsize i = 0; i < G_N_ELEMENTS (mask_specs); i++)
    {
      g_autoptr (GError) error = NULL;

      masks->regexes[i] = g_regex_new (mask_specs[i].pattern, G_REGEX_OPTIMIZE, 0, &error);
      if (masks->regexes[i] == NULL)
        g_error ("mask %" G_GSIZE_FORMAT " does not compile: %s", i, error->message);
    }
  masks->space = g_regex_new ("[\\s\\x{A0}\\x{2000}-\\x{200B}\\x{202F}\\x{205F}\\x{3000}]+",
                              G_REGEX_OPTIMIZE, 0, NULL);
  /* Ad containers by id/class; short names need a word boundary ("pdfpreview" is no "dfp"). */
  masks->ad_name = g_regex_new ("(?i)(?:^|[\\s_-])(?:ad-?slot|adsbygoogle|dfp|gpt-ad|google_ads|"
                                "ad-?unit|ad-container|advert|advertisement|ad-wrapper|"
                                "taboola|outbrain|sponsored-content)(?:$|[\\s_-])",
                                G_REGEX_OPTIMIZE, 0, NULL);
  masks->token_name = g_regex_new ("(?i)csrf|xsrf|token|nonce|authenticity", 0, 0, NULL);
  masks->hidden_style
    = g_regex_new ("(?i)(?:^|;)\\s*(?:display\\s*:\\s*none|visibility\\s*:\\s*hidden)", 0, 0, NULL);
  g_assert (masks->space && masks->ad_name && masks->token_name && masks->hidden_style);
  return masks;
}

static const Masks *
get_masks (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, compile_masks, NULL);
}

static gboolean
base64_eval (const GMatchInfo *info, GString *result, gpointer user_data)
{
  g_autofree char *token = g_match_info_fetch (info, 0);
  guint upper = 0, lower = 0, digits = 0, len = 0;

  for (const char *p = token; *p; p++, len++)
    {
      if (g_ascii_isupper (*p))
        upper++;
      else if (g_ascii_islower (*p))
        lower++;
      else if (g_ascii_isdigit (*p))
        digits++;
    }
  /* Mixed case with digits, or letters with many digits: random, not a long word. */
  if ((upper > 0 && lower > 0 && digits > 0)
      || (digits > 0 && upper + lower > 0 && digits * 5 >= len))
    g_string_append (result, "<token>");
  else
    g_string_append (result, token);
  return FALSE;
}

/* Collapses whitespace within lines, trims them, and drops empty lines. */
static char *
collapse_lines (const char *text)
{
  const Masks *masks = get_masks ();
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_sized_new (strlen (text) + 1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *collapsed = NULL;

      if (lines[i][0] == '\0')
        continue;
      collapsed = g_regex_replace_literal (masks->space, lines[i], -1, 0, " ", 0, NULL);
      if (collapsed == NULL)
        continue;
      g_strstrip (collapsed);
      if (*collapsed == '\0')
        continue;
      if (out->len > 0)
        g_string_append_c (out, '\n');
      g_string_append (out, collapsed);
    }
  return g_string_free (out, FALSE);
}

char *
tsq_content_normalize_text (const char *text)
{
  const Masks *masks = get_masks ();
  g_autofree char *current = NULL;

  if (text == NULL)
    return g_strdup ("");
  if (g_utf8_validate (text, -1, NULL))
    current = collapse_lines (text);
  else
    {
      g_autofree char *valid = g_utf8_make_valid (text, -1);
      current = collapse_lines (valid);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (mask_specs); i++)
    {
      char *next;

      if (mask_specs[i].kind == MASK_BASE64)
        next = g_regex_replace_eval (masks->regexes[i], current, -1, 0, 0, base64_eval, NULL, NULL);
      else
        next
          = g_regex_replace (masks->regexes[i], current, -1, 0, mask_specs[i].replacement, 0, NULL);
      if (next != NULL)
        {
          g_free (current);
          current = next;
        }
    }
  return collapse_lines (current);
}

/* --- DOM text ------------------------------------------------------------------------------ */

static gboolean
name_in (const char *name, const char *const *names)
{
  for (guint i = 0; names[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, names[i]) == 0)
      return TRUE;
  return FALSE;
}

static const char *const skipped_elements[] = {
  "script", "style",    "noscript", "template", "svg",    "math",  "iframe",
  "frame",  "frameset", "object",   "embed",    "canvas", "audio", "video",
  "map",    "link",     "meta",     "base",     NULL,
};

static const char *const block_elements[] = {
  "address",    "article", "aside",  "blockquote", "body",   "br",     "caption", "center",
  "dd",         "details", "dialog", "dir",        "div",    "dl",     "dt",      "fieldset",
  "figcaption", "figure",  "footer", "form",       "h1",     "h2",     "h3",      "h4",
  "h5",         "h6",      "head",   "header",     "hgroup", "hr",     "html",    "legend",
  "li",         "main",    "menu",   "nav",        "ol",     "option", "p",       "pre",
  "section",    "summary", "table",  "tbody",      "tfoot",  "thead",  "title",   "tr",
  "ul",         NULL,
};

static const char *const cell_elements[] = { "td", "th", NULL };

typedef struct
{
  const TsqContentRules *rules;
  const Masks *masks;
  GString *text;
  GPtrArray *tokens; /* char*: secret values to mask literally */
} Extractor;

static char *
attr_value (xmlNode *node, const char *name)
{
  for (xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    if (attr->name != NULL && g_ascii_strcasecmp ((const char *)attr->name, name) == 0)
      {
        xmlChar *value = xmlNodeListGetString (node->doc, attr->children, 1);
        char *copy = g_strdup (value != NULL ? (const char *)value : "");

        xmlFree (value);
        return copy;
      }
  return NULL;
}

static gboolean
has_attr (xmlNode *node, const char *name)
{
  for (xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
    if (attr->name != NULL && g_ascii_strcasecmp ((const char *)attr->name, name) == 0)
      return TRUE;
  return FALSE;
}

static void
add_token (Extractor *ex, char *value /* owned */)
{
  if (value != NULL)
    g_strstrip (value);
  if (value != NULL && strlen (value) >= MIN_TOKEN_LEN)
    g_ptr_array_add (ex->tokens, value);
  else
    g_free (value);
}

/* Secret per-load values that may leak into visible text: meta csrf-token & co., hidden input
 * values named like tokens, and CSP nonces. */
static void
collect_tokens (Extractor *ex, xmlNode *node)
{
  const char *name = (const char *)node->name;

  if (has_attr (node, "nonce"))
    add_token (ex, attr_value (node, "nonce"));

  if (g_ascii_strcasecmp (name, "meta") == 0)
    {
      g_autofree char *meta_name = attr_value (node, "name");
      g_autofree char *property = attr_value (node, "property");

      if ((meta_name != NULL && g_regex_match (ex->masks->token_name, meta_name, 0, NULL))
          || (property != NULL && g_regex_match (ex->masks->token_name, property, 0, NULL)))
        add_token (ex, attr_value (node, "content"));
    }
  else if (g_ascii_strcasecmp (name, "input") == 0)
    {
      g_autofree char *input_name = attr_value (node, "name");
      g_autofree char *id = attr_value (node, "id");

      if ((input_name != NULL && g_regex_match (ex->masks->token_name, input_name, 0, NULL))
          || (id != NULL && g_regex_match (ex->masks->token_name, id, 0, NULL)))
        add_token (ex, attr_value (node, "value"));
    }
}

static gboolean
is_ad_slot (Extractor *ex, xmlNode *node)
{
  static const char *const ad_attrs[] = {
    "data-ad-slot", "data-ad-client", "data-google-query-id", "data-ad-unit", "data-dfp", NULL,
  };
  g_autofree char *id = NULL;
  g_autofree char *klass = NULL;

  for (guint i = 0; ad_attrs[i] != NULL; i++)
    if (has_attr (node, ad_attrs[i]))
      return TRUE;
  id = attr_value (node, "id");
  if (id != NULL && g_regex_match (ex->masks->ad_name, id, 0, NULL))
    return TRUE;
  klass = attr_value (node, "class");
  if (klass != NULL && g_regex_match (ex->masks->ad_name, klass, 0, NULL))
    return TRUE;
  return FALSE;
}

static gboolean
is_hidden (Extractor *ex, xmlNode *node)
{
  g_autofree char *style = NULL;

  if (has_attr (node, "hidden"))
    return TRUE;
  if (g_ascii_strcasecmp ((const char *)node->name, "input") == 0)
    {
      g_autofree char *type = attr_value (node, "type");
      if (type != NULL && g_ascii_strcasecmp (g_strstrip (type), "hidden") == 0)
        return TRUE;
    }
  style = attr_value (node, "style");
  return style != NULL && g_regex_match (ex->masks->hidden_style, style, 0, NULL);
}

/* Returns TRUE to descend into the element's children. */
static gboolean
enter_element (Extractor *ex, xmlNode *node)
{
  const char *name = (const char *)node->name;

  if (name == NULL)
    return FALSE;
  collect_tokens (ex, node);

  if (name_in (name, skipped_elements) || is_hidden (ex, node) || is_ad_slot (ex, node))
    return FALSE;
  if (ex->rules != NULL && ex->rules->skip_node != NULL
      && ex->rules->skip_node (node, ex->rules->skip_data))
    return FALSE;

  if (name_in (name, block_elements))
    g_string_append_c (ex->text, '\n');
  else if (name_in (name, cell_elements))
    g_string_append_c (ex->text, ' ');

  if (g_ascii_strcasecmp (name, "img") == 0 || g_ascii_strcasecmp (name, "area") == 0)
    {
      g_autofree char *alt = attr_value (node, "alt");
      if (alt != NULL && *alt)
        {
          g_string_append_c (ex->text, ' ');
          g_string_append (ex->text, alt);
          g_string_append_c (ex->text, ' ');
        }
    }
  else if (g_ascii_strcasecmp (name, "input") == 0)
    {
      /* The label of a button is visible text; other values are user/per-load data. */
      g_autofree char *type = attr_value (node, "type");
      if (type != NULL
          && (g_ascii_strcasecmp (type, "submit") == 0 || g_ascii_strcasecmp (type, "button") == 0))
        {
          g_autofree char *value = attr_value (node, "value");
          if (value != NULL && *value)
            {
              g_string_append_c (ex->text, ' ');
              g_string_append (ex->text, value);
              g_string_append_c (ex->text, ' ');
            }
        }
    }
  return TRUE;
}

static void
leave_element (Extractor *ex, xmlNode *node)
{
  if (node->name == NULL)
    return;
  if (name_in ((const char *)node->name, block_elements))
    g_string_append_c (ex->text, '\n');
  else if (name_in ((const char *)node->name, cell_elements))
    g_string_append_c (ex->text, ' ');
}

/* Iterative depth-first walk with enter/leave events: no recursion, any depth. */
static void
extract_text (Extractor *ex, xmlNode *root)
{
  xmlNode *node = root;

  while (node != NULL)
    {
      gboolean descend = FALSE;

      if (node->type == XML_ELEMENT_NODE)
        descend = enter_element (ex, node);
      else if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)
        {
          if (node->content != NULL)
            g_string_append (ex->text, (const char *)node->content);
        }

      if (descend && node->children != NULL)
        {
          node = node->children;
          continue;
        }

      while (node != NULL)
        {
          if (node->type == XML_ELEMENT_NODE && descend)
            leave_element (ex, node);
          descend = TRUE; /* every ancestor we climb to was entered */
          if (node == root)
            {
              node = NULL;
              break;
            }
          if (node->next != NULL)
            {
              node = node->next;
              break;
            }
          node = node->parent;
        }
    }
}

static char *
replace_literal_all (const char *text, const char *needle, const char *replacement)
{
  GString *out;
  const char *p = text;
  gsize needle_len = strlen (needle);

  if (strstr (text, needle) == NULL)
    return NULL;
  out = g_string_sized_new (strlen (text));
  while (TRUE)
    {
      const char *hit = strstr (p, needle);
      if (hit == NULL)
        break;
      g_string_append_len (out, p, hit - p);
      g_string_append (out, replacement);
      p = hit + needle_len;
    }
  g_string_append (out, p);
  return g_string_free (out, FALSE);
}

TsqContent *
tsq_content_extract (TsqPage *page, const TsqContentRules *rules)
{
  Extractor ex = { 0 };
  TsqContent *content;
  xmlNode *root;
  g_autofree char *lines = NULL;
  g_autoptr (GChecksum) checksum = NULL;

  g_return_val_if_fail (page != NULL, NULL);

  ex.rules = rules;
  ex.masks = get_masks ();
  ex.text = g_string_new (NULL);
  ex.tokens = g_ptr_array_new_with_free_func (g_free);

  root = page->doc != NULL ? xmlDocGetRootElement (page->doc) : NULL;
  if (root != NULL)
    extract_text (&ex, root);

  lines = collapse_lines (ex.text->str);
  g_string_free (ex.text, TRUE);

  /* User rules first, on the visible text (before masks rewrite dates etc.). */
  if (rules != NULL && rules->ignore_regexes != NULL)
    for (guint i = 0; i < rules->ignore_regexes->len; i++)
      {
        char *next = g_regex_replace_literal (g_ptr_array_index (rules->ignore_regexes, i), lines,
                                              -1, 0, "", 0, NULL);
        if (next != NULL)
          {
            g_free (lines);
            lines = next;
          }
      }

  for (guint i = 0; i < ex.tokens->len; i++)
    {
      char *next = replace_literal_all (lines, g_ptr_array_index (ex.tokens, i), "<token>");
      if (next != NULL)
        {
          g_free (lines);
          lines = next;
        }
    }
  g_ptr_array_unref (ex.tokens);

  content = g_new0 (TsqContent, 1);
  content->text = tsq_content_normalize_text (lines);
  content->text_length = g_utf8_strlen (content->text, -1);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *)content->text, strlen (content->text));
  content->hash_hex = g_strdup (g_checksum_get_string (checksum));
  content->simhash = tsq_simhash_compute (content->text);
  if (page->title != NULL)
    {
      char *title = tsq_content_normalize_text (page->title);
      if (*title)
        content->title = title;
      else
        g_free (title);
    }
  return content;
}

void
tsq_content_free (TsqContent *c)
{
  if (c == NULL)
    return;
  g_free (c->text);
  g_free (c->hash_hex);
  g_free (c->title);
  g_free (c);
}

gboolean
tsq_content_rules_add_regex (TsqContentRules *rules, const char *pattern, GError **error)
{
  GRegex *regex;

  g_return_val_if_fail (rules != NULL, FALSE);
  g_return_val_if_fail (pattern != NULL, FALSE);

  regex = g_regex_new (pattern, G_REGEX_OPTIMIZE, 0, error);
  if (regex == NULL)
    return FALSE;
  if (rules->ignore_regexes == NULL)
    rules->ignore_regexes = g_ptr_array_new_with_free_func ((GDestroyNotify)g_regex_unref);
  g_ptr_array_add (rules->ignore_regexes, regex);
  return TRUE;
}

void
tsq_content_rules_clear (TsqContentRules *rules)
{
  if (rules == NULL)
    return;
  g_clear_pointer (&rules->ignore_regexes, g_ptr_array_unref);
}

JsonObject *
tsq_content_to_json (TsqContent *c)
{
  JsonObject *obj = json_object_new ();
  g_autofree char *simhash = NULL;
  gsize len;

  g_return_val_if_fail (c != NULL, obj);

  simhash = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", c->simhash);
  json_object_set_string_member (obj, "hash", c->hash_hex);
  json_object_set_string_member (obj, "simhash", simhash);
  if (c->title != NULL)
    json_object_set_string_member (obj, "title", c->title);
  else
    json_object_set_null_member (obj, "title");
  json_object_set_int_member (obj, "text_length", (gint64)c->text_length);

  len = strlen (c->text);
  if (len > JSON_TEXT_CAP)
    {
      const char *end = c->text + JSON_TEXT_CAP;
      g_autofree char *capped = NULL;

      /* Back up to the start of a UTF-8 character. */
      while (end > c->text && ((guchar)*end & 0xC0) == 0x80)
        end--;
      capped = g_strndup (c->text, end - c->text);
      json_object_set_string_member (obj, "text", capped);
    }
  else
    json_object_set_string_member (obj, "text", c->text);
  return obj;
}
