/* The one allocator wrapper. Every malloc in tailgate goes through these, so tests can
 * count live allocations and fuzz/torture runs can make the Nth allocation fail.
 * They behave exactly like their libc namesakes (NULL on failure, free(NULL) is fine). */
#ifndef TG_ALLOC_H
#define TG_ALLOC_H

#include <stddef.h>

void *tg_malloc(size_t size);
void *tg_calloc(size_t n, size_t size);
void *tg_realloc(void *ptr, size_t size);
void tg_free(void *ptr);
char *tg_strdup(const char *s);
char *tg_strndup(const char *s, size_t n);

/* Test hooks. After tg_alloc_fail_after(n), the allocation n+1 from now fails (and every
 * later one while `sticky`); tg_alloc_fail_after(-1) turns failure injection off. */
void tg_alloc_fail_after(long n, int sticky);

#endif
