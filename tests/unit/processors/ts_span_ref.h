/* The pre-fast-path span walk (ts_span_ref.c), for differential tests only. */
#ifndef TS_SPAN_REF_H
#define TS_SPAN_REF_H

#include "ts_span.h"

int ref_ts_span_inspect(const uint8_t *span, size_t len, const ts_leaves *leaves,
                        void *match_data, ts_span_info *out);
void ref_ts_leaves_collect(const tg_ts_policies *policies, ts_leaves *out);
uint64_t ref_ts_resource_leaf_mask(const uint8_t *resource, size_t len,
                                   const ts_leaves *leaves, void *match_data);
int ref_ts_trace_state_has(const uint8_t *ts, size_t len, const char *key,
                           char *const *values, size_t n_values);

#endif
