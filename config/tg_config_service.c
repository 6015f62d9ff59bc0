/* The `service:` section: pipelines, service extensions and telemetry.
 *
 * The section's shape (valid keys, enums, defaults, the duration) is itself a key table
 * applied with tg_conf_apply, so unknown or mistyped keys here get exactly the same
 * messages as in components. The lists whose items must keep their own positions
 * (pipelines, extensions, a pipeline's receivers/processors/exporters) are CUSTOM keys
 * that only capture their node; this file then resolves every id against the component
 * sections and checks what a table cannot: references, signals, connector pairing.
 *
 * Connectors follow the Collector: a connector is an exporter of one pipeline and a
 * receiver of another. One used on a single side is an error (its data would go nowhere
 * or come from nowhere); one not used at all is fine, like any unused component. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_config_internal.h"
#include "tg_endpoint.h"
#include "tg_log.h"
#include "tg_yaml.h"

typedef struct service_conf {
  const tg_yaml_node *extensions;
  const tg_yaml_node *pipelines;
  int log_level;
  int log_encoding;
  tg_conf_strmap log_initial_fields;
  char *metrics_address;
  int metrics_level;
  uint64_t shutdown_ms;
  uint64_t drain_ms;
  _Bool debug_endpoints;
  char *traces_endpoint;
  double traces_ratio;
  tg_conf_strlist traces_propagators;
} service_conf;

typedef struct pipeline_conf {
  const tg_yaml_node *receivers, *processors, *exporters;
} pipeline_conf;

static void keep_node(const tg_yaml_node *node, void *field, tg_diag *diag) {
  (void)diag;
  *(const tg_yaml_node **)field = node;
}

/* Indexes match tg_log_level (TG_LOG_DEBUG .. TG_LOG_ERROR). */
_Static_assert(TG_LOG_DEBUG == 0 && TG_LOG_INFO == 1 && TG_LOG_WARN == 2 && TG_LOG_ERROR == 3,
               "log_levels[] must follow tg_log_level");
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_encodings[] = {"json", "console", NULL};
static const char *const metrics_levels[] = {"none", "basic", "normal", "detailed", NULL};
_Static_assert(TG_LOG_ENCODING_JSON == 0 && TG_LOG_ENCODING_CONSOLE == 1,
               "log_encodings[] must follow tg_log_encoding");

static const tg_conf_key service_keys[] = {
    TG_KEY_CUSTOM("extensions", service_conf, extensions, keep_node, NULL,
                  "extensions to start, by id"),
    TG_KEY_CUSTOM("pipelines", service_conf, pipelines, keep_node, NULL,
                  "traces[/name] and metrics[/name] pipelines"),
    TG_KEY_ENUM("telemetry.logs.level", service_conf, log_level, "info", log_levels,
                "minimum level of tailgate's own logs"),
    TG_KEY_ENUM("telemetry.logs.encoding", service_conf, log_encoding, "json", log_encodings,
                "json: one JSON object per line; console: tab-separated human-readable lines"),
    TG_KEY_STRMAP("telemetry.logs.initial_fields", service_conf, log_initial_fields,
                  "fields added to every log line (name: value)"),
    TG_KEY_STRING("telemetry.metrics.address", service_conf, metrics_address, "0.0.0.0:8888",
                  "host:port of the Prometheus endpoint for tailgate's own metrics; \"\" = off"),
    TG_KEY_ENUM("telemetry.metrics.level", service_conf, metrics_level, "normal",
                metrics_levels, "detail of tailgate's own metrics"),
    TG_KEY_BOOL("telemetry.debug_endpoints", service_conf, debug_endpoints, "false",
                "ours: serve /debug/sampling on the metrics address"),
    TG_KEY_DURATION("shutdown_timeout", service_conf, shutdown_ms, "10s", 0, 0,
                    "how long stop waits for components to flush"),
    TG_KEY_DURATION("shutdown_drain", service_conf, drain_ms, "0", 0, 86400000,
                    "ours: on SIGTERM/SIGINT, /health/ready answers 503 at once but every "
                    "component keeps running this long before the shutdown (0 = stop at "
                    "once); a second signal ends the drain"),
    TG_KEY_STRING("telemetry.traces.endpoint", service_conf, traces_endpoint, "",
                  "OTLP/HTTP URL for tailgate's own spans (e.g. http://host:4318/v1/traces); "
                  "\"\" = off"),
    TG_KEY_DOUBLE("telemetry.traces.sampling_ratio", service_conf, traces_ratio, "0.01", 0, 1,
                  "share of traces (by trace ID) that get tailgate's own spans"),
    TG_KEY_STRLIST("telemetry.traces.propagators", service_conf, traces_propagators,
                   "context formats tailgate writes on its outgoing requests: tracecontext, "
                   "b3, b3multi, jaeger, baggage (default [tracecontext])"),
};

/* Index i of a name sets bit i of tg_config.traces_propagators (main maps the bits). */
static const char *const propagator_names[] = {"tracecontext", "b3", "b3multi", "jaeger",
                                               "baggage", NULL};

static const tg_conf_key pipeline_keys[] = {
    TG_KEY_CUSTOM("receivers", pipeline_conf, receivers, keep_node, NULL, "receiver ids"),
    TG_KEY_CUSTOM("processors", pipeline_conf, processors, keep_node, NULL, "processor ids"),
    TG_KEY_CUSTOM("exporters", pipeline_conf, exporters, keep_node, NULL, "exporter ids"),
};

#define N_KEYS(t) (sizeof(t) / sizeof *(t))

/* Lists are checked for duplicates pairwise; real lists are a handful of ids. */
#define MAX_LIST 256

/* How each component is used across all pipelines (connectors need both sides). */
typedef struct usage {
  bool as_receiver, as_exporter;
} usage;

typedef struct checker {
  tg_config *cfg;
  tg_diag *diag;
  usage *used; /* parallel to cfg->components */
} checker;

static const char *signal_name(unsigned signal) {
  return signal == TG_SIGNAL_TRACES ? "traces" : "metrics";
}

static void signal_list(unsigned mask, char *buf, size_t size) {
  snprintf(buf, size, "%s%s%s", mask & TG_SIGNAL_TRACES ? "traces" : "",
           (mask & TG_SIGNAL_TRACES) && (mask & TG_SIGNAL_METRICS) ? " and " : "",
           mask & TG_SIGNAL_METRICS ? "metrics" : "");
  if (!mask)
    snprintf(buf, size, "nothing");
}

static const tg_config_component *find(const tg_config *cfg, tg_component_kind kind,
                                       const char *id) {
  return tg_config_find(cfg, kind, id);
}

enum role { ROLE_RECEIVER, ROLE_PROCESSOR, ROLE_EXPORTER };
static const char *const role_lists[] = {"receivers", "processors", "exporters"};
static const char *const role_defined[] = {"receivers: or connectors:", "processors:",
                                           "exporters: or connectors:"};

/* Resolves one id of a pipeline list and checks that it handles the signal. */
static const tg_config_component *resolve(checker *ck, const char *what, enum role role,
                                          const tg_yaml_node *item, unsigned signal) {
  const tg_config_component *c = NULL;
  if (role == ROLE_RECEIVER)
    c = find(ck->cfg, TG_RECEIVER, item->scalar);
  else if (role == ROLE_PROCESSOR)
    c = find(ck->cfg, TG_PROCESSOR, item->scalar);
  else
    c = find(ck->cfg, TG_EXPORTER, item->scalar);
  if (!c && role != ROLE_PROCESSOR)
    c = find(ck->cfg, TG_CONNECTOR, item->scalar);
  if (!c) {
    tg_diag_add(ck->diag, &item->pos, "%s: %s: \"%.100s\" is not defined under %s", what,
                role_lists[role], item->scalar, role_defined[role]);
    return NULL;
  }
  size_t index = (size_t)(c - ck->cfg->components);
  if (c->kind == TG_CONNECTOR) {
    if (role == ROLE_RECEIVER)
      ck->used[index].as_receiver = true;
    else
      ck->used[index].as_exporter = true;
  }
  if (!c->component)
    return c; /* unknown type, already reported */
  unsigned handled = c->kind == TG_CONNECTOR && role == ROLE_RECEIVER ? c->component->out_signals
                                                                     : c->component->signals;
  if (!(handled & signal)) {
    char list[32];
    signal_list(handled, list, sizeof list);
    if (c->kind == TG_CONNECTOR)
      tg_diag_add(ck->diag, &item->pos,
                  "%s: %s: connector \"%.100s\" does not %s %s (it %s %s)", what,
                  role_lists[role], item->scalar,
                  role == ROLE_RECEIVER ? "emit" : "accept", signal_name(signal),
                  role == ROLE_RECEIVER ? "emits" : "accepts", list);
    else
      tg_diag_add(ck->diag, &item->pos, "%s: %s: \"%.100s\" does not handle %s (only %s)",
                  what, role_lists[role], item->scalar, signal_name(signal), list);
  }
  return c;
}

/* One list of a pipeline; required lists must be non-empty. */
static void load_list(checker *ck, const char *what, enum role role, const tg_yaml_node *list,
                      const tg_yaml_pos *pipeline_pos, unsigned signal, tg_config_ref **out,
                      size_t *n_out) {
  const char *name = role_lists[role];
  if (!list || list->kind == TG_YAML_NULL || (list->kind == TG_YAML_SEQ && list->n == 0)) {
    /* A metrics pipeline may have no receivers: its exporters are then fed by name by a
     * spanmetrics processor (`metrics_exporter`), the Collector's processor placement. */
    if (role != ROLE_PROCESSOR && !(role == ROLE_RECEIVER && signal == TG_SIGNAL_METRICS))
      tg_diag_add(ck->diag, list ? &list->pos : pipeline_pos,
                  "%s: %s: at least one is required", what, name);
    return;
  }
  if (list->kind != TG_YAML_SEQ) {
    tg_diag_add(ck->diag, &list->pos, "%s: %s: expected a sequence of component ids, got %s",
                what, name, tg_yaml_kind_name(list->kind));
    return;
  }
  if (list->n > MAX_LIST) {
    tg_diag_add(ck->diag, &list->pos, "%s: %s: more than %d entries", what, name, MAX_LIST);
    return;
  }
  tg_config_ref *refs = tg_calloc(list->n, sizeof *refs);
  if (!refs) {
    tg_diag_add(ck->diag, &list->pos, "%s: %s: out of memory", what, name);
    return;
  }
  *out = refs;
  for (size_t i = 0; i < list->n; i++) {
    const tg_yaml_node *item = list->items[i];
    if (item->kind != TG_YAML_SCALAR) {
      tg_diag_add(ck->diag, &item->pos, "%s: %s: expected a component id, got %s", what, name,
                  tg_yaml_kind_name(item->kind));
      continue;
    }
    int dup = 0;
    for (size_t j = 0; j < i && !dup; j++)
      dup = list->items[j]->kind == TG_YAML_SCALAR && !strcmp(list->items[j]->scalar, item->scalar);
    if (dup) {
      tg_diag_add(ck->diag, &item->pos, "%s: %s: \"%.100s\" is listed twice", what, name,
                  item->scalar);
      continue;
    }
    const tg_config_component *target = resolve(ck, what, role, item, signal);
    if (!target)
      continue;
    tg_config_ref *ref = &refs[(*n_out)];
    if (!(ref->id = tg_strdup(item->scalar))) {
      tg_diag_add(ck->diag, &item->pos, "%s: out of memory", what);
      return;
    }
    ref->pos = item->pos;
    ref->target = target;
    (*n_out)++;
  }
}

/* Returns the signal of a pipeline id ("traces", "metrics/x"), or 0 after reporting. */
static unsigned pipeline_signal(checker *ck, const tg_yaml_node *key) {
  const char *id = key->scalar;
  size_t t = strcspn(id, "/");
  if (id[t] == '/' && id[t + 1] == '\0') {
    tg_diag_add(ck->diag, &key->pos,
                "service::pipelines: invalid pipeline id \"%.100s\": the name after \"/\" "
                "must not be empty", id);
    return 0;
  }
  if (t == 6 && !strncmp(id, "traces", t))
    return TG_SIGNAL_TRACES;
  if (t == 7 && !strncmp(id, "metrics", t))
    return TG_SIGNAL_METRICS;
  if (t == 4 && !strncmp(id, "logs", t))
    tg_diag_add(ck->diag, &key->pos,
                "service::pipelines::%.100s: logs pipelines are not supported (tailgate "
                "handles traces and metrics)", id);
  else
    tg_diag_add(ck->diag, &key->pos,
                "service::pipelines: unknown signal \"%.*s\" in \"%.100s\" (valid: traces, "
                "metrics)", (int)(t > 100 ? 100 : t), id, id);
  return 0;
}

static void load_pipeline(checker *ck, const tg_yaml_pair *pair) {
  unsigned signal = pipeline_signal(ck, pair->key);
  if (!signal)
    return;
  tg_config *cfg = ck->cfg;
  tg_config_pipeline *p = &cfg->pipelines[cfg->n_pipelines];
  memset(p, 0, sizeof *p);
  if (!(p->name = tg_strdup(pair->key->scalar))) {
    tg_diag_add(ck->diag, &pair->key->pos, "out of memory");
    return;
  }
  cfg->n_pipelines++;
  p->signal = signal;
  p->pos = pair->key->pos;
  char what[160];
  snprintf(what, sizeof what, "service::pipelines::%.100s", p->name);
  pipeline_conf pc = {0};
  tg_conf_apply(pipeline_keys, N_KEYS(pipeline_keys), pair->value, &pc, what, ck->diag);
  load_list(ck, what, ROLE_RECEIVER, pc.receivers, &p->pos, signal, &p->receivers,
            &p->n_receivers);
  load_list(ck, what, ROLE_PROCESSOR, pc.processors, &p->pos, signal, &p->processors,
            &p->n_processors);
  load_list(ck, what, ROLE_EXPORTER, pc.exporters, &p->pos, signal, &p->exporters,
            &p->n_exporters);
  for (size_t i = 0; i < p->n_receivers; i++) {
    const tg_config_ref *r = &p->receivers[i];
    if (r->target->kind != TG_CONNECTOR)
      continue;
    for (size_t j = 0; j < p->n_exporters; j++)
      if (p->exporters[j].target == r->target)
        tg_diag_add(ck->diag, &p->exporters[j].pos,
                    "%s: connector \"%.100s\" is both a receiver and an exporter of this "
                    "pipeline (a loop)", what, r->id);
  }
}

static void load_pipelines(checker *ck, const tg_yaml_node *node, const tg_yaml_pos *where) {
  if (!node || node->kind == TG_YAML_NULL || (node->kind == TG_YAML_MAP && node->n == 0)) {
    tg_diag_add(ck->diag, node ? &node->pos : where,
                "service: pipelines: at least one pipeline is required");
    return;
  }
  if (node->kind != TG_YAML_MAP) {
    tg_diag_add(ck->diag, &node->pos, "service: pipelines: expected a mapping, got %s",
                tg_yaml_kind_name(node->kind));
    return;
  }
  if (!(ck->cfg->pipelines = tg_calloc(node->n, sizeof *ck->cfg->pipelines))) {
    tg_diag_add(ck->diag, &node->pos, "out of memory");
    return;
  }
  for (size_t i = 0; i < node->n; i++)
    load_pipeline(ck, &node->pairs[i]);
}

static void load_extensions(checker *ck, const tg_yaml_node *node) {
  if (!node || node->kind == TG_YAML_NULL)
    return;
  if (node->kind != TG_YAML_SEQ) {
    tg_diag_add(ck->diag, &node->pos, "service: extensions: expected a sequence of ids, got %s",
                tg_yaml_kind_name(node->kind));
    return;
  }
  if (node->n == 0)
    return;
  if (node->n > MAX_LIST) {
    tg_diag_add(ck->diag, &node->pos, "service: extensions: more than %d entries", MAX_LIST);
    return;
  }
  tg_config *cfg = ck->cfg;
  if (!(cfg->extensions = tg_calloc(node->n, sizeof *cfg->extensions))) {
    tg_diag_add(ck->diag, &node->pos, "out of memory");
    return;
  }
  for (size_t i = 0; i < node->n; i++) {
    const tg_yaml_node *item = node->items[i];
    if (item->kind != TG_YAML_SCALAR) {
      tg_diag_add(ck->diag, &item->pos, "service: extensions: expected an id, got %s",
                  tg_yaml_kind_name(item->kind));
      continue;
    }
    int dup = 0;
    for (size_t j = 0; j < i && !dup; j++)
      dup = node->items[j]->kind == TG_YAML_SCALAR && !strcmp(node->items[j]->scalar, item->scalar);
    const tg_config_component *target = find(cfg, TG_EXTENSION, item->scalar);
    if (dup) {
      tg_diag_add(ck->diag, &item->pos, "service: extensions: \"%.100s\" is listed twice",
                  item->scalar);
      continue;
    }
    if (!target) {
      tg_diag_add(ck->diag, &item->pos,
                  "service: extensions: \"%.100s\" is not defined under extensions:",
                  item->scalar);
      continue;
    }
    tg_config_ref *ref = &cfg->extensions[cfg->n_extensions];
    if (!(ref->id = tg_strdup(item->scalar))) {
      tg_diag_add(ck->diag, &item->pos, "out of memory");
      return;
    }
    ref->pos = item->pos;
    ref->target = target;
    cfg->n_extensions++;
  }
}

/* `sending_queue.storage: ID` on an exporter must name a storage extension (one whose
 * descriptor offers tg_storage_ops) listed in service.extensions: start-up refuses
 * anything else (tg_queued_exporter_attach_storage), so validate does too. */
static void check_storage_refs(checker *ck) {
  const tg_config *cfg = ck->cfg;
  for (size_t i = 0; i < cfg->n_components; i++) {
    const tg_config_component *c = &cfg->components[i];
    if (c->kind != TG_EXPORTER || !c->component)
      continue;
    const tg_yaml_node *ref = tg_yaml_get(tg_yaml_get(c->node, "sending_queue"), "storage");
    if (!ref || ref->kind != TG_YAML_SCALAR || !ref->scalar)
      continue;
    const tg_config_component *ext = find(cfg, TG_EXTENSION, ref->scalar);
    int listed = 0;
    for (size_t k = 0; k < cfg->n_extensions; k++)
      listed |= !strcmp(cfg->extensions[k].id, ref->scalar);
    if (!ext || !listed)
      tg_diag_add(ck->diag, &ref->pos,
                  "exporters::%s: sending_queue.storage: \"%.100s\" is not an extension "
                  "listed in service: extensions:", c->id, ref->scalar);
    else if (ext->component && !ext->component->storage)
      tg_diag_add(ck->diag, &ref->pos,
                  "exporters::%s: sending_queue.storage: \"%.100s\" is not a storage "
                  "extension (file_storage)", c->id, ref->scalar);
  }
}

/* Connector ids share the receiver and exporter namespaces in pipelines, so a
 * connector id must not also be a receiver or exporter id (as in the Collector). */
static void check_connectors(checker *ck) {
  const tg_config *cfg = ck->cfg;
  for (size_t i = 0; i < cfg->n_components; i++) {
    const tg_config_component *c = &cfg->components[i];
    if (c->kind != TG_CONNECTOR || !c->id)
      continue;
    if (find(cfg, TG_RECEIVER, c->id) || find(cfg, TG_EXPORTER, c->id))
      tg_diag_add(ck->diag, &c->pos,
                  "connectors::%s: ambiguous id: also defined under %s", c->id,
                  find(cfg, TG_RECEIVER, c->id) ? "receivers:" : "exporters:");
    const usage *u = &ck->used[i];
    if (u->as_exporter && !u->as_receiver)
      tg_diag_add(ck->diag, &c->pos,
                  "connectors::%s: used as an exporter but not as a receiver of any pipeline "
                  "(a connector joins two pipelines)", c->id);
    else if (u->as_receiver && !u->as_exporter)
      tg_diag_add(ck->diag, &c->pos,
                  "connectors::%s: used as a receiver but not as an exporter of any pipeline "
                  "(a connector joins two pipelines)", c->id);
  }
}

/* `auth: {authenticator: ID}` anywhere in a receiver's or exporter's settings (the
 * Collector's place for it: protocols.<p>.auth on receivers, auth on exporters) must name
 * an authenticator extension that service.extensions starts, with the side the component
 * needs; start-up refuses the same (tg_auth.c), so validate and start agree. */
static void check_auth_refs(checker *ck, const tg_config_component *c, const tg_yaml_node *n,
                            int depth) {
  if (!n || n->kind != TG_YAML_MAP || depth > 8)
    return;
  for (size_t i = 0; i < n->n; i++) {
    const tg_yaml_node *key = n->pairs[i].key, *value = n->pairs[i].value;
    if (strcmp(key->scalar, "auth") != 0) {
      check_auth_refs(ck, c, value, depth + 1);
      continue;
    }
    const tg_yaml_node *name = tg_yaml_get(value, "authenticator");
    if (!name || name->kind != TG_YAML_SCALAR || !name->scalar[0])
      continue; /* the component's key table reports a missing or non-scalar value */
    const tg_config_ref *ref = NULL;
    for (size_t e = 0; e < ck->cfg->n_extensions && !ref; e++)
      if (!strcmp(ck->cfg->extensions[e].id, name->scalar))
        ref = &ck->cfg->extensions[e];
    const tg_component *ext = ref && ref->target ? ref->target->component : NULL;
    const char *why = NULL;
    if (!ref)
      why = "is not listed in service.extensions";
    else if (!ext || !ext->auth)
      why = "is not an authenticator extension (bearertokenauth, basicauth)";
    else if (c->kind == TG_RECEIVER && !ext->auth->authenticate)
      why = "cannot authenticate incoming requests";
    else if (c->kind == TG_EXPORTER && !ext->auth->client_header)
      why = "cannot add credentials to outgoing requests";
    if (why)
      tg_diag_add(ck->diag, &name->pos, "%s::%s: auth.authenticator: \"%.100s\" %s",
                  tg_component_kind_name(c->kind), c->id, name->scalar, why);
  }
}

static void check_authenticators(checker *ck) {
  for (size_t i = 0; i < ck->cfg->n_components; i++) {
    const tg_config_component *c = &ck->cfg->components[i];
    if ((c->kind == TG_RECEIVER || c->kind == TG_EXPORTER) && c->id)
      check_auth_refs(ck, c, c->node, 0);
  }
}

/* Metrics a producer emits that an exporter of the same pipeline cannot carry (delta
 * counts or exponential histograms into a Prometheus exporter) are refused here, at the
 * exporter's place in the pipeline (or at the processor placement's metrics_exporter),
 * with the exporter's reason; start refuses the same. */
static unsigned metric_traits_of(const tg_config_component *c) {
  return c && c->component && c->component->metric_traits && c->conf
             ? c->component->metric_traits(c->conf)
             : 0;
}

static void refuse_traits(checker *ck, const tg_yaml_pos *pos, const char *what,
                          const tg_config_component *producer, const tg_config_component *to,
                          unsigned traits) {
  unsigned bad = to && to->component ? traits & to->component->metric_refuses : 0;
  if (!bad)
    return;
  tg_diag_add(ck->diag, pos, "%s: exporter \"%.100s\" cannot take the metrics of \"%.100s\": "
              "they use %s, and %s", what, to->id, producer->id,
              bad & TG_MTRAIT_DELTA ? "delta temporality (aggregation_temporality: "
                                      "AGGREGATION_TEMPORALITY_DELTA)"
                                    : "exponential histograms (histogram.exponential)",
              to->component->metric_refuses_why ? to->component->metric_refuses_why
                                                : "this exporter cannot carry them");
}

static void check_metric_traits(checker *ck) {
  const tg_config *cfg = ck->cfg;
  for (size_t i = 0; i < cfg->n_pipelines; i++) {
    const tg_config_pipeline *p = &cfg->pipelines[i];
    if (p->signal != TG_SIGNAL_METRICS)
      continue;
    char what[160];
    snprintf(what, sizeof what, "service::pipelines::%.100s", p->name);
    for (size_t r = 0; r < p->n_receivers; r++) {
      unsigned traits = metric_traits_of(p->receivers[r].target);
      for (size_t e = 0; traits && e < p->n_exporters; e++)
        refuse_traits(ck, &p->exporters[e].pos, what, p->receivers[r].target,
                      p->exporters[e].target, traits);
    }
  }
  for (size_t i = 0; i < cfg->n_components; i++) {
    const tg_config_component *c = &cfg->components[i];
    unsigned traits = c->kind == TG_PROCESSOR ? metric_traits_of(c) : 0;
    const tg_yaml_node *to = traits ? tg_yaml_get(c->node, "metrics_exporter") : NULL;
    if (!to || to->kind != TG_YAML_SCALAR || !to->scalar)
      continue;
    char what[160];
    snprintf(what, sizeof what, "processors::%.100s: metrics_exporter", c->id);
    refuse_traits(ck, &to->pos, what, c, find(cfg, TG_EXPORTER, to->scalar), traits);
  }
}

void tg_config_load_service(tg_config *cfg, const tg_yaml_node *node, const tg_yaml_pos *where,
                            tg_diag *diag) {
  checker ck = {cfg, diag, NULL};
  service_conf sc = {0};
  if (!node) {
    tg_diag_add(diag, where, "service: missing (service.pipelines is required)");
    node = NULL;
  }
  tg_conf_apply(service_keys, N_KEYS(service_keys), node, &sc, "service", diag);
  cfg->log_level = sc.log_level; /* same order as tg_log_level */
  cfg->metrics_level = sc.metrics_level;
  cfg->shutdown_grace_ms = sc.shutdown_ms;
  cfg->shutdown_drain_ms = sc.drain_ms;
  cfg->debug_endpoints = sc.debug_endpoints;
  if (sc.metrics_address && sc.metrics_address[0]) {
    char host[300], why[160];
    int port;
    if (tg_endpoint_split(sc.metrics_address, host, sizeof host, &port, why, sizeof why) !=
        TG_OK) {
      const tg_yaml_node *a =
          tg_yaml_get(tg_yaml_get(tg_yaml_get(node, "telemetry"), "metrics"), "address");
      tg_diag_add(diag, a ? &a->pos : where, "service: telemetry.metrics.address: \"%s\" %s",
                  sc.metrics_address, why);
    }
    cfg->metrics_address = sc.metrics_address;
    sc.metrics_address = NULL;
  }
  if (sc.traces_endpoint && sc.traces_endpoint[0]) {
    cfg->traces_endpoint = sc.traces_endpoint;
    sc.traces_endpoint = NULL;
  }
  cfg->traces_sampling_ratio = sc.traces_ratio;
  cfg->traces_propagators = sc.traces_propagators.n ? 0 : 1u; /* default [tracecontext] */
  for (size_t i = 0; i < sc.traces_propagators.n; i++) {
    const char *name = sc.traces_propagators.items[i];
    size_t k = 0;
    while (propagator_names[k] && strcmp(propagator_names[k], name))
      k++;
    if (propagator_names[k]) {
      cfg->traces_propagators |= 1u << k;
      continue;
    }
    const tg_yaml_node *at = tg_yaml_get(
        tg_yaml_get(tg_yaml_get(node, "telemetry"), "traces"), "propagators");
    tg_diag_add(diag, at ? &at->pos : where,
                "service: telemetry.traces.propagators: unknown \"%s\" (valid: tracecontext, "
                "b3, b3multi, jaeger, baggage)",
                name);
  }
  cfg->log_encoding = sc.log_encoding; /* same order as tg_log_encoding */
  for (size_t i = 0; i < sc.log_initial_fields.n; i++) {
    const char *key = sc.log_initial_fields.keys[i];
    int reserved = !key[0];
    for (size_t k = 0; !reserved && tg_log_reserved_fields[k]; k++)
      reserved = !strcmp(key, tg_log_reserved_fields[k]);
    if (!reserved)
      continue;
    const tg_yaml_node *f =
        tg_yaml_get(tg_yaml_get(tg_yaml_get(node, "telemetry"), "logs"), "initial_fields");
    const tg_yaml_node *at = key[0] ? tg_yaml_get(f, key) : NULL;
    tg_diag_add(diag, at ? &at->pos : f ? &f->pos : where,
                "service: telemetry.logs.initial_fields: \"%s\" %s", key,
                key[0] ? "is a field every log line already has (timestamp, level, message, "
                         "service_name, component, correlation_id, error_code)"
                       : "is not a field name");
  }
  cfg->log_initial_fields = sc.log_initial_fields;
  sc.log_initial_fields = (tg_conf_strmap){0};
  tg_conf_release(service_keys, N_KEYS(service_keys), &sc);
  if (!node)
    return;
  if (cfg->n_components && !(ck.used = tg_calloc(cfg->n_components, sizeof *ck.used))) {
    tg_diag_add(diag, where, "out of memory");
    return;
  }
  load_extensions(&ck, sc.extensions);
  if (node->kind == TG_YAML_MAP || node->kind == TG_YAML_NULL)
    load_pipelines(&ck, sc.pipelines, where); /* not a mapping: reported by apply */
  if (ck.used)
    check_connectors(&ck);
  check_authenticators(&ck);
  check_storage_refs(&ck);
  check_metric_traits(&ck);
  tg_free(ck.used);
}
