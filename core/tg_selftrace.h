/* tailgate's own spans (service.telemetry.traces): a span per inbound request
 * ("tailgate.receive", continuing the caller's context) and one for the pipeline work it
 * triggered ("tailgate.process"), with span counts and the outcome as attributes, sent by
 * OTLP/HTTP protobuf to a configured endpoint from a thread of its own. They never enter
 * tailgate's pipelines, so self-tracing cannot feed on itself.
 *
 * Sampling is by trace ID (W3C Level 2 randomness: the low 56 bits against a threshold),
 * so every replica traces the same requests of one trace; unsampled spans cost the
 * sampling check and nothing else (no clock read, no lock).
 *
 * Threads: begin/end may be called from any thread (the span ring and the ID generator
 * are behind one mutex, taken only for sampled spans or fresh trace IDs). */
#ifndef TG_SELFTRACE_H
#define TG_SELFTRACE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_error.h"
#include "tg_log.h"
#include "tg_tracectx.h"

#define TG_SELFSPAN_MAX_ATTRS 5
#define TG_SELFTRACE_RING 4096 /* finished spans waiting to be sent; more are dropped */

typedef struct tg_selftrace tg_selftrace;

typedef struct tg_selfspan_attr {
  const char *key; /* static */
  int is_int;
  int64_t i;
  char s[48];
} tg_selfspan_attr;

typedef struct tg_selfspan {
  uint8_t trace_id[16], span_id[8], parent_id[8];
  uint8_t sampled, kind, error, n_attrs;
  uint8_t flags; /* the trace's W3C flags, for propagation */
  uint64_t start_ns, end_ns; /* unix epoch nanoseconds */
  const char *name;          /* static */
  tg_selfspan_attr attrs[TG_SELFSPAN_MAX_ATTRS];
} tg_selfspan;

enum { TG_SELFSPAN_INTERNAL = 1, TG_SELFSPAN_SERVER = 2, TG_SELFSPAN_CLIENT = 3 };

typedef struct tg_selftrace_stats {
  uint64_t sampled, sent, dropped, failed_requests;
} tg_selftrace_stats;

/* endpoint: OTLP/HTTP URL (copied); ratio in [0, 1]; propagators: TG_PROPAGATE_* for
 * outgoing requests. Starts the sender thread. NULL + err on failure. */
tg_selftrace *tg_selftrace_create(const char *endpoint, double ratio, unsigned propagators,
                                  tg_logger *log, tg_errbuf *err);
/* Sends what is queued (bounded by a 5 s request timeout), stops the thread, frees.
 * NULL is fine. */
void tg_selftrace_destroy(tg_selftrace *t);

/* Starts a span continuing parent (NULL: a new trace). Returns 1 when sampled (then *s must
 * be ended with tg_selftrace_end), 0 when not (*s is inert; end is a no-op). t may be NULL
 * (self-tracing off: returns 0). */
int tg_selftrace_begin(tg_selftrace *t, const tg_tracectx *parent, const char *name, int kind,
                       tg_selfspan *s);
/* A child of parent (same trace, same decision). */
int tg_selftrace_child(tg_selftrace *t, const tg_selfspan *parent, const char *name, int kind,
                       tg_selfspan *s);
void tg_selfspan_attr_int(tg_selfspan *s, const char *key, int64_t v);
void tg_selfspan_attr_str(tg_selfspan *s, const char *key, const char *v);
/* Ends and queues a sampled span (dropped and counted when the ring is full). */
void tg_selftrace_end(tg_selftrace *t, tg_selfspan *s);

/* The span as a context for outgoing requests (same trace, this span as the parent). */
void tg_selfspan_context(const tg_selfspan *s, tg_tracectx *out);
/* Calls add(ctx, name, value) for each header of the configured propagators. Returns the
 * number of headers. */
int tg_selftrace_inject(const tg_selftrace *t, const tg_tracectx *ctx,
                        void (*add)(void *arg, const char *name, const char *value), void *arg);

/* ---- export requests (called by the exporters' sender threads) ----------------------- */

/* The most headers tg_selftrace_inject writes for one context (traceparent, tracestate,
 * b3, five X-B3-*, uber-trace-id). */
#define TG_SELFTRACE_MAX_HEADERS 9

/* Starts the span of one export attempt: "tailgate.export" (CLIENT) at the root of a new
 * trace (a queued request has no live inbound request to continue: batches mix spans of
 * many requests), sampled by its trace ID against the ratio like every self-span, with the
 * attributes tailgate.exporter, tailgate.spans and tailgate.attempt (1 = first send).
 * Always fills *ctx with that span's context (sampled flag per the decision) when t is
 * set, and returns 1: the caller injects *ctx into the request with tg_selftrace_inject.
 * With t NULL (self-tracing off) returns 0, *ctx is untouched and nothing is injected,
 * like the Collector without a tracer provider. No allocation; one short critical
 * section (the ID generator). exporter is copied (at most 47 bytes). */
int tg_selftrace_export_begin(tg_selftrace *t, const char *exporter, size_t spans,
                              unsigned attempt, tg_selfspan *s, tg_tracectx *ctx);
/* Ends it with tailgate.outcome ("ok", "retryable", "permanent") and, when status_key is
 * not NULL, status_key = status (http.response.status_code, rpc.grpc.status_code); error
 * status unless the outcome is ok. A no-op for an unsampled span or t NULL. */
void tg_selftrace_export_end(tg_selftrace *t, tg_selfspan *s, const char *outcome,
                             const char *status_key, int64_t status);

void tg_selftrace_get_stats(tg_selftrace *t, tg_selftrace_stats *out);

/* The sampling decision alone: 1 when the trace ID's low 56 bits are >= (1 - ratio) * 2^56. */
int tg_selftrace_sampled(const uint8_t trace_id[16], double ratio);

#endif
