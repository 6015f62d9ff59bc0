/* Trace context on the HTTP exporters' requests (tg_http_client_trace_begin/end): for each
 * propagator the exact header lines chained in front of the exporter's own headers, the
 * sampled flag following the self-tracer's decision, a new trace per attempt, the
 * tailgate.export span's attributes, and nothing at all when self-tracing is off.
 * Expected lines are built here from the span's IDs with snprintf("%02x"), independently
 * of the library's formatters. The self-tracer posts to a closed port (never reached
 * within the test's lifetime or counted as failures, which is fine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tg_http_send.h"

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", b[i]);
}

typedef struct fixture {
  tg_selftrace *t;
  tg_http_client c;
  struct curl_slist *base;
  tg_http_tls_conf tls;
  char tid[33], sid[17];
} fixture;

static void setup(fixture *f, double ratio, unsigned propagators) {
  memset(f, 0, sizeof *f);
  assert_null(tg_http_global_init());
  tg_errbuf err;
  if (propagators) {
    f->t = tg_selftrace_create("http://127.0.0.1:1/v1/traces", ratio, propagators, NULL, &err);
    assert_non_null(f->t);
  }
  assert_int_equal(tg_http_header_add(&f->base, "Content-Type", "application/x-protobuf"),
                   TG_OK);
  tg_http_client_opts o = {.url = "http://127.0.0.1:1/v1/traces", .headers = f->base,
                           .timeout_ms = 1000, .tls = &f->tls, .max_body = 64,
                           .tracer = f->t, .exporter = "otlphttp/backend"};
  assert_int_equal(tg_http_client_init(&f->c, &o), TG_OK);
}

static void begin(fixture *f, size_t spans, unsigned attempt) {
  tg_http_client_trace_begin(&f->c, spans, attempt);
  hex(f->c.span.trace_id, 16, f->tid);
  hex(f->c.span.span_id, 8, f->sid);
}

static void teardown(fixture *f) {
  tg_http_client_fini(&f->c);
  curl_slist_free_all(f->base);
  tg_selftrace_destroy(f->t);
}

/* The lines in front of the base list, which must follow them unchanged. */
static int lines(const fixture *f, const char *out[TG_SELFTRACE_MAX_HEADERS]) {
  int n = 0;
  const struct curl_slist *l = f->c.trace_nodes[0].data ? &f->c.trace_nodes[0] : NULL;
  for (; l && l != f->base; l = l->next) {
    assert_true(n < TG_SELFTRACE_MAX_HEADERS);
    out[n++] = l->data;
  }
  if (n)
    assert_ptr_equal(l, f->base);
  return n;
}

static void test_tracecontext_sampled(void **state) {
  (void)state;
  fixture f;
  setup(&f, 1.0, TG_PROPAGATE_TRACECONTEXT);
  begin(&f, 7, 2);
  const char *got[TG_SELFTRACE_MAX_HEADERS];
  assert_int_equal(lines(&f, got), 1);
  char want[128];
  snprintf(want, sizeof want, "traceparent: 00-%s-%s-03", f.tid, f.sid); /* sampled|random */
  assert_string_equal(got[0], want);
  const tg_selfspan *s = &f.c.span;
  assert_int_equal(s->sampled, 1);
  assert_string_equal(s->name, "tailgate.export");
  assert_int_equal(s->kind, TG_SELFSPAN_CLIENT);
  uint8_t zero[8] = {0};
  assert_memory_equal(s->parent_id, zero, 8); /* a root: a new trace per attempt */
  assert_int_equal(s->n_attrs, 3);
  assert_string_equal(s->attrs[0].key, "tailgate.exporter");
  assert_string_equal(s->attrs[0].s, "otlphttp/backend");
  assert_string_equal(s->attrs[1].key, "tailgate.spans");
  assert_int_equal(s->attrs[1].i, 7);
  assert_string_equal(s->attrs[2].key, "tailgate.attempt");
  assert_int_equal(s->attrs[2].i, 2);
  f.c.last_status = 503; /* as a post answered 503 would leave it */
  tg_http_client_trace_end(&f.c, TG_SEND_RETRYABLE);
  assert_int_equal(s->n_attrs, 5);
  assert_string_equal(s->attrs[3].key, "tailgate.outcome");
  assert_string_equal(s->attrs[3].s, "retryable");
  assert_string_equal(s->attrs[4].key, "http.response.status_code");
  assert_int_equal(s->attrs[4].i, 503);
  assert_int_equal(s->error, 1);
  tg_selftrace_stats st;
  tg_selftrace_get_stats(f.t, &st);
  assert_int_equal(st.sampled, 1);

  /* the next attempt: another trace, the lines replaced, not appended */
  char first[33];
  memcpy(first, f.tid, sizeof first);
  begin(&f, 7, 3);
  assert_int_equal(lines(&f, got), 1);
  assert_string_not_equal(first, f.tid);
  snprintf(want, sizeof want, "traceparent: 00-%s-%s-03", f.tid, f.sid);
  assert_string_equal(got[0], want);
  f.c.last_status = 0; /* no response: no status attribute */
  tg_http_client_trace_end(&f.c, TG_SEND_OK);
  assert_int_equal(s->n_attrs, 4);
  assert_string_equal(s->attrs[3].s, "ok");
  assert_int_equal(s->error, 0);
  teardown(&f);
}

static void test_b3_jaeger_unsampled(void **state) {
  (void)state;
  fixture f;
  setup(&f, 0.0, TG_PROPAGATE_B3 | TG_PROPAGATE_JAEGER);
  begin(&f, 1, 1);
  const char *got[TG_SELFTRACE_MAX_HEADERS];
  assert_int_equal(lines(&f, got), 2);
  char want[128];
  snprintf(want, sizeof want, "b3: %s-%s-0", f.tid, f.sid);
  assert_string_equal(got[0], want);
  snprintf(want, sizeof want, "uber-trace-id: %s:%s:0:00", f.tid, f.sid);
  assert_string_equal(got[1], want);
  assert_int_equal(f.c.span.sampled, 0); /* propagated as not sampled, nothing recorded */
  tg_http_client_trace_end(&f.c, TG_SEND_OK);
  tg_selftrace_stats st;
  tg_selftrace_get_stats(f.t, &st);
  assert_int_equal(st.sampled, 0);
  teardown(&f);
}

static void test_b3multi_and_all(void **state) {
  (void)state;
  fixture f;
  setup(&f, 1.0, TG_PROPAGATE_B3_MULTI);
  begin(&f, 1, 1);
  const char *got[TG_SELFTRACE_MAX_HEADERS];
  assert_int_equal(lines(&f, got), 3);
  char want[128];
  snprintf(want, sizeof want, "X-B3-TraceId: %s", f.tid);
  assert_string_equal(got[0], want);
  snprintf(want, sizeof want, "X-B3-SpanId: %s", f.sid);
  assert_string_equal(got[1], want);
  assert_string_equal(got[2], "X-B3-Sampled: 1");
  tg_http_client_trace_end(&f.c, TG_SEND_PERMANENT);
  teardown(&f);

  setup(&f, 1.0,
        TG_PROPAGATE_TRACECONTEXT | TG_PROPAGATE_B3 | TG_PROPAGATE_B3_MULTI |
            TG_PROPAGATE_JAEGER);
  begin(&f, 1, 1);
  assert_int_equal(lines(&f, got), 6);
  snprintf(want, sizeof want, "traceparent: 00-%s-%s-03", f.tid, f.sid);
  assert_string_equal(got[0], want);
  snprintf(want, sizeof want, "b3: %s-%s-1", f.tid, f.sid);
  assert_string_equal(got[1], want);
  snprintf(want, sizeof want, "uber-trace-id: %s:%s:0:01", f.tid, f.sid);
  assert_string_equal(got[5], want);
  tg_http_client_trace_end(&f.c, TG_SEND_OK);
  teardown(&f);
}

static void test_off_injects_nothing(void **state) {
  (void)state;
  fixture f;
  setup(&f, 1.0, 0); /* no tracer: telemetry.traces has no endpoint */
  begin(&f, 5, 1);
  const char *got[TG_SELFTRACE_MAX_HEADERS];
  assert_int_equal(lines(&f, got), 0);
  assert_int_equal(f.c.span.sampled, 0);
  tg_http_client_trace_end(&f.c, TG_SEND_OK); /* a no-op */
  teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tracecontext_sampled),
      cmocka_unit_test(test_b3_jaeger_unsampled),
      cmocka_unit_test(test_b3multi_and_all),
      cmocka_unit_test(test_off_injects_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
