/* Listening endpoint syntax and resolution (see tg_endpoint.h). The syntax check is
 * deliberately independent of the machine (no lookups), so `tailgate validate` can run
 * it anywhere; tg_endpoint_resolve adds the lookup that only start-up can do. */
#include "tg_endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int fail(char *why, size_t why_len, const char *msg) {
  if (why && why_len)
    snprintf(why, why_len, "%s", msg);
  return TG_ECONFIG;
}

static int is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.';
}

/* RFC 1123 host name, or a dotted IPv4 literal when it is all digits and dots. */
static int check_name(const char *h, char *why, size_t why_len) {
  size_t n = strlen(h);
  if (n > 253)
    return fail(why, why_len, "host name longer than 253 characters");
  int all_numeric = 1;
  for (const char *c = h; *c; c++) {
    if (!is_host_char(*c))
      return fail(why, why_len,
                  "host must be an IP address or a host name (letters, digits, '-', '.'); "
                  "IPv6 addresses go in brackets: [::1]:4317");
    if (*c != '.' && (*c < '0' || *c > '9'))
      all_numeric = 0;
  }
  if (all_numeric) {
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 ? TG_OK
                                          : fail(why, why_len, "invalid IPv4 address");
  }
  const char *label = h;
  for (const char *c = h;; c++) {
    if (*c == '.' || *c == '\0') {
      size_t ll = (size_t)(c - label);
      if (ll == 0 && *c == '\0' && c != h && c[-1] == '.')
        break; /* one trailing dot: a fully qualified name */
      if (ll == 0 || ll > 63)
        return fail(why, why_len, "host name labels must be 1 to 63 characters");
      if (label[0] == '-' || c[-1] == '-')
        return fail(why, why_len, "host name labels must not start or end with '-'");
      if (*c == '\0')
        break;
      label = c + 1;
    }
  }
  return TG_OK;
}

int tg_endpoint_split(const char *endpoint, char *host, size_t host_len, int *port,
                      char *why, size_t why_len) {
  if (!endpoint || !*endpoint)
    return fail(why, why_len, "is empty");
  const char *colon = strrchr(endpoint, ':');
  if (!colon)
    return fail(why, why_len, "is not host:port (a port is required)");
  const char *p = colon + 1;
  size_t pl = strlen(p);
  if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl)
    return fail(why, why_len, "needs a decimal port");
  long pv = 0;
  for (const char *c = p; *c; c++)
    pv = pv * 10 + (*c - '0');
  if (pv > 65535)
    return fail(why, why_len, "port is above 65535");
  size_t hl = (size_t)(colon - endpoint);
  char h[300];
  if (hl >= sizeof h)
    return fail(why, why_len, "host name longer than 253 characters");
  memcpy(h, endpoint, hl);
  h[hl] = '\0';
  const char *bare = h;
  if (hl && h[0] == '[') {
    if (hl < 3 || h[hl - 1] != ']')
      return fail(why, why_len, "unbalanced brackets around an IPv6 address");
    h[hl - 1] = '\0';
    bare = h + 1;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, bare, &a6) != 1)
      return fail(why, why_len, "invalid IPv6 address in brackets");
  } else if (strchr(h, ':')) {
    return fail(why, why_len, "IPv6 addresses must be in brackets: [::1]:4317");
  } else if (hl) {
    int rc = check_name(h, why, why_len);
    if (rc != TG_OK)
      return rc;
  }
  if (strlen(bare) >= host_len)
    return fail(why, why_len, "host name too long");
  memcpy(host, bare, strlen(bare) + 1);
  *port = (int)pv;
  return TG_OK;
}

int tg_endpoint_resolve(const char *endpoint, struct sockaddr_storage *out, tg_errbuf *err) {
  char host[300], why[160];
  int port;
  if (tg_endpoint_split(endpoint, host, sizeof host, &port, why, sizeof why) != TG_OK)
    return tg_errf(err, TG_ECONFIG, "endpoint \"%s\" %s", endpoint ? endpoint : "", why);
  memset(out, 0, sizeof *out);
  struct sockaddr_in *in4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  const char *literal = host[0] == '\0' ? "0.0.0.0" : strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, literal, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return TG_OK;
  }
  if (inet_pton(AF_INET6, literal, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return TG_OK;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res)
    return tg_errf(err, TG_EIO, "endpoint \"%s\": cannot resolve host \"%s\": %s", endpoint,
                   host, rc ? gai_strerror(rc) : "no address");
  const struct addrinfo *pick = NULL;
  for (const struct addrinfo *a = res; a && !pick; a = a->ai_next)
    if (a->ai_family == AF_INET)
      pick = a;
  for (const struct addrinfo *a = res; a && !pick; a = a->ai_next)
    if (a->ai_family == AF_INET6)
      pick = a;
  if (!pick) {
    freeaddrinfo(res);
    return tg_errf(err, TG_EIO, "endpoint \"%s\": host \"%s\" has no IP address", endpoint,
                   host);
  }
  memcpy(out, pick->ai_addr, pick->ai_addrlen);
  if (pick->ai_family == AF_INET)
    in4->sin_port = htons((uint16_t)port);
  else
    in6->sin6_port = htons((uint16_t)port);
  freeaddrinfo(res);
  return TG_OK;
}
