/* Encoding metric sources as Prometheus remote-write WriteRequests (protobuf, by hand:
 * see remote_write.proto for the schema). Pure: no I/O; exposed for the exporter and
 * tests. */
#ifndef TG_PRW_ENCODE_H
#define TG_PRW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_metric_source.h"

typedef struct tg_prw_opts {
  const tg_mlabel *external_labels; /* added to every series (sorted by the encoder) */
  size_t n_external;
  const char *name_prefix;          /* "ns_" or NULL */
  int64_t timestamp_ms;             /* the samples' timestamp */
  size_t max_request_bytes;         /* start a new request past this many bytes (>0) */
  /* Called with each finished, uncompressed WriteRequest; takes nothing (copy it).
   * Non-zero stops encoding and is returned. */
  int (*emit)(void *ctx, const uint8_t *data, size_t len, size_t n_series);
  void *ctx;
} tg_prw_opts;

/* Visits every source and emits WriteRequests: counters as <name>_total, histograms as
 * <name>_bucket{le} (cumulative, +Inf included), <name>_sum and <name>_count, each series
 * with sorted labels (__name__ first). Returns TG_OK, TG_ENOMEM or emit's code. */
int tg_prw_encode(const tg_metric_source *const *sources, size_t n_sources,
                  const tg_prw_opts *opts);

#endif
