/* The otlp receiver's key table. Key names, defaults and meanings follow the
 * OpenTelemetry Collector's otlpreceiver so that a Collector config loads unchanged; the
 * table only adds bounds (a message size of 0 or of gigabytes is a mistake, not a
 * choice). The loader owns parsing; this file owns the names and the cross-key rules. */
#include "otlp_conf.h"

#include <string.h>

#include "tg_diag.h"

#define C tg_otlp_conf
#define MIB (1024.0 * 1024.0)

const tg_conf_key tg_otlp_conf_keys[] = {
    TG_KEY_PRESENT("protocols.grpc", C, grpc, "enable OTLP/gRPC"),
    TG_KEY_STRING("protocols.grpc.endpoint", C, grpc_endpoint, "0.0.0.0:4317",
                  "host:port to listen on for OTLP/gRPC"),
    TG_KEY_INT("protocols.grpc.max_recv_msg_size_mib", C, grpc_max_recv_msg_size_mib, "4",
               1, 1024, "largest accepted gRPC message (after decompression), in MiB"),
    TG_KEY_STRING("protocols.grpc.tls.cert_file", C, grpc_tls.cert_file, NULL,
                  "server certificate (PEM); enables TLS"),
    TG_KEY_STRING("protocols.grpc.tls.key_file", C, grpc_tls.key_file, NULL,
                  "private key of cert_file (PEM)"),
    TG_KEY_STRING("protocols.grpc.tls.client_ca_file", C, grpc_tls.client_ca_file, NULL,
                  "CA (PEM) that client certificates must chain to (mTLS)"),
    TG_KEY_DURATION("protocols.grpc.tls.reload_interval", C, grpc_tls.reload_interval_ms, "0", 0,
                    86400000, "re-read changed certificate, key and CA files this often"),
    TG_KEY_STRING("protocols.grpc.auth.authenticator", C, grpc_authenticator, NULL,
                  "authenticator extension every OTLP/gRPC request must pass"),
    TG_KEY_PRESENT("protocols.http", C, http, "enable OTLP/HTTP"),
    TG_KEY_STRING("protocols.http.endpoint", C, http_endpoint, "0.0.0.0:4318",
                  "host:port to listen on for OTLP/HTTP"),
    TG_KEY_SIZE("protocols.http.max_request_body_size", C, http_max_request_body_size,
                "20MiB", 1024, 1024 * MIB,
                "largest accepted request body (after decompression)"),
    TG_KEY_STRING("protocols.http.traces_url_path", C, http_traces_url_path, "/v1/traces",
                  "URL path that accepts trace exports"),
    TG_KEY_STRING("protocols.http.tls.cert_file", C, http_tls.cert_file, NULL,
                  "server certificate (PEM); enables TLS"),
    TG_KEY_STRING("protocols.http.tls.key_file", C, http_tls.key_file, NULL,
                  "private key of cert_file (PEM)"),
    TG_KEY_STRING("protocols.http.tls.client_ca_file", C, http_tls.client_ca_file, NULL,
                  "CA (PEM) that client certificates must chain to (mTLS)"),
    TG_KEY_DURATION("protocols.http.tls.reload_interval", C, http_tls.reload_interval_ms, "0", 0,
                    86400000, "re-read changed certificate, key and CA files this often"),
    TG_KEY_STRING("protocols.http.auth.authenticator", C, http_authenticator, NULL,
                  "authenticator extension every OTLP/HTTP request must pass"),
    TG_HTTP_SERVER_CONF_KEYS("protocols.grpc", C, grpc_limits),
    TG_HTTP_SERVER_CONF_KEYS("protocols.http", C, http_limits),
    TG_GRPC_SERVER_CONF_KEYS("protocols.grpc", C, grpc_net),
    TG_HTTP_SERVER_HTTP_KEYS("protocols.http.", C, http_net),
};


static int is_set(const char *s) { return s && *s; }

static const char *tls_problem(const tg_otlp_tls_conf *tls, const char *both_msg,
                               const char *ca_msg) {
  if (is_set(tls->cert_file) != is_set(tls->key_file))
    return both_msg;
  if (is_set(tls->client_ca_file) && !is_set(tls->cert_file))
    return ca_msg;
  return NULL;
}

const char *tg_otlp_conf_problem(const tg_otlp_conf *conf) {
  if (!conf->grpc && !conf->http)
    return "must specify at least one protocol (protocols.grpc or protocols.http) when "
           "using the otlp receiver";
  const char *p = NULL;
  if (conf->grpc) {
    if (!is_set(conf->grpc_endpoint))
      return "protocols.grpc.endpoint must not be empty";
    p = tls_problem(&conf->grpc_tls,
                    "protocols.grpc.tls: cert_file and key_file must be set together",
                    "protocols.grpc.tls.client_ca_file needs cert_file and key_file");
    if (p)
      return p;
  }
  if (conf->http) {
    if (!is_set(conf->http_endpoint))
      return "protocols.http.endpoint must not be empty";
    if (!is_set(conf->http_traces_url_path))
      return "protocols.http.traces_url_path must not be empty";
    p = tls_problem(&conf->http_tls,
                    "protocols.http.tls: cert_file and key_file must be set together",
                    "protocols.http.tls.client_ca_file needs cert_file and key_file");
  }
  return p;
}

void tg_otlp_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                        tg_diag *diag) {
  const tg_otlp_conf *c = conf;
  const char *problem = tg_otlp_conf_problem(c);
  if (problem)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: %s", what, problem);
  char buf[256];
  if (c->http && (problem = tg_http_server_http_conf_problem(&c->http_net, buf, sizeof buf)))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: protocols.http.%s", what, problem);
}
