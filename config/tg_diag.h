/* Diagnostics: a list of `file:line:col: message` lines. Validation appends every
 * problem it finds instead of stopping at the first, so a user fixes a config in one go. */
#ifndef TG_DIAG_H
#define TG_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "tg_yaml-t.h"

/* At most this many lines are stored; later problems are only counted (`dropped`), so a
 * hostile input cannot make the list grow without bound. */
#define TG_DIAG_MAX_LINES 1000

typedef struct tg_diag {
  char **lines;
  size_t n, cap;
  size_t dropped; /* problems beyond TG_DIAG_MAX_LINES, not stored */
  int oom; /* a message could not be stored: at least one more problem exists */
} tg_diag;

void tg_diag_init(tg_diag *diag);
/* Frees every line; the diag is empty (and reusable) afterwards. */
void tg_diag_free(tg_diag *diag);

/* Appends "file:line:col: message". pos may be NULL (plain "message"); a pos with line 0
 * gives "file: message" (a problem with the whole file, e.g. it cannot be read). */
void tg_diag_add(tg_diag *diag, const tg_yaml_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tg_diag_addv(tg_diag *diag, const tg_yaml_pos *pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Writes every line to out, one per line, then a summary line if some were dropped or
 * could not be stored. */
void tg_diag_print(const tg_diag *diag, FILE *out);

static inline int tg_diag_failed(const tg_diag *diag) {
  return diag->n > 0 || diag->dropped > 0 || diag->oom;
}

/* Number of problems reported so far (stored, dropped or lost to OOM; OOM counts as 1). */
static inline size_t tg_diag_count(const tg_diag *diag) {
  return diag->n + diag->dropped + (diag->oom ? 1u : 0u);
}

#endif
