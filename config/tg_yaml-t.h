/* A YAML document as a tree that remembers where every node came from. Positions survive
 * validation so errors found late still point at file:line:col. Environment references
 * (${env:VAR}, ${env:VAR:-default}) are already substituted in scalars. */
#ifndef TG_YAML_T_H
#define TG_YAML_T_H

#include <stddef.h>

typedef enum tg_yaml_kind {
  TG_YAML_NULL,   /* `key:` with nothing, `~`, `null` */
  TG_YAML_SCALAR,
  TG_YAML_MAP,
  TG_YAML_SEQ,
} tg_yaml_kind;

typedef struct tg_yaml_pos {
  const char *file; /* owned by the document */
  unsigned line, col; /* 1-based */
} tg_yaml_pos;

typedef struct tg_yaml_node tg_yaml_node;

typedef struct tg_yaml_pair {
  tg_yaml_node *key; /* always a scalar */
  tg_yaml_node *value;
} tg_yaml_pair;

struct tg_yaml_node {
  tg_yaml_kind kind;
  tg_yaml_pos pos;
  char *scalar;  /* SCALAR: text after substitution, NUL-terminated */
  int quoted;    /* SCALAR: written in quotes (so "null" or "1" are strings) */
  size_t n;      /* MAP: pairs; SEQ: items */
  tg_yaml_pair *pairs;
  tg_yaml_node **items;
};

#endif
