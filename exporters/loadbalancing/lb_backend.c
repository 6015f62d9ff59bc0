/* One sender per backend of the loadbalancing exporter: a bounded FIFO of encoded
 * requests and sending_queue.num_consumers threads that send them over the shared gRPC
 * transport (core/tg_grpc_exporter.h: one channel per backend, the otlp exporter's
 * transport and retry rules).
 *
 * Why not tg_export_queue: a backend that leaves the ring must give its queued and
 * failing requests back, so they can be split again over the new ring instead of being
 * retried against a backend that is gone or counted as lost. Here a leaving backend
 * returns its queue to the exporter at once, and a sender whose send fails while its
 * backend is leaving hands the request back (lb->ret, then uv_async) — never drops it.
 * A retryable failure while the backend is still in the ring backs off as
 * retry_on_failure says (the resolver is what declares a backend gone). A departing
 * backend (out of the ring, still sending the traces that stick to it) does not back
 * off: its first retryable failure marks it failed and hands the request back, and the
 * loop thread retires it (lb.c), so its traces move at once.
 *
 * Counting: every span queued is counted once, as sent, failed (permanent error, retries
 * exhausted, left at shutdown) or re-routed (handed back; counted again where it lands). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lb.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_service.h"

void lb_item_free(lb_item *item) {
  if (!item)
    return;
  tg_free(item->data);
  tg_free(item);
}

static void hand_back(lb_exporter *lb, lb_item *item) {
  item->next = NULL;
  pthread_mutex_lock(&lb->ret_lock);
  item->next = lb->ret;
  lb->ret = item;
  pthread_mutex_unlock(&lb->ret_lock);
  uv_async_send(&lb->async);
}

typedef struct worker_arg {
  lb_backend *b;
  unsigned index;
} worker_arg;

static double rnd01(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (double)(*s >> 11) / 9007199254740992.0;
}

static void wait_ms(lb_backend *b, uint64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&b->cond, &b->lock, &ts);
}

/* Sends one request with retries. Called with b->lock NOT held. */
static void deliver(lb_backend *b, void *w, lb_item *item, uint64_t *seed) {
  lb_exporter *lb = b->lb;
  const lb_conf *c = lb->conf;
  tg_backoff bo;
  tg_backoff_reset(&bo, &c->otlp.retry, tg_clock_mono_ms());
  tg_export_item ei = {.data = item->data, .len = item->len, .span_count = item->spans};
  for (unsigned attempt = 1;; attempt++) {
    ei.attempt = attempt;
    tg_send_outcome out;
    memset(&out, 0, sizeof out);
    tg_send_result r = tg_otlpexp_grpc_queue_ops.send(b->grpc, w, &ei, &out);
    if (r == TG_SEND_OK) {
      int64_t rej = out.rejected_spans > 0 ? out.rejected_spans : 0;
      if ((size_t)rej > item->spans)
        rej = (int64_t)item->spans;
      tg_metric_add(lb->m_sent, (int64_t)item->spans - rej);
      tg_metric_add(lb->m_failed, rej);
      lb_item_free(item);
      return;
    }
    pthread_mutex_lock(&b->lock);
    bool leaving = b->leaving, aborting = b->aborting;
    if (b->departing && !leaving && !aborting && r == TG_SEND_RETRYABLE) {
      atomic_store(&b->failed, true); /* before the hand-back: on_async retires first */
      pthread_mutex_unlock(&b->lock);
      hand_back(lb, item);
      return;
    }
    uint64_t delay = UINT64_MAX;
    if (r == TG_SEND_RETRYABLE && !leaving && !aborting)
      delay = tg_backoff_next(&bo, &c->otlp.retry, rnd01(seed), out.retry_after_ms,
                              tg_clock_mono_ms());
    if (delay != UINT64_MAX) {
      wait_ms(b, delay);
      bool gone = b->leaving || b->departing;
      if (b->departing && !b->leaving)
        atomic_store(&b->failed, true); /* failing when it left the ring: retire it */
      pthread_mutex_unlock(&b->lock);
      if (gone) {
        hand_back(lb, item);
        return;
      }
      continue;
    }
    pthread_mutex_unlock(&b->lock);
    if (leaving && !aborting && r == TG_SEND_RETRYABLE) {
      hand_back(lb, item); /* the backend left: its data goes to the new owner */
      return;
    }
    if (lb->self->service && lb->self->service->log)
      TG_LOG_WARN(lb->self->service->log, lb->id, "backend %s: %zu spans failed: %s",
                  b->endpoint, item->spans, out.detail);
    tg_metric_add(lb->m_failed, (int64_t)item->spans);
    lb_item_free(item);
    return;
  }
}

static void *worker_main(void *varg) {
  worker_arg *arg = varg;
  lb_backend *b = arg->b;
  lb_exporter *lb = b->lb;
  void *w = NULL;
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)b->id << 20) ^ arg->index;
  if (tg_otlpexp_grpc_queue_ops.worker_init(b->grpc, arg->index, &w)) {
    if (lb->self->service && lb->self->service->log)
      TG_LOG_ERROR(lb->self->service->log, lb->id, "backend %s: sender %u cannot start",
                   b->endpoint, arg->index);
    w = NULL;
  }
  pthread_mutex_lock(&b->lock);
  b->workers[arg->index] = w;
  while (w) {
    while (!b->head && !b->leaving && !b->stopping)
      pthread_cond_wait(&b->cond, &b->lock);
    if (b->leaving || b->aborting || !b->head)
      break;
    lb_item *item = b->head;
    b->head = item->next;
    if (!b->head)
      b->tail = NULL;
    b->n_items--;
    b->bytes -= item->len;
    b->busy++;
    pthread_mutex_unlock(&b->lock);
    deliver(b, w, item, &seed);
    pthread_mutex_lock(&b->lock);
    b->busy--;
    pthread_cond_broadcast(&b->cond);
  }
  b->workers[arg->index] = NULL;
  pthread_mutex_unlock(&b->lock);
  if (w)
    tg_otlpexp_grpc_queue_ops.worker_fini(b->grpc, w);
  tg_free(arg);
  atomic_fetch_sub(&b->live, 1);
  uv_async_send(&lb->async);
  return NULL;
}

lb_backend *lb_backend_new(lb_exporter *lb, const char *endpoint, uint32_t id,
                           tg_errbuf *err) {
  lb_backend *b = tg_calloc(1, sizeof *b);
  if (!b) {
    tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  b->id = id;
  b->lb = lb;
  b->endpoint = tg_strdup(endpoint);
  size_t n = (size_t)lb->conf->otlp.queue.num_consumers;
  b->threads = tg_calloc(n, sizeof *b->threads);
  b->workers = tg_calloc(n, sizeof *b->workers);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cond, &ca);
  pthread_condattr_destroy(&ca);
  char name[512];
  snprintf(name, sizeof name, "%s/%s", lb->id, endpoint);
  tg_service *svc = lb->self->service;
  if (b->endpoint && b->threads && b->workers)
    b->grpc = tg_otlpexp_grpc_new(&lb->conf->otlp, endpoint, false, name,
                                  svc ? svc->log : NULL);
  if (!b->grpc) {
    lb_backend_free(b);
    tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  tg_otlpexp_grpc_set_tracer(b->grpc, svc ? svc->selftrace : NULL);
  if (lb->f_routed) {
    const char *labels[] = {lb->id, endpoint};
    b->m_routed = tg_metrics_series(lb->f_routed, labels);
  }
  return b;
}

int lb_backend_start(lb_backend *b, tg_errbuf *err) {
  int rc = tg_otlpexp_grpc_start(b->grpc, err);
  if (rc)
    return rc;
  size_t n = (size_t)b->lb->conf->otlp.queue.num_consumers;
  for (size_t i = 0; i < n; i++) {
    worker_arg *a = tg_calloc(1, sizeof *a);
    if (!a)
      return tg_errf(err, TG_ENOMEM, "out of memory");
    a->b = b;
    a->index = (unsigned)i;
    atomic_fetch_add(&b->live, 1);
    if (pthread_create(&b->threads[i], NULL, worker_main, a)) {
      atomic_fetch_sub(&b->live, 1);
      tg_free(a);
      return tg_errf(err, TG_EIO, "cannot start sender threads");
    }
    b->n_threads++;
  }
  return TG_OK;
}

void lb_backend_push(lb_backend *b, lb_item *item) {
  item->next = NULL;
  tg_metric_add(b->m_routed, (int64_t)item->spans);
  pthread_mutex_lock(&b->lock);
  if (b->tail)
    b->tail->next = item;
  else
    b->head = item;
  b->tail = item;
  b->n_items++;
  b->bytes += item->len;
  pthread_cond_signal(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

int lb_backend_ready(lb_backend *b) {
  const tg_queue_conf *q = &b->lb->conf->otlp.queue;
  pthread_mutex_lock(&b->lock);
  int ok = b->n_items < (size_t)q->queue_size && (!q->max_bytes || b->bytes < q->max_bytes);
  pthread_mutex_unlock(&b->lock);
  return ok;
}

void lb_backend_depart(lb_backend *b) {
  pthread_mutex_lock(&b->lock);
  b->departing = true;
  pthread_cond_broadcast(&b->cond); /* a sender in back-off gives up at its next failure */
  pthread_mutex_unlock(&b->lock);
}

void lb_backend_rejoin(lb_backend *b) {
  pthread_mutex_lock(&b->lock);
  b->departing = false;
  pthread_mutex_unlock(&b->lock);
}

lb_item *lb_backend_leave(lb_backend *b) {
  pthread_mutex_lock(&b->lock);
  b->leaving = true;
  lb_item *items = b->head;
  b->head = b->tail = NULL;
  b->n_items = 0;
  b->bytes = 0;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  return items;
}

void lb_backend_stop(lb_backend *b, uint64_t deadline_ms) {
  pthread_mutex_lock(&b->lock);
  b->stopping = true;
  pthread_cond_broadcast(&b->cond);
  while ((b->head || b->busy) && atomic_load(&b->live) && tg_clock_mono_ms() < deadline_ms)
    wait_ms(b, 20);
  b->aborting = true;
  for (size_t i = 0; i < b->n_threads; i++)
    if (b->workers[i])
      tg_otlpexp_grpc_queue_ops.abort(b->grpc, b->workers[i]);
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  for (size_t i = 0; i < b->n_threads; i++)
    pthread_join(b->threads[i], NULL);
  b->n_threads = 0;
  size_t left = 0;
  for (lb_item *it = b->head, *next; it; it = next) {
    next = it->next;
    left += it->spans;
    lb_item_free(it);
  }
  b->head = b->tail = NULL;
  b->n_items = 0;
  if (left) {
    tg_metric_add(b->lb->m_failed, (int64_t)left);
    if (b->lb->self->service && b->lb->self->service->log)
      TG_LOG_ERROR(b->lb->self->service->log, b->lb->id,
                   "backend %s: %zu spans left unsent at shutdown", b->endpoint, left);
  }
}

void lb_backend_free(lb_backend *b) {
  if (!b)
    return;
  if (b->n_threads) {
    pthread_mutex_lock(&b->lock);
    b->leaving = b->aborting = true;
    for (size_t i = 0; i < b->n_threads; i++)
      if (b->workers[i])
        tg_otlpexp_grpc_queue_ops.abort(b->grpc, b->workers[i]);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    for (size_t i = 0; i < b->n_threads; i++)
      pthread_join(b->threads[i], NULL);
  }
  for (lb_item *it = b->head, *next; it; it = next) {
    next = it->next;
    lb_item_free(it);
  }
  tg_otlpexp_grpc_free(b->grpc);
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->cond);
  tg_free(b->threads);
  tg_free(b->workers);
  tg_free(b->endpoint);
  tg_free(b);
}
