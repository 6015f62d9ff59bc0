/* The redaction policy applied to ResourceSpans in their wire form.
 *
 * Why: a batch from the OTLP receiver carries its spans undecoded, and OTLP in → OTLP out
 * otherwise never decodes a span. Decoding every batch for redaction (protobuf-c unpack,
 * then a full pack at the exporter) cost more than half of the gateway's CPU in the
 * pipeline benchmark; the policy itself cost under a tenth (docs/BENCHMARKS.md). So the
 * segment is copied field by field into a reused buffer, descending only into messages
 * that hold attributes or free text (Resource, ScopeSpans, InstrumentationScope, Span,
 * Event, Link, Status, KeyValue, AnyValue, ArrayValue, KeyValueList); every other field
 * is copied verbatim. A rewritten submessage is written behind a 5-byte length
 * placeholder and moved down once its length is known.
 *
 * Same decisions as the tree walk: both call the classification and string rules in
 * redaction_internal.h, and a value is interpreted exactly as protobuf-c would decode it.
 * What this walk does not do, it refuses with TG_EAGAIN and the caller falls back to the
 * tree: summary attributes (they insert attributes), a KeyValue with its key or value
 * given twice (protobuf merges those), groups, or a known field with an unexpected wire
 * type (protobuf-c would reject the message). The receiver's index already refuses the
 * last two, so the fallback is for hand-made batches. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "redaction_engine.h"
#include "redaction_internal.h"
#include "redaction_wire_read.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_pbwire.h"


/* The output, with verbatim copies deferred: consecutive unchanged fields are copied
 * in one memcpy when something else is written (wflush). Every access to o's length
 * or bytes goes through a flush first.
 *
 * A dry walk (o == NULL) writes nothing and stops at the first top-level change with
 * STOPPED: tg_redactor_batch runs one over every segment first, so a batch in which no
 * rule applies (most traffic under the default policy) is neither copied nor rewritten;
 * only when one stops is the batch walked again, writing. The decisions are the same
 * code either way; a dry walk only skips the output. */
typedef struct walk {
  tg_redactor *r;
  tg_buf *o; /* NULL: a dry walk */
  int changed;
  const uint8_t *pend, *pend_end; /* input bytes still to copy */
} walk;

/* A dry walk saw a change: it stops, and the batch is walked again, writing. Never
 * leaves this file. */
enum { STOPPED = -1 };



static inline int put(tg_buf *o, const void *p, size_t n) {
  if (!n)
    return TG_OK;
  if (o->len + n <= o->cap) { /* the common case: no call */
    memcpy(o->data + o->len, p, n);
    o->len += n;
    return TG_OK;
  }
  return tg_buf_append(o, p, n) ? TG_ENOMEM : TG_OK;
}

static size_t encode_varint(uint64_t v, uint8_t *b) {
  size_t n = 0;
  do {
    b[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v)
      b[n] |= 0x80;
    n++;
  } while (v);
  return n;
}

static int put_varint(tg_buf *o, uint64_t v) {
  uint8_t b[10];
  return put(o, b, encode_varint(v, b));
}

static int put_bytes_field(tg_buf *o, uint32_t num, const void *p, size_t n) {
  if (put_varint(o, (uint64_t)num << 3 | 2) || put_varint(o, n))
    return TG_ENOMEM;
  return put(o, p, n);
}

static int wflush(walk *w) {
  if (!w->pend)
    return TG_OK;
  if (!w->o) {
    w->pend = w->pend_end = NULL;
    return TG_OK;
  }
  int rc = put(w->o, w->pend, (size_t)(w->pend_end - w->pend));
  w->pend = w->pend_end = NULL;
  return rc;
}

/* The field verbatim: extends the pending copy when it follows it in the input. A dry
 * walk has nothing to copy (wflush would drop it), so it returns at once. */
static inline int wraw(walk *w, const field *f) {
  if (!w->o)
    return TG_OK;
  if (w->pend && w->pend_end == f->start) {
    w->pend_end = f->end;
    return TG_OK;
  }
  int rc = wflush(w);
  w->pend = f->start;
  w->pend_end = f->end;
  return rc;
}

static int wbytes(walk *w, uint32_t num, const void *p, size_t n) {
  if (!w->o)
    return TG_OK;
  return wflush(w) ? TG_ENOMEM : put_bytes_field(w->o, num, p, n);
}

static size_t wlen(walk *w, int *rc) {
  *rc = wflush(w);
  return w->o ? w->o->len : 0;
}

/* Cuts the output back to len (a deleted value); nothing in a dry walk. */
static int wcut(walk *w, size_t len) {
  if (!w->o)
    return TG_OK;
  int rc = wflush(w);
  w->o->len = len;
  return rc;
}

/* A submessage field whose body is written next: its tag, then room for the length as
 * wide as the original's, so that close_msg moves the body only when the new length
 * needs another number of bytes (rare: most edits keep the size class). */
typedef struct msg_mark {
  size_t at;
  size_t width;
} msg_mark;

static int wflush(walk *w);

static int open_msg(walk *w, uint32_t num, size_t orig_len, msg_mark *m) {
  static const uint8_t zeros[10];
  tg_buf *o = w->o;
  if (!o) {
    w->pend = w->pend_end = NULL;
    m->at = m->width = 0;
    return TG_OK;
  }
  if (wflush(w) || put_varint(o, (uint64_t)num << 3 | 2))
    return TG_ENOMEM;
  m->at = o->len;
  m->width = tg_pbwire_varint_size(orig_len);
  return put(o, zeros, m->width);
}

static int close_msg(walk *w, const msg_mark *m) {
  tg_buf *o = w->o;
  if (!o) {
    w->pend = w->pend_end = NULL;
    return TG_OK;
  }
  if (wflush(w))
    return TG_ENOMEM;
  size_t body = o->len - m->at - m->width;
  uint8_t b[10];
  size_t n = encode_varint(body, b);
  if (n != m->width) {
    if (n > m->width && tg_buf_reserve(o, n - m->width))
      return TG_ENOMEM;
    memmove(o->data + m->at + n, o->data + m->at + m->width, body);
    o->len = o->len + n - m->width;
  }
  memcpy(o->data + m->at, b, n);
  return TG_OK;
}

/* ---- values ------------------------------------------------------------------------- */


/* The string rules of the tree walk's PATTERNS mode (walk_scalar) on s[0..len). */
static inline __attribute__((always_inline)) int string_rules(tg_redactor *r, const char *s,
                                                               size_t len, int *res) {
  *res = UNCHANGED;
  if (!r->allowed_values.n && !r->delete_values.n && !blocked_may_match(r, s, len))
    return TG_OK;
  if (r->allowed_values.n && tg_pattern_any(&r->allowed_values, &r->matcher, s, len)) {
    *res = ALLOWED;
    return TG_OK;
  }
  if (r->delete_values.n && tg_pattern_any(&r->delete_values, &r->matcher, s, len)) {
    *res = DELETE;
    return TG_OK;
  }
  int rc = tg_redaction_substitute(r, s, len);
  if (rc < 0)
    return TG_ENOMEM;
  *res = rc;
  return TG_OK;
}

/* A scalar replaced whole (PSEUDO, MASK) as string field 1. */
static int put_replacement(walk *w, mode m, const char *s, size_t len) {
  tg_redactor *r = w->r;
  if (m == M_PSEUDO) {
    char p[TG_PSEUDONYM_MAX];
    size_t n = tg_redaction_pseudonym(r, s, len, p);
    return wbytes(w, 1, p, n);
  }
  r->out.len = 0;
  if (tg_redaction_append_mask(r, s, len))
    return TG_ENOMEM;
  return wbytes(w, 1, r->out.data, r->out.len);
}

/* The text a scalar field has for the tree walk (scalar_text); 0 on success. */
static int scalar_text(const field *f, char *num, size_t size, const char **s, size_t *len) {
  int n;
  if ((f->num == 1 || f->num == 7) && f->wt == 2) {
    *s = (const char *)f->val;
    *len = f->vlen;
    return 0;
  }
  if (f->num == 2 && f->wt == 0)
    n = snprintf(num, size, "%s", f->u ? "true" : "false");
  else if (f->num == 3 && f->wt == 0)
    n = snprintf(num, size, "%" PRId64, (int64_t)f->u);
  else if (f->num == 4 && f->wt == 1) {
    double d;
    memcpy(&d, &f->u, sizeof d);
    n = snprintf(num, size, "%.17g", d);
  } else
    return -1;
  *s = num;
  *len = (size_t)n;
  return 0;
}

static int kv(walk *w, const field *kvf, mode m, int depth, int top, int *res);


static int any_value(walk *w, const uint8_t *in, size_t len, mode m, int depth, int *res);

/* The elements of an ArrayValue: a deleted element is masked, as in the tree walk. */
static int array(walk *w, const uint8_t *in, size_t len, mode m, int depth, int *changed) {
  const uint8_t *p = in, *end = in + len;
  field f;
  int rc, got;
  while ((got = next_field(&p, end, &f)) == 1) {
    if (f.num != 1) {
      if ((rc = wraw(w, &f)))
        return rc;
      continue;
    }
    if (f.wt != 2)
      return TG_EAGAIN;
    msg_mark mark;
    int sub;
    if ((rc = open_msg(w, 1, f.vlen, &mark)) ||
        (rc = any_value(w, f.val, f.vlen, m, depth + 1, &sub)))
      return rc;
    if (sub == DELETE) {
      if ((rc = wcut(w, mark.at + mark.width)))
        return rc;
      if ((rc = wbytes(w, 1, TG_REDACTION_MASK, sizeof TG_REDACTION_MASK - 1)))
        return rc;
      sub = CHANGED;
    }
    if ((rc = close_msg(w, &mark)))
      return rc;
    *changed |= sub == CHANGED;
  }
  return got < 0 ? TG_EAGAIN : TG_OK;
}

static int kvlist(walk *w, const uint8_t *in, size_t len, mode m, int depth, int *changed) {
  const uint8_t *p = in, *end = in + len;
  field f;
  int rc, got;
  while ((got = next_field(&p, end, &f)) == 1) {
    if (f.num != 1) {
      if ((rc = wraw(w, &f)))
        return rc;
      continue;
    }
    if (f.wt != 2)
      return TG_EAGAIN;
    int sub;
    if ((rc = kv(w, &f, m, depth + 1, 0, &sub)))
      return rc;
    *changed |= sub == CHANGED || sub == DELETE;
  }
  return got < 0 ? TG_EAGAIN : TG_OK;
}

/* An AnyValue body, rewritten into w->o. *res: UNCHANGED, CHANGED, DELETE, ALLOWED. */
static int any_value(walk *w, const uint8_t *in, size_t len, mode m, int depth, int *res) {
  tg_redactor *r = w->r;
  *res = UNCHANGED;
  if (depth > TG_REDACTION_MAX_DEPTH) { /* fail closed, as the tree walk */
    *res = CHANGED;
    return wbytes(w, 1, TG_REDACTION_MASK, sizeof TG_REDACTION_MASK - 1);
  }
  const uint8_t *p = in, *end = in + len;
  field f;
  f.u = 0; /* set by next_field for wt 0 and 1 only; GCC cannot see that is all we read */
  int rc, got, changed = 0, deleted = 0, allowed = 0;
  while ((got = next_field(&p, end, &f)) == 1) {
    int expected = f.num == 2 || f.num == 3 ? 0 : f.num == 4 ? 1 : f.num <= 7 ? 2 : -1;
    if (expected >= 0 && f.wt != expected)
      return TG_EAGAIN; /* protobuf-c would refuse it: leave it to the tree */
    if (f.num == 5 || f.num == 6) {
      msg_mark mark;
      if ((rc = open_msg(w, f.num, f.vlen, &mark)) ||
          (rc = (f.num == 5 ? array : kvlist)(w, f.val, f.vlen, m, depth, &changed)) ||
          (rc = close_msg(w, &mark)))
        return rc;
      continue;
    }
    char num[64];
    const char *s;
    size_t slen;
    /* PATTERNS leaves bytes alone, and other scalars unless redact_all_types: decide
     * before formatting anything */
    int untouched = m == M_PATTERNS && f.num != 1 && (f.num == 7 || !r->redact_all_types);
    if (f.num > 7 || untouched || scalar_text(&f, num, sizeof num, &s, &slen) != 0) {
      if ((rc = wraw(w, &f)))
        return rc;
      continue;
    }
    if (m != M_PATTERNS) {
      if ((rc = put_replacement(w, m, s, slen)))
        return rc;
      changed = 1;
      continue;
    }
    int sub = UNCHANGED;
    if (f.num == 1 || (f.num != 7 && r->redact_all_types))
      if ((rc = string_rules(r, s, slen, &sub)))
        return rc;
    if (sub == CHANGED) {
      if ((rc = wbytes(w, 1, r->out.data, r->out.len)))
        return rc;
      changed = 1;
      continue;
    }
    deleted |= sub == DELETE;
    allowed |= sub == ALLOWED;
    if ((rc = wraw(w, &f)))
      return rc;
  }
  if (got < 0)
    return TG_EAGAIN;
  *res = deleted ? DELETE : changed ? CHANGED : allowed ? ALLOWED : UNCHANGED;
  return TG_OK;
}

/* The string of an AnyValue body whose effective (last) value field is a string. */
static int effective_string(const uint8_t *in, size_t len, const char **s, size_t *slen) {
  const uint8_t *p = in, *end = in + len;
  field f;
  int found = 0;
  while (next_field(&p, end, &f) == 1) {
    if (f.num >= 1 && f.num <= 7) {
      found = f.num == 1 && f.wt == 2;
      *s = (const char *)f.val;
      *slen = f.vlen;
    }
  }
  return found;
}

/* ---- key/value pairs ----------------------------------------------------------------- */

/* A KeyValue field (kvf: the whole field, tag kvf->num). Writes it rewritten, or nothing
 * when it is deleted. top: an attribute list of a resource, scope, span, event or link. */
static int kv(walk *w, const field *kvf, mode m, int depth, int top, int *res) {
  tg_redactor *r = w->r;
  const uint8_t *p = kvf->val, *end = kvf->val + kvf->vlen;
  field f, key = {0}, value = {0};
  int got, n_key = 0, n_value = 0;
  size_t kl, vl;
  if (kvf->vlen >= 4 && p[0] == 0x0a && (kl = p[1]) < 0x80 && kl + 4 <= kvf->vlen &&
      p[2 + kl] == 0x12 && (vl = p[3 + kl]) < 0x80 && kl + vl + 4 == kvf->vlen) {
    /* The shape every encoder writes (key, then value, one-byte lengths): what the loop
     * below would find, without it. */
    key.num = 1, key.wt = 2, key.val = p + 2, key.vlen = kl;
    value.num = 2, value.wt = 2, value.val = p + 4 + kl, value.vlen = vl;
    n_key = n_value = 1;
  } else {
    while ((got = next_field(&p, end, &f)) == 1) {
      if (f.num == 1 || f.num == 2) {
        if (f.wt != 2)
          return TG_EAGAIN;
        if (f.num == 1)
          key = f, n_key++;
        else
          value = f, n_value++;
      }
    }
    if (got < 0 || n_key > 1 || n_value > 1)
      return TG_EAGAIN; /* a repeated singular field: protobuf merges it, the tree knows how */
  }
  *res = UNCHANGED;
  if (top || m == M_PATTERNS) {
    /* Most keys need no look-up at all: no key pattern, no exact rule of that length
     * (and no NUL inside, which would make the tree see a shorter key). */
    size_t klen = n_key ? key.vlen : 0;
    int lookup = r->keys_always_looked_up ||
                 (r->rule_key_lengths & (UINT64_C(1) << (klen < 63 ? klen : 63))) ||
                 nul_at_rule_length(r, key.val, klen);
    key_rule rule = K_VALUE;
    const char *name = "";
    if (lookup) {
      r->key.len = 0;
      if ((klen && put(&r->key, key.val, klen)) || tg_buf_reserve(&r->key, 1))
        return TG_ENOMEM;
      r->key.data[r->key.len] = '\0';
      name = (const char *)r->key.data;
      rule = tg_redaction_classify(r, name, strlen(name)); /* as the tree: up to a NUL */
    }
    if (rule == K_IGNORE)
      return wraw(w, kvf);
    if (rule == K_DELETE ||
        (top && !r->allow_all_keys && rule != K_PSEUDO &&
         !tg_redaction_keyset_has(&r->allowed, name) && !tg_redaction_is_summary_key(name))) {
      *res = DELETE;
      if (top)
        r->counts.deleted++;
      return TG_OK;
    }
    if (rule == K_PSEUDO)
      m = M_PSEUDO;
    else if (rule == K_MASK)
      m = M_MASK;
    const char *s;
    size_t slen;
    if (top && m == M_MASK && r->allowed_values.n && n_value &&
        effective_string(value.val, value.vlen, &s, &slen) &&
        tg_pattern_any(&r->allowed_values, &r->matcher, s, slen))
      return wraw(w, kvf);
  }
  if (!n_value)
    return wraw(w, kvf);
  msg_mark mark, vmark;
  int rc, sub = UNCHANGED;
  if (m == M_PATTERNS && depth <= TG_REDACTION_MAX_DEPTH) {
    /* The common case, a lone string or other scalar: decide on the bytes, and copy the
     * pair verbatim when it stays. (Deeper values are masked whole by any_value.) */
    const uint8_t *vp = value.val, *vend = value.val + value.vlen;
    field only;
    int single;
    if (value.vlen >= 2 && vp[0] == 0x0a && vp[1] < 0x80 && vp[1] + (size_t)2 == value.vlen) {
      only.num = 1, only.wt = 2, only.val = vp + 2, only.vlen = vp[1], only.u = 0; /* short */
      single = 1;
    } else {
      single = next_field(&vp, vend, &only) == 1 && vp == vend;
    }
    if (single && only.num >= 1 && only.num <= 7 && only.num != 5 && only.num != 6) {
      if (only.num != 1 && (only.num == 7 || !r->redact_all_types))
        return wraw(w, kvf);
      if (only.num == 1 && only.wt == 2) {
        if ((rc = string_rules(r, (const char *)only.val, only.vlen, &sub)))
          return rc;
        if (sub == UNCHANGED || sub == ALLOWED)
          return wraw(w, kvf);
        if (sub == DELETE) {
          *res = DELETE;
          if (top)
            r->counts.deleted++;
          return TG_OK;
        }
        /* CHANGED: the new text is in r->out; write key, then the new value */
        if ((rc = open_msg(w, kvf->num, kvf->vlen, &mark)))
          return rc;
        p = kvf->val;
        while (next_field(&p, end, &f) == 1) {
          if (f.num != 2)
            rc = wraw(w, &f);
          else if (!(rc = open_msg(w, 2, f.vlen, &vmark)) &&
                   !(rc = wbytes(w, 1, r->out.data, r->out.len)))
            rc = close_msg(w, &vmark);
          if (rc)
            return rc;
        }
        if ((rc = close_msg(w, &mark)))
          return rc;
        *res = CHANGED;
        if (top)
          r->counts.masked++;
        return TG_OK;
      }
    }
  }
  size_t start = wlen(w, &rc); /* where to cut back to if the value says delete */
  if (rc || (rc = open_msg(w, kvf->num, kvf->vlen, &mark)))
    return rc;
  p = kvf->val;
  while (next_field(&p, end, &f) == 1) {
    if (f.num != 2) {
      if ((rc = wraw(w, &f)))
        return rc;
      continue;
    }
    if ((rc = open_msg(w, 2, f.vlen, &vmark)) ||
        (rc = any_value(w, f.val, f.vlen, m, depth, &sub)) || (rc = close_msg(w, &vmark)))
      return rc;
  }
  if ((rc = close_msg(w, &mark)))
    return rc;
  if (sub == DELETE) {
    if ((rc = wcut(w, start)))
      return rc;
    *res = DELETE;
    if (top)
      r->counts.deleted++;
  } else if (sub == CHANGED) {
    *res = CHANGED;
    if (top && m == M_PSEUDO)
      r->counts.pseudonymized++;
    else if (top)
      r->counts.masked++;
  }
  return TG_OK;
}

/* ---- messages ---------------------------------------------------------------------- */

/* Free text (span name, event name, status message): blocked_values only. */
static int text(walk *w, const field *f) {
  tg_redactor *r = w->r;
  if (f->wt != 2)
    return TG_EAGAIN;
  if (!f->vlen || !blocked_may_match(r, (const char *)f->val, f->vlen) ||
      (r->allowed_values.n &&
       tg_pattern_any(&r->allowed_values, &r->matcher, (const char *)f->val, f->vlen)))
    return wraw(w, f);
  int rc = tg_redaction_substitute(r, (const char *)f->val, f->vlen);
  if (rc < 0)
    return TG_ENOMEM;
  if (rc != CHANGED)
    return wraw(w, f);
  r->counts.masked++;
  return wbytes(w, f->num, r->out.data, r->out.len);
}


static int message(walk *w, msg_kind k, const uint8_t *in, size_t len) {
  const uint8_t *p = in, *end = in + len;
  field f;
  int rc, got;
  while ((got = next_field(&p, end, &f)) == 1) {
    msg_kind sub = k;
    int what = role(k, f.num, &sub);
    if (what != F_COPY && f.wt != 2)
      return TG_EAGAIN;
    if (what == F_ATTR) {
      int res = UNCHANGED;
      rc = w->r->attrs_by_shape && attribute_stays(w->r, f.val, f.vlen)
               ? wraw(w, &f)
               : kv(w, &f, M_PATTERNS, 1, 1, &res);
      w->changed |= res != UNCHANGED;
      if (!rc && !w->o && w->changed)
        return STOPPED;
    } else if (what == F_TEXT) {
      size_t before = w->r->counts.masked;
      rc = text(w, &f);
      w->changed |= w->r->counts.masked != before;
      if (!rc && !w->o && w->changed)
        return STOPPED;
    } else if (what == F_SUB) {
      msg_mark mark;
      if (!(rc = open_msg(w, f.num, f.vlen, &mark)) && !(rc = message(w, sub, f.val, f.vlen)))
        rc = close_msg(w, &mark);
    } else {
      rc = wraw(w, &f);
    }
    if (rc)
      return rc;
  }
  return got < 0 ? TG_EAGAIN : TG_OK;
}

int tg_redactor_wire_segment(tg_redactor *r, const uint8_t *in, size_t len, tg_buf *out,
                             int *changed) {
  *changed = 0;
  if (r->summary != TG_SUMMARY_SILENT)
    return TG_EAGAIN;
  walk w = {r, out, 0, NULL, NULL};
  int rc = message(&w, MSG_RESOURCE_SPANS, in, len);
  if (rc == TG_OK)
    rc = wflush(&w);
  *changed = w.changed;
  return rc;
}

/* A dry walk of one segment: TG_OK when no rule changes anything in it, STOPPED at the
 * first change, or the errors of tg_redactor_wire_segment. */
static int wire_segment_dry(tg_redactor *r, const uint8_t *in, size_t len) {
  walk w = {r, NULL, 0, NULL, NULL};
  int rc = message(&w, MSG_RESOURCE_SPANS, in, len);
  return rc == TG_OK && w.changed ? STOPPED : rc;
}

int tg_redactor_batch(tg_redactor *r, tg_batch *batch) {
  int rc = TG_OK;
  if (batch->n_wire && r->summary == TG_SUMMARY_SILENT) {
    /* All segments into one buffer first: a fallback must not see half the batch
     * redacted already (it would pseudonymise pseudonyms). */
    tg_redaction_counts before = r->counts;
    if (batch->n_wire > r->cap_wire_offsets) {
      size_t cap = batch->n_wire * 2;
      size_t *grown = tg_realloc(r->wire_offsets, cap * sizeof *grown);
      if (!grown)
        return TG_ENOMEM;
      r->wire_offsets = grown;
      r->cap_wire_offsets = cap;
    }
    size_t *offs = r->wire_offsets;
    int any = 0;
    r->wire.len = 0;
    /* Dry first: when nothing changes, the batch keeps its bytes and nothing is copied.
     * Once a segment would change, every segment is written (as before: a batch with a
     * change leaves with all its segments rewritten, byte for byte the same output). */
    size_t dry = 0;
    while (rc == TG_OK && dry < batch->n_wire) {
      const tg_wire_segment *seg = &batch->wire[dry];
      if (tg_redactor_wire_segment_stays(r, seg->data, seg->len) ||
          (rc = wire_segment_dry(r, seg->data, seg->len)) == TG_OK)
        dry++;
    }
    r->counts = before;
    if (rc == STOPPED)
      rc = TG_OK;
    else if (rc == TG_OK) /* every segment stays as it is */
      return tg_redactor_request(r, batch->arena, &batch->request);
    for (size_t i = 0; rc == TG_OK && i < batch->n_wire; i++) {
      int changed;
      offs[i] = r->wire.len;
      rc = tg_redactor_wire_segment(r, batch->wire[i].data, batch->wire[i].len, &r->wire,
                                    &changed);
      any |= changed;
    }
    if (rc == TG_OK && any) {
      uint8_t *bytes = tg_arena_memdup(batch->arena, r->wire.data, r->wire.len ? r->wire.len : 1);
      tg_wire_segment *segs = tg_arena_alloc(batch->arena, batch->n_wire * sizeof *segs);
      if (!bytes || !segs)
        return TG_ENOMEM;
      for (size_t i = 0; i < batch->n_wire; i++) {
        size_t endo = i + 1 < batch->n_wire ? offs[i + 1] : r->wire.len;
        segs[i] = batch->wire[i];
        segs[i].data = bytes + offs[i];
        segs[i].len = endo - offs[i];
      }
      batch->wire = segs;
    }
    if (rc == TG_ENOMEM)
      return rc;
    if (rc != TG_OK) { /* TG_EAGAIN: the tree walk does the whole batch */
      r->counts = before;
      rc = tg_batch_materialize(batch);
      if (rc != TG_OK)
        return rc;
    }
  } else if (batch->n_wire) {
    rc = tg_batch_materialize(batch);
    if (rc != TG_OK)
      return rc;
  }
  return tg_redactor_request(r, batch->arena, &batch->request);
}
