/* The jaegerremotesampling extension: descriptor and lifecycle. It serves Jaeger
 * sampling strategies to clients that sample at the source (jaeger-client's default
 * remote sampler, @opentelemetry/sampler-jaeger-remote, the Go and Java clients), so they
 * send what the tail sampler behind should see: with no strategies file, everything.
 *
 * Listeners: HTTP on its own server (:5778, the Jaeger agent's port); gRPC on its own
 * server, or — when the jaeger receiver's grpc endpoint is the same, as on a Jaeger
 * collector's :14250 — as an extra route on the receiver's listener
 * (core/tg_shared_routes.h: the receiver declared the endpoint at create, we offer the
 * route at start, it adds the route before it starts; extensions stop after receivers,
 * so our state outlives that listener).
 *
 * Reload: a uv timer re-reads the file every source.reload_interval on the loop thread
 * (a few KiB, capped at TG_JRS_MAX_FILE_BYTES). A valid file replaces the strategies
 * whole (handlers run on the same thread, so no lock); a broken one keeps the last good
 * strategies, is logged once per failing streak and counted every time.
 *
 * Ownership: the state owns its strategies, strings and series names; servers free
 * themselves after their close callbacks, the timer's memory is freed in its own. */
#include "jrs.h"

#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_service.h"
#include "tg_shared_routes.h"

static void forget(void *ctx) { (void)ctx; }
static void free_timer(uv_handle_t *h) { tg_free(h); }

/* Closes whatever is open without reporting (failed start, destroy without stop). */
static void abandon(tg_jrs *jrs) {
  if (jrs->http_server)
    tg_http_server_close(jrs->http_server, forget, NULL);
  if (jrs->grpc_server)
    tg_http_server_close(jrs->grpc_server, forget, NULL);
  if (jrs->reload_timer)
    uv_close((uv_handle_t *)jrs->reload_timer, free_timer);
  jrs->http_server = jrs->grpc_server = NULL;
  jrs->reload_timer = NULL;
}

/* Loads conf->file, or the built-in default without one; the first problem in err. */
static tg_jrs_strategies *load(const tg_jrs_conf *conf, tg_errbuf *err, size_t *problems) {
  if (!conf->file) {
    tg_jrs_strategies *s = tg_jrs_strategies_default();
    if (!s)
      tg_errf(err, TG_ENOMEM, "out of memory");
    return s;
  }
  tg_diag diag;
  tg_diag_init(&diag);
  tg_jrs_strategies *s = tg_jrs_strategies_load(conf->file, &diag);
  if (!s)
    tg_errf(err, TG_ECONFIG, "%s", diag.n ? diag.lines[0] : "cannot load the strategies file");
  if (problems)
    *problems = tg_diag_count(&diag);
  tg_diag_free(&diag);
  return s;
}

static int jrs_create(tg_instance *self, tg_errbuf *err) {
  const tg_jrs_conf *conf = self->conf;
  if (!conf)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", self->id);
  tg_jrs *jrs = tg_calloc(1, sizeof *jrs);
  if (!jrs)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  self->state = jrs;
  jrs->instance = self;
  jrs->conf = conf;
  jrs->log = self->service ? self->service->log : NULL;
  jrs->serve_http = conf->http || !conf->grpc;
  jrs->serve_grpc = conf->grpc || !conf->http;
  const char *id = self->id ? self->id : "jaegerremotesampling";
  size_t n = strlen("extension:") + strlen(id) + 1;
  if (!(jrs->log_component = tg_malloc(n)))
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  snprintf(jrs->log_component, n, "extension:%s", id);
  tg_errbuf detail = {{0}};
  if (!(jrs->strategies = load(conf, &detail, NULL)))
    return tg_errf(err, TG_ECONFIG, "%s", detail.msg);
  return TG_OK;
}

static void warn_if_lowering(tg_jrs *jrs, const tg_jrs_strategies *previous) {
  if (!jrs->tail_sampling || !jrs->strategies->lowers[0] || (previous && previous->lowers[0]))
    return;
  TG_LOG_WARN(jrs->log, jrs->log_component,
              "strategies file %s lowers head sampling (%s) while tail_sampling is "
              "configured: traces the clients drop never reach the tail sampler, so their "
              "errors and slow spans cannot be kept",
              jrs->conf->file, jrs->strategies->lowers);
}

static void on_reload(uv_timer_t *timer) {
  tg_jrs *jrs = timer->data;
  tg_errbuf err = {{0}};
  size_t problems = 0;
  tg_jrs_strategies *s = load(jrs->conf, &err, &problems);
  if (!s) {
    tg_metric_add(jrs->reload_failures, 1);
    if (!jrs->reload_failing)
      TG_LOG_ERROR(jrs->log, jrs->log_component, "TG_ECONFIG",
                   "strategies file not reloaded, the last good strategies stay: %s%s",
                   err.msg, problems > 1 ? " (and more problems)" : "");
    jrs->reload_failing = 1;
    return;
  }
  tg_metric_add(jrs->reloads, 1);
  if (jrs->reload_failing)
    TG_LOG_INFO(jrs->log, jrs->log_component, "strategies file %s is valid again",
                jrs->conf->file);
  jrs->reload_failing = 0;
  if (s->digest == jrs->strategies->digest) {
    tg_jrs_strategies_free(s);
    return;
  }
  tg_jrs_strategies *previous = jrs->strategies;
  jrs->strategies = s;
  TG_LOG_INFO(jrs->log, jrs->log_component, "strategies reloaded from %s (%zu services)",
              jrs->conf->file, s->n_services);
  warn_if_lowering(jrs, previous);
  tg_jrs_strategies_free(previous);
}

static tg_http_server *open_server(tg_jrs *jrs, int grpc, tg_errbuf *err) {
  const tg_jrs_conf *c = jrs->conf;
  tg_http_server_options opts = {
      .endpoint = grpc ? c->grpc_endpoint : c->http_endpoint,
      .max_body_bytes = 4096,
      .max_connections = 1024,
      .log = jrs->log,
      .name = jrs->log_component,
  };
  tg_http_server *srv = tg_http_server_create(jrs->instance->service->loop, &opts, err);
  if (!srv)
    return NULL;
  tg_http_route routes[] = {
      {"GET", "/sampling", 0, tg_jrs_http_handle, jrs},
      {"GET", "/", 0, tg_jrs_http_handle, jrs},
  };
  tg_http_route grpc_route = {"POST", TG_JRS_GRPC_PATH, 1, tg_jrs_grpc_handle, jrs};
  int rc = TG_OK;
  if (grpc)
    rc = tg_http_server_add_route(srv, &grpc_route);
  else
    for (size_t i = 0; rc == TG_OK && i < 2; i++)
      rc = tg_http_server_add_route(srv, &routes[i]);
  if (rc != TG_OK || tg_http_server_start(srv, err) != TG_OK) {
    if (rc != TG_OK)
      tg_errf(err, rc, "cannot add routes");
    tg_http_server_close(srv, forget, NULL);
    return NULL;
  }
  return srv;
}

static int jrs_start(tg_instance *self, tg_errbuf *err) {
  tg_jrs *jrs = self->state;
  tg_service *svc = self->service;
  if (!jrs || !svc)
    return tg_errf(err, TG_EINVAL, "%s: started before create", self->id);
  if (tg_jrs_metrics_init(jrs, svc->metrics, self->id) != TG_OK)
    return tg_errf(err, TG_ENOMEM, "%s: cannot register metrics", self->id);
  for (size_t i = 0; tg_service_instance(svc, i); i++) {
    const tg_instance *inst = tg_service_instance(svc, i);
    if (inst->component->kind == TG_PROCESSOR && !strcmp(inst->component->type, "tail_sampling"))
      jrs->tail_sampling = 1;
  }
  warn_if_lowering(jrs, NULL);
  const tg_jrs_conf *c = jrs->conf;
  if (jrs->serve_http) {
    if (!(jrs->http_server = open_server(jrs, 0, err)))
      goto fail;
    TG_LOG_INFO(jrs->log, jrs->log_component,
                "Jaeger sampling strategies over HTTP on %s (port %d): GET /sampling?service=",
                c->http_endpoint, tg_http_server_port(jrs->http_server));
  }
  if (jrs->serve_grpc) {
    tg_http_route route = {"POST", TG_JRS_GRPC_PATH, 1, tg_jrs_grpc_handle, jrs};
    int shared = tg_service_offer_route(svc, c->grpc_endpoint, &route, &jrs->grpc_host);
    if (shared < 0) {
      tg_errf(err, TG_ENOMEM, "out of memory");
      goto fail;
    }
    if (shared) {
      TG_LOG_INFO(jrs->log, jrs->log_component,
                  "Jaeger SamplingManager gRPC on the listener of receiver %s (%s)",
                  jrs->grpc_host, c->grpc_endpoint);
    } else {
      if (!(jrs->grpc_server = open_server(jrs, 1, err)))
        goto fail;
      TG_LOG_INFO(jrs->log, jrs->log_component,
                  "Jaeger SamplingManager gRPC on %s (port %d)", c->grpc_endpoint,
                  tg_http_server_port(jrs->grpc_server));
    }
  }
  if (c->file && c->reload_interval_ms) {
    if (!(jrs->reload_timer = tg_malloc(sizeof *jrs->reload_timer))) {
      tg_errf(err, TG_ENOMEM, "out of memory");
      goto fail;
    }
    uv_timer_init(svc->loop, jrs->reload_timer);
    jrs->reload_timer->data = jrs;
    uv_timer_start(jrs->reload_timer, on_reload, c->reload_interval_ms, c->reload_interval_ms);
    uv_unref((uv_handle_t *)jrs->reload_timer);
  }
  return TG_OK;
fail:
  abandon(jrs);
  return TG_EIO;
}

static void on_closed(void *ctx) {
  tg_jrs *jrs = ctx;
  if (jrs->closing && --jrs->closing == 0 && jrs->stop_done) {
    tg_stop_done_fn done = jrs->stop_done;
    jrs->stop_done = NULL;
    done(jrs->instance);
  }
}

static void on_timer_closed(uv_handle_t *h) {
  tg_jrs *jrs = h->data;
  tg_free(h);
  on_closed(jrs);
}

static void jrs_stop(tg_instance *self, tg_stop_done_fn done) {
  tg_jrs *jrs = self->state;
  if (!jrs) {
    done(self);
    return;
  }
  jrs->closing = (jrs->http_server != NULL) + (jrs->grpc_server != NULL) +
                 (jrs->reload_timer != NULL);
  if (!jrs->closing) {
    done(self);
    return;
  }
  jrs->stop_done = done;
  tg_http_server *h = jrs->http_server, *g = jrs->grpc_server;
  uv_timer_t *t = jrs->reload_timer;
  jrs->http_server = jrs->grpc_server = NULL;
  jrs->reload_timer = NULL;
  if (t)
    uv_close((uv_handle_t *)t, on_timer_closed);
  if (h)
    tg_http_server_close(h, on_closed, jrs);
  if (g)
    tg_http_server_close(g, on_closed, jrs);
}

static void jrs_destroy(tg_instance *self) {
  tg_jrs *jrs = self->state;
  if (!jrs)
    return;
  abandon(jrs);
  tg_jrs_strategies_free(jrs->strategies);
  tg_jrs_metrics_free(jrs);
  tg_free(jrs->log_component);
  tg_free(jrs);
  self->state = NULL;
}

const tg_component tg_extension_jaegerremotesampling = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "jaegerremotesampling",
    .conf_size = sizeof(tg_jrs_conf),
    .keys = tg_jrs_conf_keys,
    .n_keys = TG_JRS_N_KEYS,
    .conf_check = tg_jrs_conf_check,
    .ops = {.create = jrs_create, .start = jrs_start, .stop = jrs_stop,
            .destroy = jrs_destroy},
    .doc = "Serves Jaeger sampling strategies: GET /sampling?service= (:5778) and api_v2 "
           "SamplingManager gRPC (shared with the jaeger receiver's listener when the "
           "endpoints match); probabilistic 1.0 unless source.file says otherwise.",
};
