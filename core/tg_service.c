/* The service: builds the graph, starts instances in dependency order (downstream
 * first) and stops them in reverse, one kind at a time, waiting for every asynchronous
 * stop of a phase before starting the next (receivers stop taking data before
 * processors flush into exporters, which drain last). Processors stop one by one,
 * upstream first, so each flushes into a processor that still runs. */
#include "tg_service.h"

#include "tg_config.h"
#include "tg_pipeline.h"
#include "tg_shared_routes.h"

/* Kept trace IDs remembered for exemplars: 16 bytes each, 1 MiB in all. */
#define KEPT_TRACES_CAPACITY 65536

int tg_service_build(tg_service *svc, const tg_config *config, tg_errbuf *err) {
  tg_service_graph *graph = NULL;
  if (!svc->kept && !(svc->kept = tg_kept_traces_new(KEPT_TRACES_CAPACITY)))
    return tg_errf(err, TG_ENOMEM, "out of memory");
  svc->config = config;
  int rc = tg_pipeline_graph_build(svc, config, &graph, err);
  if (rc != TG_OK) {
    tg_pipeline_graph_free(graph);
    tg_kept_traces_free(svc->kept);
    svc->kept = NULL;
    tg_shared_routes_free(svc);
    return rc;
  }
  svc->graph = graph;
  return TG_OK;
}

static void stop_phase(tg_service *svc);

static void on_instance_stopped(tg_instance *inst) {
  tg_service *svc = inst->service;
  tg_service_graph *g = svc->graph;
  TG_LOG_DEBUG(svc->log, inst->id, "stopped");
  if (--g->stop_pending == 0)
    stop_phase(svc);
}

/* Stops every started instance of the kind at the end of the not-yet-stopped range. */
static void stop_phase(tg_service *svc) {
  tg_service_graph *g = svc->graph;
  if (g->stop_index == 0) {
    g->stopping = 0;
    if (g->stop_done)
      g->stop_done(svc);
    return;
  }
  tg_component_kind kind = g->order[g->stop_index - 1]->component->kind;
  size_t first = g->stop_index;
  /* Processors stop one at a time, upstream first (a pipeline's processors are created,
   * hence started, downstream first): a processor that flushes at stop, such as the tail
   * sampler deciding every pending trace, still has a running processor behind it. */
  if (kind == TG_PROCESSOR)
    first--;
  else
    while (first > 0 && g->order[first - 1]->component->kind == kind)
      first--;
  size_t last = g->stop_index;
  g->stop_index = first;
  g->stop_pending = 1 + (last - first); /* +1 holds the phase open while we iterate */
  for (size_t i = last; i-- > first;)
    tg_component_stop(g->order[i], on_instance_stopped);
  if (--g->stop_pending == 0)
    stop_phase(svc);
}

int tg_service_start(tg_service *svc, tg_errbuf *err) {
  tg_service_graph *g = svc->graph;
  for (; g->n_started < g->n_instances; g->n_started++) {
    tg_instance *inst = g->order[g->n_started];
    tg_errbuf detail = {{0}};
    int rc = tg_component_start(inst, &detail);
    if (rc != TG_OK) {
      return tg_errf(err, rc, "%s %s: %s", tg_component_kind_name(inst->component->kind),
                     inst->id, detail.msg[0] ? detail.msg : tg_strerror(rc));
    }
    TG_LOG_DEBUG(svc->log, inst->id, "started");
  }
  return TG_OK;
}

void tg_service_stop(tg_service *svc, void (*done)(tg_service *svc)) {
  tg_service_graph *g = svc->graph;
  if (!g || g->stopping) {
    if (!g && done)
      done(svc);
    return;
  }
  g->stopping = 1;
  g->stop_done = done;
  g->stop_index = g->n_started;
  g->n_started = 0;
  stop_phase(svc);
}

void tg_service_destroy(tg_service *svc) {
  tg_pipeline_graph_free(svc->graph);
  svc->graph = NULL;
  tg_kept_traces_free(svc->kept);
  svc->kept = NULL;
  tg_shared_routes_free(svc);
}

int tg_service_ready(const tg_service *svc) {
  const tg_service_graph *g = svc->graph;
  if (!g || svc->draining || g->stopping || g->n_started < g->n_instances)
    return 0;
  for (size_t i = 0; i < g->n_instances; i++)
    if (g->instances[i]->component->kind != TG_EXTENSION &&
        !tg_component_ready(g->instances[i]))
      return 0;
  return 1;
}

tg_instance *tg_service_instance(const tg_service *svc, size_t index) {
  const tg_service_graph *g = svc->graph;
  return g && index < g->n_instances ? g->instances[index] : NULL;
}
