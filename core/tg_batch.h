/* A batch: spans in flight through a pipeline, and the memory they live in.
 *
 * Ownership: whoever holds a reference owns it. Passing a batch to a consumer transfers
 * the caller's reference (also when the consumer answers an error, except TG_EAGAIN:
 * see tg_component.h); tg_batch_free drops one. A fan-out to several read-only consumers hands each a reference (tg_batch_ref)
 * instead of a copy. A batch with more than one reference is read-only, and only its
 * sole holder may allocate from its arena or edit spans: a consumer that mutates gets a
 * clone from the fan-out (descriptor flag `mutates`).
 * The spans are OTLP protobuf-c structs (tg_span-t.h) allocated from `arena`. Batches
 * combined by tg_batch_append keep references to the arenas their spans came from, so
 * combining never copies span data. */
#ifndef TG_BATCH_H
#define TG_BATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_arena.h"
#include "tg_span-t.h"

/* A ResourceSpans still in its wire form: the bytes of one `resource_spans` entry of an
 * ExportTraceServiceRequest (the message body, without tag and length), in an arena the
 * batch holds or in a buffer such an arena adopted (a receiver's request body), already
 * checked to decode (see tg_batch_adopt_wire). */
typedef struct tg_wire_segment {
  const uint8_t *data;
  size_t len;
  size_t span_count;
} tg_wire_segment;

typedef struct tg_batch {
  tg_arena *arena;           /* this batch's own allocations */
  tg_arena **shared_arenas;  /* arenas of batches appended to this one (refs held) */
  size_t n_shared_arenas, cap_shared_arenas;
  tg_export_request request; /* decoded resource_spans; the array lives in an arena */
  tg_wire_segment *wire;     /* resource_spans not decoded yet (array in an arena) */
  size_t n_wire;
  size_t span_count;         /* decoded + wire */
  uint64_t received_unix_nano; /* when the first part arrived: for batch timeouts */
  /* metrics pipelines: the source this batch announces (tg_metric_source.h); not owned,
   * no spans. NULL in traces pipelines. */
  const struct tg_metric_source *metrics;
  atomic_uint refs;
} tg_batch;

/* A new empty batch whose arena starts at chunk_hint bytes and may reserve at most
 * limit_bytes (0 = unlimited). NULL when out of memory. */
tg_batch *tg_batch_new(size_t chunk_hint, size_t limit_bytes);

/* Drops one reference; the last frees the batch and its arena references. NULL is ignored. */
void tg_batch_free(tg_batch *batch);

/* Takes another reference (for a read-only consumer); returns batch. */
tg_batch *tg_batch_ref(tg_batch *batch);

/* Decodes an OTLP ExportTraceServiceRequest (protobuf) into an empty batch, allocating
 * only from its arena. Returns TG_OK, TG_EDECODE for malformed input or TG_ETOOBIG when
 * the arena limit is hit. On error the batch stays empty (its arena may hold garbage). */
int tg_batch_decode_otlp(tg_batch *batch, const uint8_t *data, size_t len);

/* Takes an encoded ExportTraceServiceRequest without decoding it: copies it into the
 * batch's arena and records each resource_spans entry as a wire segment. `segments` and
 * `span_counts` come from a scan that proved every segment decodes (the OTLP receiver's
 * tg_otlp_proto_scan); offsets are into data. Returns TG_OK, TG_ENOMEM or TG_ETOOBIG. */
int tg_batch_adopt_wire(tg_batch *batch, const uint8_t *data, size_t len,
                        const size_t *offsets, const size_t *lengths,
                        const size_t *span_counts, size_t n_segments);

/* The same without the copy: the batch takes buf (buf_size bytes, malloc'd; data lies
 * inside it) and its arena frees it with free_fn (NULL = tg_free) when the last batch
 * sharing that arena is freed, so merges and splits keep it alive. buf_size counts
 * against the arena's limit and in its used bytes (what the export queue charges), as
 * the copy did. Returns TG_OK (buf is the batch's, also with n_segments == 0), else
 * TG_ENOMEM or TG_ETOOBIG with buf still the caller's and the batch unchanged. */
int tg_batch_adopt_wire_owned(tg_batch *batch, void *buf, size_t buf_size,
                              void (*free_fn)(void *), const uint8_t *data,
                              const size_t *offsets, const size_t *lengths,
                              const size_t *span_counts, size_t n_segments);

/* Decodes every wire segment into the span tree, so the spans can be read. Only the sole
 * holder may call it, or a fan-out before it shares the batch (descriptor flag
 * `reads_spans`). Returns TG_OK (also when nothing was left to decode), TG_ENOMEM,
 * TG_EDECODE (a segment did not decode: a scan bug) or TG_EINVAL (batch is shared). */
int tg_batch_materialize(tg_batch *batch);

/* Encoded size and encoding of the batch as an ExportTraceServiceRequest: the decoded
 * tree packed, then the wire segments copied as they came. out must hold
 * tg_batch_encoded_size() bytes; returns the bytes written. */
size_t tg_batch_encoded_size(const tg_batch *batch);
size_t tg_batch_encode(const tg_batch *batch, uint8_t *out);

/* Recounts spans (after a processor edited the tree) and stores the count. */
size_t tg_batch_count_spans(tg_batch *batch);

/* Moves every resource_spans of src to the end of dst and frees src. dst keeps src's
 * arenas alive. On TG_ENOMEM both batches are unchanged and src is still the caller's. */
int tg_batch_append(tg_batch *dst, tg_batch *src);

/* Takes a reference to arena for as long as batch lives (for spans that point into it). */
int tg_batch_share_arena(tg_batch *batch, tg_arena *arena);

/* Deep copy in a new arena (for fan-out to a consumer that mutates). NULL on ENOMEM. */
tg_batch *tg_batch_clone(const tg_batch *batch);

/* Splits off the first max_spans spans into a new batch (sharing arenas); the rest stay
 * in batch. Messages shared with other batches are never modified: partial resources and
 * scopes are shallow-copied for both halves. Requires max_spans > 0 and a sole holder.
 * Returns the new batch, or NULL on ENOMEM (batch unchanged). */
tg_batch *tg_batch_split_front(tg_batch *batch, size_t max_spans);

#endif
