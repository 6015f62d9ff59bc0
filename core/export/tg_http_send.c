/* The libcurl POST client of the HTTP exporters (see tg_http_send.h).
 *
 * Why one module: otlphttp, jaeger_thrift_http and prometheusremotewrite each set up the
 * same easy handle, capped body writer, Retry-After reader, abort-on-shutdown progress
 * callback and transport-error classification. They differ only in what they configure
 * (caps, which Retry-After forms they honour) and in how they read a status, which is why
 * status classification stays with them.
 *
 * The one piece of process-wide state is libcurl's global init: a pthread_once_t, never
 * reset and never cleaned up, as libcurl's documentation recommends for libraries. It
 * first loads libcurl (tg_lazy_curl.h: the executable does not link it), so every libcurl
 * user calls tg_http_global_init before its first libcurl call. */
#include "tg_http_send.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_version.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT; /* the documented global */
static const char *curl_init_why;                      /* written once under curl_once */

static void curl_init_once(void) {
  curl_init_why = tg_lazy_curl_load();
  if (!curl_init_why) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
      curl_init_why = curl_easy_strerror(rc);
  }
}

const char *tg_http_global_init(void) {
  pthread_once(&curl_once, curl_init_once);
  return curl_init_why;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
  tg_http_client *c = ud;
  /* Past the cap the rest is dropped, not refused: the status code is what matters. */
  size_t room = c->max_body > c->body.len ? c->max_body - c->body.len : 0;
  size_t take = size * n < room ? size * n : room;
  if (take)
    tg_buf_append(&c->body, ptr, take);
  return size * n;
}

/* Retry-After as seconds or an HTTP date (RFC 9110 10.2.3), in v (NUL-terminated). */
static uint64_t retry_after_seconds_or_date(char *v, uint64_t max_ms) {
  char *s = v;
  while (*s == ' ' || *s == '\t')
    s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
    *--e = '\0';
  char *end;
  unsigned long long secs = strtoull(s, &end, 10);
  if (*s >= '0' && *s <= '9' && *end == '\0')
    return secs > max_ms / 1000 ? max_ms : (uint64_t)secs * 1000u;
  uint64_t ms = 0;
  time_t at = curl_getdate(s, NULL);
  time_t now = time(NULL);
  if (at > now)
    ms = (uint64_t)(at - now) * 1000u;
  return ms > max_ms ? max_ms : ms;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud) {
  tg_http_client *c = ud;
  size_t len = size * n;
  if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
    c->retry_after_ms = 0; /* a new response (after 100-continue) */
    c->body.len = 0;
  } else if (c->retry_after != TG_RETRY_AFTER_IGNORE && len > 12 &&
             !strncasecmp(ptr, "Retry-After:", 12)) {
    char v[128];
    size_t room = c->retry_after == TG_RETRY_AFTER_SECONDS ? 32 : sizeof v;
    size_t vl = len - 12 < room - 1 ? len - 12 : room - 1;
    memcpy(v, ptr + 12, vl);
    v[vl] = '\0';
    if (c->retry_after == TG_RETRY_AFTER_SECONDS_OR_DATE) {
      c->retry_after_ms = retry_after_seconds_or_date(v, c->max_retry_after_ms);
    } else {
      char *end;
      unsigned long long s = strtoull(v, &end, 10);
      uint64_t max_s = c->max_retry_after_ms / 1000u;
      if (end != v) /* no number: the previous value stands */
        c->retry_after_ms = (s > max_s ? max_s : s) * 1000u;
    }
  }
  return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  tg_http_client *c = ud;
  return atomic_load(&c->aborted) ? 1 : 0;
}

int tg_http_client_init(tg_http_client *c, const tg_http_client_opts *o) {
  memset(c, 0, sizeof *c);
  atomic_init(&c->aborted, 0);
  tg_buf_init(&c->body, o->max_body);
  c->max_body = o->max_body;
  c->retry_after = o->retry_after;
  c->max_retry_after_ms = o->max_retry_after_ms;
  if (!(c->easy = curl_easy_init()))
    return TG_ENOMEM;
  CURL *h = c->easy;
  curl_easy_setopt(h, CURLOPT_URL, o->url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, o->headers);
  c->tracer = o->tracer;
  c->exporter = o->exporter ? o->exporter : "";
  c->base_headers = o->headers;
  curl_easy_setopt(h, CURLOPT_USERAGENT, "tailgate/" TG_VERSION);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
  if (o->read_buffer_size) /* libcurl: 1 KiB .. 10 MiB */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE,
                     (long)(o->read_buffer_size < 1024       ? 1024
                            : o->read_buffer_size > 10485760 ? 10485760
                                                             : o->read_buffer_size));
  if (o->write_buffer_size) /* libcurl: 16 KiB .. 2 MiB */
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE,
                     (long)(o->write_buffer_size < 16384     ? 16384
                            : o->write_buffer_size > 2097152 ? 2097152
                                                             : o->write_buffer_size));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (o->tls->ca_file)
    curl_easy_setopt(h, CURLOPT_CAINFO, o->tls->ca_file);
  if (o->tls->cert_file)
    curl_easy_setopt(h, CURLOPT_SSLCERT, o->tls->cert_file);
  if (o->tls->key_file)
    curl_easy_setopt(h, CURLOPT_SSLKEY, o->tls->key_file);
  if (o->tls->insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  return TG_OK;
}

void tg_http_client_fini(tg_http_client *c) {
  if (c->easy)
    curl_easy_cleanup(c->easy);
  c->easy = NULL;
  tg_buf_free(&c->body);
}

void tg_http_client_abort(tg_http_client *c) { atomic_store(&c->aborted, 1); }

bool tg_http_client_check_aborted(tg_http_client *c, tg_send_outcome *out) {
  if (!atomic_load(&c->aborted))
    return false;
  snprintf(out->detail, sizeof out->detail, "shutting down");
  return true;
}

tg_send_result tg_http_client_post(tg_http_client *c, const void *body, size_t len,
                                   long *status, tg_send_outcome *out) {
  c->body.len = 0;
  c->retry_after_ms = 0;
  c->last_status = 0;
  curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, (const char *)body);
  curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  CURLcode cc = curl_easy_perform(c->easy);
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
  *status = 0;
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, status);
  c->last_status = *status;
  return TG_SEND_OK;
}

typedef struct trace_lines {
  tg_http_client *c;
  size_t n;
} trace_lines;

/* tg_selftrace_inject's sink: "name: value" into the next fixed line; a header that does
 * not fit (a long tracestate, never on tailgate's own root contexts) is left out. */
static void add_trace_line(void *arg, const char *name, const char *value) {
  trace_lines *tl = arg;
  if (tl->n == TG_SELFTRACE_MAX_HEADERS)
    return;
  char *line = tl->c->trace_lines[tl->n];
  int len = snprintf(line, TG_HTTP_TRACE_LINE, "%s: %s", name, value);
  if (len < 0 || len >= TG_HTTP_TRACE_LINE)
    return;
  tl->c->trace_nodes[tl->n].data = line;
  tl->n++;
}

void tg_http_client_trace_begin(tg_http_client *c, size_t span_count, unsigned attempt) {
  tg_tracectx ctx;
  c->span.sampled = 0;
  if (!tg_selftrace_export_begin(c->tracer, c->exporter, span_count, attempt, &c->span,
                                 &ctx))
    return;
  trace_lines tl = {c, 0};
  tg_selftrace_inject(c->tracer, &ctx, add_trace_line, &tl);
  if (!tl.n)
    return;
  for (size_t i = 0; i + 1 < tl.n; i++)
    c->trace_nodes[i].next = &c->trace_nodes[i + 1];
  c->trace_nodes[tl.n - 1].next = c->base_headers; /* read-only, shared: never freed here */
  curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, &c->trace_nodes[0]);
}

void tg_http_client_trace_end(tg_http_client *c, tg_send_result result) {
  tg_selftrace_export_end(c->tracer, &c->span, tg_send_result_name(result),
                          c->last_status ? "http.response.status_code" : NULL,
                          c->last_status);
}

size_t tg_http_printable(char *dst, size_t cap, const void *src, size_t len, char subst) {
  const unsigned char *s = src;
  size_t n = 0;
  for (; n < len && n < cap - 1; n++)
    dst[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? (char)s[n] : subst;
  dst[n] = '\0';
  return n;
}

const char *tg_http_header_problem(const char *key, const char *value) {
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

void tg_http_conf_check(const tg_http_tls_conf *tls, const tg_conf_strmap *headers,
                        const char *(*problem)(const char *key, const char *value),
                        const tg_yaml_pos *pos, const char *what, tg_diag *diag) {
  if (!tls->cert_file != !tls->key_file)
    tg_diag_add(diag, pos, "%s: tls.cert_file and tls.key_file must be set together", what);
  const char *files[] = {tls->ca_file, tls->cert_file, tls->key_file};
  const char *names[] = {"tls.ca_file", "tls.cert_file", "tls.key_file"};
  for (int i = 0; i < 3; i++)
    if (files[i] && access(files[i], R_OK))
      tg_diag_add(diag, pos, "%s: %s \"%s\" is not readable", what, names[i], files[i]);
  for (size_t i = 0; i < headers->n; i++) {
    const char *why = problem(headers->keys[i], headers->values[i]);
    if (why)
      tg_diag_add(diag, pos, "%s: headers.%s: %s", what, headers->keys[i], why);
  }
}

int tg_http_header_add(struct curl_slist **list, const char *key, const char *value) {
  char *line = NULL;
  if (value) {
    size_t n = strlen(key) + strlen(value) + 3;
    if (!(line = tg_malloc(n)))
      return TG_ENOMEM;
    snprintf(line, n, "%s: %s", key, value);
  }
  struct curl_slist *l = curl_slist_append(*list, line ? line : key); /* copies the line */
  tg_free(line);
  if (!l)
    return TG_ENOMEM;
  *list = l;
  return TG_OK;
}
