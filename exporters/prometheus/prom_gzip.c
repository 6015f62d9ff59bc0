/* One-shot gzip at level 1 into a buffer of deflateBound() bytes: no chunk loop, one
 * allocation. See prom_gzip.h for why not core/tg_gzip's default level. */
#include "prom_gzip.h"

#include <string.h>

#include <zlib.h>

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
