/* Hashing trace IDs for tables and sharding. IDs come from many generators: some random
 * in all 16 bytes, some (64-bit Jaeger IDs, counters in load generators, B3 with a zero
 * high half) varying in a few bytes only. Every bit of the result depends on every byte,
 * so no generator's pattern lands all IDs in one bucket or one shard. */
#ifndef TG_TRACE_ID_H
#define TG_TRACE_ID_H

#include <stdint.h>
#include <string.h>

static inline uint64_t tg_mix64(uint64_t x) { /* splitmix64's finaliser */
  x ^= x >> 30;
  x *= UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= UINT64_C(0x94d049bb133111eb);
  x ^= x >> 31;
  return x;
}

static inline uint64_t tg_trace_id_hash(const uint8_t id[16]) {
  uint64_t hi, lo;
  memcpy(&hi, id, 8);
  memcpy(&lo, id + 8, 8);
  return tg_mix64(lo ^ tg_mix64(hi ^ UINT64_C(0x9e3779b97f4a7c15)));
}

#endif
