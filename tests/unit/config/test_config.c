/* Whole configurations against the fake registry: sections, ids, pipelines, connectors,
 * signals, telemetry, the embedded default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_components.h"
#include "tg_alloc.h"
#include "tg_config_internal.h"
#include "tg_log.h"

static tg_config *load(const char *text, tg_diag *d) {
  tg_diag_init(d);
  return tg_config_load_text_with_registry("c.yaml", text, strlen(text), fake_registry, d);
}

/* Loads text expecting failure with exactly `expected` as diag text. */
static void expect_errors(const char *text, const char *expected) {
  tg_diag d;
  tg_config *cfg = load(text, &d);
  assert_null(cfg);
  assert_string_equal(fake_diag_text(&d), expected);
  tg_diag_free(&d);
}

#define PIPE "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"

static void test_minimal(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load("receivers:\n  otlp:\nexporters:\n  debug:\n" PIPE, &d);
  assert_string_equal(fake_diag_text(&d), "");
  assert_non_null(cfg);
  assert_string_equal(cfg->source_name, "c.yaml");
  assert_int_equal(cfg->n_components, 2);
  assert_int_equal(cfg->n_pipelines, 1);
  const tg_config_pipeline *p = &cfg->pipelines[0];
  assert_string_equal(p->name, "traces");
  assert_int_equal(p->signal, TG_SIGNAL_TRACES);
  assert_int_equal(p->n_receivers, 1);
  assert_int_equal(p->n_processors, 0);
  assert_string_equal(p->exporters[0].id, "debug");
  assert_ptr_equal(p->exporters[0].target, tg_config_find(cfg, TG_EXPORTER, "debug"));
  assert_int_equal(p->receivers[0].pos.line, 8);
  assert_int_equal(p->receivers[0].pos.col, 19);
  assert_int_equal(cfg->log_level, TG_LOG_INFO);
  assert_string_equal(cfg->metrics_address, "0.0.0.0:8888");
  assert_int_equal(cfg->metrics_level, TG_METRICS_LEVEL_NORMAL);
  assert_int_equal(cfg->shutdown_grace_ms, 10000);
  assert_int_equal(cfg->shutdown_drain_ms, 0); /* no drain unless asked */
  const tg_config_component *otlp = tg_config_find(cfg, TG_RECEIVER, "otlp");
  assert_non_null(otlp);
  assert_string_equal(otlp->type, "otlp");
  assert_int_equal(otlp->pos.line, 2);
  assert_string_equal(((fake_otlp_conf *)otlp->conf)->grpc_endpoint, "0.0.0.0:4317");
  assert_null(tg_config_find(cfg, TG_RECEIVER, "debug"));
  tg_config_free(cfg);
  tg_diag_free(&d);
}

static void test_full(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load("receivers:\n  otlp/a:\n    protocols: {grpc: {endpoint: \"x:1\"}}\n"
                        "  jaeger:\n"
                        "processors:\n  batch:\n    timeout: 1s\n  limiter/x:\n"
                        "exporters:\n  debug/out:\n    verbosity: normal\n  prom:\n"
                        "connectors:\n  spanmetrics:\n"
                        "extensions:\n  health_check:\n"
                        "service:\n"
                        "  extensions: [health_check]\n"
                        "  shutdown_timeout: 30s\n"
                        "  shutdown_drain: 45s\n"
                        "  telemetry:\n    logs: {level: debug, encoding: json}\n"
                        "    metrics: {address: \"\", level: detailed}\n"
                        "  pipelines:\n"
                        "    traces:\n      receivers: [otlp/a, jaeger]\n"
                        "      processors: [batch, limiter/x]\n"
                        "      exporters: [debug/out, spanmetrics]\n"
                        "    traces/2:\n      receivers: [otlp/a]\n"
                        "      processors: [batch]\n      exporters: [debug/out]\n"
                        "    metrics:\n      receivers: [spanmetrics, otlp/a]\n"
                        "      processors: [batch]\n      exporters: [prom, debug/out]\n",
                        &d);
  assert_string_equal(fake_diag_text(&d), "");
  assert_non_null(cfg);
  assert_int_equal(cfg->n_pipelines, 3);
  assert_int_equal(cfg->pipelines[2].signal, TG_SIGNAL_METRICS);
  assert_int_equal(cfg->pipelines[2].receivers[0].target->kind, TG_CONNECTOR);
  assert_int_equal(cfg->pipelines[0].exporters[1].target->kind, TG_CONNECTOR);
  assert_int_equal(cfg->n_extensions, 1);
  assert_int_equal(cfg->log_level, TG_LOG_DEBUG);
  assert_null(cfg->metrics_address);
  assert_int_equal(cfg->metrics_level, TG_METRICS_LEVEL_DETAILED);
  assert_int_equal(cfg->shutdown_grace_ms, 30000);
  assert_int_equal(cfg->shutdown_drain_ms, 45000);
  const tg_config_component *b = tg_config_find(cfg, TG_PROCESSOR, "batch");
  assert_int_equal(((fake_batch_conf *)b->conf)->timeout_ms, 1000);
  tg_config_free(cfg);
  tg_diag_free(&d);
}

static void test_unknown_type_lists_known(void **state) {
  (void)state;
  expect_errors("receivers:\n  zipkin:\n  otlp:\nexporters:\n  debug:\nconnectors:\n  count:\n" PIPE,
                "c.yaml:2:3: receivers::zipkin: unknown type \"zipkin\" (known receivers: otlp, "
                "jaeger)\n"
                "c.yaml:7:3: connectors::count: unknown type \"count\" (known connectors: "
                "spanmetrics)\n");
}

static void test_invalid_ids(void **state) {
  (void)state;
  expect_errors("receivers:\n  otlp/:\n  /x:\n  9otlp:\n  ot-lp:\n  otlp/a b:\n  otlp:\n"
                "exporters:\n  debug:\n" PIPE,
                "c.yaml:2:3: receivers: invalid component id \"otlp/\": the name after \"/\" must "
                "not be empty\n"
                "c.yaml:3:3: receivers: invalid component id \"/x\": the type must not be empty\n"
                "c.yaml:4:3: receivers: invalid component id \"9otlp\": the type must start with "
                "a letter\n"
                "c.yaml:5:3: receivers: invalid component id \"ot-lp\": the type may contain only "
                "letters, digits and \"_\"\n"
                "c.yaml:6:3: receivers: invalid component id \"otlp/a b\": the name must not "
                "contain spaces or control characters\n");
}

static void test_top_level(void **state) {
  (void)state;
  expect_errors("receivers:\n  otlp:\nexporters:\n  debug:\nexporter:\n  x: 1\n" PIPE,
                "c.yaml:5:1: unknown top-level key \"exporter\" (valid keys: receivers, "
                "processors, exporters, connectors, extensions, service)\n");
  expect_errors("", "c.yaml: the configuration is empty (service.pipelines is required)\n");
  expect_errors("- a\n", "c.yaml:1:1: expected a mapping at the top level (receivers, "
                         "processors, exporters, connectors, extensions, service), got sequence\n");
  expect_errors("receivers:\n  otlp:\n",
                "c.yaml:1:1: service: missing (service.pipelines is required)\n");
  expect_errors("receivers: [otlp]\n" PIPE,
                "c.yaml:1:12: receivers: expected a mapping of component ids, got sequence\n"
                "c.yaml:5:19: service::pipelines::traces: receivers: \"otlp\" is not defined under "
                "receivers: or connectors:\n"
                "c.yaml:6:19: service::pipelines::traces: exporters: \"debug\" is not defined under "
                "exporters: or connectors:\n");
}

static void test_pipeline_errors(void **state) {
  (void)state;
  expect_errors("receivers:\n  otlp:\n  jaeger:\nprocessors:\n  batch:\nexporters:\n  debug:\n"
                "  prom:\n"
                "service:\n  pipelines:\n"
                "    traces:\n      receivers: [otlp, otlp/x, otlp]\n"
                "      processors: [batch, nope]\n"
                "      exporters: [debug, prom]\n"
                "    metrics/m:\n      receivers: [jaeger]\n      exporters: []\n"
                "      extra: 1\n"
                "    logs:\n      receivers: [otlp]\n      exporters: [debug]\n"
                "    spans:\n"
                "    traces/:\n"
                "    metrics:\n      receivers: otlp\n      exporters: [[debug]]\n",
                "c.yaml:12:25: service::pipelines::traces: receivers: \"otlp/x\" is not defined "
                "under receivers: or connectors:\n"
                "c.yaml:12:33: service::pipelines::traces: receivers: \"otlp\" is listed twice\n"
                "c.yaml:13:27: service::pipelines::traces: processors: \"nope\" is not defined "
                "under processors:\n"
                "c.yaml:14:26: service::pipelines::traces: exporters: \"prom\" does not handle "
                "traces (only metrics)\n"
                "c.yaml:18:7: service::pipelines::metrics/m: unknown key \"extra\" (valid keys: "
                "receivers, processors, exporters)\n"
                "c.yaml:16:19: service::pipelines::metrics/m: receivers: \"jaeger\" does not "
                "handle metrics (only traces)\n"
                "c.yaml:17:18: service::pipelines::metrics/m: exporters: at least one is "
                "required\n"
                "c.yaml:19:5: service::pipelines::logs: logs pipelines are not supported "
                "(tailgate handles traces and metrics)\n"
                "c.yaml:22:5: service::pipelines: unknown signal \"spans\" in \"spans\" (valid: "
                "traces, metrics)\n"
                "c.yaml:23:5: service::pipelines: invalid pipeline id \"traces/\": the name "
                "after \"/\" must not be empty\n"
                "c.yaml:25:18: service::pipelines::metrics: receivers: expected a sequence of "
                "component ids, got scalar\n"
                "c.yaml:26:19: service::pipelines::metrics: exporters: expected a component id, "
                "got sequence\n");
  expect_errors("receivers:\n  otlp:\nservice:\n  pipelines:\n    traces:\n",
                "c.yaml:5:5: service::pipelines::traces: receivers: at least one is required\n"
                "c.yaml:5:5: service::pipelines::traces: exporters: at least one is required\n");
  expect_errors("service:\n  pipelines: {}\n",
                "c.yaml:2:14: service: pipelines: at least one pipeline is required\n");
  expect_errors("service:\n",
                "c.yaml:1:1: service: pipelines: at least one pipeline is required\n");
}

static void test_connectors(void **state) {
  (void)state;
  /* used only as an exporter */
  expect_errors("receivers:\n  otlp:\nexporters:\n  debug:\nconnectors:\n  spanmetrics:\n"
                "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                "      exporters: [debug, spanmetrics]\n",
                "c.yaml:6:3: connectors::spanmetrics: used as an exporter but not as a receiver "
                "of any pipeline (a connector joins two pipelines)\n");
  /* used only as a receiver, and with the wrong signals */
  expect_errors("receivers:\n  otlp:\nexporters:\n  debug:\nconnectors:\n  spanmetrics:\n"
                "service:\n  pipelines:\n    traces:\n      receivers: [spanmetrics]\n"
                "      exporters: [debug]\n",
                "c.yaml:10:19: service::pipelines::traces: receivers: connector \"spanmetrics\" "
                "does not emit traces (it emits metrics)\n"
                "c.yaml:6:3: connectors::spanmetrics: used as a receiver but not as an exporter "
                "of any pipeline (a connector joins two pipelines)\n");
  /* wrong signal on the exporter side, loop, ambiguous id */
  expect_errors("receivers:\n  otlp:\n  spanmetrics:\nexporters:\n  debug:\nconnectors:\n"
                "  spanmetrics:\n"
                "service:\n  pipelines:\n    metrics:\n      receivers: [spanmetrics]\n"
                "      exporters: [spanmetrics]\n",
                "c.yaml:3:3: receivers::spanmetrics: unknown type \"spanmetrics\" (known "
                "receivers: otlp, jaeger)\n"
                "c.yaml:12:19: service::pipelines::metrics: exporters: connector \"spanmetrics\" "
                "does not accept metrics (it accepts traces)\n"
                "c.yaml:7:3: connectors::spanmetrics: ambiguous id: also defined under "
                "receivers:\n"
                "c.yaml:7:3: connectors::spanmetrics: used as an exporter but not as a receiver "
                "of any pipeline (a connector joins two pipelines)\n");
  /* unused connector and components: fine */
  tg_diag d;
  tg_config *cfg = load("receivers:\n  otlp:\n  jaeger:\nexporters:\n  debug:\n  prom:\n"
                        "connectors:\n  spanmetrics:\n" PIPE, &d);
  assert_non_null(cfg);
  tg_config_free(cfg);
  tg_diag_free(&d);
}

static void test_service_section(void **state) {
  (void)state;
  expect_errors("receivers:\n  otlp:\nexporters:\n  debug:\nextensions:\n  health_check:\n"
                "service:\n  extensions: [health_check, pprof, health_check]\n"
                "  telemetry:\n    logs:\n      level: verbose\n      encoding: console\n"
                "    metrics:\n      level: some\n"
                "    traces:\n      propagators: [b3, zipkin]\n      sampling_ratio: 2\n"
                "  shutdown_timeout: 5\n"
                "  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
                "c.yaml:11:14: service: telemetry.logs.level: \"verbose\" is not one of: debug, "
                "info, warn, error\n"
                "c.yaml:14:14: service: telemetry.metrics.level: \"some\" is not one of: none, "
                "basic, normal, detailed\n"
                "c.yaml:17:23: service: telemetry.traces.sampling_ratio: \"2\" is out of range [0, 1]\n"
                "c.yaml:18:21: service: shutdown_timeout: \"5\" needs a unit (examples: 500ms, "
                "5s, 1m)\n"
                "c.yaml:16:20: service: telemetry.traces.propagators: unknown \"zipkin\" (valid: "
                "tracecontext, b3, b3multi, jaeger, baggage)\n"
                "c.yaml:8:30: service: extensions: \"pprof\" is not defined under extensions:\n"
                "c.yaml:8:37: service: extensions: \"health_check\" is listed twice\n");
}

/* service.telemetry.logs: encoding and initial_fields are taken; a bad encoding and an
 * initial field that would shadow a built-in one are positioned errors. */
static void test_service_logs(void **state) {
  (void)state;
  tg_diag d;
  tg_config *cfg = load("receivers:\n  otlp:\nexporters:\n  debug:\n"
                        "service:\n  telemetry:\n    logs:\n      encoding: console\n"
                        "      initial_fields:\n        env: prod\n        region: eu-1\n"
                        "  pipelines:\n    traces:\n      receivers: [otlp]\n"
                        "      exporters: [debug]\n",
                        &d);
  assert_string_equal(fake_diag_text(&d), "");
  assert_non_null(cfg);
  assert_int_equal(cfg->log_encoding, TG_LOG_ENCODING_CONSOLE);
  assert_int_equal(cfg->log_initial_fields.n, 2);
  assert_string_equal(cfg->log_initial_fields.keys[0], "env");
  assert_string_equal(cfg->log_initial_fields.values[0], "prod");
  assert_string_equal(cfg->log_initial_fields.keys[1], "region");
  assert_string_equal(cfg->log_initial_fields.values[1], "eu-1");
  assert_int_equal(cfg->metrics_level, TG_METRICS_LEVEL_NORMAL);
  /* sha256 of the text above, from Python's hashlib */
  assert_string_equal(cfg->sha256_prefix, "576ac94d03832c3a");
  tg_config_free(cfg);
  tg_diag_free(&d);
  expect_errors("receivers:\n  otlp:\nexporters:\n  debug:\n"
                "service:\n  telemetry:\n    logs:\n      encoding: logfmt\n"
                "      initial_fields:\n        level: x\n        ok: y\n"
                "  pipelines:\n    traces:\n      receivers: [otlp]\n"
                "      exporters: [debug]\n",
                "c.yaml:8:17: service: telemetry.logs.encoding: \"logfmt\" is not one of: json, "
                "console\n"
                "c.yaml:10:16: service: telemetry.logs.initial_fields: \"level\" is a field every "
                "log line already has (timestamp, level, message, service_name, component, "
                "correlation_id, error_code)\n");
}

static void test_component_settings_errors(void **state) {
  (void)state;
  expect_errors("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: [x]\n"
                "      thrift:\nprocessors:\n  batch: 5\n  limiter:\n    spike: 1GiB\n"
                "exporters:\n  debug:\n    verbosity: high\n" PIPE,
                "c.yaml:5:19: receivers::otlp: protocols.grpc.endpoint: expected a string, got "
                "sequence\n"
                "c.yaml:6:7: receivers::otlp: unknown key \"protocols.thrift\" (valid keys under "
                "protocols: grpc, http)\n"
                "c.yaml:8:10: processors::batch: expected a mapping of settings, got scalar\n"
                "c.yaml:10:5: processors::limiter: spike must be below limit\n"
                "c.yaml:13:16: exporters::debug: verbosity: \"high\" is not one of: basic, normal, "
                "detailed\n");
}

static void test_env_errors_reported_with_others(void **state) {
  (void)state;
  unsetenv("TG_T_NOPE");
  expect_errors("receivers:\n  otlp:\n    protocols:\n      grpc:\n"
                "        endpoint: ${env:TG_T_NOPE}\n"
                "exporters:\n  debug:\n    ratio: 2\n" PIPE,
                "c.yaml:5:19: environment variable \"TG_T_NOPE\" is not set (write "
                "${env:TG_T_NOPE:-default} to give a default)\n"
                "c.yaml:8:12: exporters::debug: ratio: \"2\" is out of range [0, 1]\n");
}

/* The default config also uses the spanmetrics processor and the prometheus exporter:
 * fakes with their real key tables, added to the fake registry for this test only. */
#include "../../../processors/spanmetrics/spanmetrics_conf.h"
static const tg_component fake_spanmetrics_processor = {
    .abi = TG_COMPONENT_ABI, .kind = TG_PROCESSOR, .type = "spanmetrics",
    .signals = TG_SIGNAL_TRACES, .conf_size = sizeof(tg_spanmetrics_conf),
    .keys = tg_spanmetrics_conf_keys, .n_keys = TG_SPANMETRICS_CONF_N_KEYS,
};
static const tg_conf_key fake_prometheus_keys[] = {
    TG_KEY_STRING("endpoint", fake_ext_conf, endpoint, "0.0.0.0:8889", "listen address"),
};
static const tg_component fake_prometheus = {
    .abi = TG_COMPONENT_ABI, .kind = TG_EXPORTER, .type = "prometheus",
    .signals = TG_SIGNAL_METRICS, .conf_size = sizeof(fake_ext_conf),
    .keys = fake_prometheus_keys, .n_keys = 1,
};

/* The fakes plus the real components the embedded default uses that have no fake (their
 * create is never called: these tests only load configurations). */
extern const tg_component tg_processor_tail_sampling;
extern const tg_component tg_extension_jaegerremotesampling;
extern const tg_component tg_receiver_zipkin;
static const tg_component *const default_registry[] = {
    &tg_processor_tail_sampling,
    &tg_extension_jaegerremotesampling,
    &tg_receiver_zipkin,
    &fake_spanmetrics_processor,
    &fake_prometheus,
    NULL,
};

static const tg_component *const *fakes_and_defaults(void) {
  static const tg_component *all[64];
  size_t n = 0;
  for (size_t i = 0; fake_registry[i]; i++)
    all[n++] = fake_registry[i];
  for (size_t i = 0; default_registry[i]; i++)
    all[n++] = default_registry[i];
  all[n] = NULL;
  return all;
}

/* 1-based line of the first line of the embedded default containing needle. */
static int default_line_of(const char *needle) {
  const char *hit = strstr(tg_default_config_yaml, needle);
  int line = 1;
  for (const char *p = tg_default_config_yaml; hit && p < hit; p++)
    line += *p == '\n';
  return hit ? line : -1;
}

static void test_default_config_with_fakes(void **state) {
  (void)state;
  const tg_component *const *registry = fakes_and_defaults();
  unsetenv("TAILGATE_LOG_LEVEL");
  setenv("TAILGATE_OTLP_GRPC_ENDPOINT", "127.0.0.1:5317", 1);
  setenv("TAILGATE_METRICS_ADDRESS", "", 1);
  tg_diag d;
  tg_diag_init(&d);
  tg_config *cfg = tg_config_load_text_with_registry(
      "<embedded default>", tg_default_config_yaml, strlen(tg_default_config_yaml),
      registry, &d);
  assert_string_equal(fake_diag_text(&d), "");
  assert_non_null(cfg);
  const tg_config_component *otlp = tg_config_find(cfg, TG_RECEIVER, "otlp");
  fake_otlp_conf *oc = otlp->conf;
  assert_string_equal(oc->grpc_endpoint, "127.0.0.1:5317");
  assert_string_equal(oc->http_endpoint, "0.0.0.0:4318");
  assert_true(oc->grpc && oc->http);
  assert_null(cfg->metrics_address);
  assert_int_equal(cfg->log_level, TG_LOG_INFO);
  assert_int_equal(cfg->n_extensions, 2); /* health_check, jaegerremotesampling */
  assert_int_equal(cfg->n_pipelines, 2); /* traces, and metrics fed by spanmetrics */
  tg_config_free(cfg);
  unsetenv("TAILGATE_OTLP_GRPC_ENDPOINT");
  unsetenv("TAILGATE_METRICS_ADDRESS");
  setenv("TAILGATE_LOG_LEVEL", "loud", 1);
  cfg = tg_config_load_text_with_registry("<embedded default>", tg_default_config_yaml,
                                          strlen(tg_default_config_yaml), registry, &d);
  assert_null(cfg);
  char want[256];
  snprintf(want, sizeof want,
           "<embedded default>:%d:14: service: telemetry.logs.level: \"loud\" is not "
           "one of: debug, info, warn, error\n",
           default_line_of("      level: "));
  assert_string_equal(fake_diag_text(&d), want);
  unsetenv("TAILGATE_LOG_LEVEL");
  tg_diag_free(&d);
}

/* The exporter the default picks: debug, or Jaeger when TAILGATE_JAEGER_ENDPOINT is set
 * (and a Jaeger endpoint that is tailgate's own receiver is refused: a loop). Real
 * registry, since the choice names real components. */
static void test_default_config_exporter_choice(void **state) {
  (void)state;
  unsetenv("TAILGATE_JAEGER_ENDPOINT");
  tg_diag d;
  tg_diag_init(&d);
  char note[256];
  tg_config *cfg = tg_config_load_default(&d);
  assert_non_null(cfg);
  assert_string_equal(cfg->pipelines[0].exporters[0].id, "debug");
  assert_null(tg_config_find(cfg, TG_EXPORTER, "jaeger"));
  assert_non_null(tg_config_find(cfg, TG_RECEIVER, "jaeger"));
  tg_config_free(cfg);
  tg_default_config_describe(note, sizeof note);
  assert_non_null(strstr(note, "debug exporter"));
  setenv("TAILGATE_JAEGER_ENDPOINT", "jaeger.example:14250", 1);
  cfg = tg_config_load_default(&d);
  assert_non_null(cfg);
  assert_int_equal(cfg->pipelines[0].n_exporters, 1);
  assert_string_equal(cfg->pipelines[0].exporters[0].id, "jaeger");
  tg_config_free(cfg);
  tg_default_config_describe(note, sizeof note);
  assert_non_null(strstr(note, "Jaeger collector at jaeger.example:14250"));
  setenv("TAILGATE_JAEGER_ENDPOINT", "localhost:14250", 1);
  assert_null(tg_config_load_default(&d));
  assert_non_null(strstr(fake_diag_text(&d), "would export into its own input (a loop)"));
  unsetenv("TAILGATE_JAEGER_ENDPOINT");
  tg_diag_free(&d);
}

static void test_unreadable_file(void **state) {
  (void)state;
  tg_diag d;
  tg_diag_init(&d);
  assert_null(tg_config_load_file_with_registry("/nonexistent/x.yaml", fake_registry, &d));
  assert_string_equal(fake_diag_text(&d),
                      "/nonexistent/x.yaml: cannot read: No such file or directory\n");
  tg_diag_free(&d);
}

static void test_alloc_failures(void **state) {
  (void)state;
  const char *text = "receivers:\n  otlp/a:\n    protocols: {grpc: {endpoint: \"x:1\"}}\n"
                     "processors:\n  batch:\nexporters:\n  debug:\n    headers: {a: b}\n"
                     "  prom:\nconnectors:\n  spanmetrics:\nextensions:\n  health_check:\n"
                     "service:\n  extensions: [health_check]\n  pipelines:\n"
                     "    traces:\n      receivers: [otlp/a]\n      processors: [batch]\n"
                     "      exporters: [debug, spanmetrics]\n"
                     "    metrics:\n      receivers: [spanmetrics]\n      exporters: [prom]\n";
  tg_diag d;
  tg_config *ok = load(text, &d);
  assert_string_equal(fake_diag_text(&d), "");
  assert_non_null(ok);
  tg_config_free(ok);
  tg_diag_free(&d);
  for (long n = 0; n < 600; n++) {
    tg_diag_init(&d);
    tg_alloc_fail_after(n, 0);
    tg_config *cfg =
        tg_config_load_text_with_registry("c.yaml", text, strlen(text), fake_registry, &d);
    tg_alloc_fail_after(-1, 0);
    /* Either it loaded or it said why. */
    assert_true((cfg != NULL) != tg_diag_failed(&d));
    tg_config_free(cfg);
    tg_diag_free(&d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal),
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_unknown_type_lists_known),
      cmocka_unit_test(test_invalid_ids),
      cmocka_unit_test(test_top_level),
      cmocka_unit_test(test_pipeline_errors),
      cmocka_unit_test(test_connectors),
      cmocka_unit_test(test_service_section),
      cmocka_unit_test(test_service_logs),
      cmocka_unit_test(test_component_settings_errors),
      cmocka_unit_test(test_env_errors_reported_with_others),
      cmocka_unit_test(test_default_config_with_fakes),
      cmocka_unit_test(test_default_config_exporter_choice),
      cmocka_unit_test(test_unreadable_file),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
