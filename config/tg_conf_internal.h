/* Internal to config/: the strict parsers with their reason text (NULL = success; *out
 * is written only on success). The reason reads after the quoted value:
 * "\"1e3\" is not an integer". */
#ifndef TG_CONF_INTERNAL_H
#define TG_CONF_INTERNAL_H

#include <stdint.h>

#include "tg_conf.h"

const char *tg_conf_int_detail(const char *s, int64_t *out);
const char *tg_conf_double_detail(const char *s, double *out);
const char *tg_conf_duration_detail(const char *s, uint64_t *out);
const char *tg_conf_size_detail(const char *s, uint64_t *out);
const char *tg_conf_bool_detail(const char *s, _Bool *out);

#endif
