/* Self-metrics registry. Families and series are linked lists appended under a mutex
 * (setup and new label values only); cells are atomics so the hot path takes no lock.
 * Rendering walks the lists under the same mutex.
 *
 * Histograms keep non-cumulative bucket counts, a count and a sum in billionths of the
 * unit, each an atomic; render makes the buckets cumulative. A scrape racing an observe
 * may see a bucket bumped before the count, which Prometheus tolerates (the text format
 * has no transactions either way).
 *
 * A bounded family (per-service counters: the label comes from untrusted peers) stops
 * creating series at its bound and hands out one overflow series instead, so a peer
 * inventing service names costs at most max_series + 1 series. */
#include "tg_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"

#define TG_METRICS_MAX_LABELS 8

struct tg_metric_histogram {
  const double *bounds; /* the family's */
  size_t n_bounds;
  _Atomic uint64_t count;
  _Atomic uint64_t sum_nano;
  _Atomic uint64_t buckets[TG_METRICS_MAX_BOUNDS + 1]; /* non-cumulative; last = +Inf */
};

typedef struct tg_metric_series {
  struct tg_metric_series *next;
  char **label_values;
  tg_metric_cell cell;
  tg_metric_histogram *hist; /* histogram families only */
} tg_metric_series;

struct tg_metric_family {
  tg_metric_family *next;
  tg_metrics *reg;
  char *name, *help;
  tg_metric_type type;
  char *label_names[TG_METRICS_MAX_LABELS];
  size_t n_labels;
  tg_metric_series *series, *series_tail;
  tg_mlevel level;
  double bounds[TG_METRICS_MAX_BOUNDS];
  size_t n_bounds;
  size_t n_series, max_series; /* max_series 0 = unbounded */
  char *overflow_value;
  tg_metric_series *overflow; /* created on first overflow */
};

typedef struct tg_metrics_collector {
  struct tg_metrics_collector *next;
  tg_metrics_collect_fn fn;
  void *ctx;
} tg_metrics_collector;

struct tg_metrics {
  pthread_mutex_t lock;
  tg_metric_family *families, *families_tail;
  tg_metrics_collector *collectors, *collectors_tail;
  _Atomic int level;
  tg_metric_family *_Atomic slots[TG_METRICS_SLOTS];
};

tg_metric_family *_Atomic *tg_metrics_slot(tg_metrics *reg, int i) {
  return &reg->slots[i];
}

tg_metrics *tg_metrics_new(void) {
  tg_metrics *reg = tg_calloc(1, sizeof *reg);
  if (reg) {
    pthread_mutex_init(&reg->lock, NULL);
    atomic_init(&reg->level, TG_MLEVEL_DETAILED);
  }
  return reg;
}

void tg_metrics_set_level(tg_metrics *reg, tg_mlevel level) {
  atomic_store(&reg->level, (int)level);
}

tg_mlevel tg_metrics_level(const tg_metrics *reg) {
  return (tg_mlevel)atomic_load(&((tg_metrics *)reg)->level);
}

static void series_free(tg_metric_series *s, size_t n_labels) {
  for (size_t i = 0; s->label_values && i < n_labels; i++)
    tg_free(s->label_values[i]);
  tg_free(s->label_values);
  tg_free(s->hist);
  tg_free(s);
}

static void family_free(tg_metric_family *f) {
  tg_metric_series *s = f->series;
  while (s) {
    tg_metric_series *next = s->next;
    series_free(s, f->n_labels);
    s = next;
  }
  if (f->overflow)
    series_free(f->overflow, f->n_labels);
  tg_free(f->overflow_value);
  for (size_t i = 0; i < f->n_labels; i++)
    tg_free(f->label_names[i]);
  tg_free(f->name);
  tg_free(f->help);
  tg_free(f);
}

void tg_metrics_free(tg_metrics *reg) {
  if (!reg)
    return;
  tg_metric_family *f = reg->families;
  while (f) {
    tg_metric_family *next = f->next;
    family_free(f);
    f = next;
  }
  tg_metrics_collector *c = reg->collectors;
  while (c) {
    tg_metrics_collector *next = c->next;
    tg_free(c);
    c = next;
  }
  pthread_mutex_destroy(&reg->lock);
  tg_free(reg);
}

static size_t count_labels(const char *const *names) {
  size_t n = 0;
  while (names && names[n])
    n++;
  return n;
}

static int same_labels(const tg_metric_family *f, const char *const *names) {
  if (count_labels(names) != f->n_labels)
    return 0;
  for (size_t i = 0; i < f->n_labels; i++)
    if (strcmp(f->label_names[i], names[i]))
      return 0;
  return 1;
}

static tg_metric_family *family_get(tg_metrics *reg, const char *name, const char *help,
                                    tg_metric_type type, const char *const *label_names,
                                    const double *bounds, size_t n_bounds) {
  size_t n_labels = count_labels(label_names);
  if (n_labels > TG_METRICS_MAX_LABELS || n_bounds > TG_METRICS_MAX_BOUNDS)
    return NULL;
  pthread_mutex_lock(&reg->lock);
  tg_metric_family *f;
  for (f = reg->families; f; f = f->next)
    if (!strcmp(f->name, name))
      break;
  if (f) {
    if (f->type != type || !same_labels(f, label_names))
      f = NULL;
    pthread_mutex_unlock(&reg->lock);
    return f;
  }
  f = tg_calloc(1, sizeof *f);
  int ok = f != NULL;
  if (ok) {
    f->reg = reg;
    f->type = type;
    f->level = tg_metrics_family_level(name, type);
    if (n_bounds)
      memcpy(f->bounds, bounds, n_bounds * sizeof *bounds);
    f->n_bounds = n_bounds;
    f->name = tg_strdup(name);
    f->help = tg_strdup(help);
    ok = f->name && f->help;
    for (size_t i = 0; ok && i < n_labels; i++) {
      f->label_names[i] = tg_strdup(label_names[i]);
      ok = f->label_names[i] != NULL;
      f->n_labels = i + 1;
    }
  }
  if (!ok) {
    if (f)
      family_free(f);
    pthread_mutex_unlock(&reg->lock);
    return NULL;
  }
  if (reg->families_tail)
    reg->families_tail->next = f;
  else
    reg->families = f;
  reg->families_tail = f;
  pthread_mutex_unlock(&reg->lock);
  return f;
}

tg_metric_family *tg_metrics_family(tg_metrics *reg, const char *name, const char *help,
                                    tg_metric_type type, const char *const *label_names) {
  if (type == TG_METRIC_HISTOGRAM)
    return NULL; /* needs bounds */
  return family_get(reg, name, help, type, label_names, NULL, 0);
}

tg_metric_family *tg_metrics_histogram_family(tg_metrics *reg, const char *name,
                                              const char *help,
                                              const char *const *label_names,
                                              const double *bounds, size_t n_bounds) {
  for (size_t i = 1; i < n_bounds; i++)
    if (!(bounds[i] > bounds[i - 1]))
      return NULL;
  tg_metric_family *f =
      family_get(reg, name, help, TG_METRIC_HISTOGRAM, label_names, bounds, n_bounds);
  if (f && (f->n_bounds != n_bounds ||
            (n_bounds && memcmp(f->bounds, bounds, n_bounds * sizeof *bounds))))
    return NULL;
  return f;
}

int tg_metrics_family_bound(tg_metric_family *f, size_t max_series, const char *overflow_value) {
  char *v = tg_strdup(overflow_value);
  if (!v)
    return TG_ENOMEM;
  pthread_mutex_lock(&f->reg->lock);
  tg_free(f->overflow_value);
  f->overflow_value = v;
  f->max_series = max_series;
  pthread_mutex_unlock(&f->reg->lock);
  return TG_OK;
}

static int series_matches(const tg_metric_series *s, size_t n, const char *const *values) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s->label_values[i], values[i]))
      return 0;
  return 1;
}

/* A new series with the given values (or all = overflow when values is NULL). Called
 * with the registry locked. */
static tg_metric_series *series_new(const tg_metric_family *f, const char *const *values) {
  tg_metric_series *s = tg_calloc(1, sizeof *s);
  int ok = s != NULL;
  if (ok) {
    s->label_values = tg_calloc(f->n_labels ? f->n_labels : 1, sizeof(char *));
    ok = s->label_values != NULL;
  }
  for (size_t i = 0; ok && i < f->n_labels; i++) {
    s->label_values[i] = tg_strdup(values ? values[i] : f->overflow_value);
    ok = s->label_values[i] != NULL;
  }
  if (ok && f->type == TG_METRIC_HISTOGRAM) {
    s->hist = tg_calloc(1, sizeof *s->hist);
    ok = s->hist != NULL;
    if (ok) {
      s->hist->bounds = f->bounds;
      s->hist->n_bounds = f->n_bounds;
    }
  }
  if (!ok) {
    if (s)
      series_free(s, f->n_labels);
    return NULL;
  }
  atomic_init(&s->cell, 0);
  return s;
}

static tg_metric_series *series_get(tg_metric_family *f, const char *const *label_values) {
  tg_metrics *reg = f->reg;
  pthread_mutex_lock(&reg->lock);
  for (tg_metric_series *s = f->series; s; s = s->next)
    if (series_matches(s, f->n_labels, label_values)) {
      pthread_mutex_unlock(&reg->lock);
      return s;
    }
  tg_metric_series *s;
  int is_overflow = f->overflow_value != NULL;
  for (size_t i = 0; is_overflow && i < f->n_labels; i++)
    is_overflow = !strcmp(label_values[i], f->overflow_value);
  if (f->max_series && (is_overflow || f->n_series >= f->max_series)) {
    if (!f->overflow)
      f->overflow = series_new(f, NULL);
    s = f->overflow;
    pthread_mutex_unlock(&reg->lock);
    return s;
  }
  s = series_new(f, label_values);
  if (s) {
    if (f->series_tail)
      f->series_tail->next = s;
    else
      f->series = s;
    f->series_tail = s;
    f->n_series++;
  }
  pthread_mutex_unlock(&reg->lock);
  return s;
}

tg_metric_cell *tg_metrics_series(tg_metric_family *f, const char *const *label_values) {
  if (!f || f->type == TG_METRIC_HISTOGRAM)
    return NULL;
  tg_metric_series *s = series_get(f, label_values);
  return s ? &s->cell : NULL;
}

tg_metric_histogram *tg_metrics_histogram_series(tg_metric_family *f,
                                                 const char *const *label_values) {
  if (!f || f->type != TG_METRIC_HISTOGRAM)
    return NULL;
  tg_metric_series *s = series_get(f, label_values);
  return s ? s->hist : NULL;
}

void tg_metric_observe(tg_metric_histogram *h, double value) {
  if (!h)
    return;
  size_t b = 0;
  while (b < h->n_bounds && value > h->bounds[b])
    b++;
  atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
  double nano = value > 0 ? value * 1e9 + 0.5 : 0;
  atomic_fetch_add_explicit(&h->sum_nano, nano < 1.8e19 ? (uint64_t)nano : 0,
                            memory_order_relaxed);
  atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int tg_metrics_add_collector(tg_metrics *reg, tg_metrics_collect_fn fn, void *ctx) {
  tg_metrics_collector *c = tg_calloc(1, sizeof *c);
  if (!c)
    return TG_ENOMEM;
  c->fn = fn;
  c->ctx = ctx;
  pthread_mutex_lock(&reg->lock);
  if (reg->collectors_tail)
    reg->collectors_tail->next = c;
  else
    reg->collectors = c;
  reg->collectors_tail = c;
  pthread_mutex_unlock(&reg->lock);
  return TG_OK;
}

void tg_metrics_remove_collector(tg_metrics *reg, tg_metrics_collect_fn fn, void *ctx) {
  pthread_mutex_lock(&reg->lock);
  tg_metrics_collector **link = &reg->collectors, *prev = NULL;
  while (*link) {
    tg_metrics_collector *c = *link;
    if (c->fn == fn && c->ctx == ctx) {
      *link = c->next;
      if (reg->collectors_tail == c)
        reg->collectors_tail = prev;
      tg_free(c);
      break;
    }
    prev = c;
    link = &c->next;
  }
  pthread_mutex_unlock(&reg->lock);
}

int tg_metrics_escape_label(tg_buf *out, const char *value) {
  int rc = TG_OK;
  for (const char *p = value; *p && rc == TG_OK; p++) {
    if (*p == '\\')
      rc = tg_buf_append(out, "\\\\", 2);
    else if (*p == '"')
      rc = tg_buf_append(out, "\\\"", 2);
    else if (*p == '\n')
      rc = tg_buf_append(out, "\\n", 2);
    else
      rc = tg_buf_append(out, p, 1);
  }
  return rc;
}

static int render_help(tg_buf *out, const char *help) {
  int rc = TG_OK;
  for (const char *p = help; *p && rc == TG_OK; p++) {
    if (*p == '\\')
      rc = tg_buf_append(out, "\\\\", 2);
    else if (*p == '\n')
      rc = tg_buf_append(out, "\\n", 2);
    else
      rc = tg_buf_append(out, p, 1);
  }
  return rc;
}

static int render_labels(tg_buf *out, const tg_metric_family *f, const tg_metric_series *s,
                         const char *le) {
  if (!f->n_labels && !le)
    return TG_OK;
  int rc = tg_buf_append(out, "{", 1);
  for (size_t i = 0; i < f->n_labels && rc == TG_OK; i++) {
    rc = tg_buf_appendf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
    if (rc == TG_OK)
      rc = tg_metrics_escape_label(out, s->label_values[i]);
    if (rc == TG_OK)
      rc = tg_buf_append(out, "\"", 1);
  }
  if (rc == TG_OK && le)
    rc = tg_buf_appendf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
  if (rc == TG_OK)
    rc = tg_buf_append(out, "}", 1);
  return rc;
}

static int render_histogram(tg_buf *out, const tg_metric_family *f, const tg_metric_series *s) {
  const tg_metric_histogram *h = s->hist;
  uint64_t cumulative = 0;
  int rc = TG_OK;
  for (size_t b = 0; b <= f->n_bounds && rc == TG_OK; b++) {
    cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
    char le[32];
    if (b < f->n_bounds)
      snprintf(le, sizeof le, "%g", f->bounds[b]);
    else
      snprintf(le, sizeof le, "+Inf");
    rc = tg_buf_appendf(out, "%s_bucket", f->name);
    if (rc == TG_OK)
      rc = render_labels(out, f, s, le);
    if (rc == TG_OK)
      rc = tg_buf_appendf(out, " %llu\n", (unsigned long long)cumulative);
  }
  /* count = the +Inf bucket, so a scrape never shows them disagreeing */
  uint64_t sum = atomic_load_explicit(&h->sum_nano, memory_order_relaxed);
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, "%s_sum", f->name);
  if (rc == TG_OK)
    rc = render_labels(out, f, s, NULL);
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, " %llu.%09llu\n", (unsigned long long)(sum / 1000000000u),
                        (unsigned long long)(sum % 1000000000u));
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, "%s_count", f->name);
  if (rc == TG_OK)
    rc = render_labels(out, f, s, NULL);
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, " %llu\n", (unsigned long long)cumulative);
  return rc;
}

static const char *type_name(tg_metric_type t) {
  return t == TG_METRIC_COUNTER ? "counter" : t == TG_METRIC_GAUGE ? "gauge" : "histogram";
}

static int render_series(tg_buf *out, const tg_metric_family *f, const tg_metric_series *s) {
  if (f->type == TG_METRIC_HISTOGRAM)
    return render_histogram(out, f, s);
  int rc = tg_buf_append_str(out, f->name);
  if (rc == TG_OK)
    rc = render_labels(out, f, s, NULL);
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, " %lld\n",
                        (long long)atomic_load_explicit(&s->cell, memory_order_relaxed));
  return rc;
}

static int render_family(tg_buf *out, const tg_metric_family *f) {
  int rc = tg_buf_appendf(out, "# HELP %s ", f->name);
  if (rc == TG_OK)
    rc = render_help(out, f->help);
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
  for (const tg_metric_series *s = f->series; s && rc == TG_OK; s = s->next)
    rc = render_series(out, f, s);
  if (rc == TG_OK && f->overflow)
    rc = render_series(out, f, f->overflow);
  return rc;
}

int tg_metrics_render(tg_metrics *reg, tg_buf *out) {
  int rc = TG_OK;
  tg_mlevel level = tg_metrics_level(reg);
  pthread_mutex_lock(&reg->lock);
  for (const tg_metric_family *f = reg->families; f && rc == TG_OK; f = f->next)
    if ((f->series || f->overflow) && f->level <= level) /* a family without series would be an empty block */
      rc = render_family(out, f);
  for (tg_metrics_collector *c = reg->collectors; c && rc == TG_OK; c = c->next)
    c->fn(c->ctx, out);
  pthread_mutex_unlock(&reg->lock);
  return rc;
}
