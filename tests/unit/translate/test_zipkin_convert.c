/* Zipkin conversion, both directions (translate/zipkin), through the receiver's decoders
 * (receivers/zipkin: v2 JSON, v1 JSON, v2 protobuf) and the exporter's encoder.
 *
 * Expected OTLP is written as OTLP/JSON by hand from Zipkin's and the Collector's rules
 * (decoded with the otlp receiver's decoder) and compared packed, byte for byte, with
 * what the conversion produced; expected Zipkin JSON is compared as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "exporters/zipkin/zipkin_exp.h"
#include "receivers/otlp/otlp_json.h"
#include "receivers/zipkin/zipkin.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "translate/zipkin/zipkin_model.h"

static tg_batch *otlp_from_json(const char *json) {
  tg_batch *b = tg_batch_new(0, 0);
  char err[256] = "";
  int rc = tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), err, sizeof err);
  if (rc != TG_OK)
    fail_msg("bad test JSON (%s): %s", err, json);
  return b;
}

static uint8_t *pack_req(const tg_batch *b, size_t *len) {
  *len = tg_batch_encoded_size(b);
  uint8_t *out = tg_malloc(*len + 1);
  assert_int_equal(tg_batch_encode(b, out), *len);
  return out;
}

static void assert_same_otlp(const tg_batch *want, const tg_batch *got) {
  size_t wl, gl;
  uint8_t *w = pack_req(want, &wl), *g = pack_req(got, &gl);
  if (wl != gl || memcmp(w, g, wl)) {
    /* print both through the zipkin encoder for a readable diff */
    fprintf(stderr, "OTLP differs: want %zu bytes, got %zu bytes\n", wl, gl);
    for (size_t i = 0; i < (wl < gl ? wl : gl); i++)
      if (w[i] != g[i]) {
        fprintf(stderr, "first difference at byte %zu\n", i);
        break;
      }
  }
  assert_int_equal(wl, gl);
  assert_memory_equal(w, g, wl);
  tg_free(w);
  tg_free(g);
}

static tg_batch *decode(tg_zipkin_format f, const char *body, size_t len, size_t *invalid) {
  tg_batch *b = NULL;
  char msg[256] = "";
  int rc = tg_zipkin_decode(f, (const uint8_t *)body, len, &b, invalid, msg, sizeof msg);
  if (rc != TG_OK)
    fail_msg("decode failed (%s): %s", tg_strerror(rc), msg);
  return b;
}

/* ---- Zipkin v2 → OTLP ---- */

#define V2_SPAN                                                                          \
  "[{\"traceId\":\"5af7183fb1d4cf5f\",\"parentId\":\"6b221d5bc9e6496c\","                 \
  "\"id\":\"352bff9a74ca9ad2\",\"kind\":\"CLIENT\",\"name\":\"get /api\","                \
  "\"timestamp\":1556604172355737,\"duration\":1431,\"debug\":true,"                      \
  "\"localEndpoint\":{\"serviceName\":\"frontend\",\"ipv4\":\"192.168.99.1\",\"port\":3306}," \
  "\"remoteEndpoint\":{\"serviceName\":\"backend\",\"ipv6\":\"2001:db8::c001\",\"port\":9000}," \
  "\"annotations\":[{\"timestamp\":1556604172355800,\"value\":\"wire send\"}],"          \
  "\"tags\":{\"http.method\":\"GET\",\"error\":\"connection refused\","                    \
  "\"otel.scope.name\":\"lib\",\"w3c.tracestate\":\"ot=th:8\"}},"                         \
  "{\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"id\":\"a1\",\"kind\":\"SERVER\","   \
  "\"name\":\"serve\",\"timestamp\":10,\"duration\":5,\"shared\":true,"                   \
  "\"localEndpoint\":{\"serviceName\":\"backend\"},\"tags\":{\"error\":\"\"}}]"

#define V2_OTLP                                                                           \
  "{\"resourceSpans\":["                                                                  \
  "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"frontend\"}}]}," \
  "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\"},\"spans\":[{"                            \
  "\"traceId\":\"00000000000000005af7183fb1d4cf5f\",\"spanId\":\"352bff9a74ca9ad2\","      \
  "\"parentSpanId\":\"6b221d5bc9e6496c\",\"traceState\":\"ot=th:8\",\"name\":\"get /api\"," \
  "\"kind\":3,\"startTimeUnixNano\":\"1556604172355737000\","                             \
  "\"endTimeUnixNano\":\"1556604172357168000\",\"attributes\":["                           \
  "{\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}},"                         \
  "{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"backend\"}},"                    \
  "{\"key\":\"net.peer.ip\",\"value\":{\"stringValue\":\"2001:db8::c001\"}},"              \
  "{\"key\":\"net.peer.port\",\"value\":{\"intValue\":\"9000\"}},"                         \
  "{\"key\":\"net.host.ip\",\"value\":{\"stringValue\":\"192.168.99.1\"}},"                \
  "{\"key\":\"net.host.port\",\"value\":{\"intValue\":\"3306\"}},"                         \
  "{\"key\":\"sampling.priority\",\"value\":{\"intValue\":\"1\"}}],"                       \
  "\"events\":[{\"timeUnixNano\":\"1556604172355800000\",\"name\":\"wire send\"}],"        \
  "\"status\":{\"code\":2,\"message\":\"connection refused\"}}]}]},"                       \
  "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"backend\"}}]}," \
  "\"scopeSpans\":[{\"scope\":{},\"spans\":[{"                                            \
  "\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"spanId\":\"00000000000000a1\","      \
  "\"name\":\"serve\",\"kind\":2,\"startTimeUnixNano\":\"10000\",\"endTimeUnixNano\":\"15000\"," \
  "\"attributes\":[{\"key\":\"zipkin.shared\",\"value\":{\"boolValue\":true}}],"           \
  "\"status\":{\"code\":2}}]}]}]}"

static void test_v2_json_to_otlp(void **state) {
  (void)state;
  size_t invalid;
  tg_batch *got = decode(TG_ZIPKIN_V2_JSON, V2_SPAN, strlen(V2_SPAN), &invalid);
  assert_int_equal(invalid, 0);
  assert_int_equal(got->span_count, 2);
  tg_batch *want = otlp_from_json(V2_OTLP);
  assert_same_otlp(want, got);
  tg_batch_free(want);
  tg_batch_free(got);
}

/* The same spans as protobuf (packed from the JSON decoder's model) give the same OTLP. */
static void test_v2_proto_to_otlp(void **state) {
  (void)state;
  tg_arena *a = tg_arena_new(0, 0);
  tg_zipkin_list *list;
  char err[256];
  assert_int_equal(tg_zipkin_json_decode(a, 0, (const uint8_t *)V2_SPAN, strlen(V2_SPAN),
                                         &list, err, sizeof err),
                   TG_OK);
  size_t n = zipkin__proto3__list_of_spans__get_packed_size(list);
  uint8_t *buf = tg_malloc(n);
  zipkin__proto3__list_of_spans__pack(list, buf);
  size_t invalid;
  tg_batch *got = decode(TG_ZIPKIN_V2_PROTO, (const char *)buf, n, &invalid);
  tg_batch *want = otlp_from_json(V2_OTLP);
  assert_same_otlp(want, got);
  /* a truncated message is refused */
  tg_batch *b = NULL;
  assert_int_equal(tg_zipkin_decode(TG_ZIPKIN_V2_PROTO, buf, n - 3, &b, &invalid, err,
                                    sizeof err),
                   TG_EDECODE);
  assert_non_null(strstr(err, "ListOfSpans"));
  tg_batch_free(want);
  tg_batch_free(got);
  tg_free(buf);
  tg_arena_unref(a);
}

/* v1: a span with client and server annotations becomes two spans (the server one
 * shared), core annotations give kind, endpoints and times; sa → remote endpoint. */
static void test_v1_json_to_otlp(void **state) {
  (void)state;
  const char *v1 =
      "[{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"352bff9a74ca9ad2\",\"name\":\"get\","
      "\"annotations\":["
      "{\"timestamp\":10,\"value\":\"cs\",\"endpoint\":{\"serviceName\":\"fe\"}},"
      "{\"timestamp\":15,\"value\":\"sr\",\"endpoint\":{\"serviceName\":\"be\"}},"
      "{\"timestamp\":20,\"value\":\"cache miss\",\"endpoint\":{\"serviceName\":\"be\"}},"
      "{\"timestamp\":25,\"value\":\"ss\",\"endpoint\":{\"serviceName\":\"be\"}},"
      "{\"timestamp\":30,\"value\":\"cr\",\"endpoint\":{\"serviceName\":\"fe\"}}],"
      "\"binaryAnnotations\":["
      "{\"key\":\"sa\",\"value\":true,\"endpoint\":{\"serviceName\":\"be\",\"ipv4\":\"1.2.3.4\",\"port\":80}},"
      "{\"key\":\"http.path\",\"value\":\"/x\"},{\"key\":\"retries\",\"value\":3}]}]";
  const char *want_json =
      "{\"resourceSpans\":["
      "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"fe\"}}]},"
      "\"scopeSpans\":[{\"scope\":{},\"spans\":[{"
      "\"traceId\":\"00000000000000005af7183fb1d4cf5f\",\"spanId\":\"352bff9a74ca9ad2\","
      "\"name\":\"get\",\"kind\":3,\"startTimeUnixNano\":\"10000\",\"endTimeUnixNano\":\"30000\","
      "\"attributes\":[{\"key\":\"http.path\",\"value\":{\"stringValue\":\"/x\"}},"
      "{\"key\":\"retries\",\"value\":{\"stringValue\":\"3\"}},"
      "{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"be\"}},"
      "{\"key\":\"net.peer.ip\",\"value\":{\"stringValue\":\"1.2.3.4\"}},"
      "{\"key\":\"net.peer.port\",\"value\":{\"intValue\":\"80\"}}],"
      "\"events\":[{\"timeUnixNano\":\"20000\",\"name\":\"cache miss\"}]}]}]},"
      "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"be\"}}]},"
      "\"scopeSpans\":[{\"scope\":{},\"spans\":[{"
      "\"traceId\":\"00000000000000005af7183fb1d4cf5f\",\"spanId\":\"352bff9a74ca9ad2\","
      "\"name\":\"get\",\"kind\":2,\"startTimeUnixNano\":\"15000\",\"endTimeUnixNano\":\"25000\","
      "\"attributes\":[{\"key\":\"http.path\",\"value\":{\"stringValue\":\"/x\"}},"
      "{\"key\":\"retries\",\"value\":{\"stringValue\":\"3\"}},"
      "{\"key\":\"zipkin.shared\",\"value\":{\"boolValue\":true}}],"
      "\"events\":[{\"timeUnixNano\":\"20000\",\"name\":\"cache miss\"}]}]}]}]}";
  size_t invalid;
  tg_batch *got = decode(TG_ZIPKIN_V1_JSON, v1, strlen(v1), &invalid);
  tg_batch *want = otlp_from_json(want_json);
  assert_same_otlp(want, got);
  tg_batch_free(want);
  tg_batch_free(got);
}

/* Spans with a zero or missing-length id are dropped and counted, the rest kept. */
static void test_invalid_ids_counted(void **state) {
  (void)state;
  const char *body = "[{\"traceId\":\"0\",\"id\":\"1\"},{\"traceId\":\"1\",\"id\":\"0000\"},"
                     "{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"ok\"}]";
  size_t invalid;
  tg_batch *b = decode(TG_ZIPKIN_V2_JSON, body, strlen(body), &invalid);
  assert_int_equal(invalid, 2);
  assert_int_equal(b->span_count, 1);
  assert_string_equal(b->request.resource_spans[0]->scope_spans[0]->spans[0]->name, "ok");
  tg_batch_free(b);
}

/* ---- decoder errors ---- */

static void test_json_errors(void **state) {
  (void)state;
  static const struct {
    const char *body, *want;
  } cases[] = {
      {"", "expected an array"},
      {"{}", "expected an array"},
      {"[{\"id\":\"1\"}]", "span 0: traceId is required"},
      {"[{\"traceId\":\"1\"}]", "span 0: id is required"},
      {"[{\"traceId\":\"1\",\"id\":\"1\"},{\"traceId\":\"xyz\",\"id\":\"1\"}]",
       "span 1, traceId: id must be hex digits"},
      {"[{\"traceId\":\"123456789012345678901234567890123\",\"id\":\"1\"}]",
       "id must have 1 to 32 hex digits, has 33"},
      {"[{\"traceId\":\"1\",\"id\":\"12345678901234567\"}]", "1 to 16 hex digits"},
      {"[{\"traceId\":1,\"id\":\"1\"}]", "expected a hex string"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":-1}]", "negative number"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":18446744073709551616}]",
       "number out of range"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"a\x01\"}]", "control character"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"\xc3\x28\"}]", "invalid UTF-8"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"\\ud800\"}]", "lone surrogate"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"\\q\"}]", "invalid escape"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"tags\":{\"a\":[]}}]", "tag values must be strings"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"debug\":1}]", "expected true or false"},
      {"[{\"traceId\":\"1\",\"id\":\"1\"},]", "trailing comma"},
      {"[{\"traceId\":\"1\",\"id\":\"1\"}] x", "unexpected data after the array"},
      {"[{\"traceId\":\"1\",\"id\":\"1\"}", "expected ',' or ']'"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]",
       "nesting deeper than 64"},
      {"[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":01}]", "expected ',' or '}'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tg_arena *a = tg_arena_new(0, 0);
    tg_zipkin_list *list = NULL;
    char err[256] = "";
    int rc = tg_zipkin_json_decode(a, 0, (const uint8_t *)cases[i].body, strlen(cases[i].body),
                                   &list, err, sizeof err);
    if (rc != TG_EDECODE || !strstr(err, cases[i].want))
      fail_msg("case %zu: rc %d, message \"%s\", want \"%s\"", i, rc, err, cases[i].want);
    tg_arena_unref(a);
  }
}

/* What the lenient parts accept: null as absent, unknown fields, tag numbers/bools, upper
 * case and short ids, fractional times, escapes. */
static void test_json_lenient(void **state) {
  (void)state;
  const char *body =
      "[ {\"traceId\":\"ABC\",\"id\":\"00ff\",\"parentId\":null,\"name\":\"caf\\u00e9 \\ud83d\\ude00\","
      "\"timestamp\":1.5e3,\"duration\":\"7\",\"unknown\":{\"x\":[1,true,null]},"
      "\"tags\":{\"n\":12.5,\"b\":false,\"z\":null},\"localEndpoint\":null} ]";
  tg_arena *a = tg_arena_new(0, 0);
  tg_zipkin_list *list;
  char err[256] = "";
  assert_int_equal(tg_zipkin_json_decode(a, 0, (const uint8_t *)body, strlen(body), &list, err,
                                         sizeof err),
                   TG_OK);
  assert_int_equal(list->n_spans, 1);
  const tg_zipkin_span *s = list->spans[0];
  static const uint8_t tid[8] = {0, 0, 0, 0, 0, 0, 0x0a, 0xbc};
  static const uint8_t sid[8] = {0, 0, 0, 0, 0, 0, 0, 0xff};
  assert_int_equal(s->trace_id.len, 8);
  assert_memory_equal(s->trace_id.data, tid, 8);
  assert_memory_equal(s->id.data, sid, 8);
  assert_int_equal(s->parent_id.len, 0);
  assert_string_equal(s->name, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  assert_int_equal(s->timestamp, 1500);
  assert_int_equal(s->duration, 7);
  assert_int_equal(s->n_tags, 2);
  assert_string_equal(s->tags[0]->value, "12.5");
  assert_string_equal(s->tags[1]->value, "false");
  assert_null(s->local_endpoint);
  tg_arena_unref(a);
}

/* ---- OTLP → Zipkin ---- */

static char *zipkin_json_of(const char *otlp_json, const char *default_service) {
  tg_batch *b = otlp_from_json(otlp_json);
  size_t n;
  uint8_t *req = pack_req(b, &n);
  tg_buf out;
  tg_buf_init(&out, 0);
  size_t spans;
  assert_int_equal(tg_zipkin_exp_encode(req, n, 0, default_service, &out, &spans), TG_OK);
  tg_free(req);
  tg_batch_free(b);
  return (char *)out.data;
}

static void test_otlp_to_zipkin(void **state) {
  (void)state;
  const char *otlp =
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
      "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h1\"}}]},"
      "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.0\"},\"spans\":[{"
      "\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"spanId\":\"ffdc9bb9a6453df3\","
      "\"parentSpanId\":\"0000000000000001\",\"name\":\"work\",\"kind\":1,"
      "\"startTimeUnixNano\":\"1000001500\",\"endTimeUnixNano\":\"1000001900\","
      "\"attributes\":[{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},"
      "{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
      "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
      "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\\\"\"},{\"intValue\":\"2\"}]}}},"
      "{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"db\"}},"
      "{\"key\":\"net.peer.ip\",\"value\":{\"stringValue\":\"10.0.0.1\"}},"
      "{\"key\":\"net.peer.port\",\"value\":{\"intValue\":\"5432\"}},"
      "{\"key\":\"sampling.priority\",\"value\":{\"intValue\":\"1\"}},"
      "{\"key\":\"zipkin.shared\",\"value\":{\"boolValue\":true}}],"
      "\"events\":[{\"timeUnixNano\":\"1000001600\",\"name\":\"retry\","
      "\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":\"2\"}}]}],"
      "\"status\":{\"code\":2}}]}]}]}";
  char *got = zipkin_json_of(otlp, "fallback");
  const char *want =
      "[{\"traceId\":\"4e441824ec2b6a44ffdc9bb9a6453df3\",\"parentId\":\"0000000000000001\","
      "\"id\":\"ffdc9bb9a6453df3\",\"name\":\"work\",\"timestamp\":1000001,\"duration\":1,"
      "\"localEndpoint\":{\"serviceName\":\"fallback\"},"
      "\"remoteEndpoint\":{\"serviceName\":\"db\",\"ipv4\":\"10.0.0.1\",\"port\":5432},"
      "\"annotations\":[{\"timestamp\":1000001,\"value\":\"retry: {\\\"n\\\":2}\"}],"
      "\"tags\":{\"i\":\"-5\",\"d\":\"0.1\",\"b\":\"true\",\"arr\":\"[\\\"a\\\\\\\"\\\",2]\","
      "\"host.name\":\"h1\",\"otel.status_code\":\"ERROR\",\"error\":\"true\","
      "\"otel.scope.name\":\"lib\",\"otel.scope.version\":\"1.0\"},"
      "\"debug\":true,\"shared\":true}]";
  assert_string_equal(got, want);
  tg_free(got);
}

/* Zipkin → OTLP → Zipkin keeps what Zipkin carries (64-bit ids stay 64-bit). */
static void test_round_trip(void **state) {
  (void)state;
  const char *in =
      "[{\"traceId\":\"5af7183fb1d4cf5f\",\"parentId\":\"6b221d5bc9e6496c\","
      "\"id\":\"352bff9a74ca9ad2\",\"kind\":\"CLIENT\",\"name\":\"get /api\","
      "\"timestamp\":1556604172355737,\"duration\":1431,"
      "\"localEndpoint\":{\"serviceName\":\"frontend\",\"ipv4\":\"192.168.99.1\",\"port\":3306},"
      "\"remoteEndpoint\":{\"serviceName\":\"backend\",\"ipv6\":\"2001:db8::c001\",\"port\":9000},"
      "\"annotations\":[{\"timestamp\":1556604172355800,\"value\":\"wire send\"}],"
      "\"tags\":{\"http.method\":\"GET\",\"error\":\"connection refused\"},"
      "\"debug\":true,\"shared\":true}]";
  size_t invalid;
  tg_batch *b = decode(TG_ZIPKIN_V2_JSON, in, strlen(in), &invalid);
  size_t n;
  uint8_t *req = pack_req(b, &n);
  tg_buf out;
  tg_buf_init(&out, 0);
  size_t spans;
  assert_int_equal(tg_zipkin_exp_encode(req, n, 0, NULL, &out, &spans), TG_OK);
  const char *want =
      "[{\"traceId\":\"5af7183fb1d4cf5f\",\"parentId\":\"6b221d5bc9e6496c\","
      "\"id\":\"352bff9a74ca9ad2\",\"kind\":\"CLIENT\",\"name\":\"get /api\","
      "\"timestamp\":1556604172355737,\"duration\":1431,"
      "\"localEndpoint\":{\"serviceName\":\"frontend\",\"ipv4\":\"192.168.99.1\",\"port\":3306},"
      "\"remoteEndpoint\":{\"serviceName\":\"backend\",\"ipv6\":\"2001:db8::c001\",\"port\":9000},"
      "\"annotations\":[{\"timestamp\":1556604172355800,\"value\":\"wire send\"}],"
      "\"tags\":{\"http.method\":\"GET\",\"otel.status_code\":\"ERROR\","
      "\"error\":\"connection refused\"},\"debug\":true,\"shared\":true}]";
  assert_string_equal((const char *)out.data, want);
  /* proto: the same model, so decoding the proto body gives back the same OTLP */
  tg_buf pb;
  tg_buf_init(&pb, 0);
  assert_int_equal(tg_zipkin_exp_encode(req, n, 1, NULL, &pb, &spans), TG_OK);
  assert_int_equal(spans, 1);
  tg_batch *back = decode(TG_ZIPKIN_V2_PROTO, (const char *)pb.data, pb.len, &invalid);
  tg_batch *again = decode(TG_ZIPKIN_V2_JSON, (const char *)out.data, out.len, &invalid);
  assert_same_otlp(b, back);
  assert_same_otlp(b, again);
  tg_batch_free(back);
  tg_batch_free(again);
  tg_buf_free(&pb);
  tg_buf_free(&out);
  tg_free(req);
  tg_batch_free(b);
}

/* Invalid UTF-8 and control characters in OTLP strings come out as valid JSON. */
static void test_json_escaping(void **state) {
  (void)state;
  tg_buf out;
  tg_buf_init(&out, 0);
  const char in[] = "a\"\\\n\x01\xff\xc3\xa9z";
  assert_int_equal(tg_zipkin_json_append_string(&out, in, sizeof in - 1), TG_OK);
  assert_string_equal((const char *)out.data, "\"a\\\"\\\\\\n\\u0001\xef\xbf\xbd\xc3\xa9z\"");
  tg_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v2_json_to_otlp),  cmocka_unit_test(test_v2_proto_to_otlp),
      cmocka_unit_test(test_v1_json_to_otlp),  cmocka_unit_test(test_invalid_ids_counted),
      cmocka_unit_test(test_json_errors),      cmocka_unit_test(test_json_lenient),
      cmocka_unit_test(test_otlp_to_zipkin),   cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_json_escaping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
