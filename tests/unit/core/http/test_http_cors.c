/* Response decoration (core/http/tg_http_cors.c) and the confighttp key checks
 * (tg_http_server_http_conf_problem): origin patterns, the preflight answer for allowed
 * and refused origins, methods and headers, the actual-response headers, response_headers,
 * and one preflight through a real sans-IO HTTP/1.1 connection (so the engine answers it
 * without a route and with every header on the wire). Expected values are written out
 * from rs/cors's documented behaviour, not from the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/tg_http_internal.h"
#include "tg_buf.h"

static const char *const origins[] = {"https://*.example.com", "http://localhost:3000"};
static const char *const allowed_headers[] = {"X-Tenant"};
static const tg_http_cors cors = {.allowed_origins = origins,
                                  .n_allowed_origins = 2,
                                  .allowed_headers = allowed_headers,
                                  .n_allowed_headers = 1,
                                  .max_age_s = 600};

static const char *find(const tg_http_decor *d, const char *name) {
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->h[i].name, name) == 0)
      return d->h[i].value;
  return NULL;
}

static size_t count_acl(const tg_http_decor *d) {
  size_t n = 0;
  for (size_t i = 0; i < d->n; i++)
    n += strncmp(d->h[i].name, "access-control-", 15) == 0;
  return n;
}

static void test_origin_patterns(void **state) {
  (void)state;
  assert_true(tg_http_cors_origin_allowed(&cors, "https://app.example.com"));
  assert_true(tg_http_cors_origin_allowed(&cors, "HTTPS://App.Example.COM"));
  assert_true(tg_http_cors_origin_allowed(&cors, "https://a.b.example.com"));
  assert_true(tg_http_cors_origin_allowed(&cors, "http://localhost:3000"));
  assert_false(tg_http_cors_origin_allowed(&cors, "https://example.com")); /* no subdomain */
  assert_false(tg_http_cors_origin_allowed(&cors, "https://example.com.evil.org"));
  assert_false(tg_http_cors_origin_allowed(&cors, "http://app.example.com")); /* scheme */
  assert_false(tg_http_cors_origin_allowed(&cors, "http://localhost:30001"));
  assert_false(tg_http_cors_origin_allowed(&cors, ""));
  assert_false(tg_http_cors_origin_allowed(&cors, NULL));
  /* prefix and suffix must not overlap: "ab*ba" does not match "aba" */
  static const char *const overlap[] = {"ab*ba"};
  tg_http_cors o = {.allowed_origins = overlap, .n_allowed_origins = 1};
  assert_false(tg_http_cors_origin_allowed(&o, "aba"));
  assert_true(tg_http_cors_origin_allowed(&o, "abba"));
  static const char *const any[] = {"*"};
  tg_http_cors a = {.allowed_origins = any, .n_allowed_origins = 1};
  assert_true(tg_http_cors_origin_allowed(&a, "null"));
}

static void test_preflight_allowed(void **state) {
  (void)state;
  tg_http_router r = {.cors = &cors};
  tg_http_decor d;
  tg_http_decorate(&r, "https://app.example.com", 1, "post", "Content-Type, x-tenant", &d);
  assert_string_equal(find(&d, "access-control-allow-origin"), "https://app.example.com");
  assert_string_equal(find(&d, "access-control-allow-methods"), "POST");
  assert_string_equal(find(&d, "access-control-allow-headers"), "Content-Type, x-tenant");
  assert_string_equal(find(&d, "access-control-max-age"), "600");
  assert_string_equal(find(&d, "vary"),
                      "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  assert_int_equal(d.n, 5);
  /* no requested headers: no Allow-Headers */
  tg_http_decorate(&r, "http://localhost:3000", 1, "GET", NULL, &d);
  assert_int_equal(count_acl(&d), 3);
  assert_null(find(&d, "access-control-allow-headers"));
}

static void test_preflight_refused(void **state) {
  (void)state;
  tg_http_router r = {.cors = &cors};
  tg_http_decor d;
  tg_http_decorate(&r, "https://evil.org", 1, "POST", NULL, &d);
  assert_int_equal(count_acl(&d), 0);
  assert_non_null(find(&d, "vary"));
  tg_http_decorate(&r, "https://app.example.com", 1, "DELETE", NULL, &d);
  assert_int_equal(count_acl(&d), 0);
  tg_http_decorate(&r, "https://app.example.com", 1, "POST", "content-type, x-other", &d);
  assert_int_equal(count_acl(&d), 0);
  /* "*" among allowed_headers allows any, and "*" origins answer "*" */
  static const char *const star[] = {"*"};
  tg_http_cors open = {.allowed_origins = star, .n_allowed_origins = 1,
                       .allowed_headers = star, .n_allowed_headers = 1};
  r.cors = &open;
  tg_http_decorate(&r, "https://anything.test", 1, "POST", "x-other", &d);
  assert_string_equal(find(&d, "access-control-allow-origin"), "*");
  assert_string_equal(find(&d, "access-control-allow-headers"), "x-other");
  assert_null(find(&d, "access-control-max-age"));
}

static void test_actual_response_and_headers(void **state) {
  (void)state;
  static const char *const names[] = {"x-served-by", "strict-transport-security"};
  static const char *const values[] = {"tailgate", "max-age=63072000"};
  tg_http_router r = {.cors = &cors, .response_header_names = names,
                      .response_header_values = values, .n_response_headers = 2};
  tg_http_decor d;
  tg_http_decorate(&r, "https://app.example.com", 0, NULL, NULL, &d);
  assert_int_equal(d.n, 4);
  assert_string_equal(find(&d, "vary"), "Origin");
  assert_string_equal(find(&d, "access-control-allow-origin"), "https://app.example.com");
  assert_string_equal(find(&d, "x-served-by"), "tailgate");
  assert_string_equal(find(&d, "strict-transport-security"), "max-age=63072000");
  tg_http_decorate(&r, "https://evil.org", 0, NULL, NULL, &d);
  assert_int_equal(d.n, 3);
  assert_null(find(&d, "access-control-allow-origin"));
  r.cors = NULL; /* no cors: response_headers only */
  tg_http_decorate(&r, "https://app.example.com", 0, NULL, NULL, &d);
  assert_int_equal(d.n, 2);
  assert_true(tg_http_cors_is_preflight(&(tg_http_router){.cors = &cors}, "OPTIONS", "o", "POST"));
  assert_false(tg_http_cors_is_preflight(&(tg_http_router){.cors = &cors}, "OPTIONS", "o", NULL));
  assert_false(tg_http_cors_is_preflight(&r, "OPTIONS", "o", "POST"));
}

static char *mut(const char *s) { return (char *)(uintptr_t)s; }

static void test_conf_problem(void **state) {
  (void)state;
  char buf[256];
  tg_http_server_http_conf c;
  memset(&c, 0, sizeof c);
  assert_null(tg_http_server_http_conf_problem(&c, buf, sizeof buf));
  char *algs[] = {mut(""), mut("gzip"), mut("lz4")};
  c.compression_algorithms = (tg_conf_strlist){algs, 2};
  assert_null(tg_http_server_http_conf_problem(&c, buf, sizeof buf));
  c.compression_algorithms.n = 3;
  const char *p = tg_http_server_http_conf_problem(&c, buf, sizeof buf);
  assert_non_null(p);
  assert_non_null(strstr(p, "compression_algorithms: \"lz4\" is not supported"));
  c.compression_algorithms.n = 0;
  c.cors = 1;
  assert_string_equal(tg_http_server_http_conf_problem(&c, buf, sizeof buf),
                      "cors: allowed_origins must list at least one origin");
  char *two[] = {mut("https://*.*.example.com")};
  c.allowed_origins = (tg_conf_strlist){two, 1};
  assert_non_null(strstr(tg_http_server_http_conf_problem(&c, buf, sizeof buf), "at most one '*'"));
  char *one[] = {mut("https://*.example.com")};
  c.allowed_origins = (tg_conf_strlist){one, 1};
  assert_null(tg_http_server_http_conf_problem(&c, buf, sizeof buf));
  char *keys[] = {mut("Content-Type")}, *vals[] = {mut("text/html")};
  c.response_headers = (tg_conf_strmap){keys, vals, 1};
  assert_string_equal(tg_http_server_http_conf_problem(&c, buf, sizeof buf),
                      "response_headers.Content-Type: the server sets this header itself");
  char *bad[] = {mut("X Bad")};
  c.response_headers.keys = bad;
  assert_string_equal(tg_http_server_http_conf_problem(&c, buf, sizeof buf),
                      "response_headers.X Bad: not a valid header name and value");
  assert_true(tg_http_server_encoding_supported(""));
  assert_true(tg_http_server_encoding_supported("identity"));
  assert_true(tg_http_server_encoding_supported("gzip"));
  assert_false(tg_http_server_encoding_supported("lz4"));
}

/* ---- one preflight through a sans-IO HTTP/1.1 connection ---- */

static int collect(void *ctx, const uint8_t *data, size_t len) {
  return tg_buf_append(ctx, data, len) == TG_OK ? 0 : -1;
}

static void handler(void *ctx, const tg_http_request *req, tg_http_response *resp) {
  (void)ctx;
  (void)req;
  resp->status = 200;
  tg_buf_append_str(&resp->body, "ok");
}

static void test_preflight_on_the_wire(void **state) {
  (void)state;
  tg_http_server_stats stats = {0};
  static const char *const names[] = {"x-served-by"};
  static const char *const values[] = {"tailgate"};
  static const char *const encodings[] = {"gzip"};
  tg_http_route route = {.method = "POST", .path = "/v1/traces", .handle = handler};
  tg_http_router r = {.routes = &route, .n_routes = 1, .max_body_bytes = 1 << 20,
                      .max_concurrent_streams = 10, .stats = &stats, .cors = &cors,
                      .response_header_names = names, .response_header_values = values,
                      .n_response_headers = 1, .encodings = encodings, .n_encodings = 1};
  tg_buf out;
  tg_buf_init(&out, 0);
  tg_http_conn *c = tg_http_conn_new(&r, TG_HTTP_PROTO_H1, NULL, "127.0.0.1:1", collect, &out);
  assert_non_null(c);
  static const char req[] = "OPTIONS /v1/traces HTTP/1.1\r\nHost: x\r\n"
                            "Origin: https://app.example.com\r\n"
                            "Access-Control-Request-Method: POST\r\n\r\n";
  assert_int_equal(tg_http_conn_feed(c, (const uint8_t *)req, sizeof req - 1), TG_OK);
  assert_int_equal(tg_buf_append(&out, "", 1), TG_OK);
  const char *text = (const char *)out.data;
  assert_non_null(strstr(text, "HTTP/1.1 204 No Content\r\n"));
  assert_non_null(strstr(text, "\r\naccess-control-allow-origin: https://app.example.com\r\n"));
  assert_non_null(strstr(text, "\r\naccess-control-allow-methods: POST\r\n"));
  assert_non_null(strstr(text, "\r\naccess-control-max-age: 600\r\n"));
  assert_non_null(strstr(text, "\r\nx-served-by: tailgate\r\n"));
  assert_null(strstr(text, "Allow: POST")); /* not a 405 */
  /* an encoding outside compression_algorithms: 415, still decorated */
  out.len = 0;
  static const char post[] = "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                             "Content-Encoding: deflate\r\n\r\nxx";
  assert_int_equal(tg_http_conn_feed(c, (const uint8_t *)post, sizeof post - 1), TG_OK);
  assert_int_equal(tg_buf_append(&out, "", 1), TG_OK);
  text = (const char *)out.data;
  assert_non_null(strstr(text, "HTTP/1.1 415 Unsupported Media Type\r\n"));
  assert_non_null(strstr(text, "\r\nx-served-by: tailgate\r\n"));
  tg_http_conn_free(c);
  tg_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_origin_patterns),
      cmocka_unit_test(test_preflight_allowed),
      cmocka_unit_test(test_preflight_refused),
      cmocka_unit_test(test_actual_response_and_headers),
      cmocka_unit_test(test_conf_problem),
      cmocka_unit_test(test_preflight_on_the_wire),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
