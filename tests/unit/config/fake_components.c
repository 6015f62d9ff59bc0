/* Fake component descriptors with key tables covering every key type. */
#include "fake_components.h"

#include <stdio.h>
#include <string.h>

static const tg_conf_key otlp_keys[] = {
    TG_KEY_PRESENT("protocols.grpc", fake_otlp_conf, grpc, "enable gRPC"),
    TG_KEY_STRING("protocols.grpc.endpoint", fake_otlp_conf, grpc_endpoint, "0.0.0.0:4317",
                  "gRPC listen address"),
    TG_KEY_PRESENT("protocols.http", fake_otlp_conf, http, "enable HTTP"),
    TG_KEY_STRING("protocols.http.endpoint", fake_otlp_conf, http_endpoint, "0.0.0.0:4318",
                  "HTTP listen address"),
};

static const tg_component fake_otlp = {
    .abi = TG_COMPONENT_ABI, .kind = TG_RECEIVER, .type = "otlp",
    .signals = TG_SIGNAL_TRACES | TG_SIGNAL_METRICS, .conf_size = sizeof(fake_otlp_conf),
    .keys = otlp_keys, .n_keys = sizeof otlp_keys / sizeof *otlp_keys,
};

static const tg_conf_key jaeger_keys[] = {
    TG_KEY_PRESENT("protocols.grpc", fake_jaeger_conf, grpc, "api_v2 gRPC"),
    TG_KEY_STRING("protocols.grpc.endpoint", fake_jaeger_conf, endpoints[0], NULL, "listen"),
    TG_KEY_PRESENT("protocols.thrift_http", fake_jaeger_conf, thrift_http, "Thrift HTTP"),
    TG_KEY_STRING("protocols.thrift_http.endpoint", fake_jaeger_conf, endpoints[1], NULL, "listen"),
    TG_KEY_PRESENT("protocols.thrift_compact", fake_jaeger_conf, thrift_compact, "UDP"),
    TG_KEY_STRING("protocols.thrift_compact.endpoint", fake_jaeger_conf, endpoints[2], NULL, "listen"),
    TG_KEY_PRESENT("protocols.thrift_binary", fake_jaeger_conf, thrift_binary, "UDP"),
    TG_KEY_STRING("protocols.thrift_binary.endpoint", fake_jaeger_conf, endpoints[3], NULL, "listen"),
};

static const tg_component fake_jaeger = {
    .abi = TG_COMPONENT_ABI, .kind = TG_RECEIVER, .type = "jaeger",
    .signals = TG_SIGNAL_TRACES, .conf_size = sizeof(fake_jaeger_conf),
    .keys = jaeger_keys, .n_keys = sizeof jaeger_keys / sizeof *jaeger_keys,
};

static const tg_conf_key batch_keys[] = {
    TG_KEY_INT("send_batch_size", fake_batch_conf, send_batch_size, "8192", 1, 1000000,
               "spans per batch"),
    TG_KEY_DURATION("timeout", fake_batch_conf, timeout_ms, "200ms", 1, 60000, "flush after"),
};

static const tg_component fake_batch = {
    .abi = TG_COMPONENT_ABI, .kind = TG_PROCESSOR, .type = "batch",
    .signals = TG_SIGNAL_TRACES | TG_SIGNAL_METRICS, .conf_size = sizeof(fake_batch_conf),
    .keys = batch_keys, .n_keys = sizeof batch_keys / sizeof *batch_keys,
};

static const tg_conf_key limiter_keys[] = {
    TG_KEY_SIZE("limit", fake_limiter_conf, limit, "64MiB", 0, 0, "memory limit"),
    TG_KEY_SIZE("spike", fake_limiter_conf, spike, "16MiB", 0, 0, "spike allowance"),
};

static void limiter_check(const void *conf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag) {
  const fake_limiter_conf *c = conf;
  if (c->spike >= c->limit)
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: spike must be below limit", what);
}

static const tg_component fake_limiter = {
    .abi = TG_COMPONENT_ABI, .kind = TG_PROCESSOR, .type = "limiter",
    .signals = TG_SIGNAL_TRACES, .conf_size = sizeof(fake_limiter_conf),
    .keys = limiter_keys, .n_keys = sizeof limiter_keys / sizeof *limiter_keys,
    .conf_check = limiter_check,
};

static const char *const verbosities[] = {"basic", "normal", "detailed", NULL};

static const tg_conf_key debug_keys[] = {
    TG_KEY_ENUM("verbosity", fake_debug_conf, verbosity, "basic", verbosities, "detail"),
    TG_KEY_STRMAP("headers", fake_debug_conf, headers, "extra headers"),
    TG_KEY_STRLIST("tags", fake_debug_conf, tags, "tags"),
    TG_KEY_BOOL("enabled", fake_debug_conf, enabled, "true", "on/off"),
    TG_KEY_DOUBLE("ratio", fake_debug_conf, ratio, "0.5", 0, 1, "sampling ratio"),
    TG_KEY_SIZE("sending_queue.size", fake_debug_conf, queue_size, "16MiB", 1024, 1 << 30,
                "queue bytes"),
    TG_KEY_STRING("endpoint", fake_debug_conf, endpoint, NULL, "where to"),
};

static const tg_component fake_debug = {
    .abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER, .type = "debug",
    .signals = TG_SIGNAL_TRACES | TG_SIGNAL_METRICS, .conf_size = sizeof(fake_debug_conf),
    .keys = debug_keys, .n_keys = sizeof debug_keys / sizeof *debug_keys,
};

static const tg_component fake_prom = {
    .abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER, .type = "prom",
    .signals = TG_SIGNAL_METRICS,
};

static const tg_component fake_spanmetrics = {
    .abi = TG_COMPONENT_ABI, .kind = TG_CONNECTOR, .type = "spanmetrics",
    .signals = TG_SIGNAL_TRACES, .out_signals = TG_SIGNAL_METRICS,
};

static const tg_conf_key ext_keys[] = {
    TG_KEY_STRING("endpoint", fake_ext_conf, endpoint, "0.0.0.0:13133", "listen address"),
};

static const tg_component fake_health = {
    .abi = TG_COMPONENT_ABI, .kind = TG_EXTENSION, .type = "health_check",
    .conf_size = sizeof(fake_ext_conf), .keys = ext_keys, .n_keys = 1,
};

/* The real redaction processor: the embedded default configures it. */
extern const tg_component tg_processor_redaction;

const tg_component *const fake_registry[] = {
    &fake_otlp, &fake_jaeger, &fake_batch, &fake_limiter, &fake_debug,
    &fake_prom, &fake_spanmetrics, &fake_health, &tg_processor_redaction, NULL,
};

const char *fake_diag_text(const tg_diag *diag) {
  static char buf[65536];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < diag->n && used < sizeof buf; i++) {
    int n = snprintf(buf + used, sizeof buf - used, "%s\n", diag->lines[i]);
    if (n < 0)
      break;
    used += (size_t)n;
  }
  return buf;
}
