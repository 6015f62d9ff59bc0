/* Fixtures for the spanmetrics tests: batches of spans described by a small spec, and a
 * visitor that records what a metric source reports. */
#ifndef TG_SM_TEST_UTIL_H
#define TG_SM_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "tg_batch.h"
#include "tg_metric_source.h"

typedef struct span_spec {
  const char *service;
  const char *name;
  int kind;
  int status;
  uint64_t duration_ns;
  uint8_t trace_byte; /* trace id = 15 zero bytes + this (0 = no trace id) */
  const char *attr_key, *attr_value; /* one optional span attribute */
} span_spec;

static tg_key_value *sm_kv(tg_arena *a, const char *key, const char *value) {
  tg_key_value *kv = tg_arena_alloc(a, sizeof *kv);
  opentelemetry__proto__common__v1__key_value__init(kv);
  tg_any_value *av = tg_arena_alloc(a, sizeof *av);
  opentelemetry__proto__common__v1__any_value__init(av);
  av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  av->string_value = tg_arena_strndup(a, value, strlen(value));
  kv->key = tg_arena_strndup(a, key, strlen(key));
  kv->value = av;
  return kv;
}

/* One resource_spans per span (simple, and exercises the per-resource lookup). */
static inline tg_batch *sm_batch(const span_spec *specs, size_t n) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  b->request.resource_spans = tg_arena_alloc(a, n * sizeof(void *));
  for (size_t i = 0; i < n; i++) {
    const span_spec *sp = &specs[i];
    tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    tg_resource *res = tg_arena_alloc(a, sizeof *res);
    opentelemetry__proto__resource__v1__resource__init(res);
    res->attributes = tg_arena_alloc(a, sizeof(void *));
    res->attributes[0] = sm_kv(a, "service.name", sp->service);
    res->n_attributes = 1;
    rs->resource = res;
    tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    tg_span *span = tg_arena_alloc(a, sizeof *span);
    opentelemetry__proto__trace__v1__span__init(span);
    span->name = tg_arena_strndup(a, sp->name, strlen(sp->name));
    span->kind = sp->kind;
    if (sp->status) {
      span->status = tg_arena_alloc(a, sizeof *span->status);
      opentelemetry__proto__trace__v1__status__init(span->status);
      span->status->code = sp->status;
    }
    span->start_time_unix_nano = 1700000000000000000ull;
    span->end_time_unix_nano = span->start_time_unix_nano + sp->duration_ns;
    if (sp->trace_byte) {
      uint8_t *tid = tg_arena_calloc(a, 1, 16);
      tid[15] = sp->trace_byte;
      span->trace_id.data = tid;
      span->trace_id.len = 16;
      uint8_t *sid = tg_arena_calloc(a, 1, 8);
      sid[7] = sp->trace_byte;
      span->span_id.data = sid;
      span->span_id.len = 8;
    }
    if (sp->attr_key) {
      span->attributes = tg_arena_alloc(a, sizeof(void *));
      span->attributes[0] = sm_kv(a, sp->attr_key, sp->attr_value);
      span->n_attributes = 1;
    }
    ss->spans = tg_arena_alloc(a, sizeof(void *));
    ss->spans[0] = span;
    ss->n_spans = 1;
    rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    b->request.resource_spans[i] = rs;
  }
  b->request.n_resource_spans = n;
  b->span_count = n;
  return b;
}

#define REC_MAX 64
typedef struct rec_point {
  char family[128];
  int histogram;
  char labels[512];
  uint64_t count;
  double sum;
  uint64_t buckets[20];
  int exemplar_bucket; /* -1 none; histogram: first bucket with an exemplar */
  uint8_t exemplar_trace_byte;
} rec_point;

typedef struct recorder {
  rec_point p[REC_MAX];
  size_t n;
  size_t families;
} recorder;

static int rec_family(void *ctx, const tg_mfamily *f) {
  (void)f;
  ((recorder *)ctx)->families++;
  return 0;
}

static int rec_point_fn(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  recorder *r = ctx;
  if (r->n == REC_MAX)
    return 1;
  rec_point *o = &r->p[r->n++];
  memset(o, 0, sizeof *o);
  snprintf(o->family, sizeof o->family, "%s", f->name);
  o->histogram = f->kind == TG_MKIND_HISTOGRAM;
  snprintf(o->labels, sizeof o->labels, "%s", p->label_text);
  o->count = p->count;
  o->sum = p->sum;
  o->exemplar_bucket = -1;
  size_t nb = o->histogram ? f->n_bounds + 1 : 1;
  for (size_t i = 0; o->histogram && i < nb && i < 20; i++)
    o->buckets[i] = p->buckets[i];
  for (size_t i = 0; p->exemplars && i < nb; i++)
    if (p->exemplars[i]) {
      o->exemplar_bucket = (int)i;
      o->exemplar_trace_byte = p->exemplars[i]->trace_id[15];
      break;
    }
  return 0;
}

static inline const rec_point *rec_find(const recorder *r, const char *family,
                                        const char *labels) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->p[i].family, family) && !strcmp(r->p[i].labels, labels))
      return &r->p[i];
  return NULL;
}

#endif
