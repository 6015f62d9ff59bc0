/* Proving that the redaction policy leaves a ResourceSpans segment as it is, cheaper than
 * the dry walk (redaction_wire.c) finds it out.
 *
 * Why: under the default policy (every key allowed, a few keys pseudonymised, e-mail
 * addresses masked) nearly every batch stays as it came, and the dry walk that says so
 * cost about 3,000 instructions a span, a third of the product's receive path
 * (docs/BENCHMARKS.md, "Issue 14, fourth session"), much of it bookkeeping for an output
 * it never writes. Here each attribute and text field gets the same questions (a key of
 * some rule's length or with a NUL where one would matter, a value with the byte a
 * blocked pattern needs), with nothing else: no output, no counts, and a message's
 * attributes taken without the general field reader. Asking for that byte once per
 * span instead was tried: binary IDs and doubles hold 0x40 too often for it to pay.
 *
 * The answer is one-sided: 1 only where the dry walk would find no change and no reason
 * to fall back; anything unusual (an attribute in a shape kv() decides by writing, a
 * multi-valued key, a value of another type, a malformed field) answers 0, and the
 * caller runs the dry walk as before. The fuzz target checks the implication on
 * arbitrary bytes. */
#include "redaction_engine.h"
#include "redaction_wire_read.h"

static inline uint64_t length_bit(size_t len) {
  return UINT64_C(1) << (len < 63 ? len : 63);
}

/* Whether kv() (an attribute list entry: M_PATTERNS, depth 1, top) would leave the
 * KeyValue p[0..n) as it is. */
static inline __attribute__((always_inline)) int attribute_stays(const tg_redactor *r,
                                                                 const uint8_t *p, size_t n) {
  const uint8_t *key, *v;
  size_t kl, vl;
  if (n >= 4 && p[0] == 0x0a && (kl = p[1]) < 0x80 && kl + 4 <= n && p[2 + kl] == 0x12 &&
      (vl = p[3 + kl]) < 0x80 && kl + vl + 4 == n) {
    key = p + 2; /* the shape every encoder writes: key, value, one-byte lengths */
    v = p + 4 + kl;
  } else {
    /* Exactly one key and one value, in that order; kv() merges repeats by falling back
     * to the tree, and that is for the dry walk to find. */
    const uint8_t *q = p, *end = p + n;
    field kf, vf;
    if (next_field(&q, end, &kf) != 1 || kf.num != 1 || kf.wt != 2 ||
        next_field(&q, end, &vf) != 1 || vf.num != 2 || vf.wt != 2 || q != end)
      return 0;
    key = kf.val, kl = kf.vlen;
    v = vf.val, vl = vf.vlen;
  }
  if ((r->rule_key_lengths & length_bit(kl)) || nul_at_rule_length(r, key, kl))
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

/* The dry walk's message() over in[0..len) as kind k, answering only "stays" (1) or
 * "ask the walk" (0). */
static int message_stays(const tg_redactor *r, msg_kind k, const uint8_t *in, size_t len) {
  const uint8_t *p = in, *end = in + len;
  /* The tag of this kind's attributes (wire type 2, a number below 16), 0 for none:
   * most of a span's fields are attributes, taken here without next_field and role. */
  static const uint8_t attr_tags[MSG_STATUS + 1] = {
      [MSG_RESOURCE] = 1 << 3 | 2, [MSG_SCOPE] = 3 << 3 | 2, [MSG_SPAN] = 9 << 3 | 2,
      [MSG_EVENT] = 3 << 3 | 2,    [MSG_LINK] = 4 << 3 | 2,
  };
  uint8_t attr_tag = attr_tags[k];
  while (p < end) {
    if (attr_tag && *p == attr_tag && end - p >= 2 && p[1] < 0x80 &&
        p[1] <= (size_t)(end - p - 2)) {
      if (!attribute_stays(r, p + 2, p[1]))
        return 0;
      p += 2 + p[1];
      continue;
    }
    field f;
    if (next_field(&p, end, &f) != 1)
      return 0;
    msg_kind sub = k;
    int what = role(k, f.num, &sub);
    if (what == F_COPY)
      continue;
    if (f.wt != 2)
      return 0;
    if (what == F_ATTR) {
      if (!attribute_stays(r, f.val, f.vlen))
        return 0;
    } else if (what == F_TEXT) {
      if (f.vlen && blocked_may_match(r, (const char *)f.val, f.vlen))
        return 0;
    } else if (!message_stays(r, sub, f.val, f.vlen)) {
      return 0;
    }
  }
  return 1;
}

int tg_redactor_wire_segment_stays(const tg_redactor *r, const uint8_t *in, size_t len) {
  /* Policies whose decisions need more than a key's length and a value's bytes (key
   * allow-lists and patterns, value allow- and delete-lists, summaries) are the walk's. */
  if (r->summary != TG_SUMMARY_SILENT || r->keys_always_looked_up || r->allowed_values.n ||
      r->delete_values.n)
    return 0;
  return message_stays(r, MSG_RESOURCE_SPANS, in, len);
}
