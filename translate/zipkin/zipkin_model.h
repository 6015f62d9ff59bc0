/* The Zipkin translation (translate/zipkin): the zipkin2 model — protobuf-c structs
 * generated from our proto/zipkin.proto — is the one in-memory form of Zipkin data.
 * The receiver decodes v2 JSON, v1 JSON and v2 protobuf into it; one converter turns it
 * into the span model (OTLP), the other turns the span model back into it for the
 * exporter, which writes it as v2 JSON or protobuf. So Zipkin's mapping rules live in
 * two files, one per direction, shared by receivers/zipkin and exporters/zipkin, neither
 * of which includes the other's files (docs/ARCHITECTURE.md, "Translations").
 *
 * Memory: everything here allocates from a caller's arena, never malloc. */
#ifndef TG_ZIPKIN_MODEL_H
#define TG_ZIPKIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tg_arena.h"
#include "tg_batch.h"
#include "tg_buf.h"
#include "zipkin.pb-c.h"

typedef Zipkin__Proto3__Span tg_zipkin_span;
typedef Zipkin__Proto3__Endpoint tg_zipkin_endpoint;
typedef Zipkin__Proto3__Annotation tg_zipkin_annotation;
typedef Zipkin__Proto3__Span__TagsEntry tg_zipkin_tag;
typedef Zipkin__Proto3__ListOfSpans tg_zipkin_list;

/* Span kinds, as the proto numbers them. */
#define TG_ZIPKIN_KIND_UNSPECIFIED ZIPKIN__PROTO3__SPAN__KIND__SPAN_KIND_UNSPECIFIED
#define TG_ZIPKIN_KIND_CLIENT ZIPKIN__PROTO3__SPAN__KIND__CLIENT
#define TG_ZIPKIN_KIND_SERVER ZIPKIN__PROTO3__SPAN__KIND__SERVER
#define TG_ZIPKIN_KIND_PRODUCER ZIPKIN__PROTO3__SPAN__KIND__PRODUCER
#define TG_ZIPKIN_KIND_CONSUMER ZIPKIN__PROTO3__SPAN__KIND__CONSUMER

/* Span attribute that carries Zipkin's `shared` flag through OTLP (OTLP has no field for
 * it), so that Zipkin → OTLP → Zipkin keeps it. Ours; consumed by the exporter. */
#define TG_ZIPKIN_SHARED_ATTR "zipkin.shared"

/* Service name the exporter writes when a resource has none (the Collector's default). */
#define TG_ZIPKIN_DEFAULT_SERVICE_NAME "<missing service name>"

/* ---- Zipkin → OTLP (translate/zipkin/zipkin_to_otlp.c) ---- */

/* Appends spans[0..n) to batch as OTLP, by the rules in the file's comment: one
 * ResourceSpans per local service name, ScopeSpans by otel.scope.name/version. Spans
 * whose trace id is not 8 or 16 bytes, whose id is not 8 bytes, or either all zero, are
 * skipped and counted in *invalid. Strings of the model are shared, not copied, so they
 * must live at least as long as the batch (normally: in the same arena). Allocates from
 * batch->arena; the caller must be the batch's sole holder. Updates batch->span_count.
 * Returns TG_OK, TG_ENOMEM or TG_ETOOBIG (arena limit). */
int tg_zipkin_to_otlp(tg_batch *batch, tg_zipkin_span *const *spans, size_t n,
                      size_t *invalid);

/* ---- OTLP → Zipkin (translate/zipkin/zipkin_from_otlp.c) ---- */

/* Converts every span of req into *out (a ListOfSpans whose spans array holds them),
 * allocating only from arena; OTLP strings and ids are shared, so req must outlive *out.
 * default_service_name names the local endpoint of resources without service.name
 * (NULL = TG_ZIPKIN_DEFAULT_SERVICE_NAME). Returns TG_OK, TG_ENOMEM or TG_ETOOBIG. */
int tg_zipkin_from_otlp(tg_arena *arena, const tg_export_request *req,
                        const char *default_service_name, tg_zipkin_list **out);

/* ---- v2 JSON writing (translate/zipkin/zipkin_json_encode.c) ----
 * Kept next to the model rather than in the exporter: the exporter, the unit tests,
 * the fuzz round trips and the benchmark's load generator all write Zipkin JSON. */

/* Appends list as a Zipkin v2 JSON array (the body of POST /api/v2/spans): ids in
 * lower-case hex (16 or 32 digits), times in microseconds, fields that are empty or
 * zero omitted, strings as valid UTF-8 (invalid bytes become U+FFFD). Returns TG_OK,
 * TG_ENOMEM or TG_ETOOBIG (out's limit). */
int tg_zipkin_json_encode(tg_buf *out, const tg_zipkin_list *list);

/* Appends s[0..len) as a JSON string literal (quotes, escapes, UTF-8 repaired). */
int tg_zipkin_json_append_string(tg_buf *out, const char *s, size_t len);

/* Formats a 4- or 16-byte address (ipv4 / ipv6 field) as text into buf (at least 46
 * bytes). Returns buf, or NULL for any other length. */
const char *tg_zipkin_ip_text(const ProtobufCBinaryData *ip, char *buf, size_t size);

#endif
