/* tg_zipkin_gen: a Zipkin load generator (POST /api/v2/spans, v2 JSON or protobuf) for
 * benchmarking tailgate's zipkin receiver; see bench/run_zipkin_bench.sh.
 *
 * As tg_loadgen, generation is kept out of the measurement: N_VARIANTS bodies are built
 * before the clock starts with translate/zipkin's own writers (JSON: the exporter's
 * encoder; proto: protobuf-c), each of --spans-per-request spans shaped like what a
 * tracer sends (64-bit ids, CLIENT/SERVER kinds, a local and a remote endpoint,
 * --tags-per-span string tags, one annotation). Ids differ between variants and spans;
 * the same bodies are re-sent, which is fine for a pipeline without tail sampling.
 * One thread and one curl easy handle (keep-alive) per --connections; each sends one
 * request at a time until --duration ends. Output: one JSON line (requests, spans_ok,
 * failed, seconds, bytes_per_span). Exit 0 when every request got a 2xx, 1 otherwise.
 *
 * --inprocess N sends nothing: it runs the receiver's decode + conversion and the OTLP
 * encoding an exporter does on N bodies in this thread and reports spans per CPU-second,
 * the per-core cost of the Zipkin path without HTTP and gRPC (which the OTLP path pays
 * too). */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "tg_arena.h"
#include "tg_buf.h"
#include "tg_error.h"
#include "receivers/zipkin/zipkin.h"
#include "tg_alloc.h"
#include "translate/zipkin/zipkin_model.h"

#define N_VARIANTS 4

typedef struct options {
  const char *url;
  int proto;
  size_t spans, tags;
  int connections;
  double duration;
  long inprocess; /* > 0: no HTTP; decode + convert + OTLP-encode this many bodies */
} options;

typedef struct body {
  tg_buf buf;
} body;

typedef struct worker {
  pthread_t thread;
  const options *o;
  const body *bodies;
  uint64_t requests, ok, failed;
} worker;

static atomic_int stop_flag;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ProtobufCBinaryData id_bytes(tg_arena *a, uint64_t v) {
  uint8_t *d = tg_arena_alloc(a, 8);
  for (int i = 7; i >= 0; i--, v >>= 8)
    d[i] = (uint8_t)v;
  return (ProtobufCBinaryData){8, d};
}

static char *text(tg_arena *a, const char *fmt, size_t i) {
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, fmt, i);
  return tg_arena_strndup(a, tmp, (size_t)n);
}

static void build(body *b, const options *o, int variant) {
  tg_arena *a = tg_arena_new(1 << 20, 0);
  tg_zipkin_list list = ZIPKIN__PROTO3__LIST_OF_SPANS__INIT;
  list.spans = tg_arena_alloc(a, o->spans * sizeof *list.spans);
  tg_zipkin_endpoint *local = tg_arena_alloc(a, sizeof *local), *remote = tg_arena_alloc(a, sizeof *remote);
  zipkin__proto3__endpoint__init(local);
  zipkin__proto3__endpoint__init(remote);
  local->service_name = text(a, "checkout-%zu", (size_t)variant);
  static const uint8_t ip[4] = {10, 0, 0, 7};
  local->ipv4 = (ProtobufCBinaryData){4, (uint8_t *)ip};
  remote->service_name = "payments";
  remote->port = 8080;
  uint64_t base = 0x1000000000000000ull * (uint64_t)(variant + 1);
  for (size_t i = 0; i < o->spans; i++) {
    tg_zipkin_span *s = tg_arena_alloc(a, sizeof *s);
    zipkin__proto3__span__init(s);
    s->trace_id = id_bytes(a, base + i / 5 + 1);
    s->id = id_bytes(a, base + 0x100000 + i + 1);
    if (i % 5)
      s->parent_id = id_bytes(a, base + 0x100000 + i);
    s->kind = i % 2 ? TG_ZIPKIN_KIND_CLIENT : TG_ZIPKIN_KIND_SERVER;
    s->name = text(a, "GET /api/items/%zu", i % 16);
    s->timestamp = 1700000000000000ull + i * 10;
    s->duration = 1234 + i % 100;
    s->local_endpoint = local;
    s->remote_endpoint = i % 2 ? remote : NULL;
    s->tags = tg_arena_alloc(a, o->tags * sizeof *s->tags);
    for (size_t t = 0; t < o->tags; t++) {
      tg_zipkin_tag *tag = tg_arena_alloc(a, sizeof *tag);
      zipkin__proto3__span__tags_entry__init(tag);
      tag->key = text(a, "attribute.key.%zu", t);
      tag->value = text(a, "some attribute value %zu", t * 7 + i % 3);
      s->tags[s->n_tags++] = tag;
    }
    tg_zipkin_annotation *an = tg_arena_alloc(a, sizeof *an);
    zipkin__proto3__annotation__init(an);
    an->timestamp = s->timestamp + 100;
    an->value = "cache miss";
    s->annotations = tg_arena_alloc(a, sizeof *s->annotations);
    s->annotations[0] = an;
    s->n_annotations = 1;
    list.spans[list.n_spans++] = s;
  }
  tg_buf_init(&b->buf, 0);
  if (o->proto) {
    size_t n = zipkin__proto3__list_of_spans__get_packed_size(&list);
    tg_buf_reserve(&b->buf, n);
    b->buf.len = zipkin__proto3__list_of_spans__pack(&list, b->buf.data);
  } else if (tg_zipkin_json_encode(&b->buf, &list) != TG_OK) {
    fprintf(stderr, "tg_zipkin_gen: cannot encode\n");
    exit(2);
  }
  tg_arena_unref(a);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

static void *run(void *arg) {
  worker *w = arg;
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(
      NULL, w->o->proto ? "Content-Type: application/x-protobuf" : "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, w->o->url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  for (uint64_t i = 0; !atomic_load(&stop_flag); i++) {
    const body *b = &w->bodies[i % N_VARIANTS];
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->buf.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)b->buf.len);
    long code = 0;
    w->requests++;
    if (curl_easy_perform(c) == CURLE_OK &&
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code / 100 == 2)
      w->ok++;
    else
      w->failed++;
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return NULL;
}

int main(int argc, char **argv) {
  options o = {.url = "http://127.0.0.1:9411/api/v2/spans", .spans = 100, .tags = 10,
               .connections = 4, .duration = 10};
  static const struct option longopts[] = {
      {"url", required_argument, NULL, 'u'},         {"proto", no_argument, NULL, 'p'},
      {"spans-per-request", required_argument, NULL, 's'},
      {"tags-per-span", required_argument, NULL, 't'},
      {"connections", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
      {"inprocess", required_argument, NULL, 'i'},
      {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
    case 'u': o.url = optarg; break;
    case 'p': o.proto = 1; break;
    case 's': o.spans = strtoul(optarg, NULL, 10); break;
    case 't': o.tags = strtoul(optarg, NULL, 10); break;
    case 'c': o.connections = atoi(optarg); break;
    case 'd': o.duration = strtod(optarg, NULL); break;
    case 'i': o.inprocess = strtol(optarg, NULL, 10); break;
    default:
      fprintf(stderr, "usage: tg_zipkin_gen [--url URL] [--proto] [--spans-per-request N] "
                      "[--tags-per-span N] [--connections N] [--duration S] [--inprocess N]\n");
      return 2;
    }
  }
  if (!o.spans || o.connections < 1 || o.connections > 256 || o.duration <= 0) {
    fprintf(stderr, "tg_zipkin_gen: bad options\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  body bodies[N_VARIANTS];
  for (int v = 0; v < N_VARIANTS; v++)
    build(&bodies[v], &o, v);
  if (o.inprocess > 0) {
    /* the receiver's work on one core: decode + convert into a batch, then the OTLP
     * encoding the exporter does (tg_batch_encode), measured in thread CPU time */
    double c0 = thread_cpu_s(), c_dec = 0;
    size_t spans = 0, out_bytes = 0;
    for (long i = 0; i < o.inprocess; i++) {
      const body *b = &bodies[i % N_VARIANTS];
      double d0 = thread_cpu_s();
      tg_batch *batch;
      size_t invalid;
      char msg[256];
      if (tg_zipkin_decode(o.proto ? TG_ZIPKIN_V2_PROTO : TG_ZIPKIN_V2_JSON, b->buf.data,
                           b->buf.len, &batch, &invalid, msg, sizeof msg) != TG_OK) {
        fprintf(stderr, "tg_zipkin_gen: decode failed: %s\n", msg);
        return 1;
      }
      c_dec += thread_cpu_s() - d0;
      size_t n = tg_batch_encoded_size(batch);
      uint8_t *enc = tg_malloc(n);
      out_bytes += tg_batch_encode(batch, enc);
      tg_free(enc);
      spans += batch->span_count;
      tg_batch_free(batch);
    }
    double total = thread_cpu_s() - c0;
    printf("{\"inprocess\":true,\"format\":\"%s\",\"spans\":%zu,\"cpu_s\":%.3f,"
           "\"spans_per_cpu_s\":%.0f,\"decode_convert_spans_per_cpu_s\":%.0f,"
           "\"bytes_per_span_in\":%.1f,\"otlp_bytes_per_span\":%.1f}\n",
           o.proto ? "proto" : "json", spans, total, (double)spans / total,
           (double)spans / c_dec, (double)bodies[0].buf.len / (double)o.spans,
           (double)out_bytes / (double)spans);
    for (int v = 0; v < N_VARIANTS; v++)
      tg_buf_free(&bodies[v].buf);
    curl_global_cleanup();
    return 0;
  }
  worker *ws = calloc((size_t)o.connections, sizeof *ws);
  double t0 = now_s();
  for (int i = 0; i < o.connections; i++) {
    ws[i].o = &o;
    ws[i].bodies = bodies;
    pthread_create(&ws[i].thread, NULL, run, &ws[i]);
  }
  struct timespec nap = {(time_t)o.duration, (long)((o.duration - (double)(time_t)o.duration) * 1e9)};
  nanosleep(&nap, NULL);
  atomic_store(&stop_flag, 1);
  uint64_t req = 0, ok = 0, failed = 0;
  for (int i = 0; i < o.connections; i++) {
    pthread_join(ws[i].thread, NULL);
    req += ws[i].requests;
    ok += ws[i].ok;
    failed += ws[i].failed;
  }
  double secs = now_s() - t0;
  printf("{\"requests\":%" PRIu64 ",\"spans_ok\":%" PRIu64 ",\"failed\":%" PRIu64
         ",\"seconds\":%.3f,\"spans_per_s\":%.0f,\"bytes_per_span\":%.1f,\"format\":\"%s\"}\n",
         req, ok * o.spans, failed, secs, (double)(ok * o.spans) / secs,
         (double)bodies[0].buf.len / (double)o.spans, o.proto ? "proto" : "json");
  for (int v = 0; v < N_VARIANTS; v++)
    tg_buf_free(&bodies[v].buf);
  free(ws);
  curl_global_cleanup();
  return failed ? 1 : 0;
}
