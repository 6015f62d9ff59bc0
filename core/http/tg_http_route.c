/* Routing and response plumbing shared by the HTTP/1 and HTTP/2 engines: route lookup
 * (404 vs 405 with Allow), handler invocation with a defaulted response, server-made
 * error responses, Content-Encoding decoding, and the public request/response helpers
 * declared in tg_http_server.h. Kept apart from the engines so both answer identically. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_codec.h"
#include "tg_http_internal.h"

size_t tg_http_max_header_count(const tg_http_router *r) {
  return r->max_header_count ? r->max_header_count : 100;
}

size_t tg_http_max_header_bytes(const tg_http_router *r) {
  return r->max_header_bytes ? r->max_header_bytes : 64 * 1024;
}

int tg_http_route_find(const tg_http_router *r, const char *method, const char *path,
                       int grpc, const tg_http_route **out, char *allow, size_t allow_len) {
  int path_seen = 0;
  size_t used = 0;
  if (allow && allow_len)
    allow[0] = '\0';
  *out = NULL;
  for (size_t i = 0; i < r->n_routes; i++) {
    const tg_http_route *rt = &r->routes[i];
    if (!rt->grpc != !grpc || strcmp(rt->path, path) != 0)
      continue;
    if (!rt->method || strcmp(rt->method, method) == 0) {
      *out = rt;
      return TG_HTTP_ROUTE_FOUND;
    }
    path_seen = 1;
    if (allow && allow_len) {
      int n = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", rt->method);
      if (n > 0 && (size_t)n < allow_len - used)
        used += (size_t)n;
    }
  }
  return path_seen ? TG_HTTP_ROUTE_BAD_METHOD : TG_HTTP_ROUTE_NOT_FOUND;
}

static void response_defaults(tg_http_response *resp) {
  memset(resp, 0, sizeof *resp);
  resp->status = 200;
  tg_buf_init(&resp->body, 0);
}

/* The one place every inbound request passes before its handler, whatever the engine
 * (HTTP/1, HTTP/2, gRPC) or the receiver: the server's authenticator, if any, decides. */
static int refuse_unauthenticated(const tg_http_router *r, const tg_http_request *req,
                                  tg_http_response *resp) {
  const char *challenge = NULL;
  if (!r->auth.check || r->auth.check(r->auth.ctx, req, &challenge) == TG_OK)
    return 0; /* the check counts its refusals itself (tg_auth.c), per receiver */
  resp->status = 401;
  resp->content_type = "text/plain";
  resp->grpc_status = 16; /* UNAUTHENTICATED */
  resp->grpc_message = "unauthenticated";
  if (!req->grpc)
    tg_buf_append_str(&resp->body, "Unauthorized\n");
  tg_http_response_add_header(resp, "WWW-Authenticate", challenge ? challenge : "Basic");
  return 1;
}

void tg_http_route_invoke(const tg_http_router *r, const tg_http_route *route,
                          const tg_http_request *req, tg_http_response *resp) {
  response_defaults(resp);
  if (!refuse_unauthenticated(r, req, resp)) {
    route->handle(route->ctx, req, resp);
    if (resp->stream.next && route->grpc) { /* streamed bodies are for plain HTTP only */
      if (resp->stream.release)
        resp->stream.release(resp->stream.ctx);
      memset(&resp->stream, 0, sizeof resp->stream);
    }
  }
  if (resp->status < 100 || resp->status > 999)
    resp->status = 500;
  if (resp->n_extra > sizeof resp->extra / sizeof resp->extra[0])
    resp->n_extra = sizeof resp->extra / sizeof resp->extra[0];
}

const char *tg_http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 411: return "Length Required";
  case 413: return "Payload Too Large";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

void tg_http_response_error(tg_http_response *resp, int status, const char *text) {
  response_defaults(resp);
  resp->status = status;
  resp->content_type = "text/plain";
  if (tg_buf_append_str(&resp->body, text ? text : tg_http_reason(status)) == TG_OK)
    tg_buf_append(&resp->body, "\n", 1);
}

/* compression_algorithms: an encoding outside the configured list is refused like an
 * unknown one (415); "" and "identity" both name the absence of an encoding. */
static int encoding_listed(const tg_http_router *r, const char *content_encoding) {
  if (!r->n_encodings)
    return 1;
  const char *ce = content_encoding ? content_encoding : "";
  int identity = !*ce || strcasecmp(ce, "identity") == 0;
  for (size_t i = 0; i < r->n_encodings; i++) {
    const char *e = r->encodings[i] ? r->encodings[i] : "";
    if (identity ? (!*e || strcasecmp(e, "identity") == 0)
                 : (strcasecmp(e, ce) == 0 ||
                    (strcasecmp(e, "gzip") == 0 && strcasecmp(ce, "x-gzip") == 0)))
      return 1;
  }
  return 0;
}

int tg_http_server_encoding_supported(const char *name) {
  tg_http_server_stats stats = {0};
  tg_http_router r = {.max_body_bytes = 1, .stats = &stats};
  tg_buf out;
  tg_buf_init(&out, 0);
  int decoded = 0;
  int rc = tg_http_decode_body(&r, name, (const uint8_t *)"", 0, &out, &decoded);
  tg_buf_free(&out);
  return rc != TG_EUNSUPPORTED;
}

int tg_http_decode_body(const tg_http_router *r, const char *content_encoding,
                        const uint8_t *body, size_t len, tg_buf *out, int *decoded) {
  *decoded = 0;
  if (!encoding_listed(r, content_encoding))
    return TG_EUNSUPPORTED;
  if (!content_encoding || !*content_encoding || strcasecmp(content_encoding, "identity") == 0)
    return TG_OK;
  /* gzip, x-gzip and deflate go to zlib's inflate; zstd and snappy (framed or block) to
   * tg_codec's bounded decoders, as the Collector's confighttp accepts them. */
  int codec = strcasecmp(content_encoding, "deflate") == 0
                  ? TG_CODEC_GZIP
                  : tg_codec_from_token(content_encoding, strlen(content_encoding));
  if (codec <= TG_CODEC_NONE)
    return TG_EUNSUPPORTED;
  if (len == 0)
    return TG_OK; /* an empty body stays empty */
  int rc = tg_codec_decompress(codec, body, len, r->max_body_bytes, out);
  if (rc == TG_OK)
    *decoded = 1;
  return rc;
}

const char *tg_http_request_header(const tg_http_request *req, const char *name) {
  if (!req || !name)
    return NULL;
  for (size_t i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

uint8_t *tg_http_request_take_body(const tg_http_request *req, const uint8_t **body,
                                   size_t *size) {
  tg_buf *b = req->body_buf;
  if (!b || !b->data || !req->body_len || req->body < b->data ||
      req->body_len > b->len || (size_t)(req->body - b->data) > b->len - req->body_len)
    return NULL;
  size_t offset = (size_t)(req->body - b->data);
  uint8_t *buf = tg_buf_steal_trimmed(b, size);
  *body = buf + offset;
  return buf;
}

int tg_http_response_add_header(tg_http_response *resp, const char *name, const char *value) {
  if (!resp || !name || !value)
    return TG_EINVAL;
  if (resp->n_extra >= sizeof resp->extra / sizeof resp->extra[0])
    return TG_ETOOBIG;
  /* CR/LF in a header would let a handler split the response. */
  if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
    return TG_EINVAL;
  resp->extra[resp->n_extra].name = name;
  resp->extra[resp->n_extra].value = value;
  resp->n_extra++;
  return TG_OK;
}

const char *tg_http_server_http_conf_problem(const tg_http_server_http_conf *conf, char *buf,
                                             size_t len) {
  for (size_t i = 0; i < conf->compression_algorithms.n; i++) {
    const char *e = conf->compression_algorithms.items[i];
    if (!tg_http_server_encoding_supported(e)) {
      snprintf(buf, len,
               "compression_algorithms: \"%s\" is not supported (supported: \"\", identity, "
               "gzip, deflate%s)",
               e, tg_http_server_encoding_supported("zstd") ? ", zstd, snappy" : "");
      return buf;
    }
  }
  if (conf->cors && !conf->allowed_origins.n)
    return snprintf(buf, len, "cors: allowed_origins must list at least one origin"), buf;
  for (size_t i = 0; i < conf->allowed_origins.n; i++) {
    const char *o = conf->allowed_origins.items[i];
    const char *star = strchr(o, '*');
    if (!*o || (star && strchr(star + 1, '*'))) {
      snprintf(buf, len, "cors.allowed_origins: \"%s\": expected an origin with at most one '*'",
               o);
      return buf;
    }
  }
  if (conf->response_headers.n > TG_HTTP_MAX_RESPONSE_HEADERS) {
    snprintf(buf, len, "response_headers: at most %d headers", TG_HTTP_MAX_RESPONSE_HEADERS);
    return buf;
  }
  for (size_t i = 0; i < conf->response_headers.n; i++) {
    const char *k = conf->response_headers.keys[i], *v = conf->response_headers.values[i];
    int bad = !*k || strlen(k) > 64;
    for (const char *c = k; *c && !bad; c++)
      bad = !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *c));
    for (const unsigned char *c = (const unsigned char *)v; *c && !bad; c++)
      bad = *c < 0x20 && *c != '\t';
    if (!bad && (!strncasecmp(k, "content-", 8) || !strcasecmp(k, "connection") ||
                 !strcasecmp(k, "transfer-encoding")))
      bad = 2;
    if (bad) {
      snprintf(buf, len,
               bad == 2 ? "response_headers.%s: the server sets this header itself"
                        : "response_headers.%s: not a valid header name and value",
               k);
      return buf;
    }
  }
  return NULL;
}
