/* libFuzzer target: bytes → OTLP/JSON decoder (arena-bounded) → span validation →
 * protobuf encode → protobuf decode, plus the OTLP/HTTP handler with a JSON content type.
 * Invariants: every error is TG_EDECODE/TG_ETOOBIG with a printable-ASCII message, and
 * whatever the JSON decoder builds is a protobuf tree that encodes and decodes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receivers/otlp/otlp.h"
#include "receivers/otlp/otlp_json.h"
#include "tg_alloc.h"
#include "tg_error.h"

#define ARENA_LIMIT (4u << 20)

static int keep_nothing(void *target, tg_batch *batch) {
  (void)target;
  tg_batch_free(batch);
  return TG_OK;
}

static void decode(const uint8_t *data, size_t size) {
  tg_batch *batch = tg_batch_new(size, ARENA_LIMIT);
  if (!batch)
    return;
  char err[256];
  int rc = tg_otlp_json_decode(batch, data, size, err, sizeof err);
  if (rc != TG_OK) {
    if (rc != TG_EDECODE && rc != TG_ETOOBIG && rc != TG_ENOMEM)
      abort();
    if (batch->span_count || batch->request.n_resource_spans)
      abort();
    for (const char *p = err; *p; p++)
      if (*p < 0x20 || *p > 0x7e)
        abort();
    tg_buf out;
    tg_buf_init(&out, 0);
    if (tg_otlp_json_encode_status(&out, 3, err) != TG_OK)
      abort();
    tg_buf_free(&out);
  } else {
    tg_otlp_validate_spans(batch, err, sizeof err);
    size_t len = tg_batch_encoded_size(batch);
    uint8_t *buf = tg_malloc(len ? len : 1);
    if (buf) {
      if (tg_batch_encode(batch, buf) != len)
        abort();
      tg_batch *again = tg_batch_new(len, 0);
      if (again) {
        if (tg_batch_decode_otlp(again, buf, len) != TG_OK ||
            again->span_count != batch->span_count)
          abort();
        tg_batch_free(again);
      }
      tg_free(buf);
    }
  }
  tg_batch_free(batch);
}

static void handle(const uint8_t *data, size_t size) {
  tg_instance instance = {.id = "otlp/fuzz", .next = {keep_nothing, NULL}};
  tg_otlp_receiver recv = {.instance = &instance, .log_component = "receiver:otlp/fuzz"};
  tg_http_header ct = {"content-type", "application/json; charset=utf-8"};
  tg_http_request req = {.method = "POST", .path = "/v1/traces", .headers = &ct,
                         .n_headers = 1, .body = data, .body_len = size, .http_version = 1};
  tg_http_response resp = {.status = 200};
  tg_buf_init(&resp.body, 0);
  tg_otlp_http_handle(&recv, &req, &resp);
  tg_buf_free(&resp.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  decode(data, size);
  handle(data, size);
  return 0;
}
