/* The sans-IO connection: protocol detection and layering, nothing else.
 *
 * Bytes from the transport go to TLS first when configured (tg_tls.c), then to the
 * protocol engine. Without TLS the engine is chosen by sniffing the first 24 bytes for
 * the HTTP/2 client preface (h2c with prior knowledge, as gRPC clients do); with TLS,
 * ALPN chooses. Output of the engine goes back down through TLS to the write callback.
 * Keeping this switchboard separate lets the engines stay unaware of TLS and sockets. */
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_http_internal.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
enum { PREFACE_LEN = sizeof preface - 1 };

struct tg_http_conn {
  const tg_http_router *r;
  int proto;
  tg_http1 *h1;
  tg_http2 *h2;
  tg_tls *tls;
  tg_http_write_fn write;
  void *write_ctx;
  char peer[64];
  uint8_t sniff[PREFACE_LEN];
  size_t sniff_len;
  int closed;
};

static int raw_write(void *ctx, const uint8_t *data, size_t len) {
  tg_http_conn *c = ctx;
  return c->write(c->write_ctx, data, len);
}

/* Engine output: through TLS when present. */
static int engine_write(void *ctx, const uint8_t *data, size_t len) {
  tg_http_conn *c = ctx;
  if (c->tls)
    return tg_tls_write(c->tls, data, len);
  return c->write(c->write_ctx, data, len);
}

static int start_engine(tg_http_conn *c, int proto) {
  tg_http_sink sink = {engine_write, c};
  c->proto = proto;
  if (proto == TG_HTTP_PROTO_H2)
    c->h2 = tg_http2_new(c->r, c->peer, sink);
  else
    c->h1 = tg_http1_new(c->r, c->peer, sink);
  return c->h1 || c->h2 ? TG_OK : TG_ENOMEM;
}

static int engine_feed(tg_http_conn *c, const uint8_t *data, size_t len) {
  if (c->h2)
    return tg_http2_feed(c->h2, data, len);
  if (c->h1)
    return tg_http1_feed(c->h1, data, len);
  return TG_ECLOSED;
}

/* Plaintext in: sniff the protocol if still unknown, then hand to the engine. */
static int plain_feed(void *ctx, const uint8_t *data, size_t len) {
  tg_http_conn *c = ctx;
  if (c->proto != TG_HTTP_PROTO_AUTO)
    return engine_feed(c, data, len);
  size_t take = PREFACE_LEN - c->sniff_len;
  if (take > len)
    take = len;
  memcpy(c->sniff + c->sniff_len, data, take);
  c->sniff_len += take;
  int is_h2 = memcmp(c->sniff, preface, c->sniff_len) == 0;
  if (is_h2 && c->sniff_len < PREFACE_LEN)
    return TG_OK; /* undecided: wait for more bytes */
  if (start_engine(c, is_h2 ? TG_HTTP_PROTO_H2 : TG_HTTP_PROTO_H1) != TG_OK)
    return TG_ECLOSED;
  int rc = engine_feed(c, c->sniff, c->sniff_len);
  if (rc == TG_OK && len > take)
    rc = engine_feed(c, data + take, len - take);
  return rc;
}

static int tls_ready(void *ctx, int proto) {
  tg_http_conn *c = ctx;
  return start_engine(c, proto) == TG_OK ? TG_OK : TG_ECLOSED;
}

tg_http_conn *tg_http_conn_new(const tg_http_router *router, int proto, tg_tls_ctx *tls,
                               const char *peer, tg_http_write_fn write, void *write_ctx) {
  tg_http_conn *c = tg_calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->r = router;
  c->write = write;
  c->write_ctx = write_ctx;
  snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
  if (tls) {
    tg_tls_callbacks cb = {
        .on_ready = tls_ready, .on_plain = plain_feed, .cipher_out = {raw_write, c}, .ctx = c};
    c->tls = tg_tls_new(tls, cb);
    if (!c->tls) {
      tg_free(c);
      return NULL;
    }
  } else if (proto != TG_HTTP_PROTO_AUTO && start_engine(c, proto) != TG_OK) {
    tg_http_conn_free(c);
    return NULL;
  }
  return c;
}

int tg_http_conn_feed(tg_http_conn *c, const uint8_t *data, size_t len) {
  if (c->closed)
    return TG_ECLOSED;
  int rc = c->tls ? tg_tls_feed(c->tls, data, len) : plain_feed(c, data, len);
  if (rc != TG_OK)
    c->closed = 1;
  return c->closed ? TG_ECLOSED : TG_OK;
}

int tg_http_conn_in_request(const tg_http_conn *c) {
  if (c->h1)
    return tg_http1_in_request(c->h1);
  if (c->h2)
    return tg_http2_in_request(c->h2);
  return c->sniff_len > 0;
}

int tg_http_conn_streaming(const tg_http_conn *c) {
  if (c->h1)
    return tg_http1_streaming(c->h1);
  if (c->h2)
    return tg_http2_streaming(c->h2) > 0;
  return 0;
}

int tg_http_conn_input_paused(const tg_http_conn *c) {
  return c->h1 && tg_http1_streaming(c->h1);
}

int tg_http_conn_pump(tg_http_conn *c, size_t max_bytes) {
  if (c->h1)
    return tg_http1_pump(c->h1, max_bytes);
  if (c->h2)
    return tg_http2_pump(c->h2, max_bytes);
  return c->closed ? TG_ECLOSED : 0;
}

int tg_http_conn_phase(const tg_http_conn *c) {
  if (c->h1)
    return tg_http1_phase(c->h1);
  if (c->h2)
    return tg_http2_phase(c->h2);
  return TG_HTTP_PHASE_HEADERS; /* TLS handshake or protocol sniffing */
}

void tg_http_conn_shutdown(tg_http_conn *c) {
  if (c->h2 && !c->closed)
    tg_http2_goaway(c->h2);
  c->closed = 1;
}

int tg_http_conn_ping(tg_http_conn *c) {
  if (c->closed)
    return TG_ECLOSED;
  return c->h2 ? tg_http2_ping(c->h2) : TG_EUNSUPPORTED;
}

void tg_http_conn_drain(tg_http_conn *c) {
  if (c->h2 && !c->closed)
    tg_http2_drain(c->h2);
}

void tg_http_conn_free(tg_http_conn *c) {
  if (!c)
    return;
  tg_http1_free(c->h1);
  tg_http2_free(c->h2);
  tg_tls_free(c->tls);
  tg_free(c);
}
