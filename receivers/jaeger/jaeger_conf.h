/* Configuration of the jaeger receiver: the OpenTelemetry Collector's key names
 * (protocols.grpc, protocols.thrift_http, protocols.thrift_binary,
 * protocols.thrift_compact), filled by the config loader from the key table. */
#ifndef TG_JAEGER_CONF_H
#define TG_JAEGER_CONF_H

#include <stdint.h>

#include "tg_conf.h"
#include "tg_http_server.h"

typedef struct tg_jaeger_tls_conf {
  char *cert_file; /* PEM; NULL = plaintext */
  char *key_file;
  char *client_ca_file;
  uint64_t reload_interval_ms; /* re-read changed files; 0 = never */
} tg_jaeger_tls_conf;

/* One UDP agent protocol (thrift_compact or thrift_binary). */
typedef struct tg_jaeger_udp_conf {
  _Bool enabled;
  char *endpoint;
  int64_t queue_size;         /* datagrams waiting for a decoder */
  int64_t max_packet_size;    /* larger datagrams are dropped (counted) */
  int64_t workers;            /* decoder threads */
  uint64_t socket_buffer_size; /* SO_RCVBUF; 0 = the system's */
} tg_jaeger_udp_conf;

typedef struct tg_jaeger_conf {
  _Bool grpc;
  char *grpc_endpoint; /* "0.0.0.0:14250" */
  int64_t grpc_max_recv_msg_size_mib;
  tg_jaeger_tls_conf grpc_tls;
  char *grpc_authenticator; /* protocols.grpc.auth.authenticator; NULL = none */
  tg_http_server_conf grpc_limits; /* protocols.grpc.{read_header_timeout, ...} */
  tg_grpc_server_conf grpc_net;  /* protocols.grpc.{keepalive.*, read_buffer_size, ...} */
  _Bool thrift_http;
  char *http_endpoint; /* "0.0.0.0:14268" */
  uint64_t http_max_request_body_size;
  tg_jaeger_tls_conf http_tls;
  char *http_authenticator; /* protocols.thrift_http.auth.authenticator */
  tg_http_server_conf http_limits; /* protocols.thrift_http.{read_header_timeout, ...} */
  tg_http_server_http_conf http_net; /* protocols.thrift_http.{cors.*, ...} */
  tg_jaeger_udp_conf udp[2]; /* indexed by tg_thrift_protocol: compact, binary */
} tg_jaeger_conf;

#define TG_JAEGER_CONF_N_KEYS                                                               \
  (28 + 2 * TG_HTTP_SERVER_CONF_N_KEYS + TG_GRPC_SERVER_CONF_N_KEYS + TG_HTTP_SERVER_HTTP_N_KEYS)
extern const tg_conf_key tg_jaeger_conf_keys[TG_JAEGER_CONF_N_KEYS];

/* NULL when conf is consistent, else a static message: at least one protocol, no empty
 * endpoint, TLS cert and key together. */
const char *tg_jaeger_conf_problem(const tg_jaeger_conf *conf);

void tg_jaeger_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag);

#endif
