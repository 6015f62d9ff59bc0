/* Protobuf wire-format primitives for the tail sampler, which keeps spans in their
 * encoded form (compact, and already what the exporters write) and reads only the few
 * fields a decision needs. Bounds-checked readers over untrusted-length buffers: the
 * bytes come from the OTLP receiver's index scan or from protobuf-c's packer, but a
 * reader never trusts a length it has not checked against the end. */
#ifndef TG_TS_WIRE_H
#define TG_TS_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum { TS_WT_VARINT = 0, TS_WT_I64 = 1, TS_WT_LEN = 2, TS_WT_I32 = 5 };

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

typedef struct ts_reader {
  const uint8_t *p, *end;
} ts_reader;

static inline ts_reader ts_reader_of(const uint8_t *data, size_t len) {
  return (ts_reader){data, data + len};
}

static inline int ts_read_varint_(ts_reader *r, uint64_t *out) {
  if (r->p < r->end && !(*r->p & 0x80)) { /* the common one-byte case */
    *out = *r->p++;
    return 0;
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end)
      return -1;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* Reads the next field. Returns 1 on a field, 0 at the end, -1 on malformed input.
 * Inline: span inspection calls it for every field of every span. */
static inline int ts_next_field(ts_reader *r, ts_field *f) {
  if (r->p >= r->end)
    return 0;
  f->start = r->p;
  uint64_t tag;
  if (ts_read_varint_(r, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
    return -1;
  f->number = (uint32_t)(tag >> 3);
  f->wire_type = (int)(tag & 7);
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  switch (f->wire_type) {
  case TS_WT_VARINT:
    if (ts_read_varint_(r, &f->value))
      return -1;
    break;
  case TS_WT_I64:
    if (r->end - r->p < 8)
      return -1;
    for (int i = 7; i >= 0; i--)
      f->value = (f->value << 8) | r->p[i];
    r->p += 8;
    break;
  case TS_WT_I32:
    if (r->end - r->p < 4)
      return -1;
    for (int i = 3; i >= 0; i--)
      f->value = (f->value << 8) | r->p[i];
    r->p += 4;
    break;
  case TS_WT_LEN: {
    uint64_t len;
    if (ts_read_varint_(r, &len) || len > (uint64_t)(r->end - r->p))
      return -1;
    f->data = r->p;
    f->len = (size_t)len;
    r->p += len;
    break;
  }
  default: /* groups (3, 4) are not used by OTLP */
    return -1;
  }
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
