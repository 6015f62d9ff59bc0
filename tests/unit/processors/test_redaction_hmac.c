/* HMAC-SHA256 against the RFC 4231 test vectors (cases 1-7), against OpenSSL's own HMAC
 * for many key and data lengths, and the pseudonym format: key id, 22 base64url
 * characters (or 32 hex), depending only on key and value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tg_hmac.h"

static size_t unhex(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  return n;
}

static void fill(uint8_t *p, uint8_t byte, size_t n) { memset(p, byte, n); }

typedef struct vector {
  uint8_t key[131];
  size_t key_len;
  uint8_t data[160];
  size_t data_len;
  const char *mac_hex; /* full or truncated (case 5: 128 bits) */
} vector;

static void check(const vector *v) {
  tg_hmac h;
  tg_hmac_init(&h, v->key, v->key_len);
  uint8_t mac[TG_SHA256_LEN];
  tg_hmac_sha256(&h, v->data, v->data_len, mac);
  char hex[2 * TG_SHA256_LEN + 1];
  tg_hex(mac, sizeof mac, hex);
  assert_memory_equal(hex, v->mac_hex, strlen(v->mac_hex));
  tg_hmac_clear(&h);
}

static void test_rfc4231(void **state) {
  (void)state;
  vector v;
  /* 1 */
  memset(&v, 0, sizeof v);
  fill(v.key, 0x0b, v.key_len = 20);
  memcpy(v.data, "Hi There", v.data_len = 8);
  v.mac_hex = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  check(&v);
  /* 2: a key shorter than the output */
  memset(&v, 0, sizeof v);
  memcpy(v.key, "Jefe", v.key_len = 4);
  memcpy(v.data, "what do ya want for nothing?", v.data_len = 28);
  v.mac_hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  check(&v);
  /* 3 */
  memset(&v, 0, sizeof v);
  fill(v.key, 0xaa, v.key_len = 20);
  fill(v.data, 0xdd, v.data_len = 50);
  v.mac_hex = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
  check(&v);
  /* 4 */
  memset(&v, 0, sizeof v);
  v.key_len = unhex("0102030405060708090a0b0c0d0e0f10111213141516171819", v.key);
  fill(v.data, 0xcd, v.data_len = 50);
  v.mac_hex = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
  check(&v);
  /* 5: truncated to 128 bits */
  memset(&v, 0, sizeof v);
  fill(v.key, 0x0c, v.key_len = 20);
  memcpy(v.data, "Test With Truncation", v.data_len = 20);
  v.mac_hex = "a3b6167473100ee06e0c796c2955552b";
  check(&v);
  /* 6: a key longer than the block is hashed first */
  memset(&v, 0, sizeof v);
  fill(v.key, 0xaa, v.key_len = 131);
  const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  memcpy(v.data, d6, v.data_len = strlen(d6));
  v.mac_hex = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  check(&v);
  /* 7: long key and data longer than a block */
  memset(&v, 0, sizeof v);
  fill(v.key, 0xaa, v.key_len = 131);
  const char *d7 = "This is a test using a larger than block-size key and a larger than "
                   "block-size data. The key needs to be hashed before being used by the HMAC "
                   "algorithm.";
  memcpy(v.data, d7, v.data_len = strlen(d7));
  v.mac_hex = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
  check(&v);
}

/* The precomputed-state HMAC agrees with OpenSSL's HMAC() for every key length around the
 * block size and data lengths across block boundaries, and the state is reusable. */
static void test_matches_openssl(void **state) {
  (void)state;
  uint8_t key[200], data[300];
  for (size_t i = 0; i < sizeof key; i++)
    key[i] = (uint8_t)(i * 37 + 11);
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 91 + 3);
  const size_t key_lens[] = {0, 1, 31, 32, 63, 64, 65, 128, 200};
  for (size_t k = 0; k < sizeof key_lens / sizeof *key_lens; k++) {
    tg_hmac h;
    tg_hmac_init(&h, key, key_lens[k]);
    for (size_t len = 0; len <= sizeof data; len += 7) {
      uint8_t ours[TG_SHA256_LEN], theirs[EVP_MAX_MD_SIZE];
      unsigned theirs_len = 0;
      tg_hmac_sha256(&h, data, len, ours);
      HMAC(EVP_sha256(), key, (int)key_lens[k], data, len, theirs, &theirs_len);
      assert_int_equal(theirs_len, TG_SHA256_LEN);
      assert_memory_equal(ours, theirs, TG_SHA256_LEN);
    }
    tg_hmac_clear(&h);
  }
}

static int b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_';
}

static void test_pseudonym_format(void **state) {
  (void)state;
  const char *k1 = "0123456789abcdef0123456789abcdef", *k2 = "fedcba9876543210fedcba9876543210";
  tg_hmac a, a2, b;
  tg_hmac_init(&a, (const uint8_t *)k1, 32);
  tg_hmac_init(&a2, (const uint8_t *)k1, 32);
  tg_hmac_init(&b, (const uint8_t *)k2, 32);
  char p[TG_PSEUDONYM_MAX], q[TG_PSEUDONYM_MAX], r[TG_PSEUDONYM_MAX];
  size_t n = tg_pseudonym(&a, "k1", TG_PSEUDONYM_BASE64URL, "alice", 5, p);
  assert_int_equal(n, 3 + 22);
  assert_int_equal(strlen(p), n);
  assert_memory_equal(p, "k1:", 3);
  for (size_t i = 3; i < n; i++)
    assert_true(b64url_char(p[i]));
  /* the first 16 bytes of the MAC, base64url: recompute independently */
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned mac_len;
  HMAC(EVP_sha256(), k1, 32, (const uint8_t *)"alice", 5, mac, &mac_len);
  unsigned char b64[64];
  int b64_len = EVP_EncodeBlock(b64, mac, 16); /* standard alphabet, padded */
  assert_int_equal(b64_len, 24);
  for (int i = 0; i < 22; i++) {
    char c = (char)b64[i] == '+' ? '-' : (char)b64[i] == '/' ? '_' : (char)b64[i];
    assert_int_equal(p[3 + i], c);
  }
  /* stable for the same key (another state), different for another key or value */
  tg_pseudonym(&a2, "k1", TG_PSEUDONYM_BASE64URL, "alice", 5, q);
  assert_string_equal(p, q);
  tg_pseudonym(&b, "k1", TG_PSEUDONYM_BASE64URL, "alice", 5, r);
  assert_string_not_equal(p, r);
  tg_pseudonym(&a, "k1", TG_PSEUDONYM_BASE64URL, "alicf", 5, r);
  assert_string_not_equal(p, r);
  /* key id is a prefix only: same MAC under another id */
  tg_pseudonym(&a, "k2", TG_PSEUDONYM_BASE64URL, "alice", 5, r);
  assert_memory_equal(r, "k2:", 3);
  assert_string_equal(r + 3, p + 3);
  /* hex: 32 lowercase hex characters of the same 16 bytes */
  n = tg_pseudonym(&a, "k1", TG_PSEUDONYM_HEX, "alice", 5, r);
  assert_int_equal(n, 3 + 32);
  char hex[33];
  tg_hex(mac, 16, hex);
  assert_string_equal(r + 3, hex);
  /* longest key id fits the buffer */
  n = tg_pseudonym(&a, "abcdefghijklmnop", TG_PSEUDONYM_HEX, "", 0, r);
  assert_int_equal(n, 16 + 1 + 32);
  assert_true(n < TG_PSEUDONYM_MAX);
  tg_hmac_clear(&a);
  tg_hmac_clear(&a2);
  tg_hmac_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4231),
      cmocka_unit_test(test_matches_openssl),
      cmocka_unit_test(test_pseudonym_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
