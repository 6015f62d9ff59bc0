/* B3 propagation (openzipkin/b3-propagation): the single `b3` header and the X-B3-*
 * multi-header form, read and written through the one tg_tracectx.
 *
 * B3 has a three-state sampling field (accept "1", deny "0", absent = defer) plus debug
 * ("d" or X-B3-Flags: 1, which implies accept). The context keeps all three states
 * (flags SAMPLED, deferred, debug), so B3 -> B3 round trips are exact and B3 -> W3C keeps
 * what W3C can say (sampled or not).
 *
 * Strictness follows the B3 specification, not the lenient OpenTelemetry JS propagator:
 * IDs are lower-case hex of exactly 16 or 32 (trace) and 16 (span, parent) characters,
 * all-zero IDs are invalid, and the single header has no trailing garbage. */
#include <string.h>

#include "tg_tracectx.h"

static int fail(tg_tracectx *out, const char **reason, const char *why) {
  memset(out, 0, sizeof *out - sizeof out->tracestate + 1);
  out->tracestate[0] = '\0';
  if (reason)
    *reason = why;
  return -1;
}

static void clear(tg_tracectx *out) {
  memset(out, 0, sizeof *out - sizeof out->tracestate + 1);
  out->tracestate[0] = '\0';
}

/* Trace ID of 16 or 32 lower hex into 16 bytes (16 is left-padded). */
static int parse_trace_id(const char *s, size_t len, uint8_t out[16]) {
  if (len == 32)
    return tg_hex_decode(s, 16, out, 1);
  if (len == 16) {
    memset(out, 0, 8);
    return tg_hex_decode(s, 8, out + 8, 1);
  }
  return -1;
}

/* "1" accept, "0" deny, "d" debug; returns 0 or -1 */
static int parse_sampling(const char *s, size_t len, tg_tracectx *out) {
  if (len != 1)
    return -1;
  switch (s[0]) {
  case '1': out->flags |= TG_TRACECTX_SAMPLED; return 0;
  case '0': return 0;
  case 'd':
    out->flags |= TG_TRACECTX_SAMPLED;
    out->debug = 1;
    return 0;
  default: return -1;
  }
}

int tg_b3_single_parse(const char *s, size_t len, tg_tracectx *out, const char **reason) {
  clear(out);
  if (!s)
    return fail(out, reason, "b3: missing");
  while (len && (s[0] == ' ' || s[0] == '\t'))
    s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  if (len == 1) { /* a bare sampling state: a decision without a context */
    if (parse_sampling(s, 1, out))
      return fail(out, reason, "b3: a lone field must be 0, 1 or d");
    return 1;
  }
  /* split on '-' into at most 4 fields */
  const char *f[5];
  size_t fl[5], n = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '-') {
      if (n == 4)
        return fail(out, reason, "b3: more than 4 fields");
      f[n] = s + start;
      fl[n] = i - start;
      n++;
      start = i + 1;
    }
  }
  if (n < 2)
    return fail(out, reason, "b3: needs {traceid}-{spanid}");
  if (parse_trace_id(f[0], fl[0], out->trace_id))
    return fail(out, reason, "b3: trace ID is not 16 or 32 lower-case hex digits");
  if (fl[1] != 16 || tg_hex_decode(f[1], 8, out->span_id, 1))
    return fail(out, reason, "b3: span ID is not 16 lower-case hex digits");
  if (tg_id_is_zero(out->trace_id, 16))
    return fail(out, reason, "b3: trace ID is all zeros");
  if (tg_id_is_zero(out->span_id, 8))
    return fail(out, reason, "b3: span ID is all zeros");
  if (n == 2) {
    out->deferred = 1;
  } else if (parse_sampling(f[2], fl[2], out)) {
    /* "{trace}-{span}-{parent}" is not B3: the parent comes after the sampling state */
    return fail(out, reason, "b3: sampling state is not 0, 1 or d");
  }
  if (n == 4) {
    if (fl[3] != 16 || tg_hex_decode(f[3], 8, out->parent_id, 1))
      return fail(out, reason, "b3: parent span ID is not 16 lower-case hex digits");
    if (tg_id_is_zero(out->parent_id, 8))
      return fail(out, reason, "b3: parent span ID is all zeros");
  }
  out->source = TG_TRACECTX_FROM_B3_SINGLE;
  return 0;
}

static int eq(const char *s, const char *want) { return s && !strcmp(s, want); }

static int parse_multi_sampling(const char *sampled, const char *flags, tg_tracectx *out,
                                const char **why) {
  if (flags) {
    if (eq(flags, "1")) {
      out->debug = 1;
      out->flags |= TG_TRACECTX_SAMPLED;
      return 0; /* debug implies accept, X-B3-Sampled is redundant */
    }
    if (!eq(flags, "0") && flags[0]) {
      *why = "X-B3-Flags: must be 1 (debug) or absent";
      return -1;
    }
  }
  if (!sampled) {
    out->deferred = 1;
    return 0;
  }
  if (eq(sampled, "1") || eq(sampled, "true")) {
    out->flags |= TG_TRACECTX_SAMPLED;
    return 0;
  }
  if (eq(sampled, "0") || eq(sampled, "false"))
    return 0;
  *why = "X-B3-Sampled: must be 1 or 0";
  return -1;
}

int tg_b3_multi_parse(const char *trace_id, const char *span_id, const char *parent_id,
                      const char *sampled, const char *flags, tg_tracectx *out,
                      const char **reason) {
  clear(out);
  const char *why = NULL;
  if (!trace_id && !span_id) {
    if (!sampled && !flags)
      return fail(out, reason, "X-B3-*: no headers");
    if (parse_multi_sampling(sampled, flags, out, &why))
      return fail(out, reason, why);
    out->deferred = 0;
    return 1;
  }
  if (!trace_id || !span_id)
    return fail(out, reason, "X-B3-TraceId and X-B3-SpanId must come together");
  if (parse_trace_id(trace_id, strlen(trace_id), out->trace_id))
    return fail(out, reason, "X-B3-TraceId: not 16 or 32 lower-case hex digits");
  if (strlen(span_id) != 16 || tg_hex_decode(span_id, 8, out->span_id, 1))
    return fail(out, reason, "X-B3-SpanId: not 16 lower-case hex digits");
  if (tg_id_is_zero(out->trace_id, 16))
    return fail(out, reason, "X-B3-TraceId: all zeros");
  if (tg_id_is_zero(out->span_id, 8))
    return fail(out, reason, "X-B3-SpanId: all zeros");
  if (parent_id) {
    if (strlen(parent_id) != 16 || tg_hex_decode(parent_id, 8, out->parent_id, 1) ||
        tg_id_is_zero(out->parent_id, 8))
      return fail(out, reason, "X-B3-ParentSpanId: not 16 lower-case hex digits, non-zero");
  }
  if (parse_multi_sampling(sampled, flags, out, &why))
    return fail(out, reason, why);
  out->source = TG_TRACECTX_FROM_B3_MULTI;
  return 0;
}

size_t tg_b3_single_format(const tg_tracectx *ctx, char out[TG_B3_SINGLE_MAX + 1]) {
  tg_hex_encode(ctx->trace_id, 16, out);
  out[32] = '-';
  tg_hex_encode(ctx->span_id, 8, out + 33);
  size_t n = 49;
  if (ctx->debug || !ctx->deferred) {
    out[n++] = '-';
    out[n++] = ctx->debug ? 'd' : (ctx->flags & TG_TRACECTX_SAMPLED) ? '1' : '0';
  } else if (!tg_id_is_zero(ctx->parent_id, 8)) {
    /* the parent field needs a sampling field before it; deferred has none, so the
     * parent is left out rather than written in the sampling position */
    out[n] = '\0';
    return n;
  }
  if (!tg_id_is_zero(ctx->parent_id, 8)) {
    out[n++] = '-';
    tg_hex_encode(ctx->parent_id, 8, out + n);
    n += 16;
  }
  out[n] = '\0';
  return n;
}

void tg_b3_multi_format(const tg_tracectx *ctx, tg_b3_multi_values *out) {
  tg_hex_encode(ctx->trace_id, 16, out->trace_id);
  tg_hex_encode(ctx->span_id, 8, out->span_id);
  if (tg_id_is_zero(ctx->parent_id, 8))
    out->parent_id[0] = '\0';
  else
    tg_hex_encode(ctx->parent_id, 8, out->parent_id);
  out->flags[0] = ctx->debug ? '1' : '\0';
  out->flags[1] = '\0';
  out->sampled[0] = (ctx->debug || ctx->deferred) ? '\0'
                    : (ctx->flags & TG_TRACECTX_SAMPLED) ? '1'
                                                          : '0';
  out->sampled[1] = '\0';
}
