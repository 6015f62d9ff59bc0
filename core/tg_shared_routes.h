/* Routes served on another component's listener. A Jaeger collector answers both
 * CollectorService/PostSpans and SamplingManager/GetSamplingStrategy on :14250; when a
 * configuration puts two components' gRPC services on one endpoint, binding twice would
 * fail, so one component hosts the listener and the other hands it routes.
 *
 * Protocol (all on the loop thread, relying on the service's order: every create runs
 * before any start, and extensions start before and stop after receivers):
 *  1. a host declares at create that it will listen on an endpoint and carry offered
 *     routes (tg_service_host_routes);
 *  2. a guest, at start, offers a route for an endpoint (tg_service_offer_route): 1 means
 *     a host declared a matching endpoint and will serve the route, 0 means nobody did and
 *     the guest listens itself;
 *  3. the host adds the offered routes to its server before starting it
 *     (tg_service_add_offered_routes).
 * Endpoints match when the ports are equal and the hosts are equal or both local
 * (empty, 0.0.0.0, ::, localhost, 127.x, ::1): such pairs could not both bind anyway.
 * The route's ctx must outlive the host's server, which the stop order guarantees for
 * extensions. */
#ifndef TG_SHARED_ROUTES_H
#define TG_SHARED_ROUTES_H

#include "tg_http_server.h"
#include "tg_service.h"

/* Declares that host_id will listen on endpoint and carry routes offered for it. The
 * strings are copied. TG_OK or TG_ENOMEM. */
int tg_service_host_routes(tg_service *svc, const char *endpoint, const char *host_id);

/* Offers route (copied; its strings must be static or outlive the service) for endpoint.
 * Returns 1 when a host declared a matching endpoint (*host_id, if given, names it),
 * 0 when none did (nothing kept), TG_ENOMEM. */
int tg_service_offer_route(tg_service *svc, const char *endpoint, const tg_http_route *route,
                           const char **host_id);

/* Adds every route offered for endpoint to srv (before tg_http_server_start). Returns
 * the number added, or a negative error. */
int tg_service_add_offered_routes(tg_service *svc, const char *endpoint, tg_http_server *srv);

/* Withdraws what host_id declared and the routes offered to it (the host's destroy), and
 * frees the table once it is empty, so a host in a hand-built service leaks nothing. */
void tg_service_unhost_routes(tg_service *svc, const char *host_id);

/* Frees the table (tg_service_destroy calls it). */
void tg_shared_routes_free(tg_service *svc);

#endif
