/* Fan-out: read-only consumers share one batch, mutating ones get clones, and the
 * worst answer (TG_EAGAIN first) is reported back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_batch.h"
#include "tg_pipeline.h"

typedef struct recorder {
  tg_batch *seen;
  int answer;
} recorder;

static int record(void *target, tg_batch *batch) {
  recorder *r = target;
  r->seen = batch;
  return r->answer;
}

static tg_batch *one_span_batch(void) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  tg_span *span = tg_arena_alloc(a, sizeof *span);
  opentelemetry__proto__trace__v1__span__init(span);
  span->name = "op";
  ss->spans = tg_arena_alloc(a, sizeof(void *));
  ss->spans[0] = span;
  ss->n_spans = 1;
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof(void *));
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = 1;
  return b;
}

static void test_shares_with_readers_and_clones_for_mutators(void **state) {
  (void)state;
  recorder r[3] = {{NULL, TG_OK}, {NULL, TG_OK}, {NULL, TG_OK}};
  tg_consumer targets[3] = {{record, &r[0]}, {record, &r[1]}, {record, &r[2]}};
  int mutates[3] = {0, TG_FANOUT_MUTATES, 0};
  tg_fanout f = {targets, mutates, 3};
  tg_batch *b = one_span_batch();
  assert_int_equal(tg_fanout_consume(&f, b), TG_OK);
  assert_ptr_equal(r[0].seen, b);
  assert_ptr_equal(r[2].seen, b);
  assert_ptr_not_equal(r[1].seen, b);
  assert_int_equal(atomic_load(&b->refs), 2); /* one per reader; the fan-out dropped its own */
  assert_string_equal(r[1].seen->request.resource_spans[0]->scope_spans[0]->spans[0]->name, "op");
  tg_batch_free(r[1].seen);
  tg_batch_free(r[0].seen);
  tg_batch_free(r[2].seen);
}

static void test_reports_backpressure_over_other_errors(void **state) {
  (void)state;
  recorder r[3] = {{NULL, TG_EIO}, {NULL, TG_EAGAIN}, {NULL, TG_OK}};
  tg_consumer targets[3] = {{record, &r[0]}, {record, &r[1]}, {record, &r[2]}};
  int mutates[3] = {0, 0, 0};
  tg_fanout f = {targets, mutates, 3};
  tg_batch *b = one_span_batch();
  assert_int_equal(tg_fanout_consume(&f, b), TG_EAGAIN);
  /* not taken: the caller keeps its reference; the two that accepted hold theirs, the
   * refused one's reference was dropped by the fan-out */
  assert_int_equal(atomic_load(&b->refs), 3);
  tg_batch_free(r[0].seen);
  tg_batch_free(r[2].seen);
  tg_batch_free(b);
}

static void test_last_mutator_takes_sole_reference(void **state) {
  (void)state;
  recorder r = {NULL, TG_OK};
  tg_consumer target = {record, &r};
  int mutates = TG_FANOUT_MUTATES;
  tg_fanout f = {&target, &mutates, 1};
  tg_batch *b = one_span_batch();
  assert_int_equal(tg_fanout_consume(&f, b), TG_OK);
  assert_ptr_equal(r.seen, b); /* no copy when nobody else holds it */
  tg_batch_free(r.seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shares_with_readers_and_clones_for_mutators),
      cmocka_unit_test(test_reports_backpressure_over_other_errors),
      cmocka_unit_test(test_last_mutator_takes_sole_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
