/* Allocation wrapper with failure injection. The counter is atomic because exporter
 * threads allocate too; the check costs one relaxed load when injection is off. */
#include "tg_alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_int fail_sticky;

void tg_alloc_fail_after(long n, int sticky) {
  atomic_store(&fail_sticky, sticky);
  atomic_store(&fail_countdown, n);
}

static int should_fail(void) {
  long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
  if (n < 0)
    return 0;
  if (n == 0) {
    if (!atomic_load(&fail_sticky))
      atomic_store(&fail_countdown, -1);
    return 1;
  }
  atomic_fetch_sub(&fail_countdown, 1);
  return 0;
}

void *tg_malloc(size_t size) { return should_fail() ? NULL : malloc(size); }

void *tg_calloc(size_t n, size_t size) {
  return should_fail() ? NULL : calloc(n, size);
}

void *tg_realloc(void *ptr, size_t size) {
  return should_fail() ? NULL : realloc(ptr, size);
}

void tg_free(void *ptr) { free(ptr); }

char *tg_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *copy = tg_malloc(len + 1);
  if (!copy)
    return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

char *tg_strdup(const char *s) { return tg_strndup(s, strlen(s)); }
