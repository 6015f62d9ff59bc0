/* libFuzzer target for W3C traceparent and tracestate. Input: the traceparent value, then
 * '\n'-separated tracestate header values. Checked beyond "no crash": a parsed traceparent
 * re-emits as version 00 and parses back to the same IDs and flags; the combined
 * tracestate is at most 512 characters, at most 32 members, and is a fixed point (parsing
 * what was emitted gives it back unchanged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_tracectx.h"

static tg_tracestate_parser parser;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  const char *nl = memchr(s, '\n', size);
  size_t tp_len = nl ? (size_t)(nl - s) : size;
  tg_tracectx ctx, again;
  const char *reason = NULL;
  if (tg_traceparent_parse(s, tp_len, &ctx, &reason) == 0) {
    char out[TG_TRACEPARENT_LEN + 1];
    if (tg_traceparent_format(&ctx, out) != TG_TRACEPARENT_LEN ||
        tg_traceparent_parse(out, TG_TRACEPARENT_LEN, &again, NULL) != 0 ||
        memcmp(ctx.trace_id, again.trace_id, 16) || memcmp(ctx.span_id, again.span_id, 8) ||
        ctx.flags != again.flags)
      abort();
  } else if (!reason) {
    abort();
  }
  tg_tracestate_begin(&parser);
  size_t pos = nl ? tp_len + 1 : size;
  while (pos < size) {
    const char *h = s + pos;
    const char *e = memchr(h, '\n', size - pos);
    size_t len = e ? (size_t)(e - h) : size - pos;
    tg_tracestate_add(&parser, h, len);
    pos += len + 1;
  }
  int kept = tg_tracestate_finish(&parser, &ctx, NULL);
  if (ctx.tracestate_len > TG_TRACESTATE_MAX_LEN || kept > TG_TRACESTATE_MAX_MEMBERS ||
      strlen(ctx.tracestate) != ctx.tracestate_len)
    abort();
  if (ctx.tracestate_len) {
    tg_tracestate_begin(&parser);
    if (tg_tracestate_add(&parser, ctx.tracestate, ctx.tracestate_len))
      abort();
    tg_tracestate_finish(&parser, &again, NULL);
    if (strcmp(again.tracestate, ctx.tracestate))
      abort();
  }
  return 0;
}
