/* A decision cache: the IDs of recently decided traces (one cache for kept, one for
 * dropped), so late spans follow their trace's decision. Bounded at creation; when full
 * the oldest ID is forgotten (FIFO), as the Collector's LRU-sized caches do for a stream
 * where every ID is inserted once. One worker thread owns a cache. */
#ifndef TG_TS_CACHE_H
#define TG_TS_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_cache {
  uint8_t (*ids)[16];  /* ring of inserted IDs */
  uint64_t *when_ms;   /* when each was decided (monotonic ms) */
  uint32_t *next;      /* hash chain per ring slot */
  uint32_t *buckets;
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

#endif
