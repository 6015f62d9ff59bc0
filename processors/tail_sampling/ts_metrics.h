/* The tail sampler's self-metrics (tailgate_processor_tail_sampling_*): traces and bytes
 * in memory, decisions by policy and outcome, final decisions by trigger, early
 * decisions by bound, late spans and their age, decision lag. Cells are atomic, so every
 * shard's worker thread updates them directly; the two histograms render through a
 * registry collector (the registry has counters and gauges only). */
#ifndef TG_TS_METRICS_H
#define TG_TS_METRICS_H

#include <stddef.h>

#include "tg_metrics.h"
#include "ts_conf.h"

enum { TS_OUT_SAMPLED, TS_OUT_NOT_SAMPLED, TS_OUT_COUNT };
enum { TS_TRIGGER_WAIT, TS_TRIGGER_EARLY, TS_TRIGGER_SHUTDOWN, TS_TRIGGER_COUNT };
enum { TS_BOUND_TRACES, TS_BOUND_MEMORY, TS_BOUND_COUNT };
enum { TS_POLICY_SAMPLED, TS_POLICY_NOT_SAMPLED, TS_POLICY_DROPPED, TS_POLICY_COUNT };
enum { TS_LATE_SAMPLED, TS_LATE_NOT_SAMPLED, TS_LATE_COUNT };

#define TS_HIST_BUCKETS 12

typedef struct ts_hist {
  const double *bounds; /* seconds, TS_HIST_BUCKETS of them */
  tg_metric_cell buckets[TS_HIST_BUCKETS + 1]; /* non-cumulative; last is +Inf */
  tg_metric_cell sum_us;
} ts_hist;

typedef struct ts_metrics {
  tg_metrics *reg;
  char *id;
  tg_metric_cell *traces_in_memory, *bytes_in_memory;
  tg_metric_cell *spans_received;
  tg_metric_cell *decided[TS_TRIGGER_COUNT][TS_OUT_COUNT];
  tg_metric_cell *spans_out[TS_OUT_COUNT]; /* spans of decided traces, by outcome */
  tg_metric_cell *early[TS_BOUND_COUNT];
  tg_metric_cell *late[TS_LATE_COUNT];
  tg_metric_cell *debug_kept;
  tg_metric_cell *too_large; /* traces dropped past maximum_trace_size_bytes */
  tg_metric_cell *lost_spans; /* could not be handed on (out of memory) */
  tg_metric_cell *(*policy)[TS_POLICY_COUNT]; /* per top-level policy */
  size_t n_policies;
  ts_hist late_age, decision_lag;
} ts_metrics;

/* Registers every family and series for processor `id`. Returns 0 or -1 on ENOMEM;
 * ts_metrics_destroy is safe either way. */
int ts_metrics_init(ts_metrics *m, tg_metrics *reg, const char *id,
                    const tg_ts_policies *policies);
void ts_metrics_destroy(ts_metrics *m);

void ts_hist_observe(ts_hist *h, double seconds);

#endif
