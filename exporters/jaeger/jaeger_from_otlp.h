/* The span model (OTLP) → Jaeger api_v2 model, the reverse of
 * receivers/jaeger/jaeger_to_otlp.c, shared by the jaeger (gRPC) and jaeger_thrift_http
 * exporters. */
#ifndef TG_JAEGER_FROM_OTLP_H
#define TG_JAEGER_FROM_OTLP_H

#include "receivers/jaeger/jaeger_model.h"

/* Converts one ResourceSpans into one Jaeger Batch (one process: Jaeger's unit),
 * allocating only from arena; strings and ids of rs are shared, not copied, so rs must
 * outlive *out. Returns TG_OK, TG_ENOMEM or TG_ETOOBIG (arena limit). */
int tg_jaeger_from_otlp(tg_arena *arena, const tg_resource_spans *rs, tg_jaeger_batch **out);

#endif
