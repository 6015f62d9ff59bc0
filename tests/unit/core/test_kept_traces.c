/* tg_kept_traces: without a sampler everything counts as kept; with one, only recorded
 * IDs, compared in full (a colliding slot never answers for another ID), bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_kept_traces.h"

static void id_of(unsigned n, uint8_t id[16]) {
  memset(id, 0, 16);
  id[14] = (uint8_t)(n >> 8);
  id[15] = (uint8_t)n;
}

static void test_no_sampler_keeps_all(void **state) {
  (void)state;
  uint8_t id[16];
  id_of(7, id);
  assert_true(tg_kept_traces_contains(NULL, id));
  tg_kept_traces *k = tg_kept_traces_new(16);
  assert_non_null(k);
  assert_false(tg_kept_traces_has_sampler(k));
  assert_true(tg_kept_traces_contains(k, id));
  tg_kept_traces_free(k);
}

static void test_with_sampler_only_recorded(void **state) {
  (void)state;
  tg_kept_traces *k = tg_kept_traces_new(64);
  tg_kept_traces_register_sampler(k);
  uint8_t id[16];
  for (unsigned i = 0; i < 32; i += 2) {
    id_of(i, id);
    tg_kept_traces_add(k, id);
  }
  unsigned hits = 0, false_hits = 0;
  for (unsigned i = 0; i < 32; i++) {
    id_of(i, id);
    int c = tg_kept_traces_contains(k, id);
    if (i % 2)
      false_hits += (unsigned)c;
    else
      hits += (unsigned)c;
  }
  assert_int_equal(false_hits, 0); /* never a trace that was not kept */
  assert_true(hits >= 12);        /* lossy only where two IDs share a slot */
  /* bounded: many more IDs than slots still never answer wrongly */
  for (unsigned i = 1000; i < 5000; i++) {
    id_of(i, id);
    tg_kept_traces_add(k, id);
  }
  id_of(1, id);
  assert_false(tg_kept_traces_contains(k, id));
  tg_kept_traces_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_sampler_keeps_all),
      cmocka_unit_test(test_with_sampler_only_recorded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
