/* Base-2 exponential histogram (OpenTelemetry data model, "Exponential Histogram").
 *
 * Shape: one contiguous array of max_size counts with the index of its first entry
 * (offset), so a series is one fixed-size block allocated with it and adding a value
 * touches one counter. A value below the array shifts it up (memmove, at most max_size
 * counts, rare after the first values); a value whose index would make the span wider
 * than max_size first coarsens the scale by the smallest step that fits, merging each
 * run of 2^step buckets into one (index >> step), as the specification's downscaling
 * does. The histogram starts at scale 20, the finest the data model allows, so its
 * resolution is the best max_size permits for the values seen. */
#include "spanmetrics_exphist.h"

#include <math.h>
#include <string.h>

size_t tg_sm_exphist_bytes(uint32_t max_size) {
  return sizeof(tg_sm_exphist) + (size_t)max_size * sizeof(uint64_t);
}

void tg_sm_exphist_init(tg_sm_exphist *h, uint32_t max_size) {
  memset(h, 0, tg_sm_exphist_bytes(max_size));
  h->scale = TG_SM_EXP_MAX_SCALE;
  h->max_size = max_size < 4 ? 4 : max_size;
}

int32_t tg_sm_exphist_coarsen(int32_t index, unsigned by) {
  if (by >= 31)
    return index < 0 ? -1 : 0;
  /* floor division by 2^by without relying on >> of a negative number */
  return index >= 0 ? index >> by : -(int32_t)(((uint32_t)(-(index + 1))) >> by) - 1;
}

int32_t tg_sm_exphist_index(double v, int32_t scale) {
  int exp;
  double frac = frexp(v, &exp); /* v = frac * 2^exp, frac in [0.5, 1) */
  if (scale <= 0) {
    /* the IEEE exponent, one less for an exact power of two (its bucket's upper bound) */
    int32_t e = (int32_t)exp - 1 - (frac == 0.5 ? 1 : 0);
    return tg_sm_exphist_coarsen(e, (unsigned)-scale);
  }
  if (frac == 0.5) /* an exact power of two is the upper bound of its bucket */
    return (int32_t)(((int64_t)(exp - 1) << scale) - 1);
  double scale_factor = ldexp(1.4426950408889634 /* log2(e) */, scale);
  return (int32_t)ceil(log(v) * scale_factor) - 1;
}

/* Merges buckets so the scale drops by `by`. */
static void downscale(tg_sm_exphist *h, unsigned by) {
  if (!by)
    return;
  if (h->n) {
    int32_t new_offset = tg_sm_exphist_coarsen(h->offset, by);
    uint32_t out = 0;
    for (uint32_t i = 0; i < h->n; i++) {
      uint32_t j = (uint32_t)(tg_sm_exphist_coarsen(h->offset + (int32_t)i, by) - new_offset);
      if (j != i) {
        h->counts[j] += h->counts[i];
        h->counts[i] = 0;
      }
      out = j + 1;
    }
    h->offset = new_offset;
    h->n = out;
  }
  h->scale -= (int32_t)by;
}

void tg_sm_exphist_add(tg_sm_exphist *h, double v) {
  if (!(v > 0) || isinf(v)) {
    h->zero_count++;
    return;
  }
  int32_t idx = tg_sm_exphist_index(v, h->scale);
  if (!h->n) {
    h->offset = idx;
    h->n = 1;
    h->counts[0] = 1;
    return;
  }
  int64_t lo = idx < h->offset ? idx : h->offset;
  int64_t hi = h->offset + (int64_t)h->n - 1;
  hi = idx > hi ? idx : hi;
  if (hi - lo + 1 > h->max_size) {
    unsigned by = 0;
    while (h->scale - (int32_t)by > TG_SM_EXP_MIN_SCALE &&
           (int64_t)tg_sm_exphist_coarsen((int32_t)hi, by) -
                   tg_sm_exphist_coarsen((int32_t)lo, by) + 1 > h->max_size)
      by++;
    downscale(h, by);
    idx = tg_sm_exphist_coarsen(idx, by);
  }
  if (idx < h->offset) {
    uint32_t shift = (uint32_t)(h->offset - idx);
    memmove(h->counts + shift, h->counts, h->n * sizeof *h->counts);
    memset(h->counts, 0, shift * sizeof *h->counts);
    h->offset = idx;
    h->n += shift;
  } else if ((uint32_t)(idx - h->offset) >= h->n) {
    h->n = (uint32_t)(idx - h->offset) + 1;
  }
  h->counts[idx - h->offset]++;
}
