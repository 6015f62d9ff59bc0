/* Worker threads (see ts_worker.h). The condition variable waits on CLOCK_MONOTONIC so a
 * wall-clock step cannot stall or rush decisions. */
#include "ts_worker.h"

#include <errno.h>
#include <time.h>

#include "tg_clock.h"
#include "ts_slice.h"

/* Upper bound on a sleep, so a fake clock in tests (tg_clock_set_fake) is noticed. */
#define MAX_SLEEP_MS 200

int ts_worker_init(ts_worker *w, atomic_size_t *inbox_bytes, void (*on_exit)(void *),
                   void *ctx) {
  w->inbox_bytes = inbox_bytes;
  w->on_exit = on_exit;
  w->exit_ctx = ctx;
  w->rest_ms = TS_WORKER_REST_MS;
  atomic_init(&w->exited, 0);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&w->cond, &attr);
  pthread_condattr_destroy(&attr);
  if (rc)
    return -1;
  pthread_mutex_init(&w->lock, NULL);
  return 0;
}

enum { RUNNING = 0, IDLE = 1, RESTING = 2 }; /* ts_worker.waiting */

/* Real monotonic ms: the rest between drains must pass even under a fake clock. */
static uint64_t real_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits on the condition variable for at most ms (capped at MAX_SLEEP_MS). */
static void wait_for(ts_worker *w, uint64_t ms) {
  if (ms > MAX_SLEEP_MS)
    ms = MAX_SLEEP_MS;
  if (ms == 0)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&w->cond, &w->lock, &ts);
}

/* With the lock held: returns when the worker has something to do (a stop, a trace due,
 * an inbox worth draining now). Until rest_until (real ms) it rests, whether or not the
 * inbox is empty, so posts in that time wake it only once TS_WORKER_BATCH_BYTES queue. */
static void wait_for_work(ts_worker *w, uint64_t rest_until) {
  for (;;) {
    if (w->stopping)
      return;
    uint64_t due = ts_shard_next_due(&w->shard), now = tg_clock_mono_ms();
    if (due <= now || w->queued >= TS_WORKER_BATCH_BYTES)
      return;
    uint64_t rnow = real_ms();
    if (rnow < rest_until) {
      w->waiting = RESTING;
      wait_for(w, rest_until - rnow < due - now ? rest_until - rnow : due - now);
    } else if (w->head) {
      return;
    } else {
      w->waiting = IDLE;
      wait_for(w, due - now);
    }
    w->waiting = RUNNING;
  }
}

static void *run(void *arg) {
  ts_worker *w = arg;
  pthread_setname_np(pthread_self(), "tg-tsample"); /* for top, perf and gdb */
  ts_shard *sh = &w->shard;
  uint64_t rest_until = 0;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    wait_for_work(w, rest_until);
    ts_msg *list = w->head;
    w->head = w->tail = NULL;
    w->queued = 0;
    int stop = w->stopping;
    pthread_mutex_unlock(&w->lock);
    int drained = list != NULL;
    while (list) {
      ts_msg *m = list;
      list = m->next;
      uint64_t now = tg_clock_mono_ms();
      ts_shard_ingest(sh, m, now);
      atomic_fetch_sub(w->inbox_bytes, ts_msg_charge(m));
      ts_msg_free(m);
      ts_shard_decide_due(sh, now); /* decisions keep pace with a long inbox */
    }
    ts_shard_decide_due(sh, tg_clock_mono_ms());
    if (stop) {
      ts_shard_decide_all(sh, tg_clock_mono_ms());
      ts_shard_flush(sh);
      break;
    }
    ts_shard_flush(sh);
    if (drained && w->rest_ms)
      rest_until = real_ms() + w->rest_ms;
    pthread_mutex_lock(&w->lock);
  }
  atomic_store(&w->exited, 1);
  w->on_exit(w->exit_ctx);
  return NULL;
}

int ts_worker_start(ts_worker *w) {
  if (pthread_create(&w->thread, NULL, run, w) != 0)
    return -1;
  w->started = 1;
  return 0;
}

void ts_worker_post(ts_worker *w, ts_msg *msg) {
  msg->next = NULL;
  pthread_mutex_lock(&w->lock);
  if (w->tail)
    w->tail->next = msg;
  else
    w->head = msg;
  w->tail = msg;
  w->queued += ts_msg_charge(msg);
  if (w->waiting == IDLE || (w->waiting == RESTING && w->queued >= TS_WORKER_BATCH_BYTES)) {
    w->waiting = RUNNING; /* one signal per wait: the worker is on its way */
    w->signals++;
    pthread_cond_signal(&w->cond);
  }
  pthread_mutex_unlock(&w->lock);
}

void ts_worker_request_stop(ts_worker *w) {
  pthread_mutex_lock(&w->lock);
  w->stopping = 1;
  w->waiting = RUNNING;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

void ts_worker_destroy(ts_worker *w) {
  if (w->started) {
    ts_worker_request_stop(w);
    pthread_join(w->thread, NULL);
    w->started = 0;
  }
  while (w->head) {
    ts_msg *m = w->head;
    w->head = m->next;
    atomic_fetch_sub(w->inbox_bytes, ts_msg_charge(m));
    ts_msg_free(m);
  }
  w->tail = NULL;
  ts_shard_free(&w->shard);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
}
