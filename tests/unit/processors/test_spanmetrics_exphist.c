/* spanmetrics_exphist: the data model's exponential mapping (indexes computed by hand from
 * the bucket definition (base^i, base^(i+1)], base = 2^(2^-scale), and checked against
 * long-double powers over a sweep), downscaling to max_size, the zero bucket; and the
 * delta-temporality table: each flush reports only its interval and restarts at zero. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "../../../processors/spanmetrics/spanmetrics_exphist.h"
#include "../../../processors/spanmetrics/spanmetrics_table.h"

static void test_index_by_hand(void **state) {
  (void)state;
  /* scale 0, base 2: (1,2] is 0, (0.5,1] is -1 */
  assert_int_equal(tg_sm_exphist_index(1, 0), -1);
  assert_int_equal(tg_sm_exphist_index(2, 0), 0);
  assert_int_equal(tg_sm_exphist_index(3, 0), 1);
  assert_int_equal(tg_sm_exphist_index(4, 0), 1);
  assert_int_equal(tg_sm_exphist_index(5, 0), 2);
  assert_int_equal(tg_sm_exphist_index(0.5, 0), -2);
  assert_int_equal(tg_sm_exphist_index(0.75, 0), -1);
  /* scale 1, base sqrt(2): 2 = base^2 closes bucket 1; 2^1.5 = 2.83 < 3 <= 4 = base^4 */
  assert_int_equal(tg_sm_exphist_index(2, 1), 1);
  assert_int_equal(tg_sm_exphist_index(1.5, 1), 1);
  assert_int_equal(tg_sm_exphist_index(3, 1), 3);
  assert_int_equal(tg_sm_exphist_index(4, 1), 3);
  /* scale -1, base 4: (1,4] is 0, (4,16] is 1, (0.25,1] is -1 */
  assert_int_equal(tg_sm_exphist_index(4, -1), 0);
  assert_int_equal(tg_sm_exphist_index(5, -1), 1);
  assert_int_equal(tg_sm_exphist_index(16, -1), 1);
  assert_int_equal(tg_sm_exphist_index(17, -1), 2);
  assert_int_equal(tg_sm_exphist_index(1, -1), -1);
  assert_int_equal(tg_sm_exphist_index(0.3, -1), -1);
  /* the extremes of the scale range */
  assert_int_equal(tg_sm_exphist_index(1, 20), -1);
  assert_int_equal(tg_sm_exphist_index(2, 20), (1 << 20) - 1);
  assert_int_equal(tg_sm_exphist_index(1e300, -10), 0);  /* 2^996.6: (1, 2^1024] */
  assert_int_equal(tg_sm_exphist_index(1e-300, -10), -1); /* (2^-1024, 1] */
  /* coarsening is floor division, negatives included */
  assert_int_equal(tg_sm_exphist_coarsen(-1, 1), -1);
  assert_int_equal(tg_sm_exphist_coarsen(-2, 1), -1);
  assert_int_equal(tg_sm_exphist_coarsen(-3, 1), -2);
  assert_int_equal(tg_sm_exphist_coarsen(5, 2), 1);
}

/* Every index over a sweep of durations satisfies base^i < v <= base^(i+1), computed in
 * long double (values within 1e-12 of a bound are skipped: the logarithm method may
 * place them either side, as the specification allows). */
static void test_index_sweep(void **state) {
  (void)state;
  size_t checked = 0;
  for (int scale = -4; scale <= 20; scale++) {
    for (double v = 1e-4; v < 1e6; v *= 1.0137) {
      int32_t i = tg_sm_exphist_index(v, scale);
      long double lo = exp2l(ldexpl((long double)i, -scale));
      long double hi = exp2l(ldexpl((long double)i + 1, -scale));
      if (fabsl(v - lo) <= 1e-12L * v || fabsl(v - hi) <= 1e-12L * v)
        continue;
      if (!(lo < v && v <= hi))
        fail_msg("scale %d v %.17g index %d: (%Lg, %Lg]", scale, v, i, lo, hi);
      checked++;
    }
  }
  assert_true(checked > 20000);
}

static tg_sm_exphist *hist(uint32_t max_size) {
  tg_sm_exphist *h = tg_malloc(tg_sm_exphist_bytes(max_size));
  assert_non_null(h);
  tg_sm_exphist_init(h, max_size);
  return h;
}

static void test_downscale_to_fit(void **state) {
  (void)state;
  tg_sm_exphist *h = hist(4);
  /* 1, 2, 4, 8, 16: at scale 0 they span indexes -1..3 (5 buckets); at scale -1 (base 4)
   * (1/4,1] holds 1, (1,4] holds 2 and 4, (4,16] holds 8 and 16 */
  const double v[] = {1, 2, 4, 8, 16};
  for (size_t i = 0; i < 5; i++)
    tg_sm_exphist_add(h, v[i]);
  assert_int_equal(h->scale, -1);
  assert_int_equal(h->offset, -1);
  assert_int_equal(h->n, 3);
  assert_int_equal(h->counts[0], 1);
  assert_int_equal(h->counts[1], 2);
  assert_int_equal(h->counts[2], 2);
  /* one value stays at scale 20; a zero goes to the zero bucket */
  tg_sm_exphist_init(h, 4);
  tg_sm_exphist_add(h, 3);
  tg_sm_exphist_add(h, 0);
  assert_int_equal(h->scale, 20);
  assert_int_equal(h->n, 1);
  assert_int_equal(h->offset, tg_sm_exphist_index(3, 20));
  assert_int_equal(h->zero_count, 1);
  /* a value below the others shifts the array: 4 then 1 at scale 0 after fitting */
  tg_sm_exphist_init(h, 4);
  tg_sm_exphist_add(h, 4);
  tg_sm_exphist_add(h, 1.5);
  /* indexes at scale s: 4 -> 2*2^s - 1, 1.5 -> ceil(0.585*2^s) - 1; they fit in 4
   * buckets first at scale 1: 3 and 1 */
  assert_int_equal(h->scale, 1);
  assert_int_equal(h->offset, 1);
  assert_int_equal(h->n, 3);
  assert_int_equal(h->counts[0], 1);
  assert_int_equal(h->counts[2], 1);
  tg_free(h);
}

/* ---- delta table ---- */

typedef struct seen {
  size_t n;
  uint64_t count[8], start[8], time[8];
  double sum[8];
} seen;

static int on_family(void *ctx, const tg_mfamily *f) {
  (void)ctx;
  (void)f;
  return 0;
}

static int on_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  seen *s = ctx;
  if (f->kind == TG_MKIND_COUNTER || s->n == 8)
    return 0;
  s->count[s->n] = p->count;
  s->sum[s->n] = p->sum;
  s->start[s->n] = p->start_unix_nano;
  s->time[s->n] = p->time_unix_nano;
  s->n++;
  return 0;
}

static void test_delta_resets_per_flush(void **state) {
  (void)state;
  static const char *const names[] = {"service_name"};
  static const tg_mfamily calls = {.name = "c", .kind = TG_MKIND_COUNTER};
  static const tg_mfamily dur = {.name = "d", .kind = TG_MKIND_EXP_HISTOGRAM};
  tg_sm_table_conf c = {.label_names = names, .n_labels = 1, .limit = 10, .delta = 1,
                        .exp_max_size = 16};
  tg_sm_table *t = tg_sm_table_new(&c);
  assert_non_null(t);
  const char *a[] = {"a"}, *b[] = {"b"};
  assert_int_equal(tg_sm_table_add(t, a, 1.0, NULL, NULL, 500, 1), 0);
  assert_int_equal(tg_sm_table_add(t, a, 2.0, NULL, NULL, 600, 1), 0);
  assert_int_equal(tg_sm_table_add(t, b, 4.0, NULL, NULL, 700, 1), 0);
  seen s = {0};
  tg_metric_visitor v = {on_family, on_point, &s};
  assert_int_equal(tg_sm_table_collect(t, &calls, &dur, NULL, 1, &v), 0);
  assert_int_equal(s.n, 0); /* nothing closed yet */
  tg_sm_table_flush(t, 1000);
  /* spans after the flush belong to the next interval */
  assert_int_equal(tg_sm_table_add(t, a, 8.0, NULL, NULL, 1100, 2), 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(tg_sm_table_collect(t, &calls, &dur, NULL, 2, &v), 0);
  assert_int_equal(s.n, 2);
  uint64_t total = s.count[0] + s.count[1];
  assert_int_equal(total, 3);
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(s.time[i], 1000);
    assert_true(s.count[i] == 2 ? s.sum[i] == 3.0 && s.start[i] == 500
                                : s.sum[i] == 4.0 && s.start[i] == 700);
  }
  tg_sm_table_flush(t, 2000);
  memset(&s, 0, sizeof s);
  assert_int_equal(tg_sm_table_collect(t, &calls, &dur, NULL, 3, &v), 0);
  assert_int_equal(s.n, 1); /* b had no span: left out */
  assert_int_equal(s.count[0], 1);
  assert_true(s.sum[0] == 8.0);
  assert_int_equal(s.start[0], 1000); /* where the previous interval ended */
  assert_int_equal(s.time[0], 2000);
  tg_sm_table_flush(t, 3000);
  memset(&s, 0, sizeof s);
  assert_int_equal(tg_sm_table_collect(t, &calls, &dur, NULL, 4, &v), 0);
  assert_int_equal(s.n, 0);
  tg_sm_table_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_index_by_hand),
      cmocka_unit_test(test_index_sweep),
      cmocka_unit_test(test_downscale_to_fit),
      cmocka_unit_test(test_delta_resets_per_flush),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
