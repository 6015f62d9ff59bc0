/* probabilistic_sampler processor (traces): head sampling per span, deterministic from
 * the trace ID so all spans of a trace share one decision on every replica, with the
 * Collector's keys: sampling_percentage, hash_seed, mode (proportional | equalizing |
 * hash_seed), sampling_precision, fail_closed; sampling.priority (0 drops, > 0 keeps)
 * overrides, as the Collector reads it. The decision rule is ps_decide.c; kept spans
 * carry the threshold in tracestate (`ot=th:`) so downstream tools can compute adjusted
 * counts.
 *
 * Wire segments are decoded first (tg_batch_materialize): the decision reads trace_id,
 * trace_state and attributes of each span, and the kept subset has to be re-encoded
 * anyway. Kept arrays and rewritten tracestates are allocated from the batch arena;
 * a batch left empty is freed here. */
#include <stdlib.h>
#include <string.h>

#include "ps_decide.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

typedef struct ps_conf {
  double sampling_percentage;
  int64_t hash_seed;
  char *mode;
  int64_t sampling_precision;
  _Bool fail_closed;
} ps_conf;

static const tg_conf_key ps_keys[] = {
    TG_KEY_DOUBLE("sampling_percentage", ps_conf, sampling_percentage, "0", 0, 1e9,
                  "percentage of traces kept (above 100 means 100)"),
    TG_KEY_INT("hash_seed", ps_conf, hash_seed, "0", 0, 4294967295.0,
               "seed of the hash_seed mode's hash (setting it selects that mode by default)"),
    TG_KEY_STRING("mode", ps_conf, mode, NULL,
                  "proportional (default), equalizing or hash_seed (default with hash_seed)"),
    TG_KEY_INT("sampling_precision", ps_conf, sampling_precision, "4", 1, 14,
               "hex digits of the threshold written to tracestate"),
    TG_KEY_BOOL("fail_closed", ps_conf, fail_closed, "true",
                "drop spans whose sampling information is unusable"),
};

static int resolve_mode(const ps_conf *c, ps_mode *out) {
  if (!c->mode || !*c->mode) {
    *out = c->hash_seed ? PS_HASH_SEED : PS_PROPORTIONAL;
    return 0;
  }
  if (strcmp(c->mode, "proportional") == 0)
    *out = PS_PROPORTIONAL;
  else if (strcmp(c->mode, "equalizing") == 0)
    *out = PS_EQUALIZING;
  else if (strcmp(c->mode, "hash_seed") == 0)
    *out = PS_HASH_SEED;
  else
    return -1;
  return 0;
}

static const tg_yaml_pos *child_pos(const tg_yaml_node *node, const char *key) {
  if (node && node->kind == TG_YAML_MAP)
    for (size_t i = 0; i < node->n; i++)
      if (strcmp(node->pairs[i].key->scalar, key) == 0)
        return &node->pairs[i].value->pos;
  return node ? &node->pos : NULL;
}

static void ps_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag) {
  const ps_conf *c = vconf;
  ps_mode m;
  if (resolve_mode(c, &m) != 0)
    tg_diag_add(diag, child_pos(node, "mode"),
                "%s: mode: \"%s\" is not one of proportional, equalizing, hash_seed", what,
                c->mode);
}

typedef struct ps_state {
  ps_sampler sampler;
  tg_metric_cell *kept, *dropped, *errors; /* decisions: dropped = sampled out on purpose */
  tg_metric_cell *dropped_spans;           /* lost on an error */
} ps_state;

static int ps_create(tg_instance *self, tg_errbuf *err) {
  const ps_conf *c = self->conf;
  ps_mode mode;
  if (resolve_mode(c, &mode) != 0)
    return tg_errf(err, TG_ECONFIG, "%s: mode: unknown", self->id);
  ps_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  ps_sampler_init(&st->sampler, c->sampling_percentage, mode, (uint32_t)c->hash_seed,
                  (int)c->sampling_precision, c->fail_closed);
  self->state = st;
  return TG_OK;
}

static int ps_start(tg_instance *self, tg_errbuf *err) {
  (void)err;
  ps_state *st = self->state;
  const char *const labels[] = {"processor", "sampled", NULL};
  tg_metric_family *f = tg_metrics_family(
      self->service->metrics, "tailgate_probabilistic_sampler_spans_total",
      "Spans the probabilistic_sampler decided on, by decision.", TG_METRIC_COUNTER, labels);
  const char *yes[] = {self->id, "true"}, *no[] = {self->id, "false"};
  st->kept = tg_metrics_series(f, yes);
  st->dropped = tg_metrics_series(f, no);
  const char *const label[] = {"processor", NULL};
  const char *id[] = {self->id};
  st->errors = tg_metrics_series(
      tg_metrics_family(self->service->metrics, "tailgate_probabilistic_sampler_errors_total",
                        "Spans whose sampling information was unusable (malformed ot entry, "
                        "zero trace ID, inconsistent th); fail_closed decides what follows.",
                        TG_METRIC_COUNTER, label), id);
  st->dropped_spans = tg_processor_dropped_spans(self);
  return TG_OK;
}

static ps_priority priority(const tg_span *sp) {
  for (size_t i = 0; i < sp->n_attributes; i++) {
    const tg_key_value *kv = sp->attributes[i];
    if (!kv || !kv->key || strcmp(kv->key, "sampling.priority") != 0 || !kv->value)
      continue;
    double v;
    switch (kv->value->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
      v = (double)kv->value->int_value;
      break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
      v = kv->value->double_value;
      break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE: {
      char *end;
      const char *s = kv->value->string_value ? kv->value->string_value : "";
      v = strtod(s, &end);
      if (end == s || *end)
        return PS_PRIO_DEFER;
      break;
    }
    default:
      return PS_PRIO_DEFER;
    }
    return v == 0 ? PS_PRIO_DROP : v > 0 ? PS_PRIO_KEEP : PS_PRIO_DEFER;
  }
  return PS_PRIO_DEFER;
}

/* One batch's decisions, added to the counters only when the whole batch went through:
 * a batch dropped on an error counts as dropped spans only, not as decided. */
typedef struct ps_tally {
  size_t kept, not_kept, errors;
} ps_tally;

static int sample_batch(ps_state *st, tg_batch *batch, ps_tally *tally) {
  tg_export_request *req = &batch->request;
  tg_arena *arena = batch->arena;
  tg_resource_spans **rss = req->n_resource_spans
                                ? tg_arena_alloc(arena, req->n_resource_spans * sizeof *rss)
                                : NULL;
  if (req->n_resource_spans && !rss)
    return TG_ENOMEM;
  size_t nrs = 0;
  ps_result res;
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    tg_resource_spans *rs = req->resource_spans[i];
    if (!rs)
      continue;
    tg_scope_spans **scopes = rs->n_scope_spans
                                  ? tg_arena_alloc(arena, rs->n_scope_spans * sizeof *scopes)
                                  : NULL;
    if (rs->n_scope_spans && !scopes)
      return TG_ENOMEM;
    size_t nss = 0;
    for (size_t s = 0; s < rs->n_scope_spans; s++) {
      tg_scope_spans *ss = rs->scope_spans[s];
      if (!ss)
        continue;
      tg_span **spans = ss->n_spans ? tg_arena_alloc(arena, ss->n_spans * sizeof *spans) : NULL;
      if (ss->n_spans && !spans)
        return TG_ENOMEM;
      size_t nsp = 0;
      for (size_t k = 0; k < ss->n_spans; k++) {
        tg_span *sp = ss->spans[k];
        if (!sp)
          continue;
        uint8_t tid[16] = {0};
        if (sp->trace_id.len == 16)
          memcpy(tid, sp->trace_id.data, 16);
        ps_decide(&st->sampler, tid, sp->trace_state, priority(sp), &res);
        tally->errors += res.error != 0;
        if (res.sampled)
          tally->kept++;
        else
          tally->not_kept++;
        if (!res.sampled)
          continue;
        if (res.set_tracestate) {
          char *ts = tg_arena_strndup(arena, res.tracestate, strlen(res.tracestate));
          if (!ts)
            return TG_ENOMEM;
          sp->trace_state = ts;
        }
        spans[nsp++] = sp;
      }
      ss->spans = spans;
      ss->n_spans = nsp;
      if (nsp)
        scopes[nss++] = ss;
    }
    rs->scope_spans = scopes;
    rs->n_scope_spans = nss;
    if (nss)
      rss[nrs++] = rs;
  }
  req->resource_spans = rss;
  req->n_resource_spans = nrs;
  return TG_OK;
}

static int ps_consume(tg_instance *self, tg_batch *batch) {
  ps_state *st = self->state;
  ps_tally tally = {0, 0, 0};
  int rc = tg_batch_materialize(batch);
  if (rc == TG_OK)
    rc = sample_batch(st, batch, &tally);
  if (rc != TG_OK) /* a half-sampled batch is not passed on */
    return tg_processor_drop_batch(self, st->dropped_spans, batch, rc,
                                   "sampling could not complete");
  tg_metric_add(st->kept, (int64_t)tally.kept);
  tg_metric_add(st->dropped, (int64_t)tally.not_kept);
  tg_metric_add(st->errors, (int64_t)tally.errors);
  if (tg_batch_count_spans(batch) == 0) {
    tg_batch_free(batch);
    return TG_OK;
  }
  return tg_consumer_push(&self->next, batch);
}

static void ps_destroy(tg_instance *self) {
  tg_free(self->state);
  self->state = NULL;
}

const tg_component tg_processor_probabilistic_sampler = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "probabilistic_sampler",
    .signals = TG_SIGNAL_TRACES,
    .mutates = 1,
    .reads_spans = 1,
    .conf_size = sizeof(ps_conf),
    .keys = ps_keys,
    .n_keys = sizeof ps_keys / sizeof *ps_keys,
    .conf_check = ps_conf_check,
    .ops = {.create = ps_create, .start = ps_start, .consume = ps_consume,
            .destroy = ps_destroy},
    .doc = "head sampling by trace ID (proportional, equalizing, hash_seed) with ot=th in "
           "tracestate",
};
