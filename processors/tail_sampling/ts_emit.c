/* Assembles kept spans into ResourceSpans wire segments: header prefix bytes, then one
 * ScopeSpans whose prefix is the scope part of the header, then each span as field 2.
 * Protobuf allows fields in any order and repeated fields to be split, so these are
 * exactly the messages a sender would have written for the same spans. */
#include "ts_emit.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "ts_prob.h"
#include "ts_wire.h"

enum { RS_SCOPE_SPANS = 2, SS_SPANS = 2, SPAN_TRACE_STATE = 3 };

void ts_emitter_init(ts_emitter *e) {
  memset(e, 0, sizeof *e);
  tg_buf_init(&e->data, 0);
  tg_buf_init(&e->scratch, 0);
  tg_buf_init(&e->scratch_lens, 0);
}

void ts_emitter_free(ts_emitter *e) {
  tg_buf_free(&e->data);
  tg_buf_free(&e->scratch);
  tg_buf_free(&e->scratch_lens);
  tg_free(e->offsets);
  tg_free(e->lengths);
  tg_free(e->counts);
  memset(e, 0, sizeof *e);
}

static int reserve_segment(ts_emitter *e) {
  if (e->n < e->cap)
    return TG_OK;
  size_t cap = e->cap ? e->cap * 2 : 64;
  size_t *o = tg_realloc(e->offsets, cap * sizeof *o);
  if (o)
    e->offsets = o;
  size_t *l = tg_realloc(e->lengths, cap * sizeof *l);
  if (l)
    e->lengths = l;
  size_t *c = tg_realloc(e->counts, cap * sizeof *c);
  if (c)
    e->counts = c;
  if (!o || !l || !c)
    return TG_ENOMEM;
  e->cap = cap;
  return TG_OK;
}

/* A span source for one segment: n spans, either a run of a trace's records or one span. */
typedef struct run {
  const ts_trace *trace;
  size_t from, to;   /* record offsets */
  const uint8_t *one; /* single span */
  size_t one_len;
} run;

static int next_span(const run *r, size_t *off, const uint8_t **span, size_t *len) {
  if (r->one) {
    if (*off)
      return 0;
    *off = 1;
    *span = r->one;
    *len = r->one_len;
    return 1;
  }
  uint32_t h;
  if (*off >= r->to)
    return 0;
  return ts_trace_next_record(r->trace, off, &h, span, len);
}

/* Rewrites every span of the run into scratch (back to back) with its tracestate set to
 * carry th, and their lengths into scratch_lens, once: both passes below read them. */
static int rewrite_run(ts_emitter *e, const run *r, const char *th_hex) {
  e->scratch.len = 0;
  e->scratch_lens.len = 0;
  size_t off = r->one ? 0 : r->from, len;
  const uint8_t *span;
  while (next_span(r, &off, &span, &len)) {
    size_t before = e->scratch.len;
    if (ts_span_set_threshold(span, len, th_hex, &e->scratch) != TG_OK)
      return TG_ENOMEM;
    size_t written = e->scratch.len - before;
    if (tg_buf_append(&e->scratch_lens, &written, sizeof written) != TG_OK)
      return TG_ENOMEM;
  }
  return TG_OK;
}

/* The spans of a segment as written: the run's records, or their rewrites. */
typedef struct span_cursor {
  const run *r;
  const ts_emitter *e; /* non-NULL: read the rewrites in scratch */
  size_t off, i, at;
} span_cursor;

static int cursor_next(span_cursor *c, const uint8_t **span, size_t *len) {
  if (!c->e)
    return next_span(c->r, &c->off, span, len);
  if (c->i * sizeof(size_t) >= c->e->scratch_lens.len)
    return 0;
  memcpy(len, c->e->scratch_lens.data + c->i++ * sizeof(size_t), sizeof *len);
  *span = c->e->scratch.data + c->at;
  c->at += *len;
  return 1;
}

static int emit_segment(ts_emitter *e, const uint8_t *rs, size_t rs_len, const uint8_t *ss,
                        size_t ss_len, const run *r, const char *th_hex, const uint8_t *sfx,
                        size_t sfx_len) {
  if (th_hex && rewrite_run(e, r, th_hex) != TG_OK)
    return TG_ENOMEM;
  const span_cursor start_at = {r, th_hex ? e : NULL, r->one ? 0 : r->from, 0, 0};
  /* pass 1: sizes */
  size_t ss_body = ss_len, n = 0, len;
  const uint8_t *span;
  span_cursor c = start_at;
  while (cursor_next(&c, &span, &len)) {
    ss_body += ts_len_field_size(len + sfx_len);
    n++;
  }
  size_t body = rs_len + ts_len_field_size(ss_body);
  if (reserve_segment(e) != TG_OK || tg_buf_reserve(&e->data, body) != TG_OK)
    return TG_ENOMEM;
  size_t start = e->data.len;
  uint8_t *p = e->data.data + start;
  memcpy(p, rs, rs_len);
  p += rs_len;
  p += ts_put_len_header(p, RS_SCOPE_SPANS, ss_body);
  memcpy(p, ss, ss_len);
  p += ss_len;
  /* pass 2: bytes */
  c = start_at;
  while (cursor_next(&c, &span, &len)) {
    p += ts_put_len_header(p, SS_SPANS, len + sfx_len);
    memcpy(p, span, len);
    p += len;
    if (sfx_len) {
      memcpy(p, sfx, sfx_len);
      p += sfx_len;
    }
  }
  e->data.len = start + body;
  e->offsets[e->n] = start;
  e->lengths[e->n] = body;
  e->counts[e->n] = n;
  e->n++;
  e->spans += n;
  return TG_OK;
}

int ts_emit_trace(ts_emitter *e, const ts_store *s, const ts_trace *t, const char *th_hex,
                  const uint8_t *sfx, size_t sfx_len) {
  size_t mark_len = e->data.len, mark_n = e->n, mark_spans = e->spans;
  size_t off = 0, len;
  uint32_t header;
  const uint8_t *span;
  while (off < t->len) {
    size_t from = off;
    ts_trace_next_record(t, &off, &header, &span, &len);
    uint32_t h2 = header;
    size_t to = off, probe = off;
    while (probe < t->len) {
      ts_trace_next_record(t, &probe, &h2, &span, &len);
      if (h2 != header)
        break;
      to = probe;
    }
    off = to;
    static const uint8_t none[1];
    const uint8_t *rs = none, *ss = none;
    size_t rs_len = 0, ss_len = 0;
    if (header != TS_NO_HEADER) {
      const ts_header *h = &s->headers[header];
      rs = h->bytes;
      rs_len = h->rs_len;
      ss = h->bytes + h->rs_len;
      ss_len = h->ss_len;
    }
    run r = {t, from, to, NULL, 0};
    if (emit_segment(e, rs, rs_len, ss, ss_len, &r, th_hex, sfx, sfx_len) != TG_OK) {
      e->data.len = mark_len;
      e->n = mark_n;
      e->spans = mark_spans;
      return TG_ENOMEM;
    }
  }
  return TG_OK;
}

int ts_emit_span(ts_emitter *e, const uint8_t *rs, size_t rs_len, const uint8_t *ss,
                 size_t ss_len, const uint8_t *span, size_t len, const uint8_t *sfx,
                 size_t sfx_len) {
  run r = {NULL, 0, 0, span, len};
  return emit_segment(e, rs, rs_len, ss, ss_len, &r, NULL, sfx, sfx_len);
}

/* The emitted bytes are handed to the batch, not copied into its arena (trimmed first,
 * so the batch's memory charge stays near their size); the next round's buffer is
 * presized to this one's bytes so it does not grow by copies again, unless that was a
 * burst (over 16 MiB), which is not worth holding. */
tg_batch *ts_emit_take(ts_emitter *e, size_t *lost) {
  *lost = 0;
  if (!e->n)
    return NULL;
  size_t used = e->data.len, size;
  uint8_t *buf = tg_buf_steal_trimmed(&e->data, &size);
  tg_batch *b = tg_batch_new(e->n * sizeof(tg_wire_segment) + 1024, 0);
  if (!b || tg_batch_adopt_wire_owned(b, buf, size, NULL, buf, e->offsets, e->lengths,
                                      e->counts, e->n) != TG_OK) {
    tg_free(buf);
    tg_batch_free(b);
    b = NULL;
    *lost = e->spans;
  }
  e->n = 0;
  e->spans = 0;
  if (used <= ((size_t)16 << 20))
    (void)tg_buf_reserve(&e->data, used); /* a failure only means growing later */
  return b;
}

int ts_span_set_threshold(const uint8_t *span, size_t len, const char *th_hex, tg_buf *out) {
  ts_reader r = ts_reader_of(span, len);
  ts_field f;
  const uint8_t *old = NULL;
  size_t old_len = 0;
  while (ts_next_field(&r, &f) == 1)
    if (f.number == SPAN_TRACE_STATE && f.wire_type == TS_WT_LEN) {
      old = f.data;
      old_len = f.len;
    }
  /* An upstream sampler's higher threshold (a smaller probability) still holds: the
   * span was kept by both, so the combined threshold is the larger one. */
  uint64_t mine, theirs;
  if (old && tg_ts_tracestate_get_th((const char *)old, old_len, &theirs) &&
      tg_ts_threshold_parse(th_hex, strlen(th_hex), &mine) == 0 && theirs >= mine)
    return tg_buf_append(out, span, len);
  char ts[TG_TS_TRACESTATE_MAX];
  int n = tg_ts_tracestate_set_th(old ? (const char *)old : "", old_len, th_hex, ts, sizeof ts);
  if (n < 0 || (size_t)n > 512) { /* W3C's limit: keep the span as it was */
    return tg_buf_append(out, span, len);
  }
  if (tg_buf_reserve(out, len + ts_len_field_size((size_t)n)) != TG_OK)
    return TG_ENOMEM;
  uint8_t *p = out->data + out->len;
  int written = 0;
  r = ts_reader_of(span, len);
  while (ts_next_field(&r, &f) == 1) {
    if (f.number == SPAN_TRACE_STATE && f.wire_type == TS_WT_LEN)
      continue;
    if (!written && f.number > SPAN_TRACE_STATE) {
      p += ts_put_len_header(p, SPAN_TRACE_STATE, (size_t)n);
      memcpy(p, ts, (size_t)n);
      p += n;
      written = 1;
    }
    memcpy(p, f.start, f.total);
    p += f.total;
  }
  if (!written) {
    p += ts_put_len_header(p, SPAN_TRACE_STATE, (size_t)n);
    memcpy(p, ts, (size_t)n);
    p += n;
  }
  out->len = (size_t)(p - out->data);
  return TG_OK;
}
