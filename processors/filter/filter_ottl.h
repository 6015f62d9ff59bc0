/* The subset of OTTL (the OpenTelemetry Transformation Language) that the filter processor
 * evaluates: conditions over a span or a span event. Supported: `and`, `or`, `not`,
 * parentheses; comparisons == != < <= > >= between paths, literals (strings, ints,
 * floats, true/false, nil) and enums (SPAN_KIND_*, STATUS_CODE_*); the converter
 * IsMatch(value, "regex"). Anything else OTTL has (math, lists, maps, byte literals, other
 * converters, editors, other paths) is refused at compile time with the offset of the
 * feature and its name, never ignored. */
#ifndef TG_FILTER_OTTL_H
#define TG_FILTER_OTTL_H

#include <stddef.h>

#include "tg_pattern.h"
#include "tg_span-t.h"

/* Which OTTL context a condition is written for: what `name` and `attributes` mean. */
typedef enum tg_ottl_context { TG_OTTL_SPAN, TG_OTTL_SPANEVENT } tg_ottl_context;

/* Longest condition text accepted, and deepest nesting of parentheses and `not`. */
#define TG_OTTL_MAX_LEN 65536
#define TG_OTTL_MAX_DEPTH 64

/* What a condition reads. event is used in TG_OTTL_SPANEVENT only; any may be NULL. */
typedef struct tg_ottl_env {
  const tg_resource *resource;
  const tg_scope *scope;
  const tg_span *span;
  const tg_span_event *event;
} tg_ottl_env;

typedef struct tg_ottl_cond tg_ottl_cond;

/* Compiles text (len bytes, need not be NUL-terminated). TG_OK with *out set (release with
 * tg_ottl_free); TG_ECONFIG with *err_off = byte offset of the problem in text and a
 * message in why; TG_ENOMEM. *max_captures grows to the largest capture count of an
 * IsMatch pattern (for the matcher the caller passes to tg_ottl_eval). */
int tg_ottl_compile(const char *text, size_t len, tg_ottl_context ctx, tg_ottl_cond **out,
                    unsigned *max_captures, size_t *err_off, char *why, size_t why_size);
void tg_ottl_free(tg_ottl_cond *cond);

/* Evaluates cond on env: 1 (true), 0 (false), or -1 on an evaluation error (IsMatch on a
 * map or array value, regex match limits), with the reason in why. Reads only; m is the
 * caller's scratch matcher (tg_matcher_init with the compile's max_captures). */
int tg_ottl_eval(const tg_ottl_cond *cond, const tg_ottl_env *env, tg_matcher *m, char *why,
                 size_t why_size);

#endif
