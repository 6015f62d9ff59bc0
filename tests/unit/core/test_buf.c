/* tg_buf: growth, the hard cap, NUL termination (also for an empty append to a fresh
 * buffer, which once wrote its NUL through a NULL pointer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_buf.h"
#include "tg_error.h"

static void test_empty_append_on_fresh_buffer(void **state) {
  (void)state;
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_buf_append(&b, "", 0), TG_OK);
  assert_non_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.data[0], '\0');
  tg_buf_free(&b);
}

static void test_growth_cap_and_format(void **state) {
  (void)state;
  tg_buf b;
  tg_buf_init(&b, 1000);
  for (int i = 0; i < 99; i++)
    assert_int_equal(tg_buf_append_str(&b, "0123456789"), TG_OK);
  assert_int_equal(b.len, 990);
  assert_int_equal(tg_buf_append_str(&b, "0123456789ab"), TG_ETOOBIG);
  assert_int_equal(b.len, 990); /* unchanged on refusal */
  assert_int_equal(tg_buf_appendf(&b, "%d", 123456789), TG_OK);
  assert_int_equal(b.len, 999);
  assert_string_equal((char *)b.data + 990, "123456789");
  tg_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_append_on_fresh_buffer),
      cmocka_unit_test(test_growth_cap_and_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
