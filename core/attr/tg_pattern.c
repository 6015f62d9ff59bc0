/* PCRE2 pattern lists: compile once, match with caller-owned match data.
 * Backtracking is bounded (match and depth limits) because a pattern is trusted but the
 * value is not: a value crafted against a slow pattern must not stall the loop thread. */
#include "tg_pattern.h"

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
    out->required[out->n] = tg_pattern_required_byte(src->items[i]);
    if (out->required[out->n] < 0 &&
        pcre2_pattern_info(code, PCRE2_INFO_LASTCODETYPE, &type) == 0 && type == 1 &&
        pcre2_pattern_info(code, PCRE2_INFO_LASTCODEUNIT, &unit) == 0 && unit < 128 &&
        !((unit | 32) >= 'a' && (unit | 32) <= 'z'))
      out->required[out->n] = (int)unit;
    out->codes[out->n++] = code;
  }
  return TG_OK;
}

/* How common a byte is in attribute text: lower is rarer, a better memchr filter. */
static int commonness(int c) {
  return c == '.' || c == '/' || c == ' ' || c == '-' || c == '_' || c == ':' ||
         (c >= '0' && c <= '9');
}

int tg_pattern_required_byte(const char *p) {
  if (strstr(p, "\\Q") || strstr(p, "(*"))
    return -1; /* quoting, verbs: not read here */
  for (const char *q = strstr(p, "(?"); q; q = strstr(q + 2, "(?")) {
    for (const char *o = q + 2;
         (*o >= 'a' && *o <= 'z') || (*o >= 'A' && *o <= 'Z') || *o == '-' || *o == '^'; o++)
      if (*o == 'x')
        return -1; /* extended mode: whitespace and # comments are not literals */
  }
  int best = -1, depth = 0;
  for (size_t i = 0; p[i];) {
    int lit = -1;
    size_t next;
    if (p[i] == '|' && depth == 0)
      return -1; /* top-level alternation: no byte is common to every branch for sure */
    if (p[i] == '(') {
      depth++;
      next = i + 1;
    } else if (p[i] == ')') {
      if (depth-- == 0)
        return -1;
      next = i + 1;
    } else if (p[i] == '[') { /* a class: skip it, including ']' first and escapes */
      size_t j = i + 1;
      if (p[j] == '^')
        j++;
      if (p[j] == ']')
        j++;
      while (p[j] && p[j] != ']') {
        if (p[j] == '[' && p[j + 1] == ':') { /* [:alpha:] */
          const char *e = strstr(p + j + 2, ":]");
          if (!e)
            return -1;
          j = (size_t)(e - p) + 2;
          continue;
        }
        j += p[j] == '\\' && p[j + 1] ? 2 : 1;
      }
      if (!p[j])
        return -1;
      next = j + 1;
    } else if (p[i] == '{') { /* a quantifier's bounds (or a literal '{'): not literals */
      const char *e = strchr(p + i, '}');
      next = e ? (size_t)(e - p) + 1 : strlen(p);
    } else if (p[i] == '\\') {
      if (!p[i + 1])
        return -1;
      unsigned char e = (unsigned char)p[i + 1];
      if (strchr("cxoNpPgku", e) || (e >= '0' && e <= '9'))
        return -1; /* escapes with arguments (\\x{40} is '@'): not read here */
      if (e < 128 && !((e | 32) >= 'a' && (e | 32) <= 'z') && !(e >= '0' && e <= '9'))
        lit = e; /* \. \@ \- ...: an escaped punctuation character is itself */
      next = i + 2;
    } else {
      unsigned char c = (unsigned char)p[i];
      if (c < 128 && c > ' ' && !((c | 32) >= 'a' && (c | 32) <= 'z') &&
          !strchr("^$.*+?{}", c))
        lit = c;
      next = i + 1;
    }
    /* a quantifier that allows zero makes the item optional */
    int optional = p[next] == '?' || p[next] == '*' ||
                   (p[next] == '{' && (p[next + 1] == '0' || p[next + 1] == ','));
    if (lit >= 0 && depth == 0 && !optional &&
        (best < 0 || (commonness(best) && !commonness(lit))))
      best = lit;
    i = next;
  }
  return depth == 0 ? best : -1;
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
