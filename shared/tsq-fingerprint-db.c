/* tsq-fingerprint-db.c: loading and evaluating Wappalyzer-format technology fingerprints.
 *
 * Semantics follow wappalyzer-core 6.10 (setTechnologies, analyze, resolve) and its browser
 * driver (requires / requiresCategory passes, dom patterns); docs/fingerprints.md lists where and
 * why this engine differs.
 *
 * Speed: every regex has a set of literals one of which any match must contain (computed by
 * tsq-fingerprint-pattern.c). For the texts that can be large (html, scripts, css, url, script
 * URLs) all literals of all patterns of that kind go into one Aho-Corasick automaton; one pass
 * over the text marks the patterns whose literal occurs, and only those regexes run, starting
 * near the first occurrence of their literal. Keyed values (headers, cookies, meta) are short and
 * prefiltered with memmem. */
#define G_LOG_DOMAIN "tsq-fingerprint"

#include "tsq-fingerprint-db.h"

#include "tsq-css-select.h"
#include "tsq-fingerprint-ac.h"
#include "tsq-fingerprint-pattern.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (tsq-fingerprint-error-quark, tsq_fingerprint_error)
/* clang-format on */

/* Evaluated kinds, in the order of wappalyzer-core's analyze() relations (certIssuer, cookies,
 * css, dns, headers, html, meta, probe, robots, scriptSrc, scripts, text, url, xhr); the driver's
 * dom results come after them. The order decides which version wins among equally long ones. */
typedef enum
{
  KIND_COOKIES,
  KIND_CSS,
  KIND_HEADERS,
  KIND_HTML,
  KIND_META,
  KIND_SCRIPT_SRC,
  KIND_SCRIPTS,
  KIND_URL,
  KIND_DOM,
} Kind;

/* Texts searched with an automaton. */
typedef enum
{
  CH_CSS,
  CH_HTML,
  CH_SCRIPT_SRC,
  CH_SCRIPTS,
  CH_URL,
  N_CHANNELS,
  CH_NONE = N_CHANNELS,
} Channel;

/* Kinds of patterns that are counted but not evaluated. */
typedef enum
{
  SKIP_JS,
  SKIP_XHR,
  SKIP_DNS,
  SKIP_ROBOTS,
  SKIP_PROBE,
  SKIP_CERT_ISSUER,
  SKIP_TEXT,
  SKIP_DOM,
  SKIP_INVALID,
  N_SKIP,
} SkipKind;

static const char *const skip_names[N_SKIP] = {
  "js", "xhr", "dns", "robots", "probe", "certIssuer", "text", "dom", "invalid-regex",
};

typedef enum
{
  DOM_EXISTS,
  DOM_TEXT,
  DOM_ATTRIBUTE,
} DomOp;

typedef struct
{
  TsqFpPattern *pattern;
  Kind kind;
  DomOp dom_op;
  char *key;                /* header/cookie/meta name (lower-case); dom attribute name */
  TsqCssSelector *selector; /* dom: owned by the db's selector table */
  guint selector_id;
  guint id; /* index in the rule table */
  struct _Tech *tech;
} Rule;

typedef struct
{
  char *name;
  int confidence;
  char *version;
} Imply;

typedef struct _Tech
{
  char *name;
  char *website;
  char *file;
  GArray *cat_ids;           /* int */
  GStrv categories;          /* names, set by index_build */
  GPtrArray *rules;          /* Rule*, evaluation order */
  GArray *implies;           /* Imply */
  GPtrArray *excludes;       /* char* */
  GPtrArray *requires;       /* char* */
  GArray *requires_category; /* int */
  guint skipped[N_SKIP];
  guint n_dom_rules;
  guint index;   /* position in db->techs, set by index_build */
  gboolean base; /* no requires: analyzed in the first pass */
} Tech;

typedef struct
{
  char *name;
  int priority;
} Category;

typedef struct
{
  gboolean by_category;
  char *name;
  int category;
  GPtrArray *techs; /* Tech* (borrowed) */
} Group;

typedef struct
{
  GPtrArray *rules; /* Rule* (borrowed), index = id */
  TsqFpAc *ac[N_CHANNELS];
  GArray *always[N_CHANNELS]; /* guint rule ids without a prefilter literal */
  GPtrArray *base;            /* Tech* without requires */
  GHashTable *keyed[3];       /* headers, cookies, meta: key -> GArray of rule ids */
  GPtrArray *sel_rules;       /* per selector id: GArray of rule ids */
  GPtrArray *groups;          /* Group* */
  guint skipped[N_SKIP];
  guint n_dom_rules;
  GPtrArray *selectors;  /* TsqCssSelector* (borrowed), index = selector id */
  GHashTable *sel_by_id; /* id value -> GArray of selector ids */
  GHashTable *sel_by_class;
  GHashTable *sel_by_attr;
  GHashTable *sel_by_tag;
  GHashTable *sel_by_value; /* attribute name -> TsqFpAc of values (selector ids) */
  GArray *sel_any;
} Index;

struct _TsqFingerprintDb
{
  GObject parent_instance;

  GPtrArray *techs;       /* Tech*, load order */
  GHashTable *by_name;    /* name -> Tech* (borrowed) */
  GHashTable *categories; /* GINT id -> Category* */
  GHashTable *selectors;  /* selector text -> TsqCssSelector* */
  GPtrArray *warnings;    /* char*, NULL-terminated */
  Index *index;
  gboolean strict;
};

G_DEFINE_FINAL_TYPE (TsqFingerprintDb, tsq_fingerprint_db, G_TYPE_OBJECT)

/* ---- small types -------------------------------------------------------------------------- */

void
tsq_detection_free (TsqDetection *detection)
{
  if (detection == NULL)
    return;
  g_free (detection->name);
  g_free (detection->version);
  g_strfreev (detection->categories);
  g_free (detection->website);
  g_free (detection);
}

void
tsq_fingerprint_stats_clear (TsqFingerprintStats *stats)
{
  if (stats == NULL)
    return;
  g_clear_pointer (&stats->skipped, g_hash_table_unref);
  stats->technologies_loaded = 0;
}

static void
rule_free (Rule *rule)
{
  tsq_fp_pattern_free (rule->pattern);
  g_free (rule->key);
  g_free (rule);
}

static void
imply_clear (Imply *imply)
{
  g_free (imply->name);
  g_free (imply->version);
}

static Tech *
tech_new (const char *name, const char *file)
{
  Tech *t = g_new0 (Tech, 1);

  t->name = g_strdup (name);
  t->file = g_strdup (file);
  t->cat_ids = g_array_new (FALSE, FALSE, sizeof (int));
  t->rules = g_ptr_array_new_with_free_func ((GDestroyNotify)rule_free);
  t->implies = g_array_new (FALSE, TRUE, sizeof (Imply));
  g_array_set_clear_func (t->implies, (GDestroyNotify)imply_clear);
  t->excludes = g_ptr_array_new_with_free_func (g_free);
  t->requires = g_ptr_array_new_with_free_func (g_free);
  t->requires_category = g_array_new (FALSE, FALSE, sizeof (int));
  return t;
}

static void
tech_free (Tech *t)
{
  if (t == NULL)
    return;
  g_free (t->name);
  g_free (t->website);
  g_free (t->file);
  g_array_unref (t->cat_ids);
  g_strfreev (t->categories);
  g_ptr_array_unref (t->rules);
  g_array_unref (t->implies);
  g_ptr_array_unref (t->excludes);
  g_ptr_array_unref (t->requires);
  g_array_unref (t->requires_category);
  g_free (t);
}

static void
category_free (Category *c)
{
  g_free (c->name);
  g_free (c);
}

static void
group_free (Group *g)
{
  g_free (g->name);
  g_ptr_array_unref (g->techs);
  g_free (g);
}

static void
index_free (Index *ix)
{
  guint i;

  if (ix == NULL)
    return;
  g_ptr_array_unref (ix->rules);
  for (i = 0; i < N_CHANNELS; i++)
    {
      tsq_fp_ac_free (ix->ac[i]);
      g_array_unref (ix->always[i]);
    }
  g_ptr_array_unref (ix->base);
  for (i = 0; i < G_N_ELEMENTS (ix->keyed); i++)
    g_hash_table_unref (ix->keyed[i]);
  g_ptr_array_unref (ix->sel_rules);
  g_ptr_array_unref (ix->groups);
  g_ptr_array_unref (ix->selectors);
  g_hash_table_unref (ix->sel_by_id);
  g_hash_table_unref (ix->sel_by_class);
  g_hash_table_unref (ix->sel_by_attr);
  g_hash_table_unref (ix->sel_by_tag);
  g_hash_table_unref (ix->sel_by_value);
  g_array_unref (ix->sel_any);
  g_free (ix);
}

/* ---- GObject ------------------------------------------------------------------------------ */

static void
tsq_fingerprint_db_finalize (GObject *object)
{
  TsqFingerprintDb *self = TSQ_FINGERPRINT_DB (object);

  index_free (self->index);
  g_ptr_array_unref (self->techs);
  g_hash_table_unref (self->by_name);
  g_hash_table_unref (self->categories);
  g_hash_table_unref (self->selectors);
  g_ptr_array_unref (self->warnings);
  G_OBJECT_CLASS (tsq_fingerprint_db_parent_class)->finalize (object);
}

static void
tsq_fingerprint_db_class_init (TsqFingerprintDbClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_fingerprint_db_finalize;
}

static void index_build (TsqFingerprintDb *self);

static void
tsq_fingerprint_db_init (TsqFingerprintDb *self)
{
  self->techs = g_ptr_array_new_with_free_func ((GDestroyNotify)tech_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->categories
    = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)category_free);
  self->selectors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify)tsq_css_selector_free);
  self->warnings = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->warnings, NULL);
  index_build (self);
}

TsqFingerprintDb *
tsq_fingerprint_db_new (void)
{
  return g_object_new (TSQ_TYPE_FINGERPRINT_DB, NULL);
}

void
tsq_fingerprint_db_set_strict (TsqFingerprintDb *db, gboolean strict)
{
  g_return_if_fail (TSQ_IS_FINGERPRINT_DB (db));
  db->strict = strict;
}

guint
tsq_fingerprint_db_get_size (TsqFingerprintDb *db)
{
  g_return_val_if_fail (TSQ_IS_FINGERPRINT_DB (db), 0);
  return db->techs->len;
}

const char *const *
tsq_fingerprint_db_get_warnings (TsqFingerprintDb *db)
{
  g_return_val_if_fail (TSQ_IS_FINGERPRINT_DB (db), NULL);
  return (const char *const *)db->warnings->pdata;
}

const char *const *
tsq_fingerprint_db_get_categories (TsqFingerprintDb *db, const char *name)
{
  Tech *t;

  g_return_val_if_fail (TSQ_IS_FINGERPRINT_DB (db), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  t = g_hash_table_lookup (db->by_name, name);
  return t != NULL ? (const char *const *)t->categories : NULL;
}

static void G_GNUC_PRINTF (2, 3) add_warning (TsqFingerprintDb *db, const char *format, ...)
{
  va_list args;
  char *msg;

  /* a broken public set could produce thousands: keep the first ones */
  if (db->warnings->len > 500)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("%s", msg);
  g_ptr_array_insert (db->warnings, (int)db->warnings->len - 1, msg);
}

/* ---- loading ------------------------------------------------------------------------------ */

typedef struct
{
  TsqFingerprintDb *db;
  const char *file; /* base name for messages */
  GPtrArray *techs;
  GError **error;
} Loader;

/* A pattern given as a JSON string or number (String(pattern) in parsePattern). */
static char *
node_to_pattern_text (JsonNode *node)
{
  if (!JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  switch (json_node_get_value_type (node))
    {
      case G_TYPE_STRING:
        return g_strdup (json_node_get_string (node));
      case G_TYPE_INT64:
        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      case G_TYPE_DOUBLE:
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          return g_strdup (g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node)));
        }
      case G_TYPE_BOOLEAN:
        return g_strdup (json_node_get_boolean (node) ? "true" : "false");
      default:
        return NULL;
    }
}

/* toArray(value): the pattern texts of a string / number / array node. */
static GPtrArray *
node_to_texts (JsonNode *node)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return out;
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      guint i;

      for (i = 0; i < json_array_get_length (a); i++)
        {
          char *s = node_to_pattern_text (json_array_get_element (a, i));

          if (s != NULL)
            g_ptr_array_add (out, s);
        }
    }
  else
    {
      char *s = node_to_pattern_text (node);

      if (s != NULL)
        g_ptr_array_add (out, s);
    }
  return out;
}

static guint
count_patterns (JsonNode *node)
{
  g_autoptr (GPtrArray) texts = NULL;

  if (node == NULL)
    return 0;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (o);
      GList *l;
      guint n = 0;

      for (l = members; l != NULL; l = l->next)
        {
          JsonNode *v = json_object_get_member (o, l->data);

          n += JSON_NODE_HOLDS_ARRAY (v) ? json_array_get_length (json_node_get_array (v)) : 1;
        }
      return n;
    }
  texts = node_to_texts (node);
  return texts->len;
}

/* Compiles one pattern into a rule of t. FALSE only on a strict-mode error. */
static gboolean
add_rule (Loader *ld,
          Tech *t,
          Kind kind,
          const char *key,
          const char *text,
          gboolean is_regex,
          DomOp dom_op,
          TsqCssSelector *selector)
{
  g_autoptr (GError) local = NULL;
  TsqFpPattern *pattern = tsq_fp_pattern_new (text, is_regex, &local);
  Rule *rule;

  if (pattern == NULL)
    {
      if (ld->db->strict)
        {
          g_set_error (ld->error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PATTERN,
                       "%s: technology \"%s\": bad pattern \"%s\": %s", ld->file, t->name, text,
                       local->message);
          return FALSE;
        }
      t->skipped[SKIP_INVALID]++;
      add_warning (ld->db, "%s: technology \"%s\": skipped pattern \"%s\": %s", ld->file, t->name,
                   text, local->message);
      return TRUE;
    }
  rule = g_new0 (Rule, 1);
  rule->pattern = pattern;
  rule->kind = kind;
  rule->key = key != NULL ? g_ascii_strdown (key, -1) : NULL;
  rule->dom_op = dom_op;
  rule->selector = selector;
  g_ptr_array_add (t->rules, rule);
  if (kind == KIND_DOM)
    t->n_dom_rules++;
  return TRUE;
}

static gboolean
load_list (Loader *ld, Tech *t, JsonObject *o, const char *member, Kind kind)
{
  g_autoptr (GPtrArray) texts = node_to_texts (json_object_get_member (o, member));
  guint i;

  for (i = 0; i < texts->len; i++)
    if (!add_rule (ld, t, kind, NULL, g_ptr_array_index (texts, i), TRUE, 0, NULL))
      return FALSE;
  return TRUE;
}

static gboolean
load_keyed (Loader *ld, Tech *t, JsonObject *o, const char *member, Kind kind)
{
  JsonNode *node = json_object_get_member (o, member);
  JsonObject *map;
  g_autoptr (GList) keys = NULL;
  GList *l;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      add_warning (ld->db, "%s: technology \"%s\": \"%s\" is not an object, ignored", ld->file,
                   t->name, member);
      return TRUE;
    }
  map = json_node_get_object (node);
  keys = json_object_get_members (map);
  for (l = keys; l != NULL; l = l->next)
    {
      g_autoptr (GPtrArray) texts = node_to_texts (json_object_get_member (map, l->data));
      guint i;

      for (i = 0; i < texts->len; i++)
        if (!add_rule (ld, t, kind, l->data, g_ptr_array_index (texts, i), TRUE, 0, NULL))
          return FALSE;
    }
  return TRUE;
}

static TsqCssSelector *
get_selector (Loader *ld, Tech *t, const char *text)
{
  TsqCssSelector *sel;
  g_autoptr (GError) local = NULL;

  if (g_hash_table_lookup_extended (ld->db->selectors, text, NULL, (gpointer *)&sel))
    return sel;
  sel = tsq_css_selector_parse (text, &local);
  if (sel == NULL)
    add_warning (ld->db, "%s: technology \"%s\": dom selector \"%s\" not evaluated: %s", ld->file,
                 t->name, text, local->message);
  /* NULL values remember unsupported selectors */
  g_hash_table_insert (ld->db->selectors, g_strdup (text), sel);
  return sel;
}

/* One entry of dom[selector]: {exists, text, attributes, properties}. */
static gboolean
load_dom_entry (Loader *ld, Tech *t, const char *selector_text, JsonNode *entry)
{
  TsqCssSelector *sel = get_selector (ld, t, selector_text);
  JsonObject *o;
  JsonNode *n;
  guint n_rules = 0;

  if (!JSON_NODE_HOLDS_OBJECT (entry))
    return TRUE;
  o = json_node_get_object (entry);
  n = json_object_get_member (o, "properties");
  if (n != NULL)
    t->skipped[SKIP_DOM] += count_patterns (n);
  n_rules += json_object_has_member (o, "exists") + json_object_has_member (o, "text");
  n = json_object_get_member (o, "attributes");
  if (n != NULL && JSON_NODE_HOLDS_OBJECT (n))
    n_rules += json_object_get_size (json_node_get_object (n));
  if (sel == NULL)
    {
      t->skipped[SKIP_DOM] += n_rules;
      return TRUE;
    }

  /* nested patterns are regexes (parsePattern's default), whatever the outer call said */
  n = json_object_get_member (o, "exists");
  if (n != NULL)
    {
      g_autofree char *text = node_to_pattern_text (n);

      if (!add_rule (ld, t, KIND_DOM, NULL, text ? text : "", TRUE, DOM_EXISTS, sel))
        return FALSE;
    }
  n = json_object_get_member (o, "text");
  if (n != NULL)
    {
      g_autofree char *text = node_to_pattern_text (n);

      if (!add_rule (ld, t, KIND_DOM, NULL, text ? text : "", TRUE, DOM_TEXT, sel))
        return FALSE;
    }
  n = json_object_get_member (o, "attributes");
  if (n != NULL && JSON_NODE_HOLDS_OBJECT (n))
    {
      JsonObject *attrs = json_node_get_object (n);
      g_autoptr (GList) names = json_object_get_members (attrs);
      GList *l;

      for (l = names; l != NULL; l = l->next)
        {
          g_autofree char *text = node_to_pattern_text (json_object_get_member (attrs, l->data));

          if (!add_rule (ld, t, KIND_DOM, l->data, text ? text : "", TRUE, DOM_ATTRIBUTE, sel))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
load_dom (Loader *ld, Tech *t, JsonObject *o)
{
  JsonNode *node = json_object_get_member (o, "dom");

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      /* a selector or a list of selectors: {selector: {exists: ''}} */
      g_autoptr (GPtrArray) selectors = node_to_texts (node);
      guint i;

      for (i = 0; i < selectors->len; i++)
        {
          TsqCssSelector *sel = get_selector (ld, t, g_ptr_array_index (selectors, i));

          if (sel == NULL)
            t->skipped[SKIP_DOM]++;
          else if (!add_rule (ld, t, KIND_DOM, NULL, "", FALSE, DOM_EXISTS, sel))
            return FALSE;
        }
      return TRUE;
    }
  {
    JsonObject *map = json_node_get_object (node);
    g_autoptr (GList) keys = json_object_get_members (map);
    GList *l;

    for (l = keys; l != NULL; l = l->next)
      {
        JsonNode *v = json_object_get_member (map, l->data);

        if (JSON_NODE_HOLDS_ARRAY (v))
          {
            JsonArray *a = json_node_get_array (v);
            guint i;

            for (i = 0; i < json_array_get_length (a); i++)
              if (!load_dom_entry (ld, t, l->data, json_array_get_element (a, i)))
                return FALSE;
          }
        else if (!load_dom_entry (ld, t, l->data, v))
          return FALSE;
      }
  }
  return TRUE;
}

/* implies / excludes / requires: names with optional \; tags. */
static void
load_names (JsonObject *o, const char *member, GPtrArray *names, GArray *implies)
{
  g_autoptr (GPtrArray) texts = node_to_texts (json_object_get_member (o, member));
  guint i;

  for (i = 0; i < texts->len; i++)
    {
      g_autoptr (GHashTable) tags = NULL;
      char *name = tsq_fp_split_tags (g_ptr_array_index (texts, i), &tags);

      if (implies != NULL)
        {
          Imply imply = { 0 };
          const char *c = g_hash_table_lookup (tags, "confidence");
          const char *v = g_hash_table_lookup (tags, "version");

          imply.name = name;
          imply.confidence
            = (c == NULL || *c == '\0') ? 100 : (int)CLAMP (tsq_fp_js_parse_int (c), 0, 100000);
          imply.version = (v != NULL && *v != '\0') ? g_strdup (v) : NULL;
          g_array_append_val (implies, imply);
        }
      else
        g_ptr_array_add (names, name);
    }
}

static void
load_ints (JsonObject *o, const char *member, GArray *out)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node == NULL)
    return;
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      guint i;

      for (i = 0; i < json_array_get_length (a); i++)
        {
          JsonNode *e = json_array_get_element (a, i);

          if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_INT64)
            {
              int v = (int)json_node_get_int (e);

              g_array_append_val (out, v);
            }
        }
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      int v = (int)json_node_get_int (node);

      g_array_append_val (out, v);
    }
}

static gboolean
load_technology (Loader *ld, const char *name, JsonNode *node)
{
  Tech *t;
  JsonObject *o;
  const char *website;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (ld->error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PARSE,
                   "%s: technology \"%s\" is not a JSON object", ld->file, name);
      return FALSE;
    }
  o = json_node_get_object (node);
  t = tech_new (name, ld->file);
  g_ptr_array_add (ld->techs, t);

  load_ints (o, "cats", t->cat_ids);
  website = json_object_has_member (o, "website")
              ? json_node_get_string (json_object_get_member (o, "website"))
              : NULL;
  t->website = g_strdup (website);

  /* the order of analyze()'s relations */
  t->skipped[SKIP_CERT_ISSUER] += count_patterns (json_object_get_member (o, "certIssuer"));
  if (!load_keyed (ld, t, o, "cookies", KIND_COOKIES) || !load_list (ld, t, o, "css", KIND_CSS))
    return FALSE;
  t->skipped[SKIP_DNS] += count_patterns (json_object_get_member (o, "dns"));
  if (!load_keyed (ld, t, o, "headers", KIND_HEADERS) || !load_list (ld, t, o, "html", KIND_HTML)
      || !load_keyed (ld, t, o, "meta", KIND_META))
    return FALSE;
  t->skipped[SKIP_PROBE] += count_patterns (json_object_get_member (o, "probe"));
  t->skipped[SKIP_ROBOTS] += count_patterns (json_object_get_member (o, "robots"));
  if (!load_list (ld, t, o, "scriptSrc", KIND_SCRIPT_SRC)
      || !load_list (ld, t, o, "scripts", KIND_SCRIPTS))
    return FALSE;
  t->skipped[SKIP_TEXT] += count_patterns (json_object_get_member (o, "text"));
  if (!load_list (ld, t, o, "url", KIND_URL))
    return FALSE;
  t->skipped[SKIP_XHR] += count_patterns (json_object_get_member (o, "xhr"));
  t->skipped[SKIP_JS] += count_patterns (json_object_get_member (o, "js"));
  if (!load_dom (ld, t, o))
    return FALSE;

  load_names (o, "implies", NULL, t->implies);
  load_names (o, "excludes", t->excludes, NULL);
  load_names (o, "requires", t->requires, NULL);
  load_ints (o, "requiresCategory", t->requires_category);
  return TRUE;
}

static JsonNode *
parse_json_file (const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  g_autofree char *base = g_path_get_basename (path);
  JsonNode *root;

  if (!json_parser_load_from_mapped_file (parser, path, &local))
    {
      int code
        = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT) || local->domain == G_FILE_ERROR
            ? TSQ_FINGERPRINT_ERROR_IO
            : TSQ_FINGERPRINT_ERROR_PARSE;

      g_set_error (error, TSQ_FINGERPRINT_ERROR, code, "%s: %s", path, local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PARSE,
                   "%s: expected a JSON object", base);
      return NULL;
    }
  return json_node_ref (root);
}

static gboolean
load_technologies_file (Loader *ld, const char *path)
{
  g_autoptr (JsonNode) root = parse_json_file (path, ld->error);
  g_autofree char *base = NULL;
  JsonObject *o;
  g_autoptr (GList) names = NULL;
  GList *l;

  if (root == NULL)
    return FALSE;
  base = g_path_get_basename (path);
  ld->file = base;
  o = json_node_get_object (root);
  names = json_object_get_members (o);
  for (l = names; l != NULL; l = l->next)
    if (!load_technology (ld, l->data, json_object_get_member (o, l->data)))
      return FALSE;
  ld->file = NULL;
  return TRUE;
}

static gboolean
load_categories_file (TsqFingerprintDb *db, const char *path, GHashTable *into, GError **error)
{
  g_autoptr (JsonNode) root = parse_json_file (path, error);
  JsonObject *o;
  g_autoptr (GList) ids = NULL;
  GList *l;

  if (root == NULL)
    return FALSE;
  o = json_node_get_object (root);
  ids = json_object_get_members (o);
  for (l = ids; l != NULL; l = l->next)
    {
      JsonNode *n = json_object_get_member (o, l->data);
      char *end = NULL;
      gint64 id = g_ascii_strtoll (l->data, &end, 10);
      Category *c;

      if (end == NULL || *end != '\0' || !JSON_NODE_HOLDS_OBJECT (n))
        {
          g_set_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_PARSE,
                       "%s: category \"%s\" is not an object with a numeric id", path,
                       (const char *)l->data);
          return FALSE;
        }
      c = g_new0 (Category, 1);
      c->name = g_strdup (
        json_object_get_string_member_with_default (json_node_get_object (n), "name", l->data));
      c->priority
        = (int)json_object_get_int_member_with_default (json_node_get_object (n), "priority", 0);
      g_hash_table_insert (into, GINT_TO_POINTER ((int)id), c);
    }
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

gboolean
tsq_fingerprint_db_load (TsqFingerprintDb *db, const char *path, GError **error)
{
  g_autoptr (GPtrArray) tech_files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) techs = g_ptr_array_new_with_free_func ((GDestroyNotify)tech_free);
  g_autoptr (GHashTable) categories
    = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)category_free);
  g_autofree char *categories_path = NULL;
  g_autoptr (GHashTable) loaded = NULL;
  Loader ld = { db, NULL, techs, error };
  GHashTableIter iter;
  gpointer key, value;
  guint i;

  g_return_val_if_fail (TSQ_IS_FINGERPRINT_DB (db), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *single = g_build_filename (path, "technologies.json", NULL);
      g_autofree char *split = g_build_filename (path, "technologies", NULL);

      categories_path = g_build_filename (path, "categories.json", NULL);
      if (g_file_test (single, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (tech_files, g_steal_pointer (&single));
      else if (g_file_test (split, G_FILE_TEST_IS_DIR))
        {
          g_autoptr (GDir) dir = g_dir_open (split, 0, error);
          const char *name;

          if (dir == NULL)
            return FALSE;
          while ((name = g_dir_read_name (dir)) != NULL)
            if (g_str_has_suffix (name, ".json"))
              g_ptr_array_add (tech_files, g_build_filename (split, name, NULL));
          g_ptr_array_sort (tech_files, compare_strings);
        }
      if (tech_files->len == 0)
        {
          g_set_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_NOT_FOUND,
                       "%s: no technologies.json and no technologies/*.json", path);
          return FALSE;
        }
    }
  else if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *dir = g_path_get_dirname (path);

      g_ptr_array_add (tech_files, g_strdup (path));
      categories_path = g_build_filename (dir, "categories.json", NULL);
    }
  else
    {
      g_set_error (error, TSQ_FINGERPRINT_ERROR, TSQ_FINGERPRINT_ERROR_NOT_FOUND,
                   "%s: no such file or directory", path);
      return FALSE;
    }

  /* categories.json is optional for a set that only adds technologies to known categories */
  if (g_file_test (categories_path, G_FILE_TEST_IS_REGULAR)
      && !load_categories_file (db, categories_path, categories, error))
    return FALSE;

  for (i = 0; i < tech_files->len; i++)
    if (!load_technologies_file (&ld, g_ptr_array_index (tech_files, i)))
      return FALSE;

  /* everything parsed: commit (a failed load leaves the db as it was) */
  g_hash_table_iter_init (&iter, categories);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_hash_table_iter_steal (&iter);
      g_hash_table_replace (db->categories, key, value);
    }
  loaded = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (i = 0; i < techs->len; i++)
    {
      Tech *t = g_ptr_array_index (techs, i);
      Tech *old = g_hash_table_lookup (db->by_name, t->name);

      g_hash_table_add (loaded, t);
      g_ptr_array_index (techs, i) = NULL;
      /* before freeing old: the table compares against the key it holds (old->name) */
      g_hash_table_replace (db->by_name, t->name, t);
      if (old != NULL)
        {
          guint pos;

          /* replace in place: a later definition keeps the first one's position */
          if (g_ptr_array_find (db->techs, old, &pos))
            g_ptr_array_index (db->techs, pos) = t;
          tech_free (old);
        }
      else
        g_ptr_array_add (db->techs, t);
    }
  index_build (db);

  /* Wappalyzer throws on references to unknown technologies; here they are ignored and noted */
  for (i = 0; i < db->techs->len; i++)
    {
      Tech *t = g_ptr_array_index (db->techs, i);
      guint j;

      if (!g_hash_table_contains (loaded, t))
        continue;
      for (j = 0; j < t->implies->len; j++)
        if (!g_hash_table_contains (db->by_name, g_array_index (t->implies, Imply, j).name))
          add_warning (db, "%s: technology \"%s\": implies unknown \"%s\"", t->file, t->name,
                       g_array_index (t->implies, Imply, j).name);
      for (j = 0; j < t->excludes->len; j++)
        if (!g_hash_table_contains (db->by_name, g_ptr_array_index (t->excludes, j)))
          add_warning (db, "%s: technology \"%s\": excludes unknown \"%s\"", t->file, t->name,
                       (const char *)g_ptr_array_index (t->excludes, j));
      for (j = 0; j < t->requires->len; j++)
        if (!g_hash_table_contains (db->by_name, g_ptr_array_index (t->requires, j)))
          add_warning (db, "%s: technology \"%s\": requires unknown \"%s\"", t->file, t->name,
                       (const char *)g_ptr_array_index (t->requires, j));
    }
  return TRUE;
}

/* ---- index -------------------------------------------------------------------------------- */

static Channel
kind_channel (Kind kind)
{
  switch (kind)
    {
      case KIND_CSS:
        return CH_CSS;
      case KIND_HTML:
        return CH_HTML;
      case KIND_SCRIPT_SRC:
        return CH_SCRIPT_SRC;
      case KIND_SCRIPTS:
        return CH_SCRIPTS;
      case KIND_URL:
        return CH_URL;
      default:
        return CH_NONE;
    }
}

static void
bucket_add (GHashTable *table, const char *key, guint id)
{
  GArray *ids = g_hash_table_lookup (table, key);

  if (ids == NULL)
    {
      ids = g_array_new (FALSE, FALSE, sizeof (guint));
      g_hash_table_insert (table, g_strdup (key), ids);
    }
  g_array_append_val (ids, id);
}

static GHashTable *
bucket_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
}

static Group *
group_get (GPtrArray *groups, GHashTable *lookup, const char *name, int category)
{
  g_autofree char *key
    = name != NULL ? g_strdup_printf ("n:%s", name) : g_strdup_printf ("c:%d", category);
  Group *g = g_hash_table_lookup (lookup, key);

  if (g == NULL)
    {
      g = g_new0 (Group, 1);
      g->by_category = name == NULL;
      g->name = g_strdup (name);
      g->category = category;
      g->techs = g_ptr_array_new ();
      g_ptr_array_add (groups, g);
      g_hash_table_insert (lookup, g_steal_pointer (&key), g);
    }
  return g;
}

static void
index_build (TsqFingerprintDb *self)
{
  Index *ix = g_new0 (Index, 1);
  g_autoptr (GHashTable) group_lookup
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) selector_ids = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint i, j, k;

  ix->rules = g_ptr_array_new ();
  for (i = 0; i < N_CHANNELS; i++)
    {
      ix->ac[i] = tsq_fp_ac_new ();
      ix->always[i] = g_array_new (FALSE, FALSE, sizeof (guint));
    }
  ix->base = g_ptr_array_new ();
  for (i = 0; i < G_N_ELEMENTS (ix->keyed); i++)
    ix->keyed[i] = bucket_table_new ();
  ix->sel_rules = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  ix->groups = g_ptr_array_new_with_free_func ((GDestroyNotify)group_free);
  ix->selectors = g_ptr_array_new ();
  ix->sel_by_id = bucket_table_new ();
  ix->sel_by_class = bucket_table_new ();
  ix->sel_by_attr = bucket_table_new ();
  ix->sel_by_tag = bucket_table_new ();
  ix->sel_by_value
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)tsq_fp_ac_free);
  ix->sel_any = g_array_new (FALSE, FALSE, sizeof (guint));

  for (i = 0; i < self->techs->len; i++)
    {
      Tech *t = g_ptr_array_index (self->techs, i);
      GPtrArray *names = g_ptr_array_new ();

      t->index = i;
      for (k = 0; k < N_SKIP; k++)
        ix->skipped[k] += t->skipped[k];
      ix->n_dom_rules += t->n_dom_rules;

      for (j = 0; j < t->rules->len; j++)
        {
          Rule *r = g_ptr_array_index (t->rules, j);
          Channel ch = kind_channel (r->kind);

          r->id = ix->rules->len;
          r->tech = t;
          g_ptr_array_add (ix->rules, r);
          if (r->kind == KIND_HEADERS || r->kind == KIND_COOKIES || r->kind == KIND_META)
            bucket_add (ix->keyed[r->kind == KIND_HEADERS   ? 0
                                  : r->kind == KIND_COOKIES ? 1
                                                            : 2],
                        r->key, r->id);
          if (ch != CH_NONE)
            {
              if (r->pattern->literals == NULL)
                g_array_append_val (ix->always[ch], r->id);
              else
                for (k = 0; r->pattern->literals[k] != NULL; k++)
                  tsq_fp_ac_add (ix->ac[ch], r->pattern->literals[k], r->id);
            }
          if (r->kind == KIND_DOM)
            {
              gpointer idp = g_hash_table_lookup (selector_ids, r->selector);

              if (idp == NULL)
                {
                  guint sid = ix->selectors->len;

                  g_ptr_array_add (ix->selectors, r->selector);
                  g_ptr_array_add (ix->sel_rules, g_array_new (FALSE, FALSE, sizeof (guint)));
                  g_hash_table_insert (selector_ids, r->selector, GUINT_TO_POINTER (sid + 1));
                  for (k = 0; k < tsq_css_selector_get_n_alternatives (r->selector); k++)
                    {
                      const char *v, *attr;
                      TsqFpAc *ac;

                      switch (tsq_css_selector_get_key (r->selector, k, &v, &attr))
                        {
                          case TSQ_CSS_KEY_ATTR_VALUE:
                            ac = g_hash_table_lookup (ix->sel_by_value, attr);
                            if (ac == NULL)
                              {
                                ac = tsq_fp_ac_new ();
                                g_hash_table_insert (ix->sel_by_value, g_strdup (attr), ac);
                              }
                            tsq_fp_ac_add (ac, v, sid);
                            break;
                          case TSQ_CSS_KEY_ID:
                            bucket_add (ix->sel_by_id, v, sid);
                            break;
                          case TSQ_CSS_KEY_CLASS:
                            bucket_add (ix->sel_by_class, v, sid);
                            break;
                          case TSQ_CSS_KEY_ATTR:
                            bucket_add (ix->sel_by_attr, v, sid);
                            break;
                          case TSQ_CSS_KEY_TAG:
                            bucket_add (ix->sel_by_tag, v, sid);
                            break;
                          case TSQ_CSS_KEY_ANY:
                          default:
                            g_array_append_val (ix->sel_any, sid);
                            break;
                        }
                    }
                  idp = GUINT_TO_POINTER (sid + 1);
                }
              r->selector_id = GPOINTER_TO_UINT (idp) - 1;
              g_array_append_val (g_ptr_array_index (ix->sel_rules, r->selector_id), r->id);
            }
        }

      /* category names */
      for (j = 0; j < t->cat_ids->len; j++)
        {
          Category *c = g_hash_table_lookup (self->categories,
                                             GINT_TO_POINTER (g_array_index (t->cat_ids, int, j)));

          if (c != NULL)
            g_ptr_array_add (names, g_strdup (c->name));
        }
      g_ptr_array_add (names, NULL);
      g_strfreev (t->categories);
      t->categories = (GStrv)g_ptr_array_free (names, FALSE);

      /* setTechnologies(): technologies with requires are only analyzed once what they require
       * was detected */
      t->base = t->requires->len == 0 && t->requires_category->len == 0;
      if (t->base)
        g_ptr_array_add (ix->base, t);
      for (j = 0; j < t->requires->len; j++)
        {
          const char *name = g_ptr_array_index (t->requires, j);

          g_ptr_array_add (group_get (ix->groups, group_lookup, name, 0)->techs, t);
        }
      for (j = 0; j < t->requires_category->len; j++)
        g_ptr_array_add (
          group_get (ix->groups, group_lookup, NULL, g_array_index (t->requires_category, int, j))
            ->techs,
          t);
    }

  for (i = 0; i < N_CHANNELS; i++)
    tsq_fp_ac_compile (ix->ac[i]);
  {
    GHashTableIter iter;
    gpointer ac;

    g_hash_table_iter_init (&iter, ix->sel_by_value);
    while (g_hash_table_iter_next (&iter, NULL, &ac))
      tsq_fp_ac_compile (ac);
  }

  index_free (self->index);
  self->index = ix;
}

/* ---- analysis ----------------------------------------------------------------------------- */

typedef struct
{
  const char *s; /* valid UTF-8 */
  gsize len;
  char *owned;
  char *lower; /* ASCII lower-case copy, for memmem prefilters (short texts only) */
} Text;

typedef struct
{
  Tech *tech;
  int confidence;
  char *version; /* "" when none */
} Det;

typedef struct
{
  Tech *tech;
  int confidence;
  char *version;
} Res;

typedef struct
{
  TsqFingerprintDb *db;
  Index *ix;
  const TsqFingerprintInput *in;
  Text html, scripts, css, url;
  GPtrArray *src;      /* Text* */
  GHashTable *headers; /* lower name -> Text* */
  GHashTable *cookies; /* lower name -> Text* */
  GHashTable *meta;    /* lower name -> GPtrArray of Text* */
  guint64 *cand;       /* rule id bits: worth running (literal found, key present) */
  int *first_start;
  GArray *dets;          /* Det */
  GPtrArray **sel_nodes; /* per selector id: xmlNode* matches, or NULL */
  guint8 *evaluated;     /* bits by Tech index */
} Ctx;

static void
text_set (Text *t, const char *s, gssize len, gboolean want_lower)
{
  const char *end;

  memset (t, 0, sizeof *t);
  if (s == NULL)
    return;
  if (len < 0)
    len = (gssize)strlen (s);
  /* GRegex matches without a UTF-8 check: invalid input must never reach PCRE2 */
  if (g_utf8_validate (s, len, &end))
    {
      t->s = s;
      t->len = (gsize)len;
    }
  else
    {
      t->owned = g_utf8_make_valid (s, len);
      t->s = t->owned;
      t->len = strlen (t->owned);
    }
  if (want_lower)
    t->lower = g_ascii_strdown (t->s, (gssize)t->len);
}

static void
text_clear (Text *t)
{
  g_free (t->owned);
  g_free (t->lower);
  memset (t, 0, sizeof *t);
}

static Text *
text_new (const char *s, gboolean want_lower)
{
  Text *t = g_new0 (Text, 1);

  text_set (t, s, -1, want_lower);
  return t;
}

static void
text_free (Text *t)
{
  text_clear (t);
  g_free (t);
}

static void
text_set_joined (Text *t, GPtrArray *parts)
{
  GString *joined;
  guint i;

  memset (t, 0, sizeof *t);
  if (parts == NULL || parts->len == 0)
    return;
  /* the driver passes scripts / css as one text joined with newlines */
  joined = g_string_new (NULL);
  for (i = 0; i < parts->len; i++)
    {
      const char *p = g_ptr_array_index (parts, i);

      if (i > 0)
        g_string_append_c (joined, '\n');
      if (p != NULL)
        g_string_append (joined, p);
    }
  text_set (t, joined->str, (gssize)joined->len, FALSE);
  if (t->owned == NULL)
    t->owned = g_string_free (joined, FALSE);
  else
    g_string_free (joined, TRUE);
}

#define BIT_SET(bits, i) ((bits)[(i) >> 3] & (1u << ((i)&7)))
#define CAND_SET(ctx, i) ((ctx)->cand[(i) >> 6] |= G_GUINT64_CONSTANT (1) << ((i)&63))
#define CAND_TEST(ctx, i) (((ctx)->cand[(i) >> 6] >> ((i)&63)) & 1)

static void
mark_keyed (Ctx *ctx, guint which, const char *key)
{
  GArray *ids = g_hash_table_lookup (ctx->ix->keyed[which], key);
  guint i;

  for (i = 0; ids != NULL && i < ids->len; i++)
    CAND_SET (ctx, g_array_index (ids, guint, i));
}

static void
scan_channel (Ctx *ctx, Channel ch, const Text *t, gboolean positions)
{
  GArray *always = ctx->ix->always[ch];
  guint i;

  if (t->s == NULL)
    return;
  tsq_fp_ac_scan (ctx->ix->ac[ch], t->s, t->len, ctx->cand, positions ? ctx->first_start : NULL);
  for (i = 0; i < always->len; i++)
    {
      guint id = g_array_index (always, guint, i);

      CAND_SET (ctx, id);
    }
}

static void
ctx_init (Ctx *ctx, TsqFingerprintDb *db, const TsqFingerprintInput *in)
{
  Index *ix = db->index;
  guint n_rules = ix->rules->len;
  GHashTableIter iter;
  gpointer key, value;
  guint i;

  memset (ctx, 0, sizeof *ctx);
  ctx->db = db;
  ctx->ix = ix;
  ctx->in = in;
  ctx->cand = g_new0 (guint64, n_rules / 64 + 1);
  ctx->first_start = g_new (int, n_rules + 1);
  for (i = 0; i < n_rules; i++)
    ctx->first_start[i] = G_MAXINT;
  ctx->dets = g_array_new (FALSE, FALSE, sizeof (Det));
  ctx->evaluated = g_malloc0 (db->techs->len / 8 + 1);

  text_set (&ctx->html, in->html, -1, FALSE);
  text_set_joined (&ctx->scripts, in->scripts);
  text_set_joined (&ctx->css, in->css);
  text_set (&ctx->url, in->url, -1, FALSE);
  ctx->src = g_ptr_array_new_with_free_func ((GDestroyNotify)text_free);
  for (i = 0; in->script_src != NULL && i < in->script_src->len; i++)
    {
      const char *s = g_ptr_array_index (in->script_src, i);

      if (s != NULL)
        g_ptr_array_add (ctx->src, text_new (s, TRUE));
    }

  ctx->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)text_free);
  if (in->headers != NULL)
    {
      g_hash_table_iter_init (&iter, in->headers);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (key != NULL && value != NULL)
          {
            char *lower = g_ascii_strdown (key, -1);

            mark_keyed (ctx, 0, lower);
            g_hash_table_replace (ctx->headers, lower, text_new (value, TRUE));
          }
    }
  ctx->cookies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)text_free);
  if (in->cookies != NULL)
    {
      g_hash_table_iter_init (&iter, in->cookies);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (key != NULL && value != NULL)
          {
            char *lower = g_ascii_strdown (key, -1);

            mark_keyed (ctx, 1, lower);
            g_hash_table_replace (ctx->cookies, lower, text_new (value, TRUE));
          }
    }
  ctx->meta
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  if (in->meta != NULL)
    {
      g_hash_table_iter_init (&iter, in->meta);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          GPtrArray *contents = value;
          GPtrArray *texts;
          g_autofree char *lower = NULL;

          if (key == NULL || contents == NULL)
            continue;
          lower = g_ascii_strdown (key, -1);
          mark_keyed (ctx, 2, lower);
          texts = g_hash_table_lookup (ctx->meta, lower);
          if (texts == NULL)
            {
              texts = g_ptr_array_new_with_free_func ((GDestroyNotify)text_free);
              g_hash_table_insert (ctx->meta, g_steal_pointer (&lower), texts);
            }
          for (i = 0; i < contents->len; i++)
            if (g_ptr_array_index (contents, i) != NULL)
              g_ptr_array_add (texts, text_new (g_ptr_array_index (contents, i), TRUE));
        }
    }

  scan_channel (ctx, CH_HTML, &ctx->html, TRUE);
  scan_channel (ctx, CH_SCRIPTS, &ctx->scripts, TRUE);
  scan_channel (ctx, CH_CSS, &ctx->css, TRUE);
  scan_channel (ctx, CH_URL, &ctx->url, FALSE);
  for (i = 0; i < ctx->src->len; i++)
    scan_channel (ctx, CH_SCRIPT_SRC, g_ptr_array_index (ctx->src, i), FALSE);
}

static void
ctx_clear (Ctx *ctx)
{
  guint i;

  g_free (ctx->cand);
  g_free (ctx->first_start);
  for (i = 0; i < ctx->dets->len; i++)
    g_free (g_array_index (ctx->dets, Det, i).version);
  g_array_unref (ctx->dets);
  g_free (ctx->evaluated);
  text_clear (&ctx->html);
  text_clear (&ctx->scripts);
  text_clear (&ctx->css);
  text_clear (&ctx->url);
  g_ptr_array_unref (ctx->src);
  g_hash_table_unref (ctx->headers);
  g_hash_table_unref (ctx->cookies);
  g_hash_table_unref (ctx->meta);
  if (ctx->sel_nodes != NULL)
    {
      for (i = 0; i < ctx->ix->selectors->len; i++)
        if (ctx->sel_nodes[i] != NULL)
          g_ptr_array_unref (ctx->sel_nodes[i]);
      g_free (ctx->sel_nodes);
    }
}

static void
add_det (Ctx *ctx, Tech *t, const Rule *r, char *version)
{
  Det d = { t, r->pattern->confidence, version ? version : g_strdup ("") };

  g_array_append_val (ctx->dets, d);
}

/* Runs rule over one value; adds a detection on a match. */
static void
match_value (Ctx *ctx, Tech *t, Rule *r, const Text *v, gboolean prefilter, int start)
{
  char *version = NULL;

  if (prefilter && v->lower != NULL && !tsq_fp_pattern_prefilter (r->pattern, v->lower, v->len))
    return;
  /* JIT pays off on long texts; short values (script URLs, headers) run interpreted */
  if (tsq_fp_pattern_match (r->pattern, v->s, (gssize)v->len, start, v->len > 2048, &version))
    add_det (ctx, t, r, version);
}

static int
start_offset (Ctx *ctx, const Rule *r)
{
  int first = ctx->first_start[r->id];

  /* A match contains an occurrence of a literal, at first_start or later, and is at most
   * max_bytes long: it cannot start before first_start - max_bytes. PCRE2 still sees the text
   * before the offset for lookbehinds and \b. */
  if (first == G_MAXINT || r->pattern->max_bytes == G_MAXINT)
    return 0;
  return MAX (0, first - r->pattern->max_bytes);
}

typedef struct
{
  Ctx *ctx;
  xmlNode *node;
  xmlNode **last;
} DomVisit;

static void
dom_try_selector (guint sid, gpointer user_data)
{
  DomVisit *visit = user_data;
  Ctx *ctx = visit->ctx;

  if (visit->last[sid] == visit->node)
    return;
  visit->last[sid] = visit->node;
  if (tsq_css_selector_matches (g_ptr_array_index (ctx->ix->selectors, sid), visit->node))
    {
      if (ctx->sel_nodes[sid] == NULL)
        {
          GArray *ids = g_ptr_array_index (ctx->ix->sel_rules, sid);
          guint i;

          ctx->sel_nodes[sid] = g_ptr_array_new ();
          for (i = 0; i < ids->len; i++)
            CAND_SET (ctx, g_array_index (ids, guint, i));
        }
      g_ptr_array_add (ctx->sel_nodes[sid], visit->node);
    }
}

static void
collect_dom (Ctx *ctx)
{
  Index *ix = ctx->ix;
  guint n_sel = ix->selectors->len;
  xmlNode **last;
  xmlNode *n;
  xmlNode *root = (xmlNode *)ctx->in->dom;

  ctx->sel_nodes = g_new0 (GPtrArray *, MAX (1, n_sel));
  if (n_sel == 0)
    return;
  last = g_new0 (xmlNode *, n_sel);

  /* one pre-order walk; each element is tested only against the selectors whose subject needs
   * something it has (its id, a class, an attribute, its tag) */
  n = root->children;
  while (n != NULL && n != root)
    {
      if (n->type == XML_ELEMENT_NODE)
        {
          GArray *buckets[64];
          guint nb = 0, b, i;
          xmlAttr *a;

          buckets[nb++] = ix->sel_any;
          if (n->name != NULL)
            {
              GArray *ids = g_hash_table_lookup (ix->sel_by_tag, n->name);

              if (ids != NULL)
                buckets[nb++] = ids;
            }
          for (a = n->properties; a != NULL; a = a->next)
            {
              GArray *ids;
              const char *v;

              if (a->name == NULL)
                continue;
              ids = g_hash_table_lookup (ix->sel_by_attr, a->name);
              if (ids != NULL && nb < G_N_ELEMENTS (buckets))
                buckets[nb++] = ids;
              v = (a->children != NULL && a->children->type == XML_TEXT_NODE
                   && a->children->content != NULL)
                    ? (const char *)a->children->content
                    : NULL;
              if (v == NULL)
                continue;
              {
                TsqFpAc *ac = g_hash_table_lookup (ix->sel_by_value, a->name);
                DomVisit visit = { ctx, n, last };

                if (ac != NULL)
                  tsq_fp_ac_scan_func (ac, v, strlen (v), dom_try_selector, &visit);
              }
              if (strcmp ((const char *)a->name, "id") == 0)
                {
                  ids = g_hash_table_lookup (ix->sel_by_id, v);
                  if (ids != NULL && nb < G_N_ELEMENTS (buckets))
                    buckets[nb++] = ids;
                }
              else if (strcmp ((const char *)a->name, "class") == 0)
                {
                  g_auto (GStrv) tokens = g_strsplit_set (v, " \t\n\r\f", -1);
                  guint t;

                  for (t = 0; tokens[t] != NULL; t++)
                    {
                      if (tokens[t][0] == '\0')
                        continue;
                      ids = g_hash_table_lookup (ix->sel_by_class, tokens[t]);
                      if (ids != NULL && nb < G_N_ELEMENTS (buckets))
                        buckets[nb++] = ids;
                    }
                }
            }
          for (b = 0; b < nb; b++)
            {
              DomVisit visit = { ctx, n, last };

              for (i = 0; i < buckets[b]->len; i++)
                dom_try_selector (g_array_index (buckets[b], guint, i), &visit);
            }
        }
      if (n->type == XML_ELEMENT_NODE && n->children != NULL)
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
  g_free (last);
}

/* node.textContent.trim(), capped like the driver (1,000,000 chars) */
static char *
node_text (xmlNode *node)
{
  xmlChar *content = xmlNodeGetContent (node);
  char *s;
  gsize len;

  if (content == NULL)
    return g_strdup ("");
  s = g_strstrip (g_strdup ((const char *)content));
  xmlFree (content);
  len = strlen (s);
  if (len > 1000000)
    {
      const char *end = s + 1000000;

      /* cut on a character boundary */
      while (end > s && ((guchar)*end & 0xC0) == 0x80)
        end--;
      s[end - s] = '\0';
    }
  return s;
}

/* The content script's rules: a selector that matches gives one `exists` entry; each distinct
 * trimmed text of a matching node a `text` entry; the first matching node having an attribute an
 * `attributes` entry; at most 50 entries per technology. */
static void
eval_dom_rule (Ctx *ctx, Tech *t, Rule *r, guint *budget)
{
  GPtrArray *nodes = ctx->sel_nodes[r->selector_id];
  guint i;

  if (nodes == NULL || nodes->len == 0 || *budget == 0)
    return;
  switch (r->dom_op)
    {
      case DOM_EXISTS:
        {
          Text empty = { "", 0, NULL, NULL };

          (*budget)--;
          match_value (ctx, t, r, &empty, FALSE, 0);
          break;
        }
      case DOM_TEXT:
        {
          g_autoptr (GHashTable) seen
            = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

          for (i = 0; i<nodes->len && * budget> 0; i++)
            {
              char *s = node_text (g_ptr_array_index (nodes, i));
              Text v = { 0 };

              if (*s == '\0' || !g_hash_table_add (seen, s))
                {
                  if (*s == '\0')
                    g_free (s);
                  continue;
                }
              (*budget)--;
              text_set (&v, s, -1, FALSE);
              match_value (ctx, t, r, &v, FALSE, 0);
              text_clear (&v);
            }
          break;
        }
      case DOM_ATTRIBUTE:
        for (i = 0; i < nodes->len; i++)
          {
            xmlChar *to_free = NULL;
            const char *value
              = tsq_css_node_get_attribute (g_ptr_array_index (nodes, i), r->key, &to_free);

            if (value != NULL)
              {
                Text v = { 0 };

                (*budget)--;
                text_set (&v, value, -1, FALSE);
                match_value (ctx, t, r, &v, FALSE, 0);
                text_clear (&v);
                if (to_free != NULL)
                  xmlFree (to_free);
                break;
              }
          }
        break;
      default:
        break;
    }
}

/* Runs a candidate rule (CAND_TEST true) on its values. */
static void
eval_rule (Ctx *ctx, Rule *r, guint *dom_budget)
{
  Tech *t = r->tech;
  guint j;

  switch (r->kind)
    {
      case KIND_HTML:
      case KIND_SCRIPTS:
      case KIND_CSS:
      case KIND_URL:
        {
          const Text *v = r->kind == KIND_HTML      ? &ctx->html
                          : r->kind == KIND_SCRIPTS ? &ctx->scripts
                          : r->kind == KIND_CSS     ? &ctx->css
                                                    : &ctx->url;

          if (v->s != NULL)
            match_value (ctx, t, r, v, FALSE, r->kind == KIND_URL ? 0 : start_offset (ctx, r));
          break;
        }
      case KIND_SCRIPT_SRC:
        for (j = 0; j < ctx->src->len; j++)
          match_value (ctx, t, r, g_ptr_array_index (ctx->src, j), TRUE, 0);
        break;
      case KIND_HEADERS:
      case KIND_COOKIES:
        {
          const Text *v
            = g_hash_table_lookup (r->kind == KIND_HEADERS ? ctx->headers : ctx->cookies, r->key);

          if (v != NULL)
            match_value (ctx, t, r, v, TRUE, 0);
          break;
        }
      case KIND_META:
        {
          GPtrArray *values = g_hash_table_lookup (ctx->meta, r->key);

          for (j = 0; values != NULL && j < values->len; j++)
            match_value (ctx, t, r, g_ptr_array_index (values, j), TRUE, 0);
          break;
        }
      case KIND_DOM:
        if (ctx->sel_nodes != NULL)
          eval_dom_rule (ctx, t, r, dom_budget);
        break;
      default:
        break;
    }
}

/* First pass: every candidate rule of a technology without requires, in rule id order, which is
 * Wappalyzer's order (technologies, then kinds, then patterns; dom last). */
static void
eval_base (Ctx *ctx)
{
  guint n_words = ctx->ix->rules->len / 64 + 1;
  Tech *current = NULL;
  guint budget = 0;
  guint w;

  for (w = 0; w < n_words; w++)
    {
      guint64 bits = ctx->cand[w];

      while (bits != 0)
        {
          guint id = w * 64 + (guint)__builtin_ctzll (bits);
          Rule *r;

          bits &= bits - 1;
          if (id >= ctx->ix->rules->len)
            break;
          r = g_ptr_array_index (ctx->ix->rules, id);
          if (!r->tech->base)
            continue;
          if (r->tech != current)
            {
              current = r->tech;
              budget = 50;
            }
          eval_rule (ctx, r, &budget);
        }
    }
}

static void
eval_tech (Ctx *ctx, Tech *t)
{
  guint dom_budget = 50;
  guint i;

  if (BIT_SET (ctx->evaluated, t->index))
    return;
  ctx->evaluated[t->index >> 3] |= (guint8)(1u << (t->index & 7));
  for (i = 0; i < t->rules->len; i++)
    {
      Rule *r = g_ptr_array_index (t->rules, i);

      if (CAND_TEST (ctx, r->id))
        eval_rule (ctx, r, &dom_budget);
    }
}

static void
res_free (Res *r)
{
  g_free (r->version);
  g_free (r);
}

static gboolean
res_contains (GPtrArray *res, Tech *t)
{
  guint i;

  for (i = 0; i < res->len; i++)
    if (((Res *)g_ptr_array_index (res, i))->tech == t)
      return TRUE;
  return FALSE;
}

/* Wappalyzer.resolve(): merge detections per technology, then resolveExcludes and
 * resolveImplies. */
static GPtrArray *
resolve (Ctx *ctx)
{
  GPtrArray *res = g_ptr_array_new_with_free_func ((GDestroyNotify)res_free);
  g_autoptr (GHashTable) by_tech = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint i, len0, k;
  gboolean done;

  for (i = 0; i < ctx->dets->len; i++)
    {
      const Det *d = &g_array_index (ctx->dets, Det, i);
      Res *r = g_hash_table_lookup (by_tech, d->tech);
      glong vlen, rlen;

      if (r == NULL)
        {
          r = g_new0 (Res, 1);
          r->tech = d->tech;
          r->version = g_strdup ("");
          g_ptr_array_add (res, r);
          g_hash_table_insert (by_tech, d->tech, r);
        }
      r->confidence = MIN (100, r->confidence + d->confidence);
      vlen = g_utf8_strlen (d->version, -1);
      rlen = g_utf8_strlen (r->version, -1);
      /* longest version, at most 15 chars, not a timestamp-like number */
      if (vlen > rlen && vlen <= 15 && tsq_fp_js_parse_int (d->version) < 10000)
        {
          g_free (r->version);
          r->version = g_strdup (d->version);
        }
    }

  /* resolveExcludes: forEach over an array spliced while iterating */
  len0 = res->len;
  for (k = 0; k < len0; k++)
    {
      Res *r;
      guint e;

      if (k >= res->len)
        continue;
      r = g_ptr_array_index (res, k);
      for (e = 0; e < r->tech->excludes->len; e++)
        {
          Tech *x
            = g_hash_table_lookup (ctx->db->by_name, g_ptr_array_index (r->tech->excludes, e));
          guint m;

          if (x == NULL)
            continue;
          for (m = 0; m < res->len;)
            {
              if (((Res *)g_ptr_array_index (res, m))->tech == x)
                {
                  if (g_ptr_array_index (res, m) == r)
                    r = NULL;
                  g_ptr_array_remove_index (res, m);
                }
              else
                m++;
            }
          if (r == NULL)
            break;
        }
    }

  /* resolveImplies: repeat until nothing new; forEach does not visit what a pass appends */
  do
    {
      done = TRUE;
      len0 = res->len;
      for (k = 0; k < len0; k++)
        {
          Res *r = g_ptr_array_index (res, k);
          guint m;

          for (m = 0; m < r->tech->implies->len; m++)
            {
              const Imply *imp = &g_array_index (r->tech->implies, Imply, m);
              Tech *x = g_hash_table_lookup (ctx->db->by_name, imp->name);

              if (x == NULL || res_contains (res, x))
                continue;
              {
                Res *n = g_new0 (Res, 1);

                n->tech = x;
                n->confidence = MIN (r->confidence, imp->confidence);
                n->version = g_strdup (imp->version ? imp->version : "");
                g_ptr_array_add (res, n);
                done = FALSE;
              }
            }
        }
    }
  while (res->len > 0 && !done);
  return res;
}

static gboolean
group_applies (const Group *g, GPtrArray *res)
{
  guint i, j;

  for (i = 0; i < res->len; i++)
    {
      Tech *t = ((Res *)g_ptr_array_index (res, i))->tech;

      if (!g->by_category)
        {
          if (strcmp (t->name, g->name) == 0)
            return TRUE;
          continue;
        }
      for (j = 0; j < t->cat_ids->len; j++)
        if (g_array_index (t->cat_ids, int, j) == g->category)
          return TRUE;
    }
  return FALSE;
}

static int
compare_detections (gconstpointer a, gconstpointer b)
{
  const TsqDetection *da = *(const TsqDetection *const *)a;
  const TsqDetection *db = *(const TsqDetection *const *)b;
  int c = g_ascii_strcasecmp (da->name, db->name);

  return c != 0 ? c : strcmp (da->name, db->name);
}

static void
fill_stats (TsqFingerprintDb *db, const TsqFingerprintInput *input, TsqFingerprintStats *stats)
{
  Index *ix = db->index;
  guint k;

  stats->technologies_loaded = db->techs->len;
  stats->skipped = g_hash_table_new (g_str_hash, g_str_equal);
  for (k = 0; k < N_SKIP; k++)
    {
      guint n = ix->skipped[k];

      if (k == SKIP_DOM && input->dom == NULL)
        n += ix->n_dom_rules;
      if (n > 0)
        g_hash_table_insert (stats->skipped, (gpointer)skip_names[k], GUINT_TO_POINTER (n));
    }
}

GPtrArray *
tsq_fingerprint_db_analyze (TsqFingerprintDb *db,
                            const TsqFingerprintInput *input,
                            TsqFingerprintStats *stats)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_detection_free);
  g_autofree gboolean *group_done = NULL;
  GPtrArray *res = NULL;
  Ctx ctx;
  guint i;

  g_return_val_if_fail (TSQ_IS_FINGERPRINT_DB (db), out);
  g_return_val_if_fail (input != NULL, out);

  if (stats != NULL)
    fill_stats (db, input, stats);

  ctx_init (&ctx, db, input);
  if (input->dom != NULL && ctx.ix->n_dom_rules > 0)
    collect_dom (&ctx);

  eval_base (&ctx);

  /* the driver's second passes: technologies that require a detected technology (or one of a
   * detected category) are analyzed once that is known, until nothing new applies */
  group_done = g_new0 (gboolean, ctx.ix->groups->len + 1);
  while (TRUE)
    {
      gboolean any = FALSE;

      res = resolve (&ctx);
      for (i = 0; i < ctx.ix->groups->len; i++)
        {
          Group *g = g_ptr_array_index (ctx.ix->groups, i);
          guint j;

          if (group_done[i] || !group_applies (g, res))
            continue;
          group_done[i] = TRUE;
          any = TRUE;
          for (j = 0; j < g->techs->len; j++)
            eval_tech (&ctx, g_ptr_array_index (g->techs, j));
        }
      if (!any)
        break;
      g_ptr_array_unref (res);
    }

  for (i = 0; i < res->len; i++)
    {
      Res *r = g_ptr_array_index (res, i);
      TsqDetection *d = g_new0 (TsqDetection, 1);

      d->name = g_strdup (r->tech->name);
      d->version = *r->version != '\0' ? g_strdup (r->version) : NULL;
      d->confidence = CLAMP (r->confidence, 0, 100);
      d->categories = g_strdupv (r->tech->categories);
      d->website = g_strdup (r->tech->website);
      g_ptr_array_add (out, d);
    }
  g_ptr_array_unref (res);
  g_ptr_array_sort (out, compare_detections);
  ctx_clear (&ctx);
  return out;
}
