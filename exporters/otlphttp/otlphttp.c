/* The otlphttp exporter: OTLP/HTTP (binary protobuf) to a backend, as the Collector's
 * `otlphttp` exporter.
 *
 * Data path: consume encodes the batch once and queues the bytes (the shared sending
 * queue, core/export); each sender thread owns one libcurl easy handle, so connections
 * are kept alive and reused per thread with no locking, and POSTs one request at a time
 * (gzip-compressed on the sender thread, so the loop thread never compresses).
 *
 * Classification (OTLP/HTTP spec): 2xx delivered (a partial_success in the body is
 * logged and its rejected spans counted failed); 429, 502, 503, 504 retryable, honouring
 * Retry-After (seconds or HTTP date); transport errors (refused, reset, timeout)
 * retryable; every other status permanent.
 *
 * libcurl needs curl_global_init once per process before any thread uses it; that is
 * the one piece of process-wide state here: a pthread_once_t (never reset, never
 * cleaned up, as libcurl's own documentation recommends for libraries).
 *
 * encoding: json is refused at configuration time for now (proto only). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "rpc_status.pb-c.h"
#include "tg_alloc.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_export_queue.h"
#include "tg_gzip.h"
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
  struct {
    bool insecure; /* accepted for Collector compatibility; the URL scheme decides */
    bool insecure_skip_verify;
    char *ca_file, *cert_file, *key_file;
  } tls;
  tg_conf_strmap headers;
  int compression;
  int encoding;
  uint64_t timeout_ms;
  tg_retry_conf retry;
  tg_queue_conf queue;
} otlphttp_conf;

typedef struct otlphttp_state {
  tg_export_queue *queue; /* first: the shared tg_queued_exporter_* ops find it here */
  const otlphttp_conf *conf;
  char *url;
  char *log_name;
  struct curl_slist *headers; /* shared read-only by every handle */
} otlphttp_state;

typedef struct otlphttp_worker {
  CURL *easy;
  atomic_int aborted;
  tg_buf body;             /* response body, capped */
  uint64_t retry_after_ms; /* from the last response's headers */
  tg_buf gz;               /* compressed request, reused */
} otlphttp_worker;

static const char *const compression_values[] = {"none", "gzip", NULL};
static const char *const encoding_values[] = {"proto", "json", NULL};

static const tg_conf_key otlphttp_keys[] = {
    TG_KEY_STRING("endpoint", otlphttp_conf, endpoint, NULL,
                  "base URL (http:// or https://); traces go to <endpoint>/v1/traces"),
    TG_KEY_STRING("traces_endpoint", otlphttp_conf, traces_endpoint, NULL,
                  "full URL for traces (overrides endpoint)"),
    TG_KEY_BOOL("tls.insecure", otlphttp_conf, tls.insecure, "false",
                "accepted for compatibility; the URL scheme selects TLS"),
    TG_KEY_BOOL("tls.insecure_skip_verify", otlphttp_conf, tls.insecure_skip_verify, "false",
                "TLS without verifying the server certificate"),
    TG_KEY_STRING("tls.ca_file", otlphttp_conf, tls.ca_file, NULL,
                  "PEM roots to verify the server (default: system roots)"),
    TG_KEY_STRING("tls.cert_file", otlphttp_conf, tls.cert_file, NULL,
                  "PEM client certificate (mTLS); needs tls.key_file"),
    TG_KEY_STRING("tls.key_file", otlphttp_conf, tls.key_file, NULL,
                  "PEM client key (mTLS); needs tls.cert_file"),
    TG_KEY_STRMAP("headers", otlphttp_conf, headers, "HTTP headers sent with every request"),
    TG_KEY_ENUM("compression", otlphttp_conf, compression, "gzip", compression_values,
                "request body compression: none | gzip"),
    TG_KEY_ENUM("encoding", otlphttp_conf, encoding, "proto", encoding_values,
                "body encoding: proto (json is not supported yet)"),
    TG_KEY_DURATION("timeout", otlphttp_conf, timeout_ms, "30s", 1, 3600000,
                    "deadline of each request (the Collector's default, 30s)"),
    TG_EXPORT_QUEUE_KEYS(otlphttp_conf, retry, queue),
};

/* ---- configuration ---- */

static int url_ok(const char *url) {
  return url && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) &&
         url[strncmp(url, "http://", 7) ? 8 : 7] != '\0' && !strpbrk(url, " \t\r\n");
}

/* The traces URL from the conf (tg_free), or NULL with err. */
static char *traces_url(const otlphttp_conf *c, tg_errbuf *err) {
  if (c->traces_endpoint) {
    if (!url_ok(c->traces_endpoint)) {
      tg_errf(err, TG_ECONFIG, "traces_endpoint \"%s\": expected an http:// or https:// URL",
              c->traces_endpoint);
      return NULL;
    }
    return tg_strdup(c->traces_endpoint);
  }
  if (!c->endpoint) {
    tg_errf(err, TG_ECONFIG, "endpoint or traces_endpoint is required");
    return NULL;
  }
  if (!url_ok(c->endpoint)) {
    tg_errf(err, TG_ECONFIG, "endpoint \"%s\": expected an http:// or https:// URL",
            c->endpoint);
    return NULL;
  }
  size_t len = strlen(c->endpoint);
  while (len && c->endpoint[len - 1] == '/')
    len--;
  char *url = tg_malloc(len + sizeof "/v1/traces");
  if (!url) {
    tg_errf(err, TG_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(url, c->endpoint, len);
  memcpy(url + len, "/v1/traces", sizeof "/v1/traces");
  return url;
}

static const char *header_problem(const char *key, const char *value) {
  if (!*key)
    return "empty header name";
  for (const unsigned char *c = (const unsigned char *)key; *c; c++)
    if (*c <= 0x20 || *c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *c))
      return "header name must be an HTTP token";
  for (const unsigned char *c = (const unsigned char *)value; *c; c++)
    if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
      return "header value must not hold control characters";
  return NULL;
}

static void otlphttp_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                                tg_diag *diag) {
  const otlphttp_conf *c = vconf;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  tg_errbuf err;
  char *url = traces_url(c, &err);
  if (!url)
    tg_diag_add(diag, pos, "%s: %s", what, err.msg);
  tg_free(url);
  if (c->encoding == OTLPHTTP_ENC_JSON)
    tg_diag_add(diag, pos, "%s: encoding: json is not supported yet; use proto", what);
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

/* ---- curl process state ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT; /* the documented global */
static CURLcode curl_init_rc = CURLE_OK;              /* written once under curl_once */

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- sender ---- */

static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
  otlphttp_worker *w = ud;
  /* Past the cap the rest is dropped, not refused: the status code is what matters. */
  size_t room = w->body.limit > w->body.len ? w->body.limit - w->body.len : 0;
  size_t take = size * n < room ? size * n : room;
  if (take)
    tg_buf_append(&w->body, ptr, take);
  return size * n;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud) {
  otlphttp_worker *w = ud;
  size_t len = size * n;
  if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
    w->retry_after_ms = 0; /* a new response (after 100-continue or a redirect) */
    w->body.len = 0;
  } else if (len > 12 && !strncasecmp(ptr, "Retry-After:", 12)) {
    char v[128];
    size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
    memcpy(v, ptr + 12, vl);
    v[vl] = '\0';
    char *s = v;
    while (*s == ' ' || *s == '\t')
      s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
      *--e = '\0';
    char *end;
    unsigned long long secs = strtoull(s, &end, 10);
    uint64_t ms = 0;
    if (*s >= '0' && *s <= '9' && *end == '\0') {
      ms = secs > OTLPHTTP_MAX_RETRY_AFTER_MS / 1000 ? OTLPHTTP_MAX_RETRY_AFTER_MS
                                                      : (uint64_t)secs * 1000u;
    } else {
      time_t at = curl_getdate(s, NULL);
      time_t now = time(NULL);
      if (at > now)
        ms = (uint64_t)(at - now) * 1000u;
      if (ms > OTLPHTTP_MAX_RETRY_AFTER_MS)
        ms = OTLPHTTP_MAX_RETRY_AFTER_MS;
    }
    w->retry_after_ms = ms;
  }
  return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt;
  (void)dn;
  (void)ut;
  (void)un;
  otlphttp_worker *w = ud;
  return atomic_load(&w->aborted) ? 1 : 0;
}

static int worker_init(void *ctx, unsigned index, void **out) {
  (void)index;
  otlphttp_state *st = ctx;
  const otlphttp_conf *c = st->conf;
  otlphttp_worker *w = tg_calloc(1, sizeof *w);
  if (!w)
    return -1;
  atomic_init(&w->aborted, 0);
  tg_buf_init(&w->body, OTLPHTTP_MAX_RESPONSE);
  tg_buf_init(&w->gz, 0);
  w->easy = curl_easy_init();
  if (!w->easy) {
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
  otlphttp_worker *w = vw;
  if (!w)
    return;
  curl_easy_cleanup(w->easy);
  tg_buf_free(&w->body);
  tg_buf_free(&w->gz);
  tg_free(w);
}

static void worker_abort(void *ctx, void *vw) {
  (void)ctx;
  otlphttp_worker *w = vw;
  atomic_store(&w->aborted, 1);
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
  if (w->body.len && is_protobuf(w->easy)) {
    st = google__rpc__status__unpack(&pb_allocator, w->body.len, w->body.data);
    if (st)
      msg = st->message;
  }
  char text[160];
  size_t n = 0;
  if (msg) {
    for (; msg[n] && n < sizeof text - 1; n++)
      text[n] = (msg[n] >= 0x20 && msg[n] < 0x7f) ? msg[n] : '?';
  } else {
    for (; n < w->body.len && n < sizeof text - 1; n++)
      text[n] = (w->body.data[n] >= 0x20 && w->body.data[n] < 0x7f) ? (char)w->body.data[n] : '?';
  }
  text[n] = '\0';
  snprintf(out->detail, sizeof out->detail, "HTTP %ld: %s", code, text);
  if (st)
    google__rpc__status__free_unpacked(st, &pb_allocator);
}

static void read_partial_success(otlphttp_worker *w, tg_send_outcome *out) {
  if (is_protobuf(w->easy))
    tg_send_outcome_from_response(w->body.data, w->body.len, out);
}

static tg_send_result http_send(void *ctx, void *vw, const tg_export_item *item,
                                tg_send_outcome *out) {
  otlphttp_state *st = ctx;
  otlphttp_worker *w = vw;
  if (atomic_load(&w->aborted)) {
    snprintf(out->detail, sizeof out->detail, "shutting down");
    return TG_SEND_PERMANENT;
  }
  const uint8_t *body = item->data;
  size_t body_len = item->len;
  if (st->conf->compression == OTLPHTTP_COMPRESS_GZIP) {
    w->gz.len = 0;
    int rc = tg_gzip_deflate(item->data, item->len, &w->gz);
    if (rc != TG_OK) {
      snprintf(out->detail, sizeof out->detail, "gzip: %s", tg_strerror(rc));
      return TG_SEND_RETRYABLE; /* out of memory is transient */
    }
    body = w->gz.data;
    body_len = w->gz.len;
  }
  w->body.len = 0;
  w->retry_after_ms = 0;
  curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, (const char *)body);
  curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  CURLcode cc = curl_easy_perform(w->easy);
  if (cc != CURLE_OK) {
    snprintf(out->detail, sizeof out->detail, "%s", curl_easy_strerror(cc));
    switch (cc) {
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return TG_SEND_PERMANENT;
    default:
      return TG_SEND_RETRYABLE; /* connection refused/reset, DNS, timeout, TLS handshake */
    }
  }
  long code = 0;
  curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300) {
    read_partial_success(w, out);
    return TG_SEND_OK;
  }
  describe_error_body(w, code, out);
  if (code == 429 || code == 502 || code == 503 || code == 504) {
    out->retry_after_ms = w->retry_after_ms;
    return TG_SEND_RETRYABLE;
  }
  return TG_SEND_PERMANENT;
}

static const tg_export_queue_ops otlphttp_queue_ops = {
    .worker_init = worker_init,
    .send = http_send,
    .abort = worker_abort,
    .worker_fini = worker_fini,
};

/* ---- lifecycle ---- */

static void otlphttp_destroy(tg_instance *self) {
  otlphttp_state *st = self->state;
  if (!st)
    return;
  tg_export_queue_free(st->queue); /* joins the senders before the shared headers go */
  curl_slist_free_all(st->headers);
  tg_free(st->url);
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
  for (size_t i = 0; i < c->headers.n; i++) {
    const char *why = header_problem(c->headers.keys[i], c->headers.values[i]);
    if (why)
      return tg_errf(err, TG_ECONFIG, "%s: headers.%s: %s", id, c->headers.keys[i], why);
  }
  otlphttp_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = st;
  st->conf = c;
  tg_errbuf uerr;
  st->url = traces_url(c, &uerr);
  if (!st->url) {
    otlphttp_destroy(self);
    return tg_errf(err, TG_ECONFIG, "%s: %s", id, uerr.msg);
  }
  st->log_name = tg_strdup(id);
  if (!st->log_name) {
    otlphttp_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  tg_service *svc = self->service;
  st->queue = tg_export_queue_new(&c->queue, &c->retry, &otlphttp_queue_ops, st, id,
                                  svc ? svc->log : NULL, svc ? svc->metrics : NULL);
  if (!st->queue) {
    otlphttp_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  return TG_OK;
}

static int add_header(otlphttp_state *st, const char *line) {
  struct curl_slist *n = curl_slist_append(st->headers, line);
  if (!n)
    return TG_ENOMEM;
  st->headers = n;
  return TG_OK;
}

static int otlphttp_start(tg_instance *self, tg_errbuf *err) {
  otlphttp_state *st = self->state;
  const otlphttp_conf *c = st->conf;
  const char *id = st->log_name;
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return tg_errf(err, TG_EIO, "%s: curl_global_init failed: %s", id,
                   curl_easy_strerror(curl_init_rc));
  if (!st->headers) {
    int rc = add_header(st, "Content-Type: application/x-protobuf");
    if (!rc)
      rc = add_header(st, "Expect:"); /* no 100-continue round trip */
    if (!rc && c->compression == OTLPHTTP_COMPRESS_GZIP)
      rc = add_header(st, "Content-Encoding: gzip");
    for (size_t i = 0; !rc && i < c->headers.n; i++) {
      tg_buf line;
      tg_buf_init(&line, 0);
      rc = tg_buf_appendf(&line, "%s: %s", c->headers.keys[i], c->headers.values[i]);
      if (!rc)
        rc = tg_buf_append(&line, "", 1);
      if (!rc)
        rc = add_header(st, (const char *)line.data);
      tg_buf_free(&line);
    }
    if (rc)
      return tg_errf(err, rc, "%s: out of memory", id);
  }
  int rc = tg_export_queue_start(st->queue);
  if (rc)
    return tg_errf(err, rc, "%s: cannot start sender threads: %s", id, tg_strerror(rc));
  if (self->service && self->service->log)
    TG_LOG_INFO(self->service->log, id, "exporting OTLP/HTTP to %s", st->url);
  return TG_OK;
}

const tg_component tg_exporter_otlphttp = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "otlphttp",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(otlphttp_conf),
    .keys = otlphttp_keys,
    .n_keys = sizeof otlphttp_keys / sizeof otlphttp_keys[0],
    .conf_check = otlphttp_conf_check,
    .ops = {.create = otlphttp_create,
            .start = otlphttp_start,
            .consume = tg_queued_exporter_consume,
            .stop = tg_queued_exporter_stop,
            .destroy = otlphttp_destroy,
            .ready = tg_queued_exporter_ready},
    .doc = "Sends traces as OTLP/HTTP protobuf (POST <endpoint>/v1/traces, gzip) through a "
           "bounded sending queue with retries (libcurl).",
};
