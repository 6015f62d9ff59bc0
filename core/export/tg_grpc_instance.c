/* The instance half shared by the two exporters that run on tg_grpc_exporter.c's transport,
 * otlp (TraceService/Export) and jaeger (api_v2 PostSpans): their state, the enum names
 * of their config keys (the key rows are TG_OTLPEXP_GRPC_KEYS in tg_grpc_exporter.h), the config
 * checks, and create / start / destroy. They were line for line the same; what differs
 * (the gRPC method, the queue ops that shape each request, the metadata rules, the start
 * log line) is passed in.
 *
 * Lifecycle: create parses and allocates (no gRPC, no threads); start initialises gRPC,
 * builds the channel and spawns the senders; destroy releases everything and is safe
 * after a partial create and twice. Stop is tg_queued_exporter_stop (the queue is the
 * state's first member). */
#include <stdio.h>
#include <unistd.h>

#include "tg_grpc_exporter.h"
#include "tg_auth.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_service.h"

const char *const tg_otlpexp_compression_values[] = {"none", "gzip", NULL};
const char *const tg_otlpexp_balancer_values[] = {"round_robin", "pick_first", NULL};

void tg_otlpexp_conf_check(const tg_otlpexp_conf *c, tg_otlpexp_header_problem_fn problem,
                           const tg_yaml_pos *pos, const char *what, tg_diag *diag) {
  tg_errbuf err;
  char *target = NULL;
  bool tls;
  if (tg_otlpexp_parse_endpoint(c->endpoint, c->tls.insecure, &target, &tls, &err))
    tg_diag_add(diag, pos, "%s: %s", what, err.msg);
  tg_free(target);
  if (!c->tls.cert_file != !c->tls.key_file)
    tg_diag_add(diag, pos, "%s: tls.cert_file and tls.key_file must be set together", what);
  const char *files[] = {c->tls.ca_file, c->tls.cert_file, c->tls.key_file};
  const char *names[] = {"tls.ca_file", "tls.cert_file", "tls.key_file"};
  for (int i = 0; i < 3; i++)
    if (files[i] && access(files[i], R_OK))
      tg_diag_add(diag, pos, "%s: %s \"%s\" is not readable", what, names[i], files[i]);
  for (size_t i = 0; i < c->headers.n; i++) {
    const char *why = problem(c->headers.keys[i], c->headers.values[i]);
    if (why)
      tg_diag_add(diag, pos, "%s: headers.%s: %s", what, c->headers.keys[i], why);
  }
}

void tg_otlpexp_instance_destroy(tg_instance *self) {
  tg_otlpexp_instance *st = self->state;
  if (!st)
    return;
  tg_export_queue_free(st->queue); /* stops (grace 0) if stop never ran */
  tg_otlpexp_grpc_free(st->grpc);
  tg_free(st->target);
  tg_free(st);
  self->state = NULL;
}

int tg_otlpexp_instance_create(tg_instance *self, const tg_otlpexp_instance_spec *spec,
                               tg_errbuf *err) {
  const tg_otlpexp_conf *c = self->conf;
  const char *id = self->id ? self->id : spec->default_id;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: no configuration", id);
  tg_otlpexp_instance *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = st;
  tg_errbuf perr;
  int rc = tg_otlpexp_parse_endpoint(c->endpoint, c->tls.insecure, &st->target, &st->use_tls,
                                     &perr);
  if (rc) {
    tg_otlpexp_instance_destroy(self);
    return tg_errf(err, rc, "%s: %s", id, perr.msg);
  }
  for (size_t i = 0; i < c->headers.n; i++) {
    const char *why = spec->header_problem(c->headers.keys[i], c->headers.values[i]);
    if (why) {
      tg_otlpexp_instance_destroy(self);
      return tg_errf(err, TG_ECONFIG, "%s: headers.%s: %s", id, c->headers.keys[i], why);
    }
  }
  tg_service *svc = self->service;
  st->grpc = tg_otlpexp_grpc_new(c, st->target, st->use_tls, id, svc ? svc->log : NULL);
  if (st->grpc) {
    if (spec->method)
      tg_otlpexp_grpc_set_method(st->grpc, spec->method);
    tg_otlpexp_grpc_set_tracer(st->grpc, svc ? svc->selftrace : NULL);
    st->queue = tg_export_queue_new(&c->queue, &c->retry, spec->queue_ops, st->grpc, id,
                                    svc ? svc->log : NULL, svc ? svc->metrics : NULL);
  }
  if (!st->grpc || !st->queue) {
    tg_otlpexp_instance_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  return TG_OK;
}

int tg_otlpexp_instance_start(tg_instance *self, const tg_otlpexp_instance_spec *spec,
                              tg_errbuf *err) {
  tg_otlpexp_instance *st = self->state;
  tg_otlpexp_conf *conf = self->conf;
  int rc = conf ? tg_auth_client_apply(self->service, conf->authenticator, &conf->headers, err)
                : TG_OK;
  if (rc)
    return rc;
  rc = tg_otlpexp_grpc_start(st->grpc, err);
  if (rc)
    return rc;
  rc = tg_queued_exporter_attach_storage(self, err);
  if (rc)
    return rc;
  rc = tg_export_queue_start(st->queue);
  if (rc)
    return tg_errf(err, rc, "%s: cannot start sender threads: %s",
                   self->id ? self->id : spec->default_id, tg_strerror(rc));
  if (self->service && self->service->log)
    TG_LOG_INFO(self->service->log, self->id, "%s %s (%s)", spec->start_log, st->target,
                st->use_tls ? "TLS" : "plaintext");
  return TG_OK;
}
