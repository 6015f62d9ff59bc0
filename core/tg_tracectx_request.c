/* Trace context of an inbound request: feeds the request's headers to the extractor.
 * Kept apart from tg_tracectx.c so the library itself does not depend on the HTTP server. */
#include "tg_tracectx_request.h"

#include <string.h>

tg_tracectx_source tg_http_request_trace_context(const tg_http_request *req, tg_tracectx *out,
                                                 const char **reason) {
  tg_tracectx_extractor ex;
  tg_tracectx_extract_begin(&ex, TG_PROPAGATE_TRACECONTEXT | TG_PROPAGATE_B3 |
                                     TG_PROPAGATE_JAEGER);
  for (size_t i = 0; i < req->n_headers; i++) {
    const char *name = req->headers[i].name;
    if (name)
      tg_tracectx_extract_header(&ex, name, strlen(name), req->headers[i].value);
  }
  return tg_tracectx_extract_finish(&ex, NULL, out, reason);
}

tg_tracectx_source tg_http_request_correlation_id(const tg_http_request *req, tg_idgen *g,
                                                  char out[33]) {
  tg_tracectx ctx;
  tg_tracectx_source src = tg_http_request_trace_context(req, &ctx, NULL);
  tg_tracectx_correlation_id(src, &ctx, g, out);
  return src;
}

void tg_request_trace_begin(tg_request_trace *rt, const tg_http_request *req,
                            tg_selftrace *tracer, tg_idgen *g, const char *component,
                            const char *transport) {
  tg_tracectx ctx;
  tg_tracectx_source src = tg_http_request_trace_context(req, &ctx, NULL);
  tg_tracectx_correlation_id(src, &ctx, g, rt->cid);
  rt->tracer = tracer;
  rt->receive.sampled = rt->process.sampled = 0;
  if (!tracer)
    return;
  if (tg_selftrace_begin(tracer, src != TG_TRACECTX_NONE ? &ctx : NULL, "tailgate.receive",
                         TG_SELFSPAN_SERVER, &rt->receive)) {
    tg_selfspan_attr_str(&rt->receive, "tailgate.receiver", component);
    tg_selfspan_attr_str(&rt->receive, "tailgate.transport", transport);
    tg_selftrace_child(tracer, &rt->receive, "tailgate.process", TG_SELFSPAN_INTERNAL,
                       &rt->process);
  }
}

void tg_request_trace_end(tg_request_trace *rt, int64_t accepted, int64_t refused,
                          const char *outcome, int error) {
  if (!rt->receive.sampled)
    return;
  tg_selfspan *spans[2] = {&rt->process, &rt->receive};
  for (int i = 0; i < 2; i++) {
    tg_selfspan_attr_int(spans[i], "tailgate.spans.accepted", accepted);
    tg_selfspan_attr_int(spans[i], "tailgate.spans.refused", refused);
    tg_selfspan_attr_str(spans[i], "tailgate.outcome", outcome);
    spans[i]->error = (uint8_t)(error != 0);
    tg_selftrace_end(rt->tracer, spans[i]);
  }
}
