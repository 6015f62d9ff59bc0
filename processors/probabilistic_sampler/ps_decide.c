/* Head sampling decisions, written from OpenTelemetry's consistent probability sampling
 * rules (OTEP 235: 56-bit randomness R, rejection threshold T, keep when R >= T, `ot=th:`
 * and `ot=rv:` in tracestate) and the Collector's probabilistic_sampler modes:
 *  - proportional (default): T from (incoming probability × sampling ratio), so a chain
 *    of samplers multiplies; the incoming probability is read from an arriving th;
 *  - equalizing: a fixed T; an arriving th that already rejects more is kept
 *    (the threshold never decreases along a path);
 *  - hash_seed (default when hash_seed is set): the Collector's original 14-bit
 *    FNV-1a hash of seed||trace ID, expressed as an R (written to tracestate as rv) and a
 *    T, so other OTel samplers downstream see the same decision.
 * R comes from an arriving rv, else from the low 56 bits of the trace ID (W3C level 2),
 * exactly as tailgate's tail sampler computes it (core/tg_prob.h): a head sampler at p %
 * in an agent and a tail probabilistic policy at p % on the gateway keep the same traces.
 *
 * Percentages are rounded to float32 first, as the Collector's config stores them, so
 * thresholds match the Collector's bit for bit. Errors (malformed ot entry, all-zero
 * trace ID, an arriving th that R does not pass, rv/th present in hash_seed mode) drop
 * the span when fail_closed (the default); with fail_closed false the span is decided as
 * if nothing had arrived (missing randomness then passes every threshold). */
#include "ps_decide.h"

#include <string.h>

#include "tg_prob.h"

#define HASH_BUCKETS 0x4000u /* 14 bits */

uint32_t ps_hash(const uint8_t trace_id[16], uint32_t seed) {
  uint32_t h = 2166136261u;
  for (int i = 0; i < 4; i++) {
    h ^= (uint8_t)(seed >> (8 * i));
    h *= 16777619u;
  }
  for (int i = 0; i < 16; i++) {
    h ^= trace_id[i];
    h *= 16777619u;
  }
  return h;
}

void ps_sampler_init(ps_sampler *s, double pct, ps_mode mode, uint32_t hash_seed,
                     int precision, int fail_closed) {
  memset(s, 0, sizeof *s);
  float pct32 = (float)pct;
  if (pct32 > 100.0f)
    pct32 = 100.0f;
  s->mode = mode;
  s->hash_seed = hash_seed;
  s->precision = precision;
  s->fail_closed = fail_closed;
  s->ratio = (double)pct32 / 100.0;
  if (!(pct32 > 0.0f)) {
    s->never = 1;
    s->threshold = TG_TS_MAX_ADJUSTED;
    return;
  }
  const double min_prob = 1.0 / (double)TG_TS_MAX_ADJUSTED;
  if (s->ratio < min_prob)
    s->ratio = min_prob;
  if (mode == PS_EQUALIZING) {
    s->threshold = tg_ts_threshold(s->ratio * 100.0, precision);
  } else if (mode == PS_HASH_SEED) {
    float scaled_f = pct32 * (float)(HASH_BUCKETS / 100.0);
    uint32_t scaled = (uint32_t)scaled_f;
    if (scaled == 0) {
      s->never = 1;
      s->threshold = TG_TS_MAX_ADJUSTED;
      return;
    }
    s->threshold = (uint64_t)(HASH_BUCKETS - scaled) << 42;
  }
}

typedef struct ot_info {
  int has_th, has_rv;
  uint64_t th, rv;
} ot_info;

static int hexd(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads th and rv of the `ot` entry. 0, or -1 when either is malformed. */
static int parse_ot(const char *ts, size_t len, ot_info *ot) {
  memset(ot, 0, sizeof *ot);
  size_t pos = 0, n;
  const char *m;
  while (tg_ts_tracestate_member(ts, len, &pos, &m, &n)) {
    if (n < 3 || memcmp(m, "ot=", 3) != 0)
      continue;
    for (size_t j = 3; j < n;) {
      size_t s = j;
      while (j < n && m[j] != ';')
        j++;
      size_t e = j++;
      if (e - s >= 3 && memcmp(m + s, "th:", 3) == 0) {
        if (tg_ts_threshold_parse(m + s + 3, e - s - 3, &ot->th) != 0)
          return -1;
        ot->has_th = 1;
      } else if (e - s >= 3 && memcmp(m + s, "rv:", 3) == 0) {
        if (e - s - 3 != 14)
          return -1;
        uint64_t v = 0;
        for (size_t k = s + 3; k < e; k++) {
          int d = hexd(m[k]);
          if (d < 0)
            return -1;
          v = (v << 4) | (uint64_t)d;
        }
        ot->rv = v;
        ot->has_rv = 1;
      }
    }
    return 0; /* one ot entry */
  }
  return 0;
}

static uint64_t decide(const ps_sampler *s, const ot_info *ot) {
  if (s->never)
    return TG_TS_MAX_ADJUSTED;
  if (s->mode != PS_PROPORTIONAL)
    return s->threshold;
  double incoming = ot->has_th
                        ? (double)(TG_TS_MAX_ADJUSTED - ot->th) / (double)TG_TS_MAX_ADJUSTED
                        : 1.0;
  double p = incoming * s->ratio;
  if (p < 1.0 / (double)TG_TS_MAX_ADJUSTED)
    return TG_TS_MAX_ADJUSTED;
  return tg_ts_threshold(p * 100.0, s->precision);
}

void ps_decide(const ps_sampler *s, const uint8_t trace_id[16], const char *tracestate,
               ps_priority prio, ps_result *out) {
  out->sampled = 0;
  out->error = 0;
  out->why = NULL;
  out->set_tracestate = 0;
  out->tracestate[0] = '\0';
  if (prio == PS_PRIO_DROP)
    return;
  size_t tslen = tracestate ? strlen(tracestate) : 0;
  ot_info ot;
  int ts_ok = parse_ot(tracestate ? tracestate : "", tslen, &ot) == 0;
  if (!ts_ok)
    memset(&ot, 0, sizeof ot);
  const char *err = ts_ok ? NULL : "malformed ot entry in tracestate";
  uint64_t r = 0, rv_write = 0;
  int have_r = 0, write_rv = 0;
  if (s->mode == PS_HASH_SEED) {
    uint32_t h = ps_hash(trace_id, s->hash_seed);
    uint64_t hashed = h & (HASH_BUCKETS - 1), unused18 = h >> 14;
    uint64_t mixed28 = unused18 ^ (unused18 << 10);
    r = ((HASH_BUCKETS - 1 - hashed) << 42) | (mixed28 << 14) | hashed;
    have_r = 1;
    if (!err && ot.has_rv)
      err = "tracestate carries rv: use proportional or equalizing mode";
    else if (!err && ot.has_th)
      err = "tracestate carries th: use proportional or equalizing mode";
    else if (!err)
      write_rv = 1, rv_write = r;
  } else if (ot.has_rv) {
    r = ot.rv, have_r = 1;
  } else {
    int zero = 1;
    for (int i = 0; i < 16; i++)
      zero &= trace_id[i] == 0;
    if (!zero)
      r = tg_ts_randomness(trace_id, NULL), have_r = 1;
  }
  if (!err && !have_r)
    err = "missing randomness (all-zero trace ID)";
  if (!err && ot.has_th && r < ot.th)
    err = "inconsistent arriving th: the span should not have been sampled";
  uint64_t t = prio == PS_PRIO_KEEP ? 0 : TG_TS_MAX_ADJUSTED;
  if (err) {
    out->error = 1;
    out->why = err;
    if (s->fail_closed && prio != PS_PRIO_KEEP)
      return;
    /* fail open: decide as if no sampling information had arrived */
    if (!have_r)
      r = TG_TS_MAX_ADJUSTED - 1;
    ot.has_th = 0;
  }
  if (prio == PS_PRIO_DEFER)
    t = decide(s, &ot);
  out->sampled = r >= t;
  if (!out->sampled || !ts_ok || (err && s->mode == PS_HASH_SEED))
    return;
  if (ot.has_th && ot.th > t) /* a threshold never decreases along a path */
    t = ot.th;
  char th[40];
  size_t n = tg_ts_threshold_hex(t, th);
  if (write_rv) {
    static const char digits[] = "0123456789abcdef";
    memcpy(th + n, ";rv:", 4);
    for (int i = 0; i < 14; i++)
      th[n + 4 + (size_t)i] = digits[(rv_write >> (4 * (13 - i))) & 0xf];
    th[n + 18] = '\0';
  }
  int w = tg_ts_tracestate_set_th(tracestate ? tracestate : "", tslen, th, out->tracestate,
                                  sizeof out->tracestate);
  out->set_tracestate = w >= 0;
}
