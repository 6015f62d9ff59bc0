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

/* TG_MKIND_EXP_HISTOGRAM: a base-2 exponential histogram (OTLP only: the Prometheus text
 * formats cannot carry it, so Prometheus consumers refuse a source that has one). */
typedef enum tg_mkind { TG_MKIND_COUNTER, TG_MKIND_HISTOGRAM, TG_MKIND_EXP_HISTOGRAM } tg_mkind;

/* Where a label goes in OTLP (Prometheus consumers render every label alike). */
enum { TG_MLABEL_POINT, TG_MLABEL_RESOURCE, TG_MLABEL_BOTH };

typedef struct tg_mlabel {
  const char *name;      /* a valid Prometheus label name */
  const char *value;     /* any UTF-8; consumers escape */
  const char *otel_name; /* the attribute's OpenTelemetry name ("service.name"); NULL = name */
  int where;             /* TG_MLABEL_*: a data point or resource attribute (OTLP) */
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
  const char *otel_name; /* OTLP metric name ("traces.span.metrics.calls"); NULL = name */
  const char *unit;      /* OTLP unit ("ms", "s", "1"); NULL = none */
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
  /* label_text without the TG_MLABEL_RESOURCE labels (the Prometheus exporter's
   * resource_to_telemetry_conversion off); NULL = the same as label_text */
  const char *label_text_point;
  uint64_t updated_mono_ms; /* when the series last counted (tg_clock_mono_ms); 0 = unknown */
  uint64_t count;
  double sum;
  const uint64_t *buckets;
  const tg_mexemplar *const *exemplars;
  uint64_t start_unix_nano; /* when the series was created (delta: the interval began) */
  uint64_t time_unix_nano;  /* delta: when the interval closed; 0 = now */
  /* TG_MKIND_EXP_HISTOGRAM: count, sum, and the buckets at `scale`: exp_counts[i] holds
   * the values in (base^(exp_offset+i), base^(exp_offset+i+1)], base = 2^(2^-scale);
   * zero_count the values <= 0. exemplars: NULL or one pointer. */
  int32_t scale;
  int32_t exp_offset;
  const uint64_t *exp_counts;
  size_t n_exp_counts;
  uint64_t zero_count;
} tg_mpoint;

typedef struct tg_metric_visitor {
  /* Called once per family before its points; then point() for each series. A non-zero
   * return stops collection and is returned by collect. */
  int (*family)(void *ctx, const tg_mfamily *family);
  int (*point)(void *ctx, const tg_mfamily *family, const tg_mpoint *point);
  void *ctx;
} tg_metric_visitor;

struct tg_metric_source;
/* Called on the loop thread when the producer closes a flush interval (below). */
typedef void (*tg_metric_flush_fn)(void *ctx, const struct tg_metric_source *src);

typedef struct tg_metric_source {
  const char *name;           /* the producer's instance id, for logs */
  uint64_t flush_interval_ms; /* how often push exporters should collect */
  /* Delta temporality: collect visits the counts of the last closed flush interval only
   * (series without spans in it are left out), valid until the next flush; the
   * Prometheus formats cannot say that, so Prometheus consumers refuse such a source.
   * 0: cumulative (counts since the series began). */
  int delta;
  int exponential; /* some family is TG_MKIND_EXP_HISTOGRAM */
  /* Optional (NULL = none): registers fn(ctx, src), called on the loop thread every
   * flush_interval_ms right after the producer closed an interval (and once more when
   * it stops), so a push exporter collects each interval exactly once; required to
   * consume a delta source. ctx must outlive the producer's stop. Returns 0, or
   * TG_ENOMEM / TG_ETOOBIG (at most 8 subscribers). */
  int (*subscribe)(const struct tg_metric_source *src, tg_metric_flush_fn fn, void *ctx);
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
