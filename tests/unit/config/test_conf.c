/* Key tables: strict scalar parsers (table-driven) and tg_conf_apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_components.h"
#include "tg_alloc.h"
#include "tg_conf.h"
#include "tg_yaml.h"

static void test_int(void **state) {
  (void)state;
  static const struct { const char *s; int ok; int64_t v; } t[] = {
      {"10", 1, 10}, {"0", 1, 0}, {"-5", 1, -5}, {"+7", 1, 7},
      {"9223372036854775807", 1, INT64_MAX}, {"-9223372036854775808", 1, INT64_MIN},
      {"9223372036854775808", 0, 0}, {"99999999999999999999", 0, 0},
      {"010", 0, 0}, /* octal in YAML 1.1, decimal in 1.2: ambiguous, rejected */
      {"1e3", 0, 0}, {"0x10", 0, 0}, {"1_000", 0, 0}, {"1.0", 0, 0}, {"", 0, 0},
      {" 1", 0, 0}, {"1 ", 0, 0}, {"-", 0, 0}, {"ten", 0, 0}, {"5s", 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    int64_t v = 12345;
    int rc = tg_conf_parse_int(t[i].s, &v);
    if (rc != (t[i].ok ? 0 : -1))
      fail_msg("int \"%s\": rc %d", t[i].s, rc);
    assert_true(t[i].ok ? v == t[i].v : v == 12345);
  }
}

static void test_double(void **state) {
  (void)state;
  static const struct { const char *s; int ok; double v; } t[] = {
      {"0.5", 1, 0.5}, {"1", 1, 1}, {"-2.5e3", 1, -2500}, {".25", 1, 0.25}, {"3.", 1, 3},
      {"1e400", 0, 0}, {"inf", 0, 0}, {"nan", 0, 0}, {"0x1p3", 0, 0}, {"", 0, 0},
      {" 1", 0, 0}, {"1e", 0, 0}, {".", 0, 0}, {"1,5", 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    double v = 42;
    int rc = tg_conf_parse_double(t[i].s, &v);
    if (rc != (t[i].ok ? 0 : -1))
      fail_msg("double \"%s\": rc %d", t[i].s, rc);
    if (t[i].ok)
      assert_true(v == t[i].v);
  }
}

static void test_duration(void **state) {
  (void)state;
  static const struct { const char *s; int ok; uint64_t ms; } t[] = {
      {"250ms", 1, 250}, {"5s", 1, 5000}, {"1m30s", 1, 90000}, {"2h", 1, 7200000},
      {"1.5s", 1, 1500}, {"0.5h", 1, 1800000}, {"1h1m1s1ms", 1, 3661001}, {"0", 1, 0},
      {"0s", 1, 0}, {"1000us", 1, 1}, {"1000000ns", 1, 1}, {"2000\xc2\xb5s", 1, 2},
      {"+5s", 1, 5000}, {"1s500ms", 1, 1500},
      {"100us", 0, 0},   /* below the millisecond resolution */
      {"1.0005s", 0, 0}, /* likewise */
      {"-5s", 0, 0}, {"5 s", 0, 0}, {"5", 0, 0}, {"5000", 0, 0}, {"s", 0, 0}, {"", 0, 0},
      {"5x", 0, 0}, {"5S", 0, 0}, {"1d", 0, 0}, {"1e3s", 0, 0}, {".s", 0, 0},
      {"99999999999999999999s", 0, 0}, {"9999999999h", 0, 0}, {" 5s", 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    uint64_t v = 77;
    int rc = tg_conf_parse_duration_ms(t[i].s, &v);
    if (rc != (t[i].ok ? 0 : -1))
      fail_msg("duration \"%s\": rc %d", t[i].s, rc);
    if (t[i].ok && v != t[i].ms)
      fail_msg("duration \"%s\": %llu ms", t[i].s, (unsigned long long)v);
  }
}

static void test_size(void **state) {
  (void)state;
  static const struct { const char *s; int ok; uint64_t v; } t[] = {
      {"512", 1, 512}, {"4KiB", 1, 4096}, {"16MiB", 1, 16u << 20}, {"1GiB", 1, 1u << 30},
      {"1MB", 1, 1000000}, {"2kB", 1, 2000}, {"3KB", 1, 3000}, {"7B", 1, 7}, {"0", 1, 0},
      {"1TiB", 1, 1ull << 40},
      {"4 KiB", 0, 0}, {"4kib", 0, 0}, {"1.5MiB", 0, 0}, {"-1", 0, 0}, {"", 0, 0},
      {"MiB", 0, 0}, {"99999999999999999999", 0, 0}, {"20000000TiB", 0, 0}, {"1e3", 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    uint64_t v = 5;
    int rc = tg_conf_parse_size(t[i].s, &v);
    if (rc != (t[i].ok ? 0 : -1))
      fail_msg("size \"%s\": rc %d", t[i].s, rc);
    if (t[i].ok)
      assert_true(v == t[i].v);
  }
}

static void test_bool(void **state) {
  (void)state;
  static const struct { const char *s; int ok; bool v; } t[] = {
      {"true", 1, 1}, {"True", 1, 1}, {"TRUE", 1, 1}, {"false", 1, 0}, {"False", 1, 0},
      {"FALSE", 1, 0}, {"yes", 0, 0}, {"on", 0, 0}, {"1", 0, 0}, {"tRUE", 0, 0}, {"", 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    _Bool v = 0;
    int rc = tg_conf_parse_bool(t[i].s, &v);
    if (rc != (t[i].ok ? 0 : -1))
      fail_msg("bool \"%s\": rc %d", t[i].s, rc);
    if (t[i].ok)
      assert_int_equal(v, t[i].v);
  }
}

/* tg_conf_apply through a fake component's table. */
typedef struct applied {
  tg_yaml_doc *doc;
  tg_diag diag;
} applied;

static const tg_component *fake(tg_component_kind kind, const char *type) {
  for (size_t i = 0; fake_registry[i]; i++)
    if (fake_registry[i]->kind == kind && !strcmp(fake_registry[i]->type, type))
      return fake_registry[i];
  return NULL;
}

static void apply(applied *a, const tg_component *c, const char *text, void *conf) {
  tg_diag_init(&a->diag);
  a->doc = tg_yaml_parse("k.yaml", text, strlen(text), &a->diag);
  assert_non_null(a->doc);
  tg_conf_apply(c->keys, c->n_keys, tg_yaml_root(a->doc), conf, "exporters::debug", &a->diag);
}

static void done(applied *a, const tg_component *c, void *conf) {
  tg_conf_release(c->keys, c->n_keys, conf);
  tg_yaml_free(a->doc);
  tg_diag_free(&a->diag);
}

static void test_apply_defaults_and_values(void **state) {
  (void)state;
  const tg_component *c = fake(TG_EXPORTER, "debug");
  fake_debug_conf conf = {0};
  applied a;
  apply(&a, c, "", &conf);
  assert_int_equal(a.diag.n, 0);
  assert_int_equal(conf.verbosity, 0);
  assert_true(conf.enabled);
  assert_true(conf.ratio == 0.5);
  assert_true(conf.queue_size == 16u << 20);
  assert_null(conf.endpoint);
  done(&a, c, &conf);

  memset(&conf, 0, sizeof conf);
  apply(&a, c,
        "verbosity: detailed\nheaders: {a: \"1\", b: x}\ntags: [t1, t2]\nenabled: false\n"
        "ratio: 0.25\nsending_queue:\n  size: 4KiB\nendpoint: h:1\n",
        &conf);
  assert_string_equal(fake_diag_text(&a.diag), "");
  assert_int_equal(conf.verbosity, 2);
  assert_int_equal(conf.headers.n, 2);
  assert_string_equal(conf.headers.keys[1], "b");
  assert_string_equal(conf.headers.values[0], "1");
  assert_int_equal(conf.tags.n, 2);
  assert_string_equal(conf.tags.items[1], "t2");
  assert_false(conf.enabled);
  assert_true(conf.queue_size == 4096);
  assert_string_equal(conf.endpoint, "h:1");
  done(&a, c, &conf);

  /* `key:` with nothing keeps the default. */
  memset(&conf, 0, sizeof conf);
  apply(&a, c, "ratio:\nendpoint:\nsending_queue:\n", &conf);
  assert_int_equal(a.diag.n, 0);
  assert_true(conf.ratio == 0.5);
  assert_null(conf.endpoint);
  done(&a, c, &conf);
}

static void test_apply_present(void **state) {
  (void)state;
  const tg_component *c = fake(TG_RECEIVER, "otlp");
  fake_otlp_conf conf = {0};
  applied a;
  apply(&a, c, "protocols:\n  http:\n", &conf);
  assert_int_equal(a.diag.n, 0);
  assert_true(conf.http);
  assert_false(conf.grpc);
  assert_string_equal(conf.http_endpoint, "0.0.0.0:4318");
  done(&a, c, &conf);
  memset(&conf, 0, sizeof conf);
  apply(&a, c, "protocols:\n  grpc:\n    endpoint: \"[::]:1\"\n", &conf);
  assert_int_equal(a.diag.n, 0);
  assert_true(conf.grpc);
  assert_false(conf.http);
  assert_string_equal(conf.grpc_endpoint, "[::]:1");
  done(&a, c, &conf);
}

static void test_apply_every_error_reported(void **state) {
  (void)state;
  const tg_component *c = fake(TG_EXPORTER, "debug");
  fake_debug_conf conf = {0};
  applied a;
  apply(&a, c,
        "verbosity: loud\n"
        "headers: [a]\n"
        "tags: {a: 1}\n"
        "enabled: yes\n"
        "ratio: 1.5\n"
        "sending_queue:\n"
        "  size: 10\n"
        "  sise: 1\n"
        "endpoint: {a: 1}\n"
        "colour: red\n"
        "a.b: 1\n",
        &conf);
  assert_string_equal(
      fake_diag_text(&a.diag),
      "k.yaml:1:12: exporters::debug: verbosity: \"loud\" is not one of: basic, normal, detailed\n"
      "k.yaml:2:10: exporters::debug: headers: expected a mapping of strings, got sequence\n"
      "k.yaml:3:7: exporters::debug: tags: expected a sequence of strings, got mapping\n"
      "k.yaml:4:10: exporters::debug: enabled: \"yes\" is not a boolean (write true or false)\n"
      "k.yaml:5:8: exporters::debug: ratio: \"1.5\" is out of range [0, 1]\n"
      "k.yaml:7:9: exporters::debug: sending_queue.size: \"10\" is out of range [1KiB, 1GiB]\n"
      "k.yaml:8:3: exporters::debug: unknown key \"sending_queue.sise\" (valid keys under "
      "sending_queue: size)\n"
      "k.yaml:9:11: exporters::debug: endpoint: expected a string, got mapping\n"
      "k.yaml:10:1: exporters::debug: unknown key \"colour\" (valid keys: verbosity, headers, "
      "tags, enabled, ratio, sending_queue, endpoint)\n"
      "k.yaml:11:1: exporters::debug: unknown key \"a.b\" (valid keys: verbosity, headers, "
      "tags, enabled, ratio, sending_queue, endpoint)\n");
  /* Failed values leave the defaults. */
  assert_int_equal(conf.verbosity, 0);
  assert_true(conf.ratio == 0.5);
  done(&a, c, &conf);
}

static void test_apply_wrong_shapes(void **state) {
  (void)state;
  const tg_component *c = fake(TG_RECEIVER, "otlp");
  fake_otlp_conf conf = {0};
  applied a;
  apply(&a, c, "protocols: grpc\n", &conf);
  assert_string_equal(fake_diag_text(&a.diag),
                      "k.yaml:1:12: exporters::debug: protocols: expected a mapping, got scalar\n");
  done(&a, c, &conf);
  memset(&conf, 0, sizeof conf);
  apply(&a, c, "protocols:\n  http: 1\n  grpc: {port: 1}\n", &conf);
  assert_string_equal(
      fake_diag_text(&a.diag),
      "k.yaml:2:9: exporters::debug: protocols.http: expected a mapping or nothing, got scalar\n"
      "k.yaml:3:10: exporters::debug: unknown key \"protocols.grpc.port\" (valid keys under "
      "protocols.grpc: endpoint)\n");
  done(&a, c, &conf);
  memset(&conf, 0, sizeof conf);
  apply(&a, c, "[1]\n", &conf);
  assert_string_equal(fake_diag_text(&a.diag),
                      "k.yaml:1:1: exporters::debug: expected a mapping of settings, got sequence\n");
  done(&a, c, &conf);
  const tg_component *j = fake(TG_EXPORTER, "prom"); /* a component without settings */
  apply(&a, j, "x: 1\n", NULL);
  assert_string_equal(fake_diag_text(&a.diag),
                      "k.yaml:1:1: exporters::debug: unknown key \"x\" (this component takes "
                      "no settings)\n");
  done(&a, j, NULL);
}

static void test_apply_int_and_duration_bounds(void **state) {
  (void)state;
  const tg_component *c = fake(TG_PROCESSOR, "batch");
  fake_batch_conf conf = {0};
  applied a;
  apply(&a, c, "send_batch_size: 0\ntimeout: 2m\n", &conf);
  assert_string_equal(fake_diag_text(&a.diag),
                      "k.yaml:1:18: exporters::debug: send_batch_size: \"0\" is out of range "
                      "[1, 1000000]\n"
                      "k.yaml:2:10: exporters::debug: timeout: \"2m\" is out of range [1ms, 1m]\n");
  done(&a, c, &conf);
  memset(&conf, 0, sizeof conf);
  apply(&a, c, "send_batch_size: 1e3\ntimeout: -5s\n", &conf);
  assert_string_equal(fake_diag_text(&a.diag),
                      "k.yaml:1:18: exporters::debug: send_batch_size: \"1e3\" is not an integer\n"
                      "k.yaml:2:10: exporters::debug: timeout: \"-5s\" is negative (durations "
                      "must be >= 0)\n");
  assert_int_equal(conf.send_batch_size, 8192);
  assert_int_equal(conf.timeout_ms, 200);
  done(&a, c, &conf);
  memset(&conf, 0, sizeof conf);
  apply(&a, c, "send_batch_size: \"100\"\ntimeout: 1m\n", &conf); /* quoted numbers are fine */
  assert_int_equal(a.diag.n, 0);
  assert_int_equal(conf.send_batch_size, 100);
  assert_int_equal(conf.timeout_ms, 60000);
  done(&a, c, &conf);
}

static void test_apply_strlist_items(void **state) {
  (void)state;
  const tg_component *c = fake(TG_EXPORTER, "debug");
  fake_debug_conf conf = {0};
  applied a;
  apply(&a, c, "tags: [a, [b], c, ~]\nheaders: {x: [1], y: z}\n", &conf);
  assert_string_equal(fake_diag_text(&a.diag),
                      "k.yaml:1:11: exporters::debug: tags: item 2: expected a string, got sequence\n"
                      "k.yaml:1:19: exporters::debug: tags: item 4: expected a string, got null\n"
                      "k.yaml:2:14: exporters::debug: headers: \"x\": expected a string, got sequence\n");
  assert_int_equal(conf.tags.n, 2);
  assert_int_equal(conf.headers.n, 1);
  done(&a, c, &conf);
}

static void bad_parse(const tg_yaml_node *node, void *field, tg_diag *diag) {
  (void)node, (void)field, (void)diag;
}

typedef struct bad_defaults {
  int64_t n;
  char *s;
  tg_conf_strlist l;
} bad_defaults;

static void test_bad_default_reported(void **state) {
  (void)state;
  static const tg_conf_key keys[] = {
      TG_KEY_INT("n", bad_defaults, n, "ten", 0, 0, "x"),
      TG_KEY_CUSTOM("s", bad_defaults, s, bad_parse, NULL, "x"),
  };
  bad_defaults conf = {0};
  tg_diag d;
  tg_diag_init(&d);
  tg_conf_apply(keys, 2, NULL, &conf, "w", &d);
  assert_string_equal(fake_diag_text(&d),
                      "w: n: \"ten\" is not an integer\n"
                      "w: internal error: the default of n is invalid\n");
  tg_conf_release(keys, 2, &conf);
  tg_diag_free(&d);
}

static void test_apply_alloc_failures(void **state) {
  (void)state;
  const tg_component *c = fake(TG_EXPORTER, "debug");
  const char *text = "verbosity: normal\nheaders: {a: b, c: d}\ntags: [x, y]\nendpoint: e\n"
                     "bogus: 1\n";
  for (long n = 0; n < 120; n++) {
    fake_debug_conf conf = {0};
    tg_diag d;
    tg_diag_init(&d);
    tg_yaml_doc *doc = tg_yaml_parse("k.yaml", text, strlen(text), &d);
    tg_alloc_fail_after(n, 0);
    tg_conf_apply(c->keys, c->n_keys, tg_yaml_root(doc), &conf, "w", &d);
    tg_alloc_fail_after(-1, 0);
    assert_true(tg_diag_failed(&d));
    tg_conf_release(c->keys, c->n_keys, &conf);
    tg_yaml_free(doc);
    tg_diag_free(&d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int),
      cmocka_unit_test(test_double),
      cmocka_unit_test(test_duration),
      cmocka_unit_test(test_size),
      cmocka_unit_test(test_bool),
      cmocka_unit_test(test_apply_defaults_and_values),
      cmocka_unit_test(test_apply_present),
      cmocka_unit_test(test_apply_every_error_reported),
      cmocka_unit_test(test_apply_wrong_shapes),
      cmocka_unit_test(test_apply_int_and_duration_bounds),
      cmocka_unit_test(test_apply_strlist_items),
      cmocka_unit_test(test_bad_default_reported),
      cmocka_unit_test(test_apply_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
