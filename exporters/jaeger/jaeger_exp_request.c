/* The Jaeger exporters' request step, on sender threads: the sending queue hands over an
 * encoded OTLP request (it encodes batches off the loop thread, the same for every
 * exporter); this decodes it into one arena and converts each resource to a Jaeger
 * Batch. Decoding again costs a little CPU on a sender thread and keeps the queue
 * format-agnostic. */
#include "jaeger_exp.h"

#include <string.h>

#include "tg_error.h"

int tg_jaeger_exp_request_init(tg_jaeger_exp_request *r, const uint8_t *data, size_t len) {
  memset(r, 0, sizeof *r);
  r->otlp = tg_batch_new(2 * len + 1024, 0);
  if (!r->otlp)
    return TG_ENOMEM;
  int rc = tg_batch_decode_otlp(r->otlp, data, len);
  if (rc != TG_OK)
    return rc;
  const tg_export_request *req = &r->otlp->request;
  size_t n = req->n_resource_spans ? req->n_resource_spans : 1;
  r->batches = tg_arena_alloc(r->otlp->arena, n * sizeof *r->batches);
  r->span_counts = tg_arena_alloc(r->otlp->arena, n * sizeof *r->span_counts);
  if (!r->batches || !r->span_counts)
    return TG_ENOMEM;
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    tg_jaeger_batch *b;
    rc = tg_jaeger_from_otlp(r->otlp->arena, req->resource_spans[i], &b);
    if (rc != TG_OK)
      return rc == TG_ETOOBIG ? TG_ENOMEM : rc;
    if (!b->n_spans)
      continue;
    r->span_counts[r->n] = b->n_spans;
    r->batches[r->n++] = b;
  }
  return TG_OK;
}

void tg_jaeger_exp_request_free(tg_jaeger_exp_request *r) {
  tg_batch_free(r->otlp);
  memset(r, 0, sizeof *r);
}

/* A fingerprint of a request: its first and last 256 bytes (ids and timestamps of the
 * first and last spans live there), not all of it: hashing every byte cost 5 % of the
 * exporter's CPU in the benchmark profile. */
static uint64_t fingerprint(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull ^ n;
  size_t head = n < 256 ? n : 256;
  for (size_t i = 0; i < head; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  for (size_t i = n > 512 ? n - 256 : head; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

size_t tg_jaeger_exp_progress_begin(tg_jaeger_exp_progress *p, const uint8_t *data,
                                    size_t len) {
  uint64_t h = fingerprint(data, len);
  if (p->data == data && p->len == len && p->hash == h)
    return p->done;
  p->data = data;
  p->len = len;
  p->hash = h;
  p->done = 0;
  return 0;
}
