/* spanmetrics: the aggregation table (counts, sums, Prometheus-inclusive buckets,
 * cardinality overflow, expiration, exemplars only of kept traces, label sanitising) and
 * the component in both placements (processor passing spans through and counting only
 * what downstream took; connector announcing its source and taking the batch), with its
 * configuration read through the real key table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "sm_test_util.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_pipeline.h"
#include "tg_service.h"
#include "tg_yaml.h"
#include "../../../processors/spanmetrics/spanmetrics_table.h"

extern const tg_component tg_processor_spanmetrics, tg_connector_spanmetrics;

static const double bounds[] = {2, 4, 6, 8, 10, 50, 100, 200, 400, 800,
                                1000, 1400, 2000, 5000, 10000, 15000};
static const char *const names3[] = {"service_name", "span_name", "extra"};
static const tg_mfamily calls_f = {.name = "calls", .help = "h", .kind = TG_MKIND_COUNTER};
static const tg_mfamily dur_f = {.name = "duration_milliseconds", .help = "h",
                                 .kind = TG_MKIND_HISTOGRAM, .bounds = bounds, .n_bounds = 16};

static tg_sm_table *table(size_t limit, int exemplars) {
  tg_sm_table_conf c = {.label_names = names3, .n_labels = 3, .bounds = bounds, .n_bounds = 16,
                        .limit = limit, .exemplars = exemplars, .candidate_ttl_ms = 60000};
  tg_sm_table *t = tg_sm_table_new(&c);
  assert_non_null(t);
  return t;
}

static void collect(tg_sm_table *t, tg_kept_traces *kept, uint64_t now, recorder *r) {
  memset(r, 0, sizeof *r);
  tg_metric_visitor v = {rec_family, rec_point_fn, r};
  assert_int_equal(tg_sm_table_collect(t, &calls_f, &dur_f, kept, now, &v), 0);
}

static void test_bucket_index_is_inclusive(void **state) {
  (void)state;
  assert_int_equal(tg_sm_bucket_index(bounds, 16, 0), 0);
  assert_int_equal(tg_sm_bucket_index(bounds, 16, 2.0), 0);      /* le="2" holds 2 */
  assert_int_equal(tg_sm_bucket_index(bounds, 16, 2.000001), 1);
  assert_int_equal(tg_sm_bucket_index(bounds, 16, 10), 4);
  assert_int_equal(tg_sm_bucket_index(bounds, 16, 15000), 15);
  assert_int_equal(tg_sm_bucket_index(bounds, 16, 15000.5), 16); /* +Inf */
}

static void test_aggregates_by_label_set(void **state) {
  (void)state;
  tg_sm_table *t = table(100, 0);
  const char *a[] = {"svc", "GET", NULL};
  const char *b[] = {"svc", "POST", "x"};
  assert_int_equal(tg_sm_table_add(t, a, 2.0, NULL, NULL, 1, 10), 0);
  assert_int_equal(tg_sm_table_add(t, a, 4.5, NULL, NULL, 1, 10), 0);
  assert_int_equal(tg_sm_table_add(t, b, 20000, NULL, NULL, 1, 10), 0);
  assert_int_equal(tg_sm_table_size(t), 2);
  recorder r;
  collect(t, NULL, 10, &r);
  assert_int_equal(r.families, 2);
  assert_int_equal(r.n, 4);
  /* the absent label is left out, not rendered empty */
  const rec_point *p = rec_find(&r, "calls", "service_name=\"svc\",span_name=\"GET\"");
  assert_non_null(p);
  assert_int_equal(p->count, 2);
  p = rec_find(&r, "duration_milliseconds", "service_name=\"svc\",span_name=\"GET\"");
  assert_non_null(p);
  assert_true(p->sum == 6.5);
  assert_int_equal(p->buckets[0], 1); /* 2.0 in le=2 */
  assert_int_equal(p->buckets[1], 0);
  assert_int_equal(p->buckets[2], 1); /* 4.5 in le=6 */
  p = rec_find(&r, "duration_milliseconds",
               "service_name=\"svc\",span_name=\"POST\",extra=\"x\"");
  assert_non_null(p);
  assert_int_equal(p->buckets[16], 1); /* past 15000: +Inf only */
  tg_sm_table_free(t);
}

static void test_overflow_series(void **state) {
  (void)state;
  tg_sm_table *t = table(2, 0);
  const char *v[3][3] = {{"a", "x", NULL}, {"b", "x", NULL}, {"c", "x", NULL}};
  assert_int_equal(tg_sm_table_add(t, v[0], 1, NULL, NULL, 1, 0), 0);
  assert_int_equal(tg_sm_table_add(t, v[1], 1, NULL, NULL, 1, 0), 0);
  assert_int_equal(tg_sm_table_add(t, v[2], 1, NULL, NULL, 1, 0), 1); /* folded */
  assert_int_equal(tg_sm_table_add(t, v[2], 1, NULL, NULL, 1, 0), 1);
  assert_int_equal(tg_sm_table_add(t, v[0], 1, NULL, NULL, 1, 0), 0); /* known: still counted */
  assert_int_equal(tg_sm_table_size(t), 3);
  recorder r;
  collect(t, NULL, 0, &r);
  const rec_point *p = rec_find(&r, "calls", "otel_metric_overflow=\"true\"");
  assert_non_null(p);
  assert_int_equal(p->count, 2);
  assert_int_equal(rec_find(&r, "calls", "service_name=\"a\",span_name=\"x\"")->count, 2);
  assert_null(rec_find(&r, "calls", "service_name=\"c\",span_name=\"x\""));
  tg_sm_table_free(t);
}

static void test_expiration(void **state) {
  (void)state;
  tg_sm_table *t = table(100, 0);
  char name[16];
  for (int i = 0; i < 50; i++) { /* enough to make the table grow */
    snprintf(name, sizeof name, "old%d", i);
    const char *v[] = {"svc", name, NULL};
    tg_sm_table_add(t, v, 1, NULL, NULL, 1, 1000);
  }
  const char *fresh[] = {"svc", "fresh", NULL};
  tg_sm_table_add(t, fresh, 1, NULL, NULL, 1, 5000);
  assert_int_equal(tg_sm_table_expire(t, 5500, 4600), 0); /* updated at 1000, cutoff 900 */
  assert_int_equal(tg_sm_table_expire(t, 6000, 2000), 50);
  assert_int_equal(tg_sm_table_size(t), 1);
  recorder r;
  collect(t, NULL, 6000, &r);
  assert_int_equal(r.n, 2);
  assert_non_null(rec_find(&r, "calls", "service_name=\"svc\",span_name=\"fresh\""));
  /* an expired label set starts again from zero */
  const char *again[] = {"svc", "old3", NULL};
  tg_sm_table_add(t, again, 1, NULL, NULL, 1, 6000);
  collect(t, NULL, 6000, &r);
  assert_int_equal(rec_find(&r, "calls", "service_name=\"svc\",span_name=\"old3\"")->count, 1);
  tg_sm_table_free(t);
}

static tg_sm_table *table_shared(size_t limit, size_t per_service) {
  tg_sm_table_conf c = {.label_names = names3, .n_labels = 3, .bounds = bounds, .n_bounds = 16,
                        .limit = limit, .candidate_ttl_ms = 60000, .per_service_limit = per_service};
  tg_sm_table *t = tg_sm_table_new(&c);
  assert_non_null(t);
  return t;
}

/* One service past its share folds into the overflow series; the others still get
 * series up to the table's limit. */
static void test_per_service_share(void **state) {
  (void)state;
  tg_sm_table *t = table_shared(8, 3);
  char name[16];
  int folded = 0;
  for (int i = 0; i < 10; i++) { /* runaway: 3 series, then overflow (reason 2) */
    snprintf(name, sizeof name, "GET /u/%d", i);
    const char *v[] = {"runaway", name, NULL};
    int rc = tg_sm_table_add(t, v, 1, NULL, NULL, 1, 0);
    assert_int_equal(rc, i < 3 ? 0 : 2);
    folded += rc != 0;
  }
  assert_int_equal(folded, 7);
  assert_int_equal(tg_sm_table_service_series(t, "runaway"), 3);
  const char *a[] = {"good", "GET /cart", NULL}, *b[] = {"good", "POST /pay", NULL};
  assert_int_equal(tg_sm_table_add(t, a, 1, NULL, NULL, 1, 0), 0);
  assert_int_equal(tg_sm_table_add(t, b, 1, NULL, NULL, 1, 0), 0);
  const char *r0[] = {"runaway", "GET /u/0", NULL}; /* a known label set keeps counting */
  assert_int_equal(tg_sm_table_add(t, r0, 1, NULL, NULL, 1, 0), 0);
  /* 5 series held; 3 more fit the table (3 services of one series each)... */
  const char *o1[] = {"other1", "x", NULL}, *o2[] = {"other2", "x", NULL},
             *o3[] = {"other3", "x", NULL}, *o4[] = {"other4", "x", NULL};
  assert_int_equal(tg_sm_table_add(t, o1, 1, NULL, NULL, 1, 0), 0);
  assert_int_equal(tg_sm_table_add(t, o2, 1, NULL, NULL, 1, 0), 0);
  assert_int_equal(tg_sm_table_add(t, o3, 1, NULL, NULL, 1, 0), 0);
  /* ...and then the table's limit folds (reason 1), whatever the service holds */
  assert_int_equal(tg_sm_table_add(t, o4, 1, NULL, NULL, 1, 0), 1);
  assert_int_equal(tg_sm_table_size(t), 9); /* 8 + the overflow series */
  size_t hist[TG_SM_SERVICE_BUCKETS + 1];
  assert_int_equal(tg_sm_table_services(t, hist), 5);
  assert_int_equal(hist[0], 3); /* other1..3: 1 series each */
  assert_int_equal(hist[1], 2); /* runaway (3), good (2): 2..10 */
  for (size_t bkt = 2; bkt <= TG_SM_SERVICE_BUCKETS; bkt++)
    assert_int_equal(hist[bkt], 0);
  recorder r;
  collect(t, NULL, 0, &r);
  assert_int_equal(rec_find(&r, "calls", "otel_metric_overflow=\"true\"")->count, 8);
  assert_int_equal(rec_find(&r, "calls", "service_name=\"runaway\",span_name=\"GET /u/0\"")->count,
                   2);
  assert_null(rec_find(&r, "calls", "service_name=\"runaway\",span_name=\"GET /u/3\""));
  tg_sm_table_free(t);
}

/* Expiry frees series and gives them back to their service's share and to the table. */
static void test_expiry_frees_series_and_share(void **state) {
  (void)state;
  tg_sm_table *t = table_shared(4, 2);
  const char *a1[] = {"a", "1", NULL}, *a2[] = {"a", "2", NULL}, *a3[] = {"a", "3", NULL};
  const char *b1[] = {"b", "1", NULL};
  assert_int_equal(tg_sm_table_add(t, a1, 1, NULL, NULL, 1, 1000), 0);
  assert_int_equal(tg_sm_table_add(t, a2, 1, NULL, NULL, 1, 1000), 0);
  assert_int_equal(tg_sm_table_add(t, a3, 1, NULL, NULL, 1, 1000), 2); /* share */
  assert_int_equal(tg_sm_table_add(t, b1, 1, NULL, NULL, 1, 3000), 0);
  assert_int_equal(tg_sm_table_services(t, NULL), 2);
  /* a cursor defers expiry: its snapshot must stay valid */
  tg_sm_cursor *cur = tg_sm_table_cursor_open(t);
  assert_non_null(cur);
  assert_int_equal(tg_sm_table_expire(t, 4000, 2000), 0);
  tg_sm_table_cursor_close(t, cur);
  /* a's series (1000) and the overflow series (1000) expire; b's (3000) stays */
  assert_int_equal(tg_sm_table_expire(t, 4000, 2000), 3);
  assert_int_equal(tg_sm_table_size(t), 1);
  assert_int_equal(tg_sm_table_service_series(t, "a"), 0);
  assert_int_equal(tg_sm_table_services(t, NULL), 1); /* a's entry is gone */
  /* a's share is free again */
  assert_int_equal(tg_sm_table_add(t, a3, 1, NULL, NULL, 1, 4000), 0);
  assert_int_equal(tg_sm_table_add(t, a1, 1, NULL, NULL, 1, 4000), 0);
  assert_int_equal(tg_sm_table_service_series(t, "a"), 2);
  recorder r;
  collect(t, NULL, 4000, &r);
  assert_int_equal(r.n, 6); /* 3 series x (calls, duration); no overflow series */
  assert_null(rec_find(&r, "calls", "otel_metric_overflow=\"true\""));
  tg_sm_table_free(t);
}

/* The cursor visits exactly what collect visits, in slices of any size. */
static void test_cursor_matches_collect(void **state) {
  (void)state;
  tg_sm_table *t = table(20, 0);
  char name[16];
  for (int i = 0; i < 25; i++) {
    snprintf(name, sizeof name, "op%d", i);
    const char *v[] = {i % 2 ? "x" : "y", name, NULL};
    tg_sm_table_add(t, v, (double)i, NULL, NULL, 1, 0);
  }
  recorder whole;
  collect(t, NULL, 0, &whole);
  assert_int_equal(whole.n, 42); /* (20 + overflow) x 2 */
  for (size_t step = 1; step <= 50; step += 7) {
    recorder r;
    memset(&r, 0, sizeof r);
    tg_metric_visitor v = {rec_family, rec_point_fn, &r};
    tg_sm_cursor *cur = tg_sm_table_cursor_open(t);
    int done = 0, calls = 0;
    /* a new series while the cursor is open is not part of this visit */
    const char *late[] = {"z", "late", NULL};
    tg_sm_table_add(t, late, 1, NULL, NULL, 1, 0);
    while (!done) {
      assert_int_equal(tg_sm_table_cursor_next(t, cur, &calls_f, &dur_f, NULL, 0, &v, step, &done),
                       0);
      calls++;
    }
    tg_sm_table_cursor_close(t, cur);
    assert_int_equal(r.families, 2);
    assert_int_equal(r.n, whole.n);
    for (size_t i = 0; i < r.n; i++) {
      assert_string_equal(r.p[i].labels, whole.p[i].labels);
      assert_string_equal(r.p[i].family, whole.p[i].family);
    }
    assert_true(calls >= (int)(whole.n / step));
  }
  tg_sm_table_free(t);
}

static void tid(uint8_t out[16], uint8_t last) {
  memset(out, 0, 16);
  out[15] = last;
}

static void test_exemplars_only_of_kept_traces(void **state) {
  (void)state;
  tg_kept_traces *kept = tg_kept_traces_new(4096); /* lossy set: room for all 100 ids */
  tg_kept_traces_register_sampler(kept);
  tg_sm_table *t = table(100, 1);
  const char *v[] = {"svc", "op", NULL};
  uint8_t t1[16], t2[16], sid[8] = {1};
  tid(t1, 1);
  tid(t2, 2);
  tg_sm_table_add(t, v, 3.0, t1, sid, 100, 0);  /* will be dropped by sampling */
  tg_sm_table_add(t, v, 70.0, t2, sid, 200, 0); /* will be kept */
  recorder r;
  collect(t, kept, 10, &r); /* no decisions yet: no exemplar */
  assert_int_equal(rec_find(&r, "duration_milliseconds", "service_name=\"svc\",span_name=\"op\"")
                       ->exemplar_bucket, -1);
  assert_int_equal(rec_find(&r, "calls", "service_name=\"svc\",span_name=\"op\"")->exemplar_bucket,
                   -1);
  tg_kept_traces_add(kept, t2); /* the sampler decides later: render time picks it up */
  collect(t, kept, 20, &r);
  const rec_point *h = rec_find(&r, "duration_milliseconds", "service_name=\"svc\",span_name=\"op\"");
  assert_int_equal(h->exemplar_bucket, 6); /* 70 ms is in le=100 */
  assert_int_equal(h->exemplar_trace_byte, 2);
  const rec_point *c = rec_find(&r, "calls", "service_name=\"svc\",span_name=\"op\"");
  assert_int_equal(c->exemplar_bucket, 0);
  assert_int_equal(c->exemplar_trace_byte, 2);
  /* trace 1 never kept: after the TTL its candidate goes and it never shows up */
  collect(t, kept, 70000, &r);
  tg_kept_traces_add(kept, t1);
  collect(t, kept, 70001, &r);
  h = rec_find(&r, "duration_milliseconds", "service_name=\"svc\",span_name=\"op\"");
  assert_int_equal(h->exemplar_bucket, 6); /* still only trace 2; le=4 has none */
  /* candidate slots are bounded: many spans, at most TG_SM_CANDIDATES waiting */
  uint8_t tx[16];
  for (int i = 0; i < 100; i++) {
    tid(tx, (uint8_t)(10 + i));
    tg_sm_table_add(t, v, 1.0, tx, sid, 300, 70002);
  }
  for (int i = 0; i < 100; i++) {
    tid(tx, (uint8_t)(10 + i));
    tg_kept_traces_add(kept, tx);
  }
  collect(t, kept, 70003, &r);
  h = rec_find(&r, "duration_milliseconds", "service_name=\"svc\",span_name=\"op\"");
  assert_int_equal(h->exemplar_bucket, 0);
  assert_true(h->exemplar_trace_byte >= 10 && h->exemplar_trace_byte < 10 + TG_SM_CANDIDATES);
  tg_sm_table_free(t);
  tg_kept_traces_free(kept);
}

static void test_without_sampler_every_trace_counts_as_kept(void **state) {
  (void)state;
  tg_kept_traces *kept = tg_kept_traces_new(64); /* no sampler registered */
  tg_sm_table *t = table(100, 1);
  const char *v[] = {"svc", "op", NULL};
  uint8_t t1[16], sid[8] = {0};
  tid(t1, 7);
  tg_sm_table_add(t, v, 1.0, t1, sid, 100, 0);
  recorder r;
  collect(t, kept, 1, &r);
  assert_int_equal(rec_find(&r, "duration_milliseconds", "service_name=\"svc\",span_name=\"op\"")
                       ->exemplar_trace_byte, 7);
  tg_sm_table_free(t);
  tg_kept_traces_free(kept);
}

static void test_label_values_escaped_and_valid_utf8(void **state) {
  (void)state;
  tg_sm_table *t = table(100, 0);
  const char *v[] = {"a\"b\\c\nd", "bad\xff\xfeutf8", "caf\xc3\xa9"};
  tg_sm_table_add(t, v, 1, NULL, NULL, 1, 0);
  recorder r;
  collect(t, NULL, 0, &r);
  assert_string_equal(r.p[0].labels,
                      "service_name=\"a\\\"b\\\\c\\nd\",span_name=\"bad\xef\xbf\xbd\xef\xbf\xbdutf8\","
                      "extra=\"caf\xc3\xa9\"");
  tg_sm_table_free(t);
}

/* ---- the component ---- */

typedef struct cfix {
  uv_loop_t loop;
  tg_logger log;
  tg_service svc;
  tg_service_graph graph;
  tg_instance *graph_instances[1];
  tg_instance inst;     /* spanmetrics */
  tg_instance metrics;  /* a fake metrics exporter capturing the source */
  const tg_metric_source *source;
  tg_yaml_doc *doc;
  size_t passed_spans;
  int answer;
  int stopped;
} cfix;

static cfix *g_fix; /* the fake exporter's consume reaches its fixture */

static int fake_metrics_consume(tg_instance *self, tg_batch *batch) {
  (void)self;
  g_fix->source = batch->metrics;
  tg_batch_free(batch);
  return TG_OK;
}

static const tg_component fake_metrics_exporter = {
    .abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER, .type = "fake", .signals = TG_SIGNAL_METRICS,
    .ops = {.consume = fake_metrics_consume}};

static int next_consume(void *target, tg_batch *batch) {
  cfix *f = target;
  if (f->answer == TG_EAGAIN)
    return TG_EAGAIN;
  f->passed_spans += tg_batch_count_spans(batch);
  tg_batch_free(batch);
  return TG_OK;
}

static int connector_next(void *target, tg_batch *batch) {
  cfix *f = target;
  f->source = batch->metrics;
  tg_batch_free(batch);
  return TG_OK;
}

static int cfix_setup(cfix *f, const tg_component *c, const char *yaml, tg_errbuf *err) {
  memset(f, 0, sizeof *f);
  g_fix = f;
  uv_loop_init(&f->loop);
  tg_logger_init(&f->log, TG_LOG_NONE, stdout);
  f->svc = (tg_service){.loop = &f->loop, .log = &f->log, .metrics = tg_metrics_new(),
                        .kept = tg_kept_traces_new(64)};
  f->metrics = (tg_instance){.component = &fake_metrics_exporter, .id = "prometheus",
                             .service = &f->svc};
  f->graph_instances[0] = &f->metrics;
  f->graph.instances = f->graph_instances;
  f->graph.n_instances = 1;
  f->svc.graph = &f->graph;
  f->inst = (tg_instance){.component = c, .id = "spanmetrics", .service = &f->svc,
                          .next = {c->kind == TG_PROCESSOR ? next_consume : connector_next, f}};
  f->inst.conf = tg_calloc(1, c->conf_size);
  tg_diag diag;
  tg_diag_init(&diag);
  f->doc = tg_yaml_parse("t.yaml", yaml, strlen(yaml), &diag);
  tg_conf_apply(c->keys, c->n_keys, tg_yaml_root(f->doc), f->inst.conf, "spanmetrics", &diag);
  if (!tg_diag_failed(&diag))
    c->conf_check(f->inst.conf, tg_yaml_root(f->doc), "spanmetrics", &diag);
  if (tg_diag_failed(&diag)) {
    snprintf(err->msg, sizeof err->msg, "%s", diag.lines[0]);
    tg_diag_free(&diag);
    return TG_ECONFIG;
  }
  tg_diag_free(&diag);
  int rc = tg_component_create(&f->inst, err);
  if (rc == TG_OK)
    rc = tg_component_start(&f->inst, err);
  return rc;
}

static void on_stopped(tg_instance *inst) {
  (void)inst;
  g_fix->stopped = 1;
}

static void cfix_teardown(cfix *f) {
  tg_component_stop(&f->inst, on_stopped);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_true(f->stopped);
  tg_component_destroy(&f->inst);
  tg_component_destroy(&f->inst);
  tg_conf_release(f->inst.component->keys, f->inst.component->n_keys, f->inst.conf);
  tg_free(f->inst.conf);
  tg_yaml_free(f->doc);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tg_kept_traces_free(f->svc.kept);
  tg_metrics_free(f->svc.metrics);
  tg_logger_destroy(&f->log);
}

static void collect_source(cfix *f, recorder *r) {
  memset(r, 0, sizeof *r);
  tg_metric_visitor v = {rec_family, rec_point_fn, r};
  assert_non_null(f->source);
  assert_int_equal(f->source->collect(f->source, &v), 0);
}

static const span_spec traffic[] = {
    {"frontend", "GET /", 2, 0, 5000000, 1, "http.method", "GET"},
    {"frontend", "GET /", 2, 2, 150000000, 2, "http.method", "GET"},
    {"frontend", "GET /", 2, 0, 2000000, 3, NULL, NULL}, /* no attr: default */
    {"backend", "query", 3, 1, 1000000, 4, NULL, NULL},
};

static void test_processor_passes_spans_and_counts(void **state) {
  (void)state;
  cfix f;
  tg_errbuf err = {{0}};
  assert_int_equal(cfix_setup(&f, &tg_processor_spanmetrics,
                              "metrics_exporter: prometheus\n"
                              "dimensions:\n"
                              "  - name: http.method\n"
                              "    default: NONE\n",
                              &err), TG_OK);
  assert_non_null(f.source); /* announced to the named exporter at start */
  assert_int_equal(tg_component_consume(&f.inst, sm_batch(traffic, 4)), TG_OK);
  assert_int_equal(f.passed_spans, 4);
  recorder r;
  collect_source(&f, &r);
  const char *ok = "service_name=\"frontend\",span_name=\"GET /\",span_kind=\"SPAN_KIND_SERVER\","
                   "status_code=\"STATUS_CODE_UNSET\",http_method=\"GET\"";
  const char *errl = "service_name=\"frontend\",span_name=\"GET /\",span_kind=\"SPAN_KIND_SERVER\","
                     "status_code=\"STATUS_CODE_ERROR\",http_method=\"GET\"";
  const char *dflt = "service_name=\"frontend\",span_name=\"GET /\",span_kind=\"SPAN_KIND_SERVER\","
                     "status_code=\"STATUS_CODE_UNSET\",http_method=\"NONE\"";
  const char *back = "service_name=\"backend\",span_name=\"query\",span_kind=\"SPAN_KIND_CLIENT\","
                     "status_code=\"STATUS_CODE_OK\",http_method=\"NONE\"";
  assert_int_equal(rec_find(&r, "traces_span_metrics_calls", ok)->count, 1);
  assert_int_equal(rec_find(&r, "traces_span_metrics_calls", errl)->count, 1);
  assert_int_equal(rec_find(&r, "traces_span_metrics_calls", dflt)->count, 1);
  assert_int_equal(rec_find(&r, "traces_span_metrics_calls", back)->count, 1);
  const rec_point *h = rec_find(&r, "traces_span_metrics_duration_milliseconds", errl);
  assert_non_null(h);
  assert_true(h->sum == 150.0);
  assert_int_equal(h->buckets[7], 1); /* 150 ms: le=200 */
  cfix_teardown(&f);
}

static void test_processor_refused_batch_is_not_counted(void **state) {
  (void)state;
  cfix f;
  tg_errbuf err = {{0}};
  assert_int_equal(cfix_setup(&f, &tg_processor_spanmetrics, "metrics_exporter: prometheus\n",
                              &err), TG_OK);
  f.answer = TG_EAGAIN;
  tg_batch *b = sm_batch(traffic, 4);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_EAGAIN); /* not taken */
  f.answer = TG_OK;
  assert_int_equal(tg_component_consume(&f.inst, b), TG_OK); /* the retry */
  recorder r;
  collect_source(&f, &r);
  uint64_t total = 0;
  for (size_t i = 0; i < r.n; i++)
    if (!r.p[i].histogram)
      total += r.p[i].count;
  assert_int_equal(total, 4); /* once, not twice */
  cfix_teardown(&f);
}

static int64_t self_metric(cfix *f, const char *name, tg_metric_type type, const char *label,
                           const char *value) {
  const char *const lbl[] = {label, NULL};
  const char *val[] = {value};
  tg_metric_cell *c = tg_metrics_series(tg_metrics_family(f->svc.metrics, name, "", type, lbl), val);
  assert_non_null(c);
  return tg_metric_get(c);
}

/* The overflow counter counts every span of the overflow series, only once downstream
 * took the batch; each bound is warned about once. */
static void test_processor_overflow_accounting(void **state) {
  (void)state;
  cfix f;
  tg_errbuf err = {{0}};
  assert_int_equal(cfix_setup(&f, &tg_processor_spanmetrics,
                              "metrics_exporter: prometheus\n"
                              "aggregation_cardinality_limit: 4\n"
                              "max_series_per_service: 2\n",
                              &err), TG_OK);
  FILE *logf = tmpfile();
  assert_non_null(logf);
  tg_logger_destroy(&f.log);
  tg_logger_init(&f.log, TG_LOG_WARN, logf);
  static const span_spec spans[] = {
      {"runaway", "a", 2, 0, 1000000, 0, NULL, NULL},
      {"runaway", "b", 2, 0, 1000000, 0, NULL, NULL},
      {"runaway", "c", 2, 0, 1000000, 0, NULL, NULL}, /* share: overflow */
      {"runaway", "d", 2, 0, 1000000, 0, NULL, NULL}, /* share: overflow */
      {"good", "x", 2, 0, 1000000, 0, NULL, NULL},
      {"good", "y", 2, 0, 1000000, 0, NULL, NULL},
      {"late", "z", 2, 0, 1000000, 0, NULL, NULL},    /* limit: overflow */
      {"good", "x", 2, 0, 1000000, 0, NULL, NULL},
  };
  f.answer = TG_EAGAIN; /* refused: nothing counted */
  tg_batch *b = sm_batch(spans, 8);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_EAGAIN);
  assert_int_equal(self_metric(&f, "tailgate_spanmetrics_overflow_spans_total",
                               TG_METRIC_COUNTER, "component", "spanmetrics"), 0);
  f.answer = TG_OK;
  assert_int_equal(tg_component_consume(&f.inst, b), TG_OK);
  assert_int_equal(self_metric(&f, "tailgate_spanmetrics_overflow_spans_total",
                               TG_METRIC_COUNTER, "component", "spanmetrics"), 3);
  assert_int_equal(tg_component_consume(&f.inst, sm_batch(spans, 8)), TG_OK);
  assert_int_equal(self_metric(&f, "tailgate_spanmetrics_overflow_spans_total",
                               TG_METRIC_COUNTER, "component", "spanmetrics"), 6);
  assert_int_equal(self_metric(&f, "tailgate_spanmetrics_series", TG_METRIC_GAUGE, "component",
                               "spanmetrics"), 5);
  recorder r;
  collect_source(&f, &r);
  assert_int_equal(rec_find(&r, "traces_span_metrics_calls", "otel_metric_overflow=\"true\"")->count,
                   6);
  assert_int_equal(rec_find(&r, "traces_span_metrics_calls",
                            "service_name=\"good\",span_name=\"x\",span_kind=\"SPAN_KIND_SERVER\","
                            "status_code=\"STATUS_CODE_UNSET\"")->count, 4);
  /* services by series held: runaway 2, good 2 (both <= 10), none <= 1 */
  const char *const l2[] = {"component", "series_le", NULL};
  tg_metric_family *fam = tg_metrics_family(f.svc.metrics, "tailgate_spanmetrics_services", "",
                                            TG_METRIC_GAUGE, l2);
  const char *v1[] = {"spanmetrics", "1"}, *v10[] = {"spanmetrics", "10"},
             *vinf[] = {"spanmetrics", "+Inf"};
  assert_int_equal(tg_metric_get(tg_metrics_series(fam, v1)), 0);
  assert_int_equal(tg_metric_get(tg_metrics_series(fam, v10)), 2);
  assert_int_equal(tg_metric_get(tg_metrics_series(fam, vinf)), 2);
  /* one warning per bound, naming the limit and the key */
  fflush(logf);
  rewind(logf);
  char line[2048];
  int limit_warns = 0, share_warns = 0;
  while (fgets(line, sizeof line, logf)) {
    limit_warns += strstr(line, "reached aggregation_cardinality_limit (4 series)") != NULL &&
                   strstr(line, "service_name=\\\"late\\\"") != NULL;
    share_warns += strstr(line, "service_name=\\\"runaway\\\" reached max_series_per_service (2 "
                                "series)") != NULL;
  }
  assert_int_equal(limit_warns, 1);
  assert_int_equal(share_warns, 1);
  cfix_teardown(&f);
  fclose(logf);
}

static void test_connector_seconds_and_custom_buckets(void **state) {
  (void)state;
  cfix f;
  tg_errbuf err = {{0}};
  assert_int_equal(cfix_setup(&f, &tg_connector_spanmetrics,
                              "namespace: rpc\n"
                              "histogram:\n"
                              "  unit: s\n"
                              "  explicit:\n"
                              "    buckets: [10ms, 100ms, 1s]\n"
                              "exclude_dimensions: [span.kind]\n",
                              &err), TG_OK);
  assert_non_null(f.source); /* announced downstream (the metrics pipeline) */
  assert_int_equal(tg_component_consume(&f.inst, sm_batch(traffic, 4)), TG_OK);
  recorder r;
  collect_source(&f, &r);
  const rec_point *h = rec_find(&r, "rpc_duration_seconds",
                                "service_name=\"frontend\",span_name=\"GET /\","
                                "status_code=\"STATUS_CODE_ERROR\"");
  assert_non_null(h);
  assert_true(h->sum > 0.1499 && h->sum < 0.1501);
  assert_int_equal(h->buckets[2], 1); /* 0.15 s: le=1 */
  assert_non_null(rec_find(&r, "rpc_calls", "service_name=\"backend\",span_name=\"query\","
                                            "status_code=\"STATUS_CODE_OK\""));
  cfix_teardown(&f);
}

/* The batch as the OTLP receiver passes valid protobuf on: wire segments, undecoded. */
static tg_batch *as_wire(tg_batch *decoded) {
  size_t len = tg_batch_encoded_size(decoded);
  uint8_t *buf = tg_malloc(len);
  tg_batch_encode(decoded, buf);
  size_t offsets[16], lengths[16], counts[16], n = 0, p = 0;
  while (p < len && n < 16) { /* top level: field 1 (resource_spans), length-delimited */
    assert_int_equal(buf[p++], 0x0a);
    size_t l = 0;
    int shift = 0;
    while (buf[p] & 0x80) {
      l |= (size_t)(buf[p++] & 0x7f) << shift;
      shift += 7;
    }
    l |= (size_t)buf[p++] << shift;
    offsets[n] = p;
    lengths[n] = l;
    counts[n] = decoded->request.resource_spans[n]->scope_spans[0]->n_spans;
    n++;
    p += l;
  }
  tg_batch *w = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_adopt_wire(w, buf, len, offsets, lengths, counts, n), TG_OK);
  tg_free(buf);
  tg_batch_free(decoded);
  return w;
}

static void test_wire_batches_count_as_decoded_ones(void **state) {
  (void)state;
  const char *yaml = "dimensions:\n  - name: http.method\n    default: NONE\n"
                     "exemplars:\n  enabled: true\n";
  recorder r[2];
  for (int wire = 0; wire < 2; wire++) {
    cfix f;
    tg_errbuf err = {{0}};
    assert_int_equal(cfix_setup(&f, &tg_connector_spanmetrics, yaml, &err), TG_OK);
    tg_batch *b = sm_batch(traffic, 4);
    if (wire) {
      b = as_wire(b);
      assert_true(b->n_wire > 0 && b->request.n_resource_spans == 0);
    }
    assert_int_equal(tg_component_consume(&f.inst, b), TG_OK);
    collect_source(&f, &r[wire]);
    cfix_teardown(&f);
  }
  assert_int_equal(r[0].n, 8);
  assert_int_equal(r[1].n, r[0].n);
  for (size_t i = 0; i < r[0].n; i++) {
    const rec_point *w = rec_find(&r[1], r[0].p[i].family, r[0].p[i].labels);
    if (!w)
      fail_msg("wire path lacks %s{%s}", r[0].p[i].family, r[0].p[i].labels);
    assert_int_equal(w->count, r[0].p[i].count);
    assert_true(w->sum == r[0].p[i].sum);
    assert_memory_equal(w->buckets, r[0].p[i].buckets, sizeof w->buckets);
    assert_int_equal(w->exemplar_bucket, r[0].p[i].exemplar_bucket);
    assert_int_equal(w->exemplar_trace_byte, r[0].p[i].exemplar_trace_byte);
  }
}

static void expect_config_error(const tg_component *c, const char *yaml, const char *needle) {
  cfix f;
  tg_errbuf err = {{0}};
  int rc = cfix_setup(&f, c, yaml, &err);
  assert_int_not_equal(rc, TG_OK);
  if (!strstr(err.msg, needle))
    fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
  if (f.inst.state)
    tg_component_destroy(&f.inst);
  tg_conf_release(c->keys, c->n_keys, f.inst.conf);
  tg_free(f.inst.conf);
  tg_yaml_free(f.doc);
  uv_loop_close(&f.loop);
  tg_kept_traces_free(f.svc.kept);
  tg_metrics_free(f.svc.metrics);
  tg_logger_destroy(&f.log);
}

static void test_config_errors(void **state) {
  (void)state;
  expect_config_error(&tg_connector_spanmetrics, "histogram:\n  explicit:\n    buckets: [10ms, 5ms]\n",
                      "t.yaml:3:21: spanmetrics: histogram.explicit.buckets[1]: buckets must be "
                      "strictly ascending");
  expect_config_error(&tg_connector_spanmetrics, "dimensions:\n  - name: a\n  - name: a\n",
                      "t.yaml:3:5: spanmetrics: dimensions[1]: \"a\" is listed twice");
  expect_config_error(&tg_connector_spanmetrics, "dimensions:\n  - default: x\n",
                      "dimensions[0]: name is required");
  expect_config_error(&tg_connector_spanmetrics, "exclude_dimensions: [http.method]\n",
                      "is not a default dimension");
  expect_config_error(&tg_connector_spanmetrics, "histogram:\n  unit: us\n", "histogram.unit");
  expect_config_error(&tg_connector_spanmetrics, "dimensions:\n  - name: a.b\n  - name: a_b\n",
                      "two dimensions map to the label \"a_b\"");
  expect_config_error(&tg_processor_spanmetrics, "namespace: x\n", "metrics_exporter is required");
  expect_config_error(&tg_processor_spanmetrics, "metrics_exporter: nope\n",
                      "exporter \"nope\" is not in any metrics pipeline");
  expect_config_error(&tg_connector_spanmetrics, "metrics_exporter: prometheus\n",
                      "metrics_exporter is for the processor placement");
}

static void test_expiration_timer(void **state) {
  (void)state;
  cfix f;
  tg_errbuf err = {{0}};
  assert_int_equal(cfix_setup(&f, &tg_connector_spanmetrics, "metrics_expiration: 100ms\n",
                              &err), TG_OK);
  assert_int_equal(tg_component_consume(&f.inst, sm_batch(traffic, 4)), TG_OK);
  recorder r;
  collect_source(&f, &r);
  assert_int_equal(r.n, 6); /* 3 label sets (no extra dimensions) x 2 families */
  uint64_t deadline = tg_clock_mono_ms() + 5000;
  do {
    uv_run(&f.loop, UV_RUN_ONCE);
    collect_source(&f, &r);
  } while (r.n && tg_clock_mono_ms() < deadline);
  assert_int_equal(r.n, 0);
  cfix_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bucket_index_is_inclusive),
      cmocka_unit_test(test_aggregates_by_label_set),
      cmocka_unit_test(test_overflow_series),
      cmocka_unit_test(test_expiration),
      cmocka_unit_test(test_per_service_share),
      cmocka_unit_test(test_expiry_frees_series_and_share),
      cmocka_unit_test(test_cursor_matches_collect),
      cmocka_unit_test(test_exemplars_only_of_kept_traces),
      cmocka_unit_test(test_without_sampler_every_trace_counts_as_kept),
      cmocka_unit_test(test_label_values_escaped_and_valid_utf8),
      cmocka_unit_test(test_processor_passes_spans_and_counts),
      cmocka_unit_test(test_processor_refused_batch_is_not_counted),
      cmocka_unit_test(test_processor_overflow_accounting),
      cmocka_unit_test(test_connector_seconds_and_custom_buckets),
      cmocka_unit_test(test_wire_batches_count_as_decoded_ones),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_expiration_timer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
