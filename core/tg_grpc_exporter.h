/* The gRPC exporter core shared by every exporter that sends over gRPC C core: the
 * configgrpc client keys, the transport (core/export/tg_grpc_exporter.c) and the instance
 * half (core/export/tg_grpc_instance.c: state and lifecycle). Users: the otlp exporter
 * (exporters/otlp/otlp.c: TraceService/Export), the jaeger exporter
 * (exporters/jaeger/jaeger_grpc_exp.c: api_v2 PostSpans) and any exporter that needs one
 * OTLP sender per backend. It lives in core so components never include each other. */
#ifndef TG_GRPC_EXPORTER_H
#define TG_GRPC_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_conf.h"
#include "tg_error.h"
#include "tg_export_queue.h"

enum { TG_OTLPEXP_COMPRESS_NONE, TG_OTLPEXP_COMPRESS_GZIP };
enum { TG_OTLPEXP_LB_ROUND_ROBIN, TG_OTLPEXP_LB_PICK_FIRST };

typedef struct tg_otlpexp_tls {
  bool insecure;             /* plaintext (h2c) */
  bool insecure_skip_verify; /* TLS without verifying the server's certificate */
  char *ca_file, *cert_file, *key_file;
} tg_otlpexp_tls;

typedef struct tg_otlpexp_conf {
  char *endpoint;
  tg_otlpexp_tls tls;
  tg_conf_strmap headers;
  char *authenticator; /* auth.authenticator: its header joins `headers` at start */
  int compression;
  uint64_t timeout_ms;
  uint64_t keepalive_time_ms, keepalive_timeout_ms; /* 0 = gRPC defaults */
  bool keepalive_permit_without_stream;
  int balancer_name;
  uint64_t read_buffer_size, write_buffer_size; /* 0 = gRPC defaults */
  tg_retry_conf retry;
  tg_queue_conf queue;
} tg_otlpexp_conf;

/* The names of the enums above, in order (NULL-terminated), for the key tables. */
extern const char *const tg_otlpexp_compression_values[];
extern const char *const tg_otlpexp_balancer_values[];

/* Key-table rows of the configgrpc keys (endpoint, tls.*, headers, compression, timeout,
 * keepalive.*, balancer_name) and the queue/retry keys, for a tg_otlpexp_conf. What the
 * exporters differ in is given: the endpoint's and the timeout's descriptions and the
 * compression default. Use inside a key table. */
#define TG_OTLPEXP_GRPC_KEYS(endpoint_doc, compression_default, timeout_doc)                 \
  TG_KEY_STRING("endpoint", tg_otlpexp_conf, endpoint, NULL, endpoint_doc),                  \
  TG_KEY_BOOL("tls.insecure", tg_otlpexp_conf, tls.insecure, "false",                        \
              "plaintext gRPC (h2c) instead of TLS"),                                        \
  TG_KEY_BOOL("tls.insecure_skip_verify", tg_otlpexp_conf, tls.insecure_skip_verify,         \
              "false", "TLS without verifying the server certificate"),                      \
  TG_KEY_STRING("tls.ca_file", tg_otlpexp_conf, tls.ca_file, NULL,                           \
                "PEM roots to verify the server (default: system roots)"),                   \
  TG_KEY_STRING("tls.cert_file", tg_otlpexp_conf, tls.cert_file, NULL,                       \
                "PEM client certificate (mTLS); needs tls.key_file"),                        \
  TG_KEY_STRING("tls.key_file", tg_otlpexp_conf, tls.key_file, NULL,                         \
                "PEM client key (mTLS); needs tls.cert_file"),                               \
  TG_KEY_STRMAP("headers", tg_otlpexp_conf, headers, "gRPC metadata sent with every call"),  \
  TG_KEY_STRING("auth.authenticator", tg_otlpexp_conf, authenticator, NULL,                  \
                "authenticator extension whose credentials every call carries"),             \
  TG_KEY_ENUM("compression", tg_otlpexp_conf, compression, compression_default,              \
              tg_otlpexp_compression_values, "message compression: none | gzip"),            \
  TG_KEY_DURATION("timeout", tg_otlpexp_conf, timeout_ms, "5s", 1, 3600000, timeout_doc),    \
  TG_KEY_DURATION("keepalive.time", tg_otlpexp_conf, keepalive_time_ms, "0", 0, 86400000,    \
                  "ping after this long idle (0 = gRPC default, off)"),                      \
  TG_KEY_DURATION("keepalive.timeout", tg_otlpexp_conf, keepalive_timeout_ms, "0", 0,        \
                  86400000, "wait this long for a ping ack (0 = gRPC default)"),             \
  TG_KEY_BOOL("keepalive.permit_without_stream", tg_otlpexp_conf,                            \
              keepalive_permit_without_stream, "false", "ping even with no call open"),      \
  TG_KEY_ENUM("balancer_name", tg_otlpexp_conf, balancer_name, "round_robin",                \
              tg_otlpexp_balancer_values, "load balancing over resolved addresses"),         \
  TG_KEY_SIZE("read_buffer_size", tg_otlpexp_conf, read_buffer_size, "0", 0, 67108864,       \
              "bytes gRPC reads from the socket at once (0 = gRPC default)"),                \
  TG_KEY_SIZE("write_buffer_size", tg_otlpexp_conf, write_buffer_size, "0", 0, 67108864,     \
              "bytes gRPC buffers before writing to the socket (0 = gRPC default)"),         \
  TG_EXPORT_QUEUE_KEYS(tg_otlpexp_conf, retry, queue)

/* endpoint → gRPC target ("host:port") and whether to use TLS. Accepts "host:port",
 * "http://host:port" (always plaintext), "https://host:port" (always TLS), an optional
 * trailing "/", and gRPC's own target syntax passed through unchanged (TLS per
 * tls.insecure): "dns:[//authority/]host[:port]", "ipv4:addr:port[,addr:port...]",
 * "ipv6:[addr]:port[,...]", "unix:path" — several addresses give balancer_name
 * something to balance over. Returns TG_OK with *target allocated (tg_free), or TG_ECONFIG with err. */
int tg_otlpexp_parse_endpoint(const char *endpoint, bool insecure, char **target,
                              bool *use_tls, tg_errbuf *err);

/* The transport: one per instance. create does no I/O; start reads TLS files and makes
 * the channel (grpc_init is taken there and released by destroy). */
typedef struct tg_otlpexp_grpc tg_otlpexp_grpc;
struct tg_selftrace;

tg_otlpexp_grpc *tg_otlpexp_grpc_new(const tg_otlpexp_conf *conf, const char *target,
                                     bool use_tls, const char *id, struct tg_logger *log);
int tg_otlpexp_grpc_start(tg_otlpexp_grpc *g, tg_errbuf *err);
/* Before start: call `method` (a static string, e.g. Jaeger's PostSpans) instead of
 * TraceService/Export; the transport is otherwise the same (the jaeger exporter). */
void tg_otlpexp_grpc_set_method(tg_otlpexp_grpc *g, const char *method);
/* Before start: the service's self-tracer (NULL = off). Every call then carries its own
 * tailgate.export span's context as metadata (tg_selftrace_inject, lower-cased keys). */
void tg_otlpexp_grpc_set_tracer(tg_otlpexp_grpc *g, struct tg_selftrace *tracer);
void tg_otlpexp_grpc_free(tg_otlpexp_grpc *g); /* NULL ok; after the queue stopped */

/* tg_export_queue_ops bound to a tg_otlpexp_grpc (ctx). */
extern const tg_export_queue_ops tg_otlpexp_grpc_queue_ops;

/* ---- the instance half shared by otlp and jaeger (core/export/tg_grpc_instance.c) ---- */

struct tg_instance;
struct tg_diag;
struct tg_yaml_pos;

/* Why a configured metadata pair is unusable, or NULL (each exporter has its rules). */
typedef const char *(*tg_otlpexp_header_problem_fn)(const char *key, const char *value);

/* An instance's state (self->state). */
typedef struct tg_otlpexp_instance {
  tg_export_queue *queue; /* first: the shared tg_queued_exporter_* ops find it here */
  char *target;
  bool use_tls;
  tg_otlpexp_grpc *grpc;
} tg_otlpexp_instance;

/* What an exporter on this transport brings (static, borrowed for the instance's life). */
typedef struct tg_otlpexp_instance_spec {
  const char *default_id;        /* for messages when the instance has no id */
  const char *method;            /* gRPC method; NULL = TraceService/Export */
  const tg_export_queue_ops *queue_ops; /* ctx is the tg_otlpexp_grpc */
  tg_otlpexp_header_problem_fn header_problem;
  const char *start_log;         /* "<start_log> <target> (TLS|plaintext)" at start */
} tg_otlpexp_instance_spec;

/* The configuration checks: endpoint, tls.* files (readable, cert and key together) and
 * every header through problem; each finding added to diag at pos under `what`. */
void tg_otlpexp_conf_check(const tg_otlpexp_conf *c, tg_otlpexp_header_problem_fn problem,
                           const struct tg_yaml_pos *pos, const char *what,
                           struct tg_diag *diag);

/* create: validates self->conf (a tg_otlpexp_conf), allocates the state, the transport
 * and the queue; no I/O, no threads. TG_OK, or an error with err set and self->state
 * released. */
int tg_otlpexp_instance_create(struct tg_instance *self, const tg_otlpexp_instance_spec *spec,
                               tg_errbuf *err);
/* start: the channel, then the sender threads, then one info line. TG_OK or an error. */
int tg_otlpexp_instance_start(struct tg_instance *self, const tg_otlpexp_instance_spec *spec,
                              tg_errbuf *err);
/* destroy: safe after a partial create and twice; joins the senders before the
 * transport goes. */
void tg_otlpexp_instance_destroy(struct tg_instance *self);

#endif
