/* Diagnostics: a list of `file:line:col: message` lines. Validation appends every
 * problem it finds instead of stopping at the first, so a user fixes a config in one go. */
#ifndef TG_DIAG_H
#define TG_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "tg_yaml-t.h"

typedef struct tg_diag {
  char **lines;
  size_t n, cap;
  int oom; /* a message could not be stored: at least one more problem exists */
} tg_diag;

void tg_diag_init(tg_diag *diag);
void tg_diag_free(tg_diag *diag);

/* Appends "file:line:col: message" (pos may be NULL for problems without a place). */
void tg_diag_add(tg_diag *diag, const tg_yaml_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes every line to out, one per line. */
void tg_diag_print(const tg_diag *diag, FILE *out);

static inline int tg_diag_failed(const tg_diag *diag) { return diag->n > 0 || diag->oom; }

#endif
