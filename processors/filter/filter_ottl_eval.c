/* OTTL condition evaluation on one span (or span event), with OTTL's comparison rules
 * (pkg/ottl LANGUAGE.md, "Comparison Rules"):
 *  - int and float compare as float64 when mixed, as themselves otherwise;
 *  - strings compare byte-wise (as Go strings); bools with false < true;
 *  - nil equals nil only (== true, every other operator false);
 *  - values of different types (and maps, slices, bytes) are "not equal": != is true,
 *    every other operator false.
 * A missing attribute, an unset AnyValue and a missing resource or scope read as nil.
 * `and`/`or` short-circuit left to right, as OTTL's evaluator does, so an error on the
 * right of a decided `or` never happens.
 *
 * Reads only: strings point into the span tree; nothing is allocated. */
#include <stdio.h>
#include <string.h>

#include "filter_ottl_internal.h"

static ottl_val from_any(const tg_any_value *v) {
  ottl_val r = {.t = OTTL_NIL};
  if (!v)
    return r;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    r.t = OTTL_STR;
    r.s = v->string_value ? v->string_value : "";
    r.slen = strlen(r.s);
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    r.t = OTTL_INT;
    r.i = v->int_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    r.t = OTTL_DBL;
    r.d = v->double_value;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    r.t = OTTL_BOOL;
    r.b = v->bool_value != 0;
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET:
    break;
  default: /* bytes, arrays, maps */
    r.t = OTTL_OTHER;
    break;
  }
  return r;
}

static ottl_val attr(tg_key_value *const *kvs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (kvs[i] && kvs[i]->key && strcmp(kvs[i]->key, key) == 0)
      return from_any(kvs[i]->value);
  return (ottl_val){.t = OTTL_NIL};
}

static ottl_val str(const char *s) {
  return (ottl_val){.t = OTTL_STR, .s = s ? s : "", .slen = s ? strlen(s) : 0};
}

static ottl_val read_path(const ottl_value *v, const tg_ottl_env *env) {
  const tg_span *sp = env->span;
  const tg_scope *sc = env->scope;
  switch (v->path) {
  case OTTL_P_NAME: return sp ? str(sp->name) : (ottl_val){.t = OTTL_NIL};
  case OTTL_P_KIND: return (ottl_val){.t = OTTL_INT, .i = sp ? (int64_t)sp->kind : 0};
  case OTTL_P_STATUS_CODE:
    return (ottl_val){.t = OTTL_INT, .i = sp && sp->status ? (int64_t)sp->status->code : 0};
  case OTTL_P_STATUS_MESSAGE: return str(sp && sp->status ? sp->status->message : "");
  case OTTL_P_ATTR:
    return sp ? attr(sp->attributes, sp->n_attributes, v->key) : (ottl_val){.t = OTTL_NIL};
  case OTTL_P_RES_ATTR:
    return env->resource ? attr(env->resource->attributes, env->resource->n_attributes, v->key)
                         : (ottl_val){.t = OTTL_NIL};
  case OTTL_P_SCOPE_NAME: return str(sc ? sc->name : "");
  case OTTL_P_SCOPE_VERSION: return str(sc ? sc->version : "");
  case OTTL_P_SCOPE_ATTR:
    return sc ? attr(sc->attributes, sc->n_attributes, v->key) : (ottl_val){.t = OTTL_NIL};
  case OTTL_P_EVENT_NAME: return env->event ? str(env->event->name) : (ottl_val){.t = OTTL_NIL};
  case OTTL_P_EVENT_ATTR:
    return env->event ? attr(env->event->attributes, env->event->n_attributes, v->key)
                      : (ottl_val){.t = OTTL_NIL};
  }
  return (ottl_val){.t = OTTL_NIL};
}

typedef struct eval_ctx {
  const tg_ottl_env *env;
  tg_matcher *m;
  char *why;
  size_t why_size;
} eval_ctx;

/* 0 with *out set, or -1 (why set). */
static int value_of(const ottl_value *v, eval_ctx *c, ottl_val *out) {
  if (v->kind == OTTL_V_LIT) {
    *out = v->lit;
    return 0;
  }
  if (v->kind == OTTL_V_PATH) {
    *out = read_path(v, c->env);
    return 0;
  }
  /* IsMatch: the target as a string (ints, floats and bools formatted); nil is false */
  ottl_val t;
  if (value_of(v->arg, c, &t) < 0)
    return -1;
  char buf[64];
  const char *s = NULL;
  size_t len = 0;
  switch (t.t) {
  case OTTL_NIL: *out = (ottl_val){.t = OTTL_BOOL, .b = 0}; return 0;
  case OTTL_STR: s = t.s, len = t.slen; break;
  case OTTL_INT: len = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)t.i), s = buf; break;
  case OTTL_DBL:
    for (int prec = 1; prec <= 17; prec++) { /* shortest text that reads back the same */
      len = (size_t)snprintf(buf, sizeof buf, "%.*g", prec, t.d);
      double back;
      if (sscanf(buf, "%lf", &back) == 1 && back == t.d)
        break;
    }
    s = buf;
    break;
  case OTTL_BOOL: s = t.b ? "true" : "false", len = strlen(s); break;
  case OTTL_OTHER:
    snprintf(c->why, c->why_size, "IsMatch: the target is a map, slice or bytes value, not a "
                                  "string");
    return -1;
  }
  size_t ms, me;
  int r = tg_pattern_find(v->re, c->m, s, len, 0, &ms, &me);
  if (r < 0) {
    snprintf(c->why, c->why_size, "IsMatch: the pattern hit its matching limits");
    return -1;
  }
  *out = (ottl_val){.t = OTTL_BOOL, .b = r == 1};
  return 0;
}

static int ordered(int cmp, ottl_op op) {
  switch (op) {
  case OTTL_EQ: return cmp == 0;
  case OTTL_NE: return cmp != 0;
  case OTTL_LT: return cmp < 0;
  case OTTL_LE: return cmp <= 0;
  case OTTL_GT: return cmp > 0;
  case OTTL_GE: return cmp >= 0;
  }
  return 0;
}

static int compare(ottl_val a, ottl_op op, ottl_val b) {
  int na = a.t == OTTL_INT || a.t == OTTL_DBL, nb = b.t == OTTL_INT || b.t == OTTL_DBL;
  if (na && nb) {
    if (a.t == OTTL_INT && b.t == OTTL_INT)
      return ordered(a.i < b.i ? -1 : a.i > b.i, op);
    double x = a.t == OTTL_INT ? (double)a.i : a.d, y = b.t == OTTL_INT ? (double)b.i : b.d;
    if (x != x || y != y) /* NaN: Go's comparisons are all false except != */
      return op == OTTL_NE;
    return ordered(x < y ? -1 : x > y, op);
  }
  if (a.t == OTTL_STR && b.t == OTTL_STR) {
    size_t n = a.slen < b.slen ? a.slen : b.slen;
    int c = memcmp(a.s, b.s, n);
    if (c == 0)
      c = a.slen < b.slen ? -1 : a.slen > b.slen;
    return ordered(c, op);
  }
  if (a.t == OTTL_BOOL && b.t == OTTL_BOOL)
    return ordered(a.b - b.b, op);
  if (a.t == OTTL_NIL && b.t == OTTL_NIL)
    return op == OTTL_EQ;
  return op == OTTL_NE; /* different types, or maps/slices/bytes: not equal */
}

static int eval(const ottl_node *n, eval_ctx *c) {
  switch (n->kind) {
  case OTTL_N_OR: {
    int l = eval(n->a, c);
    return l != 0 ? l : eval(n->b, c);
  }
  case OTTL_N_AND: {
    int l = eval(n->a, c);
    return l != 1 ? l : eval(n->b, c);
  }
  case OTTL_N_NOT: {
    int l = eval(n->a, c);
    return l < 0 ? l : !l;
  }
  case OTTL_N_CMP: {
    ottl_val a, b;
    if (value_of(n->lhs, c, &a) < 0 || value_of(n->rhs, c, &b) < 0)
      return -1;
    return compare(a, n->op, b);
  }
  case OTTL_N_VALUE: {
    ottl_val a;
    if (value_of(n->lhs, c, &a) < 0)
      return -1;
    return a.t == OTTL_BOOL && a.b;
  }
  }
  return 0;
}

int tg_ottl_eval(const tg_ottl_cond *cond, const tg_ottl_env *env, tg_matcher *m, char *why,
                 size_t why_size) {
  eval_ctx c = {.env = env, .m = m, .why = why, .why_size = why_size};
  return eval(cond->root, &c);
}
