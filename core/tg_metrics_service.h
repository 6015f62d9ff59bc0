/* Spans and traces received per service (tailgate_service_received_spans_total and
 * tailgate_service_received_traces_total{service_name}): the label comes from peers, so
 * each family holds at most TG_METRICS_SERVICE_MAX named series and counts the rest
 * under service_name="_overflow_". Any thread. */
#ifndef TG_METRICS_SERVICE_H
#define TG_METRICS_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_batch.h"
#include "tg_metrics.h"

#define TG_METRICS_SERVICE_MAX 200
#define TG_METRICS_SERVICE_OVERFLOW "_overflow_"
/* Longer service names are cut (at a UTF-8 boundary) to this many bytes. */
#define TG_METRICS_SERVICE_NAME_MAX 128
/* A resource without a string service.name counts as the SDKs' default. */
#define TG_METRICS_SERVICE_UNKNOWN "unknown_service"

typedef enum tg_metrics_service_kind {
  TG_METRICS_SERVICE_SPANS,
  TG_METRICS_SERVICE_TRACES,
} tg_metrics_service_kind;

/* Adds n to the series of service name (len bytes, any bytes: invalid UTF-8 becomes '?',
 * NULL = unknown_service) of the kind's family, creating the family on first use. reg
 * NULL: no-op. */
void tg_metrics_service_add(tg_metrics *reg, tg_metrics_service_kind kind, const char *name,
                            size_t len, int64_t n);

/* The series tg_metrics_service_add adds to, for a caller that counts often under one
 * service and keeps it: the cell lives as long as reg. NULL when reg is NULL or out of
 * memory. */
tg_metric_cell *tg_metrics_service_cell(tg_metrics *reg, tg_metrics_service_kind kind,
                                        const char *name, size_t len);

/* Counts every span of batch (decoded resource spans and wire segments) by its
 * resource's service.name. */
void tg_metrics_service_count_batch(tg_metrics *reg, const tg_batch *batch);

/* Counts one trace for the service of a ResourceSpans in wire form (its bytes, of which
 * only field 1, the Resource, is read; the tail sampler's header). */
void tg_metrics_service_count_trace(tg_metrics *reg, const uint8_t *resource_spans, size_t len);

/* The traces series tg_metrics_service_count_trace adds to (as tg_metrics_service_cell):
 * the tail sampler keeps it with its copy of the header. */
tg_metric_cell *tg_metrics_service_trace_cell(tg_metrics *reg, const uint8_t *resource_spans,
                                              size_t len);

/* The service.name of a ResourceSpans in wire form: *name and *len point into the
 * buffer; 0 when found, -1 otherwise (malformed or absent). */
int tg_metrics_service_name_wire(const uint8_t *resource_spans, size_t len, const char **name,
                                 size_t *name_len);

/* Writes name (len bytes) as a label value into out (size > TG_METRICS_SERVICE_NAME_MAX):
 * cut at TG_METRICS_SERVICE_NAME_MAX bytes on a character boundary, invalid UTF-8 and
 * control bytes replaced by '?'. */
void tg_metrics_service_sanitize(const char *name, size_t len, char *out, size_t out_size);

#endif
