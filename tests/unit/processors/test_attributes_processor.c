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
#include "proc_harness.h"
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
  proc_harness h;
  proc_harness_start(&h, cfg, &tg_processor_attributes, "attributes");

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
  proc_batch_of_spans(b, &sp, 1);
  assert_int_equal(tg_component_consume(&h.inst, b), TG_OK);
  assert_non_null(h.out.last);
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

  proc_harness_stop(&h);
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

/* One resource with one scope of n (at most 8) spans, each with one attribute. */
static tg_batch *spans_batch(size_t n) {
  tg_batch *b = tg_batch_new(0, 0);
  tg_span *spans[8];
  for (size_t i = 0; i < n; i++) {
    spans[i] = tg_arena_alloc(b->arena, sizeof *spans[i]);
    opentelemetry__proto__trace__v1__span__init(spans[i]);
    spans[i]->attributes = kv_list(b->arena, 1, kv(b->arena, "k", av_str(b->arena, "v")));
    spans[i]->n_attributes = 1;
  }
  proc_batch_of_spans(b, spans, n);
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
  proc_harness h;
  proc_harness_start(&h, cfg, &tg_processor_attributes, "attributes/x");
  assert_int_equal(dropped_spans(h.svc.metrics, "attributes/x"), 0);
  tg_batch *b = spans_batch(4);
  exhaust_arena(b->arena);
  assert_int_equal(tg_component_consume(&h.inst, b), TG_ENOMEM);
  assert_null(h.out.last);
  b = spans_batch(3);
  exhaust_arena(b->arena);
  assert_int_equal(tg_component_consume(&h.inst, b), TG_ENOMEM);
  assert_int_equal(dropped_spans(h.svc.metrics, "attributes/x"), 7);
  assert_int_equal(tg_component_consume(&h.inst, spans_batch(2)), TG_OK);
  assert_non_null(h.out.last);
  assert_int_equal(dropped_spans(h.svc.metrics, "attributes/x"), 7);
  proc_harness_stop(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_actions),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_error_drop_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
