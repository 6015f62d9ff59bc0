/* Decision cache: a ring of IDs plus chained buckets indexing the ring. Evicting the
 * ring's oldest slot unlinks it from its chain, so a lookup never sees a forgotten ID. */
#include "ts_cache.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_trace_id.h"

#define NONE UINT32_MAX

static size_t slot_hash(const ts_cache *c, const uint8_t id[16]) {
  return (size_t)tg_trace_id_hash(id) & c->bucket_mask;
}

int ts_cache_init(ts_cache *c, size_t capacity) {
  memset(c, 0, sizeof *c);
  if (capacity == 0)
    return 0;
  if (capacity > UINT32_MAX - 1)
    capacity = UINT32_MAX - 1;
  size_t nb = 16;
  while (nb < capacity)
    nb <<= 1;
  c->ids = tg_malloc(capacity * sizeof *c->ids);
  c->next = tg_malloc(capacity * sizeof *c->next);
  c->when_ms = tg_malloc(capacity * sizeof *c->when_ms);
  c->buckets = tg_malloc(nb * sizeof *c->buckets);
  if (!c->ids || !c->next || !c->when_ms || !c->buckets) {
    ts_cache_free(c);
    return -1;
  }
  memset(c->buckets, 0xff, nb * sizeof *c->buckets);
  c->capacity = capacity;
  c->bucket_mask = nb - 1;
  return 0;
}

void ts_cache_free(ts_cache *c) {
  tg_free(c->ids);
  tg_free(c->next);
  tg_free(c->when_ms);
  tg_free(c->buckets);
  memset(c, 0, sizeof *c);
}

static void unlink_slot(ts_cache *c, uint32_t slot) {
  uint32_t *link = &c->buckets[slot_hash(c, c->ids[slot])];
  while (*link != NONE && *link != slot)
    link = &c->next[*link];
  if (*link == slot)
    *link = c->next[slot];
}

void ts_cache_put(ts_cache *c, const uint8_t id[16], uint64_t decided_ms) {
  if (!c->capacity || ts_cache_has(c, id, NULL))
    return;
  uint32_t slot;
  if (c->count < c->capacity) {
    slot = (uint32_t)((c->head + c->count) % c->capacity);
    c->count++;
  } else {
    slot = (uint32_t)c->head;
    unlink_slot(c, slot);
    c->head = (c->head + 1) % c->capacity;
  }
  memcpy(c->ids[slot], id, 16);
  c->when_ms[slot] = decided_ms;
  size_t b = slot_hash(c, id);
  c->next[slot] = c->buckets[b];
  c->buckets[b] = slot;
}

int ts_cache_has(const ts_cache *c, const uint8_t id[16], uint64_t *decided_ms) {
  if (!c->capacity)
    return 0;
  for (uint32_t i = c->buckets[slot_hash(c, id)]; i != NONE; i = c->next[i])
    if (memcmp(c->ids[i], id, 16) == 0) {
      if (decided_ms)
        *decided_ms = c->when_ms[i];
      return 1;
    }
  return 0;
}

size_t ts_cache_bytes(const ts_cache *c) {
  return c->capacity * (sizeof *c->ids + sizeof *c->next + sizeof *c->when_ms) +
         (c->capacity ? (c->bucket_mask + 1) * sizeof *c->buckets : 0);
}
