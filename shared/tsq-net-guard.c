/* tsq-net-guard.c: CIDR rules deciding which remote addresses may be connected to. */
#define G_LOG_DOMAIN "tsq-net-guard"

#include <string.h>

#include "tsq-net-guard.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-net-guard-error-quark, tsq_net_guard_error)
/* clang-format on */

typedef struct
{
  GSocketFamily family;
  guint8 bytes[16]; /* network address, host bits cleared */
  guint prefix;
  char *label; /* how the rule is named in messages */
} Rule;

struct _TsqNetGuard
{
  gatomicrefcount ref_count;
  GRWLock lock;
  GArray *blocked; /* Rule */
  GArray *allowed; /* Rule */
};

static const struct
{
  const char *cidr;
  const char *why;
} default_refused[] = {
  { "0.0.0.0/8", "this network" },  { "169.254.0.0/16", "link-local, cloud metadata" },
  { "224.0.0.0/4", "multicast" },   { "255.255.255.255/32", "broadcast" },
  { "::/128", "unspecified" },      { "fe80::/10", "IPv6 link-local" },
  { "ff00::/8", "IPv6 multicast" }, { "fd00:ec2::254/128", "cloud metadata (IPv6)" },
};

static void
rule_clear (gpointer data)
{
  Rule *rule = data;

  g_free (rule->label);
}

static gboolean
parse_cidr (const char *cidr, Rule *rule, GError **error)
{
  g_autofree char *copy = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *slash;
  guint max_bits;
  guint prefix;
  gsize size;

  if (cidr == NULL || *cidr == '\0')
    {
      g_set_error_literal (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR,
                           "empty CIDR range");
      return FALSE;
    }
  if (strlen (cidr) > 64)
    {
      g_set_error_literal (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR,
                           "CIDR range too long");
      return FALSE;
    }

  slash = strchr (cidr, '/');
  copy = slash ? g_strndup (cidr, slash - cidr) : g_strdup (cidr);
  address = g_inet_address_new_from_string (copy);
  if (address == NULL)
    {
      g_set_error (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR,
                   "invalid CIDR range “%s”: “%s” is not an IP address", cidr, copy);
      return FALSE;
    }

  rule->family = g_inet_address_get_family (address);
  size = g_inet_address_get_native_size (address);
  max_bits = size * 8;
  memset (rule->bytes, 0, sizeof rule->bytes);
  memcpy (rule->bytes, g_inet_address_to_bytes (address), size);

  prefix = max_bits;
  if (slash != NULL)
    {
      const char *p = slash + 1;
      guint64 value = 0;

      if (*p == '\0' || strlen (p) > 3)
        {
          g_set_error (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR,
                       "invalid CIDR range “%s”: bad prefix length", cidr);
          return FALSE;
        }
      for (; *p; p++)
        {
          if (!g_ascii_isdigit (*p))
            {
              g_set_error (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR,
                           "invalid CIDR range “%s”: bad prefix length", cidr);
              return FALSE;
            }
          value = value * 10 + (*p - '0');
        }
      if (value > max_bits)
        {
          g_set_error (error, TSQ_NET_GUARD_ERROR, TSQ_NET_GUARD_ERROR_INVALID_CIDR,
                       "invalid CIDR range “%s”: prefix length above %u", cidr, max_bits);
          return FALSE;
        }
      prefix = value;
    }
  rule->prefix = prefix;

  /* Clear host bits so "10.1.2.3/8" means 10.0.0.0/8. */
  for (guint bit = prefix; bit < max_bits; bit++)
    rule->bytes[bit / 8] &= ~(0x80 >> (bit % 8));
  return TRUE;
}

static char *
rule_to_string (const Rule *rule)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_bytes (rule->bytes, rule->family);
  g_autofree char *text = g_inet_address_to_string (address);

  return g_strdup_printf ("%s/%u", text, rule->prefix);
}

static gboolean
add_rule (TsqNetGuard *self, GArray *rules, const char *cidr, const char *kind, GError **error)
{
  Rule rule = { 0 };
  g_autofree char *canonical = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  if (!parse_cidr (cidr, &rule, error))
    return FALSE;
  canonical = rule_to_string (&rule);
  rule.label = g_strdup_printf ("%s range %s", kind, canonical);

  g_rw_lock_writer_lock (&self->lock);
  g_array_append_val (rules, rule);
  g_rw_lock_writer_unlock (&self->lock);
  return TRUE;
}

TsqNetGuard *
tsq_net_guard_new_empty (void)
{
  TsqNetGuard *self = g_new0 (TsqNetGuard, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_rw_lock_init (&self->lock);
  self->blocked = g_array_new (FALSE, TRUE, sizeof (Rule));
  self->allowed = g_array_new (FALSE, TRUE, sizeof (Rule));
  g_array_set_clear_func (self->blocked, rule_clear);
  g_array_set_clear_func (self->allowed, rule_clear);
  return self;
}

TsqNetGuard *
tsq_net_guard_new_default (void)
{
  TsqNetGuard *self = tsq_net_guard_new_empty ();

  for (guint i = 0; i < G_N_ELEMENTS (default_refused); i++)
    {
      Rule rule = { 0 };
      gboolean ok = parse_cidr (default_refused[i].cidr, &rule, NULL);

      g_assert (ok);
      rule.label = g_strdup_printf ("default-refused range %s (%s)", default_refused[i].cidr,
                                    default_refused[i].why);
      g_array_append_val (self->blocked, rule);
    }
  return self;
}

TsqNetGuard *
tsq_net_guard_ref (TsqNetGuard *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
tsq_net_guard_unref (TsqNetGuard *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_array_unref (self->blocked);
  g_array_unref (self->allowed);
  g_rw_lock_clear (&self->lock);
  g_free (self);
}

gboolean
tsq_net_guard_add_blocked (TsqNetGuard *self, const char *cidr, GError **error)
{
  return add_rule (self, self->blocked, cidr, "blocked", error);
}

gboolean
tsq_net_guard_add_allowed (TsqNetGuard *self, const char *cidr, GError **error)
{
  return add_rule (self, self->allowed, cidr, "allowed", error);
}

static gboolean
rule_matches (const Rule *rule, GSocketFamily family, const guint8 *bytes)
{
  guint full = rule->prefix / 8;
  guint rest = rule->prefix % 8;

  if (rule->family != family)
    return FALSE;
  if (memcmp (rule->bytes, bytes, full) != 0)
    return FALSE;
  if (rest != 0)
    {
      guint8 mask = 0xff << (8 - rest);

      if ((bytes[full] & mask) != rule->bytes[full])
        return FALSE;
    }
  return TRUE;
}

/* The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
 * (::a.b.c.d, deprecated but still routed by some stacks) and the NAT64 well-known prefix
 * (64:ff9b::/96). A connection to these may reach the IPv4 host, so they get its verdict. */
static gboolean
embedded_ipv4 (const guint8 *v6, guint8 v4[4])
{
  static const guint8 zeros[12] = { 0 };
  static const guint8 nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

  if (memcmp (v6, zeros, 10) == 0 && v6[10] == 0xff && v6[11] == 0xff)
    {
      memcpy (v4, v6 + 12, 4);
      return TRUE;
    }
  if (memcmp (v6, zeros, 12) == 0)
    {
      /* :: and ::1 are the IPv6 unspecified and loopback addresses, not embedded IPv4. */
      if (v6[12] == 0 && v6[13] == 0 && v6[14] == 0 && v6[15] <= 1)
        return FALSE;
      memcpy (v4, v6 + 12, 4);
      return TRUE;
    }
  if (memcmp (v6, nat64, 12) == 0)
    {
      memcpy (v4, v6 + 12, 4);
      return TRUE;
    }
  return FALSE;
}

static const Rule *
find_rule (GArray *rules, GSocketFamily family, const guint8 *bytes)
{
  for (guint i = 0; i < rules->len; i++)
    {
      const Rule *rule = &g_array_index (rules, Rule, i);

      if (rule_matches (rule, family, bytes))
        return rule;
    }
  return NULL;
}

gboolean
tsq_net_guard_check (TsqNetGuard *self, GInetAddress *address, GError **error)
{
  GSocketFamily family;
  const guint8 *bytes;
  guint8 v4[4];
  gboolean has_v4 = FALSE;
  const Rule *refusing = NULL;
  gboolean refused_as_v4 = FALSE;
  g_autofree char *text = NULL;
  g_autofree char *v4_text = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

  family = g_inet_address_get_family (address);
  bytes = g_inet_address_to_bytes (address);
  if (family == G_SOCKET_FAMILY_IPV6)
    has_v4 = embedded_ipv4 (bytes, v4);

  g_rw_lock_reader_lock (&self->lock);
  if (find_rule (self->allowed, family, bytes) != NULL
      || (has_v4 && find_rule (self->allowed, G_SOCKET_FAMILY_IPV4, v4) != NULL))
    {
      g_rw_lock_reader_unlock (&self->lock);
      return TRUE;
    }
  refusing = find_rule (self->blocked, family, bytes);
  if (refusing == NULL && has_v4)
    {
      refusing = find_rule (self->blocked, G_SOCKET_FAMILY_IPV4, v4);
      refused_as_v4 = refusing != NULL;
    }
  if (refusing == NULL)
    {
      g_rw_lock_reader_unlock (&self->lock);
      return TRUE;
    }

  text = g_inet_address_to_string (address);
  if (refused_as_v4)
    {
      g_autoptr (GInetAddress) embedded = g_inet_address_new_from_bytes (v4, G_SOCKET_FAMILY_IPV4);

      v4_text = g_inet_address_to_string (embedded);
      g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS,
                   "address %s (IPv4 %s) is refused by the %s", text, v4_text, refusing->label);
    }
  else
    g_set_error (error, TSQ_FETCH_ERROR, TSQ_FETCH_ERROR_BLOCKED_ADDRESS,
                 "address %s is refused by the %s", text, refusing->label);
  g_rw_lock_reader_unlock (&self->lock);
  return FALSE;
}

gboolean
tsq_net_guard_check_string (TsqNetGuard *self, const char *address, GError **error)
{
  g_autoptr (GInetAddress) parsed = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  if (address == NULL)
    return TRUE;
  parsed = g_inet_address_new_from_string (address);
  if (parsed == NULL)
    return TRUE;
  return tsq_net_guard_check (self, parsed, error);
}
