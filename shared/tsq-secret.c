/* tsq-secret.c: secrets from the config, the environment or a file, never printed. */
#define G_LOG_DOMAIN "tsq-secret"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tsq-secret.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-secret-error-quark, tsq_secret_error)
/* clang-format on */

struct _TsqSecret
{
  char *value;
  gsize len;
  TsqSecretSource source;
  char *origin; /* variable name or file path; NULL when inline */
};

/* A plain memset before free may be optimised away; explicit_bzero (glibc 2.25) may not. */
static void
wipe (void *data, gsize len)
{
  if (data != NULL && len > 0)
    explicit_bzero (data, len);
}

static TsqSecret *
secret_take (char *value, TsqSecretSource source, const char *origin)
{
  TsqSecret *secret = g_new0 (TsqSecret, 1);

  secret->value = value;
  secret->len = strlen (value);
  secret->source = source;
  secret->origin = g_strdup (origin);
  return secret;
}

TsqSecret *
tsq_secret_new (const char *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  return secret_take (g_strdup (value), TSQ_SECRET_SOURCE_INLINE, NULL);
}

TsqSecret *
tsq_secret_copy (const TsqSecret *secret)
{
  if (secret == NULL)
    return NULL;
  return secret_take (g_strdup (secret->value), secret->source, secret->origin);
}

void
tsq_secret_free (TsqSecret *secret)
{
  if (secret == NULL)
    return;
  wipe (secret->value, secret->len);
  g_free (secret->value);
  g_free (secret->origin);
  g_free (secret);
}

const char *
tsq_secret_get_value (const TsqSecret *secret)
{
  g_return_val_if_fail (secret != NULL, NULL);

  return secret->value;
}

TsqSecretSource
tsq_secret_get_source (const TsqSecret *secret)
{
  g_return_val_if_fail (secret != NULL, TSQ_SECRET_SOURCE_INLINE);

  return secret->source;
}

const char *
tsq_secret_redact (const TsqSecret *secret)
{
  return TSQ_SECRET_REDACTED;
}

char *
tsq_secret_describe (const TsqSecret *secret)
{
  if (secret == NULL)
    return g_strdup ("(none)");
  switch (secret->source)
    {
      case TSQ_SECRET_SOURCE_ENV:
        return g_strdup_printf (TSQ_SECRET_REDACTED " (from $%s)", secret->origin);
      case TSQ_SECRET_SOURCE_FILE:
        return g_strdup_printf (TSQ_SECRET_REDACTED " (from file %s)", secret->origin);
      case TSQ_SECRET_SOURCE_INLINE:
      default:
        return g_strdup (TSQ_SECRET_REDACTED " (inline)");
    }
}

gboolean
tsq_secret_is_key_for (const char *key, const char *base)
{
  gsize len = strlen (base);

  if (strncmp (key, base, len) != 0)
    return FALSE;
  return key[len] == '\0' || strcmp (key + len, "_env") == 0 || strcmp (key + len, "_file") == 0;
}

/* Secrets go into protocol fields (HTTP headers, SMTP AUTH): control characters would let a
 * value smuggle extra protocol lines, so they are refused. */
static gboolean
check_value (const char *value, const char *group, const char *key, GError **error)
{
  if (*value == '\0')
    {
      g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_INVALID, "[%s] %s: empty secret",
                   group, key);
      return FALSE;
    }
  for (const char *p = value; *p; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f)
      {
        g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_INVALID,
                     "[%s] %s: the secret contains a control character", group, key);
        return FALSE;
      }
  return TRUE;
}

static char *
read_secret_file (const char *path, const char *group, const char *key, GError **error)
{
  char buffer[TSQ_SECRET_MAX_FILE_SIZE + 1];
  struct stat st;
  gssize n;
  char *newline;
  char *value;
  int fd;

  if (!g_path_is_absolute (path))
    {
      g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_FILE,
                   "[%s] %s: “%s” is not an absolute path", group, key, path);
      return NULL;
    }
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_FILE, "[%s] %s: cannot open %s: %s",
                   group, key, path, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_FILE,
                   "[%s] %s: %s is not a regular file", group, key, path);
      return NULL;
    }
  if (st.st_mode & S_IROTH)
    g_warning ("[%s] %s: secret file %s is readable by every user (mode %04o); "
               "chmod o-r it",
               group, key, path, (guint)(st.st_mode & 07777));

  n = read (fd, buffer, sizeof buffer);
  close (fd);
  if (n < 0 || n > TSQ_SECRET_MAX_FILE_SIZE)
    {
      wipe (buffer, sizeof buffer);
      g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_FILE,
                   n < 0 ? "[%s] %s: cannot read %s" : "[%s] %s: %s is larger than 64 KiB", group,
                   key, path);
      return NULL;
    }
  buffer[n] = '\0';
  /* First line only, so a file may end with a newline (echo secret > file) or carry notes. */
  newline = strpbrk (buffer, "\r\n");
  if (newline != NULL)
    *newline = '\0';
  value = g_strdup (g_strstrip (buffer));
  wipe (buffer, sizeof buffer);
  return value;
}

TsqSecret *
tsq_secret_new_from_key_file (
  GKeyFile *key_file, const char *group, const char *name, gboolean required, GError **error)
{
  g_autofree char *env_key = g_strconcat (name, "_env", NULL);
  g_autofree char *file_key = g_strconcat (name, "_file", NULL);
  gboolean has_inline = g_key_file_has_key (key_file, group, name, NULL);
  gboolean has_env = g_key_file_has_key (key_file, group, env_key, NULL);
  gboolean has_file = g_key_file_has_key (key_file, group, file_key, NULL);
  g_autofree char *origin = NULL;
  TsqSecretSource source;
  const char *used_key;
  char *value = NULL;

  if (has_inline + has_env + has_file > 1)
    {
      g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_AMBIGUOUS,
                   "[%s] %s: give only one of %s, %s and %s", group, name, name, env_key, file_key);
      return NULL;
    }
  if (!has_inline && !has_env && !has_file)
    {
      if (required)
        g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_MISSING,
                     "[%s] %s: missing (set %s, %s or %s)", group, name, name, env_key, file_key);
      return NULL;
    }

  if (has_inline)
    {
      used_key = name;
      source = TSQ_SECRET_SOURCE_INLINE;
      /* g_key_file_get_value: no escape processing, so "\s" stays as typed. Not
       * get_string, which would also work but mangles backslashes. */
      value = g_key_file_get_value (key_file, group, name, NULL);
      if (value != NULL)
        g_strstrip (value);
    }
  else if (has_env)
    {
      const char *env;

      used_key = env_key;
      source = TSQ_SECRET_SOURCE_ENV;
      origin = g_key_file_get_string (key_file, group, env_key, NULL);
      if (origin == NULL || *g_strstrip (origin) == '\0')
        {
          g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_ENV,
                       "[%s] %s: empty variable name", group, env_key);
          return NULL;
        }
      env = g_getenv (origin);
      if (env == NULL || *env == '\0')
        {
          g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_ENV,
                       "[%s] %s: environment variable %s is not set", group, env_key, origin);
          return NULL;
        }
      value = g_strdup (env);
    }
  else
    {
      used_key = file_key;
      source = TSQ_SECRET_SOURCE_FILE;
      origin = g_key_file_get_string (key_file, group, file_key, NULL);
      if (origin == NULL || *g_strstrip (origin) == '\0')
        {
          g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_FILE, "[%s] %s: empty path", group,
                       file_key);
          return NULL;
        }
      value = read_secret_file (origin, group, file_key, error);
      if (value == NULL)
        return NULL;
    }

  if (value == NULL || !check_value (value, group, used_key, error))
    {
      if (value != NULL)
        wipe (value, strlen (value));
      g_free (value);
      if (error != NULL && *error == NULL)
        g_set_error (error, TSQ_SECRET_ERROR, TSQ_SECRET_ERROR_INVALID, "[%s] %s: unreadable",
                     group, used_key);
      return NULL;
    }
  return secret_take (value, source, origin);
}
