/* memory_limiter processor: descriptor, lifecycle, the periodic check and consume.
 * Semantics are described in memory_limiter.h.
 *
 * The check runs on the loop thread (a uv timer every check_interval) and leaves one
 * flag, `refusing`, that consume reads: consume costs a branch, never a measurement.
 * Refusal is TG_EAGAIN, which by the component contract means the batch was not taken,
 * so the receiver still owns it and tells its client to retry; nothing is dropped here.
 * Transitions (start and end of refusing) log one line each; refused spans are counted
 * in tailgate_processor_refused_spans_total{processor=<id>}. */
#include <stdio.h>
#include <uv.h>

#include "memory_limiter.h"
#include "tg_alloc.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

#define MIB ((uint64_t)1024 * 1024)

typedef struct ml_state {
  tg_instance *self;
  tg_memory_probe probe;
  uint64_t soft, hard;   /* bytes */
  int level;             /* 0 below soft, 1 at/above soft, 2 at/above hard */
  uv_timer_t timer;
  int timer_open;
  tg_stop_done_fn stop_done;
  tg_metric_cell *refused_spans;
  tg_metric_cell *rss_bytes;
} ml_state;

static void compute_limits(ml_state *st) {
  const tg_memory_limiter_conf *c = st->self->conf;
  if (c->limit_mib) {
    st->hard = (uint64_t)c->limit_mib * MIB;
    uint64_t spike = c->spike_limit_mib ? (uint64_t)c->spike_limit_mib * MIB : st->hard / 5;
    st->soft = st->hard - spike;
    return;
  }
  uint64_t total = st->probe.total ? st->probe.total(st->probe.ctx) : 0;
  st->hard = total / 100 * (uint64_t)c->limit_percentage;
  uint64_t spike = c->spike_limit_percentage ? total / 100 * (uint64_t)c->spike_limit_percentage
                                             : st->hard / 5;
  st->soft = spike < st->hard ? st->hard - spike : 0;
}

static int ml_create(tg_instance *self, tg_errbuf *err) {
  const tg_memory_limiter_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", self->id);
  const char *problem = tg_memory_limiter_conf_problem(c);
  if (problem)
    return tg_errf(err, TG_ECONFIG, "%s: %s", self->id, problem);
  ml_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  st->self = self;
  st->probe = tg_memory_probe_process();
  self->state = st;
  compute_limits(st);
  if (st->hard == 0)
    return tg_errf(err, TG_ECONFIG, "%s: cannot determine the memory available for "
                   "limit_percentage", self->id);
  return TG_OK;
}

void tg_memory_limiter_set_probe(tg_instance *self, tg_memory_probe probe) {
  ml_state *st = self->state;
  st->probe = probe;
  compute_limits(st);
}

void tg_memory_limiter_limits(const tg_instance *self, uint64_t *soft, uint64_t *hard) {
  const ml_state *st = self->state;
  *soft = st->soft;
  *hard = st->hard;
}

int tg_memory_limiter_check(tg_instance *self) {
  ml_state *st = self->state;
  tg_logger *log = self->service ? self->service->log : NULL;
  uint64_t rss = st->probe.rss(st->probe.ctx);
  if (rss >= st->hard && st->probe.trim) {
    st->probe.trim(st->probe.ctx); /* the Collector forces a GC here */
    rss = st->probe.rss(st->probe.ctx);
  }
  int level = rss >= st->hard ? 2 : rss >= st->soft ? 1 : 0;
  tg_metric_set(st->rss_bytes, (int64_t)rss);
  if (level && !st->level)
    TG_LOG_WARN(log, self->id,
                "memory usage %llu MiB is above the %s limit (%llu MiB): refusing data",
                (unsigned long long)(rss / MIB), level == 2 ? "hard" : "soft",
                (unsigned long long)((level == 2 ? st->hard : st->soft) / MIB));
  else if (!level && st->level)
    TG_LOG_INFO(log, self->id, "memory usage %llu MiB is below the soft limit (%llu MiB) "
                "again: accepting data", (unsigned long long)(rss / MIB),
                (unsigned long long)(st->soft / MIB));
  st->level = level;
  return level;
}

static void on_check(uv_timer_t *timer) {
  ml_state *st = timer->data;
  tg_memory_limiter_check(st->self);
}

static int ml_start(tg_instance *self, tg_errbuf *err) {
  (void)err;
  ml_state *st = self->state;
  const tg_memory_limiter_conf *c = self->conf;
  tg_metrics *m = self->service->metrics;
  const char *const proc_label[] = {"processor", NULL};
  const char *proc_value[] = {self->id};
  st->refused_spans = tg_processor_refused_spans(self);
  st->rss_bytes = tg_metrics_series(
      tg_metrics_family(m, "tailgate_memory_limiter_rss_bytes",
                        "Resident memory at the memory limiter's last check.",
                        TG_METRIC_GAUGE, proc_label),
      proc_value);
  uv_timer_init(self->service->loop, &st->timer);
  st->timer.data = st;
  st->timer_open = 1;
  tg_memory_limiter_check(self);
  uv_timer_start(&st->timer, on_check, c->check_interval_ms, c->check_interval_ms);
  return TG_OK;
}

static int ml_consume(tg_instance *self, tg_batch *batch) {
  ml_state *st = self->state;
  if (st->level) {
    tg_metric_add(st->refused_spans, (int64_t)batch->span_count);
    return TG_EAGAIN; /* not taken: the caller still owns batch */
  }
  return tg_consumer_push(&self->next, batch);
}

static void on_timer_closed(uv_handle_t *handle) {
  ml_state *st = handle->data;
  st->timer_open = 0;
  tg_stop_done_fn done = st->stop_done;
  st->stop_done = NULL;
  if (done)
    done(st->self);
}

static void ml_stop(tg_instance *self, tg_stop_done_fn done) {
  ml_state *st = self->state;
  if (!st || !st->timer_open) {
    done(self);
    return;
  }
  st->stop_done = done;
  uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}

static void ml_destroy(tg_instance *self) {
  ml_state *st = self->state;
  if (!st)
    return;
  tg_free(st);
  self->state = NULL;
}

const tg_component tg_processor_memory_limiter = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "memory_limiter",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_memory_limiter_conf),
    .keys = tg_memory_limiter_conf_keys,
    .n_keys = TG_MEMORY_LIMITER_CONF_N_KEYS,
    .conf_check = tg_memory_limiter_conf_check,
    .ops = {.create = ml_create, .start = ml_start, .consume = ml_consume, .stop = ml_stop,
            .destroy = ml_destroy},
    .doc = "refuses new data (retryable) while resident memory is above its limits",
};
