/* zpages extension: small read-only text pages about the running gateway, on their own
 * listener (the Collector's key `endpoint`, default localhost:55679):
 *   /debug/servicez    version, uptime, the configuration's source and hash
 *   /debug/pipelinez   every pipeline with its receivers, processors and exporters, and
 *                      whether each instance is ready
 *   /debug/extensionz  the extensions listed in service.extensions
 * and / listing them. The Collector's zpages also serve /debug/tracez and /debug/rpcz
 * (in-process span samples of the Collector's own OpenCensus instrumentation): tailgate
 * has no such sampler, so those paths answer 404 with a pointer to
 * service.telemetry.traces (tailgate's own spans, exported over OTLP) rather than an
 * empty page. Everything is read from the service and its configuration at request time
 * on the loop thread; nothing is kept. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_config.h"
#include "tg_http_server.h"
#include "tg_service.h"
#include "tg_version.h"

typedef struct zpages_conf {
  char *endpoint;
} zpages_conf;

static const tg_conf_key zpages_keys[] = {
    TG_KEY_STRING("endpoint", zpages_conf, endpoint, "localhost:55679",
                  "address of the zpages listener (/debug/servicez, /debug/pipelinez, "
                  "/debug/extensionz)"),
};

typedef struct zpages_state {
  tg_instance *self;
  tg_http_server *server;
  uint64_t created_ns; /* uv_hrtime at create: the service's build, for uptime */
  tg_stop_done_fn stop_done;
} zpages_state;

static void text(tg_http_response *resp) {
  resp->status = 200;
  resp->content_type = "text/plain; charset=utf-8";
}

static void on_index(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  text(resp);
  tg_buf_append_str(&resp->body, "tailgate zpages\n/debug/servicez\n/debug/pipelinez\n"
                                 "/debug/extensionz\n");
}

static void on_servicez(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  zpages_state *st = ctx;
  (void)req;
  const tg_config *cfg = st->self->service->config;
  uint64_t up = uv_hrtime() - st->created_ns;
  text(resp);
  tg_buf_appendf(&resp->body,
                 "version: %s\nuptime_seconds: %llu\nconfig_source: %s\nconfig_sha256: %s\n"
                 "pipelines: %zu\n",
                 TG_VERSION, (unsigned long long)(up / 1000000000u),
                 cfg ? cfg->source_name : "?", cfg ? cfg->sha256_prefix : "?",
                 cfg ? cfg->n_pipelines : 0);
}

/* The running instance for a kind and id, NULL when none (a pipeline's processors are
 * per-pipeline copies: matched on the pipeline too). */
static const tg_instance *find(const tg_service *svc, tg_component_kind kind, const char *id,
                               const char *pipeline) {
  tg_instance *inst;
  for (size_t i = 0; (inst = tg_service_instance(svc, i)); i++)
    if (inst->component->kind == kind && !strcmp(inst->id, id) &&
        (kind != TG_PROCESSOR || !inst->pipeline || !strcmp(inst->pipeline, pipeline)))
      return inst;
  return NULL;
}

static void list(tg_buf *out, const tg_service *svc, const char *what, tg_component_kind kind,
                 const tg_config_ref *refs, size_t n, const char *pipeline) {
  tg_buf_appendf(out, "  %s:\n", what);
  for (size_t i = 0; i < n; i++) {
    tg_component_kind k = refs[i].target ? refs[i].target->kind : kind;
    const tg_instance *inst = find(svc, k, refs[i].id, pipeline);
    tg_buf_appendf(out, "    %s (%s)%s\n", refs[i].id,
                   k == TG_CONNECTOR ? "connector" : tg_component_kind_name(k),
                   inst ? (tg_component_ready(inst) ? " ready" : " not ready") : "");
  }
}

static void on_pipelinez(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  zpages_state *st = ctx;
  (void)req;
  const tg_service *svc = st->self->service;
  const tg_config *cfg = svc->config;
  text(resp);
  for (size_t p = 0; cfg && p < cfg->n_pipelines; p++) {
    const tg_config_pipeline *pl = &cfg->pipelines[p];
    tg_buf_appendf(&resp->body, "%s:\n", pl->name);
    list(&resp->body, svc, "receivers", TG_RECEIVER, pl->receivers, pl->n_receivers, pl->name);
    list(&resp->body, svc, "processors", TG_PROCESSOR, pl->processors, pl->n_processors,
         pl->name);
    list(&resp->body, svc, "exporters", TG_EXPORTER, pl->exporters, pl->n_exporters, pl->name);
  }
}

static void on_extensionz(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  zpages_state *st = ctx;
  (void)req;
  const tg_config *cfg = st->self->service->config;
  text(resp);
  for (size_t i = 0; cfg && i < cfg->n_extensions; i++) {
    const tg_config_ref *r = &cfg->extensions[i];
    tg_buf_appendf(&resp->body, "%s (%s)\n", r->id, r->target ? r->target->type : "?");
  }
}

static void on_not_served(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  resp->status = 404;
  resp->content_type = "text/plain; charset=utf-8";
  tg_buf_appendf(&resp->body,
                 "%s is not served: tailgate keeps no in-process span samples. Its own spans "
                 "go out over OTLP (service.telemetry.traces.endpoint); its metrics are on "
                 "service.telemetry.metrics.address.\n",
                 req->path ? req->path : "this page");
}

static int zpages_create(tg_instance *self, tg_errbuf *err) {
  zpages_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  st->self = self;
  st->created_ns = uv_hrtime();
  self->state = st;
  return TG_OK;
}

static int zpages_start(tg_instance *self, tg_errbuf *err) {
  zpages_state *st = self->state;
  const zpages_conf *conf = self->conf;
  tg_http_server_options opts = {.endpoint = conf->endpoint,
                                 .max_body_bytes = 4096,
                                 .max_connections = 16,
                                 .log = self->service->log,
                                 .name = "extension:zpages"};
  st->server = tg_http_server_create(self->service->loop, &opts, err);
  if (!st->server)
    return TG_ECONFIG;
  const tg_http_route routes[] = {
      {"GET", "/", 0, on_index, st},
      {"GET", "/debug/servicez", 0, on_servicez, st},
      {"GET", "/debug/pipelinez", 0, on_pipelinez, st},
      {"GET", "/debug/extensionz", 0, on_extensionz, st},
      {"GET", "/debug/tracez", 0, on_not_served, st},
      {"GET", "/debug/rpcz", 0, on_not_served, st},
      {"GET", "/debug/featurez", 0, on_not_served, st},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (tg_http_server_add_route(st->server, &routes[i]) != TG_OK)
      return tg_errf(err, TG_ENOMEM, "out of memory");
  int rc = tg_http_server_start(st->server, err);
  if (rc != TG_OK)
    return rc;
  TG_LOG_INFO(self->service->log, "extension:zpages",
              "zpages on http://%s/debug/servicez, /debug/pipelinez, /debug/extensionz",
              conf->endpoint);
  return TG_OK;
}

static void on_server_closed(void *ctx) {
  zpages_state *st = ctx;
  st->server = NULL;
  st->stop_done(st->self);
}

static void zpages_stop(tg_instance *self, tg_stop_done_fn done) {
  zpages_state *st = self->state;
  if (!st->server) {
    done(self);
    return;
  }
  st->stop_done = done;
  tg_http_server_close(st->server, on_server_closed, st);
}

static void zpages_destroy(tg_instance *self) {
  tg_free(self->state);
  self->state = NULL;
}

const tg_component tg_extension_zpages = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "zpages",
    .conf_size = sizeof(zpages_conf),
    .keys = zpages_keys,
    .n_keys = sizeof zpages_keys / sizeof zpages_keys[0],
    .ops = {.create = zpages_create,
            .start = zpages_start,
            .stop = zpages_stop,
            .destroy = zpages_destroy},
    .doc = "read-only pages: /debug/servicez, /debug/pipelinez, /debug/extensionz",
};
