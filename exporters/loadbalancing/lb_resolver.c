/* The loadbalancing exporter's resolvers (the Collector's keys):
 *  - static: resolver.static.hostnames, each "host" (port 4317) or "host:port", given
 *    to the exporter once at start;
 *  - dns: resolver.dns.hostname resolved every `interval` to its IPv4 addresses, each
 *    paired with resolver.dns.port. By default through the system resolver
 *    (uv_getaddrinfo); with our resolver.dns.nameserver ("ip:port") by one A query over
 *    UDP to that server (lb_dns.c), answered within `timeout` — how tests point the
 *    exporter at a DNS server they run. A failed refresh (timeout, SERVFAIL, NXDOMAIN,
 *    no address) counts a failure and keeps the endpoints it had, as the Collector does:
 *    a sampler tier is never emptied by a DNS hiccup.
 * Every answer goes to lb_set_endpoints sorted and de-duplicated, which does nothing
 * when the set is unchanged. Loop thread only. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "lb_dns.h"
#include "tg_alloc.h"
#include "tg_log.h"
#include "tg_service.h"

enum { MAX_ADDRS = 256 };

typedef struct lb_resolver {
  lb_exporter *lb;
  uv_timer_t timer, timeout;
  uv_udp_t udp;
  uv_getaddrinfo_t gai;
  bool timer_open, timeout_open, udp_open, gai_busy, query_busy, closing;
  uint16_t qid;
  struct sockaddr_in ns;
  uint8_t rbuf[4096];
} lb_resolver;

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts, de-duplicates and hands the list to the exporter; frees the strings. */
static void publish(lb_exporter *lb, char **eps, size_t n) {
  qsort(eps, n, sizeof *eps, str_cmp);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k && !strcmp(eps[k - 1], eps[i])) {
      tg_free(eps[i]);
      continue;
    }
    eps[k++] = eps[i];
  }
  lb_set_endpoints(lb, eps, k);
  for (size_t i = 0; i < k; i++)
    tg_free(eps[i]);
}

static void publish_addrs(lb_resolver *r, const uint32_t *addrs, size_t n) {
  lb_exporter *lb = r->lb;
  char **eps = tg_calloc(n ? n : 1, sizeof *eps);
  if (!eps)
    return;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char ip[INET_ADDRSTRLEN], ep[64];
    struct in_addr a = {.s_addr = addrs[i]};
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    snprintf(ep, sizeof ep, "%s:%lld", ip, (long long)lb->conf->dns_port);
    eps[k] = tg_strdup(ep);
    if (eps[k])
      k++;
  }
  tg_metric_add(lb->m_refreshes, 1);
  publish(lb, eps, k);
  tg_free(eps);
}

static void refresh_failed(lb_resolver *r, const char *why) {
  tg_metric_add(r->lb->m_failures, 1);
  tg_service *svc = r->lb->self->service;
  if (svc && svc->log)
    TG_LOG_WARN(svc->log, r->lb->id, "resolving %s failed: %s (keeping %zu endpoints)",
                r->lb->conf->dns_hostname, why, r->lb->n_backends);
}

/* ---- system resolver ---- */

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lb_resolver *r = req->data;
  r->gai_busy = false;
  if (r->closing) {
    uv_freeaddrinfo(res);
    lb_handle_closed(r->lb);
    return;
  }
  if (status < 0) {
    refresh_failed(r, uv_strerror(status));
    return;
  }
  uint32_t addrs[MAX_ADDRS];
  size_t n = 0;
  for (struct addrinfo *a = res; a && n < MAX_ADDRS; a = a->ai_next)
    if (a->ai_family == AF_INET)
      addrs[n++] = ((struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr;
  uv_freeaddrinfo(res);
  if (!n)
    refresh_failed(r, "no IPv4 address");
  else
    publish_addrs(r, addrs, n);
}

/* ---- a given DNS server ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  lb_resolver *r = h->data;
  *buf = uv_buf_init((char *)r->rbuf, sizeof r->rbuf);
}

static void on_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                   const struct sockaddr *from, unsigned flags) {
  (void)flags;
  (void)from;
  lb_resolver *r = h->data;
  if (nread <= 0 || !r->query_busy || r->closing)
    return;
  uint32_t addrs[MAX_ADDRS];
  size_t n;
  int rcode = lb_dns_parse_a((const uint8_t *)buf->base, (size_t)nread, r->qid, addrs,
                             MAX_ADDRS, &n);
  if (rcode < 0)
    return; /* not our answer: keep waiting until the timeout */
  r->query_busy = false;
  uv_timer_stop(&r->timeout);
  if (rcode) {
    char why[32];
    snprintf(why, sizeof why, "DNS rcode %d", rcode);
    refresh_failed(r, why);
  } else if (!n) {
    refresh_failed(r, "no A record");
  } else {
    publish_addrs(r, addrs, n);
  }
}

static void on_send(uv_udp_send_t *req, int status) {
  (void)status; /* a lost query ends in the timeout */
  tg_free(req);
}

static void on_timeout(uv_timer_t *t) {
  lb_resolver *r = t->data;
  if (!r->query_busy)
    return;
  r->query_busy = false;
  refresh_failed(r, "timeout");
}

static void query(lb_resolver *r) {
  if (r->query_busy)
    return; /* the previous one is still within its timeout */
  static const size_t cap = LB_DNS_MAX_QUERY;
  uv_udp_send_t *req = tg_calloc(1, sizeof *req + cap);
  if (!req)
    return;
  uint8_t *q = (uint8_t *)(req + 1);
  r->qid = (uint16_t)(r->qid * 31 + 7 + (uint16_t)uv_now(r->udp.loop));
  size_t len = lb_dns_build_query(r->lb->conf->dns_hostname, r->qid, q);
  if (!len) {
    tg_free(req);
    refresh_failed(r, "invalid host name");
    return;
  }
  req->data = r;
  uv_buf_t b = uv_buf_init((char *)q, (unsigned)len);
  if (uv_udp_send(req, &r->udp, &b, 1, (const struct sockaddr *)&r->ns, on_send)) {
    tg_free(req);
    refresh_failed(r, "cannot send the query");
    return;
  }
  r->query_busy = true;
  uv_timer_start(&r->timeout, on_timeout, r->lb->conf->dns_timeout_ms, 0);
}

static void on_tick(uv_timer_t *t) {
  lb_resolver *r = t->data;
  if (r->closing)
    return;
  if (r->lb->conf->dns_nameserver) {
    query(r);
    return;
  }
  if (r->gai_busy)
    return;
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
  r->gai.data = r;
  if (uv_getaddrinfo(t->loop, &r->gai, on_gai, r->lb->conf->dns_hostname, NULL, &hints) == 0)
    r->gai_busy = true;
  else
    refresh_failed(r, "cannot start the lookup");
}

lb_resolver *lb_resolver_new(lb_exporter *lb) {
  lb_resolver *r = tg_calloc(1, sizeof *r);
  if (r)
    r->lb = lb;
  return r;
}

/* "host" → "host:4317"; "host:port" as given. */
static char *static_endpoint(const char *h) {
  const char *colon = strrchr(h, ':');
  bool has_port = colon && (h[0] != '[' || colon > strchr(h, ']'));
  size_t len = strlen(h) + 8;
  char *ep = tg_calloc(1, len);
  if (ep)
    snprintf(ep, len, has_port ? "%s" : "%s:4317", h);
  return ep;
}

int lb_resolver_start(lb_resolver *r, tg_errbuf *err) {
  lb_exporter *lb = r->lb;
  const lb_conf *c = lb->conf;
  uv_loop_t *loop = lb->self->service->loop;
  if (!c->dns_hostname) {
    size_t n = c->static_hostnames.n;
    char **eps = tg_calloc(n ? n : 1, sizeof *eps);
    if (!eps)
      return tg_errf(err, TG_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if ((eps[k] = static_endpoint(c->static_hostnames.items[i])))
        k++;
    tg_metric_add(lb->m_refreshes, 1);
    publish(lb, eps, k);
    tg_free(eps);
    return TG_OK;
  }
  if (c->dns_nameserver) {
    const char *colon = strrchr(c->dns_nameserver, ':');
    char ip[64];
    size_t il = colon ? (size_t)(colon - c->dns_nameserver) : 0;
    if (!colon || il >= sizeof ip)
      return tg_errf(err, TG_ECONFIG, "resolver.dns.nameserver: expected ip:port");
    memcpy(ip, c->dns_nameserver, il);
    ip[il] = 0;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535 || uv_ip4_addr(ip, (int)port, &r->ns))
      return tg_errf(err, TG_ECONFIG, "resolver.dns.nameserver \"%s\": expected ipv4:port",
                     c->dns_nameserver);
    if (uv_udp_init(loop, &r->udp))
      return tg_errf(err, TG_EIO, "cannot create the DNS socket");
    r->udp.data = r;
    r->udp_open = true;
    struct sockaddr_in any;
    uv_ip4_addr("0.0.0.0", 0, &any);
    if (uv_udp_bind(&r->udp, (const struct sockaddr *)&any, 0) ||
        uv_udp_recv_start(&r->udp, on_alloc, on_udp))
      return tg_errf(err, TG_EIO, "cannot open the DNS socket");
    uv_timer_init(loop, &r->timeout);
    r->timeout.data = r;
    r->timeout_open = true;
  }
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  r->timer_open = true;
  uv_timer_start(&r->timer, on_tick, 0, c->dns_interval_ms);
  return TG_OK;
}

static void on_close(uv_handle_t *h) {
  lb_resolver *r = h->data;
  lb_handle_closed(r->lb);
}

int lb_resolver_close(lb_resolver *r) {
  if (!r || r->closing)
    return 0;
  r->closing = true;
  int n = 0;
  uv_handle_t *hs[] = {r->timer_open ? (uv_handle_t *)&r->timer : NULL,
                       r->timeout_open ? (uv_handle_t *)&r->timeout : NULL,
                       r->udp_open ? (uv_handle_t *)&r->udp : NULL};
  for (int i = 0; i < 3; i++)
    if (hs[i]) {
      uv_close(hs[i], on_close);
      n++;
    }
  if (r->gai_busy) {
    uv_cancel((uv_req_t *)&r->gai); /* on_gai still runs (ECANCELED or done) */
    n++;
  }
  return n;
}

void lb_resolver_free(lb_resolver *r) { tg_free(r); }
