/* probabilistic_sampler: decisions and tracestates with answers computed by hand (OTEP 235
 * threshold arithmetic) or by an independent script (the hash_seed cases: FNV-1a 32 over
 * seed||trace ID in Python, see the comments), and the component end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "attr_builders.h"
#include "drop_metrics.h"
#include "processors/probabilistic_sampler/ps_decide.h"
#include "tg_component.h"
#include "tg_config.h"
#include "tg_service.h"

extern const tg_component tg_processor_probabilistic_sampler;

/* A trace ID whose randomness (bytes 9..15) is r56; bytes 0..8 are a fixed non-zero prefix. */
static void tid_r(uint8_t tid[16], uint64_t r56) {
  for (int i = 0; i < 9; i++)
    tid[i] = (uint8_t)(0x11 * (i + 1));
  for (int i = 15; i >= 9; i--, r56 >>= 8)
    tid[i] = (uint8_t)r56;
}

static void tid_hex(uint8_t tid[16], const char *hex) {
  for (int i = 0; i < 16; i++) {
    unsigned b;
    sscanf(hex + 2 * i, "%2x", &b);
    tid[i] = (uint8_t)b;
  }
}

static void expect(const ps_sampler *s, const uint8_t tid[16], const char *ts, ps_priority prio,
                   int sampled, int error, const char *out_ts) {
  ps_result r;
  ps_decide(s, tid, ts, prio, &r);
  if (r.sampled != sampled || r.error != error)
    fail_msg("ts %s: sampled %d error %d (%s), want %d %d", ts ? ts : "-", r.sampled, r.error,
             r.why ? r.why : "", sampled, error);
  if (out_ts) {
    assert_true(r.set_tracestate);
    assert_string_equal(r.tracestate, out_ts);
  } else {
    assert_false(r.set_tracestate);
  }
}

static void test_proportional(void **state) {
  (void)state;
  ps_sampler s;
  uint8_t tid[16];
  /* 25 %: T = 0.75 * 2^56 = 0xc0000000000000, written th:c */
  ps_sampler_init(&s, 25, PS_PROPORTIONAL, 0, 4, 1);
  tid_r(tid, UINT64_C(0xc0000000000000));
  expect(&s, tid, NULL, PS_PRIO_DEFER, 1, 0, "ot=th:c");
  tid_r(tid, UINT64_C(0xbfffffffffffff));
  expect(&s, tid, NULL, PS_PRIO_DEFER, 0, 0, NULL);
  /* 10 %: 0.9 * 2^56 = 0xe6666666666666.6 rounds to 4 hex digits: th e666 */
  ps_sampler_init(&s, 10, PS_PROPORTIONAL, 0, 4, 1);
  tid_r(tid, UINT64_C(0xe6660000000000));
  expect(&s, tid, "vendor=a", PS_PRIO_DEFER, 1, 0, "ot=th:e666,vendor=a");
  tid_r(tid, UINT64_C(0xe665ffffffffff));
  expect(&s, tid, NULL, PS_PRIO_DEFER, 0, 0, NULL);
  /* proportional multiplies: 50 % after an upstream 50 % (th:8) is 25 % (th:c) */
  ps_sampler_init(&s, 50, PS_PROPORTIONAL, 0, 4, 1);
  tid_r(tid, UINT64_C(0xd0000000000000));
  expect(&s, tid, "ot=th:8,vendor=x", PS_PRIO_DEFER, 1, 0, "ot=th:c,vendor=x");
  tid_r(tid, UINT64_C(0x90000000000000)); /* passed upstream's 8, not our c */
  expect(&s, tid, "ot=th:8,vendor=x", PS_PRIO_DEFER, 0, 0, NULL);
  /* an arriving rv is the randomness, not the trace ID (whose R is 0 here) */
  tid_r(tid, 0);
  expect(&s, tid, "ot=rv:ffffffffffffff", PS_PRIO_DEFER, 1, 0, "ot=th:8;rv:ffffffffffffff");
  /* 100 % keeps everything with th:0; 0 % keeps nothing */
  ps_sampler_init(&s, 100, PS_PROPORTIONAL, 0, 4, 1);
  expect(&s, tid, NULL, PS_PRIO_DEFER, 1, 0, "ot=th:0");
  ps_sampler_init(&s, 0, PS_PROPORTIONAL, 0, 4, 1);
  tid_r(tid, UINT64_C(0xffffffffffffff));
  expect(&s, tid, NULL, PS_PRIO_DEFER, 0, 0, NULL);
  /* sampling.priority overrides: 0 drops, > 0 keeps with th:0 */
  expect(&s, tid, NULL, PS_PRIO_KEEP, 1, 0, "ot=th:0");
  ps_sampler_init(&s, 100, PS_PROPORTIONAL, 0, 4, 1);
  expect(&s, tid, NULL, PS_PRIO_DROP, 0, 0, NULL);
}

static void test_equalizing(void **state) {
  (void)state;
  ps_sampler s;
  uint8_t tid[16];
  ps_sampler_init(&s, 50, PS_EQUALIZING, 0, 4, 1);
  /* an upstream 25 % (th:c) already rejects more than our 50 %: it stays */
  tid_r(tid, UINT64_C(0xc8000000000000));
  expect(&s, tid, "ot=th:c", PS_PRIO_DEFER, 1, 0, "ot=th:c");
  /* an upstream 75 % (th:4): our th:8 applies */
  tid_r(tid, UINT64_C(0x60000000000000));
  expect(&s, tid, "ot=th:4", PS_PRIO_DEFER, 0, 0, NULL);
  tid_r(tid, UINT64_C(0x80000000000000));
  expect(&s, tid, "ot=th:4", PS_PRIO_DEFER, 1, 0, "ot=th:8");
}

static void test_errors_and_fail_closed(void **state) {
  (void)state;
  ps_sampler closed, open;
  ps_sampler_init(&closed, 50, PS_PROPORTIONAL, 0, 4, 1);
  ps_sampler_init(&open, 50, PS_PROPORTIONAL, 0, 4, 0);
  uint8_t tid[16];
  /* inconsistent: th:e arrived but R = 0x90... does not pass it */
  tid_r(tid, UINT64_C(0x90000000000000));
  expect(&closed, tid, "ot=th:e", PS_PRIO_DEFER, 0, 1, NULL);
  expect(&open, tid, "ot=th:e", PS_PRIO_DEFER, 1, 1, "ot=th:8"); /* decided afresh at 50 % */
  /* all-zero trace ID: no randomness */
  uint8_t zero[16] = {0};
  expect(&closed, zero, NULL, PS_PRIO_DEFER, 0, 1, NULL);
  expect(&open, zero, NULL, PS_PRIO_DEFER, 1, 1, "ot=th:8");
  /* malformed ot values */
  tid_r(tid, UINT64_C(0xf0000000000000));
  expect(&closed, tid, "ot=th:xyz", PS_PRIO_DEFER, 0, 1, NULL);
  expect(&closed, tid, "ot=rv:123", PS_PRIO_DEFER, 0, 1, NULL);
  expect(&open, tid, "ot=th:xyz", PS_PRIO_DEFER, 1, 1, NULL); /* kept; tracestate untouched */
}

/* hash_seed: seed 22, 10 %. scaled = uint32(float32(10) * float32(163.84)) = 1638, so
 * T = (16384 - 1638) << 42 = 0xe6680000000000 (th:e668). Expected by an independent Python
 * computation of FNV-1a 32 over [22,0,0,0] + trace ID, hashed = h & 0x3fff, keep when
 * hashed < 1638, rv = (0x3fff-hashed)<<42 | mix(h>>14)<<14 | hashed. */
static const struct {
  const char *tid;
  int kept;
  const char *rv;
} hash_cases[] = {
    {"9400f1b21cb527d7fa3d3eabba93557a", 1, "e9f18d564d4583"},
    {"35135aaa6cc23891b40cb3f378c53a17", 1, "ecff583a3b04c0"},
    {"5feceb66ffc86f38d952786c6d696c79", 0, NULL},
    {"6b86b273ff34fce19d6b804eff5a3f57", 0, NULL},
};

static void test_hash_seed(void **state) {
  (void)state;
  ps_sampler s;
  ps_sampler_init(&s, 10, PS_HASH_SEED, 22, 4, 1);
  assert_int_equal(s.threshold, UINT64_C(0xe6680000000000));
  for (size_t i = 0; i < sizeof hash_cases / sizeof *hash_cases; i++) {
    uint8_t tid[16];
    tid_hex(tid, hash_cases[i].tid);
    char ts[64];
    if (hash_cases[i].kept)
      snprintf(ts, sizeof ts, "ot=th:e668;rv:%s", hash_cases[i].rv);
    expect(&s, tid, NULL, PS_PRIO_DEFER, hash_cases[i].kept, 0, hash_cases[i].kept ? ts : NULL);
  }
  /* a tracestate that already has th: hash_seed mode must not reinterpret it */
  uint8_t tid[16];
  tid_hex(tid, hash_cases[0].tid);
  expect(&s, tid, "ot=th:8", PS_PRIO_DEFER, 0, 1, NULL);
}

/* The component: config keys, mode defaulting to hash_seed when hash_seed is set, the
 * kept subset passed on with rewritten tracestates. */
typedef struct sink {
  tg_batch *last;
  int calls;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  tg_batch_free(s->last);
  s->last = batch;
  s->calls++;
  return TG_OK;
}

static void test_component(void **state) {
  (void)state;
  const char *text =
      "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
      "processors:\n  probabilistic_sampler:\n    sampling_percentage: 10\n    hash_seed: 22\n"
      "exporters: {nop: {}}\n"
      "service:\n  telemetry: {metrics: {address: \"\"}}\n"
      "  pipelines: {traces: {receivers: [otlp], processors: [probabilistic_sampler], "
      "exporters: [nop]}}\n";
  tg_diag d;
  tg_diag_init(&d);
  tg_config *cfg = tg_config_load_text("p.yaml", text, strlen(text), &d);
  assert_non_null(cfg);
  tg_diag_free(&d);
  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_logger log;
  tg_logger_init(&log, TG_LOG_NONE, stdout);
  tg_service svc = {.loop = &loop, .log = &log, .metrics = tg_metrics_new()};
  sink out = {0};
  tg_instance inst = {.component = &tg_processor_probabilistic_sampler,
                      .id = "probabilistic_sampler",
                      .conf = tg_config_find(cfg, TG_PROCESSOR, "probabilistic_sampler")->conf,
                      .service = &svc, .next = {sink_consume, &out}};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&inst, &err), TG_OK);
  assert_int_equal(tg_component_start(&inst, &err), TG_OK);

  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  ss->spans = tg_arena_alloc(a, 5 * sizeof(void *));
  for (size_t i = 0; i < 5; i++) {
    tg_span *sp = tg_arena_alloc(a, sizeof *sp);
    opentelemetry__proto__trace__v1__span__init(sp);
    uint8_t *id = tg_arena_alloc(a, 16);
    tid_hex(id, hash_cases[i < 4 ? i : 3].tid);
    sp->trace_id.data = id;
    sp->trace_id.len = 16;
    if (i == 4) { /* a dropped trace forced in by sampling.priority (a string, as some send) */
      sp->attributes = kv_list(a, 1, kv(a, "sampling.priority", av_str(a, "1")));
      sp->n_attributes = 1;
    }
    ss->spans[i] = sp;
  }
  ss->n_spans = 5;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof(void *));
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = 5;
  /* a copy that cannot be sampled (no arena room): dropped whole, counted as dropped and
   * not as decided */
  tg_batch *doomed = tg_batch_clone(b);
  assert_non_null(doomed);
  exhaust_arena(doomed->arena);
  assert_int_equal(tg_component_consume(&inst, doomed), TG_ENOMEM);
  assert_int_equal(out.calls, 0);
  assert_int_equal(dropped_spans(svc.metrics, "probabilistic_sampler"), 5);
  assert_int_equal(rendered_series(svc.metrics, "tailgate_probabilistic_sampler_spans_total{"
                                                "processor=\"probabilistic_sampler\",sampled=\"true\"}"),
                   0);
  assert_int_equal(tg_component_consume(&inst, b), TG_OK);
  assert_int_equal(dropped_spans(svc.metrics, "probabilistic_sampler"), 5);
  assert_int_equal(rendered_series(svc.metrics, "tailgate_probabilistic_sampler_spans_total{"
                                                "processor=\"probabilistic_sampler\",sampled=\"true\"}"),
                   3);
  assert_int_equal(rendered_series(svc.metrics, "tailgate_probabilistic_sampler_spans_total{"
                                                "processor=\"probabilistic_sampler\",sampled=\"false\"}"),
                   2);
  assert_int_equal(out.calls, 1);
  tg_scope_spans *kept = out.last->request.resource_spans[0]->scope_spans[0];
  assert_int_equal(kept->n_spans, 3);
  assert_string_equal(kept->spans[0]->trace_state, "ot=th:e668;rv:e9f18d564d4583");
  assert_string_equal(kept->spans[1]->trace_state, "ot=th:e668;rv:ecff583a3b04c0");
  assert_int_equal(kept->spans[2]->n_attributes, 1);
  assert_int_equal(out.last->span_count, 3);

  tg_batch_free(out.last);
  tg_component_destroy(&inst);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(svc.metrics);
  tg_logger_destroy(&log);
  tg_config_free(cfg);

  /* a mode the Collector does not have is a positioned error */
  const char *bad =
      "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
      "processors:\n  probabilistic_sampler:\n    sampling_percentage: 10\n    mode: random\n"
      "exporters: {nop: {}}\n"
      "service:\n  pipelines: {traces: {receivers: [otlp], processors: [probabilistic_sampler], "
      "exporters: [nop]}}\n";
  tg_diag_init(&d);
  assert_null(tg_config_load_text("p.yaml", bad, strlen(bad), &d));
  assert_true(d.n >= 1);
  assert_non_null(strstr(d.lines[0], "p.yaml:5:11: processors::probabilistic_sampler: mode: "
                                     "\"random\" is not one of proportional, equalizing, "
                                     "hash_seed"));
  tg_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proportional),
      cmocka_unit_test(test_equalizing),
      cmocka_unit_test(test_errors_and_fail_closed),
      cmocka_unit_test(test_hash_seed),
      cmocka_unit_test(test_component),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
