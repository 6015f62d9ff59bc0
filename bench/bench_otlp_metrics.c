/* bench_otlp_metrics: the cost of span metrics' OTLP side. Per observation: explicit
 * buckets (16 bounds) vs an exponential histogram (max_size 160), cumulative vs delta
 * tables; per flush: tg_otlp_metrics_encode of N series (default 10,000) into
 * ExportMetricsServiceRequest bytes (what the loop thread used to do at every flush), and
 * tg_otlp_metrics_push of the same flush into a sending queue (what it does now: a
 * snapshot and a push; the encoding moved to the sender thread), timed on the calling
 * thread. Usage: bench_otlp_metrics [series] [observations] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tg_alloc.h"
#include "tg_export_queue.h"
#include "tg_otlp_metrics.h"
#include "../processors/spanmetrics/spanmetrics_table.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const double bounds[] = {2, 4, 6, 8, 10, 50, 100, 200, 400, 800,
                                1000, 1400, 2000, 5000, 10000, 15000};
static const char *const names[] = {"service_name", "span_name"};
static const char *const otel[] = {"service.name", "span.name"};
static const int where[] = {TG_MLABEL_BOTH, TG_MLABEL_POINT};
static tg_mfamily calls = {.name = "c", .kind = TG_MKIND_COUNTER, .otel_name = "calls"};
static tg_mfamily dur = {.name = "d", .otel_name = "duration", .unit = "ms"};

typedef struct src_ctx {
  tg_sm_table *t;
} src_ctx;

static int collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  src_ctx *c = src->ctx;
  return tg_sm_table_collect(c->t, &calls, &dur, NULL, 0, v);
}

static int nop_family(void *ctx, const tg_mfamily *f) {
  (void)ctx;
  (void)f;
  return 0;
}
static int nop_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  (void)f;
  *(size_t *)ctx += p->count;
  return 0;
}

static tg_send_result no_send(void *ctx, void *worker, const tg_export_item *item,
                              tg_send_outcome *out) {
  (void)ctx, (void)worker, (void)item, (void)out;
  return TG_SEND_OK;
}

/* Loop-thread cost of one flush now: snapshot + push into a (not started) queue. The
 * first push runs on fresh memory (page faults are most of it on a VM); `warm` pushes a
 * second time, reusing what the first freed, as every flush after the first does. */
static double push_ms(const tg_metric_source *src, int warm) {
  if (warm)
    push_ms(src, 0);
  tg_queue_conf qc;
  tg_queue_conf_defaults(&qc);
  qc.max_bytes = 0;
  tg_retry_conf rc;
  tg_retry_conf_defaults(&rc);
  tg_export_queue_ops ops = {.send = no_send};
  tg_export_queue *q = tg_export_queue_new(&qc, &rc, &ops, NULL, "bench", NULL, NULL);
  size_t points;
  double t0 = now_s();
  if (!q || tg_otlp_metrics_push(q, src, 2000, &points))
    exit(1);
  double t1 = now_s();
  tg_export_queue_free(q); /* never started: the snapshot is freed unsent */
  return (t1 - t0) * 1e3;
}

static int count_bytes(void *ctx, uint8_t *data, size_t len, size_t n_points) {
  (void)n_points;
  *(size_t *)ctx += len;
  tg_free(data);
  return 0;
}

static void run(const char *label, int exponential, int delta, size_t series, size_t obs) {
  tg_sm_table_conf tc = {.label_names = names, .n_labels = 2, .limit = series + 1,
                         .bounds = exponential ? NULL : bounds,
                         .n_bounds = exponential ? 0 : 16, .label_otel_names = otel,
                         .label_where = where, .exp_max_size = exponential ? 160 : 0,
                         .delta = delta};
  tg_sm_table *t = tg_sm_table_new(&tc);
  tg_sm_series **s = tg_calloc(series, sizeof *s);
  if (!t || !s)
    exit(1);
  char svc[32], op[32];
  for (size_t i = 0; i < series; i++) {
    snprintf(svc, sizeof svc, "svc-%zu", i % 50);
    snprintf(op, sizeof op, "op-%zu", i);
    const char *vals[] = {svc, op};
    int of;
    s[i] = tg_sm_table_lookup(t, vals, NULL, 1, &of);
  }
  uint64_t x = 88172645463325252ull;
  double t0 = now_s();
  for (size_t i = 0; i < obs; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double ms = (double)(x % 2000000) / 1000.0 + 0.001; /* 1 us .. 2 s */
    tg_sm_table_observe(t, s[i % series], ms, NULL, NULL, 1, 1);
  }
  double t1 = now_s();
  tg_sm_table_flush(t, 1000);
  dur.kind = exponential ? TG_MKIND_EXP_HISTOGRAM : TG_MKIND_HISTOGRAM;
  dur.bounds = exponential ? NULL : bounds;
  dur.n_bounds = exponential ? 0 : 16;
  src_ctx ctx = {t};
  tg_metric_source src = {.name = "bench", .collect = collect, .ctx = &ctx, .delta = delta};
  size_t bytes = 0, sum = 0;
  tg_metric_visitor nv = {nop_family, nop_point, &sum};
  double tq = now_s();
  collect(&src, &nv);
  double tc2 = now_s();
  double t2 = now_s();
  if (tg_otlp_metrics_encode(&src, 2000, 3u << 20, count_bytes, &bytes))
    exit(1);
  double t3 = now_s();
  size_t again = 0;
  double t4 = now_s(); /* the encoding again, on reused memory */
  if (tg_otlp_metrics_encode(&src, 2000, 3u << 20, count_bytes, &again))
    exit(1);
  double t5 = now_s();
  double pm = push_ms(&src, 0), pw = push_ms(&src, 1);
  printf("%-28s observe %6.1f ns/span   collect %6.2f ms   encode %zu series: %6.1f ms "
         "(again %5.1f), %zu KiB   push: %5.1f ms (again %5.1f)\n", label,
         (t1 - t0) / (double)obs * 1e9, (tc2 - tq) * 1e3, series, (t3 - t2) * 1e3,
         (t5 - t4) * 1e3, bytes / 1024, pm, pw);
  tg_free(s);
  tg_sm_table_free(t);
}

int main(int argc, char **argv) {
  size_t series = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
  size_t obs = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000000;
  run("explicit 16, cumulative", 0, 0, series, obs);
  run("explicit 16, delta", 0, 1, series, obs);
  run("exponential 160, cumulative", 1, 0, series, obs);
  run("exponential 160, delta", 1, 1, series, obs);
  return 0;
}
