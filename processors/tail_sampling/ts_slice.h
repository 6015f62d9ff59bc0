/* The loop thread's part of tail sampling: cutting a batch into one message per shard
 * (ts_msg.h), spans in wire form grouped under their resource and scope. Spans that
 * arrived as wire segments are referenced where they lie; a decoded tree (after a processor
 * that edits spans) is packed once. Everything else — inspection, buffering,
 * decisions — happens on the shards' worker threads. */
#ifndef TG_TS_SLICE_H
#define TG_TS_SLICE_H

#include <stddef.h>

#include "tg_batch.h"
#include "ts_msg.h"

/* Shard of a trace ID among n (a hash of all 16 bytes). */
size_t ts_shard_of(const uint8_t trace_id[16], size_t n);

/* Fills out[0..n_shards) with a message per shard that has spans (NULL otherwise).
 * The batch is read, not taken: a message whose records point into its wire segments
 * holds a reference of its own (ts_msg.h), so the caller may free the batch at once.
 * Returns TG_OK, or TG_ENOMEM / TG_EDECODE (a wire segment that does not parse) with
 * every message freed and out[] all NULL. */
int ts_slice_batch(tg_batch *batch, size_t n_shards, ts_msg **out);

void ts_msg_free(ts_msg *msg);

#endif
