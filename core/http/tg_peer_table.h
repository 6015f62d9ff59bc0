/* Connections per peer address: the bookkeeping behind max_connections_per_peer.
 *
 * A server admits a connection only while its peer holds fewer than its share of the
 * connection budget, so one address (a slowloris, a runaway client) cannot fill the
 * global max_connections and lock everyone else out. A peer is an IPv4 address, or the
 * /64 prefix of an IPv6 address (one host usually owns a whole /64, so counting single
 * IPv6 addresses would let it take every slot). Pure data structure: no sockets, no
 * clock; tg_http_server.c calls it on accept and close, unit tests call it directly. */
#ifndef TG_PEER_TABLE_H
#define TG_PEER_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

typedef struct tg_peer_key {
  uint8_t bytes[16]; /* IPv4-mapped IPv6 for IPv4; the /64 prefix (rest zero) for IPv6 */
} tg_peer_key;

typedef struct tg_peer_table tg_peer_table;

/* The key of a peer address (AF_INET or AF_INET6; anything else maps to one key). */
void tg_peer_key_from_sockaddr(const struct sockaddr *sa, tg_peer_key *out);

/* A table for at most max_peers distinct peers with a connection open at once (the
 * server passes max_connections: every admitted connection is one peer at most). Its
 * hash is keyed with a random seed, so peers cannot choose colliding addresses.
 * NULL on ENOMEM. */
tg_peer_table *tg_peer_table_new(size_t max_peers);
void tg_peer_table_free(tg_peer_table *t);

/* Counts one more connection for key when the peer holds fewer than limit (> 0).
 * TG_OK (counted), TG_EAGAIN (the peer is at its limit; nothing counted), TG_ENOMEM
 * (max_peers distinct peers already present; nothing counted). */
int tg_peer_table_acquire(tg_peer_table *t, const tg_peer_key *key, size_t limit);

/* Uncounts one connection of key, which must have been acquired. */
void tg_peer_table_release(tg_peer_table *t, const tg_peer_key *key);

/* Connections key holds now (0 when absent); distinct peers present. */
size_t tg_peer_table_count(const tg_peer_table *t, const tg_peer_key *key);
size_t tg_peer_table_peers(const tg_peer_table *t);

#endif
