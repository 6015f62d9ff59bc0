/* Listening endpoints (core/tg_endpoint.c): the syntax that start-up and `tailgate
 * validate` share, and resolution (literals, localhost, this machine's own name, a name
 * that cannot resolve). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tg_endpoint.h"

static void accepts(const char *ep, const char *host, int port) {
  char h[300], why[160] = "";
  int p = -1;
  int rc = tg_endpoint_split(ep, h, sizeof h, &p, why, sizeof why);
  if (rc != TG_OK)
    fail_msg("%s refused: %s", ep, why);
  assert_string_equal(h, host);
  assert_int_equal(p, port);
}

static void refuses(const char *ep, const char *why_expected) {
  char h[300], why[160] = "";
  int p;
  assert_int_equal(tg_endpoint_split(ep, h, sizeof h, &p, why, sizeof why), TG_ECONFIG);
  assert_string_equal(why, why_expected);
}

static void test_syntax(void **state) {
  (void)state;
  accepts("0.0.0.0:4317", "0.0.0.0", 4317);
  accepts(":4318", "", 4318);
  accepts("127.0.0.1:0", "127.0.0.1", 0);
  accepts("[::]:14250", "::", 14250);
  accepts("[::1]:65535", "::1", 65535);
  accepts("localhost:4317", "localhost", 4317);
  accepts("myhost:4317", "myhost", 4317);
  accepts("gw-1.example.internal.:80", "gw-1.example.internal.", 80);
  refuses("", "is empty");
  refuses("4317", "is not host:port (a port is required)");
  refuses("host:", "needs a decimal port");
  refuses("host:http", "needs a decimal port");
  refuses("host:-1", "needs a decimal port");
  refuses("host:65536", "port is above 65535");
  refuses("::1:4317", "IPv6 addresses must be in brackets: [::1]:4317");
  refuses("[::1:4317", "unbalanced brackets around an IPv6 address");
  refuses("[zz::1]:4317", "invalid IPv6 address in brackets");
  refuses("1.2.3.256:1", "invalid IPv4 address");
  refuses("under_score:1", "host must be an IP address or a host name (letters, digits, "
                           "'-', '.'); IPv6 addresses go in brackets: [::1]:4317");
  refuses("-bad.example:1", "host name labels must not start or end with '-'");
  refuses("a..b:1", "host name labels must be 1 to 63 characters");
}

static void test_resolve(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  tg_errbuf err;
  assert_int_equal(tg_endpoint_resolve(":4317", &ss, &err), TG_OK);
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  assert_int_equal(in->sin_family, AF_INET);
  assert_int_equal(in->sin_addr.s_addr, htonl(INADDR_ANY));
  assert_int_equal(ntohs(in->sin_port), 4317);
  assert_int_equal(tg_endpoint_resolve("localhost:1", &ss, &err), TG_OK);
  assert_int_equal(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  assert_int_equal(tg_endpoint_resolve("[::1]:2", &ss, &err), TG_OK);
  assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_family, AF_INET6);
  assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 2);
  /* this machine's own name resolves (through /etc/hosts or DNS) */
  char self[256] = "";
  assert_int_equal(gethostname(self, sizeof self - 1), 0);
  char ep[300];
  snprintf(ep, sizeof ep, "%s:3", self);
  assert_int_equal(tg_endpoint_resolve(ep, &ss, &err), TG_OK);
  /* .invalid never resolves (RFC 6761) */
  assert_int_equal(tg_endpoint_resolve("nohost.invalid:4317", &ss, &err), TG_EIO);
  assert_non_null(strstr(err.msg, "cannot resolve host \"nohost.invalid\""));
  assert_int_equal(tg_endpoint_resolve("nohost", &ss, &err), TG_ECONFIG);
  assert_string_equal(err.msg, "endpoint \"nohost\" is not host:port (a port is required)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syntax),
      cmocka_unit_test(test_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
