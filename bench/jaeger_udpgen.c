/* tg_jaeger_udpgen: a Jaeger agent-protocol load generator (Agent.emitBatch datagrams in
 * Thrift compact or binary over UDP), for benchmarking the jaeger receiver's UDP ingest.
 *
 * Datagrams are built before the clock starts (a ring of distinct ones, so ids vary)
 * with tailgate's own Thrift encoder, which the unit tests check against hand-written
 * wire bytes and the interop tests against Apache Thrift's output. Sending is paced in
 * 1 ms slices with sendmmsg (up to 64 datagrams a call), so the generator itself costs
 * little CPU and offers the rate asked for; it reports spans offered and its own CPU.
 *
 * usage: tg_jaeger_udpgen --target HOST:PORT [--protocol compact|binary]
 *        [--spans-per-datagram 50] [--tags-per-span 8] [--rate SPANS_PER_S] [--duration S]
 * Output: one JSON line {"spans_sent":..,"datagrams_sent":..,"send_errors":..,
 * "seconds":..,"datagram_bytes":..,"gen_cpu_s":..}. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exporters/jaeger/jaeger_thrift_encode.h"
#include "tg_alloc.h"
#include "tg_error.h"

#define RING 256
#define BURST 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static tg_jaeger_kv *kv(tg_arena *a, const char *key, int type, const char *s, int64_t i) {
  tg_jaeger_kv *t = tg_arena_alloc(a, sizeof *t);
  jaeger__api_v2__key_value__init(t);
  t->key = (char *)key;
  t->v_type = type;
  t->v_str = (char *)s;
  t->v_int64 = i;
  t->v_bool = (int)(i & 1);
  t->v_float64 = (double)i / 3;
  return t;
}

/* One datagram: a process with three tags, n spans of one trace (a root and children)
 * with `tags` tags each; ids derived from seq. */
static int build(tg_buf *out, int proto, unsigned seq, int n, int tags) {
  tg_arena *a = tg_arena_new(0, 0);
  tg_jaeger_batch b = JAEGER__API_V2__BATCH__INIT;
  tg_jaeger_process p = JAEGER__API_V2__PROCESS__INIT;
  p.service_name = "bench-svc";
  tg_jaeger_kv *ptags[] = {kv(a, "hostname", 0, "bench-host-1", 0),
                           kv(a, "ip", 0, "10.0.0.7", 0),
                           kv(a, "jaeger.version", 0, "Go-2.30.0", 0)};
  p.tags = ptags;
  p.n_tags = 3;
  b.process = &p;
  b.spans = tg_arena_alloc(a, (size_t)n * sizeof *b.spans);
  static const char *const names[] = {"http.method", "http.url", "http.status_code", "peer.service",
                                      "db.system", "component", "retry", "cache.hit"};
  for (int i = 0; i < n; i++) {
    tg_jaeger_span *s = tg_arena_alloc(a, sizeof *s);
    jaeger__api_v2__span__init(s);
    uint8_t *ids = tg_arena_alloc(a, 24);
    for (int k = 0; k < 16; k++)
      ids[k] = (uint8_t)(0x11 * (k + 1) + seq);
    ids[15] = (uint8_t)seq;
    ids[14] = (uint8_t)(seq >> 8);
    for (int k = 0; k < 8; k++)
      ids[16 + k] = (uint8_t)(seq * 131 + (unsigned)i * 7 + (unsigned)k + 1);
    s->trace_id = (ProtobufCBinaryData){16, ids};
    s->span_id = (ProtobufCBinaryData){8, ids + 16};
    s->operation_name = i ? "SELECT orders" : "GET /api/orders";
    s->flags = 1;
    Google__Protobuf__Timestamp *ts = tg_arena_alloc(a, sizeof *ts);
    google__protobuf__timestamp__init(ts);
    ts->seconds = 1700000000 + seq;
    ts->nanos = i * 1000;
    s->start_time = ts;
    Google__Protobuf__Duration *d = tg_arena_alloc(a, sizeof *d);
    google__protobuf__duration__init(d);
    d->nanos = 250000;
    s->duration = d;
    if (i) {
      tg_jaeger_ref *r = tg_arena_alloc(a, sizeof *r);
      jaeger__api_v2__span_ref__init(r);
      r->trace_id = s->trace_id;
      r->span_id = b.spans[0]->span_id;
      s->references = tg_arena_alloc(a, sizeof *s->references);
      s->references[0] = r;
      s->n_references = 1;
    }
    s->tags = tg_arena_alloc(a, (size_t)(tags + 1) * sizeof *s->tags);
    s->tags[s->n_tags++] = kv(a, "span.kind", 0, i ? "client" : "server", 0);
    for (int k = 0; k < tags; k++)
      s->tags[s->n_tags++] = kv(a, names[k % 8], k % 4 == 2 ? 2 : k % 4 == 3 ? 1 : 0,
                                "value-of-a-typical-tag", 200 + k);
    b.spans[b.n_spans++] = s;
  }
  int rc = tg_jaeger_thrift_encode_emit_batch(out, (tg_thrift_protocol)proto, &b, (int32_t)seq);
  tg_arena_unref(a);
  return rc;
}

int main(int argc, char **argv) {
  const char *target = "127.0.0.1:6831";
  int proto = TG_THRIFT_COMPACT, per = 50, tags = 8;
  double rate = 100000, duration = 10;
  static const struct option opts[] = {
      {"target", required_argument, 0, 't'},  {"protocol", required_argument, 0, 'p'},
      {"spans-per-datagram", required_argument, 0, 'n'},
      {"tags-per-span", required_argument, 0, 'g'}, {"rate", required_argument, 0, 'r'},
      {"duration", required_argument, 0, 'd'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 't': target = optarg; break;
    case 'p': proto = !strcmp(optarg, "binary") ? TG_THRIFT_BINARY : TG_THRIFT_COMPACT; break;
    case 'n': per = atoi(optarg); break;
    case 'g': tags = atoi(optarg); break;
    case 'r': rate = atof(optarg); break;
    case 'd': duration = atof(optarg); break;
    default:
      fprintf(stderr, "usage: tg_jaeger_udpgen --target HOST:PORT [--protocol compact|binary] "
                      "[--spans-per-datagram N] [--tags-per-span N] [--rate SPANS/S] "
                      "[--duration S]\n");
      return 2;
    }
  }
  if (per < 1 || per > 2000 || tags < 0 || tags > 64 || rate <= 0 || duration <= 0) {
    fprintf(stderr, "tg_jaeger_udpgen: bad arguments\n");
    return 2;
  }
  char host[64];
  const char *colon = strrchr(target, ':');
  if (!colon || (size_t)(colon - target) >= sizeof host) {
    fprintf(stderr, "tg_jaeger_udpgen: --target HOST:PORT\n");
    return 2;
  }
  memcpy(host, target, (size_t)(colon - target));
  host[colon - target] = '\0';
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
    fprintf(stderr, "tg_jaeger_udpgen: numeric IPv4 host expected\n");
    return 2;
  }
  tg_buf ring[RING];
  for (unsigned i = 0; i < RING; i++) {
    tg_buf_init(&ring[i], 0);
    if (build(&ring[i], proto, i, per, tags) != TG_OK || ring[i].len > TG_JAEGER_MAX_DATAGRAM) {
      fprintf(stderr, "tg_jaeger_udpgen: a datagram of %d spans does not fit 65000 bytes\n", per);
      return 2;
    }
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst)) {
    perror("connect");
    return 1;
  }
  double dgrams_per_s = rate / per;
  double t0 = now_s(), c0 = cpu_s();
  unsigned long long sent = 0, errors = 0;
  unsigned next = 0;
  struct mmsghdr msgs[BURST];
  struct iovec iov[BURST];
  for (;;) {
    double t = now_s() - t0;
    if (t >= duration)
      break;
    unsigned long long due = (unsigned long long)(t * dgrams_per_s);
    while (sent + errors < due) {
      unsigned n = (unsigned)(due - sent - errors < BURST ? due - sent - errors : BURST);
      for (unsigned i = 0; i < n; i++) {
        tg_buf *b = &ring[(next + i) % RING];
        iov[i] = (struct iovec){b->data, b->len};
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int k = sendmmsg(fd, msgs, n, 0);
      if (k <= 0) {
        errors++; /* ECONNREFUSED (nothing listening yet) or ENOBUFS: counted, skipped */
        next++;
        continue;
      }
      sent += (unsigned)k;
      next += (unsigned)k;
    }
    struct timespec ts = {0, 1000000L}; /* 1 ms slices */
    nanosleep(&ts, NULL);
  }
  double secs = now_s() - t0;
  printf("{\"spans_sent\":%llu,\"datagrams_sent\":%llu,\"send_errors\":%llu,\"seconds\":%.3f,"
         "\"datagram_bytes\":%zu,\"gen_cpu_s\":%.3f}\n",
         sent * (unsigned long long)per, sent, errors, secs, ring[0].len, cpu_s() - c0);
  for (unsigned i = 0; i < RING; i++)
    tg_buf_free(&ring[i]);
  close(fd);
  return 0;
}
