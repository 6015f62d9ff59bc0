/* Recently kept traces (see tg_kept_traces.h): a direct-mapped table of 16-byte trace IDs
 * behind one mutex, slotted by a hash of the whole ID (tg_trace_id.h), so IDs that vary in
 * a few bytes only still spread; adversarial IDs only evict each other. */
#include "tg_kept_traces.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_trace_id.h"

struct tg_kept_traces {
  pthread_mutex_t lock;
  atomic_int samplers;
  size_t mask;
  uint8_t (*ids)[16];
  uint8_t *used;
};

tg_kept_traces *tg_kept_traces_new(size_t capacity) {
  size_t cap = 1;
  while (cap < capacity && cap < ((size_t)1 << 30))
    cap <<= 1;
  tg_kept_traces *k = tg_calloc(1, sizeof *k);
  if (!k)
    return NULL;
  k->ids = tg_calloc(cap, sizeof *k->ids);
  k->used = tg_calloc(cap, 1);
  if (!k->ids || !k->used) {
    tg_free(k->ids);
    tg_free(k->used);
    tg_free(k);
    return NULL;
  }
  k->mask = cap - 1;
  pthread_mutex_init(&k->lock, NULL);
  return k;
}

void tg_kept_traces_free(tg_kept_traces *k) {
  if (!k)
    return;
  pthread_mutex_destroy(&k->lock);
  tg_free(k->ids);
  tg_free(k->used);
  tg_free(k);
}

void tg_kept_traces_register_sampler(tg_kept_traces *k) {
  if (k)
    atomic_fetch_add(&k->samplers, 1);
}

int tg_kept_traces_has_sampler(const tg_kept_traces *k) {
  return k && atomic_load(&((tg_kept_traces *)k)->samplers) > 0;
}

static size_t slot_of(const tg_kept_traces *k, const uint8_t id[16]) {
  return (size_t)tg_trace_id_hash(id) & k->mask;
}

void tg_kept_traces_add(tg_kept_traces *k, const uint8_t trace_id[16]) {
  if (!k)
    return;
  size_t s = slot_of(k, trace_id);
  pthread_mutex_lock(&k->lock);
  memcpy(k->ids[s], trace_id, 16);
  k->used[s] = 1;
  pthread_mutex_unlock(&k->lock);
}

int tg_kept_traces_contains(tg_kept_traces *k, const uint8_t trace_id[16]) {
  if (!tg_kept_traces_has_sampler(k))
    return 1;
  size_t s = slot_of(k, trace_id);
  pthread_mutex_lock(&k->lock);
  int hit = k->used[s] && memcmp(k->ids[s], trace_id, 16) == 0;
  pthread_mutex_unlock(&k->lock);
  return hit;
}
