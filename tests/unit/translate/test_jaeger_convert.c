/* Jaeger conversion, both directions (translate/jaeger/jaeger_to_otlp.c and
 * translate/jaeger/jaeger_from_otlp.c), table-driven.
 *
 * Round trips: each case is an OTLP/JSON request (decoded by the otlp receiver's
 * decoder) taken OTLP → Jaeger → OTLP over every wire Jaeger data travels on (the model
 * as is, api_v2 protobuf, Thrift binary, Thrift compact) and compared, packed, with the
 * expected OTLP (the input itself unless the case says otherwise).
 * Directed cases check Jaeger → OTLP rules on hand-built Jaeger spans (64-bit ids,
 * flags, error without status, references without parent, missing service name), and
 * OTLP → Jaeger tag by tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "translate/jaeger/jaeger_model.h"
#include "exporters/jaeger/jaeger_thrift_encode.h"
#include "receivers/jaeger/jaeger_thrift.h"
#include "receivers/otlp/otlp_json.h"
#include "tg_alloc.h"
#include "tg_error.h"

#define TID "5b8efff798038103d269b633813fc60c"
#define TID64 "0000000000000000d269b633813fc60c"
#define SID "eee19b7ec3c1b174"
#define PID "eee19b7ec3c1b173"
#define T0 "1544712660000000000"
#define T1 "1544712661000000000"

static tg_batch *otlp_from_json(const char *json) {
  tg_batch *b = tg_batch_new(0, 0);
  char err[256] = "";
  int rc = tg_otlp_json_decode(b, (const uint8_t *)json, strlen(json), err, sizeof err);
  if (rc != TG_OK)
    fail_msg("bad test JSON (%s): %s", err, json);
  return b;
}

static uint8_t *pack_rs(const tg_resource_spans *rs, size_t *len) {
  *len = opentelemetry__proto__trace__v1__resource_spans__get_packed_size(rs);
  uint8_t *out = tg_malloc(*len + 1);
  opentelemetry__proto__trace__v1__resource_spans__pack(rs, out);
  return out;
}

static void hexdump(const char *what, const uint8_t *p, size_t n) {
  printf("%s (%zu bytes):", what, n);
  for (size_t i = 0; i < n; i++)
    printf("%s%02x", i % 32 ? "" : "\n  ", p[i]);
  printf("\n");
}

static void assert_same_rs(const tg_resource_spans *want, const tg_resource_spans *got,
                           const char *name, const char *path) {
  size_t wl, gl;
  uint8_t *w = pack_rs(want, &wl), *g = pack_rs(got, &gl);
  if (wl != gl || memcmp(w, g, wl)) {
    hexdump("expected", w, wl);
    hexdump("got", g, gl);
    tg_free(w);
    tg_free(g);
    fail_msg("case \"%s\" via %s: OTLP differs after the round trip", name, path);
  }
  tg_free(w);
  tg_free(g);
}

enum { VIA_MODEL, VIA_PROTO, VIA_THRIFT_BINARY, VIA_THRIFT_COMPACT, VIA_COUNT_ };
static const char *const via_names[] = {"model", "api_v2 protobuf", "thrift binary",
                                        "thrift compact"};

/* Jaeger batch → its wire form and back, in arena. */
static tg_jaeger_batch *over_wire(tg_arena *a, tg_jaeger_batch *jb, int via) {
  if (via == VIA_MODEL)
    return jb;
  tg_jaeger_batch *back = NULL;
  if (via == VIA_PROTO) {
    tg_jaeger_post_spans req = JAEGER__API_V2__POST_SPANS_REQUEST__INIT;
    req.batch = jb;
    size_t n = jaeger__api_v2__post_spans_request__get_packed_size(&req);
    uint8_t *buf = tg_arena_alloc(a, n + 1);
    jaeger__api_v2__post_spans_request__pack(&req, buf);
    tg_jaeger_post_spans *r =
        jaeger__api_v2__post_spans_request__unpack(&a->pb_allocator, n, buf);
    assert_non_null(r);
    return r->batch;
  }
  tg_thrift_protocol proto = via == VIA_THRIFT_BINARY ? TG_THRIFT_BINARY : TG_THRIFT_COMPACT;
  tg_buf buf;
  tg_buf_init(&buf, 0);
  assert_int_equal(tg_jaeger_thrift_encode_batch(&buf, proto, jb), TG_OK);
  char err[200];
  int rc = tg_jaeger_thrift_decode_batch(a, proto, buf.data, buf.len, &back, err, sizeof err);
  tg_buf_free(&buf);
  if (rc != TG_OK)
    fail_msg("%s did not decode our own encoding: %s", via_names[via], err);
  return back;
}

typedef struct round_trip {
  const char *name;
  const char *input;    /* OTLP/JSON with one resourceSpans */
  const char *expected; /* NULL: the input itself */
} round_trip;

#define RS(resource, scopes) "{\"resourceSpans\":[{\"resource\":" resource ",\"scopeSpans\":[" scopes "]}]}"
#define SVC(name) "{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"" name "\"}}]}"
#define SCOPE(name, version, spans) \
  "{\"scope\":{\"name\":\"" name "\",\"version\":\"" version "\"},\"spans\":[" spans "]}"
#define SPAN(extra) \
  "{\"traceId\":\"" TID "\",\"spanId\":\"" SID "\",\"name\":\"op\",\"startTimeUnixNano\":\"" T0 \
  "\",\"endTimeUnixNano\":\"" T1 "\"" extra "}"

static const round_trip round_trips[] = {
    {"minimal span", RS(SVC("svc"), SCOPE("", "", SPAN(""))), NULL},
    {"every attribute type",
     RS("{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
        "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h\"}},"
        "{\"key\":\"pid\",\"value\":{\"intValue\":\"42\"}}]}",
        SCOPE("", "", SPAN(",\"attributes\":["
                           "{\"key\":\"s\",\"value\":{\"stringValue\":\"v\"}},"
                           "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
                           "{\"key\":\"f\",\"value\":{\"boolValue\":false}},"
                           "{\"key\":\"i\",\"value\":{\"intValue\":\"-9007199254740993\"}},"
                           "{\"key\":\"d\",\"value\":{\"doubleValue\":2.5}},"
                           "{\"key\":\"x\",\"value\":{\"bytesValue\":\"AAEC/w==\"}},"
                           "{\"key\":\"error\",\"value\":{\"boolValue\":false}}]"))),
     NULL},
    {"arrays and maps become JSON strings",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"attributes\":["
                                       "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":["
                                       "{\"intValue\":\"1\"},{\"stringValue\":\"q\\\"\"}]}}},"
                                       "{\"key\":\"m\",\"value\":{\"kvlistValue\":{\"values\":["
                                       "{\"key\":\"k\",\"value\":{\"boolValue\":true}}]}}}]"))),
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"attributes\":["
                                       "{\"key\":\"a\",\"value\":{\"stringValue\":\"[1,\\\"q\\\\\\\"\\\"]\"}},"
                                       "{\"key\":\"m\",\"value\":{\"stringValue\":\"{\\\"k\\\":true}\"}}]")))},
    {"64-bit trace id (zero high half)",
     RS(SVC("svc"), SCOPE("", "", "{\"traceId\":\"" TID64 "\",\"spanId\":\"" SID
                                  "\",\"parentSpanId\":\"" PID "\",\"name\":\"op\","
                                  "\"startTimeUnixNano\":\"" T0 "\",\"endTimeUnixNano\":\"" T1 "\"}")),
     NULL},
    {"parent, kind, sampled flag",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"parentSpanId\":\"" PID "\",\"kind\":2,\"flags\":1"))),
     NULL},
    {"every span kind",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"kind\":1") "," SPAN(",\"kind\":3") "," SPAN(",\"kind\":4")
                                      "," SPAN(",\"kind\":5"))),
     NULL},
    {"status error with message",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"status\":{\"code\":2,\"message\":\"boom\"}"))), NULL},
    {"status error without message",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"status\":{\"code\":2}"))), NULL},
    {"status ok with message",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"status\":{\"code\":1,\"message\":\"fine\"}"))), NULL},
    {"scope name and version, two scopes",
     RS(SVC("svc"), SCOPE("lib-a", "1.2.3", SPAN("")) "," SCOPE("lib-b", "", SPAN(""))), NULL},
    {"trace state",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"traceState\":\"ot=th:8;rv:1,vendor=x\""))), NULL},
    {"events become logs and back",
     RS(SVC("svc"),
        SCOPE("", "", SPAN(",\"events\":[{\"timeUnixNano\":\"1544712660500000000\",\"name\":\"retry\","
                           "\"attributes\":[{\"key\":\"attempt\",\"value\":{\"intValue\":\"2\"}}]},"
                           "{\"timeUnixNano\":\"1544712660600000000\"}]"))),
     NULL},
    {"links with ref types",
     RS(SVC("svc"),
        SCOPE("", "", SPAN(",\"parentSpanId\":\"" PID "\",\"links\":["
                           "{\"traceId\":\"" TID64 "\",\"spanId\":\"0000000000000007\",\"attributes\":"
                           "[{\"key\":\"opentracing.ref_type\",\"value\":{\"stringValue\":\"follows_from\"}}]},"
                           "{\"traceId\":\"" TID "\",\"spanId\":\"0000000000000008\",\"attributes\":"
                           "[{\"key\":\"opentracing.ref_type\",\"value\":{\"stringValue\":\"child_of\"}}]}]"))),
     NULL},
    {"references without parent",
     RS(SVC("svc"),
        SCOPE("", "", SPAN(",\"links\":[{\"traceId\":\"" TID "\",\"spanId\":\"0000000000000007\","
                           "\"attributes\":[{\"key\":\"opentracing.ref_type\",\"value\":"
                           "{\"stringValue\":\"follows_from\"}}]}]"))),
     NULL},
    {"a link without ref type becomes FOLLOWS_FROM, its other attributes go",
     RS(SVC("svc"),
        SCOPE("", "", SPAN(",\"links\":[{\"traceId\":\"" TID "\",\"spanId\":\"0000000000000007\","
                           "\"traceState\":\"a=b\",\"attributes\":[{\"key\":\"k\",\"value\":"
                           "{\"stringValue\":\"v\"}}]}]"))),
     RS(SVC("svc"),
        SCOPE("", "", SPAN(",\"links\":[{\"traceId\":\"" TID "\",\"spanId\":\"0000000000000007\","
                           "\"attributes\":[{\"key\":\"opentracing.ref_type\",\"value\":"
                           "{\"stringValue\":\"follows_from\"}}]}]")))},
    {"missing service name", RS("{\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]}",
                                SCOPE("", "", SPAN(""))),
     NULL},
    {"no resource at all", RS("{}", SCOPE("", "", SPAN(""))), NULL},
    {"error attribute without status is only an attribute",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"attributes\":[{\"key\":\"error\",\"value\":{\"boolValue\":false}}]"))),
     NULL},
    {"flag bits beyond sampled are not Jaeger's",
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"flags\":769"))),
     RS(SVC("svc"), SCOPE("", "", SPAN(",\"flags\":1")))},
};

static void test_round_trips(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof round_trips / sizeof round_trips[0]; i++) {
    const round_trip *rt = &round_trips[i];
    tg_batch *in = otlp_from_json(rt->input);
    tg_batch *want = otlp_from_json(rt->expected ? rt->expected : rt->input);
    assert_int_equal(in->request.n_resource_spans, 1);
    for (int via = 0; via < VIA_COUNT_; via++) {
      tg_arena *a = tg_arena_new(0, 0);
      tg_jaeger_batch *jb = NULL;
      assert_int_equal(tg_jaeger_from_otlp(a, in->request.resource_spans[0], &jb), TG_OK);
      tg_jaeger_batch *back = over_wire(a, jb, via);
      tg_batch *out = tg_batch_new(0, 0);
      assert_int_equal(tg_batch_share_arena(out, a), TG_OK);
      size_t invalid = 99;
      assert_int_equal(tg_jaeger_to_otlp(out, back, &invalid), TG_OK);
      assert_int_equal(invalid, 0);
      assert_int_equal(out->span_count, want->span_count);
      assert_int_equal(out->request.n_resource_spans, 1);
      assert_same_rs(want->request.resource_spans[0], out->request.resource_spans[0],
                     rt->name, via_names[via]);
      tg_batch_free(out);
      tg_arena_unref(a);
    }
    tg_batch_free(in);
    tg_batch_free(want);
  }
}

/* ---- Jaeger → OTLP, directed ---------------------------------------------------------- */

typedef struct jfix {
  tg_arena *a;
  tg_jaeger_batch batch;
  tg_jaeger_process process;
  tg_jaeger_span *spans[4];
  tg_batch *out;
} jfix;

static ProtobufCBinaryData id_bytes(tg_arena *a, uint64_t high, uint64_t low, int len) {
  uint8_t *p = tg_arena_alloc(a, 16);
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)(high >> (56 - 8 * i));
    p[8 + i] = (uint8_t)(low >> (56 - 8 * i));
  }
  return (ProtobufCBinaryData){.len = (size_t)len, .data = len == 8 ? p + 8 : p};
}

static tg_jaeger_kv *kv_str(tg_arena *a, const char *k, const char *v) {
  tg_jaeger_kv *kv = tg_arena_alloc(a, sizeof *kv);
  jaeger__api_v2__key_value__init(kv);
  kv->key = (char *)k;
  kv->v_str = (char *)v;
  return kv;
}

static tg_jaeger_kv *kv_bool(tg_arena *a, const char *k, int v) {
  tg_jaeger_kv *kv = kv_str(a, k, "");
  kv->v_type = JAEGER__API_V2__VALUE_TYPE__BOOL;
  kv->v_bool = v;
  return kv;
}

static tg_jaeger_span *jspan(jfix *f, uint64_t high, uint64_t low, uint64_t span) {
  tg_jaeger_span *s = tg_arena_alloc(f->a, sizeof *s);
  jaeger__api_v2__span__init(s);
  s->trace_id = id_bytes(f->a, high, low, 16);
  s->span_id = id_bytes(f->a, 0, span, 8);
  s->operation_name = "op";
  f->spans[f->batch.n_spans++] = s;
  return s;
}

static void add_ref(jfix *f, tg_jaeger_span *s, uint64_t high, uint64_t low, uint64_t span,
                    int type) {
  tg_jaeger_ref **refs = tg_arena_alloc(f->a, (s->n_references + 1) * sizeof *refs);
  if (s->n_references)
    memcpy(refs, s->references, s->n_references * sizeof *refs);
  tg_jaeger_ref *r = tg_arena_alloc(f->a, sizeof *r);
  jaeger__api_v2__span_ref__init(r);
  r->trace_id = id_bytes(f->a, high, low, 16);
  r->span_id = id_bytes(f->a, 0, span, 8);
  r->ref_type = type;
  refs[s->n_references++] = r;
  s->references = refs;
}

static void set_tags(jfix *f, tg_jaeger_span *s, tg_jaeger_kv **tags, size_t n) {
  s->tags = tg_arena_alloc(f->a, n * sizeof *tags);
  memcpy(s->tags, tags, n * sizeof *tags);
  s->n_tags = n;
}

static int jsetup(void **state) {
  jfix *f = tg_calloc(1, sizeof *f);
  f->a = tg_arena_new(0, 0);
  jaeger__api_v2__batch__init(&f->batch);
  jaeger__api_v2__process__init(&f->process);
  f->process.service_name = "svc";
  f->batch.process = &f->process;
  f->batch.spans = f->spans;
  *state = f;
  return 0;
}

static int jteardown(void **state) {
  jfix *f = *state;
  tg_batch_free(f->out);
  tg_arena_unref(f->a);
  tg_free(f);
  return 0;
}

/* Converts the fixture's batch (via the Thrift wire `via`, or directly) and returns the
 * span at index i of the (single) resource's first scope. */
static tg_span *convert(jfix *f, int via, size_t expect_spans) {
  tg_batch_free(f->out);
  f->out = tg_batch_new(0, 0);
  assert_int_equal(tg_batch_share_arena(f->out, f->a), TG_OK);
  size_t invalid;
  assert_int_equal(tg_jaeger_to_otlp(f->out, over_wire(f->a, &f->batch, via), &invalid), TG_OK);
  assert_int_equal(f->out->span_count, expect_spans);
  if (!expect_spans)
    return NULL;
  return f->out->request.resource_spans[0]->scope_spans[0]->spans[0];
}

static const tg_key_value *attr(const tg_key_value *const *kv, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(kv[i]->key, key))
      return kv[i];
  return NULL;
}

static void test_64bit_trace_id(void **state) {
  jfix *f = *state;
  jspan(f, 0, 0xd269b633813fc60cull, 0x42);
  for (int via = 0; via < VIA_COUNT_; via++) {
    tg_span *s = convert(f, via, 1);
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                     0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
    assert_int_equal(s->trace_id.len, 16);
    assert_memory_equal(s->trace_id.data, want, 16);
  }
}

static void test_flags(void **state) {
  jfix *f = *state;
  jspan(f, 1, 2, 3)->flags = TG_JAEGER_FLAG_SAMPLED | TG_JAEGER_FLAG_DEBUG;
  for (int via = 0; via < VIA_COUNT_; via++) {
    tg_span *s = convert(f, via, 1);
    assert_int_equal(s->flags, 1);
    const tg_key_value *p = attr((const tg_key_value *const *)s->attributes,
                                 s->n_attributes, "sampling.priority");
    assert_non_null(p);
    assert_int_equal(p->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    assert_int_equal(p->value->int_value, 1);
  }
  f->spans[0]->flags = 0;
  tg_span *s = convert(f, VIA_MODEL, 1);
  assert_int_equal(s->flags, 0);
  assert_int_equal(s->n_attributes, 0);
}

static void test_error_without_status(void **state) {
  jfix *f = *state;
  tg_jaeger_span *js = jspan(f, 1, 2, 3);
  tg_jaeger_kv *tags[] = {kv_bool(f->a, "error", 1), kv_str(f->a, "otel.status_description", "d"),
                          kv_str(f->a, "k", "v")};
  set_tags(f, js, tags, 3);
  for (int via = 0; via < VIA_COUNT_; via++) {
    tg_span *s = convert(f, via, 1);
    assert_non_null(s->status);
    assert_int_equal(s->status->code,
                     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    assert_string_equal(s->status->message, "d");
    assert_int_equal(s->n_attributes, 1);
    assert_string_equal(s->attributes[0]->key, "k");
  }
  /* error=true wins over otel.status_code=OK, which is dropped either way */
  tg_jaeger_kv *t2[] = {kv_str(f->a, "otel.status_code", "OK"), kv_bool(f->a, "error", 1)};
  set_tags(f, js, t2, 2);
  tg_span *s = convert(f, VIA_MODEL, 1);
  assert_int_equal(s->status->code,
                   OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
  assert_int_equal(s->n_attributes, 0);
  /* lower-case otel.status_code */
  tg_jaeger_kv *t3[] = {kv_str(f->a, "otel.status_code", "ok")};
  set_tags(f, js, t3, 1);
  s = convert(f, VIA_MODEL, 1);
  assert_int_equal(s->status->code,
                   OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK);
  /* a description without any status stays an attribute */
  tg_jaeger_kv *t4[] = {kv_str(f->a, "otel.status_description", "x")};
  set_tags(f, js, t4, 1);
  s = convert(f, VIA_MODEL, 1);
  assert_null(s->status);
  assert_int_equal(s->n_attributes, 1);
}

static void test_refs_without_parent(void **state) {
  jfix *f = *state;
  tg_jaeger_span *js = jspan(f, 1, 2, 3);
  add_ref(f, js, 1, 2, 7, JAEGER__API_V2__SPAN_REF_TYPE__FOLLOWS_FROM);
  add_ref(f, js, 9, 9, 8, JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF); /* another trace */
  for (int via = 0; via < VIA_COUNT_; via++) {
    tg_span *s = convert(f, via, 1);
    assert_int_equal(s->parent_span_id.len, 0);
    assert_int_equal(s->n_links, 2);
    assert_string_equal(s->links[0]->attributes[0]->value->string_value, "follows_from");
    assert_string_equal(s->links[1]->attributes[0]->value->string_value, "child_of");
    assert_int_equal(s->links[1]->span_id.data[7], 8);
  }
  /* a CHILD_OF in the same trace after a FOLLOWS_FROM is the parent, not a link */
  add_ref(f, js, 1, 2, 5, JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF);
  tg_span *s = convert(f, VIA_THRIFT_COMPACT, 1);
  assert_int_equal(s->parent_span_id.len, 8);
  assert_int_equal(s->parent_span_id.data[7], 5);
  assert_int_equal(s->n_links, 2);
}

static void test_missing_service_name(void **state) {
  jfix *f = *state;
  jspan(f, 1, 2, 3);
  const char *names[] = {"", TG_JAEGER_NO_SERVICE_NAME};
  for (int i = 0; i < 2; i++) {
    f->process.service_name = (char *)names[i];
    for (int via = 0; via < VIA_COUNT_; via++) {
      convert(f, via, 1);
      assert_int_equal(f->out->request.resource_spans[0]->resource->n_attributes, 0);
    }
  }
}

static void test_kind_and_special_tags(void **state) {
  jfix *f = *state;
  tg_jaeger_span *js = jspan(f, 1, 2, 3);
  tg_jaeger_kv *tags[] = {kv_str(f->a, "span.kind", "consumer"),
                          kv_str(f->a, "w3c.tracestate", "a=1"),
                          kv_str(f->a, "otel.library.name", "old-lib"),
                          kv_str(f->a, "otel.scope.version", "9")};
  set_tags(f, js, tags, 4);
  tg_span *s = convert(f, VIA_THRIFT_BINARY, 1);
  assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER);
  assert_string_equal(s->trace_state, "a=1");
  assert_int_equal(s->n_attributes, 0);
  tg_scope *scope = f->out->request.resource_spans[0]->scope_spans[0]->scope;
  assert_string_equal(scope->name, "old-lib");
  assert_string_equal(scope->version, "9");
  tg_jaeger_kv *t2[] = {kv_str(f->a, "span.kind", "weird")};
  set_tags(f, js, t2, 1);
  s = convert(f, VIA_MODEL, 1);
  assert_int_equal(s->kind, 0);
  assert_int_equal(s->n_attributes, 0);
}

static void test_span_process_and_invalid_ids(void **state) {
  jfix *f = *state;
  jspan(f, 1, 2, 3);
  tg_jaeger_span *own = jspan(f, 1, 2, 4);
  tg_jaeger_process *p = tg_arena_alloc(f->a, sizeof *p);
  jaeger__api_v2__process__init(p);
  p->service_name = "other";
  own->process = p;
  jspan(f, 0, 0, 5);          /* all-zero trace id */
  jspan(f, 1, 2, 0);          /* all-zero span id */
  f->out = tg_batch_new(0, 0);
  size_t invalid;
  assert_int_equal(tg_jaeger_to_otlp(f->out, &f->batch, &invalid), TG_OK);
  assert_int_equal(invalid, 2);
  assert_int_equal(f->out->span_count, 2);
  assert_int_equal(f->out->request.n_resource_spans, 2);
  assert_string_equal(
      f->out->request.resource_spans[1]->resource->attributes[0]->value->string_value, "other");
}

/* Many distinct scopes (the hashed grouping): spans land in their scope's group, groups
 * in first-seen order, each span once. */
static void test_many_scopes(void **state) {
  jfix *f = *state;
  enum { N = 600, SCOPES = 150 };
  tg_jaeger_span *spans[N];
  f->batch.spans = spans;
  char names[SCOPES][16];
  for (int i = 0; i < SCOPES; i++)
    snprintf(names[i], sizeof names[i], "lib%d", i);
  for (int i = 0; i < N; i++) {
    tg_jaeger_span *s = tg_arena_alloc(f->a, sizeof *s);
    jaeger__api_v2__span__init(s);
    s->trace_id = id_bytes(f->a, 1, 2, 16);
    s->span_id = id_bytes(f->a, 0, (uint64_t)i + 1, 8);
    s->operation_name = "op";
    tg_jaeger_kv *t[] = {kv_str(f->a, "otel.scope.name", names[i % SCOPES])};
    set_tags(f, s, t, 1);
    spans[f->batch.n_spans++] = s;
  }
  f->out = tg_batch_new(0, 0);
  size_t invalid;
  assert_int_equal(tg_jaeger_to_otlp(f->out, &f->batch, &invalid), TG_OK);
  assert_int_equal(f->out->span_count, N);
  tg_resource_spans *rs = f->out->request.resource_spans[0];
  assert_int_equal(rs->n_scope_spans, SCOPES);
  for (int k = 0; k < SCOPES; k++) {
    tg_scope_spans *ss = rs->scope_spans[k];
    assert_string_equal(ss->scope->name, names[k]);
    assert_int_equal(ss->n_spans, N / SCOPES);
    for (size_t j = 0; j < ss->n_spans; j++)
      assert_int_equal(ss->spans[j]->span_id.data[7], (uint8_t)(k + (int)j * SCOPES + 1));
  }
  f->batch.spans = f->spans;
  f->batch.n_spans = 0;
}

/* ---- OTLP → Jaeger, tag by tag ------------------------------------------------------ */

static const tg_jaeger_kv *tag(const tg_jaeger_span *s, const char *key) {
  for (size_t i = 0; i < s->n_tags; i++)
    if (!strcmp(s->tags[i]->key, key))
      return s->tags[i];
  return NULL;
}

static void test_otlp_to_jaeger_tags(void **state) {
  (void)state;
  tg_batch *in = otlp_from_json(
      RS("{}", SCOPE("lib", "2", SPAN(",\"kind\":3,\"traceState\":\"t=1\",\"parentSpanId\":\"" PID
                                      "\",\"status\":{\"code\":2,\"message\":\"bad\"},"
                                      "\"events\":[{\"timeUnixNano\":\"" T0 "\",\"name\":\"e\"}]"))));
  tg_arena *a = tg_arena_new(0, 0);
  tg_jaeger_batch *jb;
  assert_int_equal(tg_jaeger_from_otlp(a, in->request.resource_spans[0], &jb), TG_OK);
  assert_string_equal(jb->process->service_name, TG_JAEGER_NO_SERVICE_NAME);
  assert_int_equal(jb->n_spans, 1);
  const tg_jaeger_span *s = jb->spans[0];
  assert_string_equal(tag(s, "span.kind")->v_str, "client");
  assert_string_equal(tag(s, "otel.status_code")->v_str, "ERROR");
  assert_int_equal(tag(s, "error")->v_type, JAEGER__API_V2__VALUE_TYPE__BOOL);
  assert_true(tag(s, "error")->v_bool);
  assert_string_equal(tag(s, "otel.status_description")->v_str, "bad");
  assert_string_equal(tag(s, "w3c.tracestate")->v_str, "t=1");
  assert_string_equal(tag(s, "otel.scope.name")->v_str, "lib");
  assert_string_equal(tag(s, "otel.scope.version")->v_str, "2");
  assert_int_equal(s->n_references, 1);
  assert_int_equal(s->references[0]->ref_type, JAEGER__API_V2__SPAN_REF_TYPE__CHILD_OF);
  assert_int_equal(s->start_time->seconds, 1544712660);
  assert_int_equal(s->duration->seconds, 1);
  assert_int_equal(s->n_logs, 1);
  assert_string_equal(s->logs[0]->fields[0]->key, "event");
  assert_string_equal(s->logs[0]->fields[0]->v_str, "e");
  tg_arena_unref(a);
  tg_batch_free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test_setup_teardown(test_64bit_trace_id, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_flags, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_error_without_status, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_refs_without_parent, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_missing_service_name, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_kind_and_special_tags, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_span_process_and_invalid_ids, jsetup, jteardown),
      cmocka_unit_test_setup_teardown(test_many_scopes, jsetup, jteardown),
      cmocka_unit_test(test_otlp_to_jaeger_tags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
