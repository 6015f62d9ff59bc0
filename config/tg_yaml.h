/* YAML loading with positions and environment substitution (libyaml underneath).
 * Anchors and aliases are resolved by copying; documents with more than one document,
 * tags other than the core schema's, or nesting deeper than 64 are rejected. */
#ifndef TG_YAML_H
#define TG_YAML_H

#include <stddef.h>

#include "tg_diag.h"
#include "tg_yaml-t.h"

typedef struct tg_yaml_doc tg_yaml_doc;

/* Parses text; on success returns a document whose root may be NULL (empty input).
 * Syntax errors and failed substitutions (${env:UNSET} without a default) go to diag
 * with positions; NULL is returned on a syntax error. */
tg_yaml_doc *tg_yaml_parse(const char *name, const char *text, size_t len, tg_diag *diag);
const tg_yaml_node *tg_yaml_root(const tg_yaml_doc *doc);
void tg_yaml_free(tg_yaml_doc *doc);

/* Mapping lookup by key; NULL when node is not a mapping or has no such key. */
const tg_yaml_node *tg_yaml_get(const tg_yaml_node *map, const char *key);
const tg_yaml_pair *tg_yaml_get_pair(const tg_yaml_node *map, const char *key);

/* "mapping", "sequence", "scalar", "null": for messages. */
const char *tg_yaml_kind_name(tg_yaml_kind kind);

#endif
