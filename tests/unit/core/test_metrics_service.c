/* Per-service counters (core/tg_metrics_service.c) and the receivers' shared metrics
 * (core/tg_metrics_receiver.c): label sanitising, service.name from the wire form, the
 * 200-series bound with _overflow_, and the server-refusal mapping. Expected texts are
 * written out by hand from the inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tg_batch.h"
#include "tg_metrics_receiver.h"
#include "tg_metrics_service.h"

/* ResourceSpans { resource: Resource { attributes: [ {host.name: "h1"},
 * {service.name: "svc"} ] } } in wire form. */
static const uint8_t rs_svc[] = {
    0x0a, 0x2a,                                                      /* resource */
    0x0a, 0x11,                                                      /* KeyValue */
    0x0a, 0x09, 'h', 'o', 's', 't', '.', 'n', 'a', 'm', 'e',         /* key */
    0x12, 0x04, 0x0a, 0x02, 'h', '1',                                /* value */
    0x0a, 0x15,                                                      /* KeyValue */
    0x0a, 0x0c, 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e',
    0x12, 0x05, 0x0a, 0x03, 's', 'v', 'c'};

static void test_sanitize(void **state) {
  (void)state;
  char out[TG_METRICS_SERVICE_NAME_MAX + 1];
  tg_metrics_service_sanitize("caf\xc3\xa9", 5, out, sizeof out);
  assert_string_equal(out, "caf\xc3\xa9");
  tg_metrics_service_sanitize("a\xff\x01z\xc3", 5, out, sizeof out); /* bad, control, cut */
  assert_string_equal(out, "a??z?");
  char long_name[200];
  memset(long_name, 'x', sizeof long_name);
  long_name[127] = '\xc3'; /* a 2-byte character straddling the 128-byte cut */
  long_name[128] = '\xa9';
  tg_metrics_service_sanitize(long_name, sizeof long_name, out, sizeof out);
  assert_int_equal(strlen(out), 127);
}

static void test_wire_name(void **state) {
  (void)state;
  const char *name;
  size_t len;
  assert_int_equal(tg_metrics_service_name_wire(rs_svc, sizeof rs_svc, &name, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(name, "svc", 3);
  /* truncated: every prefix is refused or finds no name, never reads past the end */
  for (size_t n = 0; n < sizeof rs_svc; n++)
    assert_int_equal(tg_metrics_service_name_wire(rs_svc, n, &name, &len), -1);
}

static char *render(tg_metrics *reg) {
  static char text[65536];
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(reg, &out), 0);
  assert_true(out.len < sizeof text);
  memcpy(text, out.data ? (const char *)out.data : "", out.len);
  text[out.len] = '\0';
  tg_buf_free(&out);
  return text;
}

/* A batch of two wire segments (3 spans of svc, 2 without a service) counts per service;
 * traces count once per call. */
static void test_count_batch_and_traces(void **state) {
  (void)state;
  uint8_t body[256];
  size_t n = 0;
  body[n++] = 0x0a;
  body[n++] = sizeof rs_svc;
  memcpy(body + n, rs_svc, sizeof rs_svc);
  n += sizeof rs_svc;
  body[n++] = 0x0a;
  body[n++] = 0x00; /* an empty ResourceSpans: no resource */
  size_t offsets[] = {2, n}, lengths[] = {sizeof rs_svc, 0}, counts[] = {3, 2};
  tg_batch *batch = tg_batch_new(1024, 0);
  assert_non_null(batch);
  assert_int_equal(tg_batch_adopt_wire(batch, body, n, offsets, lengths, counts, 2), 0);
  tg_metrics *reg = tg_metrics_new();
  tg_metrics_service_count_batch(reg, batch);
  tg_metrics_service_count_batch(NULL, batch); /* no registry: no-op */
  tg_metrics_service_count_trace(reg, rs_svc, sizeof rs_svc);
  tg_metrics_service_count_trace(reg, rs_svc, sizeof rs_svc);
  tg_batch_free(batch);
  const char *text = render(reg);
  assert_non_null(strstr(text, "tailgate_service_received_spans_total{service_name=\"svc\"} 3\n"));
  assert_non_null(strstr(
      text, "tailgate_service_received_spans_total{service_name=\"unknown_service\"} 2\n"));
  assert_non_null(strstr(text, "tailgate_service_received_traces_total{service_name=\"svc\"} 2\n"));
  tg_metrics_free(reg);
}

/* 250 services: the first 200 get their own series, the other 50 land in _overflow_. */
static void test_overflow_bound(void **state) {
  (void)state;
  tg_metrics *reg = tg_metrics_new();
  for (int i = 0; i < 250; i++) {
    char name[16];
    int len = snprintf(name, sizeof name, "s%d", i);
    tg_metrics_service_add(reg, TG_METRICS_SERVICE_SPANS, name, (size_t)len, 1);
  }
  const char *text = render(reg);
  int series = 0;
  for (const char *p = text; (p = strstr(p, "\ntailgate_service_received_spans_total{")); p++)
    series++;
  assert_int_equal(series, 201);
  assert_non_null(strstr(text, "{service_name=\"s199\"} 1\n"));
  assert_null(strstr(text, "{service_name=\"s200\"}"));
  assert_non_null(strstr(text, "{service_name=\"_overflow_\"} 50\n"));
  tg_metrics_free(reg);
}

/* The server's refusal reasons map to refused requests (and, for malformed and too
 * large, one refused span, as before). */
static void test_receiver_server_refused(void **state) {
  (void)state;
  tg_metrics *reg = tg_metrics_new();
  tg_receiver_metrics m;
  assert_int_equal(tg_receiver_metrics_init(&m, reg, "otlp", "grpc"), 0);
  const char *reasons[] = {"too_large", "malformed", "tls_handshake", "timeout", "timeout",
                           "too_many_connections", "something else"};
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
    tg_receiver_metrics_server_refused(&m, reasons[i]);
  assert_int_equal(tg_metric_get(m.refused_requests[TG_RECV_REQ_TOO_LARGE]), 1);
  assert_int_equal(tg_metric_get(m.refused_requests[TG_RECV_REQ_MALFORMED]), 2);
  assert_int_equal(tg_metric_get(m.refused_requests[TG_RECV_REQ_TLS_HANDSHAKE]), 1);
  assert_int_equal(tg_metric_get(m.refused_requests[TG_RECV_REQ_TIMEOUT]), 2);
  assert_int_equal(tg_metric_get(m.refused_requests[TG_RECV_REQ_TOO_MANY_CONNECTIONS]), 1);
  assert_int_equal(tg_metric_get(m.refused_requests[TG_RECV_REQ_UNAUTHENTICATED]), 0);
  assert_int_equal(tg_metric_get(m.refused[TG_RECV_SPANS_TOO_LARGE]), 1);
  assert_int_equal(tg_metric_get(m.refused[TG_RECV_SPANS_MALFORMED]), 2);
  uint64_t start = tg_receiver_metrics_now();
  tg_receiver_metrics_observe(&m, start);
  const char *text = render(reg);
  assert_non_null(strstr(text, "tailgate_receiver_refused_requests_total{receiver=\"otlp\","
                               "transport=\"grpc\",reason=\"timeout\"} 2\n"));
  assert_non_null(strstr(text, "tailgate_receiver_request_duration_seconds_count{receiver="
                               "\"otlp\",transport=\"grpc\"} 1\n"));
  /* a second receiver shares the families */
  tg_receiver_metrics m2;
  assert_int_equal(tg_receiver_metrics_init(&m2, reg, "otlp/b", "http"), 0);
  assert_ptr_not_equal(m2.accepted, m.accepted);
  tg_receiver_metrics none;
  assert_int_equal(tg_receiver_metrics_init(&none, NULL, "x", "y"), 0);
  tg_receiver_metrics_server_refused(&none, "timeout"); /* no registry: no-op */
  tg_receiver_metrics_observe(&none, start);
  tg_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sanitize),
      cmocka_unit_test(test_wire_name),
      cmocka_unit_test(test_count_batch_and_traces),
      cmocka_unit_test(test_overflow_bound),
      cmocka_unit_test(test_receiver_server_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
