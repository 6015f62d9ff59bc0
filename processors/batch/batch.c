/* batch processor: accumulates spans from many small requests into large batches, so
 * exporters send fewer, bigger requests. Appending shares arenas instead of copying
 * spans (tg_batch_append); an oversize batch is cut with tg_batch_split_front.
 *
 * Back-pressure without loss: flushed spans go to an outbox that is drained into the
 * next consumer. A consumer answering TG_EAGAIN does not take the batch (tg_component.h),
 * so the outbox keeps it and retries on a short timer; while it is blocked, new data is
 * refused with TG_EAGAIN (not taken), so receivers answer 429 / RESOURCE_EXHAUSTED and
 * clients retry. Memory is bounded by what was accepted before the block. At stop the
 * outbox is retried until half the shutdown grace period, then counted as dropped. */
#include <uv.h>

#include "batch_conf.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

#define RETRY_MS 20

typedef struct batch_state {
  tg_instance *self;
  uv_timer_t timer; /* flush timeout, and outbox retries while blocked */
  int timer_armed;
  tg_batch *pending; /* accumulating */
  tg_batch *outbox;  /* flushed, refused downstream: retried */
  int stopping;
  uint64_t stop_deadline_ms;
  tg_stop_done_fn stop_done;
  tg_metric_cell *flush_size_trigger, *flush_timeout_trigger, *refused_spans, *dropped_spans;
} batch_state;

static int batch_create(tg_instance *self, tg_errbuf *err) {
  batch_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  st->self = self;
  self->state = st;
  return TG_OK;
}

static void arm(batch_state *st, uint64_t ms);

/* Pushes the outbox downstream in pieces of at most send_batch_max_size. Returns TG_OK
 * when it is empty, TG_EAGAIN when the consumer refused (the rest stays in the outbox). */
static int drain_outbox(batch_state *st) {
  const tg_batch_conf *conf = st->self->conf;
  while (st->outbox) {
    tg_batch *piece = st->outbox;
    int split = conf->send_batch_max_size &&
                st->outbox->span_count > (size_t)conf->send_batch_max_size;
    if (split) {
      piece = tg_batch_split_front(st->outbox, (size_t)conf->send_batch_max_size);
      if (!piece) { /* out of memory: send it whole rather than lose it */
        piece = st->outbox;
        split = 0;
      }
    }
    if (!split)
      st->outbox = NULL;
    int rc = tg_consumer_push(&st->self->next, piece);
    if (rc == TG_EAGAIN) { /* not taken: put it back at the head of the outbox */
      if (st->outbox && tg_batch_append(piece, st->outbox) != TG_OK) {
        /* cannot merge (ENOMEM): keep the larger part, count the piece as dropped */
        tg_metric_add(st->dropped_spans, (int64_t)piece->span_count);
        tg_batch_free(piece);
        return TG_EAGAIN;
      }
      st->outbox = piece;
      return TG_EAGAIN;
    }
  }
  return TG_OK;
}

/* Moves pending spans to the outbox and drains it. */
static void flush(batch_state *st) {
  tg_batch *pending = st->pending;
  st->pending = NULL;
  if (pending) {
    if (!st->outbox) {
      st->outbox = pending;
    } else if (tg_batch_append(st->outbox, pending) != TG_OK) {
      tg_metric_add(st->dropped_spans, (int64_t)pending->span_count);
      tg_batch_free(pending);
    }
  }
  if (drain_outbox(st) == TG_EAGAIN)
    arm(st, RETRY_MS);
}

static void finish_stop(batch_state *st);

static void on_timer(uv_timer_t *timer) {
  batch_state *st = timer->data;
  st->timer_armed = 0;
  if (st->pending && !st->outbox)
    tg_metric_add(st->flush_timeout_trigger, 1);
  flush(st);
  if (st->stopping && (!st->outbox || tg_clock_mono_ms() >= st->stop_deadline_ms))
    finish_stop(st);
}

static void arm(batch_state *st, uint64_t ms) {
  if (st->timer_armed)
    uv_timer_stop(&st->timer);
  uv_timer_start(&st->timer, on_timer, ms, 0);
  st->timer_armed = 1;
}

static int batch_start(tg_instance *self, tg_errbuf *err) {
  batch_state *st = self->state;
  uv_timer_init(self->service->loop, &st->timer);
  st->timer.data = st;
  tg_metrics *m = self->service->metrics;
  const char *const labels[] = {"processor", "trigger", NULL};
  tg_metric_family *f = tg_metrics_family(
      m, "tailgate_processor_batch_flushes_total",
      "Batches emitted by the batch processor, by what triggered them.", TG_METRIC_COUNTER,
      labels);
  const char *size_values[] = {self->id, "size"};
  const char *timeout_values[] = {self->id, "timeout"};
  st->flush_size_trigger = tg_metrics_series(f, size_values);
  st->flush_timeout_trigger = tg_metrics_series(f, timeout_values);
  st->refused_spans = tg_processor_refused_spans(self);
  st->dropped_spans = tg_processor_dropped_spans(self);
  (void)err;
  return TG_OK;
}

static int batch_consume(tg_instance *self, tg_batch *batch) {
  batch_state *st = self->state;
  const tg_batch_conf *conf = self->conf;
  if (st->outbox && drain_outbox(st) == TG_EAGAIN) {
    tg_metric_add(st->refused_spans, (int64_t)batch->span_count);
    return TG_EAGAIN; /* not taken: the receiver refuses it to its client */
  }
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
    arm(st, conf->timeout_ms);
  }
  return TG_OK;
}

static void on_timer_closed(uv_handle_t *handle) {
  batch_state *st = handle->data;
  tg_stop_done_fn done = st->stop_done;
  st->stop_done = NULL;
  done(st->self);
}

static void finish_stop(batch_state *st) {
  if (st->outbox) {
    tg_metric_add(st->dropped_spans, (int64_t)st->outbox->span_count);
    TG_LOG_ERROR(st->self->service->log, st->self->id, "TG_ETIMEDOUT",
                 "dropping %zu spans at shutdown: downstream still full", st->outbox->span_count);
    tg_batch_free(st->outbox);
    st->outbox = NULL;
  }
  st->timer_armed = 0;
  uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}

static void batch_stop(tg_instance *self, tg_stop_done_fn done) {
  batch_state *st = self->state;
  st->stopping = 1;
  st->stop_done = done;
  st->stop_deadline_ms = tg_clock_mono_ms() + self->service->shutdown_grace_ms / 2;
  flush(st);
  if (!st->outbox)
    finish_stop(st); /* otherwise the retry timer finishes the stop */
}

static void batch_destroy(tg_instance *self) {
  batch_state *st = self->state;
  if (!st)
    return;
  tg_batch_free(st->pending);
  tg_batch_free(st->outbox);
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
