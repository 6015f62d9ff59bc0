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
 *
 * usage: build/bench/bench_redaction [iterations]   (default 2000000) */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "processors/redaction/redaction_engine.h"
#include "tg_config.h"

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

int main(int argc, char **argv) {
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

  const char *default_policy =
      "    allow_all_keys: true\n"
      "    blocked_values: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}']\n"
      "    pseudonymize: {keys: [user_id, user.id, enduser.id, usr.id]}\n";
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
