/* Reads one series of the processors' self-metrics from the rendered exposition, as a
 * scrape of /metrics would see it, so tests assert the text an operator gets rather than
 * a cell pointer. Header-only: shared by the processor tests. */
#ifndef TG_TEST_DROP_METRICS_H
#define TG_TEST_DROP_METRICS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_arena.h"
#include "tg_buf.h"
#include "tg_metrics.h"

/* The value of the series `series` (name and labels exactly as rendered, e.g.
 * `x_total{processor="p"}`) in the exposition, or -1 when it is not rendered at all. */
static inline long long rendered_series(tg_metrics *m, const char *series) {
  tg_buf out;
  tg_buf_init(&out, 0);
  if (tg_metrics_render(m, &out) != 0 || tg_buf_append(&out, "", 1) != 0) {
    tg_buf_free(&out);
    return -2;
  }
  char needle[256];
  snprintf(needle, sizeof needle, "\n%s ", series);
  const char *at = strstr((const char *)out.data, needle);
  long long v = at ? strtoll(at + strlen(needle), NULL, 10) : -1;
  tg_buf_free(&out);
  return v;
}

/* tailgate_processor_dropped_spans_total{processor="<processor>"} */
static inline long long dropped_spans(tg_metrics *m, const char *processor) {
  char series[200];
  snprintf(series, sizeof series, "tailgate_processor_dropped_spans_total{processor=\"%s\"}",
           processor);
  return rendered_series(m, series);
}

/* Leaves the arena no room at all: the limit is what it has reserved and the current
 * chunk is used up, so the next allocation fails as out of memory would. */
static inline void exhaust_arena(tg_arena *a) {
  a->limit_bytes = a->reserved_bytes;
  while (tg_arena_alloc(a, 8))
    ;
}

#endif
