/* bench_otlp_scan: the OTLP receiver's wire index (tg_otlp_proto_index) alone, per
 * request and per span, on real request bytes (docs/BENCHMARKS.md).
 *
 * usage: bench_otlp_scan FILE [ROUNDS] [scan]
 *   FILE: requests written by `tg_loadgen --dump FILE --requests N` (4-byte big-endian
 *   length + ExportTraceServiceRequest bytes, repeated). Every request is indexed ROUNDS
 *   times (default 50); with `scan`, tg_otlp_proto_scan (no index, no wire-type checks)
 *   runs instead. Times are CPU time of this thread; under callgrind, divide the Ir of
 *   tg_otlp_proto_index by the spans printed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "receivers/otlp/otlp.h"
#include "tg_error.h"

typedef struct reqs {
  uint8_t **data;
  size_t *len;
  size_t n;
} reqs;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *path, reqs *r) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t cap = 0;
  uint8_t hdr[4];
  *r = (reqs){0};
  while (fread(hdr, 1, 4, f) == 4) {
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    uint8_t *data = malloc(len ? len : 1);
    if (!data || fread(data, 1, len, f) != len) {
      free(data);
      fclose(f);
      return -1;
    }
    if (r->n == cap) {
      cap = cap ? cap * 2 : 64;
      uint8_t **d = realloc(r->data, cap * sizeof *d);
      size_t *l = d ? realloc(r->len, cap * sizeof *l) : NULL;
      if (d)
        r->data = d;
      if (!d || !l) {
        free(data);
        fclose(f);
        return -1;
      }
      r->len = l;
    }
    r->data[r->n] = data;
    r->len[r->n] = len;
    r->n++;
  }
  fclose(f);
  return r->n ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_otlp_scan FILE [ROUNDS] [scan]\n");
    return 2;
  }
  reqs r;
  if (load(argv[1], &r) != 0) {
    fprintf(stderr, "bench_otlp_scan: cannot read requests from %s\n", argv[1]);
    return 1;
  }
  long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
  int scan_only = argc > 3 && !strcmp(argv[3], "scan");
  if (rounds < 1)
    rounds = 1;
  size_t spans = 0, bytes = 0;
  char err[256];
  tg_otlp_wire_index idx;
  for (size_t i = 0; i < r.n; i++) { /* counts, and a warm-up */
    if (tg_otlp_proto_index(r.data[i], r.len[i], TG_OTLP_PROTO_MAX_DEPTH, err, sizeof err,
                            &idx) != TG_OK) {
      fprintf(stderr, "bench_otlp_scan: request %zu: %s\n", i, err);
      return 1;
    }
    for (size_t s = 0; s < idx.n; s++)
      spans += idx.span_counts[s];
    bytes += r.len[i];
  }
  size_t sink = 0;
  double t0 = cpu_now();
  for (long k = 0; k < rounds; k++)
    for (size_t i = 0; i < r.n; i++) {
      int rc = scan_only ? tg_otlp_proto_scan(r.data[i], r.len[i], TG_OTLP_PROTO_MAX_DEPTH,
                                              err, sizeof err)
                         : tg_otlp_proto_index(r.data[i], r.len[i], TG_OTLP_PROTO_MAX_DEPTH,
                                               err, sizeof err, &idx);
      sink += (size_t)rc + idx.n;
    }
  double secs = cpu_now() - t0;
  double calls = (double)rounds * (double)r.n;
  printf("%s: %zu requests, %zu spans, %zu bytes, %ld rounds: %.0f ns/request, "
         "%.1f ns/span, %.0f MB/s (sink %zu)\n",
         scan_only ? "tg_otlp_proto_scan" : "tg_otlp_proto_index", r.n, spans, bytes, rounds,
         secs * 1e9 / calls, secs * 1e9 / (calls * (double)spans / (double)r.n),
         (double)bytes * (double)rounds / secs / 1e6, sink);
  for (size_t i = 0; i < r.n; i++)
    free(r.data[i]);
  free(r.data);
  free(r.len);
  return 0;
}
