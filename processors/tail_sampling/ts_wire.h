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

/* Reads the next field. Returns 1 on a field, 0 at the end, -1 on malformed input. */
int ts_next_field(ts_reader *r, ts_field *f);

/* Bytes needed for v as a varint, and writes it at out (returns bytes written). */
size_t ts_varint_size(uint64_t v);
size_t ts_put_varint(uint8_t *out, uint64_t v);

/* Size of a LEN field with a one-byte tag (field numbers 1..15) and its header. */
static inline size_t ts_len_field_size(size_t len) { return 1 + ts_varint_size(len) + len; }
/* Writes tag + length of a LEN field numbered 1..15; returns bytes written. */
size_t ts_put_len_header(uint8_t *out, uint32_t number, size_t len);

#endif
