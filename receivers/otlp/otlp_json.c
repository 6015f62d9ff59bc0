/* OTLP/JSON → OTLP protobuf-c structs in a batch arena.
 *
 * jansson parses the body into its DOM (its own heap allocations, freed before we
 * return); a recursive walk then builds the same protobuf-c message tree that
 * protobuf_c_message_unpack would, allocating every message, string, byte string and
 * pointer array from the batch arena. The arena's limit bounds what a peer can make us
 * hold; repeated messages are allocated as one contiguous block plus one pointer array,
 * so a span costs a handful of bump allocations and no malloc.
 *
 * The rules are the OTLP JSON encoding (protobuf's JSON mapping with OTLP's exceptions):
 *   - traceId/spanId/parentSpanId (spans and links) are hex strings, any case, may be "";
 *   - field names are lowerCamelCase, the proto names (snake_case) are accepted too;
 *   - enums are integers or their names; unknown names are an error, unknown numbers not;
 *   - 64-bit integers are strings or numbers, 32-bit ones numbers (strings accepted);
 *   - doubles are numbers or "NaN", "Infinity", "-Infinity" (or numeric strings);
 *   - bytesValue is base64 (standard or URL-safe alphabet, padding optional);
 *   - null means "absent"; unknown fields are ignored; a wrong JSON type is an error.
 * AnyValue nesting is bounded (TG_OTLP_JSON_MAX_ANY_DEPTH) so that our recursion depth is
 * bounded too; jansson bounds its own parser depth.
 *
 * Errors name the JSON path of the offending field ("resourceSpans[0].scopeSpans[0].
 * spans[2].traceId: ...") from a small stack of frames kept while walking. */
#include "otlp_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tg_error.h"
#include "tg_hex.h"

#define MAX_FRAMES 64

typedef struct path_frame {
  const char *name;
  long index; /* array element index, -1 for a plain field */
} path_frame;

typedef struct jdec {
  tg_arena *arena;
  int rc; /* first error: TG_EDECODE, TG_ETOOBIG or TG_ENOMEM */
  char *err;
  size_t err_size;
  path_frame frames[MAX_FRAMES];
  size_t depth; /* may exceed MAX_FRAMES; only the first MAX_FRAMES are recorded */
} jdec;

/* Templates that new messages are copied from (protobuf-c's defaults). */
static const tg_resource_spans resource_spans_init =
    OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
static const tg_resource resource_init = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
static const tg_scope_spans scope_spans_init =
    OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
static const tg_scope scope_init =
    OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
static const tg_span span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
static const tg_span_event event_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
static const tg_span_link link_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
static const tg_span_status status_init = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
static const tg_key_value key_value_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const tg_any_value any_value_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const tg_array_value array_value_init =
    OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
static const tg_kvlist_value kvlist_value_init =
    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;

static const char *const span_kind_names[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER", NULL};
static const char *const status_code_names[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                                "STATUS_CODE_ERROR", NULL};

/* ---- errors and the path stack ---------------------------------------------------- */

static void push(jdec *d, const char *name) {
  if (d->depth < MAX_FRAMES)
    d->frames[d->depth] = (path_frame){name, -1};
  d->depth++;
}

static void set_index(jdec *d, size_t index) {
  if (d->depth && d->depth <= MAX_FRAMES)
    d->frames[d->depth - 1].index = (long)index;
}

static void pop(jdec *d) { d->depth--; }

/* Replaces everything but printable ASCII, so the text is safe in JSON, in a protobuf
 * string (valid UTF-8) and in a grpc-message. */
static void sanitize(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
      *s = '?';
}

static int fail(jdec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(jdec *d, const char *fmt, ...) {
  if (d->rc != TG_OK)
    return -1;
  d->rc = TG_EDECODE;
  if (!d->err || !d->err_size)
    return -1;
  /* The path is capped so the reason always fits after it; a long one ends in "...". */
  char path[128];
  size_t off = 0, frames = d->depth < MAX_FRAMES ? d->depth : MAX_FRAMES;
  path[0] = '\0';
  for (size_t i = 0; i < frames && off < sizeof path; i++) {
    const path_frame *f = &d->frames[i];
    int n = f->index >= 0 ? snprintf(path + off, sizeof path - off, "%s%s[%ld]",
                                     i ? "." : "", f->name, f->index)
                          : snprintf(path + off, sizeof path - off, "%s%s", i ? "." : "",
                                     f->name);
    off += n > 0 ? (size_t)n : 0;
  }
  if (off >= sizeof path)
    memcpy(path + sizeof path - 4, "...", 4);
  else if (frames < d->depth)
    snprintf(path + off, sizeof path - off, "...");
  char reason[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  snprintf(d->err, d->err_size, "invalid OTLP/JSON at %s: %s", frames ? path : "top level",
           reason);
  sanitize(d->err);
  return -1;
}

/* An arena allocation failed: over the limit (TG_ETOOBIG) or out of memory. */
static int out_of_memory(jdec *d) {
  if (d->rc != TG_OK)
    return -1;
  d->rc = d->arena->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  if (d->err && d->err_size)
    snprintf(d->err, d->err_size, "%s",
             d->rc == TG_ETOOBIG ? "decoded request exceeds the memory bound"
                                 : "out of memory while decoding the request");
  return -1;
}

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

static int key_is(const char *key, const char *camel, const char *snake) {
  return !strcmp(key, camel) || (snake && !strcmp(key, snake));
}

/* ---- scalars ---------------------------------------------------------------------- */

static int decode_string(jdec *d, const json_t *v, char **out) {
  if (!json_is_string(v))
    return fail(d, "expected a string, got %s", json_type_name(v));
  size_t len = json_string_length(v);
  /* Even "" gets its own copy: protobuf-c skips a oneof string (AnyValue.string_value)
   * whose pointer is protobuf_c_empty_string when packing, which would turn an empty
   * string attribute into an unset value. */
  char *s = tg_arena_strndup(d->arena, json_string_value(v), len);
  if (!s)
    return out_of_memory(d);
  *out = s;
  return 0;
}

static int is_digits(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* Any JSON integer, integral real or decimal string, within [min, max] (as int64) or
 * [0, umax] (unsigned). */
static int decode_uint(jdec *d, const json_t *v, uint64_t umax, uint64_t *out) {
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > umax)
      return fail(d, "integer %lld out of range", (long long)i);
    *out = (uint64_t)i;
    return 0;
  }
  if (json_is_real(v)) {
    double r = json_real_value(v);
    if (!(r >= 0.0 && r < 18446744073709551616.0) || r != floor(r) || (uint64_t)r > umax)
      return fail(d, "number %g is not an integer in range", r);
    *out = (uint64_t)r;
    return 0;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || !is_digits(s))
      return fail(d, "expected an unsigned decimal integer string");
    errno = 0;
    unsigned long long u = strtoull(s, NULL, 10);
    if (errno == ERANGE || u > umax)
      return fail(d, "integer string out of range");
    *out = u;
    return 0;
  }
  return fail(d, "expected an integer, got %s", json_type_name(v));
}

static int decode_int64(jdec *d, const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return 0;
  }
  if (json_is_real(v)) {
    double r = json_real_value(v);
    if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0) || r != floor(r))
      return fail(d, "number %g is not an integer in range", r);
    *out = (int64_t)r;
    return 0;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || !is_digits(s[0] == '-' ? s + 1 : s))
      return fail(d, "expected a decimal integer string");
    errno = 0;
    long long i = strtoll(s, NULL, 10);
    if (errno == ERANGE)
      return fail(d, "integer string out of range");
    *out = i;
    return 0;
  }
  return fail(d, "expected an integer, got %s", json_type_name(v));
}

static int decode_u32(jdec *d, const json_t *v, uint32_t *out) {
  uint64_t u = 0;
  if (decode_uint(d, v, UINT32_MAX, &u))
    return -1;
  *out = (uint32_t)u;
  return 0;
}

static int decode_u64(jdec *d, const json_t *v, uint64_t *out) {
  return decode_uint(d, v, UINT64_MAX, out);
}

static int decode_double(jdec *d, const json_t *v, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return 0;
  }
  if (!json_is_string(v))
    return fail(d, "expected a number, got %s", json_type_name(v));
  const char *s = json_string_value(v);
  if (!strcmp(s, "NaN")) {
    *out = NAN;
    return 0;
  }
  if (!strcmp(s, "Infinity")) {
    *out = INFINITY;
    return 0;
  }
  if (!strcmp(s, "-Infinity")) {
    *out = -INFINITY;
    return 0;
  }
  /* A numeric string; strtod alone would also take "inf", "nan" and hex floats. */
  int ok = *s != '\0' && strlen(s) == json_string_length(v);
  for (const char *p = s; ok && *p; p++)
    ok = (*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
         *p == 'E';
  char *end = NULL;
  double r = ok ? strtod(s, &end) : 0.0;
  if (!ok || *end)
    return fail(d, "expected a number or \"NaN\"/\"Infinity\"/\"-Infinity\"");
  *out = r;
  return 0;
}

static int decode_bool(jdec *d, const json_t *v, protobuf_c_boolean *out) {
  if (!json_is_boolean(v))
    return fail(d, "expected true or false, got %s", json_type_name(v));
  *out = json_is_true(v);
  return 0;
}

/* An enum as its number (any int32, open enum) or one of names (index = value). */
static int decode_enum(jdec *d, const json_t *v, const char *const *names, int *out) {
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    for (int i = 0; names[i]; i++)
      if (!strcmp(s, names[i])) {
        *out = i;
        return 0;
      }
    return fail(d, "unknown enum value name");
  }
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < INT32_MIN || i > INT32_MAX)
      return fail(d, "enum number %lld out of range", (long long)i);
    *out = (int)i;
    return 0;
  }
  return fail(d, "expected an enum name or number, got %s", json_type_name(v));
}

/* OTLP ids: hex of any length (the span validation checks the length afterwards). */
static int decode_hex_id(jdec *d, const json_t *v, ProtobufCBinaryData *out) {
  if (!json_is_string(v))
    return fail(d, "expected a hex string, got %s", json_type_name(v));
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (len % 2)
    return fail(d, "hex id has an odd number of digits (%zu)", len);
  if (!len) {
    out->len = 0;
    out->data = NULL;
    return 0;
  }
  uint8_t *bytes = tg_arena_alloc(d->arena, len / 2);
  if (!bytes)
    return out_of_memory(d);
  for (size_t i = 0; i < len / 2; i++) {
    int hi = tg_hex_digit(s[2 * i]), lo = tg_hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return fail(d, "hex id has a character that is not a hex digit");
    bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  out->len = len / 2;
  out->data = bytes;
  return 0;
}

static int base64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

/* base64, standard or URL-safe alphabet, with or without '=' padding. */
static int decode_base64(jdec *d, const json_t *v, ProtobufCBinaryData *out) {
  if (!json_is_string(v))
    return fail(d, "expected a base64 string, got %s", json_type_name(v));
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  size_t total = len;
  while (len && s[len - 1] == '=' && total - len < 2)
    len--;
  if (len % 4 == 1)
    return fail(d, "invalid base64 length");
  if (total != len && total % 4)
    return fail(d, "invalid base64 padding");
  out->len = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
  out->data = NULL;
  if (!out->len)
    return 0;
  uint8_t *bytes = tg_arena_alloc(d->arena, out->len);
  if (!bytes)
    return out_of_memory(d);
  uint32_t acc = 0;
  size_t bits = 0, o = 0;
  for (size_t i = 0; i < len; i++) {
    int x = base64_value(s[i]);
    if (x < 0)
      return fail(d, "invalid base64 character");
    acc = (acc << 6 | (uint32_t)x) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[o++] = (uint8_t)(acc >> bits);
    }
  }
  out->data = bytes;
  return 0;
}

/* ---- messages --------------------------------------------------------------------- */

/* Allocates n messages of elem_size and an array of n pointers (both from the arena);
 * the caller initialises them. n == 0 allocates nothing. */
static int alloc_repeated(jdec *d, size_t n, size_t elem_size, void **block, void **ptrs) {
  *block = *ptrs = NULL;
  if (!n)
    return 0;
  if (n > SIZE_MAX / elem_size || n > SIZE_MAX / sizeof(void *))
    return out_of_memory(d);
  *block = tg_arena_alloc(d->arena, n * elem_size);
  *ptrs = *block ? tg_arena_alloc(d->arena, n * sizeof(void *)) : NULL;
  return *ptrs ? 0 : out_of_memory(d);
}

static int expect_object(jdec *d, const json_t *v) {
  return json_is_object(v) ? 0 : fail(d, "expected an object, got %s", json_type_name(v));
}

static int expect_array(jdec *d, const json_t *v) {
  return json_is_array(v) ? 0 : fail(d, "expected an array, got %s", json_type_name(v));
}

static int decode_any(jdec *d, const json_t *v, tg_any_value *out, int depth);

static int decode_key_values(jdec *d, const json_t *v, size_t *n_out, tg_key_value ***out,
                             int depth) {
  if (expect_array(d, v))
    return -1;
  size_t n = json_array_size(v);
  void *block, *ptrs;
  if (alloc_repeated(d, n, sizeof(tg_key_value), &block, &ptrs))
    return -1;
  tg_key_value *kvs = block;
  tg_key_value **list = ptrs;
  for (size_t i = 0; i < n; i++) {
    set_index(d, i);
    const json_t *item = json_array_get(v, i);
    kvs[i] = key_value_init;
    list[i] = &kvs[i];
    if (expect_object(d, item))
      return -1;
    const char *key;
    json_t *field;
    json_object_foreach((json_t *)item, key, field) {
      if (json_is_null(field))
        continue;
      int rc = 0;
      if (!strcmp(key, "key")) {
        push(d, "key");
        rc = decode_string(d, field, &kvs[i].key);
        pop(d);
      } else if (!strcmp(key, "value")) {
        tg_any_value *any = tg_arena_alloc(d->arena, sizeof *any);
        if (!any)
          return out_of_memory(d);
        *any = any_value_init;
        kvs[i].value = any;
        push(d, "value");
        rc = decode_any(d, field, any, depth);
        pop(d);
      }
      if (rc)
        return -1;
    }
  }
  *n_out = n;
  *out = list;
  return 0;
}

/* A field holding a list of KeyValue (attributes, kvlistValue.values). */
static int decode_attributes(jdec *d, const char *name, const json_t *v, size_t *n_out,
                             tg_key_value ***out, int depth) {
  push(d, name);
  int rc = decode_key_values(d, v, n_out, out, depth);
  pop(d);
  return rc;
}

static int decode_array_value(jdec *d, const json_t *v, tg_array_value *out, int depth) {
  if (expect_object(d, v))
    return -1;
  const json_t *values = json_object_get(v, "values");
  if (!values || json_is_null(values))
    return 0;
  push(d, "values");
  if (expect_array(d, values)) {
    pop(d);
    return -1;
  }
  size_t n = json_array_size(values);
  void *block, *ptrs;
  if (alloc_repeated(d, n, sizeof(tg_any_value), &block, &ptrs)) {
    pop(d);
    return -1;
  }
  tg_any_value *anys = block;
  tg_any_value **list = ptrs;
  for (size_t i = 0; i < n; i++) {
    set_index(d, i);
    anys[i] = any_value_init;
    list[i] = &anys[i];
    if (decode_any(d, json_array_get(values, i), &anys[i], depth + 1)) {
      pop(d);
      return -1;
    }
  }
  pop(d);
  out->n_values = n;
  out->values = list;
  return 0;
}

static int decode_kvlist_value(jdec *d, const json_t *v, tg_kvlist_value *out, int depth) {
  if (expect_object(d, v))
    return -1;
  const json_t *values = json_object_get(v, "values");
  if (!values || json_is_null(values))
    return 0;
  return decode_attributes(d, "values", values, &out->n_values, &out->values,
                           depth + 1);
}

/* One AnyValue; depth counts arrayValue/kvlistValue levels above it (1 = attribute). */
static int decode_any(jdec *d, const json_t *v, tg_any_value *out, int depth) {
  if (depth > TG_OTLP_JSON_MAX_ANY_DEPTH)
    return fail(d, "attribute value nested deeper than %d levels",
                TG_OTLP_JSON_MAX_ANY_DEPTH);
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  int set = 0;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (key_is(key, "stringValue", "string_value")) {
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
      push(d, "stringValue");
      rc = decode_string(d, field, &out->string_value);
    } else if (key_is(key, "boolValue", "bool_value")) {
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
      push(d, "boolValue");
      rc = decode_bool(d, field, &out->bool_value);
    } else if (key_is(key, "intValue", "int_value")) {
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
      push(d, "intValue");
      rc = decode_int64(d, field, &out->int_value);
    } else if (key_is(key, "doubleValue", "double_value")) {
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
      push(d, "doubleValue");
      rc = decode_double(d, field, &out->double_value);
    } else if (key_is(key, "bytesValue", "bytes_value")) {
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
      push(d, "bytesValue");
      rc = decode_base64(d, field, &out->bytes_value);
    } else if (key_is(key, "arrayValue", "array_value")) {
      tg_array_value *arr = tg_arena_alloc(d->arena, sizeof *arr);
      if (!arr)
        return out_of_memory(d);
      *arr = array_value_init;
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
      out->array_value = arr;
      push(d, "arrayValue");
      rc = decode_array_value(d, field, arr, depth);
    } else if (key_is(key, "kvlistValue", "kvlist_value")) {
      tg_kvlist_value *kvl = tg_arena_alloc(d->arena, sizeof *kvl);
      if (!kvl)
        return out_of_memory(d);
      *kvl = kvlist_value_init;
      out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
      out->kvlist_value = kvl;
      push(d, "kvlistValue");
      rc = decode_kvlist_value(d, field, kvl, depth);
    } else {
      continue; /* unknown field */
    }
    pop(d);
    if (rc)
      return -1;
    if (++set > 1)
      return fail(d, "more than one value set in an AnyValue");
  }
  return 0;
}

static int decode_resource(jdec *d, const json_t *v, tg_resource *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (!strcmp(key, "attributes")) {
      rc = decode_attributes(d, "attributes", field, &out->n_attributes, &out->attributes, 1);
    } else if (key_is(key, "droppedAttributesCount", "dropped_attributes_count")) {
      push(d, "droppedAttributesCount");
      rc = decode_u32(d, field, &out->dropped_attributes_count);
      pop(d);
    }
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_scope(jdec *d, const json_t *v, tg_scope *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (!strcmp(key, "name")) {
      push(d, "name");
      rc = decode_string(d, field, &out->name);
      pop(d);
    } else if (!strcmp(key, "version")) {
      push(d, "version");
      rc = decode_string(d, field, &out->version);
      pop(d);
    } else if (!strcmp(key, "attributes")) {
      rc = decode_attributes(d, "attributes", field, &out->n_attributes, &out->attributes, 1);
    } else if (key_is(key, "droppedAttributesCount", "dropped_attributes_count")) {
      push(d, "droppedAttributesCount");
      rc = decode_u32(d, field, &out->dropped_attributes_count);
      pop(d);
    }
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_status(jdec *d, const json_t *v, tg_span_status *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (!strcmp(key, "message")) {
      push(d, "message");
      rc = decode_string(d, field, &out->message);
      pop(d);
    } else if (!strcmp(key, "code")) {
      int code = 0;
      push(d, "code");
      rc = decode_enum(d, field, status_code_names, &code);
      pop(d);
      out->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
    }
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_event(jdec *d, const json_t *v, tg_span_event *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (key_is(key, "timeUnixNano", "time_unix_nano")) {
      push(d, "timeUnixNano");
      rc = decode_u64(d, field, &out->time_unix_nano);
      pop(d);
    } else if (!strcmp(key, "name")) {
      push(d, "name");
      rc = decode_string(d, field, &out->name);
      pop(d);
    } else if (!strcmp(key, "attributes")) {
      rc = decode_attributes(d, "attributes", field, &out->n_attributes, &out->attributes, 1);
    } else if (key_is(key, "droppedAttributesCount", "dropped_attributes_count")) {
      push(d, "droppedAttributesCount");
      rc = decode_u32(d, field, &out->dropped_attributes_count);
      pop(d);
    }
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_link(jdec *d, const json_t *v, tg_span_link *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (key_is(key, "traceId", "trace_id")) {
      push(d, "traceId");
      rc = decode_hex_id(d, field, &out->trace_id);
      pop(d);
    } else if (key_is(key, "spanId", "span_id")) {
      push(d, "spanId");
      rc = decode_hex_id(d, field, &out->span_id);
      pop(d);
    } else if (key_is(key, "traceState", "trace_state")) {
      push(d, "traceState");
      rc = decode_string(d, field, &out->trace_state);
      pop(d);
    } else if (!strcmp(key, "attributes")) {
      rc = decode_attributes(d, "attributes", field, &out->n_attributes, &out->attributes, 1);
    } else if (key_is(key, "droppedAttributesCount", "dropped_attributes_count")) {
      push(d, "droppedAttributesCount");
      rc = decode_u32(d, field, &out->dropped_attributes_count);
      pop(d);
    } else if (!strcmp(key, "flags")) {
      push(d, "flags");
      rc = decode_u32(d, field, &out->flags);
      pop(d);
    }
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_events(jdec *d, const json_t *v, tg_span *span) {
  if (expect_array(d, v))
    return -1;
  size_t n = json_array_size(v);
  void *block, *ptrs;
  if (alloc_repeated(d, n, sizeof(tg_span_event), &block, &ptrs))
    return -1;
  tg_span_event *events = block;
  tg_span_event **list = ptrs;
  for (size_t i = 0; i < n; i++) {
    set_index(d, i);
    events[i] = event_init;
    list[i] = &events[i];
    if (decode_event(d, json_array_get(v, i), &events[i]))
      return -1;
  }
  span->n_events = n;
  span->events = list;
  return 0;
}

static int decode_links(jdec *d, const json_t *v, tg_span *span) {
  if (expect_array(d, v))
    return -1;
  size_t n = json_array_size(v);
  void *block, *ptrs;
  if (alloc_repeated(d, n, sizeof(tg_span_link), &block, &ptrs))
    return -1;
  tg_span_link *links = block;
  tg_span_link **list = ptrs;
  for (size_t i = 0; i < n; i++) {
    set_index(d, i);
    links[i] = link_init;
    list[i] = &links[i];
    if (decode_link(d, json_array_get(v, i), &links[i]))
      return -1;
  }
  span->n_links = n;
  span->links = list;
  return 0;
}

static int decode_span(jdec *d, const json_t *v, tg_span *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (key_is(key, "traceId", "trace_id")) {
      push(d, "traceId");
      rc = decode_hex_id(d, field, &out->trace_id);
    } else if (key_is(key, "spanId", "span_id")) {
      push(d, "spanId");
      rc = decode_hex_id(d, field, &out->span_id);
    } else if (key_is(key, "parentSpanId", "parent_span_id")) {
      push(d, "parentSpanId");
      rc = decode_hex_id(d, field, &out->parent_span_id);
    } else if (key_is(key, "traceState", "trace_state")) {
      push(d, "traceState");
      rc = decode_string(d, field, &out->trace_state);
    } else if (!strcmp(key, "flags")) {
      push(d, "flags");
      rc = decode_u32(d, field, &out->flags);
    } else if (!strcmp(key, "name")) {
      push(d, "name");
      rc = decode_string(d, field, &out->name);
    } else if (!strcmp(key, "kind")) {
      int kind = 0;
      push(d, "kind");
      rc = decode_enum(d, field, span_kind_names, &kind);
      out->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;
    } else if (key_is(key, "startTimeUnixNano", "start_time_unix_nano")) {
      push(d, "startTimeUnixNano");
      rc = decode_u64(d, field, &out->start_time_unix_nano);
    } else if (key_is(key, "endTimeUnixNano", "end_time_unix_nano")) {
      push(d, "endTimeUnixNano");
      rc = decode_u64(d, field, &out->end_time_unix_nano);
    } else if (!strcmp(key, "attributes")) {
      push(d, "attributes");
      rc = decode_key_values(d, field, &out->n_attributes, &out->attributes, 1);
    } else if (key_is(key, "droppedAttributesCount", "dropped_attributes_count")) {
      push(d, "droppedAttributesCount");
      rc = decode_u32(d, field, &out->dropped_attributes_count);
    } else if (!strcmp(key, "events")) {
      push(d, "events");
      rc = decode_events(d, field, out);
    } else if (key_is(key, "droppedEventsCount", "dropped_events_count")) {
      push(d, "droppedEventsCount");
      rc = decode_u32(d, field, &out->dropped_events_count);
    } else if (!strcmp(key, "links")) {
      push(d, "links");
      rc = decode_links(d, field, out);
    } else if (key_is(key, "droppedLinksCount", "dropped_links_count")) {
      push(d, "droppedLinksCount");
      rc = decode_u32(d, field, &out->dropped_links_count);
    } else if (!strcmp(key, "status")) {
      tg_span_status *status = tg_arena_alloc(d->arena, sizeof *status);
      if (!status)
        return out_of_memory(d);
      *status = status_init;
      out->status = status;
      push(d, "status");
      rc = decode_status(d, field, status);
    } else {
      continue; /* unknown field */
    }
    pop(d);
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_spans(jdec *d, const json_t *v, tg_scope_spans *ss) {
  if (expect_array(d, v))
    return -1;
  size_t n = json_array_size(v);
  void *block, *ptrs;
  if (alloc_repeated(d, n, sizeof(tg_span), &block, &ptrs))
    return -1;
  tg_span *spans = block;
  tg_span **list = ptrs;
  for (size_t i = 0; i < n; i++) {
    set_index(d, i);
    spans[i] = span_init;
    list[i] = &spans[i];
    if (decode_span(d, json_array_get(v, i), &spans[i]))
      return -1;
  }
  ss->n_spans = n;
  ss->spans = list;
  return 0;
}

static int decode_scope_spans(jdec *d, const json_t *v, tg_scope_spans *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (!strcmp(key, "scope")) {
      tg_scope *scope = tg_arena_alloc(d->arena, sizeof *scope);
      if (!scope)
        return out_of_memory(d);
      *scope = scope_init;
      out->scope = scope;
      push(d, "scope");
      rc = decode_scope(d, field, scope);
    } else if (!strcmp(key, "spans")) {
      push(d, "spans");
      rc = decode_spans(d, field, out);
    } else if (key_is(key, "schemaUrl", "schema_url")) {
      push(d, "schemaUrl");
      rc = decode_string(d, field, &out->schema_url);
    } else {
      continue;
    }
    pop(d);
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_resource_spans(jdec *d, const json_t *v, tg_resource_spans *out) {
  if (expect_object(d, v))
    return -1;
  const char *key;
  json_t *field;
  json_object_foreach((json_t *)v, key, field) {
    if (json_is_null(field))
      continue;
    int rc = 0;
    if (!strcmp(key, "resource")) {
      tg_resource *res = tg_arena_alloc(d->arena, sizeof *res);
      if (!res)
        return out_of_memory(d);
      *res = resource_init;
      out->resource = res;
      push(d, "resource");
      rc = decode_resource(d, field, res);
    } else if (key_is(key, "scopeSpans", "scope_spans")) {
      push(d, "scopeSpans");
      if (!expect_array(d, field)) {
        size_t n = json_array_size(field);
        void *block, *ptrs;
        rc = alloc_repeated(d, n, sizeof(tg_scope_spans), &block, &ptrs);
        tg_scope_spans *sss = block;
        tg_scope_spans **list = ptrs;
        for (size_t i = 0; !rc && i < n; i++) {
          set_index(d, i);
          sss[i] = scope_spans_init;
          list[i] = &sss[i];
          rc = decode_scope_spans(d, json_array_get(field, i), &sss[i]);
        }
        if (!rc) {
          out->n_scope_spans = n;
          out->scope_spans = list;
        }
      } else {
        rc = -1;
      }
    } else if (key_is(key, "schemaUrl", "schema_url")) {
      push(d, "schemaUrl");
      rc = decode_string(d, field, &out->schema_url);
    } else {
      continue;
    }
    pop(d);
    if (rc)
      return -1;
  }
  return 0;
}

static int decode_request(jdec *d, const json_t *root, tg_export_request *req) {
  if (expect_object(d, root))
    return -1;
  const json_t *list = json_object_get(root, "resourceSpans");
  if (!list || json_is_null(list))
    list = json_object_get(root, "resource_spans");
  if (!list || json_is_null(list))
    return 0;
  push(d, "resourceSpans");
  if (expect_array(d, list))
    return -1;
  size_t n = json_array_size(list);
  void *block, *ptrs;
  if (alloc_repeated(d, n, sizeof(tg_resource_spans), &block, &ptrs))
    return -1;
  tg_resource_spans *rss = block;
  tg_resource_spans **out = ptrs;
  for (size_t i = 0; i < n; i++) {
    set_index(d, i);
    rss[i] = resource_spans_init;
    out[i] = &rss[i];
    if (decode_resource_spans(d, json_array_get(list, i), &rss[i]))
      return -1;
  }
  pop(d);
  req->n_resource_spans = n;
  req->resource_spans = out;
  return 0;
}

int tg_otlp_json_decode(tg_batch *batch, const uint8_t *data, size_t len, char *err,
                        size_t err_size) {
  if (err && err_size)
    err[0] = '\0';
  batch->request.n_resource_spans = 0;
  batch->request.resource_spans = NULL;
  batch->span_count = 0;
  if (!len)
    return TG_OK; /* an empty body is an empty request, as in protobuf */

  json_error_t jerr;
  json_t *root = json_loadb((const char *)data, len, JSON_ALLOW_NUL, &jerr);
  if (!root) {
    if (err && err_size) {
      snprintf(err, err_size, "invalid JSON at line %d column %d: %s", jerr.line,
               jerr.column, jerr.text);
      sanitize(err);
    }
    return TG_EDECODE;
  }
  jdec d = {.arena = batch->arena, .rc = TG_OK, .err = err, .err_size = err_size};
  tg_export_request req = batch->request;
  int rc = decode_request(&d, root, &req);
  json_decref(root);
  if (rc) {
    return d.rc != TG_OK ? d.rc : TG_EDECODE;
  }
  batch->request = req;
  tg_batch_count_spans(batch);
  return TG_OK;
}
