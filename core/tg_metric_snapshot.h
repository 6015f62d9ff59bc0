/* An immutable copy of one collect() of a metric source (tg_metric_source.h), taken on the
 * loop thread and replayed on any thread: what lets a push exporter encode a flush on its
 * sender thread instead of the loop thread (core/export/tg_otlp_metrics.c).
 *
 * The copy keeps what the OTLP encoding reads: families (names, help, unit, kind,
 * bounds), and per point its labels (name, value, OpenTelemetry name, placement),
 * counts, sum, buckets, exponential buckets, exemplars and times. It leaves out the
 * Prometheus render caches (label_text, label_text_point: NULL on replay) and
 * updated_mono_ms (0), which only the loop-thread Prometheus consumers read. */
#ifndef TG_METRIC_SNAPSHOT_H
#define TG_METRIC_SNAPSHOT_H

#include <stddef.h>

#include "tg_metric_source.h"

typedef struct tg_metric_snapshot tg_metric_snapshot;

/* Runs src->collect once and copies every family and point it visits, in visit order.
 * Loop thread (as collect). On TG_OK *out owns the copy (tg_metric_snapshot_free); it
 * references nothing of src afterwards, so the producer may flush, expire or free its
 * series at once. Returns TG_OK, TG_ENOMEM, or collect's own error (*out NULL then). */
int tg_metric_snapshot_take(const tg_metric_source *src, tg_metric_snapshot **out);

/* The copy as a metric source whose collect replays the visit (same families in the same
 * order, same values; family pointers are the snapshot's own). name, delta and
 * exponential are src's. Any thread, also several at once; no subscribe/open. Valid
 * until tg_metric_snapshot_free. */
const tg_metric_source *tg_metric_snapshot_source(const tg_metric_snapshot *s);

/* Points copied, and the bytes the copy holds (for queue byte bounds). */
size_t tg_metric_snapshot_points(const tg_metric_snapshot *s);
size_t tg_metric_snapshot_bytes(const tg_metric_snapshot *s);

/* Frees the copy. NULL is ignored. */
void tg_metric_snapshot_free(tg_metric_snapshot *s);

#endif
