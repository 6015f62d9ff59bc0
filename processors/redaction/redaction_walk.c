/* Walking an export request: every attribute list and free-text field the policy covers.
 *
 * Ownership: spans, events and links belong to exactly one batch, so their fields are
 * assigned directly. A Resource or InstrumentationScope may be shared by the two halves of
 * a batch that tg_batch_split_front cut inside a resource, so a changed one is copied into
 * the arena and the (per-half) ResourceSpans / ScopeSpans is pointed at the copy: the
 * other half still sees the original and gets redacted once on its own. */
#include "redaction_engine.h"

#include "tg_error.h"

static int resource(tg_redactor *r, tg_arena *arena, tg_resource_spans *rs) {
  tg_resource *res = rs->resource;
  if (!res || !res->n_attributes)
    return TG_OK;
  tg_key_value **attrs = res->attributes;
  size_t n = res->n_attributes;
  if (tg_redactor_attributes(r, arena, &attrs, &n) != TG_OK)
    return TG_ENOMEM;
  if (attrs == res->attributes)
    return TG_OK;
  tg_resource *copy = tg_arena_memdup(arena, res, sizeof *res);
  if (!copy)
    return TG_ENOMEM;
  copy->attributes = attrs;
  copy->n_attributes = n;
  rs->resource = copy;
  return TG_OK;
}

static int scope(tg_redactor *r, tg_arena *arena, tg_scope_spans *ss) {
  tg_scope *sc = ss->scope;
  if (!sc || !sc->n_attributes)
    return TG_OK;
  tg_key_value **attrs = sc->attributes;
  size_t n = sc->n_attributes;
  if (tg_redactor_attributes(r, arena, &attrs, &n) != TG_OK)
    return TG_ENOMEM;
  if (attrs == sc->attributes)
    return TG_OK;
  tg_scope *copy = tg_arena_memdup(arena, sc, sizeof *sc);
  if (!copy)
    return TG_ENOMEM;
  copy->attributes = attrs;
  copy->n_attributes = n;
  ss->scope = copy;
  return TG_OK;
}

static int span(tg_redactor *r, tg_arena *arena, tg_span *sp) {
  if (tg_redactor_attributes(r, arena, &sp->attributes, &sp->n_attributes) != TG_OK ||
      tg_redactor_text(r, arena, &sp->name) != TG_OK)
    return TG_ENOMEM;
  if (sp->status && tg_redactor_text(r, arena, &sp->status->message) != TG_OK)
    return TG_ENOMEM;
  for (size_t e = 0; e < sp->n_events; e++) {
    tg_span_event *ev = sp->events[e];
    if (ev && (tg_redactor_attributes(r, arena, &ev->attributes, &ev->n_attributes) != TG_OK ||
               tg_redactor_text(r, arena, &ev->name) != TG_OK))
      return TG_ENOMEM;
  }
  for (size_t l = 0; l < sp->n_links; l++) {
    tg_span_link *ln = sp->links[l];
    if (ln && tg_redactor_attributes(r, arena, &ln->attributes, &ln->n_attributes) != TG_OK)
      return TG_ENOMEM;
  }
  return TG_OK;
}

int tg_redactor_request(tg_redactor *r, tg_arena *arena, tg_export_request *req) {
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    tg_resource_spans *rs = req->resource_spans[i];
    if (!rs)
      continue;
    if (resource(r, arena, rs) != TG_OK)
      return TG_ENOMEM;
    for (size_t s = 0; s < rs->n_scope_spans; s++) {
      tg_scope_spans *ss = rs->scope_spans[s];
      if (!ss)
        continue;
      if (scope(r, arena, ss) != TG_OK)
        return TG_ENOMEM;
      for (size_t k = 0; k < ss->n_spans; k++)
        if (ss->spans[k] && span(r, arena, ss->spans[k]) != TG_OK)
          return TG_ENOMEM;
    }
  }
  return TG_OK;
}
