/* Authentication plumbing end to end without sockets: a service built from YAML with
 * bearertokenauth and basicauth instances; tg_auth lookups, the server check through the
 * HTTP engine (401 + WWW-Authenticate, handler not run, refusal counted), the client
 * headers, and a token file re-read after it changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tg_alloc.h"
#include "tg_auth.h"
#include "tg_config.h"
#include "tg_diag.h"
#include "core/http/tg_http_conn.h"
#include "tg_service.h"

typedef struct env {
  uv_loop_t loop;
  tg_logger log;
  tg_service svc;
  tg_config *config;
  char token_file[64];
} env;

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  env *e = tg_calloc(1, sizeof *e);
  snprintf(e->token_file, sizeof e->token_file, "/tmp/tg_test_auth_%d.tokens", (int)getpid());
  write_file(e->token_file, "# tokens\nfile-token-1\n");
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "extensions:\n"
           "  bearertokenauth/in:\n"
           "    token: cfg-token\n"
           "    tokens: [cfg-token-2]\n"
           "    filename: %s\n"
           "    reload_interval: 100ms\n"
           "  basicauth/in:\n"
           "    htpasswd:\n"
           "      inline: |\n"
           "        svc:pw-1\n"
           "        bob:$apr1$ksHLF3Rr$H3NZia1LTybQ9oFn8tOLY/\n"
           "  basicauth/out:\n"
           "    client_auth: {username: u, password: p}\n"
           "receivers:\n"
           "  otlp:\n"
           "    protocols:\n"
           "      http:\n"
           "        endpoint: 127.0.0.1:0\n"
           "        auth: {authenticator: bearertokenauth/in}\n"
           "exporters:\n"
           "  nop:\n"
           "service:\n"
           "  extensions: [bearertokenauth/in, basicauth/in, basicauth/out]\n"
           "  pipelines:\n"
           "    traces: {receivers: [otlp], exporters: [nop]}\n",
           e->token_file);
  tg_diag diag;
  tg_diag_init(&diag);
  e->config = tg_config_load_text("auth.yaml", yaml, strlen(yaml), &diag);
  tg_diag_print(&diag, stdout);
  tg_diag_free(&diag);
  assert_non_null(e->config);
  uv_loop_init(&e->loop);
  tg_logger_init(&e->log, TG_LOG_NONE, stdout);
  e->svc = (tg_service){.loop = &e->loop, .log = &e->log, .metrics = tg_metrics_new(),
                        .shutdown_grace_ms = 1000};
  tg_errbuf err = {{0}};
  assert_int_equal(tg_service_build(&e->svc, e->config, &err), TG_OK);
  assert_int_equal(tg_service_start(&e->svc, &err), TG_OK);
  *state = e;
  return 0;
}

static void on_stopped(tg_service *svc) { (void)svc; }

static int teardown(void **state) {
  env *e = *state;
  tg_service_stop(&e->svc, on_stopped);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  tg_service_destroy(&e->svc);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  tg_metrics_free(e->svc.metrics);
  tg_logger_destroy(&e->log);
  tg_config_free(e->config);
  unlink(e->token_file);
  tg_free(e);
  return 0;
}

static int passes(tg_instance *ext, const char *authorization) {
  tg_http_header h[] = {{"authorization", authorization}};
  tg_http_request req = {.headers = h, .n_headers = authorization ? 1 : 0, .path = "/"};
  return tg_auth_authenticate(ext, &req) == TG_OK;
}

static void test_find_and_authenticate(void **state) {
  env *e = *state;
  tg_instance *bearer = tg_auth_find(&e->svc, "bearertokenauth/in");
  tg_instance *basic = tg_auth_find(&e->svc, "basicauth/in");
  assert_non_null(bearer);
  assert_non_null(basic);
  assert_null(tg_auth_find(&e->svc, "health_check"));
  assert_null(tg_auth_find(&e->svc, "basicauth/nope"));

  assert_true(passes(bearer, "Bearer cfg-token"));
  assert_true(passes(bearer, "Bearer cfg-token-2"));
  assert_true(passes(bearer, "bearer file-token-1"));
  assert_false(passes(bearer, NULL));
  assert_false(passes(bearer, "Bearer"));
  assert_false(passes(bearer, "Bearer cfg-toke"));
  assert_false(passes(bearer, "Basic cfg-token"));
  assert_false(passes(bearer, "cfg-token"));
  assert_string_equal(tg_auth_challenge(bearer), "Bearer realm=\"tailgate\"");

  /* base64("svc:pw-1") = c3ZjOnB3LTE=, base64("bob:b0b") = Ym9iOmIwYg== */
  assert_true(passes(basic, "Basic c3ZjOnB3LTE="));
  assert_true(passes(basic, "Basic Ym9iOmIwYg=="));
  assert_false(passes(basic, "Basic c3ZjOnB3LTI="));  /* svc:pw-2 */
  assert_false(passes(basic, "Basic c3ZjOnB3LTE"));   /* bad padding */
  assert_false(passes(basic, "Basic !!!!"));
  assert_false(passes(basic, "Basic c3Zj"));          /* "svc", no colon */
  assert_false(passes(basic, "Bearer c3ZjOnB3LTE="));
  assert_false(passes(tg_auth_find(&e->svc, "basicauth/out"), "Basic dTpw"));
}

static void test_client_headers(void **state) {
  env *e = *state;
  char name[64], value[256];
  tg_errbuf err = {{0}};
  assert_int_equal(tg_auth_client_header(&e->svc, "basicauth/out", name, sizeof name, value,
                                         sizeof value, &err),
                   TG_OK);
  assert_string_equal(name, "authorization");
  assert_string_equal(value, "Basic dTpw"); /* printf u:p | base64 */
  assert_int_equal(tg_auth_client_header(&e->svc, "bearertokenauth/in", name, sizeof name,
                                         value, sizeof value, &err),
                   TG_OK);
  assert_string_equal(value, "Bearer file-token-1"); /* the file wins over token */
  assert_int_equal(tg_auth_client_header(&e->svc, "nope", name, sizeof name, value,
                                         sizeof value, &err),
                   TG_ECONFIG);
  assert_null(strstr(err.msg, "file-token"));

  tg_conf_strmap headers = {0};
  headers.keys = tg_calloc(1, sizeof(char *));
  headers.values = tg_calloc(1, sizeof(char *));
  headers.keys[0] = tg_strdup("Authorization");
  headers.values[0] = tg_strdup("Bearer configured");
  headers.n = 1;
  assert_int_equal(tg_auth_client_apply(&e->svc, "basicauth/out", &headers, &err), TG_OK);
  assert_int_equal(headers.n, 1); /* replaced, not added */
  assert_string_equal(headers.values[0], "Basic dTpw");
  assert_int_equal(tg_auth_client_apply(&e->svc, NULL, &headers, &err), TG_OK);
  assert_int_equal(headers.n, 1);
  for (size_t i = 0; i < headers.n; i++) {
    tg_free(headers.keys[i]);
    tg_free(headers.values[i]);
  }
  tg_free(headers.keys);
  tg_free(headers.values);
}

static int handled;
static void handle(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  handled++;
  tg_buf_append_str(&resp->body, "ok\n");
}

static int capture(void *ctx, const uint8_t *data, size_t len) {
  return tg_buf_append(ctx, data, len);
}

static const char *request(tg_http_router *r, tg_buf *out, const char *authorization) {
  char text[512];
  snprintf(text, sizeof text,
           "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n%s%s%s\r\n{}",
           authorization ? "Authorization: " : "", authorization ? authorization : "",
           authorization ? "\r\n" : "");
  out->len = 0;
  tg_http_conn *c = tg_http_conn_new(r, TG_HTTP_PROTO_AUTO, NULL, "test:1", capture, out);
  tg_http_conn_feed(c, (const uint8_t *)text, strlen(text));
  tg_http_conn_free(c);
  tg_buf_append(out, "", 1);
  return (const char *)out->data;
}

static int64_t refused(tg_metrics *m) {
  tg_buf out;
  tg_buf_init(&out, 0);
  tg_metrics_render(m, &out);
  tg_buf_append(&out, "", 1);
  const char *needle = "tailgate_receiver_refused_requests_total{receiver=\"otlp/t\","
                       "transport=\"http\",reason=\"unauthenticated\"} ";
  const char *p = strstr((const char *)out.data, needle);
  int64_t v = p ? atoll(p + strlen(needle)) : -1;
  tg_buf_free(&out);
  return v;
}

static void test_server_check_in_the_engine(void **state) {
  env *e = *state;
  tg_auth_server b;
  tg_errbuf err = {{0}};
  assert_int_equal(tg_auth_server_bind(&b, &e->svc, "nope", "otlp/t", "http", "t", &err),
                   TG_ECONFIG);
  assert_int_equal(tg_auth_server_bind(&b, &e->svc, "", "otlp/t", "http", "t", &err), TG_OK);
  assert_null(tg_auth_server_http(&b).check);
  assert_int_equal(
      tg_auth_server_bind(&b, &e->svc, "bearertokenauth/in", "otlp/t", "http", "t", &err),
      TG_OK);
  tg_http_route route = {"POST", "/v1/traces", 0, handle, NULL};
  tg_http_server_stats stats = {0};
  tg_http_router r = {.routes = &route, .n_routes = 1, .max_body_bytes = 1024,
                      .max_concurrent_streams = 10, .stats = &stats,
                      .auth = tg_auth_server_http(&b)};
  tg_buf out;
  tg_buf_init(&out, 0);
  handled = 0;
  const char *resp = request(&r, &out, NULL);
  assert_non_null(strstr(resp, "HTTP/1.1 401 Unauthorized\r\n"));
  assert_non_null(strstr(resp, "WWW-Authenticate: Bearer realm=\"tailgate\"\r\n"));
  resp = request(&r, &out, "Bearer wrong");
  assert_non_null(strstr(resp, "HTTP/1.1 401 "));
  assert_int_equal(handled, 0);
  assert_int_equal(refused(e->svc.metrics), 2);
  resp = request(&r, &out, "Bearer cfg-token");
  assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(resp, "ok\n"));
  assert_int_equal(handled, 1);
  assert_int_equal(refused(e->svc.metrics), 2);
  tg_buf_free(&out);
}

static void test_token_file_reloads(void **state) {
  env *e = *state;
  tg_instance *bearer = tg_auth_find(&e->svc, "bearertokenauth/in");
  assert_true(passes(bearer, "Bearer file-token-1"));
  write_file(e->token_file, "file-token-2\nfile-token-3\n");
  uint64_t deadline = uv_hrtime() + 5000000000ull;
  while (!passes(bearer, "Bearer file-token-3") && uv_hrtime() < deadline) {
    uv_update_time(&e->loop);
    uv_run(&e->loop, UV_RUN_ONCE);
  }
  assert_true(passes(bearer, "Bearer file-token-3"));
  assert_true(passes(bearer, "Bearer file-token-2"));
  assert_false(passes(bearer, "Bearer file-token-1"));
  assert_true(passes(bearer, "Bearer cfg-token")); /* config tokens stay */
  /* a broken file keeps the last good set */
  write_file(e->token_file, "has a space\n");
  deadline = uv_hrtime() + 400000000ull; /* > 3 polls */
  while (uv_hrtime() < deadline)
    uv_run(&e->loop, UV_RUN_ONCE);
  assert_true(passes(bearer, "Bearer file-token-3"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_find_and_authenticate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_check_in_the_engine, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_file_reloads, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
