/* libFuzzer target for the loadbalancing exporter's readers of untrusted bytes: the DNS
 * answer reader (lb_dns_parse_a: what a DNS server sends back) and the wire split
 * (lb_split_request over arbitrary bytes; every span that comes out must have been
 * counted, and a split that succeeds must produce requests that split again to the same
 * span count). The first byte picks the reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/loadbalancing/lb_dns.h"
#include "exporters/loadbalancing/lb_split.h"
#include "tg_error.h"

static int64_t pick(void *ctx, int by_trace, const uint8_t id[16], uint64_t hash) {
  (void)ctx;
  return by_trace ? id[0] % 3 : (int64_t)(hash % 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size)
    return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  if (data[0] & 1) {
    uint32_t addrs[8];
    size_t na;
    uint16_t id = n >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 0;
    int rc = lb_dns_parse_a(p, n, id, addrs, 8, &na);
    if (rc < 0 && na > 8)
      abort();
    return 0;
  }
  static const char *const attrs[] = {"tenant", "service.name"};
  lb_out outs[3] = {0};
  lb_splitter s = {.mode = (data[0] >> 1) % 4, .attrs = attrs, .n_attrs = 2, .pick = pick,
                   .outs = outs, .n_outs = 3};
  if (lb_split_request(&s, p, n) == TG_OK) {
    size_t spans = outs[0].spans + outs[1].spans + outs[2].spans;
    lb_out again[3] = {0};
    lb_splitter s2 = s;
    s2.outs = again;
    s2.refs = NULL, s2.counts = NULL, s2.prefix = NULL;
    s2.refs_cap = s2.counts_cap = s2.prefix_cap = 0;
    size_t spans2 = 0;
    for (int i = 0; i < 3; i++)
      if (lb_split_request(&s2, outs[i].data, outs[i].len) != TG_OK)
        abort(); /* what we wrote must read back */
    for (int i = 0; i < 3; i++)
      spans2 += again[i].spans;
    if (spans2 != spans)
      abort();
    lb_outs_free(again, 3);
    lb_splitter_free_scratch(&s2);
  }
  lb_outs_free(outs, 3);
  lb_splitter_free_scratch(&s);
  return 0;
}
