/* The token set of a bearertokenauth server: parsed from the config (`token`, `tokens`)
 * or from a token file, and checked in constant time. */
#ifndef TG_BEARER_TOKENS_H
#define TG_BEARER_TOKENS_H

#include <stddef.h>

#include "tg_error.h"

#define TG_BEARER_MAX_TOKENS 1024
#define TG_BEARER_MAX_TOKEN_LEN 4096
#define TG_BEARER_MAX_FILE_BYTES (1024 * 1024)

typedef struct tg_bearer_tokens {
  char **items; /* owned, NUL-terminated */
  size_t *lens;
  unsigned char (*digests)[32]; /* tg_auth_secret_digest of each token */
  size_t n;
} tg_bearer_tokens;

/* Parses a token file: one token per line; leading/trailing spaces, tabs and CR are
 * trimmed; blank lines and lines starting with '#' are skipped. A token must be printable
 * ASCII without spaces inside (RFC 6750 b64token characters and more are allowed) and at
 * most TG_BEARER_MAX_TOKEN_LEN bytes; at most TG_BEARER_MAX_TOKENS tokens; at least one.
 * On success out owns copies (free with tg_bearer_tokens_free); on failure out is empty
 * and err names the line (never the token). TG_OK, TG_EDECODE, TG_ETOOBIG, TG_ENOMEM. */
int tg_bearer_tokens_parse(const char *text, size_t len, tg_bearer_tokens *out,
                           tg_errbuf *err);

/* Adds one token (from the config); same rules as a file line. */
int tg_bearer_tokens_add(tg_bearer_tokens *set, const char *token, size_t len,
                         tg_errbuf *err);

/* 1 when cred equals one of the tokens. cred is digested once (SHA-256) and compared with
 * every token's digest by CRYPTO_memcmp, so the timing depends only on the number of
 * tokens, never on where or whether a token matches, nor on the tokens' lengths. */
int tg_bearer_tokens_match(const tg_bearer_tokens *set, const char *cred, size_t len);

void tg_bearer_tokens_free(tg_bearer_tokens *set);

#endif
