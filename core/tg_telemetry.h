/* The gateway's own /metrics endpoint (service.telemetry.metrics.address): the
 * self-metrics registry plus process metrics (CPU seconds, RSS, open fds, start time)
 * and build info, in Prometheus text format. */
#ifndef TG_TELEMETRY_H
#define TG_TELEMETRY_H

#include <uv.h>

#include "tg_error.h"
#include "tg_log.h"
#include "tg_metrics.h"

typedef struct tg_telemetry tg_telemetry;

struct tg_service;

/* Registers the process collector in metrics and, when address is non-NULL and
 * non-empty, serves GET /metrics there. With debug_service non-NULL
 * (service.telemetry.debug_endpoints) it also serves GET /debug/sampling?trace_id=HEX:
 * every instance of that service is asked about the trace (tg_component_debug_trace);
 * 200 with their answers, 404 when none knows it, 400 for a malformed ID. The service
 * must outlive the telemetry. NULL + err on failure (address in use). */
tg_telemetry *tg_telemetry_start(uv_loop_t *loop, tg_metrics *metrics, tg_logger *log,
                                 const char *address, struct tg_service *debug_service,
                                 tg_errbuf *err);

/* Closes the listener; done(ctx) runs once it is closed and the telemetry is freed. */
void tg_telemetry_stop(tg_telemetry *tel, void (*done)(void *ctx), void *ctx);

/* Appends the process_* families and tailgate_build_info, and with ctx (a telemetry)
 * tailgate_uptime_seconds and tailgate_config_info (also used by tests). */
void tg_telemetry_collect_process(void *ctx, tg_buf *out);

/* Sets the sha256 label of tailgate_config_info (16 hex digits; copied). Until set, the
 * family is not rendered. tel NULL: no-op. */
void tg_telemetry_set_config_hash(tg_telemetry *tel, const char *sha256_prefix);

/* For the zpages extension: when the telemetry started (uv_hrtime), and the hash set
 * above ("" = none). */
uint64_t tg_telemetry_start_mono_ns(const tg_telemetry *tel);
const char *tg_telemetry_config_hash(const tg_telemetry *tel);

#endif
