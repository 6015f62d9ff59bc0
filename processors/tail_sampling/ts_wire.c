/* Protobuf wire primitives: tag/varint/fixed decoding with bounds checks on every step,
 * and the two encoders the sampler's emitter needs. */
#include "ts_wire.h"

static int read_varint(ts_reader *r, uint64_t *out) {
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

int ts_next_field(ts_reader *r, ts_field *f) {
  if (r->p >= r->end)
    return 0;
  f->start = r->p;
  uint64_t tag;
  if (read_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
    return -1;
  f->number = (uint32_t)(tag >> 3);
  f->wire_type = (int)(tag & 7);
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  switch (f->wire_type) {
  case TS_WT_VARINT:
    if (read_varint(r, &f->value))
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
    if (read_varint(r, &len) || len > (uint64_t)(r->end - r->p))
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

size_t ts_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

size_t ts_put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

size_t ts_put_len_header(uint8_t *out, uint32_t number, size_t len) {
  out[0] = (uint8_t)(number << 3 | TS_WT_LEN);
  return 1 + ts_put_varint(out + 1, len);
}
