/* The Jaeger Thrift decoder (receivers/jaeger/jaeger_thrift.c) and encoder
 * (exporters/jaeger/jaeger_thrift_encode.c): hand-written wire bytes of both protocols
 * (independent of our encoder), encode → decode round trips of a batch with every
 * field, and rejection of what is malformed: every truncation, missing required fields,
 * sizes larger than the input, too deep nesting, other Agent methods, trailing bytes.
 * Mutated inputs must decode or fail cleanly (ASan/UBSan watch in build-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "exporters/jaeger/jaeger_thrift_encode.h"
#include "receivers/jaeger/jaeger_thrift.h"
#include "tg_alloc.h"
#include "tg_error.h"

static int decode(tg_thrift_protocol p, const uint8_t *d, size_t n, tg_jaeger_batch **out,
                  tg_arena **arena, char *err) {
  *arena = tg_arena_new(0, 1u << 24);
  return tg_jaeger_thrift_decode_batch(*arena, p, d, n, out, err, 200);
}

/* Batch{process{serviceName "a"}, spans[{traceIdLow 5, high 0, spanId 6, parent 0,
 * "o", flags 1, start 10, duration 3}]}, written by hand from the protocol specs. */
static const uint8_t binary_min[] = {
    0x0c, 0x00, 0x01,                                     /* 1: Process struct */
    0x0b, 0x00, 0x01, 0, 0, 0, 1, 'a', 0x00,              /* serviceName, STOP */
    0x0f, 0x00, 0x02, 0x0c, 0, 0, 0, 1,                   /* 2: list<struct> of 1 */
    0x0a, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 5,             /* traceIdLow */
    0x0a, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0,             /* traceIdHigh */
    0x0a, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 6,             /* spanId */
    0x0a, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0,             /* parentSpanId */
    0x0b, 0x00, 0x05, 0, 0, 0, 1, 'o',                    /* operationName */
    0x08, 0x00, 0x07, 0, 0, 0, 1,                         /* flags */
    0x0a, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 10,            /* startTime */
    0x0a, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 3,             /* duration */
    0x00,                                                 /* Span STOP */
    0x00,                                                 /* Batch STOP */
};

static const uint8_t compact_min[] = {
    0x1c,                   /* +1 struct: Process */
    0x18, 0x01, 'a', 0x00,  /* +1 binary "a", STOP */
    0x19, 0x1c,             /* +1 list, 1 x struct */
    0x16, 0x0a,             /* +1 i64 traceIdLow = zigzag(5) */
    0x16, 0x00, 0x16, 0x0c, /* traceIdHigh 0, spanId 6 */
    0x16, 0x00,             /* parentSpanId 0 */
    0x18, 0x01, 'o',        /* operationName */
    0x25, 0x02,             /* +2 i32 flags = 1 */
    0x16, 0x14, 0x16, 0x06, /* startTime 10, duration 3 */
    0x00, 0x00,
};

static void check_min(const tg_jaeger_batch *b) {
  assert_string_equal(b->process->service_name, "a");
  assert_int_equal(b->n_spans, 1);
  const tg_jaeger_span *s = b->spans[0];
  static const uint8_t tid[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
  assert_int_equal(s->trace_id.len, 16);
  assert_memory_equal(s->trace_id.data, tid, 16);
  assert_int_equal(s->span_id.data[7], 6);
  assert_string_equal(s->operation_name, "o");
  assert_int_equal(s->flags, 1);
  assert_int_equal(s->start_time->seconds, 0);
  assert_int_equal(s->start_time->nanos, 10000);
  assert_int_equal(s->duration->nanos, 3000);
  assert_int_equal(s->n_references, 0); /* parentSpanId 0: no parent */
}

static void test_hand_written(void **state) {
  (void)state;
  tg_jaeger_batch *b;
  tg_arena *a;
  char err[200];
  assert_int_equal(decode(TG_THRIFT_BINARY, binary_min, sizeof binary_min, &b, &a, err), TG_OK);
  check_min(b);
  tg_arena_unref(a);
  assert_int_equal(decode(TG_THRIFT_COMPACT, compact_min, sizeof compact_min, &b, &a, err),
                   TG_OK);
  check_min(b);
  tg_arena_unref(a);
  /* the wrong protocol is rejected, not misread */
  assert_int_equal(decode(TG_THRIFT_COMPACT, binary_min, sizeof binary_min, &b, &a, err),
                   TG_EDECODE);
  tg_arena_unref(a);
}

static void test_every_truncation_rejected(void **state) {
  (void)state;
  const uint8_t *in[] = {binary_min, compact_min};
  size_t len[] = {sizeof binary_min, sizeof compact_min};
  for (int p = 0; p < 2; p++) {
    for (size_t n = 0; n < len[p]; n++) {
      tg_jaeger_batch *b;
      tg_arena *a;
      char err[200];
      int rc = decode(p ? TG_THRIFT_COMPACT : TG_THRIFT_BINARY, in[p], n, &b, &a, err);
      if (rc != TG_EDECODE)
        fail_msg("protocol %d: prefix of %zu bytes gave %d", p, n, rc);
      assert_null(b);
      assert_true(!strncmp(err, "malformed thrift: ", 18));
      tg_arena_unref(a);
    }
  }
}

/* A rich model batch: every tag type, logs, references with the parent first. */
typedef struct rich {
  tg_arena *a;
  tg_jaeger_batch b;
  tg_jaeger_process p;
  tg_jaeger_span s, *spans[1];
  tg_jaeger_kv kv[6], *tags[6], *ptags[1];
  tg_jaeger_log log, *logs[1];
  tg_jaeger_kv *lfields[2];
  tg_jaeger_ref r[2], *refs[2];
  Google__Protobuf__Timestamp start, lts;
  Google__Protobuf__Duration dur;
  uint8_t tid[16], sid[8], pid[8], oid[8];
} rich;

static void make_rich(rich *x) {
  memset(x, 0, sizeof *x);
  jaeger__api_v2__batch__init(&x->b);
  jaeger__api_v2__process__init(&x->p);
  jaeger__api_v2__span__init(&x->s);
  jaeger__api_v2__log__init(&x->log);
  google__protobuf__timestamp__init(&x->start);
  google__protobuf__timestamp__init(&x->lts);
  google__protobuf__duration__init(&x->dur);
  for (int i = 0; i < 16; i++)
    x->tid[i] = (uint8_t)(0xf0 - i);
  for (int i = 0; i < 8; i++) {
    x->sid[i] = (uint8_t)(i + 1);
    x->pid[i] = (uint8_t)(i + 0x11);
    x->oid[i] = (uint8_t)(i + 0x21);
  }
  const char *keys[] = {"s", "b", "i", "d", "x", "neg"};
  for (int i = 0; i < 6; i++) {
    jaeger__api_v2__key_value__init(&x->kv[i]);
    x->kv[i].key = (char *)keys[i];
    x->tags[i] = &x->kv[i];
  }
  x->kv[0].v_str = "héllo";
  x->kv[1].v_type = JAEGER__API_V2__VALUE_TYPE__BOOL;
  x->kv[1].v_bool = 1;
  x->kv[2].v_type = JAEGER__API_V2__VALUE_TYPE__INT64;
  x->kv[2].v_int64 = INT64_MIN;
  x->kv[3].v_type = JAEGER__API_V2__VALUE_TYPE__FLOAT64;
  x->kv[3].v_float64 = -1.25e300;
  x->kv[4].v_type = JAEGER__API_V2__VALUE_TYPE__BINARY;
  static uint8_t bin[] = {0, 1, 0xff};
  x->kv[4].v_binary = (ProtobufCBinaryData){3, bin};
  x->kv[5].v_type = JAEGER__API_V2__VALUE_TYPE__BOOL;
  x->kv[5].v_bool = 0;
  x->p.service_name = "svc";
  x->ptags[0] = &x->kv[2];
  x->p.tags = x->ptags;
  x->p.n_tags = 1;
  x->b.process = &x->p;
  x->spans[0] = &x->s;
  x->b.spans = x->spans;
  x->b.n_spans = 1;
  x->s.trace_id = (ProtobufCBinaryData){16, x->tid};
  x->s.span_id = (ProtobufCBinaryData){8, x->sid};
  x->s.operation_name = "GET /things";
  x->s.flags = 3;
  x->start.seconds = 1700000000;
  x->start.nanos = 123456000;
  x->s.start_time = &x->start;
  x->dur.seconds = 2;
  x->dur.nanos = 5000;
  x->s.duration = &x->dur;
  x->s.tags = x->tags;
  x->s.n_tags = 6;
  for (int i = 0; i < 2; i++) {
    jaeger__api_v2__span_ref__init(&x->r[i]);
    x->refs[i] = &x->r[i];
    x->r[i].trace_id = x->s.trace_id;
  }
  x->r[0].span_id = (ProtobufCBinaryData){8, x->pid};
  x->r[1].span_id = (ProtobufCBinaryData){8, x->oid};
  x->r[1].ref_type = JAEGER__API_V2__SPAN_REF_TYPE__FOLLOWS_FROM;
  x->s.references = x->refs;
  x->s.n_references = 2;
  x->lts.seconds = 1700000001;
  x->lts.nanos = 1000;
  x->log.timestamp = &x->lts;
  x->lfields[0] = &x->kv[0];
  x->lfields[1] = &x->kv[3];
  x->log.fields = x->lfields;
  x->log.n_fields = 2;
  x->logs[0] = &x->log;
  x->s.logs = x->logs;
  x->s.n_logs = 1;
}

static uint8_t *pack_batch(const tg_jaeger_batch *b, size_t *n) {
  *n = jaeger__api_v2__batch__get_packed_size(b);
  uint8_t *out = tg_malloc(*n);
  jaeger__api_v2__batch__pack(b, out);
  return out;
}

static void test_round_trip_both_protocols(void **state) {
  (void)state;
  rich x;
  make_rich(&x);
  size_t wl;
  uint8_t *want = pack_batch(&x.b, &wl);
  for (int p = 0; p < 2; p++) {
    tg_buf buf;
    tg_buf_init(&buf, 0);
    assert_int_equal(tg_jaeger_thrift_encode_batch(&buf, (tg_thrift_protocol)p, &x.b), TG_OK);
    tg_jaeger_batch *b;
    tg_arena *a;
    char err[200];
    assert_int_equal(decode((tg_thrift_protocol)p, buf.data, buf.len, &b, &a, err), TG_OK);
    size_t gl;
    uint8_t *got = pack_batch(b, &gl);
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
    tg_free(got);
    tg_arena_unref(a);
    /* the same batch as an emitBatch datagram; and every prefix of it is rejected */
    tg_buf_free(&buf);
    tg_buf_init(&buf, 0);
    assert_int_equal(tg_jaeger_thrift_encode_emit_batch(&buf, (tg_thrift_protocol)p, &x.b, 7),
                     TG_OK);
    for (size_t n = 0; n <= buf.len; n++) {
      a = tg_arena_new(0, 0);
      int rc = tg_jaeger_thrift_decode_emit_batch(a, (tg_thrift_protocol)p, buf.data, n, &b,
                                                  err, sizeof err);
      if (n == buf.len) {
        assert_int_equal(rc, TG_OK);
        got = pack_batch(b, &gl);
        assert_int_equal(gl, wl);
        assert_memory_equal(got, want, wl);
        tg_free(got);
      } else if (rc != TG_EDECODE) {
        fail_msg("protocol %d: emitBatch prefix of %zu/%zu bytes gave %d", p, n, buf.len, rc);
      }
      tg_arena_unref(a);
    }
    tg_buf_free(&buf);
  }
  tg_free(want);
}

/* parentSpanId with no matching reference becomes the first CHILD_OF reference. */
static void test_parent_span_id_adds_reference(void **state) {
  (void)state;
  uint8_t data[sizeof binary_min];
  memcpy(data, binary_min, sizeof data);
  data[63] = 9; /* last byte of parentSpanId (offsets: see binary_min) */
  assert_int_equal(data[53], 0x0a);
  assert_int_equal(data[55], 0x04);
  tg_jaeger_batch *b;
  tg_arena *a;
  char err[200];
  assert_int_equal(decode(TG_THRIFT_BINARY, data, sizeof data, &b, &a, err), TG_OK);
  assert_int_equal(b->spans[0]->n_references, 1);
  assert_int_equal(b->spans[0]->references[0]->ref_type, JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF);
  assert_int_equal(b->spans[0]->references[0]->span_id.data[7], 9);
  assert_memory_equal(b->spans[0]->references[0]->trace_id.data, b->spans[0]->trace_id.data, 16);
  tg_arena_unref(a);
}

static void expect_error(tg_thrift_protocol p, const uint8_t *d, size_t n, const char *what) {
  tg_jaeger_batch *b;
  tg_arena *a;
  char err[200];
  int rc = decode(p, d, n, &b, &a, err);
  tg_arena_unref(a);
  if (rc != TG_EDECODE)
    fail_msg("expected an error containing \"%s\", got rc %d", what, rc);
  if (!strstr(err, what))
    fail_msg("expected an error containing \"%s\", got \"%s\"", what, err);
}

static void test_malformed(void **state) {
  (void)state;
  uint8_t d[256];
  /* compact: Span without operationName (bytes of the name field removed) */
  size_t n = 0;
  memcpy(d, compact_min, 15);
  n = 15;
  d[n++] = 0x35; /* +3 from field 4: flags (7) */
  d[n++] = 0x02;
  memcpy(d + n, compact_min + 20, sizeof compact_min - 20);
  n += sizeof compact_min - 20;
  expect_error(TG_THRIFT_COMPACT, d, n, "Span lacks a required field");
  /* binary: list claiming 2^31-1 spans */
  memcpy(d, binary_min, sizeof binary_min);
  d[16] = 0x7f, d[17] = 0xff, d[18] = 0xff, d[19] = 0xff;
  expect_error(TG_THRIFT_BINARY, d, sizeof binary_min, "container larger than the input");
  /* binary: negative string length */
  memcpy(d, binary_min, sizeof binary_min);
  d[6] = 0xff;
  expect_error(TG_THRIFT_BINARY, d, sizeof binary_min, "negative string length");
  /* trailing bytes */
  memcpy(d, binary_min, sizeof binary_min);
  d[sizeof binary_min] = 0;
  expect_error(TG_THRIFT_BINARY, d, sizeof binary_min + 1, "trailing bytes");
  /* Batch without process */
  static const uint8_t no_process[] = {0x0f, 0x00, 0x02, 0x0c, 0, 0, 0, 0, 0x00};
  expect_error(TG_THRIFT_BINARY, no_process, sizeof no_process, "Batch lacks");
  /* unknown field type */
  static const uint8_t bad_type[] = {0x07, 0x00, 0x01, 0x00};
  expect_error(TG_THRIFT_BINARY, bad_type, sizeof bad_type, "unknown field type");
  /* unknown field nested 40 structs deep */
  n = 0;
  for (int i = 0; i < 40; i++)
    d[n++] = 0xfc; /* compact: field +15, struct */
  memset(d + n, 0, 41);
  n += 41;
  expect_error(TG_THRIFT_COMPACT, d, n, "nesting too deep");
  /* compact varint that never ends */
  memset(d, 0xff, 20);
  d[0] = 0x1c;
  d[1] = 0x18;
  expect_error(TG_THRIFT_COMPACT, d, 20, "varint");
}

static void test_unknown_and_mistyped_fields_skipped(void **state) {
  (void)state;
  /* compact_min with, inside the Process: an unknown field 9 holding a map<string,i32>
   * {"k": 1}, a set<i64> {1}, and serviceName repeated as an i32 (wrong type: skipped) */
  uint8_t d[128];
  size_t n = 0;
  d[n++] = 0x1c;
  d[n++] = 0x18, d[n++] = 0x01, d[n++] = 'a';     /* serviceName "a" (id 1) */
  d[n++] = 0x8b, d[n++] = 0x01, d[n++] = 0x85;    /* +8: id 9 map, 1 entry, string→i32 */
  d[n++] = 0x01, d[n++] = 'k', d[n++] = 0x02;     /* "k": 1 */
  d[n++] = 0x1a, d[n++] = 0x16, d[n++] = 0x02;    /* +1: id 10 set<i64> {1} */
  d[n++] = 0x05, d[n++] = 0x02, d[n++] = 0x02;    /* id 1 (long form) as i32: skipped */
  d[n++] = 0x00;
  memcpy(d + n, compact_min + 5, sizeof compact_min - 5);
  n += sizeof compact_min - 5;
  tg_jaeger_batch *b;
  tg_arena *a;
  char err[200];
  int rc = decode(TG_THRIFT_COMPACT, d, n, &b, &a, err);
  if (rc != TG_OK)
    fail_msg("rc %d: %s", rc, err);
  check_min(b);
  tg_arena_unref(a);
}

static void test_agent_messages(void **state) {
  (void)state;
  uint8_t d[64];
  char err[200];
  tg_jaeger_batch *b;
  /* binary strict: emitZipkinBatch */
  static const uint8_t zipkin[] = {0x80, 0x01, 0x00, 0x04, 0, 0, 0, 15, 'e', 'm', 'i', 't',
                                   'Z', 'i', 'p', 'k', 'i', 'n', 'B', 'a', 't', 'c', 'h',
                                   0, 0, 0, 1, 0x00};
  tg_arena *a = tg_arena_new(0, 0);
  assert_int_equal(tg_jaeger_thrift_decode_emit_batch(a, TG_THRIFT_BINARY, zipkin,
                                                      sizeof zipkin, &b, err, sizeof err),
                   TG_EDECODE);
  assert_non_null(strstr(err, "emitZipkinBatch is not supported"));
  /* compact: emitBatch with an empty argument struct */
  size_t n = 0;
  d[n++] = 0x82, d[n++] = 0x81, d[n++] = 0x01, d[n++] = 0x09;
  memcpy(d + n, "emitBatch", 9);
  n += 9;
  d[n++] = 0x00;
  assert_int_equal(tg_jaeger_thrift_decode_emit_batch(a, TG_THRIFT_COMPACT, d, n, &b, err,
                                                      sizeof err),
                   TG_EDECODE);
  assert_non_null(strstr(err, "without a batch"));
  /* old-style binary header (name first) with the minimal batch */
  n = 0;
  d[n++] = 0, d[n++] = 0, d[n++] = 0, d[n++] = 9;
  memcpy(d + n, "emitBatch", 9);
  n += 9;
  d[n++] = 4, d[n++] = 0, d[n++] = 0, d[n++] = 0, d[n++] = 1;
  uint8_t msg[256];
  memcpy(msg, d, n);
  msg[n++] = 0x0c, msg[n++] = 0, msg[n++] = 1;
  memcpy(msg + n, binary_min, sizeof binary_min);
  n += sizeof binary_min;
  msg[n++] = 0x00;
  assert_int_equal(tg_jaeger_thrift_decode_emit_batch(a, TG_THRIFT_BINARY, msg, n, &b, err,
                                                      sizeof err),
                   TG_OK);
  check_min(b);
  /* garbage */
  assert_int_equal(tg_jaeger_thrift_decode_emit_batch(a, TG_THRIFT_COMPACT,
                                                      (const uint8_t *)"GET / HTTP/1.1", 14, &b,
                                                      err, sizeof err),
                   TG_EDECODE);
  tg_arena_unref(a);
}

/* Every single-byte change of a rich datagram either decodes or fails cleanly. */
static void test_mutations(void **state) {
  (void)state;
  rich x;
  make_rich(&x);
  static const uint8_t values[] = {0x00, 0x01, 0x0f, 0x7f, 0x80, 0xff};
  for (int p = 0; p < 2; p++) {
    tg_buf buf;
    tg_buf_init(&buf, 0);
    assert_int_equal(tg_jaeger_thrift_encode_emit_batch(&buf, (tg_thrift_protocol)p, &x.b, 1),
                     TG_OK);
    for (size_t i = 0; i < buf.len; i++) {
      uint8_t saved = buf.data[i];
      for (size_t v = 0; v < sizeof values; v++) {
        buf.data[i] = values[v];
        tg_arena *a = tg_arena_new(0, 1u << 22);
        tg_jaeger_batch *b;
        char err[200];
        int rc = tg_jaeger_thrift_decode_emit_batch(a, (tg_thrift_protocol)p, buf.data, buf.len,
                                                    &b, err, sizeof err);
        assert_true(rc == TG_OK || rc == TG_EDECODE);
        assert_true((rc == TG_OK) == (b != NULL));
        tg_arena_unref(a);
      }
      buf.data[i] = saved;
    }
    tg_buf_free(&buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_written),
      cmocka_unit_test(test_every_truncation_rejected),
      cmocka_unit_test(test_round_trip_both_protocols),
      cmocka_unit_test(test_parent_span_id_adds_reference),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_unknown_and_mistyped_fields_skipped),
      cmocka_unit_test(test_agent_messages),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
