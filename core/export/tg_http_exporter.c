/* The shared skeleton of the libcurl exporters (zipkin, jaeger_thrift_http, otlphttp):
 * the sender-thread worker (one tg_http_client and one request buffer) and the start
 * sequence, which each had written out the same way. The exporters keep what really
 * differs: URL rules, content type, status classification and the send function.
 *
 * Ownership: a worker belongs to the sender thread that made it; the header list built
 * at start belongs to the exporter's state, which frees it after its queue (the senders
 * read it until they are joined). */
#include "tg_http_exporter.h"

#include "tg_alloc.h"
#include "tg_auth.h"
#include "tg_component.h"

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
  tg_free(w);
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
