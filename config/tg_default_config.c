/* The configuration used when tailgate starts without a file. It goes through the same
 * loader as a user's file (substitution, key tables, validation), so the defaults that
 * matter to operators are overridable by environment variables without writing YAML.
 *
 * Where traces go depends on whether TAILGATE_JAEGER_ENDPOINT is set, which `${env:}`
 * substitution cannot express (it fills values, it does not add or drop components).
 * So the text carries one small mechanism of its own: a line ending in `#?VAR` is kept
 * only when VAR is set and not empty, `#?!VAR` only when it is not. The raw text is
 * valid YAML (the markers are comments, the Jaeger lines are commented out with `#+`),
 * and it is the debug variant. tg_default_config_text() applies the markers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_config.h"

const char tg_default_config_yaml[] =
    "receivers:\n"
    "  otlp:\n"
    "    protocols:\n"
    "      grpc:\n"
    "        endpoint: ${env:TAILGATE_OTLP_GRPC_ENDPOINT:-0.0.0.0:4317}\n"
    "      http:\n"
    "        endpoint: ${env:TAILGATE_OTLP_HTTP_ENDPOINT:-0.0.0.0:4318}\n"
    "  jaeger:\n"
    "    protocols:\n"
    "      grpc:\n"
    "        endpoint: ${env:TAILGATE_JAEGER_GRPC_ENDPOINT:-0.0.0.0:14250}\n"
    "      thrift_http:\n"
    "        endpoint: ${env:TAILGATE_JAEGER_THRIFT_HTTP_ENDPOINT:-0.0.0.0:14268}\n"
    "      thrift_compact:\n"
    "        endpoint: ${env:TAILGATE_JAEGER_THRIFT_COMPACT_ENDPOINT:-0.0.0.0:6831}\n"
    "      thrift_binary:\n"
    "        endpoint: ${env:TAILGATE_JAEGER_THRIFT_BINARY_ENDPOINT:-0.0.0.0:6832}\n"
    "  zipkin:\n"
    "    endpoint: ${env:TAILGATE_ZIPKIN_ENDPOINT:-0.0.0.0:9411}\n"
    "processors:\n"
    "  redaction:\n"
    "    allow_all_keys: true\n"
    "    blocked_values:\n"
    "      - '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}'\n"
    "    pseudonymize:\n"
    "      keys: [user_id, user.id, enduser.id, usr.id]\n"
    "      key_env: TAILGATE_PSEUDONYM_KEY\n"
    "  spanmetrics:\n"
    "    metrics_exporter: prometheus\n"
    "    aggregation_cardinality_limit: ${env:TAILGATE_SPANMETRICS_CARDINALITY_LIMIT:-10000}\n"
    "    max_series_per_service: ${env:TAILGATE_SPANMETRICS_SERIES_PER_SERVICE:-1000}\n"
    "    metrics_expiration: ${env:TAILGATE_SPANMETRICS_EXPIRATION:-5m}\n"
    "    exemplars:\n"
    "      enabled: true\n"
    "  tail_sampling:\n"
    "    decision_wait: ${env:TAILGATE_DECISION_WAIT:-10s}\n"
    "    num_traces: 100000\n"
    "    max_memory_mib: ${env:TAILGATE_SAMPLING_MEMORY_MIB:-512}\n"
    "    decision_cache: {sampled_cache_size: 100000, non_sampled_cache_size: 100000}\n"
    "    policies:\n"
    "      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "      - {name: slow, type: latency, latency: {threshold_ms: 1000}}\n"
    "      - name: sample-rest\n"
    "        type: probabilistic\n"
    "        probabilistic:\n"
    "          sampling_percentage: ${env:TAILGATE_SAMPLING_PERCENTAGE:-10}\n"
    "  batch:\n"
    "exporters:\n"
    "  debug:\n"
    "    verbosity: basic\n"
    "  prometheus:\n"
    "    endpoint: ${env:TAILGATE_PROMETHEUS_ENDPOINT:-0.0.0.0:8889}\n"
    "#+  jaeger:                                           #?TAILGATE_JAEGER_ENDPOINT\n"
    "#+    endpoint: ${env:TAILGATE_JAEGER_ENDPOINT}        #?TAILGATE_JAEGER_ENDPOINT\n"
    "#+    tls:                                             #?TAILGATE_JAEGER_ENDPOINT\n"
    "#+      insecure: ${env:TAILGATE_JAEGER_INSECURE:-true} #?TAILGATE_JAEGER_ENDPOINT\n"
    "extensions:\n"
    "  health_check:\n"
    "    endpoint: ${env:TAILGATE_HEALTH_ENDPOINT:-0.0.0.0:13133}\n"
    "  jaegerremotesampling:\n"
    "    http:\n"
    "      endpoint: ${env:TAILGATE_JAEGER_SAMPLING_ENDPOINT:-0.0.0.0:5778}\n"
    "    grpc:\n"
    "      endpoint: ${env:TAILGATE_JAEGER_GRPC_ENDPOINT:-0.0.0.0:14250}\n"
    "service:\n"
    "  extensions: [health_check, jaegerremotesampling]\n"
    "  telemetry:\n"
    "    logs:\n"
    "      level: ${env:TAILGATE_LOG_LEVEL:-info}\n"
    "    metrics:\n"
    "      address: ${env:TAILGATE_METRICS_ADDRESS:-0.0.0.0:8888}\n"
    "  pipelines:\n"
    "    traces:\n"
    "      receivers: [otlp, jaeger, zipkin]\n"
    "      processors: [redaction, spanmetrics, tail_sampling, batch]\n"
    "      exporters: [debug]                                #?!TAILGATE_JAEGER_ENDPOINT\n"
    "#+      exporters: [jaeger]                             #?TAILGATE_JAEGER_ENDPOINT\n"
    "    metrics:\n"
    "      exporters: [prometheus]\n";

static int env_set(const char *name, size_t len) {
  char buf[64];
  if (len >= sizeof buf)
    return 0;
  memcpy(buf, name, len);
  buf[len] = '\0';
  const char *v = getenv(buf);
  return v && *v;
}

char *tg_default_config_text(void) {
  size_t n = sizeof tg_default_config_yaml;
  char *out = tg_malloc(n);
  if (!out)
    return NULL;
  size_t o = 0;
  for (const char *line = tg_default_config_yaml; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
    const char *mark = memmem(line, len, "#?", 2);
    size_t keep = len;
    int wanted = 1;
    if (mark) {
      int neg = mark[2] == '!';
      const char *var = mark + 2 + neg;
      size_t vl = strcspn(var, " \n");
      wanted = env_set(var, vl) != neg;
      keep = (size_t)(mark - line);
      while (keep && line[keep - 1] == ' ')
        keep--;
    }
    if (wanted) {
      const char *from = line;
      if (!strncmp(from, "#+", 2)) { /* the commented-out lines of the other variant */
        from += 2;
        keep -= 2;
      }
      memcpy(out + o, from, keep);
      o += keep;
      if (mark)
        out[o++] = '\n';
    }
    line += len;
  }
  out[o] = '\0';
  return out;
}

void tg_default_config_describe(char *out, size_t size) {
  const char *ep = getenv("TAILGATE_JAEGER_ENDPOINT");
  if (ep && *ep)
    snprintf(out, size, "exporting traces to the Jaeger collector at %s "
             "(TAILGATE_JAEGER_ENDPOINT)", ep);
  else
    snprintf(out, size, "exporting traces to the debug exporter (set "
             "TAILGATE_JAEGER_ENDPOINT to export to a Jaeger collector)");
}
