/* bench_redaction: what pseudonymising one attribute costs, and which HMAC construction
 * to use. Not a test: it prints nanoseconds per operation (best of 5 runs).
 *
 *   hmac/...      one HMAC-SHA256 of a 12-byte user id, four ways: tailgate's precomputed
 *                 inner/outer SHA256_CTX copies; EVP_MAC_CTX_dup of a keyed context per
 *                 value; one EVP_MAC_CTX re-initialised with a NULL key per value;
 *                 OpenSSL's one-shot HMAC()
 *   attrs/...     tg_redactor_attributes on a span's 11 attributes (1 user_id + 10 like
 *                 tg_loadgen's), under the embedded default policy and with no rules,
 *                 into a reused arena: the difference is the cost per pseudonymised
 *                 attribute plus the e-mail pattern over the other strings
 *   wire          (with --wire FILE) tg_redactor_batch under the embedded default policy
 *                 on the requests of `tg_loadgen --dump FILE` adopted undecoded, as the
 *                 OTLP receiver hands them on: the path the pipeline benchmark takes.
 *                 --wire-only skips the other figures (for perf stat / callgrind).
 *
 * usage: build/bench/bench_redaction [iterations]   (default 2000000)
 *        build/bench/bench_redaction --wire FILE [--wire-only] [passes]   (default 200) */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "processors/redaction/redaction_engine.h"
#include "tg_batch.h"
#include "tg_config.h"
#include "tg_error.h"

static const char KEY[] = "0123456789abcdef0123456789abcdef";

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint8_t sink_byte;

typedef void (*op_fn)(void *ctx, size_t i);

static double best_of(op_fn op, void *ctx, size_t iters) {
  double best = 1e30;
  for (int run = 0; run < 5; run++) {
    double t0 = now_ns();
    for (size_t i = 0; i < iters; i++)
      op(ctx, i);
    double per = (now_ns() - t0) / (double)iters;
    if (per < best)
      best = per;
  }
  return best;
}

static char user[32];
static size_t distinct_users = 1000000; /* 1e6 cycling: every value misses the cache */
static void set_user(size_t i) { snprintf(user, sizeof user, "user-%07zu", i % distinct_users); }

static void op_ours(void *ctx, size_t i) {
  set_user(i);
  uint8_t mac[32];
  tg_hmac_sha256(ctx, user, 12, mac);
  sink_byte ^= mac[0];
}

static void op_dup(void *ctx, size_t i) {
  set_user(i);
  EVP_MAC_CTX *c = EVP_MAC_CTX_dup(ctx);
  uint8_t mac[32];
  size_t len;
  EVP_MAC_update(c, (const uint8_t *)user, 12);
  EVP_MAC_final(c, mac, &len, sizeof mac);
  EVP_MAC_CTX_free(c);
  sink_byte ^= mac[0];
}

static void op_reinit(void *ctx, size_t i) {
  set_user(i);
  uint8_t mac[32];
  size_t len;
  EVP_MAC_init(ctx, NULL, 0, NULL);
  EVP_MAC_update(ctx, (const uint8_t *)user, 12);
  EVP_MAC_final(ctx, mac, &len, sizeof mac);
  sink_byte ^= mac[0];
}

static void op_oneshot(void *ctx, size_t i) {
  (void)ctx;
  set_user(i);
  uint8_t mac[32];
  unsigned len;
  HMAC(EVP_sha256(), KEY, 32, (const uint8_t *)user, 12, mac, &len);
  sink_byte ^= mac[0];
}

typedef struct attrs_ctx {
  tg_redactor *r;
  tg_arena *arena;
  tg_key_value kvs[11];
  tg_any_value vals[11];
  tg_key_value *list[11];
} attrs_ctx;

static void op_attrs(void *vctx, size_t i) {
  attrs_ctx *c = vctx;
  set_user(i);
  c->vals[0].string_value = user;
  tg_key_value **attrs = c->list;
  size_t n = 11;
  if (tg_redactor_attributes(c->r, c->arena, &attrs, &n) != TG_OK)
    abort();
  sink_byte ^= (uint8_t)attrs[0]->value->string_value[3];
  if (i % 1024 == 1023) { /* recycle the arena, as batches do */
    tg_arena_unref(c->arena);
    c->arena = tg_arena_new(1 << 20, 0);
  }
}

static void set_kv(attrs_ctx *c, int i, const char *key, const char *s, int64_t iv) {
  opentelemetry__proto__common__v1__any_value__init(&c->vals[i]);
  opentelemetry__proto__common__v1__key_value__init(&c->kvs[i]);
  if (s) {
    c->vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    c->vals[i].string_value = (char *)s;
  } else {
    c->vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    c->vals[i].int_value = iv;
  }
  c->kvs[i].key = (char *)key;
  c->kvs[i].value = &c->vals[i];
  c->list[i] = &c->kvs[i];
}

static tg_redactor *redactor(const char *policy, tg_config **cfg_out) {
  char text[2048];
  snprintf(text, sizeof text,
           "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
           "processors:\n  redaction:\n%s"
           "exporters: {nop: {}}\n"
           "service:\n  telemetry: {metrics: {address: \"\"}}\n"
           "  pipelines: {traces: {receivers: [otlp], processors: [redaction], exporters: [nop]}}\n",
           policy);
  tg_diag d;
  tg_diag_init(&d);
  tg_config *cfg = tg_config_load_text("bench.yaml", text, strlen(text), &d);
  if (!cfg) {
    tg_diag_print(&d, stderr);
    exit(1);
  }
  tg_diag_free(&d);
  static tg_redactor rs[4];
  static int next;
  tg_redactor *r = &rs[next++];
  char why[256];
  if (tg_redactor_build(r, tg_config_find(cfg, TG_PROCESSOR, "redaction")->conf,
                        (const uint8_t *)KEY, 32, why, sizeof why) != TG_OK)
    exit(1);
  *cfg_out = cfg;
  return r;
}

/* ---- the wire walk on tg_loadgen's requests ---------------------------------------- */

typedef struct wire_req {
  uint8_t *data;
  size_t len, n_seg;
  size_t offsets[8], lengths[8], counts[8];
} wire_req;

static const uint8_t *rd_varint(const uint8_t *p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    x |= (uint64_t)(*p & 0x7f) << shift;
    if (!(*p++ & 0x80)) {
      *v = x;
      return p;
    }
  }
  return NULL;
}

/* Calls fn on every length-delimited field `num` of m[0..len); returns how many. */
static size_t each_len_field(const uint8_t *m, size_t len, uint64_t num,
                             void (*fn)(void *ctx, const uint8_t *b, size_t n), void *ctx) {
  const uint8_t *p = m, *end = m + len;
  size_t count = 0;
  while (p && p < end) {
    uint64_t tag, v;
    if (!(p = rd_varint(p, end, &tag)))
      break;
    switch (tag & 7) {
    case 0: p = rd_varint(p, end, &v); break;
    case 1: p += 8; break;
    case 5: p += 4; break;
    case 2:
      if (!(p = rd_varint(p, end, &v)) || v > (uint64_t)(end - p))
        return count;
      if ((tag >> 3) == num) {
        if (fn)
          fn(ctx, p, (size_t)v);
        count++;
      }
      p += v;
      break;
    default: return count;
    }
  }
  return count;
}

static void count_spans(void *ctx, const uint8_t *b, size_t n) {
  *(size_t *)ctx += each_len_field(b, n, 2, NULL, NULL);
}

static void add_segment(void *ctx, const uint8_t *b, size_t n) {
  wire_req *w = ctx;
  if (w->n_seg == 8)
    return;
  w->offsets[w->n_seg] = (size_t)(b - w->data);
  w->lengths[w->n_seg] = n;
  w->counts[w->n_seg] = 0;
  each_len_field(b, n, 2, count_spans, &w->counts[w->n_seg]);
  w->n_seg++;
}

static size_t load_dump(const char *path, wire_req **out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  wire_req *reqs = NULL;
  size_t n = 0;
  uint8_t hdr[4];
  while (fread(hdr, 1, 4, f) == 4) {
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    reqs = realloc(reqs, (n + 1) * sizeof *reqs);
    wire_req *w = &reqs[n];
    memset(w, 0, sizeof *w);
    w->data = malloc(len ? len : 1);
    w->len = len;
    if (!reqs || !w->data || fread(w->data, 1, len, f) != len) {
      fprintf(stderr, "%s: truncated\n", path);
      exit(2);
    }
    each_len_field(w->data, len, 1, add_segment, w);
    n++;
  }
  fclose(f);
  *out = reqs;
  return n;
}

/* passes over every request: adopt undecoded, redact, free. Returns ns per span. */
static double wire_run(tg_redactor *r, const wire_req *reqs, size_t n, size_t passes,
                       uint64_t *changed_bytes) {
  size_t spans = 0;
  const uint8_t *before[1];
  double t0 = now_ns();
  for (size_t pass = 0; pass < passes; pass++)
    for (size_t i = 0; i < n; i++) {
      tg_batch *b = tg_batch_new(0, 0);
      if (!b || tg_batch_adopt_wire(b, reqs[i].data, reqs[i].len, reqs[i].offsets,
                                    reqs[i].lengths, reqs[i].counts, reqs[i].n_seg) != TG_OK ||
          (before[0] = b->n_wire ? b->wire[0].data : NULL, 0) ||
          (r && tg_redactor_batch(r, b) != TG_OK))
        abort();
      for (size_t s = 0; s < b->n_wire; s++) {
        spans += b->wire[s].span_count;
        sink_byte ^= b->wire[s].data[b->wire[s].len / 2];
      }
      if (pass == 0 && changed_bytes)
        *changed_bytes += b->n_wire && b->wire[0].data != before[0];
      tg_batch_free(b);
    }
  return spans ? (now_ns() - t0) / (double)spans : 0;
}

static const char DEFAULT_POLICY[] =
    "    allow_all_keys: true\n"
    "    blocked_values: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}']\n"
    "    pseudonymize: {keys: [user_id, user.id, enduser.id, usr.id]}\n";

static int wire_main(int argc, char **argv) {
  const char *path = argv[2];
  int only = argc > 3 && !strcmp(argv[3], "--wire-only");
  size_t passes = argc > 3 + only ? strtoull(argv[3 + only], NULL, 10) : 200;
  wire_req *reqs;
  size_t n = load_dump(path, &reqs);
  tg_config *cfg;
  tg_redactor *def = redactor(DEFAULT_POLICY, &cfg);
  uint64_t rewritten = 0;
  double best = 1e30;
  for (int run = 0; run < (only ? 1 : 5); run++) {
    double ns = wire_run(def, reqs, n, passes, run ? NULL : &rewritten);
    if (ns < best)
      best = ns;
  }
  double base = 1e30;
  for (int run = 0; run < (only ? 0 : 5); run++) {
    double ns = wire_run(NULL, reqs, n, passes, NULL);
    if (ns < base)
      base = ns;
  }
  printf("wire/embedded_default        %8.1f ns/span (%zu requests x %zu passes; %" PRIu64
         " of them rewritten)\n",
         best, n, passes, rewritten);
  if (!only)
    printf("wire/adopt_and_free_only     %8.1f ns/span (the batch without redaction)\n", base);
  tg_redactor_free(def);
  tg_config_free(cfg);
  for (size_t i = 0; i < n; i++)
    free(reqs[i].data);
  free(reqs);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "--wire"))
    return wire_main(argc, argv);
  size_t iters = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
  tg_hmac ours;
  tg_hmac_init(&ours, (const uint8_t *)KEY, 32);
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *keyed = EVP_MAC_CTX_new(mac);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_init(keyed, (const uint8_t *)KEY, 32, params);
  EVP_MAC_CTX *reuse = EVP_MAC_CTX_dup(keyed);

  printf("hmac/precomputed_sha256_ctx  %8.1f ns\n", best_of(op_ours, &ours, iters));
  printf("hmac/evp_mac_ctx_dup         %8.1f ns\n", best_of(op_dup, keyed, iters / 4));
  printf("hmac/evp_mac_init_null_key   %8.1f ns\n", best_of(op_reinit, reuse, iters / 4));
  printf("hmac/hmac_oneshot            %8.1f ns\n", best_of(op_oneshot, NULL, iters / 4));

  const char *default_policy = DEFAULT_POLICY;
  tg_config *c1, *c2, *c3;
  tg_redactor *def = redactor(default_policy, &c1);
  tg_redactor *none = redactor("    allow_all_keys: true\n", &c2);
  tg_redactor *pseudo_only =
      redactor("    allow_all_keys: true\n    pseudonymize: {keys: [user_id, user.id, enduser.id, usr.id]}\n", &c3);
  attrs_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  set_kv(&ctx, 0, "user_id", user, 0);
  set_kv(&ctx, 1, "http.request.method", "GET", 0);
  set_kv(&ctx, 2, "http.response.status_code", NULL, 200);
  set_kv(&ctx, 3, "url.full", "https://shop.example.com/api/v1/items/1234?page=3", 0);
  set_kv(&ctx, 4, "server.address", "shop.example.com", 0);
  set_kv(&ctx, 5, "server.port", NULL, 443);
  set_kv(&ctx, 6, "db.system", "postgresql", 0);
  set_kv(&ctx, 7, "db.statement", "SELECT id, status, total FROM orders WHERE customer_id = $1 LIMIT 50", 0);
  set_kv(&ctx, 8, "app.cart.total", NULL, 13);
  set_kv(&ctx, 9, "app.cache.hit", NULL, 1);
  set_kv(&ctx, 10, "user_agent.original",
         "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)", 0);
  ctx.arena = tg_arena_new(1 << 20, 0);
  double t_none, t_pseudo, t_def;
  ctx.r = none;
  printf("attrs/no_rules (11 attrs)    %8.1f ns\n", t_none = best_of(op_attrs, &ctx, iters / 2));
  ctx.r = pseudo_only;
  printf("attrs/pseudonymize_only      %8.1f ns\n", t_pseudo = best_of(op_attrs, &ctx, iters / 2));
  ctx.r = def;
  printf("attrs/embedded_default       %8.1f ns\n", t_def = best_of(op_attrs, &ctx, iters / 2));
  printf("per pseudonymised attribute  %8.1f ns (pseudonymize_only - no_rules; cache misses)\n",
         t_pseudo - t_none);
  distinct_users = 1000; /* a thousand users seen again and again: cache hits */
  ctx.r = pseudo_only;
  double t_hit = best_of(op_attrs, &ctx, iters / 2);
  printf("attrs/pseudonymize_only_hits %8.1f ns (1000 distinct users)\n", t_hit);
  printf("per pseudonymised attribute  %8.1f ns (cache hits)\n", t_hit - t_none);
  distinct_users = 1000000;
  printf("e-mail pattern, 6 strings    %8.1f ns (embedded_default - pseudonymize_only)\n",
         t_def - t_pseudo);

  tg_arena_unref(ctx.arena);
  tg_redactor_free(def);
  tg_redactor_free(none);
  tg_redactor_free(pseudo_only);
  tg_config_free(c1);
  tg_config_free(c2);
  tg_config_free(c3);
  EVP_MAC_CTX_free(keyed);
  EVP_MAC_CTX_free(reuse);
  EVP_MAC_free(mac);
  tg_hmac_clear(&ours);
  return sink_byte == 0x5a ? 0 : 0;
}
