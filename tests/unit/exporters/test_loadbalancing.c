/* The loadbalancing exporter's pure parts: the ring's key movement on membership change,
 * the stickiness table's bounds, the wire split (every span lands exactly once, on the
 * slot pick chose, with its resource and scope intact), and the DNS codec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_dns.h"
#include "lb_ring.h"
#include "lb_split.h"
#include "lb_sticky.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_span-t.h"
#include "tg_trace_id.h"
#include "exp_test_util.h"
#include "lb.h"

extern const tg_component tg_exporter_loadbalancing;

static uint64_t xs = 88172645463325252ull;
static uint64_t rnd(void) {
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return xs;
}

static char *names_buf[32];
static void make_names(size_t n) {
  for (size_t i = 0; i < n; i++) {
    names_buf[i] = malloc(48);
    snprintf(names_buf[i], 48, "10.0.0.%zu:4317", i + 1);
  }
}
static void free_names(size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names_buf[i]);
}

enum { KEYS = 100000 };

/* Removing one of 10 moves exactly the keys it owned (≈ 1/10), and nothing else;
 * adding an 11th moves ≈ 1/11, all of them to the newcomer. */
static void test_ring_moves_one_nth(void **state) {
  (void)state;
  make_names(11);
  lb_ring r10 = {0}, r9 = {0}, r11 = {0};
  assert_int_equal(lb_ring_build(&r10, (const char *const *)names_buf, 10), TG_OK);
  /* r9: all but names_buf[4] */
  const char *nine[9];
  for (size_t i = 0, k = 0; i < 10; i++)
    if (i != 4)
      nine[k++] = names_buf[i];
  assert_int_equal(lb_ring_build(&r9, nine, 9), TG_OK);
  assert_int_equal(lb_ring_build(&r11, (const char *const *)names_buf, 11), TG_OK);
  assert_int_equal(r10.n_points, 10 * LB_RING_POINTS);
  size_t moved_rm = 0, owned4 = 0, moved_add = 0, to_new = 0;
  size_t share[10] = {0};
  for (size_t k = 0; k < KEYS; k++) {
    uint8_t id[16];
    uint64_t a = rnd(), b = rnd();
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
    uint64_t h = tg_trace_id_hash(id);
    int64_t o10 = lb_ring_lookup(&r10, h), o9 = lb_ring_lookup(&r9, h),
            o11 = lb_ring_lookup(&r11, h);
    share[o10]++;
    const char *n10 = names_buf[o10], *n9 = nine[o9], *n11 = names_buf[o11];
    if (o10 == 4)
      owned4++;
    if (strcmp(n10, n9)) {
      moved_rm++;
      assert_int_equal(o10, 4); /* only the removed endpoint's keys move */
    }
    if (strcmp(n10, n11)) {
      moved_add++;
      if (o11 == 10)
        to_new++;
    }
  }
  assert_int_equal(moved_rm, owned4);
  assert_int_equal(moved_add, to_new); /* every moved key went to the newcomer */
  double f_rm = (double)moved_rm / KEYS, f_add = (double)moved_add / KEYS;
  printf("# ring: remove 1 of 10 moved %.4f (1/10), add 11th moved %.4f (1/11)\n", f_rm,
         f_add);
  assert_true(f_rm > 0.07 && f_rm < 0.13);
  assert_true(f_add > 0.06 && f_add < 0.12);
  for (int i = 0; i < 10; i++) /* balance with 256 points: each within ±30 % of 1/10 */
    assert_true(share[i] > KEYS / 10 * 7 / 10 && share[i] < KEYS / 10 * 13 / 10);
  lb_ring empty = {0};
  assert_int_equal(lb_ring_build(&empty, NULL, 0), TG_OK);
  assert_int_equal(lb_ring_lookup(&empty, 42), -1);
  lb_ring_free(&r10);
  lb_ring_free(&r9);
  lb_ring_free(&r11);
  lb_ring_free(&empty);
  free_names(11);
}

static void id_of(uint8_t id[16], uint32_t n) {
  memset(id, 0, 16);
  memcpy(id, &n, 4);
  id[15] = 0x5a;
}

static void test_sticky_table(void **state) {
  (void)state;
  lb_sticky t;
  assert_int_equal(lb_sticky_init(&t, 100, 1000), TG_OK);
  assert_int_equal(lb_sticky_capacity(&t), 128); /* 16 sets of 8 */
  assert_int_equal(lb_sticky_bytes(&t), 128 * 32);
  assert_int_equal(sizeof(lb_sticky_slot), 32);
  uint8_t id[16];
  id_of(id, 1);
  uint64_t h = tg_trace_id_hash(id);
  assert_null(lb_sticky_find(&t, id, h, 10));
  lb_sticky_insert(&t, id, h, 7, 10);
  lb_sticky_slot *s = lb_sticky_find(&t, id, h, 500);
  assert_non_null(s);
  assert_int_equal(s->owner, 7);
  assert_null(lb_sticky_find(&t, id, h, 1010)); /* expired after ttl */
  /* fill far past capacity: evictions are counted, memory does not grow */
  for (uint32_t i = 2; i < 2000; i++) {
    id_of(id, i);
    lb_sticky_insert(&t, id, tg_trace_id_hash(id), 1, 2000);
  }
  assert_true(t.evicted >= 2000 - 2 - 128);
  assert_true(t.used <= 128);
  /* the latest inserts are found */
  id_of(id, 1999);
  assert_non_null(lb_sticky_find(&t, id, tg_trace_id_hash(id), 2001));
  lb_sticky_free(&t);
}

/* ---- wire split ---- */

static tg_key_value *kv_str(const char *k, const char *v) {
  tg_key_value *kv = calloc(1, sizeof *kv);
  opentelemetry__proto__common__v1__key_value__init(kv);
  kv->key = (char *)k;
  kv->value = calloc(1, sizeof *kv->value);
  opentelemetry__proto__common__v1__any_value__init(kv->value);
  kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  kv->value->string_value = (char *)v;
  return kv;
}

enum { N_RES = 2, N_SCOPES = 2, N_SPANS = 30 };

/* A request: 2 resources (services a, b) × 2 scopes × 30 spans of traces t = span % 7;
 * span_id's first byte numbers the span globally. */
static uint8_t *build_request(size_t *len) {
  tg_export_request req;
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
  static tg_resource_spans rs[N_RES];
  static tg_resource res[N_RES];
  static tg_key_value *res_attrs[N_RES][1];
  static tg_scope_spans ss[N_RES][N_SCOPES], *ssp[N_RES][N_SCOPES];
  static tg_scope scope[N_RES][N_SCOPES];
  static tg_span spans[N_RES][N_SCOPES][N_SPANS], *sp[N_RES][N_SCOPES][N_SPANS];
  static uint8_t tids[N_RES][N_SCOPES][N_SPANS][16], sids[N_RES][N_SCOPES][N_SPANS][8];
  static tg_resource_spans *rsp[N_RES];
  static const char *svc[N_RES] = {"a", "b"};
  static const char *scope_names[N_SCOPES] = {"lib-x", "lib-y"};
  int n = 0;
  for (int r = 0; r < N_RES; r++) {
    opentelemetry__proto__trace__v1__resource_spans__init(&rs[r]);
    opentelemetry__proto__resource__v1__resource__init(&res[r]);
    res_attrs[r][0] = kv_str("service.name", svc[r]);
    res[r].attributes = res_attrs[r];
    res[r].n_attributes = 1;
    rs[r].resource = &res[r];
    rs[r].schema_url = "https://schema/r";
    for (int s = 0; s < N_SCOPES; s++) {
      opentelemetry__proto__trace__v1__scope_spans__init(&ss[r][s]);
      opentelemetry__proto__common__v1__instrumentation_scope__init(&scope[r][s]);
      scope[r][s].name = (char *)scope_names[s];
      ss[r][s].scope = &scope[r][s];
      for (int i = 0; i < N_SPANS; i++) {
        tg_span *x = &spans[r][s][i];
        opentelemetry__proto__trace__v1__span__init(x);
        id_of(tids[r][s][i], (uint32_t)(i % 7));
        memset(sids[r][s][i], 0, 8);
        sids[r][s][i][0] = (uint8_t)n++;
        x->trace_id = (ProtobufCBinaryData){16, tids[r][s][i]};
        x->span_id = (ProtobufCBinaryData){8, sids[r][s][i]};
        x->name = "op";
        sp[r][s][i] = x;
      }
      ss[r][s].spans = sp[r][s];
      ss[r][s].n_spans = N_SPANS;
      ssp[r][s] = &ss[r][s];
    }
    rs[r].scope_spans = ssp[r];
    rs[r].n_scope_spans = N_SCOPES;
    rsp[r] = &rs[r];
  }
  req.resource_spans = rsp;
  req.n_resource_spans = N_RES;
  *len = protobuf_c_message_get_packed_size(&req.base);
  uint8_t *buf = malloc(*len);
  protobuf_c_message_pack(&req.base, buf);
  for (int r = 0; r < N_RES; r++) {
    free(res_attrs[r][0]->value);
    free(res_attrs[r][0]);
  }
  return buf;
}

static int64_t pick_by_trace(void *ctx, int by_trace, const uint8_t id[16], uint64_t hash) {
  (void)ctx;
  (void)hash;
  assert_true(by_trace);
  return id[0] % 3; /* trace t → slot t % 3 */
}

static int64_t pick_by_key(void *ctx, int by_trace, const uint8_t id[16], uint64_t hash) {
  (void)id;
  uint64_t *seen = ctx;
  assert_false(by_trace);
  /* record distinct hashes: service mode must give exactly one per service */
  if (!seen[0] || seen[0] == hash) {
    seen[0] = hash;
    return 0;
  }
  seen[1] = hash;
  return 1;
}

static void test_split_by_trace_id(void **state) {
  (void)state;
  size_t len;
  uint8_t *req = build_request(&len);
  lb_out outs[3] = {0};
  lb_splitter s = {.mode = LB_KEY_TRACE_ID, .pick = pick_by_trace, .outs = outs, .n_outs = 3};
  assert_int_equal(lb_split_request(&s, req, len), TG_OK);
  int seen[N_RES * N_SCOPES * N_SPANS] = {0};
  size_t total = 0;
  for (int o = 0; o < 3; o++) {
    tg_export_request *d = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, outs[o].len, outs[o].data);
    assert_non_null(d);
    size_t count = 0;
    for (size_t r = 0; r < d->n_resource_spans; r++) {
      tg_resource_spans *rs = d->resource_spans[r];
      assert_string_equal(rs->schema_url, "https://schema/r");
      assert_int_equal(rs->resource->n_attributes, 1);
      const char *svc = rs->resource->attributes[0]->value->string_value;
      assert_int_equal(rs->n_scope_spans, 1);
      tg_scope_spans *ss = rs->scope_spans[0];
      for (size_t i = 0; i < ss->n_spans; i++) {
        tg_span *x = ss->spans[i];
        assert_int_equal(x->trace_id.data[0] % 3, o);
        int n = x->span_id.data[0];
        /* the span's resource and scope are the ones it was sent under */
        int r_idx = n / (N_SCOPES * N_SPANS), s_idx = (n / N_SPANS) % N_SCOPES;
        assert_string_equal(svc, r_idx ? "b" : "a");
        assert_string_equal(ss->scope->name, s_idx ? "lib-y" : "lib-x");
        assert_int_equal(x->trace_id.data[0], (n % N_SPANS) % 7);
        seen[n]++;
        count++;
      }
    }
    assert_int_equal(count, outs[o].spans);
    total += count;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(d, NULL);
  }
  assert_int_equal(total, N_RES * N_SCOPES * N_SPANS);
  for (int i = 0; i < N_RES * N_SCOPES * N_SPANS; i++)
    assert_int_equal(seen[i], 1);
  /* each (resource, scope) yields one ResourceSpans per slot: 4 × 3 */
  lb_outs_free(outs, 3);
  lb_splitter_free_scratch(&s);
  free(req);
}

static void test_split_by_service(void **state) {
  (void)state;
  size_t len;
  uint8_t *req = build_request(&len);
  lb_out outs[2] = {0};
  uint64_t seen[2] = {0};
  lb_splitter s = {.mode = LB_KEY_SERVICE, .pick = pick_by_key, .pick_ctx = seen,
                   .outs = outs, .n_outs = 2};
  assert_int_equal(lb_split_request(&s, req, len), TG_OK);
  assert_true(seen[0] && seen[1] && seen[0] != seen[1]);
  assert_int_equal(outs[0].spans, N_SCOPES * N_SPANS); /* service a */
  assert_int_equal(outs[1].spans, N_SCOPES * N_SPANS); /* service b */
  lb_outs_free(outs, 2);
  lb_splitter_free_scratch(&s);
  free(req);
}

static int64_t pick_none(void *ctx, int by_trace, const uint8_t id[16], uint64_t hash) {
  (void)ctx, (void)by_trace, (void)id, (void)hash;
  return -1;
}

static void test_split_refusals(void **state) {
  (void)state;
  size_t len;
  uint8_t *req = build_request(&len);
  lb_out outs[1] = {0};
  lb_splitter s = {.mode = LB_KEY_TRACE_ID, .pick = pick_none, .outs = outs, .n_outs = 1};
  assert_int_equal(lb_split_request(&s, req, len), TG_EAGAIN);
  s.pick = pick_by_trace;
  s.n_outs = 3;
  lb_out o3[3] = {0};
  s.outs = o3;
  assert_int_equal(lb_split_request(&s, req, len - 3), TG_EDECODE); /* truncated */
  const uint8_t junk[] = {0x0a, 0x03, 0x12, 0x05, 0x00};
  assert_int_equal(lb_split_request(&s, junk, sizeof junk), TG_EDECODE);
  lb_outs_free(outs, 1);
  lb_outs_free(o3, 3);
  lb_splitter_free_scratch(&s);
  free(req);
}

/* ---- DNS ---- */

static void test_dns_codec(void **state) {
  (void)state;
  uint8_t q[LB_DNS_MAX_QUERY];
  size_t n = lb_dns_build_query("samplers.test", 0x1234, q);
  const uint8_t want[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                          8, 's', 'a', 'm', 'p', 'l', 'e', 'r', 's', 4, 't', 'e', 's', 't', 0,
                          0, 1, 0, 1};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(q, want, sizeof want);
  assert_int_equal(lb_dns_build_query("a..b", 1, q), 0);
  assert_int_equal(lb_dns_build_query("", 1, q), 0);
  /* response: the question, then two A answers with compressed names and a CNAME */
  uint8_t r[512];
  memcpy(r, want, sizeof want);
  r[2] = 0x81;
  r[3] = 0x80;
  r[7] = 3; /* ANCOUNT */
  size_t o = sizeof want;
  const uint8_t cname[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12};
  memcpy(r + o, cname, sizeof cname);
  o += sizeof cname;
  for (int i = 0; i < 2; i++) {
    const uint8_t a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, (uint8_t)(2 + i)};
    memcpy(r + o, a, sizeof a);
    o += sizeof a;
  }
  uint32_t addrs[4];
  size_t na;
  assert_int_equal(lb_dns_parse_a(r, o, 0x1234, addrs, 4, &na), 0);
  assert_int_equal(na, 2);
  const uint8_t *b = (const uint8_t *)&addrs[1];
  assert_int_equal(b[0], 127);
  assert_int_equal(b[3], 3);
  assert_int_equal(lb_dns_parse_a(r, o, 0x1235, addrs, 4, &na), -1); /* other id */
  assert_int_equal(lb_dns_parse_a(r, o - 1, 0x1234, addrs, 4, &na), -1); /* truncated */
  assert_int_equal(lb_dns_parse_a(r, o, 0x1234, addrs, 1, &na), 0);
  assert_int_equal(na, 1); /* max respected */
  r[3] = 0x83; /* NXDOMAIN, no answers */
  r[7] = 0;
  assert_int_equal(lb_dns_parse_a(r, sizeof want, 0x1234, addrs, 4, &na), 3);
  r[7] = 3;
  r[2] = 0x01; /* a query, not a response */
  assert_int_equal(lb_dns_parse_a(r, o, 0x1234, addrs, 4, &na), -1);
}

/* ---- configuration (the Collector's keys and ours) ---- */

static int setup_yaml(const char *yaml) {
  exp_fixture fx;
  tg_errbuf err;
  int rc = exp_setup(&fx, &tg_exporter_loadbalancing, "loadbalancing", yaml, &err);
  exp_teardown(&fx);
  return rc;
}

static void test_config(void **state) {
  (void)state;
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_loadbalancing, "loadbalancing",
                             "protocol: {otlp: {tls: {insecure: true}, timeout: 2s,\n"
                             "  sending_queue: {queue_size: 10, num_consumers: 1}}}\n"
                             "resolver: {dns: {hostname: samplers.test, nameserver: "
                             "'127.0.0.1:5353'}}\n",
                             &err),
                   TG_OK);
  const lb_conf *c = fx.inst.conf;
  assert_int_equal(c->routing_key, LB_KEY_TRACE_ID);
  assert_int_equal(c->stickiness_ms, 35000);
  assert_int_equal(c->sticky_max_traces, 262144);
  assert_int_equal(c->dns_port, 4317);
  assert_int_equal(c->dns_interval_ms, 5000);
  assert_int_equal(c->dns_timeout_ms, 1000);
  assert_int_equal(c->otlp.timeout_ms, 2000);
  assert_int_equal(c->otlp.queue.queue_size, 10);
  assert_true(c->otlp.tls.insecure);
  /* the stickiness table's bytes are published at create */
  assert_int_equal(exp_metric(&fx, "tailgate_exporter_loadbalancer_sticky_bytes",
                              TG_METRIC_GAUGE),
                   262144 * 32);
  exp_teardown(&fx);
  assert_int_equal(setup_yaml("routing_key: service\nresolver: {static: {hostnames: [a, "
                              "'b:4318']}}\n"),
                   TG_OK);
  /* refusals */
  assert_int_not_equal(setup_yaml("resolver: {static: {hostnames: [a]}, dns: {hostname: b}}\n"),
                       TG_OK);
  assert_int_not_equal(setup_yaml("routing_key: attributes\nresolver: {static: {hostnames: "
                                  "[a]}}\n"),
                       TG_OK);
  assert_int_not_equal(setup_yaml("routing_attributes: [x]\nresolver: {static: {hostnames: "
                                  "[a]}}\n"),
                       TG_OK);
  assert_int_not_equal(setup_yaml("routing_key: traceid\nresolver: {static: {hostnames: "
                                  "[a]}}\n"),
                       TG_OK);
  assert_int_not_equal(setup_yaml("protocol: {otlp: {endpoint: 'x:1'}}\nresolver: {static: "
                                  "{hostnames: [a]}}\n"),
                       TG_OK);
  assert_int_not_equal(setup_yaml("resolver: {static: {hostnames: [a]}}\n"
                                  "routing_stickiness: 5\n"), /* a duration needs a unit */
                       TG_OK);
  assert_int_not_equal(setup_yaml("protocol: {otlp: {tls: {insecure: true}}}\n"), TG_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ring_moves_one_nth), cmocka_unit_test(test_sticky_table),
      cmocka_unit_test(test_split_by_trace_id),  cmocka_unit_test(test_split_by_service),
      cmocka_unit_test(test_split_refusals),     cmocka_unit_test(test_dns_codec),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
