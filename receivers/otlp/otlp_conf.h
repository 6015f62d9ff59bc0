/* Configuration of the otlp receiver: the OpenTelemetry Collector's key names
 * (protocols.grpc.*, protocols.http.*), filled by the config loader from the key table. */
#ifndef TG_OTLP_CONF_H
#define TG_OTLP_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "tg_conf.h"
#include "tg_http_server.h"

typedef struct tg_otlp_tls_conf {
  char *cert_file;      /* PEM; NULL = plaintext */
  char *key_file;
  char *client_ca_file; /* mTLS */
  uint64_t reload_interval_ms; /* re-read changed files; 0 = never */
} tg_otlp_tls_conf;

typedef struct tg_otlp_conf {
  _Bool grpc;                    /* protocols.grpc present */
  char *grpc_endpoint;           /* "0.0.0.0:4317" */
  int64_t grpc_max_recv_msg_size_mib;
  tg_otlp_tls_conf grpc_tls;
  char *grpc_authenticator;      /* protocols.grpc.auth.authenticator; NULL = none */
  tg_http_server_conf grpc_limits; /* protocols.grpc.{read_header_timeout, ...} */
  tg_grpc_server_conf grpc_net;  /* protocols.grpc.{keepalive.*, read_buffer_size, ...} */
  _Bool http;                    /* protocols.http present */
  char *http_endpoint;           /* "0.0.0.0:4318" */
  uint64_t http_max_request_body_size;
  char *http_traces_url_path;    /* "/v1/traces" */
  tg_otlp_tls_conf http_tls;
  char *http_authenticator;      /* protocols.http.auth.authenticator; NULL = none */
  tg_http_server_conf http_limits; /* protocols.http.{read_header_timeout, ...} */
  tg_http_server_http_conf http_net; /* protocols.http.{cors.*, response_headers, ...} */
} tg_otlp_conf;

/* The key table; its length is a constant so the descriptor can use sizeof (the
 * definition's initialiser count must match, or the definition does not compile). */
#define TG_OTLP_CONF_N_KEYS                                                                 \
  (17 + 2 * TG_HTTP_SERVER_CONF_N_KEYS + TG_GRPC_SERVER_CONF_N_KEYS + TG_HTTP_SERVER_HTTP_N_KEYS)
extern const tg_conf_key tg_otlp_conf_keys[TG_OTLP_CONF_N_KEYS];

/* Cross-key checks that the table cannot express. Returns NULL when conf is consistent,
 * else a static message naming the first problem (at least one protocol; TLS files come
 * in cert+key pairs; traces_url_path not empty). */
const char *tg_otlp_conf_problem(const tg_otlp_conf *conf);

/* The descriptor's conf_check: reports tg_otlp_conf_problem() and the HTTP listener's
 * tg_http_server_http_conf_problem() into diag at node. */
void tg_otlp_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                        tg_diag *diag);

#endif
