/* Key table of spanmetrics. The two list-shaped keys (`dimensions`, explicit buckets)
 * have custom parsers that keep each item's position for messages; every other key is a
 * plain table row, so unknown keys and bad values get the loader's usual messages. */
#include "spanmetrics_conf.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_yaml.h"

const double tg_spanmetrics_default_buckets_ms[16] = {
    2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000};

static const char *const units[] = {"ms", "s", NULL};
/* Indexes match TG_SPANMETRICS_CUMULATIVE / _DELTA. */
static const char *const temporalities[] = {"AGGREGATION_TEMPORALITY_CUMULATIVE",
                                            "AGGREGATION_TEMPORALITY_DELTA", NULL};

/* ---- dimensions: [{name: x, default: y}, ...] ---- */

typedef struct dim_item {
  char *name;
  char *def;
} dim_item;

static const tg_conf_key dim_keys[] = {
    TG_KEY_STRING("name", dim_item, name, NULL, "span or resource attribute name"),
    TG_KEY_STRING("default", dim_item, def, NULL, "value when the attribute is missing"),
};

static void free_dims(void *field) {
  tg_spanmetrics_dims *d = field;
  for (size_t i = 0; i < d->n; i++) {
    tg_free(d->names[i]);
    tg_free(d->defaults[i]);
  }
  tg_free(d->names);
  tg_free(d->defaults);
  memset(d, 0, sizeof *d);
}

static void parse_dims(const tg_yaml_node *node, void *field, tg_diag *diag) {
  tg_spanmetrics_dims *d = field;
  if (node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_SEQ) {
    tg_diag_add(diag, &node->pos, "spanmetrics: dimensions: expected a sequence of "
                "{name, default} mappings, got %s", node->kind == TG_YAML_MAP ? "a mapping"
                : "a scalar");
    return;
  }
  if (!node->n)
    return;
  d->names = tg_calloc(node->n, sizeof *d->names);
  d->defaults = tg_calloc(node->n, sizeof *d->defaults);
  if (!d->names || !d->defaults) {
    tg_diag_add(diag, &node->pos, "spanmetrics: dimensions: out of memory");
    return;
  }
  for (size_t i = 0; i < node->n; i++) {
    const tg_yaml_node *item = node->items[i];
    char what[64];
    snprintf(what, sizeof what, "spanmetrics: dimensions[%zu]", i);
    if (item->kind != TG_YAML_MAP) {
      tg_diag_add(diag, &item->pos, "%s: expected a mapping with name (and default)", what);
      continue;
    }
    dim_item di = {0};
    size_t before = tg_diag_count(diag);
    tg_conf_apply(dim_keys, 2, item, &di, what, diag);
    if (tg_diag_count(diag) == before && (!di.name || !di.name[0]))
      tg_diag_add(diag, &item->pos, "%s: name is required", what);
    for (size_t j = 0; di.name && j < d->n; j++)
      if (!strcmp(d->names[j], di.name))
        tg_diag_add(diag, &item->pos, "%s: \"%.100s\" is listed twice", what, di.name);
    if (tg_diag_count(diag) != before || !di.name) {
      tg_conf_release(dim_keys, 2, &di);
      continue;
    }
    d->names[d->n] = di.name;
    d->defaults[d->n] = di.def;
    d->n++;
  }
}

/* ---- histogram.explicit.buckets: [100us, 2ms, 10ms, 1s] ---- */

static void free_buckets(void *field) {
  tg_spanmetrics_buckets *b = field;
  tg_free(b->ms);
  b->ms = NULL;
  b->n = 0;
}

static void parse_buckets(const tg_yaml_node *node, void *field, tg_diag *diag) {
  tg_spanmetrics_buckets *b = field;
  if (node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_SEQ || node->n == 0) {
    tg_diag_add(diag, &node->pos, "spanmetrics: histogram.explicit.buckets: expected a "
                "non-empty sequence of durations (\"2ms\", \"1s\")");
    return;
  }
  if (node->n > 256) {
    tg_diag_add(diag, &node->pos, "spanmetrics: histogram.explicit.buckets: more than 256");
    return;
  }
  b->ms = tg_calloc(node->n, sizeof *b->ms);
  if (!b->ms) {
    tg_diag_add(diag, &node->pos, "spanmetrics: histogram.explicit.buckets: out of memory");
    return;
  }
  for (size_t i = 0; i < node->n; i++) {
    const tg_yaml_node *item = node->items[i];
    uint64_t ns;
    if (item->kind != TG_YAML_SCALAR || tg_conf_parse_duration_ns(item->scalar, &ns) || !ns) {
      tg_diag_add(diag, &item->pos, "spanmetrics: histogram.explicit.buckets[%zu]: expected "
                  "a positive duration (\"100us\", \"5ms\", \"1s\")", i);
      free_buckets(b);
      return;
    }
    /* ns / 1e6 is the nearest double to the exact millisecond value, so bounds written
     * the same way compare equal whatever unit spelled them ("1000us" == "1ms"). */
    double ms = (double)ns / 1e6;
    if (b->n && ms <= b->ms[b->n - 1]) {
      tg_diag_add(diag, &item->pos, "spanmetrics: histogram.explicit.buckets[%zu]: buckets "
                  "must be strictly ascending", i);
      free_buckets(b);
      return;
    }
    b->ms[b->n++] = ms;
  }
}

#define C tg_spanmetrics_conf
const tg_conf_key tg_spanmetrics_conf_keys[TG_SPANMETRICS_CONF_N_KEYS] = {
    TG_KEY_BOOL("histogram.disable", C, histogram_disable, "false",
                "no duration histogram (calls only)"),
    TG_KEY_ENUM("histogram.unit", C, histogram_unit, "ms", units,
                "duration unit: ms (…_duration_milliseconds) or s (…_duration_seconds)"),
    TG_KEY_CUSTOM("histogram.explicit.buckets", C, buckets, parse_buckets, free_buckets,
                  "bucket upper bounds as durations (default 2ms … 15s)"),
    TG_KEY_CUSTOM("dimensions", C, dimensions, parse_dims, free_dims,
                  "extra labels from span or resource attributes: [{name, default}]"),
    TG_KEY_STRLIST("exclude_dimensions", C, exclude_dimensions,
                   "default dimensions to leave out (service.name, span.name, span.kind, "
                   "status.code)"),
    TG_KEY_STRING("namespace", C, namespace_, "traces.span.metrics",
                  "metric name prefix (dots become underscores)"),
    TG_KEY_DURATION("metrics_flush_interval", C, flush_interval_ms, "60s", 100, 86400000,
                    "how often push exporters (remote write) send the series"),
    TG_KEY_DURATION("metrics_expiration", C, expiration_ms, "0", 0, 0,
                    "drop series not updated for this long (0 = never)"),
    TG_KEY_INT("aggregation_cardinality_limit", C, cardinality_limit, "0", 0,
               TG_SPANMETRICS_MAX_SERIES,
               "series kept; more fold into otel_metric_overflow=\"true\" (0 = 1000000)"),
    TG_KEY_INT("max_series_per_service", C, max_series_per_service, "0", 0,
               TG_SPANMETRICS_MAX_SERIES,
               "tailgate's own: series one service_name may hold, so one service cannot take "
               "the whole limit (0 = a tenth of the limit, at least 100)"),
    TG_KEY_BOOL("exemplars.enabled", C, exemplars_enabled, "false",
                "attach trace exemplars (only of kept traces) in OpenMetrics"),
    TG_KEY_DURATION("exemplars.candidate_ttl", C, exemplar_candidate_ttl_ms, "60s", 1000,
                    3600000, "how long a span waits for its trace's sampling decision"),
    TG_KEY_ENUM("aggregation_temporality", C, temporality,
                "AGGREGATION_TEMPORALITY_CUMULATIVE", temporalities,
                "CUMULATIVE (what Prometheus expects) or DELTA: counts since the previous "
                "flush, reset every metrics_flush_interval (OTLP exporters only)"),
    TG_KEY_PRESENT("histogram.exponential", C, exponential,
                   "base-2 exponential histogram instead of explicit buckets (OTLP exporters "
                   "only)"),
    TG_KEY_INT("histogram.exponential.max_size", C, exponential_max_size, "160", 4,
               TG_SPANMETRICS_EXP_MAX_SIZE,
               "most buckets per exponential histogram; the scale drops to fit"),
    TG_KEY_INT("exemplars.max_per_data_point", C, exemplars_max_per_point, "0", 0, 8,
               "exemplar candidates a series holds at once (0 = 8); at most one exemplar "
               "per bucket is shown"),
    TG_KEY_INT("delta_temporality.metric_timestamp_cache_size", C, delta_timestamp_cache_size,
               "10000", 1, 100000000,
               "delta: series whose last flush time is remembered (the Collector's LRU); "
               "one that forgot starts its next point at its first span, a reset"),
    TG_KEY_STRLIST("resource_metrics_key_attributes", C, resource_key_attributes,
                   "resource attributes that (with service.name) tell resources apart: "
                   "labels of every series, resource attributes in OTLP"),
    TG_KEY_INT("resource_metrics_cache_size", C, resource_metrics_cache_size, "1000", 0,
               100000000, "accepted for compatibility; the cardinality limit bounds memory"),
    TG_KEY_INT("dimensions_cache_size", C, dimensions_cache_size, "1000", 0, 100000000,
               "accepted for compatibility; the cardinality limit bounds memory"),
    TG_KEY_STRING("metrics_exporter", C, metrics_exporter, NULL,
                  "processor placement only: the metrics exporter to feed"),
};
#undef C

static const char *const default_dims[] = {"service.name", "span.name", "span.kind",
                                           "status.code", NULL};

void tg_spanmetrics_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                               tg_diag *diag) {
  const tg_spanmetrics_conf *c = conf;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  for (size_t i = 0; i < c->exclude_dimensions.n; i++) {
    int known = 0;
    for (size_t k = 0; default_dims[k]; k++)
      known |= !strcmp(default_dims[k], c->exclude_dimensions.items[i]);
    if (!known)
      tg_diag_add(diag, pos, "%s: exclude_dimensions: \"%.100s\" is not a default dimension "
                  "(service.name, span.name, span.kind, status.code)", what,
                  c->exclude_dimensions.items[i]);
  }
  for (size_t i = 0; i < c->dimensions.n; i++)
    for (size_t k = 0; default_dims[k]; k++)
      if (!strcmp(default_dims[k], c->dimensions.names[i]))
        tg_diag_add(diag, pos, "%s: dimensions: \"%s\" is a default dimension already",
                    what, default_dims[k]);
  if (c->namespace_)
    for (const char *p = c->namespace_; *p; p++)
      if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
        tg_diag_add(diag, pos, "%s: namespace: only printable ASCII", what);
        break;
      }
  if (c->dimensions.n + c->resource_key_attributes.n > 32)
    tg_diag_add(diag, pos, "%s: dimensions and resource_metrics_key_attributes: at most 32 "
                "together", what);
  const tg_yaml_node *hist = tg_yaml_get(node, "histogram");
  if (c->exponential && c->buckets.n)
    tg_diag_add(diag, hist ? &hist->pos : pos, "%s: histogram: use either explicit or "
                "exponential, not both", what);
  if (c->exponential && c->histogram_disable)
    tg_diag_add(diag, hist ? &hist->pos : pos, "%s: histogram: exponential with disable: "
                "true", what);
  for (size_t i = 0; i < c->resource_key_attributes.n; i++) {
    const char *a = c->resource_key_attributes.items[i];
    if (!strcmp(a, "service.name"))
      tg_diag_add(diag, pos, "%s: resource_metrics_key_attributes: service.name is always a "
                  "key", what);
    for (size_t k = 0; k < c->dimensions.n; k++)
      if (!strcmp(a, c->dimensions.names[k]))
        tg_diag_add(diag, pos, "%s: resource_metrics_key_attributes: \"%.100s\" is also a "
                    "dimension", what, a);
  }
}

size_t tg_spanmetrics_limit(const tg_spanmetrics_conf *c) {
  return c->cardinality_limit > 0 ? (size_t)c->cardinality_limit : TG_SPANMETRICS_MAX_SERIES;
}

size_t tg_spanmetrics_per_service_limit(const tg_spanmetrics_conf *c) {
  size_t limit = tg_spanmetrics_limit(c);
  size_t share = c->max_series_per_service > 0 ? (size_t)c->max_series_per_service
                                               : limit / 10 > 100 ? limit / 10 : 100;
  return share < limit ? share : limit;
}
