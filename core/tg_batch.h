/* A batch: spans in flight through a pipeline, and the memory they live in.
 *
 * Ownership: a batch has exactly one owner. Passing it to a consumer transfers it (also
 * when the consumer answers an error); the owner frees it with tg_batch_free.
 * The spans are OTLP protobuf-c structs (tg_span-t.h) allocated from `arena`. Batches
 * combined by tg_batch_append keep references to the arenas their spans came from, so
 * combining never copies span data. */
#ifndef TG_BATCH_H
#define TG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "tg_arena.h"
#include "tg_span-t.h"

typedef struct tg_batch {
  tg_arena *arena;           /* this batch's own allocations */
  tg_arena **shared_arenas;  /* arenas of batches appended to this one (refs held) */
  size_t n_shared_arenas, cap_shared_arenas;
  tg_export_request request; /* resource_spans array lives in an arena */
  size_t span_count;
  uint64_t received_unix_nano; /* when the first part arrived: for batch timeouts */
} tg_batch;

/* A new empty batch whose arena starts at chunk_hint bytes and may reserve at most
 * limit_bytes (0 = unlimited). NULL when out of memory. */
tg_batch *tg_batch_new(size_t chunk_hint, size_t limit_bytes);

/* Frees the batch and drops its arena references. NULL is ignored. */
void tg_batch_free(tg_batch *batch);

/* Decodes an OTLP ExportTraceServiceRequest (protobuf) into an empty batch, allocating
 * only from its arena. Returns TG_OK, TG_EDECODE for malformed input or TG_ETOOBIG when
 * the arena limit is hit. On error the batch stays empty (its arena may hold garbage). */
int tg_batch_decode_otlp(tg_batch *batch, const uint8_t *data, size_t len);

/* Encoded size and encoding of the batch as an ExportTraceServiceRequest. out must hold
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
 * in batch. Returns the new batch, or NULL on ENOMEM. Requires max_spans > 0. */
tg_batch *tg_batch_split_front(tg_batch *batch, size_t max_spans);

#endif
