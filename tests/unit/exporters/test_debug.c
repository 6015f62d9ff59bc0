/* The debug exporter: basic summary line, normal per-span lines, and a detailed line
 * carrying every field and every AnyValue type, parsed back with jansson. Also the JSON
 * string escaping for hostile bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "exp_test_util.h"
#include "exporters/debug/debug_json.h"

extern const tg_component tg_exporter_debug;

static char *tmp_path(void) {
  char *p = tg_strdup("/tmp/tg_debug_test_XXXXXX");
  int fd = mkstemp(p);
  assert_true(fd >= 0);
  close(fd);
  return p;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static tg_any_value *any(tg_arena *a, int kind) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = kind;
  return v;
}

static tg_key_value *kv(tg_arena *a, const char *k, tg_any_value *v) {
  tg_key_value *p = tg_arena_alloc(a, sizeof *p);
  opentelemetry__proto__common__v1__key_value__init(p);
  p->key = (char *)k;
  p->value = v;
  return p;
}

#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/* One span with every field set, attributes of every AnyValue type. */
static tg_batch *full_batch(void) {
  tg_batch *b = exp_batch(1);
  tg_arena *a = b->arena;
  tg_resource_spans *rs = b->request.resource_spans[0];
  rs->schema_url = (char *)"https://schema/r";
  rs->resource->dropped_attributes_count = 2;
  tg_scope_spans *ss = rs->scope_spans[0];
  ss->schema_url = (char *)"https://schema/s";
  tg_scope *sc = tg_arena_alloc(a, sizeof *sc);
  opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
  sc->name = (char *)"lib";
  sc->version = (char *)"1.2";
  sc->dropped_attributes_count = 1;
  ss->scope = sc;
  tg_span *s = ss->spans[0];
  s->name = (char *)"q\"uote\\ \n\x01 caf\xc3\xa9 bad\xff";
  s->kind = 3;
  s->start_time_unix_nano = 1700000000000000001ull;
  s->end_time_unix_nano = 1700000000000000999ull;
  s->flags = 0x301;
  s->trace_state = (char *)"k=v";
  uint8_t *pid = tg_arena_calloc(a, 1, 8);
  pid[0] = 0xab;
  s->parent_span_id.data = pid;
  s->parent_span_id.len = 8;
  s->dropped_attributes_count = 3;
  s->dropped_events_count = 4;
  s->dropped_links_count = 5;

  tg_any_value *str = any(a, AV(STRING_VALUE));
  str->string_value = (char *)"s";
  tg_any_value *bo = any(a, AV(BOOL_VALUE));
  bo->bool_value = 1;
  tg_any_value *in = any(a, AV(INT_VALUE));
  in->int_value = -9007199254740993LL;
  tg_any_value *db = any(a, AV(DOUBLE_VALUE));
  db->double_value = 2.5;
  tg_any_value *by = any(a, AV(BYTES_VALUE));
  by->bytes_value.data = (uint8_t *)"\x01\x02\x03\xff";
  by->bytes_value.len = 4;
  tg_any_value *arr = any(a, AV(ARRAY_VALUE));
  arr->array_value = tg_arena_alloc(a, sizeof *arr->array_value);
  opentelemetry__proto__common__v1__array_value__init(arr->array_value);
  arr->array_value->n_values = 2;
  arr->array_value->values = tg_arena_alloc(a, 2 * sizeof(void *));
  arr->array_value->values[0] = in;
  arr->array_value->values[1] = str;
  tg_any_value *map = any(a, AV(KVLIST_VALUE));
  map->kvlist_value = tg_arena_alloc(a, sizeof *map->kvlist_value);
  opentelemetry__proto__common__v1__key_value_list__init(map->kvlist_value);
  map->kvlist_value->n_values = 1;
  map->kvlist_value->values = tg_arena_alloc(a, sizeof(void *));
  map->kvlist_value->values[0] = kv(a, "inner", arr);
  tg_any_value *empty = any(a, AV(_NOT_SET));

  s->n_attributes = 8;
  s->attributes = tg_arena_alloc(a, 8 * sizeof(void *));
  s->attributes[0] = kv(a, "str", str);
  s->attributes[1] = kv(a, "bool", bo);
  s->attributes[2] = kv(a, "int", in);
  s->attributes[3] = kv(a, "double", db);
  s->attributes[4] = kv(a, "bytes", by);
  s->attributes[5] = kv(a, "array", arr);
  s->attributes[6] = kv(a, "map", map);
  s->attributes[7] = kv(a, "empty", empty);

  tg_span_event *ev = tg_arena_alloc(a, sizeof *ev);
  opentelemetry__proto__trace__v1__span__event__init(ev);
  ev->name = (char *)"ev";
  ev->time_unix_nano = 42;
  ev->dropped_attributes_count = 6;
  ev->n_attributes = 1;
  ev->attributes = tg_arena_alloc(a, sizeof(void *));
  ev->attributes[0] = kv(a, "e", bo);
  s->n_events = 1;
  s->events = tg_arena_alloc(a, sizeof(void *));
  s->events[0] = ev;

  tg_span_link *ln = tg_arena_alloc(a, sizeof *ln);
  opentelemetry__proto__trace__v1__span__link__init(ln);
  ln->trace_id = s->trace_id;
  ln->span_id = s->span_id;
  ln->trace_state = (char *)"l=1";
  ln->flags = 0x100;
  ln->dropped_attributes_count = 7;
  s->n_links = 1;
  s->links = tg_arena_alloc(a, sizeof(void *));
  s->links[0] = ln;

  tg_span_status *st = tg_arena_alloc(a, sizeof *st);
  opentelemetry__proto__trace__v1__status__init(st);
  st->code = 2;
  st->message = (char *)"boom";
  s->status = st;
  return b;
}

static json_t *parse_line(const char *text, size_t line) {
  const char *p = text;
  for (size_t i = 0; i < line; i++) {
    p = strchr(p, '\n');
    assert_non_null(p);
    p++;
  }
  const char *e = strchr(p, '\n');
  assert_non_null(e);
  json_error_t jerr;
  json_t *j = json_loadb(p, (size_t)(e - p), 0, &jerr);
  if (!j)
    fprintf(stderr, "bad JSON (%s): %.*s\n", jerr.text, (int)(e - p), p);
  assert_non_null(j);
  return j;
}

#define JSTR(obj, path) json_string_value(json_object_get(obj, path))
#define JINT(obj, path) json_integer_value(json_object_get(obj, path))

static void test_detailed_every_field(void **state) {
  (void)state;
  char *path = tmp_path();
  char yaml[256];
  snprintf(yaml, sizeof yaml, "verbosity: detailed\noutput: %s\n", path);
  exp_fixture fx;
  tg_errbuf err;
  assert_int_equal(exp_setup(&fx, &tg_exporter_debug, "debug/d", yaml, &err), TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, full_batch()), TG_OK);
  exp_stop(&fx);
  assert_true(fx.stopped);
  assert_int_equal(EXP_SENT(&fx), 1);
  exp_teardown(&fx);

  char *text = slurp(path);
  json_t *j = parse_line(text, 0);
  assert_string_equal(JSTR(j, "name"), "q\"uote\\ \n\x01 caf\xc3\xa9 bad\xef\xbf\xbd");
  assert_string_equal(JSTR(j, "trace_id"), "00000000000000000000000000000001");
  assert_string_equal(JSTR(j, "span_id"), "0000000000000001");
  assert_string_equal(JSTR(j, "parent_span_id"), "ab00000000000000");
  assert_string_equal(JSTR(j, "kind"), "CLIENT");
  assert_int_equal(JINT(j, "start_time_unix_nano"), 1700000000000000001LL);
  assert_int_equal(JINT(j, "end_time_unix_nano"), 1700000000000000999LL);
  assert_int_equal(JINT(j, "flags"), 0x301);
  assert_string_equal(JSTR(j, "trace_state"), "k=v");
  assert_string_equal(JSTR(j, "service.name"), "svc");
  assert_int_equal(JINT(j, "dropped_attributes_count"), 3);
  assert_int_equal(JINT(j, "dropped_events_count"), 4);
  assert_int_equal(JINT(j, "dropped_links_count"), 5);
  json_t *status = json_object_get(j, "status");
  assert_string_equal(JSTR(status, "code"), "ERROR");
  assert_string_equal(JSTR(status, "message"), "boom");

  json_t *attrs = json_object_get(j, "attributes");
  assert_string_equal(JSTR(attrs, "str"), "s");
  assert_true(json_is_true(json_object_get(attrs, "bool")));
  assert_int_equal(JINT(attrs, "int"), -9007199254740993LL);
  assert_true(json_real_value(json_object_get(attrs, "double")) == 2.5);
  assert_string_equal(JSTR(json_object_get(attrs, "bytes"), "bytes_base64"), "AQID/w==");
  json_t *arr = json_object_get(attrs, "array");
  assert_int_equal(json_array_size(arr), 2);
  assert_int_equal(json_integer_value(json_array_get(arr, 0)), -9007199254740993LL);
  assert_string_equal(json_string_value(json_array_get(arr, 1)), "s");
  json_t *inner = json_object_get(json_object_get(attrs, "map"), "inner");
  assert_int_equal(json_array_size(inner), 2);
  assert_true(json_is_null(json_object_get(attrs, "empty")));

  json_t *ev = json_array_get(json_object_get(j, "events"), 0);
  assert_string_equal(JSTR(ev, "name"), "ev");
  assert_int_equal(JINT(ev, "time_unix_nano"), 42);
  assert_int_equal(JINT(ev, "dropped_attributes_count"), 6);
  assert_true(json_is_true(json_object_get(json_object_get(ev, "attributes"), "e")));
  json_t *ln = json_array_get(json_object_get(j, "links"), 0);
  assert_string_equal(JSTR(ln, "trace_state"), "l=1");
  assert_int_equal(JINT(ln, "flags"), 0x100);
  assert_int_equal(JINT(ln, "dropped_attributes_count"), 7);
  assert_string_equal(JSTR(ln, "span_id"), "0000000000000001");

  json_t *res = json_object_get(j, "resource");
  assert_string_equal(JSTR(json_object_get(res, "attributes"), "service.name"), "svc");
  assert_int_equal(JINT(res, "dropped_attributes_count"), 2);
  assert_string_equal(JSTR(res, "schema_url"), "https://schema/r");
  json_t *sc = json_object_get(j, "scope");
  assert_string_equal(JSTR(sc, "name"), "lib");
  assert_string_equal(JSTR(sc, "version"), "1.2");
  assert_int_equal(JINT(sc, "dropped_attributes_count"), 1);
  assert_string_equal(JSTR(sc, "schema_url"), "https://schema/s");
  json_decref(j);
  unlink(path);
  tg_free(path);
}

static void test_basic_and_normal(void **state) {
  (void)state;
  char *path = tmp_path();
  char yaml[256];
  exp_fixture fx;
  tg_errbuf err;
  snprintf(yaml, sizeof yaml, "output: %s\n", path); /* verbosity defaults to basic */
  assert_int_equal(exp_setup(&fx, &tg_exporter_debug, "debug/b", yaml, &err), TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(3)), TG_OK);
  exp_stop(&fx);
  exp_teardown(&fx);
  json_t *j = parse_line(slurp(path), 0);
  assert_int_equal(JINT(j, "resource_spans"), 1);
  assert_int_equal(JINT(j, "spans"), 3);
  assert_string_equal(JSTR(j, "exporter"), "debug");
  json_decref(j);

  snprintf(yaml, sizeof yaml, "verbosity: normal\noutput: %s\n", path);
  assert_int_equal(exp_setup(&fx, &tg_exporter_debug, "debug/n", yaml, &err), TG_OK);
  assert_int_equal(tg_component_start(&fx.inst, &err), TG_OK);
  assert_int_equal(tg_component_consume(&fx.inst, exp_batch(2)), TG_OK);
  exp_stop(&fx);
  exp_teardown(&fx);
  const char *text = slurp(path);
  j = parse_line(text, 2); /* appended after the basic line */
  assert_string_equal(JSTR(j, "name"), "span1");
  assert_string_equal(JSTR(j, "service.name"), "svc");
  assert_string_equal(JSTR(j, "parent_span_id"), "");
  assert_null(json_object_get(j, "attributes")); /* normal has no attribute detail */
  json_decref(j);
  unlink(path);
  tg_free(path);
}

static void test_json_escaping(void **state) {
  (void)state;
  tg_buf b;
  tg_buf_init(&b, 0);
  const char in[] = "\"\\/\b\f\n\r\t\x1f\x7f \xe2\x82\xac \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82";
  assert_int_equal(tg_debugjson_str(&b, in, sizeof in - 1), TG_OK);
  assert_int_equal(tg_buf_append(&b, "", 1), TG_OK);
  assert_string_equal((char *)b.data,
                      "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u001f\\u007f \xe2\x82\xac \\ufffd\\ufffd "
                      "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
  json_error_t jerr;
  json_t *j = json_loadb((char *)b.data, b.len - 1, JSON_DECODE_ANY, &jerr);
  assert_non_null(j);
  json_decref(j);
  tg_buf_free(&b);
  /* base64 padding */
  tg_buf_init(&b, 0);
  assert_int_equal(tg_debugjson_base64(&b, (const uint8_t *)"ab", 2), TG_OK);
  assert_int_equal(tg_debugjson_base64(&b, (const uint8_t *)"abc", 3), TG_OK);
  assert_int_equal(tg_debugjson_double(&b, 1.0 / 0.0), TG_OK);
  assert_int_equal(tg_buf_append(&b, "", 1), TG_OK);
  assert_string_equal((char *)b.data, "\"YWI=\"\"YWJj\"\"Infinity\"");
  tg_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detailed_every_field),
      cmocka_unit_test(test_basic_and_normal),
      cmocka_unit_test(test_json_escaping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
