/* The inbound server: one TCP listener on libuv that speaks HTTP/1.1 (http-parser) and
 * HTTP/2 (nghttp2; h2c with prior knowledge, or TLS with ALPN h2/http/1.1 via OpenSSL),
 * and gRPC over HTTP/2 (length-prefixed messages, grpc-encoding gzip, trailers,
 * max message size, grpc-timeout).
 *
 * Handlers are synchronous: they run on the loop thread with the complete request body
 * (already inflated when Content-Encoding or grpc-encoding is gzip, bounded by
 * max_body_bytes) and fill in the response before returning. The pipeline never blocks
 * (a full queue answers TG_EAGAIN at once), so a synchronous handler cannot stall the loop.
 *
 * Every connection is isolated: a malformed request closes or resets only that
 * connection or stream, and counts in the server's stats. */
#ifndef TG_HTTP_SERVER_H
#define TG_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tg_buf.h"
#include "tg_error.h"
#include "tg_log.h"

typedef struct tg_http_server tg_http_server;

typedef struct tg_http_header {
  const char *name;  /* lower-case */
  const char *value;
} tg_http_header;

typedef struct tg_http_request {
  const char *method;       /* "POST" */
  const char *path;         /* without the query string */
  const char *query;        /* after '?', or NULL */
  const tg_http_header *headers;
  size_t n_headers;
  const uint8_t *body;      /* decoded body (gRPC: one message, unframed and inflated) */
  size_t body_len;
  int http_version;         /* 1 or 2 */
  int grpc;                 /* the request came in as gRPC */
  uint64_t deadline_ms;     /* gRPC grpc-timeout as a monotonic deadline; 0 = none */
  const char *peer;         /* "127.0.0.1:53412" */
} tg_http_request;

/* What a handler fills in. For gRPC routes only grpc_status, grpc_message and body are
 * used: with status 0 the body is the response message (unframed; the server adds
 * framing and trailers); with an error status a non-empty body is a serialized
 * google.rpc.Status (e.g. carrying RetryInfo), sent as grpc-status-details-bin when it is
 * at most TG_GRPC_MAX_DETAILS bytes. */
#define TG_GRPC_MAX_DETAILS 512
typedef struct tg_http_response {
  int status;               /* HTTP status; default 200 */
  const char *content_type; /* static string or NULL */
  tg_buf body;              /* owned by the server after the handler returns */
  tg_http_header extra[4];  /* e.g. Retry-After; values must outlive the handler call */
  size_t n_extra;           /* (use extra_storage for formatted values) */
  char extra_storage[128];
  int grpc_status;          /* 0 OK, 8 RESOURCE_EXHAUSTED, 3 INVALID_ARGUMENT, ... */
  const char *grpc_message; /* static string or points into extra_storage; NULL = none */
} tg_http_response;

typedef void (*tg_http_handler_fn)(void *ctx, const tg_http_request *req,
                                   tg_http_response *resp);

/* Authentication of a server's requests (the receiver binds it to an authenticator
 * extension, core/tg_auth.h). check runs once per request on the loop thread, after the
 * headers and body arrived and before the handler: TG_OK lets the request through;
 * anything else answers HTTP 401 with `WWW-Authenticate: *challenge` (a static string or
 * one that outlives the server) or gRPC 16 UNAUTHENTICATED, and the handler never runs.
 * check == NULL: no authentication. */
typedef struct tg_http_auth {
  int (*check)(void *ctx, const tg_http_request *req, const char **challenge);
  void *ctx;
} tg_http_auth;

typedef struct tg_http_route {
  const char *method;   /* "POST", "GET"; NULL = any (the handler answers 405 itself) */
  const char *path;     /* exact path: "/v1/traces", "/opentelemetry...TraceService/Export" */
  int grpc;             /* gRPC method (HTTP/2 only, application/grpc) */
  tg_http_handler_fn handle;
  void *ctx;
} tg_http_route;

typedef struct tg_http_server_options {
  const char *endpoint;        /* "host:port"; port 0 picks a free one */
  const char *tls_cert_file;   /* PEM; NULL = plaintext */
  const char *tls_key_file;
  const char *tls_client_ca_file; /* mTLS: require client certs signed by this CA */
  uint64_t tls_reload_interval_ms; /* re-read changed TLS files this often; 0 = never */
  size_t max_body_bytes;       /* HTTP body / gRPC message after inflation; 0 = 4 MiB */
  size_t max_connections;      /* 0 = 1024 */
  uint32_t max_concurrent_streams; /* HTTP/2; 0 = 100 */
  uint64_t idle_timeout_ms;    /* 0 = 60 s */
  tg_logger *log;              /* may be NULL */
  const char *name;            /* for logs: "receiver:otlp" */
  /* Called on the loop thread for every request the server refuses before any handler
   * runs, so the owner can count it: reason is "too_large" (413, gRPC 8) or "malformed"
   * (400, 415, 417, 431, gRPC framing errors). May be NULL. */
  void (*on_refused)(void *ctx, const char *reason);
  void *on_refused_ctx;
  /* Every request to every route must pass this check (tg_http_auth); {NULL} = none. */
  tg_http_auth auth;
} tg_http_server_options;

/* requests: requests answered (any status); bad_requests: malformed or rejected (400, 415,
 * 417, 431, gRPC 12/13 from framing); too_large: 413 or gRPC 8; disconnects: the peer went
 * away (or idled out, or reset its stream) with a request started but not answered. */
typedef struct tg_http_server_stats {
  uint64_t connections_accepted, connections_refused;
  uint64_t requests, bad_requests, too_large, disconnects;
} tg_http_server_stats;

/* Creates a server (no I/O yet). Copies what it needs from opts. NULL + err on failure
 * (unreadable TLS files, bad endpoint). */
tg_http_server *tg_http_server_create(uv_loop_t *loop, const tg_http_server_options *opts,
                                      tg_errbuf *err);

/* Adds a route before start; the route struct is copied. Unknown paths get 404 (HTTP) or
 * grpc-status 12 UNIMPLEMENTED (gRPC). */
int tg_http_server_add_route(tg_http_server *srv, const tg_http_route *route);

/* Binds and listens. TG_EIO + err when the address is taken. */
int tg_http_server_start(tg_http_server *srv, tg_errbuf *err);

/* The bound port (after start), for tests that listen on port 0. */
int tg_http_server_port(const tg_http_server *srv);

/* Stops listening and closes every connection; calls done(ctx) once all libuv handles
 * are closed, then the server memory is freed by the server itself. */
void tg_http_server_close(tg_http_server *srv, void (*done)(void *ctx), void *ctx);

void tg_http_server_get_stats(const tg_http_server *srv, tg_http_server_stats *out);

/* Helpers for handlers. */
const char *tg_http_request_header(const tg_http_request *req, const char *name);
int tg_http_response_add_header(tg_http_response *resp, const char *name, const char *value);

#endif
