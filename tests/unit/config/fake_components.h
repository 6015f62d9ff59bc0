/* Small fake components for config tests: a registry that does not depend on the real
 * receivers/processors/exporters (written elsewhere, concurrently). */
#ifndef FAKE_COMPONENTS_H
#define FAKE_COMPONENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_component.h"
#include "tg_diag.h"

typedef struct fake_otlp_conf {
  bool grpc, http;
  char *grpc_endpoint, *http_endpoint;
} fake_otlp_conf;

typedef struct fake_jaeger_conf {
  bool grpc, thrift_http, thrift_compact, thrift_binary;
  char *endpoints[4];
} fake_jaeger_conf;

typedef struct fake_batch_conf {
  int64_t send_batch_size;
  uint64_t timeout_ms;
} fake_batch_conf;

typedef struct fake_limiter_conf {
  uint64_t limit, spike;
} fake_limiter_conf;

typedef struct fake_debug_conf {
  int verbosity;
  tg_conf_strmap headers;
  tg_conf_strlist tags;
  bool enabled;
  double ratio;
  uint64_t queue_size;
  char *endpoint;
} fake_debug_conf;

typedef struct fake_ext_conf {
  char *endpoint;
} fake_ext_conf;

/* receivers: otlp (traces+metrics), jaeger (traces); processors: batch (both), limiter
 * (traces, with a conf_check); exporters: debug (both), prom (metrics); connectors:
 * spanmetrics (traces -> metrics); extensions: health_check. NULL-terminated. */
extern const tg_component *const fake_registry[];

/* All diag lines joined with '\n' (static buffer; for assertions). */
const char *fake_diag_text(const tg_diag *diag);

#endif
