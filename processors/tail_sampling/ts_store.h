/* One shard's buffer of traces waiting for a decision.
 *
 * Spans are kept as their OTLP wire bytes, appended to one growable record buffer per
 * trace: [varint header id][varint length][Span bytes]. A header is the encoded
 * resource and scope a span arrived under (ResourceSpans without its scope_spans, and
 * ScopeSpans without its spans); headers are interned per shard with a reference count,
 * so a resource with many attributes is stored once, not once per trace. That keeps the
 * buffer within about 1.2x of the spans' OTLP wire size (docs/BENCHMARKS.md).
 *
 * Traces sit in a hash table by ID and in a FIFO list by arrival: decision_wait is the
 * same for every trace, so the oldest trace is always the next one due, and "decide the
 * oldest early" is how both memory bounds (traces, bytes) are enforced.
 *
 * The table is open-addressed in cache-line buckets (ts_bucket): a lookup loads one line
 * and dereferences a trace only on a 32-bit tag match, and a removal finds its slot by
 * pointer without touching any other trace (the chained table it replaced cost a miss
 * per chain node, and removal re-walked the chain from a cold bucket).
 *
 * Not thread-safe: a shard and its store belong to one worker thread. */
#ifndef TG_TS_STORE_H
#define TG_TS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ts_span.h"

#define TS_NO_HEADER UINT32_MAX

typedef struct ts_header {
  uint8_t *bytes;       /* rs_prefix then ss_prefix; NULL when the slot is free */
  uint32_t rs_len, ss_len;
  uint64_t hash;
  uint64_t leaf_mask;   /* resource-attribute leaves; valid when mask_known */
  int mask_known;
  uint32_t refs;        /* span records pointing here */
  uint32_t next;        /* hash chain, or free list */
} ts_header;

/* Distinct headers a trace can count inline (see ts_trace.hdr_id). Four keeps the entry
 * at 136 bytes; a trace crosses one header per service and scope it passes through. */
#define TS_TRACE_HEADERS 4
#define TS_TRACE_HEADERS_OVERFLOW (TS_TRACE_HEADERS + 1)

typedef struct ts_trace ts_trace;
struct ts_trace {
  uint8_t id[16];
  ts_trace *hnext;            /* the spare list (see ts_store.spare) */
  ts_trace *older, *newer;
  uint64_t arrival_ms;       /* monotonic ms of the first span */
  uint64_t min_start, max_end; /* unix nano over the spans */
  uint64_t leaf_mask;
  uint64_t wire_bytes;       /* OTLP size of the spans (for bytes_limiting) */
  uint32_t span_count;
  uint32_t len, cap;         /* record bytes */
  uint8_t status_bits;       /* 1 << TS_STATUS_* seen */
  uint8_t debug;             /* a span asked to be kept (sampling.priority >= 1) */
  /* hdr_id[0..n_hdr) are the headers the records use and hdr_refs how many records use
   * each, so removal (90 % of traces are dropped, their records never read) drops the
   * header references without reading the records' cold bytes. Ordered by each
   * header's last record: the order the record walk released them in, which decides
   * the ids later headers reuse. TS_TRACE_HEADERS_OVERFLOW: more than fit, removal
   * walks the records. */
  uint8_t n_hdr;
  uint8_t *records;
  uint32_t hdr_id[TS_TRACE_HEADERS], hdr_refs[TS_TRACE_HEADERS];
};

/* One cache line of the trace table. tag[i] is the high half of the trace's
 * tg_trace_id_hash (0 never: it marks a free slot). A trace goes in the first free slot
 * of its home bucket (the low hash bits) or, when that is full, of the next buckets;
 * `passed` counts the traces stored beyond this bucket whose probe passed it, so a
 * lookup stops at the first bucket on its path that none passed. */
#define TS_BUCKET_SLOTS 5
typedef struct ts_bucket {
  _Alignas(64) uint32_t tag[TS_BUCKET_SLOTS];
  uint32_t passed;
  ts_trace *slot[TS_BUCKET_SLOTS];
} ts_bucket;

typedef struct ts_store {
  ts_bucket *buckets;        /* 64-byte aligned, inside table_mem */
  size_t bucket_mask;
  void *table_mem;
  uint32_t tag_mask;         /* all ones; unit tests narrow it to force tag collisions */
  ts_trace *oldest, *newest;
  size_t n_traces;
  size_t bytes;              /* everything this store allocated for traces and headers */
  ts_header *headers;
  size_t n_headers, cap_headers;
  uint32_t *header_buckets;  /* TS_NO_HEADER-terminated chains */
  size_t header_bucket_mask;
  uint32_t free_header;
  /* Trace entries of removed traces kept for reuse (a free list through hnext), at most
   * TS_STORE_SPARE_TRACES: a trace is created and freed for every few spans, and the
   * allocator's lock and bookkeeping showed in the worker's profile. Not counted in
   * bytes (bounded: TS_STORE_SPARE_TRACES * sizeof(ts_trace), 136 KiB, per shard). */
  ts_trace *spare;
  size_t n_spare;
} ts_store;

#define TS_STORE_SPARE_TRACES 1024

/* Sizes the hash table for about expected_traces. Returns 0, or -1 on ENOMEM. */
int ts_store_init(ts_store *s, size_t expected_traces);
void ts_store_free(ts_store *s); /* frees every trace and header */

/* The id of an identical header, or a new one holding a copy of the bytes;
 * TS_NO_HEADER on ENOMEM. The header lives while span records reference it: a header
 * with no spans yet is freed by ts_store_release_header. */
uint32_t ts_store_intern_header(ts_store *s, const uint8_t *rs, size_t rs_len,
                                const uint8_t *ss, size_t ss_len);
void ts_store_release_header(ts_store *s, uint32_t id); /* frees it if unreferenced */

ts_trace *ts_store_find(const ts_store *s, const uint8_t id[16]);

/* Hint before removing or emitting t a little later: its table bucket and the start of
 * its records. */
void ts_store_prefetch_trace(const ts_store *s, const ts_trace *t);

/* Hint before looking id up a little later: its home bucket. */
void ts_store_prefetch_id(const ts_store *s, const uint8_t id[16]);

/* Appends one span (its bytes copied) to its trace, creating the trace (newest) when it
 * is not buffered. `more` is how many record bytes of the same trace the caller will add
 * right after (a run of spans in one message), so the buffer grows once for the run.
 * Returns the trace, or NULL on ENOMEM (nothing changed). */
ts_trace *ts_store_add_span(ts_store *s, const uint8_t trace_id[16], uint32_t header,
                            const uint8_t *span, size_t len, const ts_span_info *info,
                            uint64_t now_ms, size_t more);

/* ts_store_add_span for a caller that already looked the trace up: t is
 * ts_store_find(s, trace_id), NULL when not buffered (saves the second lookup). */
ts_trace *ts_store_append(ts_store *s, ts_trace *t, const uint8_t trace_id[16],
                          uint32_t header, const uint8_t *span, size_t len,
                          const ts_span_info *info, uint64_t now_ms, size_t more);

/* Record bytes one span of len bytes under header takes (for `more`). */
size_t ts_store_record_size(uint32_t header, size_t len);

/* Unlinks the trace and frees it with its records (header references dropped; the
 * records are read only when the trace used more than TS_TRACE_HEADERS headers). */
void ts_store_remove(ts_store *s, ts_trace *t);

/* Walks a trace's records: start with *offset = 0; returns 1 with the next record, 0 at
 * the end. */
int ts_trace_next_record(const ts_trace *t, size_t *offset, uint32_t *header,
                         const uint8_t **span, size_t *len);

/* Bytes a trace costs in the store, as counted in ts_store.bytes. */
size_t ts_trace_cost(const ts_trace *t);

#endif
