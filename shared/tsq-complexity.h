/* tsq-complexity.h: page complexity figures. Thread-safe. */
#pragma once

#include <json-glib/json-glib.h>

#include "tsq-page.h"

G_BEGIN_DECLS

/* {dom_nodes (elements), max_depth (the root element is depth 1), scripts_external (<script src>),
 *  scripts_inline (non-blank inline JavaScript, JSON/data blocks excluded), inline_script_bytes
 *  (UTF-8 bytes of those), stylesheets (<link rel=stylesheet> + <style>), third_party_domains
 *  (distinct registrable domains among subresource URLs other than the page's own),
 *  third_party_domain_list (sorted), page_weight_bytes (@document_bytes + @resources_bytes),
 *  images (<img>), iframes (<iframe>), forms (<form>)} */
JsonObject *tsq_complexity_measure (TsqPage *page, guint64 document_bytes, guint64 resources_bytes);

G_END_DECLS
