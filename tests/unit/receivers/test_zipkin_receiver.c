/* The zipkin receiver: its HTTP handler called with fake requests and a recording
 * consumer (no sockets), checking every answer the issue lists (202, 400 with the reason,
 * 405, 415, 429 and 503 with Retry-After, 500), what reaches the pipeline, and the
 * counters; plus create/start/stop/destroy on a real loop (a listener on port 0), the
 * key table (top-level auth, tls.reload_interval and connection limits, as confighttp)
 * and start-up refusing an authenticator that is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "receivers/zipkin/zipkin.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_service.h"
#include "tg_yaml.h"

typedef struct sink {
  int answer;
  size_t calls, spans;
  tg_batch *last;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  s->calls++;
  if (s->answer != TG_OK) {
    if (s->answer != TG_EAGAIN)
      tg_batch_free(batch);
    return s->answer;
  }
  s->spans += batch->span_count;
  tg_batch_free(s->last);
  s->last = batch;
  return TG_OK;
}

typedef struct fixture {
  uv_loop_t loop;
  tg_service service;
  tg_instance instance;
  tg_zipkin_conf conf;
  sink sink;
  int stopped;
} fixture;

static int setup(void **state) {
  fixture *f = tg_calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  f->service.loop = &f->loop;
  f->service.metrics = tg_metrics_new();
  f->instance.component = &tg_receiver_zipkin;
  f->instance.id = "zipkin";
  f->instance.service = &f->service;
  f->instance.conf = &f->conf;
  f->instance.next = (tg_consumer){sink_consume, &f->sink};
  f->conf.endpoint = "127.0.0.1:0";
  f->conf.max_request_body_size = 1 << 20;
  tg_errbuf err;
  assert_int_equal(tg_component_create(&f->instance, &err), TG_OK);
  assert_int_equal(tg_zipkin_counters_init(f->instance.state, f->service.metrics, "zipkin"),
                   TG_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tg_component_destroy(&f->instance);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tg_batch_free(f->sink.last);
  tg_metrics_free(f->service.metrics);
  tg_free(f);
  return 0;
}

static tg_zipkin_receiver *recv_of(fixture *f) { return f->instance.state; }

static int64_t refused(fixture *f, tg_zipkin_format t, tg_zipkin_refusal r) {
  return tg_metric_get(recv_of(f)->counters[t].refused[r]);
}

static int post(fixture *f, const char *method, const char *path, const char *ctype,
                const char *body, tg_http_response *resp) {
  tg_http_header h[1] = {{"content-type", ctype}};
  tg_http_request req = {.method = method, .path = path, .headers = h,
                         .n_headers = ctype ? 1 : 0, .body = (const uint8_t *)body,
                         .body_len = body ? strlen(body) : 0, .http_version = 1};
  memset(resp, 0, sizeof *resp);
  resp->status = 200;
  tg_buf_init(&resp->body, 0);
  tg_zipkin_http_handle(recv_of(f), &req, resp);
  return resp->status;
}

static const char *header(const tg_http_response *r, const char *name) {
  for (size_t i = 0; i < r->n_extra; i++)
    if (!strcmp(r->extra[i].name, name))
      return r->extra[i].value;
  return NULL;
}

#define GOOD "[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"a\"},{\"traceId\":\"1\",\"id\":\"3\"}]"
#define V2 TG_ZIPKIN_V2_PATH
#define V1 TG_ZIPKIN_V1_PATH

static void test_accepts(void **state) {
  fixture *f = *state;
  tg_http_response r;
  assert_int_equal(post(f, "POST", V2, "application/json", GOOD, &r), 202);
  assert_int_equal(r.body.len, 0);
  assert_int_equal(post(f, "POST", V2, "Application/JSON; charset=utf-8", GOOD, &r), 202);
  assert_int_equal(post(f, "POST", V2, NULL, GOOD, &r), 202); /* no type: JSON */
  assert_int_equal(post(f, "POST", V1, "application/json", GOOD, &r), 202);
  assert_int_equal(f->sink.spans, 8);
  assert_int_equal(tg_metric_get(recv_of(f)->counters[TG_ZIPKIN_V2_JSON].accepted), 6);
  assert_int_equal(tg_metric_get(recv_of(f)->counters[TG_ZIPKIN_V1_JSON].accepted), 2);
  /* the empty list is fine and pushes nothing */
  size_t calls = f->sink.calls;
  assert_int_equal(post(f, "POST", V2, "application/json", "[]", &r), 202);
  assert_int_equal(f->sink.calls, calls);
  /* a span with a zero id is dropped and counted, the others pass */
  assert_int_equal(post(f, "POST", V2, "application/json",
                        "[{\"traceId\":\"1\",\"id\":\"0\"},{\"traceId\":\"1\",\"id\":\"9\"}]", &r),
                   202);
  assert_int_equal(refused(f, TG_ZIPKIN_V2_JSON, TG_ZIPKIN_REFUSED_INVALID), 1);
  assert_int_equal(f->sink.last->span_count, 1);
}

static void test_refusals(void **state) {
  fixture *f = *state;
  tg_http_response r;
  assert_int_equal(post(f, "POST", V2, "application/json", "[{\"id\":\"1\"}]", &r), 400);
  assert_string_equal((char *)r.body.data, "span 0: traceId is required (at byte 11)\n");
  tg_buf_free(&r.body);
  assert_int_equal(refused(f, TG_ZIPKIN_V2_JSON, TG_ZIPKIN_REFUSED_MALFORMED), 1);
  assert_int_equal(post(f, "POST", V2, "application/x-protobuf", "\x0a\x05\x01", &r), 400);
  tg_buf_free(&r.body);
  assert_int_equal(refused(f, TG_ZIPKIN_V2_PROTO, TG_ZIPKIN_REFUSED_MALFORMED), 1);
  assert_int_equal(post(f, "POST", V2, "text/plain", GOOD, &r), 415);
  tg_buf_free(&r.body);
  assert_int_equal(post(f, "POST", V1, "application/x-protobuf", GOOD, &r), 415);
  tg_buf_free(&r.body);
  assert_int_equal(refused(f, TG_ZIPKIN_V1_JSON, TG_ZIPKIN_REFUSED_MALFORMED), 1);
  assert_int_equal(post(f, "GET", V2, NULL, NULL, &r), 405);
  assert_string_equal(header(&r, "allow"), "POST");
  tg_buf_free(&r.body);
  assert_int_equal(f->sink.calls, 0);
}

static void test_backpressure(void **state) {
  fixture *f = *state;
  tg_http_response r;
  f->sink.answer = TG_EAGAIN;
  assert_int_equal(post(f, "POST", V2, "application/json", GOOD, &r), 429);
  assert_string_equal(header(&r, "retry-after"), "1");
  tg_buf_free(&r.body);
  assert_int_equal(refused(f, TG_ZIPKIN_V2_JSON, TG_ZIPKIN_REFUSED_BACKPRESSURE), 2);
  f->sink.answer = TG_ECLOSED;
  assert_int_equal(post(f, "POST", V2, "application/json", GOOD, &r), 503);
  assert_string_equal(header(&r, "retry-after"), "1");
  tg_buf_free(&r.body);
  f->sink.answer = TG_ENOMEM;
  assert_int_equal(post(f, "POST", V2, "application/json", GOOD, &r), 500);
  tg_buf_free(&r.body);
  assert_int_equal(refused(f, TG_ZIPKIN_V2_JSON, TG_ZIPKIN_REFUSED_ERROR), 2);
  f->sink.answer = TG_OK;
  recv_of(f)->stopping = 1;
  assert_int_equal(post(f, "POST", V2, "application/json", GOOD, &r), 503);
  tg_buf_free(&r.body);
  recv_of(f)->stopping = 0;
}

static void on_stopped(tg_instance *self) {
  fixture *f = (fixture *)((char *)self - offsetof(fixture, instance));
  f->stopped = 1;
}

static void test_lifecycle(void **state) {
  fixture *f = *state;
  tg_errbuf err;
  assert_int_equal(tg_component_start(&f->instance, &err), TG_OK);
  assert_true(tg_component_ready(&f->instance));
  tg_component_stop(&f->instance, on_stopped);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_true(f->stopped);
  assert_false(tg_component_ready(&f->instance));
}

/* Applies yaml to a fresh conf with the receiver's own key table; returns diag failed. */
static int apply(const char *yaml, tg_zipkin_conf *conf, char *msg, size_t msg_size) {
  tg_diag parse_diag, diag;
  tg_diag_init(&parse_diag);
  tg_diag_init(&diag);
  tg_yaml_doc *doc = tg_yaml_parse("z.yaml", yaml, strlen(yaml), &parse_diag);
  assert_non_null(doc);
  assert_false(tg_diag_failed(&parse_diag));
  memset(conf, 0, sizeof *conf);
  const tg_yaml_node *root = tg_yaml_root(doc);
  tg_conf_apply(tg_receiver_zipkin.keys, tg_receiver_zipkin.n_keys, root, conf,
                "receivers::zipkin", &diag);
  int failed = tg_diag_failed(&diag);
  if (msg && msg_size) {
    msg[0] = '\0';
    if (diag.n)
      snprintf(msg, msg_size, "%s", diag.lines[0]);
  }
  tg_yaml_free(doc);
  tg_diag_free(&parse_diag);
  tg_diag_free(&diag);
  return failed;
}

static void test_keys(void **state) {
  (void)state;
  tg_zipkin_conf c;
  assert_false(apply("endpoint: 127.0.0.1:9411\n", &c, NULL, 0));
  assert_int_equal(c.limits.read_header_timeout_ms, 10000);
  assert_int_equal(c.limits.idle_timeout_ms, 60000);
  assert_int_equal(c.limits.min_body_rate, 1024);
  assert_int_equal(c.limits.max_connections, 1024);
  assert_int_equal(c.limits.max_connections_per_peer, 0);
  assert_int_equal(c.limits.max_concurrent_streams, 100);
  assert_int_equal(c.tls_reload_interval_ms, 0);
  assert_null(c.authenticator);
  tg_conf_release(tg_receiver_zipkin.keys, tg_receiver_zipkin.n_keys, &c);

  assert_false(apply("endpoint: 127.0.0.1:9411\n"
                     "auth: {authenticator: bearertokenauth/in}\n"
                     "tls: {cert_file: s.pem, key_file: s.key, reload_interval: 90s}\n"
                     "read_header_timeout: 2s\nidle_timeout: 5m\nmin_body_rate: 4KiB\n"
                     "max_connections: 300\nmax_connections_per_peer: 7\n"
                     "max_concurrent_streams: 9\n",
                     &c, NULL, 0));
  assert_string_equal(c.authenticator, "bearertokenauth/in");
  assert_int_equal(c.tls_reload_interval_ms, 90000);
  assert_int_equal(c.limits.read_header_timeout_ms, 2000);
  assert_int_equal(c.limits.idle_timeout_ms, 300000);
  assert_int_equal(c.limits.min_body_rate, 4096);
  assert_int_equal(c.limits.max_connections, 300);
  assert_int_equal(c.limits.max_connections_per_peer, 7);
  assert_int_equal(c.limits.max_concurrent_streams, 9);
  tg_http_server_options opts = {0};
  tg_http_server_conf_apply(&c.limits, &opts);
  assert_int_equal(opts.read_header_timeout_ms, 2000);
  assert_int_equal(opts.max_connections_per_peer, 7);
  tg_conf_release(tg_receiver_zipkin.keys, tg_receiver_zipkin.n_keys, &c);

  /* the Collector's place is the top level: under protocols.* it is an unknown key */
  char msg[512];
  assert_true(apply("protocols: {http: {auth: {authenticator: a}}}\n", &c, msg, sizeof msg));
  assert_non_null(strstr(msg, "unknown key"));
  tg_conf_release(tg_receiver_zipkin.keys, tg_receiver_zipkin.n_keys, &c);
  assert_true(apply("max_connections: 0\n", &c, NULL, 0));
  tg_conf_release(tg_receiver_zipkin.keys, tg_receiver_zipkin.n_keys, &c);
}

/* An authenticator that is not a configured extension: start refuses (as validate does),
 * opening no listener. */
static void test_unknown_authenticator(void **state) {
  fixture *f = *state;
  f->conf.authenticator = "bearertokenauth/missing";
  tg_errbuf err;
  err.msg[0] = '\0';
  assert_int_equal(tg_component_start(&f->instance, &err), TG_ECONFIG);
  assert_non_null(strstr(err.msg, "bearertokenauth/missing"));
  assert_null(recv_of(f)->server);
  assert_false(tg_component_ready(&f->instance));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_accepts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
      cmocka_unit_test(test_keys),
      cmocka_unit_test_setup_teardown(test_unknown_authenticator, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
