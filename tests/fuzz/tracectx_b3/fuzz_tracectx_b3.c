/* libFuzzer target for B3. First byte even: the input after it is one `b3` single header;
 * odd: up to five '\n'-separated X-B3-* values (TraceId, SpanId, ParentSpanId, Sampled,
 * Flags; an empty line means absent). Checked: a parsed context re-emits (single and
 * multi) and parses back to the same IDs, sampled bit, debug and deferred state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_tracectx.h"

static void same(const tg_tracectx *a, const tg_tracectx *b, int parent) {
  if (memcmp(a->trace_id, b->trace_id, 16) || memcmp(a->span_id, b->span_id, 8) ||
      (a->flags & TG_TRACECTX_SAMPLED) != (b->flags & TG_TRACECTX_SAMPLED) ||
      a->debug != b->debug || a->deferred != b->deferred ||
      (parent && memcmp(a->parent_id, b->parent_id, 8)))
    abort();
}

static void round_trip(const tg_tracectx *ctx) {
  char single[TG_B3_SINGLE_MAX + 1];
  tg_tracectx again;
  size_t n = tg_b3_single_format(ctx, single);
  if (n != strlen(single) || tg_b3_single_parse(single, n, &again, NULL) != 0)
    abort();
  same(ctx, &again, !ctx->deferred || ctx->debug);
  tg_b3_multi_values mv;
  tg_b3_multi_format(ctx, &mv);
  if (tg_b3_multi_parse(mv.trace_id, mv.span_id, mv.parent_id[0] ? mv.parent_id : NULL,
                        mv.sampled[0] ? mv.sampled : NULL, mv.flags[0] ? mv.flags : NULL,
                        &again, NULL) != 0)
    abort();
  same(ctx, &again, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096)
    return 0;
  tg_tracectx ctx;
  const char *reason = NULL;
  if (!(data[0] & 1)) {
    int rc = tg_b3_single_parse((const char *)data + 1, size - 1, &ctx, &reason);
    if (rc == 0)
      round_trip(&ctx);
    else if (rc < 0 && !reason)
      abort();
    return 0;
  }
  char buf[4096];
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  const char *f[5] = {NULL, NULL, NULL, NULL, NULL};
  char *p = buf;
  for (int i = 0; i < 5 && p; i++) {
    char *e = strchr(p, '\n');
    if (e)
      *e = '\0';
    f[i] = *p ? p : NULL;
    p = e ? e + 1 : NULL;
  }
  int rc = tg_b3_multi_parse(f[0], f[1], f[2], f[3], f[4], &ctx, &reason);
  if (rc == 0)
    round_trip(&ctx);
  else if (rc < 0 && !reason)
    abort();
  return 0;
}
