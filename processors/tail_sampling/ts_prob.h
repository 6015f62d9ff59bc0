/* The consistent-probability arithmetic moved to core (tg_prob.h) so the
 * probabilistic_sampler processor shares it; this name stays for tail sampling's files. */
#ifndef TG_TS_PROB_H
#define TG_TS_PROB_H
#include "tg_prob.h"
#endif
