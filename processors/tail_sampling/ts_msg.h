/* What the loop thread hands a shard's worker: one message per (batch, shard), the
 * spans of that shard in wire form. Records, back to back:
 *   'H' varint rs_len, rs bytes, varint ss_len, ss bytes   the header of what follows
 *   'S' 16-byte trace id, varint len, Span bytes
 * rs is a ResourceSpans without its scope_spans, ss a ScopeSpans without its spans.
 * The message is malloc'd by the slicer and freed by the worker that consumed it. */
#ifndef TG_TS_MSG_H
#define TG_TS_MSG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_msg ts_msg;
struct ts_msg {
  ts_msg *next;
  size_t len, cap;
  size_t spans;
  uint8_t *data;
};

enum { TS_REC_HEADER = 'H', TS_REC_SPAN = 'S' };

#endif
