/* tail_sampling: thresholds and tracestate, configuration, policy rules, and a shard
 * driven with explicit time (no threads, no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_trace_id.h"
#include "ts_cache.h"
#include "ts_prob.h"
#include "ts_shard.h"
#include "ts_slice.h"
#include "ts_test_util.h"
#include "ts_wire.h"
#include "ts_worker.h"

#include <time.h>

/* ---- consistent probability ------------------------------------------------------ */

static void test_threshold(void **state) {
  (void)state;
  char hex[16];
  assert_true(tg_ts_threshold(10, 4) == (UINT64_C(0xe666) << 40));
  tg_ts_threshold_hex(tg_ts_threshold(10, 4), hex);
  assert_string_equal(hex, "e666");
  tg_ts_threshold_hex(tg_ts_threshold(50, 4), hex);
  assert_string_equal(hex, "8");
  tg_ts_threshold_hex(tg_ts_threshold(100, 4), hex);
  assert_string_equal(hex, "0");
  assert_true(tg_ts_threshold(0, 4) == TG_TS_MAX_ADJUSTED);
  tg_ts_threshold_hex(tg_ts_threshold(1, 4), hex); /* near 1 - p = 1: more digits */
  assert_string_equal(hex, "fd70a");
  uint8_t id[16] = {0};
  id[9] = 0xe6;
  id[10] = 0x66;
  assert_true(tg_ts_randomness(id, NULL) == (UINT64_C(0xe666) << 40));
  assert_true(tg_ts_randomness(id, "salt") != tg_ts_randomness(id, NULL));
  assert_true(tg_ts_randomness(id, "salt") == tg_ts_randomness(id, "salt"));
}

static void test_tracestate(void **state) {
  (void)state;
  char out[TG_TS_TRACESTATE_MAX];
  static const struct { const char *in, *want; } t[] = {
      {"", "ot=th:e666"},
      {"vendor=a", "ot=th:e666,vendor=a"},
      {"a=1,ot=th:8;rv:abcdefabcdefab,b=2", "ot=th:e666;rv:abcdefabcdefab,a=1,b=2"},
      {" ot=p:3 , x=y ", "ot=th:e666;p:3,x=y"},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    int n = tg_ts_tracestate_set_th(t[i].in, strlen(t[i].in), "e666", out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(out, t[i].want);
  }
  assert_int_equal(tg_ts_tracestate_set_th("abc", 3, "e666", out, 8), -1);
  uint64_t th = 0;
  assert_true(tg_ts_tracestate_get_th("a=1,ot=rv:ab;th:fd70a", 21, &th));
  assert_true(th == UINT64_C(0xfd70a) << 36);
  assert_false(tg_ts_tracestate_get_th("ot=th:xyz", 9, &th));
  assert_false(tg_ts_tracestate_get_th("vendor=th:8", 11, &th));
}

/* ---- configuration ---------------------------------------------------------------- */

static void expect_problem(const char *yaml, const char *needle) {
  tg_ts_conf conf;
  tg_diag diag;
  size_t n = ts_test_conf(yaml, &conf, &diag);
  int found = 0;
  for (size_t i = 0; i < diag.n; i++)
    found |= strstr(diag.lines[i], needle) != NULL;
  if (!n || !found) {
    tg_diag_print(&diag, stdout);
    fail_msg("expected a problem containing \"%s\"", needle);
  }
  tg_conf_release(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, &conf);
  tg_diag_free(&diag);
}

static void test_conf_collector_policies_load(void **state) {
  (void)state;
  /* the Collector README's policy list, unchanged */
  const char *yaml =
      "decision_wait: 10s\nnum_traces: 100\nexpected_new_traces_per_sec: 10\n"
      "decision_cache: {sampled_cache_size: 100000, non_sampled_cache_size: 100000}\n"
      "sample_on_first_match: false\n"
      "policies:\n"
      "  - {name: test-policy-1, type: always_sample}\n"
      "  - {name: test-policy-2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}}\n"
      "  - {name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}\n"
      "  - {name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n"
      "  - {name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}\n"
      "  - {name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}\n"
      "  - {name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}}\n"
      "  - {name: test-policy-8, type: rate_limiting, rate_limiting: {spans_per_second: 35}}\n"
      "  - {name: test-policy-9, type: string_attribute, string_attribute: {key: http.url, values: [\\/health, \\/metrics], enabled_regex_matching: true, invert_match: true}}\n"
      "  - {name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20}}\n"
      "  - {name: test-policy-11, type: trace_state, trace_state: {key: key3, values: [value1, value2]}}\n"
      "  - {name: test-policy-12, type: boolean_attribute, boolean_attribute: {key: key4, value: true}}\n"
      "  - {name: test-policy-13, type: bytes_limiting, bytes_limiting: {bytes_per_second: 10240, burst_capacity: 20480}}\n"
      "  - {name: test-policy-14, type: trace_flags}\n"
      "  - name: and-policy-1\n    type: and\n    and:\n      and_sub_policy:\n"
      "        - {name: test-and-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}\n"
      "        - {name: test-and-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}\n"
      "  - name: drop-policy-1\n    type: drop\n    drop:\n      drop_sub_policy:\n"
      "        - {name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\\/health, \\/metrics], enabled_regex_matching: true}}\n"
      "  - name: composite-policy-1\n    type: composite\n    composite:\n"
      "      max_total_spans_per_second: 1000\n      policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3]\n"
      "      composite_sub_policy:\n"
      "        - {name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}}\n"
      "        - {name: test-composite-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}\n"
      "        - {name: test-composite-policy-3, type: always_sample}\n"
      "      rate_allocation:\n        - {policy: test-composite-policy-1, percent: 50}\n"
      "        - {policy: test-composite-policy-2, percent: 25}\n";
  tg_ts_conf conf;
  tg_diag diag;
  size_t n = ts_test_conf(yaml, &conf, &diag);
  if (n)
    tg_diag_print(&diag, stdout);
  assert_int_equal(n, 0);
  assert_int_equal(conf.policies.n, 17);
  assert_true(conf.decision_wait_ms == 10000);
  const tg_ts_policy *comp = &conf.policies.items[16];
  assert_int_equal(comp->type, TG_TS_COMPOSITE);
  assert_true(comp->sub_allocation[0] == 500 && comp->sub_allocation[1] == 250 &&
              comp->sub_allocation[2] == 0);
  tg_conf_release(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, &conf);
  tg_diag_free(&diag);
}

static void test_conf_errors_have_positions(void **state) {
  (void)state;
  expect_problem("policies:\n  - {name: a, type: sometimes}\n",
                 "test.yaml:2:21: tail_sampling: policies[0]: unknown policy type \"sometimes\"");
  expect_problem("policies:\n  - {name: a, type: latency, latency: {treshold_ms: 5}}\n",
                 "unknown key \"treshold_ms\" (valid keys: threshold_ms, upper_threshold_ms)");
  expect_problem("policies:\n  - {name: a, type: string_attribute, string_attribute: {key: k, "
                 "values: [\"(\"], enabled_regex_matching: true}}\n",
                 "does not compile");
  expect_problem("policies:\n  - name: c\n    type: composite\n    composite:\n"
                 "      max_total_spans_per_second: 10\n      composite_sub_policy: [{name: x, type: always_sample}]\n"
                 "      rate_allocation: [{policy: y, percent: 10}]\n",
                 "\"y\" is not a composite_sub_policy name");
  expect_problem("policies:\n  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 101}}\n",
                 "out of range");
  expect_problem("decision_wait: 10\npolicies: []\n", "decision_wait");
  expect_problem("num_traces: 0\npolicies:\n  - {name: a, type: always_sample}\n", "num_traces");
  expect_problem("{}\n", "at least one policy is required");
}

/* ---- policy rules over trace summaries -------------------------------------------- */

typedef struct decided {
  const char *yaml;
  tg_ts_conf conf;
  tg_diag diag;
  ts_leaves leaves;
  ts_limiters lim;
} decided;

static void load(decided *d, const char *yaml) {
  d->yaml = yaml;
  if (ts_test_conf(yaml, &d->conf, &d->diag)) {
    tg_diag_print(&d->diag, stdout);
    fail_msg("config did not load");
  }
  ts_leaves_collect(&d->conf.policies, &d->leaves);
  assert_int_equal(ts_limiters_init(&d->lim, d->conf.policies.n_rates), 0);
}

static void unload(decided *d) {
  ts_limiters_free(&d->lim);
  tg_conf_release(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, &d->conf);
  tg_diag_free(&d->diag);
}

static ts_trace trace_of(uint64_t duration_ms, uint32_t spans, uint64_t leaves) {
  ts_trace t;
  memset(&t, 0, sizeof t);
  t.min_start = UINT64_C(1700000000000000000);
  t.max_end = t.min_start + duration_ms * 1000000u;
  t.span_count = spans;
  t.leaf_mask = leaves;
  return t;
}

static int keep(decided *d, const ts_trace *t) {
  return ts_policy_decide(&d->conf, t, &d->lim, 1000, 1, NULL).keep;
}

static void test_latency_bounds(void **state) {
  (void)state;
  decided d;
  load(&d, "policies: [{name: l, type: latency, latency: {threshold_ms: 100}}]\n");
  ts_trace t = trace_of(99, 1, 0);
  assert_false(keep(&d, &t));
  t = trace_of(100, 1, 0); /* inclusive without an upper bound */
  assert_true(keep(&d, &t));
  unload(&d);
  load(&d, "policies: [{name: l, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}]\n");
  t = trace_of(100, 1, 0); /* (threshold, upper] */
  assert_false(keep(&d, &t));
  t = trace_of(200, 1, 0);
  assert_true(keep(&d, &t));
  t = trace_of(201, 1, 0);
  assert_false(keep(&d, &t));
  unload(&d);
}

static void test_combinators_and_drop(void **state) {
  (void)state;
  decided d;
  /* leaf 0 = status ERROR, leaf 1 = string attribute; drop beats any keep */
  load(&d, "policies:\n"
           "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "  - name: no-health\n    type: drop\n    drop:\n      drop_sub_policy:\n"
           "        - {name: h, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}\n"
           "  - name: big-and-slow\n    type: and\n    and:\n      and_sub_policy:\n"
           "        - {name: big, type: span_count, span_count: {min_spans: 10}}\n"
           "        - {name: slow, type: latency, latency: {threshold_ms: 50}}\n"
           "  - name: not-small\n    type: not\n    not:\n      not_sub_policy: {name: s, type: span_count, span_count: {min_spans: 1, max_spans: 100}}\n");
  ts_trace t = trace_of(1, 1, 1u << 0);
  assert_true(keep(&d, &t));
  t = trace_of(1, 1, (1u << 0) | (1u << 1)); /* error on /health: dropped */
  assert_false(keep(&d, &t));
  t = trace_of(60, 10, 0);
  assert_true(keep(&d, &t));
  t = trace_of(40, 10, 0);
  assert_false(keep(&d, &t));
  t = trace_of(1, 101, 0); /* not(1..100) */
  assert_true(keep(&d, &t));
  t = trace_of(1, 1, 1u << 1);
  t.debug = 1; /* an upstream debug flag overrides even a drop */
  ts_decision dec = ts_policy_decide(&d.conf, &t, &d.lim, 0, 0, NULL);
  assert_true(dec.keep && dec.debug);
  unload(&d);
}

static void test_invert_is_plain_negation(void **state) {
  (void)state;
  decided d;
  load(&d, "policies:\n"
           "  - {name: not-health, type: string_attribute, string_attribute: {key: url.path, values: [/health], invert_match: true}}\n"
           "  - {name: all, type: always_sample}\n");
  ts_trace t = trace_of(1, 1, 1u << 0); /* matches /health: inverted → not sampled by it */
  uint8_t v[2];
  ts_decision dec = ts_policy_decide(&d.conf, &t, &d.lim, 0, 0, v);
  assert_int_equal(v[0], TS_VERDICT_NOT_SAMPLED);
  assert_true(dec.keep); /* but no veto: always_sample still keeps it */
  unload(&d);
}

static void test_rate_limits_and_composite(void **state) {
  (void)state;
  decided d;
  load(&d, "policies: [{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 10}}]\n");
  ts_trace t = trace_of(1, 5, 0);
  int kept = 0;
  for (int i = 0; i < 10; i++) /* burst 2 x 10 = 20 spans at the same instant */
    kept += ts_policy_decide(&d.conf, &t, &d.lim, 5000, 0, NULL).keep;
  assert_int_equal(kept, 4);
  assert_true(ts_policy_decide(&d.conf, &t, &d.lim, 5500, 0, NULL).keep); /* +5 tokens */
  unload(&d);
  load(&d, "policies:\n  - name: c\n    type: composite\n    composite:\n"
           "      max_total_spans_per_second: 100\n"
           "      composite_sub_policy:\n"
           "        - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "        - {name: rest, type: always_sample}\n"
           "      rate_allocation: [{policy: errors, percent: 50}, {policy: rest, percent: 10}]\n");
  ts_trace err = trace_of(1, 20, 1u << 0), ok = trace_of(1, 5, 0);
  int e = 0, o = 0;
  for (int i = 0; i < 5; i++) {
    e += ts_policy_decide(&d.conf, &err, &d.lim, 0, 7, NULL).keep;
    o += ts_policy_decide(&d.conf, &ok, &d.lim, 0, 7, NULL).keep;
  }
  assert_int_equal(e, 2); /* 50 spans/s for errors: two traces of 20 */
  assert_int_equal(o, 2); /* 10 spans/s for the rest */
  assert_true(ts_policy_decide(&d.conf, &ok, &d.lim, 0, 8, NULL).keep); /* next second */
  unload(&d);
}

static void test_probabilistic_marks_only_when_alone(void **state) {
  (void)state;
  decided d;
  load(&d, "policies:\n"
           "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "  - {name: ten, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n");
  ts_trace t = trace_of(1, 1, 0);
  t.id[9] = 0xff; /* R above T */
  ts_decision dec = ts_policy_decide(&d.conf, &t, &d.lim, 0, 0, NULL);
  assert_true(dec.keep && dec.by_probabilistic_only);
  assert_true(dec.threshold == (UINT64_C(0xe666) << 40));
  t.leaf_mask = 1; /* and an error: kept with certainty, no threshold */
  dec = ts_policy_decide(&d.conf, &t, &d.lim, 0, 0, NULL);
  assert_true(dec.keep && !dec.by_probabilistic_only);
  t.leaf_mask = 0;
  t.id[9] = 0xe6; /* R just below T */
  t.id[10] = 0x65;
  assert_false(ts_policy_decide(&d.conf, &t, &d.lim, 0, 0, NULL).keep);
  unload(&d);
}

/* ---- a shard, driven with explicit time ------------------------------------------- */

typedef struct sink {
  tg_batch *got[64];
  size_t n;
} sink;

static void collect(void *ctx, tg_batch *b) {
  sink *s = ctx;
  assert_true(s->n < 64);
  s->got[s->n++] = b;
}

static size_t sink_spans(sink *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++)
    n += s->got[i]->span_count;
  return n;
}

static void sink_free(sink *s) {
  for (size_t i = 0; i < s->n; i++)
    tg_batch_free(s->got[i]);
  s->n = 0;
}

typedef struct fixture {
  decided d;
  ts_metrics metrics;
  ts_shard shard;
  sink out;
} fixture;

static void fixture_up(fixture *f, const char *yaml, size_t max_traces, size_t max_bytes) {
  memset(f, 0, sizeof *f);
  load(&f->d, yaml);
  ts_metrics_init(&f->metrics, NULL, "tail_sampling", &f->d.conf.policies);
  assert_int_equal(ts_shard_init(&f->shard, &f->d.conf, &f->d.leaves, &f->d.lim, &f->metrics,
                                 NULL, max_traces, max_bytes, collect, &f->out),
                   0);
}

static void fixture_down(fixture *f) {
  ts_shard_free(&f->shard);
  sink_free(&f->out);
  ts_metrics_destroy(&f->metrics);
  unload(&f->d);
}

static void ingest(fixture *f, tg_batch *b, uint64_t now) {
  ts_msg *m[1];
  assert_int_equal(ts_slice_batch(b, 1, m), TG_OK);
  tg_batch_free(b);
  ts_shard_ingest(&f->shard, m[0], now);
  ts_msg_free(m[0]);
}

#define WAIT_YAML "decision_wait: 1s\n"

static void test_shard_waits_then_keeps_whole_traces(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, WAIT_YAML "policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]\n",
             100, 0);
  ts_test_span a[] = {{.trace = 1, .span = 1}, {.trace = 2, .span = 2}};
  ts_test_span b[] = {{.trace = 1, .span = 3, .status = 2}, {.trace = 2, .span = 4, .status = 1}};
  ingest(&f, ts_test_batch("front", a, 2), 0);
  ingest(&f, ts_test_batch("back", b, 2), 500); /* another service, another request */
  assert_int_equal(ts_shard_decide_due(&f.shard, 999), 0);
  assert_int_equal(ts_shard_decide_due(&f.shard, 1000), 2);
  ts_shard_flush(&f.shard);
  assert_int_equal(f.out.n, 1);
  tg_batch *got = f.out.got[0];
  assert_int_equal(got->span_count, 2); /* both spans of trace 1, none of trace 2 */
  assert_int_equal(tg_batch_materialize(got), TG_OK);
  assert_int_equal(got->request.n_resource_spans, 2); /* front and back resources */
  for (size_t i = 0; i < got->request.n_resource_spans; i++) {
    tg_span *s = got->request.resource_spans[i]->scope_spans[0]->spans[0];
    assert_int_equal(s->trace_id.data[15], 1);
    assert_string_equal(got->request.resource_spans[i]->scope_spans[0]->scope->name, "unit");
  }
  assert_int_equal(f.shard.store.n_traces, 0);
  fixture_down(&f);
}

static void test_shard_late_spans_follow_cache(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, WAIT_YAML "decision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\n"
             "policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]\n",
             100, 0);
  ts_test_span a[] = {{.trace = 1, .span = 1, .status = 2}, {.trace = 2, .span = 2}};
  ingest(&f, ts_test_batch("svc", a, 2), 0);
  ts_shard_decide_due(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 1);
  ts_test_span late[] = {{.trace = 1, .span = 5}, {.trace = 2, .span = 6}};
  ingest(&f, ts_test_batch("svc", late, 2), 3000);
  assert_int_equal(f.shard.store.n_traces, 0); /* neither became a new trace */
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 2); /* the kept trace's late span went straight on */
  assert_int_equal(tg_metric_get(&f.metrics.late_age.buckets[3]), 2); /* 1 s < age <= 2 s */
  fixture_down(&f);
  /* without caches a late span starts the trace anew */
  fixture_up(&f, WAIT_YAML "policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]\n",
             100, 0);
  ingest(&f, ts_test_batch("svc", a, 2), 0);
  ts_shard_decide_due(&f.shard, 1000);
  ingest(&f, ts_test_batch("svc", late, 2), 3000);
  assert_int_equal(f.shard.store.n_traces, 2);
  fixture_down(&f);
}

/* The batch as the OTLP receiver hands it on: the same spans, undecoded, one wire
 * segment per resource_spans of its encoding. */
static tg_batch *as_wire(tg_batch *decoded) {
  size_t len = tg_batch_encoded_size(decoded);
  uint8_t *req = tg_malloc(len ? len : 1);
  assert_int_equal(tg_batch_encode(decoded, req), len);
  size_t offs[8], lens[8], counts[8], n = 0;
  const uint8_t *p = req, *end = req + len;
  while (p < end) { /* field 1, wire type 2; lengths here fit in two bytes */
    assert_int_equal(*p++, 0x0a);
    size_t l = *p & 0x7f;
    if (*p++ & 0x80)
      l |= (size_t)*p++ << 7;
    assert_true(n < 8);
    offs[n] = (size_t)(p - req), lens[n] = l, counts[n] = 0;
    n++;
    p += l;
  }
  counts[0] = decoded->span_count; /* only the total is read here */
  tg_batch *w = tg_batch_new(4096, 0);
  assert_int_equal(tg_batch_adopt_wire(w, req, len, offs, lens, counts, n), TG_OK);
  tg_free(req);
  tg_batch_free(decoded);
  return w;
}

/* Spans of wire segments travel to the worker as references into the batch: the
 * messages keep the batch alive after the caller's free (ASan watches the reads), charge
 * the inbox for the bytes they keep, and the shard ends up with what the copied
 * (decoded) path gives. */
static void test_slice_references_wire_spans(void **state) {
  (void)state;
  ts_test_span s[6];
  for (int i = 0; i < 6; i++)
    s[i] = (ts_test_span){.trace = (uint8_t)(i / 2 + 1), .span = (uint8_t)i,
                          .status = i == 3 ? 2 : 0};
  fixture f;
  fixture_up(&f, WAIT_YAML "policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]\n",
             100, 0);
  tg_batch *w = as_wire(ts_test_batch("svc", s, 6));
  size_t wire_bytes = w->wire[0].len;
  ts_msg *m[2];
  assert_int_equal(ts_slice_batch(w, 2, m), TG_OK);
  tg_batch_free(w); /* the messages hold their own references */
  size_t spans = 0, refs = 0;
  for (int i = 0; i < 2; i++) {
    if (!m[i])
      continue;
    assert_ptr_equal(m[i]->batch, w);
    assert_true(m[i]->ref_bytes > 0);
    assert_int_equal(ts_msg_charge(m[i]), m[i]->cap + m[i]->ref_bytes);
    spans += m[i]->spans;
    refs += m[i]->ref_bytes;
    ts_shard_ingest(&f.shard, m[i], 0);
    ts_msg_free(m[i]);
  }
  assert_int_equal(spans, 6);
  assert_true(refs < wire_bytes); /* the span bytes only, not their frame */
  assert_int_equal(f.shard.store.n_traces, 3);
  ts_shard_decide_all(&f.shard, 2000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 2); /* the trace with the error, both its spans */
  fixture_down(&f);
}

static void test_shard_bounds_decide_early(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, WAIT_YAML "policies: [{name: all, type: always_sample}]\n", 3, 0);
  ts_test_span s[10];
  for (int i = 0; i < 10; i++)
    s[i] = (ts_test_span){.trace = (uint8_t)(i + 1), .span = (uint8_t)i};
  ingest(&f, ts_test_batch("svc", s, 10), 0);
  assert_int_equal(f.shard.store.n_traces, 3);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 7); /* decided early and kept, not lost */
  ts_shard_decide_all(&f.shard, 1);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 10);
  fixture_down(&f);
  /* the byte budget: each trace costs a few hundred bytes here */
  fixture_up(&f, WAIT_YAML "policies: [{name: all, type: always_sample}]\n", 1000, 3072);
  ingest(&f, ts_test_batch("svc", s, 10), 0);
  assert_true(f.shard.store.bytes <= 3072);
  assert_true(f.shard.store.n_traces > 0);
  assert_true(f.shard.store.n_traces < 10);
  fixture_down(&f);
}

static void test_shard_maximum_trace_size(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, WAIT_YAML "maximum_trace_size_bytes: 300\n"
             "decision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\n"
             "policies: [{name: all, type: always_sample}]\n",
             100, 0);
  ts_test_span s[8];
  for (int i = 0; i < 8; i++)
    s[i] = (ts_test_span){.trace = 1, .span = (uint8_t)i};
  ts_test_span small[] = {{.trace = 2, .span = 9}};
  ingest(&f, ts_test_batch("svc", s, 8), 0); /* ~50 wire bytes each: over 300 midway */
  ingest(&f, ts_test_batch("svc", small, 1), 0);
  assert_int_equal(f.shard.store.n_traces, 1); /* only the small trace is buffered */
  ts_shard_decide_all(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 1); /* always_sample, yet the big trace is gone */
  fixture_down(&f);
}

static void test_shard_threshold_in_tracestate(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, WAIT_YAML "policies: [{name: ten, type: probabilistic, probabilistic: {sampling_percentage: 10}}]\n",
             100, 0);
  ts_test_span s[] = {{.trace = 1, .trace_high = UINT64_C(0x00ff000000000000), .span = 1,
                       .trace_state = "vendor=x"},
                      {.trace = 2, .trace_high = UINT64_C(0x0011000000000000), .span = 2}};
  ingest(&f, ts_test_batch("svc", s, 2), 0);
  ts_shard_decide_due(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 1);
  tg_batch *got = f.out.got[0];
  assert_int_equal(tg_batch_materialize(got), TG_OK);
  tg_span *sp = got->request.resource_spans[0]->scope_spans[0]->spans[0];
  assert_string_equal(sp->trace_state, "ot=th:e666,vendor=x");
  assert_string_equal(sp->name, "op");
  fixture_down(&f);
  /* an upstream sampler's threshold: a higher one (1 %) stays, a lower one (50 %) is raised */
  fixture_up(&f, WAIT_YAML "policies: [{name: ten, type: probabilistic, probabilistic: {sampling_percentage: 10}}]\n",
             100, 0);
  ts_test_span up[] = {{.trace = 1, .trace_high = UINT64_C(0x00ff000000000000), .span = 1,
                        .trace_state = "ot=th:fd70a"},
                       {.trace = 3, .trace_high = UINT64_C(0x00ff100000000000), .span = 3,
                        .trace_state = "ot=th:8"}};
  ingest(&f, ts_test_batch("svc", up, 2), 0);
  ts_shard_decide_due(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 2);
  assert_int_equal(tg_batch_materialize(f.out.got[0]), TG_OK);
  for (size_t i = 0; i < f.out.got[0]->request.n_resource_spans; i++) {
    tg_span *x = f.out.got[0]->request.resource_spans[i]->scope_spans[0]->spans[0];
    assert_string_equal(x->trace_state, x->trace_id.data[15] == 1 ? "ot=th:fd70a" : "ot=th:e666");
  }
  fixture_down(&f);
}

static void test_attribute_leaves_on_wire(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, WAIT_YAML "policies:\n"
             "  - {name: vip, type: string_attribute, string_attribute: {key: tier, values: ['gold.*'], enabled_regex_matching: true}}\n"
             "  - {name: big, type: numeric_attribute, numeric_attribute: {key: items, min_value: 100}}\n"
             "  - {name: svc, type: string_attribute, string_attribute: {key: service.name, values: [billing]}}\n",
             100, 0);
  ts_test_span s[] = {{.trace = 1, .span = 1, .attr_key = "tier", .attr_str = "gold-plus"},
                      {.trace = 2, .span = 2, .attr_key = "tier", .attr_str = "silver"},
                      {.trace = 3, .span = 3, .attr_key = "items", .attr_int = 150, .has_int = 1},
                      {.trace = 4, .span = 4, .attr_key = "items", .attr_int = 99, .has_int = 1}};
  ingest(&f, ts_test_batch("shop", s, 4), 0);
  ts_test_span r[] = {{.trace = 5, .span = 5}};
  ingest(&f, ts_test_batch("billing", r, 1), 0); /* resource attribute */
  ts_shard_decide_due(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), 3);
  int seen[6] = {0};
  for (size_t i = 0; i < f.out.n; i++) {
    tg_batch *b = f.out.got[i];
    assert_int_equal(tg_batch_materialize(b), TG_OK);
    for (size_t k = 0; k < b->request.n_resource_spans; k++)
      seen[b->request.resource_spans[k]->scope_spans[0]->spans[0]->trace_id.data[15]] = 1;
  }
  assert_true(seen[1] && !seen[2] && seen[3] && !seen[4] && seen[5]);
  fixture_down(&f);
}

/* Emitted output is wire segments: slicing it again must give the same spans back. */
static void test_wire_round_trip_and_memory_ratio(void **state) {
  (void)state;
  fixture f;
  fixture_up(&f, "decision_wait: 1s\npolicies: [{name: all, type: always_sample}]\n", 100000, 0);
  enum { TRACES = 500, PER = 4 };
  static ts_test_span s[TRACES * PER];
  for (int i = 0; i < TRACES * PER; i++)
    s[i] = (ts_test_span){.trace = (uint8_t)(i / PER), .trace_high = (uint64_t)(i / PER) << 20,
                          .span = (uint8_t)i, .attr_key = "http.route",
                          .attr_str = "/api/v1/orders/{id}/items", .status = 1};
  tg_batch *b = ts_test_batch("orders", s, TRACES * PER);
  size_t wire = tg_batch_encoded_size(b);
  ingest(&f, b, 0);
  double ratio = (double)f.shard.store.bytes / (double)wire;
  printf("# buffered %zu bytes for %zu wire bytes: %.3fx\n", f.shard.store.bytes, wire, ratio);
  assert_true(ratio <= 1.5);
  ts_shard_decide_all(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  assert_int_equal(sink_spans(&f.out), TRACES * PER);
  /* feed the output (wire segments) into a fresh shard */
  fixture g;
  fixture_up(&g, "decision_wait: 1s\npolicies: [{name: all, type: always_sample}]\n", 100000, 0);
  for (size_t i = 0; i < f.out.n; i++) {
    assert_true(f.out.got[i]->n_wire > 0);
    ingest(&g, f.out.got[i], 0);
  }
  f.out.n = 0;
  assert_int_equal(g.shard.store.n_traces, TRACES);
  ts_shard_decide_all(&g.shard, 1000);
  ts_shard_flush(&g.shard);
  assert_int_equal(sink_spans(&g.out), TRACES * PER);
  size_t out_wire = 0;
  for (size_t i = 0; i < g.out.n; i++)
    out_wire += tg_batch_encoded_size(g.out.got[i]);
  assert_true(out_wire >= wire && out_wire < wire * 2); /* a header per trace, no more */
  fixture_down(&g);
  fixture_down(&f);
}

/* IDs that vary in a few high bytes only (64-bit Jaeger IDs, counters) still spread over
 * shards and hash buckets (the gateway once spent 80 % of its CPU walking one chain). */
static void test_patterned_ids_spread(void **state) {
  (void)state;
  size_t per_shard[4] = {0};
  ts_store st;
  assert_int_equal(ts_store_init(&st, 4096), 0);
  ts_span_info info = {0};
  for (unsigned i = 0; i < 4096; i++) {
    uint8_t id[16] = {0};
    id[0] = (uint8_t)(i >> 8);
    id[1] = (uint8_t)i;
    per_shard[ts_shard_of(id, 4)]++;
    assert_non_null(ts_store_add_span(&st, id, TS_NO_HEADER, (const uint8_t *)"", 0, &info, 0, 0));
  }
  for (int k = 0; k < 4; k++)
    assert_true(per_shard[k] > 900 && per_shard[k] < 1150);
  /* few traces leave their home bucket, and none goes far */
  size_t away = 0, longest = 0;
  for (size_t b = 0; b <= st.bucket_mask; b++)
    for (unsigned k = 0; k < TS_BUCKET_SLOTS; k++) {
      if (!st.buckets[b].tag[k])
        continue;
      size_t home = (size_t)tg_trace_id_hash(st.buckets[b].slot[k]->id) & st.bucket_mask;
      size_t dist = (b - home) & st.bucket_mask;
      away += dist != 0;
      if (dist > longest)
        longest = dist;
    }
  assert_true(away < 4096 / 5);
  assert_true(longest <= 4);
  ts_store_free(&st);
}

static void test_cache_forgets_oldest(void **state) {
  (void)state;
  ts_cache c;
  assert_int_equal(ts_cache_init(&c, 3), 0);
  uint8_t id[16] = {0};
  for (int i = 1; i <= 4; i++) {
    id[15] = (uint8_t)i;
    ts_cache_put(&c, id, (uint64_t)i);
  }
  uint64_t when = 0;
  id[15] = 1;
  assert_false(ts_cache_has(&c, id, NULL));
  id[15] = 4;
  assert_true(ts_cache_has(&c, id, &when));
  assert_true(when == 4);
  ts_cache_free(&c);
  assert_int_equal(ts_cache_init(&c, 0), 0);
  ts_cache_put(&c, id, 1);
  assert_false(ts_cache_has(&c, id, NULL));
  ts_cache_free(&c);
}

/* ---- the store's spare trace entries (issue 14) ------------------------------------ */

static void test_store_reuses_trace_entries_bounded(void **state) {
  (void)state;
  ts_store st;
  assert_int_equal(ts_store_init(&st, 64), 0);
  ts_span_info info = {0};
  const size_t base = st.bytes, first_buckets = st.bucket_mask + 1;
  uint8_t id[16] = {0};
  ts_trace *made[3];
  for (int i = 0; i < 3; i++) {
    id[15] = (uint8_t)(i + 1);
    made[i] = ts_store_add_span(&st, id, TS_NO_HEADER, (const uint8_t *)"ab", 2, &info, 0, 0);
    assert_non_null(made[i]);
  }
  /* a trace costs its entry and its one record: [varint header][varint 2]["ab"] */
  const size_t rec = ts_varint_size(TS_NO_HEADER) + 1 + 2;
  assert_int_equal(st.bytes, base + 3 * (sizeof(ts_trace) + rec));
  ts_store_remove(&st, made[0]);
  ts_store_remove(&st, made[2]);
  assert_int_equal(st.n_spare, 2);
  assert_int_equal(st.bytes, base + sizeof(ts_trace) + rec); /* spares are not counted */
  /* the last one removed comes back first, clean */
  id[15] = 9;
  ts_trace *t = ts_store_add_span(&st, id, TS_NO_HEADER, (const uint8_t *)"xyz", 3, &info, 7, 0);
  assert_ptr_equal(t, made[2]);
  assert_int_equal(st.n_spare, 1);
  assert_int_equal(t->span_count, 1);
  assert_int_equal(t->arrival_ms, 7);
  assert_int_equal(t->len, ts_varint_size(TS_NO_HEADER) + 1 + 3);
  assert_memory_equal(t->id, id, 16);
  assert_ptr_equal(ts_store_find(&st, id), t);
  /* append to a trace already looked up: no second entry */
  assert_ptr_equal(ts_store_append(&st, t, id, TS_NO_HEADER, (const uint8_t *)"q", 1, &info, 8, 0), t);
  assert_int_equal(t->span_count, 2);
  assert_int_equal(st.n_traces, 2);
  ts_store_remove(&st, t);
  ts_store_remove(&st, made[1]);
  assert_int_equal(st.n_spare, 3);
  assert_int_equal(st.bytes, base);
  /* bounded: removing more traces than the bound keeps exactly the bound */
  for (unsigned i = 0; i < TS_STORE_SPARE_TRACES + 10; i++) {
    uint8_t tid[16] = {1};
    memcpy(tid + 4, &i, sizeof i);
    assert_non_null(ts_store_add_span(&st, tid, TS_NO_HEADER, (const uint8_t *)"", 0, &info, 0, 0));
  }
  assert_int_equal(st.n_spare, 0);
  while (st.oldest)
    ts_store_remove(&st, st.oldest);
  assert_int_equal(st.n_spare, TS_STORE_SPARE_TRACES);
  assert_true(st.bucket_mask + 1 > first_buckets); /* it grew; only tables remain counted */
  assert_int_equal(st.bytes, (st.bucket_mask + 1) * sizeof *st.buckets +
                                 (st.header_bucket_mask + 1) * sizeof *st.header_buckets);
  ts_store_free(&st); /* frees the spares (ASan: no leak) */
  assert_int_equal(st.n_spare, 0);
}

/* ---- the bucketed trace table against a reference (issue 14) ---------------------- */

static uint64_t rng_next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

#define DIFF_POOL 20000

/* Pool entry i's id carries i in its first bytes, so a trace maps back to its entry. */
static void diff_id(uint8_t id[16], uint32_t i, uint64_t salt) {
  memcpy(id, &i, 4);
  memcpy(id + 4, &salt, 8);
  memset(id + 12, 0x5a, 4);
}

static size_t table_bytes(const ts_store *st) {
  return (st->bucket_mask + 1) * sizeof *st->buckets +
         (st->header_bucket_mask + 1) * sizeof *st->header_buckets;
}

/* The store against the simplest reference (an array by pool entry plus arrival
 * numbers): which traces exist, their order, and the bytes. */
static void check_against(const ts_store *st, ts_trace *const *ref, const uint64_t *seq,
                          size_t n) {
  assert_int_equal(st->n_traces, n);
  size_t walked = 0, cost = 0;
  uint64_t last = 0;
  for (const ts_trace *t = st->oldest; t; t = t->newer, walked++) {
    uint32_t i;
    memcpy(&i, t->id, 4);
    assert_true(i < DIFF_POOL);
    assert_ptr_equal(ref[i], t);
    assert_true(seq[i] > last); /* oldest first */
    last = seq[i];
    cost += ts_trace_cost(t);
  }
  assert_int_equal(walked, n);
  assert_int_equal(st->bytes, table_bytes(st) + cost);
}

static void differential_run(uint32_t tag_mask, uint64_t seed) {
  ts_store st;
  assert_int_equal(ts_store_init(&st, 16), 0);
  st.tag_mask = tag_mask; /* narrow tags: most tag matches are other traces */
  ts_trace **ref = tg_calloc(DIFF_POOL, sizeof *ref);
  uint64_t *seq = tg_calloc(DIFF_POOL, sizeof *seq);
  assert_non_null(ref);
  assert_non_null(seq);
  ts_span_info info = {0};
  uint64_t x = seed, clock = 0;
  size_t n = 0, grew = 0, prev_mask = st.bucket_mask;
  uint8_t id[16];
  for (unsigned op = 0; op < 100000; op++) {
    uint32_t i = (uint32_t)(rng_next(&x) % DIFF_POOL);
    diff_id(id, i, seed);
    unsigned what = (unsigned)(rng_next(&x) % 10);
    unsigned insert_share = op < 50000 ? 6 : 3; /* fill up, then drain */
    ts_trace *found = ts_store_find(&st, id);
    assert_ptr_equal(found, ref[i]);
    if (what < insert_share) {
      ts_trace *t = ts_store_append(&st, found, id, TS_NO_HEADER, (const uint8_t *)"s", 1,
                                    &info, op, 0);
      assert_non_null(t);
      if (!found) {
        ref[i] = t;
        seq[i] = ++clock;
        n++;
      }
      assert_ptr_equal(t, ref[i]);
    } else if (what < insert_share + 2 && found) {
      ts_store_remove(&st, found);
      ref[i] = NULL;
      n--;
      assert_null(ts_store_find(&st, id));
    } else if (what == 9 && st.oldest) { /* as deciding does: the oldest goes */
      uint32_t j;
      memcpy(&j, st.oldest->id, 4);
      ts_store_remove(&st, st.oldest);
      ref[j] = NULL;
      n--;
    }
    if (st.bucket_mask != prev_mask) {
      grew++;
      prev_mask = st.bucket_mask;
    }
    if (op % 4999 == 0)
      check_against(&st, ref, seq, n);
  }
  assert_true(grew >= 3);
  check_against(&st, ref, seq, n);
  for (uint32_t i = 0; i < DIFF_POOL; i++) { /* every id, present or not */
    diff_id(id, i, seed);
    assert_ptr_equal(ts_store_find(&st, id), ref[i]);
  }
  /* remove every element, in an order unrelated to arrival */
  for (uint32_t k = 0; k < DIFF_POOL; k++) {
    uint32_t i = (uint32_t)((k * 7919u) % DIFF_POOL);
    if (!ref[i])
      continue;
    ts_store_remove(&st, ref[i]);
    ref[i] = NULL;
    n--;
    if (k % 1000 == 0)
      check_against(&st, ref, seq, n);
  }
  check_against(&st, ref, seq, 0);
  assert_null(st.oldest);
  for (size_t b = 0; b <= st.bucket_mask; b++) { /* no stale slot or probe count */
    assert_int_equal(st.buckets[b].passed, 0);
    for (unsigned k = 0; k < TS_BUCKET_SLOTS; k++)
      assert_int_equal(st.buckets[b].tag[k], 0);
  }
  assert_int_equal(st.bytes, table_bytes(&st));
  assert_int_equal((uintptr_t)st.buckets & 63, 0);
  tg_free(ref);
  tg_free(seq);
  ts_store_free(&st);
}

static void test_store_table_matches_reference(void **state) {
  (void)state;
  differential_run(UINT32_MAX, 0x9e3779b97f4a7c15u);
  differential_run(3, 0x2545f4914f6cdd1du); /* tags 1..3: nearly every slot matches */
  differential_run(0, 0x1234567u);          /* one tag for all */
}

/* When the table cannot grow (out of memory), it keeps working at a higher load: every
 * trace stays findable, absent IDs still end their probe, and it refuses a new trace
 * only when one free slot is left; once memory is back, the next new trace grows it. */
static void test_store_grow_failure_keeps_working(void **state) {
  (void)state;
  ts_store st;
  assert_int_equal(ts_store_init(&st, 16), 0);
  size_t mask = st.bucket_mask, slots = (mask + 1) * TS_BUCKET_SLOTS;
  ts_span_info info = {0};
  uint8_t id[16];
  size_t added = 0, grow_failures = 0;
  for (uint32_t i = 0; i < slots; i++) {
    diff_id(id, i, 42);
    /* past 3/4 of the slots (ts_store.c's load bound) a new trace grows the table first:
     * make that allocation, the next one, fail */
    int grows = st.n_traces >= (mask + 1) * TS_BUCKET_SLOTS * 3 / 4;
    if (grows)
      tg_alloc_fail_after(0, 0);
    ts_trace *t = ts_store_append(&st, NULL, id, TS_NO_HEADER, (const uint8_t *)"s", 1, &info,
                                  i, 0);
    tg_alloc_fail_after(-1, 0);
    if (!t) { /* refused: the table is full but for one slot */
      assert_int_equal(added, slots - 1);
      break;
    }
    grow_failures += grows;
    added++;
  }
  assert_int_equal(st.bucket_mask, mask); /* never grew */
  assert_int_equal(added, slots - 1);
  assert_true(grow_failures > 10);
  for (uint32_t i = 0; i < 4 * slots; i++) { /* present ones found, absent ones not */
    diff_id(id, i, 42);
    ts_trace *t = ts_store_find(&st, id);
    if (i < added) {
      assert_non_null(t);
      assert_memory_equal(t->id, id, 16);
    } else {
      assert_null(t);
    }
  }
  diff_id(id, (uint32_t)slots, 42); /* memory is back: this one grows the table */
  assert_non_null(ts_store_append(&st, NULL, id, TS_NO_HEADER, (const uint8_t *)"s", 1, &info,
                                  0, 0));
  assert_true(st.bucket_mask > mask);
  for (uint32_t i = 0; i <= slots; i++) {
    diff_id(id, i, 42);
    ts_trace *t = i == added ? NULL : ts_store_find(&st, id);
    if (i != added)
      assert_non_null(t);
    if (t)
      ts_store_remove(&st, t);
  }
  diff_id(id, (uint32_t)slots, 42);
  assert_null(ts_store_find(&st, id));
  assert_null(st.oldest);
  ts_store_free(&st);
}

/* ---- the trace's inline header references (issue 14) -------------------------------- */

static void add_under(ts_store *st, uint8_t tid, uint32_t header, const char *span) {
  uint8_t id[16] = {7};
  id[15] = tid;
  ts_span_info info = {0};
  assert_non_null(
      ts_store_add_span(st, id, header, (const uint8_t *)span, strlen(span), &info, 0, 0));
}

static ts_trace *inline_trace(ts_store *st, uint8_t tid) {
  uint8_t id[16] = {7};
  id[15] = tid;
  return ts_store_find(st, id);
}

/* How many times id is on the store's list of free header slots. */
static int on_free_list(const ts_store *st, uint32_t id) {
  int n = 0;
  for (uint32_t i = st->free_header; i != TS_NO_HEADER; i = st->headers[i].next)
    n += i == id;
  return n;
}

static void test_store_inline_header_refs(void **state) {
  (void)state;
  ts_store st;
  assert_int_equal(ts_store_init(&st, 64), 0);
  const size_t base = st.bytes;
  char rs[8][8];
  uint32_t h[6];
  for (int i = 0; i < 6; i++) {
    snprintf(rs[i], sizeof rs[i], "res-%d", i);
    h[i] = ts_store_intern_header(&st, (const uint8_t *)rs[i], strlen(rs[i]),
                                  (const uint8_t *)"", 0);
    assert_int_not_equal(h[i], TS_NO_HEADER);
  }
  /* trace 1 fits: A B A C, and a span with no header (not counted) */
  add_under(&st, 1, h[0], "a1");
  add_under(&st, 1, h[1], "b1");
  add_under(&st, 1, h[0], "a2");
  add_under(&st, 1, TS_NO_HEADER, "n");
  add_under(&st, 1, h[2], "c1");
  ts_trace *t1 = inline_trace(&st, 1);
  assert_int_equal(t1->n_hdr, 3);
  /* ordered by last record: B (its only record), A, C */
  assert_int_equal(t1->hdr_id[0], h[1]);
  assert_int_equal(t1->hdr_id[1], h[0]);
  assert_int_equal(t1->hdr_id[2], h[2]);
  assert_int_equal(t1->hdr_refs[1], 2);
  /* trace 2 uses all six: more than fit, removal walks its records */
  for (int i = 0; i < 6; i++)
    add_under(&st, 2, h[i], "x");
  add_under(&st, 2, h[5], "y");
  ts_trace *t2 = inline_trace(&st, 2);
  assert_int_equal(t2->n_hdr, TS_TRACE_HEADERS_OVERFLOW);
  assert_int_equal(st.headers[h[0]].refs, 3);
  assert_int_equal(st.headers[h[5]].refs, 2);
  /* removing trace 2 drops exactly its references: only D E F (used by it alone) go */
  ts_store_remove(&st, t2);
  for (int i = 0; i < 3; i++)
    assert_non_null(st.headers[h[i]].bytes);
  assert_int_equal(st.headers[h[0]].refs, 2);
  assert_int_equal(st.headers[h[1]].refs, 1);
  assert_int_equal(st.headers[h[2]].refs, 1);
  for (int i = 3; i < 6; i++) {
    assert_null(st.headers[h[i]].bytes);
    assert_int_equal(on_free_list(&st, h[i]), 1);
  }
  /* removing trace 1 from its inline list: A B C each released exactly once */
  ts_store_remove(&st, t1);
  for (int i = 0; i < 6; i++) {
    assert_null(st.headers[h[i]].bytes);
    assert_int_equal(st.headers[h[i]].refs, 0);
    assert_int_equal(on_free_list(&st, h[i]), 1);
  }
  /* in the record walk's order (by last record: B, A, C; the free list is LIFO) */
  assert_int_equal(st.free_header, h[2]);
  assert_int_equal(st.headers[h[2]].next, h[0]);
  assert_int_equal(st.headers[h[0]].next, h[1]);
  assert_int_equal(st.bytes, base + st.cap_headers * sizeof(ts_header));
  ts_store_free(&st);
}

/* Differential: random traces over 8 headers (some past the inline limit), random
 * removals; each removal must release the same headers in the same order, and leave
 * the same reference counts, as the record walk it replaces. */
static void test_store_header_release_matches_record_walk(void **state) {
  (void)state;
  ts_store st;
  assert_int_equal(ts_store_init(&st, 64), 0);
  uint64_t r = 0x2545f4914f6cdd1du;
  char rs[8][8];
  for (int i = 0; i < 8; i++)
    snprintf(rs[i], sizeof rs[i], "res-%d", i);
  uint32_t *refs = tg_calloc(4096, sizeof *refs);
  uint32_t *expect = tg_calloc(4096, sizeof *expect);
  assert_non_null(refs);
  assert_non_null(expect);
  size_t removed = 0;
  for (int step = 0; step < 20000; step++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    uint8_t tid = (uint8_t)(r % 40);
    if ((r >> 8) % 5 == 0) {
      ts_trace *t = inline_trace(&st, tid);
      if (!t)
        continue;
      /* the reference: walk the records as ts_store_remove used to */
      size_t n_expect = 0, off = 0, len;
      uint32_t hd;
      const uint8_t *span;
      for (size_t i = 0; i < st.n_headers; i++)
        refs[i] = st.headers[i].refs;
      while (ts_trace_next_record(t, &off, &hd, &span, &len))
        if (hd != TS_NO_HEADER && --refs[hd] == 0)
          expect[n_expect++] = hd;
      ts_store_remove(&st, t);
      removed++;
      for (size_t i = 0; i < st.n_headers; i++)
        assert_int_equal(st.headers[i].refs, refs[i]);
      uint32_t at = st.free_header; /* LIFO: the last released first */
      for (size_t i = n_expect; i-- > 0;) {
        assert_int_equal(at, expect[i]);
        at = st.headers[at].next;
      }
      continue;
    }
    int k = (int)((r >> 16) % 9);
    uint32_t hd = TS_NO_HEADER;
    if (k < 8) {
      hd = ts_store_intern_header(&st, (const uint8_t *)rs[k], strlen(rs[k]),
                                  (const uint8_t *)"", 0);
      assert_int_not_equal(hd, TS_NO_HEADER);
    }
    add_under(&st, tid, hd, "span");
  }
  assert_true(removed > 1000);
  while (st.oldest)
    ts_store_remove(&st, st.oldest);
  for (size_t i = 0; i < st.n_headers; i++) {
    assert_null(st.headers[i].bytes);
    assert_int_equal(on_free_list(&st, (uint32_t)i), 1);
  }
  tg_free(refs);
  tg_free(expect);
  ts_store_free(&st);
}

/* ---- worker wake-ups (issue 14) ------------------------------------------------------ */

static void on_worker_exit(void *ctx) { (void)ctx; }

static void worker_read(ts_worker *w, int *waiting, size_t *signals, size_t *queued) {
  pthread_mutex_lock(&w->lock);
  *waiting = w->waiting;
  *signals = w->signals;
  *queued = w->queued;
  pthread_mutex_unlock(&w->lock);
}

/* Polls (1 ms apart, 5 s deadline) until the worker waits in state `waiting` with the
 * processor's inbox count at `inbox`. */
static void await_worker(ts_worker *w, atomic_size_t *inbox, int waiting, size_t want_inbox) {
  for (int i = 0; i < 5000; i++) {
    int now_waiting;
    size_t signals, queued;
    worker_read(w, &now_waiting, &signals, &queued);
    if (now_waiting == waiting && atomic_load(inbox) == want_inbox)
      return;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  fail_msg("worker did not reach state %d with inbox %zu", waiting, want_inbox);
}

static ts_msg *filler(size_t cap) {
  ts_msg *m = tg_calloc(1, sizeof *m);
  m->data = tg_malloc(1);
  m->cap = cap; /* an empty message that counts as cap bytes */
  return m;
}

static void post(ts_worker *w, atomic_size_t *inbox, ts_msg *m) {
  atomic_fetch_add(inbox, m->cap);
  ts_worker_post(w, m);
}

static void test_worker_coalesces_wakeups(void **state) {
  (void)state;
  decided d;
  /* nothing falls due during the test: only posts and the stop wake the worker */
  load(&d, "decision_wait: 60s\npolicies: [{name: all, type: always_sample}]\n");
  ts_metrics metrics;
  ts_metrics_init(&metrics, NULL, "tail_sampling", &d.conf.policies);
  sink out = {0};
  atomic_size_t inbox;
  atomic_init(&inbox, 0);
  ts_worker *w = tg_calloc(1, sizeof *w);
  assert_int_equal(ts_worker_init(w, &inbox, on_worker_exit, NULL), 0);
  assert_int_equal(ts_shard_init(&w->shard, &d.conf, &d.leaves, &d.lim, &metrics, NULL, 100, 0,
                                 collect, &out),
                   0);
  w->rest_ms = 60000; /* after its first drain the worker rests for the whole test */
  assert_int_equal(ts_worker_start(w), 0);
  await_worker(w, &inbox, 1 /* idle */, 0);
  int waiting;
  size_t signals, queued;
  /* an idle worker is woken by the first message: two traces */
  ts_test_span spans[] = {{.trace = 1, .span = 1}, {.trace = 2, .span = 2}};
  tg_batch *b = ts_test_batch("svc", spans, 2);
  ts_msg *m[1];
  assert_int_equal(ts_slice_batch(b, 1, m), TG_OK);
  tg_batch_free(b);
  post(w, &inbox, m[0]);
  worker_read(w, &waiting, &signals, &queued);
  assert_int_equal(signals, 1);
  await_worker(w, &inbox, 2 /* resting */, 0);
  assert_int_equal(w->shard.store.n_traces, 2); /* ingested (inbox count fell after it) */
  /* resting: small messages queue without a wake-up */
  post(w, &inbox, filler(100));
  post(w, &inbox, filler(200));
  post(w, &inbox, filler(300));
  worker_read(w, &waiting, &signals, &queued);
  assert_int_equal(signals, 1);
  assert_int_equal(queued, 600);
  assert_int_equal(waiting, 2);
  /* ... until the inbox holds TS_WORKER_BATCH_BYTES: one signal, everything drained */
  post(w, &inbox, filler(TS_WORKER_BATCH_BYTES - 600));
  worker_read(w, &waiting, &signals, &queued);
  assert_int_equal(signals, 2);
  await_worker(w, &inbox, 2, 0);
  worker_read(w, &waiting, &signals, &queued);
  assert_int_equal(signals, 2);
  assert_int_equal(queued, 0);
  /* a stop ends the rest at once: every trace decided (always_sample keeps both) */
  ts_worker_request_stop(w);
  for (int i = 0; i < 5000 && !atomic_load(&w->exited); i++)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  assert_true(atomic_load(&w->exited));
  ts_worker_destroy(w);
  assert_int_equal(sink_spans(&out), 2);
  tg_free(w);
  sink_free(&out);
  ts_metrics_destroy(&metrics);
  unload(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threshold),
      cmocka_unit_test(test_tracestate),
      cmocka_unit_test(test_conf_collector_policies_load),
      cmocka_unit_test(test_conf_errors_have_positions),
      cmocka_unit_test(test_latency_bounds),
      cmocka_unit_test(test_combinators_and_drop),
      cmocka_unit_test(test_invert_is_plain_negation),
      cmocka_unit_test(test_rate_limits_and_composite),
      cmocka_unit_test(test_probabilistic_marks_only_when_alone),
      cmocka_unit_test(test_shard_waits_then_keeps_whole_traces),
      cmocka_unit_test(test_shard_late_spans_follow_cache),
      cmocka_unit_test(test_slice_references_wire_spans),
      cmocka_unit_test(test_shard_bounds_decide_early),
      cmocka_unit_test(test_shard_maximum_trace_size),
      cmocka_unit_test(test_shard_threshold_in_tracestate),
      cmocka_unit_test(test_attribute_leaves_on_wire),
      cmocka_unit_test(test_wire_round_trip_and_memory_ratio),
      cmocka_unit_test(test_patterned_ids_spread),
      cmocka_unit_test(test_store_reuses_trace_entries_bounded),
      cmocka_unit_test(test_store_table_matches_reference),
      cmocka_unit_test(test_store_grow_failure_keeps_working),
      cmocka_unit_test(test_store_inline_header_refs),
      cmocka_unit_test(test_store_header_release_matches_record_walk),
      cmocka_unit_test(test_worker_coalesces_wakeups),
      cmocka_unit_test(test_cache_forgets_oldest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
