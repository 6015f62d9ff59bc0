/* The stickiness table (see lb_sticky.h): fixed memory, O(8) per lookup, no rehash. */
#include "lb_sticky.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"

int lb_sticky_init(lb_sticky *t, size_t max_traces, uint64_t ttl_ms) {
  memset(t, 0, sizeof *t);
  size_t sets = 1;
  while (sets * LB_STICKY_WAYS < max_traces)
    sets *= 2;
  t->slots = tg_calloc(sets * LB_STICKY_WAYS, sizeof *t->slots);
  if (!t->slots)
    return TG_ENOMEM;
  t->n_sets = sets;
  t->ttl_ms = ttl_ms;
  return TG_OK;
}

void lb_sticky_free(lb_sticky *t) {
  tg_free(t->slots);
  memset(t, 0, sizeof *t);
}

static inline lb_sticky_slot *set_of(lb_sticky *t, uint64_t hash) {
  /* the high bits: the ring uses the whole hash, the set only needs a few */
  return t->slots + ((hash >> 32) & (t->n_sets - 1)) * LB_STICKY_WAYS;
}

static inline int live(const lb_sticky *t, const lb_sticky_slot *s, uint64_t now_ms) {
  return s->first_ms && now_ms - s->first_ms < t->ttl_ms;
}

lb_sticky_slot *lb_sticky_find(lb_sticky *t, const uint8_t id[16], uint64_t hash,
                               uint64_t now_ms) {
  lb_sticky_slot *set = set_of(t, hash);
  for (int i = 0; i < LB_STICKY_WAYS; i++)
    if (set[i].first_ms && !memcmp(set[i].id, id, 16))
      return live(t, &set[i], now_ms) ? &set[i] : NULL;
  return NULL;
}

lb_sticky_slot *lb_sticky_insert(lb_sticky *t, const uint8_t id[16], uint64_t hash,
                                 uint32_t owner, uint64_t now_ms) {
  lb_sticky_slot *set = set_of(t, hash), *pick = NULL;
  for (int i = 0; i < LB_STICKY_WAYS && !pick; i++)
    if (set[i].first_ms && !memcmp(set[i].id, id, 16))
      pick = &set[i]; /* an expired entry of the same trace */
  for (int i = 0; i < LB_STICKY_WAYS && !pick; i++)
    if (!live(t, &set[i], now_ms))
      pick = &set[i];
  if (!pick) {
    pick = &set[0];
    for (int i = 1; i < LB_STICKY_WAYS; i++)
      if (set[i].first_ms < pick->first_ms)
        pick = &set[i];
    t->evicted++;
  }
  if (!pick->first_ms)
    t->used++;
  memcpy(pick->id, id, 16);
  pick->first_ms = now_ms ? now_ms : 1;
  pick->owner = owner;
  return pick;
}
