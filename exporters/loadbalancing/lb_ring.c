/* The consistent-hash ring (see lb_ring.h for the hash and the point count). */
#include "lb_ring.h"

#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_trace_id.h"

uint64_t lb_fnv1a64(const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

static int point_cmp(const void *a, const void *b) {
  const lb_ring_point *x = a, *y = b;
  if (x->hash != y->hash)
    return x->hash < y->hash ? -1 : 1;
  return x->member < y->member ? -1 : x->member > y->member; /* deterministic ties */
}

int lb_ring_build(lb_ring *ring, const char *const *names, size_t n) {
  lb_ring_point *pts = NULL;
  if (n) {
    pts = tg_calloc(n * LB_RING_POINTS, sizeof *pts);
    if (!pts)
      return TG_ENOMEM;
  }
  for (size_t m = 0; m < n; m++) {
    uint64_t base = lb_fnv1a64(names[m], strlen(names[m]));
    for (size_t i = 0; i < LB_RING_POINTS; i++)
      pts[m * LB_RING_POINTS + i] = (lb_ring_point){tg_mix64(base + i), (uint32_t)m};
  }
  if (n)
    qsort(pts, n * LB_RING_POINTS, sizeof *pts, point_cmp);
  tg_free(ring->points);
  ring->points = pts;
  ring->n_points = n * LB_RING_POINTS;
  ring->n_members = n;
  return TG_OK;
}

void lb_ring_free(lb_ring *ring) {
  tg_free(ring->points);
  memset(ring, 0, sizeof *ring);
}
