/* tsq-test-webapps.c: real Debian-packaged web applications served on loopback for tests. */
#define G_LOG_DOMAIN "tsq-test-webapps"
#define _GNU_SOURCE /* strverscmp */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsq-test-agent.h"
#include "tsq-test-webapps.h"

G_DEFINE_QUARK (tsq - test - webapps - error - quark, tsq_test_webapps_error)

#define NGINX_BIN "/usr/sbin/nginx"
#define MARIADBD_BIN "/usr/sbin/mariadbd"
#define MARIADB_INSTALL_DB_BIN "/usr/bin/mariadb-install-db"
#define MARIADB_BIN "/usr/bin/mariadb"
#define WORDPRESS_DIR "/usr/share/wordpress"
#define WORDPRESS_CONTENT_DIR "/var/lib/wordpress/wp-content"

/* Generous: the CI machine is shared, and MariaDB's first start initializes InnoDB. */
#define START_TIMEOUT_S 60
#define STOP_TIMEOUT_S 20
#define PORT_ATTEMPTS 20

typedef struct
{
  const char *name;
  GPid pid;  /* 0 once reaped */
  GPid pgid; /* the group the process leads, kept after it is reaped to kill what it left */
  int status;
} Proc;

struct _TsqTestWebapps
{
  char *dir;
  guint16 port;
  char *php_fpm_bin;
  char *web_user;  /* NULL unless running as root */
  char *web_group; /* idem */
  Proc nginx;
  Proc php_fpm;
  Proc mariadb;
  SoupSession *session;
};

static gboolean
missing (GError **error, const char *what, const char *package)
{
  g_set_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_MISSING,
               "%s not found: install the Debian package %s (tools/install-deps.sh --tests)", what,
               package);
  return FALSE;
}

gboolean
tsq_test_webapps_require (const char *path, const char *package, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return missing (error, path, package);
  return TRUE;
}

char *
tsq_test_upstream_version (const char *debian_version)
{
  const char *p = debian_version;
  const char *colon;
  gsize len = 0;

  if (p == NULL)
    return NULL;
  colon = strchr (p, ':');
  if (colon)
    p = colon + 1;
  while (g_ascii_isdigit (p[len]) || (p[len] == '.' && len > 0))
    len++;
  while (len > 0 && p[len - 1] == '.')
    len--;
  return len > 0 ? g_strndup (p, len) : NULL;
}

static char *
run_capture (const char *const *argv, GError **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, error))
    return NULL;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_MISSING, "%s: %s", argv[0],
                   g_strstrip (err));
      return NULL;
    }
  return g_steal_pointer (&out);
}

char *
tsq_test_package_owning (const char *path, GError **error)
{
  const char *argv[] = { "dpkg-query", "-S", path, NULL };
  g_autofree char *out = run_capture (argv, error);
  char *colon;

  /* "nginx-light: /usr/sbin/nginx" (or "pkg:arch: path") */
  if (out == NULL)
    return NULL;
  colon = strstr (out, ": ");
  if (colon == NULL)
    {
      g_set_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_MISSING,
                   "dpkg-query -S %s: unexpected answer %s", path, out);
      return NULL;
    }
  *colon = '\0';
  if (strchr (out, ','))
    *strchr (out, ',') = '\0';
  if (strchr (out, ':'))
    *strchr (out, ':') = '\0';
  return g_strdup (g_strstrip (out));
}

char *
tsq_test_package_version (const char *package, GError **error)
{
  const char *argv[] = { "dpkg-query", "-W", "-f=${Status}\t${Version}", package, NULL };
  g_autofree char *out = run_capture (argv, error);
  const char *tab;
  char *version;

  if (out == NULL)
    return NULL;
  tab = strchr (out, '\t');
  if (tab == NULL || strstr (out, "install ok installed") == NULL)
    {
      missing (error, package, package);
      return NULL;
    }
  version = tsq_test_upstream_version (tab + 1);
  if (version == NULL)
    g_set_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_FAILED,
                 "package %s: no upstream version in %s", package, tab + 1);
  return version;
}

/* --- processes --- */

static void
child_setup (gpointer data)
{
  /* Own process group, so that stopping kills the workers too; and SIGTERM if the test dies
   * (an assertion aborts the test program before the fixture's teardown can run). */
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
proc_spawn (
  TsqTestWebapps *self, Proc *proc, const char *name, const char *const *argv, GError **error)
{
  g_autofree char *log = g_strdup_printf ("%s/log/%s.out", self->dir, name);
  int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  gboolean ok;

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", log,
                   g_strerror (errno));
      return FALSE;
    }
  proc->name = name;
  ok = g_spawn_async_with_fds (self->dir, (char **)argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL, child_setup,
                               NULL, &proc->pid, -1, fd, fd, error);
  close (fd);
  if (!ok)
    {
      proc->pid = 0;
      return FALSE;
    }
  proc->pgid = proc->pid;
  return TRUE;
}

/* TRUE while the process runs; reaps it once it exited. */
static gboolean
proc_alive (Proc *proc)
{
  if (proc->pid == 0)
    return FALSE;
  if (waitpid (proc->pid, &proc->status, WNOHANG) == proc->pid)
    {
      proc->pid = 0;
      return FALSE;
    }
  return TRUE;
}

static void
proc_stop (Proc *proc)
{
  if (proc->pgid == 0)
    return;
  if (proc_alive (proc))
    {
      kill (-proc->pgid, SIGTERM);
      for (guint i = 0; i < STOP_TIMEOUT_S * 10 && proc_alive (proc); i++)
        g_usleep (G_USEC_PER_SEC / 10);
      if (proc->pid != 0)
        {
          g_message ("%s did not stop on SIGTERM: killing it", proc->name);
          kill (-proc->pgid, SIGKILL);
          waitpid (proc->pid, &proc->status, 0);
          proc->pid = 0;
        }
    }
  /* Workers the master left behind (it was reaped just now, so the group id is not reused). */
  if (kill (-proc->pgid, 0) == 0)
    kill (-proc->pgid, SIGKILL);
  proc->pgid = 0;
}

/* --- files --- */

static gboolean
write_file (const char *path, const char *contents, GError **error)
{
  if (!g_file_set_contents (path, contents, -1, error))
    return FALSE;
  /* g_file_set_contents creates 0600 files; the workers (another user as root) read them. */
  g_chmod (path, 0644);
  return TRUE;
}

static gboolean
write_template (TsqTestWebapps *self,
                const char *template_name,
                const char *dest,
                const char *user_line,
                GError **error)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "webapps", template_name, NULL);
  g_autofree char *text = NULL;
  g_autofree char *port = g_strdup_printf ("%u", self->port);
  g_autofree char *salt = g_strdup_printf ("tsq-%08x%08x", g_random_int (), g_random_int ());
  g_autoptr (GString) out = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  out = g_string_new (text);
  g_string_replace (out, "@DIR@", self->dir, 0);
  g_string_replace (out, "@PORT@", port, 0);
  g_string_replace (out, "@USER@", user_line, 0);
  g_string_replace (out, "@SALT@", salt, 0);
  return write_file (dest, out->str, error);
}

static gboolean
make_dir (const char *path, int mode, GError **error)
{
  if (g_mkdir_with_parents (path, mode) != 0 || g_chmod (path, mode) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* As root the workers run as another user: every directory above ours must let it through. */
static gboolean
check_traversable (const char *dir, GError **error)
{
  g_autofree char *path = g_strdup (dir);

  while (strcmp (path, "/") != 0 && strcmp (path, ".") != 0)
    {
      char *parent;
      GStatBuf st;

      if (g_stat (path, &st) == 0 && !(st.st_mode & S_IXOTH))
        {
          g_set_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_FAILED,
                       "%s is not searchable by other users, so the web server's workers cannot "
                       "reach %s: set TMPDIR to a directory like /tmp",
                       path, dir);
          return FALSE;
        }
      parent = g_path_get_dirname (path);
      g_free (path);
      path = parent;
    }
  return TRUE;
}

static gboolean
copy_welcome_page (TsqTestWebapps *self, GError **error)
{
  /* nginx-common ships /usr/share/nginx/html/index.html and its postinst copies it to
   * /var/www/html/index.nginx-debian.html, which the default site serves. */
  const char *sources[]
    = { "/var/www/html/index.nginx-debian.html", "/usr/share/nginx/html/index.html" };
  g_autofree char *dest = g_build_filename (self->dir, "html", "index.nginx-debian.html", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (sources[i], &text, NULL, NULL))
        return write_file (dest, text, error);
    }
  return missing (error, sources[0], "nginx-common");
}

static gboolean
write_pages (TsqTestWebapps *self, GError **error)
{
  g_autofree char *jquery = g_build_filename (self->dir, "html", "jquery.html", NULL);

  if (!copy_welcome_page (self, error))
    return FALSE;
  /* A page using the jQuery that libjs-jquery installs, the way Debian packages link it. */
  return write_file (jquery,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
                     "<title>jQuery from libjs-jquery</title>\n"
                     "<script src=\"/javascript/jquery/jquery.js\"></script>\n"
                     "</head><body><p id=\"out\">Loading</p>\n"
                     "<script>$(function () { $('#out').text('Loaded'); });</script>\n"
                     "</body></html>\n",
                     error);
}

/* --- ports and readiness --- */

static gboolean
port_is_free (guint16 port)
{
  struct sockaddr_in addr = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  gboolean ok;

  if (fd < 0)
    return FALSE;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ok = bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  close (fd);
  return ok;
}

static char *
read_log (TsqTestWebapps *self, const char *name)
{
  g_autofree char *path = g_build_filename (self->dir, "log", name, NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

static char *
log_tail (TsqTestWebapps *self, const char *name, gsize max)
{
  g_autofree char *text = read_log (self, name);
  gsize len = strlen (text);

  return g_strdup (len > max ? text + len - max : text);
}

char *
tsq_test_webapps_get_logs (TsqTestWebapps *self)
{
  const char *names[] = { "nginx.out",    "nginx-error.log", "php-fpm.out",
                          "php-fpm.log",  "php-errors.log",  "mariadb-install-db.out",
                          "mariadbd.out", "mariadb.log",     "mariadb-client.out" };
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *tail = log_tail (self, names[i], 2000);

      if (*tail)
        g_string_append_printf (out, "--- %s/log/%s (end) ---\n%s\n", self->dir, names[i], tail);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
fail_with_logs (TsqTestWebapps *self, GError **error, const char *what)
{
  g_autofree char *logs = tsq_test_webapps_get_logs (self);

  g_set_error (error, TSQ_TEST_WEBAPPS_ERROR, TSQ_TEST_WEBAPPS_ERROR_FAILED, "%s:\n%s", what, logs);
  return FALSE;
}

static guint
http_get (TsqTestWebapps *self, const char *path, char **server)
{
  g_autofree char *url = tsq_test_webapps_get_url (self, path);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (self->session, msg, NULL, NULL);

  if (server)
    *server
      = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg), "Server"));
  return body ? soup_message_get_status (msg) : 0;
}

static gboolean
start_nginx (TsqTestWebapps *self, GError **error)
{
  g_autofree char *conf = g_build_filename (self->dir, "nginx.conf", NULL);
  g_autofree char *early_log = g_build_filename (self->dir, "log", "nginx-error.log", NULL);
  g_autofree char *user_line = self->web_user
                                 ? g_strdup_printf ("user %s %s;", self->web_user, self->web_group)
                                 : g_strdup ("# not root: workers run as the test's user");
  /* -e: the error log nginx opens before reading its configuration (default /var/log/nginx). */
  const char *argv[] = { NGINX_BIN, "-e", early_log, "-c", conf, NULL };

  for (guint attempt = 0; attempt < PORT_ATTEMPTS; attempt++)
    {
      gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;
      gboolean port_taken = FALSE;
      g_autofree char *errors = NULL;

      /* nginx cannot listen on port 0 and report it: pick a random high port, retry if taken. */
      do
        self->port = (guint16)g_random_int_range (20000, 60000);
      while (!port_is_free (self->port));
      if (!write_template (self, "nginx.conf.in", conf, user_line, error))
        return FALSE;
      if (!proc_spawn (self, &self->nginx, "nginx", argv, error))
        return FALSE;
      while (proc_alive (&self->nginx) && g_get_monotonic_time () < deadline)
        {
          g_autofree char *server = NULL;

          if (http_get (self, "/", &server) != 0 && proc_alive (&self->nginx))
            {
              if (server && g_str_has_prefix (server, "nginx"))
                return TRUE;
              port_taken = TRUE; /* someone else answered on that port */
              break;
            }
          g_usleep (G_USEC_PER_SEC / 20);
        }
      errors = read_log (self, "nginx-error.log");
      proc_stop (&self->nginx);
      if (!port_taken && strstr (errors, "Address already in use") == NULL)
        break;
      g_unlink (early_log);
    }
  return fail_with_logs (self, error, "nginx did not start");
}

static char *
find_php_fpm (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/usr/sbin", 0, NULL);
  g_autofree char *best = NULL;
  const char *name;

  /* Debian installs php-fpmX.Y for each PHP version; take the newest. */
  while (dir && (name = g_dir_read_name (dir)))
    if (g_str_has_prefix (name, "php-fpm") && g_ascii_isdigit (name[7])
        && (best == NULL || strverscmp (name, best) > 0))
      {
        g_free (best);
        best = g_strdup (name);
      }
  return best ? g_build_filename ("/usr/sbin", best, NULL) : NULL;
}

static gboolean
wait_for_file (Proc *proc, const char *path)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline && proc_alive (proc))
    {
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
      g_usleep (G_USEC_PER_SEC / 20);
    }
  return FALSE;
}

static gboolean
start_php_fpm (TsqTestWebapps *self, const char *binary, GError **error)
{
  g_autofree char *conf = g_build_filename (self->dir, "php-fpm.conf", NULL);
  g_autofree char *socket = g_build_filename (self->dir, "run", "php-fpm.sock", NULL);
  g_autofree char *user_line
    = self->web_user ? g_strdup_printf ("user = %s\ngroup = %s", self->web_user, self->web_group)
                     : g_strdup ("; not root: the pool runs as the test's user");
  /* -F: foreground; -y: our configuration. php.ini stays Debian's (no -c / -n). */
  const char *argv[] = { binary, "-F", "-y", conf, NULL };

  if (!write_template (self, "php-fpm.conf.in", conf, user_line, error))
    return FALSE;
  if (!proc_spawn (self, &self->php_fpm, "php-fpm", argv, error))
    return FALSE;
  if (!wait_for_file (&self->php_fpm, socket))
    {
      return fail_with_logs (self, error, "php-fpm did not start");
    }
  return TRUE;
}

/* --- WordPress and MariaDB --- */

static gboolean
run_logged (TsqTestWebapps *self, const char *name, const char *const *argv, GError **error)
{
  Proc proc = { 0 };

  if (!proc_spawn (self, &proc, name, argv, error))
    return FALSE;
  waitpid (proc.pid, &proc.status, 0);
  if (kill (-proc.pgid, 0) == 0)
    kill (-proc.pgid, SIGKILL);
  return g_spawn_check_wait_status (proc.status, error);
}

static gboolean
start_mariadb (TsqTestWebapps *self, GError **error)
{
  g_autofree char *datadir = g_build_filename (self->dir, "mysql", NULL);
  g_autofree char *socket = g_build_filename (self->dir, "run", "mysqld.sock", NULL);
  g_autofree char *datadir_arg = g_strconcat ("--datadir=", datadir, NULL);
  g_autofree char *socket_arg = g_strconcat ("--socket=", socket, NULL);
  g_autofree char *pid_arg = g_strconcat ("--pid-file=", self->dir, "/run/mysqld.pid", NULL);
  g_autofree char *log_arg = g_strconcat ("--log-error=", self->dir, "/log/mariadb.log", NULL);
  /* A private instance in our directory: as root it keeps root's identity (its files are ours
   * to delete); it needs no network, WordPress talks to it through the socket. */
  const char *user_arg = geteuid () == 0 ? "--user=root" : "--skip-name-resolve";
  const char *install_argv[] = { MARIADB_INSTALL_DB_BIN,
                                 "--no-defaults",
                                 datadir_arg,
                                 "--auth-root-authentication-method=normal",
                                 "--skip-test-db",
                                 user_arg,
                                 NULL };
  const char *server_argv[] = { MARIADBD_BIN,
                                "--no-defaults",
                                datadir_arg,
                                socket_arg,
                                pid_arg,
                                log_arg,
                                "--skip-networking",
                                "--skip-log-bin",
                                "--innodb-buffer-pool-size=32M",
                                user_arg,
                                NULL };
  const char *client_argv[] = { MARIADB_BIN,
                                "--no-defaults",
                                socket_arg,
                                "--user=root",
                                "--execute=CREATE DATABASE IF NOT EXISTS wordpress",
                                NULL };
  gint64 deadline;

  if (!make_dir (datadir, 0755, error))
    return FALSE;
  if (!run_logged (self, "mariadb-install-db", install_argv, error))
    {
      g_prefix_error (error,
                      "mariadb-install-db failed (%s/log/mariadb-install-db.out): ", self->dir);
      return FALSE;
    }
  if (!proc_spawn (self, &self->mariadb, "mariadbd", server_argv, error))
    return FALSE;
  deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;
  while (proc_alive (&self->mariadb))
    {
      g_autoptr (GError) local_error = NULL;

      if (g_file_test (socket, G_FILE_TEST_EXISTS)
          && run_logged (self, "mariadb-client", client_argv, &local_error))
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        break;
      g_usleep (G_USEC_PER_SEC / 5);
    }
  return fail_with_logs (self, error, "MariaDB did not start");
}

static gboolean
prepare_wordpress (TsqTestWebapps *self, GError **error)
{
  g_autofree char *root = g_build_filename (self->dir, "html", "wordpress", NULL);
  g_autofree char *config = g_build_filename (root, "wp-config.php", NULL);
  g_autofree char *prepend = g_build_filename (self->dir, "wordpress-prepend.php", NULL);
  g_autofree char *prepend_text = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (!make_dir (root, 0755, error))
    return FALSE;
  dir = g_dir_open (WORDPRESS_DIR, 0, error);
  if (dir == NULL)
    return FALSE;
  /* The package's tree, except its wp-config.php (ours instead) and wp-content (Debian keeps
   * the writable content, themes included, in /var/lib/wordpress/wp-content). */
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *target = g_build_filename (WORDPRESS_DIR, name, NULL);
      g_autofree char *link = g_build_filename (root, name, NULL);

      if (strcmp (name, "wp-config.php") == 0 || strcmp (name, "wp-content") == 0
          || strcmp (name, ".htaccess") == 0)
        continue;
      if (symlink (target, link) != 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "symlink %s: %s", link,
                       g_strerror (errno));
          return FALSE;
        }
    }
  {
    g_autofree char *link = g_build_filename (root, "wp-content", NULL);

    if (symlink (WORDPRESS_CONTENT_DIR, link) != 0)
      {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "symlink %s: %s", link,
                     g_strerror (errno));
        return FALSE;
      }
  }
  if (!write_template (self, "wp-config.php.in", config, "", error))
    return FALSE;
  /* PHP resolves symlinks in __DIR__, so wp-load.php would set ABSPATH to /usr/share/wordpress
   * and load Debian's wp-config.php; defining ABSPATH first makes it load ours. */
  prepend_text = g_strdup_printf ("<?php\n/* Written by tests/tsq-test-webapps.c */\n"
                                  "if (!defined('ABSPATH'))\n  define('ABSPATH', '%s/');\n",
                                  root);
  return write_file (prepend, prepend_text, error);
}

static gboolean
install_wordpress (TsqTestWebapps *self, GError **error)
{
  g_autofree char *url = tsq_test_webapps_get_url (self, "/wordpress/wp-admin/install.php?step=2");
  g_autofree char *password = g_strdup_printf ("Tsq-%08x-%08x", g_random_int (), g_random_int ());
  g_autofree char *form = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) request = NULL;
  g_autofree char *text = NULL;

  /* The form WordPress's installer posts on its step 2 (wp-admin/install.php). */
  form = soup_form_encode ("weblog_title", "TechScanIQ test blog", "user_name", "admin",
                           "admin_password", password, "admin_password2", password, "pw_weak", "on",
                           "admin_email", "admin@example.com", "blog_public", "1", "language", "",
                           NULL);
  request = g_bytes_new (form, strlen (form));
  msg = soup_message_new ("POST", url);
  soup_message_set_request_body_from_bytes (msg, "application/x-www-form-urlencoded", request);
  body = soup_session_send_and_read (self->session, msg, NULL, error);
  if (body == NULL)
    return FALSE;
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  if (soup_message_get_status (msg) != 200 || strstr (text, "wp-login.php") == NULL)
    {
      g_autofree char *what = g_strdup_printf ("WordPress install: HTTP %u:\n%.2000s",
                                               soup_message_get_status (msg), text);

      return fail_with_logs (self, error, what);
    }
  return TRUE;
}

/* --- public --- */

static gboolean
check_programs (TsqTestWebappsFlags flags, char **php_fpm, GError **error)
{
  if (!tsq_test_webapps_require (NGINX_BIN, "nginx-light", error))
    return FALSE;
  *php_fpm = find_php_fpm ();
  if (*php_fpm == NULL)
    return missing (error, "/usr/sbin/php-fpmX.Y", "php-fpm");
  if (flags & TSQ_TEST_WEBAPPS_WORDPRESS)
    {
      if (!tsq_test_webapps_require (WORDPRESS_DIR "/wp-includes/version.php", "wordpress", error)
          || !tsq_test_webapps_require (WORDPRESS_CONTENT_DIR, "wordpress", error)
          || !tsq_test_webapps_require (MARIADBD_BIN, "mariadb-server", error)
          || !tsq_test_webapps_require (MARIADB_INSTALL_DB_BIN, "mariadb-server", error)
          || !tsq_test_webapps_require (MARIADB_BIN, "mariadb-client", error))
        return FALSE;
    }
  return TRUE;
}

static void
pick_web_user (TsqTestWebapps *self)
{
  struct passwd *pw;
  struct group *gr;

  if (geteuid () != 0)
    return;
  /* Debian's web user, as the packaged configurations use; nobody where it does not exist. */
  pw = getpwnam ("www-data");
  gr = getgrnam ("www-data");
  if (pw && gr)
    {
      self->web_user = g_strdup ("www-data");
      self->web_group = g_strdup ("www-data");
    }
  else
    {
      self->web_user = g_strdup ("nobody");
      self->web_group = g_strdup (getgrnam ("nogroup") ? "nogroup" : "nobody");
    }
}

TsqTestWebapps *
tsq_test_webapps_start (TsqTestWebappsFlags flags, GError **error)
{
  g_autoptr (TsqTestWebapps) self = g_new0 (TsqTestWebapps, 1);
  const char *subdirs[] = { "html", "run", "log" };
  g_autofree char *sessions = NULL;

  if (!check_programs (flags, &self->php_fpm_bin, error))
    return NULL;
  self->dir = g_dir_make_tmp ("tsq-webapps-XXXXXX", error);
  if (self->dir == NULL)
    return NULL;
  pick_web_user (self);
  self->session = soup_session_new_with_options ("timeout", 60, NULL);
  if (!make_dir (self->dir, 0755, error))
    return NULL;
  if (self->web_user && !check_traversable (self->dir, error))
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (self->dir, subdirs[i], NULL);

      if (!make_dir (path, 0755, error))
        return NULL;
    }
  /* PHP sessions are written by the pool's user: sticky and writable like /var/lib/php. */
  sessions = g_build_filename (self->dir, "sessions", NULL);
  if (!make_dir (sessions, 01733, error))
    return NULL;
  if (!write_pages (self, error))
    return NULL;
  if ((flags & TSQ_TEST_WEBAPPS_WORDPRESS) && !prepare_wordpress (self, error))
    return NULL;
  if ((flags & TSQ_TEST_WEBAPPS_WORDPRESS) && !start_mariadb (self, error))
    return NULL;
  if (!start_php_fpm (self, self->php_fpm_bin, error))
    return NULL;
  if (!start_nginx (self, error))
    return NULL;
  if ((flags & TSQ_TEST_WEBAPPS_WORDPRESS) && !install_wordpress (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

void
tsq_test_webapps_free (TsqTestWebapps *self)
{
  if (self == NULL)
    return;
  proc_stop (&self->nginx);
  proc_stop (&self->php_fpm);
  proc_stop (&self->mariadb);
  g_clear_object (&self->session);
  if (self->dir)
    {
      if (g_getenv ("TSQ_KEEP_WEBAPPS"))
        g_printerr ("# kept %s (TSQ_KEEP_WEBAPPS)\n", self->dir);
      else
        tsq_test_rm_rf (self->dir);
    }
  g_free (self->dir);
  g_free (self->php_fpm_bin);
  g_free (self->web_user);
  g_free (self->web_group);
  g_free (self);
}

const char *
tsq_test_webapps_get_dir (TsqTestWebapps *self)
{
  return self->dir;
}

const char *
tsq_test_webapps_get_php_fpm (TsqTestWebapps *self)
{
  return self->php_fpm_bin;
}

guint16
tsq_test_webapps_get_port (TsqTestWebapps *self)
{
  return self->port;
}

char *
tsq_test_webapps_get_url (TsqTestWebapps *self, const char *path)
{
  g_return_val_if_fail (path != NULL && path[0] == '/', NULL);
  return g_strdup_printf ("http://127.0.0.1:%u%s", self->port, path);
}
