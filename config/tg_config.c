/* Loading a whole configuration: the top level and the component sections.
 *
 * Order of work: parse (tg_yaml), then every component section in file order, then
 * `service:` last, because pipelines refer to components that may be defined further
 * down the file. Nothing stops at the first problem: a component of unknown type is
 * still recorded (with component == NULL) so that pipelines naming it do not add a
 * second, misleading "not defined" error; its settings are not checked.
 *
 * Ownership: the tg_config owns the YAML document (nodes are referenced, not copied),
 * its own copies of ids, and one calloc'ed conf struct per known component, released
 * through the component's key table. On any problem the half-built config is freed
 * with tg_config_free, which copes with every partial state. */
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* SHA256_Init & co., see the digest below */
#include "tg_config.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_config_internal.h"
#include "tg_yaml.h"

static const char *const top_level_keys =
    "receivers, processors, exporters, connectors, extensions, service";

static const tg_component *registry_find(const tg_component *const *registry,
                                         tg_component_kind kind, const char *type) {
  for (size_t i = 0; registry && registry[i]; i++)
    if (registry[i]->kind == kind && !strcmp(registry[i]->type, type))
      return registry[i];
  return NULL;
}

static void known_types(const tg_component *const *registry, tg_component_kind kind,
                        char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; registry && registry[i] && used < size; i++) {
    if (registry[i]->kind != kind)
      continue;
    int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", registry[i]->type);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

/* Component ids follow the Collector: type[/name], type = [A-Za-z][A-Za-z0-9_]{0,62},
 * name non-empty (up to 1024 bytes) without spaces or control characters. Returns NULL
 * or the reason; *type_len is the length of the type part. */
static const char *check_id(const char *id, size_t *type_len) {
  size_t t = strcspn(id, "/");
  *type_len = t;
  if (t == 0)
    return "the type must not be empty";
  if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
    return "the type must start with a letter";
  if (t > 63)
    return "the type is longer than 63 characters";
  for (size_t i = 1; i < t; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_'))
      return "the type may contain only letters, digits and \"_\"";
  }
  if (!id[t])
    return NULL;
  const char *name = id + t + 1;
  size_t n = strlen(name);
  if (n == 0)
    return "the name after \"/\" must not be empty";
  if (n > 1024)
    return "the name is longer than 1024 characters";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
      return "the name must not contain spaces or control characters";
  return NULL;
}

/* Lookups by id are linear; this bound keeps any input's validation cost modest. */
#define MAX_COMPONENTS 4096

static tg_config_component *add_component(tg_config *cfg, size_t *cap, tg_diag *diag,
                                          const tg_yaml_pos *pos) {
  if (cfg->n_components >= MAX_COMPONENTS) {
    tg_diag_add(diag, pos, "more than %d components", MAX_COMPONENTS);
    return NULL;
  }
  if (cfg->n_components == *cap) {
    size_t n = *cap ? *cap * 2 : 8;
    tg_config_component *c = tg_realloc(cfg->components, n * sizeof *c);
    if (!c) {
      tg_diag_add(diag, pos, "out of memory");
      return NULL;
    }
    cfg->components = c;
    *cap = n;
  }
  tg_config_component *c = &cfg->components[cfg->n_components++];
  memset(c, 0, sizeof *c);
  return c;
}

static void load_component(tg_config *cfg, tg_config_component *c,
                           const tg_component *const *registry, const tg_yaml_pair *pair,
                           size_t type_len, tg_diag *diag) {
  const char *section = tg_component_kind_name(c->kind);
  char what[1200];
  snprintf(what, sizeof what, "%s::%s", section, pair->key->scalar);
  c->id = tg_strdup(pair->key->scalar);
  c->type = tg_strndup(pair->key->scalar, type_len);
  if (!c->id || !c->type) {
    tg_diag_add(diag, &c->pos, "%s: out of memory", what);
    return;
  }
  c->component = registry_find(registry, c->kind, c->type);
  if (!c->component) {
    char known[1024];
    known_types(registry, c->kind, known, sizeof known);
    if (known[0])
      tg_diag_add(diag, &c->pos, "%s: unknown type \"%s\" (known %s: %s)", what, c->type,
                  section, known);
    else
      tg_diag_add(diag, &c->pos, "%s: unknown type \"%s\" (no %s are built in)", what,
                  c->type, section);
    return;
  }
  const tg_component *desc = c->component;
  if (!(c->conf = tg_calloc(1, desc->conf_size ? desc->conf_size : 1))) {
    tg_diag_add(diag, &c->pos, "%s: out of memory", what);
    return;
  }
  size_t before = tg_diag_count(diag);
  tg_conf_apply(desc->keys, desc->n_keys, c->node, c->conf, what, diag);
  /* Cross-key checks only make sense on values that each parsed. */
  if (desc->conf_check && tg_diag_count(diag) == before)
    desc->conf_check(c->conf, c->node, what, diag);
  (void)cfg;
}

static void load_section(tg_config *cfg, size_t *cap, tg_component_kind kind,
                         const tg_yaml_pair *section, const tg_component *const *registry,
                         tg_diag *diag) {
  const tg_yaml_node *node = section->value;
  const char *name = tg_component_kind_name(kind);
  if (node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_MAP) {
    tg_diag_add(diag, &node->pos, "%s: expected a mapping of component ids, got %s", name,
                tg_yaml_kind_name(node->kind));
    return;
  }
  for (size_t i = 0; i < node->n; i++) {
    const tg_yaml_pair *pair = &node->pairs[i];
    size_t type_len;
    const char *why = check_id(pair->key->scalar, &type_len);
    if (why) {
      tg_diag_add(diag, &pair->key->pos, "%s: invalid component id \"%.100s\": %s", name,
                  pair->key->scalar, why);
      continue;
    }
    tg_config_component *c = add_component(cfg, cap, diag, &pair->key->pos);
    if (!c)
      return;
    c->kind = kind;
    c->node = pair->value;
    c->pos = pair->key->pos;
    load_component(cfg, c, registry, pair, type_len, diag);
  }
}

static int section_kind(const char *key, tg_component_kind *kind) {
  for (int k = 0; k < TG_KIND_COUNT_; k++) {
    if (!strcmp(key, tg_component_kind_name((tg_component_kind)k))) {
      *kind = (tg_component_kind)k;
      return 1;
    }
  }
  return 0;
}

tg_config *tg_config_load_text_with_registry(const char *name, const char *text, size_t len,
                                             const tg_component *const *registry,
                                             tg_diag *diag) {
  size_t before = tg_diag_count(diag);
  tg_config *cfg = tg_calloc(1, sizeof *cfg);
  tg_yaml_pos whole = {name, 0, 0};
  if (!cfg || !(cfg->source_name = tg_strdup(name))) {
    tg_free(cfg);
    tg_diag_add(diag, &whole, "out of memory");
    return NULL;
  }
  cfg->doc = tg_yaml_parse(name, text, len, diag);
  if (!cfg->doc) {
    tg_config_free(cfg);
    return NULL;
  }
  const tg_yaml_node *root = tg_yaml_root(cfg->doc);
  tg_yaml_pos start = {tg_yaml_name(cfg->doc), 1, 1};
  whole.file = tg_yaml_name(cfg->doc);
  if (!root || root->kind == TG_YAML_NULL) {
    tg_diag_add(diag, &whole, "the configuration is empty (service.pipelines is required)");
  } else if (root->kind != TG_YAML_MAP) {
    tg_diag_add(diag, &root->pos, "expected a mapping at the top level (%s), got %s",
                top_level_keys, tg_yaml_kind_name(root->kind));
  } else {
    size_t cap = 0;
    const tg_yaml_pair *service = NULL;
    for (size_t i = 0; i < root->n; i++) {
      const tg_yaml_pair *pair = &root->pairs[i];
      tg_component_kind kind;
      if (section_kind(pair->key->scalar, &kind))
        load_section(cfg, &cap, kind, pair, registry, diag);
      else if (!strcmp(pair->key->scalar, "service"))
        service = pair;
      else
        tg_diag_add(diag, &pair->key->pos, "unknown top-level key \"%.100s\" (valid keys: %s)",
                    pair->key->scalar, top_level_keys);
    }
    tg_config_load_service(cfg, service ? service->value : NULL,
                           service ? &service->key->pos : &start, diag);
    tg_config_check_loops(cfg, diag);
    tg_config_check_listen_endpoints(cfg, diag);
  }
  if (tg_diag_count(diag) != before) {
    tg_config_free(cfg);
    return NULL;
  }
  /* The low-level API, not SHA256(): OpenSSL 3's one-shot is EVP_Q_digest, whose first
   * call initialises providers and reads openssl.cnf, ~2 MB resident in an idle process
   * (docs/ARCHITECTURE.md "Idle memory"). */
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX sha;
  SHA256_Init(&sha);
  SHA256_Update(&sha, text, len);
  SHA256_Final(digest, &sha);
  for (size_t i = 0; i < 8; i++)
    snprintf(cfg->sha256_prefix + 2 * i, 3, "%02x", digest[i]);
  return cfg;
}

tg_config *tg_config_load_text(const char *name, const char *text, size_t len,
                               tg_diag *diag) {
  return tg_config_load_text_with_registry(name, text, len, tg_registry, diag);
}

/* Reads at most TG_YAML_MAX_INPUT + 1 bytes, so a too large file is detected without
 * reading it all. Returns the text (tg_malloc) or NULL after reporting. */
static char *read_file(const char *path, size_t *len, tg_diag *diag) {
  tg_yaml_pos whole = {path, 0, 0};
  FILE *f = fopen(path, "rb");
  if (!f) {
    tg_diag_add(diag, &whole, "cannot read: %s", strerror(errno));
    return NULL;
  }
  size_t cap = TG_YAML_MAX_INPUT + 1, n = 0;
  char *text = tg_malloc(cap);
  if (!text) {
    fclose(f);
    tg_diag_add(diag, &whole, "cannot read: out of memory");
    return NULL;
  }
  while (n < cap) {
    size_t got = fread(text + n, 1, cap - n, f);
    if (got == 0)
      break;
    n += got;
  }
  int err = ferror(f) ? errno : 0;
  fclose(f);
  if (err) {
    tg_free(text);
    tg_diag_add(diag, &whole, "cannot read: %s", strerror(err));
    return NULL;
  }
  if (n > TG_YAML_MAX_INPUT) {
    tg_free(text);
    tg_diag_add(diag, &whole, "file is larger than 4 MiB");
    return NULL;
  }
  *len = n;
  return text;
}

tg_config *tg_config_load_file_with_registry(const char *path,
                                             const tg_component *const *registry,
                                             tg_diag *diag) {
  size_t len;
  char *text = read_file(path, &len, diag);
  if (!text)
    return NULL;
  tg_config *cfg = tg_config_load_text_with_registry(path, text, len, registry, diag);
  tg_free(text);
  return cfg;
}

tg_config *tg_config_load_file(const char *path, tg_diag *diag) {
  return tg_config_load_file_with_registry(path, tg_registry, diag);
}

tg_config *tg_config_load_default(tg_diag *diag) {
  char *text = tg_default_config_text();
  if (!text) {
    tg_yaml_pos whole = {"<embedded default>", 0, 0};
    tg_diag_add(diag, &whole, "out of memory");
    return NULL;
  }
  tg_config *cfg = tg_config_load_text("<embedded default>", text, strlen(text), diag);
  tg_free(text);
  return cfg;
}

const tg_config_component *tg_config_find(const tg_config *config, tg_component_kind kind,
                                          const char *id) {
  for (size_t i = 0; config && i < config->n_components; i++) {
    const tg_config_component *c = &config->components[i];
    if (c->kind == kind && c->id && !strcmp(c->id, id))
      return c;
  }
  return NULL;
}

static void free_refs(tg_config_ref *refs, size_t n) {
  for (size_t i = 0; i < n; i++)
    tg_free(refs[i].id);
  tg_free(refs);
}

void tg_config_free(tg_config *config) {
  if (!config)
    return;
  for (size_t i = 0; i < config->n_components; i++) {
    tg_config_component *c = &config->components[i];
    if (c->component && c->conf)
      tg_conf_release(c->component->keys, c->component->n_keys, c->conf);
    tg_free(c->conf);
    tg_free(c->id);
    tg_free(c->type);
  }
  tg_free(config->components);
  for (size_t i = 0; i < config->n_pipelines; i++) {
    tg_config_pipeline *p = &config->pipelines[i];
    tg_free(p->name);
    free_refs(p->receivers, p->n_receivers);
    free_refs(p->processors, p->n_processors);
    free_refs(p->exporters, p->n_exporters);
  }
  tg_free(config->pipelines);
  free_refs(config->extensions, config->n_extensions);
  tg_free(config->metrics_address);
  tg_free(config->traces_endpoint);
  for (size_t i = 0; i < config->log_initial_fields.n; i++) {
    tg_free(config->log_initial_fields.keys[i]);
    tg_free(config->log_initial_fields.values[i]);
  }
  tg_free(config->log_initial_fields.keys);
  tg_free(config->log_initial_fields.values);
  tg_free(config->source_name);
  tg_yaml_free(config->doc);
  tg_free(config);
}
