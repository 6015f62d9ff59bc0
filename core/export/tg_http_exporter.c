/* The shared skeleton of the libcurl exporters (zipkin, jaeger_thrift_http, otlphttp):
 * the sender-thread worker (one tg_http_client and one request buffer) and the start
 * sequence, which each had written out the same way. The exporters keep what really
 * differs: URL rules, content type, status classification and the send function.
 *
 * Ownership: a worker belongs to the sender thread that made it; the header list built
 * at start belongs to the exporter's state, which frees it after its queue (the senders
 * read it until they are joined). */
#include "tg_http_exporter.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_alloc.h"
#include "tg_auth.h"
#include "tg_component.h"
#include "tg_service.h"

void *tg_http_worker_new(size_t size, const tg_http_client_opts *opts) {
  if (size < sizeof(tg_http_worker))
    return NULL;
  tg_http_worker *w = tg_calloc(1, size);
  if (!w)
    return NULL;
  tg_buf_init(&w->body, 0);
  if (tg_http_client_init(&w->http, opts) != TG_OK) {
    tg_http_client_fini(&w->http);
    tg_free(w);
    return NULL;
  }
  return w;
}

void tg_http_worker_fini(void *ctx, void *worker) {
  (void)ctx;
  tg_http_worker *w = worker;
  if (!w)
    return;
  tg_http_client_fini(&w->http);
  tg_buf_free(&w->body);
  tg_compressor_free(w->compressor);
  tg_free(w);
}

const char *tg_http_compression_problem(int codec, int64_t level) {
  if (codec == TG_CODEC_NONE || tg_codec_level_ok(codec, (int)level))
    return NULL;
  switch (codec) {
  case TG_CODEC_GZIP: return "gzip takes levels 1 to 12 (0 = default)";
  case TG_CODEC_ZSTD: return "zstd takes levels -7 to 19 (0 = default)";
  default: return "snappy has no levels (0 only)";
  }
}

int tg_http_worker_compress(tg_http_worker *w, int codec, int64_t level, const uint8_t *in,
                            size_t len) {
  if (!w->compressor) {
    w->compressor = tg_compressor_new(codec, (int)level);
    if (!w->compressor)
      return tg_codec_level_ok(codec, (int)level) ? TG_ENOMEM : TG_EINVAL;
  }
  w->body.len = 0;
  return tg_compressor_compress(w->compressor, in, len, &w->body);
}

void tg_http_worker_abort(void *ctx, void *worker) {
  (void)ctx;
  tg_http_worker *w = worker;
  tg_http_client_abort(&w->http);
}

int tg_http_exporter_check_headers(const tg_conf_strmap *headers,
                                   const char *(*problem)(const char *key, const char *value),
                                   const char *id, tg_errbuf *err) {
  for (size_t i = 0; i < headers->n; i++) {
    const char *why = problem(headers->keys[i], headers->values[i]);
    if (why)
      return tg_errf(err, TG_ECONFIG, "%s: headers.%s: %s", id, headers->keys[i], why);
  }
  return TG_OK;
}

int tg_http_exporter_start(struct tg_instance *self, tg_export_queue *queue, const char *id,
                           const char *authenticator, tg_conf_strmap *headers,
                           const char *const *fixed, size_t n_fixed, struct curl_slist **list,
                           tg_errbuf *err) {
  const char *why = tg_http_global_init();
  if (why)
    return tg_errf(err, TG_EIO, "%s: libcurl init failed: %s", id, why);
  if (!*list) {
    int rc = tg_auth_client_apply(self->service, authenticator, headers, err);
    if (rc)
      return rc;
    for (size_t i = 0; !rc && i < n_fixed; i++)
      rc = tg_http_header_add(list, fixed[i], NULL);
    for (size_t i = 0; !rc && i < headers->n; i++)
      rc = tg_http_header_add(list, headers->keys[i], headers->values[i]);
    if (rc)
      return tg_errf(err, rc, "%s: out of memory", id);
  }
  int rc = tg_queued_exporter_attach_storage(self, err);
  if (rc)
    return rc;
  rc = tg_export_queue_start(queue);
  if (rc)
    return tg_errf(err, rc, "%s: cannot start sender threads: %s", id, tg_strerror(rc));
  return TG_OK;
}

char *tg_http_exporter_url(const char *endpoint, const char *default_path,
                           const char *example, tg_errbuf *err) {
  if (!endpoint || !*endpoint) {
    tg_errf(err, TG_ECONFIG, "endpoint is required (%s)", example);
    return NULL;
  }
  const char *rest = !strncmp(endpoint, "http://", 7)    ? endpoint + 7
                     : !strncmp(endpoint, "https://", 8) ? endpoint + 8
                                                         : NULL;
  if (!rest || !*rest || *rest == '/') {
    tg_errf(err, TG_ECONFIG, "endpoint \"%s\": expected an http:// or https:// URL with a host",
            endpoint);
    return NULL;
  }
  for (const char *c = endpoint; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
      tg_errf(err, TG_ECONFIG, "endpoint \"%s\": no spaces or control characters", endpoint);
      return NULL;
    }
  const char *suffix = strchr(rest, '/') ? "" : default_path;
  size_t n = strlen(endpoint) + strlen(suffix) + 1;
  char *url = tg_malloc(n);
  if (!url) {
    tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  snprintf(url, n, "%s%s", endpoint, suffix);
  return url;
}

const char *tg_http_exporter_header_problem(const char *key, const char *value) {
  if (!strcasecmp(key, "content-type") || !strcasecmp(key, "content-length"))
    return "the exporter sets this header itself";
  return tg_http_header_problem(key, value);
}

tg_send_result tg_http_exporter_status(const tg_http_client *http, long code,
                                       tg_send_outcome *out) {
  if (code >= 200 && code < 300)
    return TG_SEND_OK;
  char text[160];
  tg_http_printable(text, sizeof text, http->body.data, http->body.len, '?');
  snprintf(out->detail, sizeof out->detail, "HTTP %ld: %s", code, text);
  if (code == 429 || code == 502 || code == 503 || code == 504) {
    out->retry_after_ms = http->retry_after_ms;
    return TG_SEND_RETRYABLE;
  }
  return TG_SEND_PERMANENT;
}

/* ---- exporters that POST to one collector URL ---- */

#define COLLECTOR_MAX_RESPONSE 4096u /* of an error body, for the log */
#define COLLECTOR_MAX_RETRY_AFTER_MS (3600u * 1000u)

void tg_http_exporter_check_conf(const tg_http_exporter_spec *spec, const char *endpoint,
                                 const tg_http_tls_conf *tls, const tg_conf_strmap *headers,
                                 const tg_yaml_pos *pos, const char *what, tg_diag *diag) {
  tg_errbuf err;
  char *url = tg_http_exporter_url(endpoint, spec->default_path, spec->example, &err);
  if (!url)
    tg_diag_add(diag, pos, "%s: %s", what, err.msg);
  tg_free(url);
  tg_http_conf_check(tls, headers, tg_http_exporter_header_problem, pos, what, diag);
}

void tg_http_exporter_destroy(struct tg_instance *self) {
  tg_http_exporter *st = self->state;
  if (!st)
    return;
  tg_export_queue_free(st->queue); /* joins the senders before their handles go */
  curl_slist_free_all(st->headers);
  tg_free(st->url);
  tg_free(st);
  self->state = NULL;
}

int tg_http_exporter_create(struct tg_instance *self, const tg_http_exporter_spec *spec,
                            const char *endpoint, const tg_conf_strmap *headers,
                            const tg_retry_conf *retry, const tg_queue_conf *queue,
                            tg_errbuf *err) {
  const char *id = self->id ? self->id : spec->default_id;
  if (spec->state_size < sizeof(tg_http_exporter))
    return tg_errf(err, TG_EINVAL, "%s: state too small", id);
  tg_http_exporter *st = tg_calloc(1, spec->state_size);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = st;
  st->id = id;
  tg_errbuf uerr;
  if (!(st->url = tg_http_exporter_url(endpoint, spec->default_path, spec->example, &uerr))) {
    tg_http_exporter_destroy(self);
    return tg_errf(err, TG_ECONFIG, "%s: %s", id, uerr.msg);
  }
  int rc = tg_http_exporter_check_headers(headers, tg_http_exporter_header_problem, id, err);
  if (rc) {
    tg_http_exporter_destroy(self);
    return rc;
  }
  tg_service *svc = self->service;
  st->tracer = svc ? svc->selftrace : NULL;
  st->queue = tg_export_queue_new(queue, retry, spec->ops, st, id, svc ? svc->log : NULL,
                                  svc ? svc->metrics : NULL);
  if (!st->queue) {
    tg_http_exporter_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  return TG_OK;
}

void *tg_http_exporter_worker_new(const tg_http_exporter *st, size_t worker_size,
                                  uint64_t timeout_ms, const tg_http_tls_conf *tls) {
  const tg_http_client_opts opts = {
      .url = st->url,
      .headers = st->headers,
      .timeout_ms = timeout_ms,
      .tls = tls,
      .max_body = COLLECTOR_MAX_RESPONSE,
      .retry_after = TG_RETRY_AFTER_SECONDS,
      .max_retry_after_ms = COLLECTOR_MAX_RETRY_AFTER_MS,
      .tracer = st->tracer,
      .exporter = st->id,
  };
  return tg_http_worker_new(worker_size, &opts);
}
