/* W3C Trace Context Level 2 (traceparent, tracestate), header extraction across formats,
 * and the small helpers every format shares (hex, ID generation, correlation IDs).
 *
 * Why hand-written scanners and not sscanf/regex: the spec's rules are positional
 * (exact length for version 00, a '-' at fixed offsets, lower-case hex only) and the
 * budget is ~100 ns per parse + emit; a 256-entry const table decodes hex with one load
 * per character and no locale.
 *
 * tracestate is validated member by member into a bounded work buffer (32 members of at
 * most 513 characters), so one bad member discards the whole header without having
 * written anything into the context; truncation to 512 characters happens on finish,
 * where the whole list is known. */
#include "tg_tracectx.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

/* -1: not hex; otherwise the nibble; upper-case marked with 0x10 so lower_only can reject */
static const signed char hex_table[256] = {
    ['0'] = 0,     ['1'] = 1,     ['2'] = 2,     ['3'] = 3,     ['4'] = 4,     ['5'] = 5,
    ['6'] = 6,     ['7'] = 7,     ['8'] = 8,     ['9'] = 9,     ['a'] = 10,    ['b'] = 11,
    ['c'] = 12,    ['d'] = 13,    ['e'] = 14,    ['f'] = 15,    ['A'] = 0x1a,  ['B'] = 0x1b,
    ['C'] = 0x1c,  ['D'] = 0x1d,  ['E'] = 0x1e,  ['F'] = 0x1f,
};
/* hex_table is zero for non-hex bytes too, so validity comes from this companion set */
static int is_hex_char(unsigned char c, int lower_only) {
  if (c >= '0' && c <= '9')
    return 1;
  if (c >= 'a' && c <= 'f')
    return 1;
  return !lower_only && c >= 'A' && c <= 'F';
}

int tg_hex_decode(const char *in, size_t n, uint8_t *out, int lower_only) {
  for (size_t i = 0; i < n; i++) {
    unsigned char hi = (unsigned char)in[2 * i], lo = (unsigned char)in[2 * i + 1];
    if (!is_hex_char(hi, lower_only) || !is_hex_char(lo, lower_only))
      return -1;
    out[i] = (uint8_t)(((hex_table[hi] & 0x0f) << 4) | (hex_table[lo] & 0x0f));
  }
  return 0;
}

void tg_hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 0x0f];
  }
  out[2 * n] = '\0';
}

int tg_id_is_zero(const uint8_t *id, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= id[i];
  return acc == 0;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static void trim_ows(const char **s, size_t *len) {
  while (*len && is_ows((*s)[0])) {
    (*s)++;
    (*len)--;
  }
  while (*len && is_ows((*s)[*len - 1]))
    (*len)--;
}

/* ---- traceparent ---------------------------------------------------------------------- */

static int tp_fail(tg_tracectx *out, const char **reason, const char *why) {
  memset(out, 0, offsetof(tg_tracectx, tracestate) + 1);
  out->tracestate[0] = '\0';
  if (reason)
    *reason = why;
  return -1;
}

int tg_traceparent_parse(const char *s, size_t len, tg_tracectx *out, const char **reason) {
  if (!s)
    return tp_fail(out, reason, "traceparent: missing");
  trim_ows(&s, &len);
  uint8_t version;
  if (len < 3 || tg_hex_decode(s, 1, &version, 1) || s[2] != '-')
    return tp_fail(out, reason, "traceparent: version is not 2 lower-case hex digits and '-'");
  if (version == 0xff)
    return tp_fail(out, reason, "traceparent: version ff is forbidden");
  if (version == 0 && len != TG_TRACEPARENT_LEN)
    return tp_fail(out, reason, "traceparent: version 00 must be exactly 55 characters");
  if (len < TG_TRACEPARENT_LEN)
    return tp_fail(out, reason, "traceparent: shorter than 55 characters");
  if (s[35] != '-' || s[52] != '-')
    return tp_fail(out, reason, "traceparent: fields are not separated by '-' at 35 and 52");
  if (len > TG_TRACEPARENT_LEN && s[55] != '-')
    return tp_fail(out, reason, "traceparent: trace-flags not followed by the end or '-'");
  uint8_t flags;
  if (tg_hex_decode(s + 3, 16, out->trace_id, 1))
    return tp_fail(out, reason, "traceparent: trace-id is not 32 lower-case hex digits");
  if (tg_hex_decode(s + 36, 8, out->span_id, 1))
    return tp_fail(out, reason, "traceparent: parent-id is not 16 lower-case hex digits");
  if (tg_hex_decode(s + 53, 1, &flags, 1))
    return tp_fail(out, reason, "traceparent: trace-flags is not 2 lower-case hex digits");
  if (tg_id_is_zero(out->trace_id, 16))
    return tp_fail(out, reason, "traceparent: trace-id is all zeros");
  if (tg_id_is_zero(out->span_id, 8))
    return tp_fail(out, reason, "traceparent: parent-id is all zeros");
  memset(out->parent_id, 0, sizeof out->parent_id);
  out->flags = flags & (TG_TRACECTX_SAMPLED | TG_TRACECTX_RANDOM);
  out->debug = 0;
  out->deferred = 0;
  out->source = TG_TRACECTX_FROM_W3C;
  out->tracestate_len = 0;
  out->tracestate[0] = '\0';
  return 0;
}

size_t tg_traceparent_format(const tg_tracectx *ctx, char out[TG_TRACEPARENT_LEN + 1]) {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  tg_hex_encode(ctx->trace_id, 16, out + 3);
  out[35] = '-';
  tg_hex_encode(ctx->span_id, 8, out + 36);
  out[52] = '-';
  uint8_t flags = ctx->flags & (TG_TRACECTX_SAMPLED | TG_TRACECTX_RANDOM);
  if (ctx->debug)
    flags |= TG_TRACECTX_SAMPLED;
  tg_hex_encode(&flags, 1, out + 53);
  return TG_TRACEPARENT_LEN;
}

/* ---- tracestate ----------------------------------------------------------------------- */

void tg_tracestate_begin(tg_tracestate_parser *p) {
  p->n = 0;
  p->invalid = 0;
  p->reason = NULL;
  p->used = 0;
}

static int is_lcalpha(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_keychar(unsigned char c) {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/' ||
         c == '@';
}
static int is_value_chr(unsigned char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; }

static int ts_invalid(tg_tracestate_parser *p, const char *why) {
  if (!p->invalid) {
    p->invalid = 1;
    p->reason = why;
  }
  return -1;
}

/* One list-member, OWS already trimmed, non-empty. */
static int ts_member(tg_tracestate_parser *p, const char *s, size_t len) {
  const char *eq = memchr(s, '=', len);
  if (!eq)
    return ts_invalid(p, "tracestate: member without '='");
  size_t key_len = (size_t)(eq - s), val_len = len - key_len - 1;
  if (key_len == 0 || key_len > 256)
    return ts_invalid(p, "tracestate: key empty or longer than 256 characters");
  if (!is_lcalpha((unsigned char)s[0]) && !is_digit((unsigned char)s[0]))
    return ts_invalid(p, "tracestate: key must start with a-z or 0-9");
  for (size_t i = 1; i < key_len; i++)
    if (!is_keychar((unsigned char)s[i]))
      return ts_invalid(p, "tracestate: key has a character outside a-z 0-9 _ - * / @");
  if (val_len == 0 || val_len > 256)
    return ts_invalid(p, "tracestate: value empty or longer than 256 characters");
  for (size_t i = 0; i < val_len; i++)
    if (!is_value_chr((unsigned char)eq[1 + i]))
      return ts_invalid(p, "tracestate: value has a character outside 0x20-0x7e or ',' '='");
  if (p->n >= TG_TRACESTATE_MAX_MEMBERS)
    return ts_invalid(p, "tracestate: more than 32 members");
  /* a duplicate key keeps the first (left-most = most recent) occurrence */
  for (uint16_t i = 0; i < p->n; i++)
    if (p->m[i].key_len == key_len && !memcmp(p->buf + p->m[i].off, s, key_len)) {
      p->m[p->n].len = 0; /* counted against the 32, not kept */
      p->m[p->n].key_len = 0;
      p->m[p->n].off = 0;
      p->n++;
      return 0;
    }
  memcpy(p->buf + p->used, s, len);
  p->m[p->n].off = (uint16_t)p->used;
  p->m[p->n].len = (uint16_t)len;
  p->m[p->n].key_len = (uint16_t)key_len;
  p->n++;
  p->used += len;
  return 0;
}

int tg_tracestate_add(tg_tracestate_parser *p, const char *value, size_t len) {
  if (p->invalid)
    return -1;
  size_t i = 0;
  while (i <= len) {
    size_t start = i;
    while (i < len && value[i] != ',')
      i++;
    const char *m = value + start;
    size_t mlen = i - start;
    trim_ows(&m, &mlen);
    if (mlen && ts_member(p, m, mlen))
      return -1;
    i++; /* past ',' (or past the end) */
  }
  return 0;
}

int tg_tracestate_finish(tg_tracestate_parser *p, tg_tracectx *ctx, const char **reason) {
  ctx->tracestate_len = 0;
  ctx->tracestate[0] = '\0';
  if (p->invalid) {
    if (reason)
      *reason = p->reason;
    return 0;
  }
  uint8_t keep[TG_TRACESTATE_MAX_MEMBERS];
  size_t total = 0, kept = 0;
  for (uint16_t i = 0; i < p->n; i++) {
    keep[i] = p->m[i].len != 0;
    if (keep[i]) {
      total += p->m[i].len + (kept ? 1 : 0);
      kept++;
    }
  }
  /* Truncation by whole members: the long ones (> 128) from the end first, then any from
   * the end, until the combined value fits. */
  for (int pass = 0; pass < 2 && total > TG_TRACESTATE_MAX_LEN; pass++)
    for (int i = (int)p->n - 1; i >= 0 && total > TG_TRACESTATE_MAX_LEN; i--) {
      if (!keep[i] || (pass == 0 && p->m[i].len <= TG_TRACESTATE_LONG_MEMBER))
        continue;
      keep[i] = 0;
      total -= p->m[i].len + (kept > 1 ? 1 : 0);
      kept--;
    }
  size_t w = 0;
  for (uint16_t i = 0; i < p->n; i++) {
    if (!keep[i])
      continue;
    if (w)
      ctx->tracestate[w++] = ',';
    memcpy(ctx->tracestate + w, p->buf + p->m[i].off, p->m[i].len);
    w += p->m[i].len;
  }
  ctx->tracestate[w] = '\0';
  ctx->tracestate_len = (uint16_t)w;
  return (int)kept;
}

/* ---- extraction ----------------------------------------------------------------------- */

void tg_tracectx_extract_begin(tg_tracectx_extractor *ex, unsigned formats) {
  memset(ex, 0, sizeof *ex);
  ex->formats = formats;
}

static int name_is(const char *name, size_t len, const char *want) {
  size_t n = strlen(want);
  if (len != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != want[i])
      return 0;
  }
  return 1;
}

void tg_tracectx_extract_header(tg_tracectx_extractor *ex, const char *name, size_t name_len,
                                const char *value) {
  if (!name || !value || name_len < 2)
    return;
  if (name_is(name, name_len, "traceparent")) {
    ex->traceparent = value;
    ex->traceparent_len = strlen(value);
    ex->traceparent_count++;
  } else if (name_is(name, name_len, "tracestate")) {
    if (ex->tracestate_count < TG_TRACECTX_MAX_TRACESTATE_HEADERS) {
      ex->tracestate[ex->tracestate_count] = value;
      ex->tracestate_len[ex->tracestate_count] = strlen(value);
    }
    ex->tracestate_count++;
  } else if (name_is(name, name_len, "b3")) {
    ex->b3 = value;
  } else if (name_is(name, name_len, "x-b3-traceid")) {
    ex->b3_trace = value;
  } else if (name_is(name, name_len, "x-b3-spanid")) {
    ex->b3_span = value;
  } else if (name_is(name, name_len, "x-b3-parentspanid")) {
    ex->b3_parent = value;
  } else if (name_is(name, name_len, "x-b3-sampled")) {
    ex->b3_sampled = value;
  } else if (name_is(name, name_len, "x-b3-flags")) {
    ex->b3_flags = value;
  } else if (name_is(name, name_len, "uber-trace-id")) {
    ex->uber = value;
  }
}

static tg_tracectx_source none(tg_tracectx *out, const char **reason, const char *why) {
  memset(out, 0, offsetof(tg_tracectx, tracestate) + 1);
  out->tracestate[0] = '\0';
  if (reason)
    *reason = why;
  return TG_TRACECTX_NONE;
}

tg_tracectx_source tg_tracectx_extract_finish(tg_tracectx_extractor *ex,
                                              tg_tracestate_parser *parse, tg_tracectx *out,
                                              const char **reason) {
  const char *why = NULL;
  if ((ex->formats & TG_PROPAGATE_TRACECONTEXT) && ex->traceparent_count) {
    if (ex->traceparent_count > 1)
      return none(out, reason, "traceparent: the header is repeated");
    if (tg_traceparent_parse(ex->traceparent, ex->traceparent_len, out, reason))
      return TG_TRACECTX_NONE; /* and tracestate is never read */
    if (parse && ex->tracestate_count) {
      if (ex->tracestate_count > TG_TRACECTX_MAX_TRACESTATE_HEADERS)
        return TG_TRACECTX_FROM_W3C; /* too many headers to combine: discard it */
      tg_tracestate_begin(parse);
      for (unsigned i = 0; i < ex->tracestate_count; i++)
        if (tg_tracestate_add(parse, ex->tracestate[i], ex->tracestate_len[i]))
          break;
      tg_tracestate_finish(parse, out, NULL);
    }
    return TG_TRACECTX_FROM_W3C;
  }
  if (ex->formats & (TG_PROPAGATE_B3 | TG_PROPAGATE_B3_MULTI)) {
    if (ex->b3) {
      int rc = tg_b3_single_parse(ex->b3, strlen(ex->b3), out, &why);
      if (rc == 0)
        return TG_TRACECTX_FROM_B3_SINGLE;
      if (rc == 1)
        why = "b3: a sampling decision without a context";
    }
    if (ex->b3_trace || ex->b3_span) {
      int rc = tg_b3_multi_parse(ex->b3_trace, ex->b3_span, ex->b3_parent, ex->b3_sampled,
                                 ex->b3_flags, out, &why);
      if (rc == 0)
        return TG_TRACECTX_FROM_B3_MULTI;
    }
    if (why)
      return none(out, reason, why);
  }
  if ((ex->formats & TG_PROPAGATE_JAEGER) && ex->uber) {
    if (tg_uber_trace_id_parse(ex->uber, strlen(ex->uber), out, reason) == 0)
      return TG_TRACECTX_FROM_JAEGER;
    return TG_TRACECTX_NONE;
  }
  return none(out, reason, "no trace context headers");
}

/* ---- IDs ------------------------------------------------------------------------------ */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next64(tg_idgen *g) { /* xoshiro256** */
  uint64_t *s = g->s;
  if (!(s[0] | s[1] | s[2] | s[3])) /* a zeroed (never seeded) generator seeds itself */
    tg_idgen_seed(g);
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

void tg_idgen_seed(tg_idgen *g) {
  if (getrandom(g->s, sizeof g->s, 0) != (ssize_t)sizeof g->s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)g;
    for (int i = 0; i < 4; i++) { /* splitmix64 */
      x += UINT64_C(0x9e3779b97f4a7c15);
      uint64_t z = x;
      z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
      z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
      g->s[i] = z ^ (z >> 31);
    }
  }
  if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3]))
    g->s[0] = 1;
}

void tg_idgen_trace_id(tg_idgen *g, uint8_t out[16]) {
  do {
    uint64_t a = next64(g), b = next64(g);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
  } while (tg_id_is_zero(out, 16));
}

void tg_idgen_span_id(tg_idgen *g, uint8_t out[8]) {
  do {
    uint64_t a = next64(g);
    memcpy(out, &a, 8);
  } while (tg_id_is_zero(out, 8));
}

void tg_tracectx_correlation_id(tg_tracectx_source src, const tg_tracectx *ctx, tg_idgen *g,
                                char out[33]) {
  uint8_t id[16];
  if (src != TG_TRACECTX_NONE && ctx) {
    tg_hex_encode(ctx->trace_id, 16, out);
    return;
  }
  tg_idgen_trace_id(g, id);
  tg_hex_encode(id, 16, out);
}
