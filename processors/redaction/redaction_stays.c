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
  if (r->summary != TG_SUMMARY_SILENT || !r->attrs_by_shape)
    return 0;
  return message_stays(r, MSG_RESOURCE_SPANS, in, len);
}
