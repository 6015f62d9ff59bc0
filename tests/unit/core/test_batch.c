/* Batches: decode, encode round trip, append, split, clone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_batch.h"
#include "tg_error.h"
#include <stdio.h>

/* Builds an encoded request with n_resources × n_spans spans named "r<i>s<j>". */
static uint8_t *make_request(size_t n_resources, size_t n_spans, size_t *len) {
  tg_arena *a = tg_arena_new(0, 0);
  tg_export_request req;
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
  req.n_resource_spans = n_resources;
  req.resource_spans = tg_arena_alloc(a, n_resources * sizeof(void *));
  for (size_t r = 0; r < n_resources; r++) {
    tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    rs->n_scope_spans = 1;
    rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
    rs->scope_spans[0] = ss;
    ss->n_spans = n_spans;
    ss->spans = tg_arena_alloc(a, n_spans * sizeof(void *));
    for (size_t s = 0; s < n_spans; s++) {
      tg_span *span = tg_arena_alloc(a, sizeof *span);
      opentelemetry__proto__trace__v1__span__init(span);
      char name[48];
      snprintf(name, sizeof name, "r%zus%zu", r, s);
      span->name = tg_arena_strndup(a, name, strlen(name));
      uint8_t *tid = tg_arena_calloc(a, 1, 16);
      tid[0] = (uint8_t)r;
      tid[15] = (uint8_t)s;
      span->trace_id.data = tid;
      span->trace_id.len = 16;
      ss->spans[s] = span;
    }
    req.resource_spans[r] = rs;
  }
  *len = protobuf_c_message_get_packed_size(&req.base);
  uint8_t *buf = tg_malloc(*len);
  protobuf_c_message_pack(&req.base, buf);
  tg_arena_unref(a);
  return buf;
}

static tg_batch *decoded(size_t n_resources, size_t n_spans) {
  size_t len;
  uint8_t *buf = make_request(n_resources, n_spans, &len);
  tg_batch *b = tg_batch_new(256, 0);
  assert_int_equal(tg_batch_decode_otlp(b, buf, len), TG_OK);
  tg_free(buf);
  return b;
}

static const char *span_name(const tg_batch *b, size_t r, size_t s, size_t i) {
  return b->request.resource_spans[r]->scope_spans[s]->spans[i]->name;
}

static void test_decode_and_roundtrip(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = make_request(2, 3, &len);
  tg_batch *b = tg_batch_new(256, 0);
  assert_int_equal(tg_batch_decode_otlp(b, buf, len), TG_OK);
  assert_int_equal(b->span_count, 6);
  assert_string_equal(span_name(b, 1, 0, 2), "r1s2");
  assert_int_equal(tg_batch_encoded_size(b), len);
  uint8_t *again = tg_malloc(len);
  assert_int_equal(tg_batch_encode(b, again), len);
  assert_memory_equal(buf, again, len);
  tg_free(again);
  tg_free(buf);
  tg_batch_free(b);
}

static void test_decode_rejects_garbage_and_limit(void **state) {
  (void)state;
  const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
  tg_batch *b = tg_batch_new(256, 0);
  assert_int_equal(tg_batch_decode_otlp(b, garbage, sizeof garbage), TG_EDECODE);
  tg_batch_free(b);
  size_t len;
  uint8_t *buf = make_request(50, 50, &len);
  b = tg_batch_new(1024, 8192);
  assert_int_equal(tg_batch_decode_otlp(b, buf, len), TG_ETOOBIG);
  tg_batch_free(b);
  tg_free(buf);
}

static void test_append_and_split(void **state) {
  (void)state;
  tg_batch *a = decoded(1, 3);
  tg_batch *b = decoded(2, 2);
  assert_int_equal(tg_batch_append(a, b), TG_OK);
  assert_int_equal(a->span_count, 7);
  assert_int_equal(a->request.n_resource_spans, 3);
  assert_string_equal(span_name(a, 2, 0, 1), "r1s1");

  tg_batch *front = tg_batch_split_front(a, 4);
  assert_non_null(front);
  assert_int_equal(front->span_count, 4);
  assert_int_equal(tg_batch_count_spans(front), 4);
  assert_int_equal(a->span_count, 3);
  assert_int_equal(tg_batch_count_spans(a), 3);
  assert_string_equal(span_name(front, 1, 0, 0), "r0s0");
  assert_string_equal(span_name(a, 0, 0, 0), "r0s1");
  assert_string_equal(span_name(a, 1, 0, 1), "r1s1");

  /* The rest outlives the front and vice versa: arenas are shared by reference. */
  tg_batch_free(a);
  assert_string_equal(span_name(front, 0, 0, 2), "r0s2");
  tg_batch *clone = tg_batch_clone(front);
  tg_batch_free(front);
  assert_int_equal(clone->span_count, 4);
  assert_string_equal(span_name(clone, 1, 0, 0), "r0s0");
  tg_batch_free(clone);
}

/* Finds the resource_spans entries (field 1) of an encoded request, as a scan would. */
static size_t find_segments(const uint8_t *buf, size_t len, size_t *offsets, size_t *lengths,
                            size_t max) {
  size_t pos = 0, n = 0;
  while (pos < len && n < max) {
    assert_int_equal(buf[pos++], 0x0a);
    size_t l = 0;
    unsigned shift = 0;
    while (buf[pos] & 0x80) {
      l |= (size_t)(buf[pos++] & 0x7f) << shift;
      shift += 7;
    }
    l |= (size_t)buf[pos++] << shift;
    offsets[n] = pos;
    lengths[n++] = l;
    pos += l;
  }
  return n;
}

static tg_batch *wire_batch(size_t n_resources, size_t n_spans, uint8_t **encoded,
                            size_t *encoded_len) {
  size_t len, offsets[16], lengths[16], counts[16];
  uint8_t *buf = make_request(n_resources, n_spans, &len);
  size_t n = find_segments(buf, len, offsets, lengths, 16);
  assert_int_equal(n, n_resources);
  for (size_t i = 0; i < n; i++)
    counts[i] = n_spans;
  tg_batch *b = tg_batch_new(256, 0);
  assert_int_equal(tg_batch_adopt_wire(b, buf, len, offsets, lengths, counts, n), TG_OK);
  if (encoded) {
    *encoded = buf;
    *encoded_len = len;
  } else {
    tg_free(buf);
  }
  return b;
}

/* A wire batch that owns its request buffer (as the OTLP receiver's fast path makes
 * one); *copy receives a copy of the bytes for comparison. */
static tg_batch *owned_batch(size_t n_resources, size_t n_spans, uint8_t **copy,
                             size_t *copy_len) {
  size_t len, offsets[16], lengths[16], counts[16];
  uint8_t *buf = make_request(n_resources, n_spans, &len);
  size_t n = find_segments(buf, len, offsets, lengths, 16);
  for (size_t i = 0; i < n; i++)
    counts[i] = n_spans;
  *copy = tg_malloc(len);
  memcpy(*copy, buf, len);
  *copy_len = len;
  tg_batch *b = tg_batch_new(0, 0);
  size_t before = b->arena->used_bytes;
  assert_int_equal(
      tg_batch_adopt_wire_owned(b, buf, len + 100, NULL, buf, offsets, lengths, counts, n),
      TG_OK);
  assert_true(b->arena->used_bytes >= before + len + 100); /* the export queue's charge */
  assert_int_equal(b->span_count, n_resources * n_spans);
  return b;
}

static void encode_equals(const tg_batch *b, const uint8_t *want, size_t want_len) {
  assert_int_equal(tg_batch_encoded_size(b), want_len);
  uint8_t *out = tg_malloc(want_len);
  assert_int_equal(tg_batch_encode(b, out), want_len);
  assert_memory_equal(out, want, want_len);
  tg_free(out);
}

/* The adopted buffer lives as long as any batch that shares the arena: appended into an
 * accumulator, split off again, the accumulator freed first. ASan reports a leak, a use
 * after free or a double free. */
static void test_owned_wire_survives_append_and_split(void **state) {
  (void)state;
  uint8_t *a_bytes, *b_bytes;
  size_t a_len, b_len;
  tg_batch *a = owned_batch(2, 3, &a_bytes, &a_len);
  tg_batch *b = owned_batch(1, 4, &b_bytes, &b_len);
  encode_equals(a, a_bytes, a_len);
  tg_batch *acc = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_append(acc, a), TG_OK);
  assert_int_equal(tg_batch_append(acc, b), TG_OK);
  assert_int_equal(acc->span_count, 10);
  tg_batch *front = tg_batch_split_front(acc, 6); /* a's two segments, wire kept */
  assert_non_null(front);
  assert_int_equal(front->n_wire, 2);
  encode_equals(acc, b_bytes, b_len);
  assert_int_equal(tg_batch_materialize(acc), TG_OK); /* decodes from b's buffer */
  assert_string_equal(span_name(acc, 0, 0, 3), "r0s3");
  tg_batch_free(acc);
  encode_equals(front, a_bytes, a_len);
  tg_batch_free(front);
  tg_free(b_bytes);
  tg_free(a_bytes);
}

/* A buffer over the arena's limit is refused and stays the caller's; the batch is as
 * before. An empty request (no segments) still hands the buffer over. */
static void test_owned_wire_limit_and_empty(void **state) {
  (void)state;
  size_t len, offsets[4], lengths[4], counts[4] = {2, 2, 2, 2};
  uint8_t *buf = make_request(2, 2, &len);
  size_t n = find_segments(buf, len, offsets, lengths, 4);
  tg_batch *b = tg_batch_new(0, 4096);
  assert_int_equal(tg_batch_adopt_wire_owned(b, buf, 8192, NULL, buf, offsets, lengths,
                                             counts, n),
                   TG_ETOOBIG);
  assert_int_equal(b->n_wire, 0);
  assert_int_equal(b->span_count, 0);
  assert_int_equal(tg_batch_encoded_size(b), 0);
  assert_int_equal(tg_batch_adopt_wire_owned(b, buf, len, NULL, buf, offsets, lengths,
                                             counts, n),
                   TG_OK);
  assert_int_equal(b->span_count, 4);
  uint8_t *empty = tg_malloc(16);
  assert_int_equal(tg_batch_adopt_wire_owned(b, empty, 16, NULL, empty, NULL, NULL, NULL, 0),
                   TG_OK);
  assert_int_equal(b->n_wire, 2);
  tg_batch_free(b);
}

static void test_wire_segments_pass_through_unchanged(void **state) {
  (void)state;
  uint8_t *orig;
  size_t len;
  tg_batch *b = wire_batch(3, 4, &orig, &len);
  assert_int_equal(b->span_count, 12);
  assert_int_equal(b->request.n_resource_spans, 0);
  assert_int_equal(tg_batch_encoded_size(b), len);
  uint8_t *out = tg_malloc(len);
  assert_int_equal(tg_batch_encode(b, out), len);
  assert_memory_equal(out, orig, len);
  /* decoding on demand gives the same spans, and encodes to the same bytes */
  assert_int_equal(tg_batch_materialize(b), TG_OK);
  assert_int_equal(b->n_wire, 0);
  assert_int_equal(tg_batch_count_spans(b), 12);
  assert_string_equal(span_name(b, 2, 0, 3), "r2s3");
  assert_int_equal(tg_batch_encode(b, out), len);
  assert_memory_equal(out, orig, len);
  tg_free(out);
  tg_free(orig);
  tg_batch_free(b);
}

static void test_wire_append_split_and_shared_materialize(void **state) {
  (void)state;
  tg_batch *acc = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_append(acc, wire_batch(2, 3, NULL, NULL)), TG_OK);
  assert_int_equal(tg_batch_append(acc, decoded(1, 2)), TG_OK);
  assert_int_equal(tg_batch_append(acc, wire_batch(1, 5, NULL, NULL)), TG_OK);
  assert_int_equal(acc->span_count, 13);
  assert_int_equal(tg_batch_count_spans(acc), 13);

  /* mixed batches are decoded before a split */
  tg_batch *front = tg_batch_split_front(acc, 4);
  assert_non_null(front);
  assert_int_equal(tg_batch_count_spans(front), 4);
  assert_int_equal(tg_batch_count_spans(acc), 9);
  tg_batch_free(front);
  tg_batch_free(acc);

  /* all-wire batches split at segment boundaries without decoding */
  tg_batch *w = wire_batch(3, 4, NULL, NULL);
  front = tg_batch_split_front(w, 9);
  assert_int_equal(front->span_count, 8);
  assert_int_equal(front->n_wire, 2);
  assert_int_equal(w->n_wire, 1);
  assert_int_equal(w->span_count, 4);
  tg_batch_free(w); /* front still holds the memory */
  assert_int_equal(tg_batch_materialize(front), TG_OK);
  assert_string_equal(span_name(front, 1, 0, 3), "r1s3");

  /* a shared batch is read-only: it refuses to decode in place */
  tg_batch *shared = wire_batch(1, 1, NULL, NULL);
  tg_batch_ref(shared);
  assert_int_equal(tg_batch_materialize(shared), TG_EINVAL);
  tg_batch_free(shared);
  assert_int_equal(tg_batch_materialize(shared), TG_OK);
  tg_batch_free(shared);
  tg_batch_free(front);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_and_roundtrip),
      cmocka_unit_test(test_decode_rejects_garbage_and_limit),
      cmocka_unit_test(test_append_and_split),
      cmocka_unit_test(test_wire_segments_pass_through_unchanged),
      cmocka_unit_test(test_wire_append_split_and_shared_materialize),
      cmocka_unit_test(test_owned_wire_survives_append_and_split),
      cmocka_unit_test(test_owned_wire_limit_and_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
