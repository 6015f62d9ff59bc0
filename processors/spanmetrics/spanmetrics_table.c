/* Aggregation table: open addressing with linear probing over series pointers, keyed by
 * the label values.
 *
 * Why this shape: the hot path is one key build (label values into a reused scratch
 * buffer), one hash and usually one probe per span, with no allocation; a series is one
 * malloc when its label set first appears (bounded by the cardinality limit). A series
 * carries its labels already sanitised (valid UTF-8) and pre-rendered for the text formats
 * (`label_text`), so a scrape of 10k series formats numbers only.
 *
 * Key encoding: per label a tag byte (1 present, 0 absent) and, when present, the value
 * and a NUL. Values are C strings, so the encoding is unambiguous.
 *
 * Exemplars: a span becomes a candidate only while a series has a free candidate slot;
 * at collect time a candidate whose trace the sampler kept becomes its bucket's exemplar
 * (and the counter's) and frees its slot, one still undecided after the TTL is dropped.
 * So every exemplar points at a kept trace, and a hot series keeps sampling new spans.
 *
 * Budget: at most `limit` series, and at most `per_service_limit` of them for one value of
 * the service label, so one service with runaway span names cannot take the budget of the
 * others. A new label set past either bound counts in the one overflow series
 * (otel_metric_overflow="true"); label sets that already have a series keep counting
 * there. Services are tracked in a second small table (one entry per service holding at
 * least one series, so it is bounded by the series count); each series points at its
 * service entry, and expiry gives the series back to its service.
 *
 * Exponential histograms and delta temporality: a series then carries an exponential
 * histogram (spanmetrics_exphist.c) in the same block instead of explicit buckets, and a
 * delta table a second copy of its counts: tg_sm_table_flush moves the live counts there
 * (what collect reports until the next flush) and restarts the live ones from zero.
 *
 * Slices: a cursor (tg_sm_table_cursor_*) snapshots the series pointers and pins the
 * table; expiry waits while a cursor is open, so a scrape rendered across loop iterations
 * never sees a freed series, and a growth of the slot array does not disturb it. */
#include "spanmetrics_table.h"

#include <string.h>

#include "spanmetrics_exphist.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_error.h"

typedef struct sm_candidate {
  uint8_t trace_id[16];
  uint8_t span_id[8];
  double value;
  uint64_t end_unix_nano;
  uint64_t taken_ms;
} sm_candidate;

typedef struct sm_exemplars {
  sm_candidate cand[TG_SM_CANDIDATES];
  tg_mexemplar counter;
  const tg_mexemplar *counter_ptr[1];
  const tg_mexemplar **bucket_ptr; /* n_bounds + 1; NULL = none yet */
  tg_mexemplar *bucket;            /* n_bounds + 1 */
} sm_exemplars;

/* One service_name value holding series (key bytes after the struct). */
typedef struct sm_service {
  uint64_t hash;
  size_t n_series;
  size_t key_len;
  char key[];
} sm_service;

typedef struct tg_sm_series {
  /* hot: everything a span touches, then the key right after the struct (one or two cache
   * lines in all; the layout came from the profile of a 10k-series table) */
  size_t key_len;
  const char *key;
  uint64_t calls;
  double sum;
  uint64_t last_ms;
  uint64_t *buckets; /* n_bounds + 1, non-cumulative */
  sm_exemplars *ex;
  unsigned cand_used; /* bit i: ex->cand[i] holds a candidate (kept here: one cache line) */
  tg_sm_exphist *exp;  /* exponential tables: the live histogram */
  /* cold: rendering only */
  uint64_t r_calls;     /* delta tables: the last closed interval */
  double r_sum;
  uint64_t *r_buckets;
  tg_sm_exphist *r_exp;
  uint64_t r_start, r_time;
  uint64_t delta_start; /* when the current interval began for this series (0 = unknown) */
  uint64_t ts_seq;      /* bounded timestamp cache: the table's ts_seq when this series
                           last had points flushed (0 = never) */
  sm_service *svc; /* the service entry this series counts against */
  size_t n_labels;
  tg_mlabel *labels;
  char *label_text;
  char *label_text_point; /* NULL: no resource-only labels */
  uint64_t start_unix_nano;
} tg_sm_series;

/* A slot keeps the hash next to the pointer, so a probe compares hashes without touching
 * the series (10k series do not fit in cache; profiling showed the misses). */
typedef struct sm_slot {
  uint64_t hash;
  tg_sm_series *s;
} sm_slot;

struct tg_sm_table {
  char **names;
  char **otel_names; /* NULL entries: as names */
  int *where;
  uint32_t exp_max_size;
  int delta;
  unsigned max_candidates;
  uint64_t last_flush_ns;
  size_t ts_cache_size; /* 0 = every series remembers its last flush time */
  uint64_t ts_seq;      /* series flushed with points so far (the cache's insertions) */
  size_t n_labels;
  double *bounds;
  size_t n_bounds;
  size_t limit;
  size_t service_label;     /* index of the service label; SIZE_MAX = none */
  size_t per_service_limit;
  int exemplars;
  uint64_t ttl_ms;
  sm_slot *slots;
  size_t cap, n;
  tg_sm_series *overflow;
  sm_service **svcs; /* open addressing, linear probing; rebuilt when entries go */
  size_t svc_cap, n_svc;
  size_t svc_hist[TG_SM_SERVICE_BUCKETS + 1]; /* services by series held, non-cumulative */
  unsigned pins;     /* open cursors: expiry waits */
  tg_buf key; /* scratch */
};

const size_t tg_sm_service_bucket_bounds[TG_SM_SERVICE_BUCKETS] = {1, 10, 100, 1000, 10000,
                                                                   100000};

static size_t svc_bucket(size_t n) {
  size_t b = 0;
  while (b < TG_SM_SERVICE_BUCKETS && n > tg_sm_service_bucket_bounds[b])
    b++;
  return b;
}

static const char *const overflow_name = "otel_metric_overflow";

tg_sm_table *tg_sm_table_new(const tg_sm_table_conf *c) {
  if (!c->n_labels || c->n_labels > 64)
    return NULL;
  tg_sm_table *t = tg_calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->n_labels = c->n_labels;
  t->n_bounds = c->n_bounds;
  t->limit = c->limit ? c->limit : 1;
  t->service_label = c->service_label < c->n_labels ? c->service_label : SIZE_MAX;
  t->per_service_limit = c->per_service_limit ? c->per_service_limit : t->limit;
  t->exemplars = c->exemplars;
  t->ttl_ms = c->candidate_ttl_ms;
  t->exp_max_size = c->exp_max_size;
  if (t->exp_max_size && t->exp_max_size < 4)
    t->exp_max_size = 4;
  t->delta = c->delta;
  t->ts_cache_size = c->delta ? c->timestamp_cache_size : 0;
  t->max_candidates = c->max_candidates && c->max_candidates < TG_SM_CANDIDATES
                          ? c->max_candidates
                          : TG_SM_CANDIDATES;
  t->names = tg_calloc(c->n_labels, sizeof *t->names);
  t->otel_names = tg_calloc(c->n_labels, sizeof *t->otel_names);
  t->where = tg_calloc(c->n_labels, sizeof *t->where);
  t->bounds = tg_calloc(c->n_bounds + 1, sizeof *t->bounds);
  t->cap = 64;
  t->slots = tg_calloc(t->cap, sizeof *t->slots);
  t->svc_cap = 16;
  t->svcs = tg_calloc(t->svc_cap, sizeof *t->svcs);
  tg_buf_init(&t->key, 0);
  int ok = t->names && t->otel_names && t->where && t->bounds && t->slots && t->svcs;
  for (size_t i = 0; ok && i < c->n_labels; i++) {
    ok = (t->names[i] = tg_strdup(c->label_names[i])) != NULL;
    if (ok && c->label_otel_names && c->label_otel_names[i])
      ok = (t->otel_names[i] = tg_strdup(c->label_otel_names[i])) != NULL;
    if (c->label_where)
      t->where[i] = c->label_where[i];
  }
  if (!ok) {
    tg_sm_table_free(t);
    return NULL;
  }
  if (c->n_bounds)
    memcpy(t->bounds, c->bounds, c->n_bounds * sizeof *t->bounds);
  return t;
}

static void series_free(tg_sm_series *s) {
  if (s)
    tg_free(s->ex);
  tg_free(s);
}

void tg_sm_table_free(tg_sm_table *t) {
  if (!t)
    return;
  for (size_t i = 0; t->slots && i < t->cap; i++)
    series_free(t->slots[i].s);
  series_free(t->overflow);
  for (size_t i = 0; t->svcs && i < t->svc_cap; i++)
    tg_free(t->svcs[i]);
  tg_free(t->svcs);
  for (size_t i = 0; t->names && i < t->n_labels; i++)
    tg_free(t->names[i]);
  for (size_t i = 0; t->otel_names && i < t->n_labels; i++)
    tg_free(t->otel_names[i]);
  tg_free(t->names);
  tg_free(t->otel_names);
  tg_free(t->where);
  tg_free(t->bounds);
  tg_free(t->slots);
  tg_buf_free(&t->key);
  tg_free(t);
}

size_t tg_sm_bucket_index(const double *bounds, size_t n, double v) {
  size_t lo = 0, hi = n; /* first index with v <= bounds[i] */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v <= bounds[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* 8 bytes at a time with a multiply-xorshift mix: keys are tens of bytes, and byte-wise
 * FNV showed in the profile. Not cryptographic: label sets come from our own clients, and
 * the cardinality limit bounds the table whatever the distribution. */
static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  h = (h ^ w) * 0x94D049BB133111EBull;
  h ^= h >> 29;
  return h;
}

/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8 boundary. */
static size_t clip_utf8(const char *s, size_t len, size_t max) {
  if (len <= max)
    return len;
  size_t n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

/* Appends s[0..len) with invalid UTF-8 replaced by U+FFFD. */
static int append_utf8(tg_buf *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    const unsigned char *run = p;
    while (p < end && *p < 0x80)
      p++;
    if (p > run && tg_buf_append(out, run, (size_t)(p - run)))
      return TG_ENOMEM;
    if (p >= end)
      break;
    size_t n = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
    int ok = n && (size_t)(end - p) >= n;
    for (size_t k = 1; ok && k < n; k++)
      ok = (p[k] & 0xC0) == 0x80;
    if (ok) { /* reject overlongs and surrogates */
      uint32_t cp = n == 2 ? (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F)
                  : n == 3 ? (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 |
                                 (p[2] & 0x3F)
                           : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
                                 (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
      ok = (n == 2 && cp >= 0x80) || (n == 3 && cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) ||
           (n == 4 && cp >= 0x10000 && cp <= 0x10FFFF);
    }
    if (ok) {
      if (tg_buf_append(out, p, n))
        return TG_ENOMEM;
      p += n;
    } else {
      if (tg_buf_append(out, "\xEF\xBF\xBD", 3))
        return TG_ENOMEM;
      p++;
    }
  }
  return TG_OK;
}

static int append_escaped(tg_buf *out, const char *s) {
  for (const char *p = s; *p; p++) {
    const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
    int rc = rep ? tg_buf_append(out, rep, 2) : tg_buf_append(out, p, 1);
    if (rc)
      return rc;
  }
  return TG_OK;
}

/* Builds a series from the key in t->key: labels sanitised, label text rendered, all in
 * one allocation (plus the exemplar block when enabled). */
/* values[i] has lens[i] bytes (already clipped), not necessarily NUL-terminated. */
static tg_sm_series *series_new(tg_sm_table *t, const char *const *names,
                                const char *const *values, const size_t *lens,
                                size_t n_labels, uint64_t now_ms) {
  tg_buf vals, text, ptext; /* ptext: without resource-only labels */
  tg_buf_init(&vals, 0);
  tg_buf_init(&text, 0);
  tg_buf_init(&ptext, 0);
  int own_names = names == (const char *const *)t->names;
  size_t n_point = 0, n_resource = 0;
  size_t offsets[65];
  size_t n_present = 0;
  int rc = TG_OK;
  for (size_t i = 0; rc == TG_OK && i < n_labels; i++) {
    if (!values[i])
      continue;
    offsets[n_present] = vals.len;
    rc = append_utf8(&vals, values[i], lens[i]);
    if (!rc)
      rc = tg_buf_append(&vals, "", 1);
    if (!rc && n_present)
      rc = tg_buf_append(&text, ",", 1);
    if (!rc)
      rc = tg_buf_appendf(&text, "%s=\"", names[i]);
    if (!rc)
      rc = append_escaped(&text, (const char *)vals.data + offsets[n_present]);
    if (!rc)
      rc = tg_buf_append(&text, "\"", 1);
    if (own_names && t->where[i] == TG_MLABEL_RESOURCE) {
      n_resource++;
    } else {
      if (!rc && n_point++)
        rc = tg_buf_append(&ptext, ",", 1);
      if (!rc)
        rc = tg_buf_appendf(&ptext, "%s=\"", names[i]);
      if (!rc)
        rc = append_escaped(&ptext, (const char *)vals.data + offsets[n_present]);
      if (!rc)
        rc = tg_buf_append(&ptext, "\"", 1);
    }
    n_present++;
  }
  if (!rc)
    rc = tg_buf_append(&text, "", 1);
  if (!rc)
    rc = tg_buf_append(&ptext, "", 1);
  if (!n_resource)
    ptext.len = 0; /* the same as text: not stored */
  tg_sm_series *s = NULL;
  size_t nb = t->n_bounds + 1;
  size_t key_room = (t->key.len + 7) & ~(size_t)7; /* keeps the buckets aligned */
  size_t copies = t->delta ? 2 : 1; /* delta: the live counts and the closed interval's */
  size_t exp_room = t->exp_max_size ? tg_sm_exphist_bytes(t->exp_max_size) : 0;
  size_t size = sizeof *s + key_room + copies * (nb * sizeof(uint64_t) + exp_room) +
                n_present * sizeof(tg_mlabel) + vals.len + text.len + ptext.len;
  if (!rc)
    s = tg_calloc(1, size);
  if (s) {
    uint8_t *p = (uint8_t *)(s + 1);
    memcpy(p, t->key.data, t->key.len);
    s->key = (const char *)p;
    s->key_len = t->key.len;
    p += key_room;
    s->buckets = (uint64_t *)p;
    p += nb * sizeof(uint64_t);
    if (t->delta) {
      s->r_buckets = (uint64_t *)p;
      p += nb * sizeof(uint64_t);
    }
    if (exp_room) {
      s->exp = (tg_sm_exphist *)p;
      tg_sm_exphist_init(s->exp, t->exp_max_size);
      p += exp_room;
      if (t->delta) {
        s->r_exp = (tg_sm_exphist *)p;
        tg_sm_exphist_init(s->r_exp, t->exp_max_size);
        p += exp_room;
      }
    }
    s->labels = (tg_mlabel *)p;
    p += n_present * sizeof(tg_mlabel);
    memcpy(p, vals.data, vals.len);
    char *v = (char *)p;
    p += vals.len;
    memcpy(p, text.data, text.len);
    s->label_text = (char *)p;
    p += text.len;
    if (ptext.len) {
      memcpy(p, ptext.data, ptext.len);
      s->label_text_point = (char *)p;
    }
    for (size_t i = 0, k = 0; i < n_labels; i++)
      if (values[i]) {
        s->labels[k].name = names[i];
        s->labels[k].value = v + offsets[k];
        s->labels[k].otel_name = names == (const char *const *)t->names ? t->otel_names[i] : NULL;
        s->labels[k].where = names == (const char *const *)t->names ? t->where[i] : 0;
        k++;
      }
    s->n_labels = n_present;
    s->last_ms = now_ms;
    s->start_unix_nano = 0;
    if (t->exemplars) {
      s->ex = tg_calloc(1, sizeof *s->ex + nb * (sizeof(tg_mexemplar) + sizeof(void *)));
      if (!s->ex) {
        tg_free(s);
        s = NULL;
      } else {
        s->ex->bucket = (tg_mexemplar *)(s->ex + 1);
        s->ex->bucket_ptr = (const tg_mexemplar **)(s->ex->bucket + nb);
      }
    }
  }
  tg_buf_free(&vals);
  tg_buf_free(&text);
  tg_buf_free(&ptext);
  return s;
}

static int grow(tg_sm_table *t) {
  size_t cap = t->cap * 2;
  sm_slot *slots = tg_calloc(cap, sizeof *slots);
  if (!slots)
    return TG_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->slots[i].s)
      continue;
    size_t j = t->slots[i].hash & (cap - 1);
    while (slots[j].s)
      j = (j + 1) & (cap - 1);
    slots[j] = t->slots[i];
  }
  tg_free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return TG_OK;
}

static void observe(const tg_sm_table *t, tg_sm_series *s, double value, const uint8_t *trace_id,
                    const uint8_t *span_id, uint64_t end_unix_nano, uint64_t now_ms) {
  s->calls++;
  s->sum += value;
  if (s->exp)
    tg_sm_exphist_add(s->exp, value);
  else
    s->buckets[tg_sm_bucket_index(t->bounds, t->n_bounds, value)]++;
  s->last_ms = now_ms;
  if (!s->start_unix_nano)
    s->start_unix_nano = end_unix_nano;
  if (!s->ex || !trace_id || s->cand_used == (1u << t->max_candidates) - 1)
    return;
  static const uint8_t zero[16];
  if (!memcmp(trace_id, zero, 16))
    return;
  for (size_t i = 0; i < t->max_candidates; i++) {
    sm_candidate *c = &s->ex->cand[i];
    if (s->cand_used & (1u << i))
      continue;
    s->cand_used |= 1u << i;
    memcpy(c->trace_id, trace_id, 16);
    if (span_id)
      memcpy(c->span_id, span_id, 8);
    else
      memset(c->span_id, 0, 8);
    c->value = value;
    c->end_unix_nano = end_unix_nano;
    c->taken_ms = now_ms;
    return;
  }
}

/* ---- services ---- */

static sm_service *svc_find(const tg_sm_table *t, const char *key, size_t len, uint64_t h) {
  for (size_t j = h & (t->svc_cap - 1); t->svcs[j]; j = (j + 1) & (t->svc_cap - 1)) {
    const sm_service *e = t->svcs[j];
    if (e->hash == h && e->key_len == len && !memcmp(e->key, key, len))
      return t->svcs[j];
  }
  return NULL;
}

static void svc_place(sm_service **slots, size_t cap, sm_service *e) {
  size_t j = e->hash & (cap - 1);
  while (slots[j])
    j = (j + 1) & (cap - 1);
  slots[j] = e;
}

static sm_service *svc_add(tg_sm_table *t, const char *key, size_t len, uint64_t h) {
  if ((t->n_svc + 1) * 2 > t->svc_cap) {
    size_t cap = t->svc_cap * 2;
    sm_service **slots = tg_calloc(cap, sizeof *slots);
    if (!slots)
      return NULL;
    for (size_t i = 0; i < t->svc_cap; i++)
      if (t->svcs[i])
        svc_place(slots, cap, t->svcs[i]);
    tg_free(t->svcs);
    t->svcs = slots;
    t->svc_cap = cap;
  }
  sm_service *e = tg_calloc(1, sizeof *e + len + 1);
  if (!e)
    return NULL;
  e->hash = h;
  e->key_len = len;
  memcpy(e->key, key, len);
  svc_place(t->svcs, t->svc_cap, e);
  t->n_svc++;
  return e;
}

/* The series count of e moves from e->n_series to n. */
static void svc_count(tg_sm_table *t, sm_service *e, size_t n) {
  if (e->n_series)
    t->svc_hist[svc_bucket(e->n_series)]--;
  if (n)
    t->svc_hist[svc_bucket(n)]++;
  e->n_series = n;
}

/* Drops entries that hold no series (after expiry); rebuilt because linear probing cannot
 * empty a slot in place. On ENOMEM the empty entries stay until the next expiry. */
static void svc_sweep(tg_sm_table *t) {
  sm_service **slots = tg_calloc(t->svc_cap, sizeof *slots);
  if (!slots)
    return;
  for (size_t i = 0; i < t->svc_cap; i++) {
    sm_service *e = t->svcs[i];
    if (!e)
      continue;
    if (e->n_series) {
      svc_place(slots, t->svc_cap, e);
    } else {
      tg_free(e);
      t->n_svc--;
    }
  }
  tg_free(t->svcs);
  t->svcs = slots;
}

tg_sm_series *tg_sm_table_lookup(tg_sm_table *t, const char *const *values,
                                 const size_t *in_lens, uint64_t now_ms, int *overflow) {
  *overflow = 0;
  size_t lens[64], total = 0;
  for (size_t i = 0; i < t->n_labels; i++) {
    size_t raw = !values[i] ? 0 : in_lens ? in_lens[i] : strlen(values[i]);
    lens[i] = values[i] ? clip_utf8(values[i], raw, TG_SM_MAX_VALUE) : 0;
    total += values[i] ? lens[i] + 2 : 1;
  }
  t->key.len = 0;
  /* the buffer has room nearly always: test that without the call */
  if ((total > t->key.cap || !t->key.data) && tg_buf_reserve(&t->key, total))
    return NULL;
  uint8_t *k = t->key.data;
  for (size_t i = 0; i < t->n_labels; i++) {
    if (!values[i]) {
      *k++ = 0;
      continue;
    }
    *k++ = 1;
    memcpy(k, values[i], lens[i]);
    k += lens[i];
    *k++ = 0;
  }
  t->key.len = total;
  uint64_t h = hash_bytes(t->key.data, t->key.len);
  size_t j = h & (t->cap - 1);
  for (; t->slots[j].s; j = (j + 1) & (t->cap - 1)) {
    tg_sm_series *s = t->slots[j].s;
    if (t->slots[j].hash == h && s->key_len == total && !memcmp(s->key, t->key.data, total))
      return s;
  }
  const char *svc_key = "";
  size_t svc_len = 0;
  if (t->service_label != SIZE_MAX && values[t->service_label]) {
    svc_key = values[t->service_label];
    svc_len = lens[t->service_label];
  }
  uint64_t svc_h = hash_bytes((const uint8_t *)svc_key, svc_len);
  sm_service *svc = svc_find(t, svc_key, svc_len, svc_h);
  int full = t->n >= t->limit ? 1 : svc && svc->n_series >= t->per_service_limit ? 2 : 0;
  if (full) {
    if (!t->overflow) {
      const char *names[] = {overflow_name};
      const char *vals[] = {"true"};
      t->key.len = 0;
      const size_t lens1[] = {4};
      t->overflow = series_new(t, names, vals, lens1, 1, now_ms);
    }
    if (!t->overflow)
      return NULL;
    *overflow = full;
    return t->overflow;
  }
  if (!svc && !(svc = svc_add(t, svc_key, svc_len, svc_h)))
    return NULL;
  tg_sm_series *s = series_new(t, (const char *const *)t->names, values, lens, t->n_labels,
                               now_ms);
  if (!s) {
    if (!svc->n_series)
      svc_sweep(t);
    return NULL;
  }
  s->svc = svc;
  svc_count(t, svc, svc->n_series + 1);
  t->slots[j] = (sm_slot){h, s};
  t->n++;
  if (t->n * 2 > t->cap && grow(t) != TG_OK) {
    /* still correct at this load; the next new series retries the growth */
  }
  return s;
}

void tg_sm_table_observe(tg_sm_table *t, tg_sm_series *s, double value, const uint8_t *trace_id,
                      const uint8_t *span_id, uint64_t end_unix_nano, uint64_t now_ms) {
  observe(t, s, value, trace_id, span_id, end_unix_nano, now_ms);
}

int tg_sm_table_add(tg_sm_table *t, const char *const *values, double value,
                 const uint8_t *trace_id, const uint8_t *span_id, uint64_t end_unix_nano,
                 uint64_t now_ms) {
  int overflow;
  tg_sm_series *s = tg_sm_table_lookup(t, values, NULL, now_ms, &overflow);
  if (!s)
    return TG_ENOMEM;
  observe(t, s, value, trace_id, span_id, end_unix_nano, now_ms);
  return overflow;
}

size_t tg_sm_table_size(const tg_sm_table *t) { return t->n + (t->overflow ? 1 : 0); }

size_t tg_sm_table_expire(tg_sm_table *t, uint64_t now_ms, uint64_t max_age_ms) {
  size_t removed = 0;
  if (t->pins)
    return 0; /* a cursor holds series pointers: try again at the next tick */
  uint64_t cutoff = now_ms > max_age_ms ? now_ms - max_age_ms : 0;
  if (t->overflow && t->overflow->last_ms < cutoff) {
    series_free(t->overflow);
    t->overflow = NULL;
    removed++;
  }
  size_t expired = 0;
  for (size_t i = 0; i < t->cap; i++)
    expired += t->slots[i].s && t->slots[i].s->last_ms < cutoff;
  if (!expired)
    return removed;
  /* Rebuild in place: linear probing cannot simply empty a slot, and expiry is rare. */
  sm_slot *old = t->slots;
  sm_slot *slots = tg_calloc(t->cap, sizeof *slots);
  if (!slots)
    return removed; /* try again at the next tick */
  for (size_t i = 0; i < t->cap; i++) {
    tg_sm_series *s = old[i].s;
    if (!s)
      continue;
    if (s->last_ms < cutoff) {
      svc_count(t, s->svc, s->svc->n_series - 1);
      series_free(s);
      t->n--;
      removed++;
      continue;
    }
    size_t j = old[i].hash & (t->cap - 1);
    while (slots[j].s)
      j = (j + 1) & (t->cap - 1);
    slots[j] = old[i];
  }
  tg_free(old);
  t->slots = slots;
  svc_sweep(t);
  return removed;
}

size_t tg_sm_table_services(const tg_sm_table *t, size_t hist[TG_SM_SERVICE_BUCKETS + 1]) {
  if (hist)
    memcpy(hist, t->svc_hist, sizeof t->svc_hist);
  return t->n_svc;
}

size_t tg_sm_table_service_series(const tg_sm_table *t, const char *service) {
  size_t len = strlen(service);
  const sm_service *e = svc_find(t, service, len, hash_bytes((const uint8_t *)service, len));
  return e ? e->n_series : 0;
}

static void resolve_candidates(const tg_sm_table *t, tg_sm_series *s, tg_kept_traces *kept,
                               uint64_t now_ms) {
  sm_exemplars *ex = s->ex;
  for (size_t i = 0; i < TG_SM_CANDIDATES; i++) {
    sm_candidate *c = &ex->cand[i];
    if (!(s->cand_used & (1u << i)))
      continue;
    if (tg_kept_traces_contains(kept, c->trace_id)) {
      tg_mexemplar e = {.value = c->value, .time_unix_nano = c->end_unix_nano};
      memcpy(e.trace_id, c->trace_id, 16);
      memcpy(e.span_id, c->span_id, 8);
      size_t b = tg_sm_bucket_index(t->bounds, t->n_bounds, c->value);
      ex->bucket[b] = e;
      ex->bucket_ptr[b] = &ex->bucket[b];
      /* the newest kept span is the counter's exemplar */
      if (!ex->counter_ptr[0] || e.time_unix_nano >= ex->counter.time_unix_nano) {
        ex->counter = e;
        ex->counter.value = 1;
        ex->counter_ptr[0] = &ex->counter;
      }
      s->cand_used &= ~(1u << i);
    } else if (now_ms - c->taken_ms > t->ttl_ms) {
      s->cand_used &= ~(1u << i);
    }
  }
}

/* A series as a point of the calls family (histogram 0) or the duration family; delta
 * tables report the last closed interval. Returns 0 when the series has nothing to
 * report (a delta series without spans in the interval). */
static int point_of(const tg_sm_table *t, const tg_sm_series *s, int histogram, tg_mpoint *p) {
  *p = (tg_mpoint){.labels = s->labels,
                   .n_labels = s->n_labels,
                   .label_text = s->label_text,
                   .label_text_point = s->label_text_point,
                   .updated_mono_ms = s->last_ms,
                   .count = t->delta ? s->r_calls : s->calls,
                   .start_unix_nano = t->delta ? s->r_start : s->start_unix_nano,
                   .time_unix_nano = t->delta ? s->r_time : 0};
  if (t->delta && !s->r_calls)
    return 0;
  if (!histogram) {
    p->exemplars = s->ex ? s->ex->counter_ptr : NULL;
    return 1;
  }
  p->sum = t->delta ? s->r_sum : s->sum;
  p->exemplars = s->ex ? s->ex->bucket_ptr : NULL;
  const tg_sm_exphist *h = t->delta ? s->r_exp : s->exp;
  if (h) {
    p->scale = h->scale;
    p->exp_offset = h->offset;
    p->exp_counts = h->counts;
    p->n_exp_counts = h->n;
    p->zero_count = h->zero_count;
  } else {
    p->buckets = t->delta ? s->r_buckets : s->buckets;
  }
  return 1;
}

static int visit_family(tg_sm_table *t, const tg_mfamily *f, int histogram,
                        const tg_metric_visitor *v) {
  int rc = v->family(v->ctx, f);
  for (size_t i = 0; !rc && i <= t->cap; i++) {
    tg_sm_series *s = i < t->cap ? t->slots[i].s : t->overflow;
    tg_mpoint p;
    if (s && point_of(t, s, histogram, &p))
      rc = v->point(v->ctx, f, &p);
  }
  return rc;
}

static void flush_series(tg_sm_table *t, tg_sm_series *s, uint64_t now_ns, int remembered) {
  s->r_calls = s->calls;
  s->r_sum = s->sum;
  s->r_start = remembered && s->delta_start ? s->delta_start
               : t->last_flush_ns && t->last_flush_ns > s->start_unix_nano ? t->last_flush_ns
                                                                           : s->start_unix_nano;
  s->r_time = now_ns;
  s->delta_start = now_ns;
  memcpy(s->r_buckets, s->buckets, (t->n_bounds + 1) * sizeof *s->buckets);
  s->calls = 0;
  s->sum = 0;
  memset(s->buckets, 0, (t->n_bounds + 1) * sizeof *s->buckets);
  if (s->exp) {
    memcpy(s->r_exp, s->exp, tg_sm_exphist_bytes(t->exp_max_size));
    tg_sm_exphist_init(s->exp, t->exp_max_size);
  }
}

/* The bounded timestamp cache (timestamp_cache_size) without a list: an LRU whose
 * insertions are numbered remembers an entry while fewer than `size` insertions came
 * after it, so a sequence number per series is the whole cache. Insertions are the series
 * with points in the closed interval, as in the Collector (which fills its LRU while it
 * builds a flush's points); the cache is judged as it stood when the flush began. A
 * bounded table also forgets each series' first-span time at every flush, so that
 * start_unix_nano is the first span of the interval: the start of a series that forgot. */
void tg_sm_table_flush(tg_sm_table *t, uint64_t now_unix_nano) {
  if (!t->delta)
    return;
  uint64_t base = t->ts_seq;
  for (size_t i = 0; i <= t->cap; i++) {
    tg_sm_series *s = i < t->cap ? t->slots[i].s : t->overflow;
    if (!s)
      continue;
    int had_points = s->calls != 0;
    int remembered = !t->ts_cache_size || (s->ts_seq && base - s->ts_seq < t->ts_cache_size);
    flush_series(t, s, now_unix_nano, remembered);
    if (t->ts_cache_size) {
      if (had_points)
        s->ts_seq = ++t->ts_seq;
      s->start_unix_nano = 0;
    }
  }
  t->last_flush_ns = now_unix_nano;
}

int tg_sm_table_collect(tg_sm_table *t, const tg_mfamily *calls, const tg_mfamily *duration,
                     tg_kept_traces *kept, uint64_t now_ms, const tg_metric_visitor *v) {
  if (t->exemplars)
    for (size_t i = 0; i <= t->cap; i++) {
      tg_sm_series *s = i < t->cap ? t->slots[i].s : t->overflow;
      if (s && s->ex)
        resolve_candidates(t, s, kept, now_ms);
    }
  int rc = visit_family(t, calls, 0, v);
  if (!rc && duration)
    rc = visit_family(t, duration, 1, v);
  return rc;
}

/* ---- cursors: the same visit in slices ---- */

struct tg_sm_cursor {
  tg_sm_series **series; /* snapshot: every series of the table at open, overflow last */
  size_t n;
  size_t family; /* 0 calls, 1 duration, 2 done */
  size_t pos;    /* next series of the family */
  int family_started;
};

tg_sm_cursor *tg_sm_table_cursor_open(tg_sm_table *t) {
  tg_sm_cursor *c = tg_calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->series = tg_malloc((t->n + 1) * sizeof *c->series);
  if (!c->series) {
    tg_free(c);
    return NULL;
  }
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].s)
      c->series[c->n++] = t->slots[i].s;
  if (t->overflow)
    c->series[c->n++] = t->overflow;
  t->pins++;
  return c;
}

int tg_sm_table_cursor_next(tg_sm_table *t, tg_sm_cursor *c, const tg_mfamily *calls,
                            const tg_mfamily *duration, tg_kept_traces *kept, uint64_t now_ms,
                            const tg_metric_visitor *v, size_t max_points, int *done) {
  int rc = 0;
  size_t visited = 0;
  while (!rc && c->family < 2 && visited < max_points) {
    const tg_mfamily *f = c->family == 0 ? calls : duration;
    if (!f) {
      c->family++;
      continue;
    }
    if (!c->family_started) {
      c->family_started = 1;
      rc = v->family(v->ctx, f);
      continue;
    }
    if (c->pos == c->n) {
      c->family++;
      c->pos = 0;
      c->family_started = 0;
      continue;
    }
    tg_sm_series *s = c->series[c->pos++];
    if (c->family == 0 && s->ex) /* exemplars resolved once per scrape, before use */
      resolve_candidates(t, s, kept, now_ms);
    tg_mpoint p;
    if (point_of(t, s, c->family == 1, &p))
      rc = v->point(v->ctx, f, &p);
    visited++;
  }
  *done = c->family >= 2;
  return rc;
}

void tg_sm_table_cursor_close(tg_sm_table *t, tg_sm_cursor *c) {
  if (!c)
    return;
  if (t->pins)
    t->pins--;
  tg_free(c->series);
  tg_free(c);
}
