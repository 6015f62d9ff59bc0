/* attributes processor: every action on span attributes through the real component, and
 * settings errors with positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <uv.h>

#include "attr_builders.h"
#include "drop_metrics.h"
#include "tg_component.h"
#include "tg_config.h"
#include "tg_service.h"

extern const tg_component tg_processor_attributes;

static tg_config *load(const char *attributes, tg_diag *d) {
  static char text[8192];
  snprintf(text, sizeof text,
           "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
           "processors:\n  attributes:\n%s"
           "exporters: {nop: {}}\n"
           "service:\n"
           "  telemetry: {metrics: {address: \"\"}}\n"
           "  pipelines: {traces: {receivers: [otlp], processors: [attributes], exporters: [nop]}}\n",
           attributes);
  tg_diag_init(d);
  return tg_config_load_text("a.yaml", text, strlen(text), d);
}

static const char *joined(const tg_diag *d) {
  static char buf[8192];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < d->n && used < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s\n", d->lines[i]);
  return buf;
}

typedef struct sink {
  tg_batch *last;
} sink;

static int sink_consume(void *target, tg_batch *batch) {
  sink *s = target;
  tg_batch_free(s->last);
  s->last = batch;
  return TG_OK;
}

static void test_actions(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load(
      "    actions:\n"
      "      - {key: env, value: prod, action: insert}\n"
      "      - {key: existing, value: new, action: insert}\n"
      "      - {key: retries, value: 3, action: upsert}\n"
      "      - {key: ratio, value: '0.5', action: upsert}\n"
      "      - {key: flag, value: true, action: update}\n"
      "      - {key: missing, value: x, action: update}\n"
      "      - {key: copy, from_attribute: existing, action: upsert}\n"
      "      - {key: password, action: delete}\n"
      "      - {pattern: '^secret\\.', action: delete}\n"
      "      - {key: email, action: hash}\n"
      "      - {key: http.url, pattern: '^(?P<scheme>[a-z]+)://(?P<host>[^/]+)(?P<path>/.*)?$', action: extract}\n"
      "      - {key: code, action: convert, converted_type: int}\n"
      "      - {key: n, action: convert, converted_type: string}\n",
      &d);
  if (!cfg)
    fail_msg("%s", joined(&d));
  tg_diag_free(&d);
  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_logger log;
  tg_logger_init(&log, TG_LOG_NONE, stdout);
  tg_service svc = {.loop = &loop, .log = &log, .metrics = tg_metrics_new()};
  sink out = {0};
  tg_instance inst = {.component = &tg_processor_attributes, .id = "attributes",
                      .conf = tg_config_find(cfg, TG_PROCESSOR, "attributes")->conf,
                      .service = &svc, .next = {sink_consume, &out}};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&inst, &err), TG_OK);
  assert_int_equal(tg_component_start(&inst, &err), TG_OK);

  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_span *sp = tg_arena_alloc(a, sizeof *sp);
  opentelemetry__proto__trace__v1__span__init(sp);
  sp->attributes = kv_list(a, 8, kv(a, "existing", av_str(a, "old")), kv(a, "flag", av_int(a, 0)),
                           kv(a, "password", av_str(a, "pw")), kv(a, "secret.a", av_str(a, "s")),
                           kv(a, "email", av_str(a, "a@b.c")),
                           kv(a, "http.url", av_str(a, "https://shop.example.com/cart")),
                           kv(a, "code", av_str(a, "503")), kv(a, "n", av_int(a, 42)));
  sp->n_attributes = 8;
  tg_key_value **orig = sp->attributes;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  ss->spans = tg_arena_alloc(a, sizeof(void *));
  ss->spans[0] = sp;
  ss->n_spans = 1;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof(void *));
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = 1;
  assert_int_equal(tg_component_consume(&inst, b), TG_OK);
  assert_non_null(out.last);
  tg_key_value **at = sp->attributes;
  size_t n = sp->n_attributes;
  assert_ptr_not_equal(at, orig);
  assert_string_equal(orig[0]->value->string_value, "old"); /* old array untouched */
  assert_string_equal(attr_str(at, n, "env"), "prod");
  assert_string_equal(attr_str(at, n, "existing"), "old");
  assert_int_equal(attr_get(at, n, "retries")->int_value, 3);
  assert_string_equal(attr_str(at, n, "ratio"), "0.5"); /* quoted: a string */
  assert_int_equal(attr_get(at, n, "flag")->value_case,
                   OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
  assert_true(attr_get(at, n, "flag")->bool_value);
  assert_null(attr_get(at, n, "missing"));
  assert_string_equal(attr_str(at, n, "copy"), "old");
  assert_null(attr_get(at, n, "password"));
  assert_null(attr_get(at, n, "secret.a"));
  uint8_t dg[32];
  SHA256((const uint8_t *)"a@b.c", 5, dg);
  char hex[65];
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", dg[i]);
  assert_string_equal(attr_str(at, n, "email"), hex);
  assert_string_equal(attr_str(at, n, "scheme"), "https");
  assert_string_equal(attr_str(at, n, "host"), "shop.example.com");
  assert_string_equal(attr_str(at, n, "path"), "/cart");
  assert_int_equal(attr_get(at, n, "code")->int_value, 503);
  assert_string_equal(attr_str(at, n, "n"), "42");

  tg_batch_free(out.last);
  tg_component_destroy(&inst);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(svc.metrics);
  tg_logger_destroy(&log);
  tg_config_free(cfg);
}

static void test_errors(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load("    actions:\n"
                        "      - {key: a, action: explode}\n"
                        "      - {key: b, action: insert}\n"
                        "      - {key: c, action: extract, pattern: '([a-z]+)'}\n"
                        "      - {key: d, action: delete, pattern: '('}\n"
                        "      - {key: e, action: convert}\n"
                        "      - {key: f, action: upsert, value: 1, colour: red}\n",
                        &d);
  assert_null(cfg);
  const char *t = joined(&d);
  assert_non_null(strstr(t, "a.yaml:5:26: processors::attributes: actions: item 1: action "
                            "\"explode\" is not one of"));
  assert_non_null(strstr(t, "a.yaml:6:9: processors::attributes: actions: item 2: insert needs "
                            "exactly one of value and from_attribute"));
  assert_non_null(strstr(t, "item 3: extract needs a pattern with named groups"));
  assert_non_null(strstr(t, "a.yaml:8:43: processors::attributes: actions: item 4: pattern \"(\" "
                            "does not compile"));
  assert_non_null(strstr(t, "item 5: convert needs converted_type"));
  assert_non_null(strstr(t, "item 6: unknown key \"colour\""));
  tg_diag_free(&d);
  cfg = load("    {}\n", &d);
  assert_null(cfg);
  assert_non_null(strstr(joined(&d), "actions: at least one action is required"));
  tg_diag_free(&d);
}

/* One resource with one scope of n spans, each with one attribute. */
static tg_batch *spans_batch(size_t n) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_arena *a = b->arena;
  tg_scope_spans *ss = tg_arena_alloc(a, sizeof *ss);
  opentelemetry__proto__trace__v1__scope_spans__init(ss);
  ss->spans = tg_arena_alloc(a, n * sizeof(void *));
  for (size_t i = 0; i < n; i++) {
    tg_span *sp = tg_arena_alloc(a, sizeof *sp);
    opentelemetry__proto__trace__v1__span__init(sp);
    sp->attributes = kv_list(a, 1, kv(a, "k", av_str(a, "v")));
    sp->n_attributes = 1;
    ss->spans[i] = sp;
  }
  ss->n_spans = n;
  tg_resource_spans *rs = tg_arena_alloc(a, sizeof *rs);
  opentelemetry__proto__trace__v1__resource_spans__init(rs);
  rs->scope_spans = tg_arena_alloc(a, sizeof(void *));
  rs->scope_spans[0] = ss;
  rs->n_scope_spans = 1;
  b->request.resource_spans = tg_arena_alloc(a, sizeof(void *));
  b->request.resource_spans[0] = rs;
  b->request.n_resource_spans = 1;
  b->span_count = n;
  return b;
}

/* A batch whose actions cannot complete (no arena room for the inserted attribute) is
 * dropped whole and its spans counted; good batches are passed on and not counted. */
static void test_error_drop_counted(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load("    actions:\n      - {key: env, value: prod, action: insert}\n", &d);
  if (!cfg)
    fail_msg("%s", joined(&d));
  tg_diag_free(&d);
  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_logger log;
  tg_logger_init(&log, TG_LOG_NONE, stdout);
  tg_service svc = {.loop = &loop, .log = &log, .metrics = tg_metrics_new()};
  sink out = {0};
  tg_instance inst = {.component = &tg_processor_attributes, .id = "attributes/x",
                      .conf = tg_config_find(cfg, TG_PROCESSOR, "attributes")->conf,
                      .service = &svc, .next = {sink_consume, &out}};
  tg_errbuf err;
  assert_int_equal(tg_component_create(&inst, &err), TG_OK);
  assert_int_equal(tg_component_start(&inst, &err), TG_OK);
  assert_int_equal(dropped_spans(svc.metrics, "attributes/x"), 0);
  tg_batch *b = spans_batch(4);
  exhaust_arena(b->arena);
  assert_int_equal(tg_component_consume(&inst, b), TG_ENOMEM);
  assert_null(out.last);
  b = spans_batch(3);
  exhaust_arena(b->arena);
  assert_int_equal(tg_component_consume(&inst, b), TG_ENOMEM);
  assert_int_equal(dropped_spans(svc.metrics, "attributes/x"), 7);
  assert_int_equal(tg_component_consume(&inst, spans_batch(2)), TG_OK);
  assert_non_null(out.last);
  assert_int_equal(dropped_spans(svc.metrics, "attributes/x"), 7);
  tg_batch_free(out.last);
  tg_component_destroy(&inst);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_metrics_free(svc.metrics);
  tg_logger_destroy(&log);
  tg_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_actions),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_error_drop_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
