/* Decision cache: a ring of IDs plus chained buckets indexing the ring. Evicting the
 * ring's oldest slot unlinks it from its chain, so a lookup never sees a forgotten ID.
 * Buckets and chain links hold slot + 1 with 0 for "none", so the bucket array starts as
 * calloc'd zero pages that only become resident as traces are decided (issue 14: a 0xff
 * fill made 2 MB of an idle process's heap resident at the default cache sizes). */
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
  c->buckets = tg_calloc(nb, sizeof *c->buckets);
  if (!c->ids || !c->next || !c->when_ms || !c->buckets) {
    ts_cache_free(c);
    return -1;
  }
  c->capacity = capacity;
  c->bucket_mask = nb - 1;
  return 0;
}

void ts_cache_free(ts_cache *c) {
  tg_free(c->ids);
  tg_free(c->next);
  tg_free(c->when_ms);
  tg_free(c->buckets);
  tg_free(c->recs);
  memset(c, 0, sizeof *c);
}

static void unlink_slot(ts_cache *c, uint32_t slot) {
  uint32_t *link = &c->buckets[slot_hash(c, c->ids[slot])];
  while (*link && *link != slot + 1)
    link = &c->next[*link - 1];
  if (*link == slot + 1)
    *link = c->next[slot];
}

void ts_cache_put(ts_cache *c, const uint8_t id[16], uint64_t decided_ms) {
  ts_cache_put_rec(c, id, decided_ms, NULL);
}

static uint32_t find_slot(const ts_cache *c, const uint8_t id[16]) {
  if (!c->capacity)
    return NONE;
  for (uint32_t v = c->buckets[slot_hash(c, id)]; v; v = c->next[v - 1])
    if (memcmp(c->ids[v - 1], id, 16) == 0)
      return v - 1;
  return NONE;
}

void ts_cache_put_rec(ts_cache *c, const uint8_t id[16], uint64_t decided_ms,
                      const ts_verdict_rec *rec) {
  if (!c->capacity || find_slot(c, id) != NONE)
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
  if (c->recs)
    c->recs[slot] = rec ? *rec : (ts_verdict_rec){{0, 0}};
  size_t b = slot_hash(c, id);
  c->next[slot] = c->buckets[b];
  c->buckets[b] = slot + 1;
}

int ts_cache_has(const ts_cache *c, const uint8_t id[16], uint64_t *decided_ms) {
  uint32_t i = find_slot(c, id);
  if (i == NONE)
    return 0;
  if (decided_ms)
    *decided_ms = c->when_ms[i];
  return 1;
}

int ts_cache_keep_records(ts_cache *c) {
  if (!c->capacity || c->recs)
    return 0;
  c->recs = tg_calloc(c->capacity, sizeof *c->recs);
  return c->recs ? 0 : -1;
}

int ts_cache_get_rec(const ts_cache *c, const uint8_t id[16], uint64_t *decided_ms,
                     ts_verdict_rec *rec) {
  uint32_t i = c->recs ? find_slot(c, id) : NONE;
  if (i == NONE)
    return 0;
  if (decided_ms)
    *decided_ms = c->when_ms[i];
  *rec = c->recs[i];
  return 1;
}

size_t ts_cache_bytes(const ts_cache *c) {
  return c->capacity * (sizeof *c->ids + sizeof *c->next + sizeof *c->when_ms +
                        (c->recs ? sizeof *c->recs : 0)) +
         (c->capacity ? (c->bucket_mask + 1) * sizeof *c->buckets : 0);
}
