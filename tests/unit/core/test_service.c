/* The service built from a real configuration: two pipelines sharing a receiver and an
 * exporter, a processor listed in both (one instance per pipeline), start in dependency
 * order, data through the fan-outs, and a stop that flushes the processors into the
 * exporters before they stop. Uses the real registry (otlp receiver on port 0, batch,
 * nop exporters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "tg_config.h"
#include "tg_service.h"

static const char config_yaml[] =
    "receivers:\n"
    "  otlp:\n"
    "    protocols:\n"
    "      grpc: {endpoint: 127.0.0.1:0}\n"
    "processors:\n"
    "  batch: {send_batch_size: 1000, timeout: 10s}\n"
    "exporters:\n"
    "  nop/a:\n"
    "  nop/b:\n"
    "service:\n"
    "  telemetry: {metrics: {address: \"\"}}\n"
    "  pipelines:\n"
    "    traces/one: {receivers: [otlp], processors: [batch], exporters: [nop/a]}\n"
    "    traces/two: {receivers: [otlp], processors: [batch], exporters: [nop/a, nop/b]}\n";

static tg_batch *spans_batch(size_t n) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  ss->spans = tg_arena_alloc(a, n * sizeof(void *));
  for (size_t i = 0; i < n; i++) {
    ss->spans[i] = tg_arena_alloc(a, sizeof(tg_span));
    opentelemetry__proto__trace__v1__span__init(ss->spans[i]);
  }
  ss->n_spans = n;
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof(void *));
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = n;
  return b;
}

static int64_t sent(tg_metrics *m, const char *exporter) {
  tg_buf out;
  tg_buf_init(&out, 0);
  tg_metrics_render(m, &out);
  char needle[128];
  snprintf(needle, sizeof needle, "tailgate_exporter_sent_spans_total{exporter=\"%s\"} ",
           exporter);
  const char *p = out.data ? strstr((const char *)out.data, needle) : NULL;
  long long v = p ? atoll(p + strlen(needle)) : -1;
  tg_buf_free(&out);
  return v;
}

static int stopped;
static void on_stopped(tg_service *svc) {
  (void)svc;
  stopped = 1;
}

static void test_two_pipelines_share_receiver_and_exporter(void **state) {
  (void)state;
  tg_diag diag;
  tg_diag_init(&diag);
  tg_config *config = tg_config_load_text("service.yaml", config_yaml, strlen(config_yaml), &diag);
  tg_diag_print(&diag, stdout);
  assert_non_null(config);
  tg_diag_free(&diag);

  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_logger log;
  tg_logger_init(&log, TG_LOG_NONE, stdout);
  tg_service svc = {.loop = &loop, .log = &log, .metrics = tg_metrics_new(),
                    .shutdown_grace_ms = 1000};
  tg_errbuf err = {{0}};
  assert_int_equal(tg_service_build(&svc, config, &err), TG_OK);

  /* one receiver, two batch instances (one per pipeline), two exporters */
  size_t receivers = 0, processors = 0, exporters = 0;
  tg_instance *otlp = NULL;
  for (size_t i = 0; tg_service_instance(&svc, i); i++) {
    tg_instance *inst = tg_service_instance(&svc, i);
    switch (inst->component->kind) {
    case TG_RECEIVER: receivers++; otlp = inst; break;
    case TG_PROCESSOR: processors++; break;
    case TG_EXPORTER: exporters++; break;
    default: break;
    }
  }
  assert_int_equal(receivers, 1);
  assert_int_equal(processors, 2);
  assert_int_equal(exporters, 2);

  assert_int_equal(tg_service_start(&svc, &err), TG_OK);
  assert_true(tg_service_ready(&svc));
  svc.draining = 1; /* shutdown_drain: not ready while everything still runs */
  assert_false(tg_service_ready(&svc));
  svc.draining = 0;
  assert_true(tg_service_ready(&svc));

  /* what the receiver pushes reaches both pipelines; the batch processors hold it */
  assert_int_equal(tg_consumer_push(&otlp->next, spans_batch(7)), TG_OK);
  assert_int_equal(sent(svc.metrics, "nop/a"), 0);

  stopped = 0;
  tg_service_stop(&svc, on_stopped);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(stopped);
  /* flushed at stop, before the exporters stopped: nop/a is in both pipelines */
  assert_int_equal(sent(svc.metrics, "nop/a"), 14);
  assert_int_equal(sent(svc.metrics, "nop/b"), 7);

  tg_service_destroy(&svc);
  tg_service_destroy(&svc); /* safe twice */
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(svc.metrics);
  tg_logger_destroy(&log);
  tg_config_free(config);
}

static void test_build_error_names_the_component(void **state) {
  (void)state;
  static const char bad[] =
      "receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: 127.0.0.1:0}\n"
      "exporters:\n  otlp:\n    endpoint: \"not a host\"\n"
      "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [otlp]}\n";
  tg_diag diag;
  tg_diag_init(&diag);
  tg_config *config = tg_config_load_text("bad.yaml", bad, strlen(bad), &diag);
  if (!config) { /* rejected already at validation: also fine, with a position */
    assert_true(tg_diag_failed(&diag));
    tg_diag_free(&diag);
    return;
  }
  tg_diag_free(&diag);
  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_service svc = {.loop = &loop, .metrics = tg_metrics_new()};
  tg_errbuf err = {{0}};
  int rc = tg_service_build(&svc, config, &err);
  if (rc != TG_OK)
    assert_non_null(strstr(err.msg, "otlp"));
  tg_service_destroy(&svc);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(svc.metrics);
  tg_config_free(config);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_pipelines_share_receiver_and_exporter),
      cmocka_unit_test(test_build_error_names_the_component),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
