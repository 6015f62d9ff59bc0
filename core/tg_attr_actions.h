/* The attributes processor's actions, as the Collector's `attributes` processor has them:
 * insert, update, upsert (key + value or from_attribute), delete and hash (key and/or a
 * key pattern), extract (key + a pattern with named groups) and convert (key +
 * converted_type). Parsed from the `actions` sequence once; applied to span attributes
 * in order. */
#ifndef TG_ATTR_ACTIONS_H
#define TG_ATTR_ACTIONS_H

#include <stddef.h>

#include "tg_pattern.h"
#include "tg_arena.h"
#include "tg_diag.h"
#include "tg_span-t.h"
#include "tg_yaml-t.h"

typedef enum tg_attr_op {
  TG_ATTR_INSERT, TG_ATTR_UPDATE, TG_ATTR_UPSERT, TG_ATTR_DELETE, TG_ATTR_HASH,
  TG_ATTR_EXTRACT, TG_ATTR_CONVERT
} tg_attr_op;

typedef enum { TG_CONVERT_INT, TG_CONVERT_DOUBLE, TG_CONVERT_STRING } tg_attr_convert;

typedef struct tg_attr_action {
  tg_attr_op op;
  char *key;             /* NULL when only pattern selects keys (delete, hash) */
  pcre2_code *pattern;   /* delete/hash: on keys; extract: on the value */
  tg_any_value value;    /* insert/update/upsert with `value` (string owned) */
  int has_value;
  char *from_attribute;
  tg_attr_convert convert;
  char **group_names;    /* extract: capture group names, index = group number */
  size_t n_groups;       /* capture count + 1 */
} tg_attr_action;

typedef struct tg_attr_actions {
  tg_attr_action *items;
  size_t n;
  tg_matcher matcher;
} tg_attr_actions;

/* Parses the `actions` sequence node. Every problem goes to diag at its position, as
 * "<what>: actions: item N: ..."; returns 0 when there was none (out is then complete;
 * release it with tg_attr_actions_free, also after an error). */
int tg_attr_actions_parse(const tg_yaml_node *node, const char *what, tg_diag *diag,
                          tg_attr_actions *out);
void tg_attr_actions_free(tg_attr_actions *a);

/* tg_attr_actions_parse for a component's create: on a problem, err carries the first
 * diagnostic (or "invalid <key>"), out is released and TG_ECONFIG returned; TG_OK
 * otherwise. */
struct tg_errbuf;
int tg_attr_actions_build(const tg_yaml_node *node, const char *what, const char *key,
                          tg_attr_actions *out, struct tg_errbuf *err);

/* Applies every action in order to one attribute list, allocating new arrays, values and
 * strings from arena (never writing the old array). TG_OK or TG_ENOMEM. */
int tg_attr_actions_apply(tg_attr_actions *a, tg_arena *arena, tg_key_value ***attrs,
                          size_t *n);

#endif
