/* Shared between the two walks of the redaction policy: the decoded tree
 * (redaction_engine.c) and the wire form (redaction_wire.c). They must decide
 * identically, so both call these. Internal to processors/redaction. */
#ifndef TG_REDACTION_INTERNAL_H
#define TG_REDACTION_INTERNAL_H

#include "redaction_engine.h"

#define TG_REDACTION_MASK "****"

typedef enum { M_PATTERNS, M_PSEUDO, M_MASK } mode;

/* Results of a walk step. */
enum { UNCHANGED = 0, CHANGED = 1, DELETE = 2, ALLOWED = 3 };

/* Which rule a key falls under (steps 1, 3, 4, 6 of redaction_engine.h). */
typedef enum { K_VALUE, K_IGNORE, K_DELETE, K_PSEUDO, K_MASK } key_rule;

/* key is NUL-terminated and len bytes long. */
key_rule tg_redaction_classify(tg_redactor *r, const char *key, size_t len);
int tg_redaction_keyset_has(const tg_keyset *set, const char *key);
int tg_redaction_is_summary_key(const char *key);
/* The pseudonym of s[0..len) into out (TG_PSEUDONYM_MAX bytes), through the cache;
 * returns its length. */
size_t tg_redaction_pseudonym(tg_redactor *r, const char *s, size_t len, char *out);

/* Appends the mask of s[0..len) to r->out ("****" or its hash). TG_OK or TG_ENOMEM. */
int tg_redaction_append_mask(tg_redactor *r, const char *s, size_t len);
/* blocked_values over s[0..len): CHANGED (result in r->out), UNCHANGED, or -1. */
int tg_redaction_substitute(tg_redactor *r, const char *s, size_t len);

#endif
