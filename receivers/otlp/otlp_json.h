/* OTLP/JSON for traces: decoding an ExportTraceServiceRequest into a batch arena, and
 * encoding the small messages a receiver answers with (ExportTraceServiceResponse and
 * google.rpc.Status). */
#ifndef TG_OTLP_JSON_H
#define TG_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tg_batch.h"
#include "tg_buf.h"

/* Deepest accepted nesting of arrayValue/kvlistValue inside one attribute value. */
#define TG_OTLP_JSON_MAX_ANY_DEPTH 32

/* Decodes an OTLP/JSON ExportTraceServiceRequest (data, len: need not be NUL-terminated)
 * into batch, which must be empty. Every message, string and array is allocated from
 * batch->arena (jansson's DOM is the only heap memory used, freed before returning).
 * Follows the OTLP JSON encoding: hex trace/span ids, lowerCamelCase or proto field
 * names, enums as integers or names, 64-bit integers as strings or numbers, base64 bytes,
 * unknown fields ignored, AnyValue nesting bounded by TG_OTLP_JSON_MAX_ANY_DEPTH.
 * Returns TG_OK (span_count set), TG_EDECODE with a printable-ASCII description in err
 * (may be NULL), TG_ETOOBIG when the arena limit was hit, or TG_ENOMEM. On error the
 * batch holds no spans (its arena may hold garbage). */
int tg_otlp_json_decode(tg_batch *batch, const uint8_t *data, size_t len, char *err,
                        size_t err_size);

/* Appends the JSON form of an ExportTraceServiceResponse: `{}` when rejected_spans is 0
 * and error_message empty, else {"partialSuccess":{"rejectedSpans":"N","errorMessage":..}}.
 * Returns TG_OK, TG_ENOMEM or TG_ETOOBIG (from out's limit). */
int tg_otlp_json_encode_response(tg_buf *out, int64_t rejected_spans,
                                 const char *error_message);

/* Appends the JSON form of a google.rpc.Status {"code":N,"message":"..."}.
 * Returns like tg_otlp_json_encode_response. */
int tg_otlp_json_encode_status(tg_buf *out, int code, const char *message);

#endif
