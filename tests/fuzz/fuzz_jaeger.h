/* Shared body of the Jaeger fuzz targets (jaeger_thrift_compact, jaeger_thrift_binary,
 * jaeger_proto): input bytes → the receiver's decode (Thrift or api_v2 protobuf, then the
 * conversion to OTLP, arena-bounded) → if accepted, OTLP → Jaeger → the same wire again →
 * decode again, which must succeed with the same span count: whatever the receiver takes
 * in, the exporters can send out and a Jaeger peer can read back. */
#ifndef TG_FUZZ_JAEGER_H
#define TG_FUZZ_JAEGER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "translate/jaeger/jaeger_model.h"
#include "exporters/jaeger/jaeger_thrift_encode.h"
#include "receivers/jaeger/jaeger.h"
#include "tg_error.h"

static void fuzz_jaeger_reencode(tg_jaeger_transport t, tg_batch *batch) {
  tg_arena *a = tg_arena_new(0, 0);
  if (!a)
    return;
  size_t spans = 0;
  for (size_t r = 0; r < batch->request.n_resource_spans; r++) {
    tg_jaeger_batch *jb;
    if (tg_jaeger_from_otlp(a, batch->request.resource_spans[r], &jb) != TG_OK)
      abort();
    tg_buf buf;
    tg_buf_init(&buf, 0);
    int rc;
    if (t == TG_JAEGER_GRPC) {
      tg_jaeger_post_spans req = JAEGER__API_V2__POST_SPANS_REQUEST__INIT;
      req.batch = jb;
      rc = tg_buf_reserve(&buf, jaeger__api_v2__post_spans_request__get_packed_size(&req));
      if (rc == TG_OK)
        buf.len = jaeger__api_v2__post_spans_request__pack(&req, buf.data);
    } else if (t == TG_JAEGER_THRIFT_HTTP) {
      rc = tg_jaeger_thrift_encode_batch(&buf, TG_THRIFT_BINARY, jb);
    } else {
      rc = tg_jaeger_thrift_encode_emit_batch(&buf, (tg_thrift_protocol)t, jb, 0);
    }
    if (rc != TG_OK)
      abort();
    tg_batch *again;
    size_t invalid;
    char msg[200];
    if (tg_jaeger_decode(t, buf.data, buf.len, &again, &invalid, msg, sizeof msg) != TG_OK ||
        invalid)
      abort(); /* we wrote something we cannot read back */
    spans += again->span_count;
    tg_batch_free(again);
    tg_buf_free(&buf);
  }
  if (spans != batch->span_count)
    abort();
  tg_arena_unref(a);
}

static void fuzz_jaeger_one(tg_jaeger_transport t, const uint8_t *data, size_t size) {
  tg_batch *batch;
  size_t invalid;
  char msg[200];
  int rc = tg_jaeger_decode(t, data, size, &batch, &invalid, msg, sizeof msg);
  if (rc == TG_EDECODE && strncmp(msg, "malformed", 9))
    abort(); /* every decode error explains itself */
  if (rc != TG_OK)
    return;
  fuzz_jaeger_reencode(t, batch);
  tg_batch_free(batch);
}

#endif
