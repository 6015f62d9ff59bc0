/* OTLP/JSON input of `tailgate sampling explain`: an ExportTraceServiceRequest (or the
 * file exporters' one-request-per-line form, first line) decoded into a batch's span
 * tree with jansson. It reads what a sampling policy can look at — resource and span
 * attributes, ids, names, kind, times, status, tracestate, flags — and ignores the rest
 * (events, links), so it is deliberately not the OTLP receiver's full decoder (which a
 * processor may not include). lowerCamelCase and proto field names are both accepted,
 * 64-bit integers as strings or numbers, enums as integers or names. Every string and
 * message lives in the batch's arena; jansson's DOM is freed before returning. Input
 * is untrusted (a file from anywhere): sizes are checked, nesting is bounded, and the
 * fuzz target tests/fuzz/sampling_explain runs it. */
#include "ts_explain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tg_error.h"
#include "tg_hex.h"

#define MAX_ANY_DEPTH 16

typedef struct jctx {
  tg_arena *a;
  char *err;
  size_t err_size;
} jctx;

static int fail(jctx *c, const char *msg) {
  if (c->err && c->err_size)
    snprintf(c->err, c->err_size, "%s", msg);
  return TG_EDECODE;
}

static json_t *get(const json_t *o, const char *camel, const char *snake) {
  json_t *v = json_object_get(o, camel);
  return v ? v : json_object_get(o, snake);
}

static char *dup_str(jctx *c, const char *s, size_t len) {
  char *d = tg_arena_alloc(c->a, len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = 0;
  }
  return d;
}

/* An id of n bytes written as 2n hex digits; absent or "" gives an empty id. */
static int hex_id(jctx *c, const json_t *v, size_t n, ProtobufCBinaryData *out) {
  out->len = 0;
  out->data = NULL;
  if (!v)
    return TG_OK;
  if (!json_is_string(v))
    return fail(c, "an id must be a hex string");
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (len == 0)
    return TG_OK;
  if (len != 2 * n)
    return fail(c, n == 16 ? "traceId must be 32 hex digits" : "spanId must be 16 hex digits");
  uint8_t *d = tg_arena_alloc(c->a, n);
  if (!d)
    return TG_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int hi = tg_hex_digit(s[2 * i]), lo = tg_hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return fail(c, "an id has a non-hex digit");
    d[i] = (uint8_t)(hi << 4 | lo);
  }
  out->data = d;
  out->len = n;
  return TG_OK;
}

/* A 64-bit integer as a JSON number or a decimal string. */
static int int64_of(jctx *c, const json_t *v, int64_t *out) {
  if (!v) {
    *out = 0;
    return TG_OK;
  }
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return TG_OK;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno)
      return fail(c, "an integer string does not parse");
    *out = x;
    return TG_OK;
  }
  return fail(c, "an integer must be a number or a string");
}

static int uint64_of(jctx *c, const json_t *v, uint64_t *out) {
  if (v && json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    if (*s == '-')
      return fail(c, "a time must not be negative");
    unsigned long long x = strtoull(s, &end, 10);
    if (end == s || *end || errno)
      return fail(c, "a time string does not parse");
    *out = x;
    return TG_OK;
  }
  int64_t x;
  int rc = int64_of(c, v, &x);
  if (rc == TG_OK && x < 0)
    return fail(c, "a time must not be negative");
  *out = (uint64_t)x;
  return rc;
}

/* An enum as a number or one of the names (index = value). */
static int enum_of(jctx *c, const json_t *v, const char *const *names, size_t n, int *out) {
  *out = 0;
  if (!v)
    return TG_OK;
  if (json_is_integer(v)) {
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > 1000)
      return fail(c, "an enum value is out of range");
    *out = (int)x;
    return TG_OK;
  }
  if (json_is_string(v)) {
    for (size_t i = 0; i < n; i++)
      if (!strcmp(json_string_value(v), names[i])) {
        *out = (int)i;
        return TG_OK;
      }
    return fail(c, "an enum name is unknown");
  }
  return fail(c, "an enum must be a number or a name");
}

static int attributes(jctx *c, const json_t *arr, tg_key_value ***out, size_t *n, int depth);

static int any_value(jctx *c, const json_t *v, tg_any_value **out, int depth) {
  if (depth > MAX_ANY_DEPTH)
    return fail(c, "attribute values nest too deeply");
  tg_any_value *av = tg_arena_alloc(c->a, sizeof *av);
  if (!av)
    return TG_ENOMEM;
  opentelemetry__proto__common__v1__any_value__init(av);
  *out = av;
  if (!v || !json_is_object(v))
    return v ? fail(c, "an attribute value must be an object") : TG_OK;
  json_t *x;
  int rc = TG_OK;
  if ((x = get(v, "stringValue", "string_value"))) {
    if (!json_is_string(x))
      return fail(c, "stringValue must be a string");
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    if (!(av->string_value = dup_str(c, json_string_value(x), json_string_length(x))))
      return TG_ENOMEM;
  } else if ((x = get(v, "boolValue", "bool_value"))) {
    if (!json_is_boolean(x))
      return fail(c, "boolValue must be true or false");
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    av->bool_value = json_is_true(x);
  } else if ((x = get(v, "intValue", "int_value"))) {
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    rc = int64_of(c, x, &av->int_value);
  } else if ((x = get(v, "doubleValue", "double_value"))) {
    if (!json_is_number(x))
      return fail(c, "doubleValue must be a number");
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    av->double_value = json_number_value(x);
  } else if ((x = get(v, "arrayValue", "array_value"))) {
    json_t *vals = json_object_get(x, "values");
    size_t n = json_is_array(vals) ? json_array_size(vals) : 0;
    tg_array_value *arr = tg_arena_alloc(c->a, sizeof *arr);
    if (!arr)
      return TG_ENOMEM;
    opentelemetry__proto__common__v1__array_value__init(arr);
    arr->values = tg_arena_alloc(c->a, (n ? n : 1) * sizeof *arr->values);
    if (!arr->values)
      return TG_ENOMEM;
    for (size_t i = 0; i < n && rc == TG_OK; i++)
      rc = any_value(c, json_array_get(vals, i), &arr->values[i], depth + 1);
    arr->n_values = n;
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    av->array_value = arr;
  } else if ((x = get(v, "kvlistValue", "kvlist_value"))) {
    tg_kvlist_value *kl = tg_arena_alloc(c->a, sizeof *kl);
    if (!kl)
      return TG_ENOMEM;
    opentelemetry__proto__common__v1__key_value_list__init(kl);
    rc = attributes(c, json_object_get(x, "values"), &kl->values, &kl->n_values, depth + 1);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    av->kvlist_value = kl;
  }
  return rc;
}

static int attributes(jctx *c, const json_t *arr, tg_key_value ***out, size_t *n, int depth) {
  *out = NULL;
  *n = 0;
  if (!arr)
    return TG_OK;
  if (!json_is_array(arr))
    return fail(c, "attributes must be an array");
  size_t len = json_array_size(arr);
  if (!len)
    return TG_OK;
  tg_key_value **kvs = tg_arena_alloc(c->a, len * sizeof *kvs);
  if (!kvs)
    return TG_ENOMEM;
  for (size_t i = 0; i < len; i++) {
    const json_t *e = json_array_get(arr, i);
    const json_t *key = json_object_get(e, "key");
    if (!json_is_object(e) || !json_is_string(key))
      return fail(c, "an attribute needs a string key");
    tg_key_value *kv = tg_arena_alloc(c->a, sizeof *kv);
    if (!kv)
      return TG_ENOMEM;
    opentelemetry__proto__common__v1__key_value__init(kv);
    if (!(kv->key = dup_str(c, json_string_value(key), json_string_length(key))))
      return TG_ENOMEM;
    int rc = any_value(c, json_object_get(e, "value"), &kv->value, depth);
    if (rc != TG_OK)
      return rc;
    kvs[i] = kv;
  }
  *out = kvs;
  *n = len;
  return TG_OK;
}

static const char *const kind_names[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                         "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                         "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
static const char *const status_names[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                           "STATUS_CODE_ERROR"};

static int string_field(jctx *c, const json_t *v, char **out, const char *what) {
  if (!v)
    return TG_OK; /* protobuf-c's init left the empty default */
  if (!json_is_string(v))
    return fail(c, what);
  *out = dup_str(c, json_string_value(v), json_string_length(v));
  return *out ? TG_OK : TG_ENOMEM;
}

static int span_of(jctx *c, const json_t *o, tg_span **out) {
  if (!json_is_object(o))
    return fail(c, "a span must be an object");
  tg_span *s = tg_arena_alloc(c->a, sizeof *s);
  if (!s)
    return TG_ENOMEM;
  opentelemetry__proto__trace__v1__span__init(s);
  *out = s;
  int rc, kind = 0, code = 0;
  int64_t flags = 0;
  if ((rc = hex_id(c, get(o, "traceId", "trace_id"), 16, &s->trace_id)) ||
      (rc = hex_id(c, get(o, "spanId", "span_id"), 8, &s->span_id)) ||
      (rc = hex_id(c, get(o, "parentSpanId", "parent_span_id"), 8, &s->parent_span_id)) ||
      (rc = string_field(c, json_object_get(o, "name"), &s->name, "name must be a string")) ||
      (rc = string_field(c, get(o, "traceState", "trace_state"), &s->trace_state,
                         "traceState must be a string")) ||
      (rc = enum_of(c, json_object_get(o, "kind"), kind_names, 6, &kind)) ||
      (rc = uint64_of(c, get(o, "startTimeUnixNano", "start_time_unix_nano"),
                      &s->start_time_unix_nano)) ||
      (rc = uint64_of(c, get(o, "endTimeUnixNano", "end_time_unix_nano"),
                      &s->end_time_unix_nano)) ||
      (rc = int64_of(c, json_object_get(o, "flags"), &flags)) ||
      (rc = attributes(c, json_object_get(o, "attributes"), &s->attributes, &s->n_attributes,
                       0)))
    return rc;
  if (s->trace_id.len != 16)
    return fail(c, "a span has no traceId");
  s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;
  s->flags = (uint32_t)flags;
  const json_t *st = json_object_get(o, "status");
  if (st) {
    if (!json_is_object(st))
      return fail(c, "status must be an object");
    tg_span_status *status = tg_arena_alloc(c->a, sizeof *status);
    if (!status)
      return TG_ENOMEM;
    opentelemetry__proto__trace__v1__status__init(status);
    if ((rc = enum_of(c, json_object_get(st, "code"), status_names, 3, &code)) ||
        (rc = string_field(c, json_object_get(st, "message"), &status->message,
                           "status.message must be a string")))
      return rc;
    status->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
    s->status = status;
  }
  return TG_OK;
}

/* An array member (absent: empty) and its size. */
static int array_of(jctx *c, const json_t *o, const char *camel, const char *snake,
                    const json_t **arr, size_t *n) {
  *arr = get(o, camel, snake);
  *n = 0;
  if (!*arr)
    return TG_OK;
  if (!json_is_array(*arr))
    return fail(c, "resourceSpans, scopeSpans and spans must be arrays");
  *n = json_array_size(*arr);
  return TG_OK;
}

static int request_of(jctx *c, const json_t *root, tg_batch *batch) {
  const json_t *rss;
  size_t n_rs, spans = 0;
  if (!json_is_object(root))
    return fail(c, "the input must be a JSON object (an ExportTraceServiceRequest)");
  int rc = array_of(c, root, "resourceSpans", "resource_spans", &rss, &n_rs);
  if (rc)
    return rc;
  tg_resource_spans **list = tg_arena_alloc(c->a, (n_rs ? n_rs : 1) * sizeof *list);
  if (!list)
    return TG_ENOMEM;
  for (size_t i = 0; i < n_rs; i++) {
    const json_t *rj = json_array_get(rss, i), *sss;
    if (!json_is_object(rj))
      return fail(c, "a resourceSpans entry must be an object");
    tg_resource_spans *rs = tg_arena_alloc(c->a, sizeof *rs);
    tg_resource *res = tg_arena_alloc(c->a, sizeof *res);
    if (!rs || !res)
      return TG_ENOMEM;
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__resource__v1__resource__init(res);
    const json_t *resj = json_object_get(rj, "resource");
    if (resj && (rc = attributes(c, json_object_get(resj, "attributes"), &res->attributes,
                                 &res->n_attributes, 0)))
      return rc;
    rs->resource = res;
    size_t n_ss;
    if ((rc = array_of(c, rj, "scopeSpans", "scope_spans", &sss, &n_ss)))
      return rc;
    rs->scope_spans = tg_arena_alloc(c->a, (n_ss ? n_ss : 1) * sizeof *rs->scope_spans);
    if (!rs->scope_spans)
      return TG_ENOMEM;
    for (size_t k = 0; k < n_ss; k++) {
      const json_t *sj = json_array_get(sss, k), *spj;
      if (!json_is_object(sj))
        return fail(c, "a scopeSpans entry must be an object");
      tg_scope_spans *ss = tg_arena_alloc(c->a, sizeof *ss);
      tg_scope *scope = tg_arena_alloc(c->a, sizeof *scope);
      if (!ss || !scope)
        return TG_ENOMEM;
      opentelemetry__proto__trace__v1__scope_spans__init(ss);
      opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
      const json_t *scj = json_object_get(sj, "scope");
      if (scj && json_is_object(scj) &&
          ((rc = string_field(c, json_object_get(scj, "name"), &scope->name,
                              "scope.name must be a string")) ||
           (rc = string_field(c, json_object_get(scj, "version"), &scope->version,
                              "scope.version must be a string"))))
        return rc;
      ss->scope = scope;
      size_t n_sp;
      if ((rc = array_of(c, sj, "spans", "spans", &spj, &n_sp)))
        return rc;
      ss->spans = tg_arena_alloc(c->a, (n_sp ? n_sp : 1) * sizeof *ss->spans);
      if (!ss->spans)
        return TG_ENOMEM;
      for (size_t m = 0; m < n_sp; m++)
        if ((rc = span_of(c, json_array_get(spj, m), &ss->spans[m])))
          return rc;
      ss->n_spans = n_sp;
      spans += n_sp;
      rs->scope_spans[k] = ss;
    }
    rs->n_scope_spans = n_ss;
    list[i] = rs;
  }
  batch->request.resource_spans = list;
  batch->request.n_resource_spans = n_rs;
  batch->span_count = spans;
  return TG_OK;
}

int ts_explain_parse_json(tg_batch *batch, const uint8_t *data, size_t len, char *err,
                          size_t err_size) {
  jctx c = {batch->arena, err, err_size};
  json_error_t jerr;
  /* the file exporters write one request per line: take the first */
  json_t *root = json_loadb((const char *)data, len, JSON_DISABLE_EOF_CHECK, &jerr);
  if (!root) {
    if (err && err_size) {
      snprintf(err, err_size, "JSON: %s (line %d, column %d)", jerr.text, jerr.line,
               jerr.column);
      for (char *p = err; *p; p++) /* jansson quotes the offending bytes */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
          *p = '?';
    }
    return TG_EDECODE;
  }
  int rc = request_of(&c, root, batch);
  json_decref(root);
  if (rc != TG_OK) {
    batch->request.n_resource_spans = 0;
    batch->span_count = 0;
    if (rc == TG_ENOMEM && err && err_size)
      snprintf(err, err_size, "out of memory");
  }
  return rc;
}
