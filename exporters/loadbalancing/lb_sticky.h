/* routing_stickiness: a bounded table of recently routed trace IDs → the backend that
 * got their first span, so a trace keeps its owner while that owner is in the ring even
 * when the ring changes (a sampler added or removed moves only new traces).
 *
 * Shape: a set-associative cache — 2^k sets of LB_STICKY_WAYS (8) slots of 32 bytes (ID,
 * owner, time first routed). A trace lives in the set its ID hash picks; a lookup reads
 * at most 8 slots; an insert takes an empty or expired slot of the set, else evicts the
 * set's oldest entry (counted: the table is too small for the trace rate × stickiness).
 * Memory is exactly capacity × 32 bytes, fixed at creation. Loop thread only. */
#ifndef TG_LB_STICKY_H
#define TG_LB_STICKY_H

#include <stddef.h>
#include <stdint.h>

enum { LB_STICKY_WAYS = 8 };

typedef struct lb_sticky_slot {
  uint8_t id[16];
  uint64_t first_ms; /* 0 = empty */
  uint32_t owner;    /* backend id (never 0 in a used slot) */
  uint32_t pad_;
} lb_sticky_slot;

typedef struct lb_sticky {
  lb_sticky_slot *slots;
  size_t n_sets; /* power of two */
  uint64_t ttl_ms;
  uint64_t evicted; /* live entries pushed out by inserts */
  size_t used;      /* slots holding an entry (expired ones included until reused) */
} lb_sticky;

/* A table for at least max_traces entries (rounded up to whole sets, a power of two)
 * kept for ttl_ms. TG_OK or TG_ENOMEM. */
int lb_sticky_init(lb_sticky *t, size_t max_traces, uint64_t ttl_ms);
void lb_sticky_free(lb_sticky *t);

static inline size_t lb_sticky_capacity(const lb_sticky *t) {
  return t->n_sets * LB_STICKY_WAYS;
}
static inline size_t lb_sticky_bytes(const lb_sticky *t) {
  return lb_sticky_capacity(t) * sizeof(lb_sticky_slot);
}

/* The live entry of id (routed less than ttl_ms before now_ms), or NULL. hash is
 * tg_trace_id_hash(id). The pointer is valid until the next insert. */
lb_sticky_slot *lb_sticky_find(lb_sticky *t, const uint8_t id[16], uint64_t hash,
                               uint64_t now_ms);

/* Records id → owner as first routed at now_ms (owner != 0); returns its slot. */
lb_sticky_slot *lb_sticky_insert(lb_sticky *t, const uint8_t id[16], uint64_t hash,
                                 uint32_t owner, uint64_t now_ms);

#endif
