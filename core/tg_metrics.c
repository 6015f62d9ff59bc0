/* Self-metrics registry. Families and series are linked lists appended under a mutex
 * (setup and new label values only); cells are atomics so the hot path takes no lock.
 * Rendering walks the lists under the same mutex. */
#include "tg_metrics.h"

#include <pthread.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"

#define TG_METRICS_MAX_LABELS 8

typedef struct tg_metric_series {
  struct tg_metric_series *next;
  char **label_values;
  tg_metric_cell cell;
} tg_metric_series;

struct tg_metric_family {
  tg_metric_family *next;
  tg_metrics *reg;
  char *name, *help;
  tg_metric_type type;
  char *label_names[TG_METRICS_MAX_LABELS];
  size_t n_labels;
  tg_metric_series *series, *series_tail;
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
};

tg_metrics *tg_metrics_new(void) {
  tg_metrics *reg = tg_calloc(1, sizeof *reg);
  if (reg)
    pthread_mutex_init(&reg->lock, NULL);
  return reg;
}

static void series_free(tg_metric_series *s, size_t n_labels) {
  for (size_t i = 0; i < n_labels; i++)
    tg_free(s->label_values[i]);
  tg_free(s->label_values);
  tg_free(s);
}

static void family_free(tg_metric_family *f) {
  tg_metric_series *s = f->series;
  while (s) {
    tg_metric_series *next = s->next;
    series_free(s, f->n_labels);
    s = next;
  }
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

tg_metric_family *tg_metrics_family(tg_metrics *reg, const char *name, const char *help,
                                    tg_metric_type type, const char *const *label_names) {
  size_t n_labels = count_labels(label_names);
  if (n_labels > TG_METRICS_MAX_LABELS)
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

static int series_matches(const tg_metric_series *s, size_t n, const char *const *values) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s->label_values[i], values[i]))
      return 0;
  return 1;
}

tg_metric_cell *tg_metrics_series(tg_metric_family *f, const char *const *label_values) {
  if (!f)
    return NULL;
  tg_metrics *reg = f->reg;
  pthread_mutex_lock(&reg->lock);
  for (tg_metric_series *s = f->series; s; s = s->next)
    if (series_matches(s, f->n_labels, label_values)) {
      pthread_mutex_unlock(&reg->lock);
      return &s->cell;
    }
  tg_metric_series *s = tg_calloc(1, sizeof *s);
  int ok = s != NULL;
  if (ok) {
    s->label_values = tg_calloc(f->n_labels ? f->n_labels : 1, sizeof(char *));
    ok = s->label_values != NULL;
  }
  for (size_t i = 0; ok && i < f->n_labels; i++) {
    s->label_values[i] = tg_strdup(label_values[i]);
    ok = s->label_values[i] != NULL;
  }
  if (!ok) {
    if (s && s->label_values)
      series_free(s, f->n_labels);
    else
      tg_free(s);
    pthread_mutex_unlock(&reg->lock);
    return NULL;
  }
  atomic_init(&s->cell, 0);
  if (f->series_tail)
    f->series_tail->next = s;
  else
    f->series = s;
  f->series_tail = s;
  pthread_mutex_unlock(&reg->lock);
  return &s->cell;
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

static int render_family(tg_buf *out, const tg_metric_family *f) {
  int rc = tg_buf_appendf(out, "# HELP %s ", f->name);
  if (rc == TG_OK)
    rc = render_help(out, f->help);
  if (rc == TG_OK)
    rc = tg_buf_appendf(out, "\n# TYPE %s %s\n", f->name,
                        f->type == TG_METRIC_COUNTER ? "counter" : "gauge");
  for (const tg_metric_series *s = f->series; s && rc == TG_OK; s = s->next) {
    rc = tg_buf_append_str(out, f->name);
    if (rc == TG_OK && f->n_labels) {
      rc = tg_buf_append(out, "{", 1);
      for (size_t i = 0; i < f->n_labels && rc == TG_OK; i++) {
        rc = tg_buf_appendf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
        if (rc == TG_OK)
          rc = tg_metrics_escape_label(out, s->label_values[i]);
        if (rc == TG_OK)
          rc = tg_buf_append(out, "\"", 1);
      }
      if (rc == TG_OK)
        rc = tg_buf_append(out, "}", 1);
    }
    if (rc == TG_OK)
      rc = tg_buf_appendf(out, " %lld\n",
                          (long long)atomic_load_explicit(&s->cell, memory_order_relaxed));
  }
  return rc;
}

int tg_metrics_render(tg_metrics *reg, tg_buf *out) {
  int rc = TG_OK;
  pthread_mutex_lock(&reg->lock);
  for (const tg_metric_family *f = reg->families; f && rc == TG_OK; f = f->next)
    if (f->series) /* a family without series would be an empty block: skip it */
      rc = render_family(out, f);
  for (tg_metrics_collector *c = reg->collectors; c && rc == TG_OK; c = c->next)
    c->fn(c->ctx, out);
  pthread_mutex_unlock(&reg->lock);
  return rc;
}
