/* The prometheus exporter: serves the series of every metric source that reaches it
 * (core/tg_metric_source.h) on GET /metrics, as the Collector's `prometheus` exporter.
 *
 * Rendering happens at scrape time on the loop thread (where the sources aggregate), so
 * a scrape is always current and needs no lock. Format by the scraper's Accept header:
 * OpenMetrics 1.0 (with exemplars, `# EOF`) when asked for, text 0.0.4 otherwise; gzip
 * when Accept-Encoding allows it. `enable_open_metrics` defaults to true here (the
 * Collector's default is false) because exemplars only exist in OpenMetrics and Jaeger
 * SPM / Grafana exemplar links are the point of the component.
 *
 * Streaming: a scrape is a tg_http_body_stream (core/tg_http_server.h). The handler only
 * opens a tg_prom_stream (the sources snapshot their series through their cursors); the
 * server then asks for one slice of about 128 KiB per write completion, which this file
 * renders (and gzips, with one zlib stream per scrape) on the loop thread. So any number
 * of series is served with memory of a few slices and zlib's state, the loop is held for
 * one slice at a time (measured in docs/BENCHMARKS.md), and a slow scraper only slows its
 * own scrape. Concurrent scrapes are capped (MAX_SCRAPES; more get 503 + Retry-After), as
 * each holds a snapshot of the series pointers. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "prom_gzip.h"
#include "prom_render.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_component.h"
#include "tg_http_server.h"
#include "tg_service.h"

#define MAX_SOURCES 16
/* Scrapes in progress at once (each holds a series snapshot and, gzipped, zlib's state). */
#define MAX_SCRAPES 4
/* Uncompressed text rendered per gzip slice: level-1 deflate of 128 KiB took up to 5 ms
 * of CPU in the 100k-series bench, 64 KiB keeps a slice near 2 ms (docs/BENCHMARKS.md). */
#define GZIP_TEXT_SLICE (64u << 10)

typedef struct prom_conf {
  char *endpoint;
  char *namespace_;
  tg_conf_strmap const_labels;
  bool enable_open_metrics;
  char *tls_cert_file, *tls_key_file;
  bool send_timestamps;
  uint64_t metric_expiration_ms;
  bool resource_to_telemetry;
  bool add_metric_suffixes;
} prom_conf;

#define C prom_conf
static const tg_conf_key prom_keys[] = {
    TG_KEY_STRING("endpoint", C, endpoint, "0.0.0.0:8889", "host:port serving /metrics"),
    TG_KEY_STRING("namespace", C, namespace_, NULL, "prefix added to every metric name"),
    TG_KEY_STRMAP("const_labels", C, const_labels, "labels added to every series"),
    TG_KEY_BOOL("enable_open_metrics", C, enable_open_metrics, "true",
                "answer OpenMetrics (with exemplars) when the scraper asks for it"),
    TG_KEY_STRING("tls.cert_file", C, tls_cert_file, NULL, "PEM certificate: serve HTTPS"),
    TG_KEY_STRING("tls.key_file", C, tls_key_file, NULL, "PEM private key"),
    TG_KEY_BOOL("send_timestamps", C, send_timestamps, "false",
                "write the scrape time after every sample"),
    TG_KEY_DURATION("metric_expiration", C, metric_expiration_ms, "5m", 0, 0,
                    "leave out series that counted nothing for this long (0 = never)"),
    TG_KEY_BOOL("resource_to_telemetry_conversion.enabled", C, resource_to_telemetry, "false",
                "resource attributes (spanmetrics resource_metrics_key_attributes) as labels"),
    TG_KEY_BOOL("add_metric_suffixes", C, add_metric_suffixes, "true",
                "unit suffix (_milliseconds) and _total on counters (text format)"),
};
#undef C

typedef struct prom_state {
  tg_instance *self;
  const prom_conf *conf;
  tg_http_server *server;
  const tg_metric_source *sources[MAX_SOURCES];
  size_t n_sources;
  char *prefix;       /* "ns_" or NULL */
  char *const_labels; /* rendered, or NULL */
  int stopping;
  tg_stop_done_fn stop_done;
  size_t n_scrapes; /* in progress */
  tg_metric_cell *m_scrapes, *m_scrape_errors, *m_busy;
  tg_metric_cell *m_last_bytes, *m_bytes;
  /* rendered in seconds by collect_timings (the registry holds integers) */
  _Atomic int64_t last_scrape_ns, last_slice_ns, last_slice_cpu_ns;
  tg_metrics *reg; /* where collect_timings is registered */
} prom_state;

/* One scrape being streamed: freed by scrape_release (the server calls it exactly once). */
typedef struct prom_scrape {
  prom_state *st;
  tg_prom_render_opts opts;
  tg_prom_stream *render;
  int gzip;
  tg_prom_gzip_stream gz;
  tg_buf text; /* gzip: the uncompressed slice */
  uint64_t start_ns, max_slice_ns, max_slice_cpu_ns, bytes;
} prom_scrape;

/* CPU time of the calling (loop) thread: a slice's own cost, without the time the OS gave
 * other threads meanwhile (wall time on a busy machine says more about the scheduler). */
static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int label_name_ok(const char *s) {
  if (!*s || (*s >= '0' && *s <= '9'))
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return 0;
  return 1;
}

static void prom_conf_check(const void *vc, const tg_yaml_node *node, const char *what,
                            tg_diag *diag) {
  const prom_conf *c = vc;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  if (!c->endpoint || !*c->endpoint)
    tg_diag_add(diag, pos, "%s: endpoint: must not be empty", what);
  if (!c->tls_cert_file != !c->tls_key_file)
    tg_diag_add(diag, pos, "%s: tls.cert_file and tls.key_file must be set together", what);
  for (size_t i = 0; i < c->const_labels.n; i++)
    if (!label_name_ok(c->const_labels.keys[i]))
      tg_diag_add(diag, pos, "%s: const_labels: \"%.100s\" is not a valid label name", what,
                  c->const_labels.keys[i]);
  if (c->namespace_ && *c->namespace_ && !label_name_ok(c->namespace_))
    tg_diag_add(diag, pos, "%s: namespace: \"%.100s\" must be [a-zA-Z_][a-zA-Z0-9_]*", what,
                c->namespace_);
}

static void collect_timings(void *ctx, tg_buf *out);

static void prom_destroy(tg_instance *self) {
  prom_state *st = self->state;
  if (!st)
    return;
  if (st->server) /* never started, or stop was skipped: close without a callback */
    tg_http_server_close(st->server, NULL, NULL);
  if (st->reg)
    tg_metrics_remove_collector(st->reg, collect_timings, st);
  tg_free(st->prefix);
  tg_free(st->const_labels);
  tg_free(st);
  self->state = NULL;
}

static int prom_create(tg_instance *self, tg_errbuf *err) {
  const prom_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "no configuration");
  prom_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  self->state = st;
  st->self = self;
  st->conf = c;
  int rc = TG_OK;
  if (c->namespace_ && *c->namespace_) {
    size_t n = strlen(c->namespace_);
    st->prefix = tg_malloc(n + 2);
    if (st->prefix) {
      memcpy(st->prefix, c->namespace_, n);
      memcpy(st->prefix + n, "_", 2);
    } else {
      rc = TG_ENOMEM;
    }
  }
  if (!rc && c->const_labels.n) {
    tg_buf b;
    tg_buf_init(&b, 0);
    for (size_t i = 0; !rc && i < c->const_labels.n; i++) {
      rc = tg_buf_appendf(&b, "%s%s=\"", i ? "," : "", c->const_labels.keys[i]);
      for (const char *p = c->const_labels.values[i]; !rc && *p; p++)
        rc = *p == '\\' ? tg_buf_append(&b, "\\\\", 2)
             : *p == '"' ? tg_buf_append(&b, "\\\"", 2)
             : *p == '\n' ? tg_buf_append(&b, "\\n", 2)
                          : tg_buf_append(&b, p, 1);
      if (!rc)
        rc = tg_buf_append(&b, "\"", 1);
    }
    if (!rc)
      rc = tg_buf_append(&b, "", 1);
    if (!rc)
      st->const_labels = (char *)tg_buf_steal(&b, NULL);
    tg_buf_free(&b);
  }
  if (rc) {
    prom_destroy(self);
    return tg_errf(err, rc, "out of memory");
  }
  return TG_OK;
}

static int accepts_gzip(const char *ae) {
  for (const char *p = ae; p && (p = strstr(p, "gzip")); p += 4) {
    const char *q = p + 4;
    while (*q == ' ')
      q++;
    if (*q == ';') { /* gzip;q=0 refuses it */
      const char *v = strstr(q, "q=");
      if (v && strtod(v + 2, NULL) == 0.0)
        return 0;
    }
    return 1;
  }
  return 0;
}

static void scrape_release(void *ctx) {
  prom_scrape *sc = ctx;
  sc->st->n_scrapes--;
  tg_prom_stream_free(sc->render);
  tg_prom_gzip_end(&sc->gz);
  tg_buf_free(&sc->text);
  tg_free(sc);
}

/* One slice of the body (tg_http_body_stream.next). */
static int scrape_next(void *ctx, tg_buf *out, size_t max_bytes, int *done) {
  prom_scrape *sc = ctx;
  prom_state *st = sc->st;
  uint64_t t0 = uv_hrtime(), c0 = thread_cpu_ns();
  int rc = st->stopping ? TG_ECLOSED : TG_OK; /* sources may be stopped: no collecting */
  *done = 0;
  if (!rc && !sc->gzip) {
    rc = tg_prom_stream_next(sc->render, out, max_bytes, done);
  } else {
    /* One text slice per call. zlib would hold it back (a deflate block spans megabytes
     * of this text), and an empty slice is not allowed: flush it out then. */
    sc->text.len = 0;
    rc = tg_prom_stream_next(sc->render, &sc->text, GZIP_TEXT_SLICE, done);
    if (!rc)
      rc = tg_prom_gzip_feed(&sc->gz, sc->text.data, sc->text.len,
                             *done ? TG_PROM_GZ_FINISH : TG_PROM_GZ_NONE, out);
    if (!rc && !*done && !out->len)
      rc = tg_prom_gzip_feed(&sc->gz, NULL, 0, TG_PROM_GZ_SYNC, out);
    if (sc->text.cap > 2 * GZIP_TEXT_SLICE)
      tg_buf_free(&sc->text);
  }
  uint64_t t1 = uv_hrtime(), c1 = thread_cpu_ns();
  if (t1 - t0 > sc->max_slice_ns)
    sc->max_slice_ns = t1 - t0;
  if (c1 - c0 > sc->max_slice_cpu_ns)
    sc->max_slice_cpu_ns = c1 - c0;
  sc->bytes += out->len;
  if (rc != TG_OK) {
    tg_metric_add(st->m_scrape_errors, 1);
    if (st->self->service && st->self->service->log)
      TG_LOG_WARN(st->self->service->log, st->self->id,
                  "scrape rendering failed after %llu bytes: %s (the response is cut short)",
                  (unsigned long long)sc->bytes, tg_strerror(rc));
    return rc;
  }
  tg_metric_add(st->m_bytes, (int64_t)out->len);
  if (*done) {
    atomic_store(&st->last_scrape_ns, (int64_t)(t1 - sc->start_ns));
    tg_metric_set(st->m_last_bytes, (int64_t)sc->bytes);
    atomic_store(&st->last_slice_ns, (int64_t)sc->max_slice_ns);
    atomic_store(&st->last_slice_cpu_ns, (int64_t)sc->max_slice_cpu_ns);
  }
  return TG_OK;
}

static void on_metrics(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  prom_state *st = ctx;
  tg_metric_add(st->m_scrapes, 1);
  if (st->stopping || st->n_scrapes >= MAX_SCRAPES) {
    if (!st->stopping)
      tg_metric_add(st->m_busy, 1);
    resp->status = 503;
    resp->content_type = "text/plain; charset=utf-8";
    tg_http_response_add_header(resp, "retry-after", "1");
    tg_buf_append_str(&resp->body, st->stopping ? "stopping\n"
                                                : "too many scrapes in progress\n");
    return;
  }
  tg_prom_format fmt = st->conf->enable_open_metrics
                           ? tg_prom_negotiate(tg_http_request_header(req, "accept"))
                           : TG_PROM_TEXT;
  prom_scrape *sc = tg_calloc(1, sizeof *sc);
  int rc = sc ? TG_OK : TG_ENOMEM;
  if (!rc) {
    sc->st = st;
    const prom_conf *pc = st->conf;
    uint64_t now_mono = tg_clock_mono_ms();
    sc->opts = (tg_prom_render_opts){
        .format = fmt,
        .name_prefix = st->prefix,
        .const_labels = st->const_labels,
        .timestamp_ms = pc->send_timestamps ? tg_clock_unix_nano() / 1000000u : 0,
        .resource_labels = pc->resource_to_telemetry,
        .no_suffixes = !pc->add_metric_suffixes,
        .expire_ms = pc->metric_expiration_ms,
        .now_mono_ms = now_mono};
    sc->start_ns = uv_hrtime();
    tg_buf_init(&sc->text, 0);
    sc->gzip = accepts_gzip(tg_http_request_header(req, "accept-encoding"));
    sc->render = tg_prom_stream_new(st->sources, st->n_sources, &sc->opts);
    rc = !sc->render ? TG_ENOMEM : sc->gzip ? tg_prom_gzip_begin(&sc->gz) : TG_OK;
  }
  if (rc != TG_OK) {
    if (sc) {
      st->n_scrapes++;
      scrape_release(sc);
    }
    tg_metric_add(st->m_scrape_errors, 1);
    resp->status = 500;
    resp->content_type = "text/plain; charset=utf-8";
    tg_buf_append_str(&resp->body, "rendering failed\n");
    return;
  }
  st->n_scrapes++;
  resp->status = 200;
  resp->content_type = fmt == TG_PROM_OPENMETRICS
                           ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                           : "text/plain; version=0.0.4; charset=utf-8";
  if (sc->gzip)
    tg_http_response_add_header(resp, "content-encoding", "gzip");
  resp->stream = (tg_http_body_stream){scrape_next, scrape_release, sc};
}

/* Scrape timings in seconds (a registry cell is an integer). With two prometheus
 * exporters the two families would repeat; the default and the compose config have one. */
static void collect_timings(void *ctx, tg_buf *out) {
  prom_state *st = ctx;
  static const char *const name[3] = {
      "tailgate_exporter_prometheus_last_scrape_duration_seconds",
      "tailgate_exporter_prometheus_last_scrape_longest_slice_seconds",
      "tailgate_exporter_prometheus_last_scrape_longest_slice_cpu_seconds"};
  static const char *const help[3] = {
      "Time from the request to the last byte handed to the socket, last complete scrape.",
      "Longest wall time the loop thread spent on one slice of the last complete scrape.",
      "Longest CPU time the loop thread spent on one slice of the last complete scrape."};
  int64_t v[3] = {atomic_load(&st->last_scrape_ns), atomic_load(&st->last_slice_ns),
                  atomic_load(&st->last_slice_cpu_ns)};
  for (int i = 0; i < 3; i++) {
    tg_buf_appendf(out, "# HELP %s %s\n# TYPE %s gauge\n%s{exporter=\"", name[i], help[i],
                   name[i], name[i]);
    tg_metrics_escape_label(out, st->self->id);
    tg_buf_appendf(out, "\"} %.9f\n", (double)v[i] / 1e9);
  }
}

static int prom_start(tg_instance *self, tg_errbuf *err) {
  prom_state *st = self->state;
  const prom_conf *c = st->conf;
  tg_service *svc = self->service;
  if (svc && svc->metrics) {
    const char *const lbl[] = {"exporter", NULL};
    const char *val[] = {self->id};
    st->m_scrapes = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_prometheus_scrapes_total",
                          "Scrapes answered by a prometheus exporter.", TG_METRIC_COUNTER,
                          lbl),
        val);
    st->m_scrape_errors = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_prometheus_scrape_errors_total",
                          "Render failures: scrapes a prometheus exporter answered 500 or cut "
                          "short (should stay 0).",
                          TG_METRIC_COUNTER, lbl),
        val);
    st->m_busy = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_prometheus_scrapes_refused_total",
                          "Scrapes answered 503 because 4 were already in progress.",
                          TG_METRIC_COUNTER, lbl),
        val);
    st->m_last_bytes = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_prometheus_last_scrape_bytes",
                          "Body bytes of the last scrape (after gzip when used).",
                          TG_METRIC_GAUGE, lbl),
        val);
    st->m_bytes = tg_metrics_series(
        tg_metrics_family(svc->metrics, "tailgate_exporter_prometheus_scrape_bytes_total",
                          "Body bytes served to scrapers (after gzip when used).",
                          TG_METRIC_COUNTER, lbl),
        val);
    if (tg_metrics_add_collector(svc->metrics, collect_timings, st) == TG_OK)
      st->reg = svc->metrics;
  }
  tg_http_server_options opts = {.endpoint = c->endpoint,
                                 .tls_cert_file = c->tls_cert_file,
                                 .tls_key_file = c->tls_key_file,
                                 .max_body_bytes = 4096,
                                 .max_connections = 64,
                                 .log = svc ? svc->log : NULL,
                                 .name = self->id};
  st->server = tg_http_server_create(svc->loop, &opts, err);
  if (!st->server)
    return err->msg[0] ? TG_EIO : tg_errf(err, TG_EIO, "cannot serve %s", c->endpoint);
  tg_http_route route = {"GET", "/metrics", 0, on_metrics, st};
  if (tg_http_server_add_route(st->server, &route) != TG_OK)
    return tg_errf(err, TG_ENOMEM, "out of memory");
  int rc = tg_http_server_start(st->server, err);
  if (rc != TG_OK)
    return rc;
  if (svc->log)
    TG_LOG_INFO(svc->log, self->id, "serving metrics on http://%s/metrics", c->endpoint);
  return TG_OK;
}

static int prom_consume(tg_instance *self, tg_batch *batch) {
  prom_state *st = self->state;
  const tg_metric_source *src = batch->metrics;
  tg_batch_free(batch);
  if (src && (src->delta || src->exponential))
    return TG_ECONFIG; /* validate says why (metric_refuses_why) */
  if (!src)
    return TG_OK; /* nothing to serve in a batch without a source */
  for (size_t i = 0; i < st->n_sources; i++)
    if (st->sources[i] == src)
      return TG_OK;
  if (st->n_sources == MAX_SOURCES)
    return TG_ETOOBIG;
  st->sources[st->n_sources++] = src;
  return TG_OK;
}

static void on_closed(void *ctx) {
  prom_state *st = ctx;
  tg_stop_done_fn done = st->stop_done;
  st->stop_done = NULL;
  if (done)
    done(st->self);
}

static void prom_stop(tg_instance *self, tg_stop_done_fn done) {
  prom_state *st = self->state;
  st->stopping = 1; /* sources may already be stopped: no more collecting */
  tg_http_server *srv = st->server;
  st->server = NULL;
  if (!srv) {
    done(self);
    return;
  }
  st->stop_done = done;
  tg_http_server_close(srv, on_closed, st);
}

static int prom_ready(const tg_instance *self) {
  const prom_state *st = self->state;
  return st && st->server && !st->stopping;
}

/* Port bound after start (tests listen on port 0). */
int tg_prometheus_exporter_port(const tg_instance *self);
int tg_prometheus_exporter_port(const tg_instance *self) {
  const prom_state *st = self->state;
  return st && st->server ? tg_http_server_port(st->server) : -1;
}

const tg_component tg_exporter_prometheus = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "prometheus",
    .signals = TG_SIGNAL_METRICS,
    .metric_refuses = TG_MTRAIT_DELTA | TG_MTRAIT_EXPONENTIAL,
    .metric_refuses_why =
        "Prometheus scrapes cumulative counters and its text formats have no "
        "exponential histograms: send them with an otlp or otlphttp exporter, or "
        "use AGGREGATION_TEMPORALITY_CUMULATIVE and explicit buckets here",
    .conf_size = sizeof(prom_conf),
    .keys = prom_keys,
    .n_keys = sizeof prom_keys / sizeof prom_keys[0],
    .conf_check = prom_conf_check,
    .ops = {.create = prom_create,
            .start = prom_start,
            .consume = prom_consume,
            .stop = prom_stop,
            .destroy = prom_destroy,
            .ready = prom_ready},
    .doc = "Serves metrics (span metrics) on /metrics: Prometheus text 0.0.4, or "
           "OpenMetrics 1.0 with exemplars when the scraper asks; gzip.",
};
