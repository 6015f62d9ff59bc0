/* Helpers for the tail_sampling unit tests: configs from YAML text, and OTLP batches
 * built with protobuf-c (so the bytes are what a real sender produces). */
#ifndef TS_TEST_UTIL_H
#define TS_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "tg_batch.h"
#include "tg_diag.h"
#include "tg_yaml.h"
#include "ts_conf.h"

/* Parses `yaml` (the processor's settings) into conf; returns the number of problems,
 * printing them. */
static inline size_t ts_test_conf(const char *yaml, tg_ts_conf *conf, tg_diag *diag) {
  tg_diag_init(diag);
  tg_yaml_doc *doc = tg_yaml_parse("test.yaml", yaml, strlen(yaml), diag);
  memset(conf, 0, sizeof *conf);
  if (doc) {
    const tg_yaml_node *root = tg_yaml_root(doc);
    tg_conf_apply(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, root, conf, "processors::tail_sampling",
                  diag);
    tg_ts_conf_check(conf, root, "processors::tail_sampling", diag);
    tg_yaml_free(doc);
  }
  return tg_diag_count(diag);
}

typedef struct ts_test_span {
  uint8_t trace;       /* trace id = 16 bytes, last byte varies */
  uint64_t trace_high; /* the random low half for probabilistic tests */
  uint8_t span;
  int status;          /* 0 unset, 1 ok, 2 error */
  uint64_t start_ms, end_ms;
  const char *attr_key;
  const char *attr_str;
  int64_t attr_int;
  int has_int;
  const char *trace_state;
} ts_test_span;

/* Makes a decoded batch: one resource (service.name = service), one scope, the spans. */
static inline tg_batch *ts_test_batch(const char *service, const ts_test_span *spans, size_t n) {
  tg_batch *b = tg_batch_new(4096, 0);
  tg_arena *a = b->arena;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  tg_resource *res = tg_arena_alloc(a, sizeof *res);
  opentelemetry__proto__resource__v1__resource__init(res);
  tg_key_value *kv = tg_arena_alloc(a, sizeof *kv);
  opentelemetry__proto__common__v1__key_value__init(kv);
  tg_any_value *av = tg_arena_alloc(a, sizeof *av);
  opentelemetry__proto__common__v1__any_value__init(av);
  av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  av->string_value = (char *)service;
  kv->key = "service.name";
  kv->value = av;
  res->attributes = tg_arena_alloc(a, sizeof *res->attributes);
  res->attributes[0] = kv;
  res->n_attributes = 1;
  rs->resource = res;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  tg_scope *scope = tg_arena_alloc(a, sizeof *scope);
  opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
  scope->name = "unit";
  ss->scope = scope;
  ss->spans = tg_arena_alloc(a, n * sizeof *ss->spans + 1);
  for (size_t i = 0; i < n; i++) {
    tg_span *s = tg_arena_alloc(a, sizeof *s);
    opentelemetry__proto__trace__v1__span__init(s);
    uint8_t *tid = tg_arena_alloc(a, 16), *sid = tg_arena_alloc(a, 8);
    memset(tid, 0, 16);
    tid[0] = 1;
    for (int k = 0; k < 8; k++)
      tid[8 + k] = (uint8_t)(spans[i].trace_high >> (56 - 8 * k));
    tid[15] ^= spans[i].trace;
    memset(sid, 0, 8);
    sid[0] = 1;
    sid[7] = spans[i].span;
    s->trace_id = (ProtobufCBinaryData){16, tid};
    s->span_id = (ProtobufCBinaryData){8, sid};
    s->name = "op";
    s->start_time_unix_nano = (uint64_t)spans[i].start_ms * 1000000u + 1700000000000000000ull;
    s->end_time_unix_nano = (uint64_t)spans[i].end_ms * 1000000u + 1700000000000000000ull;
    if (spans[i].trace_state)
      s->trace_state = (char *)spans[i].trace_state;
    if (spans[i].status) {
      tg_span_status *st = tg_arena_alloc(a, sizeof *st);
      opentelemetry__proto__trace__v1__status__init(st);
      st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)spans[i].status;
      s->status = st;
    }
    if (spans[i].attr_key) {
      tg_key_value *skv = tg_arena_alloc(a, sizeof *skv);
      opentelemetry__proto__common__v1__key_value__init(skv);
      tg_any_value *sav = tg_arena_alloc(a, sizeof *sav);
      opentelemetry__proto__common__v1__any_value__init(sav);
      if (spans[i].has_int) {
        sav->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        sav->int_value = spans[i].attr_int;
      } else {
        sav->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        sav->string_value = (char *)spans[i].attr_str;
      }
      skv->key = (char *)spans[i].attr_key;
      skv->value = sav;
      s->attributes = tg_arena_alloc(a, sizeof *s->attributes);
      s->attributes[0] = skv;
      s->n_attributes = 1;
    }
    ss->spans[i] = s;
  }
  ss->n_spans = n;
  rs->scope_spans = tg_arena_alloc(a, sizeof *rs->scope_spans);
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof *b->request.resource_spans);
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = n;
  return b;
}

#endif
