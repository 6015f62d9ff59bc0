/* Jaeger propagation: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}`.
 *
 * Jaeger's clients write IDs as unpadded hex (a 64-bit trace ID of 0x1f is sent as "1f"),
 * so short IDs are left-padded here; hex case is accepted either way because the Go and
 * Java clients parse with base-16 integer parsers that do. Some HTTP stacks URL-encode the
 * colons (%3A), which Jaeger's clients undo, so this does too. A zero trace or span ID is
 * invalid; a zero parent means "none" (the field is deprecated and usually 0).
 *
 * Flags: 0x01 sampled, 0x02 debug (implies sampled). Other bits (0x08 firehose) have no
 * W3C or B3 equivalent and are not kept. */
#include <string.h>

#include "tg_tracectx.h"

static int fail(tg_tracectx *out, const char **reason, const char *why) {
  memset(out, 0, sizeof *out - sizeof out->tracestate + 1);
  out->tracestate[0] = '\0';
  if (reason)
    *reason = why;
  return -1;
}

/* 1..max_digits hex digits (either case), right-aligned into out[bytes]. */
static int parse_padded_hex(const char *s, size_t len, uint8_t *out, size_t bytes) {
  if (len == 0 || len > 2 * bytes)
    return -1;
  char buf[32];
  size_t pad = 2 * bytes - len;
  memset(buf, '0', pad);
  memcpy(buf + pad, s, len);
  return tg_hex_decode(buf, bytes, out, 0);
}

int tg_uber_trace_id_parse(const char *value, size_t len, tg_tracectx *out,
                           const char **reason) {
  memset(out, 0, sizeof *out - sizeof out->tracestate + 1);
  out->tracestate[0] = '\0';
  if (!value)
    return fail(out, reason, "uber-trace-id: missing");
  if (len > 4 * TG_UBER_TRACE_ID_MAX)
    return fail(out, reason, "uber-trace-id: too long");
  /* undo %3A; any other escape is not part of the format */
  char buf[4 * TG_UBER_TRACE_ID_MAX];
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (value[i] == '%') {
      if (i + 2 < len && value[i + 1] == '3' && (value[i + 2] == 'A' || value[i + 2] == 'a')) {
        buf[n++] = ':';
        i += 2;
        continue;
      }
      return fail(out, reason, "uber-trace-id: unexpected %-escape");
    }
    buf[n++] = value[i];
  }
  const char *s = buf;
  while (n && (s[0] == ' ' || s[0] == '\t'))
    s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  const char *f[4];
  size_t fl[4], k = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == ':') {
      if (k == 4)
        return fail(out, reason, "uber-trace-id: more than 4 fields");
      f[k] = s + start;
      fl[k] = i - start;
      k++;
      start = i + 1;
    }
  }
  if (k != 4)
    return fail(out, reason, "uber-trace-id: needs {trace}:{span}:{parent}:{flags}");
  uint8_t flags;
  if (parse_padded_hex(f[0], fl[0], out->trace_id, 16))
    return fail(out, reason, "uber-trace-id: trace ID is not 1 to 32 hex digits");
  if (parse_padded_hex(f[1], fl[1], out->span_id, 8))
    return fail(out, reason, "uber-trace-id: span ID is not 1 to 16 hex digits");
  if (parse_padded_hex(f[2], fl[2], out->parent_id, 8))
    return fail(out, reason, "uber-trace-id: parent span ID is not 1 to 16 hex digits");
  if (parse_padded_hex(f[3], fl[3], &flags, 1))
    return fail(out, reason, "uber-trace-id: flags are not 1 or 2 hex digits");
  if (tg_id_is_zero(out->trace_id, 16))
    return fail(out, reason, "uber-trace-id: trace ID is zero");
  if (tg_id_is_zero(out->span_id, 8))
    return fail(out, reason, "uber-trace-id: span ID is zero");
  if (flags & 0x02) {
    out->debug = 1;
    out->flags |= TG_TRACECTX_SAMPLED;
  }
  if (flags & 0x01)
    out->flags |= TG_TRACECTX_SAMPLED;
  out->source = TG_TRACECTX_FROM_JAEGER;
  return 0;
}

size_t tg_uber_trace_id_format(const tg_tracectx *ctx, char out[TG_UBER_TRACE_ID_MAX + 1]) {
  size_t n = 0;
  tg_hex_encode(ctx->trace_id, 16, out);
  n = 32;
  out[n++] = ':';
  tg_hex_encode(ctx->span_id, 8, out + n);
  n += 16;
  out[n++] = ':';
  if (tg_id_is_zero(ctx->parent_id, 8)) {
    out[n++] = '0';
  } else {
    tg_hex_encode(ctx->parent_id, 8, out + n);
    n += 16;
  }
  out[n++] = ':';
  uint8_t flags = (uint8_t)(((ctx->flags & TG_TRACECTX_SAMPLED) || ctx->debug ? 0x01 : 0) |
                            (ctx->debug ? 0x02 : 0));
  tg_hex_encode(&flags, 1, out + n);
  n += 2;
  out[n] = '\0';
  return n;
}
