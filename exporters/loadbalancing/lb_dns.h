/* A minimal DNS client codec for the loadbalancing exporter's dns resolver when it asks
 * a given server (resolver.dns.nameserver) instead of the system's resolver: one A query
 * over UDP (RFC 1035 §4), and the reading of its answer. Pure functions over untrusted
 * bytes, with a fuzz target (tests/fuzz/lb_dns). */
#ifndef TG_LB_DNS_H
#define TG_LB_DNS_H

#include <stddef.h>
#include <stdint.h>

enum { LB_DNS_MAX_QUERY = 512 };

/* Writes an A/IN query for name (dotted, no trailing dot needed) with id and recursion
 * desired into out (LB_DNS_MAX_QUERY bytes). Returns the length, or 0 when name is not
 * a valid host name (empty label, label over 63 bytes, name over 253). */
size_t lb_dns_build_query(const char *name, uint16_t id, uint8_t *out);

/* Reads a response to the query with id: the IPv4 addresses of its A/IN answers, in
 * order, at most max (further ones ignored) into addrs (network byte order), *n set.
 * Returns the RCODE (0 NOERROR, 3 NXDOMAIN, ...) or -1 when the message is malformed,
 * not a response, or has another id. */
int lb_dns_parse_a(const uint8_t *msg, size_t len, uint16_t id, uint32_t *addrs, size_t max,
                   size_t *n);

#endif
