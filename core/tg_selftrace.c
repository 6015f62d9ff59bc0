/* Self-tracing: sampled spans go into a bounded ring; a sender thread drains it every
 * 500 ms (or at 512 spans), encodes one ExportTraceServiceRequest with protobuf-c and POSTs
 * it with libcurl. The hot path (a receiver's request) pays one trace-ID comparison when
 * not sampled; when sampled, two clock reads and one short critical section per span.
 *
 * Why a thread and not the exporters' queue: the spans must never enter tailgate's own
 * pipelines (a self-trace that is itself traced would loop), and a dead endpoint must not
 * slow anything down: a full ring drops (counted), a failed POST is counted and dropped. */
#include "tg_selftrace.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tg_lazy_curl.h" /* <curl/curl.h>, and libcurl calls through the dlopen'd table */
#include "tg_http_send.h" /* tg_http_global_init: loads libcurl */

#include "tg_alloc.h"
#include "trace_service.pb-c.h"

#define SEND_BATCH 512
#define FLUSH_MS 500

struct tg_selftrace {
  char *endpoint;
  double ratio;
  unsigned propagators;
  tg_logger *log;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  int stopping;
  tg_idgen ids;
  tg_selfspan *ring; /* TG_SELFTRACE_RING entries */
  size_t head, count;
  tg_selftrace_stats stats;
};

int tg_selftrace_sampled(const uint8_t trace_id[16], double ratio) {
  if (ratio >= 1.0)
    return 1;
  if (ratio <= 0.0)
    return 0;
  uint64_t r = 0;
  for (int i = 9; i < 16; i++)
    r = (r << 8) | trace_id[i];
  /* integer compare: 2^56 - floor(ratio * 2^56) is ceil((1 - ratio) * 2^56) up to the
   * double's precision at ratio * 2^56 (< 2^56: exact to 1/8), where a double compare of
   * 56-bit values would round R itself */
  uint64_t keep = (uint64_t)(ratio * 72057594037927936.0); /* 2^56 */
  return r >= (UINT64_C(1) << 56) - keep;
}

static uint64_t unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int tg_selftrace_begin(tg_selftrace *t, const tg_tracectx *parent, const char *name, int kind,
                       tg_selfspan *s) {
  s->sampled = 0;
  if (!t || t->ratio <= 0.0)
    return 0;
  if (parent) {
    if (!tg_selftrace_sampled(parent->trace_id, t->ratio))
      return 0;
    memcpy(s->trace_id, parent->trace_id, 16);
    memcpy(s->parent_id, parent->span_id, 8);
    s->flags = (uint8_t)(parent->flags | TG_TRACECTX_SAMPLED);
  } else {
    pthread_mutex_lock(&t->lock);
    tg_idgen_trace_id(&t->ids, s->trace_id);
    pthread_mutex_unlock(&t->lock);
    if (!tg_selftrace_sampled(s->trace_id, t->ratio))
      return 0;
    memset(s->parent_id, 0, 8);
    s->flags = TG_TRACECTX_SAMPLED | TG_TRACECTX_RANDOM;
  }
  pthread_mutex_lock(&t->lock);
  tg_idgen_span_id(&t->ids, s->span_id);
  pthread_mutex_unlock(&t->lock);
  s->sampled = 1;
  s->kind = (uint8_t)kind;
  s->error = 0;
  s->n_attrs = 0;
  s->name = name;
  s->start_ns = unix_ns();
  s->end_ns = 0;
  return 1;
}

int tg_selftrace_child(tg_selftrace *t, const tg_selfspan *parent, const char *name, int kind,
                       tg_selfspan *s) {
  s->sampled = 0;
  if (!t || !parent->sampled)
    return 0;
  memcpy(s->trace_id, parent->trace_id, 16);
  memcpy(s->parent_id, parent->span_id, 8);
  pthread_mutex_lock(&t->lock);
  tg_idgen_span_id(&t->ids, s->span_id);
  pthread_mutex_unlock(&t->lock);
  s->flags = parent->flags;
  s->sampled = 1;
  s->kind = (uint8_t)kind;
  s->error = 0;
  s->n_attrs = 0;
  s->name = name;
  s->start_ns = unix_ns();
  return 1;
}

void tg_selfspan_attr_int(tg_selfspan *s, const char *key, int64_t v) {
  if (!s->sampled || s->n_attrs >= TG_SELFSPAN_MAX_ATTRS)
    return;
  tg_selfspan_attr *a = &s->attrs[s->n_attrs++];
  a->key = key;
  a->is_int = 1;
  a->i = v;
}

void tg_selfspan_attr_str(tg_selfspan *s, const char *key, const char *v) {
  if (!s->sampled || s->n_attrs >= TG_SELFSPAN_MAX_ATTRS)
    return;
  tg_selfspan_attr *a = &s->attrs[s->n_attrs++];
  a->key = key;
  a->is_int = 0;
  snprintf(a->s, sizeof a->s, "%s", v ? v : "");
}

void tg_selftrace_end(tg_selftrace *t, tg_selfspan *s) {
  if (!t || !s->sampled)
    return;
  s->end_ns = unix_ns();
  pthread_mutex_lock(&t->lock);
  t->stats.sampled++;
  if (t->count == TG_SELFTRACE_RING) {
    t->stats.dropped++;
  } else {
    t->ring[(t->head + t->count) % TG_SELFTRACE_RING] = *s;
    t->count++;
    if (t->count >= SEND_BATCH)
      pthread_cond_signal(&t->wake);
  }
  pthread_mutex_unlock(&t->lock);
  s->sampled = 0;
}

void tg_selfspan_context(const tg_selfspan *s, tg_tracectx *out) {
  memset(out, 0, sizeof *out - sizeof out->tracestate + 1);
  out->tracestate[0] = '\0';
  memcpy(out->trace_id, s->trace_id, 16);
  memcpy(out->span_id, s->span_id, 8);
  memcpy(out->parent_id, s->parent_id, 8);
  out->flags = s->flags & (TG_TRACECTX_SAMPLED | TG_TRACECTX_RANDOM);
}

int tg_selftrace_inject(const tg_selftrace *t, const tg_tracectx *ctx,
                        void (*add)(void *arg, const char *name, const char *value), void *arg) {
  unsigned p = t ? t->propagators : TG_PROPAGATE_TRACECONTEXT;
  int n = 0;
  if (p & TG_PROPAGATE_TRACECONTEXT) {
    char tp[TG_TRACEPARENT_LEN + 1];
    tg_traceparent_format(ctx, tp);
    add(arg, "traceparent", tp);
    n++;
    if (ctx->tracestate_len) {
      add(arg, "tracestate", ctx->tracestate);
      n++;
    }
  }
  if (p & TG_PROPAGATE_B3) {
    char b3[TG_B3_SINGLE_MAX + 1];
    tg_b3_single_format(ctx, b3);
    add(arg, "b3", b3);
    n++;
  }
  if (p & TG_PROPAGATE_B3_MULTI) {
    tg_b3_multi_values mv;
    tg_b3_multi_format(ctx, &mv);
    add(arg, "X-B3-TraceId", mv.trace_id);
    add(arg, "X-B3-SpanId", mv.span_id);
    n += 2;
    if (mv.parent_id[0])
      add(arg, "X-B3-ParentSpanId", mv.parent_id), n++;
    if (mv.sampled[0])
      add(arg, "X-B3-Sampled", mv.sampled), n++;
    if (mv.flags[0])
      add(arg, "X-B3-Flags", mv.flags), n++;
  }
  if (p & TG_PROPAGATE_JAEGER) {
    char uber[TG_UBER_TRACE_ID_MAX + 1];
    tg_uber_trace_id_format(ctx, uber);
    add(arg, "uber-trace-id", uber);
    n++;
  }
  return n;
}

int tg_selftrace_export_begin(tg_selftrace *t, const char *exporter, size_t spans,
                              unsigned attempt, tg_selfspan *s, tg_tracectx *ctx) {
  s->sampled = 0;
  if (!t)
    return 0;
  pthread_mutex_lock(&t->lock);
  tg_idgen_trace_id(&t->ids, s->trace_id);
  tg_idgen_span_id(&t->ids, s->span_id);
  pthread_mutex_unlock(&t->lock);
  memset(s->parent_id, 0, 8);
  int sampled = tg_selftrace_sampled(s->trace_id, t->ratio);
  s->flags = (uint8_t)(TG_TRACECTX_RANDOM | (sampled ? TG_TRACECTX_SAMPLED : 0));
  tg_selfspan_context(s, ctx);
  if (!sampled)
    return 1;
  s->sampled = 1;
  s->kind = TG_SELFSPAN_CLIENT;
  s->error = 0;
  s->n_attrs = 0;
  s->name = "tailgate.export";
  s->start_ns = unix_ns();
  s->end_ns = 0;
  tg_selfspan_attr_str(s, "tailgate.exporter", exporter);
  tg_selfspan_attr_int(s, "tailgate.spans", (int64_t)spans);
  tg_selfspan_attr_int(s, "tailgate.attempt", (int64_t)attempt);
  return 1;
}

void tg_selftrace_export_end(tg_selftrace *t, tg_selfspan *s, const char *outcome,
                             const char *status_key, int64_t status) {
  if (!t || !s->sampled)
    return;
  tg_selfspan_attr_str(s, "tailgate.outcome", outcome);
  if (status_key)
    tg_selfspan_attr_int(s, status_key, status);
  s->error = strcmp(outcome, "ok") != 0;
  tg_selftrace_end(t, s);
}

/* ---- sender --------------------------------------------------------------------------- */

typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p;
  (void)ctx;
  return size * n;
}

/* Encodes n spans into one request and POSTs it. Returns 0 on a 2xx answer. */
static int send_spans(tg_selftrace *t, CURL *curl, const tg_selfspan *spans, size_t n) {
  static const pb_span span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
  static const pb_kv kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
  static const pb_any any_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  Opentelemetry__Proto__Trace__V1__Status status_ok = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
  Opentelemetry__Proto__Trace__V1__Status status_err = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
  status_err.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
  pb_span *pspans = tg_calloc(n, sizeof *pspans);
  pb_span **pspan_ptrs = tg_calloc(n, sizeof *pspan_ptrs);
  pb_kv *kvs = tg_calloc(n * TG_SELFSPAN_MAX_ATTRS, sizeof *kvs);
  pb_kv **kv_ptrs = tg_calloc(n * TG_SELFSPAN_MAX_ATTRS, sizeof *kv_ptrs);
  pb_any *anys = tg_calloc(n * TG_SELFSPAN_MAX_ATTRS, sizeof *anys);
  int rc = -1;
  if (!pspans || !pspan_ptrs || !kvs || !kv_ptrs || !anys)
    goto out;
  for (size_t i = 0; i < n; i++) {
    const tg_selfspan *s = &spans[i];
    pb_span *p = &pspans[i];
    *p = span_init;
    p->trace_id.data = (uint8_t *)s->trace_id;
    p->trace_id.len = 16;
    p->span_id.data = (uint8_t *)s->span_id;
    p->span_id.len = 8;
    if (!tg_id_is_zero(s->parent_id, 8)) {
      p->parent_span_id.data = (uint8_t *)s->parent_id;
      p->parent_span_id.len = 8;
    }
    p->name = (char *)s->name;
    p->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
    p->start_time_unix_nano = s->start_ns;
    p->end_time_unix_nano = s->end_ns;
    p->status = s->error ? &status_err : &status_ok;
    p->n_attributes = s->n_attrs;
    p->attributes = &kv_ptrs[i * TG_SELFSPAN_MAX_ATTRS];
    for (size_t a = 0; a < s->n_attrs; a++) {
      size_t k = i * TG_SELFSPAN_MAX_ATTRS + a;
      kvs[k] = kv_init;
      anys[k] = any_init;
      kvs[k].key = (char *)s->attrs[a].key;
      if (s->attrs[a].is_int) {
        anys[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        anys[k].int_value = s->attrs[a].i;
      } else {
        anys[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        anys[k].string_value = (char *)s->attrs[a].s;
      }
      kvs[k].value = &anys[k];
      kv_ptrs[k] = &kvs[k];
    }
    pspan_ptrs[i] = p;
  }
  Opentelemetry__Proto__Common__V1__AnyValue svc = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  svc.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  svc.string_value = "tailgate";
  pb_kv svc_kv = kv_init;
  svc_kv.key = "service.name";
  svc_kv.value = &svc;
  pb_kv *res_attrs[] = {&svc_kv};
  Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
  res.n_attributes = 1;
  res.attributes = res_attrs;
  Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
      OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
  scope.name = "tailgate";
  Opentelemetry__Proto__Trace__V1__ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.scope = &scope;
  ss.n_spans = n;
  ss.spans = pspan_ptrs;
  Opentelemetry__Proto__Trace__V1__ScopeSpans *ss_ptr = &ss;
  Opentelemetry__Proto__Trace__V1__ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.resource = &res;
  rs.n_scope_spans = 1;
  rs.scope_spans = &ss_ptr;
  Opentelemetry__Proto__Trace__V1__ResourceSpans *rs_ptr = &rs;
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.n_resource_spans = 1;
  req.resource_spans = &rs_ptr;
  size_t len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
  uint8_t *buf = tg_malloc(len ? len : 1);
  if (!buf)
    goto out;
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
  struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
  curl_easy_setopt(curl, CURLOPT_URL, t->endpoint);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)buf);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode cc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdrs);
  tg_free(buf);
  rc = (cc == CURLE_OK && status >= 200 && status < 300) ? 0 : -1;
  if (rc)
    TG_LOG_DEBUG(t->log, "telemetry:traces", "sending %zu spans to %s failed: %s (HTTP %ld)",
                 n, t->endpoint, curl_easy_strerror(cc), status);
out:
  tg_free(pspans);
  tg_free(pspan_ptrs);
  tg_free(kvs);
  tg_free(kv_ptrs);
  tg_free(anys);
  return rc;
}

static void *sender(void *arg) {
  tg_selftrace *t = arg;
  CURL *curl = curl_easy_init();
  tg_selfspan *batch = tg_calloc(SEND_BATCH, sizeof *batch);
  pthread_mutex_lock(&t->lock);
  for (;;) {
    if (!t->count && !t->stopping) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += FLUSH_MS * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&t->wake, &t->lock, &until);
    }
    if (!t->count) {
      if (t->stopping)
        break;
      continue;
    }
    size_t n = t->count < SEND_BATCH ? t->count : SEND_BATCH;
    for (size_t i = 0; i < n; i++)
      batch[i] = t->ring[(t->head + i) % TG_SELFTRACE_RING];
    t->head = (t->head + n) % TG_SELFTRACE_RING;
    t->count -= n;
    pthread_mutex_unlock(&t->lock);
    int rc = (curl && batch) ? send_spans(t, curl, batch, n) : -1;
    pthread_mutex_lock(&t->lock);
    if (rc == 0)
      t->stats.sent += n;
    else
      t->stats.failed_requests++, t->stats.dropped += n;
  }
  pthread_mutex_unlock(&t->lock);
  tg_free(batch);
  if (curl)
    curl_easy_cleanup(curl);
  return NULL;
}

tg_selftrace *tg_selftrace_create(const char *endpoint, double ratio, unsigned propagators,
                                  tg_logger *log, tg_errbuf *err) {
  const char *why = tg_http_global_init(); /* libcurl, before the sender thread uses it */
  if (why) {
    tg_errf(err, TG_EIO, "self-tracing: libcurl init failed: %s", why);
    return NULL;
  }
  tg_selftrace *t = tg_calloc(1, sizeof *t);
  if (!t) {
    tg_errf(err, TG_ENOMEM, "self-tracing: out of memory");
    return NULL;
  }
  t->endpoint = tg_strdup(endpoint);
  t->ring = tg_calloc(TG_SELFTRACE_RING, sizeof *t->ring);
  if (!t->endpoint || !t->ring) {
    tg_free(t->endpoint);
    tg_free(t->ring);
    tg_free(t);
    tg_errf(err, TG_ENOMEM, "self-tracing: out of memory");
    return NULL;
  }
  t->ratio = ratio;
  t->propagators = propagators;
  t->log = log;
  tg_idgen_seed(&t->ids);
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->wake, NULL);
  if (pthread_create(&t->thread, NULL, sender, t)) {
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    tg_free(t->endpoint);
    tg_free(t->ring);
    tg_free(t);
    tg_errf(err, TG_EIO, "self-tracing: cannot start its thread");
    return NULL;
  }
  return t;
}

void tg_selftrace_destroy(tg_selftrace *t) {
  if (!t)
    return;
  pthread_mutex_lock(&t->lock);
  t->stopping = 1;
  pthread_cond_signal(&t->wake);
  pthread_mutex_unlock(&t->lock);
  pthread_join(t->thread, NULL);
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->wake);
  tg_free(t->endpoint);
  tg_free(t->ring);
  tg_free(t);
}

void tg_selftrace_get_stats(tg_selftrace *t, tg_selftrace_stats *out) {
  memset(out, 0, sizeof *out);
  if (!t)
    return;
  pthread_mutex_lock(&t->lock);
  *out = t->stats;
  pthread_mutex_unlock(&t->lock);
}
