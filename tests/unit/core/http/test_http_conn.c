/* The sans-IO layer: HTTP/1.1 and HTTP/2/gRPC driven byte by byte, no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_test_util.h"
#include <zlib.h>

#include "tg_gzip.h"

/* A streamed body (tg_http_body_stream): n slices "slice-<i>;", optionally failing. */
typedef struct stream_ctx {
  int n, next, released, fail_at, started;
} stream_ctx;

static int stream_next(void *ctx, tg_buf *out, size_t max_bytes, int *done) {
  stream_ctx *s = ctx;
  assert_int_equal(out->len, 0);
  assert_true(max_bytes > 0);
  if (s->next == s->fail_at)
    return TG_ENOMEM;
  tg_buf_appendf(out, "slice-%d;", s->next++);
  *done = s->next == s->n;
  return TG_OK;
}

static void stream_release(void *ctx) { ((stream_ctx *)ctx)->released++; }

static void stream_handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)req;
  stream_ctx *s = ctx;
  s->started++;
  resp->content_type = "text/plain";
  resp->stream = (tg_http_body_stream){stream_next, stream_release, s};
}

/* A handler that keeps the request body (tg_http_request_take_body), as the OTLP
 * receiver's batches do; the test checks and frees what it took. */
typedef struct take_ctx {
  uint8_t *bufs[8];
  const uint8_t *bodies[8];
  size_t lens[8], sizes[8];
  int n;
} take_ctx;

static void take_handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  take_ctx *t = ctx;
  size_t len = req->body_len;
  const uint8_t *body = NULL;
  size_t size = 0;
  uint8_t *buf = t->n < 8 ? tg_http_request_take_body(req, &body, &size) : NULL;
  if (buf) {
    t->bufs[t->n] = buf;
    t->bodies[t->n] = body;
    t->lens[t->n] = len;
    t->sizes[t->n++] = size;
  }
  tg_buf_appendf(&resp->body, "%s%zu", buf ? "taken=" : "kept=", len);
}

static void take_free(take_ctx *t) {
  for (int i = 0; i < t->n; i++)
    tg_free(t->bufs[i]);
  t->n = 0;
}

typedef struct fixture {
  tg_http_route routes[6];
  take_ctx take;
  stream_ctx sctx;
  test_ctx ctx;
  tg_http_server_stats stats;
  tg_http_router router;
  tg_buf out;
  tg_http_conn *conn;
} fixture;

static int setup(void **state) {
  fixture *f = tg_calloc(1, sizeof *f);
  test_routes(f->routes, &f->ctx);
  f->routes[3] = (tg_http_route){"GET", "/stream", 0, stream_handler, &f->sctx};
  f->routes[4] = (tg_http_route){"POST", "/take", 0, take_handler, &f->take};
  f->routes[5] = (tg_http_route){"POST", "/test.Svc/Take", 1, take_handler, &f->take};
  f->sctx = (stream_ctx){.n = 5, .fail_at = -1};
  f->router = (tg_http_router){.routes = f->routes, .n_routes = 6, .max_body_bytes = 1024,
                               .max_concurrent_streams = 10, .stats = &f->stats};
  tg_buf_init(&f->out, 0);
  f->conn = tg_http_conn_new(&f->router, TG_HTTP_PROTO_AUTO, NULL, "test:1", capture_write,
                             &f->out);
  assert_non_null(f->conn);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tg_http_conn_free(f->conn);
  take_free(&f->take);
  tg_buf_free(&f->out);
  tg_free(f);
  return 0;
}

static int feed_str(fixture *f, const char *s) {
  return tg_http_conn_feed(f->conn, (const uint8_t *)s, strlen(s));
}

static const char *out_str(fixture *f) {
  tg_buf_append(&f->out, "", 1);
  f->out.len--;
  return (const char *)f->out.data;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

/* ---- HTTP/1.1 ---- */

static void test_h1_keepalive_two_requests(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                               "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"),
                   TG_OK);
  const char *o = out_str(f);
  assert_int_equal(count(o, "HTTP/1.1 200 OK\r\n"), 2);
  assert_non_null(strstr(o, "Content-Length: 11\r\n"));
  assert_non_null(strstr(o, "len=5;hello"));
  assert_non_null(strstr(o, "len=3;abc"));
  assert_non_null(strstr(o, "X-Test: 7\r\n"));
  assert_null(strstr(o, "Connection: close"));
  assert_int_equal(f->ctx.calls, 2);
  assert_int_equal(f->stats.requests, 2);
  /* a third request split across feeds byte by byte */
  f->out.len = 0;
  const char *req = "PUT /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
  for (size_t i = 0; req[i]; i++)
    assert_int_equal(tg_http_conn_feed(f->conn, (const uint8_t *)req + i, 1), TG_OK);
  assert_non_null(strstr(out_str(f), "len=2;ok"));
}

static void test_h1_query_and_close(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "POST /echo?a=b HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
                   TG_ECLOSED);
  assert_string_equal(f->ctx.last_query, "a=b");
  assert_non_null(strstr(out_str(f), "Connection: close\r\n"));
}

static void test_h1_chunked(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "4\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: 1\r\n\r\n"),
                   TG_OK);
  const char *o = out_str(f);
  assert_non_null(strstr(o, "200 OK"));
  assert_non_null(strstr(o, "len=7;abcdefg"));
}

static void test_h1_chunked_too_large(void **state) {
  fixture *f = *state;
  char big[1200];
  memset(big, 'a', sizeof big);
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4b0\r\n"),
                   TG_OK);
  assert_int_equal(tg_http_conn_feed(f->conn, (const uint8_t *)big, sizeof big), TG_ECLOSED);
  assert_non_null(strstr(out_str(f), "HTTP/1.1 413 "));
  assert_int_equal(f->stats.too_large, 1);
  assert_int_equal(f->ctx.calls, 0);
}

static void test_h1_100_continue(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"),
                   TG_OK);
  assert_string_equal(out_str(f), "HTTP/1.1 100 Continue\r\n\r\n");
  assert_int_equal(feed_str(f, "data"), TG_OK);
  assert_non_null(strstr(out_str(f), "len=4;data"));
}

static void test_h1_413_content_length(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"),
                   TG_ECLOSED);
  const char *o = out_str(f);
  assert_non_null(strstr(o, "HTTP/1.1 413 Payload Too Large\r\n"));
  assert_null(strstr(o, "100 Continue"));
  assert_non_null(strstr(o, "Content-Type: text/plain\r\n"));
  assert_non_null(strstr(o, "Connection: close\r\n"));
  assert_int_equal(f->stats.too_large, 1);
}

static void test_h1_404_405(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "POST /nope HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                               "GET /echo HTTP/1.1\r\n\r\n"),
                   TG_OK);
  const char *o = out_str(f);
  assert_non_null(strstr(o, "HTTP/1.1 404 Not Found\r\n"));
  assert_non_null(strstr(o, "HTTP/1.1 405 Method Not Allowed\r\n"));
  assert_non_null(strstr(o, "Allow: POST, PUT\r\n"));
  assert_int_equal(f->ctx.calls, 0);
  /* gRPC routes are not served over HTTP/1 */
  f->out.len = 0;
  assert_int_equal(feed_str(f, "POST " TEST_GRPC_PATH " HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), TG_OK);
  assert_non_null(strstr(out_str(f), "404"));
}

static void test_h1_gzip_body(void **state) {
  fixture *f = *state;
  tg_buf gz;
  tg_buf_init(&gz, 0);
  assert_int_equal(tg_gzip_deflate((const uint8_t *)"compressed body", 15, &gz), TG_OK);
  char head[128];
  snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
           gz.len);
  assert_int_equal(feed_str(f, head), TG_OK);
  assert_int_equal(tg_http_conn_feed(f->conn, gz.data, gz.len), TG_OK);
  assert_non_null(strstr(out_str(f), "len=15;compressed body"));
  /* corrupt gzip -> 400, connection stays usable */
  f->out.len = 0;
  gz.data[gz.len / 2] ^= 0xff;
  gz.data[gz.len - 5] ^= 0xff;
  assert_int_equal(feed_str(f, head), TG_OK);
  assert_int_equal(tg_http_conn_feed(f->conn, gz.data, gz.len), TG_OK);
  assert_non_null(strstr(out_str(f), "HTTP/1.1 400 Bad Request\r\n"));
  assert_int_equal(f->stats.bad_requests, 1);
  /* unknown encoding -> 415 */
  f->out.len = 0;
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx"),
                   TG_OK);
  assert_non_null(strstr(out_str(f), "HTTP/1.1 415 "));
  assert_int_equal(f->ctx.calls, 1);
  tg_buf_free(&gz);
}

static void test_h1_gzip_bomb(void **state) {
  fixture *f = *state;
  uint8_t *zeros = tg_calloc(1, 100000);
  tg_buf gz;
  tg_buf_init(&gz, 0);
  assert_int_equal(tg_gzip_deflate(zeros, 100000, &gz), TG_OK);
  assert_true(gz.len < 1024);
  char head[128];
  snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
           gz.len);
  feed_str(f, head);
  tg_http_conn_feed(f->conn, gz.data, gz.len);
  assert_non_null(strstr(out_str(f), "HTTP/1.1 413 "));
  tg_buf_free(&gz);
  tg_free(zeros);
}

static void test_h1_malformed(void **state) {
  fixture *f = *state;
  assert_int_equal(feed_str(f, "GARBAGE\r\n\r\n"), TG_ECLOSED);
  assert_non_null(strstr(out_str(f), "HTTP/1.1 400 "));
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\n\r\n"), TG_ECLOSED);
}

static void test_h1_too_many_headers(void **state) {
  fixture *f = *state;
  tg_buf req;
  tg_buf_init(&req, 0);
  tg_buf_append_str(&req, "POST /echo HTTP/1.1\r\n");
  for (int i = 0; i < 150; i++)
    tg_buf_appendf(&req, "X-H%d: v\r\n", i);
  tg_buf_append_str(&req, "\r\n");
  assert_int_equal(tg_http_conn_feed(f->conn, req.data, req.len), TG_ECLOSED);
  assert_non_null(strstr(out_str(f), "HTTP/1.1 431 "));
  tg_buf_free(&req);
}

/* ---- HTTP/2 ---- */

/* Moves bytes both ways until the client's stream closes or nothing moves. */
static void pump(fixture *f, h2_client *c) {
  for (int i = 0; i < 1000 && !c->closed; i++) {
    int moved = 0;
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->s, &d)) > 0) {
      tg_http_conn_feed(f->conn, d, (size_t)n);
      moved = 1;
    }
    if (f->out.len) {
      assert_int_equal(nghttp2_session_mem_recv(c->s, f->out.data, f->out.len), (ssize_t)f->out.len);
      f->out.len = 0;
      moved = 1;
    }
    if (!moved)
      break;
  }
}

static void test_h2_grpc_unary(void **state) {
  fixture *f = *state;
  h2_client c;
  h2_client_init(&c);
  tg_buf body;
  tg_buf_init(&body, 0);
  grpc_frame_msg(&body, 0, (const uint8_t *)"abc", 3);
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", "grpc-timeout", "250m",
                    body.data, body.len);
  pump(f, &c);
  assert_true(c.closed);
  assert_int_equal(c.rst_code, 0);
  assert_int_equal(c.http_status, 200);
  assert_string_equal(c.content_type, "application/grpc");
  assert_int_equal(c.grpc_status, 0);
  assert_int_equal(c.data.len, 8);
  assert_memory_equal(c.data.data, "\0\0\0\0\3cba", 8);
  assert_int_equal(f->ctx.calls, 1);
  assert_true(f->ctx.last_deadline > 0);
  /* handler error -> trailers-only, message percent-encoded */
  grpc_frame_msg(&body, 0, (const uint8_t *)"x", 0);
  body.len = 0;
  grpc_frame_msg(&body, 0, (const uint8_t *)"fail", 4);
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc+proto", NULL, NULL, body.data,
                    body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 3);
  assert_string_equal(c.grpc_message, "bad request: 100%25 wrong");
  assert_int_equal(c.data.len, 0);
  tg_buf_free(&body);
  h2_client_free(&c);
}

static void test_h2_grpc_gzip(void **state) {
  fixture *f = *state;
  h2_client c;
  h2_client_init(&c);
  tg_buf gz, body;
  tg_buf_init(&gz, 0);
  tg_buf_init(&body, 0);
  tg_gzip_deflate((const uint8_t *)"hello grpc", 10, &gz);
  grpc_frame_msg(&body, 1, gz.data, gz.len);
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", "grpc-encoding", "gzip",
                    body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 0);
  assert_int_equal(f->ctx.last_len, 10);
  assert_int_equal(c.data.len, 15);
  assert_memory_equal(c.data.data + 5, "cprg olleh", 10);
  /* compressed flag without grpc-encoding -> 13 */
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", NULL, NULL, body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 13);
  tg_buf_free(&gz);
  tg_buf_free(&body);
  h2_client_free(&c);
}

static void test_h2_grpc_errors(void **state) {
  fixture *f = *state;
  h2_client c;
  h2_client_init(&c);
  tg_buf body;
  tg_buf_init(&body, 0);
  uint8_t big[2000];
  memset(big, 'z', sizeof big);
  grpc_frame_msg(&body, 0, big, sizeof big); /* above max_body_bytes (1024) */
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", NULL, NULL, body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.http_status, 200);
  assert_int_equal(c.grpc_status, 8);
  assert_int_equal(f->stats.too_large, 1);
  /* inflates above the limit -> 8 too */
  tg_buf gz;
  tg_buf_init(&gz, 0);
  tg_gzip_deflate(big, sizeof big, &gz);
  body.len = 0;
  grpc_frame_msg(&body, 1, gz.data, gz.len);
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", "grpc-encoding", "gzip",
                    body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 8);
  /* unknown method -> 12 */
  body.len = 0;
  grpc_frame_msg(&body, 0, (const uint8_t *)"a", 1);
  h2_client_request(&c, "POST", "/test.Svc/Nope", "application/grpc", NULL, NULL, body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 12);
  /* two messages -> 12 (unary only) */
  grpc_frame_msg(&body, 0, (const uint8_t *)"b", 1);
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", NULL, NULL, body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 12);
  /* truncated -> 13 */
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/grpc", NULL, NULL, body.data, 4);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 13);
  /* wrong content type on a gRPC route -> HTTP 415 */
  h2_client_request(&c, "POST", TEST_GRPC_PATH, "application/json", NULL, NULL, body.data, 6);
  pump(f, &c);
  assert_int_equal(c.http_status, 415);
  assert_int_equal(f->ctx.calls, 0);
  tg_buf_free(&gz);
  tg_buf_free(&body);
  h2_client_free(&c);
}

static void test_h2_plain_http(void **state) {
  fixture *f = *state;
  h2_client c;
  h2_client_init(&c);
  h2_client_request(&c, "POST", "/echo?q=2", "text/plain", NULL, NULL, (const uint8_t *)"xyz", 3);
  pump(f, &c);
  assert_int_equal(c.http_status, 200);
  assert_int_equal(c.data.len, 9);
  assert_memory_equal(c.data.data, "len=3;xyz", 9);
  assert_string_equal(f->ctx.last_query, "q=2");
  h2_client_request(&c, "GET", "/echo", NULL, NULL, NULL, NULL, 0);
  pump(f, &c);
  assert_int_equal(c.http_status, 405);
  h2_client_request(&c, "GET", "/missing", NULL, NULL, NULL, NULL, 0);
  pump(f, &c);
  assert_int_equal(c.http_status, 404);
  uint8_t big[3000] = {0};
  h2_client_request(&c, "POST", "/echo", "text/plain", NULL, NULL, big, sizeof big);
  pump(f, &c);
  assert_int_equal(c.http_status, 413);
  h2_client_free(&c);
}

/* ---- handlers that take the body ---- */

/* HTTP/1.1: a Content-Length body, a chunked one and a gzip one are each taken whole;
 * the connection goes on with a fresh buffer (keep-alive, also for a handler that only
 * reads). */
static void test_h1_take_body(void **state) {
  fixture *f = *state;
  tg_buf gz;
  tg_buf_init(&gz, 0);
  assert_int_equal(tg_gzip_deflate((const uint8_t *)"inflated body", 13, &gz), TG_OK);
  char head[128];
  snprintf(head, sizeof head,
           "POST /take HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
           gz.len);
  assert_int_equal(feed_str(f, "POST /take HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                               "POST /take HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"),
                   TG_OK);
  assert_int_equal(feed_str(f, head), TG_OK);
  assert_int_equal(tg_http_conn_feed(f->conn, gz.data, gz.len), TG_OK);
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"), TG_OK);
  const char *o = out_str(f);
  assert_non_null(strstr(o, "taken=5"));
  assert_non_null(strstr(o, "taken=7"));
  assert_non_null(strstr(o, "taken=13"));
  assert_non_null(strstr(o, "len=3;xyz"));
  assert_int_equal(f->take.n, 3);
  assert_memory_equal(f->take.bodies[0], "hello", 5);
  assert_memory_equal(f->take.bodies[1], "abcdefg", 7);
  assert_memory_equal(f->take.bodies[2], "inflated body", 13);
  for (int i = 0; i < 3; i++)
    assert_true(f->take.sizes[i] > f->take.lens[i]);
  /* an empty body has nothing to take */
  assert_int_equal(feed_str(f, "POST /take HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), TG_OK);
  assert_non_null(strstr(out_str(f), "kept=0"));
  tg_buf_free(&gz);
}

/* HTTP/2: a gRPC message read in place (the buffer keeps its 5-byte prefix before the
 * body), an inflated one, and a plain HTTP body. */
static void test_h2_take_body(void **state) {
  fixture *f = *state;
  h2_client c;
  h2_client_init(&c);
  tg_buf body, gz;
  tg_buf_init(&body, 0);
  tg_buf_init(&gz, 0);
  grpc_frame_msg(&body, 0, (const uint8_t *)"plain msg", 9);
  h2_client_request(&c, "POST", "/test.Svc/Take", "application/grpc", NULL, NULL, body.data,
                    body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 0);
  tg_gzip_deflate((const uint8_t *)"zipped msg", 10, &gz);
  body.len = 0;
  grpc_frame_msg(&body, 1, gz.data, gz.len);
  h2_client_request(&c, "POST", "/test.Svc/Take", "application/grpc", "grpc-encoding", "gzip",
                    body.data, body.len);
  pump(f, &c);
  assert_int_equal(c.grpc_status, 0);
  h2_client_request(&c, "POST", "/take", "text/plain", NULL, NULL, (const uint8_t *)"h2 body",
                    7);
  pump(f, &c);
  assert_int_equal(c.http_status, 200);
  assert_int_equal(f->take.n, 3);
  assert_memory_equal(f->take.bodies[0], "plain msg", 9);
  assert_ptr_equal(f->take.bodies[0], f->take.bufs[0] + 5);
  assert_memory_equal(f->take.bodies[1], "zipped msg", 10);
  assert_memory_equal(f->take.bodies[2], "h2 body", 7);
  tg_buf_free(&body);
  tg_buf_free(&gz);
  h2_client_free(&c);
}

/* A buffer much larger than its body is trimmed when taken; a request without body_buf
 * (built by a test or a component) has nothing to take. */
static void test_take_body_trims(void **state) {
  (void)state;
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_buf_reserve(&b, 1 << 20), TG_OK);
  assert_int_equal(tg_buf_append(&b, "xxsmall", 7), TG_OK);
  tg_http_request req = {.body = b.data + 2, .body_len = 5, .body_buf = &b};
  const uint8_t *body;
  size_t size;
  uint8_t *buf = tg_http_request_take_body(&req, &body, &size);
  assert_non_null(buf);
  assert_null(b.data);
  assert_int_equal(size, 8);
  assert_memory_equal(body, "small", 5);
  assert_ptr_equal(body, buf + 2);
  tg_free(buf);
  req.body_buf = NULL;
  req.body = (const uint8_t *)"small";
  assert_null(tg_http_request_take_body(&req, &body, &size));
}

/* ---- streamed responses ---- */

static void test_h1_stream_chunked_then_pipelined(void **state) {
  fixture *f = *state;
  /* a streamed GET and a pipelined POST in one read */
  assert_int_equal(feed_str(f, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"
                               "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"), TG_OK);
  const char *o = out_str(f);
  assert_non_null(strstr(o, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(o, "Transfer-Encoding: chunked\r\n"));
  assert_null(strstr(o, "Content-Length"));
  assert_null(strstr(o, "len=2;hi")); /* the POST waits for the end of the body */
  assert_int_equal(tg_http_conn_streaming(f->conn), 1);
  assert_int_equal(tg_http_conn_input_paused(f->conn), 1);
  /* more input meanwhile is held, not parsed */
  assert_int_equal(feed_str(f, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), TG_OK);
  assert_int_equal(f->ctx.calls, 0);
  int rc, pumps = 0;
  while ((rc = tg_http_conn_pump(f->conn, 64)) == 1)
    pumps++;
  assert_int_equal(rc, 0);
  assert_int_equal(pumps, 4); /* one slice per call: 5 slices, the last ends it */
  assert_int_equal(f->sctx.released, 1);
  o = out_str(f);
  const char *body = strstr(o, "\r\n\r\n") + 4;
  assert_true(strncmp(body, "8\r\nslice-0;\r\n8\r\nslice-1;\r\n8\r\nslice-2;\r\n8\r\nslice-3;\r\n"
                            "8\r\nslice-4;\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", 84) == 0);
  assert_non_null(strstr(o, "len=2;hi")); /* then both pipelined requests, in order */
  assert_true(strstr(o, "len=3;abc") > strstr(o, "len=2;hi"));
  assert_int_equal(f->ctx.calls, 2);
  assert_int_equal(tg_http_conn_streaming(f->conn), 0);
  assert_int_equal(tg_http_conn_input_paused(f->conn), 0);
}

static void test_h1_stream_http10_head_abort_free(void **state) {
  fixture *f = *state;
  /* HTTP/1.0: no chunking, the body ends with the connection */
  assert_int_equal(feed_str(f, "GET /stream HTTP/1.0\r\n\r\n"), TG_ECLOSED);
  const char *o = out_str(f);
  assert_non_null(strstr(o, "Connection: close\r\n"));
  assert_null(strstr(o, "Transfer-Encoding"));
  int rc;
  while ((rc = tg_http_conn_pump(f->conn, 64)) == 1)
    ;
  assert_int_equal(rc, TG_ECLOSED);
  assert_non_null(strstr(out_str(f), "\r\n\r\nslice-0;slice-1;slice-2;slice-3;slice-4;"));
  assert_int_equal(f->sctx.released, 1);
  tg_http_conn_free(f->conn);

  /* HEAD: headers only, the stream released at once */
  f->out.len = 0;
  f->sctx = (stream_ctx){.n = 5, .fail_at = -1};
  f->conn = tg_http_conn_new(&f->router, TG_HTTP_PROTO_AUTO, NULL, "t:2", capture_write, &f->out);
  f->routes[3].method = "HEAD";
  assert_int_equal(feed_str(f, "HEAD /stream HTTP/1.1\r\n\r\n"), TG_OK);
  assert_int_equal(f->sctx.released, 1);
  assert_int_equal(f->sctx.next, 0);
  assert_int_equal(tg_http_conn_streaming(f->conn), 0);
  assert_null(strstr(out_str(f), "slice"));
  f->routes[3].method = "GET";

  /* a failing slice: no final chunk, the connection ends */
  f->out.len = 0;
  f->sctx = (stream_ctx){.n = 5, .fail_at = 1};
  assert_int_equal(feed_str(f, "GET /stream HTTP/1.1\r\n\r\n"), TG_OK);
  assert_int_equal(tg_http_conn_pump(f->conn, 64), 1);
  assert_int_equal(tg_http_conn_pump(f->conn, 64), TG_ECLOSED);
  assert_int_equal(f->sctx.released, 1);
  assert_null(strstr(out_str(f), "0\r\n\r\n"));
  tg_http_conn_free(f->conn);

  /* the connection goes away mid-body: released once */
  f->out.len = 0;
  f->sctx = (stream_ctx){.n = 5, .fail_at = -1};
  f->conn = tg_http_conn_new(&f->router, TG_HTTP_PROTO_AUTO, NULL, "t:3", capture_write, &f->out);
  assert_int_equal(feed_str(f, "GET /stream HTTP/1.1\r\n\r\n"), TG_OK);
  assert_int_equal(tg_http_conn_pump(f->conn, 64), 1);
  tg_http_conn_free(f->conn);
  f->conn = NULL;
  assert_int_equal(f->sctx.released, 1);
}

static void test_h2_stream(void **state) {
  fixture *f = *state;
  h2_client c;
  h2_client_init(&c);
  h2_client_request(&c, "GET", "/stream", NULL, NULL, NULL, NULL, 0);
  for (int i = 0; i < 100 && !c.closed; i++) {
    pump(f, &c);
    int rc = tg_http_conn_pump(f->conn, 64);
    assert_true(rc >= 0);
  }
  assert_true(c.closed);
  assert_int_equal(c.http_status, 200);
  assert_int_equal(c.data.len, 40);
  assert_memory_equal(c.data.data, "slice-0;slice-1;slice-2;slice-3;slice-4;", 40);
  assert_int_equal(f->sctx.released, 1);
  assert_int_equal(tg_http_conn_streaming(f->conn), 0);
  assert_int_equal(tg_http_conn_input_paused(f->conn), 0);
  /* a failing slice resets the stream */
  f->sctx = (stream_ctx){.n = 5, .fail_at = 1};
  h2_client_request(&c, "GET", "/stream", NULL, NULL, NULL, NULL, 0);
  for (int i = 0; i < 100 && !c.closed; i++) {
    pump(f, &c);
    tg_http_conn_pump(f->conn, 64);
  }
  assert_true(c.closed);
  assert_int_equal(c.rst_code, NGHTTP2_INTERNAL_ERROR);
  assert_int_equal(f->sctx.released, 1);
  h2_client_free(&c);
}

/* ---- helpers ---- */

static void test_grpc_timeout_parse(void **state) {
  (void)state;
  uint64_t ms = 0;
  assert_int_equal(tg_grpc_parse_timeout("1H", &ms), TG_OK);
  assert_int_equal(ms, 3600000);
  assert_int_equal(tg_grpc_parse_timeout("2M", &ms), TG_OK);
  assert_int_equal(ms, 120000);
  assert_int_equal(tg_grpc_parse_timeout("3S", &ms), TG_OK);
  assert_int_equal(ms, 3000);
  assert_int_equal(tg_grpc_parse_timeout("250m", &ms), TG_OK);
  assert_int_equal(ms, 250);
  assert_int_equal(tg_grpc_parse_timeout("1500u", &ms), TG_OK);
  assert_int_equal(ms, 2);
  assert_int_equal(tg_grpc_parse_timeout("99999999n", &ms), TG_OK);
  assert_int_equal(ms, 100);
  assert_int_equal(tg_grpc_parse_timeout("123456789S", &ms), TG_EDECODE);
  assert_int_equal(tg_grpc_parse_timeout("10", &ms), TG_EDECODE);
  assert_int_equal(tg_grpc_parse_timeout("S", &ms), TG_EDECODE);
  assert_int_equal(tg_grpc_parse_timeout("10x", &ms), TG_EDECODE);
  assert_int_equal(tg_grpc_parse_timeout("10SS", &ms), TG_EDECODE);
  assert_int_equal(tg_grpc_parse_timeout("-1S", &ms), TG_EDECODE);
}

static void test_percent_encode(void **state) {
  (void)state;
  char out[32];
  tg_grpc_percent_encode("a b%c\n\xc3\xa9", out, sizeof out);
  assert_string_equal(out, "a b%25c%0A%C3%A9");
  tg_grpc_percent_encode("%%%%", out, 8);
  assert_string_equal(out, "%25%25");
}

static void test_gzip_roundtrip_and_limits(void **state) {
  (void)state;
  tg_buf gz, out;
  tg_buf_init(&gz, 0);
  tg_buf_init(&out, 0);
  const char *text = "the quick brown fox jumps over the lazy dog";
  assert_int_equal(tg_gzip_deflate((const uint8_t *)text, strlen(text), &gz), TG_OK);
  assert_int_equal(gz.data[0], 0x1f);
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len, 0, &out), TG_OK);
  assert_int_equal(out.len, strlen(text));
  assert_memory_equal(out.data, text, out.len);
  out.len = 0;
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len, 10, &out), TG_ETOOBIG);
  assert_int_equal(out.len, 0);
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len - 3, 0, &out), TG_EDECODE);
  assert_int_equal(tg_gzip_inflate((const uint8_t *)"garbage!", 8, 0, &out), TG_EDECODE);
  /* two concatenated members */
  size_t one = gz.len;
  tg_buf_append(&gz, gz.data, one);
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len, 0, &out), TG_OK);
  assert_int_equal(out.len, 2 * strlen(text));
  /* trailing garbage */
  gz.len = one;
  tg_buf_append(&gz, "xx", 2);
  out.len = 0;
  assert_int_equal(tg_gzip_inflate(gz.data, gz.len, 0, &out), TG_EDECODE);
  /* zlib format */
  uint8_t z[128];
  uLongf zl = sizeof z;
  assert_int_equal(compress(z, &zl, (const uint8_t *)text, strlen(text)), Z_OK);
  assert_int_equal(tg_gzip_inflate(z, zl, 0, &out), TG_OK);
  assert_int_equal(out.len, strlen(text));
  tg_buf_free(&gz);
  tg_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_h1_keepalive_two_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_query_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_chunked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_chunked_too_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_100_continue, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_413_content_length, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_404_405, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_gzip_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_gzip_bomb, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_too_many_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h2_grpc_unary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h2_grpc_gzip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h2_grpc_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h2_plain_http, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_stream_chunked_then_pipelined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_stream_http10_head_abort_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h2_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h1_take_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_h2_take_body, setup, teardown),
      cmocka_unit_test(test_take_body_trims),
      cmocka_unit_test(test_grpc_timeout_parse),
      cmocka_unit_test(test_percent_encode),
      cmocka_unit_test(test_gzip_roundtrip_and_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
