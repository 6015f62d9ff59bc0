/* Building the output of the sampler: kept spans, still in wire form, assembled into
 * ResourceSpans messages and handed downstream as a batch of wire segments (the
 * exporters write segments out verbatim, so a kept span is never decoded or re-encoded
 * unless its tracestate must carry the sampling threshold). Owned by one worker thread;
 * the batch it returns belongs to the caller. */
#ifndef TG_TS_EMIT_H
#define TG_TS_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "tg_batch.h"
#include "tg_buf.h"
#include "ts_store.h"

typedef struct ts_emitter {
  tg_buf data;          /* ResourceSpans bodies back to back */
  size_t *offsets, *lengths, *counts;
  size_t n, cap;
  size_t spans;
  tg_buf scratch;       /* spans rewritten with a new tracestate, back to back */
  tg_buf scratch_lens;  /* their lengths (size_t each) */
} ts_emitter;

void ts_emitter_init(ts_emitter *e);
void ts_emitter_free(ts_emitter *e);

/* Appends every span of a buffered trace, grouped by header. th_hex non-NULL sets
 * `ot=th:<th_hex>` in each span's tracestate. sfx (sfx_len bytes, may be NULL/0) is
 * appended to every span's bytes: encoded Span fields (the decision attributes), which
 * protobuf merges into the span without re-encoding it. Returns TG_OK or TG_ENOMEM (the
 * trace's spans are then not in the output). */
int ts_emit_trace(ts_emitter *e, const ts_store *s, const ts_trace *t, const char *th_hex,
                  const uint8_t *sfx, size_t sfx_len);

/* Appends one span under the given header bytes (late spans of a kept trace), with sfx
 * appended as in ts_emit_trace. */
int ts_emit_span(ts_emitter *e, const uint8_t *rs, size_t rs_len, const uint8_t *ss,
                 size_t ss_len, const uint8_t *span, size_t len, const uint8_t *sfx,
                 size_t sfx_len);

/* The output so far as a new batch (NULL when empty or out of memory: *lost then says
 * how many spans could not be handed on); the emitter is empty afterwards. */
tg_batch *ts_emit_take(ts_emitter *e, size_t *lost);

/* Appends span to out with its tracestate set to carry th (see tg_ts_tracestate_set_th).
 * Returns TG_OK or TG_ENOMEM. The span is copied unchanged when its tracestate already
 * carries a threshold at least as high (an upstream sampler kept it with a smaller
 * probability), or when the result would exceed W3C's 512 bytes. */
int ts_span_set_threshold(const uint8_t *span, size_t len, const char *th_hex, tg_buf *out);

#endif
