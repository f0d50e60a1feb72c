/* tsq-css-select.h: a small CSS selector engine over libxml2 (HTML) trees. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

#define TSQ_CSS_SELECTOR_ERROR (tsq_css_selector_error_quark ())

typedef enum
{
  TSQ_CSS_SELECTOR_ERROR_SYNTAX,      /* not a selector */
  TSQ_CSS_SELECTOR_ERROR_UNSUPPORTED, /* valid CSS this engine does not evaluate (e.g. :hover) */
} TsqCssSelectorError;

GQuark tsq_css_selector_error_quark (void);

typedef struct _TsqCssSelector TsqCssSelector;

/* Supported: type and *, #id, .class, [attr], [attr=v], [attr^=v], [attr$=v], [attr*=v],
 * [attr~=v], [attr|=v] (values quoted or not, optional `i` flag), descendant, child (>),
 * adjacent (+) and general (~) sibling combinators, selector lists (a, b), :not(compound),
 * :first-child, :last-child, :only-child, :root, :empty. Element and attribute names match
 * case-insensitively (HTML). Anything else is a TSQ_CSS_SELECTOR_ERROR. */
TsqCssSelector *tsq_css_selector_parse (const char *text, GError **error);
void tsq_css_selector_free (TsqCssSelector *sel);

/* Does the element node match? FALSE for non-element nodes. Thread-safe (read-only). */
gboolean tsq_css_selector_matches (const TsqCssSelector *sel, xmlNode *node);

/* The matching elements below root (root itself excluded; pass (xmlNode *) doc for the whole
 * document), in document order. Returns xmlNode* (not owned). */
GPtrArray *tsq_css_selector_select_all (const TsqCssSelector *sel, xmlNode *root);

/* For indexing many selectors: what the subject (rightmost compound) of each alternative of the
 * list requires. An element can only match alternative i if it has that id, class, attribute or
 * tag name (TSQ_CSS_KEY_ANY: no such requirement). */
typedef enum
{
  TSQ_CSS_KEY_ANY,
  TSQ_CSS_KEY_ID,
  TSQ_CSS_KEY_CLASS,
  TSQ_CSS_KEY_ATTR_VALUE, /* attribute *attr's value contains value (ASCII case aside) */
  TSQ_CSS_KEY_ATTR,       /* value: lower-case attribute name */
  TSQ_CSS_KEY_TAG,        /* value: lower-case element name */
} TsqCssKeyKind;

guint tsq_css_selector_get_n_alternatives (const TsqCssSelector *sel);
TsqCssKeyKind tsq_css_selector_get_key (const TsqCssSelector *sel,
                                        guint alternative,
                                        const char **value,
                                        const char **attr);

/* An attribute value of an element, case-insensitive name; borrowed when possible. Returns
 * NULL when absent. *to_free receives an allocation the caller must xmlFree (or NULL). */
const char *tsq_css_node_get_attribute (xmlNode *node, const char *name, xmlChar **to_free);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqCssSelector, tsq_css_selector_free)

G_END_DECLS
