/* The trace context of one inbound HTTP or gRPC request (headers or gRPC metadata, which
 * tailgate's server hands over the same way), and the correlation ID its log lines carry:
 * the caller's trace ID when a context came in, so an operator can find the gateway's
 * lines for a client's request by the trace ID the client logged; a fresh ID otherwise. */
#ifndef TG_TRACECTX_REQUEST_H
#define TG_TRACECTX_REQUEST_H

#include "tg_http_server.h"
#include "tg_selftrace.h"
#include "tg_tracectx.h"

/* Every inbound format is read: W3C first, then B3 (single, multi), then Jaeger. tracestate
 * is not read (the correlation ID needs only the trace ID). Returns the source or
 * TG_TRACECTX_NONE with *reason. */
tg_tracectx_source tg_http_request_trace_context(const tg_http_request *req, tg_tracectx *out,
                                                 const char **reason);

/* 32 lower-case hex + NUL into out. g supplies fresh IDs (owned by the caller's instance,
 * used on one thread). Returns the source the ID came from (TG_TRACECTX_NONE: fresh). */
tg_tracectx_source tg_http_request_correlation_id(const tg_http_request *req, tg_idgen *g,
                                                  char out[33]);

/* Everything a receiver does per request for tracing, in one place: the correlation ID
 * for its log lines and, when self-tracing samples the request, a "tailgate.receive"
 * span (SERVER, continuing the caller's context) with a "tailgate.process" child around
 * the decode-and-push work. Loop thread; g and tracer as above (tracer may be NULL). */
typedef struct tg_request_trace {
  char cid[33];
  tg_selftrace *tracer;
  tg_selfspan receive, process;
} tg_request_trace;

void tg_request_trace_begin(tg_request_trace *rt, const tg_http_request *req,
                            tg_selftrace *tracer, tg_idgen *g, const char *component,
                            const char *transport);
/* Ends both spans: accepted/refused span counts and the outcome ("ok", "malformed",
 * "backpressure", ...) as attributes; error marks the spans' status. */
void tg_request_trace_end(tg_request_trace *rt, int64_t accepted, int64_t refused,
                          const char *outcome, int error);

#endif
