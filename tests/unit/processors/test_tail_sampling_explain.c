/* tail_sampling explanations: the 16-byte verdict record, a note per evaluated policy for
 * every policy type, decision attributes on the wire (decision_wait, early, shutdown,
 * late, debug), the shard's debug query in every state, and the explain command's
 * parser and report. Expected values are worked out by hand from the inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "ts_cache.h"
#include "ts_explain.h"
#include "ts_prob.h"
#include "ts_shard.h"
#include "ts_slice.h"
#include "ts_test_util.h"
#include "ts_verdict.h"

/* ---- the record ------------------------------------------------------------------- */

static void test_record_round_trip_and_saturation(void **state) {
  (void)state;
  assert_int_equal(sizeof(ts_verdict_rec), 16);
  ts_verdict v = {.votes = UINT64_C(0xffff800000000005), /* bits past 48 are not kept */
                  .state = TS_STATE_DROPPED, .cause = TS_CAUSE_EARLY, .bound = TS_EARLY_TOO_LARGE,
                  .debug = 1, .prob_only = 1, .span_count = 1234, .wire_bytes = 99999,
                  .wait_ms = 30012};
  ts_verdict u = ts_verdict_unpack(ts_verdict_pack(&v));
  assert_true(u.votes == (UINT64_C(0x0000800000000005)));
  assert_int_equal(u.state, TS_STATE_DROPPED);
  assert_int_equal(u.cause, TS_CAUSE_EARLY);
  assert_int_equal(u.bound, TS_EARLY_TOO_LARGE);
  assert_int_equal(u.debug, 1);
  assert_int_equal(u.prob_only, 1);
  assert_int_equal(u.span_count, 1234);
  assert_int_equal(u.wire_bytes, 99999);
  assert_int_equal(u.wait_ms, 30012);
  v = (ts_verdict){.span_count = 5000000, .wire_bytes = UINT32_MAX, .wait_ms = 3000000};
  u = ts_verdict_unpack(ts_verdict_pack(&v));
  assert_int_equal(u.span_count, (1u << 20) - 1);
  assert_int_equal(u.wire_bytes, (1u << 24) - 1);
  assert_int_equal(u.wait_ms, (1u << 20) - 1);
  assert_int_equal(u.debug, 0);
  assert_string_equal(ts_verdict_trigger(&u), "decision_wait");
  u.cause = TS_CAUSE_EARLY;
  u.bound = TS_EARLY_TRACES;
  assert_string_equal(ts_verdict_trigger(&u), "early:num_traces");
  u.bound = TS_EARLY_MEMORY;
  assert_string_equal(ts_verdict_trigger(&u), "early:max_memory_mib");
  u.cause = TS_CAUSE_SHUTDOWN;
  assert_string_equal(ts_verdict_trigger(&u), "shutdown");
  u.debug = 1;
  assert_string_equal(ts_verdict_trigger(&u), "debug");
  /* the cost: 16 bytes per remembered decision, nothing when records are off */
  ts_cache c;
  assert_int_equal(ts_cache_init(&c, 1000), 0);
  size_t without = ts_cache_bytes(&c);
  assert_int_equal(ts_cache_keep_records(&c), 0);
  assert_int_equal(ts_cache_bytes(&c) - without, 1000 * 16);
  uint8_t id[16] = {1, 2, 3};
  ts_verdict_rec rec = ts_verdict_pack(&v), back;
  ts_cache_put_rec(&c, id, 77, &rec);
  uint64_t when = 0;
  assert_int_equal(ts_cache_get_rec(&c, id, &when, &back), 1);
  assert_int_equal(when, 77);
  assert_memory_equal(&back, &rec, sizeof rec);
  id[0] = 9;
  assert_int_equal(ts_cache_get_rec(&c, id, NULL, &back), 0);
  ts_cache_free(&c);
}

/* ---- notes for every policy type ---------------------------------------------------- */

typedef struct loaded {
  tg_ts_conf conf;
  tg_diag diag;
  ts_leaves leaves;
  ts_limiters lim;
} loaded;

static void load(loaded *d, const char *yaml) {
  if (ts_test_conf(yaml, &d->conf, &d->diag)) {
    tg_diag_print(&d->diag, stdout);
    fail_msg("config did not load");
  }
  ts_leaves_collect(&d->conf.policies, &d->leaves);
  assert_int_equal(ts_limiters_init(&d->lim, d->conf.policies.n_rates), 0);
}

static void unload(loaded *d) {
  ts_limiters_free(&d->lim);
  tg_conf_release(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, &d->conf);
  tg_diag_free(&d->diag);
}

static ts_trace summary(uint64_t duration_ms, uint32_t spans, uint64_t leaves) {
  ts_trace t;
  memset(&t, 0, sizeof t);
  t.id[0] = 1;
  t.min_start = UINT64_C(1700000000000000000);
  t.max_end = t.min_start + duration_ms * 1000000u;
  t.span_count = spans;
  t.wire_bytes = 100u * spans;
  t.leaf_mask = leaves;
  return t;
}

static uint64_t leaf_bit(const loaded *d, size_t top, int sub) {
  const tg_ts_policy *p = &d->conf.policies.items[top];
  if (sub >= 0)
    p = &p->subs[sub];
  assert_true(p->leaf >= 0);
  return UINT64_C(1) << p->leaf;
}

static void test_notes_for_every_policy_type(void **state) {
  (void)state;
  loaded d;
  load(&d, "policies:\n"
           "  - {name: all, type: always_sample}\n"                                        /* 0 */
           "  - {name: slow, type: latency, latency: {threshold_ms: 500}}\n"               /* 1 */
           "  - {name: big, type: numeric_attribute, numeric_attribute: {key: n, min_value: 10}}\n"
           "  - {name: tier, type: string_attribute, string_attribute: {key: tier, values: [gold]}}\n"
           "  - {name: flag, type: boolean_attribute, boolean_attribute: {key: b, value: true}}\n"
           "  - {name: err, type: status_code, status_code: {status_codes: [ERROR]}}\n"    /* 5 */
           "  - {name: ts, type: trace_state, trace_state: {key: k, values: [v]}}\n"
           "  - {name: sampled, type: trace_flags}\n"
           "  - {name: many, type: span_count, span_count: {min_spans: 3}}\n"
           "  - {name: ten, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n"
           "  - name: both\n    type: and\n    and:\n      and_sub_policy:\n"               /* 10 */
           "        - {name: e2, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "        - {name: s2, type: latency, latency: {threshold_ms: 100}}\n"
           "  - name: neither\n    type: not\n    not:\n      not_sub_policy: {name: m2, type: span_count, span_count: {min_spans: 5}}\n"
           "  - name: rl\n    type: rate_limiting\n    rate_limiting: {spans_per_second: 1}\n"
           "  - name: bl\n    type: bytes_limiting\n    bytes_limiting: {bytes_per_second: 100, burst_capacity: 250}\n"
           "  - name: comp\n    type: composite\n    composite:\n"                          /* 14 */
           "      max_total_spans_per_second: 10\n"
           "      policy_order: [c-err, c-all]\n"
           "      composite_sub_policy:\n"
           "        - {name: c-all, type: always_sample}\n"
           "        - {name: c-err, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "      rate_allocation: [{policy: c-err, percent: 50}, {policy: c-all, percent: 20}]\n"
           "  - name: no-health\n    type: drop\n    drop:\n      drop_sub_policy:\n"       /* 15 */
           "        - {name: h, type: string_attribute, string_attribute: {key: route, values: [/health]}}\n");
  const size_t n = d.conf.policies.n;
  assert_int_equal(n, 16);
  /* an error trace of 2 spans lasting 700 ms, gold tier, n = 12, b = true, flags and
   * tracestate matching; R = 0x00ff..: above 10 %'s T */
  uint64_t bits = leaf_bit(&d, 2, -1) | leaf_bit(&d, 3, -1) | leaf_bit(&d, 4, -1) |
                  leaf_bit(&d, 5, -1) | leaf_bit(&d, 6, -1) | leaf_bit(&d, 7, -1) |
                  leaf_bit(&d, 10, 0) | leaf_bit(&d, 14, 1);
  ts_trace t = summary(700, 2, bits);
  t.id[9] = 0xff;
  uint8_t v[16];
  ts_explain *x = tg_malloc(sizeof *x);
  ts_decision dec = ts_policy_decide_explained(&d.conf, &t, &d.lim, 1000, 50, v, x);
  assert_true(dec.keep);
  /* drop first (the Collector's order): no-health and its sub, then the rest in order */
  static const struct {
    const char *name;
    int depth, verdict;
  } want[] = {{"no-health", 0, TS_VERDICT_NOT_SAMPLED}, {"h", 1, TS_VERDICT_NOT_SAMPLED},
              {"all", 0, TS_VERDICT_SAMPLED},         {"slow", 0, TS_VERDICT_SAMPLED},
              {"big", 0, TS_VERDICT_SAMPLED},         {"tier", 0, TS_VERDICT_SAMPLED},
              {"flag", 0, TS_VERDICT_SAMPLED},        {"err", 0, TS_VERDICT_SAMPLED},
              {"ts", 0, TS_VERDICT_SAMPLED},          {"sampled", 0, TS_VERDICT_SAMPLED},
              {"many", 0, TS_VERDICT_NOT_SAMPLED},    {"ten", 0, TS_VERDICT_SAMPLED},
              {"both", 0, TS_VERDICT_SAMPLED},        {"e2", 1, TS_VERDICT_SAMPLED},
              {"s2", 1, TS_VERDICT_SAMPLED},          {"neither", 0, TS_VERDICT_SAMPLED},
              {"m2", 1, TS_VERDICT_NOT_SAMPLED},      {"rl", 0, TS_VERDICT_SAMPLED},
              {"bl", 0, TS_VERDICT_SAMPLED},          {"comp", 0, TS_VERDICT_SAMPLED},
              {"c-err", 1, TS_VERDICT_SAMPLED}};
  assert_int_equal(x->n, sizeof want / sizeof want[0]);
  for (size_t i = 0; i < x->n; i++) {
    assert_string_equal(x->notes[i].policy->name, want[i].name);
    assert_int_equal(x->notes[i].depth, want[i].depth);
    assert_int_equal(x->notes[i].verdict, want[i].verdict);
  }
  assert_int_equal(x->notes[3].value, 700);            /* latency: the duration computed */
  assert_int_equal(x->notes[10].value, 2);             /* span_count: the spans counted */
  assert_true(x->notes[11].r == UINT64_C(0xff000000000000)); /* R: bytes 9..15 */
  assert_true(x->notes[11].t == (UINT64_C(0xe666) << 40));    /* T at 10 % */
  assert_int_equal(x->notes[17].value, 2);             /* rate: cost 2 spans */
  assert_true(x->notes[17].available == 2.0);          /* a full bucket: burst 2 x 1 */
  assert_int_equal(x->notes[17].limited, 0);
  assert_int_equal(x->notes[18].value, 200);           /* bytes: cost 2 x 100 */
  assert_true(x->notes[18].available == 250.0);
  assert_int_equal(x->notes[19].sub, 1);               /* c-err, first in policy_order */
  assert_int_equal(x->notes[19].share, 5);             /* 50 % of 10 spans/s */
  assert_true(x->notes[19].available == 0.0);
  assert_int_equal(x->notes[19].limited, 0);
  /* the record's votes: every top-level policy that said sampled */
  ts_verdict rec = {0};
  ts_verdict_set_votes(&rec, v, n);
  assert_true(rec.votes == (UINT64_C(0xffff) & ~(UINT64_C(1) << 8) & ~(UINT64_C(1) << 15)));

  /* the same trace again at the same instant: the buckets and the share refuse it */
  dec = ts_policy_decide_explained(&d.conf, &t, &d.lim, 1000, 50, v, x);
  assert_int_equal(v[12], TS_VERDICT_NOT_SAMPLED);
  assert_int_equal(x->notes[17].limited, 1);
  assert_true(x->notes[17].available == 0.0);
  assert_int_equal(v[13], TS_VERDICT_NOT_SAMPLED);
  assert_int_equal(x->notes[18].limited, 1);
  assert_true(x->notes[18].available == 50.0);
  /* composite: 2 spans spent, 2 more fit c-err's share of 5 */
  assert_int_equal(v[14], TS_VERDICT_SAMPLED);
  assert_true(x->notes[19].available == 2.0);
  assert_int_equal(x->notes[19].limited, 0);
  /* a third time: 4 spent, 6 > 5: the share refuses */
  dec = ts_policy_decide_explained(&d.conf, &t, &d.lim, 1000, 50, v, x);
  assert_int_equal(v[14], TS_VERDICT_NOT_SAMPLED);
  assert_int_equal(x->notes[19].sub, 1);
  assert_true(x->notes[19].available == 4.0);
  assert_int_equal(x->notes[19].limited, 1);
  assert_true(dec.keep); /* always_sample still keeps it */
  /* the next second starts the share afresh */
  ts_policy_decide_explained(&d.conf, &t, &d.lim, 1000, 51, v, x);
  assert_int_equal(v[14], TS_VERDICT_SAMPLED);
  assert_true(x->notes[19].available == 0.0);
  unload(&d);
  tg_free(x);
}

/* A buffered trace's verdicts so far: limiters are not touched, and what depends on
 * them is pending. */
static void test_preview_leaves_limiters_alone(void **state) {
  (void)state;
  loaded d;
  load(&d, "policies:\n"
           "  - {name: err, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "  - name: err-limited\n    type: and\n    and:\n      and_sub_policy:\n"
           "        - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n"
           "        - {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 1}}\n"
           "  - name: not-limited\n    type: not\n    not:\n      not_sub_policy: {name: r2, type: rate_limiting, rate_limiting: {spans_per_second: 1}}\n"
           "  - name: no-health\n    type: drop\n    drop:\n      drop_sub_policy:\n"
           "        - {name: h, type: string_attribute, string_attribute: {key: route, values: [/health]}}\n"
           "  - name: comp\n    type: composite\n    composite:\n      max_total_spans_per_second: 10\n"
           "      composite_sub_policy: [{name: all, type: always_sample}]\n"
           "      rate_allocation: [{policy: all, percent: 100}]\n");
  uint8_t v[5];
  ts_trace t = summary(10, 50, leaf_bit(&d, 0, -1) | leaf_bit(&d, 1, 0) | leaf_bit(&d, 3, 0));
  ts_policy_preview(&d.conf, &t, v);
  assert_int_equal(v[0], TS_VERDICT_SAMPLED);
  assert_int_equal(v[1], TS_VERDICT_PENDING);     /* error, and then the bucket */
  assert_int_equal(v[2], TS_VERDICT_PENDING);
  assert_int_equal(v[3], TS_VERDICT_DROPPED);
  assert_int_equal(v[4], TS_VERDICT_PENDING);
  t = summary(10, 50, 0);
  ts_policy_preview(&d.conf, &t, v);
  assert_int_equal(v[0], TS_VERDICT_NOT_SAMPLED);
  assert_int_equal(v[1], TS_VERDICT_NOT_SAMPLED); /* no error: no bucket can change that */
  assert_int_equal(v[3], TS_VERDICT_NOT_SAMPLED);
  /* the buckets are still full: 2 tokens for a 2-span trace in both */
  t = summary(10, 2, leaf_bit(&d, 0, -1) | leaf_bit(&d, 1, 0));
  ts_decision dec = ts_policy_decide(&d.conf, &t, &d.lim, 0, 0, v);
  assert_true(dec.keep);
  assert_int_equal(v[1], TS_VERDICT_SAMPLED);
  assert_int_equal(v[2], TS_VERDICT_NOT_SAMPLED); /* r2 took its 2 tokens: not(sampled) */
  unload(&d);
}

/* ---- decision attributes on the wire ------------------------------------------------- */

typedef struct sink {
  tg_batch *got[64];
  size_t n;
} sink;

static void collect(void *ctx, tg_batch *b) {
  sink *s = ctx;
  assert_true(s->n < 64);
  s->got[s->n++] = b;
}

typedef struct fixture {
  loaded d;
  ts_metrics metrics;
  ts_shard shard;
  sink out;
} fixture;

static void fixture_up(fixture *f, const char *yaml, size_t max_traces) {
  memset(f, 0, sizeof *f);
  load(&f->d, yaml);
  ts_metrics_init(&f->metrics, NULL, "tail_sampling", &f->d.conf.policies);
  assert_int_equal(ts_shard_init(&f->shard, &f->d.conf, &f->d.leaves, &f->d.lim, &f->metrics,
                                 NULL, max_traces, 0, collect, &f->out),
                   0);
}

static void fixture_down(fixture *f) {
  ts_shard_free(&f->shard);
  for (size_t i = 0; i < f->out.n; i++)
    tg_batch_free(f->out.got[i]);
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

static const tg_any_value *attr_of(const tg_span *s, const char *key) {
  for (size_t i = 0; i < s->n_attributes; i++)
    if (!strcmp(s->attributes[i]->key, key))
      return s->attributes[i]->value;
  return NULL;
}

/* Every span of the collected output, as "trace-byte:policies|trigger". */
static void describe_output(fixture *f, char *out, size_t cap) {
  out[0] = 0;
  for (size_t i = 0; i < f->out.n; i++) {
    tg_batch *b = f->out.got[i];
    assert_int_equal(tg_batch_materialize(b), TG_OK);
    for (size_t r = 0; r < b->request.n_resource_spans; r++)
      for (size_t k = 0; k < b->request.resource_spans[r]->n_scope_spans; k++) {
        tg_scope_spans *ss = b->request.resource_spans[r]->scope_spans[k];
        for (size_t m = 0; m < ss->n_spans; m++) {
          const tg_span *s = ss->spans[m];
          const tg_any_value *p = attr_of(s, "tailgate.sampling.policies");
          const tg_any_value *t = attr_of(s, "tailgate.sampling.trigger");
          char line[160];
          int len = snprintf(line, sizeof line, "%u:", s->trace_id.data[15]);
          if (p) {
            assert_int_equal(p->value_case,
                             OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
            for (size_t v = 0; v < p->array_value->n_values; v++)
              len += snprintf(line + len, sizeof line - (size_t)len, "%s%s", v ? "," : "",
                              p->array_value->values[v]->string_value);
          }
          snprintf(line + len, sizeof line - (size_t)len, "|%s;", t ? t->string_value : "-");
          strncat(out, line, cap - strlen(out) - 1);
        }
      }
  }
}

#define ATTR_YAML                                                                          \
  "decision_wait: 1s\ndecision_attributes: true\n"                                         \
  "decision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\n"                 \
  "policies:\n"                                                                            \
  "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"          \
  "  - {name: tier, type: string_attribute, string_attribute: {key: tier, values: [gold]}}\n" \
  "  - {name: ten, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n"

static void test_attributes_name_policies_and_trigger(void **state) {
  (void)state;
  fixture f;
  char got[2048];
  fixture_up(&f, ATTR_YAML, 100);
  /* trace 1: error + gold; trace 2: gold only; trace 3: R high only; trace 4: nothing;
   * trace 5: debug mark only */
  ts_test_span s[] = {
      {.trace = 1, .span = 1, .status = 2}, {.trace = 1, .span = 2, .attr_key = "tier", .attr_str = "gold"},
      {.trace = 2, .span = 3, .attr_key = "tier", .attr_str = "gold"},
      {.trace = 3, .trace_high = UINT64_C(0x00f0000000000000), .span = 4},
      {.trace = 4, .span = 5},
      {.trace = 5, .span = 6, .attr_key = "sampling.priority", .attr_int = 1, .has_int = 1}};
  ingest(&f, ts_test_batch("svc", s, 6), 0);
  assert_int_equal(ts_shard_decide_due(&f.shard, 1000), 5);
  ts_shard_flush(&f.shard);
  describe_output(&f, got, sizeof got);
  assert_string_equal(got, "1:errors,tier|decision_wait;1:errors,tier|decision_wait;"
                           "2:tier|decision_wait;3:ten|decision_wait;5:|debug;");
  /* a late span of trace 2, forwarded from the cache */
  for (size_t i = 0; i < f.out.n; i++)
    tg_batch_free(f.out.got[i]);
  f.out.n = 0;
  ts_test_span late[] = {{.trace = 2, .span = 9}, {.trace = 4, .span = 10}};
  ingest(&f, ts_test_batch("svc", late, 2), 3000);
  ts_shard_flush(&f.shard);
  describe_output(&f, got, sizeof got);
  assert_string_equal(got, "2:tier|late;");
  fixture_down(&f);

  /* early (num_traces) and shutdown */
  fixture_up(&f, ATTR_YAML, 1);
  ts_test_span e[] = {{.trace = 1, .span = 1, .status = 2}, {.trace = 2, .span = 2, .status = 2}};
  ingest(&f, ts_test_batch("svc", e, 2), 0);
  ts_shard_decide_all(&f.shard, 10);
  ts_shard_flush(&f.shard);
  describe_output(&f, got, sizeof got);
  assert_string_equal(got, "1:errors|early:num_traces;2:errors|shutdown;");
  fixture_down(&f);

  /* off by default: the spans are passed on byte for byte */
  fixture_up(&f, "decision_wait: 1s\npolicies: [{name: all, type: always_sample}]\n", 10);
  ts_test_span one[] = {{.trace = 1, .span = 1}};
  ingest(&f, ts_test_batch("svc", one, 1), 0);
  ts_shard_decide_due(&f.shard, 1000);
  ts_shard_flush(&f.shard);
  describe_output(&f, got, sizeof got);
  assert_string_equal(got, "1:|-;");
  fixture_down(&f);
}

/* ---- the debug query ------------------------------------------------------------------- */

static int query(fixture *f, uint8_t last, tg_buf *out) {
  uint8_t id[16] = {1};
  id[15] = last;
  out->len = 0;
  int rc = ts_shard_query(&f->shard, "tail_sampling/x", id, 5000, 1700000005000, out);
  tg_buf_append(out, "", 1);
  return rc;
}

static void test_query_every_state(void **state) {
  (void)state;
  fixture f;
  tg_buf out;
  tg_buf_init(&out, 0);
  fixture_up(&f, "decision_wait: 1s\nmaximum_trace_size_bytes: 400\n"
                 "decision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\n"
                 "policies:\n"
                 "  - name: no-health\n    type: drop\n    drop:\n      drop_sub_policy:\n"
                 "        - {name: h, type: string_attribute, string_attribute: {key: route, values: [/health]}}\n"
                 "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n",
             100);
  assert_int_equal(query(&f, 1, &out), TG_EINVAL); /* queries not enabled */
  assert_int_equal(ts_shard_enable_queries(&f.shard), 0);
  f.shard.index = 3;
  ts_test_span s[] = {{.trace = 1, .span = 1, .status = 2, .start_ms = 0, .end_ms = 40},
                      {.trace = 2, .span = 2},
                      {.trace = 3, .span = 3, .status = 2, .attr_key = "route", .attr_str = "/health"}};
  ingest(&f, ts_test_batch("svc", s, 3), 1000);
  ts_test_span big[10];
  for (int i = 0; i < 10; i++)
    big[i] = (ts_test_span){.trace = 4, .span = (uint8_t)(10 + i)};
  ingest(&f, ts_test_batch("svc", big, 10), 1500); /* ~50 bytes a span: over 400 */
  assert_int_equal(query(&f, 1, &out), TG_OK);
  assert_string_equal((char *)out.data,
                      "{\"processor\":\"tail_sampling/x\",\"shard\":3,\"state\":\"buffered\","
                      "\"first_span_unix_ms\":1700000001000,\"decision_due_unix_ms\":1700000002000,"
                      "\"span_count\":1,\"bytes\":56,\"policies\":[{\"name\":\"no-health\","
                      "\"verdict\":\"would_not_sample\"},{\"name\":\"errors\",\"verdict\":\"would_sample\"}]}");
  ts_shard_decide_due(&f.shard, 2500);
  assert_int_equal(query(&f, 1, &out), TG_OK);
  assert_string_equal((char *)out.data,
                      "{\"processor\":\"tail_sampling/x\",\"shard\":3,\"state\":\"sampled\","
                      "\"first_span_unix_ms\":1700000001000,\"decided_unix_ms\":1700000002500,"
                      "\"span_count\":1,\"bytes\":56,\"trigger\":\"decision_wait\","
                      "\"probabilistic_only\":false,\"policies\":[{\"name\":\"no-health\","
                      "\"verdict\":\"not_sampled\"},{\"name\":\"errors\",\"verdict\":\"sampled\"}]}");
  assert_int_equal(query(&f, 2, &out), TG_OK);
  assert_non_null(strstr((char *)out.data, "\"state\":\"not_sampled\""));
  assert_non_null(strstr((char *)out.data, "{\"name\":\"errors\",\"verdict\":\"not_sampled\"}"));
  assert_int_equal(query(&f, 3, &out), TG_OK);
  assert_non_null(strstr((char *)out.data, "\"state\":\"dropped\""));
  assert_non_null(strstr((char *)out.data, "{\"name\":\"no-health\",\"verdict\":\"dropped\"}"));
  assert_non_null(strstr((char *)out.data, "{\"name\":\"errors\",\"verdict\":\"not_sampled\"}"));
  assert_int_equal(query(&f, 4, &out), TG_OK); /* too large: dropped while arriving */
  assert_non_null(strstr((char *)out.data, "\"state\":\"dropped\""));
  assert_non_null(strstr((char *)out.data, "\"trigger\":\"early:maximum_trace_size_bytes\""));
  assert_non_null(strstr((char *)out.data, "\"first_span_unix_ms\":1700000001500,\"decided_unix_ms\":1700000001500"));
  assert_int_equal(query(&f, 99, &out), TG_ENOTFOUND);
  tg_buf_free(&out);
  fixture_down(&f);
}

/* ---- the explain command's parser and report ---------------------------------------- */

static const char explain_conf[] =
    "policies:\n"
    "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "  - {name: slow, type: latency, latency: {threshold_ms: 500}}\n"
    "  - {name: tier, type: string_attribute, string_attribute: {key: tier, values: [gold]}}\n"
    "  - name: rl\n    type: rate_limiting\n    rate_limiting: {spans_per_second: 1}\n";

static const char explain_json[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"tier\",\"value\":{\"stringValue\":\"gold\"}}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"s\"},\"spans\":["
    "{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"b7ad6b7169203331\",\"name\":\"GET /a\","
    "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":1700000000700000000,"
    "\"status\":{\"code\":\"STATUS_CODE_ERROR\"}},"
    "{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"b7ad6b7169203332\",\"name\":\"db\","
    "\"startTimeUnixNano\":\"1700000000100000000\",\"endTimeUnixNano\":\"1700000000200000000\","
    "\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":\"7\"}}]}]}]}]}";

static void test_explain_report(void **state) {
  (void)state;
  loaded d;
  load(&d, explain_conf);
  tg_batch *b = tg_batch_new(4096, 0);
  char err[128] = "";
  assert_int_equal(ts_explain_parse(b, (const uint8_t *)explain_json, strlen(explain_json), err,
                                    sizeof err),
                   TG_OK);
  assert_int_equal(b->span_count, 2);
  tg_buf out;
  tg_buf_init(&out, 0);
  assert_int_equal(ts_explain_run(&d.conf, b, 0, &out), TG_OK);
  tg_buf_append(&out, "", 1);
  /* rl took the 2 tokens: sampled too */
  assert_string_equal((char *)out.data,
                      "trace 0af7651916cd43dd8448eb211c80319c: 2 spans, 121 bytes, duration 700 ms\n"
                      "  decision: sampled (by \"errors\", \"slow\", \"tier\", \"rl\")\n"
                      "  policy \"errors\" (status_code): sampled: span \"GET /a\" b7ad6b7169203331 has status ERROR\n"
                      "  policy \"slow\" (latency): sampled: duration 700 ms >= threshold 500 ms\n"
                      "  policy \"tier\" (string_attribute): sampled: resource attribute tier = \"gold\" (resource of span \"GET /a\")\n"
                      "  policy \"rl\" (rate_limiting): sampled: cost 2 spans, bucket held 2 (1 spans/s, burst 2): taken\n");
  /* the same request as protobuf gives the same report */
  size_t len = tg_batch_encoded_size(b);
  uint8_t *pb = tg_malloc(len);
  assert_int_equal(tg_batch_encode(b, pb), len);
  tg_batch *b2 = tg_batch_new(4096, 0);
  assert_int_equal(ts_explain_parse(b2, pb, len, err, sizeof err), TG_OK);
  tg_buf out2;
  tg_buf_init(&out2, 0);
  assert_int_equal(ts_explain_run(&d.conf, b2, 0, &out2), TG_OK);
  tg_buf_append(&out2, "", 1);
  assert_string_equal((char *)out2.data, (char *)out.data);
  tg_free(pb);
  tg_buf_free(&out);
  tg_buf_free(&out2);
  tg_batch_free(b);
  tg_batch_free(b2);
  unload(&d);
}

static void test_explain_parse_errors(void **state) {
  (void)state;
  static const struct {
    const char *in, *msg;
  } cases[] = {
      {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"abc\"}]}]}]}",
       "traceId must be 32 hex digits"},
      {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"b7ad6b7169203331\"}]}]}]}",
       "a span has no traceId"},
      {"{\"resourceSpans\":{}}", "resourceSpans, scopeSpans and spans must be arrays"},
      {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\","
       "\"startTimeUnixNano\":\"-5\"}]}]}]}",
       "a time must not be negative"},
      {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\","
       "\"status\":{\"code\":\"STATUS_CODE_MAYBE\"}}]}]}]}",
       "an enum name is unknown"},
      {"{\"resourceSpans\":[", NULL},
      {"\x0a\x05\x0a", "not OTLP/JSON and not a protobuf ExportTraceServiceRequest"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_batch *b = tg_batch_new(4096, 0);
    char err[160] = "";
    assert_int_equal(ts_explain_parse(b, (const uint8_t *)cases[i].in, strlen(cases[i].in), err,
                                      sizeof err),
                     TG_EDECODE);
    if (cases[i].msg)
      assert_string_equal(err, cases[i].msg);
    else
      assert_non_null(strstr(err, "JSON: "));
    assert_int_equal(b->span_count, 0);
    tg_batch_free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_round_trip_and_saturation),
      cmocka_unit_test(test_notes_for_every_policy_type),
      cmocka_unit_test(test_preview_leaves_limiters_alone),
      cmocka_unit_test(test_attributes_name_policies_and_trigger),
      cmocka_unit_test(test_query_every_state),
      cmocka_unit_test(test_explain_report),
      cmocka_unit_test(test_explain_parse_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
