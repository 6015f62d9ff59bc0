/* YAML loading with positions and environment substitution (libyaml underneath).
 * Anchors and aliases are resolved by copying; documents with more than one document,
 * tags other than the core schema's, complex (non-scalar) keys and nesting deeper than
 * TG_YAML_MAX_DEPTH are rejected. Duplicate keys in a mapping are reported and the later
 * pair is dropped, so every mapping in the tree has unique keys. Merge keys
 * (`<<: *base`, `<<: [*a, *b]`) are resolved: the tree never contains a plain `<<` key
 * whose value was a mapping or a sequence of mappings.
 *
 * Null: a plain (unquoted, untagged) value written as nothing, `~`, `null`, `Null` or
 * `NULL` becomes a TG_YAML_NULL node (scalar == NULL). Mapping keys are never null and
 * never substituted; values are substituted after the null check, so `${env:X}` with X
 * set to "" is the empty string, not null. */
#ifndef TG_YAML_H
#define TG_YAML_H

#include <stddef.h>

#include "tg_diag.h"
#include "tg_yaml-t.h"

/* Bounds, so that any input costs bounded memory and stack. Nodes created by copying an
 * alias count too (no "billion laughs"). */
#define TG_YAML_MAX_INPUT ((size_t)4 << 20) /* bytes */
#define TG_YAML_MAX_NODES 100000
#define TG_YAML_MAX_DEPTH 64

typedef struct tg_yaml_doc tg_yaml_doc;

/* Parses text[0..len) (need not be NUL-terminated); name is copied and used in every
 * position. On success returns a document whose root may be NULL (empty input); the
 * document owns every node and string. Failed substitutions (${env:UNSET} without a
 * default), duplicate keys and unsupported tags go to diag with positions but still
 * return a document. Syntax errors, a second document, excessive size/nodes/depth and
 * out-of-memory are reported and return NULL. */
tg_yaml_doc *tg_yaml_parse(const char *name, const char *text, size_t len, tg_diag *diag);
const tg_yaml_node *tg_yaml_root(const tg_yaml_doc *doc);
/* The name given to tg_yaml_parse (what positions point to). */
const char *tg_yaml_name(const tg_yaml_doc *doc);
void tg_yaml_free(tg_yaml_doc *doc);

/* Mapping lookup by key; NULL when node is not a mapping or has no such key. */
const tg_yaml_node *tg_yaml_get(const tg_yaml_node *map, const char *key);
const tg_yaml_pair *tg_yaml_get_pair(const tg_yaml_node *map, const char *key);

/* "mapping", "sequence", "scalar", "null": for messages. */
const char *tg_yaml_kind_name(tg_yaml_kind kind);

#endif
