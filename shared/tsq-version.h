/* tsq-version.h: comparing software version strings and testing them against ranges.
 *
 * Versions as fingerprints report them: "3.4.1", "v2.0", "1.0.0-rc1", "1.0.2k-fips", "9.0.0.M1",
 * "7.4.3-1ubuntu2". See docs/security.md for the exact ordering rules.
 * Every function here is pure and thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_VERSION_ERROR (tsq_version_error_quark ())

typedef enum
{
  TSQ_VERSION_ERROR_INVALID_RANGE,
  TSQ_VERSION_ERROR_INVALID_VERSION,
} TsqVersionError;

GQuark tsq_version_error_quark (void);

/* <0, 0, >0 like strcmp. NULL sorts like "". Total order: never fails. */
int tsq_version_compare (const char *a, const char *b);

/* TRUE when @version starts (after an optional 'v') with a digit: a version we can compare. */
gboolean tsq_version_is_valid (const char *version);

/* Range syntax: comparators separated by spaces are ANDed, "||" ORs groups:
 * ">=1.2.0 <3.5.0", "<1.12.0", "=2.0.1", "2.0.1" (same as "="), "<=1.8.3", "*" (any version).
 * An operator may be followed by spaces (">= 1.2"). A malformed range sets @error.
 * A @version that is not valid (see tsq_version_is_valid) is in no range, not even "*". */
gboolean tsq_version_in_range (const char *version, const char *range, GError **error);

/* A parsed range, for callers that test many versions against the same range. Immutable. */
typedef struct _TsqVersionRange TsqVersionRange;

TsqVersionRange *tsq_version_range_parse (const char *range, GError **error);
gboolean tsq_version_range_contains (const TsqVersionRange *range, const char *version);
void tsq_version_range_free (TsqVersionRange *range);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqVersionRange, tsq_version_range_free)

G_END_DECLS
