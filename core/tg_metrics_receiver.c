/* Receiver self-metrics, once for every receiver (they used to carry three copies of
 * this registration). The families' names, help and labels are fixed here, so two
 * receivers can never register one family differently. */
#include "tg_metrics_receiver.h"

#include <string.h>
#include <uv.h>

#include "tg_error.h"

static const char *const span_reasons[TG_RECV_SPANS_REFUSAL_COUNT_] = {
    "invalid", "malformed", "backpressure", "too_large", "error"};
static const char *const request_reasons[TG_RECV_REQ_REFUSAL_COUNT_] = {
    "malformed",     "too_large", "unauthenticated",
    "tls_handshake", "timeout",   "too_many_connections"};

/* Receive latency: in-process work from a fully read request to its answer, so the
 * buckets start at 100 us. */
static const double duration_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                         0.005,  0.01,    0.025,  0.05,  0.1,
                                         0.25,   0.5,     1};

const char *tg_receiver_request_refusal_name(tg_recv_request_refusal r) {
  return r >= 0 && r < TG_RECV_REQ_REFUSAL_COUNT_ ? request_reasons[r] : "?";
}

int tg_receiver_metrics_init(tg_receiver_metrics *m, tg_metrics *reg, const char *receiver,
                             const char *transport) {
  memset(m, 0, sizeof *m);
  if (!reg)
    return TG_OK;
  static const char *const labels[] = {"receiver", "transport", NULL};
  static const char *const reason_labels[] = {"receiver", "transport", "reason", NULL};
  tg_metric_family *accepted = tg_metrics_family(
      reg, "tailgate_receiver_accepted_spans_total",
      "Spans a receiver accepted and pushed into its pipelines.", TG_METRIC_COUNTER, labels);
  tg_metric_family *refused = tg_metrics_family(
      reg, "tailgate_receiver_refused_spans_total",
      "Spans a receiver refused, by reason (an undecodable body counts once).",
      TG_METRIC_COUNTER, reason_labels);
  tg_metric_family *requests = tg_metrics_family(
      reg, "tailgate_receiver_refused_requests_total",
      "Requests a receiver refused before decoding them, by reason.", TG_METRIC_COUNTER,
      reason_labels);
  tg_metric_family *duration = tg_metrics_histogram_family(
      reg, "tailgate_receiver_request_duration_seconds",
      "Time from a request fully read to its answer, per receiver and transport.", labels,
      duration_bounds, sizeof duration_bounds / sizeof duration_bounds[0]);
  if (!accepted || !refused || !requests || !duration)
    return TG_ENOMEM;
  const char *values[] = {receiver, transport, NULL};
  if (!(m->accepted = tg_metrics_series(accepted, values)) ||
      !(m->duration = tg_metrics_histogram_series(duration, values)))
    return TG_ENOMEM;
  for (int r = 0; r < TG_RECV_SPANS_REFUSAL_COUNT_; r++) {
    const char *rv[] = {receiver, transport, span_reasons[r]};
    if (!(m->refused[r] = tg_metrics_series(refused, rv)))
      return TG_ENOMEM;
  }
  for (int r = 0; r < TG_RECV_REQ_REFUSAL_COUNT_; r++) {
    const char *rv[] = {receiver, transport, request_reasons[r]};
    if (!(m->refused_requests[r] = tg_metrics_series(requests, rv)))
      return TG_ENOMEM;
  }
  m->reg = reg;
  return TG_OK;
}

void tg_receiver_metrics_server_refused(const tg_receiver_metrics *m, const char *reason) {
  tg_recv_request_refusal r = TG_RECV_REQ_MALFORMED;
  for (int i = 0; i < TG_RECV_REQ_REFUSAL_COUNT_; i++)
    if (!strcmp(reason, request_reasons[i]))
      r = (tg_recv_request_refusal)i;
  tg_metric_add(m->refused_requests[r], 1);
  if (r == TG_RECV_REQ_MALFORMED)
    tg_metric_add(m->refused[TG_RECV_SPANS_MALFORMED], 1);
  else if (r == TG_RECV_REQ_TOO_LARGE)
    tg_metric_add(m->refused[TG_RECV_SPANS_TOO_LARGE], 1);
}

uint64_t tg_receiver_metrics_now(void) {
  return uv_hrtime();
}

void tg_receiver_metrics_observe(const tg_receiver_metrics *m, uint64_t start_ns) {
  if (!m->duration)
    return;
  uint64_t now = uv_hrtime();
  tg_metric_observe(m->duration, now > start_ns ? (double)(now - start_ns) / 1e9 : 0);
}
