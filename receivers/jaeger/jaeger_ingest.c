/* What every Jaeger transport shares: decoding a request into an OTLP batch (through
 * the api_v2 model, in the batch's own arena), pushing it downstream, and counting.
 *
 * Ownership: tg_jaeger_decode creates the batch and hands it out only on success;
 * tg_jaeger_push passes it on (a consumer takes it on every answer but TG_EAGAIN).
 * Counting follows the otlp receiver: refused spans count their number when it is
 * known, an undecodable body counts one. */
#include "jaeger.h"

#include <stdio.h>
#include <string.h>

#include "tg_error.h"
#include "tg_metrics_service.h"
#include "tg_service.h"

/* As the otlp receiver: decoded form may be much larger than the wire, but bounded. */
#define JAEGER_ARENA_FACTOR 32
#define JAEGER_ARENA_SLACK (1u << 20)

static const char *const transport_names[TG_JAEGER_TRANSPORT_COUNT_] = {
    "thrift_compact", "thrift_binary", "grpc", "thrift_http"};
static const char *const drop_names[TG_JAEGER_DROP_COUNT_] = {"undecodable", "queue_full",
                                                              "too_large", "shutdown"};

_Static_assert((int)TG_JAEGER_REFUSED_INVALID == (int)TG_RECV_SPANS_INVALID &&
                   (int)TG_JAEGER_REFUSED_MALFORMED == (int)TG_RECV_SPANS_MALFORMED &&
                   (int)TG_JAEGER_REFUSED_BACKPRESSURE == (int)TG_RECV_SPANS_BACKPRESSURE &&
                   (int)TG_JAEGER_REFUSED_TOO_LARGE == (int)TG_RECV_SPANS_TOO_LARGE &&
                   (int)TG_JAEGER_REFUSED_ERROR == (int)TG_RECV_SPANS_ERROR &&
                   (int)TG_JAEGER_REFUSAL_COUNT_ == (int)TG_RECV_SPANS_REFUSAL_COUNT_,
               "the jaeger refusal reasons follow tg_recv_span_refusal");

int tg_jaeger_counters_init(tg_jaeger_receiver *recv, tg_metrics *reg, const char *id) {
  memset(recv->counters, 0, sizeof recv->counters);
  if (!reg)
    return TG_OK;
  static const char *const reason_labels[] = {"receiver", "transport", "reason", NULL};
  tg_metric_family *dropped = tg_metrics_family(
      reg, "tailgate_receiver_dropped_datagrams_total",
      "UDP datagrams a receiver dropped: undecodable, queue full, too large, or still "
      "queued at shutdown.",
      TG_METRIC_COUNTER, reason_labels);
  if (!dropped)
    return TG_ENOMEM;
  for (int t = 0; t < TG_JAEGER_TRANSPORT_COUNT_; t++) {
    int rc = tg_receiver_metrics_init(&recv->counters[t].m, reg, id, transport_names[t]);
    if (rc != TG_OK)
      return rc;
    for (int d = 0; t <= TG_JAEGER_THRIFT_BINARY && d < TG_JAEGER_DROP_COUNT_; d++) {
      const char *dv[] = {id, transport_names[t], drop_names[d]};
      if (!(recv->counters[t].dropped[d] = tg_metrics_series(dropped, dv)))
        return TG_ENOMEM;
    }
  }
  return TG_OK;
}

size_t tg_jaeger_arena_limit(size_t len) {
  return len > (SIZE_MAX - JAEGER_ARENA_SLACK) / JAEGER_ARENA_FACTOR
             ? SIZE_MAX
             : len * JAEGER_ARENA_FACTOR + JAEGER_ARENA_SLACK;
}

int tg_jaeger_decode(tg_jaeger_transport t, const uint8_t *body, size_t len,
                     tg_batch **out, size_t *invalid, char *msg, size_t msg_size) {
  *out = NULL;
  *invalid = 0;
  if (msg && msg_size)
    msg[0] = '\0';
  /* the model and the OTLP tree both live in the arena: about twice the wire size */
  size_t hint = len < JAEGER_ARENA_SLACK ? 2 * len + 1024 : JAEGER_ARENA_SLACK;
  tg_batch *batch = tg_batch_new(hint, tg_jaeger_arena_limit(len));
  if (!batch)
    return TG_ENOMEM;
  tg_jaeger_batch *jb = NULL;
  int rc;
  if (t == TG_JAEGER_GRPC) {
    tg_jaeger_post_spans *req =
        jaeger__api_v2__post_spans_request__unpack(&batch->arena->pb_allocator, len, body);
    if (!req) {
      rc = batch->arena->over_limit ? TG_ETOOBIG : TG_EDECODE;
      if (rc == TG_EDECODE && msg)
        snprintf(msg, msg_size, "malformed protobuf: not a valid PostSpansRequest (%zu bytes)",
                 len);
    } else if (!req->batch) {
      rc = TG_OK; /* an empty request: nothing to do */
    } else {
      jb = req->batch;
      rc = TG_OK;
    }
  } else if (t == TG_JAEGER_THRIFT_HTTP) {
    rc = tg_jaeger_thrift_decode_batch(batch->arena, TG_THRIFT_BINARY, body, len, &jb, msg,
                                       msg_size);
  } else {
    rc = tg_jaeger_thrift_decode_emit_batch(batch->arena, (tg_thrift_protocol)t, body, len,
                                            &jb, msg, msg_size);
  }
  if (rc == TG_OK && jb)
    rc = tg_jaeger_to_otlp(batch, jb, invalid);
  if (rc != TG_OK) {
    tg_batch_free(batch);
    return rc;
  }
  *out = batch;
  return TG_OK;
}

int tg_jaeger_push(tg_jaeger_receiver *recv, tg_jaeger_transport t, tg_batch *batch) {
  tg_jaeger_counters *c = &recv->counters[t];
  size_t spans = batch->span_count;
  if (!spans || !recv->instance || !recv->instance->next.consume) {
    tg_batch_free(batch);
    return TG_OK;
  }
  tg_metrics_service_count_batch(c->m.reg, batch);
  int rc = tg_consumer_push(&recv->instance->next, batch);
  if (rc == TG_OK)
    tg_metric_add(c->m.accepted, (int64_t)spans);
  else if (rc == TG_EAGAIN || rc == TG_ECLOSED)
    tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_BACKPRESSURE], (int64_t)spans);
  else
    tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_ERROR], (int64_t)spans);
  return rc;
}

static void set_message(tg_jaeger_result *out, const char *text) {
  snprintf(out->message, sizeof out->message, "%s", text);
  for (char *p = out->message; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      *p = '?';
}

static void ingest(tg_jaeger_receiver *recv, tg_jaeger_transport t, const char *cid,
                   const uint8_t *body, size_t len, tg_jaeger_result *out) {
  memset(out, 0, sizeof *out);
  tg_jaeger_counters *c = &recv->counters[t];
  if (recv->stopping) {
    out->outcome = TG_JAEGER_UNAVAILABLE;
    set_message(out, "receiver is shutting down, retry later");
    tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_BACKPRESSURE], 1);
    return;
  }
  tg_batch *batch;
  size_t invalid;
  char detail[sizeof out->message];
  int rc = tg_jaeger_decode(t, body, len, &batch, &invalid, detail, sizeof detail);
  if (rc != TG_OK) {
    if (rc == TG_EDECODE) {
      out->outcome = TG_JAEGER_MALFORMED;
      set_message(out, detail[0] ? detail : "malformed request");
      tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_MALFORMED], 1);
      tg_metric_add(c->m.refused_requests[TG_RECV_REQ_MALFORMED], 1);
    } else if (rc == TG_ETOOBIG) {
      out->outcome = TG_JAEGER_TOO_LARGE;
      set_message(out, "decoded request exceeds the receiver's memory bound");
      tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_TOO_LARGE], 1);
      tg_metric_add(c->m.refused_requests[TG_RECV_REQ_TOO_LARGE], 1);
    } else {
      out->outcome = TG_JAEGER_INTERNAL;
      set_message(out, tg_strerror(rc));
      tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_ERROR], 1);
    }
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "refused %s request: %s", transport_names[t], out->message);
    return;
  }
  if (invalid)
    tg_metric_add(c->m.refused[TG_JAEGER_REFUSED_INVALID], (int64_t)invalid);
  size_t spans = batch->span_count;
  rc = tg_jaeger_push(recv, t, batch);
  if (rc == TG_OK) {
    out->outcome = TG_JAEGER_OK;
    out->accepted_spans = spans;
    TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
               "accepted %s request: %zu spans", transport_names[t], spans);
    return;
  } else if (rc == TG_EAGAIN) {
    tg_batch_free(batch); /* not taken */
    out->outcome = TG_JAEGER_BACKPRESSURE;
    set_message(out, "pipeline is full, retry later");
  } else if (rc == TG_ECLOSED) {
    out->outcome = TG_JAEGER_UNAVAILABLE;
    set_message(out, "pipeline is shutting down, retry later");
  } else {
    out->outcome = TG_JAEGER_INTERNAL;
    snprintf(out->message, sizeof out->message, "pipeline refused the data: %s",
             tg_strerror(rc));
  }
  TG_LOG_CID(recv->log, TG_LOG_DEBUG, recv->log_component, cid, NULL,
             "refused %s request: %s", transport_names[t], out->message);
}

void tg_jaeger_ingest(tg_jaeger_receiver *recv, tg_jaeger_transport t, const char *cid,
                      const uint8_t *body, size_t len, tg_jaeger_result *out) {
  uint64_t start = tg_receiver_metrics_now();
  ingest(recv, t, cid, body, len, out);
  tg_receiver_metrics_observe(&recv->counters[t].m, start);
}
