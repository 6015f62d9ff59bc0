/* The aggregation table of spanmetrics: one series per distinct label set, holding a call
 * count, a duration histogram and (optionally) exemplar candidates. Pure data structure:
 * no I/O, no clock of its own (callers pass now_ms), so tests drive it directly. Loop
 * thread only. */
#ifndef TG_SPANMETRICS_TABLE_H
#define TG_SPANMETRICS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_kept_traces.h"
#include "tg_metric_source.h"

typedef struct tg_sm_table tg_sm_table;

typedef struct tg_sm_table_conf {
  const char *const *label_names; /* n_labels valid Prometheus label names (copied) */
  size_t n_labels;
  const double *bounds;           /* ascending histogram upper bounds (copied) */
  size_t n_bounds;
  size_t limit;                   /* distinct series before new ones fold into overflow */
  int exemplars;                  /* keep exemplar candidates */
  uint64_t candidate_ttl_ms;      /* how long a candidate waits for a sampling decision */
  size_t service_label;           /* index of the service_name label (SIZE_MAX = none) */
  size_t per_service_limit;       /* series one service value may hold (0 = limit) */
  const char *const *label_otel_names; /* NULL or n_labels OpenTelemetry names (copied) */
  const int *label_where;         /* NULL or n_labels TG_MLABEL_* (copied) */
  uint32_t exp_max_size;          /* > 0: exponential histograms of this many buckets
                                     (>= 4; bounds are then ignored) */
  int delta;                      /* delta temporality: tg_sm_table_flush closes intervals */
  unsigned max_candidates;        /* exemplar candidates per series (1..8; 0 = 8) */
  /* Delta tables: delta_temporality.metric_timestamp_cache_size, the Collector's LRU of
   * each series' last flush time. A series remembers it only while fewer than this many
   * series had points flushed after its own last point (0 = always remembers); one that
   * forgot starts its next point at its first span of that interval instead of at the
   * previous flush, which downstream delta-to-cumulative conversion reads as a reset. */
  size_t timestamp_cache_size;
} tg_sm_table_conf;

/* Candidates kept per series while their traces await a sampling decision. */
#define TG_SM_CANDIDATES 8
/* Longest label value kept (bytes); longer values are cut at a UTF-8 boundary. */
#define TG_SM_MAX_VALUE 1024

/* NULL on ENOMEM or when n_labels is 0 or more than 64. */
tg_sm_table *tg_sm_table_new(const tg_sm_table_conf *conf);
void tg_sm_table_free(tg_sm_table *t);

typedef struct tg_sm_series tg_sm_series;

/* Finds or creates the series of a label set (values as for tg_sm_table_add; lens[i] is
 * the length of values[i], or lens is NULL for NUL-terminated values) without
 * counting anything, so a processor can count only once downstream took the batch.
 * *overflow is set to 1 when the label set went to the overflow series because the table
 * holds `limit` series, 2 when its service holds `per_service_limit`. The series stays
 * valid until the next tg_sm_table_expire. NULL on ENOMEM. */
tg_sm_series *tg_sm_table_lookup(tg_sm_table *t, const char *const *values,
                                 const size_t *lens, uint64_t now_ms, int *overflow);

/* Counts one span in a series from tg_sm_table_lookup (arguments as tg_sm_table_add). */
void tg_sm_table_observe(tg_sm_table *t, tg_sm_series *s, double value, const uint8_t *trace_id,
                      const uint8_t *span_id, uint64_t end_unix_nano, uint64_t now_ms);

/* Records one span: values[i] is label i's value, NULL to leave label i out of the series.
 * `value` is the duration in the table's unit. trace_id/span_id may be NULL (no exemplar
 * candidate). A new label set past the limit goes to the overflow series
 * (otel_metric_overflow="true"). Returns 0, 1 or 2 when the span went to the overflow
 * series (as *overflow of tg_sm_table_lookup: the table's limit, the service's share), or
 * TG_ENOMEM (the span is not counted). */
int tg_sm_table_add(tg_sm_table *t, const char *const *values, double value,
                 const uint8_t *trace_id, const uint8_t *span_id, uint64_t end_unix_nano,
                 uint64_t now_ms);

/* Removes series (the overflow series too) not updated since now_ms - max_age_ms.
 * Returns how many were removed. */
size_t tg_sm_table_expire(tg_sm_table *t, uint64_t now_ms, uint64_t max_age_ms);

/* Closes a flush interval at now_unix_nano. Delta tables: every series' counts since the
 * previous flush become what collect and the cursors visit (series with none are left
 * out; each point's start is the previous flush, or the series' first span when it is
 * newer or the series' flush time fell out of timestamp_cache_size) and the live counts
 * restart from zero. Cumulative tables: nothing. Must not be
 * called while a cursor is open (delta sources have no Prometheus consumer). */
void tg_sm_table_flush(tg_sm_table *t, uint64_t now_unix_nano);

/* Series currently held (overflow series included when it exists). */
size_t tg_sm_table_size(const tg_sm_table *t);

/* Services (values of the service label) holding series, by how many they hold: hist[b]
 * counts services holding at most tg_sm_service_bucket_bounds[b] series and more than
 * the previous bound (hist[TG_SM_SERVICE_BUCKETS]: more than the last). May be NULL.
 * Returns the number of services. */
#define TG_SM_SERVICE_BUCKETS 6
extern const size_t tg_sm_service_bucket_bounds[TG_SM_SERVICE_BUCKETS];
size_t tg_sm_table_services(const tg_sm_table *t, size_t hist[TG_SM_SERVICE_BUCKETS + 1]);

/* Series held by one service value (0 when unknown). For tests and diagnostics. */
size_t tg_sm_table_service_series(const tg_sm_table *t, const char *service);

/* The visit of tg_sm_table_collect in slices. open snapshots the series (later ones appear
 * at the next open) and defers tg_sm_table_expire until close; NULL on ENOMEM. next
 * visits at most max_points points and sets *done at the end; returns 0 or the visitor's
 * code. close frees the cursor (NULL is fine). */
typedef struct tg_sm_cursor tg_sm_cursor;
tg_sm_cursor *tg_sm_table_cursor_open(tg_sm_table *t);
int tg_sm_table_cursor_next(tg_sm_table *t, tg_sm_cursor *c, const tg_mfamily *calls,
                            const tg_mfamily *duration, tg_kept_traces *kept, uint64_t now_ms,
                            const tg_metric_visitor *v, size_t max_points, int *done);
void tg_sm_table_cursor_close(tg_sm_table *t, tg_sm_cursor *c);

/* Visits `calls` and then, if `duration` is non-NULL, `duration` (a histogram family whose
 * bounds are the table's). With exemplars on, candidates whose traces `kept` now holds
 * become the exemplars of their bucket and of the counter; candidates older than the TTL
 * are dropped. Returns 0 or the visitor's non-zero code. */
int tg_sm_table_collect(tg_sm_table *t, const tg_mfamily *calls, const tg_mfamily *duration,
                     tg_kept_traces *kept, uint64_t now_ms, const tg_metric_visitor *visitor);

/* Index of the bucket v falls in: the first i with v <= bounds[i] (Prometheus's le is
 * inclusive), n_bounds for +Inf. */
size_t tg_sm_bucket_index(const double *bounds, size_t n_bounds, double v);

#endif
