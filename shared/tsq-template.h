/* tsq-template.h: the logic-less notification template language (docs/templates.md).
 *
 * Mustache-like: {{var}} (escaped), {{{var}}} and {{& var}} (raw), dotted paths, sections
 * {{#x}}..{{/x}}, inverted sections {{^x}}..{{/x}}, {{.}}, comments {{! ..}}, and inside an array
 * section @index (0-based), @number (1-based), @first and @last. A template is parsed once and is
 * immutable afterwards: rendering the same template from several threads at once is safe (as long
 * as nobody modifies the context being rendered). A template set is immutable too.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TSQ_TEMPLATE_ERROR (tsq_template_error_quark ())

typedef enum
{
  TSQ_TEMPLATE_ERROR_SYNTAX,  /* the message is "name:line:column: what is wrong" */
  TSQ_TEMPLATE_ERROR_IO,      /* a template file or directory cannot be read */
  TSQ_TEMPLATE_ERROR_INVALID, /* a template set is inconsistent (file name, missing default) */
} TsqTemplateError;

GQuark tsq_template_error_quark (void);

/* How {{var}} values are escaped. Raw tags ({{{var}}}, {{& var}}) never escape. */
typedef enum
{
  TSQ_TEMPLATE_ESCAPE_TEXT,       /* nothing escaped (plain text: SMS, email text body) */
  TSQ_TEMPLATE_ESCAPE_HTML,       /* & < > " ' as entities */
  TSQ_TEMPLATE_ESCAPE_JSON,       /* inside a JSON string: " \ and control chars as \uXXXX */
  TSQ_TEMPLATE_ESCAPE_SLACK,      /* Slack mrkdwn: & < > as &amp; &lt; &gt; */
  TSQ_TEMPLATE_ESCAPE_SLACK_JSON, /* Slack mrkdwn inside a JSON string: SLACK then JSON */
  TSQ_TEMPLATE_ESCAPE_LINE,       /* one line of text (email subject): control chars -> space */
} TsqTemplateEscape;

/* "text", "html", "json", "slack", "slack-json", "line". */
const char *tsq_template_escape_to_string (TsqTemplateEscape escape);
gboolean tsq_template_escape_from_string (const char *str, TsqTemplateEscape *escape);

/* Nesting of sections deeper than this is a syntax error. */
#define TSQ_TEMPLATE_MAX_DEPTH 32

typedef struct _TsqTemplate TsqTemplate;

/* Parses TEXT (UTF-8) once. NAME is used in error messages ("name:line:column: ..."; lines and
 * columns count from 1, columns in characters) and may be NULL ("<template>"). */
TsqTemplate *
tsq_template_parse (const char *text, TsqTemplateEscape escape, const char *name, GError **error);
/* Renders with CONTEXT (may be NULL). Never fails: missing values render empty; the result is
 * always valid UTF-8 (invalid sequences in values become U+FFFD). */
char *tsq_template_render (const TsqTemplate *self, JsonObject *context);
const char *tsq_template_get_name (const TsqTemplate *self);
TsqTemplateEscape tsq_template_get_escape (const TsqTemplate *self);
void tsq_template_free (TsqTemplate *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqTemplate, tsq_template_free)

/* A directory of templates: DIR/<channel>/<alert-type>.<suffix>, where the suffix names the part
 * and the escaping (docs/templates.md):
 *   .subject.txt -> part "subject", escape line
 *   .txt         -> part "body",    escape text
 *   .html        -> part "html",    escape html
 *   .json        -> part "body",    escape json
 *   .slack.json  -> part "body",    escape slack-json
 *   .slack       -> part "body",    escape slack
 * Every part a channel has must have a default.<suffix>. Hidden files, files ending in '~' and
 * *.md are ignored; anything else that does not fit is an error. */
typedef struct _TsqTemplateSet TsqTemplateSet;

TsqTemplateSet *tsq_template_set_load (const char *dir, GError **error);
/* Several directories, later ones overriding earlier ones file by file (defaults, then the
 * user's). NULL-terminated. */
TsqTemplateSet *tsq_template_set_load_dirs (const char *const *dirs, GError **error);
/* data/templates from $TSQ_DATA_DIR, the source tree or the installed data dir. */
TsqTemplateSet *tsq_template_set_load_default (GError **error);
/* The template for CHANNEL / ALERT_TYPE / PART ("subject", "body", "html"), falling back to the
 * channel's default.<suffix>; NULL if the channel has no such part. Owned by the set. */
const TsqTemplate *tsq_template_set_lookup (const TsqTemplateSet *self,
                                            const char *channel,
                                            const char *alert_type,
                                            const char *part);
/* lookup + render; NULL if there is no such template. */
char *tsq_template_set_render (const TsqTemplateSet *self,
                               const char *channel,
                               const char *alert_type,
                               const char *part,
                               JsonObject *context);
/* Sorted channel names; free with g_strfreev. */
char **tsq_template_set_get_channels (const TsqTemplateSet *self);
guint tsq_template_set_get_size (const TsqTemplateSet *self);
void tsq_template_set_free (TsqTemplateSet *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqTemplateSet, tsq_template_set_free)

G_END_DECLS
