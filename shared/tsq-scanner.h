/* tsq-scanner.h: one scan of one URL, from the first byte fetched to the result JSON.
 *
 * The scanner ties the fetcher, the page analysis, the linked-resource cache, the fingerprint
 * engine and the security assessment together. Network I/O runs on the caller's main context;
 * parsing and matching run on worker threads so that hundreds of scans can be in flight while
 * the main loop stays responsive.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tsq-fetcher.h"
#include "tsq-fingerprint-db.h"
#include "tsq-resource-cache.h"
#include "tsq-vuln-db.h"

G_BEGIN_DECLS

typedef struct
{
  TsqFetcherOptions fetch;
  TsqResourceLimits resources;
  gboolean fetch_resources;   /* fetch linked scripts and stylesheets (default TRUE) */
  gboolean dom_patterns;      /* evaluate `dom` fingerprints on the parsed page (default TRUE) */
  gsize resource_cache_bytes; /* LRU bound of the cross-scan cache (default 128 MiB) */
  gboolean reuse_unchanged;   /* same bytes, headers and linked files as the last scan of
                               * the URL: reuse its analysis (default TRUE) */
  gsize reuse_cache_bytes;    /* memory for those analyses (default 64 MiB) */
} TsqScannerOptions;

void tsq_scanner_options_init (TsqScannerOptions *options);

#define TSQ_TYPE_SCANNER (tsq_scanner_get_type ())
G_DECLARE_FINAL_TYPE (TsqScanner, tsq_scanner, TSQ, SCANNER, GObject)

TsqScanner *tsq_scanner_new (TsqFingerprintDb *fingerprints,
                             TsqVulnDb *vulnerabilities,
                             const TsqScannerOptions *options);
/* scan_config: the monitor's scan_config object (may be NULL): "ignore": {"regex": [...],
 * "selectors": [...]}, "third_party_resources": bool, "fetch_resources": bool. */
void tsq_scanner_scan_async (TsqScanner *self,
                             const char *url,
                             JsonObject *scan_config,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
/* Always returns a result object (docs/scan-result.md), also when cancelled; failures are inside
 * it as "error". */
JsonObject *tsq_scanner_scan_finish (TsqScanner *self, GAsyncResult *result);

/* Runs a scan to completion by iterating the thread-default main context (tests, CLI). */
JsonObject *tsq_scanner_scan_sync (TsqScanner *self, const char *url, JsonObject *scan_config);

G_END_DECLS
