/* Consistent probability sampling: the threshold arithmetic of OpenTelemetry's
 * pkg/sampling (ProbabilityToThresholdWithPrecision), randomness taken from the trace ID
 * (W3C trace context level 2: the low 56 bits are random), and the tracestate edit that
 * records the threshold so downstream tools can compute adjusted counts.
 *
 * Salted randomness uses 64-bit FNV-1a over salt || trace id: simple, fast, stable across
 * platforms and releases (it is part of the sampling contract, so it must never change). */
#include "tg_prob.h"

#include <math.h>
#include <string.h>

#define HEX_DIGITS 14
#define HEX_BITS 4

uint64_t tg_ts_threshold(double pct, int precision) {
  if (!(pct > 0))
    return TG_TS_MAX_ADJUSTED;
  if (pct >= 100)
    return 0;
  double fraction = pct / 100.0;
  int exp_f = 0, exp_r = 0;
  (void)frexp(fraction, &exp_f);
  (void)frexp(1 - fraction, &exp_r);
  /* Go's integer division truncates toward zero, as C's does */
  int pf = precision + exp_f / -HEX_BITS, pr = precision + exp_r / -HEX_BITS;
  int p = pf > pr ? pf : pr;
  if (p > HEX_DIGITS)
    p = HEX_DIGITS;
  uint64_t scaled = (uint64_t)llround(fraction * (double)TG_TS_MAX_ADJUSTED);
  if (scaled == 0)
    return TG_TS_MAX_ADJUSTED;
  uint64_t t = TG_TS_MAX_ADJUSTED - scaled;
  int shift = HEX_BITS * (HEX_DIGITS - p);
  if (shift > 0) {
    t += UINT64_C(1) << (shift - 1);
    t >>= shift;
    t <<= shift;
  }
  if (t >= TG_TS_MAX_ADJUSTED) /* rounded up past the top: keep the finest step below */
    t = TG_TS_MAX_ADJUSTED - (UINT64_C(1) << (shift > 0 ? shift : 0));
  return t;
}

size_t tg_ts_threshold_hex(uint64_t threshold, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < HEX_DIGITS; i++)
    out[i] = digits[(threshold >> (4 * (HEX_DIGITS - 1 - i))) & 0xf];
  size_t n = HEX_DIGITS;
  while (n > 1 && out[n - 1] == '0')
    n--;
  out[n] = '\0';
  return n;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

int tg_ts_threshold_parse(const char *hex, size_t len, uint64_t *out) {
  if (len == 0 || len > HEX_DIGITS)
    return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    char c = hex[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      return -1;
    v = (v << 4) | (uint64_t)d;
  }
  *out = v << (HEX_BITS * (HEX_DIGITS - len));
  return 0;
}

int tg_ts_tracestate_member(const char *ts, size_t len, size_t *pos, const char **start,
                            size_t *mlen) {
  size_t i = *pos;
  while (i < len) {
    size_t s = i;
    while (i < len && ts[i] != ',')
      i++;
    size_t e = i++;
    while (s < e && is_ows(ts[s]))
      s++;
    while (e > s && is_ows(ts[e - 1]))
      e--;
    if (s < e) {
      *pos = i;
      *start = ts + s;
      *mlen = e - s;
      return 1;
    }
  }
  *pos = len;
  return 0;
}

int tg_ts_tracestate_get_th(const char *ts, size_t len, uint64_t *out) {
  size_t pos = 0, n;
  const char *m;
  while (tg_ts_tracestate_member(ts, len, &pos, &m, &n)) {
    if (n < 3 || memcmp(m, "ot=", 3) != 0)
      continue;
    for (size_t j = 3; j < n;) {
      size_t s = j;
      while (j < n && m[j] != ';')
        j++;
      if (j - s > 3 && memcmp(m + s, "th:", 3) == 0)
        return tg_ts_threshold_parse(m + s + 3, j - s - 3, out) == 0;
      j++;
    }
  }
  return 0;
}

uint64_t tg_ts_randomness(const uint8_t trace_id[16], const char *salt) {
  if (!salt || !*salt) {
    uint64_t r = 0;
    for (int i = 9; i < 16; i++)
      r = (r << 8) | trace_id[i];
    return r;
  }
  uint64_t h = UINT64_C(14695981039346656037);
  for (const char *s = salt; *s; s++) {
    h ^= (uint8_t)*s;
    h *= UINT64_C(1099511628211);
  }
  for (int i = 0; i < 16; i++) {
    h ^= trace_id[i];
    h *= UINT64_C(1099511628211);
  }
  return h & (TG_TS_MAX_ADJUSTED - 1);
}

/* Appends len bytes; -1 when out (cap includes the NUL) would overflow. */
static int put(char *out, size_t cap, size_t *n, const char *s, size_t len) {
  if (*n + len + 1 > cap)
    return -1;
  memcpy(out + *n, s, len);
  *n += len;
  out[*n] = '\0';
  return 0;
}

int tg_ts_tracestate_set_th(const char *old, size_t old_len, const char *th_hex, char *out,
                            size_t cap) {
  size_t n = 0;
  if (cap == 0 || put(out, cap, &n, "ot=th:", 6) || put(out, cap, &n, th_hex, strlen(th_hex)))
    return -1;
  /* pass 1: the other subkeys of an existing ot entry; pass 2: the other entries */
  for (int pass = 1; pass <= 2; pass++) {
    size_t pos = 0, mlen;
    const char *m;
    while (tg_ts_tracestate_member(old, old_len, &pos, &m, &mlen)) {
      int is_ot = mlen >= 3 && memcmp(m, "ot=", 3) == 0;
      if (pass == 2 && !is_ot) {
        if (put(out, cap, &n, ",", 1) || put(out, cap, &n, m, mlen))
          return -1;
      } else if (pass == 1 && is_ot) {
        size_t j = 3;
        while (j < mlen) {
          size_t s = j;
          while (j < mlen && m[j] != ';')
            j++;
          size_t e = j++;
          if (e > s && !(e - s >= 3 && memcmp(m + s, "th:", 3) == 0) &&
              (put(out, cap, &n, ";", 1) || put(out, cap, &n, m + s, e - s)))
            return -1;
        }
      }
    }
  }
  return (int)n;
}
