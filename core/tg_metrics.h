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

typedef enum tg_metric_type { TG_METRIC_COUNTER, TG_METRIC_GAUGE } tg_metric_type;

typedef struct tg_metrics tg_metrics;
typedef struct tg_metric_family tg_metric_family;
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

/* Renders every family in Prometheus text format 0.0.4. */
int tg_metrics_render(tg_metrics *reg, tg_buf *out);

/* Appends `value` escaped for a label value (\\, \", \n). */
int tg_metrics_escape_label(tg_buf *out, const char *value);

#endif
