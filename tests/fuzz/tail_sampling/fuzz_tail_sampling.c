/* libFuzzer target: OTLP request bytes → the receiver's index (what reaches the sampler
 * in production) → slicing into shards → span inspection against a policy list that
 * exercises every span-level predicate → decisions → emitted wire segments. Invariants:
 * with always_sample in the list every span comes out exactly once, and every emitted
 * batch decodes. The raw bytes also go to the slicer unvalidated, which must reject or
 * accept them without reading out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processors/tail_sampling/ts_shard.h"
#include "processors/tail_sampling/ts_slice.h"
#include "receivers/otlp/otlp.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_yaml.h"

#define SHARDS 2

static const char policies_yaml[] =
    "decision_wait: 1s\n"
    "decision_cache: {sampled_cache_size: 8, non_sampled_cache_size: 8}\n"
    "policies:\n"
    "  - {name: all, type: always_sample}\n"
    "  - {name: e, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}\n"
    "  - {name: r, type: string_attribute, string_attribute: {key: k, values: ['^a.*z$', x], enabled_regex_matching: true}}\n"
    "  - {name: n, type: numeric_attribute, numeric_attribute: {key: n, min_value: -5, max_value: 5}}\n"
    "  - {name: b, type: boolean_attribute, boolean_attribute: {key: b, value: true}}\n"
    "  - {name: s, type: trace_state, trace_state: {key: ot, values: ['th:8']}}\n"
    "  - {name: f, type: trace_flags}\n"
    "  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n";

static tg_ts_conf conf;
static ts_leaves leaves;
static ts_limiters limiters;
static ts_metrics metrics;
static size_t emitted;
static int validated; /* input passed the receiver's index: output must decode */

static void setup(void) {
  static int done;
  if (done)
    return;
  done = 1;
  tg_diag diag;
  tg_diag_init(&diag);
  tg_yaml_doc *doc = tg_yaml_parse("fuzz", policies_yaml, strlen(policies_yaml), &diag);
  tg_conf_apply(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, tg_yaml_root(doc), &conf, "fuzz", &diag);
  tg_yaml_free(doc);
  if (tg_diag_count(&diag))
    abort();
  tg_diag_free(&diag);
  ts_leaves_collect(&conf.policies, &leaves);
  ts_limiters_init(&limiters, conf.policies.n_rates);
  ts_metrics_init(&metrics, NULL, "fuzz", &conf.policies);
}

static void deliver(void *ctx, tg_batch *b) {
  (void)ctx;
  size_t n = b->span_count;
  if (validated && (tg_batch_materialize(b) != TG_OK || tg_batch_count_spans(b) != n))
    abort(); /* the sampler emitted something that does not decode */
  emitted += n;
  tg_batch_free(b);
}

static void run_shards(tg_batch *batch) {
  ts_msg *msgs[SHARDS];
  if (ts_slice_batch(batch, SHARDS, msgs) != TG_OK)
    return;
  emitted = 0;
  for (int i = 0; i < SHARDS; i++) {
    ts_shard sh;
    if (ts_shard_init(&sh, &conf, &leaves, &limiters, &metrics, NULL, 4, 1 << 20, deliver,
                      NULL) == 0 && msgs[i]) {
      ts_shard_ingest(&sh, msgs[i], 0);
      ts_shard_ingest(&sh, msgs[i], 10); /* again: joins buffered traces */
      ts_shard_decide_all(&sh, 2000);
      ts_shard_ingest(&sh, msgs[i], 3000); /* late: the caches answer */
      ts_shard_decide_all(&sh, 4000);
      ts_shard_flush(&sh);
    }
    ts_shard_free(&sh);
    ts_msg_free(msgs[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  /* unvalidated bytes as one ResourceSpans segment: no crash, no overread */
  tg_batch *raw = tg_batch_new(size + 64, 0);
  const size_t zero = 0, one = 1;
  validated = 0;
  if (raw && tg_batch_adopt_wire(raw, data, size, &zero, &size, &one, 1) == TG_OK)
    run_shards(raw);
  tg_batch_free(raw);

  tg_otlp_wire_index idx;
  char err[256];
  if (tg_otlp_proto_index(data, size, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err, &idx) != TG_OK ||
      idx.overflow || idx.merges || idx.invalid_spans)
    return 0;
  tg_batch *batch = tg_batch_new(size + 1024, 0);
  if (!batch)
    return 0;
  if (tg_batch_adopt_wire(batch, data, size, idx.offsets, idx.lengths, idx.span_counts,
                          idx.n) == TG_OK) {
    size_t in = batch->span_count;
    validated = 1;
    run_shards(batch);
    /* always_sample: every span comes out once per time it went in (three times) */
    if (emitted != 3 * in)
      abort();
  }
  tg_batch_free(batch);
  return 0;
}
