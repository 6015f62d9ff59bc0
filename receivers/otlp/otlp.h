/* The otlp receiver's internal interface: the instance state shared by its files, and
 * the transport-independent ingest step (decode → validate → push → count) that the gRPC
 * and HTTP handlers both call. Not part of the public component interface; tests include
 * it to drive the handlers without sockets. */
#ifndef TG_OTLP_H
#define TG_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "tg_auth.h"
#include "tg_batch.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_http_server.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_metrics_receiver.h"
#include "tg_tracectx_request.h"

#include "otlp_conf.h"

extern const tg_component tg_receiver_otlp;

#define TG_OTLP_GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

typedef enum tg_otlp_transport {
  TG_OTLP_GRPC,
  TG_OTLP_HTTP,
  TG_OTLP_TRANSPORT_COUNT_
} tg_otlp_transport;

typedef enum tg_otlp_format {
  TG_OTLP_PROTOBUF,
  TG_OTLP_JSON,
} tg_otlp_format;

/* Why spans were refused: the `reason` label of tailgate_receiver_refused_spans_total. */
typedef enum tg_otlp_refusal {
  TG_OTLP_REFUSED_INVALID,      /* span failed validation (partial success) */
  TG_OTLP_REFUSED_MALFORMED,    /* body could not be decoded */
  TG_OTLP_REFUSED_BACKPRESSURE, /* downstream answered TG_EAGAIN / shutting down */
  TG_OTLP_REFUSED_TOO_LARGE,    /* decoded form exceeded the arena bound */
  TG_OTLP_REFUSED_ERROR,        /* any other downstream error */
  TG_OTLP_REFUSAL_COUNT_
} tg_otlp_refusal;

/* What came of one export request, independent of the transport. */
typedef enum tg_otlp_outcome {
  TG_OTLP_OK,           /* accepted, possibly with rejected_spans > 0 (partial success) */
  TG_OTLP_MALFORMED,    /* HTTP 400 / gRPC 3 INVALID_ARGUMENT */
  TG_OTLP_TOO_LARGE,    /* HTTP 413 / gRPC 8 RESOURCE_EXHAUSTED */
  TG_OTLP_BACKPRESSURE, /* HTTP 429 / gRPC 8 RESOURCE_EXHAUSTED (retryable) */
  TG_OTLP_UNAVAILABLE,  /* HTTP 503 / gRPC 14 UNAVAILABLE (shutting down, retryable) */
  TG_OTLP_INTERNAL,     /* HTTP 500 / gRPC 13 INTERNAL */
} tg_otlp_outcome;

typedef struct tg_otlp_result {
  tg_otlp_outcome outcome;
  int64_t rejected_spans; /* OK: spans removed by validation */
  size_t accepted_spans;  /* OK: spans pushed downstream */
  char message[256];      /* printable ASCII; partial-success or error text; "" = none */
} tg_otlp_result;

/* Per-transport metric cells, created at start, bumped on the hot path. */
typedef tg_receiver_metrics tg_otlp_counters;

/* The instance state (tg_instance.state). */
typedef struct tg_otlp_receiver {
  tg_instance *instance;    /* back pointer: next consumer, service, id */
  const tg_otlp_conf *conf; /* owned by the builder */
  tg_logger *log;           /* service logger; may be NULL */
  char *log_component;      /* "receiver:<id>", owned */
  char *traces_path;        /* normalised traces_url_path (leading '/'), owned */
  tg_http_server *servers[TG_OTLP_TRANSPORT_COUNT_];
  int started;
  int stopping;             /* stop() was called: answer UNAVAILABLE, push nothing */
  size_t closing;           /* server close callbacks still pending */
  tg_stop_done_fn stop_done;
  tg_otlp_counters counters[TG_OTLP_TRANSPORT_COUNT_];
  tg_auth_server auth[TG_OTLP_TRANSPORT_COUNT_]; /* bound at start; outlives the servers */
  tg_idgen ids;             /* fresh correlation IDs; loop thread only */
} tg_otlp_receiver;

/* Creates (or finds) the receiver's metric series for id in reg and stores the cells in
 * recv->counters. reg may be NULL (no metrics; bumps become no-ops). TG_OK or TG_ENOMEM. */
int tg_otlp_counters_init(tg_otlp_receiver *recv, tg_metrics *reg, const char *id);

/* tg_http_server_options.on_refused for each transport: counts a request the server
 * refused before the handler ran ("too_large", "malformed") under the same series. */
void tg_otlp_on_refused_grpc(void *recv, const char *reason);
void tg_otlp_on_refused_http(void *recv, const char *reason);

/* Removes every span whose trace_id is not 16 bytes or whose span_id is not 8 bytes, or
 * either is all zero, compacting the arrays in place (scope and resource groups emptied
 * by the removal are dropped too) and recounting batch->span_count. Returns the number of
 * spans removed; when > 0 and msg is non-NULL, writes a description of the first one. */
size_t tg_otlp_validate_spans(tg_batch *batch, char *msg, size_t msg_size);

/* The service's self-tracer (NULL when off) and the end of a request's spans. */
tg_selftrace *tg_otlp_tracer(const tg_otlp_receiver *recv);
void tg_otlp_trace_end(tg_request_trace *rt, const tg_otlp_result *result);

/* Handles the body of one export request (req->body): decodes it (format) into a new
 * batch bounded by an arena limit proportional to its length, validates the spans,
 * pushes what is left to recv->instance->next (ownership transfers) and bumps the
 * transport's counters. A protobuf body forwarded undecoded is taken from the server
 * (tg_http_request_take_body) and handed to the batch instead of copied, when req allows
 * it; req->body must then not be read after this returns. Never fails to fill out;
 * out->message is printable ASCII. */
void tg_otlp_ingest(tg_otlp_receiver *recv, tg_otlp_transport transport, const char *cid,
                    tg_otlp_format format, const tg_http_request *req, tg_otlp_result *out);

/* Route handlers (ctx = tg_otlp_receiver *). Synchronous, as tg_http_server.h requires.
 * The gRPC handler answers Export with an ExportTraceServiceResponse or an error status;
 * the HTTP handler implements OTLP/HTTP (POST, protobuf or JSON, 405/415/400/429/503). */
void tg_otlp_grpc_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);
void tg_otlp_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);

/* Message nesting accepted in OTLP protobuf: the fixed levels of a trace request plus
 * 32 levels of nested AnyValue (as TG_OTLP_JSON_MAX_ANY_DEPTH for JSON), 3 each. */
#define TG_OTLP_PROTO_MAX_DEPTH 104

/* Checks that data is structurally sound protobuf for an ExportTraceServiceRequest
 * before protobuf-c unpacks it (whose recursion is unbounded): no field number 0, no
 * group or reserved wire types, nothing truncated, message nesting at most max_depth.
 * Allocates nothing. Returns TG_OK or TG_EDECODE with "malformed protobuf: ..." in err. */
int tg_otlp_proto_scan(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                       size_t err_size);

/* Where the resource_spans entries of a request are, for passing them on undecoded. */
#define TG_OTLP_WIRE_MAX_SEGMENTS 64
typedef struct tg_otlp_wire_index {
  size_t offsets[TG_OTLP_WIRE_MAX_SEGMENTS]; /* of each entry's body in the request */
  size_t lengths[TG_OTLP_WIRE_MAX_SEGMENTS];
  size_t span_counts[TG_OTLP_WIRE_MAX_SEGMENTS];
  size_t n;
  size_t invalid_spans; /* spans whose trace_id/span_id would fail validation */
  int overflow;         /* more entries than fit: index unusable */
  int merges;           /* a singular message field occurs twice: decode to merge it */
} tg_otlp_wire_index;

/* tg_otlp_proto_scan plus what it takes to forward the request without decoding it:
 * every known field must have the wire type protobuf-c expects (so a later decode is
 * certain to succeed), and idx receives the resource_spans entries with their span
 * counts and the number of spans with invalid ids. TG_OK or TG_EDECODE (err set). */
int tg_otlp_proto_index(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                        size_t err_size, tg_otlp_wire_index *idx);

/* Appends the protobuf encodings of an ExportTraceServiceResponse (empty when
 * rejected_spans is 0 and error_message empty) and of a google.rpc.Status.
 * Return TG_OK, TG_ENOMEM or TG_ETOOBIG (from out's limit). */
int tg_otlp_proto_encode_response(tg_buf *out, int64_t rejected_spans,
                                  const char *error_message);
int tg_otlp_proto_encode_status(tg_buf *out, int code, const char *message);

#endif
