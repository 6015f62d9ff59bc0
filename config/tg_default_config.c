/* The configuration used when tailgate starts without a file. It goes through the same
 * loader as a user's file (substitution, key tables, validation), so the defaults that
 * matter to operators are overridable by environment variables without writing YAML. */
#include "tg_config.h"

const char tg_default_config_yaml[] =
    "receivers:\n"
    "  otlp:\n"
    "    protocols:\n"
    "      grpc:\n"
    "        endpoint: ${env:TAILGATE_OTLP_GRPC_ENDPOINT:-0.0.0.0:4317}\n"
    "      http:\n"
    "        endpoint: ${env:TAILGATE_OTLP_HTTP_ENDPOINT:-0.0.0.0:4318}\n"
    "processors:\n"
    "  batch:\n"
    "exporters:\n"
    "  debug:\n"
    "    verbosity: basic\n"
    "extensions:\n"
    "  health_check:\n"
    "    endpoint: ${env:TAILGATE_HEALTH_ENDPOINT:-0.0.0.0:13133}\n"
    "service:\n"
    "  extensions: [health_check]\n"
    "  telemetry:\n"
    "    logs:\n"
    "      level: ${env:TAILGATE_LOG_LEVEL:-info}\n"
    "    metrics:\n"
    "      address: ${env:TAILGATE_METRICS_ADDRESS:-0.0.0.0:8888}\n"
    "  pipelines:\n"
    "    traces:\n"
    "      receivers: [otlp]\n"
    "      processors: [batch]\n"
    "      exporters: [debug]\n";
