/* tail_sampling processor settings: the Collector's keys, plus max_memory_mib, and the
 * parsed policy tree (a TG_KEY_CUSTOM field: the policies list is parsed from the YAML
 * node tree, regexes compiled and every problem reported with its position). */
#ifndef TG_TS_CONF_H
#define TG_TS_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "tg_conf.h"

/* Span-level predicates are evaluated once per span at ingest and remembered as one bit
 * per (trace, predicate); this bounds how many a configuration may hold. */
#define TG_TS_MAX_LEAVES 64
/* Combinators (and, not, drop) nest at most this deep. */
#define TG_TS_MAX_DEPTH 4

typedef enum tg_ts_policy_type {
  TG_TS_ALWAYS_SAMPLE,
  TG_TS_LATENCY,
  TG_TS_NUMERIC_ATTRIBUTE,
  TG_TS_PROBABILISTIC,
  TG_TS_STATUS_CODE,
  TG_TS_STRING_ATTRIBUTE,
  TG_TS_BOOLEAN_ATTRIBUTE,
  TG_TS_TRACE_STATE,
  TG_TS_SPAN_COUNT,
  TG_TS_AND,
  TG_TS_NOT,
  TG_TS_DROP,
  TG_TS_RATE_LIMITING,
  TG_TS_TRACE_FLAGS,
  TG_TS_BYTES_LIMITING,
  TG_TS_COMPOSITE,
} tg_ts_policy_type;

/* status_code bits */
enum { TG_TS_STATUS_UNSET = 1u << 0, TG_TS_STATUS_OK = 1u << 1, TG_TS_STATUS_ERROR = 1u << 2 };

typedef struct tg_ts_policy tg_ts_policy;

/* One policy (or sub-policy). Owned by the config; immutable after parsing, so shards on
 * several threads may read it concurrently (mutable per-policy state, the rate limiter,
 * lives in the shard, indexed by rate_index). */
struct tg_ts_policy {
  char *name;
  tg_ts_policy_type type;
  tg_yaml_pos pos;
  int leaf;           /* span-level predicates: bit index in a trace's match mask, else -1 */
  int rate_index;     /* rate_limiting, bytes_limiting, composite: first limiter slot */
  /* latency */
  int64_t threshold_ms, upper_threshold_ms;
  /* attributes: numeric, string, boolean, trace_state */
  char *key;
  int64_t min_value, max_value;
  int has_min, has_max;
  int invert_match;
  char **values;
  size_t n_values;
  void **regexes;     /* pcre2_code *, n_values of them when regex matching is on */
  int bool_value;
  /* probabilistic */
  double sampling_percentage;
  char *hash_salt;
  uint64_t threshold;  /* T of the consistent-probability rule, precision 4 */
  /* status_code */
  unsigned status_mask;
  /* span_count */
  int64_t min_spans, max_spans;
  /* trace_flags: bits that must all be set (W3C sampled) */
  uint32_t flags_mask;
  /* rate_limiting (spans), bytes_limiting (bytes): token bucket */
  int64_t spans_per_second;
  int64_t bytes_per_second;
  int64_t burst_capacity;     /* 0: twice the rate */
  /* composite: spans per second for all, and each sub-policy's share (in order[]) */
  int64_t max_total_spans_per_second;
  int64_t *sub_allocation;    /* per sub-policy, indexed like subs */
  size_t *order;              /* evaluation order of subs (policy_order, else list order) */
  /* and, not, drop */
  tg_ts_policy *subs;
  size_t n_subs;
};

typedef struct tg_ts_policies {
  tg_ts_policy *items;
  size_t n;
  int n_leaves;   /* span-level predicates in the whole tree */
  int n_rates;    /* limiter slots: one per rate/bytes_limiting, one per composite sub */
  int has_probabilistic_top; /* a top-level probabilistic policy (for th: marking) */
} tg_ts_policies;

typedef struct tg_ts_conf {
  uint64_t decision_wait_ms;
  int64_t num_traces;
  int64_t expected_new_traces_per_sec;
  int64_t sampled_cache_size;
  int64_t non_sampled_cache_size;
  _Bool sample_on_first_match;
  int64_t max_memory_mib;
  int64_t num_workers;        /* 0: one per core */
  _Bool drop_pending_traces_on_shutdown;
  uint64_t maximum_trace_size_bytes; /* 0: no limit */
  _Bool decision_attributes; /* ours: kept spans name the policies and trigger */
  tg_ts_policies policies;
} tg_ts_conf;

#define TG_TS_CONF_N_KEYS 12
extern const tg_conf_key tg_ts_conf_keys[TG_TS_CONF_N_KEYS];
void tg_ts_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                      tg_diag *diag);

/* Parses a policies list (the YAML sequence under `policies`) into *out (a zeroed
 * tg_ts_policies); problems go to diag with positions. Whatever was stored, also on
 * error, is released by tg_ts_policies_free. */
void tg_ts_policies_parse(const tg_yaml_node *node, void *out, tg_diag *diag);
void tg_ts_policies_free(void *policies);

#endif
