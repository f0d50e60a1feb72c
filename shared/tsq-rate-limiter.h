/* tsq-rate-limiter.h: politeness towards web sites.
 *
 * One token bucket per registrable domain (www.bbc.co.uk and news.bbc.co.uk share "bbc.co.uk")
 * plus a global cap on scans in flight. Queued jobs are handed out round-robin across domains:
 * a domain that was just served goes to the back of the line of ready domains, so one with 1,000
 * queued jobs cannot starve one with a single job. Time is passed in (now_us), which keeps the
 * limiter deterministic under test; any monotonic or real-time µs clock works if used
 * consistently.
 *
 * All functions are thread-safe (one internal mutex). The limiter never owns the jobs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TsqRateLimiter TsqRateLimiter;

#define TSQ_RATE_LIMITER_DEFAULT_RATE 0.1
#define TSQ_RATE_LIMITER_DEFAULT_BURST 1.0
#define TSQ_RATE_LIMITER_DEFAULT_MAX_IN_FLIGHT 100

/* per_domain_rate: tokens (scan starts) per second, <= 0 = unlimited; burst: bucket size
 * (values < 1 become 1); max_in_flight: 0 = no global cap. */
TsqRateLimiter *tsq_rate_limiter_new (double per_domain_rate, double burst, guint max_in_flight);
void tsq_rate_limiter_free (TsqRateLimiter *rl);
void tsq_rate_limiter_set_domain_rate (TsqRateLimiter *rl,
                                       const char *domain,
                                       double rate,
                                       double burst);
/* Registrable domain of the URL's host (libpsl, newest list on the system, else the built-in
 * one), lower-cased; IP literals, single-label hosts and hosts that are public suffixes
 * themselves give the host. A bare host name is accepted too. NULL if there is no host. */
char *tsq_rate_limiter_domain_for_url (const char *url);
void tsq_rate_limiter_enqueue (TsqRateLimiter *rl, const char *domain, gpointer job);
/* Pops up to max ready jobs (each takes a token of its domain and an in-flight slot) into
 * jobs_out; returns how many. *next_ready_us (optional): G_MAXINT64 if nothing is queued or
 * the in-flight cap is reached (call again after a release), now_us if more are ready but max
 * was reached, else the earliest time a domain gets a token. */
guint tsq_rate_limiter_take_ready (
  TsqRateLimiter *rl, gint64 now_us, gpointer *jobs_out, guint max, gint64 *next_ready_us);
/* Removes every queued job equal to job (e.g. a monitor deleted while waiting); returns the
 * number removed. */
guint tsq_rate_limiter_cancel (TsqRateLimiter *rl, const char *domain, gpointer job);
/* A scan finished: frees one in-flight slot. */
void tsq_rate_limiter_release (TsqRateLimiter *rl);
guint tsq_rate_limiter_get_queued (TsqRateLimiter *rl);
guint tsq_rate_limiter_get_in_flight (TsqRateLimiter *rl);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqRateLimiter, tsq_rate_limiter_free)

G_END_DECLS
