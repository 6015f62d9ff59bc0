/* Self-tracing: the sampling threshold on the trace ID's low 56 bits (exact boundaries),
 * continuing a caller's context (same trace, caller's span as parent), children, the
 * headers written for each propagator, and the ring's bound. The sender posts to a closed
 * port: failures are counted, never block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_selftrace.h"

static void test_sampling_threshold(void **state) {
  (void)state;
  uint8_t id[16] = {0};
  /* ratio 0.5: keep when R >= 2^55 */
  id[9] = 0x80;
  assert_int_equal(tg_selftrace_sampled(id, 0.5), 1);
  memset(id + 9, 0xff, 7);
  id[9] = 0x7f;
  assert_int_equal(tg_selftrace_sampled(id, 0.5), 0);
  /* the high 9 bytes do not matter */
  memset(id, 0xff, 9);
  assert_int_equal(tg_selftrace_sampled(id, 0.5), 0);
  /* ratio 0.01: threshold 0.99 * 2^56 = 0xfd70a3d70a3d70.a4 */
  const uint8_t below[7] = {0xfd, 0x70, 0xa3, 0xd7, 0x0a, 0x3d, 0x70};
  const uint8_t above[7] = {0xfd, 0x70, 0xa3, 0xd7, 0x0a, 0x3d, 0x71};
  memcpy(id + 9, below, 7);
  assert_int_equal(tg_selftrace_sampled(id, 0.01), 0);
  memcpy(id + 9, above, 7);
  assert_int_equal(tg_selftrace_sampled(id, 0.01), 1);
  assert_int_equal(tg_selftrace_sampled(id, 0.0), 0);
  memset(id + 9, 0, 7);
  assert_int_equal(tg_selftrace_sampled(id, 1.0), 1);
}

typedef struct hdrs {
  char names[8][32], values[8][80];
  int n;
} hdrs;

static void add(void *arg, const char *name, const char *value) {
  hdrs *h = arg;
  snprintf(h->names[h->n], sizeof h->names[0], "%s", name);
  snprintf(h->values[h->n], sizeof h->values[0], "%s", value);
  h->n++;
}

static void test_spans_and_inject(void **state) {
  (void)state;
  tg_errbuf err;
  tg_selftrace *t = tg_selftrace_create("http://127.0.0.1:1/v1/traces", 1.0,
                                        TG_PROPAGATE_TRACECONTEXT | TG_PROPAGATE_B3 |
                                            TG_PROPAGATE_JAEGER,
                                        NULL, &err);
  assert_non_null(t);
  tg_tracectx caller;
  assert_int_equal(tg_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                        55, &caller, NULL),
                   0);
  tg_selfspan recv, proc;
  assert_int_equal(tg_selftrace_begin(t, &caller, "tailgate.receive", TG_SELFSPAN_SERVER, &recv),
                   1);
  assert_memory_equal(recv.trace_id, caller.trace_id, 16);
  assert_memory_equal(recv.parent_id, caller.span_id, 8);
  assert_memory_not_equal(recv.span_id, caller.span_id, 8);
  assert_int_equal(tg_selftrace_child(t, &recv, "tailgate.process", TG_SELFSPAN_INTERNAL, &proc),
                   1);
  assert_memory_equal(proc.parent_id, recv.span_id, 8);
  tg_selfspan_attr_int(&proc, "n", 3);
  tg_selfspan_attr_str(&proc, "outcome", "ok");
  assert_int_equal(proc.n_attrs, 2);
  tg_tracectx out;
  tg_selfspan_context(&proc, &out);
  hdrs h = {.n = 0};
  assert_int_equal(tg_selftrace_inject(t, &out, add, &h), 3);
  char want[80];
  char span[17];
  tg_hex_encode(proc.span_id, 8, span);
  snprintf(want, sizeof want, "00-4bf92f3577b34da6a3ce929d0e0e4736-%s-01", span);
  assert_string_equal(h.names[0], "traceparent");
  assert_string_equal(h.values[0], want);
  assert_string_equal(h.names[1], "b3");
  char rspan[17];
  tg_hex_encode(recv.span_id, 8, rspan);
  snprintf(want, sizeof want, "4bf92f3577b34da6a3ce929d0e0e4736-%s-1-%s", span, rspan);
  assert_string_equal(h.values[1], want);
  assert_string_equal(h.names[2], "uber-trace-id");
  snprintf(want, sizeof want, "4bf92f3577b34da6a3ce929d0e0e4736:%s:%s:01", span, rspan);
  assert_string_equal(h.values[2], want);
  tg_selftrace_end(t, &proc);
  tg_selftrace_end(t, &recv);
  tg_selftrace_end(t, &recv); /* a second end is a no-op */
  tg_selftrace_stats st;
  tg_selftrace_get_stats(t, &st);
  assert_int_equal(st.sampled, 2);
  tg_selftrace_destroy(t); /* sends (and fails against the closed port) without hanging */
}

static void test_ratio_zero_and_null(void **state) {
  (void)state;
  tg_selfspan s;
  assert_int_equal(tg_selftrace_begin(NULL, NULL, "x", TG_SELFSPAN_SERVER, &s), 0);
  tg_selftrace_end(NULL, &s);
  tg_errbuf err;
  tg_selftrace *t = tg_selftrace_create("http://127.0.0.1:1/", 0.0, TG_PROPAGATE_TRACECONTEXT,
                                        NULL, &err);
  assert_non_null(t);
  for (int i = 0; i < 100; i++)
    assert_int_equal(tg_selftrace_begin(t, NULL, "x", TG_SELFSPAN_SERVER, &s), 0);
  tg_selftrace_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sampling_threshold),
      cmocka_unit_test(test_spans_and_inject),
      cmocka_unit_test(test_ratio_zero_and_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
