/* The span model (OTLP) → Jaeger api_v2, by the rules of the OpenTelemetry Collector's
 * Jaeger translator (the reverse of jaeger_to_otlp.c, so that
 * OTLP → Jaeger → OTLP is the identity on everything Jaeger can carry):
 *
 * - resource → process: service.name → service_name (TG_JAEGER_NO_SERVICE_NAME when
 *   absent), other resource attributes → process tags.
 * - parent_span_id → a CHILD_OF reference first; links → references, CHILD_OF when the
 *   link's opentracing.ref_type says child_of, else FOLLOWS_FROM (link attributes and
 *   trace state have no place in Jaeger and are dropped).
 * - attributes → typed tags (arrays and maps as their JSON text), then span.kind,
 *   otel.status_code (OK | ERROR) with error=true for ERROR, otel.status_description,
 *   w3c.tracestate, otel.scope.name / otel.scope.version.
 * - events → logs (name as the "event" field); the W3C sampled bit → flag 0x1.
 *
 * Memory: from the caller's arena; OTLP strings and ids are shared. */
#include "translate/jaeger/jaeger_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static tg_jaeger_kv *new_tag(conv *c, const char *key) {
  tg_jaeger_kv *kv = alloc(c, sizeof *kv);
  if (!kv)
    return NULL;
  jaeger__api_v2__key_value__init(kv);
  kv->key = (char *)key;
  return kv;
}

static tg_jaeger_kv *str_tag(conv *c, const char *key, const char *value) {
  tg_jaeger_kv *kv = new_tag(c, key);
  if (kv)
    kv->v_str = (char *)value;
  return kv;
}

/* ---- AnyValue as JSON text (arrays and maps have no Jaeger type) ---- */

typedef struct jbuf {
  conv *c;
  char *p;
  size_t len, cap;
} jbuf;

static void jput(jbuf *b, const char *s, size_t n) {
  if (b->c->rc)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 64);
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = alloc(b->c, cap);
    if (!p)
      return;
    if (b->len)
      memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void jstr(jbuf *b, const char *s) {
  jput(b, "\"", 1);
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char esc[8];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      jput(b, esc, 2);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      jput(b, esc, 6);
    } else {
      jput(b, s, 1);
    }
  }
  jput(b, "\"", 1);
}

static void jvalue(jbuf *b, const tg_any_value *v, unsigned depth) {
  char num[40];
  if (!v || depth > 32) {
    jput(b, "null", 4);
    return;
  }
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    jstr(b, v->string_value);
    return;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    jput(b, v->bool_value ? "true" : "false", v->bool_value ? 4 : 5);
    return;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    jput(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->int_value));
    return;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE: {
    double d = v->double_value;
    if (d != d || d - d != 0) { /* NaN and infinities have no JSON number */
      jstr(b, d != d ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
      return;
    }
    /* the shortest of 15..17 digits that reads back as the same double */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
      n = snprintf(num, sizeof num, "%.*g", prec, d);
      if (strtod(num, NULL) == d)
        break;
    }
    jput(b, num, (size_t)n);
    return;
  }
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    jput(b, "[", 1);
    for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
      if (i)
        jput(b, ",", 1);
      jvalue(b, v->array_value->values[i], depth + 1);
    }
    jput(b, "]", 1);
    return;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
    jput(b, "{", 1);
    for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++) {
      if (i)
        jput(b, ",", 1);
      jstr(b, v->kvlist_value->values[i]->key);
      jput(b, ":", 1);
      jvalue(b, v->kvlist_value->values[i]->value, depth + 1);
    }
    jput(b, "}", 1);
    return;
  default:
    jput(b, "null", 4);
  }
}

static tg_jaeger_kv *convert_attr(conv *c, const tg_key_value *a) {
  tg_jaeger_kv *kv = new_tag(c, a->key);
  if (!kv)
    return NULL;
  const tg_any_value *v = a->value;
  switch (v ? v->value_case : 0) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    kv->v_str = v->string_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    kv->v_type = JAEGER__API_V2__VALUE_TYPE__BOOL;
    kv->v_bool = v->bool_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    kv->v_type = JAEGER__API_V2__VALUE_TYPE__INT64;
    kv->v_int64 = v->int_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    kv->v_type = JAEGER__API_V2__VALUE_TYPE__FLOAT64;
    kv->v_float64 = v->double_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    kv->v_type = JAEGER__API_V2__VALUE_TYPE__BINARY;
    kv->v_binary = v->bytes_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
    jbuf b = {.c = c};
    jvalue(&b, v, 0);
    kv->v_str = b.p ? b.p : (char *)"";
    break;
  }
  default:
    kv->v_str = (char *)"";
  }
  return c->rc ? NULL : kv;
}

static Google__Protobuf__Timestamp *timestamp(conv *c, uint64_t ns) {
  Google__Protobuf__Timestamp *ts = alloc(c, sizeof *ts);
  if (!ts)
    return NULL;
  google__protobuf__timestamp__init(ts);
  ts->seconds = (int64_t)(ns / 1000000000u);
  ts->nanos = (int32_t)(ns % 1000000000u);
  return ts;
}

static int nonzero(const ProtobufCBinaryData *id, size_t len) {
  if (id->len != len)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (id->data[i])
      return 1;
  return 0;
}

static const char *string_attr(const tg_key_value *const *attrs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (attrs[i]->key && !strcmp(attrs[i]->key, key) && attrs[i]->value &&
        attrs[i]->value->value_case ==
            OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
      return attrs[i]->value->string_value;
  return NULL;
}

static tg_jaeger_process *convert_resource(conv *c, const tg_resource *res) {
  tg_jaeger_process *p = alloc(c, sizeof *p);
  if (!p)
    return NULL;
  jaeger__api_v2__process__init(p);
  p->service_name = (char *)TG_JAEGER_NO_SERVICE_NAME;
  size_t n = res ? res->n_attributes : 0;
  if (!n)
    return p;
  p->tags = alloc(c, n * sizeof *p->tags);
  if (!p->tags)
    return NULL;
  int named = 0;
  for (size_t i = 0; i < n; i++) {
    const tg_key_value *a = res->attributes[i];
    if (!named && a->key && !strcmp(a->key, "service.name") && a->value &&
        a->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
      p->service_name = a->value->string_value;
      named = 1;
      continue;
    }
    if (!(p->tags[p->n_tags] = convert_attr(c, a)))
      return NULL;
    p->n_tags++;
  }
  return p;
}

static const char *const kind_names[] = {NULL, "internal", "server", "client", "producer",
                                         "consumer"};

static int convert_tags(conv *c, const tg_span *s, const tg_scope *scope, tg_jaeger_span *js) {
  size_t cap = s->n_attributes + 8;
  js->tags = alloc(c, cap * sizeof *js->tags);
  if (!js->tags)
    return c->rc;
  for (size_t i = 0; i < s->n_attributes; i++) {
    tg_jaeger_kv *kv = convert_attr(c, s->attributes[i]);
    if (!kv)
      return c->rc;
    js->tags[js->n_tags++] = kv;
  }
  tg_jaeger_kv *extra[8];
  size_t n = 0;
  if (s->kind > 0 && s->kind <= 5)
    extra[n++] = str_tag(c, "span.kind", kind_names[s->kind]);
  const tg_span_status *st = s->status;
  if (st && st->code == OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR) {
    extra[n++] = str_tag(c, "otel.status_code", "ERROR");
    tg_jaeger_kv *err = new_tag(c, "error");
    if (err) {
      err->v_type = JAEGER__API_V2__VALUE_TYPE__BOOL;
      err->v_bool = 1;
    }
    extra[n++] = err;
  } else if (st && st->code == OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK) {
    extra[n++] = str_tag(c, "otel.status_code", "OK");
  }
  if (st && st->code && st->message && *st->message)
    extra[n++] = str_tag(c, "otel.status_description", st->message);
  if (s->trace_state && *s->trace_state)
    extra[n++] = str_tag(c, "w3c.tracestate", s->trace_state);
  if (scope && scope->name && *scope->name)
    extra[n++] = str_tag(c, "otel.scope.name", scope->name);
  if (scope && scope->version && *scope->version)
    extra[n++] = str_tag(c, "otel.scope.version", scope->version);
  for (size_t i = 0; i < n; i++) {
    if (!extra[i])
      return c->rc;
    js->tags[js->n_tags++] = extra[i];
  }
  return TG_OK;
}

static int convert_refs(conv *c, const tg_span *s, tg_jaeger_span *js) {
  int parent = nonzero(&s->parent_span_id, TG_SPAN_ID_LEN);
  size_t n = s->n_links + (size_t)parent;
  if (!n)
    return TG_OK;
  js->references = alloc(c, n * sizeof *js->references);
  if (!js->references)
    return c->rc;
  if (parent) {
    tg_jaeger_ref *r = alloc(c, sizeof *r);
    if (!r)
      return c->rc;
    jaeger__api_v2__span_ref__init(r);
    r->trace_id = s->trace_id;
    r->span_id = s->parent_span_id;
    r->ref_type = JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF;
    js->references[js->n_references++] = r;
  }
  for (size_t i = 0; i < s->n_links; i++) {
    const tg_span_link *l = s->links[i];
    if (!nonzero(&l->trace_id, TG_TRACE_ID_LEN) || !nonzero(&l->span_id, TG_SPAN_ID_LEN))
      continue;
    tg_jaeger_ref *r = alloc(c, sizeof *r);
    if (!r)
      return c->rc;
    jaeger__api_v2__span_ref__init(r);
    r->trace_id = l->trace_id;
    r->span_id = l->span_id;
    const char *type = string_attr((const tg_key_value *const *)l->attributes,
                                   l->n_attributes, "opentracing.ref_type");
    r->ref_type = type && !strcmp(type, "child_of") ? JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF
                                                    : JAEGER__API_V2__SPAN_REF_TYPE__FOLLOWS_FROM;
    js->references[js->n_references++] = r;
  }
  return TG_OK;
}

static int convert_events(conv *c, const tg_span *s, tg_jaeger_span *js) {
  if (!s->n_events)
    return TG_OK;
  js->logs = alloc(c, s->n_events * sizeof *js->logs);
  if (!js->logs)
    return c->rc;
  for (size_t i = 0; i < s->n_events; i++) {
    const tg_span_event *ev = s->events[i];
    tg_jaeger_log *log = alloc(c, sizeof *log);
    if (!log)
      return c->rc;
    jaeger__api_v2__log__init(log);
    if (!(log->timestamp = timestamp(c, ev->time_unix_nano)))
      return c->rc;
    log->fields = alloc(c, (ev->n_attributes + 1) * sizeof *log->fields);
    if (!log->fields)
      return c->rc;
    if (ev->name && *ev->name) {
      if (!(log->fields[log->n_fields] = str_tag(c, "event", ev->name)))
        return c->rc;
      log->n_fields++;
    }
    for (size_t a = 0; a < ev->n_attributes; a++) {
      if (!(log->fields[log->n_fields] = convert_attr(c, ev->attributes[a])))
        return c->rc;
      log->n_fields++;
    }
    js->logs[js->n_logs++] = log;
  }
  return TG_OK;
}

static tg_jaeger_span *convert_span(conv *c, const tg_span *s, const tg_scope *scope) {
  tg_jaeger_span *js = alloc(c, sizeof *js);
  if (!js)
    return NULL;
  jaeger__api_v2__span__init(js);
  js->trace_id = s->trace_id;
  js->span_id = s->span_id;
  js->operation_name = s->name ? s->name : (char *)"";
  js->flags = (s->flags & 0x1u) ? TG_JAEGER_FLAG_SAMPLED : 0;
  js->start_time = timestamp(c, s->start_time_unix_nano);
  Google__Protobuf__Duration *d = alloc(c, sizeof *d);
  if (!js->start_time || !d)
    return NULL;
  google__protobuf__duration__init(d);
  uint64_t ns = s->end_time_unix_nano > s->start_time_unix_nano
                    ? s->end_time_unix_nano - s->start_time_unix_nano
                    : 0;
  d->seconds = (int64_t)(ns / 1000000000u);
  d->nanos = (int32_t)(ns % 1000000000u);
  js->duration = d;
  if (convert_refs(c, s, js) || convert_tags(c, s, scope, js) || convert_events(c, s, js))
    return NULL;
  return js;
}

int tg_jaeger_from_otlp(tg_arena *arena, const tg_resource_spans *rs, tg_jaeger_batch **out) {
  conv c = {.a = arena, .rc = TG_OK};
  *out = NULL;
  tg_jaeger_batch *b = alloc(&c, sizeof *b);
  if (!b)
    return c.rc;
  jaeger__api_v2__batch__init(b);
  if (!(b->process = convert_resource(&c, rs->resource)))
    return c.rc;
  size_t n = 0;
  for (size_t i = 0; i < rs->n_scope_spans; i++)
    n += rs->scope_spans[i]->n_spans;
  if (n) {
    b->spans = alloc(&c, n * sizeof *b->spans);
    if (!b->spans)
      return c.rc;
  }
  for (size_t i = 0; i < rs->n_scope_spans; i++) {
    const tg_scope_spans *ss = rs->scope_spans[i];
    for (size_t k = 0; k < ss->n_spans; k++) {
      tg_jaeger_span *js = convert_span(&c, ss->spans[k], ss->scope);
      if (!js)
        return c.rc;
      b->spans[b->n_spans++] = js;
    }
  }
  *out = b;
  return TG_OK;
}
