/* The pipeline graph: instances wired by service.pipelines. Private to the service
 * (tg_service.c); exposed for unit tests. */
#ifndef TG_PIPELINE_H
#define TG_PIPELINE_H

#include <stddef.h>

#include "tg_component.h"

struct tg_config;

/* Delivers one batch to several consumers: read-only consumers share it by reference,
 * consumers that mutate get a clone, and wire segments are decoded once before sharing
 * when any consumer reads spans. When any consumer answers TG_EAGAIN, the caller keeps its
 * reference (TG_EAGAIN: not taken) while consumers that accepted hold their own, so the
 * client retries and those consumers see the data again (at-least-once, as the
 * Collector's fan-out). Otherwise the first error, or TG_OK. */
enum { TG_FANOUT_MUTATES = 1, TG_FANOUT_READS = 2 };

typedef struct tg_fanout {
  tg_consumer *targets;
  int *flags; /* TG_FANOUT_* per target, from the consumer's descriptor */
  size_t n;
} tg_fanout;

int tg_fanout_consume(void *fanout, tg_batch *batch);

typedef struct tg_service_graph {
  tg_instance **instances; /* creation order */
  size_t n_instances;
  tg_fanout **fanouts;
  size_t n_fanouts;
  size_t n_started;        /* instances started, in start order */
  tg_instance **order;     /* start order: extensions, exporters, connectors, processors, receivers */
  /* stop in progress */
  size_t stop_index;       /* next position (counting down) in `order` */
  size_t stop_pending;
  void (*stop_done)(struct tg_service *svc);
  int stopping;
} tg_service_graph;

/* Creates every used instance (calling each component's create) and wires consumers.
 * On error returns the code with detail in err and leaves a graph that
 * tg_pipeline_graph_free can free. */
int tg_pipeline_graph_build(struct tg_service *svc, const struct tg_config *config,
                            tg_service_graph **out, tg_errbuf *err);
void tg_pipeline_graph_free(tg_service_graph *graph);

#endif
