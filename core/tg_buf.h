/* A growable byte buffer with a hard cap, for bodies and rendered output. Appending past
 * the cap fails with TG_ETOOBIG instead of growing: a peer can never make it unbounded. */
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_buf {
  uint8_t *data;
  size_t len, cap;
  size_t limit; /* 0 = unlimited (only for trusted, self-produced data) */
} tg_buf;

static inline void tg_buf_init(tg_buf *buf, size_t limit) {
  buf->data = NULL;
  buf->len = buf->cap = 0;
  buf->limit = limit;
}
void tg_buf_free(tg_buf *buf);       /* releases memory; the buffer may be reused */
int tg_buf_reserve(tg_buf *buf, size_t extra); /* TG_OK, TG_ENOMEM, TG_ETOOBIG */
/* Appends len bytes (0 is fine) and keeps data NUL-terminated: after TG_OK, data is never
 * NULL. */
int tg_buf_append(tg_buf *buf, const void *data, size_t len);
int tg_buf_appendf(tg_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tg_buf_append_str(tg_buf *buf, const char *s);
/* Hands the bytes to the caller (to free with tg_free) and resets the buffer. */
uint8_t *tg_buf_steal(tg_buf *buf, size_t *len);
/* The same for bytes that are kept a while (handed to a batch): a buffer with much more
 * room than bytes is first shrunk, so it does not pin a big allocation. *size is the
 * allocation's size, for memory accounting; the bytes stay at the same offsets. */
uint8_t *tg_buf_steal_trimmed(tg_buf *buf, size_t *size);

#endif
