/* Parsing and applying the attributes processor's actions.
 *
 * The working list is copied into the batch arena on the first change (the incoming
 * array is never written) with room for every attribute the actions could add, so
 * inserts append without reallocating. Values set by `value:` are built once at parse
 * time and shared by reference: the walk never writes an AnyValue it did not create. */
#include "tg_attr_actions.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_hmac.h"
#include "tg_alloc.h"
#include "tg_conf.h"
#include "tg_error.h"
#include "tg_yaml.h"

static const char *const op_names[] = {"insert", "update", "upsert", "delete", "hash",
                                       "extract", "convert", NULL};
static const char *const convert_names[] = {"int", "double", "string", NULL};
static const char *const item_keys =
    "key, value, from_attribute, pattern, action, converted_type";

static int lookup(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], s))
      return i;
  return -1;
}

/* A YAML scalar as an AnyValue: quoted → string; else bool, int, double, string. */
static int scalar_value(const tg_yaml_node *n, tg_any_value *v) {
  opentelemetry__proto__common__v1__any_value__init(v);
  _Bool b;
  int64_t i;
  double d;
  if (!n->quoted && !tg_conf_parse_bool(n->scalar, &b)) {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = b;
  } else if (!n->quoted && !tg_conf_parse_int(n->scalar, &i)) {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = i;
  } else if (!n->quoted && !tg_conf_parse_double(n->scalar, &d)) {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = d;
  } else {
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    if (!(v->string_value = tg_strdup(n->scalar)))
      return -1;
  }
  return 0;
}

static int compile_one(const char *text, pcre2_code **out, char *why, size_t why_size) {
  tg_conf_strlist one = {(char **)&text, 1};
  tg_pattern_list list;
  size_t bad;
  int rc = tg_pattern_list_compile(&one, &list, &bad, why, why_size);
  if (rc != TG_OK)
    return rc;
  *out = list.codes[0];
  tg_free(list.codes);
  tg_free(list.required);
  return TG_OK;
}

/* Capture group names of an extract pattern, by group number. */
static int group_names(tg_attr_action *act) {
  uint32_t count = 0, n_names = 0, entry = 0;
  PCRE2_SPTR table;
  pcre2_pattern_info(act->pattern, PCRE2_INFO_CAPTURECOUNT, &count);
  pcre2_pattern_info(act->pattern, PCRE2_INFO_NAMECOUNT, &n_names);
  pcre2_pattern_info(act->pattern, PCRE2_INFO_NAMEENTRYSIZE, &entry);
  pcre2_pattern_info(act->pattern, PCRE2_INFO_NAMETABLE, &table);
  act->n_groups = count + 1;
  if (!(act->group_names = tg_calloc(act->n_groups, sizeof *act->group_names)))
    return TG_ENOMEM;
  for (uint32_t i = 0; i < n_names; i++) {
    const unsigned char *e = table + (size_t)i * entry;
    unsigned g = (unsigned)e[0] << 8 | e[1];
    if (g < act->n_groups && !(act->group_names[g] = tg_strdup((const char *)e + 2)))
      return TG_ENOMEM;
  }
  return n_names ? TG_OK : TG_ECONFIG;
}

static void parse_item(const tg_yaml_node *item, size_t idx, const char *what, tg_diag *diag,
                       tg_attr_action *act, unsigned *max_caps) {
#define ITEM_ERR(node, ...)                                                              \
  do {                                                                                  \
    char m_[600];                                                                       \
    snprintf(m_, sizeof m_, __VA_ARGS__);                                               \
    tg_diag_add(diag, &(node)->pos, "%s: actions: item %zu: %s", what, idx + 1, m_);    \
  } while (0)
  if (item->kind != TG_YAML_MAP) {
    ITEM_ERR(item, "expected a mapping, got %s", tg_yaml_kind_name(item->kind));
    return;
  }
  const tg_yaml_node *action = NULL, *key = NULL, *value = NULL, *from = NULL, *pattern = NULL,
                     *converted = NULL;
  for (size_t i = 0; i < item->n; i++) {
    const tg_yaml_node *k = item->pairs[i].key, *v = item->pairs[i].value;
    const char *name = k->scalar;
    const tg_yaml_node **slot = !strcmp(name, "action")           ? &action
                                : !strcmp(name, "key")            ? &key
                                : !strcmp(name, "value")          ? &value
                                : !strcmp(name, "from_attribute") ? &from
                                : !strcmp(name, "pattern")        ? &pattern
                                : !strcmp(name, "converted_type") ? &converted
                                                                  : NULL;
    if (!slot) {
      ITEM_ERR(k, "unknown key \"%.100s\" (valid keys: %s)", name, item_keys);
      continue;
    }
    if (v->kind != TG_YAML_SCALAR) {
      ITEM_ERR(v, "%s: expected a scalar, got %s", name, tg_yaml_kind_name(v->kind));
      continue;
    }
    *slot = v;
  }
  if (!action) {
    ITEM_ERR(item, "action is required (one of insert, update, upsert, delete, hash, extract, convert)");
    return;
  }
  int op = lookup(op_names, action->scalar);
  if (op < 0) {
    ITEM_ERR(action, "action \"%.100s\" is not one of: insert, update, upsert, delete, hash, "
                     "extract, convert", action->scalar);
    return;
  }
  act->op = (tg_attr_op)op;
  if (key && !(act->key = tg_strdup(key->scalar)))
    return;
  int inserts = op == TG_ATTR_INSERT || op == TG_ATTR_UPDATE || op == TG_ATTR_UPSERT;
  if (!key && op != TG_ATTR_DELETE && op != TG_ATTR_HASH)
    ITEM_ERR(item, "%s needs a key", op_names[op]);
  if (!key && !pattern && (op == TG_ATTR_DELETE || op == TG_ATTR_HASH))
    ITEM_ERR(item, "%s needs a key or a pattern", op_names[op]);
  if (inserts && !!value == !!from)
    ITEM_ERR(item, "%s needs exactly one of value and from_attribute", op_names[op]);
  if (!inserts && (value || from))
    ITEM_ERR(value ? value : from, "%s takes no value or from_attribute", op_names[op]);
  if (pattern && (inserts || op == TG_ATTR_CONVERT))
    ITEM_ERR(pattern, "%s takes no pattern", op_names[op]);
  if (op == TG_ATTR_EXTRACT && !pattern)
    ITEM_ERR(item, "extract needs a pattern with named groups");
  if (op == TG_ATTR_CONVERT) {
    int c = converted ? lookup(convert_names, converted->scalar) : -1;
    if (c < 0)
      ITEM_ERR(converted ? converted : item, "convert needs converted_type: int, double or string");
    else
      act->convert = (tg_attr_convert)c;
  } else if (converted) {
    ITEM_ERR(converted, "converted_type is only for convert");
  }
  if (value) {
    if (scalar_value(value, &act->value))
      ITEM_ERR(value, "out of memory");
    else
      act->has_value = 1;
  }
  if (from && !(act->from_attribute = tg_strdup(from->scalar)))
    ITEM_ERR(from, "out of memory");
  if (pattern) {
    char why[512];
    int rc = compile_one(pattern->scalar, &act->pattern, why, sizeof why);
    if (rc != TG_OK) {
      ITEM_ERR(pattern, "%s", rc == TG_ENOMEM ? "out of memory" : why);
    } else {
      uint32_t caps = 0;
      pcre2_pattern_info(act->pattern, PCRE2_INFO_CAPTURECOUNT, &caps);
      if (caps > *max_caps)
        *max_caps = caps;
      if (op == TG_ATTR_EXTRACT && group_names(act) != TG_OK)
        ITEM_ERR(pattern, "extract needs a pattern with named groups ((?P<name>...))");
    }
  }
#undef ITEM_ERR
}

int tg_attr_actions_parse(const tg_yaml_node *node, const char *what, tg_diag *diag,
                          tg_attr_actions *out) {
  memset(out, 0, sizeof *out);
  size_t before = tg_diag_count(diag);
  if (!node || node->kind == TG_YAML_NULL)
    return 0;
  if (node->kind != TG_YAML_SEQ) {
    tg_diag_add(diag, &node->pos, "%s: actions: expected a sequence, got %s", what,
                tg_yaml_kind_name(node->kind));
    return -1;
  }
  if (node->n && !(out->items = tg_calloc(node->n, sizeof *out->items))) {
    tg_diag_add(diag, &node->pos, "%s: actions: out of memory", what);
    return -1;
  }
  unsigned caps = 0;
  for (size_t i = 0; i < node->n; i++, out->n++)
    parse_item(node->items[i], i, what, diag, &out->items[i], &caps);
  if (tg_matcher_init(&out->matcher, caps) != TG_OK)
    tg_diag_add(diag, &node->pos, "%s: actions: out of memory", what);
  return tg_diag_count(diag) == before ? 0 : -1;
}

int tg_attr_actions_build(const tg_yaml_node *node, const char *what, const char *key,
                          tg_attr_actions *out, tg_errbuf *err) {
  tg_diag diag;
  tg_diag_init(&diag);
  int rc = TG_OK;
  if (tg_attr_actions_parse(node, what, &diag, out) != 0) {
    rc = diag.n ? tg_errf(err, TG_ECONFIG, "%s", diag.lines[0])
                : tg_errf(err, TG_ECONFIG, "invalid %s", key);
    tg_attr_actions_free(out);
  }
  tg_diag_free(&diag);
  return rc;
}

void tg_attr_actions_free(tg_attr_actions *a) {
  for (size_t i = 0; i < a->n; i++) {
    tg_attr_action *act = &a->items[i];
    tg_free(act->key);
    tg_free(act->from_attribute);
    if (act->has_value &&
        act->value.value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
      tg_free(act->value.string_value);
    pcre2_code_free(act->pattern);
    for (size_t g = 0; g < act->n_groups; g++)
      tg_free(act->group_names[g]);
    tg_free(act->group_names);
  }
  tg_free(a->items);
  tg_matcher_free(&a->matcher);
  memset(a, 0, sizeof *a);
}

/* ---- applying ---------------------------------------------------------------------- */

typedef struct list {
  tg_key_value **items;
  size_t n, cap;
  int owned; /* items is our arena copy */
} list;

static int find(const list *l, const char *key) {
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i]->key && !strcmp(l->items[i]->key, key))
      return (int)i;
  return -1;
}

static int own(list *l, tg_arena *arena, size_t extra) {
  if (l->owned && l->n + extra <= l->cap)
    return 0;
  size_t cap = l->n + extra + 8;
  tg_key_value **items = tg_arena_alloc(arena, cap * sizeof *items);
  if (!items)
    return -1;
  if (l->n)
    memcpy(items, l->items, l->n * sizeof *items);
  l->items = items;
  l->cap = cap;
  l->owned = 1;
  return 0;
}

static int set(list *l, tg_arena *arena, const char *key, tg_any_value *v, int at) {
  if (own(l, arena, 1))
    return -1;
  tg_key_value *kv = tg_arena_alloc(arena, sizeof *kv);
  if (!kv)
    return -1;
  opentelemetry__proto__common__v1__key_value__init(kv);
  kv->key = at >= 0 ? l->items[at]->key : tg_arena_strndup(arena, key, strlen(key));
  if (!kv->key)
    return -1;
  kv->value = v;
  if (at >= 0)
    l->items[at] = kv;
  else
    l->items[l->n++] = kv;
  return 0;
}

static void remove_at(list *l, size_t i) {
  memmove(l->items + i, l->items + i + 1, (l->n - i - 1) * sizeof *l->items);
  l->n--;
}

static tg_any_value *string_value(tg_arena *arena, const char *s, size_t len) {
  tg_any_value *v = tg_arena_alloc(arena, sizeof *v);
  char *c = tg_arena_strndup(arena, s, len);
  if (!v || !c)
    return NULL;
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = c;
  return v;
}

/* Text of a scalar (bytes raw); 0 on success. */
static int text_of(const tg_any_value *v, char *num, size_t num_size, const char **s, size_t *len) {
  int n;
  switch (v ? v->value_case : 0) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    *s = v->string_value ? v->string_value : "";
    *len = strlen(*s);
    return 0;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    *s = (const char *)v->bytes_value.data;
    *len = v->bytes_value.len;
    return 0;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    n = snprintf(num, num_size, "%" PRId64, v->int_value);
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    n = snprintf(num, num_size, "%.17g", v->double_value);
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    n = snprintf(num, num_size, "%s", v->bool_value ? "true" : "false");
    break;
  default:
    return -1;
  }
  *s = num;
  *len = (size_t)n;
  return 0;
}

static int key_selected(tg_attr_actions *a, const tg_attr_action *act, const char *key) {
  if (act->key && !strcmp(act->key, key))
    return 1;
  size_t ms, me;
  return act->pattern && tg_pattern_find(act->pattern, &a->matcher, key, strlen(key), 0, &ms, &me) == 1;
}

static tg_any_value *convert(tg_arena *arena, const tg_any_value *v, tg_attr_convert to) {
  char num[64];
  const char *s;
  size_t len;
  if (text_of(v, num, sizeof num, &s, &len))
    return NULL;
  tg_any_value *out = tg_arena_alloc(arena, sizeof *out);
  if (!out)
    return NULL;
  opentelemetry__proto__common__v1__any_value__init(out);
  char buf[64];
  if (to == TG_CONVERT_STRING)
    return v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE
               ? NULL
               : string_value(arena, s, len);
  if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE) {
    s = v->bool_value ? "1" : "0";
    len = 1;
  } else if (len >= sizeof buf) {
    return NULL;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (to == TG_CONVERT_INT) {
    int64_t i;
    double d;
    if (!tg_conf_parse_int(buf, &i))
      out->int_value = i;
    else if (!tg_conf_parse_double(buf, &d) && d > -9.2e18 && d < 9.2e18)
      out->int_value = (int64_t)d;
    else
      return NULL; /* not a number: unchanged, as the Collector */
    out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  } else {
    double d;
    if (tg_conf_parse_double(buf, &d))
      return NULL;
    out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    out->double_value = d;
  }
  return out;
}

static int apply_one(tg_attr_actions *a, tg_attr_action *act, tg_arena *arena, list *l) {
  int at = act->key ? find(l, act->key) : -1;
  switch (act->op) {
  case TG_ATTR_INSERT:
  case TG_ATTR_UPDATE:
  case TG_ATTR_UPSERT: {
    if ((act->op == TG_ATTR_INSERT && at >= 0) || (act->op == TG_ATTR_UPDATE && at < 0))
      return 0;
    tg_any_value *v = &act->value;
    if (act->from_attribute) {
      int from = find(l, act->from_attribute);
      if (from < 0)
        return 0;
      v = l->items[from]->value;
    }
    return set(l, arena, act->key, v, at);
  }
  case TG_ATTR_DELETE:
    for (size_t i = l->n; i-- > 0;)
      if (key_selected(a, act, l->items[i]->key ? l->items[i]->key : "")) {
        if (own(l, arena, 0))
          return -1;
        remove_at(l, i);
      }
    return 0;
  case TG_ATTR_HASH:
    for (size_t i = 0; i < l->n; i++) {
      if (!key_selected(a, act, l->items[i]->key ? l->items[i]->key : ""))
        continue;
      char num[64], hex[2 * TG_SHA256_LEN + 1];
      const char *s;
      size_t len;
      if (text_of(l->items[i]->value, num, sizeof num, &s, &len))
        continue;
      uint8_t digest[TG_SHA256_LEN];
      tg_sha256(s, len, digest);
      tg_hex(digest, sizeof digest, hex);
      tg_any_value *v = string_value(arena, hex, 2 * TG_SHA256_LEN);
      if (!v || set(l, arena, NULL, v, (int)i))
        return -1;
    }
    return 0;
  case TG_ATTR_EXTRACT: {
    if (at < 0)
      return 0;
    const tg_any_value *v = l->items[at]->value;
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE ||
        !v->string_value)
      return 0;
    const char *s = v->string_value;
    size_t ms, me;
    if (tg_pattern_find(act->pattern, &a->matcher, s, strlen(s), 0, &ms, &me) != 1)
      return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(a->matcher.md);
    uint32_t pairs = pcre2_get_ovector_count(a->matcher.md);
    /* copy the offsets first: set() may not touch the matcher, but be explicit */
    for (size_t g = 1; g < act->n_groups && g < pairs; g++) {
      if (!act->group_names[g] || ov[2 * g] == PCRE2_UNSET)
        continue;
      tg_any_value *nv = string_value(arena, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
      if (!nv || set(l, arena, act->group_names[g], nv, find(l, act->group_names[g])))
        return -1;
    }
    return 0;
  }
  case TG_ATTR_CONVERT: {
    if (at < 0)
      return 0;
    tg_any_value *v = convert(arena, l->items[at]->value, act->convert);
    return v ? set(l, arena, NULL, v, at) : 0;
  }
  }
  return 0;
}

int tg_attr_actions_apply(tg_attr_actions *a, tg_arena *arena, tg_key_value ***attrs,
                          size_t *n) {
  list l = {*attrs, *n, *n, 0};
  for (size_t i = 0; i < a->n; i++)
    if (apply_one(a, &a->items[i], arena, &l))
      return TG_ENOMEM;
  if (l.owned) {
    *attrs = l.items;
    *n = l.n;
  }
  return TG_OK;
}
