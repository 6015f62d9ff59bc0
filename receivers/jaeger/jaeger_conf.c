/* The jaeger receiver's key table: the Collector's jaegerreceiver names and defaults
 * (protocols.grpc / thrift_http / thrift_binary / thrift_compact, and for the UDP ones
 * queue_size, max_packet_size, workers, socket_buffer_size), so a Collector config
 * loads unchanged. Bounds are ours: a datagram cannot exceed 65,000 bytes (Jaeger's
 * UDP limit), and the queue and thread counts must stay finite. */
#include "jaeger_conf.h"

#include "tg_diag.h"

#define C tg_jaeger_conf
#define MIB (1024.0 * 1024.0)

#define UDP_KEYS(pname, idx, dflt)                                                   \
  TG_KEY_PRESENT("protocols." pname, C, udp[idx].enabled, "enable Jaeger agent " pname " (UDP)"), \
  TG_KEY_STRING("protocols." pname ".endpoint", C, udp[idx].endpoint, dflt,         \
                "host:port to listen on (UDP)"),                                       \
  TG_KEY_INT("protocols." pname ".queue_size", C, udp[idx].queue_size, "1000", 1,      \
             1000000, "datagrams waiting for a decoder before new ones are dropped"),  \
  TG_KEY_INT("protocols." pname ".max_packet_size", C, udp[idx].max_packet_size,       \
             "65000", 512, 65000, "largest datagram accepted, in bytes"),              \
  TG_KEY_INT("protocols." pname ".workers", C, udp[idx].workers, "2", 1, 64,           \
             "decoder threads"),                                                       \
  TG_KEY_SIZE("protocols." pname ".socket_buffer_size", C, udp[idx].socket_buffer_size, \
              "0", 0, 256 * MIB, "socket receive buffer (0 = the system default)")

const tg_conf_key tg_jaeger_conf_keys[] = {
    TG_KEY_PRESENT("protocols.grpc", C, grpc, "enable Jaeger api_v2 gRPC"),
    TG_KEY_STRING("protocols.grpc.endpoint", C, grpc_endpoint, "0.0.0.0:14250",
                  "host:port to listen on for api_v2 gRPC"),
    TG_KEY_INT("protocols.grpc.max_recv_msg_size_mib", C, grpc_max_recv_msg_size_mib, "4",
               1, 1024, "largest accepted gRPC message (after decompression), in MiB"),
    TG_KEY_STRING("protocols.grpc.tls.cert_file", C, grpc_tls.cert_file, NULL,
                  "server certificate (PEM); enables TLS"),
    TG_KEY_STRING("protocols.grpc.tls.key_file", C, grpc_tls.key_file, NULL,
                  "private key of cert_file (PEM)"),
    TG_KEY_STRING("protocols.grpc.tls.client_ca_file", C, grpc_tls.client_ca_file, NULL,
                  "CA (PEM) that client certificates must chain to (mTLS)"),
    TG_KEY_DURATION("protocols.grpc.tls.reload_interval", C, grpc_tls.reload_interval_ms, "0",
                    0, 86400000, "re-read changed certificate, key and CA files this often"),
    TG_KEY_STRING("protocols.grpc.auth.authenticator", C, grpc_authenticator, NULL,
                  "authenticator extension every api_v2 gRPC request must pass"),
    TG_KEY_PRESENT("protocols.thrift_http", C, thrift_http,
                   "enable Thrift over HTTP (POST /api/traces)"),
    TG_KEY_STRING("protocols.thrift_http.endpoint", C, http_endpoint, "0.0.0.0:14268",
                  "host:port to listen on for Thrift over HTTP"),
    TG_KEY_SIZE("protocols.thrift_http.max_request_body_size", C,
                http_max_request_body_size, "20MiB", 1024, 1024 * MIB,
                "largest accepted request body (after decompression)"),
    TG_KEY_STRING("protocols.thrift_http.tls.cert_file", C, http_tls.cert_file, NULL,
                  "server certificate (PEM); enables TLS"),
    TG_KEY_STRING("protocols.thrift_http.tls.key_file", C, http_tls.key_file, NULL,
                  "private key of cert_file (PEM)"),
    TG_KEY_STRING("protocols.thrift_http.tls.client_ca_file", C, http_tls.client_ca_file,
                  NULL, "CA (PEM) that client certificates must chain to (mTLS)"),
    TG_KEY_DURATION("protocols.thrift_http.tls.reload_interval", C, http_tls.reload_interval_ms, "0",
                    0, 86400000, "re-read changed certificate, key and CA files this often"),
    TG_KEY_STRING("protocols.thrift_http.auth.authenticator", C, http_authenticator, NULL,
                  "authenticator extension every Thrift HTTP request must pass"),
    UDP_KEYS("thrift_compact", 0, "0.0.0.0:6831"),
    UDP_KEYS("thrift_binary", 1, "0.0.0.0:6832"),
    TG_HTTP_SERVER_CONF_KEYS("protocols.grpc", C, grpc_limits),
    TG_HTTP_SERVER_CONF_KEYS("protocols.thrift_http", C, http_limits),
    TG_GRPC_SERVER_CONF_KEYS("protocols.grpc", C, grpc_net),
    TG_HTTP_SERVER_HTTP_KEYS("protocols.thrift_http.", C, http_net),
};

static int is_set(const char *s) { return s && *s; }

static const char *tls_problem(const tg_jaeger_tls_conf *t, const char *msg) {
  if (is_set(t->cert_file) != is_set(t->key_file) ||
      (is_set(t->client_ca_file) && !is_set(t->cert_file)))
    return msg;
  return NULL;
}

const char *tg_jaeger_conf_problem(const tg_jaeger_conf *c) {
  if (!c->grpc && !c->thrift_http && !c->udp[0].enabled && !c->udp[1].enabled)
    return "must specify at least one protocol (grpc, thrift_http, thrift_binary or "
           "thrift_compact) when using the jaeger receiver";
  if (c->grpc && !is_set(c->grpc_endpoint))
    return "protocols.grpc.endpoint must not be empty";
  if (c->thrift_http && !is_set(c->http_endpoint))
    return "protocols.thrift_http.endpoint must not be empty";
  if (c->udp[0].enabled && !is_set(c->udp[0].endpoint))
    return "protocols.thrift_compact.endpoint must not be empty";
  if (c->udp[1].enabled && !is_set(c->udp[1].endpoint))
    return "protocols.thrift_binary.endpoint must not be empty";
  const char *p = c->grpc ? tls_problem(&c->grpc_tls,
                                        "protocols.grpc.tls: cert_file and key_file must be "
                                        "set together (client_ca_file needs both)")
                          : NULL;
  if (!p && c->thrift_http)
    p = tls_problem(&c->http_tls, "protocols.thrift_http.tls: cert_file and key_file must "
                                  "be set together (client_ca_file needs both)");
  return p;
}

void tg_jaeger_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag) {
  const tg_jaeger_conf *c = conf;
  const char *problem = tg_jaeger_conf_problem(c);
  if (problem)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: %s", what, problem);
  char buf[256];
  if (c->thrift_http &&
      (problem = tg_http_server_http_conf_problem(&c->http_net, buf, sizeof buf)))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: protocols.thrift_http.%s", what, problem);
}
