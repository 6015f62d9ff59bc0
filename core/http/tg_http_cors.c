/* The headers a plain HTTP response gains from the server's configuration, whatever the
 * engine: CORS (the Collector's confighttp cors.*, which wraps handlers in rs/cors) and
 * response_headers. Both engines call tg_http_decorate once per response and append what
 * it returns; the preflight answer (OPTIONS with Origin and Access-Control-Request-Method)
 * is made here too, so HTTP/1.1 and HTTP/2 answer a browser identically.
 *
 * rs/cors semantics kept: origins are compared case-insensitively, a pattern may hold one
 * '*' (prefix*suffix, the origin at least as long as both); "*" allows any origin and is
 * answered as "*"; allowed methods are GET, POST and HEAD; a preflight whose origin,
 * method or any requested header is not allowed still gets 204 but no Access-Control-*
 * header, so the browser refuses the request; Vary tells caches the answer depends on the
 * request's Origin. The CORS-safelisted headers (Accept, Accept-Language, Content-Language,
 * Content-Type) and Origin and X-Requested-With are always allowed, so a browser SDK
 * posting JSON works with allowed_origins alone.
 *
 * Nothing here allocates: values point at the request's headers, the configuration or
 * the caller's tg_http_decor. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_http_internal.h"

static const char *const always_allowed[] = {"accept", "accept-language", "content-language",
                                             "content-type", "origin", "x-requested-with"};

static int pattern_matches(const char *pattern, const char *origin) {
  const char *star = strchr(pattern, '*');
  if (!star)
    return strcasecmp(pattern, origin) == 0;
  size_t pre = (size_t)(star - pattern), suf = strlen(star + 1), len = strlen(origin);
  return len >= pre + suf && strncasecmp(pattern, origin, pre) == 0 &&
         strcasecmp(star + 1, origin + len - suf) == 0;
}

int tg_http_cors_origin_allowed(const tg_http_cors *c, const char *origin) {
  if (!c || !origin || !*origin)
    return 0;
  for (size_t i = 0; i < c->n_allowed_origins; i++)
    if (c->allowed_origins[i] &&
        (strcmp(c->allowed_origins[i], "*") == 0 || pattern_matches(c->allowed_origins[i], origin)))
      return 1;
  return 0;
}

static int any_origin(const tg_http_cors *c) {
  for (size_t i = 0; i < c->n_allowed_origins; i++)
    if (c->allowed_origins[i] && strcmp(c->allowed_origins[i], "*") == 0)
      return 1;
  return 0;
}

static int header_allowed(const tg_http_cors *c, const char *name, size_t len) {
  for (size_t i = 0; i < sizeof always_allowed / sizeof always_allowed[0]; i++)
    if (strlen(always_allowed[i]) == len && strncasecmp(always_allowed[i], name, len) == 0)
      return 1;
  for (size_t i = 0; i < c->n_allowed_headers; i++) {
    const char *a = c->allowed_headers[i];
    if (a && (strcmp(a, "*") == 0 || (strlen(a) == len && strncasecmp(a, name, len) == 0)))
      return 1;
  }
  return 0;
}

/* Every comma-separated name of an Access-Control-Request-Headers value allowed. */
static int headers_allowed(const tg_http_cors *c, const char *list) {
  const char *p = list ? list : "";
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ',')
      p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    if (end > start && !header_allowed(c, start, (size_t)(end - start)))
      return 0;
  }
  return 1;
}

static const char *allowed_method(const char *method) {
  static const char *const methods[] = {"GET", "POST", "HEAD"};
  for (size_t i = 0; method && i < sizeof methods / sizeof methods[0]; i++)
    if (strcasecmp(method, methods[i]) == 0)
      return methods[i];
  return NULL;
}

int tg_http_cors_is_preflight(const tg_http_router *r, const char *method, const char *origin,
                              const char *request_method) {
  return r->cors && method && strcmp(method, "OPTIONS") == 0 && origin && request_method;
}

static void add(tg_http_decor *d, const char *name, const char *value) {
  if (d->n < TG_HTTP_DECOR_MAX && value)
    d->h[d->n++] = (tg_http_header){name, value};
}

void tg_http_decorate(const tg_http_router *r, const char *origin, int preflight,
                      const char *request_method, const char *request_headers,
                      tg_http_decor *d) {
  d->n = 0;
  const tg_http_cors *c = r->cors;
  if (c && preflight) {
    add(d, "vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    const char *m = allowed_method(request_method);
    if (tg_http_cors_origin_allowed(c, origin) && m && headers_allowed(c, request_headers)) {
      add(d, "access-control-allow-origin", any_origin(c) ? "*" : origin);
      add(d, "access-control-allow-methods", m);
      if (request_headers && *request_headers)
        add(d, "access-control-allow-headers", request_headers);
      if (c->max_age_s) {
        snprintf(d->max_age, sizeof d->max_age, "%llu", (unsigned long long)c->max_age_s);
        add(d, "access-control-max-age", d->max_age);
      }
    }
  } else if (c) {
    add(d, "vary", "Origin");
    if (tg_http_cors_origin_allowed(c, origin))
      add(d, "access-control-allow-origin", any_origin(c) ? "*" : origin);
  }
  for (size_t i = 0; i < r->n_response_headers; i++)
    add(d, r->response_header_names[i], r->response_header_values[i]);
}
