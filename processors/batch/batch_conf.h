/* batch processor settings (the Collector's keys). */
#ifndef TG_BATCH_CONF_H
#define TG_BATCH_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "tg_conf.h"

typedef struct tg_batch_conf {
  int64_t send_batch_size;     /* flush once this many spans are pending; 0 = timeout only */
  uint64_t timeout_ms;         /* flush pending spans at most this long after the first */
  int64_t send_batch_max_size; /* upper bound of one emitted batch; 0 = no bound */
} tg_batch_conf;

#define TG_BATCH_CONF_N_KEYS 3
extern const tg_conf_key tg_batch_conf_keys[TG_BATCH_CONF_N_KEYS];
void tg_batch_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                         tg_diag *diag);

#endif
