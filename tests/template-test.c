/* template-test.c: the notification template language, template sets and the default templates. */
#include "tsq-json-util.h"
#include "tsq-template.h"
#include "tsq-test-agent.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

static JsonObject *
parse_object (const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = tsq_json_from_string (json, &error);

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

/* Parses TEXT (which must be valid) and renders it with the JSON object CONTEXT_JSON. */
static char *
render (const char *text, TsqTemplateEscape escape, const char *context_json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqTemplate) t = tsq_template_parse (text, escape, "t", &error);
  g_autoptr (JsonObject) context = context_json != NULL ? parse_object (context_json) : NULL;

  g_assert_no_error (error);
  g_assert_nonnull (t);
  return tsq_template_render (t, context);
}

#define assert_render(text, escape, ctx, expected)                                                 \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autofree char *_out = render (text, escape, ctx);                                            \
    g_assert_cmpstr (_out, ==, expected);                                                          \
  }                                                                                                \
  G_STMT_END

#define TEXT TSQ_TEMPLATE_ESCAPE_TEXT

static const char *ctx_basic
  = "{\"name\":\"Example\",\"n\":42,\"neg\":-7,\"d\":0.1,\"big\":1e300,\"t\":true,\"f\":false,"
    "\"z\":0,\"nul\":null,\"empty\":\"\",\"arr\":[1,\"two\",null],\"obj\":{\"k\":\"v\"},"
    "\"alert\":{\"monitor\":{\"name\":\"Shop\",\"url\":\"https://shop.example\"},\"id\":\"a1\"}}";

static void
test_variables (void)
{
  assert_render ("Hello {{name}}!", TEXT, ctx_basic, "Hello Example!");
  assert_render ("{{ name }}|{{\tname\t}}", TEXT, ctx_basic, "Example|Example");
  assert_render ("{{alert.monitor.name}} {{alert.monitor.url}}", TEXT, ctx_basic,
                 "Shop https://shop.example");
  assert_render ("{{n}} {{neg}} {{d}} {{big}} {{t}} {{f}} {{z}}", TEXT, ctx_basic,
                 "42 -7 0.1 1e+300 true false 0");
  /* Missing values, null and paths through non-objects render empty. */
  assert_render (
    "[{{missing}}][{{nul}}][{{alert.nope}}][{{name.length}}][{{alert.monitor.name.x}}]", TEXT,
    ctx_basic, "[][][][][]");
  /* Arrays and objects render as compact JSON. */
  assert_render ("{{arr}} {{obj}}", TEXT, ctx_basic, "[1,\"two\",null] {\"k\":\"v\"}");
  /* {{.}} at the top is the whole context; a NULL context renders everything empty. */
  assert_render ("{{.}}", TEXT, "{\"a\":1}", "{\"a\":1}");
  assert_render ("a{{x}}b{{#x}}c{{/x}}{{^x}}d{{/x}}{{.}}", TEXT, NULL, "abd");
  /* Text without tags, stray braces and a lone '}}' are literal. */
  assert_render ("{ } }} {x} {{name}}}", TEXT, ctx_basic, "{ } }} {x} Example}");
  assert_render ("", TEXT, ctx_basic, "");
  assert_render ("héllo ✓ {{name}} 🚀", TEXT, ctx_basic, "héllo ✓ Example 🚀");
}

static void
test_raw (void)
{
  const char *ctx = "{\"v\":\"<b>&\\\"'</b>\"}";

  assert_render ("{{v}}|{{{v}}}|{{& v}}|{{&v}}", TSQ_TEMPLATE_ESCAPE_HTML, ctx,
                 "&lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;|<b>&\"'</b>|<b>&\"'</b>|<b>&\"'</b>");
  assert_render ("{{{ v }}}", TSQ_TEMPLATE_ESCAPE_JSON, ctx, "<b>&\"'</b>");
}

static void
test_sections (void)
{
  const char *ctx = "{\"list\":[{\"n\":\"a\"},{\"n\":\"b\"},{\"n\":\"c\"}],\"nums\":[1,2],"
                    "\"empty\":[],\"obj\":{\"n\":\"inner\",\"deep\":{\"x\":\"X\"}},\"n\":\"outer\","
                    "\"s\":\"str\",\"zero\":0,\"f\":false,\"t\":true,\"es\":\"\",\"nul\":null,"
                    "\"eo\":{},\"dz\":0.0,\"nested\":[[1,2],[3]]}";

  assert_render ("{{#list}}<{{n}}>{{/list}}", TEXT, ctx, "<a><b><c>");
  assert_render ("{{#nums}}{{.}},{{/nums}}", TEXT, ctx, "1,2,");
  assert_render ("{{#nested}}[{{#.}}{{.}}{{/.}}]{{/nested}}", TEXT, ctx, "[12][3]");
  /* Objects enter a scope; names not found inside fall back to outer scopes. */
  assert_render ("{{#obj}}{{n}}/{{deep.x}}/{{s}}{{/obj}} {{n}}", TEXT, ctx, "inner/X/str outer");
  assert_render ("{{#obj.deep}}{{x}}{{/obj.deep}}", TEXT, ctx, "X");
  /* A dotted name is strict after its first part: no fallback for obj.s. */
  assert_render ("{{#obj}}[{{obj.s}}]{{/obj}}", TEXT, ctx, "[]");
  /* Truthy scalars render once with themselves as {{.}}. */
  assert_render ("{{#s}}<{{.}}>{{/s}}{{#t}}T{{/t}}", TEXT, ctx, "<str>T");
  /* Falsy: missing, null, false, 0, 0.0, "", []; an empty object is truthy. */
  assert_render ("{{#missing}}1{{/missing}}{{#nul}}2{{/nul}}{{#f}}3{{/f}}{{#zero}}4{{/zero}}"
                 "{{#dz}}5{{/dz}}{{#es}}6{{/es}}{{#empty}}7{{/empty}}{{#eo}}8{{/eo}}",
                 TEXT, ctx, "8");
  assert_render ("{{^missing}}1{{/missing}}{{^nul}}2{{/nul}}{{^f}}3{{/f}}{{^zero}}4{{/zero}}"
                 "{{^dz}}5{{/dz}}{{^es}}6{{/es}}{{^empty}}7{{/empty}}{{^eo}}8{{/eo}}"
                 "{{^list}}9{{/list}}{{^t}}10{{/t}}",
                 TEXT, ctx, "1234567");
  /* The same name opened twice nests. */
  assert_render ("{{#t}}{{#t}}x{{/t}}{{/t}}", TEXT, ctx, "x");
  /* Iteration variables of the innermost array. */
  assert_render ("{{#list}}{{@index}}{{@number}}{{n}}{{#@first}}F{{/@first}}{{#@last}}L{{/@last}}"
                 "{{^@last}},{{/@last}}{{/list}}",
                 TEXT, ctx, "01aF,12b,23cL");
  assert_render ("{{#list}}{{#obj}}{{@index}}{{/obj}}{{/list}}", TEXT, ctx, "012");
  assert_render ("{{#nested}}{{#.}}{{@index}}{{/.}}|{{/nested}}", TEXT, ctx, "01|0|");
  assert_render ("[{{@index}}][{{#@first}}x{{/@first}}][{{^@last}}y{{/@last}}]", TEXT, ctx,
                 "[][][y]");
}

static void
test_comments_and_standalone (void)
{
  const char *ctx = "{\"items\":[\"a\",\"b\"],\"yes\":true}";

  assert_render ("a{{! a comment }}b{{!\nmulti\nline\n}}c", TEXT, ctx, "abc");
  /* A comment ends at the first "}}", as in Mustache. */
  assert_render ("a{{! {{tags {{#x inside }}b", TEXT, ctx, "ab");
  assert_render ("a{{! {{tags}} x }}b", TEXT, ctx, "a x }}b");
  /* Section and comment tags alone on their line take the line with them. */
  assert_render ("List:\n{{#items}}\n- {{.}}\n{{/items}}\nEnd\n", TEXT, ctx,
                 "List:\n- a\n- b\nEnd\n");
  assert_render ("  {{#yes}}  \n  in\n  {{/yes}}\t\nout", TEXT, ctx, "  in\nout");
  assert_render ("a\n  {{! comment }}\nb", TEXT, ctx, "a\nb");
  assert_render ("a\r\n{{#yes}}\r\nb\r\n{{/yes}}\r\n", TEXT, ctx, "a\r\nb\r\n");
  assert_render ("{{#yes}}\nfirst line\n{{/yes}}", TEXT, ctx, "first line\n");
  /* Not standalone: other text or a variable on the line. */
  assert_render ("x {{#yes}}y{{/yes}} z\n", TEXT, ctx, "x y z\n");
  assert_render ("{{#items}}{{.}}{{/items}}\n", TEXT, ctx, "ab\n");
  assert_render ("  {{yes}}\n", TEXT, ctx, "  true\n");
}

static const char *hostile
  = "quote\" back\\slash nl\nret\r tab\t nul-ish\x01\x1f <tag> & amp 'single'"
    " emoji 🚨 line-sep\xe2\x80\xa8 para\xe2\x80\xa9 del\x7f end";

static JsonObject *
hostile_context (void)
{
  JsonObject *ctx = json_object_new ();

  json_object_set_string_member (ctx, "v", hostile);
  /* json-glib stores what it is given: invalid UTF-8 can reach a template from the database. */
  json_object_set_string_member (ctx, "bad", "ok\xff\xfe mid\xc3 end\xe2\x82");
  return ctx;
}

static char *
render_with (const char *text, TsqTemplateEscape escape, JsonObject *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqTemplate) t = tsq_template_parse (text, escape, "t", &error);

  g_assert_no_error (error);
  return tsq_template_render (t, ctx);
}

/* Parses a rendered JSON document {"v": "..."} and returns the string member v. */
static char *
json_member (const char *json, const char *member)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = tsq_json_from_string (json, &error);

  g_assert_no_error (error);
  return g_strdup (tsq_json_get_string (json_node_get_object (node), member, NULL));
}

static void
test_escape_modes (void)
{
  g_autoptr (JsonObject) ctx = hostile_context ();
  g_autofree char *valid_bad = g_utf8_make_valid ("ok\xff\xfe mid\xc3 end\xe2\x82", -1);

  /* text: untouched (but valid UTF-8). */
  {
    g_autofree char *out = render_with ("{{v}}", TSQ_TEMPLATE_ESCAPE_TEXT, ctx);
    g_autofree char *bad = render_with ("{{bad}}|{{{bad}}}", TSQ_TEMPLATE_ESCAPE_TEXT, ctx);
    g_autofree char *expected_bad = g_strconcat (valid_bad, "|", valid_bad, NULL);

    g_assert_cmpstr (out, ==, hostile);
    g_assert_true (g_utf8_validate (bad, -1, NULL));
    g_assert_cmpstr (bad, ==, expected_bad);
    g_assert_nonnull (strstr (bad, "\xef\xbf\xbd")); /* U+FFFD */
  }
  /* html: the five characters, nothing else. */
  {
    g_autofree char *out
      = render_with ("<p title=\"{{v}}\">{{v}}</p>", TSQ_TEMPLATE_ESCAPE_HTML, ctx);
    const char *esc
      = "quote&quot; back\\slash nl\nret\r tab\t nul-ish\x01\x1f &lt;tag&gt; &amp; amp "
        "&#39;single&#39; emoji 🚨 line-sep\xe2\x80\xa8 para\xe2\x80\xa9 del\x7f end";
    g_autofree char *expected = g_strdup_printf ("<p title=\"%s\">%s</p>", esc, esc);

    g_assert_cmpstr (out, ==, expected);
  }
  /* slack: & < > only. */
  {
    g_autofree char *out = render_with ("*{{v}}*", TSQ_TEMPLATE_ESCAPE_SLACK, ctx);

    g_assert_cmpstr (out, ==,
                     "*quote\" back\\slash nl\nret\r tab\t nul-ish\x01\x1f &lt;tag&gt; &amp; amp "
                     "'single' emoji 🚨 line-sep\xe2\x80\xa8 para\xe2\x80\xa9 del\x7f end*");
  }
  /* json: exact escapes, and the document parses back to the original value. */
  {
    g_autofree char *out
      = render_with ("{\"v\": \"{{v}}\", \"bad\": \"{{bad}}\"}", TSQ_TEMPLATE_ESCAPE_JSON, ctx);
    g_autofree char *v = json_member (out, "v");
    g_autofree char *bad = json_member (out, "bad");

    g_assert_nonnull (strstr (out, "quote\\\" back\\\\slash nl\\u000aret\\u000d tab\\u0009 "
                                   "nul-ish\\u0001\\u001f <tag> & amp 'single' emoji 🚨 "
                                   "line-sep\\u2028 para\\u2029 del\x7f end"));
    g_assert_cmpstr (v, ==, hostile);
    g_assert_cmpstr (bad, ==, valid_bad);
  }
  /* slack-json: mrkdwn escapes inside a JSON string. */
  {
    g_autofree char *out
      = render_with ("{\"text\": \"{{v}}\"}", TSQ_TEMPLATE_ESCAPE_SLACK_JSON, ctx);
    g_autofree char *text = json_member (out, "text");
    g_autoptr (GString) expected = g_string_new (hostile);

    g_string_replace (expected, "&", "&amp;", 0);
    g_string_replace (expected, "<", "&lt;", 0);
    g_string_replace (expected, ">", "&gt;", 0);
    g_assert_cmpstr (text, ==, expected->str);
  }
  /* line: control characters and line separators become spaces. */
  {
    g_autofree char *out = render_with ("Subject: {{v}}", TSQ_TEMPLATE_ESCAPE_LINE, ctx);

    g_assert_cmpstr (out, ==,
                     "Subject: quote\" back\\slash nl ret  tab  nul-ish   <tag> & amp 'single' "
                     "emoji 🚨 line-sep  para  del  end");
    g_assert_null (strchr (out, '\n'));
    g_assert_null (strchr (out, '\r'));
  }
  /* Names of the modes round-trip. */
  for (int e = TSQ_TEMPLATE_ESCAPE_TEXT; e <= TSQ_TEMPLATE_ESCAPE_LINE; e++)
    {
      TsqTemplateEscape back = -1;

      g_assert_true (tsq_template_escape_from_string (tsq_template_escape_to_string (e), &back));
      g_assert_cmpint (back, ==, e);
    }
  g_assert_false (tsq_template_escape_from_string ("xml", NULL));
  g_assert_false (tsq_template_escape_from_string (NULL, NULL));
}

static void
assert_parse_error (const char *text, const char *expected_message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqTemplate) t = tsq_template_parse (text, TSQ_TEMPLATE_ESCAPE_TEXT, "x.txt", &error);

  g_assert_null (t);
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_SYNTAX);
  g_assert_cmpstr (error->message, ==, expected_message);
}

static void
test_errors (void)
{
  assert_parse_error ("{{#a}}x", "x.txt:1:1: unclosed section 'a': no '{{/a}}'");
  assert_parse_error ("{{#a}}\n  {{#b}}\n{{/b}}", "x.txt:1:1: unclosed section 'a': no '{{/a}}'");
  assert_parse_error ("{{#a}}\n  {{#b}}\n", "x.txt:2:3: unclosed section 'b': no '{{/b}}'");
  assert_parse_error ("ab\n  {{#a}}{{/b}}",
                      "x.txt:2:9: '{{/b}}' does not match the open section 'a' (opened at 2:3)");
  assert_parse_error ("one\ntwo {{/a}}", "x.txt:2:5: '{{/a}}' closes a section that is not open");
  assert_parse_error ("x {{y", "x.txt:1:3: unclosed tag: '{{' without '}}'");
  assert_parse_error ("x {{y\n}}", "x.txt:1:3: unclosed tag: '{{' without '}}'");
  assert_parse_error ("\t{{{y}}", "x.txt:1:2: unclosed tag: '{{{' without '}}}'");
  assert_parse_error ("a\n\nb {{{y", "x.txt:3:3: unclosed tag: '{{{' without '}}}'");
  /* Columns count characters, not bytes. */
  assert_parse_error ("héllo 🚀 {{}}", "x.txt:1:9: empty tag");
  assert_parse_error ("{{ }}", "x.txt:1:1: empty tag");
  assert_parse_error ("{{#  }}{{/}}", "x.txt:1:1: empty tag");
  assert_parse_error ("{{{}}}", "x.txt:1:1: empty tag");
  assert_parse_error ("{{&}}", "x.txt:1:1: empty tag");
  assert_parse_error ("{{#a}}{{/ }}", "x.txt:1:7: empty tag");
  assert_parse_error ("a {{! never closed\n\n", "x.txt:1:3: unclosed comment: '{{!' without '}}'");
  assert_parse_error ("{{> partial}}", "x.txt:1:1: {{> ...}} (partials) is not supported");
  assert_parse_error ("{{=<% %>=}}", "x.txt:1:1: {{= ...}} (delimiter changes) is not supported");
  assert_parse_error (
    "{{a b}}",
    "x.txt:1:1: invalid name 'a b': names are letters, digits, '_' and '-' joined by '.'");
  assert_parse_error ("{{a..b}}", "x.txt:1:1: invalid name 'a..b': empty part in a dotted name");
  assert_parse_error ("{{#.a}}{{/.a}}",
                      "x.txt:1:1: invalid name '.a': empty part in a dotted name");
  assert_parse_error (
    "{{@foo}}", "x.txt:1:1: unknown name '@foo' (only @index, @number, @first and @last exist)");
  assert_parse_error ("ok\n\xff", "x.txt:2:1: invalid UTF-8");
  assert_parse_error ("a\r\n {{x", "x.txt:2:2: unclosed tag: '{{' without '}}'");

  /* Without a name the error says <template>. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (tsq_template_parse ("{{", TSQ_TEMPLATE_ESCAPE_TEXT, NULL, &error));
    g_assert_cmpstr (error->message, ==, "<template>:1:1: unclosed tag: '{{' without '}}'");
  }
}

static void
test_depth (void)
{
  g_autoptr (GString) ok = g_string_new (NULL);
  g_autoptr (GString) deep = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqTemplate) t = NULL;
  g_autoptr (TsqTemplate) t2 = NULL;
  g_autofree char *out = NULL;

  for (int i = 0; i < TSQ_TEMPLATE_MAX_DEPTH; i++)
    g_string_append (ok, "{{#a}}");
  g_string_append (ok, "{{b}}");
  for (int i = 0; i < TSQ_TEMPLATE_MAX_DEPTH; i++)
    g_string_append (ok, "{{/a}}");
  t = tsq_template_parse (ok->str, TSQ_TEMPLATE_ESCAPE_TEXT, "deep", &error);
  g_assert_no_error (error);
  {
    g_autoptr (JsonObject) ctx = parse_object ("{\"a\":true,\"b\":\"B\"}");

    out = tsq_template_render (t, ctx);
    g_assert_cmpstr (out, ==, "B");
  }

  for (int i = 0; i < TSQ_TEMPLATE_MAX_DEPTH; i++)
    g_string_append (deep, "{{#a}}\n");
  g_string_append (deep, "  {{#too-deep}}");
  t2 = tsq_template_parse (deep->str, TSQ_TEMPLATE_ESCAPE_TEXT, "deep", &error);
  g_assert_null (t2);
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_SYNTAX);
  g_assert_cmpstr (error->message, ==, "deep:33:3: sections nested deeper than 32 levels");
}

static void
test_accessors (void)
{
  g_autoptr (TsqTemplate) t = tsq_template_parse ("x", TSQ_TEMPLATE_ESCAPE_SLACK, "name", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (tsq_template_get_name (t), ==, "name");
  g_assert_cmpint (tsq_template_get_escape (t), ==, TSQ_TEMPLATE_ESCAPE_SLACK);
  g_assert_null (tsq_template_parse ("x", (TsqTemplateEscape)99, "n", &error));
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
}

/* ---------------------------------------------------------------------------------------------
 * Template sets
 * ------------------------------------------------------------------------------------------- */

static void
write_file (const char *dir, const char *relative, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, relative, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
remove_file (const char *dir, const char *relative)
{
  g_autofree char *path = g_build_filename (dir, relative, NULL);

  g_assert_cmpint (g_remove (path), ==, 0);
}

static void
assert_set_render (TsqTemplateSet *set,
                   const char *channel,
                   const char *type,
                   const char *part,
                   JsonObject *ctx,
                   const char *expected)
{
  g_autofree char *out = tsq_template_set_render (set, channel, type, part, ctx);

  g_assert_cmpstr (out, ==, expected);
}

static void
test_set_load (void)
{
  g_autofree char *tmp = tsq_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "templates", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqTemplateSet) set = NULL;
  g_autoptr (JsonObject) ctx = parse_object ("{\"s\":\"<&>\\\"\",\"n\":\"line1\\nline2\"}");
  g_auto (GStrv) channels = NULL;

  write_file (dir, "README.md", "not a template {{");
  write_file (dir, "email/default.subject.txt", "Default subject {{n}}\n");
  write_file (dir, "email/resolved.subject.txt", "Resolved {{s}}\r\n");
  write_file (dir, "email/default.txt", "Body {{s}}\n\n");
  write_file (dir, "email/default.html", "<b>{{s}}</b>");
  write_file (dir, "email/notes.md", "{{ ignored");
  write_file (dir, "email/.hidden.txt", "{{ ignored");
  write_file (dir, "email/default.txt~", "{{ ignored");
  write_file (dir, "slack/default.slack.json", "{\"text\": \"{{s}}\"}");
  write_file (dir, "slack/test.slack.json", "{\"text\": \"test {{s}}\"}");
  write_file (dir, "webhook/default.json", "{\"s\": \"{{s}}\"}\n");
  write_file (dir, "sms/default.txt", "{{s}}");
  write_file (dir, "sms/grouped.slack", "{{s}}");

  set = tsq_template_set_load (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tsq_template_set_get_size (set), ==, 9);
  channels = tsq_template_set_get_channels (set);
  g_assert_cmpuint (g_strv_length (channels), ==, 4);
  g_assert_cmpstr (channels[0], ==, "email");
  g_assert_cmpstr (channels[3], ==, "webhook");

  /* Specific template, fallback to default.<suffix>, one trailing newline stripped. */
  assert_set_render (set, "email", "resolved", "subject", ctx, "Resolved <&>\"");
  assert_set_render (set, "email", "triggered", "subject", ctx, "Default subject line1 line2");
  assert_set_render (set, "email", NULL, "subject", ctx, "Default subject line1 line2");
  assert_set_render (set, "email", "triggered", "body", ctx, "Body <&>\"\n");
  assert_set_render (set, "email", "triggered", "html", ctx, "<b>&lt;&amp;&gt;&quot;</b>");
  assert_set_render (set, "slack", "test", "body", ctx, "{\"text\": \"test &lt;&amp;&gt;\\\"\"}");
  assert_set_render (set, "slack", "resolved", "body", ctx, "{\"text\": \"&lt;&amp;&gt;\\\"\"}");
  assert_set_render (set, "webhook", "escalated", "body", ctx, "{\"s\": \"<&>\\\"\"}");
  assert_set_render (set, "sms", "grouped", "body", ctx, "&lt;&amp;&gt;\"");
  assert_set_render (set, "sms", "triggered", "body", ctx, "<&>\"");
  /* What does not exist. */
  g_assert_null (tsq_template_set_lookup (set, "slack", "triggered", "subject"));
  g_assert_null (tsq_template_set_lookup (set, "pager", "triggered", "body"));
  g_assert_null (tsq_template_set_lookup (set, "sms", "triggered", NULL));
  g_assert_null (tsq_template_set_render (set, "sms", "triggered", "html", ctx));
  g_assert_cmpint (tsq_template_get_escape (tsq_template_set_lookup (set, "email", "x", "subject")),
                   ==, TSQ_TEMPLATE_ESCAPE_LINE);
  g_assert_cmpint (tsq_template_get_escape (tsq_template_set_lookup (set, "slack", "x", "body")),
                   ==, TSQ_TEMPLATE_ESCAPE_SLACK_JSON);
  g_assert_cmpint (tsq_template_get_escape (tsq_template_set_lookup (set, "webhook", "x", "body")),
                   ==, TSQ_TEMPLATE_ESCAPE_JSON);
  g_clear_pointer (&set, tsq_template_set_free);

  /* Overlay: a second directory overrides file by file, may change the suffix of a part. */
  {
    g_autofree char *user = g_build_filename (tmp, "user", NULL);
    const char *dirs[] = { dir, user, NULL };

    write_file (user, "slack/default.json", "{\"plain\": \"{{s}}\"}");
    write_file (user, "email/resolved.subject.txt", "Mine: {{s}}");
    write_file (user, "pager/default.txt", "page {{s}}");
    set = tsq_template_set_load_dirs (dirs, &error);
    g_assert_no_error (error);
    assert_set_render (set, "slack", "resolved", "body", ctx, "{\"plain\": \"<&>\\\"\"}");
    assert_set_render (set, "slack", "test", "body", ctx, "{\"text\": \"test &lt;&amp;&gt;\\\"\"}");
    assert_set_render (set, "email", "resolved", "subject", ctx, "Mine: <&>\"");
    assert_set_render (set, "email", "acknowledged", "subject", ctx, "Default subject line1 line2");
    assert_set_render (set, "pager", "x", "body", ctx, "page <&>\"");
    g_clear_pointer (&set, tsq_template_set_free);
  }

  /* A bad template: the error names the file, line and column. */
  {
    g_autofree char *bad_path = g_build_filename (dir, "slack", "resolved.slack.json", NULL);
    g_autofree char *expected = g_strdup_printf (
      "%s:3:10: '{{/alert}}' does not match the open section 'alerts' (opened at 2:3)", bad_path);

    write_file (dir, "slack/resolved.slack.json", "{\n  {{#alerts}}\n  \"x\": 1 {{/alert}}\n}");
    g_assert_null (tsq_template_set_load (dir, &error));
    g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_SYNTAX);
    g_assert_cmpstr (error->message, ==, expected);
    g_clear_error (&error);
    remove_file (dir, "slack/resolved.slack.json");
  }
  /* Two files for one template in one directory. */
  write_file (dir, "webhook/default.txt", "x");
  g_assert_null (tsq_template_set_load (dir, &error));
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "is the same template (webhook/default/body)"));
  g_clear_error (&error);
  remove_file (dir, "webhook/default.txt");
  /* Unknown suffix, bad alert type name. */
  write_file (dir, "webhook/default.xml", "x");
  g_assert_null (tsq_template_set_load (dir, &error));
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "default.xml: not <alert-type>.<suffix>"));
  g_clear_error (&error);
  remove_file (dir, "webhook/default.xml");
  write_file (dir, "webhook/trig gered.json", "x");
  g_assert_null (tsq_template_set_load (dir, &error));
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
  g_clear_error (&error);
  remove_file (dir, "webhook/trig gered.json");
  /* A part without a default. */
  write_file (dir, "sms/triggered.html", "<b>x</b>");
  g_assert_null (tsq_template_set_load (dir, &error));
  g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==,
                   "channel 'sms' has a 'html' template for 'triggered' but no default for it "
                   "(sms/default.<suffix>)");
  g_clear_error (&error);
  remove_file (dir, "sms/triggered.html");
  /* A NUL byte. */
  {
    g_autofree char *path = g_build_filename (dir, "sms", "test.txt", NULL);

    g_file_set_contents (path, "a\0b", 3, &error);
    g_assert_no_error (error);
    g_assert_null (tsq_template_set_load (dir, &error));
    g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "contains a NUL byte"));
    g_clear_error (&error);
    remove_file (dir, "sms/test.txt");
  }
  /* Missing directory, empty directory. */
  {
    g_autofree char *missing = g_build_filename (tmp, "missing", NULL);
    g_autofree char *empty = g_build_filename (tmp, "empty", NULL);

    g_assert_null (tsq_template_set_load (missing, &error));
    g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_IO);
    g_clear_error (&error);
    g_assert_cmpint (g_mkdir (empty, 0700), ==, 0);
    g_assert_null (tsq_template_set_load (empty, &error));
    g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_INVALID);
    g_clear_error (&error);
  }
  /* After all that, the directory loads again. */
  set = tsq_template_set_load (dir, &error);
  g_assert_no_error (error);
  g_clear_pointer (&set, tsq_template_set_free);
  tsq_test_rm_rf (tmp);
}

/* ---------------------------------------------------------------------------------------------
 * The default templates in data/templates
 * ------------------------------------------------------------------------------------------- */

static const char *const channels[] = { "email", "slack", "webhook", "sms" };
static const char *const types[]
  = { "triggered", "resolved", "acknowledged", "escalated", "test", "grouped", "something-new" };
static const char *const parts[] = { "subject", "body", "html" };

static TsqTemplateSet *
load_defaults (void)
{
  g_autoptr (GError) error = NULL;
  TsqTemplateSet *set = tsq_template_set_load_default (&error);

  g_assert_no_error (error);
  return set;
}

/* One alert as docs/templates.md describes it; HOSTILE puts the nastiest values in. */
static JsonObject *
make_alert (guint i, gboolean nasty)
{
  JsonObject *alert = json_object_new ();
  JsonObject *monitor = json_object_new ();
  g_autofree char *id = g_strdup_printf ("01HX%04uQ7", i);

  json_object_set_string_member (alert, "id", id);
  json_object_set_string_member (alert, "severity", i == 0 ? "critical" : "warning");
  json_object_set_string_member (alert, "state", "triggered");
  json_object_set_string_member (alert, "rule", "default-availability");
  json_object_set_string_member (alert, "type",
                                 i == 0 ? "availability.down" : "technology.version_changed");
  json_object_set_string_member (alert, "subject", nasty ? "jQuery \"<script>\" & co" : "jQuery");
  if (i % 3 != 2)
    json_object_set_string_member (alert, "old", nasty ? "3.4.1\n\"old\" <b>\\" : "3.4.1");
  else
    json_object_set_null_member (alert, "old");
  if (i % 3 != 1)
    json_object_set_string_member (alert, "new", nasty ? "3.7.1 🚀 \xff\xfe" : "3.7.1");
  json_object_set_string_member (alert, "summary",
                                 nasty ? "Shop \"Ünïcode\" <is> down & out\r\nline2\ttab 🔥 \x01"
                                       : "jQuery changed from 3.4.1 to 3.7.1");
  json_object_set_string_member (alert, "triggered_at", "2024-05-01T12:00:00Z");
  json_object_set_string_member (alert, "url", "https://shop.example.com/?a=1&b=<2>");
  json_object_set_string_member (monitor, "id", "mon-1");
  json_object_set_string_member (monitor, "name",
                                 nasty ? "Shop <main> & \"co\" ✓" : "Example shop");
  json_object_set_string_member (monitor, "url", "https://shop.example.com/");
  json_object_set_object_member (alert, "monitor", monitor);
  return alert;
}

static JsonObject *
make_context (const char *type, guint n_alerts, gboolean nasty, int with_links)
{
  JsonObject *ctx = json_object_new ();
  JsonObject *notification = json_object_new ();
  JsonObject *agent = json_object_new ();
  JsonArray *alerts = json_array_new ();

  json_object_set_string_member (notification, "id", "ntf-7f3a9c");
  json_object_set_string_member (notification, "type", type);
  json_object_set_string_member (notification, "created_at", "2024-05-01T12:00:05Z");
  json_object_set_object_member (ctx, "notification", notification);
  for (guint i = 0; i < n_alerts; i++)
    {
      JsonObject *alert = make_alert (i, nasty);

      if (strcmp (type, "acknowledged") == 0)
        {
          json_object_set_string_member (alert, "state", "acknowledged");
          json_object_set_string_member (alert, "acknowledged_at", "2024-05-01T12:10:00Z");
          json_object_set_string_member (alert, "acknowledged_by",
                                         nasty ? "ops \"<lead>\"" : "ops");
        }
      if (strcmp (type, "resolved") == 0)
        {
          json_object_set_string_member (alert, "state", "resolved");
          json_object_set_string_member (alert, "resolved_at", "2024-05-01T13:00:00Z");
          json_object_set_string_member (alert, "resolution",
                                         nasty ? "back <up> & \"fine\"" : "site back up (200)");
        }
      if (i == 0)
        json_object_set_object_member (ctx, "alert", json_object_ref (alert));
      json_array_add_object_element (alerts, alert);
    }
  json_object_set_array_member (ctx, "alerts", alerts);
  json_object_set_int_member (ctx, "count", n_alerts);
  if (n_alerts > 3)
    json_object_set_int_member (ctx, "omitted", 2);
  if (strcmp (type, "escalated") == 0)
    {
      JsonObject *escalation = json_object_new ();

      json_object_set_int_member (escalation, "level", 2);
      json_object_set_string_member (escalation, "policy", nasty ? "ops \"night\" <team>" : "ops");
      json_object_set_object_member (ctx, "escalation", escalation);
    }
  json_object_set_string_member (agent, "name", nasty ? "agent \"<1>\"" : "techscaniq-agent");
  json_object_set_string_member (agent, "version", "0.1.0");
  json_object_set_object_member (ctx, "agent", agent);
  if (with_links)
    {
      JsonObject *links = json_object_new ();

      /* with_links == 2: only a dashboard (no alert page): templates must still be valid. */
      if (with_links == 1)
        {
          json_object_set_string_member (links, "alert", "https://tsq.example/alerts/01HX?x=1&y=2");
          json_object_set_string_member (links, "ack", "https://tsq.example/alerts/01HX/ack");
        }
      json_object_set_string_member (links, "dashboard", "https://tsq.example/");
      json_object_set_object_member (ctx, "links", links);
    }
  return ctx;
}

/* Slack rejects blocks whose text is empty: check every "text" member recursively. */
static void
assert_slack_texts_non_empty (JsonNode *node, const char *where)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *obj = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (obj);

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonNode *child = json_object_get_member (obj, l->data);

          if (strcmp (l->data, "text") == 0 && JSON_NODE_HOLDS_VALUE (child))
            {
              const char *s = json_node_get_string (child);

              if (s == NULL || *s == '\0')
                g_error ("%s: empty Slack text", where);
            }
          assert_slack_texts_non_empty (child, where);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        assert_slack_texts_non_empty (json_array_get_element (array, i), where);
    }
}

static void
check_webhook (JsonNode *root, JsonObject *ctx, const char *type, const char *where)
{
  JsonObject *doc = json_node_get_object (root);
  JsonObject *ctx_alert = tsq_json_get_object (ctx, "alert");
  JsonArray *alerts = tsq_json_get_array (doc, "alerts");
  g_autofree char *event = g_strconcat ("alert.", type, NULL);

  g_assert_cmpstr (tsq_json_get_string (doc, "event", NULL), ==, event);
  g_assert_cmpint (tsq_json_get_int (doc, "count", -1), ==, tsq_json_get_int (ctx, "count", -2));
  g_assert_nonnull (alerts);
  g_assert_cmpuint (json_array_get_length (alerts), ==,
                    json_array_get_length (tsq_json_get_array (ctx, "alerts")));
  if (ctx_alert != NULL)
    {
      JsonObject *alert = tsq_json_get_object (doc, "alert");
      const char *summary = tsq_json_get_string (ctx_alert, "summary", NULL);
      g_autofree char *valid = g_utf8_make_valid (summary, -1);
      const char *old = tsq_json_get_string (ctx_alert, "old", NULL);

      g_assert_nonnull (alert);
      /* Values come back exactly (invalid UTF-8 replaced), absent ones as null. */
      g_assert_cmpstr (tsq_json_get_string (alert, "summary", NULL), ==, valid);
      g_assert_cmpstr (tsq_json_get_string (alert, "id", NULL), ==,
                       tsq_json_get_string (ctx_alert, "id", NULL));
      if (old != NULL)
        g_assert_cmpstr (tsq_json_get_string (alert, "old", NULL), ==, old);
      else
        g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (alert, "old")));
      g_assert_cmpstr (
        tsq_json_get_string (tsq_json_get_object (alert, "monitor"), "name", NULL), ==,
        tsq_json_get_string (tsq_json_get_object (ctx_alert, "monitor"), "name", NULL));
    }
  (void)where;
}

static void
check_rendered (const char *channel,
                const char *type,
                const char *part,
                JsonObject *ctx,
                const char *out,
                gboolean nasty)
{
  g_autofree char *where = g_strdup_printf ("%s/%s/%s", channel, type, part);

  g_assert_true (g_utf8_validate (out, -1, NULL));
  g_assert_cmpuint (strlen (out), >, 0);
  /* A missing tag would show up literally. */
  if (strstr (out, "{{") != NULL)
    g_error ("%s: unrendered tag in output:\n%s", where, out);

  if (strcmp (channel, "slack") == 0 || strcmp (channel, "webhook") == 0)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) root = tsq_json_from_string (out, &error);

      if (error != NULL)
        g_error ("%s: rendered JSON does not parse: %s\n%s", where, error->message, out);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
      if (strcmp (channel, "slack") == 0)
        {
          const char *text = tsq_json_get_string (json_node_get_object (root), "text", NULL);

          g_assert_nonnull (text);
          g_assert_nonnull (tsq_json_get_array (json_node_get_object (root), "blocks"));
          assert_slack_texts_non_empty (root, where);
          /* Values cannot inject Slack markup (<!channel>, links). */
          if (nasty)
            g_assert_null (strstr (out, "<main>"));
        }
      else
        check_webhook (root, ctx, type, where);
    }
  else if (strcmp (part, "subject") == 0)
    {
      g_assert_null (strchr (out, '\n'));
      g_assert_null (strchr (out, '\r'));
      g_assert_cmpuint (g_utf8_strlen (out, -1), <, 400);
    }
  else if (strcmp (part, "html") == 0)
    {
      g_assert_true (g_str_has_prefix (out, "<!DOCTYPE html>"));
      if (nasty)
        {
          g_assert_null (strstr (out, "<script>"));
          g_assert_null (strstr (out, "<main>"));
          g_assert_null (strstr (out, "\"<lead>\""));
        }
    }
  else if (strcmp (channel, "sms") == 0 && !nasty)
    {
      /* SMS templates are kept within one 160-character segment for realistic values. */
      if (g_utf8_strlen (out, -1) > 160)
        g_error ("%s: SMS of %ld characters:\n%s", where, g_utf8_strlen (out, -1), out);
    }
}

static void
test_defaults (void)
{
  g_autoptr (TsqTemplateSet) set = load_defaults ();
  guint rendered = 0;

  for (guint c = 0; c < G_N_ELEMENTS (channels); c++)
    for (guint ty = 0; ty < G_N_ELEMENTS (types); ty++)
      {
        const char *type = types[ty];
        gboolean grouped = strcmp (type, "grouped") == 0;
        gboolean test = strcmp (type, "test") == 0;

        /* Every channel has a body for every alert type (through default.<suffix>). */
        g_assert_nonnull (tsq_template_set_lookup (set, channels[c], type, "body"));
        if (strcmp (channels[c], "email") == 0)
          {
            g_assert_nonnull (tsq_template_set_lookup (set, channels[c], type, "subject"));
            g_assert_nonnull (tsq_template_set_lookup (set, channels[c], type, "html"));
          }

        for (guint variant = 0; variant < 6; variant++)
          {
            gboolean nasty = variant & 1;
            int links = variant & 2 ? 1 : variant >= 4 ? 2 : 0;
            guint n = grouped ? (variant < 4 ? 3 : 5) : (test && variant >= 4 ? 0 : 1);
            g_autoptr (JsonObject) ctx = make_context (type, n, nasty, links);

            for (guint p = 0; p < G_N_ELEMENTS (parts); p++)
              {
                g_autofree char *out
                  = tsq_template_set_render (set, channels[c], type, parts[p], ctx);

                if (out == NULL)
                  continue;
                if (g_test_verbose () && variant == 3)
                  g_test_message ("--- %s/%s/%s ---\n%s", channels[c], type, parts[p], out);
                check_rendered (channels[c], type, parts[p], ctx, out, nasty);
                rendered++;
              }
          }
      }
  g_assert_cmpuint (rendered, ==, 7 * 6 * (3 + 1 + 1 + 1));
}

/* The defaults say what changed, where, and when. */
static void
test_defaults_content (void)
{
  g_autoptr (TsqTemplateSet) set = load_defaults ();
  g_autoptr (JsonObject) ctx = make_context ("triggered", 1, FALSE, TRUE);
  g_autoptr (JsonObject) resolved = make_context ("resolved", 1, FALSE, FALSE);
  g_autoptr (JsonObject) escalated = make_context ("escalated", 1, FALSE, FALSE);
  g_autoptr (JsonObject) grouped = make_context ("grouped", 3, FALSE, TRUE);
  g_autofree char *subject = tsq_template_set_render (set, "email", "triggered", "subject", ctx);
  g_autofree char *body = tsq_template_set_render (set, "email", "triggered", "body", ctx);
  g_autofree char *html = tsq_template_set_render (set, "email", "triggered", "html", ctx);
  g_autofree char *sms = tsq_template_set_render (set, "sms", "triggered", "body", ctx);
  g_autofree char *r_subject
    = tsq_template_set_render (set, "email", "resolved", "subject", resolved);
  g_autofree char *r_body = tsq_template_set_render (set, "email", "resolved", "body", resolved);
  g_autofree char *e_subject
    = tsq_template_set_render (set, "email", "escalated", "subject", escalated);
  g_autofree char *g_body = tsq_template_set_render (set, "email", "grouped", "body", grouped);
  g_autofree char *g_slack = tsq_template_set_render (set, "slack", "grouped", "body", grouped);

  g_assert_cmpstr (subject, ==, "[critical] Example shop: jQuery changed from 3.4.1 to 3.7.1");
  for (const char *const *s = (const char *const[]){ "Example shop", "https://shop.example.com/",
                                                     "critical", "availability.down", "jQuery",
                                                     "3.4.1", "3.7.1", "2024-05-01T12:00:00Z",
                                                     "https://tsq.example/alerts/01HX/ack", NULL };
       *s != NULL; s++)
    {
      g_assert_nonnull (strstr (body, *s));
      g_assert_nonnull (strstr (html, *s));
    }
  g_assert_nonnull (strstr (body, "Before:       3.4.1\nAfter:        3.7.1\n"));
  /* No blank lines left behind by section tags. */
  g_assert_null (strstr (body, "\n\n\n"));
  g_assert_nonnull (strstr (sms, "Example shop"));
  g_assert_cmpstr (r_subject, ==, "[resolved] Example shop: jQuery changed from 3.4.1 to 3.7.1");
  g_assert_nonnull (strstr (r_body, "Resolved at:  2024-05-01T13:00:00Z (site back up (200))"));
  g_assert_cmpstr (
    e_subject, ==,
    "[critical, escalated to level 2] Example shop: jQuery changed from 3.4.1 to 3.7.1");
  g_assert_nonnull (strstr (g_body, "1. [critical]"));
  g_assert_nonnull (strstr (g_body, "3. [warning]"));
  g_assert_nonnull (strstr (g_body, ": 3.4.1 -> (none)"));
  g_assert_nonnull (strstr (g_body, ": (none) -> 3.7.1"));
  g_assert_nonnull (strstr (g_slack, "*3 alerts*"));
}

/* ---------------------------------------------------------------------------------------------
 * Robustness and speed
 * ------------------------------------------------------------------------------------------- */

static void
test_fuzz (void)
{
  static const char *const alphabet[] = {
    "{{",     "}}",        "{{{",       "}}}",   "{",       "}",    "#", "^",  "/",
    "!",      "&",         ".",         "a",     "b",       "list", " ", "\n", "x",
    "@first", "@last",     "@index",    "é",     "🚀",       "\t",   ">", "=",  "{{#a}}",
    "{{/a}}", "{{#list}}", "{{/list}}", "{{.}}", "{{a.b}}", "\r\n",
  };
  g_autoptr (JsonObject) ctx
    = parse_object ("{\"a\":{\"b\":\"<ab>\",\"a\":[1,2]},\"b\":true,\"list\":[{\"a\":1},"
                    "{\"b\":\"\\\"q\\\"\"},[3,[4]],null,\"s\"],\"x\":\"\\u0000x\"}");
  guint valid = 0, invalid = 0;

  for (guint i = 0; i < 10000; i++)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (TsqTemplate) t = NULL;
      guint len = g_test_rand_int_range (0, 24);
      TsqTemplateEscape escape = g_test_rand_int_range (0, TSQ_TEMPLATE_ESCAPE_LINE + 1);

      for (guint j = 0; j < len; j++)
        g_string_append (text, alphabet[g_test_rand_int_range (0, G_N_ELEMENTS (alphabet))]);
      t = tsq_template_parse (text->str, escape, "fuzz", &error);
      if (t != NULL)
        {
          g_autofree char *out = tsq_template_render (t, ctx);

          g_assert_no_error (error);
          g_assert_true (g_utf8_validate (out, -1, NULL));
          valid++;
        }
      else
        {
          guint line = 0, column = 0;

          g_assert_error (error, TSQ_TEMPLATE_ERROR, TSQ_TEMPLATE_ERROR_SYNTAX);
          g_assert_cmpint (sscanf (error->message, "fuzz:%u:%u: ", &line, &column), ==, 2);
          g_assert_cmpuint (line, >=, 1);
          g_assert_cmpuint (column, >=, 1);
          g_assert_cmpuint (line, <=, text->len + 1);
          invalid++;
        }
    }
  g_test_message ("fuzz: %u valid, %u invalid templates", valid, invalid);
  /* The alphabet makes both outcomes common; if one never happens the generator is broken. */
  g_assert_cmpuint (valid, >, 500);
  g_assert_cmpuint (invalid, >, 500);
}

/* Big inputs stay linear: many comments between text, long sections, a long value. */
static void
test_large (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GString) value = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TsqTemplate) t = NULL;
  g_autoptr (JsonObject) ctx = json_object_new ();
  g_autofree char *out = NULL;

  for (guint i = 0; i < 200000; i++)
    g_string_append (text, "a{{! c }}");
  for (guint i = 0; i < 20000; i++)
    g_string_append (text, "{{#t}}b{{/t}}");
  g_string_append (text, "{{v}}");
  for (guint i = 0; i < 100000; i++)
    g_string_append (value, "<\"&\n");
  json_object_set_boolean_member (ctx, "t", TRUE);
  json_object_set_string_member (ctx, "v", value->str);
  t = tsq_template_parse (text->str, TSQ_TEMPLATE_ESCAPE_JSON, "large", &error);
  g_assert_no_error (error);
  out = tsq_template_render (t, ctx);
  g_assert_cmpuint (strlen (out), ==, 200000 + 20000 + 100000 * strlen ("<\\\"&\\u000a"));
}

typedef struct
{
  const TsqTemplate *template;
  JsonObject *ctx;
  const char *expected;
  gboolean ok;
} ThreadData;

static gpointer
render_thread (gpointer data)
{
  ThreadData *td = data;

  td->ok = TRUE;
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *out = tsq_template_render (td->template, td->ctx);

      if (strcmp (out, td->expected) != 0)
        td->ok = FALSE;
    }
  return NULL;
}

/* Rendering is fast enough to be irrelevant next to delivery, and safe from several threads.
 * The figure is printed, never asserted (shared machine). */
static void
test_speed_and_threads (void)
{
  g_autoptr (TsqTemplateSet) set = load_defaults ();
  const TsqTemplate *t = tsq_template_set_lookup (set, "webhook", "grouped", "body");
  g_autoptr (JsonObject) ctx = make_context ("grouped", 20, TRUE, TRUE);
  g_autofree char *expected = tsq_template_render (t, ctx);
  ThreadData td[4];
  GThread *threads[4];
  gint64 start = g_get_monotonic_time ();
  guint n = 2000;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *out = tsq_template_render (t, ctx);

      g_assert_cmpuint (strlen (out), ==, strlen (expected));
    }
  g_test_message ("webhook body with 20 alerts (%zu bytes): %.1f us per render", strlen (expected),
                  (double)(g_get_monotonic_time () - start) / n);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      td[i] = (ThreadData){ t, ctx, expected, FALSE };
      threads[i] = g_thread_new ("render", render_thread, &td[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      g_assert_true (td[i].ok);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/template/variables", test_variables);
  g_test_add_func ("/tsq/template/raw", test_raw);
  g_test_add_func ("/tsq/template/sections", test_sections);
  g_test_add_func ("/tsq/template/comments-standalone", test_comments_and_standalone);
  g_test_add_func ("/tsq/template/escape-modes", test_escape_modes);
  g_test_add_func ("/tsq/template/errors", test_errors);
  g_test_add_func ("/tsq/template/depth", test_depth);
  g_test_add_func ("/tsq/template/accessors", test_accessors);
  g_test_add_func ("/tsq/template/set-load", test_set_load);
  g_test_add_func ("/tsq/template/defaults", test_defaults);
  g_test_add_func ("/tsq/template/defaults-content", test_defaults_content);
  g_test_add_func ("/tsq/template/fuzz", test_fuzz);
  g_test_add_func ("/tsq/template/large", test_large);
  g_test_add_func ("/tsq/template/speed-threads", test_speed_and_threads);
  return g_test_run ();
}
