/* Connection deadlines (core/http/tg_http_deadline.c) on an injected clock: header
 * deadline from accept and from a kept-alive request's first byte, the body's minimum
 * rate with its grace, idle between requests, and the phase a real sans-IO connection
 * reports as bytes arrive (so the server's timer sees slowloris as HEADERS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/tg_http_conn.h"
#include "http/tg_http_deadline.h"

static const tg_http_deadline_conf conf = {
    .read_header_timeout_ms = 10000, .idle_timeout_ms = 60000, .min_body_rate = 1000};

static void test_header_deadline(void **state) {
  (void)state;
  tg_http_deadline d;
  tg_http_deadline_start(&d, 5000);
  assert_int_equal(tg_http_deadline_due(&d, &conf), 15000);
  /* slowloris: a byte now and then, still in the headers: the deadline does not move */
  tg_http_deadline_note(&d, 9000, TG_HTTP_PHASE_HEADERS, 1);
  tg_http_deadline_note(&d, 14000, TG_HTTP_PHASE_HEADERS, 1);
  assert_int_equal(tg_http_deadline_due(&d, &conf), 15000);
  assert_int_equal(tg_http_deadline_check(&d, &conf, 14999), TG_HTTP_EXPIRY_NONE);
  assert_int_equal(tg_http_deadline_check(&d, &conf, 15000), TG_HTTP_EXPIRY_HEADER);
  assert_string_equal(tg_http_expiry_name(TG_HTTP_EXPIRY_HEADER), "header");
}

static void test_body_rate(void **state) {
  (void)state;
  tg_http_deadline d;
  tg_http_deadline_start(&d, 0);
  /* headers done at t=2000 with 500 body bytes in the same read */
  tg_http_deadline_note(&d, 2000, TG_HTTP_PHASE_BODY, 500);
  /* grace 10 s + 500 bytes at 1000 B/s = 0.5 s */
  assert_int_equal(tg_http_deadline_due(&d, &conf), 2000 + 10000 + 500);
  tg_http_deadline_note(&d, 9000, TG_HTTP_PHASE_BODY, 4500);
  assert_int_equal(tg_http_deadline_due(&d, &conf), 2000 + 10000 + 5000);
  assert_int_equal(tg_http_deadline_check(&d, &conf, 16999), TG_HTTP_EXPIRY_NONE);
  assert_int_equal(tg_http_deadline_check(&d, &conf, 17000), TG_HTTP_EXPIRY_BODY);
  /* no rate: the body has no deadline of its own */
  tg_http_deadline_conf norate = conf;
  norate.min_body_rate = 0;
  assert_int_equal(tg_http_deadline_due(&d, &norate), UINT64_MAX);
}

static void test_idle_and_keepalive(void **state) {
  (void)state;
  tg_http_deadline d;
  tg_http_deadline_start(&d, 0);
  tg_http_deadline_note(&d, 100, TG_HTTP_PHASE_IDLE, 300); /* one whole request */
  assert_int_equal(tg_http_deadline_due(&d, &conf), 60100);
  /* bytes that start no request (HTTP/2 PING) do not extend idle */
  tg_http_deadline_note(&d, 30000, TG_HTTP_PHASE_IDLE, 17);
  assert_int_equal(tg_http_deadline_due(&d, &conf), 60100);
  assert_int_equal(tg_http_deadline_check(&d, &conf, 60100), TG_HTTP_EXPIRY_IDLE);
  /* the next request's first byte starts a fresh header deadline */
  tg_http_deadline_note(&d, 40000, TG_HTTP_PHASE_HEADERS, 10);
  assert_int_equal(tg_http_deadline_due(&d, &conf), 50000);
}

static int sink(void *ctx, const uint8_t *data, size_t len) {
  (void)ctx;
  (void)data;
  (void)len;
  return 0;
}

static void handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  resp->status = 200;
}

static int feed_str(tg_http_conn *c, const char *s) {
  return tg_http_conn_feed(c, (const uint8_t *)s, strlen(s));
}

static void test_http1_phases(void **state) {
  (void)state;
  tg_http_route route = {"POST", "/x", 0, handler, NULL};
  tg_http_server_stats stats = {0};
  tg_http_router r = {.routes = &route, .n_routes = 1, .max_body_bytes = 4096,
                      .max_concurrent_streams = 10, .stats = &stats};
  tg_http_conn *c = tg_http_conn_new(&r, TG_HTTP_PROTO_AUTO, NULL, "t:1", sink, NULL);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_HEADERS); /* nothing yet */
  assert_int_equal(feed_str(c, "POST /x HTTP/1.1\r\nHost: a\r\n"), TG_OK);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_HEADERS);
  assert_int_equal(feed_str(c, "Content-Length: 4\r\n\r\nab"), TG_OK);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_BODY);
  assert_int_equal(feed_str(c, "cd"), TG_OK);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_IDLE); /* answered, kept alive */
  assert_int_equal(feed_str(c, "PO"), TG_OK);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_HEADERS);
  tg_http_conn_free(c);
}

static void test_http2_phases(void **state) {
  (void)state;
  tg_http_route route = {"POST", "/s/M", 1, handler, NULL};
  tg_http_server_stats stats = {0};
  tg_http_router r = {.routes = &route, .n_routes = 1, .max_body_bytes = 4096,
                      .max_concurrent_streams = 10, .stats = &stats};
  tg_http_conn *c = tg_http_conn_new(&r, TG_HTTP_PROTO_H2, NULL, "t:1", sink, NULL);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_HEADERS);
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  assert_int_equal(tg_http_conn_feed(c, (const uint8_t *)preface, sizeof preface - 1), TG_OK);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_HEADERS); /* no frame yet */
  static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
  assert_int_equal(tg_http_conn_feed(c, settings, sizeof settings), TG_OK);
  assert_int_equal(tg_http_conn_phase(c), TG_HTTP_PHASE_IDLE);
  /* An h2-only connection refuses HTTP/1.1 with GOAWAY instead of parsing it. */
  tg_http_conn_free(c);
  c = tg_http_conn_new(&r, TG_HTTP_PROTO_H2, NULL, "t:1", sink, NULL);
  assert_int_equal(feed_str(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), TG_ECLOSED);
  assert_int_equal(stats.bad_requests, 1);
  tg_http_conn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_deadline),   cmocka_unit_test(test_body_rate),
      cmocka_unit_test(test_idle_and_keepalive), cmocka_unit_test(test_http1_phases),
      cmocka_unit_test(test_http2_phases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
