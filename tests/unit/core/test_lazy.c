/* tg_lazy_lib, tg_lazy_grpc, tg_lazy_curl: the loaders of the libraries tailgate dlopens.
 * The error texts name the soname and the loader's reason; the first missing symbol is the
 * one reported; before a load the tables are empty, after it the macro-redirected calls
 * reach the real libraries (answers checked against values the libraries document). This
 * executable does not link libgrpc or libcurl, so the loads below are real dlopens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_lazy_curl.h"
#include "tg_lazy_grpc.h"
#include "tg_lazy_lib.h"
#include "tg_sonames.h"

static void test_open_missing_library(void **state) {
  (void)state;
  char why[256] = "";
  assert_null(tg_lazy_lib_open("libtg-no-such-library.so.7", why, sizeof why, "cannot load x"));
  assert_string_equal(why, "cannot load x: libtg-no-such-library.so.7: cannot open shared "
                           "object file: No such file or directory");
}

static void test_missing_symbol_first_one_reported(void **state) {
  (void)state;
  char why[256] = "";
  void *h = tg_lazy_lib_open("libc.so.6", why, sizeof why, "p");
  assert_non_null(h);
  assert_string_equal(why, "");
  size_t (*len)(const char *) = (size_t(*)(const char *))tg_lazy_lib_sym(h, "strlen", why, sizeof why, "p");
  assert_non_null(len);
  assert_int_equal(len("four"), 4);
  assert_string_equal(why, "");
  assert_null(tg_lazy_lib_sym(h, "tg_no_such_symbol_1", why, sizeof why, "p"));
  assert_null(tg_lazy_lib_sym(h, "tg_no_such_symbol_2", why, sizeof why, "p"));
  assert_string_equal(why, "p: symbol tg_no_such_symbol_1 missing");
}

static void test_tables_empty_before_load(void **state) {
  (void)state;
  /* The names expand to the table members (tg_lazy_grpc()->grpc_init, ...). */
  assert_true(grpc_init == NULL);
  assert_true(gpr_free == NULL);
  assert_true(curl_easy_init == NULL);
  curl_slist_free_all(NULL); /* the one call allowed without the library */
}

static void test_sonames(void **state) {
  (void)state;
  assert_int_equal(strncmp(TG_GRPC_SONAME, "libgrpc.so.", 11), 0);
  assert_int_equal(strncmp(TG_CURL_SONAME, "libcurl.so.", 11), 0);
}

static void test_grpc_loads_and_calls_reach_it(void **state) {
  (void)state;
  assert_null(tg_lazy_grpc_load());
  assert_null(tg_lazy_grpc_load()); /* once; the same outcome again */
  assert_true(grpc_tls_identity_pairs_create != NULL);
  assert_true(grpc_init != NULL);
  gpr_timespec t = gpr_time_from_millis(1500, GPR_TIMESPAN);
  assert_int_equal(t.tv_sec, 1);
  assert_int_equal(t.tv_nsec, 500000000);
  grpc_slice s = grpc_slice_from_copied_string("abcdef");
  assert_int_equal(GRPC_SLICE_LENGTH(s), 6);
  assert_int_equal(grpc_slice_str_cmp(s, "abcdef"), 0);
  char *c = grpc_slice_to_c_string(s);
  assert_string_equal(c, "abcdef");
  gpr_free(c);
  grpc_slice_unref(s);
}

static void test_curl_loads_and_calls_reach_it(void **state) {
  (void)state;
  assert_null(tg_lazy_curl_load());
  assert_string_equal(curl_easy_strerror(CURLE_OK), "No error");
  /* RFC 9110's example date */
  assert_int_equal(curl_getdate("Sun, 06 Nov 1994 08:49:37 GMT", NULL), 784111777);
  struct curl_slist *l = curl_slist_append(NULL, "A: 1");
  l = curl_slist_append(l, "B: 2");
  assert_string_equal(l->data, "A: 1");
  assert_string_equal(l->next->data, "B: 2");
  assert_null(l->next->next);
  curl_slist_free_all(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_missing_library),
      cmocka_unit_test(test_missing_symbol_first_one_reported),
      cmocka_unit_test(test_tables_empty_before_load),
      cmocka_unit_test(test_sonames),
      cmocka_unit_test(test_grpc_loads_and_calls_reach_it),
      cmocka_unit_test(test_curl_loads_and_calls_reach_it),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
