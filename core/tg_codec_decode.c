/* Bounded decompression for receivers (tg_codec.h): the peer controls every byte and
 * every size claimed inside them, so each decoder checks its running output against the
 * caller's limit before it writes, and claims (a snappy block's uncompressed length, a
 * zstd window) are capped before any allocation depends on them.
 *
 * zstd decodes through a ZSTD_DCtx created per call with the window capped at 8 MiB
 * (ZSTD_d_windowLogMax 23): a frame asking for more is refused instead of allocating it.
 * snappy accepts the framing format (identified by its stream identifier chunk) and,
 * without it, one raw block, as the Collector's receivers do since they learned both. */
#include <stdint.h>
#include <string.h>

#include <snappy-c.h>
#include <zstd.h>

#include "tg_codec.h"
#include "tg_crc32c.h"
#include "tg_error.h"
#include "tg_gzip.h"

enum { ZSTD_WINDOW_LOG_MAX = 23, ZSTD_OUT_CHUNK = 65536, SNAPPY_CHUNK_MAX = 65536 };

static int zstd_decode(const uint8_t *in, size_t len, size_t limit, tg_buf *out) {
  ZSTD_DCtx *d = ZSTD_createDCtx();
  if (!d)
    return TG_ENOMEM;
  int rc = TG_OK;
  if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX))) {
    ZSTD_freeDCtx(d);
    return TG_ENOMEM;
  }
  ZSTD_inBuffer zin = {in, len, 0};
  size_t produced = 0, last = 1;
  while (zin.pos < zin.size || last != 0) {
    size_t room = ZSTD_OUT_CHUNK;
    if (limit && room > limit - produced)
      room = limit - produced + 1; /* one byte past the limit tells us it was passed */
    if ((rc = tg_buf_reserve(out, room)) != TG_OK)
      break;
    ZSTD_outBuffer zout = {out->data + out->len, room, 0};
    size_t before_in = zin.pos;
    last = ZSTD_decompressStream(d, &zout, &zin);
    if (ZSTD_isError(last)) {
      rc = TG_EDECODE;
      break;
    }
    if (limit && zout.pos > limit - produced) {
      rc = TG_ETOOBIG;
      break;
    }
    produced += zout.pos;
    out->len += zout.pos;
    if (zout.pos == 0 && zin.pos == before_in) { /* no progress: truncated input */
      rc = TG_EDECODE;
      break;
    }
  }
  ZSTD_freeDCtx(d);
  return rc;
}

static uint32_t get_le24(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static uint32_t masked_crc(const uint8_t *data, size_t len) {
  uint32_t crc = tg_crc32c(0, data, len);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* One raw block: TG_ETOOBIG when it claims more than max bytes, TG_EDECODE when it claims
 * more than hard_max (the framing format's chunk size) or is corrupt. */
static int snappy_block(const uint8_t *in, size_t len, size_t max, size_t hard_max,
                        tg_buf *out, size_t *got) {
  size_t n = 0;
  if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK || n > hard_max)
    return TG_EDECODE;
  if (n > max)
    return TG_ETOOBIG;
  int rc = tg_buf_reserve(out, n);
  if (rc != TG_OK)
    return rc;
  size_t cap = n;
  if (snappy_uncompress((const char *)in, len, (char *)out->data + out->len, &cap) !=
          SNAPPY_OK ||
      cap != n)
    return TG_EDECODE;
  out->len += n;
  *got = n;
  return TG_OK;
}

static const uint8_t stream_id[10] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};

static int snappy_framed(const uint8_t *in, size_t len, size_t limit, tg_buf *out) {
  size_t produced = 0;
  size_t off = sizeof stream_id;
  while (off < len) {
    if (len - off < 4)
      return TG_EDECODE;
    uint8_t type = in[off];
    size_t clen = get_le24(in + off + 1);
    off += 4;
    if (clen > len - off)
      return TG_EDECODE;
    const uint8_t *body = in + off;
    off += clen;
    if (type == 0xff) { /* another stream identifier (concatenated streams) */
      if (clen != 6 || memcmp(body, stream_id + 4, 6))
        return TG_EDECODE;
      continue;
    }
    if (type >= 0x80) /* padding and reserved skippable chunks */
      continue;
    if (type > 0x01 || clen < 4) /* reserved unskippable */
      return TG_EDECODE;
    uint32_t want = (uint32_t)body[0] | (uint32_t)body[1] << 8 | (uint32_t)body[2] << 16 |
                    (uint32_t)body[3] << 24;
    size_t start = out->len, n = 0;
    size_t max = limit ? limit - produced : SIZE_MAX;
    if (type == 0x00) {
      int rc = snappy_block(body + 4, clen - 4, max, SNAPPY_CHUNK_MAX, out, &n);
      if (rc != TG_OK)
        return rc;
    } else {
      n = clen - 4;
      if (n > SNAPPY_CHUNK_MAX)
        return TG_EDECODE;
      if (n > max)
        return TG_ETOOBIG;
      int rc = tg_buf_append(out, body + 4, n);
      if (rc != TG_OK)
        return rc;
    }
    if (masked_crc(out->data + start, n) != want)
      return TG_EDECODE;
    produced += n;
  }
  return TG_OK;
}

int tg_codec_decompress(int codec, const uint8_t *in, size_t len, size_t limit, tg_buf *out) {
  if (!in && len)
    return TG_EINVAL;
  if (codec == TG_CODEC_GZIP)
    return tg_gzip_inflate(in, len, limit, out);
  if (codec != TG_CODEC_ZSTD && codec != TG_CODEC_SNAPPY)
    return TG_EINVAL;
  if (len == 0)
    return TG_EDECODE;
  size_t old_len = out->len;
  int rc;
  if (codec == TG_CODEC_ZSTD) {
    rc = zstd_decode(in, len, limit, out);
  } else if (len >= sizeof stream_id && !memcmp(in, stream_id, sizeof stream_id)) {
    rc = snappy_framed(in, len, limit, out);
  } else {
    size_t n = 0;
    rc = snappy_block(in, len, limit ? limit : SIZE_MAX, SIZE_MAX, out, &n);
  }
  if (rc != TG_OK) {
    out->len = old_len;
  }
  if (out->data)
    out->data[out->len] = '\0';
  return rc;
}
