/* tsq-secret.h: secrets (SMTP passwords, API tokens, webhook keys) resolved from the config.
 *
 * A config key NAME may be given in exactly one of three forms:
 *   NAME=value          inline in the config file
 *   NAME_env=VARIABLE   the value of an environment variable
 *   NAME_file=/path     the first line of a file, trimmed (a file readable by everyone is
 *                       accepted with a warning: Kubernetes and Docker mount secrets 0644)
 * The resolved value is kept in memory that is wiped when freed. Nothing here ever logs or
 * formats the value: tsq_secret_describe () names only where it came from, and every
 * description elsewhere must print TSQ_SECRET_REDACTED in its place.
 *
 * Immutable after creation; safe to read from several threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_SECRET_REDACTED "***"
/* Secret files larger than this are refused (a secret is one line). */
#define TSQ_SECRET_MAX_FILE_SIZE 65536

typedef enum
{
  TSQ_SECRET_ERROR_MISSING,   /* required but none of the three keys is set */
  TSQ_SECRET_ERROR_AMBIGUOUS, /* more than one of NAME, NAME_env, NAME_file */
  TSQ_SECRET_ERROR_ENV,       /* the variable is unset or empty */
  TSQ_SECRET_ERROR_FILE,      /* unreadable, not a regular file, too large, empty */
  TSQ_SECRET_ERROR_INVALID,   /* empty value, or control characters */
} TsqSecretError;

#define TSQ_SECRET_ERROR (tsq_secret_error_quark ())
GQuark tsq_secret_error_quark (void);

typedef struct _TsqSecret TsqSecret;

/* Where a secret came from. */
typedef enum
{
  TSQ_SECRET_SOURCE_INLINE,
  TSQ_SECRET_SOURCE_ENV,
  TSQ_SECRET_SOURCE_FILE,
} TsqSecretSource;

/* A secret given directly (tests, programmatic setup). value is copied. */
TsqSecret *tsq_secret_new (const char *value);
/* Resolves NAME / NAME_env / NAME_file in group. If none is set: NULL without error when
 * !required, else TSQ_SECRET_ERROR_MISSING. Errors name the group and the key, never the
 * value. */
TsqSecret *tsq_secret_new_from_key_file (
  GKeyFile *key_file, const char *group, const char *name, gboolean required, GError **error);
TsqSecret *tsq_secret_copy (const TsqSecret *secret);
/* Wipes the value, then frees. NULL-safe. */
void tsq_secret_free (TsqSecret *secret);
/* The value itself: pass it to the protocol, never to a log or a message. */
const char *tsq_secret_get_value (const TsqSecret *secret);
TsqSecretSource tsq_secret_get_source (const TsqSecret *secret);
/* "*** (inline)", "*** (from $VAR)", "*** (from file /path)": safe to print. */
char *tsq_secret_describe (const TsqSecret *secret);
/* The placeholder to print instead of any secret value: "***". */
const char *tsq_secret_redact (const TsqSecret *secret);
/* TRUE if name is one of the three key forms of a secret called base ("password",
 * "password_env", "password_file"): lets config validators accept them. */
gboolean tsq_secret_is_key_for (const char *key, const char *base);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqSecret, tsq_secret_free)

G_END_DECLS
