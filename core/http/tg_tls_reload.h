/* Certificate reloading for TLS listeners (the Collector's tls.reload_interval): at most
 * once per interval, on the accept path, the certificate, key and client-CA files are
 * stat'ed; when any changed, a new SSL_CTX is built from them and replaces the old one
 * for new connections (an open connection keeps a reference to the context it started
 * with, so swapping never disturbs it). A set of files that does not load (a key that
 * does not match its certificate mid-rotation) keeps the old context, and is retried at
 * the next interval. */
#ifndef TG_TLS_RELOAD_H
#define TG_TLS_RELOAD_H

#include <stdint.h>

#include "tg_auth.h"
#include "tg_http_internal.h"

typedef struct tg_tls_reload {
  char *files[3];        /* cert, key, client CA (may be NULL); owned */
  tg_file_stamp stamps[3];
  uint64_t interval_ms;  /* 0 = never reload */
  uint64_t next_check_ms;
} tg_tls_reload;

/* Remembers the files and their current stamps. TG_OK or TG_ENOMEM. */
int tg_tls_reload_init(tg_tls_reload *r, const char *cert, const char *key, const char *ca,
                       uint64_t interval_ms, uint64_t now_ms);

/* When due and the files changed: *ctx is replaced by a context loaded from them (the old
 * one freed) and TG_OK returned; TG_EAGAIN when nothing was due or changed; another error
 * with detail in err when the new files do not load (*ctx untouched). */
int tg_tls_reload_check(tg_tls_reload *r, uint64_t now_ms, tg_tls_ctx **ctx, tg_errbuf *err);

void tg_tls_reload_free(tg_tls_reload *r);

#endif
