/* The redaction policy, applied to attribute lists and free text of spans in a batch arena.
 *
 * Per attribute, in order (the Collector's redaction order, with our actions added):
 *  1. ignored_keys: passed through untouched;
 *  2. top level only, allow_all_keys false: a key that is not in allowed_keys, not a
 *     pseudonymised key and not a summary key is deleted;
 *  3. delete_keys / delete_key_patterns: deleted;
 *  4. pseudonymize.keys / key_patterns: every scalar inside the value becomes a pseudonym;
 *  5. allowed_values (string values): kept as is;
 *  6. blocked_key_patterns: every scalar inside the value is masked whole;
 *  7. delete_values: an attribute whose string value matches is deleted;
 *  8. blocked_values: the matching parts of strings are masked ("****", or their hash
 *     under hash_function).
 * Arrays and maps are walked (to a bounded depth; deeper values are masked whole): map
 * entries go through steps 1 and 3-8 with their own keys. Span names, event names and
 * status messages get steps 5 and 8.
 *
 * Memory: nothing is changed in place. A changed attribute gets a new KeyValue/AnyValue,
 * and a list with any change gets a new pointer array, all from the caller's arena; the
 * caller stores the new array in a message it owns (resources and scopes can be shared by
 * the halves of a split batch, so the walk copies them before storing). Scratch text goes
 * through two buffers owned by the redactor and reused: no malloc per value once they
 * have grown to the largest value seen. Not thread-safe: one redactor per instance. */
#ifndef TG_REDACTION_ENGINE_H
#define TG_REDACTION_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "redaction_conf.h"
#include "tg_hmac.h"
#include "tg_pattern.h"
#include "tg_arena.h"
#include "tg_batch.h"
#include "tg_buf.h"
#include "tg_span-t.h"

#define TG_REDACTION_MAX_DEPTH 32

typedef struct tg_keyset {
  const char **keys; /* sorted; point into the conf */
  size_t n;
} tg_keyset;

/* Recent pseudonyms, direct-mapped by a hash of the value: a user seen again (the common
 * case: one user, many spans) costs a memcmp instead of an HMAC. Bounded (slots × 128
 * bytes), values longer than TG_PSEUDO_CACHE_VALUE_MAX bypass it; it holds raw values,
 * so it is wiped on free like the key. */
#define TG_PSEUDO_CACHE_SLOTS 4096
#define TG_PSEUDO_CACHE_VALUE_MAX 64
typedef struct tg_pseudo_slot {
  uint32_t hash;
  uint8_t used, len, plen;
  char value[TG_PSEUDO_CACHE_VALUE_MAX];
  char pseudonym[TG_PSEUDONYM_MAX];
} tg_pseudo_slot;

typedef struct tg_redaction_counts {
  uint64_t pseudonymized, masked, deleted;
} tg_redaction_counts;

/* Categories of the summary attributes (redaction.<cat>.count / .keys). */
enum { TG_CAT_REDACTED, TG_CAT_MASKED, TG_CAT_ALLOWED, TG_CAT_IGNORED, TG_CAT_PSEUDONYMIZED,
       TG_CAT_COUNT_ };

typedef struct tg_redactor {
  bool allow_all_keys, redact_all_types;
  int summary, hash_function;
  tg_pseudonym_format format;
  tg_keyset allowed, ignored, delete_keys, pseudo_keys;
  uint64_t rule_key_lengths; /* bit n: some ignored/delete/pseudonymize key is n bytes long
                                (bit 63: 63 or longer): a cheap "no rule can match" */
  size_t rule_key_len_max;   /* the longest of those keys (0 when there is none) */
  bool keys_always_looked_up; /* allowlist mode or a key pattern: every key is classified */
  bool attrs_by_shape; /* no key always classified, no value allow- or delete-list: most
                          attributes are decided by their bytes (attribute_stays) */
  tg_pattern_list blocked_key_patterns, blocked_values, allowed_values, delete_key_patterns,
      delete_values, pseudo_key_patterns;
  tg_matcher matcher;
  tg_hmac pseudo;      /* the pseudonymisation key */
  tg_pseudo_slot *cache; /* TG_PSEUDO_CACHE_SLOTS; NULL when nothing is pseudonymised */
  tg_hmac hash_hmac;   /* hash_function hmac-sha256 */
  char key_id[TG_PSEUDONYM_KEY_ID_MAX + 1];
  EVP_MD *md;          /* hash_function md5, sha1, sha3 */
  EVP_MD_CTX *md_ctx;
  EVP_MAC_CTX *mac512; /* hash_function hmac-sha512 (keyed once) */
  tg_buf out, text;    /* scratch: the string being built; a scalar as text */
  tg_buf wire, key;    /* scratch of the wire walk: rewritten segments; a key with its NUL */
  size_t *wire_offsets; /* where each rewritten segment starts in `wire` (grown, kept) */
  size_t cap_wire_offsets;
  const char **cat_keys[TG_CAT_COUNT_]; /* keys per category in the current list (debug) */
  size_t n_cat[TG_CAT_COUNT_], cap_cat[TG_CAT_COUNT_];
  tg_redaction_counts counts; /* running totals; the caller reads and resets */
} tg_redactor;

/* Builds the policy from conf (which must outlive the redactor: key sets point into it)
 * with the pseudonymisation key key[0..key_len). Returns TG_OK, TG_ENOMEM, or TG_ECONFIG
 * with a message in why (a pattern that does not compile; never key material). On error
 * nothing is left allocated. */
int tg_redactor_build(tg_redactor *r, const tg_redaction_conf *conf, const uint8_t *key,
                      size_t key_len, char *why, size_t why_size);
void tg_redactor_free(tg_redactor *r);

/* Applies the policy to the attribute list *attrs[0..*n) (top level of a resource, scope,
 * span, event or link) and adds the summary attributes. When something changed, *attrs
 * and *n are replaced by a new array in arena; the old array is never written. Returns
 * TG_OK or TG_ENOMEM (the list is then left as it was). */
int tg_redactor_attributes(tg_redactor *r, tg_arena *arena, tg_key_value ***attrs, size_t *n);

/* Masks blocked_values inside free text (*text may be NULL); replaces *text with an arena
 * copy when it changed. TG_OK or TG_ENOMEM. */
int tg_redactor_text(tg_redactor *r, tg_arena *arena, char **text);

/* Applies the policy to every resource, scope, span, event and link of an (already
 * materialised) export request, allocating from arena. TG_OK or TG_ENOMEM. */
int tg_redactor_request(tg_redactor *r, tg_arena *arena, tg_export_request *req);

/* Applies the policy to a whole batch. Wire segments are redacted in their wire form
 * when the policy allows it (every policy but summaries, which insert attributes), so
 * a batch that arrived undecoded leaves undecoded; otherwise, or when a segment holds
 * something the wire walk does not handle, the batch is materialised and the tree is
 * redacted. The result is the same either way (tests/fuzz/redaction checks it). The
 * caller must be the batch's sole holder. TG_OK, TG_ENOMEM or a materialise error. */
int tg_redactor_batch(tg_redactor *r, tg_batch *batch);

/* The wire walk alone, on one ResourceSpans body: the rewritten body is appended to
 * out; *changed says whether anything differs. TG_OK, TG_ENOMEM, or TG_EAGAIN when the
 * tree walk is needed (summary attributes, groups, a merged singular field, a wire
 * type protobuf-c would reject). Counts go to r->counts. */
int tg_redactor_wire_segment(tg_redactor *r, const uint8_t *in, size_t len, tg_buf *out,
                             int *changed);

/* 1 when the wire walk is certain to leave the ResourceSpans body in[0..len) unchanged
 * (TG_OK, nothing changed, no fallback), proved with a cheaper look than the walk's; 0
 * when only the walk can tell. Reads r, changes nothing (redaction_stays.c). */
int tg_redactor_wire_segment_stays(const tg_redactor *r, const uint8_t *in, size_t len);

#endif
