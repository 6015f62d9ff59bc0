/* Small builders for OTLP attribute trees in an arena, and a loader that turns YAML text
 * into a component's conf through the real config loader (key tables, conf_check). Shared
 * by the redaction and attributes processor tests. */
#ifndef TG_TEST_ATTR_BUILDERS_H
#define TG_TEST_ATTR_BUILDERS_H

#include <stdarg.h>
#include <string.h>

#include "tg_arena.h"
#include "tg_config.h"
#include "tg_span-t.h"

static inline tg_any_value *av_str(tg_arena *a, const char *s) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = tg_arena_strndup(a, s, strlen(s));
  return v;
}

static inline tg_any_value *av_int(tg_arena *a, int64_t i) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v->int_value = i;
  return v;
}

static inline tg_key_value *kv(tg_arena *a, const char *key, tg_any_value *v) {
  tg_key_value *k = tg_arena_alloc(a, sizeof *k);
  opentelemetry__proto__common__v1__key_value__init(k);
  k->key = tg_arena_strndup(a, key, strlen(key));
  k->value = v;
  return k;
}

/* An array value of n AnyValues. */
static inline tg_any_value *av_array(tg_arena *a, size_t n, ...) {
  tg_array_value *arr = tg_arena_alloc(a, sizeof *arr);
  opentelemetry__proto__common__v1__array_value__init(arr);
  arr->values = tg_arena_alloc(a, (n ? n : 1) * sizeof *arr->values);
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++)
    arr->values[i] = va_arg(ap, tg_any_value *);
  va_end(ap);
  arr->n_values = n;
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  v->array_value = arr;
  return v;
}

/* A kvlist value of n KeyValues. */
static inline tg_any_value *av_kvlist(tg_arena *a, size_t n, ...) {
  tg_kvlist_value *l = tg_arena_alloc(a, sizeof *l);
  opentelemetry__proto__common__v1__key_value_list__init(l);
  l->values = tg_arena_alloc(a, (n ? n : 1) * sizeof *l->values);
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++)
    l->values[i] = va_arg(ap, tg_key_value *);
  va_end(ap);
  l->n_values = n;
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
  v->kvlist_value = l;
  return v;
}

/* An attribute list of n KeyValues (array in the arena). */
static inline tg_key_value **kv_list(tg_arena *a, size_t n, ...) {
  tg_key_value **list = tg_arena_alloc(a, (n ? n : 1) * sizeof *list);
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++)
    list[i] = va_arg(ap, tg_key_value *);
  va_end(ap);
  return list;
}

static inline const tg_any_value *attr_get(tg_key_value **attrs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (attrs[i] && attrs[i]->key && !strcmp(attrs[i]->key, key))
      return attrs[i]->value;
  return NULL;
}

static inline const char *attr_str(tg_key_value **attrs, size_t n, const char *key) {
  const tg_any_value *v = attr_get(attrs, n, key);
  return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
             ? v->string_value
             : NULL;
}

#endif
