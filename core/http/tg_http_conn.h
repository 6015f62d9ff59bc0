/* The sans-IO connection: bytes in, bytes out, no sockets. tg_http_server.c owns the
 * libuv side and drives one tg_http_conn per accepted socket; unit tests and fuzz targets
 * drive it directly. A connection detects its protocol (HTTP/1.x, or h2c by the client
 * preface), optionally terminates TLS first (ALPN picks h2 or http/1.1), runs handlers
 * synchronously inside tg_http_conn_feed and emits every output byte through the write
 * callback before feed returns. */
#ifndef TG_HTTP_CONN_H
#define TG_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "tg_http_server.h"

typedef struct ssl_ctx_st tg_tls_ctx; /* OpenSSL SSL_CTX */

/* What every connection of one server shares: the routes and the limits. Owned by the
 * server (or the test); must outlive its connections. */
typedef struct tg_http_router {
  const tg_http_route *routes;
  size_t n_routes;
  size_t max_body_bytes;           /* > 0 */
  uint32_t max_concurrent_streams; /* > 0 */
  size_t max_header_count;         /* per request; 0 = 100 */
  size_t max_header_bytes;         /* per request, names + values; 0 = 64 KiB */
  tg_logger *log;                  /* may be NULL */
  const char *name;                /* log component; may be NULL */
  tg_http_server_stats *stats;     /* counters to bump; required */
  void (*on_refused)(void *ctx, const char *reason); /* see tg_http_server_options */
  void *on_refused_ctx;
  tg_http_auth auth;               /* checked before every handler; {NULL} = none */
  tg_http_keepalive keepalive;     /* HTTP/2: the client-PING policy (enforce, min_time) */
  const tg_http_cors *cors;        /* plain HTTP: CORS; NULL = none */
  const char *const *response_header_names; /* added to every plain HTTP response */
  const char *const *response_header_values;
  size_t n_response_headers;
  const char *const *encodings;    /* Content-Encodings accepted; n_encodings 0 = all */
  size_t n_encodings;
} tg_http_router;

enum { TG_HTTP_PROTO_AUTO = 0, TG_HTTP_PROTO_H1 = 1, TG_HTTP_PROTO_H2 = 2 };

/* Receives output bytes; they must be copied or sent before returning. A non-zero return
 * means the transport is gone: the connection stops producing output. */
typedef int (*tg_http_write_fn)(void *ctx, const uint8_t *data, size_t len);

typedef struct tg_http_conn tg_http_conn;

/* Creates a connection. proto is TG_HTTP_PROTO_*; tls (may be NULL) makes the connection
 * TLS first (proto is then chosen by ALPN). peer is copied. NULL on ENOMEM. */
tg_http_conn *tg_http_conn_new(const tg_http_router *router, int proto, tg_tls_ctx *tls,
                               const char *peer, tg_http_write_fn write, void *write_ctx);

/* Feeds received bytes. Returns TG_OK to keep reading, or TG_ECLOSED once the
 * connection is finished (error, "Connection: close", GOAWAY): the caller closes the
 * transport after the output already written drains, and feeds nothing more. */
int tg_http_conn_feed(tg_http_conn *conn, const uint8_t *data, size_t len);

/* 1 while a request has been started but not answered (for disconnect stats). */
int tg_http_conn_in_request(const tg_http_conn *conn);

/* Streamed responses (tg_http_body_stream in tg_http_server.h). streaming: 1 while one
 * is in progress (the transport keeps the connection open for it and calls pump after
 * its output drains, one slice per call). input_paused: 1 while received bytes would only
 * be held (HTTP/1.x answers in order), so the transport may stop reading. pump: sends the
 * next slice of each streamed response that is ready for one; returns 1 while more is to
 * come, 0 when none is in progress, TG_ECLOSED when the connection is finished (close
 * it after the output drains). */
int tg_http_conn_streaming(const tg_http_conn *conn);
int tg_http_conn_input_paused(const tg_http_conn *conn);
int tg_http_conn_pump(tg_http_conn *conn, size_t max_bytes);

/* Where the connection stands, for its deadlines (tg_http_deadline.h):
 * HEADERS: from the start (TLS handshake, protocol sniffing, HTTP/2 preface) and from a
 *          request's first byte until its headers are complete;
 * BODY:    headers complete, request body still arriving;
 * IDLE:    between requests (keep-alive), nothing started. */
enum { TG_HTTP_PHASE_IDLE = 0, TG_HTTP_PHASE_HEADERS = 1, TG_HTTP_PHASE_BODY = 2 };
int tg_http_conn_phase(const tg_http_conn *conn);

/* Ends the connection politely before the transport closes it (idle or deadline):
 * HTTP/2 sends GOAWAY; HTTP/1.x sends nothing. Afterwards feed returns TG_ECLOSED. */
void tg_http_conn_shutdown(tg_http_conn *conn);

/* gRPC keepalive (HTTP/2 only). ping: sends a PING (TG_OK), TG_EUNSUPPORTED when the
 * connection is not HTTP/2 (yet). drain: GOAWAY NO_ERROR naming the last stream taken, so
 * the client opens no new stream while open ones finish; nothing for HTTP/1.x (the
 * transport closes it between requests). */
int tg_http_conn_ping(tg_http_conn *conn);
void tg_http_conn_drain(tg_http_conn *conn);

/* Frees the connection and every request/stream state it holds (releasing any streamed
 * response body). NULL is fine. */
void tg_http_conn_free(tg_http_conn *conn);

/* gRPC helpers (tg_grpc.c), exported for the unit tests. */

/* Parses a grpc-timeout value ("1*8DIGIT" + unit H M S m u n) into milliseconds
 * (rounded up, so "1u" is 1 ms). TG_OK or TG_EDECODE. */
int tg_grpc_parse_timeout(const char *value, uint64_t *ms);

/* Percent-encodes a grpc-message value as the gRPC HTTP/2 spec asks (bytes outside
 * 0x20..0x7e, and '%', become %XX). Always NUL-terminates out (when out_len > 0);
 * truncates at a character boundary if out is too small. Returns the length written. */
size_t tg_grpc_percent_encode(const char *msg, char *out, size_t out_len);

#endif
