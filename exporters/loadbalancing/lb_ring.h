/* The consistent-hash ring of the loadbalancing exporter: endpoints → points on a 64-bit
 * circle; a key belongs to the first point at or after its hash (wrapping).
 *
 * Points: LB_RING_POINTS (256) per endpoint, at tg_mix64(fnv1a64(endpoint) + i) for
 * i = 0..255, so an endpoint's points depend only on its own name: adding or removing one
 * endpoint among N moves only the keys on the arcs it gains or loses, ≈ 1/N of them
 * (tests/unit/exporters/test_loadbalancing.c measures it). 256 points keep the largest
 * share within a few percent of 1/N for small N. Pure and single-threaded: the exporter
 * rebuilds the ring on the loop thread when the resolver's answer changes. */
#ifndef TG_LB_RING_H
#define TG_LB_RING_H

#include <stddef.h>
#include <stdint.h>

enum { LB_RING_POINTS = 256 };

typedef struct lb_ring_point {
  uint64_t hash;
  uint32_t member; /* index into the names the ring was built from */
} lb_ring_point;

typedef struct lb_ring {
  lb_ring_point *points; /* sorted by hash */
  size_t n_points;
  size_t n_members;
} lb_ring;

/* 64-bit FNV-1a of data. */
uint64_t lb_fnv1a64(const void *data, size_t len);

/* Builds the ring of n names (n may be 0: an empty ring). TG_OK or TG_ENOMEM (ring
 * untouched). Replaces what ring held. */
int lb_ring_build(lb_ring *ring, const char *const *names, size_t n);

/* The member owning hash, or -1 on an empty ring. */
static inline int64_t lb_ring_lookup(const lb_ring *ring, uint64_t hash) {
  if (!ring->n_points)
    return -1;
  size_t lo = 0, hi = ring->n_points;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ring->points[mid].hash < hash)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == ring->n_points)
    lo = 0;
  return ring->points[lo].member;
}

void lb_ring_free(lb_ring *ring);

#endif
