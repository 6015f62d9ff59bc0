/* Arena: alignment, growth, big allocations, limits, reference counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_arena.h"
#include "tg_error.h"

static void test_alignment_and_growth(void **state) {
  (void)state;
  tg_arena *a = tg_arena_new(64, 0);
  assert_non_null(a);
  for (int i = 0; i < 10000; i++) {
    void *p = tg_arena_alloc(a, (size_t)(i % 37) + 1);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    memset(p, 0xab, (size_t)(i % 37) + 1);
  }
  void *big = tg_arena_alloc(a, 3u << 20);
  assert_non_null(big);
  memset(big, 1, 3u << 20);
  tg_arena_unref(a);
}

static void test_limit_fails_cleanly(void **state) {
  (void)state;
  tg_arena *a = tg_arena_new(1024, 4096);
  assert_non_null(tg_arena_alloc(a, 1000));
  assert_null(tg_arena_alloc(a, 8192));
  assert_true(a->over_limit);
  tg_arena_unref(a);
}

static void test_refcount_keeps_memory(void **state) {
  (void)state;
  tg_arena *a = tg_arena_new(0, 0);
  char *s = tg_arena_strndup(a, "hello world", 5);
  assert_string_equal(s, "hello");
  tg_arena_ref(a);
  tg_arena_unref(a);
  assert_string_equal(s, "hello"); /* still alive: one ref left (ASan would catch) */
  tg_arena_unref(a);
}

static void test_alloc_failure_injection(void **state) {
  (void)state;
  tg_alloc_fail_after(0, 0);
  assert_null(tg_arena_new(0, 0));
  tg_arena *a = tg_arena_new(0, 0);
  assert_non_null(a);
  tg_alloc_fail_after(0, 0);
  assert_null(tg_arena_alloc(a, 16));
  assert_non_null(tg_arena_alloc(a, 16));
  tg_arena_unref(a);
}

static int freed;
static void count_free(void *p) {
  freed++;
  tg_free(p);
}

/* An adopted buffer counts against the limit, is refused (and stays the caller's) when it
 * does not fit, and is freed exactly once, by the last reference. */
static void test_adopt(void **state) {
  (void)state;
  freed = 0;
  tg_arena *a = tg_arena_new(1024, 16384);
  void *big = tg_malloc(20000);
  assert_int_equal(tg_arena_adopt(a, big, 20000, count_free), TG_ETOOBIG);
  assert_true(a->over_limit);
  tg_free(big);
  size_t reserved = a->reserved_bytes, used = a->used_bytes;
  void *buf = tg_malloc(8000);
  assert_int_equal(tg_arena_adopt(a, buf, 8000, count_free), TG_OK);
  assert_true(a->reserved_bytes >= reserved + 8000);
  assert_true(a->used_bytes >= used + 8000);
  assert_null(tg_arena_alloc(a, 8192)); /* the limit sees the adopted bytes */
  assert_int_equal(tg_arena_adopt(a, tg_malloc(10), 10, NULL), TG_OK); /* tg_free */
  tg_arena_ref(a);
  tg_arena_unref(a);
  assert_int_equal(freed, 0);
  tg_arena_unref(a);
  assert_int_equal(freed, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alignment_and_growth),
      cmocka_unit_test(test_limit_fails_cleanly),
      cmocka_unit_test(test_adopt),
      cmocka_unit_test(test_refcount_keeps_memory),
      cmocka_unit_test(test_alloc_failure_injection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
