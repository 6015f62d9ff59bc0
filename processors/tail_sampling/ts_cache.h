/* A decision cache: the IDs of recently decided traces (one cache for kept, one for
 * dropped), so late spans follow their trace's decision. Bounded at creation; when full
 * the oldest ID is forgotten (FIFO), as the Collector's LRU-sized caches do for a stream
 * where every ID is inserted once. One worker thread owns a cache. */
#ifndef TG_TS_CACHE_H
#define TG_TS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "ts_verdict.h"

typedef struct ts_cache {
  uint8_t (*ids)[16];  /* ring of inserted IDs */
  uint64_t *when_ms;   /* when each was decided (monotonic ms) */
  uint32_t *next;      /* hash chain per ring slot: next slot + 1, 0 ends the chain */
  uint32_t *buckets;   /* first slot + 1 per bucket, 0 = empty (calloc'd: idle pages unmapped) */
  ts_verdict_rec *recs; /* per ring slot, when records are kept (ts_cache_keep_records) */
  size_t capacity, bucket_mask;
  size_t head, count;
} ts_cache;

/* capacity 0 makes a cache that remembers nothing. Returns 0 or -1 on ENOMEM. */
int ts_cache_init(ts_cache *c, size_t capacity);
void ts_cache_free(ts_cache *c);
void ts_cache_put(ts_cache *c, const uint8_t id[16], uint64_t decided_ms);
/* 1 when the ID is remembered (with its decision time in *decided_ms if non-NULL). */
int ts_cache_has(const ts_cache *c, const uint8_t id[16], uint64_t *decided_ms);
size_t ts_cache_bytes(const ts_cache *c);

/* Gives every slot a verdict record (16 bytes each), for decision attributes on late
 * spans and the debug route. Returns 0 or -1 on ENOMEM (the cache then keeps none). */
int ts_cache_keep_records(ts_cache *c);
/* ts_cache_put that also stores rec (ignored when the cache keeps no records). */
void ts_cache_put_rec(ts_cache *c, const uint8_t id[16], uint64_t decided_ms,
                      const ts_verdict_rec *rec);
/* The record of a remembered ID: 1 with *rec (and *decided_ms if non-NULL) set, 0 when
 * the ID is not remembered or the cache keeps no records. */
int ts_cache_get_rec(const ts_cache *c, const uint8_t id[16], uint64_t *decided_ms,
                     ts_verdict_rec *rec);

#endif
