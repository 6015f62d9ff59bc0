/* Listening endpoints ("host:port"): one syntax, shared by start-up and `tailgate
 * validate`, so that validate refuses exactly what start-up refuses.
 *
 * Accepted: `:4317` and `0.0.0.0:4317` (every IPv4 interface), an IPv4 literal, a
 * bracketed IPv6 literal (`[::]:4317`, `[::1]:4317`), or a host name (`localhost`,
 * `myhost`, `gw.example.internal`: letters, digits, '-' and '.', labels of 1-63
 * characters, at most 253 in all). The port is 0-65535 in decimal (0 picks a free port).
 * A host name is resolved when the listener is created (tg_endpoint_resolve), as the
 * OpenTelemetry Collector does; only that lookup can fail at start-up and not in
 * validate, since whether a name resolves depends on the machine, not the file. */
#ifndef TG_ENDPOINT_H
#define TG_ENDPOINT_H

#include <stddef.h>
#include <sys/socket.h>

#include "tg_error.h"

/* Checks the syntax. On success fills host (brackets removed; "" for all interfaces;
 * host_len >= 254 always suffices) and *port, returns TG_OK. Otherwise TG_ECONFIG with
 * a sentence in why ("needs a port", ...), naming no endpoint (the caller does). */
int tg_endpoint_split(const char *endpoint, char *host, size_t host_len, int *port,
                      char *why, size_t why_len);

/* tg_endpoint_split, then the address to bind: a literal as written, "" as 0.0.0.0,
 * "localhost" as 127.0.0.1, any other name through getaddrinfo (its first IPv4
 * address, else its first IPv6 one). TG_OK, or TG_ECONFIG (syntax) / TG_EIO (the name
 * does not resolve) with err naming the endpoint. Blocking: setup paths only. */
int tg_endpoint_resolve(const char *endpoint, struct sockaddr_storage *out, tg_errbuf *err);

#endif
