/* Tail-sampling engine benchmark (not a test): the per-span cost of each stage on one
 * core, and the memory a buffered span costs against its OTLP wire size.
 *
 *   build/bench/tg_ts_bench [--traces N] [--spans-per-trace K] [--attrs A] [--requests-per-trace R]
 *
 * Spans look like tg_loadgen's (semantic-convention-like attributes, a SERVER root and
 * CLIENT children); each trace's spans arrive spread over R requests, as from several
 * services. Stages, each timed with the thread's CPU clock:
 *   slice    the loop thread's share: batch (wire segments) → per-shard messages
 *   ingest   the worker's: inspect spans, buffer them under interned headers
 *   decide   the worker's: policies (errors, latency, 10 %) and emission of kept spans
 * Prints one JSON line.
 *
 * --compare R runs the same requests through R rounds of three variants, alternating so
 * that machine noise hits each alike, each on a fresh shard with decision caches of
 * 100,000 IDs: "off" (decision_attributes false, no queries), "attributes"
 * (decision_attributes true) and "attributes+queries" (also the debug route's query
 * lock and verdict records in both caches). A warm-up run comes first (the first run
 * pays the page faults of the heap's growth). One JSON line per run, then the median
 * spans/core-second of each variant. --variant V makes one run of variant V alone (for
 * instruction counts under callgrind: the requests built are the same, so the totals
 * differ only by the variant's work). */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "processors/tail_sampling/ts_shard.h"
#include "processors/tail_sampling/ts_slice.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_yaml.h"

static const char conf_yaml[] =
    "decision_wait: 10s\nnum_traces: 100000000\nmax_memory_mib: 1048576\n"
    "policies:\n"
    "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "  - {name: slow, type: latency, latency: {threshold_ms: 1000}}\n"
    "  - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n";

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static tg_any_value *str_value(tg_arena *a, const char *s) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = tg_arena_strndup(a, s, strlen(s));
  return v;
}

static tg_any_value *int_value(tg_arena *a, int64_t x) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v->int_value = x;
  return v;
}

static tg_key_value *kv(tg_arena *a, const char *k, tg_any_value *v) {
  tg_key_value *p = tg_arena_alloc(a, sizeof *p);
  opentelemetry__proto__common__v1__key_value__init(p);
  p->key = tg_arena_strndup(a, k, strlen(k));
  p->value = v;
  return p;
}

/* One request: spans of `n_traces` traces, `per` spans of each, under service `svc`,
 * encoded and adopted as wire segments (what the OTLP receiver hands on). */
static tg_batch *make_request(const uint8_t (*ids)[16], size_t n_traces, size_t per,
                              size_t attrs, const char *svc, size_t *wire_bytes) {
  tg_batch *b = tg_batch_new(1 << 16, 0);
  tg_arena *a = b->arena;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  tg_resource *res = tg_arena_alloc(a, sizeof *res);
  opentelemetry__proto__resource__v1__resource__init(res);
  res->attributes = tg_arena_alloc(a, 4 * sizeof *res->attributes);
  res->attributes[0] = kv(a, "service.name", str_value(a, svc));
  res->attributes[1] = kv(a, "service.version", str_value(a, "1.4.2"));
  res->attributes[2] = kv(a, "host.name", str_value(a, "ip-10-0-3-17.eu-west-1.compute.internal"));
  res->attributes[3] = kv(a, "telemetry.sdk.language", str_value(a, "go"));
  res->n_attributes = 4;
  rs->resource = res;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  tg_scope *scope = tg_arena_alloc(a, sizeof *scope);
  opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
  scope->name = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp";
  scope->version = "0.49.0";
  ss->scope = scope;
  size_t n = n_traces * per;
  ss->spans = tg_arena_alloc(a, n * sizeof *ss->spans);
  static const char *const keys[] = {"http.request.method", "url.path", "http.route",
                                     "server.address", "user_agent.original", "http.response.status_code",
                                     "network.peer.port", "db.system", "net.peer.name", "thread.id"};
  for (size_t i = 0; i < n; i++) {
    tg_span *s = tg_arena_alloc(a, sizeof *s);
    opentelemetry__proto__trace__v1__span__init(s);
    uint8_t *tid = tg_arena_memdup(a, ids[i / per], 16);
    uint8_t *sid = tg_arena_alloc(a, 8);
    uint64_t r = next_rand();
    memcpy(sid, &r, 8);
    s->trace_id = (ProtobufCBinaryData){16, tid};
    s->span_id = (ProtobufCBinaryData){8, sid};
    if (i % per) {
      uint8_t *pid = tg_arena_alloc(a, 8);
      r = next_rand();
      memcpy(pid, &r, 8);
      s->parent_span_id = (ProtobufCBinaryData){8, pid};
    }
    s->name = i % per ? "SELECT orders" : "GET /api/v1/orders/{id}";
    s->kind = i % per ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
                      : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    s->start_time_unix_nano = 1700000000000000000ull + i * 1000;
    s->end_time_unix_nano = s->start_time_unix_nano + 2000000 + (next_rand() % 5000000);
    s->attributes = tg_arena_alloc(a, attrs * sizeof *s->attributes);
    for (size_t k = 0; k < attrs; k++)
      s->attributes[k] = k == 5 || k == 6 ? kv(a, keys[k % 10], int_value(a, 200 + (int64_t)k))
                                          : kv(a, keys[k % 10], str_value(a, "/api/v1/orders/8123/items"));
    s->n_attributes = attrs;
    if (next_rand() % 100 == 0) {
      tg_span_status *st = tg_arena_alloc(a, sizeof *st);
      opentelemetry__proto__trace__v1__status__init(st);
      st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
      s->status = st;
    }
    ss->spans[i] = s;
  }
  ss->n_spans = n;
  rs->scope_spans = &ss;
  rs->n_scope_spans = 1;
  size_t len = protobuf_c_message_get_packed_size(&rs->base);
  uint8_t *buf = malloc(len);
  protobuf_c_message_pack(&rs->base, buf);
  tg_batch_free(b);
  tg_batch *w = tg_batch_new(len + 1024, 0);
  const size_t zero = 0;
  tg_batch_adopt_wire(w, buf, len, &zero, &len, &n, 1);
  free(buf);
  *wire_bytes += len;
  return w;
}

static size_t kept_spans, kept_bytes;
static void deliver(void *ctx, tg_batch *b) {
  (void)ctx;
  kept_spans += b->span_count;
  for (size_t i = 0; i < b->n_wire; i++)
    kept_bytes += b->wire[i].len;
  tg_batch_free(b);
}

typedef struct params {
  size_t traces, per, attrs, k, spans, wire;
} params;

/* One steady-state run over reqs on a fresh shard; prints its JSON line and returns
 * spans per core-second. */
static double run(const char *variant, const tg_ts_conf *conf, int queries, tg_batch **reqs,
                  const params *pr) {
  ts_leaves leaves;
  ts_leaves_collect(&conf->policies, &leaves);
  ts_limiters lim;
  ts_limiters_init(&lim, conf->policies.n_rates);
  ts_metrics metrics;
  ts_metrics_init(&metrics, NULL, "bench", &conf->policies);
  ts_shard sh;
  ts_shard_init(&sh, conf, &leaves, &lim, &metrics, NULL, pr->traces + 1, 0, deliver, NULL);
  if (queries)
    ts_shard_enable_queries(&sh);
  kept_spans = kept_bytes = 0;
  size_t k = pr->k, spans = pr->spans, per = pr->per;
  /* steady state: a request every STEP_MS of simulated time, so about
   * decision_wait / STEP_MS requests' traces are buffered at any moment and memory is
   * reused as it would be in a running gateway */
  enum { STEP_MS = 5 };
  double slice_s = 0, ingest_s = 0, decide_s = 0;
  long rss_before = rss_kb(), rss_peak = 0;
  size_t peak_bytes = 0, peak_traces = 0;
  for (size_t i = 0; i < k; i++) {
    uint64_t now = (uint64_t)i * STEP_MS;
    ts_msg *one[1];
    double a = cpu_now();
    ts_slice_batch(reqs[i], 1, one);
    double b = cpu_now();
    ts_shard_ingest(&sh, one[0], now);
    ts_msg_free(one[0]);
    double c2 = cpu_now();
    ts_shard_decide_due(&sh, now);
    if (sh.out.spans >= 8192)
      ts_shard_flush(&sh);
    double d = cpu_now();
    slice_s += b - a;
    ingest_s += c2 - b;
    decide_s += d - c2;
    if (sh.store.bytes > peak_bytes) {
      peak_bytes = sh.store.bytes;
      peak_traces = sh.store.n_traces;
    }
    if (i % 256 == 0) {
      long r = rss_kb();
      if (r > rss_peak)
        rss_peak = r;
    }
  }
  double t0 = cpu_now();
  ts_shard_decide_all(&sh, (uint64_t)k * STEP_MS + 20000);
  ts_shard_flush(&sh);
  decide_s += cpu_now() - t0;
  /* the buffered spans at the peak, against their wire size */
  double spans_at_peak = (double)peak_traces * (double)per;
  double wire_per_span = (double)pr->wire / (double)spans;
  size_t buffered = peak_bytes;
  double t1 = slice_s, t2 = ingest_s, t3 = decide_s;
  double rate = (double)spans / (t1 + t2 + t3);
  printf("{\"variant\":\"%s\",\"traces\":%zu,\"spans\":%zu,\"attrs_per_span\":%zu,\"requests\":%zu,"
         "\"wire_bytes_per_span\":%.1f,\"peak_buffered_traces\":%zu,\"peak_buffered_bytes\":%zu,"
         "\"memory_ratio\":%.3f,\"slice_ns_per_span\":%.1f,\"ingest_ns_per_span\":%.1f,"
         "\"decide_ns_per_span\":%.1f,\"spans_per_core_sec\":%.0f,\"kept_fraction\":%.4f,"
         "\"kept_wire_bytes_per_kept_span\":%.1f,\"cache_bytes\":%zu,"
         "\"rss_growth_bytes_per_buffered_byte\":%.3f}\n",
         variant, pr->traces, spans, pr->attrs, k, wire_per_span, peak_traces, buffered,
         (double)buffered / (spans_at_peak * wire_per_span), t1 * 1e9 / (double)spans,
         t2 * 1e9 / (double)spans, t3 * 1e9 / (double)spans, rate,
         (double)kept_spans / (double)spans,
         kept_spans ? (double)kept_bytes / (double)kept_spans : 0.0,
         ts_cache_bytes(&sh.sampled) + ts_cache_bytes(&sh.not_sampled),
         (double)(rss_peak - rss_before) * 1024.0 / (double)peak_bytes);
  fflush(stdout);
  ts_shard_free(&sh);
  ts_metrics_destroy(&metrics);
  ts_limiters_free(&lim);
  return rate;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  /* the gateway's allocator settings (core/main.c): keep freed memory for reuse */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  size_t traces = 200000, per = 6, attrs = 10, reqs_per_trace = 2, rounds = 0;
  long only = -1; /* --variant V: one run of variant V (0 off, 1 attributes, 2 + queries) */
  static const struct option opts[] = {{"traces", 1, 0, 't'}, {"spans-per-trace", 1, 0, 's'},
                                       {"attrs", 1, 0, 'a'}, {"requests-per-trace", 1, 0, 'r'},
                                       {"compare", 1, 0, 'c'}, {"variant", 1, 0, 'v'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    size_t v = strtoul(optarg, NULL, 10);
    if (c == 't') traces = v;
    else if (c == 's') per = v;
    else if (c == 'a') attrs = v;
    else if (c == 'r') reqs_per_trace = v;
    else if (c == 'c') rounds = v;
    else if (c == 'v') only = (long)(v > 2 ? 2 : v);
    else return 2;
  }
  if (!per || !reqs_per_trace || per % reqs_per_trace) {
    fprintf(stderr, "spans-per-trace must be a multiple of requests-per-trace\n");
    return 2;
  }
  tg_diag diag;
  tg_diag_init(&diag);
  tg_yaml_doc *doc = tg_yaml_parse("bench", conf_yaml, strlen(conf_yaml), &diag);
  tg_ts_conf conf;
  memset(&conf, 0, sizeof conf);
  tg_conf_apply(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, tg_yaml_root(doc), &conf, "bench", &diag);
  tg_yaml_free(doc);

  /* requests of 20 traces x (per / reqs_per_trace) spans, each trace in reqs_per_trace
   * requests from different services */
  enum { TRACES_PER_REQUEST = 20 };
  size_t n_req = (traces / TRACES_PER_REQUEST) * reqs_per_trace;
  tg_batch **reqs = calloc(n_req, sizeof *reqs);
  uint8_t (*ids)[16] = malloc(TRACES_PER_REQUEST * 16);
  size_t wire = 0, k = 0;
  for (size_t t = 0; t + TRACES_PER_REQUEST <= traces; t += TRACES_PER_REQUEST) {
    for (size_t i = 0; i < TRACES_PER_REQUEST; i++)
      for (int j = 0; j < 16; j += 8) {
        uint64_t r = next_rand();
        memcpy(ids[i] + j, &r, 8);
      }
    for (size_t r = 0; r < reqs_per_trace; r++)
      reqs[k++] = make_request((const uint8_t(*)[16])ids, TRACES_PER_REQUEST,
                               per / reqs_per_trace, attrs, r ? "orders-db" : "orders-api", &wire);
  }
  params pr = {traces, per, attrs, k, k * TRACES_PER_REQUEST * (per / reqs_per_trace), wire};
  static const char *const names[] = {"off", "attributes", "attributes+queries"};
  if (only >= 0) {
    conf.sampled_cache_size = conf.non_sampled_cache_size = 100000;
    conf.decision_attributes = only > 0;
    run(names[only], &conf, only == 2, reqs, &pr);
  } else if (!rounds) {
    run("default", &conf, 0, reqs, &pr);
  } else {
    double *rates = calloc(3 * rounds, sizeof *rates);
    conf.sampled_cache_size = conf.non_sampled_cache_size = 100000;
    run("warm-up (not counted)", &conf, 0, reqs, &pr); /* first-touch page faults */
    for (size_t r = 0; r < rounds; r++)
      for (size_t v = 0; v < 3; v++) {
        conf.decision_attributes = v > 0;
        rates[v * rounds + r] = run(names[v], &conf, v == 2, reqs, &pr);
      }
    for (size_t v = 0; v < 3; v++) {
      qsort(rates + v * rounds, rounds, sizeof *rates, by_value);
      printf("{\"variant\":\"%s\",\"rounds\":%zu,\"median_spans_per_core_sec\":%.0f,"
             "\"vs_off\":%.4f}\n",
             names[v], rounds, rates[v * rounds + rounds / 2],
             rates[v * rounds + rounds / 2] / rates[rounds / 2]);
    }
    free(rates);
  }
  for (size_t i = 0; i < k; i++)
    tg_batch_free(reqs[i]);
  free(reqs);
  free(ids);
  tg_conf_release(tg_ts_conf_keys, TG_TS_CONF_N_KEYS, &conf);
  tg_diag_free(&diag);
  return 0;
}
