/* The libcurl POST client shared by the HTTP exporters (otlphttp, jaeger_thrift_http,
 * prometheusremotewrite): one easy handle per sender thread of the sending queue
 * (core/export), kept alive between requests, with a capped response body, optional
 * Retry-After parsing and abort on shutdown. What a status code means stays with each
 * exporter (OTLP/HTTP and remote write classify differently); the transport errors are
 * classified here, the same for all.
 *
 * Threads: a tg_http_client belongs to one sender thread (no locking), except
 * tg_http_client_abort, which any thread may call. */
#ifndef TG_HTTP_SEND_H
#define TG_HTTP_SEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_lazy_curl.h" /* <curl/curl.h>, and libcurl calls through the dlopen'd table */

#include "tg_buf.h"
#include "tg_conf.h"
#include "tg_diag.h"
#include "tg_export_queue.h"
#include "tg_selftrace.h"

/* Room for one trace-context header line ("uber-trace-id: " + 70 is the longest). */
#define TG_HTTP_TRACE_LINE 96

/* The tls.* keys of an HTTP exporter's configuration (the Collector's names). */
typedef struct tg_http_tls_conf {
  bool insecure; /* otlphttp accepts it for Collector compatibility; the URL scheme decides */
  bool insecure_skip_verify;
  char *ca_file, *cert_file, *key_file; /* NULL = not set */
} tg_http_tls_conf;

/* How a client reads a Retry-After response header. */
typedef enum tg_retry_after_mode {
  TG_RETRY_AFTER_IGNORE,          /* not read: retry_after_ms stays 0 */
  TG_RETRY_AFTER_SECONDS,         /* leading decimal seconds (strtoull), capped */
  TG_RETRY_AFTER_SECONDS_OR_DATE, /* exactly decimal seconds, else an HTTP date */
} tg_retry_after_mode;

/* What a client is set up with. Strings and the header list are borrowed: they must
 * outlive the client (they belong to the exporter's state, freed after the queue's
 * senders are joined). */
typedef struct tg_http_client_opts {
  const char *url;
  struct curl_slist *headers; /* shared read-only by every client of an exporter */
  uint64_t timeout_ms;        /* request deadline, also the connect deadline */
  const tg_http_tls_conf *tls;
  size_t max_body;                /* response bytes kept (the rest is read and dropped) */
  tg_retry_after_mode retry_after;
  uint64_t max_retry_after_ms;    /* cap of a parsed Retry-After */
  tg_selftrace *tracer;           /* service.telemetry.traces; NULL = off: no headers */
  const char *exporter;           /* the exporter's id, for its tailgate.export spans */
  /* confighttp read_buffer_size / write_buffer_size: libcurl's receive buffer
   * (CURLOPT_BUFFERSIZE) and upload buffer (CURLOPT_UPLOAD_BUFFERSIZE), clamped to what
   * libcurl accepts; 0 = libcurl's defaults. */
  size_t read_buffer_size, write_buffer_size;
} tg_http_client_opts;

typedef struct tg_http_client {
  CURL *easy;
  atomic_int aborted;
  tg_buf body;             /* the last response's body, at most opts.max_body bytes */
  uint64_t retry_after_ms; /* from the last response's headers; 0 = none */
  size_t max_body;
  tg_retry_after_mode retry_after;
  uint64_t max_retry_after_ms;
  long last_status; /* the last post's HTTP status; 0 = no response */
  /* Self-tracing of each attempt (tg_http_client_trace_begin/end): the span, and the
   * context header lines in fixed storage chained in front of opts.headers, so a traced
   * request allocates nothing for its headers. */
  tg_selftrace *tracer;
  const char *exporter;
  struct curl_slist *base_headers;
  tg_selfspan span;
  struct curl_slist trace_nodes[TG_SELFTRACE_MAX_HEADERS];
  char trace_lines[TG_SELFTRACE_MAX_HEADERS][TG_HTTP_TRACE_LINE];
} tg_http_client;

/* Loads libcurl (tg_lazy_curl.h) and runs its process-wide init, once per process whoever
 * calls first (pthread_once; never cleaned up, as libcurl advises for libraries). Every
 * libcurl user calls this before its first libcurl call. Returns NULL, or the reason
 * ("cannot load libcurl.so.4: ..." or libcurl's init error). */
const char *tg_http_global_init(void);

/* Sets up c (which the caller allocates) for POSTs to opts->url: keep-alive, no signals,
 * no redirects, http/https only, the tailgate User-Agent, TLS files as given. Returns
 * TG_OK, or TG_ENOMEM with nothing to free. */
int tg_http_client_init(tg_http_client *c, const tg_http_client_opts *opts);

/* Frees what init made; c may then be reused or freed. Safe on a zeroed client. */
void tg_http_client_fini(tg_http_client *c);

/* Makes the client's transfer in progress (and every later one) stop soon: libcurl's
 * progress callback fails it with CURLE_ABORTED_BY_CALLBACK. Any thread. */
void tg_http_client_abort(tg_http_client *c);

/* True once aborted; then fills out->detail ("shutting down"), so a send can return
 * TG_SEND_PERMANENT at once. */
bool tg_http_client_check_aborted(tg_http_client *c, tg_send_outcome *out);

/* POSTs len bytes of body (borrowed for the call). On a response: TG_SEND_OK with
 * *status set, c->body and c->retry_after_ms filled; the caller classifies the status.
 * On a transport failure: its classification (retryable: refused, reset, DNS, timeout,
 * TLS; permanent: aborted, malformed URL, unsupported protocol), out->detail set. */
tg_send_result tg_http_client_post(tg_http_client *c, const void *body, size_t len,
                                   long *status, tg_send_outcome *out);

/* Starts the self-span of the next post (one export attempt of span_count spans; attempt
 * 1 = first send) and puts its context's headers (the configured propagators) on the
 * requests from now on: a new trace per attempt, so every attempt is its own span.
 * Without a tracer nothing is sent or recorded. Call tg_http_client_trace_end after the
 * attempt is classified. */
void tg_http_client_trace_begin(tg_http_client *c, size_t span_count, unsigned attempt);
/* Ends that span with the attempt's classification and the last status (if a response
 * came). Safe without a begin or a tracer. */
void tg_http_client_trace_end(tg_http_client *c, tg_send_result result);

/* Copies at most cap - 1 bytes of src to dst, each byte outside printable ASCII replaced
 * by subst, and NUL-terminates. cap must be at least 1. Returns the length written. */
size_t tg_http_printable(char *dst, size_t cap, const void *src, size_t len, char subst);

/* Why an HTTP header name/value pair from configuration is unusable (the name must be a
 * token, the value free of control characters), or NULL when it is fine. */
const char *tg_http_header_problem(const char *key, const char *value);

/* The checks every HTTP exporter makes of tls.* and headers, added to diag at pos under
 * `what`: cert_file and key_file together, each file readable, and every header accepted
 * by problem (tg_http_header_problem, or an exporter's stricter version). */
void tg_http_conf_check(const tg_http_tls_conf *tls, const tg_conf_strmap *headers,
                        const char *(*problem)(const char *key, const char *value),
                        const tg_yaml_pos *pos, const char *what, tg_diag *diag);

/* Appends the line "key: value" (or, with value NULL, key as a whole line) to *list.
 * Returns TG_OK, or TG_ENOMEM leaving *list as it was. */
int tg_http_header_add(struct curl_slist **list, const char *key, const char *value);

#endif
