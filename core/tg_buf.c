/* Growable capped buffer; doubles capacity so appends are amortised O(1). */
#include "tg_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_error.h"

void tg_buf_free(tg_buf *buf) {
  tg_free(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

int tg_buf_reserve(tg_buf *buf, size_t extra) {
  if (extra > SIZE_MAX - buf->len)
    return TG_ETOOBIG;
  size_t need = buf->len + extra;
  if (buf->limit && need > buf->limit)
    return TG_ETOOBIG;
  if (need <= buf->cap && buf->data) /* a fresh buffer still needs room for its NUL */
    return TG_OK;
  size_t cap = buf->cap ? buf->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (buf->limit && cap > buf->limit)
    cap = buf->limit;
  uint8_t *grown = tg_realloc(buf->data, cap + 1); /* +1: room for a terminating NUL */
  if (!grown)
    return TG_ENOMEM;
  buf->data = grown;
  buf->cap = cap;
  return TG_OK;
}

int tg_buf_append(tg_buf *buf, const void *data, size_t len) {
  int rc = tg_buf_reserve(buf, len);
  if (rc != TG_OK)
    return rc;
  if (len)
    memcpy(buf->data + buf->len, data, len);
  buf->len += len;
  buf->data[buf->len] = '\0';
  return TG_OK;
}

int tg_buf_append_str(tg_buf *buf, const char *s) { return tg_buf_append(buf, s, strlen(s)); }

int tg_buf_appendf(tg_buf *buf, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return TG_EINVAL;
  if ((size_t)n < sizeof small)
    return tg_buf_append(buf, small, (size_t)n);
  int rc = tg_buf_reserve(buf, (size_t)n + 1);
  if (rc != TG_OK)
    return rc;
  va_start(ap, fmt);
  vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf->len += (size_t)n;
  return TG_OK;
}

uint8_t *tg_buf_steal(tg_buf *buf, size_t *len) {
  uint8_t *data = buf->data;
  if (len)
    *len = buf->len;
  buf->data = NULL;
  buf->len = buf->cap = 0;
  return data;
}

/* Room a kept buffer may have beyond its bytes before it is trimmed: doubling growth
 * leaves up to 100 % spare, a reused buffer can be far bigger than what it holds now.
 * realloc shrinks in place (glibc splits the chunk or mremaps it), so trimming costs no
 * copy. */
static size_t trim_slack(size_t len) { return len / 8 + 4096; }

uint8_t *tg_buf_steal_trimmed(tg_buf *buf, size_t *size) {
  size_t len = buf->len, alloc = buf->cap + 1; /* the room kept for a NUL */
  uint8_t *data = tg_buf_steal(buf, NULL);
  if (data && alloc - len > trim_slack(len)) {
    uint8_t *trimmed = tg_realloc(data, len + 1);
    if (trimmed) {
      data = trimmed;
      alloc = len + 1;
    }
  }
  *size = data ? alloc : 0;
  return data;
}
