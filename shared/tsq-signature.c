/* tsq-signature.c: HMAC-SHA256 webhook signatures with replay protection. */
#define G_LOG_DOMAIN "tsq-signature"

#include <string.h>

#include "tsq-signature.h"

/* clang-format off */
G_DEFINE_QUARK (tsq-signature-error-quark, tsq_signature_error)
/* clang-format on */

#define DIGEST_LEN 32
/* A real header is ~80 bytes; anything far longer is garbage or an attack. */
#define MAX_HEADER_LEN 4096
#define MAX_CANDIDATES 8

static GHmac *
signature_hmac (const char *secret, gint64 timestamp, GBytes *body)
{
  GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *)secret, strlen (secret));
  char prefix[32];
  gsize len = 0;
  const guint8 *data = body ? g_bytes_get_data (body, &len) : NULL;

  g_snprintf (prefix, sizeof prefix, "%" G_GINT64_FORMAT ".", timestamp);
  g_hmac_update (hmac, (const guchar *)prefix, strlen (prefix));
  if (len > 0)
    g_hmac_update (hmac, data, len);
  return hmac;
}

char *
tsq_signature_compute (const char *secret, gint64 timestamp, GBytes *body)
{
  GHmac *hmac;
  char *hex;

  g_return_val_if_fail (secret != NULL, NULL);

  hmac = signature_hmac (secret, timestamp, body);
  hex = g_strdup (g_hmac_get_string (hmac));
  g_hmac_unref (hmac);
  return hex;
}

char *
tsq_signature_header (const char *secret, gint64 timestamp, GBytes *body)
{
  g_autofree char *hex = tsq_signature_compute (secret, timestamp, body);

  return g_strdup_printf ("t=%" G_GINT64_FORMAT ",v1=%s", timestamp, hex);
}

gboolean
tsq_constant_time_equal (const void *a, gsize a_len, const void *b, gsize b_len)
{
  const volatile guint8 *x = a;
  const volatile guint8 *y = b;
  volatile guint8 acc = 0;

  if (a_len != b_len)
    return FALSE;
  /* Accumulate every difference; the loop never exits early, whatever the contents. */
  for (gsize i = 0; i < a_len; i++)
    acc |= x[i] ^ y[i];
  return acc == 0;
}

static gboolean
decode_hex (const char *hex, gsize len, guint8 *out, gsize out_len)
{
  if (len != out_len * 2)
    return FALSE;
  for (gsize i = 0; i < out_len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8)(hi << 4 | lo);
    }
  return TRUE;
}

static gboolean
parse_timestamp (const char *text, gsize len, gint64 *out)
{
  gint64 value = 0;

  if (len == 0 || len > 15)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      value = value * 10 + (text[i] - '0');
    }
  *out = value;
  return TRUE;
}

gboolean
tsq_signature_verify (const char *secret,
                      const char *header_value,
                      GBytes *body,
                      gint64 now,
                      guint tolerance_s,
                      GError **error)
{
  guint8 candidates[MAX_CANDIDATES][DIGEST_LEN];
  guint8 expected[DIGEST_LEN];
  gsize expected_len = DIGEST_LEN;
  guint n_candidates = 0;
  gboolean have_t = FALSE;
  gboolean match = FALSE;
  gint64 timestamp = 0;
  gint64 skew;
  const char *p;
  GHmac *hmac;

  g_return_val_if_fail (secret != NULL, FALSE);

  if (header_value == NULL || *header_value == '\0')
    {
      g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED,
                           "missing signature");
      return FALSE;
    }
  if (strlen (header_value) > MAX_HEADER_LEN)
    {
      g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED,
                           "signature header too long");
      return FALSE;
    }

  /* Comma-separated key=value items; spaces around items are tolerated. */
  p = header_value;
  while (*p != '\0')
    {
      const char *end = strchr (p, ',');
      const char *eq;
      gsize item_len;

      if (end == NULL)
        end = p + strlen (p);
      while (p < end && g_ascii_isspace (*p))
        p++;
      item_len = end - p;
      while (item_len > 0 && g_ascii_isspace (p[item_len - 1]))
        item_len--;
      eq = memchr (p, '=', item_len);
      if (eq == NULL)
        {
          g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED,
                               "malformed signature: an item has no “=”");
          return FALSE;
        }
      if (eq - p == 1 && p[0] == 't')
        {
          if (have_t || !parse_timestamp (eq + 1, p + item_len - (eq + 1), &timestamp))
            {
              g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED,
                                   "malformed signature: bad or repeated timestamp");
              return FALSE;
            }
          have_t = TRUE;
        }
      else if (eq - p == 2 && p[0] == 'v' && p[1] == '1')
        {
          if (n_candidates == MAX_CANDIDATES
              || !decode_hex (eq + 1, p + item_len - (eq + 1), candidates[n_candidates],
                              DIGEST_LEN))
            {
              g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED,
                                   "malformed signature: v1 is not 64 hex digits");
              return FALSE;
            }
          n_candidates++;
        }
      p = *end == ',' ? end + 1 : end;
    }
  if (!have_t || n_candidates == 0)
    {
      g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED,
                           have_t ? "malformed signature: no v1 signature"
                                  : "malformed signature: no timestamp");
      return FALSE;
    }

  hmac = signature_hmac (secret, timestamp, body);
  g_hmac_get_digest (hmac, expected, &expected_len);
  g_hmac_unref (hmac);
  /* Every candidate is compared, so the time does not tell which one matched. */
  for (guint i = 0; i < n_candidates; i++)
    match |= tsq_constant_time_equal (candidates[i], DIGEST_LEN, expected, expected_len);
  if (!match)
    {
      g_set_error_literal (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MISMATCH,
                           "signature does not match the body");
      return FALSE;
    }

  /* Checked after the HMAC so that an attacker learns nothing from forged timestamps. */
  skew = now > timestamp ? now - timestamp : timestamp - now;
  if (skew > (gint64)tolerance_s)
    {
      g_set_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_EXPIRED,
                   "signature timestamp is %" G_GINT64_FORMAT " s away from now (tolerance %u s)",
                   skew, tolerance_s);
      return FALSE;
    }
  return TRUE;
}
