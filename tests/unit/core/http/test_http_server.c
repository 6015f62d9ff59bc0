/* The libuv server over real loopback sockets: the server runs on the test's loop, the
 * client runs in a thread with blocking sockets (HTTP/1.1 by hand, HTTP/2 through an
 * nghttp2 client session). The loop runs until the client thread reports completion
 * (uv_async) or a deadline passes; nothing sleeps. Every test closes the server and the
 * loop with no handle left. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_test_util.h"

typedef struct env {
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t deadline;
  tg_http_server *srv;
  int port;
  tg_http_route routes[3];
  test_ctx ctx;
  atomic_int client_done;
  int server_closed;
  pthread_t thread;
  void (*client)(struct env *e);
  /* client results, checked on the main thread */
  char resp[8192];
  size_t resp_len;
  char resp2[4096];
  size_t resp2_len;
  int h2_status, h2_grpc_status;
  tg_buf h2_data;
} env;

static void on_wake(uv_async_t *a) { (void)a; }
static void on_deadline(uv_timer_t *t) { (void)t; }

static void env_start_opts(env *e, tg_http_server_options *o);

static void env_start(env *e, size_t max_connections) {
  tg_http_server_options o = {.endpoint = "127.0.0.1:0", .max_body_bytes = 4096,
                              .max_connections = max_connections, .name = "test"};
  env_start_opts(e, &o);
}

static void env_start_opts(env *e, tg_http_server_options *o) {
  memset(e, 0, sizeof *e);
  tg_buf_init(&e->h2_data, 0);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  uv_async_init(&e->loop, &e->wake, on_wake);
  uv_timer_init(&e->loop, &e->deadline);
  test_routes(e->routes, &e->ctx);
  tg_errbuf err;
  e->srv = tg_http_server_create(&e->loop, o, &err);
  assert_non_null(e->srv);
  for (int i = 0; i < 3; i++)
    assert_int_equal(tg_http_server_add_route(e->srv, &e->routes[i]), TG_OK);
  assert_int_equal(tg_http_server_start(e->srv, &err), TG_OK);
  e->port = tg_http_server_port(e->srv);
  assert_true(e->port > 0);
}

static void *client_main(void *arg) {
  env *e = arg;
  e->client(e);
  atomic_store(&e->client_done, 1);
  uv_async_send(&e->wake);
  return NULL;
}

/* Runs the loop until pred(e) holds or 10 s pass. */
static int run_until(env *e, int (*pred)(env *e)) {
  uint64_t end = uv_now(&e->loop) + 10000;
  uv_timer_start(&e->deadline, on_deadline, 10000, 0);
  while (!pred(e) && uv_now(&e->loop) < end) {
    uv_run(&e->loop, UV_RUN_ONCE);
    uv_update_time(&e->loop);
  }
  uv_timer_stop(&e->deadline);
  return pred(e);
}

static int client_finished(env *e) { return atomic_load(&e->client_done); }

static void run_client(env *e, void (*fn)(env *e)) {
  e->client = fn;
  atomic_store(&e->client_done, 0);
  assert_int_equal(pthread_create(&e->thread, NULL, client_main, e), 0);
  assert_true(run_until(e, client_finished));
  pthread_join(e->thread, NULL);
}

static void on_server_closed(void *ctx) { ((env *)ctx)->server_closed = 1; }

static void env_stop(env *e) {
  tg_http_server_close(e->srv, on_server_closed, e);
  uv_close((uv_handle_t *)&e->wake, NULL);
  uv_close((uv_handle_t *)&e->deadline, NULL);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_true(e->server_closed);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  tg_buf_free(&e->h2_data);
}

/* ---- blocking client helpers ---- */

static int client_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void send_all(int fd, const void *d, size_t n) {
  const char *p = d;
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    p += w;
    n -= (size_t)w;
  }
}

/* Reads until `needle` has appeared `times` times, EOF, or timeout. */
static size_t recv_until(int fd, char *buf, size_t cap, size_t have, const char *needle,
                         int times) {
  for (;;) {
    buf[have] = '\0';
    int n = 0;
    for (const char *p = buf; (p = strstr(p, needle)); p++)
      n++;
    if (n >= times || have + 1 >= cap)
      return have;
    ssize_t r = recv(fd, buf + have, cap - 1 - have, 0);
    if (r <= 0)
      return have;
    have += (size_t)r;
  }
}

/* ---- HTTP/1.1 ---- */

static void client_keepalive(env *e) {
  int fd = client_connect(e->port);
  const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  send_all(fd, req, strlen(req));
  e->resp_len = recv_until(fd, e->resp, sizeof e->resp, 0, "len=", 2);
  /* second connection: 100-continue, like curl does for big bodies */
  int fd2 = client_connect(e->port);
  const char *head = "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
  send_all(fd2, head, strlen(head));
  size_t n = recv_until(fd2, e->resp2, sizeof e->resp2, 0, "100 Continue\r\n\r\n", 1);
  send_all(fd2, "body", 4);
  e->resp2_len = recv_until(fd2, e->resp2, sizeof e->resp2, n, "len=4;body", 1);
  close(fd2);
  close(fd);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

static void test_h1_keepalive_and_continue(void **state) {
  (void)state;
  env e;
  env_start(&e, 0);
  run_client(&e, client_keepalive);
  assert_int_equal(count(e.resp, "HTTP/1.1 200 OK"), 2);
  assert_non_null(strstr(e.resp, "len=5;hello"));
  assert_non_null(strstr(e.resp, "len=3;abc"));
  assert_non_null(strstr(e.resp2, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"));
  assert_non_null(strstr(e.resp2, "len=4;body"));
  tg_http_server_stats st;
  tg_http_server_get_stats(e.srv, &st);
  assert_int_equal(st.requests, 3);
  assert_int_equal(st.connections_accepted, 2);
  env_stop(&e);
}

static void client_413(env *e) {
  int fd = client_connect(e->port);
  const char *req = "POST /echo HTTP/1.1\r\nContent-Length: 999999\r\n\r\n";
  send_all(fd, req, strlen(req));
  e->resp_len = recv_until(fd, e->resp, sizeof e->resp, 0, "never", 1); /* until EOF */
  close(fd);
}

static void test_h1_413_closes(void **state) {
  (void)state;
  env e;
  env_start(&e, 0);
  run_client(&e, client_413);
  assert_non_null(strstr(e.resp, "HTTP/1.1 413 "));
  assert_non_null(strstr(e.resp, "Connection: close"));
  env_stop(&e);
}

/* A client that vanishes mid-request must not disturb the next one. */
static void client_disconnect(env *e) {
  int fd = client_connect(e->port);
  const char *partial = "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789";
  send_all(fd, partial, strlen(partial));
  close(fd);
  int fd2 = client_connect(e->port);
  const char *req = "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
  send_all(fd2, req, strlen(req));
  e->resp_len = recv_until(fd2, e->resp, sizeof e->resp, 0, "len=2;ok", 1);
  close(fd2);
}

static int saw_disconnect(env *e) {
  tg_http_server_stats st;
  tg_http_server_get_stats(e->srv, &st);
  return st.disconnects >= 1;
}

static void test_disconnect_mid_request(void **state) {
  (void)state;
  env e;
  env_start(&e, 0);
  run_client(&e, client_disconnect);
  assert_non_null(strstr(e.resp, "len=2;ok"));
  assert_true(run_until(&e, saw_disconnect));
  assert_int_equal(e.ctx.calls, 1);
  env_stop(&e);
}

/* max_connections = 1: the second concurrent connection is closed at once. */
static void client_refused(env *e) {
  int fd = client_connect(e->port);
  const char *req = "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\na";
  send_all(fd, req, strlen(req));
  e->resp_len = recv_until(fd, e->resp, sizeof e->resp, 0, "len=1;a", 1);
  int fd2 = client_connect(e->port);
  char tmp[64];
  ssize_t r = fd2 >= 0 ? recv(fd2, tmp, sizeof tmp, 0) : 0;
  e->resp2_len = r <= 0 ? 0 : (size_t)r; /* 0: closed by the server */
  if (fd2 >= 0)
    close(fd2);
  send_all(fd, req, strlen(req)); /* the first connection still works */
  e->resp_len = recv_until(fd, e->resp, sizeof e->resp, e->resp_len, "len=1;a", 2);
  close(fd);
}

static void test_max_connections(void **state) {
  (void)state;
  env e;
  env_start(&e, 1);
  run_client(&e, client_refused);
  assert_int_equal(count(e.resp, "len=1;a"), 2);
  assert_int_equal(e.resp2_len, 0);
  tg_http_server_stats st;
  tg_http_server_get_stats(e.srv, &st);
  assert_int_equal(st.connections_refused, 1);
  env_stop(&e);
}

/* read_header_timeout: a connection that never finishes its headers is closed at the
 * deadline (not before); one that does is served. */
static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void client_slow_headers(env *e) {
  int slow = client_connect(e->port);
  uint64_t t0 = mono_ms();
  const char *part = "POST /echo HTTP/1.1\r\nHost: a\r\n";
  send_all(slow, part, strlen(part));
  int fast = client_connect(e->port);
  const char *req = "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\na";
  send_all(fast, req, strlen(req));
  e->resp_len = recv_until(fast, e->resp, sizeof e->resp, 0, "len=1;a", 1);
  close(fast);
  char tmp[64];
  ssize_t r = recv(slow, tmp, sizeof tmp, 0); /* blocks until the server closes */
  e->resp2_len = r <= 0 ? 0 : (size_t)r;
  e->h2_status = (int)(mono_ms() - t0); /* elapsed ms, reused field */
  close(slow);
}

static void test_read_header_timeout(void **state) {
  (void)state;
  env e;
  tg_http_server_options o = {.endpoint = "127.0.0.1:0", .max_body_bytes = 4096,
                              .read_header_timeout_ms = 300, .name = "test"};
  env_start_opts(&e, &o);
  run_client(&e, client_slow_headers);
  assert_int_equal(count(e.resp, "len=1;a"), 1);
  assert_int_equal(e.resp2_len, 0); /* closed without an answer */
  assert_true(e.h2_status >= 280);
  assert_true(e.h2_status < 4000);
  tg_http_server_stats st;
  tg_http_server_get_stats(e.srv, &st);
  assert_int_equal(st.header_timeouts, 1);
  assert_int_equal(st.body_timeouts, 0);
  env_stop(&e);
}

/* max_connections_per_peer = 2: a third connection from 127.0.0.1 is refused while
 * 127.0.0.2 still gets in, below the global cap. */
static int client_connect_from(int port, const char *src) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in b = {.sin_family = AF_INET};
  inet_pton(AF_INET, src, &b.sin_addr);
  if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
    close(fd);
    return -1;
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void client_per_peer(env *e) {
  const char *req = "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\na";
  int fds[2];
  size_t n = 0;
  for (int i = 0; i < 2; i++) { /* served: each holds a slot */
    fds[i] = client_connect_from(e->port, "127.0.0.1");
    send_all(fds[i], req, strlen(req));
    n = recv_until(fds[i], e->resp, sizeof e->resp, n, "len=1;a", (size_t)i + 1);
  }
  e->resp_len = n;
  int third = client_connect_from(e->port, "127.0.0.1");
  char tmp[64];
  ssize_t r = third >= 0 ? recv(third, tmp, sizeof tmp, 0) : -1;
  e->resp2_len = r == 0 ? 0 : 1; /* 0: closed by the server */
  if (third >= 0)
    close(third);
  int other = client_connect_from(e->port, "127.0.0.2");
  e->h2_grpc_status = -1;
  if (other >= 0) {
    send_all(other, req, strlen(req));
    char buf[512];
    size_t got = recv_until(other, buf, sizeof buf, 0, "len=1;a", 1);
    e->h2_grpc_status = count(buf, "len=1;a") == 1 && got > 0;
    close(other);
  }
  close(fds[0]);
  close(fds[1]);
}

static void test_per_peer_share(void **state) {
  (void)state;
  env e;
  tg_http_server_options o = {.endpoint = "127.0.0.1:0", .max_body_bytes = 4096,
                              .max_connections = 10, .max_connections_per_peer = 2,
                              .name = "test"};
  env_start_opts(&e, &o);
  run_client(&e, client_per_peer);
  assert_int_equal(count(e.resp, "len=1;a"), 2);
  assert_int_equal(e.resp2_len, 0);
  assert_int_equal(e.h2_grpc_status, 1); /* another address was served */
  tg_http_server_stats st;
  tg_http_server_get_stats(e.srv, &st);
  assert_int_equal(st.refused_per_peer, 1);
  assert_int_equal(st.connections_refused, 1);
  env_stop(&e);
}

/* ---- HTTP/2 + gRPC over a socket ---- */

static void h2_exchange(int fd, h2_client *c) {
  uint8_t buf[16384];
  while (!c->closed) {
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->s, &d)) > 0)
      send_all(fd, d, (size_t)n);
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0)
      return;
    if (nghttp2_session_mem_recv(c->s, buf, (size_t)r) < 0)
      return;
  }
}

static void client_grpc(env *e) {
  int fd = client_connect(e->port);
  h2_client c;
  h2_client_init(&c);
  tg_buf body;
  tg_buf_init(&body, 0);
  grpc_frame_msg(&body, 0, (const uint8_t *)"span", 4);
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", "te", "trailers", body.data,
                    body.len);
  h2_exchange(fd, &c);
  e->h2_status = c.http_status;
  e->h2_grpc_status = c.grpc_status;
  tg_buf_append(&e->h2_data, c.data.data, c.data.len);
  tg_buf_free(&body);
  h2_client_free(&c);
  close(fd);
}

static void test_h2_grpc_over_socket(void **state) {
  (void)state;
  env e;
  env_start(&e, 0);
  run_client(&e, client_grpc);
  assert_int_equal(e.h2_status, 200);
  assert_int_equal(e.h2_grpc_status, 0);
  assert_int_equal(e.h2_data.len, 9);
  assert_memory_equal(e.h2_data.data, "\0\0\0\0\4naps", 9);
  env_stop(&e);
}

static void on_flag(void *ctx) { *(int *)ctx = 1; }

static void test_create_errors(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_errbuf err;
  tg_http_server_options o = {.endpoint = "nohost"};
  assert_null(tg_http_server_create(&loop, &o, &err));
  o.endpoint = "127.0.0.1:99999";
  assert_null(tg_http_server_create(&loop, &o, &err));
  o.endpoint = "127.0.0.1:0";
  o.tls_cert_file = "/nonexistent.pem";
  o.tls_key_file = "/nonexistent.key";
  assert_null(tg_http_server_create(&loop, &o, &err));
  assert_non_null(strstr(err.msg, "certificate"));
  /* created, never started: close frees at once */
  o.tls_cert_file = o.tls_key_file = NULL;
  tg_http_server *srv = tg_http_server_create(&loop, &o, &err);
  assert_non_null(srv);
  int closed = 0;
  tg_http_server_close(srv, on_flag, &closed);
  assert_int_equal(closed, 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_h1_keepalive_and_continue),
      cmocka_unit_test(test_h1_413_closes),
      cmocka_unit_test(test_disconnect_mid_request),
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test(test_read_header_timeout),
      cmocka_unit_test(test_per_peer_share),
      cmocka_unit_test(test_h2_grpc_over_socket),
      cmocka_unit_test(test_create_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
