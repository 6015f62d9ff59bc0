/* The nop exporter: the end of a pipeline that accepts every batch, counts its spans and
 * frees it. It exists so that a second tailgate process can be a discarding OTLP sink in
 * benchmarks (bench/run_pipeline_bench.sh), as the Collector's `nop` exporter is, and so
 * that pipelines can be tested without a backend.
 *
 * Shape: no configuration keys, no I/O, no threads. The only state is one counter cell,
 * tailgate_exporter_sent_spans_total{exporter="<id>"}, resolved once in create (the
 * family is shared with the other exporters, so whichever registers it first sets its
 * help text) and bumped with one relaxed atomic add per batch. consume runs on whichever
 * thread calls it; the cell is atomic and nothing else is touched. */
#include <stddef.h>

#include "tg_alloc.h"
#include "tg_batch.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_metrics.h"
#include "tg_service.h"

typedef struct nop_state {
  tg_metric_cell *sent_spans; /* NULL when the host has no metrics registry */
} nop_state;

static int nop_create(tg_instance *self, tg_errbuf *err) {
  nop_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id ? self->id : "nop");
  self->state = st;
  if (self->service && self->service->metrics) {
    static const char *const label_names[] = {"exporter", NULL};
    tg_metric_family *fam = tg_metrics_family(
        self->service->metrics, "tailgate_exporter_sent_spans_total",
        "Spans an exporter delivered (accepted by its destination).", TG_METRIC_COUNTER,
        label_names);
    const char *const values[] = {self->id ? self->id : "nop"};
    st->sent_spans = fam ? tg_metrics_series(fam, values) : NULL;
    if (!st->sent_spans)
      return tg_errf(err, TG_ENOMEM, "%s: cannot register tailgate_exporter_sent_spans_total",
                     self->id ? self->id : "nop");
  }
  return TG_OK;
}

static int nop_consume(tg_instance *self, tg_batch *batch) {
  const nop_state *st = self->state;
  if (batch && st)
    tg_metric_add(st->sent_spans, (int64_t)batch->span_count);
  tg_batch_free(batch);
  return TG_OK;
}

static void nop_destroy(tg_instance *self) {
  tg_free(self->state);
  self->state = NULL;
}

const tg_component tg_exporter_nop = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "nop",
    .signals = TG_SIGNAL_TRACES,
    .out_signals = 0,
    .conf_size = 0,
    .keys = NULL,
    .n_keys = 0,
    .conf_check = NULL,
    .ops = {.create = nop_create, .consume = nop_consume, .destroy = nop_destroy},
    .doc = "Accepts traces, counts them in tailgate_exporter_sent_spans_total and discards "
           "them (a sink for benchmarks and tests).",
};
