/* The jaeger receiver: descriptor and lifecycle. Four independent transports, as the
 * Collector's jaegerreceiver: api_v2 gRPC and Thrift-over-HTTP each on an inbound server
 * of their own (jaeger_handlers.c), the two agent UDP protocols each on a socket with
 * decoder threads (jaeger_udp.c). Decoding and conversion are shared (jaeger_ingest.c,
 * jaeger_thrift.c; the conversion in translate/jaeger).
 *
 * Ownership: the state owns its strings; servers and UDP endpoints free themselves after
 * their close callbacks, so the state only forgets the pointers. stop counts the
 * outstanding closes and reports done when the last lands; closes outside stop (failed
 * start, destroy without stop) get a callback that touches nothing. */
#include "jaeger.h"

#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_service.h"
#include "tg_shared_routes.h"

#define MIB ((size_t)1024 * 1024)

static void forget(void *ctx) { (void)ctx; }

static void abandon(tg_jaeger_receiver *recv) {
  if (recv->grpc_server)
    tg_http_server_close(recv->grpc_server, forget, NULL);
  if (recv->http_server)
    tg_http_server_close(recv->http_server, forget, NULL);
  for (int i = 0; i < 2; i++)
    if (recv->udp[i])
      tg_jaeger_udp_close(recv->udp[i], 0, forget, NULL);
  recv->grpc_server = recv->http_server = NULL;
  recv->udp[0] = recv->udp[1] = NULL;
}

static int jaeger_create(tg_instance *self, tg_errbuf *err) {
  const tg_jaeger_conf *conf = self->conf;
  if (!conf)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", self->id);
  const char *problem = tg_jaeger_conf_problem(conf);
  if (problem)
    return tg_errf(err, TG_ECONFIG, "%s: %s", self->id, problem);
  tg_jaeger_receiver *recv = tg_calloc(1, sizeof *recv);
  if (!recv)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  self->state = recv;
  recv->instance = self;
  recv->conf = conf;
  tg_idgen_seed(&recv->ids);
  recv->log = self->service ? self->service->log : NULL;
  const char *id = self->id ? self->id : "jaeger";
  size_t n = strlen("receiver:") + strlen(id) + 1;
  recv->log_component = tg_malloc(n);
  if (!recv->log_component)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  snprintf(recv->log_component, n, "receiver:%s", id);
  /* Its gRPC listener also carries services other components offer for the same endpoint
   * (the jaegerremotesampling extension's SamplingManager, as on a Jaeger collector). */
  if (conf->grpc && self->service &&
      tg_service_host_routes(self->service, conf->grpc_endpoint, id) != TG_OK)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  return TG_OK;
}

static tg_http_server *open_server(tg_jaeger_receiver *recv, int grpc, tg_errbuf *err) {
  const tg_jaeger_conf *c = recv->conf;
  const tg_jaeger_tls_conf *tls = grpc ? &c->grpc_tls : &c->http_tls;
  tg_auth_server *auth = grpc ? &recv->grpc_auth : &recv->http_auth;
  if (tg_auth_server_bind(auth, recv->instance->service,
                          grpc ? c->grpc_authenticator : c->http_authenticator,
                          recv->instance->id, grpc ? "grpc" : "thrift_http",
                          recv->log_component, err) != TG_OK)
    return NULL;
  tg_http_server_options opts = {
      .endpoint = grpc ? c->grpc_endpoint : c->http_endpoint,
      .tls_cert_file = tls->cert_file && *tls->cert_file ? tls->cert_file : NULL,
      .tls_key_file = tls->key_file && *tls->key_file ? tls->key_file : NULL,
      .tls_client_ca_file =
          tls->client_ca_file && *tls->client_ca_file ? tls->client_ca_file : NULL,
      .tls_reload_interval_ms = tls->reload_interval_ms,
      .max_body_bytes = grpc ? (size_t)c->grpc_max_recv_msg_size_mib * MIB
                             : (size_t)c->http_max_request_body_size,
      .log = recv->log,
      .name = recv->log_component,
      .on_refused = grpc ? tg_jaeger_on_refused_grpc : tg_jaeger_on_refused_http,
      .on_refused_ctx = recv,
      .auth = tg_auth_server_http(auth),
  };
  tg_http_server_conf_apply(grpc ? &c->grpc_limits : &c->http_limits, &opts);
  tg_http_cors cors;
  if (grpc)
    tg_grpc_server_conf_apply(&c->grpc_net, &opts);
  else
    tg_http_server_http_conf_apply(&c->http_net, &cors, &opts);
  tg_http_server *srv = tg_http_server_create(recv->instance->service->loop, &opts, err);
  if (!srv)
    return NULL;
  tg_http_route route = {
      .method = grpc ? "POST" : NULL,
      .path = grpc ? TG_JAEGER_GRPC_PATH : TG_JAEGER_HTTP_PATH,
      .grpc = grpc,
      .handle = grpc ? tg_jaeger_grpc_handle : tg_jaeger_http_handle,
      .ctx = recv,
  };
  if (tg_http_server_add_route(srv, &route) != TG_OK ||
      (grpc && tg_service_add_offered_routes(recv->instance->service, c->grpc_endpoint, srv) < 0) ||
      tg_http_server_start(srv, err) != TG_OK) {
    tg_http_server_close(srv, forget, NULL);
    return NULL;
  }
  return srv;
}

static int jaeger_start(tg_instance *self, tg_errbuf *err) {
  tg_jaeger_receiver *recv = self->state;
  if (!recv || !self->service)
    return tg_errf(err, TG_EINVAL, "%s: started before create", self->id);
  if (tg_jaeger_counters_init(recv, self->service->metrics, self->id) != TG_OK)
    return tg_errf(err, TG_ENOMEM, "%s: cannot register metrics", self->id);
  const tg_jaeger_conf *c = recv->conf;
  if (c->grpc) {
    if (!(recv->grpc_server = open_server(recv, 1, err)))
      goto fail;
    TG_LOG_INFO(recv->log, recv->log_component, "Jaeger api_v2 gRPC listening on %s (port %d)",
                c->grpc_endpoint, tg_http_server_port(recv->grpc_server));
  }
  if (c->thrift_http) {
    if (!(recv->http_server = open_server(recv, 0, err)))
      goto fail;
    TG_LOG_INFO(recv->log, recv->log_component, "Jaeger Thrift HTTP listening on %s (port %d)",
                c->http_endpoint, tg_http_server_port(recv->http_server));
  }
  for (int p = 0; p < 2; p++) {
    if (!c->udp[p].enabled)
      continue;
    recv->udp[p] = tg_jaeger_udp_new(recv, (tg_thrift_protocol)p);
    if (!recv->udp[p]) {
      tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
      goto fail;
    }
    if (tg_jaeger_udp_start(recv->udp[p], err) != TG_OK)
      goto fail;
    TG_LOG_INFO(recv->log, recv->log_component, "Jaeger agent Thrift %s (UDP) on %s (port %d)",
                p == TG_THRIFT_COMPACT ? "compact" : "binary", c->udp[p].endpoint,
                tg_jaeger_udp_port(recv->udp[p]));
  }
  recv->started = 1;
  recv->stopping = 0;
  return TG_OK;
fail:
  abandon(recv);
  return TG_EIO;
}

static void on_closed(void *ctx) {
  tg_jaeger_receiver *recv = ctx;
  if (recv->closing && --recv->closing == 0 && recv->stop_done) {
    tg_stop_done_fn done = recv->stop_done;
    recv->stop_done = NULL;
    done(recv->instance);
  }
}

static void jaeger_stop(tg_instance *self, tg_stop_done_fn done) {
  tg_jaeger_receiver *recv = self->state;
  if (!recv) {
    done(self);
    return;
  }
  recv->stopping = 1;
  recv->started = 0;
  recv->closing = (recv->grpc_server != NULL) + (recv->http_server != NULL) +
                  (recv->udp[0] != NULL) + (recv->udp[1] != NULL);
  if (!recv->closing) {
    done(self);
    return;
  }
  recv->stop_done = done;
  tg_http_server *g = recv->grpc_server, *h = recv->http_server;
  tg_jaeger_udp *u0 = recv->udp[0], *u1 = recv->udp[1];
  recv->grpc_server = recv->http_server = NULL;
  recv->udp[0] = recv->udp[1] = NULL;
  if (g)
    tg_http_server_close(g, on_closed, recv);
  if (h)
    tg_http_server_close(h, on_closed, recv);
  if (u0)
    tg_jaeger_udp_close(u0, 1, on_closed, recv);
  if (u1)
    tg_jaeger_udp_close(u1, 1, on_closed, recv);
}

static void jaeger_destroy(tg_instance *self) {
  tg_jaeger_receiver *recv = self->state;
  if (!recv)
    return;
  abandon(recv);
  if (self->service && recv->conf->grpc)
    tg_service_unhost_routes(self->service, self->id ? self->id : "jaeger");
  tg_free(recv->log_component);
  tg_free(recv);
  self->state = NULL;
}

static int jaeger_ready(const tg_instance *self) {
  const tg_jaeger_receiver *recv = self->state;
  return recv && recv->started && !recv->stopping;
}

const tg_component tg_receiver_jaeger = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_RECEIVER,
    .type = "jaeger",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(tg_jaeger_conf),
    .keys = tg_jaeger_conf_keys,
    .n_keys = sizeof tg_jaeger_conf_keys / sizeof tg_jaeger_conf_keys[0],
    .conf_check = tg_jaeger_conf_check,
    .ops = {.create = jaeger_create,
            .start = jaeger_start,
            .stop = jaeger_stop,
            .destroy = jaeger_destroy,
            .ready = jaeger_ready},
    .doc = "Receives Jaeger spans: api_v2 gRPC (:14250), Thrift over HTTP (:14268 "
           "/api/traces), agent Thrift compact (:6831/udp) and binary (:6832/udp).",
};
