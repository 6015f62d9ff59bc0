/* Reading spans straight from wire segments (tg_batch.h): what spanmetrics needs of each
 * span without decoding the batch, so an OTLP batch that arrived as protobuf stays in
 * wire form end to end (decode + re-encode would cost more than the metrics). */
#ifndef TG_SPANMETRICS_WIRE_H
#define TG_SPANMETRICS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A string or bytes field: not NUL-terminated. */
typedef struct tg_sm_bytes {
  const uint8_t *p;
  size_t len;
} tg_sm_bytes;

typedef struct tg_sm_wire_span {
  tg_sm_bytes name, trace_id, span_id;
  uint32_t kind, status_code;
  uint64_t start_unix_nano, end_unix_nano;
  tg_sm_bytes msg;      /* the whole Span message, for attribute look-ups */
  tg_sm_bytes resource; /* the Resource message of its ResourceSpans (may be empty) */
} tg_sm_wire_span;

/* Calls fn for every span of one ResourceSpans message (a wire segment's bytes). Returns
 * 0, fn's non-zero code, or -1 when the bytes are not a well-formed message (the
 * receiver's scan makes that a bug, but a reader must not trust it). */
int tg_sm_wire_each_span(const uint8_t *seg, size_t len,
                         int (*fn)(void *ctx, const tg_sm_wire_span *span), void *ctx);

/* Finds attribute `key` in the KeyValue entries (field `field`) of message msg and
 * renders its value: strings as they are (*out points into msg), bool/int/double into
 * buf (size >= 32). Arrays, maps, bytes and absence return 0; found returns 1. */
int tg_sm_wire_attr(tg_sm_bytes msg, uint32_t field, const char *key, size_t key_len,
                    tg_sm_bytes *out, char *buf, size_t size);

#endif
