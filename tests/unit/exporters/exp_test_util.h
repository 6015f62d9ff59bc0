/* Shared fixtures for the exporter tests: a host service (logger, metrics), an instance
 * configured from YAML text through the real key table, and batches to send. */
#ifndef TG_EXP_TEST_UTIL_H
#define TG_EXP_TEST_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tg_alloc.h"
#include "tg_batch.h"
#include "tg_component.h"
#include "tg_conf.h"
#include "tg_diag.h"
#include "tg_metrics.h"
#include "tg_service.h"
#include "tg_yaml.h"

typedef struct exp_fixture {
  tg_service svc;
  tg_logger log;
  tg_instance inst;
  tg_yaml_doc *doc;
  int stopped;
} exp_fixture;

static inline uint64_t exp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Polls expr every 5 ms until true or timeout_ms pass (a deadline-bounded wait). */
#define EXP_WAIT_FOR(expr, timeout_ms)                                              \
  do {                                                                              \
    uint64_t ewf_deadline_ = exp_now_ms() + (timeout_ms);                           \
    while (!(expr) && exp_now_ms() < ewf_deadline_) {                               \
      struct timespec ewf_ts_ = {0, 5 * 1000000L};                                  \
      nanosleep(&ewf_ts_, NULL);                                                    \
    }                                                                               \
  } while (0)

/* Configures (defaults + yaml) and creates an instance. Returns the create result; the
 * config must validate (diag printed and -1 returned otherwise). */
static inline int exp_setup(exp_fixture *fx, const tg_component *c, const char *id,
                            const char *yaml, tg_errbuf *err) {
  memset(fx, 0, sizeof *fx);
  tg_logger_init(&fx->log, TG_LOG_WARN, stderr);
  fx->svc.log = &fx->log;
  fx->svc.metrics = tg_metrics_new();
  fx->svc.shutdown_grace_ms = 2000;
  fx->inst.component = c;
  fx->inst.id = tg_strdup(id);
  fx->inst.service = &fx->svc;
  fx->inst.conf = tg_calloc(1, c->conf_size ? c->conf_size : 1);
  tg_diag diag;
  tg_diag_init(&diag);
  const tg_yaml_node *node = NULL;
  if (yaml) {
    fx->doc = tg_yaml_parse("test.yaml", yaml, strlen(yaml), &diag);
    node = fx->doc ? tg_yaml_root(fx->doc) : NULL;
  }
  tg_conf_apply(c->keys, c->n_keys, node, fx->inst.conf, id, &diag);
  if (c->conf_check && !tg_diag_failed(&diag))
    c->conf_check(fx->inst.conf, node, id, &diag);
  if (tg_diag_failed(&diag)) {
    tg_diag_print(&diag, stderr);
    snprintf(err->msg, sizeof err->msg, "%s", diag.n ? diag.lines[0] : "config");
    tg_diag_free(&diag);
    return -1;
  }
  tg_diag_free(&diag);
  return tg_component_create(&fx->inst, err);
}

static void exp_done(tg_instance *self) {
  exp_fixture *fx = (exp_fixture *)((char *)self - offsetof(exp_fixture, inst));
  fx->stopped = 1;
}

static inline void exp_stop(exp_fixture *fx) {
  tg_component_stop(&fx->inst, exp_done);
}

static inline void exp_teardown(exp_fixture *fx) {
  tg_component_destroy(&fx->inst);
  tg_component_destroy(&fx->inst); /* safe twice */
  tg_conf_release(fx->inst.component->keys, fx->inst.component->n_keys, fx->inst.conf);
  tg_free(fx->inst.conf);
  tg_free(fx->inst.id);
  if (fx->doc)
    tg_yaml_free(fx->doc);
  tg_metrics_free(fx->svc.metrics);
  tg_logger_destroy(&fx->log);
}

static inline int64_t exp_metric(exp_fixture *fx, const char *name, tg_metric_type type) {
  static const char *const labels[] = {"exporter", NULL};
  const char *values[] = {fx->inst.id};
  return tg_metric_get(tg_metrics_series(
      tg_metrics_family(fx->svc.metrics, name, "", type, labels), values));
}
#define EXP_SENT(fx) exp_metric(fx, "tailgate_exporter_sent_spans_total", TG_METRIC_COUNTER)
#define EXP_FAILED(fx) \
  exp_metric(fx, "tailgate_exporter_send_failed_spans_total", TG_METRIC_COUNTER)

/* A decoded batch of one resource (service.name=svc) with n spans named "span<i>". */
static inline tg_batch *exp_batch(size_t n) {
  tg_arena *a = tg_arena_new(0, 0);
  tg_export_request req;
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  tg_resource *res = tg_arena_alloc(a, sizeof *res);
  opentelemetry__proto__resource__v1__resource__init(res);
  tg_key_value *kv = tg_arena_alloc(a, sizeof *kv);
  opentelemetry__proto__common__v1__key_value__init(kv);
  tg_any_value *av = tg_arena_alloc(a, sizeof *av);
  opentelemetry__proto__common__v1__any_value__init(av);
  av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  av->string_value = (char *)"svc";
  kv->key = (char *)"service.name";
  kv->value = av;
  res->n_attributes = 1;
  res->attributes = tg_arena_alloc(a, sizeof(void *));
  res->attributes[0] = kv;
  rs->resource = res;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  rs->n_scope_spans = 1;
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  ss->n_spans = n;
  ss->spans = tg_arena_alloc(a, n * sizeof(void *));
  for (size_t s = 0; s < n; s++) {
    tg_span *span = tg_arena_alloc(a, sizeof *span);
    opentelemetry__proto__trace__v1__span__init(span);
    char name[32];
    snprintf(name, sizeof name, "span%zu", s);
    span->name = tg_arena_strndup(a, name, strlen(name));
    uint8_t *tid = tg_arena_calloc(a, 1, 16);
    tid[15] = (uint8_t)(s + 1);
    span->trace_id.data = tid;
    span->trace_id.len = 16;
    uint8_t *sid = tg_arena_calloc(a, 1, 8);
    sid[7] = (uint8_t)(s + 1);
    span->span_id.data = sid;
    span->span_id.len = 8;
    ss->spans[s] = span;
  }
  req.n_resource_spans = 1;
  req.resource_spans = tg_arena_alloc(a, sizeof(void *));
  req.resource_spans[0] = rs;
  size_t len = protobuf_c_message_get_packed_size(&req.base);
  uint8_t *buf = tg_malloc(len);
  protobuf_c_message_pack(&req.base, buf);
  tg_arena_unref(a);
  tg_batch *b = tg_batch_new(256, 0);
  if (tg_batch_decode_otlp(b, buf, len) != TG_OK) {
    tg_batch_free(b);
    b = NULL;
  }
  tg_free(buf);
  return b;
}

#endif
