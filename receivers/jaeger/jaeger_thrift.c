/* A schema-specific Thrift decoder for the Jaeger agent and collector schema
 * (jaeger.thrift: Batch, Process, Span, Tag, Log, SpanRef; agent.thrift: emitBatch),
 * in both the compact and the binary protocol, straight into the api_v2 model.
 *
 * Why our own: the schema is small and fixed, and a generic Thrift library would mean a
 * C++ runtime or generated C (glib) plus a second copy of every span. The decoder is one
 * reader with two wire dialects (the primitives switch on the protocol) under one set of
 * struct readers, so the schema is written once.
 *
 * Hardening: every read checks the remaining length first; a container's element count
 * is checked against the bytes left (each element takes at least one byte), so a peer
 * cannot make us allocate more than its input size allows; nesting of skipped unknown
 * values is capped at TG_THRIFT_MAX_DEPTH; required fields of the IDL must be present.
 * Fields with a known id but an unexpected type are skipped, as generated Thrift code
 * does. Nothing recurses except skip(), and that is depth-bounded. */
#include <stdio.h>
#include <string.h>

#include "jaeger_thrift.h"
#include "tg_error.h"

#define TG_THRIFT_MAX_DEPTH 16

/* Thrift value types, normalised (the binary protocol's numbering). */
enum {
  T_STOP = 0,
  T_BOOL = 2,
  T_BYTE = 3,
  T_DOUBLE = 4,
  T_I16 = 6,
  T_I32 = 8,
  T_I64 = 10,
  T_STRING = 11,
  T_STRUCT = 12,
  T_MAP = 13,
  T_SET = 14,
  T_LIST = 15,
};

typedef struct rd {
  const uint8_t *p, *end;
  int compact;
  int bool_pending; /* compact: a bool field's value travels in its header */
  int bool_value;
  tg_arena *arena;
  int rc;            /* first error */
  char *err;
  size_t err_size;
} rd;

static int fail(rd *r, const char *what) {
  if (r->rc == TG_OK) {
    r->rc = TG_EDECODE;
    if (r->err && r->err_size)
      snprintf(r->err, r->err_size, "malformed thrift: %s", what);
  }
  return r->rc;
}

static int oom(rd *r) {
  if (r->rc == TG_OK)
    r->rc = r->arena->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  return r->rc;
}

static size_t left(const rd *r) { return (size_t)(r->end - r->p); }

static int need(rd *r, size_t n) {
  if (left(r) < n)
    return fail(r, "truncated input");
  return TG_OK;
}

static int rd_varint(rd *r, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end)
      return fail(r, "truncated varint");
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return TG_OK;
    }
  }
  return fail(r, "varint longer than 10 bytes");
}

static uint64_t be(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static int rd_byte(rd *r, uint8_t *out) {
  if (need(r, 1))
    return r->rc;
  *out = *r->p++;
  return TG_OK;
}

static int rd_int(rd *r, unsigned bytes, int64_t *out) {
  if (r->compact) {
    uint64_t v;
    if (rd_varint(r, &v))
      return r->rc;
    *out = unzigzag(v);
    if (bytes < 8 && (*out < -((int64_t)1 << (bytes * 8 - 1)) ||
                      *out >= ((int64_t)1 << (bytes * 8 - 1))))
      return fail(r, "integer out of range for its type");
    return TG_OK;
  }
  if (need(r, bytes))
    return r->rc;
  uint64_t v = be(r->p, bytes);
  r->p += bytes;
  if (bytes == 2)
    *out = (int16_t)v;
  else if (bytes == 4)
    *out = (int32_t)v;
  else
    *out = (int64_t)v;
  return TG_OK;
}

static int rd_i64(rd *r, int64_t *out) { return rd_int(r, 8, out); }

static int rd_i32(rd *r, int32_t *out) {
  int64_t v;
  if (rd_int(r, 4, &v))
    return r->rc;
  *out = (int32_t)v;
  return TG_OK;
}

static int rd_double(rd *r, double *out) {
  if (need(r, 8))
    return r->rc;
  uint64_t bits = 0;
  if (r->compact) /* little-endian in compact, big-endian in binary */
    for (int i = 7; i >= 0; i--)
      bits = bits << 8 | r->p[i];
  else
    bits = be(r->p, 8);
  r->p += 8;
  memcpy(out, &bits, sizeof *out);
  return TG_OK;
}

static int rd_bool(rd *r, int *out) {
  if (r->bool_pending) {
    r->bool_pending = 0;
    *out = r->bool_value;
    return TG_OK;
  }
  uint8_t b;
  if (rd_byte(r, &b))
    return r->rc;
  /* compact containers write 1 (true) / 2 (false); binary writes 1 / 0 */
  *out = b == 1;
  return TG_OK;
}

/* Length-prefixed bytes, pointing into the input. */
static int rd_binary(rd *r, const uint8_t **data, size_t *len) {
  uint64_t n;
  if (r->compact) {
    if (rd_varint(r, &n))
      return r->rc;
  } else {
    int64_t s;
    if (rd_int(r, 4, &s))
      return r->rc;
    if (s < 0)
      return fail(r, "negative string length");
    n = (uint64_t)s;
  }
  if (n > left(r))
    return fail(r, "string longer than the input");
  *data = r->p;
  *len = (size_t)n;
  r->p += n;
  return TG_OK;
}

static int rd_string(rd *r, char **out) {
  const uint8_t *d;
  size_t n;
  if (rd_binary(r, &d, &n))
    return r->rc;
  *out = tg_arena_strndup(r->arena, (const char *)d, n);
  return *out ? TG_OK : oom(r);
}

/* Compact type nibble → normalised type; 0xff = invalid. */
static uint8_t compact_type(uint8_t t) {
  static const uint8_t map[13] = {T_STOP, T_BOOL, T_BOOL,   T_BYTE,   T_I16,
                                  T_I32,  T_I64,  T_DOUBLE, T_STRING, T_LIST,
                                  T_SET,  T_MAP,  T_STRUCT};
  return t < 13 ? map[t] : 0xff;
}

static int valid_type(uint8_t t) {
  return t == T_BOOL || t == T_BYTE || t == T_DOUBLE || t == T_I16 || t == T_I32 ||
         t == T_I64 || t == T_STRING || t == T_STRUCT || t == T_MAP || t == T_SET ||
         t == T_LIST;
}

/* Reads a field header; *type T_STOP ends the struct. last: the previous field id of this
 * struct (compact deltas). */
static int rd_field(rd *r, int16_t *last, uint8_t *type, int16_t *id) {
  uint8_t b;
  if (rd_byte(r, &b))
    return r->rc;
  if (!r->compact) {
    if (b == T_STOP) {
      *type = T_STOP;
      return TG_OK;
    }
    if (!valid_type(b))
      return fail(r, "unknown field type");
    int64_t v;
    if (rd_int(r, 2, &v))
      return r->rc;
    *type = b;
    *id = (int16_t)v;
    return TG_OK;
  }
  if (b == 0) {
    *type = T_STOP;
    return TG_OK;
  }
  uint8_t ct = b & 0x0f;
  uint8_t t = compact_type(ct);
  if (t == 0xff || t == T_STOP)
    return fail(r, "unknown field type");
  unsigned delta = b >> 4;
  if (delta) {
    *id = (int16_t)(*last + (int)delta);
  } else {
    int64_t v;
    if (rd_int(r, 2, &v))
      return r->rc;
    *id = (int16_t)v;
  }
  *last = *id;
  *type = t;
  if (t == T_BOOL) {
    r->bool_pending = 1;
    r->bool_value = ct == 1;
  }
  return TG_OK;
}

/* List or set header; the count is bounded by the bytes left. */
static int rd_list(rd *r, uint8_t *elem, size_t *count) {
  uint8_t b;
  if (rd_byte(r, &b))
    return r->rc;
  uint64_t n;
  if (r->compact) {
    *elem = compact_type(b & 0x0f);
    n = b >> 4;
    if (n == 15 && rd_varint(r, &n))
      return r->rc;
  } else {
    *elem = b;
    int64_t s;
    if (rd_int(r, 4, &s))
      return r->rc;
    if (s < 0)
      return fail(r, "negative container size");
    n = (uint64_t)s;
  }
  if (*elem == 0xff || !valid_type(*elem))
    return fail(r, "unknown container element type");
  /* every element takes at least one byte on the wire (a compact bool too) */
  if (n > left(r))
    return fail(r, "container larger than the input");
  *count = (size_t)n;
  return TG_OK;
}

static int skip(rd *r, uint8_t type, unsigned depth);

static int skip_n(rd *r, uint8_t type, size_t n, unsigned depth) {
  for (size_t i = 0; i < n && r->rc == TG_OK; i++)
    skip(r, type, depth);
  return r->rc;
}

static int skip(rd *r, uint8_t type, unsigned depth) {
  if (depth > TG_THRIFT_MAX_DEPTH)
    return fail(r, "nesting too deep");
  int64_t i;
  double d;
  int b;
  const uint8_t *p;
  size_t n;
  switch (type) {
  case T_BOOL: return rd_bool(r, &b);
  case T_BYTE: return need(r, 1) ? r->rc : (r->p++, TG_OK);
  case T_I16: return rd_int(r, 2, &i);
  case T_I32: return rd_int(r, 4, &i);
  case T_I64: return rd_int(r, 8, &i);
  case T_DOUBLE: return rd_double(r, &d);
  case T_STRING: return rd_binary(r, &p, &n);
  case T_STRUCT: {
    int16_t last = 0, id;
    uint8_t t;
    for (;;) {
      if (rd_field(r, &last, &t, &id))
        return r->rc;
      if (t == T_STOP)
        return TG_OK;
      if (skip(r, t, depth + 1))
        return r->rc;
    }
  }
  case T_LIST:
  case T_SET: {
    uint8_t elem;
    if (rd_list(r, &elem, &n))
      return r->rc;
    return skip_n(r, elem, n, depth + 1);
  }
  case T_MAP: {
    uint8_t kt, vt;
    uint64_t count;
    if (r->compact) {
      if (rd_varint(r, &count))
        return r->rc;
      if (count) {
        uint8_t kv;
        if (rd_byte(r, &kv))
          return r->rc;
        kt = compact_type(kv >> 4);
        vt = compact_type(kv & 0x0f);
      } else {
        kt = vt = T_BYTE;
      }
    } else {
      if (rd_byte(r, &kt) || rd_byte(r, &vt) || rd_int(r, 4, &i))
        return r->rc;
      if (i < 0)
        return fail(r, "negative map size");
      count = (uint64_t)i;
    }
    if (kt == 0xff || vt == 0xff || !valid_type(kt) || !valid_type(vt))
      return fail(r, "unknown map element type");
    if (count > left(r) / 2 + 1)
      return fail(r, "map larger than the input");
    for (uint64_t k = 0; k < count && r->rc == TG_OK; k++)
      if (!skip(r, kt, depth + 1))
        skip(r, vt, depth + 1);
    return r->rc;
  }
  default: return fail(r, "unknown type");
  }
}

/* Skips a field's value unless its type is the expected one (then returns 1). */
static int want(rd *r, uint8_t type, uint8_t expected) {
  if (type == expected)
    return 1;
  skip(r, type, 1);
  return 0;
}

/* ---- the schema ---- */

static void put_u64(uint8_t *out, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8)
    out[i] = (uint8_t)v;
}

static int set_trace_id(rd *r, ProtobufCBinaryData *id, int64_t high, int64_t low) {
  uint8_t *b = tg_arena_alloc(r->arena, 16);
  if (!b)
    return oom(r);
  put_u64(b, (uint64_t)high);
  put_u64(b + 8, (uint64_t)low);
  id->data = b;
  id->len = 16;
  return TG_OK;
}

static int set_span_id(rd *r, ProtobufCBinaryData *id, int64_t v) {
  uint8_t *b = tg_arena_alloc(r->arena, 8);
  if (!b)
    return oom(r);
  put_u64(b, (uint64_t)v);
  id->data = b;
  id->len = 8;
  return TG_OK;
}

/* Thrift TagType: STRING, DOUBLE, BOOL, LONG, BINARY (not api_v2's order). */
static int read_tag(rd *r, tg_jaeger_kv **out) {
  tg_jaeger_kv *kv = tg_arena_alloc(r->arena, sizeof *kv);
  if (!kv)
    return oom(r);
  jaeger__api_v2__key_value__init(kv);
  int16_t last = 0, id;
  uint8_t t;
  int have_key = 0, have_type = 0;
  int32_t vtype = 0;
  char *vstr = NULL;
  double vdouble = 0;
  int vbool = 0;
  int64_t vlong = 0;
  const uint8_t *bin = NULL;
  size_t bin_len = 0;
  while (r->rc == TG_OK) {
    if (rd_field(r, &last, &t, &id) || t == T_STOP)
      break;
    switch (id) {
    case 1: if (want(r, t, T_STRING) && !rd_string(r, &kv->key)) have_key = 1; break;
    case 2: if (want(r, t, T_I32) && !rd_i32(r, &vtype)) have_type = 1; break;
    case 3: if (want(r, t, T_STRING)) rd_string(r, &vstr); break;
    case 4: if (want(r, t, T_DOUBLE)) rd_double(r, &vdouble); break;
    case 5: if (want(r, t, T_BOOL)) rd_bool(r, &vbool); break;
    case 6: if (want(r, t, T_I64)) rd_i64(r, &vlong); break;
    case 7: if (want(r, t, T_STRING)) rd_binary(r, &bin, &bin_len); break;
    default: skip(r, t, 1);
    }
  }
  if (r->rc)
    return r->rc;
  if (!have_key || !have_type)
    return fail(r, "Tag lacks a required field (key, vType)");
  switch (vtype) {
  case 1: kv->v_type = JAEGER__API_V2__VALUE_TYPE__FLOAT64; kv->v_float64 = vdouble; break;
  case 2: kv->v_type = JAEGER__API_V2__VALUE_TYPE__BOOL; kv->v_bool = vbool; break;
  case 3: kv->v_type = JAEGER__API_V2__VALUE_TYPE__INT64; kv->v_int64 = vlong; break;
  case 4:
    kv->v_type = JAEGER__API_V2__VALUE_TYPE__BINARY;
    kv->v_binary.len = bin_len;
    kv->v_binary.data = bin_len ? tg_arena_memdup(r->arena, bin, bin_len) : NULL;
    if (bin_len && !kv->v_binary.data)
      return oom(r);
    break;
  default: /* STRING, and unknown types as Jaeger does: their string value */
    kv->v_type = JAEGER__API_V2__VALUE_TYPE__STRING;
    if (vstr)
      kv->v_str = vstr;
  }
  *out = kv;
  return TG_OK;
}

/* Starts a list-of-structs field of type t: 1 with *n elements for the caller to read;
 * 0 when there is nothing to read (a field of another type, or a list of non-structs,
 * was skipped; or r->rc holds an error). */
static int open_struct_list(rd *r, uint8_t t, size_t *n) {
  uint8_t elem;
  if (!want(r, t, T_LIST) || rd_list(r, &elem, n))
    return 0;
  if (elem != T_STRUCT) {
    skip_n(r, elem, *n, 1);
    return 0;
  }
  return 1;
}

static int read_tags(rd *r, uint8_t t, size_t *n_out, tg_jaeger_kv ***out) {
  size_t n;
  if (!open_struct_list(r, t, &n))
    return r->rc;
  tg_jaeger_kv **tags = n ? tg_arena_alloc(r->arena, n * sizeof *tags) : NULL;
  if (n && !tags)
    return oom(r);
  for (size_t i = 0; i < n; i++)
    if (read_tag(r, &tags[i]))
      return r->rc;
  *n_out = n;
  *out = tags;
  return TG_OK;
}

static Google__Protobuf__Timestamp *micros_timestamp(rd *r, int64_t us) {
  Google__Protobuf__Timestamp *ts = tg_arena_alloc(r->arena, sizeof *ts);
  if (!ts) {
    oom(r);
    return NULL;
  }
  google__protobuf__timestamp__init(ts);
  /* floor division, so negative times keep 0 <= nanos < 1e9 */
  int64_t s = us / 1000000, rem = us % 1000000;
  if (rem < 0) {
    s--;
    rem += 1000000;
  }
  ts->seconds = s;
  ts->nanos = (int32_t)(rem * 1000);
  return ts;
}

static int read_log(rd *r, tg_jaeger_log **out) {
  tg_jaeger_log *log = tg_arena_alloc(r->arena, sizeof *log);
  if (!log)
    return oom(r);
  jaeger__api_v2__log__init(log);
  int16_t last = 0, id;
  uint8_t t;
  int have_ts = 0, have_fields = 0;
  int64_t ts = 0;
  while (r->rc == TG_OK) {
    if (rd_field(r, &last, &t, &id) || t == T_STOP)
      break;
    if (id == 1 && want(r, t, T_I64)) {
      if (!rd_i64(r, &ts))
        have_ts = 1;
    } else if (id == 2) {
      if (!read_tags(r, t, &log->n_fields, &log->fields) && t == T_LIST)
        have_fields = 1;
    } else if (id != 1) {
      skip(r, t, 1);
    }
  }
  if (r->rc)
    return r->rc;
  if (!have_ts || !have_fields)
    return fail(r, "Log lacks a required field (timestamp, fields)");
  if (!(log->timestamp = micros_timestamp(r, ts)))
    return r->rc;
  *out = log;
  return TG_OK;
}

static int read_ref(rd *r, tg_jaeger_ref **out) {
  tg_jaeger_ref *ref = tg_arena_alloc(r->arena, sizeof *ref);
  if (!ref)
    return oom(r);
  jaeger__api_v2__span_ref__init(ref);
  int16_t last = 0, id;
  uint8_t t;
  int32_t type = 0;
  int64_t v[5] = {0};
  unsigned have = 0;
  while (r->rc == TG_OK) {
    if (rd_field(r, &last, &t, &id) || t == T_STOP)
      break;
    if (id == 1 && want(r, t, T_I32)) {
      if (!rd_i32(r, &type))
        have |= 1u << 1;
    } else if (id >= 2 && id <= 4 && want(r, t, T_I64)) {
      if (!rd_i64(r, &v[id]))
        have |= 1u << id;
    } else if (id < 1 || id > 4) {
      skip(r, t, 1);
    }
  }
  if (r->rc)
    return r->rc;
  if (have != 0x1e)
    return fail(r, "SpanRef lacks a required field");
  ref->ref_type = type == 1 ? JAEGER__API_V2__SPAN_REF_TYPE__FOLLOWS_FROM
                            : JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF;
  if (set_trace_id(r, &ref->trace_id, v[3], v[2]) || set_span_id(r, &ref->span_id, v[4]))
    return r->rc;
  *out = ref;
  return TG_OK;
}

static int read_refs(rd *r, uint8_t t, tg_jaeger_span *span) {
  size_t n;
  if (!open_struct_list(r, t, &n))
    return r->rc;
  /* one spare slot for the CHILD_OF reference parentSpanId may add */
  tg_jaeger_ref **refs = tg_arena_alloc(r->arena, (n + 1) * sizeof *refs);
  if (!refs)
    return oom(r);
  for (size_t i = 0; i < n; i++)
    if (read_ref(r, &refs[i + 1]))
      return r->rc;
  span->references = refs + 1;
  span->n_references = n;
  return TG_OK;
}

static int read_logs(rd *r, uint8_t t, tg_jaeger_span *span) {
  size_t n;
  if (!open_struct_list(r, t, &n))
    return r->rc;
  tg_jaeger_log **logs = n ? tg_arena_alloc(r->arena, n * sizeof *logs) : NULL;
  if (n && !logs)
    return oom(r);
  for (size_t i = 0; i < n; i++)
    if (read_log(r, &logs[i]))
      return r->rc;
  span->logs = logs;
  span->n_logs = n;
  return TG_OK;
}

static int same_bytes(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b) {
  return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* Jaeger's MaybeAddParentSpanID: a non-zero parentSpanId that no reference names
 * becomes a CHILD_OF reference in front (read_refs left a slot for it). */
static int add_parent_ref(rd *r, tg_jaeger_span *span, int64_t parent) {
  ProtobufCBinaryData pid;
  if (set_span_id(r, &pid, parent))
    return r->rc;
  for (size_t i = 0; i < span->n_references; i++)
    if (same_bytes(&span->references[i]->span_id, &pid) &&
        same_bytes(&span->references[i]->trace_id, &span->trace_id))
      return TG_OK;
  tg_jaeger_ref *ref = tg_arena_alloc(r->arena, sizeof *ref);
  if (!ref)
    return oom(r);
  jaeger__api_v2__span_ref__init(ref);
  ref->trace_id = span->trace_id;
  ref->span_id = pid;
  ref->ref_type = JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF;
  if (!span->references) {
    span->references = tg_arena_alloc(r->arena, sizeof *span->references);
    if (!span->references)
      return oom(r);
  } else {
    span->references--; /* the spare slot */
  }
  span->references[0] = ref;
  span->n_references++;
  return TG_OK;
}

static int read_span(rd *r, tg_jaeger_span **out) {
  tg_jaeger_span *span = tg_arena_alloc(r->arena, sizeof *span);
  if (!span)
    return oom(r);
  jaeger__api_v2__span__init(span);
  int16_t last = 0, id;
  uint8_t t;
  int64_t ints[10] = {0}; /* by field id: 1-4 ids, 8 start, 9 duration */
  int32_t flags = 0;
  unsigned have = 0;
  while (r->rc == TG_OK) {
    if (rd_field(r, &last, &t, &id) || t == T_STOP)
      break;
    switch (id) {
    case 1: case 2: case 3: case 4: case 8: case 9:
      if (want(r, t, T_I64) && !rd_i64(r, &ints[id]))
        have |= 1u << id;
      break;
    case 5:
      if (want(r, t, T_STRING) && !rd_string(r, &span->operation_name))
        have |= 1u << 5;
      break;
    case 6: read_refs(r, t, span); break;
    case 7:
      if (want(r, t, T_I32) && !rd_i32(r, &flags))
        have |= 1u << 7;
      break;
    case 10: read_tags(r, t, &span->n_tags, &span->tags); break;
    case 11: read_logs(r, t, span); break;
    default: skip(r, t, 1);
    }
  }
  if (r->rc)
    return r->rc;
  if (have != 0x3be) /* fields 1-5, 7-9 */
    return fail(r, "Span lacks a required field (ids, operationName, flags, startTime, "
                   "duration)");
  span->flags = (uint32_t)flags;
  if (set_trace_id(r, &span->trace_id, ints[2], ints[1]) ||
      set_span_id(r, &span->span_id, ints[3]))
    return r->rc;
  if (ints[4] && add_parent_ref(r, span, ints[4]))
    return r->rc;
  if (!(span->start_time = micros_timestamp(r, ints[8])))
    return r->rc;
  Google__Protobuf__Duration *d = tg_arena_alloc(r->arena, sizeof *d);
  if (!d)
    return oom(r);
  google__protobuf__duration__init(d);
  d->seconds = ints[9] / 1000000;
  d->nanos = (int32_t)(ints[9] % 1000000 * 1000);
  span->duration = d;
  *out = span;
  return TG_OK;
}

static int read_process(rd *r, tg_jaeger_process **out) {
  tg_jaeger_process *p = tg_arena_alloc(r->arena, sizeof *p);
  if (!p)
    return oom(r);
  jaeger__api_v2__process__init(p);
  int16_t last = 0, id;
  uint8_t t;
  int have_name = 0;
  while (r->rc == TG_OK) {
    if (rd_field(r, &last, &t, &id) || t == T_STOP)
      break;
    if (id == 1) {
      if (want(r, t, T_STRING) && !rd_string(r, &p->service_name))
        have_name = 1;
    } else if (id == 2) {
      read_tags(r, t, &p->n_tags, &p->tags);
    } else {
      skip(r, t, 1);
    }
  }
  if (r->rc)
    return r->rc;
  if (!have_name)
    return fail(r, "Process lacks serviceName");
  *out = p;
  return TG_OK;
}

static int read_batch(rd *r, tg_jaeger_batch **out) {
  tg_jaeger_batch *b = tg_arena_alloc(r->arena, sizeof *b);
  if (!b)
    return oom(r);
  jaeger__api_v2__batch__init(b);
  int16_t last = 0, id;
  uint8_t t;
  int have_spans = 0;
  while (r->rc == TG_OK) {
    if (rd_field(r, &last, &t, &id) || t == T_STOP)
      break;
    if (id == 1 && t == T_STRUCT) {
      read_process(r, &b->process);
    } else if (id == 2 && t == T_LIST) {
      size_t n;
      if (!open_struct_list(r, t, &n))
        continue; /* skipped, or r->rc ends the loop */
      b->spans = n ? tg_arena_alloc(r->arena, n * sizeof *b->spans) : NULL;
      if (n && !b->spans)
        return oom(r);
      for (size_t i = 0; i < n && !read_span(r, &b->spans[i]); i++)
        b->n_spans = i + 1;
      have_spans = 1;
    } else {
      skip(r, t, 1); /* seqNo, stats, and anything newer */
    }
  }
  if (r->rc)
    return r->rc;
  if (!b->process || !have_spans)
    return fail(r, "Batch lacks a required field (process, spans)");
  *out = b;
  return TG_OK;
}

static void rd_init(rd *r, tg_arena *arena, tg_thrift_protocol proto, const uint8_t *data,
                    size_t len, char *err, size_t err_size) {
  memset(r, 0, sizeof *r);
  r->p = data;
  r->end = data + len;
  r->compact = proto == TG_THRIFT_COMPACT;
  r->arena = arena;
  r->err = err;
  r->err_size = err_size;
  if (err && err_size)
    err[0] = '\0';
}

int tg_jaeger_thrift_decode_batch(tg_arena *arena, tg_thrift_protocol proto,
                                  const uint8_t *data, size_t len, tg_jaeger_batch **out,
                                  char *err, size_t err_size) {
  rd r;
  rd_init(&r, arena, proto, data, len, err, err_size);
  *out = NULL;
  tg_jaeger_batch *b = NULL;
  if (read_batch(&r, &b) == TG_OK && r.p != r.end)
    fail(&r, "trailing bytes after the Batch");
  if (r.rc == TG_OK)
    *out = b;
  return r.rc;
}

/* Message header: binary strict (version word), binary old-style (name first) or
 * compact (protocol id 0x82). Leaves r after the sequence id. */
static int read_message_header(rd *r, const uint8_t **name, size_t *name_len, int *type) {
  int64_t seq;
  if (r->compact) {
    uint8_t id, vt;
    if (rd_byte(r, &id) || rd_byte(r, &vt))
      return r->rc;
    if (id != 0x82 || (vt & 0x1f) != 1)
      return fail(r, "not a compact protocol message (bad protocol id or version)");
    *type = vt >> 5;
    uint64_t s;
    if (rd_varint(r, &s))
      return r->rc;
    return rd_binary(r, name, name_len);
  }
  if (need(r, 4))
    return r->rc;
  uint32_t word = (uint32_t)be(r->p, 4);
  if (word & 0x80000000u) {
    if ((word & 0xffff0000u) != 0x80010000u)
      return fail(r, "not a binary protocol message (bad version)");
    r->p += 4;
    *type = (int)(word & 0xff);
    if (rd_binary(r, name, name_len))
      return r->rc;
    return rd_int(r, 4, &seq);
  }
  uint8_t t;
  if (rd_binary(r, name, name_len) || rd_byte(r, &t))
    return r->rc;
  *type = t;
  return rd_int(r, 4, &seq);
}

int tg_jaeger_thrift_decode_emit_batch(tg_arena *arena, tg_thrift_protocol proto,
                                       const uint8_t *data, size_t len,
                                       tg_jaeger_batch **out, char *err, size_t err_size) {
  rd r;
  rd_init(&r, arena, proto, data, len, err, err_size);
  *out = NULL;
  const uint8_t *name = NULL;
  size_t name_len = 0;
  int type = 0;
  if (read_message_header(&r, &name, &name_len, &type))
    return r.rc;
  if (name_len == 15 && !memcmp(name, "emitZipkinBatch", 15))
    return fail(&r, "Agent.emitZipkinBatch is not supported (send Jaeger spans)");
  if (name_len != 9 || memcmp(name, "emitBatch", 9))
    return fail(&r, "not an Agent.emitBatch message");
  if (type != 1 && type != 4) /* CALL or ONEWAY */
    return fail(&r, "emitBatch message is not a call");
  tg_jaeger_batch *b = NULL;
  int16_t last = 0, id;
  uint8_t t;
  while (r.rc == TG_OK) {
    if (rd_field(&r, &last, &t, &id) || t == T_STOP)
      break;
    if (id == 1 && t == T_STRUCT && !b)
      read_batch(&r, &b);
    else
      skip(&r, t, 1);
  }
  if (r.rc == TG_OK && !b)
    fail(&r, "emitBatch without a batch argument");
  if (r.rc == TG_OK && r.p != r.end)
    fail(&r, "trailing bytes after the message");
  if (r.rc == TG_OK)
    *out = b;
  return r.rc;
}
