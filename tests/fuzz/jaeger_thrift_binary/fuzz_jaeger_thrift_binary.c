/* libFuzzer target: Thrift binary protocol, both as an Agent.emitBatch datagram (the
 * thrift_binary UDP endpoint) and as a bare Batch (the body of POST /api/traces); see
 * fuzz_jaeger.h for the invariants. */
#include "../fuzz_jaeger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size <= TG_JAEGER_MAX_DATAGRAM)
    fuzz_jaeger_one(TG_JAEGER_THRIFT_BINARY, data, size);
  fuzz_jaeger_one(TG_JAEGER_THRIFT_HTTP, data, size);
  return 0;
}
