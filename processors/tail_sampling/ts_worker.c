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

static void wait_until(ts_worker *w, uint64_t due_ms) {
  uint64_t now = tg_clock_mono_ms();
  uint64_t ms = due_ms > now ? due_ms - now : 0;
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

static void *run(void *arg) {
  ts_worker *w = arg;
  pthread_setname_np(pthread_self(), "tg-tsample"); /* for top, perf and gdb */
  ts_shard *sh = &w->shard;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    ts_msg *list = w->head;
    w->head = w->tail = NULL;
    int stop = w->stopping;
    pthread_mutex_unlock(&w->lock);
    while (list) {
      ts_msg *m = list;
      list = m->next;
      uint64_t now = tg_clock_mono_ms();
      ts_shard_ingest(sh, m, now);
      atomic_fetch_sub(w->inbox_bytes, m->cap);
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
    pthread_mutex_lock(&w->lock);
    if (!w->head && !w->stopping)
      wait_until(w, ts_shard_next_due(sh));
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
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

void ts_worker_request_stop(ts_worker *w) {
  pthread_mutex_lock(&w->lock);
  w->stopping = 1;
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
    atomic_fetch_sub(w->inbox_bytes, m->cap);
    ts_msg_free(m);
  }
  w->tail = NULL;
  ts_shard_free(&w->shard);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
}
