/* tsq-rate-limiter.c: per-domain token buckets, a global in-flight cap, round-robin fairness.
 *
 * A domain with queued jobs is in exactly one of two places: the ready ring (a FIFO of domains
 * that hold a token; serving one moves it to the back, which is what makes the limiter fair) or
 * the waiting heap (keyed by the time its bucket reaches one token). take_ready() first moves
 * every domain whose time has come from the heap to the back of the ring, then serves the ring
 * from the front. Each hand-out is O(log domains).
 */
#define G_LOG_DOMAIN "tsq-rate-limiter"

#include "tsq-heap.h"
#include "tsq-rate-limiter.h"

#include <libpsl.h>
#include <math.h>
#include <string.h>

#define TOKEN_EPSILON 1e-9

typedef enum
{
  WHERE_NONE,
  WHERE_RING,
  WHERE_HEAP,
} Where;

typedef struct
{
  char *name;
  double rate;
  double burst;
  double tokens;
  gint64 last_us;
  gboolean primed; /* tokens/last_us are meaningful */
  GQueue jobs;
  Where where;
  GList ring_link;
  guint heap_index;
  gint64 ready_us;
  guint64 seq;
} Domain;

struct _TsqRateLimiter
{
  GMutex lock;
  double rate;
  double burst;
  guint max_in_flight;
  guint in_flight;
  guint queued;
  guint64 seq;
  GHashTable *domains; /* name -> Domain */
  GQueue ring;         /* of Domain, links embedded */
  TsqHeap *heap;       /* of Domain, min by (ready_us, seq) */
};

static void
domain_free (gpointer data)
{
  Domain *d = data;

  g_queue_clear (&d->jobs);
  g_free (d->name);
  g_free (d);
}

static gboolean
domain_less (gconstpointer a, gconstpointer b)
{
  const Domain *x = a, *y = b;

  return x->ready_us < y->ready_us || (x->ready_us == y->ready_us && x->seq < y->seq);
}

TsqRateLimiter *
tsq_rate_limiter_new (double per_domain_rate, double burst, guint max_in_flight)
{
  TsqRateLimiter *rl = g_new0 (TsqRateLimiter, 1);

  g_mutex_init (&rl->lock);
  rl->rate = isfinite (per_domain_rate) ? per_domain_rate : 0;
  rl->burst = isfinite (burst) && burst >= 1 ? burst : 1;
  rl->max_in_flight = max_in_flight;
  rl->domains = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, domain_free);
  g_queue_init (&rl->ring);
  rl->heap = tsq_heap_new (domain_less, G_STRUCT_OFFSET (Domain, heap_index));
  return rl;
}

void
tsq_rate_limiter_free (TsqRateLimiter *rl)
{
  if (rl == NULL)
    return;
  tsq_heap_free (rl->heap);
  g_hash_table_unref (rl->domains);
  g_mutex_clear (&rl->lock);
  g_free (rl);
}

/* ---- buckets ---- */

static void
refill (Domain *d, gint64 now_us)
{
  if (d->rate <= 0)
    {
      d->tokens = d->burst;
      return;
    }
  if (!d->primed)
    {
      d->tokens = d->burst;
      d->last_us = now_us;
      d->primed = TRUE;
    }
  else if (now_us > d->last_us)
    {
      d->tokens = MIN (d->burst, d->tokens + (double)(now_us - d->last_us) * d->rate / 1e6);
      d->last_us = now_us;
    }
}

static gboolean
has_token (const Domain *d)
{
  return d->rate <= 0 || !d->primed || d->tokens >= 1 - TOKEN_EPSILON;
}

static gint64
ready_time (const Domain *d)
{
  double wait;

  if (!d->primed)
    return G_MININT64;
  if (has_token (d))
    return d->last_us;
  wait = ceil ((1 - d->tokens) / d->rate * 1e6);
  return d->last_us + (wait < 1e15 ? (gint64)wait : (gint64)1e15);
}

static void
park (TsqRateLimiter *rl, Domain *d)
{
  d->ready_us = ready_time (d);
  d->seq = ++rl->seq;
  d->where = WHERE_HEAP;
  tsq_heap_push (rl->heap, d);
}

static void
unplace (TsqRateLimiter *rl, Domain *d)
{
  if (d->where == WHERE_RING)
    g_queue_unlink (&rl->ring, &d->ring_link);
  else if (d->where == WHERE_HEAP)
    tsq_heap_remove (rl->heap, d);
  d->where = WHERE_NONE;
}

static Domain *
lookup_domain (TsqRateLimiter *rl, const char *name)
{
  Domain *d = g_hash_table_lookup (rl->domains, name);

  if (d == NULL)
    {
      d = g_new0 (Domain, 1);
      d->heap_index = TSQ_HEAP_NOT_IN;
      d->name = g_strdup (name);
      d->rate = rl->rate;
      d->burst = rl->burst;
      d->ring_link.data = d;
      g_queue_init (&d->jobs);
      g_hash_table_insert (rl->domains, d->name, d);
    }
  return d;
}

void
tsq_rate_limiter_set_domain_rate (TsqRateLimiter *rl, const char *domain, double rate, double burst)
{
  Domain *d;

  g_return_if_fail (rl != NULL);
  g_mutex_lock (&rl->lock);
  d = lookup_domain (rl, domain ? domain : "");
  d->rate = isfinite (rate) ? rate : 0;
  d->burst = isfinite (burst) && burst >= 1 ? burst : 1;
  d->tokens = MIN (d->tokens, d->burst);
  if (d->where == WHERE_HEAP)
    {
      tsq_heap_remove (rl->heap, d);
      park (rl, d);
    }
  g_mutex_unlock (&rl->lock);
}

void
tsq_rate_limiter_enqueue (TsqRateLimiter *rl, const char *domain, gpointer job)
{
  Domain *d;

  g_return_if_fail (rl != NULL);
  g_mutex_lock (&rl->lock);
  d = lookup_domain (rl, domain ? domain : "");
  g_queue_push_tail (&d->jobs, job);
  rl->queued++;
  /* Without a clock here, a new arrival waits in the heap; take_ready() moves it to the back
   * of the ring when its time (usually already past) comes. */
  if (d->where == WHERE_NONE)
    park (rl, d);
  g_mutex_unlock (&rl->lock);
}

guint
tsq_rate_limiter_take_ready (
  TsqRateLimiter *rl, gint64 now_us, gpointer *jobs_out, guint max, gint64 *next_ready_us)
{
  guint count = 0;
  gint64 next;

  g_return_val_if_fail (rl != NULL, 0);
  g_return_val_if_fail (jobs_out != NULL || max == 0, 0);

  g_mutex_lock (&rl->lock);
  while (tsq_heap_get_size (rl->heap) > 0 && ((Domain *) tsq_heap_peek (rl->heap))->ready_us <= now_us)
    {
      Domain *d = tsq_heap_peek (rl->heap);

      tsq_heap_remove (rl->heap, d);
      d->where = WHERE_RING;
      g_queue_push_tail_link (&rl->ring, &d->ring_link);
    }

  while (count < max && (rl->max_in_flight == 0 || rl->in_flight < rl->max_in_flight)
         && rl->ring.length > 0)
    {
      Domain *d = rl->ring.head->data;

      g_queue_unlink (&rl->ring, &d->ring_link);
      d->where = WHERE_NONE;
      refill (d, now_us);
      if (!has_token (d))
        {
          /* Its rate was lowered while it waited in the ring. */
          park (rl, d);
          continue;
        }
      jobs_out[count++] = g_queue_pop_head (&d->jobs);
      if (d->rate > 0)
        d->tokens -= 1;
      rl->in_flight++;
      rl->queued--;
      if (d->jobs.length == 0)
        continue;
      if (has_token (d))
        {
          d->where = WHERE_RING;
          g_queue_push_tail_link (&rl->ring, &d->ring_link);
        }
      else
        park (rl, d);
    }

  if (rl->queued == 0 || (rl->max_in_flight != 0 && rl->in_flight >= rl->max_in_flight))
    next = G_MAXINT64;
  else if (rl->ring.length > 0)
    next = now_us;
  else if (tsq_heap_get_size (rl->heap) > 0)
    next = MAX (now_us, ((Domain *) tsq_heap_peek (rl->heap))->ready_us);
  else
    next = G_MAXINT64;
  g_mutex_unlock (&rl->lock);

  if (next_ready_us != NULL)
    *next_ready_us = next;
  return count;
}

guint
tsq_rate_limiter_cancel (TsqRateLimiter *rl, const char *domain, gpointer job)
{
  Domain *d;
  guint removed = 0;

  g_return_val_if_fail (rl != NULL, 0);
  g_mutex_lock (&rl->lock);
  d = g_hash_table_lookup (rl->domains, domain ? domain : "");
  if (d != NULL)
    {
      while (g_queue_remove (&d->jobs, job))
        removed++;
      rl->queued -= removed;
      if (d->jobs.length == 0)
        unplace (rl, d);
    }
  g_mutex_unlock (&rl->lock);
  return removed;
}

void
tsq_rate_limiter_release (TsqRateLimiter *rl)
{
  g_return_if_fail (rl != NULL);
  g_mutex_lock (&rl->lock);
  if (rl->in_flight > 0)
    rl->in_flight--;
  else
    g_warning ("tsq_rate_limiter_release() without a job in flight");
  g_mutex_unlock (&rl->lock);
}

guint
tsq_rate_limiter_get_queued (TsqRateLimiter *rl)
{
  guint n;

  g_return_val_if_fail (rl != NULL, 0);
  g_mutex_lock (&rl->lock);
  n = rl->queued;
  g_mutex_unlock (&rl->lock);
  return n;
}

guint
tsq_rate_limiter_get_in_flight (TsqRateLimiter *rl)
{
  guint n;

  g_return_val_if_fail (rl != NULL, 0);
  g_mutex_lock (&rl->lock);
  n = rl->in_flight;
  g_mutex_unlock (&rl->lock);
  return n;
}

/* ---- domains ---- */

static psl_ctx_t *
get_psl (void)
{
  static psl_ctx_t *psl;
  static gsize once;

  /* Loaded once per process and kept: the context is immutable and safe to share. */
  if (g_once_init_enter (&once))
    {
      psl = psl_latest (NULL);
      if (psl == NULL)
        psl = (psl_ctx_t *)psl_builtin ();
      g_once_init_leave (&once, 1);
    }
  return psl;
}

char *
tsq_rate_limiter_domain_for_url (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *host = NULL;
  const char *reg;
  psl_ctx_t *psl;
  gsize len;

  if (url == NULL || *url == '\0' || strlen (url) > 8192)
    return NULL;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if ((uri == NULL || g_uri_get_host (uri) == NULL) && strstr (url, "://") == NULL)
    {
      g_autofree char *with_scheme = g_strconcat ("http://", url, NULL);

      g_clear_pointer (&uri, g_uri_unref);
      uri = g_uri_parse (with_scheme, G_URI_FLAGS_NONE, NULL);
    }
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return NULL;

  host = g_utf8_strdown (g_uri_get_host (uri), -1);
  len = strlen (host);
  while (len > 0 && host[len - 1] == '.')
    host[--len] = '\0';
  if (len == 0)
    return NULL;
  if (g_hostname_is_ip_address (host) || strchr (host, '.') == NULL)
    return g_steal_pointer (&host);

  psl = get_psl ();
  reg = psl != NULL ? psl_registrable_domain (psl, host) : NULL;
  if (reg == NULL)
    return g_steal_pointer (&host);
  return g_strdup (reg);
}
