/* A schema-specific Thrift encoder for jaeger.thrift (binary and compact protocols),
 * written against the same field numbers as the decoder in receivers/jaeger/. One set of
 * struct writers over two dialects of primitives, as the decoder. Errors stick in the
 * writer (first one wins) so the struct writers need no checks between fields. */
#include "jaeger_thrift_encode.h"

#include <string.h>

#include "tg_error.h"

enum { T_BOOL = 2, T_DOUBLE = 4, T_I32 = 8, T_I64 = 10, T_STRING = 11, T_STRUCT = 12,
       T_LIST = 15 };

typedef struct wr {
  tg_buf *out;
  int compact;
  int rc;
  int16_t last[8]; /* compact: previous field id per open struct */
  unsigned depth;
} wr;

static void put(wr *w, const void *p, size_t n) {
  if (w->rc == TG_OK)
    w->rc = tg_buf_append(w->out, p, n);
}

static void put_byte(wr *w, uint8_t b) { put(w, &b, 1); }

static void put_varint(wr *w, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    b[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v)
      b[n] |= 0x80;
    n++;
  } while (v);
  put(w, b, n);
}

static void put_be(wr *w, uint64_t v, unsigned bytes) {
  uint8_t b[8];
  for (unsigned i = 0; i < bytes; i++)
    b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
  put(w, b, bytes);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static void put_int(wr *w, int64_t v, unsigned bytes) {
  if (w->compact)
    put_varint(w, zigzag(v));
  else
    put_be(w, (uint64_t)v, bytes);
}

static uint8_t ctype(uint8_t t, int bool_value) {
  switch (t) {
  case T_BOOL: return bool_value ? 1 : 2;
  case T_DOUBLE: return 7;
  case T_I32: return 5;
  case T_I64: return 6;
  case T_STRING: return 8;
  case T_STRUCT: return 12;
  case T_LIST: return 9;
  }
  return 0;
}

static void field(wr *w, uint8_t type, int16_t id, int bool_value) {
  if (!w->compact) {
    put_byte(w, type);
    put_be(w, (uint16_t)id, 2);
    return;
  }
  int16_t *last = &w->last[w->depth];
  int delta = id - *last;
  if (delta > 0 && delta <= 15) {
    put_byte(w, (uint8_t)(delta << 4 | ctype(type, bool_value)));
  } else {
    put_byte(w, ctype(type, bool_value));
    put_varint(w, zigzag(id));
  }
  *last = id;
}

static void struct_begin(wr *w) {
  if (w->depth + 1 >= sizeof w->last / sizeof w->last[0]) {
    w->rc = TG_EINVAL;
    return;
  }
  w->last[++w->depth] = 0;
}

static void struct_end(wr *w) {
  put_byte(w, 0); /* STOP */
  if (w->depth)
    w->depth--;
}

static void list_begin(wr *w, uint8_t elem, size_t n) {
  if (w->compact) {
    if (n < 15) {
      put_byte(w, (uint8_t)(n << 4 | ctype(elem, 1)));
    } else {
      put_byte(w, (uint8_t)(0xf0 | ctype(elem, 1)));
      put_varint(w, n);
    }
  } else {
    put_byte(w, elem);
    put_be(w, (uint32_t)n, 4);
  }
}

static void f_i64(wr *w, int16_t id, int64_t v) {
  field(w, T_I64, id, 0);
  put_int(w, v, 8);
}

static void f_i32(wr *w, int16_t id, int32_t v) {
  field(w, T_I32, id, 0);
  put_int(w, v, 4);
}

static void put_bytes(wr *w, const void *p, size_t n) {
  if (w->compact)
    put_varint(w, n);
  else
    put_be(w, (uint32_t)n, 4);
  put(w, p, n);
}

static void f_string(wr *w, int16_t id, const char *s) {
  field(w, T_STRING, id, 0);
  put_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

static int64_t half(const ProtobufCBinaryData *id, unsigned which) {
  if (id->len != 16 && !(id->len == 8 && which == 1))
    return 0;
  const uint8_t *p = id->len == 16 ? id->data + 8 * which : id->data;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return (int64_t)v;
}

static int64_t span_id(const ProtobufCBinaryData *id) {
  if (id->len != 8)
    return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | id->data[i];
  return (int64_t)v;
}

static int64_t micros(int64_t seconds, int32_t nanos) { return seconds * 1000000 + nanos / 1000; }

static void write_tag(wr *w, const tg_jaeger_kv *kv) {
  struct_begin(w);
  f_string(w, 1, kv->key);
  switch (kv->v_type) {
  case JAEGER__API_V2__VALUE_TYPE__FLOAT64: {
    f_i32(w, 2, 1);
    field(w, T_DOUBLE, 4, 0);
    uint64_t bits;
    memcpy(&bits, &kv->v_float64, sizeof bits);
    if (w->compact)
      for (int i = 0; i < 8; i++)
        put_byte(w, (uint8_t)(bits >> (8 * i)));
    else
      put_be(w, bits, 8);
    break;
  }
  case JAEGER__API_V2__VALUE_TYPE__BOOL:
    f_i32(w, 2, 2);
    field(w, T_BOOL, 5, kv->v_bool);
    if (!w->compact)
      put_byte(w, kv->v_bool ? 1 : 0);
    break;
  case JAEGER__API_V2__VALUE_TYPE__INT64:
    f_i32(w, 2, 3);
    f_i64(w, 6, kv->v_int64);
    break;
  case JAEGER__API_V2__VALUE_TYPE__BINARY:
    f_i32(w, 2, 4);
    field(w, T_STRING, 7, 0);
    put_bytes(w, kv->v_binary.data, kv->v_binary.len);
    break;
  default:
    f_i32(w, 2, 0);
    f_string(w, 3, kv->v_str);
  }
  struct_end(w);
}

static void f_tags(wr *w, int16_t id, tg_jaeger_kv *const *tags, size_t n) {
  field(w, T_LIST, id, 0);
  list_begin(w, T_STRUCT, n);
  for (size_t i = 0; i < n; i++)
    write_tag(w, tags[i]);
}

static void write_span(wr *w, const tg_jaeger_span *s) {
  struct_begin(w);
  f_i64(w, 1, half(&s->trace_id, 1));
  f_i64(w, 2, half(&s->trace_id, 0));
  f_i64(w, 3, span_id(&s->span_id));
  /* parentSpanId: the first CHILD_OF reference in the same trace (Jaeger's rule); it is
   * also kept in references, where a reader finds it again */
  int64_t parent = 0;
  for (size_t i = 0; i < s->n_references && !parent; i++) {
    const tg_jaeger_ref *r = s->references[i];
    if (r->ref_type == JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF &&
        r->trace_id.len == s->trace_id.len &&
        !memcmp(r->trace_id.data, s->trace_id.data, s->trace_id.len))
      parent = span_id(&r->span_id);
  }
  f_i64(w, 4, parent);
  f_string(w, 5, s->operation_name);
  if (s->n_references) {
    field(w, T_LIST, 6, 0);
    list_begin(w, T_STRUCT, s->n_references);
    for (size_t i = 0; i < s->n_references; i++) {
      const tg_jaeger_ref *r = s->references[i];
      struct_begin(w);
      f_i32(w, 1, r->ref_type == JAEGER__API_V2__SPAN_REF_TYPE__FOLLOWS_FROM ? 1 : 0);
      f_i64(w, 2, half(&r->trace_id, 1));
      f_i64(w, 3, half(&r->trace_id, 0));
      f_i64(w, 4, span_id(&r->span_id));
      struct_end(w);
    }
  }
  f_i32(w, 7, (int32_t)s->flags);
  f_i64(w, 8, s->start_time ? micros(s->start_time->seconds, s->start_time->nanos) : 0);
  f_i64(w, 9, s->duration ? micros(s->duration->seconds, s->duration->nanos) : 0);
  if (s->n_tags)
    f_tags(w, 10, s->tags, s->n_tags);
  if (s->n_logs) {
    field(w, T_LIST, 11, 0);
    list_begin(w, T_STRUCT, s->n_logs);
    for (size_t i = 0; i < s->n_logs; i++) {
      const tg_jaeger_log *l = s->logs[i];
      struct_begin(w);
      f_i64(w, 1, l->timestamp ? micros(l->timestamp->seconds, l->timestamp->nanos) : 0);
      f_tags(w, 2, l->fields, l->n_fields);
      struct_end(w);
    }
  }
  struct_end(w);
}

static void write_batch(wr *w, const tg_jaeger_batch *b) {
  struct_begin(w);
  field(w, T_STRUCT, 1, 0);
  struct_begin(w);
  f_string(w, 1, b->process ? b->process->service_name : "");
  if (b->process && b->process->n_tags)
    f_tags(w, 2, b->process->tags, b->process->n_tags);
  struct_end(w);
  field(w, T_LIST, 2, 0);
  list_begin(w, T_STRUCT, b->n_spans);
  for (size_t i = 0; i < b->n_spans; i++)
    write_span(w, b->spans[i]);
  struct_end(w);
}

int tg_jaeger_thrift_encode_batch(tg_buf *out, tg_thrift_protocol proto,
                                  const tg_jaeger_batch *b) {
  wr w = {.out = out, .compact = proto == TG_THRIFT_COMPACT};
  write_batch(&w, b);
  return w.rc;
}

int tg_jaeger_thrift_encode_emit_batch(tg_buf *out, tg_thrift_protocol proto,
                                       const tg_jaeger_batch *b, int32_t seqid) {
  wr w = {.out = out, .compact = proto == TG_THRIFT_COMPACT};
  static const char name[] = "emitBatch";
  if (w.compact) {
    put_byte(&w, 0x82);
    put_byte(&w, (uint8_t)(4 << 5 | 1)); /* ONEWAY, version 1 */
    put_varint(&w, (uint32_t)seqid);
    put_bytes(&w, name, sizeof name - 1);
  } else {
    put_be(&w, 0x80010004u, 4); /* strict version 1, ONEWAY */
    put_bytes(&w, name, sizeof name - 1);
    put_be(&w, (uint32_t)seqid, 4);
  }
  /* arguments struct (depth 0) with field 1 = the Batch */
  w.last[0] = 0;
  field(&w, T_STRUCT, 1, 0);
  write_batch(&w, b);
  put_byte(&w, 0);
  return w.rc;
}
