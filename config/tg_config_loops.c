/* Exporters aimed at tailgate's own receivers. Such a config (for instance a default run
 * with TAILGATE_JAEGER_ENDPOINT=localhost:14250, which the jaeger receiver itself listens
 * on) sends every exported span back in, multiplying traffic until something breaks; it
 * is refused at load time with the exporter's endpoint position.
 *
 * Endpoints are found through the key tables, so the check knows no component: every
 * string key whose last path element is `endpoint`; a receiver's counts only when its
 * enclosing section is present (protocols.grpc for protocols.grpc.endpoint), since the
 * defaults of absent protocols are not listened on. Hosts match when equal, when either
 * side is a wildcard or loopback name, or when the exporter names this machine. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg_config_internal.h"
#include "tg_endpoint.h"
#include "tg_yaml.h"

typedef struct hostport {
  char host[256];
  char port[8];
} hostport;

/* "scheme://host:port/path", "host:port", "[v6]:port" → host and port; 0 when unusable. */
static int split(const char *ep, hostport *out) {
  if (!ep || !*ep)
    return 0;
  const char *p = strstr(ep, "://");
  p = p ? p + 3 : ep;
  size_t len = strcspn(p, "/?#");
  const char *colon = NULL;
  if (*p == '[') {
    const char *close = memchr(p, ']', len);
    if (!close || close + 1 >= p + len || close[1] != ':')
      return 0;
    colon = close + 1;
  } else {
    for (const char *c = p; c < p + len; c++)
      if (*c == ':')
        colon = c;
  }
  if (!colon)
    return 0;
  size_t hl = (size_t)(colon - p), pl = len - hl - 1;
  if (hl >= sizeof out->host || !pl || pl >= sizeof out->port)
    return 0;
  memcpy(out->host, p, hl);
  out->host[hl] = '\0';
  memcpy(out->port, colon + 1, pl);
  out->port[pl] = '\0';
  for (char *c = out->host; *c; c++)
    if (*c >= 'A' && *c <= 'Z')
      *c = (char)(*c - 'A' + 'a');
  return 1;
}

static int is_local(const char *h) {
  static const char *const names[] = {"", "0.0.0.0", "localhost", "::", "[::]", "::1",
                                      "[::1]", "ip6-localhost"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(h, names[i]))
      return 1;
  if (!strncmp(h, "127.", 4))
    return 1;
  char self[256] = "";
  if (gethostname(self, sizeof self - 1))
    return 0;
  return self[0] && !strcasecmp(h, self);
}

static int same_place(const hostport *a, const hostport *b) {
  if (strcmp(a->port, b->port))
    return 0;
  return !strcmp(a->host, b->host) || (is_local(a->host) && is_local(b->host));
}

/* Calls fn for each configured endpoint of c. */
static void each_endpoint(const tg_config_component *c,
                          void (*fn)(const tg_config_component *c, const tg_conf_key *k,
                                     const char *endpoint, void *ctx),
                          void *ctx) {
  const tg_component *d = c->component;
  if (!d || !c->conf)
    return;
  for (size_t i = 0; i < d->n_keys; i++) {
    const tg_conf_key *k = &d->keys[i];
    size_t pl = strlen(k->path);
    if (k->type != TG_CONF_STRING || pl < 8 || strcmp(k->path + pl - 8, "endpoint") ||
        (pl > 8 && k->path[pl - 9] != '.'))
      continue;
    if (c->kind == TG_RECEIVER && pl > 9) { /* needs its section present, if it has one */
      for (size_t j = 0; j < d->n_keys; j++) {
        const tg_conf_key *s = &d->keys[j];
        if (s->type == TG_CONF_PRESENT && strlen(s->path) == pl - 9 &&
            !strncmp(s->path, k->path, pl - 9) && !*(const _Bool *)((const char *)c->conf + s->offset))
          goto next;
      }
    }
    const char *ep = *(char *const *)((const char *)c->conf + k->offset);
    if (ep)
      fn(c, k, ep, ctx);
  next:;
  }
}

typedef struct loop_ctx {
  const tg_config *config;
  tg_diag *diag;
  const tg_config_component *exporter;
  const char *exporter_ep;
  const tg_conf_key *exporter_key;
  int reported;
} loop_ctx;

static void check_receiver(const tg_config_component *r, const tg_conf_key *k,
                           const char *ep, void *vctx) {
  loop_ctx *x = vctx;
  hostport a, b;
  if (x->reported || !split(ep, &a) || !split(x->exporter_ep, &b) || !same_place(&a, &b))
    return;
  const tg_yaml_node *n = x->exporter->node ? tg_yaml_get(x->exporter->node, x->exporter_key->path)
                                            : NULL;
  tg_diag_add(x->diag, n ? &n->pos : &x->exporter->pos,
              "exporters::%s: %s \"%s\" is receivers::%s %s \"%s\": tailgate would export "
              "into its own input (a loop)",
              x->exporter->id, x->exporter_key->path, x->exporter_ep, r->id, k->path, ep);
  x->reported = 1;
}

static void check_exporter(const tg_config_component *e, const tg_conf_key *k,
                           const char *ep, void *vctx) {
  loop_ctx *x = vctx;
  x->exporter = e;
  x->exporter_ep = ep;
  x->exporter_key = k;
  x->reported = 0;
  for (size_t i = 0; i < x->config->n_components; i++)
    if (x->config->components[i].kind == TG_RECEIVER)
      each_endpoint(&x->config->components[i], check_receiver, x);
}

void tg_config_check_loops(const tg_config *config, tg_diag *diag) {
  loop_ctx x = {.config = config, .diag = diag};
  for (size_t i = 0; i < config->n_components; i++)
    if (config->components[i].kind == TG_EXPORTER)
      each_endpoint(&config->components[i], check_exporter, &x);
}

/* ---- listening endpoints: the syntax start-up accepts (core/tg_endpoint.h) ---- */

/* The node at a dotted key path below map, or NULL. */
static const tg_yaml_node *get_path(const tg_yaml_node *map, const char *path) {
  char seg[128];
  while (map && *path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof seg)
      return NULL;
    memcpy(seg, path, n);
    seg[n] = '\0';
    map = tg_yaml_get(map, seg);
    path += n + (path[n] == '.');
  }
  return map;
}

static void check_listen(const tg_config_component *c, const tg_conf_key *k, const char *ep,
                         void *vctx) {
  tg_diag *diag = vctx;
  char host[300], why[160];
  int port;
  if (strstr(ep, "${") || /* an unset variable, already reported */
      tg_endpoint_split(ep, host, sizeof host, &port, why, sizeof why) == TG_OK)
    return;
  const tg_yaml_node *n = c->node ? get_path(c->node, k->path) : NULL;
  tg_diag_add(diag, n ? &n->pos : &c->pos, "%s::%s: %s: \"%s\" %s",
              tg_component_kind_name(c->kind), c->id, k->path, ep, why);
}

void tg_config_check_listen_endpoints(const tg_config *config, tg_diag *diag) {
  for (size_t i = 0; i < config->n_components; i++) {
    const tg_config_component *c = &config->components[i];
    if (c->kind == TG_RECEIVER || c->kind == TG_EXTENSION)
      each_endpoint(c, check_listen, diag);
  }
}
