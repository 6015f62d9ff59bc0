/* A fixed metric source for the metrics exporters' tests: one counter series with an
 * exemplar, one histogram series (bounds 2 and 4.5) with an exemplar in the middle
 * bucket, and one series without labels. */
#ifndef TG_FAKE_SOURCE_H
#define TG_FAKE_SOURCE_H

#include "tg_metric_source.h"

static const double fake_bounds[] = {2, 4.5};
static const tg_mfamily fake_calls = {.name = "rpc_calls", .help = "Calls.",
                                      .kind = TG_MKIND_COUNTER};
static const tg_mfamily fake_dur = {.name = "rpc_duration_milliseconds", .help = "Durations.",
                                    .kind = TG_MKIND_HISTOGRAM, .bounds = fake_bounds,
                                    .n_bounds = 2};
static const tg_mlabel fake_labels[] = {{.name = "service_name", .value = "a\"b"},
                                        {.name = "span_kind", .value = "SPAN_KIND_SERVER"}};
static const uint64_t fake_buckets[] = {1, 0, 2};
static const tg_mexemplar fake_ex = {.value = 3.25,
                                     .time_unix_nano = 1700000000123000000ull,
                                     .trace_id = {0xab, [15] = 0x01},
                                     .span_id = {0xcd, [7] = 0x02}};
static const tg_mexemplar *const fake_counter_ex[] = {&fake_ex};
static const tg_mexemplar *const fake_bucket_ex[] = {NULL, &fake_ex, NULL};

static int fake_collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  (void)src;
  tg_mpoint c = {.labels = fake_labels, .n_labels = 2,
                 .label_text = "service_name=\"a\\\"b\",span_kind=\"SPAN_KIND_SERVER\"",
                 .count = 7, .exemplars = fake_counter_ex};
  tg_mpoint bare = {.label_text = "", .count = 1};
  int rc = v->family(v->ctx, &fake_calls);
  if (!rc)
    rc = v->point(v->ctx, &fake_calls, &c);
  if (!rc)
    rc = v->point(v->ctx, &fake_calls, &bare);
  if (!rc)
    rc = v->family(v->ctx, &fake_dur);
  tg_mpoint h = c;
  h.count = 3;
  h.sum = 10.5;
  h.buckets = fake_buckets;
  h.exemplars = fake_bucket_ex;
  if (!rc)
    rc = v->point(v->ctx, &fake_dur, &h);
  return rc;
}

static const tg_metric_source fake_source = {
    .name = "fake", .flush_interval_ms = 1000, .collect = fake_collect};

#endif
