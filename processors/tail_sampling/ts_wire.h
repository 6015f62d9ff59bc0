/* Protobuf wire-format primitives for the tail sampler, which keeps spans in their
 * encoded form (compact, and already what the exporters write) and reads only the few
 * fields a decision needs. Bounds-checked readers over untrusted-length buffers: the
 * bytes come from the OTLP receiver's index scan or from protobuf-c's packer, but a
 * reader never trusts a length it has not checked against the end. The reading
 * primitives are core/tg_pbwire.h's (shared with spanmetrics); this adds the field view
 * the sampler works with and the few writers it needs. */
#ifndef TG_TS_WIRE_H
#define TG_TS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_pbwire.h"

enum {
  TS_WT_VARINT = TG_PB_VARINT,
  TS_WT_I64 = TG_PB_I64,
  TS_WT_LEN = TG_PB_LEN,
  TS_WT_I32 = TG_PB_I32
};

/* One field: its number, wire type and value (varint/fixed value, or bytes for LEN). */
typedef struct ts_field {
  uint32_t number;
  int wire_type;
  uint64_t value;
  const uint8_t *data; /* LEN fields */
  size_t len;
  const uint8_t *start; /* the whole field, tag included */
  size_t total;
} ts_field;

typedef tg_pbwire_reader ts_reader;

static inline ts_reader ts_reader_of(const uint8_t *data, size_t len) {
  return (ts_reader){data, data + len};
}

/* Reads the next field (core/tg_pbwire.h's strict tag: field numbers 1..2^32-1, a full
 * varint). Returns 1 on a field, 0 at the end, -1 on malformed input (groups included).
 * Inline: span inspection calls it for every field of every span. */
static inline int ts_next_field(ts_reader *r, ts_field *f) {
  if (r->p >= r->end)
    return 0;
  f->start = r->p;
  if (tg_pbwire_tag(r, &f->number, &f->wire_type))
    return -1;
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  if (tg_pbwire_value(r, f->wire_type, &f->value, &f->data, &f->len))
    return -1;
  f->total = (size_t)(r->p - f->start);
  return 1;
}

/* Bytes needed for v as a varint, and writes it at out (returns bytes written). */
size_t ts_varint_size(uint64_t v);
size_t ts_put_varint(uint8_t *out, uint64_t v);

/* Size of a LEN field with a one-byte tag (field numbers 1..15) and its header. */
static inline size_t ts_len_field_size(size_t len) { return 1 + ts_varint_size(len) + len; }
/* Writes tag + length of a LEN field numbered 1..15; returns bytes written. */
size_t ts_put_len_header(uint8_t *out, uint32_t number, size_t len);

#endif
