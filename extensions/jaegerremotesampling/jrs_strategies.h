/* Jaeger sampling strategies: the model of a strategies file (Jaeger's static strategy
 * store format: default_strategy, service_strategies with operation_strategies; types
 * probabilistic and ratelimiting), resolved into one finished answer per service, each
 * pre-encoded as the JSON the Jaeger clients parse and as an api_v2
 * SamplingStrategyResponse, so a request is a lookup and a copy.
 *
 * Resolution follows Jaeger's static store: a service's own operation strategies are
 * extended by the default strategy's (its own win by name); a probabilistic service
 * without any inherits the default's list with its own rate as the default probability;
 * an unknown service gets the default strategy. Departures (stricter, with positions):
 * unknown keys, a missing type or param, out-of-range values, duplicate services or
 * operations, ratelimiting operation strategies (Jaeger ignores them with a warning) and
 * operation strategies under a ratelimiting strategy (clients would ignore its limit) are
 * errors. With no file, or a file without default_strategy, the default is probabilistic
 * 1.0 (Jaeger's is 0.001): with a tail sampler behind, the head must let everything in. */
#ifndef TG_JRS_STRATEGIES_H
#define TG_JRS_STRATEGIES_H

#include <stddef.h>
#include <stdint.h>

#include "tg_diag.h"

/* Files larger than this are refused (a strategies file is a few KiB). */
#define TG_JRS_MAX_FILE_BYTES (4u * 1024 * 1024)
/* Longest service name a request may ask for, and a file may name. */
#define TG_JRS_MAX_SERVICE_LEN 256

typedef enum tg_jrs_type { TG_JRS_PROBABILISTIC = 0, TG_JRS_RATE_LIMITING = 1 } tg_jrs_type;

typedef struct tg_jrs_operation {
  char *operation;
  double rate;
} tg_jrs_operation;

typedef struct tg_jrs_response {
  tg_jrs_type type;
  double rate;                   /* PROBABILISTIC: samplingRate */
  int32_t max_traces_per_second; /* RATE_LIMITING */
  int per_operation;             /* operationSampling is present */
  double default_probability;    /* operationSampling.defaultSamplingProbability */
  double default_lower_bound;    /* ...defaultLowerBoundTracesPerSecond (always 0 here) */
  tg_jrs_operation *ops;
  size_t n_ops;
  char *json;                    /* encoded answers, owned */
  size_t json_len;
  uint8_t *pb;
  size_t pb_len;
} tg_jrs_response;

typedef struct tg_jrs_service {
  char *name;
  tg_jrs_response resp;
} tg_jrs_service;

typedef struct tg_jrs_strategies {
  tg_jrs_response def;
  tg_jrs_service *services; /* sorted by name (bytewise) */
  size_t n_services;
  uint64_t digest;          /* FNV-1a of the file's bytes (0 for the built-in default) */
  /* Head sampling below 100 % somewhere (a rate < 1 or a rate limit), described for
   * the warning given when a tail sampler runs behind: "" when nothing lowers. */
  char lowers[200];
} tg_jrs_strategies;

/* The built-in strategies: probabilistic 1.0 for every service. NULL on ENOMEM. */
tg_jrs_strategies *tg_jrs_strategies_default(void);

/* Parses a strategies file's text; `file` names it in messages. Every problem goes into
 * diag as "file:line:col: message"; returns NULL when there was any (nothing to free),
 * else strategies the caller frees with tg_jrs_strategies_free. */
tg_jrs_strategies *tg_jrs_strategies_parse(const char *text, size_t len, const char *file,
                                           tg_diag *diag);

/* Reads and parses `path` (at most TG_JRS_MAX_FILE_BYTES); an unreadable file is one
 * diag line "path: cannot read: <reason>". NULL on any problem. */
tg_jrs_strategies *tg_jrs_strategies_load(const char *path, tg_diag *diag);

/* The answer for a service name (not NUL-terminated; len bytes): the service's own, or
 * the default. Never NULL. */
const tg_jrs_response *tg_jrs_strategies_find(const tg_jrs_strategies *s, const char *name,
                                              size_t len);

/* Index of the service in s->services, or -1 when it is not named in the file. */
long tg_jrs_strategies_index(const tg_jrs_strategies *s, const char *name, size_t len);

void tg_jrs_strategies_free(tg_jrs_strategies *s);

/* Encoders (jrs_encode.c), exposed for tests: fill resp->json / resp->pb from the other
 * fields. TG_OK or TG_ENOMEM. */
int tg_jrs_encode_json(tg_jrs_response *resp);
int tg_jrs_encode_pb(tg_jrs_response *resp);

#endif
