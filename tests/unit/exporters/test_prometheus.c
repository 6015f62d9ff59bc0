/* prometheus exporter rendering: the exact text 0.0.4 and OpenMetrics 1.0 output for a
 * fixed source (suffixes, cumulative buckets, inclusive le, label escaping, exemplars and
 * # EOF only in OpenMetrics, const labels and namespace), number formatting, and the
 * Accept negotiation with the header Prometheus really sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_source.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_error.h"
#include "tg_gzip.h"
#include "../../../exporters/prometheus/prom_gzip.h"
#include "../../../exporters/prometheus/prom_render.h"

static char *render(tg_prom_format fmt, const char *prefix, const char *konst) {
  const tg_metric_source *srcs[] = {&fake_source};
  tg_prom_render_opts o = {fmt, prefix, konst};
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_prom_render(srcs, 1, &o, &b), 0);
  tg_buf_append(&b, "", 1);
  return (char *)b.data;
}

static void test_text_format(void **state) {
  (void)state;
  char *s = render(TG_PROM_TEXT, NULL, NULL);
  assert_string_equal(s,
      "# HELP rpc_calls_total Calls.\n"
      "# TYPE rpc_calls_total counter\n"
      "rpc_calls_total{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 7\n"
      "rpc_calls_total 1\n"
      "# HELP rpc_duration_milliseconds Durations.\n"
      "# TYPE rpc_duration_milliseconds histogram\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"2\"} 1\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"4.5\"} 1\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"+Inf\"} 3\n"
      "rpc_duration_milliseconds_sum{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 10.5\n"
      "rpc_duration_milliseconds_count{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 3\n");
  tg_free(s);
}

static void test_openmetrics_format(void **state) {
  (void)state;
  char *s = render(TG_PROM_OPENMETRICS, NULL, NULL);
  assert_string_equal(s,
      "# HELP rpc_calls Calls.\n"
      "# TYPE rpc_calls counter\n"
      "rpc_calls_total{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 7 "
      "# {trace_id=\"ab000000000000000000000000000001\",span_id=\"cd00000000000002\"} 3.25 1700000000.123\n"
      "rpc_calls_total 1\n"
      "# HELP rpc_duration_milliseconds Durations.\n"
      "# TYPE rpc_duration_milliseconds histogram\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"2.0\"} 1\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"4.5\"} 1 "
      "# {trace_id=\"ab000000000000000000000000000001\",span_id=\"cd00000000000002\"} 3.25 1700000000.123\n"
      "rpc_duration_milliseconds_bucket{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\",le=\"+Inf\"} 3\n"
      "rpc_duration_milliseconds_sum{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 10.5\n"
      "rpc_duration_milliseconds_count{service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"} 3\n"
      "# EOF\n");
  tg_free(s);
}

static void test_prefix_and_const_labels(void **state) {
  (void)state;
  char *s = render(TG_PROM_TEXT, "ns_", "env=\"prod\"");
  assert_non_null(strstr(s, "# TYPE ns_rpc_calls_total counter\n"));
  assert_non_null(strstr(s, "ns_rpc_calls_total{env=\"prod\",service_name=\"a\\\"b\","));
  assert_non_null(strstr(s, "ns_rpc_calls_total{env=\"prod\"} 1\n"));
  assert_non_null(strstr(s, "span_kind=\"SPAN_KIND_SERVER\",le=\"+Inf\"} 3\n"));
  tg_free(s);
}

static void test_numbers(void **state) {
  (void)state;
  const struct { double v; int om; const char *want; } cases[] = {
      {2, 0, "2"}, {2, 1, "2.0"}, {0.005, 0, "0.005"}, {0.1, 1, "0.1"}, {1e21, 1, "1e+21"},
      {0.1 + 0.2, 0, "0.30000000000000004"}, {-3, 0, "-3"}, {1.0 / 0.0, 1, "+Inf"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_buf b;
    tg_buf_init(&b, 0);
    tg_prom_append_double(&b, cases[i].v, cases[i].om);
    tg_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, cases[i].want);
    tg_buf_free(&b);
  }
}

static void test_negotiation(void **state) {
  (void)state;
  /* what Prometheus 2.42 sends */
  assert_int_equal(tg_prom_negotiate("application/openmetrics-text;version=1.0.0,"
                                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                   TG_PROM_OPENMETRICS);
  assert_int_equal(tg_prom_negotiate(NULL), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("*/*"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("text/plain;version=0.0.4"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("application/openmetrics-text; version=1.0.0; q=0.2, "
                                     "text/plain; q=0.9"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("application/openmetrics-text;q=0"), TG_PROM_TEXT);
  assert_int_equal(tg_prom_negotiate("Application/OpenMetrics-Text"), TG_PROM_OPENMETRICS);
}

static void test_output_limit(void **state) {
  (void)state;
  const tg_metric_source *srcs[] = {&fake_source};
  tg_prom_render_opts o = {TG_PROM_TEXT, NULL, NULL};
  tg_buf b;
  tg_buf_init(&b, 100); /* far too small: a clean error, not an overrun */
  assert_int_equal(tg_prom_render(srcs, 1, &o, &b), TG_ETOOBIG);
  assert_true(b.len <= 100);
  tg_buf_free(&b);
}

static void test_gzip_round_trip(void **state) {
  (void)state;
  char *s = render(TG_PROM_OPENMETRICS, NULL, NULL);
  tg_buf gz, back;
  tg_buf_init(&gz, 0);
  tg_buf_init(&back, 0);
  assert_int_equal(tg_prom_gzip((const uint8_t *)s, strlen(s), &gz), TG_OK);
  assert_true(gz.len > 18 && gz.data[0] == 0x1f && gz.data[1] == 0x8b); /* a gzip member */
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len, 1 << 20, &back), TG_OK);
  assert_int_equal(back.len, strlen(s));
  assert_memory_equal(back.data, s, back.len);
  tg_buf_free(&gz);
  tg_buf_free(&back);
  tg_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_format),
      cmocka_unit_test(test_openmetrics_format),
      cmocka_unit_test(test_prefix_and_const_labels),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_negotiation),
      cmocka_unit_test(test_output_limit),
      cmocka_unit_test(test_gzip_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
