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

/* Frees the connection and every request/stream state it holds. NULL is fine. */
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
