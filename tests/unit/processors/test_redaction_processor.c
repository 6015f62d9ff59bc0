/* The redaction processor as a component: settings errors with positions (short keys,
 * unreadable key files, patterns that do not compile) that never show the key; a batch
 * still in wire form is decoded, redacted and encoded with no raw value left; the random
 * key warning; the redactions self-metric. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "attr_builders.h"
#include "redaction_fixture.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_service.h"
#include "../../../receivers/otlp/otlp.h"

extern const tg_component tg_processor_redaction;

/* ---- settings errors --------------------------------------------------------------- */

static void expect_error(const char *processors, const char *expected, const char *secret) {
  tg_diag d;
  tg_config *cfg = load_processors(processors, &d);
  const char *text = diag_text(&d);
  if (cfg || !strstr(text, expected))
    fail_msg("expected \"%s\" in:\n%s", expected, text);
  if (secret && strstr(text, secret))
    fail_msg("the key leaked into: %s", text);
  tg_diag_free(&d);
}

static void test_config_errors(void **state) {
  (void)state;
  setenv("TG_T_SHORT_KEY", "short-secret-value", 1);
  expect_error("  redaction:\n    pseudonymize:\n      keys: [user_id]\n"
               "      key_env: TG_T_SHORT_KEY\n",
               "t.yaml:6:16: processors::redaction: pseudonymize: the key in environment "
               "variable \"TG_T_SHORT_KEY\" is 18 bytes; at least 32 are required",
               "short-secret-value");
  expect_error("  redaction:\n    pseudonymize:\n      key_file: /nonexistent/tg.key\n",
               "t.yaml:5:17: processors::redaction: pseudonymize: cannot read key_file "
               "\"/nonexistent/tg.key\": No such file or directory",
               NULL);
  char path[] = "/tmp/tg-key-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "too-short-key-in-file\n", 22), 22);
  close(fd);
  char conf[256], msg[256];
  snprintf(conf, sizeof conf, "  redaction:\n    pseudonymize: {key_file: %s}\n", path);
  snprintf(msg, sizeof msg, "t.yaml:4:30: processors::redaction: pseudonymize: the key in "
                            "key_file \"%s\" is 21 bytes", path);
  expect_error(conf, msg, "too-short-key-in-file");
  unlink(path);
  expect_error("  redaction:\n    blocked_values:\n      - 'ok'\n      - '([a-z]+'\n",
               "t.yaml:6:9: processors::redaction: blocked_values: item 2: pattern "
               "\"([a-z]+\" does not compile: missing closing parenthesis",
               NULL);
  expect_error("  redaction:\n    pseudonymize: {key_patterns: ['[']}\n",
               "t.yaml:4:35: processors::redaction: pseudonymize.key_patterns: item 1",
               NULL);
  expect_error("  redaction:\n    pseudonymize: {key_env: A, key_file: /b}\n",
               "processors::redaction: pseudonymize: key_env and key_file are exclusive", NULL);
  expect_error("  redaction:\n    hash_function: hmac-sha256\n    hmac_key: tiny-hmac\n",
               "t.yaml:5:15: processors::redaction: hash_function hmac-sha256 needs an "
               "hmac_key of at least 32 bytes (it has 9)",
               NULL);
  expect_error("  redaction:\n    pseudonymize: {key_id: 'bad id'}\n",
               "pseudonymize.key_id: \"bad id\" must be 1 to 16 of [A-Za-z0-9_-]", NULL);
  expect_error("  redaction:\n    pseudonymise: {}\n", "unknown key \"pseudonymise\"", NULL);
  unsetenv("TG_T_SHORT_KEY");
}

/* ---- the component ----------------------------------------------------------------- */

typedef struct sink {
  tg_batch *last;
  size_t batches;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  tg_batch_free(s->last);
  s->last = batch;
  s->batches++;
  return TG_OK;
}

typedef struct fixture {
  uv_loop_t loop;
  tg_logger log;
  char *log_text;
  size_t log_len;
  FILE *log_file;
  tg_service svc;
  tg_config *cfg;
  tg_instance inst;
  sink out;
} fixture;

static int setup_fixture(fixture *f, const char *processors) {
  memset(f, 0, sizeof *f);
  uv_loop_init(&f->loop);
  f->log_file = open_memstream(&f->log_text, &f->log_len);
  tg_logger_init(&f->log, TG_LOG_INFO, f->log_file);
  f->svc = (tg_service){.loop = &f->loop, .log = &f->log, .metrics = tg_metrics_new()};
  tg_diag d;
  f->cfg = load_processors(processors, &d);
  if (!f->cfg)
    fail_msg("config: %s", diag_text(&d));
  tg_diag_free(&d);
  const tg_config_component *comp = tg_config_find(f->cfg, TG_PROCESSOR, "redaction");
  f->inst = (tg_instance){.component = &tg_processor_redaction, .id = "redaction",
                          .conf = comp->conf, .service = &f->svc,
                          .next = {sink_consume, &f->out}};
  tg_errbuf err;
  int rc = tg_component_create(&f->inst, &err);
  if (rc == TG_OK)
    rc = tg_component_start(&f->inst, &err);
  fflush(f->log_file);
  return rc;
}

static void teardown_fixture(fixture *f) {
  tg_component_destroy(&f->inst);
  tg_batch_free(f->out.last);
  tg_config_free(f->cfg);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tg_metrics_free(f->svc.metrics);
  tg_logger_destroy(&f->log);
  fclose(f->log_file);
  free(f->log_text);
}

/* A request with one span carrying user_id and an e-mail, packed, then adopted as wire
 * segments the way the OTLP receiver does. */
static tg_batch *wire_batch(const char *user, const char *note) {
  tg_arena *a = tg_arena_new(4096, 0);
  tg_span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
  uint8_t tid[16] = {1, 2, 3}, sid[8] = {4, 5, 6};
  sp.trace_id = (ProtobufCBinaryData){16, tid};
  sp.span_id = (ProtobufCBinaryData){8, sid};
  sp.name = "checkout";
  sp.attributes = kv_list(a, 2, kv(a, "user_id", av_str(a, user)), kv(a, "note", av_str(a, note)));
  sp.n_attributes = 2;
  tg_span *spans[] = {&sp};
  tg_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.spans = spans;
  ss.n_spans = 1;
  tg_scope_spans *sss[] = {&ss};
  tg_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.scope_spans = sss;
  rs.n_scope_spans = 1;
  tg_resource_spans *rss[] = {&rs};
  tg_export_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.resource_spans = rss;
  req.n_resource_spans = 1;
  size_t len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
  uint8_t *buf = tg_malloc(len);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
  tg_otlp_wire_index idx;
  char err[256];
  assert_int_equal(tg_otlp_proto_index(buf, len, 64, err, sizeof err, &idx), TG_OK);
  tg_batch *b = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_adopt_wire(b, buf, len, idx.offsets, idx.lengths, idx.span_counts, idx.n),
                   TG_OK);
  assert_int_equal(b->n_wire, 1);
  tg_free(buf);
  tg_arena_unref(a);
  return b;
}

static int contains(const uint8_t *hay, size_t n, const char *needle) {
  return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void test_wire_batch_is_redacted(void **state) {
  (void)state;
  setenv("TG_T_KEY", TEST_KEY, 1);
  fixture f;
  assert_int_equal(setup_fixture(&f, "  redaction:\n    allow_all_keys: true\n"
                                     "    blocked_values: ['[a-z]+@[a-z]+\\.com']\n"
                                     "    pseudonymize: {keys: [user_id], key_env: TG_T_KEY}\n"),
                   TG_OK);
  assert_int_equal(tg_component_consume(&f.inst, wire_batch("alice-1234", "ask bob@corp.com")),
                   TG_OK);
  assert_int_equal(f.out.batches, 1);
  tg_batch *b = f.out.last;
  /* redacted in its wire form: still one undecoded segment, nothing decoded */
  assert_int_equal(b->n_wire, 1);
  assert_int_equal(b->request.n_resource_spans, 0);
  size_t n = tg_batch_encoded_size(b);
  uint8_t *enc = tg_malloc(n);
  assert_int_equal(tg_batch_encode(b, enc), n);
  assert_false(contains(enc, n, "alice-1234"));
  assert_false(contains(enc, n, "bob@corp.com"));
  char p[TG_PSEUDONYM_MAX];
  tg_hmac h;
  tg_hmac_init(&h, (const uint8_t *)TEST_KEY, 32);
  tg_pseudonym(&h, "k1", TG_PSEUDONYM_BASE64URL, "alice-1234", 10, p);
  assert_true(contains(enc, n, p));
  assert_true(contains(enc, n, "ask ****"));
  tg_free(enc);
  /* nothing was logged about a missing key, and the key is nowhere in the log */
  fflush(f.log_file);
  assert_null(strstr(f.log_text ? f.log_text : "", "random key"));
  tg_buf m;
  tg_buf_init(&m, 0);
  assert_int_equal(tg_metrics_render(f.svc.metrics, &m), TG_OK);
  assert_non_null(strstr((char *)m.data, "tailgate_processor_redactions_total{processor=\"redaction\","
                                         "action=\"pseudonymize\"} 1"));
  assert_non_null(strstr((char *)m.data, "action=\"mask\"} 1"));
  assert_null(strstr((char *)m.data, "alice"));
  tg_buf_free(&m);
  teardown_fixture(&f);
  unsetenv("TG_T_KEY");
}

/* No key configured: a random key, a warning; two instances then disagree. */
static void test_random_key_warns(void **state) {
  (void)state;
  unsetenv("TG_T_UNSET_KEY");
  const char *conf = "  redaction:\n    allow_all_keys: true\n"
                     "    pseudonymize: {keys: [user_id], key_env: TG_T_UNSET_KEY}\n";
  fixture f, g;
  assert_int_equal(setup_fixture(&f, conf), TG_OK);
  assert_int_equal(setup_fixture(&g, conf), TG_OK);
  assert_non_null(strstr(f.log_text, "\"level\":\"warn\""));
  assert_non_null(strstr(f.log_text, "TG_T_UNSET_KEY is unset"));
  assert_non_null(strstr(f.log_text, "not be stable across restarts"));
  assert_int_equal(tg_component_consume(&f.inst, wire_batch("u", "n")), TG_OK);
  assert_int_equal(tg_component_consume(&g.inst, wire_batch("u", "n")), TG_OK);
  assert_int_equal(tg_batch_materialize(f.out.last), TG_OK);
  assert_int_equal(tg_batch_materialize(g.out.last), TG_OK);
  const tg_span *a = f.out.last->request.resource_spans[0]->scope_spans[0]->spans[0];
  const tg_span *b = g.out.last->request.resource_spans[0]->scope_spans[0]->spans[0];
  const char *pa = attr_str(a->attributes, a->n_attributes, "user_id");
  const char *pb = attr_str(b->attributes, b->n_attributes, "user_id");
  assert_int_equal(strlen(pa), 25);
  assert_string_not_equal(pa, pb);
  teardown_fixture(&f);
  teardown_fixture(&g);
}

/* The same key in two instances (two processes, restarts): the same pseudonyms. */
static void test_same_key_same_pseudonym(void **state) {
  (void)state;
  char path[] = "/tmp/tg-key-XXXXXX";
  int fd = mkstemp(path);
  assert_int_equal(write(fd, TEST_KEY "\n", 33), 33);
  close(fd);
  char conf[256];
  snprintf(conf, sizeof conf,
           "  redaction:\n    allow_all_keys: true\n"
           "    pseudonymize: {keys: [user_id], key_file: %s, key_id: r7}\n", path);
  fixture f, g;
  assert_int_equal(setup_fixture(&f, conf), TG_OK);
  assert_int_equal(setup_fixture(&g, conf), TG_OK);
  assert_int_equal(tg_component_consume(&f.inst, wire_batch("alice", "n")), TG_OK);
  assert_int_equal(tg_component_consume(&g.inst, wire_batch("alice", "n")), TG_OK);
  assert_int_equal(tg_batch_materialize(f.out.last), TG_OK);
  assert_int_equal(tg_batch_materialize(g.out.last), TG_OK);
  const tg_span *a = f.out.last->request.resource_spans[0]->scope_spans[0]->spans[0];
  const tg_span *b = g.out.last->request.resource_spans[0]->scope_spans[0]->spans[0];
  const char *pa = attr_str(a->attributes, a->n_attributes, "user_id");
  assert_string_equal(pa, attr_str(b->attributes, b->n_attributes, "user_id"));
  /* the trailing newline of the file is not part of the key */
  char p[TG_PSEUDONYM_MAX];
  tg_hmac h;
  tg_hmac_init(&h, (const uint8_t *)TEST_KEY, 32);
  tg_pseudonym(&h, "r7", TG_PSEUDONYM_BASE64URL, "alice", 5, p);
  assert_string_equal(pa, p);
  teardown_fixture(&f);
  teardown_fixture(&g);
  unlink(path);
}

/* A batch of many wire segments (as the batch processor builds them) stays in wire form,
 * every segment redacted, the summary-free policy never falling back to decoding. */
static void test_many_segments(void **state) {
  (void)state;
  setenv("TG_T_KEY", TEST_KEY, 1);
  fixture f;
  assert_int_equal(setup_fixture(&f, "  redaction:\n    allow_all_keys: true\n"
                                     "    pseudonymize: {keys: [user_id], key_env: TG_T_KEY}\n"),
                   TG_OK);
  tg_batch *b = wire_batch("user-0", "n");
  for (int i = 1; i < 100; i++) {
    char user[16];
    snprintf(user, sizeof user, "user-%d", i);
    assert_int_equal(tg_batch_append(b, wire_batch(user, "n")), TG_OK);
  }
  assert_int_equal(b->n_wire, 100);
  assert_int_equal(tg_component_consume(&f.inst, b), TG_OK);
  tg_batch *out = f.out.last;
  assert_int_equal(out->n_wire, 100);
  assert_int_equal(out->request.n_resource_spans, 0);
  assert_int_equal(tg_batch_materialize(out), TG_OK);
  assert_int_equal(out->request.n_resource_spans, 100);
  tg_hmac h;
  tg_hmac_init(&h, (const uint8_t *)TEST_KEY, 32);
  for (int i = 0; i < 100; i++) {
    char user[16], p[TG_PSEUDONYM_MAX];
    snprintf(user, sizeof user, "user-%d", i);
    tg_pseudonym(&h, "k1", TG_PSEUDONYM_BASE64URL, user, strlen(user), p);
    const tg_span *sp = out->request.resource_spans[i]->scope_spans[0]->spans[0];
    assert_string_equal(attr_str(sp->attributes, sp->n_attributes, "user_id"), p);
  }
  teardown_fixture(&f);
  unsetenv("TG_T_KEY");
}

/* Out of memory mid-batch: the batch is dropped, never passed on half-redacted. */
static void test_enomem_drops_batch(void **state) {
  (void)state;
  setenv("TG_T_KEY", TEST_KEY, 1);
  fixture f;
  assert_int_equal(setup_fixture(&f, "  redaction:\n    allow_all_keys: true\n"
                                     "    pseudonymize: {keys: [user_id], key_env: TG_T_KEY}\n"),
                   TG_OK);
  static char big[65536];
  memset(big, 'x', sizeof big - 1);
  tg_batch *b = wire_batch("alice", big);
  b->arena->limit_bytes = b->arena->reserved_bytes; /* no room to decode the 64 KiB note */
  assert_int_not_equal(tg_component_consume(&f.inst, b), TG_OK);
  assert_int_equal(f.out.batches, 0);
  teardown_fixture(&f);
  unsetenv("TG_T_KEY");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_wire_batch_is_redacted),
      cmocka_unit_test(test_random_key_warns),
      cmocka_unit_test(test_same_key_same_pseudonym),
      cmocka_unit_test(test_many_segments),
      cmocka_unit_test(test_enomem_drops_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
