/* The metric snapshot: one collect() recorded as a flat byte stream, replayed later.
 *
 * Why a flat stream: the loop thread pays one memcpy pass per point into 256 KiB chunks
 * (one allocation per chunk, none per point, nothing ever moved), and the copy is freed
 * chunk by chunk.
 * Records start 8-byte aligned, so the replay reads exemplars in place; the label and
 * exemplar pointer arrays and the counts a tg_mpoint needs are rebuilt in scratch arrays
 * owned by the replaying call (so several threads may replay one snapshot).
 *
 * Stream: a FAMILY record (the index into the snapshot's family table) wherever collect
 * called family(), and a POINT record per point: a fixed header, the exemplar slots (a
 * presence word, then the exemplar when present), the labels (lengths, then the
 * NUL-terminated strings), then the histogram and exponential bucket counts as varints
 * (decoded into scratch on replay). */
#include "tg_metric_snapshot.h"

#include <stdint.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_pbwire.h"

enum { REC_FAMILY = 1, REC_POINT = 2 };
#define NO_STRING UINT32_MAX

typedef struct rec_family {
  uint32_t kind, family;
} rec_family;

typedef struct rec_point {
  uint32_t kind, family;
  uint32_t n_labels, n_buckets, n_exp_counts, n_exemplars;
  int32_t scale, exp_offset;
  uint64_t count, start_unix_nano, time_unix_nano, zero_count;
  double sum;
} rec_point;

typedef struct rec_label {
  int32_t where;
  uint32_t name_len, value_len, otel_len; /* NO_STRING: NULL */
} rec_label;

typedef struct snap_family {
  tg_mfamily f; /* strings and bounds owned here */
  const tg_mfamily *origin; /* the source's pointer, only while taking */
} snap_family;

/* The stream lives in chunks: no record straddles two, and chunks are never moved
 * (growing one buffer by realloc copied megabytes and faulted in fresh pages). */
typedef struct chunk {
  struct chunk *next;
  size_t len, cap;
  uint8_t data[]; /* 8-byte aligned: the header is three words */
} chunk;
#define CHUNK_BYTES ((size_t)256 << 10)

struct tg_metric_snapshot {
  tg_metric_source src; /* ctx = this */
  snap_family *families;
  size_t n_families, cap_families;
  chunk *head, *tail;
  size_t bytes; /* of all chunks */
  size_t points;
  int failed; /* TG_ENOMEM while taking */
};

/* ---- taking ---- */

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* n (a multiple of 8) bytes at the end of the stream, in the last chunk or a new one;
 * NULL on ENOMEM. */
static uint8_t *reserve(tg_metric_snapshot *s, size_t n) {
  chunk *c = s->tail;
  if (!c || c->cap - c->len < n) {
    size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
    c = tg_malloc(sizeof *c + cap);
    if (!c)
      return NULL;
    c->next = NULL;
    c->len = 0;
    c->cap = cap;
    if (s->tail)
      s->tail->next = c;
    else
      s->head = c;
    s->tail = c;
    s->bytes += sizeof *c + cap;
  }
  uint8_t *at = c->data + c->len;
  c->len += n;
  return at;
}

/* Counts are written as varints (most are small): exponential histograms' 160 counts
 * shrink from 1280 bytes to ~200, and fewer fresh pages are touched on the loop thread. */
static uint8_t *put_varint(uint8_t *w, uint64_t v) {
  while (v >= 0x80) {
    *w++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *w++ = (uint8_t)v;
  return w;
}

static const uint8_t *get_varint(const uint8_t *q, uint64_t *v) {
  uint64_t x = 0;
  for (unsigned shift = 0;; shift += 7) {
    uint8_t b = *q++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      break;
  }
  *v = x;
  return q;
}

static uint8_t *put(uint8_t *w, const void *p, size_t n) {
  memcpy(w, p, n);
  return w + n;
}

static char *dup_or_null(const char *s, int *rc) {
  if (!s)
    return NULL;
  char *d = tg_strdup(s);
  if (!d)
    *rc = TG_ENOMEM;
  return d;
}

static void family_release(tg_mfamily *f) {
  tg_free((char *)f->name);
  tg_free((char *)f->help);
  tg_free((char *)f->otel_name);
  tg_free((char *)f->unit);
  tg_free((double *)f->bounds);
}

/* Index of f in the snapshot's table, adding a copy the first time. -1 on ENOMEM. */
static long family_index(tg_metric_snapshot *s, const tg_mfamily *f) {
  for (size_t i = 0; i < s->n_families; i++)
    if (s->families[i].origin == f)
      return (long)i;
  if (s->n_families == s->cap_families) {
    size_t cap = s->cap_families ? s->cap_families * 2 : 4;
    snap_family *fs = tg_realloc(s->families, cap * sizeof *fs);
    if (!fs)
      return -1;
    s->families = fs;
    s->cap_families = cap;
  }
  snap_family *sf = &s->families[s->n_families];
  memset(sf, 0, sizeof *sf);
  int rc = TG_OK;
  sf->origin = f;
  sf->f.kind = f->kind;
  sf->f.name = dup_or_null(f->name, &rc);
  sf->f.help = dup_or_null(f->help, &rc);
  sf->f.otel_name = dup_or_null(f->otel_name, &rc);
  sf->f.unit = dup_or_null(f->unit, &rc);
  if (f->n_bounds) {
    double *b = tg_malloc(f->n_bounds * sizeof *b);
    if (b)
      memcpy(b, f->bounds, f->n_bounds * sizeof *b);
    else
      rc = TG_ENOMEM;
    sf->f.bounds = b;
    sf->f.n_bounds = b ? f->n_bounds : 0;
  }
  if (rc) {
    family_release(&sf->f);
    return -1;
  }
  return (long)s->n_families++;
}

static int take_family(void *ctx, const tg_mfamily *f) {
  tg_metric_snapshot *s = ctx;
  long i = family_index(s, f);
  if (i < 0)
    return s->failed = TG_ENOMEM;
  rec_family r = {.kind = REC_FAMILY, .family = (uint32_t)i};
  uint8_t *w = reserve(s, sizeof r);
  if (!w)
    return s->failed = TG_ENOMEM;
  memcpy(w, &r, sizeof r);
  return TG_OK;
}

static uint32_t slen(const char *p) { return p ? (uint32_t)strlen(p) : NO_STRING; }

static int take_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  tg_metric_snapshot *s = ctx;
  long fi = family_index(s, f);
  if (fi < 0)
    return s->failed = TG_ENOMEM;
  size_t n_buckets = f->kind == TG_MKIND_HISTOGRAM && p->buckets ? f->n_bounds + 1 : 0;
  size_t n_ex = !p->exemplars ? 0 : f->kind == TG_MKIND_HISTOGRAM ? f->n_bounds + 1 : 1;
  size_t n_exp = f->kind == TG_MKIND_EXP_HISTOGRAM && p->exp_counts ? p->n_exp_counts : 0;
  rec_point r = {.kind = REC_POINT, .family = (uint32_t)fi, .n_labels = (uint32_t)p->n_labels,
                 .n_buckets = (uint32_t)n_buckets, .n_exp_counts = (uint32_t)n_exp,
                 .n_exemplars = (uint32_t)n_ex, .scale = p->scale, .exp_offset = p->exp_offset,
                 .count = p->count, .start_unix_nano = p->start_unix_nano,
                 .time_unix_nano = p->time_unix_nano, .zero_count = p->zero_count,
                 .sum = p->sum};
  size_t size = sizeof r + n_ex * sizeof(uint64_t) + p->n_labels * sizeof(rec_label);
  for (size_t i = 0; i < n_buckets; i++)
    size += tg_pbwire_varint_size(p->buckets[i]);
  for (size_t i = 0; i < n_exp; i++)
    size += tg_pbwire_varint_size(p->exp_counts[i]);
  for (size_t i = 0; i < n_ex; i++)
    size += p->exemplars[i] ? sizeof(tg_mexemplar) : 0;
  for (size_t i = 0; i < p->n_labels; i++) {
    const tg_mlabel *l = &p->labels[i];
    const char *str[3] = {l->name, l->value, l->otel_name};
    for (int k = 0; k < 3; k++)
      size += str[k] ? strlen(str[k]) + 1 : 0;
  }
  uint8_t *w = reserve(s, pad8(size)), *start = w;
  if (!w)
    return s->failed = TG_ENOMEM;
  w = put(w, &r, sizeof r);
  for (size_t i = 0; i < n_ex; i++) {
    uint64_t present = p->exemplars[i] != NULL;
    w = put(w, &present, sizeof present);
    if (present)
      w = put(w, p->exemplars[i], sizeof *p->exemplars[i]);
  }
  for (size_t i = 0; i < p->n_labels; i++) {
    const tg_mlabel *l = &p->labels[i];
    rec_label rl = {.where = l->where, .name_len = slen(l->name), .value_len = slen(l->value),
                    .otel_len = slen(l->otel_name)};
    w = put(w, &rl, sizeof rl);
  }
  for (size_t i = 0; i < p->n_labels; i++) {
    const tg_mlabel *l = &p->labels[i];
    const char *str[3] = {l->name, l->value, l->otel_name};
    for (int k = 0; k < 3; k++)
      if (str[k])
        w = put(w, str[k], strlen(str[k]) + 1);
  }
  for (size_t i = 0; i < n_buckets; i++)
    w = put_varint(w, p->buckets[i]);
  for (size_t i = 0; i < n_exp; i++)
    w = put_varint(w, p->exp_counts[i]);
  memset(w, 0, pad8(size) - (size_t)(w - start));
  s->points++;
  return TG_OK;
}

/* ---- replaying ---- */

typedef struct replay_scratch {
  tg_mlabel *labels;
  size_t cap_labels;
  const tg_mexemplar **exemplars;
  size_t cap_exemplars;
  uint64_t *counts; /* buckets, then exponential buckets, decoded */
  size_t cap_counts;
} replay_scratch;

static int scratch_fit(replay_scratch *sc, size_t n_labels, size_t n_ex, size_t n_counts) {
  if (n_counts > sc->cap_counts) {
    uint64_t *c = tg_realloc(sc->counts, n_counts * sizeof *c);
    if (!c)
      return TG_ENOMEM;
    sc->counts = c;
    sc->cap_counts = n_counts;
  }
  if (n_labels > sc->cap_labels) {
    tg_mlabel *l = tg_realloc(sc->labels, n_labels * sizeof *l);
    if (!l)
      return TG_ENOMEM;
    sc->labels = l;
    sc->cap_labels = n_labels;
  }
  if (n_ex > sc->cap_exemplars) {
    const tg_mexemplar **e = tg_realloc(sc->exemplars, n_ex * sizeof *e);
    if (!e)
      return TG_ENOMEM;
    sc->exemplars = e;
    sc->cap_exemplars = n_ex;
  }
  return TG_OK;
}

static const char *take_string(const uint8_t **at, uint32_t len) {
  if (len == NO_STRING)
    return NULL;
  const char *str = (const char *)*at;
  *at += (size_t)len + 1;
  return str;
}

/* Rebuilds the point at *at into *p (pointers into the stream and sc); advances *at. */
static int replay_point(const uint8_t **at, const rec_point *r, replay_scratch *sc,
                        tg_mpoint *p) {
  if (scratch_fit(sc, r->n_labels, r->n_exemplars, (size_t)r->n_buckets + r->n_exp_counts))
    return TG_ENOMEM;
  const uint8_t *q = *at + sizeof *r;
  memset(p, 0, sizeof *p);
  p->count = r->count;
  p->sum = r->sum;
  p->start_unix_nano = r->start_unix_nano;
  p->time_unix_nano = r->time_unix_nano;
  p->scale = r->scale;
  p->exp_offset = r->exp_offset;
  p->zero_count = r->zero_count;
  for (size_t i = 0; i < r->n_exemplars; i++) {
    uint64_t present;
    memcpy(&present, q, sizeof present);
    q += sizeof present;
    sc->exemplars[i] = present ? (const tg_mexemplar *)(const void *)q : NULL;
    if (present)
      q += sizeof(tg_mexemplar);
  }
  p->exemplars = r->n_exemplars ? sc->exemplars : NULL;
  const rec_label *rl = (const rec_label *)(const void *)q;
  q += r->n_labels * sizeof *rl;
  for (size_t i = 0; i < r->n_labels; i++) {
    tg_mlabel *l = &sc->labels[i];
    l->where = rl[i].where;
    l->name = take_string(&q, rl[i].name_len);
    l->value = take_string(&q, rl[i].value_len);
    l->otel_name = take_string(&q, rl[i].otel_len);
  }
  for (size_t i = 0; i < (size_t)r->n_buckets + r->n_exp_counts; i++)
    q = get_varint(q, &sc->counts[i]);
  if (r->n_buckets)
    p->buckets = sc->counts;
  if (r->n_exp_counts) {
    p->exp_counts = sc->counts + r->n_buckets;
    p->n_exp_counts = r->n_exp_counts;
  }
  p->labels = r->n_labels ? sc->labels : NULL;
  p->n_labels = r->n_labels;
  size_t used = (size_t)(q - *at);
  *at += (used + 7) & ~(size_t)7;
  return TG_OK;
}

static int replay(const tg_metric_source *src, const tg_metric_visitor *v) {
  const tg_metric_snapshot *s = src->ctx;
  replay_scratch sc = {0};
  int rc = TG_OK;
  for (const chunk *c = s->head; !rc && c; c = c->next) {
    const uint8_t *at = c->data, *end = at + c->len;
    while (!rc && at < end) {
      uint32_t kind, fam;
      memcpy(&kind, at, sizeof kind);
      memcpy(&fam, at + sizeof kind, sizeof fam);
      const tg_mfamily *f = &s->families[fam].f;
      if (kind == REC_FAMILY) {
        rc = v->family(v->ctx, f);
        at += sizeof(rec_family);
        continue;
      }
      rec_point r;
      memcpy(&r, at, sizeof r);
      tg_mpoint p;
      rc = replay_point(&at, &r, &sc, &p);
      if (!rc)
        rc = v->point(v->ctx, f, &p);
    }
  }
  tg_free(sc.labels);
  tg_free(sc.exemplars);
  tg_free(sc.counts);
  return rc;
}

/* ---- lifecycle ---- */

int tg_metric_snapshot_take(const tg_metric_source *src, tg_metric_snapshot **out) {
  *out = NULL;
  tg_metric_snapshot *s = tg_calloc(1, sizeof *s);
  if (!s)
    return TG_ENOMEM;
  s->src = (tg_metric_source){.name = src->name, .flush_interval_ms = src->flush_interval_ms,
                              .delta = src->delta, .exponential = src->exponential,
                              .collect = replay, .ctx = s};
  tg_metric_visitor v = {.family = take_family, .point = take_point, .ctx = s};
  int rc = src->collect(src, &v);
  if (s->failed)
    rc = s->failed;
  if (rc) {
    tg_metric_snapshot_free(s);
    return rc;
  }
  for (size_t i = 0; i < s->n_families; i++)
    s->families[i].origin = NULL;
  *out = s;
  return TG_OK;
}

const tg_metric_source *tg_metric_snapshot_source(const tg_metric_snapshot *s) {
  return &s->src;
}

size_t tg_metric_snapshot_points(const tg_metric_snapshot *s) { return s->points; }

size_t tg_metric_snapshot_bytes(const tg_metric_snapshot *s) {
  return sizeof *s + s->bytes + s->cap_families * sizeof *s->families;
}

void tg_metric_snapshot_free(tg_metric_snapshot *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_families; i++)
    family_release(&s->families[i].f);
  tg_free(s->families);
  for (chunk *c = s->head, *next; c; c = next) {
    next = c->next;
    tg_free(c);
  }
  tg_free(s);
}
