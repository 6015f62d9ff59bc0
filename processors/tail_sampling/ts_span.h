/* Reading a span in its wire form: the fields a sampling decision needs (times, status,
 * flags, tracestate, the debug mark) and the span-level predicates of the policy tree
 * (attribute, status, tracestate and flag policies: the "leaves"), evaluated once per
 * span at ingest and remembered per trace as one bit per leaf. Resource attributes are
 * evaluated once per distinct resource (see ts_store's headers). */
#ifndef TG_TS_SPAN_H
#define TG_TS_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "ts_conf.h"

/* The leaves of a policy tree, by bit index (tg_ts_policy.leaf). */
typedef struct ts_leaves {
  const tg_ts_policy *items[TG_TS_MAX_LEAVES];
  int n;
  int any_attribute; /* some leaf reads attributes */
} ts_leaves;

/* Collects the leaves of every policy in the tree. */
void ts_leaves_collect(const tg_ts_policies *policies, ts_leaves *out);

enum { TS_STATUS_UNSET = 0, TS_STATUS_OK = 1, TS_STATUS_ERROR = 2 };

typedef struct ts_span_info {
  const uint8_t *trace_id; /* 16 bytes inside the span, or NULL when absent/invalid */
  uint64_t start_unix_nano, end_unix_nano;
  int status;              /* TS_STATUS_* */
  uint32_t flags;
  const uint8_t *trace_state; /* inside the span; may be NULL */
  size_t trace_state_len;
  uint64_t leaf_mask;      /* bit i: leaf i matched this span */
  int debug;               /* attribute sampling.priority >= 1: force keep */
} ts_span_info;

/* Reads a Span message. match_data is a pcre2_match_data * owned by the calling thread
 * (regex leaves match into it; NULL when no leaf uses regexes). Returns 0, or -1 when
 * the bytes are not a well-formed span. */
int ts_span_inspect(const uint8_t *span, size_t len, const ts_leaves *leaves,
                    void *match_data, ts_span_info *out);

/* The two parts of ts_span_inspect that do not walk the span, exposed so the test-only
 * reference walk (tests/unit/processors/ts_span_ref.c) shares them instead of copying:
 * the leaf bits (and the debug mark) of one KeyValue, and the leaves decided by span
 * fields (status, trace state, flags). */
uint64_t ts_span_kv_leaf_mask(const uint8_t *kv, size_t len, const ts_leaves *leaves,
                              void *match_data, int *debug);
uint64_t ts_span_field_leaf_mask(const ts_span_info *info, const ts_leaves *leaves);

/* Leaf bits matched by the attributes of a Resource message (attribute leaves only:
 * status, tracestate and flags belong to spans). */
uint64_t ts_resource_leaf_mask(const uint8_t *resource, size_t len, const ts_leaves *leaves,
                               void *match_data);

/* Whether a W3C tracestate holds key=value with value among values (exact match). */
int ts_trace_state_has(const uint8_t *ts, size_t len, const char *key, char *const *values,
                       size_t n_values);

#endif
