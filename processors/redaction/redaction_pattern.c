/* PCRE2 pattern lists: compile once, match with caller-owned match data.
 * Backtracking is bounded (match and depth limits) because a pattern is trusted but the
 * value is not: a value crafted against a slow pattern must not stall the loop thread. */
#include "redaction_pattern.h"

#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"

#define MATCH_LIMIT 200000u
#define DEPTH_LIMIT 2000u

int tg_pattern_list_compile(const tg_conf_strlist *src, tg_pattern_list *out, size_t *bad,
                            char *why, size_t why_size) {
  memset(out, 0, sizeof *out);
  if (!src || src->n == 0)
    return TG_OK;
  if (!(out->codes = tg_calloc(src->n, sizeof *out->codes)) ||
      !(out->required = tg_calloc(src->n, sizeof *out->required))) {
    tg_pattern_list_free(out);
    return TG_ENOMEM;
  }
  for (size_t i = 0; i < src->n; i++) {
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)src->items[i], PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff,
                                     NULL);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(errcode, msg, sizeof msg);
      snprintf(why, why_size, "pattern \"%.200s\" does not compile: %s (at offset %zu)",
               src->items[i], (const char *)msg, (size_t)erroff);
      *bad = i;
      tg_pattern_list_free(out);
      return TG_ECONFIG;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* optional: interpreted when it fails */
    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    if (captures > out->max_captures)
      out->max_captures = captures;
    /* PCRE2 knows the last literal unit every match needs ('@' of an e-mail pattern).
     * Letters are left out: under (?i) either case would do. */
    uint32_t type = 0, unit = 0;
    out->required[out->n] = -1;
    if (pcre2_pattern_info(code, PCRE2_INFO_LASTCODETYPE, &type) == 0 && type == 1 &&
        pcre2_pattern_info(code, PCRE2_INFO_LASTCODEUNIT, &unit) == 0 && unit < 128 &&
        !((unit | 32) >= 'a' && (unit | 32) <= 'z'))
      out->required[out->n] = (int)unit;
    out->codes[out->n++] = code;
  }
  return TG_OK;
}

void tg_pattern_list_free(tg_pattern_list *list) {
  for (size_t i = 0; i < list->n; i++)
    pcre2_code_free(list->codes[i]);
  tg_free(list->codes);
  tg_free(list->required);
  memset(list, 0, sizeof *list);
}

int tg_matcher_init(tg_matcher *m, unsigned max_captures) {
  m->md = pcre2_match_data_create(max_captures + 1, NULL);
  m->mctx = pcre2_match_context_create(NULL);
  if (!m->md || !m->mctx) {
    tg_matcher_free(m);
    return TG_ENOMEM;
  }
  pcre2_set_match_limit(m->mctx, MATCH_LIMIT);
  pcre2_set_depth_limit(m->mctx, DEPTH_LIMIT);
  return TG_OK;
}

void tg_matcher_free(tg_matcher *m) {
  pcre2_match_data_free(m->md);
  pcre2_match_context_free(m->mctx);
  m->md = NULL;
  m->mctx = NULL;
}

int tg_pattern_find(const pcre2_code *code, tg_matcher *m, const char *s, size_t len,
                    size_t start, size_t *ms, size_t *me) {
  int rc = pcre2_match(code, (PCRE2_SPTR)(s ? s : ""), len, start, 0, m->md, m->mctx);
  if (rc == PCRE2_ERROR_NOMATCH)
    return 0;
  if (rc < 0)
    return -1;
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
  *ms = ov[0];
  *me = ov[1];
  if (*me < *ms) /* \K lookbehind tricks: treat as an empty match at ms */
    *me = *ms;
  return 1;
}

int tg_pattern_any(const tg_pattern_list *list, tg_matcher *m, const char *s, size_t len) {
  size_t ms, me;
  for (size_t i = 0; i < list->n; i++)
    if (tg_pattern_may_match(list, i, s, len) &&
        tg_pattern_find(list->codes[i], m, s, len, 0, &ms, &me) != 0)
      return 1;
  return 0;
}
