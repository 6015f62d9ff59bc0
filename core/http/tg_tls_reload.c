/* See tg_tls_reload.h: stamp comparison on the accept path, no timer, so a server that
 * nobody connects to never does the work and the server needs no extra handle. */
#include "tg_tls_reload.h"

#include <string.h>

#include "tg_alloc.h"

int tg_tls_reload_init(tg_tls_reload *r, const char *cert, const char *key, const char *ca,
                       uint64_t interval_ms, uint64_t now_ms) {
  memset(r, 0, sizeof *r);
  const char *in[3] = {cert, key, ca};
  for (int i = 0; i < 3; i++) {
    if (!in[i])
      continue;
    if (!(r->files[i] = tg_strdup(in[i]))) {
      tg_tls_reload_free(r);
      return TG_ENOMEM;
    }
    tg_file_stamp_read(r->files[i], &r->stamps[i]);
  }
  r->interval_ms = interval_ms;
  r->next_check_ms = now_ms + interval_ms;
  return TG_OK;
}

int tg_tls_reload_check(tg_tls_reload *r, uint64_t now_ms, tg_tls_ctx **ctx, tg_errbuf *err) {
  if (!r->interval_ms || now_ms < r->next_check_ms)
    return TG_EAGAIN;
  r->next_check_ms = now_ms + r->interval_ms;
  tg_file_stamp now[3];
  int changed = 0;
  for (int i = 0; i < 3; i++) {
    memset(&now[i], 0, sizeof now[i]);
    if (r->files[i])
      tg_file_stamp_read(r->files[i], &now[i]);
    changed |= !tg_file_stamp_equal(&now[i], &r->stamps[i]);
  }
  if (!changed)
    return TG_EAGAIN;
  tg_tls_ctx *fresh = tg_tls_ctx_new(r->files[0], r->files[1], r->files[2], err);
  if (!fresh)
    return TG_ECONFIG; /* stamps kept: retried next interval */
  memcpy(r->stamps, now, sizeof now);
  tg_tls_ctx_free(*ctx);
  *ctx = fresh;
  return TG_OK;
}

void tg_tls_reload_free(tg_tls_reload *r) {
  for (int i = 0; i < 3; i++)
    tg_free(r->files[i]);
  memset(r, 0, sizeof *r);
}
