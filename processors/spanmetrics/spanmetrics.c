/* spanmetrics: RED metrics (calls, duration histogram) from every span, in both of the
 * Collector's placements.
 *
 *   connectors: spanmetrics   an exporter of a traces pipeline (takes the batch and frees
 *                             it) and the receiver of a metrics pipeline (`next`)
 *   processors: spanmetrics   passes spans through unchanged; its metrics go to the
 *                             exporter named by `metrics_exporter` (the Collector's old
 *                             spanmetrics processor key)
 *
 * Both run the same code over one aggregation table (spanmetrics_table.c). What reaches
 * the metrics exporters is a live tg_metric_source (core/tg_metric_source.h), announced
 * once at start; exporters collect from it on the loop thread when they scrape or push.
 *
 * The processor counts a batch only after downstream took it: on TG_EAGAIN the client
 * retries, and counting first would count those spans twice. So consume resolves each
 * span's series first (into a reused scratch array), pushes, and then commits.
 *
 * Flushes: every metrics_flush_interval the producer closes an interval and tells the
 * consumers that subscribed (the OTLP exporters, tg_metric_source.h), and once more at
 * stop; with delta temporality the table then moves its counts to the closed interval
 * and restarts from zero, so each consumer sends each span exactly once.
 *
 * Cardinality: the table holds at most aggregation_cardinality_limit series and at most
 * max_series_per_service of them per service_name; past either bound a new label set
 * counts in the otel_metric_overflow="true" series and in
 * tailgate_spanmetrics_overflow_spans_total. Each bound is announced by one warning (the
 * limit, the config key and the first label set that did not fit), never per span. */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "spanmetrics_conf.h"
#include "spanmetrics_table.h"
#include "spanmetrics_wire.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_service.h"

enum { DIM_SERVICE, DIM_SPAN_NAME, DIM_KIND, DIM_STATUS, N_DEFAULT_DIMS };
#define MAX_LABELS (N_DEFAULT_DIMS + 32)
#define MAX_SUBSCRIBERS 8

static const char *const default_dim_names[N_DEFAULT_DIMS] = {"service.name", "span.name",
                                                              "span.kind", "status.code"};
#define SM_KIND_NAMES(X)                                                                   \
  X("SPAN_KIND_UNSPECIFIED") X("SPAN_KIND_INTERNAL") X("SPAN_KIND_SERVER")                  \
  X("SPAN_KIND_CLIENT") X("SPAN_KIND_PRODUCER") X("SPAN_KIND_CONSUMER")
#define SM_STATUS_NAMES(X) X("STATUS_CODE_UNSET") X("STATUS_CODE_OK") X("STATUS_CODE_ERROR")
#define SM_NAME(s) s,
#define SM_LEN(s) sizeof s - 1,
static const char *const kind_names[] = {SM_KIND_NAMES(SM_NAME)};
static const char *const status_names[] = {SM_STATUS_NAMES(SM_NAME)};
/* their lengths, so that the per-span wire path takes no strlen */
static const size_t kind_lens[] = {SM_KIND_NAMES(SM_LEN)};
static const size_t status_lens[] = {SM_STATUS_NAMES(SM_LEN)};

/* One span resolved to its series, waiting for downstream to take the batch. */
typedef struct pending_obs {
  tg_sm_series *series;
  double value;
  uint64_t end_unix_nano;
  uint8_t trace_id[16];
  uint8_t span_id[8];
  int has_ids, overflow;
} pending_obs;

typedef struct sm_state {
  tg_instance *self;
  const tg_spanmetrics_conf *conf;
  int is_processor;
  tg_sm_table *table;
  /* label i: which default dimension (0..3) or extra dimension (4..) */
  int label_source[MAX_LABELS];
  char *label_names[MAX_LABELS];
  const char *label_otel[MAX_LABELS];
  int label_where[MAX_LABELS];
  size_t n_labels;
  double *bounds;
  size_t n_bounds;
  double ns_per_unit;
  char *calls_name, *duration_name;
  char *calls_otel, *duration_otel;
  struct {
    tg_metric_flush_fn fn;
    void *ctx;
  } subs[MAX_SUBSCRIBERS];
  size_t n_subs;
  uv_timer_t flush_timer;
  int flush_live;
  int closing; /* handles still closing at stop */
  tg_mfamily calls, duration;
  tg_metric_source source;
  uv_timer_t timer;
  int timer_live;
  tg_stop_done_fn stop_done;
  pending_obs *pending;
  size_t cap_pending;
  tg_metric_cell *m_overflow, *m_series, *m_dropped;
  tg_metric_cell *m_services[TG_SM_SERVICE_BUCKETS + 1]; /* cumulative by series_le */
  size_t service_label, span_label; /* label indexes, SIZE_MAX when excluded */
  int warned_limit, warned_service;
} sm_state;

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*, label names without ':'. Others become '_'
 * and a leading digit gets "key_" (the Collector's Prometheus translation). */
static char *prom_name(const char *in, const char *suffix, int label) {
  size_t n = strlen(in), sn = suffix ? strlen(suffix) : 0;
  char *out = tg_malloc(n + sn + 5);
  if (!out)
    return NULL;
  size_t k = 0;
  if (n && in[0] >= '0' && in[0] <= '9') {
    memcpy(out, "key_", 4);
    k = 4;
  }
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || (!label && c == ':');
    out[k++] = ok ? c : '_';
  }
  if (suffix) {
    if (k && sn) {
      memcpy(out + k, suffix, sn);
      k += sn;
    } else if (sn) { /* empty namespace: no leading '_' */
      memcpy(out + k, suffix + 1, sn - 1);
      k += sn - 1;
    }
  }
  out[k] = '\0';
  return out;
}

static int excluded(const tg_spanmetrics_conf *c, const char *name) {
  for (size_t i = 0; i < c->exclude_dimensions.n; i++)
    if (!strcmp(c->exclude_dimensions.items[i], name))
      return 1;
  return 0;
}

static int sm_collect(const tg_metric_source *src, const tg_metric_visitor *v) {
  sm_state *st = src->ctx;
  tg_service *svc = st->self->service;
  return tg_sm_table_collect(st->table, &st->calls,
                          st->conf->histogram_disable ? NULL : &st->duration,
                          svc ? svc->kept : NULL, tg_clock_mono_ms(), v);
}

static void *sm_open(const tg_metric_source *src) {
  sm_state *st = src->ctx;
  return tg_sm_table_cursor_open(st->table);
}

static int sm_next(const tg_metric_source *src, void *cursor, const tg_metric_visitor *v,
                   size_t max_points, int *done) {
  sm_state *st = src->ctx;
  tg_service *svc = st->self->service;
  return tg_sm_table_cursor_next(st->table, cursor, &st->calls,
                                 st->conf->histogram_disable ? NULL : &st->duration,
                                 svc ? svc->kept : NULL, tg_clock_mono_ms(), v, max_points,
                                 done);
}

static void sm_close(const tg_metric_source *src, void *cursor) {
  sm_state *st = src->ctx;
  tg_sm_table_cursor_close(st->table, cursor);
}

/* The series gauges: total, and services by how many series they hold (cumulative). */
static void update_series_metrics(sm_state *st) {
  tg_metric_set(st->m_series, (int64_t)tg_sm_table_size(st->table));
  size_t hist[TG_SM_SERVICE_BUCKETS + 1];
  tg_sm_table_services(st->table, hist);
  int64_t cum = 0;
  for (size_t b = 0; b <= TG_SM_SERVICE_BUCKETS; b++) {
    cum += (int64_t)hist[b];
    tg_metric_set(st->m_services[b], cum);
  }
}

/* The one warning per bound (kind 1: the table's limit, 2: a service's share). */
static void note_overflow(sm_state *st, int kind, const char *const *values,
                          const size_t *lens) {
  int *warned = kind == 1 ? &st->warned_limit : &st->warned_service;
  tg_service *svc = st->self->service;
  if (*warned || !svc || !svc->log)
    return;
  *warned = 1;
  const char *sv = "", *sp = "";
  int svl = 0, spl = 0;
  if (st->service_label != SIZE_MAX && values[st->service_label]) {
    sv = values[st->service_label];
    svl = (int)(lens ? lens[st->service_label] : strlen(sv));
  }
  if (st->span_label != SIZE_MAX && values[st->span_label]) {
    sp = values[st->span_label];
    spl = (int)(lens ? lens[st->span_label] : strlen(sp));
  }
  svl = svl > 200 ? 200 : svl;
  spl = spl > 200 ? 200 : spl;
  const tg_spanmetrics_conf *c = st->conf;
  if (kind == 1)
    TG_LOG_WARN(svc->log, st->self->id,
                "span metrics reached aggregation_cardinality_limit (%zu series): new label "
                "sets now count in the otel_metric_overflow=\"true\" series and in "
                "tailgate_spanmetrics_overflow_spans_total (first: service_name=\"%.*s\" "
                "span_name=\"%.*s\"); raise %s: aggregation_cardinality_limit, or keep IDs "
                "out of span names. Logged once.",
                tg_spanmetrics_limit(c), svl, sv, spl, sp, st->self->id);
  else
    TG_LOG_WARN(svc->log, st->self->id,
                "service_name=\"%.*s\" reached max_series_per_service (%zu series): its new "
                "label sets now count in the otel_metric_overflow=\"true\" series "
                "(first: span_name=\"%.*s\"); raise %s: max_series_per_service. Logged once "
                "for all services.",
                svl, sv, tg_spanmetrics_per_service_limit(c), spl, sp, st->self->id);
}

static void sm_destroy(tg_instance *self) {
  sm_state *st = self->state;
  if (!st)
    return;
  tg_sm_table_free(st->table);
  for (size_t i = 0; i < st->n_labels; i++)
    tg_free(st->label_names[i]);
  tg_free(st->bounds);
  tg_free(st->calls_name);
  tg_free(st->duration_name);
  tg_free(st->calls_otel);
  tg_free(st->duration_otel);
  tg_free(st->pending);
  tg_free(st);
  self->state = NULL;
}

static int sm_subscribe(const tg_metric_source *src, tg_metric_flush_fn fn, void *ctx) {
  sm_state *st = src->ctx;
  if (st->n_subs == MAX_SUBSCRIBERS)
    return TG_ETOOBIG;
  st->subs[st->n_subs].fn = fn;
  st->subs[st->n_subs].ctx = ctx;
  st->n_subs++;
  return TG_OK;
}

/* Closes an interval (delta: the table's counts move to it) and tells the subscribers. */
static void flush_now(sm_state *st) {
  tg_sm_table_flush(st->table, tg_clock_unix_nano());
  for (size_t i = 0; i < st->n_subs; i++)
    st->subs[i].fn(st->subs[i].ctx, &st->source);
}

static void on_flush(uv_timer_t *timer) { flush_now(timer->data); }

static int sm_create_common(tg_instance *self, int is_processor, tg_errbuf *err) {
  const tg_spanmetrics_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "no configuration");
  if (is_processor && (!c->metrics_exporter || !c->metrics_exporter[0]))
    return tg_errf(err, TG_ECONFIG,
                   "metrics_exporter is required in the processor placement (the metrics "
                   "exporter to feed); or configure spanmetrics under connectors:");
  if (!is_processor && c->metrics_exporter)
    return tg_errf(err, TG_ECONFIG,
                   "metrics_exporter is for the processor placement; a connector feeds the "
                   "metrics pipelines that list it as a receiver");
  sm_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  self->state = st;
  st->self = self;
  st->conf = c;
  st->is_processor = is_processor;
  for (int d = 0; d < N_DEFAULT_DIMS; d++) {
    if (excluded(c, default_dim_names[d]))
      continue;
    st->label_source[st->n_labels] = d;
    st->label_otel[st->n_labels] = default_dim_names[d];
    st->label_where[st->n_labels] = d == DIM_SERVICE ? TG_MLABEL_BOTH : TG_MLABEL_POINT;
    st->label_names[st->n_labels++] = prom_name(default_dim_names[d], NULL, 1);
  }
  for (size_t i = 0; i < c->dimensions.n && st->n_labels < MAX_LABELS; i++) {
    st->label_source[st->n_labels] = N_DEFAULT_DIMS + (int)i;
    st->label_otel[st->n_labels] = c->dimensions.names[i];
    st->label_where[st->n_labels] = TG_MLABEL_POINT;
    st->label_names[st->n_labels++] = prom_name(c->dimensions.names[i], NULL, 1);
  }
  /* resource_metrics_key_attributes: label sources after the dimensions, read from the
   * resource only; in OTLP they are attributes of the resource, not of the points */
  for (size_t i = 0; i < c->resource_key_attributes.n && st->n_labels < MAX_LABELS; i++) {
    st->label_source[st->n_labels] = N_DEFAULT_DIMS + (int)(c->dimensions.n + i);
    st->label_otel[st->n_labels] = c->resource_key_attributes.items[i];
    st->label_where[st->n_labels] = TG_MLABEL_RESOURCE;
    st->label_names[st->n_labels++] = prom_name(c->resource_key_attributes.items[i], NULL, 1);
  }
  for (size_t i = 0; i < st->n_labels; i++) {
    if (!st->label_names[i]) {
      sm_destroy(self);
      return tg_errf(err, TG_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(st->label_names[i], st->label_names[j])) {
        tg_errf(err, TG_ECONFIG, "dimensions: two dimensions map to the label \"%s\"",
                st->label_names[i]);
        sm_destroy(self);
        return TG_ECONFIG;
      }
    if (!strcmp(st->label_names[i], "otel_metric_overflow") || !strcmp(st->label_names[i], "le")) {
      tg_errf(err, TG_ECONFIG, "dimensions: \"%s\" is a reserved label", st->label_names[i]);
      sm_destroy(self);
      return TG_ECONFIG;
    }
  }
  if (!st->n_labels) {
    sm_destroy(self);
    return tg_errf(err, TG_ECONFIG, "every dimension is excluded: nothing to aggregate by");
  }
  int seconds = c->histogram_unit == TG_SPANMETRICS_UNIT_S;
  st->ns_per_unit = seconds ? 1e9 : 1e6;
  const double *ms = c->buckets.n ? c->buckets.ms : tg_spanmetrics_default_buckets_ms;
  st->n_bounds = c->buckets.n ? c->buckets.n : 16;
  st->bounds = tg_calloc(st->n_bounds, sizeof *st->bounds);
  const char *ns = c->namespace_ ? c->namespace_ : "";
  st->calls_name = prom_name(ns, "_calls", 0);
  st->duration_name = prom_name(ns, seconds ? "_duration_seconds" : "_duration_milliseconds", 0);
  /* OTLP names as the Collector's connector writes them: "<namespace>.calls" */
  size_t nsl = strlen(ns);
  st->calls_otel = tg_malloc(nsl + sizeof ".duration");
  st->duration_otel = tg_malloc(nsl + sizeof ".duration");
  if (st->calls_otel && st->duration_otel) {
    snprintf(st->calls_otel, nsl + sizeof ".duration", "%s%s", ns, nsl ? ".calls" : "calls");
    snprintf(st->duration_otel, nsl + sizeof ".duration", "%s%s", ns,
             nsl ? ".duration" : "duration");
  }
  if (!st->bounds || !st->calls_name || !st->duration_name || !st->calls_otel ||
      !st->duration_otel) {
    sm_destroy(self);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < st->n_bounds; i++)
    st->bounds[i] = seconds ? ms[i] / 1000.0 : ms[i];
  st->calls = (tg_mfamily){.name = st->calls_name,
                           .help = "Spans counted by service, operation, kind and status.",
                           .kind = TG_MKIND_COUNTER,
                           .otel_name = st->calls_otel};
  st->duration = (tg_mfamily){.name = st->duration_name,
                              .help = seconds ? "Span durations in seconds."
                                              : "Span durations in milliseconds.",
                              .kind = c->exponential ? TG_MKIND_EXP_HISTOGRAM
                                                     : TG_MKIND_HISTOGRAM,
                              .bounds = c->exponential ? NULL : st->bounds,
                              .n_bounds = c->exponential ? 0 : st->n_bounds,
                              .otel_name = st->duration_otel,
                              .unit = seconds ? "s" : "ms"};
  st->service_label = st->span_label = SIZE_MAX;
  for (size_t i = 0; i < st->n_labels; i++) {
    if (st->label_source[i] == DIM_SERVICE)
      st->service_label = i;
    if (st->label_source[i] == DIM_SPAN_NAME)
      st->span_label = i;
  }
  tg_sm_table_conf tc = {.label_names = (const char *const *)st->label_names,
                      .n_labels = st->n_labels,
                      .bounds = st->bounds,
                      .n_bounds = c->exponential ? 0 : st->n_bounds,
                      .label_otel_names = st->label_otel,
                      .label_where = st->label_where,
                      .exp_max_size = c->exponential ? (uint32_t)c->exponential_max_size : 0,
                      .delta = c->temporality == TG_SPANMETRICS_DELTA,
                      .timestamp_cache_size = (size_t)c->delta_timestamp_cache_size,
                      .max_candidates = (unsigned)c->exemplars_max_per_point,
                      .limit = tg_spanmetrics_limit(c),
                      .service_label = st->service_label,
                      .per_service_limit = tg_spanmetrics_per_service_limit(c),
                      .exemplars = c->exemplars_enabled,
                      .candidate_ttl_ms = c->exemplar_candidate_ttl_ms};
  st->table = tg_sm_table_new(&tc);
  if (!st->table) {
    sm_destroy(self);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  st->source = (tg_metric_source){.name = self->id,
                                  .flush_interval_ms = c->flush_interval_ms,
                                  .delta = c->temporality == TG_SPANMETRICS_DELTA,
                                  .exponential = c->exponential && !c->histogram_disable,
                                  .subscribe = sm_subscribe,
                                  .collect = sm_collect,
                                  .ctx = st,
                                  .open = sm_open,
                                  .next = sm_next,
                                  .close = sm_close};
  return TG_OK;
}

static int sm_create_processor(tg_instance *self, tg_errbuf *err) {
  return sm_create_common(self, 1, err);
}
static int sm_create_connector(tg_instance *self, tg_errbuf *err) {
  return sm_create_common(self, 0, err);
}

static void on_tick(uv_timer_t *timer) {
  sm_state *st = timer->data;
  tg_sm_table_expire(st->table, tg_clock_mono_ms(), st->conf->expiration_ms);
  update_series_metrics(st);
}

/* Hands the source to one metrics consumer (an announcement batch without spans). */
static int announce(sm_state *st, const tg_consumer *to, tg_errbuf *err) {
  tg_batch *b = tg_batch_new(256, 0);
  if (!b)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  b->metrics = &st->source;
  int rc = tg_consumer_push(to, b);
  if (rc == TG_EAGAIN)
    tg_batch_free(b);
  if (rc != TG_OK)
    return tg_errf(err, rc, "the metrics consumer refused the source: %s", tg_strerror(rc));
  return TG_OK;
}

static int announce_to_exporter(sm_state *st, tg_errbuf *err);

static int sm_start(tg_instance *self, tg_errbuf *err) {
  sm_state *st = self->state;
  tg_service *svc = self->service;
  if (svc && svc->metrics) {
    const char *const lbl[] = {"component", NULL};
    const char *val[] = {self->id};
    st->m_overflow = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_spanmetrics_overflow_spans_total",
                          "Spans counted in the otel_metric_overflow series because the "
                          "aggregation_cardinality_limit was reached.",
                          TG_METRIC_COUNTER, lbl),
        val);
    st->m_series = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_spanmetrics_series",
                          "Series held by span metrics (overflow series included).",
                          TG_METRIC_GAUGE, lbl),
        val);
    st->m_dropped = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_spanmetrics_uncounted_spans_total",
                          "Spans span metrics could not count (out of memory).",
                          TG_METRIC_COUNTER, lbl),
        val);
    const char *const lbl2[] = {"component", "series_le", NULL};
    tg_metric_family *fam = tg_metrics_family(
        svc->metrics, "tailgate_spanmetrics_services",
        "Services (service_name values) holding span-metrics series, by how many they hold "
        "(cumulative: at most series_le).",
        TG_METRIC_GAUGE, lbl2);
    for (size_t b = 0; b <= TG_SM_SERVICE_BUCKETS; b++) {
      char le[24];
      if (b < TG_SM_SERVICE_BUCKETS)
        snprintf(le, sizeof le, "%zu", tg_sm_service_bucket_bounds[b]);
      else
        snprintf(le, sizeof le, "+Inf");
      const char *v2[] = {self->id, le};
      st->m_services[b] = tg_metrics_series(fam, v2);
    }
  }
  int rc = st->is_processor ? announce_to_exporter(st, err) : announce(st, &self->next, err);
  if (rc == TG_OK && st->source.delta && !st->n_subs)
    rc = tg_errf(err, TG_ECONFIG, "aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA needs "
                 "an exporter that sends OTLP metrics (otlp, otlphttp)");
  if (rc == TG_OK && st->n_subs && svc && svc->loop) {
    uv_timer_init(svc->loop, &st->flush_timer);
    st->flush_timer.data = st;
    st->flush_live = 1;
    uv_timer_start(&st->flush_timer, on_flush, st->conf->flush_interval_ms,
                   st->conf->flush_interval_ms);
  }
  /* the timer last: a start that fails leaves no handle to close (stop is not called) */
  if (rc == TG_OK && st->conf->expiration_ms && svc && svc->loop) {
    uint64_t every = st->conf->expiration_ms < 1000 ? st->conf->expiration_ms : 1000;
    if (every < 100)
      every = 100;
    uv_timer_init(svc->loop, &st->timer);
    st->timer.data = st;
    st->timer_live = 1;
    uv_timer_start(&st->timer, on_tick, every, every);
  }
  return rc;
}

/* Processor placement: the exporter named by metrics_exporter, among the instances. */
static int announce_to_exporter(sm_state *st, tg_errbuf *err) {
  tg_service *svc = st->self->service;
  for (size_t i = 0; svc; i++) {
    tg_instance *inst = tg_service_instance(svc, i);
    if (!inst)
      break;
    if (inst->component->kind != TG_EXPORTER || strcmp(inst->id, st->conf->metrics_exporter))
      continue;
    if (!(inst->component->signals & TG_SIGNAL_METRICS))
      return tg_errf(err, TG_ECONFIG, "metrics_exporter: exporter %s does not take metrics",
                     inst->id);
    tg_consumer to = tg_instance_consumer(inst);
    return announce(st, &to, err);
  }
  return tg_errf(err, TG_ECONFIG,
                 "metrics_exporter: exporter \"%s\" is not in any metrics pipeline (add a "
                 "`metrics` pipeline with exporters: [%s])",
                 st->conf->metrics_exporter, st->conf->metrics_exporter);
}

static const char *attr_string(const tg_any_value *v, char *buf, size_t size) {
  if (!v)
    return NULL;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    return v->string_value ? v->string_value : "";
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    return v->bool_value ? "true" : "false";
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    snprintf(buf, size, "%lld", (long long)v->int_value);
    return buf;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    snprintf(buf, size, "%.17g", v->double_value);
    return buf;
  default:
    return NULL; /* arrays, maps, bytes: treated as missing */
  }
}

static const tg_any_value *find_attr(tg_key_value **attrs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (attrs[i] && attrs[i]->key && !strcmp(attrs[i]->key, key))
      return attrs[i]->value;
  return NULL;
}

static int grow_pending(sm_state *st, size_t need) {
  if (need <= st->cap_pending)
    return 0;
  size_t cap = st->cap_pending * 2 > need ? st->cap_pending * 2 : need;
  pending_obs *p = tg_realloc(st->pending, cap * sizeof *p);
  if (!p)
    return -1;
  st->pending = p;
  st->cap_pending = cap;
  return 0;
}

/* ---- spans still in wire form (tg_batch.h), read without decoding ---- */

typedef struct wire_ctx {
  sm_state *st;
  uint64_t now_ms;
  size_t n;
  tg_sm_bytes resource; /* cached: spans of one segment share it */
  tg_sm_bytes service;
  char service_buf[32];
} wire_ctx;

static int wire_span(void *vctx, const tg_sm_wire_span *span) {
  wire_ctx *w = vctx;
  sm_state *st = w->st;
  const tg_spanmetrics_conf *c = st->conf;
  if (span->resource.p != w->resource.p || !w->service.p) {
    w->resource = span->resource;
    if (!tg_sm_wire_attr(span->resource, 1, "service.name", 12, &w->service, w->service_buf,
                         sizeof w->service_buf))
      w->service = (tg_sm_bytes){(const uint8_t *)"unknown_service", 15};
    /* as the other values below (absent: "", cut at an embedded NUL), once per resource
     * rather than once per span */
    if (!w->service.p)
      w->service = (tg_sm_bytes){(const uint8_t *)"", 0};
    const uint8_t *nul = memchr(w->service.p, 0, w->service.len);
    if (nul)
      w->service.len = (size_t)(nul - w->service.p);
  }
  if (grow_pending(st, w->n + 1))
    return -1;
  const char *values[MAX_LABELS];
  size_t lens[MAX_LABELS];
  char numbuf[MAX_LABELS][32];
  for (size_t l = 0; l < st->n_labels; l++) {
    int src = st->label_source[l];
    tg_sm_bytes v = {0};
    switch (src) {
    case DIM_SERVICE: /* never NULL, already cut at a NUL */
      values[l] = (const char *)w->service.p;
      lens[l] = w->service.len;
      continue;
    case DIM_SPAN_NAME:
      v = span->name.p ? span->name : (tg_sm_bytes){(const uint8_t *)"", 0};
      break;
    case DIM_KIND: { /* our names: no NUL inside, so no memchr below */
      uint32_t i = span->kind < 6 ? span->kind : 0;
      values[l] = kind_names[i];
      lens[l] = kind_lens[i];
      continue;
    }
    case DIM_STATUS: {
      uint32_t i = span->status_code < 3 ? span->status_code : 0;
      values[l] = status_names[i];
      lens[l] = status_lens[i];
      continue;
    }
    default: {
      size_t d = (size_t)(src - N_DEFAULT_DIMS);
      if (d >= c->dimensions.n) { /* a resource key attribute: the resource only */
        const char *key = c->resource_key_attributes.items[d - c->dimensions.n];
        if (!tg_sm_wire_attr(span->resource, 1, key, strlen(key), &v, numbuf[l],
                             sizeof numbuf[l]))
          v = (tg_sm_bytes){0};
        break;
      }
      const char *key = c->dimensions.names[d];
      size_t kl = strlen(key);
      if (!tg_sm_wire_attr(span->msg, 9, key, kl, &v, numbuf[l], sizeof numbuf[l]) &&
          !tg_sm_wire_attr(span->resource, 1, key, kl, &v, numbuf[l], sizeof numbuf[l])) {
        const char *def = c->dimensions.defaults[d];
        v = def ? (tg_sm_bytes){(const uint8_t *)def, strlen(def)} : (tg_sm_bytes){0};
      }
    }
    }
    /* as decoded strings do (protobuf-c), a value ends at an embedded NUL */
    const uint8_t *nul = v.p ? memchr(v.p, 0, v.len) : NULL;
    values[l] = (const char *)v.p;
    lens[l] = nul ? (size_t)(nul - v.p) : v.len;
    if (!v.p && (src == DIM_SPAN_NAME || src < N_DEFAULT_DIMS))
      values[l] = "";
  }
  pending_obs *o = &st->pending[w->n];
  o->series = tg_sm_table_lookup(st->table, values, lens, w->now_ms, &o->overflow);
  if (o->overflow)
    note_overflow(st, o->overflow, values, lens);
  if (!o->series) {
    tg_metric_add(st->m_dropped, 1);
    return 0;
  }
  uint64_t dur = span->end_unix_nano > span->start_unix_nano
                     ? span->end_unix_nano - span->start_unix_nano
                     : 0;
  o->value = (double)dur / st->ns_per_unit;
  o->end_unix_nano = span->end_unix_nano;
  o->has_ids = span->trace_id.len == 16;
  if (o->has_ids) {
    memcpy(o->trace_id, span->trace_id.p, 16);
    if (span->span_id.len == 8)
      memcpy(o->span_id, span->span_id.p, 8);
    else
      memset(o->span_id, 0, 8);
  }
  w->n++;
  return 0;
}

/* Resolves every span of the batch (decoded tree, then wire segments) to its series into
 * st->pending. Returns the count or -1 on ENOMEM / an unreadable segment. */
static long resolve_batch(sm_state *st, tg_batch *batch, uint64_t now_ms) {
  if (st->cap_pending < batch->span_count) {
    pending_obs *p = tg_realloc(st->pending, batch->span_count * sizeof *p);
    if (!p)
      return -1;
    st->pending = p;
    st->cap_pending = batch->span_count;
  }
  const tg_spanmetrics_conf *c = st->conf;
  const char *values[MAX_LABELS];
  char numbuf[MAX_LABELS][32];
  size_t n = 0;
  const tg_export_request *req = &batch->request;
  for (size_t r = 0; r < req->n_resource_spans; r++) {
    const tg_resource_spans *rs = req->resource_spans[r];
    tg_key_value **rattrs = rs->resource ? rs->resource->attributes : NULL;
    size_t n_rattrs = rs->resource ? rs->resource->n_attributes : 0;
    char svcbuf[32];
    const char *service = attr_string(find_attr(rattrs, n_rattrs, "service.name"), svcbuf,
                                      sizeof svcbuf);
    if (!service)
      service = "unknown_service";
    for (size_t s = 0; s < rs->n_scope_spans; s++) {
      const tg_scope_spans *ss = rs->scope_spans[s];
      for (size_t k = 0; k < ss->n_spans; k++) {
        const tg_span *span = ss->spans[k];
        if (n >= st->cap_pending) { /* span_count was stale: grow */
          pending_obs *p = tg_realloc(st->pending, (st->cap_pending * 2 + 16) * sizeof *p);
          if (!p)
            return -1;
          st->pending = p;
          st->cap_pending = st->cap_pending * 2 + 16;
        }
        for (size_t l = 0; l < st->n_labels; l++) {
          int src = st->label_source[l];
          switch (src) {
          case DIM_SERVICE:
            values[l] = service;
            break;
          case DIM_SPAN_NAME:
            values[l] = span->name ? span->name : "";
            break;
          case DIM_KIND:
            values[l] = (unsigned)span->kind < 6 ? kind_names[span->kind] : kind_names[0];
            break;
          case DIM_STATUS: {
            unsigned code = span->status ? (unsigned)span->status->code : 0;
            values[l] = code < 3 ? status_names[code] : status_names[0];
            break;
          }
          default: {
            size_t d = (size_t)(src - N_DEFAULT_DIMS);
            if (d >= c->dimensions.n) { /* a resource key attribute: the resource only */
              values[l] = attr_string(find_attr(rattrs, n_rattrs,
                                                c->resource_key_attributes
                                                    .items[d - c->dimensions.n]),
                                      numbuf[l], sizeof numbuf[l]);
              break;
            }
            const tg_any_value *v = find_attr(span->attributes, span->n_attributes,
                                              c->dimensions.names[d]);
            if (!v)
              v = find_attr(rattrs, n_rattrs, c->dimensions.names[d]);
            values[l] = attr_string(v, numbuf[l], sizeof numbuf[l]);
            if (!values[l])
              values[l] = c->dimensions.defaults[d];
          }
          }
        }
        pending_obs *o = &st->pending[n];
        o->series = tg_sm_table_lookup(st->table, values, NULL, now_ms, &o->overflow);
        if (o->overflow)
          note_overflow(st, o->overflow, values, NULL);
        if (!o->series) {
          tg_metric_add(st->m_dropped, 1);
          continue;
        }
        uint64_t dur = span->end_time_unix_nano > span->start_time_unix_nano
                           ? span->end_time_unix_nano - span->start_time_unix_nano
                           : 0;
        o->value = (double)dur / st->ns_per_unit;
        o->end_unix_nano = span->end_time_unix_nano;
        o->has_ids = span->trace_id.len == 16;
        if (o->has_ids) {
          memcpy(o->trace_id, span->trace_id.data, 16);
          if (span->span_id.len == 8)
            memcpy(o->span_id, span->span_id.data, 8);
          else
            memset(o->span_id, 0, 8);
        }
        n++;
      }
    }
  }
  wire_ctx w = {.st = st, .now_ms = now_ms, .n = n};
  for (size_t i = 0; i < batch->n_wire; i++)
    if (tg_sm_wire_each_span(batch->wire[i].data, batch->wire[i].len, wire_span, &w))
      return -1;
  return (long)w.n;
}

static void commit(sm_state *st, size_t n, uint64_t now_ms) {
  int64_t overflow = 0;
  for (size_t i = 0; i < n; i++) {
    const pending_obs *o = &st->pending[i];
    tg_sm_table_observe(st->table, o->series, o->value, o->has_ids ? o->trace_id : NULL,
                     o->has_ids ? o->span_id : NULL, o->end_unix_nano, now_ms);
    overflow += o->overflow != 0;
  }
  tg_metric_add(st->m_overflow, overflow);
  update_series_metrics(st);
}

static int sm_consume(tg_instance *self, tg_batch *batch) {
  sm_state *st = self->state;
  uint64_t now_ms = tg_clock_mono_ms();
  long n = resolve_batch(st, batch, now_ms); /* reads wire segments in place */
  if (n < 0)
    tg_metric_add(st->m_dropped, (int64_t)batch->span_count);
  if (!st->is_processor) {
    if (n > 0)
      commit(st, (size_t)n, now_ms);
    tg_batch_free(batch);
    return TG_OK;
  }
  int rc = tg_consumer_push(&self->next, batch);
  if (rc != TG_EAGAIN && n > 0)
    commit(st, (size_t)n, now_ms);
  return rc;
}

static void on_timer_closed(uv_handle_t *h) {
  sm_state *st = h->data;
  if (h == (uv_handle_t *)&st->timer)
    st->timer_live = 0;
  else
    st->flush_live = 0;
  if (--st->closing)
    return;
  tg_stop_done_fn done = st->stop_done;
  st->stop_done = NULL;
  if (done)
    done(st->self);
}

static void sm_stop(tg_instance *self, tg_stop_done_fn done) {
  sm_state *st = self->state;
  if (st && st->flush_live) /* the last interval, while the exporters still take it */
    flush_now(st);
  if (!st || (!st->timer_live && !st->flush_live)) {
    done(self);
    return;
  }
  st->stop_done = done;
  st->closing = st->timer_live + st->flush_live;
  if (st->timer_live) {
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, on_timer_closed);
  }
  if (st->flush_live) {
    uv_timer_stop(&st->flush_timer);
    uv_close((uv_handle_t *)&st->flush_timer, on_timer_closed);
  }
}

static unsigned sm_traits(const void *conf) {
  const tg_spanmetrics_conf *c = conf;
  return (c->temporality == TG_SPANMETRICS_DELTA ? TG_MTRAIT_DELTA : 0) |
         (c->exponential && !c->histogram_disable ? TG_MTRAIT_EXPONENTIAL : 0);
}

#define SM_DESCRIPTOR(sym, kind_, create_fn, doc_)                                     \
  const tg_component sym = {                                                         \
      .abi = TG_COMPONENT_ABI,                                                       \
      .kind = kind_,                                                                 \
      .type = "spanmetrics",                                                         \
      .signals = TG_SIGNAL_TRACES,                                                   \
      .out_signals = kind_ == TG_CONNECTOR ? TG_SIGNAL_METRICS : 0,                  \
      .reads_spans = 0, /* reads wire segments itself: batches stay undecoded */     \
      .conf_size = sizeof(tg_spanmetrics_conf),                                      \
      .keys = tg_spanmetrics_conf_keys,                                              \
      .n_keys = TG_SPANMETRICS_CONF_N_KEYS,                                          \
      .conf_check = tg_spanmetrics_conf_check,                                       \
      .metric_traits = sm_traits,                                                    \
      .ops = {.create = create_fn, .start = sm_start, .consume = sm_consume,          \
              .stop = sm_stop, .destroy = sm_destroy},                               \
      .doc = doc_,                                                                   \
  }

SM_DESCRIPTOR(tg_connector_spanmetrics, TG_CONNECTOR, sm_create_connector,
              "RED metrics (traces_span_metrics_calls_total, _duration_milliseconds) from "
              "every span; traces in, metrics out");
SM_DESCRIPTOR(tg_processor_spanmetrics, TG_PROCESSOR, sm_create_processor,
              "RED metrics from every span, passing spans through; metrics go to "
              "metrics_exporter");
