/* The loadbalancing exporter: routes each span to one of a changing set of OTLP/gRPC
 * backends by a consistent hash of its routing key (the trace ID by default), so a tier
 * of tail samplers behind it sees every span of a trace in one place. The Collector's
 * keys: routing_key, routing_attributes, protocol.otlp (the otlp exporter's settings, a
 * template for every backend), resolver.static / resolver.dns; ours: routing_stickiness,
 * routing_stickiness_max_traces, resolver.dns.nameserver.
 *
 * Data path (loop thread): consume splits the batch per backend on its wire form
 * (lb_split.c: wire segments are walked, spans copied verbatim, never decoded; a decoded
 * batch is packed once first), wraps each part as a request and queues it on that
 * backend's sender (lb_backend.c). Back-pressure: while any backend's queue is full,
 * consume answers TG_EAGAIN and takes nothing.
 *
 * Membership (loop thread): the resolver (lb_resolver.c) hands over the endpoint list;
 * new endpoints get a sender, vanished ones leave: their queued requests, and later
 * every request whose send fails while leaving, are split again over the new ring.
 * Requests that find the ring empty wait in `pending` (bounded by what was accepted
 * while the ring was not empty) until an endpoint appears.
 *
 * Stickiness (lb_sticky.c): with routing_key traceID, the first span of a trace records
 * its owner; later spans go to that owner while it is in the ring, whatever the ring now
 * says, so adding a sampler moves only new traces. When the owner has left, the trace
 * moves to the ring's owner and split_traces counts it.
 *
 * Departing backends: with stickiness on, a backend the resolver drops is not retired at
 * once. It leaves the ring (no new trace goes to it) but keeps its sender, and spans of
 * traces whose sticky entry names it keep going to it, so a sampler that drains on
 * SIGTERM (service.shutdown_drain) decides its open traces whole. It is retired — its
 * queue handed back and re-split, its traces moved (counted as split) — when a send to
 * it fails, or routing_stickiness after it left (when every entry naming it has
 * expired). If its endpoint comes back before that, it rejoins the ring as it is.
 *
 * Lifecycle: create parses and allocates (no I/O); start opens the async handle, starts
 * the resolver (the static one creates the senders at once); stop drains every sender
 * within the shutdown grace, counts what is left as failed, closes the handles and
 * reports done from the last close callback; destroy is safe after a partial create
 * and twice. */
#include <stdio.h>
#include <string.h>

#include "lb.h"
#include "tg_alloc.h"
#include "tg_auth.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_service.h"

static const char *const routing_key_values[] = {"traceID", "service", "resource",
                                                 "attributes", NULL};

#define P "protocol.otlp."
static const tg_conf_key lb_keys[] = {
    TG_KEY_ENUM("routing_key", lb_conf, routing_key, "traceID", routing_key_values,
                "what picks the backend: traceID | service | resource | attributes"),
    TG_KEY_STRLIST("routing_attributes", lb_conf, routing_attributes,
                   "routing_key attributes: attribute names whose values route a span "
                   "(resource attributes first, then the span's)"),
    TG_KEY_BOOL(P "tls.insecure", lb_conf, otlp.tls.insecure, "false",
                "plaintext gRPC (h2c) instead of TLS"),
    TG_KEY_BOOL(P "tls.insecure_skip_verify", lb_conf, otlp.tls.insecure_skip_verify, "false",
                "TLS without verifying the server certificate"),
    TG_KEY_STRING(P "tls.ca_file", lb_conf, otlp.tls.ca_file, NULL,
                  "PEM roots to verify backends (default: system roots)"),
    TG_KEY_STRING(P "tls.cert_file", lb_conf, otlp.tls.cert_file, NULL,
                  "PEM client certificate (mTLS); needs tls.key_file"),
    TG_KEY_STRING(P "tls.key_file", lb_conf, otlp.tls.key_file, NULL,
                  "PEM client key (mTLS); needs tls.cert_file"),
    TG_KEY_STRMAP(P "headers", lb_conf, otlp.headers, "gRPC metadata sent with every call"),
    TG_KEY_STRING(P "auth.authenticator", lb_conf, otlp.authenticator, NULL,
                  "authenticator extension whose credentials every call carries"),
    TG_KEY_ENUM(P "compression", lb_conf, otlp.compression, "gzip",
                tg_otlpexp_compression_values, "message compression: none | gzip"),
    TG_KEY_DURATION(P "timeout", lb_conf, otlp.timeout_ms, "5s", 1, 3600000,
                    "deadline of each Export call"),
    TG_KEY_DURATION(P "keepalive.time", lb_conf, otlp.keepalive_time_ms, "0", 0, 86400000,
                    "ping after this long idle (0 = gRPC default, off)"),
    TG_KEY_DURATION(P "keepalive.timeout", lb_conf, otlp.keepalive_timeout_ms, "0", 0,
                    86400000, "wait this long for a ping ack (0 = gRPC default)"),
    TG_KEY_BOOL(P "keepalive.permit_without_stream", lb_conf,
                otlp.keepalive_permit_without_stream, "false", "ping even with no call open"),
    TG_KEY_BOOL(P "retry_on_failure.enabled", lb_conf, otlp.retry.enabled, "true",
                "retry failed sends with exponential back-off"),
    TG_KEY_DURATION(P "retry_on_failure.initial_interval", lb_conf,
                    otlp.retry.initial_interval_ms, "5s", 1, 3600000, "first back-off interval"),
    TG_KEY_DOUBLE(P "retry_on_failure.randomization_factor", lb_conf,
                  otlp.retry.randomization_factor, "0.5", 0, 1, "jitter"),
    TG_KEY_DOUBLE(P "retry_on_failure.multiplier", lb_conf, otlp.retry.multiplier, "1.5", 1,
                  100, "interval growth per retry"),
    TG_KEY_DURATION(P "retry_on_failure.max_interval", lb_conf, otlp.retry.max_interval_ms,
                    "30s", 1, 86400000, "cap of the back-off interval"),
    TG_KEY_DURATION(P "retry_on_failure.max_elapsed_time", lb_conf, otlp.retry.max_elapsed_ms,
                    "300s", 0, 604800000,
                    "give up after this long while the backend is in the ring (0 = never)"),
    TG_KEY_BOOL(P "sending_queue.enabled", lb_conf, otlp.queue.enabled, "true",
                "accepted for the Collector's configs; every backend always has a queue"),
    TG_KEY_INT(P "sending_queue.num_consumers", lb_conf, otlp.queue.num_consumers, "2", 1, 128,
               "sender threads per backend"),
    TG_KEY_INT(P "sending_queue.queue_size", lb_conf, otlp.queue.queue_size, "1000", 1,
               1000000, "queued requests per backend before refusing (back-pressure)"),
    TG_KEY_SIZE(P "sending_queue.max_bytes", lb_conf, otlp.queue.max_bytes, "64MiB", 0, 0,
                "queued bytes per backend before refusing (0 = no byte bound)"),
    TG_KEY_STRLIST("resolver.static.hostnames", lb_conf, static_hostnames,
                   "backends, each host or host:port (port 4317 by default)"),
    TG_KEY_STRING("resolver.dns.hostname", lb_conf, dns_hostname, NULL,
                  "name whose A records are the backends (a headless Service)"),
    TG_KEY_INT("resolver.dns.port", lb_conf, dns_port, "4317", 1, 65535,
               "backends' OTLP/gRPC port"),
    TG_KEY_DURATION("resolver.dns.interval", lb_conf, dns_interval_ms, "5s", 100, 3600000,
                    "how often to resolve"),
    TG_KEY_DURATION("resolver.dns.timeout", lb_conf, dns_timeout_ms, "1s", 10, 60000,
                    "how long one resolution may take"),
    TG_KEY_STRING("resolver.dns.nameserver", lb_conf, dns_nameserver, NULL,
                  "ours: ask this DNS server (ipv4:port) instead of the system resolver"),
    TG_KEY_DURATION("routing_stickiness", lb_conf, stickiness_ms, "35s", 0, 86400000,
                    "ours: a trace keeps the backend of its first span this long while that "
                    "backend is in the ring (0 = off); default = decision_wait 30s + 5s"),
    TG_KEY_INT("routing_stickiness_max_traces", lb_conf, sticky_max_traces, "262144", 8,
               100000000, "ours: traces the stickiness table holds (32 bytes each)"),
};
#undef P

static void lb_conf_check(const void *vconf, const tg_yaml_node *node, const char *what,
                          tg_diag *diag) {
  const lb_conf *c = vconf;
  const tg_yaml_pos *pos = node ? &node->pos : NULL;
  bool st = c->static_hostnames.n > 0, dns = c->dns_hostname != NULL;
  if (st == dns)
    tg_diag_add(diag, pos, "%s: exactly one of resolver.static.hostnames and "
                           "resolver.dns.hostname is required", what);
  if (c->routing_key == LB_KEY_ATTRIBUTES && !c->routing_attributes.n)
    tg_diag_add(diag, pos, "%s: routing_key attributes needs routing_attributes", what);
  if (c->routing_key != LB_KEY_ATTRIBUTES && c->routing_attributes.n)
    tg_diag_add(diag, pos, "%s: routing_attributes needs routing_key: attributes", what);
  if (c->dns_nameserver && !dns)
    tg_diag_add(diag, pos, "%s: resolver.dns.nameserver needs resolver.dns.hostname", what);
  if (!c->otlp.tls.cert_file != !c->otlp.tls.key_file)
    tg_diag_add(diag, pos, "%s: protocol.otlp.tls.cert_file and tls.key_file go together",
                what);
  for (size_t i = 0; i < c->static_hostnames.n; i++)
    if (!*c->static_hostnames.items[i])
      tg_diag_add(diag, pos, "%s: resolver.static.hostnames: empty host name", what);
}

/* ---- routing ---- */

static int64_t pick(void *ctx, int by_trace, const uint8_t id[16], uint64_t hash) {
  lb_exporter *lb = ctx;
  int64_t m = lb_ring_lookup(&lb->ring, hash);
  if (m < 0 || !by_trace || !lb->sticky_on)
    return m;
  uint32_t want = lb->backends[m]->id;
  lb_sticky_slot *s = lb_sticky_find(&lb->sticky, id, hash, lb->now_ms);
  if (!s) {
    lb_sticky_insert(&lb->sticky, id, hash, want, lb->now_ms);
    return m;
  }
  if (s->owner == want)
    return m;
  for (size_t i = 0; i < lb->n_backends; i++)
    if (lb->backends[i]->id == s->owner)
      return (int64_t)i; /* the owner is still in the ring: the trace stays */
  for (size_t i = 0; i < lb->n_departing; i++)
    if (lb->departing[i]->id == s->owner && !atomic_load(&lb->departing[i]->failed))
      return (int64_t)(lb->n_backends + i); /* the owner is draining: the trace stays */
  s->owner = want; /* the owner left: the trace moves, and was split */
  tg_metric_add(lb->m_split, 1);
  return m;
}

/* Outs: one per ring member, then one per departing backend. */
static lb_backend *out_backend(lb_exporter *lb, size_t i) {
  return i < lb->n_backends ? lb->backends[i] : lb->departing[i - lb->n_backends];
}

static int ensure_outs(lb_exporter *lb) {
  size_t n = lb->n_backends + lb->n_departing;
  if (lb->outs_cap < n) {
    lb_out *o = tg_realloc(lb->outs, n * sizeof *o);
    if (!o)
      return TG_ENOMEM;
    memset(o + lb->outs_cap, 0, (n - lb->outs_cap) * sizeof *o);
    lb->outs = o;
    lb->outs_cap = n;
  }
  lb->split.outs = lb->outs;
  lb->split.n_outs = n;
  lb_outs_reset(lb->outs, n);
  lb->now_ms = uv_now(lb->self->service->loop);
  return TG_OK;
}

/* Turns every non-empty out into a request on its backend: the out's buffer itself
 * becomes the request (no copy), and the out starts empty again. Returns spans queued. */
static size_t dispatch(lb_exporter *lb) {
  size_t spans = 0;
  for (size_t i = 0; i < lb->n_backends + lb->n_departing; i++) {
    lb_out *o = &lb->outs[i];
    if (!o->spans)
      continue;
    lb_item *it = tg_calloc(1, sizeof *it);
    if (!it) {
      tg_metric_add(lb->m_failed, (int64_t)o->spans);
      continue;
    }
    it->data = o->data;
    it->len = o->len;
    it->spans = o->spans;
    spans += o->spans;
    memset(o, 0, sizeof *o);
    lb_backend_push(out_backend(lb, i), it);
  }
  return spans;
}

/* Sizes every out for its share of `bytes` of input, so a split rarely reallocates. */
static int presize_outs(lb_exporter *lb, size_t bytes) {
  size_t want = bytes / (lb->n_backends ? lb->n_backends : 1) * 5 / 4 + 4096;
  for (size_t i = 0; i < lb->n_backends; i++) {
    lb_out *o = &lb->outs[i];
    if (o->cap >= want)
      continue;
    uint8_t *d = tg_realloc(o->data, want);
    if (!d)
      return TG_ENOMEM;
    o->data = d;
    o->cap = want;
  }
  return TG_OK;
}

static void add_pending(lb_exporter *lb, lb_item *item) {
  item->next = lb->pending;
  lb->pending = item;
  lb->pending_spans += item->spans;
}

void lb_reroute(lb_exporter *lb, lb_item *item) {
  if (!lb->n_backends || lb->stopping) {
    if (lb->stopping) {
      tg_metric_add(lb->m_failed, (int64_t)item->spans);
      lb_item_free(item);
    } else {
      add_pending(lb, item);
    }
    return;
  }
  if (ensure_outs(lb) != TG_OK) {
    tg_metric_add(lb->m_failed, (int64_t)item->spans);
    lb_item_free(item);
    return;
  }
  int rc = presize_outs(lb, item->len);
  if (rc == TG_OK)
    rc = lb_split_request(&lb->split, item->data, item->len);
  if (rc == TG_OK) {
    tg_metric_add(lb->m_rerouted, (int64_t)dispatch(lb));
    lb_item_free(item);
  } else {
    tg_metric_add(lb->m_failed, (int64_t)item->spans);
    lb_item_free(item);
  }
}

/* ---- membership ---- */

static void update_sticky_gauges(lb_exporter *lb) {
  tg_metric_set(lb->m_sticky_used, (int64_t)lb->sticky.used);
  tg_metric_set(lb->m_sticky_evicted, (int64_t)lb->sticky.evicted);
}

static void retire(lb_exporter *lb, lb_backend *gone, lb_item **moved) {
  lb_item *q = lb_backend_leave(gone);
  while (q) {
    lb_item *next = q->next;
    q->next = *moved;
    *moved = q;
    q = next;
  }
  gone->next_retired = lb->retired;
  lb->retired = gone;
}

/* A backend the resolver dropped: departing (stickiness on, room in the list) or retired
 * at once. Loop thread. */
static void drop(lb_exporter *lb, lb_backend *gone, lb_item **moved) {
  tg_service *svc = lb->self->service;
  if (lb->sticky_on && lb->n_departing == lb->departing_cap) {
    size_t cap = lb->departing_cap ? lb->departing_cap * 2 : 4;
    lb_backend **d = tg_realloc(lb->departing, cap * sizeof *d);
    if (d) {
      lb->departing = d;
      lb->departing_cap = cap;
    }
  }
  if (lb->sticky_on && lb->n_departing < lb->departing_cap) {
    gone->departed_ms = uv_now(svc->loop);
    lb_backend_depart(gone);
    lb->departing[lb->n_departing++] = gone;
    if (svc->log)
      TG_LOG_INFO(svc->log, lb->id, "backend %s left the ring; it keeps its sticky traces "
                  "for up to %llu ms", gone->endpoint,
                  (unsigned long long)lb->conf->stickiness_ms);
    return;
  }
  retire(lb, gone, moved);
  if (svc->log)
    TG_LOG_INFO(svc->log, lb->id, "backend %s left the ring", gone->endpoint);
}

/* Retires the departing backends that failed a send or whose sticky entries have all
 * expired (routing_stickiness since they left; `all`: every one); re-routes what they
 * held. Loop thread. */
static void retire_departing(lb_exporter *lb, bool all) {
  if (!lb->n_departing)
    return;
  tg_service *svc = lb->self->service;
  uint64_t now = uv_now(svc->loop);
  lb_item *moved = NULL;
  size_t k = 0;
  for (size_t i = 0; i < lb->n_departing; i++) {
    lb_backend *b = lb->departing[i];
    bool failed = atomic_load(&b->failed);
    if (!all && !failed && now - b->departed_ms < lb->conf->stickiness_ms) {
      lb->departing[k++] = b;
      continue;
    }
    retire(lb, b, &moved);
    if (svc->log)
      TG_LOG_INFO(svc->log, lb->id, "departing backend %s retired (%s)", b->endpoint,
                  failed ? "a send failed" : "its sticky traces expired");
  }
  lb->n_departing = k;
  while (moved) {
    lb_item *next = moved->next;
    lb_reroute(lb, moved);
    moved = next;
  }
}

/* The departing backend with this endpoint, taken out of the departing list, or NULL. */
static lb_backend *take_departing(lb_exporter *lb, const char *endpoint) {
  for (size_t i = 0; i < lb->n_departing; i++) {
    lb_backend *b = lb->departing[i];
    if (strcmp(b->endpoint, endpoint) || atomic_load(&b->failed))
      continue;
    memmove(lb->departing + i, lb->departing + i + 1,
            (lb->n_departing - i - 1) * sizeof *lb->departing);
    lb->n_departing--;
    lb_backend_rejoin(b);
    return b;
  }
  return NULL;
}

void lb_set_endpoints(lb_exporter *lb, char **eps, size_t n) {
  if (lb->stopping)
    return;
  bool same = n == lb->n_backends;
  for (size_t i = 0; same && i < n; i++)
    same = !strcmp(eps[i], lb->backends[i]->endpoint);
  if (same)
    return;
  lb_backend **nb = tg_calloc(n ? n : 1, sizeof *nb);
  const char **names = tg_calloc(n ? n : 1, sizeof *names);
  if (!nb || !names) {
    tg_free(nb);
    tg_free(names);
    return;
  }
  tg_service *svc = lb->self->service;
  size_t k = 0, j = 0;
  lb_item *moved = NULL;
  for (size_t i = 0; i < n; i++) {
    /* both lists are sorted: the old backends before eps[i] that are not it are gone */
    while (j < lb->n_backends && strcmp(lb->backends[j]->endpoint, eps[i]) < 0) {
      drop(lb, lb->backends[j++], &moved);
    }
    if (j < lb->n_backends && !strcmp(lb->backends[j]->endpoint, eps[i])) {
      nb[k++] = lb->backends[j++];
      continue;
    }
    lb_backend *back = take_departing(lb, eps[i]);
    if (back) {
      if (svc && svc->log)
        TG_LOG_INFO(svc->log, lb->id, "departing backend %s rejoined the ring", eps[i]);
      nb[k++] = back;
      continue;
    }
    tg_errbuf err;
    lb_backend *b = lb_backend_new(lb, eps[i], ++lb->next_id, &err);
    if (b && lb_backend_start(b, &err) != TG_OK) {
      lb_backend_free(b);
      b = NULL;
    }
    if (!b) {
      if (svc && svc->log)
        TG_LOG_ERROR(svc->log, lb->id, "backend %s: %s", eps[i], err.msg);
      continue;
    }
    if (svc && svc->log)
      TG_LOG_INFO(svc->log, lb->id, "backend %s joined the ring", eps[i]);
    nb[k++] = b;
  }
  while (j < lb->n_backends) {
    drop(lb, lb->backends[j++], &moved);
  }
  for (size_t i = 0; i < k; i++)
    names[i] = nb[i]->endpoint;
  lb_ring new_ring = {0};
  if (lb_ring_build(&new_ring, names, k) != TG_OK) {
    /* keep serving with the members that still exist is not possible with the old
     * ring's indexes; an empty ring holds new data back until the next answer */
    k = 0;
  }
  lb_ring_free(&lb->ring);
  lb->ring = new_ring;
  tg_free(lb->backends);
  lb->backends = nb;
  lb->n_backends = k;
  tg_free(names);
  tg_metric_set(lb->m_endpoints, (int64_t)k);
  retire_departing(lb, false);
  /* what the leavers had queued, then what waited for any backend */
  while (moved) {
    lb_item *next = moved->next;
    lb_reroute(lb, moved);
    moved = next;
  }
  if (k) {
    lb_item *p = lb->pending;
    lb->pending = NULL;
    lb->pending_spans = 0;
    while (p) {
      lb_item *next = p->next;
      lb_reroute(lb, p);
      p = next;
    }
  }
  uv_async_send(&lb->async); /* reap retired senders that are already idle */
}

static void reap_retired(lb_exporter *lb) {
  lb_backend **pp = &lb->retired;
  while (*pp) {
    lb_backend *b = *pp;
    if (atomic_load(&b->live) == 0) {
      *pp = b->next_retired;
      lb_backend_free(b);
    } else {
      pp = &b->next_retired;
    }
  }
}

static void on_async(uv_async_t *h) {
  lb_exporter *lb = h->data;
  pthread_mutex_lock(&lb->ret_lock);
  lb_item *ret = lb->ret;
  lb->ret = NULL;
  pthread_mutex_unlock(&lb->ret_lock);
  if (!lb->stopping)
    retire_departing(lb, false); /* a failed one first: what it handed back moves */
  while (ret) {
    lb_item *next = ret->next;
    lb_reroute(lb, ret);
    ret = next;
  }
  if (!lb->stopping)
    reap_retired(lb);
}

/* ---- component ops ---- */

static int lb_consume(tg_instance *self, tg_batch *batch) {
  lb_exporter *lb = self->state;
  if (!batch->span_count) {
    tg_batch_free(batch);
    return TG_OK;
  }
  if (lb->stopping) {
    tg_metric_add(lb->m_enq_failed, (int64_t)batch->span_count);
    tg_batch_free(batch);
    return TG_ECLOSED;
  }
  retire_departing(lb, false);
  if (!lb->n_backends)
    return TG_EAGAIN;
  for (size_t i = 0; i < lb->n_backends + lb->n_departing; i++)
    if (!lb_backend_ready(out_backend(lb, i)))
      return TG_EAGAIN;
  if (ensure_outs(lb) != TG_OK)
    return TG_EAGAIN;
  int rc = TG_OK;
  if (batch->request.n_resource_spans) {
    /* decoded spans (JSON, Jaeger, Zipkin in, or a processor's edits): pack once */
    size_t len = tg_batch_encoded_size(batch);
    uint8_t *buf = tg_malloc(len ? len : 1);
    if (!buf)
      return TG_EAGAIN;
    tg_batch_encode(batch, buf);
    rc = presize_outs(lb, len);
    if (rc == TG_OK)
      rc = lb_split_request(&lb->split, buf, len);
    tg_free(buf);
  } else {
    size_t bytes = 0;
    for (size_t i = 0; i < batch->n_wire; i++)
      bytes += batch->wire[i].len + 16;
    rc = presize_outs(lb, bytes);
    for (size_t i = 0; rc == TG_OK && i < batch->n_wire; i++)
      rc = lb_split_resource_spans(&lb->split, batch->wire[i].data, batch->wire[i].len);
  }
  if (rc == TG_EAGAIN || rc == TG_ENOMEM)
    return TG_EAGAIN; /* nothing was queued; the batch is still the caller's */
  if (rc != TG_OK) {
    tg_metric_add(lb->m_failed, (int64_t)batch->span_count);
    tg_batch_free(batch);
    return rc;
  }
  dispatch(lb);
  update_sticky_gauges(lb);
  tg_batch_free(batch);
  return TG_OK;
}

static int lb_ready(const tg_instance *self) {
  lb_exporter *lb = self->state;
  if (!lb || !lb->n_backends)
    return 0;
  for (size_t i = 0; i < lb->n_backends; i++)
    if (!lb_backend_ready(lb->backends[i]))
      return 0;
  return 1;
}

static tg_metric_cell *cell(tg_metrics *m, const char *name, const char *help,
                            tg_metric_type type, const char *id) {
  if (!m)
    return NULL;
  static const char *const labels[] = {"exporter", NULL};
  tg_metric_family *f = tg_metrics_family(m, name, help, type, labels);
  const char *v[] = {id};
  return f ? tg_metrics_series(f, v) : NULL;
}

static void lb_destroy(tg_instance *self) {
  lb_exporter *lb = self->state;
  if (!lb)
    return;
  for (size_t i = 0; i < lb->n_backends; i++)
    lb_backend_free(lb->backends[i]);
  for (size_t i = 0; i < lb->n_departing; i++)
    lb_backend_free(lb->departing[i]);
  tg_free(lb->departing);
  while (lb->retired) {
    lb_backend *b = lb->retired;
    lb->retired = b->next_retired;
    lb_backend_free(b);
  }
  for (lb_item *it = lb->ret, *next; it; it = next) {
    next = it->next;
    lb_item_free(it);
  }
  for (lb_item *it = lb->pending, *next; it; it = next) {
    next = it->next;
    lb_item_free(it);
  }
  tg_free(lb->backends);
  lb_ring_free(&lb->ring);
  lb_sticky_free(&lb->sticky);
  lb_outs_free(lb->outs, lb->outs_cap);
  tg_free(lb->outs);
  lb_splitter_free_scratch(&lb->split);
  lb_resolver_free(lb->resolver);
  pthread_mutex_destroy(&lb->ret_lock);
  tg_free(lb);
  self->state = NULL;
}

static int lb_create(tg_instance *self, tg_errbuf *err) {
  const lb_conf *c = self->conf;
  const char *id = self->id ? self->id : "loadbalancing";
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: no configuration", id);
  if ((c->static_hostnames.n > 0) == (c->dns_hostname != NULL))
    return tg_errf(err, TG_ECONFIG, "%s: exactly one resolver (static or dns) is required", id);
  lb_exporter *lb = tg_calloc(1, sizeof *lb);
  if (!lb)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  self->state = lb;
  pthread_mutex_init(&lb->ret_lock, NULL);
  lb->self = self;
  lb->conf = c;
  lb->id = id;
  lb->split.mode = c->routing_key;
  lb->split.attrs = (const char *const *)c->routing_attributes.items;
  lb->split.n_attrs = c->routing_attributes.n;
  lb->split.pick = pick;
  lb->split.pick_ctx = lb;
  lb->sticky_on = c->stickiness_ms > 0 && c->routing_key == LB_KEY_TRACE_ID;
  if (lb->sticky_on &&
      lb_sticky_init(&lb->sticky, (size_t)c->sticky_max_traces, c->stickiness_ms) != TG_OK) {
    lb_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory for the stickiness table", id);
  }
  lb->resolver = lb_resolver_new(lb);
  if (!lb->resolver) {
    lb_destroy(self);
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  }
  tg_metrics *m = self->service ? self->service->metrics : NULL;
  lb->m_endpoints = cell(m, "tailgate_exporter_loadbalancer_endpoints",
                         "Backends in the load balancer's ring.", TG_METRIC_GAUGE, id);
  lb->m_refreshes = cell(m, "tailgate_exporter_loadbalancer_resolver_refreshes_total",
                         "Resolver answers applied (changed or not).", TG_METRIC_COUNTER, id);
  lb->m_failures = cell(m, "tailgate_exporter_loadbalancer_resolver_failures_total",
                        "Resolutions that failed; the endpoints were kept.",
                        TG_METRIC_COUNTER, id);
  lb->m_rerouted = cell(m, "tailgate_exporter_loadbalancer_rerouted_spans_total",
                        "Spans sent again to another backend because theirs left the ring.",
                        TG_METRIC_COUNTER, id);
  lb->m_split = cell(m, "tailgate_exporter_loadbalancer_split_traces_total",
                     "Traces moved to another backend because their owner left the ring.",
                     TG_METRIC_COUNTER, id);
  lb->m_sent = cell(m, "tailgate_exporter_sent_spans_total", "Spans delivered to the backend.",
                    TG_METRIC_COUNTER, id);
  lb->m_failed = cell(m, "tailgate_exporter_send_failed_spans_total",
                      "Spans given up on: permanent errors, retries exhausted, rejected, "
                      "or left at shutdown.", TG_METRIC_COUNTER, id);
  lb->m_enq_failed = cell(m, "tailgate_exporter_enqueue_failed_spans_total",
                          "Spans refused because the sending queue was full or closed.",
                          TG_METRIC_COUNTER, id);
  lb->m_sticky_used = cell(m, "tailgate_exporter_loadbalancer_sticky_traces",
                           "Slots of the stickiness table in use.", TG_METRIC_GAUGE, id);
  lb->m_sticky_bytes = cell(m, "tailgate_exporter_loadbalancer_sticky_bytes",
                            "Memory of the stickiness table (fixed at start).",
                            TG_METRIC_GAUGE, id);
  lb->m_sticky_evicted = cell(m, "tailgate_exporter_loadbalancer_sticky_evicted_total",
                              "Live traces pushed out of the full stickiness table.",
                              TG_METRIC_COUNTER, id);
  tg_metric_set(lb->m_sticky_bytes, (int64_t)lb_sticky_bytes(&lb->sticky));
  if (m) {
    static const char *const labels[] = {"exporter", "endpoint", NULL};
    lb->f_routed = tg_metrics_family(m, "tailgate_exporter_loadbalancer_backend_spans_total",
                                     "Spans routed to each backend.", TG_METRIC_COUNTER,
                                     labels);
  }
  return TG_OK;
}

static int lb_start(tg_instance *self, tg_errbuf *err) {
  lb_exporter *lb = self->state;
  lb_conf *c = self->conf;
  int rc = tg_auth_client_apply(self->service, c->otlp.authenticator, &c->otlp.headers, err);
  if (rc)
    return rc;
  if (uv_async_init(self->service->loop, &lb->async, on_async))
    return tg_errf(err, TG_EIO, "%s: cannot create the async handle", lb->id);
  lb->async.data = lb;
  lb->async_open = true;
  rc = lb_resolver_start(lb->resolver, err);
  if (rc)
    return rc;
  lb->started = true;
  if (self->service->log)
    TG_LOG_INFO(self->service->log, lb->id, "load balancing by %s over %s %s",
                routing_key_values[c->routing_key], c->dns_hostname ? "dns" : "static",
                c->dns_hostname ? c->dns_hostname : "hostnames");
  return TG_OK;
}

void lb_handle_closed(lb_exporter *lb) {
  if (--lb->open_handles == 0 && lb->stop_done) {
    tg_stop_done_fn done = lb->stop_done;
    lb->stop_done = NULL;
    done(lb->self);
  }
}

static void on_async_closed(uv_handle_t *h) { lb_handle_closed(h->data); }

static void lb_stop(tg_instance *self, tg_stop_done_fn done) {
  lb_exporter *lb = self->state;
  if (!lb || lb->stopping) {
    if (done)
      done(self);
    return;
  }
  lb->stopping = true;
  uint64_t grace = self->service && self->service->shutdown_grace_ms
                       ? self->service->shutdown_grace_ms
                       : 10000;
  lb->open_handles = 1; /* held until every close was started */
  lb->open_handles += lb_resolver_close(lb->resolver);
  /* requests handed back before now still go somewhere */
  pthread_mutex_lock(&lb->ret_lock);
  lb_item *ret = lb->ret;
  lb->ret = NULL;
  pthread_mutex_unlock(&lb->ret_lock);
  lb->stopping = false;
  while (ret) {
    lb_item *next = ret->next;
    lb_reroute(lb, ret);
    ret = next;
  }
  lb->stopping = true;
  uint64_t deadline = tg_clock_mono_ms() + grace / 2;
  for (size_t i = 0; i < lb->n_backends; i++)
    lb_backend_stop(lb->backends[i], deadline);
  for (size_t i = 0; i < lb->n_departing; i++)
    lb_backend_stop(lb->departing[i], deadline); /* their traces' last spans */
  while (lb->retired) {
    lb_backend *b = lb->retired;
    lb->retired = b->next_retired;
    lb_backend_free(b);
  }
  size_t lost = lb->pending_spans;
  for (lb_item *it = lb->ret; it; it = it->next)
    lost += it->spans;
  tg_metric_add(lb->m_failed, (int64_t)lost);
  lb->stop_done = done;
  if (lb->async_open) {
    lb->open_handles++;
    uv_close((uv_handle_t *)&lb->async, on_async_closed);
    lb->async_open = false;
  }
  lb_handle_closed(lb);
}

const tg_component tg_exporter_loadbalancing = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXPORTER,
    .type = "loadbalancing",
    .signals = TG_SIGNAL_TRACES,
    .conf_size = sizeof(lb_conf),
    .keys = lb_keys,
    .n_keys = sizeof lb_keys / sizeof lb_keys[0],
    .conf_check = lb_conf_check,
    .ops = {.create = lb_create,
            .start = lb_start,
            .consume = lb_consume,
            .stop = lb_stop,
            .destroy = lb_destroy,
            .ready = lb_ready},
    .doc = "Routes spans by trace ID (or service, resource, attributes) over a consistent-hash "
           "ring of OTLP/gRPC backends found by a static list or DNS, one sending queue per "
           "backend; traces keep their backend across membership changes "
           "(routing_stickiness).",
};
