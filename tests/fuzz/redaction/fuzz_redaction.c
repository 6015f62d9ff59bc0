/* libFuzzer target for the redaction engine on arbitrary attribute values.
 *
 * The input is read as a small program that builds an attribute list (keys drawn from a
 * table of interesting names or taken raw, values of every AnyValue type nested in
 * arrays and maps to any depth) and a span name. Two redactors run on it:
 *  - "broad": allowlist mode, every key and value rule, hash_function sha3, summary debug,
 *    redact_all_types, a pattern prone to backtracking: must not crash, leak or hang;
 *  - "strict": pseudonymise user_id, mask e-mail addresses. Checked: no output string
 *    anywhere in the tree still holds an e-mail address; every top-level user_id
 *    scalar became "k1:" + 22 base64url characters (or "****" below the depth bound); the input tree is byte-for-byte what
 *    it was (copy-on-write: the redactor never writes what it did not allocate);
 *  - "wide" (broad without summaries) and "strict" again, differentially: the span is
 *    packed as a ResourceSpans and redacted both in its wire form
 *    (tg_redactor_wire_segment) and decoded (tg_redactor_request); both results, packed,
 *    must be the same bytes, with the same counts; and tg_redactor_batch on the packed
 *    segment (a dry walk first) must give the wire walk's bytes, or keep the very
 *    segment when nothing changed;
 *  - the input itself, and each resource_spans entry in it read as an export request, as a
 *    segment: wherever tg_redactor_wire_segment_stays answers 1, the wire walk must
 *    answer TG_OK with nothing changed ("strict" and a strict policy under
 *    redact_all_types);
 *  - the input's first bytes as a pattern, the rest as a subject: when the pattern
 *    compiles and tg_pattern_required_byte names a byte, every match contains it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processors/redaction/redaction_engine.h"
#include "tg_arena.h"
#include "tg_batch.h"
#include "tg_error.h"
#include "tg_config.h"

#define EMAIL "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}"

static tg_config *broad_cfg, *strict_cfg, *wide_cfg, *typed_cfg;
static tg_redactor broad, strict, wide, typed;
static pcre2_code *email;
static tg_matcher email_m;

static tg_config *load(const char *processors) {
  static char text[4096];
  snprintf(text, sizeof text,
           "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
           "processors:\n  redaction:\n%s"
           "exporters: {nop: {}}\n"
           "service:\n  telemetry: {metrics: {address: \"\"}}\n"
           "  pipelines: {traces: {receivers: [otlp], processors: [redaction], exporters: [nop]}}\n",
           processors);
  tg_diag d;
  tg_diag_init(&d);
  tg_config *cfg = tg_config_load_text("fuzz.yaml", text, strlen(text), &d);
  if (!cfg) {
    tg_diag_print(&d, stderr);
    abort();
  }
  tg_diag_free(&d);
  return cfg;
}

static void build(tg_redactor *r, tg_config *cfg) {
  char why[512];
  const tg_config_component *c = tg_config_find(cfg, TG_PROCESSOR, "redaction");
  if (tg_redactor_build(r, c->conf, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32,
                        why, sizeof why) != TG_OK)
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  broad_cfg = load("    allowed_keys: [note, http.url, user_id, ctx, list, raw]\n"
                   "    ignored_keys: [raw]\n"
                   "    blocked_key_patterns: ['.*token.*']\n"
                   "    blocked_values: ['" EMAIL "', '\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b',"
                   " '4[0-9]{12}(?:[0-9]{3})?', '(a|aa)+$', 'x*']\n"
                   "    allowed_values: ['^ok:']\n"
                   "    delete_keys: [password]\n"
                   "    delete_key_patterns: ['^secret']\n"
                   "    delete_values: ['BEGIN PRIVATE']\n"
                   "    hash_function: sha3\n"
                   "    summary: debug\n"
                   "    redact_all_types: true\n"
                   "    pseudonymize: {keys: [user_id], key_patterns: ['^usr\\.']}\n");
  strict_cfg = load("    allow_all_keys: true\n"
                    "    blocked_values: ['" EMAIL "']\n"
                    "    pseudonymize: {keys: [user_id]}\n");
  wide_cfg = load("    allowed_keys: [note, http.url, user_id, ctx, list, raw]\n"
                  "    ignored_keys: [raw]\n"
                  "    blocked_key_patterns: ['.*token.*']\n"
                  "    blocked_values: ['" EMAIL "', '4[0-9]{12}(?:[0-9]{3})?', 'x*']\n"
                  "    allowed_values: ['^ok:']\n"
                  "    delete_keys: [password]\n"
                  "    delete_key_patterns: ['^secret']\n"
                  "    delete_values: ['BEGIN PRIVATE']\n"
                  "    hash_function: sha1\n"
                  "    redact_all_types: true\n"
                  "    pseudonymize: {keys: [user_id], key_patterns: ['^usr\\.']}\n");
  typed_cfg = load("    allow_all_keys: true\n"
                   "    blocked_values: ['" EMAIL "', '4[0-9]{12}(?:[0-9]{3})?', 'x*']\n"
                   "    redact_all_types: true\n"
                   "    pseudonymize: {keys: [user_id, usr.id, a_much_longer_key_than_sixty_three_"
                   "bytes_to_reach_the_last_length_bit]}\n");
  build(&typed, typed_cfg);
  build(&broad, broad_cfg);
  build(&strict, strict_cfg);
  build(&wide, wide_cfg);
  int err;
  PCRE2_SIZE off;
  email = pcre2_compile((PCRE2_SPTR)EMAIL, PCRE2_ZERO_TERMINATED,
                        PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
  if (!email || tg_matcher_init(&email_m, 0) != TG_OK)
    abort();
  return 0;
}

typedef struct input {
  const uint8_t *p;
  size_t n;
} input;

static unsigned byte(input *in) {
  if (!in->n)
    return 0;
  in->n--;
  return *in->p++;
}

static char *bytes_str(input *in, tg_arena *a, size_t max) {
  size_t len = byte(in) % (max + 1);
  if (len > in->n)
    len = in->n;
  char *s = tg_arena_alloc(a, len + 1);
  memcpy(s, in->p, len);
  s[len] = '\0';
  in->p += len;
  in->n -= len;
  return s;
}

static const char *const KEYS[] = {"user_id", "note", "email", "password", "api_token",
                                   "secret.x", "http.url", "raw", "usr.name", "ctx", "list"};

static char *key(input *in, tg_arena *a) {
  unsigned k = byte(in);
  if (k < 200)
    return tg_arena_strndup(a, KEYS[k % 11], strlen(KEYS[k % 11]));
  return bytes_str(in, a, 24);
}

static tg_any_value *value(input *in, tg_arena *a, int depth);

static tg_key_value *pair(input *in, tg_arena *a, int depth) {
  tg_key_value *kv = tg_arena_alloc(a, sizeof *kv);
  opentelemetry__proto__common__v1__key_value__init(kv);
  kv->key = key(in, a);
  kv->value = value(in, a, depth);
  return kv;
}

static tg_any_value *value(input *in, tg_arena *a, int depth) {
  tg_any_value *v = tg_arena_alloc(a, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  unsigned t = byte(in) % (depth > 40 ? 3 : 7);
  switch (t) {
  case 0:
  case 1:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = bytes_str(in, a, 120);
    break;
  case 2:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    for (int i = 0; i < 8; i++)
      v->int_value = (int64_t)((uint64_t)v->int_value << 8 | byte(in));
    break;
  case 3: {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    tg_array_value *arr = tg_arena_alloc(a, sizeof *arr);
    opentelemetry__proto__common__v1__array_value__init(arr);
    arr->n_values = byte(in) % 4;
    arr->values = tg_arena_alloc(a, (arr->n_values + 1) * sizeof *arr->values);
    for (size_t i = 0; i < arr->n_values; i++)
      arr->values[i] = value(in, a, depth + 1);
    v->array_value = arr;
    break;
  }
  case 4: {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    tg_kvlist_value *l = tg_arena_alloc(a, sizeof *l);
    opentelemetry__proto__common__v1__key_value_list__init(l);
    l->n_values = byte(in) % 4;
    l->values = tg_arena_alloc(a, (l->n_values + 1) * sizeof *l->values);
    for (size_t i = 0; i < l->n_values; i++)
      l->values[i] = pair(in, a, depth + 1);
    v->kvlist_value = l;
    break;
  }
  case 5: {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    char *s = bytes_str(in, a, 32);
    v->bytes_value = (ProtobufCBinaryData){strlen(s), (uint8_t *)s};
    break;
  }
  default:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = (double)byte(in) / 7.0;
  }
  return v;
}

/* The attribute list as one packed KeyValueList, to compare before and after. */
static uint8_t *pack(tg_key_value **attrs, size_t n, size_t *len) {
  tg_kvlist_value l = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
  l.values = attrs;
  l.n_values = n;
  *len = opentelemetry__proto__common__v1__key_value_list__get_packed_size(&l);
  uint8_t *buf = malloc(*len + 1);
  opentelemetry__proto__common__v1__key_value_list__pack(&l, buf);
  return buf;
}

static int has_email(const char *s) {
  size_t ms, me;
  return tg_pattern_find(email, &email_m, s, strlen(s), 0, &ms, &me) != 0;
}

static void check_no_email(const tg_any_value *v) {
  if (!v)
    return;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    if (v->string_value && has_email(v->string_value))
      abort();
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++)
      check_no_email(v->array_value->values[i]);
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
    for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++)
      check_no_email(v->kvlist_value->values[i]->value);
    break;
  default:
    break;
  }
}

static int is_pseudonym(const char *s) {
  if (strlen(s) != 25 || memcmp(s, "k1:", 3))
    return 0;
  for (int i = 3; i < 25; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return 0;
  }
  return 1;
}

static void check_pseudonyms(const tg_any_value *v) {
  if (!v)
    return;
  if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE) {
    for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++)
      check_pseudonyms(v->array_value->values[i]);
  } else if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE) {
    for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++)
      check_pseudonyms(v->kvlist_value->values[i]->value);
  } else if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
    if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE ||
        (!is_pseudonym(v->string_value) && strcmp(v->string_value, "****")))
      abort(); /* "****": deeper than TG_REDACTION_MAX_DEPTH, masked whole */
  }
}

/* The span as a ResourceSpans, redacted in wire form and decoded: same bytes. */
static void differential(tg_redactor *r, tg_key_value **attrs, size_t n, char *name) {
  tg_span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
  uint8_t id[16] = {1};
  sp.trace_id = (ProtobufCBinaryData){16, id};
  sp.span_id = (ProtobufCBinaryData){8, id};
  sp.name = name;
  sp.attributes = attrs;
  sp.n_attributes = n;
  tg_span_event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
  ev.name = name;
  ev.attributes = attrs;
  ev.n_attributes = n;
  tg_span_event *evs[] = {&ev};
  sp.events = evs;
  sp.n_events = 1;
  tg_span *spans[] = {&sp};
  tg_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.spans = spans;
  ss.n_spans = 1;
  tg_scope_spans *sss[] = {&ss};
  tg_resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
  res.attributes = attrs;
  res.n_attributes = n;
  tg_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.resource = &res;
  rs.scope_spans = sss;
  rs.n_scope_spans = 1;
  size_t len = opentelemetry__proto__trace__v1__resource_spans__get_packed_size(&rs);
  uint8_t *wire = malloc(len + 1);
  opentelemetry__proto__trace__v1__resource_spans__pack(&rs, wire);

  /* decoded */
  tg_arena *a = tg_arena_new(4096, 0);
  tg_resource_spans *tree =
      opentelemetry__proto__trace__v1__resource_spans__unpack(&a->pb_allocator, len, wire);
  if (!tree)
    abort();
  tg_resource_spans *one[] = {tree};
  tg_export_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.resource_spans = one;
  req.n_resource_spans = 1;
  r->counts = (tg_redaction_counts){0};
  if (tg_redactor_request(r, a, &req) != TG_OK)
    abort();
  tg_redaction_counts tree_counts = r->counts;
  size_t tlen = opentelemetry__proto__trace__v1__resource_spans__get_packed_size(tree);
  uint8_t *tbytes = malloc(tlen + 1);
  opentelemetry__proto__trace__v1__resource_spans__pack(tree, tbytes);

  /* wire form, then normalised through protobuf-c */
  tg_buf out;
  tg_buf_init(&out, 0);
  int changed;
  r->counts = (tg_redaction_counts){0};
  if (tg_redactor_wire_segment(r, wire, len, &out, &changed) != TG_OK)
    abort(); /* packed by protobuf-c: nothing the wire walk should refuse */
  tg_resource_spans *back = opentelemetry__proto__trace__v1__resource_spans__unpack(
      &a->pb_allocator, out.len, out.data ? out.data : (const uint8_t *)"");
  if (!back)
    abort(); /* the rewritten segment must decode */
  size_t blen = opentelemetry__proto__trace__v1__resource_spans__get_packed_size(back);
  uint8_t *bbytes = malloc(blen + 1);
  opentelemetry__proto__trace__v1__resource_spans__pack(back, bbytes);
  if (blen != tlen || memcmp(bbytes, tbytes, tlen))
    abort(); /* the two walks disagree */
  if (memcmp(&tree_counts, &r->counts, sizeof tree_counts))
    abort();
  if (!changed && (out.len != len || memcmp(out.data ? out.data : (const uint8_t *)"", wire, len)))
    abort(); /* "unchanged" must mean the same bytes */
  if (changed && tg_redactor_wire_segment_stays(r, wire, len))
    abort(); /* the shortcut said it stays */

  /* the batch path (a dry walk first, writing only on a change) gives the same bytes */
  tg_redaction_counts wire_counts = r->counts;
  tg_batch *batch = tg_batch_new(0, 0);
  size_t off0 = 0, n_spans = 1;
  if (!batch || tg_batch_adopt_wire(batch, wire, len, &off0, &len, &n_spans, 1) != TG_OK)
    abort();
  const uint8_t *adopted = batch->wire[0].data;
  r->counts = (tg_redaction_counts){0};
  if (tg_redactor_batch(r, batch) != TG_OK || batch->n_wire != 1 ||
      memcmp(&wire_counts, &r->counts, sizeof wire_counts))
    abort();
  if (changed ? batch->wire[0].len != out.len ||
                    memcmp(batch->wire[0].data, out.data ? out.data : (const uint8_t *)"", out.len)
              : batch->wire[0].data != adopted)
    abort();
  tg_batch_free(batch);
  free(wire);
  free(tbytes);
  free(bbytes);
  tg_buf_free(&out);
  tg_arena_unref(a);
}

/* The shortcut is one-sided: where it says a segment stays, the wire walk agrees. */
static void stays_implies_unchanged(tg_redactor *r, const uint8_t *seg, size_t len) {
  if (!tg_redactor_wire_segment_stays(r, seg, len))
    return;
  tg_buf out;
  tg_buf_init(&out, 0);
  int changed = 1;
  r->counts = (tg_redaction_counts){0};
  if (tg_redactor_wire_segment(r, seg, len, &out, &changed) != TG_OK || changed ||
      out.len != len || (len && memcmp(out.data, seg, len)))
    abort();
  tg_buf_free(&out);
}

/* The input as a segment, and as an export request whose resource_spans are segments. */
static void stays_on_raw_bytes(const uint8_t *data, size_t size) {
  tg_redactor *policies[] = {&strict, &typed};
  for (size_t i = 0; i < 2; i++) {
    stays_implies_unchanged(policies[i], data, size);
    const uint8_t *p = data, *end = data + size;
    while (p < end && *p == 0x0a) { /* field 1, wire type 2, one-byte or two-byte length */
      size_t n;
      if (end - p >= 2 && p[1] < 0x80) {
        n = p[1];
        p += 2;
      } else if (end - p >= 3 && !(p[2] & 0x80)) {
        n = (size_t)(p[1] & 0x7f) | (size_t)p[2] << 7;
        p += 3;
      } else {
        break;
      }
      if (n > (size_t)(end - p))
        break;
      stays_implies_unchanged(policies[i], p, n);
      p += n;
    }
  }
}

/* tg_pattern_required_byte is a memchr filter before matching: it must be sound. */
static void required_byte_is_sound(const uint8_t *data, size_t size) {
  if (size < 2)
    return;
  size_t plen = data[0] % 48;
  if (plen + 1 > size)
    plen = size - 1;
  char pattern[49];
  memcpy(pattern, data + 1, plen);
  pattern[plen] = '\0';
  if (strlen(pattern) != plen)
    return;
  int req = tg_pattern_required_byte(pattern);
  if (req < 0)
    return;
  int err;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
  if (!code)
    return;
  const char *subject = (const char *)data + 1 + plen;
  size_t slen = size - 1 - plen, ms, me;
  if (tg_pattern_find(code, &email_m, subject, slen, 0, &ms, &me) == 1 &&
      !memchr(subject, req, slen))
    abort(); /* a match without the "required" byte */
  pcre2_code_free(code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  required_byte_is_sound(data, size);
  stays_on_raw_bytes(data, size);
  input in = {data, size};
  tg_arena *a = tg_arena_new(4096, 64u << 20);
  size_t n = byte(&in) % 12;
  tg_key_value **attrs = tg_arena_alloc(a, (n + 1) * sizeof *attrs);
  for (size_t i = 0; i < n; i++)
    attrs[i] = pair(&in, a, 0);
  char *name = bytes_str(&in, a, 200);
  size_t before_len, after_len;
  uint8_t *before = pack(attrs, n, &before_len);

  tg_key_value **out = attrs;
  size_t out_n = n;
  char *out_name = name;
  if (tg_redactor_attributes(&broad, a, &out, &out_n) != TG_OK ||
      tg_redactor_text(&broad, a, &out_name) != TG_OK)
    abort();
  out = attrs;
  out_n = n;
  out_name = name;
  if (tg_redactor_attributes(&strict, a, &out, &out_n) != TG_OK ||
      tg_redactor_text(&strict, a, &out_name) != TG_OK)
    abort();
  for (size_t i = 0; i < out_n; i++) {
    if (out[i]->key && !strcmp(out[i]->key, "user_id"))
      check_pseudonyms(out[i]->value);
    else
      check_no_email(out[i]->value);
  }
  if (has_email(out_name))
    abort();
  differential(&wide, attrs, n, name);
  differential(&strict, attrs, n, name);
  differential(&typed, attrs, n, name);
  uint8_t *after = pack(attrs, n, &after_len);
  if (before_len != after_len || memcmp(before, after, before_len))
    abort(); /* the input was written */
  free(before);
  free(after);
  tg_arena_unref(a);
  return 0;
}
