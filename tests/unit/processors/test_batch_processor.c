/* batch processor: size trigger, timeout trigger, max-size splitting, flush on stop, and
 * refusing new data after the downstream answered TG_EAGAIN. Runs on a real libuv loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_service.h"
#include "../../../processors/batch/batch_conf.h"

extern const tg_component tg_processor_batch;

typedef struct sink {
  size_t batches, spans, max_batch, refusals;
  int answer;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  if (s->answer == TG_EAGAIN) {
    s->refusals++;
    return TG_EAGAIN; /* not taken */
  }
  s->batches++;
  s->spans += tg_batch_count_spans(batch);
  if (batch->span_count > s->max_batch)
    s->max_batch = batch->span_count;
  tg_batch_free(batch);
  return TG_OK;
}

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

typedef struct fixture {
  uv_loop_t loop;
  tg_logger log;
  tg_service svc;
  tg_batch_conf conf;
  tg_instance inst;
  sink out;
  int stopped;
} fixture;

static void setup_fixture(fixture *f, int64_t size, uint64_t timeout_ms, int64_t max) {
  memset(f, 0, sizeof *f);
  uv_loop_init(&f->loop);
  tg_logger_init(&f->log, TG_LOG_NONE, stdout);
  f->svc = (tg_service){.loop = &f->loop, .log = &f->log, .metrics = tg_metrics_new()};
  f->conf = (tg_batch_conf){size, timeout_ms, max};
  f->inst = (tg_instance){.component = &tg_processor_batch, .id = "batch", .conf = &f->conf,
                          .service = &f->svc, .next = {sink_consume, &f->out}};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&f->inst, &err), TG_OK);
  assert_int_equal(tg_component_start(&f->inst, &err), TG_OK);
}

static void on_stopped(tg_instance *inst) {
  fixture *f = (fixture *)((char *)inst - offsetof(fixture, inst));
  f->stopped = 1;
}

static void teardown_fixture(fixture *f) {
  tg_component_stop(&f->inst, on_stopped);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_true(f->stopped);
  tg_component_destroy(&f->inst);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tg_metrics_free(f->svc.metrics);
  tg_logger_destroy(&f->log);
}

static void test_size_trigger(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, 100, 60000, 0);
  for (int i = 0; i < 9; i++)
    assert_int_equal(tg_component_consume(&f.inst, spans_batch(10)), TG_OK);
  assert_int_equal(f.out.batches, 0);
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(10)), TG_OK);
  assert_int_equal(f.out.batches, 1);
  assert_int_equal(f.out.spans, 100);
  teardown_fixture(&f);
}

static void test_timeout_trigger(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, 1000, 20, 0);
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(3)), TG_OK);
  uint64_t deadline = tg_clock_mono_ms() + 5000;
  while (f.out.batches == 0 && tg_clock_mono_ms() < deadline)
    uv_run(&f.loop, UV_RUN_ONCE);
  assert_int_equal(f.out.batches, 1);
  assert_int_equal(f.out.spans, 3);
  teardown_fixture(&f);
}

static void test_max_size_splits(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, 250, 60000, 100);
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(120)), TG_OK);
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(140)), TG_OK);
  assert_int_equal(f.out.spans, 260);
  assert_int_equal(f.out.batches, 3);
  assert_int_equal(f.out.max_batch, 100);
  teardown_fixture(&f);
}

static void test_stop_flushes(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, 1000, 60000, 0);
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(7)), TG_OK);
  assert_int_equal(f.out.spans, 0);
  teardown_fixture(&f);
  assert_int_equal(f.out.spans, 7);
}

static void test_holds_refused_flush_and_refuses_new_data(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, 10, 60000, 0);
  f.out.answer = TG_EAGAIN;
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(10)), TG_OK);
  assert_int_equal(f.out.refusals, 1); /* flushed, refused downstream, kept */
  tg_batch *extra = spans_batch(1);
  assert_int_equal(tg_component_consume(&f.inst, extra), TG_EAGAIN);
  tg_batch_free(extra); /* not taken: still ours */
  /* the downstream recovers: the held spans go out on the retry timer, none lost */
  f.out.answer = TG_OK;
  uint64_t deadline = tg_clock_mono_ms() + 5000;
  while (f.out.spans < 10 && tg_clock_mono_ms() < deadline)
    uv_run(&f.loop, UV_RUN_ONCE);
  assert_int_equal(f.out.spans, 10);
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(3)), TG_OK);
  teardown_fixture(&f);
  assert_int_equal(f.out.spans, 13);
}

static void test_stop_drops_after_deadline_when_still_blocked(void **state) {
  (void)state;
  fixture f;
  setup_fixture(&f, 10, 60000, 0);
  f.svc.shutdown_grace_ms = 100;
  f.out.answer = TG_EAGAIN;
  assert_int_equal(tg_component_consume(&f.inst, spans_batch(10)), TG_OK);
  uint64_t t0 = tg_clock_mono_ms();
  teardown_fixture(&f); /* returns once the deadline passed */
  assert_true(tg_clock_mono_ms() - t0 >= 40);
  assert_int_equal(f.out.spans, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_size_trigger),
      cmocka_unit_test(test_timeout_trigger),
      cmocka_unit_test(test_max_size_splits),
      cmocka_unit_test(test_stop_flushes),
      cmocka_unit_test(test_holds_refused_flush_and_refuses_new_data),
      cmocka_unit_test(test_stop_drops_after_deadline_when_still_blocked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
