/* Jaeger api_v2 model → the span model (OTLP), by the rules of Jaeger's and the
 * OpenTelemetry Collector's translator, so that a trace looks the same whichever
 * gateway it went through:
 *
 * - process → resource: service_name → service.name (omitted when empty or the
 *   placeholder TG_JAEGER_NO_SERVICE_NAME), process tags → resource attributes; a span
 *   that carries its own process gets that process's resource.
 * - ids: 16-byte trace id (high half zero for 64-bit Jaeger ids, so such a trace joins
 *   the one a W3C/B3 service reports), 8-byte span id.
 * - the first CHILD_OF reference within the same trace is the parent; every other
 *   reference becomes a link with attribute opentracing.ref_type = child_of |
 *   follows_from.
 * - special tags are consumed: span.kind → kind; error=true → status ERROR (its
 *   description from otel.status_description); otherwise otel.status_code OK/ERROR →
 *   status (otel.status_code is dropped either way); w3c.tracestate → trace_state;
 *   otel.scope.name/version (or the older otel.library.*) → the instrumentation scope.
 * - logs → events (the "event" field is the event name); typed tags → typed attributes.
 * - flags: sampled (0x1) → the W3C sampled bit of span.flags; debug (0x2) → attribute
 *   sampling.priority = 1 (tail sampling always keeps such traces).
 * Not mapped (as in the Collector): span warnings, process_id.
 *
 * Memory: everything is allocated from the batch's arena; strings of the Jaeger model
 * (which normally lives in the same arena) are shared, not copied. */
#include <string.h>

#include "translate/jaeger/jaeger_model.h"
#include "tg_error.h"

typedef struct conv {
  tg_arena *a;
  int rc;
} conv;

static void *alloc(conv *c, size_t n) {
  void *p = tg_arena_alloc(c->a, n ? n : 1);
  if (!p && c->rc == TG_OK)
    c->rc = c->a->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  return p;
}

static tg_key_value *new_attr(conv *c, char *key, tg_any_value **val) {
  tg_key_value *kv = alloc(c, sizeof *kv);
  tg_any_value *v = alloc(c, sizeof *v);
  if (!kv || !v)
    return NULL;
  opentelemetry__proto__common__v1__key_value__init(kv);
  opentelemetry__proto__common__v1__any_value__init(v);
  kv->key = key;
  kv->value = v;
  *val = v;
  return kv;
}

static tg_key_value *convert_tag(conv *c, const tg_jaeger_kv *t) {
  tg_any_value *v;
  tg_key_value *kv = new_attr(c, t->key, &v);
  if (!kv)
    return NULL;
  switch (t->v_type) {
  case JAEGER__API_V2__VALUE_TYPE__BOOL:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = t->v_bool;
    break;
  case JAEGER__API_V2__VALUE_TYPE__INT64:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = t->v_int64;
    break;
  case JAEGER__API_V2__VALUE_TYPE__FLOAT64:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = t->v_float64;
    break;
  case JAEGER__API_V2__VALUE_TYPE__BINARY:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    v->bytes_value = t->v_binary;
    break;
  default:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = t->v_str ? t->v_str : (char *)"";
  }
  return kv;
}

static int is_str(const tg_jaeger_kv *t, const char *key) {
  return t->v_type == JAEGER__API_V2__VALUE_TYPE__STRING && t->key && !strcmp(t->key, key);
}

static const char *str_of(const tg_jaeger_kv *t) { return t->v_str ? t->v_str : ""; }

static int valid_id(const ProtobufCBinaryData *id, size_t len) {
  if (id->len != len)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (id->data[i])
      return 1;
  return 0;
}

static int same_id(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b) {
  return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static uint64_t ts_nanos(const Google__Protobuf__Timestamp *ts) {
  if (!ts || ts->seconds < 0)
    return 0;
  return (uint64_t)ts->seconds * 1000000000u + (uint64_t)(ts->nanos > 0 ? ts->nanos : 0);
}

static uint64_t dur_nanos(const Google__Protobuf__Duration *d) {
  if (!d || d->seconds < 0 || (d->seconds == 0 && d->nanos < 0))
    return 0;
  return (uint64_t)d->seconds * 1000000000u + (uint64_t)(d->nanos > 0 ? d->nanos : 0);
}

/* Resource from a process. */
static tg_resource *convert_process(conv *c, const tg_jaeger_process *p) {
  tg_resource *res = alloc(c, sizeof *res);
  if (!res)
    return NULL;
  opentelemetry__proto__resource__v1__resource__init(res);
  if (!p)
    return res;
  size_t n = p->n_tags + 1;
  res->attributes = alloc(c, n * sizeof *res->attributes);
  if (!res->attributes)
    return NULL;
  const char *svc = p->service_name;
  if (svc && *svc && strcmp(svc, TG_JAEGER_NO_SERVICE_NAME)) {
    tg_any_value *v;
    tg_key_value *kv = new_attr(c, (char *)"service.name", &v);
    if (!kv)
      return NULL;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = p->service_name;
    res->attributes[res->n_attributes++] = kv;
  }
  for (size_t i = 0; i < p->n_tags; i++) {
    tg_key_value *kv = convert_tag(c, p->tags[i]);
    if (!kv)
      return NULL;
    res->attributes[res->n_attributes++] = kv;
  }
  return res;
}

static int kind_of(const char *s) {
  static const char *const names[] = {"internal", "server", "client", "producer",
                                      "consumer"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, names[i]))
      return i + 1; /* OTLP SpanKind: INTERNAL = 1 ... CONSUMER = 5 */
  return 0;
}

static int upper_eq(const char *s, const char *upper) {
  for (; *s && *upper; s++, upper++)
    if ((*s >= 'a' && *s <= 'z' ? *s - 32 : *s) != *upper)
      return 0;
  return !*s && !*upper;
}

/* What the special tags of a span said. */
typedef struct span_meta {
  const char *scope_name, *scope_version;
} span_meta;

/* Tags → attributes, consuming the special ones (see the top of the file). */
static int convert_span_tags(conv *c, const tg_jaeger_span *js, tg_span *span,
                             span_meta *meta) {
  const tg_jaeger_kv *status_code = NULL, *status_desc = NULL;
  int error_true = 0, has_priority = 0;
  size_t n = js->n_tags + 1;
  span->attributes = alloc(c, n * sizeof *span->attributes);
  if (!span->attributes)
    return c->rc;
  for (size_t i = 0; i < js->n_tags; i++) {
    const tg_jaeger_kv *t = js->tags[i];
    if (!t->key)
      continue;
    if (is_str(t, "span.kind")) {
      span->kind = kind_of(str_of(t));
      continue;
    }
    if (t->v_type == JAEGER__API_V2__VALUE_TYPE__BOOL && !strcmp(t->key, "error") &&
        t->v_bool) {
      error_true = 1;
      continue;
    }
    if (!strcmp(t->key, "otel.status_code")) {
      status_code = t;
      continue;
    }
    if (is_str(t, "otel.status_description")) {
      status_desc = t;
      continue; /* put back below when no status claimed it */
    }
    if (is_str(t, "w3c.tracestate")) {
      span->trace_state = (char *)str_of(t);
      continue;
    }
    if (is_str(t, "otel.scope.name") || is_str(t, "otel.library.name")) {
      meta->scope_name = str_of(t);
      continue;
    }
    if (is_str(t, "otel.scope.version") || is_str(t, "otel.library.version")) {
      meta->scope_version = str_of(t);
      continue;
    }
    if (!strcmp(t->key, "sampling.priority"))
      has_priority = 1;
    tg_key_value *kv = convert_tag(c, t);
    if (!kv)
      return c->rc;
    span->attributes[span->n_attributes++] = kv;
  }
  int code = 0, claimed = 0;
  if (error_true) {
    code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    claimed = 1;
  } else if (status_code) {
    const char *s = status_code->v_type == JAEGER__API_V2__VALUE_TYPE__STRING
                        ? str_of(status_code)
                        : "";
    if (upper_eq(s, "OK"))
      code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
    else if (upper_eq(s, "ERROR"))
      code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    claimed = 1;
  }
  if (claimed) {
    tg_span_status *st = alloc(c, sizeof *st);
    if (!st)
      return c->rc;
    opentelemetry__proto__trace__v1__status__init(st);
    st->code = code;
    if (status_desc)
      st->message = (char *)str_of(status_desc);
    span->status = st;
  } else if (status_desc) {
    tg_key_value *kv = convert_tag(c, status_desc);
    if (!kv)
      return c->rc;
    span->attributes[span->n_attributes++] = kv;
  }
  /* debug flag: one attribute more than the tags, hence the + 1 above */
  if ((js->flags & TG_JAEGER_FLAG_DEBUG) && !has_priority) {
    tg_any_value *v;
    tg_key_value *kv = new_attr(c, (char *)"sampling.priority", &v);
    if (!kv)
      return c->rc;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = 1;
    span->attributes[span->n_attributes++] = kv;
  }
  return c->rc;
}

static int convert_logs(conv *c, const tg_jaeger_span *js, tg_span *span) {
  if (!js->n_logs)
    return TG_OK;
  span->events = alloc(c, js->n_logs * sizeof *span->events);
  if (!span->events)
    return c->rc;
  for (size_t i = 0; i < js->n_logs; i++) {
    const tg_jaeger_log *log = js->logs[i];
    tg_span_event *ev = alloc(c, sizeof *ev);
    if (!ev)
      return c->rc;
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->time_unix_nano = ts_nanos(log->timestamp);
    if (log->n_fields) {
      ev->attributes = alloc(c, log->n_fields * sizeof *ev->attributes);
      if (!ev->attributes)
        return c->rc;
    }
    for (size_t f = 0; f < log->n_fields; f++) {
      const tg_jaeger_kv *t = log->fields[f];
      if (is_str(t, "event") && !ev->name[0]) {
        ev->name = (char *)str_of(t);
        continue;
      }
      tg_key_value *kv = convert_tag(c, t);
      if (!kv)
        return c->rc;
      ev->attributes[ev->n_attributes++] = kv;
    }
    span->events[span->n_events++] = ev;
  }
  return TG_OK;
}

static int convert_refs(conv *c, const tg_jaeger_span *js, tg_span *span) {
  size_t parent = (size_t)-1;
  for (size_t i = 0; i < js->n_references; i++) {
    const tg_jaeger_ref *r = js->references[i];
    if (r->ref_type == JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF &&
        same_id(&r->trace_id, &js->trace_id) && valid_id(&r->span_id, TG_SPAN_ID_LEN)) {
      parent = i;
      span->parent_span_id = r->span_id;
      break;
    }
  }
  size_t n = js->n_references - (parent != (size_t)-1);
  if (!n)
    return TG_OK;
  span->links = alloc(c, n * sizeof *span->links);
  if (!span->links)
    return c->rc;
  for (size_t i = 0; i < js->n_references; i++) {
    const tg_jaeger_ref *r = js->references[i];
    if (i == parent || !valid_id(&r->trace_id, TG_TRACE_ID_LEN) ||
        !valid_id(&r->span_id, TG_SPAN_ID_LEN))
      continue;
    tg_span_link *l = alloc(c, sizeof *l);
    tg_key_value **attrs = alloc(c, sizeof *attrs);
    tg_any_value *v;
    tg_key_value *kv = new_attr(c, (char *)"opentracing.ref_type", &v);
    if (!l || !attrs || !kv)
      return c->rc;
    opentelemetry__proto__trace__v1__span__link__init(l);
    l->trace_id = r->trace_id;
    l->span_id = r->span_id;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = r->ref_type == JAEGER__API_V2__SPAN_REF_TYPE__FOLLOWS_FROM
                          ? (char *)"follows_from"
                          : (char *)"child_of";
    attrs[0] = kv;
    l->attributes = attrs;
    l->n_attributes = 1;
    span->links[span->n_links++] = l;
  }
  return TG_OK;
}

static tg_span *convert_span(conv *c, const tg_jaeger_span *js, span_meta *meta) {
  tg_span *span = alloc(c, sizeof *span);
  if (!span)
    return NULL;
  opentelemetry__proto__trace__v1__span__init(span);
  span->trace_id = js->trace_id;
  span->span_id = js->span_id;
  span->name = js->operation_name ? js->operation_name : (char *)"";
  span->flags = js->flags & TG_JAEGER_FLAG_SAMPLED; /* W3C sampled bit */
  span->start_time_unix_nano = ts_nanos(js->start_time);
  span->end_time_unix_nano = span->start_time_unix_nano + dur_nanos(js->duration);
  if (convert_span_tags(c, js, span, meta) || convert_logs(c, js, span) ||
      convert_refs(c, js, span))
    return NULL;
  return span;
}

static int str_eq(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* The output under construction: resource groups by process, scope groups by name. */
typedef struct group {
  const tg_jaeger_process *process;
  tg_resource_spans *rs;
  size_t cap_scopes;
  size_t *span_caps; /* capacity of each scope group's spans array */
  size_t *hash;      /* open addressing over scope groups: index + 1, 0 = empty */
  size_t hash_cap;   /* power of two, at least twice the number of scope groups */
} group;

static size_t scope_hash(const char *name, const char *version) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a over name, NUL, version */
  for (const char *p = name ? name : ""; *p; p++)
    h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h *= 1099511628211ull;
  for (const char *p = version ? version : ""; *p; p++)
    h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return (size_t)h;
}

/* The scope group of (name, version) in g, or n_scope_spans when there is none yet; the
 * hash keeps a batch with many distinct scopes linear. */
static size_t find_scope(const group *g, const char *name, const char *version) {
  const tg_resource_spans *rs = g->rs;
  if (!g->hash_cap)
    return rs->n_scope_spans;
  for (size_t i = scope_hash(name, version) & (g->hash_cap - 1);; i = (i + 1) & (g->hash_cap - 1)) {
    if (!g->hash[i])
      return rs->n_scope_spans;
    const tg_scope *sc = rs->scope_spans[g->hash[i] - 1]->scope;
    if (str_eq(sc->name, name) && str_eq(sc->version, version))
      return g->hash[i] - 1;
  }
}

static int hash_insert_all(conv *c, group *g, size_t cap) {
  size_t *h = alloc(c, cap * sizeof *h);
  if (!h)
    return c->rc;
  memset(h, 0, cap * sizeof *h);
  for (size_t k = 0; k < g->rs->n_scope_spans; k++) {
    const tg_scope *sc = g->rs->scope_spans[k]->scope;
    size_t i = scope_hash(sc->name, sc->version) & (cap - 1);
    while (h[i])
      i = (i + 1) & (cap - 1);
    h[i] = k + 1;
  }
  g->hash = h;
  g->hash_cap = cap;
  return TG_OK;
}

/* Grows an arena array to hold one more element (doubling; the old copy stays in the
 * arena until the batch goes, which bounds the waste by the final size). */
static void *grow(conv *c, void *old, size_t n, size_t *cap, size_t elem) {
  if (n < *cap)
    return old;
  size_t ncap = *cap ? *cap * 2 : 4;
  void *a = alloc(c, ncap * elem);
  if (!a)
    return NULL;
  if (n)
    memcpy(a, old, n * elem);
  *cap = ncap;
  return a;
}

/* Appends span to the scope group of its otel.scope.name/version (made on first use). */
static int add_to_scope(conv *c, group *g, const span_meta *m, tg_span *span) {
  tg_resource_spans *rs = g->rs;
  size_t i = find_scope(g, m->scope_name, m->scope_version);
  if (i < rs->n_scope_spans) {
    tg_scope_spans *ss = rs->scope_spans[i];
    tg_span **a = grow(c, ss->spans, ss->n_spans, &g->span_caps[i], sizeof *a);
    if (!a)
      return c->rc;
    ss->spans = a;
    ss->spans[ss->n_spans++] = span;
    return TG_OK;
  }
  if (rs->n_scope_spans == g->cap_scopes) {
    size_t cap = g->cap_scopes;
    tg_scope_spans **a = grow(c, rs->scope_spans, rs->n_scope_spans, &cap, sizeof *a);
    size_t *caps = a ? alloc(c, cap * sizeof *caps) : NULL;
    if (!caps)
      return c->rc;
    if (rs->n_scope_spans)
      memcpy(caps, g->span_caps, rs->n_scope_spans * sizeof *caps);
    rs->scope_spans = a;
    g->span_caps = caps;
    g->cap_scopes = cap;
  }
  tg_scope_spans *ss = alloc(c, sizeof *ss);
  tg_scope *scope = alloc(c, sizeof *scope);
  if (!ss || !scope)
    return c->rc;
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
  scope->name = (char *)(m->scope_name ? m->scope_name : "");
  scope->version = (char *)(m->scope_version ? m->scope_version : "");
  ss->scope = scope;
  size_t cap = 0;
  tg_span **spans = grow(c, NULL, 0, &cap, sizeof *spans);
  if (!spans)
    return c->rc;
  spans[0] = span;
  ss->spans = spans;
  ss->n_spans = 1;
  g->span_caps[rs->n_scope_spans] = cap;
  rs->scope_spans[rs->n_scope_spans++] = ss;
  if (rs->n_scope_spans * 2 > g->hash_cap)
    return hash_insert_all(c, g, g->hash_cap ? g->hash_cap * 2 : 8);
  size_t h = scope_hash(scope->name, scope->version) & (g->hash_cap - 1);
  while (g->hash[h])
    h = (h + 1) & (g->hash_cap - 1);
  g->hash[h] = rs->n_scope_spans;
  return TG_OK;
}

int tg_jaeger_to_otlp(tg_batch *batch, const tg_jaeger_batch *jb, size_t *invalid) {
  conv c = {.a = batch->arena, .rc = TG_OK};
  size_t n = jb->n_spans;
  *invalid = 0;
  if (!n)
    return TG_OK;
  /* at most one group per span (each may carry its own process) plus the batch's; a
   * span's own process is its own group unless it is the previous span's, so grouping
   * stays linear in the number of spans */
  group *groups = alloc(&c, (n + 1) * sizeof *groups);
  if (!groups)
    return c.rc;
  size_t n_groups = 0, added = 0;
  group *batch_group = NULL;
  for (size_t i = 0; i < n; i++) {
    const tg_jaeger_span *js = jb->spans[i];
    if (!valid_id(&js->trace_id, TG_TRACE_ID_LEN) || !valid_id(&js->span_id, TG_SPAN_ID_LEN)) {
      (*invalid)++;
      continue;
    }
    const tg_jaeger_process *proc = js->process ? js->process : jb->process;
    group *g = NULL;
    if (proc == jb->process)
      g = batch_group;
    else if (n_groups && groups[n_groups - 1].process == proc)
      g = &groups[n_groups - 1];
    if (!g) {
      g = &groups[n_groups++];
      memset(g, 0, sizeof *g);
      g->process = proc;
      g->rs = alloc(&c, sizeof *g->rs);
      if (!g->rs)
        return c.rc;
      opentelemetry__proto__trace__v1__resource_spans__init(g->rs);
      if (!(g->rs->resource = convert_process(&c, proc)))
        return c.rc;
      if (proc == jb->process)
        batch_group = g;
    }
    span_meta meta = {0};
    tg_span *span = convert_span(&c, js, &meta);
    if (!span)
      return c.rc;
    if (add_to_scope(&c, g, &meta, span))
      return c.rc;
    added++;
  }
  if (!n_groups)
    return TG_OK;
  tg_export_request *req = &batch->request;
  tg_resource_spans **all =
      alloc(&c, (req->n_resource_spans + n_groups) * sizeof *all);
  if (!all)
    return c.rc;
  if (req->n_resource_spans)
    memcpy(all, req->resource_spans, req->n_resource_spans * sizeof *all);
  for (size_t k = 0; k < n_groups; k++)
    all[req->n_resource_spans + k] = groups[k].rs;
  req->resource_spans = all;
  req->n_resource_spans += n_groups;
  batch->span_count += added;
  return TG_OK;
}
