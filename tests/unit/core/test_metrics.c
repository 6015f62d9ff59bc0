/* Self-metrics registry: families, series, escaping, rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_metrics.h"

static void collect(void *ctx, tg_buf *out) {
  tg_buf_appendf(out, "# TYPE extra gauge\nextra %d\n", *(int *)ctx);
}

static void test_render_text_format(void **state) {
  (void)state;
  tg_metrics *reg = tg_metrics_new();
  const char *labels[] = {"receiver", "transport", NULL};
  tg_metric_family *f = tg_metrics_family(reg, "tailgate_receiver_accepted_spans_total",
                                          "Spans accepted.", TG_METRIC_COUNTER, labels);
  assert_non_null(f);
  const char *v1[] = {"otlp", "grpc"};
  const char *v2[] = {"otlp/\"x\"\\", "http"};
  tg_metric_cell *c1 = tg_metrics_series(f, v1);
  tg_metric_cell *c2 = tg_metrics_series(f, v2);
  assert_ptr_equal(c1, tg_metrics_series(f, v1));
  assert_ptr_not_equal(c1, c2);
  tg_metric_add(c1, 5);
  tg_metric_add(c1, 2);
  tg_metric_add(c2, 1);
  /* Same name with different labels is refused. */
  assert_null(tg_metrics_family(reg, "tailgate_receiver_accepted_spans_total", "x",
                                TG_METRIC_COUNTER, NULL));
  int extra = 42;
  tg_metrics_add_collector(reg, collect, &extra);
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  const char *want =
      "# HELP tailgate_receiver_accepted_spans_total Spans accepted.\n"
      "# TYPE tailgate_receiver_accepted_spans_total counter\n"
      "tailgate_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 7\n"
      "tailgate_receiver_accepted_spans_total{receiver=\"otlp/\\\"x\\\"\\\\\",transport=\"http\"} 1\n"
      "# TYPE extra gauge\nextra 42\n";
  assert_string_equal((char *)out.data, want);
  tg_buf_free(&out);
  tg_metrics_free(reg);
}

/* Histograms render cumulative buckets with le, _sum (nine decimals) and _count; a value
 * equal to a bound falls in that bucket (le = less or equal). */
static void test_histogram(void **state) {
  (void)state;
  tg_metrics *reg = tg_metrics_new();
  const char *labels[] = {"exporter", NULL};
  const double bounds[] = {0.001, 0.01, 1};
  const double bad[] = {0.01, 0.001};
  assert_null(tg_metrics_histogram_family(reg, "h_bad_seconds", "x", labels, bad, 2));
  tg_metric_family *f =
      tg_metrics_histogram_family(reg, "send_duration_seconds", "Send time.", labels, bounds, 3);
  assert_non_null(f);
  /* same name, other bounds: refused; same everything: the same family */
  assert_null(tg_metrics_histogram_family(reg, "send_duration_seconds", "x", labels, bounds, 2));
  assert_ptr_equal(f, tg_metrics_histogram_family(reg, "send_duration_seconds", "x", labels,
                                                  bounds, 3));
  assert_null(tg_metrics_series(f, (const char *[]){"otlp"})); /* not a counter */
  tg_metric_histogram *h = tg_metrics_histogram_series(f, (const char *[]){"otlp"});
  assert_non_null(h);
  tg_metric_observe(h, 0.0005);
  tg_metric_observe(h, 0.001);
  tg_metric_observe(h, 0.5);
  tg_metric_observe(h, 3);
  tg_metric_observe(NULL, 1); /* no-op */
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  assert_string_equal((char *)out.data,
                      "# HELP send_duration_seconds Send time.\n"
                      "# TYPE send_duration_seconds histogram\n"
                      "send_duration_seconds_bucket{exporter=\"otlp\",le=\"0.001\"} 2\n"
                      "send_duration_seconds_bucket{exporter=\"otlp\",le=\"0.01\"} 2\n"
                      "send_duration_seconds_bucket{exporter=\"otlp\",le=\"1\"} 3\n"
                      "send_duration_seconds_bucket{exporter=\"otlp\",le=\"+Inf\"} 4\n"
                      "send_duration_seconds_sum{exporter=\"otlp\"} 3.501500000\n"
                      "send_duration_seconds_count{exporter=\"otlp\"} 4\n");
  tg_buf_free(&out);
  /* below detailed, histograms are left out */
  tg_metrics_set_level(reg, TG_MLEVEL_NORMAL);
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  assert_int_equal(out.len, 0);
  tg_buf_free(&out);
  tg_metrics_free(reg);
}

/* A bounded family keeps max_series named series and counts the rest, and the overflow
 * value itself, in one overflow series rendered last. */
static void test_bounded_family(void **state) {
  (void)state;
  tg_metrics *reg = tg_metrics_new();
  const char *labels[] = {"service_name", NULL};
  tg_metric_family *f = tg_metrics_family(reg, "svc_total", "Per service.", TG_METRIC_COUNTER,
                                          labels);
  assert_int_equal(tg_metrics_family_bound(f, 2, "_overflow_"), 0);
  tg_metric_cell *a = tg_metrics_series(f, (const char *[]){"a"});
  tg_metric_cell *o1 = tg_metrics_series(f, (const char *[]){"_overflow_"});
  tg_metric_cell *b = tg_metrics_series(f, (const char *[]){"b"});
  tg_metric_cell *c = tg_metrics_series(f, (const char *[]){"c"});
  tg_metric_cell *d = tg_metrics_series(f, (const char *[]){"d"});
  assert_ptr_not_equal(a, b);
  assert_ptr_equal(c, d);
  assert_ptr_equal(c, o1);
  assert_ptr_equal(a, tg_metrics_series(f, (const char *[]){"a"}));
  tg_metric_add(a, 1);
  tg_metric_add(b, 2);
  tg_metric_add(c, 3);
  tg_metric_add(d, 4);
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  assert_string_equal((char *)out.data,
                      "# HELP svc_total Per service.\n# TYPE svc_total counter\n"
                      "svc_total{service_name=\"a\"} 1\n"
                      "svc_total{service_name=\"b\"} 2\n"
                      "svc_total{service_name=\"_overflow_\"} 7\n");
  tg_buf_free(&out);
  tg_metrics_free(reg);
}

/* Levels: basic families stay at basic, other counters need normal; none hides all. */
static void test_levels(void **state) {
  (void)state;
  assert_int_equal(tg_metrics_family_level("tailgate_receiver_accepted_spans_total",
                                           TG_METRIC_COUNTER),
                   TG_MLEVEL_BASIC);
  assert_int_equal(tg_metrics_family_level("tailgate_exporter_queue_size", TG_METRIC_GAUGE),
                   TG_MLEVEL_BASIC);
  assert_int_equal(tg_metrics_family_level("tailgate_service_received_spans_total",
                                           TG_METRIC_COUNTER),
                   TG_MLEVEL_NORMAL);
  assert_int_equal(tg_metrics_family_level("tailgate_receiver_request_duration_seconds",
                                           TG_METRIC_HISTOGRAM),
                   TG_MLEVEL_DETAILED);
  tg_metrics *reg = tg_metrics_new();
  tg_metric_add(tg_metrics_series(tg_metrics_family(reg, "tailgate_receiver_accepted_spans_total",
                                                    "A.", TG_METRIC_COUNTER, NULL),
                                  NULL),
                1);
  tg_metric_add(
      tg_metrics_series(tg_metrics_family(reg, "other_total", "O.", TG_METRIC_COUNTER, NULL), NULL),
      2);
  const char *want[] = {
      "", /* none */
      "# HELP tailgate_receiver_accepted_spans_total A.\n"
      "# TYPE tailgate_receiver_accepted_spans_total counter\n"
      "tailgate_receiver_accepted_spans_total 1\n",
      "# HELP tailgate_receiver_accepted_spans_total A.\n"
      "# TYPE tailgate_receiver_accepted_spans_total counter\n"
      "tailgate_receiver_accepted_spans_total 1\n"
      "# HELP other_total O.\n# TYPE other_total counter\nother_total 2\n"};
  for (int level = TG_MLEVEL_NONE; level <= TG_MLEVEL_NORMAL; level++) {
    tg_metrics_set_level(reg, (tg_mlevel)level);
    tg_buf out;
    tg_buf_init(&out, 0);
    assert_int_equal(tg_metrics_render(reg, &out), 0);
    assert_int_equal(out.len, strlen(want[level]));
    if (out.len)
      assert_memory_equal(out.data, want[level], out.len);
    tg_buf_free(&out);
  }
  tg_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_text_format),
      cmocka_unit_test(test_histogram),
      cmocka_unit_test(test_bounded_family),
      cmocka_unit_test(test_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
