/* tg_otlp_metrics_encode: a fixed source (two resources, a counter, an explicit and an
 * exponential histogram, an exemplar, a resource-only label) encoded, then decoded with
 * protobuf-c from proto/metrics_service.proto and compared field by field; a delta
 * source says DELTA; nothing to report emits nothing; the request cut by size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics_service.pb-c.h"
#include "tg_alloc.h"
#include "tg_otlp_metrics.h"

static const tg_mlabel labels_a[] = {
    {.name = "service_name", .value = "a", .otel_name = "service.name", .where = TG_MLABEL_BOTH},
    {.name = "span_name", .value = "GET", .otel_name = "span.name"},
    {.name = "env", .value = "prod", .otel_name = "deployment.environment",
     .where = TG_MLABEL_RESOURCE}};
static const tg_mlabel labels_b[] = {
    {.name = "service_name", .value = "b", .otel_name = "service.name", .where = TG_MLABEL_BOTH}};
static const tg_mfamily calls = {.name = "c", .help = "Calls.", .kind = TG_MKIND_COUNTER,
                                 .otel_name = "x.calls"};
static const double bounds[] = {0.1, 1};
static const tg_mfamily dur = {.name = "d", .kind = TG_MKIND_HISTOGRAM, .bounds = bounds,
                               .n_bounds = 2, .otel_name = "x.duration", .unit = "ms"};
static const tg_mfamily edur = {.name = "e", .kind = TG_MKIND_EXP_HISTOGRAM,
                                .otel_name = "x.exp", .unit = "s"};
static const uint64_t buckets[] = {1, 0, 2};
static const uint64_t exp_counts[] = {3, 0, 300};
static const tg_mexemplar ex = {.value = 1, .time_unix_nano = 77, .trace_id = {1, [15] = 2},
                                .span_id = {3, [7] = 4}};
static const tg_mexemplar *const ex_one[] = {&ex};
static int emit_nothing;

static int collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  (void)src;
  if (emit_nothing)
    return 0;
  tg_mpoint ca = {.labels = labels_a, .n_labels = 3, .count = 5, .start_unix_nano = 10,
                  .exemplars = ex_one};
  tg_mpoint cb = {.labels = labels_b, .n_labels = 1, .count = 1, .start_unix_nano = 20,
                  .time_unix_nano = 30};
  tg_mpoint da = {.labels = labels_a, .n_labels = 3, .count = 3, .sum = 2.5,
                  .buckets = buckets, .start_unix_nano = 10};
  tg_mpoint ea = {.labels = labels_a, .n_labels = 3, .count = 304, .sum = 9, .scale = -3,
                  .exp_offset = -2, .exp_counts = exp_counts, .n_exp_counts = 3,
                  .zero_count = 1, .start_unix_nano = 10};
  int rc = v->family(v->ctx, &calls);
  if (!rc)
    rc = v->point(v->ctx, &calls, &ca);
  if (!rc)
    rc = v->point(v->ctx, &calls, &cb);
  if (!rc)
    rc = v->family(v->ctx, &dur);
  if (!rc)
    rc = v->point(v->ctx, &dur, &da);
  if (!rc)
    rc = v->family(v->ctx, &edur);
  return rc ? rc : v->point(v->ctx, &edur, &ea);
}

typedef struct got {
  uint8_t *data[4];
  size_t len[4], points[4], n;
} got;

static int keep(void *ctx, uint8_t *data, size_t len, size_t n_points) {
  got *g = ctx;
  assert_true(g->n < 4);
  g->data[g->n] = data;
  g->len[g->n] = len;
  g->points[g->n++] = n_points;
  return 0;
}

static void release(got *g) {
  for (size_t i = 0; i < g->n; i++)
    tg_free(g->data[i]);
}

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest Req;
typedef Opentelemetry__Proto__Common__V1__KeyValue KV;

static const char *attr(KV **kvs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(kvs[i]->key, key))
      return kvs[i]->value->string_value;
  return NULL;
}

static void test_encode_decodes_exactly(void **state) {
  (void)state;
  tg_metric_source src = {.name = "sm", .collect = collect};
  got g = {0};
  assert_int_equal(tg_otlp_metrics_encode(&src, 1000, 0, keep, &g), 0);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.points[0], 4);
  Req *r = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
      NULL, g.len[0], g.data[0]);
  assert_non_null(r);
  assert_int_equal(r->n_resource_metrics, 2);
  /* resource a: service.name and the resource-only key attribute; 3 metrics */
  Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = r->resource_metrics[0];
  assert_int_equal(rm->resource->n_attributes, 2);
  assert_string_equal(attr(rm->resource->attributes, 2, "service.name"), "a");
  assert_string_equal(attr(rm->resource->attributes, 2, "deployment.environment"), "prod");
  assert_int_equal(rm->n_scope_metrics, 1);
  assert_string_equal(rm->scope_metrics[0]->scope->name, "tailgate.spanmetrics");
  assert_int_equal(rm->scope_metrics[0]->n_metrics, 3);
  Opentelemetry__Proto__Metrics__V1__Metric **m = rm->scope_metrics[0]->metrics;
  assert_string_equal(m[0]->name, "x.calls");
  assert_string_equal(m[0]->description, "Calls.");
  assert_int_equal(m[0]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
  assert_true(m[0]->sum->is_monotonic);
  assert_int_equal(m[0]->sum->aggregation_temporality,
                   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
  assert_int_equal(m[0]->sum->n_data_points, 1);
  Opentelemetry__Proto__Metrics__V1__NumberDataPoint *np = m[0]->sum->data_points[0];
  assert_int_equal(np->as_int, 5);
  assert_int_equal(np->start_time_unix_nano, 10);
  assert_int_equal(np->time_unix_nano, 1000); /* 0 = stamped now */
  assert_int_equal(np->n_attributes, 2);      /* no resource-only label on the point */
  assert_string_equal(attr(np->attributes, 2, "service.name"), "a");
  assert_string_equal(attr(np->attributes, 2, "span.name"), "GET");
  assert_int_equal(np->n_exemplars, 1);
  assert_true(np->exemplars[0]->as_double == 1.0);
  assert_int_equal(np->exemplars[0]->time_unix_nano, 77);
  assert_int_equal(np->exemplars[0]->trace_id.len, 16);
  assert_int_equal(np->exemplars[0]->trace_id.data[15], 2);
  assert_int_equal(np->exemplars[0]->span_id.data[7], 4);
  /* explicit histogram */
  assert_string_equal(m[1]->name, "x.duration");
  assert_string_equal(m[1]->unit, "ms");
  Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *hp = m[1]->histogram->data_points[0];
  assert_int_equal(hp->count, 3);
  assert_true(hp->sum == 2.5);
  assert_int_equal(hp->n_bucket_counts, 3);
  assert_int_equal(hp->bucket_counts[2], 2);
  assert_int_equal(hp->n_explicit_bounds, 2);
  assert_true(hp->explicit_bounds[0] == 0.1 && hp->explicit_bounds[1] == 1);
  /* exponential histogram: negative scale and offset survive zigzag */
  Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *ep =
      m[2]->exponential_histogram->data_points[0];
  assert_int_equal(ep->count, 304);
  assert_int_equal(ep->scale, -3);
  assert_int_equal(ep->zero_count, 1);
  assert_int_equal(ep->positive->offset, -2);
  assert_int_equal(ep->positive->n_bucket_counts, 3);
  assert_int_equal(ep->positive->bucket_counts[0], 3);
  assert_int_equal(ep->positive->bucket_counts[2], 300);
  /* resource b: its own point time */
  rm = r->resource_metrics[1];
  assert_string_equal(attr(rm->resource->attributes, rm->resource->n_attributes, "service.name"),
                      "b");
  np = rm->scope_metrics[0]->metrics[0]->sum->data_points[0];
  assert_int_equal(np->time_unix_nano, 30);
  assert_int_equal(np->start_time_unix_nano, 20);
  opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
      r, NULL);
  release(&g);
}

static void test_delta_empty_and_cut(void **state) {
  (void)state;
  tg_metric_source src = {.name = "sm", .collect = collect, .delta = 1};
  got g = {0};
  assert_int_equal(tg_otlp_metrics_encode(&src, 1000, 1, keep, &g), 0);
  assert_int_equal(g.n, 2); /* cut after each resource */
  assert_int_equal(g.points[0] + g.points[1], 4);
  Req *r = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
      NULL, g.len[1], g.data[1]);
  assert_non_null(r);
  assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->metrics[0]->sum
                       ->aggregation_temporality,
                   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA);
  opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
      r, NULL);
  release(&g);
  emit_nothing = 1;
  got none = {0};
  assert_int_equal(tg_otlp_metrics_encode(&src, 1000, 0, keep, &none), 0);
  assert_int_equal(none.n, 0);
  emit_nothing = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_decodes_exactly),
      cmocka_unit_test(test_delta_empty_and_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
