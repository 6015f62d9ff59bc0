/* OTTL condition parser: a hand-written lexer and recursive-descent parser for the
 * subset in filter_ottl.h, written from the grammar in the OpenTelemetry Collector
 * contrib documentation (pkg/ottl LANGUAGE.md):
 *   condition := or ;  or := and ("or" and)* ;  and := not ("and" not)* ;
 *   not := "not" not | "(" or ")" | value [cmp_op value]
 * `not` binds tightest, then `and`, then `or`. A value without a comparison must be a
 * boolean (true, false or IsMatch(...)). Literals: "strings" (Go escapes \" \\ \n \t \r),
 * ints ([+-]digits), floats ([+-]digits.digits, leading digit optional), true, false, nil.
 * Enums are upper-case identifiers resolved to ints at parse time.
 *
 * The parser never guesses: every OTTL construct outside the subset stops compilation
 * with the byte offset where it starts and a message naming it (the filter processor
 * turns the offset into a file:line:col). Nesting is bounded (TG_OTTL_MAX_DEPTH) so a
 * hostile config cannot overflow the stack; the fuzz target tests/fuzz/ottl drives this
 * file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_ottl_internal.h"
#include "tg_alloc.h"
#include "tg_error.h"

typedef enum tok {
  T_EOF, T_IDENT, T_UPPER, T_STRING, T_INT, T_FLOAT, T_BYTES, T_LPAREN, T_RPAREN, T_LBRACK,
  T_RBRACK, T_LBRACE, T_RBRACE, T_DOT, T_COMMA, T_COLON, T_OP, T_MATH, T_ASSIGN, T_BAD
} tok;

typedef struct parser {
  const char *s;
  size_t len, pos;
  tg_ottl_context ctx;
  /* current token */
  tok t;
  size_t start, end; /* [start, end) in s */
  ottl_op op;
  tok prev;
  int depth;
  unsigned max_captures;
  /* first error */
  int failed;
  size_t err_off;
  char *why;
  size_t why_size;
} parser;

__attribute__((format(printf, 3, 4))) static void fail(parser *p, size_t off, const char *fmt,
                                                       ...) {
  if (p->failed)
    return;
  p->failed = 1;
  p->err_off = off;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->why, p->why_size, fmt, ap);
  va_end(ap);
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_ident_char(char c) { return is_lower(c) || is_upper(c) || is_digit(c); }

static int tok_is(const parser *p, const char *word) {
  size_t n = strlen(word);
  return p->t == T_IDENT && p->end - p->start == n && memcmp(p->s + p->start, word, n) == 0;
}

/* A '+' or '-' is a sign when a value may start here (not after a value). */
static int value_ended(tok t) {
  return t == T_IDENT || t == T_UPPER || t == T_STRING || t == T_INT || t == T_FLOAT ||
         t == T_RPAREN || t == T_RBRACK || t == T_BYTES;
}

static void next(parser *p) {
  /* after `and`, `or`, `not` a value starts: a following '-' is a sign */
  int after_keyword = tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "not");
  p->prev = after_keyword ? T_OP : p->t;
  const char *s = p->s;
  size_t i = p->pos, n = p->len;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  p->start = i;
  if (i >= n) {
    p->t = T_EOF;
    p->end = p->pos = i;
    return;
  }
  char c = s[i];
  tok t = T_BAD;
  size_t j = i + 1;
  if (is_lower(c) || is_upper(c)) {
    while (j < n && is_ident_char(s[j]))
      j++;
    t = is_upper(c) ? T_UPPER : T_IDENT;
  } else if (c == '"') {
    while (j < n && s[j] != '"') {
      if (s[j] == '\\' && j + 1 < n)
        j++;
      j++;
    }
    if (j >= n) {
      fail(p, i, "unterminated string literal");
      t = T_BAD;
      j = n;
    } else {
      j++;
      t = T_STRING;
    }
  } else if (c == '0' && j < n && (s[j] == 'x' || s[j] == 'X')) {
    j++;
    while (j < n && is_ident_char(s[j]))
      j++;
    t = T_BYTES;
  } else if (is_digit(c) || c == '.' ||
             ((c == '-' || c == '+') && !value_ended(p->prev) && j < n &&
              (is_digit(s[j]) || s[j] == '.'))) {
    if (c == '.' && !(j < n && is_digit(s[j]))) {
      t = T_DOT;
    } else {
      size_t k = (c == '-' || c == '+') ? j : i;
      while (k < n && is_digit(s[k]))
        k++;
      t = T_INT;
      if (k < n && s[k] == '.') {
        k++;
        size_t fd = k;
        while (k < n && is_digit(s[k]))
          k++;
        t = k > fd ? T_FLOAT : T_BAD;
      }
      j = k;
      if (t == T_BAD)
        fail(p, i, "malformed number literal");
    }
  } else {
    switch (c) {
    case '(': t = T_LPAREN; break;
    case ')': t = T_RPAREN; break;
    case '[': t = T_LBRACK; break;
    case ']': t = T_RBRACK; break;
    case '{': t = T_LBRACE; break;
    case '}': t = T_RBRACE; break;
    case ',': t = T_COMMA; break;
    case ':': t = T_COLON; break;
    case '+': case '-': case '*': case '/': t = T_MATH; break;
    case '=':
      if (j < n && s[j] == '=') {
        t = T_OP, p->op = OTTL_EQ, j++;
      } else {
        t = T_ASSIGN;
      }
      break;
    case '!':
      if (j < n && s[j] == '=')
        t = T_OP, p->op = OTTL_NE, j++;
      break;
    case '<':
      t = T_OP, p->op = OTTL_LT;
      if (j < n && s[j] == '=')
        p->op = OTTL_LE, j++;
      break;
    case '>':
      t = T_OP, p->op = OTTL_GT;
      if (j < n && s[j] == '=')
        p->op = OTTL_GE, j++;
      break;
    default: break;
    }
    if (t == T_BAD)
      fail(p, i, "unexpected character '%c'", c >= 32 && c < 127 ? c : '?');
  }
  p->t = t;
  p->end = p->pos = j;
}


/* Decodes the string literal of the current token into a malloc'd NUL-terminated buffer. */
static char *unquote(parser *p, size_t *out_len) {
  const char *s = p->s + p->start + 1;
  size_t n = p->end - p->start - 2;
  char *out = tg_malloc(n + 1);
  if (!out) {
    fail(p, p->start, "out of memory");
    return NULL;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\') {
      char e = s[++i];
      switch (e) {
      case '"': c = '"'; break;
      case '\\': c = '\\'; break;
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      default:
        fail(p, p->start + 1 + i - 1,
             "unknown escape '\\%c' in a string literal (a regex backslash is written \\\\)",
             e >= 32 && e < 127 ? e : '?');
        tg_free(out);
        return NULL;
      }
    }
    out[o++] = c;
  }
  out[o] = '\0';
  *out_len = o;
  return out;
}

static ottl_value *new_value(parser *p, ottl_vkind kind) {
  ottl_value *v = tg_calloc(1, sizeof *v);
  if (!v)
    fail(p, p->start, "out of memory");
  else
    v->kind = kind;
  return v;
}

static ottl_node *new_node(parser *p, ottl_nkind kind) {
  ottl_node *nd = tg_calloc(1, sizeof *nd);
  if (!nd)
    fail(p, p->start, "out of memory");
  else
    nd->kind = kind;
  return nd;
}

void tg_ottl_value_free(ottl_value *v) {
  if (!v)
    return;
  tg_free(v->lit_buf);
  tg_free(v->key);
  tg_ottl_value_free(v->arg);
  if (v->re)
    pcre2_code_free(v->re);
  tg_free(v);
}

void tg_ottl_node_free(ottl_node *n) {
  if (!n)
    return;
  tg_ottl_node_free(n->a);
  tg_ottl_node_free(n->b);
  tg_ottl_value_free(n->lhs);
  tg_ottl_value_free(n->rhs);
  tg_free(n);
}

typedef struct enum_def {
  const char *name;
  int64_t value;
} enum_def;

/* Span kinds and status codes as OTLP numbers them (trace.proto). */
static const enum_def enums[] = {
    {"SPAN_KIND_UNSPECIFIED", 0}, {"SPAN_KIND_INTERNAL", 1}, {"SPAN_KIND_SERVER", 2},
    {"SPAN_KIND_CLIENT", 3},      {"SPAN_KIND_PRODUCER", 4}, {"SPAN_KIND_CONSUMER", 5},
    {"STATUS_CODE_UNSET", 0},     {"STATUS_CODE_OK", 1},     {"STATUS_CODE_ERROR", 2},
};

typedef struct path_def {
  const char *path;
  ottl_path id;
  int keyed;
} path_def;

static const path_def span_paths[] = {
    {"name", OTTL_P_NAME, 0},
    {"kind", OTTL_P_KIND, 0},
    {"status.code", OTTL_P_STATUS_CODE, 0},
    {"status.message", OTTL_P_STATUS_MESSAGE, 0},
    {"attributes", OTTL_P_ATTR, 1},
    {"resource.attributes", OTTL_P_RES_ATTR, 1},
    {"instrumentation_scope.name", OTTL_P_SCOPE_NAME, 0},
    {"instrumentation_scope.version", OTTL_P_SCOPE_VERSION, 0},
    {"instrumentation_scope.attributes", OTTL_P_SCOPE_ATTR, 1},
};

static const path_def event_paths[] = {
    {"name", OTTL_P_EVENT_NAME, 0},
    {"attributes", OTTL_P_EVENT_ATTR, 1},
    {"span.name", OTTL_P_NAME, 0},
    {"span.kind", OTTL_P_KIND, 0},
    {"span.status.code", OTTL_P_STATUS_CODE, 0},
    {"span.status.message", OTTL_P_STATUS_MESSAGE, 0},
    {"span.attributes", OTTL_P_ATTR, 1},
    {"resource.attributes", OTTL_P_RES_ATTR, 1},
    {"instrumentation_scope.name", OTTL_P_SCOPE_NAME, 0},
    {"instrumentation_scope.version", OTTL_P_SCOPE_VERSION, 0},
    {"instrumentation_scope.attributes", OTTL_P_SCOPE_ATTR, 1},
};

static ottl_value *parse_value(parser *p);

/* path := ident ("." ident)* ["[" "string" "]"] ; the current token is the first ident. */
static ottl_value *parse_path(parser *p) {
  size_t start = p->start;
  char path[256];
  size_t pl = 0;
  for (;;) {
    size_t n = p->end - p->start;
    if (pl + n + 1 >= sizeof path) {
      fail(p, start, "path too long");
      return NULL;
    }
    memcpy(path + pl, p->s + p->start, n);
    pl += n;
    path[pl] = '\0';
    next(p);
    if (p->t != T_DOT)
      break;
    next(p);
    if (p->t != T_IDENT) {
      fail(p, p->start, "expected a lower-case path segment after '.'");
      return NULL;
    }
    path[pl++] = '.';
  }
  char *key = NULL;
  size_t key_at = 0;
  if (p->t == T_LBRACK) {
    next(p);
    key_at = p->start;
    if (p->t == T_INT) {
      fail(p, p->start, "indexing with an int key (slices) is not supported by tailgate's "
                        "OTTL subset; use a string key: attributes[\"key\"]");
      return NULL;
    }
    if (p->t != T_STRING) {
      fail(p, p->start, "expected a string key in [ ]");
      return NULL;
    }
    size_t kl;
    if (!(key = unquote(p, &kl)))
      return NULL;
    next(p);
    if (p->t != T_RBRACK) {
      tg_free(key);
      fail(p, p->start, "expected ']'");
      return NULL;
    }
    next(p);
    if (p->t == T_LBRACK) {
      tg_free(key);
      fail(p, p->start, "indexing into a map or slice value (attributes[\"a\"][\"b\"]) is not "
                        "supported by tailgate's OTTL subset");
      return NULL;
    }
  }
  const char *lookup = path;
  if (p->ctx == TG_OTTL_SPAN && strncmp(path, "span.", 5) == 0)
    lookup = path + 5;
  else if (p->ctx == TG_OTTL_SPANEVENT && strncmp(path, "spanevent.", 10) == 0)
    lookup = path + 10;
  const path_def *defs = p->ctx == TG_OTTL_SPAN ? span_paths : event_paths;
  size_t n_defs = p->ctx == TG_OTTL_SPAN ? sizeof span_paths / sizeof *span_paths
                                         : sizeof event_paths / sizeof *event_paths;
  for (size_t i = 0; i < n_defs; i++) {
    if (strcmp(defs[i].path, lookup) != 0)
      continue;
    if (defs[i].keyed && !key) {
      fail(p, start, "path \"%s\" is a map: index it with a key, e.g. %s[\"key\"]", path, path);
      return NULL;
    }
    if (!defs[i].keyed && key) {
      tg_free(key);
      fail(p, key_at, "path \"%s\" cannot be indexed", path);
      return NULL;
    }
    ottl_value *v = new_value(p, OTTL_V_PATH);
    if (!v) {
      tg_free(key);
      return NULL;
    }
    v->path = defs[i].id;
    v->key = key;
    return v;
  }
  tg_free(key);
  fail(p, start,
       "path \"%s\" is not supported by tailgate's OTTL subset in the %s context (supported: %s)",
       path, p->ctx == TG_OTTL_SPAN ? "span" : "spanevent",
       p->ctx == TG_OTTL_SPAN
           ? "name, kind, status.code, status.message, attributes[…], resource.attributes[…], "
             "instrumentation_scope.name/version/attributes[…]"
           : "name, attributes[…], span.name/kind/status.code/status.message/attributes[…], "
             "resource.attributes[…], instrumentation_scope.name/version/attributes[…]");
  return NULL;
}

/* IsMatch(target, "pattern"): the current token is the '(' after IsMatch. */
static ottl_value *parse_ismatch(parser *p, size_t at) {
  next(p);
  ottl_value *v = new_value(p, OTTL_V_ISMATCH);
  if (!v)
    return NULL;
  if (!(v->arg = parse_value(p)))
    goto bad;
  if (v->arg->kind == OTTL_V_ISMATCH) {
    fail(p, at, "IsMatch's target must be a path or a literal, not a converter");
    goto bad;
  }
  if (p->t != T_COMMA) {
    fail(p, p->start, "IsMatch takes two arguments: IsMatch(target, \"pattern\")");
    goto bad;
  }
  next(p);
  if (p->t != T_STRING) {
    fail(p, p->start, "IsMatch's pattern must be a string literal");
    goto bad;
  }
  size_t pat_at = p->start, pl;
  char *pat = unquote(p, &pl);
  if (!pat)
    goto bad;
  int errcode;
  PCRE2_SIZE erroff;
  v->re = pcre2_compile((PCRE2_SPTR)pat, pl, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode,
                        &erroff, NULL);
  tg_free(pat);
  if (!v->re) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(errcode, msg, sizeof msg);
    fail(p, pat_at, "IsMatch pattern does not compile: %s (at offset %zu of the pattern)",
         (const char *)msg, (size_t)erroff);
    goto bad;
  }
  pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE); /* optional: interpreted when it fails */
  uint32_t caps = 0;
  pcre2_pattern_info(v->re, PCRE2_INFO_CAPTURECOUNT, &caps);
  if (caps > p->max_captures)
    p->max_captures = caps;
  next(p);
  if (p->t == T_ASSIGN || p->t == T_COMMA) {
    fail(p, p->start, "IsMatch takes exactly two positional arguments");
    goto bad;
  }
  if (p->t != T_RPAREN) {
    fail(p, p->start, "expected ')' to close IsMatch(");
    goto bad;
  }
  next(p);
  if (p->t == T_LBRACK) {
    fail(p, p->start, "indexing a converter's result is not supported by tailgate's OTTL subset");
    goto bad;
  }
  return v;
bad:
  tg_ottl_value_free(v);
  return NULL;
}

static ottl_value *parse_value(parser *p) {
  size_t at = p->start;
  ottl_value *v = NULL;
  switch (p->t) {
  case T_STRING: {
    if (!(v = new_value(p, OTTL_V_LIT)))
      return NULL;
    size_t n;
    if (!(v->lit_buf = unquote(p, &n))) {
      tg_ottl_value_free(v);
      return NULL;
    }
    v->lit = (ottl_val){.t = OTTL_STR, .s = v->lit_buf, .slen = n};
    next(p);
    break;
  }
  case T_INT: case T_FLOAT: {
    char buf[64];
    size_t n = p->end - p->start;
    if (n >= sizeof buf) {
      fail(p, at, "number literal too long");
      return NULL;
    }
    memcpy(buf, p->s + p->start, n);
    buf[n] = '\0';
    if (!(v = new_value(p, OTTL_V_LIT)))
      return NULL;
    char *end;
    errno = 0;
    if (p->t == T_INT) {
      long long x = strtoll(buf, &end, 10);
      v->lit = (ottl_val){.t = OTTL_INT, .i = x};
    } else {
      double x = strtod(buf, &end);
      v->lit = (ottl_val){.t = OTTL_DBL, .d = x};
    }
    if (errno || *end) {
      tg_ottl_value_free(v);
      fail(p, at, "number literal out of range");
      return NULL;
    }
    next(p);
    break;
  }
  case T_BYTES:
    fail(p, at, "byte slice literals (0x…) are not supported by tailgate's OTTL subset");
    return NULL;
  case T_LBRACK:
    fail(p, at, "list values ([…]) are not supported by tailgate's OTTL subset");
    return NULL;
  case T_LBRACE:
    fail(p, at, "map values ({…}) are not supported by tailgate's OTTL subset");
    return NULL;
  case T_LPAREN:
    fail(p, at, "grouping values in parentheses (math expressions) is not supported by "
                "tailgate's OTTL subset");
    return NULL;
  case T_UPPER: {
    size_t n = p->end - p->start;
    const char *w = p->s + p->start;
    next(p);
    if (p->t == T_LPAREN) {
      if (n == 7 && memcmp(w, "IsMatch", 7) == 0)
        return parse_ismatch(p, at);
      fail(p, at, "converter %.*s() is not supported by tailgate's OTTL subset (supported: "
                  "IsMatch)", (int)(n > 64 ? 64 : n), w);
      return NULL;
    }
    for (size_t i = 0; i < sizeof enums / sizeof *enums; i++)
      if (strlen(enums[i].name) == n && memcmp(enums[i].name, w, n) == 0) {
        if (!(v = new_value(p, OTTL_V_LIT)))
          return NULL;
        v->lit = (ottl_val){.t = OTTL_INT, .i = enums[i].value};
        break;
      }
    if (!v) {
      fail(p, at, "enum %.*s is not known to tailgate's OTTL subset (supported: SPAN_KIND_*, "
                  "STATUS_CODE_*)", (int)(n > 64 ? 64 : n), w);
      return NULL;
    }
    break;
  }
  case T_IDENT:
    if (tok_is(p, "true") || tok_is(p, "false") || tok_is(p, "nil")) {
      if (!(v = new_value(p, OTTL_V_LIT)))
        return NULL;
      v->lit = tok_is(p, "nil") ? (ottl_val){.t = OTTL_NIL}
                                : (ottl_val){.t = OTTL_BOOL, .b = tok_is(p, "true")};
      next(p);
      break;
    }
    if (tok_is(p, "where")) {
      fail(p, at, "`where` belongs to a statement; the filter processor takes bare conditions");
      return NULL;
    }
    if (tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "not")) {
      fail(p, at, "expected a value before '%.*s'", (int)(p->end - p->start), p->s + p->start);
      return NULL;
    }
    {
      size_t save_pos = p->pos;
      size_t n = p->end - p->start;
      /* lookahead: an editor call such as set(...) */
      size_t j = save_pos;
      while (j < p->len && (p->s[j] == ' ' || p->s[j] == '\t'))
        j++;
      if (j < p->len && p->s[j] == '(') {
        fail(p, at, "%.*s() is an editor (a statement function); conditions cannot call "
                    "editors", (int)(n > 64 ? 64 : n), p->s + p->start);
        return NULL;
      }
    }
    if (!(v = parse_path(p)))
      return NULL;
    break;
  case T_EOF:
    fail(p, at, "expected a value, found the end of the condition");
    return NULL;
  default:
    fail(p, at, "expected a value");
    return NULL;
  }
  if (p->t == T_MATH) {
    fail(p, p->start, "math expressions (+ - * /) are not supported by tailgate's OTTL subset");
    tg_ottl_value_free(v);
    return NULL;
  }
  return v;
}

static ottl_node *parse_or(parser *p);

static ottl_node *parse_not(parser *p) {
  if (++p->depth > TG_OTTL_MAX_DEPTH) {
    fail(p, p->start, "condition nested deeper than %d levels", TG_OTTL_MAX_DEPTH);
    return NULL;
  }
  ottl_node *nd = NULL;
  if (tok_is(p, "not")) {
    next(p);
    ottl_node *inner = parse_not(p);
    if (inner && (nd = new_node(p, OTTL_N_NOT)))
      nd->a = inner;
    else
      tg_ottl_node_free(inner);
  } else if (p->t == T_LPAREN) {
    size_t open = p->start;
    next(p);
    nd = parse_or(p);
    if (nd && p->t != T_RPAREN) {
      fail(p, p->t == T_EOF ? open : p->start, p->t == T_EOF ? "unclosed '('" : "expected ')'");
      tg_ottl_node_free(nd);
      nd = NULL;
    } else if (nd) {
      next(p);
      if (p->t == T_OP || p->t == T_MATH) {
        fail(p, open, "comparing or computing with a parenthesised expression is not "
                      "supported by tailgate's OTTL subset");
        tg_ottl_node_free(nd);
        nd = NULL;
      }
    }
  } else {
    size_t at = p->start;
    ottl_value *lhs = parse_value(p);
    if (lhs && p->t == T_OP) {
      ottl_op op = p->op;
      next(p);
      ottl_value *rhs = parse_value(p);
      if (rhs && (nd = new_node(p, OTTL_N_CMP))) {
        nd->op = op;
        nd->lhs = lhs;
        nd->rhs = rhs;
      } else {
        tg_ottl_value_free(lhs);
        tg_ottl_value_free(rhs);
      }
    } else if (lhs) {
      int boolean = lhs->kind == OTTL_V_ISMATCH ||
                    (lhs->kind == OTTL_V_LIT && lhs->lit.t == OTTL_BOOL);
      if (!boolean) {
        fail(p, at, "a condition must be a comparison (==, !=, <, <=, >, >=), true, false or "
                    "IsMatch(…); this value is not a boolean");
        tg_ottl_value_free(lhs);
      } else if ((nd = new_node(p, OTTL_N_VALUE))) {
        nd->lhs = lhs;
      } else {
        tg_ottl_value_free(lhs);
      }
    }
  }
  p->depth--;
  return nd;
}

static ottl_node *parse_chain(parser *p, const char *word, ottl_nkind kind) {
  ottl_node *left = kind == OTTL_N_OR ? parse_chain(p, "and", OTTL_N_AND) : parse_not(p);
  while (left && tok_is(p, word)) {
    next(p);
    ottl_node *right = kind == OTTL_N_OR ? parse_chain(p, "and", OTTL_N_AND) : parse_not(p);
    ottl_node *nd = right ? new_node(p, kind) : NULL;
    if (!nd) {
      tg_ottl_node_free(left);
      tg_ottl_node_free(right);
      return NULL;
    }
    nd->a = left;
    nd->b = right;
    left = nd;
  }
  return left;
}

static ottl_node *parse_or(parser *p) {
  if (++p->depth > TG_OTTL_MAX_DEPTH) {
    fail(p, p->start, "condition nested deeper than %d levels", TG_OTTL_MAX_DEPTH);
    return NULL;
  }
  ottl_node *nd = parse_chain(p, "or", OTTL_N_OR);
  p->depth--;
  return nd;
}

int tg_ottl_compile(const char *text, size_t len, tg_ottl_context ctx, tg_ottl_cond **out,
                    unsigned *max_captures, size_t *err_off, char *why, size_t why_size) {
  *out = NULL;
  parser p = {.s = text, .len = len, .ctx = ctx, .t = T_EOF, .prev = T_EOF, .why = why,
              .why_size = why_size};
  if (why_size)
    why[0] = '\0';
  if (len > TG_OTTL_MAX_LEN) {
    *err_off = 0;
    snprintf(why, why_size, "condition longer than %d bytes", TG_OTTL_MAX_LEN);
    return TG_ECONFIG;
  }
  if (memchr(text, '\0', len)) {
    *err_off = (size_t)((const char *)memchr(text, '\0', len) - text);
    snprintf(why, why_size, "NUL byte in a condition");
    return TG_ECONFIG;
  }
  next(&p);
  ottl_node *root = NULL;
  if (!p.failed && p.t == T_EOF)
    fail(&p, 0, "empty condition");
  if (!p.failed)
    root = parse_or(&p);
  if (root && !p.failed && p.t != T_EOF) {
    if (p.t == T_IDENT || p.t == T_UPPER)
      fail(&p, p.start, "expected 'and', 'or' or the end of the condition");
    else if (p.t == T_RPAREN)
      fail(&p, p.start, "unmatched ')'");
    else
      fail(&p, p.start, "unexpected text after the condition");
  }
  if (p.failed || !root) {
    tg_ottl_node_free(root);
    *err_off = p.err_off;
    if (!p.failed)
      snprintf(why, why_size, "out of memory");
    return strstr(why, "out of memory") == why ? TG_ENOMEM : TG_ECONFIG;
  }
  tg_ottl_cond *c = tg_calloc(1, sizeof *c);
  if (!c) {
    tg_ottl_node_free(root);
    *err_off = 0;
    snprintf(why, why_size, "out of memory");
    return TG_ENOMEM;
  }
  c->root = root;
  if (p.max_captures > *max_captures)
    *max_captures = p.max_captures;
  *out = c;
  return TG_OK;
}

void tg_ottl_free(tg_ottl_cond *cond) {
  if (!cond)
    return;
  tg_ottl_node_free(cond->root);
  tg_free(cond);
}
