/* A base-2 exponential histogram of positive values (span durations), as the
 * OpenTelemetry metrics data model defines it: at scale s the base is 2^(2^-s) and bucket
 * i holds the values in (base^i, base^(i+1)]. Pure data structure: no I/O, no clock. */
#ifndef TG_SPANMETRICS_EXPHIST_H
#define TG_SPANMETRICS_EXPHIST_H

#include <stddef.h>
#include <stdint.h>

/* The data model's bounds on the scale; a histogram starts at the finest one and only
 * ever coarsens. */
#define TG_SM_EXP_MAX_SCALE 20
#define TG_SM_EXP_MIN_SCALE (-10)

typedef struct tg_sm_exphist {
  int32_t scale;
  int32_t offset;      /* index of counts[0] */
  uint32_t n;          /* counts in use (0: no positive value yet) */
  uint32_t max_size;   /* capacity of counts */
  uint64_t zero_count; /* values <= 0 (the zero bucket; zero_threshold 0) */
  uint64_t counts[];
} tg_sm_exphist;

/* Bytes a histogram of max_size buckets takes (a multiple of 8). */
size_t tg_sm_exphist_bytes(uint32_t max_size);
/* Empties h (scale back to TG_SM_EXP_MAX_SCALE) with room for max_size (>= 4) buckets. */
void tg_sm_exphist_init(tg_sm_exphist *h, uint32_t max_size);
/* The data model's MapToIndex: the bucket index of v (> 0, finite, normal) at `scale`
 * (TG_SM_EXP_MIN_SCALE..TG_SM_EXP_MAX_SCALE). Exact for powers of two; elsewhere the
 * logarithm method the specification gives. */
int32_t tg_sm_exphist_index(double v, int32_t scale);
/* Counts v: v <= 0 (or NaN) goes to the zero bucket; a value whose index does not fit
 * in max_size buckets with the others first lowers the scale just enough (merging
 * neighbouring buckets, as the specification's downscaling does). */
void tg_sm_exphist_add(tg_sm_exphist *h, double v);
/* floor(index / 2^by): an index at `by` scales coarser. */
int32_t tg_sm_exphist_coarsen(int32_t index, unsigned by);

#endif
