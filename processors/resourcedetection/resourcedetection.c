/* resourcedetection processor: adds what the `env` and `system` detectors find about this
 * process's environment to every resource, with the Collector's keys: `detectors` (in
 * priority order: the first detector that names an attribute wins), `override` (default
 * true: detected values replace the incoming ones; false: only missing keys are added),
 * `timeout` (accepted; local detectors do not wait) and `system.hostname_sources` (only
 * `os`: tailgate does no DNS lookups for a host name).
 *
 * Detection runs once, at create (OTEL_RESOURCE_ATTRIBUTES, gethostname, uname); a
 * detector the Collector has and tailgate does not (ec2, gcp, docker, k8snode, ...) is a
 * positioned configuration error, never a silent no-op.
 *
 * Wire segments are decoded first (tg_batch_materialize): the resource lives inside each
 * ResourceSpans. New attribute arrays come from the batch arena; old arrays stay as they
 * were. */
#include <stdlib.h>
#include <string.h>

#include "rd_detect.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

typedef struct rd_conf {
  tg_conf_strlist detectors;
  _Bool override;
  uint64_t timeout_ms;
  tg_conf_strlist hostname_sources;
} rd_conf;

static const tg_conf_key rd_keys[] = {
    TG_KEY_STRLIST("detectors", rd_conf, detectors, "detectors in priority order: env, system"),
    TG_KEY_BOOL("override", rd_conf, override, "true",
                "detected attributes replace incoming ones (false: only add missing keys)"),
    TG_KEY_DURATION("timeout", rd_conf, timeout_ms, "5s", 0, 3600000,
                    "detection deadline (local detectors finish at once)"),
    TG_KEY_STRLIST("system.hostname_sources", rd_conf, hostname_sources,
                   "where host.name comes from: os (the only source tailgate has)"),
};

static const tg_yaml_pos *child_pos(const tg_yaml_node *node, const char *key) {
  if (node && node->kind == TG_YAML_MAP)
    for (size_t i = 0; i < node->n; i++)
      if (strcmp(node->pairs[i].key->scalar, key) == 0)
        return &node->pairs[i].value->pos;
  return node ? &node->pos : NULL;
}

static void rd_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag) {
  const rd_conf *c = vconf;
  if (c->detectors.n == 0)
    tg_diag_add(diag, child_pos(node, "detectors"),
                "%s: detectors: list at least one detector (env, system)", what);
  for (size_t i = 0; i < c->detectors.n; i++) {
    const char *d = c->detectors.items[i];
    if (strcmp(d, "env") != 0 && strcmp(d, "system") != 0)
      tg_diag_add(diag, child_pos(node, "detectors"),
                  "%s: detectors: \"%s\" is not a detector tailgate has (it has env and "
                  "system; cloud and container detectors query services tailgate does not "
                  "reach: set their attributes with OTEL_RESOURCE_ATTRIBUTES and env)",
                  what, d);
  }
  for (size_t i = 0; i < c->hostname_sources.n; i++)
    if (strcmp(c->hostname_sources.items[i], "os") != 0)
      tg_diag_add(diag, child_pos(node, "system"),
                  "%s: system.hostname_sources: \"%s\" is not supported (only os: tailgate "
                  "does no DNS lookups for its host name)", what, c->hostname_sources.items[i]);
}

typedef struct rd_state {
  rd_attrs detected;
  int override;
  tg_metric_cell *dropped_spans;
} rd_state;

static void rd_destroy(tg_instance *self) {
  rd_state *st = self->state;
  if (!st)
    return;
  rd_attrs_free(&st->detected);
  tg_free(st);
  self->state = NULL;
}

static int rd_create(tg_instance *self, tg_errbuf *err) {
  const rd_conf *conf = self->conf;
  rd_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  self->state = st;
  st->override = conf->override;
  for (size_t i = 0; i < conf->detectors.n; i++) {
    char why[256] = "";
    int rc = 0;
    if (strcmp(conf->detectors.items[i], "env") == 0) {
      const char *v = getenv("OTEL_RESOURCE_ATTRIBUTES");
      rc = v ? rd_parse_env(v, &st->detected, why, sizeof why) : 0;
    } else if (strcmp(conf->detectors.items[i], "system") == 0) {
      rc = rd_detect_system(&st->detected, why, sizeof why);
    }
    if (rc != 0) {
      rd_destroy(self);
      return tg_errf(err, TG_ECONFIG, "%s: %s", self->id, why);
    }
  }
  return TG_OK;
}

static tg_key_value *new_kv(tg_arena *a, const rd_attr *d) {
  tg_key_value *kv = tg_arena_alloc(a, sizeof *kv);
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  if (!kv || !v)
    return NULL;
  opentelemetry__proto__common__v1__key_value__init(kv);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  /* copies: the batch may outlive this instance (an exporter's queue at shutdown) */
  v->string_value = tg_arena_strndup(a, d->value, strlen(d->value));
  kv->key = tg_arena_strndup(a, d->key, strlen(d->key));
  kv->value = v;
  return v->string_value && kv->key ? kv : NULL;
}

static int apply(const rd_state *st, tg_arena *arena, tg_resource_spans *rs) {
  if (!rs->resource) {
    tg_resource *r = tg_arena_alloc(arena, sizeof *r);
    if (!r)
      return TG_ENOMEM;
    opentelemetry__proto__resource__v1__resource__init(r);
    rs->resource = r;
  }
  tg_resource *r = rs->resource;
  size_t n = r->n_attributes, cap = n + st->detected.n;
  tg_key_value **out = tg_arena_alloc(arena, (cap ? cap : 1) * sizeof *out);
  if (!out)
    return TG_ENOMEM;
  if (n)
    memcpy(out, r->attributes, n * sizeof *out);
  for (size_t i = 0; i < st->detected.n; i++) {
    const rd_attr *d = &st->detected.items[i];
    size_t at = n;
    for (size_t k = 0; k < n; k++)
      if (out[k] && out[k]->key && strcmp(out[k]->key, d->key) == 0) {
        at = k;
        break;
      }
    if (at < n && !st->override)
      continue;
    tg_key_value *kv = new_kv(arena, d);
    if (!kv)
      return TG_ENOMEM;
    out[at] = kv;
    if (at == n)
      n++;
  }
  r->attributes = out;
  r->n_attributes = n;
  return TG_OK;
}

static int rd_start(tg_instance *self, tg_errbuf *err) {
  (void)err;
  rd_state *st = self->state;
  st->dropped_spans = tg_processor_dropped_spans(self);
  return TG_OK;
}

static int rd_consume(tg_instance *self, tg_batch *batch) {
  rd_state *st = self->state;
  int rc = st->detected.n ? tg_batch_materialize(batch) : TG_OK;
  for (size_t i = 0; rc == TG_OK && st->detected.n && i < batch->request.n_resource_spans; i++)
    if (batch->request.resource_spans[i])
      rc = apply(st, batch->arena, batch->request.resource_spans[i]);
  if (rc != TG_OK) /* a half-edited batch is not passed on */
    return tg_processor_drop_batch(self, st->dropped_spans, batch, rc,
                                   "detected attributes could not be added");
  return tg_consumer_push(&self->next, batch);
}

const tg_component tg_processor_resourcedetection = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "resourcedetection",
    .signals = TG_SIGNAL_TRACES,
    .mutates = 1,
    .reads_spans = 1,
    .conf_size = sizeof(rd_conf),
    .keys = rd_keys,
    .n_keys = sizeof rd_keys / sizeof *rd_keys,
    .conf_check = rd_conf_check,
    .ops = {.create = rd_create, .start = rd_start, .consume = rd_consume,
            .destroy = rd_destroy},
    .doc = "adds host.name, os.type and OTEL_RESOURCE_ATTRIBUTES to resources (env, system)",
};
