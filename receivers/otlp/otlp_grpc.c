/* OTLP/gRPC: the TraceService/Export method. The server has already unframed and
 * inflated the request message and enforced max_recv_msg_size; this handler maps the
 * ingest outcome onto gRPC status codes as the OTLP specification asks: OK (with
 * partial_success when spans were rejected), INVALID_ARGUMENT for undecodable messages,
 * RESOURCE_EXHAUSTED / UNAVAILABLE for retryable refusals, INTERNAL otherwise. */
#include "otlp.h"
#include "rpc_status.pb-c.h"

#include <string.h>

#include "tg_error.h"

enum {
  GRPC_OK = 0,
  GRPC_INVALID_ARGUMENT = 3,
  GRPC_RESOURCE_EXHAUSTED = 8,
  GRPC_INTERNAL = 13,
  GRPC_UNAVAILABLE = 14,
};

static int grpc_code(tg_otlp_outcome outcome) {
  switch (outcome) {
  case TG_OTLP_OK: return GRPC_OK;
  case TG_OTLP_MALFORMED: return GRPC_INVALID_ARGUMENT;
  case TG_OTLP_TOO_LARGE:
  case TG_OTLP_BACKPRESSURE: return GRPC_RESOURCE_EXHAUSTED;
  case TG_OTLP_UNAVAILABLE: return GRPC_UNAVAILABLE;
  case TG_OTLP_INTERNAL: break;
  }
  return GRPC_INTERNAL;
}

/* A retryable refusal carries a google.rpc.Status with RetryInfo: OTLP clients retry
 * RESOURCE_EXHAUSTED only when the server says when (the OTLP specification), so without
 * it a full pipeline would make SDKs drop their spans. */
static void set_retry_details(tg_http_response *resp, int code, const char *message,
                              int64_t delay_seconds) {
  Google__Rpc__RetryDelay delay = GOOGLE__RPC__RETRY_DELAY__INIT;
  delay.seconds = delay_seconds;
  Google__Rpc__RetryInfo info = GOOGLE__RPC__RETRY_INFO__INIT;
  info.retry_delay = &delay;
  uint8_t info_bytes[64];
  if (google__rpc__retry_info__get_packed_size(&info) > sizeof info_bytes)
    return;
  Google__Rpc__Any any = GOOGLE__RPC__ANY__INIT;
  any.type_url = "type.googleapis.com/google.rpc.RetryInfo";
  any.value.data = info_bytes;
  any.value.len = google__rpc__retry_info__pack(&info, info_bytes);
  Google__Rpc__Any *details[1] = {&any};
  Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
  status.code = code;
  status.message = (char *)message;
  status.n_details = 1;
  status.details = details;
  size_t len = google__rpc__status__get_packed_size(&status);
  if (len > TG_GRPC_MAX_DETAILS || tg_buf_reserve(&resp->body, len) != TG_OK)
    return;
  resp->body.len = google__rpc__status__pack(&status, resp->body.data);
}

/* grpc_message must outlive the handler: it is copied into the response's storage. */
static void set_grpc_error(tg_http_response *resp, int code, const char *message) {
  resp->grpc_status = code;
  size_t n = strlen(message);
  if (n >= sizeof resp->extra_storage)
    n = sizeof resp->extra_storage - 1;
  memcpy(resp->extra_storage, message, n);
  resp->extra_storage[n] = '\0';
  resp->grpc_message = resp->extra_storage;
}

void tg_otlp_grpc_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_otlp_receiver *recv = ctx;
  tg_otlp_result result;
  tg_request_trace rt;
  tg_request_trace_begin(&rt, req, tg_otlp_tracer(recv), &recv->ids, recv->log_component,
                         "grpc");
  tg_otlp_ingest(recv, TG_OTLP_GRPC, rt.cid, TG_OTLP_PROTOBUF, req, &result);
  tg_otlp_trace_end(&rt, &result);
  resp->status = 200; /* gRPC errors travel in grpc-status, not in :status */
  int code = grpc_code(result.outcome);
  if (code != GRPC_OK) {
    set_grpc_error(resp, code, result.message);
    if (result.outcome == TG_OTLP_BACKPRESSURE || result.outcome == TG_OTLP_UNAVAILABLE)
      set_retry_details(resp, code, resp->grpc_message, 1);
    return;
  }
  resp->grpc_status = GRPC_OK;
  resp->grpc_message = NULL;
  if (tg_otlp_proto_encode_response(&resp->body, result.rejected_spans,
                                    result.rejected_spans ? result.message : "") != TG_OK) {
    tg_buf_free(&resp->body);
    set_grpc_error(resp, GRPC_INTERNAL, "could not encode the response");
  }
}
