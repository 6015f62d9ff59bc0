/* Shared helpers of the core/http unit tests: a router with test routes, an output
 * capture, and a small nghttp2 client (sans-IO, so it runs against a tg_http_conn
 * directly or over a blocking socket). Header-only: each test executable includes it. */
#ifndef HTTP_TEST_UTIL_H
#define HTTP_TEST_UTIL_H

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/tg_http_conn.h"
#include "tg_alloc.h"
#include "tg_buf.h"

/* ---- routes ---- */
typedef struct test_ctx {
  int calls;
  size_t last_len;
  uint64_t last_deadline;
  char last_query[64];
} test_ctx;

/* Echoes "len=<n>" followed by the body. */
static inline void echo_handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  test_ctx *t = ctx;
  t->calls++;
  t->last_len = req->body_len;
  snprintf(t->last_query, sizeof t->last_query, "%s", req->query ? req->query : "");
  resp->content_type = "text/plain";
  tg_buf_appendf(&resp->body, "len=%zu;", req->body_len);
  tg_buf_append(&resp->body, req->body, req->body_len);
  snprintf(resp->extra_storage, sizeof resp->extra_storage, "%d", 7);
  tg_http_response_add_header(resp, "X-Test", resp->extra_storage);
}

/* gRPC: replies with the request message reversed; "fail" -> status 3. */
static inline void grpc_handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  test_ctx *t = ctx;
  t->calls++;
  t->last_len = req->body_len;
  t->last_deadline = req->deadline_ms;
  if (req->body_len == 4 && memcmp(req->body, "fail", 4) == 0) {
    resp->grpc_status = 3;
    resp->grpc_message = "bad request: 100% wrong";
    return;
  }
  for (size_t i = req->body_len; i > 0; i--)
    tg_buf_append(&resp->body, &req->body[i - 1], 1);
}

#define TEST_GRPC_PATH "/test.Svc/Call"

static inline void test_routes(tg_http_route routes[3], test_ctx *ctx) {
  routes[0] = (tg_http_route){"POST", "/echo", 0, echo_handler, ctx};
  routes[1] = (tg_http_route){"PUT", "/echo", 0, echo_handler, ctx};
  routes[2] = (tg_http_route){"POST", TEST_GRPC_PATH, 1, grpc_handler, ctx};
}

/* ---- output capture ---- */
static inline int capture_write(void *ctx, const uint8_t *data, size_t len) {
  return tg_buf_append((tg_buf *)ctx, data, len) == TG_OK ? 0 : -1;
}

/* ---- nghttp2 client ---- */
typedef struct h2_client {
  nghttp2_session *s;
  int32_t stream_id;
  int closed;
  int http_status;
  int grpc_status; /* -1 until seen */
  char grpc_message[256];
  char content_type[256];
  tg_buf data;
  const uint8_t *body;
  size_t body_len, body_off;
  uint32_t rst_code;
} h2_client;

static inline int h2c_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                         size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud) {
  (void)s;
  (void)f;
  (void)flags;
  h2_client *c = ud;
  char v[256];
  snprintf(v, sizeof v, "%.*s", (int)vl, (const char *)value);
  if (nl == 7 && memcmp(name, ":status", 7) == 0)
    c->http_status = atoi(v);
  else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0)
    c->grpc_status = atoi(v);
  else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0)
    memcpy(c->grpc_message, v, sizeof v);
  else if (nl == 12 && memcmp(name, "content-type", 12) == 0)
    memcpy(c->content_type, v, sizeof v);
  return 0;
}

static inline int h2c_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                       void *ud) {
  (void)s;
  (void)flags;
  (void)id;
  h2_client *c = ud;
  tg_buf_append(&c->data, d, n);
  return 0;
}

static inline int h2c_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  (void)s;
  h2_client *c = ud;
  if (id == c->stream_id) {
    c->closed = 1;
    c->rst_code = code;
  }
  return 0;
}

static inline ssize_t h2c_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud) {
  (void)s;
  (void)id;
  (void)src;
  h2_client *c = ud;
  size_t left = c->body_len - c->body_off;
  size_t n = left < len ? left : len;
  memcpy(buf, c->body + c->body_off, n);
  c->body_off += n;
  if (c->body_off == c->body_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static inline void h2_client_init(h2_client *c) {
  memset(c, 0, sizeof *c);
  c->grpc_status = -1;
  tg_buf_init(&c->data, 0);
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2c_on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2c_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2c_on_close);
  nghttp2_session_client_new(&c->s, cb, c);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

static inline void h2_client_free(h2_client *c) {
  nghttp2_session_del(c->s);
  tg_buf_free(&c->data);
}

#define NV(n, v)                                                               \
  { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

/* Submits a request; extra headers as name/value pairs (NULL-terminated list). */
static inline void h2_client_request(h2_client *c, const char *method, const char *path,
                              const char *content_type, const char *extra_name,
                              const char *extra_value, const uint8_t *body, size_t body_len) {
  nghttp2_nv nva[6] = {NV(":method", method), NV(":scheme", "http"), NV(":authority", "test"),
                       NV(":path", path)};
  size_t n = 4;
  if (content_type)
    nva[n++] = (nghttp2_nv)NV("content-type", content_type);
  if (extra_name)
    nva[n++] = (nghttp2_nv){(uint8_t *)extra_name, (uint8_t *)extra_value, strlen(extra_name),
                            strlen(extra_value), NGHTTP2_NV_FLAG_NONE};
  c->body = body;
  c->body_len = body_len;
  c->body_off = 0;
  c->closed = 0;
  c->http_status = 0;
  c->grpc_status = -1;
  c->grpc_message[0] = '\0';
  c->data.len = 0;
  nghttp2_data_provider prd = {.read_callback = h2c_read};
  c->stream_id = nghttp2_submit_request(c->s, NULL, nva, n, body ? &prd : NULL, NULL);
}

/* gRPC framing of a message (flag 0/1). Caller frees with tg_buf_free. */
static inline void grpc_frame_msg(tg_buf *out, int compressed, const uint8_t *msg, size_t len) {
  uint8_t p[5] = {(uint8_t)compressed, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                  (uint8_t)(len >> 8), (uint8_t)len};
  tg_buf_append(out, p, 5);
  tg_buf_append(out, msg, len);
}

#endif
