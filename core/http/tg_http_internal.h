/* Private glue between the files of core/http/: the protocol engines (tg_http1.c,
 * tg_http2.c), the TLS layer (tg_tls.c), gRPC framing (tg_grpc.c) and the shared routing
 * and response code (tg_http_route.c). Nothing here is used outside core/http/. */
#ifndef TG_HTTP_INTERNAL_H
#define TG_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tg_http_conn.h"

/* Output sink of an engine: the connection (which may encrypt first). */
typedef struct tg_http_sink {
  int (*write)(void *ctx, const uint8_t *data, size_t len);
  void *ctx;
} tg_http_sink;

static inline int tg_http_sink_write(const tg_http_sink *s, const uint8_t *d, size_t n) {
  return s->write(s->ctx, d, n);
}

/* Counts a request the server refused itself, and tells the owner. */
static inline void tg_http_note_too_large(const tg_http_router *r) {
  r->stats->too_large++;
  if (r->on_refused)
    r->on_refused(r->on_refused_ctx, "too_large");
}
static inline void tg_http_note_bad_request(const tg_http_router *r) {
  r->stats->bad_requests++;
  if (r->on_refused)
    r->on_refused(r->on_refused_ctx, "malformed");
}

/* Tells the owner of a refusal the server counts in its own stats (reason: "timeout",
 * "too_many_connections", "tls_handshake"; see tg_http_server_options.on_refused). */
static inline void tg_http_note_refused(const tg_http_router *r, const char *reason) {
  if (r->on_refused)
    r->on_refused(r->on_refused_ctx, reason);
}

/* --- routing (tg_http_route.c) --- */
enum { TG_HTTP_ROUTE_FOUND, TG_HTTP_ROUTE_NOT_FOUND, TG_HTTP_ROUTE_BAD_METHOD };

/* Looks up path (and method) among routes whose grpc flag equals grpc. On BAD_METHOD,
 * allow receives the comma-separated allowed methods. */
int tg_http_route_find(const tg_http_router *r, const char *method, const char *path,
                       int grpc, const tg_http_route **out, char *allow, size_t allow_len);
/* Initialises resp with the defaults (status 200, empty body) and calls the handler,
 * unless r->auth refuses the request (then resp is the 401 / gRPC 16 answer). */
void tg_http_route_invoke(const tg_http_router *r, const tg_http_route *route,
                          const tg_http_request *req, tg_http_response *resp);
/* Prepares a server-generated response (text/plain body = reason text). */
void tg_http_response_error(tg_http_response *resp, int status, const char *text);
const char *tg_http_reason(int status);
size_t tg_http_max_header_count(const tg_http_router *r);
size_t tg_http_max_header_bytes(const tg_http_router *r);
/* Decodes body per Content-Encoding into out (limit max_body_bytes). Returns TG_OK with
 * *decoded set when inflated (out holds the body), TG_OK with *decoded = 0 for identity,
 * TG_EUNSUPPORTED (415), TG_ETOOBIG (413), TG_EDECODE (400), TG_ENOMEM. */
int tg_http_decode_body(const tg_http_router *r, const char *content_encoding,
                        const uint8_t *body, size_t len, tg_buf *out, int *decoded);

/* Reserves room for a body the peer declared (Content-Length, a gRPC message prefix), so
 * it arrives without the buffer's doubling reallocs (each a copy of what came so far):
 * the buffer is handed on with the request (tg_http_request_take_body), so every request
 * starts from an empty one. At most TG_HTTP_PRESIZE_MAX is reserved before the bytes
 * arrive, so a declaration alone cannot make the server allocate much; the cap (limit)
 * still applies and a failure is left for the append to report. */
enum { TG_HTTP_PRESIZE_MAX = 1 << 20 };
static inline void tg_http_presize_body(tg_buf *body, uint64_t declared) {
  if (declared > TG_HTTP_PRESIZE_MAX)
    declared = TG_HTTP_PRESIZE_MAX;
  if (body->limit && declared > body->limit)
    declared = body->limit;
  if (declared > body->len && (declared > body->cap || !body->data))
    (void)tg_buf_reserve(body, (size_t)declared - body->len);
}

/* --- response decoration: CORS and response_headers (tg_http_cors.c) --- */
enum { TG_HTTP_MAX_RESPONSE_HEADERS = 32, TG_HTTP_DECOR_MAX = 6 + TG_HTTP_MAX_RESPONSE_HEADERS };
typedef struct tg_http_decor {
  tg_http_header h[TG_HTTP_DECOR_MAX]; /* lower-case names; values borrowed */
  size_t n;
  char max_age[24];
} tg_http_decor;
/* 1 when origin is allowed by c (exact, one-'*' pattern or "*"; case-insensitive). */
int tg_http_cors_origin_allowed(const tg_http_cors *c, const char *origin);
/* 1 when the request is a CORS preflight the server answers itself (cors configured,
 * OPTIONS, Origin and Access-Control-Request-Method present). */
int tg_http_cors_is_preflight(const tg_http_router *r, const char *method, const char *origin,
                              const char *request_method);
/* The headers to add to a plain HTTP response: for a preflight (answered 204) the
 * Access-Control-Allow-* answer, else Vary/Allow-Origin for an allowed origin; then
 * r->response_headers. Values point into the arguments, r and d. */
void tg_http_decorate(const tg_http_router *r, const char *origin, int preflight,
                      const char *request_method, const char *request_headers,
                      tg_http_decor *d);

/* --- HTTP/1.x engine (tg_http1.c) --- */
typedef struct tg_http1 tg_http1;
tg_http1 *tg_http1_new(const tg_http_router *r, const char *peer, tg_http_sink sink);
/* TG_OK or TG_ECLOSED (same meaning as tg_http_conn_feed). */
int tg_http1_feed(tg_http1 *h, const uint8_t *data, size_t len);
int tg_http1_in_request(const tg_http1 *h);
/* Streamed responses (tg_http_body_stream): 1 while one is in progress (input is then
 * held, not parsed). pump sends the next slice: 1 more to come, 0 none in progress (held
 * input was parsed), TG_ECLOSED the connection is finished. */
int tg_http1_streaming(const tg_http1 *h);
int tg_http1_pump(tg_http1 *h, size_t max_bytes);
/* TG_HTTP_PHASE_*: HEADERS from the connection's start (or a request's first byte) to the
 * end of its header block, BODY until the request is complete, IDLE between requests. */
int tg_http1_phase(const tg_http1 *h);
void tg_http1_free(tg_http1 *h);

/* --- HTTP/2 engine (tg_http2.c) --- */
typedef struct tg_http2 tg_http2;
tg_http2 *tg_http2_new(const tg_http_router *r, const char *peer, tg_http_sink sink);
int tg_http2_feed(tg_http2 *h, const uint8_t *data, size_t len);
int tg_http2_in_request(const tg_http2 *h);
/* As for HTTP/1, per stream: the number of streamed responses in progress; pump gives each
 * stream whose last slice was sent its next slice (input keeps flowing meanwhile). */
int tg_http2_streaming(const tg_http2 *h);
int tg_http2_pump(tg_http2 *h, size_t max_bytes);
/* TG_HTTP_PHASE_*: HEADERS until the first frame and while a stream's header block is
 * open, BODY while a stream awaits END_STREAM, else IDLE. */
int tg_http2_phase(const tg_http2 *h);
/* Sends GOAWAY NO_ERROR (idle or deadline close); the engine then wants no more input. */
void tg_http2_goaway(tg_http2 *h);
/* Keepalive: sends a PING (TG_OK, TG_ECLOSED, TG_ENOMEM); drain sends GOAWAY NO_ERROR with
 * the last stream taken (open streams finish, no new ones start). */
int tg_http2_ping(tg_http2 *h);
void tg_http2_drain(tg_http2 *h);
void tg_http2_free(tg_http2 *h);

/* --- gRPC framing (tg_grpc.c) --- */
/* The message length in a gRPC frame's 5-byte prefix (flag, then big-endian length). */
static inline uint32_t tg_grpc_prefix_length(const uint8_t *prefix) {
  return (uint32_t)prefix[1] << 24 | (uint32_t)prefix[2] << 16 | (uint32_t)prefix[3] << 8 |
         prefix[4];
}
/* Takes the request body of a unary gRPC call (length-prefixed messages) and finds the
 * single message: data and data_len point into body for an uncompressed message (no copy),
 * or into out once it is inflated per grpc-encoding. Returns a gRPC status code:
 * 0 OK, 8 RESOURCE_EXHAUSTED (message above limit), 12 UNIMPLEMENTED (more than one
 * message, unknown encoding), 13 INTERNAL (truncated/malformed/corrupt), and sets *msg to a
 * static description on error. */
int tg_grpc_unframe(const uint8_t *body, size_t len, const char *encoding, size_t limit,
                    tg_buf *out, const uint8_t **data, size_t *data_len, const char **msg);
/* While the body is still arriving: 8 if the first message is declared above limit,
 * 12 if a second message starts, else 0. */
int tg_grpc_check_partial(const uint8_t *body, size_t len, size_t limit, const char **msg);
/* Appends the 5-byte prefix and msg to out. */
int tg_grpc_frame(const uint8_t *msg, size_t len, tg_buf *out);

/* --- TLS (tg_tls.c) --- */
typedef struct tg_tls tg_tls;
/* Creates the SSL_CTX from PEM files; NULL + err on failure. */
tg_tls_ctx *tg_tls_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                           tg_errbuf *err);
void tg_tls_ctx_free(tg_tls_ctx *ctx);
/* on_plain gets decrypted bytes; the first call of on_alpn (before any plaintext) gives the
 * negotiated protocol (TG_HTTP_PROTO_H1/H2). cipher_out receives TLS records. */
typedef struct tg_tls_callbacks {
  int (*on_ready)(void *ctx, int proto);
  int (*on_plain)(void *ctx, const uint8_t *data, size_t len); /* TG_OK or TG_ECLOSED */
  tg_http_sink cipher_out;
  void *ctx;
} tg_tls_callbacks;
tg_tls *tg_tls_new(tg_tls_ctx *ctx, tg_tls_callbacks cb);
/* Ciphertext in. TG_OK or TG_ECLOSED. */
int tg_tls_feed(tg_tls *t, const uint8_t *data, size_t len);
/* Non-zero once a handshake failed on a protocol error (not a bare disconnect). */
int tg_tls_handshake_failed(const tg_tls *t);
/* Plaintext out (encrypted to cb.cipher_out). 0 or -1. */
int tg_tls_write(tg_tls *t, const uint8_t *data, size_t len);
void tg_tls_free(tg_tls *t);

#endif
