/* Registry lookup and the no-op defaults behind every optional op. */
#include "tg_component.h"

#include <string.h>

static const char *const kind_names[TG_KIND_COUNT_] = {
    "receivers", "processors", "exporters", "connectors", "extensions"};

const char *tg_component_kind_name(tg_component_kind kind) {
  return kind < TG_KIND_COUNT_ ? kind_names[kind] : "unknown";
}

const tg_component *tg_registry_find(tg_component_kind kind, const char *type) {
  for (size_t i = 0; i < tg_registry_count; i++) {
    const tg_component *c = tg_registry[i];
    if (c->kind == kind && !strcmp(c->type, type))
      return c;
  }
  return NULL;
}

int tg_component_create(tg_instance *self, tg_errbuf *err) {
  return self->component->ops.create ? self->component->ops.create(self, err) : TG_OK;
}

int tg_component_start(tg_instance *self, tg_errbuf *err) {
  return self->component->ops.start ? self->component->ops.start(self, err) : TG_OK;
}

int tg_component_consume(tg_instance *self, tg_batch *batch) {
  if (self->component->ops.consume)
    return self->component->ops.consume(self, batch);
  /* A component without consume passes data through (a no-op processor). */
  if (self->next.consume)
    return tg_consumer_push(&self->next, batch);
  tg_batch_free(batch);
  return TG_OK;
}

void tg_component_stop(tg_instance *self, tg_stop_done_fn done) {
  if (self->component->ops.stop)
    self->component->ops.stop(self, done);
  else
    done(self);
}

void tg_component_destroy(tg_instance *self) {
  if (self->component->ops.destroy)
    self->component->ops.destroy(self);
}

int tg_component_ready(const tg_instance *self) {
  return self->component->ops.ready ? self->component->ops.ready(self) : 1;
}

static int consume_instance(void *target, tg_batch *batch) {
  return tg_component_consume(target, batch);
}

tg_consumer tg_instance_consumer(tg_instance *instance) {
  return (tg_consumer){consume_instance, instance};
}

int tg_component_debug_trace(tg_instance *self, const uint8_t id[16], tg_buf *out) {
  return self->component->ops.debug_trace ? self->component->ops.debug_trace(self, id, out)
                                          : TG_ENOTFOUND;
}
