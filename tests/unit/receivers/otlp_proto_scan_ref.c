/* Test-only: the OTLP wire pre-scan and index as they were before the table-driven
 * rewrite (receivers/otlp/otlp_proto_scan.c at commit febdd77), kept verbatim apart from
 * the names of its two entry points, as the reference the differential tests
 * (test_otlp_scan.c, tests/fuzz/otlp_proto) hold the rewrite to: same return codes, same
 * error texts, same index for every input. Do not optimise this file.
 *
 * Original design comment follows. */
/* A wire-level pre-scan of OTLP protobuf before protobuf-c unpacks it.
 *
 * protobuf_c_message_unpack recurses once per nested message with no depth limit, so a
 * ~35 KB request of nested AnyValue arrays overflows the stack and kills the process;
 * and it accepts a non-canonical varint tag that encodes field number 0 (0x85 0x00),
 * keeps it as an unknown field and re-packs it as 0x05, which it then rejects itself, so
 * a batch carrying it could not be cloned or forwarded. This scan walks the bytes once,
 * iteratively (an explicit stack, bounded), guided by the protobuf-c descriptors so it
 * descends only into fields that are messages, and rejects: field number 0, group and
 * reserved wire types, truncated fields, over-long varints (tags and length prefixes past
 * protobuf-c's 5 bytes), and nesting deeper than max_depth. It allocates nothing and is
 * linear in the input. */
#include "otlp_proto_scan_ref.h"

#include <stdio.h>

#include "tg_error.h"

#define REQ_DESC opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
#define SPAN_DESC opentelemetry__proto__trace__v1__span__descriptor
#define MAX_STACK 256

typedef struct scan_frame {
  const ProtobufCMessageDescriptor *desc;
  size_t end;
  uint32_t singular_seen; /* singular message fields (number < 32) met in this frame */
} scan_frame;

/* Reads a varint of at most max_bytes (<= 10) at *pos (< end); returns 0 and advances,
 * or -1 when truncated/overlong. */
static int read_varint_max(const uint8_t *data, size_t end, size_t *pos, uint64_t *out,
                           unsigned max_bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < max_bytes; i++) {
    if (*pos >= end)
      return -1;
    uint8_t b = data[(*pos)++];
    if (i == 9 && b > 1)
      return -1;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

static int read_varint(const uint8_t *data, size_t end, size_t *pos, uint64_t *out) {
  return read_varint_max(data, end, pos, out, 10);
}

/* protobuf-c reads a field's tag and a length prefix from at most 5 bytes and refuses
 * longer ones, even when they are only zero-padded (0x80 0x80 ... 0x00): so must we, or the
 * index would pass a request that later fails to decode (found by the otlp_proto fuzz
 * target: a 9-byte length prefix of value 0). */
enum { PBC_MAX_PREFIX_BYTES = 5 };

static int read_prefix(const uint8_t *data, size_t end, size_t *pos, uint64_t *out) {
  return read_varint_max(data, end, pos, out, PBC_MAX_PREFIX_BYTES);
}

static int scan_error(char *err, size_t err_size, const char *what, size_t offset) {
  if (err && err_size)
    snprintf(err, err_size, "malformed protobuf: %s at byte %zu", what, offset);
  return TG_EDECODE;
}

/* The wire type protobuf-c requires for a known field of this type (no packed repeated
 * scalars exist in the OTLP trace messages). */
unsigned tg_otlp_proto_expected_wire_type_ref(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 1;
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return 5;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_BYTES:
  case PROTOBUF_C_TYPE_MESSAGE:
    return 2;
  default:
    return 0;
  }
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

/* Field lookup for the hot loop: protoc-c sorts a descriptor's fields by number, and
 * OTLP numbers its fields densely from 1 (Span 1..16), so fields[number - 1] is nearly
 * always the one; protobuf-c's binary search (5 % of the gateway's CPU when it was used
 * for every field) remains the fallback for gaps. */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *desc,
                                                unsigned number) {
  if (number >= 1 && number <= desc->n_fields && desc->fields[number - 1].id == number)
    return &desc->fields[number - 1];
  return protobuf_c_message_descriptor_get_field(desc, number);
}

/* The scan loop behind tg_otlp_proto_scan and tg_otlp_proto_index. With idx, it also
 * checks known fields' wire types (so protobuf-c is certain to unpack what passed),
 * records the top-level resource_spans entries with their span counts, and notes spans
 * whose ids would fail validation. */
static int scan(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                size_t err_size, tg_otlp_wire_index *idx) {
  scan_frame stack[MAX_STACK];
  if (max_depth >= MAX_STACK)
    max_depth = MAX_STACK - 1;
  size_t depth = 0, pos = 0;
  int span_ids_ok = 0; /* bit 0: trace_id valid, bit 1: span_id valid (current span) */
  stack[0] = (scan_frame){&REQ_DESC, len, 0};
  for (;;) {
    while (depth && pos == stack[depth].end) {
      if (idx && stack[depth].desc == &SPAN_DESC && span_ids_ok != 3)
        idx->invalid_spans++;
      depth--;
    }
    if (pos == len && !depth)
      return TG_OK;
    scan_frame *top = &stack[depth];
    size_t field_start = pos;
    uint64_t key, n;
    if (read_prefix(data, top->end, &pos, &key))
      return scan_error(err, err_size, "truncated or over-long field tag", field_start);
    uint64_t number = key >> 3;
    unsigned wire = (unsigned)(key & 7);
    if (number == 0 || number > 536870911u)
      return scan_error(err, err_size, "invalid field number", field_start);
    const ProtobufCFieldDescriptor *f = field_of(top->desc, (unsigned)number);
    if (idx && f && tg_otlp_proto_expected_wire_type_ref(f) != wire)
      return scan_error(err, err_size, "field with the wrong wire type", field_start);
    switch (wire) {
    case 0:
      if (read_varint(data, top->end, &pos, &n))
        return scan_error(err, err_size, "truncated varint", field_start);
      break;
    case 1:
    case 5: {
      size_t w = wire == 1 ? 8 : 4;
      if (top->end - pos < w)
        return scan_error(err, err_size, "truncated fixed-width field", field_start);
      pos += w;
      break;
    }
    case 2: {
      if (read_prefix(data, top->end, &pos, &n) || n > top->end - pos)
        return scan_error(err, err_size, "truncated length-delimited field", field_start);
      if (idx && top->desc == &SPAN_DESC && (number == 1 || number == 2)) {
        size_t want = number == 1 ? 16 : 8;
        int bit = number == 1 ? 1 : 2;
        if (n == want && !all_zero(data + pos, want))
          span_ids_ok |= bit;
        else
          span_ids_ok &= ~bit;
      }
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (depth + 1 > max_depth)
          return scan_error(err, err_size, "messages nested too deeply", field_start);
        if (idx && f->label != PROTOBUF_C_LABEL_REPEATED && number < 32) {
          /* Protobuf merges a repeated singular message; protobuf-c's merge fails on
           * some (two empty AnyValues), so such requests take the decoding path,
           * whose answer is then exact. */
          if (top->singular_seen & (1u << number))
            idx->merges = 1;
          top->singular_seen |= 1u << number;
        }
        if (idx && depth == 0) { /* a resource_spans entry */
          if (idx->n == TG_OTLP_WIRE_MAX_SEGMENTS) {
            idx->overflow = 1;
            idx = NULL; /* keep validating structure only; the caller decodes instead */
          } else {
            idx->offsets[idx->n] = pos;
            idx->lengths[idx->n] = (size_t)n;
            idx->span_counts[idx->n] = 0;
            idx->n++;
          }
        }
        if (idx && f->descriptor == &SPAN_DESC) {
          idx->span_counts[idx->n - 1]++;
          span_ids_ok = 0;
        }
        depth++;
        stack[depth] = (scan_frame){f->descriptor, pos + (size_t)n, 0};
      } else {
        pos += (size_t)n;
      }
      break;
    }
    default:
      return scan_error(err, err_size, "unsupported wire type", field_start);
    }
  }
}

int tg_otlp_proto_scan_ref(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                           size_t err_size) {
  return scan(data, len, max_depth, err, err_size, NULL);
}

int tg_otlp_proto_index_ref(const uint8_t *data, size_t len, unsigned max_depth, char *err,
                            size_t err_size, tg_otlp_wire_index *idx) {
  idx->n = 0;
  idx->invalid_spans = 0;
  idx->overflow = 0;
  idx->merges = 0;
  return scan(data, len, max_depth, err, err_size, idx);
}
