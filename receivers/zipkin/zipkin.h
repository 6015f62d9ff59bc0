/* The zipkin receiver's internal interface: its configuration, instance state, counters
 * and the transport-independent steps (decode, ingest). Tests include it to drive the
 * handler without sockets. */
#ifndef TG_ZIPKIN_H
#define TG_ZIPKIN_H

#include <stddef.h>
#include <stdint.h>

#include "tg_auth.h"
#include "tg_component.h"
#include "tg_conf.h"
#include "tg_http_server.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_tracectx_request.h"
#include "translate/zipkin/zipkin_model.h"

extern const tg_component tg_receiver_zipkin;

#define TG_ZIPKIN_V2_PATH "/api/v2/spans"
#define TG_ZIPKIN_V1_PATH "/api/v1/spans"

/* Configuration: the Collector's zipkin receiver keys (endpoint, tls.*, auth; its
 * confighttp.ServerConfig sits at the receiver's top level) plus the body bound and the
 * connection limits of its HTTP server settings. */
typedef struct tg_zipkin_conf {
  char *endpoint; /* "0.0.0.0:9411" */
  uint64_t max_request_body_size;
  char *tls_cert_file, *tls_key_file, *tls_client_ca_file;
  uint64_t tls_reload_interval_ms; /* re-read changed TLS files; 0 = never */
  char *authenticator;             /* auth.authenticator; NULL = none */
  tg_http_server_conf limits;      /* read_header_timeout, idle_timeout, ... */
  tg_http_server_http_conf net;    /* cors.*, response_headers, compression_algorithms, ... */
} tg_zipkin_conf;

/* Request formats, in the order of the `transport` label values. */
typedef enum tg_zipkin_format {
  TG_ZIPKIN_V2_JSON,
  TG_ZIPKIN_V2_PROTO,
  TG_ZIPKIN_V1_JSON,
  TG_ZIPKIN_FORMAT_COUNT_
} tg_zipkin_format;

/* `reason` of tailgate_receiver_refused_spans_total (as the otlp receiver's). */
typedef enum tg_zipkin_refusal {
  TG_ZIPKIN_REFUSED_INVALID,
  TG_ZIPKIN_REFUSED_MALFORMED,
  TG_ZIPKIN_REFUSED_BACKPRESSURE,
  TG_ZIPKIN_REFUSED_TOO_LARGE,
  TG_ZIPKIN_REFUSED_ERROR,
  TG_ZIPKIN_REFUSAL_COUNT_
} tg_zipkin_refusal;

typedef struct tg_zipkin_counters {
  tg_metric_cell *accepted;
  tg_metric_cell *refused[TG_ZIPKIN_REFUSAL_COUNT_];
} tg_zipkin_counters;

typedef struct tg_zipkin_receiver {
  tg_instance *instance;
  const tg_zipkin_conf *conf;
  tg_logger *log;
  char *log_component; /* "receiver:<id>" */
  tg_http_server *server;
  int started, stopping;
  tg_stop_done_fn stop_done;
  tg_zipkin_counters counters[TG_ZIPKIN_FORMAT_COUNT_];
  tg_auth_server auth; /* bound at start; outlives the server */
  tg_idgen ids;        /* fresh correlation IDs; loop thread only */
} tg_zipkin_receiver;

/* Registers the series (reg may be NULL: bumps become no-ops). TG_OK or TG_ENOMEM. */
int tg_zipkin_counters_init(tg_zipkin_receiver *recv, tg_metrics *reg, const char *id);

/* Decodes a Zipkin JSON body (v1 when v1 is set, else v2: a JSON array of spans) into
 * *out, allocating only from arena (see zipkin_json.c for the rules). Returns TG_OK,
 * TG_EDECODE (err says why: printable ASCII with the span index, field and byte offset),
 * TG_ENOMEM or TG_ETOOBIG (arena limit). */
int tg_zipkin_json_decode(tg_arena *arena, int v1, const uint8_t *data, size_t len,
                          tg_zipkin_list **out, char *err, size_t err_size);

/* Decodes a request body in format f into a new OTLP batch. Returns TG_OK with *out
 * (spans with bad ids dropped, their number in *invalid), or TG_EDECODE (msg says why),
 * TG_ETOOBIG, TG_ENOMEM. */
int tg_zipkin_decode(tg_zipkin_format f, const uint8_t *body, size_t len, tg_batch **out,
                     size_t *invalid, char *msg, size_t msg_size);

/* The route handler for both paths (ctx = tg_zipkin_receiver *). */
void tg_zipkin_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);
void tg_zipkin_on_refused(void *recv, const char *reason);

#endif
