/* Registration of the tail sampler's metrics, and its two histograms: fixed buckets in
 * atomic cells, rendered in text format by a registry collector. */
#include "ts_metrics.h"

#include <string.h>

#include "tg_alloc.h"

static const double age_bounds[TS_HIST_BUCKETS] = {0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
                                                   600, 1800};
static const double lag_bounds[TS_HIST_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25, 0.5, 1, 2.5, 5, 10};

#define P "tailgate_processor_tail_sampling_"

static tg_metric_cell *series(tg_metrics *reg, const char *name, const char *help,
                              tg_metric_type type, const char *const *names,
                              const char *const *values) {
  tg_metric_family *f = tg_metrics_family(reg, name, help, type, names);
  return f ? tg_metrics_series(f, values) : NULL;
}

static void render_hist(tg_buf *out, const char *name, const char *help, const char *id,
                        ts_hist *h) {
  tg_buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  int64_t cum = 0;
  for (int i = 0; i <= TS_HIST_BUCKETS; i++) {
    cum += tg_metric_get(&h->buckets[i]);
    tg_buf_appendf(out, "%s_bucket{processor=\"", name);
    tg_metrics_escape_label(out, id);
    if (i < TS_HIST_BUCKETS)
      tg_buf_appendf(out, "\",le=\"%g\"} %lld\n", h->bounds[i], (long long)cum);
    else
      tg_buf_appendf(out, "\",le=\"+Inf\"} %lld\n", (long long)cum);
  }
  tg_buf_appendf(out, "%s_sum{processor=\"", name);
  tg_metrics_escape_label(out, id);
  tg_buf_appendf(out, "\"} %.6f\n", (double)tg_metric_get(&h->sum_us) / 1e6);
  tg_buf_appendf(out, "%s_count{processor=\"", name);
  tg_metrics_escape_label(out, id);
  tg_buf_appendf(out, "\"} %lld\n", (long long)cum);
}

static void collect(void *ctx, tg_buf *out) {
  ts_metrics *m = ctx;
  render_hist(out, P "late_span_age_seconds",
              "Age of late spans (time since their trace was decided).", m->id, &m->late_age);
  render_hist(out, P "decision_lag_seconds",
              "How long after its decision_wait a trace was decided.", m->id,
              &m->decision_lag);
}

void ts_hist_observe(ts_hist *h, double seconds) {
  int i = 0;
  while (i < TS_HIST_BUCKETS && seconds > h->bounds[i])
    i++;
  tg_metric_add(&h->buckets[i], 1);
  tg_metric_add(&h->sum_us, (int64_t)(seconds * 1e6));
}

int ts_metrics_init(ts_metrics *m, tg_metrics *reg, const char *id,
                    const tg_ts_policies *policies) {
  memset(m, 0, sizeof *m);
  m->late_age.bounds = age_bounds;
  m->decision_lag.bounds = lag_bounds;
  if (!reg)
    return 0;
  if (!(m->id = tg_strdup(id)))
    return -1;
  const char *const proc[] = {"processor", NULL};
  const char *const v_proc[] = {id, NULL};
  m->traces_in_memory = series(reg, P "traces_in_memory", "Traces buffered awaiting a decision.",
                               TG_METRIC_GAUGE, proc, v_proc);
  m->bytes_in_memory = series(reg, P "bytes_in_memory",
                              "Bytes held by buffered traces (spans, headers, index).",
                              TG_METRIC_GAUGE, proc, v_proc);
  m->spans_received = series(reg, P "spans_received_total", "Spans taken by the sampler.",
                             TG_METRIC_COUNTER, proc, v_proc);
  m->debug_kept = series(reg, P "debug_kept_traces_total",
                         "Traces kept because a span carried sampling.priority >= 1.",
                         TG_METRIC_COUNTER, proc, v_proc);
  m->too_large = series(reg, P "traces_too_large_total",
                        "Traces dropped at once for growing past maximum_trace_size_bytes.",
                        TG_METRIC_COUNTER, proc, v_proc);
  m->lost_spans = series(reg, P "lost_spans_total",
                         "Kept spans that could not be handed on (out of memory).",
                         TG_METRIC_COUNTER, proc, v_proc);
  static const char *const outcome[] = {"sampled", "not_sampled"};
  static const char *const trigger[] = {"decision_wait", "early", "shutdown"};
  const char *const l_dec[] = {"processor", "decision", "trigger", NULL};
  const char *const l_out[] = {"processor", "decision", NULL};
  for (int t = 0; t < TS_TRIGGER_COUNT; t++)
    for (int o = 0; o < TS_OUT_COUNT; o++) {
      const char *const v[] = {id, outcome[o], trigger[t], NULL};
      m->decided[t][o] = series(reg, P "traces_decided_total",
                                "Final trace decisions, by outcome and what triggered them.",
                                TG_METRIC_COUNTER, l_dec, v);
    }
  for (int o = 0; o < TS_OUT_COUNT; o++) {
    const char *const v[] = {id, outcome[o], NULL};
    m->spans_out[o] = series(reg, P "spans_decided_total",
                             "Spans of decided traces, by the trace's outcome.",
                             TG_METRIC_COUNTER, l_out, v);
    m->late[o] = series(reg, P "late_spans_total",
                        "Spans that arrived after their trace was decided (decision cache hits).",
                        TG_METRIC_COUNTER, l_out, v);
  }
  static const char *const bound[] = {"num_traces", "max_memory_mib"};
  const char *const l_bound[] = {"processor", "bound", NULL};
  for (int b = 0; b < TS_BOUND_COUNT; b++) {
    const char *const v[] = {id, bound[b], NULL};
    m->early[b] = series(reg, P "early_decisions_total",
                         "Traces decided before decision_wait because a memory bound was reached.",
                         TG_METRIC_COUNTER, l_bound, v);
  }
  m->n_policies = policies->n;
  m->policy = tg_calloc(policies->n ? policies->n : 1, sizeof *m->policy);
  if (!m->policy)
    return -1;
  static const char *const pdec[] = {"sampled", "not_sampled", "dropped"};
  const char *const l_pol[] = {"processor", "policy", "decision", NULL};
  for (size_t i = 0; i < policies->n; i++)
    for (int d = 0; d < TS_POLICY_COUNT; d++) {
      const char *name = policies->items[i].name ? policies->items[i].name : "";
      const char *const v[] = {id, name, pdec[d], NULL};
      m->policy[i][d] = series(reg, P "policy_decisions_total",
                               "Each top-level policy's verdict per decided trace.",
                               TG_METRIC_COUNTER, l_pol, v);
    }
  m->reg = reg;
  return tg_metrics_add_collector(reg, collect, m) == 0 ? 0 : -1;
}

void ts_metrics_destroy(ts_metrics *m) {
  if (m->reg)
    tg_metrics_remove_collector(m->reg, collect, m);
  tg_free(m->policy);
  tg_free(m->id);
  memset(m, 0, sizeof *m);
}
