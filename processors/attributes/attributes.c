/* attributes processor: the Collector's `attributes` actions (insert, update, upsert,
 * delete, hash, extract, convert) on span attributes, in the order listed.
 *
 * Settings: `actions` is a sequence of mappings, which the key table cannot describe, so
 * its custom parser only records the YAML node (owned by the config document, which
 * outlives create); conf_check parses it to report every problem with its position, and
 * create parses it again into the instance's actions (patterns compiled once there).
 * Like redaction, it edits spans (`mutates`, `reads_spans`) and allocates from the
 * batch's arena as the batch's sole holder. */
#include <string.h>

#include "tg_attr_actions.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

typedef struct attributes_conf {
  const tg_yaml_node *actions; /* not owned: a node of the config document */
} attributes_conf;

static void parse_actions_node(const tg_yaml_node *node, void *field, tg_diag *diag) {
  (void)diag;
  *(const tg_yaml_node **)field = node;
}

static const tg_conf_key attributes_keys[] = {
    TG_KEY_CUSTOM("actions", attributes_conf, actions, parse_actions_node, NULL,
                  "list of {key, action, value | from_attribute, pattern, converted_type}"),
};

static void attributes_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                                  tg_diag *diag) {
  const attributes_conf *c = vconf;
  tg_attr_actions parsed;
  tg_attr_actions_parse(c->actions, what, diag, &parsed);
  tg_attr_actions_free(&parsed);
  if (!c->actions)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: actions: at least one action is required",
                what);
}

typedef struct attributes_state {
  tg_attr_actions actions;
  tg_metric_cell *dropped_spans;
} attributes_state;

static int attributes_create(tg_instance *self, tg_errbuf *err) {
  const attributes_conf *conf = self->conf;
  attributes_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  int rc = tg_attr_actions_build(conf->actions, self->id, "actions", &st->actions, err);
  if (rc != TG_OK) {
    tg_free(st);
    return rc;
  }
  self->state = st;
  return TG_OK;
}

static int attributes_start(tg_instance *self, tg_errbuf *err) {
  attributes_state *st = self->state;
  st->dropped_spans = tg_processor_dropped_spans(self);
  (void)err;
  return TG_OK;
}

static int attributes_consume(tg_instance *self, tg_batch *batch) {
  attributes_state *st = self->state;
  int rc = tg_batch_materialize(batch);
  tg_export_request *req = &batch->request;
  for (size_t i = 0; rc == TG_OK && i < req->n_resource_spans; i++) {
    tg_resource_spans *rs = req->resource_spans[i];
    for (size_t s = 0; rc == TG_OK && rs && s < rs->n_scope_spans; s++) {
      tg_scope_spans *ss = rs->scope_spans[s];
      for (size_t k = 0; rc == TG_OK && ss && k < ss->n_spans; k++) {
        tg_span *sp = ss->spans[k];
        if (sp)
          rc = tg_attr_actions_apply(&st->actions, batch->arena, &sp->attributes,
                                     &sp->n_attributes);
      }
    }
  }
  if (rc != TG_OK) /* a half-applied batch (e.g. a delete not done) is not passed on */
    return tg_processor_drop_batch(self, st->dropped_spans, batch, rc,
                                   "attribute actions could not complete");
  return tg_consumer_push(&self->next, batch);
}

static void attributes_destroy(tg_instance *self) {
  attributes_state *st = self->state;
  if (!st)
    return;
  tg_attr_actions_free(&st->actions);
  tg_free(st);
  self->state = NULL;
}

const tg_component tg_processor_attributes = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "attributes",
    .signals = TG_SIGNAL_TRACES,
    .mutates = 1,
    .reads_spans = 1,
    .conf_size = sizeof(attributes_conf),
    .keys = attributes_keys,
    .n_keys = sizeof attributes_keys / sizeof *attributes_keys,
    .conf_check = attributes_conf_check,
    .ops = {.create = attributes_create, .start = attributes_start,
            .consume = attributes_consume, .destroy = attributes_destroy},
    .doc = "inserts, updates, deletes, hashes, extracts and converts span attributes",
};
