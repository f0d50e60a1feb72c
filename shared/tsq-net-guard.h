/* tsq-net-guard.h: SSRF guard, decides which remote addresses the fetcher may connect to.
 *
 * Rules are CIDR ranges. An address is refused when it matches a blocked range (the defaults
 * or tsq_net_guard_add_blocked ()) and no allowed range (tsq_net_guard_add_allowed ()); allowed
 * ranges always win. IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d) are also judged as that IPv4 address.
 *
 * Refcounted. Configure it before sharing; tsq_net_guard_check () is thread-safe (and so are
 * the add functions, under an internal lock).
 */
#pragma once

#include <gio/gio.h>

#include "tsq-fetch-response.h"

G_BEGIN_DECLS

typedef enum
{
  TSQ_NET_GUARD_ERROR_INVALID_CIDR,
} TsqNetGuardError;

#define TSQ_NET_GUARD_ERROR (tsq_net_guard_error_quark ())
GQuark tsq_net_guard_error_quark (void);

typedef struct _TsqNetGuard TsqNetGuard;

/* Refuses 0.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 255.255.255.255/32, ::/128, fe80::/10,
 * ff00::/8, fd00:ec2::254/128 (and the IPv6 forms of the IPv4 ones). Private and loopback ranges
 * are allowed: monitoring internal sites is normal. */
TsqNetGuard *tsq_net_guard_new_default (void);
/* A guard without any rule: allows everything (tests, trusted setups). */
TsqNetGuard *tsq_net_guard_new_empty (void);
TsqNetGuard *tsq_net_guard_ref (TsqNetGuard *guard);
void tsq_net_guard_unref (TsqNetGuard *guard);
/* cidr: "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128). Host bits are ignored. */
gboolean tsq_net_guard_add_blocked (TsqNetGuard *guard, const char *cidr, GError **error);
gboolean tsq_net_guard_add_allowed (TsqNetGuard *guard, const char *cidr, GError **error);
/* FALSE + TSQ_FETCH_ERROR_BLOCKED_ADDRESS naming the address and the rule when refused. */
gboolean tsq_net_guard_check (TsqNetGuard *guard, GInetAddress *address, GError **error);
/* Same for a textual address (no DNS: a non-address string is allowed, returns TRUE). */
gboolean tsq_net_guard_check_string (TsqNetGuard *guard, const char *address, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TsqNetGuard, tsq_net_guard_unref)

G_END_DECLS
