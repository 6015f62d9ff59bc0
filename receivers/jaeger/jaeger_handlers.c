/* The request transports of the jaeger receiver, on the shared inbound server:
 * - gRPC jaeger.api_v2.CollectorService/PostSpans → an empty PostSpansResponse, or
 *   INVALID_ARGUMENT (undecodable), RESOURCE_EXHAUSTED (too large / back-pressure),
 *   UNAVAILABLE (stopping), INTERNAL.
 * - POST /api/traces with a Thrift binary Batch (Content-Type application/x-thrift or
 *   application/vnd.apache.thrift.binary) → 202 Accepted, as Jaeger's collector; 400 for
 *   a bad body or content type, 405 for another method, 413/429/503/500 otherwise. */
#include "jaeger.h"

#include <string.h>
#include <strings.h>

#include "tg_service.h"

enum { GRPC_OK = 0, GRPC_INVALID_ARGUMENT = 3, GRPC_RESOURCE_EXHAUSTED = 8,
       GRPC_INTERNAL = 13, GRPC_UNAVAILABLE = 14 };

static void set_grpc_error(tg_http_response *resp, int code, const char *message) {
  resp->grpc_status = code;
  size_t n = strlen(message);
  if (n >= sizeof resp->extra_storage)
    n = sizeof resp->extra_storage - 1;
  memcpy(resp->extra_storage, message, n);
  resp->extra_storage[n] = '\0';
  resp->grpc_message = resp->extra_storage;
}

static tg_selftrace *tracer(const tg_jaeger_receiver *recv) {
  return recv->instance && recv->instance->service ? recv->instance->service->selftrace : NULL;
}

static void trace_end(tg_request_trace *rt, const tg_jaeger_result *r) {
  static const char *const outcomes[] = {"ok", "malformed", "too_large", "backpressure",
                                         "unavailable", "internal"};
  tg_request_trace_end(rt, (int64_t)r->accepted_spans, 0, outcomes[r->outcome],
                       r->outcome != TG_JAEGER_OK);
}

void tg_jaeger_grpc_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_jaeger_result r;
  tg_jaeger_receiver *recv = ctx;
  tg_request_trace rt;
  tg_request_trace_begin(&rt, req, tracer(recv), &recv->ids, recv->log_component, "grpc");
  tg_jaeger_ingest(recv, TG_JAEGER_GRPC, rt.cid, req->body, req->body_len, &r);
  trace_end(&rt, &r);
  resp->status = 200;
  switch (r.outcome) {
  case TG_JAEGER_OK:
    resp->grpc_status = GRPC_OK; /* PostSpansResponse has no fields: empty message */
    resp->grpc_message = NULL;
    return;
  case TG_JAEGER_MALFORMED: set_grpc_error(resp, GRPC_INVALID_ARGUMENT, r.message); return;
  case TG_JAEGER_TOO_LARGE:
  case TG_JAEGER_BACKPRESSURE: set_grpc_error(resp, GRPC_RESOURCE_EXHAUSTED, r.message); return;
  case TG_JAEGER_UNAVAILABLE: set_grpc_error(resp, GRPC_UNAVAILABLE, r.message); return;
  case TG_JAEGER_INTERNAL: break;
  }
  set_grpc_error(resp, GRPC_INTERNAL, r.message);
}

static void text_reply(tg_http_response *resp, int status, const char *text) {
  resp->status = status;
  resp->content_type = "text/plain; charset=utf-8";
  if (tg_buf_append_str(&resp->body, text) == TG_OK)
    tg_buf_append(&resp->body, "\n", 1);
}

/* The media type without parameters, compared case-insensitively. */
static int is_thrift_type(const char *ct) {
  if (!ct)
    return 0;
  while (*ct == ' ')
    ct++;
  static const char *const types[] = {"application/x-thrift",
                                      "application/vnd.apache.thrift.binary"};
  size_t n = strcspn(ct, "; ");
  for (size_t i = 0; i < 2; i++)
    if (n == strlen(types[i]) && !strncasecmp(ct, types[i], n))
      return 1;
  return 0;
}

void tg_jaeger_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_jaeger_receiver *recv = ctx;
  if (strcmp(req->method, "POST")) {
    tg_http_response_add_header(resp, "allow", "POST");
    text_reply(resp, 405, "method not allowed: use POST");
    return;
  }
  const char *ct = tg_http_request_header(req, "content-type");
  if (!is_thrift_type(ct)) {
    tg_receiver_metrics_server_refused(&recv->counters[TG_JAEGER_THRIFT_HTTP].m, "malformed");
    text_reply(resp, 400, "unsupported content type: expected application/x-thrift or "
                          "application/vnd.apache.thrift.binary");
    return;
  }
  tg_jaeger_result r;
  tg_request_trace rt;
  tg_request_trace_begin(&rt, req, tracer(recv), &recv->ids, recv->log_component,
                         "thrift_http");
  tg_jaeger_ingest(recv, TG_JAEGER_THRIFT_HTTP, rt.cid, req->body, req->body_len, &r);
  trace_end(&rt, &r);
  switch (r.outcome) {
  case TG_JAEGER_OK: resp->status = 202; return;
  case TG_JAEGER_MALFORMED: text_reply(resp, 400, r.message); return;
  case TG_JAEGER_TOO_LARGE: text_reply(resp, 413, r.message); return;
  case TG_JAEGER_BACKPRESSURE:
    tg_http_response_add_header(resp, "retry-after", "1");
    text_reply(resp, 429, r.message);
    return;
  case TG_JAEGER_UNAVAILABLE:
    tg_http_response_add_header(resp, "retry-after", "1");
    text_reply(resp, 503, r.message);
    return;
  case TG_JAEGER_INTERNAL: break;
  }
  text_reply(resp, 500, r.message);
}

static void on_refused(tg_jaeger_receiver *recv, tg_jaeger_transport t, const char *reason) {
  tg_receiver_metrics_server_refused(&recv->counters[t].m, reason);
}

void tg_jaeger_on_refused_grpc(void *recv, const char *reason) {
  on_refused(recv, TG_JAEGER_GRPC, reason);
}

void tg_jaeger_on_refused_http(void *recv, const char *reason) {
  on_refused(recv, TG_JAEGER_THRIFT_HTTP, reason);
}
