/* jaegerremotesampling handlers, driven without sockets: the query-string rules (one
 * service, percent-decoding, bounds), the HTTP and gRPC answers (the bytes encoded at
 * load), refusals, and the bounded per-service request series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "extensions/jaegerremotesampling/jrs.h"
#include "sampling.pb-c.h"
#include "tg_metrics.h"

static void expect_service(const char *query, const char *want) {
  char out[TG_JRS_MAX_SERVICE_LEN + 1];
  const char *why = NULL;
  long n = tg_jrs_query_service(query, out, &why);
  if (n < 0)
    fail_msg("query %s refused: %s", query, why);
  assert_int_equal((size_t)n, strlen(want));
  assert_memory_equal(out, want, (size_t)n);
}

static void expect_refused(const char *query, const char *why_want) {
  char out[TG_JRS_MAX_SERVICE_LEN + 1];
  const char *why = NULL;
  assert_int_equal(tg_jrs_query_service(query, out, &why), -1);
  assert_string_equal(why, why_want);
}

static void test_query_rules(void **state) {
  (void)state;
  expect_service("service=foo", "foo");
  expect_service("a=1&service=foo&b=2", "foo");
  expect_service("service=my%20svc", "my svc");
  expect_service("service=a+b", "a b");
  expect_service("service=%C3%A9", "\xc3\xa9");
  expect_service("services=x&service=y", "y");
  char q[300] = "service=";
  memset(q + 8, 'x', 256);
  q[264] = '\0';
  char want[257];
  memset(want, 'x', 256);
  want[256] = '\0';
  expect_service(q, want);
  strcat(q, "x");
  expect_refused(q, "'service' parameter is longer than 256 bytes");
  expect_refused(NULL, "'service' parameter must be provided once");
  expect_refused("", "'service' parameter must be provided once");
  expect_refused("svc=foo", "'service' parameter must be provided once");
  expect_refused("service=", "'service' parameter must not be empty");
  expect_refused("service", "'service' parameter must not be empty");
  expect_refused("service=a&service=b", "'service' parameter must be provided once");
  expect_refused("service=a%2", "'service' parameter is not valid percent-encoding");
  expect_refused("service=a%zz", "'service' parameter is not valid percent-encoding");
  expect_refused("service=%ff", "'service' parameter is not UTF-8");
  expect_refused("service=a%00b", "'service' parameter is not UTF-8");
}

typedef struct fixture {
  tg_metrics *reg;
  tg_jrs jrs;
} fixture;

static int setup(void **state) {
  static fixture f;
  memset(&f, 0, sizeof f);
  f.reg = tg_metrics_new();
  const char *text = "{\"service_strategies\": [{\"service\": \"bar\", \"type\": \"ratelimiting\", "
                     "\"param\": 5}]}";
  tg_diag diag;
  tg_diag_init(&diag);
  f.jrs.strategies = tg_jrs_strategies_parse(text, strlen(text), "t.json", &diag);
  tg_diag_free(&diag);
  assert_non_null(f.jrs.strategies);
  assert_int_equal(tg_jrs_metrics_init(&f.jrs, f.reg, "jaegerremotesampling"), TG_OK);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tg_jrs_strategies_free(f->jrs.strategies);
  tg_jrs_metrics_free(&f->jrs);
  tg_metrics_free(f->reg);
  return 0;
}

static void http_get(tg_jrs *jrs, const char *query, tg_http_response *resp) {
  tg_http_request req = {.method = "GET", .path = "/sampling", .query = query};
  memset(resp, 0, sizeof *resp);
  tg_buf_init(&resp->body, 0);
  tg_jrs_http_handle(jrs, &req, resp);
}

static char *render(tg_metrics *reg) {
  static char text[65536];
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_metrics_render(reg, &b), TG_OK);
  snprintf(text, sizeof text, "%s", (char *)b.data);
  tg_buf_free(&b);
  return text;
}

static void test_http_answers(void **state) {
  fixture *f = *state;
  tg_http_response resp;
  http_get(&f->jrs, "service=bar", &resp);
  assert_int_equal(resp.status, 200);
  assert_string_equal(resp.content_type, "application/json");
  assert_string_equal((char *)resp.body.data, "{\"strategyType\":\"RATE_LIMITING\","
                                              "\"rateLimitingSampling\":{\"maxTracesPerSecond\":5}}");
  tg_buf_free(&resp.body);
  http_get(&f->jrs, "service=other", &resp);
  assert_int_equal(resp.status, 200);
  assert_string_equal((char *)resp.body.data, "{\"strategyType\":\"PROBABILISTIC\","
                                              "\"probabilisticSampling\":{\"samplingRate\":1}}");
  tg_buf_free(&resp.body);
  http_get(&f->jrs, NULL, &resp);
  assert_int_equal(resp.status, 400);
  assert_string_equal((char *)resp.body.data, "'service' parameter must be provided once\n");
  tg_buf_free(&resp.body);
  const char *m = render(f->reg);
  assert_non_null(strstr(m, "tailgate_extension_jaegerremotesampling_requests_total{extension=\""
                            "jaegerremotesampling\",service=\"bar\",transport=\"http\"} 1\n"));
  assert_non_null(strstr(m, "tailgate_extension_jaegerremotesampling_requests_total{extension=\""
                            "jaegerremotesampling\",service=\"other\",transport=\"http\"} 1\n"));
  assert_non_null(strstr(m, "tailgate_extension_jaegerremotesampling_bad_requests_total{extension=\""
                            "jaegerremotesampling\",transport=\"http\"} 1\n"));
}

static void grpc_call(tg_jrs *jrs, const char *service, tg_http_response *resp) {
  Jaeger__ApiV2__SamplingStrategyParameters p = JAEGER__API_V2__SAMPLING_STRATEGY_PARAMETERS__INIT;
  p.servicename = (char *)service;
  uint8_t buf[512];
  size_t n = jaeger__api_v2__sampling_strategy_parameters__pack(&p, buf);
  tg_http_request req = {.method = "POST", .path = TG_JRS_GRPC_PATH, .body = buf, .body_len = n,
                         .grpc = 1};
  memset(resp, 0, sizeof *resp);
  tg_buf_init(&resp->body, 0);
  tg_jrs_grpc_handle(jrs, &req, resp);
}

static void test_grpc_answers(void **state) {
  fixture *f = *state;
  tg_http_response resp;
  grpc_call(&f->jrs, "bar", &resp);
  assert_int_equal(resp.grpc_status, 0);
  const tg_jrs_response *bar = tg_jrs_strategies_find(f->jrs.strategies, "bar", 3);
  assert_int_equal(resp.body.len, bar->pb_len);
  assert_memory_equal(resp.body.data, bar->pb, bar->pb_len);
  tg_buf_free(&resp.body);
  grpc_call(&f->jrs, "", &resp);
  assert_int_equal(resp.grpc_status, 3);
  assert_string_equal(resp.grpc_message, "serviceName must not be empty");
  tg_buf_free(&resp.body);
  /* a body that is not a SamplingStrategyParameters */
  static const uint8_t junk[] = {0x0a, 0x05, 'a'};
  tg_http_request req = {.method = "POST", .path = TG_JRS_GRPC_PATH, .body = junk,
                         .body_len = sizeof junk, .grpc = 1};
  memset(&resp, 0, sizeof resp);
  tg_buf_init(&resp.body, 0);
  tg_jrs_grpc_handle(&f->jrs, &req, &resp);
  assert_int_equal(resp.grpc_status, 3);
  assert_string_equal(resp.grpc_message, "malformed SamplingStrategyParameters");
  tg_buf_free(&resp.body);
  const char *m = render(f->reg);
  assert_non_null(strstr(m, "service=\"bar\",transport=\"grpc\"} 1\n"));
  assert_non_null(strstr(m, "tailgate_extension_jaegerremotesampling_bad_requests_total{extension=\""
                            "jaegerremotesampling\",transport=\"grpc\"} 2\n"));
}

static void test_series_are_bounded(void **state) {
  fixture *f = *state;
  tg_http_response resp;
  char q[64];
  for (int i = 0; i < TG_JRS_MAX_SERVICE_SERIES + 20; i++) {
    snprintf(q, sizeof q, "service=svc-%d", i);
    http_get(&f->jrs, q, &resp);
    assert_int_equal(resp.status, 200);
    tg_buf_free(&resp.body);
  }
  assert_int_equal(f->jrs.n_series, TG_JRS_MAX_SERVICE_SERIES);
  const char *m = render(f->reg);
  assert_non_null(strstr(m, "service=\"svc-99\",transport=\"http\"} 1\n"));
  assert_null(strstr(m, "service=\"svc-100\""));
  assert_non_null(strstr(m, "service=\"_other\",transport=\"http\"} 20\n"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query_rules),
      cmocka_unit_test_setup_teardown(test_http_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grpc_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_series_are_bounded, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
