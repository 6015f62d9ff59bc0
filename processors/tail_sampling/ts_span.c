/* Span inspection on the wire form. One pass over the span's top-level fields; attribute
 * values are parsed only for keys some leaf asks about, so a policy list without
 * attribute policies costs a key comparison per attribute (for sampling.priority). */
#include "ts_span.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "ts_prob.h"
#include "ts_wire.h"

/* Span field numbers (opentelemetry/proto/trace/v1/trace.proto). */
enum {
  SPAN_TRACE_ID = 1, SPAN_TRACE_STATE = 3, SPAN_START = 7, SPAN_END = 8,
  SPAN_ATTRIBUTES = 9, SPAN_STATUS = 15, SPAN_FLAGS = 16,
  STATUS_CODE = 3, KV_KEY = 1, KV_VALUE = 2, RESOURCE_ATTRIBUTES = 1,
};
/* AnyValue oneof members */
enum { AV_STRING = 1, AV_BOOL = 2, AV_INT = 3, AV_DOUBLE = 4 };

#define DEBUG_KEY "sampling.priority"

static void collect(const tg_ts_policy *pol, ts_leaves *out) {
  if (pol->leaf >= 0 && pol->leaf < TG_TS_MAX_LEAVES) {
    out->items[pol->leaf] = pol;
    if (pol->leaf >= out->n)
      out->n = pol->leaf + 1;
    if (pol->key && pol->type != TG_TS_TRACE_STATE)
      out->any_attribute = 1;
  }
  for (size_t i = 0; i < pol->n_subs; i++)
    collect(&pol->subs[i], out);
}

void ts_leaves_collect(const tg_ts_policies *policies, ts_leaves *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < policies->n; i++)
    collect(&policies->items[i], out);
}

typedef struct any_value {
  int kind; /* AV_* or 0 when other/absent */
  const uint8_t *str;
  size_t str_len;
  uint64_t bits; /* bool, int (two's complement), double (IEEE bits) */
} any_value;

static void parse_any(const uint8_t *data, size_t len, any_value *v) {
  ts_reader r = ts_reader_of(data, len);
  ts_field f;
  v->kind = 0;
  while (ts_next_field(&r, &f) == 1) {
    if (f.number == AV_STRING && f.wire_type == TS_WT_LEN) {
      *v = (any_value){AV_STRING, f.data, f.len, 0};
    } else if ((f.number == AV_BOOL || f.number == AV_INT) && f.wire_type == TS_WT_VARINT) {
      *v = (any_value){(int)f.number, NULL, 0, f.value};
    } else if (f.number == AV_DOUBLE && f.wire_type == TS_WT_I64) {
      *v = (any_value){AV_DOUBLE, NULL, 0, f.value};
    } else if (f.number >= 5 && f.number <= 7) {
      v->kind = 0; /* arrays, maps, bytes: not matched by attribute policies */
    }
  }
}

static double as_double(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

static int numeric_of(const any_value *v, int64_t *out) {
  if (v->kind == AV_INT) {
    *out = (int64_t)v->bits;
    return 1;
  }
  if (v->kind == AV_DOUBLE) {
    double d = as_double(v->bits);
    if (!(d >= -9.2e18 && d <= 9.2e18))
      return 0;
    *out = (int64_t)d;
    return 1;
  }
  return 0;
}

static int string_matches(const tg_ts_policy *pol, const uint8_t *s, size_t len,
                          void *match_data) {
  for (size_t i = 0; i < pol->n_values; i++) {
    if (pol->regexes && pol->regexes[i] && match_data) {
      if (pcre2_match(pol->regexes[i], s, len, 0, 0, match_data, NULL) >= 0)
        return 1;
    } else if (strlen(pol->values[i]) == len && memcmp(pol->values[i], s, len) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Whether one attribute value satisfies an attribute leaf (invert_match is applied by
 * the policy evaluation over the whole trace, not here). */
static int leaf_matches(const tg_ts_policy *pol, const any_value *v, void *match_data) {
  int64_t n;
  switch (pol->type) {
  case TG_TS_NUMERIC_ATTRIBUTE:
    if (!numeric_of(v, &n))
      return 0;
    return (!pol->has_min || n >= pol->min_value) && (!pol->has_max || n <= pol->max_value);
  case TG_TS_STRING_ATTRIBUTE:
    return v->kind == AV_STRING && string_matches(pol, v->str, v->str_len, match_data);
  case TG_TS_BOOLEAN_ATTRIBUTE:
    return v->kind == AV_BOOL && (v->bits != 0) == (pol->bool_value != 0);
  default:
    return 0;
  }
}

static int key_is(const ts_field *key, const char *want) {
  size_t n = strlen(want);
  return key->len == n && memcmp(key->data, want, n) == 0;
}

/* Evaluates one KeyValue against the attribute leaves; sets *debug for sampling.priority.
 * The fast path (attribute_mask, inline in the span walk) answers without a call. */
static uint64_t attribute_mask_parse(const uint8_t *kv, size_t len, const ts_leaves *leaves,
                                     void *match_data, int *debug);

static inline uint64_t attribute_mask(const uint8_t *kv, size_t len, const ts_leaves *leaves,
                                      void *match_data, int *debug) {
  /* Fast path when only sampling.priority matters: a KeyValue whose key comes first (as
   * every encoder writes it) and is not that key needs no parsing. */
  static const size_t debug_len = sizeof DEBUG_KEY - 1;
  if (!leaves->any_attribute && len >= 2 && kv[0] == (KV_KEY << 3 | TS_WT_LEN) &&
      !(kv[1] & 0x80) && (kv[1] != debug_len || len < 2 + debug_len ||
                          memcmp(kv + 2, DEBUG_KEY, debug_len) != 0))
    return 0;
  return attribute_mask_parse(kv, len, leaves, match_data, debug);
}

static uint64_t attribute_mask_parse(const uint8_t *kv, size_t len, const ts_leaves *leaves,
                                     void *match_data, int *debug) {
  ts_reader r = ts_reader_of(kv, len);
  ts_field f, key = {0}, value = {0};
  int have_key = 0, have_value = 0;
  while (ts_next_field(&r, &f) == 1) {
    if (f.number == KV_KEY && f.wire_type == TS_WT_LEN) {
      key = f;
      have_key = 1;
    } else if (f.number == KV_VALUE && f.wire_type == TS_WT_LEN) {
      value = f;
      have_value = 1;
    }
  }
  if (!have_key)
    return 0;
  uint64_t mask = 0;
  any_value v = {0};
  int parsed = 0;
  for (int i = 0; i < leaves->n; i++) {
    const tg_ts_policy *pol = leaves->items[i];
    if (!pol || !pol->key || pol->type == TG_TS_TRACE_STATE || !key_is(&key, pol->key))
      continue;
    if (!parsed && have_value) {
      parse_any(value.data, value.len, &v);
      parsed = 1;
    }
    if (leaf_matches(pol, &v, match_data))
      mask |= UINT64_C(1) << i;
  }
  if (debug && key_is(&key, DEBUG_KEY)) {
    if (!parsed && have_value)
      parse_any(value.data, value.len, &v);
    int64_t n;
    if (numeric_of(&v, &n) && n >= 1)
      *debug = 1;
    else if (v.kind == AV_STRING && v.str_len == 1 && v.str[0] >= '1' && v.str[0] <= '9')
      *debug = 1;
  }
  return mask;
}

int ts_trace_state_has(const uint8_t *ts, size_t len, const char *key, char *const *values,
                       size_t n_values) {
  size_t klen = strlen(key), pos = 0, n;
  const char *m;
  while (tg_ts_tracestate_member((const char *)ts, len, &pos, &m, &n)) {
    if (n <= klen || m[klen] != '=' || memcmp(m, key, klen))
      continue;
    const char *val = m + klen + 1;
    size_t vlen = n - klen - 1;
    for (size_t j = 0; j < n_values; j++)
      if (strlen(values[j]) == vlen && memcmp(values[j], val, vlen) == 0)
        return 1;
  }
  return 0;
}

/* Leaves decided by span fields rather than attributes. */
static uint64_t span_field_mask(const ts_span_info *info, const ts_leaves *leaves) {
  static const unsigned status_bit[] = {TG_TS_STATUS_UNSET, TG_TS_STATUS_OK,
                                        TG_TS_STATUS_ERROR};
  uint64_t mask = 0;
  for (int i = 0; i < leaves->n; i++) {
    const tg_ts_policy *pol = leaves->items[i];
    if (!pol)
      continue;
    int hit = 0;
    if (pol->type == TG_TS_STATUS_CODE)
      hit = (pol->status_mask & status_bit[info->status]) != 0;
    else if (pol->type == TG_TS_TRACE_STATE)
      hit = info->trace_state &&
            ts_trace_state_has(info->trace_state, info->trace_state_len, pol->key, pol->values,
                               pol->n_values);
    else if (pol->type == TG_TS_TRACE_FLAGS)
      hit = (info->flags & pol->flags_mask) == pol->flags_mask;
    if (hit)
      mask |= UINT64_C(1) << i;
  }
  return mask;
}

/* One top-level span field, however it was read. */
static inline void take_field(ts_span_info *out, uint32_t number, int wire_type,
                              uint64_t value, const uint8_t *data, size_t len,
                              const ts_leaves *leaves, void *match_data) {
  switch (number) {
  case SPAN_TRACE_ID:
    if (wire_type == TS_WT_LEN && len == 16)
      out->trace_id = data;
    break;
  case SPAN_TRACE_STATE:
    if (wire_type == TS_WT_LEN) {
      out->trace_state = data;
      out->trace_state_len = len;
    }
    break;
  case SPAN_START:
    if (wire_type == TS_WT_I64)
      out->start_unix_nano = value;
    break;
  case SPAN_END:
    if (wire_type == TS_WT_I64)
      out->end_unix_nano = value;
    break;
  case SPAN_ATTRIBUTES:
    if (wire_type == TS_WT_LEN)
      out->leaf_mask |= attribute_mask(data, len, leaves, match_data, &out->debug);
    break;
  case SPAN_STATUS:
    if (wire_type == TS_WT_LEN) {
      ts_reader sr = ts_reader_of(data, len);
      ts_field sf;
      while (ts_next_field(&sr, &sf) == 1)
        if (sf.number == STATUS_CODE && sf.wire_type == TS_WT_VARINT)
          out->status = sf.value == 2 ? TS_STATUS_ERROR
                        : sf.value == 1 ? TS_STATUS_OK : TS_STATUS_UNSET;
    }
    break;
  case SPAN_FLAGS:
    if (wire_type == TS_WT_I32)
      out->flags = (uint32_t)value;
    break;
  default:
    break;
  }
}

/* The walk runs for every span at ingest, in the sampler's worker threads. Nearly
 * every field of a span has a one-byte tag (numbers 1..15) and, when LEN or VARINT, a
 * one-byte length or value; those are read here in a few instructions. Anything else
 * (longer tags or lengths, wire types 3/4/6/7, too few bytes left) goes through
 * ts_next_field, so what is accepted and rejected is exactly the general walk's: nested
 * messages are never validated, only the top-level field framing. */
int ts_span_inspect(const uint8_t *span, size_t len, const ts_leaves *leaves,
                    void *match_data, ts_span_info *out) {
  memset(out, 0, sizeof *out);
  const uint8_t *p = span, *end = span + len;
  while (p < end) {
    uint8_t tag = p[0];
    size_t left = (size_t)(end - p);
    if (tag == (SPAN_ATTRIBUTES << 3 | TS_WT_LEN) && !leaves->any_attribute) {
      /* A run of attributes when no policy reads them: each is only asked whether it is
       * sampling.priority (attribute_mask's fast path), without the dispatch per field. */
      while (left >= 2 && p[0] == tag && p[1] < 0x80 && p[1] <= left - 2) {
        size_t n = p[1];
        out->leaf_mask |= attribute_mask(p + 2, n, leaves, match_data, &out->debug);
        p += 2 + n;
        left -= 2 + n;
      }
      if (p == end)
        break;
      tag = p[0]; /* the next field, an attribute of another shape included, as below */
    }
    if (tag >= 8 && tag < 0x80) {
      uint32_t number = tag >> 3;
      int wt = tag & 7;
      if (wt == TS_WT_LEN && left >= 2 && p[1] < 0x80) {
        size_t n = p[1];
        if (n > left - 2)
          return -1; /* the general reader rejects the same overrun */
        take_field(out, number, wt, 0, p + 2, n, leaves, match_data);
        p += 2 + n;
        continue;
      }
      if (wt == TS_WT_I64 && left >= 9) {
        take_field(out, number, wt, tg_pbwire_load_le64(p + 1), NULL, 0, leaves, match_data);
        p += 9;
        continue;
      }
      if (wt == TS_WT_VARINT && left >= 2 && p[1] < 0x80) {
        take_field(out, number, wt, p[1], NULL, 0, leaves, match_data);
        p += 2;
        continue;
      }
    }
    ts_reader r = ts_reader_of(p, left);
    ts_field f;
    if (ts_next_field(&r, &f) != 1)
      return -1; /* p < end, so 0 cannot happen */
    take_field(out, f.number, f.wire_type, f.value, f.data, f.len, leaves, match_data);
    p = r.p;
  }
  out->leaf_mask |= span_field_mask(out, leaves);
  return 0;
}

uint64_t ts_span_kv_leaf_mask(const uint8_t *kv, size_t len, const ts_leaves *leaves,
                              void *match_data, int *debug) {
  return attribute_mask(kv, len, leaves, match_data, debug);
}

uint64_t ts_span_field_leaf_mask(const ts_span_info *info, const ts_leaves *leaves) {
  return span_field_mask(info, leaves);
}

uint64_t ts_resource_leaf_mask(const uint8_t *resource, size_t len, const ts_leaves *leaves,
                               void *match_data) {
  if (!leaves->any_attribute)
    return 0;
  ts_reader r = ts_reader_of(resource, len);
  ts_field f;
  uint64_t mask = 0;
  while (ts_next_field(&r, &f) == 1)
    if (f.number == RESOURCE_ATTRIBUTES && f.wire_type == TS_WT_LEN)
      mask |= attribute_mask(f.data, f.len, leaves, match_data, NULL);
  return mask;
}
