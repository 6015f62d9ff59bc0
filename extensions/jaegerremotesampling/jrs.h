/* The jaegerremotesampling extension's internal interface: config, instance state and
 * the request handlers shared by its files. Tests include it to drive the handlers
 * without sockets. */
#ifndef TG_JRS_H
#define TG_JRS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "jrs_strategies.h"
#include "tg_component.h"
#include "tg_http_server.h"
#include "tg_log.h"
#include "tg_metrics.h"

extern const tg_component tg_extension_jaegerremotesampling;

#define TG_JRS_GRPC_PATH "/jaeger.api_v2.SamplingManager/GetSamplingStrategy"
/* Distinct service names counted under their own label; later ones count as "_other". */
#define TG_JRS_MAX_SERVICE_SERIES 100

typedef struct tg_jrs_conf {
  char *file;                  /* source.file; NULL: probabilistic 1.0 for everyone */
  uint64_t reload_interval_ms; /* source.reload_interval; 0: read once */
  bool http, grpc;             /* sections present (neither: both, as the Collector) */
  char *http_endpoint;
  char *grpc_endpoint;
} tg_jrs_conf;

#define TG_JRS_N_KEYS 6
extern const tg_conf_key tg_jrs_conf_keys[TG_JRS_N_KEYS];
void tg_jrs_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                       tg_diag *diag);

typedef enum tg_jrs_transport { TG_JRS_HTTP, TG_JRS_GRPC, TG_JRS_TRANSPORT_COUNT_ } tg_jrs_transport;

typedef struct tg_jrs_service_series {
  char *name;
  tg_metric_cell *requests[TG_JRS_TRANSPORT_COUNT_];
} tg_jrs_service_series;

typedef struct tg_jrs {
  tg_instance *instance;
  const tg_jrs_conf *conf;
  tg_logger *log;
  char *log_component;              /* "extension:jaegerremotesampling" */
  tg_jrs_strategies *strategies;    /* current; replaced whole on reload (loop thread) */
  int serve_http, serve_grpc;
  tg_http_server *http_server;      /* own listeners (NULL when not open) */
  tg_http_server *grpc_server;
  const char *grpc_host;            /* id of the receiver whose listener carries gRPC */
  uv_timer_t *reload_timer;         /* freed in its close callback */
  int reload_failing;               /* the last reload failed (logged once per streak) */
  int tail_sampling;                /* a tail_sampling processor runs in this service */
  /* metrics */
  tg_metric_family *requests_family;
  tg_jrs_service_series series[TG_JRS_MAX_SERVICE_SERIES];
  size_t n_series;
  tg_metric_cell *other_requests[TG_JRS_TRANSPORT_COUNT_];
  tg_metric_cell *bad_requests[TG_JRS_TRANSPORT_COUNT_];
  tg_metric_cell *reloads, *reload_failures;
  /* stop */
  int closing;
  tg_stop_done_fn stop_done;
} tg_jrs;

/* Handlers (jrs_handlers.c); ctx is the tg_jrs. */
void tg_jrs_http_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);
void tg_jrs_grpc_handle(void *ctx, const tg_http_request *req, tg_http_response *resp);

/* Extracts the one `service` parameter of a query string, percent-decoded ('+' is a
 * space), into out (NUL-terminated). Returns its length, or -1 with *why set when it is
 * missing, repeated, empty, longer than TG_JRS_MAX_SERVICE_LEN, badly encoded or not
 * UTF-8. */
long tg_jrs_query_service(const char *query, char out[TG_JRS_MAX_SERVICE_LEN + 1],
                          const char **why);

/* Registers the metric families (start). TG_OK or TG_ENOMEM. */
int tg_jrs_metrics_init(tg_jrs *jrs, tg_metrics *reg, const char *id);
void tg_jrs_metrics_free(tg_jrs *jrs);

#endif
