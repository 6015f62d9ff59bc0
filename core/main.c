/* tailgate entry point: command line, configuration, the service's lifecycle on one libuv
 * loop, and signals (SIGTERM/SIGINT: stop accepting, flush, exit 0; a second signal
 * exits at once; a watchdog bounds the whole shutdown). With service.shutdown_drain, the
 * first signal only turns /health/ready to 503 (so the orchestrator and DNS drop this
 * instance) while every component keeps running for the drain; then the shutdown runs
 * as above. A second signal during the drain ends it at once; a third exits. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_config.h"
#include "tg_log.h"
#include "tg_selftrace.h"
#include "tg_service.h"
#include "tg_telemetry.h"
#include "tg_version.h"

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint;
  uv_timer_t watchdog;
  uv_timer_t drain; /* service.shutdown_drain after the first signal */
  int drain_active;
  uv_timer_t log_flush; /* writes the rate-limited warnings' summaries (tg_log.h) */
  tg_logger log;
  tg_metrics *metrics;
  tg_service service;
  tg_telemetry *telemetry;
  tg_config *config;
  int signals_seen;
  int exit_code;
} app;

static void usage(FILE *out) {
  fprintf(out,
          "usage: tailgate [--config FILE]      run (no --config: the embedded default)\n"
          "       tailgate validate [FILE]      check a configuration and print every problem\n"
          "       tailgate print-default-config print the embedded default configuration\n"
          "       tailgate components           list components and their settings\n"
          "       tailgate --help | --version\n");
  for (size_t i = 0; i < tg_registry_count; i++)
    if (tg_registry[i]->command.name && tg_registry[i]->command.usage)
      fprintf(out, "       tailgate %s\n", tg_registry[i]->command.usage);
  fprintf(out,
          "\n"
          "tailgate is a tracing gateway: it receives spans (OTLP gRPC/HTTP), runs them through\n"
          "the processors of the configured pipelines and exports them. The configuration uses\n"
          "the OpenTelemetry Collector's layout; ${env:VAR} and ${env:VAR:-default} are\n"
          "substituted. Errors are printed as file:line:col: message.\n");
}

static const char *const type_names[] = {"bool",   "int",  "double", "duration",
                                         "size",   "string", "enum", "list",
                                         "map",    "section", "custom"};

static void list_components(void) {
  for (size_t i = 0; i < tg_registry_count; i++) {
    const tg_component *c = tg_registry[i];
    printf("%s: %s  — %s\n", tg_component_kind_name(c->kind), c->type, c->doc ? c->doc : "");
    for (size_t k = 0; k < c->n_keys; k++) {
      const tg_conf_key *key = &c->keys[k];
      printf("    %-40s %-8s default %-12s %s\n", key->path, type_names[key->type],
             key->def ? key->def : "-", key->doc ? key->doc : "");
    }
  }
}

static tg_config *load_config(const char *path) {
  tg_diag diag;
  tg_diag_init(&diag);
  tg_config *config = path ? tg_config_load_file(path, &diag) : tg_config_load_default(&diag);
  if (!config || tg_diag_failed(&diag)) {
    tg_diag_print(&diag, stderr);
    if (config)
      tg_config_free(config);
    config = NULL;
  }
  tg_diag_free(&diag);
  return config;
}

static void close_handle(uv_handle_t *handle) {
  if (!uv_is_closing(handle))
    uv_close(handle, NULL);
}

static void on_telemetry_stopped(void *ctx) {
  app *a = ctx;
  close_handle((uv_handle_t *)&a->sigterm);
  close_handle((uv_handle_t *)&a->sigint);
  close_handle((uv_handle_t *)&a->watchdog);
  close_handle((uv_handle_t *)&a->drain);
  close_handle((uv_handle_t *)&a->log_flush);
}

static void on_log_flush(uv_timer_t *timer) {
  app *a = timer->data;
  tg_logger_flush_suppressed(&a->log);
}

static void on_service_stopped(tg_service *svc) {
  app *a = (app *)((char *)svc - offsetof(app, service));
  TG_LOG_INFO(&a->log, "service", "stopped");
  tg_telemetry *tel = a->telemetry;
  a->telemetry = NULL;
  tg_telemetry_stop(tel, on_telemetry_stopped, a);
}

static void on_watchdog(uv_timer_t *timer) {
  app *a = timer->data;
  TG_LOG_ERROR(&a->log, "service", "shutdown_timeout",
               "shutdown did not finish within the grace period; exiting");
  _exit(1);
}

static void begin_shutdown(app *a, const char *why) {
  TG_LOG_INFO(&a->log, "service", "%s: stopping receivers, flushing pipelines", why);
  uv_timer_start(&a->watchdog, on_watchdog, a->service.shutdown_grace_ms + 5000, 0);
  tg_service_stop(&a->service, on_service_stopped);
}

static void on_drain_done(uv_timer_t *timer) {
  app *a = timer->data;
  a->drain_active = 0;
  begin_shutdown(a, "drain over");
}

static void on_signal(uv_signal_t *handle, int signum) {
  app *a = handle->data;
  const char *name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
  if (a->drain_active) {
    TG_LOG_INFO(&a->log, "service", "second signal (%s): ending the drain", name);
    uv_timer_stop(&a->drain);
    a->drain_active = 0;
    begin_shutdown(a, name);
    return;
  }
  if (++a->signals_seen > 1) {
    TG_LOG_WARN(&a->log, "service", "second signal (%s): exiting at once", strsignal(signum));
    _exit(1);
  }
  uint64_t drain = a->config->shutdown_drain_ms;
  if (drain && a->service.graph) {
    a->service.draining = 1;
    a->drain_active = 1;
    TG_LOG_INFO(&a->log, "service",
                "%s: not ready; draining for %llu ms before stopping (signal again to stop now)",
                name, (unsigned long long)drain);
    uv_timer_start(&a->drain, on_drain_done, drain, 0);
    return;
  }
  begin_shutdown(a, name);
}

static int run(tg_config *config) {
  app *a = tg_calloc(1, sizeof *a);
  if (!a)
    return 1;
  a->config = config;
  tg_logger_init(&a->log, (tg_log_level)config->log_level, stdout);
  tg_logger_set_encoding(&a->log, (tg_log_encoding)config->log_encoding);
  if (tg_logger_set_initial_fields(&a->log, (const char *const *)config->log_initial_fields.keys,
                                   (const char *const *)config->log_initial_fields.values,
                                   config->log_initial_fields.n) != 0) {
    tg_logger_destroy(&a->log);
    tg_free(a);
    return 1;
  }
  a->metrics = tg_metrics_new();
  _Static_assert((int)TG_METRICS_LEVEL_BASIC == (int)TG_MLEVEL_BASIC &&
                     (int)TG_METRICS_LEVEL_NORMAL == (int)TG_MLEVEL_NORMAL &&
                     (int)TG_METRICS_LEVEL_DETAILED == (int)TG_MLEVEL_DETAILED,
                 "config and registry metrics levels agree");
  if (a->metrics)
    tg_metrics_set_level(a->metrics, (tg_mlevel)config->metrics_level);
  uv_loop_init(&a->loop);
  a->service = (tg_service){.loop = &a->loop, .log = &a->log, .metrics = a->metrics,
                            .shutdown_grace_ms = config->shutdown_grace_ms,
                            .debug_endpoints = config->debug_endpoints};
  uv_signal_init(&a->loop, &a->sigterm);
  uv_signal_init(&a->loop, &a->sigint);
  uv_timer_init(&a->loop, &a->watchdog);
  uv_timer_init(&a->loop, &a->drain);
  uv_timer_init(&a->loop, &a->log_flush);
  a->sigterm.data = a->sigint.data = a->watchdog.data = a->drain.data = a->log_flush.data = a;
  uv_timer_start(&a->log_flush, on_log_flush, 1000, 1000);
  uv_unref((uv_handle_t *)&a->log_flush); /* never keeps the loop alive by itself */
  uv_signal_start(&a->sigterm, on_signal, SIGTERM);
  uv_signal_start(&a->sigint, on_signal, SIGINT);

  tg_errbuf err = {{0}};
  int rc = TG_OK;
  if (config->traces_endpoint) {
    /* config bit i = propagator_names[i] in config/tg_config_service.c */
    static const unsigned bits[] = {TG_PROPAGATE_TRACECONTEXT, TG_PROPAGATE_B3,
                                    TG_PROPAGATE_B3_MULTI, TG_PROPAGATE_JAEGER,
                                    TG_PROPAGATE_BAGGAGE};
    unsigned propagators = 0;
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
      if (config->traces_propagators & (1u << i))
        propagators |= bits[i];
    a->service.selftrace = tg_selftrace_create(config->traces_endpoint,
                                               config->traces_sampling_ratio, propagators,
                                               &a->log, &err);
    if (!a->service.selftrace)
      rc = TG_EIO;
  }
  if (rc == TG_OK)
    rc = tg_service_build(&a->service, config, &err);
  if (rc == TG_OK) {
    /* metrics.level none: no listener (the Collector's meaning) */
    const char *address =
        config->metrics_level == TG_METRICS_LEVEL_NONE ? NULL : config->metrics_address;
    a->telemetry = tg_telemetry_start(&a->loop, a->metrics, &a->log, address,
                                      config->debug_endpoints ? &a->service : NULL, &err);
    if (!a->telemetry)
      rc = TG_EIO;
    else
      tg_telemetry_set_config_hash(a->telemetry, config->sha256_prefix);
  }
  if (rc == TG_OK)
    rc = tg_service_start(&a->service, &err);
  if (rc != TG_OK) {
    TG_LOG_ERROR(&a->log, "service", tg_err_name(rc), "cannot start: %s", err.msg);
    a->exit_code = 1;
    a->signals_seen = 1; /* a signal during the rollback exits at once */
    begin_shutdown(a, "start failed");
  } else {
    TG_LOG_INFO(&a->log, "service", "tailgate %s started with %s (%zu pipelines)",
                TG_VERSION, config->source_name, config->n_pipelines);
    if (!strcmp(config->source_name, "<embedded default>")) {
      char note[256];
      tg_default_config_describe(note, sizeof note);
      TG_LOG_INFO(&a->log, "service", "embedded default: %s", note);
    }
  }
  uv_run(&a->loop, UV_RUN_DEFAULT);
  tg_service_destroy(&a->service);
  tg_selftrace_destroy(a->service.selftrace); /* sends what is queued */
  a->service.selftrace = NULL;
  int code = a->exit_code;
  if (uv_loop_close(&a->loop) != 0)
    TG_LOG_WARN(&a->log, "service", "event loop closed with handles still open");
  tg_metrics_free(a->metrics);
  tg_logger_destroy(&a->log);
  tg_free(a);
  return code;
}

/* A subcommand that a component provides (tailgate sampling explain ...), or NULL. */
static const tg_component_command *find_command(const char *name) {
  for (size_t i = 0; i < tg_registry_count; i++)
    if (tg_registry[i]->command.name && !strcmp(tg_registry[i]->command.name, name))
      return &tg_registry[i]->command;
  return NULL;
}

int main(int argc, char **argv) {
  const char *config_path = NULL;
  int validate = 0;
  const tg_component_command *command = argc > 1 ? find_command(argv[1]) : NULL;
  if (command)
    return command->run(argc - 1, argv + 1);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(arg, "--version")) {
      printf("tailgate %s\n", TG_VERSION);
      return 0;
    } else if (!strcmp(arg, "--config") || !strcmp(arg, "-c")) {
      if (++i >= argc) {
        fprintf(stderr, "tailgate: --config needs a file\n");
        return 2;
      }
      config_path = argv[i];
    } else if (!strncmp(arg, "--config=", 9)) {
      config_path = arg + 9;
    } else if (!strcmp(arg, "validate")) {
      validate = 1;
    } else if (!strcmp(arg, "print-default-config")) {
      char *text = tg_default_config_text();
      if (!text)
        return 1;
      fputs(text, stdout);
      tg_free(text);
      return 0;
    } else if (!strcmp(arg, "components")) {
      list_components();
      return 0;
    } else if (validate && !config_path && arg[0] != '-') {
      config_path = arg;
    } else {
      fprintf(stderr, "tailgate: unknown argument '%s'\n", arg);
      usage(stderr);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  /* Request bodies, arena chunks and encoded exports are megabytes each. With glibc's
   * defaults such blocks are mmapped or trimmed back to the kernel when freed and
   * faulted in again on the next request: perf showed page faults at 26 % of the
   * gateway's CPU (docs/BENCHMARKS.md). Keeping them in the heap costs RSS at the
   * high-water mark, which the receivers' body limits and the queues' bounds cap. */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  tg_config *config = load_config(config_path);
  if (!config)
    return 1;
  if (validate) {
    printf("%s: configuration is valid\n", config->source_name);
    tg_config_free(config);
    return 0;
  }
  int code = run(config);
  tg_config_free(config);
  return code;
}
