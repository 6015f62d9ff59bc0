/* Environment references in scalar values (internal to config/). */
#ifndef TG_ENV_H
#define TG_ENV_H

#include <stddef.h>

#include "tg_diag.h"
#include "tg_yaml-t.h"

/* Expands the references in text[0..len):
 *   ${env:VAR}            the variable's value (set-but-empty gives "")
 *   ${env:VAR:-default}   the default when VAR is unset
 *   ${VAR}, ${VAR:-d}     the same (older Collector form)
 *   $$                    a literal "$"
 * Any other "$" is kept as is. Rejected (reported at pos, every problem in the text):
 * an unset variable without default, an invalid name, a scheme other than env
 * (${file:...}), an unterminated "${", a "${" inside a default.
 * Returns 0 and *out = a new NUL-terminated string (tg_malloc, caller frees), or -1 with
 * *out = NULL after reporting into diag. */
int tg_env_expand(const char *text, size_t len, const tg_yaml_pos *pos, tg_diag *diag,
                  char **out);

#endif
