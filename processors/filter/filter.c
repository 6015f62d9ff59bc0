/* filter processor (traces): drops spans and span events for which any OTTL condition
 * holds, with the Collector's `filter` keys:
 *   traces: {span: [conditions], spanevent: [conditions]}, error_mode: ignore|silent|propagate
 * Conditions of a list are ORed. A dropped span takes its events with it (span events are
 * only looked at on kept spans); scopes and resources left without spans are removed, and
 * a batch left empty is freed here rather than passed on.
 *
 * error_mode (an evaluation error, e.g. IsMatch on a map value): propagate (the default,
 * as the Collector's) refuses the whole batch with TG_EINVAL and logs; ignore logs, counts
 * and reads the condition as false; silent only counts.
 *
 * Settings: the condition lists are YAML sequences whose items must keep their positions,
 * so custom parsers record the nodes; conf_check compiles every condition and reports each
 * problem at file:line:col of the offending character (exact for one-line plain or quoted
 * scalars without escapes; the offset within the condition is in the message too).
 *
 * Spans arriving as OTLP wire segments are decoded first (tg_batch_materialize): a
 * condition may read any field, so the filter costs one decode per segment, paid once by
 * the pipeline (later processors and exporters then see the decoded tree). Kept arrays are
 * rebuilt in the batch arena; the old arrays are never written. */
#include <stdio.h>
#include <string.h>

#include "filter_ottl.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

enum { ERR_IGNORE, ERR_SILENT, ERR_PROPAGATE };
static const char *const error_modes[] = {"ignore", "silent", "propagate", NULL};

typedef struct filter_conf {
  int error_mode;
  const tg_yaml_node *span;      /* not owned: nodes of the config document */
  const tg_yaml_node *spanevent;
} filter_conf;

static void record_node(const tg_yaml_node *node, void *field, tg_diag *diag) {
  (void)diag;
  *(const tg_yaml_node **)field = node;
}

static const tg_conf_key filter_keys[] = {
    TG_KEY_ENUM("error_mode", filter_conf, error_mode, "propagate", error_modes,
                "what an evaluation error does: ignore (log, read false), silent, propagate "
                "(refuse the batch)"),
    TG_KEY_CUSTOM("traces.span", filter_conf, span, record_node, NULL,
                  "OTTL conditions on spans; a span matching any is dropped"),
    TG_KEY_CUSTOM("traces.spanevent", filter_conf, spanevent, record_node, NULL,
                  "OTTL conditions on span events; an event matching any is dropped"),
};

typedef struct cond_list {
  tg_ottl_cond **items;
  char **texts; /* for log lines */
  size_t n;
} cond_list;

static void cond_list_free(cond_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    tg_ottl_free(l->items[i]);
    tg_free(l->texts[i]);
  }
  tg_free(l->items);
  tg_free(l->texts);
  memset(l, 0, sizeof *l);
}

/* Compiles the sequence node into out (may be NULL: empty list). Every problem goes to
 * diag at its position. Returns 0 when there was none. */
static int compile_list(const tg_yaml_node *node, const char *key, tg_ottl_context ctx,
                        const char *what, tg_diag *diag, cond_list *out, unsigned *caps) {
  memset(out, 0, sizeof *out);
  if (!node || node->kind == TG_YAML_NULL)
    return 0;
  if (node->kind != TG_YAML_SEQ) {
    tg_diag_add(diag, &node->pos, "%s: traces.%s: must be a list of OTTL conditions", what,
                key);
    return -1;
  }
  int bad = 0;
  if (node->n && (!(out->items = tg_calloc(node->n, sizeof *out->items)) ||
                  !(out->texts = tg_calloc(node->n, sizeof *out->texts)))) {
    tg_diag_add(diag, &node->pos, "%s: out of memory", what);
    return -1;
  }
  for (size_t i = 0; i < node->n; i++) {
    const tg_yaml_node *item = node->items[i];
    if (item->kind != TG_YAML_SCALAR) {
      tg_diag_add(diag, &item->pos, "%s: traces.%s: item %zu: must be a string (an OTTL "
                                    "condition)", what, key, i + 1);
      bad = 1;
      continue;
    }
    char why[512];
    size_t off = 0;
    tg_ottl_cond *c = NULL;
    int rc = tg_ottl_compile(item->scalar, strlen(item->scalar), ctx, &c, caps, &off, why,
                             sizeof why);
    if (rc != TG_OK) {
      int one_line = strchr(item->scalar, '\n') == NULL;
      tg_yaml_pos pos = item->pos;
      if (one_line)
        pos.col += (unsigned)off + (item->quoted ? 1u : 0u);
      tg_diag_add(diag, &pos, "%s: traces.%s: item %zu: %s (at character %zu of the condition)",
                  what, key, i + 1, why, off + 1);
      bad = 1;
      continue;
    }
    out->items[out->n] = c;
    out->texts[out->n] = tg_strdup(item->scalar);
    out->n++;
  }
  return bad ? -1 : 0;
}

static void filter_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                              tg_diag *diag) {
  (void)node;
  const filter_conf *c = vconf;
  cond_list a, b;
  unsigned caps = 0;
  compile_list(c->span, "span", TG_OTTL_SPAN, what, diag, &a, &caps);
  compile_list(c->spanevent, "spanevent", TG_OTTL_SPANEVENT, what, diag, &b, &caps);
  cond_list_free(&a);
  cond_list_free(&b);
}

typedef struct filter_state {
  cond_list span, spanevent;
  int error_mode;
  tg_matcher matcher;
  tg_metric_cell *spans_dropped, *events_dropped, *errors; /* filtered on purpose */
  tg_metric_cell *dropped_spans;                            /* lost on an error */
} filter_state;

static void filter_destroy(tg_instance *self) {
  filter_state *st = self->state;
  if (!st)
    return;
  cond_list_free(&st->span);
  cond_list_free(&st->spanevent);
  tg_matcher_free(&st->matcher);
  tg_free(st);
  self->state = NULL;
}

static int filter_create(tg_instance *self, tg_errbuf *err) {
  const filter_conf *conf = self->conf;
  filter_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  self->state = st;
  st->error_mode = conf->error_mode;
  tg_diag diag;
  tg_diag_init(&diag);
  unsigned caps = 0;
  int bad = compile_list(conf->span, "span", TG_OTTL_SPAN, self->id, &diag, &st->span, &caps);
  bad |= compile_list(conf->spanevent, "spanevent", TG_OTTL_SPANEVENT, self->id, &diag,
                      &st->spanevent, &caps);
  if (bad) {
    tg_errf(err, TG_ECONFIG, "%s", diag.n ? diag.lines[0] : "invalid conditions");
    tg_diag_free(&diag);
    filter_destroy(self);
    return TG_ECONFIG;
  }
  tg_diag_free(&diag);
  if (tg_matcher_init(&st->matcher, caps) != TG_OK) {
    filter_destroy(self);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  return TG_OK;
}

static int filter_start(tg_instance *self, tg_errbuf *err) {
  (void)err;
  filter_state *st = self->state;
  const char *const label[] = {"processor", NULL};
  const char *value[] = {self->id};
  tg_metrics *m = self->service->metrics;
  st->spans_dropped = tg_metrics_series(
      tg_metrics_family(m, "tailgate_filter_spans_dropped_total",
                        "Spans the filter processor dropped because a condition matched.",
                        TG_METRIC_COUNTER, label), value);
  st->events_dropped = tg_metrics_series(
      tg_metrics_family(m, "tailgate_filter_span_events_dropped_total",
                        "Span events the filter processor dropped because a condition matched.",
                        TG_METRIC_COUNTER, label), value);
  st->errors = tg_metrics_series(
      tg_metrics_family(m, "tailgate_filter_condition_errors_total",
                        "OTTL conditions that failed to evaluate (error_mode decides what "
                        "follows).", TG_METRIC_COUNTER, label), value);
  st->dropped_spans = tg_processor_dropped_spans(self);
  return TG_OK;
}

/* 1 when any condition of l holds, 0 when none, -1 to refuse the batch (propagate). */
static int any_holds(tg_instance *self, filter_state *st, const cond_list *l,
                     const tg_ottl_env *env) {
  for (size_t i = 0; i < l->n; i++) {
    char why[160];
    int r = tg_ottl_eval(l->items[i], env, &st->matcher, why, sizeof why);
    if (r == 1)
      return 1;
    if (r < 0) {
      tg_metric_add(st->errors, 1);
      if (st->error_mode != ERR_SILENT)
        TG_LOG_AT(self->service->log, st->error_mode == ERR_PROPAGATE ? TG_LOG_ERROR : TG_LOG_WARN,
                  self->id, "EINVAL", "condition %.200s: %s", l->texts[i], why);
      if (st->error_mode == ERR_PROPAGATE)
        return -1;
    }
  }
  return 0;
}

/* What one batch filtered out on purpose; added to the counters only when the whole batch
 * went through, so that a batch dropped on an error counts as dropped spans only. */
typedef struct filter_tally {
  size_t spans, events;
} filter_tally;

/* Filters one span's events; returns -1 (propagate), -2 (out of memory) or 0. */
static int filter_events(tg_instance *self, filter_state *st, tg_arena *arena, tg_ottl_env *env,
                         tg_span *sp, filter_tally *tally) {
  if (!st->spanevent.n || !sp->n_events)
    return 0;
  tg_span_event **kept = NULL;
  size_t nk = 0;
  for (size_t e = 0; e < sp->n_events; e++) {
    env->event = sp->events[e];
    int r = sp->events[e] ? any_holds(self, st, &st->spanevent, env) : 1;
    if (r < 0)
      return -1;
    if (r == 1 && !kept) { /* first drop: copy what was kept so far */
      if (!(kept = tg_arena_alloc(arena, sp->n_events * sizeof *kept)))
        return -2;
      memcpy(kept, sp->events, e * sizeof *kept);
      nk = e;
    }
    if (r == 0 && kept)
      kept[nk++] = sp->events[e];
  }
  env->event = NULL;
  if (kept) {
    tally->events += sp->n_events - nk;
    sp->events = kept;
    sp->n_events = nk;
  }
  return 0;
}

/* Walks the batch; returns TG_OK, TG_EINVAL (propagate) or TG_ENOMEM. */
static int filter_batch(tg_instance *self, filter_state *st, tg_batch *batch,
                        filter_tally *tally) {
  tg_export_request *req = &batch->request;
  tg_arena *arena = batch->arena;
  size_t nrs = 0;
  for (size_t i = 0; i < req->n_resource_spans; i++) {
    tg_resource_spans *rs = req->resource_spans[i];
    if (!rs)
      continue;
    size_t nss = 0;
    tg_scope_spans **scopes = rs->n_scope_spans
                                  ? tg_arena_alloc(arena, rs->n_scope_spans * sizeof *scopes)
                                  : NULL;
    if (rs->n_scope_spans && !scopes)
      return TG_ENOMEM;
    for (size_t s = 0; s < rs->n_scope_spans; s++) {
      tg_scope_spans *ss = rs->scope_spans[s];
      if (!ss)
        continue;
      tg_span **spans = ss->n_spans ? tg_arena_alloc(arena, ss->n_spans * sizeof *spans) : NULL;
      if (ss->n_spans && !spans)
        return TG_ENOMEM;
      size_t nsp = 0;
      tg_ottl_env env = {.resource = rs->resource, .scope = ss->scope};
      for (size_t k = 0; k < ss->n_spans; k++) {
        tg_span *sp = ss->spans[k];
        if (!sp)
          continue;
        env.span = sp;
        int r = st->span.n ? any_holds(self, st, &st->span, &env) : 0;
        if (r < 0)
          return TG_EINVAL;
        if (r == 1) {
          tally->spans++;
          continue;
        }
        int e = filter_events(self, st, arena, &env, sp, tally);
        if (e == -1)
          return TG_EINVAL;
        if (e == -2)
          return TG_ENOMEM;
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
      req->resource_spans[nrs++] = rs;
  }
  req->n_resource_spans = nrs;
  return TG_OK;
}

static int filter_consume(tg_instance *self, tg_batch *batch) {
  filter_state *st = self->state;
  if (!st->span.n && !st->spanevent.n)
    return tg_consumer_push(&self->next, batch);
  filter_tally tally = {0, 0};
  int rc = tg_batch_materialize(batch);
  if (rc == TG_OK) {
    /* the resource_spans array is rewritten in place: give the batch its own copy first */
    tg_export_request *req = &batch->request;
    tg_resource_spans **own = req->n_resource_spans
                                  ? tg_arena_alloc(batch->arena,
                                                   req->n_resource_spans * sizeof *own)
                                  : NULL;
    if (req->n_resource_spans && !own) {
      rc = TG_ENOMEM;
    } else {
      if (own)
        memcpy(own, req->resource_spans, req->n_resource_spans * sizeof *own);
      req->resource_spans = own;
      rc = filter_batch(self, st, batch, &tally);
    }
  }
  if (rc != TG_OK) /* an error, not filtering: the whole batch is lost and counted so */
    return tg_processor_drop_batch(self, st->dropped_spans, batch, rc,
                                   rc == TG_EINVAL ? "a condition failed (error_mode: propagate)"
                                                   : "filtering could not complete");
  tg_metric_add(st->spans_dropped, (int64_t)tally.spans);
  tg_metric_add(st->events_dropped, (int64_t)tally.events);
  if (tg_batch_count_spans(batch) == 0) {
    tg_batch_free(batch);
    return TG_OK;
  }
  return tg_consumer_push(&self->next, batch);
}

const tg_component tg_processor_filter = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "filter",
    .signals = TG_SIGNAL_TRACES,
    .mutates = 1,
    .reads_spans = 1,
    .conf_size = sizeof(filter_conf),
    .keys = filter_keys,
    .n_keys = sizeof filter_keys / sizeof *filter_keys,
    .conf_check = filter_conf_check,
    .ops = {.create = filter_create, .start = filter_start, .consume = filter_consume,
            .destroy = filter_destroy},
    .doc = "drops spans and span events matching OTTL conditions (traces.span, "
           "traces.spanevent)",
};
