/* Recently kept traces: the sampling decisions other components may ask about.
 *
 * Span metrics run before tail sampling (they count 100 % of spans), yet their exemplars
 * must point only at traces that were kept, or the exemplar link opens nothing in Jaeger.
 * The tail sampler records every trace it keeps here; span metrics ask when they render.
 *
 * A bounded, lossy set: a direct-mapped table of trace IDs (a newer ID evicts an older
 * one in its slot), so memory is fixed at creation and a false "kept" is impossible — a
 * lookup compares the whole 16-byte ID. Thread-safe: samplers add from their worker
 * threads, readers look up from the loop thread (one mutex; adds happen once per decided
 * trace, not per span).
 *
 * With no sampler in the service (tg_kept_traces_has_sampler() == 0) every trace counts
 * as kept. A NULL registry behaves as one without a sampler. */
#ifndef TG_KEPT_TRACES_H
#define TG_KEPT_TRACES_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_kept_traces tg_kept_traces;

/* A registry remembering up to `capacity` trace IDs (rounded up to a power of two).
 * NULL when out of memory. */
tg_kept_traces *tg_kept_traces_new(size_t capacity);
void tg_kept_traces_free(tg_kept_traces *kept);

/* A sampler announces itself at create: from then on only recorded traces count as kept. */
void tg_kept_traces_register_sampler(tg_kept_traces *kept);
int tg_kept_traces_has_sampler(const tg_kept_traces *kept);

/* Records a kept trace. NULL registry: ignored. */
void tg_kept_traces_add(tg_kept_traces *kept, const uint8_t trace_id[16]);

/* 1 when the trace was recorded as kept (and not yet evicted), or when no sampler runs;
 * 0 otherwise. */
int tg_kept_traces_contains(tg_kept_traces *kept, const uint8_t trace_id[16]);

#endif
