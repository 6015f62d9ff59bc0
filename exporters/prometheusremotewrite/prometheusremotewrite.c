/* The prometheusremotewrite exporter: pushes the series of its metric sources to a
 * Prometheus remote-write endpoint (protobuf WriteRequest, snappy block compression,
 * HTTP POST), as the Collector's `prometheusremotewrite` exporter.
 *
 * Data path: every `metrics_flush_interval` of its sources (a loop timer), the exporter
 * collects the sources on the loop thread, encodes WriteRequests of at most
 * max_batch_size_bytes (prw_encode.c), snappy-compresses each and queues it on the shared
 * bounded sending queue (core/export), whose sender threads POST with libcurl
 * (core/tg_http_send.h) and retry with back-off. A full queue drops that push (counted
 * by the queue as enqueue-failed): the next push carries the cumulative values again, so
 * nothing is lost but resolution.
 * The queue's counters count series where trace exporters count spans. At stop one last
 * push is queued, then the queue drains within the shutdown grace. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <snappy-c.h>
#include <uv.h>

#include "prw_encode.h"
#include "tg_auth.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_export_queue.h"
#include "tg_http_exporter.h"
#include "tg_http_send.h"
#include "tg_service.h"
#include "tg_version.h"

#define MAX_SOURCES 16
#define MAX_RESPONSE 4096

typedef struct prw_conf {
  char *endpoint;
  tg_conf_strmap external_labels;
  tg_conf_strmap headers;
  char *authenticator; /* auth.authenticator: its header joins `headers` at start */
  char *namespace_;
  uint64_t timeout_ms;
  uint64_t max_batch_size_bytes;
  tg_http_tls_conf tls;
  tg_retry_conf retry;
  tg_queue_conf queue;
} prw_conf;

#define C prw_conf
static const tg_conf_key prw_keys[] = {
    TG_KEY_STRING("endpoint", C, endpoint, NULL, "remote-write URL (http:// or https://)"),
    TG_KEY_STRMAP("external_labels", C, external_labels, "labels added to every series"),
    TG_KEY_STRMAP("headers", C, headers, "extra HTTP headers (e.g. authorization)"),
    TG_KEY_STRING("auth.authenticator", C, authenticator, NULL,
                  "authenticator extension whose credentials every request carries"),
    TG_KEY_STRING("namespace", C, namespace_, NULL, "prefix added to every metric name"),
    TG_KEY_DURATION("timeout", C, timeout_ms, "5s", 1, 3600000, "deadline of each request"),
    TG_KEY_SIZE("max_batch_size_bytes", C, max_batch_size_bytes, "3000000", 1024, 1073741824,
                "largest uncompressed WriteRequest; bigger pushes are split"),
    TG_KEY_BOOL("tls.insecure_skip_verify", C, tls.insecure_skip_verify, "false",
                "do not verify the server certificate"),
    TG_KEY_STRING("tls.ca_file", C, tls.ca_file, NULL, "PEM CA bundle to verify the server"),
    TG_KEY_STRING("tls.cert_file", C, tls.cert_file, NULL, "PEM client certificate (mTLS)"),
    TG_KEY_STRING("tls.key_file", C, tls.key_file, NULL, "PEM client key (mTLS)"),
    TG_KEY_BOOL("retry_on_failure.enabled", C, retry.enabled, "true",
                "retry failed sends with exponential back-off"),
    TG_KEY_DURATION("retry_on_failure.initial_interval", C, retry.initial_interval_ms, "50ms",
                    1, 3600000, "first back-off interval"),
    TG_KEY_DOUBLE("retry_on_failure.randomization_factor", C, retry.randomization_factor,
                  "0.5", 0, 1, "jitter: delay is interval*[1-f,1+f]"),
    TG_KEY_DOUBLE("retry_on_failure.multiplier", C, retry.multiplier, "1.5", 1, 100,
                  "interval growth per retry"),
    TG_KEY_DURATION("retry_on_failure.max_interval", C, retry.max_interval_ms, "200ms", 1,
                    86400000, "cap of the back-off interval"),
    TG_KEY_DURATION("retry_on_failure.max_elapsed_time", C, retry.max_elapsed_ms, "60s", 0,
                    604800000, "give up after this long (0 = until shutdown)"),
    TG_KEY_BOOL("remote_write_queue.enabled", C, queue.enabled, "true",
                "buffer requests; false = accept only when a sender is idle"),
    TG_KEY_INT("remote_write_queue.queue_size", C, queue.queue_size, "10000", 1, 1000000,
               "queued requests before a push is dropped"),
    TG_KEY_INT("remote_write_queue.num_consumers", C, queue.num_consumers, "5", 1, 128,
               "sender threads"),
};
#undef C

typedef struct prw_state {
  tg_export_queue *queue; /* first: tg_queued_exporter_ready/stop find it here */
  tg_instance *self;
  const prw_conf *conf;
  const tg_metric_source *sources[MAX_SOURCES];
  size_t n_sources;
  tg_mlabel *external;
  char *prefix;
  struct curl_slist *headers;
  uv_timer_t timer;
  int timer_live;
  uint64_t interval_ms;
  tg_stop_done_fn stop_done;
  tg_metric_cell *m_pushes, *m_dropped;
} prw_state;

/* http keeps MAX_RESPONSE - 1 bytes of a body for the log; body stays unused (the
 * queued item is already the snappy-compressed request). */
typedef tg_http_worker prw_worker;

static int url_ok(const char *url) {
  return url && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) &&
         !strpbrk(url, " \t\r\n");
}

static int label_name_ok(const char *s) {
  if (!*s || (*s >= '0' && *s <= '9'))
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return 0;
  return 1;
}

static void prw_conf_check(const void *vc, const tg_yaml_node *node, const char *what,
                           tg_diag *diag) {
  const prw_conf *c = vc;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  if (!url_ok(c->endpoint))
    tg_diag_add(diag, pos, "%s: endpoint: an http:// or https:// URL is required", what);
  for (size_t i = 0; i < c->external_labels.n; i++)
    if (!label_name_ok(c->external_labels.keys[i]) ||
        !strncmp(c->external_labels.keys[i], "__", 2))
      tg_diag_add(diag, pos, "%s: external_labels: \"%.100s\" is not a valid label name", what,
                  c->external_labels.keys[i]);
  for (size_t i = 0; i < c->headers.n; i++) {
    const char *why = tg_http_header_problem(c->headers.keys[i], c->headers.values[i]);
    if (why)
      tg_diag_add(diag, pos, "%s: headers.%s: %s", what, c->headers.keys[i], why);
  }
  if (!c->tls.cert_file != !c->tls.key_file)
    tg_diag_add(diag, pos, "%s: tls.cert_file and tls.key_file must be set together", what);
  const char *files[] = {c->tls.ca_file, c->tls.cert_file, c->tls.key_file};
  for (int i = 0; i < 3; i++)
    if (files[i] && access(files[i], R_OK))
      tg_diag_add(diag, pos, "%s: tls file \"%s\" is not readable", what, files[i]);
  if (c->namespace_ && *c->namespace_ && !label_name_ok(c->namespace_))
    tg_diag_add(diag, pos, "%s: namespace: must be [a-zA-Z_][a-zA-Z0-9_]*", what);
}

/* ---- sender threads ---- */

static int worker_init(void *ctx, unsigned index, void **out) {
  (void)index;
  prw_state *st = ctx;
  const prw_conf *c = st->conf;
  /* Retry-After is not read (it never was here): retries follow the back-off policy. */
  const tg_http_client_opts opts = {
      .url = c->endpoint,
      .headers = st->headers,
      .timeout_ms = c->timeout_ms,
      .tls = &c->tls,
      .max_body = MAX_RESPONSE - 1,
      .retry_after = TG_RETRY_AFTER_IGNORE,
      .tracer = st->self->service ? st->self->service->selftrace : NULL,
      .exporter = st->self->id ? st->self->id : "prometheusremotewrite",
  };
  *out = tg_http_worker_new(sizeof(prw_worker), &opts);
  return *out ? 0 : -1;
}

static tg_send_result send_attempt(prw_worker *w, const tg_export_item *item,
                                   tg_send_outcome *out) {
  long code = 0;
  tg_send_result sent = tg_http_client_post(&w->http, item->data, item->len, &code, out);
  if (sent != TG_SEND_OK)
    return sent; /* a transport failure, classified */
  if (code >= 200 && code < 300)
    return TG_SEND_OK;
  char text[201];
  tg_http_printable(text, sizeof text, w->http.body.data, w->http.body.len, ' ');
  snprintf(out->detail, sizeof out->detail, "HTTP %ld: %s", code, text);
  /* the remote-write spec: 5xx and 429 may be retried, other 4xx must not */
  return code >= 500 || code == 429 ? TG_SEND_RETRYABLE : TG_SEND_PERMANENT;
}

/* One attempt, as a tailgate.export span whose context its headers carry (span_count is
 * the request's series count). */
static tg_send_result prw_send(void *ctx, void *vw, const tg_export_item *item,
                               tg_send_outcome *out) {
  (void)ctx;
  prw_worker *w = vw;
  if (tg_http_client_check_aborted(&w->http, out))
    return TG_SEND_PERMANENT;
  tg_http_client_trace_begin(&w->http, item->span_count, item->attempt);
  tg_send_result r = send_attempt(w, item, out);
  tg_http_client_trace_end(&w->http, r);
  return r;
}

static const tg_export_queue_ops prw_queue_ops = {
    .worker_init = worker_init,
    .send = prw_send,
    .abort = tg_http_worker_abort,
    .worker_fini = tg_http_worker_fini,
};

/* ---- pushing (loop thread) ---- */

static int emit(void *ctx, const uint8_t *data, size_t len, size_t n_series) {
  prw_state *st = ctx;
  size_t max = snappy_max_compressed_length(len);
  char *out = tg_malloc(max ? max : 1);
  if (!out)
    return TG_ENOMEM;
  size_t out_len = max;
  if (snappy_compress((const char *)data, len, out, &out_len) != SNAPPY_OK) {
    tg_free(out);
    return TG_ENOMEM;
  }
  int rc = tg_export_queue_push(st->queue, (uint8_t *)out, out_len, n_series);
  if (rc != TG_OK)
    tg_metric_add(st->m_dropped, 1);
  return TG_OK; /* a refused request is counted; later requests of the push still go */
}

/* Collects every source and queues the WriteRequests. */
static void push_now(prw_state *st) {
  if (!st->n_sources)
    return;
  tg_prw_opts o = {.external_labels = st->external,
                   .n_external = st->conf->external_labels.n,
                   .name_prefix = st->prefix,
                   .timestamp_ms = (int64_t)(tg_clock_unix_nano() / 1000000u),
                   .max_request_bytes = st->conf->max_batch_size_bytes,
                   .emit = emit,
                   .ctx = st};
  tg_metric_add(st->m_pushes, 1);
  if (tg_prw_encode(st->sources, st->n_sources, &o) != TG_OK && st->self->service->log)
    TG_LOG_WARN(st->self->service->log, st->self->id, "push skipped: out of memory");
}

static void on_tick(uv_timer_t *t) { push_now(t->data); }

/* ---- lifecycle ---- */

static void prw_destroy(tg_instance *self) {
  prw_state *st = self->state;
  if (!st)
    return;
  tg_export_queue_free(st->queue);
  curl_slist_free_all(st->headers);
  tg_free(st->external);
  tg_free(st->prefix);
  tg_free(st);
  self->state = NULL;
}

static int prw_create(tg_instance *self, tg_errbuf *err) {
  const prw_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "no configuration");
  if (!url_ok(c->endpoint))
    return tg_errf(err, TG_ECONFIG, "endpoint: an http:// or https:// URL is required");
  prw_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  self->state = st;
  st->self = self;
  st->conf = c;
  st->external = tg_calloc(c->external_labels.n + 1, sizeof *st->external);
  for (size_t i = 0; st->external && i < c->external_labels.n; i++)
    st->external[i] = (tg_mlabel){.name = c->external_labels.keys[i],
                                   .value = c->external_labels.values[i]};
  if (c->namespace_ && *c->namespace_) {
    size_t n = strlen(c->namespace_);
    if ((st->prefix = tg_malloc(n + 2))) {
      memcpy(st->prefix, c->namespace_, n);
      memcpy(st->prefix + n, "_", 2);
    }
  }
  tg_queue_conf q = c->queue;
  q.max_bytes = 64u << 20; /* the queue's byte bound: compressed requests */
  tg_service *svc = self->service;
  st->queue = tg_export_queue_new(&q, &c->retry, &prw_queue_ops, st, self->id,
                                  svc ? svc->log : NULL, svc ? svc->metrics : NULL);
  if (!st->external || !st->queue || (c->namespace_ && *c->namespace_ && !st->prefix)) {
    prw_destroy(self);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  return TG_OK;
}

static int prw_start(tg_instance *self, tg_errbuf *err) {
  prw_state *st = self->state;
  const prw_conf *c = st->conf;
  const char *why = tg_http_global_init();
  if (why)
    return tg_errf(err, TG_EIO, "curl_global_init failed: %s", why);
  prw_conf *mc = self->conf;
  int rc = tg_auth_client_apply(self->service, mc->authenticator, &mc->headers, err);
  if (rc)
    return rc;
  rc = tg_http_header_add(&st->headers, "Content-Type: application/x-protobuf", NULL);
  if (!rc)
    rc = tg_http_header_add(&st->headers, "Content-Encoding: snappy", NULL);
  if (!rc)
    rc = tg_http_header_add(&st->headers, "X-Prometheus-Remote-Write-Version: 0.1.0", NULL);
  if (!rc)
    rc = tg_http_header_add(&st->headers, "Expect:", NULL);
  for (size_t i = 0; !rc && i < c->headers.n; i++) {
    char line[1024]; /* a longer header line is cut here, as it always was */
    snprintf(line, sizeof line, "%s: %s", c->headers.keys[i], c->headers.values[i]);
    rc = tg_http_header_add(&st->headers, line, NULL);
  }
  if (rc)
    return tg_errf(err, rc, "out of memory");
  tg_service *svc = self->service;
  if (svc && svc->metrics) {
    const char *const lbl[] = {"exporter", NULL};
    const char *val[] = {self->id};
    st->m_pushes = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_remote_write_pushes_total",
                          "Collections of the metric sources pushed by remote write.",
                          TG_METRIC_COUNTER, lbl),
        val);
    st->m_dropped = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_remote_write_dropped_requests_total",
                          "WriteRequests dropped because the sending queue was full.",
                          TG_METRIC_COUNTER, lbl),
        val);
  }
  rc = tg_export_queue_start(st->queue);
  if (rc)
    return tg_errf(err, rc, "cannot start sender threads: %s", tg_strerror(rc));
  /* the timer last: a start that fails leaves no handle to close (stop is not called) */
  uv_timer_init(svc->loop, &st->timer);
  st->timer.data = st;
  st->timer_live = 1;
  if (svc->log)
    TG_LOG_INFO(svc->log, self->id, "remote write to %s", c->endpoint);
  return TG_OK;
}

static int prw_consume(tg_instance *self, tg_batch *batch) {
  prw_state *st = self->state;
  const tg_metric_source *src = batch->metrics;
  tg_batch_free(batch);
  if (src && (src->delta || src->exponential))
    return TG_ECONFIG; /* validate says why (metric_refuses_why) */
  if (!src)
    return TG_OK;
  for (size_t i = 0; i < st->n_sources; i++)
    if (st->sources[i] == src)
      return TG_OK;
  if (st->n_sources == MAX_SOURCES)
    return TG_ETOOBIG;
  st->sources[st->n_sources++] = src;
  uint64_t every = src->flush_interval_ms ? src->flush_interval_ms : 60000;
  if (!st->interval_ms || every < st->interval_ms) {
    st->interval_ms = every;
    uv_timer_start(&st->timer, on_tick, every, every);
  }
  return TG_OK;
}

static void on_timer_closed(uv_handle_t *h) {
  prw_state *st = h->data;
  st->timer_live = 0;
  tg_queued_exporter_stop(st->self, st->stop_done);
}

static void prw_stop(tg_instance *self, tg_stop_done_fn done) {
  prw_state *st = self->state;
  push_now(st); /* the last figures; sources live until destroy */
  st->stop_done = done;
  if (st->timer_live) {
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, on_timer_closed);
  } else {
    tg_queued_exporter_stop(self, done);
  }
}

const tg_component tg_exporter_prometheusremotewrite = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "prometheusremotewrite",
    .signals = TG_SIGNAL_METRICS,
    .metric_refuses = TG_MTRAIT_DELTA | TG_MTRAIT_EXPONENTIAL,
    .metric_refuses_why =
        "Prometheus remote write carries cumulative counters and tailgate writes "
        "no native histograms: send them with an otlp or otlphttp exporter, or "
        "use AGGREGATION_TEMPORALITY_CUMULATIVE and explicit buckets here",
    .conf_size = sizeof(prw_conf),
    .keys = prw_keys,
    .n_keys = sizeof prw_keys / sizeof prw_keys[0],
    .conf_check = prw_conf_check,
    .ops = {.create = prw_create,
            .start = prw_start,
            .consume = prw_consume,
            .stop = prw_stop,
            .destroy = prw_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Pushes metrics (span metrics) to a Prometheus remote-write endpoint: protobuf "
           "+ snappy over HTTP, bounded queue with retries (libcurl).",
};
