/* htpasswd files for the basicauth server: the parser, the user table and password
 * verification for the hash formats Debian's htpasswd (apache2-utils) and `openssl
 * passwd` produce:
 *   $2y$ / $2b$ / $2a$  bcrypt           (htpasswd -B)           via libcrypt
 *   $apr1$              Apache MD5       (htpasswd default, -m;  openssl passwd -apr1)
 *   $1$                 MD5-crypt        (openssl passwd -1)
 *   $5$ / $6$           SHA-256/512-crypt (htpasswd -2/-5 where available, openssl -5/-6)
 *   {SHA}               base64(SHA-1)    (htpasswd -s)
 *   plain text          only when allowed (the `inline` key, as the Collector accepts it)
 * bcrypt costs above 17 and SHA-crypt rounds above 1,000,000 are refused at load: a
 * check runs on the receiver's loop thread.
 * Not supported: classic DES crypt (htpasswd -d; 8-character passwords) and {SSHA}. */
#ifndef TG_HTPASSWD_H
#define TG_HTPASSWD_H

#include <stddef.h>

#include "tg_error.h"

#define TG_HTPASSWD_MAX_USERS 10000
#define TG_HTPASSWD_MAX_LINE 4096
#define TG_HTPASSWD_MAX_FILE_BYTES (4 * 1024 * 1024)
#define TG_HTPASSWD_MAX_PASSWORD 1024
#define TG_HTPASSWD_MAX_BCRYPT_COST 17     /* 2^17 rounds: ~10 ms a check (cached after) */
#define TG_HTPASSWD_MAX_SHA_ROUNDS 1000000 /* $5$/$6$ rounds= (default 5000) */

typedef enum tg_htpasswd_scheme {
  TG_HTPASSWD_BCRYPT,
  TG_HTPASSWD_APR1,
  TG_HTPASSWD_MD5CRYPT,
  TG_HTPASSWD_SHA256CRYPT,
  TG_HTPASSWD_SHA512CRYPT,
  TG_HTPASSWD_SHA1,
  TG_HTPASSWD_PLAIN,
} tg_htpasswd_scheme;

typedef struct tg_htpasswd_entry {
  char *user;  /* owned */
  char *hash;  /* owned; the stored field after the first ':' */
  size_t hash_len;
  tg_htpasswd_scheme scheme;
  int verified;               /* ok_mac holds the MAC of the last password that matched */
  unsigned char ok_mac[32];
} tg_htpasswd_entry;

typedef struct tg_htpasswd {
  tg_htpasswd_entry *entries;
  size_t n;
  unsigned char cache_key[32]; /* random per table: keys ok_mac */
  void *crypt_data;            /* libcrypt scratch (struct crypt_data), owned */
} tg_htpasswd;

/* The scheme of a stored hash, or -1 when it is none of the supported formats (a
 * malformed $..$ hash, DES crypt, {SSHA}); a hash without a known prefix is
 * TG_HTPASSWD_PLAIN when allow_plain, else -1. */
int tg_htpasswd_scheme_of(const char *hash, size_t len, int allow_plain);

/* Parses "user:hash" lines (blank lines and '#' comments skipped, CRLF accepted, a user
 * non-empty and without control characters, each user once). Bounded by the limits
 * above. On success out owns everything (tg_htpasswd_free); on failure out is empty and
 * err names the line, never a hash. TG_OK, TG_EDECODE, TG_ETOOBIG, TG_ENOMEM. */
int tg_htpasswd_parse(const char *text, size_t len, int allow_plain, tg_htpasswd *out,
                      tg_errbuf *err);

/* Appends the entries of src to dst (inline + file); src is emptied. A user already in
 * dst is an error. */
int tg_htpasswd_merge(tg_htpasswd *dst, tg_htpasswd *src, tg_errbuf *err);

/* 1 when user exists and password matches its hash. Successful verifications are
 * remembered as an HMAC of the password under a random key, so a client that sends the
 * same credentials on every request pays for bcrypt once; that shortcut compares in
 * constant time too. Not thread-safe (one loop thread). */
int tg_htpasswd_verify(tg_htpasswd *h, const char *user, size_t user_len, const char *pw,
                       size_t pw_len);

void tg_htpasswd_free(tg_htpasswd *h);

/* The hash check alone (htpasswd_hash.c): 1 when pw hashes to hash under scheme.
 * crypt_data is the table's scratch (NULL allocates one for the call). */
int tg_htpasswd_hash_check(tg_htpasswd_scheme scheme, const char *hash, size_t hash_len,
                           const char *pw, size_t pw_len, void *crypt_data);

/* Apache/MD5-crypt: writes magic + salt + '$' + 22 characters into out (>= 64 bytes) for
 * magic "$apr1$" or "$1$" and a salt of at most 8 characters. Returns the length. */
size_t tg_md5_crypt(const char *pw, size_t pw_len, const char *magic, const char *salt,
                    size_t salt_len, char *out, size_t out_len);

#endif
