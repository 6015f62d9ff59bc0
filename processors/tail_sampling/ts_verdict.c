/* Verdict records and decision attributes (see ts_verdict.h).
 *
 * Record layout, word 0: bits 0-47 votes, 48-49 state, 50-51 cause, 52-53 bound,
 * 54 debug, 55 prob_only. Word 1: bits 0-19 span count, 20-43 wire bytes, 44-63 wait ms.
 * Counts saturate, so an answer can say "at least" but is never wrapped. */
#include "ts_verdict.h"

#include <stdio.h>
#include <string.h>

#include "tg_error.h"
#include "ts_policy.h"
#include "ts_wire.h"

#define VOTE_MASK ((UINT64_C(1) << TS_VERDICT_MAX_POLICIES) - 1)

static uint64_t sat(uint64_t v, uint64_t max) { return v > max ? max : v; }

ts_verdict_rec ts_verdict_pack(const ts_verdict *v) {
  ts_verdict_rec r;
  r.w[0] = (v->votes & VOTE_MASK) | (uint64_t)(v->state & 3) << 48 |
           (uint64_t)(v->cause & 3) << 50 | (uint64_t)(v->bound & 3) << 52 |
           (uint64_t)(v->debug != 0) << 54 | (uint64_t)(v->prob_only != 0) << 55;
  r.w[1] = sat(v->span_count, TS_VERDICT_MAX_SPANS) |
           sat(v->wire_bytes, TS_VERDICT_MAX_BYTES) << 20 |
           sat(v->wait_ms, TS_VERDICT_MAX_WAIT) << 44;
  return r;
}

ts_verdict ts_verdict_unpack(ts_verdict_rec r) {
  ts_verdict v;
  v.votes = r.w[0] & VOTE_MASK;
  v.state = (int)(r.w[0] >> 48 & 3);
  v.cause = (int)(r.w[0] >> 50 & 3);
  v.bound = (int)(r.w[0] >> 52 & 3);
  v.debug = (int)(r.w[0] >> 54 & 1);
  v.prob_only = (int)(r.w[0] >> 55 & 1);
  v.span_count = (uint32_t)(r.w[1] & TS_VERDICT_MAX_SPANS);
  v.wire_bytes = (uint32_t)(r.w[1] >> 20 & TS_VERDICT_MAX_BYTES);
  v.wait_ms = (uint32_t)(r.w[1] >> 44 & TS_VERDICT_MAX_WAIT);
  return v;
}

void ts_verdict_set_votes(ts_verdict *v, const uint8_t *verdicts, size_t n) {
  v->votes = 0;
  for (size_t i = 0; i < n && i < TS_VERDICT_MAX_POLICIES; i++)
    if (verdicts[i] != TS_VERDICT_NOT_SAMPLED)
      v->votes |= UINT64_C(1) << i;
}

const char *ts_verdict_trigger(const ts_verdict *v) {
  if (v->debug)
    return "debug";
  switch (v->cause) {
  case TS_CAUSE_EARLY:
    return v->bound == TS_EARLY_TRACES   ? "early:num_traces"
           : v->bound == TS_EARLY_MEMORY ? "early:max_memory_mib"
                                         : "early:maximum_trace_size_bytes";
  case TS_CAUSE_SHUTDOWN:
    return "shutdown";
  default:
    return "decision_wait";
  }
}

enum { SPAN_ATTRIBUTES = 9, KV_KEY = 1, KV_VALUE = 2, ANY_STRING = 1, ANY_ARRAY = 5,
       ARRAY_VALUES = 1 };

/* A string AnyValue: {1: s}. */
static size_t any_string_size(size_t len) { return ts_len_field_size(len); }

static size_t put_string_field(uint8_t *p, uint32_t number, const char *s, size_t len) {
  size_t n = ts_put_len_header(p, number, len);
  memcpy(p + n, s, len);
  return n + len;
}

int ts_verdict_attributes(tg_buf *out, const tg_ts_policies *policies, uint64_t votes,
                          const char *trigger) {
  static const char k_policies[] = "tailgate.sampling.policies";
  static const char k_trigger[] = "tailgate.sampling.trigger";
  size_t array_body = 0;
  for (size_t i = 0; i < policies->n && i < TS_VERDICT_MAX_POLICIES; i++)
    if (votes >> i & 1)
      array_body += ts_len_field_size(any_string_size(strlen(policies->items[i].name)));
  size_t any1 = ts_len_field_size(array_body);               /* AnyValue{5: ArrayValue} */
  size_t kv1 = ts_len_field_size(sizeof k_policies - 1) + ts_len_field_size(any1);
  size_t tlen = strlen(trigger);
  size_t any2 = any_string_size(tlen);
  size_t kv2 = ts_len_field_size(sizeof k_trigger - 1) + ts_len_field_size(any2);
  size_t total = ts_len_field_size(kv1) + ts_len_field_size(kv2);
  if (tg_buf_reserve(out, total) != TG_OK)
    return TG_ENOMEM;
  uint8_t *p = out->data + out->len;
  p += ts_put_len_header(p, SPAN_ATTRIBUTES, kv1);
  p += put_string_field(p, KV_KEY, k_policies, sizeof k_policies - 1);
  p += ts_put_len_header(p, KV_VALUE, any1);
  p += ts_put_len_header(p, ANY_ARRAY, array_body);
  for (size_t i = 0; i < policies->n && i < TS_VERDICT_MAX_POLICIES; i++)
    if (votes >> i & 1) {
      const char *name = policies->items[i].name;
      size_t len = strlen(name);
      p += ts_put_len_header(p, ARRAY_VALUES, any_string_size(len));
      p += put_string_field(p, ANY_STRING, name, len);
    }
  p += ts_put_len_header(p, SPAN_ATTRIBUTES, kv2);
  p += put_string_field(p, KV_KEY, k_trigger, sizeof k_trigger - 1);
  p += ts_put_len_header(p, KV_VALUE, any2);
  p += put_string_field(p, ANY_STRING, trigger, tlen);
  out->len += total;
  return TG_OK;
}

int ts_json_string(tg_buf *out, const char *s, size_t len) {
  if (tg_buf_append(out, "\"", 1) != TG_OK)
    return TG_ENOMEM;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int rc;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      rc = tg_buf_append(out, esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
      rc = tg_buf_appendf(out, "\\u%04x", c);
    } else {
      rc = tg_buf_append(out, &s[i], 1);
    }
    if (rc != TG_OK)
      return TG_ENOMEM;
  }
  return tg_buf_append(out, "\"", 1) == TG_OK ? TG_OK : TG_ENOMEM;
}
