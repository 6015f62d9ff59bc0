/* The jaeger_thrift_http exporter: Thrift binary Batches POSTed to a Jaeger collector's
 * /api/traces (:14268), for collectors that take only Thrift (the Collector's former
 * jaeger_thrift exporter). One POST per process (a Thrift Batch has one process),
 * Content-Type application/x-thrift, through libcurl with one easy handle per sender
 * thread (connections kept alive, no locking), and the shared sending queue.
 *
 * Classification as OTLP/HTTP (what Jaeger's collector answers): 2xx delivered; 429,
 * 502, 503, 504 retryable, honouring Retry-After in seconds; transport errors retryable;
 * every other status permanent. A retry resumes after the Batches already delivered.
 *
 * libcurl's global init runs once per process (pthread_once), as its documentation asks
 * of libraries. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "jaeger_exp.h"
#include "jaeger_thrift_encode.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_service.h"
#include "tg_version.h"

#define JTHTTP_MAX_RESPONSE 4096u /* of an error body, for the log */
#define JTHTTP_MAX_RETRY_AFTER_S 3600u

typedef struct jthttp_conf {
  char *endpoint; /* http(s)://host:port[/path]; no path = /api/traces */
  struct {
    bool insecure_skip_verify;
    char *ca_file, *cert_file, *key_file;
  } tls;
  tg_conf_strmap headers;
  uint64_t timeout_ms;
  tg_retry_conf retry;
  tg_queue_conf queue;
} jthttp_conf;

typedef struct jthttp_state {
  tg_export_queue *queue; /* first: the shared tg_queued_exporter_* ops find it here */
  const jthttp_conf *conf;
  char *url;
  struct curl_slist *headers;
} jthttp_state;

typedef struct jthttp_worker {
  CURL *easy;
  atomic_int aborted;
  tg_buf body;  /* the error body we keep for the log */
  tg_buf thrift; /* the request being sent */
  uint64_t retry_after_ms;
  tg_jaeger_exp_progress progress;
} jthttp_worker;

static const tg_conf_key jthttp_keys[] = {
    TG_KEY_STRING("endpoint", jthttp_conf, endpoint, NULL,
                  "collector URL, e.g. http://jaeger:14268/api/traces (no path: /api/traces); "
                  "required"),
    TG_KEY_BOOL("tls.insecure_skip_verify", jthttp_conf, tls.insecure_skip_verify, "false",
                "HTTPS without verifying the server certificate"),
    TG_KEY_STRING("tls.ca_file", jthttp_conf, tls.ca_file, NULL,
                  "PEM roots to verify the server (default: system roots)"),
    TG_KEY_STRING("tls.cert_file", jthttp_conf, tls.cert_file, NULL,
                  "PEM client certificate (mTLS); needs tls.key_file"),
    TG_KEY_STRING("tls.key_file", jthttp_conf, tls.key_file, NULL,
                  "PEM client key (mTLS); needs tls.cert_file"),
    TG_KEY_STRMAP("headers", jthttp_conf, headers, "HTTP headers sent with every request"),
    TG_KEY_DURATION("timeout", jthttp_conf, timeout_ms, "5s", 1, 3600000,
                    "deadline of each request"),
    TG_EXPORT_QUEUE_KEYS(jthttp_conf, retry, queue),
};

/* endpoint → full URL (tg_malloc), or NULL with err. */
static char *collector_url(const char *endpoint, tg_errbuf *err) {
  if (!endpoint || !*endpoint) {
    tg_errf(err, TG_ECONFIG, "endpoint is required (http://host:14268/api/traces)");
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
  const char *suffix = strchr(rest, '/') ? "" : "/api/traces";
  size_t n = strlen(endpoint) + strlen(suffix) + 1;
  char *url = tg_malloc(n);
  if (!url) {
    tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  snprintf(url, n, "%s%s", endpoint, suffix);
  return url;
}

static const char *header_problem(const char *key, const char *value) {
  if (!*key)
    return "empty header name";
  for (const char *c = key; *c; c++)
    if (*c <= 0x20 || *c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *c))
      return "header name must be an HTTP token";
  if (!strcasecmp(key, "content-type") || !strcasecmp(key, "content-length"))
    return "the exporter sets this header itself";
  for (const unsigned char *c = (const unsigned char *)value; *c; c++)
    if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
      return "header value must not hold control characters";
  return NULL;
}

static void jthttp_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                              tg_diag *diag) {
  const jthttp_conf *c = vconf;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  tg_errbuf err;
  char *url = collector_url(c->endpoint, &err);
  if (!url)
    tg_diag_add(diag, pos, "%s: %s", what, err.msg);
  tg_free(url);
  if (!c->tls.cert_file != !c->tls.key_file)
    tg_diag_add(diag, pos, "%s: tls.cert_file and tls.key_file must be set together", what);
  const char *files[] = {c->tls.ca_file, c->tls.cert_file, c->tls.key_file};
  const char *names[] = {"tls.ca_file", "tls.cert_file", "tls.key_file"};
  for (int i = 0; i < 3; i++)
    if (files[i] && access(files[i], R_OK))
      tg_diag_add(diag, pos, "%s: %s \"%s\" is not readable", what, names[i], files[i]);
  for (size_t i = 0; i < c->headers.n; i++) {
    const char *why = header_problem(c->headers.keys[i], c->headers.values[i]);
    if (why)
      tg_diag_add(diag, pos, "%s: headers.%s: %s", what, c->headers.keys[i], why);
  }
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- sender ---- */

static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
  jthttp_worker *w = ud;
  size_t room = JTHTTP_MAX_RESPONSE > w->body.len ? JTHTTP_MAX_RESPONSE - w->body.len : 0;
  size_t take = size * n < room ? size * n : room;
  if (take)
    tg_buf_append(&w->body, ptr, take);
  return size * n;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud) {
  jthttp_worker *w = ud;
  size_t len = size * n;
  if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
    w->retry_after_ms = 0;
    w->body.len = 0;
  } else if (len > 12 && !strncasecmp(ptr, "Retry-After:", 12)) {
    char v[32];
    size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
    memcpy(v, ptr + 12, vl);
    v[vl] = '\0';
    char *end;
    unsigned long long s = strtoull(v, &end, 10);
    if (end != v)
      w->retry_after_ms = (s > JTHTTP_MAX_RETRY_AFTER_S ? JTHTTP_MAX_RETRY_AFTER_S : s) * 1000u;
  }
  return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  jthttp_worker *w = ud;
  return atomic_load(&w->aborted) ? 1 : 0;
}

static int worker_init(void *ctx, unsigned index, void **out) {
  (void)index;
  jthttp_state *st = ctx;
  const jthttp_conf *c = st->conf;
  jthttp_worker *w = tg_calloc(1, sizeof *w);
  if (!w)
    return -1;
  atomic_init(&w->aborted, 0);
  tg_buf_init(&w->body, JTHTTP_MAX_RESPONSE + 1);
  tg_buf_init(&w->thrift, 0);
  if (!(w->easy = curl_easy_init())) {
    tg_free(w);
    return -1;
  }
  CURL *h = w->easy;
  curl_easy_setopt(h, CURLOPT_URL, st->url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "tailgate/" TG_VERSION);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, w);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (c->tls.ca_file)
    curl_easy_setopt(h, CURLOPT_CAINFO, c->tls.ca_file);
  if (c->tls.cert_file)
    curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls.cert_file);
  if (c->tls.key_file)
    curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls.key_file);
  if (c->tls.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  *out = w;
  return 0;
}

static void worker_fini(void *ctx, void *vw) {
  (void)ctx;
  jthttp_worker *w = vw;
  if (!w)
    return;
  curl_easy_cleanup(w->easy);
  tg_buf_free(&w->body);
  tg_buf_free(&w->thrift);
  tg_free(w);
}

static void worker_abort(void *ctx, void *vw) {
  (void)ctx;
  jthttp_worker *w = vw;
  atomic_store(&w->aborted, 1);
}

/* One POST of the bytes in w->thrift. */
static tg_send_result post_one(jthttp_worker *w, tg_send_outcome *out) {
  w->body.len = 0;
  w->retry_after_ms = 0;
  curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, (const char *)w->thrift.data);
  curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->thrift.len);
  CURLcode cc = curl_easy_perform(w->easy);
  if (cc != CURLE_OK) {
    snprintf(out->detail, sizeof out->detail, "%s", curl_easy_strerror(cc));
    return cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_URL_MALFORMAT ||
                   cc == CURLE_UNSUPPORTED_PROTOCOL
               ? TG_SEND_PERMANENT
               : TG_SEND_RETRYABLE;
  }
  long code = 0;
  curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300)
    return TG_SEND_OK;
  char text[160];
  size_t n = 0;
  for (; n < w->body.len && n < sizeof text - 1; n++)
    text[n] = (w->body.data[n] >= 0x20 && w->body.data[n] < 0x7f) ? (char)w->body.data[n] : '?';
  text[n] = '\0';
  snprintf(out->detail, sizeof out->detail, "HTTP %ld: %s", code, text);
  if (code == 429 || code == 502 || code == 503 || code == 504) {
    out->retry_after_ms = w->retry_after_ms;
    return TG_SEND_RETRYABLE;
  }
  return TG_SEND_PERMANENT;
}

static tg_send_result http_send(void *ctx, void *vw, const tg_export_item *item,
                                tg_send_outcome *out) {
  (void)ctx;
  jthttp_worker *w = vw;
  if (atomic_load(&w->aborted)) {
    snprintf(out->detail, sizeof out->detail, "shutting down");
    return TG_SEND_PERMANENT;
  }
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
    w->thrift.len = 0;
    if (tg_jaeger_thrift_encode_batch(&w->thrift, TG_THRIFT_BINARY, req.batches[i]) != TG_OK) {
      snprintf(out->detail, sizeof out->detail, "out of memory encoding Thrift");
      result = TG_SEND_RETRYABLE;
      break;
    }
    result = post_one(w, out);
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
    .abort = worker_abort,
    .worker_fini = worker_fini,
};

/* ---- lifecycle ---- */

static void jthttp_destroy(tg_instance *self) {
  jthttp_state *st = self->state;
  if (!st)
    return;
  tg_export_queue_free(st->queue); /* joins the senders before their handles go */
  curl_slist_free_all(st->headers);
  tg_free(st->url);
  tg_free(st);
  self->state = NULL;
}

static int add_header(jthttp_state *st, const char *line) {
  struct curl_slist *n = curl_slist_append(st->headers, line);
  if (!n)
    return TG_ENOMEM;
  st->headers = n;
  return TG_OK;
}

static int jthttp_create(tg_instance *self, tg_errbuf *err) {
  const jthttp_conf *c = self->conf;
  const char *id = self->id ? self->id : "jaeger_thrift_http";
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: no configuration", id);
  jthttp_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = st;
  st->conf = c;
  tg_errbuf uerr;
  if (!(st->url = collector_url(c->endpoint, &uerr))) {
    jthttp_destroy(self);
    return tg_errf(err, TG_ECONFIG, "%s: %s", id, uerr.msg);
  }
  for (size_t i = 0; i < c->headers.n; i++) {
    const char *why = header_problem(c->headers.keys[i], c->headers.values[i]);
    if (why) {
      jthttp_destroy(self);
      return tg_errf(err, TG_ECONFIG, "%s: headers.%s: %s", id, c->headers.keys[i], why);
    }
  }
  tg_service *svc = self->service;
  st->queue = tg_export_queue_new(&c->queue, &c->retry, &jthttp_queue_ops, st, id,
                                  svc ? svc->log : NULL, svc ? svc->metrics : NULL);
  if (!st->queue) {
    jthttp_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  return TG_OK;
}

static int jthttp_start(tg_instance *self, tg_errbuf *err) {
  jthttp_state *st = self->state;
  const jthttp_conf *c = st->conf;
  const char *id = self->id ? self->id : "jaeger_thrift_http";
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return tg_errf(err, TG_EIO, "%s: libcurl init failed: %s", id,
                   curl_easy_strerror(curl_init_rc));
  if (!st->headers) {
    if (add_header(st, "Content-Type: application/x-thrift") || add_header(st, "Expect:"))
      return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
    for (size_t i = 0; i < c->headers.n; i++) {
      size_t n = strlen(c->headers.keys[i]) + strlen(c->headers.values[i]) + 3;
      char *line = tg_malloc(n);
      if (!line)
        return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
      snprintf(line, n, "%s: %s", c->headers.keys[i], c->headers.values[i]);
      int rc = add_header(st, line);
      tg_free(line);
      if (rc)
        return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
    }
  }
  int rc = tg_export_queue_start(st->queue);
  if (rc)
    return tg_errf(err, rc, "%s: cannot start sender threads: %s", id, tg_strerror(rc));
  if (self->service && self->service->log)
    TG_LOG_INFO(self->service->log, self->id, "exporting to Jaeger (Thrift over HTTP) at %s",
                st->url);
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
            .destroy = jthttp_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces to a Jaeger collector as Thrift binary Batches over HTTP "
           "(POST /api/traces, one per process) through a bounded sending queue (libcurl).",
};
