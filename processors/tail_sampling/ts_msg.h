/* What the loop thread hands a shard's worker: one message per (batch, shard), the
 * spans of that shard in wire form. Records, back to back:
 *   'H' varint rs_len, rs bytes, varint ss_len, ss bytes   the header of what follows
 *   'S' 16-byte trace id, varint len, Span bytes
 *   'R' 16-byte trace id, varint len, the address of the Span bytes (8 bytes, native)
 * rs is a ResourceSpans without its scope_spans, ss a ScopeSpans without its spans.
 * 'R' points into the batch the message holds a reference to (spans that arrived in
 * wire form are not copied on the loop thread: the worker copies them once, into the
 * trace's buffer); 'S' carries a span packed from a decoded tree.
 * The message is malloc'd by the slicer and freed by the worker that consumed it. */
#ifndef TG_TS_MSG_H
#define TG_TS_MSG_H

#include <stddef.h>
#include <stdint.h>

struct tg_batch;

typedef struct ts_msg ts_msg;
struct ts_msg {
  ts_msg *next;
  size_t len, cap;
  size_t spans;
  uint8_t *data;
  struct tg_batch *batch; /* a reference, while 'R' records point into it; or NULL */
  size_t ref_bytes;       /* span bytes of the 'R' records */
};

enum { TS_REC_HEADER = 'H', TS_REC_SPAN = 'S', TS_REC_SPAN_REF = 'R' };

/* What the message counts against the sampler's inbox bound: its own buffer and the
 * batch bytes it keeps alive. */
static inline size_t ts_msg_charge(const ts_msg *m) { return m->cap + m->ref_bytes; }

#endif
