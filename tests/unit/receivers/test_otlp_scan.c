/* The OTLP wire scan and index (receivers/otlp/otlp_proto_scan.c): its field tables
 * against the protobuf-c descriptors they were written from, and a differential test
 * against the descriptor-driven walk it replaced (otlp_proto_scan_ref.c). Both must give
 * the same return code, the same error text (byte for byte, whatever err_size) and the
 * same index (every byte of tg_otlp_wire_index, on errors too) for: every file of every
 * fuzz corpus, each of its prefixes and each single-byte change of it; and a few thousand
 * generated requests — valid ones, with unknown fields, wrong wire types, field 0, group
 * wire types, non-minimal and over-long varints, duplicate singular messages, bad span
 * ids, deep AnyValue nesting and more resource_spans than the index holds — and
 * truncations, byte flips, insertions, deletions and duplicated ranges of them, each at
 * several max_depth values. The run must also meet every error text and index outcome,
 * so the generator cannot quietly stop covering one. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otlp_proto_scan_ref.h"
#include "receivers/otlp/otlp.h"
#include "receivers/otlp/otlp_proto_scan_table.h"
#include "tg_error.h"

/* ---- the tables against the descriptors ---- */

static const ProtobufCMessageDescriptor *const descriptors[TG_OTLP_SCAN_N_MSGS] = {
    [TG_OTLP_SCAN_REQUEST] =
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    [TG_OTLP_SCAN_RESOURCE_SPANS] = &opentelemetry__proto__trace__v1__resource_spans__descriptor,
    [TG_OTLP_SCAN_RESOURCE] = &opentelemetry__proto__resource__v1__resource__descriptor,
    [TG_OTLP_SCAN_SCOPE_SPANS] = &opentelemetry__proto__trace__v1__scope_spans__descriptor,
    [TG_OTLP_SCAN_SCOPE] = &opentelemetry__proto__common__v1__instrumentation_scope__descriptor,
    [TG_OTLP_SCAN_SPAN] = &opentelemetry__proto__trace__v1__span__descriptor,
    [TG_OTLP_SCAN_EVENT] = &opentelemetry__proto__trace__v1__span__event__descriptor,
    [TG_OTLP_SCAN_LINK] = &opentelemetry__proto__trace__v1__span__link__descriptor,
    [TG_OTLP_SCAN_STATUS] = &opentelemetry__proto__trace__v1__status__descriptor,
    [TG_OTLP_SCAN_KEY_VALUE] = &opentelemetry__proto__common__v1__key_value__descriptor,
    [TG_OTLP_SCAN_ANY_VALUE] = &opentelemetry__proto__common__v1__any_value__descriptor,
    [TG_OTLP_SCAN_ARRAY_VALUE] = &opentelemetry__proto__common__v1__array_value__descriptor,
    [TG_OTLP_SCAN_KEY_VALUE_LIST] =
        &opentelemetry__proto__common__v1__key_value_list__descriptor,
};

static unsigned msg_of(const ProtobufCMessageDescriptor *d) {
  for (unsigned m = 0; m < TG_OTLP_SCAN_N_MSGS; m++)
    if (descriptors[m] == d)
      return m;
  return TG_OTLP_SCAN_N_MSGS;
}

static void test_tables_match_descriptors(void **state) {
  (void)state;
  for (unsigned m = 0; m < TG_OTLP_SCAN_N_MSGS; m++) {
    const ProtobufCMessageDescriptor *d = descriptors[m];
    assert_non_null(d);
    for (unsigned i = 0; i < d->n_fields; i++)
      assert_true(d->fields[i].id < TG_OTLP_SCAN_MAX_FIELD); /* the rest are unknown */
    for (unsigned number = 0; number < TG_OTLP_SCAN_MAX_FIELD; number++) {
      const tg_otlp_scan_field *e = &tg_otlp_scan_tables[m][number];
      const ProtobufCFieldDescriptor *f =
          number ? protobuf_c_message_descriptor_get_field(d, number) : NULL;
      assert_int_equal(e->unused, 0);
      if (!f) {
        assert_int_equal(e->reject, 0);
        assert_int_equal(e->child, 0);
        assert_int_equal(e->flags, 0);
        continue;
      }
      assert_int_equal(e->reject, 0xffu & ~(1u << tg_otlp_proto_expected_wire_type_ref(f)));
      unsigned flags = 0;
      if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        unsigned child = msg_of(f->descriptor);
        assert_true(child < TG_OTLP_SCAN_N_MSGS); /* every reachable message has a table */
        assert_int_not_equal(child, TG_OTLP_SCAN_REQUEST); /* so child 0 means none */
        assert_int_equal(e->child, child);
        if (f->label != PROTOBUF_C_LABEL_REPEATED)
          flags |= TG_OTLP_SCAN_F_SINGULAR;
        if (m == TG_OTLP_SCAN_REQUEST) /* the reference's depth == 0 */
          flags |= TG_OTLP_SCAN_F_SEGMENT;
        if (child == TG_OTLP_SCAN_SPAN)
          flags |= TG_OTLP_SCAN_F_SPAN;
      } else {
        assert_int_equal(e->child, 0);
      }
      if (m == TG_OTLP_SCAN_SPAN && number == 1)
        flags |= TG_OTLP_SCAN_F_TRACE_ID;
      if (m == TG_OTLP_SCAN_SPAN && number == 2)
        flags |= TG_OTLP_SCAN_F_SPAN_ID;
      assert_int_equal(e->flags, flags);
      if (e->child == TG_OTLP_SCAN_KEY_VALUE) /* the scan's attribute path skips flags */
        assert_int_equal(e->flags, 0);
    }
  }
  /* The tables hold exactly the messages the request reaches. */
  int reached[TG_OTLP_SCAN_N_MSGS] = {[TG_OTLP_SCAN_REQUEST] = 1};
  for (int changed = 1; changed;) {
    changed = 0;
    for (unsigned m = 0; m < TG_OTLP_SCAN_N_MSGS; m++)
      for (unsigned number = 0; reached[m] && number < TG_OTLP_SCAN_MAX_FIELD; number++) {
        unsigned child = tg_otlp_scan_tables[m][number].child;
        if (child && !reached[child])
          reached[child] = changed = 1;
      }
  }
  for (unsigned m = 0; m < TG_OTLP_SCAN_N_MSGS; m++)
    assert_true(reached[m]);
}

/* ---- the differential test ---- */

enum { N_TEXTS = 8 };
static const char *const error_texts[N_TEXTS] = {
    "truncated or over-long field tag", "invalid field number",
    "field with the wrong wire type",   "unsupported wire type",
    "truncated varint",                 "truncated fixed-width field",
    "truncated length-delimited field", "messages nested too deeply",
};

typedef struct outcomes {
  size_t inputs, ok, texts[N_TEXTS], overflow, merges, invalid_spans, segments;
} outcomes;

static outcomes seen;

static void note(int rc, const char *err, const tg_otlp_wire_index *idx) {
  seen.inputs++;
  if (rc == TG_OK) {
    seen.ok++;
    seen.overflow += idx->overflow != 0;
    seen.merges += idx->merges != 0;
    seen.invalid_spans += idx->invalid_spans != 0;
    seen.segments += idx->n;
    return;
  }
  for (unsigned i = 0; i < N_TEXTS; i++)
    if (strstr(err, error_texts[i]))
      seen.texts[i]++;
}

/* Both implementations on the same bytes, copied to a buffer of exactly their size so
 * ASan sees any read past the end. */
static void compare_depth(const uint8_t *data, size_t len, unsigned max_depth) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len)
    memcpy(copy, data, len);
  const uint8_t *in = len ? copy : NULL;
  char got[160], want[160];
  memset(got, 0x5a, sizeof got);
  memset(want, 0x5a, sizeof want);
  int rc = tg_otlp_proto_scan(in, len, max_depth, got, sizeof got);
  assert_int_equal(rc, tg_otlp_proto_scan_ref(in, len, max_depth, want, sizeof want));
  assert_memory_equal(got, want, sizeof got);

  tg_otlp_wire_index a, b;
  memset(&a, 0xa5, sizeof a);
  memset(&b, 0xa5, sizeof b);
  memset(got, 0x5a, sizeof got);
  memset(want, 0x5a, sizeof want);
  rc = tg_otlp_proto_index(in, len, max_depth, got, sizeof got, &a);
  int rc_ref = tg_otlp_proto_index_ref(in, len, max_depth, want, sizeof want, &b);
  if (rc != rc_ref || memcmp(got, want, sizeof got) || memcmp(&a, &b, sizeof a))
    fail_msg("index differs on %zu bytes at max_depth %u: rc %d/%d, err \"%.*s\" / "
             "\"%.*s\", n %zu/%zu, invalid %zu/%zu, overflow %d/%d, merges %d/%d",
             len, max_depth, rc, rc_ref, rc ? 100 : 0, got, rc_ref ? 100 : 0, want, a.n, b.n,
             a.invalid_spans, b.invalid_spans, a.overflow, b.overflow, a.merges, b.merges);
  note(rc, got, &a);

  /* A short error buffer truncates both the same way, and none is written without one. */
  char small_got[12], small_want[12];
  memset(small_got, 0x5a, sizeof small_got);
  memset(small_want, 0x5a, sizeof small_want);
  assert_int_equal(tg_otlp_proto_index(in, len, max_depth, small_got, sizeof small_got, &a),
                   tg_otlp_proto_index_ref(in, len, max_depth, small_want, sizeof small_want,
                                           &b));
  assert_memory_equal(small_got, small_want, sizeof small_got);
  assert_int_equal(tg_otlp_proto_scan(in, len, max_depth, NULL, 0),
                   tg_otlp_proto_scan_ref(in, len, max_depth, NULL, 0));
  free(copy);
}

static void compare(const uint8_t *data, size_t len) {
  compare_depth(data, len, TG_OTLP_PROTO_MAX_DEPTH);
}

/* splitmix64: a fixed seed, so every run tests the same inputs. */
static uint64_t rng_state = 0x7461696c67617465u;

static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static unsigned below(unsigned n) {
  return (unsigned)(rnd() % n);
}

typedef struct bytes {
  uint8_t *data;
  size_t len, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->data = realloc(b->data, b->cap);
    assert_non_null(b->data);
  }
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void put_byte(bytes *b, uint8_t c) {
  put(b, &c, 1);
}

/* v in at least `width` bytes: wider than needed is a non-minimal encoding (0x80 ... 0x00
 * padding), up to and past what protobuf-c accepts. */
static void put_varint_wide(bytes *b, uint64_t v, unsigned width) {
  unsigned need = 1;
  for (uint64_t x = v >> 7; x; x >>= 7)
    need++;
  unsigned total = width > need ? width : need;
  for (unsigned i = 0; i < total; i++) {
    uint64_t group = 7 * i < 64 ? (v >> (7 * i)) & 0x7f : 0;
    put_byte(b, (uint8_t)(group | (i + 1 < total ? 0x80 : 0)));
  }
}

/* Whether the request being generated may hold malformed fields; half of them do not,
 * so that well-formed requests (and their index) are well covered too. */
static int dirty;

/* Mostly minimal; now and then padded to 2..5 bytes (what protobuf-c accepts), or in a
 * dirty request up to 11. */
static void put_varint(bytes *b, uint64_t v) {
  put_varint_wide(b, v, below(100) < 2 ? 2 + below(dirty ? 10 : 4) : 1);
}

static void put_tag(bytes *b, uint64_t number, unsigned wire) {
  put_varint(b, number << 3 | wire);
}

static void put_len_field(bytes *b, uint64_t number, const bytes *body) {
  put_tag(b, number, 2);
  put_varint(b, body->len);
  put(b, body->data, body->len);
}

static void put_random_bytes(bytes *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    put_byte(b, (uint8_t)rnd());
}

/* An id: usually valid, sometimes all zero or of the wrong length. */
static void put_id(bytes *b, uint64_t number, size_t want) {
  bytes id = {0};
  unsigned pick = below(10);
  size_t n = pick == 0 ? below(20) : want;
  if (pick == 1)
    put(&id, (const uint8_t[16]){0}, n);
  else
    put_random_bytes(&id, n);
  put_len_field(b, number, &id);
  free(id.data);
}

static void gen_message(bytes *out, unsigned msg, unsigned budget);

/* A value for a field of the wire type it is declared with. */
static void put_value(bytes *out, unsigned wire, unsigned child, unsigned budget) {
  switch (wire) {
  case 0:
    switch (below(6)) {
    case 0: put_varint(out, rnd()); break;                     /* up to 10 bytes */
    case 1: put_varint_wide(out, 0, 10); break;                /* padded to the limit */
    case 2: /* the 10th byte > 1: too big for 64 bits */
      if (dirty) {
        put(out, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
        break;
      }
      /* fall through */
    default: put_varint(out, below(300)); break;
    }
    break;
  case 1: put_random_bytes(out, 8); break;
  case 5: put_random_bytes(out, 4); break;
  case 2: {
    bytes body = {0};
    if (child && budget)
      gen_message(&body, child, budget - 1);
    else
      put_random_bytes(&body, below(8) ? below(24) : 100 + below(200)); /* 2-byte lengths */
    put_varint(out, body.len);
    put(out, body.data, body.len);
    free(body.data);
    break;
  }
  default: /* a group or reserved wire type: the scan stops here anyway */
    put_random_bytes(out, below(4));
    break;
  }
}

static unsigned declared_wire(const tg_otlp_scan_field *e) {
  for (unsigned w = 0; w < 8; w++)
    if (!(e->reject >> w & 1))
      return w;
  return 0;
}

static const uint64_t odd_numbers[] = {17, 31, 32, 100, 1000, 536870911u, 536870912u,
                                       0xffffffffu};

/* A message of kind msg whose fields are mostly its own, well formed. */
static void gen_message(bytes *out, unsigned msg, unsigned budget) {
  const tg_otlp_scan_field *table = tg_otlp_scan_tables[msg];
  unsigned known[TG_OTLP_SCAN_MAX_FIELD], n_known = 0;
  for (unsigned number = 1; number < TG_OTLP_SCAN_MAX_FIELD; number++)
    if (table[number].reject)
      known[n_known++] = number;
  unsigned fields = msg == TG_OTLP_SCAN_SPAN ? 4 + below(14) : below(5);
  if (msg == TG_OTLP_SCAN_SPAN) { /* ids first, as real exporters write them */
    put_id(out, 1, 16);
    put_id(out, 2, 8);
  }
  for (unsigned i = 0; i < fields; i++) {
    unsigned pick = below(100);
    if ((pick < 88 || !dirty) && n_known) {
      unsigned number = known[below(n_known)];
      const tg_otlp_scan_field *e = &table[number];
      if (e->flags & (TG_OTLP_SCAN_F_TRACE_ID | TG_OTLP_SCAN_F_SPAN_ID)) {
        put_id(out, number, e->flags & TG_OTLP_SCAN_F_TRACE_ID ? 16 : 8);
        continue;
      }
      unsigned wire = declared_wire(e);
      put_tag(out, number, wire);
      put_value(out, wire, e->child, budget);
      if ((e->flags & TG_OTLP_SCAN_F_SINGULAR) && below(8) == 0) { /* a second one: merge */
        put_tag(out, number, wire);
        put_value(out, wire, e->child, budget);
      }
    } else if (pick < 94) { /* a number the message does not define */
      uint64_t number = below(2) ? 1 + below(40) : odd_numbers[below(8)];
      static const unsigned skippable[] = {0, 1, 2, 5};
      unsigned wire = skippable[below(4)];
      put_tag(out, number, wire);
      put_value(out, wire, 0, 0);
    } else if (pick < 97 && n_known) { /* a known field with another wire type */
      unsigned number = known[below(n_known)];
      unsigned wire = below(8);
      put_tag(out, number, wire);
      put_value(out, wire, table[number].child, budget);
    } else if (pick < 98) { /* field number 0, in one byte or padded */
      put_varint_wide(out, below(8), 1 + below(3));
      put_value(out, 0, 0, 0);
    } else if (pick < 99) { /* a group or reserved wire type */
      static const unsigned bad[] = {3, 4, 6, 7};
      put_tag(out, 1 + below(20), bad[below(4)]);
    } else { /* an over-long tag: 6 bytes */
      put_varint_wide(out, (uint64_t)(1 + below(20)) << 3, 6);
    }
  }
}

/* AnyValue{array_value{values: AnyValue{...}}} levels deep, as a Span's attribute. */
static void gen_deep(bytes *out, unsigned levels) {
  bytes v = {0}, w = {0};
  put_tag(&v, 1, 2);
  put_varint(&v, 1);
  put_byte(&v, 'x');
  for (unsigned i = 0; i < levels; i++) {
    w.len = 0;
    put_len_field(&w, 1, &v); /* ArrayValue.values */
    v.len = 0;
    put_len_field(&v, below(4) ? 5 : 6, &w); /* AnyValue.array_value (or a kvlist) */
  }
  bytes kv = {0}, span = {0}, ss = {0}, rs = {0};
  put_tag(&kv, 1, 2);
  put_varint(&kv, 1);
  put_byte(&kv, 'k');
  put_len_field(&kv, 2, &v);
  put_id(&span, 1, 16);
  put_id(&span, 2, 8);
  put_len_field(&span, 9, &kv);
  put_len_field(&ss, 2, &span);
  put_len_field(&rs, 2, &ss);
  put_len_field(out, 1, &rs);
  free(v.data);
  free(w.data);
  free(kv.data);
  free(span.data);
  free(ss.data);
  free(rs.data);
}

static void gen_request(bytes *out) {
  out->len = 0;
  dirty = below(2);
  unsigned pick = below(100);
  if (pick < 4) {
    static const unsigned depths[] = {20, 48, 49, 50, 51, 60, 130, 200};
    gen_deep(out, depths[below(8)]);
    return;
  }
  unsigned entries = pick < 14 ? TG_OTLP_WIRE_MAX_SEGMENTS - 2 + below(5) : below(4);
  for (unsigned i = 0; i < entries; i++) {
    bytes rs = {0};
    if (entries > 8) { /* many small entries: one span each */
      bytes span = {0}, ss = {0};
      put_id(&span, 1, 16);
      put_id(&span, 2, 8);
      put_len_field(&ss, 2, &span);
      put_len_field(&rs, 2, &ss);
      free(span.data);
      free(ss.data);
    } else {
      gen_message(&rs, TG_OTLP_SCAN_RESOURCE_SPANS, 6);
    }
    put_len_field(out, 1, &rs);
    free(rs.data);
  }
  if (below(20) == 0) /* an unknown field of the request itself */
    put(out, "\x10\x01", 2);
}

static void compare_mutations(const bytes *req) {
  if (!req->len)
    return;
  bytes m = {0};
  for (unsigned k = 0; k < 4; k++) {
    m.len = 0;
    put(&m, req->data, req->len);
    size_t at = below((unsigned)m.len);
    switch (below(6)) {
    case 0: m.len = at; break; /* truncated */
    case 1: m.data[at] = (uint8_t)rnd(); break;
    case 2: m.data[at] ^= (uint8_t)(1u << below(8)); break;
    case 3: { /* a byte inserted */
      put_byte(&m, 0);
      memmove(m.data + at + 1, m.data + at, m.len - at - 1);
      m.data[at] = (uint8_t)rnd();
      break;
    }
    case 4: { /* a range deleted */
      size_t n = below(8);
      if (n > m.len - at)
        n = m.len - at;
      memmove(m.data + at, m.data + at + n, m.len - at - n);
      m.len -= n;
      break;
    }
    default: { /* a range repeated in place */
      size_t n = below(64);
      if (n > m.len - at)
        n = m.len - at;
      bytes tail = {0};
      put(&tail, m.data + at, m.len - at);
      m.len = at + n;
      put(&m, tail.data, tail.len);
      free(tail.data);
      break;
    }
    }
    compare(m.data, m.len);
  }
  free(m.data);
}

static void test_generated_requests(void **state) {
  (void)state;
  bytes req = {0};
  for (unsigned i = 0; i < 10000; i++) {
    gen_request(&req);
    compare(req.data, req.len);
    compare_depth(req.data, req.len, below(12));
    compare_depth(req.data, req.len, 250 + below(20)); /* past the explicit stack's 256 */
    compare_mutations(&req);
  }
  free(req.data);
  compare(NULL, 0);
  compare_depth(NULL, 0, 0);
}

/* A request whose one span has the attribute kv (a KeyValue's bytes, whatever they are),
 * or with run set, an attribute and then the bytes kv (the span's fields that follow it:
 * further attributes, tags and lengths included). */
static void wrap_attribute(bytes *out, const uint8_t *kv, size_t kv_len, int run) {
  bytes attr = {.data = (uint8_t *)kv, .len = kv_len}, span = {0}, ss = {0}, rs = {0};
  out->len = 0;
  put(&span, "\x0a\x10" "0123456789abcdef" "\x12\x08" "01234567", 28);
  if (run) {
    put(&span, "\x4a\x03\x0a\x01" "a", 5);
    put(&span, kv, kv_len);
  } else {
    put_len_field(&span, 9, &attr);
  }
  put_len_field(&ss, 2, &span);
  put_len_field(&rs, 2, &ss);
  put_len_field(out, 1, &rs);
  free(span.data);
  free(ss.data);
  free(rs.data);
}

static void put_string_field(bytes *b, uint64_t number, size_t n, char fill) {
  put_tag(b, number, 2);
  put_varint_wide(b, n, 1);
  for (size_t i = 0; i < n; i++)
    put_byte(b, (uint8_t)fill);
}

/* Attributes around every edge of the scan's inline KeyValue path: each seed, each of its
 * truncations and each of its bytes set to values that are tags, lengths or varint edges,
 * as a span's attribute, at max_depth values on both sides of the attribute's depth. */
static void test_key_value_shapes(void **state) {
  (void)state;
  bytes seeds[64] = {{0}};
  unsigned n = 0;
  bytes *b;
  b = &seeds[n++]; /* key, string_value */
  put_string_field(b, 1, 1, 'k');
  put(b, "\x12\x03\x0a\x01v", 5);
  b = &seeds[n++]; /* the longest one-byte lengths */
  put_string_field(b, 1, 127, 'k');
  bytes any = {0};
  put_string_field(&any, 1, 125, 'v');
  put_len_field(b, 2, &any);
  b = &seeds[n++]; /* two-byte lengths */
  put_string_field(b, 1, 128, 'k');
  any.len = 0;
  put_string_field(&any, 7, 200, 'v');
  put_len_field(b, 2, &any);
  b = &seeds[n++]; /* a two-byte key length (130) whose first byte, read as one, fits */
  put(b, "\x0a\x82\x01", 3);
  for (unsigned i = 0; i < 129; i++)
    put_byte(b, 'a');
  for (unsigned width = 1; width <= 11; width++) { /* int_value and bool_value varints */
    b = &seeds[n++];
    put_string_field(b, 1, 3, 'k');
    any.len = 0;
    put_tag(&any, width % 2 ? 3 : 2, 0);
    put_varint_wide(&any, width == 10 ? 1 : 0, width);
    put_len_field(b, 2, &any);
  }
  b = &seeds[n++]; /* double_value */
  put_string_field(b, 1, 2, 'k');
  put(b, "\x12\x09\x21" "12345678", 11);
  b = &seeds[n++]; /* an empty AnyValue, then only a key, then nothing */
  put(b, "\x0a\x01k\x12\x00", 5);
  b = &seeds[n++];
  put(b, "\x0a\x01k", 3);
  b = &seeds[n++];
  b = &seeds[n++]; /* an AnyValue of a tag alone, the last byte of the request */
  put(b, "\x0a\x01k\x12\x01\x0a", 6);
  b = &seeds[n++]; /* value before key, key twice, value twice */
  put(b, "\x12\x03\x0a\x01v\x0a\x01k\x0a\x01k\x12\x02\x10\x01", 14);
  b = &seeds[n++]; /* an array inside: the loop's own path */
  put(b, "\x0a\x01k\x12\x09\x2a\x07\x0a\x05\x0a\x03\x0a\x01v", 14);
  b = &seeds[n++]; /* unknown fields in both */
  put(b, "\x0a\x01k\x28\x01\x12\x04\x0a\x00\x40\x01", 10);
  unsigned n_single = n;
  /* Runs of attributes: each seed above as a Span.attributes field... */
  for (unsigned i = 0; i < n_single; i++)
    put_len_field(&seeds[n++], 9, &seeds[i]);
  /* ... and a two-byte length (0x85 0x0a: 1285) whose first byte, read as one (133), is
   * the length of the well-formed KeyValue that follows. */
  b = &seeds[n++];
  put(b, "\x4a\x85", 2);
  put_string_field(b, 1, 60, 'k');
  put(b, "\x12\x45", 2);
  put_string_field(b, 1, 67, 'v');
  b = &seeds[n++]; /* a non-minimal tag, then a minimal one */
  put(b, "\xca\x00\x03\x0a\x01k\x4a\x03\x0a\x01k", 11);
  assert_true(n <= 64);
  static const uint8_t values[] = {0x00, 0x01, 0x02, 0x03, 0x08, 0x0a, 0x10, 0x12, 0x18,
                                   0x21, 0x22, 0x2a, 0x3a, 0x7f, 0x80, 0x81, 0x82, 0xff};
  static const unsigned depths[] = {TG_OTLP_PROTO_MAX_DEPTH, 3, 4, 5, 6, 7};
  bytes req = {0}, m = {0};
  for (unsigned i = 0; i < n; i++) {
    const bytes *seed = &seeds[i];
    int run = i >= n_single;
    for (unsigned d = 0; d < sizeof depths / sizeof *depths; d++) {
      wrap_attribute(&req, seed->data, seed->len, run);
      compare_depth(req.data, req.len, depths[d]);
    }
    for (size_t cut = 0; cut < seed->len; cut++) {
      wrap_attribute(&req, seed->data, cut, run);
      compare(req.data, req.len);
    }
    for (size_t at = 0; at < seed->len; at++)
      for (unsigned v = 0; v < sizeof values; v++) {
        m.len = 0;
        put(&m, seed->data, seed->len);
        m.data[at] = values[v];
        wrap_attribute(&req, m.data, m.len, run);
        compare(req.data, req.len);
      }
    free(seeds[i].data);
  }
  free(any.data);
  free(req.data);
  free(m.data);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  bytes b = {0};
  uint8_t chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    put(&b, chunk, n);
  fclose(f);
  *len = b.len;
  return b.data ? b.data : calloc(1, 1);
}

/* Every fuzz corpus, not only otlp_proto's: any bytes must get the same answers. */
static void test_fuzz_corpora(void **state) {
  (void)state;
  const char *data_dir = getenv("TG_TEST_DATA");
  if (!data_dir)
    fail_msg("TG_TEST_DATA is not set");
  char root[4096];
  snprintf(root, sizeof root, "%s/../fuzz", data_dir);
  DIR *targets = opendir(root);
  if (!targets)
    fail_msg("cannot open %s", root);
  size_t files = 0, otlp_files = 0;
  struct dirent *t;
  while ((t = readdir(targets))) {
    if (t->d_name[0] == '.')
      continue;
    char dir[4096 + 300];
    snprintf(dir, sizeof dir, "%s/%s/corpus", root, t->d_name);
    DIR *corpus = opendir(dir);
    if (!corpus)
      continue;
    struct dirent *e;
    while ((e = readdir(corpus))) {
      if (e->d_name[0] == '.')
        continue;
      char path[sizeof dir + 300];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      size_t len;
      uint8_t *data = slurp(path, &len);
      if (!data)
        continue;
      files++;
      otlp_files += !strcmp(t->d_name, "otlp_proto");
      for (size_t cut = 0; cut <= len; cut++)
        compare(data, cut);
      for (size_t at = 0; at < len; at++) {
        uint8_t was = data[at];
        data[at] = (uint8_t)(was + 1 + below(255));
        compare(data, len);
        data[at] = was;
      }
      compare_depth(data, len, 2);
      free(data);
    }
    closedir(corpus);
  }
  closedir(targets);
  assert_true(files > 50);
  assert_true(otlp_files > 0);
}

/* Runs last: every outcome the differential tests were meant to reach was reached. */
static void test_outcomes_covered(void **state) {
  (void)state;
  print_message("%zu inputs, %zu ok, %zu overflow, %zu merges, %zu with invalid spans\n",
                seen.inputs, seen.ok, seen.overflow, seen.merges, seen.invalid_spans);
  for (unsigned i = 0; i < N_TEXTS; i++) {
    print_message("%-36s %zu\n", error_texts[i], seen.texts[i]);
    assert_true(seen.texts[i] > 0);
  }
  assert_true(seen.ok > 1000);
  assert_true(seen.overflow > 0);
  assert_true(seen.merges > 0);
  assert_true(seen.invalid_spans > 0);
  assert_true(seen.segments > 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tables_match_descriptors),
      cmocka_unit_test(test_generated_requests),
      cmocka_unit_test(test_key_value_shapes),
      cmocka_unit_test(test_fuzz_corpora),
      cmocka_unit_test(test_outcomes_covered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
