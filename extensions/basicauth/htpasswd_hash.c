/* Password hash checks for htpasswd entries. bcrypt and the SHA-crypt family go through
 * libcrypt (libxcrypt on Debian: crypt_rn, thread-safe with caller scratch); Apache's
 * $apr1$ is not in libxcrypt, so MD5-crypt (the algorithm behind both $apr1$ and $1$,
 * differing only in the magic string) is written here over OpenSSL's MD5; {SHA} is
 * base64(SHA-1(password)). Every final comparison is CRYPTO_memcmp over equal lengths. */
#include "htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_auth.h"

static const char itoa64[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static char *to64(char *s, unsigned long v, int n) {
  while (n-- > 0) {
    *s++ = itoa64[v & 0x3f];
    v >>= 6;
  }
  return s;
}

static void md5(EVP_MD_CTX *ctx, const EVP_MD *alg, const void *a, size_t an, const void *b, size_t bn,
                const void *c, size_t cn, const void *d, size_t dn, unsigned char out[16]) {
  EVP_DigestInit_ex(ctx, alg, NULL);
  if (an)
    EVP_DigestUpdate(ctx, a, an);
  if (bn)
    EVP_DigestUpdate(ctx, b, bn);
  if (cn)
    EVP_DigestUpdate(ctx, c, cn);
  if (dn)
    EVP_DigestUpdate(ctx, d, dn);
  EVP_DigestFinal_ex(ctx, out, NULL);
}

size_t tg_md5_crypt(const char *pw, size_t pw_len, const char *magic, const char *salt,
                    size_t salt_len, char *out, size_t out_len) {
  size_t magic_len = strlen(magic);
  if (salt_len > 8)
    salt_len = 8;
  if (out_len < magic_len + salt_len + 1 + 22 + 1)
    return 0;
  /* fetched once: an implicit fetch in each of the 1002 EVP_DigestInit_ex calls costs
   * more than the MD5 blocks themselves */
  EVP_MD *alg = EVP_MD_fetch(NULL, "MD5", NULL);
  EVP_MD_CTX *ctx = alg ? EVP_MD_CTX_new() : NULL;
  if (!ctx) {
    EVP_MD_free(alg);
    return 0;
  }
  unsigned char fin[16];
  md5(ctx, alg, pw, pw_len, salt, salt_len, pw, pw_len, NULL, 0, fin); /* the "alternate" sum */
  EVP_DigestInit_ex(ctx, alg, NULL);
  EVP_DigestUpdate(ctx, pw, pw_len);
  EVP_DigestUpdate(ctx, magic, magic_len);
  EVP_DigestUpdate(ctx, salt, salt_len);
  for (size_t i = pw_len; i > 0; i -= i > 16 ? 16 : i)
    EVP_DigestUpdate(ctx, fin, i > 16 ? 16 : i);
  memset(fin, 0, sizeof fin);
  for (size_t i = pw_len; i; i >>= 1)
    EVP_DigestUpdate(ctx, (i & 1) ? (const void *)fin : (const void *)pw, 1);
  EVP_DigestFinal_ex(ctx, fin, NULL);
  for (int i = 0; i < 1000; i++) {
    const void *p1 = (i & 1) ? (const void *)pw : (const void *)fin;
    size_t n1 = (i & 1) ? pw_len : 16;
    const void *p4 = (i & 1) ? (const void *)fin : (const void *)pw;
    size_t n4 = (i & 1) ? 16 : pw_len;
    unsigned char next[16];
    md5(ctx, alg, p1, n1, salt, (i % 3) ? salt_len : 0, pw, (i % 7) ? pw_len : 0, p4, n4, next);
    memcpy(fin, next, 16);
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(alg);
  char *s = out;
  memcpy(s, magic, magic_len);
  s += magic_len;
  memcpy(s, salt, salt_len);
  s += salt_len;
  *s++ = '$';
  s = to64(s, ((unsigned long)fin[0] << 16) | ((unsigned long)fin[6] << 8) | fin[12], 4);
  s = to64(s, ((unsigned long)fin[1] << 16) | ((unsigned long)fin[7] << 8) | fin[13], 4);
  s = to64(s, ((unsigned long)fin[2] << 16) | ((unsigned long)fin[8] << 8) | fin[14], 4);
  s = to64(s, ((unsigned long)fin[3] << 16) | ((unsigned long)fin[9] << 8) | fin[15], 4);
  s = to64(s, ((unsigned long)fin[4] << 16) | ((unsigned long)fin[10] << 8) | fin[5], 4);
  s = to64(s, fin[11], 2);
  *s = '\0';
  OPENSSL_cleanse(fin, sizeof fin);
  return (size_t)(s - out);
}

static int equal_ct(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && CRYPTO_memcmp(a, b, an) == 0;
}

static int check_md5(const char *magic, const char *hash, size_t hash_len, const char *pw,
                     size_t pw_len) {
  size_t ml = strlen(magic);
  const char *salt = hash + ml;
  const char *end = memchr(salt, '$', hash_len - ml);
  if (!end)
    return 0;
  char out[96];
  size_t n = tg_md5_crypt(pw, pw_len, magic, salt, (size_t)(end - salt), out, sizeof out);
  int ok = n && equal_ct(out, n, hash, hash_len);
  OPENSSL_cleanse(out, sizeof out);
  return ok;
}

static int check_sha1(const char *hash, size_t hash_len, const char *pw, size_t pw_len) {
  unsigned char d[SHA_DIGEST_LENGTH];
  char b64[64];
  SHA1((const unsigned char *)pw, pw_len, d);
  int n = EVP_EncodeBlock((unsigned char *)b64, d, sizeof d); /* 28 characters */
  return n > 0 && equal_ct(b64, (size_t)n, hash + 5, hash_len - 5);
}

static int check_crypt(const char *hash, size_t hash_len, const char *pw, size_t pw_len,
                       void *scratch) {
  if (memchr(pw, '\0', pw_len) || pw_len > TG_HTPASSWD_MAX_PASSWORD)
    return 0; /* crypt takes C strings: a NUL inside would truncate */
  char pwz[TG_HTPASSWD_MAX_PASSWORD + 1];
  memcpy(pwz, pw, pw_len);
  pwz[pw_len] = '\0';
  struct crypt_data *cd = scratch ? scratch : tg_calloc(1, sizeof *cd);
  int ok = 0;
  if (cd) {
    const char *r = crypt_rn(pwz, hash, cd, (int)sizeof *cd);
    ok = r && r[0] != '*' && equal_ct(r, strlen(r), hash, hash_len);
    if (!scratch)
      tg_free(cd);
  }
  OPENSSL_cleanse(pwz, pw_len);
  return ok;
}

int tg_htpasswd_hash_check(tg_htpasswd_scheme scheme, const char *hash, size_t hash_len,
                           const char *pw, size_t pw_len, void *crypt_data) {
  switch (scheme) {
  case TG_HTPASSWD_APR1:
    return check_md5("$apr1$", hash, hash_len, pw, pw_len);
  case TG_HTPASSWD_MD5CRYPT:
    return check_md5("$1$", hash, hash_len, pw, pw_len);
  case TG_HTPASSWD_SHA1:
    return check_sha1(hash, hash_len, pw, pw_len);
  case TG_HTPASSWD_PLAIN:
    return tg_auth_secret_equal(hash, hash_len, pw, pw_len);
  case TG_HTPASSWD_BCRYPT:
  case TG_HTPASSWD_SHA256CRYPT:
  case TG_HTPASSWD_SHA512CRYPT:
    return check_crypt(hash, hash_len, pw, pw_len, crypt_data);
  }
  return 0;
}
