/* tsq-cron.h: cron expressions (Vixie syntax, optional seconds field) evaluated in an IANA zone.
 *
 * Grammar: 5 fields (minute hour day-of-month month day-of-week) or 6 (second first). Each field
 * is a comma list of '*', N, N-M, with an optional '/STEP' ("*\/5", "1-30/2", "5/15" = 5-max/15).
 * Months accept JAN-DEC, days of week SUN-SAT (0 and 7 are Sunday); '?' is '*' in the two day
 * fields. Macros: @yearly @annually @monthly @weekly @daily @midnight @hourly. When both day
 * fields are restricted (neither starts with '*' or '?'), a day matches when EITHER matches.
 *
 * Daylight saving time (see docs/scheduling.md for the worked examples):
 *  - a wall-clock time skipped by a spring-forward jump fires once, at the instant of the jump
 *    (02:30 on 2026-03-08 in America/New_York fires at 03:00 EDT); several skipped times
 *    coalesce into that one fire;
 *  - a wall-clock time repeated by an autumn fall-back fires once, at its first occurrence,
 *    unless the expression is a "wildcard" job (its second, minute or hour field starts with
 *    '*', as cronie's MIN_STAR/HR_STAR): those follow real elapsed time and also fire during
 *    the repeated hour ("0 * * * *" fires at 01:00 EDT and again at 01:00 EST).
 *
 * A TsqCron is immutable after parsing; tsq_cron_next() may be called from several threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSQ_CRON_ERROR (tsq_cron_error_quark ())

typedef enum
{
  TSQ_CRON_ERROR_INVALID,
} TsqCronError;

GQuark tsq_cron_error_quark (void);

typedef struct _TsqCron TsqCron;

TsqCron *tsq_cron_parse (const char *expr, GError **error);
void tsq_cron_free (TsqCron *cron);
/* The normalised expression (fields separated by one space, or the macro). */
char *tsq_cron_to_string (TsqCron *cron);
/* TRUE for a "wildcard" job (second, minute or hour field starts with '*'): see DST above. */
gboolean tsq_cron_is_wildcard (TsqCron *cron);
/* Next fire strictly after `after`, in tz (NULL = UTC); NULL if none within 5 years. */
GDateTime *tsq_cron_next (TsqCron *cron, GDateTime *after, GTimeZone *tz);
/* Same on Unix seconds: returns FALSE if none within 5 years. */
gboolean tsq_cron_next_unix (TsqCron *cron, gint64 after_s, GTimeZone *tz, gint64 *next_s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqCron, tsq_cron_free)

G_END_DECLS
