/* Rendering of metric sources (core/tg_metric_source.h) as Prometheus text format 0.0.4
 * or OpenMetrics 1.0 text. Pure: no I/O; used by the exporter at scrape time and by tests.
 */
#ifndef TG_PROM_RENDER_H
#define TG_PROM_RENDER_H

#include <stddef.h>

#include "tg_buf.h"
#include "tg_metric_source.h"

typedef enum tg_prom_format { TG_PROM_TEXT, TG_PROM_OPENMETRICS } tg_prom_format;

typedef struct tg_prom_render_opts {
  tg_prom_format format;
  const char *name_prefix;  /* "ns_" prepended to family names, or NULL */
  const char *const_labels; /* rendered `a="x",b="y"` added to every series, or NULL */
  uint64_t timestamp_ms;    /* send_timestamps: written after every sample; 0 = none */
  int resource_labels;      /* resource_to_telemetry_conversion: resource-only labels too */
  int no_suffixes;          /* add_metric_suffixes false: no unit suffix, and no _total in
                               text 0.0.4 (OpenMetrics requires it on counter samples) */
  uint64_t expire_ms;       /* metric_expiration: leave out series idle this long (0 = off) */
  uint64_t now_mono_ms;     /* for expire_ms */
} tg_prom_render_opts;

/* Appends every family of every source to out. OpenMetrics output carries exemplars and
 * ends with "# EOF\n"; text output carries no exemplars. Returns TG_OK, TG_ENOMEM or
 * TG_ETOOBIG (out's limit). On error out holds a partial rendering. */
int tg_prom_render(const tg_metric_source *const *sources, size_t n_sources,
                   const tg_prom_render_opts *opts, tg_buf *out);

/* The same rendering in slices, for a scrape streamed across loop iterations. new copies
 * the source array (the sources themselves and opts must outlive the stream); NULL on
 * ENOMEM. next appends text until out holds at least max_bytes (one point more at most)
 * or the rendering is complete (*done = 1, "# EOF" included for OpenMetrics); sources
 * with a cursor (tg_metric_source.open) are visited a few points at a time, others in
 * one go. TG_OK, TG_ENOMEM or the limit of out (TG_ETOOBIG). free closes an open cursor;
 * NULL is fine. */
typedef struct tg_prom_stream tg_prom_stream;
tg_prom_stream *tg_prom_stream_new(const tg_metric_source *const *sources, size_t n_sources,
                                   const tg_prom_render_opts *opts);
int tg_prom_stream_next(tg_prom_stream *s, tg_buf *out, size_t max_bytes, int *done);
void tg_prom_stream_free(tg_prom_stream *s);

/* Appends v in the shortest form that reads back exactly ("+Inf", "2", "0.005"; with
 * om_canonical integers get ".0" as OpenMetrics prefers for le). Exposed for tests. */
int tg_prom_append_double(tg_buf *out, double v, int om_canonical);

/* Chooses the format from an Accept header (NULL = text): OpenMetrics when the client
 * lists application/openmetrics-text with a q above that of text/plain (Prometheus's
 * own negotiation), text otherwise. */
tg_prom_format tg_prom_negotiate(const char *accept);

#endif
