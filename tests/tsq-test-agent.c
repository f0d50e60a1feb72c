/* tsq-test-agent.c: runs the real techscaniq-agent binary from tests. */
#define G_LOG_DOMAIN "tsq-test-agent"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>

#include "tsq-test-agent.h"

static const char *
agent_path (void)
{
  const char *path = g_getenv ("TSQ_AGENT");

  if (path == NULL)
    g_error ("TSQ_AGENT is not set (run the tests through meson)");
  return path;
}

static char *
bytes_to_string (GBytes *bytes)
{
  gsize len = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &len) : NULL;

  return data ? g_strndup (data, len) : g_strdup ("");
}

int
tsq_test_agent_runv (const char *const *argv, char **out, char **err)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) stdout_bytes = NULL;
  g_autoptr (GBytes) stderr_bytes = NULL;

  g_ptr_array_add (args, (gpointer)agent_path ());
  for (guint i = 0; argv[i]; i++)
    g_ptr_array_add (args, (gpointer)argv[i]);
  g_ptr_array_add (args, NULL);
  proc
    = g_subprocess_newv ((const char *const *)args->pdata,
                         G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate (proc, NULL, NULL, &stdout_bytes, &stderr_bytes, &error);
  g_assert_no_error (error);
  if (out)
    *out = bytes_to_string (stdout_bytes);
  if (err)
    *err = bytes_to_string (stderr_bytes);
  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

int
tsq_test_agent_run (char **out, char **err, const char *first_arg, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer)arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return tsq_test_agent_runv ((const char *const *)args->pdata, out, err);
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
tsq_test_agent_spawn (const char *database, const char *const *extra_args)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autofree char *dir = g_path_get_dirname (database);
  g_autofree char *out = g_build_filename (dir, "agent.out", NULL);
  g_autofree char *err = g_build_filename (dir, "agent.err", NULL);
  g_autoptr (GError) error = NULL;
  GSubprocess *proc;

  /* If the test dies (a failed assertion aborts before teardown), its agent dies with it. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stdout_file_path (launcher, out);
  g_subprocess_launcher_set_stderr_file_path (launcher, err);
  g_ptr_array_add (args, (gpointer)agent_path ());
  g_ptr_array_add (args, (gpointer) "run");
  g_ptr_array_add (args, (gpointer) "--database");
  g_ptr_array_add (args, (gpointer)database);
  for (guint i = 0; extra_args && extra_args[i]; i++)
    g_ptr_array_add (args, (gpointer)extra_args[i]);
  g_ptr_array_add (args, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *)args->pdata, &error);
  g_assert_no_error (error);
  return proc;
}

char *
tsq_test_make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("tsq-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
tsq_test_rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        tsq_test_rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}
