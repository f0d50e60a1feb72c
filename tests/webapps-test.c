/* webapps-test.c: the scanner against real Debian-packaged web applications on loopback.
 *
 * Each case starts a private nginx + php-fpm (and MariaDB for WordPress) through
 * tsq-test-webapps.c, scans one page with the real techscaniq-agent binary and checks that the
 * technologies are detected with the exact versions of the installed packages, read from dpkg at
 * test time (never written here), so the test stays right after a point release.
 *
 * Missing packages make the cases fail with the package to install: CI installs them
 * (tools/install-deps.sh --tests).
 */
#define G_LOG_DOMAIN "tsq-webapps-test"

#include <gio/gio.h>
#include <string.h>

#include "tsq-json-util.h"
#include "tsq-test-agent.h"
#include "tsq-test-webapps.h"

typedef struct
{
  TsqTestWebapps *apps;
  char *tmp;
  JsonNode *result;
} Fixture;

static void
fixture_start (Fixture *f, TsqTestWebappsFlags flags)
{
  g_autoptr (GError) error = NULL;

  f->tmp = tsq_test_make_tmpdir ();
  f->apps = tsq_test_webapps_start (flags, &error);
  /* The case then returns at once; teardown stops whatever did start. */
  if (f->apps == NULL)
    g_test_fail_printf ("%s", error->message);
}

static void
setup_php (Fixture *f, gconstpointer data)
{
  fixture_start (f, TSQ_TEST_WEBAPPS_NONE);
}

static void
setup_wordpress (Fixture *f, gconstpointer data)
{
  fixture_start (f, TSQ_TEST_WEBAPPS_WORDPRESS);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->apps && g_test_failed ())
    {
      g_autofree char *logs = tsq_test_webapps_get_logs (f->apps);

      g_test_message ("server logs:\n%s", logs);
    }
  g_clear_pointer (&f->apps, tsq_test_webapps_free);
  g_clear_pointer (&f->result, json_node_unref);
  if (f->tmp)
    tsq_test_rm_rf (f->tmp);
  g_clear_pointer (&f->tmp, g_free);
}

/* The upstream version of the package that installed path, or a failed case (NULL). */
static char *
expected_version (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *package = tsq_test_package_owning (path, &error);
  char *version = package ? tsq_test_package_version (package, &error) : NULL;

  if (version == NULL)
    g_test_fail_printf ("version of %s: %s", path, error->message);
  else
    g_test_message ("%s: package %s, upstream version %s", path, package, version);
  return version;
}

static char *
describe_technologies (JsonObject *result)
{
  JsonArray *techs = tsq_json_get_array (result, "technologies");
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; techs && i < json_array_get_length (techs); i++)
    {
      JsonObject *tech = json_array_get_object_element (techs, i);

      g_string_append_printf (out, "%s%s %s", i ? ", " : "",
                              tsq_json_get_string (tech, "name", "?"),
                              tsq_json_get_string (tech, "version", "(no version)"));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Scans path with the agent and returns the result (owned by the fixture). */
static JsonObject *
scan (Fixture *f, const char *path)
{
  g_autofree char *url = tsq_test_webapps_get_url (f->apps, path);
  g_autofree char *database = g_build_filename (f->tmp, "agent.db", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *summary = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  JsonObject *result;
  int status;

  status = tsq_test_agent_run (&out, &err, "scan", "--json", "--database", database, url, NULL);
  if (status != 0)
    g_test_message ("agent stderr:\n%s", err);
  g_assert_cmpint (status, ==, 0);
  lines = g_strsplit (out, "\n", -1);
  g_clear_pointer (&f->result, json_node_unref);
  f->result = tsq_json_from_string (lines[0], &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (f->result));
  result = json_node_get_object (f->result);
  g_assert_cmpstr (tsq_json_get_string (result, "url", NULL), ==, url);
  g_assert_false (json_object_has_member (result, "error"));
  g_assert_cmpint (tsq_json_get_int (result, "status", 0), ==, 200);
  summary = describe_technologies (result);
  g_test_message ("%s: %s", path, summary);
  return result;
}

static JsonObject *
find_technology (JsonObject *result, const char *name)
{
  JsonArray *techs = tsq_json_get_array (result, "technologies");

  for (guint i = 0; techs && i < json_array_get_length (techs); i++)
    {
      JsonObject *tech = json_array_get_object_element (techs, i);

      if (g_strcmp0 (tsq_json_get_string (tech, "name", NULL), name) == 0)
        return tech;
    }
  return NULL;
}

/* name must be detected, with exactly expected as its version. */
static void
assert_technology (JsonObject *result, const char *name, const char *expected)
{
  JsonObject *tech = find_technology (result, name);

  if (tech == NULL)
    {
      g_autofree char *found = describe_technologies (result);

      g_test_message ("%s not detected; detected: %s", name, found);
    }
  g_assert_nonnull (tech);
  g_assert_cmpstr (tsq_json_get_string (tech, "version", NULL), ==, expected);
  g_assert_cmpint (tsq_json_get_int (tech, "confidence", 0), >, 0);
}

static const char *
response_header (JsonObject *result, const char *name)
{
  JsonObject *headers = tsq_json_get_object (result, "headers");

  return headers ? tsq_json_get_string (headers, name, NULL) : NULL;
}

/* The page is served by nginx with Debian's default server_tokens: the Server header and the
 * detection both carry the version of the installed nginx. */
static void
assert_nginx (JsonObject *result)
{
  g_autofree char *version = expected_version ("/usr/sbin/nginx");
  g_autofree char *server = g_strconcat ("nginx/", version, NULL);

  g_assert_cmpstr (response_header (result, "server"), ==, server);
  assert_technology (result, "Nginx", version);
}

/* PHP runs the page. Debian's php.ini for fpm has expose_php = Off (left as it is), so no header
 * tells PHP's version: PHP must be detected (implied by the application), and a version may only
 * be reported when the page did send X-Powered-By, and then it must be the installed one. */
static void
assert_php (Fixture *f, JsonObject *result)
{
  const char *powered_by = response_header (result, "x-powered-by");
  JsonObject *tech = find_technology (result, "PHP");
  const char *version;

  if (tech == NULL)
    {
      g_autofree char *found = describe_technologies (result);

      g_test_message ("PHP not detected; detected: %s", found);
    }
  g_assert_nonnull (tech);
  version = tsq_json_get_string (tech, "version", NULL);
  if (powered_by == NULL)
    g_assert_null (version);
  else
    {
      g_autofree char *expected = NULL;

      g_test_message ("X-Powered-By: %s", powered_by);
      expected = expected_version (tsq_test_webapps_get_php_fpm (f->apps));
      g_assert_cmpstr (version, ==, expected);
    }
}

static void
test_upstream_version (void)
{
  const struct
  {
    const char *debian;
    const char *upstream;
  } cases[] = {
    { "1.22.1-9+deb12u11", "1.22.1" },
    { "4:5.2.1+dfsg-1+deb12u1", "5.2.1" },
    { "6.1.9+dfsg1-0+deb12u1", "6.1.9" },
    { "3.6.1+dfsg+~3.5.14-1", "3.6.1" },
    { "8.2.36-1~deb12u1", "8.2.36" },
    { "2:8.2+93", "8.2" },
    { "4.8.1-1", "4.8.1" },
    { "1:10.11.14-0+deb12u2", "10.11.14" },
    { "", NULL },
    { "1:", NULL },
    { "abc-1", NULL },
    { ".5-1", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *upstream = tsq_test_upstream_version (cases[i].debian);

      g_assert_cmpstr (upstream, ==, cases[i].upstream);
    }
  g_assert_null (tsq_test_upstream_version (NULL));
}

/* A missing package is a failure that names the package to install. */
static void
test_require (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (tsq_test_webapps_require ("/", "base-files", &error));
  g_assert_no_error (error);
  g_assert_false (
    tsq_test_webapps_require ("/nonexistent/tsq-test-program", "tsq-test-package", &error));
  g_assert_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_MISSING);
  g_assert_nonnull (strstr (error->message, "/nonexistent/tsq-test-program"));
  g_assert_nonnull (strstr (error->message, "install the Debian package tsq-test-package"));
  g_clear_error (&error);
  g_assert_null (tsq_test_package_version ("tsq-no-such-package", &error));
  g_assert_nonnull (error);
}

static void
test_nginx_welcome (Fixture *f, gconstpointer data)
{
  JsonObject *result;
  JsonObject *content;

  if (f->apps == NULL)
    return;
  result = scan (f, "/");
  /* Debian's own default page, as the default site serves it. */
  content = tsq_json_get_object (result, "content");
  g_assert_nonnull (content);
  g_assert_cmpstr (tsq_json_get_string (content, "title", NULL), ==, "Welcome to nginx!");
  assert_nginx (result);
}

static void
test_phpmyadmin (Fixture *f, gconstpointer data)
{
  g_autofree char *version = NULL;
  JsonObject *result;

  if (f->apps == NULL)
    return;
  version = expected_version ("/usr/share/phpmyadmin/libraries/classes/Version.php");
  if (version == NULL)
    return;
  result = scan (f, "/phpmyadmin/");
  assert_technology (result, "phpMyAdmin", version);
  assert_nginx (result);
  assert_php (f, result);
}

static void
test_adminer (Fixture *f, gconstpointer data)
{
  g_autofree char *version = NULL;
  JsonObject *result;

  if (f->apps == NULL)
    return;
  version = expected_version ("/usr/share/adminer/adminer.php");
  if (version == NULL)
    return;
  result = scan (f, "/adminer/");
  assert_technology (result, "Adminer", version);
  assert_nginx (result);
  assert_php (f, result);
}

static void
test_jquery (Fixture *f, gconstpointer data)
{
  g_autofree char *version = NULL;
  JsonObject *result;
  JsonObject *resources;

  if (f->apps == NULL)
    return;
  version = expected_version ("/usr/share/javascript/jquery/jquery.js");
  if (version == NULL)
    return;
  result = scan (f, "/jquery.html");
  /* The version is only in the fetched file's banner: the scanner must have fetched it. */
  resources = tsq_json_get_object (result, "resources");
  g_assert_nonnull (resources);
  g_assert_cmpint (tsq_json_get_int (resources, "fetched", 0), >=, 1);
  assert_technology (result, "jQuery", version);
  assert_nginx (result);
}

static void
test_wordpress (Fixture *f, gconstpointer data)
{
  g_autofree char *version = NULL;
  JsonObject *result;

  if (f->apps == NULL)
    return;
  version = expected_version ("/usr/share/wordpress/wp-includes/version.php");
  if (version == NULL)
    return;
  result = scan (f, "/wordpress/");
  assert_technology (result, "WordPress", version);
  assert_nginx (result);
  assert_php (f, result);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tsq/webapps/upstream-version", test_upstream_version);
  g_test_add_func ("/tsq/webapps/require", test_require);
  g_test_add ("/tsq/webapps/nginx-welcome", Fixture, NULL, setup_php, test_nginx_welcome, teardown);
  g_test_add ("/tsq/webapps/phpmyadmin", Fixture, NULL, setup_php, test_phpmyadmin, teardown);
  g_test_add ("/tsq/webapps/adminer", Fixture, NULL, setup_php, test_adminer, teardown);
  g_test_add ("/tsq/webapps/jquery", Fixture, NULL, setup_php, test_jquery, teardown);
  g_test_add ("/tsq/webapps/wordpress", Fixture, NULL, setup_wordpress, test_wordpress, teardown);
  return g_test_run ();
}
