/* The libuv side of the inbound server: listener, accepted sockets, deadline timers,
 * output queues and the close lifecycle. Everything protocol-shaped lives behind the
 * sans-IO tg_http_conn (tg_http_conn.c); this file is the only one in core/http/ touching
 * sockets.
 *
 * Ownership: the server owns its routes, its router (limits + stats), the SSL_CTX, the
 * per-peer table and a doubly linked list of connections. A connection owns two libuv
 * handles (tcp, deadline timer) and is freed only when both close callbacks have run; the
 * server is freed (and done() called) only when the listener and every connection are
 * closed.
 *
 * Hostile clients: a connection is admitted only while its peer address holds fewer than
 * max_connections_per_peer (tg_peer_table.h) and the server fewer than max_connections,
 * in that order, so one address cannot take the whole budget. Every admitted connection
 * carries one timer armed at its next deadline (tg_http_deadline.h: headers within
 * read_header_timeout, bodies at min_body_rate, idle_timeout between requests, and never
 * more than idle_timeout without a byte); the timer is re-armed after each read. A
 * refused or expired connection costs one rate-limited warning (tg_log.h), not a line
 * each.
 *
 * Back-pressure: every output chunk is copied into its own uv_write request; when the
 * bytes queued on a socket pass OUT_HIGH the connection stops reading until the peer has
 * drained below OUT_LOW. A connection that wants to close stops reading and closes once
 * its queue is empty (or the idle timer fires first).
 *
 * Keepalive and whole-request bounds (the Collector's configgrpc keepalive.* and
 * confighttp read_timeout / write_timeout), on the same timer: after keepalive time
 * without a byte an HTTP/2 connection gets a PING and is closed when nothing arrives
 * within keepalive timeout; at max_connection_age it gets GOAWAY NO_ERROR and closes as
 * soon as no call is open (or at the grace); read_timeout bounds a request from its first
 * byte to its end, write_timeout the time queued output takes to drain. The client-PING
 * policy (enforcement_policy) is the HTTP/2 engine's (tg_http2.c): it needs the frames.
 * read_buffer_size sizes the per-connection read buffer; write_buffer_size the output
 * bytes queued before reading pauses (OUT_HIGH by default).
 *
 * Streamed responses (tg_http_body_stream): one slice of at most SLICE bytes per write
 * completion, while the queue is below OUT_LOW, so a large body is produced at the pace the
 * peer reads it and never holds the loop for more than one slice. Write progress counts
 * as activity for the idle timer; an HTTP/1.x connection reads nothing while streaming. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_endpoint.h"
#include "tg_http_deadline.h"
#include "tg_http_internal.h"
#include "tg_peer_table.h"
#include "tg_tls_reload.h"

enum {
  OUT_HIGH = 1 << 20,
  OUT_LOW = 256 << 10,
  READ_BUF = 64 << 10,
  SLICE = 128 << 10,
  ACCEPT_BURST = 64
};

typedef struct srv_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  int handles_open;
  tg_http_server *srv;
  tg_http_conn *http;
  struct srv_conn *prev, *next;
  size_t queued;   /* bytes in uv_write requests not yet completed */
  int reading;
  int want_close;  /* finish writing, then close */
  int closing;     /* uv_close called */
  int peer_counted; /* holds a slot of peer_key in the peer table */
  tg_peer_key peer_key;
  tg_http_deadline deadline;
  uint64_t last_read_ms;
  uint64_t born_ms;         /* accepted (max_connection_age) */
  uint64_t ping_sent_ms;    /* keepalive PING outstanding since; 0 = none */
  uint64_t request_since_ms; /* the current request's first byte (read_timeout) */
  uint64_t write_since_ms;  /* the output queue became non-empty (write_timeout) */
  int draining;             /* GOAWAY sent at max_connection_age */
  char peer[64];
  uint8_t rbuf[];           /* srv->read_buf bytes */
} srv_conn;

typedef struct write_req {
  uv_write_t req;
  srv_conn *c;
  size_t len;
  uint8_t data[];
} write_req;

struct tg_http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listener_open;  /* uv_tcp_init done, uv_close not yet completed */
  uv_prepare_t tick;  /* once per loop iteration: resets accepts_this_tick */
  uv_idle_t resume;   /* resumes accepting after a burst, next iteration */
  int tick_handles;   /* tick/resume initialised and not yet closed */
  size_t accepts_this_tick;
  int accept_deferred;
  int closing;
  struct sockaddr_storage addr;
  char *name;
  tg_http_route *routes;
  size_t n_routes, cap_routes;
  tg_http_router router;
  tg_http_server_stats stats;
  tg_tls_ctx *tls;
  tg_tls_reload tls_reload; /* replaces tls when its files change */
  size_t max_connections, max_per_peer;
  tg_http_deadline_conf deadlines;
  tg_http_keepalive keepalive;
  uint64_t read_timeout_ms, write_timeout_ms;
  size_t read_buf, out_high, out_low; /* read_buffer_size, write_buffer_size (and 1/4) */
  tg_http_cors cors;
  char **strs;  /* every string copied from the options (cors, headers, encodings) */
  size_t n_strs;
  char **str_lists; /* the arrays the router and cors point into */
  size_t n_str_lists;
  tg_peer_table *peers;
  srv_conn *conns;
  size_t n_conns;     /* connections whose memory is alive (accepted or refused) */
  size_t n_active;    /* accepted and counted against max_connections */
  int port;
  void (*done)(void *ctx);
  void *done_ctx;
};

static void conn_close(srv_conn *c);
static void conn_read_start(srv_conn *c);

static void server_free_copies(tg_http_server *srv) {
  for (size_t i = 0; i < srv->n_strs; i++)
    tg_free(srv->strs[i]);
  for (size_t i = 0; i < srv->n_str_lists; i++)
    tg_free(srv->str_lists[i]);
  tg_free(srv->strs);
  tg_free(srv->str_lists);
  srv->strs = srv->str_lists = NULL;
  srv->n_strs = srv->n_str_lists = 0;
}

/* A copy of the n strings of v (NULL entries become ""), lower-cased when lower is set,
 * owned by the server; NULL on out of memory (n == 0 gives a valid empty array). */
static const char *const *server_copy_strv(tg_http_server *srv, const char *const *v, size_t n,
                                           int lower) {
  char **list = tg_calloc(n ? n : 1, sizeof *list);
  char **grown_lists = list ? tg_realloc(srv->str_lists, (srv->n_str_lists + 1) * sizeof *list)
                            : NULL;
  if (!grown_lists) {
    tg_free(list);
    return NULL;
  }
  srv->str_lists = grown_lists;
  srv->str_lists[srv->n_str_lists++] = (char *)list;
  char **grown = tg_realloc(srv->strs, (srv->n_strs + n + 1) * sizeof *grown);
  if (!grown)
    return NULL;
  srv->strs = grown;
  for (size_t i = 0; i < n; i++) {
    char *copy = tg_strdup(v && v[i] ? v[i] : "");
    if (!copy)
      return NULL;
    srv->strs[srv->n_strs++] = copy;
    for (char *c = copy; lower && *c; c++)
      if (*c >= 'A' && *c <= 'Z')
        *c = (char)(*c - 'A' + 'a');
    list[i] = copy;
  }
  return (const char *const *)list;
}

static void server_maybe_finish(tg_http_server *srv) {
  if (!srv->closing || srv->listener_open || srv->n_conns || srv->tick_handles)
    return;
  void (*done)(void *) = srv->done;
  void *ctx = srv->done_ctx;
  tg_tls_ctx_free(srv->tls);
  tg_tls_reload_free(&srv->tls_reload);
  tg_peer_table_free(srv->peers);
  server_free_copies(srv);
  tg_free(srv->routes);
  tg_free(srv->name);
  tg_free(srv);
  if (done)
    done(ctx);
}

/* ---- connections ---- */

static void on_conn_handle_closed(uv_handle_t *handle) {
  srv_conn *c = handle->data;
  if (--c->handles_open > 0)
    return;
  tg_http_server *srv = c->srv;
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  srv->n_conns--;
  tg_free(c);
  server_maybe_finish(srv);
}

static void conn_close(srv_conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  if (c->peer_counted) {
    tg_peer_table_release(c->srv->peers, &c->peer_key);
    c->peer_counted = 0;
  }
  if (c->http) {
    tg_http_conn_free(c->http);
    c->http = NULL;
    c->srv->n_active--;
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  if (c->handles_open == 2)
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void conn_arm(srv_conn *c);

static void on_write_done(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  srv_conn *c = w->c;
  c->queued -= w->len;
  tg_free(w);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  int streaming = tg_http_conn_streaming(c->http);
  if (streaming) {
    c->last_read_ms = uv_now(c->srv->loop); /* the peer is reading: not idle */
    conn_arm(c);
    if (c->queued < c->srv->out_low) {
      int rc = tg_http_conn_pump(c->http, SLICE);
      if (c->closing)
        return;
      if (rc < 0)
        c->want_close = 1;
      streaming = rc > 0;
    }
  }
  if (c->draining && !c->want_close && !streaming && !tg_http_conn_in_request(c->http))
    c->want_close = 1; /* max_connection_age: the last call's answer is going out */
  if (c->want_close) {
    if (c->queued == 0 && !streaming)
      conn_close(c);
    return;
  }
  if (!c->reading && c->queued < c->srv->out_low && !tg_http_conn_input_paused(c->http))
    conn_read_start(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  srv_conn *c = handle->data;
  buf->base = (char *)c->rbuf;
  buf->len = c->srv->read_buf;
}

static int conn_write(void *ctx, const uint8_t *data, size_t len) {
  srv_conn *c = ctx;
  if (c->closing)
    return -1;
  write_req *w = tg_malloc(sizeof *w + len);
  if (!w)
    return -1;
  w->c = c;
  w->len = len;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) != 0) {
    tg_free(w);
    return -1;
  }
  if (c->queued == 0)
    c->write_since_ms = uv_now(c->srv->loop);
  c->queued += len;
  return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The deadlines of the connection's own (tg_http_deadline.h), and never more than
 * idle_timeout without a byte. */
static uint64_t conn_base_due(const srv_conn *c) {
  const tg_http_server *srv = c->srv;
  uint64_t due = tg_http_deadline_due(&c->deadline, &srv->deadlines);
  uint64_t silent = c->last_read_ms + srv->deadlines.idle_timeout_ms;
  return silent < due ? silent : due;
}

/* The next moment something is due: the base deadlines, read_timeout, write_timeout,
 * the keepalive PING (or its answer) and max_connection_age (and its grace). */
static uint64_t conn_due(const srv_conn *c) {
  const tg_http_server *srv = c->srv;
  const tg_http_keepalive *k = &srv->keepalive;
  uint64_t due = conn_base_due(c);
  if (srv->read_timeout_ms && c->deadline.phase != TG_HTTP_PHASE_IDLE)
    due = min_u64(due, c->request_since_ms + srv->read_timeout_ms);
  if (srv->write_timeout_ms && c->queued)
    due = min_u64(due, c->write_since_ms + srv->write_timeout_ms);
  if (k->time_ms)
    due = min_u64(due, c->ping_sent_ms ? c->ping_sent_ms + k->timeout_ms
                                       : c->last_read_ms + k->time_ms);
  if (k->max_age_ms && !c->draining)
    due = min_u64(due, c->born_ms + k->max_age_ms);
  else if (k->max_age_ms && k->age_grace_ms)
    due = min_u64(due, c->born_ms + k->max_age_ms + k->age_grace_ms);
  return due;
}

/* 1 when the connection was closed by one of the keepalive / read / write bounds, or
 * the timer was re-armed for the next of them; 0 to go on with the base deadlines. */
static int conn_check_bounds(srv_conn *c, uint64_t now) {
  tg_http_server *srv = c->srv;
  const tg_http_keepalive *k = &srv->keepalive;
  const char *why = NULL;
  uint64_t *count = NULL;
  int polite = 1; /* HTTP/2: GOAWAY before the close */
  if (srv->write_timeout_ms && c->queued && now >= c->write_since_ms + srv->write_timeout_ms) {
    why = "response not written out within write_timeout";
    count = &srv->stats.write_timeouts;
    polite = 0;
  } else if (srv->read_timeout_ms && c->deadline.phase != TG_HTTP_PHASE_IDLE &&
             now >= c->request_since_ms + srv->read_timeout_ms) {
    why = "request not complete within read_timeout";
    count = &srv->stats.read_timeouts;
  } else if (k->time_ms && c->ping_sent_ms && now >= c->ping_sent_ms + k->timeout_ms) {
    why = "no answer to the keepalive PING within keepalive timeout";
    count = &srv->stats.keepalive_timeouts;
  } else if (k->max_age_ms && c->draining && k->age_grace_ms &&
             now >= c->born_ms + k->max_age_ms + k->age_grace_ms) {
    why = "max_connection_age_grace passed"; /* counted at the GOAWAY already */
    polite = 0;
  }
  if (why) {
    if (count)
      (*count)++;
    if (c->http && tg_http_conn_in_request(c->http))
      srv->stats.disconnects++;
    TG_LOG_WARN(srv->router.log, srv->router.name, "closing connection from %s: %s", c->peer,
                why);
    if (c->http && polite)
      tg_http_conn_shutdown(c->http);
    conn_close(c);
    return 1;
  }
  if (k->max_age_ms && !c->draining && now >= c->born_ms + k->max_age_ms) {
    srv->stats.max_age_goaways++;
    c->draining = 1;
    TG_LOG_DEBUG(srv->router.log, srv->router.name, "connection from %s reached "
                 "max_connection_age: GOAWAY", c->peer);
    if (c->http && !tg_http_conn_in_request(c->http) && !tg_http_conn_streaming(c->http)) {
      tg_http_conn_shutdown(c->http); /* nothing open: GOAWAY and close */
      conn_close(c);
      return 1;
    }
    if (c->http)
      tg_http_conn_drain(c->http);
    conn_arm(c);
    return 1;
  }
  if (k->time_ms && !c->ping_sent_ms && now >= c->last_read_ms + k->time_ms && c->http &&
      tg_http_conn_ping(c->http) == TG_OK) {
    c->ping_sent_ms = now;
    conn_arm(c);
    return 1;
  }
  return 0;
}

static void on_deadline(uv_timer_t *timer);

static void conn_arm(srv_conn *c) {
  uint64_t now = uv_now(c->srv->loop), due = conn_due(c);
  uv_timer_start(&c->timer, on_deadline, due > now ? due - now : 1, 0);
}

static void on_deadline(uv_timer_t *timer) {
  srv_conn *c = timer->data;
  tg_http_server *srv = c->srv;
  if (c->closing)
    return;
  uint64_t now = uv_now(srv->loop);
  if (now < conn_due(c)) {
    conn_arm(c);
    return;
  }
  if (conn_check_bounds(c, now))
    return;
  if (now < conn_base_due(c)) {
    conn_arm(c);
    return;
  }
  tg_http_expiry why = tg_http_deadline_check(&c->deadline, &srv->deadlines, now);
  if (why == TG_HTTP_EXPIRY_NONE)
    why = TG_HTTP_EXPIRY_IDLE; /* nothing read for idle_timeout */
  if (c->http && tg_http_conn_in_request(c->http))
    srv->stats.disconnects++;
  switch (why) {
  case TG_HTTP_EXPIRY_HEADER:
    srv->stats.header_timeouts++;
    TG_LOG_WARN(srv->router.log, srv->router.name,
                "closing connection from %s: request headers not complete within %llu ms "
                "(read_header_timeout)",
                c->peer, (unsigned long long)srv->deadlines.read_header_timeout_ms);
    break;
  case TG_HTTP_EXPIRY_BODY:
    srv->stats.body_timeouts++;
    TG_LOG_WARN(srv->router.log, srv->router.name,
                "closing connection from %s: request body slower than %llu bytes/s "
                "(min_body_rate)",
                c->peer, (unsigned long long)srv->deadlines.min_body_rate);
    break;
  default:
    srv->stats.idle_closed++;
    TG_LOG_DEBUG(srv->router.log, srv->router.name, "closing idle connection %s", c->peer);
  }
  if (c->http)
    tg_http_conn_shutdown(c->http); /* HTTP/2: GOAWAY, written before the close */
  conn_close(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  srv_conn *c = stream->data;
  if (c->closing || nread == 0)
    return;
  if (nread < 0) {
    if (c->http && tg_http_conn_in_request(c->http)) {
      c->srv->stats.disconnects++;
      TG_LOG_DEBUG(c->srv->router.log, c->srv->router.name, "%s disconnected mid-request",
                   c->peer);
    }
    conn_close(c);
    return;
  }
  if (c->deadline.phase == TG_HTTP_PHASE_IDLE)
    c->request_since_ms = uv_now(c->srv->loop); /* a new request may start here */
  int rc = tg_http_conn_feed(c->http, (const uint8_t *)buf->base, (size_t)nread);
  if (c->closing)
    return;
  c->last_read_ms = uv_now(c->srv->loop);
  c->ping_sent_ms = 0; /* any byte answers the keepalive PING */
  if (c->draining && rc == TG_OK && !tg_http_conn_in_request(c->http) &&
      !tg_http_conn_streaming(c->http))
    rc = TG_ECLOSED; /* max_connection_age: the last call ended */
  tg_http_deadline_note(&c->deadline, c->last_read_ms, tg_http_conn_phase(c->http),
                        (size_t)nread);
  conn_arm(c);
  int streaming = tg_http_conn_streaming(c->http);
  if (streaming && c->queued < c->srv->out_low) { /* e.g. an HTTP/2 window update: next slice */
    int prc = tg_http_conn_pump(c->http, SLICE);
    if (c->closing)
      return;
    if (prc < 0)
      rc = TG_ECLOSED;
    streaming = prc > 0;
  }
  if (rc != TG_OK) {
    c->want_close = 1;
    c->reading = 0;
    uv_read_stop(stream);
    if (c->queued == 0 && !streaming)
      conn_close(c);
    return;
  }
  if (c->queued >= c->srv->out_high || tg_http_conn_input_paused(c->http)) {
    c->reading = 0;
    uv_read_stop(stream); /* resumed by on_write_done once the peer drains */
  }
}

static void conn_read_start(srv_conn *c) {
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = 1;
  else
    conn_close(c);
}

static void format_peer(uv_tcp_t *tcp, char *out, size_t len) {
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  char ip[64] = "?";
  int port = 0;
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
  }
  snprintf(out, len, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

/* Accepts the connection libuv has pending and admits or refuses it. */
static void accept_one(tg_http_server *srv) {
  uv_stream_t *listener = (uv_stream_t *)&srv->listener;
  srv_conn *c = tg_calloc(1, sizeof *c + srv->read_buf);
  if (!c) {
    /* Accept into a throwaway handle would also need memory: leave it in the backlog. */
    return;
  }
  c->srv = srv;
  c->tcp.data = c;
  c->timer.data = c;
  uv_tcp_init(srv->loop, &c->tcp);
  c->handles_open = 1;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) != 0)
    ss.ss_family = AF_UNSPEC;
  tg_peer_key_from_sockaddr((const struct sockaddr *)&ss, &c->peer_key);
  int admit = srv->n_active < srv->max_connections
                  ? tg_peer_table_acquire(srv->peers, &c->peer_key, srv->max_per_peer)
                  : TG_ENOMEM;
  if (admit == TG_EAGAIN) {
    srv->stats.connections_refused++;
    srv->stats.refused_per_peer++;
    format_peer(&c->tcp, c->peer, sizeof c->peer);
    TG_LOG_WARN(srv->router.log, srv->router.name,
                "refusing connection from %s: that address holds %zu connections "
                "(max_connections_per_peer %zu)",
                c->peer, tg_peer_table_count(srv->peers, &c->peer_key), srv->max_per_peer);
    conn_close(c);
    return;
  }
  if (admit != TG_OK) {
    srv->stats.connections_refused++;
    TG_LOG_WARN(srv->router.log, srv->router.name, "refusing connection: %zu open (max %zu)",
                srv->n_active, srv->max_connections);
    conn_close(c);
    return;
  }
  c->peer_counted = 1;
  uv_timer_init(srv->loop, &c->timer);
  c->handles_open = 2;
  format_peer(&c->tcp, c->peer, sizeof c->peer);
  uv_tcp_nodelay(&c->tcp, 1);
  if (srv->tls) {
    tg_errbuf terr = {{0}};
    int trc = tg_tls_reload_check(&srv->tls_reload, uv_now(srv->loop), &srv->tls, &terr);
    if (trc == TG_OK)
      TG_LOG_INFO(srv->router.log, srv->router.name, "TLS certificate files reloaded");
    else if (trc != TG_EAGAIN)
      TG_LOG_WARN(srv->router.log, srv->router.name, "TLS files not reloaded: %s", terr.msg);
  }
  int h2_only = 1;
  for (size_t i = 0; i < srv->n_routes; i++)
    h2_only &= srv->routes[i].grpc != 0;
  c->http = tg_http_conn_new(&srv->router,
                             h2_only && srv->n_routes ? TG_HTTP_PROTO_H2 : TG_HTTP_PROTO_AUTO,
                             srv->tls, c->peer, conn_write, c);
  if (!c->http) {
    conn_close(c);
    return;
  }
  srv->n_active++;
  srv->stats.connections_accepted++;
  c->last_read_ms = uv_now(srv->loop);
  c->born_ms = c->request_since_ms = c->last_read_ms;
  tg_http_deadline_start(&c->deadline, c->last_read_ms);
  conn_arm(c);
  conn_read_start(c);
}

/* Accepting is bounded per loop iteration: libuv's accept loop runs until the backlog is
 * empty, and a flood of reconnecting clients (refused at once, back in the queue a moment
 * later) never empties it, so reads of admitted connections would starve. After
 * ACCEPT_BURST accepts in one iteration the callback leaves the connection pending, which
 * makes libuv pause the listener; an idle handle accepts it on the next iteration (after
 * that iteration's reads and timers) and so resumes the listener. */
static void on_resume(uv_idle_t *idle);

static void on_connection(uv_stream_t *listener, int status) {
  tg_http_server *srv = listener->data;
  if (status < 0 || srv->closing)
    return;
  if (srv->accepts_this_tick >= ACCEPT_BURST) {
    if (!srv->accept_deferred) {
      srv->accept_deferred = 1;
      uv_idle_start(&srv->resume, on_resume);
    }
    return;
  }
  srv->accepts_this_tick++;
  accept_one(srv);
}

static void on_tick(uv_prepare_t *tick) {
  tg_http_server *srv = tick->data;
  srv->accepts_this_tick = 0;
}

static void on_resume(uv_idle_t *idle) {
  tg_http_server *srv = idle->data;
  uv_idle_stop(idle);
  srv->accept_deferred = 0;
  srv->accepts_this_tick = 1;
  if (!srv->closing)
    accept_one(srv); /* uv_accept restarts the paused listener */
}

static void on_tick_closed(uv_handle_t *handle) {
  tg_http_server *srv = handle->data;
  srv->tick_handles--;
  server_maybe_finish(srv);
}

/* ---- server ---- */

tg_http_server *tg_http_server_create(uv_loop_t *loop, const tg_http_server_options *opts,
                                      tg_errbuf *err) {
  if (!loop || !opts) {
    tg_errf(err, TG_EINVAL, "http server: loop and options are required");
    return NULL;
  }
  tg_http_server *srv = tg_calloc(1, sizeof *srv);
  if (!srv) {
    tg_errf(err, TG_ENOMEM, "http server: out of memory");
    return NULL;
  }
  srv->loop = loop;
  if (tg_endpoint_resolve(opts->endpoint, &srv->addr, err) != TG_OK)
    goto fail;
  srv->name = tg_strdup(opts->name ? opts->name : "http_server");
  if (!srv->name) {
    tg_errf(err, TG_ENOMEM, "http server: out of memory");
    goto fail;
  }
  if (opts->tls_cert_file || opts->tls_key_file) {
    srv->tls = tg_tls_ctx_new(opts->tls_cert_file, opts->tls_key_file, opts->tls_client_ca_file,
                              err);
    if (!srv->tls)
      goto fail;
    if (tg_tls_reload_init(&srv->tls_reload, opts->tls_cert_file, opts->tls_key_file,
                           opts->tls_client_ca_file, opts->tls_reload_interval_ms,
                           uv_now(loop)) != TG_OK) {
      tg_errf(err, TG_ENOMEM, "http server: out of memory");
      goto fail;
    }
  } else if (opts->tls_client_ca_file) {
    tg_errf(err, TG_ECONFIG, "http server: tls_client_ca_file needs a certificate and key");
    goto fail;
  }
  size_t max_body = opts->max_body_bytes ? opts->max_body_bytes : 4u << 20;
  if (max_body > (size_t)1 << 30)
    max_body = (size_t)1 << 30; /* keeps the HTTP/2 connection budget from overflowing */
  srv->max_connections = opts->max_connections ? opts->max_connections : 1024;
  srv->max_per_peer = opts->max_connections_per_peer ? opts->max_connections_per_peer
                                                     : srv->max_connections / 4;
  if (srv->max_per_peer == 0)
    srv->max_per_peer = 1;
  if (srv->max_per_peer > srv->max_connections)
    srv->max_per_peer = srv->max_connections;
  srv->deadlines.idle_timeout_ms = opts->idle_timeout_ms ? opts->idle_timeout_ms : 60000;
  srv->deadlines.read_header_timeout_ms =
      opts->read_header_timeout_ms ? opts->read_header_timeout_ms : 10000;
  srv->deadlines.min_body_rate = opts->min_body_rate ? opts->min_body_rate : 1024;
  srv->peers = tg_peer_table_new(srv->max_connections);
  if (!srv->peers) {
    tg_errf(err, TG_ENOMEM, "http server: out of memory");
    goto fail;
  }
  srv->router.max_body_bytes = max_body;
  srv->router.max_concurrent_streams =
      opts->max_concurrent_streams ? opts->max_concurrent_streams : 100;
  srv->router.log = opts->log;
  srv->router.name = srv->name;
  srv->router.stats = &srv->stats;
  srv->router.on_refused = opts->on_refused;
  srv->router.on_refused_ctx = opts->on_refused_ctx;
  srv->router.auth = opts->auth;
  srv->keepalive = opts->keepalive;
  if (srv->keepalive.time_ms && !srv->keepalive.timeout_ms)
    srv->keepalive.timeout_ms = 20000;
  srv->router.keepalive = srv->keepalive;
  srv->read_timeout_ms = opts->read_timeout_ms;
  srv->write_timeout_ms = opts->write_timeout_ms;
  srv->read_buf = opts->read_buffer_size ? opts->read_buffer_size : READ_BUF;
  if (srv->read_buf < 4096)
    srv->read_buf = 4096;
  srv->out_high = opts->write_buffer_size ? opts->write_buffer_size : OUT_HIGH;
  srv->out_low = srv->out_high / 4;
  if (opts->cors) {
    srv->cors = *opts->cors;
    srv->cors.allowed_origins =
        server_copy_strv(srv, opts->cors->allowed_origins, opts->cors->n_allowed_origins, 0);
    srv->cors.allowed_headers =
        server_copy_strv(srv, opts->cors->allowed_headers, opts->cors->n_allowed_headers, 0);
    if (!srv->cors.allowed_origins || !srv->cors.allowed_headers)
      goto nomem;
    srv->router.cors = &srv->cors;
  }
  if (opts->n_response_headers) {
    srv->router.response_header_names =
        server_copy_strv(srv, opts->response_header_names, opts->n_response_headers, 1);
    srv->router.response_header_values =
        server_copy_strv(srv, opts->response_header_values, opts->n_response_headers, 0);
    if (!srv->router.response_header_names || !srv->router.response_header_values)
      goto nomem;
    srv->router.n_response_headers = opts->n_response_headers;
  }
  if (opts->n_encodings) {
    srv->router.encodings = server_copy_strv(srv, opts->encodings, opts->n_encodings, 0);
    if (!srv->router.encodings)
      goto nomem;
    srv->router.n_encodings = opts->n_encodings;
  }
  return srv;
nomem:
  tg_errf(err, TG_ENOMEM, "http server: out of memory");
fail:
  server_free_copies(srv);
  tg_tls_ctx_free(srv->tls);
  tg_tls_reload_free(&srv->tls_reload);
  tg_peer_table_free(srv->peers);
  tg_free(srv->name);
  tg_free(srv);
  return NULL;
}

int tg_http_server_add_route(tg_http_server *srv, const tg_http_route *route) {
  if (!srv || !route || !route->path || !route->handle)
    return TG_EINVAL;
  if (srv->n_routes == srv->cap_routes) {
    size_t cap = srv->cap_routes ? srv->cap_routes * 2 : 8;
    tg_http_route *grown = tg_realloc(srv->routes, cap * sizeof *grown);
    if (!grown)
      return TG_ENOMEM;
    srv->routes = grown;
    srv->cap_routes = cap;
  }
  srv->routes[srv->n_routes++] = *route;
  srv->router.routes = srv->routes;
  srv->router.n_routes = srv->n_routes;
  return TG_OK;
}

static void on_listener_closed(uv_handle_t *handle) {
  tg_http_server *srv = handle->data;
  srv->listener_open = 0;
  server_maybe_finish(srv);
}

int tg_http_server_start(tg_http_server *srv, tg_errbuf *err) {
  if (srv->listener_open || srv->closing)
    return tg_errf(err, TG_EINVAL, "http server: already started");
  int rc = uv_tcp_init(srv->loop, &srv->listener);
  if (rc != 0)
    return tg_errf(err, TG_EIO, "http server: uv_tcp_init: %s", uv_strerror(rc));
  srv->listener_open = 1;
  srv->listener.data = srv;
  rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&srv->addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
  if (rc != 0) {
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    return tg_errf(err, TG_EIO, "http server %s: cannot listen: %s", srv->name, uv_strerror(rc));
  }
  uv_prepare_init(srv->loop, &srv->tick);
  uv_idle_init(srv->loop, &srv->resume);
  srv->tick.data = srv->resume.data = srv;
  srv->tick_handles = 2;
  uv_prepare_start(&srv->tick, on_tick);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &sl) == 0)
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
  TG_LOG_INFO(srv->router.log, srv->name, "listening on port %d%s", srv->port,
              srv->tls ? " (TLS)" : "");
  return TG_OK;
}

int tg_http_server_port(const tg_http_server *srv) { return srv ? srv->port : 0; }

void tg_http_server_close(tg_http_server *srv, void (*done)(void *ctx), void *ctx) {
  if (!srv || srv->closing)
    return;
  srv->closing = 1;
  srv->done = done;
  srv->done_ctx = ctx;
  if (srv->listener_open && !uv_is_closing((uv_handle_t *)&srv->listener))
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
  if (srv->tick_handles == 2) {
    uv_close((uv_handle_t *)&srv->tick, on_tick_closed);
    uv_close((uv_handle_t *)&srv->resume, on_tick_closed);
  }
  for (srv_conn *c = srv->conns; c; c = c->next)
    conn_close(c);
  server_maybe_finish(srv);
}

void tg_http_server_get_stats(const tg_http_server *srv, tg_http_server_stats *out) {
  if (srv && out)
    *out = srv->stats;
}
