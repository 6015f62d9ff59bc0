/* Why a trace was kept or dropped: the compact verdict record remembered per decided
 * trace, the decision attributes written onto kept spans, and the JSON the
 * /debug/sampling route answers with.
 *
 * The record is 16 bytes (two words, packed by hand so the layout does not depend on
 * the compiler's bit-field rules). It lives beside each slot of the decision caches,
 * only when decision_attributes or service.telemetry.debug_endpoints is on; a trace
 * still buffered costs nothing extra, since its summary (ts_trace) already holds what a
 * record is made from and the votes only exist once it is decided. */
#ifndef TG_TS_VERDICT_H
#define TG_TS_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "ts_conf.h"

/* Top-level policies a record names; decision_attributes accepts at most this many. */
#define TS_VERDICT_MAX_POLICIES 48

/* What a decision is remembered as. */
enum { TS_STATE_SAMPLED, TS_STATE_NOT_SAMPLED, TS_STATE_DROPPED };
/* Why it was taken then (TS_TRIGGER_* of ts_metrics.h, plus the bounds of "early"). */
enum { TS_CAUSE_WAIT, TS_CAUSE_EARLY, TS_CAUSE_SHUTDOWN };
enum { TS_EARLY_TRACES, TS_EARLY_MEMORY, TS_EARLY_TOO_LARGE };

typedef struct ts_verdict {
  uint64_t votes;       /* bit i: top-level policy i said sampled (a drop policy: dropped) */
  int state;            /* TS_STATE_* */
  int cause;            /* TS_CAUSE_* */
  int bound;            /* TS_EARLY_*, when cause is early */
  int debug;            /* kept only by an upstream debug flag */
  int prob_only;        /* kept only by probabilistic policies (ot=th: marked) */
  uint32_t span_count;  /* saturating at 2^20 - 1 */
  uint32_t wire_bytes;  /* saturating at 2^24 - 1 */
  uint32_t wait_ms;     /* first span to decision, saturating at 2^20 - 1 */
} ts_verdict;

typedef struct ts_verdict_rec {
  uint64_t w[2];
} ts_verdict_rec;

_Static_assert(sizeof(ts_verdict_rec) == 16, "a verdict record is 16 bytes");

#define TS_VERDICT_MAX_SPANS ((UINT32_C(1) << 20) - 1)
#define TS_VERDICT_MAX_BYTES ((UINT32_C(1) << 24) - 1)
#define TS_VERDICT_MAX_WAIT ((UINT32_C(1) << 20) - 1)

ts_verdict_rec ts_verdict_pack(const ts_verdict *v);
ts_verdict ts_verdict_unpack(ts_verdict_rec r);

/* Sets bit i of v->votes for every i < min(n, TS_VERDICT_MAX_POLICIES) whose verdict
 * (TS_VERDICT_* of ts_policy.h) is not NOT_SAMPLED. */
void ts_verdict_set_votes(ts_verdict *v, const uint8_t *verdicts, size_t n);

/* The value of tailgate.sampling.trigger: "decision_wait", "early:num_traces",
 * "early:max_memory_mib", "early:maximum_trace_size_bytes", "shutdown", "debug". */
const char *ts_verdict_trigger(const ts_verdict *v);

/* Appends to out the two Span.attributes entries (field 9, KeyValue) of a kept trace:
 * tailgate.sampling.policies, an array of the names of the policies whose bit is set in
 * votes (in configuration order), and tailgate.sampling.trigger = trigger. Appended
 * after a Span's bytes (a repeated field may be split), they add the attributes without
 * re-encoding the span. Returns TG_OK or TG_ENOMEM. */
int ts_verdict_attributes(tg_buf *out, const tg_ts_policies *policies, uint64_t votes,
                          const char *trigger);

/* Appends a JSON string (quoted, escaped) to out. */
int ts_json_string(tg_buf *out, const char *s, size_t len);

#endif
