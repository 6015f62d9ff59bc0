/* libFuzzer target for the filter processor's OTTL condition parser and evaluator.
 * Input: byte 0 selects the context (even: span, odd: spanevent), the rest is the
 * condition text. Checked beyond "no crash, no leak, no unbounded recursion":
 *  - a refused condition reports an offset inside the text (or at its end) and a message;
 *  - an accepted condition evaluates to the same answer twice on a fixed span;
 *  - when `not (C)` also compiles and C evaluates without error, it gives the opposite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processors/filter/filter_ottl.h"


static tg_any_value v_route, v_code, v_ratio, v_flag, v_arr, v_svc;
static tg_key_value kv_route, kv_code, kv_ratio, kv_flag, kv_arr, kv_svc;
static tg_key_value *span_attrs[5], *res_attrs[1];
static tg_span span;
static tg_span_event event;
static tg_resource resource;
static tg_scope scope;
static tg_span_status status;
static tg_array_value arr;

static void init_fixture(void) {
  opentelemetry__proto__common__v1__any_value__init(&v_route);
  v_route.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v_route.string_value = "/health";
  opentelemetry__proto__common__v1__any_value__init(&v_code);
  v_code.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v_code.int_value = 503;
  opentelemetry__proto__common__v1__any_value__init(&v_ratio);
  v_ratio.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  v_ratio.double_value = 0.25;
  opentelemetry__proto__common__v1__any_value__init(&v_flag);
  v_flag.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
  v_flag.bool_value = 1;
  opentelemetry__proto__common__v1__array_value__init(&arr);
  opentelemetry__proto__common__v1__any_value__init(&v_arr);
  v_arr.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  v_arr.array_value = &arr;
  opentelemetry__proto__common__v1__any_value__init(&v_svc);
  v_svc.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v_svc.string_value = "checkout";
  tg_key_value *kvs[] = {&kv_route, &kv_code, &kv_ratio, &kv_flag, &kv_arr};
  const char *keys[] = {"http.route", "http.status_code", "ratio", "cached", "tags"};
  tg_any_value *vals[] = {&v_route, &v_code, &v_ratio, &v_flag, &v_arr};
  for (int i = 0; i < 5; i++) {
    opentelemetry__proto__common__v1__key_value__init(kvs[i]);
    kvs[i]->key = (char *)keys[i];
    kvs[i]->value = vals[i];
    span_attrs[i] = kvs[i];
  }
  opentelemetry__proto__common__v1__key_value__init(&kv_svc);
  kv_svc.key = "service.name";
  kv_svc.value = &v_svc;
  res_attrs[0] = &kv_svc;
  opentelemetry__proto__trace__v1__span__init(&span);
  span.name = "GET /health";
  span.kind = 2;
  span.attributes = span_attrs;
  span.n_attributes = 5;
  opentelemetry__proto__trace__v1__status__init(&status);
  status.code = 2;
  span.status = &status;
  opentelemetry__proto__trace__v1__span__event__init(&event);
  event.name = "exception";
  event.attributes = span_attrs;
  event.n_attributes = 2;
  opentelemetry__proto__resource__v1__resource__init(&resource);
  resource.attributes = res_attrs;
  resource.n_attributes = 1;
  opentelemetry__proto__common__v1__instrumentation_scope__init(&scope);
  scope.name = "lib";
}

static int eval_once(const char *text, size_t len, tg_ottl_context ctx, int *result) {
  tg_ottl_cond *c = NULL;
  unsigned caps = 0;
  size_t off = (size_t)-1;
  char why[512];
  why[0] = '\0';
  int rc = tg_ottl_compile(text, len, ctx, &c, &caps, &off, why, sizeof why);
  if (rc != 0) {
    if (c || off > len || !why[0])
      abort();
    return rc;
  }
  tg_matcher m;
  if (tg_matcher_init(&m, caps) != 0)
    abort();
  tg_ottl_env env = {.resource = &resource, .scope = &scope, .span = &span, .event = &event};
  int a = tg_ottl_eval(c, &env, &m, why, sizeof why);
  int b = tg_ottl_eval(c, &env, &m, why, sizeof why);
  if (a != b || a < -1 || a > 1)
    abort();
  *result = a;
  tg_matcher_free(&m);
  tg_ottl_free(c);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    init_fixture();
    ready = 1;
  }
  if (size < 1 || size > 4096)
    return 0;
  tg_ottl_context ctx = (data[0] & 1) ? TG_OTTL_SPANEVENT : TG_OTTL_SPAN;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  int r = 0;
  if (eval_once(text, len, ctx, &r) != 0 || r < 0)
    return 0;
  char *neg = malloc(len + 8);
  if (!neg)
    return 0;
  memcpy(neg, "not (", 5);
  memcpy(neg + 5, text, len);
  neg[len + 5] = ')';
  int nr = 0;
  if (eval_once(neg, len + 6, ctx, &nr) == 0 && nr != !r)
    abort();
  free(neg);
  return 0;
}
