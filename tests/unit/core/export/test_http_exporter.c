/* The libcurl exporters' shared rules (core/tg_http_exporter.h): the collector URL rule
 * (default path appended only when the endpoint has none; scheme, host and characters
 * checked, with the exact messages the exporters always gave), the strict header rule,
 * the status classification, and a worker's life (new, abort, fini; fini of NULL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_http_exporter.h"

static void expect_url(const char *endpoint, const char *want) {
  tg_errbuf err;
  char *url = tg_http_exporter_url(endpoint, "/api/v2/spans", "http://host:9411/api/v2/spans",
                                   &err);
  assert_non_null(url);
  assert_string_equal(url, want);
  tg_free(url);
}

static void expect_url_error(const char *endpoint, const char *msg) {
  tg_errbuf err;
  char *url = tg_http_exporter_url(endpoint, "/api/traces", "http://host:14268/api/traces", &err);
  assert_null(url);
  assert_string_equal(err.msg, msg);
}

static void test_url(void **state) {
  (void)state;
  expect_url("http://z:9411", "http://z:9411/api/v2/spans");
  expect_url("https://z", "https://z/api/v2/spans");
  expect_url("http://z:9411/", "http://z:9411/");
  expect_url("http://z:9411/custom/path", "http://z:9411/custom/path");
  expect_url_error(NULL, "endpoint is required (http://host:14268/api/traces)");
  expect_url_error("", "endpoint is required (http://host:14268/api/traces)");
  expect_url_error("ftp://z",
                   "endpoint \"ftp://z\": expected an http:// or https:// URL with a host");
  expect_url_error("http://", "endpoint \"http://\": expected an http:// or https:// URL "
                              "with a host");
  expect_url_error("http:///x",
                   "endpoint \"http:///x\": expected an http:// or https:// URL with a host");
  expect_url_error("http://z/a b", "endpoint \"http://z/a b\": no spaces or control characters");
  expect_url_error("http://z/\x7f", "endpoint \"http://z/\x7f\": no spaces or control characters");
}

static void test_header_problem(void **state) {
  (void)state;
  assert_non_null(tg_http_exporter_header_problem("Content-Type", "text/plain"));
  assert_non_null(tg_http_exporter_header_problem("content-length", "3"));
  assert_null(tg_http_exporter_header_problem("X-Tenant", "a"));
  /* what tg_http_header_problem refuses stays refused */
  assert_non_null(tg_http_exporter_header_problem("bad key", "a"));
  assert_non_null(tg_http_exporter_header_problem("X-Ok", "a\nb"));
}

static void test_status(void **state) {
  (void)state;
  tg_http_client http;
  memset(&http, 0, sizeof http);
  tg_buf_init(&http.body, 0);
  assert_int_equal(tg_buf_append(&http.body, "busy\n", 5), TG_OK);
  http.retry_after_ms = 7000;
  static const struct {
    long code;
    tg_send_result want;
  } cases[] = {{200, TG_SEND_OK},        {202, TG_SEND_OK},        {299, TG_SEND_OK},
               {429, TG_SEND_RETRYABLE}, {502, TG_SEND_RETRYABLE}, {503, TG_SEND_RETRYABLE},
               {504, TG_SEND_RETRYABLE}, {500, TG_SEND_PERMANENT}, {400, TG_SEND_PERMANENT},
               {404, TG_SEND_PERMANENT}, {301, TG_SEND_PERMANENT}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_send_outcome out;
    memset(&out, 0, sizeof out);
    assert_int_equal(tg_http_exporter_status(&http, cases[i].code, &out), cases[i].want);
    assert_int_equal(out.retry_after_ms, cases[i].want == TG_SEND_RETRYABLE ? 7000 : 0);
    if (cases[i].want == TG_SEND_OK) {
      assert_string_equal(out.detail, "");
    } else {
      char want[64];
      snprintf(want, sizeof want, "HTTP %ld: busy?", cases[i].code);
      assert_string_equal(out.detail, want);
    }
  }
  tg_buf_free(&http.body);
}

static void test_worker(void **state) {
  (void)state;
  assert_null(tg_http_global_init());
  tg_http_tls_conf tls = {0};
  const tg_http_client_opts opts = {
      .url = "http://127.0.0.1:9/",
      .timeout_ms = 1000,
      .tls = &tls,
      .max_body = 16,
  };
  typedef struct {
    tg_http_worker base;
    int extra;
  } bigger;
  bigger *w = tg_http_worker_new(sizeof(bigger), &opts);
  assert_non_null(w);
  assert_int_equal(w->extra, 0);
  assert_int_equal(w->base.body.len, 0);
  assert_int_equal(tg_buf_append(&w->base.body, "x", 1), TG_OK);
  tg_http_worker_abort(NULL, w);
  tg_http_worker_fini(NULL, w);
  tg_http_worker_fini(NULL, NULL);
  assert_null(tg_http_worker_new(sizeof(tg_http_worker) - 1, &opts));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url),
      cmocka_unit_test(test_header_problem),
      cmocka_unit_test(test_status),
      cmocka_unit_test(test_worker),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
