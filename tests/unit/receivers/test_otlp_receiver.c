/* The otlp receiver's request path without sockets: span validation and partial
 * success, the OTLP/HTTP and OTLP/gRPC handlers called with fake requests, a consumer
 * that records batches or answers TG_EAGAIN / TG_ECLOSED / TG_EINVAL, and the
 * self-metrics they bump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "receivers/otlp/otlp.h"
#include "receivers/otlp/otlp_json.h"
#include "rpc_status.pb-c.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_service.h"

#define TID "0102030405060708090a0b0c0d0e0f10"
#define SID "1112131415161718"

/* A downstream consumer that keeps what it accepts, or refuses with `answer`. */
typedef struct sink {
  int answer;
  size_t calls;
  size_t spans;
  tg_batch *last;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  s->calls++;
  if (s->answer != TG_OK) {
    if (s->answer != TG_EAGAIN) /* TG_EAGAIN: not taken, the caller keeps it */
      tg_batch_free(batch);
    return s->answer;
  }
  s->spans += batch->span_count;
  tg_batch_free(s->last);
  s->last = batch;
  return TG_OK;
}

typedef struct fixture {
  tg_service service;
  tg_instance instance;
  tg_otlp_conf conf;
  tg_otlp_receiver recv;
  sink sink;
} fixture;

static int setup(void **state) {
  fixture *f = tg_calloc(1, sizeof *f);
  f->service.metrics = tg_metrics_new();
  f->instance.id = "otlp/a";
  f->instance.service = &f->service;
  f->instance.next = (tg_consumer){sink_consume, &f->sink};
  f->conf.http = 1;
  f->conf.grpc = 1;
  f->recv.instance = &f->instance;
  f->recv.conf = &f->conf;
  f->recv.log_component = "receiver:otlp/a";
  assert_int_equal(tg_otlp_counters_init(&f->recv, f->service.metrics, "otlp/a"), TG_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tg_batch_free(f->sink.last);
  tg_metrics_free(f->service.metrics);
  tg_free(f);
  return 0;
}

static int64_t accepted(fixture *f, tg_otlp_transport t) {
  return tg_metric_get(f->recv.counters[t].accepted);
}

static int64_t refused(fixture *f, tg_otlp_transport t, tg_otlp_refusal why) {
  return tg_metric_get(f->recv.counters[t].refused[why]);
}

/* ---- request bodies ----------------------------------------------------------------- */

/* JSON with spans whose ids are given as "traceId/spanId" pairs. */
static char *json_request(const char *const *ids, size_t n) {
  size_t cap = 256 + n * 160;
  char *s = tg_malloc(cap);
  size_t off = (size_t)snprintf(s, cap, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
  for (size_t i = 0; i < n; i++)
    off += (size_t)snprintf(s + off, cap - off, "%s{\"name\":\"s%zu\",%s}", i ? "," : "",
                            i, ids[i]);
  snprintf(s + off, cap - off, "]}]}]}");
  return s;
}

/* The same request as protobuf (decoded from JSON and re-encoded). */
static uint8_t *proto_request(const char *json, size_t *len) {
  tg_batch *b = tg_batch_new(0, 0);
  char err[256];
  assert_int_equal(tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), err,
                                       sizeof err),
                   TG_OK);
  *len = tg_batch_encoded_size(b);
  uint8_t *out = tg_malloc(*len ? *len : 1);
  tg_batch_encode(b, out);
  tg_batch_free(b);
  return out;
}

static const char *const valid_ids[] = {
    "\"traceId\":\"" TID "\",\"spanId\":\"" SID "\"",
    "\"traceId\":\"" TID "\",\"spanId\":\"2122232425262728\"",
};

static const char *const mixed_ids[] = {
    "\"traceId\":\"" TID "\",\"spanId\":\"" SID "\"",
    "\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"" SID "\"",
    "\"traceId\":\"" TID "\",\"spanId\":\"0000000000000000\"",
    "\"traceId\":\"0102\",\"spanId\":\"" SID "\"",
    "\"spanId\":\"" SID "\"",
    "\"traceId\":\"" TID "\",\"spanId\":\"2122232425262728\"",
};

/* ---- validation --------------------------------------------------------------------- */

static void test_validate_spans(void **state) {
  (void)state;
  char *json = json_request(mixed_ids, 6);
  tg_batch *b = tg_batch_new(0, 0);
  char err[256];
  assert_int_equal(
      tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), err, sizeof err), TG_OK);
  assert_int_equal(b->span_count, 6);
  char msg[256];
  assert_int_equal(tg_otlp_validate_spans(b, msg, sizeof msg), 4);
  assert_int_equal(b->span_count, 2);
  assert_non_null(strstr(msg, "4 spans rejected: trace_id is all zero"));
  const tg_scope_spans *ss = b->request.resource_spans[0]->scope_spans[0];
  assert_string_equal(ss->spans[0]->name, "s0");
  assert_string_equal(ss->spans[1]->name, "s5");
  /* the remaining tree still encodes and decodes */
  size_t len = tg_batch_encoded_size(b);
  uint8_t *buf = tg_malloc(len);
  tg_batch_encode(b, buf);
  tg_batch *again = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_decode_otlp(again, buf, len), TG_OK);
  assert_int_equal(again->span_count, 2);
  tg_batch_free(again);
  tg_free(buf);
  tg_batch_free(b);
  tg_free(json);
}

static void test_validate_drops_emptied_groups(void **state) {
  (void)state;
  const char *json =
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"\"}]},{}]},"
      "{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TID "\",\"spanId\":\"" SID "\"}]}]}]}";
  tg_batch *b = tg_batch_new(0, 0);
  assert_int_equal(tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), NULL, 0),
                   TG_OK);
  assert_int_equal(tg_otlp_validate_spans(b, NULL, 0), 1);
  assert_int_equal(b->span_count, 1);
  /* the first resource lost its only span-bearing scope but kept the empty one */
  assert_int_equal(b->request.n_resource_spans, 2);
  assert_int_equal(b->request.resource_spans[0]->n_scope_spans, 1);
  assert_int_equal(b->request.resource_spans[0]->scope_spans[0]->n_spans, 0);
  tg_batch_free(b);

  json = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"" SID "\"}]}]}]}";
  b = tg_batch_new(0, 0);
  assert_int_equal(tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), NULL, 0),
                   TG_OK);
  assert_int_equal(tg_otlp_validate_spans(b, NULL, 0), 1);
  assert_int_equal(b->request.n_resource_spans, 0);
  assert_int_equal(b->span_count, 0);
  tg_batch_free(b);
}

/* ---- HTTP handler ------------------------------------------------------------------- */

typedef struct http_call {
  tg_http_header headers[2];
  tg_http_request req;
  tg_http_response resp;
} http_call;

static void http_post(fixture *f, http_call *c, const char *method, const char *ctype,
                      const void *body, size_t len) {
  memset(c, 0, sizeof *c);
  size_t n = 0;
  if (ctype)
    c->headers[n++] = (tg_http_header){"content-type", ctype};
  c->req = (tg_http_request){.method = method, .path = "/v1/traces", .headers = c->headers,
                             .n_headers = n, .body = body, .body_len = len,
                             .http_version = 1, .peer = "127.0.0.1:1"};
  c->resp.status = 200;
  tg_buf_init(&c->resp.body, 0);
  tg_otlp_http_handle(&f->recv, &c->req, &c->resp);
}

static const char *resp_header(const http_call *c, const char *name) {
  for (size_t i = 0; i < c->resp.n_extra; i++)
    if (!strcmp(c->resp.extra[i].name, name))
      return c->resp.extra[i].value;
  return NULL;
}

static int body_is(const http_call *c, const char *text) {
  return c->resp.body.len == strlen(text) && !memcmp(c->resp.body.data, text, c->resp.body.len);
}

static void test_http_json_ok(void **state) {
  fixture *f = *state;
  char *json = json_request(valid_ids, 2);
  http_call c;
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 200);
  assert_string_equal(c.resp.content_type, "application/json");
  assert_true(body_is(&c, "{}"));
  assert_int_equal(f->sink.calls, 1);
  assert_int_equal(f->sink.spans, 2);
  assert_int_equal(accepted(f, TG_OTLP_HTTP), 2);
  assert_int_equal(accepted(f, TG_OTLP_GRPC), 0);
  tg_buf_free(&c.resp.body);

  /* charset parameter, odd spacing and case */
  http_post(f, &c, "POST", "Application/JSON ;  charset=\"UTF-8\"", json, strlen(json));
  assert_int_equal(c.resp.status, 200);
  assert_int_equal(accepted(f, TG_OTLP_HTTP), 4);
  tg_buf_free(&c.resp.body);
  tg_free(json);

  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(tg_metrics_render(f->service.metrics, &out), TG_OK);
  assert_non_null(out.data);
  out.data[out.len] = '\0';
  assert_non_null(strstr((char *)out.data, "tailgate_receiver_accepted_spans_total{"
                                            "receiver=\"otlp/a\",transport=\"http\"} 4"));
  assert_non_null(strstr((char *)out.data, "reason=\"backpressure\""));
  tg_buf_free(&out);
}

static void test_http_protobuf_partial_success(void **state) {
  fixture *f = *state;
  char *json = json_request(mixed_ids, 6);
  size_t len;
  uint8_t *pb = proto_request(json, &len);
  http_call c;
  http_post(f, &c, "POST", "application/x-protobuf", pb, len);
  assert_int_equal(c.resp.status, 200);
  assert_string_equal(c.resp.content_type, "application/x-protobuf");
  tg_export_response *r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
      NULL, c.resp.body.len, c.resp.body.data);
  assert_non_null(r);
  assert_non_null(r->partial_success);
  assert_int_equal(r->partial_success->rejected_spans, 4);
  assert_non_null(strstr(r->partial_success->error_message, "4 spans rejected"));
  opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
      r, NULL);
  assert_int_equal(f->sink.spans, 2);
  assert_int_equal(accepted(f, TG_OTLP_HTTP), 2);
  assert_int_equal(refused(f, TG_OTLP_HTTP, TG_OTLP_REFUSED_INVALID), 4);
  tg_buf_free(&c.resp.body);

  /* the same in JSON */
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 200);
  assert_true(c.resp.body.len > 0);
  assert_non_null(strstr((const char *)c.resp.body.data,
                         "{\"partialSuccess\":{\"rejectedSpans\":\"4\",\"errorMessage\":"));
  tg_buf_free(&c.resp.body);
  tg_free(pb);
  tg_free(json);
}

static void test_http_all_invalid_pushes_nothing(void **state) {
  fixture *f = *state;
  const char *ids[] = {"\"spanId\":\"" SID "\""};
  char *json = json_request(ids, 1);
  http_call c;
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 200);
  assert_int_equal(f->sink.calls, 0);
  assert_int_equal(refused(f, TG_OTLP_HTTP, TG_OTLP_REFUSED_INVALID), 1);
  tg_buf_free(&c.resp.body);
  tg_free(json);
}

static void test_http_empty_request(void **state) {
  fixture *f = *state;
  http_call c;
  http_post(f, &c, "POST", "application/x-protobuf", NULL, 0);
  assert_int_equal(c.resp.status, 200);
  assert_int_equal(c.resp.body.len, 0);
  tg_buf_free(&c.resp.body);
  http_post(f, &c, "POST", "application/json", "{}", 2);
  assert_int_equal(c.resp.status, 200);
  assert_true(body_is(&c, "{}"));
  tg_buf_free(&c.resp.body);
  assert_int_equal(f->sink.calls, 0);
}

static void test_http_method_and_type(void **state) {
  fixture *f = *state;
  http_call c;
  http_post(f, &c, "GET", "application/json", "{}", 2);
  assert_int_equal(c.resp.status, 405);
  assert_string_equal(resp_header(&c, "allow"), "POST");
  tg_buf_free(&c.resp.body);

  const char *bad_types[] = {NULL, "text/plain", "application/jsonx", "application/grpc",
                             "application/json; charset=latin-1", ""};
  for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
    http_post(f, &c, "POST", bad_types[i], "{}", 2);
    assert_int_equal(c.resp.status, 415);
    tg_buf_free(&c.resp.body);
  }
  const char *good_types[] = {"application/x-protobuf", "application/json;charset=utf-8",
                              "application/json; foo=bar", "application/x-protobuf; a=b"};
  for (size_t i = 0; i < sizeof good_types / sizeof good_types[0]; i++) {
    const char *body = strstr(good_types[i], "json") ? "{}" : "";
    http_post(f, &c, "POST", good_types[i], body, strlen(body));
    assert_int_equal(c.resp.status, 200);
    tg_buf_free(&c.resp.body);
  }
  assert_int_equal(f->sink.calls, 0);
}

static void test_http_malformed(void **state) {
  fixture *f = *state;
  http_call c;
  const char *bad = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":5}]}]}]}";
  http_post(f, &c, "POST", "application/json", bad, strlen(bad));
  assert_int_equal(c.resp.status, 400);
  assert_string_equal(c.resp.content_type, "application/json");
  c.resp.body.data[c.resp.body.len] = '\0';
  assert_non_null(strstr((char *)c.resp.body.data, "{\"code\":3,\"message\":\"invalid "
                                                   "OTLP/JSON at resourceSpans[0]"));
  tg_buf_free(&c.resp.body);

  http_post(f, &c, "POST", "application/json", "{\"a\":", 5);
  assert_int_equal(c.resp.status, 400);
  c.resp.body.data[c.resp.body.len] = '\0';
  assert_non_null(strstr((char *)c.resp.body.data, "invalid JSON at line 1 column"));
  tg_buf_free(&c.resp.body);

  static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
  http_post(f, &c, "POST", "application/x-protobuf", junk, sizeof junk);
  assert_int_equal(c.resp.status, 400);
  assert_string_equal(c.resp.content_type, "application/x-protobuf");
  Google__Rpc__Status *st =
      google__rpc__status__unpack(NULL, c.resp.body.len, c.resp.body.data);
  assert_non_null(st);
  assert_int_equal(st->code, 3);
  assert_non_null(strstr(st->message, "malformed protobuf"));
  google__rpc__status__free_unpacked(st, NULL);
  tg_buf_free(&c.resp.body);

  assert_int_equal(refused(f, TG_OTLP_HTTP, TG_OTLP_REFUSED_MALFORMED), 3);
  assert_int_equal(f->sink.calls, 0);
}

static void test_http_backpressure_and_errors(void **state) {
  fixture *f = *state;
  char *json = json_request(valid_ids, 2);
  http_call c;

  f->sink.answer = TG_EAGAIN;
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 429);
  assert_string_equal(resp_header(&c, "retry-after"), "1");
  c.resp.body.data[c.resp.body.len] = '\0';
  assert_non_null(strstr((char *)c.resp.body.data, "\"code\":8"));
  assert_int_equal(refused(f, TG_OTLP_HTTP, TG_OTLP_REFUSED_BACKPRESSURE), 2);
  tg_buf_free(&c.resp.body);

  f->sink.answer = TG_ECLOSED;
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 503);
  assert_string_equal(resp_header(&c, "retry-after"), "1");
  tg_buf_free(&c.resp.body);

  f->sink.answer = TG_EINVAL;
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 500);
  assert_null(resp_header(&c, "retry-after"));
  c.resp.body.data[c.resp.body.len] = '\0';
  assert_non_null(strstr((char *)c.resp.body.data, "\"code\":13"));
  assert_int_equal(refused(f, TG_OTLP_HTTP, TG_OTLP_REFUSED_ERROR), 2);
  tg_buf_free(&c.resp.body);

  f->sink.answer = TG_OK;
  f->recv.stopping = 1;
  http_post(f, &c, "POST", "application/json", json, strlen(json));
  assert_int_equal(c.resp.status, 503);
  tg_buf_free(&c.resp.body);
  assert_int_equal(f->sink.calls, 3);
  assert_int_equal(accepted(f, TG_OTLP_HTTP), 0);
  tg_free(json);
}

/* ---- gRPC handler ------------------------------------------------------------------- */

static void grpc_call(fixture *f, tg_http_response *resp, const void *body, size_t len) {
  tg_http_request req = {.method = "POST", .path = TG_OTLP_GRPC_PATH, .body = body,
                         .body_len = len, .http_version = 2, .grpc = 1};
  memset(resp, 0, sizeof *resp);
  resp->status = 200;
  tg_buf_init(&resp->body, 0);
  tg_otlp_grpc_handle(&f->recv, &req, resp);
}

static void test_grpc(void **state) {
  fixture *f = *state;
  char *json = json_request(mixed_ids, 6);
  size_t len;
  uint8_t *pb = proto_request(json, &len);
  tg_http_response resp;

  grpc_call(f, &resp, pb, len);
  assert_int_equal(resp.grpc_status, 0);
  tg_export_response *r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
      NULL, resp.body.len, resp.body.data);
  assert_non_null(r);
  assert_non_null(r->partial_success);
  assert_int_equal(r->partial_success->rejected_spans, 4);
  opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
      r, NULL);
  assert_int_equal(accepted(f, TG_OTLP_GRPC), 2);
  assert_int_equal(refused(f, TG_OTLP_GRPC, TG_OTLP_REFUSED_INVALID), 4);
  tg_buf_free(&resp.body);

  grpc_call(f, &resp, NULL, 0); /* empty request: OK, empty response */
  assert_int_equal(resp.grpc_status, 0);
  assert_int_equal(resp.body.len, 0);
  tg_buf_free(&resp.body);

  static const uint8_t junk[] = {0x0a, 0x05, 0x01};
  grpc_call(f, &resp, junk, sizeof junk);
  assert_int_equal(resp.grpc_status, 3);
  assert_non_null(resp.grpc_message);
  assert_non_null(strstr(resp.grpc_message, "malformed protobuf"));
  tg_buf_free(&resp.body);

  f->sink.answer = TG_EAGAIN;
  grpc_call(f, &resp, pb, len);
  assert_int_equal(resp.grpc_status, 8);
  /* the error body is a google.rpc.Status with RetryInfo (grpc-status-details-bin), so
   * OTLP clients retry RESOURCE_EXHAUSTED instead of dropping the spans */
  Google__Rpc__Status *st = google__rpc__status__unpack(NULL, resp.body.len, resp.body.data);
  assert_non_null(st);
  assert_int_equal(st->code, 8);
  assert_int_equal(st->n_details, 1);
  assert_string_equal(st->details[0]->type_url, "type.googleapis.com/google.rpc.RetryInfo");
  Google__Rpc__RetryInfo *ri = google__rpc__retry_info__unpack(
      NULL, st->details[0]->value.len, st->details[0]->value.data);
  assert_non_null(ri);
  assert_non_null(ri->retry_delay);
  assert_int_equal(ri->retry_delay->seconds, 1);
  google__rpc__retry_info__free_unpacked(ri, NULL);
  google__rpc__status__free_unpacked(st, NULL);
  tg_buf_free(&resp.body);
  f->sink.answer = TG_EIO;
  grpc_call(f, &resp, pb, len);
  assert_int_equal(resp.grpc_status, 13);
  tg_buf_free(&resp.body);
  f->sink.answer = TG_OK;
  f->recv.stopping = 1;
  grpc_call(f, &resp, pb, len);
  assert_int_equal(resp.grpc_status, 14);
  tg_buf_free(&resp.body);

  assert_int_equal(refused(f, TG_OTLP_GRPC, TG_OTLP_REFUSED_MALFORMED), 1);
  assert_int_equal(refused(f, TG_OTLP_GRPC, TG_OTLP_REFUSED_BACKPRESSURE), 3);
  assert_int_equal(refused(f, TG_OTLP_GRPC, TG_OTLP_REFUSED_ERROR), 2);
  assert_int_equal(refused(f, TG_OTLP_HTTP, TG_OTLP_REFUSED_MALFORMED), 0);
  tg_free(pb);
  tg_free(json);
}

static void test_proto_encoders(void **state) {
  (void)state;
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_otlp_proto_encode_response(&b, 0, ""), TG_OK);
  assert_int_equal(b.len, 0);
  assert_int_equal(tg_otlp_proto_encode_status(&b, 8, "full"), TG_OK);
  Google__Rpc__Status *st = google__rpc__status__unpack(NULL, b.len, b.data);
  assert_non_null(st);
  assert_int_equal(st->code, 8);
  assert_string_equal(st->message, "full");
  google__rpc__status__free_unpacked(st, NULL);
  tg_buf_free(&b);
}

/* ---- protobuf pre-scan --------------------------------------------------------------- */

/* Prepends tag and the varint length of buf[*start, cap) in front of it. */
static void wrap(uint8_t *buf, size_t cap, size_t *start, uint8_t tag) {
  size_t body = cap - *start;
  uint8_t v[10];
  size_t nv = 0;
  do {
    v[nv] = (uint8_t)(body & 0x7f);
    body >>= 7;
    if (body)
      v[nv] |= 0x80;
    nv++;
  } while (body);
  *start -= nv;
  memcpy(buf + *start, v, nv);
  buf[--*start] = tag;
}

/* ExportTraceServiceRequest{resource_spans{resource{attributes{key:"k", value: AnyValue
 * with `levels` nested arrayValue levels}}}}, written from the inside out. */
static uint8_t *nested_any_request(int levels, size_t *len) {
  size_t cap = (size_t)levels * 12 + 64;
  uint8_t *buf = tg_malloc(cap);
  size_t start = cap - 3;
  memcpy(buf + start, "\x0a\x01x", 3); /* AnyValue{string_value:"x"} */
  for (int i = 1; i < levels; i++) {
    wrap(buf, cap, &start, 0x0a); /* ArrayValue.values */
    wrap(buf, cap, &start, 0x2a); /* AnyValue.array_value */
  }
  wrap(buf, cap, &start, 0x12);   /* KeyValue.value */
  start -= 3;
  memcpy(buf + start, "\x0a\x01k", 3);
  wrap(buf, cap, &start, 0x0a);   /* Resource.attributes */
  wrap(buf, cap, &start, 0x0a);   /* ResourceSpans.resource */
  wrap(buf, cap, &start, 0x0a);   /* ExportTraceServiceRequest.resource_spans */
  *len = cap - start;
  memmove(buf, buf + start, *len);
  return buf;
}

/* The index behind the undecoded fast path: segments, span counts, id checks, and the
 * cases it leaves to the decoder. */
static void test_proto_index(void **state) {
  (void)state;
  char err[256];
  size_t len;
  tg_otlp_wire_index idx;
  char *json = json_request(valid_ids, 2);
  uint8_t *ok = proto_request(json, &len);
  tg_free(json);
  assert_int_equal(tg_otlp_proto_index(ok, len, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err, &idx),
                   TG_OK);
  assert_int_equal(idx.n, 1);
  assert_int_equal(idx.span_counts[0], 2);
  assert_int_equal(idx.invalid_spans, 0);
  assert_int_equal(idx.merges, 0);
  tg_batch *b = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_adopt_wire(b, ok, len, idx.offsets, idx.lengths,
                                       idx.span_counts, idx.n), TG_OK);
  uint8_t *again = tg_malloc(len);
  assert_int_equal(tg_batch_encode(b, again), len);
  assert_memory_equal(again, ok, len); /* forwarded byte for byte */
  tg_free(again);
  tg_batch_free(b);
  tg_free(ok);

  json = json_request(mixed_ids, 6);
  uint8_t *mixed = proto_request(json, &len);
  tg_free(json);
  assert_int_equal(tg_otlp_proto_index(mixed, len, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err,
                                       &idx), TG_OK);
  assert_int_equal(idx.span_counts[0], 6);
  assert_int_equal(idx.invalid_spans, 4); /* the same four the validator drops */
  tg_free(mixed);

  /* KeyValue with its AnyValue twice: valid protobuf (merged), left to the decoder */
  const uint8_t dup[] = {0x0a, 0x0b, 0x0a, 0x09, 0x0a, 0x07, 0x0a, 0x01, 'r', 0x12, 0x00, 0x12, 0x00};
  assert_int_equal(tg_otlp_proto_index(dup, sizeof dup, TG_OTLP_PROTO_MAX_DEPTH, err,
                                       sizeof err, &idx), TG_OK);
  assert_int_equal(idx.merges, 1);
  /* a known field with the wrong wire type would make protobuf-c fail later: refused */
  const uint8_t wrong[] = {0x0a, 0x02, 0x08, 0x01};
  assert_int_equal(tg_otlp_proto_index(wrong, sizeof wrong, TG_OTLP_PROTO_MAX_DEPTH, err,
                                       sizeof err, &idx), TG_EDECODE);
  assert_non_null(strstr(err, "wrong wire type"));
  /* protobuf-c refuses a length prefix or tag longer than 5 bytes, even zero-padded: an
   * empty ResourceSpans with a 6-byte length prefix of 0 is refused by the index too, and
   * the same prefix in 5 bytes is accepted and decodes */
  const uint8_t long_len[] = {0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  assert_int_equal(tg_otlp_proto_index(long_len, sizeof long_len, TG_OTLP_PROTO_MAX_DEPTH, err,
                                       sizeof err, &idx), TG_EDECODE);
  tg_batch *pb = tg_batch_new(0, 0);
  assert_int_not_equal(tg_batch_decode_otlp(pb, long_len, sizeof long_len), TG_OK);
  tg_batch_free(pb);
  const uint8_t five_len[] = {0x0a, 0x80, 0x80, 0x80, 0x80, 0x00};
  assert_int_equal(tg_otlp_proto_index(five_len, sizeof five_len, TG_OTLP_PROTO_MAX_DEPTH, err,
                                       sizeof err, &idx), TG_OK);
  pb = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_decode_otlp(pb, five_len, sizeof five_len), TG_OK);
  tg_batch_free(pb);
  const uint8_t long_tag[] = {0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00};
  assert_int_equal(tg_otlp_proto_index(long_tag, sizeof long_tag, TG_OTLP_PROTO_MAX_DEPTH, err,
                                       sizeof err, &idx), TG_EDECODE);
}

static void test_proto_scan(void **state) {
  (void)state;
  char err[256];
  size_t len;
  uint8_t *ok = nested_any_request(32, &len);
  assert_int_equal(tg_otlp_proto_scan(ok, len, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err),
                   TG_OK);
  tg_batch *b = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_decode_otlp(b, ok, len), TG_OK);
  tg_batch_free(b);
  tg_free(ok);

  /* 5000 levels (about 35 KB) overflowed protobuf-c's recursion before the scan */
  uint8_t *deep = nested_any_request(5000, &len);
  assert_int_equal(tg_otlp_proto_scan(deep, len, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err),
                   TG_EDECODE);
  assert_non_null(strstr(err, "malformed protobuf: messages nested too deeply"));
  tg_free(deep);

  /* field number 0 in a non-canonical tag (0x85 0x00): protobuf-c would keep it */
  static const uint8_t field0[] = {0x0a, 0x06, 0x85, 0x00, 1, 2, 3, 4};
  assert_int_equal(tg_otlp_proto_scan(field0, sizeof field0, 8, err, sizeof err),
                   TG_EDECODE);
  assert_non_null(strstr(err, "invalid field number at byte 2"));

  static const uint8_t truncated[] = {0x0a, 0x05, 0x01};
  assert_int_equal(tg_otlp_proto_scan(truncated, sizeof truncated, 8, err, sizeof err),
                   TG_EDECODE);
  assert_non_null(strstr(err, "truncated length-delimited field at byte 0"));
  static const uint8_t group[] = {0x0b, 0x0c};
  assert_int_equal(tg_otlp_proto_scan(group, sizeof group, 8, err, sizeof err),
                   TG_EDECODE);
  static const uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x7f};
  assert_int_equal(tg_otlp_proto_scan(overlong, sizeof overlong, 8, err, sizeof err),
                   TG_EDECODE);
  /* unknown fields of every wire type are skipped, not rejected */
  static const uint8_t unknown[] = {0x10, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8,
                                    0x22, 0x01, 0xff, 0x2d, 1, 2, 3, 4};
  assert_int_equal(tg_otlp_proto_scan(unknown, sizeof unknown, 8, err, sizeof err), TG_OK);
  assert_int_equal(tg_otlp_proto_scan(NULL, 0, 8, err, sizeof err), TG_OK);
}

static void test_grpc_deep_request_refused(void **state) {
  fixture *f = *state;
  size_t len;
  uint8_t *deep = nested_any_request(5000, &len);
  tg_http_response resp;
  grpc_call(f, &resp, deep, len);
  assert_int_equal(resp.grpc_status, 3);
  assert_non_null(strstr(resp.grpc_message, "nested too deeply"));
  tg_buf_free(&resp.body);
  tg_free(deep);
}

/* The protobuf fast path takes the server's body buffer (tg_http_request_take_body) into
 * the batch instead of copying it; the batch forwards the same bytes, and every refusal
 * frees it (ASan: no leak, no double free). A small body is copied, the server keeps it. */
static void post_owned(fixture *f, const uint8_t *bytes, size_t len, int grpc,
                       tg_buf *server_buf, tg_http_response *resp) {
  tg_buf_init(server_buf, 0);
  assert_int_equal(tg_buf_append(server_buf, bytes, len), TG_OK);
  tg_http_header h = {"content-type", "application/x-protobuf"};
  tg_http_request req = {.method = "POST", .path = grpc ? TG_OTLP_GRPC_PATH : "/v1/traces",
                         .headers = &h, .n_headers = 1, .body = server_buf->data,
                         .body_len = len, .body_buf = server_buf, .grpc = grpc,
                         .http_version = grpc ? 2 : 1, .peer = "127.0.0.1:1"};
  memset(resp, 0, sizeof *resp);
  resp->status = 200;
  tg_buf_init(&resp->body, 0);
  if (grpc)
    tg_otlp_grpc_handle(&f->recv, &req, resp);
  else
    tg_otlp_http_handle(&f->recv, &req, resp);
}

static void test_proto_body_taken_not_copied(void **state) {
  fixture *f = *state;
  enum { N = 400 };
  const char *ids[N];
  for (size_t i = 0; i < N; i++)
    ids[i] = valid_ids[i % 2];
  char *json = json_request(ids, N);
  size_t len;
  uint8_t *bytes = proto_request(json, &len);
  tg_free(json);
  assert_true(len >= 8192); /* TG_OTLP_TAKE_MIN_BYTES */
  for (int grpc = 0; grpc <= 1; grpc++) {
    tg_buf server_buf;
    tg_http_response resp;
    post_owned(f, bytes, len, grpc, &server_buf, &resp);
    assert_int_equal(grpc ? resp.grpc_status : resp.status, grpc ? 0 : 200);
    assert_null(server_buf.data); /* taken */
    assert_int_equal(f->sink.last->span_count, N);
    assert_int_equal(tg_batch_encoded_size(f->sink.last), len);
    uint8_t *out = tg_malloc(len);
    tg_batch_encode(f->sink.last, out);
    assert_memory_equal(out, bytes, len);
    tg_free(out);
    assert_int_equal(tg_batch_materialize(f->sink.last), TG_OK);
    assert_int_equal(tg_batch_count_spans(f->sink.last), N);
    tg_buf_free(&resp.body);
  }
  int answers[] = {TG_EAGAIN, TG_ECLOSED, TG_EINVAL};
  for (size_t a = 0; a < 3; a++) {
    f->sink.answer = answers[a];
    tg_buf server_buf;
    tg_http_response resp;
    post_owned(f, bytes, len, (int)(a & 1), &server_buf, &resp);
    assert_null(server_buf.data); /* taken, and freed with the refused batch */
    tg_buf_free(&resp.body);
  }
  f->sink.answer = TG_OK;
  /* below TG_OTLP_TAKE_MIN_BYTES the body is copied and stays the server's */
  json = json_request(valid_ids, 2);
  uint8_t *small = proto_request(json, &len);
  tg_free(json);
  assert_true(len < 8192);
  tg_buf server_buf;
  tg_http_response resp;
  post_owned(f, small, len, 0, &server_buf, &resp);
  assert_int_equal(resp.status, 200);
  assert_non_null(server_buf.data);
  assert_int_equal(f->sink.last->span_count, 2);
  tg_buf_free(&server_buf);
  tg_buf_free(&resp.body);
  tg_free(small);
  tg_free(bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validate_spans),
      cmocka_unit_test(test_validate_drops_emptied_groups),
      cmocka_unit_test_setup_teardown(test_http_json_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_protobuf_partial_success, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_all_invalid_pushes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_empty_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_method_and_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_backpressure_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grpc, setup, teardown),
      cmocka_unit_test(test_proto_encoders),
      cmocka_unit_test(test_proto_scan),
      cmocka_unit_test(test_proto_index),
      cmocka_unit_test_setup_teardown(test_proto_body_taken_not_copied, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grpc_deep_request_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
