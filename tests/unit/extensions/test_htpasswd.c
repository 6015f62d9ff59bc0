/* basicauth's htpasswd table. The hashes below were made by the real tools, not by this
 * code: `htpasswd -nbB` (bcrypt), `htpasswd -nb` / `openssl passwd -apr1` (apr1),
 * `htpasswd -s` (SHA-1), `openssl passwd -1/-5/-6` (MD5/SHA-256/SHA-512 crypt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "extensions/basicauth/htpasswd.h"
#include "tg_alloc.h"

static const char *const FILE_TEXT =
    "# made by htpasswd (apache2-utils 2.4)\n"
    "alice:$2y$05$z0a8fHWYvayHkFxVS6SNG.9xIk3FSoXWHFhr.jatLfmyWHCwnCoPm\n"
    "bob:$apr1$ksHLF3Rr$H3NZia1LTybQ9oFn8tOLY/\r\n"
    "\n"
    "carol:{SHA}RN2SCjMrGHIhJyD0NLlVRMJXNBM=\n"
    "dave:$2y$04$cDu29CIZRPrYpjqWfYziQe2XLk71eDc2jrats2xdiNW7jMAwrCUsu\n"
    "erin:$1$xy$rk/0Lap1SL/TrH5T55m9Q0\n"
    "frank:$5$saltsalt$bzwDEsDTjsQEZfriU/PmpIczsdZAgt64mFd8n9.JN9D\n"
    "grace:$6$saltsalt$9RCzQpw081WGeK3mcWoX80W9GPZfKv49diTYqxkySopsNM50xSTDBTpgGXEQIrMuxjvAnmOnyTpa46zqy.fYR1\n"
    "heidi:$apr1$Zx9$v0KquCh9TFW/hZVfZhVdv.\n"
    "ivan:$apr1$q$qnoBAcGhblL0pIKbcxCkt0";

static int verify(tg_htpasswd *h, const char *user, const char *pw) {
  return tg_htpasswd_verify(h, user, strlen(user), pw, strlen(pw));
}

static void test_every_format_verifies(void **state) {
  (void)state;
  tg_htpasswd h;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_htpasswd_parse(FILE_TEXT, strlen(FILE_TEXT), 0, &h, &err), TG_OK);
  assert_int_equal(h.n, 9);
  assert_int_equal(h.entries[0].scheme, TG_HTPASSWD_BCRYPT);
  assert_int_equal(h.entries[1].scheme, TG_HTPASSWD_APR1);
  assert_int_equal(h.entries[2].scheme, TG_HTPASSWD_SHA1);
  assert_int_equal(h.entries[4].scheme, TG_HTPASSWD_MD5CRYPT);
  assert_int_equal(h.entries[5].scheme, TG_HTPASSWD_SHA256CRYPT);
  assert_int_equal(h.entries[6].scheme, TG_HTPASSWD_SHA512CRYPT);
  assert_true(verify(&h, "alice", "s3cr3t"));
  assert_true(verify(&h, "bob", "b0b"));
  assert_true(verify(&h, "carol", "c4r0l"));
  assert_true(verify(&h, "dave", "x"));
  assert_true(verify(&h, "erin", "s3cr3t"));
  assert_true(verify(&h, "frank", "s3cr3t"));
  assert_true(verify(&h, "grace", "s3cr3t"));
  assert_true(verify(&h, "heidi", "a much longer password of 40 characters"));
  assert_true(verify(&h, "ivan", ""));
  /* wrong passwords, wrong users, near misses */
  assert_false(verify(&h, "alice", "s3cr3T"));
  assert_false(verify(&h, "alice", "s3cr3t "));
  assert_false(verify(&h, "bob", "b0"));
  assert_false(verify(&h, "carol", "c4r0l\n"));
  assert_false(verify(&h, "erin", "b0b"));
  assert_false(verify(&h, "frank", ""));
  assert_false(verify(&h, "grace", "s3cr3"));
  assert_false(verify(&h, "heidi", "a much longer password of 40 character"));
  assert_false(verify(&h, "ivan", "x"));
  assert_false(verify(&h, "mallory", "s3cr3t"));
  assert_false(verify(&h, "Alice", "s3cr3t"));
  assert_false(tg_htpasswd_verify(&h, "alice", 5, "s3cr3t\0x", 8)); /* NUL inside */
  tg_htpasswd_free(&h);
}

static void test_cache_answers_like_the_hash(void **state) {
  (void)state;
  tg_htpasswd h;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_htpasswd_parse(FILE_TEXT, strlen(FILE_TEXT), 0, &h, &err), TG_OK);
  assert_false(h.entries[0].verified);
  assert_false(verify(&h, "alice", "nope"));
  assert_false(h.entries[0].verified); /* failures are never cached */
  assert_true(verify(&h, "alice", "s3cr3t"));
  assert_true(h.entries[0].verified);
  assert_true(verify(&h, "alice", "s3cr3t")); /* from the cache */
  assert_false(verify(&h, "alice", "nope"));  /* the cache does not widen the match */
  assert_true(verify(&h, "alice", "s3cr3t"));
  tg_htpasswd_free(&h);
}

static void test_md5_crypt_matches_openssl(void **state) {
  (void)state;
  char out[96];
  size_t n = tg_md5_crypt("s3cr3t", 6, "$apr1$", "abcdefgh", 8, out, sizeof out);
  assert_int_equal(n, strlen("$apr1$abcdefgh$W/owtJsS3q.qcvy7Rehe1."));
  assert_string_equal(out, "$apr1$abcdefgh$W/owtJsS3q.qcvy7Rehe1.");
  tg_md5_crypt("s3cr3t", 6, "$1$", "xy", 2, out, sizeof out);
  assert_string_equal(out, "$1$xy$rk/0Lap1SL/TrH5T55m9Q0");
  assert_int_equal(tg_md5_crypt("x", 1, "$1$", "xy", 2, out, 10), 0); /* too small */
}

static void test_plain_only_when_allowed(void **state) {
  (void)state;
  tg_htpasswd h;
  tg_errbuf err = {{0}};
  const char *text = "svc:plain-pass\n";
  assert_int_equal(tg_htpasswd_parse(text, strlen(text), 0, &h, &err), TG_EDECODE);
  assert_non_null(strstr(err.msg, "line 1"));
  assert_null(strstr(err.msg, "plain-pass"));
  assert_int_equal(tg_htpasswd_parse(text, strlen(text), 1, &h, &err), TG_OK);
  assert_int_equal(h.entries[0].scheme, TG_HTPASSWD_PLAIN);
  assert_true(verify(&h, "svc", "plain-pass"));
  assert_false(verify(&h, "svc", "plain-pas"));
  tg_htpasswd_free(&h);
  /* an unknown or malformed scheme is never taken for a plain password */
  assert_int_equal(tg_htpasswd_scheme_of("{SSHA}abcd", 10, 1), -1);
  assert_int_equal(tg_htpasswd_scheme_of("$2y$05$short", 12, 1), -1);
  assert_int_equal(tg_htpasswd_scheme_of("$apr1$salt$tooShort", 19, 1), -1);
  assert_int_equal(tg_htpasswd_scheme_of("$apr1$toolongsalt$v0KquCh9TFW/hZVfZhVdv.", 40, 1), -1);
  assert_int_equal(tg_htpasswd_scheme_of("{SHA}RN2SCjMrGHIhJyD0NLlVRMJXNB=", 32, 1), -1);
  assert_int_equal(tg_htpasswd_scheme_of("", 0, 1), -1);
  /* bounded work per check */
  assert_int_equal(
      tg_htpasswd_scheme_of("$2y$18$cDu29CIZRPrYpjqWfYziQe2XLk71eDc2jrats2xdiNW7jMAwrCUsu", 60, 0),
      -1);
  assert_int_equal(
      tg_htpasswd_scheme_of("$2y$17$cDu29CIZRPrYpjqWfYziQe2XLk71eDc2jrats2xdiNW7jMAwrCUsu", 60, 0),
      TG_HTPASSWD_BCRYPT);
  assert_int_equal(tg_htpasswd_scheme_of("$5$rounds=1000001$salt$abc", 26, 0), -1);
  assert_int_equal(tg_htpasswd_scheme_of("$5$rounds=1000000$salt$abc", 26, 0),
                   TG_HTPASSWD_SHA256CRYPT);
}

static void test_parse_errors(void **state) {
  (void)state;
  tg_htpasswd h;
  tg_errbuf err = {{0}};
  static const struct {
    const char *text;
    const char *msg;
  } bad[] = {
      {"nocolon\n", "line 1: expected user:hash"},
      {":$apr1$q$qnoBAcGhblL0pIKbcxCkt0\n", "line 1: expected user:hash"},
      {"# c\nbob:$apr1$q$qnoBAcGhblL0pIKbcxCkt0\nbob:{SHA}RN2SCjMrGHIhJyD0NLlVRMJXNBM=\n",
       "line 3: user listed twice"},
      {"b\tb:{SHA}RN2SCjMrGHIhJyD0NLlVRMJXNBM=\n", "line 1: control character"},
      {"x:abcdefghijk\n", "line 1: unsupported"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(tg_htpasswd_parse(bad[i].text, strlen(bad[i].text), 0, &h, &err),
                     TG_EDECODE);
    assert_non_null(strstr(err.msg, bad[i].msg));
    assert_int_equal(h.n, 0);
  }
  /* an empty file is a valid, empty table that lets nobody in */
  assert_int_equal(tg_htpasswd_parse("", 0, 0, &h, &err), TG_OK);
  assert_false(verify(&h, "", ""));
  tg_htpasswd_free(&h);
}

static void test_merge(void **state) {
  (void)state;
  tg_htpasswd a, b, c;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_htpasswd_parse("svc:pw\n", 7, 1, &a, &err), TG_OK);
  assert_int_equal(tg_htpasswd_parse(FILE_TEXT, strlen(FILE_TEXT), 0, &b, &err), TG_OK);
  assert_int_equal(tg_htpasswd_merge(&a, &b, &err), TG_OK);
  assert_int_equal(a.n, 10);
  assert_true(verify(&a, "svc", "pw"));
  assert_true(verify(&a, "bob", "b0b"));
  assert_int_equal(tg_htpasswd_parse("bob:pw\n", 7, 1, &c, &err), TG_OK);
  assert_int_equal(tg_htpasswd_merge(&a, &c, &err), TG_EDECODE);
  tg_htpasswd_free(&c);
  tg_htpasswd_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_format_verifies),
      cmocka_unit_test(test_cache_answers_like_the_hash),
      cmocka_unit_test(test_md5_crypt_matches_openssl),
      cmocka_unit_test(test_plain_only_when_allowed),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
