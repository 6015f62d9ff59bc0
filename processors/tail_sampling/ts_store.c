/* The shard's trace buffer (see ts_store.h). Growth of a trace's record buffer is by a
 * quarter (not doubling), because slack counts against the memory budget and most traces
 * arrive in a few requests; the hash table grows by doubling when 75 % of its slots are
 * used. */
#include "ts_store.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "tg_alloc.h"
#include "tg_trace_id.h"
#include "ts_wire.h"

static uint64_t id_hash(const uint8_t id[16]) { return tg_trace_id_hash(id); }

static uint64_t bytes_hash(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (size_t i = 0; i < alen; i++)
    h = (h ^ a[i]) * UINT64_C(1099511628211);
  h = (h ^ 0xff) * UINT64_C(1099511628211);
  for (size_t i = 0; i < blen; i++)
    h = (h ^ b[i]) * UINT64_C(1099511628211);
  return h;
}

_Static_assert(sizeof(ts_bucket) == 64, "a trace-table bucket is one cache line");

/* Grow past this many traces per bucket (75 % of the slots): few probes leave home. */
#define TS_BUCKET_LOAD_NUM (TS_BUCKET_SLOTS * 3)
#define TS_BUCKET_LOAD_DEN 4
#define TS_MAX_BUCKETS ((size_t)1 << 24)

static uint32_t tag_of(const ts_store *s, uint64_t h) {
  uint32_t tag = (uint32_t)(h >> 32) & s->tag_mask;
  return tag ? tag : 1;
}

/* A zeroed table of n buckets, 64-byte aligned (tg_alloc has no aligned allocation, so
 * over-allocate and keep the original pointer for tg_free). */
static ts_bucket *new_table(size_t n, void **mem) {
  uint8_t *raw = tg_calloc(1, n * sizeof(ts_bucket) + 63);
  if (!raw)
    return NULL;
  *mem = raw;
  return (ts_bucket *)(void *)(raw + ((64 - ((uintptr_t)raw & 63)) & 63));
}

int ts_store_init(ts_store *s, size_t expected_traces) {
  memset(s, 0, sizeof *s);
  /* as the chained table did: at most 8 MiB up front, growth covers the rest */
  size_t n = 16;
  while (n * TS_BUCKET_LOAD_NUM / TS_BUCKET_LOAD_DEN < expected_traces && n < ((size_t)1 << 17))
    n <<= 1;
  s->buckets = new_table(n, &s->table_mem);
  s->header_bucket_mask = 255;
  s->header_buckets = tg_malloc((s->header_bucket_mask + 1) * sizeof *s->header_buckets);
  if (!s->buckets || !s->header_buckets) {
    tg_free(s->table_mem);
    tg_free(s->header_buckets);
    return -1;
  }
  memset(s->header_buckets, 0xff, (s->header_bucket_mask + 1) * sizeof *s->header_buckets);
  s->bucket_mask = n - 1;
  s->tag_mask = UINT32_MAX;
  s->free_header = TS_NO_HEADER;
  s->bytes = n * sizeof *s->buckets + (s->header_bucket_mask + 1) * sizeof *s->header_buckets;
  return 0;
}

void ts_store_free(ts_store *s) {
  while (s->oldest)
    ts_store_remove(s, s->oldest);
  for (size_t i = 0; i < s->n_headers; i++)
    tg_free(s->headers[i].bytes);
  tg_free(s->headers);
  tg_free(s->header_buckets);
  tg_free(s->table_mem);
  while (s->spare) {
    ts_trace *t = s->spare;
    s->spare = t->hnext;
    tg_free(t);
  }
  memset(s, 0, sizeof *s);
}

/* Keeps header chains short when a shard sees many distinct resources. */
static void grow_header_table(ts_store *s) {
  size_t n = (s->header_bucket_mask + 1) * 4;
  uint32_t *b = tg_malloc(n * sizeof *b);
  if (!b)
    return;
  memset(b, 0xff, n * sizeof *b);
  for (uint32_t i = 0; i < s->n_headers; i++) {
    ts_header *e = &s->headers[i];
    if (!e->bytes)
      continue;
    e->next = b[e->hash & (n - 1)];
    b[e->hash & (n - 1)] = i;
  }
  s->bytes += (n - (s->header_bucket_mask + 1)) * sizeof *b;
  tg_free(s->header_buckets);
  s->header_buckets = b;
  s->header_bucket_mask = n - 1;
}

uint32_t ts_store_intern_header(ts_store *s, const uint8_t *rs, size_t rs_len,
                                const uint8_t *ss, size_t ss_len) {
  if (rs_len > UINT32_MAX / 2 || ss_len > UINT32_MAX / 2)
    return TS_NO_HEADER;
  uint64_t h = bytes_hash(rs, rs_len, ss, ss_len);
  if (s->n_headers > 2 * (s->header_bucket_mask + 1) && s->header_bucket_mask < (1u << 22))
    grow_header_table(s);
  uint32_t *bucket = &s->header_buckets[h & s->header_bucket_mask];
  for (uint32_t i = *bucket; i != TS_NO_HEADER; i = s->headers[i].next) {
    ts_header *e = &s->headers[i];
    if (e->hash == h && e->rs_len == rs_len && e->ss_len == ss_len &&
        memcmp(e->bytes, rs, rs_len) == 0 && memcmp(e->bytes + rs_len, ss, ss_len) == 0)
      return i;
  }
  uint32_t id = s->free_header;
  if (id == TS_NO_HEADER) {
    if (s->n_headers == s->cap_headers) {
      size_t cap = s->cap_headers ? s->cap_headers * 2 : 16;
      ts_header *grown = tg_realloc(s->headers, cap * sizeof *grown);
      if (!grown)
        return TS_NO_HEADER;
      s->bytes += (cap - s->cap_headers) * sizeof *grown;
      s->headers = grown;
      s->cap_headers = cap;
    }
    id = (uint32_t)s->n_headers++;
  } else {
    s->free_header = s->headers[id].next;
  }
  ts_header *e = &s->headers[id];
  memset(e, 0, sizeof *e);
  e->bytes = tg_malloc(rs_len + ss_len ? rs_len + ss_len : 1);
  if (!e->bytes) {
    e->next = s->free_header;
    s->free_header = id;
    return TS_NO_HEADER;
  }
  memcpy(e->bytes, rs, rs_len);
  memcpy(e->bytes + rs_len, ss, ss_len);
  e->rs_len = (uint32_t)rs_len;
  e->ss_len = (uint32_t)ss_len;
  e->hash = h;
  e->next = *bucket;
  *bucket = id;
  s->bytes += rs_len + ss_len;
  return id;
}

void ts_store_release_header(ts_store *s, uint32_t id) {
  ts_header *e = &s->headers[id];
  if (!e->bytes || e->refs)
    return;
  uint32_t *link = &s->header_buckets[e->hash & s->header_bucket_mask];
  while (*link != id)
    link = &s->headers[*link].next;
  *link = e->next;
  s->bytes -= e->rs_len + e->ss_len;
  tg_free(e->bytes);
  e->bytes = NULL;
  e->next = s->free_header;
  s->free_header = id;
}

void ts_store_prefetch_trace(const ts_store *s, const ts_trace *t) {
  __builtin_prefetch(&s->buckets[id_hash(t->id) & s->bucket_mask], 1);
  if (t->records) /* free() reads the allocator's word just before them */
    __builtin_prefetch(t->records - 8, 1);
}

void ts_store_prefetch_id(const ts_store *s, const uint8_t id[16]) {
  __builtin_prefetch(&s->buckets[id_hash(id) & s->bucket_mask]);
}

/* Bit k set when tag[k] == tag: one compare for four tags where SSE2 is there. */
static unsigned tag_matches(const ts_bucket *b, uint32_t tag) {
#ifdef __SSE2__
  __m128i four = _mm_load_si128((const __m128i *)(const void *)b->tag);
  unsigned m = (unsigned)_mm_movemask_ps(
      _mm_castsi128_ps(_mm_cmpeq_epi32(four, _mm_set1_epi32((int)tag))));
  _Static_assert(TS_BUCKET_SLOTS == 5, "four tags by SSE2, the fifth alone");
  return m | (unsigned)(b->tag[4] == tag) << 4;
#else
  unsigned m = 0;
  for (unsigned k = 0; k < TS_BUCKET_SLOTS; k++)
    m |= (unsigned)(b->tag[k] == tag) << k;
  return m;
#endif
}

ts_trace *ts_store_find(const ts_store *s, const uint8_t id[16]) {
  uint64_t h = id_hash(id);
  uint32_t tag = tag_of(s, h);
  size_t i = (size_t)h & s->bucket_mask;
  /* bounded: in a table that could not grow, every bucket may have been passed */
  for (size_t n = 0; n <= s->bucket_mask; n++, i = (i + 1) & s->bucket_mask) {
    const ts_bucket *b = &s->buckets[i];
    for (unsigned m = tag_matches(b, tag); m; m &= m - 1) {
      ts_trace *t = b->slot[__builtin_ctz(m)];
      if (memcmp(t->id, id, 16) == 0)
        return t;
    }
    if (!b->passed)
      return NULL;
  }
  return NULL;
}

/* Places t in the first free slot on its probe path; the table has one (callers keep
 * n_traces below the slot count). */
static void place(ts_bucket *table, size_t mask, ts_trace *t, uint32_t tag, uint64_t h) {
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    ts_bucket *b = &table[i];
    for (unsigned k = 0; k < TS_BUCKET_SLOTS; k++)
      if (!b->tag[k]) {
        b->tag[k] = tag;
        b->slot[k] = t;
        return;
      }
    b->passed++;
  }
}

static void grow_table(ts_store *s) {
  size_t n = (s->bucket_mask + 1) * 2;
  void *mem;
  ts_bucket *b = new_table(n, &mem);
  if (!b)
    return; /* keep the smaller table: probes get longer, nothing breaks until it is full */
  for (ts_trace *t = s->oldest; t; t = t->newer) {
    uint64_t h = id_hash(t->id);
    place(b, n - 1, t, tag_of(s, h), h);
  }
  s->bytes += (n - (s->bucket_mask + 1)) * sizeof *b;
  tg_free(s->table_mem);
  s->table_mem = mem;
  s->buckets = b;
  s->bucket_mask = n - 1;
}

/* Clears t's slot, found by pointer: no other trace is read. */
static void unplace(ts_store *s, const ts_trace *t) {
  uint64_t h = id_hash(t->id);
  uint32_t tag = tag_of(s, h);
  for (size_t i = (size_t)h & s->bucket_mask;; i = (i + 1) & s->bucket_mask) {
    ts_bucket *b = &s->buckets[i];
    for (unsigned k = 0; k < TS_BUCKET_SLOTS; k++)
      if (b->tag[k] == tag && b->slot[k] == t) {
        b->tag[k] = 0;
        b->slot[k] = NULL;
        return;
      }
    b->passed--; /* t lies further along: it passed this bucket */
  }
}

static ts_trace *new_trace(ts_store *s, const uint8_t id[16], uint64_t now_ms) {
  size_t n_buckets = s->bucket_mask + 1;
  if (s->n_traces >= n_buckets * TS_BUCKET_LOAD_NUM / TS_BUCKET_LOAD_DEN &&
      n_buckets < TS_MAX_BUCKETS)
    grow_table(s);
  if (s->n_traces >= (s->bucket_mask + 1) * TS_BUCKET_SLOTS - 1)
    return NULL; /* could not grow and (nearly) full: no free slot to probe to */
  ts_trace *t = s->spare;
  if (t) {
    s->spare = t->hnext;
    s->n_spare--;
    memset(t, 0, sizeof *t);
  } else if (!(t = tg_calloc(1, sizeof *t))) {
    return NULL;
  }
  memcpy(t->id, id, 16);
  t->arrival_ms = now_ms;
  t->min_start = UINT64_MAX;
  uint64_t h = id_hash(id);
  place(s->buckets, s->bucket_mask, t, tag_of(s, h), h);
  t->older = s->newest;
  if (s->newest)
    s->newest->newer = t;
  else
    s->oldest = t;
  s->newest = t;
  s->n_traces++;
  s->bytes += sizeof *t;
  return t;
}

size_t ts_store_record_size(uint32_t header, size_t len) {
  return ts_varint_size(header) + ts_varint_size(len) + len;
}

/* Counts one more record of header in t's inline list, keeping it ordered by last
 * record (see ts_trace.hdr_id). */
static void count_header(ts_trace *t, uint32_t header) {
  unsigned n = t->n_hdr;
  if (n == TS_TRACE_HEADERS_OVERFLOW)
    return;
  if (n && t->hdr_id[n - 1] == header) { /* the usual case: a run under one header */
    t->hdr_refs[n - 1]++;
    return;
  }
  unsigned i = 0;
  while (i < n && t->hdr_id[i] != header)
    i++;
  uint32_t refs = 1;
  if (i < n) {
    refs += t->hdr_refs[i];
    for (; i + 1 < n; i++) {
      t->hdr_id[i] = t->hdr_id[i + 1];
      t->hdr_refs[i] = t->hdr_refs[i + 1];
    }
    n--;
  } else if (n == TS_TRACE_HEADERS) {
    t->n_hdr = TS_TRACE_HEADERS_OVERFLOW;
    return;
  }
  t->hdr_id[n] = header;
  t->hdr_refs[n] = refs;
  t->n_hdr = (uint8_t)(n + 1);
}

ts_trace *ts_store_add_span(ts_store *s, const uint8_t trace_id[16], uint32_t header,
                            const uint8_t *span, size_t len, const ts_span_info *info,
                            uint64_t now_ms, size_t more) {
  return ts_store_append(s, ts_store_find(s, trace_id), trace_id, header, span, len, info,
                         now_ms, more);
}

ts_trace *ts_store_append(ts_store *s, ts_trace *t, const uint8_t trace_id[16],
                          uint32_t header, const uint8_t *span, size_t len,
                          const ts_span_info *info, uint64_t now_ms, size_t more) {
  if (len > UINT32_MAX / 4)
    return NULL;
  int created = 0;
  if (!t) {
    if (!(t = new_trace(s, trace_id, now_ms)))
      return NULL;
    created = 1;
  }
  size_t need = ts_store_record_size(header, len);
  if ((size_t)t->len + need + more > UINT32_MAX / 2)
    goto fail;
  if (t->len + need > t->cap) {
    size_t cap = t->cap + t->cap / 4;
    if (cap < t->len + need + more)
      cap = t->len + need + more;
    uint8_t *grown = tg_realloc(t->records, cap);
    if (!grown)
      goto fail;
    s->bytes += cap - t->cap;
    t->records = grown;
    t->cap = (uint32_t)cap;
  }
  uint8_t *p = t->records + t->len;
  p += ts_put_varint(p, header);
  p += ts_put_varint(p, len);
  memcpy(p, span, len);
  t->len += (uint32_t)need;
  if (header != TS_NO_HEADER) {
    s->headers[header].refs++;
    count_header(t, header);
  }
  t->span_count++;
  t->wire_bytes += ts_len_field_size(len);
  t->leaf_mask |= info->leaf_mask;
  t->status_bits |= (uint8_t)(1u << info->status);
  t->debug |= (uint8_t)info->debug;
  if (info->start_unix_nano && info->start_unix_nano < t->min_start)
    t->min_start = info->start_unix_nano;
  if (info->end_unix_nano > t->max_end)
    t->max_end = info->end_unix_nano;
  return t;
fail:
  if (created)
    ts_store_remove(s, t);
  return NULL;
}

int ts_trace_next_record(const ts_trace *t, size_t *offset, uint32_t *header,
                         const uint8_t **span, size_t *len) {
  if (*offset >= t->len)
    return 0;
  /* records are written by ts_store_add_span: well-formed by construction */
  ts_reader r = ts_reader_of(t->records + *offset, t->len - *offset);
  uint64_t h = 0, n = 0;
  tg_pbwire_varint(&r, &h);
  tg_pbwire_varint(&r, &n);
  *header = (uint32_t)h;
  *span = r.p;
  *len = (size_t)n;
  *offset = (size_t)(r.p + n - t->records);
  return 1;
}

size_t ts_trace_cost(const ts_trace *t) { return sizeof *t + t->cap; }

void ts_store_remove(ts_store *s, ts_trace *t) {
  if (t->n_hdr != TS_TRACE_HEADERS_OVERFLOW) {
    for (unsigned i = 0; i < t->n_hdr; i++) {
      ts_header *e = &s->headers[t->hdr_id[i]];
      e->refs -= t->hdr_refs[i];
      if (e->refs == 0)
        ts_store_release_header(s, t->hdr_id[i]);
    }
  } else {
    size_t off = 0, len;
    uint32_t header;
    const uint8_t *span;
    while (ts_trace_next_record(t, &off, &header, &span, &len)) {
      if (header != TS_NO_HEADER && --s->headers[header].refs == 0)
        ts_store_release_header(s, header);
    }
  }
  unplace(s, t);
  if (t->older)
    t->older->newer = t->newer;
  else
    s->oldest = t->newer;
  if (t->newer)
    t->newer->older = t->older;
  else
    s->newest = t->older;
  s->n_traces--;
  s->bytes -= ts_trace_cost(t);
  tg_free(t->records);
  if (s->n_spare < TS_STORE_SPARE_TRACES) {
    t->records = NULL;
    t->hnext = s->spare;
    s->spare = t;
    s->n_spare++;
  } else {
    tg_free(t);
  }
}
