/* The zipkin receiver: descriptor, key table and lifecycle. One HTTP listener (HTTP/1.1
 * and h2c, optional TLS: core/http) with two routes, /api/v2/spans and /api/v1/spans,
 * both served by zipkin_http.c. `auth.authenticator` binds an authenticator extension
 * (tg_auth.h) that the server runs before the handler (401 + WWW-Authenticate); the
 * connection limits and tls.reload_interval are core/http's. All of these sit at the
 * receiver's top level, as in the Collector (its zipkinreceiver is a
 * confighttp.ServerConfig). Decoding is zipkin_json.c (JSON) or protobuf-c (zipkin2
 * ListOfSpans); Zipkin's mapping rules are translate/zipkin's.
 *
 * Ownership: the state owns its strings; the server frees itself after its close
 * callback, so the state only forgets the pointer. */
#include "zipkin.h"

#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_diag.h"
#include "tg_error.h"
#include "tg_service.h"

#define C tg_zipkin_conf
#define MIB (1024.0 * 1024.0)

static const tg_conf_key zipkin_keys[] = {
    TG_KEY_STRING("endpoint", C, endpoint, "0.0.0.0:9411", "host:port to listen on"),
    TG_KEY_SIZE("max_request_body_size", C, max_request_body_size, "20MiB", 1024, 1024 * MIB,
                "largest accepted request body (after decompression)"),
    TG_KEY_STRING("tls.cert_file", C, tls_cert_file, NULL,
                  "server certificate (PEM); enables TLS"),
    TG_KEY_STRING("tls.key_file", C, tls_key_file, NULL, "private key of cert_file (PEM)"),
    TG_KEY_STRING("tls.client_ca_file", C, tls_client_ca_file, NULL,
                  "CA (PEM) that client certificates must chain to (mTLS)"),
    TG_KEY_DURATION("tls.reload_interval", C, tls_reload_interval_ms, "0", 0, 86400000,
                    "re-read changed certificate, key and CA files this often"),
    TG_KEY_STRING("auth.authenticator", C, authenticator, NULL,
                  "authenticator extension every Zipkin request must pass"),
    TG_HTTP_SERVER_CONF_KEYS_AT("", C, limits),
    TG_HTTP_SERVER_HTTP_KEYS("", C, net),
};

static int is_set(const char *s) { return s && *s; }

static const char *conf_problem(const tg_zipkin_conf *c) {
  if (!is_set(c->endpoint))
    return "endpoint must not be empty";
  if (is_set(c->tls_cert_file) != is_set(c->tls_key_file) ||
      (is_set(c->tls_client_ca_file) && !is_set(c->tls_cert_file)))
    return "tls: cert_file and key_file must be set together (client_ca_file needs both)";
  return NULL;
}

static void zipkin_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                              tg_diag *diag) {
  const char *problem = conf_problem(conf);
  if (problem)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: %s", what, problem);
  char buf[256];
  if ((problem = tg_http_server_http_conf_problem(&((const tg_zipkin_conf *)conf)->net, buf,
                                                  sizeof buf)))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: %s", what, problem);
}

static void forget(void *ctx) { (void)ctx; }

static int zipkin_create(tg_instance *self, tg_errbuf *err) {
  const tg_zipkin_conf *conf = self->conf;
  const char *id = self->id ? self->id : "zipkin";
  if (!conf)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", id);
  const char *problem = conf_problem(conf);
  if (problem)
    return tg_errf(err, TG_ECONFIG, "%s: %s", id, problem);
  tg_zipkin_receiver *recv = tg_calloc(1, sizeof *recv);
  if (!recv)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = recv;
  recv->instance = self;
  recv->conf = conf;
  tg_idgen_seed(&recv->ids);
  recv->log = self->service ? self->service->log : NULL;
  size_t n = strlen("receiver:") + strlen(id) + 1;
  recv->log_component = tg_malloc(n);
  if (!recv->log_component)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  snprintf(recv->log_component, n, "receiver:%s", id);
  return TG_OK;
}

static int zipkin_start(tg_instance *self, tg_errbuf *err) {
  tg_zipkin_receiver *recv = self->state;
  if (!recv || !self->service)
    return tg_errf(err, TG_EINVAL, "%s: started before create", self->id);
  if (tg_zipkin_counters_init(recv, self->service->metrics, self->id) != TG_OK)
    return tg_errf(err, TG_ENOMEM, "%s: cannot register metrics", self->id);
  const tg_zipkin_conf *c = recv->conf;
  if (tg_auth_server_bind(&recv->auth, self->service, c->authenticator, self->id, "http",
                          recv->log_component, err) != TG_OK)
    return TG_ECONFIG;
  tg_http_server_options opts = {
      .endpoint = c->endpoint,
      .tls_cert_file = is_set(c->tls_cert_file) ? c->tls_cert_file : NULL,
      .tls_key_file = is_set(c->tls_key_file) ? c->tls_key_file : NULL,
      .tls_client_ca_file = is_set(c->tls_client_ca_file) ? c->tls_client_ca_file : NULL,
      .tls_reload_interval_ms = c->tls_reload_interval_ms,
      .max_body_bytes = (size_t)c->max_request_body_size,
      .log = recv->log,
      .name = recv->log_component,
      .on_refused = tg_zipkin_on_refused,
      .on_refused_ctx = recv,
      .auth = tg_auth_server_http(&recv->auth),
  };
  tg_http_server_conf_apply(&c->limits, &opts);
  tg_http_cors cors;
  tg_http_server_http_conf_apply(&c->net, &cors, &opts);
  tg_http_server *srv = tg_http_server_create(self->service->loop, &opts, err);
  if (!srv)
    return TG_EIO;
  static const char *const paths[] = {TG_ZIPKIN_V2_PATH, TG_ZIPKIN_V1_PATH};
  for (size_t i = 0; i < 2; i++) {
    tg_http_route route = {.method = NULL, .path = paths[i], .handle = tg_zipkin_http_handle,
                           .ctx = recv};
    if (tg_http_server_add_route(srv, &route) != TG_OK) {
      tg_http_server_close(srv, forget, NULL);
      return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
    }
  }
  if (tg_http_server_start(srv, err) != TG_OK) {
    tg_http_server_close(srv, forget, NULL);
    return TG_EIO;
  }
  recv->server = srv;
  TG_LOG_INFO(recv->log, recv->log_component, "Zipkin HTTP listening on %s (port %d)",
              c->endpoint, tg_http_server_port(srv));
  recv->started = 1;
  recv->stopping = 0;
  return TG_OK;
}

static void on_closed(void *ctx) {
  tg_zipkin_receiver *recv = ctx;
  tg_stop_done_fn done = recv->stop_done;
  recv->stop_done = NULL;
  if (done)
    done(recv->instance);
}

static void zipkin_stop(tg_instance *self, tg_stop_done_fn done) {
  tg_zipkin_receiver *recv = self->state;
  if (!recv || !recv->server) {
    if (recv)
      recv->stopping = 1, recv->started = 0;
    done(self);
    return;
  }
  recv->stopping = 1;
  recv->started = 0;
  recv->stop_done = done;
  tg_http_server *srv = recv->server;
  recv->server = NULL;
  tg_http_server_close(srv, on_closed, recv);
}

static void zipkin_destroy(tg_instance *self) {
  tg_zipkin_receiver *recv = self->state;
  if (!recv)
    return;
  if (recv->server)
    tg_http_server_close(recv->server, forget, NULL);
  tg_free(recv->log_component);
  tg_free(recv);
  self->state = NULL;
}

static int zipkin_ready(const tg_instance *self) {
  const tg_zipkin_receiver *recv = self->state;
  return recv && recv->started && !recv->stopping;
}

const tg_component tg_receiver_zipkin = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_RECEIVER,
    .type = "zipkin",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_zipkin_conf),
    .keys = zipkin_keys,
    .n_keys = sizeof zipkin_keys / sizeof zipkin_keys[0],
    .conf_check = zipkin_conf_check,
    .ops = {.create = zipkin_create,
            .start = zipkin_start,
            .stop = zipkin_stop,
            .destroy = zipkin_destroy,
            .ready = zipkin_ready},
    .doc = "Receives Zipkin spans over HTTP (:9411): POST /api/v2/spans as JSON or protobuf "
           "(ListOfSpans), POST /api/v1/spans as JSON; gzip bodies; answers 202.",
};
