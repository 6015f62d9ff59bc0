/* Which self-metrics each service.telemetry.metrics.level shows. The Collector's levels
 * mean "basic: the essential signals, normal: the standard set, detailed: everything,
 * including the costly ones"; tailgate maps its families so:
 *
 * - basic: is data flowing and is it being lost — receiver accepted/refused spans and
 *   refused requests, exporter sent/failed/enqueue-failed spans and queue size/capacity,
 *   dependency health (plus, from collectors, process_*, build info, uptime, config
 *   info, which render at every level but none);
 * - normal (the default): every other counter and gauge (per-service counters, redaction,
 *   tail sampling, span metrics, batch, memory limiter, ...);
 * - detailed: the latency histograms (tailgate_receiver_request_duration_seconds,
 *   tailgate_exporter_send_duration_seconds): one series per bucket per component.
 *
 * A table of names rather than a level argument on every registration, so the many
 * existing callers keep their one-line registrations and the levels read in one place. */
#include <string.h>

#include "tg_metrics.h"

static const char *const basic_families[] = {
    "tailgate_receiver_accepted_spans_total",
    "tailgate_receiver_refused_spans_total",
    "tailgate_receiver_refused_requests_total",
    "tailgate_exporter_sent_spans_total",
    "tailgate_exporter_send_failed_spans_total",
    "tailgate_exporter_enqueue_failed_spans_total",
    "tailgate_exporter_queue_size",
    "tailgate_exporter_queue_capacity",
    "tailgate_dependency_health",
    NULL,
};

tg_mlevel tg_metrics_family_level(const char *name, tg_metric_type type) {
  if (type == TG_METRIC_HISTOGRAM)
    return TG_MLEVEL_DETAILED;
  for (size_t i = 0; basic_families[i]; i++)
    if (!strcmp(basic_families[i], name))
      return TG_MLEVEL_BASIC;
  return TG_MLEVEL_NORMAL;
}
