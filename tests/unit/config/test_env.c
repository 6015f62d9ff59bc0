/* ${env:...} substitution: defaults, unset errors, $$ escape, bare ${VAR}, positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_components.h"
#include "tg_alloc.h"
#include "tg_env.h"
#include "tg_yaml.h"

static int setup(void **state) {
  (void)state;
  setenv("TG_T_HOST", "example.com", 1);
  setenv("TG_T_EMPTY", "", 1);
  unsetenv("TG_T_UNSET");
  return 0;
}

static const struct {
  const char *in, *out; /* out NULL: error */
} cases[] = {
    {"plain", "plain"},
    {"${env:TG_T_HOST}", "example.com"},
    {"http://${env:TG_T_HOST}:80/x", "http://example.com:80/x"},
    {"${TG_T_HOST}", "example.com"},
    {"${env:TG_T_UNSET:-dflt}", "dflt"},
    {"${TG_T_UNSET:-}", ""},
    {"${env:TG_T_HOST:-dflt}", "example.com"},
    {"${env:TG_T_EMPTY:-dflt}", ""}, /* set but empty: the value, as the Collector */
    {"${env:TG_T_UNSET:-0.0.0.0:4317}", "0.0.0.0:4317"},
    {"$$", "$"},
    {"$${env:TG_T_HOST}", "${env:TG_T_HOST}"},
    {"a$$$$b", "a$$b"},
    {"cost $5", "cost $5"},
    {"$", "$"},
    {"x$", "x$"},
    {"$TG_T_HOST", "$TG_T_HOST"},
    {"${env:TG_T_UNSET}", NULL},
    {"${TG_T_UNSET}", NULL},
    {"${env:1BAD}", NULL},
    {"${env:}", NULL},
    {"${}", NULL},
    {"${file:/etc/passwd}", NULL},
    {"${env:TG_T_HOST", NULL},
    {"${env:TG_T_UNSET:-${env:TG_T_HOST}}", NULL},
};

static void test_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tg_diag d;
    tg_diag_init(&d);
    tg_yaml_pos pos = {"f.yaml", 3, 7};
    char *out = (char *)"untouched";
    int rc = tg_env_expand(cases[i].in, strlen(cases[i].in), &pos, &d, &out);
    if (cases[i].out) {
      if (rc != 0)
        fail_msg("case %zu \"%s\": %s", i, cases[i].in, fake_diag_text(&d));
      assert_string_equal(out, cases[i].out);
      assert_int_equal(d.n, 0);
      tg_free(out);
    } else {
      if (rc != -1)
        fail_msg("case %zu \"%s\" should fail", i, cases[i].in);
      assert_null(out);
      assert_int_equal(d.n, 1);
      assert_memory_equal(d.lines[0], "f.yaml:3:7: ", 12);
    }
    tg_diag_free(&d);
  }
}

static void test_messages(void **state) {
  (void)state;
  tg_diag d;
  tg_diag_init(&d);
  tg_yaml_pos pos = {"f.yaml", 1, 2};
  char *out;
  const char *in = "${env:TG_T_UNSET}/${file:x}/${env:a-b}";
  assert_int_equal(tg_env_expand(in, strlen(in), &pos, &d, &out), -1);
  assert_string_equal(fake_diag_text(&d),
                      "f.yaml:1:2: environment variable \"TG_T_UNSET\" is not set (write "
                      "${env:TG_T_UNSET:-default} to give a default)\n"
                      "f.yaml:1:2: unsupported reference \"${file:x}\": only ${env:NAME} is "
                      "supported\n"
                      "f.yaml:1:2: invalid environment variable name \"a-b\"\n");
  tg_diag_free(&d);
}

static void test_in_yaml_keeps_position(void **state) {
  (void)state;
  const char *text = "a:\n  b: ${env:TG_T_HOST}:4317\n  c: \"${env:TG_T_UNSET}\"\n"
                     "  d: '$$x'\n  e: ${env:TG_T_EMPTY}\n";
  tg_diag d;
  tg_diag_init(&d);
  tg_yaml_doc *doc = tg_yaml_parse("c.yaml", text, strlen(text), &d);
  assert_non_null(doc);
  assert_string_equal(fake_diag_text(&d),
                      "c.yaml:3:6: environment variable \"TG_T_UNSET\" is not set (write "
                      "${env:TG_T_UNSET:-default} to give a default)\n");
  const tg_yaml_node *a = tg_yaml_get(tg_yaml_root(doc), "a");
  const tg_yaml_node *b = tg_yaml_get(a, "b");
  assert_string_equal(b->scalar, "example.com:4317");
  assert_int_equal(b->pos.line, 2);
  assert_int_equal(b->pos.col, 6);
  assert_string_equal(tg_yaml_get(a, "c")->scalar, "${env:TG_T_UNSET}"); /* raw kept */
  assert_string_equal(tg_yaml_get(a, "d")->scalar, "$x");
  assert_int_equal(tg_yaml_get(a, "e")->kind, TG_YAML_SCALAR); /* "" is not null */
  assert_string_equal(tg_yaml_get(a, "e")->scalar, "");
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_in_yaml_keeps_position),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
