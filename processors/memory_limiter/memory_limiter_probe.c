/* The process's memory figures for memory_limiter: resident set from /proc/self/statm,
 * available memory from the cgroup (v2 memory.max, v1 memory.limit_in_bytes) when it is
 * a real limit, else MemTotal, as the Collector's memory limiter does. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "memory_limiter.h"

static uint64_t read_u64_file(const char *path, int *ok) {
  FILE *f = fopen(path, "r");
  unsigned long long v = 0;
  *ok = f && fscanf(f, "%llu", &v) == 1;
  if (f)
    fclose(f);
  return v;
}

static uint64_t process_rss(void *ctx) {
  (void)ctx;
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0;
  int n = f ? fscanf(f, "%llu %llu", &size, &resident) : 0;
  if (f)
    fclose(f);
  return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t machine_total(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  unsigned long long kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
      break;
  if (f)
    fclose(f);
  return kib * 1024;
}

static uint64_t process_total(void *ctx) {
  (void)ctx;
  uint64_t machine = machine_total();
  int ok;
  /* "max" (no limit) fails the number parse; v1 reports a huge number when unlimited */
  uint64_t v = read_u64_file("/sys/fs/cgroup/memory.max", &ok);
  if (!ok)
    v = read_u64_file("/sys/fs/cgroup/memory/memory.limit_in_bytes", &ok);
  if (ok && v > 0 && (machine == 0 || v < machine))
    return v;
  return machine;
}

static void process_trim(void *ctx) {
  (void)ctx;
  malloc_trim(0);
}

tg_memory_probe tg_memory_probe_process(void) {
  return (tg_memory_probe){process_rss, process_total, process_trim, NULL};
}
