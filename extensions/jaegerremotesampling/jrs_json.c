/* Strict positioned JSON reader for the strategies file (see jrs_json.h). Recursive
 * descent with an explicit depth bound; every node is one tg_malloc chained on the
 * document's list, so a failure half-way frees cleanly. Numbers are checked against the
 * RFC grammar by hand and then converted with strtod (the grammar is a subset of what
 * strtod reads, so the two agree). */
#include "jrs_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"

typedef struct reader {
  const char *p, *end, *line_start;
  unsigned line;
  jrs_json_doc *doc;
  char *err;
  size_t err_size;
  unsigned err_line, err_col;
  int failed;
  size_t nodes;
} reader;

static unsigned col_of(const reader *r, const char *at) {
  return (unsigned)(at - r->line_start) + 1;
}

__attribute__((format(printf, 4, 0))) static void fail_v(reader *r, unsigned line,
                                                         unsigned col, const char *fmt,
                                                         va_list ap) {
  if (r->failed)
    return;
  r->failed = 1;
  r->err_line = line;
  r->err_col = col;
  if (r->err_size)
    vsnprintf(r->err, r->err_size, fmt, ap);
}

/* Records the first error only: at byte `at` of the current line. */
__attribute__((format(printf, 3, 4))) static void fail(reader *r, const char *at,
                                                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fail_v(r, r->line, col_of(r, at), fmt, ap);
  va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void fail_node(reader *r, const jrs_json *n,
                                                            const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fail_v(r, n->line, n->col, fmt, ap);
  va_end(ap);
}

static void skip_ws(reader *r) {
  while (r->p < r->end) {
    char c = *r->p;
    if (c == '\n') {
      r->line++;
      r->line_start = ++r->p;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      r->p++;
    } else {
      break;
    }
  }
}

static jrs_json *node_new(reader *r, jrs_json_kind kind, const char *at) {
  if (++r->nodes > JRS_JSON_MAX_NODES) {
    fail(r, at, "more than %d values", JRS_JSON_MAX_NODES);
    return NULL;
  }
  jrs_json *n = tg_calloc(1, sizeof *n);
  if (!n) {
    fail(r, at, "out of memory");
    return NULL;
  }
  n->kind = kind;
  n->line = r->line;
  n->col = col_of(r, at);
  n->next_ = r->doc->all_;
  r->doc->all_ = n;
  return n;
}

/* Length of a valid UTF-8 sequence at p (not NUL), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  unsigned min;
  if (c < 0x80)
    return c ? 1 : 0;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, min = 0x10000;
  else
    return 0;
  if ((size_t)(end - p) < n)
    return 0;
  unsigned v = c & (0x7Fu >> n);
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    v = (v << 6) | (p[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
    return 0;
  return n;
}

static size_t put_utf8(char *out, unsigned v) {
  if (v < 0x80) {
    out[0] = (char)v;
    return 1;
  }
  if (v < 0x800) {
    out[0] = (char)(0xC0 | (v >> 6));
    out[1] = (char)(0x80 | (v & 0x3F));
    return 2;
  }
  if (v < 0x10000) {
    out[0] = (char)(0xE0 | (v >> 12));
    out[1] = (char)(0x80 | ((v >> 6) & 0x3F));
    out[2] = (char)(0x80 | (v & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (v >> 18));
  out[1] = (char)(0x80 | ((v >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((v >> 6) & 0x3F));
  out[3] = (char)(0x80 | (v & 0x3F));
  return 4;
}

static int hex4(const char *p, const char *end, unsigned *out) {
  if (end - p < 4)
    return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

/* At the opening quote. The decoded text is never longer than the raw text. */
static jrs_json *read_string(reader *r) {
  const char *start = r->p;
  jrs_json *n = node_new(r, JRS_JSON_STRING, start);
  if (!n)
    return NULL;
  r->p++;
  const char *scan = r->p;
  while (scan < r->end && *scan != '"') /* bound the output buffer */
    scan += (*scan == '\\' && scan + 1 < r->end) ? 2 : 1;
  if (scan >= r->end) {
    fail(r, start, "unterminated string");
    return NULL;
  }
  char *out = tg_malloc((size_t)(scan - r->p) + 1);
  if (!out) {
    fail(r, start, "out of memory");
    return NULL;
  }
  n->str = out;
  size_t o = 0;
  while (*r->p != '"') {
    unsigned char c = (unsigned char)*r->p;
    if (c < 0x20) {
      fail(r, r->p, "control character in string (escape it)");
      return NULL;
    }
    if (c != '\\') {
      size_t l = utf8_len((const unsigned char *)r->p, (const unsigned char *)r->end);
      if (!l) {
        fail(r, r->p, "invalid UTF-8 in string");
        return NULL;
      }
      memcpy(out + o, r->p, l);
      o += l;
      r->p += l;
      continue;
    }
    const char *esc = r->p;
    char e = r->p[1];
    r->p += 2;
    switch (e) {
    case '"': out[o++] = '"'; break;
    case '\\': out[o++] = '\\'; break;
    case '/': out[o++] = '/'; break;
    case 'b': out[o++] = '\b'; break;
    case 'f': out[o++] = '\f'; break;
    case 'n': out[o++] = '\n'; break;
    case 'r': out[o++] = '\r'; break;
    case 't': out[o++] = '\t'; break;
    case 'u': {
      unsigned v, lo;
      if (hex4(r->p, r->end, &v)) {
        fail(r, esc, "bad \\u escape");
        return NULL;
      }
      r->p += 4;
      if (v >= 0xD800 && v <= 0xDBFF) {
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
            hex4(r->p + 2, r->end, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
          fail(r, esc, "unpaired UTF-16 surrogate in \\u escape");
          return NULL;
        }
        r->p += 6;
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
      } else if ((v >= 0xDC00 && v <= 0xDFFF) || v == 0) {
        fail(r, esc, v ? "unpaired UTF-16 surrogate in \\u escape" : "NUL in string");
        return NULL;
      }
      o += put_utf8(out + o, v);
      break;
    }
    default:
      fail(r, esc, "unknown escape \\%c", e >= 0x20 && e < 0x7F ? e : '?');
      return NULL;
    }
  }
  out[o] = '\0';
  n->len = o;
  r->p++; /* closing quote */
  return n;
}

static jrs_json *read_number(reader *r) {
  const char *s = r->p, *p = s;
  int integral = 1;
  if (p < r->end && *p == '-')
    p++;
  if (p < r->end && *p == '0') {
    p++;
  } else if (p < r->end && *p >= '1' && *p <= '9') {
    while (p < r->end && *p >= '0' && *p <= '9')
      p++;
  } else {
    fail(r, s, "invalid number");
    return NULL;
  }
  if (p < r->end && *p == '.') {
    integral = 0;
    p++;
    if (p >= r->end || *p < '0' || *p > '9') {
      fail(r, s, "invalid number: digits must follow '.'");
      return NULL;
    }
    while (p < r->end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < r->end && (*p == 'e' || *p == 'E')) {
    integral = 0;
    p++;
    if (p < r->end && (*p == '+' || *p == '-'))
      p++;
    if (p >= r->end || *p < '0' || *p > '9') {
      fail(r, s, "invalid number: digits must follow the exponent");
      return NULL;
    }
    while (p < r->end && *p >= '0' && *p <= '9')
      p++;
  }
  char buf[64];
  size_t len = (size_t)(p - s);
  if (len >= sizeof buf) {
    fail(r, s, "number too long");
    return NULL;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  double v = strtod(buf, NULL);
  if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
    fail(r, s, "number out of range");
    return NULL;
  }
  jrs_json *n = node_new(r, JRS_JSON_NUMBER, s);
  if (!n)
    return NULL;
  n->number = v;
  n->integral = integral;
  r->p = p;
  return n;
}

static int push(reader *r, const char *at, jrs_json ***arr, size_t *n, size_t *cap,
                jrs_json *v) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 4;
    jrs_json **grown = tg_realloc(*arr, nc * sizeof *grown);
    if (!grown) {
      fail(r, at, "out of memory");
      return -1;
    }
    *arr = grown;
    *cap = nc;
  }
  (*arr)[(*n)++] = v;
  return 0;
}

static jrs_json *read_value(reader *r, int depth);

static jrs_json *read_array(reader *r, int depth) {
  jrs_json *n = node_new(r, JRS_JSON_ARRAY, r->p);
  if (!n)
    return NULL;
  size_t cap = 0;
  r->p++;
  skip_ws(r);
  if (r->p < r->end && *r->p == ']') {
    r->p++;
    return n;
  }
  for (;;) {
    jrs_json *v = read_value(r, depth + 1);
    if (!v || push(r, r->p, &n->items, &n->len, &cap, v))
      return NULL;
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      continue;
    }
    if (r->p < r->end && *r->p == ']') {
      r->p++;
      return n;
    }
    fail(r, r->p < r->end ? r->p : r->end, "expected ',' or ']' in array");
    return NULL;
  }
}

static jrs_json *read_object(reader *r, int depth) {
  jrs_json *n = node_new(r, JRS_JSON_OBJECT, r->p);
  if (!n)
    return NULL;
  size_t cap = 0, kcap = 0, kn = 0;
  r->p++;
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    return n;
  }
  for (;;) {
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') {
      fail(r, r->p, "expected a string key in object");
      return NULL;
    }
    jrs_json *k = read_string(r);
    if (!k)
      return NULL;
    for (size_t i = 0; i < kn; i++)
      if (n->keys[i]->len == k->len && !memcmp(n->keys[i]->str, k->str, k->len)) {
        fail_node(r, k, "duplicate key \"%.100s\"", k->str);
        return NULL;
      }
    if (push(r, r->p, &n->keys, &kn, &kcap, k))
      return NULL;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') {
      fail(r, r->p, "expected ':' after object key");
      return NULL;
    }
    r->p++;
    jrs_json *v = read_value(r, depth + 1);
    if (!v || push(r, r->p, &n->items, &n->len, &cap, v))
      return NULL;
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      continue;
    }
    if (r->p < r->end && *r->p == '}') {
      r->p++;
      return n;
    }
    fail(r, r->p, "expected ',' or '}' in object");
    return NULL;
  }
}

static int literal(reader *r, const char *word) {
  size_t l = strlen(word);
  if ((size_t)(r->end - r->p) >= l && !memcmp(r->p, word, l)) {
    r->p += l;
    return 1;
  }
  return 0;
}

static jrs_json *read_value(reader *r, int depth) {
  skip_ws(r);
  if (r->p >= r->end) {
    fail(r, r->end, "unexpected end of input");
    return NULL;
  }
  if (depth > JRS_JSON_MAX_DEPTH) {
    fail(r, r->p, "nested deeper than %d levels", JRS_JSON_MAX_DEPTH);
    return NULL;
  }
  const char *at = r->p;
  switch (*r->p) {
  case '{': return read_object(r, depth);
  case '[': return read_array(r, depth);
  case '"': return read_string(r);
  case 't':
  case 'f': {
    int t = *r->p == 't';
    if (!literal(r, t ? "true" : "false"))
      break;
    jrs_json *n = node_new(r, JRS_JSON_BOOL, at);
    if (n)
      n->number = t;
    return n;
  }
  case 'n':
    if (!literal(r, "null"))
      break;
    return node_new(r, JRS_JSON_NULL, at);
  default:
    if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
      return read_number(r);
    break;
  }
  fail(r, at, "unexpected character '%c'",
       (unsigned char)*at >= 0x20 && (unsigned char)*at < 0x7F ? *at : '?');
  return NULL;
}

void jrs_json_free(jrs_json_doc *doc) {
  jrs_json *n = doc->all_;
  while (n) {
    jrs_json *next = n->next_;
    tg_free(n->str);
    tg_free(n->items);
    tg_free(n->keys);
    tg_free(n);
    n = next;
  }
  doc->all_ = NULL;
  doc->root = NULL;
}

int jrs_json_parse(const char *text, size_t len, jrs_json_doc *doc, char *err,
                   size_t err_size, unsigned *line, unsigned *col) {
  memset(doc, 0, sizeof *doc);
  reader r = {.p = text, .end = text + len, .line_start = text, .line = 1, .doc = doc,
              .err = err, .err_size = err_size};
  if (err_size)
    err[0] = '\0';
  /* A UTF-8 byte-order mark is tolerated, as Go's encoder never writes one but editors do. */
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
    r.p = r.line_start = text + 3;
  jrs_json *root = read_value(&r, 1);
  if (root) {
    skip_ws(&r);
    if (r.p < r.end)
      fail(&r, r.p, "unexpected data after the top-level value");
  }
  if (r.failed || !root) {
    *line = r.err_line;
    *col = r.err_col;
    jrs_json_free(doc);
    return -1;
  }
  doc->root = root;
  return 0;
}

const jrs_json *jrs_json_get(const jrs_json *obj, const char *key) {
  if (!obj || obj->kind != JRS_JSON_OBJECT)
    return NULL;
  for (size_t i = 0; i < obj->len; i++)
    if (!strcmp(obj->keys[i]->str, key))
      return obj->items[i];
  return NULL;
}

const char *jrs_json_kind_name(jrs_json_kind kind) {
  switch (kind) {
  case JRS_JSON_NULL: return "null";
  case JRS_JSON_BOOL: return "a boolean";
  case JRS_JSON_NUMBER: return "a number";
  case JRS_JSON_STRING: return "a string";
  case JRS_JSON_ARRAY: return "an array";
  case JRS_JSON_OBJECT: return "an object";
  }
  return "a value";
}
