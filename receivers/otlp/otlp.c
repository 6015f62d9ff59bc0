/* The otlp receiver: its descriptor and lifecycle. OTLP/gRPC and OTLP/HTTP each get an
 * inbound server of their own (endpoint, body bound and TLS files from the config), so
 * the two protocols can be enabled, bound and secured independently as in the Collector.
 * Request handling lives in otlp_grpc.c / otlp_http.c over the shared ingest step in
 * otlp_ingest.c; this file only creates, starts, stops and frees.
 *
 * Ownership: the state (tg_instance.state) owns its strings and the servers until they
 * are closed; a server frees itself after its close callback, so the state only forgets
 * the pointer. Stop counts outstanding closes and reports done once the last one lands.
 * Servers closed outside stop (a failed start, destroy without stop) get a callback
 * that touches nothing, so the state may be freed before the loop runs it. */
#include "otlp.h"

#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_service.h"

#define MIB ((size_t)1024 * 1024)

static void forget_server(void *ctx) { (void)ctx; }

/* Closes every server without waiting (failed start, destroy without stop). */
static void abandon_servers(tg_otlp_receiver *recv) {
  for (int t = 0; t < TG_OTLP_TRANSPORT_COUNT_; t++) {
    if (recv->servers[t])
      tg_http_server_close(recv->servers[t], forget_server, NULL);
    recv->servers[t] = NULL;
  }
}

static char *normalise_path(const char *path) {
  if (!path || !*path)
    path = "/v1/traces";
  size_t len = strlen(path);
  char *out = tg_malloc(len + 2);
  if (!out)
    return NULL;
  int slash = path[0] != '/';
  if (slash)
    out[0] = '/';
  memcpy(out + slash, path, len + 1);
  return out;
}

static int otlp_create(tg_instance *self, tg_errbuf *err) {
  const tg_otlp_conf *conf = self->conf;
  if (!conf)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", self->id);
  const char *problem = tg_otlp_conf_problem(conf);
  if (problem)
    return tg_errf(err, TG_ECONFIG, "%s: %s", self->id, problem);
  tg_otlp_receiver *recv = tg_calloc(1, sizeof *recv);
  if (!recv)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  self->state = recv;
  recv->instance = self;
  recv->conf = conf;
  tg_idgen_seed(&recv->ids);
  recv->log = self->service ? self->service->log : NULL;
  const char *id = self->id ? self->id : "otlp";
  size_t n = strlen("receiver:") + strlen(id) + 1;
  recv->log_component = tg_malloc(n);
  if (recv->log_component)
    snprintf(recv->log_component, n, "receiver:%s", id);
  recv->traces_path = normalise_path(conf->http_traces_url_path);
  if (!recv->log_component || !recv->traces_path)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id); /* destroy cleans up */
  return TG_OK;
}

static tg_http_server *open_server(tg_otlp_receiver *recv, tg_otlp_transport t,
                                   tg_errbuf *err) {
  const tg_otlp_conf *conf = recv->conf;
  tg_instance *self = recv->instance;
  int grpc = t == TG_OTLP_GRPC;
  const tg_otlp_tls_conf *tls = grpc ? &conf->grpc_tls : &conf->http_tls;
  if (tg_auth_server_bind(&recv->auth[t], self->service,
                          grpc ? conf->grpc_authenticator : conf->http_authenticator, self->id,
                          grpc ? "grpc" : "http", recv->log_component, err) != TG_OK)
    return NULL;
  tg_http_server_options opts = {
      .endpoint = grpc ? conf->grpc_endpoint : conf->http_endpoint,
      .tls_cert_file = tls->cert_file && *tls->cert_file ? tls->cert_file : NULL,
      .tls_key_file = tls->key_file && *tls->key_file ? tls->key_file : NULL,
      .tls_client_ca_file =
          tls->client_ca_file && *tls->client_ca_file ? tls->client_ca_file : NULL,
      .tls_reload_interval_ms = tls->reload_interval_ms,
      .max_body_bytes = grpc ? (size_t)conf->grpc_max_recv_msg_size_mib * MIB
                             : (size_t)conf->http_max_request_body_size,
      .log = recv->log,
      .name = recv->log_component,
      .on_refused = grpc ? tg_otlp_on_refused_grpc : tg_otlp_on_refused_http,
      .on_refused_ctx = recv,
      .auth = tg_auth_server_http(&recv->auth[t]),
  };
  tg_http_server_conf_apply(grpc ? &conf->grpc_limits : &conf->http_limits, &opts);
  tg_http_cors cors;
  if (grpc)
    tg_grpc_server_conf_apply(&conf->grpc_net, &opts);
  else
    tg_http_server_http_conf_apply(&conf->http_net, &cors, &opts);
  tg_http_server *srv = tg_http_server_create(self->service->loop, &opts, err);
  if (!srv)
    return NULL;
  tg_http_route route = {
      .method = grpc ? "POST" : NULL, /* HTTP: the handler answers 405 itself */
      .path = grpc ? TG_OTLP_GRPC_PATH : recv->traces_path,
      .grpc = grpc,
      .handle = grpc ? tg_otlp_grpc_handle : tg_otlp_http_handle,
      .ctx = recv,
  };
  if (tg_http_server_add_route(srv, &route) != TG_OK) {
    tg_errf(err, TG_ENOMEM, "%s: cannot add route %s", self->id, route.path);
    tg_http_server_close(srv, forget_server, NULL);
    return NULL;
  }
  return srv;
}

static int otlp_start(tg_instance *self, tg_errbuf *err) {
  tg_otlp_receiver *recv = self->state;
  if (!recv || !self->service)
    return tg_errf(err, TG_EINVAL, "%s: started before create", self->id);
  if (tg_otlp_counters_init(recv, self->service->metrics, self->id) != TG_OK)
    return tg_errf(err, TG_ENOMEM, "%s: cannot register metrics", self->id);
  const _Bool enabled[TG_OTLP_TRANSPORT_COUNT_] = {recv->conf->grpc, recv->conf->http};
  for (int t = 0; t < TG_OTLP_TRANSPORT_COUNT_; t++) {
    if (!enabled[t])
      continue;
    recv->servers[t] = open_server(recv, (tg_otlp_transport)t, err);
    int rc = recv->servers[t] ? tg_http_server_start(recv->servers[t], err) : TG_EIO;
    if (rc != TG_OK) {
      abandon_servers(recv);
      return rc;
    }
    TG_LOG_INFO(recv->log, recv->log_component, "OTLP/%s listening on %s (port %d)",
                t == TG_OTLP_GRPC ? "gRPC" : "HTTP",
                t == TG_OTLP_GRPC ? recv->conf->grpc_endpoint : recv->conf->http_endpoint,
                tg_http_server_port(recv->servers[t]));
  }
  recv->started = 1;
  recv->stopping = 0;
  return TG_OK;
}

static void on_server_closed(void *ctx) {
  tg_otlp_receiver *recv = ctx;
  if (recv->closing && --recv->closing == 0 && recv->stop_done) {
    tg_stop_done_fn done = recv->stop_done;
    recv->stop_done = NULL;
    done(recv->instance);
  }
}

static void otlp_stop(tg_instance *self, tg_stop_done_fn done) {
  tg_otlp_receiver *recv = self->state;
  if (!recv) {
    done(self);
    return;
  }
  recv->stopping = 1;
  recv->started = 0;
  recv->stop_done = done;
  recv->closing = 0;
  for (int t = 0; t < TG_OTLP_TRANSPORT_COUNT_; t++)
    recv->closing += recv->servers[t] != NULL;
  if (!recv->closing) {
    recv->stop_done = NULL;
    done(self);
    return;
  }
  for (int t = 0; t < TG_OTLP_TRANSPORT_COUNT_; t++) {
    tg_http_server *srv = recv->servers[t];
    recv->servers[t] = NULL;
    if (srv)
      tg_http_server_close(srv, on_server_closed, recv);
  }
}

static void otlp_destroy(tg_instance *self) {
  tg_otlp_receiver *recv = self->state;
  if (!recv)
    return;
  abandon_servers(recv);
  tg_free(recv->log_component);
  tg_free(recv->traces_path);
  tg_free(recv);
  self->state = NULL;
}

static int otlp_ready(const tg_instance *self) {
  const tg_otlp_receiver *recv = self->state;
  return recv && recv->started && !recv->stopping;
}

const tg_component tg_receiver_otlp = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_RECEIVER,
    .type = "otlp",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_otlp_conf),
    .keys = tg_otlp_conf_keys,
    .n_keys = sizeof tg_otlp_conf_keys / sizeof tg_otlp_conf_keys[0],
    .conf_check = tg_otlp_conf_check,
    .ops =
        {
            .create = otlp_create,
            .start = otlp_start,
            .stop = otlp_stop,
            .destroy = otlp_destroy,
            .ready = otlp_ready,
        },
    .doc = "Receives traces over OTLP/gRPC (:4317) and OTLP/HTTP (:4318, protobuf and "
           "JSON).",
};
