/* The pre-fast-path span walk (ts_span_ref.c), for differential tests only. */
#ifndef TS_SPAN_REF_H
#define TS_SPAN_REF_H

#include "ts_span.h"

int ref_ts_span_inspect(const uint8_t *span, size_t len, const ts_leaves *leaves,
                        void *match_data, ts_span_info *out);

#endif
