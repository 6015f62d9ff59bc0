/* libFuzzer target: api_v2 PostSpansRequest protobuf (the jaeger receiver's gRPC
 * PostSpans body); see fuzz_jaeger.h for the invariants. Seeds: the api_v2 form of the
 * Thrift compact seeds (decoded with our decoder, packed with protobuf-c), and nothing. */
#include "../fuzz_jaeger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_jaeger_one(TG_JAEGER_GRPC, data, size);
  return 0;
}
