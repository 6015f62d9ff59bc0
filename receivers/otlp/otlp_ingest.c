/* One export request, whatever the transport: decode the body into a fresh batch (its
 * arena bounded relative to the body size), drop the spans that fail validation (OTLP
 * partial success), push the rest downstream, and count the outcome.
 *
 * The gRPC and HTTP handlers differ only in how they read requests and phrase answers,
 * so everything the OTLP specification says about what to accept and how to refuse
 * lives here once, in a form the unit tests can call without a socket.
 *
 * Ownership: the batch is created here and handed to recv->instance->next with the
 * push (also when the consumer refuses it); on every path before the push it is freed
 * here. A protobuf body forwarded undecoded is taken from the inbound server (when it is
 * at least TG_OTLP_TAKE_MIN_BYTES) and becomes the batch's: its arena frees it, also on
 * every refusal, since those free the batch. Counting: spans refused after decoding count
 * their number; a body that cannot be decoded (malformed, too large) counts one, because
 * its span count is unknowable. */
#include "otlp.h"

#include <stdio.h>
#include <string.h>

#include "otlp_json.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_metrics_service.h"
#include "tg_service.h"

/* Decoded protobuf can be much larger than its wire form (an empty KeyValue is 2 bytes
 * on the wire and ~64 in memory); the bound leaves room for that and still stops a
 * peer from making one request hold unbounded memory. */
#define TG_OTLP_ARENA_FACTOR 32
#define TG_OTLP_ARENA_SLACK (1u << 20)

/* Protobuf bodies from this size up are taken from the server instead of copied: below
 * it the copy costs less than the server buffer each taken body makes the next request
 * allocate (measured, docs/BENCHMARKS.md: neutral at 5.5 KB, a gain from 8 KB on). */
#define TG_OTLP_TAKE_MIN_BYTES 8192

static const char *const transport_names[TG_OTLP_TRANSPORT_COUNT_] = {"grpc", "http"};

_Static_assert((int)TG_OTLP_REFUSED_INVALID == (int)TG_RECV_SPANS_INVALID &&
                   (int)TG_OTLP_REFUSED_MALFORMED == (int)TG_RECV_SPANS_MALFORMED &&
                   (int)TG_OTLP_REFUSED_BACKPRESSURE == (int)TG_RECV_SPANS_BACKPRESSURE &&
                   (int)TG_OTLP_REFUSED_TOO_LARGE == (int)TG_RECV_SPANS_TOO_LARGE &&
                   (int)TG_OTLP_REFUSED_ERROR == (int)TG_RECV_SPANS_ERROR &&
                   (int)TG_OTLP_REFUSAL_COUNT_ == (int)TG_RECV_SPANS_REFUSAL_COUNT_,
               "the otlp refusal reasons follow tg_recv_span_refusal");

int tg_otlp_counters_init(tg_otlp_receiver *recv, tg_metrics *reg, const char *id) {
  for (int t = 0; t < TG_OTLP_TRANSPORT_COUNT_; t++) {
    int rc = tg_receiver_metrics_init(&recv->counters[t], reg, id, transport_names[t]);
    if (rc != TG_OK)
      return rc;
  }
  return TG_OK;
}

static int id_valid(const ProtobufCBinaryData *id, size_t want) {
  if (id->len != want)
    return 0;
  for (size_t i = 0; i < want; i++)
    if (id->data[i])
      return 1;
  return 0;
}

/* Describes why span is invalid, or returns NULL when it is valid. */
static const char *span_problem(const tg_span *span) {
  if (!id_valid(&span->trace_id, TG_TRACE_ID_LEN))
    return span->trace_id.len == TG_TRACE_ID_LEN ? "trace_id is all zero"
                                                 : "trace_id is not 16 bytes";
  if (!id_valid(&span->span_id, TG_SPAN_ID_LEN))
    return span->span_id.len == TG_SPAN_ID_LEN ? "span_id is all zero"
                                               : "span_id is not 8 bytes";
  return NULL;
}

size_t tg_otlp_validate_spans(tg_batch *batch, char *msg, size_t msg_size) {
  size_t rejected = 0;
  const char *first = NULL;
  tg_export_request *req = &batch->request;
  size_t rs_out = 0;
  for (size_t r = 0; r < req->n_resource_spans; r++) {
    tg_resource_spans *rs = req->resource_spans[r];
    size_t ss_out = 0, removed_here = 0;
    for (size_t s = 0; s < rs->n_scope_spans; s++) {
      tg_scope_spans *ss = rs->scope_spans[s];
      size_t out = 0, before = ss->n_spans;
      for (size_t i = 0; i < ss->n_spans; i++) {
        const char *problem = span_problem(ss->spans[i]);
        if (problem) {
          if (!first)
            first = problem;
          continue;
        }
        ss->spans[out++] = ss->spans[i];
      }
      ss->n_spans = out;
      rejected += before - out;
      removed_here += before - out;
      /* a group emptied by validation goes; one that arrived empty stays as it was */
      if (out || before == out)
        rs->scope_spans[ss_out++] = ss;
    }
    rs->n_scope_spans = ss_out;
    if (ss_out || !removed_here)
      req->resource_spans[rs_out++] = rs;
  }
  req->n_resource_spans = rs_out;
  tg_batch_count_spans(batch);
  if (rejected && msg && msg_size)
    snprintf(msg, msg_size, "%zu span%s rejected: %s (trace_id must be 16 and span_id 8 "
             "bytes, not all zero)", rejected, rejected == 1 ? "" : "s", first);
  return rejected;
}

static void bump(tg_otlp_receiver *recv, tg_otlp_transport t, tg_otlp_refusal why,
                 int64_t n) {
  tg_metric_add(recv->counters[t].refused[why], n);
}

static void on_server_refused(tg_otlp_receiver *recv, tg_otlp_transport t,
                              const char *reason) {
  tg_receiver_metrics_server_refused(&recv->counters[t], reason);
}

void tg_otlp_on_refused_grpc(void *recv, const char *reason) {
  on_server_refused(recv, TG_OTLP_GRPC, reason);
}

void tg_otlp_on_refused_http(void *recv, const char *reason) {
  on_server_refused(recv, TG_OTLP_HTTP, reason);
}

static void set_message(tg_otlp_result *out, const char *text) {
  snprintf(out->message, sizeof out->message, "%s", text);
  for (char *p = out->message; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      *p = '?';
}

/* Records a request the fast path forwards undecoded. The body is taken from the server
 * rather than copied when it is big enough for that to matter (below, a copy into the
 * arena costs less than the fresh server buffer the next request then needs: see
 * docs/BENCHMARKS.md) and the server can give it. */
static int adopt_body(tg_batch *batch, const tg_http_request *req,
                      const tg_otlp_wire_index *idx) {
  const uint8_t *body = NULL;
  size_t size = 0;
  uint8_t *buf = idx->n && req->body_len >= TG_OTLP_TAKE_MIN_BYTES
                     ? tg_http_request_take_body(req, &body, &size)
                     : NULL;
  if (!buf)
    return tg_batch_adopt_wire(batch, req->body, req->body_len, idx->offsets, idx->lengths,
                               idx->span_counts, idx->n);
  int rc = tg_batch_adopt_wire_owned(batch, buf, size, NULL, body, idx->offsets,
                                     idx->lengths, idx->span_counts, idx->n);
  if (rc != TG_OK)
    tg_free(buf);
  return rc;
}

static void ingest(tg_otlp_receiver *recv, tg_otlp_transport transport, const char *cid,
                   tg_otlp_format format, const tg_http_request *req, tg_otlp_result *out) {
  const uint8_t *body = req->body;
  size_t len = req->body_len;
  memset(out, 0, sizeof *out);
  if (recv->stopping) {
    out->outcome = TG_OTLP_UNAVAILABLE;
    set_message(out, "receiver is shutting down, retry later");
    bump(recv, transport, TG_OTLP_REFUSED_BACKPRESSURE, 1);
    return;
  }
  char detail[sizeof out->message];
  detail[0] = '\0';
  /* The fast path forwards resource_spans undecoded (decoded later only if a processor
   * reads spans); requests with invalid spans are decoded here so that those spans can
   * be dropped and reported as a partial success. */
  tg_otlp_wire_index idx;
  int rc = TG_OK, fast = 0;
  if (format == TG_OTLP_PROTOBUF) {
    rc = tg_otlp_proto_index(body, len, TG_OTLP_PROTO_MAX_DEPTH, detail, sizeof detail,
                             &idx);
    fast = rc == TG_OK && !idx.invalid_spans && !idx.overflow && !idx.merges;
  }
  size_t limit = len > (SIZE_MAX - TG_OTLP_ARENA_SLACK) / TG_OTLP_ARENA_FACTOR
                     ? SIZE_MAX
                     : len * TG_OTLP_ARENA_FACTOR + TG_OTLP_ARENA_SLACK;
  /* first chunk sized to the body (decoded size is of the same order), at most 1 MiB;
   * minimal when the batch is to take the body and needs only its segment list */
  size_t hint = len < TG_OTLP_ARENA_SLACK ? len + 1024 : TG_OTLP_ARENA_SLACK;
  if (fast && req->body_buf && len >= TG_OTLP_TAKE_MIN_BYTES)
    hint = 0;
  tg_batch *batch = tg_batch_new(hint, limit);
  if (!batch) {
    out->outcome = TG_OTLP_INTERNAL;
    set_message(out, "out of memory");
    bump(recv, transport, TG_OTLP_REFUSED_ERROR, 1);
    return;
  }
  if (format == TG_OTLP_JSON)
    rc = tg_otlp_json_decode(batch, body, len, detail, sizeof detail);
  else if (fast)
    rc = adopt_body(batch, req, &idx);
  else if (rc == TG_OK)
    rc = tg_batch_decode_otlp(batch, body, len);
  if (format == TG_OTLP_PROTOBUF && rc == TG_EDECODE && !detail[0])
    snprintf(detail, sizeof detail,
             "malformed protobuf: not a valid ExportTraceServiceRequest (%zu bytes)", len);
  if (rc != TG_OK) {
    tg_batch_free(batch);
    if (rc == TG_ETOOBIG) {
      out->outcome = TG_OTLP_TOO_LARGE;
      set_message(out, "decoded request exceeds the receiver's memory bound");
      bump(recv, transport, TG_OTLP_REFUSED_TOO_LARGE, 1);
      tg_metric_add(recv->counters[transport].refused_requests[TG_RECV_REQ_TOO_LARGE], 1);
    } else if (rc == TG_EDECODE) {
      out->outcome = TG_OTLP_MALFORMED;
      set_message(out, detail);
      bump(recv, transport, TG_OTLP_REFUSED_MALFORMED, 1);
      tg_metric_add(recv->counters[transport].refused_requests[TG_RECV_REQ_MALFORMED], 1);
    } else {
      out->outcome = TG_OTLP_INTERNAL;
      set_message(out, tg_strerror(rc));
      bump(recv, transport, TG_OTLP_REFUSED_ERROR, 1);
    }
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "refused %s request: %s", transport_names[transport], out->message);
    return;
  }

  size_t rejected = tg_otlp_validate_spans(batch, detail, sizeof detail);
  if (rejected) {
    out->rejected_spans = (int64_t)rejected;
    set_message(out, detail);
    bump(recv, transport, TG_OTLP_REFUSED_INVALID, (int64_t)rejected);
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL, "%s", out->message);
  }
  size_t spans = batch->span_count;
  if (!spans || !recv->instance || !recv->instance->next.consume) {
    /* nothing left to deliver (an empty request, or every span was invalid) */
    tg_batch_free(batch);
    out->outcome = TG_OTLP_OK;
    return;
  }

  tg_metrics_service_count_batch(recv->counters[transport].reg, batch);
  /* The batch is no longer ours, except on TG_EAGAIN (back-pressure: not taken). */
  rc = tg_consumer_push(&recv->instance->next, batch);
  if (rc == TG_OK) {
    out->outcome = TG_OTLP_OK;
    out->accepted_spans = spans;
    tg_metric_add(recv->counters[transport].accepted, (int64_t)spans);
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "accepted %s request: %zu spans", transport_names[transport], spans);
    return;
  }
  /* The whole request is refused; a partial-success note no longer applies. */
  out->rejected_spans = 0;
  if (rc == TG_EAGAIN) {
    tg_batch_free(batch);
    out->outcome = TG_OTLP_BACKPRESSURE;
    set_message(out, "pipeline is full, retry later");
    bump(recv, transport, TG_OTLP_REFUSED_BACKPRESSURE, (int64_t)spans);
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "refused %s request: %s", transport_names[transport], out->message);
  } else if (rc == TG_ECLOSED) {
    out->outcome = TG_OTLP_UNAVAILABLE;
    set_message(out, "pipeline is shutting down, retry later");
    bump(recv, transport, TG_OTLP_REFUSED_BACKPRESSURE, (int64_t)spans);
  } else {
    out->outcome = TG_OTLP_INTERNAL;
    snprintf(out->message, sizeof out->message, "pipeline refused the data: %s",
             tg_strerror(rc));
    bump(recv, transport, TG_OTLP_REFUSED_ERROR, (int64_t)spans);
    TG_LOG_CID(recv->log, TG_LOG_WARN, recv->log_component, cid, NULL,
               "downstream refused %zu spans: %s (%s)", spans, tg_strerror(rc),
               tg_err_name(rc));
  }
}

tg_selftrace *tg_otlp_tracer(const tg_otlp_receiver *recv) {
  return recv->instance && recv->instance->service ? recv->instance->service->selftrace : NULL;
}

void tg_otlp_trace_end(tg_request_trace *rt, const tg_otlp_result *result) {
  static const char *const outcomes[] = {"ok", "malformed", "too_large", "backpressure",
                                         "unavailable", "internal"};
  int ok = result->outcome == TG_OTLP_OK;
  tg_request_trace_end(rt, (int64_t)result->accepted_spans, result->rejected_spans,
                       outcomes[result->outcome], !ok);
}

void tg_otlp_ingest(tg_otlp_receiver *recv, tg_otlp_transport transport, const char *cid,
                    tg_otlp_format format, const tg_http_request *req, tg_otlp_result *out) {
  uint64_t start = tg_receiver_metrics_now();
  ingest(recv, transport, cid, format, req, out);
  tg_receiver_metrics_observe(&recv->counters[transport], start);
}
