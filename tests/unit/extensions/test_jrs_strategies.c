/* jaegerremotesampling: the strategies-file parser (Jaeger's resolution rules, every
 * problem with its file:line:col), the positioned JSON reader, and the two encodings of
 * an answer (the JSON the clients parse, exact bytes; the api_v2 protobuf, decoded back
 * with the generated reader). Expected answers are written out by hand from the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "extensions/jaegerremotesampling/jrs_json.h"
#include "extensions/jaegerremotesampling/jrs_strategies.h"
#include "sampling.pb-c.h"
#include "tg_diag.h"

static const char example[] =
    "{\n"
    "  \"service_strategies\": [\n"
    "    {\"service\": \"foo\", \"type\": \"probabilistic\", \"param\": 0.8,\n"
    "     \"operation_strategies\": [\n"
    "       {\"operation\": \"op1\", \"type\": \"probabilistic\", \"param\": 0.2},\n"
    "       {\"operation\": \"/health\", \"type\": \"probabilistic\", \"param\": 0.5}]},\n"
    "    {\"service\": \"bar\", \"type\": \"ratelimiting\", \"param\": 5},\n"
    "    {\"service\": \"baz\", \"type\": \"probabilistic\", \"param\": 0.25}\n"
    "  ],\n"
    "  \"default_strategy\": {\"type\": \"probabilistic\", \"param\": 0.5,\n"
    "    \"operation_strategies\": [\n"
    "      {\"operation\": \"/health\", \"type\": \"probabilistic\", \"param\": 0},\n"
    "      {\"operation\": \"/metrics\", \"type\": \"probabilistic\", \"param\": 0.0}]}\n"
    "}\n";

static tg_jrs_strategies *parse_ok(const char *text) {
  tg_diag diag;
  tg_diag_init(&diag);
  tg_jrs_strategies *s = tg_jrs_strategies_parse(text, strlen(text), "s.json", &diag);
  if (!s) {
    tg_diag_print(&diag, stdout);
    fail_msg("parse failed");
  }
  assert_int_equal(diag.n, 0);
  tg_diag_free(&diag);
  return s;
}

/* Parses text that must fail; returns the diag lines joined by '\n'. */
static char *parse_fail(const char *text) {
  tg_diag diag;
  tg_diag_init(&diag);
  tg_jrs_strategies *s = tg_jrs_strategies_parse(text, strlen(text), "s.json", &diag);
  assert_null(s);
  assert_true(diag.n > 0);
  size_t total = 1;
  for (size_t i = 0; i < diag.n; i++)
    total += strlen(diag.lines[i]) + 1;
  char *out = calloc(1, total);
  for (size_t i = 0; i < diag.n; i++) {
    strcat(out, diag.lines[i]);
    if (i + 1 < diag.n)
      strcat(out, "\n");
  }
  tg_diag_free(&diag);
  return out;
}

static const tg_jrs_response *find(const tg_jrs_strategies *s, const char *name) {
  return tg_jrs_strategies_find(s, name, strlen(name));
}

static void test_resolution_and_json(void **state) {
  (void)state;
  tg_jrs_strategies *s = parse_ok(example);
  assert_int_equal(s->n_services, 3);
  /* own operations first, then the default's not named (Jaeger's merge) */
  assert_string_equal(
      find(s, "foo")->json,
      "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{\"samplingRate\":0.8},"
      "\"operationSampling\":{\"defaultSamplingProbability\":0.8,"
      "\"defaultLowerBoundTracesPerSecond\":0,\"perOperationStrategies\":["
      "{\"operation\":\"op1\",\"probabilisticSampling\":{\"samplingRate\":0.2}},"
      "{\"operation\":\"/health\",\"probabilisticSampling\":{\"samplingRate\":0.5}},"
      "{\"operation\":\"/metrics\",\"probabilisticSampling\":{\"samplingRate\":0}}]}}");
  /* a rate-limited service does not inherit the default's operations */
  assert_string_equal(find(s, "bar")->json,
                      "{\"strategyType\":\"RATE_LIMITING\",\"rateLimitingSampling\":"
                      "{\"maxTracesPerSecond\":5}}");
  /* a probabilistic service without operations inherits the default's, at its own rate */
  assert_string_equal(
      find(s, "baz")->json,
      "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{\"samplingRate\":0.25},"
      "\"operationSampling\":{\"defaultSamplingProbability\":0.25,"
      "\"defaultLowerBoundTracesPerSecond\":0,\"perOperationStrategies\":["
      "{\"operation\":\"/health\",\"probabilisticSampling\":{\"samplingRate\":0}},"
      "{\"operation\":\"/metrics\",\"probabilisticSampling\":{\"samplingRate\":0}}]}}");
  /* unknown services (and names that are only prefixes or extensions) get the default */
  const tg_jrs_response *def = &s->def;
  assert_ptr_equal(find(s, "nope"), def);
  assert_ptr_equal(find(s, "fo"), def);
  assert_ptr_equal(find(s, "fooo"), def);
  assert_ptr_equal(tg_jrs_strategies_find(s, "foobar", 3), find(s, "foo")); /* by length */
  assert_string_equal(
      def->json,
      "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{\"samplingRate\":0.5},"
      "\"operationSampling\":{\"defaultSamplingProbability\":0.5,"
      "\"defaultLowerBoundTracesPerSecond\":0,\"perOperationStrategies\":["
      "{\"operation\":\"/health\",\"probabilisticSampling\":{\"samplingRate\":0}},"
      "{\"operation\":\"/metrics\",\"probabilisticSampling\":{\"samplingRate\":0}}]}}");
  assert_int_equal(strlen(def->json), def->json_len);
  assert_string_equal(s->lowers, "default_strategy samples 0.5");
  tg_jrs_strategies_free(s);
}

static void test_protobuf_answers(void **state) {
  (void)state;
  tg_jrs_strategies *s = parse_ok(example);
  const tg_jrs_response *foo = find(s, "foo");
  Jaeger__ApiV2__SamplingStrategyResponse *m =
      jaeger__api_v2__sampling_strategy_response__unpack(NULL, foo->pb_len, foo->pb);
  assert_non_null(m);
  assert_int_equal(m->strategytype, JAEGER__API_V2__SAMPLING_STRATEGY_TYPE__PROBABILISTIC);
  assert_non_null(m->probabilisticsampling);
  assert_true(m->probabilisticsampling->samplingrate == 0.8);
  assert_null(m->ratelimitingsampling);
  assert_non_null(m->operationsampling);
  assert_true(m->operationsampling->defaultsamplingprobability == 0.8);
  assert_true(m->operationsampling->defaultlowerboundtracespersecond == 0);
  assert_int_equal(m->operationsampling->n_peroperationstrategies, 3);
  static const char *const names[] = {"op1", "/health", "/metrics"};
  static const double rates[] = {0.2, 0.5, 0};
  for (size_t i = 0; i < 3; i++) {
    assert_string_equal(m->operationsampling->peroperationstrategies[i]->operation, names[i]);
    assert_true(m->operationsampling->peroperationstrategies[i]->probabilisticsampling->samplingrate ==
                rates[i]);
  }
  jaeger__api_v2__sampling_strategy_response__free_unpacked(m, NULL);
  const tg_jrs_response *bar = find(s, "bar");
  m = jaeger__api_v2__sampling_strategy_response__unpack(NULL, bar->pb_len, bar->pb);
  assert_non_null(m);
  assert_int_equal(m->strategytype, JAEGER__API_V2__SAMPLING_STRATEGY_TYPE__RATE_LIMITING);
  assert_non_null(m->ratelimitingsampling);
  assert_int_equal(m->ratelimitingsampling->maxtracespersecond, 5);
  assert_null(m->probabilisticsampling);
  assert_null(m->operationsampling);
  jaeger__api_v2__sampling_strategy_response__free_unpacked(m, NULL);
  /* the exact bytes of a rate-limited answer: field 1 = 1, field 3 = {field 1 = 5} */
  static const uint8_t want[] = {0x08, 0x01, 0x1a, 0x02, 0x08, 0x05};
  assert_int_equal(bar->pb_len, sizeof want);
  assert_memory_equal(bar->pb, want, sizeof want);
  tg_jrs_strategies_free(s);
}

static void test_builtin_default(void **state) {
  (void)state;
  tg_jrs_strategies *s = tg_jrs_strategies_default();
  assert_non_null(s);
  assert_string_equal(find(s, "anyone")->json,
                      "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":"
                      "{\"samplingRate\":1}}");
  /* field 1 (PROBABILISTIC = 0) omitted; field 2 = {field 1 = double 1.0} */
  static const uint8_t want[] = {0x12, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
  assert_int_equal(s->def.pb_len, sizeof want);
  assert_memory_equal(s->def.pb, want, sizeof want);
  assert_string_equal(s->lowers, "");
  tg_jrs_strategies_free(s);
  /* a file without default_strategy keeps probabilistic 1.0 for unknown services */
  s = parse_ok("{\"service_strategies\": [{\"service\": \"a\", \"type\": \"probabilistic\", "
               "\"param\": 1}]}");
  assert_string_equal(find(s, "b")->json,
                      "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":"
                      "{\"samplingRate\":1}}");
  assert_string_equal(s->lowers, "");
  tg_jrs_strategies_free(s);
  s = parse_ok("{}");
  assert_int_equal(s->n_services, 0);
  tg_jrs_strategies_free(s);
}

static void test_encoding_details(void **state) {
  (void)state;
  /* escapes decoded on the way in, re-escaped on the way out; shortest round-trip numbers */
  tg_jrs_strategies *s = parse_ok(
      "{\"service_strategies\": [{\"service\": \"caf\\u00e9 \\ud83d\\ude00\", \"type\": "
      "\"probabilistic\", \"param\": 1e-1, \"operation_strategies\": [{\"operation\": "
      "\"say \\\"hi\\\"\\n\\\\\", \"type\": \"probabilistic\", \"param\": 0.3333333333333333}]}]}");
  const tg_jrs_response *r = find(s, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  assert_ptr_not_equal(r, &s->def);
  assert_string_equal(
      r->json,
      "{\"strategyType\":\"PROBABILISTIC\",\"probabilisticSampling\":{\"samplingRate\":0.1},"
      "\"operationSampling\":{\"defaultSamplingProbability\":0.1,"
      "\"defaultLowerBoundTracesPerSecond\":0,\"perOperationStrategies\":["
      "{\"operation\":\"say \\\"hi\\\"\\u000a\\\\\",\"probabilisticSampling\":"
      "{\"samplingRate\":0.3333333333333333}}]}}");
  assert_string_equal(s->lowers, "service \"caf\xc3\xa9 \xf0\x9f\x98\x80\" samples 0.1");
  tg_jrs_strategies_free(s);
  s = parse_ok("{\"default_strategy\": {\"type\": \"ratelimiting\", \"param\": 32767}}");
  assert_string_equal(s->def.json, "{\"strategyType\":\"RATE_LIMITING\",\"rateLimitingSampling\":"
                                   "{\"maxTracesPerSecond\":32767}}");
  assert_string_equal(s->lowers, "default_strategy is rate limited to 32767 traces/s");
  tg_jrs_strategies_free(s);
}

static void test_semantic_errors_with_positions(void **state) {
  (void)state;
  char *got = parse_fail(
      "{\n"
      "  \"service_strategies\": [\n"
      "    {\"service\": \"a\", \"type\": \"probabilistic\", \"param\": 1.5},\n"
      "    {\"service\": \"a\", \"type\": \"probabilistic\", \"param\": 0.5},\n"
      "    {\"service\": \"b\", \"type\": \"ratelimiting\", \"param\": 2.5},\n"
      "    {\"service\": \"c\", \"type\": \"ratelimiting\", \"param\": 1,\n"
      "     \"operation_strategies\": []},\n"
      "    {\"service\": \"\", \"tipe\": \"probabilistic\"},\n"
      "    {\"service\": \"d\", \"type\": \"probabilistic\", \"param\": 1, \"operation_strategies\": [\n"
      "      {\"operation\": \"x\", \"type\": \"ratelimiting\", \"param\": 1},\n"
      "      {\"operation\": \"y\", \"type\": \"probabilistic\", \"param\": \"0.5\"},\n"
      "      {\"operation\": \"z\", \"type\": \"probabilistic\", \"param\": 0.5},\n"
      "      {\"operation\": \"z\", \"type\": \"probabilistic\", \"param\": 0.5}]},\n"
      "    7\n"
      "  ],\n"
      "  \"default_strategy\": {\"service\": \"x\", \"type\": \"probabilistic\", \"param\": 1},\n"
      "  \"extra\": true\n"
      "}\n");
  /* Columns counted independently (python's str.index + 1 on each line). The second "a"
   * is not reported as a duplicate: the first "a" was invalid and never registered. */
  const char *want =
      "s.json:17:3: strategies: unknown key \"extra\" (valid keys: default_strategy, service_strategies)\n"
      "s.json:16:24: default_strategy: unknown key \"service\" (valid keys: type, param, operation_strategies)\n"
      "s.json:3:56: service_strategies[0]: param: a probability must be within [0, 1]\n"
      "s.json:5:55: service_strategies[2]: param: traces per second must be a whole number within [0, 32767]\n"
      "s.json:7:30: service_strategies[3]: operation_strategies need a probabilistic strategy (Jaeger clients ignore the rate limit when operation strategies are present)\n"
      "s.json:8:21: service_strategies[4]: unknown key \"tipe\" (valid keys: service, type, param, operation_strategies)\n"
      "s.json:8:17: service_strategies[4]: service: must be 1 to 256 bytes long\n"
      "s.json:8:5: service_strategies[4]: missing \"type\" (probabilistic or ratelimiting)\n"
      "s.json:8:5: service_strategies[4]: missing \"param\"\n"
      "s.json:10:34: service_strategies[5]: operation_strategies[0]: type: operation strategies can only be probabilistic\n"
      "s.json:11:60: service_strategies[5]: operation_strategies[1]: param: expected a number, got a string\n"
      "s.json:13:21: service_strategies[5]: operation_strategies[3]: operation \"z\" is listed twice\n"
      "s.json:14:5: service_strategies[6]: expected an object, got a number";
  if (strcmp(got, want)) {
    printf("got:\n%s\n", got);
    fail_msg("diagnostics differ");
  }
  free(got);
  got = parse_fail("{\"service_strategies\": [{\"service\": \"a\", \"type\": \"probabilistic\", \"param\": 1}, {\"service\": \"a\", \"type\": \"probabilistic\", \"param\": 1}]}");
  assert_string_equal(got, "s.json:1:92: service_strategies[1]: service \"a\" is listed twice");
  free(got);
}

static void expect_json_error(const char *text, const char *want) {
  char *got = parse_fail(text);
  if (strcmp(got, want)) {
    printf("input %s\ngot:  %s\nwant: %s\n", text, got, want);
    fail_msg("diagnostic differs");
  }
  free(got);
}

static void test_json_syntax_errors(void **state) {
  (void)state;
  expect_json_error("", "s.json:1:1: invalid JSON: unexpected end of input");
  expect_json_error("{\"a\": 1,}", "s.json:1:9: invalid JSON: expected a string key in object");
  expect_json_error("[1 2]", "s.json:1:4: invalid JSON: expected ',' or ']' in array");
  expect_json_error("{\n  \"x\": \"abc", "s.json:2:8: invalid JSON: unterminated string");
  expect_json_error("{\"x\": \"a\\qb\"}", "s.json:1:9: invalid JSON: unknown escape \\q");
  expect_json_error("{\"x\": \"\\ud800\"}",
                    "s.json:1:8: invalid JSON: unpaired UTF-16 surrogate in \\u escape");
  expect_json_error("{\"x\": \"\\u0000\"}", "s.json:1:8: invalid JSON: NUL in string");
  expect_json_error("{\"x\": \"a\tb\"}",
                    "s.json:1:9: invalid JSON: control character in string (escape it)");
  expect_json_error("{\"x\": \"\xff\"}", "s.json:1:8: invalid JSON: invalid UTF-8 in string");
  expect_json_error("{\"x\": \"\xc0\xaf\"}", "s.json:1:8: invalid JSON: invalid UTF-8 in string");
  expect_json_error("{\"a\": 1, \"a\": 2}", "s.json:1:10: invalid JSON: duplicate key \"a\"");
  expect_json_error("{\"a\": 01}", "s.json:1:8: invalid JSON: expected ',' or '}' in object");
  expect_json_error("{\"a\": 1.}", "s.json:1:7: invalid JSON: invalid number: digits must follow '.'");
  expect_json_error("{\"a\": -}", "s.json:1:7: invalid JSON: invalid number");
  expect_json_error("{\"a\": 1e}", "s.json:1:7: invalid JSON: invalid number: digits must follow the exponent");
  expect_json_error("{\"a\": 1e999}", "s.json:1:7: invalid JSON: number out of range");
  expect_json_error("{\"a\": NaN}", "s.json:1:7: invalid JSON: unexpected character 'N'");
  expect_json_error("{\"a\": tru}", "s.json:1:7: invalid JSON: unexpected character 't'");
  expect_json_error("{} {}", "s.json:1:4: invalid JSON: unexpected data after the top-level value");
  expect_json_error("// c\n{}", "s.json:1:1: invalid JSON: unexpected character '/'");
  char deep[80];
  memset(deep, '[', 40);
  deep[40] = '\0';
  expect_json_error(deep, "s.json:1:33: invalid JSON: nested deeper than 32 levels");
  expect_json_error("[]", "s.json:1:1: expected an object with default_strategy and "
                          "service_strategies, got an array");
  expect_json_error("{\"service_strategies\": {}}",
                    "s.json:1:24: service_strategies: expected an array, got an object");
  /* a byte-order mark is tolerated; positions count from after it */
  tg_jrs_strategies *s = parse_ok("\xEF\xBB\xBF{}");
  tg_jrs_strategies_free(s);
}

static void test_json_reader_tree(void **state) {
  (void)state;
  const char *text = "{\"a\": [1, -2.5e1, true, false, null, \"s\"],\n \"b\": {}}";
  jrs_json_doc doc;
  char err[100];
  unsigned line, col;
  assert_int_equal(jrs_json_parse(text, strlen(text), &doc, err, sizeof err, &line, &col), 0);
  const jrs_json *a = jrs_json_get(doc.root, "a");
  assert_non_null(a);
  assert_int_equal(a->kind, JRS_JSON_ARRAY);
  assert_int_equal(a->len, 6);
  assert_true(a->items[0]->integral);
  assert_true(a->items[1]->number == -25.0);
  assert_false(a->items[1]->integral);
  assert_int_equal(a->items[2]->kind, JRS_JSON_BOOL);
  assert_int_equal(a->items[4]->kind, JRS_JSON_NULL);
  assert_string_equal(a->items[5]->str, "s");
  const jrs_json *b = jrs_json_get(doc.root, "b");
  assert_int_equal(b->line, 2);
  assert_int_equal(b->col, 7);
  assert_null(jrs_json_get(doc.root, "c"));
  jrs_json_free(&doc);
  jrs_json_free(&doc); /* safe twice */
}

static void test_load_files(void **state) {
  (void)state;
  tg_diag diag;
  tg_diag_init(&diag);
  assert_null(tg_jrs_strategies_load("/nonexistent/strategies.json", &diag));
  assert_int_equal(diag.n, 1);
  assert_string_equal(diag.lines[0], "/nonexistent/strategies.json: cannot read the strategies "
                                     "file: No such file or directory");
  tg_diag_free(&diag);
  char path[] = "/tmp/jrs-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(example, f);
  fclose(f);
  tg_diag_init(&diag);
  tg_jrs_strategies *s = tg_jrs_strategies_load(path, &diag);
  assert_non_null(s);
  tg_jrs_strategies *again = tg_jrs_strategies_load(path, &diag);
  assert_true(s->digest == again->digest && s->digest != 0);
  tg_jrs_strategies_free(s);
  tg_jrs_strategies_free(again);
  /* larger than the cap */
  f = fopen(path, "w");
  for (size_t i = 0; i < TG_JRS_MAX_FILE_BYTES / 4 + 1; i++)
    fputs("    ", f);
  fclose(f);
  assert_null(tg_jrs_strategies_load(path, &diag));
  assert_int_equal(diag.n, 1);
  assert_non_null(strstr(diag.lines[0], "strategies file larger than 4194304 bytes"));
  tg_diag_free(&diag);
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolution_and_json),
      cmocka_unit_test(test_protobuf_answers),
      cmocka_unit_test(test_builtin_default),
      cmocka_unit_test(test_encoding_details),
      cmocka_unit_test(test_semantic_errors_with_positions),
      cmocka_unit_test(test_json_syntax_errors),
      cmocka_unit_test(test_json_reader_tree),
      cmocka_unit_test(test_load_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
