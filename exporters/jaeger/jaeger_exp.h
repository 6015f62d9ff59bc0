/* What the two Jaeger exporters share: turning a queued OTLP request into Jaeger
 * Batches (one per process), and remembering how far a multi-Batch request got so a
 * retry does not send the delivered Batches twice. */
#ifndef TG_JAEGER_EXP_H
#define TG_JAEGER_EXP_H

#include <stddef.h>
#include <stdint.h>

#include "translate/jaeger/jaeger_model.h"

/* A queued request, converted: the OTLP tree and the Jaeger Batches share one arena. */
typedef struct tg_jaeger_exp_request {
  tg_batch *otlp;             /* owns the arena everything below lives in */
  tg_jaeger_batch **batches;  /* one per resource_spans that has spans */
  size_t *span_counts;
  size_t n;
} tg_jaeger_exp_request;

/* Decodes an encoded ExportTraceServiceRequest (the sending queue's item) and converts
 * it. TG_OK, TG_EDECODE (not ours to send: permanent), TG_ENOMEM. The caller frees with
 * tg_jaeger_exp_request_free, also after an error. */
int tg_jaeger_exp_request_init(tg_jaeger_exp_request *r, const uint8_t *data, size_t len);
void tg_jaeger_exp_request_free(tg_jaeger_exp_request *r);

/* Per sender thread: Batches of the item being retried that were already delivered.
 * The sending queue retries an item on the thread that first sent it, so a thread needs
 * only to recognise its item again (address, length and a fingerprint of the bytes). */
typedef struct tg_jaeger_exp_progress {
  const uint8_t *data;
  size_t len;
  uint64_t hash;
  size_t done;
} tg_jaeger_exp_progress;

/* Number of Batches of item already delivered (0 for a new item, which it then tracks). */
size_t tg_jaeger_exp_progress_begin(tg_jaeger_exp_progress *p, const uint8_t *data, size_t len);

#endif
