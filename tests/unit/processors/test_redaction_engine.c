/* The redaction policy on attribute trees: every attribute scope of a request, values
 * nested in arrays and maps, value and key patterns, allowlist mode, summaries, hashing,
 * and copy-on-write (nothing the redactor did not allocate is ever written). Settings go
 * through the real config loader, so the key table is exercised too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attr_builders.h"
#include "redaction_fixture.h"
#include "../../../processors/redaction/redaction_internal.h"

typedef struct ctx {
  tg_config *cfg;
  tg_redactor r;
  tg_arena *arena;
} ctx;

static void setup(ctx *c, const char *processors) {
  tg_diag d;
  c->cfg = load_processors(processors, &d);
  if (!c->cfg)
    fail_msg("config: %s", diag_text(&d));
  tg_diag_free(&d);
  const tg_config_component *comp = tg_config_find(c->cfg, TG_PROCESSOR, "redaction");
  assert_non_null(comp);
  char why[512];
  assert_int_equal(tg_redactor_build(&c->r, comp->conf, (const uint8_t *)TEST_KEY, 32, why,
                                     sizeof why),
                   TG_OK);
  c->arena = tg_arena_new(4096, 0);
}

static void teardown(ctx *c) {
  tg_redactor_free(&c->r);
  tg_arena_unref(c->arena);
  tg_config_free(c->cfg);
}

/* The pseudonym the redactor must produce for value under TEST_KEY and key id k1. */
static const char *expected_pseudonym(const char *value) {
  static char out[4][TG_PSEUDONYM_MAX];
  static int next;
  char *p = out[next++ % 4];
  tg_hmac h;
  tg_hmac_init(&h, (const uint8_t *)TEST_KEY, 32);
  tg_pseudonym(&h, "k1", TG_PSEUDONYM_BASE64URL, value, strlen(value), p);
  tg_hmac_clear(&h);
  return p;
}

#define PSEUDO_CONF                                                                        \
  "  redaction:\n    allow_all_keys: true\n"                                               \
  "    blocked_values: ['[a-z]+@[a-z]+\\.[a-z]{2,}', '\\b4[0-9]{15}\\b']\n"                \
  "    pseudonymize: {keys: [user_id, enduser.id], key_patterns: ['^customer\\.']}\n"

/* resource, scope, span, event and link attributes; span, event and status free text. */
static void test_every_scope(void **state) {
  (void)state;
  ctx c;
  setup(&c, PSEUDO_CONF);
  tg_arena *a = c.arena;
  tg_resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
  res.attributes = kv_list(a, 2, kv(a, "service.name", av_str(a, "shop")),
                           kv(a, "user_id", av_str(a, "alice")));
  res.n_attributes = 2;
  tg_key_value **res_before = res.attributes;
  tg_scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
  scope.attributes = kv_list(a, 1, kv(a, "enduser.id", av_str(a, "alice")));
  scope.n_attributes = 1;
  tg_span_event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
  ev.name = "mail to bob@example.org";
  ev.attributes = kv_list(a, 1, kv(a, "customer.number", av_str(a, "C-77")));
  ev.n_attributes = 1;
  tg_span_link ln = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
  ln.attributes = kv_list(a, 1, kv(a, "user_id", av_str(a, "carol")));
  ln.n_attributes = 1;
  tg_span_status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
  st.message = "card 4111111111111111 declined";
  tg_span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
  sp.name = "login alice@example.com";
  sp.attributes = kv_list(a, 3, kv(a, "user_id", av_str(a, "alice")),
                          kv(a, "note", av_str(a, "from dave@example.net, thanks")),
                          kv(a, "http.route", av_str(a, "/login")));
  sp.n_attributes = 3;
  tg_span_event *evs[] = {&ev};
  tg_span_link *lns[] = {&ln};
  sp.events = evs;
  sp.n_events = 1;
  sp.links = lns;
  sp.n_links = 1;
  sp.status = &st;
  tg_span *spans[] = {&sp};
  tg_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.scope = &scope;
  ss.spans = spans;
  ss.n_spans = 1;
  tg_scope_spans *sss[] = {&ss};
  tg_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.resource = &res;
  rs.scope_spans = sss;
  rs.n_scope_spans = 1;
  tg_resource_spans *rss[] = {&rs};
  tg_export_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.resource_spans = rss;
  req.n_resource_spans = 1;

  assert_int_equal(tg_redactor_request(&c.r, a, &req), TG_OK);
  const char *alice = expected_pseudonym("alice");
  /* the resource and scope were copied, not written: the originals are intact */
  assert_ptr_not_equal(rs.resource, &res);
  assert_ptr_equal(res.attributes, res_before);
  assert_string_equal(attr_str(res.attributes, 2, "user_id"), "alice");
  assert_string_equal(attr_str(rs.resource->attributes, rs.resource->n_attributes, "user_id"), alice);
  assert_string_equal(attr_str(rs.resource->attributes, 2, "service.name"), "shop");
  assert_ptr_not_equal(ss.scope, &scope);
  assert_string_equal(attr_str(scope.attributes, 1, "enduser.id"), "alice");
  /* one user, one pseudonym, whatever the attribute's name */
  assert_string_equal(attr_str(ss.scope->attributes, 1, "enduser.id"), alice);
  assert_string_equal(attr_str(sp.attributes, sp.n_attributes, "user_id"), alice);
  assert_string_equal(attr_str(sp.attributes, sp.n_attributes, "note"), "from ****, thanks");
  assert_string_equal(attr_str(sp.attributes, sp.n_attributes, "http.route"), "/login");
  assert_string_equal(attr_str(ev.attributes, 1, "customer.number"), expected_pseudonym("C-77"));
  assert_string_equal(attr_str(ln.attributes, 1, "user_id"), expected_pseudonym("carol"));
  assert_string_equal(sp.name, "login ****");
  assert_string_equal(ev.name, "mail to ****");
  assert_string_equal(st.message, "card **** declined");
  assert_int_equal(c.r.counts.pseudonymized, 5);
  assert_int_equal(c.r.counts.masked, 4); /* note, span name, event name, status message */
  assert_int_equal(c.r.counts.deleted, 0);
  teardown(&c);
}

/* Values nested in arrays and maps; ints are pseudonymised by their decimal text. */
static void test_nested_values(void **state) {
  (void)state;
  ctx c;
  setup(&c, PSEUDO_CONF);
  tg_arena *a = c.arena;
  tg_any_value *inner_list = av_array(a, 2, av_str(a, "x@y.com"), av_str(a, "plain"));
  tg_key_value **attrs = kv_list(
      a, 4, kv(a, "user_id", av_array(a, 2, av_str(a, "alice"), av_int(a, 12345))),
      kv(a, "ctx", av_kvlist(a, 3, kv(a, "user_id", av_str(a, "bob")),
                             kv(a, "mails", inner_list), kv(a, "n", av_int(a, 7)))),
      kv(a, "enduser.id", av_int(a, 12345)),
      kv(a, "deep", av_kvlist(a, 1, kv(a, "more", av_kvlist(a, 1, kv(a, "user_id",
                                                                       av_str(a, "carol")))))));
  tg_key_value **orig = attrs;
  tg_key_value *orig_ctx = attrs[1];
  size_t n = 4;
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_int_equal(n, 4);
  const tg_any_value *u = attr_get(attrs, n, "user_id");
  assert_int_equal(u->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
  assert_string_equal(u->array_value->values[0]->string_value, expected_pseudonym("alice"));
  assert_string_equal(u->array_value->values[1]->string_value, expected_pseudonym("12345"));
  /* the int under enduser.id joins the same user as the string "12345" */
  assert_string_equal(attr_str(attrs, n, "enduser.id"), expected_pseudonym("12345"));
  const tg_kvlist_value *m = attr_get(attrs, n, "ctx")->kvlist_value;
  assert_string_equal(attr_str(m->values, m->n_values, "user_id"), expected_pseudonym("bob"));
  const tg_array_value *mails = attr_get(m->values, m->n_values, "mails")->array_value;
  assert_string_equal(mails->values[0]->string_value, "****");
  assert_string_equal(mails->values[1]->string_value, "plain");
  assert_int_equal(attr_get(m->values, m->n_values, "n")->int_value, 7);
  const tg_kvlist_value *d1 = attr_get(attrs, n, "deep")->kvlist_value;
  const tg_kvlist_value *d2 = d1->values[0]->value->kvlist_value;
  assert_string_equal(d2->values[0]->value->string_value, expected_pseudonym("carol"));
  /* copy-on-write: the input tree is untouched */
  assert_ptr_equal(orig[1], orig_ctx);
  assert_string_equal(orig_ctx->value->kvlist_value->values[0]->value->string_value, "bob");
  assert_string_equal(inner_list->array_value->values[0]->string_value, "x@y.com");
  assert_string_equal(orig[0]->value->array_value->values[0]->string_value, "alice");
  teardown(&c);
}

/* Nothing to change: the list is left as it was (no copy). */
static void test_unchanged_list_is_not_copied(void **state) {
  (void)state;
  ctx c;
  setup(&c, PSEUDO_CONF);
  tg_arena *a = c.arena;
  tg_key_value **attrs = kv_list(a, 2, kv(a, "http.route", av_str(a, "/a")),
                                 kv(a, "n", av_int(a, 4111111111111111LL)));
  tg_key_value **orig = attrs;
  size_t n = 2;
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_ptr_equal(attrs, orig);
  assert_int_equal(n, 2);
  teardown(&c);
}

static void test_patterns(void **state) {
  (void)state;
  ctx c;
  setup(&c, "  redaction:\n    allow_all_keys: true\n"
            "    blocked_values: ['4[0-9]{12}(?:[0-9]{3})?', '[a-z.]+@example\\.com']\n"
            "    allowed_values: ['@trusted\\.example\\.com$']\n"
            "    blocked_key_patterns: ['.*token.*']\n"
            "    delete_keys: [password]\n"
            "    delete_key_patterns: ['^secret\\.']\n"
            "    delete_values: ['^-----BEGIN ']\n"
            "    ignored_keys: [raw]\n"
            "    redact_all_types: true\n");
  tg_arena *a = c.arena;
  tg_key_value **attrs = kv_list(
      a, 10, kv(a, "card", av_str(a, "cards 4111111111111111 and 4222222222222")),
      kv(a, "card_int", av_int(a, 4111111111111111LL)),
      kv(a, "who", av_str(a, "jo@example.com, ann.b@example.com")),
      kv(a, "support", av_str(a, "help@trusted.example.com")),
      kv(a, "api_token", av_str(a, "abc")), kv(a, "password", av_str(a, "hunter2")),
      kv(a, "secret.x", av_str(a, "s")), kv(a, "cert", av_str(a, "-----BEGIN CERT")),
      kv(a, "raw", av_str(a, "4111111111111111")), kv(a, "token_count", av_int(a, 3)));
  size_t n = 10;
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_int_equal(n, 7);
  assert_string_equal(attr_str(attrs, n, "card"), "cards **** and ****");
  assert_string_equal(attr_str(attrs, n, "card_int"), "****"); /* redact_all_types */
  assert_string_equal(attr_str(attrs, n, "who"), "****, ****");
  assert_string_equal(attr_str(attrs, n, "support"), "help@trusted.example.com");
  assert_string_equal(attr_str(attrs, n, "api_token"), "****");
  assert_string_equal(attr_str(attrs, n, "token_count"), "****"); /* whole value, any type */
  assert_null(attr_get(attrs, n, "password"));
  assert_null(attr_get(attrs, n, "secret.x"));
  assert_null(attr_get(attrs, n, "cert"));
  assert_string_equal(attr_str(attrs, n, "raw"), "4111111111111111");
  assert_int_equal(c.r.counts.deleted, 3);
  assert_int_equal(c.r.counts.masked, 5);
  teardown(&c);
}

/* allow_all_keys false: only allowed keys, pseudonymised keys and summary keys survive;
 * summary debug lists what happened, sorted, merged with an earlier summary. */
static void test_allowlist_and_summary(void **state) {
  (void)state;
  ctx c;
  setup(&c, "  redaction:\n    allowed_keys: [http.route, note]\n"
            "    ignored_keys: [safe]\n"
            "    blocked_values: ['[0-9]{4}']\n"
            "    summary: debug\n"
            "    pseudonymize: {keys: [user_id]}\n");
  tg_arena *a = c.arena;
  tg_key_value **attrs =
      kv_list(a, 7, kv(a, "http.route", av_str(a, "/a")), kv(a, "zeta", av_str(a, "z")),
              kv(a, "alpha", av_str(a, "a")), kv(a, "user_id", av_str(a, "u1")),
              kv(a, "note", av_str(a, "pin 1234")), kv(a, "safe", av_str(a, "1234")),
              kv(a, "redaction.redacted.count", av_int(a, 2)));
  size_t n = 7;
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_null(attr_get(attrs, n, "zeta"));
  assert_null(attr_get(attrs, n, "alpha"));
  assert_string_equal(attr_str(attrs, n, "http.route"), "/a");
  assert_string_equal(attr_str(attrs, n, "user_id"), expected_pseudonym("u1"));
  assert_string_equal(attr_str(attrs, n, "note"), "pin ****");
  assert_string_equal(attr_str(attrs, n, "safe"), "1234");
  assert_string_equal(attr_str(attrs, n, "redaction.redacted.keys"), "alpha,zeta");
  assert_int_equal(attr_get(attrs, n, "redaction.redacted.count")->int_value, 2 + 2);
  assert_string_equal(attr_str(attrs, n, "redaction.masked.keys"), "note");
  assert_int_equal(attr_get(attrs, n, "redaction.masked.count")->int_value, 1);
  assert_int_equal(attr_get(attrs, n, "redaction.ignored.count")->int_value, 1);
  assert_string_equal(attr_str(attrs, n, "redaction.pseudonymized.keys"), "user_id");
  assert_int_equal(attr_get(attrs, n, "redaction.pseudonymized.count")->int_value, 1);
  assert_null(attr_get(attrs, n, "redaction.allowed.count"));
  /* a second pass (another redaction processor): the summary keys survive the allowlist */
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_int_equal(attr_get(attrs, n, "redaction.redacted.count")->int_value, 4);
  assert_string_equal(attr_str(attrs, n, "redaction.redacted.keys"), "alpha,zeta");
  teardown(&c);
}

static void test_summary_info_counts_only(void **state) {
  (void)state;
  ctx c;
  setup(&c, "  redaction:\n    allow_all_keys: true\n    summary: info\n"
            "    delete_keys: [a, b]\n");
  tg_arena *a = c.arena;
  tg_key_value **attrs = kv_list(a, 3, kv(a, "a", av_str(a, "1")), kv(a, "b", av_str(a, "2")),
                                 kv(a, "c", av_str(a, "3")));
  size_t n = 3;
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_int_equal(n, 2);
  assert_int_equal(attr_get(attrs, n, "redaction.redacted.count")->int_value, 2);
  assert_null(attr_get(attrs, n, "redaction.redacted.keys"));
  teardown(&c);
}

static int all_hex(const char *s, size_t n) {
  if (strlen(s) != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static void test_hash_functions(void **state) {
  (void)state;
  static const struct {
    const char *name;
    size_t hex_len;
  } fns[] = {{"md5", 32}, {"sha1", 40}, {"sha3", 64}, {"hmac-sha256", 64}, {"hmac-sha512", 128}};
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
    char conf[512];
    snprintf(conf, sizeof conf,
             "  redaction:\n    allow_all_keys: true\n    blocked_values: ['secret[0-9]']\n"
             "    hash_function: %s\n    hmac_key: %s\n",
             fns[i].name, TEST_KEY "-hmac");
    ctx c;
    setup(&c, conf);
    tg_arena *a = c.arena;
    tg_key_value **attrs = kv_list(a, 2, kv(a, "x", av_str(a, "secret1")),
                                   kv(a, "y", av_str(a, "secret1")));
    size_t n = 2;
    assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
    const char *x = attr_str(attrs, n, "x");
    assert_true(all_hex(x, fns[i].hex_len));
    assert_string_equal(x, attr_str(attrs, n, "y")); /* deterministic */
    teardown(&c);
  }
}

/* A backtracking bomb against a slow pattern masks the value (fail closed) and returns. */
static void test_match_limit_fails_closed(void **state) {
  (void)state;
  ctx c;
  setup(&c, "  redaction:\n    allow_all_keys: true\n    blocked_values: ['(a+)+$']\n");
  tg_arena *a = c.arena;
  char bomb[64];
  memset(bomb, 'a', 40);
  bomb[40] = '!';
  bomb[41] = '\0';
  tg_key_value **attrs = kv_list(a, 1, kv(a, "x", av_str(a, bomb)));
  size_t n = 1;
  assert_int_equal(tg_redactor_attributes(&c.r, a, &attrs, &n), TG_OK);
  assert_null(strstr(attr_str(attrs, n, "x"), "aaaa"));
  teardown(&c);
}

/* The pseudonym cache never changes an answer: many distinct values (evictions, long
 * values that bypass it), twice, in two orders, against the HMAC computed directly. */
static void test_pseudonym_cache(void **state) {
  (void)state;
  ctx c;
  setup(&c, PSEUDO_CONF);
  char value[128], got[TG_PSEUDONYM_MAX];
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 20000; i++) {
      int v = pass ? 19999 - i : i;
      int n = snprintf(value, sizeof value, "u%d%s", v % 9000,
                       v % 7 ? "" : "-a-value-longer-than-the-cache-keeps-0123456789012345678901234567890");
      size_t len = tg_redaction_pseudonym(&c.r, value, (size_t)n, got);
      assert_int_equal(len, 25);
      assert_string_equal(got, expected_pseudonym(value));
    }
  }
  teardown(&c);
}

/* ---- the wire walk on whole batches: the dry walk first (tg_redactor_batch) ---------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

/* One packed ResourceSpans of 1-3 spans whose attributes are drawn from keys and values
 * some rule of PSEUDO_CONF applies to and others none does; changing: 0 = only values no
 * rule touches, 1 = at least one user_id. Appended to out (a plain byte buffer). */
static void random_segment(tg_arena *a, int changing, uint8_t *out, size_t *len) {
  static const char *const keys[] = {"http.method", "note", "db.system", "user_idx",
                                     "enduser.idd", "server.port"};
  static const char *const values[] = {"GET", "plain text", "a-b-c", "user-42", "",
                                       "no at sign here"};
  tg_span spans[3], *sps[3];
  size_t n_spans = 1 + rnd(3);
  for (size_t i = 0; i < n_spans; i++) {
    tg_span *sp = &spans[i];
    *sp = (tg_span)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp->name = rnd(2) ? "GET /x" : "op";
    size_t n = 1 + rnd(5);
    sp->attributes = tg_arena_alloc(a, (n + 1) * sizeof *sp->attributes);
    for (size_t k = 0; k < n; k++)
      sp->attributes[k] = kv(a, keys[rnd(6)], av_str(a, values[rnd(6)]));
    if (changing && (i == 0 || rnd(2))) {
      const char *v = rnd(2) ? "alice" : "bob@corp.com";
      sp->attributes[n++] = rnd(3) ? kv(a, "user_id", av_str(a, v)) : kv(a, "note", av_str(a, v));
    }
    if (changing && i == 0) /* always one change in a changing segment */
      sp->attributes[0] = kv(a, "enduser.id", av_str(a, "carol"));
    sp->n_attributes = n;
    sps[i] = sp;
  }
  tg_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.spans = sps;
  ss.n_spans = n_spans;
  tg_scope_spans *sss[] = {&ss};
  tg_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.scope_spans = sss;
  rs.n_scope_spans = 1;
  *len = opentelemetry__proto__trace__v1__resource_spans__pack(&rs, out);
}

/* Generated batches of 1-6 segments, each changing or not: tg_redactor_batch (a dry walk
 * over the segments, then a writing walk only when one changes) gives exactly what the
 * writing walk alone gives, tg_redactor_wire_segment segment by segment with a second
 * redactor of the same policy: a batch without change keeps its very bytes (no copy), a
 * batch with one has every segment rewritten, and the counts agree. */
static void test_batch_dry_walk_differential(void **state) {
  (void)state;
  ctx c;
  setup(&c, PSEUDO_CONF);
  tg_redactor ref;
  char why[256];
  assert_int_equal(tg_redactor_build(&ref, tg_config_find(c.cfg, TG_PROCESSOR, "redaction")->conf,
                                     (const uint8_t *)TEST_KEY, 32, why, sizeof why),
                   TG_OK);
  static uint8_t data[6 * 4096];
  tg_buf expect;
  tg_buf_init(&expect, 0);
  int batches_changed = 0, batches_same = 0;
  for (int iter = 0; iter < 400; iter++) {
    tg_arena *a = tg_arena_new(4096, 0);
    size_t n_seg = 1 + rnd(6), offsets[6], lengths[6], counts[6], pos = 0;
    int any_changing = 0;
    for (size_t i = 0; i < n_seg; i++) {
      int changing = rnd(4) == 0;
      any_changing |= changing;
      offsets[i] = pos;
      random_segment(a, changing, data + pos, &lengths[i]);
      counts[i] = 1;
      pos += lengths[i];
      assert_true(pos < sizeof data - 4096);
    }
    /* the reference: the writing walk, segment by segment */
    size_t ends[6];
    int any = 0;
    expect.len = 0;
    ref.counts = (tg_redaction_counts){0, 0, 0};
    for (size_t i = 0; i < n_seg; i++) {
      int changed;
      assert_int_equal(tg_redactor_wire_segment(&ref, data + offsets[i], lengths[i], &expect,
                                                &changed),
                       TG_OK);
      ends[i] = expect.len;
      any |= changed;
    }
    assert_int_equal(any, any_changing);
    tg_batch *b = tg_batch_new(0, 0);
    assert_int_equal(tg_batch_adopt_wire(b, data, pos, offsets, lengths, counts, n_seg), TG_OK);
    const uint8_t *before[6];
    for (size_t i = 0; i < n_seg; i++)
      before[i] = b->wire[i].data;
    c.r.counts = (tg_redaction_counts){0, 0, 0};
    assert_int_equal(tg_redactor_batch(&c.r, b), TG_OK);
    assert_int_equal(b->n_wire, n_seg);
    assert_int_equal(b->request.n_resource_spans, 0); /* never fell back to the tree */
    for (size_t i = 0; i < n_seg; i++) {
      if (!any) {
        assert_ptr_equal(b->wire[i].data, before[i]); /* not even copied */
        continue;
      }
      size_t start = i ? ends[i - 1] : 0;
      assert_int_equal(b->wire[i].len, ends[i] - start);
      assert_memory_equal(b->wire[i].data, expect.data + start, ends[i] - start);
    }
    assert_memory_equal(&c.r.counts, &ref.counts, sizeof ref.counts);
    if (any)
      assert_true(c.r.counts.pseudonymized + c.r.counts.masked > 0);
    batches_changed += any;
    batches_same += !any;
    tg_batch_free(b);
    tg_arena_unref(a);
  }
  assert_true(batches_changed > 50 && batches_same > 50); /* both kinds were exercised */
  tg_buf_free(&expect);
  tg_redactor_free(&ref);
  teardown(&c);
}

/* ---- the wire walk's shortcuts against the tree, on hand-encoded attributes ----------- */

typedef struct wbuf {
  uint8_t b[8192];
  size_t n;
} wbuf;

static void w_varint(wbuf *w, uint64_t v) {
  do {
    w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
}

static void w_bytes(wbuf *w, uint32_t num, const void *p, size_t len) {
  w_varint(w, (uint64_t)num << 3 | 2);
  w_varint(w, len);
  memcpy(w->b + w->n, p, len);
  w->n += len;
}

/* A key: one the policy names (or one byte longer), maybe cut by a NUL somewhere, or
 * random bytes (NULs included) of 0-70 bytes. */
static size_t random_key(char *k) {
  static const char *const base[] = {"user_id", "user.id", "usr.id", "enduser.id", "password",
                                     "raw", "http.method", "user_idx", "a", "db.statement"};
  size_t n;
  if (rnd(4)) {
    const char *b = base[rnd(10)];
    n = strlen(b);
    memcpy(k, b, n);
    if (rnd(3) == 0) { /* a NUL inside, then more */
      size_t at = rnd((uint32_t)n + 1), extra = rnd(4);
      memmove(k + at + 1, k + at, n - at);
      k[at] = '\0';
      n++;
      for (size_t i = 0; i < extra; i++)
        k[n++] = (char)('a' + rnd(26));
    }
  } else {
    n = rnd(71);
    for (size_t i = 0; i < n; i++)
      k[i] = rnd(8) ? (char)('a' + rnd(26)) : rnd(2) ? '\0' : '.';
  }
  return n;
}

/* An AnyValue body of any scalar type, or an array or map around a string. Strings hold
 * no NUL: the tree sees such a string cut at it (protobuf-c's char *) and the wire walk
 * does not, a difference older than these shortcuts (docs/BENCHMARKS.md, third session). */
static void random_value(wbuf *w) {
  static const char *const strs[] = {"GET", "", "bob@corp.com", "no at sign", "x@y.zz and more"};
  char longer[300];
  switch (rnd(9)) {
  case 0: { /* a string longer than 127 bytes: a two-byte length */
    size_t n = 128 + rnd(150);
    memset(longer, 'q', n);
    if (rnd(2))
      memcpy(longer + rnd((uint32_t)n - 20), "ann@example.org", 15);
    w_bytes(w, 1, longer, n);
    break;
  }
  case 1: w->b[w->n++] = 0x10, w_varint(w, rnd(2)); break;                    /* bool */
  case 2: w->b[w->n++] = 0x18, w_varint(w, rnd(2) ? rnd(300) : UINT64_MAX - rnd(9)); break;
  case 3: { /* double */
    double d = 13.5 + rnd(100);
    w->b[w->n++] = 0x21;
    memcpy(w->b + w->n, &d, 8);
    w->n += 8;
    break;
  }
  case 4: w_bytes(w, 7, "\x00\x40\x01", 3); break; /* bytes */
  case 5: { /* an array of one string */
    wbuf in = {.n = 0}, el = {.n = 0};
    const char *v = strs[rnd(5)];
    w_bytes(&el, 1, v, strlen(v));
    w_bytes(&in, 1, el.b, el.n);
    w_bytes(w, 5, in.b, in.n);
    break;
  }
  case 6: { /* a map of one entry */
    wbuf in = {.n = 0}, kvb = {.n = 0}, val = {.n = 0};
    char k[80];
    size_t kn = random_key(k);
    const char *v = strs[rnd(5)];
    w_bytes(&val, 1, v, strlen(v));
    w_bytes(&kvb, 1, k, kn);
    w_bytes(&kvb, 2, val.b, val.n);
    w_bytes(&in, 1, kvb.b, kvb.n);
    w_bytes(w, 6, in.b, in.n);
    break;
  }
  default: {
    const char *v = strs[rnd(5)];
    w_bytes(w, 1, v, strlen(v));
  }
  }
}

/* One KeyValue in a random shape: key then value (what encoders write), value first, the
 * key alone, a 130-byte key, or an unknown field after. */
static void random_kv(wbuf *w) {
  char k[200];
  size_t kn = random_key(k);
  wbuf val = {.n = 0}, body = {.n = 0};
  random_value(&val);
  switch (rnd(8)) {
  case 0:
    w_bytes(&body, 2, val.b, val.n);
    w_bytes(&body, 1, k, kn);
    break;
  case 1: w_bytes(&body, 1, k, kn); break;
  case 2:
    memset(k, 'k', 130);
    w_bytes(&body, 1, k, 130);
    w_bytes(&body, 2, val.b, val.n);
    break;
  case 3:
    w_bytes(&body, 1, k, kn);
    w_bytes(&body, 2, val.b, val.n);
    body.b[body.n++] = 0x18, body.b[body.n++] = 0x01; /* field 3: unknown */
    break;
  default:
    w_bytes(&body, 1, k, kn);
    w_bytes(&body, 2, val.b, val.n);
  }
  w_bytes(w, 9, body.b, body.n);
}

/* Hand-encoded spans with keys a rule names, nearly names or names behind a NUL, and
 * values of every type, some in shapes no encoder writes: where the wire walk accepts
 * the segment, its result (normalised through protobuf-c) is the tree walk's, with the
 * same counts; tg_redactor_batch keeps the very bytes when the wire walk changed
 * nothing. This is the check on the walk's shortcuts (attr_stays, the canonical
 * KeyValue, the word-wise NUL test) against the tree, which has none of them, and on
 * tg_redactor_wire_segment_stays against the walk: where it says a segment stays, the
 * walk changes nothing. */
static void test_wire_shortcuts_differential(void **state) {
  (void)state;
  ctx c;
  setup(&c, "  redaction:\n    allow_all_keys: true\n"
            "    blocked_values: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}']\n"
            "    delete_keys: [password]\n    ignored_keys: [raw]\n"
            "    pseudonymize: {keys: [user_id, user.id, enduser.id, usr.id]}\n");
  int compared = 0, changed_seen = 0, stays_said = 0;
  for (int iter = 0; iter < 3000; iter++) {
    static wbuf span, ss, rs;
    span.n = ss.n = rs.n = 0;
    w_bytes(&span, 1, "0123456789abcdef", 16);
    const char *name = rnd(8) ? "op" : "mail a@b.cc"; /* a name the e-mail rule masks */
    w_bytes(&span, 5, name, strlen(name));
    if (rnd(2)) { /* Span.flags, field 16: a two-byte tag */
      static const uint8_t flags[] = {0x85, 0x01, 0x01, 0x03, 0x00, 0x00};
      memcpy(span.b + span.n, flags, sizeof flags);
      span.n += sizeof flags;
    }
    size_t n_attr = 1 + rnd(4);
    for (size_t i = 0; i < n_attr; i++)
      random_kv(&span);
    if (rnd(2)) /* a scope named as JavaScript names them */
      w_bytes(&ss, 1, "\x0a\x1c@opentelemetry/instrumentation", 30);
    w_bytes(&ss, 2, span.b, span.n);
    w_bytes(&rs, 2, ss.b, ss.n);

    tg_arena *a = tg_arena_new(4096, 0);
    tg_buf out;
    tg_buf_init(&out, 0);
    int changed;
    c.r.counts = (tg_redaction_counts){0, 0, 0};
    int rc = tg_redactor_wire_segment(&c.r, rs.b, rs.n, &out, &changed);
    tg_redaction_counts wire_counts = c.r.counts;
    if (tg_redactor_wire_segment_stays(&c.r, rs.b, rs.n)) { /* one-sided: never wrong */
      assert_int_equal(rc, TG_OK);
      assert_false(changed);
      stays_said++;
    }
    tg_resource_spans *tree =
        opentelemetry__proto__trace__v1__resource_spans__unpack(&a->pb_allocator, rs.n, rs.b);
    assert_non_null(tree);
    if (rc == TG_OK) {
      tg_resource_spans *one[] = {tree};
      tg_export_request req =
          OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
      req.resource_spans = one;
      req.n_resource_spans = 1;
      c.r.counts = (tg_redaction_counts){0, 0, 0};
      assert_int_equal(tg_redactor_request(&c.r, a, &req), TG_OK);
      static uint8_t tb[16384], bb[16384];
      size_t tlen = opentelemetry__proto__trace__v1__resource_spans__pack(tree, tb);
      tg_resource_spans *back = opentelemetry__proto__trace__v1__resource_spans__unpack(
          &a->pb_allocator, out.len, out.data ? out.data : (const uint8_t *)"");
      assert_non_null(back);
      size_t blen = opentelemetry__proto__trace__v1__resource_spans__pack(back, bb);
      assert_int_equal(blen, tlen);
      assert_memory_equal(bb, tb, tlen);
      assert_memory_equal(&wire_counts, &c.r.counts, sizeof wire_counts);
      if (!changed) {
        assert_int_equal(out.len, rs.n);
        assert_memory_equal(out.data, rs.b, rs.n);
      }
      /* the dry walk agrees: the batch keeps its bytes exactly when nothing changed */
      tg_batch *b = tg_batch_new(0, 0);
      size_t off = 0, len = rs.n, cnt = 1;
      assert_int_equal(tg_batch_adopt_wire(b, rs.b, rs.n, &off, &len, &cnt, 1), TG_OK);
      const uint8_t *adopted = b->wire[0].data;
      assert_int_equal(tg_redactor_batch(&c.r, b), TG_OK);
      assert_int_equal(b->n_wire, 1);
      assert_int_equal(b->wire[0].data == adopted, !changed);
      assert_int_equal(b->wire[0].len, out.len);
      assert_memory_equal(b->wire[0].data, out.data ? out.data : (const uint8_t *)"", out.len);
      tg_batch_free(b);
      compared++;
      changed_seen += changed;
    }
    tg_buf_free(&out);
    tg_arena_unref(a);
  }
  /* most segments are walked on the wire; both outcomes occur */
  assert_true(compared > 1500 && changed_seen > 300 && compared - changed_seen > 300);
  /* the shortcut answered for some unchanged ones (about a fifth: most keys here have a
   * length some rule has, and those it leaves to the walk) */
  assert_true(stays_said > 100);
  teardown(&c);
}

/* The byte every match must contain: found where certain, never claimed otherwise. */
static void test_required_byte(void **state) {
  (void)state;
  assert_int_equal(tg_pattern_required_byte(
                       "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}"),
                   '@');
  assert_int_equal(tg_pattern_required_byte("[a-z]+@[a-z]+\\.com"), '@');
  assert_int_equal(tg_pattern_required_byte("a\\.b"), '.');
  assert_int_equal(tg_pattern_required_byte("\\b4[0-9]{12}(?:[0-9]{3})?\\b"), '4');
  assert_int_equal(tg_pattern_required_byte("x@{2}"), '@');
  assert_int_equal(tg_pattern_required_byte("a|b@c"), -1);
  assert_int_equal(tg_pattern_required_byte("x@?y"), -1);
  assert_int_equal(tg_pattern_required_byte("x@*y"), -1);
  assert_int_equal(tg_pattern_required_byte("x@{0,2}"), -1);
  assert_int_equal(tg_pattern_required_byte("(foo@bar)"), -1);
  assert_int_equal(tg_pattern_required_byte("[@]"), -1);
  assert_int_equal(tg_pattern_required_byte("\\x{40}"), -1);
  assert_int_equal(tg_pattern_required_byte("\\c@"), -1);
  assert_int_equal(tg_pattern_required_byte("(?x) @ # comment"), -1);
  assert_int_equal(tg_pattern_required_byte("(?ix)a@"), -1);
  assert_int_equal(tg_pattern_required_byte("\\Q@\\E"), -1);
  assert_int_equal(tg_pattern_required_byte("abc"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_scope),
      cmocka_unit_test(test_nested_values),
      cmocka_unit_test(test_unchanged_list_is_not_copied),
      cmocka_unit_test(test_patterns),
      cmocka_unit_test(test_allowlist_and_summary),
      cmocka_unit_test(test_summary_info_counts_only),
      cmocka_unit_test(test_hash_functions),
      cmocka_unit_test(test_match_limit_fails_closed),
      cmocka_unit_test(test_required_byte),
      cmocka_unit_test(test_pseudonym_cache),
      cmocka_unit_test(test_batch_dry_walk_differential),
      cmocka_unit_test(test_wire_shortcuts_differential),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
