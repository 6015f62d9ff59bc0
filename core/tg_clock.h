/* Time, injectable: tests set a fake clock instead of sleeping. */
#ifndef TG_CLOCK_H
#define TG_CLOCK_H

#include <stdint.h>

/* Wall-clock time in Unix nanoseconds (for span-facing timestamps and logs). */
uint64_t tg_clock_unix_nano(void);
/* Monotonic milliseconds (for timeouts and back-off). */
uint64_t tg_clock_mono_ms(void);

/* Test hook: while fake_unix_nano != 0 both clocks derive from it. */
void tg_clock_set_fake(uint64_t fake_unix_nano);

#endif
