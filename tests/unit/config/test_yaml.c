/* tg_yaml: positions, nulls and quoting, anchors, duplicate keys, limits, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_components.h"
#include "tg_alloc.h"
#include "tg_yaml.h"

static tg_yaml_doc *parse(const char *text, tg_diag *diag) {
  tg_diag_init(diag);
  return tg_yaml_parse("t.yaml", text, strlen(text), diag);
}

static void test_positions(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc = parse("a:\n  b: 1\n  c: [x, \"y\"]\nd:\n", &d);
  assert_non_null(doc);
  assert_int_equal(d.n, 0);
  const tg_yaml_node *root = tg_yaml_root(doc);
  assert_int_equal(root->kind, TG_YAML_MAP);
  assert_int_equal(root->n, 2);
  const tg_yaml_pair *a = tg_yaml_get_pair(root, "a");
  assert_int_equal(a->key->pos.line, 1);
  assert_int_equal(a->key->pos.col, 1);
  const tg_yaml_node *b = tg_yaml_get(a->value, "b");
  assert_string_equal(b->scalar, "1");
  assert_int_equal(b->pos.line, 2);
  assert_int_equal(b->pos.col, 6);
  const tg_yaml_node *c = tg_yaml_get(a->value, "c");
  assert_int_equal(c->kind, TG_YAML_SEQ);
  assert_int_equal(c->n, 2);
  assert_int_equal(c->items[1]->pos.line, 3);
  assert_int_equal(c->items[1]->pos.col, 10);
  assert_true(c->items[1]->quoted);
  assert_false(c->items[0]->quoted);
  assert_string_equal(c->items[1]->pos.file, "t.yaml");
  assert_int_equal(tg_yaml_get(root, "d")->kind, TG_YAML_NULL);
  assert_null(tg_yaml_get(root, "zz"));
  assert_null(tg_yaml_get(b, "x"));
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_nulls_and_quotes(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc =
      parse("a: ~\nb: null\nc: \"null\"\nd: ''\ne: NULL\nf: !!str null\ng: |\n  text\n", &d);
  assert_non_null(doc);
  const tg_yaml_node *r = tg_yaml_root(doc);
  assert_int_equal(tg_yaml_get(r, "a")->kind, TG_YAML_NULL);
  assert_int_equal(tg_yaml_get(r, "b")->kind, TG_YAML_NULL);
  assert_int_equal(tg_yaml_get(r, "c")->kind, TG_YAML_SCALAR);
  assert_string_equal(tg_yaml_get(r, "c")->scalar, "null");
  assert_int_equal(tg_yaml_get(r, "d")->kind, TG_YAML_SCALAR);
  assert_int_equal(tg_yaml_get(r, "e")->kind, TG_YAML_NULL);
  assert_int_equal(tg_yaml_get(r, "f")->kind, TG_YAML_SCALAR);
  assert_string_equal(tg_yaml_get(r, "g")->scalar, "text\n");
  assert_string_equal(tg_yaml_kind_name(TG_YAML_MAP), "mapping");
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_empty(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc = parse("", &d);
  assert_non_null(doc);
  assert_null(tg_yaml_root(doc));
  tg_yaml_free(doc);
  doc = parse("# only a comment\n", &d);
  assert_non_null(doc);
  assert_null(tg_yaml_root(doc));
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_anchors_copied(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc = parse("base: &b {x: 1, y: [2]}\nuse: *b\nagain: *b\n", &d);
  assert_non_null(doc);
  assert_int_equal(d.n, 0);
  const tg_yaml_node *r = tg_yaml_root(doc);
  const tg_yaml_node *base = tg_yaml_get(r, "base"), *use = tg_yaml_get(r, "use");
  assert_ptr_not_equal(base, use);
  assert_int_equal(use->kind, TG_YAML_MAP);
  assert_string_equal(tg_yaml_get(use, "x")->scalar, "1");
  assert_ptr_not_equal(tg_yaml_get(use, "y"), tg_yaml_get(base, "y"));
  assert_string_equal(tg_yaml_get(use, "y")->items[0]->scalar, "2");
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_unknown_alias(void **state) {
  (void)state;
  tg_diag d;
  assert_null(parse("a: *nope\n", &d));
  assert_string_equal(fake_diag_text(&d), "t.yaml:1:4: unknown anchor \"nope\"\n");
  tg_diag_free(&d);
  /* An anchor cannot be used inside its own node. */
  assert_null(parse("a: &x [*x]\n", &d));
  assert_int_equal(d.n, 1);
  tg_diag_free(&d);
}

static void test_duplicate_keys(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc = parse("a: 1\nb: 2\na: 3\nb:\n  c: 1\n  c: 2\n", &d);
  assert_non_null(doc);
  assert_string_equal(fake_diag_text(&d),
                      "t.yaml:6:3: duplicate key \"c\" (first at line 5)\n"
                      "t.yaml:3:1: duplicate key \"a\" (first at line 1)\n"
                      "t.yaml:4:1: duplicate key \"b\" (first at line 2)\n");
  const tg_yaml_node *r = tg_yaml_root(doc);
  assert_int_equal(r->n, 2);
  assert_string_equal(tg_yaml_get(r, "a")->scalar, "1");
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_syntax_error(void **state) {
  (void)state;
  tg_diag d;
  assert_null(parse("a: [1, 2\nb: 3\n", &d));
  assert_int_equal(d.n, 1);
  assert_non_null(strstr(d.lines[0], "t.yaml:"));
  assert_non_null(strstr(d.lines[0], "syntax error"));
  tg_diag_free(&d);
  assert_null(parse("a: 1\n  b: 2\n", &d));
  assert_string_equal(fake_diag_text(&d),
                      "t.yaml:2:4: syntax error: mapping values are not allowed in this context\n");
  tg_diag_free(&d);
}

static void test_multiple_documents(void **state) {
  (void)state;
  tg_diag d;
  assert_null(parse("a: 1\n---\nb: 2\n", &d));
  assert_string_equal(fake_diag_text(&d),
                      "t.yaml:2:1: more than one YAML document (a configuration is one document)\n");
  tg_diag_free(&d);
  tg_yaml_doc *doc = parse("---\na: 1\n...\n", &d);
  assert_non_null(doc);
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_depth_limit(void **state) {
  (void)state;
  char text[512];
  tg_diag d;
  memset(text, '[', 64);
  memset(text + 64, ']', 64);
  text[128] = '\0';
  tg_yaml_doc *doc = parse(text, &d);
  assert_non_null(doc);
  tg_yaml_free(doc);
  memset(text, '[', 65);
  memset(text + 65, ']', 65);
  text[130] = '\0';
  assert_null(parse(text, &d));
  assert_string_equal(fake_diag_text(&d), "t.yaml:1:65: nesting deeper than 64 levels\n");
  tg_diag_free(&d);
  /* Through an alias: 40 levels copied at depth 40. */
  char *p = text;
  p += sprintf(p, "a: &a ");
  for (int i = 0; i < 39; i++) *p++ = '[';
  for (int i = 0; i < 39; i++) *p++ = ']';
  p += sprintf(p, "\nb: ");
  for (int i = 0; i < 30; i++) *p++ = '[';
  *p++ = '*', *p++ = 'a';
  for (int i = 0; i < 30; i++) *p++ = ']';
  *p = '\0';
  assert_null(parse(text, &d));
  assert_non_null(strstr(fake_diag_text(&d), "through an alias"));
  tg_diag_free(&d);
}

static void test_billion_laughs_bounded(void **state) {
  (void)state;
  const char *text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
  tg_diag d;
  assert_null(parse(text, &d));
  assert_non_null(strstr(fake_diag_text(&d), "more than 100000 nodes"));
  tg_diag_free(&d);
}

static void test_size_limit(void **state) {
  (void)state;
  size_t len = TG_YAML_MAX_INPUT + 1;
  char *big = malloc(len);
  assert_non_null(big);
  memset(big, '#', len);
  tg_diag d;
  tg_diag_init(&d);
  assert_null(tg_yaml_parse("big.yaml", big, len, &d));
  assert_string_equal(fake_diag_text(&d), "big.yaml: file is larger than 4 MiB\n");
  tg_diag_free(&d);
  free(big);
}

static void test_tags_and_keys(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc = parse("a: !custom 1\nb: !!int 2\n", &d);
  assert_non_null(doc);
  assert_string_equal(fake_diag_text(&d), "t.yaml:1:4: unsupported tag \"!custom\"\n");
  tg_yaml_free(doc);
  tg_diag_free(&d);
  assert_null(parse("? [a]\n: 1\n", &d));
  assert_non_null(strstr(fake_diag_text(&d), "mapping keys must be scalars"));
  tg_diag_free(&d);
  /* Keys are not substituted and never null. */
  doc = parse("${env:X}: 1\n~: 2\n", &d);
  assert_non_null(doc);
  assert_int_equal(d.n, 0);
  assert_non_null(tg_yaml_get(tg_yaml_root(doc), "${env:X}"));
  assert_non_null(tg_yaml_get(tg_yaml_root(doc), "~"));
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_nul_in_scalar(void **state) {
  (void)state;
  tg_diag d;
  tg_yaml_doc *doc = parse("a: \"x\\0y\"\n", &d);
  assert_non_null(doc);
  assert_string_equal(fake_diag_text(&d), "t.yaml:1:4: NUL character in a scalar\n");
  tg_yaml_free(doc);
  tg_diag_free(&d);
}

static void test_alloc_failures(void **state) {
  (void)state;
  /* Every allocation failure is reported and leaks nothing. */
  const char *text = "a: &x {b: [1, 2, 3, 4, 5, 6], c: \"${env:HOME:-x}\"}\nd: *x\ne: 1\ne: 2\n";
  for (long n = 0; n < 200; n++) {
    tg_diag d;
    tg_diag_init(&d);
    tg_alloc_fail_after(n, 0);
    tg_yaml_doc *doc = tg_yaml_parse("t.yaml", text, strlen(text), &d);
    tg_alloc_fail_after(-1, 0);
    tg_yaml_free(doc);
    tg_diag_free(&d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_positions),        cmocka_unit_test(test_nulls_and_quotes),
      cmocka_unit_test(test_empty),            cmocka_unit_test(test_anchors_copied),
      cmocka_unit_test(test_unknown_alias),    cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_syntax_error),     cmocka_unit_test(test_multiple_documents),
      cmocka_unit_test(test_depth_limit),      cmocka_unit_test(test_billion_laughs_bounded),
      cmocka_unit_test(test_size_limit),       cmocka_unit_test(test_tags_and_keys),
      cmocka_unit_test(test_nul_in_scalar),    cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
