/* Span metrics benchmark (not a test): the spanmetrics stage alone, the stage inside an
 * in-process pipeline, and a scrape of the resulting series.
 *
 * Workload: 10 pre-encoded ExportTraceServiceRequests of 1000 spans each (one service per
 * request, span names op-0 … op-999, 10 attributes per span), so the table holds 10,000
 * distinct series, the target. Per iteration one request goes through:
 *
 *   stage        spanmetrics processor consume of an already decoded batch
 *   wire         OTLP receiver's path for valid protobuf: adopt the wire segments → export
 *                encode (no decode anywhere: what tailgate does without spanmetrics)
 *   wire+sm      the same with spanmetrics, which must decode (materialize) to read spans
 *   decoded      decode → export encode (OTLP/JSON receivers, or any stage that reads spans)
 *   decoded+sm   the same with spanmetrics
 *
 * and a scrape renders all series (text 0.0.4, OpenMetrics, OpenMetrics + gzip). Loop
 * thread work only: no sockets, so the figures isolate CPU cost per span.
 *
 * Each figure is the best of REPS interleaved runs (the machine is shared, noise only slows).
 *
 * With --dump FILE (requests written by `tg_loadgen --dump FILE`: one resource_spans
 * each, 100 spans of 8 names x 4 services, the pipeline benchmark's traffic) it runs only
 * the stage on those, adopted undecoded, PASSES times over (default 200), and prints
 * ns/span: a fixed amount of work for perf stat -e instructions or callgrind.
 *
 * usage: bench_spanmetrics [--seconds S] [--stage-only]  (S: per run, default 1)
 *        bench_spanmetrics --dump FILE [PASSES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "tg_alloc.h"
#include "tg_batch.h"
#include "tg_buf.h"
#include "tg_component.h"
#include "tg_gzip.h"
#include "tg_pipeline.h"
#include "tg_service.h"
#include "../exporters/prometheus/prom_gzip.h"
#include "../exporters/prometheus/prom_render.h"
#include "../processors/spanmetrics/spanmetrics_conf.h"

#define N_REQ 10
#define SPANS 1000
#define REPS 5 /* best of: the benchmark machine is shared */

extern const tg_component tg_processor_spanmetrics;

typedef struct request {
  uint8_t *data;
  size_t len;
  size_t offsets[1], lengths[1], counts[1];
} request;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static tg_key_value *kv(tg_arena *a, const char *k, const char *v) {
  tg_key_value *p = tg_arena_alloc(a, sizeof *p);
  opentelemetry__proto__common__v1__key_value__init(p);
  tg_any_value *av = tg_arena_alloc(a, sizeof *av);
  opentelemetry__proto__common__v1__any_value__init(av);
  av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  av->string_value = tg_arena_strndup(a, v, strlen(v));
  p->key = tg_arena_strndup(a, k, strlen(k));
  p->value = av;
  return p;
}

static void build(request *r, int v) {
  tg_arena *a = tg_arena_new(0, 0);
  tg_export_request req;
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  tg_resource *res = tg_arena_alloc(a, sizeof *res);
  opentelemetry__proto__resource__v1__resource__init(res);
  char svc[32];
  snprintf(svc, sizeof svc, "service-%d", v);
  res->attributes = tg_arena_alloc(a, 2 * sizeof(void *));
  res->attributes[0] = kv(a, "service.name", svc);
  res->attributes[1] = kv(a, "host.name", "bench-host");
  res->n_attributes = 2;
  rs->resource = res;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  ss->spans = tg_arena_alloc(a, SPANS * sizeof(void *));
  for (int i = 0; i < SPANS; i++) {
    tg_span *s = tg_arena_alloc(a, sizeof *s);
    opentelemetry__proto__trace__v1__span__init(s);
    char name[32];
    snprintf(name, sizeof name, "op-%d", i);
    s->name = tg_arena_strndup(a, name, strlen(name));
    s->kind = 2;
    uint8_t *tid = tg_arena_alloc(a, 16), *sid = tg_arena_alloc(a, 8);
    uint64_t x = xr(), y = xr(), z = xr();
    memcpy(tid, &x, 8);
    memcpy(tid + 8, &y, 8);
    memcpy(sid, &z, 8);
    s->trace_id = (ProtobufCBinaryData){16, tid};
    s->span_id = (ProtobufCBinaryData){8, sid};
    s->start_time_unix_nano = 1700000000000000000ull + (uint64_t)i * 1000;
    s->end_time_unix_nano = s->start_time_unix_nano + (xr() % 3000) * 1000000ull;
    static const char *keys[] = {"http.method", "http.route", "http.status_code",
                                 "net.peer.name", "user_agent.original", "a1", "a2", "a3",
                                 "a4", "a5"};
    s->attributes = tg_arena_alloc(a, 10 * sizeof(void *));
    for (int k = 0; k < 10; k++)
      s->attributes[k] = kv(a, keys[k], "some-attribute-value-of-moderate-length");
    s->n_attributes = 10;
    ss->spans[i] = s;
  }
  ss->n_spans = SPANS;
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  req.resource_spans = tg_arena_alloc(a, sizeof(void *));
  req.resource_spans[0] = rs;
  req.n_resource_spans = 1;
  r->len = protobuf_c_message_get_packed_size(&req.base);
  r->data = tg_malloc(r->len);
  protobuf_c_message_pack(&req.base, r->data);
  tg_arena_unref(a);
  /* one resource_spans field: tag 0x0a, varint length, body */
  size_t p = 1, n = 0;
  int shift = 0;
  while (r->data[p] & 0x80) {
    n |= (size_t)(r->data[p++] & 0x7f) << shift;
    shift += 7;
  }
  n |= (size_t)r->data[p++] << shift;
  r->offsets[0] = p;
  r->lengths[0] = n;
  r->counts[0] = SPANS;
}

/* The exporter's work at the end of the pipeline: encode once, free. */
static size_t encoded_bytes;
static int export_sink(void *target, tg_batch *b) {
  (void)target;
  size_t len = tg_batch_encoded_size(b);
  uint8_t *out = tg_malloc(len);
  encoded_bytes += tg_batch_encode(b, out);
  tg_free(out);
  tg_batch_free(b);
  return TG_OK;
}
static int free_sink(void *target, tg_batch *b) {
  (void)target;
  tg_batch_free(b);
  return TG_OK;
}

static const tg_metric_source *g_source;
static int fake_metrics_consume(tg_instance *self, tg_batch *b) {
  (void)self;
  g_source = b->metrics;
  tg_batch_free(b);
  return TG_OK;
}
static const tg_component fake_metrics = {.abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER,
                                          .type = "fake", .signals = TG_SIGNAL_METRICS,
                                          .ops = {.consume = fake_metrics_consume}};

typedef struct stage {
  uv_loop_t loop;
  tg_logger log;
  tg_service svc;
  tg_service_graph graph;
  tg_instance *insts[1];
  tg_instance metrics, sm;
  tg_spanmetrics_conf conf;
} stage;

static void stage_init(stage *s, tg_consumer next) {
  memset(s, 0, sizeof *s);
  uv_loop_init(&s->loop);
  tg_logger_init(&s->log, TG_LOG_NONE, stdout);
  s->svc = (tg_service){.loop = &s->loop, .log = &s->log, .metrics = tg_metrics_new(),
                        .kept = tg_kept_traces_new(65536)};
  s->metrics = (tg_instance){.component = &fake_metrics, .id = "prometheus", .service = &s->svc};
  s->insts[0] = &s->metrics;
  s->graph.instances = s->insts;
  s->graph.n_instances = 1;
  s->svc.graph = &s->graph;
  tg_diag d;
  tg_diag_init(&d);
  tg_conf_apply(tg_spanmetrics_conf_keys, TG_SPANMETRICS_CONF_N_KEYS, NULL, &s->conf, "sm", &d);
  tg_diag_free(&d);
  s->conf.metrics_exporter = tg_strdup("prometheus");
  s->conf.exemplars_enabled = 1;
  s->sm = (tg_instance){.component = &tg_processor_spanmetrics, .id = "spanmetrics",
                        .conf = &s->conf, .service = &s->svc, .next = next};
  tg_errbuf err = {{0}};
  if (tg_component_create(&s->sm, &err) || tg_component_start(&s->sm, &err)) {
    fprintf(stderr, "spanmetrics: %s\n", err.msg);
    exit(1);
  }
}

static void stage_done(tg_instance *i) { (void)i; }
static void stage_free(stage *s) {
  tg_component_stop(&s->sm, stage_done);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  tg_component_destroy(&s->sm);
  tg_conf_release(tg_spanmetrics_conf_keys, TG_SPANMETRICS_CONF_N_KEYS, &s->conf);
  uv_loop_close(&s->loop);
  tg_kept_traces_free(s->svc.kept);
  tg_metrics_free(s->svc.metrics);
  tg_logger_destroy(&s->log);
}

static request reqs[N_REQ];

enum mode { WIRE, DECODED };

/* Spans per second through `mode` (+ spanmetrics when s != NULL) for `secs`. */
static double run(enum mode mode, stage *s, double secs) {
  tg_consumer sink = {export_sink, NULL};
  size_t spans = 0;
  double t0 = now_s(), t;
  int i = 0;
  do {
    for (int k = 0; k < 20; k++, i++) {
      const request *r = &reqs[i % N_REQ];
      tg_batch *b = tg_batch_new(r->len * 2, 0);
      if (mode == WIRE)
        tg_batch_adopt_wire(b, r->data, r->len, r->offsets, r->lengths, r->counts, 1);
      else
        tg_batch_decode_otlp(b, r->data, r->len);
      b->span_count = SPANS;
      if (s)
        tg_component_consume(&s->sm, b);
      else
        tg_consumer_push(&sink, b);
      spans += SPANS;
    }
    t = now_s();
  } while (t - t0 < secs);
  return (double)spans / (t - t0);
}

static double stage_alone(stage *s, double secs, enum mode mode) {
  tg_batch *pre[N_REQ];
  for (int i = 0; i < N_REQ; i++) {
    const request *r = &reqs[i];
    pre[i] = tg_batch_new(r->len * 2, 0);
    if (mode == WIRE)
      tg_batch_adopt_wire(pre[i], r->data, r->len, r->offsets, r->lengths, r->counts, 1);
    else
      tg_batch_decode_otlp(pre[i], r->data, r->len);
    pre[i]->span_count = SPANS;
  }
  size_t spans = 0;
  double t0 = now_s(), t;
  int i = 0;
  do {
    for (int k = 0; k < 50; k++, i++) {
      tg_batch *b = tg_batch_ref(pre[i % N_REQ]); /* next frees one reference */
      tg_component_consume(&s->sm, b);
      spans += SPANS;
    }
    t = now_s();
  } while (t - t0 < secs);
  for (int i2 = 0; i2 < N_REQ; i2++)
    tg_batch_free(pre[i2]);
  return (double)spans / (t - t0);
}

static void scrape(tg_prom_format fmt, int gzip, double *ms, size_t *bytes) {
  const tg_metric_source *src[] = {g_source};
  tg_prom_render_opts o = {.format = fmt, .name_prefix = NULL, .const_labels = NULL};
  double best = 1e9;
  for (int rep = 0; rep < 10; rep++) {
    tg_buf b, gz;
    tg_buf_init(&b, 0);
    tg_buf_init(&gz, 0);
    double t0 = now_s();
    tg_prom_render(src, 1, &o, &b);
    if (gzip)
      tg_prom_gzip(b.data, b.len, &gz);
    double dt = (now_s() - t0) * 1000;
    if (dt < best)
      best = dt;
    *bytes = gzip ? gz.len : b.len;
    tg_buf_free(&b);
    tg_buf_free(&gz);
  }
  *ms = best;
}

/* --dump: the stage alone on tg_loadgen's requests (see the header). */
static int dump_main(const char *path, size_t passes) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 2;
  }
  request *rq = NULL;
  size_t n = 0;
  uint8_t hdr[4];
  while (fread(hdr, 1, 4, f) == 4) {
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    request *grown = tg_realloc(rq, (n + 1) * sizeof *rq);
    if (!grown)
      return 2;
    rq = grown;
    request *r = &rq[n++];
    r->data = tg_malloc(len ? len : 1);
    r->len = len;
    if (!r->data || fread(r->data, 1, len, f) != len || len < 3 || r->data[0] != 0x0a)
      return 2;
    size_t p = 1, sl = 0;
    for (int shift = 0; p < len && shift < 35; shift += 7) {
      sl |= (size_t)(r->data[p] & 0x7f) << shift;
      if (!(r->data[p++] & 0x80))
        break;
    }
    r->offsets[0] = p;
    r->lengths[0] = sl;
    r->counts[0] = 100; /* tg_loadgen's default spans per request */
    if (p + sl != len)
      return 2; /* one resource_spans per request, as tg_loadgen writes them */
  }
  fclose(f);
  stage st;
  stage_init(&st, (tg_consumer){free_sink, NULL});
  size_t spans = 0;
  double t0 = now_s();
  for (size_t pass = 0; pass < passes; pass++)
    for (size_t i = 0; i < n; i++) {
      tg_batch *b = tg_batch_new(rq[i].len * 2, 0);
      tg_batch_adopt_wire(b, rq[i].data, rq[i].len, rq[i].offsets, rq[i].lengths,
                          rq[i].counts, 1);
      spans += b->span_count;
      tg_component_consume(&st.sm, b);
    }
  double t = now_s() - t0;
  printf("stage wire (tg_loadgen requests): %.0f ns/span over %zu spans (adopt included)\n",
         t * 1e9 / (double)spans, spans);
  stage_free(&st);
  for (size_t i = 0; i < n; i++)
    tg_free(rq[i].data);
  tg_free(rq);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "--dump"))
    return dump_main(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) : 200);
  double secs = 1;
  int stage_only = 0; /* for profiling the stage: --stage-only */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      secs = atof(argv[i + 1]);
    stage_only |= !strcmp(argv[i], "--stage-only");
  }
  for (int v = 0; v < N_REQ; v++)
    build(&reqs[v], v);
  printf("workload: %d requests x %d spans (%zu bytes each), 10 services x 1000 names\n",
         N_REQ, SPANS, reqs[0].len);

  stage st;
  stage_init(&st, (tg_consumer){free_sink, NULL});
  double alone = 0, alone_wire = 0;
  for (int rep = 0; rep < REPS; rep++) {
    double x = stage_alone(&st, secs, DECODED);
    if (x > alone)
      alone = x;
    if ((x = stage_alone(&st, secs, WIRE)) > alone_wire)
      alone_wire = x;
  }
  size_t series = 0;
  {
    tg_buf b;
    tg_buf_init(&b, 0);
    const tg_metric_source *src[] = {g_source};
    tg_prom_render_opts o = {.format = TG_PROM_TEXT, .name_prefix = NULL, .const_labels = NULL};
    tg_prom_render(src, 1, &o, &b);
    tg_buf_append(&b, "", 1);
    for (const char *p = (const char *)b.data; (p = strstr(p, "\ntraces_span_metrics_calls_total{")); p++)
      series++;
    tg_buf_free(&b);
  }
  printf("stage decoded: %10.0f spans/s  (%.0f ns/span; %zu series)\n", alone, 1e9 / alone, series);
  printf("stage wire:    %10.0f spans/s  (%.0f ns/span)\n", alone_wire, 1e9 / alone_wire);
  if (stage_only) {
    stage_free(&st);
    for (int v = 0; v < N_REQ; v++)
      tg_free(reqs[v].data);
    return 0;
  }
  double ms;
  size_t bytes;
  scrape(TG_PROM_TEXT, 0, &ms, &bytes);
  printf("scrape text:   %10.1f ms  (%zu bytes)\n", ms, bytes);
  scrape(TG_PROM_OPENMETRICS, 0, &ms, &bytes);
  printf("scrape OM:     %10.1f ms  (%zu bytes)\n", ms, bytes);
  scrape(TG_PROM_OPENMETRICS, 1, &ms, &bytes);
  printf("scrape OM+gz:  %10.1f ms  (%zu bytes)\n", ms, bytes);
  stage_free(&st);

  stage p;
  stage_init(&p, (tg_consumer){export_sink, NULL});
  /* The machine is shared: interleave the variants and keep each one's best of REPS. */
  double wire = 0, wire_sm = 0, dec = 0, dec_sm = 0;
  for (int rep = 0; rep < REPS; rep++) {
    double x;
    if ((x = run(WIRE, NULL, secs)) > wire)
      wire = x;
    if ((x = run(WIRE, &p, secs)) > wire_sm)
      wire_sm = x;
    if ((x = run(DECODED, NULL, secs)) > dec)
      dec = x;
    if ((x = run(DECODED, &p, secs)) > dec_sm)
      dec_sm = x;
  }
  printf("wire:          %10.0f spans/s\n", wire);
  printf("wire+sm:       %10.0f spans/s  (%.1f %% fewer)\n", wire_sm, 100 * (1 - wire_sm / wire));
  printf("decoded:       %10.0f spans/s\n", dec);
  printf("decoded+sm:    %10.0f spans/s  (%.1f %% fewer)\n", dec_sm, 100 * (1 - dec_sm / dec));
  stage_free(&p);
  for (int v = 0; v < N_REQ; v++)
    tg_free(reqs[v].data);
  return 0;
}
