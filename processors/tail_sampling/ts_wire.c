/* Protobuf wire primitives: the encoders the sampler's emitter needs (the decoder is
 * inline in ts_wire.h). */
#include "ts_wire.h"

#include "tg_pbwire.h"

size_t ts_varint_size(uint64_t v) { return tg_pbwire_varint_size(v); }

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
