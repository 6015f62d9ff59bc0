/* A wire-level pre-scan of OTLP protobuf before protobuf-c unpacks it.
 *
 * protobuf_c_message_unpack recurses once per nested message with no depth limit, so a
 * ~35 KB request of nested AnyValue arrays overflows the stack and kills the process;
 * and it accepts a non-canonical varint tag that encodes field number 0 (0x85 0x00),
 * keeps it as an unknown field and re-packs it as 0x05, which it then rejects itself, so
 * a batch carrying it could not be cloned or forwarded. This scan walks the bytes once,
 * iteratively (an explicit stack, bounded), guided by what the protobuf-c descriptors say
 * about each field so it descends only into fields that are messages, and rejects: field
 * number 0, group and reserved wire types, truncated fields, over-long varints (tags and
 * length prefixes past protobuf-c's 5 bytes), and nesting deeper than max_depth. It
 * allocates nothing and is linear in the input.
 *
 * It runs on every request the gateway receives, over every field of every span, so it
 * is shaped for that: the descriptors are flattened into per-message tables indexed by
 * field number (otlp_proto_scan_table.h, checked against the descriptors by the unit
 * tests), tags and lengths below 128 — nearly all of them in OTLP — take a one-byte path,
 * string and bytes fields are stepped over whole, the current frame lives in locals, and
 * attributes, most of a span's fields and bytes, are checked a run at a time in a few
 * word compares when they have the usual shape (attribute_fast).
 * Its verdicts, error texts and index are those of the descriptor-driven walk it
 * replaced, which tests/unit/receivers/otlp_proto_scan_ref.c keeps as the reference of a
 * differential test and of the otlp_proto fuzz target. */
#include "otlp.h"

#include <stdio.h>
#include <string.h>

#include "otlp_proto_scan_table.h"
#include "tg_error.h"
#include "tg_pbwire.h"

#define MAX_STACK 256

#define SCAN_LIKELY(x) __builtin_expect(!!(x), 1)
#define SCAN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Wire types 3 and 4 (groups), 6 and 7 (reserved): rejected in every field. */
#define UNSUPPORTED_WIRE_TYPES 0xd8u

/* A parent of the current message while the scan is inside it. */
typedef struct scan_frame {
  const uint8_t *end;
  uint32_t singular_seen; /* singular message fields (number < 32) met in this frame */
  uint8_t msg;            /* enum tg_otlp_scan_msg */
} scan_frame;

static const tg_otlp_scan_field unknown_field; /* numbers past every table */

/* Reads a varint of at most max_bytes (<= 10) at *p (< end); returns 0 and advances,
 * or -1 when truncated/overlong. */
static int read_varint_max(const uint8_t **p, const uint8_t *end, uint64_t *out,
                           unsigned max_bytes) {
  const uint8_t *q = *p;
  uint64_t v = 0;
  for (unsigned i = 0; i < max_bytes; i++) {
    if (q >= end)
      return -1;
    uint8_t b = *q++;
    if (i == 9 && b > 1)
      return -1;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      *p = q;
      return 0;
    }
  }
  return -1;
}

/* protobuf-c reads a field's tag and a length prefix from at most 5 bytes and refuses
 * longer ones, even when they are only zero-padded (0x80 0x80 ... 0x00): so must we, or the
 * index would pass a request that later fails to decode (found by the otlp_proto fuzz
 * target: a 9-byte length prefix of value 0). */
enum { PBC_MAX_PREFIX_BYTES = 5, MAX_VARINT_BYTES = 10 };

static int scan_error(char *err, size_t err_size, const char *what, size_t offset) {
  if (err && err_size)
    snprintf(err, err_size, "malformed protobuf: %s at byte %zu", what, offset);
  return TG_EDECODE;
}

/* A span or trace id the validator accepts: the right length, not all zero. */
static int id_valid(const uint8_t *p, size_t n, size_t want) {
  if (n != want)
    return 0;
  uint64_t a, b = 0;
  memcpy(&a, p, 8);
  if (want == 16)
    memcpy(&b, p + 8, 8);
  return (a | b) != 0;
}

/* The shape nearly every attribute has on the wire: a KeyValue field with a one-byte tag
 * (`tag`) and length, holding key = 1 and then value = 2, an AnyValue with at most one
 * string, bool, int, double or bytes member, each with one-byte tags and lengths. Checked
 * here in a few word compares, without the two frames and nine field steps the loop
 * would take (most of the scan's work was attributes). Returns the end of the field at p
 * when it has that shape and is well formed; NULL otherwise, and the loop then walks it
 * as any field, to the same verdict and error it always gave. Nothing this accepts has a
 * field of the wrong wire type, a repeated singular message or a span, so the index is
 * the same either way; the caller checks that the two frames fit under max_depth. */
static inline __attribute__((always_inline)) const uint8_t *
attribute_fast(const uint8_t *p, const uint8_t *end, unsigned tag) {
  if (end - p < 4)
    return NULL;
  uint32_t w = tg_pbwire_load_le32(p); /* tag, length < 128, key's tag 0x0a, key's length < 128 */
  if ((w & 0x80ff80ffu) != (tag | 0x0a0000u))
    return NULL;
  size_t len = (w >> 8) & 0xff, key_len = w >> 24;
  if (len > (size_t)(end - p) - 2 || key_len + 2 > len)
    return NULL;
  const uint8_t *kv_end = p + 2 + len, *v = p + 4 + key_len;
  size_t rest = (size_t)(kv_end - v); /* < 128: a one-byte length fits */
  if (!rest)
    return kv_end;
  if (rest >= 4 && /* the commonest: value = AnyValue{string_value}, in one compare */
      tg_pbwire_load_le32(v) == (0x0a0012u | (uint32_t)(rest - 2) << 8 | (uint32_t)(rest - 4) << 24))
    return kv_end;
  if (rest < 2 || v[0] != 0x12 || v[1] != rest - 2) /* value, all the rest */
    return NULL;
  v += 2;
  rest -= 2;
  if (!rest)
    return kv_end;
  switch (v[0]) {
  case 0x0a: /* string_value */
  case 0x3a: /* bytes_value */
    return rest >= 2 && v[1] == rest - 2 ? kv_end : NULL;
  case 0x21: /* double_value */
    return rest == 9 ? kv_end : NULL;
  case 0x10: /* bool_value */
  case 0x18: /* int_value: a varint of up to 10 bytes, the 10th <= 1 */
    if (rest < 2 || rest > 1 + MAX_VARINT_BYTES || kv_end[-1] & 0x80)
      return NULL;
    for (const uint8_t *b = v + 1; b < kv_end - 1; b++)
      if (!(*b & 0x80))
        return NULL;
    return rest <= MAX_VARINT_BYTES || kv_end[-1] <= 1 ? kv_end : NULL;
  default:
    return NULL;
  }
}

/* The scan loop behind tg_otlp_proto_scan and tg_otlp_proto_index. With idx, it also
 * checks known fields' wire types (so protobuf-c is certain to unpack what passed),
 * records the top-level resource_spans entries with their span counts, and notes spans
 * whose ids would fail validation. */
static int scan(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                size_t err_size, tg_otlp_wire_index *idx) {
  if (!len)
    return TG_OK;
  scan_frame stack[MAX_STACK];
  if (max_depth >= MAX_STACK)
    max_depth = MAX_STACK - 1;
  size_t depth = 0;
  const uint8_t *p = data, *end = data + len;
  unsigned msg = TG_OTLP_SCAN_REQUEST;
  const tg_otlp_scan_field *table = tg_otlp_scan_tables[msg];
  uint32_t singular_seen = 0;
  /* What an index adds to the scan's checks; 0 without one (or after an overflow). */
  unsigned index_mask = idx ? 0xffu : 0;
  int span_ids_ok = 0; /* bit 0: trace_id valid, bit 1: span_id valid (current span) */
  for (;;) {
    if (SCAN_UNLIKELY(p == end)) {
      if (!depth)
        return TG_OK;
      if (idx && msg == TG_OTLP_SCAN_SPAN && span_ids_ok != 3)
        idx->invalid_spans++;
      depth--;
      end = stack[depth].end;
      singular_seen = stack[depth].singular_seen;
      msg = stack[depth].msg;
      table = tg_otlp_scan_tables[msg];
      continue;
    }
    const uint8_t *field_start = p;
    const tg_otlp_scan_field *f;
    unsigned number, wire;
    unsigned b = *p;
    if (SCAN_LIKELY((uint8_t)(b - 8) < 0x78)) { /* a one-byte tag, number 1..15 */
      number = b >> 3;
      wire = b & 7;
      f = &table[number];
      p++;
    } else if ((b & 0x80) && end - p >= 2 && p[1] - 1u < 0x7fu) { /* two bytes, number 16.. */
      number = (b & 0x7f) >> 3 | (unsigned)p[1] << 4;
      wire = b & 7;
      f = number < TG_OTLP_SCAN_MAX_FIELD ? &table[number] : &unknown_field;
      p += 2;
    } else {
      uint64_t key;
      if (read_varint_max(&p, end, &key, PBC_MAX_PREFIX_BYTES))
        return scan_error(err, err_size, "truncated or over-long field tag",
                          (size_t)(field_start - data));
      if (key >> 3 == 0 || key >> 3 > 536870911u)
        return scan_error(err, err_size, "invalid field number", (size_t)(field_start - data));
      number = (unsigned)(key >> 3);
      wire = (unsigned)(key & 7);
      f = number < TG_OTLP_SCAN_MAX_FIELD ? &table[number] : &unknown_field;
    }
    if (SCAN_UNLIKELY(((UNSUPPORTED_WIRE_TYPES | (f->reject & index_mask)) >> wire) & 1))
      return scan_error(err, err_size,
                        f->reject & index_mask ? "field with the wrong wire type"
                                               : "unsupported wire type",
                        (size_t)(field_start - data));
    if (SCAN_LIKELY(wire == 2)) {
      uint64_t n;
      if (SCAN_LIKELY(p < end && *p < 0x80))
        n = *p++;
      else if (read_varint_max(&p, end, &n, PBC_MAX_PREFIX_BYTES))
        return scan_error(err, err_size, "truncated length-delimited field",
                          (size_t)(field_start - data));
      if (SCAN_UNLIKELY(n > (size_t)(end - p)))
        return scan_error(err, err_size, "truncated length-delimited field",
                          (size_t)(field_start - data));
      if (SCAN_LIKELY(!(f->child | (f->flags & index_mask)))) {
        p += n;
        continue;
      }
      if (f->child == TG_OTLP_SCAN_KEY_VALUE && b < 0x80 && depth + 2 <= max_depth) {
        /* This attribute and the run of them that usually follows, with the same tag.
         * Fields of KeyValues are repeated and carry no flags (the unit test checks):
         * the index records nothing about them. */
        const uint8_t *q = field_start, *next;
        while ((next = attribute_fast(q, end, b)))
          q = next;
        if (q != field_start) {
          p = q;
          continue;
        }
      }
      if (!f->child) { /* Span.trace_id or Span.span_id, indexing */
        int bit = f->flags & TG_OTLP_SCAN_F_TRACE_ID ? 1 : 2;
        if (id_valid(p, (size_t)n, bit == 1 ? 16 : 8))
          span_ids_ok |= bit;
        else
          span_ids_ok &= ~bit;
        p += n;
        continue;
      }
      if (depth + 1 > max_depth)
        return scan_error(err, err_size, "messages nested too deeply",
                          (size_t)(field_start - data));
      if (idx) {
        if (f->flags & TG_OTLP_SCAN_F_SINGULAR) {
          /* Protobuf merges a repeated singular message; protobuf-c's merge fails on
           * some (two empty AnyValues), so such requests take the decoding path,
           * whose answer is then exact. */
          if (singular_seen & (1u << number))
            idx->merges = 1;
          singular_seen |= 1u << number;
        }
        if (f->flags & TG_OTLP_SCAN_F_SEGMENT) { /* a resource_spans entry */
          if (idx->n == TG_OTLP_WIRE_MAX_SEGMENTS) {
            idx->overflow = 1;
            idx = NULL; /* keep validating structure only; the caller decodes instead */
            index_mask = 0;
          } else {
            idx->offsets[idx->n] = (size_t)(p - data);
            idx->lengths[idx->n] = (size_t)n;
            idx->span_counts[idx->n] = 0;
            idx->n++;
          }
        } else if (f->flags & TG_OTLP_SCAN_F_SPAN) {
          idx->span_counts[idx->n - 1]++;
          span_ids_ok = 0;
        }
      }
      stack[depth] = (scan_frame){end, singular_seen, (uint8_t)msg};
      depth++;
      end = p + n;
      singular_seen = 0;
      msg = f->child;
      table = tg_otlp_scan_tables[msg];
    } else if (wire == 0) {
      if (SCAN_LIKELY(p < end && *p < 0x80)) {
        p++;
      } else {
        uint64_t ignored;
        if (read_varint_max(&p, end, &ignored, MAX_VARINT_BYTES))
          return scan_error(err, err_size, "truncated varint", (size_t)(field_start - data));
      }
    } else { /* 1 or 5 */
      size_t w = wire == 1 ? 8 : 4;
      if ((size_t)(end - p) < w)
        return scan_error(err, err_size, "truncated fixed-width field",
                          (size_t)(field_start - data));
      p += w;
    }
  }
}

int tg_otlp_proto_scan(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                       size_t err_size) {
  return scan(data, len, max_depth, err, err_size, NULL);
}

int tg_otlp_proto_index(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                        size_t err_size, tg_otlp_wire_index *idx) {
  idx->n = 0;
  idx->invalid_spans = 0;
  idx->overflow = 0;
  idx->merges = 0;
  return scan(data, len, max_depth, err, err_size, idx);
}
