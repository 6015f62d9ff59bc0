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
#include "tg_conf.h"
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

/* A response body produced in slices after the handler returned, for bodies too large to
 * hold (a scrape of 100k series). Plain HTTP routes only (ignored for gRPC).
 *
 * The server calls next() on the loop thread whenever the connection's output queue has
 * drained (one call per write completion), so a long body never holds the loop for more
 * than one slice. next appends one slice of about max_bytes to out (out is empty on
 * entry) and returns TG_OK; it sets *done = 1 with the last slice. A TG_OK slice that is
 * empty is only allowed together with *done. Any other return aborts the response: the
 * HTTP/1.1 connection is closed without the final chunk (the client sees a truncated
 * body), an HTTP/2 stream is reset. release(ctx) is called exactly once, after the last
 * slice, on abort, or when the connection goes away (also for HEAD and for a stream that
 * was never started); it frees ctx.
 *
 * On the wire: HTTP/1.1 uses `Transfer-Encoding: chunked`, HTTP/1.0 sends until close;
 * HTTP/2 sends DATA frames as slices arrive. While a stream is in progress an HTTP/1.x
 * connection reads no further request (pipelined bytes already read wait). */
typedef struct tg_http_body_stream {
  int (*next)(void *ctx, tg_buf *out, size_t max_bytes, int *done);
  void (*release)(void *ctx);
  void *ctx;
} tg_http_body_stream;

typedef struct tg_http_response {
  int status;               /* HTTP status; default 200 */
  const char *content_type; /* static string or NULL */
  tg_buf body;              /* owned by the server after the handler returns */
  tg_http_header extra[4];  /* e.g. Retry-After; values must outlive the handler call */
  size_t n_extra;           /* (use extra_storage for formatted values) */
  char extra_storage[128];
  int grpc_status;          /* 0 OK, 8 RESOURCE_EXHAUSTED, 3 INVALID_ARGUMENT, ... */
  const char *grpc_message; /* static string or points into extra_storage; NULL = none */
  tg_http_body_stream stream; /* next != NULL: the body comes from here, `body` unused */
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
  /* Connections one peer address (IPv4 address, IPv6 /64) may hold; beyond it a peer's
   * connections are refused before the global max_connections is reached, so honest
   * clients keep getting in. 0 = max_connections / 4 (at least 1). */
  size_t max_connections_per_peer;
  uint32_t max_concurrent_streams; /* HTTP/2; 0 = 100 */
  uint64_t idle_timeout_ms;    /* between requests; 0 = 60 s */
  uint64_t read_header_timeout_ms; /* handshake + preface + request headers; 0 = 10 s */
  uint64_t min_body_rate;      /* request bodies, bytes/s after a read_header_timeout
                                  grace; 0 = 1024 (tg_http_deadline.h) */
  tg_logger *log;              /* may be NULL */
  const char *name;            /* for logs: "receiver:otlp" */
  /* Called on the loop thread for every request the server refuses before any handler
   * runs, so the owner can count it: reason is "too_large" (413, gRPC 8) or "malformed"
   * (400, 415, 417, 431, gRPC framing errors); and for every connection it refuses or
   * closes: "too_many_connections" (max_connections, max_connections_per_peer),
   * "timeout" (read_header_timeout, min_body_rate), "tls_handshake" (a handshake that
   * failed on a protocol error). May be NULL. */
  void (*on_refused)(void *ctx, const char *reason);
  void *on_refused_ctx;
  /* Every request to every route must pass this check (tg_http_auth); {NULL} = none. */
  tg_http_auth auth;
} tg_http_server_options;

/* The connection limits a receiver exposes per listener, with the Collector's confighttp
 * / configgrpc names where they exist (read_header_timeout, idle_timeout,
 * max_concurrent_streams) and ours for the rest (max_connections,
 * max_connections_per_peer, min_body_rate). A receiver embeds one per protocol and lists
 * TG_HTTP_SERVER_CONF_KEYS(prefix, ...) in its key table. */
typedef struct tg_http_server_conf {
  uint64_t read_header_timeout_ms;
  uint64_t idle_timeout_ms;
  uint64_t min_body_rate;
  int64_t max_connections;
  int64_t max_connections_per_peer; /* 0 = max_connections / 4 */
  int64_t max_concurrent_streams;
} tg_http_server_conf;

#define TG_HTTP_SERVER_CONF_N_KEYS 6
#define TG_HTTP_SERVER_CONF_KEYS(prefix, st, f) TG_HTTP_SERVER_CONF_KEYS_AT(prefix ".", st, f)
/* The same keys under a prefix that ends in "." or is "" (keys at the top level, as the
 * zipkin receiver's). */
#define TG_HTTP_SERVER_CONF_KEYS_AT(prefix, st, f)                                           \
  TG_KEY_DURATION(prefix "read_header_timeout", st, f.read_header_timeout_ms, "10s", 1,      \
                  3600000, "time allowed for the TLS handshake and a request's headers"),    \
  TG_KEY_DURATION(prefix "idle_timeout", st, f.idle_timeout_ms, "60s", 1, 86400000,         \
                  "a connection with no request in progress is closed after this"),          \
  TG_KEY_SIZE(prefix "min_body_rate", st, f.min_body_rate, "1KiB", 1, 1e12,                 \
              "bytes per second a request body must average (after read_header_timeout)"),  \
  TG_KEY_INT(prefix "max_connections", st, f.max_connections, "1024", 1, 1000000,           \
             "open connections at most; further ones are closed at once"),                  \
  TG_KEY_INT(prefix "max_connections_per_peer", st, f.max_connections_per_peer, "0", 0,     \
             1000000, "open connections per client address (IPv6: per /64); "                \
             "0 = a quarter of max_connections"),                                            \
  TG_KEY_INT(prefix "max_concurrent_streams", st, f.max_concurrent_streams, "100", 1,       \
             1000000, "HTTP/2 streams open at once per connection")

/* Copies conf into the matching fields of opts. */
static inline void tg_http_server_conf_apply(const tg_http_server_conf *conf,
                                             tg_http_server_options *opts) {
  opts->read_header_timeout_ms = conf->read_header_timeout_ms;
  opts->idle_timeout_ms = conf->idle_timeout_ms;
  opts->min_body_rate = conf->min_body_rate;
  opts->max_connections = (size_t)conf->max_connections;
  opts->max_connections_per_peer = (size_t)conf->max_connections_per_peer;
  opts->max_concurrent_streams = (uint32_t)conf->max_concurrent_streams;
}

/* requests: requests answered (any status); bad_requests: malformed or rejected (400, 415,
 * 417, 431, gRPC 12/13 from framing); too_large: 413 or gRPC 8; disconnects: the peer went
 * away (or idled out, or reset its stream) with a request started but not answered.
 * connections_refused counts both refusals; refused_per_peer those over the peer share.
 * header_timeouts, body_timeouts, idle_closed: connections closed by their deadlines. */
typedef struct tg_http_server_stats {
  uint64_t connections_accepted, connections_refused;
  uint64_t requests, bad_requests, too_large, disconnects;
  uint64_t refused_per_peer, header_timeouts, body_timeouts, idle_closed;
} tg_http_server_stats;

/* Creates a server (no I/O yet). Copies what it needs from opts. NULL + err on failure
 * (unreadable TLS files, bad endpoint: see tg_endpoint.h; a host name is resolved here).
 * A server whose routes are all gRPC speaks HTTP/2 only (prior knowledge, or ALPN h2):
 * anything else than the client preface is a connection error (GOAWAY PROTOCOL_ERROR),
 * not an HTTP/1.1 400. */
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
