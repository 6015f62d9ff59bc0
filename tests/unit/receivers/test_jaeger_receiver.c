/* The jaeger receiver: the Thrift HTTP and api_v2 gRPC handlers called with fake requests
 * (status codes, content types, counters, back-pressure), and the UDP agent endpoints
 * end to end on a real libuv loop and real sockets: datagrams in, batches out of the
 * decoder threads, drops counted, TG_EAGAIN retried, stop and destroy leaving nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "exporters/jaeger/jaeger_thrift_encode.h"
#include "receivers/jaeger/jaeger.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_service.h"

typedef struct sink {
  int answer;
  int eagain_left; /* answer TG_EAGAIN this many times first */
  size_t calls, spans, batches;
  tg_batch *last;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  s->calls++;
  if (s->eagain_left > 0) {
    s->eagain_left--;
    return TG_EAGAIN;
  }
  if (s->answer != TG_OK) {
    if (s->answer != TG_EAGAIN)
      tg_batch_free(batch);
    return s->answer;
  }
  s->spans += batch->span_count;
  s->batches++;
  tg_batch_free(s->last);
  s->last = batch;
  return TG_OK;
}

typedef struct fixture {
  uv_loop_t loop;
  tg_service service;
  tg_instance instance;
  tg_jaeger_conf conf;
  sink sink;
  int stopped;
} fixture;

static int setup(void **state) {
  fixture *f = tg_calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  f->service.loop = &f->loop;
  f->service.metrics = tg_metrics_new();
  f->instance.component = &tg_receiver_jaeger;
  f->instance.id = "jaeger";
  f->instance.service = &f->service;
  f->instance.conf = &f->conf;
  f->instance.next = (tg_consumer){sink_consume, &f->sink};
  f->conf.grpc = 1;
  f->conf.grpc_endpoint = "127.0.0.1:0";
  f->conf.grpc_max_recv_msg_size_mib = 4;
  f->conf.thrift_http = 1;
  f->conf.http_endpoint = "127.0.0.1:0";
  f->conf.http_max_request_body_size = 1 << 20;
  for (int p = 0; p < 2; p++)
    f->conf.udp[p] = (tg_jaeger_udp_conf){.enabled = 1, .endpoint = "127.0.0.1:0",
                                          .queue_size = 4, .max_packet_size = 65000,
                                          .workers = 2};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&f->instance, &err), TG_OK);
  tg_jaeger_receiver *recv = f->instance.state;
  assert_int_equal(tg_jaeger_counters_init(recv, f->service.metrics, "jaeger"), TG_OK);
  *state = f;
  return 0;
}

static void on_stopped(tg_instance *self) {
  fixture *f = (fixture *)((char *)self - offsetof(fixture, instance));
  f->stopped = 1;
}

static int teardown(void **state) {
  fixture *f = *state;
  tg_component_destroy(&f->instance);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* every handle closed: returns at once */
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tg_batch_free(f->sink.last);
  tg_metrics_free(f->service.metrics);
  tg_free(f);
  return 0;
}

static tg_jaeger_receiver *recv_of(fixture *f) { return f->instance.state; }

static int64_t refused(fixture *f, tg_jaeger_transport t, tg_jaeger_refusal r) {
  return tg_metric_get(recv_of(f)->counters[t].m.refused[r]);
}

static int64_t dropped(fixture *f, tg_jaeger_transport t, tg_jaeger_drop d) {
  return tg_metric_get(recv_of(f)->counters[t].dropped[d]);
}

/* A model batch of n spans for service "svc" (ids derived from seed). */
typedef struct mbatch {
  tg_arena *a;
  tg_jaeger_batch b;
  tg_jaeger_process p;
} mbatch;

static void make_batch(mbatch *m, size_t n, uint8_t seed) {
  m->a = tg_arena_new(0, 0);
  jaeger__api_v2__batch__init(&m->b);
  jaeger__api_v2__process__init(&m->p);
  m->p.service_name = "svc";
  m->b.process = &m->p;
  m->b.spans = tg_arena_alloc(m->a, n * sizeof *m->b.spans);
  for (size_t i = 0; i < n; i++) {
    tg_jaeger_span *s = tg_arena_alloc(m->a, sizeof *s);
    jaeger__api_v2__span__init(s);
    uint8_t *id = tg_arena_alloc(m->a, 24);
    memset(id, seed, 24);
    id[23] = (uint8_t)(i + 1);
    s->trace_id = (ProtobufCBinaryData){16, id};
    s->span_id = (ProtobufCBinaryData){8, id + 16};
    s->operation_name = "op";
    m->b.spans[m->b.n_spans++] = s;
  }
}

static void encode(mbatch *m, tg_buf *out, int how) {
  tg_buf_init(out, 0);
  if (how == TG_JAEGER_GRPC) {
    tg_jaeger_post_spans req = JAEGER__API_V2__POST_SPANS_REQUEST__INIT;
    req.batch = &m->b;
    assert_int_equal(tg_buf_reserve(out, jaeger__api_v2__post_spans_request__get_packed_size(&req)),
                     TG_OK);
    out->len = jaeger__api_v2__post_spans_request__pack(&req, out->data);
  } else if (how == TG_JAEGER_THRIFT_HTTP) {
    assert_int_equal(tg_jaeger_thrift_encode_batch(out, TG_THRIFT_BINARY, &m->b), TG_OK);
  } else {
    assert_int_equal(tg_jaeger_thrift_encode_emit_batch(out, (tg_thrift_protocol)how, &m->b, 1),
                     TG_OK);
  }
}

/* ---- HTTP and gRPC handlers --------------------------------------------------------- */

static int http_post(fixture *f, const char *method, const char *ctype, const tg_buf *body,
                     tg_http_response *resp) {
  tg_http_header h[1] = {{"content-type", ctype}};
  tg_http_request req = {.method = method, .path = TG_JAEGER_HTTP_PATH, .headers = h,
                         .n_headers = ctype ? 1 : 0, .body = body ? body->data : NULL,
                         .body_len = body ? body->len : 0, .http_version = 1};
  memset(resp, 0, sizeof *resp);
  resp->status = 200;
  tg_buf_init(&resp->body, 0);
  tg_jaeger_http_handle(recv_of(f), &req, resp);
  return resp->status;
}

static void test_thrift_http(void **state) {
  fixture *f = *state;
  mbatch m;
  make_batch(&m, 3, 0x11);
  tg_buf body;
  encode(&m, &body, TG_JAEGER_THRIFT_HTTP);
  tg_http_response resp;
  assert_int_equal(http_post(f, "POST", "application/x-thrift", &body, &resp), 202);
  tg_buf_free(&resp.body);
  assert_int_equal(http_post(f, "POST", "application/vnd.apache.thrift.binary; charset=x",
                             &body, &resp), 202);
  tg_buf_free(&resp.body);
  assert_int_equal(f->sink.spans, 6);
  assert_int_equal(tg_metric_get(recv_of(f)->counters[TG_JAEGER_THRIFT_HTTP].m.accepted), 6);
  /* the spans are OTLP now, with the process as resource */
  tg_resource_spans *rs = f->sink.last->request.resource_spans[0];
  assert_string_equal(rs->resource->attributes[0]->key, "service.name");
  assert_string_equal(rs->resource->attributes[0]->value->string_value, "svc");

  assert_int_equal(http_post(f, "POST", "application/json", &body, &resp), 400);
  assert_non_null(strstr((char *)resp.body.data, "unsupported content type"));
  tg_buf_free(&resp.body);
  assert_int_equal(http_post(f, "POST", NULL, &body, &resp), 400);
  tg_buf_free(&resp.body);
  assert_int_equal(http_post(f, "GET", "application/x-thrift", &body, &resp), 405);
  tg_buf_free(&resp.body);
  body.len -= 3; /* truncated */
  assert_int_equal(http_post(f, "POST", "application/x-thrift", &body, &resp), 400);
  assert_non_null(strstr((char *)resp.body.data, "malformed thrift"));
  tg_buf_free(&resp.body);
  body.len += 3;
  assert_int_equal(refused(f, TG_JAEGER_THRIFT_HTTP, TG_JAEGER_REFUSED_MALFORMED), 3);
  f->sink.answer = TG_EAGAIN;
  assert_int_equal(http_post(f, "POST", "application/x-thrift", &body, &resp), 429);
  assert_int_equal(refused(f, TG_JAEGER_THRIFT_HTTP, TG_JAEGER_REFUSED_BACKPRESSURE), 3);
  tg_buf_free(&resp.body);
  assert_int_equal(f->sink.spans, 6);
  tg_buf_free(&body);
  tg_arena_unref(m.a);
}

/* Each request's log lines carry correlation_id = the caller's trace ID (uber-trace-id on
 * HTTP, b3 in gRPC metadata), else a fresh 32-hex ID. */
static void test_correlation_id(void **state) {
  fixture *f = *state;
  char *text = NULL;
  size_t text_len = 0;
  FILE *out = open_memstream(&text, &text_len);
  assert_non_null(out);
  tg_logger log;
  tg_logger_init(&log, TG_LOG_DEBUG, out);
  recv_of(f)->log = &log;
  mbatch m;
  make_batch(&m, 1, 0x33);
  tg_buf body;
  encode(&m, &body, TG_JAEGER_THRIFT_HTTP);
  tg_http_header h[2] = {{"content-type", "application/x-thrift"},
                         {"uber-trace-id", "a3ce929d0e0e4736:00f067aa0ba902b7:0:1"}};
  tg_http_request req = {.method = "POST", .path = TG_JAEGER_HTTP_PATH, .headers = h,
                         .n_headers = 2, .body = body.data, .body_len = body.len,
                         .http_version = 1};
  tg_http_response resp = {.status = 200};
  tg_buf_init(&resp.body, 0);
  tg_jaeger_http_handle(recv_of(f), &req, &resp);
  assert_int_equal(resp.status, 202);
  tg_buf_free(&resp.body);
  tg_buf grpc_body;
  encode(&m, &grpc_body, TG_JAEGER_GRPC);
  tg_http_header md[1] = {{"b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}};
  tg_http_request greq = {.method = "POST", .path = TG_JAEGER_GRPC_PATH, .headers = md,
                          .n_headers = 1, .body = grpc_body.data, .body_len = grpc_body.len,
                          .http_version = 2, .grpc = 1};
  tg_http_response gresp = {.status = 200};
  tg_buf_init(&gresp.body, 0);
  tg_jaeger_grpc_handle(recv_of(f), &greq, &gresp);
  assert_int_equal(gresp.grpc_status, 0);
  greq.n_headers = 0; /* no context: a fresh ID */
  tg_jaeger_grpc_handle(recv_of(f), &greq, &gresp);
  tg_buf_free(&gresp.body);
  fclose(out);
  recv_of(f)->log = NULL;
  tg_logger_destroy(&log);
  /* three "accepted" lines, in order, with these correlation IDs */
  const char *l1 = strstr(text, "\"accepted thrift_http request: 1 spans\"");
  assert_non_null(l1);
  const char *nl = strchr(l1, '\n');
  assert_non_null(nl);
  const char *cid = strstr(l1, "\"correlation_id\":\"");
  assert_true(cid && cid < nl);
  assert_memory_equal(cid + 18, "0000000000000000a3ce929d0e0e4736\"", 33);
  const char *l2 = strstr(nl, "\"accepted grpc request: 1 spans\"");
  assert_non_null(l2);
  cid = strstr(l2, "\"correlation_id\":\"");
  assert_non_null(cid);
  assert_memory_equal(cid + 18, "4bf92f3577b34da6a3ce929d0e0e4736\"", 33);
  const char *l3 = strstr(strchr(l2, '\n'), "\"accepted grpc request: 1 spans\"");
  assert_non_null(l3);
  cid = strstr(l3, "\"correlation_id\":\"");
  assert_non_null(cid);
  for (int i = 0; i < 32; i++)
    assert_non_null(strchr("0123456789abcdef", cid[18 + i]));
  assert_int_equal(cid[18 + 32], '"');
  assert_memory_not_equal(cid + 18, "4bf92f3577b34da6a3ce929d0e0e4736", 32);
  free(text);
  tg_buf_free(&body);
  tg_buf_free(&grpc_body);
  tg_arena_unref(m.a);
}

static void test_grpc(void **state) {
  fixture *f = *state;
  mbatch m;
  make_batch(&m, 2, 0x22);
  tg_buf body;
  encode(&m, &body, TG_JAEGER_GRPC);
  tg_http_request req = {.method = "POST", .path = TG_JAEGER_GRPC_PATH, .body = body.data,
                         .body_len = body.len, .http_version = 2, .grpc = 1};
  tg_http_response resp = {.status = 200};
  tg_buf_init(&resp.body, 0);
  tg_jaeger_grpc_handle(recv_of(f), &req, &resp);
  assert_int_equal(resp.grpc_status, 0);
  assert_int_equal(resp.body.len, 0); /* PostSpansResponse: no fields */
  assert_int_equal(f->sink.spans, 2);
  static const uint8_t garbage[] = {0x0a, 0x05, 0x01};
  req.body = garbage;
  req.body_len = sizeof garbage;
  tg_jaeger_grpc_handle(recv_of(f), &req, &resp);
  assert_int_equal(resp.grpc_status, 3);
  assert_int_equal(refused(f, TG_JAEGER_GRPC, TG_JAEGER_REFUSED_MALFORMED), 1);
  req.body = body.data;
  req.body_len = body.len;
  f->sink.answer = TG_EAGAIN;
  tg_jaeger_grpc_handle(recv_of(f), &req, &resp);
  assert_int_equal(resp.grpc_status, 8);
  f->sink.answer = TG_ECLOSED;
  tg_jaeger_grpc_handle(recv_of(f), &req, &resp);
  assert_int_equal(resp.grpc_status, 14);
  tg_buf_free(&resp.body);
  tg_buf_free(&body);
  tg_arena_unref(m.a);
}

/* ---- UDP, end to end ---------------------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop until cond holds or 5 s pass. */
#define RUN_UNTIL(f, cond)                                                        \
  do {                                                                            \
    uint64_t deadline_ = now_ms() + 5000;                                         \
    while (!(cond) && now_ms() < deadline_) {                                     \
      uv_run(&(f)->loop, UV_RUN_NOWAIT);                                          \
      struct timespec ts_ = {0, 1000000L};                                        \
      nanosleep(&ts_, NULL);                                                      \
    }                                                                             \
    assert_true(cond);                                                            \
  } while (0)

static void send_udp(int port, const void *data, size_t len) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)len);
  close(fd);
}

static void test_udp_end_to_end(void **state) {
  fixture *f = *state;
  tg_errbuf err;
  assert_int_equal(tg_component_start(&f->instance, &err), TG_OK);
  tg_jaeger_receiver *recv = recv_of(f);
  for (int p = 0; p < 2; p++) {
    int port = tg_jaeger_udp_port(recv->udp[p]);
    assert_true(port > 0);
    mbatch m;
    make_batch(&m, 5, (uint8_t)(0x30 + p));
    tg_buf dg;
    encode(&m, &dg, p);
    size_t before = f->sink.spans;
    send_udp(port, dg.data, dg.len);
    RUN_UNTIL(f, f->sink.spans == before + 5);
    assert_int_equal(tg_metric_get(recv->counters[p].m.accepted), 5);
    /* a truncated datagram: dropped and counted, the endpoint keeps serving */
    send_udp(port, dg.data, dg.len - 1);
    RUN_UNTIL(f, dropped(f, (tg_jaeger_transport)p, TG_JAEGER_DROP_UNDECODABLE) == 1);
    /* the pipeline pushes back twice: the batch waits and is retried, not lost */
    f->sink.eagain_left = 2;
    send_udp(port, dg.data, dg.len);
    RUN_UNTIL(f, f->sink.spans == before + 10);
    assert_int_equal(f->sink.eagain_left, 0);
    tg_buf_free(&dg);
    tg_arena_unref(m.a);
  }
  tg_component_stop(&f->instance, on_stopped);
  RUN_UNTIL(f, f->stopped);
}

/* A full queue drops datagrams and counts them: the pipeline refuses, the decoders
 * stall on the full output ring, the input ring (4) fills. */
static void test_udp_queue_full(void **state) {
  fixture *f = *state;
  f->conf.udp[0].workers = 1;
  tg_errbuf err;
  assert_int_equal(tg_component_start(&f->instance, &err), TG_OK);
  tg_jaeger_receiver *recv = recv_of(f);
  int port = tg_jaeger_udp_port(recv->udp[0]);
  mbatch m;
  make_batch(&m, 1, 0x44);
  tg_buf dg;
  encode(&m, &dg, TG_THRIFT_COMPACT);
  f->sink.eagain_left = 1 << 30;
  for (int i = 0; i < 40; i++)
    send_udp(port, dg.data, dg.len);
  RUN_UNTIL(f, dropped(f, TG_JAEGER_THRIFT_COMPACT, TG_JAEGER_DROP_QUEUE_FULL) +
                       (int64_t)0 >= 40 - 4 - 4 - 1);
  /* the pipeline recovers: what was queued is delivered, nothing was silently lost */
  f->sink.eagain_left = 0;
  int64_t lost = dropped(f, TG_JAEGER_THRIFT_COMPACT, TG_JAEGER_DROP_QUEUE_FULL);
  RUN_UNTIL(f, (int64_t)f->sink.spans == 40 - lost);
  tg_component_stop(&f->instance, on_stopped);
  RUN_UNTIL(f, f->stopped);
  tg_buf_free(&dg);
  tg_arena_unref(m.a);
}

/* Datagrams over max_packet_size are dropped (counted too_large); smaller ones pass. */
static void test_udp_too_large(void **state) {
  fixture *f = *state;
  f->conf.udp[0].max_packet_size = 512;
  tg_errbuf err;
  assert_int_equal(tg_component_start(&f->instance, &err), TG_OK);
  int port = tg_jaeger_udp_port(recv_of(f)->udp[0]);
  mbatch big, small;
  make_batch(&big, 40, 0x51);
  make_batch(&small, 1, 0x52);
  tg_buf b1, b2;
  encode(&big, &b1, TG_THRIFT_COMPACT);
  encode(&small, &b2, TG_THRIFT_COMPACT);
  assert_true(b1.len > 512 && b2.len <= 512);
  send_udp(port, b1.data, b1.len);
  send_udp(port, b2.data, b2.len);
  RUN_UNTIL(f, f->sink.spans == 1);
  RUN_UNTIL(f, dropped(f, TG_JAEGER_THRIFT_COMPACT, TG_JAEGER_DROP_TOO_LARGE) == 1);
  tg_component_stop(&f->instance, on_stopped);
  RUN_UNTIL(f, f->stopped);
  tg_buf_free(&b1);
  tg_buf_free(&b2);
  tg_arena_unref(big.a);
  tg_arena_unref(small.a);
}

static void test_conf_problems(void **state) {
  (void)state;
  tg_jaeger_conf c = {0};
  assert_non_null(strstr(tg_jaeger_conf_problem(&c), "at least one protocol"));
  c.udp[1].enabled = 1;
  assert_non_null(strstr(tg_jaeger_conf_problem(&c), "thrift_binary.endpoint"));
  c.udp[1].endpoint = "0.0.0.0:6832";
  assert_null(tg_jaeger_conf_problem(&c));
  c.grpc = 1;
  c.grpc_endpoint = "x:1";
  c.grpc_tls.cert_file = "a.pem";
  assert_non_null(strstr(tg_jaeger_conf_problem(&c), "cert_file and key_file"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_thrift_http, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grpc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_correlation_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_end_to_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_queue_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_too_large, setup, teardown),
      cmocka_unit_test(test_conf_problems),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
