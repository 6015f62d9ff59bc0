/* The jaeger receiver's internal interface: the instance state shared by its files, the
 * counters, and the transport-independent push step. Tests include it to drive the
 * handlers without sockets. */
#ifndef TG_JAEGER_H
#define TG_JAEGER_H

#include <stddef.h>
#include <stdint.h>

#include "tg_auth.h"
#include "tg_component.h"
#include "tg_http_server.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_metrics_receiver.h"
#include "tg_tracectx_request.h"

#include "jaeger_conf.h"
#include "jaeger_thrift.h"

extern const tg_component tg_receiver_jaeger;

#define TG_JAEGER_GRPC_PATH "/jaeger.api_v2.CollectorService/PostSpans"
#define TG_JAEGER_HTTP_PATH "/api/traces"

/* Transports, in the order of the `transport` label values. The first two index
 * tg_jaeger_conf.udp (they equal tg_thrift_protocol). */
typedef enum tg_jaeger_transport {
  TG_JAEGER_THRIFT_COMPACT = TG_THRIFT_COMPACT,
  TG_JAEGER_THRIFT_BINARY = TG_THRIFT_BINARY,
  TG_JAEGER_GRPC,
  TG_JAEGER_THRIFT_HTTP,
  TG_JAEGER_TRANSPORT_COUNT_
} tg_jaeger_transport;

/* `reason` of tailgate_receiver_refused_spans_total (as the otlp receiver's). */
typedef enum tg_jaeger_refusal {
  TG_JAEGER_REFUSED_INVALID,
  TG_JAEGER_REFUSED_MALFORMED,
  TG_JAEGER_REFUSED_BACKPRESSURE,
  TG_JAEGER_REFUSED_TOO_LARGE,
  TG_JAEGER_REFUSED_ERROR,
  TG_JAEGER_REFUSAL_COUNT_
} tg_jaeger_refusal;

/* `reason` of tailgate_receiver_dropped_datagrams_total (UDP only). */
typedef enum tg_jaeger_drop {
  TG_JAEGER_DROP_UNDECODABLE, /* malformed Thrift, or not emitBatch */
  TG_JAEGER_DROP_QUEUE_FULL,  /* the decoder queue was full */
  TG_JAEGER_DROP_TOO_LARGE,   /* over max_packet_size, or decoded form over its bound */
  TG_JAEGER_DROP_SHUTDOWN,    /* still queued when the receiver stopped */
  TG_JAEGER_DROP_COUNT_
} tg_jaeger_drop;

typedef struct tg_jaeger_counters {
  tg_receiver_metrics m; /* accepted, refused (by tg_jaeger_refusal), requests, latency */
  tg_metric_cell *dropped[TG_JAEGER_DROP_COUNT_]; /* UDP transports only */
} tg_jaeger_counters;

/* What came of one request (gRPC, HTTP) or datagram. */
typedef enum tg_jaeger_outcome {
  TG_JAEGER_OK,           /* accepted (spans with bad ids dropped and counted) */
  TG_JAEGER_MALFORMED,    /* HTTP 400 / gRPC INVALID_ARGUMENT */
  TG_JAEGER_TOO_LARGE,    /* HTTP 413 / gRPC RESOURCE_EXHAUSTED */
  TG_JAEGER_BACKPRESSURE, /* HTTP 429 / gRPC RESOURCE_EXHAUSTED (retry) */
  TG_JAEGER_UNAVAILABLE,  /* HTTP 503 / gRPC UNAVAILABLE (shutting down) */
  TG_JAEGER_INTERNAL,     /* HTTP 500 / gRPC INTERNAL */
} tg_jaeger_outcome;

typedef struct tg_jaeger_result {
  tg_jaeger_outcome outcome;
  size_t accepted_spans;
  char message[256]; /* printable ASCII */
} tg_jaeger_result;

typedef struct tg_jaeger_udp tg_jaeger_udp;

typedef struct tg_jaeger_receiver {
  tg_instance *instance;
  const tg_jaeger_conf *conf;
  tg_logger *log;
  char *log_component; /* "receiver:<id>" */
  tg_http_server *grpc_server, *http_server;
  tg_jaeger_udp *udp[2]; /* indexed by tg_thrift_protocol */
  int started, stopping;
  size_t closing;
  tg_stop_done_fn stop_done;
  tg_jaeger_counters counters[TG_JAEGER_TRANSPORT_COUNT_];
  tg_auth_server grpc_auth, http_auth; /* bound at start; outlive the servers */
  tg_idgen ids; /* fresh correlation IDs; loop thread only */
} tg_jaeger_receiver;

/* Registers the series (reg may be NULL: bumps become no-ops). TG_OK or TG_ENOMEM. */
int tg_jaeger_counters_init(tg_jaeger_receiver *recv, tg_metrics *reg, const char *id);

/* Arena bound for decoding `len` input bytes: proportional, so a peer cannot make one
 * request hold unbounded memory. */
size_t tg_jaeger_arena_limit(size_t len);

/* Decodes one request body (api_v2 PostSpansRequest for TG_JAEGER_GRPC, a Thrift Batch
 * for TG_JAEGER_THRIFT_HTTP, an Agent.emitBatch message for the UDP transports) into a
 * new OTLP batch. Returns TG_OK with *out (spans with bad ids dropped, their number in
 * *invalid), or TG_EDECODE (msg says why), TG_ETOOBIG, TG_ENOMEM. Thread-safe (the UDP
 * decoder threads call it). */
int tg_jaeger_decode(tg_jaeger_transport t, const uint8_t *body, size_t len,
                     tg_batch **out, size_t *invalid, char *msg, size_t msg_size);

/* Loop thread: pushes batch (ownership moves, except TG_EAGAIN, as tg_component.h) to
 * the receiver's pipelines and counts. Returns the consumer's answer. */
int tg_jaeger_push(tg_jaeger_receiver *recv, tg_jaeger_transport t, tg_batch *batch);

/* The request path of gRPC and HTTP: decode, count, push; fills out. */
void tg_jaeger_ingest(tg_jaeger_receiver *recv, tg_jaeger_transport t, const char *cid,
                      const uint8_t *body,
                      size_t len, tg_jaeger_result *out);

/* Route handlers (ctx = tg_jaeger_receiver *). */
void tg_jaeger_grpc_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);
void tg_jaeger_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);
void tg_jaeger_on_refused_grpc(void *recv, const char *reason);
void tg_jaeger_on_refused_http(void *recv, const char *reason);

/* ---- UDP agent endpoints (jaeger_udp.c) ----
 * The loop thread receives datagrams and queues copies (bounded by queue_size); decoder
 * threads decode them into batches and hand those back to the loop thread, which pushes
 * them (and retries every 20 ms while the pipeline answers TG_EAGAIN). A full queue
 * drops the datagram and counts it: UDP has no way to push back. */
tg_jaeger_udp *tg_jaeger_udp_new(tg_jaeger_receiver *recv, tg_thrift_protocol proto);
int tg_jaeger_udp_start(tg_jaeger_udp *u, tg_errbuf *err);
int tg_jaeger_udp_port(const tg_jaeger_udp *u);
/* Stops receiving, joins the decoders, pushes what was decoded when flush is set (stop;
 * not on destroy, when downstream may be gone), counts the rest as dropped, closes the
 * handles and calls done(ctx) from the last close callback; then the object frees
 * itself. Also for a never-started one. */
void tg_jaeger_udp_close(tg_jaeger_udp *u, int flush, void (*done)(void *ctx), void *ctx);

#endif
