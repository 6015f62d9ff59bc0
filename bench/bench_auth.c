/* bench_auth: what one authenticator check costs on the receiver's loop thread.
 *   build/bench/bench_auth [iterations]
 * Rows: the constant-time secret comparison, a bearer token set of 1/16/256 tokens (every
 * token is compared, so cost grows with the set), and htpasswd verification per hash
 * format, both the first check of a password (the hash itself) and a repeated one (the
 * verified-password cache: one HMAC-SHA256 and a CRYPTO_memcmp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extensions/basicauth/htpasswd.h"
#include "extensions/bearertokenauth/bearer_tokens.h"
#include "tg_auth.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile int sink;

static void bearer_row(size_t n_tokens, long iters) {
  tg_bearer_tokens t = {0};
  tg_errbuf err;
  char tok[64];
  for (size_t i = 0; i < n_tokens; i++) {
    int n = snprintf(tok, sizeof tok, "token-%020zu-abcdef", i);
    tg_bearer_tokens_add(&t, tok, (size_t)n, &err);
  }
  double t0 = now_ns();
  for (long i = 0; i < iters; i++)
    sink += tg_bearer_tokens_match(&t, tok, strlen(tok));
  printf("| bearer check, %zu token(s) | %.0f |\n", n_tokens, (now_ns() - t0) / iters);
  tg_bearer_tokens_free(&t);
}

static void htpasswd_row(const char *label, const char *line, const char *pw, long iters) {
  tg_htpasswd h;
  tg_errbuf err = {{0}};
  if (tg_htpasswd_parse(line, strlen(line), 0, &h, &err) != TG_OK) {
    printf("parse failed: %s\n", err.msg);
    exit(1);
  }
  const char *user = h.entries[0].user;
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    h.entries[0].verified = 0; /* first check: the hash itself */
    sink += tg_htpasswd_verify(&h, user, strlen(user), pw, strlen(pw));
  }
  double first = (now_ns() - t0) / iters;
  long cached_iters = iters * 50;
  t0 = now_ns();
  for (long i = 0; i < cached_iters; i++)
    sink += tg_htpasswd_verify(&h, user, strlen(user), pw, strlen(pw));
  double again = (now_ns() - t0) / cached_iters;
  if (!tg_htpasswd_verify(&h, user, strlen(user), pw, strlen(pw))) {
    printf("%s: password does not verify\n", label);
    exit(1);
  }
  printf("| basic check, %s: first / repeated | %.0f / %.0f |\n", label, first, again);
  tg_htpasswd_free(&h);
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 200000;
  const char *a = "0123456789abcdef", *b = "0123456789abcdeX";
  double t0 = now_ns();
  for (long i = 0; i < iters; i++)
    sink += tg_auth_secret_equal(a, 16, b, 16);
  printf("| operation | ns per check |\n|---|---|\n");
  printf("| tg_auth_secret_equal, 16 bytes | %.0f |\n", (now_ns() - t0) / iters);
  bearer_row(1, iters);
  bearer_row(16, iters / 16);
  bearer_row(256, iters / 256 + 1);
  htpasswd_row("{SHA}", "c:{SHA}RN2SCjMrGHIhJyD0NLlVRMJXNBM=\n", "c4r0l", iters / 10);
  htpasswd_row("$apr1$", "b:$apr1$ksHLF3Rr$H3NZia1LTybQ9oFn8tOLY/\n", "b0b", iters / 400 + 1);
  htpasswd_row("$6$ (5000 rounds)",
               "g:$6$saltsalt$9RCzQpw081WGeK3mcWoX80W9GPZfKv49diTYqxkySopsNM50xSTDBTpgGXEQIrMuxjvAnmOnyTpa46zqy.fYR1\n",
               "s3cr3t", iters / 4000 + 1);
  htpasswd_row("bcrypt cost 5", "a:$2y$05$z0a8fHWYvayHkFxVS6SNG.9xIk3FSoXWHFhr.jatLfmyWHCwnCoPm\n",
               "s3cr3t", iters / 10000 + 1);
  return 0;
}
