/* The Jaeger translation (translate/jaeger): the api_v2 model (protobuf-c structs
 * generated from proto/model.proto) is the one in-memory form of Jaeger data. Every
 * Jaeger input (api_v2 gRPC, Thrift compact/binary over UDP, Thrift binary over HTTP) is
 * decoded into it by the receiver, and one converter turns it into the span model (OTLP)
 * by Jaeger's rules; the exporters go the other way with the second converter. So the
 * Jaeger mapping rules live in exactly two places, one per direction, both here at the
 * core's level, and the receiver's and exporter's Thrift codecs only reproduce the wire.
 * Both receivers/jaeger and exporters/jaeger include this header; neither includes the
 * other's files (docs/ARCHITECTURE.md, "Translations").
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

/* ---- Thrift: the two protocols both codecs speak ---- */

typedef enum tg_thrift_protocol { TG_THRIFT_COMPACT, TG_THRIFT_BINARY } tg_thrift_protocol;

/* Largest datagram the agent protocols carry (Jaeger's UDP max packet size). */
#define TG_JAEGER_MAX_DATAGRAM 65000

/* ---- Jaeger → OTLP (translate/jaeger/jaeger_to_otlp.c) ---- */

/* Appends jb to batch as OTLP, by Jaeger's rules (see the file's comment): one
 * ResourceSpans per distinct process (the batch's, or a span's own), spans grouped in
 * ScopeSpans by otel.scope.name/version. Spans whose ids are not 16/8 bytes or are all
 * zero are skipped and counted in *invalid. Allocates from batch->arena; the caller must
 * be the batch's sole holder. Updates batch->span_count. Returns TG_OK, TG_ENOMEM or
 * TG_ETOOBIG (arena limit). */
int tg_jaeger_to_otlp(tg_batch *batch, const tg_jaeger_batch *jb, size_t *invalid);

/* ---- OTLP → Jaeger (translate/jaeger/jaeger_from_otlp.c) ---- */

/* Converts one ResourceSpans into one Jaeger Batch (one process: Jaeger's unit),
 * allocating only from arena; strings and ids of rs are shared, not copied, so rs must
 * outlive *out. Returns TG_OK, TG_ENOMEM or TG_ETOOBIG (arena limit). */
int tg_jaeger_from_otlp(tg_arena *arena, const tg_resource_spans *rs, tg_jaeger_batch **out);

#endif
