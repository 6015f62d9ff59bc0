/* The otlp receiver as a component: its key table (Collector names and defaults), the
 * cross-key check, create → start (both protocols on port 0) → one real OTLP/HTTP JSON
 * request over a socket → stop (asynchronous, done once) → destroy (twice), and destroy
 * after a failed create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "receivers/otlp/otlp.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_service.h"
#include "tg_yaml.h"

static void apply(const char *yaml, tg_otlp_conf *conf, tg_diag *diag) {
  tg_diag parse_diag;
  tg_diag_init(&parse_diag);
  tg_yaml_doc *doc = tg_yaml_parse("test.yaml", yaml, strlen(yaml), &parse_diag);
  assert_non_null(doc);
  assert_false(tg_diag_failed(&parse_diag));
  tg_diag_free(&parse_diag);
  memset(conf, 0, sizeof *conf);
  const tg_yaml_node *root = tg_yaml_root(doc);
  tg_conf_apply(tg_otlp_conf_keys, TG_OTLP_CONF_N_KEYS, root, conf, "receivers::otlp",
                diag);
  if (!tg_diag_failed(diag))
    tg_receiver_otlp.conf_check(conf, root, "receivers::otlp", diag);
  tg_yaml_free(doc);
}

static void test_conf_defaults(void **state) {
  (void)state;
  tg_otlp_conf conf;
  tg_diag diag;
  tg_diag_init(&diag);
  apply("protocols:\n  grpc:\n  http:\n", &conf, &diag);
  assert_false(tg_diag_failed(&diag));
  assert_true(conf.grpc);
  assert_true(conf.http);
  assert_string_equal(conf.grpc_endpoint, "0.0.0.0:4317");
  assert_string_equal(conf.http_endpoint, "0.0.0.0:4318");
  assert_int_equal(conf.grpc_max_recv_msg_size_mib, 4);
  assert_int_equal(conf.http_max_request_body_size, 20 * 1024 * 1024);
  assert_string_equal(conf.http_traces_url_path, "/v1/traces");
  assert_null(conf.grpc_tls.cert_file);
  tg_conf_release(tg_otlp_conf_keys, TG_OTLP_CONF_N_KEYS, &conf);
  tg_diag_free(&diag);

  tg_diag_init(&diag);
  apply("protocols:\n  http:\n    endpoint: 127.0.0.1:9\n    traces_url_path: /t\n"
        "    max_request_body_size: 1MiB\n    tls:\n      cert_file: c.pem\n"
        "      key_file: k.pem\n",
        &conf, &diag);
  assert_false(tg_diag_failed(&diag));
  assert_false(conf.grpc);
  assert_string_equal(conf.http_endpoint, "127.0.0.1:9");
  assert_string_equal(conf.http_traces_url_path, "/t");
  assert_int_equal(conf.http_max_request_body_size, 1024 * 1024);
  assert_string_equal(conf.http_tls.key_file, "k.pem");
  tg_conf_release(tg_otlp_conf_keys, TG_OTLP_CONF_N_KEYS, &conf);
  tg_diag_free(&diag);
}

static void test_conf_check(void **state) {
  (void)state;
  const char *bad[] = {
      "protocols: {}\n",
      "protocols:\n  grpc:\n    tls:\n      cert_file: c.pem\n",
      "protocols:\n  http:\n    tls:\n      client_ca_file: ca.pem\n",
      "protocols:\n  http:\n    bogus: 1\n",
      "protocols:\n  grpc:\n    max_recv_msg_size_mib: 0\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tg_otlp_conf conf;
    tg_diag diag;
    tg_diag_init(&diag);
    apply(bad[i], &conf, &diag);
    if (!tg_diag_failed(&diag))
      print_error("config %zu was accepted\n", i);
    assert_true(tg_diag_failed(&diag));
    tg_conf_release(tg_otlp_conf_keys, TG_OTLP_CONF_N_KEYS, &conf);
    tg_diag_free(&diag);
  }
}

/* ---- lifecycle with a real loop ----------------------------------------------------- */

typedef struct sink {
  size_t spans;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  ((sink *)target)->spans += batch->span_count;
  tg_batch_free(batch);
  return TG_OK;
}

typedef struct client {
  int port;
  char response[1024];
  uv_async_t done;
  int finished;
} client;

static void *client_main(void *arg) {
  client *c = arg;
  static const char body[] =
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
      "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\",\"name\":\"x\"}]}]}]}";
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                   "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   strlen(body), body);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  size_t got = 0;
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      write(fd, req, (size_t)n) == n) {
    ssize_t r;
    while (got < sizeof c->response - 1 &&
           (r = read(fd, c->response + got, sizeof c->response - 1 - got)) > 0)
      got += (size_t)r;
  }
  c->response[got] = '\0';
  if (fd >= 0)
    close(fd);
  uv_async_send(&c->done);
  return NULL;
}

static void on_client_done(uv_async_t *async) {
  ((client *)async->data)->finished = 1;
  uv_close((uv_handle_t *)async, NULL);
}

static int stopped;
static void on_stopped(tg_instance *self) {
  (void)self;
  stopped++;
}

static void test_lifecycle(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  tg_service svc = {.loop = &loop, .metrics = tg_metrics_new()};
  tg_otlp_conf conf = {.grpc = 1, .grpc_endpoint = "127.0.0.1:0",
                       .grpc_max_recv_msg_size_mib = 4, .http = 1,
                       .http_endpoint = "127.0.0.1:0",
                       .http_max_request_body_size = 1 << 20,
                       .http_traces_url_path = "v1/traces"};
  sink s = {0};
  tg_instance inst = {.component = &tg_receiver_otlp, .id = "otlp/a", .conf = &conf,
                      .service = &svc, .next = {sink_consume, &s}};
  tg_errbuf err = {{0}};
  assert_int_equal(tg_component_create(&inst, &err), TG_OK);
  assert_int_equal(tg_component_ready(&inst), 0);
  assert_int_equal(tg_component_start(&inst, &err), TG_OK);
  assert_int_equal(tg_component_ready(&inst), 1);
  tg_otlp_receiver *recv = inst.state;
  assert_string_equal(recv->traces_path, "/v1/traces");
  assert_true(tg_http_server_port(recv->servers[TG_OTLP_GRPC]) > 0);

  client c = {.port = tg_http_server_port(recv->servers[TG_OTLP_HTTP])};
  assert_true(c.port > 0);
  uv_async_init(&loop, &c.done, on_client_done);
  c.done.data = &c;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, client_main, &c), 0);
  while (!c.finished)
    uv_run(&loop, UV_RUN_ONCE);
  pthread_join(th, NULL);
  if (!strstr(c.response, "HTTP/1.1 200"))
    print_error("response: %s\n", c.response);
  assert_non_null(strstr(c.response, "HTTP/1.1 200"));
  assert_int_equal(s.spans, 1);

  stopped = 0;
  tg_component_stop(&inst, on_stopped);
  assert_int_equal(tg_component_ready(&inst), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(stopped, 1);
  tg_component_destroy(&inst);
  tg_component_destroy(&inst);
  assert_null(inst.state);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(svc.metrics);
}

static void test_destroy_after_failed_create(void **state) {
  (void)state;
  tg_otlp_conf conf = {0}; /* no protocol: create refuses */
  tg_instance inst = {.component = &tg_receiver_otlp, .id = "otlp/b", .conf = &conf};
  tg_errbuf err = {{0}};
  assert_int_equal(tg_component_create(&inst, &err), TG_ECONFIG);
  assert_non_null(strstr(err.msg, "at least one protocol"));
  tg_component_destroy(&inst);
  tg_component_destroy(&inst);
  stopped = 0;
  tg_component_stop(&inst, on_stopped); /* stop without start reports done at once */
  assert_int_equal(stopped, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conf_defaults),
      cmocka_unit_test(test_conf_check),
      cmocka_unit_test(test_lifecycle),
      cmocka_unit_test(test_destroy_after_failed_create),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
