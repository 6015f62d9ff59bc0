/* TLS termination with OpenSSL over memory BIOs, so TLS is just another sans-IO layer:
 * ciphertext in (tg_tls_feed), plaintext to the engine (on_plain), engine output encrypted
 * (tg_tls_write) and handed back as ciphertext. The socket stays with tg_http_server.c.
 *
 * It owns the SSL object of one connection; the SSL_CTX (certificate, key, optional client
 * CA for mTLS, ALPN selection h2 > http/1.1) is created once per server. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_http_internal.h"

struct tg_tls {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  tg_tls_callbacks cb;
  int ready;
  int dead;
  int handshake_failed; /* the peer's handshake was refused (tg_tls_handshake_failed) */
};

static const unsigned char alpn_protos[] = "\x02h2\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, alpn_protos, sizeof alpn_protos - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; /* no overlap: carry on, HTTP/1.1 */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

tg_tls_ctx *tg_tls_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                           tg_errbuf *err) {
  if (!cert_file || !key_file) {
    tg_errf(err, TG_ECONFIG, "tls: both a certificate and a key file are required");
    return NULL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    tg_errf(err, TG_ENOMEM, "tls: SSL_CTX_new failed");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  char ebuf[256];
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
    ERR_error_string_n(ERR_get_error(), ebuf, sizeof ebuf);
    tg_errf(err, TG_ECONFIG, "tls: cannot load certificate %s: %s", cert_file, ebuf);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_error_string_n(ERR_get_error(), ebuf, sizeof ebuf);
    tg_errf(err, TG_ECONFIG, "tls: cannot load key %s: %s", key_file, ebuf);
    goto fail;
  }
  if (ca_file) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 || !names) {
      if (names)
        sk_X509_NAME_pop_free(names, X509_NAME_free);
      ERR_error_string_n(ERR_get_error(), ebuf, sizeof ebuf);
      tg_errf(err, TG_ECONFIG, "tls: cannot load client CA %s: %s", ca_file, ebuf);
      goto fail;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  ERR_clear_error();
  return ctx;
fail:
  ERR_clear_error();
  SSL_CTX_free(ctx);
  return NULL;
}

void tg_tls_ctx_free(tg_tls_ctx *ctx) { SSL_CTX_free(ctx); }

tg_tls *tg_tls_new(tg_tls_ctx *ctx, tg_tls_callbacks cb) {
  tg_tls *t = tg_calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->cb = cb;
  t->ssl = SSL_new(ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    SSL_free(t->ssl);
    tg_free(t);
    return NULL;
  }
  BIO_set_mem_eof_return(t->rbio, -1);
  BIO_set_mem_eof_return(t->wbio, -1);
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_accept_state(t->ssl);
  return t;
}

/* Moves pending ciphertext to the transport. */
static int flush_cipher(tg_tls *t) {
  uint8_t buf[16384];
  while (BIO_ctrl_pending(t->wbio) > 0) {
    int n = BIO_read(t->wbio, buf, sizeof buf);
    if (n <= 0)
      break;
    if (!t->dead && tg_http_sink_write(&t->cb.cipher_out, buf, (size_t)n) != 0)
      t->dead = 1;
  }
  return t->dead ? -1 : 0;
}

int tg_tls_handshake_failed(const tg_tls *t) {
  return t->handshake_failed;
}

int tg_tls_feed(tg_tls *t, const uint8_t *data, size_t len) {
  if (t->dead)
    return TG_ECLOSED;
  while (len > 0) {
    int chunk = len > 1u << 30 ? 1 << 30 : (int)len;
    int n = BIO_write(t->rbio, data, chunk);
    if (n <= 0)
      return TG_ECLOSED;
    data += n;
    len -= (size_t)n;
  }
  int rc = TG_OK;
  if (!t->ready) {
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      int e = SSL_get_error(t->ssl, r);
      flush_cipher(t); /* alerts included */
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ && !t->dead)
        return TG_OK;
      t->handshake_failed = e == SSL_ERROR_SSL;
      return TG_ECLOSED;
    }
    t->ready = 1;
    const unsigned char *proto = NULL;
    unsigned int plen = 0;
    SSL_get0_alpn_selected(t->ssl, &proto, &plen);
    int which = plen == 2 && memcmp(proto, "h2", 2) == 0 ? TG_HTTP_PROTO_H2 : TG_HTTP_PROTO_H1;
    if (flush_cipher(t) != 0 || t->cb.on_ready(t->cb.ctx, which) != TG_OK)
      return TG_ECLOSED;
  }
  uint8_t buf[16384];
  for (;;) {
    int n = SSL_read(t->ssl, buf, sizeof buf);
    if (n > 0) {
      rc = t->cb.on_plain(t->cb.ctx, buf, (size_t)n);
      if (rc != TG_OK)
        break;
      continue;
    }
    int e = SSL_get_error(t->ssl, n);
    if (e != SSL_ERROR_WANT_READ)
      rc = TG_ECLOSED; /* close_notify or a protocol error */
    break;
  }
  ERR_clear_error();
  if (flush_cipher(t) != 0)
    rc = TG_ECLOSED;
  return rc;
}

int tg_tls_write(tg_tls *t, const uint8_t *data, size_t len) {
  while (len > 0 && !t->dead) {
    int chunk = len > 1u << 30 ? 1 << 30 : (int)len;
    int n = SSL_write(t->ssl, data, chunk);
    if (n <= 0) {
      ERR_clear_error();
      t->dead = 1;
      break;
    }
    data += n;
    len -= (size_t)n;
    flush_cipher(t);
  }
  return t->dead ? -1 : 0;
}

void tg_tls_free(tg_tls *t) {
  if (!t)
    return;
  SSL_free(t->ssl); /* frees both BIOs */
  tg_free(t);
}
