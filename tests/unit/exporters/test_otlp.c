/* The otlp (gRPC) exporter: configuration checks, and against an unreachable port it
 * retries, then counts the spans as failed, and shuts down promptly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exp_test_util.h"
#include "tg_export_queue.h"
#include "tg_alloc.h"
#include "tg_grpc_exporter.h"

extern const tg_component tg_exporter_otlp;

static void test_config_errors(void **state) {
  (void)state;
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/a", "tls:\n  insecure: true\n", &err), -1);
  assert_non_null(strstr(err.msg, "endpoint"));
  exp_teardown(&fx);
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/a", "endpoint: localhost\n", &err), -1);
  exp_teardown(&fx);
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/a",
                             "endpoint: localhost:4317\ntls:\n  cert_file: /nonexistent\n", &err),
                   -1);
  exp_teardown(&fx);
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/a",
                             "endpoint: localhost:4317\nheaders:\n  grpc-timeout: x\n", &err),
                   -1);
  exp_teardown(&fx);
  /* valid, never started: destroy after create only */
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/a",
                             "endpoint: https://collector.example:4317/\n"
                             "headers:\n  Authorization: Bearer x\n", &err),
                   TG_OK);
  assert_int_equal(tg_component_ready(&fx.inst), 1);
  exp_teardown(&fx);
}

static void test_parse_endpoint(void **state) {
  (void)state;
  /* exercised through create: http:// means plaintext even without tls.insecure */
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/b", "endpoint: http://[::1]:4317\n",
                             &err), TG_OK);
  exp_teardown(&fx);
  /* gRPC's own target syntax passes through unchanged; TLS follows tls.insecure */
  char *target = NULL;
  bool tls = true;
  assert_int_equal(tg_otlpexp_parse_endpoint("ipv4:127.0.0.1:1,127.0.0.1:2", true, &target, &tls,
                                             &err), TG_OK);
  assert_string_equal(target, "ipv4:127.0.0.1:1,127.0.0.1:2");
  assert_false(tls);
  tg_free(target);
  assert_int_equal(tg_otlpexp_parse_endpoint("dns:///collector.example:4317", false, &target,
                                             &tls, &err), TG_OK);
  assert_string_equal(target, "dns:///collector.example:4317");
  assert_true(tls);
  tg_free(target);
  assert_int_equal(tg_otlpexp_parse_endpoint("ipv4:", true, &target, &tls, &err), TG_ECONFIG);
  assert_int_equal(tg_otlpexp_parse_endpoint("dns:a b:1", true, &target, &tls, &err), TG_ECONFIG);
  assert_int_equal(tg_otlpexp_parse_endpoint("ftp://a:1", true, &target, &tls, &err), TG_ECONFIG);
}

static const char *unreachable_yaml =
    "endpoint: 127.0.0.1:1\n"
    "tls:\n  insecure: true\n"
    "timeout: 2s\n"
    "compression: gzip\n"
    "headers:\n  x-tenant: t1\n"
    "retry_on_failure:\n  initial_interval: 20ms\n  max_interval: 50ms\n"
    "  max_elapsed_time: 400ms\n"
    "sending_queue:\n  num_consumers: 2\n  queue_size: 10\n";

static void test_unreachable_retries_then_fails(void **state) {
  (void)state;
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/down", unreachable_yaml, &err), TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  uint64_t t0 = exp_now_ms();
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(3)), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(2)), TG_OK);
  EXP_WAIT_FOR(EXP_FAILED(&fx) == 5, 15000);
  assert_int_equal(EXP_FAILED(&fx), 5);
  assert_int_equal(EXP_SENT(&fx), 0);
  /* it retried: giving up took at least a couple of back-off intervals */
  assert_true(exp_now_ms() - t0 >= 40);
  uint64_t t1 = exp_now_ms();
  exp_stop(&fx);
  assert_true(fx.stopped);
  assert_true(exp_now_ms() - t1 < 3000);
  exp_teardown(&fx);
}

static void test_shutdown_with_pending_is_prompt(void **state) {
  (void)state;
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlp, "otlp/pending",
                             "endpoint: 127.0.0.1:1\ntls:\n  insecure: true\n"
                             "retry_on_failure:\n  initial_interval: 10s\n"
                             "sending_queue:\n  num_consumers: 1\n",
                             &err),
                   TG_OK);
  fx.svc.shutdown_grace_ms = 300;
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  for (int i = 0; i < 4; i++)
    assert_int_equal(tg_component_consume(&fx.inst, exp_batch(1)), TG_OK);
  uint64_t t0 = exp_now_ms();
  exp_stop(&fx);
  uint64_t took = exp_now_ms() - t0;
  assert_true(fx.stopped);
  assert_true(took < 5000);
  assert_int_equal(EXP_FAILED(&fx), 4); /* nothing silently dropped */
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(1)), TG_ECLOSED);
  exp_teardown(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_parse_endpoint),
      cmocka_unit_test(test_unreachable_retries_then_fails),
      cmocka_unit_test(test_shutdown_with_pending_is_prompt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
