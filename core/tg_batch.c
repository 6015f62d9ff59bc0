/* Batches: OTLP trees in arenas. Appending and splitting move pointers between trees and
 * share arenas by reference count, so span data is never copied after decode; only
 * tg_batch_clone (fan-out to a mutating consumer) copies, by re-encoding. */
#include "tg_batch.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_error.h"

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

size_t tg_batch_encoded_size(const tg_batch *batch) {
  return protobuf_c_message_get_packed_size(&batch->request.base);
}

size_t tg_batch_encode(const tg_batch *batch, uint8_t *out) {
  return protobuf_c_message_pack(&batch->request.base, out);
}

size_t tg_batch_count_spans(tg_batch *batch) {
  size_t n = 0;
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
  if (!list)
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
  if (copy)
    copy->received_unix_nano = batch->received_unix_nano;
  tg_free(buf);
  return copy;
}

tg_batch *tg_batch_split_front(tg_batch *batch, size_t max_spans) {
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
