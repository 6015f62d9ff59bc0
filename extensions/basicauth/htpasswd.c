/* The htpasswd user table: a strict, bounded parser (every line is a user, a blank line
 * or a comment; limits on users, line length and file size, because the file decides who
 * may send data) and verification with a constant-time cache of passwords that already
 * matched. Errors name the line number, never a hash or a password. */
#include "htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_auth.h"

static int prefix(const char *s, size_t len, const char *p) {
  size_t n = strlen(p);
  return len >= n && memcmp(s, p, n) == 0;
}

static int all_in(const char *s, size_t len, const char *set) {
  for (size_t i = 0; i < len; i++)
    if (!s[i] || !strchr(set, s[i]))
      return 0;
  return 1;
}

#define CRYPT64 "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* "$magic$salt$digest": salt 1..max_salt characters, digest exactly digest_len. */
static int md5_shape(const char *h, size_t len, size_t magic_len) {
  const char *salt = h + magic_len;
  const char *end = memchr(salt, '$', len - magic_len);
  if (!end || end == salt || end - salt > 8)
    return 0;
  size_t dlen = len - (size_t)(end + 1 - h);
  return dlen == 22 && all_in(end + 1, dlen, CRYPT64);
}

int tg_htpasswd_scheme_of(const char *h, size_t len, int allow_plain) {
  if (prefix(h, len, "$2y$") || prefix(h, len, "$2b$") || prefix(h, len, "$2a$")) {
    /* $2y$NN$ + 22 salt + 31 digest characters; cost bounded so that one request cannot
     * hold the loop for seconds (htpasswd -B allows 4..17) */
    int cost = len == 60 && h[4] >= '0' && h[4] <= '9' && h[5] >= '0' && h[5] <= '9'
                   ? (h[4] - '0') * 10 + (h[5] - '0')
                   : -1;
    if (cost >= 4 && cost <= TG_HTPASSWD_MAX_BCRYPT_COST && h[6] == '$' &&
        all_in(h + 7, 53, CRYPT64))
      return TG_HTPASSWD_BCRYPT;
    return -1;
  }
  if (prefix(h, len, "$apr1$"))
    return md5_shape(h, len, 6) ? TG_HTPASSWD_APR1 : -1;
  if (prefix(h, len, "$1$"))
    return md5_shape(h, len, 3) ? TG_HTPASSWD_MD5CRYPT : -1;
  if (prefix(h, len, "$5$") || prefix(h, len, "$6$")) {
    if (len > 200 || !all_in(h + 3, len - 3, CRYPT64 "$=") || !memchr(h + 3, '$', len - 3))
      return -1;
    if (prefix(h + 3, len - 3, "rounds=")) { /* bounded like the bcrypt cost */
      unsigned long rounds = 0;
      size_t i = 10;
      for (; i < len && h[i] >= '0' && h[i] <= '9' && rounds <= TG_HTPASSWD_MAX_SHA_ROUNDS; i++)
        rounds = rounds * 10 + (unsigned long)(h[i] - '0');
      if (i == 10 || i >= len || h[i] != '$' || rounds > TG_HTPASSWD_MAX_SHA_ROUNDS)
        return -1;
    }
    return h[1] == '5' ? TG_HTPASSWD_SHA256CRYPT : TG_HTPASSWD_SHA512CRYPT;
  }
  if (prefix(h, len, "{SHA}"))
    return len == 33 && all_in(h + 5, 28,
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
               ? TG_HTPASSWD_SHA1
               : -1;
  if (len && (h[0] == '$' || h[0] == '{'))
    return -1; /* some other scheme ({SSHA}, $y$, ...): never taken for plain text */
  if (allow_plain && len)
    return TG_HTPASSWD_PLAIN;
  return -1;
}

static int find_user(const tg_htpasswd *h, const char *user, size_t len) {
  for (size_t i = 0; i < h->n; i++)
    if (strlen(h->entries[i].user) == len && memcmp(h->entries[i].user, user, len) == 0)
      return (int)i;
  return -1;
}

static char *dup_n(const char *s, size_t n) {
  char *c = tg_malloc(n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = '\0';
  }
  return c;
}

static int table_init(tg_htpasswd *h) {
  memset(h, 0, sizeof *h);
  if (RAND_bytes(h->cache_key, sizeof h->cache_key) != 1)
    return TG_EIO;
  h->crypt_data = tg_calloc(1, sizeof(struct crypt_data));
  return h->crypt_data ? TG_OK : TG_ENOMEM;
}

static int add_entry(tg_htpasswd *h, const char *user, size_t ulen, const char *hash,
                     size_t hlen, int scheme) {
  if (h->n >= TG_HTPASSWD_MAX_USERS)
    return TG_ETOOBIG;
  tg_htpasswd_entry *grown = tg_realloc(h->entries, (h->n + 1) * sizeof *grown);
  if (!grown)
    return TG_ENOMEM;
  h->entries = grown;
  tg_htpasswd_entry *e = &h->entries[h->n];
  memset(e, 0, sizeof *e);
  e->user = dup_n(user, ulen);
  e->hash = dup_n(hash, hlen);
  if (!e->user || !e->hash) {
    tg_free(e->user);
    tg_free(e->hash);
    return TG_ENOMEM;
  }
  e->hash_len = hlen;
  e->scheme = (tg_htpasswd_scheme)scheme;
  h->n++;
  return TG_OK;
}

int tg_htpasswd_parse(const char *text, size_t len, int allow_plain, tg_htpasswd *out,
                      tg_errbuf *err) {
  int rc = table_init(out);
  if (rc != TG_OK) {
    tg_htpasswd_free(out);
    return tg_errf(err, rc, "cannot set up the password table");
  }
  if (len > TG_HTPASSWD_MAX_FILE_BYTES) {
    tg_htpasswd_free(out);
    return tg_errf(err, TG_ETOOBIG, "larger than %d bytes", TG_HTPASSWD_MAX_FILE_BYTES);
  }
  size_t line = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    line++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *a = p, *b = nl ? nl : end;
    p = nl ? nl + 1 : end;
    if (b > a && b[-1] == '\r')
      b--;
    const char *s = a;
    while (s < b && (*s == ' ' || *s == '\t'))
      s++;
    if (s == b || *s == '#')
      continue;
    const char *why = NULL;
    const char *colon = memchr(a, ':', (size_t)(b - a));
    if ((size_t)(b - a) > TG_HTPASSWD_MAX_LINE)
      why = "line too long";
    else if (!colon || colon == a)
      why = "expected user:hash";
    else {
      for (const char *c = a; c < colon && !why; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
          why = "control character in the user name";
      for (const char *c = colon + 1; c < b && !why; c++)
        if (*c == '\0')
          why = "NUL byte";
    }
    int scheme = -1;
    if (!why) {
      scheme = tg_htpasswd_scheme_of(colon + 1, (size_t)(b - colon - 1), allow_plain);
      if (scheme < 0)
        why = "unsupported or malformed password hash (supported: bcrypt $2y$, $apr1$, $1$, "
              "$5$, $6$, {SHA})";
    }
    if (!why && find_user(out, a, (size_t)(colon - a)) >= 0)
      why = "user listed twice";
    if (!why) {
      rc = add_entry(out, a, (size_t)(colon - a), colon + 1, (size_t)(b - colon - 1), scheme);
      if (rc == TG_ETOOBIG)
        why = "too many users";
      else if (rc != TG_OK)
        why = "out of memory";
    }
    if (why) {
      tg_htpasswd_free(out);
      return tg_errf(err, rc == TG_ENOMEM ? TG_ENOMEM : TG_EDECODE, "line %zu: %s", line, why);
    }
  }
  return TG_OK;
}

int tg_htpasswd_merge(tg_htpasswd *dst, tg_htpasswd *src, tg_errbuf *err) {
  if (!dst->crypt_data) {
    int rc = table_init(dst);
    if (rc != TG_OK)
      return tg_errf(err, rc, "cannot set up the password table");
  }
  for (size_t i = 0; i < src->n; i++) {
    tg_htpasswd_entry *e = &src->entries[i];
    if (find_user(dst, e->user, strlen(e->user)) >= 0)
      return tg_errf(err, TG_EDECODE, "user listed twice (file and inline)");
    int rc = add_entry(dst, e->user, strlen(e->user), e->hash, e->hash_len, (int)e->scheme);
    if (rc != TG_OK)
      return tg_errf(err, rc, "%s", rc == TG_ETOOBIG ? "too many users" : "out of memory");
  }
  tg_htpasswd_free(src);
  return TG_OK;
}

static void mac_of(const tg_htpasswd *h, const char *pw, size_t len, unsigned char out[32]) {
  unsigned int n = 32;
  HMAC(EVP_sha256(), h->cache_key, (int)sizeof h->cache_key, (const unsigned char *)pw, len,
       out, &n);
}

int tg_htpasswd_verify(tg_htpasswd *h, const char *user, size_t user_len, const char *pw,
                       size_t pw_len) {
  if (!h || !h->n || pw_len > TG_HTPASSWD_MAX_PASSWORD)
    return 0;
  int i = find_user(h, user, user_len);
  if (i < 0)
    return 0;
  tg_htpasswd_entry *e = &h->entries[i];
  unsigned char mac[32];
  mac_of(h, pw, pw_len, mac);
  if (e->verified && CRYPTO_memcmp(mac, e->ok_mac, sizeof mac) == 0)
    return 1;
  int ok = tg_htpasswd_hash_check(e->scheme, e->hash, e->hash_len, pw, pw_len, h->crypt_data);
  if (ok) {
    memcpy(e->ok_mac, mac, sizeof mac);
    e->verified = 1;
  }
  OPENSSL_cleanse(mac, sizeof mac);
  return ok;
}

void tg_htpasswd_free(tg_htpasswd *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->n; i++) {
    tg_free(h->entries[i].user);
    if (h->entries[i].hash)
      tg_auth_wipe(h->entries[i].hash, h->entries[i].hash_len);
    tg_free(h->entries[i].hash);
  }
  tg_free(h->entries);
  if (h->crypt_data)
    tg_auth_wipe(h->crypt_data, sizeof(struct crypt_data));
  tg_free(h->crypt_data);
  OPENSSL_cleanse(h->cache_key, sizeof h->cache_key);
  memset(h, 0, sizeof *h);
}
