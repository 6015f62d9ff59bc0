/* Policy evaluation: a decided trace's summary (ts_trace: span count, duration, status
 * and leaf bits gathered at ingest) against the policy tree, with the Collector's rules:
 *   - drop policies are evaluated first; any Dropped verdict drops the trace;
 *   - otherwise any Sampled verdict keeps it; otherwise it is not sampled;
 *   - sample_on_first_match stops at the first Sampled;
 *   - invert_match is a plain negation (the Collector's behaviour since invert decisions
 *     were retired), not a veto;
 *   - a span with sampling.priority >= 1 (an upstream debug flag) keeps the trace.
 * Rate, bytes and composite limiters are shared by every shard; each is a token bucket
 * or per-second counter behind its own mutex, touched once per decided trace. */
#ifndef TG_TS_POLICY_H
#define TG_TS_POLICY_H

#include <pthread.h>
#include <stdint.h>

#include "ts_conf.h"
#include "ts_store.h"

typedef struct ts_limiter {
  pthread_mutex_t lock;
  double tokens;        /* token buckets */
  uint64_t last_ms;
  int64_t second;       /* composite: the unix second counted, and its spans */
  int64_t spent;
} ts_limiter;

typedef struct ts_limiters {
  ts_limiter *items;
  int n;
} ts_limiters;

int ts_limiters_init(ts_limiters *l, int n);
void ts_limiters_free(ts_limiters *l);

enum { TS_VERDICT_NOT_SAMPLED, TS_VERDICT_SAMPLED, TS_VERDICT_DROPPED,
       TS_VERDICT_PENDING /* ts_policy_preview only: depends on a limiter */ };

typedef struct ts_decision {
  int keep;
  int by_probabilistic_only; /* kept, and only probabilistic policies said so */
  uint64_t threshold;        /* their threshold (the smallest, when several agree) */
  int debug;                 /* kept because of sampling.priority */
} ts_decision;

/* One evaluated policy (or sub-policy), for explanations: notes are written in
 * evaluation order (a parent before its sub-policies), depth 0 at the top level. */
typedef struct ts_note {
  const tg_ts_policy *policy;
  int depth;
  int verdict;          /* TS_VERDICT_* */
  int limited;          /* a limiter refused: token bucket short, composite share spent */
  int64_t value;        /* latency: duration ms; span_count: spans; rate/bytes/composite:
                           the trace's cost (spans or bytes) */
  double available;     /* rate/bytes: tokens before; composite: spans spent this second */
  uint64_t r, t;        /* probabilistic: randomness and rejection threshold */
  int sub;              /* composite: the sub-policy that matched first, or -1 */
  int64_t share;        /* composite: that sub-policy's spans per second */
} ts_note;

#define TS_MAX_NOTES 256
typedef struct ts_explain {
  ts_note notes[TS_MAX_NOTES];
  size_t n;
  int truncated;        /* more policies were evaluated than notes fit */
} ts_explain;

/* Decides one trace. verdicts (n = policies->n, may be NULL) receives each top-level
 * policy's TS_VERDICT_* (policies not evaluated after a first match count as not sampled).
 * now_ms is monotonic (token buckets), now_unix_s wall-clock (composite's seconds). */
ts_decision ts_policy_decide(const tg_ts_conf *conf, const ts_trace *t, ts_limiters *limiters,
                             uint64_t now_ms, int64_t now_unix_s, uint8_t *verdicts);

/* ts_policy_decide, also writing a note per evaluated policy into *x (reset first). The
 * decision is the same, limiters included (an explanation spends tokens as a live
 * decision would). */
ts_decision ts_policy_decide_explained(const tg_ts_conf *conf, const ts_trace *t,
                                       ts_limiters *limiters, uint64_t now_ms,
                                       int64_t now_unix_s, uint8_t *verdicts, ts_explain *x);

/* Each top-level policy's verdict if the trace were decided now, from what has arrived
 * so far (for questions about a buffered trace). Touches no limiter: rate_limiting,
 * bytes_limiting and composite policies, and combinators whose outcome depends on them,
 * answer TS_VERDICT_PENDING. verdicts has conf->policies.n entries. */
void ts_policy_preview(const tg_ts_conf *conf, const ts_trace *t, uint8_t *verdicts);

#endif
