/* tg_loadgen: an OTLP trace load generator for benchmarking tailgate (and any other OTLP
 * receiver) over gRPC (gRPC C core) or HTTP/protobuf (libcurl).
 *
 * What it measures, and what it keeps out of the measurement:
 *  - Requests are built once, before the clock starts: each connection owns a ring of
 *    pre-encoded ExportTraceServiceRequest buffers (a few content variants: span names,
 *    attribute values, resource). Before every send only the ids and timestamps are
 *    rewritten in place: the template is packed with sentinel values in every trace_id,
 *    span_id, parent_span_id, start and end time, the sentinels are located once, and a
 *    send writes ~5 small fixed-size fields per span. Generation cost is therefore not
 *    measured; the loadgen's own CPU goes to the transport (gRPC core or curl).
 *  - Ids: a trace never crosses a request (spans_per_trace <= spans_per_request); span ids
 *    are unique for the run; trace ids are unique unless --distinct-traces D bounds them,
 *    then each connection cycles through D trace ids so that traces collect spans from
 *    many requests (several roots each), as a tail sampler would see them.
 *  - Latency is per request, from the send to the final status, recorded in a log-linear
 *    histogram (64 linear sub-buckets per power of two of nanoseconds: <= 1.6 % error).
 *    With --rate it is measured from the actual send, not the scheduled one (no
 *    coordinated-omission correction); compare achieved and requested rates.
 *
 * Threads: one per connection, each with its own gRPC channel (local subchannel pool, so
 * really one TCP connection each) and completion queue, or its own curl easy handle.
 * gRPC keeps --inflight calls outstanding per connection on a completion queue drained
 * with grpc_completion_queue_next rather than pluck: with several calls in flight, pluck
 * waits for one chosen tag and would charge a later call's latency to the earlier one.
 * HTTP/1.1 has one request in flight per connection (no pipelining).
 * Threads share nothing on the hot path except two atomics (request budget, stop flag);
 * results are merged after join.
 *
 * Output: a human-readable summary, then one JSON line for scripts (last line of stdout).
 * Exit status: 0 when every request succeeded, 1 when some failed, 2 on usage errors. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <zlib.h>

#include "common.pb-c.h"
#include "resource.pb-c.h"
#include "trace.pb-c.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope scope_t;
typedef Opentelemetry__Proto__Resource__V1__Resource resource_t;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__Status status_t;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest export_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse export_response;

#define EXPORT_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define N_VARIANTS 4
#define MAX_SPANS_PER_REQUEST 1000000
#define MAX_STATUS 1024  /* gRPC 0..16, HTTP 100..599, curl errors 600 + CURLcode */
#define CURL_STATUS_BASE 600

/* ---------------------------------------------------------------- options */

typedef enum transport { T_GRPC, T_HTTP } transport;

typedef struct options {
  const char *target;
  transport transport;
  char grpc_target[256];
  uint64_t spans_per_request, attrs_per_span, spans_per_trace;
  uint64_t distinct_traces; /* 0 = unlimited */
  double rate;              /* requests/s over all connections; 0 = unlimited */
  uint64_t connections, inflight;
  double duration_s;        /* used when requests == 0 */
  uint64_t requests;        /* 0 = run for duration */
  uint64_t timeout_ms;
  int gzip;
  int quiet;
  int user_id;              /* add a user_id attribute to every span (redaction benchmark) */
  const char *authorization; /* Authorization header / metadata value; NULL = none */
  const char *dump;          /* --dump FILE: write requests and exit */
} options;

/* --------------------------------------------------------------- clock */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t deadline) {
  uint64_t now = mono_ns();
  if (deadline <= now)
    return;
  uint64_t d = deadline - now;
  struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
  nanosleep(&ts, NULL);
}

/* ----------------------------------------------------------- histogram */

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (HIST_SUB + (64 - HIST_SUB_BITS) * HIST_SUB)

typedef struct histogram {
  uint64_t counts[HIST_BUCKETS];
  uint64_t n, max, min;
  double sum;
} histogram;

static size_t hist_index(uint64_t v) {
  if (v < HIST_SUB)
    return (size_t)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
  uint64_t sub = (v >> (e - HIST_SUB_BITS)) - HIST_SUB;
  return HIST_SUB + (size_t)(e - HIST_SUB_BITS) * HIST_SUB + (size_t)sub;
}

/* Middle of bucket i's value range. */
static double hist_value(size_t i) {
  if (i < HIST_SUB)
    return (double)i;
  size_t k = (i - HIST_SUB) / HIST_SUB, sub = (i - HIST_SUB) % HIST_SUB;
  double lo = ldexp((double)(HIST_SUB + sub), (int)k);
  return lo + ldexp(1.0, (int)k) / 2.0;
}

static void hist_record(histogram *h, uint64_t v) {
  h->counts[hist_index(v)]++;
  if (h->n == 0 || v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
  h->n++;
  h->sum += (double)v;
}

static void hist_merge(histogram *dst, const histogram *src) {
  for (size_t i = 0; i < HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  if (src->n && (dst->n == 0 || src->min < dst->min))
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
  dst->n += src->n;
  dst->sum += src->sum;
}

/* Value at quantile q in [0, 1]: the bucket midpoint, clamped to [min, max]. */
static double hist_quantile(const histogram *h, double q) {
  if (h->n == 0)
    return 0;
  uint64_t rank = (uint64_t)ceil(q * (double)h->n);
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      double v = hist_value(i);
      if (v > (double)h->max)
        v = (double)h->max;
      if (v < (double)h->min)
        v = (double)h->min;
      return v;
    }
  }
  return (double)h->max;
}

/* -------------------------------------------------- request templates */

/* Sentinels: 4 magic bytes, a kind byte, a 3-byte big-endian span index. Packed into
 * every id and timestamp of the template, then found with memmem. */
static const uint8_t MAGIC[4] = {0xF3, 0x7A, 0x1C, 0xE9};
enum { K_TRACE = 'T', K_SPAN = 'S', K_PARENT = 'P', K_START = 'A', K_END = 'B' };
#define NO_OFFSET UINT32_MAX

typedef struct span_sites {
  uint32_t trace, span, parent, start, end; /* byte offsets into the encoded buffer */
} span_sites;

typedef struct request_template {
  uint8_t *buf;
  size_t len;
  span_sites *sites; /* one per span */
} request_template;

/* Per-span facts shared by all templates of a run. */
typedef struct span_layout {
  size_t n_spans, spans_per_trace, n_traces;
  uint64_t *ago_start_ns, *ago_end_ns; /* timestamps relative to the send time */
} span_layout;

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "tg_loadgen: out of memory\n");
    exit(2);
  }
  return p;
}

static char *xstrdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrdup_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = xcalloc((size_t)n + 1, 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* Everything a template build allocates, freed after packing. */
typedef struct scratch {
  void **ptrs;
  size_t n, cap;
} scratch;

static void *scratch_keep(scratch *s, void *p) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 256;
    s->ptrs = realloc(s->ptrs, s->cap * sizeof *s->ptrs);
    if (!s->ptrs) {
      fprintf(stderr, "tg_loadgen: out of memory\n");
      exit(2);
    }
  }
  s->ptrs[s->n++] = p;
  return p;
}

static void *scratch_calloc(scratch *s, size_t n, size_t size) {
  return scratch_keep(s, xcalloc(n, size));
}

static void scratch_free(scratch *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->ptrs[i]);
  free(s->ptrs);
  memset(s, 0, sizeof *s);
}

static void sentinel(uint8_t *out, int kind, size_t index) {
  memcpy(out, MAGIC, 4);
  out[4] = (uint8_t)kind;
  out[5] = (uint8_t)(index >> 16);
  out[6] = (uint8_t)(index >> 8);
  out[7] = (uint8_t)index;
}

static uint64_t sentinel_u64(int kind, size_t index) {
  /* fixed64 is little-endian on the wire: the value whose LE bytes are the sentinel. */
  uint8_t b[8];
  sentinel(b, kind, index);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | b[i];
  return v;
}

static key_value *kv_new(scratch *s, const char *key) {
  key_value *kv = scratch_calloc(s, 1, sizeof *kv);
  any_value *v = scratch_calloc(s, 1, sizeof *v);
  *kv = (key_value)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
  *v = (any_value)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  kv->key = (char *)key;
  kv->value = v;
  return kv;
}

static key_value *kv_str(scratch *s, const char *key, char *value) {
  key_value *kv = kv_new(s, key);
  kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  kv->value->string_value = value;
  return kv;
}

static key_value *kv_int(scratch *s, const char *key, int64_t value) {
  key_value *kv = kv_new(s, key);
  kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  kv->value->int_value = value;
  return kv;
}

static key_value *kv_double(scratch *s, const char *key, double value) {
  key_value *kv = kv_new(s, key);
  kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  kv->value->double_value = value;
  return kv;
}

static key_value *kv_bool(scratch *s, const char *key, int value) {
  key_value *kv = kv_new(s, key);
  kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  kv->value->bool_value = value != 0;
  return kv;
}

static const char *const SPAN_NAMES[] = {
    "GET /api/v1/users/{id}", "POST /api/v1/orders", "SELECT orders", "redis GET",
    "HTTP GET inventory", "publish order.created", "render template", "validate cart",
};
static const char *const SERVICES[N_VARIANTS] = {"frontend", "checkout", "inventory", "payments"};

/* Attribute j of span i in variant v: semantic-convention-like keys with mixed types,
 * then custom.attr.N string attributes past the first ten. */
static key_value *make_attribute(scratch *s, size_t v, size_t i, size_t j) {
  static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
  switch (j) {
  case 0: return kv_str(s, "http.request.method", (char *)methods[(i + v) % 4]);
  case 1: return kv_int(s, "http.response.status_code", (i + v) % 17 ? 200 : 503);
  case 2:
    return kv_str(s, "url.full",
                  scratch_keep(s, xstrdup_printf("https://shop.example.com/api/v1/items/%zu"
                                                 "?page=%zu",
                                                 1000 + (i * 7 + v) % 997, i % 5)));
  case 3: return kv_str(s, "server.address", "shop.example.com");
  case 4: return kv_int(s, "server.port", 443);
  case 5: return kv_str(s, "db.system", v % 2 ? "postgresql" : "redis");
  case 6:
    return kv_str(s, "db.statement",
                  "SELECT id, status, total FROM orders WHERE customer_id = $1 LIMIT 50");
  case 7: return kv_double(s, "app.cart.total", 13.5 + (double)((i + v) % 100));
  case 8: return kv_bool(s, "app.cache.hit", (i + v) % 3 == 0);
  case 9:
    return kv_str(s, "user_agent.original",
                  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)");
  default:
    return kv_str(s, scratch_keep(s, xstrdup_printf("custom.attr.%zu", j)),
                  scratch_keep(s, xstrdup_printf("value-%zu-%zu", j, (i + v) % 10)));
  }
}

static void layout_init(span_layout *L, const options *o) {
  L->n_spans = (size_t)o->spans_per_request;
  L->spans_per_trace = (size_t)o->spans_per_trace;
  L->n_traces = (L->n_spans + L->spans_per_trace - 1) / L->spans_per_trace;
  L->ago_start_ns = xcalloc(L->n_spans, sizeof *L->ago_start_ns);
  L->ago_end_ns = xcalloc(L->n_spans, sizeof *L->ago_end_ns);
  /* A root lasting 10 ms that ended 1 ms before the send; children evenly nested. */
  const uint64_t root_ns = 10000000u, ended_ns = 1000000u;
  for (size_t i = 0; i < L->n_spans; i++) {
    size_t j = i % L->spans_per_trace;
    if (j == 0) {
      L->ago_start_ns[i] = ended_ns + root_ns;
      L->ago_end_ns[i] = ended_ns;
    } else {
      uint64_t step = root_ns / L->spans_per_trace;
      L->ago_start_ns[i] = ended_ns + root_ns - (uint64_t)j * step;
      L->ago_end_ns[i] = L->ago_start_ns[i] - step * 8 / 10;
    }
  }
}

/* Builds variant v of the request with sentinel ids and times, packs it and locates
 * every sentinel. Exits on failure (a sentinel not found exactly once). */
static void template_build(request_template *t, const span_layout *L, const options *o,
                           size_t v) {
  scratch s = {0};
  size_t n = L->n_spans;
  span_t **spans = scratch_calloc(&s, n, sizeof *spans);
  for (size_t i = 0; i < n; i++) {
    span_t *sp = scratch_calloc(&s, 1, sizeof *sp);
    *sp = (span_t)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    size_t j = i % L->spans_per_trace;
    uint8_t *tid = scratch_calloc(&s, 16, 1), *sid = scratch_calloc(&s, 8, 1);
    sentinel(tid, K_TRACE, i);
    memset(tid + 8, 0x5A, 8);
    sentinel(sid, K_SPAN, i);
    sp->trace_id = (ProtobufCBinaryData){16, tid};
    sp->span_id = (ProtobufCBinaryData){8, sid};
    if (j != 0) {
      uint8_t *pid = scratch_calloc(&s, 8, 1);
      sentinel(pid, K_PARENT, i);
      sp->parent_span_id = (ProtobufCBinaryData){8, pid};
    }
    sp->flags = 0x101; /* sampled, is-remote known */
    sp->name = (char *)SPAN_NAMES[(i + v) % (sizeof SPAN_NAMES / sizeof *SPAN_NAMES)];
    sp->kind = j == 0 ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
                      : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
    sp->start_time_unix_nano = sentinel_u64(K_START, i);
    sp->end_time_unix_nano = sentinel_u64(K_END, i);
    sp->n_attributes = (size_t)o->attrs_per_span + (o->user_id ? 1 : 0);
    sp->attributes = scratch_calloc(&s, sp->n_attributes, sizeof *sp->attributes);
    for (size_t a = 0; a < (size_t)o->attrs_per_span; a++)
      sp->attributes[a] = make_attribute(&s, v, i, a);
    if (o->user_id)
      sp->attributes[o->attrs_per_span] =
          kv_str(&s, "user_id", scratch_keep(&s, xstrdup_printf("user-%04zu-%zu", i, v)));
    status_t *st = scratch_calloc(&s, 1, sizeof *st);
    *st = (status_t)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    if ((i + v) % 17 == 0)
      st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp->status = st;
    spans[i] = sp;
  }

  scope_t scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
  scope.name = "tg_loadgen";
  scope.version = "0.1.0";
  scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.scope = &scope;
  ss.n_spans = n;
  ss.spans = spans;
  scope_spans *ssp = &ss;

  key_value *rattrs[4] = {
      kv_str(&s, "service.name", (char *)SERVICES[v % N_VARIANTS]),
      kv_str(&s, "service.version", "1.4.2"),
      kv_str(&s, "host.name", scratch_keep(&s, xstrdup_printf("bench-host-%zu", v))),
      kv_str(&s, "telemetry.sdk.language", "c"),
  };
  resource_t res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
  res.n_attributes = 4;
  res.attributes = rattrs;
  resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.resource = &res;
  rs.n_scope_spans = 1;
  rs.scope_spans = &ssp;
  resource_spans *rsp = &rs;
  export_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.n_resource_spans = 1;
  req.resource_spans = &rsp;

  t->len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
  t->buf = xcalloc(t->len, 1);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, t->buf);
  scratch_free(&s);

  t->sites = xcalloc(n, sizeof *t->sites);
  for (size_t i = 0; i < n; i++)
    t->sites[i] = (span_sites){NO_OFFSET, NO_OFFSET, NO_OFFSET, NO_OFFSET, NO_OFFSET};
  size_t found = 0, expected = 4 * n + (n - L->n_traces);
  const uint8_t *p = t->buf, *end = t->buf + t->len;
  while (p + 8 <= end && (p = memmem(p, (size_t)(end - p), MAGIC, 4)) && p + 8 <= end) {
    size_t idx = ((size_t)p[5] << 16) | ((size_t)p[6] << 8) | p[7];
    uint32_t off = (uint32_t)(p - t->buf), *slot = NULL;
    if (idx < n) {
      switch (p[4]) {
      case K_TRACE: slot = &t->sites[idx].trace; break;
      case K_SPAN: slot = &t->sites[idx].span; break;
      case K_PARENT: slot = &t->sites[idx].parent; break;
      case K_START: slot = &t->sites[idx].start; break;
      case K_END: slot = &t->sites[idx].end; break;
      default: break;
      }
    }
    if (!slot || *slot != NO_OFFSET) {
      fprintf(stderr, "tg_loadgen: ambiguous sentinel at offset %u in the template\n", off);
      exit(2);
    }
    *slot = off;
    found++;
    p += 8;
  }
  if (found != expected) {
    fprintf(stderr, "tg_loadgen: found %zu of %zu id/time sentinels in the template\n", found,
            expected);
    exit(2);
  }
}

static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

/* ---------------------------------------------------------- connections */

typedef struct run_shared {
  const options *opt;
  const span_layout *layout;
  request_template templates[N_VARIANTS];
  uint64_t trace_salt;      /* high half of every trace id: distinct per run */
  uint8_t span_salt;        /* top byte of every span id: never zero */
  atomic_uint_fast64_t claimed; /* --requests budget */
  atomic_int stop;          /* SIGINT/SIGTERM or duration over */
  pthread_barrier_t ready;
  uint64_t t_start;         /* measurement start (monotonic), set at the barrier */
  uint64_t deadline;        /* stop issuing new requests after this (duration mode) */
} run_shared;

typedef struct slot {
  uint8_t *buf; /* own copy of a template, patched before each send */
  size_t len;
  const request_template *tmpl;
  uint64_t t_send;
  int busy;
  /* gRPC call state */
  grpc_call *call;
  grpc_metadata_array initial_md, trailing_md;
  grpc_byte_buffer *send_bb, *recv_bb;
  grpc_status_code status;
  grpc_slice details;
} slot;

typedef struct connection {
  run_shared *run;
  size_t index;
  pthread_t thread;
  slot *slots;
  size_t n_slots;
  uint64_t trace_seq, span_seq;
  uint64_t t_done; /* when this connection's last request finished (monotonic) */
  histogram hist;
  uint64_t status_counts[MAX_STATUS];
  uint64_t ok, failed, spans_ok, spans_failed, rejected_spans, bytes_sent;
  char first_error[256];
  /* gzip (HTTP) */
  uint8_t *zbuf;
  size_t zcap;
  z_stream z;
  int z_ready;
} connection;

static atomic_int g_signalled;

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&g_signalled, 1);
}

/* Rewrites ids and times of slot s for its next send. */
static void patch_request(connection *c, slot *s) {
  const run_shared *run = c->run;
  const span_layout *L = run->layout;
  const options *o = run->opt;
  uint64_t now = wall_ns();
  uint64_t first_trace = c->trace_seq;
  c->trace_seq += L->n_traces;
  uint64_t first_span = c->span_seq;
  c->span_seq += L->n_spans;
  uint8_t tid[16], root_sid[8] = {0};
  put_be64(tid, run->trace_salt);
  for (size_t i = 0; i < L->n_spans; i++) {
    const span_sites *site = &s->tmpl->sites[i];
    size_t j = i % L->spans_per_trace;
    uint8_t sid[8];
    uint64_t span_no = ((uint64_t)run->span_salt << 56) | ((uint64_t)(c->index + 1) << 40) |
                       ((first_span + i) & 0xFFFFFFFFFFull);
    put_be64(sid, span_no);
    if (j == 0) {
      uint64_t g = (first_trace + i / L->spans_per_trace) * o->connections + c->index;
      if (o->distinct_traces)
        g %= o->distinct_traces;
      put_be64(tid + 8, g + 1);
      memcpy(root_sid, sid, 8);
    } else {
      memcpy(s->buf + site->parent, root_sid, 8);
    }
    memcpy(s->buf + site->trace, tid, 16);
    memcpy(s->buf + site->span, sid, 8);
    put_le64(s->buf + site->start, now - L->ago_start_ns[i]);
    put_le64(s->buf + site->end, now - L->ago_end_ns[i]);
  }
}

/* --dump: o->requests requests (default 64) cycling through the variants, patched as a
 * connection would send them, each written as a 4-byte big-endian length + its bytes. */
static int dump_requests(const options *o, run_shared *run) {
  FILE *f = fopen(o->dump, "wb");
  if (!f) {
    fprintf(stderr, "tg_loadgen: %s: %s\n", o->dump, strerror(errno));
    return 2;
  }
  connection c = {.run = run};
  uint64_t n = o->requests ? o->requests : 64;
  int rc = 0;
  for (uint64_t k = 0; k < n && !rc; k++) {
    slot s = {.tmpl = &run->templates[k % N_VARIANTS]};
    s.len = s.tmpl->len;
    s.buf = xcalloc(s.len, 1);
    memcpy(s.buf, s.tmpl->buf, s.len);
    patch_request(&c, &s);
    uint8_t hdr[4] = {(uint8_t)(s.len >> 24), (uint8_t)(s.len >> 16), (uint8_t)(s.len >> 8),
                      (uint8_t)s.len};
    if (fwrite(hdr, 1, 4, f) != 4 || fwrite(s.buf, 1, s.len, f) != s.len)
      rc = 2;
    free(s.buf);
  }
  if (fclose(f) || rc) {
    fprintf(stderr, "tg_loadgen: writing %s failed\n", o->dump);
    return 2;
  }
  return 0;
}

static void record(connection *c, uint64_t latency_ns, int code, int ok, int64_t rejected,
                   const char *detail) {
  hist_record(&c->hist, latency_ns);
  if (code >= 0 && code < MAX_STATUS)
    c->status_counts[code]++;
  size_t spans = c->run->layout->n_spans;
  if (ok) {
    c->ok++;
    c->spans_ok += spans;
  } else {
    c->failed++;
    c->spans_failed += spans;
    if (!c->first_error[0] && detail)
      snprintf(c->first_error, sizeof c->first_error, "%s", detail);
  }
  if (rejected > 0)
    c->rejected_spans += (uint64_t)rejected;
}

/* Is the run over (signal, budget spent, duration elapsed)? Claims nothing. */
static int run_over(connection *c) {
  run_shared *run = c->run;
  if (atomic_load_explicit(&run->stop, memory_order_relaxed) ||
      atomic_load_explicit(&g_signalled, memory_order_relaxed))
    return 1;
  return !run->opt->requests && mono_ns() >= run->deadline;
}

/* May this connection start another request now? Claims from the --requests budget. */
static int may_start(connection *c) {
  run_shared *run = c->run;
  if (atomic_load_explicit(&run->stop, memory_order_relaxed) ||
      atomic_load_explicit(&g_signalled, memory_order_relaxed))
    return 0;
  if (run->opt->requests) {
    if (atomic_fetch_add(&run->claimed, 1) >= run->opt->requests) {
      atomic_store(&run->stop, 1);
      return 0;
    }
    return 1;
  }
  if (mono_ns() >= run->deadline) {
    atomic_store(&run->stop, 1);
    return 0;
  }
  return 1;
}

static int64_t response_rejected(const uint8_t *data, size_t len) {
  export_response *r =
      opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
          NULL, len, data);
  if (!r)
    return -1;
  int64_t rej = r->partial_success ? r->partial_success->rejected_spans : 0;
  opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r,
                                                                                          NULL);
  return rej;
}

/* Interval between sends of one connection, 0 when unpaced. */
static uint64_t pace_interval_ns(const options *o) {
  if (o->rate <= 0)
    return 0;
  return (uint64_t)(1e9 * (double)o->connections / o->rate);
}

static void wait_start(connection *c) {
  run_shared *run = c->run;
  int r = pthread_barrier_wait(&run->ready);
  if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
    run->t_start = mono_ns();
    run->deadline = run->t_start + (uint64_t)(run->opt->duration_s * 1e9);
  }
  pthread_barrier_wait(&run->ready); /* t_start and deadline now visible to all */
}

/* ----------------------------------------------------------------- gRPC */

static void noop_destroy(void *p) { (void)p; }

static int grpc_start(connection *c, grpc_channel *ch, grpc_completion_queue *cq,
                      grpc_slice method, slot *s) {
  const options *o = c->run->opt;
  patch_request(c, s);
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis((int64_t)o->timeout_ms, GPR_TIMESPAN));
  s->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                     deadline, NULL);
  grpc_slice body = grpc_slice_new(s->buf, s->len, noop_destroy); /* no copy */
  s->send_bb = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  s->recv_bb = NULL;
  grpc_metadata_array_init(&s->initial_md);
  grpc_metadata_array_init(&s->trailing_md);
  s->details = grpc_empty_slice();
  s->status = GRPC_STATUS_UNKNOWN;

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  grpc_metadata auth_md;
  if (c->run->opt->authorization) {
    auth_md.key = grpc_slice_from_static_string("authorization");
    auth_md.value = grpc_slice_from_static_string(c->run->opt->authorization);
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &auth_md;
  }
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = s->send_bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &s->recv_bb;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
  ops[5].data.recv_status_on_client.status = &s->status;
  ops[5].data.recv_status_on_client.status_details = &s->details;
  s->t_send = mono_ns();
  s->busy = 1;
  c->bytes_sent += s->len;
  grpc_call_error e = grpc_call_start_batch(s->call, ops, 6, s, NULL);
  if (e != GRPC_CALL_OK) {
    fprintf(stderr, "tg_loadgen: grpc_call_start_batch: error %d\n", (int)e);
    grpc_byte_buffer_destroy(s->send_bb);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    grpc_call_unref(s->call);
    s->call = NULL;
    s->busy = 0;
    return -1;
  }
  return 0;
}

static void grpc_finish(connection *c, slot *s, int success) {
  uint64_t lat = mono_ns() - s->t_send;
  int64_t rejected = 0;
  if (s->recv_bb) {
    grpc_byte_buffer_reader rd;
    if (grpc_byte_buffer_reader_init(&rd, s->recv_bb)) {
      grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
      rejected = response_rejected(GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
      grpc_slice_unref(all);
      grpc_byte_buffer_reader_destroy(&rd);
    }
  }
  int code = success ? (int)s->status : (int)GRPC_STATUS_UNKNOWN;
  char detail[200];
  char *d = grpc_slice_to_c_string(s->details);
  snprintf(detail, sizeof detail, "grpc status %d: %s", code, d ? d : "");
  gpr_free(d);
  record(c, lat, code, code == GRPC_STATUS_OK, rejected, detail);
  if (s->recv_bb)
    grpc_byte_buffer_destroy(s->recv_bb);
  grpc_byte_buffer_destroy(s->send_bb);
  grpc_metadata_array_destroy(&s->initial_md);
  grpc_metadata_array_destroy(&s->trailing_md);
  grpc_slice_unref(s->details);
  grpc_call_unref(s->call);
  s->call = NULL;
  s->busy = 0;
}

/* Waits (bounded) for the channel to connect, so that connection setup is not timed. */
static void grpc_wait_ready(grpc_channel *ch, grpc_completion_queue *cq) {
  gpr_timespec give_up = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                      gpr_time_from_millis(5000, GPR_TIMESPAN));
  grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch, 1);
  static int watch_tag;
  while (st != GRPC_CHANNEL_READY &&
         gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), give_up) < 0) {
    grpc_channel_watch_connectivity_state(ch, st, give_up, cq, &watch_tag);
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE)
      break;
    st = grpc_channel_check_connectivity_state(ch, 1);
  }
}

static void *grpc_connection_main(void *arg) {
  connection *c = arg;
  const options *o = c->run->opt;
  grpc_arg args[3];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL; /* a TCP connection per channel */
  args[0].value.integer = 1;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
  args[1].value.integer = o->gzip ? GRPC_COMPRESS_GZIP : GRPC_COMPRESS_NONE;
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[2].value.integer = 16 << 20;
  grpc_channel_args cargs = {3, args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(o->grpc_target, creds, &cargs);
  grpc_channel_credentials_release(creds);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_slice method = grpc_slice_from_static_string(EXPORT_METHOD);

  grpc_wait_ready(ch, cq);
  wait_start(c);

  uint64_t interval = pace_interval_ns(o);
  uint64_t next_send = c->run->t_start + (interval ? interval * c->index / o->connections : 0);
  size_t busy = 0;
  int stopping = 0;
  for (;;) {
    if (!stopping && run_over(c))
      stopping = 1;
    /* Start calls while a slot is free and the schedule allows. */
    while (!stopping && busy < c->n_slots && (!interval || mono_ns() >= next_send)) {
      if (!may_start(c)) {
        stopping = 1;
        break;
      }
      slot *s = NULL;
      for (size_t i = 0; i < c->n_slots && !s; i++)
        if (!c->slots[i].busy)
          s = &c->slots[i];
      if (grpc_start(c, ch, cq, method, s) < 0) {
        stopping = 1;
        break;
      }
      busy++;
      if (interval)
        next_send += interval;
    }
    if (stopping && busy == 0)
      break;
    /* Wake for a completion, the next scheduled send, the deadline or a stop check. */
    uint64_t now = mono_ns();
    uint64_t wake = now + 20000000u;
    if (!stopping && interval && busy < c->n_slots && next_send < wake)
      wake = next_send > now ? next_send : now;
    if (!stopping && !o->requests && c->run->deadline < wake)
      wake = c->run->deadline > now ? c->run->deadline : now;
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                   gpr_time_from_nanos((int64_t)(wake - now), GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(cq, dl, NULL);
    if (ev.type == GRPC_OP_COMPLETE) {
      grpc_finish(c, ev.tag, ev.success);
      busy--;
    }
  }
  c->t_done = mono_ns();
  grpc_channel_destroy(ch);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  return NULL;
}

/* ----------------------------------------------------------------- HTTP */

typedef struct http_body {
  uint8_t data[65536];
  size_t len;
} http_body;

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  http_body *b = ud;
  size_t n = size * nmemb, room = sizeof b->data - b->len;
  memcpy(b->data + b->len, ptr, n < room ? n : room);
  b->len += n < room ? n : room;
  return n;
}

/* Gzips len bytes of in into c->zbuf; returns the compressed length or 0 on failure. */
static size_t gzip_body(connection *c, const uint8_t *in, size_t len) {
  if (!c->z_ready) {
    memset(&c->z, 0, sizeof c->z);
    if (deflateInit2(&c->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      return 0;
    c->z_ready = 1;
  } else {
    deflateReset(&c->z);
  }
  size_t bound = deflateBound(&c->z, (uLong)len);
  if (bound > c->zcap) {
    free(c->zbuf);
    c->zbuf = xcalloc(bound, 1);
    c->zcap = bound;
  }
  c->z.next_in = (Bytef *)in;
  c->z.avail_in = (uInt)len;
  c->z.next_out = c->zbuf;
  c->z.avail_out = (uInt)c->zcap;
  if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
    return 0;
  return c->zcap - c->z.avail_out;
}

static void *http_connection_main(void *arg) {
  connection *c = arg;
  const options *o = c->run->opt;
  CURL *h = curl_easy_init();
  http_body *body = xcalloc(1, sizeof *body);
  struct curl_slist *hdrs = NULL;
  hdrs = curl_slist_append(hdrs, "Content-Type: application/x-protobuf");
  hdrs = curl_slist_append(hdrs, "Expect:");
  if (o->gzip)
    hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
  char auth_line[1024];
  if (o->authorization) {
    snprintf(auth_line, sizeof auth_line, "Authorization: %s", o->authorization);
    hdrs = curl_slist_append(hdrs, auth_line);
  }
  char errbuf[CURL_ERROR_SIZE];
  curl_easy_setopt(h, CURLOPT_URL, o->target);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

  wait_start(c);
  uint64_t interval = pace_interval_ns(o);
  uint64_t next_send = c->run->t_start + (interval ? interval * c->index / o->connections : 0);
  size_t ring_next = 0;
  for (;;) {
    if (interval)
      sleep_until_ns(next_send);
    if (!may_start(c))
      break;
    slot *s = &c->slots[ring_next];
    ring_next = (ring_next + 1) % c->n_slots;
    patch_request(c, s);
    const uint8_t *payload = s->buf;
    size_t payload_len = s->len;
    if (o->gzip) {
      payload_len = gzip_body(c, s->buf, s->len);
      payload = c->zbuf;
      if (!payload_len) {
        fprintf(stderr, "tg_loadgen: gzip failed\n");
        break;
      }
    }
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)payload);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len);
    body->len = 0;
    errbuf[0] = 0;
    uint64_t t0 = mono_ns();
    CURLcode rc = curl_easy_perform(h);
    uint64_t lat = mono_ns() - t0;
    c->bytes_sent += payload_len;
    char detail[CURL_ERROR_SIZE + 64];
    if (rc != CURLE_OK) {
      snprintf(detail, sizeof detail, "curl error %d: %s", (int)rc,
               errbuf[0] ? errbuf : curl_easy_strerror(rc));
      record(c, lat, CURL_STATUS_BASE + (int)rc, 0, 0, detail);
    } else {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      int ok = status >= 200 && status < 300;
      int64_t rejected = 0;
      char *ctype = NULL;
      curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
      if (ok && body->len && ctype && strstr(ctype, "protobuf"))
        rejected = response_rejected(body->data, body->len);
      snprintf(detail, sizeof detail, "HTTP %ld: %.*s", status,
               (int)(body->len < 120 ? body->len : 120), (const char *)body->data);
      record(c, lat, status > 0 && status < CURL_STATUS_BASE ? (int)status : 0, ok, rejected,
             detail);
    }
    if (interval)
      next_send += interval;
  }
  c->t_done = mono_ns();
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  free(body);
  if (c->z_ready)
    deflateEnd(&c->z);
  return NULL;
}

/* --------------------------------------------------------------- output */

static const char *grpc_status_name(int code) {
  static const char *const names[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? names[code] : "?";
}

static void status_label(const options *o, int code, char *out, size_t cap) {
  if (code >= CURL_STATUS_BASE)
    snprintf(out, cap, "curl_%d", code - CURL_STATUS_BASE);
  else if (o->transport == T_GRPC)
    snprintf(out, cap, "%d_%s", code, grpc_status_name(code));
  else
    snprintf(out, cap, "http_%d", code);
  for (char *p = out; *p; p++)
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
      *p = '_';
}

static void report(const options *o, const run_shared *run, connection *conns) {
  uint64_t t_end = run->t_start;
  for (size_t i = 0; i < o->connections; i++)
    if (conns[i].t_done > t_end)
      t_end = conns[i].t_done;
  histogram *h = xcalloc(1, sizeof *h);
  uint64_t counts[MAX_STATUS] = {0};
  uint64_t ok = 0, failed = 0, spans_ok = 0, spans_failed = 0, rejected = 0, bytes = 0;
  const char *first_error = NULL;
  for (size_t i = 0; i < o->connections; i++) {
    connection *c = &conns[i];
    hist_merge(h, &c->hist);
    for (size_t k = 0; k < MAX_STATUS; k++)
      counts[k] += c->status_counts[k];
    ok += c->ok;
    failed += c->failed;
    spans_ok += c->spans_ok;
    spans_failed += c->spans_failed;
    rejected += c->rejected_spans;
    bytes += c->bytes_sent;
    if (!first_error && c->first_error[0])
      first_error = c->first_error;
  }
  double elapsed = (double)(t_end - run->t_start) / 1e9;
  if (elapsed <= 0)
    elapsed = 1e-9;
  double sps = (double)spans_ok / elapsed, rps = (double)(ok + failed) / elapsed;
  double p50 = hist_quantile(h, 0.50) / 1e6, p90 = hist_quantile(h, 0.90) / 1e6,
         p99 = hist_quantile(h, 0.99) / 1e6, pmax = (double)h->max / 1e6,
         mean = h->n ? h->sum / (double)h->n / 1e6 : 0;
  const span_layout *L = run->layout;
  struct rusage ru;
  double cpu_s = 0;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

  if (!o->quiet) {
    printf("tg_loadgen: %s, %" PRIu64 " connection(s) x %" PRIu64 " in flight, rate %s",
           o->target, o->connections, o->transport == T_GRPC ? o->inflight : 1,
           o->rate > 0 ? "" : "unlimited");
    if (o->rate > 0)
      printf("%.1f req/s", o->rate);
    printf("\n");
    printf("request: %zu spans (%zu traces of <= %zu), %" PRIu64
           " attributes/span, %zu bytes protobuf%s, trace ids: %s\n",
           L->n_spans, L->n_traces, L->spans_per_trace, o->attrs_per_span,
           run->templates[0].len, o->gzip ? " (sent gzip)" : "",
           o->distinct_traces ? "bounded" : "unique");
    printf("elapsed %.3f s: %" PRIu64 " requests ok, %" PRIu64 " failed\n", elapsed, ok,
           failed);
    for (int k = 0; k < MAX_STATUS; k++) {
      if (!counts[k])
        continue;
      char label[128];
      status_label(o, k, label, sizeof label);
      printf("  %-24s %-12" PRIu64 " %s\n", label, counts[k],
             k >= CURL_STATUS_BASE ? curl_easy_strerror((CURLcode)(k - CURL_STATUS_BASE)) : "");
    }
    if (first_error && failed)
      printf("  first error: %s\n", first_error);
    printf("throughput: %.0f spans/s accepted, %.1f requests/s, %.2f MB/s sent\n", sps, rps,
           (double)bytes / elapsed / 1e6);
    if (rejected)
      printf("rejected spans (partial success): %" PRIu64 "\n", rejected);
    printf("loadgen CPU: %.2f s (includes template building and connection setup)\n", cpu_s);
    printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f  (n=%" PRIu64 ")\n",
           p50, p90, p99, pmax, mean, h->n);
  }
  printf("{\"target\":\"%s\",\"transport\":\"%s\",\"connections\":%" PRIu64
         ",\"inflight\":%" PRIu64 ",\"spans_per_request\":%zu,\"attrs_per_span\":%" PRIu64
         ",\"spans_per_trace\":%zu,\"request_bytes\":%zu,\"gzip\":%s,\"rate\":%.3f"
         ",\"elapsed_s\":%.3f,\"requests_ok\":%" PRIu64 ",\"requests_failed\":%" PRIu64
         ",\"spans_ok\":%" PRIu64 ",\"spans_failed\":%" PRIu64 ",\"rejected_spans\":%" PRIu64
         ",\"spans_per_sec\":%.1f,\"requests_per_sec\":%.2f,\"bytes_per_sec\":%.0f"
         ",\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f"
         ",\"loadgen_cpu_s\":%.3f,\"status\":{",
         o->target, o->transport == T_GRPC ? "grpc" : "http", o->connections,
         o->transport == T_GRPC ? o->inflight : 1, L->n_spans, o->attrs_per_span,
         L->spans_per_trace, run->templates[0].len, o->gzip ? "true" : "false", o->rate,
         elapsed, ok, failed, spans_ok, spans_failed, rejected, sps, rps,
         (double)bytes / elapsed, p50, p90, p99, pmax, mean, cpu_s);
  int first = 1;
  for (int k = 0; k < MAX_STATUS; k++) {
    if (!counts[k])
      continue;
    char label[128];
    status_label(o, k, label, sizeof label);
    printf("%s\"%s\":%" PRIu64, first ? "" : ",", label, counts[k]);
    first = 0;
  }
  printf("}}\n");
  fflush(stdout);
  free(h);
}

/* -------------------------------------------------------------- options */

static void usage(FILE *f) {
  fprintf(f,
          "usage: tg_loadgen [options]\n"
          "  --target URL           grpc://HOST:PORT (default grpc://127.0.0.1:4317) or\n"
          "                         http://HOST:PORT/v1/traces (OTLP/HTTP protobuf)\n"
          "  --spans-per-request N  spans in each Export request (default 100)\n"
          "  --attrs-per-span N     attributes on each span (default 10)\n"
          "  --spans-per-trace N    spans sharing a trace id in a request (default 5)\n"
          "  --distinct-traces N    bound the distinct trace ids (default 0: new ids always)\n"
          "  --rate R               requests/s over all connections (default 0: unpaced)\n"
          "  --connections N        threads, each with its own connection (default 4)\n"
          "  --inflight N           gRPC calls outstanding per connection (default 1)\n"
          "  --duration S           seconds to run (default 10; ignored with --requests)\n"
          "  --dump FILE            write --requests N encoded requests (ids and times patched\n"
          "                         as for sending) back to back to FILE, each prefixed by its\n"
          "                         length (4 bytes, big endian), and exit (bench_compress)\n"
          "  --requests N           total requests to send, then stop\n"
          "  --timeout MS           per-request deadline (default 10000)\n"
          "  --gzip                 compress requests (grpc-encoding / Content-Encoding gzip)\n"
          "  --user-id              add a user_id attribute to every span\n"
          "  --authorization VALUE  send Authorization: VALUE (HTTP) / authorization metadata\n"
          "  --quiet                print only the JSON line\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!s || !*s || *s == '-')
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
  if (!s || !*s)
    return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !(v >= lo && v <= hi))
    return -1;
  *out = v;
  return 0;
}

static int parse_options(int argc, char **argv, options *o) {
  *o = (options){.target = "grpc://127.0.0.1:4317", .spans_per_request = 100,
                 .attrs_per_span = 10, .spans_per_trace = 5, .connections = 4,
                 .inflight = 1, .duration_s = 10, .timeout_ms = 10000};
  enum { O_TARGET = 1000, O_SPR, O_APS, O_SPT, O_DT, O_RATE, O_CONN, O_INFL, O_DUR, O_REQ,
         O_TMO, O_GZIP, O_QUIET, O_HELP, O_USER, O_AUTH, O_DUMP };
  static const struct option longopts[] = {
      {"target", required_argument, NULL, O_TARGET},
      {"spans-per-request", required_argument, NULL, O_SPR},
      {"attrs-per-span", required_argument, NULL, O_APS},
      {"spans-per-trace", required_argument, NULL, O_SPT},
      {"distinct-traces", required_argument, NULL, O_DT},
      {"rate", required_argument, NULL, O_RATE},
      {"connections", required_argument, NULL, O_CONN},
      {"inflight", required_argument, NULL, O_INFL},
      {"duration", required_argument, NULL, O_DUR},
      {"requests", required_argument, NULL, O_REQ},
      {"timeout", required_argument, NULL, O_TMO},
      {"gzip", no_argument, NULL, O_GZIP},
      {"quiet", no_argument, NULL, O_QUIET},
      {"help", no_argument, NULL, O_HELP},
      {"user-id", no_argument, NULL, O_USER},
      {"authorization", required_argument, NULL, O_AUTH},
      {"dump", required_argument, NULL, O_DUMP},
      {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int bad = 0;
    switch (opt) {
    case O_TARGET: o->target = optarg; break;
    case O_SPR: bad = parse_u64(optarg, 1, MAX_SPANS_PER_REQUEST, &o->spans_per_request); break;
    case O_APS: bad = parse_u64(optarg, 0, 1000, &o->attrs_per_span); break;
    case O_SPT: bad = parse_u64(optarg, 1, MAX_SPANS_PER_REQUEST, &o->spans_per_trace); break;
    case O_DT: bad = parse_u64(optarg, 0, UINT64_MAX / 2, &o->distinct_traces); break;
    case O_RATE: bad = parse_double(optarg, 0, 1e9, &o->rate); break;
    case O_CONN: bad = parse_u64(optarg, 1, 1024, &o->connections); break;
    case O_INFL: bad = parse_u64(optarg, 1, 256, &o->inflight); break;
    case O_DUR: bad = parse_double(optarg, 0.001, 86400, &o->duration_s); break;
    case O_REQ: bad = parse_u64(optarg, 1, UINT64_MAX / 2, &o->requests); break;
    case O_TMO: bad = parse_u64(optarg, 1, 3600000, &o->timeout_ms); break;
    case O_GZIP: o->gzip = 1; break;
    case O_QUIET: o->quiet = 1; break;
    case O_USER: o->user_id = 1; break;
    case O_AUTH: o->authorization = optarg; break;
    case O_DUMP: o->dump = optarg; break;
    case O_HELP: usage(stdout); exit(0);
    default: usage(stderr); return -1;
    }
    if (bad) {
      fprintf(stderr, "tg_loadgen: invalid value '%s' for --%s\n", optarg,
              longopts[opt - O_TARGET].name);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "tg_loadgen: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  if (o->spans_per_trace > o->spans_per_request) {
    fprintf(stderr, "tg_loadgen: --spans-per-trace must not exceed --spans-per-request "
                    "(a trace never crosses a request)\n");
    return -1;
  }
  if (!strncmp(o->target, "grpc://", 7)) {
    o->transport = T_GRPC;
    const char *hp = o->target + 7;
    size_t n = strcspn(hp, "/");
    if (n == 0 || n >= sizeof o->grpc_target) {
      fprintf(stderr, "tg_loadgen: bad gRPC target '%s'\n", o->target);
      return -1;
    }
    memcpy(o->grpc_target, hp, n);
    o->grpc_target[n] = 0;
  } else if (!strncmp(o->target, "http://", 7)) {
    o->transport = T_HTTP;
  } else {
    fprintf(stderr, "tg_loadgen: --target must start with grpc:// or http://\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  options o;
  if (parse_options(argc, argv, &o) < 0)
    return 2;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  span_layout layout;
  layout_init(&layout, &o);
  run_shared *run = xcalloc(1, sizeof *run);
  run->opt = &o;
  run->layout = &layout;
  for (size_t v = 0; v < N_VARIANTS; v++)
    template_build(&run->templates[v], &layout, &o, v);
  uint64_t seed = wall_ns() ^ ((uint64_t)getpid() << 32);
  seed ^= seed >> 29;
  seed *= 0xBF58476D1CE4E5B9ull;
  seed ^= seed >> 32;
  run->trace_salt = seed | 1;
  run->span_salt = (uint8_t)((seed >> 8) | 1);
  atomic_init(&run->claimed, 0);
  atomic_init(&run->stop, 0);
  pthread_barrier_init(&run->ready, NULL, (unsigned)o.connections);

  if (o.dump)
    return dump_requests(&o, run);
  if (o.transport == T_GRPC)
    grpc_init();
  else
    curl_global_init(CURL_GLOBAL_DEFAULT);

  connection *conns = xcalloc((size_t)o.connections, sizeof *conns);
  size_t ring = o.transport == T_GRPC ? (size_t)o.inflight : 1;
  if (ring < N_VARIANTS)
    ring = N_VARIANTS; /* HTTP cycles through the variants; gRPC needs a slot per call */
  for (size_t i = 0; i < o.connections; i++) {
    connection *c = &conns[i];
    c->run = run;
    c->index = i;
    c->n_slots = o.transport == T_GRPC ? (size_t)o.inflight : ring;
    c->slots = xcalloc(c->n_slots, sizeof *c->slots);
    for (size_t k = 0; k < c->n_slots; k++) {
      slot *s = &c->slots[k];
      s->tmpl = &run->templates[(k + i) % N_VARIANTS];
      s->len = s->tmpl->len;
      s->buf = xcalloc(s->len, 1);
      memcpy(s->buf, s->tmpl->buf, s->len);
    }
  }
  for (size_t i = 0; i < o.connections; i++) {
    int rc = pthread_create(&conns[i].thread, NULL,
                            o.transport == T_GRPC ? grpc_connection_main : http_connection_main,
                            &conns[i]);
    if (rc) {
      fprintf(stderr, "tg_loadgen: pthread_create: %s\n", strerror(rc));
      return 2;
    }
  }
  for (size_t i = 0; i < o.connections; i++)
    pthread_join(conns[i].thread, NULL);

  report(&o, run, conns);

  uint64_t failed = 0, ok = 0;
  for (size_t i = 0; i < o.connections; i++) {
    failed += conns[i].failed;
    ok += conns[i].ok;
    for (size_t k = 0; k < conns[i].n_slots; k++)
      free(conns[i].slots[k].buf);
    free(conns[i].slots);
    free(conns[i].zbuf);
  }
  free(conns);
  if (o.transport == T_GRPC)
    grpc_shutdown();
  else
    curl_global_cleanup();
  for (size_t v = 0; v < N_VARIANTS; v++) {
    free(run->templates[v].buf);
    free(run->templates[v].sites);
  }
  pthread_barrier_destroy(&run->ready);
  free(run);
  free(layout.ago_start_ns);
  free(layout.ago_end_ns);
  return failed || !ok ? 1 : 0;
}
