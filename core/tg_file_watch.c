/* File change polling for re-read-on-change secrets and certificates (see the header).
 * Memory lives until the timer's close callback, as libuv requires. */
#include "tg_file_watch.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_auth.h"

struct tg_file_watch {
  uv_timer_t timer;
  char *path;
  tg_file_stamp last;
  tg_file_watch_fn fn;
  void *ctx;
};

static void on_tick(uv_timer_t *t) {
  tg_file_watch *w = t->data;
  tg_file_stamp now;
  tg_file_stamp_read(w->path, &now); /* a missing file reads as all zeros */
  if (tg_file_stamp_equal(&now, &w->last))
    return;
  w->last = now;
  w->fn(w->ctx);
}

tg_file_watch *tg_file_watch_start(uv_loop_t *loop, const char *path, uint64_t interval_ms,
                                   tg_file_watch_fn fn, void *ctx) {
  tg_file_watch *w = tg_calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->path = tg_strdup(path);
  if (!w->path || uv_timer_init(loop, &w->timer) != 0) {
    tg_free(w->path);
    tg_free(w);
    return NULL;
  }
  w->fn = fn;
  w->ctx = ctx;
  w->timer.data = w;
  tg_file_stamp_read(w->path, &w->last);
  if (!interval_ms)
    interval_ms = 1000;
  uv_timer_start(&w->timer, on_tick, interval_ms, interval_ms);
  uv_unref((uv_handle_t *)&w->timer); /* a poll alone does not keep the loop alive */
  return w;
}

static void on_closed(uv_handle_t *h) {
  tg_file_watch *w = h->data;
  tg_free(w->path);
  tg_free(w);
}

void tg_file_watch_close(tg_file_watch *w) {
  if (!w)
    return;
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, on_closed);
}
