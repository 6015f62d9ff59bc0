/* The zipkin exporter: spans to a Zipkin-compatible collector (POST /api/v2/spans), as
 * v2 JSON (default) or protobuf (ListOfSpans), so a Zipkin backend can sit behind
 * tailgate. The Collector's zipkin exporter keys: endpoint, format, default_service_name,
 * plus the shared sending queue and retry (core/export) and the HTTP client settings.
 *
 * Data path: the sending queue hands a sender thread an encoded OTLP request (the same
 * for every exporter); the sender decodes it into one arena, converts it with
 * translate/zipkin (OTLP → zipkin2 model), writes JSON or protobuf and POSTs it through
 * its own libcurl client (core/tg_http_send.h: connections kept alive per thread).
 *
 * Classification as Zipkin's collector answers and OTLP/HTTP does: 2xx delivered; 429,
 * 502, 503, 504 retryable, honouring Retry-After in seconds; transport errors retryable;
 * every other status permanent. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_http_exporter.h"
#include "tg_http_send.h"
#include "tg_service.h"
#include "tg_version.h"
#include "zipkin_exp.h"
#include "translate/zipkin/zipkin_model.h"

enum { ZEXP_FORMAT_JSON, ZEXP_FORMAT_PROTO };
static const char *const format_names[] = {"json", "proto", NULL};

typedef struct zexp_conf {
  char *endpoint; /* http(s)://host:port[/path]; no path = /api/v2/spans */
  int format;
  char *default_service_name;
  tg_http_tls_conf tls;
  tg_conf_strmap headers;
  char *authenticator;
  uint64_t timeout_ms;
  tg_retry_conf retry;
  tg_queue_conf queue;
} zexp_conf;

typedef struct zexp_state {
  tg_http_exporter base; /* first: queue, URL, headers, self-tracer, id */
  const zexp_conf *conf;
} zexp_state;

typedef tg_http_worker zexp_worker; /* body: the request being sent */

static const tg_conf_key zexp_keys[] = {
    TG_KEY_STRING("endpoint", zexp_conf, endpoint, NULL,
                  "collector URL, e.g. http://zipkin:9411/api/v2/spans (no path: "
                  "/api/v2/spans); required"),
    TG_KEY_ENUM("format", zexp_conf, format, "json", format_names,
                "json (Zipkin v2 JSON) or proto (zipkin2 ListOfSpans)"),
    TG_KEY_STRING("default_service_name", zexp_conf, default_service_name,
                  TG_ZIPKIN_DEFAULT_SERVICE_NAME,
                  "localEndpoint.serviceName of spans whose resource has no service.name"),
    TG_HTTP_EXPORTER_KEYS(zexp_conf, tls, headers, authenticator),
    TG_KEY_DURATION("timeout", zexp_conf, timeout_ms, "5s", 1, 3600000,
                    "deadline of each request"),
    TG_EXPORT_QUEUE_KEYS(zexp_conf, retry, queue),
};

static const tg_http_exporter_spec zexp_spec;

static void zexp_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                            tg_diag *diag) {
  const zexp_conf *c = vconf;
  tg_http_exporter_check_conf(&zexp_spec, c->endpoint, &c->tls, &c->headers,
                              node ? &node->pos : NULL, what, diag);
}

/* ---- encoding (sender threads) ---- */

int tg_zipkin_exp_encode(const uint8_t *otlp, size_t len, int proto,
                         const char *default_service_name, tg_buf *out, size_t *spans) {
  *spans = 0;
  tg_batch *b = tg_batch_new(2 * len + 1024, 0);
  if (!b)
    return TG_ENOMEM;
  int rc = tg_batch_decode_otlp(b, otlp, len);
  tg_zipkin_list *list = NULL;
  if (rc == TG_OK)
    rc = tg_zipkin_from_otlp(b->arena, &b->request, default_service_name, &list);
  if (rc == TG_OK) {
    *spans = list->n_spans;
    if (proto) {
      size_t n = zipkin__proto3__list_of_spans__get_packed_size(list);
      rc = tg_buf_reserve(out, n);
      if (rc == TG_OK) {
        zipkin__proto3__list_of_spans__pack(list, out->data + out->len);
        out->len += n;
      }
    } else {
      rc = tg_zipkin_json_encode(out, list);
    }
  }
  tg_batch_free(b);
  return rc == TG_ETOOBIG ? TG_ENOMEM : rc;
}

static int worker_init(void *ctx, unsigned index, void **out) {
  (void)index;
  zexp_state *st = ctx;
  *out = tg_http_exporter_worker_new(&st->base, sizeof(zexp_worker), st->conf->timeout_ms,
                                     &st->conf->tls);
  return *out ? 0 : -1;
}

static tg_send_result send_attempt(zexp_state *st, zexp_worker *w, const tg_export_item *item,
                                   tg_send_outcome *out) {
  w->body.len = 0;
  size_t spans;
  int rc = tg_zipkin_exp_encode(item->data, item->len, st->conf->format == ZEXP_FORMAT_PROTO,
                                st->conf->default_service_name, &w->body, &spans);
  if (rc != TG_OK) {
    snprintf(out->detail, sizeof out->detail, "cannot convert the request: %s",
             tg_strerror(rc));
    return rc == TG_ENOMEM ? TG_SEND_RETRYABLE : TG_SEND_PERMANENT;
  }
  if (!spans)
    return TG_SEND_OK;
  long code = 0;
  tg_send_result sent = tg_http_client_post(&w->http, w->body.data, w->body.len, &code, out);
  if (sent != TG_SEND_OK)
    return sent; /* a transport failure, classified */
  return tg_http_exporter_status(&w->http, code, out);
}

/* One attempt, as a tailgate.export span whose context its headers carry. */
static tg_send_result zexp_send(void *ctx, void *vw, const tg_export_item *item,
                                tg_send_outcome *out) {
  zexp_state *st = ctx;
  zexp_worker *w = vw;
  if (tg_http_client_check_aborted(&w->http, out))
    return TG_SEND_PERMANENT;
  tg_http_client_trace_begin(&w->http, item->span_count, item->attempt);
  tg_send_result r = send_attempt(st, w, item, out);
  tg_http_client_trace_end(&w->http, r);
  return r;
}

static const tg_export_queue_ops zexp_queue_ops = {
    .worker_init = worker_init,
    .send = zexp_send,
    .abort = tg_http_worker_abort,
    .worker_fini = tg_http_worker_fini,
};

static const tg_http_exporter_spec zexp_spec = {
    .default_id = "zipkin",
    .default_path = "/api/v2/spans",
    .example = "http://host:9411/api/v2/spans",
    .state_size = sizeof(zexp_state),
    .ops = &zexp_queue_ops,
};

/* ---- lifecycle ---- */

static int zexp_create(tg_instance *self, tg_errbuf *err) {
  const zexp_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: no configuration", self->id ? self->id : "zipkin");
  int rc = tg_http_exporter_create(self, &zexp_spec, c->endpoint, &c->headers, &c->retry,
                                   &c->queue, err);
  if (rc == TG_OK)
    ((zexp_state *)self->state)->conf = c;
  return rc;
}

static int zexp_start(tg_instance *self, tg_errbuf *err) {
  zexp_state *st = self->state;
  const zexp_conf *c = st->conf;
  const char *id = self->id ? self->id : "zipkin";
  zexp_conf *mc = self->conf;
  const char *const fixed[] = {c->format == ZEXP_FORMAT_PROTO
                                   ? "Content-Type: application/x-protobuf"
                                   : "Content-Type: application/json",
                               "Expect:"};
  int rc = tg_http_exporter_start(self, st->base.queue, id, mc->authenticator, &mc->headers,
                                  fixed, 2, &st->base.headers, err);
  if (rc)
    return rc;
  if (self->service && self->service->log)
    TG_LOG_INFO(self->service->log, self->id, "exporting to Zipkin (%s) at %s",
                format_names[c->format], st->base.url);
  return TG_OK;
}

const tg_component tg_exporter_zipkin = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "zipkin",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(zexp_conf),
    .keys = zexp_keys,
    .n_keys = sizeof zexp_keys / sizeof zexp_keys[0],
    .conf_check = zexp_conf_check,
    .ops = {.create = zexp_create,
            .start = zexp_start,
            .consume = tg_queued_exporter_consume,
            .stop = tg_queued_exporter_stop,
            .destroy = tg_http_exporter_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces to a Zipkin collector (POST /api/v2/spans) as v2 JSON or protobuf "
           "through a bounded sending queue (libcurl).",
};
