/* OTLP metrics out: a metric source (tg_metric_source.h) encoded as
 * ExportMetricsServiceRequest messages (proto/metrics.proto, metrics_service.proto), and
 * the consume op the otlp and otlphttp exporters use so a metrics pipeline can end in
 * them. Lives in core because both exporters use it (components never include each
 * other). */
#ifndef TG_OTLP_METRICS_H
#define TG_OTLP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tg_metric_source.h"

struct tg_instance;
struct tg_batch;

/* Receives one encoded ExportMetricsServiceRequest (owned by the callee from then on,
 * tg_free) holding n_points data points. Non-zero stops the encoding and is returned. */
typedef int (*tg_otlp_metrics_emit_fn)(void *ctx, uint8_t *data, size_t len, size_t n_points);

/* Visits src (collect) and encodes what it visits: one ResourceMetrics per distinct set
 * of resource labels (TG_MLABEL_RESOURCE / _BOTH: service.name and the resource key
 * attributes), one ScopeMetrics ("tailgate.spanmetrics"), one Metric per family (a
 * monotonic Sum for counters, a Histogram, an ExponentialHistogram), delta or cumulative
 * as src says. Points whose time_unix_nano is 0 are stamped now_unix_nano. Requests are
 * cut between resources once one passes max_request_bytes (0 = no limit). Returns 0, the
 * emitter's code, or TG_ENOMEM. A source with nothing to report emits nothing. */
int tg_otlp_metrics_encode(const tg_metric_source *src, uint64_t now_unix_nano,
                           size_t max_request_bytes, tg_otlp_metrics_emit_fn emit, void *ctx);

struct tg_export_queue;

/* One flush of src into q without encoding on the calling (loop) thread: takes a
 * snapshot of src (tg_metric_snapshot.h) and queues it as a deferred metrics item that a
 * sender thread encodes as tg_otlp_metrics_encode(snapshot, now_unix_nano, 3 MiB) would.
 * *n_points receives the points snapshotted (0 when the source had none: nothing is
 * queued). Returns TG_OK, the snapshot's error (TG_ENOMEM, collect's code; *n_points 0),
 * or the queue's refusal (TG_EAGAIN, TG_ECLOSED, TG_EUNSUPPORTED; *n_points lost). */
int tg_otlp_metrics_push(struct tg_export_queue *q, const tg_metric_source *src,
                         uint64_t now_unix_nano, size_t *n_points);

/* The consume op of the otlp and otlphttp exporters: a batch announcing a metric source
 * subscribes to its flushes (each flush is snapshotted on the loop thread and queued with
 * tg_otlp_metrics_push on the instance's sending queue: the first field of self->state);
 * any other batch goes to tg_queued_exporter_consume. Returns as consume does. */
int tg_otlp_exporter_consume(struct tg_instance *self, struct tg_batch *batch);

/* gRPC method of OTLP metrics export. */
#define TG_OTLP_METRICS_METHOD "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

#endif
