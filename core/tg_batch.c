/* Batches: OTLP trees in arenas. Appending and splitting move pointers between trees and
 * share arenas by reference count, so span data is never copied after decode; only
 * tg_batch_clone (fan-out to a mutating consumer) copies, by re-encoding. */
#include "tg_batch.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_error.h"
#include "tg_pbwire.h"

#define REQ_DESC opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor

tg_batch *tg_batch_new(size_t chunk_hint, size_t limit_bytes) {
  tg_batch *batch = tg_calloc(1, sizeof *batch);
  if (!batch)
    return NULL;
  batch->arena = tg_arena_new(chunk_hint, limit_bytes);
  if (!batch->arena) {
    tg_free(batch);
    return NULL;
  }
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(
      &batch->request);
  batch->received_unix_nano = tg_clock_unix_nano();
  atomic_init(&batch->refs, 1);
  return batch;
}

tg_batch *tg_batch_ref(tg_batch *batch) {
  atomic_fetch_add_explicit(&batch->refs, 1, memory_order_relaxed);
  return batch;
}

void tg_batch_free(tg_batch *batch) {
  if (!batch)
    return;
  if (atomic_fetch_sub_explicit(&batch->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < batch->n_shared_arenas; i++)
    tg_arena_unref(batch->shared_arenas[i]);
  tg_free(batch->shared_arenas);
  tg_arena_unref(batch->arena);
  tg_free(batch);
}

int tg_batch_decode_otlp(tg_batch *batch, const uint8_t *data, size_t len) {
  tg_export_request *req = (tg_export_request *)protobuf_c_message_unpack(
      &REQ_DESC, &batch->arena->pb_allocator, len, data);
  if (!req)
    return batch->arena->over_limit ? TG_ETOOBIG : TG_EDECODE;
  batch->request = *req;
  tg_batch_count_spans(batch);
  return TG_OK;
}

#define RS_DESC opentelemetry__proto__trace__v1__resource_spans__descriptor

/* Records n_segments wire segments of data (offsets into it) after the batch's own. */
static inline int add_wire(tg_batch *batch, const uint8_t *data, const size_t *offsets,
                           const size_t *lengths, const size_t *span_counts,
                           size_t n_segments, tg_wire_segment **out) {
  tg_wire_segment *wire =
      tg_arena_alloc(batch->arena, (batch->n_wire + n_segments) * sizeof *wire);
  if (!wire)
    return batch->arena->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  if (batch->n_wire)
    memcpy(wire, batch->wire, batch->n_wire * sizeof *wire);
  for (size_t i = 0; i < n_segments; i++)
    wire[batch->n_wire + i] =
        (tg_wire_segment){data + offsets[i], lengths[i], span_counts[i]};
  *out = wire;
  return TG_OK;
}

static inline void commit_wire(tg_batch *batch, tg_wire_segment *wire,
                               const size_t *span_counts, size_t n_segments) {
  for (size_t i = 0; i < n_segments; i++)
    batch->span_count += span_counts[i];
  batch->wire = wire;
  batch->n_wire += n_segments;
}

int tg_batch_adopt_wire(tg_batch *batch, const uint8_t *data, size_t len,
                        const size_t *offsets, const size_t *lengths,
                        const size_t *span_counts, size_t n_segments) {
  if (!n_segments)
    return TG_OK;
  uint8_t *copy = tg_arena_memdup(batch->arena, data, len);
  if (!copy)
    return batch->arena->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  tg_wire_segment *wire;
  int rc = add_wire(batch, copy, offsets, lengths, span_counts, n_segments, &wire);
  if (rc == TG_OK)
    commit_wire(batch, wire, span_counts, n_segments);
  return rc;
}

int tg_batch_adopt_wire_owned(tg_batch *batch, void *buf, size_t buf_size,
                              void (*free_fn)(void *), const uint8_t *data,
                              const size_t *offsets, const size_t *lengths,
                              const size_t *span_counts, size_t n_segments) {
  tg_wire_segment *wire = batch->wire;
  int rc = n_segments
               ? add_wire(batch, data, offsets, lengths, span_counts, n_segments, &wire)
               : TG_OK;
  /* adopting last: nothing after it can fail, so an error leaves buf with the caller */
  if (rc == TG_OK)
    rc = tg_arena_adopt(batch->arena, buf, buf_size, free_fn);
  if (rc == TG_OK)
    commit_wire(batch, wire, span_counts, n_segments);
  return rc;
}

int tg_batch_materialize(tg_batch *batch) {
  if (!batch->n_wire)
    return TG_OK;
  if (atomic_load(&batch->refs) != 1)
    return TG_EINVAL;
  size_t n = batch->request.n_resource_spans + batch->n_wire;
  tg_resource_spans **list = tg_arena_alloc(batch->arena, n * sizeof *list);
  if (!list)
    return TG_ENOMEM;
  if (batch->request.n_resource_spans)
    memcpy(list, batch->request.resource_spans,
           batch->request.n_resource_spans * sizeof *list);
  size_t k = batch->request.n_resource_spans;
  for (size_t i = 0; i < batch->n_wire; i++) {
    const tg_wire_segment *seg = &batch->wire[i];
    tg_resource_spans *rs = (tg_resource_spans *)protobuf_c_message_unpack(
        &RS_DESC, &batch->arena->pb_allocator, seg->len, seg->data);
    if (!rs)
      return batch->arena->over_limit ? TG_ENOMEM : TG_EDECODE;
    list[k++] = rs;
  }
  batch->request.resource_spans = list;
  batch->request.n_resource_spans = n;
  batch->wire = NULL;
  batch->n_wire = 0;
  return TG_OK;
}

size_t tg_batch_encoded_size(const tg_batch *batch) {
  size_t n = protobuf_c_message_get_packed_size(&batch->request.base);
  for (size_t i = 0; i < batch->n_wire; i++)
    n += 1 + tg_pbwire_varint_size(batch->wire[i].len) + batch->wire[i].len;
  return n;
}

size_t tg_batch_encode(const tg_batch *batch, uint8_t *out) {
  size_t n = protobuf_c_message_pack(&batch->request.base, out);
  for (size_t i = 0; i < batch->n_wire; i++) {
    const tg_wire_segment *seg = &batch->wire[i];
    out[n++] = 0x0a; /* field 1 (resource_spans), wire type 2 */
    size_t v = seg->len;
    while (v >= 0x80) {
      out[n++] = (uint8_t)(v | 0x80);
      v >>= 7;
    }
    out[n++] = (uint8_t)v;
    memcpy(out + n, seg->data, seg->len);
    n += seg->len;
  }
  return n;
}

size_t tg_batch_count_spans(tg_batch *batch) {
  size_t n = 0;
  for (size_t i = 0; i < batch->n_wire; i++)
    n += batch->wire[i].span_count;
  for (size_t r = 0; r < batch->request.n_resource_spans; r++) {
    const tg_resource_spans *rs = batch->request.resource_spans[r];
    for (size_t s = 0; s < rs->n_scope_spans; s++)
      n += rs->scope_spans[s]->n_spans;
  }
  batch->span_count = n;
  return n;
}

int tg_batch_share_arena(tg_batch *batch, tg_arena *arena) {
  if (batch->n_shared_arenas == batch->cap_shared_arenas) {
    size_t cap = batch->cap_shared_arenas ? batch->cap_shared_arenas * 2 : 4;
    tg_arena **grown =
        tg_realloc(batch->shared_arenas, cap * sizeof *grown);
    if (!grown)
      return TG_ENOMEM;
    batch->shared_arenas = grown;
    batch->cap_shared_arenas = cap;
  }
  batch->shared_arenas[batch->n_shared_arenas++] = tg_arena_ref(arena);
  return TG_OK;
}

/* Takes references on all of src's arenas for dst; on failure dst is unchanged. */
static int share_all_arenas(tg_batch *dst, const tg_batch *src) {
  size_t before = dst->n_shared_arenas;
  int rc = tg_batch_share_arena(dst, src->arena);
  for (size_t i = 0; rc == TG_OK && i < src->n_shared_arenas; i++)
    rc = tg_batch_share_arena(dst, src->shared_arenas[i]);
  if (rc != TG_OK) {
    while (dst->n_shared_arenas > before)
      tg_arena_unref(dst->shared_arenas[--dst->n_shared_arenas]);
  }
  return rc;
}

int tg_batch_append(tg_batch *dst, tg_batch *src) {
  size_t n = dst->request.n_resource_spans + src->request.n_resource_spans;
  tg_resource_spans **list =
      tg_arena_alloc(dst->arena, (n ? n : 1) * sizeof *list);
  size_t n_wire = dst->n_wire + src->n_wire;
  tg_wire_segment *wire = tg_arena_alloc(dst->arena, (n_wire ? n_wire : 1) * sizeof *wire);
  if (!list || !wire)
    return TG_ENOMEM;
  if (share_all_arenas(dst, src) != TG_OK)
    return TG_ENOMEM;
  if (dst->request.n_resource_spans)
    memcpy(list, dst->request.resource_spans,
           dst->request.n_resource_spans * sizeof *list);
  if (src->request.n_resource_spans)
    memcpy(list + dst->request.n_resource_spans, src->request.resource_spans,
           src->request.n_resource_spans * sizeof *list);
  dst->request.resource_spans = list;
  dst->request.n_resource_spans = n;
  if (dst->n_wire)
    memcpy(wire, dst->wire, dst->n_wire * sizeof *wire);
  if (src->n_wire)
    memcpy(wire + dst->n_wire, src->wire, src->n_wire * sizeof *wire);
  dst->wire = wire;
  dst->n_wire = n_wire;
  dst->span_count += src->span_count;
  if (!dst->received_unix_nano ||
      (src->received_unix_nano && src->received_unix_nano < dst->received_unix_nano))
    dst->received_unix_nano = src->received_unix_nano;
  tg_batch_free(src);
  return TG_OK;
}

tg_batch *tg_batch_clone(const tg_batch *batch) {
  size_t len = tg_batch_encoded_size(batch);
  uint8_t *buf = tg_malloc(len ? len : 1);
  if (!buf)
    return NULL;
  tg_batch_encode(batch, buf);
  tg_batch *copy = tg_batch_new(len * 2, 0);
  if (copy && tg_batch_decode_otlp(copy, buf, len) != TG_OK) {
    tg_batch_free(copy);
    copy = NULL;
  }
  if (copy) {
    copy->received_unix_nano = batch->received_unix_nano;
    copy->metrics = batch->metrics;
  }
  tg_free(buf);
  return copy;
}

/* Splits a batch that is all wire segments at segment granularity: the front takes whole
 * segments while they fit (at least one). NULL when the first segment alone is too big. */
static tg_batch *split_wire_front(tg_batch *batch, size_t max_spans) {
  size_t k = 0, taken = 0;
  while (k < batch->n_wire && taken + batch->wire[k].span_count <= max_spans)
    taken += batch->wire[k++].span_count;
  if (k == 0)
    return NULL;
  tg_batch *front = tg_batch_new(1024, 0);
  if (!front)
    return NULL;
  if (share_all_arenas(front, batch) != TG_OK) {
    tg_batch_free(front);
    return NULL;
  }
  front->wire = batch->wire; /* the first k entries; the array is never written again */
  front->n_wire = k;
  front->span_count = taken;
  front->received_unix_nano = batch->received_unix_nano;
  batch->wire += k;
  batch->n_wire -= k;
  batch->span_count -= taken;
  return front;
}

tg_batch *tg_batch_split_front(tg_batch *batch, size_t max_spans) {
  if (batch->n_wire && !batch->request.n_resource_spans) {
    tg_batch *front = split_wire_front(batch, max_spans);
    if (front)
      return front;
  }
  if (tg_batch_materialize(batch) != TG_OK)
    return NULL;
  tg_batch *front = tg_batch_new(1024, 0);
  if (!front)
    return NULL;
  tg_export_request *req = &batch->request;
  size_t n_rs = req->n_resource_spans;
  tg_resource_spans **front_rs = tg_arena_alloc(front->arena, (n_rs + 1) * sizeof *front_rs);
  tg_resource_spans **rest_rs = tg_arena_alloc(batch->arena, (n_rs + 1) * sizeof *rest_rs);
  if (!front_rs || !rest_rs || share_all_arenas(front, batch) != TG_OK) {
    tg_batch_free(front);
    return NULL;
  }
  size_t taken = 0, n_front = 0, n_rest = 0;
  for (size_t r = 0; r < n_rs; r++) {
    tg_resource_spans *rs = req->resource_spans[r];
    size_t rs_spans = 0;
    for (size_t s = 0; s < rs->n_scope_spans; s++)
      rs_spans += rs->scope_spans[s]->n_spans;
    if (taken >= max_spans) {
      rest_rs[n_rest++] = rs;
      continue;
    }
    if (taken + rs_spans <= max_spans) {
      front_rs[n_front++] = rs;
      taken += rs_spans;
      continue;
    }
    /* This resource straddles the cut: each half gets a shallow copy of it with its own
     * scope list; a straddling scope gets a shallow copy per half with its own span range. */
    tg_resource_spans *head = tg_arena_memdup(front->arena, rs, sizeof *rs);
    tg_resource_spans *tail = tg_arena_memdup(batch->arena, rs, sizeof *rs);
    tg_scope_spans **head_ss = tg_arena_alloc(front->arena, rs->n_scope_spans * sizeof *head_ss);
    tg_scope_spans **tail_ss = tg_arena_alloc(batch->arena, rs->n_scope_spans * sizeof *tail_ss);
    if (!head || !tail || !head_ss || !tail_ss) {
      tg_batch_free(front);
      return NULL;
    }
    size_t n_head = 0, n_tail = 0;
    for (size_t s = 0; s < rs->n_scope_spans; s++) {
      tg_scope_spans *ss = rs->scope_spans[s];
      size_t want = max_spans - taken;
      if (want == 0) {
        tail_ss[n_tail++] = ss;
      } else if (ss->n_spans <= want) {
        head_ss[n_head++] = ss;
        taken += ss->n_spans;
      } else {
        tg_scope_spans *ss_head = tg_arena_memdup(front->arena, ss, sizeof *ss);
        tg_scope_spans *ss_tail = tg_arena_memdup(batch->arena, ss, sizeof *ss);
        if (!ss_head || !ss_tail) {
          tg_batch_free(front);
          return NULL;
        }
        ss_head->n_spans = want;
        ss_tail->spans = ss->spans + want;
        ss_tail->n_spans = ss->n_spans - want;
        head_ss[n_head++] = ss_head;
        tail_ss[n_tail++] = ss_tail;
        taken += want;
      }
    }
    head->scope_spans = head_ss;
    head->n_scope_spans = n_head;
    tail->scope_spans = tail_ss;
    tail->n_scope_spans = n_tail;
    front_rs[n_front++] = head;
    rest_rs[n_rest++] = tail;
  }
  req->resource_spans = rest_rs;
  req->n_resource_spans = n_rest;
  front->request.resource_spans = front_rs;
  front->request.n_resource_spans = n_front;
  front->span_count = taken;
  front->received_unix_nano = batch->received_unix_nano;
  batch->span_count -= taken;
  return front;
}
