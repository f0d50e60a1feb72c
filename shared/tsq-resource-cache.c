/* tsq-resource-cache.c: linked resources fetched in parallel, revalidated across scans. */
#define G_LOG_DOMAIN "tsq-resource-cache"

#include <stdlib.h>
#include <string.h>

#include "tsq-resource-cache.h"

#define DEFAULT_MAX_TOTAL (256 * 1024 * 1024)
#define ENTRY_OVERHEAD 256 /* struct, strings and table slot, roughly */

typedef struct
{
  char *url;
  GBytes *body;
  char *etag;
  char *last_modified;
  char *content_type;
  gint64 fresh_until_us; /* monotonic; 0 = revalidate every time */
  gsize size;
  GList link; /* in the LRU queue, data = this entry */
} Entry;

struct _TsqResourceCache
{
  GObject parent_instance;

  GMutex lock;
  GHashTable *entries; /* url -> Entry (owned) */
  GQueue lru;          /* most recently used at the head */
  gsize max_total;
  gsize total;
};

G_DEFINE_FINAL_TYPE (TsqResourceCache, tsq_resource_cache, G_TYPE_OBJECT)

/* What a fetch needs from an entry, copied out under the lock. */
typedef struct
{
  GBytes *body;
  char *etag;
  char *last_modified;
  char *content_type;
  gboolean fresh;
} Snapshot;

typedef enum
{
  OUTCOME_PENDING,
  OUTCOME_FETCHED,
  OUTCOME_NOT_MODIFIED,
  OUTCOME_CACHED,
  OUTCOME_FAILED,
} Outcome;

typedef struct
{
  TsqResource *resource; /* owned by the results array */
  Snapshot cached;       /* zeroed when nothing was cached */
  Outcome outcome;
  guint64 wire_bytes;
} Item;

typedef struct
{
  TsqResourceCache *cache;
  TsqFetcher *fetcher;
  GPtrArray *results; /* TsqResource* */
  GArray *items;      /* Item, parallel to results */
  TsqResourceLimits limits;
  TsqResourceStats stats;
  GCancellable *cancellable;
  guint pending;
} FetchAll;

void
tsq_resource_limits_init (TsqResourceLimits *limits)
{
  g_return_if_fail (limits != NULL);

  limits->max_count = 20;
  limits->max_bytes_each = 1024 * 1024;
  limits->max_bytes_total = 4 * 1024 * 1024;
  limits->timeout_s = 10;
  limits->third_party = FALSE;
}

void
tsq_resource_free (TsqResource *resource)
{
  if (resource == NULL)
    return;
  g_free (resource->url);
  g_clear_pointer (&resource->body, g_bytes_unref);
  g_free (resource->error);
  g_free (resource->content_type);
  g_free (resource);
}

/* -- the LRU -- */

static void
entry_free (gpointer pointer)
{
  Entry *entry = pointer;

  g_free (entry->url);
  g_clear_pointer (&entry->body, g_bytes_unref);
  g_free (entry->etag);
  g_free (entry->last_modified);
  g_free (entry->content_type);
  g_free (entry);
}

static void
snapshot_clear (Snapshot *snapshot)
{
  g_clear_pointer (&snapshot->body, g_bytes_unref);
  g_clear_pointer (&snapshot->etag, g_free);
  g_clear_pointer (&snapshot->last_modified, g_free);
  g_clear_pointer (&snapshot->content_type, g_free);
}

static void
tsq_resource_cache_finalize (GObject *object)
{
  TsqResourceCache *self = TSQ_RESOURCE_CACHE (object);

  g_hash_table_unref (self->entries);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (tsq_resource_cache_parent_class)->finalize (object);
}

static void
tsq_resource_cache_class_init (TsqResourceCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tsq_resource_cache_finalize;
}

static void
tsq_resource_cache_init (TsqResourceCache *self)
{
  g_mutex_init (&self->lock);
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  g_queue_init (&self->lru);
}

TsqResourceCache *
tsq_resource_cache_new (gsize max_total_bytes)
{
  TsqResourceCache *self = g_object_new (TSQ_TYPE_RESOURCE_CACHE, NULL);

  self->max_total = max_total_bytes ? max_total_bytes : DEFAULT_MAX_TOTAL;
  return self;
}

/* Called with the lock held. */
static void
remove_entry_locked (TsqResourceCache *self, Entry *entry)
{
  g_queue_unlink (&self->lru, &entry->link);
  self->total -= entry->size;
  g_hash_table_remove (self->entries, entry->url); /* frees entry */
}

guint
tsq_resource_cache_get_count (TsqResourceCache *self)
{
  guint count;

  g_return_val_if_fail (TSQ_IS_RESOURCE_CACHE (self), 0);

  g_mutex_lock (&self->lock);
  count = g_hash_table_size (self->entries);
  g_mutex_unlock (&self->lock);
  return count;
}

gsize
tsq_resource_cache_get_size (TsqResourceCache *self)
{
  gsize size;

  g_return_val_if_fail (TSQ_IS_RESOURCE_CACHE (self), 0);

  g_mutex_lock (&self->lock);
  size = self->total;
  g_mutex_unlock (&self->lock);
  return size;
}

void
tsq_resource_cache_clear (TsqResourceCache *self)
{
  g_return_if_fail (TSQ_IS_RESOURCE_CACHE (self));

  g_mutex_lock (&self->lock);
  while (self->lru.tail != NULL)
    remove_entry_locked (self, self->lru.tail->data);
  g_mutex_unlock (&self->lock);
}

static gboolean
lookup (TsqResourceCache *self, const char *url, Snapshot *out)
{
  Entry *entry;

  memset (out, 0, sizeof *out);
  g_mutex_lock (&self->lock);
  entry = g_hash_table_lookup (self->entries, url);
  if (entry != NULL)
    {
      g_queue_unlink (&self->lru, &entry->link);
      g_queue_push_head_link (&self->lru, &entry->link);
      out->body = g_bytes_ref (entry->body);
      out->etag = g_strdup (entry->etag);
      out->last_modified = g_strdup (entry->last_modified);
      out->content_type = g_strdup (entry->content_type);
      out->fresh = entry->fresh_until_us > g_get_monotonic_time ();
    }
  g_mutex_unlock (&self->lock);
  return entry != NULL;
}

static void
store (TsqResourceCache *self,
       const char *url,
       GBytes *body,
       const char *etag,
       const char *last_modified,
       const char *content_type,
       gint64 fresh_until_us)
{
  Entry *entry;
  Entry *old;

  entry = g_new0 (Entry, 1);
  entry->url = g_strdup (url);
  entry->body = g_bytes_ref (body);
  entry->etag = g_strdup (etag);
  entry->last_modified = g_strdup (last_modified);
  entry->content_type = g_strdup (content_type);
  entry->fresh_until_us = fresh_until_us;
  entry->size = g_bytes_get_size (body) + strlen (url) + ENTRY_OVERHEAD;
  entry->link.data = entry;

  g_mutex_lock (&self->lock);
  old = g_hash_table_lookup (self->entries, url);
  if (old != NULL)
    remove_entry_locked (self, old);
  if (entry->size > self->max_total)
    {
      g_mutex_unlock (&self->lock);
      entry_free (entry);
      return;
    }
  g_hash_table_insert (self->entries, entry->url, entry);
  g_queue_push_head_link (&self->lru, &entry->link);
  self->total += entry->size;
  while (self->total > self->max_total && self->lru.tail != NULL)
    remove_entry_locked (self, self->lru.tail->data);
  g_mutex_unlock (&self->lock);
}

/* After a 304: the entry stays, with a renewed lifetime and possibly new validators. */
static void
refresh (TsqResourceCache *self,
         const char *url,
         const char *etag,
         const char *last_modified,
         gint64 fresh_until_us)
{
  Entry *entry;

  g_mutex_lock (&self->lock);
  entry = g_hash_table_lookup (self->entries, url);
  if (entry != NULL)
    {
      entry->fresh_until_us = fresh_until_us;
      if (etag != NULL)
        {
          g_free (entry->etag);
          entry->etag = g_strdup (etag);
        }
      if (last_modified != NULL)
        {
          g_free (entry->last_modified);
          entry->last_modified = g_strdup (last_modified);
        }
    }
  g_mutex_unlock (&self->lock);
}

static void
forget (TsqResourceCache *self, const char *url)
{
  Entry *entry;

  g_mutex_lock (&self->lock);
  entry = g_hash_table_lookup (self->entries, url);
  if (entry != NULL)
    remove_entry_locked (self, entry);
  g_mutex_unlock (&self->lock);
}

/* -- freshness -- */

/* Seconds the response may be used without revalidation: Cache-Control max-age (minus Age),
 * else Expires - Date; 0 for no-cache or when neither is given. -1 for no-store. */
static gint64
freshness_lifetime (SoupMessageHeaders *headers)
{
  const char *cache_control = soup_message_headers_get_list (headers, "Cache-Control");
  const char *expires = soup_message_headers_get_one (headers, "Expires");
  const char *age_header = soup_message_headers_get_one (headers, "Age");
  gint64 age = 0;

  if (age_header != NULL)
    age = g_ascii_strtoll (age_header, NULL, 10);
  if (age < 0)
    age = 0;

  if (cache_control != NULL)
    {
      g_autoptr (GHashTable) params = soup_header_parse_param_list (cache_control);
      const char *max_age;

      if (g_hash_table_contains (params, "no-store"))
        return -1;
      if (g_hash_table_contains (params, "no-cache"))
        return 0;
      max_age = g_hash_table_lookup (params, "max-age");
      if (max_age != NULL)
        {
          char *end = NULL;
          gint64 value = g_ascii_strtoll (max_age, &end, 10);

          if (end != max_age && value > 0)
            return MAX (value - age, 0);
          return 0;
        }
    }

  if (expires != NULL)
    {
      g_autoptr (GDateTime) expires_at = soup_date_time_new_from_http_string (expires);
      const char *date = soup_message_headers_get_one (headers, "Date");
      g_autoptr (GDateTime) date_at = date ? soup_date_time_new_from_http_string (date) : NULL;
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

      if (expires_at == NULL)
        return 0;
      return MAX (
        g_date_time_difference (expires_at, date_at ? date_at : now) / G_TIME_SPAN_SECOND - age, 0);
    }
  return 0;
}

static gint64
fresh_until (gint64 lifetime_s)
{
  if (lifetime_s <= 0)
    return 0;
  return g_get_monotonic_time () + MIN (lifetime_s, (gint64)365 * 24 * 3600) * G_TIME_SPAN_SECOND;
}

/* -- URLs -- */

static GUri *
normalize_url (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  if (url == NULL)
    return NULL;
  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL)
    return NULL;
  scheme = g_uri_get_scheme (uri);
  if (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
    return NULL;
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return NULL;
  if (g_uri_get_fragment (uri) != NULL)
    {
      GUri *stripped = soup_uri_copy (uri, SOUP_URI_FRAGMENT, NULL, SOUP_URI_NONE);

      g_uri_unref (uri);
      uri = stripped;
    }
  return g_steal_pointer (&uri);
}

static gboolean
same_origin (GUri *a, GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
         && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
         && g_uri_get_port (a) == g_uri_get_port (b);
}

/* -- fetching -- */

static void
fetch_all_free (gpointer pointer)
{
  FetchAll *all = pointer;

  for (guint i = 0; i < all->items->len; i++)
    snapshot_clear (&g_array_index (all->items, Item, i).cached);
  g_array_unref (all->items);
  g_clear_pointer (&all->results, g_ptr_array_unref);
  g_clear_object (&all->cancellable);
  g_clear_object (&all->fetcher);
  g_clear_object (&all->cache);
  g_free (all);
}

/* Counts outcomes in input order and applies the total-bytes bound. */
static void
tally (FetchAll *all)
{
  for (guint i = 0; i < all->items->len; i++)
    {
      Item *item = &g_array_index (all->items, Item, i);
      TsqResource *resource = item->resource;
      gsize size = resource->body ? g_bytes_get_size (resource->body) : 0;

      if (resource->body != NULL && all->stats.bytes + size > all->limits.max_bytes_total)
        {
          g_clear_pointer (&resource->body, g_bytes_unref);
          g_free (resource->error);
          resource->error
            = g_strdup_printf ("over the total resource bound of %" G_GSIZE_FORMAT " bytes",
                               all->limits.max_bytes_total);
          resource->error_kind = "skipped";
          all->stats.skipped++;
          all->stats.downloaded_bytes += item->wire_bytes;
          continue;
        }
      all->stats.bytes += size;
      all->stats.downloaded_bytes += item->wire_bytes;
      switch (item->outcome)
        {
          case OUTCOME_FETCHED:
            all->stats.fetched++;
            break;
          case OUTCOME_NOT_MODIFIED:
            all->stats.not_modified++;
            break;
          case OUTCOME_CACHED:
            all->stats.cached++;
            break;
          case OUTCOME_PENDING:
          case OUTCOME_FAILED:
          default:
            all->stats.failed++;
            break;
        }
    }
}

static void
maybe_complete (GTask *task)
{
  FetchAll *all = g_task_get_task_data (task);

  if (all->pending > 0)
    return;
  tally (all);
  if (all->cancellable != NULL && g_cancellable_is_cancelled (all->cancellable))
    g_task_return_new_error (task, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_CANCELLED,
                             "resource fetch cancelled");
  else
    g_task_return_pointer (task, g_ptr_array_ref (all->results), (GDestroyNotify)g_ptr_array_unref);
  g_object_unref (task);
}

typedef struct
{
  GTask *task;
  guint index;
} ItemRef;

static void
on_resource_fetched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ItemRef *ref = user_data;
  GTask *task = ref->task;
  FetchAll *all = g_task_get_task_data (task);
  Item *item = &g_array_index (all->items, Item, ref->index);
  TsqResource *resource = item->resource;
  g_autoptr (TsqFetchResponse) response = NULL;
  g_autoptr (TsqFetchResponse) partial = NULL;
  g_autoptr (GError) error = NULL;

  g_free (ref);
  all->pending--;

  response = tsq_fetcher_fetch_finish_full (TSQ_FETCHER (source), result, &partial, &error);
  if (response == NULL)
    {
      resource->status = partial ? partial->status : 0;
      resource->error = g_strdup (error->message);
      resource->error_kind
        = error->domain == TSQ_FETCH_ERROR ? tsq_fetch_error_kind (error->code) : "internal";
      item->outcome = OUTCOME_FAILED;
      maybe_complete (task);
      return;
    }

  resource->status = response->status;
  item->wire_bytes = response->wire_bytes;
  if (response->status == SOUP_STATUS_NOT_MODIFIED && item->cached.body != NULL)
    {
      const char *etag = soup_message_headers_get_one (response->headers, "ETag");
      const char *last_modified = soup_message_headers_get_one (response->headers, "Last-Modified");

      resource->body = g_bytes_ref (item->cached.body);
      resource->content_type = g_strdup (item->cached.content_type);
      resource->from_cache = TRUE;
      resource->not_modified = TRUE;
      item->outcome = OUTCOME_NOT_MODIFIED;
      refresh (all->cache, resource->url, etag, last_modified,
               fresh_until (freshness_lifetime (response->headers)));
    }
  else if (SOUP_STATUS_IS_SUCCESSFUL (response->status))
    {
      const char *etag = soup_message_headers_get_one (response->headers, "ETag");
      const char *last_modified = soup_message_headers_get_one (response->headers, "Last-Modified");
      gint64 lifetime = freshness_lifetime (response->headers);

      resource->body = g_bytes_ref (response->body);
      resource->content_type = g_strdup (response->content_type);
      resource->truncated = response->truncated;
      item->outcome = OUTCOME_FETCHED;
      if (response->status == SOUP_STATUS_OK && !response->truncated && lifetime >= 0
          && (etag != NULL || last_modified != NULL || lifetime > 0))
        store (all->cache, resource->url, response->body, etag, last_modified,
               response->content_type, fresh_until (lifetime));
      else
        forget (all->cache, resource->url);
    }
  else
    {
      resource->error = g_strdup_printf ("HTTP status %u", response->status);
      resource->error_kind = "http";
      item->outcome = OUTCOME_FAILED;
      if (response->status != SOUP_STATUS_NOT_MODIFIED)
        forget (all->cache, resource->url);
    }
  maybe_complete (task);
}

void
tsq_resource_cache_fetch_async (TsqResourceCache *self,
                                TsqFetcher *fetcher,
                                const char *page_url,
                                GPtrArray *urls,
                                const TsqResourceLimits *limits,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GUri) page = NULL;
  g_autoptr (GHashTable) seen = NULL;
  FetchAll *all;

  g_return_if_fail (TSQ_IS_RESOURCE_CACHE (self));
  g_return_if_fail (TSQ_IS_FETCHER (fetcher));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, tsq_resource_cache_fetch_async);

  all = g_new0 (FetchAll, 1);
  all->cache = g_object_ref (self);
  all->fetcher = g_object_ref (fetcher);
  all->results = g_ptr_array_new_with_free_func ((GDestroyNotify)tsq_resource_free);
  all->items = g_array_new (FALSE, TRUE, sizeof (Item));
  all->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  if (limits != NULL)
    all->limits = *limits;
  else
    tsq_resource_limits_init (&all->limits);
  g_task_set_task_data (task, all, fetch_all_free);

  page = normalize_url (page_url);
  if (page == NULL)
    {
      g_task_return_new_error (task, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_INVALID_URL,
                               "invalid page URL “%s”", page_url ? page_url : "(null)");
      return;
    }

  /* Decide first, fetch after: all items must exist before any callback can run. */
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; urls != NULL && i < urls->len; i++)
    {
      g_autoptr (GUri) uri = normalize_url (g_ptr_array_index (urls, i));
      g_autofree char *key = NULL;
      TsqResource *resource;
      Item item = { 0 };

      if (uri == NULL || (!all->limits.third_party && !same_origin (page, uri)))
        {
          all->stats.filtered++;
          continue;
        }
      key = g_uri_to_string (uri);
      if (g_hash_table_contains (seen, key))
        continue;
      g_hash_table_add (seen, g_strdup (key));
      if (all->results->len >= all->limits.max_count)
        {
          all->stats.skipped++;
          continue;
        }

      resource = g_new0 (TsqResource, 1);
      resource->url = g_steal_pointer (&key);
      item.resource = resource;
      item.outcome = OUTCOME_PENDING;
      g_ptr_array_add (all->results, resource);
      g_array_append_val (all->items, item);
    }

  for (guint i = 0; i < all->items->len; i++)
    {
      Item *item = &g_array_index (all->items, Item, i);
      TsqResource *resource = item->resource;
      TsqFetchRequest request = { 0 };
      ItemRef *ref;

      if (lookup (self, resource->url, &item->cached) && item->cached.fresh)
        {
          resource->status = SOUP_STATUS_OK;
          resource->body = g_bytes_ref (item->cached.body);
          resource->content_type = g_strdup (item->cached.content_type);
          resource->from_cache = TRUE;
          item->outcome = OUTCOME_CACHED;
          continue;
        }

      request.if_none_match = item->cached.etag;
      request.if_modified_since = item->cached.last_modified;
      request.max_body_bytes = all->limits.max_bytes_each;
      request.timeout_s = all->limits.timeout_s;
      request.accept = "*/*";

      ref = g_new0 (ItemRef, 1);
      ref->task = task;
      ref->index = i;
      all->pending++;
      tsq_fetcher_fetch_async (fetcher, resource->url, &request, cancellable, on_resource_fetched,
                               ref);
    }

  maybe_complete (g_steal_pointer (&task));
}

GPtrArray *
tsq_resource_cache_fetch_finish (TsqResourceCache *self,
                                 GAsyncResult *result,
                                 TsqResourceStats *stats_out,
                                 GError **error)
{
  FetchAll *all;

  g_return_val_if_fail (TSQ_IS_RESOURCE_CACHE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  all = g_task_get_task_data (G_TASK (result));
  if (stats_out != NULL)
    *stats_out = all->stats;
  return g_task_propagate_pointer (G_TASK (result), error);
}
