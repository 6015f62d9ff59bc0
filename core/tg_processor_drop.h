/* Error drops in processors: spans a processor accepted and then could not pass on
 * (out of memory, a batch over its arena bound, a failed condition in `propagate` mode, a
 * late batch at shutdown). Every such drop is counted in
 *   tailgate_processor_dropped_spans_total{processor}
 * and logged once per batch, through these two functions, so that no processor drops
 * spans silently and all of them register the family with the same help and labels.
 *
 * Spans a processor removes on purpose (a filter condition matched, a sampler said no)
 * are NOT drops in this sense and are never counted here: they have the processor's own
 * counters (e.g. tailgate_filter_spans_dropped_total, the Collector's
 * otelcol_processor_filter_spans.filtered). */
#ifndef TG_PROCESSOR_DROP_H
#define TG_PROCESSOR_DROP_H

#include "tg_component.h"
#include "tg_metrics.h"

/* The family's name, for tests and documentation. */
#define TG_PROCESSOR_DROPPED_SPANS "tailgate_processor_dropped_spans_total"
#define TG_PROCESSOR_REFUSED_SPANS "tailgate_processor_refused_spans_total"

/* Registers (or finds) tailgate_processor_dropped_spans_total and returns the cell of
 * {processor=self->id}; call it from start. NULL when the service has no metrics registry
 * or out of memory; every bump of a NULL cell is a no-op, so callers need not check. */
tg_metric_cell *tg_processor_dropped_spans(const tg_instance *self);

/* Registers (or finds) tailgate_processor_refused_spans_total and returns the cell of
 * {processor=self->id}: spans a processor refused with TG_EAGAIN (back-pressure; the
 * batch stays the caller's, nothing is lost here). One label, processor, for every
 * processor: a family registered with another label set would leave the second
 * registrant without a series (the registry refuses it), silently. NULL as above. */
tg_metric_cell *tg_processor_refused_spans(const tg_instance *self);

/* Drops batch after an error: adds its span count to dropped (may be NULL), logs one
 * error line "dropping N spans: <why> (<rc's message>)" under self's id with rc's code
 * name, frees the batch (NULL is fine) and returns rc, so a consume op can end with
 * `return tg_processor_drop_batch(...)`. why is a short fixed text (never peer data);
 * NULL logs only rc's message. rc must be an error code other than TG_EAGAIN (a batch
 * refused with TG_EAGAIN is still the caller's and must not be freed). */
int tg_processor_drop_batch(const tg_instance *self, tg_metric_cell *dropped, tg_batch *batch,
                            int rc, const char *why);

#endif
