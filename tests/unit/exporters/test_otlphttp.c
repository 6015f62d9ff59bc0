/* The otlphttp exporter against a tiny in-test HTTP/1.1 server (a plain socket thread):
 * 503 with Retry-After then 200 → exactly one retry, after the server's delay, then
 * counted sent; the body is a gzip'd ExportTraceServiceRequest with the spans. A 400 is
 * permanent (no retry, counted failed). */
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
#include "tg_buf.h"
#include "tg_gzip.h"

extern const tg_component tg_exporter_otlphttp;

#define MAX_REQ 8

typedef struct server {
  int fd;
  int port;
  pthread_t thread;
  atomic_int stop;
  const char *responses[MAX_REQ]; /* scripted, the last repeats */
  int n_responses;
  pthread_mutex_t lock;
  int n_requests;
  char *heads[MAX_REQ];
  uint8_t *bodies[MAX_REQ];
  size_t body_lens[MAX_REQ];
  uint64_t at[MAX_REQ];
} server;

/* Reads one request from c into the server's records; 0 on success, -1 on EOF/error. */
static int read_request(server *s, int c) {
  tg_buf in;
  tg_buf_init(&in, 1 << 20);
  char *end = NULL;
  size_t need = 0;
  for (;;) {
    if (in.len) {
      if (!end) {
        tg_buf_append(&in, "", 1);
        in.len--;
        end = strstr((char *)in.data, "\r\n\r\n");
        if (end) {
          const char *cl = strcasestr((char *)in.data, "content-length:");
          need = (size_t)(end - (char *)in.data) + 4 + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        }
      }
      if (end && in.len >= need)
        break;
    }
    struct pollfd p = {.fd = c, .events = POLLIN};
    if (poll(&p, 1, 50) == 0) {
      if (atomic_load(&s->stop))
        goto fail;
      continue;
    }
    char chunk[4096];
    ssize_t n = read(c, chunk, sizeof chunk);
    if (n <= 0)
      goto fail;
    tg_buf_append(&in, chunk, (size_t)n);
    end = NULL;
  }
  size_t head_len = (size_t)(end - (char *)in.data);
  pthread_mutex_lock(&s->lock);
  int i = s->n_requests;
  if (i < MAX_REQ) {
    s->heads[i] = tg_strndup((char *)in.data, head_len);
    s->body_lens[i] = need - head_len - 4;
    s->bodies[i] = tg_malloc(s->body_lens[i] + 1);
    memcpy(s->bodies[i], in.data + head_len + 4, s->body_lens[i]);
    s->at[i] = exp_now_ms();
    s->n_requests++;
  }
  const char *resp = s->responses[i < s->n_responses ? i : s->n_responses - 1];
  pthread_mutex_unlock(&s->lock);
  tg_buf_free(&in);
  return write(c, resp, strlen(resp)) == (ssize_t)strlen(resp) ? 0 : -1;
fail:
  tg_buf_free(&in);
  return -1;
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
    while (!atomic_load(&s->stop) && read_request(s, c) == 0) {
    }
    close(c);
  }
  return NULL;
}

static void server_start(server *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->fd, 8), 0);
  socklen_t al = sizeof a;
  getsockname(s->fd, (struct sockaddr *)&a, &al);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
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

static int requests(server *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->n_requests;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static const char *resp_503 = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                              "Content-Length: 4\r\n\r\nbusy";
static const char *resp_200 = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                              "Content-Length: 0\r\n\r\n";
static const char *resp_400 = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 3\r\n\r\nbad";

static void config(char *yaml, size_t n, int port) {
  snprintf(yaml, n,
           "endpoint: http://127.0.0.1:%d/\n"
           "headers:\n  X-Tenant: t1\n"
           "timeout: 5s\n"
           "retry_on_failure:\n  initial_interval: 10ms\n  max_interval: 20ms\n"
           "  max_elapsed_time: 10s\n"
           "sending_queue:\n  num_consumers: 1\n",
           port);
}

static void test_503_then_200(void **state) {
  (void)state;
  server s;
  server_start(&s);
  s.responses[0] = resp_503;
  s.responses[1] = resp_200;
  s.n_responses = 2;
  char yaml[512];
  config(yaml, sizeof yaml, s.port);
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlphttp, "otlphttp/t", yaml, &err), TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(3)), TG_OK);
  EXP_WAIT_FOR(EXP_SENT(&fx) == 3, 15000);
  assert_int_equal(EXP_SENT(&fx), 3);
  assert_int_equal(EXP_FAILED(&fx), 0);
  assert_int_equal(requests(&s), 2);
  assert_true(s.at[1] - s.at[0] >= 1000); /* Retry-After: 1 honoured */
  exp_stop(&fx);
  assert_true(fx.stopped);

  for (int i = 0; i < 2; i++) {
    assert_non_null(strstr(s.heads[i], "POST /v1/traces HTTP/1.1"));
    assert_non_null(strcasestr(s.heads[i], "Content-Type: application/x-protobuf"));
    assert_non_null(strcasestr(s.heads[i], "Content-Encoding: gzip"));
    assert_non_null(strcasestr(s.heads[i], "X-Tenant: t1"));
    tg_buf plain;
    tg_buf_init(&plain, 0);
    assert_int_equal(tg_gzip_inflate(s.bodies[i], s.body_lens[i], 1 << 20, &plain), TG_OK);
    tg_export_request *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            NULL, plain.len, plain.data);
    assert_non_null(req);
    assert_int_equal(req->n_resource_spans, 1);
    assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 3);
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->spans[2]->name, "span2");
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
        req, NULL);
    tg_buf_free(&plain);
  }
  exp_teardown(&fx);
  server_stop(&s);
}

static void test_400_is_permanent(void **state) {
  (void)state;
  server s;
  server_start(&s);
  s.responses[0] = resp_400;
  s.n_responses = 1;
  char yaml[512];
  config(yaml, sizeof yaml, s.port);
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlphttp, "otlphttp/p", yaml, &err), TG_OK);
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
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlphttp, "otlphttp/c",
                             "endpoint: http://x:4318\nencoding: json\n", &err), -1);
  assert_non_null(strstr(err.msg, "json"));
  exp_teardown(&fx);
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlphttp, "otlphttp/c", "endpoint: x:4318\n",
                             &err), -1);
  exp_teardown(&fx);
  assert_int_equal(exp_setup(&fx, &tg_exporter_otlphttp, "otlphttp/c",
                             "traces_endpoint: https://x/custom\n", &err), TG_OK);
  exp_teardown(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_503_then_200),
      cmocka_unit_test(test_400_is_permanent),
      cmocka_unit_test(test_config_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
