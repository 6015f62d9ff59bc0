/* Zipkin JSON (v2 and v1) → the zipkin2 model (translate/zipkin/zipkin_model.h).
 *
 * A small pull reader over the body instead of a DOM (jansson): Zipkin JSON is a flat
 * array of small objects, and building then walking a DOM of hash tables cost more than
 * the rest of the receive path together in the first measurement. The reader writes
 * straight into the batch's arena: strings are copied once (unescaped, NUL-terminated,
 * checked to be UTF-8), numbers parsed in place, ids turned into bytes from their hex.
 *
 * Strictness: the JSON grammar is enforced (RFC 8259; nesting bounded at 64; a value
 * after the array, control characters in strings, invalid UTF-8, lone surrogates are
 * errors). Zipkin's schema is applied leniently where tracers in the field differ:
 * unknown fields are skipped, null means absent, ids may have 1-32 hex digits of either
 * case (left-padded to 8 or 16 bytes), tag values may be numbers or booleans (kept as
 * their text), times may have a fraction (truncated). A missing traceId or id, a
 * malformed id or a wrong JSON type is an error naming the span and field.
 *
 * v1 (POST /api/v1/spans) is converted to the v2 model as Zipkin's own V1 converter
 * does: the core annotations cs/cr, sr/ss, ms, mr give kind, local endpoint, timestamp
 * and duration; a span with both client and server annotations becomes two v2 spans
 * (the server one `shared`); binary annotations sa/ca/ma give the remote endpoint, the
 * others become tags; the remaining annotations stay annotations. */
#include "zipkin.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_error.h"
#include "tg_hex.h"

#define MAX_DEPTH 64
#define KEY_MAX 64

typedef struct jr {
  const uint8_t *start, *p, *end;
  tg_arena *a;
  int rc;
  int depth;
  char *err;
  size_t err_size;
  long span_index; /* for messages; -1 outside spans */
  const char *field;
} jr;

static int fail(jr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(jr *r, const char *fmt, ...) {
  if (r->rc != TG_OK)
    return r->rc;
  r->rc = TG_EDECODE;
  if (r->err && r->err_size) {
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (r->span_index >= 0)
      snprintf(r->err, r->err_size, "span %ld%s%s: %s (at byte %zu)", r->span_index,
               r->field ? ", " : "", r->field ? r->field : "", what,
               (size_t)(r->p - r->start));
    else
      snprintf(r->err, r->err_size, "%s (at byte %zu)", what, (size_t)(r->p - r->start));
  }
  return r->rc;
}

static int oom(jr *r) {
  if (r->rc == TG_OK)
    r->rc = r->a->over_limit ? TG_ETOOBIG : TG_ENOMEM;
  return r->rc;
}

static void *alloc(jr *r, size_t n) {
  void *p = tg_arena_alloc(r->a, n ? n : 1);
  if (!p)
    oom(r);
  return p;
}

static int peek(jr *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
    r->p++;
  return r->p < r->end ? *r->p : -1;
}

static int expect(jr *r, char c) {
  if (peek(r) != c)
    return fail(r, "expected '%c'", c);
  r->p++;
  return TG_OK;
}

static int literal(jr *r, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
    return fail(r, "invalid literal");
  r->p += n;
  return TG_OK;
}

static int is_null(jr *r) {
  if (peek(r) == 'n') {
    literal(r, "null");
    return 1;
  }
  return 0;
}

static size_t utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  size_t len;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, min = 0x10000;
  else
    return 0;
  if (n < len)
    return 0;
  uint32_t cp = c & (0x3f >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? len : 0;
}

static size_t put_utf8(uint8_t *d, uint32_t cp) {
  if (cp < 0x80) {
    d[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (uint8_t)(0xc0 | cp >> 6);
    d[1] = (uint8_t)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (uint8_t)(0xe0 | cp >> 12);
    d[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    d[2] = (uint8_t)(0x80 | (cp & 0x3f));
    return 3;
  }
  d[0] = (uint8_t)(0xf0 | cp >> 18);
  d[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
  d[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
  d[3] = (uint8_t)(0x80 | (cp & 0x3f));
  return 4;
}

static int read_u4(jr *r, uint32_t *out) {
  if (r->end - r->p < 4)
    return fail(r, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = tg_hex_digit(r->p[i]);
    if (h < 0)
      return fail(r, "invalid \\u escape");
    v = v << 4 | (uint32_t)h;
  }
  r->p += 4;
  *out = v;
  return TG_OK;
}

/* Reads a string. With dst (capacity cap, which the caller sized at the raw length + 1)
 * the unescaped bytes are written there, NUL-terminated, and *len set; dst NULL only
 * validates and skips. The cursor must be at the opening quote. */
static int string_body(jr *r, uint8_t *dst, size_t *len) {
  size_t n = 0;
  r->p++; /* quote */
  for (;;) {
    const uint8_t *q = r->p;
    while (q < r->end && *q >= 0x20 && *q != '"' && *q != '\\' && *q < 0x80)
      q++;
    if (dst)
      memcpy(dst + n, r->p, (size_t)(q - r->p));
    n += (size_t)(q - r->p);
    r->p = q;
    if (q >= r->end)
      return fail(r, "unterminated string");
    uint8_t c = *q;
    if (c == '"') {
      r->p++;
      break;
    }
    if (c < 0x20)
      return fail(r, "control character in string");
    if (c >= 0x80) {
      size_t u = utf8_len(q, (size_t)(r->end - q));
      if (!u)
        return fail(r, "invalid UTF-8 in string");
      if (dst)
        memcpy(dst + n, q, u);
      n += u;
      r->p += u;
      continue;
    }
    /* backslash */
    if (r->end - q < 2)
      return fail(r, "unterminated string");
    r->p += 2;
    uint8_t e = q[1], out = 0;
    switch (e) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': {
      uint32_t cp;
      if (read_u4(r, &cp))
        return r->rc;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t lo;
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
          return fail(r, "lone surrogate in \\u escape");
        r->p += 2;
        if (read_u4(r, &lo))
          return r->rc;
        if (lo < 0xdc00 || lo > 0xdfff)
          return fail(r, "lone surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return fail(r, "lone surrogate in \\u escape");
      }
      /* an escape's UTF-8 is never longer than the escape itself (6 or 12 bytes) */
      uint8_t tmp[4];
      size_t u = put_utf8(tmp, cp);
      if (dst)
        memcpy(dst + n, tmp, u);
      n += u;
      continue;
    }
    default: return fail(r, "invalid escape in string");
    }
    if (dst)
      dst[n] = out;
    n++;
  }
  if (dst)
    dst[n] = '\0';
  if (len)
    *len = n;
  return TG_OK;
}

/* Length of the raw string token starting at the quote (to size the copy): the closing
 * quote's distance, skipping escaped characters. */
static size_t raw_len(const jr *r) {
  const uint8_t *q = r->p + 1;
  while (q < r->end) {
    const uint8_t *s = memchr(q, '"', (size_t)(r->end - q));
    if (!s)
      return (size_t)(r->end - r->p);
    /* count the backslashes before the quote */
    size_t bs = 0;
    while (s - bs > r->p + 1 && s[-1 - (long)bs] == '\\')
      bs++;
    if (!(bs & 1))
      return (size_t)(s - r->p);
    q = s + 1;
  }
  return (size_t)(r->end - r->p);
}

/* A string into the arena; null → *out stays NULL. Other types are errors. */
static int read_string(jr *r, char **out) {
  if (is_null(r))
    return r->rc;
  if (peek(r) != '"')
    return fail(r, "expected a string");
  /* fast path: printable ASCII up to the closing quote (most strings): one scan, one copy */
  const uint8_t *q = r->p + 1;
  while (q < r->end && *q >= 0x20 && *q != '"' && *q != '\\' && *q < 0x80)
    q++;
  if (q < r->end && *q == '"') {
    char *d = tg_arena_strndup(r->a, (const char *)r->p + 1, (size_t)(q - r->p - 1));
    if (!d)
      return oom(r);
    r->p = q + 1;
    *out = d;
    return TG_OK;
  }
  size_t cap = raw_len(r) + 1;
  uint8_t *d = alloc(r, cap);
  if (!d)
    return r->rc;
  if (string_body(r, d, NULL))
    return r->rc;
  *out = (char *)d;
  return TG_OK;
}

/* An object key into buf (truncated keys are marked by *len > cap - 1: they match
 * nothing we know). */
static int read_key(jr *r, char *buf, size_t cap, size_t *len) {
  if (peek(r) != '"')
    return fail(r, "expected an object key");
  size_t raw = raw_len(r);
  if (raw + 1 <= cap)
    return string_body(r, (uint8_t *)buf, len);
  *len = cap; /* too long to be one of ours */
  buf[0] = '\0';
  return string_body(r, NULL, NULL);
}

/* A number token: returns its span [s, e) after checking the JSON grammar. */
static int number_token(jr *r, const uint8_t **s, const uint8_t **e) {
  const uint8_t *p = r->p;
  *s = p;
  if (p < r->end && *p == '-')
    p++;
  if (p >= r->end || *p < '0' || *p > '9')
    return fail(r, "expected a number");
  if (*p == '0')
    p++;
  else
    while (p < r->end && *p >= '0' && *p <= '9')
      p++;
  if (p < r->end && *p == '.') {
    p++;
    if (p >= r->end || *p < '0' || *p > '9')
      return fail(r, "invalid number");
    while (p < r->end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < r->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < r->end && (*p == '+' || *p == '-'))
      p++;
    if (p >= r->end || *p < '0' || *p > '9')
      return fail(r, "invalid number");
    while (p < r->end && *p >= '0' && *p <= '9')
      p++;
  }
  r->p = p;
  *e = p;
  return TG_OK;
}

/* A non-negative integer (microseconds, ports): a fraction is truncated, an exponent
 * applied; negative or over 2^64-1 is an error. null → unchanged. Strings of digits are
 * accepted too (some tracers quote 64-bit numbers). */
static int read_u64(jr *r, uint64_t *out) {
  if (is_null(r))
    return r->rc;
  int quoted = peek(r) == '"';
  if (quoted)
    r->p++;
  const uint8_t *s, *e;
  if (number_token(r, &s, &e))
    return r->rc;
  if (quoted && (r->p >= r->end || *r->p++ != '"'))
    return fail(r, "expected a number");
  if (*s == '-')
    return fail(r, "negative number");
  uint64_t v = 0;
  const uint8_t *p = s;
  for (; p < e && *p >= '0' && *p <= '9'; p++) {
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return fail(r, "number out of range");
    v = v * 10 + d;
  }
  if (p < e) { /* fraction or exponent: through double (rare) */
    char tmp[64];
    size_t n = (size_t)(e - s);
    if (n >= sizeof tmp)
      return fail(r, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    if (!(d >= 0) || d >= 18446744073709551616.0)
      return fail(r, "number out of range");
    v = (uint64_t)d;
  }
  *out = v;
  return TG_OK;
}

static int read_bool(jr *r, protobuf_c_boolean *out) {
  if (is_null(r))
    return r->rc;
  int c = peek(r);
  if (c == 't') {
    if (!literal(r, "true"))
      *out = 1;
    return r->rc;
  }
  if (c == 'f') {
    if (!literal(r, "false"))
      *out = 0;
    return r->rc;
  }
  return fail(r, "expected true or false");
}

static int skip_value(jr *r) {
  int c = peek(r);
  if (c == '"')
    return string_body(r, NULL, NULL);
  if (c == '{' || c == '[') {
    if (++r->depth > MAX_DEPTH)
      return fail(r, "nesting deeper than %d", MAX_DEPTH);
    char close = c == '{' ? '}' : ']';
    r->p++;
    if (peek(r) == close) {
      r->p++;
      r->depth--;
      return TG_OK;
    }
    for (;;) {
      if (c == '{') {
        if (peek(r) != '"' || string_body(r, NULL, NULL) || expect(r, ':'))
          return fail(r, "expected an object key");
      }
      if (skip_value(r))
        return r->rc;
      int n = peek(r);
      r->p++;
      if (n == ',')
        continue;
      if (n == close)
        break;
      r->p--;
      return fail(r, "expected ',' or '%c'", close);
    }
    r->depth--;
    return TG_OK;
  }
  if (c == 't')
    return literal(r, "true");
  if (c == 'f')
    return literal(r, "false");
  if (c == 'n')
    return literal(r, "null");
  const uint8_t *s, *e;
  return number_token(r, &s, &e);
}

/* Object iteration: call with *first = 1 right after reading '{'. Returns 1 with the
 * next key in key (and ':' consumed), 0 at '}', -1 on error. */
static int next_key(jr *r, int *first, char *key, size_t *klen) {
  int c = peek(r);
  if (c == '}') {
    r->p++;
    return 0;
  }
  if (!*first) {
    if (c != ',') {
      fail(r, "expected ',' or '}'");
      return -1;
    }
    r->p++;
  }
  *first = 0;
  if (read_key(r, key, KEY_MAX, klen) || expect(r, ':'))
    return -1;
  return 1;
}

/* Array iteration: 1 when another element follows, 0 at ']', -1 on error. */
static int next_elem(jr *r, int *first) {
  int c = peek(r);
  if (c == ']') {
    r->p++;
    return 0;
  }
  if (!*first) {
    if (c != ',') {
      fail(r, "expected ',' or ']'");
      return -1;
    }
    r->p++;
    if (peek(r) == ']') {
      fail(r, "trailing comma");
      return -1;
    }
  }
  *first = 0;
  return 1;
}

static int open_obj(jr *r) {
  if (peek(r) != '{')
    return fail(r, "expected an object");
  if (++r->depth > MAX_DEPTH)
    return fail(r, "nesting deeper than %d", MAX_DEPTH);
  r->p++;
  return TG_OK;
}

static int open_arr(jr *r) {
  if (peek(r) != '[')
    return fail(r, "expected an array");
  if (++r->depth > MAX_DEPTH)
    return fail(r, "nesting deeper than %d", MAX_DEPTH);
  r->p++;
  return TG_OK;
}

/* ---- ids, endpoints ---- */

/* A hex id of 1..max_digits digits into 8 or 16 bytes (left-padded with zeros). */
static int read_id(jr *r, ProtobufCBinaryData *out, size_t max_digits) {
  if (is_null(r))
    return r->rc;
  if (peek(r) != '"')
    return fail(r, "expected a hex string");
  const uint8_t *s = r->p + 1, *q = s;
  while (q < r->end && tg_hex_digit(*q) >= 0)
    q++;
  if (q >= r->end || *q != '"')
    return fail(r, "id must be hex digits");
  size_t n = (size_t)(q - s);
  if (!n || n > max_digits)
    return fail(r, "id must have 1 to %zu hex digits, has %zu", max_digits, n);
  size_t bytes = n > 16 ? 16 : 8;
  uint8_t *d = alloc(r, bytes);
  if (!d)
    return r->rc;
  memset(d, 0, bytes);
  /* from the last digit backwards */
  for (size_t i = 0; i < n; i++) {
    int h = tg_hex_digit(s[n - 1 - i]);
    d[bytes - 1 - i / 2] |= (uint8_t)(i & 1 ? h << 4 : h);
  }
  out->data = d;
  out->len = bytes;
  r->p = q + 1;
  return TG_OK;
}

static int read_ip(jr *r, ProtobufCBinaryData *out, int family) {
  char *text = NULL;
  if (read_string(r, &text) || !text)
    return r->rc;
  uint8_t b[16];
  size_t n = family == AF_INET ? 4 : 16;
  if (inet_pton(family, text, b) != 1)
    return TG_OK; /* an unparsable address is left out, as Zipkin does */
  uint8_t *d = alloc(r, n);
  if (!d)
    return r->rc;
  memcpy(d, b, n);
  out->data = d;
  out->len = n;
  return TG_OK;
}

static int read_endpoint(jr *r, tg_zipkin_endpoint **out) {
  if (is_null(r))
    return r->rc;
  tg_zipkin_endpoint *e = alloc(r, sizeof *e);
  if (!e || open_obj(r))
    return r->rc;
  zipkin__proto3__endpoint__init(e);
  char key[KEY_MAX];
  size_t klen;
  int first = 1, k;
  while ((k = next_key(r, &first, key, &klen)) == 1) {
    if (!strcmp(key, "serviceName")) {
      char *s = NULL;
      if (read_string(r, &s))
        return r->rc;
      if (s)
        e->service_name = s;
    } else if (!strcmp(key, "ipv4")) {
      if (read_ip(r, &e->ipv4, AF_INET))
        return r->rc;
    } else if (!strcmp(key, "ipv6")) {
      if (read_ip(r, &e->ipv6, AF_INET6))
        return r->rc;
    } else if (!strcmp(key, "port")) {
      uint64_t port = 0;
      if (read_u64(r, &port))
        return r->rc;
      e->port = port <= 65535 ? (int32_t)port : 0;
    } else if (skip_value(r)) {
      return r->rc;
    }
  }
  if (k < 0)
    return r->rc;
  r->depth--;
  *out = e;
  return TG_OK;
}

/* A tag value: a string, or the text of a number / boolean (lenient). */
static int read_tag_value(jr *r, char **out) {
  int c = peek(r);
  if (c == '"' || c == 'n')
    return read_string(r, out);
  const uint8_t *s = r->p;
  if (c == 't' || c == 'f') {
    protobuf_c_boolean b;
    if (read_bool(r, &b))
      return r->rc;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    const uint8_t *a, *e;
    if (number_token(r, &a, &e))
      return r->rc;
  } else {
    return fail(r, "tag values must be strings");
  }
  char *d = tg_arena_strndup(r->a, (const char *)s, (size_t)(r->p - s));
  if (!d)
    return oom(r);
  *out = d;
  return TG_OK;
}

/* Growable arena array of pointers (doubling; old copies stay in the arena). */
static int push_ptr(jr *r, void ***arr, size_t *n, size_t *cap, void *item) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    void **a = alloc(r, ncap * sizeof *a);
    if (!a)
      return r->rc;
    if (*n)
      memcpy(a, *arr, *n * sizeof *a);
    *arr = a;
    *cap = ncap;
  }
  (*arr)[(*n)++] = item;
  return TG_OK;
}

static int read_tags(jr *r, tg_zipkin_span *s) {
  if (is_null(r))
    return r->rc;
  if (open_obj(r))
    return r->rc;
  size_t cap = 0;
  int first = 1;
  for (;;) {
    int c = peek(r);
    if (c == '}') {
      r->p++;
      break;
    }
    if (!first) {
      if (expect(r, ','))
        return r->rc;
    }
    first = 0;
    tg_zipkin_tag *t = alloc(r, sizeof *t);
    if (!t)
      return r->rc;
    zipkin__proto3__span__tags_entry__init(t);
    t->key = t->value = NULL;
    if (read_string(r, &t->key) || !t->key || expect(r, ':'))
      return r->rc ? r->rc : fail(r, "expected a tag key");
    if (read_tag_value(r, &t->value))
      return r->rc;
    if (!t->value)
      continue; /* null value: no tag */
    if (push_ptr(r, (void ***)&s->tags, &s->n_tags, &cap, t))
      return r->rc;
  }
  r->depth--;
  return TG_OK;
}

/* ---- v2 ---- */

static int read_annotation(jr *r, tg_zipkin_annotation *a, tg_zipkin_endpoint **endpoint) {
  zipkin__proto3__annotation__init(a);
  if (open_obj(r))
    return r->rc;
  char key[KEY_MAX];
  size_t klen;
  int first = 1, k;
  while ((k = next_key(r, &first, key, &klen)) == 1) {
    if (!strcmp(key, "timestamp")) {
      if (read_u64(r, &a->timestamp))
        return r->rc;
    } else if (!strcmp(key, "value")) {
      char *v = NULL;
      if (read_string(r, &v))
        return r->rc;
      if (v)
        a->value = v;
    } else if (endpoint && !strcmp(key, "endpoint")) {
      if (read_endpoint(r, endpoint))
        return r->rc;
    } else if (skip_value(r)) {
      return r->rc;
    }
  }
  if (k < 0)
    return r->rc;
  r->depth--;
  return TG_OK;
}

static int read_annotations_v2(jr *r, tg_zipkin_span *s) {
  if (is_null(r))
    return r->rc;
  if (open_arr(r))
    return r->rc;
  size_t cap = 0;
  int first = 1, more;
  while ((more = next_elem(r, &first)) == 1) {
    tg_zipkin_annotation *a = alloc(r, sizeof *a);
    if (!a || read_annotation(r, a, NULL) ||
        push_ptr(r, (void ***)&s->annotations, &s->n_annotations, &cap, a))
      return r->rc;
  }
  if (more < 0)
    return r->rc;
  r->depth--;
  return TG_OK;
}

static int kind_of(const char *k) {
  if (!strcmp(k, "CLIENT"))
    return TG_ZIPKIN_KIND_CLIENT;
  if (!strcmp(k, "SERVER"))
    return TG_ZIPKIN_KIND_SERVER;
  if (!strcmp(k, "PRODUCER"))
    return TG_ZIPKIN_KIND_PRODUCER;
  if (!strcmp(k, "CONSUMER"))
    return TG_ZIPKIN_KIND_CONSUMER;
  return TG_ZIPKIN_KIND_UNSPECIFIED;
}

/* Reads one span object into s (initialised here): the fields v1 and v2 share (traceId,
 * id, parentId, name, timestamp, duration, debug) here, the others through field, which
 * returns TG_OK or an error for a key it reads and NOT_MINE for one it does not know
 * (skipped). Ends with the required-id checks. */
#define NOT_MINE 1
typedef int (*span_field_fn)(jr *r, const char *key, void *ctx);

static int read_shared_field(jr *r, const char *key, tg_zipkin_span *s) {
  if (!strcmp(key, "traceId")) {
    r->field = "traceId";
    return read_id(r, &s->trace_id, 32);
  }
  if (!strcmp(key, "id")) {
    r->field = "id";
    return read_id(r, &s->id, 16);
  }
  if (!strcmp(key, "parentId")) {
    r->field = "parentId";
    return read_id(r, &s->parent_id, 16);
  }
  if (!strcmp(key, "name")) {
    char *v = NULL;
    r->field = "name";
    int rc = read_string(r, &v);
    if (v)
      s->name = v;
    return rc;
  }
  if (!strcmp(key, "timestamp")) {
    r->field = "timestamp";
    return read_u64(r, &s->timestamp);
  }
  if (!strcmp(key, "duration")) {
    r->field = "duration";
    return read_u64(r, &s->duration);
  }
  if (!strcmp(key, "debug")) {
    r->field = "debug";
    return read_bool(r, &s->debug);
  }
  return NOT_MINE;
}

static int read_span_object(jr *r, tg_zipkin_span *s, span_field_fn field, void *ctx) {
  zipkin__proto3__span__init(s);
  if (open_obj(r))
    return r->rc;
  char key[KEY_MAX];
  size_t klen;
  int first = 1, k;
  while ((k = next_key(r, &first, key, &klen)) == 1) {
    r->field = NULL;
    int rc = read_shared_field(r, key, s);
    if (rc == NOT_MINE)
      rc = field(r, key, ctx);
    if (rc == NOT_MINE)
      rc = skip_value(r);
    if (rc)
      return r->rc;
  }
  if (k < 0)
    return r->rc;
  r->field = NULL;
  r->depth--;
  if (!s->trace_id.len)
    return fail(r, "traceId is required");
  if (!s->id.len)
    return fail(r, "id is required");
  return TG_OK;
}

/* v2's own fields. */
static int read_field_v2(jr *r, const char *key, void *ctx) {
  tg_zipkin_span *s = ctx;
  if (!strcmp(key, "kind")) {
    char *v = NULL;
    r->field = "kind";
    int rc = read_string(r, &v);
    if (v)
      s->kind = kind_of(v);
    return rc;
  }
  if (!strcmp(key, "shared")) {
    r->field = "shared";
    return read_bool(r, &s->shared);
  }
  if (!strcmp(key, "localEndpoint")) {
    r->field = "localEndpoint";
    return read_endpoint(r, &s->local_endpoint);
  }
  if (!strcmp(key, "remoteEndpoint")) {
    r->field = "remoteEndpoint";
    return read_endpoint(r, &s->remote_endpoint);
  }
  if (!strcmp(key, "annotations")) {
    r->field = "annotations";
    return read_annotations_v2(r, s);
  }
  if (!strcmp(key, "tags")) {
    r->field = "tags";
    return read_tags(r, s);
  }
  return NOT_MINE;
}

static int read_span_v2(jr *r, tg_zipkin_span *s) {
  return read_span_object(r, s, read_field_v2, s);
}

/* ---- v1 ---- */

typedef struct v1_annotation {
  tg_zipkin_annotation a;
  tg_zipkin_endpoint *endpoint;
} v1_annotation;

typedef struct v1_binary {
  char *key, *value;
  tg_zipkin_endpoint *endpoint;
} v1_binary;

typedef struct v1_span {
  tg_zipkin_span base; /* ids, name, timestamp, duration, debug */
  v1_annotation **ann;
  size_t n_ann, cap_ann;
  v1_binary **bin;
  size_t n_bin, cap_bin;
} v1_span;

static int read_binary(jr *r, v1_binary *b) {
  if (open_obj(r))
    return r->rc;
  char key[KEY_MAX];
  size_t klen;
  int first = 1, k;
  while ((k = next_key(r, &first, key, &klen)) == 1) {
    if (!strcmp(key, "key")) {
      if (read_string(r, &b->key))
        return r->rc;
    } else if (!strcmp(key, "value")) {
      if (read_tag_value(r, &b->value))
        return r->rc;
    } else if (!strcmp(key, "endpoint")) {
      if (read_endpoint(r, &b->endpoint))
        return r->rc;
    } else if (skip_value(r)) {
      return r->rc;
    }
  }
  if (k < 0)
    return r->rc;
  r->depth--;
  return TG_OK;
}

/* v1's own fields: annotations and binaryAnnotations, kept apart for the conversion. */
static int read_field_v1(jr *r, const char *key, void *ctx) {
  v1_span *v = ctx;
  if (strcmp(key, "annotations") && strcmp(key, "binaryAnnotations"))
    return NOT_MINE;
  int binary = key[0] == 'b';
  r->field = binary ? "binaryAnnotations" : "annotations";
  if (is_null(r))
    return r->rc;
  if (open_arr(r))
    return r->rc;
  int f = 1, more;
  while ((more = next_elem(r, &f)) == 1) {
    if (binary) {
      v1_binary *b = alloc(r, sizeof *b);
      if (!b)
        return r->rc;
      memset(b, 0, sizeof *b);
      if (read_binary(r, b) || push_ptr(r, (void ***)&v->bin, &v->n_bin, &v->cap_bin, b))
        return r->rc;
    } else {
      v1_annotation *a = alloc(r, sizeof *a);
      if (!a)
        return r->rc;
      a->endpoint = NULL;
      if (read_annotation(r, &a->a, &a->endpoint) ||
          push_ptr(r, (void ***)&v->ann, &v->n_ann, &v->cap_ann, a))
        return r->rc;
    }
  }
  if (more < 0)
    return r->rc;
  r->depth--;
  return TG_OK;
}

static int read_span_v1(jr *r, v1_span *v) {
  memset(v, 0, sizeof *v);
  return read_span_object(r, &v->base, read_field_v1, v);
}

static const v1_annotation *core(const v1_span *v, const char *value) {
  for (size_t i = 0; i < v->n_ann; i++)
    if (v->ann[i]->a.value && !strcmp(v->ann[i]->a.value, value))
      return v->ann[i];
  return NULL;
}

static int is_core(const char *value) {
  static const char *const names[] = {"cs", "cr", "sr", "ss", "ms", "mr", "ws", "wr"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(value, names[i]))
      return 1;
  return 0;
}

/* One v2 span of a v1 span, for one side (kind), with the core annotations begin/end. */
static tg_zipkin_span *v2_of(jr *r, const v1_span *v, int kind, const v1_annotation *begin,
                             const v1_annotation *end, const char *remote_key, int shared) {
  tg_zipkin_span *s = alloc(r, sizeof *s);
  if (!s)
    return NULL;
  *s = v->base;
  s->kind = kind;
  s->shared = shared;
  s->annotations = NULL;
  s->n_annotations = 0;
  s->tags = NULL;
  s->n_tags = 0;
  if (begin) {
    if (!s->timestamp || shared)
      s->timestamp = begin->a.timestamp;
    if (end && end->a.timestamp > begin->a.timestamp && (!v->base.duration || shared))
      s->duration = end->a.timestamp - begin->a.timestamp;
    s->local_endpoint = begin->endpoint;
  } else if (end) {
    s->local_endpoint = end->endpoint;
  }
  if (v->n_ann) {
    s->annotations = alloc(r, v->n_ann * sizeof *s->annotations);
    if (!s->annotations)
      return NULL;
  }
  for (size_t i = 0; i < v->n_ann; i++) {
    v1_annotation *a = v->ann[i];
    if (!s->local_endpoint)
      s->local_endpoint = a->endpoint;
    if (a->a.value && is_core(a->a.value))
      continue;
    s->annotations[s->n_annotations++] = &a->a;
  }
  if (v->n_bin) {
    s->tags = alloc(r, v->n_bin * sizeof *s->tags);
    if (!s->tags)
      return NULL;
  }
  for (size_t i = 0; i < v->n_bin; i++) {
    const v1_binary *b = v->bin[i];
    if (!b->key)
      continue;
    if (!strcmp(b->key, "sa") || !strcmp(b->key, "ca") || !strcmp(b->key, "ma")) {
      if (remote_key && !strcmp(b->key, remote_key))
        s->remote_endpoint = b->endpoint;
      continue;
    }
    if (!s->local_endpoint)
      s->local_endpoint = b->endpoint;
    if (!b->value)
      continue;
    tg_zipkin_tag *t = alloc(r, sizeof *t);
    if (!t)
      return NULL;
    zipkin__proto3__span__tags_entry__init(t);
    t->key = b->key;
    t->value = b->value;
    s->tags[s->n_tags++] = t;
  }
  return s;
}

/* Appends the v2 spans of v (one, or two for a shared client/server span). */
static int convert_v1(jr *r, const v1_span *v, void ***out, size_t *n, size_t *cap) {
  const v1_annotation *cs = core(v, "cs"), *cr = core(v, "cr"), *sr = core(v, "sr"),
                      *ss = core(v, "ss"), *ms = core(v, "ms"), *mr = core(v, "mr");
  int client = cs || cr, server = sr || ss;
  tg_zipkin_span *a = NULL, *b = NULL;
  if (client) {
    a = v2_of(r, v, TG_ZIPKIN_KIND_CLIENT, cs, cr, "sa", 0);
    if (a && server)
      b = v2_of(r, v, TG_ZIPKIN_KIND_SERVER, sr, ss, "ca", 1);
  } else if (server) {
    a = v2_of(r, v, TG_ZIPKIN_KIND_SERVER, sr, ss, "ca", 0);
  } else if (ms) {
    a = v2_of(r, v, TG_ZIPKIN_KIND_PRODUCER, ms, NULL, "ma", 0);
  } else if (mr) {
    a = v2_of(r, v, TG_ZIPKIN_KIND_CONSUMER, mr, NULL, "ma", 0);
  } else {
    a = v2_of(r, v, TG_ZIPKIN_KIND_UNSPECIFIED, NULL, NULL, NULL, 0);
  }
  if (!a || (client && server && !b))
    return r->rc ? r->rc : oom(r);
  if (push_ptr(r, out, n, cap, a))
    return r->rc;
  return b ? push_ptr(r, out, n, cap, b) : TG_OK;
}

int tg_zipkin_json_decode(tg_arena *arena, int v1, const uint8_t *data, size_t len,
                          tg_zipkin_list **out, char *err, size_t err_size) {
  jr r = {.start = data, .p = data, .end = data + len, .a = arena, .err = err,
          .err_size = err_size, .span_index = -1};
  if (err && err_size)
    err[0] = '\0';
  *out = NULL;
  tg_zipkin_list *list = alloc(&r, sizeof *list);
  if (!list)
    return r.rc;
  zipkin__proto3__list_of_spans__init(list);
  if (open_arr(&r))
    return r.rc;
  size_t cap = 0;
  long index = 0;
  int first = 1, more;
  while ((more = next_elem(&r, &first)) == 1) {
    r.span_index = index++;
    if (v1) {
      v1_span v;
      if (read_span_v1(&r, &v) ||
          convert_v1(&r, &v, (void ***)&list->spans, &list->n_spans, &cap))
        return r.rc;
    } else {
      tg_zipkin_span *s = alloc(&r, sizeof *s);
      if (!s || read_span_v2(&r, s) ||
          push_ptr(&r, (void ***)&list->spans, &list->n_spans, &cap, s))
        return r.rc;
    }
  }
  if (more < 0)
    return r.rc;
  r.span_index = -1;
  if (peek(&r) != -1)
    return fail(&r, "unexpected data after the array");
  *out = list;
  return TG_OK;
}
