/* The sending queue: a ring of encoded requests under one mutex, sender threads that
 * pop from it, and the retry loop each sender runs around the exporter's send function.
 *
 * Why this shape: the loop thread must never block on a backend, so push is a bounded,
 * non-blocking append (TG_EAGAIN when full is the back-pressure signal receivers turn
 * into 429 / RESOURCE_EXHAUSTED). Each sender owns one request from pop to its final
 * accounting, so a request is counted exactly once. Transport state is per thread
 * (worker_init/fini on the thread), which keeps gRPC completion queues and curl handles
 * free of locks.
 *
 * Three condition variables (all on CLOCK_MONOTONIC): `work` wakes idle senders for a
 * new item or for shutdown; `wake` interrupts back-off waits at the shutdown deadline
 * (kept apart from `work` so a push signal is never swallowed by a sleeping retry);
 * `drained` tells the stopping thread that the queue emptied or a sender exited.
 *
 * With storage (sending_queue.storage) the ring stays empty: push appends the encoded
 * request to the disk queue (tg_disk_queue.h) on the caller's thread, under the lock, so
 * the client hears "accepted" only once its data is in the log; senders pop records
 * from the log instead of the ring and acknowledge each when its accounting is final.
 * A record still unsent at the shutdown deadline is not acknowledged, so it is not
 * counted as failed but handed out again at the next start.
 *
 * Time here is the real monotonic clock, not tg_clock's injectable one: these are real
 * waits on condition variables. Tests drive the back-off arithmetic directly through
 * tg_backoff_next and make waits short through the configuration. */
#include "tg_export_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tg_alloc.h"
#include "tg_batch.h"
#include "tg_component.h"
#include "tg_disk_queue.h"
#include "tg_service.h"
#include "tg_error.h"
#include "tg_log.h"
#include "tg_metrics.h"

struct tg_export_queue {
  tg_queue_conf qc;
  tg_retry_conf rc;
  tg_export_queue_ops ops;
  void *ctx;
  char *name;      /* exporter id, for logs and labels */
  char *log_name;  /* "exporter:<name>" */
  tg_logger *log;

  pthread_mutex_t lock;
  pthread_cond_t work, wake, drained;
  tg_disk_queue *dq;     /* storage: the queue on disk (owned); NULL = the ring */
  tg_export_item *ring; /* cap slots; count items from head */
  size_t cap, head, count, bytes;
  size_t busy;      /* items popped and not yet accounted */
  size_t idle;      /* senders waiting on `work` */
  size_t live;      /* sender threads running */
  int closing;      /* stop began: refuse pushes, exit when drained */
  atomic_int aborting; /* deadline passed: give up on everything in flight */
  int started, stopped;

  pthread_t *threads;
  size_t n_threads;  /* created */
  void **workers;    /* per thread, NULL when not initialised; guarded by lock */

  double (*rand01)(void *rctx);
  void *rctx;
  uint64_t rng; /* default xorshift state, guarded by lock */

  tg_metric_cell *m_sent, *m_failed, *m_qsize, *m_qcap, *m_enq_failed;
  tg_metric_cell *m_health; /* tailgate_dependency_health: 1 after a delivery, 0 after a failure */
  tg_metric_histogram *m_send_duration; /* tailgate_exporter_send_duration_seconds */
};

typedef struct sender_arg {
  tg_export_queue *q;
  unsigned index;
} sender_arg;

void tg_retry_conf_defaults(tg_retry_conf *rc) {
  rc->enabled = true;
  rc->initial_interval_ms = 5000;
  rc->randomization_factor = 0.5;
  rc->multiplier = 1.5;
  rc->max_interval_ms = 30000;
  rc->max_elapsed_ms = 300000;
}

void tg_queue_conf_defaults(tg_queue_conf *qc) {
  qc->enabled = true;
  qc->num_consumers = 4;
  qc->queue_size = 1000;
  qc->max_bytes = (uint64_t)64 << 20;
}

/* ---- back-off ---- */

void tg_backoff_reset(tg_backoff *b, const tg_retry_conf *rc, uint64_t now_ms) {
  b->interval_ms = rc->initial_interval_ms;
  b->start_ms = now_ms;
}

uint64_t tg_backoff_next(tg_backoff *b, const tg_retry_conf *rc, double rnd01,
                         uint64_t server_delay_ms, uint64_t now_ms) {
  if (!rc->enabled)
    return UINT64_MAX;
  if (rnd01 < 0)
    rnd01 = 0;
  if (rnd01 >= 1)
    rnd01 = 0.999999;
  double f = rc->randomization_factor;
  double iv = (double)b->interval_ms;
  /* Uniform in [iv*(1-f), iv*(1+f)], as the Collector's backoff library does. */
  double d = iv * (1.0 - f) + rnd01 * (2.0 * f * iv);
  uint64_t delay = d < 1.0 ? 1 : (uint64_t)d;
  if (server_delay_ms > delay)
    delay = server_delay_ms;
  double next = iv * rc->multiplier;
  b->interval_ms = next >= (double)rc->max_interval_ms ? rc->max_interval_ms : (uint64_t)next;
  if (rc->max_elapsed_ms && now_ms + delay > b->start_ms + rc->max_elapsed_ms)
    return UINT64_MAX;
  return delay;
}

/* ---- time ---- */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timespec abs_deadline(uint64_t at_ms) {
  struct timespec ts = {.tv_sec = (time_t)(at_ms / 1000),
                        .tv_nsec = (long)(at_ms % 1000) * 1000000L};
  return ts;
}

static int cond_init_mono(pthread_cond_t *c) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr))
    return -1;
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(c, &attr);
  pthread_condattr_destroy(&attr);
  return rc ? -1 : 0;
}

/* ---- construction ---- */

static tg_metric_cell *series(struct tg_metrics *m, const char *fam, const char *help,
                              tg_metric_type type, const char *name) {
  if (!m)
    return NULL;
  static const char *const labels[] = {"exporter", NULL};
  tg_metric_family *f = tg_metrics_family(m, fam, help, type, labels);
  if (!f)
    return NULL;
  const char *values[] = {name};
  return tg_metrics_series(f, values);
}

static double default_rand01(void *rctx) {
  tg_export_queue *q = rctx;
  uint64_t x = q->rng; /* xorshift64 */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  q->rng = x;
  return (double)(x >> 11) / 9007199254740992.0; /* 2^53 */
}

tg_export_queue *tg_export_queue_new(const tg_queue_conf *qconf, const tg_retry_conf *rconf,
                                     const tg_export_queue_ops *ops, void *ctx,
                                     const char *name, struct tg_logger *log,
                                     struct tg_metrics *metrics) {
  if (!ops || !ops->send || qconf->num_consumers < 1 || qconf->queue_size < 1)
    return NULL;
  tg_export_queue *q = tg_calloc(1, sizeof *q);
  if (!q)
    return NULL;
  q->qc = *qconf;
  q->rc = *rconf;
  q->ops = *ops;
  q->ctx = ctx;
  q->log = log;
  q->name = tg_strdup(name ? name : "exporter");
  size_t ln = strlen(q->name ? q->name : "") + sizeof "exporter:";
  q->log_name = tg_malloc(ln);
  q->cap = q->qc.enabled ? (size_t)q->qc.queue_size : (size_t)q->qc.num_consumers;
  q->ring = tg_calloc(q->cap, sizeof *q->ring);
  q->threads = tg_calloc((size_t)q->qc.num_consumers, sizeof *q->threads);
  q->workers = tg_calloc((size_t)q->qc.num_consumers, sizeof *q->workers);
  if (!q->name || !q->log_name || !q->ring || !q->threads || !q->workers) {
    tg_free(q->name);
    tg_free(q->log_name);
    tg_free(q->ring);
    tg_free(q->threads);
    tg_free(q->workers);
    tg_free(q);
    return NULL;
  }
  snprintf(q->log_name, ln, "exporter:%s", q->name);
  if (pthread_mutex_init(&q->lock, NULL)) {
    tg_free(q->name);
    tg_free(q->log_name);
    tg_free(q->ring);
    tg_free(q->threads);
    tg_free(q->workers);
    tg_free(q);
    return NULL;
  }
  /* cond_init failures are near impossible on Linux; treat them as ENOMEM. */
  if (cond_init_mono(&q->work) || cond_init_mono(&q->wake) || cond_init_mono(&q->drained)) {
    pthread_mutex_destroy(&q->lock);
    tg_free(q->name);
    tg_free(q->log_name);
    tg_free(q->ring);
    tg_free(q->threads);
    tg_free(q->workers);
    tg_free(q);
    return NULL;
  }
  q->rand01 = default_rand01;
  q->rctx = q;
  q->rng = (mono_ms() ^ (uint64_t)(uintptr_t)q) | 1u;
  atomic_init(&q->aborting, 0);

  q->m_sent = series(metrics, "tailgate_exporter_sent_spans_total",
                     "Spans delivered to the backend.", TG_METRIC_COUNTER, q->name);
  q->m_failed = series(metrics, "tailgate_exporter_send_failed_spans_total",
                       "Spans given up on: permanent errors, retries exhausted, rejected, "
                       "or left at shutdown.", TG_METRIC_COUNTER, q->name);
  q->m_enq_failed = series(metrics, "tailgate_exporter_enqueue_failed_spans_total",
                           "Spans refused because the sending queue was full or closed.",
                           TG_METRIC_COUNTER, q->name);
  q->m_qsize = series(metrics, "tailgate_exporter_queue_size",
                      "Requests waiting in the sending queue.", TG_METRIC_GAUGE, q->name);
  q->m_qcap = series(metrics, "tailgate_exporter_queue_capacity",
                     "Capacity of the sending queue in requests.", TG_METRIC_GAUGE, q->name);
  tg_metric_set(q->m_qcap, (int64_t)q->cap);
  tg_metric_set(q->m_qsize, 0);
  if (metrics) {
    static const char *const dep[] = {"dependency", NULL};
    const char *values[] = {q->name};
    q->m_health = tg_metrics_series(
        tg_metrics_family(metrics, "tailgate_dependency_health",
                          "1 when the exporter's backend took the last request (or none was "
                          "sent yet), 0 after a failed attempt.", TG_METRIC_GAUGE, dep),
        values);
    tg_metric_set(q->m_health, 1);
    /* one attempt over the network: 1 ms .. 10 s */
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};
    static const char *const labels[] = {"exporter", NULL};
    q->m_send_duration = tg_metrics_histogram_series(
        tg_metrics_histogram_family(metrics, "tailgate_exporter_send_duration_seconds",
                                    "Duration of one send attempt (request to answer or "
                                    "error), per exporter.",
                                    labels, bounds, sizeof bounds / sizeof bounds[0]),
        values);
  }
  return q;
}

void tg_export_queue_set_random(tg_export_queue *q, double (*rand01)(void *rctx),
                                void *rctx) {
  pthread_mutex_lock(&q->lock);
  q->rand01 = rand01 ? rand01 : default_rand01;
  q->rctx = rand01 ? rctx : q;
  pthread_mutex_unlock(&q->lock);
}

/* ---- sender ---- */

/* Waits until mono time `until` or abort. Called with the lock held. */
static void wait_until(tg_export_queue *q, uint64_t until) {
  struct timespec ts = abs_deadline(until);
  while (!atomic_load(&q->aborting) && mono_ms() < until) {
    int rc = pthread_cond_timedwait(&q->wake, &q->lock, &ts);
    if (rc == ETIMEDOUT)
      break;
  }
}

/* Encodes a queued batch into item->data (sender thread). TG_OK or TG_ENOMEM. */
static int encode_item(tg_export_item *item) {
  tg_batch *batch = item->batch;
  item->batch = NULL;
  size_t len = tg_batch_encoded_size(batch);
  item->data = tg_malloc(len ? len : 1);
  if (item->data)
    item->len = tg_batch_encode(batch, item->data);
  tg_batch_free(batch);
  return item->data ? TG_OK : TG_ENOMEM;
}

static int process_item(tg_export_queue *q, void *worker, tg_export_item *item);

typedef struct deferred_run {
  tg_export_queue *q;
  void *worker;
  unsigned signal;
  size_t emitted; /* points handed to process_item (each counted there) */
} deferred_run;

static int deferred_emit(void *ctx, uint8_t *data, size_t len, size_t n_points) {
  deferred_run *r = ctx;
  tg_export_item it = {.data = data, .len = len, .span_count = n_points, .signal = r->signal};
  r->emitted += n_points;
  process_item(r->q, r->worker, &it);
  return 0;
}

/* A deferred item (sender thread): encodes it and sends each request it emits to its
 * end; points never emitted (encoding failed) count as failed. Frees the item. */
static void process_deferred(tg_export_queue *q, void *worker, tg_export_item *item) {
  tg_export_deferred *d = item->deferred;
  item->deferred = NULL;
  deferred_run r = {.q = q, .worker = worker, .signal = item->signal};
  int rc = d->encode(d, deferred_emit, &r);
  d->free(d);
  if (r.emitted < item->span_count) {
    size_t lost = item->span_count - r.emitted;
    tg_metric_add(q->m_failed, (int64_t)lost);
    TG_LOG_ERROR(q->log, q->log_name, tg_err_name(rc ? rc : TG_EINVAL),
                 "dropping %zu data points: encoding the request failed: %s", lost,
                 tg_strerror(rc ? rc : TG_EINVAL));
  }
}

/* Sends one item to its end: delivered, given up, or aborted. Called without the lock;
 * takes it only to wait and to draw jitter. Frees the item's bytes. Returns 1 when the
 * item was aborted with storage: not counted, it stays on disk for the next start. */
static int process_item(tg_export_queue *q, void *worker, tg_export_item *item) {
  int kept = 0;
  tg_backoff bo;
  tg_backoff_reset(&bo, &q->rc, mono_ms());
  unsigned attempts = 0;
  for (;;) {
    tg_send_outcome out;
    memset(&out, 0, sizeof out);
    item->attempt = attempts + 1;
    uint64_t started = mono_ns();
    tg_send_result r = q->ops.send(q->ctx, worker, item, &out);
    tg_metric_observe(q->m_send_duration, (double)(mono_ns() - started) / 1e9);
    attempts++;
    tg_metric_set(q->m_health, r == TG_SEND_OK);
    if (r == TG_SEND_OK) {
      int64_t rejected = out.rejected_spans;
      if (rejected < 0)
        rejected = 0;
      if ((uint64_t)rejected > item->span_count)
        rejected = (int64_t)item->span_count;
      tg_metric_add(q->m_sent, (int64_t)item->span_count - rejected);
      if (rejected) {
        tg_metric_add(q->m_failed, rejected);
        TG_LOG_WARN(q->log, q->log_name, "partial success: %" PRId64 " of %zu spans rejected: %s",
                    rejected, item->span_count, out.detail);
      }
      break;
    }
    if (r == TG_SEND_PERMANENT) {
      tg_metric_add(q->m_failed, (int64_t)item->span_count);
      TG_LOG_ERROR(q->log, q->log_name, "TG_EIO",
                   "dropping %zu spans: permanent error: %s", item->span_count, out.detail);
      break;
    }
    if (atomic_load(&q->aborting) && q->dq) {
      kept = 1; /* not delivered, not given up: the disk queue hands it out next start */
      break;
    }
    if (atomic_load(&q->aborting)) {
      tg_metric_add(q->m_failed, (int64_t)item->span_count);
      TG_LOG_ERROR(q->log, q->log_name, "TG_ECLOSED",
                   "dropping %zu spans: shutdown deadline passed while retrying: %s",
                   item->span_count, out.detail);
      break;
    }
    pthread_mutex_lock(&q->lock);
    double rnd = q->rand01(q->rctx);
    uint64_t now = mono_ms();
    uint64_t delay = tg_backoff_next(&bo, &q->rc, rnd, out.retry_after_ms, now);
    if (delay == UINT64_MAX) {
      pthread_mutex_unlock(&q->lock);
      tg_metric_add(q->m_failed, (int64_t)item->span_count);
      TG_LOG_ERROR(q->log, q->log_name, "TG_EIO",
                   "dropping %zu spans: %s after %u attempt(s): %s", item->span_count,
                   q->rc.enabled ? "retries exhausted" : "retry disabled", attempts,
                   out.detail);
      break;
    }
    TG_LOG_WARN(q->log, q->log_name, "send failed (%s), retrying in %" PRIu64 " ms",
                out.detail, delay);
    wait_until(q, now + delay);
    pthread_mutex_unlock(&q->lock);
  }
  tg_free(item->data);
  item->data = NULL;
  return kept;
}

/* 1 when a sender has something to take. Lock held. */
static int has_work(tg_export_queue *q) {
  return q->dq ? tg_disk_queue_has_next(q->dq) : q->count != 0;
}

/* Storage: takes one record from the disk queue and sends it to its end. Called with the
 * lock held, returns with it held; 0 when nothing could be taken. */
static int process_disk_record(tg_export_queue *q, void *worker) {
  tg_disk_record rec;
  int rc = tg_disk_queue_pop(q->dq, &rec);
  if (rc != TG_OK) {
    if (rc == TG_ENOMEM)
      TG_LOG_ERROR(q->log, q->log_name, "TG_ENOMEM", "out of memory reading the disk queue");
    return 0;
  }
  q->busy++;
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(q->dq, &st);
  tg_metric_set(q->m_qsize, (int64_t)(st.pending_records - q->busy));
  pthread_mutex_unlock(&q->lock);
  tg_export_item item = {.data = rec.data, .len = rec.len, .span_count = rec.spans};
  int kept = process_item(q, worker, &item);
  pthread_mutex_lock(&q->lock);
  if (!kept)
    tg_disk_queue_ack(q->dq, rec.seq);
  q->busy--;
  return 1;
}

static void *sender_main(void *arg) {
  sender_arg *sa = arg;
  tg_export_queue *q = sa->q;
  unsigned index = sa->index;
  tg_free(sa);

  void *worker = NULL;
  if (q->ops.worker_init && q->ops.worker_init(q->ctx, index, &worker)) {
    TG_LOG_ERROR(q->log, q->log_name, "TG_EIO", "sender %u could not start", index);
    pthread_mutex_lock(&q->lock);
    q->live--;
    pthread_cond_broadcast(&q->drained);
    pthread_mutex_unlock(&q->lock);
    return NULL;
  }
  pthread_mutex_lock(&q->lock);
  q->workers[index] = worker;
  for (;;) {
    while (!has_work(q) && !q->closing && !atomic_load(&q->aborting)) {
      q->idle++;
      if (q->dq) { /* pop can also refuse at its in-flight cap: look again now and then */
        struct timespec ts = abs_deadline(mono_ms() + 200);
        pthread_cond_timedwait(&q->work, &q->lock, &ts);
      } else {
        pthread_cond_wait(&q->work, &q->lock);
      }
      q->idle--;
    }
    if (atomic_load(&q->aborting) || !has_work(q))
      break; /* aborted (leftovers are the stopper's), or closing and drained */
    if (q->dq) {
      if (!process_disk_record(q, worker) && q->closing)
        break;
      if (q->closing && !has_work(q) && !q->busy)
        pthread_cond_broadcast(&q->drained);
      continue;
    }
    tg_export_item item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= item.len;
    q->busy++;
    tg_metric_set(q->m_qsize, (int64_t)q->count);
    pthread_mutex_unlock(&q->lock);

    if (item.deferred) {
      process_deferred(q, worker, &item);
    } else if (item.batch && encode_item(&item) != TG_OK) {
      tg_metric_add(q->m_failed, (int64_t)item.span_count);
      TG_LOG_ERROR(q->log, q->log_name, "TG_ENOMEM",
                   "dropping %zu spans: out of memory encoding the request", item.span_count);
    } else {
      process_item(q, worker, &item);
    }

    pthread_mutex_lock(&q->lock);
    q->busy--;
    if (q->closing && !q->count && !q->busy)
      pthread_cond_broadcast(&q->drained);
  }
  q->workers[index] = NULL;
  q->live--;
  pthread_cond_broadcast(&q->drained);
  pthread_mutex_unlock(&q->lock);
  if (q->ops.worker_fini)
    q->ops.worker_fini(q->ctx, worker);
  return NULL;
}

/* ---- lifecycle ---- */

static void join_all(tg_export_queue *q) {
  for (size_t i = 0; i < q->n_threads; i++)
    pthread_join(q->threads[i], NULL);
  q->n_threads = 0;
}

int tg_export_queue_start(tg_export_queue *q) {
  pthread_mutex_lock(&q->lock);
  if (q->started || q->stopped) {
    pthread_mutex_unlock(&q->lock);
    return q->started ? TG_OK : TG_ECLOSED;
  }
  q->started = 1;
  pthread_mutex_unlock(&q->lock);
  for (unsigned i = 0; i < (unsigned)q->qc.num_consumers; i++) {
    sender_arg *sa = tg_malloc(sizeof *sa);
    int rc = -1;
    if (sa) {
      sa->q = q;
      sa->index = i;
      pthread_mutex_lock(&q->lock);
      q->live++;
      pthread_mutex_unlock(&q->lock);
      rc = pthread_create(&q->threads[i], NULL, sender_main, sa);
      if (rc) {
        pthread_mutex_lock(&q->lock);
        q->live--;
        pthread_mutex_unlock(&q->lock);
        tg_free(sa);
      }
    }
    if (rc) {
      pthread_mutex_lock(&q->lock);
      atomic_store(&q->aborting, 1);
      pthread_cond_broadcast(&q->work);
      pthread_cond_broadcast(&q->wake);
      pthread_mutex_unlock(&q->lock);
      join_all(q);
      atomic_store(&q->aborting, 0);
      pthread_mutex_lock(&q->lock);
      q->started = 0;
      pthread_mutex_unlock(&q->lock);
      return sa ? TG_EIO : TG_ENOMEM;
    }
    q->n_threads++;
    char tname[16];
    snprintf(tname, sizeof tname, "tg-send-%u", i % 1000u); /* num_consumers <= 128 */
    pthread_setname_np(q->threads[i], tname);
  }
  return TG_OK;
}

/* Storage: writes the item (encoding a batch first) as one record. Lock held. TG_OK,
 * TG_EAGAIN (queue_size records pending, byte bound or disk full; the item untouched),
 * TG_ENOMEM, TG_ETOOBIG. */
static int disk_append(tg_export_queue *q, const tg_export_item *item) {
  tg_disk_queue_stats st;
  tg_disk_queue_stats_get(q->dq, &st);
  if (st.pending_records >= (uint64_t)q->qc.queue_size)
    return TG_EAGAIN;
  if (!item->batch)
    return tg_disk_queue_append(q->dq, item->data, item->len, (uint32_t)item->span_count);
  size_t len = tg_batch_encoded_size(item->batch);
  uint8_t *buf = tg_malloc(len ? len : 1);
  if (!buf)
    return TG_ENOMEM;
  len = tg_batch_encode(item->batch, buf);
  int rc = tg_disk_queue_append(q->dq, buf, len, (uint32_t)item->span_count);
  tg_free(buf);
  if (rc == TG_OK) {
    tg_disk_queue_stats_get(q->dq, &st);
    tg_metric_set(q->m_qsize, (int64_t)(st.pending_records - q->busy));
  }
  return rc;
}

/* Adds an item (data or batch) under the bounds; frees it on refusal. */
static int push_item(tg_export_queue *q, tg_export_item item) {
  uint8_t *data = item.data;
  size_t len = item.len, span_count = item.span_count;
  pthread_mutex_lock(&q->lock);
  int rc = TG_OK;
  if (q->closing || q->stopped)
    rc = TG_ECLOSED;
  else if (q->dq && item.signal)
    rc = TG_EUNSUPPORTED;
  else if (q->dq)
    rc = disk_append(q, &item);
  else if (q->count >= q->cap || (!q->qc.enabled && q->count >= q->idle))
    rc = TG_EAGAIN;
  else if (q->qc.max_bytes && q->count && q->bytes + len > q->qc.max_bytes)
    rc = TG_EAGAIN;
  if (rc) {
    pthread_mutex_unlock(&q->lock);
    tg_free(data);
    if (item.deferred)
      item.deferred->free(item.deferred);
    if (rc == TG_EAGAIN && item.batch)
      return rc; /* back-pressure: the batch was not taken, the caller keeps it */
    tg_batch_free(item.batch);
    tg_metric_add(q->m_enq_failed, (int64_t)span_count);
    return rc;
  }
  if (q->dq) { /* written to the log; the batch or bytes are no longer needed */
    tg_free(data);
    tg_batch_free(item.batch);
  } else {
    q->ring[(q->head + q->count) % q->cap] = item;
    q->count++;
    q->bytes += len;
    tg_metric_set(q->m_qsize, (int64_t)q->count);
  }
  pthread_cond_signal(&q->work);
  pthread_mutex_unlock(&q->lock);
  return TG_OK;
}

int tg_export_queue_push(tg_export_queue *q, uint8_t *data, size_t len, size_t span_count) {
  return push_item(q, (tg_export_item){.data = data, .len = len, .span_count = span_count});
}

int tg_export_queue_push_metrics(tg_export_queue *q, uint8_t *data, size_t len,
                                 size_t n_points) {
  return push_item(q, (tg_export_item){.data = data, .len = len, .span_count = n_points,
                                       .signal = TG_SIGNAL_METRICS});
}

int tg_export_queue_push_deferred_metrics(tg_export_queue *q, tg_export_deferred *d,
                                          size_t bytes, size_t n_points) {
  return push_item(q, (tg_export_item){.len = bytes, .span_count = n_points,
                                       .signal = TG_SIGNAL_METRICS, .deferred = d});
}

/* Memory a batch holds (its own arena and those it shares): what it costs while queued. */
static size_t batch_memory(const tg_batch *batch) {
  size_t bytes = batch->arena->used_bytes;
  for (size_t i = 0; i < batch->n_shared_arenas; i++)
    bytes += batch->shared_arenas[i]->used_bytes;
  return bytes;
}

int tg_export_queue_push_batch(tg_export_queue *q, tg_batch *batch) {
  if (!batch)
    return TG_OK;
  size_t spans = batch->span_count;
  if (!spans) {
    tg_batch_free(batch);
    return TG_OK;
  }
  return push_item(q, (tg_export_item){.len = batch_memory(batch), .span_count = spans,
                                       .batch = batch});
}


void tg_export_queue_set_storage(tg_export_queue *q, tg_disk_queue *dq) {
  pthread_mutex_lock(&q->lock);
  tg_disk_queue *old = q->dq;
  q->dq = dq;
  if (dq) {
    tg_disk_queue_stats st;
    tg_disk_queue_stats_get(dq, &st);
    tg_metric_set(q->m_qsize, (int64_t)st.pending_records);
    tg_metric_set(q->m_qcap, q->qc.queue_size);
  }
  pthread_mutex_unlock(&q->lock);
  tg_disk_queue_close(old);
}

int tg_export_queue_ready(const tg_export_queue *q) {
  tg_export_queue *mq = (tg_export_queue *)q; /* the lock is not part of the value */
  pthread_mutex_lock(&mq->lock);
  int ready;
  if (mq->dq) {
    tg_disk_queue_stats st;
    tg_disk_queue_stats_get(mq->dq, &st);
    ready = !mq->closing && !mq->stopped && st.pending_records < (uint64_t)mq->qc.queue_size &&
            tg_disk_queue_has_room(mq->dq, 0);
  } else {
    ready = !mq->closing && !mq->stopped && mq->count < mq->cap &&
            (!mq->qc.max_bytes || mq->bytes < mq->qc.max_bytes);
  }
  pthread_mutex_unlock(&mq->lock);
  return ready;
}

size_t tg_export_queue_len(const tg_export_queue *q) {
  tg_export_queue *mq = (tg_export_queue *)q;
  pthread_mutex_lock(&mq->lock);
  size_t n = mq->count;
  if (mq->dq) {
    tg_disk_queue_stats st;
    tg_disk_queue_stats_get(mq->dq, &st);
    n = (size_t)st.pending_records - mq->busy;
  }
  pthread_mutex_unlock(&mq->lock);
  return n;
}

size_t tg_export_queue_busy(const tg_export_queue *q) {
  tg_export_queue *mq = (tg_export_queue *)q;
  pthread_mutex_lock(&mq->lock);
  size_t n = mq->busy;
  pthread_mutex_unlock(&mq->lock);
  return n;
}

int tg_export_queue_aborting(const tg_export_queue *q) {
  return atomic_load(&((tg_export_queue *)q)->aborting);
}

size_t tg_export_queue_stop(tg_export_queue *q, uint64_t grace_ms) {
  pthread_mutex_lock(&q->lock);
  if (q->stopped) {
    pthread_mutex_unlock(&q->lock);
    return 0;
  }
  q->closing = 1;
  pthread_cond_broadcast(&q->work);
  uint64_t deadline = mono_ms() + grace_ms;
  struct timespec ts = abs_deadline(deadline);
  while ((has_work(q) || q->busy) && q->live && mono_ms() < deadline) {
    if (pthread_cond_timedwait(&q->drained, &q->lock, &ts) == ETIMEDOUT)
      break;
  }
  atomic_store(&q->aborting, 1);
  pthread_cond_broadcast(&q->work);
  pthread_cond_broadcast(&q->wake);
  if (q->ops.abort) {
    for (size_t i = 0; i < (size_t)q->qc.num_consumers; i++)
      if (q->workers[i])
        q->ops.abort(q->ctx, q->workers[i]);
  }
  pthread_mutex_unlock(&q->lock);

  join_all(q);

  pthread_mutex_lock(&q->lock);
  size_t items = q->count, spans = 0;
  for (size_t i = 0; i < q->count; i++) {
    tg_export_item *it = &q->ring[(q->head + i) % q->cap];
    spans += it->span_count;
    tg_free(it->data);
    it->data = NULL;
    tg_batch_free(it->batch);
    it->batch = NULL;
    if (it->deferred)
      it->deferred->free(it->deferred);
    it->deferred = NULL;
  }
  q->count = 0;
  q->bytes = 0;
  q->stopped = 1;
  tg_disk_queue *dq = q->dq;
  q->dq = NULL;
  pthread_mutex_unlock(&q->lock);
  tg_metric_set(q->m_qsize, 0);
  if (dq) {
    tg_disk_queue_stats st;
    tg_disk_queue_stats_get(dq, &st);
    if (st.pending_records)
      TG_LOG_INFO(q->log, q->log_name,
                  "shutdown: %" PRIu64 " request(s) with %" PRIu64
                  " spans stay in the disk queue for the next start",
                  st.pending_records, st.pending_spans);
    tg_disk_queue_close(dq);
  }
  if (items) {
    tg_metric_add(q->m_failed, (int64_t)spans);
    TG_LOG_ERROR(q->log, q->log_name, "TG_ECLOSED",
                 "shutdown: %zu queued request(s) with %zu spans not sent within %" PRIu64
                 " ms, counted as failed", items, spans, grace_ms);
  }
  return spans;
}

void tg_export_queue_free(tg_export_queue *q) {
  if (!q)
    return;
  tg_export_queue_stop(q, 0);
  pthread_cond_destroy(&q->work);
  pthread_cond_destroy(&q->wake);
  pthread_cond_destroy(&q->drained);
  pthread_mutex_destroy(&q->lock);
  tg_free(q->ring);
  tg_free(q->threads);
  tg_free(q->workers);
  tg_free(q->name);
  tg_free(q->log_name);
  tg_free(q);
}

static void *pb_alloc(void *data, size_t size) {
  (void)data;
  return tg_malloc(size);
}

static void pb_free(void *data, void *ptr) {
  (void)data;
  tg_free(ptr);
}

void tg_send_outcome_from_response(const uint8_t *data, size_t len, tg_send_outcome *out) {
  if (!len)
    return;
  ProtobufCAllocator allocator = {pb_alloc, pb_free, NULL}; /* through tg_malloc */
  tg_export_response *r =
      opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
          &allocator, len, data);
  if (!r)
    return;
  const tg_export_partial_success *ps = r->partial_success;
  if (ps && (ps->rejected_spans > 0 || (ps->error_message && *ps->error_message))) {
    out->rejected_spans = ps->rejected_spans;
    snprintf(out->detail, sizeof out->detail, "partial success: %s",
             ps->error_message ? ps->error_message : "");
  }
  opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
      r, &allocator);
}

/* ---- the shared exporter ops ---- */

#define QUEUED_EXPORTER_DEFAULT_GRACE_MS 10000

/* The state of a queued exporter begins with its queue pointer (see the header). */
static tg_export_queue *queue_of(const tg_instance *self) {
  return self->state ? *(tg_export_queue *const *)self->state : NULL;
}

int tg_queued_exporter_consume(tg_instance *self, tg_batch *batch) {
  return tg_export_queue_push_batch(queue_of(self), batch);
}

void tg_queued_exporter_stop(tg_instance *self, tg_stop_done_fn done) {
  uint64_t grace = self->service && self->service->shutdown_grace_ms
                       ? self->service->shutdown_grace_ms
                       : QUEUED_EXPORTER_DEFAULT_GRACE_MS;
  tg_export_queue *q = queue_of(self);
  if (q)
    tg_export_queue_stop(q, grace);
  done(self);
}

int tg_queued_exporter_attach_storage(tg_instance *self, tg_errbuf *err) {
  tg_export_queue *q = queue_of(self);
  const char *id = q ? q->qc.storage : NULL;
  if (!id || !*id)
    return TG_OK;
  tg_instance *ext = NULL;
  for (size_t i = 0; self->service && (ext = tg_service_instance(self->service, i)); i++)
    if (ext->component->kind == TG_EXTENSION && !strcmp(ext->id, id))
      break;
  if (!ext)
    return tg_errf(err, TG_ECONFIG,
                   "sending_queue.storage: \"%s\" is not an extension listed in "
                   "service: extensions:", id);
  if (!ext->component->storage || !ext->component->storage->open_queue)
    return tg_errf(err, TG_ECONFIG, "sending_queue.storage: \"%s\" is not a storage "
                   "extension (file_storage)", id);
  tg_disk_queue *dq = NULL;
  tg_errbuf detail = {{0}};
  int rc = ext->component->storage->open_queue(ext, self->id, &dq, &detail);
  if (rc != TG_OK)
    return tg_errf(err, rc, "sending_queue.storage %s: %s", id, detail.msg);
  tg_export_queue_set_storage(q, dq);
  return TG_OK;
}

int tg_queued_exporter_ready(const tg_instance *self) {
  const tg_export_queue *q = queue_of(self);
  return q && tg_export_queue_ready(q);
}
