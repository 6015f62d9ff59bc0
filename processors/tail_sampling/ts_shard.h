/* One shard of the tail sampler: the traces whose IDs hash to it, their decisions and
 * caches, and the output of kept spans. Single-threaded by design — a worker thread owns
 * each shard (ts_worker.c), so the hot path takes no lock; time is passed in, so the
 * unit tests drive a shard without threads or sleeping. */
#ifndef TG_TS_SHARD_H
#define TG_TS_SHARD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_batch.h"
#include "tg_kept_traces.h"
#include "ts_cache.h"
#include "ts_conf.h"
#include "ts_emit.h"
#include "ts_metrics.h"
#include "ts_msg.h"
#include "ts_policy.h"
#include "ts_store.h"

/* Where kept spans go: called with a batch the callee then owns. */
typedef void (*ts_deliver_fn)(void *ctx, tg_batch *batch);

typedef struct ts_shard {
  const tg_ts_conf *conf;
  const ts_leaves *leaves;
  ts_limiters *limiters;      /* shared by every shard (atomic) */
  ts_metrics *metrics;        /* shared (atomic cells) */
  tg_kept_traces *kept;       /* the service's registry, may be NULL */
  size_t max_traces, max_bytes;
  ts_store store;
  ts_cache sampled, not_sampled;
  ts_emitter out;
  void *match_data;           /* pcre2_match_data for regex leaves */
  uint8_t *verdicts;          /* per top-level policy, for the decision metrics */
  ts_deliver_fn deliver;
  void *deliver_ctx;
  size_t reported_traces, reported_bytes; /* last values added to the gauges */
  tg_buf attrs;               /* decision attributes of the trace being emitted */
  size_t index;               /* which shard of its processor (for answers) */
  /* Queries (ts_shard_query) come from the loop thread while the worker runs. When
   * enabled, the worker holds `lock` while it ingests one message or decides a run of
   * due traces — never per span — and the query takes it once: see ts_shard_query. */
  int queryable;
  pthread_mutex_t lock;
} ts_shard;

/* Sets up a shard with its share of the bounds. Returns 0 or -1 on ENOMEM (then
 * ts_shard_free is still safe). */
int ts_shard_init(ts_shard *sh, const tg_ts_conf *conf, const ts_leaves *leaves,
                  ts_limiters *limiters, ts_metrics *metrics, tg_kept_traces *kept,
                  size_t max_traces, size_t max_bytes, ts_deliver_fn deliver, void *ctx);
void ts_shard_free(ts_shard *sh);

/* Makes the shard answer ts_shard_query: verdict records in both decision caches and
 * the query lock. Call before the worker starts. Returns 0 or -1 on ENOMEM. */
int ts_shard_enable_queries(ts_shard *sh);

/* Appends a JSON object describing trace id as this shard knows it (its "processor"
 * member is the given id): buffered (first
 * span time, spans, bytes), or remembered by a decision cache (state, decision time,
 * spans, bytes, trigger, each top-level policy's verdict). Thread-safe against the
 * worker (takes the query lock; the worker holds it for at most one message's ingest).
 * now_mono_ms/now_unix_ms convert the shard's monotonic times to wall-clock.
 * Returns TG_OK, TG_ENOTFOUND (not buffered, not remembered: the caches are bounded by
 * decision_cache sizes), TG_EINVAL (queries not enabled) or TG_ENOMEM. */
int ts_shard_query(ts_shard *sh, const char *processor, const uint8_t id[16],
                   uint64_t now_mono_ms, uint64_t now_unix_ms, tg_buf *out);

/* Buffers (or, for decided traces, forwards or drops) every span of msg; enforces the
 * bounds by deciding the oldest traces early. Does not free msg. */
void ts_shard_ingest(ts_shard *sh, const ts_msg *msg, uint64_t now_ms);

/* Decides every trace whose decision_wait has passed by now_ms; returns how many. */
size_t ts_shard_decide_due(ts_shard *sh, uint64_t now_ms);

/* Decides every buffered trace (shutdown). */
void ts_shard_decide_all(ts_shard *sh, uint64_t now_ms);

/* When the next trace falls due (monotonic ms), or UINT64_MAX when none is buffered. */
uint64_t ts_shard_next_due(const ts_shard *sh);

/* Hands what was kept so far to deliver. */
void ts_shard_flush(ts_shard *sh);

#endif
