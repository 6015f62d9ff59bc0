/* bearertokenauth's token set: the file parser (comments, blanks, CRLF, limits, errors
 * that name the line and never the token) and constant-time matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "extensions/bearertokenauth/bearer_tokens.h"
#include "tg_alloc.h"
#include "tg_auth.h"

static void test_parse_lines(void **state) {
  (void)state;
  const char *text = "# rotation: old and new\n\n  old-token-1 \r\nnew.token~2+/=\n\t# x\n";
  tg_bearer_tokens t;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_bearer_tokens_parse(text, strlen(text), &t, &err), TG_OK);
  assert_int_equal(t.n, 2);
  assert_string_equal(t.items[0], "old-token-1");
  assert_int_equal(t.lens[0], 11);
  assert_string_equal(t.items[1], "new.token~2+/=");
  assert_true(tg_bearer_tokens_match(&t, "old-token-1", 11));
  assert_true(tg_bearer_tokens_match(&t, "new.token~2+/=", 14));
  assert_false(tg_bearer_tokens_match(&t, "old-token-", 10));  /* prefix */
  assert_false(tg_bearer_tokens_match(&t, "old-token-12", 12)); /* longer */
  assert_false(tg_bearer_tokens_match(&t, "OLD-TOKEN-1", 11));  /* case matters */
  assert_false(tg_bearer_tokens_match(&t, "", 0));
  tg_bearer_tokens_free(&t);
  assert_int_equal(t.n, 0);
}

static void test_last_line_without_newline(void **state) {
  (void)state;
  tg_bearer_tokens t;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_bearer_tokens_parse("abc", 3, &t, &err), TG_OK);
  assert_int_equal(t.n, 1);
  assert_true(tg_bearer_tokens_match(&t, "abc", 3));
  tg_bearer_tokens_free(&t);
}

static void test_errors_name_the_line_not_the_token(void **state) {
  (void)state;
  tg_bearer_tokens t;
  tg_errbuf err = {{0}};
  const char *spaced = "good\nsecret with-space\n";
  assert_int_equal(tg_bearer_tokens_parse(spaced, strlen(spaced), &t, &err), TG_EDECODE);
  assert_non_null(strstr(err.msg, "line 2"));
  assert_null(strstr(err.msg, "secret"));
  assert_int_equal(t.n, 0);
  const char nul[] = "ab\0cd\n";
  assert_int_equal(tg_bearer_tokens_parse(nul, sizeof nul - 1, &t, &err), TG_EDECODE);
  assert_int_equal(tg_bearer_tokens_parse("# only\n\n", 8, &t, &err), TG_EDECODE);
  assert_non_null(strstr(err.msg, "no token"));
  char ctl[] = "tok\x01x\n";
  assert_int_equal(tg_bearer_tokens_parse(ctl, strlen(ctl), &t, &err), TG_EDECODE);
}

static void test_limits(void **state) {
  (void)state;
  tg_bearer_tokens t;
  tg_errbuf err = {{0}};
  size_t long_len = TG_BEARER_MAX_TOKEN_LEN + 1;
  char *long_tok = tg_malloc(long_len + 1);
  memset(long_tok, 'a', long_len);
  long_tok[long_len] = '\0';
  assert_int_equal(tg_bearer_tokens_parse(long_tok, long_len, &t, &err), TG_ETOOBIG);
  assert_int_equal(tg_bearer_tokens_parse(long_tok, long_len - 1, &t, &err), TG_OK);
  tg_bearer_tokens_free(&t);
  tg_free(long_tok);
  /* TG_BEARER_MAX_TOKENS + 1 lines "tNNNN" */
  size_t n = TG_BEARER_MAX_TOKENS + 1;
  char *many = tg_malloc(n * 8 + 1);
  size_t used = 0;
  for (size_t i = 0; i < n; i++)
    used += (size_t)sprintf(many + used, "t%05zu\n", i);
  assert_int_equal(tg_bearer_tokens_parse(many, used, &t, &err), TG_ETOOBIG);
  assert_non_null(strstr(err.msg, "line 1025"));
  assert_int_equal(tg_bearer_tokens_parse(many, used - 7, &t, &err), TG_OK);
  assert_int_equal(t.n, TG_BEARER_MAX_TOKENS);
  assert_true(tg_bearer_tokens_match(&t, "t01023", 6));
  assert_false(tg_bearer_tokens_match(&t, "t01024", 6));
  tg_bearer_tokens_free(&t);
  tg_free(many);
}

static void test_secret_equal(void **state) {
  (void)state;
  assert_true(tg_auth_secret_equal("abc", 3, "abc", 3));
  assert_false(tg_auth_secret_equal("abc", 3, "abd", 3));
  assert_false(tg_auth_secret_equal("abc", 3, "abc", 2));
  assert_false(tg_auth_secret_equal("abc", 3, "abc\0", 4));
  assert_true(tg_auth_secret_equal("", 0, "", 0));
  assert_true(tg_auth_secret_equal(NULL, 0, "", 0));
}

static void test_header_credentials(void **state) {
  (void)state;
  tg_http_header h[] = {{"content-type", "x"}, {"authorization", "  bearer   tok-1  "}};
  tg_http_request req = {.headers = h, .n_headers = 2};
  const char *cred;
  size_t len;
  assert_int_equal(tg_auth_header_credentials(&req, NULL, "Bearer", &cred, &len), 1);
  assert_int_equal(len, 5);
  assert_memory_equal(cred, "tok-1", 5);
  assert_int_equal(tg_auth_header_credentials(&req, "authorization", "Basic", &cred, &len), 0);
  assert_int_equal(tg_auth_header_credentials(&req, "x-api-key", "", &cred, &len), 0);
  h[1].value = "Bearertok"; /* no separator: not the Bearer scheme */
  assert_int_equal(tg_auth_header_credentials(&req, NULL, "Bearer", &cred, &len), 0);
  h[1].value = "Bearer   ";
  assert_int_equal(tg_auth_header_credentials(&req, NULL, "Bearer", &cred, &len), 0);
  h[1].value = "raw-key";
  assert_int_equal(tg_auth_header_credentials(&req, NULL, "", &cred, &len), 1);
  assert_int_equal(len, 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_lines),
      cmocka_unit_test(test_last_line_without_newline),
      cmocka_unit_test(test_errors_name_the_line_not_the_token),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_secret_equal),
      cmocka_unit_test(test_header_credentials),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
