/* The jaeger receiver's Thrift decoder (jaeger_thrift.c): jaeger.thrift Batches and
 * Agent.emitBatch messages, compact or binary, into the api_v2 model of
 * translate/jaeger/jaeger_model.h. The encoder that mirrors it belongs to the exporter
 * (exporters/jaeger/jaeger_thrift_encode.h). */
#ifndef TG_JAEGER_THRIFT_H
#define TG_JAEGER_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "translate/jaeger/jaeger_model.h"

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

#endif
