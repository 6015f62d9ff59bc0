/* Applying a component's key table to its YAML settings.
 *
 * The table is flat (dotted paths) because that is what component authors write and
 * read; the YAML is a tree. We walk the tree, not the table: at every mapping we know
 * the dotted prefix, so each YAML key is either a key of the table (apply it), a prefix
 * of some keys (descend; it must be a mapping), or unknown (report it with the valid
 * keys at that level). Walking the tree is what makes unknown keys detectable at all,
 * and recursion depth is bounded by the table's paths, not by the input.
 *
 * Defaults are applied first from their YAML text through the same parsers, so a
 * default is validated exactly like a user value (a bad default is a bug in the table,
 * reported without a position). Every problem is reported and the walk continues.
 * Fields are written only through the key's declared type (the TG_KEY_* macros checked
 * that type against the struct field at compile time). */
#include "tg_conf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_conf_internal.h"
#include "tg_yaml.h"

typedef struct applier {
  const tg_conf_key *keys;
  size_t n_keys;
  char *conf;
  const char *what;
  tg_diag *diag;
} applier;

static void report(const applier *a, const tg_yaml_pos *pos, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(const applier *a, const tg_yaml_pos *pos, const char *path,
                   const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (path && *path)
    tg_diag_add(a->diag, pos, "%s: %s: %s", a->what, path, msg);
  else
    tg_diag_add(a->diag, pos, "%s: %s", a->what, msg);
}

static const char *type_name(tg_conf_type type) {
  switch (type) {
  case TG_CONF_BOOL: return "a boolean";
  case TG_CONF_INT: return "an integer";
  case TG_CONF_DOUBLE: return "a number";
  case TG_CONF_DURATION: return "a duration";
  case TG_CONF_SIZE: return "a size";
  case TG_CONF_STRING: return "a string";
  case TG_CONF_ENUM: return "one of a set of names";
  case TG_CONF_STRLIST: return "a sequence of strings";
  case TG_CONF_STRMAP: return "a mapping of strings";
  case TG_CONF_PRESENT: return "a mapping or nothing";
  case TG_CONF_CUSTOM: return "a value";
  }
  return "a value";
}

/* "250ms", "5s", "1m30s", "2h": the most readable exact form of a bound. */
static void format_duration(uint64_t ms, char *buf, size_t size) {
  if (ms == 0 || ms % 1000) {
    snprintf(buf, size, "%" PRIu64 "ms", ms);
    return;
  }
  uint64_t s = ms / 1000;
  if (s % 3600 == 0)
    snprintf(buf, size, "%" PRIu64 "h", s / 3600);
  else if (s % 60 == 0)
    snprintf(buf, size, "%" PRIu64 "m", s / 60);
  else
    snprintf(buf, size, "%" PRIu64 "s", s);
}

static void format_size(uint64_t bytes, char *buf, size_t size) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  int u = -1;
  while (u < 3 && bytes && bytes % 1024 == 0)
    bytes /= 1024, u++;
  if (u < 0)
    snprintf(buf, size, "%" PRIu64, bytes);
  else
    snprintf(buf, size, "%" PRIu64 "%s", bytes, units[u]);
}

static void format_bound(const tg_conf_key *key, double v, char *buf, size_t size) {
  if (key->type == TG_CONF_DURATION)
    format_duration((uint64_t)v, buf, size);
  else if (key->type == TG_CONF_SIZE)
    format_size((uint64_t)v, buf, size);
  else if (key->type == TG_CONF_INT)
    snprintf(buf, size, "%.0f", v);
  else
    snprintf(buf, size, "%g", v);
}

static int check_bounds(const applier *a, const tg_conf_key *key, double v, const char *text,
                        const tg_yaml_pos *pos, const char *path) {
  if (key->min == 0 && key->max == 0)
    return 0;
  if (v >= key->min && v <= key->max)
    return 0;
  char lo[48], hi[48];
  format_bound(key, key->min, lo, sizeof lo);
  format_bound(key, key->max, hi, sizeof hi);
  report(a, pos, path, "\"%.100s\" is out of range [%s, %s]", text, lo, hi);
  return -1;
}

static void enum_list(const char *const *values, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; values && values[i] && used < size; i++) {
    int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", values[i]);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

/* Parses one scalar text into the field of a scalar-typed key (BOOL, INT, DOUBLE,
 * DURATION, SIZE, STRING, ENUM). */
static void set_scalar(const applier *a, const tg_conf_key *key, const char *text,
                       const tg_yaml_pos *pos, const char *path) {
  void *field = a->conf + key->offset;
  const char *why = NULL;
  switch (key->type) {
  case TG_CONF_BOOL: {
    _Bool v;
    if (!(why = tg_conf_bool_detail(text, &v)))
      *(_Bool *)field = v;
    break;
  }
  case TG_CONF_INT: {
    int64_t v;
    if (!(why = tg_conf_int_detail(text, &v)) && !check_bounds(a, key, (double)v, text, pos, path))
      *(int64_t *)field = v;
    break;
  }
  case TG_CONF_DOUBLE: {
    double v;
    if (!(why = tg_conf_double_detail(text, &v)) && !check_bounds(a, key, v, text, pos, path))
      *(double *)field = v;
    break;
  }
  case TG_CONF_DURATION: {
    uint64_t v;
    if (!(why = tg_conf_duration_detail(text, &v)) &&
        !check_bounds(a, key, (double)v, text, pos, path))
      *(uint64_t *)field = v;
    break;
  }
  case TG_CONF_SIZE: {
    uint64_t v;
    if (!(why = tg_conf_size_detail(text, &v)) &&
        !check_bounds(a, key, (double)v, text, pos, path))
      *(uint64_t *)field = v;
    break;
  }
  case TG_CONF_STRING: {
    char *copy = tg_strdup(text);
    if (!copy) {
      report(a, pos, path, "out of memory");
      return;
    }
    tg_free(*(char **)field);
    *(char **)field = copy;
    break;
  }
  case TG_CONF_ENUM: {
    for (size_t i = 0; key->enum_values && key->enum_values[i]; i++) {
      if (!strcmp(text, key->enum_values[i])) {
        *(int *)field = (int)i;
        return;
      }
    }
    char list[512];
    enum_list(key->enum_values, list, sizeof list);
    report(a, pos, path, "\"%.100s\" is not one of: %s", text, list);
    return;
  }
  default:
    report(a, pos, path, "internal error: key type %d is not a scalar type", (int)key->type);
    return;
  }
  if (why)
    report(a, pos, path, "\"%.100s\" %s", text, why);
}

static void free_strlist(tg_conf_strlist *list) {
  for (size_t i = 0; i < list->n; i++)
    tg_free(list->items[i]);
  tg_free(list->items);
  list->items = NULL;
  list->n = 0;
}

static void free_strmap(tg_conf_strmap *map) {
  for (size_t i = 0; i < map->n; i++) {
    tg_free(map->keys[i]);
    tg_free(map->values[i]);
  }
  tg_free(map->keys);
  tg_free(map->values);
  map->keys = map->values = NULL;
  map->n = 0;
}

static void set_strlist(const applier *a, const tg_conf_key *key, const tg_yaml_node *value,
                        const char *path) {
  tg_conf_strlist *list = (tg_conf_strlist *)(a->conf + key->offset);
  free_strlist(list);
  if (value->n == 0)
    return;
  if (!(list->items = tg_calloc(value->n, sizeof *list->items))) {
    report(a, &value->pos, path, "out of memory");
    return;
  }
  for (size_t i = 0; i < value->n; i++) {
    const tg_yaml_node *item = value->items[i];
    if (item->kind != TG_YAML_SCALAR) {
      report(a, &item->pos, path, "item %zu: expected a string, got %s", i + 1,
             tg_yaml_kind_name(item->kind));
      continue;
    }
    if (!(list->items[list->n] = tg_strdup(item->scalar))) {
      report(a, &item->pos, path, "out of memory");
      return;
    }
    list->n++;
  }
}

static void set_strmap(const applier *a, const tg_conf_key *key, const tg_yaml_node *value,
                       const char *path) {
  tg_conf_strmap *map = (tg_conf_strmap *)(a->conf + key->offset);
  free_strmap(map);
  if (value->n == 0)
    return;
  map->keys = tg_calloc(value->n, sizeof *map->keys);
  map->values = tg_calloc(value->n, sizeof *map->values);
  if (!map->keys || !map->values) {
    report(a, &value->pos, path, "out of memory");
    return;
  }
  for (size_t i = 0; i < value->n; i++) {
    const tg_yaml_pair *pair = &value->pairs[i];
    if (pair->value->kind != TG_YAML_SCALAR) {
      report(a, &pair->value->pos, path, "\"%.100s\": expected a string, got %s",
             pair->key->scalar, tg_yaml_kind_name(pair->value->kind));
      continue;
    }
    char *k = tg_strdup(pair->key->scalar), *v = tg_strdup(pair->value->scalar);
    if (!k || !v) {
      tg_free(k);
      tg_free(v);
      report(a, &pair->value->pos, path, "out of memory");
      return;
    }
    map->keys[map->n] = k;
    map->values[map->n] = v;
    map->n++;
  }
}

/* A value for one key of the table, of whatever YAML kind the user wrote. */
static void apply_value(const applier *a, const tg_conf_key *key, const tg_yaml_node *value,
                        const char *path) {
  void *field = a->conf + key->offset;
  switch (key->type) {
  case TG_CONF_PRESENT:
    *(_Bool *)field = 1;
    if (value->kind != TG_YAML_NULL && value->kind != TG_YAML_MAP)
      report(a, &value->pos, path, "expected a mapping or nothing, got %s",
             tg_yaml_kind_name(value->kind));
    return;
  case TG_CONF_CUSTOM:
    if (key->parse)
      key->parse(value, field, a->diag);
    return;
  case TG_CONF_STRLIST:
    if (value->kind == TG_YAML_SEQ)
      set_strlist(a, key, value, path);
    else if (value->kind != TG_YAML_NULL)
      report(a, &value->pos, path, "expected a sequence of strings, got %s",
             tg_yaml_kind_name(value->kind));
    return;
  case TG_CONF_STRMAP:
    if (value->kind == TG_YAML_MAP)
      set_strmap(a, key, value, path);
    else if (value->kind != TG_YAML_NULL)
      report(a, &value->pos, path, "expected a mapping of strings, got %s",
             tg_yaml_kind_name(value->kind));
    return;
  default:
    if (value->kind == TG_YAML_NULL)
      return; /* `key:` with nothing: the default stays */
    if (value->kind != TG_YAML_SCALAR) {
      report(a, &value->pos, path, "expected %s, got %s", type_name(key->type),
             tg_yaml_kind_name(value->kind));
      return;
    }
    set_scalar(a, key, value->scalar, &value->pos, path);
  }
}

/* Does key path p lie under prefix (length plen; 0 = top level)? */
static int under(const char *p, const char *prefix, size_t plen) {
  return plen == 0 || (!strncmp(p, prefix, plen) && p[plen] == '.');
}

/* The valid key names at one level: the next path segment of every key under prefix,
 * each once, in table order. */
static void list_valid(const applier *a, const char *prefix, char *buf, size_t size) {
  size_t plen = strlen(prefix), used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < a->n_keys; i++) {
    const char *p = a->keys[i].path;
    if (!under(p, prefix, plen))
      continue;
    const char *seg = plen ? p + plen + 1 : p;
    size_t slen = strcspn(seg, ".");
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) {
      const char *q = a->keys[j].path;
      if (under(q, prefix, plen)) {
        const char *qs = plen ? q + plen + 1 : q;
        seen = strcspn(qs, ".") == slen && !strncmp(qs, seg, slen);
      }
    }
    if (seen || used + slen + 3 >= size)
      continue;
    if (used) {
      memcpy(buf + used, ", ", 2);
      used += 2;
    }
    memcpy(buf + used, seg, slen);
    used += slen;
    buf[used] = '\0';
  }
}

static void walk(const applier *a, const char *prefix, const tg_yaml_node *map) {
  size_t plen = strlen(prefix);
  for (size_t i = 0; i < map->n; i++) {
    const tg_yaml_node *k = map->pairs[i].key, *v = map->pairs[i].value;
    size_t klen = strlen(k->scalar);
    char *path = tg_malloc(plen + 1 + klen + 1);
    if (!path) {
      report(a, &k->pos, prefix, "out of memory");
      return;
    }
    if (plen)
      snprintf(path, plen + 1 + klen + 1, "%s.%s", prefix, k->scalar);
    else
      memcpy(path, k->scalar, klen + 1);
    const tg_conf_key *leaf = NULL;
    int inner = 0;
    if (klen && !strchr(k->scalar, '.')) {
      size_t len = strlen(path);
      for (size_t j = 0; j < a->n_keys; j++) {
        const char *p = a->keys[j].path;
        if (!strcmp(p, path))
          leaf = leaf ? leaf : &a->keys[j];
        else if (!strncmp(p, path, len) && p[len] == '.')
          inner = 1;
      }
    }
    if (leaf) {
      apply_value(a, leaf, v, path);
      if (leaf->type == TG_CONF_PRESENT && v->kind == TG_YAML_MAP)
        walk(a, path, v);
    } else if (inner) {
      if (v->kind == TG_YAML_MAP)
        walk(a, path, v);
      else if (v->kind != TG_YAML_NULL)
        report(a, &v->pos, path, "expected a mapping, got %s", tg_yaml_kind_name(v->kind));
    } else {
      char valid[1024];
      list_valid(a, prefix, valid, sizeof valid);
      if (valid[0])
        report(a, &k->pos, NULL, "unknown key \"%.100s\" (valid keys%s%s: %s)", path,
               plen ? " under " : "", plen ? prefix : "", valid);
      else if (plen)
        report(a, &k->pos, NULL, "unknown key \"%.100s\" (%s takes no keys)", path, prefix);
      else
        report(a, &k->pos, NULL, "unknown key \"%.100s\" (this component takes no settings)",
               path);
    }
    tg_free(path);
  }
}

void tg_conf_apply(const tg_conf_key *keys, size_t n_keys, const tg_yaml_node *node,
                   void *conf, const char *what, tg_diag *diag) {
  applier a = {keys, n_keys, conf, what, diag};
  for (size_t i = 0; i < n_keys; i++) {
    const tg_conf_key *key = &keys[i];
    if (!key->def)
      continue;
    switch (key->type) {
    case TG_CONF_BOOL: case TG_CONF_INT: case TG_CONF_DOUBLE: case TG_CONF_DURATION:
    case TG_CONF_SIZE: case TG_CONF_STRING: case TG_CONF_ENUM: {
      size_t before = tg_diag_count(diag);
      set_scalar(&a, key, key->def, NULL, key->path);
      if (tg_diag_count(diag) != before)
        tg_diag_add(diag, NULL, "%s: internal error: the default of %s is invalid", what,
                    key->path);
      break;
    }
    default:
      tg_diag_add(diag, NULL, "%s: internal error: key %s cannot have a default", what,
                  key->path);
    }
  }
  if (!node || node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_MAP) {
    report(&a, &node->pos, NULL, "expected a mapping of settings, got %s",
           tg_yaml_kind_name(node->kind));
    return;
  }
  walk(&a, "", node);
}

void tg_conf_release(const tg_conf_key *keys, size_t n_keys, void *conf) {
  if (!conf)
    return;
  for (size_t i = 0; i < n_keys; i++) {
    void *field = (char *)conf + keys[i].offset;
    switch (keys[i].type) {
    case TG_CONF_STRING:
      tg_free(*(char **)field);
      *(char **)field = NULL;
      break;
    case TG_CONF_STRLIST:
      free_strlist(field);
      break;
    case TG_CONF_STRMAP:
      free_strmap(field);
      break;
    case TG_CONF_CUSTOM:
      if (keys[i].free_field)
        keys[i].free_field(field);
      break;
    default:
      break;
    }
  }
}
