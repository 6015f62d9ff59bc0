/* The span model (OTLP) → Zipkin v2 model, the inverse of zipkin_to_otlp.c (so Zipkin →
 * OTLP → Zipkin keeps everything Zipkin carries), following the OpenTelemetry
 * specification's Zipkin exporter and the Collector's zipkin exporter:
 *
 * - localEndpoint.serviceName = the resource's service.name, else default_service_name;
 *   its address/port from net.host.ip / net.host.port. Other resource attributes become
 *   tags of each span (Zipkin has no resource), as the Collector does.
 * - remoteEndpoint from peer.service, net.peer.ip, net.peer.port.
 * - ids: a trace id whose high half is zero is written as a 64-bit id (what a Zipkin
 *   tracer sent); otherwise 128-bit. Parent id when present.
 * - kind: CLIENT/SERVER/PRODUCER/CONSUMER one to one; INTERNAL and UNSPECIFIED omitted.
 * - times: nanoseconds → microseconds (truncated); a positive duration under 1 µs is 1.
 * - attributes → tags as text (bools true/false, integers in decimal, doubles in the
 *   shortest form that reads back, bytes in base64, arrays and maps as JSON), except the
 *   endpoint attributes above, zipkin.shared (→ shared) and sampling.priority ≥ 1
 *   (→ debug: true).
 * - status: OK → otel.status_code=OK; ERROR → otel.status_code=ERROR and error=<message>
 *   ("true" when there is none). Scope → otel.scope.name / otel.scope.version;
 *   trace_state → w3c.tracestate.
 * - events → annotations: the name, or `name: {"key":"value",...}` when the event has
 *   attributes (the specification's form). Links have no place in Zipkin and are dropped.
 *
 * Memory: everything from the caller's arena; OTLP strings and ids are shared. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_error.h"
#include "translate/zipkin/zipkin_model.h"

typedef struct conv {
  tg_arena *a;
  int rc;
  tg_buf text; /* scratch for JSON-valued tags */
} conv;

static void *alloc(conv *c, size_t n) {
  void *p = tg_arena_alloc(c->a, n ? n : 1);
  if (!p && c->rc == TG_OK)
    c->rc = c->a->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  return p;
}

static char *dup_text(conv *c, const char *s, size_t n) {
  char *d = alloc(c, n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static int is_str(const tg_any_value *v) {
  return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
}

static int int_of(const tg_any_value *v, int64_t *out) {
  if (!v)
    return 0;
  if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE) {
    *out = v->int_value;
    return 1;
  }
  if (is_str(v) && v->string_value) {
    char *end;
    long long n = strtoll(v->string_value, &end, 10);
    if (end != v->string_value && !*end) {
      *out = n;
      return 1;
    }
  }
  return 0;
}

/* ---- values as text ---- */

static int append_value(tg_buf *b, const tg_any_value *v, int depth);

static void append_double(tg_buf *b, double d) {
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d)
    snprintf(tmp, sizeof tmp, "%.17g", d);
  tg_buf_append_str(b, tmp);
}

static void append_base64(tg_buf *b, const uint8_t *p, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {tbl[x >> 18 & 63], tbl[x >> 12 & 63], i + 1 < n ? tbl[x >> 6 & 63] : '=',
                 i + 2 < n ? tbl[x & 63] : '='};
    tg_buf_append(b, q, 4);
  }
}

/* Top-level: strings unquoted; nested (in arrays/maps): JSON. */
static int append_json_value(tg_buf *b, const tg_any_value *v, int depth) {
  if (depth > 32)
    return tg_buf_append_str(b, "null");
  if (!v)
    return tg_buf_append_str(b, "null");
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE: {
    tg_buf tmp;
    tg_buf_init(&tmp, 0);
    append_value(&tmp, v, depth);
    int rc = tg_zipkin_json_append_string(b, tmp.data ? (const char *)tmp.data : "", tmp.len);
    tg_buf_free(&tmp);
    return rc;
  }
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
    tg_buf_append(b, "[", 1);
    const tg_array_value *a = v->array_value;
    for (size_t i = 0; a && i < a->n_values; i++) {
      if (i)
        tg_buf_append(b, ",", 1);
      append_json_value(b, a->values[i], depth + 1);
    }
    return tg_buf_append(b, "]", 1);
  }
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
    tg_buf_append(b, "{", 1);
    const tg_kvlist_value *l = v->kvlist_value;
    for (size_t i = 0; l && i < l->n_values; i++) {
      const char *k = l->values[i]->key ? l->values[i]->key : "";
      if (i)
        tg_buf_append(b, ",", 1);
      tg_zipkin_json_append_string(b, k, strlen(k));
      tg_buf_append(b, ":", 1);
      append_json_value(b, l->values[i]->value, depth + 1);
    }
    return tg_buf_append(b, "}", 1);
  }
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET:
    return tg_buf_append_str(b, "null");
  default: return append_value(b, v, depth);
  }
}

static int append_value(tg_buf *b, const tg_any_value *v, int depth) {
  if (!v)
    return TG_OK;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    return tg_buf_append_str(b, v->string_value ? v->string_value : "");
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    return tg_buf_append_str(b, v->bool_value ? "true" : "false");
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    return tg_buf_appendf(b, "%" PRId64, v->int_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    append_double(b, v->double_value);
    return TG_OK;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    append_base64(b, v->bytes_value.data, v->bytes_value.len);
    return TG_OK;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
    return append_json_value(b, v, depth);
  default: return TG_OK;
  }
}

/* The value as tag text, in the arena (strings are shared). */
static char *text_of(conv *c, const tg_any_value *v) {
  if (is_str(v))
    return v->string_value ? v->string_value : (char *)"";
  c->text.len = 0;
  if (append_value(&c->text, v, 0) != TG_OK) {
    if (c->rc == TG_OK)
      c->rc = TG_ENOMEM;
    return NULL;
  }
  return dup_text(c, c->text.data ? (const char *)c->text.data : "", c->text.len);
}

/* ---- endpoints ---- */

static void set_ip(conv *c, tg_zipkin_endpoint *e, const char *text) {
  uint8_t b[16];
  if (inet_pton(AF_INET, text, b) == 1) {
    e->ipv4.data = tg_arena_memdup(c->a, b, 4);
    e->ipv4.len = e->ipv4.data ? 4 : 0;
  } else if (inet_pton(AF_INET6, text, b) == 1) {
    e->ipv6.data = tg_arena_memdup(c->a, b, 16);
    e->ipv6.len = e->ipv6.data ? 16 : 0;
  }
}

static tg_zipkin_endpoint *new_endpoint(conv *c) {
  tg_zipkin_endpoint *e = alloc(c, sizeof *e);
  if (e)
    zipkin__proto3__endpoint__init(e);
  return e;
}

/* ---- spans ---- */

typedef struct res_info {
  const char *service;
  const tg_resource *res; /* attributes other than service.name become tags */
} res_info;

static tg_zipkin_tag *new_tag(conv *c, const char *k, const char *v) {
  tg_zipkin_tag *t = alloc(c, sizeof *t);
  if (!t)
    return NULL;
  zipkin__proto3__span__tags_entry__init(t);
  t->key = (char *)k;
  t->value = (char *)v;
  return t;
}

static int add_tag(conv *c, tg_zipkin_span *z, const char *k, const char *v) {
  if (!v)
    return c->rc ? c->rc : TG_ENOMEM;
  tg_zipkin_tag *t = new_tag(c, k, v);
  if (!t)
    return c->rc;
  z->tags[z->n_tags++] = t;
  return TG_OK;
}

static int convert_events(conv *c, const tg_span *s, tg_zipkin_span *z) {
  if (!s->n_events)
    return TG_OK;
  tg_zipkin_annotation *block = alloc(c, s->n_events * sizeof *block);
  z->annotations = alloc(c, s->n_events * sizeof *z->annotations);
  if (!block || !z->annotations)
    return c->rc;
  for (size_t i = 0; i < s->n_events; i++) {
    const tg_span_event *ev = s->events[i];
    tg_zipkin_annotation *a = &block[i];
    zipkin__proto3__annotation__init(a);
    a->timestamp = ev->time_unix_nano / 1000u;
    const char *name = ev->name ? ev->name : "";
    if (!ev->n_attributes) {
      a->value = (char *)name;
    } else {
      c->text.len = 0;
      tg_buf_append_str(&c->text, name);
      tg_buf_append_str(&c->text, ": {");
      for (size_t k = 0; k < ev->n_attributes; k++) {
        const char *key = ev->attributes[k]->key ? ev->attributes[k]->key : "";
        if (k)
          tg_buf_append(&c->text, ",", 1);
        tg_zipkin_json_append_string(&c->text, key, strlen(key));
        tg_buf_append(&c->text, ":", 1);
        append_json_value(&c->text, ev->attributes[k]->value, 1);
      }
      if (tg_buf_append(&c->text, "}", 1) != TG_OK)
        return c->rc = TG_ENOMEM;
      if (!(a->value = dup_text(c, (const char *)c->text.data, c->text.len)))
        return c->rc;
    }
    z->annotations[z->n_annotations++] = a;
  }
  return TG_OK;
}

static int convert_span(conv *c, const res_info *ri, const tg_scope *scope, const tg_span *s,
                        tg_zipkin_span *z) {
  zipkin__proto3__span__init(z);
  z->trace_id = s->trace_id;
  if (s->trace_id.len == 16) {
    static const uint8_t zero[8];
    if (!memcmp(s->trace_id.data, zero, 8)) {
      z->trace_id.data = s->trace_id.data + 8;
      z->trace_id.len = 8;
    }
  }
  z->id = s->span_id;
  if (s->parent_span_id.len)
    z->parent_id = s->parent_span_id;
  z->name = s->name ? s->name : (char *)"";
  switch (s->kind) {
  case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT:
    z->kind = TG_ZIPKIN_KIND_CLIENT;
    break;
  case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER:
    z->kind = TG_ZIPKIN_KIND_SERVER;
    break;
  case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER:
    z->kind = TG_ZIPKIN_KIND_PRODUCER;
    break;
  case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER:
    z->kind = TG_ZIPKIN_KIND_CONSUMER;
    break;
  default: break;
  }
  z->timestamp = s->start_time_unix_nano / 1000u;
  if (s->end_time_unix_nano > s->start_time_unix_nano) {
    z->duration = (s->end_time_unix_nano - s->start_time_unix_nano) / 1000u;
    if (!z->duration)
      z->duration = 1;
  }
  size_t n_res = ri->res ? ri->res->n_attributes : 0;
  z->tags = alloc(c, (s->n_attributes + n_res + 6) * sizeof *z->tags);
  if (!z->tags)
    return c->rc;
  tg_zipkin_endpoint *local = new_endpoint(c), *remote = NULL;
  if (!local)
    return c->rc;
  local->service_name = (char *)ri->service;
  z->local_endpoint = local;
  for (size_t i = 0; i < s->n_attributes; i++) {
    const tg_key_value *kv = s->attributes[i];
    const char *k = kv->key ? kv->key : "";
    const tg_any_value *v = kv->value;
    int64_t n;
    if (!strcmp(k, "peer.service") && is_str(v)) {
      if (!remote && !(remote = new_endpoint(c)))
        return c->rc;
      remote->service_name = v->string_value;
      continue;
    }
    if (!strcmp(k, "net.peer.ip") && is_str(v) && v->string_value) {
      if (!remote && !(remote = new_endpoint(c)))
        return c->rc;
      set_ip(c, remote, v->string_value);
      continue;
    }
    if (!strcmp(k, "net.peer.port") && int_of(v, &n) && n > 0 && n <= 65535) {
      if (!remote && !(remote = new_endpoint(c)))
        return c->rc;
      remote->port = (int32_t)n;
      continue;
    }
    if (!strcmp(k, "net.host.ip") && is_str(v) && v->string_value) {
      set_ip(c, local, v->string_value);
      continue;
    }
    if (!strcmp(k, "net.host.port") && int_of(v, &n) && n > 0 && n <= 65535) {
      local->port = (int32_t)n;
      continue;
    }
    if (!strcmp(k, TG_ZIPKIN_SHARED_ATTR) && v &&
        v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE) {
      z->shared = v->bool_value;
      continue;
    }
    if (!strcmp(k, "sampling.priority") && int_of(v, &n) && n >= 1) {
      z->debug = 1;
      continue;
    }
    if (add_tag(c, z, k, text_of(c, v)))
      return c->rc;
  }
  z->remote_endpoint = remote;
  for (size_t i = 0; i < n_res; i++) {
    const tg_key_value *kv = ri->res->attributes[i];
    if (!kv->key || !strcmp(kv->key, "service.name"))
      continue;
    if (add_tag(c, z, kv->key, text_of(c, kv->value)))
      return c->rc;
  }
  if (s->status) {
    if (s->status->code == OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK) {
      if (add_tag(c, z, "otel.status_code", "OK"))
        return c->rc;
    } else if (s->status->code ==
               OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR) {
      const char *m = s->status->message && *s->status->message ? s->status->message : "true";
      if (add_tag(c, z, "otel.status_code", "ERROR") || add_tag(c, z, "error", m))
        return c->rc;
    }
  }
  if (scope && scope->name && *scope->name && add_tag(c, z, "otel.scope.name", scope->name))
    return c->rc;
  if (scope && scope->version && *scope->version &&
      add_tag(c, z, "otel.scope.version", scope->version))
    return c->rc;
  if (s->trace_state && *s->trace_state && add_tag(c, z, "w3c.tracestate", s->trace_state))
    return c->rc;
  return convert_events(c, s, z);
}

int tg_zipkin_from_otlp(tg_arena *arena, const tg_export_request *req,
                        const char *default_service_name, tg_zipkin_list **out) {
  conv c = {.a = arena, .rc = TG_OK};
  tg_buf_init(&c.text, 0);
  *out = NULL;
  size_t total = 0;
  for (size_t r = 0; r < req->n_resource_spans; r++)
    for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++)
      total += req->resource_spans[r]->scope_spans[s]->n_spans;
  tg_zipkin_list *list = alloc(&c, sizeof *list);
  tg_zipkin_span *block = alloc(&c, (total ? total : 1) * sizeof *block);
  if (list)
    zipkin__proto3__list_of_spans__init(list);
  if (list && !(list->spans = alloc(&c, (total ? total : 1) * sizeof *list->spans)))
    list = NULL;
  if (!list || !block) {
    tg_buf_free(&c.text);
    return c.rc;
  }
  for (size_t r = 0; r < req->n_resource_spans && !c.rc; r++) {
    const tg_resource_spans *rs = req->resource_spans[r];
    res_info ri = {.service = default_service_name ? default_service_name
                                                   : TG_ZIPKIN_DEFAULT_SERVICE_NAME,
                   .res = rs->resource};
    for (size_t i = 0; rs->resource && i < rs->resource->n_attributes; i++) {
      const tg_key_value *kv = rs->resource->attributes[i];
      if (kv->key && !strcmp(kv->key, "service.name") && is_str(kv->value) &&
          kv->value->string_value && *kv->value->string_value)
        ri.service = kv->value->string_value;
    }
    for (size_t s = 0; s < rs->n_scope_spans && !c.rc; s++) {
      const tg_scope_spans *ss = rs->scope_spans[s];
      for (size_t k = 0; k < ss->n_spans; k++) {
        tg_zipkin_span *z = &block[list->n_spans];
        if (convert_span(&c, &ri, ss->scope, ss->spans[k], z))
          break;
        list->spans[list->n_spans++] = z;
      }
    }
  }
  tg_buf_free(&c.text);
  if (c.rc)
    return c.rc;
  *out = list;
  return TG_OK;
}
