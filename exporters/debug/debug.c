/* The debug exporter: writes what reaches it as JSON lines, as the Collector's `debug`
 * exporter prints it (verbosity basic | normal | detailed, the Collector's names).
 *
 *   basic:    one summary line per batch {"exporter":"debug","resource_spans":N,"spans":M}
 *   normal:   one line per span: ids (hex), name, kind, times, status, service.name
 *   detailed: one line per span with every field: resource and scope (attributes,
 *             dropped counts, schema URLs), attributes of every AnyValue type, events,
 *             links, flags, trace_state, dropped counts
 *
 * It is a debugging tool, so it runs synchronously on the caller's thread with no queue:
 * a batch is rendered into one buffer and written with one fwrite under the instance's
 * mutex (lines of concurrent batches never interleave), then flushed. `output` is
 * "stdout" (default) or a file path opened for appending in start. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "debug_json.h"
#include "tg_alloc.h"
#include "tg_component.h"
#include "tg_metrics.h"
#include "tg_service.h"

enum { DEBUG_BASIC, DEBUG_NORMAL, DEBUG_DETAILED };

typedef struct debug_conf {
  int verbosity;
  char *output;
} debug_conf;

typedef struct debug_state {
  pthread_mutex_t lock;
  int lock_inited;
  FILE *out;
  bool own_out; /* opened by us (a file), closed in destroy */
  tg_metric_cell *sent_spans;
  tg_metric_cell *failed_spans;
} debug_state;

static const char *const verbosity_values[] = {"basic", "normal", "detailed", NULL};

static const tg_conf_key debug_keys[] = {
    TG_KEY_ENUM("verbosity", debug_conf, verbosity, "basic", verbosity_values,
                "basic (a line per batch) | normal (a line per span) | detailed (every field)"),
    TG_KEY_STRING("output", debug_conf, output, "stdout",
                  "\"stdout\" or a file path to append JSON lines to"),
};

static const char *const kind_names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                         "CLIENT",      "PRODUCER", "CONSUMER"};
static const char *const status_names[] = {"UNSET", "OK", "ERROR"};

static const char *span_kind_name(int k) {
  return k >= 0 && k < 6 ? kind_names[k] : "UNKNOWN";
}
static const char *status_code_name(int c) {
  return c >= 0 && c < 3 ? status_names[c] : "UNKNOWN";
}

/* ---- rendering ---- */

/* ,"key": */
static int key(tg_buf *b, const char *k) {
  int rc = tg_buf_append(b, ",\"", 2);
  if (rc == TG_OK)
    rc = tg_buf_append_str(b, k);
  return rc ? rc : tg_buf_append(b, "\":", 2);
}

static int kv_str(tg_buf *b, const char *k, const char *v) {
  int rc = key(b, k);
  return rc ? rc : tg_debugjson_cstr(b, v);
}

static int kv_hex(tg_buf *b, const char *k, ProtobufCBinaryData d) {
  int rc = key(b, k);
  return rc ? rc : tg_debugjson_hex(b, d.data, d.len);
}

static int kv_u64(tg_buf *b, const char *k, uint64_t v) {
  int rc = key(b, k);
  return rc ? rc : tg_buf_appendf(b, "%" PRIu64, v);
}

static int kv_attrs(tg_buf *b, const char *k, tg_key_value *const *kv, size_t n) {
  int rc = key(b, k);
  return rc ? rc : tg_debugjson_attrs(b, kv, n, 0);
}

static const char *service_name(const tg_resource_spans *rs) {
  if (!rs->resource)
    return NULL;
  for (size_t i = 0; i < rs->resource->n_attributes; i++) {
    const tg_key_value *kv = rs->resource->attributes[i];
    if (kv->key && !strcmp(kv->key, "service.name") && kv->value &&
        kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
      return kv->value->string_value;
  }
  return NULL;
}

static int render_status(tg_buf *b, const tg_span *s) {
  int rc = key(b, "status");
  if (rc == TG_OK)
    rc = tg_buf_append_str(b, "{\"code\":\"");
  if (rc == TG_OK)
    rc = tg_buf_append_str(b, status_code_name(s->status ? (int)s->status->code : 0));
  if (rc == TG_OK)
    rc = tg_buf_append(b, "\"", 1);
  if (rc == TG_OK)
    rc = kv_str(b, "message", s->status ? s->status->message : NULL);
  return rc ? rc : tg_buf_append(b, "}", 1);
}

/* The fields normal and detailed share. */
static int render_span_core(tg_buf *b, const tg_resource_spans *rs, const tg_span *s) {
  int rc = tg_buf_append_str(b, "{\"exporter\":\"debug\"");
  if (rc == TG_OK)
    rc = kv_hex(b, "trace_id", s->trace_id);
  if (rc == TG_OK)
    rc = kv_hex(b, "span_id", s->span_id);
  if (rc == TG_OK)
    rc = kv_hex(b, "parent_span_id", s->parent_span_id);
  if (rc == TG_OK)
    rc = kv_str(b, "name", s->name);
  if (rc == TG_OK)
    rc = kv_str(b, "kind", span_kind_name((int)s->kind));
  if (rc == TG_OK)
    rc = kv_u64(b, "start_time_unix_nano", s->start_time_unix_nano);
  if (rc == TG_OK)
    rc = kv_u64(b, "end_time_unix_nano", s->end_time_unix_nano);
  if (rc == TG_OK)
    rc = render_status(b, s);
  if (rc == TG_OK) {
    const char *svc = service_name(rs);
    rc = key(b, "service.name");
    if (rc == TG_OK)
      rc = svc ? tg_debugjson_cstr(b, svc) : tg_buf_append_str(b, "null");
  }
  return rc;
}

static int render_span_detailed(tg_buf *b, const tg_resource_spans *rs,
                                const tg_scope_spans *ss, const tg_span *s) {
  int rc = render_span_core(b, rs, s);
  if (rc == TG_OK)
    rc = kv_str(b, "trace_state", s->trace_state);
  if (rc == TG_OK)
    rc = kv_u64(b, "flags", s->flags);
  if (rc == TG_OK)
    rc = kv_attrs(b, "attributes", s->attributes, s->n_attributes);
  if (rc == TG_OK)
    rc = kv_u64(b, "dropped_attributes_count", s->dropped_attributes_count);
  if (rc == TG_OK)
    rc = key(b, "events");
  if (rc == TG_OK)
    rc = tg_buf_append(b, "[", 1);
  for (size_t i = 0; rc == TG_OK && i < s->n_events; i++) {
    const tg_span_event *e = s->events[i];
    rc = tg_buf_appendf(b, "%s{\"time_unix_nano\":%" PRIu64, i ? "," : "", e->time_unix_nano);
    if (rc == TG_OK)
      rc = kv_str(b, "name", e->name);
    if (rc == TG_OK)
      rc = kv_attrs(b, "attributes", e->attributes, e->n_attributes);
    if (rc == TG_OK)
      rc = kv_u64(b, "dropped_attributes_count", e->dropped_attributes_count);
    if (rc == TG_OK)
      rc = tg_buf_append(b, "}", 1);
  }
  if (rc == TG_OK)
    rc = tg_buf_append(b, "]", 1);
  if (rc == TG_OK)
    rc = kv_u64(b, "dropped_events_count", s->dropped_events_count);
  if (rc == TG_OK)
    rc = key(b, "links");
  if (rc == TG_OK)
    rc = tg_buf_append(b, "[", 1);
  for (size_t i = 0; rc == TG_OK && i < s->n_links; i++) {
    const tg_span_link *l = s->links[i];
    rc = tg_buf_appendf(b, "%s{\"flags\":%" PRIu32, i ? "," : "", l->flags);
    if (rc == TG_OK)
      rc = kv_hex(b, "trace_id", l->trace_id);
    if (rc == TG_OK)
      rc = kv_hex(b, "span_id", l->span_id);
    if (rc == TG_OK)
      rc = kv_str(b, "trace_state", l->trace_state);
    if (rc == TG_OK)
      rc = kv_attrs(b, "attributes", l->attributes, l->n_attributes);
    if (rc == TG_OK)
      rc = kv_u64(b, "dropped_attributes_count", l->dropped_attributes_count);
    if (rc == TG_OK)
      rc = tg_buf_append(b, "}", 1);
  }
  if (rc == TG_OK)
    rc = tg_buf_append(b, "]", 1);
  if (rc == TG_OK)
    rc = kv_u64(b, "dropped_links_count", s->dropped_links_count);
  /* resource and scope, repeated on every line so each line stands alone */
  const tg_resource *res = rs->resource;
  const tg_scope *sc = ss->scope;
  if (rc == TG_OK)
    rc = key(b, "resource");
  if (rc == TG_OK)
    rc = tg_buf_appendf(b, "{\"dropped_attributes_count\":%" PRIu32,
                        res ? res->dropped_attributes_count : 0);
  if (rc == TG_OK)
    rc = kv_attrs(b, "attributes", res ? res->attributes : NULL, res ? res->n_attributes : 0);
  if (rc == TG_OK)
    rc = kv_str(b, "schema_url", rs->schema_url);
  if (rc == TG_OK)
    rc = tg_buf_append(b, "}", 1);
  if (rc == TG_OK)
    rc = key(b, "scope");
  if (rc == TG_OK)
    rc = tg_buf_appendf(b, "{\"dropped_attributes_count\":%" PRIu32,
                        sc ? sc->dropped_attributes_count : 0);
  if (rc == TG_OK)
    rc = kv_str(b, "name", sc ? sc->name : NULL);
  if (rc == TG_OK)
    rc = kv_str(b, "version", sc ? sc->version : NULL);
  if (rc == TG_OK)
    rc = kv_attrs(b, "attributes", sc ? sc->attributes : NULL, sc ? sc->n_attributes : 0);
  if (rc == TG_OK)
    rc = kv_str(b, "schema_url", ss->schema_url);
  if (rc == TG_OK)
    rc = tg_buf_append(b, "}", 1);
  return rc;
}

static int render(tg_buf *b, int verbosity, const tg_batch *batch) {
  const tg_export_request *req = &batch->request;
  if (verbosity == DEBUG_BASIC)
    return tg_buf_appendf(b, "{\"exporter\":\"debug\",\"resource_spans\":%zu,\"spans\":%zu}\n",
                          req->n_resource_spans, batch->span_count);
  int rc = TG_OK;
  for (size_t r = 0; rc == TG_OK && r < req->n_resource_spans; r++) {
    const tg_resource_spans *rs = req->resource_spans[r];
    for (size_t s = 0; rc == TG_OK && s < rs->n_scope_spans; s++) {
      const tg_scope_spans *ss = rs->scope_spans[s];
      for (size_t i = 0; rc == TG_OK && i < ss->n_spans; i++) {
        rc = verbosity == DEBUG_DETAILED ? render_span_detailed(b, rs, ss, ss->spans[i])
                                         : render_span_core(b, rs, ss->spans[i]);
        if (rc == TG_OK)
          rc = tg_buf_append(b, "}\n", 2);
      }
    }
  }
  return rc;
}

/* ---- lifecycle ---- */

static void debug_destroy(tg_instance *self) {
  debug_state *st = self->state;
  if (!st)
    return;
  if (st->own_out && st->out)
    fclose(st->out);
  if (st->lock_inited)
    pthread_mutex_destroy(&st->lock);
  tg_free(st);
  self->state = NULL;
}

static tg_metric_cell *counter(tg_instance *self, const char *name, const char *help) {
  if (!self->service || !self->service->metrics)
    return NULL;
  static const char *const labels[] = {"exporter", NULL};
  tg_metric_family *f =
      tg_metrics_family(self->service->metrics, name, help, TG_METRIC_COUNTER, labels);
  const char *const values[] = {self->id ? self->id : "debug"};
  return f ? tg_metrics_series(f, values) : NULL;
}

static int debug_create(tg_instance *self, tg_errbuf *err) {
  const char *id = self->id ? self->id : "debug";
  const debug_conf *c = self->conf;
  if (c && (c->verbosity < DEBUG_BASIC || c->verbosity > DEBUG_DETAILED))
    return tg_errf(err, TG_ECONFIG, "%s: bad verbosity", id);
  if (c && c->output && !*c->output)
    return tg_errf(err, TG_ECONFIG, "%s: output must be \"stdout\" or a file path", id);
  debug_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = st;
  if (pthread_mutex_init(&st->lock, NULL)) {
    debug_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: cannot create mutex", id);
  }
  st->lock_inited = 1;
  st->sent_spans = counter(self, "tailgate_exporter_sent_spans_total",
                           "Spans an exporter delivered (accepted by its destination).");
  st->failed_spans = counter(self, "tailgate_exporter_send_failed_spans_total",
                             "Spans an exporter gave up on.");
  return TG_OK;
}

static int debug_start(tg_instance *self, tg_errbuf *err) {
  debug_state *st = self->state;
  const debug_conf *c = self->conf;
  if (st->out)
    return TG_OK;
  if (!c || !c->output || !strcmp(c->output, "stdout")) {
    st->out = stdout;
    return TG_OK;
  }
  st->out = fopen(c->output, "a");
  if (!st->out)
    return tg_errf(err, TG_EIO, "%s: cannot open output \"%s\": %s",
                   self->id ? self->id : "debug", c->output, strerror(errno));
  st->own_out = true;
  return TG_OK;
}

static int debug_consume(tg_instance *self, tg_batch *batch) {
  debug_state *st = self->state;
  const debug_conf *c = self->conf;
  if (!batch)
    return TG_OK;
  size_t spans = batch->span_count;
  tg_buf b;
  tg_buf_init(&b, 0);
  /* Spans still in wire form are decoded here (we hold the batch alone, or the fan-out
   * decoded it already because this exporter declares reads_spans). */
  int rc = tg_batch_materialize(batch);
  if (rc == TG_OK)
    rc = render(&b, c ? c->verbosity : DEBUG_BASIC, batch);
  tg_batch_free(batch);
  if (rc == TG_OK) {
    FILE *out = st->out ? st->out : stdout;
    pthread_mutex_lock(&st->lock);
    if (b.len && fwrite(b.data, 1, b.len, out) != b.len)
      rc = TG_EIO;
    if (fflush(out))
      rc = TG_EIO;
    pthread_mutex_unlock(&st->lock);
  }
  tg_buf_free(&b);
  tg_metric_add(rc == TG_OK ? st->sent_spans : st->failed_spans, (int64_t)spans);
  return rc;
}

static void debug_stop(tg_instance *self, tg_stop_done_fn done) {
  debug_state *st = self->state;
  if (st && st->out) {
    pthread_mutex_lock(&st->lock);
    fflush(st->out);
    pthread_mutex_unlock(&st->lock);
  }
  done(self);
}

const tg_component tg_exporter_debug = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .reads_spans = 1,
    .type = "debug",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(debug_conf),
    .keys = debug_keys,
    .n_keys = sizeof debug_keys / sizeof debug_keys[0],
    .conf_check = NULL,
    .ops = {.create = debug_create,
            .start = debug_start,
            .consume = debug_consume,
            .stop = debug_stop,
            .destroy = debug_destroy},
    .doc = "Writes traces as JSON lines to stdout or a file (verbosity basic | normal | "
           "detailed), synchronously; for debugging.",
};
