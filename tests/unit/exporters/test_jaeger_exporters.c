/* The Jaeger exporters (exporters/jaeger): the request step (queued OTLP → one Jaeger
 * Batch per process), jaeger_thrift_http against a tiny in-test HTTP/1.1 server (a plain
 * socket thread) — one POST per process, Thrift that our decoder reads back, 503 retried
 * without resending the Batches already delivered, 400 permanent — and the jaeger (gRPC)
 * exporter's configuration errors and failure counting against a closed port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exp_test_util.h"
#include "exporters/jaeger/jaeger_exp.h"
#include "receivers/jaeger/jaeger_thrift.h"

extern const tg_component tg_exporter_jaeger;
extern const tg_component tg_exporter_jaeger_thrift_http;

/* ---- a batch of two processes ---------------------------------------------------------- */

static tg_batch *two_process_batch(void) {
  tg_batch *a = exp_batch(2);
  tg_batch *b = exp_batch(3);
  /* the second resource: service "svc2", distinct span ids */
  tg_resource_spans *rs = b->request.resource_spans[0];
  rs->resource->attributes[0]->value->string_value = (char *)"svc2";
  for (size_t i = 0; i < 3; i++)
    ((uint8_t *)rs->scope_spans[0]->spans[i]->span_id.data)[0] ^= 0x80;
  assert_int_equal(tg_batch_append(a, b), TG_OK);
  return a;
}

static uint8_t *encode(tg_batch *b, size_t *len) {
  *len = tg_batch_encoded_size(b);
  uint8_t *out = tg_malloc(*len + 1);
  tg_batch_encode(b, out);
  return out;
}

static void test_request_step(void **state) {
  (void)state;
  tg_batch *b = two_process_batch();
  size_t len;
  uint8_t *data = encode(b, &len);
  tg_jaeger_exp_request r;
  assert_int_equal(tg_jaeger_exp_request_init(&r, data, len), TG_OK);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.batches[0]->process->service_name, "svc");
  assert_string_equal(r.batches[1]->process->service_name, "svc2");
  assert_int_equal(r.span_counts[0], 2);
  assert_int_equal(r.span_counts[1], 3);
  tg_jaeger_exp_request_free(&r);
  /* retry bookkeeping: the same bytes are recognised, other bytes start afresh */
  tg_jaeger_exp_progress p = {0};
  assert_int_equal(tg_jaeger_exp_progress_begin(&p, data, len), 0);
  p.done = 1;
  assert_int_equal(tg_jaeger_exp_progress_begin(&p, data, len), 1);
  data[len - 1] ^= 1;
  assert_int_equal(tg_jaeger_exp_progress_begin(&p, data, len), 0);
  /* not OTLP: permanent */
  static const uint8_t junk[] = {0x0a, 0x7f, 0x01};
  assert_int_equal(tg_jaeger_exp_request_init(&r, junk, sizeof junk), TG_EDECODE);
  tg_jaeger_exp_request_free(&r);
  tg_free(data);
  tg_batch_free(b);
}

/* ---- a scripted HTTP/1.1 server ------------------------------------------------------ */

#define MAX_REQ 8

typedef struct server {
  int fd, port;
  pthread_t thread;
  atomic_int stop;
  const char *responses[MAX_REQ]; /* scripted; the last repeats */
  int n_responses;
  pthread_mutex_t lock;
  int n_requests;
  char *heads[MAX_REQ];
  uint8_t *bodies[MAX_REQ];
  size_t body_lens[MAX_REQ];
} server;

static const char resp_202[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char resp_503[] =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 4\r\n"
    "Connection: close\r\n\r\nbusy";
static const char resp_400[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad";

static void serve_one(server *s, int c) {
  size_t cap = 1 << 20, n = 0;
  char *buf = tg_malloc(cap + 1);
  char *end = NULL;
  size_t body_len = 0;
  for (;;) {
    ssize_t k = recv(c, buf + n, cap - n, 0);
    if (k <= 0)
      break;
    n += (size_t)k;
    buf[n] = '\0';
    if (!end && (end = strstr(buf, "\r\n\r\n"))) {
      const char *cl = strcasestr(buf, "content-length:");
      body_len = cl ? strtoul(cl + 15, NULL, 10) : 0;
    }
    if (end && n >= (size_t)(end + 4 - buf) + body_len)
      break;
  }
  pthread_mutex_lock(&s->lock);
  int i = s->n_requests < MAX_REQ ? s->n_requests : MAX_REQ - 1;
  const char *resp = s->responses[i < s->n_responses ? i : s->n_responses - 1];
  if (end && s->n_requests < MAX_REQ) {
    size_t hl = (size_t)(end - buf);
    s->heads[i] = tg_strndup(buf, hl);
    s->body_lens[i] = body_len;
    s->bodies[i] = tg_malloc(body_len + 1);
    memcpy(s->bodies[i], end + 4, body_len);
    s->n_requests++;
  }
  pthread_mutex_unlock(&s->lock);
  ssize_t w = send(c, resp, strlen(resp), MSG_NOSIGNAL);
  (void)w;
  tg_free(buf);
}

static void *server_main(void *arg) {
  server *s = arg;
  while (!atomic_load(&s->stop)) {
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0)
      continue;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      continue;
    serve_one(s, c);
    close(c);
  }
  return NULL;
}

static void server_start(server *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(s->fd, (struct sockaddr *)&a, &al);
  s->port = ntohs(a.sin_port);
  assert_int_equal(listen(s->fd, 16), 0);
  pthread_create(&s->thread, NULL, server_main, s);
}

static int requests(server *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->n_requests;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static void server_stop(server *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  close(s->fd);
  for (int i = 0; i < s->n_requests; i++) {
    tg_free(s->heads[i]);
    tg_free(s->bodies[i]);
  }
  pthread_mutex_destroy(&s->lock);
}

/* The service name and span count of a request body, decoded with our Thrift reader. */
static void body_batch(server *s, int i, const char **service, size_t *spans, tg_arena **a) {
  *a = tg_arena_new(0, 0);
  tg_jaeger_batch *b;
  char err[200];
  int rc = tg_jaeger_thrift_decode_batch(*a, TG_THRIFT_BINARY, s->bodies[i], s->body_lens[i], &b,
                                         err, sizeof err);
  if (rc != TG_OK)
    fail_msg("request %d: %s", i, err);
  *service = b->process->service_name;
  *spans = b->n_spans;
}

static void thrift_config(char *yaml, size_t n, int port) {
  snprintf(yaml, n,
           "endpoint: http://127.0.0.1:%d\n"
           "headers:\n  X-Tenant: t1\n"
           "timeout: 5s\n"
           "retry_on_failure:\n  initial_interval: 10ms\n  max_interval: 20ms\n"
           "sending_queue:\n  num_consumers: 1\n",
           port);
}

static void test_thrift_http_resumes_after_delivered_batches(void **state) {
  (void)state;
  server s;
  server_start(&s);
  s.responses[0] = resp_202; /* process 1 */
  s.responses[1] = resp_503; /* process 2: retried ... */
  s.responses[2] = resp_202; /* ... and delivered; process 1 is not sent again */
  s.n_responses = 3;
  char yaml[512];
  thrift_config(yaml, sizeof yaml, s.port);
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_jaeger_thrift_http, "jaeger_thrift_http", yaml,
                             &err),
                   TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, two_process_batch()), TG_OK);
  EXP_WAIT_FOR(EXP_SENT(&fx) == 5, 15000);
  assert_int_equal(EXP_SENT(&fx), 5);
  assert_int_equal(EXP_FAILED(&fx), 0);
  assert_int_equal(requests(&s), 3);
  exp_stop(&fx);
  const char *want_service[] = {"svc", "svc2", "svc2"};
  const size_t want_spans[] = {2, 3, 3};
  for (int i = 0; i < 3; i++) {
    assert_non_null(strstr(s.heads[i], "POST /api/traces HTTP/1.1"));
    assert_non_null(strcasestr(s.heads[i], "Content-Type: application/x-thrift"));
    assert_non_null(strcasestr(s.heads[i], "X-Tenant: t1"));
    const char *svc;
    size_t spans;
    tg_arena *a;
    body_batch(&s, i, &svc, &spans, &a);
    assert_string_equal(svc, want_service[i]);
    assert_int_equal(spans, want_spans[i]);
    tg_arena_unref(a);
  }
  exp_teardown(&fx);
  server_stop(&s);
}

static void test_thrift_http_400_is_permanent(void **state) {
  (void)state;
  server s;
  server_start(&s);
  s.responses[0] = resp_400;
  s.n_responses = 1;
  char yaml[512];
  thrift_config(yaml, sizeof yaml, s.port);
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_jaeger_thrift_http, "jaeger_thrift_http/p", yaml,
                             &err),
                   TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(2)), TG_OK);
  EXP_WAIT_FOR(EXP_FAILED(&fx) == 2, 15000);
  assert_int_equal(EXP_FAILED(&fx), 2);
  assert_int_equal(requests(&s), 1);
  exp_stop(&fx);
  exp_teardown(&fx);
  server_stop(&s);
}

static void test_config_errors(void **state) {
  (void)state;
  exp_fixture fx;
  tg_errbuf err;
  static const struct {
    const tg_component *c;
    const char *yaml, *want;
  } bad[] = {
      {&tg_exporter_jaeger, "tls:\n  insecure: true\n", "endpoint is required"},
      {&tg_exporter_jaeger, "endpoint: jaeger:14250\nheaders:\n  grpc-x: 1\n", "grpc-* and binary"},
      {&tg_exporter_jaeger, "endpoint: jaeger\n", "host:port"},
      {&tg_exporter_jaeger_thrift_http, "endpoint: jaeger:14268\n", "http:// or https://"},
      {&tg_exporter_jaeger_thrift_http, "endpoint: http://j:14268\nheaders:\n  Content-Type: x\n",
       "sets this header itself"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(exp_setup(&fx, bad[i].c, "jaeger/c", bad[i].yaml, &err), -1);
    if (!strstr(err.msg, bad[i].want))
      fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, bad[i].want);
    exp_teardown(&fx);
  }
  assert_int_equal(exp_setup(&fx, &tg_exporter_jaeger_thrift_http, "jaeger/c",
                             "endpoint: https://j.example/custom/path\n", &err),
                   TG_OK);
  exp_teardown(&fx);
}

/* The gRPC exporter against a port nobody listens on: UNAVAILABLE is retryable, and with
 * retries off the spans count as failed, none as sent. */
static void test_grpc_unreachable_counts_failed(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  int port = ntohs(a.sin_port);
  close(fd); /* closed again: connections are refused */
  char yaml[256];
  snprintf(yaml, sizeof yaml,
           "endpoint: 127.0.0.1:%d\ntls:\n  insecure: true\ntimeout: 2s\n"
           "retry_on_failure:\n  enabled: false\n",
           port);
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_jaeger, "jaeger", yaml, &err), TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, two_process_batch()), TG_OK);
  EXP_WAIT_FOR(EXP_FAILED(&fx) == 5, 15000);
  assert_int_equal(EXP_FAILED(&fx), 5);
  assert_int_equal(EXP_SENT(&fx), 0);
  exp_stop(&fx);
  exp_teardown(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_step),
      cmocka_unit_test(test_thrift_http_resumes_after_delivered_batches),
      cmocka_unit_test(test_thrift_http_400_is_permanent),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_grpc_unreachable_counts_failed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
