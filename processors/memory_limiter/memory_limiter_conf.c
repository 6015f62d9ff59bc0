/* Key table of the memory_limiter processor: the Collector's names. Bounds only stop
 * nonsense (a percentage above 100, an interval of zero). */
#include "memory_limiter.h"

#include "tg_diag.h"

#define C tg_memory_limiter_conf

const tg_conf_key tg_memory_limiter_conf_keys[TG_MEMORY_LIMITER_CONF_N_KEYS] = {
    TG_KEY_DURATION("check_interval", C, check_interval_ms, "0", 0, 3600000,
                    "how often memory is measured (required; the Collector suggests 1s)"),
    TG_KEY_INT("limit_mib", C, limit_mib, "0", 0, 16777216,
               "hard limit of resident memory in MiB (or limit_percentage)"),
    TG_KEY_INT("spike_limit_mib", C, spike_limit_mib, "0", 0, 16777216,
               "headroom below the hard limit where refusing starts; 0 = 20% of limit_mib"),
    TG_KEY_INT("limit_percentage", C, limit_percentage, "0", 0, 100,
               "hard limit as a percentage of the memory available (cgroup or machine)"),
    TG_KEY_INT("spike_limit_percentage", C, spike_limit_percentage, "0", 0, 100,
               "headroom as a percentage of the available memory; 0 = 20% of the limit"),
};

const char *tg_memory_limiter_conf_problem(const tg_memory_limiter_conf *c) {
  if (c->check_interval_ms == 0)
    return "check_interval must be greater than zero";
  if (!c->limit_mib && !c->limit_percentage)
    return "limit_mib or limit_percentage must be set";
  if (c->limit_mib && c->limit_percentage)
    return "set limit_mib or limit_percentage, not both";
  if (c->limit_mib && c->spike_limit_mib >= c->limit_mib)
    return "spike_limit_mib must be smaller than limit_mib";
  if (c->limit_percentage && c->spike_limit_percentage >= c->limit_percentage)
    return "spike_limit_percentage must be smaller than limit_percentage";
  if (c->limit_mib && c->spike_limit_percentage)
    return "spike_limit_percentage goes with limit_percentage, not limit_mib";
  if (c->limit_percentage && c->spike_limit_mib)
    return "spike_limit_mib goes with limit_mib, not limit_percentage";
  return NULL;
}

void tg_memory_limiter_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                                  tg_diag *diag) {
  const char *problem = tg_memory_limiter_conf_problem(conf);
  if (problem)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: %s", what, problem);
}
