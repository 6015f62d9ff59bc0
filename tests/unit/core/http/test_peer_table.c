/* Per-peer connection accounting (core/http/tg_peer_table.c): limits per peer, peers
 * independent of each other, IPv6 counted per /64, IPv4-mapped IPv6 as IPv4, the peer
 * bound, and release under churn (backward-shift deletion keeps every survivor findable). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/tg_peer_table.h"
#include "tg_error.h"

static tg_peer_key v4(const char *ip) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
  tg_peer_key k;
  tg_peer_key_from_sockaddr((struct sockaddr *)&a, &k);
  return k;
}

static tg_peer_key v6(const char *ip) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6};
  assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
  tg_peer_key k;
  tg_peer_key_from_sockaddr((struct sockaddr *)&a, &k);
  return k;
}

static void test_limit_per_peer(void **state) {
  (void)state;
  tg_peer_table *t = tg_peer_table_new(16);
  tg_peer_key a = v4("10.0.0.1"), b = v4("10.0.0.2");
  for (int i = 0; i < 3; i++)
    assert_int_equal(tg_peer_table_acquire(t, &a, 3), TG_OK);
  assert_int_equal(tg_peer_table_acquire(t, &a, 3), TG_EAGAIN); /* a is at its share */
  assert_int_equal(tg_peer_table_count(t, &a), 3);
  assert_int_equal(tg_peer_table_acquire(t, &b, 3), TG_OK);     /* b is not affected */
  assert_int_equal(tg_peer_table_peers(t), 2);
  tg_peer_table_release(t, &a);
  assert_int_equal(tg_peer_table_acquire(t, &a, 3), TG_OK);     /* a slot came back */
  for (int i = 0; i < 3; i++)
    tg_peer_table_release(t, &a);
  tg_peer_table_release(t, &b);
  assert_int_equal(tg_peer_table_peers(t), 0);
  assert_int_equal(tg_peer_table_count(t, &a), 0);
  tg_peer_table_free(t);
}

static void test_ipv6_per_prefix(void **state) {
  (void)state;
  tg_peer_table *t = tg_peer_table_new(16);
  tg_peer_key a1 = v6("2001:db8:1:2::1"), a2 = v6("2001:db8:1:2:ffff::9");
  tg_peer_key other = v6("2001:db8:1:3::1");
  assert_memory_equal(&a1, &a2, sizeof a1); /* same /64 */
  assert_int_equal(tg_peer_table_acquire(t, &a1, 2), TG_OK);
  assert_int_equal(tg_peer_table_acquire(t, &a2, 2), TG_OK);
  assert_int_equal(tg_peer_table_acquire(t, &a1, 2), TG_EAGAIN);
  assert_int_equal(tg_peer_table_acquire(t, &other, 2), TG_OK);
  /* an IPv4 peer on a dual-stack socket is the IPv4 peer */
  tg_peer_key mapped = v6("::ffff:192.0.2.7"), plain = v4("192.0.2.7");
  assert_memory_equal(&mapped, &plain, sizeof mapped);
  tg_peer_table_free(t);
}

static void test_peer_bound(void **state) {
  (void)state;
  tg_peer_table *t = tg_peer_table_new(4);
  char ip[32];
  for (int i = 0; i < 4; i++) {
    snprintf(ip, sizeof ip, "10.1.0.%d", i);
    tg_peer_key k = v4(ip);
    assert_int_equal(tg_peer_table_acquire(t, &k, 10), TG_OK);
  }
  tg_peer_key fifth = v4("10.1.0.99");
  assert_int_equal(tg_peer_table_acquire(t, &fifth, 10), TG_ENOMEM);
  tg_peer_key first = v4("10.1.0.0");
  assert_int_equal(tg_peer_table_acquire(t, &first, 10), TG_OK); /* known peers still count */
  tg_peer_table_free(t);
}

/* Many peers come and go in a pattern; after every step each live peer's count equals a
 * plain array's. */
static void test_churn_matches_model(void **state) {
  (void)state;
  enum { N = 200 };
  tg_peer_table *t = tg_peer_table_new(N);
  size_t model[N] = {0};
  tg_peer_key keys[N];
  char ip[32];
  for (int i = 0; i < N; i++) {
    snprintf(ip, sizeof ip, "172.16.%d.%d", i / 250, i % 250);
    keys[i] = v4(ip);
  }
  uint32_t x = 12345;
  for (int step = 0; step < 20000; step++) {
    x = x * 1103515245u + 12345u;
    int i = (int)((x >> 8) % N);
    if ((x >> 20) & 1) {
      int rc = tg_peer_table_acquire(t, &keys[i], 3);
      assert_int_equal(rc, model[i] < 3 ? TG_OK : TG_EAGAIN);
      if (rc == TG_OK)
        model[i]++;
    } else if (model[i]) {
      tg_peer_table_release(t, &keys[i]);
      model[i]--;
    }
    if (step % 997 == 0) {
      size_t live = 0;
      for (int j = 0; j < N; j++) {
        assert_int_equal(tg_peer_table_count(t, &keys[j]), model[j]);
        live += model[j] > 0;
      }
      assert_int_equal(tg_peer_table_peers(t), live);
    }
  }
  tg_peer_table_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limit_per_peer),
      cmocka_unit_test(test_ipv6_per_prefix),
      cmocka_unit_test(test_peer_bound),
      cmocka_unit_test(test_churn_matches_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
