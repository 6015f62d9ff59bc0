/* Splitting OTLP trace data per backend on its wire form, without decoding spans.
 *
 * Input: ResourceSpans bodies (a batch's wire segments) or whole encoded
 * ExportTraceServiceRequests (a decoded batch packed once, or a request handed back for
 * re-routing). Output: one encoded ExportTraceServiceRequest per backend slot. Each
 * ScopeSpans of the input becomes, for every backend that gets some of its spans, one
 * ResourceSpans holding the resource part (every field but scope_spans), one ScopeSpans
 * holding the scope part (every field but spans) and those spans' bytes verbatim —
 * protobuf allows repeated fields to be split, so this is what the sender would have sent
 * to that backend alone (the shape processors/tail_sampling's emitter writes too).
 *
 * The routing key of each span is chosen by mode: the trace ID, service.name of the
 * resource, the resource's bytes, or the values of routing_attributes (looked up in the
 * resource's attributes, then the span's; a span with none of them routes by trace ID).
 * The caller's pick function maps a key to a backend slot (the ring, with stickiness for
 * trace IDs). Pure: no I/O, no global state. */
#ifndef TG_LB_SPLIT_H
#define TG_LB_SPLIT_H

#include <stddef.h>
#include <stdint.h>

enum { LB_KEY_TRACE_ID, LB_KEY_SERVICE, LB_KEY_RESOURCE, LB_KEY_ATTRIBUTES };

/* One backend's request being built (field 1 entries of an ExportTraceServiceRequest). */
typedef struct lb_out {
  uint8_t *data;
  size_t len, cap;
  size_t spans;
} lb_out;

/* Maps a span's key to a backend slot (0..n_outs-1), or -1 when there is none.
 * by_trace: key is the trace ID id (hash = tg_trace_id_hash(id)); else hash is the key's. */
typedef int64_t (*lb_pick_fn)(void *ctx, int by_trace, const uint8_t id[16], uint64_t hash);

typedef struct lb_span_ref {
  const uint8_t *data;
  size_t len;
  uint32_t out;
} lb_span_ref;

typedef struct lb_splitter {
  int mode;
  const char *const *attrs; /* routing_attributes (LB_KEY_ATTRIBUTES) */
  size_t n_attrs;
  lb_pick_fn pick;
  void *pick_ctx;
  lb_out *outs; /* n_outs, filled by the split calls */
  size_t n_outs;
  /* scratch, reused across calls */
  lb_span_ref *refs;
  size_t refs_cap;
  size_t *counts; /* n_outs */
  size_t counts_cap;
  uint8_t *prefix;
  size_t prefix_cap;
} lb_splitter;

/* Splits one ResourceSpans body (no tag or length) into s->outs. TG_OK, TG_EDECODE
 * (malformed bytes; outs may hold a part), TG_ENOMEM, or TG_EAGAIN (pick had no backend). */
int lb_split_resource_spans(lb_splitter *s, const uint8_t *body, size_t len);

/* Splits a whole encoded ExportTraceServiceRequest (its field 1 entries); as above. */
int lb_split_request(lb_splitter *s, const uint8_t *req, size_t len);

/* Empties every out (keeps their memory) / frees outs' memory and the scratch. */
void lb_outs_reset(lb_out *outs, size_t n);
void lb_outs_free(lb_out *outs, size_t n);
void lb_splitter_free_scratch(lb_splitter *s);

#endif
