/* Pipeline builder. It knows components only through tg_component.h: it creates one
 * instance per receiver, exporter and connector id, one processor instance per
 * (pipeline, processor id) as the Collector does, and wires them:
 *
 *   receiver.next  = fan-out over the entry of every pipeline listing the receiver
 *   processor.next = the next processor of its pipeline, or the pipeline's exporter fan-out
 *   connector      = an exporter in some pipelines; its next feeds the pipelines where it
 *                    is listed as a receiver
 *
 * A fan-out of one is skipped (the consumer is used directly), so the common single
 * pipeline costs no indirection. */
#include "tg_pipeline.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_config.h"
#include "tg_service.h"

int tg_fanout_consume(void *target, tg_batch *batch) {
  tg_fanout *fanout = target;
  int any_reader = 0;
  for (size_t i = 0; i < fanout->n; i++)
    any_reader |= fanout->flags[i];
  /* Decode while we are the only holder; if someone else holds it too, readers get
   * clones (which are decoded) instead. A lone consumer (a mutator: lone readers are not
   * behind a fan-out) becomes the sole holder and decides for itself whether to decode. */
  int shared_wire = any_reader && fanout->n > 1 && batch->n_wire &&
                    tg_batch_materialize(batch) != TG_OK;
  int result = TG_OK;
  size_t refused = 0;
  int given = 0; /* our own reference went to the last consumer */
  for (size_t i = 0; i < fanout->n; i++) {
    int flags = fanout->flags[i];
    tg_batch *copy;
    if (!flags || (flags == TG_FANOUT_READS && !shared_wire)) {
      copy = tg_batch_ref(batch);
    } else if (i == fanout->n - 1 && !refused && atomic_load(&batch->refs) == 1) {
      copy = batch; /* nobody else holds it: the last consumer may have it, no copy */
      given = 1;
    } else {
      copy = tg_batch_clone(batch);
    }
    int rc = copy ? tg_consumer_push(&fanout->targets[i], copy) : TG_ENOMEM;
    if (rc == TG_EAGAIN) { /* not taken */
      if (given)
        given = 0;
      else
        tg_batch_free(copy);
      refused++;
    }
    if (rc == TG_EAGAIN || (rc != TG_OK && result == TG_OK))
      result = rc;
  }
  if (refused)
    return TG_EAGAIN; /* the caller keeps its reference (consumers that took it hold their own) */
  if (!given)
    tg_batch_free(batch);
  return result;
}

static int consumer_flags(const tg_component *c) {
  return (c->mutates ? TG_FANOUT_MUTATES : 0) | (c->reads_spans ? TG_FANOUT_READS : 0);
}

static int graph_add_instance(tg_service_graph *g, tg_instance *inst) {
  tg_instance **grown = tg_realloc(g->instances, (g->n_instances + 1) * sizeof *grown);
  if (!grown)
    return TG_ENOMEM;
  g->instances = grown;
  g->instances[g->n_instances++] = inst;
  return TG_OK;
}

static tg_instance *instance_new(tg_service *svc, const tg_config_component *cc,
                                 const char *pipeline) {
  tg_instance *inst = tg_calloc(1, sizeof *inst);
  if (!inst)
    return NULL;
  inst->component = cc->component;
  inst->id = tg_strdup(cc->id);
  inst->pipeline = pipeline;
  inst->conf = cc->conf; /* borrowed: the config outlives the service */
  inst->service = svc;
  inst->pos = cc->pos;
  if (!inst->id) {
    tg_free(inst);
    return NULL;
  }
  return inst;
}

static tg_instance *find_shared(const tg_service_graph *g, const tg_config_component *cc) {
  for (size_t i = 0; i < g->n_instances; i++) {
    tg_instance *inst = g->instances[i];
    if (inst->component == cc->component && !inst->pipeline && !strcmp(inst->id, cc->id))
      return inst;
  }
  return NULL;
}

/* Gets or creates the instance of a receiver/exporter/connector/extension id. */
static int shared_instance(tg_service *svc, tg_service_graph *g, const tg_config *config,
                           tg_component_kind kind, const char *id, tg_instance **out,
                           tg_errbuf *err) {
  const tg_config_component *cc = tg_config_find(config, kind, id);
  if (!cc && (kind == TG_RECEIVER || kind == TG_EXPORTER))
    cc = tg_config_find(config, TG_CONNECTOR, id);
  if (!cc || !cc->component)
    return tg_errf(err, TG_ECONFIG, "%s %s is not defined", tg_component_kind_name(kind), id);
  tg_instance *inst = find_shared(g, cc);
  if (!inst) {
    inst = instance_new(svc, cc, NULL);
    if (!inst || graph_add_instance(g, inst) != TG_OK) {
      if (inst) {
        tg_free(inst->id);
        tg_free(inst);
      }
      return tg_errf(err, TG_ENOMEM, "out of memory");
    }
  }
  *out = inst;
  return TG_OK;
}

static tg_fanout *fanout_new(tg_service_graph *g) {
  tg_fanout *f = tg_calloc(1, sizeof *f);
  tg_fanout **grown = f ? tg_realloc(g->fanouts, (g->n_fanouts + 1) * sizeof *grown) : NULL;
  if (!grown) {
    tg_free(f);
    return NULL;
  }
  g->fanouts = grown;
  g->fanouts[g->n_fanouts++] = f;
  return f;
}

static int fanout_add(tg_fanout *f, tg_consumer c, int flags) {
  tg_consumer *t = tg_realloc(f->targets, (f->n + 1) * sizeof *t);
  if (!t)
    return TG_ENOMEM;
  f->targets = t;
  int *m = tg_realloc(f->flags, (f->n + 1) * sizeof *m);
  if (!m)
    return TG_ENOMEM;
  f->flags = m;
  f->targets[f->n] = c;
  f->flags[f->n] = flags;
  f->n++;
  return TG_OK;
}

/* The consumer that delivers to every target of f: the target itself when there is one. */
static tg_consumer fanout_consumer(tg_fanout *f) {
  if (f->n == 1 && !(f->flags[0] & TG_FANOUT_MUTATES))
    return f->targets[0]; /* a lone reader decodes for itself: it is the sole holder */
  return (tg_consumer){tg_fanout_consume, f};
}

/* Wires one pipeline; returns its entry consumer and whether the entry mutates. */
static int build_pipeline(tg_service *svc, tg_service_graph *g, const tg_config *config,
                          const tg_config_pipeline *p, tg_consumer *entry, int *entry_flags,
                          tg_errbuf *err) {
  tg_fanout *exporters = fanout_new(g);
  if (!exporters)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  for (size_t i = 0; i < p->n_exporters; i++) {
    tg_instance *inst;
    int rc = shared_instance(svc, g, config, TG_EXPORTER, p->exporters[i].id, &inst, err);
    if (rc != TG_OK)
      return rc;
    if (fanout_add(exporters, tg_instance_consumer(inst), consumer_flags(inst->component)) !=
        TG_OK)
      return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  tg_consumer next = fanout_consumer(exporters);
  int next_flags = exporters->n == 1 ? exporters->flags[0] : 0;
  for (size_t k = p->n_processors; k-- > 0;) {
    const tg_config_component *cc = tg_config_find(config, TG_PROCESSOR, p->processors[k].id);
    if (!cc || !cc->component)
      return tg_errf(err, TG_ECONFIG, "processor %s is not defined", p->processors[k].id);
    tg_instance *inst = instance_new(svc, cc, p->name);
    if (!inst)
      return tg_errf(err, TG_ENOMEM, "out of memory");
    if (graph_add_instance(g, inst) != TG_OK) {
      tg_free(inst->id);
      tg_free(inst);
      return tg_errf(err, TG_ENOMEM, "out of memory");
    }
    inst->next = next;
    next = tg_instance_consumer(inst);
    next_flags = consumer_flags(inst->component);
  }
  *entry = next;
  *entry_flags = next_flags;
  return TG_OK;
}

static int list_has(const tg_config_ref *refs, size_t n, const char *id) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(refs[i].id, id))
      return 1;
  return 0;
}

static const tg_component_kind start_order[] = {TG_EXTENSION, TG_EXPORTER, TG_CONNECTOR,
                                                TG_PROCESSOR, TG_RECEIVER};

static int compute_order(tg_service_graph *g) {
  g->order = tg_calloc(g->n_instances ? g->n_instances : 1, sizeof *g->order);
  if (!g->order)
    return TG_ENOMEM;
  size_t n = 0;
  for (size_t k = 0; k < sizeof start_order / sizeof start_order[0]; k++)
    for (size_t i = 0; i < g->n_instances; i++)
      if (g->instances[i]->component->kind == start_order[k])
        g->order[n++] = g->instances[i];
  return TG_OK;
}

int tg_pipeline_graph_build(tg_service *svc, const tg_config *config, tg_service_graph **out,
                            tg_errbuf *err) {
  tg_service_graph *g = tg_calloc(1, sizeof *g);
  if (!g)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  *out = g;
  tg_consumer *entries = tg_calloc(config->n_pipelines + 1, sizeof *entries);
  int *entry_flags = tg_calloc(config->n_pipelines + 1, sizeof *entry_flags);
  int rc = entries && entry_flags ? TG_OK : tg_errf(err, TG_ENOMEM, "out of memory");

  for (size_t i = 0; rc == TG_OK && i < config->n_extensions; i++) {
    tg_instance *inst;
    rc = shared_instance(svc, g, config, TG_EXTENSION, config->extensions[i].id, &inst, err);
  }
  for (size_t p = 0; rc == TG_OK && p < config->n_pipelines; p++)
    rc = build_pipeline(svc, g, config, &config->pipelines[p], &entries[p], &entry_flags[p],
                        err);

  /* Receivers (and connectors on their receiver side) feed every pipeline listing them. */
  for (size_t p = 0; rc == TG_OK && p < config->n_pipelines; p++) {
    for (size_t r = 0; rc == TG_OK && r < config->pipelines[p].n_receivers; r++) {
      const char *id = config->pipelines[p].receivers[r].id;
      int first_listing = 1;
      for (size_t q = 0; q < p; q++)
        if (list_has(config->pipelines[q].receivers, config->pipelines[q].n_receivers, id))
          first_listing = 0;
      if (!first_listing)
        continue; /* wired when its first pipeline was seen */
      tg_instance *inst;
      rc = shared_instance(svc, g, config, TG_RECEIVER, id, &inst, err);
      tg_fanout *f = rc == TG_OK ? fanout_new(g) : NULL;
      if (rc == TG_OK && !f)
        rc = tg_errf(err, TG_ENOMEM, "out of memory");
      for (size_t q = p; rc == TG_OK && q < config->n_pipelines; q++)
        if (list_has(config->pipelines[q].receivers, config->pipelines[q].n_receivers, id) &&
            fanout_add(f, entries[q], entry_flags[q]) != TG_OK)
          rc = tg_errf(err, TG_ENOMEM, "out of memory");
      if (rc == TG_OK)
        inst->next = fanout_consumer(f);
    }
  }
  tg_free(entries);
  tg_free(entry_flags);
  if (rc == TG_OK && compute_order(g) != TG_OK)
    rc = tg_errf(err, TG_ENOMEM, "out of memory");

  /* create after wiring, so a component may look at its next consumer */
  for (size_t i = 0; rc == TG_OK && i < g->n_instances; i++) {
    tg_instance *inst = g->instances[i];
    tg_errbuf detail = {{0}};
    rc = tg_component_create(inst, &detail);
    if (rc != TG_OK)
      rc = tg_errf(err, rc, "%s %s: %s", tg_component_kind_name(inst->component->kind),
                   inst->id, detail.msg[0] ? detail.msg : tg_strerror(rc));
  }
  return rc;
}

void tg_pipeline_graph_free(tg_service_graph *g) {
  if (!g)
    return;
  for (size_t i = g->n_instances; i-- > 0;) {
    tg_instance *inst = g->instances[i];
    tg_component_destroy(inst);
    tg_free(inst->id);
    tg_free(inst);
  }
  for (size_t i = 0; i < g->n_fanouts; i++) {
    tg_free(g->fanouts[i]->targets);
    tg_free(g->fanouts[i]->flags);
    tg_free(g->fanouts[i]);
  }
  tg_free(g->fanouts);
  tg_free(g->instances);
  tg_free(g->order);
  tg_free(g);
}
