/* One processor instance run by hand for unit tests: a loop, a silent logger, a service
 * with its own metrics registry and a sink that keeps the last batch passed on.
 * Header-only, shared by the processor tests (each keeps its own config loader, since
 * their error tests assert positions in their own file names). */
#ifndef TG_TEST_PROC_HARNESS_H
#define TG_TEST_PROC_HARNESS_H

#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "tg_component.h"
#include "tg_config.h"
#include "tg_service.h"

typedef struct proc_sink {
  tg_batch *last; /* the last batch passed on (owned) */
  int calls;
} proc_sink;

static inline int proc_sink_consume(void *target, tg_batch *batch) {
  proc_sink *s = target;
  tg_batch_free(s->last);
  s->last = batch;
  s->calls++;
  return TG_OK;
}

typedef struct proc_harness {
  tg_config *cfg;
  uv_loop_t loop;
  tg_logger log;
  tg_service svc;
  proc_sink out;
  tg_instance inst;
} proc_harness;

/* Creates and starts the processor `comp` with id `id` from cfg (taken over; its
 * processor entry is found by comp->type). */
static inline void proc_harness_start(proc_harness *h, tg_config *cfg, const tg_component *comp,
                                      const char *id) {
  h->cfg = cfg;
  uv_loop_init(&h->loop);
  tg_logger_init(&h->log, TG_LOG_NONE, stdout);
  h->svc = (tg_service){.loop = &h->loop, .log = &h->log, .metrics = tg_metrics_new()};
  h->out = (proc_sink){0};
  h->inst = (tg_instance){.component = comp, .id = (char *)id,
                          .conf = tg_config_find(cfg, TG_PROCESSOR, comp->type)->conf,
                          .service = &h->svc, .next = {proc_sink_consume, &h->out}};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&h->inst, &err), TG_OK);
  assert_int_equal(tg_component_start(&h->inst, &err), TG_OK);
}

static inline void proc_harness_stop(proc_harness *h) {
  tg_batch_free(h->out.last);
  tg_component_destroy(&h->inst);
  assert_int_equal(uv_loop_close(&h->loop), 0);
  tg_metrics_free(h->svc.metrics);
  tg_logger_destroy(&h->log);
  tg_config_free(h->cfg);
}

/* Makes b's request one resource with one scope holding spans[0..n) (allocated in b's
 * arena; the spans themselves stay where they are) and sets b's span count. */
static inline void proc_batch_of_spans(tg_batch *b, tg_span *const *spans, size_t n) {
  tg_arena *a = b->arena;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  ss->spans = tg_arena_alloc(a, (n ? n : 1) * sizeof *ss->spans);
  memcpy(ss->spans, spans, n * sizeof *spans);
  ss->n_spans = n;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  rs->scope_spans = tg_arena_alloc(a, sizeof *rs->scope_spans);
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof *b->request.resource_spans);
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = n;
}

#endif
