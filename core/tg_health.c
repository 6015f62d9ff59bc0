/* health_check extension: /health/live (the process serves requests) and /health/ready
 * (every receiver bound and every exporter's queue below its bound, per tg_service_ready)
 * on their own listener, plus the Collector's `path` (default "/") answering as ready does,
 * so Collector-style probes keep working. */
#include <string.h>

#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_http_server.h"
#include "tg_service.h"

typedef struct health_conf {
  char *endpoint;
  char *path;
} health_conf;

static const tg_conf_key health_keys[] = {
    TG_KEY_STRING("endpoint", health_conf, endpoint, "0.0.0.0:13133",
                  "address of the health listener"),
    TG_KEY_STRING("path", health_conf, path, "/",
                  "extra path answering like /health/ready (the Collector's)"),
};

typedef struct health_state {
  tg_instance *self;
  tg_http_server *server;
  tg_stop_done_fn stop_done;
} health_state;

static void answer(tg_http_response *resp, int ok) {
  resp->status = ok ? 200 : 503;
  resp->content_type = "application/json";
  tg_buf_append_str(&resp->body, ok ? "{\"status\":\"Server available\"}\n"
                                    : "{\"status\":\"Server not available\"}\n");
}

static void on_live(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  answer(resp, 1);
}

static void on_ready(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  health_state *st = ctx;
  (void)req;
  answer(resp, tg_service_ready(st->self->service));
}

static int health_create(tg_instance *self, tg_errbuf *err) {
  health_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  st->self = self;
  self->state = st;
  return TG_OK;
}

static int health_start(tg_instance *self, tg_errbuf *err) {
  health_state *st = self->state;
  const health_conf *conf = self->conf;
  tg_http_server_options opts = {.endpoint = conf->endpoint,
                                 .max_body_bytes = 4096,
                                 .max_connections = 64,
                                 .log = self->service->log,
                                 .name = "extension:health_check"};
  st->server = tg_http_server_create(self->service->loop, &opts, err);
  if (!st->server)
    return TG_ECONFIG;
  tg_http_route live = {"GET", "/health/live", 0, on_live, st};
  tg_http_route ready = {"GET", "/health/ready", 0, on_ready, st};
  tg_http_route root = {"GET", conf->path, 0, on_ready, st};
  tg_http_server_add_route(st->server, &live);
  tg_http_server_add_route(st->server, &ready);
  if (strcmp(conf->path, "/health/live") && strcmp(conf->path, "/health/ready"))
    tg_http_server_add_route(st->server, &root);
  int rc = tg_http_server_start(st->server, err);
  if (rc != TG_OK)
    return rc;
  TG_LOG_INFO(self->service->log, "extension:health_check",
              "health endpoints on %s (/health/live, /health/ready)", conf->endpoint);
  return TG_OK;
}

static void on_server_closed(void *ctx) {
  health_state *st = ctx;
  st->server = NULL;
  st->stop_done(st->self);
}

static void health_stop(tg_instance *self, tg_stop_done_fn done) {
  health_state *st = self->state;
  if (!st->server) {
    done(self);
    return;
  }
  st->stop_done = done;
  tg_http_server_close(st->server, on_server_closed, st);
}

static void health_destroy(tg_instance *self) {
  tg_free(self->state);
  self->state = NULL;
}

const tg_component tg_extension_health_check = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "health_check",
    .conf_size = sizeof(health_conf),
    .keys = health_keys,
    .n_keys = sizeof health_keys / sizeof health_keys[0],
    .ops = {.create = health_create, .start = health_start, .stop = health_stop,
            .destroy = health_destroy},
    .doc = "liveness and readiness endpoints for orchestrators",
};
