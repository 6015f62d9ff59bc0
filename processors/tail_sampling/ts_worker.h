/* A worker thread and the shard it owns. The loop thread posts messages into the
 * worker's inbox (a list behind the worker's own mutex: one short critical section per
 * batch, never per span); the worker ingests them, decides traces as they fall due and
 * hands kept spans back through the processor's deliver callback. Between inbox drains
 * it sleeps on a condition variable until the next trace is due, so the decision timer
 * is never behind ingest by more than one message.
 *
 * Wake-ups are coalesced (issue 14: a wake-up per request per shard, plus the outbox's
 * uv_async_send back, was the largest single cost under load). A poster signals only a
 * worker that sleeps in a wait the post should end: an idle worker (empty inbox) on the
 * first message, a resting one only once its inbox holds TS_WORKER_BATCH_BYTES. After a
 * drain the worker rests TS_WORKER_REST_MS before the next one (even with an empty
 * inbox: then it goes idle) unless that much queues up, a trace falls due or it is asked
 * to stop; so under load it drains (and flushes
 * kept spans to the outbox) at most about 1000 / TS_WORKER_REST_MS times a second, each
 * time everything queued, while a message reaching an idle worker that has not drained
 * in the last TS_WORKER_REST_MS is ingested at once. */
#ifndef TG_TS_WORKER_H
#define TG_TS_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "ts_shard.h"

/* A drained worker rests this long before draining again (see above). */
#define TS_WORKER_REST_MS 5
/* ... unless its inbox holds this many bytes. */
#define TS_WORKER_BATCH_BYTES ((size_t)1 << 20)

typedef struct ts_worker {
  pthread_t thread;
  int started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  ts_msg *head, *tail;      /* inbox, guarded by lock */
  size_t queued;            /* guarded by lock: bytes (msg cap) in the inbox */
  int waiting;              /* guarded by lock: 0 running, 1 idle, 2 resting */
  size_t signals;           /* guarded by lock: cond signals posters sent (for tests) */
  unsigned rest_ms;         /* TS_WORKER_REST_MS (tests set it before the start) */
  int stopping;             /* guarded by lock: decide everything, then exit */
  atomic_int exited;
  atomic_size_t *inbox_bytes; /* the processor's in-flight byte count */
  void (*on_exit)(void *ctx);
  void *exit_ctx;
  ts_shard shard;
} ts_worker;

/* Initialises the inbox (the shard is set up by the caller). Returns 0 or -1. */
int ts_worker_init(ts_worker *w, atomic_size_t *inbox_bytes, void (*on_exit)(void *),
                   void *ctx);
int ts_worker_start(ts_worker *w);
/* Queues a message (the worker frees it); signals the worker only when it sleeps in a
 * wait this message should end (see above). */
void ts_worker_post(ts_worker *w, ts_msg *msg);
/* Asks the worker to decide every trace and exit; on_exit is called from its thread. */
void ts_worker_request_stop(ts_worker *w);
/* Joins the thread (after on_exit) and frees the inbox and shard. Safe if never started. */
void ts_worker_destroy(ts_worker *w);

#endif
