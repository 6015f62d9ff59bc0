/* basicauth extension: the OpenTelemetry Collector's keys (htpasswd.file,
 * htpasswd.inline, client_auth.username, client_auth.password) and both sides of HTTP
 * Basic authentication.
 *
 * Server side: `Authorization: Basic base64(user:password)` is checked against the users
 * of htpasswd.file plus htpasswd.inline (htpasswd.h lists the hash formats; inline lines
 * may also hold plain passwords, as the Collector's examples do with ${env:...}). The file
 * is polled every reload_interval and re-read when it changed; a file that fails to parse
 * keeps the previous table and logs the line number only. Client side: exporters send
 * `Authorization: Basic base64(username:password)`.
 *
 * Threads: authenticate and the reload run on the loop thread (no lock). */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "htpasswd.h"
#include "tg_alloc.h"
#include "tg_auth.h"
#include "tg_component.h"
#include "tg_file_watch.h"
#include "tg_service.h"

typedef struct basic_conf {
  char *file;
  char *inline_users;
  char *username;
  char *password;
  uint64_t reload_interval_ms;
} basic_conf;

static const tg_conf_key basic_keys[] = {
    TG_KEY_STRING("htpasswd.file", basic_conf, file, NULL,
                  "server: htpasswd file (bcrypt, apr1, md5/sha crypt, {SHA}), re-read when "
                  "it changes"),
    TG_KEY_STRING("htpasswd.inline", basic_conf, inline_users, NULL,
                  "server: htpasswd lines in the config (plain passwords allowed here)"),
    TG_KEY_STRING("client_auth.username", basic_conf, username, NULL,
                  "client: user name sent by exporters"),
    TG_KEY_STRING("client_auth.password", basic_conf, password, NULL,
                  "client: password sent by exporters"),
    TG_KEY_DURATION("reload_interval", basic_conf, reload_interval_ms, "1s", 100, 3600000,
                    "how often htpasswd.file is checked for changes"),
};

typedef struct basic_state {
  tg_instance *self;
  tg_htpasswd users; /* inline + the last good read of the file */
  tg_file_watch *watch;
  char log_component[160];
} basic_state;

static int is_set(const char *s) { return s && *s; }

static void conf_check(const void *conf, const tg_yaml_node *node, const char *what,
                       tg_diag *diag) {
  const basic_conf *c = conf;
  int server = is_set(c->file) || is_set(c->inline_users);
  int client = is_set(c->username);
  if (!server && !client)
    tg_diag_add(diag, node ? &node->pos : NULL,
                "%s: set htpasswd (file or inline) for receivers, client_auth for exporters",
                what);
  if (c->username && strchr(c->username, ':'))
    tg_diag_add(diag, node ? &node->pos : NULL,
                "%s: client_auth.username must not contain ':'", what);
  if (c->inline_users) {
    tg_htpasswd probe;
    tg_errbuf err = {{0}};
    if (tg_htpasswd_parse(c->inline_users, strlen(c->inline_users), 1, &probe, &err) != TG_OK)
      tg_diag_add(diag, node ? &node->pos : NULL, "%s: htpasswd.inline: %s", what, err.msg);
    else
      tg_htpasswd_free(&probe);
  }
}

/* Builds the table from inline + file into out. */
static int load_users(const basic_conf *c, tg_htpasswd *out, tg_errbuf *err) {
  tg_errbuf detail = {{0}};
  const char *text = c->inline_users ? c->inline_users : "";
  int rc = tg_htpasswd_parse(text, strlen(text), 1, out, &detail);
  if (rc != TG_OK)
    return tg_errf(err, rc, "htpasswd.inline: %s", detail.msg);
  if (!is_set(c->file))
    return TG_OK;
  char *ftext;
  size_t flen;
  rc = tg_auth_read_file(c->file, TG_HTPASSWD_MAX_FILE_BYTES, &ftext, &flen, &detail);
  tg_htpasswd from_file;
  if (rc == TG_OK) {
    rc = tg_htpasswd_parse(ftext, flen, 0, &from_file, &detail);
    tg_auth_wipe(ftext, flen);
    tg_free(ftext);
    if (rc != TG_OK) {
      tg_errbuf why = detail;
      rc = tg_errf(&detail, rc, "%s: %s", c->file, why.msg);
    }
  }
  if (rc == TG_OK) {
    rc = tg_htpasswd_merge(out, &from_file, &detail);
    tg_htpasswd_free(&from_file);
  }
  if (rc != TG_OK) {
    tg_htpasswd_free(out);
    return tg_errf(err, rc, "htpasswd.file: %s", detail.msg);
  }
  return TG_OK;
}

static void on_file_changed(void *ctx) {
  basic_state *st = ctx;
  tg_logger *log = st->self->service ? st->self->service->log : NULL;
  tg_htpasswd fresh;
  tg_errbuf err = {{0}};
  if (load_users(st->self->conf, &fresh, &err) == TG_OK) {
    tg_htpasswd_free(&st->users);
    st->users = fresh;
    TG_LOG_INFO(log, st->log_component, "htpasswd file reloaded: %zu user(s)", st->users.n);
  } else {
    TG_LOG_WARN(log, st->log_component, "htpasswd file not reloaded, keeping %zu user(s): %s",
                st->users.n, err.msg);
  }
}

static int basic_create(tg_instance *self, tg_errbuf *err) {
  const basic_conf *c = self->conf;
  if (!c)
    return tg_errf(err, TG_ECONFIG, "%s: missing configuration", self->id);
  if (!is_set(c->file) && !is_set(c->inline_users) && !is_set(c->username))
    return tg_errf(err, TG_ECONFIG,
                   "%s: set htpasswd (file or inline) for receivers, client_auth for exporters",
                   self->id);
  basic_state *st = tg_calloc(1, sizeof *st);
  if (!st)
    return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  self->state = st;
  st->self = self;
  snprintf(st->log_component, sizeof st->log_component, "extension:%s", self->id);
  return TG_OK;
}

static int basic_start(tg_instance *self, tg_errbuf *err) {
  basic_state *st = self->state;
  const basic_conf *c = self->conf;
  if (!is_set(c->file) && !is_set(c->inline_users))
    return TG_OK; /* client side only */
  tg_errbuf detail = {{0}};
  if (load_users(c, &st->users, &detail) != TG_OK)
    return tg_errf(err, TG_ECONFIG, "%s: %s", self->id, detail.msg);
  if (is_set(c->file)) {
    st->watch = tg_file_watch_start(self->service->loop, c->file, c->reload_interval_ms,
                                    on_file_changed, st);
    if (!st->watch)
      return tg_errf(err, TG_ENOMEM, "%s: out of memory", self->id);
  }
  return TG_OK;
}

static void basic_stop(tg_instance *self, tg_stop_done_fn done) {
  basic_state *st = self->state;
  if (st) {
    tg_file_watch_close(st->watch);
    st->watch = NULL;
  }
  done(self);
}

static void basic_destroy(tg_instance *self) {
  basic_state *st = self->state;
  if (!st)
    return;
  tg_file_watch_close(st->watch);
  tg_htpasswd_free(&st->users);
  tg_free(st);
  self->state = NULL;
}

/* Decodes standard base64 (with padding) into out; returns the length or -1. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t out_len) {
  if (len == 0 || len % 4 || len / 4 * 3 > out_len)
    return -1;
  int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
  if (n < 0)
    return -1;
  if (in[len - 1] == '=')
    n--;
  if (in[len - 2] == '=')
    n--;
  return n;
}

static int basic_authenticate(tg_instance *self, const tg_http_request *req) {
  basic_state *st = self->state;
  const char *cred;
  size_t len;
  if (!st || !tg_auth_header_credentials(req, "authorization", "Basic", &cred, &len))
    return TG_EAUTH;
  unsigned char plain[TG_HTPASSWD_MAX_PASSWORD + 256 + 4];
  if (len > (sizeof plain - 4) / 3 * 4)
    return TG_EAUTH;
  int n = b64_decode(cred, len, plain, sizeof plain);
  int ok = 0;
  if (n > 0) {
    const unsigned char *colon = memchr(plain, ':', (size_t)n);
    if (colon)
      ok = tg_htpasswd_verify(&st->users, (const char *)plain, (size_t)(colon - plain),
                              (const char *)colon + 1, (size_t)(plain + n - colon - 1));
  }
  tg_auth_wipe(plain, sizeof plain);
  return ok ? TG_OK : TG_EAUTH;
}

static const char *basic_challenge(const tg_instance *self) {
  (void)self;
  return "Basic realm=\"tailgate\", charset=\"UTF-8\"";
}

static int basic_client_header(tg_instance *self, char *name, size_t name_len, char *value,
                               size_t value_len, tg_errbuf *err) {
  const basic_conf *c = self->conf;
  if (!is_set(c->username))
    return tg_errf(err, TG_ECONFIG, "%s: client_auth.username is not set", self->id);
  const char *pw = c->password ? c->password : "";
  size_t ul = strlen(c->username), pl = strlen(pw);
  size_t raw_len = ul + 1 + pl;
  size_t need = 6 + (raw_len + 2) / 3 * 4 + 1; /* "Basic " + base64 + NUL */
  if (name_len < sizeof "authorization" || value_len < need || raw_len > 4096)
    return tg_errf(err, TG_ETOOBIG, "%s: credentials too long", self->id);
  unsigned char raw[4097];
  memcpy(raw, c->username, ul);
  raw[ul] = ':';
  memcpy(raw + ul + 1, pw, pl);
  memcpy(value, "Basic ", 6);
  EVP_EncodeBlock((unsigned char *)value + 6, raw, (int)raw_len);
  tg_auth_wipe(raw, raw_len);
  memcpy(name, "authorization", sizeof "authorization");
  return TG_OK;
}

static const tg_auth_ops basic_auth_ops = {
    .authenticate = basic_authenticate,
    .challenge = basic_challenge,
    .client_header = basic_client_header,
};

const tg_component tg_extension_basicauth = {
    .abi = TG_COMPONENT_ABI,
    .kind = TG_EXTENSION,
    .type = "basicauth",
    .conf_size = sizeof(basic_conf),
    .keys = basic_keys,
    .n_keys = sizeof basic_keys / sizeof basic_keys[0],
    .conf_check = conf_check,
    .ops = {.create = basic_create, .start = basic_start, .stop = basic_stop,
            .destroy = basic_destroy},
    .doc = "HTTP Basic authenticator: receivers check users of an htpasswd file, exporters "
           "send client_auth",
    .auth = &basic_auth_ops,
};
