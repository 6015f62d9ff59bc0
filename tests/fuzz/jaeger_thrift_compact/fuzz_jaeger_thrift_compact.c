/* libFuzzer target: Agent.emitBatch datagrams in the Thrift compact protocol (the
 * thrift_compact UDP endpoint); see fuzz_jaeger.h for the invariants. */
#include "../fuzz_jaeger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > TG_JAEGER_MAX_DATAGRAM)
    return 0; /* the endpoint drops larger datagrams before decoding */
  fuzz_jaeger_one(TG_JAEGER_THRIFT_COMPACT, data, size);
  return 0;
}
