/* Regular expressions for redaction (PCRE2), compiled once at setup and JIT-compiled
 * when the platform allows. Matching takes a per-instance tg_matcher (match data and a
 * match context with backtracking limits), so the hot path never allocates, and a
 * pathological pattern/value pair ends in an error instead of running away: callers treat
 * that error as a match (fail closed). Patterns are UTF-8 and also match values that are
 * not valid UTF-8 (PCRE2_MATCH_INVALID_UTF): attribute bytes come from the network. */
#ifndef TG_PATTERN_H
#define TG_PATTERN_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <string.h>

#include "tg_conf.h"

typedef struct tg_pattern_list {
  pcre2_code **codes;
  int *required; /* per pattern: a byte every match contains (not a letter), or -1 */
  size_t n;
  unsigned max_captures; /* largest capture count of any pattern */
} tg_pattern_list;

typedef struct tg_matcher {
  pcre2_match_data *md;
  pcre2_match_context *mctx;
} tg_matcher;

/* Compiles every pattern of src. On failure returns TG_ECONFIG with *bad = the index of the
 * pattern and a message (PCRE2's, with the offset) in why; nothing is left allocated.
 * TG_ENOMEM when out of memory. */
int tg_pattern_list_compile(const tg_conf_strlist *src, tg_pattern_list *out, size_t *bad,
                            char *why, size_t why_size);
void tg_pattern_list_free(tg_pattern_list *list);

/* A byte that every match of pattern must contain, found by reading the pattern's
 * top-level sequence (sound, not complete): -1 when none is certain. Only ASCII
 * punctuation and digits count (a letter could match in either case), and a pattern with
 * a top-level '|', \Q, or extended mode gives -1. Among several, the least common in
 * text wins ('@' over '.'). */
int tg_pattern_required_byte(const char *pattern);

/* A matcher with room for max_captures groups. TG_OK or TG_ENOMEM. */
int tg_matcher_init(tg_matcher *m, unsigned max_captures);
void tg_matcher_free(tg_matcher *m);

/* 0 when pattern i of list cannot match anywhere in s[0..len) because a byte every match
 * contains is absent (a memchr instead of a pcre2_match call); 1 when it may match. */
static inline int tg_pattern_may_match(const tg_pattern_list *list, size_t i, const char *s,
                                       size_t len) {
  int c = list->required[i];
  return c < 0 || (len && memchr(s, c, len) != NULL);
}

/* Finds the first match of code in s[start..len) (s need not be NUL-terminated). Returns
 * 1 with the match in [*ms, *me), 0 when there is none, -1 on a matching error (limits). */
int tg_pattern_find(const pcre2_code *code, tg_matcher *m, const char *s, size_t len,
                    size_t start, size_t *ms, size_t *me);

/* 1 when any pattern of list matches s (or fails to match within the limits), else 0. */
int tg_pattern_any(const tg_pattern_list *list, tg_matcher *m, const char *s, size_t len);

#endif
