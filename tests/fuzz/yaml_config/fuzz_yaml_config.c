/* libFuzzer target: bytes as YAML configuration text, loaded against a small fake
 * registry covering every key type (so tg_conf_apply and the pipeline checks run too),
 * then everything freed. Allocation failure is injected on some inputs (chosen by the
 * first byte) so OOM paths are exercised as well. Environment references resolve
 * against the process environment; one variable is set so ${env:...} paths succeed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_config_internal.h"

typedef struct fz_recv {
  bool grpc, http;
  char *grpc_endpoint, *http_endpoint;
} fz_recv;

typedef struct fz_proc {
  int64_t n;
  uint64_t timeout, size;
  double ratio;
} fz_proc;

typedef struct fz_exp {
  int verbosity;
  bool enabled;
  tg_conf_strmap headers;
  tg_conf_strlist tags;
} fz_exp;

static const tg_conf_key recv_keys[] = {
    TG_KEY_PRESENT("protocols.grpc", fz_recv, grpc, ""),
    TG_KEY_STRING("protocols.grpc.endpoint", fz_recv, grpc_endpoint, "0.0.0.0:4317", ""),
    TG_KEY_PRESENT("protocols.http", fz_recv, http, ""),
    TG_KEY_STRING("protocols.http.endpoint", fz_recv, http_endpoint, NULL, ""),
};
static const tg_conf_key proc_keys[] = {
    TG_KEY_INT("send_batch_size", fz_proc, n, "8192", 1, 1000000, ""),
    TG_KEY_DURATION("timeout", fz_proc, timeout, "200ms", 0, 0, ""),
    TG_KEY_SIZE("limit", fz_proc, size, "1MiB", 0, 0, ""),
    TG_KEY_DOUBLE("ratio", fz_proc, ratio, "0.5", 0, 1, ""),
};
static const char *const verbosities[] = {"basic", "normal", "detailed", NULL};
static const tg_conf_key exp_keys[] = {
    TG_KEY_ENUM("verbosity", fz_exp, verbosity, "basic", verbosities, ""),
    TG_KEY_BOOL("enabled", fz_exp, enabled, "true", ""),
    TG_KEY_STRMAP("headers", fz_exp, headers, ""),
    TG_KEY_STRLIST("tags", fz_exp, tags, ""),
};

#define KEYS(k) .keys = k, .n_keys = sizeof k / sizeof *k
#define BOTH (TG_SIGNAL_TRACES | TG_SIGNAL_METRICS)
static const tg_component recv = {.abi = TG_COMPONENT_ABI, .kind = TG_RECEIVER, .type = "otlp",
    .signals = BOTH, .conf_size = sizeof(fz_recv), KEYS(recv_keys)};
static const tg_component proc = {.abi = TG_COMPONENT_ABI, .kind = TG_PROCESSOR,
    .type = "batch", .signals = BOTH, .conf_size = sizeof(fz_proc), KEYS(proc_keys)};
static const tg_component exp_ = {.abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER, .type = "debug",
    .signals = TG_SIGNAL_TRACES, .conf_size = sizeof(fz_exp), KEYS(exp_keys)};
static const tg_component mexp = {.abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER, .type = "prom",
    .signals = TG_SIGNAL_METRICS};
static const tg_component conn = {.abi = TG_COMPONENT_ABI, .kind = TG_CONNECTOR,
    .type = "spanmetrics", .signals = TG_SIGNAL_TRACES, .out_signals = TG_SIGNAL_METRICS};
static const tg_component ext = {.abi = TG_COMPONENT_ABI, .kind = TG_EXTENSION,
    .type = "health_check", .conf_size = sizeof(fz_recv), KEYS(recv_keys)};
static const tg_component *const registry[] = {&recv, &proc, &exp_, &mexp, &conn, &ext, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setenv("TG_FUZZ_SET", "value", 0);
  tg_diag diag;
  tg_diag_init(&diag);
  /* Inputs starting with 0x01 run with the Nth allocation failing (N from byte 2 and 3);
   * the YAML text is what follows. */
  if (size >= 3 && data[0] == 0x01) {
    long n = (long)data[1] << 8 | data[2];
    data += 3, size -= 3;
    tg_alloc_fail_after(n, 0);
  }
  tg_config *cfg = tg_config_load_text_with_registry("fuzz.yaml", (const char *)data, size,
                                                     registry, &diag);
  tg_alloc_fail_after(-1, 0);
  if (cfg && tg_diag_failed(&diag))
    abort(); /* a config comes back only without problems */
  tg_config_free(cfg);
  tg_diag_free(&diag);
  return 0;
}
