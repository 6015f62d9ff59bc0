/* HMAC-SHA256 over precomputed inner/outer SHA-256 states.
 *
 * Why the low-level SHA256_* API: OpenSSL 3's EVP_MAC_CTX_dup and EVP_MD_CTX_copy_ex both
 * allocate a provider context per copy, and EVP_MAC_init with a NULL key re-derives
 * through the provider on every value; copying a SHA256_CTX is a 112-byte struct copy. The
 * API is deprecated in 3.0 but kept (same assembly block function underneath), so this
 * file alone suppresses the deprecation. bench/bench_redaction.c measures the variants.
 * tg_sha256 uses it too: OpenSSL 3's one-shot SHA256() is EVP_Q_digest, whose first call
 * initialises the provider machinery and reads openssl.cnf, about 2 MB of resident
 * libcrypto and heap in an otherwise idle process (docs/ARCHITECTURE.md "Idle memory"). */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "tg_hmac.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((tg_hmac *)0)->inner), "tg_hmac too small");
_Static_assert(SHA256_CBLOCK == 64, "SHA-256 block size");

void tg_hmac_init(tg_hmac *h, const uint8_t *key, size_t len) {
  uint8_t block[SHA256_CBLOCK] = {0}, pad[SHA256_CBLOCK];
  if (len > SHA256_CBLOCK)
    tg_sha256(key, len, block);
  else if (len)
    memcpy(block, key, len);
  SHA256_CTX *in = (SHA256_CTX *)h->inner, *out = (SHA256_CTX *)h->outer;
  for (size_t i = 0; i < SHA256_CBLOCK; i++)
    pad[i] = block[i] ^ 0x36;
  SHA256_Init(in);
  SHA256_Update(in, pad, sizeof pad);
  for (size_t i = 0; i < SHA256_CBLOCK; i++)
    pad[i] = block[i] ^ 0x5c;
  SHA256_Init(out);
  SHA256_Update(out, pad, sizeof pad);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
}

void tg_hmac_sha256(const tg_hmac *h, const void *data, size_t len, uint8_t out[TG_SHA256_LEN]) {
  SHA256_CTX c;
  uint8_t inner[TG_SHA256_LEN];
  memcpy(&c, h->inner, sizeof c);
  SHA256_Update(&c, data, len);
  SHA256_Final(inner, &c);
  memcpy(&c, h->outer, sizeof c);
  SHA256_Update(&c, inner, sizeof inner);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(&c, sizeof c);
}

void tg_hmac_clear(tg_hmac *h) { OPENSSL_cleanse(h, sizeof *h); }

void tg_sha256(const void *data, size_t len, uint8_t out[TG_SHA256_LEN]) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, data, len);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(&c, sizeof c);
}

void tg_hex(const uint8_t *in, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = '\0';
}

/* base64url (RFC 4648 §5) without padding; returns characters written. */
static size_t base64url(const uint8_t *in, size_t len, char *out) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
  }
  return o;
}

size_t tg_pseudonym(const tg_hmac *h, const char *key_id, tg_pseudonym_format format,
                    const void *data, size_t len, char *out) {
  uint8_t mac[TG_SHA256_LEN];
  tg_hmac_sha256(h, data, len, mac);
  size_t n = strnlen(key_id, TG_PSEUDONYM_KEY_ID_MAX);
  memcpy(out, key_id, n);
  out[n++] = ':';
  if (format == TG_PSEUDONYM_HEX) {
    tg_hex(mac, TG_PSEUDONYM_MAC_LEN, out + n);
    n += 2 * TG_PSEUDONYM_MAC_LEN;
  } else {
    n += base64url(mac, TG_PSEUDONYM_MAC_LEN, out + n);
  }
  out[n] = '\0';
  return n;
}
