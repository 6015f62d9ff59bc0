/* The body of the HTTP fuzz targets (http1, http2): the input is the byte stream of one
 * connection fed to a sans-IO tg_http_conn with a plain route (echoing the decoded body
 * length) and one gRPC route. Each target defines FUZZ_HTTP_PROTO (the connection's
 * starting protocol) and includes this file. */
#ifndef FUZZ_HTTP_PROTO
#error "define FUZZ_HTTP_PROTO before including fuzz_http_conn.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/tg_http_conn.h"
#include "tg_alloc.h"
#include "tg_buf.h"

/* On odd body lengths a handler takes the body's buffer, as the OTLP receiver does
 * (tg_http_request_take_body), so the hand-over and the fresh buffer the server starts
 * for the next request are fuzzed too. The taken bytes are read to their end (ASan
 * catches a body that did not move with its buffer) and freed. */
static size_t take_odd_body(const tg_http_request *req) {
  if (!(req->body_len & 1))
    return 0;
  const uint8_t *body;
  size_t size;
  uint8_t *buf = tg_http_request_take_body(req, &body, &size);
  if (!buf)
    return 0;
  size_t sum = 0;
  for (size_t i = 0; i < req->body_len; i++)
    sum += body[i];
  if (body < buf || (size_t)(body - buf) + req->body_len > size)
    __builtin_trap(); /* the body must lie inside the buffer whose size is reported */
  tg_free(buf);
  return sum;
}

static void echo(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  size_t len = req->body_len;
  size_t sum = take_odd_body(req);
  tg_buf_appendf(&resp->body, "%zu %zu", len, sum);
  if (tg_http_request_header(req, "x-retry"))
    tg_http_response_add_header(resp, "Retry-After", "1");
}

static void grpc(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  if (req->body_len & 1) {
    take_odd_body(req); /* req->body must not be read after a take */
    return;
  }
  tg_buf_append(&resp->body, req->body, req->body_len > 16 ? 16 : req->body_len);
}

static int sink(void *ctx, const uint8_t *data, size_t len) {
  size_t *total = ctx;
  (void)data;
  *total += len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_http_route routes[2] = {{"POST", "/echo", 0, echo, NULL},
                             {"POST", "/test.Svc/Call", 1, grpc, NULL}};
  tg_http_server_stats stats = {0};
  /* CORS, response_headers, compression_algorithms and the PING policy are on, so the
   * preflight path, Access-Control-Request-Headers splitting and PING strikes are fuzzed. */
  static const char *const origins[] = {"https://*.example.com", "http://a"};
  static const char *const allowed[] = {"x-tenant"};
  static const char *const names[] = {"x-served-by"}, *const values[] = {"fuzz"};
  static const char *const encodings[] = {"", "gzip"};
  static const tg_http_cors cors = {origins, 2, allowed, 1, 60};
  tg_http_router router = {.routes = routes, .n_routes = 2, .max_body_bytes = 4096,
                           .max_concurrent_streams = 8, .stats = &stats, .cors = &cors,
                           .response_header_names = names, .response_header_values = values,
                           .n_response_headers = 1, .encodings = encodings, .n_encodings = 2,
                           .keepalive = {.enforce = 1, .min_time_ms = 1000}};
  size_t total = 0;
  tg_http_conn *c = tg_http_conn_new(&router, FUZZ_HTTP_PROTO, NULL, "fuzz:1", sink, &total);
  if (!c)
    return 0;
  /* Feed in up to four pieces whose sizes come from the first byte. */
  size_t off = 0;
  unsigned split = size ? data[0] : 0;
  for (int i = 0; i < 4 && off < size; i++) {
    size_t n = i == 3 ? size - off : (size_t)((split >> (2 * i)) & 3) * 7 + 1;
    if (n > size - off)
      n = size - off;
    if (tg_http_conn_feed(c, data + off, n) != TG_OK)
      break;
    off += n;
  }
  tg_http_conn_free(c);
  return 0;
}
