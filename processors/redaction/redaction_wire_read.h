/* What the two readers of ResourceSpans in their wire form share: the writing walk
 * (redaction_wire.c) and the check that proves a segment needs no walk at all
 * (redaction_stays.c). The check answers "unchanged" only where the walk would, so both
 * read fields, classify them and pre-test values with these same functions. Internal to
 * processors/redaction. */
#ifndef TG_REDACTION_WIRE_READ_H
#define TG_REDACTION_WIRE_READ_H

#include <stdint.h>
#include <string.h>

#include "redaction_engine.h"
#include "tg_pattern.h"
#include "tg_pbwire.h"

typedef struct field {
  uint32_t num;
  int wt;
  const uint8_t *start, *end; /* the whole field, tag included */
  const uint8_t *val;         /* payload: bytes (wt 2), or the encoded varint/fixed */
  size_t vlen;
  uint64_t u; /* wt 0: the varint; wt 1: the fixed64 */
} field;

static inline const uint8_t *varint(const uint8_t *p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return p;
    }
  }
  return NULL;
}

/* The next field at *pp: 1, 0 at the end, -1 when malformed. Tags and lengths below 128
 * (nearly every one in OTLP) take the inlined path. */
static inline __attribute__((always_inline)) int next_field(const uint8_t **pp,
                                                             const uint8_t *end, field *f) {
  const uint8_t *p = *pp;
  if (p == end)
    return 0;
  uint64_t tag;
  f->start = p;
  if (*p < 0x80) {
    tag = *p++;
    if (tag < 8) /* field number 0 */
      return -1;
  } else if (!(p = varint(p, end, &tag)) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
    return -1;
  }
  f->num = (uint32_t)(tag >> 3);
  f->wt = (int)(tag & 7);
  f->val = p;
  switch (f->wt) {
  case 0:
    if (p < end && *p < 0x80)
      f->u = *p++;
    else if (!(p = varint(p, end, &f->u)))
      return -1;
    break;
  case 1:
    if (end - p < 8)
      return -1;
    f->u = tg_pbwire_load_le64(p);
    p += 8;
    break;
  case 2: {
    uint64_t n;
    if (p < end && *p < 0x80)
      n = *p++;
    else if (!(p = varint(p, end, &n)))
      return -1;
    if (n > (uint64_t)(end - p))
      return -1;
    f->val = p;
    p += n;
    break;
  }
  case 5:
    if (end - p < 4)
      return -1;
    p += 4;
    break;
  default:
    return -1; /* groups: protobuf-c does not decode them either */
  }
  f->vlen = (size_t)(p - f->val);
  f->end = p;
  *pp = p;
  return 1;
}

/* Whether some blocked_values pattern may match s[0..len) (tg_pattern_may_match, the
 * check tg_redaction_substitute starts with): most strings lack the byte every match
 * needs ('@' for the e-mail pattern), and this answers without a call. */
static inline int blocked_may_match(const tg_redactor *r, const char *s, size_t len) {
  for (size_t p = 0; p < r->blocked_values.n; p++)
    if (tg_pattern_may_match(&r->blocked_values, p, s, len))
      return 1;
  return 0;
}

/* Whether the tree would see key[0..klen) cut by a NUL to a length some exact rule has:
 * a NUL at such a position (conservative: the first NUL may be earlier, and classify
 * then finds no rule). Keys without NULs, nearly all, cost a few byte loads instead of
 * a memchr call per attribute. */
static inline int nul_at_rule_length(const tg_redactor *r, const uint8_t *key, size_t klen) {
  /* First, a word at a time, whether any byte up to the longest rule is a NUL at all:
   * loads inside key[0..klen) only, the last word overlapping the one before. */
  size_t n = klen < r->rule_key_len_max + 1 ? klen : r->rule_key_len_max + 1;
  int any = 0;
  if (n < 8) {
    for (size_t i = 0; i < n; i++)
      any |= !key[i];
  } else {
    uint64_t x, zeros = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      memcpy(&x, key + i, 8);
      zeros |= (x - UINT64_C(0x0101010101010101)) & ~x;
    }
    memcpy(&x, key + n - 8, 8);
    zeros |= (x - UINT64_C(0x0101010101010101)) & ~x;
    any = (zeros & UINT64_C(0x8080808080808080)) != 0;
  }
  if (!any)
    return 0;
  uint64_t bits = r->rule_key_lengths & ~(UINT64_C(1) << 63);
  if (klen < 63)
    bits &= (UINT64_C(1) << klen) - 1;
  while (bits) {
    if (!key[__builtin_ctzll(bits)])
      return 1;
    bits &= bits - 1;
  }
  return (r->rule_key_lengths >> 63) && klen > 63 && memchr(key + 63, 0, klen - 63);
}

/* Whether kv() (an attribute list entry: M_PATTERNS, depth 1, top) would leave the
 * KeyValue p[0..n) as it is, decided without its frame and field records, for a policy
 * with r->attrs_by_shape (the caller checks it): 1, and the caller copies it verbatim; 0,
 * ask kv(). A key no rule can reach (by its length, and no NUL where one would cut it to
 * a rule's length) and a value no value rule can touch: a string without the byte a
 * blocked pattern needs, bytes, or a number or boolean unless redact_all_types. Anything
 * else, repeated fields included, is kv()'s. The writing walk and the stays check both
 * use it. */
static inline __attribute__((always_inline)) int attribute_stays(const tg_redactor *r,
                                                                 const uint8_t *p, size_t n) {
  const uint8_t *key, *v;
  size_t kl, vl;
  if (n >= 4 && p[0] == 0x0a && (kl = p[1]) < 0x80 && kl + 4 <= n && p[2 + kl] == 0x12 &&
      (vl = p[3 + kl]) < 0x80 && kl + vl + 4 == n) {
    key = p + 2; /* the shape every encoder writes: key, value, one-byte lengths */
    v = p + 4 + kl;
  } else {
    /* exactly one key and one value, in that order (kv() falls back on repeats) */
    const uint8_t *q = p, *end = p + n;
    field kf, vf;
    if (next_field(&q, end, &kf) != 1 || kf.num != 1 || kf.wt != 2 ||
        next_field(&q, end, &vf) != 1 || vf.num != 2 || vf.wt != 2 || q != end)
      return 0;
    key = kf.val, kl = kf.vlen;
    v = vf.val, vl = vf.vlen;
  }
  if ((r->rule_key_lengths & (UINT64_C(1) << (kl < 63 ? kl : 63))) ||
      nul_at_rule_length(r, key, kl))
    return 0; /* a key some rule may name: kv() looks it up */
  const uint8_t *s;
  size_t sl;
  if (vl >= 2 && v[0] == 0x0a && v[1] < 0x80 && v[1] + (size_t)2 == vl) {
    s = v + 2, sl = v[1]; /* a short string */
  } else {
    const uint8_t *q = v;
    field only;
    if (next_field(&q, v + vl, &only) != 1 || q != v + vl)
      return 0;
    if (only.num != 1) /* bytes stay; so do numbers and booleans unless redact_all_types */
      return only.num == 7 || (!r->redact_all_types && only.num >= 2 && only.num <= 4);
    if (only.wt != 2)
      return 0;
    s = only.val, sl = only.vlen;
  }
  return !blocked_may_match(r, (const char *)s, sl);
}

typedef enum { MSG_RESOURCE_SPANS, MSG_RESOURCE, MSG_SCOPE_SPANS, MSG_SCOPE, MSG_SPAN,
               MSG_EVENT, MSG_LINK, MSG_STATUS } msg_kind;

/* What a field of a message is to the walk: an attribute list entry, free text, a
 * submessage to descend into (kind in *sub), or nothing (copied verbatim). */
enum { F_COPY, F_ATTR, F_TEXT, F_SUB };

static inline int role(msg_kind k, uint32_t num, msg_kind *sub) {
  switch (k) {
  case MSG_RESOURCE_SPANS:
    if (num == 1) return *sub = MSG_RESOURCE, F_SUB;
    if (num == 2) return *sub = MSG_SCOPE_SPANS, F_SUB;
    return F_COPY;
  case MSG_RESOURCE: return num == 1 ? F_ATTR : F_COPY;
  case MSG_SCOPE_SPANS:
    if (num == 1) return *sub = MSG_SCOPE, F_SUB;
    if (num == 2) return *sub = MSG_SPAN, F_SUB;
    return F_COPY;
  case MSG_SCOPE: return num == 3 ? F_ATTR : F_COPY;
  case MSG_SPAN:
    if (num == 9) return F_ATTR;
    if (num == 5) return F_TEXT;
    if (num == 11) return *sub = MSG_EVENT, F_SUB;
    if (num == 13) return *sub = MSG_LINK, F_SUB;
    if (num == 15) return *sub = MSG_STATUS, F_SUB;
    return F_COPY;
  case MSG_EVENT: return num == 3 ? F_ATTR : num == 2 ? F_TEXT : F_COPY;
  case MSG_LINK: return num == 4 ? F_ATTR : F_COPY;
  case MSG_STATUS: return num == 2 ? F_TEXT : F_COPY;
  }
  return F_COPY;
}

#endif
