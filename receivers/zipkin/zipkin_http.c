/* The zipkin receiver's request path: media type → format, decode into the zipkin2
 * model, convert to an OTLP batch (translate/zipkin), push, count, answer.
 *
 * Answers, as Zipkin's collector and the OTLP receiver's error semantics: 202 Accepted
 * with an empty body on success; 400 with the reason (text) for an undecodable body;
 * 413 for a body or decoded form over its bound; 415 for a media type other than JSON
 * (v1, v2) or protobuf (v2); 405 for a method other than POST; 429 (pipeline full) and
 * 503 (stopping) with Retry-After: 1; 500 otherwise. The server has already inflated a
 * gzip body and answered 413 for one over max_request_body_size.
 *
 * Ownership: tg_zipkin_decode creates the batch and hands it out only on success; the
 * push passes it on (a consumer takes it on every answer but TG_EAGAIN, after which we
 * free it). Counting follows the otlp receiver: refused spans count their number when
 * it is known, an undecodable body counts one.
 *
 * Trace context: every decoded request runs between tg_request_trace_begin/end, so its
 * debug log lines ("accepted v2_json request: N spans", "refused ...") carry the
 * caller's trace ID (traceparent, b3, X-B3-*, uber-trace-id) as correlation_id, and
 * self-tracing (when sampled) records tailgate.receive/tailgate.process spans with the
 * format as transport. Authentication ran in the server before the handler. */
#include "zipkin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_error.h"
#include "tg_metrics_service.h"
#include "tg_service.h"

#define ARENA_FACTOR 32
#define ARENA_SLACK (1u << 20)

static const char *const format_names[TG_ZIPKIN_FORMAT_COUNT_] = {"v2_json", "v2_proto",
                                                                  "v1_json"};

_Static_assert((int)TG_ZIPKIN_REFUSED_INVALID == (int)TG_RECV_SPANS_INVALID &&
                   (int)TG_ZIPKIN_REFUSED_MALFORMED == (int)TG_RECV_SPANS_MALFORMED &&
                   (int)TG_ZIPKIN_REFUSED_BACKPRESSURE == (int)TG_RECV_SPANS_BACKPRESSURE &&
                   (int)TG_ZIPKIN_REFUSED_TOO_LARGE == (int)TG_RECV_SPANS_TOO_LARGE &&
                   (int)TG_ZIPKIN_REFUSED_ERROR == (int)TG_RECV_SPANS_ERROR &&
                   (int)TG_ZIPKIN_REFUSAL_COUNT_ == (int)TG_RECV_SPANS_REFUSAL_COUNT_,
               "the zipkin refusal reasons follow tg_recv_span_refusal");

int tg_zipkin_counters_init(tg_zipkin_receiver *recv, tg_metrics *reg, const char *id) {
  for (int f = 0; f < TG_ZIPKIN_FORMAT_COUNT_; f++) {
    int rc = tg_receiver_metrics_init(&recv->counters[f], reg, id, format_names[f]);
    if (rc != TG_OK)
      return rc;
  }
  return TG_OK;
}

static size_t arena_limit(size_t len) {
  return len > (SIZE_MAX - ARENA_SLACK) / ARENA_FACTOR ? SIZE_MAX
                                                       : len * ARENA_FACTOR + ARENA_SLACK;
}

int tg_zipkin_decode(tg_zipkin_format f, const uint8_t *body, size_t len, tg_batch **out,
                     size_t *invalid, char *msg, size_t msg_size) {
  *out = NULL;
  *invalid = 0;
  if (msg && msg_size)
    msg[0] = '\0';
  size_t hint = len < ARENA_SLACK ? 3 * len + 1024 : 4 * (size_t)ARENA_SLACK;
  tg_batch *batch = tg_batch_new(hint, arena_limit(len));
  if (!batch)
    return TG_ENOMEM;
  tg_zipkin_list *list = NULL;
  int rc;
  if (f == TG_ZIPKIN_V2_PROTO) {
    list = zipkin__proto3__list_of_spans__unpack(&batch->arena->pb_allocator, len, body);
    if (list)
      rc = TG_OK;
    else if (batch->arena->over_limit)
      rc = TG_ETOOBIG;
    else {
      rc = TG_EDECODE;
      if (msg)
        snprintf(msg, msg_size, "malformed protobuf: not a valid zipkin2 ListOfSpans (%zu bytes)",
                 len);
    }
  } else {
    rc = tg_zipkin_json_decode(batch->arena, f == TG_ZIPKIN_V1_JSON, body, len, &list, msg,
                               msg_size);
  }
  if (rc == TG_OK && list)
    rc = tg_zipkin_to_otlp(batch, list->spans, list->n_spans, invalid);
  if (rc != TG_OK) {
    tg_batch_free(batch);
    return rc;
  }
  *out = batch;
  return TG_OK;
}

static tg_selftrace *tracer(const tg_zipkin_receiver *recv) {
  return recv->instance && recv->instance->service ? recv->instance->service->selftrace : NULL;
}

static void text_reply(tg_http_response *resp, int status, const char *text) {
  resp->status = status;
  resp->content_type = "text/plain; charset=utf-8";
  tg_buf_free(&resp->body);
  if (tg_buf_append_str(&resp->body, text) == TG_OK)
    tg_buf_append(&resp->body, "\n", 1);
}

static void printable(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
      *s = '?';
}

/* The media type without parameters → format; -1 when not one we take. No header means
 * JSON, as Zipkin's collector assumes. */
static int format_of(const char *ct, int v1) {
  if (!ct)
    return v1 ? TG_ZIPKIN_V1_JSON : TG_ZIPKIN_V2_JSON;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  size_t n = strcspn(ct, "; \t");
  if (n == 16 && !strncasecmp(ct, "application/json", n))
    return v1 ? TG_ZIPKIN_V1_JSON : TG_ZIPKIN_V2_JSON;
  if (!v1 && n == 22 && !strncasecmp(ct, "application/x-protobuf", n))
    return TG_ZIPKIN_V2_PROTO;
  return -1;
}

/* What one request came to, for its self-tracing spans. */
typedef struct ingest_result {
  const char *outcome; /* "ok", "malformed", "too_large", "backpressure", "unavailable",
                          "internal" */
  size_t accepted, refused;
} ingest_result;

static void ingest(tg_zipkin_receiver *recv, tg_zipkin_format f, const char *cid,
                   const tg_http_request *req, tg_http_response *resp, ingest_result *out) {
  tg_zipkin_counters *c = &recv->counters[f];
  *out = (ingest_result){"ok", 0, 0};
  if (recv->stopping) {
    out->outcome = "unavailable";
    tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_BACKPRESSURE], 1);
    tg_http_response_add_header(resp, "retry-after", "1");
    text_reply(resp, 503, "receiver is shutting down, retry later");
    return;
  }
  tg_batch *batch;
  size_t invalid;
  char detail[256];
  int rc = tg_zipkin_decode(f, req->body, req->body_len, &batch, &invalid, detail,
                            sizeof detail);
  if (rc != TG_OK) {
    if (rc == TG_EDECODE) {
      out->outcome = "malformed";
      printable(detail);
      tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_MALFORMED], 1);
      tg_metric_add(c->refused_requests[TG_RECV_REQ_MALFORMED], 1);
      text_reply(resp, 400, detail[0] ? detail : "malformed request");
    } else if (rc == TG_ETOOBIG) {
      out->outcome = "too_large";
      tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_TOO_LARGE], 1);
      tg_metric_add(c->refused_requests[TG_RECV_REQ_TOO_LARGE], 1);
      text_reply(resp, 413, "decoded request exceeds the receiver's memory bound");
    } else {
      out->outcome = "internal";
      tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_ERROR], 1);
      text_reply(resp, 500, tg_strerror(rc));
    }
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "refused %s request: %s", format_names[f],
               rc == TG_EDECODE ? detail : tg_strerror(rc));
    return;
  }
  out->refused = invalid;
  if (invalid)
    tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_INVALID], (int64_t)invalid);
  size_t spans = batch->span_count;
  if (!spans || !recv->instance || !recv->instance->next.consume) {
    tg_batch_free(batch);
    resp->status = 202;
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "accepted %s request: 0 spans", format_names[f]);
    return;
  }
  tg_metrics_service_count_batch(c->reg, batch);
  rc = tg_consumer_push(&recv->instance->next, batch);
  if (rc == TG_OK) {
    out->accepted = spans;
    tg_metric_add(c->accepted, (int64_t)spans);
    resp->status = 202;
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "accepted %s request: %zu spans", format_names[f], spans);
    return;
  }
  out->refused += spans;
  out->outcome = rc == TG_EAGAIN ? "backpressure" : rc == TG_ECLOSED ? "unavailable" : "internal";
  TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
             "refused %s request: %s", format_names[f], tg_strerror(rc));
  if (rc == TG_EAGAIN) {
    tg_batch_free(batch); /* not taken */
    tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_BACKPRESSURE], (int64_t)spans);
    tg_http_response_add_header(resp, "retry-after", "1");
    text_reply(resp, 429, "pipeline is full, retry later");
  } else if (rc == TG_ECLOSED) {
    tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_BACKPRESSURE], (int64_t)spans);
    tg_http_response_add_header(resp, "retry-after", "1");
    text_reply(resp, 503, "pipeline is shutting down, retry later");
  } else {
    tg_metric_add(c->refused[TG_ZIPKIN_REFUSED_ERROR], (int64_t)spans);
    char m[128];
    snprintf(m, sizeof m, "pipeline refused the data: %s", tg_strerror(rc));
    text_reply(resp, 500, m);
  }
}

void tg_zipkin_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_zipkin_receiver *recv = ctx;
  int v1 = req->path && !strcmp(req->path, TG_ZIPKIN_V1_PATH);
  if (!req->method || strcmp(req->method, "POST")) {
    tg_http_response_add_header(resp, "allow", "POST");
    text_reply(resp, 405, "method not allowed: use POST");
    return;
  }
  int f = format_of(tg_http_request_header(req, "content-type"), v1);
  if (f < 0) {
    tg_receiver_metrics_server_refused(&recv->counters[v1 ? TG_ZIPKIN_V1_JSON : TG_ZIPKIN_V2_JSON],
                                       "malformed");
    text_reply(resp, 415,
               v1 ? "unsupported media type: /api/v1/spans takes application/json"
                  : "unsupported media type: /api/v2/spans takes application/json or "
                    "application/x-protobuf");
    return;
  }
  tg_request_trace rt;
  ingest_result r;
  tg_request_trace_begin(&rt, req, tracer(recv), &recv->ids, recv->log_component,
                         format_names[f]);
  uint64_t start = tg_receiver_metrics_now();
  ingest(recv, (tg_zipkin_format)f, rt.cid, req, resp, &r);
  tg_receiver_metrics_observe(&recv->counters[f], start);
  tg_request_trace_end(&rt, (int64_t)r.accepted, (int64_t)r.refused, r.outcome,
                       strcmp(r.outcome, "ok") != 0);
}

void tg_zipkin_on_refused(void *vrecv, const char *reason) {
  tg_zipkin_receiver *recv = vrecv;
  tg_receiver_metrics_server_refused(&recv->counters[TG_ZIPKIN_V2_JSON], reason);
}
