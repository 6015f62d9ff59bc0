/* The self-metrics every receiver keeps per transport (one {receiver, transport} label
 * set), registered by one helper instead of a copy in each receiver:
 *   tailgate_receiver_accepted_spans_total, tailgate_receiver_refused_spans_total{reason},
 *   tailgate_receiver_refused_requests_total{reason} and
 *   tailgate_receiver_request_duration_seconds (request fully read -> answered).
 * Cells are bumped from any thread; a NULL registry makes every bump a no-op. */
#ifndef TG_METRICS_RECEIVER_H
#define TG_METRICS_RECEIVER_H

#include <stdint.h>

#include "tg_metrics.h"

/* The `reason` of refused spans; receivers' own refusal enums follow this order. */
typedef enum tg_recv_span_refusal {
  TG_RECV_SPANS_INVALID,      /* span failed validation (partial success) */
  TG_RECV_SPANS_MALFORMED,    /* body could not be decoded (counts one) */
  TG_RECV_SPANS_BACKPRESSURE, /* downstream answered TG_EAGAIN / shutting down */
  TG_RECV_SPANS_TOO_LARGE,    /* body or decoded form over its bound (counts one) */
  TG_RECV_SPANS_ERROR,        /* any other downstream error */
  TG_RECV_SPANS_REFUSAL_COUNT_
} tg_recv_span_refusal;

/* The `reason` of refused requests: requests and connections refused before any span
 * was counted. */
typedef enum tg_recv_request_refusal {
  TG_RECV_REQ_MALFORMED,
  TG_RECV_REQ_TOO_LARGE,
  TG_RECV_REQ_UNAUTHENTICATED,
  TG_RECV_REQ_TLS_HANDSHAKE,
  TG_RECV_REQ_TIMEOUT,
  TG_RECV_REQ_TOO_MANY_CONNECTIONS,
  TG_RECV_REQ_REFUSAL_COUNT_
} tg_recv_request_refusal;

typedef struct tg_receiver_metrics {
  tg_metric_cell *accepted;
  tg_metric_cell *refused[TG_RECV_SPANS_REFUSAL_COUNT_];
  tg_metric_cell *refused_requests[TG_RECV_REQ_REFUSAL_COUNT_];
  tg_metric_histogram *duration;
  tg_metrics *reg; /* for the per-service counters; NULL = none */
} tg_receiver_metrics;

/* Registers (or finds) the series of receiver id and transport in reg and fills m. reg
 * NULL: m is all NULL (bumps are no-ops). TG_OK or TG_ENOMEM. */
int tg_receiver_metrics_init(tg_receiver_metrics *m, tg_metrics *reg, const char *receiver,
                             const char *transport);

/* The label value of a refused-requests reason. */
const char *tg_receiver_request_refusal_name(tg_recv_request_refusal r);

/* Counts what the inbound server refused before any handler ran (its on_refused hook:
 * reason "too_large", "malformed", "tls_handshake", "timeout" or "too_many_connections").
 * too_large and malformed also count one refused span, as the receivers always did. An
 * unknown reason counts as malformed. */
void tg_receiver_metrics_server_refused(const tg_receiver_metrics *m, const char *reason);

/* A monotonic timestamp (ns) for tg_receiver_metrics_observe. */
uint64_t tg_receiver_metrics_now(void);
/* Observes now - start_ns in the request duration histogram. */
void tg_receiver_metrics_observe(const tg_receiver_metrics *m, uint64_t start_ns);

#endif
