/* What flows through a `metrics` pipeline: a handle to a live metric source, not copies of
 * data points.
 *
 * The producer (the spanmetrics connector or processor) owns an aggregation table on the
 * loop thread. Once, when it starts, it hands each of its metrics consumers one tg_batch
 * whose `metrics` field points at its tg_metric_source (the batch holds no spans). A
 * metrics exporter keeps the pointer and calls collect() whenever it needs the figures:
 * the Prometheus exporter at every scrape, the remote-write exporter every
 * `flush_interval_ms`. Why pull instead of the Collector's periodic push of copies:
 * a scrape sees current counts rather than the last flush, exemplars are chosen at
 * render time (after tail sampling had time to decide), and 10k series are never copied.
 *
 * Threads: collect runs on the loop thread only (scrape handlers and timers run there, as
 * the aggregation does), so no lock is needed. Lifetime: the source lives as long as its
 * producer instance, which is destroyed only after every instance stopped; so consumers
 * may collect until their own stop completes (a push exporter's final push), never in
 * destroy. */
#ifndef TG_METRIC_SOURCE_H
#define TG_METRIC_SOURCE_H

#include <stddef.h>
#include <stdint.h>

typedef enum tg_mkind { TG_MKIND_COUNTER, TG_MKIND_HISTOGRAM } tg_mkind;

typedef struct tg_mlabel {
  const char *name;  /* a valid Prometheus label name */
  const char *value; /* any UTF-8; consumers escape */
} tg_mlabel;

typedef struct tg_mexemplar {
  double value;            /* the observation (histograms) or 1 (counters) */
  uint64_t time_unix_nano; /* when the span ended */
  uint8_t trace_id[16];
  uint8_t span_id[8];
} tg_mexemplar;

/* A family: its Prometheus name without type suffixes ("traces_span_metrics_calls",
 * "traces_span_metrics_duration_milliseconds"), help and kind. Histograms list their
 * upper bounds (ascending; +Inf is implicit as bucket n_bounds). */
typedef struct tg_mfamily {
  const char *name;
  const char *help;
  tg_mkind kind;
  const double *bounds;
  size_t n_bounds;
} tg_mfamily;

/* One series of a family at collect time. Counters: `count`. Histograms: `count`, `sum`
 * and `buckets` (n_bounds + 1 NON-cumulative counts). exemplars: NULL or one pointer per
 * bucket (histograms) or one (counters); NULL entries mean none. label_text is the
 * labels already rendered as `a="x",b="y"` with values escaped for the Prometheus text
 * formats (a cache the producer keeps per series, so scrapes do not re-escape). */
typedef struct tg_mpoint {
  const tg_mlabel *labels;
  size_t n_labels;
  const char *label_text;
  uint64_t count;
  double sum;
  const uint64_t *buckets;
  const tg_mexemplar *const *exemplars;
  uint64_t start_unix_nano; /* when the series was created */
} tg_mpoint;

typedef struct tg_metric_visitor {
  /* Called once per family before its points; then point() for each series. A non-zero
   * return stops collection and is returned by collect. */
  int (*family)(void *ctx, const tg_mfamily *family);
  int (*point)(void *ctx, const tg_mfamily *family, const tg_mpoint *point);
  void *ctx;
} tg_metric_visitor;

typedef struct tg_metric_source {
  const char *name;           /* the producer's instance id, for logs */
  uint64_t flush_interval_ms; /* how often push exporters should collect */
  /* Visits every family and series (families in a stable order, each family's series
   * contiguous). Loop thread only. Returns 0 or the visitor's non-zero code. */
  int (*collect)(const struct tg_metric_source *src, const tg_metric_visitor *visitor);
  void *ctx;
  /* Optional (NULL = only collect): the same visit in slices, for a consumer that renders
   * across loop iterations (the Prometheus exporter's streamed scrape). open() fixes the
   * set of series to visit (series created later appear at the next open; series in the
   * set stay valid until close, as the producer defers their expiry) and returns a
   * cursor, NULL on ENOMEM. next() visits at most max_points further points (family()
   * before a family's first point) and sets *done once all were visited; returns 0 or the
   * visitor's non-zero code. close() frees the cursor (exactly once per open, also when
   * the visit was abandoned). Loop thread only, like collect. */
  void *(*open)(const struct tg_metric_source *src);
  int (*next)(const struct tg_metric_source *src, void *cursor,
              const tg_metric_visitor *visitor, size_t max_points, int *done);
  void (*close)(const struct tg_metric_source *src, void *cursor);
} tg_metric_source;

#endif
