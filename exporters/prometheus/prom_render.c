/* Prometheus text 0.0.4 and OpenMetrics 1.0 rendering.
 *
 * Why hand-rolled number formatting: a scrape of 10k histogram series is ~200k sample
 * lines, nearly all integers; printf would dominate it. Counts go through a small u64
 * formatter; doubles (sums, bounds) use the shortest %.{15,16,17}g that reads back
 * exactly, computed once per family for `le` values.
 *
 * Differences between the formats handled here: OpenMetrics names a counter family
 * without `_total` (samples keep it), prefers canonical floats in `le`, carries exemplars
 * after ` # ` and ends with `# EOF`; the 0.0.4 text format has none of that. */
#include "prom_render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg_alloc.h"
#include "tg_error.h"

#define MAX_BOUNDS 256

typedef struct render_ctx {
  const tg_prom_render_opts *opts;
  tg_buf *out;
  int om;
  /* le values of the current histogram family, rendered once */
  char le[MAX_BOUNDS + 1][32];
  size_t le_len[MAX_BOUNDS + 1];
  size_t n_le;
  char bucket_name[320]; /* prefix + family + "_bucket" */
  size_t bucket_name_len;
  char fname[256]; /* the family's name as rendered (unit suffix cut when asked) */
  char ts[40];     /* " <timestamp>" after each sample, or "" */
  size_t ts_len;
} render_ctx;

/* The family's name without a unit suffix when add_metric_suffixes is off. */
static void family_name(render_ctx *c, const tg_mfamily *f) {
  snprintf(c->fname, sizeof c->fname, "%s", f->name);
  if (!c->opts->no_suffixes || !f->unit)
    return;
  const char *suffix = !strcmp(f->unit, "ms") ? "_milliseconds" : !strcmp(f->unit, "s") ? "_seconds" : NULL;
  size_t n = strlen(c->fname), sl = suffix ? strlen(suffix) : 0;
  if (suffix && n > sl && !strcmp(c->fname + n - sl, suffix))
    c->fname[n - sl] = '\0';
}

static void set_timestamp(render_ctx *c) {
  c->ts_len = 0;
  c->ts[0] = '\0';
  uint64_t ms = c->opts->timestamp_ms;
  if (!ms)
    return;
  int n = c->om ? snprintf(c->ts, sizeof c->ts, " %llu.%03llu", (unsigned long long)(ms / 1000),
                           (unsigned long long)(ms % 1000)) /* OpenMetrics: seconds */
                : snprintf(c->ts, sizeof c->ts, " %llu", (unsigned long long)ms);
  c->ts_len = n > 0 ? (size_t)n : 0;
}

static int put(tg_buf *b, const char *s, size_t n) { return tg_buf_append(b, s, n); }
static int puts_(tg_buf *b, const char *s) { return tg_buf_append(b, s, strlen(s)); }

static int put_u64(tg_buf *b, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return put(b, tmp + i, sizeof tmp - i);
}

static size_t format_double(char *buf, size_t size, double v, int om_canonical) {
  if (isinf(v))
    return (size_t)snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
  if (isnan(v))
    return (size_t)snprintf(buf, size, "NaN");
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (om_canonical && !strpbrk(buf, ".eE") && n + 2 < (int)size) {
    buf[n++] = '.';
    buf[n++] = '0';
    buf[n] = '\0';
  }
  return (size_t)n;
}

int tg_prom_append_double(tg_buf *out, double v, int om_canonical) {
  char buf[40];
  if (!om_canonical && v == floor(v) && fabs(v) < 9007199254740992.0) { /* fast path */
    if (v < 0) {
      if (put(out, "-", 1))
        return TG_ENOMEM;
      v = -v;
    }
    return put_u64(out, (uint64_t)v);
  }
  size_t n = format_double(buf, sizeof buf, v, om_canonical);
  return put(out, buf, n);
}

static int put_hex(tg_buf *b, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char tmp[64];
  for (size_t i = 0; i < n; i++) {
    tmp[2 * i] = digits[p[i] >> 4];
    tmp[2 * i + 1] = digits[p[i] & 15];
  }
  return put(b, tmp, 2 * n);
}

/* `{const,labels[,le="x"]}` or nothing when there are no labels at all. */
/* The series' labels as rendered: without resource-only labels unless asked. */
static const char *label_text(const render_ctx *c, const tg_mpoint *p) {
  return !c->opts->resource_labels && p->label_text_point ? p->label_text_point : p->label_text;
}

static int put_labels(render_ctx *c, const tg_mpoint *p, const char *le) {
  tg_buf *b = c->out;
  const char *k = c->opts->const_labels;
  const char *lt = label_text(c, p);
  int has_k = k && *k, has_l = lt && *lt;
  if (!has_k && !has_l && !le)
    return TG_OK;
  int rc = put(b, "{", 1);
  if (!rc && has_k)
    rc = puts_(b, k);
  if (!rc && has_k && has_l)
    rc = put(b, ",", 1);
  if (!rc && has_l)
    rc = puts_(b, lt);
  if (!rc && le) {
    if (has_k || has_l)
      rc = put(b, ",", 1);
    if (!rc)
      rc = put(b, "le=\"", 4);
    if (!rc)
      rc = puts_(b, le);
    if (!rc)
      rc = put(b, "\"", 1);
  }
  return rc ? rc : put(b, "}", 1);
}

static int put_name(render_ctx *c, const tg_mfamily *f, const char *suffix) {
  int rc = c->opts->name_prefix ? puts_(c->out, c->opts->name_prefix) : TG_OK;
  if (!rc)
    rc = puts_(c->out, c->fname[0] ? c->fname : f->name);
  return rc || !suffix ? rc : puts_(c->out, suffix);
}

/* ` # {trace_id="…",span_id="…"} value timestamp` (OpenMetrics only). */
static int put_exemplar(render_ctx *c, const tg_mexemplar *e) {
  tg_buf *b = c->out;
  int rc = puts_(b, " # {trace_id=\"");
  if (!rc)
    rc = put_hex(b, e->trace_id, 16);
  if (!rc)
    rc = puts_(b, "\",span_id=\"");
  if (!rc)
    rc = put_hex(b, e->span_id, 8);
  if (!rc)
    rc = puts_(b, "\"} ");
  if (!rc)
    rc = tg_prom_append_double(b, e->value, 0);
  if (!rc && e->time_unix_nano) {
    char ts[40];
    int n = snprintf(ts, sizeof ts, " %llu.%03llu",
                     (unsigned long long)(e->time_unix_nano / 1000000000u),
                     (unsigned long long)(e->time_unix_nano / 1000000u % 1000u));
    rc = put(b, ts, (size_t)n);
  }
  return rc;
}

static int on_family(void *ctx, const tg_mfamily *f) {
  render_ctx *c = ctx;
  tg_buf *b = c->out;
  int counter = f->kind == TG_MKIND_COUNTER;
  family_name(c, f);
  set_timestamp(c);
  const char *suffix = counter && !c->om && !c->opts->no_suffixes ? "_total" : NULL;
  int rc = puts_(b, "# HELP ");
  if (!rc)
    rc = put_name(c, f, suffix);
  if (!rc)
    rc = put(b, " ", 1);
  if (!rc)
    rc = puts_(b, f->help ? f->help : "");
  if (!rc)
    rc = puts_(b, "\n# TYPE ");
  if (!rc)
    rc = put_name(c, f, suffix);
  if (!rc)
    rc = puts_(b, counter ? " counter\n" : " histogram\n");
  if (rc || counter)
    return rc;
  c->n_le = f->n_bounds < MAX_BOUNDS ? f->n_bounds : MAX_BOUNDS;
  for (size_t i = 0; i < c->n_le; i++)
    c->le_len[i] = format_double(c->le[i], sizeof c->le[i], f->bounds[i], c->om);
  c->le_len[c->n_le] = (size_t)snprintf(c->le[c->n_le], sizeof c->le[c->n_le], "+Inf");
  int n = snprintf(c->bucket_name, sizeof c->bucket_name, "%s%s_bucket",
                   c->opts->name_prefix ? c->opts->name_prefix : "", c->fname);
  c->bucket_name_len = n > 0 && (size_t)n < sizeof c->bucket_name ? (size_t)n : 0;
  return c->bucket_name_len ? TG_OK : TG_EINVAL;
}

static int on_point(void *ctx, const tg_mfamily *f, const tg_mpoint *p) {
  render_ctx *c = ctx;
  tg_buf *b = c->out;
  int rc;
  if (c->opts->expire_ms && p->updated_mono_ms &&
      c->opts->now_mono_ms > p->updated_mono_ms + c->opts->expire_ms)
    return TG_OK; /* metric_expiration: idle too long */
  if (f->kind == TG_MKIND_COUNTER) {
    rc = put_name(c, f, c->opts->no_suffixes && !c->om ? NULL : "_total");
    if (!rc)
      rc = put_labels(c, p, NULL);
    if (!rc)
      rc = put(b, " ", 1);
    if (!rc)
      rc = put_u64(b, p->count);
    if (!rc && c->ts_len)
      rc = put(b, c->ts, c->ts_len);
    if (!rc && c->om && p->exemplars && p->exemplars[0])
      rc = put_exemplar(c, p->exemplars[0]);
    return rc ? rc : put(b, "\n", 1);
  }
  /* Bucket lines are nearly all of a scrape: written with one reserve each and no
   * per-piece bounds checks (see the design note at the top). */
  const char *k = c->opts->const_labels;
  const char *lt = label_text(c, p);
  size_t kl = k ? strlen(k) : 0, ll = lt ? strlen(lt) : 0;
  uint64_t cum = 0;
  rc = TG_OK;
  for (size_t i = 0; !rc && i <= c->n_le; i++) {
    /* buckets past MAX_BOUNDS fold into +Inf */
    if (i < c->n_le) {
      cum += p->buckets[i];
    } else {
      for (size_t m = c->n_le; m <= f->n_bounds; m++)
        cum += p->buckets[m];
    }
    size_t need = c->bucket_name_len + kl + ll + c->le_len[i] + c->ts_len + 48;
    if ((rc = tg_buf_reserve(b, need)))
      break;
    char *w = (char *)b->data + b->len;
    memcpy(w, c->bucket_name, c->bucket_name_len);
    w += c->bucket_name_len;
    *w++ = '{';
    if (kl) {
      memcpy(w, k, kl);
      w += kl;
      *w++ = ',';
    }
    if (ll) {
      memcpy(w, lt, ll);
      w += ll;
      *w++ = ',';
    }
    memcpy(w, "le=\"", 4);
    w += 4;
    memcpy(w, c->le[i], c->le_len[i]);
    w += c->le_len[i];
    memcpy(w, "\"} ", 3);
    w += 3;
    char tmp[24];
    size_t t = sizeof tmp;
    uint64_t v = cum;
    do {
      tmp[--t] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    memcpy(w, tmp + t, sizeof tmp - t);
    w += sizeof tmp - t;
    memcpy(w, c->ts, c->ts_len);
    w += c->ts_len;
    b->len = (size_t)(w - (char *)b->data);
    if (c->om && p->exemplars && p->exemplars[i])
      rc = put_exemplar(c, p->exemplars[i]);
    if (!rc)
      rc = put(b, "\n", 1);
  }
  if (!rc)
    rc = put_name(c, f, "_sum");
  if (!rc)
    rc = put_labels(c, p, NULL);
  if (!rc)
    rc = put(b, " ", 1);
  if (!rc)
    rc = tg_prom_append_double(b, p->sum, 0);
  if (!rc && c->ts_len)
    rc = put(b, c->ts, c->ts_len);
  if (!rc)
    rc = put(b, "\n", 1);
  if (!rc)
    rc = put_name(c, f, "_count");
  if (!rc)
    rc = put_labels(c, p, NULL);
  if (!rc)
    rc = put(b, " ", 1);
  if (!rc)
    rc = put_u64(b, p->count);
  if (!rc && c->ts_len)
    rc = put(b, c->ts, c->ts_len);
  return rc ? rc : put(b, "\n", 1);
}

int tg_prom_render(const tg_metric_source *const *sources, size_t n_sources,
                   const tg_prom_render_opts *opts, tg_buf *out) {
  render_ctx *c = tg_calloc(1, sizeof *c); /* ~8 KiB of le strings: keep it off the stack */
  if (!c)
    return TG_ENOMEM;
  c->opts = opts;
  c->out = out;
  c->om = opts->format == TG_PROM_OPENMETRICS;
  tg_metric_visitor v = {on_family, on_point, c};
  int rc = TG_OK;
  for (size_t i = 0; !rc && i < n_sources; i++)
    rc = sources[i]->collect(sources[i], &v);
  if (!rc && c->om)
    rc = puts_(out, "# EOF\n");
  tg_free(c);
  return rc;
}

/* ---- the same rendering in slices ---- */

struct tg_prom_stream {
  render_ctx *c;
  const tg_metric_source **sources;
  size_t n_sources;
  size_t i;     /* current source */
  void *cursor; /* of sources[i] when it has one and its visit began */
  int eof_done; /* "# EOF" written (or not needed) */
};

tg_prom_stream *tg_prom_stream_new(const tg_metric_source *const *sources, size_t n_sources,
                                   const tg_prom_render_opts *opts) {
  tg_prom_stream *s = tg_calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->c = tg_calloc(1, sizeof *s->c);
  s->sources = tg_calloc(n_sources ? n_sources : 1, sizeof *s->sources);
  if (!s->c || !s->sources) {
    tg_prom_stream_free(s);
    return NULL;
  }
  if (n_sources)
    memcpy(s->sources, sources, n_sources * sizeof *s->sources);
  s->n_sources = n_sources;
  s->c->opts = opts;
  s->c->om = opts->format == TG_PROM_OPENMETRICS;
  return s;
}

/* Points visited per call of a source's next(): small, so a slice ends close to
 * max_bytes (a histogram point is ~1-2 KiB of text). */
enum { POINTS_PER_STEP = 16 };

int tg_prom_stream_next(tg_prom_stream *s, tg_buf *out, size_t max_bytes, int *done) {
  render_ctx *c = s->c;
  c->out = out;
  tg_metric_visitor v = {on_family, on_point, c};
  int rc = TG_OK;
  *done = 0;
  while (!rc && s->i < s->n_sources && out->len < max_bytes) {
    const tg_metric_source *src = s->sources[s->i];
    if (!src->open || !src->next || !src->close) { /* no cursor: all in one slice */
      rc = src->collect(src, &v);
      s->i++;
      continue;
    }
    if (!s->cursor && !(s->cursor = src->open(src))) {
      rc = TG_ENOMEM;
      break;
    }
    int src_done = 0;
    rc = src->next(src, s->cursor, &v, POINTS_PER_STEP, &src_done);
    if (src_done) {
      src->close(src, s->cursor);
      s->cursor = NULL;
      s->i++;
    }
  }
  if (!rc && s->i == s->n_sources && !s->eof_done) {
    if (c->om)
      rc = puts_(out, "# EOF\n");
    s->eof_done = 1;
  }
  *done = !rc && s->eof_done;
  return rc;
}

void tg_prom_stream_free(tg_prom_stream *s) {
  if (!s)
    return;
  if (s->cursor && s->i < s->n_sources)
    s->sources[s->i]->close(s->sources[s->i], s->cursor);
  tg_free(s->sources);
  tg_free(s->c);
  tg_free(s);
}

/* q of one media range ("type/sub;a=b;q=0.5"), or -1 when it is not `type`. */
static double range_q(const char *s, size_t n, const char *type) {
  size_t tl = strlen(type);
  while (n && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  size_t mt = 0;
  while (mt < n && s[mt] != ';' && s[mt] != ' ')
    mt++;
  if (mt != tl || strncasecmp(s, type, tl))
    return -1;
  double q = 1;
  for (size_t i = mt; i + 2 < n; i++)
    if (s[i] == ';') {
      size_t j = i + 1;
      while (j < n && s[j] == ' ')
        j++;
      if (j + 2 <= n && (s[j] == 'q' || s[j] == 'Q') && s[j + 1] == '=') {
        char tmp[16];
        size_t k = 0;
        for (j += 2; j < n && k < sizeof tmp - 1 && s[j] != ';'; j++)
          tmp[k++] = s[j];
        tmp[k] = '\0';
        q = strtod(tmp, NULL);
      }
    }
  return q;
}

tg_prom_format tg_prom_negotiate(const char *accept) {
  if (!accept)
    return TG_PROM_TEXT;
  double q_om = -1, q_text = -1;
  const char *p = accept;
  while (*p) {
    size_t n = strcspn(p, ",");
    double q = range_q(p, n, "application/openmetrics-text");
    if (q > q_om)
      q_om = q;
    q = range_q(p, n, "text/plain");
    if (q > q_text)
      q_text = q;
    p += n;
    if (*p == ',')
      p++;
  }
  return q_om > 0 && q_om >= q_text ? TG_PROM_OPENMETRICS : TG_PROM_TEXT;
}
