/* spanmetrics settings: the Collector's spanmetrics connector keys (and, for the processor
 * placement, the old spanmetrics processor's `metrics_exporter`). */
#ifndef TG_SPANMETRICS_CONF_H
#define TG_SPANMETRICS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_conf.h"

/* `dimensions:` items: an attribute name and an optional default value (NULL = the label
 * is left out of a series whose span and resource lack the attribute). */
typedef struct tg_spanmetrics_dims {
  char **names;
  char **defaults;
  size_t n;
} tg_spanmetrics_dims;

/* `histogram.explicit.buckets:` as milliseconds (fractions below one millisecond allowed:
 * "100us" is 0.1), strictly ascending; n == 0: defaults. */
typedef struct tg_spanmetrics_buckets {
  double *ms;
  size_t n;
} tg_spanmetrics_buckets;

enum { TG_SPANMETRICS_UNIT_MS, TG_SPANMETRICS_UNIT_S };
enum { TG_SPANMETRICS_CUMULATIVE, TG_SPANMETRICS_DELTA };

/* histogram.exponential.max_size: the Collector's default and tailgate's ceiling. */
#define TG_SPANMETRICS_EXP_DEFAULT_SIZE 160
#define TG_SPANMETRICS_EXP_MAX_SIZE 4096

typedef struct tg_spanmetrics_conf {
  bool histogram_disable;
  int histogram_unit;               /* TG_SPANMETRICS_UNIT_* */
  tg_spanmetrics_buckets buckets;
  tg_spanmetrics_dims dimensions;
  tg_conf_strlist exclude_dimensions;
  char *namespace_;                 /* "traces.span.metrics" */
  uint64_t flush_interval_ms;
  uint64_t expiration_ms;           /* 0 = series never expire */
  int64_t cardinality_limit;        /* 0 = tailgate's ceiling (TG_SPANMETRICS_MAX_SERIES) */
  int64_t max_series_per_service;   /* 0 = tg_spanmetrics_per_service_limit's default */
  bool exemplars_enabled;
  uint64_t exemplar_candidate_ttl_ms;
  int temporality;                  /* TG_SPANMETRICS_CUMULATIVE | _DELTA */
  bool exponential;                 /* histogram.exponential present */
  int64_t exponential_max_size;     /* buckets per exponential histogram */
  int64_t exemplars_max_per_point;  /* 0 = one per bucket (and one per counter) */
  int64_t delta_timestamp_cache_size;
  tg_conf_strlist resource_key_attributes; /* resource_metrics_key_attributes */
  int64_t resource_metrics_cache_size; /* accepted for compatibility, unused */
  int64_t dimensions_cache_size;       /* accepted for compatibility, unused */
  char *metrics_exporter;           /* processor placement: exporter fed with the metrics */
} tg_spanmetrics_conf;

/* Hard ceiling on series when aggregation_cardinality_limit is 0 (the Collector's
 * "unlimited"): every table has a bound. */
#define TG_SPANMETRICS_MAX_SERIES 1000000

#define TG_SPANMETRICS_CONF_N_KEYS 21
extern const tg_conf_key tg_spanmetrics_conf_keys[TG_SPANMETRICS_CONF_N_KEYS];
void tg_spanmetrics_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                               tg_diag *diag);

/* The series budget: the cardinality limit (0 = TG_SPANMETRICS_MAX_SERIES) and the share
 * of it one service_name may hold (max_series_per_service; 0 = a tenth of the limit, at
 * least 100 and at most the limit). */
size_t tg_spanmetrics_limit(const tg_spanmetrics_conf *c);
size_t tg_spanmetrics_per_service_limit(const tg_spanmetrics_conf *c);

/* The Collector's default explicit buckets, in milliseconds. */
extern const double tg_spanmetrics_default_buckets_ms[16];

#endif
