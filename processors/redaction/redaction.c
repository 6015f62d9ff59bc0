/* redaction processor: the descriptor and lifecycle. It pseudonymises, masks and deletes
 * attributes (policy in redaction_engine.h) before any other component sees them, so no
 * raw personal value reaches span metrics, samplers, exporters or logs.
 *
 * It edits spans: the descriptor says `mutates` (a fan-out hands it a private clone) and
 * `reads_spans`. As the sole holder it rewrites wire segments in their wire form (or, for
 * policies that need it, decodes them: tg_redactor_batch) and allocates replacement
 * strings and segments from the batch's own arena. If redaction cannot finish a
 * batch (out of memory) the batch is dropped, never passed on half-redacted: fail closed.
 *
 * The key: pseudonymize.key_file or the variable named by pseudonymize.key_env, read at
 * create; with neither, a random key and a warning (pseudonyms then change on restart).
 * The key and everything derived from it live only in the state and are wiped on destroy;
 * no message or metric mentions them. */
#include <stdio.h>
#include <string.h>

#include "redaction_conf.h"
#include "redaction_engine.h"
#include "redaction_key.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_processor_drop.h"
#include "tg_service.h"

typedef struct redaction_state {
  tg_redactor redactor;
  tg_metric_cell *pseudonymized, *masked, *deleted, *dropped_spans;
  tg_metric_cell *pseudonymised_values; /* tailgate_processor_pseudonymised_values_total */
  int random_key; /* pseudonymising with a random key (none configured) */
} redaction_state;

static int redaction_create(tg_instance *self, tg_errbuf *err) {
  const tg_redaction_conf *conf = self->conf;
  redaction_state *st = tg_calloc(1, sizeof *st);
  tg_redaction_key *key = tg_calloc(1, sizeof *key);
  if (!st || !key) {
    tg_free(st);
    tg_free(key);
    return tg_errf(err, TG_ENOMEM, "out of memory");
  }
  char why[512];
  int which;
  int rc = tg_redaction_key_load(conf->key_env, conf->key_file, key, &which, why, sizeof why);
  if (rc == TG_OK && !key->configured) {
    rc = tg_redaction_key_random(key);
    st->random_key = rc == TG_OK && (conf->pseudo_keys.n || conf->pseudo_key_patterns.n);
    if (st->random_key)
      TG_LOG_WARN(self->service ? self->service->log : NULL, self->id,
                  "no pseudonymisation key configured (%s%s%s): using a random key; "
                  "pseudonyms will not be stable across restarts or replicas",
                  conf->key_env ? "environment variable " : "set pseudonymize.key_env or key_file",
                  conf->key_env ? conf->key_env : "", conf->key_env ? " is unset" : "");
    else if (rc != TG_OK)
      snprintf(why, sizeof why, "cannot generate a random key");
  }
  if (rc == TG_OK)
    rc = tg_redactor_build(&st->redactor, conf, key->bytes, key->len, why, sizeof why);
  tg_redaction_key_clear(key);
  tg_free(key);
  if (rc != TG_OK) {
    tg_free(st);
    return tg_errf(err, rc, "%s", rc == TG_ENOMEM ? "out of memory" : why);
  }
  self->state = st;
  return TG_OK;
}

static int redaction_start(tg_instance *self, tg_errbuf *err) {
  redaction_state *st = self->state;
  tg_metrics *m = self->service->metrics;
  const char *const labels[] = {"processor", "action", NULL};
  tg_metric_family *f =
      tg_metrics_family(m, "tailgate_processor_redactions_total",
                        "Attributes and texts a redaction processor changed, by action.",
                        TG_METRIC_COUNTER, labels);
  const char *p[] = {self->id, "pseudonymize"}, *k[] = {self->id, "mask"},
             *d[] = {self->id, "delete"};
  st->pseudonymized = tg_metrics_series(f, p);
  st->masked = tg_metrics_series(f, k);
  st->deleted = tg_metrics_series(f, d);
  const char *const proc_label[] = {"processor", NULL};
  const char *proc_value[] = {self->id};
  st->dropped_spans = tg_processor_dropped_spans(self);
  st->pseudonymised_values = tg_metrics_series(
      tg_metrics_family(m, "tailgate_processor_pseudonymised_values_total",
                        "Attribute values a redaction processor replaced by their keyed "
                        "pseudonym.",
                        TG_METRIC_COUNTER, proc_label),
      proc_value);
  tg_metric_set(tg_metrics_series(
                    tg_metrics_family(m, "tailgate_processor_redaction_random_key",
                                      "1 when a redaction processor pseudonymises with a "
                                      "random key (no key configured: pseudonyms change on "
                                      "restart and differ between replicas), else 0.",
                                      TG_METRIC_GAUGE, proc_label),
                    proc_value),
                st->random_key);
  (void)err;
  return TG_OK;
}

static int redaction_consume(tg_instance *self, tg_batch *batch) {
  redaction_state *st = self->state;
  tg_redactor *r = &st->redactor;
  r->counts = (tg_redaction_counts){0};
  int rc = tg_redactor_batch(r, batch);
  if (rc == TG_OK) {
    tg_metric_add(st->pseudonymized, (int64_t)r->counts.pseudonymized);
    tg_metric_add(st->pseudonymised_values, (int64_t)r->counts.pseudonymized);
    tg_metric_add(st->masked, (int64_t)r->counts.masked);
    tg_metric_add(st->deleted, (int64_t)r->counts.deleted);
  }
  if (rc != TG_OK) /* never pass on a batch that is not fully redacted */
    return tg_processor_drop_batch(self, st->dropped_spans, batch, rc,
                                   "redaction could not complete");
  return tg_consumer_push(&self->next, batch);
}

static void redaction_destroy(tg_instance *self) {
  redaction_state *st = self->state;
  if (!st)
    return;
  tg_redactor_free(&st->redactor);
  tg_free(st);
  self->state = NULL;
}

const tg_component tg_processor_redaction = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_PROCESSOR,
    .type = "redaction",
    .signals = TG_SIGNAL_TRACES,
    .mutates = 1,
    .reads_spans = 1,
    .conf_size = sizeof(tg_redaction_conf),
    .keys = tg_redaction_conf_keys,
    .n_keys = TG_REDACTION_CONF_N_KEYS,
    .conf_check = tg_redaction_conf_check,
    .ops = {.create = redaction_create, .start = redaction_start,
            .consume = redaction_consume, .destroy = redaction_destroy},
    .doc = "pseudonymises, masks and deletes personal data in span attributes",
};
