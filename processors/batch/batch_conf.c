/* Key table of the batch processor: names, defaults and bounds as the Collector's. */
#include "batch_conf.h"

const tg_conf_key tg_batch_conf_keys[TG_BATCH_CONF_N_KEYS] = {
    TG_KEY_INT("send_batch_size", tg_batch_conf, send_batch_size, "8192", 0, 10000000,
               "spans that trigger a flush (0: flush on timeout only)"),
    TG_KEY_DURATION("timeout", tg_batch_conf, timeout_ms, "200ms", 1, 3600000,
                    "longest time spans wait before a flush"),
    TG_KEY_INT("send_batch_max_size", tg_batch_conf, send_batch_max_size, "0", 0, 10000000,
               "largest batch emitted; bigger ones are split (0: no bound)"),
};

void tg_batch_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                         tg_diag *diag) {
  const tg_batch_conf *c = conf;
  if (c->send_batch_max_size && c->send_batch_max_size < c->send_batch_size)
    tg_diag_add(diag, node ? &node->pos : NULL,
                "%s: send_batch_max_size (%lld) must be 0 or at least send_batch_size (%lld)",
                what, (long long)c->send_batch_max_size, (long long)c->send_batch_size);
}
