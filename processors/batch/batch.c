/* batch processor: accumulates spans from many small requests into large batches, so
 * exporters send fewer, bigger requests. Appending shares arenas instead of copying
 * spans (tg_batch_append); an oversize accumulation is cut with tg_batch_split_front.
 *
 * Back-pressure: when the downstream refuses a flush (TG_EAGAIN), that flush's spans are
 * counted as dropped by the exporter that refused them, and this processor refuses new
 * data for one timeout period, so receivers answer 429/RESOURCE_EXHAUSTED and clients
 * retry instead of the gateway buffering without bound. */
#include <uv.h>

#include "batch_conf.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_service.h"

typedef struct batch_state {
  tg_instance *self;
  uv_timer_t timer;
  int timer_armed;
  tg_batch *pending;
  uint64_t refuse_until_ms; /* downstream said full: refuse until then */
  tg_stop_done_fn stop_done;
  tg_metric_cell *flush_size_trigger, *flush_timeout_trigger, *refused_spans;
} batch_state;

static int batch_create(tg_instance *self, tg_errbuf *err) {
  batch_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  st->self = self;
  self->state = st;
  return TG_OK;
}

static void emit(batch_state *st, tg_batch *batch) {
  int rc = tg_consumer_push(&st->self->next, batch);
  if (rc == TG_EAGAIN) {
    const tg_batch_conf *conf = st->self->conf;
    st->refuse_until_ms = tg_clock_mono_ms() + conf->timeout_ms;
  }
}

/* Emits pending spans in batches of at most send_batch_max_size. */
static void flush(batch_state *st) {
  const tg_batch_conf *conf = st->self->conf;
  tg_batch *pending = st->pending;
  st->pending = NULL;
  if (st->timer_armed) {
    uv_timer_stop(&st->timer);
    st->timer_armed = 0;
  }
  if (!pending)
    return;
  while (conf->send_batch_max_size && pending->span_count > (size_t)conf->send_batch_max_size) {
    tg_batch *front = tg_batch_split_front(pending, (size_t)conf->send_batch_max_size);
    if (!front)
      break; /* out of memory: send it whole rather than lose it */
    emit(st, front);
  }
  emit(st, pending);
}

static void on_timeout(uv_timer_t *timer) {
  batch_state *st = timer->data;
  st->timer_armed = 0;
  tg_metric_add(st->flush_timeout_trigger, 1);
  flush(st);
}

static int batch_start(tg_instance *self, tg_errbuf *err) {
  batch_state *st = self->state;
  uv_timer_init(self->service->loop, &st->timer);
  st->timer.data = st;
  const char *const labels[] = {"processor", "trigger", NULL};
  tg_metric_family *f = tg_metrics_family(
      self->service->metrics, "tailgate_processor_batch_flushes_total",
      "Batches emitted by the batch processor, by what triggered them.", TG_METRIC_COUNTER,
      labels);
  const char *size_values[] = {self->id, "size"};
  const char *timeout_values[] = {self->id, "timeout"};
  st->flush_size_trigger = tg_metrics_series(f, size_values);
  st->flush_timeout_trigger = tg_metrics_series(f, timeout_values);
  const char *const refused_labels[] = {"processor", NULL};
  const char *refused_values[] = {self->id};
  st->refused_spans = tg_metrics_series(
      tg_metrics_family(self->service->metrics, "tailgate_processor_refused_spans_total",
                        "Spans a processor refused because its downstream was full.",
                        TG_METRIC_COUNTER, refused_labels),
      refused_values);
  (void)err;
  return TG_OK;
}

static int batch_consume(tg_instance *self, tg_batch *batch) {
  batch_state *st = self->state;
  const tg_batch_conf *conf = self->conf;
  if (st->refuse_until_ms && tg_clock_mono_ms() < st->refuse_until_ms) {
    tg_metric_add(st->refused_spans, (int64_t)batch->span_count);
    tg_batch_free(batch);
    return TG_EAGAIN;
  }
  st->refuse_until_ms = 0;
  if (batch->span_count == 0) {
    tg_batch_free(batch);
    return TG_OK;
  }
  if (!st->pending) {
    /* Our own accumulator: the incoming batch may be shared with other consumers. */
    st->pending = tg_batch_new(4096, 0);
    if (!st->pending) {
      tg_batch_free(batch);
      return TG_ENOMEM;
    }
  }
  int rc = tg_batch_append(st->pending, batch);
  if (rc != TG_OK) {
    tg_batch_free(batch);
    return rc;
  }
  if (conf->send_batch_size && st->pending->span_count >= (size_t)conf->send_batch_size) {
    tg_metric_add(st->flush_size_trigger, 1);
    flush(st);
  } else if (!st->timer_armed) {
    uv_timer_start(&st->timer, on_timeout, conf->timeout_ms, 0);
    st->timer_armed = 1;
  }
  return TG_OK;
}

static void on_timer_closed(uv_handle_t *handle) {
  batch_state *st = handle->data;
  tg_stop_done_fn done = st->stop_done;
  st->stop_done = NULL;
  done(st->self);
}

static void batch_stop(tg_instance *self, tg_stop_done_fn done) {
  batch_state *st = self->state;
  flush(st);
  st->stop_done = done;
  uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}

static void batch_destroy(tg_instance *self) {
  batch_state *st = self->state;
  if (!st)
    return;
  tg_batch_free(st->pending);
  tg_free(st);
  self->state = NULL;
}

const tg_component tg_processor_batch = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "batch",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_batch_conf),
    .keys = tg_batch_conf_keys,
    .n_keys = TG_BATCH_CONF_N_KEYS,
    .conf_check = tg_batch_conf_check,
    .ops = {.create = batch_create, .start = batch_start, .consume = batch_consume,
            .stop = batch_stop, .destroy = batch_destroy},
    .doc = "groups spans into larger batches by size and time",
};
