/* libFuzzer target: bytes → wire pre-scan and index, each compared with the walk they
 * replaced → OTLP protobuf decode (arena-bounded) → span validation → re-encode → decode
 * again, and the same bytes through the receiver's gRPC and HTTP handlers with a consumer
 * that keeps nothing. Invariants checked: the scan and index answer exactly as the
 * reference walk does, decode never overruns its arena limit, validation leaves only
 * valid ids, and a re-encoded batch decodes to the same encoding (the receiver never
 * forwards something it could not read back). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receivers/otlp/otlp.h"
#include "tg_alloc.h"
#include "tg_error.h"

/* The descriptor-driven scan the table-driven one replaced (test-only), included rather
 * than linked so that this target stays one source file. */
#include "../../unit/receivers/otlp_proto_scan_ref.c"

#define ARENA_LIMIT (4u << 20)

/* The scan and the index give the reference's return code, error text and index (every
 * byte of it, on errors too), at the receiver's depth limit and at a small one. */
static void differential(const uint8_t *data, size_t size) {
  unsigned depths[2] = {TG_OTLP_PROTO_MAX_DEPTH, size ? data[size - 1] % 12u : 0};
  for (unsigned i = 0; i < 2; i++) {
    char got[160], want[160];
    memset(got, 0x5a, sizeof got);
    memset(want, 0x5a, sizeof want);
    if (tg_otlp_proto_scan(data, size, depths[i], got, sizeof got) !=
            tg_otlp_proto_scan_ref(data, size, depths[i], want, sizeof want) ||
        memcmp(got, want, sizeof got))
      abort();
    tg_otlp_wire_index a, b;
    memset(&a, 0xa5, sizeof a);
    memset(&b, 0xa5, sizeof b);
    memset(got, 0x5a, sizeof got);
    memset(want, 0x5a, sizeof want);
    if (tg_otlp_proto_index(data, size, depths[i], got, sizeof got, &a) !=
            tg_otlp_proto_index_ref(data, size, depths[i], want, sizeof want, &b) ||
        memcmp(got, want, sizeof got) || memcmp(&a, &b, sizeof a))
      abort();
  }
}

static int drop_consume(void *target, tg_batch *batch) {
  (void)target;
  if (batch->span_count % 3 == 1)
    return TG_EAGAIN; /* back-pressure: not taken, the receiver keeps and frees it */
  tg_batch_free(batch);
  return TG_OK;
}

/* The undecoded fast path: whatever the index accepts must decode later (a batch passed
 * on undecoded is never unreadable downstream), and re-encode to the same bytes. */
static void wire_path(const uint8_t *data, size_t size) {
  tg_otlp_wire_index idx;
  char err[256];
  if (tg_otlp_proto_index(data, size, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err, &idx) != TG_OK ||
      idx.overflow || idx.merges)
    return;
  if (tg_otlp_proto_scan(data, size, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err) != TG_OK)
    abort(); /* the index is stricter than the scan, never looser */
  tg_batch *batch = tg_batch_new(size + 1024, 0);
  if (!batch)
    return;
  if (tg_batch_adopt_wire(batch, data, size, idx.offsets, idx.lengths, idx.span_counts,
                          idx.n) == TG_OK) {
    size_t spans = batch->span_count;
    int rc = tg_batch_materialize(batch);
    if (rc == TG_EDECODE)
      abort();
    if (rc == TG_OK) {
      size_t counted = spans;
      if (tg_batch_count_spans(batch) != counted)
        abort();
      if (!idx.invalid_spans) {
        char msg[256];
        if (tg_otlp_validate_spans(batch, msg, sizeof msg) != 0)
          abort(); /* the index's id check agrees with the validator */
      }
    }
  }
  tg_batch_free(batch);
}

static void check_valid(const tg_batch *batch) {
  const tg_export_request *req = &batch->request;
  for (size_t r = 0; r < req->n_resource_spans; r++)
    for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++) {
      const tg_scope_spans *ss = req->resource_spans[r]->scope_spans[s];
      for (size_t i = 0; i < ss->n_spans; i++)
        if (ss->spans[i]->trace_id.len != TG_TRACE_ID_LEN ||
            ss->spans[i]->span_id.len != TG_SPAN_ID_LEN)
          abort();
    }
}

static void roundtrip(const uint8_t *data, size_t size) {
  tg_batch *batch = tg_batch_new(size * 2, ARENA_LIMIT);
  if (!batch)
    return;
  char err[256];
  int scanned = tg_otlp_proto_scan(data, size, TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err);
  if (scanned != TG_OK && scanned != TG_EDECODE)
    abort();
  if (scanned == TG_OK && tg_batch_decode_otlp(batch, data, size) == TG_OK) {
    char msg[256];
    tg_otlp_validate_spans(batch, msg, sizeof msg);
    check_valid(batch);
    size_t len = tg_batch_encoded_size(batch);
    uint8_t *buf = tg_malloc(len ? len : 1);
    if (buf) {
      if (tg_batch_encode(batch, buf) != len)
        abort();
      tg_batch *again = tg_batch_new(len * 2, 0);
      if (again) {
        if (tg_batch_decode_otlp(again, buf, len) != TG_OK)
          abort();
        if (tg_batch_encoded_size(again) != len || again->span_count != batch->span_count)
          abort();
        tg_batch_free(again);
      }
      tg_free(buf);
    }
  }
  if (batch->arena->limit_bytes && batch->arena->reserved_bytes > batch->arena->limit_bytes)
    abort();
  tg_batch_free(batch);
}

static void ingest(const uint8_t *data, size_t size) {
  wire_path(data, size);
  tg_instance instance = {.id = "otlp/fuzz", .next = {drop_consume, NULL}};
  tg_otlp_receiver recv = {.instance = &instance, .log_component = "receiver:otlp/fuzz"};
  tg_http_request req = {.method = "POST", .path = TG_OTLP_GRPC_PATH, .body = data,
                         .body_len = size, .http_version = 2, .grpc = 1};
  tg_http_response resp = {.status = 200};
  tg_buf_init(&resp.body, 0);
  tg_otlp_grpc_handle(&recv, &req, &resp);
  tg_buf_free(&resp.body);

  tg_http_header ct = {"content-type", "application/x-protobuf"};
  req = (tg_http_request){.method = "POST", .path = "/v1/traces", .headers = &ct,
                          .n_headers = 1, .body = data, .body_len = size, .http_version = 1};
  memset(&resp, 0, sizeof resp);
  tg_buf_init(&resp.body, 0);
  tg_otlp_http_handle(&recv, &req, &resp);
  tg_buf_free(&resp.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  differential(data, size);
  roundtrip(data, size);
  ingest(data, size);
  return 0;
}
