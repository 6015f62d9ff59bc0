/* DNS A query and answer (see lb_dns.h). Names in answers may be compressed (RFC 1035
 * §4.1.4): skipping one follows no pointer (a pointer ends a name), so a hostile
 * message cannot loop. Every read is checked against the end. */
#include "lb_dns.h"

#include <string.h>

size_t lb_dns_build_query(const char *name, uint16_t id, uint8_t *out) {
  size_t nlen = strlen(name);
  if (nlen && name[nlen - 1] == '.')
    nlen--;
  if (!nlen || nlen > 253)
    return 0;
  uint8_t *p = out;
  *p++ = (uint8_t)(id >> 8);
  *p++ = (uint8_t)id;
  *p++ = 0x01; /* RD */
  *p++ = 0x00;
  *p++ = 0;
  *p++ = 1; /* QDCOUNT */
  memset(p, 0, 6);
  p += 6;
  const char *label = name;
  for (size_t i = 0; i <= nlen; i++) {
    if (i == nlen || name[i] == '.') {
      size_t l = (size_t)(name + i - label);
      if (!l || l > 63)
        return 0;
      *p++ = (uint8_t)l;
      memcpy(p, label, l);
      p += l;
      label = name + i + 1;
    }
  }
  *p++ = 0;
  *p++ = 0;
  *p++ = 1; /* QTYPE A */
  *p++ = 0;
  *p++ = 1; /* QCLASS IN */
  return (size_t)(p - out);
}

/* Skips a name at *off; 0 or -1. */
static int skip_name(const uint8_t *m, size_t len, size_t *off) {
  size_t o = *off;
  for (int labels = 0; labels < 128; labels++) {
    if (o >= len)
      return -1;
    uint8_t l = m[o];
    if ((l & 0xc0) == 0xc0) {
      if (o + 2 > len)
        return -1;
      *off = o + 2;
      return 0;
    }
    if (l & 0xc0)
      return -1;
    o += 1 + (size_t)l;
    if (!l) {
      *off = o;
      return 0;
    }
  }
  return -1;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int lb_dns_parse_a(const uint8_t *msg, size_t len, uint16_t id, uint32_t *addrs, size_t max,
                   size_t *n) {
  *n = 0;
  if (len < 12 || rd16(msg) != id || !(msg[2] & 0x80))
    return -1;
  int rcode = msg[3] & 0x0f;
  uint16_t qd = rd16(msg + 4), an = rd16(msg + 6);
  size_t off = 12;
  for (uint16_t i = 0; i < qd; i++) {
    if (skip_name(msg, len, &off) || off + 4 > len)
      return -1;
    off += 4;
  }
  for (uint16_t i = 0; i < an; i++) {
    if (skip_name(msg, len, &off) || off + 10 > len)
      return -1;
    uint16_t type = rd16(msg + off), cls = rd16(msg + off + 2), rdlen = rd16(msg + off + 8);
    off += 10;
    if (off + rdlen > len)
      return -1;
    if (type == 1 && cls == 1 && rdlen == 4 && *n < max) {
      uint32_t a;
      memcpy(&a, msg + off, 4);
      addrs[(*n)++] = a;
    }
    off += rdlen;
  }
  return rcode;
}
