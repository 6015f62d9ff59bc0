/* OTLP/HTTP: POST <traces_url_path> with an ExportTraceServiceRequest as protobuf
 * (application/x-protobuf) or JSON (application/json). The server has already inflated
 * gzip bodies and answered 413 for bodies over max_request_body_size; this handler
 * checks method and media type, runs the ingest step and phrases the outcome as the
 * OTLP specification asks: 200 with an ExportTraceServiceResponse in the request's
 * encoding, 400 with a google.rpc.Status, 429/503 with Retry-After for retryable
 * refusals, 500 otherwise; 405 and 415 for requests that are not OTLP at all. */
#include "otlp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "otlp_json.h"
#include "tg_error.h"

#define CT_PROTOBUF "application/x-protobuf"
#define CT_JSON "application/json"

/* Status.code values carried in error bodies (the gRPC codes of the same outcome). */
static int status_code(tg_otlp_outcome outcome) {
  switch (outcome) {
  case TG_OTLP_OK: return 0;
  case TG_OTLP_MALFORMED: return 3;
  case TG_OTLP_TOO_LARGE:
  case TG_OTLP_BACKPRESSURE: return 8;
  case TG_OTLP_UNAVAILABLE: return 14;
  case TG_OTLP_INTERNAL: break;
  }
  return 13;
}

static int http_status(tg_otlp_outcome outcome) {
  switch (outcome) {
  case TG_OTLP_OK: return 200;
  case TG_OTLP_MALFORMED: return 400;
  case TG_OTLP_TOO_LARGE: return 413;
  case TG_OTLP_BACKPRESSURE: return 429;
  case TG_OTLP_UNAVAILABLE: return 503;
  case TG_OTLP_INTERNAL: break;
  }
  return 500;
}

static const char *header(const tg_http_request *req, const char *name) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (req->headers[i].name && !strcasecmp(req->headers[i].name, name))
      return req->headers[i].value;
  return NULL;
}

/* Header values here are static strings, as tg_http_response requires. */
static void add_header(tg_http_response *resp, const char *name, const char *value) {
  size_t max = sizeof resp->extra / sizeof resp->extra[0];
  if (resp->n_extra < max)
    resp->extra[resp->n_extra++] = (tg_http_header){name, value};
}

static int token_eq(const char *s, size_t len, const char *want) {
  return strlen(want) == len && !strncasecmp(s, want, len);
}

/* Parses a Content-Type: returns 1 and the format for OTLP media types (parameters are
 * ignored except charset, which must be utf-8), 0 otherwise. */
static int parse_content_type(const char *value, tg_otlp_format *format) {
  if (!value)
    return 0;
  const char *p = value;
  while (*p == ' ' || *p == '\t')
    p++;
  const char *start = p;
  while (*p && *p != ';' && *p != ' ' && *p != '\t')
    p++;
  size_t len = (size_t)(p - start);
  if (token_eq(start, len, CT_PROTOBUF))
    *format = TG_OTLP_PROTOBUF;
  else if (token_eq(start, len, CT_JSON))
    *format = TG_OTLP_JSON;
  else
    return 0;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ';')
      p++;
    const char *name = p;
    while (*p && *p != '=' && *p != ';')
      p++;
    size_t name_len = (size_t)(p - name);
    while (name_len && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
      name_len--;
    if (*p != '=')
      continue;
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    int quoted = *p == '"';
    if (quoted)
      p++;
    const char *val = p;
    while (*p && (quoted ? *p != '"' : (*p != ';' && *p != ' ' && *p != '\t')))
      p++;
    size_t val_len = (size_t)(p - val);
    if (quoted && *p == '"')
      p++;
    while (*p && *p != ';')
      p++;
    if (token_eq(name, name_len, "charset") && !token_eq(val, val_len, "utf-8") &&
        !token_eq(val, val_len, "utf8"))
      return 0;
  }
  return 1;
}

static void plain_error(tg_http_response *resp, int status, const char *text) {
  resp->status = status;
  resp->content_type = "text/plain; charset=utf-8";
  tg_buf_free(&resp->body);
  (void)tg_buf_append_str(&resp->body, text);
}

void tg_otlp_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  tg_otlp_receiver *recv = ctx;
  if (!req->method || strcmp(req->method, "POST")) {
    add_header(resp, "allow", "POST");
    plain_error(resp, 405, "405 method not allowed, supported: [POST]\n");
    return;
  }
  tg_otlp_format format;
  if (!parse_content_type(header(req, "content-type"), &format)) {
    plain_error(resp, 415,
                "415 unsupported media type, supported: [" CT_JSON ", " CT_PROTOBUF "]\n");
    return;
  }

  tg_otlp_result result;
  tg_request_trace rt;
  tg_request_trace_begin(&rt, req, tg_otlp_tracer(recv), &recv->ids, recv->log_component,
                         "http");
  tg_otlp_ingest(recv, TG_OTLP_HTTP, rt.cid, format, req, &result);
  tg_otlp_trace_end(&rt, &result);
  resp->status = http_status(result.outcome);
  resp->content_type = format == TG_OTLP_JSON ? CT_JSON : CT_PROTOBUF;
  if (result.outcome == TG_OTLP_BACKPRESSURE || result.outcome == TG_OTLP_UNAVAILABLE)
    add_header(resp, "retry-after", "1");

  int rc;
  if (result.outcome == TG_OTLP_OK) {
    const char *msg = result.rejected_spans ? result.message : "";
    rc = format == TG_OTLP_JSON
             ? tg_otlp_json_encode_response(&resp->body, result.rejected_spans, msg)
             : tg_otlp_proto_encode_response(&resp->body, result.rejected_spans, msg);
  } else {
    int code = status_code(result.outcome);
    rc = format == TG_OTLP_JSON
             ? tg_otlp_json_encode_status(&resp->body, code, result.message)
             : tg_otlp_proto_encode_status(&resp->body, code, result.message);
  }
  if (rc != TG_OK)
    plain_error(resp, 500, "500 could not encode the response\n");
}
