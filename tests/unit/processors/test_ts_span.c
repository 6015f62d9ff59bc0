/* ts_span_inspect against its pre-fast-path reference (ts_span_ref.c): the same verdict
 * and every ts_span_info field equal, on generated spans (canonical and odd encodings,
 * sampling.priority in every value kind, truncations, byte flips) and on the spans of the
 * tail_sampling fuzz corpus, under policy sets with and without attribute leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_span_ref.h"
#include "ts_test_util.h"
#include "ts_wire.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) { /* xorshift64: reproducible across runs */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static size_t below(size_t n) { return (size_t)(rnd() % n); }

typedef struct buf {
  uint8_t b[4096];
  size_t n;
} buf;

static void put(buf *o, const void *p, size_t n) {
  if (o->n + n > sizeof o->b)
    n = sizeof o->b - o->n;
  memcpy(o->b + o->n, p, n);
  o->n += n;
}
static void put_byte(buf *o, uint8_t c) { put(o, &c, 1); }
/* A varint, sometimes over-long (valid protobuf: padded with 0x80 continuation bytes). */
static void put_varint(buf *o, uint64_t v, int padded) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    put_byte(o, (uint8_t)(c | (v || padded ? 0x80 : 0)));
  } while (v);
  if (padded)
    put_byte(o, 0);
}
static void put_tag(buf *o, uint32_t number, int wt) {
  put_varint(o, (uint64_t)number << 3 | (unsigned)wt, below(16) == 0);
}
static void put_len(buf *o, uint32_t number, const void *p, size_t n) {
  put_tag(o, number, TS_WT_LEN);
  put_varint(o, n, below(16) == 0);
  put(o, p, n);
}
static void put_fixed64(buf *o, uint32_t number, uint64_t v) {
  put_tag(o, number, TS_WT_I64);
  for (int i = 0; i < 8; i++)
    put_byte(o, (uint8_t)(v >> (8 * i)));
}

static void any_value(buf *o) {
  static const char *strs[] = {"1", "0", "9", "10", "gold-plus", "silver", "billing", ""};
  switch (below(6)) {
  case 0: {
    const char *s = strs[below(8)];
    put_len(o, 1, s, strlen(s));
    break;
  }
  case 1:
    put_tag(o, 2, TS_WT_VARINT);
    put_varint(o, below(2), 0);
    break;
  case 2: {
    static const int64_t ints[] = {0, 1, 2, -1, 99, 100, 150, 1000000};
    put_tag(o, 3, TS_WT_VARINT);
    put_varint(o, (uint64_t)ints[below(8)], 0);
    break;
  }
  case 3: {
    static const double ds[] = {0.0, 0.5, 1.0, 2.5, -3.0, 150.0, 1e300};
    uint64_t bits;
    memcpy(&bits, &ds[below(7)], sizeof bits);
    put_fixed64(o, 4, bits);
    break;
  }
  case 4: { /* an array: not matched by attribute policies */
    uint8_t arr[] = {0x0a, 0x03, 0x0a, 0x01, 'x'};
    put_len(o, 5, arr, sizeof arr);
    break;
  }
  default: /* empty AnyValue */
    break;
  }
}

static void key_value(buf *o) {
  static const char *keys[] = {"sampling.priority", "sampling.priorityX", "sampling.prioritz",
                               "tier", "items", "flag", "http.method", "service.name", ""};
  char longkey[200];
  const char *k = keys[below(9)];
  size_t klen = strlen(k);
  if (below(12) == 0) { /* a key whose length takes two bytes */
    memset(longkey, 'k', sizeof longkey);
    k = longkey;
    klen = sizeof longkey;
  }
  buf v = {.n = 0};
  any_value(&v);
  buf kv = {.n = 0};
  int order = (int)below(10);
  if (order == 0) { /* value first */
    put_len(&kv, 2, v.b, v.n);
    put_len(&kv, 1, k, klen);
  } else if (order == 1) { /* key twice: the last one counts */
    put_len(&kv, 1, "tier", 4);
    put_len(&kv, 1, k, klen);
    put_len(&kv, 2, v.b, v.n);
  } else if (order == 2) { /* no value */
    put_len(&kv, 1, k, klen);
  } else if (order == 3) { /* garbage after the value: inner walk stops there */
    put_len(&kv, 1, k, klen);
    put_len(&kv, 2, v.b, v.n);
    put_byte(&kv, 0xff);
  } else {
    put_len(&kv, 1, k, klen);
    put_len(&kv, 2, v.b, v.n);
  }
  put_len(o, 9, kv.b, kv.n);
}

/* A span with fields in canonical order, or shuffled, with some oddities. */
static void gen_span(buf *o) {
  o->n = 0;
  int n_fields = 6 + (int)below(8), n_attrs = (int)below(14);
  int kinds[40];
  int k = 0;
  for (int i = 0; i < n_fields && k < 40; i++)
    kinds[k++] = i % 13;
  for (int i = 0; i < n_attrs && k < 40; i++)
    kinds[k++] = 100;
  if (below(3) == 0) /* shuffled order */
    for (int i = k - 1; i > 0; i--) {
      int j = (int)below((size_t)i + 1), t = kinds[i];
      kinds[i] = kinds[j];
      kinds[j] = t;
    }
  uint8_t id[32];
  for (size_t i = 0; i < sizeof id; i++)
    id[i] = (uint8_t)rnd();
  for (int i = 0; i < k; i++) {
    switch (kinds[i]) {
    case 0:
      put_len(o, 1, id, below(10) == 0 ? 15 : 16);
      break;
    case 1:
      put_len(o, 2, id + 16, 8);
      break;
    case 2: {
      static const char *ts[] = {"ot=th:8", "a=1,ot=th:e666", "vendor=gold", "x"};
      const char *s = ts[below(4)];
      put_len(o, 3, s, strlen(s));
      break;
    }
    case 3:
      put_len(o, 5, "GET /api/items", 14);
      break;
    case 4:
      put_tag(o, 6, TS_WT_VARINT);
      put_varint(o, below(6), 0);
      break;
    case 5:
      put_fixed64(o, 7, UINT64_C(1700000000000000000) + below(1000));
      break;
    case 6:
      put_fixed64(o, 8, UINT64_C(1700000000000000000) + below(3000000000u));
      break;
    case 7: { /* status: code 0..3, sometimes with a message or odd wire type */
      buf st = {.n = 0};
      if (below(4) == 0)
        put_len(&st, 2, "boom", 4);
      if (below(8) == 0) {
        put_fixed64(&st, 3, 2);
      } else {
        put_tag(&st, 3, TS_WT_VARINT);
        put_varint(&st, below(4), 0);
      }
      put_len(o, 15, st.b, st.n);
      break;
    }
    case 8: /* flags: fixed32 field 16 (two-byte tag) */
      put_tag(o, 16, TS_WT_I32);
      put_byte(o, (uint8_t)below(4));
      put(o, "\x01\x00\x00", 3);
      break;
    case 9: /* wrong wire type for a known field */
      put_tag(o, (uint32_t)(below(2) ? 7 : 1), TS_WT_VARINT);
      put_varint(o, rnd(), 0);
      break;
    case 10: /* unknown field, large number */
      put_tag(o, 1000 + (uint32_t)below(100000), TS_WT_VARINT);
      put_varint(o, rnd() >> below(64), 0);
      break;
    case 11: /* a long event (two-byte length) */
      put_len(o, 11, o->b, o->n > 300 ? 300 : o->n);
      break;
    default: /* dropped_attributes_count, multi-byte varint */
      put_tag(o, 10, TS_WT_VARINT);
      put_varint(o, 128 + below(100000), 0);
      break;
    case 100:
      key_value(o);
      break;
    }
  }
}

static void mutate(buf *o) {
  switch (below(5)) {
  case 0:
    o->n = o->n ? below(o->n) : 0; /* truncated */
    break;
  case 1:
  case 2: { /* byte flips */
    int n = 1 + (int)below(3);
    for (int i = 0; i < n && o->n; i++)
      o->b[below(o->n)] ^= (uint8_t)(1u << below(8));
    break;
  }
  case 3:
    if (o->n)
      o->b[below(o->n)] = (uint8_t)rnd();
    break;
  default: /* a byte inserted */
    if (o->n && o->n < sizeof o->b) {
      size_t at = below(o->n);
      memmove(o->b + at + 1, o->b + at, o->n - at);
      o->b[at] = (uint8_t)rnd();
      o->n++;
    }
    break;
  }
}

typedef struct policy_set {
  tg_ts_conf conf;
  tg_diag diag;
  ts_leaves leaves;
} policy_set;

static const char *yamls[] = {
    /* the bench's default */
    "policies:\n"
    "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "  - {name: slow, type: latency, latency: {threshold_ms: 1000}}\n"
    "  - {name: ten, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n",
    /* attribute, tracestate and flags leaves */
    "policies:\n"
    "  - {name: vip, type: string_attribute, string_attribute: {key: tier, values: ['gold.*'], "
    "enabled_regex_matching: true}}\n"
    "  - {name: big, type: numeric_attribute, numeric_attribute: {key: items, min_value: 100}}\n"
    "  - {name: b, type: boolean_attribute, boolean_attribute: {key: flag, value: true}}\n"
    "  - {name: prio, type: numeric_attribute, numeric_attribute: {key: sampling.priority, "
    "min_value: 2}}\n"
    "  - {name: ts, type: trace_state, trace_state: {key: vendor, values: [gold]}}\n"
    "  - {name: ok, type: status_code, status_code: {status_codes: [OK, UNSET]}}\n",
};

static int load_set(policy_set *s, const char *yaml) {
  if (ts_test_conf(yaml, &s->conf, &s->diag)) {
    tg_diag_print(&s->diag, stdout);
    return -1;
  }
  ts_leaves_collect(&s->conf.policies, &s->leaves);
  return 0;
}

static void free_set(policy_set *s) {
  tg_conf_release(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, &s->conf);
  tg_diag_free(&s->diag);
}

/* Both walks on one span; returns whether the new one answered -1. */
static int check_same(const uint8_t *span, size_t len, const policy_set *s, void *md) {
  ts_span_info a, b;
  /* different garbage first: a field one walk forgets to set shows up */
  memset(&a, 0xa5, sizeof a);
  memset(&b, 0x5a, sizeof b);
  int ra = ts_span_inspect(span, len, &s->leaves, md, &a);
  int rb = ref_ts_span_inspect(span, len, &s->leaves, md, &b);
  assert_int_equal(ra, rb);
  assert_ptr_equal(a.trace_id, b.trace_id);
  assert_true(a.start_unix_nano == b.start_unix_nano);
  assert_true(a.end_unix_nano == b.end_unix_nano);
  assert_int_equal(a.status, b.status);
  assert_int_equal(a.flags, b.flags);
  assert_ptr_equal(a.trace_state, b.trace_state);
  assert_int_equal(a.trace_state_len, b.trace_state_len);
  assert_true(a.leaf_mask == b.leaf_mask);
  assert_int_equal(a.debug, b.debug);
  return ra != 0;
}

static void test_inspect_matches_reference_generated(void **state) {
  (void)state;
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  assert_non_null(md);
  for (size_t y = 0; y < sizeof yamls / sizeof *yamls; y++) {
    policy_set s;
    assert_int_equal(load_set(&s, yamls[y]), 0);
    assert_int_equal(s.leaves.any_attribute, (int)y);
    size_t bad = 0, debug = 0, total = 0;
    buf o;
    for (int i = 0; i < 6000; i++) {
      gen_span(&o);
      int mutated = i % 3 == 2;
      if (mutated)
        mutate(&o);
      ts_span_info info;
      total++;
      if (check_same(o.b, o.n, &s, md))
        bad++;
      else if (ts_span_inspect(o.b, o.n, &s.leaves, md, &info) == 0 && info.debug)
        debug++;
    }
    /* the generator reaches both verdicts and the debug mark */
    assert_true(bad > 100 && bad < total / 2);
    assert_true(debug > 100);
    free_set(&s);
  }
  pcre2_match_data_free(md);
}

/* Spans of ExportTraceServiceRequest files: request.resource_spans(1).scope_spans(2).spans(2). */
static size_t each_span(const uint8_t *p, size_t n, int depth, const policy_set *s, void *md) {
  static const uint32_t path[] = {1, 2, 2};
  ts_reader r = ts_reader_of(p, n);
  ts_field f;
  size_t count = 0;
  while (ts_next_field(&r, &f) == 1) {
    if (f.number != path[depth] || f.wire_type != TS_WT_LEN)
      continue;
    if (depth == 2) {
      check_same(f.data, f.len, s, md);
      /* and every prefix: truncations at each byte */
      for (size_t cut = 0; cut < f.len; cut++)
        check_same(f.data, cut, s, md);
      count++;
    } else {
      count += each_span(f.data, f.len, depth + 1, s, md);
    }
  }
  return count;
}

static void test_inspect_matches_reference_corpus(void **state) {
  (void)state;
  static const char *files[] = {"full.pb", "multi.pb", "small.pb"};
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  assert_non_null(md);
  size_t spans = 0;
  for (size_t y = 0; y < sizeof yamls / sizeof *yamls; y++) {
    policy_set s;
    assert_int_equal(load_set(&s, yamls[y]), 0);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s", TS_FUZZ_CORPUS, files[i]);
      FILE *fp = fopen(path, "rb");
      if (!fp)
        fail_msg("cannot open %s", path);
      static uint8_t data[1 << 20];
      size_t n = fread(data, 1, sizeof data, fp);
      fclose(fp);
      spans += each_span(data, n, 0, &s, md);
    }
    free_set(&s);
  }
  assert_true(spans > 0);
  pcre2_match_data_free(md);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inspect_matches_reference_generated),
      cmocka_unit_test(test_inspect_matches_reference_corpus),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
