/* bearertokenauth extension: the OpenTelemetry Collector's keys (scheme, header, token,
 * tokens, filename) and both sides of bearer-token authentication.
 *
 * Server side: a request passes when its `Authorization: <scheme> <token>` carries one of
 * the tokens from `token`, `tokens` or the lines of `filename`. The file is polled every
 * reload_interval and re-read when it changed (rotation without a restart); a file that
 * fails to parse keeps the previous token set and logs the line number, never a token.
 * Client side: an exporter's requests carry `<header>: <scheme> <token>` (token from
 * `filename`, first line, else `token`), fixed when the exporter starts.
 *
 * Threads: authenticate, the reload and client_header all run on the loop thread, so the
 * token set needs no lock. */
#include <stdio.h>
#include <string.h>

#include "bearer_tokens.h"
#include "tg_alloc.h"
#include "tg_auth.h"
#include "tg_component.h"
#include "tg_file_watch.h"
#include "tg_service.h"

typedef struct bearer_conf {
  char *scheme;
  char *header;
  char *token;
  tg_conf_strlist tokens;
  char *filename;
  uint64_t reload_interval_ms;
} bearer_conf;

static const tg_conf_key bearer_keys[] = {
    TG_KEY_STRING("scheme", bearer_conf, scheme, "Bearer",
                  "auth scheme before the token (empty: the header is the bare token)"),
    TG_KEY_STRING("header", bearer_conf, header, "Authorization",
                  "header carrying the token"),
    TG_KEY_STRING("token", bearer_conf, token, NULL,
                  "the token (server: one accepted token; client: the token sent)"),
    TG_KEY_STRLIST("tokens", bearer_conf, tokens, "server: more accepted tokens"),
    TG_KEY_STRING("filename", bearer_conf, filename, NULL,
                  "file with one token per line, re-read when it changes (takes "
                  "precedence over token for the client side)"),
    TG_KEY_DURATION("reload_interval", bearer_conf, reload_interval_ms, "1s", 100, 3600000,
                    "how often filename is checked for changes"),
};

typedef struct bearer_state {
  tg_instance *self;
  tg_bearer_tokens config_tokens; /* token + tokens */
  tg_bearer_tokens file_tokens;   /* the last good read of filename */
  tg_file_watch *watch;
  char challenge[128];
  char log_component[160];
} bearer_state;

static int is_set(const char *s) { return s && *s; }

static void conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                       tg_diag *diag) {
  const bearer_conf *c = conf;
  if (!is_set(c->token) && !c->tokens.n && !is_set(c->filename))
    tg_diag_add(diag, node ? &node->pos : NULL,
                "%s: one of token, tokens or filename is required", what);
  if (!is_set(c->header))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: header must not be empty", what);
  else if (strpbrk(c->header, " \t\r\n:"))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: header is not a valid header name",
                what);
  if (c->scheme && strpbrk(c->scheme, " \t\r\n"))
    tg_diag_add(diag, node ? &node->pos : NULL, "%s: scheme must be one word", what);
}

static int load_file(bearer_state *st, tg_errbuf *err) {
  const bearer_conf *c = st->self->conf;
  char *text;
  size_t len;
  tg_errbuf detail = {{0}};
  int rc = tg_auth_read_file(c->filename, TG_BEARER_MAX_FILE_BYTES, &text, &len, &detail);
  if (rc != TG_OK)
    return tg_errf(err, rc, "%s", detail.msg);
  tg_bearer_tokens fresh;
  rc = tg_bearer_tokens_parse(text, len, &fresh, &detail);
  tg_auth_wipe(text, len);
  tg_free(text);
  if (rc != TG_OK)
    return tg_errf(err, rc, "%s: %s", c->filename, detail.msg);
  tg_bearer_tokens_free(&st->file_tokens);
  st->file_tokens = fresh;
  return TG_OK;
}

static void on_file_changed(void *ctx) {
  bearer_state *st = ctx;
  tg_logger *log = st->self->service ? st->self->service->log : NULL;
  tg_errbuf err = {{0}};
  if (load_file(st, &err) == TG_OK)
    TG_LOG_INFO(log, st->log_component, "token file reloaded: %zu token(s)",
                st->file_tokens.n);
  else
    TG_LOG_WARN(log, st->log_component, "token file not reloaded, keeping %zu token(s): %s",
                st->file_tokens.n, err.msg);
}

static int bearer_create(tg_instance *self, tg_errbuf *err) {
  const bearer_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", self->id);
  if (!is_set(c->token) && !c->tokens.n && !is_set(c->filename))
    return tg_errf(err, TG_ECONFIG, "%s: one of token, tokens or filename is required",
                   self->id);
  bearer_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  self->state = st;
  st->self = self;
  snprintf(st->log_component, sizeof st->log_component, "extension:%s", self->id);
  snprintf(st->challenge, sizeof st->challenge, "%s realm=\"tailgate\"",
           is_set(c->scheme) ? c->scheme : "Bearer");
  tg_errbuf detail = {{0}};
  if (is_set(c->token) &&
      tg_bearer_tokens_add(&st->config_tokens, c->token, strlen(c->token), &detail) != TG_OK)
    return tg_errf(err, TG_ECONFIG, "%s: token: %s", self->id, detail.msg);
  for (size_t i = 0; i < c->tokens.n; i++)
    if (tg_bearer_tokens_add(&st->config_tokens, c->tokens.items[i],
                             strlen(c->tokens.items[i]), &detail) != TG_OK)
      return tg_errf(err, TG_ECONFIG, "%s: tokens[%zu]: %s", self->id, i, detail.msg);
  return TG_OK;
}

static int bearer_start(tg_instance *self, tg_errbuf *err) {
  bearer_state *st = self->state;
  const bearer_conf *c = self->conf;
  if (!is_set(c->filename))
    return TG_OK;
  tg_errbuf detail = {{0}};
  if (load_file(st, &detail) != TG_OK)
    return tg_errf(err, TG_ECONFIG, "%s: filename: %s", self->id, detail.msg);
  st->watch = tg_file_watch_start(self->service->loop, c->filename, c->reload_interval_ms,
                                  on_file_changed, st);
  if (!st->watch)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  return TG_OK;
}

static void bearer_stop(tg_instance *self, tg_stop_done_fn done) {
  bearer_state *st = self->state;
  if (st) {
    tg_file_watch_close(st->watch);
    st->watch = NULL;
  }
  done(self);
}

static void bearer_destroy(tg_instance *self) {
  bearer_state *st = self->state;
  if (!st)
    return;
  tg_file_watch_close(st->watch);
  tg_bearer_tokens_free(&st->config_tokens);
  tg_bearer_tokens_free(&st->file_tokens);
  tg_free(st);
  self->state = NULL;
}

static int bearer_authenticate(tg_instance *self, const tg_http_request *req) {
  const bearer_state *st = self->state;
  const bearer_conf *c = self->conf;
  const char *cred;
  size_t len;
  if (!st || !tg_auth_header_credentials(req, c->header, c->scheme ? c->scheme : "", &cred,
                                         &len))
    return TG_EAUTH;
  /* Both sets are always compared, so timing does not tell which one holds a token. */
  int ok = tg_bearer_tokens_match(&st->config_tokens, cred, len);
  ok |= tg_bearer_tokens_match(&st->file_tokens, cred, len);
  return ok ? TG_OK : TG_EAUTH;
}

static const char *bearer_challenge(const tg_instance *self) {
  const bearer_state *st = self->state;
  return st ? st->challenge : NULL;
}

static int bearer_client_header(tg_instance *self, char *name, size_t name_len, char *value,
                                size_t value_len, tg_errbuf *err) {
  bearer_state *st = self->state;
  const bearer_conf *c = self->conf;
  const char *token = c->token;
  if (is_set(c->filename)) {
    tg_errbuf detail = {{0}};
    if (load_file(st, &detail) != TG_OK)
      return tg_errf(err, TG_EIO, "%s: %s", self->id, detail.msg);
    token = st->file_tokens.items[0];
  }
  if (!is_set(token))
    return tg_errf(err, TG_ECONFIG, "%s: no token to send", self->id);
  size_t i = 0;
  for (; c->header[i] && i + 1 < name_len; i++)
    name[i] = (char)(c->header[i] >= 'A' && c->header[i] <= 'Z' ? c->header[i] + 32
                                                                : c->header[i]);
  name[i] = '\0';
  int n = is_set(c->scheme) ? snprintf(value, value_len, "%s %s", c->scheme, token)
                            : snprintf(value, value_len, "%s", token);
  if (c->header[i] || n < 0 || (size_t)n >= value_len) {
    tg_auth_wipe(value, value_len);
    return tg_errf(err, TG_ETOOBIG, "%s: the header does not fit", self->id);
  }
  return TG_OK;
}

static const tg_auth_ops bearer_auth_ops = {
    .authenticate = bearer_authenticate,
    .challenge = bearer_challenge,
    .client_header = bearer_client_header,
};

const tg_component tg_extension_bearertokenauth = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "bearertokenauth",
    .conf_size = sizeof(bearer_conf),
    .keys = bearer_keys,
    .n_keys = sizeof bearer_keys / sizeof bearer_keys[0],
    .conf_check = conf_check,
    .ops = {.create = bearer_create, .start = bearer_start, .stop = bearer_stop,
            .destroy = bearer_destroy},
    .doc = "bearer-token authenticator: receivers check Authorization: Bearer <token>, "
           "exporters send it",
    .auth = &bearer_auth_ops,
};
