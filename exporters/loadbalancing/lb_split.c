/* Splitting OTLP per backend on the wire form (see lb_split.h for the output shape).
 *
 * Per ScopeSpans: one pass reads each span's key (the trace ID is field 1 and normally
 * the first bytes of the span, so the read stops there unless routing by attributes) and
 * asks pick for a slot; a counting sort groups the span references by slot; then each
 * slot that got spans receives one ResourceSpans. Sizes are known before writing, so
 * every length prefix is written once. Span bytes are copied verbatim. */
#include "lb_split.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_pbwire.h"
#include "tg_trace_id.h"
#include "lb_ring.h"

enum { REQ_RESOURCE_SPANS = 1 };
enum { RS_RESOURCE = 1, RS_SCOPE_SPANS = 2 };
enum { SS_SPANS = 2 };
enum { RES_ATTRIBUTES = 1 };
enum { KV_KEY = 1, KV_VALUE = 2 };
enum { SPAN_TRACE_ID = 1, SPAN_ATTRIBUTES = 9 };

typedef struct field {
  uint32_t number;
  int wire_type;
  const uint8_t *data, *start;
  size_t len, total;
} field;

/* 1 on a field, 0 at the end, -1 on malformed bytes. */
static inline int next_field(tg_pbwire_reader *r, field *f) {
  if (r->p >= r->end)
    return 0;
  f->start = r->p;
  uint64_t v;
  f->data = NULL;
  f->len = 0;
  if (tg_pbwire_tag(r, &f->number, &f->wire_type) ||
      tg_pbwire_value(r, f->wire_type, &v, &f->data, &f->len))
    return -1;
  f->total = (size_t)(r->p - f->start);
  return 1;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static int out_reserve(lb_out *o, size_t extra) {
  if (o->len + extra <= o->cap)
    return TG_OK;
  size_t cap = o->cap ? o->cap * 2 : 16384;
  while (cap < o->len + extra)
    cap *= 2;
  uint8_t *d = tg_realloc(o->data, cap);
  if (!d)
    return TG_ENOMEM;
  o->data = d;
  o->cap = cap;
  return TG_OK;
}

void lb_outs_reset(lb_out *outs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    outs[i].len = 0;
    outs[i].spans = 0;
  }
}

void lb_outs_free(lb_out *outs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    tg_free(outs[i].data);
    memset(&outs[i], 0, sizeof outs[i]);
  }
}

void lb_splitter_free_scratch(lb_splitter *s) {
  tg_free(s->refs);
  tg_free(s->counts);
  tg_free(s->prefix);
  s->refs = NULL;
  s->counts = NULL;
  s->prefix = NULL;
  s->refs_cap = s->counts_cap = s->prefix_cap = 0;
}

/* Copies every field of msg except `skip` to dst; returns the bytes written. msg was
 * already walked successfully by the caller. */
static size_t copy_without(const uint8_t *msg, size_t len, uint32_t skip, uint8_t *dst) {
  tg_pbwire_reader r = {msg, msg + len};
  field f;
  size_t n = 0;
  while (next_field(&r, &f) == 1)
    if (f.number != skip) {
      memcpy(dst + n, f.start, f.total);
      n += f.total;
    }
  return n;
}

/* The value bytes of attribute `key` in a run of KeyValue fields numbered `number` inside
 * msg; 1 found (*val, *val_len set), 0 not, -1 malformed. */
static int find_attr(const uint8_t *msg, size_t len, uint32_t number, const char *key,
                     size_t key_len, const uint8_t **val, size_t *val_len) {
  tg_pbwire_reader r = {msg, msg + len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 1) {
    if (f.number != number || f.wire_type != TG_PB_LEN)
      continue;
    tg_pbwire_reader kr = {f.data, f.data + f.len};
    field kf;
    const uint8_t *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    int krc;
    while ((krc = next_field(&kr, &kf)) == 1) {
      if (kf.wire_type != TG_PB_LEN)
        continue;
      if (kf.number == KV_KEY) {
        k = kf.data;
        kl = kf.len;
      } else if (kf.number == KV_VALUE) {
        v = kf.data;
        vl = kf.len;
      }
    }
    if (krc < 0)
      return -1;
    if (k && kl == key_len && !memcmp(k, key, kl)) {
      *val = v ? v : (const uint8_t *)"";
      *val_len = v ? vl : 0;
      return 1;
    }
  }
  return rc < 0 ? -1 : 0;
}

/* The span's trace ID (zeros when absent); with attrs, also the hash of the routing
 * attributes found in the span (*found set when at least one was). */
static int span_key(const lb_splitter *s, const uint8_t *span, size_t len, uint8_t id[16],
                    uint64_t *attr_hash, int *found) {
  tg_pbwire_reader r = {span, span + len};
  field f;
  int rc;
  memset(id, 0, 16);
  int want_attrs = s->mode == LB_KEY_ATTRIBUTES && !*found;
  while ((rc = next_field(&r, &f)) == 1) {
    if (f.number == SPAN_TRACE_ID && f.wire_type == TG_PB_LEN && f.len == 16) {
      memcpy(id, f.data, 16);
      if (!want_attrs)
        return TG_OK;
    }
  }
  if (rc < 0)
    return TG_EDECODE;
  if (want_attrs) {
    uint64_t h = *attr_hash;
    for (size_t i = 0; i < s->n_attrs; i++) {
      const uint8_t *v;
      size_t vl;
      int frc = find_attr(span, len, SPAN_ATTRIBUTES, s->attrs[i], strlen(s->attrs[i]), &v,
                          &vl);
      if (frc < 0)
        return TG_EDECODE;
      if (frc) {
        h = tg_mix64(h ^ lb_fnv1a64(v, vl)) + i;
        *found = 1;
      }
    }
    *attr_hash = h;
  }
  return TG_OK;
}

static int reserve_refs(lb_splitter *s, size_t n) {
  if (n <= s->refs_cap)
    return TG_OK;
  size_t cap = s->refs_cap ? s->refs_cap : 256;
  while (cap < n)
    cap *= 2;
  lb_span_ref *r = tg_realloc(s->refs, 2 * cap * sizeof *r); /* second half: sorted */
  if (!r)
    return TG_ENOMEM;
  s->refs = r;
  s->refs_cap = cap;
  return TG_OK;
}

/* Routes the spans of one ScopeSpans (ss) of a resource whose prefix is rs/rs_len. */
static int split_scope(lb_splitter *s, const uint8_t *rs, size_t rs_len, const field *ss,
                       int res_found, uint64_t res_hash) {
  /* scope prefix after the resource prefix in the same scratch */
  uint8_t *ssp = s->prefix + rs_len;
  size_t ss_len = copy_without(ss->data, ss->len, SS_SPANS, ssp);
  size_t n = 0;
  tg_pbwire_reader r = {ss->data, ss->data + ss->len};
  field f;
  int rc;
  uint8_t last_id[16];
  int64_t last_out = -1;
  while ((rc = next_field(&r, &f)) == 1) {
    if (f.number != SS_SPANS || f.wire_type != TG_PB_LEN)
      continue;
    if (reserve_refs(s, n + 1) != TG_OK)
      return TG_ENOMEM;
    uint8_t id[16];
    uint64_t h = res_hash;
    int found = res_found;
    if (span_key(s, f.data, f.len, id, &h, &found) != TG_OK)
      return TG_EDECODE;
    int64_t out;
    if (s->mode == LB_KEY_TRACE_ID || (s->mode == LB_KEY_ATTRIBUTES && !found)) {
      if (last_out >= 0 && !memcmp(id, last_id, 16)) {
        out = last_out; /* spans of one trace often come together */
      } else {
        out = s->pick(s->pick_ctx, 1, id, tg_trace_id_hash(id));
        memcpy(last_id, id, 16);
        last_out = out;
      }
    } else {
      out = s->pick(s->pick_ctx, 0, id, h);
    }
    if (out < 0 || (size_t)out >= s->n_outs)
      return TG_EAGAIN;
    s->refs[n++] = (lb_span_ref){f.data, f.len, (uint32_t)out};
  }
  if (rc < 0)
    return TG_EDECODE;
  if (!n)
    return TG_OK;
  /* counting sort by slot into the second half of refs */
  memset(s->counts, 0, s->n_outs * sizeof *s->counts);
  for (size_t i = 0; i < n; i++)
    s->counts[s->refs[i].out]++;
  lb_span_ref *sorted = s->refs + s->refs_cap;
  size_t at = 0;
  for (size_t o = 0; o < s->n_outs; o++) {
    size_t c = s->counts[o];
    s->counts[o] = at;
    at += c;
  }
  for (size_t i = 0; i < n; i++)
    sorted[s->counts[s->refs[i].out]++] = s->refs[i];
  /* counts[o] is now the end of slot o's run */
  size_t from = 0;
  for (size_t o = 0; o < s->n_outs; o++) {
    size_t to = s->counts[o];
    if (to == from)
      continue;
    size_t ss_body = ss_len;
    for (size_t i = from; i < to; i++)
      ss_body += 1 + tg_pbwire_varint_size(sorted[i].len) + sorted[i].len;
    size_t rs_body = rs_len + 1 + tg_pbwire_varint_size(ss_body) + ss_body;
    lb_out *out = &s->outs[o];
    if (out_reserve(out, 1 + tg_pbwire_varint_size(rs_body) + rs_body) != TG_OK)
      return TG_ENOMEM;
    uint8_t *p = out->data + out->len;
    *p++ = (REQ_RESOURCE_SPANS << 3) | TG_PB_LEN;
    p = put_varint(p, rs_body);
    memcpy(p, rs, rs_len);
    p += rs_len;
    *p++ = (RS_SCOPE_SPANS << 3) | TG_PB_LEN;
    p = put_varint(p, ss_body);
    memcpy(p, ssp, ss_len);
    p += ss_len;
    for (size_t i = from; i < to; i++) {
      *p++ = (SS_SPANS << 3) | TG_PB_LEN;
      p = put_varint(p, sorted[i].len);
      memcpy(p, sorted[i].data, sorted[i].len);
      p += sorted[i].len;
    }
    out->len = (size_t)(p - out->data);
    out->spans += to - from;
    from = to;
  }
  return TG_OK;
}

/* The per-resource key (service, resource, attributes modes): *found when one applies. */
static int resource_key(const lb_splitter *s, const uint8_t *res, size_t res_len,
                        uint64_t *hash, int *found) {
  *hash = 0;
  *found = 0;
  if (s->mode == LB_KEY_RESOURCE) {
    *hash = tg_mix64(lb_fnv1a64(res, res_len));
    *found = 1;
    return TG_OK;
  }
  if (s->mode == LB_KEY_SERVICE) {
    const uint8_t *v = NULL;
    size_t vl = 0;
    int rc = res ? find_attr(res, res_len, RES_ATTRIBUTES, "service.name", 12, &v, &vl) : 0;
    if (rc < 0)
      return TG_EDECODE;
    *hash = tg_mix64(lb_fnv1a64(rc ? v : (const uint8_t *)"", rc ? vl : 0));
    *found = 1;
    return TG_OK;
  }
  if (s->mode == LB_KEY_ATTRIBUTES && res) {
    uint64_t h = 0;
    for (size_t i = 0; i < s->n_attrs; i++) {
      const uint8_t *v;
      size_t vl;
      int rc = find_attr(res, res_len, RES_ATTRIBUTES, s->attrs[i], strlen(s->attrs[i]), &v,
                         &vl);
      if (rc < 0)
        return TG_EDECODE;
      if (rc) {
        h = tg_mix64(h ^ lb_fnv1a64(v, vl)) + i;
        *found = 1;
      }
    }
    *hash = h;
  }
  return TG_OK;
}

int lb_split_resource_spans(lb_splitter *s, const uint8_t *body, size_t len) {
  if (s->counts_cap < s->n_outs) {
    size_t *c = tg_realloc(s->counts, s->n_outs * sizeof *c);
    if (!c)
      return TG_ENOMEM;
    s->counts = c;
    s->counts_cap = s->n_outs;
  }
  /* both prefixes fit in 2 × len */
  if (s->prefix_cap < 2 * len + 16) {
    uint8_t *p = tg_realloc(s->prefix, 2 * len + 16);
    if (!p)
      return TG_ENOMEM;
    s->prefix = p;
    s->prefix_cap = 2 * len + 16;
  }
  /* walk once to validate and find the resource */
  tg_pbwire_reader r = {body, body + len};
  field f;
  int rc;
  const uint8_t *res = NULL;
  size_t res_len = 0;
  while ((rc = next_field(&r, &f)) == 1)
    if (f.number == RS_RESOURCE && f.wire_type == TG_PB_LEN) {
      res = f.data;
      res_len = f.len;
    }
  if (rc < 0)
    return TG_EDECODE;
  uint64_t res_hash;
  int res_found;
  if (resource_key(s, res, res_len, &res_hash, &res_found) != TG_OK)
    return TG_EDECODE;
  size_t rs_len = copy_without(body, len, RS_SCOPE_SPANS, s->prefix);
  r = (tg_pbwire_reader){body, body + len};
  while ((rc = next_field(&r, &f)) == 1) {
    if (f.number != RS_SCOPE_SPANS || f.wire_type != TG_PB_LEN)
      continue;
    int src = split_scope(s, s->prefix, rs_len, &f, res_found, res_hash);
    if (src != TG_OK)
      return src;
  }
  return TG_OK;
}

int lb_split_request(lb_splitter *s, const uint8_t *req, size_t len) {
  tg_pbwire_reader r = {req, req + len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 1) {
    if (f.number != REQ_RESOURCE_SPANS || f.wire_type != TG_PB_LEN)
      continue;
    int src = lb_split_resource_spans(s, f.data, f.len);
    if (src != TG_OK)
      return src;
  }
  return rc < 0 ? TG_EDECODE : TG_OK;
}
