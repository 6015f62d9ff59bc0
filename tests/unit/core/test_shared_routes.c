/* tg_shared_routes: which endpoints count as the same listener, that an offer without a
 * host is refused (the guest then listens itself), and that the host adds exactly the
 * routes offered for its endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tg_error.h"
#include "tg_shared_routes.h"

static void handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  (void)resp;
}

static int closed;
static void on_closed(void *ctx) {
  (void)ctx;
  closed = 1;
}

static void test_offer_and_host(void **state) {
  (void)state;
  tg_service svc = {0};
  tg_http_route route = {"POST", "/x.Y/Z", 1, handler, NULL};
  const char *host = NULL;
  /* nobody hosts yet */
  assert_int_equal(tg_service_offer_route(&svc, "0.0.0.0:14250", &route, &host), 0);
  assert_int_equal(tg_service_host_routes(&svc, "0.0.0.0:14250", "jaeger"), TG_OK);
  /* same port, both local: shared */
  assert_int_equal(tg_service_offer_route(&svc, "0.0.0.0:14250", &route, &host), 1);
  assert_string_equal(host, "jaeger");
  assert_int_equal(tg_service_offer_route(&svc, "localhost:14250", &route, NULL), 1);
  assert_int_equal(tg_service_offer_route(&svc, ":14250", &route, NULL), 1);
  assert_int_equal(tg_service_offer_route(&svc, "[::]:14250", &route, NULL), 1);
  assert_int_equal(tg_service_offer_route(&svc, "127.0.0.2:14250", &route, NULL), 1);
  /* another port, or a host that is not local: not shared */
  assert_int_equal(tg_service_offer_route(&svc, "0.0.0.0:14251", &route, NULL), 0);
  assert_int_equal(tg_service_offer_route(&svc, "10.1.2.3:14250", &route, NULL), 0);
  assert_int_equal(tg_service_offer_route(&svc, "14250", &route, NULL), 0);

  uv_loop_t loop;
  uv_loop_init(&loop);
  tg_http_server_options opts = {.endpoint = "127.0.0.1:0"};
  tg_errbuf err;
  tg_http_server *srv = tg_http_server_create(&loop, &opts, &err);
  assert_non_null(srv);
  assert_int_equal(tg_service_add_offered_routes(&svc, "127.0.0.1:14250", srv), 5);
  assert_int_equal(tg_service_add_offered_routes(&svc, "127.0.0.1:9", srv), 0);
  closed = 0;
  tg_http_server_close(srv, on_closed, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(closed);
  assert_int_equal(uv_loop_close(&loop), 0);
  tg_shared_routes_free(&svc);
  assert_null(svc.shared_routes);
  tg_shared_routes_free(&svc); /* safe twice */
}

static void test_unhost_withdraws(void **state) {
  (void)state;
  tg_service svc = {0};
  tg_http_route route = {"POST", "/x.Y/Z", 1, handler, NULL};
  assert_int_equal(tg_service_host_routes(&svc, "0.0.0.0:1", "a"), TG_OK);
  assert_int_equal(tg_service_host_routes(&svc, "0.0.0.0:2", "b"), TG_OK);
  assert_int_equal(tg_service_offer_route(&svc, "0.0.0.0:1", &route, NULL), 1);
  tg_service_unhost_routes(&svc, "a");
  assert_int_equal(tg_service_offer_route(&svc, "0.0.0.0:1", &route, NULL), 0);
  assert_non_null(svc.shared_routes);
  tg_service_unhost_routes(&svc, "b"); /* empty: the table goes */
  assert_null(svc.shared_routes);
  tg_service_unhost_routes(&svc, "b");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_offer_and_host),
      cmocka_unit_test(test_unhost_withdraws),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
