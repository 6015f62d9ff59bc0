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
