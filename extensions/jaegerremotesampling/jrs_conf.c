/* The jaegerremotesampling key table: the Collector's names (source.file,
 * source.reload_interval, http.endpoint, grpc.endpoint). The check reads and parses the
 * strategies file, so `tailgate validate` reports its problems at their own
 * file:line:col, exactly as start-up would refuse them. */
#include <string.h>

#include "jrs.h"
#include "tg_diag.h"
#include "tg_yaml.h"

#define C tg_jrs_conf

const tg_conf_key tg_jrs_conf_keys[TG_JRS_N_KEYS] = {
    TG_KEY_STRING("source.file", C, file, NULL,
                  "Jaeger sampling strategies JSON file (none: probabilistic 1.0 for all)"),
    TG_KEY_DURATION("source.reload_interval", C, reload_interval_ms, "0s", 0,
                    86400000, "re-read the file this often (0: never)"),
    TG_KEY_PRESENT("http", C, http, "serve GET /sampling?service=NAME (and GET /?service=)"),
    TG_KEY_STRING("http.endpoint", C, http_endpoint, "0.0.0.0:5778",
                  "host:port of the HTTP sampling endpoint (the Jaeger agent's port)"),
    TG_KEY_PRESENT("grpc", C, grpc, "serve api_v2 SamplingManager/GetSamplingStrategy"),
    TG_KEY_STRING("grpc.endpoint", C, grpc_endpoint, "0.0.0.0:14250",
                  "host:port for gRPC; the jaeger receiver's grpc endpoint shares its listener"),
};

static const tg_yaml_node *find_path(const tg_yaml_node *node, const char *a, const char *b) {
  const tg_yaml_node *n = node && node->kind == TG_YAML_MAP ? tg_yaml_get(node, a) : NULL;
  return n && n->kind == TG_YAML_MAP ? tg_yaml_get(n, b) : NULL;
}

void tg_jrs_conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                       tg_diag *diag) {
  const tg_jrs_conf *c = conf;
  const tg_yaml_pos *at = node ? &node->pos : NULL;
  int http = c->http || !c->grpc, grpc = c->grpc || !c->http;
  if (http && (!c->http_endpoint || !*c->http_endpoint))
    tg_diag_add(diag, at, "%s: http.endpoint must not be empty", what);
  if (grpc && (!c->grpc_endpoint || !*c->grpc_endpoint))
    tg_diag_add(diag, at, "%s: grpc.endpoint must not be empty", what);
  if (c->reload_interval_ms && c->reload_interval_ms < 100) {
    const tg_yaml_node *n = find_path(node, "source", "reload_interval");
    tg_diag_add(diag, n ? &n->pos : at, "%s: source.reload_interval: must be 0 or at least 100ms",
                what);
  }
  if (c->reload_interval_ms && !c->file) {
    const tg_yaml_node *n = find_path(node, "source", "reload_interval");
    tg_diag_add(diag, n ? &n->pos : at, "%s: source.reload_interval needs source.file", what);
  }
  if (!c->file)
    return;
  const tg_yaml_node *fnode = find_path(node, "source", "file");
  if (!*c->file) {
    tg_diag_add(diag, fnode ? &fnode->pos : at, "%s: source.file must not be empty", what);
    return;
  }
  /* Problems inside the file carry the file's own positions; an unreadable file is
   * reported at the key that names it. */
  tg_diag inner;
  tg_diag_init(&inner);
  tg_jrs_strategies *s = tg_jrs_strategies_load(c->file, &inner);
  tg_jrs_strategies_free(s);
  for (size_t i = 0; i < inner.n; i++) {
    const char *line = inner.lines[i];
    size_t fl = strlen(c->file);
    if (!strncmp(line, c->file, fl) && !strncmp(line + fl, ": cannot read", 13))
      tg_diag_add(diag, fnode ? &fnode->pos : at, "%s: source.file: %s", what, line);
    else
      tg_diag_add(diag, NULL, "%s", line);
  }
  if (inner.dropped || inner.oom)
    tg_diag_add(diag, fnode ? &fnode->pos : at, "%s: source.file: more problems not shown",
                what);
  tg_diag_free(&inner);
}
