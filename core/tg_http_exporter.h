/* The parts every libcurl exporter (zipkin, jaeger_thrift_http, otlphttp) had written out
 * for itself: the tls/headers/auth key rows, a sender-thread worker holding one
 * tg_http_client and one request buffer, and the start sequence (libcurl init, the
 * authenticator's header, the fixed and configured headers, disk storage, sender
 * threads). What differs stays with each exporter and comes in as parameters: the URL
 * rules, the fixed headers (content type), the header rules, the send function.
 * prometheusremotewrite uses only the worker (its key rows and start differ).
 *
 * Threads: the key rows and start run on the loop thread; the worker functions are the
 * sending queue's worker ops and run on its sender threads. */
#ifndef TG_HTTP_EXPORTER_H
#define TG_HTTP_EXPORTER_H

#include <stddef.h>

#include "tg_lazy_curl.h" /* <curl/curl.h>, and libcurl calls through the dlopen'd table */

#include "tg_buf.h"
#include "tg_codec.h"
#include "tg_conf.h"
#include "tg_error.h"
#include "tg_export_queue.h"
#include "tg_http_send.h"

struct tg_instance;

/* The key rows tls.insecure_skip_verify, tls.ca_file, tls.cert_file, tls.key_file,
 * headers and auth.authenticator of a conf struct st whose tg_http_tls_conf is tf, whose
 * tg_conf_strmap is hf and whose authenticator id (char *) is af. */
#define TG_HTTP_EXPORTER_KEYS(st, tf, hf, af)                                          \
  TG_KEY_BOOL("tls.insecure_skip_verify", st, tf.insecure_skip_verify, "false",        \
              "HTTPS without verifying the server certificate"),                       \
  TG_KEY_STRING("tls.ca_file", st, tf.ca_file, NULL,                                   \
                "PEM roots to verify the server (default: system roots)"),             \
  TG_KEY_STRING("tls.cert_file", st, tf.cert_file, NULL,                               \
                "PEM client certificate (mTLS); needs tls.key_file"),                  \
  TG_KEY_STRING("tls.key_file", st, tf.key_file, NULL,                                 \
                "PEM client key (mTLS); needs tls.cert_file"),                         \
  TG_KEY_STRMAP("headers", st, hf, "HTTP headers sent with every request"),            \
  TG_KEY_STRING("auth.authenticator", st, af, NULL,                                    \
                "authenticator extension whose credentials every request carries")

/* The start of every HTTP exporter's per-sender-thread worker: an exporter's worker
 * struct begins with this (it may add fields after it, zeroed at creation). */
typedef struct tg_http_worker {
  tg_http_client http; /* keep-alive handle, capped response body, Retry-After */
  tg_buf body;         /* the request being sent (encoded or compressed), reused */
  tg_compressor *compressor; /* made at the first compressed send, reused (NULL = none) */
} tg_http_worker;

/* The compression key rows of a conf struct st: `compression` (an int enum over
 * tg_codec_values, default def) and `compression_params.level` (int64_t, 0 = the codec's
 * default; checked per codec by tg_http_compression_check). */
#define TG_HTTP_COMPRESSION_KEYS(st, cf, lf, def)                                      \
  TG_KEY_ENUM("compression", st, cf, def, tg_codec_values,                             \
              "request body compression: none | gzip | zstd | snappy"),                \
  TG_KEY_INT("compression_params.level", st, lf, "0", -7, 19,                          \
             "compression level (0 = the codec's default: gzip 1, zstd 3; gzip 1-12, "  \
             "zstd -7-19, snappy has none)")

/* Why codec and level do not go together (a message for "compression_params.level"), or
 * NULL when they do. */
const char *tg_http_compression_problem(int codec, int64_t level);

/* On a sender thread: replaces w->body with in[0..len) compressed by codec at level
 * (compressor state made once per worker and reused). TG_OK, TG_ENOMEM, TG_EINVAL. */
int tg_http_worker_compress(tg_http_worker *w, int codec, int64_t level, const uint8_t *in,
                            size_t len);

/* A zeroed worker of size bytes (>= sizeof(tg_http_worker)) whose client is initialised
 * from opts (which it copies what it needs from). Returns it (the caller's sender thread
 * owns it; free with tg_http_worker_fini), or NULL when memory or libcurl fails. */
void *tg_http_worker_new(size_t size, const tg_http_client_opts *opts);

/* Sending-queue worker ops, usable as .worker_fini and .abort as they are: fini frees a
 * worker from tg_http_worker_new (NULL is fine); abort interrupts its transfer in flight
 * from any thread. ctx is unused. */
void tg_http_worker_fini(void *ctx, void *worker);
void tg_http_worker_abort(void *ctx, void *worker);

/* Create-time check of configured headers by problem (tg_http_header_problem or an
 * exporter's stricter version). TG_OK, or TG_ECONFIG with "id: headers.KEY: why". */
int tg_http_exporter_check_headers(const tg_conf_strmap *headers,
                                   const char *(*problem)(const char *key, const char *value),
                                   const char *id, tg_errbuf *err);

/* The start op's common part, for an instance whose state begins with its sending queue
 * (the tg_queued_exporter_* convention): libcurl's global init; once (while *list is
 * NULL), the authenticator's header put into headers (tg_auth_client_apply; headers and
 * authenticator are the instance's conf fields), then the list built from the n_fixed
 * whole lines in fixed followed by headers; then the disk storage attached and the
 * sender threads started. *list stays the caller's (free with curl_slist_free_all after
 * the queue is freed). TG_OK, or an error with "id: ..." in err. */
int tg_http_exporter_start(struct tg_instance *self, tg_export_queue *queue, const char *id,
                           const char *authenticator, tg_conf_strmap *headers,
                           const char *const *fixed, size_t n_fixed, struct curl_slist **list,
                           tg_errbuf *err);

/* ---- exporters that POST to one collector URL (zipkin, jaeger_thrift_http) ---- */

/* What such an exporter tells the shared create/destroy/worker code. */
typedef struct tg_http_exporter_spec {
  const char *default_id;   /* for messages when the instance has no id, e.g. "zipkin" */
  const char *default_path; /* appended to an endpoint without a path, e.g. "/api/v2/spans" */
  const char *example;      /* an endpoint for the "endpoint is required" message */
  size_t state_size;        /* of the exporter's state, which begins with tg_http_exporter */
  const tg_export_queue_ops *ops; /* its sending-queue ops; their ctx is the state */
} tg_http_exporter_spec;

/* The start of such an exporter's state (its own fields follow, zeroed at create). */
typedef struct tg_http_exporter {
  tg_export_queue *queue;     /* first: the tg_queued_exporter_* ops find it here */
  char *url;                  /* the collector URL, default path added */
  struct curl_slist *headers; /* built by tg_http_exporter_start; freed after the queue */
  tg_selftrace *tracer;       /* the service's self-tracer; NULL = off */
  const char *id;             /* the instance's id, or spec->default_id */
} tg_http_exporter;

/* conf_check's common part: the endpoint as tg_http_exporter_url reads it, then the tls
 * and headers rules (tg_http_exporter_header_problem); problems go to diag at pos. */
void tg_http_exporter_check_conf(const tg_http_exporter_spec *spec, const char *endpoint,
                                 const tg_http_tls_conf *tls, const tg_conf_strmap *headers,
                                 const tg_yaml_pos *pos, const char *what, tg_diag *diag);

/* The create op's common part: a zeroed state of spec->state_size in self->state with the
 * URL, the checked headers, the self-tracer, the id and a sending queue (not started)
 * over spec->ops. TG_OK, or TG_ECONFIG / TG_ENOMEM with "id: ..." in err and nothing
 * left allocated. The caller then fills its own fields (before start). */
int tg_http_exporter_create(struct tg_instance *self, const tg_http_exporter_spec *spec,
                            const char *endpoint, const tg_conf_strmap *headers,
                            const tg_retry_conf *retry, const tg_queue_conf *queue,
                            tg_errbuf *err);

/* The destroy op (usable as .destroy as it is): frees the queue (joining the senders),
 * then the header list, the URL and the state. Safe after a partial create and twice. */
void tg_http_exporter_destroy(struct tg_instance *self);

/* A sender-thread worker of worker_size bytes for st's URL, headers, self-tracer and id:
 * response bodies capped at 4 KiB for the log, Retry-After in seconds capped at one
 * hour, as the Zipkin and Jaeger collectors send it. NULL on failure (see
 * tg_http_worker_new). */
void *tg_http_exporter_worker_new(const tg_http_exporter *st, size_t worker_size,
                                  uint64_t timeout_ms, const tg_http_tls_conf *tls);

/* For collectors that take a full URL whose path defaults (zipkin, jaeger_thrift_http):
 * endpoint must be http:// or https:// with a host and no spaces or control characters;
 * with no path, default_path (e.g. "/api/v2/spans") is appended. Returns the URL
 * (tg_free), or NULL with err ("endpoint is required (example)" when endpoint is NULL
 * or ""). */
char *tg_http_exporter_url(const char *endpoint, const char *default_path,
                           const char *example, tg_errbuf *err);

/* tg_http_header_problem, and also refuses Content-Type and Content-Length, which an
 * exporter sending one fixed body format sets itself. */
const char *tg_http_exporter_header_problem(const char *key, const char *value);

/* The status rule OTLP/HTTP and the Zipkin and Jaeger collectors share, for a POST that
 * got an answer: 2xx delivered; 429, 502, 503, 504 retryable with the client's
 * Retry-After; every other status permanent. Outside 2xx, out->detail gets
 * "HTTP code: <printable start of the body>". */
tg_send_result tg_http_exporter_status(const tg_http_client *http, long code,
                                       tg_send_outcome *out);

#endif
