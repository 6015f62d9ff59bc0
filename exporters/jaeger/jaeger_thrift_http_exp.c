/* The jaeger_thrift_http exporter: Thrift binary Batches POSTed to a Jaeger collector's
 * /api/traces (:14268), for collectors that take only Thrift (the Collector's former
 * jaeger_thrift exporter). One POST per process (a Thrift Batch has one process),
 * Content-Type application/x-thrift, through libcurl with one easy handle per sender
 * thread (connections kept alive, no locking; core/tg_http_send.h), and the shared sending
 * queue.
 *
 * Classification as OTLP/HTTP (what Jaeger's collector answers): 2xx delivered; 429,
 * 502, 503, 504 retryable, honouring Retry-After in seconds; transport errors retryable;
 * every other status permanent. A retry resumes after the Batches already delivered.
 *
 * The libcurl client (easy handle, body cap, Retry-After, abort) is core/tg_http_send.h's. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jaeger_exp.h"
#include "jaeger_thrift_encode.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_http_exporter.h"
#include "tg_http_send.h"
#include "tg_service.h"
#include "tg_version.h"

typedef struct jthttp_conf {
  char *endpoint; /* http(s)://host:port[/path]; no path = /api/traces */
  tg_http_tls_conf tls;
  tg_conf_strmap headers;
  char *authenticator;
  uint64_t timeout_ms;
  tg_retry_conf retry;
  tg_queue_conf queue;
} jthttp_conf;

typedef struct jthttp_state {
  tg_http_exporter base; /* first: queue, URL, headers, self-tracer, id */
  const jthttp_conf *conf;
} jthttp_state;

typedef struct jthttp_worker {
  tg_http_worker base; /* first; base.body: the Thrift request being sent */
  tg_jaeger_exp_progress progress;
} jthttp_worker;

static const tg_conf_key jthttp_keys[] = {
    TG_KEY_STRING("endpoint", jthttp_conf, endpoint, NULL,
                  "collector URL, e.g. http://jaeger:14268/api/traces (no path: /api/traces); "
                  "required"),
    TG_HTTP_EXPORTER_KEYS(jthttp_conf, tls, headers, authenticator),
    TG_KEY_DURATION("timeout", jthttp_conf, timeout_ms, "5s", 1, 3600000,
                    "deadline of each request"),
    TG_EXPORT_QUEUE_KEYS(jthttp_conf, retry, queue),
};

static const tg_http_exporter_spec jthttp_spec;

static void jthttp_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                              tg_diag *diag) {
  const jthttp_conf *c = vconf;
  tg_http_exporter_check_conf(&jthttp_spec, c->endpoint, &c->tls, &c->headers,
                              node ? &node->pos : NULL, what, diag);
}

/* ---- sender ---- */

static int worker_init(void *ctx, unsigned index, void **out) {
  (void)index;
  jthttp_state *st = ctx;
  *out = tg_http_exporter_worker_new(&st->base, sizeof(jthttp_worker), st->conf->timeout_ms,
                                     &st->conf->tls);
  return *out ? 0 : -1;
}

/* One POST of the bytes in w->base.body. */
static tg_send_result post_attempt(jthttp_worker *w, tg_send_outcome *out) {
  long code = 0;
  tg_send_result sent =
      tg_http_client_post(&w->base.http, w->base.body.data, w->base.body.len, &code, out);
  if (sent != TG_SEND_OK)
    return sent; /* a transport failure, classified */
  return tg_http_exporter_status(&w->base.http, code, out);
}

/* One POST (a batch of spans), as a tailgate.export span whose context it carries. */
static tg_send_result post_one(jthttp_worker *w, size_t spans, unsigned attempt,
                               tg_send_outcome *out) {
  tg_http_client_trace_begin(&w->base.http, spans, attempt);
  tg_send_result r = post_attempt(w, out);
  tg_http_client_trace_end(&w->base.http, r);
  return r;
}

static tg_send_result http_send(void *ctx, void *vw, const tg_export_item *item,
                                tg_send_outcome *out) {
  (void)ctx;
  jthttp_worker *w = vw;
  if (tg_http_client_check_aborted(&w->base.http, out))
    return TG_SEND_PERMANENT;
  tg_jaeger_exp_request req;
  int rc = tg_jaeger_exp_request_init(&req, item->data, item->len);
  if (rc != TG_OK) {
    tg_jaeger_exp_request_free(&req);
    snprintf(out->detail, sizeof out->detail, "cannot convert the request: %s",
             tg_strerror(rc));
    return rc == TG_ENOMEM ? TG_SEND_RETRYABLE : TG_SEND_PERMANENT;
  }
  tg_send_result result = TG_SEND_OK;
  for (size_t i = tg_jaeger_exp_progress_begin(&w->progress, item->data, item->len);
       i < req.n && result == TG_SEND_OK; i++) {
    w->base.body.len = 0;
    if (tg_jaeger_thrift_encode_batch(&w->base.body, TG_THRIFT_BINARY, req.batches[i]) !=
        TG_OK) {
      snprintf(out->detail, sizeof out->detail, "out of memory encoding Thrift");
      result = TG_SEND_RETRYABLE;
      break;
    }
    result = post_one(w, req.span_counts[i], item->attempt, out);
    if (result == TG_SEND_OK)
      w->progress.done = i + 1;
  }
  if (result != TG_SEND_RETRYABLE)
    w->progress.data = NULL;
  tg_jaeger_exp_request_free(&req);
  return result;
}

static const tg_export_queue_ops jthttp_queue_ops = {
    .worker_init = worker_init,
    .send = http_send,
    .abort = tg_http_worker_abort,
    .worker_fini = tg_http_worker_fini,
};

static const tg_http_exporter_spec jthttp_spec = {
    .default_id = "jaeger_thrift_http",
    .default_path = "/api/traces",
    .example = "http://host:14268/api/traces",
    .state_size = sizeof(jthttp_state),
    .ops = &jthttp_queue_ops,
};

/* ---- lifecycle ---- */

static int jthttp_create(tg_instance *self, tg_errbuf *err) {
  const jthttp_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: no configuration",
                   self->id ? self->id : "jaeger_thrift_http");
  int rc = tg_http_exporter_create(self, &jthttp_spec, c->endpoint, &c->headers, &c->retry,
                                   &c->queue, err);
  if (rc == TG_OK)
    ((jthttp_state *)self->state)->conf = c;
  return rc;
}

static int jthttp_start(tg_instance *self, tg_errbuf *err) {
  jthttp_state *st = self->state;
  const char *id = self->id ? self->id : "jaeger_thrift_http";
  jthttp_conf *mc = self->conf;
  static const char *const fixed[] = {"Content-Type: application/x-thrift", "Expect:"};
  int rc = tg_http_exporter_start(self, st->base.queue, id, mc->authenticator, &mc->headers,
                                  fixed, 2, &st->base.headers, err);
  if (rc)
    return rc;
  if (self->service && self->service->log)
    TG_LOG_INFO(self->service->log, self->id, "exporting to Jaeger (Thrift over HTTP) at %s",
                st->base.url);
  return TG_OK;
}

const tg_component tg_exporter_jaeger_thrift_http = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "jaeger_thrift_http",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(jthttp_conf),
    .keys = jthttp_keys,
    .n_keys = sizeof jthttp_keys / sizeof jthttp_keys[0],
    .conf_check = jthttp_conf_check,
    .ops = {.create = jthttp_create,
            .start = jthttp_start,
            .consume = tg_queued_exporter_consume,
            .stop = tg_queued_exporter_stop,
            .destroy = tg_http_exporter_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces to a Jaeger collector as Thrift binary Batches over HTTP "
           "(POST /api/traces, one per process) through a bounded sending queue (libcurl).",
};
