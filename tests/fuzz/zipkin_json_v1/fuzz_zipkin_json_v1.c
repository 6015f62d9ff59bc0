/* libFuzzer target: the zipkin receiver's json_v1 decoder; see fuzz_zipkin.h for
 * the invariants. Seeds: bodies in the shapes real tracers send (OpenTelemetry's Zipkin
 * exporter, zipkin-js), the edge cases of the unit tests, and nothing. */
#include "../fuzz_zipkin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_zipkin_one(TG_ZIPKIN_V1_JSON, data, size);
  return 0;
}
