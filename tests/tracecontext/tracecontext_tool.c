/* tracecontext-tool: the C trace-context library on stdin/stdout, so tests written in
 * other languages (tests/interop/tracecontext_oracle.test.js) can compare it with other
 * implementations. One case per input line, fields separated by 0x1f (unit separator,
 * because header values may contain tabs and spaces):
 *
 *   extract US name US value [US name US value ...]
 *     -> {"source":"w3c|b3|b3multi|jaeger|none","trace_id":...,"span_id":...,
 *         "parent_id":...,"sampled":bool,"random":bool,"debug":bool,"deferred":bool,
 *         "tracestate":...,"baggage":...,"reason":...}
 *   inject US trace_id US span_id US flags(hex) US debug(0|1) [US parent_id]
 *     -> {"traceparent":...,"b3":...,"x-b3-traceid":...,"x-b3-spanid":...,
 *         "x-b3-parentspanid":...,"x-b3-sampled":...,"x-b3-flags":...,"uber-trace-id":...}
 *
 * One JSON object per output line, in input order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_baggage.h"
#include "tg_tracectx.h"

#define MAX_FIELDS 64

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void field(const char *name, const char *value, int first) {
  printf("%s\"%s\":", first ? "" : ",", name);
  json_str(value);
}

static const char *source_name(tg_tracectx_source s) {
  switch (s) {
  case TG_TRACECTX_FROM_W3C: return "w3c";
  case TG_TRACECTX_FROM_B3_SINGLE: return "b3";
  case TG_TRACECTX_FROM_B3_MULTI: return "b3multi";
  case TG_TRACECTX_FROM_JAEGER: return "jaeger";
  default: return "none";
  }
}

static void do_extract(char **f, int n, tg_tracestate_parser *ts, tg_baggage *bag) {
  tg_tracectx_extractor ex;
  tg_tracectx_extract_begin(&ex, TG_PROPAGATE_TRACECONTEXT | TG_PROPAGATE_B3 |
                                     TG_PROPAGATE_JAEGER | TG_PROPAGATE_BAGGAGE);
  tg_baggage_init(bag);
  for (int i = 1; i + 1 < n; i += 2) {
    tg_tracectx_extract_header(&ex, f[i], strlen(f[i]), f[i + 1]);
    if (!strcasecmp(f[i], "baggage"))
      tg_baggage_parse(bag, f[i + 1], strlen(f[i + 1]), NULL);
    else
      tg_baggage_add_uberctx(bag, f[i], strlen(f[i]), f[i + 1]);
  }
  tg_tracectx ctx;
  const char *reason = NULL;
  tg_tracectx_source src = tg_tracectx_extract_finish(&ex, ts, &ctx, &reason);
  char t[33], s[17], p[17];
  static char bagbuf[3 * TG_BAGGAGE_MAX_BYTES + 1];
  tg_hex_encode(ctx.trace_id, 16, t);
  tg_hex_encode(ctx.span_id, 8, s);
  tg_hex_encode(ctx.parent_id, 8, p);
  tg_baggage_format(bag, bagbuf, sizeof bagbuf);
  putchar('{');
  field("source", source_name(src), 1);
  field("trace_id", t, 0);
  field("span_id", s, 0);
  field("parent_id", p, 0);
  printf(",\"sampled\":%s,\"random\":%s,\"debug\":%s,\"deferred\":%s",
         (ctx.flags & TG_TRACECTX_SAMPLED) ? "true" : "false",
         (ctx.flags & TG_TRACECTX_RANDOM) ? "true" : "false", ctx.debug ? "true" : "false",
         ctx.deferred ? "true" : "false");
  field("tracestate", ctx.tracestate, 0);
  field("baggage", bagbuf, 0);
  printf(",\"reason\":");
  if (src == TG_TRACECTX_NONE && reason)
    json_str(reason);
  else
    printf("null");
  puts("}");
}

static void do_inject(char **f, int n) {
  tg_tracectx ctx;
  memset(&ctx, 0, sizeof ctx);
  if (n < 5 || strlen(f[1]) != 32 || strlen(f[2]) != 16 ||
      tg_hex_decode(f[1], 16, ctx.trace_id, 0) || tg_hex_decode(f[2], 8, ctx.span_id, 0)) {
    puts("{\"error\":\"inject needs trace_id(32 hex) span_id(16 hex) flags debug\"}");
    return;
  }
  ctx.flags = (uint8_t)(strtoul(f[3], NULL, 16) & 0x03);
  ctx.debug = f[4][0] == '1';
  if (n > 5 && strlen(f[5]) == 16)
    tg_hex_decode(f[5], 8, ctx.parent_id, 0);
  char tp[TG_TRACEPARENT_LEN + 1], b3[TG_B3_SINGLE_MAX + 1], uber[TG_UBER_TRACE_ID_MAX + 1];
  tg_b3_multi_values mv;
  tg_traceparent_format(&ctx, tp);
  tg_b3_single_format(&ctx, b3);
  tg_b3_multi_format(&ctx, &mv);
  tg_uber_trace_id_format(&ctx, uber);
  putchar('{');
  field("traceparent", tp, 1);
  field("b3", b3, 0);
  field("x-b3-traceid", mv.trace_id, 0);
  field("x-b3-spanid", mv.span_id, 0);
  field("x-b3-parentspanid", mv.parent_id, 0);
  field("x-b3-sampled", mv.sampled, 0);
  field("x-b3-flags", mv.flags, 0);
  field("uber-trace-id", uber, 0);
  puts("}");
}

int main(void) {
  static tg_tracestate_parser ts;
  static tg_baggage bag;
  static char line[64 * 1024];
  while (fgets(line, sizeof line, stdin)) {
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n')
      line[--len] = '\0';
    char *f[MAX_FIELDS];
    int n = 0;
    char *p = line;
    f[n++] = p;
    while ((p = strchr(p, 0x1f)) && n < MAX_FIELDS) {
      *p++ = '\0';
      f[n++] = p;
    }
    if (!strcmp(f[0], "extract"))
      do_extract(f, n, &ts, &bag);
    else if (!strcmp(f[0], "inject"))
      do_inject(f, n);
    else if (f[0][0])
      puts("{\"error\":\"unknown command\"}");
    fflush(stdout);
  }
  return 0;
}
