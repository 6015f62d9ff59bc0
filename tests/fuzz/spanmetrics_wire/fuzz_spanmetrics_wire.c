/* libFuzzer target: bytes as one ResourceSpans wire segment → spanmetrics' wire reader
 * (every span, its attributes and its resource's), differentially against protobuf-c:
 * whenever protobuf-c decodes the bytes, the reader must see the same spans with the same
 * name, kind, status code, times and ids, and never read out of bounds (ASan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processors/spanmetrics/spanmetrics_wire.h"
#include "tg_span-t.h"

#define MAX_SPANS 4096

typedef struct seen {
  tg_sm_wire_span spans[MAX_SPANS];
  size_t n;
} seen;

static seen g_seen;

static int on_span(void *ctx, const tg_sm_wire_span *s) {
  seen *sn = ctx;
  char buf[32];
  tg_sm_bytes v;
  tg_sm_wire_attr(s->msg, 9, "http.method", 11, &v, buf, sizeof buf);
  tg_sm_wire_attr(s->resource, 1, "service.name", 12, &v, buf, sizeof buf);
  if (sn->n < MAX_SPANS)
    sn->spans[sn->n] = *s;
  sn->n++;
  return 0;
}

static int same_bytes(tg_sm_bytes a, ProtobufCBinaryData b) {
  return a.len == b.len && (!a.len || !memcmp(a.p, b.data, a.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  g_seen.n = 0;
  int rc = tg_sm_wire_each_span(data, size, on_span, &g_seen);
  tg_resource_spans *rs = opentelemetry__proto__trace__v1__resource_spans__unpack(NULL, size, data);
  if (!rs)
    return 0;
  if (rc != 0)
    abort(); /* protobuf-c read it: so must we */
  size_t k = 0;
  for (size_t i = 0; i < rs->n_scope_spans; i++)
    for (size_t j = 0; j < rs->scope_spans[i]->n_spans; j++, k++) {
      if (k >= g_seen.n || k >= MAX_SPANS)
        abort();
      const tg_span *p = rs->scope_spans[i]->spans[j];
      const tg_sm_wire_span *w = &g_seen.spans[k];
      size_t name_len = p->name ? strlen(p->name) : 0;
      /* protobuf-c strings stop at an embedded NUL; compare up to it */
      if (w->name.len < name_len || (name_len && memcmp(w->name.p, p->name, name_len)))
        abort();
      if (w->kind != (uint32_t)p->kind || w->start_unix_nano != p->start_time_unix_nano ||
          w->end_unix_nano != p->end_time_unix_nano)
        abort();
      if (w->status_code != (p->status ? (uint32_t)p->status->code : 0)) {
        fprintf(stderr, "span %zu: status code %u, protobuf-c %d\n", k, w->status_code,
                p->status ? (int)p->status->code : -1);
        abort();
      }
      if (!same_bytes(w->trace_id, p->trace_id) || !same_bytes(w->span_id, p->span_id))
        abort();
    }
  if (k != g_seen.n)
    abort();
  opentelemetry__proto__trace__v1__resource_spans__free_unpacked(rs, NULL);
  return 0;
}
