/* redaction processor settings: the Collector's redaction processor keys, plus ours
 * (delete_*, pseudonymize.*). */
#ifndef TG_REDACTION_CONF_H
#define TG_REDACTION_CONF_H

#include <stdbool.h>

#include "tg_conf.h"

enum { TG_HASH_NONE, TG_HASH_MD5, TG_HASH_SHA1, TG_HASH_SHA3, TG_HASH_HMAC_SHA256,
       TG_HASH_HMAC_SHA512 };
enum { TG_SUMMARY_SILENT, TG_SUMMARY_INFO, TG_SUMMARY_DEBUG };

typedef struct tg_redaction_conf {
  bool allow_all_keys;
  bool redact_all_types;
  tg_conf_strlist allowed_keys, ignored_keys, blocked_key_patterns, blocked_values,
      allowed_values;
  int hash_function;
  char *hmac_key;
  int summary;
  tg_conf_strlist delete_keys, delete_key_patterns, delete_values;
  tg_conf_strlist pseudo_keys, pseudo_key_patterns;
  char *key_env, *key_file, *key_id;
  int format; /* tg_pseudonym_format */
} tg_redaction_conf;

#define TG_REDACTION_CONF_N_KEYS 19
extern const tg_conf_key tg_redaction_conf_keys[TG_REDACTION_CONF_N_KEYS];

/* Cross-key checks with positions: every pattern compiles, the key sources are readable
 * and long enough, hash_function's hmac_key is long enough, key_id's alphabet. */
void tg_redaction_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                             tg_diag *diag);

#endif
