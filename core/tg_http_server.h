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
  /* The server's buffer that body lies in, for tg_http_request_take_body; NULL when the
   * body cannot be taken (a request a test or another component built). */
  tg_buf *body_buf;
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

/* gRPC's server keepalive (grpc-go's keepalive.ServerParameters and EnforcementPolicy,
 * the Collector's configgrpc keepalive.*), for HTTP/2 connections. Every field 0 = off.
 *  time_ms, timeout_ms: after time_ms without a byte from the client the server sends a
 *    PING; without any byte within timeout_ms after it, the connection is closed.
 *  max_age_ms, age_grace_ms: a connection older than max_age_ms gets GOAWAY NO_ERROR (no
 *    new streams; open ones finish) and is closed age_grace_ms later at the latest, or
 *    at once when no request is in progress.
 *  enforce: police the client's PINGs: a PING sooner than min_time_ms after the previous
 *    one, or (unless permit_without_stream) while no stream is open, is a strike; the
 *    third strike gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and the connection
 *    closes. A response (HEADERS or DATA sent) clears the strikes, as in grpc-go. */
typedef struct tg_http_keepalive {
  uint64_t time_ms, timeout_ms;
  uint64_t max_age_ms, age_grace_ms;
  int enforce;
  uint64_t min_time_ms;
  int permit_without_stream;
} tg_http_keepalive;

/* CORS for browser clients (the Collector's confighttp cors.*, rs/cors semantics).
 *  allowed_origins: exact origins ("https://app.example.com"), patterns with one '*'
 *    standing for any run of characters (scheme, host prefix ".example.com", suffix), or
 *    "*" for any origin (answered as "*").
 *  allowed_headers: request headers a preflight may ask for besides the always-allowed
 *    Accept, Accept-Language, Content-Language, Content-Type, Origin and
 *    X-Requested-With; "*" allows any.
 *  max_age_s: Access-Control-Max-Age of preflight answers; 0 = not sent.
 * A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered 204 by
 * the server itself; it carries the Access-Control-Allow-* headers only when the origin,
 * the method (GET, POST, HEAD) and every requested header are allowed. An actual request
 * from an allowed origin gets Access-Control-Allow-Origin and Vary: Origin. */
typedef struct tg_http_cors {
  const char *const *allowed_origins;
  size_t n_allowed_origins;
  const char *const *allowed_headers;
  size_t n_allowed_headers;
  uint64_t max_age_s;
} tg_http_cors;

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
  /* Socket buffer sizes (SO_RCVBUF / SO_SNDBUF) of accepted connections; 0 = the
   * system's. */
  size_t read_buffer_size, write_buffer_size;
  /* gRPC keepalive (HTTP/2 connections; tg_http_keepalive). */
  tg_http_keepalive keepalive;
  /* Plain HTTP responses: CORS (NULL = none), extra headers on every response, and the
   * Content-Encodings accepted (NULL = every one the server decodes). All copied. */
  const tg_http_cors *cors;
  const char *const *response_header_names, *const *response_header_values;
  size_t n_response_headers;
  const char *const *encodings; /* names ("" = identity); n_encodings of them */
  size_t n_encodings;
  /* The whole of a request (headers and body) must arrive within read_timeout of its
   * first byte; a response must be written out within write_timeout of being queued.
   * 0 = no such bound (tg_http_deadline.h). */
  uint64_t read_timeout_ms, write_timeout_ms;
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

/* The Collector's configgrpc server keys that tg_http_server_conf does not hold: gRPC
 * keepalive, buffer sizes and include_metadata. A receiver embeds one per gRPC listener
 * and lists TG_GRPC_SERVER_CONF_KEYS(prefix, ...) in its key table.
 * keepalive.server_parameters.max_connection_idle, when set, replaces idle_timeout. */
typedef struct tg_grpc_server_conf {
  uint64_t max_connection_idle_ms, max_connection_age_ms, max_connection_age_grace_ms;
  uint64_t keepalive_time_ms, keepalive_timeout_ms;
  _Bool enforcement_policy; /* keepalive.enforcement_policy present */
  uint64_t min_time_ms;
  _Bool permit_without_stream;
  uint64_t read_buffer_size, write_buffer_size;
  _Bool include_metadata;
} tg_grpc_server_conf;

/* include_metadata: false is the only value tailgate can honour (no processor reads
 * client metadata); true is refused at its position, saying so. */
static inline void tg_http_conf_parse_include_metadata(const tg_yaml_node *node, void *field,
                                                       tg_diag *diag) {
  _Bool v = 0;
  if (node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_SCALAR || tg_conf_parse_bool(node->scalar, &v) != 0) {
    tg_diag_add(diag, &node->pos, "include_metadata: expected true or false");
    return;
  }
  if (v)
    tg_diag_add(diag, &node->pos,
                "include_metadata: true is not supported: no tailgate processor reads "
                "client metadata (the Collector's batch metadata_keys, headers_setter); "
                "request headers already reach the authenticator (auth.authenticator)");
  *(_Bool *)field = v;
}

#define TG_GRPC_SERVER_CONF_N_KEYS 11
#define TG_GRPC_SERVER_CONF_KEYS(prefix, st, f)                                              \
  TG_KEY_DURATION(prefix ".keepalive.server_parameters.max_connection_idle", st,             \
                  f.max_connection_idle_ms, "0", 0, 86400000,                                \
                  "close a connection with no open stream after this (GOAWAY); "            \
                  "0 = idle_timeout"),                                                       \
  TG_KEY_DURATION(prefix ".keepalive.server_parameters.max_connection_age", st,              \
                  f.max_connection_age_ms, "0", 0, 31536000000.0,                            \
                  "send GOAWAY to a connection this old (0 = never)"),                      \
  TG_KEY_DURATION(prefix ".keepalive.server_parameters.max_connection_age_grace", st,        \
                  f.max_connection_age_grace_ms, "0", 0, 31536000000.0,                      \
                  "after that GOAWAY, close the connection at the latest this much later "   \
                  "(0 = at once when no call is open, else when the calls end)"),           \
  TG_KEY_DURATION(prefix ".keepalive.server_parameters.time", st, f.keepalive_time_ms,       \
                  "2h", 1000, 31536000000.0,                                                 \
                  "send a PING after this long without a byte from the client"),            \
  TG_KEY_DURATION(prefix ".keepalive.server_parameters.timeout", st, f.keepalive_timeout_ms, \
                  "20s", 1, 86400000,                                                        \
                  "close the connection when nothing arrives this long after that PING"),   \
  TG_KEY_PRESENT(prefix ".keepalive.enforcement_policy", st, f.enforcement_policy,           \
                 "police client PINGs (absent: every PING is answered)"),                   \
  TG_KEY_DURATION(prefix ".keepalive.enforcement_policy.min_time", st, f.min_time_ms, "5m",  \
                  0, 86400000,                                                               \
                  "PINGs closer than this are strikes; the third gets GOAWAY "              \
                  "ENHANCE_YOUR_CALM too_many_pings"),                                       \
  TG_KEY_BOOL(prefix ".keepalive.enforcement_policy.permit_without_stream", st,              \
              f.permit_without_stream, "false",                                              \
              "allow PINGs while no call is open (else each is a strike)"),                 \
  TG_KEY_SIZE(prefix ".read_buffer_size", st, f.read_buffer_size, "0", 0, 16777216,          \
              "bytes read from a connection per read, allocated per connection "           \
              "(0 = 64KiB)"),                                                               \
  TG_KEY_SIZE(prefix ".write_buffer_size", st, f.write_buffer_size, "0", 0, 67108864,        \
              "response bytes queued per connection before it stops reading (0 = 1MiB)"),   \
  TG_KEY_CUSTOM(prefix ".include_metadata", st, f.include_metadata,                          \
                tg_http_conf_parse_include_metadata, NULL,                                   \
                "false only: no processor reads client metadata")

/* Copies a tg_grpc_server_conf into opts (after tg_http_server_conf_apply). */
static inline void tg_grpc_server_conf_apply(const tg_grpc_server_conf *conf,
                                             tg_http_server_options *opts) {
  if (conf->max_connection_idle_ms)
    opts->idle_timeout_ms = conf->max_connection_idle_ms;
  opts->keepalive.max_age_ms = conf->max_connection_age_ms;
  opts->keepalive.age_grace_ms = conf->max_connection_age_grace_ms;
  opts->keepalive.time_ms = conf->keepalive_time_ms;
  opts->keepalive.timeout_ms = conf->keepalive_timeout_ms;
  opts->keepalive.enforce = conf->enforcement_policy;
  opts->keepalive.min_time_ms = conf->min_time_ms;
  opts->keepalive.permit_without_stream = conf->permit_without_stream;
  opts->read_buffer_size = (size_t)conf->read_buffer_size;
  opts->write_buffer_size = (size_t)conf->write_buffer_size;
}

/* The Collector's confighttp server keys that tg_http_server_conf does not hold: cors.*,
 * response_headers, compression_algorithms, read_timeout, write_timeout and
 * include_metadata. A receiver embeds one per HTTP listener and lists
 * TG_HTTP_SERVER_HTTP_KEYS(prefix, ...) (prefix ends in "." or is ""). */
typedef struct tg_http_server_http_conf {
  _Bool cors;                   /* cors present */
  tg_conf_strlist allowed_origins, allowed_headers;
  int64_t cors_max_age_s;
  tg_conf_strmap response_headers;
  tg_conf_strlist compression_algorithms; /* empty = every supported encoding */
  uint64_t read_timeout_ms, write_timeout_ms;
  _Bool include_metadata;
} tg_http_server_http_conf;

#define TG_HTTP_SERVER_HTTP_N_KEYS 9
#define TG_HTTP_SERVER_HTTP_KEYS(prefix, st, f)                                              \
  TG_KEY_PRESENT(prefix "cors", st, f.cors, "answer browsers' CORS requests"),               \
  TG_KEY_STRLIST(prefix "cors.allowed_origins", st, f.allowed_origins,                       \
                 "origins allowed (exact, one '*' wildcard as https://*.example.com, or *)"),\
  TG_KEY_STRLIST(prefix "cors.allowed_headers", st, f.allowed_headers,                       \
                 "request headers allowed besides Accept, Accept-Language, "              \
                 "Content-Language, Content-Type, Origin, X-Requested-With (* = any)"),     \
  TG_KEY_INT(prefix "cors.max_age", st, f.cors_max_age_s, "0", 0, 86400,                     \
             "seconds browsers may cache a preflight answer (0 = not sent)"),               \
  TG_KEY_STRMAP(prefix "response_headers", st, f.response_headers,                           \
                "headers added to every HTTP response"),                                    \
  TG_KEY_STRLIST(prefix "compression_algorithms", st, f.compression_algorithms,              \
                 "Content-Encodings accepted (\"\" = identity; absent: all supported)"),    \
  TG_KEY_DURATION(prefix "read_timeout", st, f.read_timeout_ms, "0", 0, 86400000,            \
                  "a whole request must arrive within this of its first byte (0 = no bound)"),\
  TG_KEY_DURATION(prefix "write_timeout", st, f.write_timeout_ms, "0", 0, 86400000,          \
                  "a response must be written out within this of being queued "            \
                  "(0 = no bound)"),                                                         \
  TG_KEY_CUSTOM(prefix "include_metadata", st, f.include_metadata,                           \
                tg_http_conf_parse_include_metadata, NULL,                                   \
                "false only: no processor reads client metadata")

/* Why a tg_http_server_http_conf cannot be used, or NULL: every compression algorithm
 * must be one the server decodes (tg_http_server_encoding_supported), cors needs
 * allowed_origins, and response_headers must be valid header lines. buf receives the
 * message (it names the offending entry). */
const char *tg_http_server_http_conf_problem(const tg_http_server_http_conf *conf, char *buf,
                                             size_t len);

/* Copies a tg_http_server_http_conf into opts (pointers into conf, which must outlive
 * tg_http_server_create; the server copies them). cors must point at storage that lives
 * as long as opts. */
static inline void tg_http_server_http_conf_apply(const tg_http_server_http_conf *conf,
                                                  tg_http_cors *cors,
                                                  tg_http_server_options *opts) {
  if (conf->cors) {
    cors->allowed_origins = (const char *const *)conf->allowed_origins.items;
    cors->n_allowed_origins = conf->allowed_origins.n;
    cors->allowed_headers = (const char *const *)conf->allowed_headers.items;
    cors->n_allowed_headers = conf->allowed_headers.n;
    cors->max_age_s = (uint64_t)conf->cors_max_age_s;
    opts->cors = cors;
  }
  opts->response_header_names = (const char *const *)conf->response_headers.keys;
  opts->response_header_values = (const char *const *)conf->response_headers.values;
  opts->n_response_headers = conf->response_headers.n;
  opts->encodings = (const char *const *)conf->compression_algorithms.items;
  opts->n_encodings = conf->compression_algorithms.n;
  opts->read_timeout_ms = conf->read_timeout_ms;
  opts->write_timeout_ms = conf->write_timeout_ms;
}

/* 1 when the server decodes request bodies with this Content-Encoding ("" and
 * "identity": no encoding), else 0. */
int tg_http_server_encoding_supported(const char *name);

/* requests: requests answered (any status); bad_requests: malformed or rejected (400, 415,
 * 417, 431, gRPC 12/13 from framing); too_large: 413 or gRPC 8; disconnects: the peer went
 * away (or idled out, or reset its stream) with a request started but not answered.
 * connections_refused counts both refusals; refused_per_peer those over the peer share.
 * header_timeouts, body_timeouts, idle_closed: connections closed by their deadlines. */
typedef struct tg_http_server_stats {
  uint64_t connections_accepted, connections_refused;
  uint64_t requests, bad_requests, too_large, disconnects;
  uint64_t refused_per_peer, header_timeouts, body_timeouts, idle_closed;
  /* keepalive_timeouts: no answer to the server's PING within keepalive timeout;
   * too_many_pings: GOAWAY ENHANCE_YOUR_CALM for the client's PINGs; max_age_goaways:
   * connections told to go at max_connection_age; read_timeouts, write_timeouts:
   * closed by read_timeout / write_timeout. */
  uint64_t keepalive_timeouts, too_many_pings, max_age_goaways;
  uint64_t read_timeouts, write_timeouts;
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

/* Takes the request body's buffer from the server so that a handler can keep the body
 * past its return without copying it (the OTLP receiver hands it to a batch). Returns the
 * buffer, to free with tg_free, and sets *body to where the body now starts inside it and
 * *size to the buffer's allocated size (for memory accounting); a buffer much larger than
 * the body is trimmed first, so a small body never pins a big allocation. Afterwards
 * req->body must not be read (trimming may move it); the server allocates a fresh buffer
 * for its next request. NULL when the body cannot be taken (no body_buf, empty body):
 * the body then stays the server's, valid until the handler returns. */
uint8_t *tg_http_request_take_body(const tg_http_request *req, const uint8_t **body,
                                   size_t *size);
int tg_http_response_add_header(tg_http_response *resp, const char *name, const char *value);

#endif
