/* The telemetry collector's new families: tailgate_uptime_seconds (monotonic, from the
 * start) and tailgate_config_info{sha256} (only once a hash is set), in the exposition
 * after the registry's families. No listener: address NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tg_telemetry.h"

static int stopped;
static void on_stopped(void *ctx) {
  (void)ctx;
  stopped = 1;
}

static void test_uptime_and_config_info(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_metrics *reg = tg_metrics_new();
  tg_errbuf err = {{0}};
  tg_telemetry *tel = tg_telemetry_start(&loop, reg, NULL, NULL, NULL, &err);
  assert_non_null(tel);
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  tg_buf_append(&out, "", 1);
  assert_null(strstr((char *)out.data, "tailgate_config_info"));
  const char *up = strstr((char *)out.data, "\ntailgate_uptime_seconds ");
  assert_non_null(up);
  double secs = strtod(up + strlen("\ntailgate_uptime_seconds "), NULL);
  assert_true(secs >= 0 && secs < 5);
  assert_non_null(strstr((char *)out.data, "# TYPE tailgate_uptime_seconds gauge\n"));
  tg_buf_free(&out);
  tg_telemetry_set_config_hash(tel, "0123456789abcdef");
  assert_string_equal(tg_telemetry_config_hash(tel), "0123456789abcdef");
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  tg_buf_append(&out, "", 1);
  assert_non_null(strstr((char *)out.data,
                         "# TYPE tailgate_config_info gauge\n"
                         "tailgate_config_info{sha256=\"0123456789abcdef\"} 1\n"));
  tg_buf_free(&out);
  stopped = 0;
  tg_telemetry_stop(tel, on_stopped, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(stopped, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uptime_and_config_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
