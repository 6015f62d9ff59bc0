/* The self-metrics registry (tailgate_* on the telemetry port). Families are registered
 * at setup; each series is one atomic cell that the hot path bumps with one relaxed
 * atomic add, from any thread. Rendering produces Prometheus text format 0.0.4.
 *
 * Families and series are created at setup or on a slow path (a new label value) and
 * live as long as the registry; the registry's mutex guards only creation and rendering. */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "tg_buf.h"

typedef enum tg_metric_type { TG_METRIC_COUNTER, TG_METRIC_GAUGE, TG_METRIC_HISTOGRAM } tg_metric_type;

/* service.telemetry.metrics.level, in the Collector's order (the values match the
 * config's TG_METRICS_LEVEL_*). A family has the level tg_metrics_family_level gives its
 * name; render leaves out families above the registry's level. */
typedef enum tg_mlevel {
  TG_MLEVEL_NONE,
  TG_MLEVEL_BASIC,
  TG_MLEVEL_NORMAL,
  TG_MLEVEL_DETAILED
} tg_mlevel;

typedef struct tg_metrics tg_metrics;
typedef struct tg_metric_family tg_metric_family;
typedef struct tg_metric_histogram tg_metric_histogram;
typedef _Atomic int64_t tg_metric_cell;

tg_metrics *tg_metrics_new(void);
void tg_metrics_free(tg_metrics *reg);

/* Gets or creates a family. label_names is NULL-terminated (NULL = no labels).
 * Names must be valid Prometheus names; counters should end in _total. NULL on ENOMEM
 * or when the name exists with another type or labels. */
tg_metric_family *tg_metrics_family(tg_metrics *reg, const char *name, const char *help,
                                    tg_metric_type type, const char *const *label_names);

/* Gets or creates the series for label_values (same count as the family's names; values
 * are escaped at render time). The cell lives as long as the registry. NULL on ENOMEM. */
tg_metric_cell *tg_metrics_series(tg_metric_family *family, const char *const *label_values);

/* A histogram family (type TG_METRIC_HISTOGRAM): bounds are the buckets' upper bounds,
 * ascending, at most TG_METRICS_MAX_BOUNDS (+Inf is implicit); copied. The name is the
 * base name (rendered with _bucket, _sum, _count). NULL on ENOMEM, bad bounds, or when
 * the name exists with another type or labels. */
#define TG_METRICS_MAX_BOUNDS 24
tg_metric_family *tg_metrics_histogram_family(tg_metrics *reg, const char *name,
                                              const char *help,
                                              const char *const *label_names,
                                              const double *bounds, size_t n_bounds);

/* Gets or creates the series of a histogram family; NULL on ENOMEM or when family is
 * not a histogram. Lives as long as the registry. */
tg_metric_histogram *tg_metrics_histogram_series(tg_metric_family *family,
                                                 const char *const *label_values);

/* Counts one observation (any thread; a few relaxed atomic adds). NULL h: no-op. The sum
 * is kept in billionths of the unit (nanoseconds for a _seconds family). */
void tg_metric_observe(tg_metric_histogram *h, double value);

/* Bounds a family's cardinality: once it holds max_series series, tg_metrics_series for
 * a new label combination returns the one overflow series whose every label value is
 * overflow_value (copied; it does not count against max_series). 0 or TG_ENOMEM. */
int tg_metrics_family_bound(tg_metric_family *family, size_t max_series,
                            const char *overflow_value);

/* The level a family name belongs to (tg_metrics_level.c holds the table). */
tg_mlevel tg_metrics_family_level(const char *name, tg_metric_type type);

/* Families above level are left out of render (default TG_MLEVEL_DETAILED: all). */
void tg_metrics_set_level(tg_metrics *reg, tg_mlevel level);
tg_mlevel tg_metrics_level(const tg_metrics *reg);

/* Slots where core helpers keep a family they look up on a hot path (the per-service
 * families of tg_metrics_service.h), so they need no search by name: the address of
 * slot i (0 <= i < TG_METRICS_SLOTS), NULL until someone stores a family there. */
#define TG_METRICS_SLOTS 4
tg_metric_family *_Atomic *tg_metrics_slot(tg_metrics *reg, int i);

static inline void tg_metric_add(tg_metric_cell *cell, int64_t delta) {
  if (cell)
    atomic_fetch_add_explicit(cell, delta, memory_order_relaxed);
}
static inline void tg_metric_set(tg_metric_cell *cell, int64_t value) {
  if (cell)
    atomic_store_explicit(cell, value, memory_order_relaxed);
}
static inline int64_t tg_metric_get(tg_metric_cell *cell) {
  return cell ? atomic_load_explicit(cell, memory_order_relaxed) : 0;
}

/* Extra text rendered after the families (process metrics, build info): the callback
 * appends complete families in text format to out. */
typedef void (*tg_metrics_collect_fn)(void *ctx, tg_buf *out);
int tg_metrics_add_collector(tg_metrics *reg, tg_metrics_collect_fn fn, void *ctx);
/* Removes a collector added with the same fn and ctx (before ctx is freed). */
void tg_metrics_remove_collector(tg_metrics *reg, tg_metrics_collect_fn fn, void *ctx);

/* Renders every family at or below the registry's level in Prometheus text format 0.0.4
 * (families without series are left out), then the collectors' text. */
int tg_metrics_render(tg_metrics *reg, tg_buf *out);

/* Appends `value` escaped for a label value (\\, \", \n). */
int tg_metrics_escape_label(tg_buf *out, const char *value);

#endif
