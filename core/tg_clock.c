/* Clock wrappers. The fake clock is one atomic so tests may set it from any thread. */
#include "tg_clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic uint64_t fake_now;

void tg_clock_set_fake(uint64_t fake_unix_nano) { atomic_store(&fake_now, fake_unix_nano); }

uint64_t tg_clock_unix_nano(void) {
  uint64_t fake = atomic_load_explicit(&fake_now, memory_order_relaxed);
  if (fake)
    return fake;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tg_clock_mono_ms(void) {
  uint64_t fake = atomic_load_explicit(&fake_now, memory_order_relaxed);
  if (fake)
    return fake / 1000000u;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
