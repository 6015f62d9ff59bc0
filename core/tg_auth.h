/* Authentication plumbing shared by receivers, exporters and the authenticator
 * extensions (extensions/bearertokenauth, extensions/basicauth).
 *
 * The authenticator itself is an extension whose descriptor carries tg_auth_ops
 * (tg_component.h). A receiver that has `auth: {authenticator: NAME}` binds one
 * tg_auth_server per listener at start: the binding finds the extension instance, makes
 * the per-request check that tg_http_server runs before every handler (tg_http_auth), and
 * counts refusals in tailgate_receiver_refused_requests_total{receiver,transport,
 * reason="unauthenticated"}. An exporter asks tg_auth_client_header once at start for the
 * header it adds to its requests.
 *
 * Secrets: nothing here logs or labels a credential; refusals log the peer at debug. */
#ifndef TG_AUTH_H
#define TG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "tg_component.h"
#include "tg_http_server.h"
#include "tg_log.h"
#include "tg_metrics.h"

/* The extension instance `id` if it is configured, listed in service.extensions and an
 * authenticator; NULL otherwise. */
tg_instance *tg_auth_find(tg_service *svc, const char *id);

/* One listener's binding to its authenticator. Lives in the receiver's state, which must
 * outlive the server it is attached to. Zero-initialised = no authentication. */
typedef struct tg_auth_server {
  tg_instance *authenticator; /* NULL: every request passes */
  tg_metric_cell *refused;    /* refused requests, reason="unauthenticated" */
  tg_logger *log;
  const char *log_component;  /* "receiver:otlp"; must outlive the binding */
} tg_auth_server;

/* Binds b to the authenticator `id` (NULL or "" = none: b stays open). receiver_id and
 * transport ("grpc", "http", "thrift_http") label the refusal counter. TG_OK, or
 * TG_ECONFIG with detail when the extension is unknown or not an authenticator. */
int tg_auth_server_bind(tg_auth_server *b, tg_service *svc, const char *id,
                        const char *receiver_id, const char *transport,
                        const char *log_component, tg_errbuf *err);

/* The hook to put in tg_http_server_options.auth ({NULL} when b has no authenticator). */
tg_http_auth tg_auth_server_http(tg_auth_server *b);

/* Calls the extension's server side directly (tests, and the hook above). TG_OK or
 * TG_EAUTH; an extension without a server side refuses everything. */
int tg_auth_authenticate(tg_instance *authenticator, const tg_http_request *req);
const char *tg_auth_challenge(const tg_instance *authenticator);

/* Client side: the header the authenticator `id` asks an exporter to send. TG_OK, or
 * TG_ECONFIG (unknown id, not an authenticator, no client side) / the extension's error,
 * with detail in err (never containing the secret). */
int tg_auth_client_header(tg_service *svc, const char *id, char *name, size_t name_len,
                          char *value, size_t value_len, tg_errbuf *err);

/* For exporters whose transports send conf `headers`: when id is set, puts the
 * authenticator's header into headers (replacing a configured header of the same name,
 * case-insensitively), so every transport built from headers carries it. The strings are
 * allocated like the config loader's (tg_free'd with the config). id NULL or "": TG_OK,
 * nothing changes. Errors as tg_auth_client_header. */
int tg_auth_client_apply(tg_service *svc, const char *id, tg_conf_strmap *headers,
                         tg_errbuf *err);

/* Constant-time equality of two secrets of any lengths: both are hashed (SHA-256) and the
 * digests compared with CRYPTO_memcmp, so neither the position of the first difference
 * nor the length of the expected secret shows in the timing. 1 when equal. */
int tg_auth_secret_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* The digest tg_auth_secret_equal compares: callers that check one presented secret
 * against many stored ones digest the stored ones once and the presented one per request,
 * then compare digests with CRYPTO_memcmp. */
#define TG_AUTH_DIGEST_LEN 32
void tg_auth_secret_digest(const void *s, size_t len, unsigned char out[TG_AUTH_DIGEST_LEN]);

/* Overwrites a secret before its memory is freed (OPENSSL_cleanse: not optimised away). */
void tg_auth_wipe(void *p, size_t n);

/* Finds the credentials of `scheme` ("Bearer", "Basic"; matched case-insensitively) in
 * the request's Authorization header: *cred points at them (leading spaces skipped,
 * trailing spaces trimmed from *cred_len). 1 when found and non-empty, else 0. */
int tg_auth_header_credentials(const tg_http_request *req, const char *header,
                               const char *scheme, const char **cred, size_t *cred_len);

/* What tells a changed file from an unchanged one without reading it. */
typedef struct tg_file_stamp {
  uint64_t dev, ino, size;
  int64_t mtime_ns, ctime_ns;
} tg_file_stamp;

/* Fills out from stat(path). TG_OK or TG_EIO. */
int tg_file_stamp_read(const char *path, tg_file_stamp *out);
int tg_file_stamp_equal(const tg_file_stamp *a, const tg_file_stamp *b);

/* Reads a whole file of at most max_bytes into out (NUL-terminated, *len without it;
 * released with tg_free). TG_OK, TG_EIO (with errno text in err), TG_ETOOBIG. */
int tg_auth_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                      tg_errbuf *err);

#endif
