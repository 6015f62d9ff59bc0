/* libFuzzer target for Jaeger's uber-trace-id. Checked: a parsed context re-emits and
 * parses back to the same trace, span and parent IDs, sampled bit and debug flag. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_tracectx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_tracectx ctx, again;
  const char *reason = NULL;
  if (tg_uber_trace_id_parse((const char *)data, size, &ctx, &reason) != 0) {
    if (!reason)
      abort();
    return 0;
  }
  char out[TG_UBER_TRACE_ID_MAX + 1];
  size_t n = tg_uber_trace_id_format(&ctx, out);
  if (n != strlen(out) || n > TG_UBER_TRACE_ID_MAX ||
      tg_uber_trace_id_parse(out, n, &again, NULL) != 0)
    abort();
  if (memcmp(ctx.trace_id, again.trace_id, 16) || memcmp(ctx.span_id, again.span_id, 8) ||
      memcmp(ctx.parent_id, again.parent_id, 8) || ctx.flags != again.flags ||
      ctx.debug != again.debug)
    abort();
  return 0;
}
