/* tail_sampling processor: holds every span of a trace until decision_wait after its
 * first span, then keeps or drops the whole trace by the configured policies.
 *
 * Shape: the loop thread only slices each batch by trace ID into per-shard messages
 * (ts_slice.c) and posts them; each shard is owned by one worker thread (ts_worker.c)
 * that buffers, decides and emits, so the hot path takes no global lock. Kept spans come
 * back to the loop thread through an outbox and a uv_async handle, and go downstream
 * from there (components' consume runs on the loop thread only).
 *
 * Back-pressure without loss: the inbox (loop → workers) and the outbox (workers → loop)
 * are bounded in bytes; when either is full, or downstream refused and a batch is held
 * for retry, consume answers TG_EAGAIN without taking the batch, so receivers tell
 * clients to retry. Buffered traces are bounded by num_traces and max_memory_mib; at
 * either bound the oldest trace is decided early (counted), never silently dropped.
 *
 * Stop: every worker decides all pending traces and exits; the outbox drains downstream
 * (retried while refused, for at most half the shutdown grace); then done. */
#include <stdatomic.h>
#include <unistd.h>
#include <uv.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"
#include "ts_conf.h"
#include "ts_explain.h"
#include "ts_slice.h"
#include "ts_verdict.h"
#include "ts_worker.h"

#define RETRY_MS 20
#define INBOX_LIMIT_BYTES ((size_t)32 << 20)
#define OUTBOX_LIMIT_BYTES ((size_t)64 << 20)

typedef struct out_node {
  struct out_node *next;
  tg_batch *batch;
  size_t bytes;
} out_node;

typedef struct ts_state {
  tg_instance *self;
  const tg_ts_conf *conf;
  ts_leaves leaves;
  ts_limiters limiters;
  ts_metrics metrics;
  ts_worker *workers;
  size_t n_workers, n_inited;
  atomic_size_t inbox_bytes;
  /* outbox: kept spans from the workers, guarded by out_lock */
  pthread_mutex_t out_lock;
  out_node *out_head, *out_tail;
  atomic_size_t outbox_bytes;
  uv_async_t wake;
  uv_timer_t retry;
  int handles, closing;
  tg_batch *held; /* refused downstream, retried on the timer */
  tg_metric_cell *refused_spans, *dropped_spans;
  int stopping;
  atomic_int exited;
  int joined;
  uint64_t stop_deadline_ms;
  tg_stop_done_fn stop_done;
} ts_state;

static size_t default_workers(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (size_t)n : 1;
}

/* Worker thread: kept spans ready. */
static void deliver(void *ctx, tg_batch *batch) {
  ts_state *st = ctx;
  out_node *node = tg_calloc(1, sizeof *node);
  if (!node) {
    tg_metric_add(st->metrics.lost_spans, (int64_t)batch->span_count);
    tg_batch_free(batch);
    return;
  }
  node->batch = batch;
  for (size_t i = 0; i < batch->n_wire; i++)
    node->bytes += batch->wire[i].len;
  atomic_fetch_add(&st->outbox_bytes, node->bytes);
  pthread_mutex_lock(&st->out_lock);
  if (st->out_tail)
    st->out_tail->next = node;
  else
    st->out_head = node;
  st->out_tail = node;
  pthread_mutex_unlock(&st->out_lock);
  uv_async_send(&st->wake);
}

/* Worker thread: it has decided everything and is about to return. */
static void worker_exited(void *ctx) {
  ts_state *st = ctx;
  atomic_fetch_add(&st->exited, 1);
  uv_async_send(&st->wake);
}

static int ts_create(tg_instance *self, tg_errbuf *err) {
  ts_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  self->state = st;
  st->self = self;
  st->conf = self->conf;
  pthread_mutex_init(&st->out_lock, NULL);
  const tg_ts_conf *c = st->conf;
  ts_leaves_collect(&c->policies, &st->leaves);
  st->n_workers = c->num_workers > 0 ? (size_t)c->num_workers : default_workers();
  if (ts_limiters_init(&st->limiters, c->policies.n_rates) != 0 ||
      ts_metrics_init(&st->metrics, self->service->metrics, self->id, &c->policies) != 0 ||
      !(st->workers = tg_calloc(st->n_workers, sizeof *st->workers)))
    return tg_errf(err, TG_ENOMEM, "out of memory");
  size_t per_traces = ((size_t)c->num_traces + st->n_workers - 1) / st->n_workers;
  size_t per_bytes = ((size_t)c->max_memory_mib << 20) / st->n_workers;
  for (size_t i = 0; i < st->n_workers; i++) {
    ts_worker *w = &st->workers[i];
    if (ts_worker_init(w, &st->inbox_bytes, worker_exited, st) != 0)
      return tg_errf(err, TG_ENOMEM, "cannot create worker %zu", i);
    st->n_inited++;
    if (ts_shard_init(&w->shard, c, &st->leaves, &st->limiters, &st->metrics,
                      self->service->kept, per_traces, per_bytes, deliver, st) != 0 ||
        (self->service->debug_endpoints && ts_shard_enable_queries(&w->shard) != 0))
      return tg_errf(err, TG_ENOMEM, "out of memory for shard %zu", i);
    w->shard.index = i;
  }
  tg_kept_traces_register_sampler(self->service->kept);
  return TG_OK;
}

static void on_retry(uv_timer_t *timer);

static void arm_retry(ts_state *st) {
  if (!st->closing)
    uv_timer_start(&st->retry, on_retry, RETRY_MS, 0);
}

/* Loop thread: pushes held and queued batches downstream until one is refused. */
static void drain(ts_state *st) {
  for (;;) {
    if (!st->held) {
      pthread_mutex_lock(&st->out_lock);
      out_node *node = st->out_head;
      if (node) {
        st->out_head = node->next;
        if (!st->out_head)
          st->out_tail = NULL;
      }
      pthread_mutex_unlock(&st->out_lock);
      if (!node)
        return;
      atomic_fetch_sub(&st->outbox_bytes, node->bytes);
      st->held = node->batch;
      tg_free(node);
    }
    int rc = tg_consumer_push(&st->self->next, st->held);
    if (rc == TG_EAGAIN) {
      arm_retry(st);
      return;
    }
    st->held = NULL;
  }
}

static void maybe_finish_stop(ts_state *st);

static void on_wake(uv_async_t *async) {
  ts_state *st = async->data;
  drain(st);
  if (st->stopping)
    maybe_finish_stop(st);
}

static void on_retry(uv_timer_t *timer) {
  ts_state *st = timer->data;
  drain(st);
  if (st->stopping)
    maybe_finish_stop(st);
}

static int ts_start(tg_instance *self, tg_errbuf *err) {
  ts_state *st = self->state;
  uv_loop_t *loop = self->service->loop;
  if (uv_async_init(loop, &st->wake, on_wake) != 0)
    return tg_errf(err, TG_ENOMEM, "cannot create the wake-up handle");
  st->wake.data = st;
  st->handles++;
  uv_timer_init(loop, &st->retry);
  st->retry.data = st;
  st->handles++;
  st->refused_spans = tg_processor_refused_spans(self); /* one label set for all */
  st->dropped_spans = tg_processor_dropped_spans(self);
  for (size_t i = 0; i < st->n_workers; i++)
    if (ts_worker_start(&st->workers[i]) != 0)
      return tg_errf(err, TG_ENOMEM, "cannot start worker thread %zu", i);
  TG_LOG_INFO(self->service->log, self->id,
              "%zu workers, decision_wait %llums, num_traces %lld, max_memory_mib %lld, %zu policies",
              st->n_workers, (unsigned long long)st->conf->decision_wait_ms,
              (long long)st->conf->num_traces, (long long)st->conf->max_memory_mib,
              st->conf->policies.n);
  return TG_OK;
}

static int ts_consume(tg_instance *self, tg_batch *batch) {
  ts_state *st = self->state;
  if (st->held || atomic_load(&st->inbox_bytes) > INBOX_LIMIT_BYTES ||
      atomic_load(&st->outbox_bytes) > OUTBOX_LIMIT_BYTES) {
    tg_metric_add(st->refused_spans, (int64_t)batch->span_count);
    return TG_EAGAIN; /* not taken */
  }
  if (st->stopping) { /* receivers stop first, so this is a late straggler */
    tg_metric_add(st->dropped_spans, (int64_t)batch->span_count);
    tg_batch_free(batch);
    return TG_ECLOSED;
  }
  ts_msg *msgs[256];
  ts_msg **out = st->n_workers <= 256 ? msgs : tg_calloc(st->n_workers, sizeof *out);
  if (!out) {
    tg_batch_free(batch);
    return TG_ENOMEM;
  }
  int rc = ts_slice_batch(batch, st->n_workers, out);
  tg_batch_free(batch);
  if (rc == TG_OK)
    for (size_t i = 0; i < st->n_workers; i++)
      if (out[i]) {
        atomic_fetch_add(&st->inbox_bytes, ts_msg_charge(out[i]));
        ts_worker_post(&st->workers[i], out[i]);
      }
  if (out != msgs)
    tg_free(out);
  return rc;
}

static void on_closed(uv_handle_t *handle) {
  ts_state *st = handle->data;
  if (--st->handles == 0 && st->stop_done) {
    tg_stop_done_fn done = st->stop_done;
    st->stop_done = NULL;
    done(st->self);
  }
}

static void drop_outbox(ts_state *st) {
  size_t spans = st->held ? st->held->span_count : 0;
  tg_batch_free(st->held);
  st->held = NULL;
  pthread_mutex_lock(&st->out_lock);
  while (st->out_head) {
    out_node *n = st->out_head;
    st->out_head = n->next;
    spans += n->batch->span_count;
    atomic_fetch_sub(&st->outbox_bytes, n->bytes);
    tg_batch_free(n->batch);
    tg_free(n);
  }
  st->out_tail = NULL;
  pthread_mutex_unlock(&st->out_lock);
  if (spans) {
    tg_metric_add(st->dropped_spans, (int64_t)spans);
    TG_LOG_ERROR(st->self->service->log, st->self->id, "TG_ETIMEDOUT",
                 "dropping %zu kept spans at shutdown: downstream still full", spans);
  }
}

static void maybe_finish_stop(ts_state *st) {
  if (st->closing || (size_t)atomic_load(&st->exited) < st->n_workers)
    return;
  if (!st->joined) {
    for (size_t i = 0; i < st->n_workers; i++)
      if (st->workers[i].started) {
        pthread_join(st->workers[i].thread, NULL);
        st->workers[i].started = 0;
      }
    st->joined = 1;
    drain(st);
  }
  pthread_mutex_lock(&st->out_lock);
  int empty = !st->out_head;
  pthread_mutex_unlock(&st->out_lock);
  if ((!empty || st->held) && tg_clock_mono_ms() < st->stop_deadline_ms)
    return; /* the retry timer comes back */
  drop_outbox(st);
  st->closing = 1;
  uv_timer_stop(&st->retry);
  uv_close((uv_handle_t *)&st->wake, on_closed);
  uv_close((uv_handle_t *)&st->retry, on_closed);
}

static void ts_stop(tg_instance *self, tg_stop_done_fn done) {
  ts_state *st = self->state;
  st->stopping = 1;
  st->stop_done = done;
  st->stop_deadline_ms = tg_clock_mono_ms() + self->service->shutdown_grace_ms / 2;
  if (!st->handles) { /* never started */
    st->stop_done = NULL;
    done(self);
    return;
  }
  size_t started = 0;
  for (size_t i = 0; i < st->n_workers; i++)
    if (st->workers[i].started) {
      ts_worker_request_stop(&st->workers[i]);
      started++;
    }
  /* workers that never started count as exited */
  atomic_fetch_add(&st->exited, (int)(st->n_workers - started));
  maybe_finish_stop(st);
}

static void ts_destroy(tg_instance *self) {
  ts_state *st = self->state;
  if (!st)
    return;
  for (size_t i = 0; i < st->n_inited; i++)
    ts_worker_destroy(&st->workers[i]);
  drop_outbox(st);
  tg_free(st->workers);
  ts_limiters_free(&st->limiters);
  ts_metrics_destroy(&st->metrics);
  pthread_mutex_destroy(&st->out_lock);
  tg_free(st);
  self->state = NULL;
}

static int ts_ready(const tg_instance *self) {
  const ts_state *st = self->state;
  return st && !st->stopping && !st->held &&
         atomic_load(&((ts_state *)st)->inbox_bytes) <= INBOX_LIMIT_BYTES;
}

/* Loop thread, for /debug/sampling: the one shard the ID hashes to answers under its
 * query lock (ts_shard_query). */
static int ts_debug_trace(tg_instance *self, const uint8_t id[16], tg_buf *out) {
  ts_state *st = self->state;
  if (!st || !st->n_workers || !st->workers[0].shard.queryable)
    return TG_ENOTFOUND;
  ts_shard *sh = &st->workers[ts_shard_of(id, st->n_workers)].shard;
  return ts_shard_query(sh, self->id, id, tg_clock_mono_ms(), tg_clock_unix_nano() / 1000000u,
                        out);
}

const tg_component tg_processor_tail_sampling = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "tail_sampling",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_ts_conf),
    .keys = tg_ts_conf_keys,
    .n_keys = TG_TS_CONF_N_KEYS,
    .conf_check = tg_ts_conf_check,
    .ops = {.create = ts_create, .start = ts_start, .consume = ts_consume, .stop = ts_stop,
            .destroy = ts_destroy, .ready = ts_ready, .debug_trace = ts_debug_trace},
    .doc = "keeps or drops whole traces by policy, decision_wait after their first span",
    .command = {"sampling", ts_explain_command,
                "sampling explain --config FILE [TRACE.json|TRACE.pb|-]  "
                "why the policies keep or drop a trace"},
};
