/* The Jaeger agent endpoints: Agent.emitBatch datagrams over UDP (thrift_compact on
 * :6831, thrift_binary on :6832), decoded off the I/O thread.
 *
 * Shape: the loop thread reads each datagram into one reusable 64 KiB buffer and queues
 * a copy (a bounded ring, queue_size entries); `workers` decoder threads take datagrams,
 * decode them into OTLP batches (tg_jaeger_decode) and put the batches on a second
 * bounded ring; a uv_async wakes the loop thread, which pushes them downstream — the
 * pipeline is single-threaded, so only the decoding moves. When the pipeline answers
 * TG_EAGAIN the batch stays at the head of the ring and a 20 ms timer retries it; the
 * decoders then block on the full output ring, the input ring fills, and further
 * datagrams are dropped and counted (UDP cannot tell a client to slow down).
 *
 * Counted: tailgate_receiver_dropped_datagrams_total{reason=undecodable|queue_full|
 * too_large|shutdown}; spans with bad ids as refused{reason=invalid}.
 *
 * Ownership: the object owns its rings, buffers and threads; it is freed by itself after
 * the last libuv close callback (memory behind a handle lives until then). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "jaeger.h"
#include "tg_alloc.h"
#include "tg_endpoint.h"
#include "tg_error.h"
#include "tg_service.h"

#define UDP_READ_BUF 65536
#define UDP_RETRY_MS 20

typedef struct dgram {
  uint8_t *data;
  size_t len;
} dgram;

struct tg_jaeger_udp {
  tg_jaeger_receiver *recv;
  tg_thrift_protocol proto;
  const tg_jaeger_udp_conf *conf;
  tg_jaeger_counters *counters;
  uv_udp_t udp;
  uv_async_t async;
  uv_timer_t retry;
  int handles; /* initialised libuv handles still open */
  int bound;
  uint8_t *read_buf;
  pthread_mutex_t lock;
  pthread_cond_t work; /* datagrams queued, or stopping */
  pthread_cond_t room; /* the output ring has room, or stopping */
  dgram *in;
  size_t in_cap, in_head, in_len;
  tg_batch **out;
  size_t out_cap, out_head, out_len;
  pthread_t *threads;
  size_t n_threads;
  int stop;
  int sync_ok; /* lock and conds initialised */
  void (*done)(void *ctx);
  void *done_ctx;
};

tg_jaeger_udp *tg_jaeger_udp_new(tg_jaeger_receiver *recv, tg_thrift_protocol proto) {
  tg_jaeger_udp *u = tg_calloc(1, sizeof *u);
  if (!u)
    return NULL;
  u->recv = recv;
  u->proto = proto;
  u->conf = &recv->conf->udp[proto];
  u->counters = &recv->counters[proto];
  u->in_cap = (size_t)u->conf->queue_size;
  u->out_cap = (size_t)u->conf->queue_size;
  u->in = tg_calloc(u->in_cap, sizeof *u->in);
  u->out = tg_calloc(u->out_cap, sizeof *u->out);
  u->read_buf = tg_malloc(UDP_READ_BUF);
  if (!u->in || !u->out || !u->read_buf || pthread_mutex_init(&u->lock, NULL)) {
    tg_free(u->in);
    tg_free(u->out);
    tg_free(u->read_buf);
    tg_free(u);
    return NULL;
  }
  pthread_cond_init(&u->work, NULL);
  pthread_cond_init(&u->room, NULL);
  u->sync_ok = 1;
  return u;
}

static void drop(tg_jaeger_udp *u, tg_jaeger_drop why) {
  tg_metric_add(u->counters->dropped[why], 1);
}

/* ---- decoder threads ---- */

static void *decoder_main(void *arg) {
  tg_jaeger_udp *u = arg;
  pthread_mutex_lock(&u->lock);
  for (;;) {
    while (!u->stop && !u->in_len)
      pthread_cond_wait(&u->work, &u->lock);
    if (u->stop)
      break;
    dgram d = u->in[u->in_head];
    u->in_head = (u->in_head + 1) % u->in_cap;
    u->in_len--;
    pthread_mutex_unlock(&u->lock);

    tg_batch *batch = NULL;
    size_t invalid = 0;
    char msg[160];
    int rc = tg_jaeger_decode((tg_jaeger_transport)u->proto, d.data, d.len, &batch, &invalid,
                              msg, sizeof msg);
    tg_free(d.data);
    if (rc == TG_EDECODE) {
      drop(u, TG_JAEGER_DROP_UNDECODABLE);
      TG_LOG_DEBUG(u->recv->log, u->recv->log_component, "dropped a datagram: %s", msg);
    } else if (rc != TG_OK) {
      drop(u, TG_JAEGER_DROP_TOO_LARGE);
    }
    if (invalid)
      tg_metric_add(u->counters->m.refused[TG_JAEGER_REFUSED_INVALID], (int64_t)invalid);
    if (batch && !batch->span_count) {
      tg_batch_free(batch);
      batch = NULL;
    }

    pthread_mutex_lock(&u->lock);
    if (!batch)
      continue;
    while (!u->stop && u->out_len == u->out_cap)
      pthread_cond_wait(&u->room, &u->lock);
    if (u->stop) {
      tg_batch_free(batch);
      drop(u, TG_JAEGER_DROP_SHUTDOWN);
      break;
    }
    u->out[(u->out_head + u->out_len) % u->out_cap] = batch;
    u->out_len++;
    pthread_mutex_unlock(&u->lock);
    uv_async_send(&u->async);
    pthread_mutex_lock(&u->lock);
  }
  pthread_mutex_unlock(&u->lock);
  return NULL;
}

/* ---- loop thread ---- */

static void on_retry(uv_timer_t *t);

/* Pushes decoded batches in order until the ring is empty or the pipeline pushes back. */
static void drain(tg_jaeger_udp *u) {
  for (;;) {
    pthread_mutex_lock(&u->lock);
    if (!u->out_len) {
      pthread_mutex_unlock(&u->lock);
      return;
    }
    tg_batch *batch = u->out[u->out_head];
    pthread_mutex_unlock(&u->lock);
    int rc = tg_jaeger_push(u->recv, (tg_jaeger_transport)u->proto, batch);
    if (rc == TG_EAGAIN && !u->stop) {
      if (!uv_is_active((uv_handle_t *)&u->retry))
        uv_timer_start(&u->retry, on_retry, UDP_RETRY_MS, 0);
      return; /* still ours, still at the head */
    }
    if (rc == TG_EAGAIN)
      tg_batch_free(batch); /* stopping: counted as refused by tg_jaeger_push */
    pthread_mutex_lock(&u->lock);
    u->out_head = (u->out_head + 1) % u->out_cap;
    u->out_len--;
    pthread_cond_signal(&u->room);
    pthread_mutex_unlock(&u->lock);
  }
}

static void on_async(uv_async_t *h) { drain(h->data); }

static void on_retry(uv_timer_t *t) { drain(t->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  tg_jaeger_udp *u = h->data;
  *buf = uv_buf_init((char *)u->read_buf, UDP_READ_BUF);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  (void)buf;
  tg_jaeger_udp *u = h->data;
  if (nread <= 0 || !addr)
    return; /* nothing read (nread 0, addr NULL) or a socket error: keep serving */
  if ((flags & UV_UDP_PARTIAL) || nread > u->conf->max_packet_size) {
    drop(u, TG_JAEGER_DROP_TOO_LARGE);
    return;
  }
  pthread_mutex_lock(&u->lock);
  int full = u->in_len == u->in_cap;
  pthread_mutex_unlock(&u->lock);
  if (full) {
    drop(u, TG_JAEGER_DROP_QUEUE_FULL);
    return;
  }
  uint8_t *copy = tg_malloc((size_t)nread);
  if (!copy) {
    drop(u, TG_JAEGER_DROP_QUEUE_FULL);
    return;
  }
  memcpy(copy, u->read_buf, (size_t)nread);
  pthread_mutex_lock(&u->lock);
  /* only this thread adds, so the room seen above is still there */
  u->in[(u->in_head + u->in_len) % u->in_cap] = (dgram){copy, (size_t)nread};
  u->in_len++;
  pthread_cond_signal(&u->work);
  pthread_mutex_unlock(&u->lock);
}

static void free_udp(tg_jaeger_udp *u) {
  void (*done)(void *) = u->done;
  void *ctx = u->done_ctx;
  if (u->sync_ok) {
    pthread_cond_destroy(&u->work);
    pthread_cond_destroy(&u->room);
    pthread_mutex_destroy(&u->lock);
  }
  tg_free(u->threads);
  tg_free(u->in);
  tg_free(u->out);
  tg_free(u->read_buf);
  tg_free(u);
  if (done)
    done(ctx);
}

static void on_handle_closed(uv_handle_t *h) {
  tg_jaeger_udp *u = h->data;
  if (--u->handles == 0)
    free_udp(u);
}

int tg_jaeger_udp_start(tg_jaeger_udp *u, tg_errbuf *err) {
  const char *id = u->recv->instance->id;
  uv_loop_t *loop = u->recv->instance->service->loop;
  struct sockaddr_storage addr;
  tg_errbuf why;
  int rc = tg_endpoint_resolve(u->conf->endpoint, &addr, &why);
  if (rc != TG_OK)
    return tg_errf(err, rc, "%s: %s", id, why.msg);
  uv_udp_init(loop, &u->udp);
  uv_async_init(loop, &u->async, on_async);
  uv_timer_init(loop, &u->retry);
  u->udp.data = u->async.data = u->retry.data = u;
  u->handles = 3;
  rc = uv_udp_bind(&u->udp, (const struct sockaddr *)&addr, 0);
  if (rc)
    return tg_errf(err, TG_EIO, "%s: cannot bind UDP %s: %s", id, u->conf->endpoint,
                   uv_strerror(rc));
  if (u->conf->socket_buffer_size) {
    int size = (int)u->conf->socket_buffer_size;
    uv_recv_buffer_size((uv_handle_t *)&u->udp, &size);
  }
  u->bound = 1;
  u->threads = tg_calloc((size_t)u->conf->workers, sizeof *u->threads);
  if (!u->threads)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", id);
  for (int64_t i = 0; i < u->conf->workers; i++) {
    if (pthread_create(&u->threads[i], NULL, decoder_main, u))
      return tg_errf(err, TG_EIO, "%s: cannot start decoder threads", id);
    u->n_threads++;
  }
  rc = uv_udp_recv_start(&u->udp, on_alloc, on_recv);
  if (rc)
    return tg_errf(err, TG_EIO, "%s: cannot read UDP %s: %s", id, u->conf->endpoint,
                   uv_strerror(rc));
  return TG_OK;
}

int tg_jaeger_udp_port(const tg_jaeger_udp *u) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (!u->bound || uv_udp_getsockname(&u->udp, (struct sockaddr *)&ss, &len))
    return -1;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void tg_jaeger_udp_close(tg_jaeger_udp *u, int flush, void (*done)(void *ctx), void *ctx) {
  u->done = done;
  u->done_ctx = ctx;
  if (u->handles)
    uv_udp_recv_stop(&u->udp);
  pthread_mutex_lock(&u->lock);
  u->stop = 1;
  pthread_cond_broadcast(&u->work);
  pthread_cond_broadcast(&u->room);
  pthread_mutex_unlock(&u->lock);
  for (size_t i = 0; i < u->n_threads; i++)
    pthread_join(u->threads[i], NULL);
  u->n_threads = 0;
  /* What was decoded goes downstream now (one try each) when the pipeline is still
   * there (stop, not destroy); what was not is counted. */
  if (u->handles && flush)
    drain(u);
  for (; u->in_len; u->in_len--, u->in_head = (u->in_head + 1) % u->in_cap) {
    tg_free(u->in[u->in_head].data);
    drop(u, TG_JAEGER_DROP_SHUTDOWN);
  }
  for (; u->out_len; u->out_len--, u->out_head = (u->out_head + 1) % u->out_cap) {
    tg_metric_add(u->counters->m.refused[TG_JAEGER_REFUSED_BACKPRESSURE],
                  (int64_t)u->out[u->out_head]->span_count);
    tg_batch_free(u->out[u->out_head]);
  }
  if (!u->handles) { /* never started: nothing to close */
    free_udp(u);
    return;
  }
  uv_close((uv_handle_t *)&u->udp, on_handle_closed);
  uv_close((uv_handle_t *)&u->async, on_handle_closed);
  uv_close((uv_handle_t *)&u->retry, on_handle_closed);
}
