/* Keyed HMAC-SHA256 for pseudonyms, and the pseudonym text format.
 *
 * The key is absorbed once: the inner and outer SHA-256 states after one block of
 * key^ipad / key^opad are precomputed, so hashing a value costs two struct copies, one
 * update and two finals (RFC 2104 as the RFC 4231 vectors test it), and never allocates.
 * The state is as secret as the key: tg_hmac_clear wipes it. */
#ifndef TG_HMAC_H
#define TG_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define TG_SHA256_LEN 32
/* Bytes of the MAC a pseudonym carries: 128 bits, 22 base64url characters. */
#define TG_PSEUDONYM_MAC_LEN 16
/* Longest key id: [A-Za-z0-9_-]{1,16}. */
#define TG_PSEUDONYM_KEY_ID_MAX 16
/* Longest pseudonym: key id, ':', 32 hex characters, NUL. */
#define TG_PSEUDONYM_MAX (TG_PSEUDONYM_KEY_ID_MAX + 1 + 2 * TG_PSEUDONYM_MAC_LEN + 1)

/* Opaque storage for two SHA-256 states (the OpenSSL struct is kept out of this header). */
typedef struct tg_hmac {
  _Alignas(8) unsigned char inner[128], outer[128];
} tg_hmac;

typedef enum tg_pseudonym_format { TG_PSEUDONYM_BASE64URL, TG_PSEUDONYM_HEX } tg_pseudonym_format;

/* Absorbs key[0..len) (any length; longer than a block is hashed first, as RFC 2104). */
void tg_hmac_init(tg_hmac *h, const uint8_t *key, size_t len);
/* out = HMAC-SHA256(key, data). Reentrant for a const h; never allocates. */
void tg_hmac_sha256(const tg_hmac *h, const void *data, size_t len, uint8_t out[TG_SHA256_LEN]);
/* Wipes the key-derived state. */
void tg_hmac_clear(tg_hmac *h);

/* Plain SHA-256 (the attributes processor's `hash` action), without allocating. */
void tg_sha256(const void *data, size_t len, uint8_t out[TG_SHA256_LEN]);

/* Writes "<key_id>:<mac>" for data into out (TG_PSEUDONYM_MAX bytes) and returns its length
 * (without the NUL): mac is the first 16 bytes of HMAC-SHA256(key, data) as 22 base64url
 * characters without padding, or 32 lowercase hex characters. It depends only on the key
 * and data. */
size_t tg_pseudonym(const tg_hmac *h, const char *key_id, tg_pseudonym_format format,
                    const void *data, size_t len, char *out);

/* Lowercase hex of in[0..len) into out (2*len+1 bytes, NUL-terminated). */
void tg_hex(const uint8_t *in, size_t len, char *out);

#endif
