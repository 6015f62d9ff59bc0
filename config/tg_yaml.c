/* YAML text → tg_yaml_node tree, built from libyaml's event stream.
 *
 * Why events and not libyaml's document API: events carry the marks we need (1-based
 * line:col after +1), and building the tree ourselves lets us substitute environment
 * references per scalar, resolve aliases by copying (consumers never see a shared node),
 * and bound everything an input can cost: bytes (TG_YAML_MAX_INPUT), nodes including
 * alias copies (TG_YAML_MAX_NODES, so no "billion laughs"), and depth (TG_YAML_MAX_DEPTH,
 * so no recursion below ever goes deeper than that).
 *
 * Ownership: the document owns every node in one flat registry (`all`). Nodes are never
 * freed one by one — a dropped duplicate pair, a half-built tree after a syntax error, an
 * anchor target — they stay in the registry until tg_yaml_free, which frees the
 * registry in a loop without recursion. That makes every error path a plain
 * "free the document". */
#include "tg_yaml.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "tg_alloc.h"
#include "tg_env.h"

struct tg_yaml_doc {
  char *name;
  tg_yaml_node *root;
  tg_yaml_node **all; /* every node ever created for this document */
  size_t n_all, cap_all;
};

typedef struct frame {
  tg_yaml_node *node; /* an open mapping or sequence */
  tg_yaml_node *key;  /* mapping: key waiting for its value */
  char *anchor;       /* registered when the node is complete */
} frame;

typedef struct anchor {
  char *name;
  tg_yaml_node *node;
} anchor;

typedef struct builder {
  tg_yaml_doc *doc;
  tg_diag *diag;
  frame stack[TG_YAML_MAX_DEPTH];
  size_t depth;
  anchor *anchors;
  size_t n_anchors, cap_anchors;
  int fatal; /* a reported problem that stops parsing */
  int documents;
} builder;

#define CORE_TAG "tag:yaml.org,2002:"

const char *tg_yaml_kind_name(tg_yaml_kind kind) {
  switch (kind) {
  case TG_YAML_NULL: return "null";
  case TG_YAML_SCALAR: return "scalar";
  case TG_YAML_MAP: return "mapping";
  case TG_YAML_SEQ: return "sequence";
  }
  return "unknown";
}

static tg_yaml_pos mark_pos(const builder *b, yaml_mark_t mark) {
  tg_yaml_pos pos = {b->doc->name, (unsigned)mark.line + 1, (unsigned)mark.column + 1};
  return pos;
}

static void fail(builder *b, const tg_yaml_pos *pos, const char *msg) {
  if (!b->fatal)
    tg_diag_add(b->diag, pos, "%s", msg);
  b->fatal = 1;
}

static tg_yaml_node *new_node(builder *b, tg_yaml_kind kind, tg_yaml_pos pos) {
  tg_yaml_doc *doc = b->doc;
  if (doc->n_all >= TG_YAML_MAX_NODES) {
    fail(b, &pos, "document too large (more than 100000 nodes, counting alias copies)");
    return NULL;
  }
  if (doc->n_all == doc->cap_all) {
    size_t cap = doc->cap_all ? doc->cap_all * 2 : 64;
    tg_yaml_node **all = tg_realloc(doc->all, cap * sizeof *all);
    if (!all) {
      fail(b, &pos, "out of memory");
      return NULL;
    }
    doc->all = all;
    doc->cap_all = cap;
  }
  tg_yaml_node *node = tg_calloc(1, sizeof *node);
  if (!node) {
    fail(b, &pos, "out of memory");
    return NULL;
  }
  node->kind = kind;
  node->pos = pos;
  doc->all[doc->n_all++] = node;
  return node;
}

/* Array capacity is implicit: 4 for n <= 4, else the next power of two >= n. So an
 * array grows exactly when n is 0 or a power of two >= 4. (Only arrays under
 * construction grow; dedupe_keys shrinks n of finished mappings only.) */
static int reserve(builder *b, void **array, size_t n, size_t elem, const tg_yaml_pos *pos) {
  if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
    return 0;
  size_t cap = n ? n * 2 : 4;
  void *p = tg_realloc(*array, cap * elem);
  if (!p) {
    fail(b, pos, "out of memory");
    return -1;
  }
  *array = p;
  return 0;
}

static int seq_push(builder *b, tg_yaml_node *seq, tg_yaml_node *item) {
  void *items = seq->items;
  if (reserve(b, &items, seq->n, sizeof *seq->items, &item->pos) < 0)
    return -1;
  seq->items = items;
  seq->items[seq->n++] = item;
  return 0;
}

static int map_push(builder *b, tg_yaml_node *map, tg_yaml_node *key, tg_yaml_node *value) {
  void *pairs = map->pairs;
  if (reserve(b, &pairs, map->n, sizeof *map->pairs, &key->pos) < 0)
    return -1;
  map->pairs = pairs;
  map->pairs[map->n].key = key;
  map->pairs[map->n].value = value;
  map->n++;
  return 0;
}

/* Deep copy for an alias; `room` is how many container levels may still be opened. */
static tg_yaml_node *copy_node(builder *b, const tg_yaml_node *src, size_t room) {
  if (src->kind == TG_YAML_MAP || src->kind == TG_YAML_SEQ) {
    if (room == 0) {
      fail(b, &src->pos, "nesting deeper than 64 levels (through an alias)");
      return NULL;
    }
  }
  tg_yaml_node *dst = new_node(b, src->kind, src->pos);
  if (!dst)
    return NULL;
  dst->quoted = src->quoted;
  if (src->scalar) {
    dst->scalar = tg_strdup(src->scalar);
    if (!dst->scalar) {
      fail(b, &src->pos, "out of memory");
      return NULL;
    }
  }
  for (size_t i = 0; src->kind == TG_YAML_SEQ && i < src->n; i++) {
    tg_yaml_node *item = copy_node(b, src->items[i], room - 1);
    if (!item || seq_push(b, dst, item) < 0)
      return NULL;
  }
  for (size_t i = 0; src->kind == TG_YAML_MAP && i < src->n; i++) {
    tg_yaml_node *k = copy_node(b, src->pairs[i].key, room - 1);
    tg_yaml_node *v = k ? copy_node(b, src->pairs[i].value, room - 1) : NULL;
    if (!v || map_push(b, dst, k, v) < 0)
      return NULL;
  }
  return dst;
}

static int add_anchor(builder *b, char *name, tg_yaml_node *node) {
  if (b->n_anchors == b->cap_anchors) {
    size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 8;
    anchor *a = tg_realloc(b->anchors, cap * sizeof *a);
    if (!a) {
      tg_free(name);
      fail(b, &node->pos, "out of memory");
      return -1;
    }
    b->anchors = a;
    b->cap_anchors = cap;
  }
  b->anchors[b->n_anchors].name = name;
  b->anchors[b->n_anchors].node = node;
  b->n_anchors++;
  return 0;
}

/* The latest definition of an anchor wins (YAML allows redefinition). Anchors are only
 * registered once their node is complete, so a node cannot alias itself. */
static const tg_yaml_node *find_anchor(const builder *b, const char *name) {
  for (size_t i = b->n_anchors; i-- > 0;)
    if (!strcmp(b->anchors[i].name, name))
      return b->anchors[i].node;
  return NULL;
}

static int expecting_key(const builder *b) {
  if (b->depth == 0)
    return 0;
  const frame *f = &b->stack[b->depth - 1];
  return f->node->kind == TG_YAML_MAP && f->key == NULL;
}

/* Places a complete node into its parent (or as the root). */
static int attach(builder *b, tg_yaml_node *node) {
  if (b->depth == 0) {
    b->doc->root = node;
    return 0;
  }
  frame *f = &b->stack[b->depth - 1];
  if (f->node->kind == TG_YAML_SEQ)
    return seq_push(b, f->node, node);
  if (!f->key) {
    if (node->kind != TG_YAML_SCALAR) {
      fail(b, &node->pos, "mapping keys must be scalars");
      return -1;
    }
    f->key = node;
    return 0;
  }
  tg_yaml_node *key = f->key;
  f->key = NULL;
  return map_push(b, f->node, key, node);
}

static int cmp_pair_ptr(const void *a, const void *b) {
  const tg_yaml_pair *pa = *(tg_yaml_pair *const *)a, *pb = *(tg_yaml_pair *const *)b;
  int c = strcmp(pa->key->scalar, pb->key->scalar);
  if (c)
    return c;
  return pa < pb ? -1 : pa > pb;
}

/* Reports every duplicate key of a finished mapping and drops the later pairs (their
 * nodes stay in the registry), so lookups and key tables see each key once. */
static void dedupe_keys(builder *b, tg_yaml_node *map) {
  if (map->n < 2)
    return;
  tg_yaml_pair **sorted = tg_malloc(map->n * sizeof *sorted);
  unsigned char *drop = tg_calloc(map->n, 1);
  if (!sorted || !drop) {
    tg_free(sorted);
    tg_free(drop);
    fail(b, &map->pos, "out of memory");
    return;
  }
  for (size_t i = 0; i < map->n; i++)
    sorted[i] = &map->pairs[i];
  qsort(sorted, map->n, sizeof *sorted, cmp_pair_ptr);
  size_t first = 0, n_drop = 0;
  for (size_t i = 1; i < map->n; i++) {
    if (strcmp(sorted[i]->key->scalar, sorted[first]->key->scalar)) {
      first = i;
      continue;
    }
    drop[sorted[i] - map->pairs] = 1;
    n_drop++;
  }
  /* Report in document order. */
  for (size_t i = 0; n_drop && i < map->n; i++) {
    if (!drop[i])
      continue;
    const tg_yaml_pair *orig = tg_yaml_get_pair(map, map->pairs[i].key->scalar);
    tg_diag_add(b->diag, &map->pairs[i].key->pos, "duplicate key \"%s\" (first at line %u)",
                map->pairs[i].key->scalar, orig->key->pos.line);
  }
  size_t w = 0;
  for (size_t i = 0; i < map->n; i++)
    if (!drop[i])
      map->pairs[w++] = map->pairs[i];
  map->n = w;
  tg_free(sorted);
  tg_free(drop);
}

static int is_merge_key(const tg_yaml_node *key) {
  return !key->quoted && !strcmp(key->scalar, "<<");
}

/* Does map (pairs [0, n) plus the pairs already in out) define key explicitly? */
static int has_key(const tg_yaml_pair *pairs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (!is_merge_key(pairs[i].key) && !strcmp(pairs[i].key->scalar, key))
      return 1;
  return 0;
}

/* YAML merge keys (`<<: *base` or `<<: [*a, *b]`), which the Collector's YAML library
 * supports: the merged mappings' pairs are inserted where the `<<` was, unless the
 * mapping sets the key itself or an earlier merged mapping did. The merged values are
 * alias copies already, so their nodes are moved, not copied again. */
static void resolve_merges(builder *b, tg_yaml_node *map) {
  size_t merges = 0, extra = 0;
  for (size_t i = 0; i < map->n; i++) {
    if (!is_merge_key(map->pairs[i].key))
      continue;
    const tg_yaml_node *v = map->pairs[i].value;
    int ok = v->kind == TG_YAML_MAP;
    if (v->kind == TG_YAML_SEQ) {
      ok = 1;
      for (size_t j = 0; j < v->n; j++) {
        ok = ok && v->items[j]->kind == TG_YAML_MAP;
        extra += v->items[j]->n;
      }
    } else if (ok) {
      extra += v->n;
    }
    if (!ok) {
      tg_diag_add(b->diag, &v->pos, "merge key \"<<\" needs a mapping or a sequence of mappings");
      continue;
    }
    merges++;
  }
  if (!merges)
    return;
  tg_yaml_pair *out = tg_malloc((map->n + extra) * sizeof *out);
  if (!out) {
    fail(b, &map->pos, "out of memory");
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < map->n; i++) {
    const tg_yaml_pair *pair = &map->pairs[i];
    const tg_yaml_node *v = pair->value;
    if (!is_merge_key(pair->key) || (v->kind != TG_YAML_MAP && v->kind != TG_YAML_SEQ)) {
      out[n++] = *pair;
      continue;
    }
    size_t n_sources = v->kind == TG_YAML_MAP ? 1 : v->n;
    for (size_t s = 0; s < n_sources; s++) {
      const tg_yaml_node *src = v->kind == TG_YAML_MAP ? v : v->items[s];
      if (src->kind != TG_YAML_MAP)
        break; /* reported above */
      for (size_t j = 0; j < src->n; j++) {
        const char *key = src->pairs[j].key->scalar;
        if (!has_key(map->pairs, map->n, key) && !has_key(out, n, key))
          out[n++] = src->pairs[j];
      }
    }
  }
  tg_free(map->pairs);
  map->pairs = out;
  map->n = n;
}

/* Checks an explicit tag; returns 1 for "this is a string", 2 for "null", 0 otherwise. */
static int check_tag(builder *b, const yaml_char_t *tag, const tg_yaml_pos *pos,
                     tg_yaml_kind kind) {
  if (!tag)
    return 0;
  const char *t = (const char *)tag;
  if (!strcmp(t, "!"))
    return kind == TG_YAML_SCALAR ? 1 : 0;
  if (!strncmp(t, CORE_TAG, strlen(CORE_TAG))) {
    const char *s = t + strlen(CORE_TAG);
    if (kind == TG_YAML_SCALAR) {
      if (!strcmp(s, "str"))
        return 1;
      if (!strcmp(s, "null"))
        return 2;
      if (!strcmp(s, "int") || !strcmp(s, "float") || !strcmp(s, "bool"))
        return 0;
    } else if ((kind == TG_YAML_MAP && !strcmp(s, "map")) ||
               (kind == TG_YAML_SEQ && !strcmp(s, "seq"))) {
      return 0;
    }
  }
  tg_diag_add(b->diag, pos, "unsupported tag \"%s\"", t);
  return 0;
}

static int is_null_text(const char *s, size_t n) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
    if (strlen(nulls[i]) == n && !memcmp(nulls[i], s, n))
      return 1;
  return 0;
}

static char *take_anchor(builder *b, const yaml_char_t *name, const tg_yaml_pos *pos) {
  if (!name)
    return NULL;
  char *copy = tg_strdup((const char *)name);
  if (!copy)
    fail(b, pos, "out of memory");
  return copy;
}

static void on_scalar(builder *b, const yaml_event_t *ev) {
  tg_yaml_pos pos = mark_pos(b, ev->start_mark);
  const char *text = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  int key = expecting_key(b);
  int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  int tag = check_tag(b, ev->data.scalar.tag, &pos, TG_YAML_SCALAR);
  if (memchr(text, '\0', len)) {
    tg_diag_add(b->diag, &pos, "NUL character in a scalar");
    len = strlen(text);
  }
  int is_null = !key && (tag == 2 || (tag == 0 && plain && is_null_text(text, len)));
  tg_yaml_node *node = new_node(b, is_null ? TG_YAML_NULL : TG_YAML_SCALAR, pos);
  if (!node)
    return;
  node->quoted = !plain || tag == 1;
  if (!is_null) {
    if (!key && memchr(text, '$', len)) {
      if (tg_env_expand(text, len, &pos, b->diag, &node->scalar) < 0)
        node->scalar = NULL; /* reported; keep the raw text below */
    }
    if (!node->scalar && !(node->scalar = tg_strndup(text, len))) {
      fail(b, &pos, "out of memory");
      return;
    }
  }
  char *anchor = take_anchor(b, ev->data.scalar.anchor, &pos);
  if (b->fatal)
    return;
  if (anchor && add_anchor(b, anchor, node) < 0)
    return;
  attach(b, node);
}

static void on_alias(builder *b, const yaml_event_t *ev) {
  tg_yaml_pos pos = mark_pos(b, ev->start_mark);
  const char *name = (const char *)ev->data.alias.anchor;
  const tg_yaml_node *target = find_anchor(b, name);
  if (!target) {
    tg_diag_add(b->diag, &pos, "unknown anchor \"%s\"", name);
    b->fatal = 1;
    return;
  }
  tg_yaml_node *copy = copy_node(b, target, TG_YAML_MAX_DEPTH - b->depth);
  if (copy)
    attach(b, copy);
}

static void on_start(builder *b, const yaml_event_t *ev, tg_yaml_kind kind) {
  tg_yaml_pos pos = mark_pos(b, ev->start_mark);
  if (b->depth >= TG_YAML_MAX_DEPTH) {
    fail(b, &pos, "nesting deeper than 64 levels");
    return;
  }
  const yaml_char_t *tag =
      kind == TG_YAML_MAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
  const yaml_char_t *anchor_name =
      kind == TG_YAML_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
  check_tag(b, tag, &pos, kind);
  tg_yaml_node *node = new_node(b, kind, pos);
  if (!node)
    return;
  char *anchor = take_anchor(b, anchor_name, &pos);
  if (b->fatal)
    return;
  frame *f = &b->stack[b->depth++];
  f->node = node;
  f->key = NULL;
  f->anchor = anchor;
}

static void on_end(builder *b) {
  frame *f = &b->stack[--b->depth];
  tg_yaml_node *node = f->node;
  char *anchor = f->anchor;
  f->anchor = NULL;
  if (node->kind == TG_YAML_MAP) {
    dedupe_keys(b, node);
    resolve_merges(b, node);
  }
  if (anchor && add_anchor(b, anchor, node) < 0)
    return;
  attach(b, node);
}

static void report_syntax(builder *b, const yaml_parser_t *p) {
  if (p->error == YAML_MEMORY_ERROR) {
    tg_yaml_pos pos = {b->doc->name, 0, 0};
    fail(b, &pos, "out of memory");
    return;
  }
  tg_yaml_pos pos = mark_pos(b, p->problem_mark);
  const char *problem = p->problem ? p->problem : "malformed YAML";
  if (p->context)
    tg_diag_add(b->diag, &pos, "syntax error: %s (%s at line %u, column %u)", problem,
                p->context, (unsigned)p->context_mark.line + 1,
                (unsigned)p->context_mark.column + 1);
  else
    tg_diag_add(b->diag, &pos, "syntax error: %s", problem);
  b->fatal = 1;
}

static void builder_release(builder *b) {
  for (size_t i = 0; i < b->n_anchors; i++)
    tg_free(b->anchors[i].name);
  tg_free(b->anchors);
  for (size_t i = 0; i < b->depth; i++)
    tg_free(b->stack[i].anchor);
}

tg_yaml_doc *tg_yaml_parse(const char *name, const char *text, size_t len, tg_diag *diag) {
  tg_yaml_pos whole = {name, 0, 0};
  if (len > TG_YAML_MAX_INPUT) {
    tg_diag_add(diag, &whole, "file is larger than 4 MiB");
    return NULL;
  }
  tg_yaml_doc *doc = tg_calloc(1, sizeof *doc);
  if (!doc || !(doc->name = tg_strdup(name))) {
    tg_free(doc);
    tg_diag_add(diag, &whole, "out of memory");
    return NULL;
  }
  builder b = {.doc = doc, .diag = diag};
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    tg_diag_add(diag, &whole, "out of memory");
    tg_yaml_free(doc);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int done = 0;
  while (!done && !b.fatal) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      report_syntax(&b, &parser);
      break;
    }
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (++b.documents > 1) {
        tg_yaml_pos pos = mark_pos(&b, ev.start_mark);
        fail(&b, &pos, "more than one YAML document (a configuration is one document)");
      }
      break;
    case YAML_SCALAR_EVENT:
      on_scalar(&b, &ev);
      break;
    case YAML_ALIAS_EVENT:
      on_alias(&b, &ev);
      break;
    case YAML_MAPPING_START_EVENT:
      on_start(&b, &ev, TG_YAML_MAP);
      break;
    case YAML_SEQUENCE_START_EVENT:
      on_start(&b, &ev, TG_YAML_SEQ);
      break;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
      on_end(&b);
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  builder_release(&b);
  if (b.fatal) {
    tg_yaml_free(doc);
    return NULL;
  }
  return doc;
}

const tg_yaml_node *tg_yaml_root(const tg_yaml_doc *doc) { return doc ? doc->root : NULL; }

const char *tg_yaml_name(const tg_yaml_doc *doc) { return doc->name; }

void tg_yaml_free(tg_yaml_doc *doc) {
  if (!doc)
    return;
  for (size_t i = 0; i < doc->n_all; i++) {
    tg_yaml_node *node = doc->all[i];
    tg_free(node->scalar);
    tg_free(node->pairs);
    tg_free(node->items);
    tg_free(node);
  }
  tg_free(doc->all);
  tg_free(doc->name);
  tg_free(doc);
}

const tg_yaml_pair *tg_yaml_get_pair(const tg_yaml_node *map, const char *key) {
  if (!map || map->kind != TG_YAML_MAP)
    return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (!strcmp(map->pairs[i].key->scalar, key))
      return &map->pairs[i];
  return NULL;
}

const tg_yaml_node *tg_yaml_get(const tg_yaml_node *map, const char *key) {
  const tg_yaml_pair *pair = tg_yaml_get_pair(map, key);
  return pair ? pair->value : NULL;
}
