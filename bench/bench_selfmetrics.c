/* bench_selfmetrics: what the issue 11 self-metrics cost on the hot path, and a scrape.
 *   build/bench/bench_selfmetrics [iterations]
 * Rows (ns per operation, one thread): a histogram observation; a counter add; the
 * per-service count of one resource (wire form, service.name found after two attributes)
 * with 1, 50 and 200 known services (the bounded family's series walk); and rendering a
 * registry shaped like a busy gateway (3 receivers x 2 transports with histograms,
 * 2 exporters, 200 services) — the cost of one scrape of :8888 at level detailed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg_metrics.h"
#include "tg_metrics_receiver.h"
#include "tg_metrics_service.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ResourceSpans { resource { host.name: h1, telemetry.sdk.language: nodejs,
 * service.name: <name> } } */
static size_t make_rs(uint8_t *out, const char *svc) {
  uint8_t kvs[256];
  size_t n = 0;
  const char *keys[] = {"host.name", "telemetry.sdk.language", "service.name"};
  const char *vals[] = {"h1", "nodejs", svc};
  for (int i = 0; i < 3; i++) {
    size_t kl = strlen(keys[i]), vl = strlen(vals[i]);
    kvs[n++] = 0x0a;
    kvs[n++] = (uint8_t)(2 + kl + 2 + 2 + vl);
    kvs[n++] = 0x0a;
    kvs[n++] = (uint8_t)kl;
    memcpy(kvs + n, keys[i], kl);
    n += kl;
    kvs[n++] = 0x12;
    kvs[n++] = (uint8_t)(2 + vl);
    kvs[n++] = 0x0a;
    kvs[n++] = (uint8_t)vl;
    memcpy(kvs + n, vals[i], vl);
    n += vl;
  }
  out[0] = 0x0a;
  out[1] = (uint8_t)n;
  memcpy(out + 2, kvs, n);
  return n + 2;
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 2000000;
  tg_metrics *reg = tg_metrics_new();
  tg_receiver_metrics rm[6];
  const char *recv[] = {"otlp", "jaeger", "zipkin"};
  for (int i = 0; i < 6; i++)
    tg_receiver_metrics_init(&rm[i], reg, recv[i / 2], i % 2 ? "http" : "grpc");
  printf("| operation | ns |\n|---|---|\n");
  double t0 = now_ns();
  for (long i = 0; i < iters; i++)
    tg_metric_observe(rm[0].duration, (double)(i % 1000) * 1e-5);
  printf("| histogram observe | %.1f |\n", (now_ns() - t0) / iters);
  t0 = now_ns();
  for (long i = 0; i < iters; i++)
    tg_metric_add(rm[0].accepted, 1);
  printf("| counter add | %.1f |\n", (now_ns() - t0) / iters);
  uint8_t rs[256];
  char name[32];
  int known[] = {1, 50, 200};
  int have = 0;
  for (int k = 0; k < 3; k++) {
    for (; have < known[k]; have++) {
      int l = snprintf(name, sizeof name, "service-%03d", have);
      tg_metrics_service_add(reg, TG_METRICS_SERVICE_SPANS, name, (size_t)l, 1);
    }
    snprintf(name, sizeof name, "service-%03d", known[k] - 1); /* the last one: worst case */
    size_t len = make_rs(rs, name);
    long n = iters / 10;
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
      const char *s;
      size_t sl;
      if (tg_metrics_service_name_wire(rs, len, &s, &sl) == 0)
        tg_metrics_service_add(reg, TG_METRICS_SERVICE_SPANS, s, sl, 100);
    }
    printf("| per-service count of one resource, %d services known | %.1f |\n", known[k],
           (now_ns() - t0) / n);
  }
  tg_buf out;
  tg_buf_init(&out, 0);
  tg_metrics_render(reg, &out);
  size_t bytes = out.len;
  int scrapes = 200;
  t0 = now_ns();
  for (int i = 0; i < scrapes; i++) {
    out.len = 0;
    tg_metrics_render(reg, &out);
  }
  printf("| render /metrics (%zu bytes) | %.0f |\n", bytes, (now_ns() - t0) / scrapes);
  tg_buf_free(&out);
  tg_metrics_free(reg);
  return 0;
}
