/* memory_limiter processor: refuses new data while the process uses too much memory, so
 * an overload turns into retries at the clients (429 / RESOURCE_EXHAUSTED) instead of an
 * OOM kill. The Collector's keys and semantics (check_interval, limit_mib,
 * spike_limit_mib, limit_percentage, spike_limit_percentage):
 *   hard limit = limit_mib, or limit_percentage of the memory available to the process
 *                (the cgroup's memory.max when set, else MemTotal);
 *   soft limit = hard limit - spike limit (spike_limit_mib, or spike_limit_percentage,
 *                default 20 % of the hard limit).
 * Every check_interval the resident set size is measured: at or above the soft limit
 * consume answers TG_EAGAIN (not taken: the receiver answers with the retryable error);
 * at or above the hard limit too, and freed heap is returned to the kernel
 * (malloc_trim, tailgate's counterpart of the Collector's forced GC) before measuring
 * again. Below the soft limit data flows again. The measurement is a probe that tests
 * replace (tg_memory_limiter_set_probe), so the behaviour is tested without allocating
 * gigabytes. Internal interface of the folder; tests include it. */
#ifndef TG_MEMORY_LIMITER_H
#define TG_MEMORY_LIMITER_H

#include <stdint.h>

#include "tg_component.h"

extern const tg_component tg_processor_memory_limiter;

typedef struct tg_memory_limiter_conf {
  uint64_t check_interval_ms;
  int64_t limit_mib;
  int64_t spike_limit_mib;
  int64_t limit_percentage;
  int64_t spike_limit_percentage;
} tg_memory_limiter_conf;

#define TG_MEMORY_LIMITER_CONF_N_KEYS 5
extern const tg_conf_key tg_memory_limiter_conf_keys[TG_MEMORY_LIMITER_CONF_N_KEYS];

/* Cross-key rules: check_interval > 0; limit_mib or limit_percentage (not both); a spike
 * limit below its limit. NULL when fine, else a static message. */
const char *tg_memory_limiter_conf_problem(const tg_memory_limiter_conf *conf);
void tg_memory_limiter_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                                  tg_diag *diag);

/* Where memory figures come from. rss: bytes resident now; total: bytes available to the
 * process (for the percentages); trim: give freed heap back (may be NULL). */
typedef struct tg_memory_probe {
  uint64_t (*rss)(void *ctx);
  uint64_t (*total)(void *ctx);
  void (*trim)(void *ctx);
  void *ctx;
} tg_memory_probe;

/* The process's own figures: /proc/self/statm, cgroup v2/v1 limit or /proc/meminfo,
 * malloc_trim(0). */
tg_memory_probe tg_memory_probe_process(void);

/* Test hook: replaces the probe of a created instance (before start, or any time on the
 * loop thread) and recomputes the limits from it. */
void tg_memory_limiter_set_probe(tg_instance *self, tg_memory_probe probe);

/* Measures now (what the check_interval timer does). Returns 0 below the soft limit,
 * 1 at or above it, 2 at or above the hard limit. */
int tg_memory_limiter_check(tg_instance *self);

/* The limits in force, in bytes. */
void tg_memory_limiter_limits(const tg_instance *self, uint64_t *soft, uint64_t *hard);

#endif
