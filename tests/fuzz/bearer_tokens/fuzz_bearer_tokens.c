/* libFuzzer target for the bearer token file parser (extensions/bearertokenauth).
 * Checked on success: 1..TG_BEARER_MAX_TOKENS tokens, each non-empty, at most
 * TG_BEARER_MAX_TOKEN_LEN bytes of printable ASCII without spaces, equal to its recorded
 * length; each token matches itself and a token with one byte appended or removed
 * matches only when that string is itself one of the tokens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extensions/bearertokenauth/bearer_tokens.h"

static int listed(const tg_bearer_tokens *t, const char *s, size_t n) {
  for (size_t i = 0; i < t->n; i++)
    if (t->lens[i] == n && memcmp(t->items[i], s, n) == 0)
      return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_bearer_tokens t;
  tg_errbuf err = {{0}};
  if (tg_bearer_tokens_parse((const char *)data, size, &t, &err) != TG_OK) {
    if (t.n || t.items)
      abort();
    return 0;
  }
  if (!t.n || t.n > TG_BEARER_MAX_TOKENS)
    abort();
  static char probe[TG_BEARER_MAX_TOKEN_LEN + 2];
  for (size_t i = 0; i < t.n; i++) {
    size_t n = t.lens[i];
    if (!n || n > TG_BEARER_MAX_TOKEN_LEN || strlen(t.items[i]) != n)
      abort();
    for (size_t j = 0; j < n; j++)
      if (t.items[i][j] <= 0x20 || t.items[i][j] >= 0x7f)
        abort();
    if (i >= 16)
      continue; /* matching is linear in the token count: probe the first few */
    if (!tg_bearer_tokens_match(&t, t.items[i], n))
      abort();
    memcpy(probe, t.items[i], n);
    probe[n] = 'x';
    if (tg_bearer_tokens_match(&t, probe, n + 1) != listed(&t, probe, n + 1))
      abort();
    if (tg_bearer_tokens_match(&t, probe, n - 1) != listed(&t, probe, n - 1))
      abort();
  }
  tg_bearer_tokens_free(&t);
  return 0;
}
