/* resource processor: the Collector's `attributes` actions (insert, update, upsert,
 * delete, hash, extract, convert) applied to each batch's resource attributes, in the
 * order listed (core/tg_attr_actions.h, shared with the attributes processor).
 *
 * Settings: `attributes` is a sequence of mappings; like the attributes processor, its
 * custom parser records the YAML node, conf_check reports every problem with its position
 * and create parses it into the instance's actions.
 *
 * Resources of wire segments are decoded first (tg_batch_materialize): the resource sits
 * inside each ResourceSpans, so the edit needs the decoded tree; one decode per segment,
 * which later processors and the exporter then reuse. A batch without a resource message
 * gets an empty one from its arena so insert and upsert can act. */
#include <string.h>

#include "tg_alloc.h"
#include "tg_attr_actions.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

typedef struct resource_conf {
  const tg_yaml_node *attributes; /* not owned: a node of the config document */
} resource_conf;

static void record_node(const tg_yaml_node *node, void *field, tg_diag *diag) {
  (void)diag;
  *(const tg_yaml_node **)field = node;
}

static const tg_conf_key resource_keys[] = {
    TG_KEY_CUSTOM("attributes", resource_conf, attributes, record_node, NULL,
                  "list of {key, action, value | from_attribute, pattern, converted_type} "
                  "applied to resource attributes"),
};

static void resource_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                                tg_diag *diag) {
  const resource_conf *c = vconf;
  tg_attr_actions parsed;
  tg_attr_actions_parse(c->attributes, what, diag, &parsed);
  tg_attr_actions_free(&parsed);
  if (!c->attributes)
    tg_diag_add(diag, node ? &node->pos : NULL,
                "%s: attributes: at least one action is required", what);
}

typedef struct resource_state {
  tg_attr_actions actions;
  tg_metric_cell *dropped_spans;
} resource_state;

static int resource_create(tg_instance *self, tg_errbuf *err) {
  const resource_conf *conf = self->conf;
  resource_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  int rc = tg_attr_actions_build(conf->attributes, self->id, "attributes", &st->actions, err);
  if (rc != TG_OK) {
    tg_free(st);
    return rc;
  }
  self->state = st;
  return TG_OK;
}

static int resource_start(tg_instance *self, tg_errbuf *err) {
  (void)err;
  resource_state *st = self->state;
  st->dropped_spans = tg_processor_dropped_spans(self);
  return TG_OK;
}

static int resource_consume(tg_instance *self, tg_batch *batch) {
  resource_state *st = self->state;
  int rc = tg_batch_materialize(batch);
  tg_export_request *req = &batch->request;
  for (size_t i = 0; rc == TG_OK && i < req->n_resource_spans; i++) {
    tg_resource_spans *rs = req->resource_spans[i];
    if (!rs)
      continue;
    if (!rs->resource) {
      tg_resource *r = tg_arena_alloc(batch->arena, sizeof *r);
      if (!r) {
        rc = TG_ENOMEM;
        break;
      }
      opentelemetry__proto__resource__v1__resource__init(r);
      rs->resource = r;
    }
    rc = tg_attr_actions_apply(&st->actions, batch->arena, &rs->resource->attributes,
                               &rs->resource->n_attributes);
  }
  if (rc != TG_OK) /* a half-edited batch is not passed on */
    return tg_processor_drop_batch(self, st->dropped_spans, batch, rc,
                                   "resource actions could not complete");
  return tg_consumer_push(&self->next, batch);
}

static void resource_destroy(tg_instance *self) {
  resource_state *st = self->state;
  if (!st)
    return;
  tg_attr_actions_free(&st->actions);
  tg_free(st);
  self->state = NULL;
}

const tg_component tg_processor_resource = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "resource",
    .signals = TG_SIGNAL_TRACES,
    .mutates = 1,
    .reads_spans = 1,
    .conf_size = sizeof(resource_conf),
    .keys = resource_keys,
    .n_keys = sizeof resource_keys / sizeof *resource_keys,
    .conf_check = resource_conf_check,
    .ops = {.create = resource_create, .start = resource_start, .consume = resource_consume,
            .destroy = resource_destroy},
    .doc = "inserts, updates, deletes, hashes and extracts resource attributes",
};
