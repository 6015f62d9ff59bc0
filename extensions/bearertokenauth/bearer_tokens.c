/* Token sets for bearertokenauth. A file holds one token per line so that rotation can
 * run with the old and the new token both valid; the parser is strict (every line either
 * a token, blank or a comment) and bounded (count, length, file size), because the file
 * decides who may send data. Errors name the line number, never its content. */
#include "bearer_tokens.h"

#include <openssl/crypto.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_auth.h"

static int token_char_ok(unsigned char c) { return c > 0x20 && c < 0x7f; }

int tg_bearer_tokens_add(tg_bearer_tokens *set, const char *token, size_t len,
                         tg_errbuf *err) {
  if (!len)
    return tg_errf(err, TG_EDECODE, "empty token");
  if (len > TG_BEARER_MAX_TOKEN_LEN)
    return tg_errf(err, TG_ETOOBIG, "token longer than %d bytes", TG_BEARER_MAX_TOKEN_LEN);
  for (size_t i = 0; i < len; i++)
    if (!token_char_ok((unsigned char)token[i]))
      return tg_errf(err, TG_EDECODE, "token has a space or a non-printable byte");
  if (set->n >= TG_BEARER_MAX_TOKENS)
    return tg_errf(err, TG_ETOOBIG, "more than %d tokens", TG_BEARER_MAX_TOKENS);
  char **items = tg_realloc(set->items, (set->n + 1) * sizeof *items);
  if (!items)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  set->items = items;
  size_t *lens = tg_realloc(set->lens, (set->n + 1) * sizeof *lens);
  if (!lens)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  set->lens = lens;
  unsigned char(*digests)[32] = tg_realloc(set->digests, (set->n + 1) * sizeof *digests);
  if (!digests)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  set->digests = digests;
  char *copy = tg_malloc(len + 1);
  if (!copy)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  memcpy(copy, token, len);
  copy[len] = '\0';
  set->items[set->n] = copy;
  set->lens[set->n] = len;
  tg_auth_secret_digest(copy, len, set->digests[set->n]);
  set->n++;
  return TG_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int tg_bearer_tokens_parse(const char *text, size_t len, tg_bearer_tokens *out,
                           tg_errbuf *err) {
  memset(out, 0, sizeof *out);
  if (len > TG_BEARER_MAX_FILE_BYTES)
    return tg_errf(err, TG_ETOOBIG, "token file larger than %d bytes",
                   TG_BEARER_MAX_FILE_BYTES);
  size_t line = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    line++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    const char *a = p, *b = eol;
    while (a < b && is_blank(*a))
      a++;
    while (b > a && is_blank(b[-1]))
      b--;
    p = nl ? nl + 1 : end;
    if (a == b || *a == '#')
      continue;
    if (memchr(a, '\0', (size_t)(b - a))) {
      tg_bearer_tokens_free(out);
      return tg_errf(err, TG_EDECODE, "line %zu: NUL byte", line);
    }
    tg_errbuf detail = {{0}};
    int rc = tg_bearer_tokens_add(out, a, (size_t)(b - a), &detail);
    if (rc != TG_OK) {
      tg_bearer_tokens_free(out);
      return tg_errf(err, rc, "line %zu: %s", line, detail.msg);
    }
  }
  if (!out->n)
    return tg_errf(err, TG_EDECODE, "no token in the file");
  return TG_OK;
}

int tg_bearer_tokens_match(const tg_bearer_tokens *set, const char *cred, size_t len) {
  if (!set->n)
    return 0;
  unsigned char d[TG_AUTH_DIGEST_LEN];
  tg_auth_secret_digest(cred, len, d);
  int found = 0;
  for (size_t i = 0; i < set->n; i++)
    found |= CRYPTO_memcmp(set->digests[i], d, sizeof d) == 0;
  OPENSSL_cleanse(d, sizeof d);
  return found;
}

void tg_bearer_tokens_free(tg_bearer_tokens *set) {
  if (!set)
    return;
  for (size_t i = 0; i < set->n; i++) {
    if (set->items[i]) {
      tg_auth_wipe(set->items[i], set->lens[i]);
      tg_free(set->items[i]);
    }
  }
  tg_free(set->items);
  tg_free(set->lens);
  tg_free(set->digests);
  memset(set, 0, sizeof *set);
}
