/* OTLP/JSON decoding (receivers/otlp/otlp_json.c): every AnyValue type, the JSON mapping
 * rules (hex ids, camel/snake names, enum names and numbers, 64-bit ints as strings or
 * numbers, base64, NaN/Infinity), unknown fields, malformed inputs with their messages,
 * the nesting bound, the arena bound, and equivalence with a hand-built protobuf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "receivers/otlp/otlp_json.h"
#include "tg_alloc.h"
#include "tg_error.h"

#define TID "5B8EFFF798038103D269B633813FC60C"
#define SID "EEE19B7EC3C1B174"

typedef struct decoded {
  tg_batch *batch;
  int rc;
  char err[256];
} decoded;

static void decode_text(decoded *d, const char *json) {
  d->batch = tg_batch_new(0, 0);
  assert_non_null(d->batch);
  d->rc = tg_otlp_json_decode(d->batch, (const uint8_t *)json, strlen(json), d->err,
                              sizeof d->err);
}

/* Wraps one attribute value into a request with a single span. */
static void decode_attr(decoded *d, const char *value_json) {
  char json[4096];
  snprintf(json, sizeof json,
           "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TID
           "\",\"spanId\":\"" SID "\",\"attributes\":[{\"key\":\"k\",\"value\":%s}]}]}]}]}",
           value_json);
  decode_text(d, json);
}

static const tg_span *first_span(const decoded *d) {
  const tg_export_request *req = &d->batch->request;
  assert_true(req->n_resource_spans >= 1);
  assert_true(req->resource_spans[0]->n_scope_spans >= 1);
  assert_true(req->resource_spans[0]->scope_spans[0]->n_spans >= 1);
  return req->resource_spans[0]->scope_spans[0]->spans[0];
}

static const tg_any_value *first_attr(const decoded *d) {
  const tg_span *s = first_span(d);
  assert_int_equal(s->n_attributes, 1);
  assert_string_equal(s->attributes[0]->key, "k");
  assert_non_null(s->attributes[0]->value);
  return s->attributes[0]->value;
}

static void done(decoded *d) { tg_batch_free(d->batch); }

/* ---- AnyValue table ----------------------------------------------------------------- */

enum { V_STR = 1, V_BOOL, V_INT, V_DOUBLE, V_ARRAY, V_KVLIST, V_BYTES, V_NONE };

typedef struct any_case {
  const char *json;
  int kind;
  const char *s;  /* string / bytes (with n) */
  size_t n;       /* bytes length, array / kvlist size */
  int64_t i;
  double d;
} any_case;

static const any_case any_cases[] = {
    {"{\"stringValue\":\"hello\"}", V_STR, "hello", 0, 0, 0},
    {"{\"string_value\":\"snake\"}", V_STR, "snake", 0, 0, 0},
    {"{\"stringValue\":\"\"}", V_STR, "", 0, 0, 0},
    {"{\"stringValue\":\"caf\\u00e9\"}", V_STR, "caf\xc3\xa9", 0, 0, 0},
    {"{\"boolValue\":true}", V_BOOL, NULL, 0, 1, 0},
    {"{\"bool_value\":false}", V_BOOL, NULL, 0, 0, 0},
    {"{\"intValue\":42}", V_INT, NULL, 0, 42, 0},
    {"{\"intValue\":\"42\"}", V_INT, NULL, 0, 42, 0},
    {"{\"intValue\":\"-9223372036854775808\"}", V_INT, NULL, 0, INT64_MIN, 0},
    {"{\"intValue\":9223372036854775807}", V_INT, NULL, 0, INT64_MAX, 0},
    {"{\"intValue\":-7}", V_INT, NULL, 0, -7, 0},
    {"{\"int_value\":1e3}", V_INT, NULL, 0, 1000, 0},
    {"{\"doubleValue\":1.5}", V_DOUBLE, NULL, 0, 0, 1.5},
    {"{\"doubleValue\":3}", V_DOUBLE, NULL, 0, 0, 3.0},
    {"{\"doubleValue\":\"2.25\"}", V_DOUBLE, NULL, 0, 0, 2.25},
    {"{\"doubleValue\":\"Infinity\"}", V_DOUBLE, NULL, 0, 0, INFINITY},
    {"{\"doubleValue\":\"-Infinity\"}", V_DOUBLE, NULL, 0, 0, -INFINITY},
    {"{\"doubleValue\":\"NaN\"}", V_DOUBLE, NULL, 0, 0, NAN},
    {"{\"bytesValue\":\"aGVsbG8=\"}", V_BYTES, "hello", 5, 0, 0},
    {"{\"bytesValue\":\"aGVsbG8\"}", V_BYTES, "hello", 5, 0, 0},
    {"{\"bytes_value\":\"-_8=\"}", V_BYTES, "\xfb\xff", 2, 0, 0},
    {"{\"bytesValue\":\"+/8=\"}", V_BYTES, "\xfb\xff", 2, 0, 0},
    {"{\"bytesValue\":\"\"}", V_BYTES, "", 0, 0, 0},
    {"{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},{\"stringValue\":\"x\"},{}]}}",
     V_ARRAY, NULL, 3, 0, 0},
    {"{\"arrayValue\":{}}", V_ARRAY, NULL, 0, 0, 0},
    {"{\"kvlistValue\":{\"values\":[{\"key\":\"a\",\"value\":{\"boolValue\":true}},"
     "{\"key\":\"b\"}]}}",
     V_KVLIST, NULL, 2, 0, 0},
    {"{\"kvlist_value\":{\"values\":[]}}", V_KVLIST, NULL, 0, 0, 0},
    {"{}", V_NONE, NULL, 0, 0, 0},
    {"{\"stringValue\":null}", V_NONE, NULL, 0, 0, 0},
    {"{\"somethingNew\":1,\"stringValue\":\"u\"}", V_STR, "u", 0, 0, 0},
};

static void test_any_values(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof any_cases / sizeof any_cases[0]; c++) {
    const any_case *tc = &any_cases[c];
    decoded d;
    decode_attr(&d, tc->json);
    if (d.rc != TG_OK)
      print_error("case %zu (%s): %s\n", c, tc->json, d.err);
    assert_int_equal(d.rc, TG_OK);
    const tg_any_value *v = first_attr(&d);
    switch (tc->kind) {
    case V_STR:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
      assert_string_equal(v->string_value, tc->s);
      break;
    case V_BOOL:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
      assert_int_equal(v->bool_value, tc->i);
      break;
    case V_INT:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
      assert_true(v->int_value == tc->i);
      break;
    case V_DOUBLE:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
      if (isnan(tc->d))
        assert_true(isnan(v->double_value));
      else
        assert_true(v->double_value == tc->d);
      break;
    case V_BYTES:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
      assert_int_equal(v->bytes_value.len, tc->n);
      if (tc->n)
        assert_memory_equal(v->bytes_value.data, tc->s, tc->n);
      break;
    case V_ARRAY:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
      assert_int_equal(v->array_value->n_values, tc->n);
      break;
    case V_KVLIST:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
      assert_int_equal(v->kvlist_value->n_values, tc->n);
      break;
    default:
      assert_int_equal(v->value_case,
                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    }
    done(&d);
  }
}

static void test_nested_values(void **state) {
  (void)state;
  decoded d;
  decode_attr(&d, "{\"arrayValue\":{\"values\":[{\"kvlistValue\":{\"values\":[{\"key\":"
                  "\"inner\",\"value\":{\"arrayValue\":{\"values\":[{\"doubleValue\":"
                  "0.5}]}}}]}}]}}");
  assert_int_equal(d.rc, TG_OK);
  const tg_any_value *v = first_attr(&d);
  const tg_kvlist_value *kvl = v->array_value->values[0]->kvlist_value;
  assert_non_null(kvl);
  assert_string_equal(kvl->values[0]->key, "inner");
  const tg_array_value *inner = kvl->values[0]->value->array_value;
  assert_non_null(inner);
  assert_true(inner->values[0]->double_value == 0.5);
  done(&d);
}

/* Builds {"arrayValue":{"values":[ ... ]}} nested `levels` deep around a string. */
static char *nested_array(int levels) {
  size_t cap = (size_t)levels * 40 + 64;
  char *s = tg_malloc(cap);
  size_t off = 0;
  for (int i = 0; i < levels - 1; i++)
    off += (size_t)snprintf(s + off, cap - off, "{\"arrayValue\":{\"values\":[");
  off += (size_t)snprintf(s + off, cap - off, "{\"stringValue\":\"deep\"}");
  for (int i = 0; i < levels - 1; i++)
    off += (size_t)snprintf(s + off, cap - off, "]}}");
  return s;
}

static void test_depth_bound(void **state) {
  (void)state;
  char *ok = nested_array(TG_OTLP_JSON_MAX_ANY_DEPTH);
  decoded d;
  decode_attr(&d, ok);
  assert_int_equal(d.rc, TG_OK);
  done(&d);
  tg_free(ok);

  char *deep = nested_array(TG_OTLP_JSON_MAX_ANY_DEPTH + 1);
  char *json = tg_malloc(strlen(deep) + 512);
  sprintf(json,
          "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":"
          "\"k\",\"value\":%s}]}]}]}]}",
          deep);
  decode_text(&d, json);
  assert_int_equal(d.rc, TG_EDECODE);
  assert_non_null(strstr(d.err, "nested deeper than 32"));
  assert_int_equal(d.batch->span_count, 0);
  done(&d);
  tg_free(deep);
  tg_free(json);
}

/* ---- spans, ids, enums, numbers ------------------------------------------------------ */

static void test_ids_hex_case(void **state) {
  (void)state;
  static const uint8_t tid[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                  0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
  static const uint8_t sid[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};
  const char *variants[] = {
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TID
      "\",\"spanId\":\"" SID "\",\"parentSpanId\":\"\"}]}]}]}",
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
      "\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\"}]}]}]}",
      "{\"resource_spans\":[{\"scope_spans\":[{\"spans\":[{\"trace_id\":"
      "\"5b8eFFF798038103d269b633813fc60c\",\"span_id\":\"eee19B7ec3c1b174\"}]}]}]}",
  };
  for (size_t i = 0; i < 3; i++) {
    decoded d;
    decode_text(&d, variants[i]);
    assert_int_equal(d.rc, TG_OK);
    const tg_span *s = first_span(&d);
    assert_int_equal(s->trace_id.len, 16);
    assert_memory_equal(s->trace_id.data, tid, 16);
    assert_int_equal(s->span_id.len, 8);
    assert_memory_equal(s->span_id.data, sid, 8);
    assert_int_equal(s->parent_span_id.len, 0);
    assert_int_equal(d.batch->span_count, 1);
    done(&d);
  }
}

typedef struct span_case {
  const char *fields; /* inserted into the span object */
  int kind;
  int status_code;
  uint64_t start;
  uint32_t flags;
} span_case;

static const span_case span_cases[] = {
    {"\"kind\":2", 2, 0, 0, 0},
    {"\"kind\":\"SPAN_KIND_CLIENT\"", 3, 0, 0, 0},
    {"\"kind\":\"SPAN_KIND_CONSUMER\",\"status\":{\"code\":\"STATUS_CODE_ERROR\"}", 5, 2, 0,
     0},
    {"\"kind\":9", 9, 0, 0, 0}, /* open enum: unknown numbers are kept */
    {"\"status\":{\"code\":1}", 0, 1, 0, 0},
    {"\"startTimeUnixNano\":\"1700000000123456789\"", 0, 0, 1700000000123456789ull, 0},
    {"\"startTimeUnixNano\":1700000000123456789", 0, 0, 1700000000123456789ull, 0},
    {"\"start_time_unix_nano\":\"18446744073709551615\"", 0, 0, UINT64_MAX, 0},
    {"\"flags\":769", 0, 0, 0, 769},
    {"\"flags\":\"257\"", 0, 0, 0, 257},
    {"\"kind\":null,\"flags\":null,\"status\":null", 0, 0, 0, 0},
};

static void test_span_fields(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof span_cases / sizeof span_cases[0]; c++) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TID
             "\",\"spanId\":\"" SID "\",%s}]}]}]}",
             span_cases[c].fields);
    decoded d;
    decode_text(&d, json);
    if (d.rc != TG_OK)
      print_error("case %zu: %s\n", c, d.err);
    assert_int_equal(d.rc, TG_OK);
    const tg_span *s = first_span(&d);
    assert_int_equal(s->kind, span_cases[c].kind);
    assert_int_equal(s->status ? s->status->code : 0, span_cases[c].status_code);
    assert_true(s->start_time_unix_nano == span_cases[c].start);
    assert_int_equal(s->flags, span_cases[c].flags);
    done(&d);
  }
}

static void test_unknown_fields_ignored(void **state) {
  (void)state;
  decoded d;
  decode_text(&d, "{\"extra\":{\"deep\":[1,2,{\"x\":null}]},\"resourceSpans\":[{\"foo\":1,"
                  "\"resource\":{\"bar\":[],\"attributes\":[]},\"scopeSpans\":[{\"baz\":"
                  "true,\"scope\":{\"qux\":\"x\",\"name\":\"lib\"},\"spans\":[{\"traceId\":"
                  "\"" TID "\",\"spanId\":\"" SID "\",\"unknownThing\":\"y\",\"events\":"
                  "[{\"name\":\"e\",\"zzz\":1}],\"links\":[{\"traceId\":\"" TID "\","
                  "\"spanId\":\"" SID "\",\"more\":{}}]}]}]}]}");
  assert_int_equal(d.rc, TG_OK);
  const tg_span *s = first_span(&d);
  assert_int_equal(s->n_events, 1);
  assert_int_equal(s->n_links, 1);
  assert_string_equal(d.batch->request.resource_spans[0]->scope_spans[0]->scope->name,
                      "lib");
  done(&d);
}

static void test_empty_requests(void **state) {
  (void)state;
  const char *inputs[] = {"", "{}", "{\"resourceSpans\":[]}", "{\"resourceSpans\":null}",
                          " {\"resourceSpans\":[{}]} "};
  for (size_t i = 0; i < 5; i++) {
    decoded d;
    decode_text(&d, inputs[i]);
    assert_int_equal(d.rc, TG_OK);
    assert_int_equal(d.batch->span_count, 0);
    done(&d);
  }
}

/* ---- malformed inputs -------------------------------------------------------------- */

typedef struct bad_case {
  const char *json;
  const char *message; /* substring of the error */
} bad_case;

#define SPAN_WITH(x)                                                                    \
  "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TID                \
  "\",\"spanId\":\"" SID "\"," x "}]}]}]}"

static const bad_case bad_cases[] = {
    {"{", "invalid JSON at line 1 column 1"},
    {"{\"resourceSpans\":[}", "invalid JSON at line 1"},
    {"[]", "top level: expected an object, got an array"},
    {"\"x\"", "invalid JSON"},
    {"{} trailing", "invalid JSON"},
    {"{\"resourceSpans\":{}}", "resourceSpans: expected an array"},
    {"{\"resourceSpans\":[1]}", "resourceSpans[0]: expected an object, got a number"},
    {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"xyz1\"}]}]}]}",
     "resourceSpans[0].scopeSpans[0].spans[0].traceId: hex id has a character"},
    {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"abc\"}]}]}]}",
     "odd number of digits"},
    {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":12}]}]}]}",
     "spanId: expected a hex string, got a number"},
    {SPAN_WITH("\"kind\":\"SPAN_KIND_NOPE\""), "kind: unknown enum value name"},
    {SPAN_WITH("\"kind\":1.5"), "kind: expected an enum name or number"},
    {SPAN_WITH("\"name\":5"), "name: expected a string, got a number"},
    {SPAN_WITH("\"startTimeUnixNano\":\"12a\""), "startTimeUnixNano: expected an unsigned"},
    {SPAN_WITH("\"startTimeUnixNano\":-1"), "startTimeUnixNano: integer -1 out of range"},
    {SPAN_WITH("\"startTimeUnixNano\":\"18446744073709551616\""), "out of range"},
    {SPAN_WITH("\"droppedAttributesCount\":4294967296"), "out of range"},
    {SPAN_WITH("\"flags\":true"), "flags: expected an integer, got a boolean"},
    {SPAN_WITH("\"attributes\":{}"), "attributes: expected an array"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":\"1.5\"}}]"),
     "attributes[0].value.intValue: expected a decimal integer string"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":1.5}}]"),
     "is not an integer"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"boolValue\":\"true\"}}]"),
     "boolValue: expected true or false"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"doubleValue\":\"inf\"}}]"),
     "doubleValue: expected a number or"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"bytesValue\":\"a$==\"}}]"),
     "invalid base64 character"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"bytesValue\":\"a\"}}]"),
     "invalid base64 length"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"x\","
               "\"intValue\":1}}]"),
     "more than one value set in an AnyValue"},
    {SPAN_WITH("\"attributes\":[{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":"
               "[{\"intValue\":\"x\"}]}}}]"),
     "attributes[0].value.arrayValue.values[0].intValue"},
    {SPAN_WITH("\"events\":[{\"timeUnixNano\":{}}]"), "events[0].timeUnixNano"},
    {SPAN_WITH("\"links\":[{\"traceId\":\"zz\"}]"), "links[0].traceId"},
    {SPAN_WITH("\"status\":{\"code\":\"OK\"}"), "status.code: unknown enum value name"},
    {SPAN_WITH("\"status\":[]"), "status: expected an object"},
    {"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":7}]}}]}",
     "resourceSpans[0].resource.attributes[0].key: expected a string"},
    {"{\"resourceSpans\":[{\"scopeSpans\":[{\"scope\":{\"version\":[]}}]}]}",
     "scopeSpans[0].scope.version"},
    {"{\"resourceSpans\":[{\"schemaUrl\":1}]}", "resourceSpans[0].schemaUrl"},
    {"{\"a\":99999999999999999999999}", "invalid JSON"}, /* jansson: too big integer */
};

static void test_malformed(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof bad_cases / sizeof bad_cases[0]; c++) {
    decoded d;
    decode_text(&d, bad_cases[c].json);
    if (d.rc != TG_EDECODE || !strstr(d.err, bad_cases[c].message))
      print_error("case %zu: rc %d err \"%s\", want \"%s\"\n", c, d.rc, d.err,
                  bad_cases[c].message);
    assert_int_equal(d.rc, TG_EDECODE);
    assert_non_null(strstr(d.err, bad_cases[c].message));
    assert_int_equal(d.batch->span_count, 0);
    assert_int_equal(d.batch->request.n_resource_spans, 0);
    for (const char *p = d.err; *p; p++)
      assert_true(*p >= 0x20 && *p <= 0x7e);
    done(&d);
  }
}

static void test_error_message_sanitised(void **state) {
  (void)state;
  decoded d;
  decode_text(&d, "{\"resourceSpans\":[\x01]}");
  assert_int_equal(d.rc, TG_EDECODE);
  for (const char *p = d.err; *p; p++)
    assert_true(*p >= 0x20 && *p <= 0x7e);
  done(&d);
}

static void test_arena_limit(void **state) {
  (void)state;
  size_t n = 2000;
  char *json = tg_malloc(n * 64 + 256);
  size_t off = (size_t)sprintf(json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
  for (size_t i = 0; i < n; i++)
    off += (size_t)sprintf(json + off, "%s{\"name\":\"span-%zu\"}", i ? "," : "", i);
  sprintf(json + off, "]}]}]}");
  tg_batch *b = tg_batch_new(1024, 16 * 1024);
  char err[128];
  assert_int_equal(tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), err,
                                       sizeof err),
                   TG_ETOOBIG);
  assert_int_equal(b->span_count, 0);
  tg_batch_free(b);
  tg_free(json);
}

/* ---- equivalence with protobuf ------------------------------------------------------ */

static const char full_json[] =
    "{\"resourceSpans\":[{"
    "\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
    "\"checkout\"}}],\"droppedAttributesCount\":1},"
    "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.21.0\","
    "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.2\",\"attributes\":["
    "{\"key\":\"s\",\"value\":{\"boolValue\":true}}],\"droppedAttributesCount\":2},"
    "\"schemaUrl\":\"s-url\",\"spans\":[{"
    "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\","
    "\"parentSpanId\":\"2122232425262728\",\"traceState\":\"ot=th:8\",\"flags\":257,"
    "\"name\":\"GET /cart\",\"kind\":\"SPAN_KIND_SERVER\","
    "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":1700000000500000000,"
    "\"attributes\":["
    "{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},"
    "{\"key\":\"d\",\"value\":{\"doubleValue\":0.25}},"
    "{\"key\":\"b\",\"value\":{\"bytesValue\":\"AAEC\"}},"
    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},"
    "{\"intValue\":7}]}}},"
    "{\"key\":\"m\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"n\",\"value\":"
    "{\"boolValue\":false}}]}}}],"
    "\"droppedAttributesCount\":3,"
    "\"events\":[{\"timeUnixNano\":\"1700000000100000000\",\"name\":\"retry\","
    "\"attributes\":[{\"key\":\"attempt\",\"value\":{\"intValue\":2}}],"
    "\"droppedAttributesCount\":4}],\"droppedEventsCount\":5,"
    "\"links\":[{\"traceId\":\"f102030405060708090a0b0c0d0e0f10\",\"spanId\":"
    "\"f112131415161718\",\"traceState\":\"k=v\",\"attributes\":[{\"key\":\"l\","
    "\"value\":{\"stringValue\":\"y\"}}],\"droppedAttributesCount\":6,\"flags\":768}],"
    "\"droppedLinksCount\":7,"
    "\"status\":{\"message\":\"boom\",\"code\":\"STATUS_CODE_ERROR\"}}]}]}]}";

static tg_key_value kv(const char *key, tg_any_value *v) {
  tg_key_value out = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
  out.key = (char *)key;
  out.value = v;
  return out;
}

static void test_equivalence_with_protobuf(void **state) {
  (void)state;
  static uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  static uint8_t sid[8] = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
  static uint8_t pid[8] = {0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28};
  static uint8_t ltid[16] = {0xf1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  static uint8_t lsid[8] = {0xf1, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
  static uint8_t bytes[3] = {0, 1, 2};

  tg_any_value v_checkout = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_checkout.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v_checkout.string_value = "checkout";
  tg_key_value r_kv = kv("service.name", &v_checkout);
  tg_key_value *r_attrs[] = {&r_kv};
  tg_resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
  res.n_attributes = 1;
  res.attributes = r_attrs;
  res.dropped_attributes_count = 1;

  tg_any_value v_true = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_true.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  v_true.bool_value = 1;
  tg_key_value s_kv = kv("s", &v_true);
  tg_key_value *s_attrs[] = {&s_kv};
  tg_scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
  scope.name = "lib";
  scope.version = "1.2";
  scope.n_attributes = 1;
  scope.attributes = s_attrs;
  scope.dropped_attributes_count = 2;

  tg_any_value v_i = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_i.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v_i.int_value = -5;
  tg_any_value v_d = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_d.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  v_d.double_value = 0.25;
  tg_any_value v_b = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_b.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
  v_b.bytes_value.len = 3;
  v_b.bytes_value.data = bytes;
  tg_any_value v_x = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_x.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v_x.string_value = "x";
  tg_any_value v_7 = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_7.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v_7.int_value = 7;
  tg_any_value *arr_items[] = {&v_x, &v_7};
  tg_array_value arr = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
  arr.n_values = 2;
  arr.values = arr_items;
  tg_any_value v_a = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_a.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  v_a.array_value = &arr;
  tg_any_value v_false = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_false.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  v_false.bool_value = 0;
  tg_key_value n_kv = kv("n", &v_false);
  tg_key_value *kvl_items[] = {&n_kv};
  tg_kvlist_value kvl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
  kvl.n_values = 1;
  kvl.values = kvl_items;
  tg_any_value v_m = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_m.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
  v_m.kvlist_value = &kvl;
  tg_key_value a_i = kv("i", &v_i), a_d = kv("d", &v_d), a_b = kv("b", &v_b),
               a_a = kv("a", &v_a), a_m = kv("m", &v_m);
  tg_key_value *span_attrs[] = {&a_i, &a_d, &a_b, &a_a, &a_m};

  tg_any_value v_2 = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_2.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v_2.int_value = 2;
  tg_key_value e_kv = kv("attempt", &v_2);
  tg_key_value *e_attrs[] = {&e_kv};
  tg_span_event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
  ev.time_unix_nano = 1700000000100000000ull;
  ev.name = "retry";
  ev.n_attributes = 1;
  ev.attributes = e_attrs;
  ev.dropped_attributes_count = 4;
  tg_span_event *events[] = {&ev};

  tg_any_value v_y = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
  v_y.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v_y.string_value = "y";
  tg_key_value l_kv = kv("l", &v_y);
  tg_key_value *l_attrs[] = {&l_kv};
  tg_span_link link = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
  link.trace_id = (ProtobufCBinaryData){16, ltid};
  link.span_id = (ProtobufCBinaryData){8, lsid};
  link.trace_state = "k=v";
  link.n_attributes = 1;
  link.attributes = l_attrs;
  link.dropped_attributes_count = 6;
  link.flags = 768;
  tg_span_link *links[] = {&link};

  tg_span_status status = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
  status.message = "boom";
  status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;

  tg_span span = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
  span.trace_id = (ProtobufCBinaryData){16, tid};
  span.span_id = (ProtobufCBinaryData){8, sid};
  span.parent_span_id = (ProtobufCBinaryData){8, pid};
  span.trace_state = "ot=th:8";
  span.flags = 257;
  span.name = "GET /cart";
  span.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
  span.start_time_unix_nano = 1700000000000000000ull;
  span.end_time_unix_nano = 1700000000500000000ull;
  span.n_attributes = 5;
  span.attributes = span_attrs;
  span.dropped_attributes_count = 3;
  span.n_events = 1;
  span.events = events;
  span.dropped_events_count = 5;
  span.n_links = 1;
  span.links = links;
  span.dropped_links_count = 7;
  span.status = &status;
  tg_span *spans[] = {&span};

  tg_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.scope = &scope;
  ss.n_spans = 1;
  ss.spans = spans;
  ss.schema_url = "s-url";
  tg_scope_spans *sss[] = {&ss};
  tg_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.resource = &res;
  rs.n_scope_spans = 1;
  rs.scope_spans = sss;
  rs.schema_url = "https://opentelemetry.io/schemas/1.21.0";
  tg_resource_spans *rss[] = {&rs};
  tg_export_request want =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  want.n_resource_spans = 1;
  want.resource_spans = rss;

  size_t want_len = protobuf_c_message_get_packed_size(&want.base);
  uint8_t *want_buf = tg_malloc(want_len);
  protobuf_c_message_pack(&want.base, want_buf);

  decoded d;
  decode_text(&d, full_json);
  if (d.rc != TG_OK)
    print_error("%s\n", d.err);
  assert_int_equal(d.rc, TG_OK);
  assert_int_equal(d.batch->span_count, 1);
  size_t got_len = tg_batch_encoded_size(d.batch);
  uint8_t *got_buf = tg_malloc(got_len);
  assert_int_equal(tg_batch_encode(d.batch, got_buf), got_len);
  assert_int_equal(got_len, want_len);
  assert_memory_equal(got_buf, want_buf, want_len);

  /* and the protobuf path decodes those bytes to the same encoding */
  tg_batch *pb = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_decode_otlp(pb, want_buf, want_len), TG_OK);
  assert_int_equal(tg_batch_encoded_size(pb), want_len);
  tg_batch_free(pb);

  tg_free(got_buf);
  tg_free(want_buf);
  done(&d);
}

/* ---- response encoders ---------------------------------------------------------------- */

static void test_json_encoders(void **state) {
  (void)state;
  tg_buf b;
  tg_buf_init(&b, 0);
  assert_int_equal(tg_otlp_json_encode_response(&b, 0, ""), TG_OK);
  assert_int_equal(b.len, 2);
  assert_memory_equal(b.data, "{}", 2);
  tg_buf_free(&b);

  assert_int_equal(tg_otlp_json_encode_response(&b, 3, "bad \"ids\"\n\xff"), TG_OK);
  const char want[] = "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":"
                      "\"bad \\\"ids\\\"\\u000a\xef\xbf\xbd\"}}";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  tg_buf_free(&b);

  assert_int_equal(tg_otlp_json_encode_status(&b, 3, "caf\xc3\xa9 \\"), TG_OK);
  const char want2[] = "{\"code\":3,\"message\":\"caf\xc3\xa9 \\\\\"}";
  assert_int_equal(b.len, strlen(want2));
  assert_memory_equal(b.data, want2, b.len);
  tg_buf_free(&b);

  tg_buf small;
  tg_buf_init(&small, 8);
  assert_int_equal(tg_otlp_json_encode_status(&small, 13, "too long for the cap"),
                   TG_ETOOBIG);
  tg_buf_free(&small);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_any_values),
      cmocka_unit_test(test_nested_values),
      cmocka_unit_test(test_depth_bound),
      cmocka_unit_test(test_ids_hex_case),
      cmocka_unit_test(test_span_fields),
      cmocka_unit_test(test_unknown_fields_ignored),
      cmocka_unit_test(test_empty_requests),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_error_message_sanitised),
      cmocka_unit_test(test_arena_limit),
      cmocka_unit_test(test_equivalence_with_protobuf),
      cmocka_unit_test(test_json_encoders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
