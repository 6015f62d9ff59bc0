/* tg_metric_snapshot and the deferred metrics push: the bytes a sender thread encodes
 * from a snapshot are the bytes the direct encoding of the live source produced, on a
 * generated source (thousands of series over four families, many resources, missing
 * buckets and exemplars, NULL names, requests cut by size); the snapshot no longer
 * depends on the source once taken; the whole path through a real sending queue sends
 * exactly the direct encoding's requests, in order, as metrics, and counts the points. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_metric_snapshot.h"
#include "tg_metrics.h"
#include "tg_otlp_metrics.h"

/* ---- a generated source: series i of every family, values from a seeded xorshift ---- */

typedef struct gen {
  size_t n;       /* series per family */
  unsigned epoch; /* changes every value and label: the source after the snapshot */
} gen;

static const double bounds[] = {0.5, 2, 10, 100, 1000};
static const tg_mfamily fam_calls = {.name = "c", .help = "Calls.", .kind = TG_MKIND_COUNTER,
                                     .otel_name = "x.calls", .unit = "1"};
static const tg_mfamily fam_dur = {.name = "d", .kind = TG_MKIND_HISTOGRAM, .bounds = bounds,
                                   .n_bounds = 5, .otel_name = "x.duration", .unit = "ms"};
static const tg_mfamily fam_exp = {.name = "e", .help = "Exp.", .kind = TG_MKIND_EXP_HISTOGRAM,
                                   .otel_name = "x.exp"};
static const tg_mfamily fam_bare = {.name = "bare", .kind = TG_MKIND_COUNTER};
static const tg_mfamily *const families[] = {&fam_calls, &fam_dur, &fam_exp, &fam_bare};

static uint64_t next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static int gen_collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  const gen *g = src->ctx;
  for (size_t fi = 0; fi < 4; fi++) {
    const tg_mfamily *f = families[fi];
    int rc = v->family(v->ctx, f);
    for (size_t i = 0; !rc && i < g->n; i++) {
      uint64_t x = 0x9e3779b97f4a7c15ull ^ (i * 131 + fi * 7 + g->epoch * 1000003u + 1);
      next(&x);
      /* stack buffers reused for every point: the snapshot must copy */
      char svc[32], op[32], env[16], extra[16];
      snprintf(svc, sizeof svc, "svc-%zu-%u", i % 23, g->epoch);
      snprintf(op, sizeof op, "op-%zu", i);
      snprintf(env, sizeof env, "env%zu", i % 3);
      snprintf(extra, sizeof extra, "k%llu", (unsigned long long)(next(&x) % 100));
      tg_mlabel labels[4] = {
          {.name = "service_name", .value = svc, .otel_name = "service.name",
           .where = TG_MLABEL_BOTH},
          {.name = "span_name", .value = op, .otel_name = "span.name"},
          {.name = "env", .value = env, .otel_name = "deployment.environment",
           .where = TG_MLABEL_RESOURCE},
          {.name = "extra", .value = extra}}; /* no otel_name: the name is used */
      size_t n_labels = 2 + (i % 2) + (i % 5 == 0);
      if (n_labels == 4 && i % 2 == 0)
        n_labels = 3; /* labels[2] only when i is odd: vary the resource sets */
      uint64_t buckets[6];
      for (size_t k = 0; k < 6; k++)
        buckets[k] = next(&x) % 1000;
      uint64_t exp_counts[40];
      size_t n_exp = (size_t)(next(&x) % 40);
      for (size_t k = 0; k < n_exp; k++)
        exp_counts[k] = next(&x) % 100000;
      tg_mexemplar ex[6];
      const tg_mexemplar *exs[6];
      for (size_t k = 0; k < 6; k++) {
        ex[k].value = (double)(next(&x) % 100000) / 7.0;
        ex[k].time_unix_nano = next(&x);
        for (size_t b = 0; b < 16; b++)
          ex[k].trace_id[b] = (uint8_t)next(&x);
        for (size_t b = 0; b < 8; b++)
          ex[k].span_id[b] = (uint8_t)next(&x);
        exs[k] = next(&x) % 3 ? &ex[k] : NULL;
      }
      tg_mpoint p = {.labels = labels, .n_labels = n_labels, .count = next(&x) % 1000000,
                     .sum = (double)(next(&x) % 1000000) / 3.0,
                     .buckets = i % 7 == 3 ? NULL : buckets,
                     .exemplars = i % 4 == 1 ? NULL : exs,
                     .start_unix_nano = 1000 + i,
                     .time_unix_nano = i % 3 == 0 ? 0 : 5000 + i,
                     .scale = (int32_t)(next(&x) % 30) - 10,
                     .exp_offset = (int32_t)(next(&x) % 2000) - 1000,
                     .exp_counts = n_exp ? exp_counts : NULL, .n_exp_counts = n_exp,
                     .zero_count = next(&x) % 5, .label_text = "unused",
                     .updated_mono_ms = 1};
      rc = v->point(v->ctx, f, &p);
    }
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- requests as emitted ---- */

typedef struct reqs {
  uint8_t *data[64];
  size_t len[64], points[64], n;
} reqs;

static int keep(void *ctx, uint8_t *data, size_t len, size_t n_points) {
  reqs *r = ctx;
  assert_true(r->n < 64);
  r->data[r->n] = data;
  r->len[r->n] = len;
  r->points[r->n++] = n_points;
  return 0;
}

static void release(reqs *r) {
  for (size_t i = 0; i < r->n; i++)
    tg_free(r->data[i]);
  r->n = 0;
}

static void assert_same(const reqs *a, const reqs *b) {
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    assert_int_equal(a->len[i], b->len[i]);
    assert_int_equal(a->points[i], b->points[i]);
    assert_memory_equal(a->data[i], b->data[i], a->len[i]);
  }
}

static int differs(const reqs *a, const reqs *b) {
  if (a->n != b->n)
    return 1;
  for (size_t i = 0; i < a->n; i++)
    if (a->len[i] != b->len[i] || memcmp(a->data[i], b->data[i], a->len[i]))
      return 1;
  return 0;
}

/* ---- tests ---- */

static void check_identical(int delta, size_t max_bytes, size_t min_requests) {
  gen g = {.n = 2000};
  tg_metric_source src = {.name = "sm", .collect = gen_collect, .ctx = &g, .delta = delta};
  reqs direct = {0}, replayed = {0}, later = {0};
  assert_int_equal(tg_otlp_metrics_encode(&src, 424242, max_bytes, keep, &direct), 0);
  assert_true(direct.n >= min_requests);
  size_t total = 0;
  for (size_t i = 0; i < direct.n; i++)
    total += direct.points[i];
  assert_int_equal(total, 4 * g.n);

  tg_metric_snapshot *snap;
  assert_int_equal(tg_metric_snapshot_take(&src, &snap), TG_OK);
  assert_int_equal(tg_metric_snapshot_points(snap), 4 * g.n);
  assert_true(tg_metric_snapshot_bytes(snap) > 4 * g.n * 80); /* a record header each */
  g.epoch = 1; /* the producer moves on: the snapshot must not follow */
  assert_int_equal(tg_otlp_metrics_encode(&src, 424242, max_bytes, keep, &later), 0);
  assert_true(differs(&direct, &later)); /* the change is visible in a direct encoding */
  const tg_metric_source *ss = tg_metric_snapshot_source(snap);
  assert_int_equal(ss->delta, delta);
  assert_string_equal(ss->name, "sm");
  assert_int_equal(tg_otlp_metrics_encode(ss, 424242, max_bytes, keep, &replayed), 0);
  assert_same(&direct, &replayed);
  release(&replayed); /* twice: a replay leaves the snapshot as it was */
  assert_int_equal(tg_otlp_metrics_encode(ss, 424242, max_bytes, keep, &replayed), 0);
  assert_same(&direct, &replayed);
  tg_metric_snapshot_free(snap);
  release(&direct);
  release(&replayed);
  release(&later);
}

static void test_snapshot_encodes_identically(void **state) {
  (void)state;
  check_identical(0, 0, 1);         /* one request */
  check_identical(1, 64 << 10, 4);  /* delta, cut into several requests */
}

static int visited;
static int count_family(void *ctx, const tg_mfamily *f) {
  (void)ctx;
  (void)f;
  return 0;
}
static int stop_at_third(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  (void)ctx;
  (void)f;
  (void)p;
  return ++visited == 3 ? TG_ETOOBIG : 0;
}

static void test_snapshot_errors_and_empty(void **state) {
  (void)state;
  /* collect's own error is returned and nothing is kept */
  gen g = {.n = 10};
  tg_metric_source src = {.name = "sm", .collect = gen_collect, .ctx = &g};
  tg_metric_snapshot *snap;
  assert_int_equal(tg_metric_snapshot_take(&src, &snap), TG_OK);
  tg_metric_visitor v = {.family = count_family, .point = stop_at_third};
  visited = 0;
  assert_int_equal(tg_metric_snapshot_source(snap)->collect(tg_metric_snapshot_source(snap), &v),
                   TG_ETOOBIG); /* a visitor's code stops the replay and is returned */
  assert_int_equal(visited, 3);
  tg_metric_snapshot_free(snap);
  /* out of memory while copying: TG_ENOMEM, no snapshot, no leak (the unit harness
   * checks leaks under ASan) */
  for (long fail = 0; fail < 6; fail++) {
    tg_alloc_fail_after(fail, 1);
    int rc = tg_metric_snapshot_take(&src, &snap);
    tg_alloc_fail_after(-1, 0);
    assert_int_equal(rc, TG_ENOMEM);
    assert_null(snap);
  }
  /* an empty source: an empty snapshot that encodes to nothing */
  g.n = 0;
  assert_int_equal(tg_metric_snapshot_take(&src, &snap), TG_OK);
  assert_int_equal(tg_metric_snapshot_points(snap), 0);
  reqs none = {0};
  assert_int_equal(tg_otlp_metrics_encode(tg_metric_snapshot_source(snap), 1, 0, keep, &none),
                   0);
  assert_int_equal(none.n, 0);
  tg_metric_snapshot_free(snap);
}

/* ---- the whole deferred path through a sending queue ---- */

typedef struct sink {
  pthread_mutex_t lock;
  reqs got;
  unsigned bad_signal;
} sink;

static tg_send_result sink_send(void *ctx, void *worker, const tg_export_item *item,
                                tg_send_outcome *out) {
  (void)worker;
  (void)out;
  sink *s = ctx;
  pthread_mutex_lock(&s->lock);
  if (item->signal != TG_SIGNAL_METRICS || item->deferred)
    s->bad_signal++;
  uint8_t *copy = tg_malloc(item->len);
  assert_non_null(copy);
  memcpy(copy, item->data, item->len);
  keep(&s->got, copy, item->len, item->span_count);
  pthread_mutex_unlock(&s->lock);
  return TG_SEND_OK;
}

static int64_t metric(tg_metrics *m, const char *name) {
  static const char *const labels[] = {"exporter", NULL};
  const char *values[] = {"test/q"};
  return tg_metric_get(
      tg_metrics_series(tg_metrics_family(m, name, "", TG_METRIC_COUNTER, labels), values));
}

static void test_push_through_queue(void **state) {
  (void)state;
  gen g = {.n = 12000}; /* past 3 MiB: the sender cuts several requests */
  tg_metric_source src = {.name = "sm", .collect = gen_collect, .ctx = &g, .delta = 1};
  reqs direct = {0};
  assert_int_equal(tg_otlp_metrics_encode(&src, 99, 3u << 20, keep, &direct), 0);
  assert_true(direct.n >= 2);

  sink s = {0};
  pthread_mutex_init(&s.lock, NULL);
  tg_export_queue_ops ops = {.send = sink_send};
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.num_consumers = 1;
  tg_retry_conf rc;
  tg_retry_conf_defaults(&rc);
  tg_metrics *m = tg_metrics_new();
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &ops, &s, "test/q", NULL, m);
  assert_non_null(q);
  /* before start: the item waits; it is queued as one item */
  size_t points = 0;
  assert_int_equal(tg_otlp_metrics_push(q, &src, 99, &points), TG_OK);
  assert_int_equal(points, 4 * g.n);
  assert_int_equal(tg_export_queue_len(q), 1);
  g.epoch = 7; /* the producer's next interval begins before the sender encodes */
  assert_int_equal(tg_export_queue_start(q), TG_OK);
  assert_int_equal(tg_export_queue_stop(q, 10000), 0); /* drains, joins */
  assert_int_equal(s.bad_signal, 0);
  assert_same(&direct, &s.got);
  assert_int_equal(metric(m, "tailgate_exporter_sent_spans_total"), (int64_t)(4 * g.n));
  assert_int_equal(metric(m, "tailgate_exporter_send_failed_spans_total"), 0);
  /* after stop: refused, counted, the snapshot freed (ASan: no leak) */
  assert_int_equal(tg_otlp_metrics_push(q, &src, 99, &points), TG_ECLOSED);
  assert_int_equal(metric(m, "tailgate_exporter_enqueue_failed_spans_total"),
                   (int64_t)(4 * g.n));
  tg_export_queue_free(q);
  tg_metrics_free(m);
  release(&direct);
  release(&s.got);
  pthread_mutex_destroy(&s.lock);
}

static void test_leftover_at_stop_is_freed(void **state) {
  (void)state;
  gen g = {.n = 50};
  tg_metric_source src = {.name = "sm", .collect = gen_collect, .ctx = &g};
  sink s = {0};
  pthread_mutex_init(&s.lock, NULL);
  tg_export_queue_ops ops = {.send = sink_send};
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  tg_retry_conf rc;
  tg_retry_conf_defaults(&rc);
  tg_metrics *m = tg_metrics_new();
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &ops, &s, "test/q", NULL, m);
  size_t points;
  assert_int_equal(tg_otlp_metrics_push(q, &src, 1, &points), TG_OK);
  /* never started: stop counts the item's points as failed and frees the snapshot */
  assert_int_equal(tg_export_queue_stop(q, 0), 200);
  assert_int_equal(s.got.n, 0);
  tg_export_queue_free(q);
  tg_metrics_free(m);
  pthread_mutex_destroy(&s.lock);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot_encodes_identically),
      cmocka_unit_test(test_snapshot_errors_and_empty),
      cmocka_unit_test(test_push_through_queue),
      cmocka_unit_test(test_leftover_at_stop_is_freed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
