/* tsq-test-webapps.h: real Debian-packaged web applications served on loopback for tests.
 *
 * Starts a private nginx (and php-fpm, and for WordPress a private MariaDB) with configurations
 * written into a fresh temporary directory, on a free port of 127.0.0.1. Nothing under /etc is
 * edited and no system service is used; the packages' files are only read. Works as root (the
 * workers run as www-data, or nobody when www-data does not exist) and as a normal user.
 *
 * Every server runs in its own process group, is killed with the group on stop, and gets SIGTERM
 * if the test process dies (PR_SET_PDEATHSIG), so that a failed assertion leaves nothing behind.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TSQ_TEST_WEBAPPS_ERROR (tsq_test_webapps_error_quark ())

typedef enum
{
  TSQ_TEST_WEBAPPS_ERROR_MISSING, /* a required program or package file is not installed */
  TSQ_TEST_WEBAPPS_ERROR_FAILED,  /* a server did not start or an application did not install */
} TsqTestWebappsError;

typedef enum
{
  TSQ_TEST_WEBAPPS_NONE = 0,
  /* Also start MariaDB and install WordPress (through its own installer, over HTTP). */
  TSQ_TEST_WEBAPPS_WORDPRESS = 1 << 0,
} TsqTestWebappsFlags;

typedef struct _TsqTestWebapps TsqTestWebapps;

GQuark tsq_test_webapps_error_quark (void);

/* Serves, on one port: / (Debian's nginx welcome page), /jquery.html (a page linking
 * /javascript/jquery/jquery.js from libjs-jquery), /phpmyadmin/, /adminer/ and, with
 * TSQ_TEST_WEBAPPS_WORDPRESS, /wordpress/ (installed). */
TsqTestWebapps *tsq_test_webapps_start (TsqTestWebappsFlags flags, GError **error);
/* Stops every server (process groups) and removes the directory (kept when the environment
 * variable TSQ_KEEP_WEBAPPS is set, for debugging). NULL is allowed. */
void tsq_test_webapps_free (TsqTestWebapps *self);
const char *tsq_test_webapps_get_dir (TsqTestWebapps *self);
guint16 tsq_test_webapps_get_port (TsqTestWebapps *self);
/* "http://127.0.0.1:PORT" + path; path must start with '/'. */
char *tsq_test_webapps_get_url (TsqTestWebapps *self, const char *path);
/* The php-fpm program serving PHP (e.g. /usr/sbin/php-fpm8.2). */
const char *tsq_test_webapps_get_php_fpm (TsqTestWebapps *self);
/* The last lines of every server log, for failure messages. */
char *tsq_test_webapps_get_logs (TsqTestWebapps *self);

/* Fails with TSQ_TEST_WEBAPPS_ERROR_MISSING, naming the package, when path does not exist. */
gboolean tsq_test_webapps_require (const char *path, const char *package, GError **error);
/* The package owning path, by `dpkg-query -S` (e.g. /usr/sbin/nginx -> "nginx-light" or
 * "nginx"). */
char *tsq_test_package_owning (const char *path, GError **error);
/* The installed package's upstream version, by `dpkg-query -W` ("4:5.2.1+dfsg-1" -> "5.2.1"). */
char *tsq_test_package_version (const char *package, GError **error);
/* Upstream part of a Debian version: drops the epoch, the Debian revision and repacking
 * suffixes (+dfsg, ~...): the leading run of digits and dots. NULL when there is none. */
char *tsq_test_upstream_version (const char *debian_version);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqTestWebapps, tsq_test_webapps_free)

G_END_DECLS
