/* Error-drop accounting shared by processors (see tg_processor_drop.h for what counts as
 * a drop and what does not). It exists so that the family is registered in one place,
 * with one help text and one label set: the metrics registry keeps the first
 * registration of a name (and refuses one with other labels), so copies with drifting
 * help texts or label sets in each processor made the exposition depend on which
 * processor started first. The refused-spans family is registered here for the same
 * reason. */
#include "tg_processor_drop.h"

#include "tg_batch.h"
#include "tg_error.h"
#include "tg_log.h"
#include "tg_service.h"

/* The {processor=<id>} series of a counter family. */
static tg_metric_cell *processor_counter(const tg_instance *self, const char *name,
                                         const char *help) {
  if (!self->service || !self->service->metrics)
    return NULL;
  static const char *const labels[] = {"processor", NULL};
  const char *values[] = {self->id, NULL};
  return tg_metrics_series(
      tg_metrics_family(self->service->metrics, name, help, TG_METRIC_COUNTER, labels),
      values);
}

tg_metric_cell *tg_processor_dropped_spans(const tg_instance *self) {
  return processor_counter(self, TG_PROCESSOR_DROPPED_SPANS,
                           "Spans a processor accepted and then had to drop on an error (out "
                           "of memory, a failed condition, a shutdown deadline); spans removed "
                           "on purpose by filtering or sampling are not counted.");
}

tg_metric_cell *tg_processor_refused_spans(const tg_instance *self) {
  return processor_counter(self, TG_PROCESSOR_REFUSED_SPANS,
                           "Spans a processor refused (not taken: back-pressure, the sender "
                           "is told to retry).");
}

int tg_processor_drop_batch(const tg_instance *self, tg_metric_cell *dropped, tg_batch *batch,
                            int rc, const char *why) {
  size_t spans = batch ? batch->span_count : 0;
  tg_metric_add(dropped, (int64_t)spans);
  TG_LOG_ERROR(self->service ? self->service->log : NULL, self->id, tg_err_name(rc),
               "dropping %zu spans: %s%s%s%s", spans, why ? why : "", why ? " (" : "",
               tg_strerror(rc), why ? ")" : "");
  tg_batch_free(batch);
  return rc;
}
