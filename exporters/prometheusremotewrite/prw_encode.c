/* Remote-write encoding: protobuf written directly into one growing buffer.
 *
 * Why by hand instead of protobuf-c: a push of 10k histogram series is ~190k TimeSeries
 * messages; building protobuf-c structs for them would allocate per label and pack in a
 * second pass. Sizes of nested messages are computed first (they are small and
 * fixed-shape), then bytes are appended once. The test decodes the output with code
 * generated from remote_write.proto, so the schema stays the reference.
 *
 * Bucket `le` values use the OpenMetrics canonical form ("2.0", "+Inf"): the form a
 * Prometheus that scraped tailgate over OpenMetrics stores, so pushed and scraped series
 * are the same series. */
#include "prw_encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_pbwire.h"

#define MAX_LABELS 80
#define MAX_BOUNDS 256

typedef struct enc_ctx {
  const tg_prw_opts *opts;
  tg_buf req;
  size_t n_series;
  char name[256];
  char le[MAX_BOUNDS + 1][32];
  size_t n_le;
} enc_ctx;

static int put_varint(tg_buf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  while (v >= 0x80) {
    tmp[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  tmp[n++] = (uint8_t)v;
  return tg_buf_append(b, tmp, n);
}

static size_t label_size(const tg_mlabel *l) {
  size_t a = strlen(l->name), b = strlen(l->value);
  return 1 + tg_pbwire_varint_size(a) + a + 1 + tg_pbwire_varint_size(b) + b;
}

static int put_string_field(tg_buf *b, uint8_t tag, const char *s) {
  size_t n = strlen(s);
  int rc = tg_buf_append(b, &tag, 1);
  if (!rc)
    rc = put_varint(b, n);
  return rc ? rc : tg_buf_append(b, s, n);
}

static int cmp_label(const void *a, const void *b) {
  return strcmp(((const tg_mlabel *)a)->name, ((const tg_mlabel *)b)->name);
}

static int flush(enc_ctx *c) {
  if (!c->n_series)
    return TG_OK;
  int rc = c->opts->emit(c->opts->ctx, c->req.data, c->req.len, c->n_series);
  c->req.len = 0;
  c->n_series = 0;
  return rc;
}

/* One TimeSeries (labels already sorted) with one sample. */
static int put_series(enc_ctx *c, const tg_mlabel *labels, size_t n, double value) {
  size_t ts_size = 0;
  for (size_t i = 0; i < n; i++) {
    size_t ls = label_size(&labels[i]);
    ts_size += 1 + tg_pbwire_varint_size(ls) + ls;
  }
  uint64_t ts = (uint64_t)c->opts->timestamp_ms;
  size_t sample_size = 1 + 8 + 1 + tg_pbwire_varint_size(ts);
  ts_size += 1 + tg_pbwire_varint_size(sample_size) + sample_size;
  tg_buf *b = &c->req;
  int rc = tg_buf_append(b, "\x0a", 1);
  if (!rc)
    rc = put_varint(b, ts_size);
  for (size_t i = 0; !rc && i < n; i++) {
    rc = tg_buf_append(b, "\x0a", 1);
    if (!rc)
      rc = put_varint(b, label_size(&labels[i]));
    if (!rc)
      rc = put_string_field(b, 0x0a, labels[i].name);
    if (!rc)
      rc = put_string_field(b, 0x12, labels[i].value);
  }
  if (!rc)
    rc = tg_buf_append(b, "\x12", 1);
  if (!rc)
    rc = put_varint(b, sample_size);
  if (!rc) {
    uint8_t d[9] = {0x09};
    uint64_t bits;
    memcpy(&bits, &value, 8);
    for (int i = 0; i < 8; i++)
      d[1 + i] = (uint8_t)(bits >> (8 * i));
    rc = tg_buf_append(b, d, 9);
  }
  if (!rc)
    rc = tg_buf_append(b, "\x10", 1);
  if (!rc)
    rc = put_varint(b, ts);
  if (rc)
    return rc;
  c->n_series++;
  return c->req.len >= c->opts->max_request_bytes ? flush(c) : TG_OK;
}

static void format_le(char *buf, size_t size, double v) {
  if (isinf(v)) {
    snprintf(buf, size, "+Inf");
    return;
  }
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (!strpbrk(buf, ".eE") && n + 2 < (int)size)
    snprintf(buf + n, size - (size_t)n, ".0");
}

static int on_family(void *ctx, const tg_mfamily *f) {
  enc_ctx *c = ctx;
  c->n_le = f->n_bounds < MAX_BOUNDS ? f->n_bounds : MAX_BOUNDS;
  for (size_t i = 0; i < c->n_le; i++)
    format_le(c->le[i], sizeof c->le[i], f->bounds[i]);
  snprintf(c->le[c->n_le], sizeof c->le[c->n_le], "+Inf");
  return TG_OK;
}

/* Sorted labels of a point with __name__ (value set later) and, for buckets, le. Returns
 * the count; *name_at and *le_at say where those two landed. */
static size_t build_labels(enc_ctx *c, const tg_mpoint *p, int with_le, tg_mlabel *out,
                           size_t *name_at, size_t *le_at) {
  size_t n = 0;
  out[n++] = (tg_mlabel){.name = "__name__", .value = c->name};
  for (size_t i = 0; i < p->n_labels && n < MAX_LABELS - 2; i++)
    out[n++] = p->labels[i];
  for (size_t i = 0; i < c->opts->n_external && n < MAX_LABELS - 2; i++) {
    int dup = 0;
    for (size_t k = 0; k < p->n_labels && !dup; k++)
      dup = !strcmp(p->labels[k].name, c->opts->external_labels[i].name);
    if (!dup)
      out[n++] = c->opts->external_labels[i];
  }
  if (with_le)
    out[n++] = (tg_mlabel){.name = "le", .value = ""};
  qsort(out, n, sizeof *out, cmp_label);
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(out[i].name, "__name__"))
      *name_at = i;
    else if (with_le && !strcmp(out[i].name, "le"))
      *le_at = i;
  }
  return n;
}

static void set_name(enc_ctx *c, const tg_mfamily *f, const char *suffix) {
  snprintf(c->name, sizeof c->name, "%s%s%s", c->opts->name_prefix ? c->opts->name_prefix : "",
           f->name, suffix);
}

static int on_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  enc_ctx *c = ctx;
  tg_mlabel labels[MAX_LABELS];
  size_t name_at = 0, le_at = 0;
  if (f->kind == TG_MKIND_COUNTER) {
    set_name(c, f, "_total");
    size_t n = build_labels(c, p, 0, labels, &name_at, &le_at);
    return put_series(c, labels, n, (double)p->count);
  }
  set_name(c, f, "_bucket");
  size_t n = build_labels(c, p, 1, labels, &name_at, &le_at);
  uint64_t cum = 0;
  int rc = TG_OK;
  for (size_t i = 0; !rc && i <= c->n_le; i++) {
    if (i < c->n_le)
      cum += p->buckets[i];
    else
      for (size_t k = c->n_le; k <= f->n_bounds; k++)
        cum += p->buckets[k];
    labels[le_at].value = c->le[i];
    rc = put_series(c, labels, n, (double)cum);
  }
  /* _sum and _count: same labels without le (re-sorted without it) */
  set_name(c, f, "_sum");
  n = build_labels(c, p, 0, labels, &name_at, &le_at);
  if (!rc)
    rc = put_series(c, labels, n, p->sum);
  set_name(c, f, "_count");
  if (!rc)
    rc = put_series(c, labels, n, (double)p->count);
  return rc;
}

int tg_prw_encode(const tg_metric_source *const *sources, size_t n_sources,
                  const tg_prw_opts *opts) {
  enc_ctx *c = tg_calloc(1, sizeof *c);
  if (!c)
    return TG_ENOMEM;
  c->opts = opts;
  tg_buf_init(&c->req, 0);
  tg_metric_visitor v = {on_family, on_point, c};
  int rc = TG_OK;
  for (size_t i = 0; !rc && i < n_sources; i++)
    rc = sources[i]->collect(sources[i], &v);
  if (!rc)
    rc = flush(c);
  tg_buf_free(&c->req);
  tg_free(c);
  return rc;
}
