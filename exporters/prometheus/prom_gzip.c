/* One-shot gzip at level 1 into a buffer of deflateBound() bytes: no chunk loop, one
 * allocation. See prom_gzip.h for why not core/tg_gzip's default level. */
#include "prom_gzip.h"

#include <string.h>

#include <zlib.h>

#include "tg_alloc.h"
#include "tg_error.h"

int tg_prom_gzip(const uint8_t *in, size_t len, tg_buf *out) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (len > UINT32_MAX || deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return TG_ENOMEM;
  size_t bound = deflateBound(&zs, (uLong)len) + 32; /* + the gzip header and trailer */
  out->len = 0;
  if (tg_buf_reserve(out, bound) != TG_OK) {
    deflateEnd(&zs);
    tg_buf_free(out);
    return TG_ENOMEM;
  }
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  zs.next_out = out->data;
  zs.avail_out = (uInt)bound;
  int zrc = deflate(&zs, Z_FINISH);
  out->len = bound - zs.avail_out;
  deflateEnd(&zs);
  if (zrc != Z_STREAM_END) {
    tg_buf_free(out);
    return TG_ENOMEM;
  }
  return TG_OK;
}

int tg_prom_gzip_begin(tg_prom_gzip_stream *g) {
  z_stream *zs = tg_calloc(1, sizeof *zs);
  g->zs = NULL;
  if (!zs)
    return TG_ENOMEM;
  if (deflateInit2(zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    tg_free(zs);
    return TG_ENOMEM;
  }
  g->zs = zs;
  return TG_OK;
}

int tg_prom_gzip_feed(tg_prom_gzip_stream *g, const uint8_t *in, size_t len, int mode,
                      tg_buf *out) {
  int finish = mode == TG_PROM_GZ_FINISH;
  int flush = finish ? Z_FINISH : mode == TG_PROM_GZ_SYNC ? Z_SYNC_FLUSH : Z_NO_FLUSH;
  z_stream *zs = g->zs;
  if (!zs || len > UINT32_MAX)
    return TG_EINVAL;
  zs->next_in = (Bytef *)(uintptr_t)in;
  zs->avail_in = (uInt)len;
  for (;;) {
    size_t room = deflateBound(zs, zs->avail_in) + 64;
    int rc = tg_buf_reserve(out, room);
    if (rc != TG_OK)
      return rc;
    zs->next_out = out->data + out->len;
    zs->avail_out = (uInt)room;
    int zrc = deflate(zs, flush);
    out->len += room - zs->avail_out;
    if (zrc == Z_STREAM_END)
      return TG_OK;
    if (zrc != Z_OK && zrc != Z_BUF_ERROR)
      return TG_EIO;
    if (!finish && zs->avail_in == 0 && zs->avail_out > 0)
      return TG_OK; /* all input taken and, for a flush, all output written */
  }
}

void tg_prom_gzip_end(tg_prom_gzip_stream *g) {
  if (!g->zs)
    return;
  deflateEnd(g->zs);
  tg_free(g->zs);
  g->zs = NULL;
}
