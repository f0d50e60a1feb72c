/* agent-config-test.c: configuration defaults, the documented sample file, bad values. */
#include <glib/gstdio.h>
#include <unistd.h>

#include "tsq-agent-config.h"

static void
test_defaults (void)
{
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();

  g_assert_true (g_str_has_suffix (config->database, "/techscaniq/agent.db"));
  g_assert_cmpuint (config->max_in_flight, ==, 100);
  g_assert_cmpfloat (config->domain_rate, ==, 0.1);
  g_assert_cmpuint (config->misfire_grace_s, ==, 300);
  g_assert_cmpuint (config->scanner.fetch.timeout_s, ==, 30);
  g_assert_cmpuint (config->scanner.fetch.max_redirects, ==, 10);
  g_assert_cmpuint (config->scanner.fetch.max_body_bytes, ==, 5 * 1024 * 1024);
  g_assert_true (config->builtin_fingerprints);
  g_assert_cmpstr (config->log_format, ==, "human");
}

static void
test_state_directory (void)
{
  g_autoptr (TsqAgentConfig) config = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("tsq-config-XXXXXX", NULL);
  g_autofree char *expected = g_build_filename (tmp, "agent.db", NULL);

  g_setenv ("STATE_DIRECTORY", tmp, TRUE);
  config = tsq_agent_config_new_default ();
  g_unsetenv ("STATE_DIRECTORY");
  g_assert_cmpstr (config->database, ==, expected);
  g_rmdir (tmp);
}

/* The sample we ship must load, and must state the defaults it claims to state. */
static void
test_sample_file (void)
{
  g_autoptr (TsqAgentConfig) defaults = tsq_agent_config_new_default ();
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("TSQ_DATA_DIR"), "agent.conf", NULL);

  g_assert_true (tsq_agent_config_load (config, path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->path, ==, path);
  g_assert_cmpuint (config->max_in_flight, ==, defaults->max_in_flight);
  g_assert_cmpfloat (config->domain_rate, ==, defaults->domain_rate);
  g_assert_cmpuint (config->scanner.fetch.max_body_bytes, ==,
                    defaults->scanner.fetch.max_body_bytes);
  g_assert_cmpuint (config->scanner.resources.max_bytes_each, ==,
                    defaults->scanner.resources.max_bytes_each);
  g_assert_cmpuint (config->scanner.resource_cache_bytes, ==,
                    defaults->scanner.resource_cache_bytes);
  g_assert_cmpfloat (config->thresholds.perf_relative, ==, defaults->thresholds.perf_relative);
  g_assert_cmpuint (config->thresholds.perf_consecutive, ==, defaults->thresholds.perf_consecutive);
  g_assert_cmpuint (config->raw_results_days, ==, defaults->raw_results_days);
  g_assert_true (tsq_agent_config_prepare (config, &error));
  g_assert_no_error (error);
}

static void
expect_load_error (const char *contents, const char *fragment)
{
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("tsq-conf-XXXXXX.conf", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  g_assert_false (tsq_agent_config_load (config, path, &error));
  g_assert_error (error, TSQ_AGENT_CONFIG_ERROR, TSQ_AGENT_CONFIG_ERROR_INVALID);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message “%s” lacks “%s”", error->message, fragment);
  g_unlink (path);
}

static void
test_bad_values (void)
{
  expect_load_error ("[agent]\nmax_in_flight=lots\n", "[agent] max_in_flight");
  expect_load_error ("[agent]\nmax_in_flight=0\n", "between 1 and");
  expect_load_error ("[agent]\nmax_in_flight=2.5\n", "whole number");
  expect_load_error ("[agent]\nlog_format=xml\n", "log_format");
  expect_load_error ("[agent]\ndomain_rate=nan\n", "[agent] domain_rate");
  expect_load_error ("[scanner]\nmax_body=inf\n", "[scanner] max_body");
  expect_load_error ("[scanner]\nmax_body=12 parsecs\n", "[scanner] max_body");
  expect_load_error ("[scanner]\ntls_verify=perhaps\n", "true or false");
  expect_load_error ("[scanner]\ntimeuot=5\n", "unknown key “timeuot”");
  expect_load_error ("[nonsense\n", "");
  expect_load_error ("just text\n", "");
}

static void
test_overrides (void)
{
  g_autoptr (TsqAgentConfig) config = tsq_agent_config_new_default ();
  g_autoptr (GError) error = NULL;

  g_assert_true (tsq_agent_config_set (config, "scanner.timeout=7", &error));
  g_assert_cmpuint (config->scanner.fetch.timeout_s, ==, 7);
  g_assert_true (tsq_agent_config_set (config, "scanner.max_body=2M", &error));
  g_assert_cmpuint (config->scanner.fetch.max_body_bytes, ==, 2 * 1024 * 1024);
  g_assert_true (
    tsq_agent_config_set (config, "network.blocked_networks=10.0.0.0/8; 192.168.0.0/16", &error));
  g_assert_cmpuint (g_strv_length (config->blocked_networks), ==, 2);
  g_assert_cmpstr (config->blocked_networks[1], ==, "192.168.0.0/16");
  g_assert_no_error (error);

  g_assert_false (tsq_agent_config_set (config, "scanner.timeout", &error));
  g_clear_error (&error);
  g_assert_false (tsq_agent_config_set (config, "timeout=5", &error));
  g_clear_error (&error);
  g_assert_false (tsq_agent_config_set (config, "scanner.nope=5", &error));
  g_clear_error (&error);

  /* A bad network is caught when the guard is built. */
  g_assert_true (tsq_agent_config_set (config, "network.blocked_networks=10.0.0.0/33", &error));
  g_assert_false (tsq_agent_config_prepare (config, &error));
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/agent-config/defaults", test_defaults);
  g_test_add_func ("/tsq/agent-config/state-directory", test_state_directory);
  g_test_add_func ("/tsq/agent-config/sample-file", test_sample_file);
  g_test_add_func ("/tsq/agent-config/bad-values", test_bad_values);
  g_test_add_func ("/tsq/agent-config/overrides", test_overrides);
  return g_test_run ();
}
