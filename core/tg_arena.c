/* Chunked bump allocator. Chunks grow geometrically (to 1 MiB) so that a small request
 * costs one malloc and a large one a handful; allocations larger than half a chunk get a
 * chunk of their own, placed behind the head so the head's free space is not wasted. */
#include "tg_arena.h"

#include <stdalign.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"

#define TG_ARENA_ALIGN alignof(max_align_t)
#define TG_ARENA_MAX_CHUNK (1u << 20)
#define TG_ARENA_MIN_CHUNK 1024u

struct tg_arena_chunk {
  tg_arena_chunk *next;
  size_t size; /* payload bytes */
  size_t used;
  alignas(max_align_t) unsigned char data[];
};

struct tg_arena_owned {
  tg_arena_owned *next;
  void *buf;
  void (*free_fn)(void *);
};

static void *pb_alloc(void *data, size_t size) {
  return tg_arena_alloc(data, size);
}

static void pb_free(void *data, void *ptr) {
  (void)data;
  (void)ptr; /* freed with the arena */
}

tg_arena *tg_arena_new(size_t first_chunk_bytes, size_t limit_bytes) {
  tg_arena *arena = tg_calloc(1, sizeof *arena);
  if (!arena)
    return NULL;
  if (first_chunk_bytes < TG_ARENA_MIN_CHUNK)
    first_chunk_bytes = TG_ARENA_MIN_CHUNK;
  arena->next_chunk_bytes = first_chunk_bytes;
  arena->limit_bytes = limit_bytes;
  atomic_init(&arena->refs, 1);
  arena->pb_allocator.alloc = pb_alloc;
  arena->pb_allocator.free = pb_free;
  arena->pb_allocator.allocator_data = arena;
  return arena;
}

tg_arena *tg_arena_ref(tg_arena *arena) {
  atomic_fetch_add_explicit(&arena->refs, 1, memory_order_relaxed);
  return arena;
}

void tg_arena_unref(tg_arena *arena) {
  if (!arena)
    return;
  if (atomic_fetch_sub_explicit(&arena->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (tg_arena_owned *o = arena->owned; o; o = o->next)
    o->free_fn(o->buf);
  tg_arena_chunk *c = arena->head;
  while (c) {
    tg_arena_chunk *next = c->next;
    tg_free(c);
    c = next;
  }
  tg_free(arena);
}

static tg_arena_chunk *chunk_new(tg_arena *arena, size_t payload) {
  if (arena->limit_bytes && (payload > arena->limit_bytes ||
                             arena->reserved_bytes > arena->limit_bytes - payload)) {
    arena->over_limit = 1;
    return NULL;
  }
  tg_arena_chunk *c = tg_malloc(sizeof *c + payload);
  if (!c)
    return NULL;
  c->size = payload;
  c->used = 0;
  arena->reserved_bytes += payload;
  return c;
}

void *tg_arena_alloc(tg_arena *arena, size_t size) {
  size_t rounded = (size + TG_ARENA_ALIGN - 1) & ~(size_t)(TG_ARENA_ALIGN - 1);
  if (rounded < size)
    return NULL;
  tg_arena_chunk *head = arena->head;
  if (head && head->size - head->used >= rounded) {
    void *p = head->data + head->used;
    head->used += rounded;
    arena->used_bytes += rounded;
    return p;
  }
  if (rounded > arena->next_chunk_bytes / 2) {
    tg_arena_chunk *big = chunk_new(arena, rounded);
    if (!big)
      return NULL;
    big->used = rounded;
    if (head) {
      big->next = head->next;
      head->next = big;
    } else {
      big->next = NULL;
      arena->head = big;
    }
    arena->used_bytes += rounded;
    return big->data;
  }
  tg_arena_chunk *c = chunk_new(arena, arena->next_chunk_bytes);
  if (!c)
    return NULL;
  if (arena->next_chunk_bytes < TG_ARENA_MAX_CHUNK)
    arena->next_chunk_bytes *= 2;
  c->next = head;
  arena->head = c;
  c->used = rounded;
  arena->used_bytes += rounded;
  return c->data;
}

void *tg_arena_calloc(tg_arena *arena, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  void *p = tg_arena_alloc(arena, n * size);
  if (p)
    memset(p, 0, n * size);
  return p;
}

void *tg_arena_memdup(tg_arena *arena, const void *src, size_t len) {
  void *p = tg_arena_alloc(arena, len ? len : 1);
  if (p && len)
    memcpy(p, src, len);
  return p;
}

char *tg_arena_strndup(tg_arena *arena, const char *s, size_t len) {
  char *p = tg_arena_alloc(arena, len + 1);
  if (!p)
    return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

int tg_arena_adopt(tg_arena *arena, void *buf, size_t size, void (*free_fn)(void *)) {
  /* the record first, so that the one limit check below also sees its bytes (a refused
   * buffer leaves the record unused in the arena, freed with it) */
  tg_arena_owned *o = tg_arena_alloc(arena, sizeof *o);
  if (!o)
    return arena->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  if (arena->limit_bytes && (size > arena->limit_bytes ||
                             arena->reserved_bytes > arena->limit_bytes - size)) {
    arena->over_limit = 1;
    return TG_ETOOBIG;
  }
  o->buf = buf;
  o->free_fn = free_fn ? free_fn : tg_free;
  o->next = arena->owned;
  arena->owned = o;
  arena->reserved_bytes += size;
  arena->used_bytes += size;
  return TG_OK;
}
