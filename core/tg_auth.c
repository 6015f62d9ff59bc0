/* Binding receivers and exporters to authenticator extensions, and the small pieces of
 * secret handling every authenticator shares (constant-time equality, Authorization
 * header parsing, file change stamps, bounded file reads).
 *
 * Why the check is a route hook rather than a receiver's business: tg_http_route_invoke
 * is the single point every HTTP/1, HTTP/2 and gRPC request passes before any handler,
 * so a receiver (OTLP, Jaeger, a future Zipkin one) only binds an authenticator at start
 * and cannot forget to check a path. The binding counts refusals; the extension decides. */
#include "tg_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "tg_alloc.h"
#include "tg_hmac.h"
#include "tg_service.h"

tg_instance *tg_auth_find(tg_service *svc, const char *id) {
  if (!svc || !id)
    return NULL;
  for (size_t i = 0;; i++) {
    tg_instance *inst = tg_service_instance(svc, i);
    if (!inst)
      return NULL;
    if (inst->component->kind == TG_EXTENSION && inst->component->auth &&
        !strcmp(inst->id, id))
      return inst;
  }
}

int tg_auth_authenticate(tg_instance *authenticator, const tg_http_request *req) {
  const tg_auth_ops *ops = authenticator ? authenticator->component->auth : NULL;
  if (!ops || !ops->authenticate)
    return TG_EAUTH; /* fail closed */
  return ops->authenticate(authenticator, req) == TG_OK ? TG_OK : TG_EAUTH;
}

const char *tg_auth_challenge(const tg_instance *authenticator) {
  const tg_auth_ops *ops = authenticator ? authenticator->component->auth : NULL;
  const char *c = ops && ops->challenge ? ops->challenge(authenticator) : NULL;
  return c ? c : "Basic realm=\"tailgate\"";
}

static int check_request(void *ctx, const tg_http_request *req, const char **challenge) {
  tg_auth_server *b = ctx;
  if (tg_auth_authenticate(b->authenticator, req) == TG_OK)
    return TG_OK;
  tg_metric_add(b->refused, 1);
  *challenge = tg_auth_challenge(b->authenticator);
  TG_LOG_DEBUG(b->log, b->log_component, "refused unauthenticated request from %s to %s",
               req->peer ? req->peer : "?", req->path ? req->path : "?");
  return TG_EAUTH;
}

int tg_auth_server_bind(tg_auth_server *b, tg_service *svc, const char *id,
                        const char *receiver_id, const char *transport,
                        const char *log_component, tg_errbuf *err) {
  memset(b, 0, sizeof *b);
  if (!id || !*id)
    return TG_OK;
  tg_instance *ext = tg_auth_find(svc, id);
  if (!ext)
    return tg_errf(err, TG_ECONFIG,
                   "auth.authenticator: \"%.100s\" is not an authenticator extension listed "
                   "in service.extensions",
                   id);
  const tg_auth_ops *ops = ext->component->auth;
  if (!ops->authenticate)
    return tg_errf(err, TG_ECONFIG,
                   "auth.authenticator: extension \"%.100s\" cannot authenticate servers", id);
  b->authenticator = ext;
  b->log = svc->log;
  b->log_component = log_component;
  if (svc->metrics) {
    static const char *const labels[] = {"receiver", "transport", "reason", NULL};
    tg_metric_family *f = tg_metrics_family(
        svc->metrics, "tailgate_receiver_refused_requests_total",
        "Requests a receiver refused before decoding them, by reason.", TG_METRIC_COUNTER,
        labels);
    const char *values[] = {receiver_id ? receiver_id : "?", transport, "unauthenticated",
                            NULL};
    b->refused = f ? tg_metrics_series(f, values) : NULL;
    if (!b->refused)
      return tg_errf(err, TG_ENOMEM, "cannot register the refused-requests counter");
  }
  return TG_OK;
}

tg_http_auth tg_auth_server_http(tg_auth_server *b) {
  tg_http_auth a = {NULL, NULL};
  if (b && b->authenticator) {
    a.check = check_request;
    a.ctx = b;
  }
  return a;
}

int tg_auth_client_header(tg_service *svc, const char *id, char *name, size_t name_len,
                          char *value, size_t value_len, tg_errbuf *err) {
  tg_instance *ext = tg_auth_find(svc, id);
  if (!ext)
    return tg_errf(err, TG_ECONFIG,
                   "auth.authenticator: \"%.100s\" is not an authenticator extension listed "
                   "in service.extensions",
                   id ? id : "");
  const tg_auth_ops *ops = ext->component->auth;
  if (!ops->client_header)
    return tg_errf(err, TG_ECONFIG,
                   "auth.authenticator: extension \"%.100s\" has no client side", id);
  if (!name_len || !value_len)
    return tg_errf(err, TG_EINVAL, "auth: no room for the header");
  name[0] = value[0] = '\0';
  return ops->client_header(ext, name, name_len, value, value_len, err);
}

int tg_auth_client_apply(tg_service *svc, const char *id, tg_conf_strmap *headers,
                         tg_errbuf *err) {
  if (!id || !*id)
    return TG_OK;
  char name[128], value[8192];
  int rc = tg_auth_client_header(svc, id, name, sizeof name, value, sizeof value, err);
  if (rc != TG_OK)
    return rc;
  char *n = tg_strdup(name), *v = tg_strdup(value);
  tg_auth_wipe(value, sizeof value);
  if (!n || !v) {
    tg_free(n);
    tg_free(v);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < headers->n; i++) {
    if (strcasecmp(headers->keys[i], name) == 0) {
      tg_free(n);
      tg_auth_wipe(headers->values[i], strlen(headers->values[i]));
      tg_free(headers->values[i]);
      headers->values[i] = v;
      return TG_OK;
    }
  }
  char **keys = tg_realloc(headers->keys, (headers->n + 1) * sizeof *keys);
  if (keys)
    headers->keys = keys;
  char **values = keys ? tg_realloc(headers->values, (headers->n + 1) * sizeof *values) : NULL;
  if (values)
    headers->values = values;
  if (!keys || !values) {
    tg_free(n);
    tg_free(v);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  headers->keys[headers->n] = n;
  headers->values[headers->n] = v;
  headers->n++;
  return TG_OK;
}

void tg_auth_secret_digest(const void *s, size_t len, unsigned char out[TG_AUTH_DIGEST_LEN]) {
  tg_sha256(len ? s : (const void *)"", len, out); /* not SHA256(): see tg_hmac.c */
}

int tg_auth_secret_equal(const void *a, size_t a_len, const void *b, size_t b_len) {
  unsigned char da[TG_AUTH_DIGEST_LEN], db[TG_AUTH_DIGEST_LEN];
  tg_auth_secret_digest(a, a_len, da);
  tg_auth_secret_digest(b, b_len, db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

void tg_auth_wipe(void *p, size_t n) {
  if (p && n)
    OPENSSL_cleanse(p, n);
}

int tg_auth_header_credentials(const tg_http_request *req, const char *header,
                               const char *scheme, const char **cred, size_t *cred_len) {
  const char *v = tg_http_request_header(req, header ? header : "authorization");
  *cred = NULL;
  *cred_len = 0;
  if (!v)
    return 0;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t slen = strlen(scheme);
  if (slen) {
    if (strncasecmp(v, scheme, slen) != 0 || (v[slen] != ' ' && v[slen] != '\t'))
      return 0;
    v += slen;
  }
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  if (!n)
    return 0;
  *cred = v;
  *cred_len = n;
  return 1;
}

int tg_file_stamp_read(const char *path, tg_file_stamp *out) {
  struct stat st;
  memset(out, 0, sizeof *out);
  if (!path || stat(path, &st) != 0)
    return TG_EIO;
  out->dev = (uint64_t)st.st_dev;
  out->ino = (uint64_t)st.st_ino;
  out->size = (uint64_t)st.st_size;
  out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  out->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
  return TG_OK;
}

int tg_file_stamp_equal(const tg_file_stamp *a, const tg_file_stamp *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

int tg_auth_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                      tg_errbuf *err) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return tg_errf(err, TG_EIO, "cannot open %s: %s", path, strerror(errno));
  char *buf = tg_malloc(max_bytes + 2);
  if (!buf) {
    fclose(f);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  size_t n = fread(buf, 1, max_bytes + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    tg_free(buf);
    return tg_errf(err, TG_EIO, "cannot read %s", path);
  }
  if (n > max_bytes) {
    tg_free(buf);
    return tg_errf(err, TG_ETOOBIG, "%s is larger than %zu bytes", path, max_bytes);
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return TG_OK;
}
