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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_text_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
