/* The otlphttp exporter: OTLP/HTTP (binary protobuf) to a backend, as the Collector's
 * `otlphttp` exporter.
 *
 * Data path: consume encodes the batch once and queues the bytes (the shared sending
 * queue, core/export); each sender thread owns one libcurl client (core/tg_http_send.h),
 * so connections are kept alive and reused per thread with no locking, and POSTs one
 * request at a time (gzip-compressed on the sender thread, so the loop thread never
 * compresses).
 *
 * Classification (OTLP/HTTP spec): 2xx delivered (a partial_success in the body is
 * logged and its rejected spans counted failed); 429, 502, 503, 504 retryable, honouring
 * Retry-After (seconds or HTTP date); transport errors (refused, reset, timeout)
 * retryable; every other status permanent.
 *
 * libcurl's once-per-process init is tg_http_global_init's, called at start.
 *
 * encoding: json is refused at configuration time for now (proto only). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "rpc_status.pb-c.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_otlp_metrics.h"
#include "tg_export_queue.h"
#include "tg_gzip.h"
#include "tg_http_exporter.h"
#include "tg_http_send.h"
#include "tg_service.h"
#include "tg_span-t.h"
#include "tg_version.h"

#define OTLPHTTP_MAX_RESPONSE (64u * 1024u) /* response bodies we read, at most */
#define OTLPHTTP_MAX_RETRY_AFTER_MS (3600u * 1000u)

enum { OTLPHTTP_COMPRESS_NONE, OTLPHTTP_COMPRESS_GZIP };
enum { OTLPHTTP_ENC_PROTO, OTLPHTTP_ENC_JSON };

typedef struct otlphttp_conf {
  char *endpoint;        /* base URL; traces go to endpoint + "/v1/traces" */
  char *traces_endpoint; /* full URL, overrides endpoint */
  char *metrics_endpoint; /* full URL for metrics, overrides endpoint + "/v1/metrics" */
  tg_http_tls_conf tls;
  tg_conf_strmap headers;
  char *authenticator;
  int compression;
  int encoding;
  uint64_t timeout_ms;
  uint64_t read_buffer_size, write_buffer_size; /* 0 = libcurl's */
  tg_retry_conf retry;
  tg_queue_conf queue;
} otlphttp_conf;

typedef struct otlphttp_state {
  tg_export_queue *queue; /* first: the shared tg_queued_exporter_* ops find it here */
  const otlphttp_conf *conf;
  char *url;         /* traces; NULL: traces are refused */
  char *metrics_url; /* NULL: metrics are refused */
  char *log_name;
  struct curl_slist *headers; /* shared read-only by every handle */
  tg_selftrace *tracer;       /* the service's self-tracer; NULL = off */
} otlphttp_state;

typedef tg_http_worker otlphttp_worker; /* body: the compressed request */

static const char *const compression_values[] = {"none", "gzip", NULL};
static const char *const encoding_values[] = {"proto", "json", NULL};

static const tg_conf_key otlphttp_keys[] = {
    TG_KEY_STRING("endpoint", otlphttp_conf, endpoint, NULL,
                  "base URL (http:// or https://); traces go to <endpoint>/v1/traces"),
    TG_KEY_STRING("traces_endpoint", otlphttp_conf, traces_endpoint, NULL,
                  "full URL for traces (overrides endpoint)"),
    TG_KEY_STRING("metrics_endpoint", otlphttp_conf, metrics_endpoint, NULL,
                  "full URL for metrics (overrides <endpoint>/v1/metrics)"),
    TG_KEY_BOOL("tls.insecure", otlphttp_conf, tls.insecure, "false",
                "accepted for compatibility; the URL scheme selects TLS"),
    TG_HTTP_EXPORTER_KEYS(otlphttp_conf, tls, headers, authenticator),
    TG_KEY_ENUM("compression", otlphttp_conf, compression, "gzip", compression_values,
                "request body compression: none | gzip"),
    TG_KEY_ENUM("encoding", otlphttp_conf, encoding, "proto", encoding_values,
                "body encoding: proto (json is not supported yet)"),
    TG_KEY_DURATION("timeout", otlphttp_conf, timeout_ms, "30s", 1, 3600000,
                    "deadline of each request (the Collector's default, 30s)"),
    TG_KEY_SIZE("read_buffer_size", otlphttp_conf, read_buffer_size, "0", 0, 67108864,
                "libcurl receive buffer (clamped to 1KiB..10MiB; 0 = libcurl's 16KiB)"),
    TG_KEY_SIZE("write_buffer_size", otlphttp_conf, write_buffer_size, "0", 0, 67108864,
                "libcurl upload buffer (clamped to 16KiB..2MiB; 0 = libcurl's 64KiB)"),
    TG_EXPORT_QUEUE_KEYS(otlphttp_conf, retry, queue),
};

/* ---- configuration ---- */

static int url_ok(const char *url) {
  return url && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) &&
         url[strncmp(url, "http://", 7) ? 8 : 7] != '\0' && !strpbrk(url, " \t\r\n");
}

/* A signal's URL (tg_free): `full` (traces_endpoint, metrics_endpoint) as given, else the
 * base endpoint + path; NULL with err: TG_ENOTFOUND when neither is set, TG_ECONFIG for a
 * bad URL. */
static char *signal_url(const char *full, const char *full_key, const char *base,
                        const char *path, tg_errbuf *err, int *code) {
  *code = TG_OK;
  if (full) {
    if (!url_ok(full)) {
      *code = tg_errf(err, TG_ECONFIG, "%s \"%s\": expected an http:// or https:// URL",
                      full_key, full);
      return NULL;
    }
    return tg_strdup(full);
  }
  if (!base) {
    *code = tg_errf(err, TG_ENOTFOUND, "endpoint or %s is required", full_key);
    return NULL;
  }
  if (!url_ok(base)) {
    *code = tg_errf(err, TG_ECONFIG, "endpoint \"%s\": expected an http:// or https:// URL",
                    base);
    return NULL;
  }
  size_t len = strlen(base), pl = strlen(path);
  while (len && base[len - 1] == '/')
    len--;
  char *url = tg_malloc(len + pl + 1);
  if (!url) {
    *code = tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(url, base, len);
  memcpy(url + len, path, pl + 1);
  return url;
}

/* Both URLs; a signal without one gets NULL (its data is then refused), but at least one
 * is required. TG_OK or an error with err. */
static int signal_urls(const otlphttp_conf *c, char **traces, char **metrics, tg_errbuf *err) {
  tg_errbuf terr, merr;
  int tcode, mcode;
  *traces = signal_url(c->traces_endpoint, "traces_endpoint", c->endpoint, "/v1/traces", &terr,
                       &tcode);
  *metrics = signal_url(c->metrics_endpoint, "metrics_endpoint", c->endpoint, "/v1/metrics",
                        &merr, &mcode);
  int rc = TG_OK;
  if (!*traces && tcode != TG_ENOTFOUND)
    rc = tg_errf(err, tcode, "%s", terr.msg);
  else if (!*metrics && mcode != TG_ENOTFOUND)
    rc = tg_errf(err, mcode, "%s", merr.msg);
  else if (!*traces && !*metrics)
    rc = tg_errf(err, TG_ECONFIG, "endpoint, traces_endpoint or metrics_endpoint is required");
  if (rc) {
    tg_free(*traces);
    tg_free(*metrics);
    *traces = *metrics = NULL;
  }
  return rc;
}

static void otlphttp_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                                tg_diag *diag) {
  const otlphttp_conf *c = vconf;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  tg_errbuf err;
  char *url, *murl;
  if (signal_urls(c, &url, &murl, &err))
    tg_diag_add(diag, pos, "%s: %s", what, err.msg);
  tg_free(url);
  tg_free(murl);
  if (c->encoding == OTLPHTTP_ENC_JSON)
    tg_diag_add(diag, pos, "%s: encoding: json is not supported yet; use proto", what);
  tg_http_conf_check(&c->tls, &c->headers, tg_http_header_problem, pos, what, diag);
}

/* ---- sender ---- */

static int worker_init(void *ctx, unsigned index, void **out) {
  (void)index;
  otlphttp_state *st = ctx;
  const otlphttp_conf *c = st->conf;
  const tg_http_client_opts opts = {
      .url = st->url,
      .headers = st->headers,
      .timeout_ms = c->timeout_ms,
      .read_buffer_size = (size_t)c->read_buffer_size,
      .write_buffer_size = (size_t)c->write_buffer_size,
      .tls = &c->tls,
      .max_body = OTLPHTTP_MAX_RESPONSE,
      .retry_after = TG_RETRY_AFTER_SECONDS_OR_DATE,
      .max_retry_after_ms = OTLPHTTP_MAX_RETRY_AFTER_MS,
      .tracer = st->tracer,
      .exporter = st->log_name,
  };
  *out = tg_http_worker_new(sizeof(otlphttp_worker), &opts);
  return *out ? 0 : -1;
}

static void *pb_alloc(void *ud, size_t size) {
  (void)ud;
  return tg_malloc(size);
}
static void pb_free(void *ud, void *p) {
  (void)ud;
  tg_free(p);
}
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

static int is_protobuf(CURL *h) {
  char *ct = NULL;
  return curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct &&
         !strncasecmp(ct, "application/x-protobuf", 22);
}

/* A short, printable account of an error body for the log. */
static void describe_error_body(otlphttp_worker *w, long code, tg_send_outcome *out) {
  const char *msg = NULL;
  Google__Rpc__Status *st = NULL;
  const tg_buf *body = &w->http.body;
  if (body->len && is_protobuf(w->http.easy)) {
    st = google__rpc__status__unpack(&pb_allocator, body->len, body->data);
    if (st)
      msg = st->message;
  }
  char text[160];
  if (msg)
    tg_http_printable(text, sizeof text, msg, strlen(msg), '?');
  else
    tg_http_printable(text, sizeof text, body->data, body->len, '?');
  snprintf(out->detail, sizeof out->detail, "HTTP %ld: %s", code, text);
  if (st)
    google__rpc__status__free_unpacked(st, &pb_allocator);
}

static void read_partial_success(otlphttp_worker *w, tg_send_outcome *out) {
  if (is_protobuf(w->http.easy))
    tg_send_outcome_from_response(w->http.body.data, w->http.body.len, out);
}

static tg_send_result send_attempt(otlphttp_state *st, otlphttp_worker *w,
                                   const tg_export_item *item, tg_send_outcome *out) {
  const uint8_t *body = item->data;
  size_t body_len = item->len;
  if (st->conf->compression == OTLPHTTP_COMPRESS_GZIP) {
    w->body.len = 0;
    int rc = tg_gzip_deflate(item->data, item->len, &w->body);
    if (rc != TG_OK) {
      snprintf(out->detail, sizeof out->detail, "gzip: %s", tg_strerror(rc));
      return TG_SEND_RETRYABLE; /* out of memory is transient */
    }
    body = w->body.data;
    body_len = w->body.len;
  }
  /* metrics requests (tg_otlp_metrics.c) share the queue and the handle: pick the URL */
  curl_easy_setopt(w->http.easy, CURLOPT_URL,
                   item->signal == TG_SIGNAL_METRICS ? st->metrics_url : st->url);
  long code = 0;
  tg_send_result sent = tg_http_client_post(&w->http, body, body_len, &code, out);
  if (sent != TG_SEND_OK)
    return sent; /* a transport failure, classified */
  if (code >= 200 && code < 300) {
    read_partial_success(w, out);
    return TG_SEND_OK;
  }
  describe_error_body(w, code, out);
  if (code == 429 || code == 502 || code == 503 || code == 504) {
    out->retry_after_ms = w->http.retry_after_ms;
    return TG_SEND_RETRYABLE;
  }
  return TG_SEND_PERMANENT;
}

/* One attempt, as a tailgate.export span whose context its headers carry. */
static tg_send_result http_send(void *ctx, void *vw, const tg_export_item *item,
                                tg_send_outcome *out) {
  otlphttp_worker *w = vw;
  if (tg_http_client_check_aborted(&w->http, out))
    return TG_SEND_PERMANENT;
  tg_http_client_trace_begin(&w->http, item->span_count, item->attempt);
  tg_send_result r = send_attempt(ctx, w, item, out);
  tg_http_client_trace_end(&w->http, r);
  return r;
}

static const tg_export_queue_ops otlphttp_queue_ops = {
    .worker_init = worker_init,
    .send = http_send,
    .abort = tg_http_worker_abort,
    .worker_fini = tg_http_worker_fini,
};

/* ---- lifecycle ---- */

static void otlphttp_destroy(tg_instance *self) {
  otlphttp_state *st = self->state;
  if (!st)
    return;
  tg_export_queue_free(st->queue); /* joins the senders before the shared headers go */
  curl_slist_free_all(st->headers);
  tg_free(st->url);
  tg_free(st->metrics_url);
  tg_free(st->log_name);
  tg_free(st);
  self->state = NULL;
}

static int otlphttp_create(tg_instance *self, tg_errbuf *err) {
  const otlphttp_conf *c = self->conf;
  const char *id = self->id ? self->id : "otlphttp";
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: no configuration", id);
  if (c->encoding == OTLPHTTP_ENC_JSON)
    return tg_errf(err, TG_ECONFIG, "%s: encoding: json is not supported yet; use proto", id);
  int rc = tg_http_exporter_check_headers(&c->headers, tg_http_header_problem, id, err);
  if (rc)
    return rc;
  otlphttp_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = st;
  st->conf = c;
  tg_errbuf uerr;
  if (signal_urls(c, &st->url, &st->metrics_url, &uerr)) {
    otlphttp_destroy(self);
    return tg_errf(err, TG_ECONFIG, "%s: %s", id, uerr.msg);
  }
  st->log_name = tg_strdup(id);
  if (!st->log_name) {
    otlphttp_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  tg_service *svc = self->service;
  st->tracer = svc ? svc->selftrace : NULL;
  st->queue = tg_export_queue_new(&c->queue, &c->retry, &otlphttp_queue_ops, st, id,
                                  svc ? svc->log : NULL, svc ? svc->metrics : NULL);
  if (!st->queue) {
    otlphttp_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  return TG_OK;
}

static int otlphttp_start(tg_instance *self, tg_errbuf *err) {
  otlphttp_state *st = self->state;
  const otlphttp_conf *c = st->conf;
  const char *id = st->log_name;
  otlphttp_conf *mc = self->conf;
  static const char *const fixed[] = {"Content-Type: application/x-protobuf",
                                      "Expect:", /* no 100-continue round trip */
                                      "Content-Encoding: gzip"};
  size_t n_fixed = c->compression == OTLPHTTP_COMPRESS_GZIP ? 3 : 2;
  int rc = tg_http_exporter_start(self, st->queue, id, mc->authenticator, &mc->headers, fixed,
                                  n_fixed, &st->headers, err);
  if (rc)
    return rc;
  if (self->service && self->service->log)
    TG_LOG_INFO(self->service->log, id, "exporting OTLP/HTTP to %s%s%s",
                st->url ? st->url : "", st->url && st->metrics_url ? " and " : "",
                st->metrics_url ? st->metrics_url : "");
  return TG_OK;
}

/* Traces go to the queue; a metrics source is subscribed to (tg_otlp_metrics.h). A signal
 * without a URL is refused. */
static int otlphttp_consume(tg_instance *self, tg_batch *batch) {
  const otlphttp_state *st = self->state;
  if (!(batch->metrics ? st->metrics_url : st->url))
    return TG_ECONFIG;
  return tg_otlp_exporter_consume(self, batch);
}

const tg_component tg_exporter_otlphttp = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "otlphttp",
    .signals = TG_SIGNAL_TRACES | TG_SIGNAL_METRICS,
    .conf_size = sizeof(otlphttp_conf),
    .keys = otlphttp_keys,
    .n_keys = sizeof otlphttp_keys / sizeof otlphttp_keys[0],
    .conf_check = otlphttp_conf_check,
    .ops = {.create = otlphttp_create,
            .start = otlphttp_start,
            .consume = otlphttp_consume,
            .stop = tg_queued_exporter_stop,
            .destroy = otlphttp_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces and metrics as OTLP/HTTP protobuf (POST <endpoint>/v1/traces, "
           "/v1/metrics; gzip) through a bounded sending queue with retries (libcurl).",
};
