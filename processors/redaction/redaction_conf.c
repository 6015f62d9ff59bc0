/* Key table of the redaction processor, and the checks that need more than one key or a
 * look outside the YAML (key files, environment, pattern compilation). The checks run at
 * load time, so `tailgate validate` reports them with file:line:col; create repeats the
 * same work for real (tg_redactor_build) and cannot fail on a config that passed here
 * unless a file changed in between. */
#include "redaction_conf.h"

#include <string.h>

#include "tg_hmac.h"
#include "redaction_key.h"
#include "tg_pattern.h"
#include "tg_alloc.h"
#include "tg_error.h"
#include "tg_yaml.h"

static const char *const hash_values[] = {"none", "md5", "sha1", "sha3", "hmac-sha256",
                                          "hmac-sha512", NULL};
static const char *const summary_values[] = {"silent", "info", "debug", NULL};
static const char *const format_values[] = {"base64url", "hex", NULL};

#define C tg_redaction_conf
const tg_conf_key tg_redaction_conf_keys[TG_REDACTION_CONF_N_KEYS] = {
    TG_KEY_BOOL("allow_all_keys", C, allow_all_keys, "false",
                "keep every attribute key (false: only allowed_keys survive)"),
    TG_KEY_STRLIST("allowed_keys", C, allowed_keys, "attribute keys kept when allow_all_keys is false"),
    TG_KEY_STRLIST("ignored_keys", C, ignored_keys, "attribute keys passed through untouched"),
    TG_KEY_STRLIST("blocked_key_patterns", C, blocked_key_patterns,
                   "regexes on keys whose whole value is masked"),
    TG_KEY_STRLIST("blocked_values", C, blocked_values,
                   "regexes whose matches inside values (and span/event names) are masked"),
    TG_KEY_STRLIST("allowed_values", C, allowed_values,
                   "regexes on values that are never masked"),
    TG_KEY_ENUM("hash_function", C, hash_function, "none", hash_values,
                "hash masked parts instead of writing ****"),
    TG_KEY_STRING("hmac_key", C, hmac_key, NULL, "key for hash_function hmac-sha256/512"),
    TG_KEY_ENUM("summary", C, summary, "silent", summary_values,
                "redaction.* summary attributes: silent, info (counts), debug (counts, keys)"),
    TG_KEY_BOOL("redact_all_types", C, redact_all_types, "false",
                "also match ints, doubles and bools (as text) against value patterns"),
    TG_KEY_STRLIST("delete_keys", C, delete_keys, "attribute keys to delete"),
    TG_KEY_STRLIST("delete_key_patterns", C, delete_key_patterns,
                   "regexes on keys to delete"),
    TG_KEY_STRLIST("delete_values", C, delete_values,
                   "regexes on values: a matching attribute is deleted"),
    TG_KEY_STRLIST("pseudonymize.keys", C, pseudo_keys,
                   "attribute keys whose values become keyed HMAC-SHA256 pseudonyms"),
    TG_KEY_STRLIST("pseudonymize.key_patterns", C, pseudo_key_patterns,
                   "regexes on keys to pseudonymise"),
    TG_KEY_STRING("pseudonymize.key_env", C, key_env, NULL,
                  "environment variable holding the key (unset: random key, warning)"),
    TG_KEY_STRING("pseudonymize.key_file", C, key_file, NULL, "file holding the key"),
    TG_KEY_STRING("pseudonymize.key_id", C, key_id, "k1",
                  "prefix of every pseudonym, so keys can rotate ([A-Za-z0-9_-]{1,16})"),
    TG_KEY_ENUM("pseudonymize.format", C, format, "base64url", format_values,
                "128-bit MAC as base64url (22 chars) or hex (32 chars)"),
};
#undef C

/* The YAML node of a dotted path under the component's mapping, for positions. */
static const tg_yaml_node *find(const tg_yaml_node *node, const char *a, const char *b) {
  const tg_yaml_node *n = tg_yaml_get(node, a);
  return b ? tg_yaml_get(n, b) : n;
}

static const tg_yaml_pos *pos_of(const tg_yaml_node *n, const tg_yaml_node *fallback) {
  return n ? &n->pos : fallback ? &fallback->pos : NULL;
}

static void check_patterns(const tg_conf_strlist *list, const tg_yaml_node *node,
                           const char *a, const char *b, const char *what, tg_diag *diag) {
  tg_pattern_list compiled;
  size_t bad = 0;
  char why[512];
  int rc = tg_pattern_list_compile(list, &compiled, &bad, why, sizeof why);
  if (rc == TG_OK) {
    tg_pattern_list_free(&compiled);
    return;
  }
  const tg_yaml_node *seq = find(node, a, b);
  const tg_yaml_node *item = seq && seq->kind == TG_YAML_SEQ && bad < seq->n ? seq->items[bad]
                                                                              : seq;
  if (rc == TG_ENOMEM)
    tg_diag_add(diag, pos_of(item, node), "%s: %s%s%s: out of memory", what, a, b ? "." : "",
                b ? b : "");
  else
    tg_diag_add(diag, pos_of(item, node), "%s: %s%s%s: item %zu: %s", what, a, b ? "." : "",
                b ? b : "", bad + 1, why);
}

static int key_id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > TG_PSEUDONYM_KEY_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

void tg_redaction_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                             tg_diag *diag) {
  const tg_redaction_conf *c = vconf;
  check_patterns(&c->blocked_key_patterns, node, "blocked_key_patterns", NULL, what, diag);
  check_patterns(&c->blocked_values, node, "blocked_values", NULL, what, diag);
  check_patterns(&c->allowed_values, node, "allowed_values", NULL, what, diag);
  check_patterns(&c->delete_key_patterns, node, "delete_key_patterns", NULL, what, diag);
  check_patterns(&c->delete_values, node, "delete_values", NULL, what, diag);
  check_patterns(&c->pseudo_key_patterns, node, "pseudonymize", "key_patterns", what, diag);

  if (c->key_id && !key_id_ok(c->key_id))
    tg_diag_add(diag, pos_of(find(node, "pseudonymize", "key_id"), node),
                "%s: pseudonymize.key_id: \"%.40s\" must be 1 to %d of [A-Za-z0-9_-]", what,
                c->key_id, TG_PSEUDONYM_KEY_ID_MAX);

  /* The key is read here and dropped; the messages never contain it. */
  tg_redaction_key *key = tg_calloc(1, sizeof *key);
  if (!key) {
    tg_diag_add(diag, pos_of(node, NULL), "%s: out of memory", what);
    return;
  }
  int which = 0;
  char why[512];
  if (tg_redaction_key_load(c->key_env, c->key_file, key, &which, why, sizeof why) != TG_OK) {
    const tg_yaml_node *at = c->key_env && c->key_file
                                 ? find(node, "pseudonymize", NULL)
                                 : find(node, "pseudonymize", which ? "key_file" : "key_env");
    tg_diag_add(diag, pos_of(at, node), "%s: pseudonymize: %s", what, why);
  }
  tg_redaction_key_clear(key);
  tg_free(key);

  if (c->hash_function == TG_HASH_HMAC_SHA256 || c->hash_function == TG_HASH_HMAC_SHA512) {
    size_t len = c->hmac_key ? strlen(c->hmac_key) : 0;
    if (len < TG_REDACTION_KEY_MIN)
      tg_diag_add(diag, pos_of(find(node, c->hmac_key ? "hmac_key" : "hash_function", NULL), node),
                  "%s: hash_function %s needs an hmac_key of at least %d bytes (it has %zu)",
                  what, hash_values[c->hash_function], TG_REDACTION_KEY_MIN, len);
  }
}
