/* Per-peer connection counts in one open-addressing table (linear probing,
 * backward-shift deletion, so no tombstones accumulate under connection churn).
 *
 * The slot array is allocated once at twice the peer bound rounded up to a power of two,
 * so the load factor never passes one half and nothing grows on the accept path. The
 * hash is FNV-1a over a random per-table seed followed by the key: an attacker who picks
 * addresses cannot aim them at one probe run without knowing the seed. */
#include "tg_peer_table.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "tg_alloc.h"
#include "tg_error.h"

typedef struct peer_slot {
  tg_peer_key key;
  uint32_t count; /* 0 = empty slot */
} peer_slot;

struct tg_peer_table {
  peer_slot *slots;
  size_t mask;
  size_t peers, max_peers;
  uint64_t seed;
};

void tg_peer_key_from_sockaddr(const struct sockaddr *sa, tg_peer_key *out) {
  memset(out, 0, sizeof *out);
  if (!sa)
    return;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    out->bytes[10] = 0xff;
    out->bytes[11] = 0xff;
    memcpy(out->bytes + 12, &in->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(in6->sin6_addr.s6_addr, mapped, 12) == 0)
      memcpy(out->bytes, in6->sin6_addr.s6_addr, 16); /* an IPv4 peer on a dual-stack socket */
    else
      memcpy(out->bytes, in6->sin6_addr.s6_addr, 8);
  }
}

static size_t slot_of(const tg_peer_table *t, const tg_peer_key *k) {
  uint64_t h = 1469598103934665603ull ^ t->seed;
  for (size_t i = 0; i < sizeof k->bytes; i++) {
    h ^= k->bytes[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 29;
  return (size_t)h & t->mask;
}

tg_peer_table *tg_peer_table_new(size_t max_peers) {
  if (max_peers == 0)
    max_peers = 1;
  size_t n = 4;
  while (n < 2 * max_peers)
    n <<= 1;
  tg_peer_table *t = tg_calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->slots = tg_calloc(n, sizeof *t->slots);
  if (!t->slots) {
    tg_free(t);
    return NULL;
  }
  t->mask = n - 1;
  t->max_peers = max_peers;
  if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed)
    t->seed = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull; /* better than a constant */
  return t;
}

void tg_peer_table_free(tg_peer_table *t) {
  if (!t)
    return;
  tg_free(t->slots);
  tg_free(t);
}

/* The slot holding key, or the empty slot ending its probe run. */
static size_t find(const tg_peer_table *t, const tg_peer_key *k) {
  size_t i = slot_of(t, k);
  while (t->slots[i].count && memcmp(&t->slots[i].key, k, sizeof *k) != 0)
    i = (i + 1) & t->mask;
  return i;
}

int tg_peer_table_acquire(tg_peer_table *t, const tg_peer_key *key, size_t limit) {
  size_t i = find(t, key);
  peer_slot *s = &t->slots[i];
  if (s->count) {
    if (s->count >= limit)
      return TG_EAGAIN;
    s->count++;
    return TG_OK;
  }
  if (limit == 0)
    return TG_EAGAIN;
  if (t->peers >= t->max_peers)
    return TG_ENOMEM;
  s->key = *key;
  s->count = 1;
  t->peers++;
  return TG_OK;
}

void tg_peer_table_release(tg_peer_table *t, const tg_peer_key *key) {
  size_t i = find(t, key);
  if (!t->slots[i].count || --t->slots[i].count)
    return;
  t->peers--;
  /* Backward-shift deletion: pull later members of the probe run into the hole when
   * their home slot does not lie cyclically in (hole, j]. */
  size_t hole = i;
  for (size_t j = (hole + 1) & t->mask; t->slots[j].count; j = (j + 1) & t->mask) {
    size_t home = slot_of(t, &t->slots[j].key);
    int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays)
      continue;
    t->slots[hole] = t->slots[j];
    t->slots[j].count = 0;
    hole = j;
  }
}

size_t tg_peer_table_count(const tg_peer_table *t, const tg_peer_key *key) {
  return t->slots[find(t, key)].count;
}

size_t tg_peer_table_peers(const tg_peer_table *t) { return t->peers; }
