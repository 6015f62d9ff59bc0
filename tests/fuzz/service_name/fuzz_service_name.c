/* Fuzz target: service.name from a ResourceSpans in wire form
 * (tg_metrics_service_name_wire), the label sanitiser, and the trace count that uses
 * both (the tail sampler hands it peer bytes). The name must point inside the input,
 * and the sanitised label must be valid UTF-8 of at most TG_METRICS_SERVICE_NAME_MAX
 * bytes without control characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_metrics_service.h"

static int valid_utf8(const unsigned char *s) {
  while (*s) {
    size_t n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 : 4;
    if (*s < 0x20 || *s == 0x7f)
      return 0;
    for (size_t i = 1; i < n; i++)
      if ((s[i] & 0xc0) != 0x80)
        return 0;
    s += n;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name;
  size_t len;
  if (tg_metrics_service_name_wire(data, size, &name, &len) == 0) {
    if ((const uint8_t *)name < data || (const uint8_t *)name + len > data + size)
      abort();
    char out[TG_METRICS_SERVICE_NAME_MAX + 1];
    tg_metrics_service_sanitize(name, len, out, sizeof out);
    if (strlen(out) > TG_METRICS_SERVICE_NAME_MAX || !valid_utf8((const unsigned char *)out))
      abort();
  }
  char out[TG_METRICS_SERVICE_NAME_MAX + 1];
  tg_metrics_service_sanitize((const char *)data, size, out, sizeof out);
  if (!valid_utf8((const unsigned char *)out))
    abort();
  return 0;
}
