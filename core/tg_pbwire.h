/* Protobuf wire-format reading primitives, shared by the processors that read spans in
 * their encoded form (tail_sampling's ts_wire.h, spanmetrics_wire.c) without decoding.
 *
 * Bounds-checked over untrusted-length buffers: a reader never trusts a length it has
 * not checked against the end. Everything is static inline: these run for every field
 * of every span. Two tag readers, because the callers promise different things:
 * tg_pbwire_tag is strict (a full varint, field numbers 1..2^32-1), tg_pbwire_tag_pbc
 * reproduces protobuf-c 1.4's reading exactly (spanmetrics accepts precisely what the
 * decoder would; its fuzz target checks that differentially). */
#ifndef TG_PBWIRE_H
#define TG_PBWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { TG_PB_VARINT = 0, TG_PB_I64 = 1, TG_PB_LEN = 2, TG_PB_I32 = 5 };

typedef struct tg_pbwire_reader {
  const uint8_t *p, *end;
} tg_pbwire_reader;

/* Fixed-width fields are little-endian on the wire: one load (and a swap on big-endian
 * hosts) instead of a byte loop. p must have 8 (4) readable bytes. */
static inline uint64_t tg_pbwire_load_le64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static inline uint32_t tg_pbwire_load_le32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

/* Bytes the base-128 varint encoding of v takes (1 to 10): for sizing a message before
 * writing it. */
static inline size_t tg_pbwire_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* A varint of at most 10 bytes (bits past 64 dropped) into *out. 0, or -1 when the bytes
 * end first or the 10th byte still continues. */
static inline int tg_pbwire_varint(tg_pbwire_reader *r, uint64_t *out) {
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

/* A tag, strictly: one varint whose field number is 1..UINT32_MAX. r must not be at the
 * end. 0 with *number and *wire_type set, or -1. */
static inline int tg_pbwire_tag(tg_pbwire_reader *r, uint32_t *number, int *wire_type) {
  uint64_t tag;
  if (tg_pbwire_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
    return -1;
  *number = (uint32_t)(tag >> 3);
  *wire_type = (int)(tag & 7);
  return 0;
}

/* A tag as protobuf-c 1.4 reads it: at most 5 bytes, the field number wrapping in 32
 * bits, a first byte without field bits rejected (a longer tag may still say field 0).
 * r must not be at the end. 0 with *number and *wire_type set, or -1. */
static inline int tg_pbwire_tag_pbc(tg_pbwire_reader *r, uint32_t *number, int *wire_type) {
  const uint8_t *p = r->p;
  size_t max = r->end - p > 5 ? 5 : (size_t)(r->end - p);
  if ((p[0] & 0xf8) == 0)
    return -1;
  *wire_type = p[0] & 7;
  uint32_t tag = (p[0] & 0x7f) >> 3;
  size_t used = 0;
  if (!(p[0] & 0x80)) {
    used = 1;
  } else {
    unsigned shift = 4;
    for (size_t i = 1; i < max && !used; i++) {
      tag |= (uint32_t)(p[i] & 0x7f) << shift;
      shift += 7;
      if (!(p[i] & 0x80))
        used = i + 1;
    }
    if (!used)
      return -1;
  }
  r->p += used;
  *number = tag;
  return 0;
}

/* The value after a tag of wire_type: VARINT, I64 and I32 (little-endian) into *value;
 * LEN as *data / *len pointing into the buffer (checked against its end). What the wire
 * type does not use is left untouched. 0, or -1 on truncation and on groups (3, 4: not
 * used by OTLP) or unknown wire types. */
static inline int tg_pbwire_value(tg_pbwire_reader *r, int wire_type, uint64_t *value,
                                  const uint8_t **data, size_t *len) {
  switch (wire_type) {
  case TG_PB_VARINT:
    return tg_pbwire_varint(r, value);
  case TG_PB_I64: {
    if (r->end - r->p < 8)
      return -1;
    *value = tg_pbwire_load_le64(r->p);
    r->p += 8;
    return 0;
  }
  case TG_PB_I32: {
    if (r->end - r->p < 4)
      return -1;
    *value = tg_pbwire_load_le32(r->p);
    r->p += 4;
    return 0;
  }
  case TG_PB_LEN: {
    uint64_t n;
    if (tg_pbwire_varint(r, &n) || n > (uint64_t)(r->end - r->p))
      return -1;
    *data = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
  }
  default:
    return -1;
  }
}

#endif
