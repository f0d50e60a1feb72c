/* signature-test.c: webhook signatures against vectors computed by OpenSSL, and the verifier. */
#include <string.h>

#include "tsq-signature.h"

/* Each expected HMAC below was produced once, independently of our code, with OpenSSL 3.0:
 *   printf '%s' '<t>.<body>' | openssl dgst -sha256 -hmac '<secret>'
 * the third with the UTF-8 bytes written as escapes in printf's format:
 *   printf '1712345678.{"text":"caf\xc3\xa9 \xe2\x98\x95"}' \
 *     | openssl dgst -sha256 -hmac "$(printf 'cl\xc3\xa9')" */
static const struct
{
  const char *secret;
  gint64 timestamp;
  const char *body;
  const char *hex;
} vectors[] = {
  { "whsec_test_secret", 1700000000,
    "{\"id\":\"0d8f6e2a-7c1b-4a8e-9f3d-2b5c6a7e8f90\",\"text\":\"Site down\"}",
    "0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e" },
  { "whsec_test_secret", 1700000000, "",
    "316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727" },
  { "cl\xc3\xa9", 1712345678, "{\"text\":\"caf\xc3\xa9 \xe2\x98\x95\"}",
    "d4623674237bf4622039c3102dfb615609c31f645b9d0d28f5d446853dd833a2" },
};

static GBytes *
bytes (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
test_known_answers (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autoptr (GBytes) body = bytes (vectors[i].body);
      g_autofree char *hex = tsq_signature_compute (vectors[i].secret, vectors[i].timestamp, body);
      g_autofree char *header
        = tsq_signature_header (vectors[i].secret, vectors[i].timestamp, body);
      g_autofree char *expected_header
        = g_strdup_printf ("t=%" G_GINT64_FORMAT ",v1=%s", vectors[i].timestamp, vectors[i].hex);

      g_assert_cmpstr (hex, ==, vectors[i].hex);
      g_assert_cmpstr (header, ==, expected_header);
    }
  /* A NULL body signs "<t>." like an empty one. */
  {
    g_autofree char *hex = tsq_signature_compute ("whsec_test_secret", 1700000000, NULL);

    g_assert_cmpstr (hex, ==, vectors[1].hex);
  }
}

static void
test_verify_accepts (void)
{
  g_autoptr (GBytes) body = bytes (vectors[0].body);
  g_autoptr (GError) error = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *rotated = NULL;
  g_autofree char *spaced = NULL;
  g_autofree char *header = g_strdup_printf ("t=1700000000,v1=%s", vectors[0].hex);

  /* Within the window on either side, and at its edge. */
  g_assert_true (tsq_signature_verify ("whsec_test_secret", header, body, 1700000000, 300, &error));
  g_assert_no_error (error);
  g_assert_true (tsq_signature_verify ("whsec_test_secret", header, body, 1700000300, 300, NULL));
  g_assert_true (tsq_signature_verify ("whsec_test_secret", header, body, 1699999700, 300, NULL));

  /* Upper-case hex, spaces after commas, an unknown scheme and a rotated-out signature first. */
  upper = g_ascii_strup (vectors[0].hex, -1);
  rotated
    = g_strdup_printf ("t=1700000000, v0=abc, v1=%s, v1=%s",
                       "00000000000000000000000000000000000000000000000000000000000000ff", upper);
  g_assert_true (
    tsq_signature_verify ("whsec_test_secret", rotated, body, 1700000010, 300, &error));
  g_assert_no_error (error);
  spaced = g_strdup_printf ("  v1=%s ,t=1700000000 ", vectors[0].hex);
  g_assert_true (tsq_signature_verify ("whsec_test_secret", spaced, body, 1700000000, 0, &error));
  g_assert_no_error (error);

  /* A header produced by our own signer verifies (round trip with another secret/body). */
  {
    g_autoptr (GBytes) other = bytes ("{\"a\":[1,2,3]}");
    g_autofree char *signed_header = tsq_signature_header ("s3cr3t", 42, other);

    g_assert_true (tsq_signature_verify ("s3cr3t", signed_header, other, 42, 0, &error));
    g_assert_no_error (error);
  }
}

static void
test_verify_rejects (void)
{
  g_autoptr (GBytes) body = bytes (vectors[0].body);
  g_autoptr (GBytes) tampered
    = bytes ("{\"id\":\"0d8f6e2a-7c1b-4a8e-9f3d-2b5c6a7e8f90\",\"text\":\"Site up!\"}");
  g_autofree char *header = g_strdup_printf ("t=1700000000,v1=%s", vectors[0].hex);
  g_autofree char *other_time = g_strdup_printf ("t=1700000001,v1=%s", vectors[0].hex);
  g_autofree char *flipped = g_strdup (header);
  g_autofree char *too_long = NULL;
  static const char *const malformed[] = {
    "",
    "garbage",
    "t=1700000000",
    "v1=0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
    "t=abc,v1=0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
    "t=-5,v1=0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
    "t=1700000000,v1=0aea17",
    "t=1700000000,v1=zzea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
    "t=1700000000,t=1700000000,v1=0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
    "t=1700000000;v1=0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
    "t=99999999999999999999,v1=0aea1793357794bfb396ae350fc1e51a78238cbf9d239c8f53c6c220d1526f3e",
  };
  GError *error = NULL;

  g_assert_false (
    tsq_signature_verify ("whsec_test_secret", header, tampered, 1700000000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MISMATCH);
  g_clear_error (&error);

  g_assert_false (tsq_signature_verify ("wrong_secret", header, body, 1700000000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MISMATCH);
  g_clear_error (&error);

  /* The timestamp is signed: moving it breaks the signature. */
  g_assert_false (
    tsq_signature_verify ("whsec_test_secret", other_time, body, 1700000000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MISMATCH);
  g_clear_error (&error);

  /* One flipped hex digit in the signature. */
  flipped[strlen (flipped) - 1] = flipped[strlen (flipped) - 1] == 'e' ? 'f' : 'e';
  g_assert_false (
    tsq_signature_verify ("whsec_test_secret", flipped, body, 1700000000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MISMATCH);
  g_clear_error (&error);

  /* Replays: valid signature, too old (or too far in the future). */
  g_assert_false (
    tsq_signature_verify ("whsec_test_secret", header, body, 1700000301, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_EXPIRED);
  g_clear_error (&error);
  g_assert_false (
    tsq_signature_verify ("whsec_test_secret", header, body, 1699999000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_EXPIRED);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_assert_false (
        tsq_signature_verify ("whsec_test_secret", malformed[i], body, 1700000000, 300, &error));
      g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED);
      g_clear_error (&error);
    }
  g_assert_false (tsq_signature_verify ("whsec_test_secret", NULL, body, 1700000000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED);
  g_clear_error (&error);

  /* Huge headers are refused without parsing them. */
  too_long = g_strnfill (100000, 'v');
  g_assert_false (
    tsq_signature_verify ("whsec_test_secret", too_long, body, 1700000000, 300, &error));
  g_assert_error (error, TSQ_SIGNATURE_ERROR, TSQ_SIGNATURE_ERROR_MALFORMED);
  g_clear_error (&error);
}

static void
test_constant_time_equal (void)
{
  guint8 a[64];
  guint8 b[64];
  GRand *rand = g_rand_new_with_seed (7);

  g_assert_true (tsq_constant_time_equal ("", 0, "", 0));
  g_assert_true (tsq_constant_time_equal ("abc", 3, "abc", 3));
  g_assert_false (tsq_constant_time_equal ("abc", 3, "abd", 3));
  g_assert_false (tsq_constant_time_equal ("abc", 3, "abcd", 4));
  g_assert_false (tsq_constant_time_equal ("abc", 3, "", 0));

  /* Against memcmp, with the one difference at every position and every bit. */
  for (guint i = 0; i < sizeof a; i++)
    a[i] = (guint8)g_rand_int_range (rand, 0, 256);
  memcpy (b, a, sizeof a);
  g_assert_true (tsq_constant_time_equal (a, sizeof a, b, sizeof b));
  for (guint pos = 0; pos < sizeof a; pos++)
    for (guint bit = 0; bit < 8; bit++)
      {
        b[pos] ^= (guint8)(1u << bit);
        g_assert_cmpint (tsq_constant_time_equal (a, sizeof a, b, sizeof b), ==,
                         memcmp (a, b, sizeof a) == 0);
        g_assert_false (tsq_constant_time_equal (a, sizeof a, b, sizeof b));
        b[pos] ^= (guint8)(1u << bit);
      }
  g_assert_true (tsq_constant_time_equal (a, sizeof a, b, sizeof b));
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/signature/known-answers", test_known_answers);
  g_test_add_func ("/tsq/signature/verify-accepts", test_verify_accepts);
  g_test_add_func ("/tsq/signature/verify-rejects", test_verify_rejects);
  g_test_add_func ("/tsq/signature/constant-time-equal", test_constant_time_equal);
  return g_test_run ();
}
