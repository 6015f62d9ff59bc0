/* The Jaeger side of tailgate: the api_v2 model (protobuf-c structs generated from
 * proto/model.proto) is the one in-memory form of Jaeger data. Every Jaeger input
 * (api_v2 gRPC, Thrift compact/binary over UDP, Thrift binary over HTTP) is decoded into
 * it, and one converter turns it into the span model (OTLP) by Jaeger's rules; the
 * exporters go the other way (exporters/jaeger/jaeger_from_otlp.h). So the Jaeger
 * mapping rules live in exactly two places, one per direction, and the Thrift decoders
 * only have to reproduce the wire, not the semantics.
 *
 * Memory: everything here allocates from a caller's arena (a batch's), never malloc. */
#ifndef TG_JAEGER_MODEL_H
#define TG_JAEGER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "collector.pb-c.h"
#include "model.pb-c.h"
#include "tg_arena.h"
#include "tg_batch.h"

typedef Jaeger__ApiV2__Batch tg_jaeger_batch;
typedef Jaeger__ApiV2__Span tg_jaeger_span;
typedef Jaeger__ApiV2__Process tg_jaeger_process;
typedef Jaeger__ApiV2__KeyValue tg_jaeger_kv;
typedef Jaeger__ApiV2__Log tg_jaeger_log;
typedef Jaeger__ApiV2__SpanRef tg_jaeger_ref;
typedef Jaeger__ApiV2__PostSpansRequest tg_jaeger_post_spans;

/* Service name Jaeger's OTLP translator writes when a resource has none; reading it
 * back means "no service.name" (so the round trip is the identity). */
#define TG_JAEGER_NO_SERVICE_NAME "OTLPResourceNoServiceName"

/* Jaeger span flags. */
#define TG_JAEGER_FLAG_SAMPLED 0x1u
#define TG_JAEGER_FLAG_DEBUG 0x2u

/* ---- Thrift (receivers/jaeger/jaeger_thrift.c) ---- */

typedef enum tg_thrift_protocol { TG_THRIFT_COMPACT, TG_THRIFT_BINARY } tg_thrift_protocol;

/* Largest datagram the agent protocols carry (Jaeger's UDP max packet size). */
#define TG_JAEGER_MAX_DATAGRAM 65000

/* Decodes a bare jaeger.thrift Batch struct (the body of POST /api/traces) into *out,
 * allocating only from arena. Thrift semantics: unknown fields and fields of an
 * unexpected type are skipped; missing required fields, truncation, bad sizes, nesting
 * deeper than 16 and trailing bytes are errors. Returns TG_OK, TG_EDECODE (err says
 * why, printable) or TG_ENOMEM / TG_ETOOBIG (arena). */
int tg_jaeger_thrift_decode_batch(tg_arena *arena, tg_thrift_protocol proto,
                                  const uint8_t *data, size_t len, tg_jaeger_batch **out,
                                  char *err, size_t err_size);

/* Decodes an Agent.emitBatch message (a UDP datagram: message header, then the
 * arguments struct whose field 1 is the Batch). emitZipkinBatch and other methods are
 * TG_EDECODE. Otherwise as tg_jaeger_thrift_decode_batch. */
int tg_jaeger_thrift_decode_emit_batch(tg_arena *arena, tg_thrift_protocol proto,
                                       const uint8_t *data, size_t len,
                                       tg_jaeger_batch **out, char *err, size_t err_size);

/* ---- Jaeger → OTLP (receivers/jaeger/jaeger_to_otlp.c) ---- */

/* Appends jb to batch as OTLP, by Jaeger's rules (see the file's comment): one
 * ResourceSpans per distinct process (the batch's, or a span's own), spans grouped in
 * ScopeSpans by otel.scope.name/version. Spans whose ids are not 16/8 bytes or are all
 * zero are skipped and counted in *invalid. Allocates from batch->arena; the caller must
 * be the batch's sole holder. Updates batch->span_count. Returns TG_OK, TG_ENOMEM or
 * TG_ETOOBIG (arena limit). */
int tg_jaeger_to_otlp(tg_batch *batch, const tg_jaeger_batch *jb, size_t *invalid);

#endif
