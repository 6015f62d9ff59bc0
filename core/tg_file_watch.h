/* Polls a file for changes (inode, size, mtime, ctime) on a libuv timer and calls back on
 * the loop thread when it changed: how authenticators re-read token and htpasswd files
 * and how TLS listeners re-read certificates. Polling rather than inotify because it also
 * sees a Kubernetes Secret's symlink swap and works on every filesystem; the cost is one
 * stat per interval. */
#ifndef TG_FILE_WATCH_H
#define TG_FILE_WATCH_H

#include <stdint.h>

#include <uv.h>

typedef struct tg_file_watch tg_file_watch;

/* Called when the file's stamp differs from the one seen last (including when it
 * disappears or reappears). The callee re-reads the file itself. */
typedef void (*tg_file_watch_fn)(void *ctx);

/* Starts polling path every interval_ms (> 0) on loop; the current stamp is the
 * baseline. path is copied. NULL on ENOMEM. */
tg_file_watch *tg_file_watch_start(uv_loop_t *loop, const char *path, uint64_t interval_ms,
                                   tg_file_watch_fn fn, void *ctx);

/* Stops polling: fn is never called again. The watch frees itself once its timer handle
 * closed, so the owner may free ctx right away. NULL is fine. */
void tg_file_watch_close(tg_file_watch *w);

#endif
