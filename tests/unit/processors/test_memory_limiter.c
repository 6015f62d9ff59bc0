/* memory_limiter: limits computed from the Collector's keys, refusal (TG_EAGAIN, batch not
 * taken) above the soft and the hard limit, trimming above the hard limit, recovery, and
 * the config rules. Memory figures come from a fake probe the test sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "tg_component.h"
#include "tg_service.h"
#include "../../../processors/memory_limiter/memory_limiter.h"

#define MIB ((uint64_t)1024 * 1024)

typedef struct fake_mem {
  uint64_t rss, total, rss_after_trim;
  int trims;
} fake_mem;

static uint64_t fake_rss(void *ctx) { return ((fake_mem *)ctx)->rss; }
static uint64_t fake_total(void *ctx) { return ((fake_mem *)ctx)->total; }
static void fake_trim(void *ctx) {
  fake_mem *m = ctx;
  m->trims++;
  if (m->rss_after_trim)
    m->rss = m->rss_after_trim;
}

typedef struct sink {
  size_t batches, spans;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  s->batches++;
  s->spans += batch->span_count;
  tg_batch_free(batch);
  return TG_OK;
}

typedef struct fixture {
  uv_loop_t loop;
  tg_logger log;
  tg_service svc;
  tg_memory_limiter_conf conf;
  tg_instance inst;
  sink out;
  fake_mem mem;
  int stopped;
} fixture;

static void setup(fixture *f, tg_memory_limiter_conf conf, uint64_t total) {
  memset(f, 0, sizeof *f);
  uv_loop_init(&f->loop);
  tg_logger_init(&f->log, TG_LOG_NONE, stdout);
  f->svc = (tg_service){.loop = &f->loop, .log = &f->log, .metrics = tg_metrics_new()};
  f->conf = conf;
  f->mem.total = total;
  f->inst = (tg_instance){.component = &tg_processor_memory_limiter, .id = "memory_limiter",
                          .conf = &f->conf, .service = &f->svc,
                          .next = {sink_consume, &f->out}};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&f->inst, &err), TG_OK);
  tg_memory_limiter_set_probe(&f->inst,
                              (tg_memory_probe){fake_rss, fake_total, fake_trim, &f->mem});
  assert_int_equal(tg_component_start(&f->inst, &err), TG_OK);
}

static void on_stopped(tg_instance *inst) {
  fixture *f = (fixture *)((char *)inst - offsetof(fixture, inst));
  f->stopped = 1;
}

static void teardown(fixture *f) {
  tg_component_stop(&f->inst, on_stopped);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_true(f->stopped);
  tg_component_destroy(&f->inst);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tg_metrics_free(f->svc.metrics);
  tg_logger_destroy(&f->log);
}

static tg_batch *batch_of(size_t spans) {
  tg_batch *b = tg_batch_new(0, 0);
  b->span_count = spans;
  return b;
}

static void test_limits_from_mib(void **state) {
  (void)state;
  fixture f;
  /* limit 1000 MiB, spike 200 MiB: soft = 800 MiB */
  setup(&f, (tg_memory_limiter_conf){1000, 1000, 200, 0, 0}, 0);
  uint64_t soft, hard;
  tg_memory_limiter_limits(&f.inst, &soft, &hard);
  assert_int_equal(hard, 1000 * MIB);
  assert_int_equal(soft, 800 * MIB);
  teardown(&f);
  /* spike defaults to 20 % of the limit: 500 - 100 */
  setup(&f, (tg_memory_limiter_conf){1000, 500, 0, 0, 0}, 0);
  tg_memory_limiter_limits(&f.inst, &soft, &hard);
  assert_int_equal(hard, 500 * MIB);
  assert_int_equal(soft, 400 * MIB);
  teardown(&f);
}

static void test_limits_from_percentage(void **state) {
  (void)state;
  fixture f;
  /* 4000 MiB available, 80 % / 25 %: hard 3200 MiB, soft 3200 - 1000 = 2200 MiB */
  setup(&f, (tg_memory_limiter_conf){1000, 0, 0, 80, 25}, 4000 * MIB);
  uint64_t soft, hard;
  tg_memory_limiter_limits(&f.inst, &soft, &hard);
  assert_int_equal(hard, 4000 * MIB / 100 * 80);
  assert_int_equal(soft, 4000 * MIB / 100 * 80 - 4000 * MIB / 100 * 25);
  teardown(&f);
}

static void test_refuses_above_soft_and_recovers(void **state) {
  (void)state;
  fixture f;
  setup(&f, (tg_memory_limiter_conf){1000, 100, 20, 0, 0}, 0); /* soft 80, hard 100 MiB */
  f.mem.rss = 79 * MIB;
  assert_int_equal(tg_memory_limiter_check(&f.inst), 0);
  assert_int_equal(tg_component_consume(&f.inst, batch_of(5)), TG_OK);
  assert_int_equal(f.out.spans, 5);

  f.mem.rss = 80 * MIB; /* at the soft limit */
  assert_int_equal(tg_memory_limiter_check(&f.inst), 1);
  tg_batch *b = batch_of(7);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_EAGAIN);
  assert_int_equal(b->span_count, 7); /* not taken: still ours */
  assert_int_equal(f.out.spans, 5);
  assert_int_equal(f.mem.trims, 0); /* trimming is for the hard limit */

  f.mem.rss = 60 * MIB; /* recovered */
  assert_int_equal(tg_memory_limiter_check(&f.inst), 0);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_OK);
  assert_int_equal(f.out.spans, 12);
  teardown(&f);
}

static void test_hard_limit_trims_and_refuses(void **state) {
  (void)state;
  fixture f;
  setup(&f, (tg_memory_limiter_conf){1000, 100, 20, 0, 0}, 0);
  f.mem.rss = 150 * MIB; /* trim does not help */
  assert_int_equal(tg_memory_limiter_check(&f.inst), 2);
  assert_int_equal(f.mem.trims, 1);
  tg_batch *b = batch_of(3);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_EAGAIN);
  /* trim brings it under the soft limit: data flows at once */
  f.mem.rss_after_trim = 50 * MIB;
  assert_int_equal(tg_memory_limiter_check(&f.inst), 0);
  assert_int_equal(f.mem.trims, 2);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_OK);
  assert_int_equal(f.out.spans, 3);
  /* trim leaves it between soft and hard: refused, soft level */
  f.mem.rss = 150 * MIB;
  f.mem.rss_after_trim = 90 * MIB;
  assert_int_equal(tg_memory_limiter_check(&f.inst), 1);
  teardown(&f);
}

static void test_timer_checks(void **state) {
  (void)state;
  fixture f;
  setup(&f, (tg_memory_limiter_conf){1, 100, 20, 0, 0}, 0); /* every 1 ms */
  f.mem.rss = 95 * MIB;
  /* the timer (not the test) notices the rise */
  for (int i = 0; i < 1000; i++) {
    uv_run(&f.loop, UV_RUN_ONCE);
    tg_batch *b = batch_of(1);
    int rc = tg_component_consume(&f.inst, b);
    if (rc == TG_EAGAIN) {
      tg_batch_free(b);
      break;
    }
  }
  tg_batch *b = batch_of(1);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_EAGAIN);
  tg_batch_free(b);
  teardown(&f);
}

static void test_conf_rules(void **state) {
  (void)state;
  const tg_memory_limiter_conf ok = {1000, 100, 20, 0, 0};
  assert_null(tg_memory_limiter_conf_problem(&ok));
  const tg_memory_limiter_conf pct = {1000, 0, 0, 80, 20};
  assert_null(tg_memory_limiter_conf_problem(&pct));
  const tg_memory_limiter_conf no_interval = {0, 100, 0, 0, 0};
  assert_string_equal(tg_memory_limiter_conf_problem(&no_interval),
                      "check_interval must be greater than zero");
  const tg_memory_limiter_conf no_limit = {1000, 0, 0, 0, 0};
  assert_string_equal(tg_memory_limiter_conf_problem(&no_limit),
                      "limit_mib or limit_percentage must be set");
  const tg_memory_limiter_conf spike = {1000, 100, 100, 0, 0};
  assert_string_equal(tg_memory_limiter_conf_problem(&spike),
                      "spike_limit_mib must be smaller than limit_mib");
  const tg_memory_limiter_conf both = {1000, 100, 0, 50, 0};
  assert_string_equal(tg_memory_limiter_conf_problem(&both),
                      "set limit_mib or limit_percentage, not both");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limits_from_mib),
      cmocka_unit_test(test_limits_from_percentage),
      cmocka_unit_test(test_refuses_above_soft_and_recovers),
      cmocka_unit_test(test_hard_limit_trims_and_refuses),
      cmocka_unit_test(test_timer_checks),
      cmocka_unit_test(test_conf_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
