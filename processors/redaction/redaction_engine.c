/* The redaction policy (order and memory rules in redaction_engine.h).
 *
 * Shape: one recursive walk over AnyValue trees with a mode (PATTERNS: apply the value
 * rules; PSEUDO and MASK: every scalar below is pseudonymised / masked whole, whatever
 * the nested keys), returning whether the subtree changed. Changes are built copy-on-write
 * from the batch arena, so an unchanged subtree is never copied and a shared message is
 * never written. Strings are built in r->out and copied to the arena once complete. */
#include "redaction_engine.h"
#include "redaction_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include "tg_alloc.h"
#include "tg_error.h"

static const char MASK[] = TG_REDACTION_MASK;

/* The summary attributes the processor writes (always allowed, as the Collector's). */
static const char *const summary_keys[] = {
    "redaction.redacted.keys", "redaction.redacted.count", "redaction.masked.keys",
    "redaction.masked.count",  "redaction.allowed.keys",   "redaction.allowed.count",
    "redaction.ignored.count", "redaction.pseudonymized.keys", "redaction.pseudonymized.count",
};
static const char *const cat_names[TG_CAT_COUNT_] = {"redacted", "masked", "allowed", "ignored",
                                                     "pseudonymized"};

/* ---- key sets ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int keyset_build(tg_keyset *set, const tg_conf_strlist *list) {
  set->n = 0;
  set->keys = NULL;
  if (!list->n)
    return TG_OK;
  if (!(set->keys = tg_calloc(list->n, sizeof *set->keys)))
    return TG_ENOMEM;
  for (size_t i = 0; i < list->n; i++)
    set->keys[i] = list->items[i];
  set->n = list->n;
  qsort(set->keys, set->n, sizeof *set->keys, cmp_str);
  return TG_OK;
}

int tg_redaction_keyset_has(const tg_keyset *set, const char *key) {
  size_t lo = 0, hi = set->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(key, set->keys[mid]);
    if (c == 0)
      return 1;
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return 0;
}

int tg_redaction_is_summary_key(const char *key) {
  if (strncmp(key, "redaction.", 10))
    return 0;
  for (size_t i = 0; i < sizeof summary_keys / sizeof *summary_keys; i++)
    if (!strcmp(key, summary_keys[i]))
      return 1;
  return 0;
}

/* ---- build / free ------------------------------------------------------------------ */

static int compile(const tg_conf_strlist *src, tg_pattern_list *out, const char *name, char *why,
                   size_t why_size) {
  size_t bad;
  char msg[400];
  int rc = tg_pattern_list_compile(src, out, &bad, msg, sizeof msg);
  if (rc == TG_ECONFIG)
    snprintf(why, why_size, "%s: item %zu: %s", name, bad + 1, msg);
  return rc;
}

int tg_redactor_build(tg_redactor *r, const tg_redaction_conf *conf, const uint8_t *key,
                      size_t key_len, char *why, size_t why_size) {
  memset(r, 0, sizeof *r);
  why[0] = '\0';
  r->allow_all_keys = conf->allow_all_keys;
  r->redact_all_types = conf->redact_all_types;
  r->summary = conf->summary;
  r->hash_function = conf->hash_function;
  r->format = conf->format == TG_PSEUDONYM_HEX ? TG_PSEUDONYM_HEX : TG_PSEUDONYM_BASE64URL;
  snprintf(r->key_id, sizeof r->key_id, "%s", conf->key_id ? conf->key_id : "k1");
  tg_buf_init(&r->out, 0);
  tg_buf_init(&r->text, 0);
  int rc = TG_OK;
  /* Reserved up front: tg_buf_append of 0 bytes to a never-grown buffer writes its NUL
   * through a NULL data pointer. */
  tg_buf_init(&r->wire, 0);
  tg_buf_init(&r->key, 0);
  if ((rc = tg_buf_reserve(&r->out, 256)) || (rc = tg_buf_reserve(&r->text, 256)) ||
      (rc = tg_buf_reserve(&r->wire, 4096)) || (rc = tg_buf_reserve(&r->key, 256)) ||
      (rc = keyset_build(&r->allowed, &conf->allowed_keys)) ||
      (rc = keyset_build(&r->ignored, &conf->ignored_keys)) ||
      (rc = keyset_build(&r->delete_keys, &conf->delete_keys)) ||
      (rc = keyset_build(&r->pseudo_keys, &conf->pseudo_keys)) ||
      (rc = compile(&conf->blocked_key_patterns, &r->blocked_key_patterns,
                    "blocked_key_patterns", why, why_size)) ||
      (rc = compile(&conf->blocked_values, &r->blocked_values, "blocked_values", why, why_size)) ||
      (rc = compile(&conf->allowed_values, &r->allowed_values, "allowed_values", why, why_size)) ||
      (rc = compile(&conf->delete_key_patterns, &r->delete_key_patterns, "delete_key_patterns",
                    why, why_size)) ||
      (rc = compile(&conf->delete_values, &r->delete_values, "delete_values", why, why_size)) ||
      (rc = compile(&conf->pseudo_key_patterns, &r->pseudo_key_patterns,
                    "pseudonymize.key_patterns", why, why_size)))
    goto fail;
  const tg_keyset *sets[] = {&r->ignored, &r->delete_keys, &r->pseudo_keys};
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < sets[i]->n; k++) {
      size_t len = strlen(sets[i]->keys[k]);
      r->rule_key_lengths |= UINT64_C(1) << (len < 63 ? len : 63);
      if (len > r->rule_key_len_max)
        r->rule_key_len_max = len;
    }
  r->keys_always_looked_up = !r->allow_all_keys || r->delete_key_patterns.n ||
                             r->pseudo_key_patterns.n || r->blocked_key_patterns.n;
  r->attrs_by_shape = !r->keys_always_looked_up && !r->allowed_values.n && !r->delete_values.n;
  unsigned caps = 0;
  const tg_pattern_list *lists[] = {&r->blocked_key_patterns, &r->blocked_values,
                                    &r->allowed_values,       &r->delete_key_patterns,
                                    &r->delete_values,        &r->pseudo_key_patterns};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    if (lists[i]->max_captures > caps)
      caps = lists[i]->max_captures;
  if ((rc = tg_matcher_init(&r->matcher, caps)))
    goto fail;
  tg_hmac_init(&r->pseudo, key, key_len);
  if ((conf->pseudo_keys.n || conf->pseudo_key_patterns.n) &&
      !(r->cache = tg_calloc(TG_PSEUDO_CACHE_SLOTS, sizeof *r->cache))) {
    rc = TG_ENOMEM;
    goto fail;
  }
  const char *hmac_key = conf->hmac_key ? conf->hmac_key : "";
  rc = TG_ENOMEM;
  switch (r->hash_function) {
  case TG_HASH_MD5:
  case TG_HASH_SHA1:
  case TG_HASH_SHA3: {
    const char *name = r->hash_function == TG_HASH_MD5    ? "MD5"
                       : r->hash_function == TG_HASH_SHA1 ? "SHA1"
                                                          : "SHA3-256";
    if (!(r->md = EVP_MD_fetch(NULL, name, NULL)) || !(r->md_ctx = EVP_MD_CTX_new())) {
      snprintf(why, why_size, "hash_function: %s is not available in this OpenSSL", name);
      rc = TG_ECONFIG;
      goto fail;
    }
    break;
  }
  case TG_HASH_HMAC_SHA256:
    tg_hmac_init(&r->hash_hmac, (const uint8_t *)hmac_key, strlen(hmac_key));
    break;
  case TG_HASH_HMAC_SHA512: {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    r->mac512 = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA512", 0),
                           OSSL_PARAM_construct_end()};
    if (!r->mac512 ||
        !EVP_MAC_init(r->mac512, (const unsigned char *)hmac_key, strlen(hmac_key), params)) {
      snprintf(why, why_size, "hash_function: hmac-sha512 is not available in this OpenSSL");
      rc = TG_ECONFIG;
      goto fail;
    }
    break;
  }
  default:
    break;
  }
  return TG_OK;
fail:
  tg_redactor_free(r);
  return rc;
}

void tg_redactor_free(tg_redactor *r) {
  tg_free(r->allowed.keys);
  tg_free(r->ignored.keys);
  tg_free(r->delete_keys.keys);
  tg_free(r->pseudo_keys.keys);
  tg_pattern_list_free(&r->blocked_key_patterns);
  tg_pattern_list_free(&r->blocked_values);
  tg_pattern_list_free(&r->allowed_values);
  tg_pattern_list_free(&r->delete_key_patterns);
  tg_pattern_list_free(&r->delete_values);
  tg_pattern_list_free(&r->pseudo_key_patterns);
  tg_matcher_free(&r->matcher);
  EVP_MD_free(r->md);
  EVP_MD_CTX_free(r->md_ctx);
  EVP_MAC_CTX_free(r->mac512);
  if (r->out.data)
    OPENSSL_cleanse(r->out.data, r->out.cap);
  if (r->text.data)
    OPENSSL_cleanse(r->text.data, r->text.cap);
  if (r->wire.data)
    OPENSSL_cleanse(r->wire.data, r->wire.cap);
  tg_buf_free(&r->out);
  tg_buf_free(&r->text);
  tg_buf_free(&r->wire);
  tg_free(r->wire_offsets);
  tg_buf_free(&r->key);
  for (int c = 0; c < TG_CAT_COUNT_; c++)
    tg_free(r->cat_keys[c]);
  tg_hmac_clear(&r->pseudo);
  if (r->cache) {
    OPENSSL_cleanse(r->cache, TG_PSEUDO_CACHE_SLOTS * sizeof *r->cache);
    tg_free(r->cache);
  }
  tg_hmac_clear(&r->hash_hmac);
  memset(r, 0, sizeof *r);
}

/* ---- value builders ---------------------------------------------------------------- */

static tg_any_value *new_string_value(tg_arena *arena, const char *s, size_t len) {
  tg_any_value *v = tg_arena_alloc(arena, sizeof *v);
  char *copy = tg_arena_strndup(arena, s, len);
  if (!v || !copy)
    return NULL;
  opentelemetry__proto__common__v1__any_value__init(v);
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = copy;
  return v;
}

/* The text of a scalar as the Collector's AsString would give it; bytes are raw. Returns
 * 0 and [*s, *len) (valid until r->text is next used), or -1 for non-scalars. */
static int scalar_text(tg_redactor *r, const tg_any_value *v, const char **s, size_t *len) {
  char num[64];
  int n;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    *s = v->string_value ? v->string_value : "";
    *len = strlen(*s);
    return 0;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    *s = (const char *)v->bytes_value.data;
    *len = v->bytes_value.len;
    return 0;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    n = snprintf(num, sizeof num, "%" PRId64, v->int_value);
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    n = snprintf(num, sizeof num, "%.17g", v->double_value);
    break;
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    n = snprintf(num, sizeof num, "%s", v->bool_value ? "true" : "false");
    break;
  default:
    return -1;
  }
  r->text.len = 0;
  if (tg_buf_append(&r->text, num, (size_t)n) != TG_OK)
    return -1;
  *s = (const char *)r->text.data;
  *len = (size_t)n;
  return 0;
}

/* Appends the replacement of s[0..len): "****" or the hex hash under hash_function. */
int tg_redaction_append_mask(tg_redactor *r, const char *s, size_t len) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned dlen = 0;
  size_t outl = 0;
  switch (r->hash_function) {
  case TG_HASH_NONE:
    return tg_buf_append(&r->out, MASK, sizeof MASK - 1);
  case TG_HASH_HMAC_SHA256:
    tg_hmac_sha256(&r->hash_hmac, s, len, digest);
    dlen = TG_SHA256_LEN;
    break;
  case TG_HASH_HMAC_SHA512:
    if (!EVP_MAC_init(r->mac512, NULL, 0, NULL) ||
        !EVP_MAC_update(r->mac512, (const unsigned char *)s, len) ||
        !EVP_MAC_final(r->mac512, digest, &outl, sizeof digest))
      return tg_buf_append(&r->out, MASK, sizeof MASK - 1); /* fail closed */
    dlen = (unsigned)outl;
    break;
  default:
    if (!EVP_DigestInit_ex2(r->md_ctx, r->md, NULL) || !EVP_DigestUpdate(r->md_ctx, s, len) ||
        !EVP_DigestFinal_ex(r->md_ctx, digest, &dlen))
      return tg_buf_append(&r->out, MASK, sizeof MASK - 1);
  }
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  tg_hex(digest, dlen, hex);
  return tg_buf_append(&r->out, hex, 2 * (size_t)dlen);
}

/* A new string value holding the whole-value mask of s. */
static tg_any_value *masked_whole(tg_redactor *r, tg_arena *arena, const char *s, size_t len) {
  r->out.len = 0;
  if (tg_redaction_append_mask(r, s, len) != TG_OK)
    return NULL;
  return new_string_value(arena, (const char *)r->out.data, r->out.len);
}

size_t tg_redaction_pseudonym(tg_redactor *r, const char *s, size_t len, char *out) {
  if (!r->cache || len > TG_PSEUDO_CACHE_VALUE_MAX)
    return tg_pseudonym(&r->pseudo, r->key_id, r->format, s, len, out);
  uint32_t h = 2166136261u; /* FNV-1a: a colliding value only evicts, it is never wrong */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  tg_pseudo_slot *slot = &r->cache[h & (TG_PSEUDO_CACHE_SLOTS - 1)];
  if (slot->used && slot->hash == h && slot->len == len &&
      (len == 0 || !memcmp(slot->value, s, len))) { /* s may be NULL when len is 0 */
    memcpy(out, slot->pseudonym, (size_t)slot->plen + 1);
    return slot->plen;
  }
  size_t n = tg_pseudonym(&r->pseudo, r->key_id, r->format, s, len, out);
  slot->used = 1;
  slot->hash = h;
  slot->len = (uint8_t)len;
  slot->plen = (uint8_t)n;
  if (len)
    memcpy(slot->value, s, len);
  memcpy(slot->pseudonym, out, n + 1);
  return n;
}

static tg_any_value *pseudonym_value(tg_redactor *r, tg_arena *arena, const char *s, size_t len) {
  char p[TG_PSEUDONYM_MAX];
  size_t n = tg_redaction_pseudonym(r, s, len, p);
  return new_string_value(arena, p, n);
}

/* blocked_values over s[0..len): every non-empty match of every pattern, in order, is
 * replaced. Returns CHANGED with the result in r->out, UNCHANGED, or -1 on ENOMEM. A
 * matching error (backtracking limit) masks the whole rest of the value: fail closed. */
int tg_redaction_substitute(tg_redactor *r, const char *s, size_t len) {
  int changed = 0;
  for (size_t p = 0; p < r->blocked_values.n; p++) {
    const pcre2_code *code = r->blocked_values.codes[p];
    if (!tg_pattern_may_match(&r->blocked_values, p, s, len))
      continue;
    size_t pos = 0, copied = 0, ms, me;
    int found = 0;
    while (pos <= len) {
      int rc = tg_pattern_find(code, &r->matcher, s, len, pos, &ms, &me);
      if (rc == 0)
        break;
      if (rc < 0) {
        ms = pos;
        me = len;
      }
      if (me == ms) { /* empty match: not masked; step one byte */
        pos = ms + 1;
        continue;
      }
      if (!found) {
        found = 1;
        r->out.len = 0;
      }
      if (tg_buf_append(&r->out, s + copied, ms - copied) || tg_redaction_append_mask(r, s + ms, me - ms))
        return -1;
      copied = pos = me;
      if (rc < 0)
        break;
    }
    if (!found)
      continue;
    if (tg_buf_append(&r->out, s + copied, len - copied))
      return -1;
    /* the next pattern runs over the masked text, as the Collector's loop does */
    if (tg_buf_reserve(&r->text, r->out.len + 1))
      return -1;
    memcpy(r->text.data, r->out.data, r->out.len);
    r->text.len = r->out.len;
    s = (const char *)r->text.data;
    len = r->text.len;
    changed = 1;
  }
  if (changed) { /* the result is in r->text; hand it back in r->out */
    r->out.len = 0;
    if (tg_buf_append(&r->out, s, len))
      return -1;
  }
  return changed ? CHANGED : UNCHANGED;
}

/* ---- the walk ---------------------------------------------------------------------- */

static int walk_kv(tg_redactor *r, tg_arena *arena, const tg_key_value *kv, mode m, int depth,
                   tg_key_value **out);

/* A scalar leaf under mode m. */
static int walk_scalar(tg_redactor *r, tg_arena *arena, const tg_any_value *v, mode m,
                       tg_any_value **out) {
  const char *s;
  size_t len;
  if (m == M_PATTERNS) { /* the common case: decide before formatting anything */
    int is_string =
        v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE ||
        (!is_string && !r->redact_all_types) ||
        (!r->allowed_values.n && !r->delete_values.n && !r->blocked_values.n))
      return UNCHANGED;
  }
  if (scalar_text(r, v, &s, &len) != 0)
    return UNCHANGED;
  if (m == M_PSEUDO)
    return (*out = pseudonym_value(r, arena, s, len)) ? CHANGED : -1;
  if (m == M_MASK)
    return (*out = masked_whole(r, arena, s, len)) ? CHANGED : -1;
  if (r->allowed_values.n && tg_pattern_any(&r->allowed_values, &r->matcher, s, len))
    return ALLOWED;
  if (r->delete_values.n && tg_pattern_any(&r->delete_values, &r->matcher, s, len))
    return DELETE;
  int rc = tg_redaction_substitute(r, s, len);
  if (rc != CHANGED)
    return rc;
  return (*out = new_string_value(arena, (const char *)r->out.data, r->out.len)) ? CHANGED : -1;
}

static int walk_value(tg_redactor *r, tg_arena *arena, const tg_any_value *v, mode m, int depth,
                      tg_any_value **out) {
  if (!v)
    return UNCHANGED;
  if (depth > TG_REDACTION_MAX_DEPTH) /* fail closed: too deep to inspect */
    return (*out = new_string_value(arena, MASK, sizeof MASK - 1)) ? CHANGED : -1;
  if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE) {
    const tg_array_value *a = v->array_value;
    if (!a)
      return UNCHANGED;
    tg_any_value **items = NULL;
    for (size_t i = 0; i < a->n_values; i++) {
      tg_any_value *nv = NULL;
      int rc = walk_value(r, arena, a->values[i], m, depth + 1, &nv);
      if (rc < 0)
        return rc;
      if (rc == DELETE) /* an element cannot be deleted without shifting meaning: mask it */
        rc = (nv = new_string_value(arena, MASK, sizeof MASK - 1)) ? CHANGED : -1;
      if (rc < 0)
        return rc;
      if (rc != CHANGED)
        continue;
      if (!items) {
        if (!(items = tg_arena_alloc(arena, a->n_values * sizeof *items)))
          return -1;
        memcpy(items, a->values, a->n_values * sizeof *items);
      }
      items[i] = nv;
    }
    if (!items)
      return UNCHANGED;
    tg_array_value *na = tg_arena_memdup(arena, a, sizeof *a);
    tg_any_value *nv = tg_arena_memdup(arena, v, sizeof *v);
    if (!na || !nv)
      return -1;
    na->values = items;
    nv->array_value = na;
    *out = nv;
    return CHANGED;
  }
  if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE) {
    const tg_kvlist_value *l = v->kvlist_value;
    if (!l)
      return UNCHANGED;
    tg_key_value **items = NULL;
    size_t n = 0;
    for (size_t i = 0; i < l->n_values; i++) {
      tg_key_value *nkv = NULL;
      int rc = walk_kv(r, arena, l->values[i], m, depth + 1, &nkv);
      if (rc < 0)
        return rc;
      if ((rc == CHANGED || rc == DELETE) && !items) {
        if (!(items = tg_arena_alloc(arena, (l->n_values ? l->n_values : 1) * sizeof *items)))
          return -1;
        memcpy(items, l->values, i * sizeof *items);
        n = i;
      }
      if (items && rc != DELETE)
        items[n++] = rc == CHANGED ? nkv : l->values[i];
    }
    if (!items)
      return UNCHANGED;
    tg_kvlist_value *nl = tg_arena_memdup(arena, l, sizeof *l);
    tg_any_value *nv = tg_arena_memdup(arena, v, sizeof *v);
    if (!nl || !nv)
      return -1;
    nl->values = items;
    nl->n_values = n;
    nv->kvlist_value = nl;
    *out = nv;
    return CHANGED;
  }
  return walk_scalar(r, arena, v, m, out);
}

key_rule tg_redaction_classify(tg_redactor *r, const char *key, size_t len) {
  /* most keys have a length no exact rule has, and most policies no key pattern */
  if (!(r->rule_key_lengths & (UINT64_C(1) << (len < 63 ? len : 63))) &&
      !r->delete_key_patterns.n && !r->pseudo_key_patterns.n && !r->blocked_key_patterns.n)
    return K_VALUE;
  if (tg_redaction_keyset_has(&r->ignored, key))
    return K_IGNORE;
  if (tg_redaction_keyset_has(&r->delete_keys, key) ||
      (r->delete_key_patterns.n && tg_pattern_any(&r->delete_key_patterns, &r->matcher, key, len)))
    return K_DELETE;
  if (tg_redaction_keyset_has(&r->pseudo_keys, key) ||
      (r->pseudo_key_patterns.n && tg_pattern_any(&r->pseudo_key_patterns, &r->matcher, key, len)))
    return K_PSEUDO;
  if (r->blocked_key_patterns.n &&
      tg_pattern_any(&r->blocked_key_patterns, &r->matcher, key, len))
    return K_MASK;
  return K_VALUE;
}

static int replace_value(tg_arena *arena, const tg_key_value *kv, tg_any_value *nv,
                         tg_key_value **out) {
  tg_key_value *nkv = tg_arena_memdup(arena, kv, sizeof *kv);
  if (!nkv)
    return -1;
  nkv->value = nv;
  *out = nkv;
  return CHANGED;
}

/* A map entry below the top level. Under PSEUDO and MASK the parent decided already. */
static int walk_kv(tg_redactor *r, tg_arena *arena, const tg_key_value *kv, mode m, int depth,
                   tg_key_value **out) {
  if (!kv)
    return UNCHANGED;
  if (m == M_PATTERNS) {
    switch (tg_redaction_classify(r, kv->key ? kv->key : "", kv->key ? strlen(kv->key) : 0)) {
    case K_IGNORE: return UNCHANGED;
    case K_DELETE: return DELETE;
    case K_PSEUDO: m = M_PSEUDO; break;
    case K_MASK: m = M_MASK; break;
    case K_VALUE: break;
    }
  }
  tg_any_value *nv = NULL;
  int rc = walk_value(r, arena, kv->value, m, depth, &nv);
  if (rc == CHANGED)
    return replace_value(arena, kv, nv, out);
  return rc == ALLOWED ? UNCHANGED : rc;
}

/* ---- summary ----------------------------------------------------------------------- */

static int note_key(tg_redactor *r, int cat, const char *key) {
  if (r->n_cat[cat] == r->cap_cat[cat]) {
    size_t cap = r->cap_cat[cat] ? 2 * r->cap_cat[cat] : 16;
    const char **k = tg_realloc(r->cat_keys[cat], cap * sizeof *k);
    if (!k)
      return -1;
    r->cat_keys[cat] = k;
    r->cap_cat[cat] = cap;
  }
  r->cat_keys[cat][r->n_cat[cat]++] = key;
  return 0;
}

static int find_attr(tg_key_value **attrs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (attrs[i] && attrs[i]->key && !strcmp(attrs[i]->key, key))
      return (int)i;
  return -1;
}

static int put_attr(tg_arena *arena, tg_key_value **attrs, size_t *n, const char *key,
                    tg_any_value *v) {
  int at = find_attr(attrs, *n, key);
  tg_key_value *kv = tg_arena_alloc(arena, sizeof *kv);
  char *k = tg_arena_strndup(arena, key, strlen(key));
  if (!kv || !k)
    return -1;
  opentelemetry__proto__common__v1__key_value__init(kv);
  kv->key = k;
  kv->value = v;
  if (at >= 0)
    attrs[at] = kv;
  else
    attrs[(*n)++] = kv;
  return 0;
}

/* Adds redaction.<cat>.count (info, debug) and redaction.<cat>.keys (debug), merging with
 * values a previous redaction processor left, as the Collector does. */
static int add_summary(tg_redactor *r, tg_arena *arena, tg_key_value **attrs, size_t *n) {
  for (int c = 0; c < TG_CAT_COUNT_; c++) {
    if (!r->n_cat[c])
      continue;
    char key[64];
    int64_t count = (int64_t)r->n_cat[c];
    snprintf(key, sizeof key, "redaction.%s.count", cat_names[c]);
    int at = find_attr(attrs, *n, key);
    if (at >= 0 && attrs[at]->value &&
        attrs[at]->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
      count += attrs[at]->value->int_value;
    tg_any_value *cv = tg_arena_alloc(arena, sizeof *cv);
    if (!cv)
      return -1;
    opentelemetry__proto__common__v1__any_value__init(cv);
    cv->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    cv->int_value = count;
    if (put_attr(arena, attrs, n, key, cv))
      return -1;
    if (r->summary != TG_SUMMARY_DEBUG || c == TG_CAT_IGNORED)
      continue;
    snprintf(key, sizeof key, "redaction.%s.keys", cat_names[c]);
    at = find_attr(attrs, *n, key);
    r->out.len = 0;
    if (at >= 0 && attrs[at]->value && attrs[at]->value->value_case ==
                                           OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
      /* earlier keys: split on ',' into the list, so the merged list is sorted */
      const char *prev = attrs[at]->value->string_value;
      while (prev && *prev) {
        size_t l = strcspn(prev, ",");
        char *copy = tg_arena_strndup(arena, prev, l);
        if (!copy || note_key(r, c, copy))
          return -1;
        prev += l + (prev[l] == ',');
      }
    }
    qsort(r->cat_keys[c], r->n_cat[c], sizeof *r->cat_keys[c], cmp_str);
    for (size_t i = 0; i < r->n_cat[c]; i++)
      if ((i && tg_buf_append(&r->out, ",", 1)) ||
          tg_buf_append_str(&r->out, r->cat_keys[c][i]))
        return -1;
    tg_any_value *kv = new_string_value(arena, (const char *)r->out.data, r->out.len);
    if (!kv || put_attr(arena, attrs, n, key, kv))
      return -1;
  }
  return 0;
}

/* ---- top level --------------------------------------------------------------------- */

int tg_redactor_attributes(tg_redactor *r, tg_arena *arena, tg_key_value ***attrsp, size_t *np) {
  tg_key_value **attrs = *attrsp;
  size_t n_in = *np, n = 0;
  tg_key_value **out = NULL;
  tg_redaction_counts before = r->counts;
  for (int c = 0; c < TG_CAT_COUNT_; c++)
    r->n_cat[c] = 0;
  const size_t extra = r->summary != TG_SUMMARY_SILENT ? 2 * TG_CAT_COUNT_ : 0;
  for (size_t i = 0; i < n_in; i++) {
    const tg_key_value *kv = attrs[i];
    const char *key = kv && kv->key ? kv->key : "";
    tg_key_value *nkv = NULL;
    int rc, cat = -1;
    key_rule rule = tg_redaction_classify(r, key, strlen(key));
    if (rule == K_IGNORE) {
      rc = UNCHANGED;
      cat = TG_CAT_IGNORED;
    } else if (rule == K_DELETE ||
               (!r->allow_all_keys && rule != K_PSEUDO && !tg_redaction_keyset_has(&r->allowed, key) &&
                !tg_redaction_is_summary_key(key))) {
      rc = DELETE;
    } else {
      tg_any_value *nv = NULL;
      mode m = rule == K_PSEUDO ? M_PSEUDO : rule == K_MASK ? M_MASK : M_PATTERNS;
      /* allowed_values outranks a blocked key (step 5 before 6) */
      if (m == M_MASK && r->allowed_values.n && kv && kv->value &&
          kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
          kv->value->string_value &&
          tg_pattern_any(&r->allowed_values, &r->matcher, kv->value->string_value,
                         strlen(kv->value->string_value)))
        rc = ALLOWED;
      else
        rc = kv ? walk_value(r, arena, kv->value, m, 1, &nv) : UNCHANGED;
      if (rc == CHANGED) {
        rc = replace_value(arena, kv, nv, &nkv);
        cat = m == M_PSEUDO ? TG_CAT_PSEUDONYMIZED : TG_CAT_MASKED;
      } else if (rc == ALLOWED) {
        rc = UNCHANGED;
        cat = TG_CAT_ALLOWED;
      }
    }
    if (rc < 0)
      return TG_ENOMEM;
    if (rc == DELETE)
      cat = TG_CAT_REDACTED;
    if (cat >= 0 && note_key(r, cat, key))
      return TG_ENOMEM;
    if ((rc == CHANGED || rc == DELETE) && !out) {
      if (!(out = tg_arena_alloc(arena, (n_in + extra + 1) * sizeof *out)))
        return TG_ENOMEM;
      memcpy(out, attrs, i * sizeof *out);
      n = i;
    }
    if (out && rc != DELETE)
      out[n++] = rc == CHANGED ? nkv : attrs[i];
  }
  r->counts.pseudonymized += r->n_cat[TG_CAT_PSEUDONYMIZED];
  r->counts.masked += r->n_cat[TG_CAT_MASKED];
  r->counts.deleted += r->n_cat[TG_CAT_REDACTED];
  int any = 0;
  for (int c = 0; c < TG_CAT_COUNT_; c++)
    any |= r->n_cat[c] != 0;
  if (extra && any) {
    if (!out) {
      if (!(out = tg_arena_alloc(arena, (n_in + extra + 1) * sizeof *out)))
        return TG_ENOMEM;
      memcpy(out, attrs, n_in * sizeof *out);
      n = n_in;
    }
    if (add_summary(r, arena, out, &n)) {
      r->counts = before;
      return TG_ENOMEM;
    }
  }
  if (out) {
    *attrsp = out;
    *np = n;
  }
  return TG_OK;
}

int tg_redactor_text(tg_redactor *r, tg_arena *arena, char **text) {
  if (!*text || !**text || !r->blocked_values.n)
    return TG_OK;
  size_t len = strlen(*text);
  if (r->allowed_values.n && tg_pattern_any(&r->allowed_values, &r->matcher, *text, len))
    return TG_OK;
  int rc = tg_redaction_substitute(r, *text, len);
  if (rc < 0)
    return TG_ENOMEM;
  if (rc == CHANGED) {
    char *copy = tg_arena_strndup(arena, (const char *)r->out.data, r->out.len);
    if (!copy)
      return TG_ENOMEM;
    *text = copy;
    r->counts.masked++;
  }
  return TG_OK;
}
