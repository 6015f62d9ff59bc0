/* The loadbalancing exporter's shared state: configuration, the exporter instance, the
 * per-backend senders (lb_backend.c) and the resolvers (lb_resolver.c). Private to this
 * folder. Threads: everything here is loop-thread state except what lb_backend's lock
 * guards (a backend's queue) and `ret` (requests handed back by sender threads), which
 * ret_lock guards. */
#ifndef TG_LB_H
#define TG_LB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "tg_component.h"
#include "tg_grpc_exporter.h"
#include "tg_metrics.h"
#include "lb_ring.h"
#include "lb_split.h"
#include "lb_sticky.h"

typedef struct lb_conf {
  int routing_key; /* LB_KEY_* */
  tg_conf_strlist routing_attributes;
  tg_otlpexp_conf otlp; /* protocol.otlp: the template of every backend's sender */
  tg_conf_strlist static_hostnames;
  char *dns_hostname;
  int64_t dns_port;
  uint64_t dns_interval_ms, dns_timeout_ms;
  char *dns_nameserver; /* ours: host:port of the DNS server to ask (tests); NULL = system */
  uint64_t stickiness_ms;  /* routing_stickiness; 0 = off */
  int64_t sticky_max_traces;
} lb_conf;

/* One queued request: an encoded ExportTraceServiceRequest for one backend. */
typedef struct lb_item {
  struct lb_item *next;
  uint8_t *data;
  size_t len, spans;
} lb_item;

typedef struct lb_exporter lb_exporter;

typedef struct lb_backend {
  uint32_t id; /* never reused; the stickiness table's owner */
  char *endpoint; /* "host:port" */
  lb_exporter *lb;
  tg_otlpexp_grpc *grpc;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* CLOCK_MONOTONIC */
  lb_item *head, *tail;
  size_t n_items, bytes, busy;
  bool leaving;  /* out of the ring: hand queued and failing requests back */
  bool departing; /* out of the ring but still sending its sticky traces (lb.c) */
  atomic_bool failed; /* a send failed while departing: the loop thread retires it */
  uint64_t departed_ms; /* loop clock when it left the ring */
  bool stopping; /* service stop: drain, then exit */
  bool aborting; /* stop deadline passed */
  pthread_t *threads;
  void **workers; /* each thread's transport state, for abort */
  size_t n_threads;
  atomic_size_t live; /* threads still running */
  tg_metric_cell *m_routed;
  struct lb_backend *next_retired;
} lb_backend;

struct lb_resolver;

struct lb_exporter {
  tg_instance *self;
  const lb_conf *conf;
  const char *id;
  /* the ring: members sorted by endpoint, ring member i = backends[i] */
  lb_backend **backends;
  size_t n_backends;
  lb_ring ring;
  uint32_t next_id;
  lb_sticky sticky;
  bool sticky_on;
  uint64_t now_ms; /* per consume */
  lb_splitter split;
  lb_out *outs;
  size_t outs_cap;
  /* left the ring, still owning sticky traces (routing_stickiness): outs index
   * n_backends + i; retired when a send fails or routing_stickiness after leaving */
  lb_backend **departing;
  size_t n_departing, departing_cap;
  lb_backend *retired; /* left the ring, threads still finishing */
  /* requests handed back by sender threads (ret_lock) */
  pthread_mutex_t ret_lock;
  lb_item *ret;
  uv_async_t async;
  bool async_open;
  /* requests waiting for any backend (ring empty); bounded by what was accepted */
  lb_item *pending;
  size_t pending_spans;
  struct lb_resolver *resolver;
  bool started, stopping;
  tg_stop_done_fn stop_done;
  int open_handles;
  /* metrics */
  tg_metric_cell *m_endpoints, *m_refreshes, *m_failures, *m_rerouted, *m_split, *m_sent,
      *m_failed, *m_enq_failed, *m_sticky_used, *m_sticky_bytes, *m_sticky_evicted;
  tg_metric_family *f_routed;
};

/* ---- lb.c ---- */
/* The resolver's answer: the sorted, de-duplicated endpoint list ("host:port"). Adds a
 * sender for each new endpoint, retires those gone (their queued requests re-routed)
 * and rebuilds the ring. Loop thread. */
void lb_set_endpoints(lb_exporter *lb, char **endpoints, size_t n);
/* A request handed back (backend left the ring): re-split over the current ring. Loop
 * thread; takes ownership of item. */
void lb_reroute(lb_exporter *lb, lb_item *item);

/* ---- lb_backend.c ---- */
lb_backend *lb_backend_new(lb_exporter *lb, const char *endpoint, uint32_t id,
                           tg_errbuf *err);
/* Spawns the sender threads; TG_OK or an error. */
int lb_backend_start(lb_backend *b, tg_errbuf *err);
/* Queues a request (ownership moves); never blocks. */
void lb_backend_push(lb_backend *b, lb_item *item);
/* 1 while the backend's queue has room (items and bytes). */
int lb_backend_ready(lb_backend *b);
/* Out of the ring but still serving its sticky traces: a retryable send failure from now
 * on sets b->failed and hands the request back instead of backing off. */
void lb_backend_depart(lb_backend *b);
/* Back in the ring (its endpoint reappeared before it was retired). */
void lb_backend_rejoin(lb_backend *b);
/* Out of the ring: the threads finish their in-flight sends and exit; returns the
 * queued requests (the caller re-routes them). */
lb_item *lb_backend_leave(lb_backend *b);
/* Service stop: drain until deadline_ms (monotonic), then abort, join; counts what is
 * left as failed. */
void lb_backend_stop(lb_backend *b, uint64_t deadline_ms);
/* Joins and frees (threads must have exited or be told to: leave/stop first). */
void lb_backend_free(lb_backend *b);
void lb_item_free(lb_item *item);

/* ---- lb_resolver.c ---- */
struct lb_resolver *lb_resolver_new(lb_exporter *lb);
int lb_resolver_start(struct lb_resolver *r, tg_errbuf *err);
/* Closes handles; each close calls lb_handle_closed(lb) once. Returns handles closing. */
int lb_resolver_close(struct lb_resolver *r);
void lb_resolver_free(struct lb_resolver *r);
void lb_handle_closed(lb_exporter *lb);

#endif
