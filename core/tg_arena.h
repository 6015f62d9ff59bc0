/* Arena: a bump allocator over a list of chunks, freed all at once.
 *
 * A batch of spans lives in arenas: decoding a request allocates every message, string
 * and array from one arena instead of calling malloc per span or attribute. Arenas are
 * reference counted (atomically) so that batches merged by the batch processor, or split
 * for export, can share the memory their spans point into without copying.
 *
 * Every arena has a byte limit (0 = unlimited) so that a peer-controlled decode fails
 * cleanly with NULL instead of growing without bound.
 *
 * An arena can also take over a buffer malloc'd elsewhere (tg_arena_adopt): a receiver's
 * request body, kept as the batch's wire bytes instead of being copied in. The buffer
 * counts against the limit like a chunk and is freed with the last reference, so every
 * batch that shares the arena (merged, split) keeps it alive for free. */
#ifndef TG_ARENA_H
#define TG_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

typedef struct tg_arena_chunk tg_arena_chunk;
typedef struct tg_arena_owned tg_arena_owned;

typedef struct tg_arena {
  tg_arena_chunk *head;  /* chunk being filled; older chunks follow */
  tg_arena_owned *owned; /* adopted buffers (records live in the chunks) */
  size_t used_bytes;     /* payload handed out and adopted, for accounting */
  size_t reserved_bytes; /* sum of chunk and adopted sizes, checked against limit */
  size_t limit_bytes;    /* 0 = no limit */
  size_t next_chunk_bytes;
  int over_limit;         /* an allocation was refused by limit_bytes */
  atomic_uint refs;
  ProtobufCAllocator pb_allocator; /* allocates from this arena; free is a no-op */
} tg_arena;

/* Returns a new arena with one reference, or NULL. first_chunk_bytes is a size hint. */
tg_arena *tg_arena_new(size_t first_chunk_bytes, size_t limit_bytes);

/* Takes another reference; returns arena. */
tg_arena *tg_arena_ref(tg_arena *arena);

/* Drops a reference; the last one frees every chunk. NULL is ignored. */
void tg_arena_unref(tg_arena *arena);

/* Returns size bytes aligned for any type, or NULL when out of memory or over the limit.
 * The memory is uninitialised and lives until the arena is freed. */
void *tg_arena_alloc(tg_arena *arena, size_t size);
void *tg_arena_calloc(tg_arena *arena, size_t n, size_t size);
char *tg_arena_strndup(tg_arena *arena, const char *s, size_t len);
void *tg_arena_memdup(tg_arena *arena, const void *p, size_t len);

/* Takes ownership of buf (size bytes, counted against the limit) and frees it with
 * free_fn (NULL = tg_free) when the last reference goes. Returns TG_OK; TG_ETOOBIG (limit,
 * over_limit set) or TG_ENOMEM, and then buf is still the caller's. */
int tg_arena_adopt(tg_arena *arena, void *buf, size_t size, void (*free_fn)(void *));

#endif
