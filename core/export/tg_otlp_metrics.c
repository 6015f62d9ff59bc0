/* OTLP metrics encoding and the metrics side of the otlp / otlphttp exporters.
 *
 * Encoding writes the protobuf wire format directly (tags, varints, fixed64, nested
 * lengths) instead of filling protobuf-c structs: a flush visits every series once, and a
 * series becomes one data point appended to its resource's buffer for its family, with no
 * allocation per point once the buffers have grown. proto/metrics.proto is the schema
 * this writes (its unit test decodes the output with protobuf-c from that file, the
 * interop test with the official schema).
 *
 * Grouping: a data point joins the ResourceMetrics of its resource labels (service.name
 * and resource_metrics_key_attributes), found by hash; families are at most
 * MAX_FAMILIES, so each resource keeps one buffer per family. Assembly then nests the
 * buffers (Metric in ScopeMetrics in ResourceMetrics) and cuts a request between
 * resources once it passed the byte limit.
 *
 * Exporter side: a metrics pipeline announces its source once; the exporter subscribes
 * to the producer's flushes (tg_metric_source.subscribe) and, on each, takes a snapshot
 * of the source on the loop thread (tg_metric_snapshot.h: a flat copy, a few ms for 10k
 * series, where encoding them took ~100 ms and stalled every listener) and pushes it to
 * its sending queue as one deferred metrics item; the sender thread that takes it
 * encodes the snapshot here and sends the requests it cuts one after the other, so they
 * share the queue, the retry policy and the sender threads with traces. Delta state is
 * unaffected: the producer closed the interval before calling us and the snapshot copies
 * the closed interval. A full queue drops that interval (counted as enqueue failures by
 * the queue, logged): a flush cannot wait. */
#include "tg_otlp_metrics.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_batch.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_log.h"
#include "tg_metric_snapshot.h"
#include "tg_pbwire.h"
#include "tg_service.h"

#define MAX_FAMILIES 4
#define SCOPE_NAME "tailgate.spanmetrics"

/* ---- wire writing ---- */

static int put_varint(tg_buf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v)
      tmp[n] |= 0x80;
    n++;
  } while (v);
  return tg_buf_append(b, tmp, n);
}

static int put_tag(tg_buf *b, uint32_t field, int wire) {
  return put_varint(b, ((uint64_t)field << 3) | (unsigned)wire);
}

static int put_fixed64(tg_buf *b, uint32_t field, uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; i++)
    le[i] = (uint8_t)(v >> (8 * i));
  int rc = put_tag(b, field, 1);
  return rc ? rc : tg_buf_append(b, le, 8);
}

static int put_double(tg_buf *b, uint32_t field, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  return put_fixed64(b, field, v);
}

static int put_bytes(tg_buf *b, uint32_t field, const void *p, size_t n) {
  int rc = put_tag(b, field, 2);
  if (!rc)
    rc = put_varint(b, n);
  return rc ? rc : tg_buf_append(b, p, n);
}

static int put_string(tg_buf *b, uint32_t field, const char *s) {
  return put_bytes(b, field, s, strlen(s));
}

static uint64_t zigzag32(int32_t v) {
  return (uint64_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

/* KeyValue{key, AnyValue{string_value}} as field `field` of the enclosing message. */
static int put_attr(tg_buf *b, tg_buf *tmp, uint32_t field, const char *key, const char *value) {
  tmp->len = 0;
  size_t vl = strlen(value);
  int rc = put_string(tmp, 1, key);
  if (!rc)
    rc = put_tag(tmp, 2, 2);
  if (!rc)
    rc = put_varint(tmp, 1 + tg_pbwire_varint_size(vl) + vl); /* the AnyValue's length */
  if (!rc)
    rc = put_string(tmp, 1, value);
  return rc ? rc : put_bytes(b, field, tmp->data, tmp->len);
}

/* ---- grouping by resource ---- */

typedef struct res_group {
  uint64_t hash;
  char *key;
  size_t key_len;
  tg_buf resource;              /* Resource message body */
  tg_buf points[MAX_FAMILIES];  /* data_points fields, ready to nest */
  size_t n_points;
} res_group;

typedef struct enc_ctx {
  const tg_metric_source *src;
  uint64_t now;
  const tg_mfamily *families[MAX_FAMILIES];
  size_t n_families;
  size_t cur; /* index of the family being visited */
  res_group **groups;
  size_t n_groups, cap_groups;
  size_t *index; /* open addressing over groups: position + 1, 0 = empty */
  size_t index_cap;
  tg_buf key, point, tmp, tmp2;
} enc_ctx;

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

static const char *otel_label_name(const tg_mlabel *l) { return l->otel_name ? l->otel_name : l->name; }

static int index_grow(enc_ctx *c) {
  size_t cap = c->index_cap ? c->index_cap * 2 : 64;
  size_t *idx = tg_calloc(cap, sizeof *idx);
  if (!idx)
    return TG_ENOMEM;
  for (size_t g = 0; g < c->n_groups; g++) {
    size_t j = c->groups[g]->hash & (cap - 1);
    while (idx[j])
      j = (j + 1) & (cap - 1);
    idx[j] = g + 1;
  }
  tg_free(c->index);
  c->index = idx;
  c->index_cap = cap;
  return TG_OK;
}

static res_group *group_of(enc_ctx *c, const tg_mpoint *p) {
  c->key.len = 0;
  for (size_t i = 0; i < p->n_labels; i++) {
    const tg_mlabel *l = &p->labels[i];
    if (l->where != TG_MLABEL_RESOURCE && l->where != TG_MLABEL_BOTH)
      continue;
    if (tg_buf_append(&c->key, otel_label_name(l), strlen(otel_label_name(l)) + 1) ||
        tg_buf_append(&c->key, l->value, strlen(l->value) + 1))
      return NULL;
  }
  const char *key = c->key.len ? (const char *)c->key.data : "";
  uint64_t h = hash_bytes(key, c->key.len);
  if ((c->n_groups + 1) * 2 > c->index_cap && index_grow(c))
    return NULL;
  size_t j = h & (c->index_cap - 1);
  for (; c->index[j]; j = (j + 1) & (c->index_cap - 1)) {
    res_group *g = c->groups[c->index[j] - 1];
    if (g->hash == h && g->key_len == c->key.len && !memcmp(g->key, key, c->key.len))
      return g;
  }
  if (c->n_groups == c->cap_groups) {
    size_t cap = c->cap_groups ? c->cap_groups * 2 : 16;
    res_group **gs = tg_realloc(c->groups, cap * sizeof *gs);
    if (!gs)
      return NULL;
    c->groups = gs;
    c->cap_groups = cap;
  }
  res_group *g = tg_calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->hash = h;
  g->key_len = c->key.len;
  g->key = tg_malloc(c->key.len + 1);
  tg_buf_init(&g->resource, 0);
  for (size_t f = 0; f < MAX_FAMILIES; f++)
    tg_buf_init(&g->points[f], 0);
  int rc = g->key ? TG_OK : TG_ENOMEM;
  if (!rc)
    memcpy(g->key, key, c->key.len + 1);
  for (size_t i = 0; !rc && i < p->n_labels; i++) {
    const tg_mlabel *l = &p->labels[i];
    if (l->where == TG_MLABEL_RESOURCE || l->where == TG_MLABEL_BOTH)
      rc = put_attr(&g->resource, &c->tmp, 1, otel_label_name(l), l->value);
  }
  c->groups[c->n_groups++] = g;
  c->index[j] = c->n_groups;
  return rc ? NULL : g;
}

static void group_free(res_group *g) {
  if (!g)
    return;
  tg_free(g->key);
  tg_buf_free(&g->resource);
  for (size_t f = 0; f < MAX_FAMILIES; f++)
    tg_buf_free(&g->points[f]);
  tg_free(g);
}

/* ---- data points ---- */

static int put_exemplar(tg_buf *b, tg_buf *tmp, uint32_t field, const tg_mexemplar *e) {
  tmp->len = 0;
  int rc = put_fixed64(tmp, 2, e->time_unix_nano);
  if (!rc)
    rc = put_double(tmp, 3, e->value);
  if (!rc)
    rc = put_bytes(tmp, 4, e->span_id, 8);
  if (!rc)
    rc = put_bytes(tmp, 5, e->trace_id, 16);
  return rc ? rc : put_bytes(b, field, tmp->data, tmp->len);
}

static int put_point_attrs(enc_ctx *c, tg_buf *b, uint32_t field, const tg_mpoint *p) {
  int rc = TG_OK;
  for (size_t i = 0; !rc && i < p->n_labels; i++)
    if (p->labels[i].where != TG_MLABEL_RESOURCE)
      rc = put_attr(b, &c->tmp, field, otel_label_name(&p->labels[i]), p->labels[i].value);
  return rc;
}

static int encode_point(enc_ctx *c, const tg_mfamily *f, const tg_mpoint *p, tg_buf *b) {
  uint64_t time = p->time_unix_nano ? p->time_unix_nano : c->now;
  uint64_t start = p->start_unix_nano && p->start_unix_nano <= time ? p->start_unix_nano : time;
  int rc = TG_OK;
  switch (f->kind) {
  case TG_MKIND_COUNTER: /* NumberDataPoint */
    rc = put_point_attrs(c, b, 7, p);
    if (!rc)
      rc = put_fixed64(b, 2, start);
    if (!rc)
      rc = put_fixed64(b, 3, time);
    if (!rc)
      rc = put_fixed64(b, 6, p->count); /* as_int (sfixed64) */
    if (!rc && p->exemplars && p->exemplars[0])
      rc = put_exemplar(b, &c->tmp2, 5, p->exemplars[0]);
    return rc;
  case TG_MKIND_HISTOGRAM: /* HistogramDataPoint */
    rc = put_point_attrs(c, b, 9, p);
    if (!rc)
      rc = put_fixed64(b, 2, start);
    if (!rc)
      rc = put_fixed64(b, 3, time);
    if (!rc)
      rc = put_fixed64(b, 4, p->count);
    if (!rc)
      rc = put_double(b, 5, p->sum);
    if (!rc) { /* bucket_counts: packed fixed64 */
      rc = put_tag(b, 6, 2);
      if (!rc)
        rc = put_varint(b, (f->n_bounds + 1) * 8);
      for (size_t i = 0; !rc && i <= f->n_bounds; i++) {
        uint64_t v = p->buckets ? p->buckets[i] : 0;
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
          le[k] = (uint8_t)(v >> (8 * k));
        rc = tg_buf_append(b, le, 8);
      }
    }
    if (!rc && f->n_bounds) { /* explicit_bounds: packed double */
      rc = put_tag(b, 7, 2);
      if (!rc)
        rc = put_varint(b, f->n_bounds * 8);
      for (size_t i = 0; !rc && i < f->n_bounds; i++)
        rc = tg_buf_append(b, &f->bounds[i], 8); /* little-endian hosts (x86-64, arm64) */
    }
    for (size_t i = 0; !rc && p->exemplars && i <= f->n_bounds; i++)
      if (p->exemplars[i])
        rc = put_exemplar(b, &c->tmp2, 8, p->exemplars[i]);
    return rc;
  case TG_MKIND_EXP_HISTOGRAM: /* ExponentialHistogramDataPoint */
    rc = put_point_attrs(c, b, 1, p);
    if (!rc)
      rc = put_fixed64(b, 2, start);
    if (!rc)
      rc = put_fixed64(b, 3, time);
    if (!rc)
      rc = put_fixed64(b, 4, p->count);
    if (!rc)
      rc = put_double(b, 5, p->sum);
    if (!rc)
      rc = put_tag(b, 6, 0);
    if (!rc)
      rc = put_varint(b, zigzag32(p->scale));
    if (!rc)
      rc = put_fixed64(b, 7, p->zero_count);
    if (!rc && p->n_exp_counts) { /* positive: Buckets{offset, packed uint64 counts} */
      c->tmp.len = 0;
      rc = put_tag(&c->tmp, 1, 0);
      if (!rc)
        rc = put_varint(&c->tmp, zigzag32(p->exp_offset));
      c->tmp2.len = 0;
      for (size_t i = 0; !rc && i < p->n_exp_counts; i++)
        rc = put_varint(&c->tmp2, p->exp_counts[i]);
      if (!rc)
        rc = put_bytes(&c->tmp, 2, c->tmp2.data, c->tmp2.len);
      if (!rc)
        rc = put_bytes(b, 8, c->tmp.data, c->tmp.len);
    }
    if (!rc && p->exemplars && p->exemplars[0])
      rc = put_exemplar(b, &c->tmp2, 11, p->exemplars[0]);
    return rc;
  }
  return TG_EINVAL;
}

static int on_family(void *ctx, const tg_mfamily *f) {
  enc_ctx *c = ctx;
  for (size_t i = 0; i < c->n_families; i++)
    if (c->families[i] == f) {
      c->cur = i;
      return 0;
    }
  if (c->n_families == MAX_FAMILIES)
    return TG_ETOOBIG;
  c->families[c->n_families] = f;
  c->cur = c->n_families++;
  return 0;
}

static int on_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  enc_ctx *c = ctx;
  res_group *g = group_of(c, p);
  if (!g)
    return TG_ENOMEM;
  c->point.len = 0;
  int rc = encode_point(c, f, p, &c->point);
  if (!rc)
    rc = put_bytes(&g->points[c->cur], 1, c->point.data, c->point.len); /* data_points */
  g->n_points++;
  return rc;
}

/* ---- assembly ---- */

/* Metric{name, description, unit, data} for family f with the points in pts. */
static int put_metric(enc_ctx *c, tg_buf *out, const tg_mfamily *f, const tg_buf *pts) {
  tg_buf *data = &c->tmp, *m = &c->tmp2;
  data->len = 0;
  m->len = 0;
  int rc = tg_buf_append(data, pts->data, pts->len);
  if (!rc) /* aggregation_temporality: DELTA 1, CUMULATIVE 2 */
    rc = put_tag(data, 2, 0) || put_varint(data, c->src->delta ? 1 : 2) ? TG_ENOMEM : TG_OK;
  if (!rc && f->kind == TG_MKIND_COUNTER) /* is_monotonic */
    rc = put_tag(data, 3, 0) || put_varint(data, 1) ? TG_ENOMEM : TG_OK;
  if (!rc)
    rc = put_string(m, 1, f->otel_name ? f->otel_name : f->name);
  if (!rc && f->help)
    rc = put_string(m, 2, f->help);
  if (!rc && f->unit)
    rc = put_string(m, 3, f->unit);
  if (!rc) {
    uint32_t field = f->kind == TG_MKIND_COUNTER ? 7 : f->kind == TG_MKIND_HISTOGRAM ? 9 : 10;
    rc = put_bytes(m, field, data->data, data->len);
  }
  return rc ? rc : put_bytes(out, 2, m->data, m->len); /* ScopeMetrics.metrics */
}

/* ResourceMetrics of g, as field 1 of the request, into out. */
static int put_resource_metrics(enc_ctx *c, tg_buf *out, const res_group *g) {
  tg_buf scope, rm;
  tg_buf_init(&scope, 0);
  tg_buf_init(&rm, 0);
  int rc = TG_OK;
  {
    uint8_t name_msg[64];
    size_t n = strlen(SCOPE_NAME);
    name_msg[0] = 0x0a; /* InstrumentationScope.name */
    name_msg[1] = (uint8_t)n;
    memcpy(name_msg + 2, SCOPE_NAME, n);
    rc = put_bytes(&scope, 1, name_msg, n + 2);
  }
  for (size_t f = 0; !rc && f < c->n_families; f++)
    if (g->points[f].len)
      rc = put_metric(c, &scope, c->families[f], &g->points[f]);
  if (!rc)
    rc = put_bytes(&rm, 1, g->resource.data ? g->resource.data : (const uint8_t *)"",
                   g->resource.len);
  if (!rc)
    rc = put_bytes(&rm, 2, scope.data, scope.len);
  if (!rc)
    rc = put_bytes(out, 1, rm.data, rm.len);
  tg_buf_free(&scope);
  tg_buf_free(&rm);
  return rc;
}

int tg_otlp_metrics_encode(const tg_metric_source *src, uint64_t now_unix_nano,
                           size_t max_request_bytes, tg_otlp_metrics_emit_fn emit, void *ctx) {
  enc_ctx c = {.src = src, .now = now_unix_nano};
  tg_buf_init(&c.key, 0);
  tg_buf_init(&c.point, 0);
  tg_buf_init(&c.tmp, 0);
  tg_buf_init(&c.tmp2, 0);
  tg_metric_visitor v = {.family = on_family, .point = on_point, .ctx = &c};
  int rc = src->collect(src, &v);
  tg_buf req;
  tg_buf_init(&req, 0);
  size_t points = 0;
  for (size_t g = 0; !rc && g < c.n_groups; g++) {
    rc = put_resource_metrics(&c, &req, c.groups[g]);
    points += c.groups[g]->n_points;
    if (!rc && (g + 1 == c.n_groups || (max_request_bytes && req.len >= max_request_bytes))) {
      size_t len;
      uint8_t *data = tg_buf_steal(&req, &len);
      rc = emit(ctx, data, len, points);
      points = 0;
    }
  }
  tg_buf_free(&req);
  for (size_t g = 0; g < c.n_groups; g++)
    group_free(c.groups[g]);
  tg_free(c.groups);
  tg_free(c.index);
  tg_buf_free(&c.key);
  tg_buf_free(&c.point);
  tg_buf_free(&c.tmp);
  tg_buf_free(&c.tmp2);
  return rc;
}

/* ---- the exporters' consume ---- */

/* gRPC's default largest message is 4 MiB: stay well below it. */
#define MAX_REQUEST_BYTES (3u << 20)

/* A flush waiting in the queue: the snapshot and the time it was taken (points without
 * their own time are stamped with it, as a direct encoding at flush time would). */
typedef struct deferred_flush {
  tg_export_deferred base;
  tg_metric_snapshot *snap;
  uint64_t now_unix_nano;
} deferred_flush;

static int deferred_encode(tg_export_deferred *d, tg_export_emit_fn emit, void *emit_ctx) {
  deferred_flush *df = (deferred_flush *)d;
  return tg_otlp_metrics_encode(tg_metric_snapshot_source(df->snap), df->now_unix_nano,
                                MAX_REQUEST_BYTES, emit, emit_ctx);
}

static void deferred_free(tg_export_deferred *d) {
  deferred_flush *df = (deferred_flush *)d;
  tg_metric_snapshot_free(df->snap);
  tg_free(df);
}

int tg_otlp_metrics_push(tg_export_queue *q, const tg_metric_source *src,
                         uint64_t now_unix_nano, size_t *n_points) {
  *n_points = 0;
  tg_metric_snapshot *snap;
  int rc = tg_metric_snapshot_take(src, &snap);
  if (rc)
    return rc;
  size_t points = tg_metric_snapshot_points(snap);
  if (!points) { /* nothing to report: nothing is sent (as the encoder emits nothing) */
    tg_metric_snapshot_free(snap);
    return TG_OK;
  }
  deferred_flush *df = tg_malloc(sizeof *df);
  if (!df) {
    tg_metric_snapshot_free(snap);
    return TG_ENOMEM;
  }
  *df = (deferred_flush){.base = {.encode = deferred_encode, .free = deferred_free},
                         .snap = snap, .now_unix_nano = now_unix_nano};
  *n_points = points;
  return tg_export_queue_push_deferred_metrics(q, &df->base, tg_metric_snapshot_bytes(snap),
                                               points);
}

static void on_flush(void *ctx, const tg_metric_source *src) {
  tg_instance *self = ctx;
  tg_export_queue *q = self->state ? *(tg_export_queue **)self->state : NULL;
  if (!q)
    return;
  size_t points;
  int rc = tg_otlp_metrics_push(q, src, tg_clock_unix_nano(), &points);
  tg_logger *log = self->service ? self->service->log : NULL;
  if (rc && log && points)
    TG_LOG_WARN(log, self->id, "%zu data points of %s not queued this interval: %s", points,
                src->name, tg_strerror(rc));
  else if (rc && log)
    TG_LOG_WARN(log, self->id, "metrics of %s not exported this interval: %s", src->name,
                tg_strerror(rc));
}

int tg_otlp_exporter_consume(tg_instance *self, tg_batch *batch) {
  const tg_metric_source *src = batch->metrics;
  if (!src)
    return tg_queued_exporter_consume(self, batch);
  tg_batch_free(batch);
  if (!src->subscribe)
    return TG_EINVAL; /* a source that never flushes: nothing would be sent */
  return src->subscribe(src, on_flush, self);
}
