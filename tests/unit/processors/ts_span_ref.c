/* Test-only reference: ts_span_inspect's walk as it was before the one-byte-tag fast walk
 * (issue 14), kept for test_ts_span.c's differential check. The parts that did not change
 * (a KeyValue's leaf bits, the span-field leaves) are the production ones. Do not edit
 * except to follow API changes. */
#include "ts_span_ref.h"

#include <string.h>

#include "ts_wire.h"

/* Span field numbers (opentelemetry/proto/trace/v1/trace.proto). */
enum {
  SPAN_TRACE_ID = 1, SPAN_TRACE_STATE = 3, SPAN_START = 7, SPAN_END = 8,
  SPAN_ATTRIBUTES = 9, SPAN_STATUS = 15, SPAN_FLAGS = 16, STATUS_CODE = 3,
};

int ref_ts_span_inspect(const uint8_t *span, size_t len, const ts_leaves *leaves,
                    void *match_data, ts_span_info *out) {
  memset(out, 0, sizeof *out);
  ts_reader r = ts_reader_of(span, len);
  ts_field f;
  int rc;
  while ((rc = ts_next_field(&r, &f)) == 1) {
    switch (f.number) {
    case SPAN_TRACE_ID:
      if (f.wire_type == TS_WT_LEN && f.len == 16)
        out->trace_id = f.data;
      break;
    case SPAN_TRACE_STATE:
      if (f.wire_type == TS_WT_LEN) {
        out->trace_state = f.data;
        out->trace_state_len = f.len;
      }
      break;
    case SPAN_START:
      if (f.wire_type == TS_WT_I64)
        out->start_unix_nano = f.value;
      break;
    case SPAN_END:
      if (f.wire_type == TS_WT_I64)
        out->end_unix_nano = f.value;
      break;
    case SPAN_ATTRIBUTES:
      if (f.wire_type == TS_WT_LEN)
        out->leaf_mask |= ts_span_kv_leaf_mask(f.data, f.len, leaves, match_data, &out->debug);
      break;
    case SPAN_STATUS:
      if (f.wire_type == TS_WT_LEN) {
        ts_reader sr = ts_reader_of(f.data, f.len);
        ts_field sf;
        while (ts_next_field(&sr, &sf) == 1)
          if (sf.number == STATUS_CODE && sf.wire_type == TS_WT_VARINT)
            out->status = sf.value == 2 ? TS_STATUS_ERROR
                          : sf.value == 1 ? TS_STATUS_OK : TS_STATUS_UNSET;
      }
      break;
    case SPAN_FLAGS:
      if (f.wire_type == TS_WT_I32)
        out->flags = (uint32_t)f.value;
      break;
    default:
      break;
    }
  }
  if (rc < 0)
    return -1;
  out->leaf_mask |= ts_span_field_leaf_mask(out, leaves);
  return 0;
}
