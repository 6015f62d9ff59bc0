/* Shared body of the Zipkin fuzz targets (zipkin_json_v2, zipkin_json_v1, zipkin_proto):
 * input bytes → the receiver's decode (JSON reader or protobuf-c, then the conversion to
 * OTLP, arena-bounded) → if accepted, OTLP → the exporter's Zipkin v2 JSON and protobuf →
 * decode again, which must succeed with no invalid span and the same span count:
 * whatever the receiver takes in, the exporter can send out and a Zipkin peer (this
 * receiver) can read back. Every decode error must explain itself. */
#ifndef TG_FUZZ_ZIPKIN_H
#define TG_FUZZ_ZIPKIN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/zipkin/zipkin_exp.h"
#include "receivers/zipkin/zipkin.h"
#include "tg_alloc.h"
#include "tg_error.h"

static void fuzz_zipkin_reencode(tg_batch *batch, int proto) {
  size_t n = tg_batch_encoded_size(batch);
  uint8_t *req = tg_malloc(n ? n : 1);
  if (!req)
    return;
  tg_batch_encode(batch, req);
  tg_buf body;
  tg_buf_init(&body, 0);
  size_t spans;
  if (tg_zipkin_exp_encode(req, n, proto, NULL, &body, &spans) != TG_OK)
    abort();
  if (spans != batch->span_count)
    abort();
  tg_batch *again;
  size_t invalid;
  char msg[256];
  int rc = tg_zipkin_decode(proto ? TG_ZIPKIN_V2_PROTO : TG_ZIPKIN_V2_JSON, body.data,
                            body.len, &again, &invalid, msg, sizeof msg);
  if (rc != TG_OK || invalid || again->span_count != batch->span_count)
    abort(); /* we wrote something we cannot read back */
  tg_batch_free(again);
  tg_buf_free(&body);
  tg_free(req);
}

static void fuzz_zipkin_one(tg_zipkin_format f, const uint8_t *data, size_t size) {
  tg_batch *batch;
  size_t invalid;
  char msg[256];
  int rc = tg_zipkin_decode(f, data, size, &batch, &invalid, msg, sizeof msg);
  if (rc == TG_EDECODE && !msg[0])
    abort(); /* every decode error explains itself */
  if (rc != TG_OK)
    return;
  fuzz_zipkin_reencode(batch, 0);
  fuzz_zipkin_reencode(batch, 1);
  tg_batch_free(batch);
}

#endif
