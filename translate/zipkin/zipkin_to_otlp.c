/* Zipkin (v2 model) → the span model (OTLP), by Zipkin's and the OpenTelemetry
 * Collector's rules, so that a trace reads the same whichever gateway it went through:
 *
 * - resource: localEndpoint.serviceName → service.name (omitted when empty); spans are
 *   grouped into one ResourceSpans per service name, and into ScopeSpans by the
 *   otel.scope.name/version tags (or the older otel.library.*), which are consumed.
 * - ids: 64-bit trace ids become 128-bit with a zero high half, so a Zipkin/B3 service's
 *   spans join the trace a W3C or Jaeger service reports; span and parent ids are 8 bytes.
 * - kind: CLIENT, SERVER, PRODUCER, CONSUMER map one to one; none → UNSPECIFIED.
 * - times: microseconds → nanoseconds; end = timestamp + duration.
 * - tags → string attributes, except the ones consumed: `error` → status ERROR whose
 *   message is the tag's value (unless it is "" or "true", Zipkin's bare flag); otherwise
 *   otel.status_code OK/ERROR with otel.status_description → status; w3c.tracestate →
 *   trace_state.
 * - endpoints → attributes: remoteEndpoint.serviceName → peer.service, its address →
 *   net.peer.ip, port → net.peer.port; localEndpoint's address → net.host.ip, port →
 *   net.host.port (the Collector's names).
 * - annotations → events (value as the name, timestamp in ns).
 * - debug: true → sampling.priority = 1 (tail sampling always keeps such traces), unless
 *   a sampling.priority tag is there already; shared: true → zipkin.shared = true (OTLP
 *   has no field; the exporter turns it back into `shared`).
 *
 * Two passes: the first validates ids and assigns each span its resource and scope group
 * (hash tables over service names and (service, scope) pairs, so a batch with many
 * distinct services stays linear); the second allocates every array at its final size
 * and converts. Memory: everything from the batch's arena; model strings are shared. */
#include <arpa/inet.h>
#include <string.h>

#include "tg_error.h"
#include "translate/zipkin/zipkin_model.h"

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

static int nonzero(const ProtobufCBinaryData *id) {
  for (size_t i = 0; i < id->len; i++)
    if (id->data[i])
      return 1;
  return 0;
}

static int valid_span(const tg_zipkin_span *s) {
  return (s->trace_id.len == 8 || s->trace_id.len == 16) && nonzero(&s->trace_id) &&
         s->id.len == 8 && nonzero(&s->id);
}

static const char *service_of(const tg_zipkin_span *s) {
  const char *n = s->local_endpoint ? s->local_endpoint->service_name : NULL;
  return n ? n : "";
}

/* The tags this file consumes or looks at, found in one pass over a span's tags (the
 * first occurrence of each wins). Most tags start with none of e, o, s, w, so most cost
 * one comparison. */
enum { T_ERROR, T_STATUS_CODE, T_STATUS_DESC, T_TRACESTATE, T_SCOPE_NAME, T_SCOPE_VERSION,
       T_LIB_NAME, T_LIB_VERSION, T_PRIORITY, T_COUNT_ };

typedef struct special {
  const char *v[T_COUNT_];
} special;

static int classify(const char *k) {
  switch (k[0]) {
  case 'e': return !strcmp(k, "error") ? T_ERROR : -1;
  case 'w': return !strcmp(k, "w3c.tracestate") ? T_TRACESTATE : -1;
  case 's': return !strcmp(k, "sampling.priority") ? T_PRIORITY : -1;
  case 'o':
    if (strncmp(k, "otel.", 5))
      return -1;
    k += 5;
    if (!strcmp(k, "status_code"))
      return T_STATUS_CODE;
    if (!strcmp(k, "status_description"))
      return T_STATUS_DESC;
    if (!strcmp(k, "scope.name"))
      return T_SCOPE_NAME;
    if (!strcmp(k, "scope.version"))
      return T_SCOPE_VERSION;
    if (!strcmp(k, "library.name"))
      return T_LIB_NAME;
    if (!strcmp(k, "library.version"))
      return T_LIB_VERSION;
    return -1;
  default: return -1;
  }
}

static void find_special(const tg_zipkin_span *s, special *sp) {
  memset(sp, 0, sizeof *sp);
  for (size_t i = 0; i < s->n_tags; i++) {
    const char *k = s->tags[i]->key;
    int c = k ? classify(k) : -1;
    if (c >= 0 && !sp->v[c])
      sp->v[c] = s->tags[i]->value ? s->tags[i]->value : "";
  }
}

static void scope_of(const special *sp, const char **name, const char **version) {
  *name = sp->v[T_SCOPE_NAME] ? sp->v[T_SCOPE_NAME] : sp->v[T_LIB_NAME];
  *version = sp->v[T_SCOPE_VERSION] ? sp->v[T_SCOPE_VERSION] : sp->v[T_LIB_VERSION];
  if (!*name)
    *name = "";
  if (!*version)
    *version = "";
}

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return (h ^ 0xff) * 1099511628211ull; /* separator */
}

/* ---- attributes ---- */

static tg_key_value *new_attr(conv *c, const char *key, tg_any_value **val) {
  tg_key_value *kv = alloc(c, sizeof *kv);
  tg_any_value *v = alloc(c, sizeof *v);
  if (!kv || !v)
    return NULL;
  opentelemetry__proto__common__v1__key_value__init(kv);
  opentelemetry__proto__common__v1__any_value__init(v);
  kv->key = (char *)key;
  kv->value = v;
  *val = v;
  return kv;
}

static int add_str(conv *c, tg_span *span, const char *key, const char *value) {
  tg_any_value *v;
  tg_key_value *kv = new_attr(c, key, &v);
  if (!kv)
    return c->rc;
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = (char *)value;
  span->attributes[span->n_attributes++] = kv;
  return TG_OK;
}

static int add_int(conv *c, tg_span *span, const char *key, int64_t value) {
  tg_any_value *v;
  tg_key_value *kv = new_attr(c, key, &v);
  if (!kv)
    return c->rc;
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v->int_value = value;
  span->attributes[span->n_attributes++] = kv;
  return TG_OK;
}

/* The textual address of an endpoint (ipv6 when ipv4 is absent), in the arena. */
static const char *ip_of(conv *c, const tg_zipkin_endpoint *e) {
  char buf[64];
  const char *t = tg_zipkin_ip_text(&e->ipv4, buf, sizeof buf);
  if (!t)
    t = tg_zipkin_ip_text(&e->ipv6, buf, sizeof buf);
  if (!t)
    return NULL;
  size_t n = strlen(t) + 1;
  char *s = alloc(c, n);
  if (s)
    memcpy(s, t, n);
  return s;
}

const char *tg_zipkin_ip_text(const ProtobufCBinaryData *ip, char *buf, size_t size) {
  if (ip->len == 4)
    return inet_ntop(AF_INET, ip->data, buf, (socklen_t)size);
  if (ip->len == 16)
    return inet_ntop(AF_INET6, ip->data, buf, (socklen_t)size);
  return NULL;
}


static int upper_eq(const char *s, const char *upper) {
  for (; *s && *upper; s++, upper++)
    if ((*s >= 'a' && *s <= 'z' ? *s - 32 : *s) != *upper)
      return 0;
  return !*s && !*upper;
}

static int convert_status(conv *c, const special *sp, tg_span *span) {
  const char *err = sp->v[T_ERROR];
  const char *code = sp->v[T_STATUS_CODE];
  const char *desc = sp->v[T_STATUS_DESC];
  int st_code = 0;
  const char *msg = NULL;
  if (err) {
    st_code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    msg = *err && strcmp(err, "true") ? err : desc;
  } else if (code) {
    if (upper_eq(code, "OK"))
      st_code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
    else if (upper_eq(code, "ERROR"))
      st_code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    msg = desc;
  } else {
    return TG_OK; /* a lone otel.status_description stays an attribute (below) */
  }
  tg_span_status *st = alloc(c, sizeof *st);
  if (!st)
    return c->rc;
  opentelemetry__proto__trace__v1__status__init(st);
  st->code = st_code;
  if (msg)
    st->message = (char *)msg;
  span->status = st;
  return TG_OK;
}

static int convert_attrs(conv *c, const tg_zipkin_span *zs, const special *sp, tg_span *span) {
  /* tags + peer.service, net.peer.ip, net.peer.port, net.host.ip, net.host.port,
   * sampling.priority, zipkin.shared, otel.status_description */
  span->attributes = alloc(c, (zs->n_tags + 8) * sizeof *span->attributes);
  if (!span->attributes)
    return c->rc;
  int has_priority = sp->v[T_PRIORITY] != NULL;
  for (size_t i = 0; i < zs->n_tags; i++) {
    const tg_zipkin_tag *t = zs->tags[i];
    if (!t->key)
      continue;
    int k = classify(t->key);
    if (k >= 0 && k != T_PRIORITY)
      continue; /* consumed */
    if (add_str(c, span, t->key, t->value ? t->value : ""))
      return c->rc;
  }
  const tg_zipkin_endpoint *re = zs->remote_endpoint, *le = zs->local_endpoint;
  if (re) {
    if (re->service_name && *re->service_name &&
        add_str(c, span, "peer.service", re->service_name))
      return c->rc;
    const char *ip = ip_of(c, re);
    if (ip && add_str(c, span, "net.peer.ip", ip))
      return c->rc;
    if (re->port > 0 && add_int(c, span, "net.peer.port", re->port))
      return c->rc;
  }
  if (le) {
    const char *ip = ip_of(c, le);
    if (ip && add_str(c, span, "net.host.ip", ip))
      return c->rc;
    if (le->port > 0 && add_int(c, span, "net.host.port", le->port))
      return c->rc;
  }
  if (zs->debug && !has_priority && add_int(c, span, "sampling.priority", 1))
    return c->rc;
  if (zs->shared) {
    tg_any_value *v;
    tg_key_value *kv = new_attr(c, TG_ZIPKIN_SHARED_ATTR, &v);
    if (!kv)
      return c->rc;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = 1;
    span->attributes[span->n_attributes++] = kv;
  }
  return c->rc;
}

static int convert_events(conv *c, const tg_zipkin_span *zs, tg_span *span) {
  if (!zs->n_annotations)
    return TG_OK;
  tg_span_event *evs = alloc(c, zs->n_annotations * sizeof *evs);
  span->events = alloc(c, zs->n_annotations * sizeof *span->events);
  if (!evs || !span->events)
    return c->rc;
  for (size_t i = 0; i < zs->n_annotations; i++) {
    tg_span_event *ev = &evs[i];
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->time_unix_nano = zs->annotations[i]->timestamp * 1000u;
    ev->name = zs->annotations[i]->value ? zs->annotations[i]->value : (char *)"";
    span->events[span->n_events++] = ev;
  }
  return TG_OK;
}

static int convert_span(conv *c, const tg_zipkin_span *zs, tg_span *span) {
  opentelemetry__proto__trace__v1__span__init(span);
  if (zs->trace_id.len == 16) {
    span->trace_id = zs->trace_id;
  } else {
    uint8_t *id = alloc(c, TG_TRACE_ID_LEN);
    if (!id)
      return c->rc;
    memset(id, 0, 8);
    memcpy(id + 8, zs->trace_id.data, 8);
    span->trace_id.data = id;
    span->trace_id.len = TG_TRACE_ID_LEN;
  }
  span->span_id = zs->id;
  if (zs->parent_id.len == 8 && nonzero(&zs->parent_id))
    span->parent_span_id = zs->parent_id;
  span->name = zs->name ? zs->name : (char *)"";
  switch (zs->kind) {
  case TG_ZIPKIN_KIND_CLIENT:
    span->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
    break;
  case TG_ZIPKIN_KIND_SERVER:
    span->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    break;
  case TG_ZIPKIN_KIND_PRODUCER:
    span->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER;
    break;
  case TG_ZIPKIN_KIND_CONSUMER:
    span->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER;
    break;
  default: break;
  }
  span->start_time_unix_nano = zs->timestamp * 1000u;
  span->end_time_unix_nano = span->start_time_unix_nano + zs->duration * 1000u;
  special sp;
  find_special(zs, &sp);
  if (sp.v[T_TRACESTATE])
    span->trace_state = (char *)sp.v[T_TRACESTATE];
  if (convert_status(c, &sp, span))
    return c->rc;
  if (convert_attrs(c, zs, &sp, span) || convert_events(c, zs, span))
    return c->rc;
  /* a lone otel.status_description (no status claimed it) stays an attribute */
  if (!sp.v[T_ERROR] && !sp.v[T_STATUS_CODE] && sp.v[T_STATUS_DESC] &&
      add_str(c, span, "otel.status_description", sp.v[T_STATUS_DESC]))
    return c->rc;
  return TG_OK;
}

/* ---- grouping ---- */

typedef struct slot {
  size_t index_plus_1; /* 0 = empty */
  uint64_t hash;
} slot;

typedef struct rgroup {
  const char *service;
  size_t n_scopes, n_spans;
  tg_resource_spans *rs;
} rgroup;

typedef struct sgroup {
  size_t resource;
  const char *name, *version;
  size_t n_spans;
  tg_scope_spans *ss;
} sgroup;

int tg_zipkin_to_otlp(tg_batch *batch, tg_zipkin_span *const *spans, size_t n,
                      size_t *invalid) {
  conv c = {.a = batch->arena, .rc = TG_OK};
  *invalid = 0;
  if (!n)
    return TG_OK;
  size_t cap = 8;
  while (cap < 2 * n)
    cap *= 2;
  slot *rslots = alloc(&c, cap * sizeof *rslots);
  slot *sslots = alloc(&c, cap * sizeof *sslots);
  rgroup *rg = alloc(&c, n * sizeof *rg);
  sgroup *sg = alloc(&c, n * sizeof *sg);
  size_t *span_scope = alloc(&c, n * sizeof *span_scope);
  if (c.rc)
    return c.rc;
  memset(rslots, 0, cap * sizeof *rslots);
  memset(sslots, 0, cap * sizeof *sslots);
  size_t n_rg = 0, n_sg = 0, valid = 0;
  /* pass 1: groups */
  for (size_t i = 0; i < n; i++) {
    const tg_zipkin_span *zs = spans[i];
    if (!valid_span(zs)) {
      (*invalid)++;
      span_scope[i] = (size_t)-1;
      continue;
    }
    const char *svc = service_of(zs);
    uint64_t rh = fnv(1469598103934665603ull, svc);
    size_t r;
    for (size_t k = rh & (cap - 1);; k = (k + 1) & (cap - 1)) {
      if (!rslots[k].index_plus_1) {
        r = n_rg++;
        rg[r] = (rgroup){.service = svc};
        rslots[k] = (slot){r + 1, rh};
        break;
      }
      if (rslots[k].hash == rh && !strcmp(rg[rslots[k].index_plus_1 - 1].service, svc)) {
        r = rslots[k].index_plus_1 - 1;
        break;
      }
    }
    const char *name, *version;
    special sp;
    find_special(zs, &sp);
    scope_of(&sp, &name, &version);
    uint64_t sh = fnv(fnv(rh, name), version);
    size_t s;
    for (size_t k = sh & (cap - 1);; k = (k + 1) & (cap - 1)) {
      if (!sslots[k].index_plus_1) {
        s = n_sg++;
        sg[s] = (sgroup){.resource = r, .name = name, .version = version};
        sslots[k] = (slot){s + 1, sh};
        rg[r].n_scopes++;
        break;
      }
      const sgroup *g = &sg[sslots[k].index_plus_1 - 1];
      if (sslots[k].hash == sh && g->resource == r && !strcmp(g->name, name) &&
          !strcmp(g->version, version)) {
        s = sslots[k].index_plus_1 - 1;
        break;
      }
    }
    sg[s].n_spans++;
    span_scope[i] = s;
    valid++;
  }
  if (!valid)
    return TG_OK;
  /* pass 2: messages at their final sizes, then spans */
  for (size_t r = 0; r < n_rg; r++) {
    tg_resource_spans *rs = alloc(&c, sizeof *rs);
    tg_resource *res = alloc(&c, sizeof *res);
    if (!rs || !res)
      return c.rc;
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__resource__v1__resource__init(res);
    rs->resource = res;
    if (*rg[r].service) {
      tg_any_value *v;
      tg_key_value *kv = new_attr(&c, "service.name", &v);
      res->attributes = alloc(&c, sizeof *res->attributes);
      if (!kv || !res->attributes)
        return c.rc;
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
      v->string_value = (char *)rg[r].service;
      res->attributes[0] = kv;
      res->n_attributes = 1;
    }
    rs->scope_spans = alloc(&c, rg[r].n_scopes * sizeof *rs->scope_spans);
    if (!rs->scope_spans)
      return c.rc;
    rg[r].rs = rs;
  }
  for (size_t s = 0; s < n_sg; s++) {
    tg_scope_spans *ss = alloc(&c, sizeof *ss);
    tg_scope *scope = alloc(&c, sizeof *scope);
    if (!ss || !scope)
      return c.rc;
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
    scope->name = (char *)sg[s].name;
    scope->version = (char *)sg[s].version;
    ss->scope = scope;
    ss->spans = alloc(&c, sg[s].n_spans * sizeof *ss->spans);
    if (!ss->spans)
      return c.rc;
    sg[s].ss = ss;
    tg_resource_spans *rs = rg[sg[s].resource].rs;
    rs->scope_spans[rs->n_scope_spans++] = ss;
  }
  tg_span *block = alloc(&c, valid * sizeof *block);
  if (!block)
    return c.rc;
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    if (span_scope[i] == (size_t)-1)
      continue;
    tg_span *span = &block[used++];
    if (convert_span(&c, spans[i], span))
      return c.rc;
    tg_scope_spans *ss = sg[span_scope[i]].ss;
    ss->spans[ss->n_spans++] = span;
  }
  tg_export_request *req = &batch->request;
  tg_resource_spans **all = alloc(&c, (req->n_resource_spans + n_rg) * sizeof *all);
  if (!all)
    return c.rc;
  if (req->n_resource_spans)
    memcpy(all, req->resource_spans, req->n_resource_spans * sizeof *all);
  for (size_t r = 0; r < n_rg; r++)
    all[req->n_resource_spans + r] = rg[r].rs;
  req->resource_spans = all;
  req->n_resource_spans += n_rg;
  batch->span_count += valid;
  return TG_OK;
}
