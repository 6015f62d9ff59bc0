/* The loaded configuration: the Collector's layout (receivers, processors, exporters,
 * connectors, extensions, service.pipelines, service.telemetry, service.extensions),
 * parsed, substituted (${env:VAR}, ${env:VAR:-default}) and validated.
 *
 * tg_config_load reports every problem it finds as `file:line:col: message` into diag
 * (unknown keys with the list of valid ones, wrong types, values out of bounds, unknown
 * component types, pipelines naming undefined components, connectors used on one side
 * only, ...), never only the first. Each component's settings are applied through its
 * descriptor's key table into a conf struct that the config owns. */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tg_component.h"
#include "tg_diag.h"
#include "tg_yaml-t.h"

typedef struct tg_yaml_doc tg_yaml_doc;

typedef struct tg_config_component {
  tg_component_kind kind;        /* section it was declared in */
  const tg_component *component; /* from the registry; NULL if the type is unknown */
  char *id;                      /* "otlp/backend" */
  char *type;                    /* "otlp" */
  const tg_yaml_node *node;      /* its settings (may be NULL); owned by the doc */
  tg_yaml_pos pos;               /* of its key */
  /* Filled struct of component->conf_size bytes, owned by the config: tg_config_free
   * releases it (tg_conf_release + tg_free). A builder that wants to keep it longer
   * takes it and sets this to NULL, and then releases it the same way. */
  void *conf;
} tg_config_component;

typedef struct tg_config_ref {
  char *id;
  tg_yaml_pos pos;                      /* of the id in the list */
  const tg_config_component *target;    /* its definition (receivers may name a
                                           connector, exporters too); never NULL in a
                                           loaded config */
} tg_config_ref;

typedef struct tg_config_pipeline {
  char *name;                    /* "traces", "traces/sampled", "metrics" */
  unsigned signal;               /* TG_SIGNAL_TRACES or TG_SIGNAL_METRICS */
  tg_config_ref *receivers, *processors, *exporters;
  size_t n_receivers, n_processors, n_exporters;
  tg_yaml_pos pos;               /* of the pipeline's key */
} tg_config_pipeline;

/* service.telemetry.metrics.level */
enum { TG_METRICS_LEVEL_NONE, TG_METRICS_LEVEL_BASIC, TG_METRICS_LEVEL_NORMAL,
       TG_METRICS_LEVEL_DETAILED };

/* Every string and array below is owned by the config (freed by tg_config_free); node
 * pointers point into doc, which the config also owns. */
typedef struct tg_config {
  char *source_name;             /* file path, or "<embedded default>" */
  tg_yaml_doc *doc;              /* owns every tg_yaml_node */
  tg_config_component *components; /* in section order, then file order */
  size_t n_components;
  tg_config_pipeline *pipelines; /* in file order */
  size_t n_pipelines;
  tg_config_ref *extensions;     /* service.extensions */
  size_t n_extensions;
  /* service.telemetry */
  int log_level;                 /* tg_log_level; logs.level, default info */
  int log_encoding;              /* tg_log_encoding; logs.encoding, default json */
  tg_conf_strmap log_initial_fields; /* logs.initial_fields: added to every log line */
  char *metrics_address;         /* metrics.address, default "0.0.0.0:8888"; NULL = off
                                    (written as "") */
  int metrics_level;             /* TG_METRICS_LEVEL_*; metrics.level, default normal */
  uint64_t shutdown_grace_ms;    /* service.shutdown_timeout (ours), default 10 s */
  uint64_t shutdown_drain_ms;    /* service.shutdown_drain (ours), default 0: not ready but
                                    running this long after a signal, then stop */
  int debug_endpoints;           /* telemetry.debug_endpoints (ours): /debug/sampling */
  char *traces_endpoint;         /* traces.endpoint: OTLP/HTTP URL of tailgate's own spans;
                                    NULL = self-tracing off */
  double traces_sampling_ratio;  /* traces.sampling_ratio, default 0.01 */
  unsigned traces_propagators;   /* traces.propagators: bit 0 tracecontext, 1 b3, 2 b3multi,
                                    3 jaeger, 4 baggage; default tracecontext */
  char sha256_prefix[17];        /* first 16 hex digits of the SHA-256 of the configuration
                                    text as read (tailgate_config_info{sha256}) */
} tg_config;

/* Loads and validates YAML text (at most TG_YAML_MAX_INPUT bytes) against tg_registry.
 * name is copied and used in positions ("tailgate.yaml"). Returns a config (caller
 * frees with tg_config_free) when no problem was added to diag; otherwise NULL, with
 * every problem in diag. */
tg_config *tg_config_load_text(const char *name, const char *text, size_t len,
                               tg_diag *diag);

/* Reads the file and loads it; positions use path as given. An unreadable or too large
 * file is one diag line ("path: cannot read: ..."). */
tg_config *tg_config_load_file(const char *path, tg_diag *diag);

/* The embedded default configuration (YAML text, NUL-terminated): the variant that
 * exports to the debug exporter; lines marked `#?VAR` / `#?!VAR` choose the exporter
 * (see tg_default_config.c). */
extern const char tg_default_config_yaml[];
/* The default as it applies now: Jaeger export when TAILGATE_JAEGER_ENDPOINT is set,
 * the debug exporter otherwise. tg_malloc'd (caller frees), NULL when out of memory. */
char *tg_default_config_text(void);
/* One sentence for the start-up log: where the default sends traces, and why. */
void tg_default_config_describe(char *out, size_t size);
/* Loads tg_default_config_text() as "<embedded default>". */
tg_config *tg_config_load_default(tg_diag *diag);

/* Lookups used by the service builder. NULL when absent. */
const tg_config_component *tg_config_find(const tg_config *config, tg_component_kind kind,
                                          const char *id);

/* Frees the config, its doc and every conf struct still in it. NULL is fine. */
void tg_config_free(tg_config *config);

#endif
