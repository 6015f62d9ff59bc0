/* The table behind tg_shared_routes.h: a short list of declared host endpoints and of
 * offered routes, owned by the service. A handful of entries at most, so linear scans. */
#include "tg_shared_routes.h"

#include <string.h>
#include <strings.h>

#include "tg_alloc.h"

typedef struct shared_host {
  char *endpoint;
  char *host_id;
} shared_host;

typedef struct shared_offer {
  char *endpoint;
  tg_http_route route;
} shared_offer;

struct tg_shared_routes {
  shared_host *hosts;
  size_t n_hosts;
  shared_offer *offers;
  size_t n_offers;
};

/* Splits "host:port" / "[v6]:port" at its last colon; 0 when there is no port. */
static int split(const char *ep, const char **host, size_t *host_len, const char **port) {
  const char *colon = ep ? strrchr(ep, ':') : NULL;
  if (!colon || !colon[1])
    return 0;
  *host = ep;
  *host_len = (size_t)(colon - ep);
  if (*host_len >= 2 && ep[0] == '[' && ep[*host_len - 1] == ']') {
    (*host)++;
    *host_len -= 2;
  }
  *port = colon + 1;
  return 1;
}

static int is_local(const char *h, size_t n) {
  static const char *const names[] = {"", "0.0.0.0", "::", "localhost", "::1"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && !strncasecmp(h, names[i], n))
      return 1;
  return n >= 4 && !strncmp(h, "127.", 4);
}

static int same_endpoint(const char *a, const char *b) {
  const char *ha, *hb, *pa, *pb;
  size_t la, lb;
  if (!split(a, &ha, &la, &pa) || !split(b, &hb, &lb, &pb) || strcmp(pa, pb))
    return 0;
  return (la == lb && !strncasecmp(ha, hb, la)) || (is_local(ha, la) && is_local(hb, lb));
}

static struct tg_shared_routes *table(tg_service *svc) {
  if (!svc->shared_routes)
    svc->shared_routes = tg_calloc(1, sizeof *svc->shared_routes);
  return svc->shared_routes;
}

int tg_service_host_routes(tg_service *svc, const char *endpoint, const char *host_id) {
  struct tg_shared_routes *t = table(svc);
  if (!t)
    return TG_ENOMEM;
  shared_host *grown = tg_realloc(t->hosts, (t->n_hosts + 1) * sizeof *grown);
  if (!grown)
    return TG_ENOMEM;
  t->hosts = grown;
  shared_host h = {tg_strdup(endpoint), tg_strdup(host_id ? host_id : "")};
  if (!h.endpoint || !h.host_id) {
    tg_free(h.endpoint);
    tg_free(h.host_id);
    return TG_ENOMEM;
  }
  t->hosts[t->n_hosts++] = h;
  return TG_OK;
}

int tg_service_offer_route(tg_service *svc, const char *endpoint, const tg_http_route *route,
                           const char **host_id) {
  struct tg_shared_routes *t = svc->shared_routes;
  const shared_host *host = NULL;
  for (size_t i = 0; t && i < t->n_hosts && !host; i++)
    if (same_endpoint(t->hosts[i].endpoint, endpoint))
      host = &t->hosts[i];
  if (!host)
    return 0;
  shared_offer *grown = tg_realloc(t->offers, (t->n_offers + 1) * sizeof *grown);
  if (!grown)
    return TG_ENOMEM;
  t->offers = grown;
  shared_offer o = {tg_strdup(host->endpoint), *route};
  if (!o.endpoint)
    return TG_ENOMEM;
  t->offers[t->n_offers++] = o;
  if (host_id)
    *host_id = host->host_id;
  return 1;
}

int tg_service_add_offered_routes(tg_service *svc, const char *endpoint, tg_http_server *srv) {
  struct tg_shared_routes *t = svc ? svc->shared_routes : NULL;
  int added = 0;
  for (size_t i = 0; t && i < t->n_offers; i++) {
    if (!same_endpoint(t->offers[i].endpoint, endpoint))
      continue;
    int rc = tg_http_server_add_route(srv, &t->offers[i].route);
    if (rc != TG_OK)
      return rc;
    added++;
  }
  return added;
}

void tg_service_unhost_routes(tg_service *svc, const char *host_id) {
  struct tg_shared_routes *t = svc ? svc->shared_routes : NULL;
  if (!t || !host_id)
    return;
  for (size_t i = 0; i < t->n_hosts;) {
    if (strcmp(t->hosts[i].host_id, host_id)) {
      i++;
      continue;
    }
    /* offers keep a copy of the host's endpoint string: drop those addressed to it */
    for (size_t k = 0; k < t->n_offers;) {
      if (strcmp(t->offers[k].endpoint, t->hosts[i].endpoint)) {
        k++;
        continue;
      }
      tg_free(t->offers[k].endpoint);
      t->offers[k] = t->offers[--t->n_offers];
    }
    tg_free(t->hosts[i].endpoint);
    tg_free(t->hosts[i].host_id);
    t->hosts[i] = t->hosts[--t->n_hosts];
  }
  if (!t->n_hosts && !t->n_offers)
    tg_shared_routes_free(svc);
}

void tg_shared_routes_free(tg_service *svc) {
  struct tg_shared_routes *t = svc->shared_routes;
  if (!t)
    return;
  for (size_t i = 0; i < t->n_hosts; i++) {
    tg_free(t->hosts[i].endpoint);
    tg_free(t->hosts[i].host_id);
  }
  for (size_t i = 0; i < t->n_offers; i++)
    tg_free(t->offers[i].endpoint);
  tg_free(t->hosts);
  tg_free(t->offers);
  tg_free(t);
  svc->shared_routes = NULL;
}
