/* Per-service counters. The families are created on first use and kept in registry
 * slots (tg_metrics_slot), so counting costs one bounded series lookup, no search by
 * family name. Names are sanitised before they become label values: Prometheus needs
 * valid UTF-8, and a bounded length keeps one peer from storing kilobytes per series.
 *
 * Wire form: a ResourceSpans is field 1 Resource { field 1 repeated KeyValue { 1 key,
 * 2 AnyValue { 1 string_value } } }; read with the bounds-checked tg_pbwire readers. */
#include "tg_metrics_service.h"

#include <string.h>

#include "tg_pbwire.h"
#include "tg_span-t.h"

static const char *const family_names[] = {"tailgate_service_received_spans_total",
                                           "tailgate_service_received_traces_total"};
static const char *const family_help[] = {
    "Spans received, by the service.name of their resource (at most 200 services; the "
    "rest count under service_name=\"_overflow_\").",
    "Traces received, counted once when the tail sampler first sees a trace, by the "
    "service.name of its first span's resource (at most 200 services, then "
    "\"_overflow_\")."};

static tg_metric_family *family_of(tg_metrics *reg, tg_metrics_service_kind kind) {
  tg_metric_family *_Atomic *slot = tg_metrics_slot(reg, (int)kind);
  tg_metric_family *f = atomic_load_explicit(slot, memory_order_acquire);
  if (f)
    return f;
  static const char *const labels[] = {"service_name", NULL};
  f = tg_metrics_family(reg, family_names[kind], family_help[kind], TG_METRIC_COUNTER, labels);
  if (!f || tg_metrics_family_bound(f, TG_METRICS_SERVICE_MAX, TG_METRICS_SERVICE_OVERFLOW))
    return NULL;
  atomic_store_explicit(slot, f, memory_order_release);
  return f;
}

/* Length of the valid UTF-8 sequence at p (at most avail bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail) {
  size_t n;
  uint32_t cp;
  if (p[0] < 0x80)
    return 1;
  if ((p[0] & 0xe0) == 0xc0) {
    n = 2;
    cp = p[0] & 0x1f;
  } else if ((p[0] & 0xf0) == 0xe0) {
    n = 3;
    cp = p[0] & 0x0f;
  } else if ((p[0] & 0xf8) == 0xf0) {
    n = 4;
    cp = p[0] & 0x07;
  } else {
    return 0;
  }
  if (avail < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

void tg_metrics_service_sanitize(const char *name, size_t len, char *out, size_t out_size) {
  const unsigned char *p = (const unsigned char *)name;
  size_t max = out_size - 1 < TG_METRICS_SERVICE_NAME_MAX ? out_size - 1
                                                          : TG_METRICS_SERVICE_NAME_MAX;
  size_t o = 0, i = 0;
  while (i < len) {
    size_t n = utf8_seq(p + i, len - i);
    if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
      if (o + 1 > max)
        break;
      out[o++] = '?';
      i++;
      continue;
    }
    if (o + n > max)
      break;
    memcpy(out + o, p + i, n);
    o += n;
    i += n;
  }
  out[o] = '\0';
}

tg_metric_cell *tg_metrics_service_cell(tg_metrics *reg, tg_metrics_service_kind kind,
                                        const char *name, size_t len) {
  if (!reg)
    return NULL;
  tg_metric_family *f = family_of(reg, kind);
  if (!f)
    return NULL;
  char label[TG_METRICS_SERVICE_NAME_MAX + 1];
  if (name)
    tg_metrics_service_sanitize(name, len, label, sizeof label);
  if (!name || !label[0])
    strcpy(label, TG_METRICS_SERVICE_UNKNOWN);
  const char *values[] = {label};
  return tg_metrics_series(f, values);
}

void tg_metrics_service_add(tg_metrics *reg, tg_metrics_service_kind kind, const char *name,
                            size_t len, int64_t n) {
  if (reg && n)
    tg_metric_add(tg_metrics_service_cell(reg, kind, name, len), n);
}

static const char *resource_service(const tg_resource *res, size_t *len) {
  for (size_t i = 0; res && i < res->n_attributes; i++) {
    const tg_key_value *kv = res->attributes[i];
    if (kv && kv->key && !strcmp(kv->key, "service.name") && kv->value &&
        kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
        kv->value->string_value) {
      *len = strlen(kv->value->string_value);
      return kv->value->string_value;
    }
  }
  return NULL;
}

/* Field `number` of wire type LEN from r onwards: 0 with *data and *dlen, -1 when none. */
static int next_len_field(tg_pbwire_reader *r, uint32_t number, const uint8_t **data,
                          size_t *dlen) {
  while (r->p < r->end) {
    uint32_t num;
    int wt;
    uint64_t v;
    const uint8_t *d = NULL;
    size_t l = 0;
    if (tg_pbwire_tag(r, &num, &wt) || tg_pbwire_value(r, wt, &v, &d, &l))
      return -1;
    if (num == number && wt == TG_PB_LEN) {
      *data = d;
      *dlen = l;
      return 0;
    }
  }
  return -1;
}

int tg_metrics_service_name_wire(const uint8_t *rs, size_t len, const char **name,
                                 size_t *name_len) {
  tg_pbwire_reader r = {rs, rs + len};
  const uint8_t *res;
  size_t res_len;
  if (next_len_field(&r, 1, &res, &res_len))
    return -1;
  tg_pbwire_reader rr = {res, res + res_len};
  const uint8_t *kv;
  size_t kv_len;
  while (next_len_field(&rr, 1, &kv, &kv_len) == 0) {
    tg_pbwire_reader k = {kv, kv + kv_len};
    const uint8_t *key = NULL, *val = NULL;
    size_t key_len = 0, val_len = 0;
    while (k.p < k.end) {
      uint32_t num;
      int wt;
      uint64_t v;
      const uint8_t *d = NULL;
      size_t l = 0;
      if (tg_pbwire_tag(&k, &num, &wt) || tg_pbwire_value(&k, wt, &v, &d, &l))
        return -1;
      if (wt == TG_PB_LEN && num == 1) {
        key = d;
        key_len = l;
      } else if (wt == TG_PB_LEN && num == 2) {
        val = d;
        val_len = l;
      }
    }
    if (!key || key_len != 12 || memcmp(key, "service.name", 12) || !val)
      continue;
    tg_pbwire_reader a = {val, val + val_len};
    const uint8_t *s;
    size_t s_len;
    if (next_len_field(&a, 1, &s, &s_len) == 0) {
      *name = (const char *)s;
      *name_len = s_len;
      return 0;
    }
    return -1;
  }
  return -1;
}

void tg_metrics_service_count_batch(tg_metrics *reg, const tg_batch *batch) {
  if (!reg || !batch)
    return;
  const tg_export_request *req = &batch->request;
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    const tg_resource_spans *rs = req->resource_spans[i];
    if (!rs)
      continue;
    int64_t n = 0;
    for (size_t s = 0; s < rs->n_scope_spans; s++)
      if (rs->scope_spans[s])
        n += (int64_t)rs->scope_spans[s]->n_spans;
    size_t len = 0;
    const char *name = resource_service(rs->resource, &len);
    tg_metrics_service_add(reg, TG_METRICS_SERVICE_SPANS, name, len, n);
  }
  for (size_t i = 0; i < batch->n_wire; i++) {
    const char *name = NULL;
    size_t len = 0;
    if (tg_metrics_service_name_wire(batch->wire[i].data, batch->wire[i].len, &name, &len))
      name = NULL;
    tg_metrics_service_add(reg, TG_METRICS_SERVICE_SPANS, name, len,
                           (int64_t)batch->wire[i].span_count);
  }
}

tg_metric_cell *tg_metrics_service_trace_cell(tg_metrics *reg, const uint8_t *rs, size_t len) {
  const char *name = NULL;
  size_t name_len = 0;
  if (!reg)
    return NULL;
  if (!rs || tg_metrics_service_name_wire(rs, len, &name, &name_len))
    name = NULL;
  return tg_metrics_service_cell(reg, TG_METRICS_SERVICE_TRACES, name, name_len);
}

void tg_metrics_service_count_trace(tg_metrics *reg, const uint8_t *rs, size_t len) {
  tg_metric_add(tg_metrics_service_trace_cell(reg, rs, len), 1);
}
