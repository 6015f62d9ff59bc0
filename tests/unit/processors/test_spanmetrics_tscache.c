/* delta_temporality.metric_timestamp_cache_size on the span metrics table: a delta
 * series starts each point at the previous flush while its flush time is remembered, and
 * at its first span of the interval once `size` other series had points flushed after
 * its own (the Collector's LRU); an unbounded cache (0) always remembers; a cumulative
 * table is unaffected. Start times are checked against values worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../processors/spanmetrics/spanmetrics_table.h"

static const char *const names[] = {"span_name"};
static tg_mfamily calls = {.name = "c", .kind = TG_MKIND_COUNTER};
static tg_mfamily dur = {.name = "d", .kind = TG_MKIND_HISTOGRAM};
static const double bounds[] = {1, 10};

typedef struct seen {
  uint64_t start[3], time[3]; /* per series a, b, c (counter points); 0 = not visited */
} seen;

static int on_family(void *ctx, const tg_mfamily *f) {
  (void)ctx;
  (void)f;
  return 0;
}

static int on_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  seen *s = ctx;
  if (f != &calls)
    return 0;
  int i = p->labels[0].value[0] - 'a';
  s->start[i] = p->start_unix_nano;
  s->time[i] = p->time_unix_nano;
  return 0;
}

static seen flush(tg_sm_table *t, uint64_t now) {
  tg_sm_table_flush(t, now);
  seen s;
  memset(&s, 0, sizeof s);
  tg_metric_visitor v = {on_family, on_point, &s};
  assert_int_equal(tg_sm_table_collect(t, &calls, &dur, NULL, 0, &v), 0);
  return s;
}

static tg_sm_table *table(int delta, size_t cache, tg_sm_series **series) {
  tg_sm_table_conf c = {.label_names = names, .n_labels = 1, .bounds = bounds, .n_bounds = 2,
                        .limit = 10, .delta = delta, .timestamp_cache_size = cache};
  tg_sm_table *t = tg_sm_table_new(&c);
  assert_non_null(t);
  for (int i = 0; i < 3; i++) {
    const char v[2] = {(char)('a' + i), 0};
    const char *vals[] = {v};
    int of;
    series[i] = tg_sm_table_lookup(t, vals, NULL, 1, &of);
    assert_non_null(series[i]);
    assert_int_equal(of, 0);
  }
  return t;
}

/* a alone in interval 1; b and c in interval 2; a and b in interval 3. */
static seen run(int delta, size_t cache) {
  tg_sm_series *s[3];
  tg_sm_table *t = table(delta, cache, s);
  tg_sm_table_observe(t, s[0], 2, NULL, NULL, 500, 1);
  seen f1 = flush(t, 1000);
  assert_int_equal(f1.start[0], 500); /* a new series starts at its span */
  tg_sm_table_observe(t, s[1], 2, NULL, NULL, 1500, 1);
  tg_sm_table_observe(t, s[2], 2, NULL, NULL, 1600, 1);
  seen f2 = flush(t, 2000);
  if (delta) {
    assert_int_equal(f2.time[0], 0); /* a had no span: left out */
    /* b and c existed at the flush of 1000 without points: the unbounded table
     * remembers that flush for every series; a bounded cache holds only series that had
     * points flushed (as the Collector's), so they start at their first span */
    assert_int_equal(f2.start[1], cache ? 1500 : 1000);
    assert_int_equal(f2.start[2], cache ? 1600 : 1000);
  }
  tg_sm_table_observe(t, s[0], 2, NULL, NULL, 2500, 1);
  tg_sm_table_observe(t, s[1], 2, NULL, NULL, 2600, 1);
  seen f3 = flush(t, 3000);
  tg_sm_table_free(t);
  return f3;
}

static void test_bounded_cache_forgets(void **state) {
  (void)state;
  /* size 2: after a's flush at 1000, b and c were flushed (2 insertions): a forgot and
   * starts at its first span of the interval (2500); b had only c after it: remembered */
  seen s = run(1, 2);
  assert_int_equal(s.start[0], 2500);
  assert_int_equal(s.time[0], 3000);
  assert_int_equal(s.start[1], 2000);
  assert_int_equal(s.time[1], 3000);
  assert_int_equal(s.time[2], 0);
}

static void test_large_or_unbounded_cache_remembers(void **state) {
  (void)state;
  for (size_t cache = 0; cache <= 3; cache += 3) { /* 0 = unbounded, 3 = room for all */
    seen s = run(1, cache);
    assert_int_equal(s.start[0], 2000); /* the previous flush */
    assert_int_equal(s.start[1], 2000);
  }
  seen one = run(1, 1); /* size 1: a forgot (b's fate depends on the flush order of b, c) */
  assert_int_equal(one.start[0], 2500);
}

static void test_cumulative_unaffected(void **state) {
  (void)state;
  seen s = run(0, 1);
  assert_int_equal(s.start[0], 500); /* cumulative: since the series' first span */
  assert_int_equal(s.start[1], 1500);
  assert_int_equal(s.start[2], 1600);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounded_cache_forgets),
      cmocka_unit_test(test_large_or_unbounded_cache_remembers),
      cmocka_unit_test(test_cumulative_unaffected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
