/* The per-span decision of the probabilistic_sampler processor, as pure functions (the
 * processor walks batches; tests call these directly with hand-computed answers). */
#ifndef TG_PS_DECIDE_H
#define TG_PS_DECIDE_H

#include <stddef.h>
#include <stdint.h>

typedef enum ps_mode { PS_PROPORTIONAL, PS_EQUALIZING, PS_HASH_SEED } ps_mode;

typedef struct ps_sampler {
  ps_mode mode;
  double ratio;          /* sampling_percentage / 100, clamped to [0, 1] */
  int precision;         /* sampling_precision: hex digits of a written th */
  uint32_t hash_seed;
  int fail_closed;
  uint64_t threshold;    /* equalizing and hash_seed: the fixed rejection threshold */
  int never;             /* percentage 0 (or rounded to nothing in hash_seed mode) */
} ps_sampler;

/* Fills s from the settings (pct: sampling_percentage; mode already resolved: hash_seed
 * when unset and hash_seed != 0, proportional otherwise). */
void ps_sampler_init(ps_sampler *s, double pct, ps_mode mode, uint32_t hash_seed,
                     int precision, int fail_closed);

/* sampling.priority (OpenTracing): 0 drop, 1 keep, -1 absent or not a number. */
typedef enum { PS_PRIO_DEFER = -1, PS_PRIO_DROP = 0, PS_PRIO_KEEP = 1 } ps_priority;

typedef struct ps_result {
  int sampled;
  int error;        /* 1 when the tracestate or the randomness was unusable */
  const char *why;  /* the error, a static string */
  /* sampled only: the tracestate to write (NUL-terminated), or set_tracestate 0 to leave
   * the incoming one as it is */
  int set_tracestate;
  char tracestate[1100];
} ps_result;

/* Decides for one span from its trace ID, incoming W3C tracestate (may be NULL) and
 * sampling.priority. */
void ps_decide(const ps_sampler *s, const uint8_t trace_id[16], const char *tracestate,
               ps_priority prio, ps_result *out);

/* FNV-1a (32-bit) over the seed's 4 little-endian bytes then the 16 trace ID bytes: the
 * hash of the Collector's hash_seed mode (kept so its decisions carry over). */
uint32_t ps_hash(const uint8_t trace_id[16], uint32_t seed);

#endif
