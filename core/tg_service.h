/* The service: the host every component instance runs in. It owns the libuv loop, the
 * logger, the self-metrics registry, the instances and the pipeline graph built from the
 * configuration; components reach the host only through the fields below.
 *
 * Threads: the loop thread runs receivers, processors and the telemetry endpoints;
 * exporters send from threads of their own and touch the host only through atomic
 * metric cells and the (thread-safe) logger. */
#ifndef TG_SERVICE_H
#define TG_SERVICE_H

#include <stdint.h>

#include <uv.h>

#include "tg_component.h"
#include "tg_kept_traces.h"
#include "tg_log.h"
#include "tg_metrics.h"

struct tg_config;

struct tg_service {
  uv_loop_t *loop;
  tg_logger *log;
  tg_metrics *metrics;
  uint64_t shutdown_grace_ms; /* how long stop may take before a forced exit */
  struct tg_service_graph *graph; /* private to tg_service.c / tg_pipeline.c */
  tg_kept_traces *kept; /* traces samplers kept (tg_kept_traces.h); made by tg_service_build */
  struct tg_shared_routes *shared_routes; /* routes served on another component's listener
                                             (tg_shared_routes.h); NULL until used */
  int debug_endpoints;  /* service.telemetry.debug_endpoints: instances keep what
                           the /debug/sampling route asks about (set before tg_service_build) */
  struct tg_selftrace *selftrace; /* tailgate's own spans (tg_selftrace.h); NULL = off */
  int draining; /* set by main on a signal with shutdown_drain: not ready, still running */
  const struct tg_config *config; /* what tg_service_build was given (for read-only pages
                                     such as zpages); the caller keeps it alive */
};

/* Builds every instance and wires the pipelines of a validated config (no I/O).
 * Returns TG_OK or an error with detail in err; on error nothing is left allocated. */
int tg_service_build(tg_service *svc, const struct tg_config *config, tg_errbuf *err);

/* Starts exporters first, then processors, then receivers, so nothing receives before
 * its downstream runs. On failure stops what started and returns the error. */
int tg_service_start(tg_service *svc, tg_errbuf *err);

/* Stops receivers first (no new data), then processors (flush), then exporters (drain,
 * bounded by shutdown_grace_ms); calls done(svc) when every instance reported done. */
void tg_service_stop(tg_service *svc, void (*done)(tg_service *svc));

/* Frees every instance and the graph; safe after a failed build, safe twice. */
void tg_service_destroy(tg_service *svc);

/* Health: 1 when every instance reports ready. */
int tg_service_ready(const tg_service *svc);

/* Instances for telemetry and tests; kind filter, NULL when index is past the end. */
tg_instance *tg_service_instance(const tg_service *svc, size_t index);

#endif
